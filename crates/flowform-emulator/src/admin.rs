//! `/__emulator/…`: the emulator's own endpoints, for tests, benchmarks and people trying
//! things. None of this is AEP; none of it needs a token.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /stats`, `DELETE /stats` | requests served by method, route and status, and the latest request targets (`recent`: method, path and query, at most 2,000); reset them |
//! | `POST /reset` | forget every base, source and target connection, flow, run, mapping set and added dataset, the statistics and run-time fault settings |
//! | `GET /faults`, `PUT /faults` | the fault settings (JSON, as `FaultSettings`) |
//! | `POST /faults/script` | one-shot faults for the next matching requests |
//! | `POST /seed` | bulk-create records: `{"count", "kind"?, "org"?, "sandbox"?, "namePrefix"?}`; `kind` is `connections` (the default: Salesforce base connections), `sourceConnections` (over the sandbox's base connections in turn, reading their tables in turn) or `targetConnections` (`"dataSetId"?`, default the demo profile dataset; `"linkBaseConnections": true` gives each a base connection in turn); answers `{"created", "total"}` |
//! | `GET /connections`, `GET /sourceConnections`, `GET /targetConnections` | every record of the kind as stored (with `org`, `sandbox`, `seq`; base connections with their secret digests and `inUse`) |
//! | `GET/PATCH/DELETE /{kind}/{id}` | read, edit or delete one out of band, as someone in the AEP UI would (a delete skips the 1418 check); PATCH takes `name`, `description`, `state` (and `params` for base connections) |
//! | `PUT /connections/{id}/in-use` | `{"inUse": true}`: a dataflow uses it, so DELETE answers 1418 |
//! | `PUT /connections/{id}/source` | `{"credentials": {"password": "…"}}`: the source now accepts only these secret values (a password rotated at the source), so `GET /connections/{id}/test` answers `false` until the connection holds them; `{"credentials": null}`: it accepts what the connection holds |
//! | `GET /datasets` | every dataset added to the demo ones (with `id`, `org`, `sandbox`) |
//! | `POST /datasets` | add one: `{"name", "schemaRef"?: {"id", "contentType"?}, "description"?, "tags"?, "org"?, "sandbox"?}` → 201 `{"id"}`; or many: `{"count", "prefix"?, "schemaRef"?, "org"?, "sandbox"?}` → 201 `{"ids"}`. A missing `schemaRef` is the demo profile schema |
//! | `DELETE /datasets/{id}` | remove an added dataset (the demo ones stay) |
//! | `POST /clock` | `{"advanceMs": N}`: move the emulator's clock forward (flows' runs follow) |
//! | `/flows…`, `GET /mappingSets` | flows, their runs and mapping sets: see `admin_flows` |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::backstage::{self, FlowSeed};
use crate::catalog::{self, NewDataset};
use crate::connection::{Connection, State as ConnState, digest};
use crate::context::{Shared, lock};
use crate::dataset::DEMO_PROFILE_SCHEMA_ID;
use crate::errors::ApiError;
use crate::faults::{FaultSettings, Scripted};
use crate::flow_connection::{FlowConnection, Side};
use crate::ims::DEMO_ORG;
use crate::record::Record;
use crate::request::json_body;
use crate::store::Store;

/// Runs `f` on the store, under its lock.
fn with_store<T>(shared: &Shared, f: impl FnOnce(&mut Store) -> T) -> T {
    f(&mut lock(&shared.store))
}

pub async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = lock(&shared.stats);
    let rows: Vec<Value> = stats
        .iter()
        .map(|((method, route, status), count)| json!({"method": method, "route": route, "status": status, "count": count}))
        .collect();
    let total: u64 = stats.values().sum();
    let recent: Vec<String> = lock(&shared.recent).iter().cloned().collect();
    axum::Json(json!({"total": total, "requests": rows, "recent": recent})).into_response()
}

pub async fn reset_stats(State(shared): State<Arc<Shared>>) -> StatusCode {
    lock(&shared.stats).clear();
    lock(&shared.recent).clear();
    StatusCode::NO_CONTENT
}

pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    *lock(&shared.store) = Store::default();
    lock(&shared.stats).clear();
    lock(&shared.recent).clear();
    lock(&shared.faults).settings = shared.options.faults.clone();
    shared.changed();
    StatusCode::NO_CONTENT
}

pub async fn faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.faults).settings.clone()).into_response()
}

