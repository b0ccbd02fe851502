//! The requests an apply sends, built from the kind's declaration: the body of a create and
//! the JSON Patch of an update. With [`params_to_send`], the only place where a secret
//! leaves flowform.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::ApplyError;
use crate::config::{Desired, Param, Reference, Resource};
use crate::flow::model::{LiveObject, PatchKind, PatchOp, is_masked};
use crate::flow::pointer::put;
use crate::kind::{Default, Field, Type, Update};
use crate::plan::{self, Change};
use crate::state::{Record, State};

/// A declared resource's values as they are sent: references resolved to the ids their
/// targets have now, defaults (a base connection's spec a source connection inherits)
/// filled in. Secrets are not here: [`params_to_send`] adds them.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub values: BTreeMap<&'static str, Value>,
    /// The ids of the resources it refers to.
    pub depends_on: Vec<String>,
}

/// Resolves `d` against the state as it is now (a resource it refers to was created by a
/// step before this one).
pub fn resolve(desired: &Desired, state: &State, d: &Resource) -> Result<Resolved, ApplyError> {
    let mut out = Resolved::default();
    for f in d.kind.fields {
        if let Some(v) = value(desired, state, d, f, &mut out.depends_on)? {
            out.values.insert(f.path, v);
        }
    }
    Ok(out)
}

fn value(
    desired: &Desired,
    state: &State,
    d: &Resource,
    f: &'static Field,
    depends_on: &mut Vec<String>,
) -> Result<Option<Value>, ApplyError> {
    if let Type::Ref { .. } = f.ty {
        let id = match d.reference(f.path) {
            Some(Reference::Id(id)) => id.clone(),
            Some(Reference::Key(key)) => {
                let target = crate::kind::resource::ref_kind(f).unwrap_or(crate::kind::default());
                let address = crate::kind::address::format(target, &d.sandbox, key);
                match state.resources.get(&address) {
                    Some(r) => r.id.clone(),
                    None => {
                        return Err(ApplyError::Unresolved {
                            field: f.path,
                            target: address,
                        });
                    }
                }
            }
            None => return Ok(None),
        };
        depends_on.push(id.clone());
        return Ok(Some(Value::String(id)));
    }
    if let Type::Params = f.ty {
        return Ok(None);
    }
    if let Some(v) = d.value(f) {
        return Ok(Some(v));
    }
    match f.default {
        Default::Inherit { reference, path } => {
            let target = d.kind.field(reference).and_then(|rf| {
                match (d.reference(reference), crate::kind::resource::ref_kind(rf)) {
                    (Some(Reference::Key(key)), Some(kind)) => desired
                        .resources
                        .get(&crate::kind::address::format(kind, &d.sandbox, key)),
                    _ => None,
                }
            });
            match target.and_then(|t| t.kind.field(path).and_then(|tf| t.value(tf))) {
                Some(v) => Ok(Some(v)),
                None => Err(ApplyError::Unresolved {
                    field: f.path,
                    target: format!("the `{reference}` it refers to"),
                }),
            }
        }
        // The version the state recorded of what it refers to: written before this, in this
        // apply, when the plan changes it.
        Default::Version { reference } => match d.reference(reference) {
            Some(Reference::Key(key)) => {
                let target = d
                    .kind
                    .field(reference)
                    .and_then(crate::kind::resource::ref_kind)
                    .unwrap_or(crate::kind::default());
                let address = crate::kind::address::format(target, &d.sandbox, key);
                match state
                    .resources
                    .get(&address)
                    .and_then(|t| crate::kind::resource::version(t.etag.as_deref()))
                {
                    Some(n) => Ok(Some(Value::from(n))),
                    None => Err(ApplyError::Unresolved {
                        field: f.path,
                        target: address,
                    }),
                }
            }
            _ => Ok(None),
        },
        // Known only from AEP: learnt by the plan for what it sends; for a resource that
        // exists, what the state recorded of it (an update sends only what changed).
        Default::Live => match state
            .resources
            .get(&d.address())
            .and_then(|r| r.attrs.get(f.path))
        {
            Some(v) => Ok(Some(v.clone())),
            None => Err(ApplyError::Unresolved {
                field: f.path,
                target: "AEP (plan with a refresh)".to_owned(),
            }),
        },
        Default::None | Default::Value(_) | Default::Server => Ok(None),
    }
}

