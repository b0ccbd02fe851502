//! Digests of the configuration: the plan's `config_digest` (the resolved configuration,
//! secrets included, under a salt), a create's or update's request fingerprint for the
//! journal, and the plain form of a resource that both hash (a base connection's written as
//! it always was, so that the digests of older saved plans and journals still match).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Desired, Resource};
use crate::kind;
use crate::state::State;

/// A digest of what a create or update of `r` sends, secrets by fingerprint: the journal's
/// request fingerprint.
pub fn fingerprint(r: &Resource, state: &State) -> String {
    fingerprint_with(r, &state.fingerprints())
}

/// [`fingerprint`], with the state's salt and scheme only.
pub fn fingerprint_with(r: &Resource, fingerprints: &crate::state::Fingerprints) -> String {
    let split = r.split_params();
    // `{"connection":…,"secrets":…}`, written as the JSON value of that would print.
    let mut canonical = b"{\"connection\":".to_vec();
    write_plain_form(&mut canonical, r, &split);
    canonical.extend(b",\"secrets\":");
    let _ = serde_json::to_writer(&mut canonical, &fingerprints.secrets_digest(&split.secrets));
    canonical.push(b'}');
    crate::state::hex(&Sha256::digest(&canonical))
}

/// Everything of a declared base connection but its secrets' values, as JSON: the keys in
/// the order a JSON value sorts them, so that the bytes are those [`plain_form`]'s value
/// prints (saved plans and journals made before flowform knew other kinds keep their
/// digests), without building the value.
#[derive(Serialize)]
struct ConnectionForm<'a> {
    #[serde(rename = "connectionSpec")]
    connection_spec: SpecForm<'a>,
    description: Option<&'a str>,
    #[serde(rename = "ignoreChanges")]
    ignore_changes: &'a BTreeSet<String>,
    import: &'a Option<String>,
    key: &'a str,
    name: &'a str,
    params: &'a serde_json::Map<String, Value>,
    protect: bool,
    sandbox: &'a str,
    #[serde(rename = "secretNames")]
    secret_names: &'a BTreeSet<String>,
    #[serde(rename = "specName")]
    spec_name: &'a str,
}

#[derive(Serialize)]
struct SpecForm<'a> {
    id: &'a str,
    version: &'a str,
}

/// Every other kind's form: its kind, and its declared values by path (a reference as
/// `key:KEY` or `id:ID`), keys sorted.
#[derive(Serialize)]
struct ResourceForm<'a> {
    #[serde(rename = "ignoreChanges")]
    ignore_changes: &'a BTreeSet<String>,
    import: &'a Option<String>,
    key: &'a str,
    kind: &'a str,
    params: &'a serde_json::Map<String, Value>,
    protect: bool,
    sandbox: &'a str,
    #[serde(rename = "secretNames")]
    secret_names: &'a BTreeSet<String>,
    values: BTreeMap<&'a str, Value>,
}

pub(super) fn write_plain_form(out: &mut Vec<u8>, r: &Resource, split: &crate::config::SplitParams<'_>) {
    // Strings, maps of JSON values and booleans: nothing here fails to serialize.
    if r.kind.is_default() {
        let form = ConnectionForm {
            connection_spec: SpecForm {
                id: kind::connection::spec_id(r),
                version: kind::connection::spec_version(r),
            },
            description: r.text("description"),
            ignore_changes: &r.lifecycle.ignore_changes,
            import: &r.import,
            key: &r.key,
            name: r.name(),
            params: &split.plain,
            protect: r.lifecycle.protect,
            sandbox: &r.sandbox,
            secret_names: &split.secret_names,
            spec_name: kind::connection::auth_spec_name(r),
        };
        let _ = serde_json::to_writer(out, &form);
        return;
    }
    let values = r
        .values
        .iter()
        .filter_map(|(path, v)| {
            let v = match v {
                crate::config::Value::Plain(v) => v.clone(),
                crate::config::Value::Ref(crate::config::Reference::Key(k)) => {
                    Value::String(format!("key:{k}"))
                }
                crate::config::Value::Ref(crate::config::Reference::Id(id)) => {
                    Value::String(format!("id:{id}"))
                }
                crate::config::Value::Params(_) => return None,
            };
            Some((*path, v))
        })
        .collect();
    let form = ResourceForm {
        ignore_changes: &r.lifecycle.ignore_changes,
        import: &r.import,
        key: &r.key,
        kind: r.kind.name,
        params: &split.plain,
        protect: r.lifecycle.protect,
        sandbox: &r.sandbox,
        secret_names: &split.secret_names,
        values,
    };
    let _ = serde_json::to_writer(out, &form);
}

