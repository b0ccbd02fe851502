//! What a dataflow must be, checked on create and again after every PATCH: its flow spec,
//! its one source and one target connection, its transformations (`Copy` with a delta
//! column, `Mapping` of an existing mapping-set version) and its `options`; and the
//! `inheritedAttributes` it shows. The schedule is [`crate::schedule`]'s.
//!
//! Decisions, where the docs are silent or disagree:
//! - **Required**: `name`, `flowSpec.id`, `sourceConnectionIds` and `targetConnectionIds`
//!   (each exactly one id, the D-UPDF tip's cardinality), `scheduleParams`, as the OpenAPI's
//!   prose says (its schema requires only `flowSpec`); drafts are not emulated. `state` is
//!   1410. Other unknown properties are ignored.
//! - **Flow spec**: an unknown `flowSpec.id` is 1413, as is a `version` other than the
//!   spec's (`1.0`); an omitted version is the latest. A source or target connection whose
//!   spec is not in the flow spec's lists is 1413 too (the error catalogue's "invalid spec").
//!   A connection id the sandbox does not have is a 400.
//! - **Transformations**: each `{name, params}`, the name one of the flow spec's
//!   `transformationSpecs`, at most once. `CRMToAEP` needs `Copy` with a non-empty
//!   `params.deltaColumn.name` (400). A `Mapping` needs a `mappingId` of the same
//!   organization and sandbox and a `mappingVersion` it has (number or string; omitted: the
//!   latest, as D-CRM's example omits it); otherwise 1412. The mapping set's schema must be
//!   the target connection's (`data.schema.id`), else 1425. `mappingVersion` is kept and
//!   shown as a string.
//! - **Options** (`optionSpec`): `partialIngestionPercent` (a number or a string of one,
//!   above 0 and at most 100, shown as a number, D-PARTIAL) and `errorDiagnosticsEnabled`
//!   (`true`/`false`, either encoding); any other option is a 400.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::context::Caller;
use crate::errors::ApiError;
use crate::flow_connection::FlowConnection;
use crate::flow_specs::FlowSpec;
use crate::patch::patch_error;
use crate::record::spec_ref;
use crate::store::Store;

pub fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(detail)
}

pub fn spec_error(detail: impl Into<String>) -> ApiError {
    ApiError::flow(StatusCode::BAD_REQUEST, 1413, "Bad request", detail)
}

fn mapping_error(detail: impl Into<String>) -> ApiError {
    patch_error(1412, detail)
}

/// The flow spec `flowSpec` names.
pub fn flow_spec(value: Option<&Value>) -> Result<&'static FlowSpec, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Err(bad("Field 'flowSpec' is required"));
    };
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Field 'flowSpec.id' is required (a string)"))?;
    let spec = crate::flow_specs::find(id)
        .ok_or_else(|| spec_error(format!("The spec ID provided is invalid: no flow spec '{id}'")))?;
    match value.get("version") {
        None | Some(Value::Null) => Ok(spec),
        Some(Value::String(v)) if v == spec.version => Ok(spec),
        Some(v) => Err(spec_error(format!(
            "The spec version {v} is invalid for the flow spec ID {}",
            spec.id
        ))),
    }
}

/// The one id of `sourceConnectionIds` or `targetConnectionIds`.
pub fn one_id<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match body.get(field) {
        Some(Value::Array(ids)) if ids.len() == 1 => ids[0]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad(format!("Field '{field}' must hold connection ids (strings)"))),
        Some(Value::Array(ids)) => Err(bad(format!(
            "Field '{field}' must hold exactly one id (it holds {}): a flow has one source and one target connection",
            ids.len()
        ))),
        None | Some(Value::Null) => Err(bad(format!("Field '{field}' is required"))),
        Some(_) => Err(bad(format!("Field '{field}' must be an array of one id"))),
    }
}

/// The connection of the caller's sandbox, whose spec the flow spec lists.
pub fn connection<'s>(
    found: Option<&'s FlowConnection>,
    id: &str,
    noun: &str,
    allowed: &[&str],
    spec: &FlowSpec,
    caller: &Caller,
) -> Result<&'s FlowConnection, ApiError> {
    let conn = found.ok_or_else(|| {
        bad(format!(
            "Invalid {noun} id: no {noun} with the ID {id} in sandbox '{}'",
            caller.sandbox
        ))
    })?;
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&conn.spec_id)) {
        return Err(spec_error(format!(
            "The spec ID provided is invalid: the {noun} {id} has connection spec {}, which the flow spec {} ({}) does not take",
            conn.spec_id, spec.name, spec.id
        )));
    }
    Ok(conn)
}

/// `inheritedAttributes`: each connection with its spec and base connection.
pub fn inherited(source: &FlowConnection, target: &FlowConnection) -> Value {
    let entry = |c: &FlowConnection| {
        let mut out = json!({"id": c.id, "connectionSpec": spec_ref(&c.spec_id, &c.spec_version)});
        if let Some(base) = &c.base {
            out["baseConnection"] =
                json!({"id": base.id, "connectionSpec": spec_ref(&base.spec_id, &base.spec_version)});
        }
        out
    };
    json!({"sourceConnections": [entry(source)], "targetConnections": [entry(target)]})
}

