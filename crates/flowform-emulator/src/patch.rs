//! JSON Patch as every Flow Service PATCH reads it: the operations (RFC 6902 `add`,
//! `replace`, `remove`, in either case, as the OpenAPI's enum and the docs disagree), the
//! `If-Match` the request must carry, and the edits every kind shares (`/name`,
//! `/description`), with AEP's codes for each mistake (1403, 1404-412, 1434, 1455).

use axum::http::header::IF_MATCH;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::errors::ApiError;

/// A 400 with a Flow Service code.
pub fn patch_error(code: u16, detail: impl Into<String>) -> ApiError {
    ApiError::flow(StatusCode::BAD_REQUEST, code, "Bad request", detail)
}

/// 1455: the path names nothing the entity has.
pub fn missing_field(field: &str) -> ApiError {
    patch_error(
        1455,
        format!("An error has occurred while validating patch instructions: Missing field \"{field}\""),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Add,
    Replace,
    Remove,
}

/// One operation of a patch.
#[derive(Clone, Debug)]
pub struct Operation {
    pub verb: Verb,
    pub path: String,
    /// Present for `add` and `replace`.
    pub value: Option<Value>,
}

/// Reads a patch body: a non-empty array of operations, each with `op` and `path`, and a
/// `value` unless it removes.
pub fn operations(body: &Value) -> Result<Vec<Operation>, ApiError> {
    let Some(ops) = body.as_array().filter(|a| !a.is_empty()) else {
        return Err(ApiError::bad_request(
            "The request body must be a non-empty JSON Patch array",
        ));
    };
    ops.iter()
        .map(|op| {
            let name = op.get("op").and_then(Value::as_str).map(str::to_ascii_lowercase);
            let path = op.get("path").and_then(Value::as_str);
            let (Some(name), Some(path)) = (name, path) else {
                return Err(ApiError::bad_request(
                    "Each patch operation needs 'op' and 'path'",
                ));
            };
            let verb = match name.as_str() {
                "add" => Verb::Add,
                "replace" => Verb::Replace,
                "remove" => Verb::Remove,
                _ => return Err(patch_error(1434, format!("Unsupported operation '{name}'"))),
            };
            let value = op.get("value").cloned();
            if verb != Verb::Remove && value.is_none() {
                return Err(ApiError::bad_request(format!(
                    "The '{name}' operation on '{path}' needs a 'value'"
                )));
            }
            Ok(Operation {
                verb,
                path: path.to_owned(),
                value,
            })
        })
        .collect()
}

/// The `If-Match` header, required on every PATCH (1403 without it).
pub fn if_match(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| patch_error(1403, "The header 'If-Match' is missing in the request"))
}

/// 412 unless `if_match` is the current etag, quotes included, with [S-DST]'s words.
pub fn check_version(if_match: &str, current: &str) -> Result<(), ApiError> {
    if if_match == current {
        return Ok(());
    }
    Err(ApiError::flow(
        StatusCode::PRECONDITION_FAILED,
        1404,
        "Version not matching",
        format!("Supplied version=[{if_match}] does not match the current version on entity=[{current}]"),
    ))
}

/// Applies an operation on `/name` or `/description`, which every kind has; `Ok(false)`
/// when the operation is on another path.
pub fn edit_name_or_description(
    op: &Operation,
    name: &mut String,
    description: &mut Option<String>,
) -> Result<bool, ApiError> {
    match op.path.as_str() {
        "/name" => match (op.verb, &op.value) {
            (Verb::Remove, _) => Err(ApiError::bad_request("Field 'name' cannot be removed")),
            (_, Some(Value::String(s))) if !s.trim().is_empty() => {
                name.clone_from(s);
                Ok(true)
            }
            _ => Err(ApiError::bad_request("Field 'name' must be a non-empty string")),
        },
        "/description" => match (op.verb, &op.value) {
            (Verb::Remove | Verb::Replace, _) if description.is_none() => Err(missing_field("description")),
            (Verb::Remove, _) => {
                *description = None;
                Ok(true)
            }
            (_, Some(Value::String(s))) => {
                *description = Some(s.clone());
                Ok(true)
            }
            _ => Err(ApiError::bad_request("Field 'description' must be a string")),
        },
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(e: ApiError) -> u16 {
        match e {
            ApiError::Flow { code, .. } => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operations_read_like_aep() {
        let ops = operations(&json!([{"op": "REPLACE", "path": "/name", "value": "x"},
                                     {"op": "remove", "path": "/description"}]))
        .unwrap();
        assert_eq!(ops[0].verb, Verb::Replace);
        assert_eq!(ops[1].value, None);
        assert_eq!(
            code(operations(&json!([{"op": "move", "path": "/a"}])).unwrap_err()),
            1434
        );
        assert_eq!(code(operations(&json!([])).unwrap_err()), 1100);
        assert_eq!(
            code(operations(&json!([{"op": "add", "path": "/a"}])).unwrap_err()),
            1100
        );
        assert_eq!(code(operations(&json!({"op": "add"})).unwrap_err()), 1100);
    }

    #[test]
    fn name_and_description_edits() {
        let (mut name, mut description) = ("n".to_owned(), None);
        let op = |verb, path: &str, value: Option<Value>| Operation {
            verb,
            path: path.into(),
            value,
        };
        let mut edit = |o: Operation| edit_name_or_description(&o, &mut name, &mut description);
        assert_eq!(
            code(edit(op(Verb::Replace, "/description", Some(json!("d")))).unwrap_err()),
            1455
        );
        assert!(edit(op(Verb::Add, "/description", Some(json!("d")))).unwrap());
        assert!(edit(op(Verb::Replace, "/name", Some(json!("m")))).unwrap());
        assert!(edit(op(Verb::Replace, "/name", Some(json!(" ")))).is_err());
        assert!(!edit(op(Verb::Replace, "/params", Some(json!({})))).unwrap());
        assert_eq!((name.as_str(), description.as_deref()), ("m", Some("d")));
        assert_eq!(code(check_version("\"a\"", "\"b\"").unwrap_err()), 1404);
    }
}
