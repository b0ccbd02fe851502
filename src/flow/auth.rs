//! Bearer tokens: a static one, or OAuth server-to-server tokens from IMS, cached in memory,
//! renewed before they expire and once after a 401. A token is a [`Secret`]: it never
//! reaches a log line. The client secret goes to IMS's own URL and nowhere else: a redirect
//! is an error, never followed.
//!
//! Many requests run at once and each needs a token: while one of them asks IMS, the others
//! wait for that same attempt and share its outcome, the token or the failure. A silent IMS
//! thus costs one timeout however many requests were waiting, and the error they all report
//! says how often IMS was asked, for how long, and where.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::LOCATION;

use super::body::{self, BodyError};
use super::deadline::{Deadline, Human};
use super::error::FlowError;
use super::limits::{ERROR_BODY_CAP, TOKEN_ANSWER_CAP, TOKEN_ATTEMPTS};
use super::parse;
use super::settings::{Credentials, TOKEN_PATH};
use crate::secret::Secret;

struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// What the last request for a token left behind.
#[derive(Default)]
struct Slot {
    token: Option<Cached>,
    /// How the last request for a token failed, for those that waited for it.
    failure: Option<FlowError>,
}

pub struct TokenSource {
    credentials: Credentials,
    client_id: String,
    /// Held for the whole of a request for a token: whoever needs one meanwhile waits here
    /// for its outcome rather than asking IMS too.
    slot: tokio::sync::Mutex<Slot>,
    /// Requests for a token that have ended (each one or more attempts at IMS), counted under
    /// `slot`'s lock and read before waiting for it: a change means an outcome was decided
    /// while the reader waited, and is the reader's too.
    ended: AtomicU64,
    /// Requests sent to IMS in this run, for the messages.
    asked: AtomicU32,
}

impl TokenSource {
    pub fn new(credentials: Credentials, client_id: String) -> TokenSource {
        TokenSource {
            credentials,
            client_id,
            slot: tokio::sync::Mutex::new(Slot::default()),
            ended: AtomicU64::new(0),
            asked: AtomicU32::new(0),
        }
    }

    /// Whether a rejected token can be replaced by asking again.
    pub fn renewable(&self) -> bool {
        matches!(self.credentials, Credentials::Ims { .. })
    }