/// The transformation spec names of a flow spec.
fn spec_names(spec: &FlowSpec) -> Vec<&str> {
    spec.item["transformationSpecs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect()
}

/// Checks a flow's transformations; returns them as kept (`mappingVersion` a string).
/// `target_schema` is the target connection's `data.schema.id`.
pub fn transformations(
    value: Option<&Value>,
    spec: &FlowSpec,
    target_schema: Option<&str>,
    store: &Store,
    caller: &Caller,
) -> Result<Vec<Value>, ApiError> {
    let list = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(bad("Field 'transformations' must be an array")),
    };
    let allowed = spec_names(spec);
    let mut seen: Vec<String> = Vec::new();
    let mut kept = Vec::with_capacity(list.len());
    for (i, t) in list.into_iter().enumerate() {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(params) = t.get("params").and_then(Value::as_object) else {
            return Err(bad(format!(
                "Field 'transformations[{i}]' needs a 'name' and a 'params' object"
            )));
        };
        if !allowed.contains(&name.as_str()) {
            return Err(bad(format!(
                "Transformation '{name}' is not one the flow spec {} takes ({})",
                spec.name,
                allowed.join(", ")
            )));
        }
        if seen.contains(&name) {
            return Err(bad(format!("Transformation '{name}' is given twice")));
        }
        let mut params = params.clone();
        match name.as_str() {
            "Copy" => delta_column(&params)?,
            "Mapping" => mapping(&mut params, target_schema, store, caller)?,
            _ => {}
        }
        let mut t = t.clone();
        t["params"] = Value::Object(params);
        seen.push(name);
        kept.push(t);
    }
    if spec.needs_delta_column && !seen.iter().any(|n| n == "Copy") {
        return Err(bad(format!(
            "Flows of {} need a 'Copy' transformation with params.deltaColumn.name (CRM and database sources read by delta column)",
            spec.name
        )));
    }
    Ok(kept)
}

fn delta_column(params: &Map<String, Value>) -> Result<(), ApiError> {
    let name = params
        .get("deltaColumn")
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty());
    name.map(|_| ())
        .ok_or_else(|| bad("Transformation 'Copy' needs params.deltaColumn.name (a non-empty string)"))
}

fn mapping(
    params: &mut Map<String, Value>,
    target_schema: Option<&str>,
    store: &Store,
    caller: &Caller,
) -> Result<(), ApiError> {
    let id = params
        .get("mappingId")
        .and_then(Value::as_str)
        .ok_or_else(|| mapping_error("Transformation 'Mapping' needs params.mappingId (a string)"))?
        .to_owned();
    let set = store
        .mapping_sets
        .get(&caller.org, &caller.sandbox, &id)
        .ok_or_else(|| mapping_error(format!("Invalid mapping: no mapping set with the ID {id}")))?;
    let version = match params.get("mappingVersion") {
        None | Some(Value::Null) => set.latest(),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse::<u64>().ok(),
                _ => None,
            };
            n.and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n <= set.latest())
                .ok_or_else(|| {
                    mapping_error(format!(
                        "Invalid mapping version {v} for mapping set {id} (its versions are 0 to {})",
                        set.latest()
                    ))
                })?
        }
    };
    if let (Some(target), Some(v)) = (target_schema, set.versions.get(version as usize))
        && v.content.schema_id != target
    {
        return Err(patch_error(
            1425,
            format!(
                "The schema of mapping set {id} ({}) is not the schema of the target dataset ({target})",
                v.content.schema_id
            ),
        ));
    }
    params.insert("mappingVersion".into(), Value::String(version.to_string()));
    Ok(())
}

/// Checks `options` against the flow spec's `optionSpec`; returns them as kept.
pub fn options(value: &Value) -> Result<Value, ApiError> {
    let Some(given) = value.as_object() else {
        return Err(bad("Field 'options' must be an object"));
    };
    let mut kept = Map::new();
    for (key, v) in given {
        match key.as_str() {
            "partialIngestionPercent" => {
                let n = match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                let n = n.filter(|n| *n > 0.0 && *n <= 100.0).ok_or_else(|| {
                    bad("options.partialIngestionPercent must be a number above 0, at most 100")
                })?;
                let shown = if n.fract() == 0.0 {
                    json!(n as i64)
                } else {
                    json!(n)
                };
                kept.insert(key.clone(), shown);
            }
            "errorDiagnosticsEnabled" => {
                let b = match v {
                    Value::Bool(b) => *b,
                    Value::String(s) if s == "true" => true,
                    Value::String(s) if s == "false" => false,
                    _ => return Err(bad("options.errorDiagnosticsEnabled must be true or false")),
                };
                kept.insert(key.clone(), Value::Bool(b));
            }
            other => {
                return Err(bad(format!(
                    "Unknown option '{other}': the flow spec's options are partialIngestionPercent and errorDiagnosticsEnabled"
                )));
            }
        }
    }
    Ok(Value::Object(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_both_encodings() {
        assert_eq!(
            options(&json!({"partialIngestionPercent": "10", "errorDiagnosticsEnabled": "true"})).unwrap(),
            json!({"partialIngestionPercent": 10, "errorDiagnosticsEnabled": true})
        );
        assert_eq!(
            options(&json!({"partialIngestionPercent": 2.5})).unwrap(),
            json!({"partialIngestionPercent": 2.5})
        );
        for bad in [
            json!({"partialIngestionPercent": 0}),
            json!({"partialIngestionPercent": "lots"}),
            json!({"errorDiagnosticsEnabled": 1}),
            json!({"colour": "red"}),
            json!([]),
        ] {
            assert!(options(&bad).is_err(), "{bad}");
        }
    }
}
