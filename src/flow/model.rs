//! The shapes of Flow Service requests and answers, as flowform reads and writes them.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A base connection as `GET /connections` returns it. Lenient: AEP adds fields without
/// notice, and an `initializing` connection has no etag.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveConnection {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub connection_spec: Option<SpecInfo>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub auth: Option<LiveAuth>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub updated_at: Option<i64>,
    #[serde(default)]
    pub created_client: Option<String>,
    #[serde(default)]
    pub updated_client: Option<String>,
    #[serde(default)]
    pub sandbox_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SpecInfo {
    pub id: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `auth` as read back: secret params come back masked, so their values mean nothing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveAuth {
    pub spec_name: String,
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl LiveConnection {
    pub fn spec_id(&self) -> Option<&str> {
        self.connection_spec.as_ref().map(|s| s.id.as_str())
    }

    pub fn is_initializing(&self) -> bool {
        self.state.as_deref() == Some("initializing")
    }
}

/// `201 {id, etag}`; no etag while the connection initializes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Created {
    pub id: String,
    #[serde(default)]
    pub etag: Option<String>,
}

/// A JSON Patch operation (RFC 6902) on a connection.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: String,
    /// The value to send. Built by the caller, secrets included; never logged.
    pub value: Option<Value>,
}

impl PatchOp {
    pub fn to_json(&self) -> Value {
        let mut op = serde_json::json!({"op": self.op, "path": self.path});
        if let Some(value) = &self.value {
            op["value"] = value.clone();
        }
        op
    }
}

/// A connection spec as `GET /connectionSpecs/{id}` returns it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveSpec {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub auth_spec: Vec<LiveAuthSpec>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LiveAuthSpec {
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A draft-07 JSON Schema of the params.
    #[serde(default)]
    pub spec: Value,
}

impl LiveAuthSpec {
    /// Params the schema marks `"format": "password"`.
    pub fn secret_params(&self) -> Vec<String> {
        self.spec["properties"]
            .as_object()
            .map(|props| {
                props
                    .iter()
                    .filter(|(_, p)| p["format"] == "password")
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
