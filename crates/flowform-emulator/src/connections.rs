//! The base-connection handlers: list, get, create, patch, delete, test; and what happens to
//! connections besides requests: initializing ones become enabled, someone edits one
//! concurrently (a fault), the admin endpoint seeds many.
//!
//! Validation, status codes and messages follow AEP as documented (flow-service-notes §3–§8,
//! the OpenAPI and the error catalogue): quoted etags that change on every update,
//! `If-Match` required on PATCH, JSON Patch on `/name`, `/description`, `/auth/params` and
//! `/auth/params/<name>`, an immutable connection spec, 1418 while a dataflow uses the
//! connection, secrets never shown.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::connection::{Connection, State as ConnState, digest, sandbox_id};
use crate::context::{Caller, FLOW_BASE, PageStyle, Shared, lock};
use crate::errors::ApiError;
use crate::query::{Cursor, ListParams, MAX_LIMIT, order_param, parse_filter};
use crate::request::json_body;
use crate::select::Order;
use crate::specs::{self, AuthSpec, ConnectionSpec, SALESFORCE_ID};
use crate::store::{CURSOR_LIFETIME_MS, Store, Walk};

/// The auth spec whose connections start `initializing` and gain a server-side `orgId`
/// (Salesforce on AEP on AWS, as the tutorial shows).
const JWT_AUTH_SPEC: &str = "OAuth2 JWT Token Credential";

