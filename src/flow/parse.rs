//! Reading what IMS and the Flow Service answer: pure functions over the body's bytes, with no
//! IO, so that they can be fuzzed (`fuzz/`, which links them through this `pub` module) and
//! tested with any input. The client reads a bounded body, calls one of them, and puts the
//! request beside the `String` error each returns.
//!
//! Whatever the bytes: none of them panics; none puts the access token into an error; text
//! from the server that can reach a message goes through [`clean`] (no control characters,
//! no terminal escapes, bounded length); ids that will go into a path are checked
//! ([`usable_id`]).

use std::time::Duration;

use serde_json::Value;

use super::limits::{DEFAULT_TOKEN_LIFETIME, MAX_LINK_LEN, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
pub use super::model::clean;
use super::model::{Created, LiveConnection, LiveSpec};
use crate::secret::Secret;

/// How many characters of a server's text a message shows.
const DETAIL_CHARS: usize = 500;
/// For codes, titles and request ids.
const SHORT_CHARS: usize = 120;

/// An IMS token answer (`POST /ims/token/v3`).
#[derive(Debug)]
pub struct Token {
    pub access_token: Secret,
    /// `expires_in`, read as seconds and clamped (see [`token_lifetime`]).
    pub lifetime: Duration,
}

/// Reads `{"access_token": "…", "token_type": "bearer", "expires_in": 86399}`.
pub fn token(body: &[u8]) -> Result<Token, String> {
    let json = json(body)?;
    let token = match json.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token,
        _ => return Err("IMS answered without an access_token".to_owned()),
    };
    // The token goes into an `Authorization` header on every request: one that no header can
    // hold would fail each of them later, with a vaguer error.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("IMS answered an access_token that cannot be sent in a header".to_owned());
    }
    Ok(Token {
        access_token: Secret::new(token.as_str()),
        lifetime: token_lifetime(json.get("expires_in")),
    })
}

/// `expires_in`, in seconds on `/ims/token/v3` (the retired JWT exchange used ms), clamped to
/// [`MIN_TOKEN_LIFETIME`]..=[`MAX_TOKEN_LIFETIME`]; [`DEFAULT_TOKEN_LIFETIME`] when absent or
/// not a number. An integer, a float or a numeric string are all taken.
pub fn token_lifetime(expires_in: Option<&Value>) -> Duration {
    let seconds = match expires_in {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match seconds {
        Some(s) if s.is_finite() => {
            let s = s.clamp(MIN_TOKEN_LIFETIME.as_secs_f64(), MAX_TOKEN_LIFETIME.as_secs_f64());
            Duration::try_from_secs_f64(s).unwrap_or(DEFAULT_TOKEN_LIFETIME)
        }
        _ => DEFAULT_TOKEN_LIFETIME,
    }
}

/// Why IMS refused a credential: its `error_description`, else its `error`.
pub fn ims_refusal(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    [&json["error_description"], &json["error"]]
        .into_iter()
        .find_map(|v| {
            v.as_str()
                .map(|s| clean(s, DETAIL_CHARS))
                .filter(|s| !s.is_empty())
        })
}

/// The parts of an error answer worth showing, from whichever of AEP's shapes it has
/// (flow-service-notes §9).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `FLOW-1415-400`, or the gateway's `error_code` such as `401013`.
    pub code: Option<String>,
    pub title: Option<String>,
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

/// Reads an error answer. Never fails: a body that is no envelope gives what it can (a short
/// plain-text body becomes the detail).
pub fn error_envelope(body: &[u8]) -> Envelope {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |v: &Value, chars: usize| match v {
        Value::String(s) => Some(clean(s, chars)).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let code = json["type"]
        .as_str()
        .and_then(|t| t.rsplit('/').next())
        .filter(|c| c.starts_with("FLOW-"))
        .map(|c| clean(c, SHORT_CHARS))
        .or_else(|| text(&json["error_code"], SHORT_CHARS))
        .or_else(|| text(&json["error"], SHORT_CHARS));
    let detail = text(&json["report"]["detailed-message"], DETAIL_CHARS)
        .or_else(|| text(&json["detail"], DETAIL_CHARS))
        .or_else(|| text(&json["errorMessage"], DETAIL_CHARS))
        .or_else(|| text(&json["message"], DETAIL_CHARS))
        .or_else(|| text(&json["error_description"], DETAIL_CHARS))
        .or_else(|| {
            // Not JSON at all: a short plain-text body is still worth showing.
            let plain = String::from_utf8_lossy(body);
            let plain = plain.trim();
            (json.is_null() && !plain.is_empty() && plain.chars().count() <= 200)
                .then(|| clean(plain, 200))
                .filter(|s| !s.is_empty())
        });
    Envelope {
        code,
        title: text(&json["title"], SHORT_CHARS),
        detail,
        request_id: text(&json["report"]["request-id"], SHORT_CHARS),
    }
}

/// `GET /connections/{id}`: the wrapper `{"items": [connection]}`; `None` for an empty list.
pub fn connection(body: &[u8]) -> Result<Option<LiveConnection>, String> {
    let mut json = json(body)?;
    let Some(Value::Array(items)) = json.get_mut("items").map(Value::take) else {
        return Err("the answer has no `items`".to_owned());
    };
    match items.into_iter().next() {
        None => Ok(None),
        Some(item) => live_connection(item)
            .map(Some)
            .map_err(|e| format!("the connection is unreadable: {e}")),
    }
}

/// Where the next page of a listing is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// `_links.next.href`, as given (relative to the Flow Service base, or absolute).
    Href(String),
    /// A top-level `continuationToken`, to send back as a query parameter.
    Token(String),
}

/// One page of `GET /connections`.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<LiveConnection>,
    pub next: Option<Next>,
}

