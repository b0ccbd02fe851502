//! Drift: what AEP shows differently from what the state recorded, made outside flowform
//! (as Terraform's "Objects have changed outside of Terraform"), field by field as the
//! resource's kind declares them; and a reference left dangling (a source connection whose
//! base connection was deleted outside flowform). Also the other two sections of `flowform
//! drift`: what the configuration asks for that the state does not have yet
//! ([`unapplied`]), and what AEP has that flowform does not manage ([`unmanaged`]).

use std::collections::BTreeSet;

use serde_json::Value;

use super::compare::{ignored, live_value, recorded_value, text};
use super::diff::Context;
use super::live::{scope_of, scopes_of};
use super::{Action, Change, Drift, DriftKind, Field, Live, Origin, Plan, Presence, Reason};
use crate::config::{Desired, Resource};
use crate::flow::model::{ConnectionState, LiveObject, is_masked};
use crate::kind::{self, Type};
use crate::state::{Record, State};

impl Context<'_> {
    /// Drift: AEP differs from what the state recorded.
    /// `declared`: the resource's configuration, whose `ignoreChanges` fields are not drift
    /// (the user said they do not matter; a scheduled check must not keep flagging them).
    pub fn drift(&mut self, address: &str, r: &Record, declared: Option<&Resource>) {
        let interrupted = |action: crate::state::Action| {
            self.state
                .pending
                .iter()
                .find(|p| p.address == address && p.action == action)
        };
        let scope = r.scope().into_iter().next().unwrap_or_default();
        let l = match self.live.presence(r.kind, &r.sandbox, &scope, &r.id) {
            Presence::Unknown => return,
            // An interrupted run was deleting it: gone is what it meant, not a change outside.
            Presence::Absent if interrupted(crate::state::Action::Delete).is_some() => return,
            Presence::Absent => {
                self.plan.drift.push(Drift {
                    address: address.to_owned(),
                    id: r.id.clone(),
                    kind: DriftKind::Deleted,
                    fields: Vec::new(),
                    etag_changed: false,
                    updated_at: None,
                    updated_client: None,
                    updated_by: None,
                    by_flowform: false,
                    secret_params: Vec::new(),
                    dangling: None,
                });
                return;
            }
            Presence::Found(l) => l,
        };
        // An interrupted run was updating it, and AEP says flowform changed it since: what
        // differs is that run's work, not a change made outside (the plan settles it).
        if let Some(p) = interrupted(crate::state::Action::Update)
            && r.etag.is_some()
            && l.etag != r.etag
            && self.live.changed_by_us_since(l, p.started_at)
        {
            return;
        }
        let mut fields = Vec::new();
        let mut push = |path: String, before: Option<Value>, after: Option<Value>| {
            if before != after && !declared.is_some_and(|d| ignored(d, &path)) {
                fields.push(Field {
                    origin: Some(Origin::Outside),
                    ..Field::new(path, before, after)
                });
            }
        };
        let mut replaced_fields = Vec::new();
        for f in r.kind.fields {
            match f.ty {
                Type::Params => {
                    let live_params = l.at(f.api);
                    for (name, recorded) in r.params().into_iter().flatten() {
                        let now = live_params
                            .as_ref()
                            .and_then(|p| p.get(name))
                            .filter(|v| !is_masked(v))
                            .cloned();
                        push(format!("{}.{name}", f.path), Some(recorded.clone()), now);
                    }
                }
                _ if f.update.in_place() => {
                    let before = recorded_value(r, f);
                    // AEP's default for what flowform did not send is no change (nor the
                    // version AEP picks of a set flowform did not pin).
                    if before.is_none()
                        && matches!(f.default, kind::Default::Server | kind::Default::Version { .. })
                    {
                        continue;
                    }
                    push(f.path.to_owned(), before, live_value(l, f));
                }
                // What cannot change in place is compared only where both say it (an id in
                // any case): it moves outside flowform only through AEP's own doing.
                _ => {
                    if let (Some(before), Some(after)) = (recorded_value(r, f), live_value(l, f))
                        && !same_id(&before, &after)
                    {
                        replaced_fields.push((f.path, before, after));
                    }
                }
            }
        }
        // A state AEP moved on its own (initializing → enabled) is no drift; any other is.
        // A disabled resource stays drift for as long as it is disabled, even once the state
        // records it: flowform declares resources to be used, and cannot enable a base
        // connection (unless `ignoreChanges: [state]` says it is disabled on purpose).
        // A kind whose state is one of its fields (a flow's `enabled`) said it above.
        let state_is_a_field = r.kind.fields.iter().any(|f| f.api == "/state");
        match (&r.state, &l.state) {
            _ if state_is_a_field => {}
            (_, Some(now @ ConnectionState::Disabled)) if r.kind.disables => {
                push("state".into(), Some(text("enabled")), Some(text(now.as_str())));
            }
            (Some(recorded), Some(now)) if recorded != now && *recorded != ConnectionState::Initializing => {
                push(
                    "state".into(),
                    Some(text(recorded.as_str())),
                    Some(text(now.as_str())),
                );
            }
            _ => {}
        }
        for (path, before, after) in replaced_fields {
            push(path.to_owned(), Some(before), Some(after));
        }
        // An initializing resource has no etag yet; the first one it gets is no drift. Nor is
        // one that moved with a change to an ignored field.
        let etag_changed = r.etag.is_some()
            && l.etag.is_some()
            && r.etag != l.etag
            && !declared.is_some_and(|d| super::compare::ignored_change_outside(d, r, l));
        let dangling = self.dangling(r);
        if !fields.is_empty() || etag_changed || dangling.is_some() {
            self.plan.drift.push(Drift {
                address: address.to_owned(),
                id: r.id.clone(),
                kind: DriftKind::Changed,
                fields,
                etag_changed,
                updated_at: l.updated_at,
                updated_client: l.updated_client.clone(),
                updated_by: l.updated_by.clone(),
                by_flowform: self.live.own_client.is_some() && l.updated_client == self.live.own_client,
                secret_params: r.secret_params.iter().cloned().collect(),
                dangling,
            });
        }
    }

    /// What `r` refers to that AEP no longer has (by the ids it depends on, each of a kind
    /// the refresh read): the address the state keeps it under, or its id.
    fn dangling(&self, r: &Record) -> Option<String> {
        for f in r.kind.refs() {
            let Some(id) = r.text(f.path) else { continue };
            let Some(target) = crate::kind::resource::ref_kind(f) else {
                continue;
            };
            let holder = self
                .holders
                .get(id)
                .and_then(|a| self.state.resources.get_key_value(*a));
            let scope = holder
                .map(|(_, t)| t.scope().into_iter().next().unwrap_or_default())
                .unwrap_or_default();
            if let super::Presence::Absent = self.live.presence(target, &r.sandbox, &scope, id) {
                return Some(holder.map_or_else(|| id.to_owned(), |(a, _)| a.clone()));
            }
        }
        None
    }
}

