//! The dataflow handlers: list, get, create, patch, enable or disable, delete.
//!
//! A flow reads one source connection and writes one target connection under a flow spec
//! ([`crate::flow_specs`]), on a schedule ([`crate::schedule`]), through transformations
//! ([`crate::flow_check`]); its runs are [`crate::runs`]'. Conventions are those of every
//! other kind here: 201 `{id, etag}` with a `Location`, quoted etags that change on every
//! write, `{items: […]}` reads, 404s in the Flow Service envelope
//! (`flows not found with id = [<id>]`), DELETE 204.
//!
//! Decisions, where the docs are silent or disagree (flow-service-dataflows §1–3,
//! flow-service-explore-runs §5):
//! - **PATCH** (`If-Match` required: 1403; stale: 412 `1404`) takes `/name`,
//!   `/description`, `/scheduleParams` and `/scheduleParams/<key>` (the result checked
//!   against the schedule rules), `/transformations` and `/transformations/<i>` (an index
//!   the flow has, else 1455; the result checked as on create, so a `Mapping`'s id and
//!   version are checked: 1412), `/options` and `/options/<key>` (D-PARTIAL). `/state` is
//!   1410 (use the action endpoint); `/sourceConnectionIds`, `/targetConnectionIds` and
//!   `/flowSpec` are 400 (create a new flow, the D-UPDF tip); other properties of the item
//!   are read-only (400); unknown paths 1455. It answers `{id, etag}`.
//! - **`startTime`** cannot change once the flow's scheduled start has passed on the
//!   emulator's clock, enabled or disabled (D-UPDF): 400. A past `startTime` is accepted on
//!   create.
//! - **Action**: `POST /flows/{id}/action?op=enable|disable`, `op` in any case, no body and
//!   no `subOp` needed (the docs send neither; the OpenAPI's `subOp` is ignored); `If-Match`
//!   is checked when sent (412). Enabling an enabled flow or disabling a disabled one is 400
//!   `1422` (the catalogue's invalid state transition). Other `op`s are 400. Answers
//!   `{id, etag}`.
//! - `lastOperation` is `{started, updated, operation, percentCompleted: 100, status:
//!   {value: "completed"}}` at once (no asynchronous writes); `operation` is `create`,
//!   `update` (with the patch echoed in `ops`, D-UPDF), `enable` or `disable`.
//! - Deleting a flow deletes its runs; it does not touch its connections.

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::{IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::connection::sandbox_id;
use crate::connections::string_field;
use crate::context::{Caller, FLOW_BASE, Shared, lock};
use crate::errors::ApiError;
use crate::flow::{Flow, Operation, Ticking};
use crate::flow_check::{self, bad};
use crate::flow_specs::FlowSpec;
use crate::listing;
use crate::patch::{self, Verb, missing_field, patch_error};
use crate::record::Kind;
use crate::request::json_body;
use crate::runs::next_tick;
use crate::schedule::Schedule;
use crate::store::Store;

/// `GET /flows`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    listing::list(&shared, &caller, raw.as_deref(), Kind::Flows, |s| &s.flows)
}

/// `GET /flows/{id}`.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    listing::get_one(&shared, &caller, Kind::Flows, &id, |s| &s.flows)
}

/// What a valid create body holds.
struct NewFlow {
    name: String,
    description: Option<String>,
    spec: &'static FlowSpec,
    source_id: String,
    target_id: String,
    inherited: Value,
    transformations: Vec<Value>,
    schedule: Schedule,
    options: Option<Value>,
}

/// The target connection's schema (`data.schema.id`), which a mapping must write.
fn target_schema(store: &Store, caller: &Caller, target: &str) -> Option<String> {
    store
        .targets
        .get(&caller.org, &caller.sandbox, target)
        .and_then(|t| t.data["schema"]["id"].as_str().map(str::to_owned))
}

fn validate(body: &Value, store: &Store, caller: &Caller) -> Result<NewFlow, ApiError> {
    let Some(body) = body.as_object() else {
        return Err(bad("The request body must be a JSON object"));
    };
    if body.get("state").is_some_and(|s| !s.is_null()) {
        return Err(patch_error(
            1410,
            "The state of a flow cannot be set on create: flows start enabled; use POST /flows/{id}/action?op=disable",
        ));
    }
    let name = string_field(body, "name", "name")?.filter(|n| !n.trim().is_empty());
    let name = name.ok_or_else(|| bad("Field 'name' is required"))?;
    let description = string_field(body, "description", "description")?;
    let spec = flow_check::flow_spec(body.get("flowSpec"))?;
    let source_id = flow_check::one_id(body, "sourceConnectionIds")?;
    let target_id = flow_check::one_id(body, "targetConnectionIds")?;
    let source = flow_check::connection(
        store.sources.get(&caller.org, &caller.sandbox, source_id),
        source_id,
        "source connection",
        spec.sources,
        spec,
        caller,
    )?;
    let target = flow_check::connection(
        store.targets.get(&caller.org, &caller.sandbox, target_id),
        target_id,
        "target connection",
        spec.targets,
        spec,
        caller,
    )?;
    let schedule = match body.get("scheduleParams") {
        None | Some(Value::Null) => return Err(bad("Field 'scheduleParams' is required")),
        Some(s) => Schedule::read(s).map_err(bad)?,
    };
    let schema = target_schema(store, caller, target_id);
    let transformations = flow_check::transformations(
        body.get("transformations"),
        spec,
        schema.as_deref(),
        store,
        caller,
    )?;
    let options = match body.get("options") {
        None | Some(Value::Null) => None,
        Some(o) => Some(flow_check::options(o)?),
    };
    Ok(NewFlow {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        spec,
        source_id: source.id.clone(),
        target_id: target.id.clone(),
        inherited: flow_check::inherited(source, target),
        transformations,
        schedule,
        options,
    })
}