/// What of an item no kind reads, skipped as it is parsed (never allocated): a listing of
/// tens of thousands of resources is mostly these.
const UNREAD: &[&str] = &[
    "inheritedAttributes",
    "createdBy",
    "imsOrgId",
    "sandboxId",
    "version",
    "runs",
    "lastOperation",
    "providerRefId",
];

/// A page as it comes: its items, each an object whose unread members are skipped.
#[derive(serde::Deserialize)]
struct RawPage {
    #[serde(default)]
    items: Option<Vec<Item>>,
    #[serde(rename = "_links", default)]
    links: Value,
    #[serde(rename = "continuationToken", default)]
    continuation_token: Value,
}

/// One item of a page, without its [`UNREAD`] members.
struct Item(serde_json::Map<String, Value>);

impl<'de> serde::Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Item, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Item;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if UNREAD.contains(&key.as_str()) {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    } else {
                        let value = map.next_value::<Value>()?;
                        out.insert(key, value);
                    }
                }
                Ok(Item(out))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// Reads a list page: `items`, and `_links.next.href` if given, else a top-level
/// `continuationToken` (flow-service-notes §3: the documentation shows both).
pub fn list_page(body: &[u8]) -> Result<Page, String> {
    let raw: RawPage =
        serde_json::from_slice(body).map_err(|e| match serde_json::from_slice::<Value>(body) {
            // JSON, but not a page of items.
            Ok(_) => format!("a connection in the answer is unreadable: {e}"),
            Err(_) => format!("the answer is not JSON: {e}"),
        })?;
    let Some(raw_items) = raw.items else {
        return Err("the answer has no `items`".to_owned());
    };
    let mut items = Vec::with_capacity(raw_items.len());
    for Item(item) in raw_items {
        items.push(
            live_connection(Value::Object(item))
                .map_err(|e| format!("a connection in the answer is unreadable: {e}"))?,
        );
    }
    let json = serde_json::json!({"_links": raw.links, "continuationToken": raw.continuation_token});
    let link = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let next = match (
        link(&json["_links"]["next"]["href"]),
        link(&json["continuationToken"]),
    ) {
        (Some(href), _) => Some(Next::Href(href)),
        (None, Some(token)) => Some(Next::Token(token)),
        (None, None) => None,
    };
    if let Some(Next::Href(s) | Next::Token(s)) = &next
        && s.len() > MAX_LINK_LEN
    {
        return Err(format!(
            "the answer's next link is {} bytes long, more than the {} KiB flowform accepts",
            s.len(),
            MAX_LINK_LEN >> 10
        ));
    }
    Ok(Page { items, next })
}

