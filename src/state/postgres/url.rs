//! The PostgreSQL state's address: `postgres://[user@]host[:port]/database?state=NAME`, as
//! the project file's `state` (or `--state`) gives it, parsed once into what flowform uses.
//!
//! A password never comes from the URL: the project file is committed, and a URL is printed
//! in messages. It comes from the environment (`FLOWFORM_PGPASSWORD`, else `PGPASSWORD`),
//! and a URL that carries one is refused without echoing it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;
use crate::settings::Environment;

/// The schema flowform's tables live in unless `schema=` says otherwise.
pub const DEFAULT_SCHEMA: &str = "flowform";

/// The variables a password is read from, in order.
pub const PASSWORD_VARS: [&str; 2] = ["FLOWFORM_PGPASSWORD", "PGPASSWORD"];

/// The query parameters flowform understands.
const PARAMS: [&str; 5] = ["state", "schema", "sslmode", "sslrootcert", "connect_timeout"];

/// How much TLS, as libpq's `sslmode` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never.
    Disable,
    /// TLS when the server offers it, the certificate unchecked (libpq's default).
    Prefer,
    /// TLS always; the certificate is not checked (unless `sslrootcert` is given).
    Require,
    /// TLS; the certificate chains to a trusted root; any host name.
    VerifyCa,
    /// TLS; the certificate chains to a trusted root and names the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A parsed `postgres://` state location (no password in it, ever).
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    pub host: String,
    pub port: u16,
    /// `None`: `PGUSER`, else `USER`, at connection time.
    pub user: Option<String>,
    pub database: String,
    /// The state's name: several projects keep their states side by side in one schema.
    pub state: String,
    pub schema: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    pub connect_timeout: Duration,
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgUrl({self})")
    }
}

/// How a URL is shown: everything that names the state, never a password.
impl fmt::Display for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://")?;
        if let Some(user) = &self.user {
            write!(f, "{}@", encode(user))?;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{host}:{}/{}?state={}",
            self.port,
            encode(&self.database),
            encode(&self.state)
        )?;
        if self.schema != DEFAULT_SCHEMA {
            write!(f, "&schema={}", self.schema)?;
        }
        Ok(())
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
}

fn decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "a percent-encoded part is not UTF-8".to_owned())
}

/// Whether `text` is meant as a PostgreSQL URL rather than a file path.
pub fn is_postgres(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Shows a URL with any password replaced by `***`: for messages about a URL that could not
/// be parsed (a parsed one never holds a password).
pub fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // A `password=` in the query too.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// Why a URL is not a state location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// It carries a password.
    Password {
        shown: String,
    },
    Invalid {
        shown: String,
        reason: String,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Password { shown } => write!(
                f,
                "the state URL `{shown}` carries a password; flowform never takes one from a URL (the project file is committed, and URLs are printed)"
            ),
            UrlError::Invalid { shown, reason } => write!(f, "the state URL `{shown}` {reason}"),
        }
    }
}

impl UrlError {
    pub fn help(&self) -> String {
        match self {
            UrlError::Password { .. } => format!(
                "remove the password from the URL and set `{}` (or `{}`) in the environment of the steps that need it",
                PASSWORD_VARS[0], PASSWORD_VARS[1]
            ),
            UrlError::Invalid { .. } => {
                "a PostgreSQL state is `postgres://USER@HOST:5432/DATABASE?state=NAME` (optional: `schema=`, `sslmode=disable|prefer|require|verify-ca|verify-full`, `sslrootcert=PATH`, `connect_timeout=SECONDS`)".to_owned()
            }
        }
    }
}

