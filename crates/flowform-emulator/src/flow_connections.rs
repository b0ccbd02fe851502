//! The source- and target-connection handlers: list, get, create, patch, delete, one set for
//! both sides (the route says which, as an `Extension<Side>`).
//!
//! A source connection reads one table of a base connection (`baseConnectionId`,
//! `data.format`, `params.tableName`, optional `params.columns`); a target connection writes
//! to a Catalog dataset of the data lake (`params.dataSetId`, `data.schema`). Both follow
//! flow-service-dataflows §1 and the OpenAPI's `Create*ConnectionRequest` and
//! `*ConnectionItemDTO`, with the base-connection conventions where those are silent
//! (quoted etags, `If-Match`, the error envelope).
//!
//! # Decisions
//!
//! Where the docs are silent or contradict each other:
//!
//! - **`name` is required on both sides.** The OpenAPI requires it for sources only; every
//!   target example has one, and a nameless connection cannot be found by name.
//! - **`connectionSpec.version` is required** (422, as [S-DST] documents for base
//!   connections; the OpenAPI says a missing one means the latest). It must be the spec's
//!   version (`1.0`), else 1413.
//! - **Sources need `baseConnectionId`** (the OpenAPI makes it optional, every example sends
//!   it): a base connection of the same organization and sandbox, whose spec is the source
//!   connection's `connectionSpec` (400 `1413` otherwise). Its state is not checked: AEP
//!   documents no such rule.
//! - **Targets may name a `baseConnectionId`** ([S-DST] requires it, [S-SRC] and the data-lake
//!   examples have none). When given it must name a base connection of the sandbox; it is then
//!   shown, echoed in `inheritedAttributes.baseConnection`, filterable, and keeps that base
//!   connection from being deleted (1418). Without one, a target has no `inheritedAttributes`.
//! - **Targets are data-lake targets**: `connectionSpec.id` must be
//!   `c604ff05-7f1a-43c0-8e18-33bf874cb11c` (1413 otherwise), `params.dataSetId` a dataset of
//!   the sandbox (400 "invalid dataSetId" otherwise), and `data.schema.id` that dataset's
//!   `schemaRef.id`: a different schema is refused (400), as AEP checks the dataset.
//!   `data.schema.version` must be a string; its value is kept as given.
//! - **Sources are table sources** (the emulator's specs are CRM tables): `data.format` is
//!   required and one of `tabular`, `delimited`, `json`, `parquet` (the formats D-CRM lists);
//!   `params.tableName` is required. It is not checked against explore's catalog: AEP
//!   documents no such check. `params.columns`, when given, is an array of objects with a
//!   string `name` and `type` (explore's columns, passed through).
//! - **`state` on create is refused** (400 `1410`), as the error catalogue says for flows;
//!   every connection starts `enabled`. Other unknown properties are ignored.
//! - **PATCH accepts `/name` and `/description` only.** Which paths are patchable is not
//!   documented; D-UPDF's tip says changing what a source or target connection reads or
//!   writes means creating a new one. `/connectionSpec` is 1414 (as for base connections);
//!   another property of the item is a 400 saying it cannot be patched; a path the item does
//!   not have is 1455. The answer is `{id, etag}`, as for base connections and flows: the
//!   OpenAPI declares the list wrapper with no example, and `{id, etag}` validates against it.
//! - **404s** use the Flow Service envelope of every other 404 here, whose `errorMessage` is
//!   [S-DST]'s `sourceConnections not found with id = [<id>]`.
//! - **DELETE** answers 204, as [S-SRC] documents (not [S-DST]'s 202). While a flow reads
//!   from or writes to the connection it is refused, 400 `1447` ("Found active flows
//!   containing id", the catalogue's words; flow-service-dataflows §4), naming up to five
//!   flows, as 1418 guards base connections. The admin delete skips the check.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::connection::sandbox_id;
use crate::connections::string_field;
use crate::context::{Caller, FLOW_BASE, Shared, lock};
use crate::errors::ApiError;
use crate::flow_connection::{BaseRef, FlowConnection, Side};
use crate::listing;
use crate::patch::{self, missing_field, patch_error};
use crate::request::json_body;
use crate::store::Store;

/// The data lake's connection spec, the target of every sources dataflow.
pub const DATA_LAKE_SPEC_ID: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";
const DATA_LAKE_SPEC_VERSION: &str = "1.0";

/// The `data.format`s of a source connection (D-CRM).
const SOURCE_FORMATS: [&str; 4] = ["tabular", "delimited", "json", "parquet"];

/// `GET /sourceConnections`, `GET /targetConnections`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(side): Extension<Side>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    listing::list(&shared, &caller, raw.as_deref(), side.kind(), |s| s.side(side))
}

/// `GET /{side}Connections/{id}`.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    listing::get_one(&shared, &caller, side.kind(), &id, |s| s.side(side))
}

