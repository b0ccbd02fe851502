//! The Flow Service client: the only part of flowform that talks to AEP.
//!
//! One [`Client`] is shared by every task of a run. It sends the headers AEP requires on
//! every call (never relying on the silent fallback to `prod`), keeps the bearer token fresh
//! ([`auth`]), limits requests in flight and backs off on 429 ([`retry`]), retries what is
//! safe to retry, and never blindly resends a create: a POST whose outcome is unknown
//! (timeout, 5xx, reset) comes back as [`FlowError::OutcomeUnknown`], for the caller to
//! resolve by listing.
//!
//! A server is not trusted to behave: redirects are never followed (they would carry the
//! credentials and a create's secrets elsewhere), every body is read up to a cap, a listing
//! follows a bounded number of pages on the same host, numbers from answers are clamped, and
//! the command's deadline (`--timeout`) bounds every request, retry and wait ([`limits`]).
//!
//! - [`settings`]: endpoint, credentials and limits from the environment and flags.
//! - [`model`]: request and answer shapes. [`parse`]: reading answers, pure and fuzzed.
//!   [`error`]: typed failures.
//! - [`limits`]: every bound, with why it is that size. [`deadline`]: the command's deadline.
//!   [`body`]: reading a body up to a cap.

pub mod auth;
pub mod body;
mod collection;
pub mod deadline;
pub mod error;
pub mod explore;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod model;
pub mod parse;
pub mod pointer;
mod prep;
pub mod retry;
pub mod runs;
pub mod settings;
mod transport;

pub use self::collection::{Api, Collection};
pub(crate) use self::transport::describe;
use self::transport::{Call, Repeat};
pub use self::transport::{Client, install_crypto};

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use self::error::{ApiError, FlowError};
use self::limits::{MAX_PAGES, page_ceiling};
use self::model::{Created, LiveObject, LiveSpec, PatchOp};
use self::parse::Next;

/// What `delete` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// 404: it was not there (deleted before, or by an earlier attempt).
    AlreadyGone,
}

/// What `update` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Updated {
    pub etag: Option<String>,
    /// A retried PATCH met 412 because its first attempt had applied; a re-read showed the
    /// resource as the patch left it.
    pub confirmed_by_reading: bool,
}

/// Base connections' collection.
pub const CONNECTIONS: &str = "/connections";

/// A `property` filter: `field==value[,value…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub field: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(field: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        Filter {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// What bounds the pages of a listing.
#[derive(Clone, Copy)]
enum Bound {
    None,
    /// `count=true` answered this just before.
    Counted(u64),
    /// A filter names this many ids or names.
    Batch(u64),
}

/// Whether a value can stand in a `property=field==a,b,…` list for itself alone. A comma
/// separates the values, and AEP documents nothing of quoting or of the spaces around them
/// (the emulator, as many parsers, trims both): a value with a comma, with a space or a
/// double quote at either end, or empty, cannot be looked up by filter; its caller lists its
/// sandbox and spec whole instead.
pub fn listable(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(',')
        && value.trim() == value
        && !value.starts_with('"')
        && !value.ends_with('"')
}

/// The first page's path of a listing of `collection` under `filters`: `limit` at AEP's
/// maximum, one `property` per filter.
fn list_path(collection: &str, filters: &[Filter]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("limit", &limits::PAGE_SIZE.to_string());
    for f in filters {
        query.append_pair("property", &format!("{}=={}", f.field, f.values.join(",")));
    }
    format!("{collection}?{}", query.finish())
}

