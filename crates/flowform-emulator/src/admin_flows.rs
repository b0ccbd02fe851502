//! `/__emulator/flows…`: dataflows and their runs as the emulator holds them, and the
//! out-of-band changes a person in the AEP UI (or a failing source) would make. Like the
//! rest of `/__emulator`, none of this is AEP and none of it needs a token.
//!
//! | endpoint | what it does |
//! |---|---|
//! | `GET /flows` | every flow as stored: `{item, org, sandbox, seq, schedule: {nextTickMs, windowEndS, runs, keptRuns, fail}}` |
//! | `GET /flows/{id}` | one of them |
//! | `PATCH /flows/{id}` | `{name?, description? (null removes), state? (enabled, disabled), scheduleParams?}`: an edit in the UI; new etag, `updatedClient` `exc_app`, `lastOperation` `update`; the schedule is checked as a PATCH checks it, but `startTime` may change at any time |
//! | `DELETE /flows/{id}` | remove it and its runs |
//! | `PUT /flows/{id}/runs` | `{"fail": {"code", "message"}}`: its next runs fail with that error; `{"fail": null}`: they succeed again. Answers `{"fail"}` |
//! | `GET /mappingSets` | every mapping set, every version, as stored |

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::context::{Shared, lock};
use crate::errors::ApiError;
use crate::flow::{Flow, Operation, RunError};
use crate::record::Record;
use crate::request::json_body;
use crate::runs::{next_tick, produce_due};
use crate::schedule::Schedule;

/// The longest error code and message a failing run carries.
const MAX_ERROR: usize = 4_096;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("flows", id)
}

/// A flow as stored, with where it lives and its schedule's state.
fn record(f: &Flow) -> Value {
    json!({
        "item": f.to_json(),
        "org": f.org,
        "sandbox": f.sandbox,
        "seq": f.seq,
        "schedule": {
            "nextTickMs": f.ticking.next_tick,
            "windowEndS": f.ticking.window_end_s,
            "runs": f.ticking.runs,
            "keptRuns": f.ticking.kept.len(),
            "fail": f.ticking.fail,
        },
    })
}

/// `GET /__emulator/flows`.
pub async fn dump(State(shared): State<Arc<Shared>>) -> Response {
    produce_due(&shared, shared.clock.now_ms());
    let store = lock(&shared.store);
    let all: Vec<Value> = store.flows.all_by_seq().into_iter().map(record).collect();
    axum::Json(Value::Array(all)).into_response()
}

/// `GET /__emulator/flows/{id}`.
pub async fn inspect(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    produce_due(&shared, shared.clock.now_ms());
    let store = lock(&shared.store);
    let flow = store.flows.locate(&id).ok_or_else(|| not_found(&id))?;
    Ok(axum::Json(record(flow)).into_response())
}

/// `PATCH /__emulator/flows/{id}`: an out-of-band edit.
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
    if let Some(key) = changes
        .keys()
        .find(|k| !["name", "description", "state", "scheduleParams"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "`{key}` cannot be edited; use name, description, state, scheduleParams"
        )));
    }
    let name = match changes.get("name") {
        None => None,
        Some(Value::String(n)) if !n.trim().is_empty() => Some(n.clone()),
        Some(_) => return Err(ApiError::bad_request("`name` must be a non-empty string")),
    };
    let description = match changes.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(d)) => Some(Some(d.clone())),
        Some(_) => return Err(ApiError::bad_request("`description` must be a string or null")),
    };
    let enabled = match changes.get("state").map(|s| s.as_str()) {
        None => None,
        Some(Some("enabled")) => Some(true),
        Some(Some("disabled")) => Some(false),
        Some(_) => return Err(ApiError::bad_request("`state` is enabled or disabled")),
    };
    let schedule = match changes.get("scheduleParams") {
        None => None,
        Some(s) => Some(Schedule::read(s).map_err(ApiError::bad_request)?),
    };
    let now = shared.clock.now_ms();
    produce_due(&shared, now);
    let mut store = lock(&shared.store);
    let (org, sandbox) = store.flows.location_of(&id).ok_or_else(|| not_found(&id))?;
    let etag = lock(&shared.rng).etag();
    let (was_enabled, old_schedule, runs) = {
        let f = store.flows.locate(&id).ok_or_else(|| not_found(&id))?;
        (f.enabled, f.schedule, f.ticking.runs)
    };
    store.flows.modify(&org, &sandbox, &id, now, |f| {
        if let Some(name) = name {
            f.name = name;
        }
        if let Some(description) = description {
            f.description = description;
        }
        if let Some(enabled) = enabled {
            f.enabled = enabled;
        }
        if let Some(schedule) = schedule {
            f.schedule = schedule;
        }
        f.etag = etag;
        f.updated_client = "exc_app".to_owned();
        f.updated_by = "EMULATORUSER@AdobeID".to_owned();
        f.last_operation = Operation {
            operation: "update".into(),
            started: now,
            updated: now,
            ops: None,
        };
    });
    let enabled_now = enabled.unwrap_or(was_enabled);
    let schedule_now = schedule.unwrap_or(old_schedule);
    if enabled_now != was_enabled || schedule_now != old_schedule {
        let next = if enabled_now {
            next_tick(&schedule_now, runs, now)
        } else {
            None
        };
        store.reschedule(&id, next);
    }
    let out = store
        .flows
        .locate(&id)
        .map(record)
        .ok_or_else(|| not_found(&id))?;
    drop(store);
    shared.changed();
    Ok(axum::Json(out).into_response())
}

/// `DELETE /__emulator/flows/{id}`.
pub async fn remove(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    lock(&shared.store)
        .remove_flow(&id)
        .ok_or_else(|| not_found(&id))?;
    shared.changed();
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /__emulator/flows/{id}/runs`: `{"fail": {"code", "message"} | null}`.
pub async fn runs(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = json_body(&headers, body).await?;
    let fail = match value.get("fail") {
        Some(Value::Null) => None,
        Some(Value::Object(f)) => {
            let text = |k: &str| {
                f.get(k)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty() && s.len() <= MAX_ERROR)
                    .map(str::to_owned)
            };
            let (Some(code), Some(message)) = (text("code"), text("message")) else {
                return Err(ApiError::bad_request(format!(
                    "`fail` needs a `code` and a `message` (non-empty strings, at most {MAX_ERROR} bytes)"
                )));
            };
            Some(RunError { code, message })
        }
        _ => {
            return Err(ApiError::bad_request(
                "`fail` is required: {\"code\", \"message\"}, or null",
            ));
        }
    };
    // Runs already due were made before this change.
    produce_due(&shared, shared.clock.now_ms());
    let mut store = lock(&shared.store);
    let flow = store.flows.quietly(&id).ok_or_else(|| not_found(&id))?;
    flow.ticking.fail = fail.clone();
    drop(store);
    shared.changed();
    Ok(axum::Json(json!({"fail": fail})).into_response())
}

/// `GET /__emulator/mappingSets`: every set with every version, as stored.
pub async fn mapping_sets(State(shared): State<Arc<Shared>>) -> Response {
    let store = lock(&shared.store);
    let all: Vec<Value> = store
        .mapping_sets
        .all()
        .into_iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    axum::Json(Value::Array(all)).into_response()
}
