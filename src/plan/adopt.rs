//! Taking an existing resource under management: the one an `import` block names, or the
//! one an interrupted create made, found again by its name (never created a second time).

use std::collections::BTreeSet;

use serde_json::Value;

use super::compare::{Want, compare, ignored, sensitive_field, want};
use super::diff::Context;
use super::{Action, Change, Interrupted, Presence, Reason, fingerprint};
use crate::config::{Desired, Resource};
use crate::flow::model::LiveObject;
use crate::kind::Update;
use crate::state::{Pending, State};

/// A field that cannot change in place, whose value AEP has otherwise than declared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub path: &'static str,
    /// AEP's value, and the declared one, as text.
    pub have: String,
    pub declared: String,
}

impl Mismatch {
    /// The fix, for a resource of `noun`.
    pub fn help(&self, noun: &str) -> String {
        format!(
            "`{}` cannot change in place: declare it as AEP has it ({}) to import this one, or import another {noun}",
            self.path, self.have
        )
    }
}

/// The first field of `d` that cannot change in place whose value AEP (`l`) has otherwise
/// than declared: importing it, the next plan would replace it. What is known only once
/// applied (a reference to what nothing manages yet, a spec named) is not compared. One
/// rule for `import:` blocks and `flowform import`.
pub fn not_as_declared(desired: &Desired, state: &State, d: &Resource, l: &LiveObject) -> Option<Mismatch> {
    let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    d.kind
        .fields
        .iter()
        .filter(|f| f.update == Update::Replace)
        .find_map(|f| {
            let (Want::Value(wanted), Some(have)) =
                (want(desired, state, d, f), super::compare::live_value(l, f))
            else {
                return None;
            };
            (wanted != have).then(|| Mismatch {
                path: f.path,
                have: show(&have),
                declared: show(&wanted),
            })
        })
}

/// The paths of the fields AEP (`l`) has otherwise than `d` declares them, as a plan
/// compares them (those that change in place, then the first that cannot): an import of `d`
/// that changes nothing has none. For `generate`, which writes what must plan so.
pub fn differing(desired: &Desired, state: &State, d: &Resource, l: &LiveObject) -> Vec<String> {
    let (fields, _) = compare(desired, state, d, None, l);
    let mut paths: Vec<String> = fields.into_iter().map(|f| f.path).collect();
    paths.extend(not_as_declared(desired, state, d, l).map(|m| m.path.to_owned()));
    paths
}