/// The params a create or an update sends: plain values and secrets, in clear. The only
/// place, with [`patch_ops`], where a secret leaves flowform.
pub(super) fn params_to_send(d: &Resource) -> Map<String, Value> {
    let mut params = Map::new();
    for (name, param) in d.params().into_iter().flatten() {
        let value = match param {
            Param::Plain(v) => v.clone(),
            Param::Secret { value: Some(v), .. } => Value::String(v.expose().to_owned()),
            // Loaded without resolving secrets: never the case for apply.
            Param::Secret { value: None, .. } => continue,
        };
        params.insert(name.clone(), value);
    }
    params
}

/// What a field is sent as: a table's columns as AEP's column objects.
fn encode(f: &Field, v: Value) -> Value {
    match (&f.ty, v) {
        (Type::Columns, Value::Array(columns)) => Value::Array(
            columns
                .into_iter()
                .map(|c| match c {
                    // Typed by explore (`kind::live`): sent as AEP gave it.
                    Value::Object(_) => c,
                    name => {
                        let mut column = Map::new();
                        column.insert("name".into(), name);
                        Value::Object(column)
                    }
                })
                .collect(),
        ),
        // AEP's docs send these as strings (`"interval": "15"`, `"backfill": "true"`).
        (Type::Int { .. } | Type::Time, Value::Number(n)) => Value::String(n.to_string()),
        (Type::Bool, Value::Bool(b)) => Value::String(b.to_string()),
        (_, v) => v,
    }
}

/// The body of the `POST` that creates `d`.
pub fn create_body(d: &Resource, resolved: &Resolved) -> Value {
    let mut body = Map::new();
    for f in d.kind.fields {
        match f.ty {
            Type::Params => put(&mut body, f.api, Value::Object(params_to_send(d))),
            // Taken by an action after the create, never sent in its body (AEP refuses a
            // flow's `state` on create, 1410).
            _ if matches!(f.update, Update::Action { .. }) => {}
            _ => {
                if let Some(v) = resolved.values.get(f.path) {
                    put(&mut body, f.api, encode(f, v.clone()));
                }
            }
        }
    }
    Value::Object(body)
}

/// The JSON Patch for an update: what the plan says changes; a `Params` field, when it goes,
/// whole (AEP replaces it as a whole) with the server's own params kept.
pub(super) fn patch_ops(
    change: &Change,
    d: &Resource,
    resolved: &Resolved,
    live: &LiveObject,
    recorded: Option<&Record>,
) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let changes = |path: &str| change.fields.iter().any(|f| f.path == path);
    // Fields inside an element of a list (a flow's transformation), by element: one that
    // changes sends its element whole, at the index a fresh read shows.
    let mut elements: Vec<&str> = Vec::new();
    for f in d.kind.fields.iter().filter(|f| f.update == Update::Patch) {
        if let Some((element, _)) = crate::flow::pointer::element(f.api) {
            if changes(f.path) && !elements.contains(&element) {
                elements.push(element);
            }
            continue;
        }
        if let Type::Params = f.ty {
            let prefix = format!("{}.", f.path);
            let params_change =
                change.resend_secrets || change.fields.iter().any(|c| c.path.starts_with(&prefix));
            if params_change {
                ops.push(PatchOp {
                    op: PatchKind::Replace,
                    path: f.api.into(),
                    value: Some(Value::Object(params_whole(d, f, live, recorded))),
                });
            }
            continue;
        }
        if !changes(f.path) {
            continue;
        }
        match resolved.values.get(f.path) {
            Some(v) => ops.push(PatchOp {
                op: if f.required {
                    PatchKind::Replace
                } else {
                    PatchKind::Add
                },
                path: f.api.into(),
                value: Some(encode(f, v.clone())),
            }),
            None if live.at(f.api).is_some() => ops.push(PatchOp {
                op: PatchKind::Remove,
                path: f.api.into(),
                value: None,
            }),
            None => {}
        }
    }
    for element in elements {
        ops.extend(element_op(d, resolved, live, element));
    }
    ops
}

