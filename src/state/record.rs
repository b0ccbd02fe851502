//! One managed resource as the state remembers it: its kind, AEP's id and etag, the plain
//! values of its fields as last applied or read, its secrets by fingerprint only, and the
//! ids of the resources it depends on (so that a destroy, or a resource no longer declared,
//! is ordered without the configuration, as Terraform's state keeps `dependencies`).
//!
//! A record written before flowform knew other kinds (state format 3: a base connection's
//! `description`, `connectionSpec`, `authSpecName` and `params` as fields of their own) is
//! read as the base connection it is; it is written back in this format.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::flow::model::ConnectionState;
use crate::kind::{self, Kind};

/// One managed resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "Wire")]
pub struct Record {
    #[serde(serialize_with = "kind_name")]
    pub kind: &'static Kind,
    pub key: String,
    pub sandbox: String,
    pub id: String,
    /// Verbatim, quotes included; `None` while the resource initializes.
    pub etag: Option<String>,
    pub name: String,
    /// The plain values of its other fields, by path, as last applied or read (a `Params`
    /// field as an object of its plain params; a reference as the id it holds).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, Value>,
    /// The names of the secret params (their values are never kept).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub secret_params: BTreeSet<String>,
    /// The fingerprint of the secret params' values (see [`super::digest`]); `None` when
    /// flowform never sent them (an imported resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_digest: Option<String>,
    /// `enabled`, `disabled`, `initializing`, … as AEP last said; absent when AEP has not said
    /// since flowform last changed it (never assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConnectionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Lifecycle flags that must outlive the configuration.
    #[serde(default)]
    pub protect: bool,
    /// When flowform last changed or adopted it (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<i64>,
    /// The ids of the resources it refers to (a source connection's base connection): it is
    /// deleted before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

fn kind_name<S: serde::Serializer>(kind: &&'static Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name)
}

/// A record as written, in this format or in format 3's.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    kind: Option<String>,
    key: String,
    sandbox: String,
    id: String,
    #[serde(default)]
    etag: Option<String>,
    name: String,
    #[serde(default)]
    attrs: BTreeMap<String, Value>,
    #[serde(default)]
    secret_params: BTreeSet<String>,
    #[serde(default)]
    secrets_digest: Option<String>,
    #[serde(default)]
    state: Option<ConnectionState>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    updated_at: Option<i64>,
    #[serde(default)]
    protect: bool,
    #[serde(default)]
    applied_at: Option<i64>,
    #[serde(default)]
    depends_on: Vec<String>,
    // Format 3 (base connections only).
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    connection_spec: Option<LegacySpec>,
    #[serde(default)]
    auth_spec_name: Option<String>,
    #[serde(default)]
    params: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacySpec {
    id: String,
    version: String,
}

impl TryFrom<Wire> for Record {
    type Error = String;

    fn try_from(w: Wire) -> Result<Record, String> {
        let kind = match w.kind.as_deref() {
            None => kind::default(),
            Some(name) => kind::by_name(name).ok_or_else(|| {
                format!("a record of kind `{name}`, which this flowform does not know (written by a newer flowform?)")
            })?,
        };
        let mut attrs = w.attrs;
        if let Some(d) = w.description {
            attrs.insert("description".into(), Value::String(d));
        }
        if let Some(spec) = w.connection_spec {
            attrs.insert("connectionSpec.id".into(), Value::String(spec.id));
            attrs.insert("connectionSpec.version".into(), Value::String(spec.version));
        }
        if let Some(name) = w.auth_spec_name {
            attrs.insert("auth.specName".into(), Value::String(name));
        }
        if let Some(params) = w.params {
            attrs.insert("auth.params".into(), Value::Object(params));
        }
        Ok(Record {
            kind,
            key: w.key,
            sandbox: w.sandbox,
            id: w.id,
            etag: w.etag,
            name: w.name,
            attrs,
            secret_params: w.secret_params,
            secrets_digest: w.secrets_digest,
            state: w.state,
            created_at: w.created_at,
            updated_at: w.updated_at,
            protect: w.protect,
            applied_at: w.applied_at,
            depends_on: w.depends_on,
        })
    }
}

impl Record {
    /// A record of `kind` with nothing recorded but its identity (for tools and tests that
    /// build a state in code; an apply builds records from what it sent).
    pub fn new(kind: &'static Kind, key: &str, sandbox: &str, id: &str, name: &str) -> Record {
        Record {
            kind,
            key: key.to_owned(),
            sandbox: sandbox.to_owned(),
            id: id.to_owned(),
            etag: None,
            name: name.to_owned(),
            attrs: BTreeMap::new(),
            secret_params: BTreeSet::new(),
            secrets_digest: None,
            state: None,
            created_at: None,
            updated_at: None,
            protect: false,
            applied_at: None,
            depends_on: Vec::new(),
        }
    }

