//! Data Prep's collections ([`Api::DataPrep`]) behind the client's generic calls: a mapping
//! set read bare, listed in `{data, _page}` by offset, created by a POST that answers 200
//! `{id, version}`, replaced whole by a PUT that moves its version on, checked by
//! `POST /mappingSets/validate` (flow-service-explore-runs §4).
//!
//! A set's `version` (a number) stands where the Flow Service has an etag: the state records
//! it, a dataflow pins it (`mappingVersion`). Data Prep documents no `If-Match`: a PUT
//! replaces what is there, so the applier reads the set just before (the version it read is
//! the one it expects) and says so when someone else's version came between.

use std::future::Future;
use std::pin::Pin;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::limits::{MAX_PAGES, PAGE_SIZE};
use super::model::{Created, LiveObject};
use super::transport::{Call, Repeat};
use super::{Api, Client, Collection, Filter, FlowError, Updated, parse};

/// A read under way.
type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, FlowError>> + Send + 'a>>;

/// A Data Prep object read into the shape every kind's is: its `version` taken for its etag.
fn object(item: Value) -> Result<LiveObject, String> {
    let version = match item.get("version") {
        Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
        Some(Value::String(s)) if s.parse::<u64>().is_ok() => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => return Err("`version` is not a whole number".to_owned()),
    };
    let mut live = LiveObject::from_json(item)?;
    parse::check_id(&live.id)?;
    live.etag = version;
    // Epoch milliseconds in every doc example; a date-time string (as the OpenAPI types them)
    // is not read: only an interrupted create's recovery uses them, and it does without.
    let ms = |live: &mut LiveObject, name: &str| live.body.remove(name).and_then(|v| v.as_i64());
    live.created_at = ms(&mut live, "createdDate");
    live.updated_at = ms(&mut live, "modifiedDate");
    Ok(live)
}

/// One page of a listing: `{data: [...], _page, _links}`.
fn page(body: &[u8]) -> Result<(Vec<LiveObject>, bool), String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Some(Value::Array(data)) = json.get("data") else {
        return Err("the answer has no `data`".to_owned());
    };
    let mut items = Vec::with_capacity(data.len());
    for item in data {
        items.push(
            object(item.clone()).map_err(|e| format!("a mapping set in the answer is unreadable: {e}"))?,
        );
    }
    let more = json["_links"]["next"]["href"]
        .as_str()
        .is_some_and(|s| !s.is_empty());
    Ok((items, more))
}

