//! One base connection as the emulator keeps it, and what a GET shows of it.
//!
//! A connection keeps no secret: its secret params are SHA-256 digests ([`digest`]), and a read
//! shows [`MASK`] in their place.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::record::{Earlier, Record, spec_ref, text};

/// What a GET shows in place of a secret param (AEP never returns secrets in clear).
pub const MASK: &str = "********";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Enabled,
    Disabled,
    Initializing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Enabled => "enabled",
            State::Disabled => "disabled",
            State::Initializing => "initializing",
        }
    }
}

/// One base connection as the emulator keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
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
    pub state: State,
    pub auth_spec: String,
    /// Params that are not secret, as given.
    pub params: Map<String, Value>,
    /// Secret params: name → SHA-256 of the value. The emulator never needs a secret back,
    /// so it keeps none (not in memory, not in `--data`).
    pub secrets: BTreeMap<String, String>,
    /// `None` while initializing (AEP shows neither etag nor version then).
    pub etag: Option<String>,
    pub seq: u64,
    #[serde(default)]
    pub earlier: Vec<Earlier>,
    /// Used by a dataflow: deleting it answers 1418.
    #[serde(default)]
    pub in_use: bool,
    /// The source's side of the credentials (`PUT /__emulator/connections/{id}/source`): the
    /// digests of the secret values the source accepts now, by param. `None`: it accepts what
    /// the connection holds. A password rotated at the source makes `GET
    /// /connections/{id}/test` answer `false` until the connection is given the new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_accepts: Option<BTreeMap<String, String>>,
    /// When an initializing connection becomes enabled.
    pub enable_at: Option<i64>,
    /// Whether enabling adds the server-side `orgId` param (OAuth2 JWT connections do).
    #[serde(default)]
    pub adds_org_id: bool,
    /// The rendered JSON item, made once per version of the connection.
    #[serde(skip)]
    pub rendered: OnceLock<Bytes>,
}

impl Connection {
    /// The item as `GET /connections` shows it.
    pub fn to_json(&self) -> Value {
        let mut params = self.params.clone();
        for name in self.secrets.keys() {
            params.insert(name.clone(), Value::String(MASK.to_owned()));
        }
        let mut item = serde_json::json!({
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
            "connectionSpec": spec_ref(&self.spec_id, &self.spec_version),
            "state": self.state.as_str(),
            "auth": {"specName": self.auth_spec, "params": params},
        });
        if let Some(description) = &self.description {
            item["description"] = Value::String(description.clone());
        }
        if let Some(etag) = &self.etag {
            item["version"] = Value::String(etag.clone());
            item["etag"] = Value::String(etag.clone());
        }
        item
    }

    /// Whether the source accepts the connection's credentials: what `GET
    /// /connections/{id}/test` answers (an initializing or disabled connection cannot
    /// connect).
    pub fn source_accepts_credentials(&self) -> bool {
        self.state == State::Enabled
            && self.source_accepts.as_ref().is_none_or(|accepts| {
                accepts
                    .iter()
                    .all(|(name, digest)| self.secrets.get(name) == Some(digest))
            })
    }
}

impl Record for Connection {
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

    fn enable_at(&self) -> Option<i64> {
        self.enable_at
    }

    fn to_json(&self) -> Value {
        Connection::to_json(self)
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
            "state" => text(self.state.as_str()),
            "createdAt" => Some(Cow::Owned(self.created_at.into())),
            "updatedAt" => Some(Cow::Owned(self.updated_at.into())),
            "connectionSpec" => Some(Cow::Owned(spec_ref(&self.spec_id, &self.spec_version))),
            _ => self.to_json().as_object_mut()?.remove(name).map(Cow::Owned),
        }
    }
}

/// SHA-256 of a secret param's value, as hex: all the emulator keeps of a secret.
pub fn digest(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stable sandbox id per organization and sandbox name.
pub fn sandbox_id(org: &str, sandbox: &str) -> String {
    let hex = digest(&Value::String(format!("{org}/{sandbox}")));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Kind;
    use crate::record::tests::properties_agree_with_the_item;

    #[test]
    fn fast_properties_match_the_rendered_item() {
        let mut conn = Connection {
            id: "i".into(),
            org: "o@AdobeOrg".into(),
            sandbox: "prod".into(),
            sandbox_id: sandbox_id("o@AdobeOrg", "prod"),
            created_at: 1,
            updated_at: 2,
            created_by: "c".into(),
            updated_by: "u".into(),
            created_client: "cc".into(),
            updated_client: "uc".into(),
            name: "n".into(),
            description: None,
            spec_id: "spec".into(),
            spec_version: "1.0".into(),
            state: State::Initializing,
            auth_spec: "Basic Authentication".into(),
            params: Map::from_iter([("username".to_owned(), Value::String("u".into()))]),
            secrets: BTreeMap::from([("password".to_owned(), "digest".to_owned())]),
            etag: None,
            seq: 1,
            earlier: Vec::new(),
            in_use: false,
            source_accepts: None,
            enable_at: Some(5),
            adds_org_id: false,
            rendered: OnceLock::new(),
        };
        properties_agree_with_the_item(&conn, Kind::Connections);
        conn.description = Some("d".into());
        conn.etag = Some("\"e\"".into());
        conn.state = State::Enabled;
        properties_agree_with_the_item(&conn, Kind::Connections);
        assert_eq!(conn.property("auth").unwrap()["params"]["password"], MASK);
    }
}
