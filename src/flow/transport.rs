//! The client and its transport: sending one request to AEP and getting its whole answer,
//! or a failure that says what happened — the headers every call carries, the bearer token,
//! the limit on requests in flight, retries of what is safe to retry, `Retry-After`, no
//! redirect ever followed, every body read up to a cap, and the command's deadline. The
//! operations (`list_connections`, `create_connection`, …) are built on `Client::send`, in
//! the module above.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, IF_MATCH, LOCATION, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, StatusCode};

use super::auth::TokenSource;
use super::body::BodyError;
use super::deadline::Deadline;
use super::deadline::Human;
use super::error::{ApiError, FlowError};
use super::limits::CONNECT_TIMEOUT;
use super::limits::{ANSWER_CAP, ERROR_BODY_CAP, MAX_RETRY_AFTER};
use super::model::LiveSpec;
use super::retry::{Limiter, backoff};
use super::settings::Settings;
use super::{body, parse, retry};
use crate::secret::Secret;
use std::sync::atomic::Ordering;

pub struct Client {
    http: reqwest::Client,
    settings: Settings,
    tokens: TokenSource,
    limiter: Limiter,
    /// Connection specs fetched in this run, by id (`None`: AEP has no such spec).
    pub(super) specs: Mutex<HashMap<String, Option<Arc<LiveSpec>>>>,
    /// Catalog datasets read in this run, by sandbox and id (`None`: the sandbox has no such
    /// dataset): a target connection's check and a mapping set's read each once.
    pub(super) datasets: Mutex<HashMap<(String, String), Option<super::explore::Dataset>>>,
    requests: AtomicU64,
    /// The command's deadline; restarted once a person has approved the plan (time spent at
    /// the prompt is not AEP's).
    deadline: Mutex<Deadline>,
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
            datasets: Mutex::new(HashMap::new()),
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
}

/// How a request may be repeated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Repeat {
    /// GET, DELETE, and PATCH with `If-Match`: a repeat cannot do harm.
    Safe,
    /// POST: repeat only when AEP provably did not process it.
    Create,
}

/// One request, before it is sent.
pub(super) struct Call<'a> {
    pub(super) method: Method,
    /// Under the Flow Service base, with any query string.
    pub(super) path: String,
    /// The path without the query, for messages.
    pub(super) label: String,
    pub(super) sandbox: Option<&'a str>,
    pub(super) body: Option<Vec<u8>>,
    pub(super) if_match: Option<&'a str>,
    pub(super) repeat: Repeat,
}

impl<'a> Call<'a> {
    /// A call on one path (its own label), in a sandbox, with no body.
    pub(super) fn on(method: Method, path: String, sandbox: &'a str, repeat: Repeat) -> Call<'a> {
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
pub(super) enum Reply {
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
pub(super) enum Failure {
    /// `sent`: whether AEP may have received the request (anything but a failed connect).
    Transport(reqwest::Error, bool),
    /// No complete answer in time; `by_deadline`: the command's deadline was the bound.
    TimedOut { by_deadline: bool },
}

/// An answer AEP gave.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: Vec<u8>,
    pub(super) attempts: u32,
}

/// A reqwest error in words, with its causes (reqwest's own message is terse).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        // Without the URL reqwest adds (`for url (…)`): the call already names its path,
        // and a URL can be as long as what went into it.
        let text = e.to_string();
        match text.find(" for url (") {
            Some(at) => text[..at].to_owned(),
            None => text,
        }
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
    // Bounded, whatever the causes hold.
    if text.len() > 1024 {
        let mut end = 1024;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl Client {
    /// Sends a call, retrying what is safe to retry, and returns AEP's answer (any status
    /// but a redirect: the caller decides what a 404 means) or a failure. Every attempt, and
    /// every wait between attempts, ends before the command's deadline.
    pub(super) async fn send(&self, call: &Call<'_>) -> Result<Answer, FlowError> {
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

    pub(super) fn protocol(call: &Call<'_>, reason: impl Into<String>) -> FlowError {
        FlowError::Protocol {
            method: call.method.to_string(),
            path: call.label.clone(),
            reason: reason.into(),
        }
    }
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}
