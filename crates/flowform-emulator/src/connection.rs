//! One base connection as the emulator keeps it, and what a GET shows of it.
//!
//! A connection keeps no secret: its secret params are SHA-256 digests ([`digest`]), and a read
//! shows [`MASK`] in their place.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

/// A place the connection held earlier: its sequence number and name until `until_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Earlier {
    pub seq: u64,
    pub name: String,
    pub until_ms: i64,
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
            "connectionSpec": {"id": self.spec_id, "version": self.spec_version},
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

    /// The rendered item, cached until the connection changes.
    pub fn rendered(&self) -> &Bytes {
        self.rendered
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.to_json()).unwrap_or_default()))
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
