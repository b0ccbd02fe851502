//! The bounds flowform puts on what a server can make it do: how much of an answer it reads,
//! how many pages it follows, how long it trusts a token, how long it waits. A server that
//! goes past one gets an error naming the bound, never unbounded memory or time, nor a panic.
//!
//! Each bound is generous for AEP as documented (flow-service-notes §3, §10, §12) and small
//! for a machine: what matters is that it exists.

use std::time::Duration;

/// A successful Flow Service answer: a list page, one connection, a connection spec, a
/// create or patch answer. A full page of 100 connections is about 200 KiB and a connection
/// spec with its auth schemas tens of KiB; 4 MiB is twenty times the largest of them, and
/// small enough that a page parsed into JSON values stays far below 100 MB.
pub const ANSWER_CAP: usize = 4 << 20;

/// An IMS token answer: an access token (a JWT of a few KiB) and three short fields.
pub const TOKEN_ANSWER_CAP: usize = 64 << 10;

/// An error answer's body. Only its code, title, detail and request id are shown, and every
/// documented envelope (flow-service-notes §9) is well under 2 KiB: the first 16 KiB are read
/// and the rest is left unread (the status alone already decides what happens).
pub const ERROR_BODY_CAP: usize = 16 << 10;

/// How many connections flowform asks for per page (`limit=100`, AEP's maximum).
pub const PAGE_SIZE: u64 = 100;

/// The longest URL flowform sends by default (scheme, host, path and query together), where
/// it packs many values into one `property=field==a,b,…` filter (managed ids, names to
/// check). Adobe documents no limit on a Flow Service URL; RFC 9110 (§4.1) asks that servers
/// accept request lines of at least 8,000 octets, and common gateways cut at 8 KiB (some at
/// 4 KiB for a header line). 6,000 leaves a quarter of the 8,000 spare for the method, the
/// version and a gateway's rewriting, and still fits a full batch of 100 UUIDs (about 4,000
/// characters encoded). `--max-url-length` / `FLOWFORM_MAX_URL_LENGTH` change it.
pub const DEFAULT_MAX_URL_LENGTH: usize = 6_000;

/// The shortest `--max-url-length` accepted: room for the endpoint, a filter and one id.
pub const MIN_MAX_URL_LENGTH: usize = 256;

/// Pages followed in one listing whose size is not known beforehand: a million connections
/// at 100 a page, far beyond any sandbox (AEP documents no guardrail; the destinations' soft
/// limit is 100 per sandbox), and at a page every ~40 ms still an end within minutes.
pub const MAX_PAGES: u64 = 10_000;

/// A `_links.next.href` or `continuationToken` longer than this is refused: AEP's are a few
/// dozen characters, and every link seen is remembered to detect a loop.
pub const MAX_LINK_LEN: usize = 8 << 10;

/// The most pages a listing of `count` connections (as `count=true` answered just before)
/// may take: full pages of [`PAGE_SIZE`], plus room for connections created while it walks
/// (a quarter more, and at least 200), plus one for an empty last page. Never more than
/// [`MAX_PAGES`]; without a count, exactly that.
pub fn page_ceiling(count: Option<u64>) -> u64 {
    match count {
        None => MAX_PAGES,
        Some(count) => {
            let allowed = count.saturating_add((count / 4).max(200));
            allowed.div_ceil(PAGE_SIZE).saturating_add(1).min(MAX_PAGES)
        }
    }
}

/// A token is renewed at least this often, whatever IMS says: AEP's tokens live 24 h
/// (flow-service-notes §12), and a longer life only means a revoked token is used longer.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A token is kept at least this long, whatever IMS says: a zero or negative `expires_in`
/// would otherwise send every request to IMS first. (If AEP rejects it sooner, the 401 path
/// renews it once.)
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// When IMS gives no usable `expires_in`.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The longest a `Retry-After` is honoured; a longer one is waited for only this long, then
/// the request is tried again (and the command's deadline still bounds it all).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long opening a connection may take. A TCP and TLS handshake with AEP's gateway takes
/// well under a second; a host that drops packets should fail fast, and connect failures are
/// retried (nothing was sent).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Each request's timeout, from sending to the last byte of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole command's deadline when `--timeout` is not given: a plan of thousands of
/// connections takes minutes, an apply waiting for connections to initialize a few more.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Attempts at an IMS token (a timeout is never retried: see `auth`).
pub const TOKEN_ATTEMPTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_ceiling_follows_the_count_with_slack() {
        for (count, pages) in [
            (Some(0), 3),
            (Some(1), 4),
            (Some(100), 4),
            (Some(800), 11),
            (Some(1_000), 14),
            (Some(100_000), 1_251),
            (Some(10_000_000), MAX_PAGES),
            (Some(u64::MAX), MAX_PAGES),
            (None, MAX_PAGES),
        ] {
            assert_eq!(page_ceiling(count), pages, "{count:?}");
        }
        // Always room for every counted connection, in full pages.
        for count in [0, 99, 101, 12_345, 799_999] {
            assert!(page_ceiling(Some(count)) > count.div_ceil(PAGE_SIZE), "{count}");
        }
    }
}
