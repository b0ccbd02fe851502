//! Data Prep's mapping-set handlers under [`CONVERSION_BASE`](crate::CONVERSION_BASE):
//! `POST /mappingSets`, `GET /mappingSets[/{id}]`, `PUT /mappingSets/{id}`,
//! `POST /mappingSets/validate`, as [S-PREP] and flow-service-explore-runs §4 describe them.
//! What a set holds and shows is [`crate::mapping_set`]'s.
//!
//! Decisions, where the docs are silent or disagree:
//! - `POST` answers **200** (not 201) `{id, version: 0, createdDate, modifiedDate,
//!   createdBy, modifiedBy}`, the OpenAPI's example; `PUT` replaces the whole set, adds
//!   version `n + 1` (same id and `createdDate`, new `modifiedDate`) and answers the new
//!   version in full (the OpenAPI's `MappingSet`, D-MAP's example). Every version stays
//!   readable with `?version=N`.
//! - **No DELETE**: neither the OpenAPI nor D-MAP has one. `DELETE /mappingSets/{id}` is
//!   answered 405 (aepp calls it; flowform should tolerate 404/405 and orphan the set).
//! - `GET /mappingSets`: the docs call `limit` and `start` required; aepp sends only
//!   `limit`. Both are optional here: `limit` defaults to 10, above 100 reads as 100; `start`
//!   is a zero-based offset; a non-number is a 400. Sets are listed oldest first. `name=`
//!   filters by exact name; other parameters are ignored. `_page.count` is the number of
//!   sets on the page; `_links.next.href` is there when more follow.
//! - Errors: the Data Prep OpenAPI documents 400 and 404 with no body. They are answered in
//!   the Platform problem shape Catalog answers in here (`{type, status, title, detail,
//!   report: {request-id}}`), not the Flow Service envelope.
//! - `validate` takes a body like `POST`'s and answers one `{status, errors}` per mapping,
//!   `errors` an empty array on SUCCESS (the OpenAPI's example shows `null`, its schema an
//!   array).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::context::{Caller, Shared, lock};
use crate::errors::ApiError;
use crate::mapping_set::{Content, MAX_SETS, MAX_VERSIONS, MappingSet, Version};
use crate::request::json_body;
use crate::rng::Rng;

/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 10;
/// The largest page.
pub const MAX_LIMIT: usize = 100;

fn bad(detail: impl Into<String>) -> ApiError {
    ApiError::problem(StatusCode::BAD_REQUEST, detail)
}

fn not_found(id: &str) -> ApiError {
    ApiError::problem(
        StatusCode::NOT_FOUND,
        format!("mapping set not found with id = [{id}]"),
    )
}

/// A body read as JSON, its errors in Data Prep's shape.
async fn content(headers: &HeaderMap, body: Body) -> Result<Content, ApiError> {
    let body = json_body(headers, body).await.map_err(|e| match e {
        ApiError::Flow { detail, .. } => bad(detail),
        other => other,
    })?;
    Content::read(&body).map_err(bad)
}

/// Gives each mapping of a new version a fresh row id.
fn number_rows(content: &mut Content, rng: &mut Rng) {
    for mapping in &mut content.mappings {
        mapping.id = rng.hex(32);
    }
}

/// `POST /mappingSets`: 200 `{id, version: 0, …}`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut content = content(&headers, body).await?;
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    if store.mapping_sets.len() >= MAX_SETS {
        return Err(bad(format!(
            "This emulator holds at most {MAX_SETS} mapping sets"
        )));
    }
    let mut rng = lock(&shared.rng);
    let mut id = rng.hex(32);
    while store.mapping_sets.taken(&id) {
        id = rng.hex(32);
    }
    number_rows(&mut content, &mut rng);
    drop(rng);
    let set = MappingSet {
        id,
        org: caller.org.clone(),
        sandbox: caller.sandbox.clone(),
        created: now,
        created_by: caller.client_id.clone(),
        versions: vec![Version {
            modified: now,
            modified_by: caller.client_id.clone(),
            content,
        }],
    };
    let summary = set.summary();
    store.mapping_sets.add(set);
    drop(store);
    shared.changed();
    Ok(axum::Json(summary).into_response())
}

