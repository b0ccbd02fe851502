//! What the configuration's resources say of each other: a reference names a resource
//! declared in the same sandbox, and a field a resource takes from the one it refers to
//! (a source connection's spec, its base connection's) is not declared otherwise.

use std::collections::BTreeMap;

use super::Desired;
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::kind::resource::ref_kind;
use crate::kind::{Default, Kind, Reference, Resource, Type};

/// Checks every reference by key, and every inherited field declared anyway.
pub(super) fn check(desired: &Desired, diagnostics: &mut Diagnostics) {
    // Kind → key → the resource, whatever its sandbox (keys are unique per kind).
    let mut by_key: BTreeMap<&str, BTreeMap<&str, &Resource>> = BTreeMap::new();
    for r in desired.resources.values() {
        by_key.entry(r.kind.name).or_default().insert(r.key.as_str(), r);
    }
    for r in desired.resources.values() {
        literal_needs(r, diagnostics);
        for (field, reference) in r.refs() {
            let (Reference::Key(key), Some(target)) = (reference, ref_kind(field)) else {
                continue;
            };
            let Type::Ref { by_key: written, .. } = field.ty else {
                continue;
            };
            let keys = by_key.get(target.name);
            let found = keys.and_then(|k| k.get(key.as_str()));
            let place = r
                .places
                .fields
                .get(field.path)
                .copied()
                .unwrap_or(r.origin.location());
            let error = |message: String| {
                Diagnostic::error(message)
                    .at(&r.origin.file, place)
                    .of(r.kind, &r.key)
                    .field(written)
            };
            let unreadable = desired
                .unreadable
                .iter()
                .any(|(kind, _, k)| *kind == target.name && k == key);
            match found {
                None if unreadable => {}
                None => {
                    let near = keys.and_then(|k| did_you_mean(key, k.keys().copied()));
                    let removed = desired
                        .removed
                        .iter()
                        .find(|m| m.key.key == *key && m.key.kind.is_none_or(|k| k == target));
                    let moved = desired
                        .moved
                        .iter()
                        .find(|m| m.from.key == *key && m.from.kind.is_none_or(|k| k == target));
                    // Declared, but as another kind (a base connection named where a
                    // source connection goes): say which.
                    let other = by_key
                        .iter()
                        .find(|(kind, keys)| **kind != target.name && keys.contains_key(key.as_str()))
                        .and_then(|(kind, _)| crate::kind::by_name(kind));
                    let near = match other {
                        Some(_) => None,
                        None => near,
                    };
                    let help = match (moved, removed, near) {
                        (None, None, None) if other.is_some() => {
                            let other = other.map_or("", |k| k.noun);
                            format!(
                                "`{key}` is a {other}, and `{written}` names a {}: name one declared in `{}:` (or `{}: ID`)",
                                target.noun, target.section, field.path
                            )
                        }
                        (Some(m), _, _) => format!(
                            "`{key}` was moved to `{}` (`moved` at {}): refer to it by its new key, `{written}: {}`",
                            m.to.key, m.origin, m.to.key
                        ),
                        (None, Some(m), _) => format!(
                            "`{key}` leaves management (`removed` at {}): a {} cannot refer to it by key; name it by its id, `{}: ID`, or keep `{key}` declared",
                            m.origin, r.kind.noun, field.path
                        ),
                        (None, None, Some(s)) => format!("did you mean `{s}`?"),
                        (None, None, None) => format!(
                            "declare a {} `{key}` in sandbox `{}`, or name one flowform does not manage with `{}: ID`",
                            target.noun, r.sandbox, field.path
                        ),
                    };
                    diagnostics.push(error(format!("no {} `{key}` is declared", target.noun)).help(help));
                }
                Some(t) if t.sandbox != r.sandbox => {
                    diagnostics.push(
                        error(format!(
                            "`{key}` is a {} of sandbox `{}`, and this {} is in sandbox `{}`",
                            target.noun, t.sandbox, r.kind.noun, r.sandbox
                        ))
                        .help(format!(
                            "a {} and its {} live in one sandbox: declare one in `{}`",
                            r.kind.noun, target.noun, r.sandbox
                        )),
                    );
                }
                Some(t) => inherited(r, t, field.path, diagnostics),
            }
        }
    }
}

