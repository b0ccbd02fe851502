//! `GET /connections/{id}/explore`: what a table-based source holds, as
//! flow-service-explore-runs §1 documents it. The root listing is a bare array of tables;
//! a table is `{"format": "flat", "schema": {"columns": [...]}}`, with a few rows under
//! `data` when `preview=true`. Every Salesforce base connection explores to the same
//! catalog ([`crate::sobjects`]).
//!
//! Decisions, where the docs are silent or disagree:
//! - `objectType` is read in any case: the OpenAPI's enum is upper case, every doc example
//!   lower case. Without it the root is listed (the OpenAPI makes it optional, and the root
//!   is where a client starts). `file`, `folder` and `rest` are valid values for other
//!   sources, so they are refused with a 400 that says this source has tables only; any
//!   other value is a 400 too.
//! - A connection that is not `enabled` (initializing, disabled) cannot be explored: 400.
//!   AEP documents nothing; a source that has not finished connecting has nothing to show.
//! - A connection of a spec with no seeded catalog lists `[]` at the root, and any table of
//!   it is unknown.
//! - An unknown table is a 404 in the Flow Service envelope (`1101`). Table paths compare
//!   exactly: sObject API names are case-sensitive.
//! - `preview=true` on a table whose root entry says `canPreview: false` is a 400.
//! - Row filters (`filters`, base64 PQL) are not emulated: a request with them is refused
//!   (400) rather than answered unfiltered, so a client never mistakes the one for the
//!   other.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::connection::State as ConnState;
use crate::context::{Caller, Shared, lock};
use crate::errors::ApiError;
use crate::listing;
use crate::record::Kind;
use crate::sobjects::{self, PREVIEW_ROWS};
use crate::specs::SALESFORCE_ID;

/// What a request asks to explore.
#[derive(Debug, Default, PartialEq)]
struct Request {
    object_type: Option<String>,
    object: Option<String>,
    preview: Option<String>,
    filters: bool,
}

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(detail)
}

impl Request {
    fn parse(raw: Option<&str>) -> Result<Request, ApiError> {
        let mut request = Request::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "objectType" => &mut request.object_type,
                "object" => &mut request.object,
                "preview" => &mut request.preview,
                "filters" => {
                    request.filters = true;
                    continue;
                }
                // `fileType`, `columnDelimiter` and the like concern file sources.
                _ => continue,
            };
            match slot {
                Some(earlier) if *earlier != value => {
                    return Err(bad(format!(
                        "`{key}` is given more than once, with different values"
                    )));
                }
                _ => *slot = Some(value.into_owned()),
            }
        }
        Ok(request)
    }
}

/// `GET /connections/{id}/explore`.
pub async fn explore(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let request = Request::parse(raw.as_deref())?;
    let (spec_id, state) = {
        let store = lock(&shared.store);
        let conn = listing::find(&store.connections, &caller, Kind::Connections, &id)?;
        (conn.spec_id.clone(), conn.state)
    };
    if state != ConnState::Enabled {
        return Err(bad(format!(
            "The connection {id} is {}; only an enabled connection can be explored",
            state.as_str()
        )));
    }
    if request.filters {
        return Err(bad(
            "Row filters (`filters`) are not supported by this emulator; explore without them",
        ));
    }
    let preview = match request.preview.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(bad(format!("`preview` must be true or false, not '{other}'"))),
    };
    let seeded = spec_id.eq_ignore_ascii_case(SALESFORCE_ID);
    let object_type = request
        .object_type
        .as_deref()
        .map_or_else(|| "root".to_owned(), str::to_ascii_lowercase);
    let body = match object_type.as_str() {
        "root" => {
            let tables: Vec<Value> = if seeded {
                sobjects::TABLES.iter().map(sobjects::Table::entry).collect()
            } else {
                Vec::new()
            };
            Value::Array(tables)
        }
        "table" => {
            let Some(path) = request.object.as_deref().filter(|p| !p.is_empty()) else {
                return Err(bad("`object` (a table's path) is required with objectType=table"));
            };
            let table = sobjects::find(path).filter(|_| seeded).ok_or_else(|| {
                ApiError::flow(
                    StatusCode::NOT_FOUND,
                    1101,
                    "Resource not found",
                    format!("Table '{path}' was not found for the connection {id}"),
                )
            })?;
            let columns: Vec<Value> = table.columns().iter().map(sobjects::Column::to_json).collect();
            let mut body = json!({"format": "flat", "schema": {"columns": columns}});
            if preview {
                if !table.can_preview {
                    return Err(bad(format!(
                        "Table '{path}' cannot be previewed (canPreview is false)"
                    )));
                }
                body["data"] = (0..PREVIEW_ROWS).map(|n| table.row(n)).collect();
            }
            body
        }
        "file" | "folder" | "rest" => {
            return Err(bad(format!(
                "objectType '{object_type}' is not supported by the connection {id}: its source has tables (root, table)"
            )));
        }
        other => {
            return Err(bad(format!(
                "Invalid objectType '{other}': one of root, table, file, folder, rest"
            )));
        }
    };
    Ok(axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_once_each() {
        let r = Request::parse(Some("objectType=TABLE&object=Contact&preview=true&fileType=x")).unwrap();
        assert_eq!(r.object_type.as_deref(), Some("TABLE"));
        assert_eq!(r.object.as_deref(), Some("Contact"));
        assert!(!r.filters);
        assert!(Request::parse(Some("object=a&object=b")).is_err());
        assert!(Request::parse(Some("object=a&object=a")).is_ok());
        assert!(Request::parse(Some("filters=e30=")).unwrap().filters);
    }
}
