//! Connections, states and AEP views for tests of the planner and the renders.
//!
//! A base connection is built as a [`Connection`], whose fields read like the
//! configuration's (a test changes `c.auth.spec_name` or `c.description`), and becomes the
//! [`Resource`] the planner takes through [`Connection::resource`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

use super::Live;
use crate::config::{Desired, Lifecycle, Origin as Declared, Param, Resource};
use crate::flow::model::LiveConnection;
use crate::kind;
use crate::secret::{Secret, SecretRef};
use crate::state::{Record, State};

pub const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
/// The fixtures' secret values: no render, plan or state may contain them.
pub const PASSWORD: &str = "pw-FIXTURE-SECRET-0451";
pub const TOKEN: &str = "tok-FIXTURE-SECRET-9163";

/// `connectionSpec: {id, version}`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecRef {
    pub id: String,
    pub version: String,
}

/// `auth: {specName, params}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Auth {
    pub spec_name: String,
    pub params: BTreeMap<String, Param>,
}

/// A base connection as a test writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub key: String,
    pub sandbox: String,
    pub name: String,
    pub description: Option<String>,
    pub connection_spec: SpecRef,
    pub auth: Auth,
    pub lifecycle: Lifecycle,
    pub import: Option<String>,
}

impl Connection {
    /// The declared resource it stands for.
    pub fn resource(&self) -> Resource {
        let text = |s: &str| crate::config::Value::Plain(Value::String(s.to_owned()));
        let mut values = BTreeMap::new();
        values.insert("name", text(&self.name));
        if let Some(d) = &self.description {
            values.insert("description", text(d));
        }
        values.insert("connectionSpec.id", text(&self.connection_spec.id));
        values.insert("connectionSpec.version", text(&self.connection_spec.version));
        values.insert("auth.specName", text(&self.auth.spec_name));
        values.insert(
            "auth.params",
            crate::config::Value::Params(self.auth.params.clone()),
        );
        Resource {
            kind: kind::default(),
            key: self.key.clone(),
            sandbox: self.sandbox.clone(),
            values,
            lifecycle: self.lifecycle.clone(),
            import: self.import.clone(),
            hints: BTreeMap::new(),
            origin: Declared {
                file: PathBuf::from("c.yaml"),
                line: 1,
                column: 1,
            },
            places: Default::default(),
        }
    }

    pub fn split_params(&self) -> crate::config::SplitParams<'_> {
        let mut split = crate::config::SplitParams::default();
        for (name, param) in &self.auth.params {
            match param {
                Param::Plain(value) => {
                    split.plain.insert(name.clone(), value.clone());
                }
                Param::Secret { value, .. } => {
                    split.secret_names.insert(name.clone());
                    if let Some(v) = value {
                        split.secrets.insert(name.clone(), v);
                    }
                }
            }
        }
        split
    }
}

pub fn conn(key: &str, name: &str) -> Connection {
    let mut params = BTreeMap::new();
    params.insert("username".to_owned(), Param::Plain(json!("u")));
    params.insert("apiVersion".to_owned(), Param::Plain(json!("60.0")));
    for (name, value) in [("password", PASSWORD), ("securityToken", TOKEN)] {
        params.insert(
            name.to_owned(),
            Param::Secret {
                reference: SecretRef::Env(name.to_uppercase()),
                value: Some(Secret::new(value)),
            },
        );
    }
    Connection {
        key: key.to_owned(),
        sandbox: "prod".to_owned(),
        name: name.to_owned(),
        description: Some("d".to_owned()),
        connection_spec: SpecRef {
            id: SF.to_owned(),
            version: "1.0".to_owned(),
        },
        auth: Auth {
            spec_name: "Basic Authentication".to_owned(),
            params,
        },
        lifecycle: Lifecycle::default(),
        import: None,
    }
}

pub fn state() -> State {
    State {
        version: 1,
        lineage: "lineage".into(),
        serial: 3,
        salt: "salt".into(),
        org: None,
        resources: BTreeMap::new(),
        pending: Vec::new(),
        applied_plans: Vec::new(),
        digester: crate::state::Digester::keyless(),
    }
}

/// The state after applying `c` as connection `id`.
pub fn applied(state: &mut State, c: &Connection, id: &str) {
    // As the applier records it (`apply::record::applied`), built here so that the planner's
    // tests need nothing of the applier.
    let split = c.split_params();
    let mut record = Record::new(kind::default(), &c.key, &c.sandbox, id, &c.name)
        .with("description", c.description.clone())
        .with("connectionSpec.id", c.connection_spec.id.clone())
        .with("connectionSpec.version", c.connection_spec.version.clone())
        .with("auth.specName", c.auth.spec_name.clone())
        .with("auth.params", Value::Object(split.plain.clone()));
    record.etag = Some(format!("\"etag-{id}\""));
    record.secrets_digest = (split.all_resolved() && !split.secret_names.is_empty())
        .then(|| state.secrets_digest(&split.secrets));
    record.secret_params = split.secret_names.clone();
    record.state = Some("enabled".into());
    record.protect = c.lifecycle.protect;
    record.applied_at = Some(1);
    state
        .resources
        .insert(crate::state::address(&c.sandbox, &c.key), record);
}

/// AEP's view of `c` as connection `id`.
pub fn live_of(c: &Connection, id: &str) -> LiveConnection {
    let mut params = serde_json::Map::new();
    for (name, p) in &c.auth.params {
        params.insert(
            name.clone(),
            match p {
                Param::Plain(v) => v.clone(),
                Param::Secret { .. } => json!("********"),
            },
        );
    }
    let body = json!({
        "connectionSpec": {"id": c.connection_spec.id, "version": c.connection_spec.version},
        "auth": {"specName": c.auth.spec_name, "params": params},
    });
    LiveConnection {
        id: id.to_owned(),
        name: c.name.clone(),
        description: c.description.clone(),
        state: Some("enabled".into()),
        etag: Some(format!("\"etag-{id}\"")),
        created_at: Some(100),
        updated_at: Some(100),
        created_client: None,
        updated_client: None,
        updated_by: None,
        sandbox_name: Some("prod".into()),
        body: body.as_object().cloned().unwrap_or_default(),
    }
}

/// AEP's auth params of a connection, to change in a test.
pub fn params_mut(l: &mut LiveConnection) -> &mut serde_json::Map<String, Value> {
    let auth = l
        .body
        .entry("auth")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("auth is an object");
    auth.entry("params")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("params is an object")
}

pub fn live(conns: Vec<LiveConnection>) -> Live {
    let mut live = Live {
        refreshed: true,
        listed: [(kind::default().name, "prod".to_owned(), SF.to_owned())].into(),
        fetched: BTreeSet::new(),
        named: BTreeSet::new(),
        own_client: None,
        ..Live::default()
    };
    for c in conns {
        live.see(kind::default(), "prod", c);
    }
    live
}

pub fn desired(conns: Vec<Connection>) -> Desired {
    let mut d = Desired::default();
    for c in conns {
        d.insert(c.resource());
    }
    d
}