/// The path under the Flow Service base (`base`) that a `_links.next.href` leads to: an href
/// relative to the base (tolerating one that repeats the base's path), or an absolute URL on
/// the base's own scheme, host and port. Any other host is refused: the access token never
/// follows a link elsewhere. Appended to the base URL, the path cannot change its host.
pub fn next_path(base: &reqwest::Url, href: &str) -> Result<String, String> {
    let base_path = base.path().trim_end_matches('/');
    let under_base = |path: &str| -> String {
        path.strip_prefix(base_path)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(path)
            .to_owned()
    };
    if href.starts_with('/') {
        return Ok(under_base(href));
    }
    let url = reqwest::Url::parse(href)
        .map_err(|_| format!("unreadable next link `{}`", clean(href, SHORT_CHARS)))?;
    if url.scheme() != base.scheme()
        || url.host_str() != base.host_str()
        || url.port_or_known_default() != base.port_or_known_default()
    {
        return Err(format!(
            "the next link points to another host ({}); the access token never follows a link elsewhere",
            redirect_target(base, Some(href)).trim_start_matches("towards ")
        ));
    }
    let path = under_base(url.path());
    Ok(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    })
}

/// `GET /connections?count=true`: `{"count": 95}`.
pub fn count(body: &[u8]) -> Result<u64, String> {
    json(body)?["count"]
        .as_u64()
        .ok_or_else(|| "the answer has no `count` (a whole number)".to_owned())
}

/// `POST /connections`: `{"id": "…", "etag": "…"}`.
pub fn created(body: &[u8]) -> Result<Created, String> {
    let created: Created =
        serde_json::from_slice(body).map_err(|e| format!("the answer is unreadable: {e}"))?;
    check_id(&created.id)?;
    Ok(created)
}

/// `PATCH /connections/{id}`: the new etag, if the answer has one.
pub fn etag(body: &[u8]) -> Result<Option<String>, String> {
    Ok(json(body)?["etag"].as_str().map(str::to_owned))
}

/// `GET /connections/{id}/test`: `{"result": true|false}`.
pub fn test_result(body: &[u8]) -> Result<bool, String> {
    Ok(json(body)?["result"].as_bool().unwrap_or(false))
}

/// `GET /connectionSpecs/{id}`: the wrapper `{"items": [spec]}`; `None` for an empty list.
pub fn connection_spec(body: &[u8]) -> Result<Option<LiveSpec>, String> {
    let mut json = json(body)?;
    let Some(Value::Array(items)) = json.get_mut("items").map(Value::take) else {
        return Err("the answer has no `items`".to_owned());
    };
    match items.into_iter().next() {
        None => Ok(None),
        Some(item) => serde_json::from_value(item)
            .map(Some)
            .map_err(|e| format!("the spec is unreadable: {e}")),
    }
}

/// Where a redirect points, for a message: `towards host:port` of its `Location` (resolved
/// against the request's URL), never the rest of the URL, which could carry anything.
pub fn redirect_target(request: &reqwest::Url, location: Option<&str>) -> String {
    let Some(location) = location else {
        return "with no Location".to_owned();
    };
    let Ok(url) = request.join(location) else {
        return "towards an unreadable Location".to_owned();
    };
    let Some(host) = url.host_str() else {
        return "towards a Location with no host".to_owned();
    };
    let port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let same = url.host_str() == request.host_str()
        && url.port_or_known_default() == request.port_or_known_default();
    format!(
        "towards {}{port}{}",
        clean(host, SHORT_CHARS),
        if same { " (the same host)" } else { "" }
    )
}

