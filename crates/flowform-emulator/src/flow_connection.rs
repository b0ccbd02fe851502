//! One source or target connection as the emulator keeps it, and what a GET shows of it.
//!
//! The two are one struct: the OpenAPI's `SourceConnectionItemDTO` and
//! `TargetConnectionItemDTO` differ only in what `data` and `params` hold, and both are
//! stored as given. What the server computes (`inheritedAttributes`, the sandbox fields, the
//! etag) is added when the item is rendered.

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::record::{Earlier, Kind, Record, spec_ref, text};

/// Which end of a dataflow a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// What a dataflow reads: a table of a base connection.
    Source,
    /// Where a dataflow writes: a dataset of the data lake.
    Target,
}

impl Side {
    pub fn kind(self) -> Kind {
        match self {
            Side::Source => Kind::SourceConnections,
            Side::Target => Kind::TargetConnections,
        }
    }

    /// "source connection", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Side::Source => "source connection",
            Side::Target => "target connection",
        }
    }
}

/// The base connection a source or target connection uses, as `inheritedAttributes`
/// echoes it: its id and its (immutable) connection spec, kept from when it was created.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseRef {
    pub id: String,
    pub spec_id: String,
    pub spec_version: String,
}

/// One source or target connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowConnection {
    pub id: String,
    pub org: String,
    pub sandbox: String,
    pub sandbox_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
    pub created_client: String,
    pub updated_client: String,
    pub name: String,
    pub description: Option<String>,
    pub spec_id: String,
    pub spec_version: String,
    /// Always enabled through the API; the admin endpoint can disable one.
    pub enabled: bool,
    pub base: Option<BaseRef>,
    /// The `data` object, as given (`format`; a target's `schema`).
    pub data: Value,
    /// The `params` object, as given (`tableName`, `columns`; a target's `dataSetId`).
    pub params: Value,
    pub etag: String,
    pub seq: u64,
    #[serde(default)]
    pub earlier: Vec<Earlier>,
    #[serde(skip)]
    pub rendered: OnceLock<Bytes>,
}

impl FlowConnection {
    pub fn state(&self) -> &'static str {
        if self.enabled { "enabled" } else { "disabled" }
    }

    fn inherited(&self) -> Option<Value> {
        self.base.as_ref().map(|b| {
            json!({"baseConnection": {"id": b.id, "connectionSpec": spec_ref(&b.spec_id, &b.spec_version)}})
        })
    }
}

impl Record for FlowConnection {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn org(&self) -> &str {
        &self.org
    }

    fn sandbox(&self) -> &str {
        &self.sandbox
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn earlier(&self) -> &[Earlier] {
        &self.earlier
    }

    fn earlier_mut(&mut self) -> &mut Vec<Earlier> {
        &mut self.earlier
    }

    fn stamp(&mut self, seq: u64, now_ms: i64) {
        self.seq = seq;
        self.updated_at = now_ms;
        self.rendered = OnceLock::new();
    }

    fn base_connection_id(&self) -> Option<&str> {
        self.base.as_ref().map(|b| b.id.as_str())
    }

    /// The item as `GET /sourceConnections` and `GET /targetConnections` show it.
    fn to_json(&self) -> Value {
        let mut item = json!({
            "id": self.id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "createdBy": self.created_by,
            "updatedBy": self.updated_by,
            "createdClient": self.created_client,
            "updatedClient": self.updated_client,
            "sandboxId": self.sandbox_id,
            "sandboxName": self.sandbox,
            "imsOrgId": self.org,
            "name": self.name,
            "data": self.data,
            "params": self.params,
            "connectionSpec": spec_ref(&self.spec_id, &self.spec_version),
            "state": self.state(),
            "version": self.etag,
            "etag": self.etag,
        });
        if let Some(description) = &self.description {
            item["description"] = Value::String(description.clone());
        }
        if let Some(base) = &self.base {
            item["baseConnectionId"] = Value::String(base.id.clone());
        }
        if let Some(inherited) = self.inherited() {
            item["inheritedAttributes"] = inherited;
        }
        item
    }

    fn rendered(&self) -> &Bytes {
        self.rendered
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.to_json()).unwrap_or_default()))
    }

    fn property(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "id" => text(&self.id),
            "name" => text(&self.name),
            "description" => self.description.as_deref().and_then(text),
            "baseConnectionId" => self.base_connection_id().and_then(text),
            "state" => text(self.state()),
            "createdAt" => Some(Cow::Owned(self.created_at.into())),
            "updatedAt" => Some(Cow::Owned(self.updated_at.into())),
            "connectionSpec" => Some(Cow::Owned(spec_ref(&self.spec_id, &self.spec_version))),
            "data" => Some(Cow::Borrowed(&self.data)),
            "params" => Some(Cow::Borrowed(&self.params)),
            "inheritedAttributes" => self.inherited().map(Cow::Owned),
            "version" | "etag" => text(&self.etag),
            _ => self.to_json().as_object_mut()?.remove(name).map(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::properties_agree_with_the_item;

    fn sample(side: Side, base: bool) -> FlowConnection {
        FlowConnection {
            id: "i".into(),
            org: "o@AdobeOrg".into(),
            sandbox: "prod".into(),
            sandbox_id: "s".into(),
            created_at: 1,
            updated_at: 2,
            created_by: "c".into(),
            updated_by: "u".into(),
            created_client: "cc".into(),
            updated_client: "uc".into(),
            name: "n".into(),
            description: base.then(|| "d".into()),
            spec_id: "spec".into(),
            spec_version: "1.0".into(),
            enabled: true,
            base: base.then(|| BaseRef {
                id: "b".into(),
                spec_id: "bs".into(),
                spec_version: "1.0".into(),
            }),
            data: match side {
                Side::Source => json!({"format": "tabular"}),
                Side::Target => json!({"schema": {"id": "https://ns.adobe.com/t/schemas/1", "version": "v"}}),
            },
            params: match side {
                Side::Source => {
                    json!({"tableName": "Contact", "columns": [{"name": "Email", "type": "string"}]})
                }
                Side::Target => json!({"dataSetId": "65d4c1f0a1b2c3d4e5f60101"}),
            },
            etag: "\"e\"".into(),
            seq: 1,
            earlier: Vec::new(),
            rendered: OnceLock::new(),
        }
    }

    #[test]
    fn fast_properties_match_the_rendered_item() {
        for (side, base) in [(Side::Source, true), (Side::Target, false), (Side::Target, true)] {
            properties_agree_with_the_item(&sample(side, base), side.kind());
        }
        let item = sample(Side::Source, true).to_json();
        assert_eq!(
            item["inheritedAttributes"],
            json!({"baseConnection": {"id": "b", "connectionSpec": {"id": "bs", "version": "1.0"}}})
        );
        assert_eq!(item["version"], item["etag"]);
        assert!(
            sample(Side::Target, false)
                .to_json()
                .get("inheritedAttributes")
                .is_none()
        );
    }
}