/// Everything of a declared base connection but its secrets' values (the form
/// [`ConnectionForm`] writes directly).
#[cfg(test)]
pub(super) fn plain_form(r: &Resource, split: &crate::config::SplitParams<'_>) -> Value {
    serde_json::json!({
        "sandbox": r.sandbox,
        "key": r.key,
        "name": r.name(),
        "description": r.text("description"),
        "connectionSpec": {"id": kind::connection::spec_id(r), "version": kind::connection::spec_version(r)},
        "specName": kind::connection::auth_spec_name(r),
        "params": split.plain,
        "secretNames": split.secret_names,
        "protect": r.lifecycle.protect,
        "ignoreChanges": r.lifecycle.ignore_changes,
        "import": r.import,
    })
}

/// A digest of the resolved configuration, secrets included, under `salt` (a saved plan
/// carries its own salt, so the digest does not depend on a state that may not exist yet).
/// Everything is hashed together first and the result fingerprinted once, keyed or
/// stretched ([`crate::state::digest::Digester::once`]): guessing it back would mean guessing
/// every secret at once.
pub fn config_digest(desired: &Desired, salt: &str, digester: &crate::state::Digester) -> String {
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    let mut form = Vec::new();
    // Base connections in key order first, as before other kinds (the digests of saved
    // plans of base connections alone stay what they were), then the rest by address.
    let mut connections: Vec<&Resource> = desired.of(kind::default()).collect();
    connections.sort_by(|a, b| a.key.cmp(&b.key));
    let others = desired.resources.values().filter(|r| !r.kind.is_default());
    for r in connections.into_iter().chain(others) {
        let split = r.split_params();
        form.clear();
        write_plain_form(&mut form, r, &split);
        put(&form);
        for (name, value) in &split.secrets {
            put(name.as_bytes());
            put(value.expose().as_bytes());
        }
    }
    for sandbox in &desired.sandboxes {
        put(sandbox.as_bytes());
    }
    for m in &desired.moved {
        put(format!("moved {} {}", m.from, m.to).as_bytes());
    }
    for r in &desired.removed {
        put(format!("removed {}", r.key).as_bytes());
    }
    digester.once(salt, &hasher.finalize())
}

/// Computes ahead, in parallel, the secret fingerprints the plan compares (a record's, and
/// an interrupted mutation's), so that each distinct one is stretched once.
pub(super) fn prepare_fingerprints(desired: &Desired, state: &State) {
    let pending: BTreeSet<&str> = state.pending.iter().map(|p| p.address.as_str()).collect();
    let splits: Vec<(crate::config::SplitParams<'_>, Option<&str>)> = desired
        .resources
        .iter()
        .filter_map(|(address, r)| {
            let split = r.split_params();
            if !split.all_resolved() || split.secret_names.is_empty() {
                return None;
            }
            let stored = state
                .resources
                .get(address)
                .and_then(|r| r.secrets_digest.as_deref());
            match (stored, pending.contains(address.as_str())) {
                (Some(stored), _) => Some((split, Some(stored))),
                (None, true) => Some((split, None)),
                (None, false) => None,
            }
        })
        .collect();
    state.digester.prepare(
        &state.salt,
        splits.iter().map(|(split, stored)| (&split.secrets, *stored)),
    );
}