/// Whether an id from AEP can go into a request path as it is. AEP's ids are UUIDs; one with
/// anything beyond URL-unreserved characters (a `/`, `?`, `#`, `%`, a space), or that is `.`
/// or `..`, would address another resource than the connection it names.
pub fn usable_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if usable_id(id) {
        Ok(())
    } else {
        Err(format!(
            "AEP gave the id `{}`, which flowform cannot put in a request path",
            clean(id, SHORT_CHARS)
        ))
    }
}

fn live_connection(item: Value) -> Result<LiveConnection, String> {
    let conn = LiveConnection::from_json(item)?;
    check_id(&conn.id)?;
    Ok(conn)
}

fn json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))
}

/// `body` with every occurrence of `secret` replaced by `(redacted)`: for an error answer
/// that may echo what it was sent, before it is read (so that no cut of a long text can leave
/// part of the secret behind).
pub fn redacted(body: &[u8], secret: &str) -> Vec<u8> {
    let secret = secret.as_bytes();
    if secret.is_empty() {
        return body.to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.windows(secret.len()).position(|w| w == secret) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"(redacted)");
        rest = &rest[at + secret.len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn token_lifetimes_are_clamped_whatever_the_number() {
        for (expires_in, seconds) in [
            (json!(86399), 86399),
            (json!(18446744073709551615u64), 86400),
            (json!(-5), 60),
            (json!(0), 60),
            (json!(1e300), 86400),
            (json!(3600.5), 3600),
            (json!("7200"), 7200),
            (json!("soon"), 3600),
            (json!(null), 3600),
            (json!({"s": 1}), 3600),
        ] {
            assert_eq!(
                token_lifetime(Some(&expires_in)).as_secs(),
                seconds,
                "{expires_in}"
            );
        }
        assert_eq!(token_lifetime(None), DEFAULT_TOKEN_LIFETIME);
    }

    #[test]
    fn a_token_answer_needs_a_sendable_token_and_never_shows_it() {
        let ok = token(br#"{"access_token":"abc.def","expires_in":18446744073709551615}"#).unwrap();
        assert_eq!(ok.access_token.expose(), "abc.def");
        assert_eq!(ok.lifetime, MAX_TOKEN_LIFETIME);
        for bad in [
            &br#"{"access_token":""}"#[..],
            br#"{"access_token":7}"#,
            br#"{"token":"x"}"#,
            br#"[]"#,
            b"",
        ] {
            assert!(token(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let err = token(b"{\"access_token\":\"sekrit\\r\\nx-evil: 1\"}").unwrap_err();
        assert!(!err.contains("sekrit"), "{err}");
    }

    #[test]
    fn secrets_are_redacted_from_bodies() {
        assert_eq!(redacted(b"a tok b tok", "tok"), b"a (redacted) b (redacted)");
        assert_eq!(redacted(b"to", "tok"), b"to");
        assert_eq!(redacted(b"x", ""), b"x");
    }

    #[test]
    fn server_text_is_cleaned_and_bounded() {
        assert_eq!(clean("a\x1b[2Jb\r\nc\u{202e}d", 100), "a [2Jb  c d");
        assert_eq!(clean(&"x".repeat(10), 4), "xxxx…");
        let e = error_envelope(
            format!(r#"{{"title":"t\u001b[31m","detail":"{}"}}"#, "d".repeat(5000)).as_bytes(),
        );
        assert_eq!(e.title.as_deref(), Some("t [31m"));
        assert_eq!(e.detail.unwrap().chars().count(), DETAIL_CHARS + 1);
    }

    #[test]
    fn pages_read_items_and_either_kind_of_next_link() {
        let page = list_page(br#"{"items":[{"id":"a-1"}],"_links":{"next":{"href":"/connections?continuationToken=x"}},"continuationToken":"y"}"#).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            page.next,
            Some(Next::Href("/connections?continuationToken=x".into()))
        );
        let page = list_page(br#"{"items":[],"continuationToken":"y"}"#).unwrap();
        assert_eq!(page.next, Some(Next::Token("y".into())));
        assert_eq!(list_page(br#"{"items":[]}"#).unwrap().next, None);
        assert!(list_page(br#"{"item":[]}"#).is_err());
        let long = format!(
            r#"{{"items":[],"continuationToken":"{}"}}"#,
            "t".repeat(MAX_LINK_LEN + 1)
        );
        assert!(list_page(long.as_bytes()).unwrap_err().contains("8 KiB"));
    }

    #[test]
    fn a_redirect_names_only_host_and_port() {
        let request =
            reqwest::Url::parse("https://platform.adobe.io/data/foundation/flowservice/connections").unwrap();
        for (location, text) in [
            (
                Some("https://another-host:8443/x?client_secret=s"),
                "towards another-host:8443",
            ),
            (Some("http://evil.example/"), "towards evil.example:80"),
            (
                Some("/elsewhere"),
                "towards platform.adobe.io:443 (the same host)",
            ),
            (Some("http://[::1"), "towards an unreadable Location"),
            (None, "with no Location"),
        ] {
            assert_eq!(redirect_target(&request, location), text, "{location:?}");
        }
    }

    #[test]
    fn next_links_stay_on_the_base_host() {
        let base = reqwest::Url::parse("https://platform.adobe.io/data/foundation/flowservice").unwrap();
        for (href, path) in [
            (
                "/connections?continuationToken=a",
                "/connections?continuationToken=a",
            ),
            ("/data/foundation/flowservice/connections?t=a", "/connections?t=a"),
            (
                "https://platform.adobe.io/data/foundation/flowservice/connections?t=a",
                "/connections?t=a",
            ),
            ("https://platform.adobe.io:443/connections", "/connections"),
            ("//another-host/connections", "//another-host/connections"),
        ] {
            assert_eq!(next_path(&base, href).as_deref(), Ok(path), "{href}");
        }
        for (href, error) in [
            (
                "https://another-host:8443/x?token=s",
                "another host (another-host:8443)",
            ),
            (
                "http://platform.adobe.io/connections",
                "another host (platform.adobe.io:80)",
            ),
            ("connections?x", "unreadable next link `connections?x`"),
        ] {
            let e = next_path(&base, href).unwrap_err();
            assert!(e.contains(error), "{href}: {e}");
        }
    }

    #[test]
    fn ids_that_would_leave_their_path_segment_are_refused() {
        for ok in ["139f6a5f-a78b-4744-9f6a-5fa78bd74431", "a.b_c~d"] {
            assert!(usable_id(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "../ims",
            "a?b",
            "a#b",
            "a%2e",
            "a b",
            "é",
            &"x".repeat(257),
        ] {
            assert!(!usable_id(bad), "{bad}");
        }
        let err = connection(br#"{"items":[{"id":"../../ims/token/v3"}]}"#).unwrap_err();
        assert!(err.contains("cannot put in a request path"), "{err}");
        assert!(created(br#"{"id":"x/y"}"#).is_err());
    }

    #[test]
    fn one_connection_or_none() {
        assert_eq!(connection(br#"{"items":[]}"#).unwrap(), None);
        assert_eq!(
            connection(br#"{"items":[{"id":"c1","name":"n"}]}"#)
                .unwrap()
                .unwrap()
                .name,
            "n"
        );
        assert!(connection(br#"{}"#).is_err());
        assert!(connection(br#"{"items":[{"name":"no id"}]}"#).is_err());
        assert_eq!(count(br#"{"count":95}"#), Ok(95));
        assert!(count(br#"{"count":-1}"#).is_err());
        assert!(count(br#"{"count":1e30}"#).is_err());
    }
}
