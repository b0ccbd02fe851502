//! Where the Flow Service is and how to authenticate to it, from the environment and flags.
//!
//! One source of truth per value: secrets only from the environment (never flags, which
//! land in shell history), the endpoints from a flag or the environment (the flag wins),
//! everything else from the environment. All problems are reported together.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::limits::{DEFAULT_COMMAND_TIMEOUT, REQUEST_TIMEOUT};
use crate::secret::Secret;
use crate::settings::Environment;

pub const DEFAULT_ENDPOINT: &str = "https://platform.adobe.io/data/foundation/flowservice";
pub const DEFAULT_IMS: &str = "https://ims-na1.adobelogin.com";
/// The scopes AEP's own setup guides use; override with `AEP_SCOPES` from your credential.
pub const DEFAULT_SCOPES: &str =
    "openid,AdobeID,read_organizations,additional_info.projectedProductContext,session";

/// How the client gets its bearer token.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `AEP_ACCESS_TOKEN`: used as it is, never renewed.
    Static(Secret),
    /// OAuth server-to-server through IMS (`POST {ims}/ims/token/v3`).
    Ims {
        url: Url,
        client_secret: Secret,
        scopes: String,
    },
}

/// What flags may override.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub endpoint: Option<String>,
    pub ims_url: Option<String>,
    pub parallelism: Option<usize>,
    pub requests_per_second: Option<f64>,
    /// `--timeout`: the whole command's deadline.
    pub timeout: Option<Duration>,
}

/// Everything the client needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The Flow Service base URL, without a trailing slash.
    pub endpoint: Url,
    pub org_id: String,
    /// Sent as `x-api-key`.
    pub client_id: String,
    pub credentials: Credentials,
    /// Requests in flight at most (the adaptive limit never exceeds it).
    pub parallelism: usize,
    /// Requests per second at most, if capped.
    pub requests_per_second: Option<f64>,
    pub retry: RetryPolicy,
    /// Per-request timeout, from sending to the answer's last byte (IMS included).
    pub timeout: Duration,
    /// The whole command's deadline (`--timeout`): no request, retry or wait of the client
    /// goes past it; it runs from the client's creation.
    pub command_timeout: Duration,
}

/// How hard to try.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry is started once this much time has gone since the first attempt.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(90),
        }
    }
}

/// Settings that could not be read, all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    pub problems: Vec<String>,
    pub help: Vec<String>,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot talk to AEP: {}", self.problems.join("; "))
    }
}

impl SettingsError {
    /// What to do about it: one line per fix.
    pub fn help(&self) -> Option<String> {
        (!self.help.is_empty()).then(|| self.help.join("\nhelp: "))
    }
}

impl std::error::Error for SettingsError {}