pub async fn set_faults(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let settings: FaultSettings = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("Invalid fault settings: {e}")))?;
    settings.validate().map_err(ApiError::bad_request)?;
    lock(&shared.faults).settings = settings.clone();
    Ok(axum::Json(settings).into_response())
}

/// Appends one fault (an object) or several (an array) to the script.
pub async fn script(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let items: Vec<Scripted> = match value {
        Value::Array(_) => serde_json::from_value(value),
        other => serde_json::from_value(other).map(|one| vec![one]),
    }
    .map_err(|e| ApiError::bad_request(format!("Invalid scripted fault: {e}")))?;
    for item in &items {
        item.check()
            .map_err(|e| ApiError::bad_request(format!("Invalid scripted fault: {e}")))?;
    }
    let mut faults = lock(&shared.faults);
    faults.settings.script.extend(items);
    Ok(axum::Json(json!({"script": faults.settings.script})).into_response())
}

/// The largest `count` one seeding request takes.
const MAX_SEED: u64 = 1_000_000;

pub async fn seed(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let count = value
        .get("count")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("`count` is required"))?;
    if count > MAX_SEED {
        return Err(ApiError::bad_request(format!("`count` is at most {MAX_SEED}")));
    }
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let org = text("org").unwrap_or_else(|| DEMO_ORG.to_owned());
    let sandbox = text("sandbox").unwrap_or_else(|| "prod".to_owned());
    let side = match text("kind").as_deref() {
        None | Some("connections") => None,
        Some("sourceConnections") => Some(Side::Source),
        Some("targetConnections") => Some(Side::Target),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`kind` '{other}': one of connections, sourceConnections, targetConnections"
            )));
        }
    };
    let count = count as usize;
    let shared2 = shared.clone();
    let seeded = match side {
        None => {
            let prefix = text("namePrefix").unwrap_or_else(|| "Seeded".to_owned());
            tokio::task::spawn_blocking(move || {
                backstage::connections(&shared2, &org, &sandbox, count, &prefix)
            })
            .await
            .map_err(|_| ApiError::internal())?
            .ok_or_else(ApiError::internal)?
        }
        Some(side) => {
            let mut plan = FlowSeed::new(side, count);
            if let Some(prefix) = text("namePrefix") {
                plan.prefix = prefix;
            }
            if let Some(dataset) = text("dataSetId") {
                plan.dataset = dataset;
            }
            plan.link_bases = value
                .get("linkBaseConnections")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            tokio::task::spawn_blocking(move || backstage::flow_connections(&shared2, &org, &sandbox, &plan))
                .await
                .map_err(|_| ApiError::internal())?
                .map_err(ApiError::bad_request)?
        }
    };
    Ok(axum::Json(json!({"created": count, "total": seeded})).into_response())
}

/// A connection as stored, with where it lives and what only the emulator knows.
fn record(c: &Connection) -> Value {
    json!({
        "item": c.to_json(),
        "org": c.org,
        "sandbox": c.sandbox,
        "secretDigests": c.secrets,
        "inUse": c.in_use,
        "seq": c.seq,
    })
}

pub async fn dump(State(shared): State<Arc<Shared>>) -> Response {
    let store = lock(&shared.store);
    let all = store.connections.all_by_seq();
    axum::Json(Value::Array(all.into_iter().map(record).collect())).into_response()
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("connections", id)
}

pub async fn inspect(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let conn = store.connections.locate(&id).ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(record(conn)).into_response())
}

