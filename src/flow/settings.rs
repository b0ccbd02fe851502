//! Where the Flow Service is and how to authenticate to it, from the environment and flags.
//!
//! One source of truth per value: secrets only from the environment (never flags, which
//! land in shell history), the endpoints and the URL length from a flag or the environment
//! (the flag wins), everything else from the environment. All problems are reported together.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::limits::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_MAX_URL_LENGTH, MIN_MAX_URL_LENGTH, REQUEST_TIMEOUT};
use crate::secret::Secret;
use crate::settings::Environment;

pub const DEFAULT_ENDPOINT: &str = "https://platform.adobe.io/data/foundation/flowservice";
/// Where Flow Service lives under AEP's host (and the emulator's).
pub const FLOW_PATH: &str = "/data/foundation/flowservice";
pub const DEFAULT_IMS: &str = "https://ims-na1.adobelogin.com";

/// Where IMS hands out OAuth server-to-server tokens, under the IMS base URL.
pub const TOKEN_PATH: &str = "/ims/token/v3";
/// What every organization id ends in.
pub const ORG_SUFFIX: &str = "@AdobeOrg";
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
    /// `--max-url-length`: the longest URL to send.
    pub max_url_length: Option<usize>,
}

/// Requests in flight at most, by default. AEP documents no rate limit (a 429 halves the
/// bound, which recovers); 16 lets a no-op plan of 40,000 resources read its ~400 pages at
/// 50 ms in well under 2 s, where 8 needs 2.5 s for the waiting alone.
pub const DEFAULT_PARALLELISM: usize = 16;

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
    /// The longest URL sent (scheme, host, path and query): filters with many values are
    /// split into requests that each stay within it ([`super::limits::DEFAULT_MAX_URL_LENGTH`]).
    pub max_url_length: usize,
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

/// A setting that cannot be used: the problem, and its fix when there is an obvious one.
type Refused = (String, Option<String>);

/// Checks an endpoint: https, or http to this machine only (the emulator).
pub fn endpoint_url(text: &str, what: &str) -> Result<Url, Refused> {
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|e| (format!("{what} `{text}` is not a URL: {e}"), None))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err((
            format!(
                "{what} `{text}` uses plain http; only https is allowed, except to this machine (127.0.0.1, ::1, localhost)"
            ),
            None,
        )),
        other => Err((
            format!("{what} `{text}` has scheme `{other}`; expected https"),
            None,
        )),
    }
}

/// `url` with `path` in place of its path (no query or fragment).
fn with_path(url: &Url, path: &str) -> String {
    let mut fixed = url.clone();
    fixed.set_path(path);
    fixed.set_query(None);
    fixed.set_fragment(None);
    fixed.as_str().trim_end_matches('/').to_owned()
}

/// Checks that the Flow Service endpoint ends in Flow Service's path: a host alone, part of
/// the path, or a path that goes past it (`…/flowservice/connections`) would have every
/// request answered 404, long after the command started.
fn flow_path(url: Url, source: &str) -> Result<Url, Refused> {
    let path = url.path().trim_end_matches('/');
    if path.ends_with(FLOW_PATH) {
        return Ok(url);
    }
    let fixed = if let Some(at) = path.find(&format!("{FLOW_PATH}/")) {
        // Past the base: flowform adds `/connections` and the rest itself.
        with_path(&url, &path[..at + FLOW_PATH.len()])
    } else if path.is_empty() || FLOW_PATH.starts_with(&format!("{path}/")) {
        with_path(&url, FLOW_PATH)
    } else if url.host_str().is_some_and(|h| h.ends_with(".adobe.io")) {
        // AEP's own hosts serve Flow Service at this path and nowhere else.
        with_path(&url, FLOW_PATH)
    } else {
        // Some other path on some other host (a gateway of one's own): its business.
        return Ok(url);
    };
    Err((
        format!(
            "the Flow Service endpoint `{url}` does not end in `{FLOW_PATH}`, where Flow Service answers",
            url = url.as_str().trim_end_matches('/')
        ),
        Some(format!(
            "set {source} to `{fixed}` (flowform adds `/connections` and the rest itself)"
        )),
    ))
}