    /// The record with `path` set to `value` (`name` included).
    pub fn with(mut self, path: &str, value: impl Into<Value>) -> Record {
        let value = value.into();
        match (path, value) {
            ("name", Value::String(name)) => self.name = name,
            (_, Value::Null) => {
                self.attrs.remove(path);
            }
            (_, value) => {
                self.attrs.insert(path.to_owned(), value);
            }
        }
        self
    }

    /// A field's recorded value, by path (`name` included).
    pub fn get(&self, path: &str) -> Option<Value> {
        if path == "name" {
            return Some(Value::String(self.name.clone()));
        }
        self.attrs.get(path).cloned()
    }

    /// A recorded string field (`name` included).
    pub fn text(&self, path: &str) -> Option<&str> {
        if path == "name" {
            return Some(&self.name);
        }
        self.attrs.get(path).and_then(Value::as_str)
    }

    /// The plain params of its `Params` field.
    pub fn params(&self) -> Option<&Map<String, Value>> {
        let field = self.kind.params_field()?;
        self.attrs.get(field.path).and_then(Value::as_object)
    }

    /// The plain params, to change.
    pub fn params_mut(&mut self) -> Option<&mut Map<String, Value>> {
        let field = self.kind.params_field()?;
        self.attrs.get_mut(field.path).and_then(Value::as_object_mut)
    }

    /// Its connection spec id (every kind of the Flow Service has one).
    pub fn spec_id(&self) -> &str {
        self.text("connectionSpec.id").unwrap_or_default()
    }

    /// The values of its kind's scope fields (see [`Kind::scope`]), lower case.
    pub fn scope(&self) -> Vec<String> {
        self.kind
            .scope
            .iter()
            .map(|path| self.text(path).unwrap_or_default().to_lowercase())
            .collect()
    }

    /// The address it is kept under.
    pub fn address(&self) -> String {
        kind::address::format(self.kind, &self.sandbox, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_3_record_reads_as_the_base_connection_it_is() {
        let old = serde_json::json!({
            "key": "acme", "sandbox": "prod", "id": "i", "etag": "\"e\"", "name": "ACME",
            "description": "d", "connectionSpec": {"id": "cfc0", "version": "1.0"},
            "authSpecName": "Basic Authentication", "params": {"username": "u"},
            "secretParams": ["password"], "protect": true
        });
        let r: Record = serde_json::from_value(old).unwrap();
        assert_eq!(r.kind.name, "connection");
        assert_eq!(r.text("connectionSpec.id"), Some("cfc0"));
        assert_eq!(r.text("description"), Some("d"));
        assert_eq!(
            r.params().and_then(|p| p.get("username")),
            Some(&Value::from("u"))
        );
        // Written back in this format, and read back the same.
        let written = serde_json::to_value(&r).unwrap();
        assert_eq!(written["kind"], "connection");
        assert!(written.get("connectionSpec").is_none());
        let again: Record = serde_json::from_value(written).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn a_record_of_an_unknown_kind_is_refused() {
        let newer =
            serde_json::json!({"kind": "pipeline", "key": "k", "sandbox": "prod", "id": "i", "name": "n"});
        let e = serde_json::from_value::<Record>(newer).unwrap_err().to_string();
        assert!(e.contains("kind `pipeline`"), "{e}");
    }
}
