//! The graph's part of a plan: a resource that gets a new id (replaced, or created again
//! after it was deleted outside flowform) takes with it every declared resource that refers
//! to it through a field AEP cannot change in place — a base connection replaced replaces
//! its source connections, each shown with its cause — and so on down the chain. `protect`
//! anywhere on the chain stops it, with an error naming the chain.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::compare::target_address;
use super::{Action, Change, Field, Live, Origin, Plan, Problem, Reason};
use crate::config::{Desired, Reference, Resource};
use crate::kind::{Type, Update};
use crate::state::State;

/// The addresses of the declared resources `r` refers to by key.
pub fn references(r: &Resource) -> Vec<String> {
    r.kind
        .refs()
        .filter(|f| matches!(r.reference(f.path), Some(Reference::Key(_))))
        .filter_map(|f| target_address(r, f))
        .collect()
}

/// A reference by id to a resource this state manages hides it from the graph: its
/// replacement would not replace the resource that refers to it, and a destroy would not wait
/// for it. Refused, with the reference by key to write instead. One that a `removed:` entry
/// lets go in this plan is no longer the state's: by id is how what stays names it.
pub(super) fn literal_ids_of_managed(desired: &Desired, state: &State, plan: &mut Plan) {
    let let_go: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Forget && c.reason == Some(Reason::ForgetBecauseRemoved))
        .map(|c| c.address.as_str())
        .collect();
    let held: BTreeMap<&str, &str> = state
        .resources
        .iter()
        .filter(|(a, _)| !a.ends_with("#deposed") && !let_go.contains(a.as_str()))
        .map(|(a, r)| (r.id.as_str(), a.as_str()))
        .collect();
    for d in desired.resources.values() {
        for f in d.kind.refs() {
            let (Some(Reference::Id(id)), Type::Ref { by_key, .. }) = (d.reference(f.path), &f.ty) else {
                continue;
            };
            let Some(address) = held
                .get(id.to_ascii_lowercase().as_str())
                .or_else(|| held.get(id.as_str()))
            else {
                continue;
            };
            let key = crate::kind::Address::parse(address).map_or("KEY", |a| a.key);
            plan.errors.push(
                Problem::new(format!(
                    "`{}`: `{}: {id}` is `{address}`, which this state manages; by id, flowform cannot order or replace the two together",
                    d.address(),
                    f.path
                ))
                .with_help(format!(
                    "name it by key: `{by_key}: {key}` (and remove `connectionSpec` if it is only there for the id)"
                )),
            );
        }
    }
}

/// Whether a change gives its resource a new id.
fn renews(c: &Change) -> bool {
    c.action == Action::Replace
        || (c.action == Action::Create && c.reason == Some(Reason::RecreateBecauseDeletedOutside))
}

