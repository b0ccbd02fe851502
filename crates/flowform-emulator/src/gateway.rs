//! What stands in front of the handlers as Adobe's gateway does: request ids, authentication,
//! the sandbox header, latency and faults, error rendering, statistics and the request log;
//! and the IMS token endpoint, which the gateway does not guard.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::context::{Caller, Shared, lock};
use crate::errors::ApiError;
use crate::faults::Fault;
use crate::{backstage, connections};

/// Any path no route serves.
pub(crate) async fn not_found(request: Request) -> ApiError {
    ApiError::flow(
        StatusCode::NOT_FOUND,
        1101,
        "Resource not found",
        format!("no resource at {}", request.uri().path()),
    )
}

/// Outermost: gives every response an `x-request-id`, renders errors into their JSON
/// bodies, counts the request and logs it.
pub(crate) async fn envelope(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |m| m.as_str().to_owned());
    let request_id = lock(&shared.rng).uuid();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |t| t.as_str().to_owned());
    let too_long = target.len() > shared.options.max_target_length;
    if !route.starts_with(crate::ADMIN_BASE) {
        let mut recent = lock(&shared.recent);
        if recent.len() >= crate::context::RECENT_TARGETS {
            recent.pop_front();
        }
        recent.push_back(format!("{method} {target}"));
    }

    let mut response = if too_long {
        // The emulator's choice (`Options::max_target_length`), not a documented AEP limit.
        ApiError::Raw {
            status: StatusCode::URI_TOO_LONG,
            body: json!({
                "error_code": "414",
                "message": format!(
                    "Request-URI Too Long: {} characters, over the {} this gateway accepts",
                    target.len(),
                    shared.options.max_target_length
                ),
            }),
        }
        .into_response()
    } else {
        next.run(request).await
    };
    let error = response.extensions_mut().remove::<ApiError>().or_else(|| {
        (response.status() == StatusCode::METHOD_NOT_ALLOWED).then(|| {
            ApiError::flow(
                StatusCode::METHOD_NOT_ALLOWED,
                1100,
                "Method not allowed",
                format!("{method} is not allowed on {path}"),
            )
        })
    });
    if let Some(error) = error {
        let status = error.status();
        let headers = std::mem::take(response.headers_mut());
        response = (status, axum::Json(error.body(&request_id))).into_response();
        for (name, value) in &headers {
            if name != CONTENT_TYPE {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    *lock(&shared.stats)
        .entry((method.clone(), route, status))
        .or_default() += 1;
    if shared.options.log {
        eprintln!(
            "{method} {path} {status} {:.1}ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    response
}

/// In front of the Flow Service routes: latency, the gateway's checks, then faults.
pub(crate) async fn gateway(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let now = shared.clock.now_ms();
    connections::enable_due(&shared, now);
    crate::runs::produce_due(&shared, now);
    let decision = lock(&shared.faults).decide(request.method().as_str(), request.uri().path());
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let caller = match authenticate(&shared, request.headers(), now) {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(caller);
    match decision.fault {
        None => next.run(request).await,
        Some(Fault::RateLimit) => {
            let retry_after = lock(&shared.faults).settings.retry_after_s;
            let mut response = ApiError::Raw {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: json!({"error_code": "429050", "message": "Too many requests"}),
            }
            .into_response();
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
        Some(Fault::ServerError) => ApiError::internal().into_response(),
        Some(Fault::Unavailable) => ApiError::unavailable().into_response(),
        Some(Fault::Hang) => {
            let hang = std::time::Duration::from_millis(lock(&shared.faults).settings.hang_ms);
            let mut stopping = shared.stopping.clone();
            tokio::select! {
                () = tokio::time::sleep(hang) => {}
                _ = stopping.wait_for(|s| *s) => {}
            }
            ApiError::flow(
                StatusCode::GATEWAY_TIMEOUT,
                1104,
                "Gateway timeout",
                "Please try again",
            )
            .into_response()
        }
        Some(Fault::ConcurrentEdit) => {
            let id = request
                .uri()
                .path()
                .rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or_default()
                .to_owned();
            backstage::edit_concurrently(&shared, &id);
            next.run(request).await
        }
        Some(fault @ (Fault::CommitThenFail | Fault::CommitThenDrop)) => {
            let response = next.run(request).await;
            if !response.status().is_success() {
                return response;
            }
            if fault == Fault::CommitThenFail {
                ApiError::internal().into_response()
            } else {
                let mut dropped = Response::new(Body::new(Dropped));
                *dropped.status_mut() = response.status();
                dropped
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                dropped
            }
        }
    }
}

/// A body that fails at once: the server closes the connection mid-response, as when a
/// load balancer drops it after the backend committed.
struct Dropped;

impl http_body::Body for Dropped {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "emulator fault: connection dropped after commit",
        ))))
    }
}

/// The Adobe I/O gateway's checks, in its order, with its error codes
/// (flow-service-notes §9): token, API key, organization; then the sandbox, which falls back
/// to `prod` when the header is missing, as AEP does.
fn authenticate(shared: &Shared, headers: &HeaderMap, now: i64) -> Result<Caller, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let Some(authorization) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::gateway(
            StatusCode::FORBIDDEN,
            "403010",
            "Oauth token is missing.",
        ));
    };
    let invalid = || ApiError::gateway(StatusCode::UNAUTHORIZED, "401013", "Oauth token is not valid");
    let token = authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .ok_or_else(invalid)?;
    let grant = lock(&shared.ims)
        .check(token.trim(), now)
        .cloned()
        .ok_or_else(invalid)?;
    match header("x-api-key") {
        None | Some("") => {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403000",
                "Api Key is required",
            ));
        }
        Some(key) if key != grant.client_id => {
            return Err(ApiError::gateway(
                StatusCode::FORBIDDEN,
                "403003",
                "Api Key is invalid",
            ));
        }
        Some(_) => {}
    }
    let org = match header("x-gw-ims-org-id") {
        None | Some("") => {
            return Err(ApiError::gateway(
                StatusCode::BAD_REQUEST,
                "400003",
                "Missing header",
            ));
        }
        Some(org) => org.to_owned(),
    };
    if grant.org.as_ref().is_some_and(|o| *o != org) {
        return Err(ApiError::gateway(
            StatusCode::FORBIDDEN,
            "403025",
            "Profile is not valid",
        ));
    }
    let sandbox = header("x-sandbox-name")
        .filter(|s| !s.is_empty())
        .unwrap_or("prod");
    let valid = sandbox.len() <= 256
        && sandbox
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !sandbox.starts_with('-');
    if !valid {
        return Err(ApiError::flow(
            StatusCode::NOT_FOUND,
            2101,
            "Sandbox not found",
            format!("Sandbox '{sandbox}' was not found"),
        ));
    }
    Ok(Caller {
        org,
        sandbox: sandbox.to_owned(),
        client_id: grant.client_id,
    })
}

/// `POST /ims/token/v3`: the form body, or the query string (IMS accepts both).
pub(crate) async fn ims_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, ApiError> {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("request body too large"))?;
    let mut form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    form.extend(form_urlencoded::parse(&body).into_owned());
    let now = shared.clock.now_ms();
    let mut rng = lock(&shared.rng);
    let token = lock(&shared.ims).issue(&form, now, &mut rng)?;
    Ok(axum::Json(token).into_response())
}
