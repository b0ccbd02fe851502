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

/// A resource of any kind as AEP returns it (`GET /connections`, `/sourceConnections`, …).
/// Lenient: AEP adds fields without notice, and an `initializing` connection has no etag.
/// What every kind has is read into fields; the rest is kept as it came, for the kind's
/// declaration to find its fields in ([`LiveObject::at`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveObject {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub state: Option<ConnectionState>,
    pub etag: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub created_client: Option<String>,
    pub updated_client: Option<String>,
    /// Who last changed it (an IMS user or technical account id).
    pub updated_by: Option<String>,
    pub sandbox_name: Option<String>,
    /// Everything else the item holds (`connectionSpec`, `auth`, `params`, `data`,
    /// `baseConnectionId`, `inheritedAttributes`, …).
    pub body: Map<String, Value>,
}

/// A base connection as `GET /connections` returns it.
pub type LiveConnection = LiveObject;

impl LiveObject {
    /// Reads one item of an answer; `Err` when it is not an object with a string `id`.
    pub fn from_json(item: Value) -> Result<LiveObject, String> {
        let Value::Object(mut body) = item else {
            return Err("an item is not an object".to_owned());
        };
        let text = |body: &mut Map<String, Value>, name: &str| match body.remove(name) {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Null) | None => Ok(None),
            Some(other) => Err(format!("`{name}` is {}, not a string", kind_of(&other))),
        };
        let number = |body: &mut Map<String, Value>, name: &str| match body.remove(name) {
            Some(Value::Number(n)) => Ok(n.as_i64()),
            Some(Value::Null) | None => Ok(None),
            Some(other) => Err(format!("`{name}` is {}, not a number", kind_of(&other))),
        };
        let id = match body.remove("id") {
            Some(Value::String(id)) => id,
            Some(other) => return Err(format!("`id` is {}, not a string", kind_of(&other))),
            None => return Err("missing field `id`".to_owned()),
        };
        Ok(LiveObject {
            id,
            name: text(&mut body, "name")?.unwrap_or_default(),
            description: text(&mut body, "description")?,
            state: text(&mut body, "state")?.map(|s| ConnectionState::from(s.as_str())),
            etag: text(&mut body, "etag")?,
            created_at: number(&mut body, "createdAt")?,
            updated_at: number(&mut body, "updatedAt")?,
            created_client: text(&mut body, "createdClient")?,
            updated_client: text(&mut body, "updatedClient")?,
            updated_by: text(&mut body, "updatedBy")?,
            sandbox_name: text(&mut body, "sandboxName")?,
            body,
        })
    }

    /// The value at a pointer of the item (`/name`, `/params/tableName`,
    /// `/transformations/name=Copy/params`: see [`super::pointer`]).
    pub fn at(&self, pointer: &str) -> Option<Value> {
        match pointer {
            "/name" => Some(Value::String(self.name.clone())),
            "/description" => self.description.clone().map(Value::String),
            "/state" => self.state.as_ref().map(|s| Value::String(s.as_str().to_owned())),
            _ => super::pointer::get_in(&self.body, pointer).cloned(),
        }
    }

    /// The string at a pointer of the item, without copying.
    pub fn text_at(&self, pointer: &str) -> Option<&str> {
        match pointer {
            "/name" => Some(&self.name),
            "/description" => self.description.as_deref(),
            "/state" => self.state.as_ref().map(ConnectionState::as_str),
            _ => super::pointer::get_in(&self.body, pointer)?.as_str(),
        }
    }

    /// Its connection spec's id (every kind of the Flow Service names one).
    pub fn spec_id(&self) -> Option<&str> {
        self.body.get("connectionSpec")?.get("id")?.as_str()
    }

    /// A base connection's auth spec name.
    pub fn auth_spec_name(&self) -> Option<&str> {
        self.body.get("auth")?.get("specName")?.as_str()
    }

    /// A base connection's auth params (secret ones masked).
    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.body.get("auth")?.get("params")?.as_object()
    }

    pub fn is_initializing(&self) -> bool {
        self.state == Some(ConnectionState::Initializing)
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
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
