//! The Flow Service client: the only part of flowform that talks to AEP.
//!
//! One [`Client`] is shared by every task of a run. It sends the headers AEP requires on
//! every call (never relying on the silent fallback to `prod`), keeps the bearer token fresh
//! ([`auth`]), limits requests in flight and backs off on 429 ([`retry`]), retries what is
//! safe to retry, and never blindly resends a create: a POST whose outcome is unknown
//! (timeout, 5xx, reset) comes back as [`FlowError::OutcomeUnknown`], for the caller to
//! resolve by listing.
//!
//! A server is not trusted to behave: redirects are never followed (they would carry the
//! credentials and a create's secrets elsewhere), every body is read up to a cap, a listing
//! follows a bounded number of pages on the same host, numbers from answers are clamped, and
//! the command's deadline (`--timeout`) bounds every request, retry and wait ([`limits`]).
//!
//! - [`settings`]: endpoint, credentials and limits from the environment and flags.
//! - [`model`]: request and answer shapes. [`parse`]: reading answers, pure and fuzzed.
//!   [`error`]: typed failures.
//! - [`limits`]: every bound, with why it is that size. [`deadline`]: the command's deadline.
//!   [`body`]: reading a body up to a cap.

pub mod auth;
pub mod body;
pub mod deadline;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod model;
pub mod parse;
pub mod retry;
pub mod settings;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, IF_MATCH, LOCATION, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::auth::TokenSource;
use self::body::BodyError;
use self::deadline::{Deadline, Human};
pub use self::error::{ApiError, FlowError};
use self::limits::{ANSWER_CAP, CONNECT_TIMEOUT, ERROR_BODY_CAP, MAX_PAGES, MAX_RETRY_AFTER, page_ceiling};
use self::model::{Created, LiveConnection, LiveSpec, PatchOp};
use self::parse::Next;
use self::retry::{Limiter, backoff};
use self::settings::Settings;
use crate::secret::Secret;

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

/// What one attempt came to, short of a failure.
enum Reply {
    /// An answer, its body read (an error answer's only up to [`ERROR_BODY_CAP`]).
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    /// A 3xx: not followed, its body not read.
    Redirect {
        status: StatusCode,
        location: Option<String>,
    },
    /// A success whose body went past [`ANSWER_CAP`]: reading stopped there.
    TooLarge { status: StatusCode },
}

