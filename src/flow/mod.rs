//! The Flow Service client: the only part of flowform that talks to AEP.
//!
//! One [`Client`] is shared by every task of a run. It sends the headers AEP requires on
//! every call (never relying on the silent fallback to `prod`), keeps the bearer token fresh
//! ([`auth`]), limits requests in flight and backs off on 429 ([`retry`]), retries what is
//! safe to retry, and never blindly resends a create: a POST whose outcome is unknown
//! (timeout, 5xx, reset) comes back as [`FlowError::OutcomeUnknown`], for the caller to
//! resolve by listing.
//!
//! - [`settings`]: endpoint, credentials and limits from the environment and flags.
//! - [`model`]: request and answer shapes. [`error`]: typed failures.
//! - [`specs`]: checking a configuration against the live connection specs.

pub mod auth;
pub mod error;
pub mod model;
pub mod retry;
pub mod settings;
pub mod specs;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, IF_MATCH, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use self::auth::TokenSource;
pub use self::error::{ApiError, FlowError};
use self::model::{Created, LiveConnection, LiveSpec, PatchOp};
use self::retry::{Limiter, backoff};
use self::settings::Settings;

/// How a request may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repeat {
    /// GET, DELETE, and PATCH with `If-Match`: a repeat cannot do harm.
    Safe,
    /// POST: repeat only when AEP provably did not process it.
    Create,
}

/// One request, before it is sent.
struct Call<'a> {
    method: Method,
    /// Under the Flow Service base, with any query string.
    path: String,
    /// The path without the query, for messages.
    label: String,
    sandbox: Option<&'a str>,
    body: Option<Vec<u8>>,
    if_match: Option<&'a str>,
    repeat: Repeat,
}

impl<'a> Call<'a> {
    /// A call on one path (its own label), in a sandbox, with no body.
    fn on(method: Method, path: String, sandbox: &'a str, repeat: Repeat) -> Call<'a> {
        Call {
            method,
            label: path.split('?').next().unwrap_or_default().to_owned(),
            path,
            sandbox: Some(sandbox),
            body: None,
            if_match: None,
            repeat,
        }
    }
}

/// An answer AEP gave.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    attempts: u32,
}

/// What `delete_connection` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// 404: it was not there (deleted before, or by an earlier attempt).
    AlreadyGone,
}

/// What `update_connection` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Updated {
    pub etag: Option<String>,
    /// A retried PATCH met 412 because its first attempt had applied; a re-read showed the
    /// connection as the patch left it.
    pub confirmed_by_reading: bool,
}

/// A `property` filter: `field==value[,value…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub field: &'static str,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(field: &'static str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        Filter {
            field,
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    settings: Settings,
    tokens: TokenSource,
    limiter: Limiter,
    specs: Mutex<HashMap<String, Option<Arc<LiveSpec>>>>,
    requests: AtomicU64,
}