impl Context<'_> {
    /// Adopts resource `id` for `d`, then updates what differs.
    pub(super) fn adopt(&mut self, address: &str, d: &Resource, id: &str, reason: Reason) {
        let noun = d.kind.noun;
        if let Some((other, _)) = self
            .state
            .resources
            .iter()
            .find(|(a, r)| r.id == id && a.as_str() != address)
        {
            return self.error(format!(
                "`{address}` imports {noun} {id}, which the state already manages as `{other}`"
            ));
        }
        let scope = self
            .scope(d)
            .and_then(|s| s.into_iter().next())
            .unwrap_or_default();
        let l = match self.live.presence(d.kind, &d.sandbox, &scope, id) {
            Presence::Found(l) => l,
            Presence::Absent => {
                return self.error(format!(
                    "`{address}` imports {noun} {id}, but AEP has no such {noun} in sandbox `{}`",
                    d.sandbox
                ));
            }
            Presence::Unknown => {
                return self.error(format!(
                    "`{address}` imports {noun} {id}: importing needs a refresh (drop `--refresh=false`)"
                ));
            }
        };
        // What cannot change in place must already be as declared.
        if let Some(m) = not_as_declared(self.desired, self.state, d, l) {
            return self.error_with_help(
                format!(
                    "`{address}` imports {noun} {id}, whose `{}` is {}, not the declared {}",
                    m.path, m.have, m.declared
                ),
                m.help(noun),
            );
        }
        let (mut fields, unchanged) = compare(self.desired, self.state, d, None, l);
        // AEP never returns a secret, so what the resource has cannot be compared. An import
        // takes it as it is: the declared secrets are not sent (a wrong one would break a
        // working connection); the state records their digests, and a change to them is
        // sent from then on. Only when a plain param differs do they go, with it: AEP
        // replaces the params whole.
        let secret_names = d.split_params().secret_names;
        let params = d.kind.params_field().map_or("auth.params", |f| f.path);
        let params_differ = fields.iter().any(|f| f.path.starts_with(&format!("{params}.")));
        let resend = params_differ && !secret_names.is_empty() && !ignored(d, params);
        let recovered = reason == Reason::ImportBecauseRecoveredFromInterruptedApply;
        let mut notes = Vec::new();
        if recovered {
            notes.push(
                "adopted: recovered from an interrupted apply (the create reached AEP; its answer did not reach flowform)"
                    .to_owned(),
            );
        } else if resend {
            notes.push(
                "secrets: sent, with the param that differs (AEP replaces the auth params whole)".to_owned(),
            );
        } else if !secret_names.is_empty() {
            notes.push("secrets: not sent (AEP keeps its values; flowform records the digests of the declared ones, and sends them when they change)".to_owned());
        }
        if resend {
            for name in &secret_names {
                fields.push(sensitive_field(params, name, None));
            }
        }
        let then_update = !fields.is_empty();
        let mut change = Change::bare(address, &d.key, &d.sandbox, Action::Adopt, d.name());
        change.reason = Some(reason);
        change.id = Some(id.to_owned());
        change.etag = l.etag.clone();
        change.fields = fields;
        change.unchanged = unchanged;
        change.resend_secrets = resend;
        change.then_update = then_update;
        change.initializing = d.kind.initializes && l.is_initializing();
        change.notes = notes;
        change.depends_on = Self::depends_on(d);
        self.change(change);
    }

    /// An interrupted create: find what it made by listing, never by creating blindly.
    pub(super) fn recover(&mut self, address: &str, d: &Resource, p: &Pending) {
        let first = p.scope.first().cloned().unwrap_or_default();
        if !self.live.name_seen(d.kind, &p.sandbox, &first, &p.name) {
            return self.error(format!(
                "`{address}`: an interrupted apply may have created it; resolving that needs a refresh (drop `--refresh=false`)"
            ));
        }
        let managed: BTreeSet<&str> = self.state.resources.values().map(|r| r.id.as_str()).collect();
        let scope: Vec<String> = p.scope.iter().map(|s| s.to_lowercase()).collect();
        // A pending create written before every scope value was kept (format 3) names the
        // first alone.
        let seen: Vec<&LiveObject> = self
            .live
            .objects
            .values()
            .filter(|s| s.kind == d.kind && s.sandbox == p.sandbox)
            .filter(|s| {
                let theirs = super::scopes_of(d.kind, &s.object);
                theirs.iter().zip(&scope).all(|(a, b)| a == b)
            })
            .map(|s| &s.object)
            .collect();
        let found = super::interrupted_create(seen, &p.name, |id| managed.contains(id), p.started_at);
        match found {
            Interrupted::Nothing => {
                if self.name_is_taken(address, d) {
                    return;
                }
                let mut change = self.creation(address, d);
                change.notes.push(format!(
                    "an interrupted apply began creating it, and AEP has no such {}: it is created now",
                    d.kind.noun
                ));
                self.change(change);
            }
            Interrupted::One(one) => {
                let id = one.id.clone();
                self.adopt(
                    address,
                    d,
                    &id,
                    Reason::ImportBecauseRecoveredFromInterruptedApply,
                );
                // The create carried exactly this configuration? Then nothing is left to send.
                if p.fingerprint != fingerprint(d, self.state)
                    && let Some(change) = self.plan.changes.last_mut()
                {
                    change.notes.push(
                        "the configuration changed since the interrupted create: the secrets are sent again"
                            .into(),
                    );
                    change.resend_secrets = true;
                    change.then_update = true;
                }
            }
            Interrupted::Several(several) => {
                let ids: Vec<&str> = several.iter().map(|l| l.id.as_str()).collect();
                self.error_with_help(
                    format!(
                        "`{address}`: an interrupted apply began creating it, and AEP now has {} {}s named `{}` in sandbox `{}` created since: {}. flowform will not guess which is its own",
                        several.len(),
                        d.kind.noun,
                        p.name,
                        p.sandbox,
                        ids.join(", ")
                    ),
                    "delete the extra ones in AEP, or `import` the right one",
                );
            }
        }
    }
}