/// An attempt that got no answer.
enum Failure {
    /// `sent`: whether AEP may have received the request (anything but a failed connect).
    Transport(reqwest::Error, bool),
    /// No complete answer in time; `by_deadline`: the command's deadline was the bound.
    TimedOut { by_deadline: bool },
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
    /// The command's deadline; restarted once a person has approved the plan (time spent at
    /// the prompt is not AEP's).
    deadline: Mutex<Deadline>,
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
        let deadline = Deadline::after(settings.command_timeout);
        // The only HTTP client flowform builds (IMS requests use it too). AEP's APIs do not
        // redirect; a redirect is reported, never followed (see `send`).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
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
            deadline: Mutex::new(deadline),
        })
    }

    /// The command's deadline as it stands.
    fn deadline(&self) -> Deadline {
        *crate::sync::lock(&self.deadline)
    }

    /// Starts the command's deadline again (`--timeout` from now): after a person approved a
    /// plan at the prompt, which may have taken longer than the whole budget.
    pub fn restart_deadline(&self) {
        let budget = self.settings.command_timeout;
        *crate::sync::lock(&self.deadline) = Deadline::after(budget);
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

    /// Sends a call, retrying what is safe to retry, and returns AEP's answer (any status
    /// but a redirect: the caller decides what a 404 means) or a failure. Every attempt, and
    /// every wait between attempts, ends before the command's deadline.
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
            if self.deadline().passed() {
                return Err(self.passed(call, "passed before the request could be sent"));
            }
            let token = self
                .tokens
                .token_within(&self.http, &self.deadline(), self.settings.timeout)
                .await?;
            let permit = match self.deadline().left() {
                None => self.limiter.acquire().await,
                Some(left) => tokio::time::timeout(left, self.limiter.acquire())
                    .await
                    .map_err(|_| {
                        self.passed(
                            call,
                            "passed while waiting for a place among the requests in flight",
                        )
                    })?,
            };
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent_at = Instant::now();
            let (bound, by_deadline) = self.deadline().bound(self.settings.timeout);
            let outcome = tokio::time::timeout(bound, self.attempt(call, &token))
                .await
                .unwrap_or(Err(Failure::TimedOut { by_deadline }));
            let elapsed = sent_at.elapsed();
            let (status, headers, body) = match outcome {
                Ok(Reply::Answer {
                    status,
                    headers,
                    body,
                }) => (status, headers, body),
                Ok(Reply::Redirect { status, location }) => {
                    drop(permit);
                    crate::debug!(
                        "{} {} -> {} (a redirect, not followed) in {:.0} ms",
                        call.method,
                        call.label,
                        status.as_u16(),
                        elapsed.as_secs_f64() * 1000.0
                    );
                    return Err(self.redirected(call, status, location.as_deref()));
                }
                Ok(Reply::TooLarge { status }) => {
                    drop(permit);
                    return Err(Self::too_large(call, status));
                }
                Err(failure) => {
                    drop(permit);
                    let (reason, sent) = match &failure {
                        Failure::Transport(e, sent) => (describe(e), *sent),
                        Failure::TimedOut { by_deadline: true } => (
                            format!(
                                "the command's deadline ({}) passed while waiting for AEP's answer",
                                self.deadline().flag()
                            ),
                            true,
                        ),
                        Failure::TimedOut { by_deadline: false } => (
                            format!("no complete answer within {}", Human(self.settings.timeout)),
                            true,
                        ),
                    };
                    crate::debug!(
                        "{} {} failed after {:.0} ms (attempt {attempts}): {reason}",
                        call.method,
                        call.label,
                        elapsed.as_secs_f64() * 1000.0
                    );
                    // Whatever cut it off (a reset, a timeout, the deadline), a create that
                    // reached AEP may have been carried out.
                    if call.repeat == Repeat::Create && sent {
                        return Err(FlowError::OutcomeUnknown {
                            method: call.method.to_string(),
                            path: call.label.clone(),
                            reason,
                        });
                    }
                    if matches!(failure, Failure::TimedOut { by_deadline: true }) {
                        return Err(self.passed(call, "passed while waiting for AEP's answer"));
                    }
                    if may_retry {
                        failures += 1;
                        self.pause(call, backoff(&policy, failures), &reason).await?;
                        continue;
                    }
                    return Err(FlowError::Transport {
                        method: call.method.to_string(),
                        path: call.label.clone(),
                        reason,
                    });
                }
            };
            let request_id = header(&headers, "x-request-id");
            crate::debug!(
                "{} {} -> {} in {:.0} ms (attempt {attempts}{})",
                call.method,
                call.label,
                status.as_u16(),
                elapsed.as_secs_f64() * 1000.0,
                request_id
                    .as_deref()
                    .map(|id| format!(", request id {}", parse::clean(id, 120)))
                    .unwrap_or_default()
            );
            // 401: the request was refused at the gateway, so even a POST is safe to send
            // again, once, with a new token.
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
                    // `Retry-After` is the server's number: bounded here, and by the deadline
                    // in `pause`.
                    let wait = header(&headers, RETRY_AFTER.as_str())
                        .and_then(|v| retry::retry_after(&v, SystemTime::now()))
                        .unwrap_or_else(|| backoff(&policy, attempts.min(8)))
                        .min(policy.max_delay.max(MAX_RETRY_AFTER));
                    crate::trace!(
                        "429 from AEP: waiting {:.1} s (in-flight limit now {})",
                        wait.as_secs_f64(),
                        self.limiter.limit()
                    );
                    self.pause(call, wait, "AEP answered 429 Too Many Requests")
                        .await?;
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
                            .map(|id| format!(" [request id {}]", parse::clean(&id, 120)))
                            .unwrap_or_default()
                    ),
                });
            }
            if transient && may_retry {
                failures += 1;
                let wait = backoff(&policy, failures);
                crate::trace!("{status} from AEP: retrying in {:.1} s", wait.as_secs_f64());
                self.pause(call, wait, &format!("AEP answered {status}")).await?;
                continue;
            }
            if !status.is_success() {
                let mut error = ApiError::from_response(
                    call.method.as_str(),
                    &call.label,
                    call.sandbox,
                    status,
                    request_id,
                    // A server that echoes the bearer token it was sent must not get it
                    // printed: out of the body before it is read, and out of what is shown.
                    &parse::redacted(&body, token.expose()),
                );
                error.redact(token.expose());
                return Err(FlowError::Api(Box::new(error)));
            }
            return Ok(Answer {
                status,
                body,
                attempts,
            });
        }
    }

    /// The error for a redirect, which is never followed.
    fn redirected(&self, call: &Call<'_>, status: StatusCode, location: Option<&str>) -> FlowError {
        let towards = parse::redirect_target(&self.settings.endpoint, location);
        // A create answered 301, 302, 307 or 308 was not carried out: those say the resource
        // is at another URI and the request is to be made there (RFC 9110 §15.4), so nothing
        // was made here and "failed" is the truth. A 303, by contrast, is how a server points
        // to the result of a POST it did process, and the other 3xx say nothing either way:
        // for those the outcome is unknown, and the caller finds out by listing (on this
        // host) rather than risk a duplicate. Nothing is ever sent to the Location.
        let not_processed = matches!(status.as_u16(), 301 | 302 | 307 | 308);
        if call.repeat == Repeat::Create && !not_processed {
            return FlowError::OutcomeUnknown {
                method: call.method.to_string(),
                path: call.label.clone(),
                reason: format!("AEP answered {status} {towards}, a redirect flowform does not follow"),
            };
        }
        FlowError::Redirect {
            method: call.method.to_string(),
            path: call.label.clone(),
            service: "AEP",
            status,
            towards,
        }
    }

    /// The error for a successful answer too large to read.
    fn too_large(call: &Call<'_>, status: StatusCode) -> FlowError {
        let reason = format!(
            "AEP's answer ({status}) is larger than the {} flowform reads; stopped reading",
            body::size(ANSWER_CAP)
        );
        crate::debug!("{} {}: {reason}", call.method, call.label);
        // A create that succeeded made a connection this answer cannot name.
        if call.repeat == Repeat::Create {
            return FlowError::OutcomeUnknown {
                method: call.method.to_string(),
                path: call.label.clone(),
                reason,
            };
        }
        Self::protocol(call, reason)
    }

    /// One attempt: the request, and the answer's body up to its cap. The caller bounds it
    /// in time (reading the body included).
    async fn attempt(&self, call: &Call<'_>, token: &Secret) -> Result<Reply, Failure> {
        let mut request = self
            .http
            .request(call.method.clone(), self.url(&call.path))
            .bearer_auth(token.expose())
            .header("x-api-key", &self.settings.client_id)
            .header("x-gw-ims-org-id", &self.settings.org_id)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("flowform/", env!("CARGO_PKG_VERSION")));
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
        let mut response = request.send().await.map_err(|e| {
            // A connect error means nothing was sent; anything else may have been.
            let sent = !e.is_connect();
            Failure::Transport(e, sent)
        })?;
        let status = response.status();
        if status.is_redirection() {
            return Ok(Reply::Redirect {
                status,
                location: header(response.headers(), LOCATION.as_str()),
            });
        }
        let headers = response.headers().clone();
        let body = if status.is_success() {
            match body::read(&mut response, ANSWER_CAP).await {
                Ok(body) => body,
                Err(BodyError::TooLarge) => return Ok(Reply::TooLarge { status }),
                Err(BodyError::Transport(e)) => return Err(Failure::Transport(e, true)),
            }
        } else {
            body::read_prefix(&mut response, ERROR_BODY_CAP)
                .await
                .map_err(|e| Failure::Transport(e, true))?
        };
        Ok(Reply::Answer {
            status,
            headers,
            body,
        })
    }

    /// Waits `wait` before a retry, unless that would outlast the command's deadline.
    async fn pause(&self, call: &Call<'_>, wait: Duration, after: &str) -> Result<(), FlowError> {
        if !self.deadline().allows(wait) {
            return Err(self.passed(
                call,
                format!(
                    "would pass during the {:.1} s wait before a retry ({after})",
                    wait.as_secs_f64()
                ),
            ));
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn passed(&self, call: &Call<'_>, what: impl Into<String>) -> FlowError {
        FlowError::Deadline {
            method: call.method.to_string(),
            path: call.label.clone(),
            flag: self.deadline().flag(),
            what: what.into(),
        }
    }

    fn protocol(call: &Call<'_>, reason: impl Into<String>) -> FlowError {
        FlowError::Protocol {
            method: call.method.to_string(),
            path: call.label.clone(),
            reason: reason.into(),
        }
    }

    /// Lists the sandbox's connections matching every filter, following every page (at most
    /// [`MAX_PAGES`]).
    pub async fn list_connections(
        &self,
        sandbox: &str,
        filters: &[Filter],
    ) -> Result<Vec<LiveConnection>, FlowError> {
        self.list(sandbox, filters, None).await
    }

    /// Lists them as [`Client::list_connections`] does, for a caller that has just counted
    /// them ([`Client::count_connections`]): the walk then stops at the pages that count
    /// allows, with room for connections created meanwhile ([`limits::page_ceiling`]).
    pub async fn list_counted(
        &self,
        sandbox: &str,
        filters: &[Filter],
        count: u64,
    ) -> Result<Vec<LiveConnection>, FlowError> {
        self.list(sandbox, filters, Some(count)).await
    }

    async fn list(
        &self,
        sandbox: &str,
        filters: &[Filter],
        count: Option<u64>,
    ) -> Result<Vec<LiveConnection>, FlowError> {
        let first = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &limits::PAGE_SIZE.to_string());
            for f in filters {
                query.append_pair("property", &format!("{}=={}", f.field, f.values.join(",")));
            }
            format!("/connections?{}", query.finish())
        };
        let ceiling = page_ceiling(count);
        let mut path = first.clone();
        // Digests of every next link followed: a server that repeats one would loop.
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        let mut pages = 0u64;
        loop {
            let call = Call::on(Method::GET, path.clone(), sandbox, Repeat::Safe);
            let answer = self.send(&call).await?;
            pages += 1;
            let page = parse::list_page(&answer.body).map_err(|e| Self::protocol(&call, e))?;
            items.extend(page.items);
            // The next page: `_links.next.href` if given (relative to the Flow Service base,
            // or absolute on the same host), else a top-level continuation token.
            let next = match page.next {
                None => return Ok(items),
                Some(Next::Href(href)) => self.next_href(&call, &href)?,
                Some(Next::Token(token)) => {
                    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
                    format!("{first}&continuationToken={token}")
                }
            };
            if pages >= ceiling {
                let bound = match count {
                    Some(count) => format!("AEP counted {count} just before"),
                    None => format!("flowform follows at most {MAX_PAGES} pages"),
                };
                return Err(Self::protocol(
                    &call,
                    format!(
                        "AEP's listing goes on past {pages} pages ({} connections so far; {bound}); stopping rather than follow it further",
                        items.len()
                    ),
                ));
            }
            if !seen.insert(Sha256::digest(next.as_bytes())) {
                return Err(Self::protocol(
                    &call,
                    "AEP repeated a continuation token; stopping rather than loop",
                ));
            }
            path = next;
        }
    }

    /// Turns an href into a path under the base, refusing another host (the bearer token
    /// must not follow a link elsewhere).
    fn next_href(&self, call: &Call<'_>, href: &str) -> Result<String, FlowError> {
        parse::next_path(&self.settings.endpoint, href).map_err(|e| Self::protocol(call, e))
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
        parse::count(&answer.body).map_err(|e| Self::protocol(&call, e))
    }

    /// One connection; `None` when AEP has no such connection (404).
    pub async fn get_connection(&self, sandbox: &str, id: &str) -> Result<Option<LiveConnection>, FlowError> {
        let call = Call::on(Method::GET, format!("/connections/{id}"), sandbox, Repeat::Safe);
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        match parse::connection(&answer.body).map_err(|e| Self::protocol(&call, e))? {
            Some(conn) if conn.id != id => Err(Self::protocol(
                &call,
                format!(
                    "AEP answered with another connection, `{}`",
                    parse::clean(&conn.id, 120)
                ),
            )),
            found => Ok(found),
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
        parse::created(&answer.body).map_err(|e| FlowError::OutcomeUnknown {
            method: "POST".to_owned(),
            path: call.label.clone(),
            reason: format!("AEP answered {}, but {e}", answer.status),
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
                let etag = parse::etag(&answer.body).map_err(|e| Self::protocol(&call, e))?;
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
        parse::test_result(&answer.body).map_err(|e| Self::protocol(&call, e))
    }

    /// A connection spec, fetched once per run; `None` when AEP has no such spec.
    pub async fn connection_spec(&self, sandbox: &str, id: &str) -> Result<Option<Arc<LiveSpec>>, FlowError> {
        if let Some(cached) = crate::sync::lock(&self.specs).get(id) {
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
            Ok(answer) => parse::connection_spec(&answer.body)
                .map_err(|e| Self::protocol(&call, e))?
                .map(Arc::new),
        };
        crate::sync::lock(&self.specs).insert(id.to_owned(), spec.clone());
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
            .is_some_and(|live| live == value || model::is_masked(live))
    };
    ops.iter()
        .all(|op| match (op.op.as_str(), op.path.as_str(), &op.value) {
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
