//! The shapes of Flow Service requests and answers, as flowform reads and writes them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A base connection's state. AEP documents `enabled` and `disabled` (a connection may be
/// disabled in the UI), and `initializing` for OAuth2 JWT connections just created; its
/// errors name passing ones (`updating`, `delete-finalizing`, …), kept as they come.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectionState {
    Enabled,
    Disabled,
    Initializing,
    Other(String),
}

impl ConnectionState {
    pub fn as_str(&self) -> &str {
        match self {
            ConnectionState::Enabled => "enabled",
            ConnectionState::Disabled => "disabled",
            ConnectionState::Initializing => "initializing",
            ConnectionState::Other(other) => other,
        }
    }
}

impl From<&str> for ConnectionState {
    fn from(text: &str) -> ConnectionState {
        match text {
            "enabled" => ConnectionState::Enabled,
            "disabled" => ConnectionState::Disabled,
            "initializing" => ConnectionState::Initializing,
            other => ConnectionState::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ConnectionState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConnectionState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ConnectionState, D::Error> {
        Ok(ConnectionState::from(String::deserialize(d)?.as_str()))
    }
}

/// `connectionSpec: {id, version}`, as a connection names its spec (the configuration
/// declares it, the state records it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecRef {
    pub id: String,
    pub version: String,
}

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
    pub state: Option<ConnectionState>,
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
    /// Who last changed it (an IMS user or technical account id).
    #[serde(default)]
    pub updated_by: Option<String>,
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
        self.state == Some(ConnectionState::Initializing)
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
    pub op: PatchKind,
    pub path: String,
    /// The value to send. Built by the caller, secrets included; never logged.
    pub value: Option<Value>,
}

/// A JSON Patch operation's kind: those AEP takes on a base connection (RFC 6902's `move`,
/// `copy` and `test` it refuses, FLOW-1434).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

impl PatchKind {
    /// As JSON Patch spells it (lower case, as every Adobe example does).
    pub fn as_str(self) -> &'static str {
        match self {
            PatchKind::Add => "add",
            PatchKind::Replace => "replace",
            PatchKind::Remove => "remove",
        }
    }
}

/// A value AEP returns in place of a secret (the emulator's `********`, the documentation's
/// placeholders such as `{PASSWORD}`): anything made only of `*`, or wrapped in braces.
pub fn is_masked(value: &Value) -> bool {
    match value.as_str() {
        Some(s) => !s.is_empty() && (s.chars().all(|c| c == '*') || (s.starts_with('{') && s.ends_with('}'))),
        None => false,
    }
}

impl PatchOp {
    pub fn to_json(&self) -> Value {
        let mut op = serde_json::json!({"op": self.op.as_str(), "path": self.path});
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

    /// The problems of `params` against the auth spec's JSON Schema, as (field, message);
    /// `Err` when the schema does not compile. AEP's answer is the schema, so this must hold
    /// for any value (it is fuzzed with the connection spec parser).
    pub fn problems(&self, params: &Value) -> Result<Vec<(String, String)>, String> {
        Ok(problems_of(&self.validator()?, params))
    }

    /// The auth spec's JSON Schema, compiled (costly: compiled once, used for every
    /// connection of the auth spec); `Err` when it does not compile.
    pub fn validator(&self) -> Result<jsonschema::Validator, String> {
        jsonschema::draft7::new(&self.spec).map_err(|e| clean(&e.to_string(), 500))
    }
}

/// The problems of `params` against a compiled auth spec schema, as (field, message).
pub fn problems_of(validator: &jsonschema::Validator, params: &Value) -> Vec<(String, String)> {
    {
        validator
            .iter_errors(params)
            .map(|error| {
                let pointer = error.instance_path().to_string();
                let field = match pointer.trim_start_matches('/').split('/').next() {
                    Some(p) if !p.is_empty() => format!("auth.params.{p}"),
                    _ => "auth.params".to_owned(),
                };
                // The schema is AEP's text, quoted in the message: cleaned as any server text.
                (field, clean(&error.to_string(), 500))
            })
            .collect()
    }
}

/// A server's text made fit for a message: control characters (terminal escapes included)
/// and invisible formatting characters become spaces, and past `max_chars` it is cut with `…`.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        let invisible = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        out.push(if c.is_control() || invisible { ' ' } else { c });
    }
    out.trim().to_owned()
}