/// What a valid create body holds.
struct NewFlowConnection {
    name: String,
    description: Option<String>,
    spec_id: String,
    spec_version: String,
    base: Option<BaseRef>,
    data: Value,
    params: Value,
}

fn spec_error(detail: String) -> ApiError {
    ApiError::flow(StatusCode::BAD_REQUEST, 1413, "Bad request", detail)
}

/// An object property of the body: required, or `None` when absent and optional.
fn object<'a>(
    parent: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match parent.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApiError::bad_request(format!("Field '{path}' must be an object"))),
    }
}

fn required<T>(value: Option<T>, path: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::bad_request(format!("Field '{path}' is required")))
}

/// Checks a create body against what it refers to in the store.
fn validate(side: Side, body: &Value, store: &Store, caller: &Caller) -> Result<NewFlowConnection, ApiError> {
    let Some(body) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    if body.get("state").is_some_and(|s| !s.is_null()) {
        return Err(patch_error(
            1410,
            format!("The state of a {} cannot be set on create", side.noun()),
        ));
    }
    let name = string_field(body, "name", "name")?.filter(|n| !n.trim().is_empty());
    let name = required(name, "name")?;
    let description = string_field(body, "description", "description")?;
    let spec = required(
        object(body, "connectionSpec", "connectionSpec")?,
        "connectionSpec",
    )?;
    let spec_id = required(
        string_field(spec, "id", "connectionSpec.id")?,
        "connectionSpec.id",
    )?;
    let Some(spec_version) = string_field(spec, "version", "connectionSpec.version")? else {
        return Err(ApiError::flow(
            StatusCode::UNPROCESSABLE_ENTITY,
            1100,
            "Unprocessable entity",
            "connectionSpec.version 'version' is required for spec info; version is usually \"1.0\"",
        ));
    };
    let data = required(object(body, "data", "data")?, "data")?;
    let params = object(body, "params", "params")?;
    let base = match string_field(body, "baseConnectionId", "baseConnectionId")? {
        None if side == Side::Source => {
            return Err(ApiError::bad_request("Field 'baseConnectionId' is required"));
        }
        None => None,
        Some(id) => {
            let conn = store
                .connections
                .get(&caller.org, &caller.sandbox, id)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid baseConnectionId: no base connection with the ID {id} in sandbox '{}'",
                        caller.sandbox
                    ))
                })?;
            Some(BaseRef {
                id: conn.id.clone(),
                spec_id: conn.spec_id.clone(),
                spec_version: conn.spec_version.clone(),
            })
        }
    };
    let (expected_id, expected_version) = match (side, &base) {
        (Side::Source, Some(b)) => (b.spec_id.as_str(), b.spec_version.as_str()),
        _ => (DATA_LAKE_SPEC_ID, DATA_LAKE_SPEC_VERSION),
    };
    if !spec_id.eq_ignore_ascii_case(expected_id) {
        return Err(spec_error(match side {
            Side::Source => format!(
                "The spec ID provided is invalid: connectionSpec.id '{spec_id}' is not the spec of the base connection ({expected_id})"
            ),
            Side::Target => format!(
                "The spec ID provided is invalid: a target connection writes to the data lake ({DATA_LAKE_SPEC_ID})"
            ),
        }));
    }
    if spec_version != expected_version {
        return Err(spec_error(format!(
            "The spec version '{spec_version}' is invalid for the connection spec ID {expected_id}"
        )));
    }
    match side {
        Side::Source => check_source(data, params)?,
        Side::Target => check_target(data, params, store, caller)?,
    }
    Ok(NewFlowConnection {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        spec_id: expected_id.to_owned(),
        spec_version: expected_version.to_owned(),
        base,
        data: Value::Object(data.clone()),
        params: Value::Object(params.cloned().unwrap_or_default()),
    })
}

fn check_source(data: &Map<String, Value>, params: Option<&Map<String, Value>>) -> Result<(), ApiError> {
    let format = required(string_field(data, "format", "data.format")?, "data.format")?;
    if !SOURCE_FORMATS.contains(&format) {
        return Err(ApiError::bad_request(format!(
            "Invalid data.format '{format}': one of {}",
            SOURCE_FORMATS.join(", ")
        )));
    }
    let params = required(params, "params")?;
    let table = string_field(params, "tableName", "params.tableName")?.filter(|t| !t.is_empty());
    required(table, "params.tableName")?;
    match params.get("columns") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(columns)) => {
            for (i, column) in columns.iter().enumerate() {
                let typed = |key: &str| column.get(key).is_some_and(Value::is_string);
                if !(column.is_object() && typed("name") && typed("type")) {
                    return Err(ApiError::bad_request(format!(
                        "Field 'params.columns[{i}]' must be an object with a string 'name' and 'type'"
                    )));
                }
            }
            Ok(())
        }
        Some(_) => Err(ApiError::bad_request("Field 'params.columns' must be an array")),
    }
}