/// A reqwest error in words, with its causes (reqwest's own message is terse).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Makes ring the process's TLS crypto provider (reqwest is built without a default one).
/// Idempotent; every reqwest client in the process needs it first.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(settings: Settings) -> anyhow::Result<Client> {
        install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(settings.parallelism)
            .user_agent(concat!("flowform/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            tokens: TokenSource::new(settings.credentials.clone(), settings.client_id.clone()),
            limiter: Limiter::new(settings.parallelism, settings.requests_per_second),
            http,
            settings,
            specs: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The adaptive limit on requests in flight, as it stands.
    pub fn in_flight_limit(&self) -> usize {
        self.limiter.limit()
    }

    /// HTTP requests sent to the Flow Service so far (retries included; IMS not).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.endpoint.as_str().trim_end_matches('/'))
    }

    /// Sends a call, retrying what is safe to retry, and returns AEP's answer (any status:
    /// the caller decides what a 404 means) or a failure.
    async fn send(&self, call: &Call<'_>) -> Result<Answer, FlowError> {
        let policy = self.settings.retry;
        let started = Instant::now();
        let mut attempts = 0u32;
        // Failures other than 429 count against `policy.attempts`; a 429 is AEP saying "not
        // now", always safe to honour, so those only count against the time budget.
        let mut failures = 0u32;
        let mut renewed = false;
        loop {
            attempts += 1;
            let in_budget = started.elapsed() < policy.budget;
            let may_retry = failures + 1 < policy.attempts && in_budget;
            let token = self.tokens.token(&self.http).await?;
            let permit = self.limiter.acquire().await;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            let mut request = self
                .http
                .request(call.method.clone(), self.url(&call.path))
                .bearer_auth(token.expose())
                .header("x-api-key", &self.settings.client_id)
                .header("x-gw-ims-org-id", &self.settings.org_id)
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, concat!("flowform/", env!("CARGO_PKG_VERSION")))
                .timeout(self.settings.timeout);
            if let Some(sandbox) = call.sandbox {
                request = request.header("x-sandbox-name", sandbox);
            }
            if let Some(etag) = call.if_match {
                request = request.header(IF_MATCH, etag);
            }
            if let Some(body) = &call.body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    response
                        .bytes()
                        .await
                        .map(|b| (status, headers, b.to_vec()))
                        .map_err(|e| (e, true))
                }
                Err(e) => {
                    // A connect error means nothing was sent; anything else may have been.
                    let sent = !e.is_connect();
                    Err((e, sent))
                }
            };
            let elapsed = sent_at.elapsed();
            match outcome {
                Ok((status, headers, body)) => {
                    let request_id = header(&headers, "x-request-id");
                    crate::debug!(
                        "{} {} -> {} in {:.0} ms (attempt {attempts}{})",
                        call.method,
                        call.label,
                        status.as_u16(),
                        elapsed.as_secs_f64() * 1000.0,
                        request_id
                            .as_deref()
                            .map(|id| format!(", request id {id}"))
                            .unwrap_or_default()
                    );
                    // 401: the request was refused at the gateway, so even a POST is safe to
                    // send again, once, with a new token.
                    if status == StatusCode::UNAUTHORIZED && !renewed && self.tokens.renewable() {
                        drop(permit);
                        crate::trace!("401 from AEP: renewing the access token and trying once more");
                        self.tokens.invalidate(&token).await;
                        renewed = true;
                        continue;
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        permit.throttled();
                        if in_budget {
                            let wait = header(&headers, RETRY_AFTER.as_str())
                                .and_then(|v| retry::retry_after(&v, SystemTime::now()))
                                .unwrap_or_else(|| backoff(&policy, attempts.min(8)))
                                .min(policy.max_delay.max(Duration::from_secs(60)));
                            crate::trace!(
                                "429 from AEP: waiting {:.1} s (in-flight limit now {})",
                                wait.as_secs_f64(),
                                self.limiter.limit()
                            );
                            tokio::time::sleep(wait).await;
                            continue;
                        }
                    } else {
                        permit.success();
                    }
                    let transient = matches!(status.as_u16(), 500 | 502 | 503 | 504);
                    if transient && call.repeat == Repeat::Create {
                        return Err(FlowError::OutcomeUnknown {
                            method: call.method.to_string(),
                            path: call.label.clone(),
                            reason: format!(
                                "AEP answered {status}{}",
                                request_id
                                    .map(|id| format!(" [request id {id}]"))
                                    .unwrap_or_default()
                            ),
                        });
                    }
                    if transient && may_retry {
                        failures += 1;
                        let wait = backoff(&policy, failures);
                        crate::trace!("{status} from AEP: retrying in {:.1} s", wait.as_secs_f64());
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    if !status.is_success() {
                        return Err(FlowError::Api(Box::new(ApiError::from_response(
                            call.method.as_str(),
                            &call.label,
                            call.sandbox,
                            status,
                            request_id,
                            &body,
                        ))));
                    }
                    return Ok(Answer {
                        status,
                        body,
                        attempts,
                    });
                }
                Err((e, sent)) => {
                    drop(permit);
                    let reason = describe(&e);
                    crate::debug!(
                        "{} {} failed after {:.0} ms (attempt {attempts}): {reason}",
                        call.method,
                        call.label,
                        elapsed.as_secs_f64() * 1000.0
                    );
                    if call.repeat == Repeat::Create && sent {
                        return Err(FlowError::OutcomeUnknown {
                            method: call.method.to_string(),
                            path: call.label.clone(),
                            reason,
                        });
                    }
                    if may_retry {
                        failures += 1;
                        tokio::time::sleep(backoff(&policy, failures)).await;
                        continue;
                    }
                    return Err(FlowError::Transport {
                        method: call.method.to_string(),
                        path: call.label.clone(),
                        reason,
                    });
                }
            }
        }
    }

    fn protocol(call: &Call<'_>, reason: impl Into<String>) -> FlowError {
        FlowError::Protocol {
            method: call.method.to_string(),
            path: call.label.clone(),
            reason: reason.into(),
        }
    }

    fn json(call: &Call<'_>, body: &[u8]) -> Result<Value, FlowError> {
        serde_json::from_slice(body).map_err(|e| Self::protocol(call, format!("the answer is not JSON: {e}")))
    }

    /// Lists the sandbox's connections matching every filter, following every page.
    pub async fn list_connections(
        &self,
        sandbox: &str,
        filters: &[Filter],
    ) -> Result<Vec<LiveConnection>, FlowError> {
        let first = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", "100");
            for f in filters {
                query.append_pair("property", &format!("{}=={}", f.field, f.values.join(",")));
            }
            format!("/connections?{}", query.finish())
        };
        let mut path = first.clone();
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        loop {
            let call = Call::on(Method::GET, path.clone(), sandbox, Repeat::Safe);
            let answer = self.send(&call).await?;
            let page = Self::json(&call, &answer.body)?;
            let Some(page_items) = page["items"].as_array() else {
                return Err(Self::protocol(&call, "the answer has no `items`"));
            };
            for item in page_items {
                let conn: LiveConnection = serde_json::from_value(item.clone()).map_err(|e| {
                    Self::protocol(&call, format!("a connection in the answer is unreadable: {e}"))
                })?;
                items.push(conn);
            }
            // The next page: `_links.next.href` if given (relative to the Flow Service base,
            // or absolute on the same host), else a top-level continuation token.
            let next = match (
                page["_links"]["next"]["href"].as_str(),
                page["continuationToken"].as_str(),
            ) {
                (Some(href), _) if !href.is_empty() => Some(self.next_href(&call, href)?),
                (_, Some(token)) if !token.is_empty() => {
                    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
                    Some(format!("{first}&continuationToken={token}"))
                }
                _ => None,
            };
            match next {
                None => return Ok(items),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(Self::protocol(
                            &call,
                            "AEP repeated a continuation token; stopping rather than loop",
                        ));
                    }
                    path = next;
                }
            }
        }
    }

    /// Turns an href into a path under the base, refusing another host (the bearer token
    /// must not follow a link elsewhere).
    fn next_href(&self, call: &Call<'_>, href: &str) -> Result<String, FlowError> {
        if href.starts_with('/') {
            let base_path = self.settings.endpoint.path().trim_end_matches('/');
            // Relative to the Flow Service base; tolerate one that repeats the base path.
            return Ok(href
                .strip_prefix(base_path)
                .filter(|rest| rest.starts_with('/'))
                .unwrap_or(href)
                .to_owned());
        }
        let url = reqwest::Url::parse(href)
            .map_err(|_| Self::protocol(call, format!("unreadable next link `{href}`")))?;
        let base = &self.settings.endpoint;
        if url.scheme() != base.scheme()
            || url.host_str() != base.host_str()
            || url.port_or_known_default() != base.port_or_known_default()
        {
            return Err(Self::protocol(
                call,
                format!("the next link points to another host: `{href}`"),
            ));
        }
        let base_path = base.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base_path).unwrap_or(url.path());
        Ok(match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        })
    }

    /// How many of the sandbox's connections match every filter (`count=true`: one request).
    pub async fn count_connections(&self, sandbox: &str, filters: &[Filter]) -> Result<u64, FlowError> {
        let path = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("count", "true");
            for f in filters {
                query.append_pair("property", &format!("{}=={}", f.field, f.values.join(",")));
            }
            format!("/connections?{}", query.finish())
        };
        let call = Call {
            method: Method::GET,
            path,
            label: "/connections".to_owned(),
            sandbox: Some(sandbox),
            body: None,
            if_match: None,
            repeat: Repeat::Safe,
        };
        let answer = self.send(&call).await?;
        Self::json(&call, &answer.body)?["count"]
            .as_u64()
            .ok_or_else(|| Self::protocol(&call, "the answer has no `count`"))
    }

    /// One connection; `None` when AEP has no such connection (404).
    pub async fn get_connection(&self, sandbox: &str, id: &str) -> Result<Option<LiveConnection>, FlowError> {
        let call = Call::on(Method::GET, format!("/connections/{id}"), sandbox, Repeat::Safe);
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        let page = Self::json(&call, &answer.body)?;
        match page["items"].as_array().and_then(|items| items.first()) {
            None => Ok(None),
            Some(item) => serde_json::from_value(item.clone())
                .map(Some)
                .map_err(|e| Self::protocol(&call, format!("the connection is unreadable: {e}"))),
        }
    }

    /// Creates a connection from a `POST /connections` body (secrets included). Never
    /// resent after an ambiguous failure: see [`FlowError::OutcomeUnknown`].
    pub async fn create_connection(&self, sandbox: &str, body: &Value) -> Result<Created, FlowError> {
        let call = Call {
            method: Method::POST,
            path: "/connections".to_owned(),
            label: "/connections".to_owned(),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            if_match: None,
            repeat: Repeat::Create,
        };
        let answer = self.send(&call).await?;
        // A success whose body is unreadable still made a connection we cannot name.
        serde_json::from_slice(&answer.body).map_err(|e| FlowError::OutcomeUnknown {
            method: "POST".to_owned(),
            path: call.label.clone(),
            reason: format!("AEP answered {} with an unreadable body: {e}", answer.status),
        })
    }

    /// Applies JSON Patch operations with `If-Match: etag` (sent verbatim, quotes included).
    pub async fn update_connection(
        &self,
        sandbox: &str,
        id: &str,
        etag: &str,
        ops: &[PatchOp],
    ) -> Result<Updated, FlowError> {
        let body: Vec<Value> = ops.iter().map(PatchOp::to_json).collect();
        let call = Call {
            method: Method::PATCH,
            path: format!("/connections/{id}"),
            label: format!("/connections/{id}"),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(&body).unwrap_or_default()),
            if_match: Some(etag),
            repeat: Repeat::Safe,
        };
        match self.send(&call).await {
            Ok(answer) => {
                let json = Self::json(&call, &answer.body)?;
                let etag = json["etag"].as_str().map(str::to_owned);
                if answer.attempts > 1 {
                    crate::trace!("PATCH {} succeeded on attempt {}", call.label, answer.attempts);
                }
                Ok(Updated {
                    etag,
                    confirmed_by_reading: false,
                })
            }
            // A 412 may mean an earlier attempt of this very PATCH applied and only its answer
            // was lost. Read the connection: if it shows what the patch set, it did.
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => {
                let live = self.get_connection(sandbox, id).await?;
                match live {
                    Some(live)
                        if shows(&live, ops)
                            && live.updated_client.as_deref() == Some(&self.settings.client_id) =>
                    {
                        crate::info!(
                            "PATCH {}: 412, but the connection already shows this change; taking it as applied",
                            call.label
                        );
                        Ok(Updated {
                            etag: live.etag,
                            confirmed_by_reading: true,
                        })
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a connection; a 404 means it is already gone.
    pub async fn delete_connection(&self, sandbox: &str, id: &str) -> Result<Deleted, FlowError> {
        let call = Call::on(
            Method::DELETE,
            format!("/connections/{id}"),
            sandbox,
            Repeat::Safe,
        );
        match self.send(&call).await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(Deleted::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    /// `GET /connections/{id}/test`.
    pub async fn test_connection(&self, sandbox: &str, id: &str) -> Result<bool, FlowError> {
        let call = Call::on(
            Method::GET,
            format!("/connections/{id}/test"),
            sandbox,
            Repeat::Safe,
        );
        let answer = self.send(&call).await?;
        Ok(Self::json(&call, &answer.body)?["result"]
            .as_bool()
            .unwrap_or(false))
    }

    /// A connection spec, fetched once per run; `None` when AEP has no such spec.
    pub async fn connection_spec(&self, sandbox: &str, id: &str) -> Result<Option<Arc<LiveSpec>>, FlowError> {
        if let Some(cached) = self.specs.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Ok(cached.clone());
        }
        let call = Call::on(
            Method::GET,
            format!("/connectionSpecs/{id}"),
            sandbox,
            Repeat::Safe,
        );
        let spec = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => None,
            Err(e) => return Err(e),
            Ok(answer) => {
                let json = Self::json(&call, &answer.body)?;
                match json["items"].as_array().and_then(|i| i.first()) {
                    None => None,
                    Some(item) => {
                        Some(Arc::new(serde_json::from_value(item.clone()).map_err(|e| {
                            Self::protocol(&call, format!("the spec is unreadable: {e}"))
                        })?))
                    }
                }
            }
        };
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), spec.clone());
        Ok(spec)
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Whether a connection shows every value the operations set (secrets, masked in the
/// answer, cannot be compared and are taken as shown).
fn shows(live: &LiveConnection, ops: &[PatchOp]) -> bool {
    let params = live.auth.as_ref().map(|a| &a.params);
    let param_shows = |name: &str, value: &Value| {
        params
            .and_then(|p| p.get(name))
            .is_some_and(|live| live == value || is_masked(Some(live)))
    };
    ops.iter().all(|op| match (op.op, op.path.as_str(), &op.value) {
        (_, "/name", Some(Value::String(v))) => live.name == *v,
        ("remove", "/description", _) => live.description.is_none(),
        (_, "/description", Some(Value::String(v))) => live.description.as_deref() == Some(v),
        (_, "/auth/params", Some(Value::Object(all))) => all.iter().all(|(k, v)| param_shows(k, v)),
        (op_name, path, value) => match (path.strip_prefix("/auth/params/"), op_name, value) {
            (Some(name), "remove", _) => params.is_none_or(|p| !p.contains_key(name)),
            (Some(name), _, Some(v)) => param_shows(name, v),
            _ => false,
        },
    })
}

/// A value AEP returns in place of a secret (the emulator's `********`, placeholders like
/// `{PASSWORD}`): anything made only of `*`, or wrapped in braces.
fn is_masked(value: Option<&Value>) -> bool {
    match value.and_then(Value::as_str) {
        Some(s) => !s.is_empty() && (s.chars().all(|c| c == '*') || (s.starts_with('{') && s.ends_with('}'))),
        None => false,
    }
}
