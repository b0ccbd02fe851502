//! The base-connection handlers: list, get, create, patch, delete, test; and initializing
//! connections becoming enabled.
//!
//! Validation, status codes and messages follow AEP as documented (flow-service-notes §3–§8,
//! the OpenAPI and the error catalogue): quoted etags that change on every update,
//! `If-Match` required on PATCH, JSON Patch on `/name`, `/description`, `/auth/params` and
//! `/auth/params/<name>`, an immutable connection spec, 1418 while a dataflow or a source or
//! target connection uses the connection, secrets never shown.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::connection::{Connection, State as ConnState, digest, sandbox_id};
use crate::context::{Caller, FLOW_BASE, Shared, lock};
use crate::errors::ApiError;
use crate::listing;
use crate::patch::{self, Operation, Verb, missing_field, patch_error};
use crate::record::Kind;
use crate::request::json_body;
use crate::specs::{self, AuthSpec, ConnectionSpec};

/// The auth spec whose connections start `initializing` and gain a server-side `orgId`
/// (Salesforce on AEP on AWS, as the tutorial shows).
const JWT_AUTH_SPEC: &str = "OAuth2 JWT Token Credential";

/// How many users of a base connection a 1418 names.
const USERS_NAMED: usize = 5;

/// Enables the initializing connections whose time has come. OAuth2 JWT connections gain the
/// server-side `orgId` param then, as the Salesforce tutorial shows.
pub fn enable_due(shared: &Shared, now: i64) {
    let mut store = lock(&shared.store);
    let due = store.connections.due(now);
    if due.is_empty() {
        return;
    }
    let mut rng = lock(&shared.rng);
    for id in due {
        let Some((org, sandbox)) = store.connections.location_of(&id) else {
            continue;
        };
        let etag = rng.etag();
        let org_id = format!("00D{}", rng.token(15).replace(['-', '_'], "x"));
        store.connections.modify(&org, &sandbox, &id, now, |c| {
            c.state = ConnState::Enabled;
            c.etag = Some(etag);
            c.enable_at = None;
            if c.adds_org_id {
                c.params.insert("orgId".to_owned(), Value::String(org_id));
            }
        });
    }
    drop(store);
    shared.changed();
}

/// `GET /connections`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    listing::list(&shared, &caller, raw.as_deref(), Kind::Connections, |s| {
        &s.connections
    })
}

/// `GET /connections/{id}`: the same `{"items": [...]}` wrapper as the list.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    listing::get_one(&shared, &caller, Kind::Connections, &id, |s| &s.connections)
}

/// `GET /connections/{id}/test`.
pub async fn test(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let conn = listing::find(&store.connections, &caller, Kind::Connections, &id)?;
    Ok(axum::Json(json!({"result": conn.source_accepts_credentials()})).into_response())
}

/// The fields of a valid `POST /connections` body.
struct NewConnection {
    name: String,
    description: Option<String>,
    spec: &'static ConnectionSpec,
    version: String,
    auth: &'static AuthSpec,
    params: Map<String, Value>,
    secrets: BTreeMap<String, String>,
}

pub(crate) fn string_field<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<&'a str>, ApiError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!("Field '{path}' must be a string"))),
    }
}

fn validate_create(body: &Value) -> Result<NewConnection, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::bad_request("The request body must be a JSON object"));
    };
    let name = string_field(object, "name", "name")?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Field 'name' is required"))?;
    let description = string_field(object, "description", "description")?;
    let spec_info = object
        .get("connectionSpec")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Field 'connectionSpec' is required"))?;
    let spec_id = string_field(spec_info, "id", "connectionSpec.id")?
        .ok_or_else(|| ApiError::bad_request("Field 'connectionSpec.id' is required"))?;
    let spec = specs::find(spec_id).ok_or_else(|| {
        ApiError::flow(
            StatusCode::BAD_REQUEST,
            1413,
            "Bad request",
            "The spec ID provided is invalid",
        )
    })?;
    let Some(version) = string_field(spec_info, "version", "connectionSpec.version")? else {
        return Err(ApiError::flow(
            StatusCode::UNPROCESSABLE_ENTITY,
            1100,
            "Unprocessable entity",
            "connectionSpec.version 'version' is required for spec info; version is usually \"1.0\"",
        ));
    };
    if version != spec.version {
        return Err(ApiError::flow(
            StatusCode::BAD_REQUEST,
            1413,
            "Bad request",
            format!(
                "The spec version '{version}' is invalid for the connection spec ID {}",
                spec.id
            ),
        ));
    }
    let auth = object
        .get("auth")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Field 'auth' is required"))?;
    let spec_name = string_field(auth, "specName", "auth.specName")?
        .ok_or_else(|| ApiError::bad_request("Field 'auth.specName' is required"))?;
    let auth_spec = spec.auth_spec(spec_name).ok_or_else(|| {
        ApiError::flow(
            StatusCode::BAD_REQUEST,
            1415,
            "Bad request",
            format!(
                "The auth spec '{spec_name}' could not be found for the connection spec ID {}",
                spec.id
            ),
        )
    })?;
    let given = auth
        .get("params")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("Field 'auth.params' is required"))?;
    let (params, secrets) = split_params(auth_spec, given.clone())?;
    Ok(NewConnection {
        name: name.to_owned(),
        description: description.map(str::to_owned),
        spec,
        version: version.to_owned(),
        auth: auth_spec,
        params,
        secrets,
    })
}