/// A field taken from what a reference names (a source connection's spec, its base
/// connection's) must be declared when the reference is a bare id: flowform does not know
/// what that one holds.
fn literal_needs(r: &Resource, diagnostics: &mut Diagnostics) {
    for f in r.kind.fields {
        let Default::Inherit { reference, .. } = f.default else {
            continue;
        };
        if !matches!(r.reference(reference), Some(Reference::Id(_))) || r.values.contains_key(f.path) {
            continue;
        }
        let top = f.path.split('.').next().unwrap_or(f.path);
        let by_key = match r.kind.field(reference).map(|rf| &rf.ty) {
            Some(Type::Ref { by_key, .. }) => *by_key,
            _ => reference,
        };
        diagnostics.push(
            Diagnostic::error(format!(
                "`{reference}` names one flowform does not manage, so `{}` cannot be taken from it: declare it",
                f.path
            ))
            .at(&r.origin.file, r.place(reference))
            .of(r.kind, &r.key)
            .field(f.path)
            .help(format!(
                "add `{top}: {{id: …, version: \"1.0\"}}` (the base connection's, which `flowform state show` or AEP gives), or name a declared one with `{by_key}: KEY`"
            )),
        );
        // One message for a group (`connectionSpec.id` and `.version`).
        break;
    }
}

/// The fields `r` takes from `target` (through its reference `reference`), when declared
/// anyway, must say the same.
fn inherited(r: &Resource, target: &Resource, reference: &str, diagnostics: &mut Diagnostics) {
    for f in r.kind.fields {
        let Default::Inherit { reference: via, path } = f.default else {
            continue;
        };
        if via != reference {
            continue;
        }
        let (Some(declared), Some(theirs)) = (r.text(f.path), target.text(path)) else {
            continue;
        };
        if !declared.eq_ignore_ascii_case(theirs) {
            diagnostics.push(
                Diagnostic::error(format!(
                    "`{}` is `{declared}`, but its {} `{}` has `{theirs}`",
                    f.path, target.kind.noun, target.key
                ))
                .at(&r.origin.file, r.place(f.path))
                .of(r.kind, &r.key)
                .field(f.path)
                .help(format!(
                    "a {}'s `{}` is its {}'s: remove it here (it is taken from `{}`)",
                    r.kind.noun, f.path, target.kind.noun, target.key
                )),
            );
        }
    }
}

/// What tells `r` apart besides its kind, sandbox and name, as the configuration says it:
/// its scope fields' values (a reference by its key or id).
pub(super) fn declared_scope(r: &Resource) -> Vec<String> {
    r.kind
        .scope
        .iter()
        .map(|path| match r.reference(path) {
            Some(Reference::Key(k)) => format!("key:{k}"),
            Some(Reference::Id(id)) => format!("id:{id}"),
            None => r
                .kind
                .field(path)
                .and_then(|f| r.value(f))
                .map_or_else(String::new, |v| match v {
                    serde_json::Value::String(s) => s.to_lowercase(),
                    other => other.to_string(),
                }),
        })
        .collect()
}

/// How a kind's scope reads in a message: "base connection", "connection spec and dataset".
pub(super) fn scope_words(kind: &Kind) -> String {
    let words: Vec<String> = kind
        .scope
        .iter()
        .map(|path| match kind.field(path).map(|f| &f.ty) {
            Some(Type::Ref { kind: target, .. }) => {
                crate::kind::by_name(target).map_or((*target).to_owned(), |k| k.noun.to_owned())
            }
            _ => path.replace("connectionSpec.id", "connection spec"),
        })
        .collect();
    words.join(" and ")
}