/// `POST /flows`: 201 `{id, etag}` with a `Location`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body).await?;
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let new = validate(&body, &store, &caller)?;
    let (id, etag) = {
        let mut rng = lock(&shared.rng);
        (rng.uuid(), rng.etag())
    };
    let seq = store.flows.next_seq();
    let first = next_tick(&new.schedule, 0, now);
    store.flows.insert(Flow {
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
        spec_id: new.spec.id.to_owned(),
        spec_version: new.spec.version.to_owned(),
        enabled: true,
        source_id: new.source_id,
        target_id: new.target_id,
        inherited: new.inherited,
        transformations: new.transformations,
        schedule: new.schedule,
        options: new.options,
        last_operation: Operation {
            operation: "create".into(),
            started: now,
            updated: now,
            ops: None,
        },
        last_run: None,
        ticking: Ticking::default(),
        etag: etag.clone(),
        seq,
        earlier: Vec::new(),
        rendered: OnceLock::new(),
    });
    store.reschedule(&id, first);
    drop(store);
    shared.changed();
    let mut response = (StatusCode::CREATED, axum::Json(json!({"id": id, "etag": etag}))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{FLOW_BASE}/flows/{id}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// The editable parts of a flow, as a patch changes them.
struct Draft {
    name: String,
    description: Option<String>,
    schedule: Value,
    transformations: Value,
    options: Value,
}

/// Applies `op` to the property `key` of `object` (JSON Patch on one level).
fn edit_key(
    object: &mut Value,
    key: &str,
    verb: Verb,
    value: Option<&Value>,
    path: &str,
) -> Result<(), ApiError> {
    let Some(map) = object.as_object_mut() else {
        return Err(missing_field(path.trim_start_matches('/')));
    };
    match (verb, value) {
        (Verb::Remove, _) => map
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| missing_field(path.trim_start_matches('/'))),
        (Verb::Replace, _) if !map.contains_key(key) => Err(missing_field(path.trim_start_matches('/'))),
        (_, Some(v)) => {
            map.insert(key.to_owned(), v.clone());
            Ok(())
        }
        (_, None) => Err(bad(format!("The operation on '{path}' needs a 'value'"))),
    }
}

fn apply(draft: &mut Draft, op: &patch::Operation) -> Result<(), ApiError> {
    if patch::edit_name_or_description(op, &mut draft.name, &mut draft.description)? {
        return Ok(());
    }
    let path = op.path.as_str();
    let mut steps = path.trim_start_matches('/').splitn(2, '/');
    let head = steps.next().unwrap_or_default();
    let rest = steps.next();
    let whole = |target: &mut Value, required: bool| match (op.verb, &op.value) {
        (Verb::Remove, _) if required => Err(bad(format!("'{path}' cannot be removed"))),
        (Verb::Remove, _) => {
            *target = Value::Null;
            Ok(())
        }
        (_, Some(v)) => {
            *target = v.clone();
            Ok(())
        }
        (_, None) => Err(bad(format!("The operation on '{path}' needs a 'value'"))),
    };
    match (head, rest) {
        ("scheduleParams", None) => whole(&mut draft.schedule, true),
        ("scheduleParams", Some(key)) => edit_key(&mut draft.schedule, key, op.verb, op.value.as_ref(), path),
        ("options", None) => whole(&mut draft.options, false),
        ("options", Some(key)) => {
            if draft.options.is_null() {
                draft.options = json!({});
            }
            edit_key(&mut draft.options, key, op.verb, op.value.as_ref(), path)
        }
        ("transformations", None) => whole(&mut draft.transformations, false),
        ("transformations", Some(index)) => {
            let list = draft.transformations.as_array_mut();
            let slot = index
                .parse::<usize>()
                .ok()
                .and_then(|i| list.and_then(|l| l.get_mut(i)));
            let Some(slot) = slot else {
                return Err(missing_field(path.trim_start_matches('/')));
            };
            match (op.verb, &op.value) {
                (Verb::Remove, _) => Err(bad(format!(
                    "'{path}' cannot be removed: replace the transformation, or the whole list"
                ))),
                (_, Some(v)) => {
                    *slot = v.clone();
                    Ok(())
                }
                (_, None) => Err(bad(format!("The operation on '{path}' needs a 'value'"))),
            }
        }
        ("state", _) => Err(patch_error(
            1410,
            "The state of a flow cannot be patched: use POST /flows/{id}/action?op=enable or op=disable",
        )),
        ("sourceConnectionIds" | "targetConnectionIds" | "flowSpec", _) => Err(bad(format!(
            "'{path}' cannot be patched on a sources flow: create a new flow (and delete this one)"
        ))),
        (head, _) if Kind::Flows.has_property(head) => {
            Err(bad(format!("'{path}' is read-only: it cannot be patched")))
        }
        _ => Err(missing_field(path.trim_start_matches('/'))),
    }
}

