//! How every Flow Service collection is read: `GET /{kind}` with its filters, order, count
//! and pages, and `GET /{kind}/{id}`, both in the `{"items": [...]}` wrapper. Written once
//! over [`Record`]; each kind's handler names its collection and nothing else.

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::collection::{CURSOR_LIFETIME_MS, Collection, Walk};
use crate::context::{Caller, PageStyle, Shared, lock};
use crate::errors::ApiError;
use crate::query::{Cursor, ListParams, MAX_LIMIT, order_param, parse_filter};
use crate::record::{Kind, Record};
use crate::select::Order;
use crate::store::Store;

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"items": [...]}` from cached renders, without re-serializing the items.
pub fn items_body<R: Record>(items: &[&R], extra: Option<&Map<String, Value>>) -> Vec<u8> {
    let rendered: Vec<&Bytes> = items.iter().map(|r| r.rendered()).collect();
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

/// The caller's record `id` of `kind`, or the Flow Service's 404 for it.
pub fn find<'c, R: Record>(
    collection: &'c Collection<R>,
    caller: &Caller,
    kind: Kind,
    id: &str,
) -> Result<&'c R, ApiError> {
    collection
        .get(&caller.org, &caller.sandbox, id)
        .ok_or_else(|| ApiError::not_found(kind.path(), id))
}

/// `GET /{kind}/{id}`: the same `{"items": [...]}` wrapper as the list.
pub fn get_one<R: Record>(
    shared: &Shared,
    caller: &Caller,
    kind: Kind,
    id: &str,
    pick: impl Fn(&Store) -> &Collection<R>,
) -> Result<Response, ApiError> {
    let store = lock(&shared.store);
    let record = find(pick(&store), caller, kind, id)?;
    Ok(json_response(StatusCode::OK, items_body(&[record], None)))
}

/// `GET /{kind}`: a page of the caller's sandbox, or `{"count": N}`.
pub fn list<R: Record>(
    shared: &Shared,
    caller: &Caller,
    raw: Option<&str>,
    kind: Kind,
    pick: impl Fn(&Store) -> &Collection<R>,
) -> Result<Response, ApiError> {
    let params = ListParams::parse(raw, kind)?;
    let now = shared.clock.now_ms();
    let store = lock(&shared.store);
    let collection = pick(&store);
    if params.count {
        let count = collection.count(&caller.org, &caller.sandbox, &params.filters);
        return Ok(axum::Json(json!({"count": count})).into_response());
    }
    let cursor = match &params.token {
        Some(token) => Some(resume(shared, &params, kind, token, now)?),
        None => None,
    };
    let (properties, filters, order, snapshot, after) = match &cursor {
        Some(c) => {
            let filters = c
                .properties
                .iter()
                .map(|p| parse_filter(p, kind))
                .collect::<Result<Vec<_>, _>>()?;
            (c.properties.clone(), filters, c.order, c.snapshot, Some(&c.after))
        }
        None => (
            params.properties.clone(),
            params.filters.clone(),
            params.order.unwrap_or(Order::UpdatedDesc),
            collection.seq(),
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
    let page = collection.page(&caller.org, &caller.sandbox, &walk);
    let mut extra = Map::new();
    if let Some(last) = page.next {
        let token = Cursor {
            kind,
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
                json!({"next": {"href": format!("/{}?{}", kind.path(), query.finish())}}),
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
fn resume(
    shared: &Shared,
    params: &ListParams,
    kind: Kind,
    token: &str,
    now: i64,
) -> Result<Cursor, ApiError> {
    let cursor = Cursor::decode(token)?;
    let bad = |detail: &str| ApiError::flow(StatusCode::BAD_REQUEST, 1451, "Bad request", detail.to_owned());
    if cursor.epoch != shared.epoch || now - cursor.issued > CURSOR_LIFETIME_MS {
        return Err(bad(
            "The continuation token has expired; list again from the first page",
        ));
    }
    if cursor.kind != kind {
        return Err(bad(&format!(
            "The continuation token was issued for /{}, not /{}",
            cursor.kind.path(),
            kind.path()
        )));
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