    /// A token that is good for a while yet. Each attempt at IMS is bounded by `timeout` and
    /// the command's deadline; IMS's redirects are refused, its answer read up to a cap.
    ///
    /// One request for a token at a time: callers that arrive while it runs wait for it and
    /// get its token, or its failure (they would only wait as long again for the same
    /// answer). A caller that arrives after a failure asks IMS anew. Should the caller that
    /// is asking be dropped, the next one in line asks instead.
    pub async fn token_within(
        &self,
        http: &reqwest::Client,
        deadline: &Deadline,
        timeout: Duration,
    ) -> Result<Secret, FlowError> {
        let ims = match &self.credentials {
            Credentials::Static(token) => return Ok(token.clone()),
            Credentials::Ims {
                url,
                client_secret,
                scopes,
            } => (url, client_secret, scopes.as_str()),
        };
        let seen = self.ended.load(Ordering::SeqCst);
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.token.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(cached.token.clone());
        }
        if self.ended.load(Ordering::SeqCst) != seen
            && let Some(failure) = &slot.failure
        {
            crate::trace!("sharing the outcome of the request for a token made while this one waited");
            return Err(copy(failure));
        }
        let outcome = self.ask(http, deadline, timeout, ims).await;
        match &outcome {
            Ok(fresh) => {
                slot.token = Some(Cached {
                    token: fresh.token.clone(),
                    renew_at: fresh.renew_at,
                });
                slot.failure = None;
            }
            Err(e) => slot.failure = Some(copy(e)),
        }
        self.ended.fetch_add(1, Ordering::SeqCst);
        outcome.map(|fresh| fresh.token)
    }

    /// Asks IMS for a token: up to [`TOKEN_ATTEMPTS`] attempts, and none after one that IMS
    /// left unanswered.
    async fn ask(
        &self,
        http: &reqwest::Client,
        deadline: &Deadline,
        timeout: Duration,
        (url, client_secret, scopes): (&Url, &Secret, &str),
    ) -> Result<Cached, FlowError> {
        let started = Instant::now();
        // How often IMS was asked, and for how long: what a failure without an answer says.
        let tally = |attempts: u32| self.tally(url, attempts, started.elapsed());
        let token_url = format!("{}{TOKEN_PATH}", url.as_str().trim_end_matches('/'));
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", client_secret.expose())
            .append_pair("scope", scopes)
            .finish();
        crate::trace!("requesting an access token from {token_url}");
        let passed = |what: String| FlowError::Deadline {
            method: "POST".to_owned(),
            path: TOKEN_PATH.to_owned(),
            flag: deadline.flag(),
            what,
        };
        let mut last = String::new();
        for attempt in 1..=TOKEN_ATTEMPTS {
            if attempt > 1 {
                let wait = Duration::from_millis(500) * (attempt - 1);
                if !deadline.allows(wait) {
                    return Err(passed(format!(
                        "would pass before IMS could be asked again ({last})"
                    )));
                }
                tokio::time::sleep(wait).await;
            }
            if deadline.passed() {
                return Err(passed("passed before IMS could be asked for a token".to_owned()));
            }
            let (bound, by_deadline) = deadline.bound(timeout);
            self.asked.fetch_add(1, Ordering::SeqCst);
            let exchange = async {
                let mut response = http
                    .post(&token_url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form.clone())
                    .send()
                    .await?;
                let status = response.status();
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = if status.is_redirection() {
                    Ok(Vec::new())
                } else if status.is_success() {
                    body::read(&mut response, TOKEN_ANSWER_CAP).await
                } else {
                    body::read_prefix(&mut response, ERROR_BODY_CAP)
                        .await
                        .map_err(BodyError::Transport)
                };
                Ok::<_, reqwest::Error>((status, location, body))
            };
            let (status, location, body) = match tokio::time::timeout(bound, exchange).await {
                Err(_) if by_deadline => {
                    return Err(passed("passed while waiting for IMS to answer".to_owned()));
                }
                // A server that says nothing for the whole timeout is not asked again: that
                // would only multiply the wait (three times 30 s) for the same silence.
                Err(_) => {
                    return Err(FlowError::Auth(format!(
                        "POST {TOKEN_PATH}: IMS sent no complete answer within {} (attempt {attempt} of {TOKEN_ATTEMPTS}{}); a silent IMS is not asked again: {}",
                        Human(timeout),
                        if last.is_empty() {
                            String::new()
                        } else {
                            format!("; before: {last}")
                        },
                        tally(attempt)
                    )));
                }
                Ok(Err(e)) => {
                    last = super::describe(&e);
                    continue;
                }
                Ok(Ok(answer)) => answer,
            };
            if status.is_redirection() {
                return Err(FlowError::Redirect {
                    method: "POST".to_owned(),
                    path: TOKEN_PATH.to_owned(),
                    service: "IMS",
                    status,
                    towards: parse::redirect_target(url, location.as_deref()),
                });
            }
            let body = match body {
                Ok(body) => body,
                Err(BodyError::TooLarge) => {
                    return Err(FlowError::Auth(format!(
                        "POST {TOKEN_PATH}: IMS's answer is larger than the {} flowform reads for a token; stopped reading",
                        body::size(TOKEN_ANSWER_CAP)
                    )));
                }
                Err(BodyError::Transport(e)) => {
                    last = super::describe(&e);
                    continue;
                }
            };
            if status.is_server_error() || status == 429 {
                last = format!("IMS answered {status}");
                continue;
            }
            if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::METHOD_NOT_ALLOWED {
                // Nothing there takes a credential: the URL is wrong, not the credential.
                return Err(FlowError::ImsUrl {
                    url: token_url,
                    status,
                });
            }
            if !status.is_success() {
                // IMS was sent the client secret: should it repeat it, it is not shown.
                let reason = parse::ims_refusal(&parse::redacted(&body, client_secret.expose()))
                    .map(|r| r.replace(client_secret.expose(), "(redacted)"))
                    .unwrap_or_else(|| "no reason given".to_owned());
                return Err(FlowError::Auth(format!(
                    "IMS refused the credential ({status}: {reason}); check AEP_CLIENT_ID, AEP_CLIENT_SECRET and AEP_SCOPES"
                )));
            }
            let answer = parse::token(&body).map_err(FlowError::Auth)?;
            let margin = (answer.lifetime / 10).min(Duration::from_secs(300));
            let now = Instant::now();
            crate::trace!("got an access token valid for {} s", answer.lifetime.as_secs());
            return Ok(Cached {
                token: answer.access_token,
                renew_at: now.checked_add(answer.lifetime - margin).unwrap_or(now),
            });
        }
        Err(FlowError::Auth(format!(
            "POST {TOKEN_PATH}: IMS gave no token in {TOKEN_ATTEMPTS} attempts (the last: {last}): {}",
            tally(TOKEN_ATTEMPTS)
        )))
    }

    /// `IMS at ims-na1.adobelogin.com was asked 2 times in 31.5 s, …`: what a request for a
    /// token that failed after `attempts` attempts and `took` did, and that those waiting for
    /// it share its failure. IMS's host only: its URL could carry more than a host.
    fn tally(&self, url: &Url, attempts: u32, took: Duration) -> String {
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => "(no host)".to_owned(),
        };
        let times = |n: u32| {
            if n == 1 {
                "once".to_owned()
            } else {
                format!("{n} times")
            }
        };
        let in_run = self.asked.load(Ordering::SeqCst);
        format!(
            "IMS at {host} was asked {} in {:.1} s{}, and the requests waiting for this token share this failure",
            times(attempts),
            took.as_secs_f64(),
            if in_run > attempts {
                format!(" ({} in this run)", times(in_run))
            } else {
                String::new()
            }
        )
    }

    /// Forgets `rejected` (AEP answered 401 to it), unless another task already renewed it.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut slot = self.slot.lock().await;
        if slot.token.as_ref().is_some_and(|c| c.token == *rejected) {
            slot.token = None;
        }
    }
}