/// Makes every declared, managed resource that refers (through a field that forces a
/// replacement) to one that gets a new id a replacement too, down the chain.
pub(super) fn cascade(desired: &Desired, state: &State, plan: &mut Plan) {
    // Who refers to whom, through which field: target address → (dependent, field path).
    let mut dependents: BTreeMap<String, Vec<(&Resource, &'static str)>> = BTreeMap::new();
    for d in desired.resources.values() {
        for f in d.kind.refs().filter(|f| f.update == Update::Replace) {
            if let Some(target) = target_address(d, f) {
                dependents.entry(target).or_default().push((d, f.path));
            }
        }
    }
    if dependents.is_empty() {
        return;
    }
    let mut index: BTreeMap<String, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    // Each renewing change, with the chain that led to it.
    let mut frontier: Vec<(String, Vec<String>)> = plan
        .changes
        .iter()
        .filter(|c| renews(c))
        .map(|c| (c.address.clone(), vec![c.address.clone()]))
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    while let Some((cause, chain)) = frontier.pop() {
        if !done.insert(cause.clone()) {
            continue;
        }
        for (d, path) in dependents.get(&cause).into_iter().flatten() {
            let address = d.address();
            let Some(record) = state.resources.get(&address) else {
                // Not created yet: it is created after its cause, pointing at the new one.
                continue;
            };
            let Some(&i) = index.get(&address) else {
                continue;
            };
            let mut chain = chain.clone();
            chain.push(address.clone());
            let change = &mut plan.changes[i];
            match change.action {
                Action::Delete | Action::Forget | Action::Create => continue,
                Action::Replace => {
                    // Replaced for its own reason too: say the cause as well.
                    if change.cause.is_none() {
                        change.cause = Some(cause.clone());
                    }
                    if !change.fields.iter().any(|f| f.path == *path) {
                        change
                            .fields
                            .insert(0, pointer(path, record.text(path).unwrap_or_default()));
                    }
                    frontier.push((address, chain));
                    continue;
                }
                _ => {}
            }
            if record.protect || d.lifecycle.protect {
                plan.errors.push(
                    Problem::new(format!(
                        "`{address}` ({}) is protected, and must be replaced because `{cause}` is replaced (AEP cannot point a {} at another {}): {}",
                        record.id,
                        d.kind.noun,
                        d.kind
                            .field(path)
                            .and_then(crate::kind::resource::ref_kind)
                            .map_or("resource", |k| k.noun),
                        chain.join(" → ")
                    ))
                    .with_help(format!(
                        "set `lifecycle: {{protect: false}}` on `{}` and apply first, or keep `{cause}` as it is",
                        d.key
                    )),
                );
                continue;
            }
            let old = record.text(path).unwrap_or_default();
            let (fields, unchanged) =
                super::diff::replacement_fields(desired, state, d, record, vec![pointer(path, old)]);
            let change = &mut plan.changes[i];
            let was_update = change.action == Action::Update;
            change.action = Action::Replace;
            change.reason = Some(Reason::ReplaceBecauseDependencyReplaced);
            change.cause = Some(cause.clone());
            change.fields = fields;
            change.unchanged = unchanged;
            change.resend_secrets = true;
            change.then_update = false;
            if was_update {
                change.notes.retain(|n| !n.starts_with("changes the state only"));
            }
            change.notes.push(format!(
                "the new {} is created first, then the old one deleted",
                d.kind.noun
            ));
            index.insert(address.clone(), i);
            frontier.push((address, chain));
        }
    }
}

/// A resource that pins the version of another (a dataflow, its mapping set's:
/// [`crate::kind::Default::Version`]) follows it: when the plan writes the other (creates or
/// changes it, which moves its version on), the pinned version becomes known after apply,
/// and the resource is updated after it, in place. Its cause is said.
pub(super) fn follow_versions(desired: &Desired, state: &State, plan: &mut Plan) {
    let writes: BTreeSet<String> = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
        .filter(|c| c.kind().collection.replaced_whole())
        .map(|c| c.address.clone())
        .collect();
    if writes.is_empty() {
        return;
    }
    let index: BTreeMap<String, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    for d in desired.resources.values() {
        for f in d.kind.fields {
            let crate::kind::Default::Version { reference } = f.default else {
                continue;
            };
            let Some(target) = d.kind.field(reference).and_then(|rf| target_address(d, rf)) else {
                continue;
            };
            if !writes.contains(&target) || super::compare::ignored(d, f.path) {
                continue;
            }
            let Some(&i) = index.get(&d.address()) else {
                continue;
            };
            let change = &mut plan.changes[i];
            match change.action {
                // Created (or created anew) after it: the new version goes in its body.
                Action::Create | Action::Replace | Action::Delete | Action::Forget | Action::Adopt => {
                    continue;
                }
                Action::NoOp | Action::StateOnly => {
                    change.action = Action::Update;
                    change.unchanged = change.unchanged.saturating_sub(1);
                }
                Action::Update => {}
            }
            let before = state
                .resources
                .get(&d.address())
                .and_then(|r| super::compare::recorded_value(r, f));
            change.fields.retain(|x| x.path != f.path);
            change.fields.push(Field {
                origin: Some(Origin::Config),
                unknown: true,
                ..Field::new(f.path, before, None)
            });
            change
                .notes
                .push(format!("follows `{target}` to the version its write gives it"));
        }
    }
}

/// The field that forces a cascaded replacement: the reference, from the old id to the new
/// one's (known once applied).
fn pointer(path: &str, old: &str) -> Field {
    Field {
        origin: Some(Origin::Config),
        forces_replacement: true,
        unknown: true,
        ..Field::new(path, Some(Value::String(old.to_owned())), None)
    }
}

/// Warnings for what AEP will refuse to delete: a resource that something flowform does not
/// manage still uses (AEP's FLOW-1418 for a base connection, FLOW-1447 for a source or target
/// connection): what the refresh saw of its dependents, and where it read none.
pub(super) fn warn_unmanaged_dependents(state: &State, live: &Live, plan: &mut Plan) {
    let managed: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
    let mut unread: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for c in plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Delete | Action::Replace))
    {
        let Some(id) = &c.id else { continue };
        // The kinds that refer to this one, and the refresh saw by their parent.
        let users: Vec<&str> = live
            .objects
            .values()
            .filter(|s| !managed.contains(s.object.id.as_str()))
            .filter(|s| {
                s.kind.refs().any(|f| {
                    matches!(f.ty, Type::Ref { kind, .. } if kind == c.kind().name)
                        && s.object
                            .text_at(f.api)
                            .is_some_and(|v| v.eq_ignore_ascii_case(id))
                })
            })
            .map(|s| s.object.id.as_str())
            .collect();
        if !users.is_empty() {
            let kept = match c.address.strip_suffix("#deposed") {
                Some(_) => format!("it stays managed as `{}`", c.address),
                None => format!("the old one stays managed as `{}#deposed`", c.address),
            };
            warnings.push(format!(
                "`{}` ({id}) is used by {} that this state does not manage ({}): AEP refuses to delete it while they use it, and {kept} until they are gone",
                c.address,
                if users.len() == 1 { "a resource" } else { "resources" },
                users.join(", "),
            ));
        }
        // What refers to it that the refresh did not read (it lists a parent's children
        // only where the state manages one of them): AEP may refuse the delete for a user
        // flowform did not see.
        for child in crate::kind::ALL {
            let crate::kind::Refresh::ByParent(field) = child.refresh else {
                continue;
            };
            if child.field(field).and_then(crate::kind::resource::ref_kind) == Some(c.kind())
                && !live
                    .listed
                    .contains(&(child.name, c.sandbox.clone(), id.to_lowercase()))
            {
                unread
                    .entry((child.noun, c.kind().in_use))
                    .or_default()
                    .push(c.address.clone());
            }
        }
    }
    for ((noun, code), addresses) in unread {
        let shown: Vec<String> = addresses.iter().take(3).map(|a| format!("`{a}`")).collect();
        let more = match addresses.len().saturating_sub(3) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        warnings.push(format!(
            "flowform did not read the {noun}s no state manages that may use {}{more}: AEP refuses to delete what one uses ({code}); delete such {noun}s first, or the delete fails (and, for a replace, the old one stays managed as `<address>#deposed` until it can go)",
            shown.join(", ")
        ));
    }
    plan.warnings.extend(warnings);
}