/// Params that are not secret, and digests of those that are.
type Split = (Map<String, Value>, BTreeMap<String, String>);

/// Checks params against the auth spec's schema (`required`, string types) and separates
/// the secrets, which are kept only as digests.
fn split_params(auth: &AuthSpec, given: Map<String, Value>) -> Result<Split, ApiError> {
    for p in &auth.params {
        match given.get(&p.name) {
            None | Some(Value::Null) if p.required => {
                return Err(ApiError::bad_request(format!(
                    "Missing required field 'auth.params.{}' for auth spec '{}'",
                    p.name, auth.name
                )));
            }
            Some(Value::String(s)) if p.required && s.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "Field 'auth.params.{}' must not be empty",
                    p.name
                )));
            }
            Some(v) if p.string && !v.is_string() && !v.is_null() => {
                return Err(ApiError::bad_request(format!(
                    "Field 'auth.params.{}' must be a string",
                    p.name
                )));
            }
            _ => {}
        }
    }
    let mut params = Map::new();
    let mut secrets = BTreeMap::new();
    for (name, value) in given {
        if auth.is_secret(&name) {
            secrets.insert(name, digest(&value));
        } else {
            params.insert(name, value);
        }
    }
    Ok((params, secrets))
}

/// `POST /connections`: 201 `{id, etag}` with a `Location`. An OAuth2 JWT connection (or any,
/// with `--all-initializing`) starts `initializing`, with no etag yet.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body).await?;
    let new = validate_create(&body)?;
    let now = shared.clock.now_ms();
    let jwt = new.auth.name == JWT_AUTH_SPEC;
    let initializing = jwt || shared.options.all_initializing;
    let (id, etag, sandbox_id) = {
        let mut rng = lock(&shared.rng);
        (rng.uuid(), rng.etag(), sandbox_id(&caller.org, &caller.sandbox))
    };
    let mut store = lock(&shared.store);
    let seq = store.connections.next_seq();
    store.connections.insert(Connection {
        id: id.clone(),
        org: caller.org.clone(),
        sandbox: caller.sandbox.clone(),
        sandbox_id,
        created_at: now,
        updated_at: now,
        created_by: caller.client_id.clone(),
        updated_by: caller.client_id.clone(),
        created_client: caller.client_id.clone(),
        updated_client: caller.client_id.clone(),
        name: new.name,
        description: new.description,
        spec_id: new.spec.id.clone(),
        spec_version: new.version,
        state: if initializing {
            ConnState::Initializing
        } else {
            ConnState::Enabled
        },
        auth_spec: new.auth.name.clone(),
        params: new.params,
        secrets: new.secrets,
        etag: (!initializing).then(|| etag.clone()),
        seq,
        earlier: Vec::new(),
        in_use: false,
        source_accepts: None,
        enable_at: initializing.then(|| now + shared.options.initializing_ms as i64),
        adds_org_id: jwt,
        rendered: OnceLock::new(),
    });
    drop(store);
    shared.changed();
    let body = if initializing {
        json!({"id": id})
    } else {
        json!({"id": id, "etag": etag})
    };
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("{FLOW_BASE}/connections/{id}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// What a PATCH may change.
struct Editable {
    name: String,
    description: Option<String>,
    params: Map<String, Value>,
    secrets: BTreeMap<String, String>,
}

/// Applies JSON Patch operations to a copy of the connection: `/name`, `/description`,
/// `/auth/params` (the whole object) and `/auth/params/<name>`; the spec is immutable (1414).
fn apply_ops(ops: &[Operation], mut edit: Editable, auth: &AuthSpec) -> Result<Editable, ApiError> {
    for op in ops {
        if patch::edit_name_or_description(op, &mut edit.name, &mut edit.description)? {
            continue;
        }
        let path = op.path.as_str();
        match path {
            "/auth/params" => match (op.verb, &op.value) {
                (Verb::Add | Verb::Replace, Some(Value::Object(all))) => {
                    // Replaces the whole object: params left out are gone (notes §6).
                    let (params, secrets) = split_params(auth, all.clone())?;
                    edit.params = params;
                    edit.secrets = secrets;
                }
                (Verb::Remove, _) => {
                    return Err(ApiError::bad_request("Field 'auth.params' cannot be removed"));
                }
                _ => return Err(ApiError::bad_request("Field 'auth.params' must be an object")),
            },
            _ if path == "/connectionSpec" || path.starts_with("/connectionSpec/") => {
                return Err(patch_error(
                    1414,
                    "The connection spec of a connection cannot be updated",
                ));
            }
            _ => {
                let Some(name) = path
                    .strip_prefix("/auth/params/")
                    .filter(|n| !n.is_empty() && !n.contains('/'))
                else {
                    return Err(missing_field(path.trim_start_matches('/')));
                };
                let name = name.replace("~1", "/").replace("~0", "~");
                let exists = edit.params.contains_key(&name) || edit.secrets.contains_key(&name);
                match (op.verb, &op.value) {
                    (Verb::Remove | Verb::Replace, _) if !exists => {
                        return Err(missing_field(&format!("auth.params.{name}")));
                    }
                    (Verb::Remove, _) => {
                        edit.params.remove(&name);
                        edit.secrets.remove(&name);
                    }
                    (_, Some(v)) if auth.is_secret(&name) => {
                        edit.secrets.insert(name, digest(v));
                    }
                    (_, Some(v)) => {
                        edit.params.insert(name, v.clone());
                    }
                    // `operations` checked that add and replace carry a value.
                    (_, None) => return Err(ApiError::internal()),
                }
            }
        }
    }
    // The result must still satisfy the auth spec.
    let mut merged = edit.params.clone();
    for name in edit.secrets.keys() {
        merged.insert(name.clone(), Value::String("(secret)".to_owned()));
    }
    split_params(auth, merged)?;
    Ok(edit)
}

/// `PATCH /connections/{id}`: 200 `{id, etag}` with a new etag.
pub async fn patch(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (editable, auth, etag, state) = {
        let store = lock(&shared.store);
        let conn = listing::find(&store.connections, &caller, Kind::Connections, &id)?;
        let auth = specs::find(&conn.spec_id).and_then(|s| s.auth_spec(&conn.auth_spec));
        let editable = Editable {
            name: conn.name.clone(),
            description: conn.description.clone(),
            params: conn.params.clone(),
            secrets: conn.secrets.clone(),
        };
        (editable, auth, conn.etag.clone(), conn.state)
    };
    let if_match = patch::if_match(&headers)?;
    if state == ConnState::Initializing {
        return Err(patch_error(
            1417,
            "Update on connections in `initializing` state is not allowed",
        ));
    }
    let Some(auth) = auth else {
        return Err(ApiError::internal());
    };
    let ops = patch::operations(&json_body(&headers, body).await?)?;
    let edited = apply_ops(&ops, editable, auth)?;
    // Locks are always taken store first, then rng.
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    // Read again under the lock: the connection may have changed while the body arrived.
    let current = listing::find(&store.connections, &caller, Kind::Connections, &id)?;
    let current_etag = current.etag.clone().or(etag).unwrap_or_default();
    patch::check_version(&if_match, &current_etag)?;
    let new_etag = rng.etag();
    let now = shared.clock.now_ms();
    store
        .connections
        .modify(&caller.org, &caller.sandbox, &id, now, |c| {
            c.name = edited.name;
            c.description = edited.description;
            c.params = edited.params;
            c.secrets = edited.secrets;
            c.etag = Some(new_etag.clone());
            c.updated_by = caller.client_id.clone();
            c.updated_client = caller.client_id.clone();
        });
    drop(rng);
    drop(store);
    shared.changed();
    Ok(axum::Json(json!({"id": id, "etag": new_etag})).into_response())
}

/// `DELETE /connections/{id}`: 204, or 1418 while a dataflow uses the connection (the
/// admin `in-use` flag) or a source or target connection does (its `baseConnectionId`):
/// AEP's delete order is flow, then source and target connections, then the base one.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut store = lock(&shared.store);
    let conn = listing::find(&store.connections, &caller, Kind::Connections, &id)?;
    let users = store.users_of(&caller.org, &caller.sandbox, &id, USERS_NAMED);
    if conn.in_use || !users.is_empty() {
        let mut detail = format!(
            "The base connection with the ID {id} cannot be deleted because the base connection is being used in one or more flows"
        );
        if !users.is_empty() {
            detail.push_str(&format!(" (used by {})", users.join(", ")));
        }
        return Err(patch_error(1418, detail));
    }
    store.connections.remove(&caller.org, &caller.sandbox, &id);
    drop(store);
    shared.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}
