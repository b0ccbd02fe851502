//! The Catalog Service's datasets under [`CATALOG_BASE`](crate::CATALOG_BASE): `GET
//! /dataSets`, `GET /dataSets/{id}` and `POST /dataSets`, as the Catalog OpenAPI and
//! flow-service-explore-runs §2 describe them. Reads answer an object keyed by dataset id
//! (never `items`); a create answers `["@/dataSets/<id>"]`.
//!
//! Decisions, where the docs are silent:
//! - A listing is in creation order, oldest first (the demo datasets, then those added):
//!   Catalog documents no default order, and a fixed one makes `start` offsets stable.
//!   `orderBy=asc:created|desc:created|asc:updated|desc:updated|asc:name|desc:name` reorders.
//! - `limit` defaults to 20; above 100 it is read as 100 (as Flow Service caps its pages);
//!   0, a negative or a non-number is a 400. `start` is a zero-based offset.
//! - `name=` matches the whole name exactly. The other documented filters (`property`,
//!   `tags`, `created`, `updated`, `createdClient`, `createdUser`, `updatedUser`,
//!   `description`, `version`, `enableErrorDiagnostics`) are not emulated: a request with one
//!   is refused (400) rather than answered unfiltered.
//! - `properties=a,b` keeps those top-level properties of each dataset (and the id keys).
//! - `POST /dataSets` needs a non-empty `name` and a `schemaRef.id` (any string: no schema
//!   registry is emulated); `contentType` defaults to the tutorials'
//!   `application/vnd.adobe.xed+json;version=1`; `tags` must map names to string arrays.
//!   Other properties (`fileDescription`, …) are accepted and not kept. The emulator's
//!   datasets never change: no PATCH, PUT or DELETE is served.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::context::{CATALOG_BASE, Caller, Shared, lock};
use crate::dataset::{Dataset, SCHEMA_CONTENT_TYPE};
use crate::errors::ApiError;
use crate::listing::json_response;
use crate::request::json_body;

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 20;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 100;

/// The documented filters the emulator does not apply.
const UNSUPPORTED: [&str; 10] = [
    "property",
    "tags",
    "created",
    "updated",
    "createdClient",
    "createdUser",
    "updatedUser",
    "description",
    "version",
    "enableErrorDiagnostics",
];

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::catalog(StatusCode::BAD_REQUEST, detail)
}

/// The order of a listing: by which field, and whether descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Created,
    Updated,
    Name,
}

/// The parameters of one `GET /dataSets`.
#[derive(Debug, PartialEq)]
struct Query {
    limit: usize,
    start: usize,
    name: Option<String>,
    properties: Option<Vec<String>>,
    order: Option<(Field, bool)>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let mut query = Query {
            limit: DEFAULT_LIMIT,
            start: 0,
            name: None,
            properties: None,
            order: None,
        };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "limit" => {
                    query.limit = match value.parse::<usize>() {
                        Ok(n) if n > 0 => n.min(MAX_LIMIT),
                        _ => {
                            return Err(bad(format!(
                                "limit '{value}' must be a positive number (at most {MAX_LIMIT})"
                            )));
                        }
                    }
                }
                "start" => {
                    query.start = value
                        .parse()
                        .map_err(|_| bad(format!("start '{value}' must be a zero-based offset")))?;
                }
                "name" => query.name = Some(value.into_owned()),
                "properties" => {
                    let names = value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                    query.properties = Some(names);
                }
                "orderBy" => {
                    let (direction, field) = value.split_once(':').unwrap_or(("asc", &value));
                    let field = match field {
                        "created" => Field::Created,
                        "updated" => Field::Updated,
                        "name" => Field::Name,
                        _ => {
                            return Err(bad(format!(
                                "orderBy '{value}': order by created, updated or name"
                            )));
                        }
                    };
                    let descending = match direction {
                        "asc" => false,
                        "desc" => true,
                        _ => {
                            return Err(bad(format!(
                                "orderBy '{value}': write asc:{{field}} or desc:{{field}}"
                            )));
                        }
                    };
                    query.order = Some((field, descending));
                }
                other if UNSUPPORTED.contains(&other) => {
                    return Err(bad(format!(
                        "the `{other}` filter is not supported by this emulator (only `name`)"
                    )));
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

/// `{"<id>": {...}, ...}` in the given order (serde_json's maps would sort the ids).
fn keyed(datasets: &[Dataset], properties: Option<&[String]>) -> Vec<u8> {
    let mut out = b"{".to_vec();
    for (i, dataset) in datasets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut item = dataset.to_json();
        if let (Some(keep), Some(object)) = (properties, item.as_object_mut()) {
            object.retain(|k, _| keep.contains(k));
        }
        out.extend_from_slice(&serde_json::to_vec(&dataset.id).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&serde_json::to_vec(&item).unwrap_or_default());
    }
    out.push(b'}');
    out
}

/// `GET /dataSets`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let mut all = lock(&shared.store).datasets.list(&caller.org, &caller.sandbox);
    if let Some(name) = &query.name {
        all.retain(|d| d.name == *name);
    }
    if let Some((field, descending)) = query.order {
        all.sort_by(|a, b| {
            let ordering = match field {
                Field::Created => a.created.cmp(&b.created),
                Field::Updated => a.updated.cmp(&b.updated),
                Field::Name => a.name.cmp(&b.name),
            }
            .then_with(|| a.id.cmp(&b.id));
            if descending { ordering.reverse() } else { ordering }
        });
    }
    let page: Vec<Dataset> = all.into_iter().skip(query.start).take(query.limit).collect();
    Ok(json_response(
        StatusCode::OK,
        keyed(&page, query.properties.as_deref()),
    ))
}