impl PgUrl {
    /// Parses a `postgres://` or `postgresql://` URL.
    pub fn parse(text: &str) -> Result<PgUrl, UrlError> {
        let shown = redact(text);
        let invalid = |reason: &str| UrlError::Invalid {
            shown: shown.clone(),
            reason: reason.to_owned(),
        };
        if !is_postgres(text) {
            return Err(invalid("does not start with `postgres://`"));
        }
        let url = reqwest::Url::parse(text).map_err(|e| invalid(&format!("cannot be read ({e})")))?;
        if url.password().is_some() {
            return Err(UrlError::Password { shown });
        }
        if url.fragment().is_some() {
            return Err(invalid("has a `#` part, which means nothing here"));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(_) => decode(url.host_str().unwrap_or_default()).map_err(|e| invalid(&e))?,
            None => return Err(invalid("names no host")),
        };
        if host.is_empty() || host.contains(',') {
            return Err(invalid("must name one host"));
        }
        let user = match url.username() {
            "" => None,
            user => Some(decode(user).map_err(|e| invalid(&e))?),
        };
        let database = decode(url.path().trim_start_matches('/')).map_err(|e| invalid(&e))?;
        if database.is_empty() || database.contains('/') {
            return Err(invalid(
                "must name one database (`postgres://HOST/DATABASE?state=NAME`)",
            ));
        }
        let mut parsed = PgUrl {
            host,
            port: url.port().unwrap_or(5432),
            user,
            database,
            state: String::new(),
            schema: DEFAULT_SCHEMA.to_owned(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: Duration::from_secs(10),
        };
        let mut seen = Vec::new();
        for (key, value) in url.query_pairs() {
            if seen.contains(&key) {
                return Err(invalid(&format!("gives `{key}` twice")));
            }
            seen.push(key.clone());
            match &*key {
                "state" => parsed.state = value.into_owned(),
                "schema" => parsed.schema = value.into_owned(),
                "sslmode" => {
                    parsed.sslmode = SslMode::parse(&value).ok_or_else(|| {
                        invalid(&format!(
                            "has `sslmode={value}`; flowform knows disable, prefer, require, verify-ca and verify-full"
                        ))
                    })?;
                }
                "sslrootcert" => parsed.sslrootcert = Some(PathBuf::from(&*value)),
                "connect_timeout" => {
                    let seconds: u64 = value
                        .parse()
                        .ok()
                        .filter(|s| (1..=3600).contains(s))
                        .ok_or_else(|| invalid("has a `connect_timeout` that is not 1 to 3600 seconds"))?;
                    parsed.connect_timeout = Duration::from_secs(seconds);
                }
                "password" => return Err(UrlError::Password { shown }),
                other => {
                    let hint = crate::diagnostic::did_you_mean(other, PARAMS)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(invalid(&format!(
                        "has `{other}=`, which flowform does not know{hint}; it knows {}",
                        PARAMS.join(", ")
                    )));
                }
            }
        }
        if parsed.state.is_empty() {
            return Err(invalid(
                "names no state: add `?state=NAME` (one name per project; several projects share a database side by side)",
            ));
        }
        if !is_state_name(&parsed.state) {
            return Err(invalid(
                "has a state name that is not 1 to 63 letters, digits, `.`, `_` or `-`",
            ));
        }
        if !is_schema_name(&parsed.schema) {
            return Err(invalid(
                "has a schema that is not 1 to 63 lowercase letters, digits or `_`, starting with a letter or `_`",
            ));
        }
        if parsed.sslrootcert.is_some() && matches!(parsed.sslmode, SslMode::Disable) {
            return Err(invalid("has `sslrootcert` with `sslmode=disable`"));
        }
        Ok(parsed)
    }

    /// The password for this URL's user, from the environment.
    pub fn password(env: &Environment) -> Option<Secret> {
        PASSWORD_VARS
            .iter()
            .find_map(|name| env.var(name).filter(|v| !v.is_empty()))
            .map(Secret::new)
    }

    /// The user to connect as: the URL's, else `PGUSER`, else `USER`.
    pub fn user_or(&self, env: &Environment) -> String {
        self.user
            .clone()
            .or_else(|| env.var("PGUSER").map(str::to_owned))
            .or_else(|| env.var("USER").map(str::to_owned))
            .unwrap_or_else(|| "postgres".to_owned())
    }
}

fn is_state_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A schema name flowform puts in SQL as an identifier: strict, so it never needs escaping.
pub fn is_schema_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults() {
        let u = PgUrl::parse("postgres://ci@db.example.com/infra?state=marketing").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.user.as_deref(), u.database.as_str()),
            ("db.example.com", 5432, Some("ci"), "infra")
        );
        assert_eq!((u.state.as_str(), u.schema.as_str()), ("marketing", "flowform"));
        assert_eq!(u.sslmode, SslMode::Prefer);
        assert_eq!(
            u.to_string(),
            "postgres://ci@db.example.com:5432/infra?state=marketing"
        );
        let u = PgUrl::parse(
            "postgresql://[::1]:6543/t?state=a.b-c&schema=ff_test_1&sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 6543));
        assert_eq!(u.sslmode, SslMode::VerifyFull);
        assert_eq!(u.sslrootcert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(u.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            u.to_string(),
            "postgres://[::1]:6543/t?state=a.b-c&schema=ff_test_1"
        );
        assert_eq!(PgUrl::parse(&u.to_string()).unwrap().state, "a.b-c");
    }

    #[test]
    fn a_password_is_refused_and_never_shown() {
        for url in [
            "postgres://ci:hunter2@db/infra?state=a",
            "postgres://ci@db/infra?state=a&password=hunter2",
        ] {
            let err = PgUrl::parse(url).unwrap_err();
            assert!(matches!(err, UrlError::Password { .. }), "{err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(err.help().contains("PGPASSWORD"));
        }
        // Even a URL that fails for another reason never shows it.
        let err = PgUrl::parse("postgres://ci:hunter2@/infra").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            redact("postgres://u:p%40ss@h/d?state=x"),
            "postgres://u:***@h/d?state=x"
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        let cases = [
            ("postgres://db/infra", "names no state"),
            ("postgres://db/?state=a", "must name one database"),
            ("postgres://db/infra?state=a&sslmode=maybe", "sslmode=maybe"),
            ("postgres://db/infra?state=a&shema=x", "did you mean `schema`?"),
            (
                "postgres://db/infra?state=a&schema=Robert'); DROP",
                "schema that is not",
            ),
            ("postgres://db/infra?state=a b", "state name"),
            ("postgres://db/infra?state=a&state=b", "twice"),
            ("postgres://a,b/infra?state=a", "one host"),
            ("postgres://db/infra?state=a&connect_timeout=0", "connect_timeout"),
        ];
        for (url, expected) in cases {
            let err = PgUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(expected), "{url}: {err}");
        }
        assert!(is_postgres("PostgreSQL://x"));
        assert!(!is_postgres("state/flowform.json"));
    }

    #[test]
    fn the_password_comes_from_the_environment() {
        let env = Environment::from_pairs([("PGPASSWORD", "a"), ("FLOWFORM_PGPASSWORD", "b")]);
        assert_eq!(PgUrl::password(&env).unwrap().expose(), "b");
        let env = Environment::from_pairs([("PGPASSWORD", "a")]);
        assert_eq!(PgUrl::password(&env).unwrap().expose(), "a");
        assert!(PgUrl::password(&Environment::default()).is_none());
    }
}