/// The same failure again, for each caller that waited for it (`FlowError` is not `Clone`;
/// the match is exhaustive, so a new variant cannot be forgotten here).
fn copy(e: &FlowError) -> FlowError {
    match e {
        FlowError::Api(api) => FlowError::Api(api.clone()),
        FlowError::Transport { method, path, reason } => FlowError::Transport {
            method: method.clone(),
            path: path.clone(),
            reason: reason.clone(),
        },
        FlowError::OutcomeUnknown { method, path, reason } => FlowError::OutcomeUnknown {
            method: method.clone(),
            path: path.clone(),
            reason: reason.clone(),
        },
        FlowError::Protocol { method, path, reason } => FlowError::Protocol {
            method: method.clone(),
            path: path.clone(),
            reason: reason.clone(),
        },
        FlowError::Auth(text) => FlowError::Auth(text.clone()),
        FlowError::ImsUrl { url, status } => FlowError::ImsUrl {
            url: url.clone(),
            status: *status,
        },
        FlowError::Redirect {
            method,
            path,
            service,
            status,
            towards,
        } => FlowError::Redirect {
            method: method.clone(),
            path: path.clone(),
            service,
            status: *status,
            towards: towards.clone(),
        },
        FlowError::Deadline {
            method,
            path,
            flag,
            what,
        } => FlowError::Deadline {
            method: method.clone(),
            path: path.clone(),
            flag: flag.clone(),
            what: what.clone(),
        },
    }
}
