//! Connections, states and AEP views for tests of the planner and the renders.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::json;

use super::Live;
use crate::config::{Auth, Connection, Desired, Lifecycle, Origin as Declared, Param, SpecRef};
use crate::flow::model::{LiveAuth, LiveConnection, SpecInfo};
use crate::secret::{Secret, SecretRef};
use crate::state::{Record, State, address};

pub const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
/// The fixtures' secret values: no render, plan or state may contain them.
pub const PASSWORD: &str = "pw-FIXTURE-SECRET-0451";
pub const TOKEN: &str = "tok-FIXTURE-SECRET-9163";

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
        places: Default::default(),
        origin: Declared {
            file: PathBuf::from("c.yaml"),
            line: 1,
            column: 1,
        },
    }
}

pub fn state() -> State {
    State {
        version: 1,
        lineage: "lineage".into(),
        serial: 3,
        salt: "salt".into(),
        org: None,
        connections: BTreeMap::new(),
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
    let record = Record {
        key: c.key.clone(),
        sandbox: c.sandbox.clone(),
        id: id.to_owned(),
        etag: Some(format!("\"etag-{id}\"")),
        name: c.name.clone(),
        description: c.description.clone(),
        connection_spec: c.connection_spec.clone(),
        auth_spec_name: c.auth.spec_name.clone(),
        secrets_digest: (split.all_resolved() && !split.secret_names.is_empty())
            .then(|| state.secrets_digest(&split.secrets)),
        params: split.plain,
        secret_params: split.secret_names,
        state: Some("enabled".into()),
        created_at: None,
        updated_at: None,
        protect: c.lifecycle.protect,
        applied_at: Some(1),
    };
    state.connections.insert(address(&c.sandbox, &c.key), record);
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
    LiveConnection {
        id: id.to_owned(),
        name: c.name.clone(),
        description: c.description.clone(),
        connection_spec: Some(SpecInfo {
            id: c.connection_spec.id.clone(),
            version: Some(c.connection_spec.version.clone()),
        }),
        state: Some("enabled".into()),
        auth: Some(LiveAuth {
            spec_name: c.auth.spec_name.clone(),
            params,
        }),
        etag: Some(format!("\"etag-{id}\"")),
        created_at: Some(100),
        updated_at: Some(100),
        created_client: None,
        updated_client: None,
        updated_by: None,
        sandbox_name: Some("prod".into()),
    }
}

pub fn live(conns: Vec<LiveConnection>) -> Live {
    Live {
        refreshed: true,
        connections: conns
            .into_iter()
            .map(|c| (c.id.clone(), ("prod".to_owned(), c)))
            .collect(),
        listed: [("prod".to_owned(), SF.to_owned())].into(),
        fetched: BTreeSet::new(),
        named: BTreeSet::new(),
        own_client: None,
    }
}

pub fn desired(conns: Vec<Connection>) -> Desired {
    Desired {
        sandboxes: conns.iter().map(|c| c.sandbox.clone()).collect(),
        connections: conns.into_iter().map(|c| (c.key.clone(), c)).collect(),
        files: Vec::new(),
        ..Desired::default()
    }
}