fn same_id(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// What of a plan the configuration asks for and the state does not have yet — the
/// configuration not yet applied, compared with the state (secrets by fingerprint) — apart
/// from what AEP changed outside flowform (the plan's drift, and the updates, recreates and
/// forgets that only answer it). An update keeps only the fields the configuration changed.
pub fn unapplied(plan: &Plan) -> Vec<Change> {
    // What only answers a change outside, and the replacements it cascades into (a source
    // connection whose base connection was deleted outside is replaced with it).
    let mut answers: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for c in plan.actions() {
        let answer = match (c.action, c.reason) {
            (Action::Create, Some(Reason::RecreateBecauseDeletedOutside))
            | (Action::Update, Some(Reason::UpdateBecauseChangedOutside)) => true,
            (Action::Replace, Some(Reason::ReplaceBecauseDependencyReplaced)) => {
                c.cause.as_deref().is_some_and(|cause| answers.contains(cause))
            }
            _ => false,
        };
        if answer {
            answers.insert(&c.address);
        }
    }
    plan.actions()
        .filter(|c| !answers.contains(c.address.as_str()))
        .filter_map(|c| match (c.action, c.reason) {
            (Action::Create, Some(Reason::RecreateBecauseDeletedOutside))
            | (Action::Update, Some(Reason::UpdateBecauseChangedOutside))
            | (Action::Forget, _)
            | (Action::NoOp, _) => None,
            (Action::Update, _) => {
                let fields: Vec<Field> = c
                    .fields
                    .iter()
                    .filter(|f| f.origin != Some(Origin::Outside))
                    .cloned()
                    .collect();
                (!fields.is_empty()).then(|| Change { fields, ..c.clone() })
            }
            _ => Some(c.clone()),
        })
        .collect()
}

/// Resources AEP has that flowform does not manage, where flowform looked at every resource
/// (for `flowform drift`): base connections of the declared sandboxes and specs, source
/// connections of a managed base connection, and target connections of a dataset a managed
/// one receives into (a data-lake target connection has no base connection: the docs'
/// examples give it none).
pub fn unmanaged<'a>(
    desired: &'a Desired,
    state: &'a State,
    live: &'a Live,
) -> Vec<(&'a str, &'a LiveObject)> {
    let managed: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
    // What the configuration imports, and what those imports take with them.
    let chain = super::chain::of_imports(desired, state, live);
    let imports: BTreeSet<&str> = desired
        .resources
        .values()
        .filter_map(|c| c.import.as_deref())
        .chain(chain.links.values().map(|l| l.id.as_str()))
        .collect();
    let mut found = Vec::new();
    for (id, seen) in &live.objects {
        if managed.contains(id.as_str()) || imports.contains(id.as_str()) {
            continue;
        }
        // Only where its group was listed in full: a resource seen by name or id alone says
        // nothing of the others.
        let group = (
            seen.kind.name,
            seen.sandbox.clone(),
            scope_of(seen.kind, &seen.object),
        );
        if !live.listed.contains(&group) {
            continue;
        }
        let relevant = match seen.kind.refresh {
            // Of the declared sandboxes and specs.
            _ if seen.kind.is_default() => desired.of(seen.kind).any(|c| {
                c.sandbox == seen.sandbox
                    && seen
                        .object
                        .spec_id()
                        .is_some_and(|s| s.eq_ignore_ascii_case(kind::connection::spec_id(c)))
            }),
            // Listed by parent: its parent is one flowform manages.
            kind::Refresh::ByParent(_) => true,
            // Of no scope (Data Prep's mapping sets): a sandbox holds sets of every kind of
            // dataflow (streaming, made in the UI), and nothing says which are the project's.
            kind::Refresh::ById if seen.kind.scope.is_empty() => false,
            // Of what the managed ones share (a data-lake target connection of a dataset a
            // managed one receives into): all its scope values.
            kind::Refresh::ById => {
                let theirs = scopes_of(seen.kind, &seen.object);
                state
                    .resources
                    .values()
                    .any(|r| r.kind == seen.kind && r.sandbox == seen.sandbox && r.scope() == theirs)
            }
        };
        if relevant {
            found.push((seen.sandbox.as_str(), &seen.object));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1.name, &a.1.id).cmp(&(b.0, &b.1.name, &b.1.id)));
    found
}