fn check_target(
    data: &Map<String, Value>,
    params: Option<&Map<String, Value>>,
    store: &Store,
    caller: &Caller,
) -> Result<(), ApiError> {
    string_field(data, "format", "data.format")?;
    let params = required(params, "params")?;
    let dataset_id = required(
        string_field(params, "dataSetId", "params.dataSetId")?,
        "params.dataSetId",
    )?;
    let dataset = store
        .datasets
        .get(&caller.org, &caller.sandbox, dataset_id)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid dataSetId: no dataset '{dataset_id}' in sandbox '{}'",
                caller.sandbox
            ))
        })?;
    let schema = required(object(data, "schema", "data.schema")?, "data.schema")?;
    let schema_id = required(string_field(schema, "id", "data.schema.id")?, "data.schema.id")?;
    required(
        string_field(schema, "version", "data.schema.version")?,
        "data.schema.version",
    )?;
    if schema_id != dataset.schema_id {
        return Err(ApiError::bad_request(format!(
            "data.schema.id '{schema_id}' is not the schema of the dataset {dataset_id} ({})",
            dataset.schema_id
        )));
    }
    Ok(())
}

/// `POST /{side}Connections`: 201 `{id, etag}` with a `Location`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(side): Extension<Side>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body).await?;
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let new = validate(side, &body, &store, &caller)?;
    let (id, etag) = {
        let mut rng = lock(&shared.rng);
        (rng.uuid(), rng.etag())
    };
    let collection = store.side_mut(side);
    let seq = collection.next_seq();
    collection.insert(FlowConnection {
        id: id.clone(),
        org: caller.org.clone(),
        sandbox: caller.sandbox.clone(),
        sandbox_id: sandbox_id(&caller.org, &caller.sandbox),
        created_at: now,
        updated_at: now,
        created_by: caller.client_id.clone(),
        updated_by: caller.client_id.clone(),
        created_client: caller.client_id.clone(),
        updated_client: caller.client_id.clone(),
        name: new.name,
        description: new.description,
        spec_id: new.spec_id,
        spec_version: new.spec_version,
        enabled: true,
        base: new.base,
        data: new.data,
        params: new.params,
        etag: etag.clone(),
        seq,
        earlier: Vec::new(),
        rendered: OnceLock::new(),
    });
    drop(store);
    shared.changed();
    let mut response = (StatusCode::CREATED, axum::Json(json!({"id": id, "etag": etag}))).into_response();
    let location = format!("{FLOW_BASE}/{}/{id}", side.kind().path());
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// `PATCH /{side}Connections/{id}`: `/name` and `/description` only; 200 `{id, etag}`.
pub async fn patch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let kind = side.kind();
    let (mut name, mut description) = {
        let store = lock(&shared.store);
        let found = listing::find(store.side(side), &caller, kind, &id)?;
        (found.name.clone(), found.description.clone())
    };
    let if_match = patch::if_match(&headers)?;
    let ops = patch::operations(&json_body(&headers, body).await?)?;
    for op in &ops {
        if patch::edit_name_or_description(op, &mut name, &mut description)? {
            continue;
        }
        let path = op.path.as_str();
        let head = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        if head == "connectionSpec" {
            return Err(patch_error(
                1414,
                format!("The connection spec of a {} cannot be updated", side.noun()),
            ));
        }
        if kind.has_property(head) {
            return Err(ApiError::bad_request(format!(
                "'{path}' cannot be patched on a {noun}: only /name and /description can; to change what it {verb}, create a new {noun}",
                noun = side.noun(),
                verb = if side == Side::Source { "reads" } else { "writes" },
            )));
        }
        return Err(missing_field(path.trim_start_matches('/')));
    }
    // Locks are always taken store first, then rng.
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    let current = listing::find(store.side(side), &caller, kind, &id)?;
    patch::check_version(&if_match, &current.etag)?;
    let new_etag = rng.etag();
    let now = shared.clock.now_ms();
    store
        .side_mut(side)
        .modify(&caller.org, &caller.sandbox, &id, now, |c| {
            c.name = name;
            c.description = description;
            c.etag = new_etag.clone();
            c.updated_by = caller.client_id.clone();
            c.updated_client = caller.client_id.clone();
        });
    drop(rng);
    drop(store);
    shared.changed();
    Ok(axum::Json(json!({"id": id, "etag": new_etag})).into_response())
}

/// How many flows a 1447 names.
const FLOWS_NAMED: usize = 5;

/// `DELETE /{side}Connections/{id}`: 204; 1447 while a flow reads or writes it.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut store = lock(&shared.store);
    listing::find(store.side(side), &caller, side.kind(), &id)?;
    let users = store.flows_using(&caller.org, &caller.sandbox, side, &id, FLOWS_NAMED);
    if !users.is_empty() {
        return Err(patch_error(
            1447,
            format!(
                "Found active flows containing id {id}: delete them first ({})",
                users.join(", ")
            ),
        ));
    }
    store.side_mut(side).remove(&caller.org, &caller.sandbox, &id);
    drop(store);
    shared.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}
