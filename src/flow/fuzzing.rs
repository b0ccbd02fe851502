//! What must hold for any answer a server gives, one function per parser of [`super::parse`]:
//! each runs the parser (and what flowform does next with its result) on raw bytes and
//! panics if a property breaks. The fuzz targets (`fuzz/`) and the regression tests
//! (`tests/parsers.rs`) call these same functions, so the properties are written once.

// A property check panics when the property breaks: that is what the fuzzer looks for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::Url;
use serde_json::json;

use super::limits::{MAX_LINK_LEN, MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
use super::parse::{self, Next};

/// A property check over an answer's bytes.
pub type Check = fn(&[u8]);

/// The targets by name, as `fuzz/` and its corpus directories name them.
pub const TARGETS: &[(&str, Check)] = &[
    ("token", token),
    ("connection", connection),
    ("list_page", list_page),
    ("error_envelope", error_envelope),
    ("connection_spec", connection_spec),
];

/// IMS token answers: a token that is read can be sent in a header; its lifetime is clamped.
pub fn token(data: &[u8]) {
    match parse::token(data) {
        Ok(token) => {
            assert!(token.lifetime >= MIN_TOKEN_LIFETIME && token.lifetime <= MAX_TOKEN_LIFETIME);
            let text = token.access_token.expose();
            assert!(!text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic()));
        }
        Err(e) => assert!(!e.is_empty()),
    }
    if let Some(reason) = parse::ims_refusal(data) {
        shown(&reason, 501);
    }
}

/// `GET /connections/{id}` and the other one-object answers: an id that is read is safe in
/// a request path.
pub fn connection(data: &[u8]) {
    if let Ok(Some(conn)) = parse::connection(data) {
        assert!(parse::usable_id(&conn.id), "{:?}", conn.id);
        let _ = (conn.spec_id(), conn.is_initializing());
    }
    if let Ok(created) = parse::created(data) {
        assert!(parse::usable_id(&created.id), "{:?}", created.id);
    }
    let _ = parse::etag(data);
    let _ = parse::test_result(data);
}

/// List pages: every item's id is safe in a path; a next link is bounded, and the request it
/// leads to goes to the Flow Service's own host.
pub fn list_page(data: &[u8]) {
    if let Ok(page) = parse::list_page(data) {
        assert!(page.items.iter().all(|c| parse::usable_id(&c.id)));
        if let Some(Next::Href(link) | Next::Token(link)) = &page.next {
            assert!(!link.is_empty() && link.len() <= MAX_LINK_LEN);
        }
        if let Some(Next::Href(href)) = &page.next {
            stays_home(href);
        }
    }
    let _ = parse::count(data);
}

/// The URL the client would request for a next link (as `Client::url` builds it) is on the
/// base's host, or the link is refused.
fn stays_home(href: &str) {
    for base in [
        "https://platform.adobe.io/data/foundation/flowservice",
        "http://127.0.0.1:8080",
    ] {
        let base = Url::parse(base).expect("a valid base");
        if let Ok(path) = parse::next_path(&base, href)
            && let Ok(url) = Url::parse(&format!("{}{path}", base.as_str().trim_end_matches('/')))
        {
            assert_eq!(
                (url.scheme(), url.host_str(), url.port_or_known_default()),
                (base.scheme(), base.host_str(), base.port_or_known_default()),
                "{href:?} -> {url}"
            );
        }
    }
}

/// Error answers: never a failure; what is shown is bounded and has no control character.
pub fn error_envelope(data: &[u8]) {
    let envelope = parse::error_envelope(data);
    for (text, chars) in [
        (&envelope.code, 121),
        (&envelope.title, 121),
        (&envelope.request_id, 121),
        (&envelope.detail, 501),
    ] {
        if let Some(text) = text {
            shown(text, chars);
        }
    }
}

/// Connection spec answers, and what flowform does next with one: list the secret params and
/// check params against each auth spec's JSON Schema, whatever the schema.
pub fn connection_spec(data: &[u8]) {
    let Ok(Some(spec)) = parse::connection_spec(data) else {
        return;
    };
    let params = json!({"username": "u", "password": "(sensitive)", "port": 443, "ssl": true});
    for auth in &spec.auth_spec {
        let _ = auth.secret_params();
        if auth.spec.is_object() {
            match auth.problems(&params) {
                Ok(problems) => problems.iter().for_each(|(_, m)| shown(m, 501)),
                Err(e) => shown(&e, 501),
            }
        }
    }
}

/// Server text fit for a message: at most `chars` characters, none of them a control one.
fn shown(text: &str, chars: usize) {
    assert!(text.chars().count() <= chars, "{text:?}");
    assert!(!text.chars().any(char::is_control), "{text:?}");
}