/// The op that sets a list's element whole (`/transformations/name=Mapping`): what AEP has
/// of it, with every declared field under it set; the list whole when AEP has none of it.
fn element_op(d: &Resource, resolved: &Resolved, live: &LiveObject, element: &str) -> Option<PatchOp> {
    let have = live.at(element);
    let mut value = match &have {
        Some(Value::Object(o)) => o.clone(),
        _ => {
            // A new element: `{name: Mapping}` from the selection.
            let selection = element.rsplit('/').next()?;
            let (member, wanted) = selection.split_once('=')?;
            let mut o = Map::new();
            o.insert(member.to_owned(), Value::String(wanted.to_owned()));
            o
        }
    };
    let mut any = false;
    for f in d.kind.fields {
        let Some((e, rest)) = crate::flow::pointer::element(f.api) else {
            continue;
        };
        if e != element {
            continue;
        }
        match resolved.values.get(f.path) {
            Some(v) => {
                put(&mut value, rest, encode(f, v.clone()));
                any = true;
            }
            // Not declared now: what AEP had of it goes (a mapping set's version, when the
            // dataflow names another set by id: AEP takes that set's own).
            None => remove(&mut value, rest),
        }
    }
    if !any {
        // Nothing of it declared any more (a flow's mapping set left out): it goes, the list
        // sent whole without it (AEP's docs show a transformation replaced, never removed).
        have.as_ref()?;
        let at = crate::flow::pointer::concrete(&live.body, element)?;
        let (list, index) = at.rsplit_once('/')?;
        let index: usize = index.parse().ok()?;
        let mut items = match live.at(list) {
            Some(Value::Array(items)) => items,
            _ => return None,
        };
        if index >= items.len() {
            return None;
        }
        items.remove(index);
        return Some(PatchOp {
            op: PatchKind::Replace,
            path: list.to_owned(),
            value: Some(Value::Array(items)),
        });
    }
    match have {
        Some(_) => Some(PatchOp {
            op: PatchKind::Replace,
            path: crate::flow::pointer::concrete(&live.body, element)?,
            value: Some(Value::Object(value)),
        }),
        // A new element: the list sent whole with it at the end (AEP's docs show a
        // transformation replaced, never one appended).
        None => {
            let list = &element[..element.rfind('/')?];
            let (op, mut items) = match live.at(list) {
                Some(Value::Array(items)) => (PatchKind::Replace, items),
                _ => (PatchKind::Add, Vec::new()),
            };
            items.push(Value::Object(value));
            Some(PatchOp {
                op,
                path: list.to_owned(),
                value: Some(Value::Array(items)),
            })
        }
    }
}

/// Removes the member at `pointer` (objects only) from `value`, if it is there.
fn remove(value: &mut Map<String, Value>, pointer: &str) {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some((last, path)) = parts.split_last() else {
        return;
    };
    let mut at = value;
    for part in path {
        match at.get_mut(*part) {
            Some(Value::Object(inner)) => at = inner,
            _ => return,
        }
    }
    at.remove(*last);
}

/// A `Params` field as a patch sends it: AEP replaces it whole, so an ignored param keeps
/// what AEP has (or, for a secret, which cannot be read back, what was last sent: the
/// declared value), and what AEP added itself (e.g. `orgId`) is kept.
fn params_whole(d: &Resource, f: &Field, live: &LiveObject, recorded: Option<&Record>) -> Map<String, Value> {
    let mut params = params_to_send(d);
    let live_params = live.at(f.api);
    let live_params = live_params.as_ref().and_then(Value::as_object);
    for (name, param) in d.params().into_iter().flatten() {
        if let Param::Plain(_) = param
            && plan::ignored(d, &format!("{}.{name}", f.path))
            && let Some(kept) = live_params
                .and_then(|p| p.get(name))
                .filter(|v| !is_masked(v))
                .or_else(|| recorded.and_then(|r| r.params()).and_then(|p| p.get(name)))
        {
            params.insert(name.clone(), kept.clone());
        }
    }
    // Keep what AEP added itself: not declared, not a masked secret, and never sent by
    // flowform.
    let managed: BTreeSet<&String> = recorded
        .map(|r| {
            r.params()
                .into_iter()
                .flat_map(|p| p.keys())
                .chain(r.secret_params.iter())
                .collect()
        })
        .unwrap_or_default();
    let declared = d.params();
    for (name, value) in live_params.into_iter().flatten() {
        let declared_here = declared.is_some_and(|p| p.contains_key(name));
        if !declared_here && !managed.contains(name) && !is_masked(value) {
            params.insert(name.clone(), value.clone());
        }
    }
    params
}
