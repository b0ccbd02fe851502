//! The records an apply writes: what flowform sent, and what AEP answered. Built here, where
//! a declared resource meets the state, so that the state knows nothing of the
//! configuration.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::request::Resolved;
use crate::config::{Param, Resource};
use crate::flow::model::{ConnectionState, LiveObject};
use crate::kind::Type;
use crate::state::{Fingerprints, Record};

/// The record of a declared resource as flowform applied it to AEP: the plain values as
/// sent (references as the ids they hold), the names of the secret params, and the salted
/// digest of their values (under the state's salt). No secret value is copied.
pub fn applied(
    d: &Resource,
    resolved: &Resolved,
    id: &str,
    etag: Option<&str>,
    live_state: Option<ConnectionState>,
    fingerprints: &Fingerprints,
    now: i64,
) -> Record {
    let split = d.split_params();
    let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
    for f in d.kind.fields {
        if f.path == "name" {
            continue;
        }
        match f.ty {
            Type::Params => {
                attrs.insert(f.path.to_owned(), Value::Object(split.plain.clone()));
            }
            _ => {
                if let Some(v) = resolved.values.get(f.path) {
                    attrs.insert(f.path.to_owned(), v.clone());
                }
            }
        }
    }
    Record {
        kind: d.kind,
        key: d.key.clone(),
        sandbox: d.sandbox.clone(),
        id: id.to_owned(),
        etag: etag.map(str::to_owned),
        name: d.name().to_owned(),
        attrs,
        secrets_digest: declared_secrets_digest(d, fingerprints),
        secret_params: split.secret_names,
        state: live_state,
        created_at: None,
        updated_at: None,
        protect: d.lifecycle.protect,
        applied_at: Some(now),
        depends_on: resolved.depends_on.clone(),
    }
}

/// The salted digest of a declared resource's secrets under the state's salt: `None` when
/// it has none, or when not all are resolved.
pub fn declared_secrets_digest(d: &Resource, fingerprints: &Fingerprints) -> Option<String> {
    let split = d.split_params();
    (split.all_resolved() && !split.secret_names.is_empty())
        .then(|| fingerprints.secrets_digest(&split.secrets))
}

/// The record of an adopted resource: what AEP has, and the declared secrets' names.
pub fn adopted(d: &Resource, live: &LiveObject, digest: Option<String>, now: i64) -> Record {
    let mut attrs: BTreeMap<String, Value> = BTreeMap::new();
    let mut depends_on = Vec::new();
    for f in d.kind.fields {
        if f.path == "name" {
            continue;
        }
        match f.ty {
            Type::Params => {
                let live_params = live.at(f.api);
                let mut params = Map::new();
                for (name, param) in d.params().into_iter().flatten() {
                    if let (Param::Plain(_), Some(value)) =
                        (param, live_params.as_ref().and_then(|p| p.get(name)))
                    {
                        params.insert(name.clone(), value.clone());
                    }
                }
                attrs.insert(f.path.to_owned(), Value::Object(params));
            }
            _ => {
                if let Some(v) = live.at(f.api).filter(|v| !v.is_null()) {
                    if let (Type::Ref { .. }, Some(id)) = (&f.ty, v.as_str()) {
                        depends_on.push(id.to_owned());
                    }
                    attrs.insert(f.path.to_owned(), adopted_value(&f.ty, v));
                }
            }
        }
    }
    Record {
        kind: d.kind,
        key: d.key.clone(),
        sandbox: d.sandbox.clone(),
        id: live.id.clone(),
        etag: live.etag.clone(),
        name: live.name.clone(),
        attrs,
        secret_params: d
            .params()
            .into_iter()
            .flatten()
            .filter(|(_, p)| p.is_secret())
            .map(|(n, _)| n.clone())
            .collect(),
        secrets_digest: digest,
        state: live.state.clone(),
        created_at: live.created_at,
        updated_at: live.updated_at,
        protect: d.lifecycle.protect,
        applied_at: Some(now),
        depends_on,
    }
}

/// What AEP shows of a field, as the state records it: a table's columns by name.
fn adopted_value(ty: &Type, v: Value) -> Value {
    match (ty, v) {
        (Type::Mappings, Value::Array(rows)) => crate::kind::resource::mapping_rows(rows),
        (Type::Columns, Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|c| match c {
                    Value::Object(mut o) => o.remove("name").unwrap_or(Value::Null),
                    other => other,
                })
                .collect(),
        ),
        (_, v) => v,
    }
}