/// The IMS base URL. IMS's token endpoint itself (`…/ims/token/v3`, as Adobe's guides show
/// it) is taken for its base; any other IMS endpoint (the retired JWT exchange, say) is
/// refused, rather than sent a credential to be answered 404.
fn ims_base(url: Url, source: &str) -> Result<Url, Refused> {
    let path = url.path().trim_end_matches('/');
    if let Some(base) = path.strip_suffix(TOKEN_PATH) {
        let mut base_url = url.clone();
        base_url.set_path(base);
        return Ok(base_url);
    }
    match path.find("/ims/") {
        Some(at) => Err((
            format!(
                "the IMS URL `{url}` names the IMS endpoint `{endpoint}`; flowform gets OAuth server-to-server tokens from `{token}` under IMS's base URL",
                url = url.as_str().trim_end_matches('/'),
                endpoint = &path[at..],
                token = TOKEN_PATH
            ),
            Some(format!(
                "set {source} to IMS's base URL, `{}`",
                with_path(&url, &path[..at])
            )),
        )),
        None => Ok(url),
    }
}

/// What is wrong with an organization id, and its fix. Every one ends in `@AdobeOrg`; one
/// without it is answered `403025 Profile is not valid` by AEP's gateway, which does not
/// say which header it means.
fn org_problem(org: &str) -> Option<(String, String)> {
    if org.ends_with(ORG_SUFFIX) && org.len() > ORG_SUFFIX.len() {
        return None;
    }
    let problem = format!("AEP_ORG_ID `{org}` does not end in `{ORG_SUFFIX}`; an organization id does");
    let fix = match org.rsplit_once('@') {
        Some((id, suffix)) if suffix.eq_ignore_ascii_case("AdobeOrg") && !id.is_empty() => {
            format!("write it as Adobe does: `{id}{ORG_SUFFIX}`")
        }
        None if !org.is_empty() && org.chars().all(|c| c.is_ascii_alphanumeric()) => format!(
            "did you mean `{org}{ORG_SUFFIX}`? Copy the organization id from the Adobe Developer Console (the project's credential, `Organization ID`)"
        ),
        _ => format!(
            "copy the organization id from the Adobe Developer Console (the project's credential, `Organization ID`): it reads like `0123456789ABCDEF01234567{ORG_SUFFIX}`"
        ),
    };
    Some((problem, fix))
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
        let mut help = Vec::new();
        let endpoint_source = if overrides.endpoint.is_some() {
            "--endpoint"
        } else {
            "FLOWFORM_ENDPOINT"
        };
        let endpoint = endpoint_url(endpoint_text, "the Flow Service endpoint")
            .and_then(|url| flow_path(url, endpoint_source))
            .map_err(|(problem, fix)| {
                problems.push(problem);
                help.extend(fix);
            })
            .ok();
        let client_id = var("AEP_CLIENT_ID").map(str::to_owned);
        if client_id.is_none() {
            missing.push("AEP_CLIENT_ID");
        }
        let org_id = var("AEP_ORG_ID").map(str::to_owned);
        match org_id.as_deref().map(org_problem) {
            None => missing.push("AEP_ORG_ID"),
            Some(Some((problem, fix))) => {
                problems.push(problem);
                help.push(fix);
            }
            Some(None) => {}
        }
        let credentials = match var("AEP_ACCESS_TOKEN") {
            Some(token) => Some(Credentials::Static(Secret::new(token))),
            None => {
                let ims_text = overrides
                    .ims_url
                    .as_deref()
                    .or(var("AEP_IMS_URL"))
                    .unwrap_or(DEFAULT_IMS);
                let ims_source = if overrides.ims_url.is_some() {
                    "--ims-url"
                } else {
                    "AEP_IMS_URL"
                };
                let url = endpoint_url(ims_text, "the IMS URL")
                    .and_then(|url| ims_base(url, ims_source))
                    .map_err(|(problem, fix)| {
                        problems.push(problem);
                        help.extend(fix);
                    })
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
        if !missing.is_empty() {
            problems.insert(0, format!("{} not set", missing.join(", ")));
            help.insert(
                0,
                "set AEP_CLIENT_ID, AEP_CLIENT_SECRET and AEP_ORG_ID from your OAuth server-to-server credential in the Adobe Developer Console (AEP_SCOPES too, if it differs from AEP's usual list), or AEP_ACCESS_TOKEN with AEP_CLIENT_ID and AEP_ORG_ID".to_owned(),
            );
            help.insert(1, "to try flowform without AEP, add `--emulator`".to_owned());
        }
        let parallelism = overrides.parallelism.unwrap_or(DEFAULT_PARALLELISM);
        if parallelism == 0 {
            problems.push("--parallelism must be at least 1".to_owned());
        }
        if overrides
            .requests_per_second
            .is_some_and(|r| r.is_nan() || r <= 0.0)
        {
            problems.push("--requests-per-second must be a positive number".to_owned());
        }
        let max_url_length = match overrides.max_url_length {
            Some(n) => Some(n),
            None => var("FLOWFORM_MAX_URL_LENGTH").map(|v| {
                v.parse::<usize>().unwrap_or_else(|_| {
                    problems.push(format!("FLOWFORM_MAX_URL_LENGTH `{v}` is not a number"));
                    DEFAULT_MAX_URL_LENGTH
                })
            }),
        }
        .unwrap_or(DEFAULT_MAX_URL_LENGTH);
        if max_url_length < MIN_MAX_URL_LENGTH {
            problems.push(format!(
                "the longest URL (--max-url-length, FLOWFORM_MAX_URL_LENGTH) must be at least {MIN_MAX_URL_LENGTH} characters"
            ));
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
                    max_url_length,
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
    fn the_endpoint_must_end_in_flow_services_path() {
        let check = |text: &str| {
            endpoint_url(text, "e")
                .and_then(|url| flow_path(url, "FLOWFORM_ENDPOINT"))
                .map(|url| url.to_string())
                .map_err(|(_, fix)| fix.unwrap_or_default())
        };
        let fix = |url: &str| {
            Err(format!(
                "set FLOWFORM_ENDPOINT to `{url}` (flowform adds `/connections` and the rest itself)"
            ))
        };
        let cases = [
            (DEFAULT_ENDPOINT, Ok(DEFAULT_ENDPOINT.to_owned())),
            (
                "http://127.0.0.1:9/data/foundation/flowservice/",
                Ok("http://127.0.0.1:9/data/foundation/flowservice".to_owned()),
            ),
            (
                "https://gw.example.com/aep/data/foundation/flowservice",
                Ok("https://gw.example.com/aep/data/foundation/flowservice".to_owned()),
            ),
            // Another path on another host is that host's business.
            (
                "https://gw.example.com/flow",
                Ok("https://gw.example.com/flow".to_owned()),
            ),
            ("https://platform.adobe.io", fix(DEFAULT_ENDPOINT)),
            ("https://platform.adobe.io/data/foundation", fix(DEFAULT_ENDPOINT)),
            (
                "https://platform.adobe.io/data/foundation/catalog",
                fix(DEFAULT_ENDPOINT),
            ),
            (
                "https://platform.adobe.io/data/foundation/flowservice/connections?limit=1",
                fix(DEFAULT_ENDPOINT),
            ),
            (
                "http://127.0.0.1:9",
                fix("http://127.0.0.1:9/data/foundation/flowservice"),
            ),
            (
                "https://gw.example.com/aep/data/foundation/flowservice/connections",
                fix("https://gw.example.com/aep/data/foundation/flowservice"),
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(check(given), expected, "{given}");
        }
    }

    #[test]
    fn the_ims_url_is_a_base_or_the_token_endpoint() {
        let check = |text: &str| {
            endpoint_url(text, "e")
                .and_then(|url| ims_base(url, "AEP_IMS_URL"))
                .map(|url| url.as_str().trim_end_matches('/').to_owned())
                .map_err(|(_, fix)| fix.unwrap_or_default())
        };
        let cases = [
            (DEFAULT_IMS, Ok(DEFAULT_IMS.to_owned())),
            (
                "https://ims-na1.adobelogin.com/ims/token/v3",
                Ok(DEFAULT_IMS.to_owned()),
            ),
            (
                "https://ims-na1.adobelogin.com/ims/token/v3/",
                Ok(DEFAULT_IMS.to_owned()),
            ),
            (
                "http://127.0.0.1:9/ims/token/v3",
                Ok("http://127.0.0.1:9".to_owned()),
            ),
            (
                "https://gw.example.com/ims-proxy",
                Ok("https://gw.example.com/ims-proxy".to_owned()),
            ),
            (
                "https://ims-na1.adobelogin.com/ims/exchange/jwt",
                Err(format!("set AEP_IMS_URL to IMS's base URL, `{DEFAULT_IMS}`")),
            ),
            (
                "https://ims-na1.adobelogin.com/ims/token/v2",
                Err(format!("set AEP_IMS_URL to IMS's base URL, `{DEFAULT_IMS}`")),
            ),
        ];
        for (given, expected) in cases {
            assert_eq!(check(given), expected, "{given}");
        }
    }

    #[test]
    fn an_organization_id_ends_in_adobeorg() {
        assert_eq!(org_problem("0123456789ABCDEF01234567@AdobeOrg"), None);
        let fix = |org: &str| org_problem(org).map(|(_, fix)| fix);
        assert_eq!(
            fix("0123456789ABCDEF01234567@adobeorg"),
            Some("write it as Adobe does: `0123456789ABCDEF01234567@AdobeOrg`".to_owned())
        );
        assert!(
            fix("0123456789ABCDEF01234567")
                .is_some_and(|f| f.starts_with("did you mean `0123456789ABCDEF01234567@AdobeOrg`?")),
        );
        for bad in ["@AdobeOrg", "acme corp", "x@AdobeOrg.com"] {
            assert!(fix(bad).is_some_and(|f| f.contains("Developer Console")), "{bad}");
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
            ("AEP_ORG_ID", "o@AdobeOrg"),
        ]);
        let s = Settings::from_env(&env, &Overrides::default()).unwrap();
        assert!(matches!(s.credentials, Credentials::Static(_)));
        assert_eq!(s.endpoint.as_str(), DEFAULT_ENDPOINT);
        let env = Environment::from_pairs([
            ("AEP_CLIENT_ID", "c"),
            ("AEP_ORG_ID", "o@AdobeOrg"),
            ("AEP_CLIENT_SECRET", "s"),
            ("FLOWFORM_ENDPOINT", "http://example.com"),
        ]);
        let err = Settings::from_env(&env, &Overrides::default()).unwrap_err();
        assert!(err.problems[0].contains("plain http"), "{err}");
        assert!(!format!("{err} {err:?}").contains("\"s\""));
    }

    #[test]
    fn the_url_length_comes_from_the_flag_or_the_environment_and_has_a_floor() {
        let env = |length: Option<&str>| {
            let mut pairs = vec![
                ("AEP_ACCESS_TOKEN", "t"),
                ("AEP_CLIENT_ID", "c"),
                ("AEP_ORG_ID", "o@AdobeOrg"),
            ];
            pairs.extend(length.map(|l| ("FLOWFORM_MAX_URL_LENGTH", l)));
            Environment::from_pairs(pairs)
        };
        let flag = |n: usize| Overrides {
            max_url_length: Some(n),
            ..Overrides::default()
        };
        let none = Overrides::default();
        let length = |env: &Environment, o: &Overrides| Settings::from_env(env, o).map(|s| s.max_url_length);
        assert_eq!(length(&env(None), &none), Ok(DEFAULT_MAX_URL_LENGTH));
        assert_eq!(length(&env(Some("2000")), &none), Ok(2000));
        assert_eq!(length(&env(Some("2000")), &flag(3000)), Ok(3000), "the flag wins");
        let err = length(&env(Some("long")), &none).unwrap_err();
        assert!(err.problems[0].contains("`long` is not a number"), "{err}");
        let err = length(&env(None), &flag(100)).unwrap_err();
        assert!(err.problems[0].contains("at least 256"), "{err}");
    }

    #[test]
    fn the_command_deadline_defaults_to_30m_and_must_be_positive() {
        let env = Environment::from_pairs([
            ("AEP_ACCESS_TOKEN", "t"),
            ("AEP_CLIENT_ID", "c"),
            ("AEP_ORG_ID", "o@AdobeOrg"),
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