/// The caller's connection `id`, or the Flow Service's 404 for it.
fn find_connection<'s>(store: &'s Store, caller: &Caller, id: &str) -> Result<&'s Connection, ApiError> {
    store
        .get(&caller.org, &caller.sandbox, id)
        .ok_or_else(|| ApiError::not_found("connections", id))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"items": [...]}` from cached renders, without re-serializing the items.
fn items_body(items: &[&Connection], extra: Option<&Map<String, Value>>) -> Vec<u8> {
    let rendered: Vec<&Bytes> = items.iter().map(|c| c.rendered()).collect();
    let mut out = Vec::with_capacity(rendered.iter().map(|b| b.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(b"{\"items\":[");
    for (i, item) in rendered.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.push(b']');
    for (key, value) in extra.into_iter().flatten() {
        out.push(b',');
        out.extend_from_slice(&serde_json::to_vec(key).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    }
    out.push(b'}');
    out
}

/// Enables the initializing connections whose time has come. OAuth2 JWT connections gain the
/// server-side `orgId` param then, as the Salesforce tutorial shows.
pub fn enable_due(shared: &Shared, now: i64) {
    let mut store = lock(&shared.store);
    let due = store.due(now);
    if due.is_empty() {
        return;
    }
    let mut rng = lock(&shared.rng);
    for id in due {
        let Some((org, sandbox)) = store.location_of(&id) else {
            continue;
        };
        let etag = rng.etag();
        let org_id = format!("00D{}", rng.token(15).replace(['-', '_'], "x"));
        store.modify(&org, &sandbox, &id, now, |c| {
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
    let params = ListParams::parse(raw.as_deref())?;
    let now = shared.clock.now_ms();
    let store = lock(&shared.store);
    if params.count {
        let count = store.count(&caller.org, &caller.sandbox, &params.filters);
        return Ok(axum::Json(json!({"count": count})).into_response());
    }
    let cursor = match &params.token {
        Some(token) => Some(resume(&shared, &params, token, now)?),
        None => None,
    };
    let (properties, filters, order, snapshot, after) = match &cursor {
        Some(c) => {
            let filters = c
                .properties
                .iter()
                .map(|p| parse_filter(p))
                .collect::<Result<Vec<_>, _>>()?;
            (c.properties.clone(), filters, c.order, c.snapshot, Some(&c.after))
        }
        None => (
            params.properties.clone(),
            params.filters.clone(),
            params.order.unwrap_or(Order::UpdatedDesc),
            store.seq(),
            None,
        ),
    };
    let limit = params
        .limit
        .or(cursor.as_ref().map(|c| c.limit))
        .unwrap_or(MAX_LIMIT);
    let walk = Walk {
        filters: &filters,
        order,
        snapshot,
        after,
        limit,
    };
    let page = store.page(&caller.org, &caller.sandbox, &walk);
    let mut extra = Map::new();
    if let Some(last) = page.next {
        let token = Cursor {
            epoch: shared.epoch,
            snapshot,
            order,
            after: last,
            properties: properties.clone(),
            limit,
            issued: cursor.as_ref().map_or(now, |c| c.issued),
        }
        .encode();
        let style = shared.options.page_style;
        if matches!(style, PageStyle::Links | PageStyle::Both) {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limit.to_string());
            for p in &properties {
                query.append_pair("property", p);
            }
            if order != Order::UpdatedDesc {
                query.append_pair("orderby", order_param(order));
            }
            query.append_pair("continuationToken", &token);
            extra.insert(
                "_links".into(),
                json!({"next": {"href": format!("/connections?{}", query.finish())}}),
            );
        }
        if matches!(style, PageStyle::Token | PageStyle::Both) {
            extra.insert("continuationToken".into(), Value::String(token));
        }
    }
    Ok(json_response(
        StatusCode::OK,
        items_body(&page.items, Some(&extra)),
    ))
}

/// Decodes a continuation token and checks it belongs with this request.
fn resume(shared: &Shared, params: &ListParams, token: &str, now: i64) -> Result<Cursor, ApiError> {
    let cursor = Cursor::decode(token)?;
    let bad = |detail: &str| ApiError::flow(StatusCode::BAD_REQUEST, 1451, "Bad request", detail.to_owned());
    if cursor.epoch != shared.epoch || now - cursor.issued > CURSOR_LIFETIME_MS {
        return Err(bad(
            "The continuation token has expired; list again from the first page",
        ));
    }
    if !params.properties.is_empty() && !params.same_properties(&cursor.properties) {
        return Err(bad(
            "The continuation token was issued for other `property` filters",
        ));
    }
    if params.order.is_some_and(|o| o != cursor.order) {
        return Err(bad("The continuation token was issued for another `orderby`"));
    }
    Ok(cursor)
}

/// `GET /connections/{id}`: the same `{"items": [...]}` wrapper as the list.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let conn = find_connection(&store, &caller, &id)?;
    Ok(json_response(StatusCode::OK, items_body(&[conn], None)))
}

/// `GET /connections/{id}/test`.
pub async fn test(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let conn = find_connection(&store, &caller, &id)?;
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

fn string_field<'a>(
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
    let seq = store.next_seq();
    store.insert(Connection {
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

fn patch_error(code: u16, detail: impl Into<String>) -> ApiError {
    ApiError::flow(StatusCode::BAD_REQUEST, code, "Bad request", detail)
}

/// Applies JSON Patch operations (RFC 6902 `add`, `replace`, `remove`; either case, as the
/// spec's enum and the docs disagree) to a copy of the connection.
fn apply_ops(ops: &Value, mut edit: Editable, auth: &AuthSpec) -> Result<Editable, ApiError> {
    let Some(ops) = ops.as_array().filter(|a| !a.is_empty()) else {
        return Err(ApiError::bad_request(
            "The request body must be a non-empty JSON Patch array",
        ));
    };
    for op in ops {
        let op_name = op.get("op").and_then(Value::as_str).map(str::to_ascii_lowercase);
        let path = op.get("path").and_then(Value::as_str);
        let (Some(op_name), Some(path)) = (op_name, path) else {
            return Err(ApiError::bad_request(
                "Each patch operation needs 'op' and 'path'",
            ));
        };
        if !matches!(op_name.as_str(), "add" | "replace" | "remove") {
            return Err(patch_error(1434, format!("Unsupported operation '{op_name}'")));
        }
        let value = op.get("value");
        if op_name != "remove" && value.is_none() {
            return Err(ApiError::bad_request(format!(
                "The '{op_name}' operation on '{path}' needs a 'value'"
            )));
        }
        let missing_field = |field: &str| {
            patch_error(
                1455,
                format!(
                    "An error has occurred while validating patch instructions: Missing field \"{field}\""
                ),
            )
        };
        match path {
            "/name" => match (op_name.as_str(), value) {
                ("remove", _) => return Err(ApiError::bad_request("Field 'name' cannot be removed")),
                (_, Some(Value::String(s))) if !s.trim().is_empty() => edit.name = s.clone(),
                _ => return Err(ApiError::bad_request("Field 'name' must be a non-empty string")),
            },
            "/description" => match (op_name.as_str(), value) {
                ("remove", _) | ("replace", _) if edit.description.is_none() => {
                    return Err(missing_field("description"));
                }
                ("remove", _) => edit.description = None,
                (_, Some(Value::String(s))) => edit.description = Some(s.clone()),
                _ => return Err(ApiError::bad_request("Field 'description' must be a string")),
            },
            "/auth/params" => match (op_name.as_str(), value) {
                (_, Some(Value::Object(all))) if op_name != "remove" => {
                    // Replaces the whole object: params left out are gone (notes §6).
                    let (params, secrets) = split_params(auth, all.clone())?;
                    edit.params = params;
                    edit.secrets = secrets;
                }
                ("remove", _) => return Err(ApiError::bad_request("Field 'auth.params' cannot be removed")),
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
                let secret = auth.is_secret(&name);
                match (op_name.as_str(), value) {
                    ("remove" | "replace", _) if !exists => {
                        return Err(missing_field(&format!("auth.params.{name}")));
                    }
                    ("remove", _) => {
                        edit.params.remove(&name);
                        edit.secrets.remove(&name);
                    }
                    (_, Some(v)) if secret => {
                        edit.secrets.insert(name, digest(v));
                    }
                    (_, Some(v)) => {
                        edit.params.insert(name, v.clone());
                    }
                    _ => unreachable!("add and replace were checked to carry a value"),
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
    let if_match = headers
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (editable, auth, etag, state) = {
        let store = lock(&shared.store);
        let conn = find_connection(&store, &caller, &id)?;
        let auth = specs::find(&conn.spec_id).and_then(|s| s.auth_spec(&conn.auth_spec));
        let editable = Editable {
            name: conn.name.clone(),
            description: conn.description.clone(),
            params: conn.params.clone(),
            secrets: conn.secrets.clone(),
        };
        (editable, auth, conn.etag.clone(), conn.state)
    };
    let Some(if_match) = if_match else {
        return Err(patch_error(
            1403,
            "The header 'If-Match' is missing in the request",
        ));
    };
    if state == ConnState::Initializing {
        return Err(patch_error(
            1417,
            "Update on connections in `initializing` state is not allowed",
        ));
    }
    let Some(auth) = auth else {
        return Err(ApiError::internal());
    };
    let ops = json_body(&headers, body).await?;
    let edited = apply_ops(&ops, editable, auth)?;
    // Locks are always taken store first, then rng.
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    // Read again under the lock: the connection may have changed while the body arrived.
    let current = find_connection(&store, &caller, &id)?;
    let current_etag = current.etag.clone().or(etag).unwrap_or_default();
    if if_match != current_etag {
        let detail = format!(
            "Supplied version=[{if_match}] does not match the current version on entity=[{current_etag}]"
        );
        return Err(ApiError::flow(
            StatusCode::PRECONDITION_FAILED,
            1404,
            "Version not matching",
            detail,
        ));
    }
    let new_etag = rng.etag();
    let now = shared.clock.now_ms();
    store.modify(&caller.org, &caller.sandbox, &id, now, |c| {
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

/// `DELETE /connections/{id}`: 204, or 1418 while a dataflow uses the connection.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut store = lock(&shared.store);
    let conn = find_connection(&store, &caller, &id)?;
    if conn.in_use {
        return Err(patch_error(
            1418,
            format!(
                "The base connection with the ID {id} cannot be deleted because the base connection is being used in one or more flows"
            ),
        ));
    }
    store.remove(&caller.org, &caller.sandbox, &id);
    drop(store);
    shared.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Inserts `count` Salesforce connections into one sandbox, fast (admin seeding for
/// benchmarks). Returns how many the store then holds; `None` if the Salesforce fixture is
/// missing (a broken build).
pub fn seed(shared: &Shared, org: &str, sandbox: &str, count: usize, prefix: &str) -> Option<usize> {
    let now = shared.clock.now_ms();
    let spec = specs::find(SALESFORCE_ID)?;
    let sandbox_id = sandbox_id(org, sandbox);
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    let password = digest(&Value::String("seeded".into()));
    for i in 0..count {
        let seq = store.next_seq();
        let id = rng.uuid();
        let mut params = Map::new();
        params.insert(
            "environmentUrl".into(),
            Value::String(format!("https://seed-{i}.my.salesforce.com")),
        );
        params.insert(
            "username".into(),
            Value::String(format!("{prefix}-{i}@example.com")),
        );
        store.insert(Connection {
            id,
            org: org.to_owned(),
            sandbox: sandbox.to_owned(),
            sandbox_id: sandbox_id.clone(),
            created_at: now,
            updated_at: now,
            created_by: "seed@AdobeID".into(),
            updated_by: "seed@AdobeID".into(),
            created_client: "exc_app".into(),
            updated_client: "exc_app".into(),
            name: format!("{prefix} {i:06}"),
            description: Some(format!("seeded connection {i}")),
            spec_id: spec.id.clone(),
            spec_version: spec.version.clone(),
            state: ConnState::Enabled,
            auth_spec: "Basic Authentication".into(),
            params,
            secrets: [
                ("password".to_owned(), password.clone()),
                ("securityToken".to_owned(), password.clone()),
            ]
            .into_iter()
            .collect(),
            etag: Some(rng.etag()),
            seq,
            earlier: Vec::new(),
            in_use: false,
            source_accepts: None,
            enable_at: None,
            adds_org_id: false,
            rendered: OnceLock::new(),
        });
    }
    let total = store.len();
    drop(rng);
    drop(store);
    shared.changed();
    Some(total)
}

/// The `concurrent-edit` fault: the connection gets a new etag (and a touched description)
/// from someone else, just before the request in hand reaches it.
pub fn edit_concurrently(shared: &Shared, id: &str) {
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let Some((org, sandbox)) = store.location_of(id) else {
        return;
    };
    let etag = lock(&shared.rng).etag();
    store.modify(&org, &sandbox, id, now, |c| {
        c.etag = Some(etag);
        c.description = Some(format!("{} (edited)", c.description.clone().unwrap_or_default()));
        c.updated_client = "exc_app".to_owned();
    });
    drop(store);
    shared.changed();
}