impl Client {
    /// Splits `values` into the batches of one `field==a,b,…` filter (beside the `fixed`
    /// ones) that independent requests can read: at most a page ([`limits::PAGE_SIZE`]) of
    /// values each, so that one page answers a batch of ids, and each request's URL within
    /// `--max-url-length` (a value too long for it alone still goes, alone). The values must
    /// be [`listable`]; their order is kept.
    pub fn batches(
        &self,
        collection: impl Into<Collection>,
        fixed: &[Filter],
        field: &str,
        values: Vec<String>,
    ) -> Vec<Vec<String>> {
        let collection = collection.into();
        if !collection.filters() {
            // One value a request: Data Prep filters by one name.
            return values.into_iter().map(|v| vec![v]).collect();
        }
        let collection = collection.path;
        let mut filters = fixed.to_vec();
        filters.push(Filter::new(field, [""; 0]));
        let base = self.settings().endpoint.as_str().trim_end_matches('/').len()
            + list_path(collection, &filters).len();
        let max = self.settings().max_url_length;
        let per_page = usize::try_from(limits::PAGE_SIZE).unwrap_or(usize::MAX);
        let mut batches: Vec<Vec<String>> = Vec::new();
        let mut length = base;
        for value in values {
            // The value, encoded, and the comma before it (`%2C`) unless it comes first.
            let encoded = form_urlencoded::byte_serialize(value.as_bytes())
                .map(str::len)
                .sum::<usize>();
            match batches.last_mut() {
                Some(batch) if batch.len() < per_page && length.saturating_add(3 + encoded) <= max => {
                    length = length.saturating_add(3 + encoded);
                    batch.push(value);
                }
                _ => {
                    length = base.saturating_add(encoded);
                    batches.push(vec![value]);
                }
            }
        }
        batches
    }

    /// Lists the resources of `collection` matching `filters`, one of which is a batch of
    /// `expected` values ([`Client::batches`]): what it answers is bounded by that batch (each
    /// id names one resource; a name rarely more), so the pages followed are bounded by it
    /// too ([`limits::page_ceiling`]), not by the sandbox's size.
    pub async fn list_batch(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        filters: &[Filter],
        expected: usize,
    ) -> Result<Vec<LiveObject>, FlowError> {
        self.list(collection, sandbox, filters, Bound::Batch(expected as u64))
            .await
    }

    /// Lists the sandbox's resources of `collection` matching every filter, following every
    /// page (at most [`MAX_PAGES`]).
    pub async fn list_all(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        filters: &[Filter],
    ) -> Result<Vec<LiveObject>, FlowError> {
        self.list(collection, sandbox, filters, Bound::None).await
    }

    /// Lists them as [`Client::list_all`] does, for a caller that has just counted them
    /// ([`Client::count`]): the walk then stops at the pages that count allows, with room
    /// for resources created meanwhile ([`limits::page_ceiling`]).
    pub async fn list_counted(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        filters: &[Filter],
        count: u64,
    ) -> Result<Vec<LiveObject>, FlowError> {
        self.list(collection, sandbox, filters, Bound::Counted(count))
            .await
    }

    async fn list(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        filters: &[Filter],
        bound: Bound,
    ) -> Result<Vec<LiveObject>, FlowError> {
        let collection = collection.into();
        if collection.api == Api::DataPrep {
            let expected = match bound {
                Bound::None => 0,
                Bound::Counted(n) | Bound::Batch(n) => n,
            };
            return self.prep_list(collection, sandbox, filters, expected).await;
        }
        let first = list_path(collection.path, filters);
        let ceiling = page_ceiling(match bound {
            Bound::None => None,
            Bound::Counted(n) | Bound::Batch(n) => Some(n),
        });
        let mut path = first.clone();
        // Digests of every next link followed: a server that repeats one would loop.
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        let mut pages = 0u64;
        loop {
            let call = Call::on(Method::GET, path.clone(), sandbox, Repeat::Safe);
            let answer = self.send(&call).await?;
            pages += 1;
            let page = parse::list_page(&answer.body).map_err(|e| Self::protocol(&call, e))?;
            items.extend(page.items);
            // The next page: `_links.next.href` if given (relative to the Flow Service base,
            // or absolute on the same host), else a top-level continuation token.
            let next = match page.next {
                None => return Ok(items),
                Some(Next::Href(href)) => self.next_href(&call, &href)?,
                Some(Next::Token(token)) => {
                    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
                    format!("{first}&continuationToken={token}")
                }
            };
            if pages >= ceiling {
                let bound = match bound {
                    Bound::Counted(count) => format!("AEP counted {count} just before"),
                    Bound::Batch(n) => format!("the filter names {n}"),
                    Bound::None => format!("flowform follows at most {MAX_PAGES} pages"),
                };
                return Err(Self::protocol(
                    &call,
                    format!(
                        "AEP's listing goes on past {pages} pages ({} items so far; {bound}); stopping rather than follow it further",
                        items.len()
                    ),
                ));
            }
            if !seen.insert(Sha256::digest(next.as_bytes())) {
                return Err(Self::protocol(
                    &call,
                    "AEP repeated a continuation token; stopping rather than loop",
                ));
            }
            path = next;
        }
    }