/// Checks an endpoint: https, or http to this machine only (the emulator).
pub fn endpoint_url(text: &str, what: &str) -> Result<Url, String> {
    let url =
        Url::parse(text.trim_end_matches('/')).map_err(|e| format!("{what} `{text}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{what} `{text}` uses plain http; only https is allowed, except to this machine (127.0.0.1, ::1, localhost)"
        )),
        other => Err(format!("{what} `{text}` has scheme `{other}`; expected https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Settings {
    pub fn from_env(env: &Environment, overrides: &Overrides) -> Result<Settings, SettingsError> {
        let var = |name: &str| env.var(name).map(str::trim).filter(|v| !v.is_empty());
        let mut problems = Vec::new();
        let mut missing = Vec::new();

        let endpoint_text = overrides
            .endpoint
            .as_deref()
            .or(var("FLOWFORM_ENDPOINT"))
            .unwrap_or(DEFAULT_ENDPOINT);
        let endpoint = endpoint_url(endpoint_text, "the Flow Service endpoint")
            .map_err(|e| problems.push(e))
            .ok();
        let client_id = var("AEP_CLIENT_ID").map(str::to_owned);
        if client_id.is_none() {
            missing.push("AEP_CLIENT_ID");
        }
        let org_id = var("AEP_ORG_ID").map(str::to_owned);
        if org_id.is_none() {
            missing.push("AEP_ORG_ID");
        }
        let credentials = match var("AEP_ACCESS_TOKEN") {
            Some(token) => Some(Credentials::Static(Secret::new(token))),
            None => {
                let ims_text = overrides
                    .ims_url
                    .as_deref()
                    .or(var("AEP_IMS_URL"))
                    .unwrap_or(DEFAULT_IMS);
                let url = endpoint_url(ims_text, "the IMS URL")
                    .map_err(|e| problems.push(e))
                    .ok();
                let secret = var("AEP_CLIENT_SECRET").map(Secret::new);
                if secret.is_none() {
                    missing.push("AEP_CLIENT_SECRET");
                }
                let scopes = var("AEP_SCOPES").unwrap_or(DEFAULT_SCOPES).to_owned();
                url.zip(secret).map(|(url, client_secret)| Credentials::Ims {
                    url,
                    client_secret,
                    scopes,
                })
            }
        };
        let mut help = Vec::new();
        if !missing.is_empty() {
            problems.insert(0, format!("{} not set", missing.join(", ")));
            help.push(
                "set AEP_CLIENT_ID, AEP_CLIENT_SECRET and AEP_ORG_ID from your OAuth server-to-server credential in the Adobe Developer Console (AEP_SCOPES too, if it differs from AEP's usual list), or AEP_ACCESS_TOKEN with AEP_CLIENT_ID and AEP_ORG_ID".to_owned(),
            );
            help.push("to try flowform without AEP, add `--emulator`".to_owned());
        }
        let parallelism = overrides.parallelism.unwrap_or(8);
        if parallelism == 0 {
            problems.push("--parallelism must be at least 1".to_owned());
        }
        if overrides
            .requests_per_second
            .is_some_and(|r| r.is_nan() || r <= 0.0)
        {
            problems.push("--requests-per-second must be a positive number".to_owned());
        }
        let command_timeout = overrides.timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT);
        if command_timeout.is_zero() {
            problems.push("--timeout must be longer than zero".to_owned());
        }
        match (endpoint, client_id, org_id, credentials) {
            (Some(endpoint), Some(client_id), Some(org_id), Some(credentials)) if problems.is_empty() => {
                Ok(Settings {
                    endpoint,
                    org_id,
                    client_id,
                    credentials,
                    parallelism,
                    requests_per_second: overrides.requests_per_second,
                    retry: RetryPolicy::default(),
                    timeout: REQUEST_TIMEOUT,
                    command_timeout,
                })
            }
            _ => Err(SettingsError { problems, help }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_except_on_loopback() {
        for ok in [
            "https://platform.adobe.io/data/foundation/flowservice",
            "http://127.0.0.1:8080/x",
            "http://[::1]:1",
            "http://localhost:9",
        ] {
            assert!(endpoint_url(ok, "e").is_ok(), "{ok}");
        }
        for bad in [
            "http://platform.adobe.io",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            assert!(endpoint_url(bad, "e").is_err(), "{bad}");
        }
    }

    #[test]
    fn every_missing_setting_is_named_at_once() {
        let err = Settings::from_env(&Environment::default(), &Overrides::default()).unwrap_err();
        assert_eq!(
            err.problems[0],
            "AEP_CLIENT_ID, AEP_ORG_ID, AEP_CLIENT_SECRET not set"
        );
        assert!(
            err.help().is_some_and(|h| h.contains("set AEP_CLIENT_ID")),
            "{err:?}"
        );
        let env = Environment::from_pairs([
            ("AEP_ACCESS_TOKEN", "t"),
            ("AEP_CLIENT_ID", "c"),
            ("AEP_ORG_ID", "o"),
        ]);
        let s = Settings::from_env(&env, &Overrides::default()).unwrap();
        assert!(matches!(s.credentials, Credentials::Static(_)));
        assert_eq!(s.endpoint.as_str(), DEFAULT_ENDPOINT);
        let env = Environment::from_pairs([
            ("AEP_CLIENT_ID", "c"),
            ("AEP_ORG_ID", "o"),
            ("AEP_CLIENT_SECRET", "s"),
            ("FLOWFORM_ENDPOINT", "http://example.com"),
        ]);
        let err = Settings::from_env(&env, &Overrides::default()).unwrap_err();
        assert!(err.problems[0].contains("plain http"), "{err}");
        assert!(!format!("{err} {err:?}").contains("\"s\""));
    }

    #[test]
    fn the_command_deadline_defaults_to_30m_and_must_be_positive() {
        let env = Environment::from_pairs([
            ("AEP_ACCESS_TOKEN", "t"),
            ("AEP_CLIENT_ID", "c"),
            ("AEP_ORG_ID", "o"),
        ]);
        let s = Settings::from_env(&env, &Overrides::default()).unwrap();
        assert_eq!(s.command_timeout, Duration::from_secs(1800));
        let three = Overrides {
            timeout: Some(Duration::from_secs(3)),
            ..Overrides::default()
        };
        assert_eq!(
            Settings::from_env(&env, &three).unwrap().command_timeout,
            Duration::from_secs(3)
        );
        let zero = Overrides {
            timeout: Some(Duration::ZERO),
            ..Overrides::default()
        };
        let err = Settings::from_env(&env, &zero).unwrap_err();
        assert_eq!(err.problems, ["--timeout must be longer than zero"]);
    }
}