/// `GET /mappingSets/{id}[?version=N]`.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut version = None;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key == "version" {
            let n = value
                .parse::<u32>()
                .map_err(|_| bad(format!("version '{value}' must be a whole number")))?;
            version = Some(n);
        }
    }
    let store = lock(&shared.store);
    let set = store
        .mapping_sets
        .get(&caller.org, &caller.sandbox, &id)
        .ok_or_else(|| not_found(&id))?;
    let item = set.to_json(version).ok_or_else(|| {
        ApiError::problem(
            StatusCode::NOT_FOUND,
            format!(
                "mapping set {id} has no version {} (its versions are 0 to {})",
                version.unwrap_or_default(),
                set.latest()
            ),
        )
    })?;
    Ok(axum::Json(item).into_response())
}

/// `PUT /mappingSets/{id}`: a new version, answered in full.
pub async fn replace(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut content = content(&headers, body).await?;
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let set = store
        .mapping_sets
        .get_mut(&caller.org, &caller.sandbox, &id)
        .ok_or_else(|| not_found(&id))?;
    if set.versions.len() >= MAX_VERSIONS {
        return Err(bad(format!(
            "mapping set {id} has {MAX_VERSIONS} versions, the most this emulator keeps: create a new set"
        )));
    }
    number_rows(&mut content, &mut lock(&shared.rng));
    set.versions.push(Version {
        modified: now,
        modified_by: caller.client_id.clone(),
        content,
    });
    let item = set.to_json(None).ok_or_else(ApiError::internal)?;
    drop(store);
    shared.changed();
    Ok(axum::Json(item).into_response())
}

/// `DELETE /mappingSets/{id}`: Data Prep has none.
pub async fn delete() -> ApiError {
    ApiError::problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "Mapping sets cannot be deleted: Data Prep has no DELETE for them",
    )
}

/// `GET /mappingSets?limit&start[&name]`: `{data, _page: {count, limit}}`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (mut limit, mut start, mut name) = (DEFAULT_LIMIT, 0usize, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "limit" => {
                limit = match value.parse::<usize>() {
                    Ok(n) if n > 0 => n.min(MAX_LIMIT),
                    _ => return Err(bad(format!("limit '{value}' must be a positive number"))),
                }
            }
            "start" => {
                start = value
                    .parse()
                    .map_err(|_| bad(format!("start '{value}' must be a zero-based offset")))?;
            }
            "name" => name = Some(value.into_owned()),
            _ => {}
        }
    }
    let store = lock(&shared.store);
    let (data, more) = match &name {
        None => {
            let (page, total) = store
                .mapping_sets
                .page(&caller.org, &caller.sandbox, start, limit);
            let more = start.saturating_add(page.len()) < total;
            (page, more)
        }
        Some(name) => {
            let (all, _) = store
                .mapping_sets
                .page(&caller.org, &caller.sandbox, 0, usize::MAX);
            let matching: Vec<&MappingSet> = all
                .into_iter()
                .filter(|s| s.versions.last().and_then(|v| v.content.name.as_deref()) == Some(name))
                .collect();
            let more = matching.len() > start.saturating_add(limit);
            (matching.into_iter().skip(start).take(limit).collect(), more)
        }
    };
    let items: Vec<Value> = data.iter().filter_map(|s| s.to_json(None)).collect();
    let mut body = json!({"data": items, "_page": {"count": items.len(), "limit": limit}});
    if more {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &limit.to_string());
        query.append_pair("start", &(start + limit).to_string());
        if let Some(name) = &name {
            query.append_pair("name", name);
        }
        body["_links"] = json!({"next": {"href": format!("/mappingSets?{}", query.finish())}});
    }
    Ok(axum::Json(body).into_response())
}

/// `POST /mappingSets/validate`: one `{status, errors}` per mapping.
pub async fn validate(headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let content = content(&headers, body).await?;
    Ok(axum::Json(json!({"validationResponse": content.validation()})).into_response())
}