    /// Turns an href into a path under the base, refusing another host (the bearer token
    /// must not follow a link elsewhere).
    fn next_href(&self, call: &Call<'_>, href: &str) -> Result<String, FlowError> {
        parse::next_path(&self.settings().endpoint, href).map_err(|e| Self::protocol(call, e))
    }

    /// How many of the sandbox's resources of `collection` match every filter (`count=true`:
    /// one request).
    pub async fn count(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        filters: &[Filter],
    ) -> Result<u64, FlowError> {
        let collection = collection.into();
        if collection.api == Api::DataPrep {
            return Err(FlowError::Protocol {
                method: "GET".into(),
                path: collection.label(),
                reason: "Data Prep does not count its listings (a refresh lists it instead)".into(),
            });
        }
        let collection = collection.path;
        let path = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("count", "true");
            for f in filters {
                query.append_pair("property", &format!("{}=={}", f.field, f.values.join(",")));
            }
            format!("{collection}?{}", query.finish())
        };
        let call = Call {
            method: Method::GET,
            path,
            label: collection.to_owned(),
            sandbox: Some(sandbox),
            body: None,
            if_match: None,
            repeat: Repeat::Safe,
        };
        let answer = self.send(&call).await?;
        parse::count(&answer.body).map_err(|e| Self::protocol(&call, e))
    }

    /// One resource of `collection`; `None` when AEP has no such resource (404).
    pub async fn get(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<LiveObject>, FlowError> {
        let collection = collection.into();
        if collection.api == Api::DataPrep {
            return self.prep_get(collection, sandbox, id).await;
        }
        let collection = collection.path;
        let call = Call::on(Method::GET, format!("{collection}/{id}"), sandbox, Repeat::Safe);
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        match parse::connection(&answer.body).map_err(|e| Self::protocol(&call, e))? {
            Some(conn) if conn.id != id => Err(Self::protocol(
                &call,
                format!(
                    "AEP answered with another resource, `{}`",
                    parse::clean(&conn.id, 120)
                ),
            )),
            found => Ok(found),
        }
    }

    /// Creates a resource of `collection` from a `POST` body (secrets included). Never
    /// resent after an ambiguous failure: see [`FlowError::OutcomeUnknown`].
    pub async fn create(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        body: &Value,
    ) -> Result<Created, FlowError> {
        let collection = collection.into();
        if collection.api == Api::DataPrep {
            return self.prep_create(collection, sandbox, body).await;
        }
        let collection = collection.path;
        let call = Call {
            method: Method::POST,
            path: collection.to_owned(),
            label: collection.to_owned(),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            if_match: None,
            repeat: Repeat::Create,
        };
        let answer = self.send(&call).await?;
        // A success whose body is unreadable still made a connection we cannot name.
        parse::created(&answer.body).map_err(|e| FlowError::OutcomeUnknown {
            method: "POST".to_owned(),
            path: call.label.clone(),
            reason: format!("AEP answered {}, but {e}", answer.status),
        })
    }

    /// Applies JSON Patch operations to a resource of `collection` with `If-Match: etag`
    /// (sent verbatim, quotes included).
    pub async fn update(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        id: &str,
        etag: &str,
        ops: &[PatchOp],
    ) -> Result<Updated, FlowError> {
        let collection = collection.into();
        if collection.api == Api::DataPrep {
            return Err(FlowError::Protocol {
                method: "PATCH".into(),
                path: collection.label(),
                reason: "Data Prep takes no JSON Patch: its resources are replaced whole (PUT)".into(),
            });
        }
        let collection = collection.path;
        let body: Vec<Value> = ops.iter().map(PatchOp::to_json).collect();
        let call = Call {
            method: Method::PATCH,
            path: format!("{collection}/{id}"),
            label: format!("{collection}/{id}"),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(&body).unwrap_or_default()),
            if_match: Some(etag),
            repeat: Repeat::Safe,
        };
        match self.send(&call).await {
            Ok(answer) => {
                let etag = parse::etag(&answer.body).map_err(|e| Self::protocol(&call, e))?;
                if answer.attempts > 1 {
                    crate::trace!("PATCH {} succeeded on attempt {}", call.label, answer.attempts);
                }
                Ok(Updated {
                    etag,
                    confirmed_by_reading: false,
                })
            }
            // A 412 may mean an earlier attempt of this very PATCH applied and only its answer
            // was lost. Read the resource: if it shows what the patch set, it did.
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => {
                let live = self.get(collection, sandbox, id).await?;
                match live {
                    Some(live)
                        if shows(&live, ops)
                            && live.updated_client.as_deref() == Some(&self.settings().client_id) =>
                    {
                        crate::info!(
                            "PATCH {}: 412, but the resource already shows this change; taking it as applied",
                            call.label
                        );
                        Ok(Updated {
                            etag: live.etag,
                            confirmed_by_reading: true,
                        })
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Takes an action on a resource of `collection` (`POST {collection}/{id}/action?op=…`,
    /// no body): a flow's `enable` or `disable`. The new etag, when AEP gives one.
    pub async fn action(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        id: &str,
        op: &str,
    ) -> Result<Option<String>, FlowError> {
        let call = Call::on(
            Method::POST,
            format!("{}/{id}/action?op={op}", collection.into().path),
            sandbox,
            Repeat::Safe,
        );
        let answer = self.send(&call).await?;
        parse::etag(&answer.body).map_err(|e| Self::protocol(&call, e))
    }

    /// Deletes a resource of `collection`; a 404 means it is already gone.
    pub async fn delete(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        id: &str,
    ) -> Result<Deleted, FlowError> {
        let collection = collection.into();
        if !collection.deletes() {
            return Err(FlowError::Protocol {
                method: "DELETE".into(),
                path: collection.label(),
                reason: "AEP documents no DELETE for these: flowform leaves them in AEP".into(),
            });
        }
        let collection = collection.path;
        let call = Call::on(
            Method::DELETE,
            format!("{collection}/{id}"),
            sandbox,
            Repeat::Safe,
        );
        match self.send(&call).await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(Deleted::AlreadyGone),
            Err(e) => Err(e),
        }
    }

    /// `GET /connections/{id}/test`.
    pub async fn test_connection(&self, sandbox: &str, id: &str) -> Result<bool, FlowError> {
        let call = Call::on(
            Method::GET,
            format!("/connections/{id}/test"),
            sandbox,
            Repeat::Safe,
        );
        let answer = self.send(&call).await?;
        parse::test_result(&answer.body).map_err(|e| Self::protocol(&call, e))
    }

    /// A connection spec, fetched once per run; `None` when AEP has no such spec.
    pub async fn connection_spec(&self, sandbox: &str, id: &str) -> Result<Option<Arc<LiveSpec>>, FlowError> {
        if let Some(cached) = crate::sync::lock(&self.specs).get(id) {
            return Ok(cached.clone());
        }
        let call = Call::on(
            Method::GET,
            format!("/connectionSpecs/{id}"),
            sandbox,
            Repeat::Safe,
        );
        let spec = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => None,
            Err(e) => return Err(e),
            Ok(answer) => parse::connection_spec(&answer.body)
                .map_err(|e| Self::protocol(&call, e))?
                .map(Arc::new),
        };
        crate::sync::lock(&self.specs).insert(id.to_owned(), spec.clone());
        Ok(spec)
    }
}

/// Whether a resource shows every value the operations set (secrets, masked in the
/// answer, cannot be compared and are taken as shown; an object set whole shows when each
/// of its members does).
fn shows(live: &LiveObject, ops: &[PatchOp]) -> bool {
    fn same(live: Option<&Value>, value: &Value) -> bool {
        match (live, value) {
            (Some(Value::Object(have)), Value::Object(want)) => {
                want.iter().all(|(k, v)| same(have.get(k), v))
            }
            (Some(have), want) => have == want || model::is_masked(have),
            (None, _) => false,
        }
    }
    ops.iter().all(|op| match (op.op.as_str(), &op.value) {
        ("remove", _) => live.at(&op.path).is_none(),
        (_, Some(v)) => same(live.at(&op.path).as_ref(), v),
        (_, None) => false,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::settings::{Credentials, RetryPolicy, Settings};
    use super::*;
    use crate::secret::Secret;

    fn client(max_url_length: usize) -> Client {
        Client::new(Settings {
            endpoint: reqwest::Url::parse("https://platform.adobe.io/data/foundation/flowservice").unwrap(),
            org_id: "o@AdobeOrg".into(),
            client_id: "c".into(),
            credentials: Credentials::Static(Secret::new("t")),
            parallelism: 8,
            requests_per_second: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            max_url_length,
        })
        .unwrap()
    }

    #[test]
    fn only_plain_values_go_in_a_filter_list() {
        for (value, ok) in [
            ("ACME Salesforce", true),
            ("a+b&c=d%20é", true),
            ("ACME, Inc.", false),
            (" padded", false),
            ("padded\t", false),
            ("\"quoted\"", false),
            ("", false),
        ] {
            assert_eq!(listable(value), ok, "{value:?}");
        }
    }

    #[test]
    fn batches_hold_a_page_at_most_and_stay_within_the_url_length() {
        let ids: Vec<String> = (0..250)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        let roomy = client(6_000);
        let batches = roomy.batches(CONNECTIONS, &[], "id", ids.clone());
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        assert_eq!(batches.concat(), ids, "every id once, in order");
        let tight = client(400);
        let spec = [Filter::new(
            "connectionSpec.id",
            ["cfc0fee1-7dc0-40ef-b73e-d8b134c436f5"],
        )];
        let batches = tight.batches(CONNECTIONS, &spec, "id", ids.clone());
        assert!(batches.len() > 30, "{}", batches.len());
        assert_eq!(batches.concat(), ids);
        for (i, batch) in batches.iter().enumerate() {
            let mut filters = spec.to_vec();
            filters.push(Filter::new("id", batch.iter().cloned()));
            let url = format!(
                "https://platform.adobe.io/data/foundation/flowservice{}",
                list_path(CONNECTIONS, &filters)
            );
            assert!(url.len() <= 400, "{} characters: {url}", url.len());
            // As full as it can be (but the last): one more id would not fit.
            let last = i + 1 == batches.len();
            assert!(last || url.len() + 3 + 36 > 400 || batch.len() == 100, "{url}");
        }
        // A value too long for any URL still goes, alone.
        let long = "x".repeat(500);
        assert_eq!(
            tight.batches(CONNECTIONS, &[], "name", vec![long.clone(), "y".into()]),
            [vec![long], vec!["y".to_owned()]]
        );
    }
}