/// An out-of-band change, as a person in the AEP UI makes it: `name`, `description`,
/// `params` (merged; secrets by name are re-digested), `state`. The etag changes and
/// `updatedClient` becomes `exc_app`.
pub async fn edit(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let Some(changes) = value.as_object().cloned() else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    for key in changes.keys() {
        if !["name", "description", "params", "state"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "`{key}` cannot be edited; use name, description, params, state"
            )));
        }
    }
    let state = match changes.get("state").and_then(Value::as_str) {
        None => None,
        Some("enabled") => Some(ConnState::Enabled),
        Some("disabled") => Some(ConnState::Disabled),
        Some(other) => return Err(ApiError::bad_request(format!("state `{other}` cannot be set"))),
    };
    let now = shared.clock.now_ms();
    let result = with_store(&shared, |store| {
        let (org, sandbox) = store.connections.location_of(&id)?;
        let secret_names: Vec<String> = store.connections.locate(&id)?.secrets.keys().cloned().collect();
        let etag = lock(&shared.rng).etag();
        store.connections.modify(&org, &sandbox, &id, now, |c| {
            if let Some(name) = changes.get("name").and_then(Value::as_str) {
                c.name = name.to_owned();
            }
            match changes.get("description") {
                Some(Value::String(d)) => c.description = Some(d.clone()),
                Some(Value::Null) => c.description = None,
                _ => {}
            }
            if let Some(params) = changes.get("params").and_then(Value::as_object) {
                for (name, value) in params {
                    if secret_names.contains(name) {
                        c.secrets.insert(name.clone(), digest(value));
                    } else {
                        c.params.insert(name.clone(), value.clone());
                    }
                }
            }
            if let Some(state) = state {
                c.state = state;
            }
            c.etag = Some(etag);
            c.updated_client = "exc_app".to_owned();
            c.updated_by = "EMULATORUSER@AdobeID".to_owned();
        })?;
        store.connections.locate(&id).map(record)
    });
    shared.changed();
    result
        .map(|r| axum::Json(r).into_response())
        .ok_or_else(|| not_found(&id))
}

pub async fn remove(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    with_store(&shared, |store| {
        let (org, sandbox) = store.connections.location_of(&id)?;
        store.connections.remove(&org, &sandbox, &id)
    })
    .ok_or_else(|| not_found(&id))?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}

pub async fn in_use(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let value = json_body(&headers, body).await?;
    let flag = value
        .get("inUse")
        .and_then(Value::as_bool)
        .ok_or_else(|| ApiError::bad_request("`inUse` is required"))?;
    let now = shared.clock.now_ms();
    with_store(&shared, |store| {
        let (org, sandbox) = store.connections.location_of(&id)?;
        // Being used by a dataflow is not a change to the connection: it keeps its etag.
        store
            .connections
            .modify(&org, &sandbox, &id, now, |c| c.in_use = flag)
    })
    .ok_or_else(|| not_found(&id))?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// The source's side of a connection's credentials: which secret values the source (say,
/// Salesforce) accepts now. Not a change to the connection in AEP: its etag and `updatedAt`
/// stay. Only digests are kept.
pub async fn source(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let value = json_body(&headers, body).await?;
    let accepts = match value.get("credentials") {
        Some(Value::Null) => None,
        Some(Value::Object(params)) => Some(
            params
                .iter()
                .map(|(name, value)| (name.clone(), digest(value)))
                .collect(),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "`credentials` is required: an object of secret params, or null",
            ));
        }
    };
    with_store(&shared, |store| {
        let conn = store.connections.quietly(&id)?;
        conn.source_accepts = accepts;
        Some(())
    })
    .ok_or_else(|| not_found(&id))?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}

pub async fn clock(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let ms = value
        .get("advanceMs")
        .and_then(Value::as_i64)
        .filter(|ms| *ms >= 0);
    let ms = ms.ok_or_else(|| ApiError::bad_request("`advanceMs` (a non-negative number) is required"))?;
    shared.clock.advance(ms);
    Ok(axum::Json(json!({"now": shared.clock.now_ms()})).into_response())
}

/// A source or target connection as stored, with where it lives.
fn flow_record(c: &FlowConnection) -> Value {
    json!({"item": c.to_json(), "org": c.org, "sandbox": c.sandbox, "seq": c.seq})
}

fn flow_not_found(side: Side, id: &str) -> ApiError {
    ApiError::not_found(side.kind().path(), id)
}

/// `GET /__emulator/{sourceConnections|targetConnections}`.
pub async fn dump_side(State(shared): State<Arc<Shared>>, Extension(side): Extension<Side>) -> Response {
    let store = lock(&shared.store);
    let all = store.side(side).all_by_seq();
    axum::Json(Value::Array(all.into_iter().map(flow_record).collect())).into_response()
}

pub async fn inspect_side(
    State(shared): State<Arc<Shared>>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let found = store
        .side(side)
        .locate(&id)
        .ok_or_else(|| flow_not_found(side, &id))?;
    Ok(axum::Json(flow_record(found)).into_response())
}

