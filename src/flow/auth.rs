//! Bearer tokens: a static one, or OAuth server-to-server tokens from IMS, cached in memory,
//! renewed before they expire and once after a 401. A token is a [`Secret`]: it never
//! reaches a log line.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::error::FlowError;
use super::settings::Credentials;
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

    /// A token that is good for a while yet.
    pub async fn token(&self, http: &reqwest::Client) -> Result<Secret, FlowError> {
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
        let token_url = format!("{}/ims/token/v3", url.as_str().trim_end_matches('/'));
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", client_secret.expose())
            .append_pair("scope", scopes)
            .finish();
        crate::trace!("requesting an access token from {token_url}");
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500) * attempt).await;
            }
            let response = http
                .post(&token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.clone())
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    last = super::describe(&e);
                    continue;
                }
            };
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status.is_server_error() || status == 429 {
                last = format!("IMS answered {status}");
                continue;
            }
            if !status.is_success() {
                let reason = json["error_description"]
                    .as_str()
                    .or(json["error"].as_str())
                    .unwrap_or("no reason given");
                return Err(FlowError::Auth(format!(
                    "IMS refused the credential ({status}: {reason}); check AEP_CLIENT_ID, AEP_CLIENT_SECRET and AEP_SCOPES"
                )));
            }
            let Some(token) = json["access_token"].as_str() else {
                return Err(FlowError::Auth("IMS answered without an access_token".to_owned()));
            };
            // `expires_in` is in seconds on /ims/token/v3 (the old JWT exchange used ms).
            let lifetime = Duration::from_secs(json["expires_in"].as_u64().unwrap_or(3600));
            let margin = (lifetime / 10).min(Duration::from_secs(300));
            let token = Secret::new(token);
            *cache = Some(Cached {
                token: token.clone(),
                renew_at: Instant::now() + lifetime - margin,
            });
            crate::trace!("got an access token valid for {} s", lifetime.as_secs());
            return Ok(token);
        }
        Err(FlowError::Auth(format!("IMS did not answer: {last}")))
    }

    /// Forgets `rejected` (AEP answered 401 to it), unless another task already renewed it.
    pub async fn invalidate(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.token == *rejected) {
            *cache = None;
        }
    }
}
