//! Bearer tokens: a static one, or OAuth server-to-server tokens from IMS, cached in memory,
//! renewed before they expire and once after a 401. A token is a [`Secret`]: it never
//! reaches a log line. The client secret goes to IMS's own URL and nowhere else: a redirect
//! is an error, never followed.

use std::time::{Duration, Instant};

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

pub struct TokenSource {
    credentials: Credentials,
    client_id: String,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenSource {
    pub fn new(credentials: Credentials, client_id: String) -> TokenSource {
        TokenSource {
            credentials,
            client_id,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// Whether a rejected token can be replaced by asking again.
    pub fn renewable(&self) -> bool {
        matches!(self.credentials, Credentials::Ims { .. })
    }

    /// A token that is good for a while yet. Each attempt at IMS is bounded by `timeout` and
    /// the command's deadline; IMS's redirects are refused, its answer read up to a cap.
    pub async fn token_within(
        &self,
        http: &reqwest::Client,
        deadline: &Deadline,
        timeout: Duration,
    ) -> Result<Secret, FlowError> {
        let (url, client_secret, scopes) = match &self.credentials {
            Credentials::Static(token) => return Ok(token.clone()),
            Credentials::Ims {
                url,
                client_secret,
                scopes,
            } => (url, client_secret, scopes),
        };
        // One renewal at a time; the others wait for it and use its token.
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(cached.token.clone());
        }
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
                        "POST {TOKEN_PATH}: IMS sent no complete answer within {} (attempt {attempt} of {TOKEN_ATTEMPTS}); a silent IMS is not asked again{}",
                        Human(timeout),
                        if last.is_empty() {
                            String::new()
                        } else {
                            format!(" (before: {last})")
                        }
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
            *cache = Some(Cached {
                token: answer.access_token.clone(),
                renew_at: now.checked_add(answer.lifetime - margin).unwrap_or(now),
            });
            crate::trace!("got an access token valid for {} s", answer.lifetime.as_secs());
            return Ok(answer.access_token);
        }
        Err(FlowError::Auth(format!(
            "IMS did not answer after {TOKEN_ATTEMPTS} attempts: {last}"
        )))
    }

    /// Forgets `rejected` (AEP answered 401 to it), unless another task already renewed it.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token == *rejected) {
            *cache = None;
        }
    }
}