/// An out-of-band change to a source or target connection: `name`, `description` (null
/// removes it), `state` (`enabled`, `disabled`). The etag changes and `updatedClient`
/// becomes `exc_app`, as for base connections.
pub async fn edit_side(
    State(shared): State<Arc<Shared>>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let Some(changes) = value.as_object().cloned() else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    if let Some(key) = changes
        .keys()
        .find(|k| !["name", "description", "state"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "`{key}` cannot be edited; use name, description, state"
        )));
    }
    let name = match changes.get("name") {
        None => None,
        Some(Value::String(n)) if !n.trim().is_empty() => Some(n.clone()),
        Some(_) => return Err(ApiError::bad_request("`name` must be a non-empty string")),
    };
    let enabled = match changes.get("state").map(|s| s.as_str()) {
        None => None,
        Some(Some("enabled")) => Some(true),
        Some(Some("disabled")) => Some(false),
        Some(_) => return Err(ApiError::bad_request("`state` is enabled or disabled")),
    };
    let now = shared.clock.now_ms();
    let result = with_store(&shared, |store| {
        let (org, sandbox) = store.side(side).location_of(&id)?;
        let etag = lock(&shared.rng).etag();
        let collection = store.side_mut(side);
        collection.modify(&org, &sandbox, &id, now, |c| {
            if let Some(name) = name {
                c.name = name;
            }
            match changes.get("description") {
                Some(Value::String(d)) => c.description = Some(d.clone()),
                Some(Value::Null) => c.description = None,
                _ => {}
            }
            if let Some(enabled) = enabled {
                c.enabled = enabled;
            }
            c.etag = etag;
            c.updated_client = "exc_app".to_owned();
            c.updated_by = "EMULATORUSER@AdobeID".to_owned();
        })?;
        collection.locate(&id).map(flow_record)
    });
    shared.changed();
    result
        .map(|r| axum::Json(r).into_response())
        .ok_or_else(|| flow_not_found(side, &id))
}

pub async fn remove_side(
    State(shared): State<Arc<Shared>>,
    Extension(side): Extension<Side>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    with_store(&shared, |store| {
        let found = store.side(side).locate(&id)?;
        let (org, sandbox) = (found.org().to_owned(), found.sandbox().to_owned());
        store.side_mut(side).remove(&org, &sandbox, &id)
    })
    .ok_or_else(|| flow_not_found(side, &id))?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /__emulator/datasets`: the added datasets.
pub async fn datasets(State(shared): State<Arc<Shared>>) -> Response {
    let store = lock(&shared.store);
    let all: Vec<Value> = store
        .datasets
        .added()
        .into_iter()
        .map(|d| json!({"id": d.id, "org": d.org, "sandbox": d.sandbox, "item": d.to_json()}))
        .collect();
    axum::Json(Value::Array(all)).into_response()
}

/// The most datasets one request adds.
const MAX_DATASETS: u64 = 10_000;

/// `POST /__emulator/datasets`: one dataset, or `count` of them.
pub async fn add_datasets(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let text = |name: &str, default: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let (org, sandbox) = (text("org", DEMO_ORG), text("sandbox", "prod"));
    let body = match value.get("count") {
        None => {
            let new =
                NewDataset::read(&value, Some(DEMO_PROFILE_SCHEMA_ID)).map_err(ApiError::bad_request)?;
            let id = catalog::add(&shared, &org, &sandbox, new, "emulator");
            json!({"id": id})
        }
        Some(count) => {
            let count = count.as_u64().filter(|n| *n <= MAX_DATASETS).ok_or_else(|| {
                ApiError::bad_request(format!("`count` is a number, at most {MAX_DATASETS}"))
            })?;
            let prefix = text("prefix", "Seeded dataset");
            let mut template = value.clone();
            let ids: Vec<String> = (0..count)
                .map(|i| {
                    if let Some(fields) = template.as_object_mut() {
                        fields.insert("name".to_owned(), json!(format!("{prefix} {i:06}")));
                    }
                    NewDataset::read(&template, Some(DEMO_PROFILE_SCHEMA_ID))
                        .map(|new| catalog::add(&shared, &org, &sandbox, new, "emulator"))
                })
                .collect::<Result<_, _>>()
                .map_err(ApiError::bad_request)?;
            json!({"ids": ids})
        }
    };
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

pub async fn remove_dataset(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    with_store(&shared, |store| store.datasets.remove(&id)).ok_or_else(|| {
        ApiError::catalog(
            StatusCode::NOT_FOUND,
            format!("no added dataset with id = [{id}] (the demo datasets cannot be removed)"),
        )
    })?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}
