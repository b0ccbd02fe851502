//! Comparing a declared resource with what AEP has (or, without a refresh, with what the
//! state recorded), field by field as its kind declares them, saying where each difference
//! came from; and what each field is wanted to be, a reference resolved to an id.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Field, Origin};
use crate::config::{Desired, Reference, Resource};
use crate::flow::model::{LiveObject, is_masked};
use crate::kind::{self, Default, Field as Declared, Type};
use crate::state::{Record, State};

pub(super) fn sensitive_field(params: &str, name: &str, origin: Option<Origin>) -> Field {
    Field {
        sensitive: true,
        origin,
        ..Field::new(format!("{params}.{name}"), None, None)
    }
}

pub(super) fn text(v: &str) -> Value {
    Value::String(v.to_owned())
}

/// Whether `r`'s `lifecycle.ignoreChanges` covers `path`.
pub fn ignored(r: &Resource, path: &str) -> bool {
    r.ignores(path)
}

/// What a field is wanted to be.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Want {
    Value(Value),
    /// Known once applied: the id of a resource created (or replaced) first.
    Unknown,
    /// Not declared, no default: not sent, not compared.
    Absent,
}

impl Want {
    pub fn value(&self) -> Option<&Value> {
        match self {
            Want::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// The address a reference by key names: the key's kind, in the referring resource's sandbox.
pub(super) fn target_address(r: &Resource, f: &Declared) -> Option<String> {
    match (r.reference(f.path), kind::resource::ref_kind(f)) {
        (Some(Reference::Key(key)), Some(target)) => Some(kind::address::format(target, &r.sandbox, key)),
        _ => None,
    }
}

/// What `d`'s field `f` is wanted to be, against the state as it is: a reference to a
/// resource the state holds is its id (the cascade later makes it unknown if that resource
/// is replaced), to one it does not, unknown.
pub(super) fn want(desired: &Desired, state: &State, d: &Resource, f: &Declared) -> Want {
    if let Type::Ref { .. } = f.ty {
        return match d.reference(f.path) {
            Some(Reference::Id(id)) => Want::Value(text(id)),
            Some(Reference::Key(_)) => {
                let address = target_address(d, f);
                match address.as_ref().and_then(|a| state.resources.get(a)) {
                    Some(target) => Want::Value(text(&target.id)),
                    // One an `import:` block names: that id.
                    None => match address
                        .and_then(|a| desired.resources.get(&a))
                        .and_then(|t| t.import.as_ref())
                    {
                        Some(id) => Want::Value(text(id)),
                        None => Want::Unknown,
                    },
                }
            }
            None => Want::Absent,
        };
    }
    if let Some(v) = d.value(f) {
        return Want::Value(normal(&f.ty, v));
    }
    match f.default {
        Default::Inherit { reference, path } => {
            let target = d
                .kind
                .field(reference)
                .and_then(|rf| target_address(d, rf))
                .and_then(|a| desired.resources.get(&a));
            match target.and_then(|t| t.kind.field(path).and_then(|tf| t.value(tf))) {
                Some(v) => Want::Value(normal(&f.ty, v)),
                None => Want::Unknown,
            }
        }
        Default::Version { reference } => match d.reference(reference) {
            Some(Reference::Key(_)) => {
                match d
                    .kind
                    .field(reference)
                    .and_then(|rf| target_address(d, rf))
                    .and_then(|a| state.resources.get(&a))
                    .and_then(|t| kind::resource::version(t.etag.as_deref()))
                {
                    Some(n) => Want::Value(Value::from(n)),
                    None => Want::Unknown,
                }
            }
            // One flowform does not manage: whichever version it is at.
            _ => Want::Absent,
        },
        Default::Live => Want::Unknown,
        Default::None | Default::Value(_) | Default::Server => Want::Absent,
    }
}

/// A value as flowform compares it: an id in lower case, columns by name, a number or a
/// boolean AEP gives where a string is declared as the string it stands for.
pub(super) fn normal(ty: &Type, v: Value) -> Value {
    match (ty, v) {
        (Type::Id(_) | Type::Ref { .. }, Value::String(s)) => Value::String(s.to_lowercase()),
        (Type::Columns, Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|c| match c {
                    Value::Object(mut o) => o.remove("name").unwrap_or(Value::Null),
                    other => other,
                })
                .collect(),
        ),
        (Type::Mappings, Value::Array(rows)) => crate::kind::resource::mapping_rows(rows),
        (Type::Int { .. } | Type::Time, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(s),
        },
        (Type::Bool, Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(s),
        },
        (Type::Switch { on, off }, Value::String(s)) => match s.as_str() {
            s if s == *on => Value::Bool(true),
            s if s == *off => Value::Bool(false),
            _ => Value::String(s),
        },
        (Type::Text | Type::Enum(_), Value::Number(n)) => Value::String(n.to_string()),
        (Type::Text | Type::Enum(_), Value::Bool(b)) => Value::String(b.to_string()),
        (_, v) => v,
    }
}

/// What AEP shows of a field, as flowform compares it.
pub(super) fn live_value(l: &LiveObject, f: &Declared) -> Option<Value> {
    l.at(f.api).filter(|v| !v.is_null()).map(|v| normal(&f.ty, v))
}

/// What the state recorded of a field, as flowform compares it.
pub(super) fn recorded_value(r: &Record, f: &Declared) -> Option<Value> {
    r.get(f.path).map(|v| normal(&f.ty, v))
}

/// Compares what is declared with what AEP has, field by field — the fields that change in
/// place, and a `Params` field's declared params only (AEP adds its own, such as `orgId`).
/// `r`, when given, says whether a difference came from the configuration (it differs from
/// what was applied) or from outside.
pub(super) fn compare(
    desired: &Desired,
    state: &State,
    d: &Resource,
    r: Option<&Record>,
    l: &LiveObject,
) -> (Vec<Field>, usize) {
    let split = d.split_params();
    let (plain, secret_names) = (&split.plain, &split.secret_names);
    let mut fields = Vec::new();
    let mut unchanged = 0;
    let mut unknown = Vec::new();
    let mut consider = |path: String, applied: Option<Value>, now: Option<Value>, want: Option<Value>| {
        if ignored(d, &path) {
            return;
        }
        let same = match (&want, &now) {
            (Some(w), Some(h)) => d.kind.hooks.same(&path, w, h, kind::Same { live: l, record: r }),
            _ => false,
        };
        if now == want || same {
            unchanged += 1;
            return;
        }
        let origin = match r {
            Some(_) if applied != want => Origin::Config,
            Some(_) => Origin::Outside,
            None => Origin::Config,
        };
        fields.push(Field {
            origin: Some(origin),
            ..Field::new(path, now, want)
        });
    };
    for f in d.kind.fields.iter().filter(|f| f.update.in_place()) {
        match f.ty {
            Type::Params => {
                let live_params = l.at(f.api);
                let mut names: BTreeSet<&String> = plain.keys().collect();
                if let Some(r) = r {
                    names.extend(
                        r.params()
                            .into_iter()
                            .flat_map(|p| p.keys())
                            .filter(|k| !secret_names.contains(*k)),
                    );
                }
                for name in names {
                    let now = live_params
                        .as_ref()
                        .and_then(|p| p.get(name))
                        .filter(|v| !is_masked(v))
                        .cloned();
                    let applied = r.and_then(|r| r.params()).and_then(|p| p.get(name)).cloned();
                    consider(
                        format!("{}.{name}", f.path),
                        applied,
                        now,
                        plain.get(name).cloned(),
                    );
                }
            }
            _ => {
                let want = want(desired, state, d, f);
                // A reference changed in place to a resource created in this apply (a
                // dataflow's new mapping set): what it will be is known after apply.
                // (For one being imported, what it refers to is taken as AEP shows it.)
                if want == Want::Unknown
                    && r.is_some()
                    && matches!(f.ty, Type::Ref { .. })
                    && !ignored(d, f.path)
                {
                    unknown.push(Field {
                        origin: Some(Origin::Config),
                        unknown: true,
                        ..Field::new(f.path, live_value(l, f), None)
                    });
                    continue;
                }
                if want == Want::Unknown
                    || (want == Want::Absent
                        && matches!(f.default, Default::Server | Default::Version { .. }))
                {
                    continue;
                }
                consider(
                    f.path.to_owned(),
                    r.and_then(|r| recorded_value(r, f)),
                    live_value(l, f),
                    want.value().cloned(),
                );
            }
        }
    }
    fields.extend(unknown);
    (fields, unchanged)
}

/// What the state recorded, seen as AEP would show it (for a plan without a refresh).
pub(super) fn as_live(kind: &kind::Kind, r: &Record) -> LiveObject {
    let mut body = serde_json::Map::new();
    for f in kind.fields {
        if matches!(f.api, "/name" | "/description") {
            continue;
        }
        if let Some(v) = r.get(f.path) {
            crate::flow::pointer::put(&mut body, f.api, v);
        }
    }
    LiveObject {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.text("description").map(str::to_owned),
        state: r.state.clone(),
        etag: r.etag.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        sandbox_name: Some(r.sandbox.clone()),
        body,
        ..LiveObject::default()
    }
}

/// Without a refresh: the declared resource against what the state recorded.
pub(super) fn compare_recorded(
    desired: &Desired,
    state: &State,
    d: &Resource,
    r: &Record,
) -> (Vec<Field>, usize) {
    let live = as_live(d.kind, r);
    let (mut fields, unchanged) = compare(desired, state, d, Some(r), &live);
    for f in &mut fields {
        f.origin = Some(Origin::Config);
    }
    (fields, unchanged)
}

/// Whether AEP shows a change outside flowform to a field `d` ignores (`ignoreChanges`): then
/// an etag that moved is explained, and neither drift nor a reason to send secrets again.
pub(super) fn ignored_change_outside(d: &Resource, r: &Record, l: &LiveObject) -> bool {
    d.kind.fields.iter().any(|f| {
        f.update.in_place()
            && !matches!(f.ty, crate::kind::Type::Params)
            && ignored(d, f.path)
            && recorded_value(r, f) != live_value(l, f)
    })
}