/// `PATCH /flows/{id}`: 200 `{id, etag}`.
pub async fn patch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // As for connections: an unknown flow is a 404 before a missing `If-Match` is a 1403.
    listing::find(&lock(&shared.store).flows, &caller, Kind::Flows, &id)?;
    let if_match = patch::if_match(&headers)?;
    let body = json_body(&headers, body).await?;
    let ops = patch::operations(&body)?;
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let current = listing::find(&store.flows, &caller, Kind::Flows, &id)?;
    let mut draft = Draft {
        name: current.name.clone(),
        description: current.description.clone(),
        schedule: current.schedule.to_json(),
        transformations: Value::Array(current.transformations.clone()),
        options: current.options.clone().unwrap_or(Value::Null),
    };
    let old_schedule = current.schedule;
    let spec = crate::flow_specs::find(&current.spec_id).ok_or_else(ApiError::internal)?;
    let target = current.target_id.clone();
    for op in &ops {
        apply(&mut draft, op)?;
    }
    let schedule = Schedule::read(&draft.schedule).map_err(bad)?;
    if schedule.start_s != old_schedule.start_s && old_schedule.start_ms() <= now {
        return Err(bad(format!(
            "scheduleParams.startTime cannot be changed once the scheduled start time ({}) has passed",
            old_schedule.start_s
        )));
    }
    let schema = target_schema(&store, &caller, &target);
    let transformations = flow_check::transformations(
        Some(&draft.transformations),
        spec,
        schema.as_deref(),
        &store,
        &caller,
    )?;
    let options = match &draft.options {
        Value::Null => None,
        o => Some(flow_check::options(o)?),
    };
    let current = listing::find(&store.flows, &caller, Kind::Flows, &id)?;
    patch::check_version(&if_match, &current.etag)?;
    let reschedule = schedule != old_schedule && current.enabled;
    let runs = current.ticking.runs;
    let etag = lock(&shared.rng).etag();
    store.flows.modify(&caller.org, &caller.sandbox, &id, now, |f| {
        f.name = draft.name;
        f.description = draft.description;
        f.schedule = schedule;
        f.transformations = transformations;
        f.options = options;
        f.etag = etag.clone();
        f.updated_by = caller.client_id.clone();
        f.updated_client = caller.client_id.clone();
        f.last_operation = Operation {
            operation: "update".into(),
            started: now,
            updated: now,
            ops: Some(body.clone()),
        };
    });
    if reschedule {
        store.reschedule(&id, next_tick(&schedule, runs, now));
    }
    drop(store);
    shared.changed();
    Ok(axum::Json(json!({"id": id, "etag": etag})).into_response())
}

/// `POST /flows/{id}/action?op=enable|disable`: 200 `{id, etag}`.
pub async fn action(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let op = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "op")
        .map(|(_, v)| v.to_ascii_lowercase());
    let enable = match op.as_deref() {
        Some("enable") => true,
        Some("disable") => false,
        Some(other) => {
            return Err(bad(format!(
                "op '{other}' is not supported on a sources flow: use op=enable or op=disable"
            )));
        }
        None => return Err(bad("The query parameter 'op' is required (enable or disable)")),
    };
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let current = listing::find(&store.flows, &caller, Kind::Flows, &id)?;
    if let Some(given) = headers.get(IF_MATCH).and_then(|v| v.to_str().ok()) {
        patch::check_version(given, &current.etag)?;
    }
    if current.enabled == enable {
        return Err(patch_error(
            1422,
            format!(
                "Invalid state transition: the flow is already {}",
                current.state()
            ),
        ));
    }
    let (schedule, runs) = (current.schedule, current.ticking.runs);
    let etag = lock(&shared.rng).etag();
    store.flows.modify(&caller.org, &caller.sandbox, &id, now, |f| {
        f.enabled = enable;
        f.etag = etag.clone();
        f.updated_by = caller.client_id.clone();
        f.updated_client = caller.client_id.clone();
        f.last_operation = Operation {
            operation: if enable { "enable" } else { "disable" }.into(),
            started: now,
            updated: now,
            ops: None,
        };
    });
    let next = if enable {
        next_tick(&schedule, runs, now)
    } else {
        None
    };
    store.reschedule(&id, next);
    drop(store);
    shared.changed();
    Ok(axum::Json(json!({"id": id, "etag": etag})).into_response())
}

/// `DELETE /flows/{id}`: 204.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut store = lock(&shared.store);
    listing::find(&store.flows, &caller, Kind::Flows, &id)?;
    store.remove_flow(&id);
    drop(store);
    shared.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}