impl Client {
    /// `GET {collection}/{id}`: the bare object; `None` on 404.
    pub(super) async fn prep_get(
        &self,
        collection: Collection,
        sandbox: &str,
        id: &str,
    ) -> Result<Option<LiveObject>, FlowError> {
        if !parse::usable_id(id) {
            return Ok(None);
        }
        let mut call = Call::on(
            Method::GET,
            format!("{}/{id}", collection.from_base()),
            sandbox,
            Repeat::Safe,
        );
        call.label = format!("{}/{id}", collection.label());
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        let item: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Self::protocol(&call, format!("the answer is not JSON: {e}")))?;
        let live = object(item).map_err(|e| Self::protocol(&call, e))?;
        if live.id != id {
            return Err(Self::protocol(
                &call,
                format!(
                    "AEP answered with another resource, `{}`",
                    parse::clean(&live.id, 120)
                ),
            ));
        }
        Ok(Some(live))
    }

    /// A listing: by `name` (one), by `id` (one GET each), or the sandbox's whole. The whole
    /// is read by offset, `expected` of it (what the state manages there) in pages sent at
    /// once, then page after page while they come full; a set seen twice (an offset moved
    /// by a create meanwhile) counts once.
    pub(super) async fn prep_list(
        &self,
        collection: Collection,
        sandbox: &str,
        filters: &[Filter],
        expected: u64,
    ) -> Result<Vec<LiveObject>, FlowError> {
        let mut name = None;
        for f in filters {
            match (f.field.as_str(), f.values.as_slice()) {
                ("name", [one]) => name = Some(one.as_str()),
                ("id", ids) => {
                    let reads: Vec<Pending<'_, Option<LiveObject>>> = ids
                        .iter()
                        .map(|id| Box::pin(self.prep_get(collection, sandbox, id)) as Pin<Box<_>>)
                        .collect();
                    let mut found = Vec::new();
                    for read in crate::sync::join_all(reads).await {
                        found.extend(read?);
                    }
                    return Ok(found);
                }
                (field, _) => {
                    return Err(FlowError::Protocol {
                        method: "GET".into(),
                        path: collection.label(),
                        reason: format!("Data Prep's listing takes one `name`, not `{field}`"),
                    });
                }
            }
        }
        let path = |start: u64| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair("limit", &PAGE_SIZE.to_string());
            query.append_pair("start", &start.to_string());
            if let Some(name) = name {
                query.append_pair("name", name);
            }
            format!("{}?{}", collection.from_base(), query.finish())
        };
        let read = |start: u64| {
            let path = path(start);
            async move {
                let mut call = Call::on(Method::GET, path, sandbox, Repeat::Safe);
                call.label = collection.label();
                let answer = self.send(&call).await?;
                page(&answer.body).map_err(|e| Self::protocol(&call, e))
            }
        };
        let first_pages = expected.div_ceil(PAGE_SIZE).clamp(1, MAX_PAGES);
        let reads = (0..first_pages)
            .map(|i| Box::pin(read(i * PAGE_SIZE)) as Pin<Box<_>>)
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::new();
        let mut last = (0u64, false);
        for (i, answer) in crate::sync::join_all(reads).await.into_iter().enumerate() {
            let (page, more): (Vec<LiveObject>, bool) = answer?;
            last = ((i as u64 + 1) * PAGE_SIZE, more && page.len() as u64 == PAGE_SIZE);
            items.extend(page.into_iter().filter(|o| seen.insert(o.id.clone())));
            if !more {
                return Ok(items);
            }
        }
        let (mut start, mut more) = last;
        let mut pages = first_pages;
        while more {
            if pages >= MAX_PAGES {
                return Err(FlowError::Protocol {
                    method: "GET".into(),
                    path: collection.label(),
                    reason: format!(
                        "AEP's listing goes on past {pages} pages; stopping rather than follow it further"
                    ),
                });
            }
            let (page, next) = read(start).await?;
            pages += 1;
            more = next && !page.is_empty();
            start = start.saturating_add(page.len() as u64);
            items.extend(page.into_iter().filter(|o| seen.insert(o.id.clone())));
        }
        Ok(items)
    }

    /// `POST {collection}`: answered 200 `{id, version, …}`; the version is the etag.
    pub(super) async fn prep_create(
        &self,
        collection: Collection,
        sandbox: &str,
        body: &Value,
    ) -> Result<Created, FlowError> {
        let call = Call {
            method: Method::POST,
            path: collection.from_base(),
            label: collection.label(),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            if_match: None,
            repeat: Repeat::Create,
        };
        let answer = self.send(&call).await?;
        let unknown = |e: String| FlowError::OutcomeUnknown {
            method: "POST".to_owned(),
            path: call.label.clone(),
            reason: format!("AEP answered {}, but {e}", answer.status),
        };
        let item: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| unknown(format!("the answer is not JSON: {e}")))?;
        let live = object(item).map_err(unknown)?;
        Ok(Created {
            id: live.id,
            etag: live.etag,
        })
    }

    /// `PUT {collection}/{id}` with the whole new body: the new version.
    pub async fn replace(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        id: &str,
        body: &Value,
    ) -> Result<Updated, FlowError> {
        let collection = collection.into();
        let call = Call {
            method: Method::PUT,
            path: format!("{}/{id}", collection.from_base()),
            label: format!("{}/{id}", collection.label()),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            if_match: None,
            // A PUT of the same body twice leaves the same content (a version more).
            repeat: Repeat::Safe,
        };
        if collection.api != Api::DataPrep {
            return Err(Self::protocol(
                &call,
                "only Data Prep's resources are replaced whole",
            ));
        }
        let answer = self.send(&call).await?;
        let item: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Self::protocol(&call, format!("the answer is not JSON: {e}")))?;
        let live = object(item).map_err(|e| Self::protocol(&call, e))?;
        Ok(Updated {
            etag: live.etag,
            confirmed_by_reading: false,
        })
    }

    /// `POST {collection}/validate`: per mapping, the reason it fails (`None` when it passes).
    pub async fn validate_mappings(
        &self,
        collection: impl Into<Collection>,
        sandbox: &str,
        body: &Value,
    ) -> Result<Vec<Option<String>>, FlowError> {
        let collection = collection.into();
        let call = Call {
            method: Method::POST,
            path: format!("{}/validate", collection.from_base()),
            label: format!("{}/validate", collection.label()),
            sandbox: Some(sandbox),
            body: Some(serde_json::to_vec(body).unwrap_or_default()),
            if_match: None,
            repeat: Repeat::Safe,
        };
        let answer = self.send(&call).await?;
        let json: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Self::protocol(&call, format!("the answer is not JSON: {e}")))?;
        let Some(Value::Array(rows)) = json.get("validationResponse") else {
            return Err(Self::protocol(&call, "the answer has no `validationResponse`"));
        };
        Ok(rows
            .iter()
            .take(super::limits::PAGE_SIZE as usize * 100)
            .map(|row| {
                let failed = row["status"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("FAILED"));
                failed.then(|| {
                    let reason = row["errors"]
                        .as_array()
                        .and_then(|e| e.first())
                        .and_then(|e| e["exception"].as_str().or_else(|| e["message"].as_str()))
                        .unwrap_or("Data Prep did not say why");
                    parse::clean(reason, 300)
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_reads_with_its_version_for_an_etag() {
        let live = object(
            serde_json::json!({"id": "f3a1b2c3d4e5f60718293a4b5c6d7e8f", "version": 2, "name": "n",
            "outputSchema": {"schemaRef": {"id": "s"}}}),
        )
        .unwrap();
        assert_eq!(live.etag.as_deref(), Some("2"));
        assert_eq!(live.name, "n");
        assert!(object(serde_json::json!({"id": "a", "version": "x"})).is_err());
        let (items, more) = page(br#"{"data":[{"id":"abc","version":0}],"_page":{"count":1},"_links":{"next":{"href":"/m?start=1"}}}"#).unwrap();
        assert_eq!((items.len(), more), (1, true));
        assert!(page(br#"{"items":[]}"#).is_err());
    }
}