/// `GET /dataSets/{id}`.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref())?;
    let dataset = lock(&shared.store)
        .datasets
        .get(&caller.org, &caller.sandbox, &id)
        .ok_or_else(|| {
            ApiError::catalog(
                StatusCode::NOT_FOUND,
                format!("dataSet not found with id = [{id}]"),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        keyed(&[dataset], query.properties.as_deref()),
    ))
}

/// What a new dataset is made of.
#[derive(Clone, Debug)]
pub struct NewDataset {
    pub name: String,
    pub description: Option<String>,
    pub schema_id: String,
    pub content_type: String,
    pub tags: BTreeMap<String, Vec<String>>,
}

impl NewDataset {
    /// Reads a `dataSetRequest` body; `default_schema` stands in for a missing `schemaRef`
    /// (the admin endpoint's convenience; `POST /dataSets` has none).
    pub fn read(body: &Value, default_schema: Option<&str>) -> Result<NewDataset, String> {
        let text = |key: &str| match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        };
        let name = text("name")?
            .filter(|n| !n.trim().is_empty())
            .ok_or("`name` is required")?;
        let reference = body.get("schemaRef");
        let schema_id = match reference.and_then(|r| r.get("id")) {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            None if reference.is_none() => default_schema.ok_or("`schemaRef.id` is required")?.to_owned(),
            _ => return Err("`schemaRef.id` must be a schema id (a non-empty string)".to_owned()),
        };
        let content_type = match reference.and_then(|r| r.get("contentType")) {
            None | Some(Value::Null) => SCHEMA_CONTENT_TYPE.to_owned(),
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err("`schemaRef.contentType` must be a string".to_owned()),
        };
        let tags = match body.get("tags") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(tags) => serde_json::from_value(tags.clone())
                .map_err(|_| "`tags` must map tag names to arrays of strings".to_owned())?,
        };
        Ok(NewDataset {
            name,
            description: text("description")?,
            schema_id,
            content_type,
            tags,
        })
    }
}

/// Adds a dataset to a sandbox, with a new 24-hex id; returns the id.
pub fn add(shared: &Shared, org: &str, sandbox: &str, new: NewDataset, client: &str) -> String {
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    let mut id = rng.hex(24);
    while store.datasets.taken(&id) {
        id = rng.hex(24);
    }
    store.datasets.add(Dataset {
        id: id.clone(),
        org: org.to_owned(),
        sandbox: sandbox.to_owned(),
        name: new.name,
        description: new.description,
        schema_id: new.schema_id,
        schema_content_type: new.content_type,
        tags: new.tags,
        created: now,
        updated: now,
        created_client: client.to_owned(),
        created_user: format!("{client}@AdobeID"),
    });
    drop(rng);
    drop(store);
    shared.changed();
    id
}

/// `POST /dataSets`: 201 `["@/dataSets/<id>"]` with a `Location`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body).await.map_err(|e| match e {
        ApiError::Flow { detail, .. } => bad(detail),
        other => other,
    })?;
    let new = NewDataset::read(&body, None).map_err(bad)?;
    let id = add(&shared, &caller.org, &caller.sandbox, new, &caller.client_id);
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!([format!("@/dataSets/{id}")])),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{CATALOG_BASE}/dataSets/{id}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_like_catalog() {
        let q = Query::parse(None).unwrap();
        assert_eq!((q.limit, q.start), (DEFAULT_LIMIT, 0));
        let q = Query::parse(Some(
            "limit=500&start=3&properties=name,%20schemaRef&orderBy=desc:name",
        ))
        .unwrap();
        assert_eq!((q.limit, q.start), (MAX_LIMIT, 3));
        assert_eq!(q.properties.unwrap(), ["name", "schemaRef"]);
        assert_eq!(q.order, Some((Field::Name, true)));
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=x",
            "start=-2",
            "orderBy=up:name",
            "orderBy=asc:size",
            "tags=a:b",
        ] {
            assert!(Query::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn new_datasets_need_a_name_and_a_schema() {
        let ok = NewDataset::read(
            &json!({"name": "n", "schemaRef": {"id": "s"}, "tags": {"a": ["b"]}}),
            None,
        )
        .unwrap();
        assert_eq!(
            (ok.schema_id.as_str(), ok.content_type.as_str()),
            ("s", SCHEMA_CONTENT_TYPE)
        );
        assert!(NewDataset::read(&json!({"name": "n"}), None).is_err());
        assert_eq!(
            NewDataset::read(&json!({"name": "n"}), Some("d"))
                .unwrap()
                .schema_id,
            "d"
        );
        assert!(NewDataset::read(&json!({"schemaRef": {"id": "s"}}), None).is_err());
        assert!(NewDataset::read(&json!({"name": "n", "schemaRef": {"id": 5}}), None).is_err());
        assert!(
            NewDataset::read(
                &json!({"name": "n", "schemaRef": {"id": "s"}, "tags": {"a": "b"}}),
                None
            )
            .is_err()
        );
    }
}
