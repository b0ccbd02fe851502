//! `/__emulator/…`: the emulator's own endpoints, for tests, benchmarks and people trying
//! things. None of this is AEP; none of it needs a token.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /stats`, `DELETE /stats` | requests served by method, route and status, and the latest request targets (`recent`: method, path and query, at most 2,000); reset them |
//! | `POST /reset` | forget every connection, the statistics and run-time fault settings |
//! | `GET /faults`, `PUT /faults` | the fault settings (JSON, as `FaultSettings`) |
//! | `POST /faults/script` | one-shot faults for the next matching requests |
//! | `POST /seed` | bulk-create connections: `{"count", "org"?, "sandbox"?, "namePrefix"?}` |
//! | `GET /connections` | every connection as stored (secret digests, `inUse`, …) |
//! | `GET/PATCH/DELETE /connections/{id}` | read, edit or delete one out of band, as someone in the AEP UI would |
//! | `PUT /connections/{id}/in-use` | `{"inUse": true}`: a dataflow uses it, so DELETE answers 1418 |
//! | `PUT /connections/{id}/source` | `{"credentials": {"password": "…"}}`: the source now accepts only these secret values (a password rotated at the source), so `GET /connections/{id}/test` answers `false` until the connection holds them; `{"credentials": null}`: it accepts what the connection holds |
//! | `POST /clock` | `{"advanceMs": N}`: move the emulator's clock forward |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::connection::{Connection, State as ConnState, digest};
use crate::connections::seed;
use crate::context::{Shared, lock};
use crate::errors::ApiError;
use crate::faults::{FaultSettings, Scripted};
use crate::ims::DEMO_ORG;
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

pub async fn seed_connections(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let count = value
        .get("count")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::bad_request("`count` is required"))?;
    if count > 1_000_000 {
        return Err(ApiError::bad_request("`count` is at most 1000000"));
    }
    let text = |name: &str, default: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    let (org, sandbox, prefix) = (
        text("org", DEMO_ORG),
        text("sandbox", "prod"),
        text("namePrefix", "Seeded"),
    );
    let shared2 = shared.clone();
    let total = tokio::task::spawn_blocking(move || seed(&shared2, &org, &sandbox, count as usize, &prefix))
        .await
        .map_err(|_| ApiError::internal())?
        .ok_or_else(ApiError::internal)?;
    Ok(axum::Json(json!({"created": count, "total": total})).into_response())
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
    let mut all: Vec<&Connection> = store.all().collect();
    all.sort_by_key(|c| c.seq);
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
    let conn = store.locate(&id).ok_or_else(|| not_found(&id))?;
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
        let (org, sandbox) = store.location_of(&id)?;
        let secret_names: Vec<String> = store.locate(&id)?.secrets.keys().cloned().collect();
        let etag = lock(&shared.rng).etag();
        store.modify(&org, &sandbox, &id, now, |c| {
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
        store.locate(&id).map(record)
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
        let (org, sandbox) = store.location_of(&id)?;
        store.remove(&org, &sandbox, &id)
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
        let (org, sandbox) = store.location_of(&id)?;
        // Being used by a dataflow is not a change to the connection: keep its etag.
        let part_conn = store.locate(&id)?;
        let _ = part_conn;
        store.modify(&org, &sandbox, &id, now, |c| c.in_use = flag)
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
        let conn = store.source_side(&id)?;
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
