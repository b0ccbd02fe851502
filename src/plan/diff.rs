//! How each resource is planned: the cases of declared / recorded / live presence (a
//! resource taken under management is in `adopt`, one both declared and recorded in
//! `managed`, the field-by-field comparison in `compare`, drift in `drift`, what one
//! replacement forces on others in `cascade`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::compare::{Want, recorded_value, sensitive_field, text, want};
use super::{Action, Change, Field, Live, Origin, Plan, Presence, Problem, Reason};
use crate::config::{Desired, Param, Resource};
use crate::flow::model::LiveObject;
use crate::kind::{Type, Update};
use crate::state::{Pending, Record, State};

pub(super) struct Context<'a> {
    pub desired: &'a Desired,
    pub state: &'a State,
    pub live: &'a Live,
    pub plan: &'a mut Plan,
    /// `--replace` names this resource.
    pub replace: bool,
    /// The state's records by id (built once per plan).
    pub holders: &'a std::collections::HashMap<&'a str, &'a str>,
    /// What the `import:` blocks take with them, by address.
    pub chained: &'a std::collections::BTreeMap<String, super::chain::Link>,
}

/// The first scope value of a record.
pub(super) fn record_scope(r: &Record) -> String {
    r.scope().into_iter().next().unwrap_or_default()
}

impl Context<'_> {
    pub(super) fn change(&mut self, change: Change) {
        self.plan.changes.push(change);
    }

    pub(super) fn error(&mut self, message: String) {
        self.plan.errors.push(Problem::new(message));
    }

    pub(super) fn error_with_help(&mut self, message: String, help: impl Into<String>) {
        self.plan.errors.push(Problem::new(message).with_help(help));
    }

    /// The scope values of a declared resource as AEP will know them; `None` when one is not
    /// known before applying (it refers to a resource created first: nothing of its scope
    /// can exist yet).
    pub(super) fn scope(&self, d: &Resource) -> Option<Vec<String>> {
        d.kind
            .scope
            .iter()
            .map(|path| {
                let f = d.kind.field(path)?;
                match want(self.desired, self.state, d, f) {
                    Want::Value(Value::String(s)) => Some(s.to_lowercase()),
                    Want::Value(other) => Some(other.to_string()),
                    Want::Absent => Some(String::new()),
                    Want::Unknown => None,
                }
            })
            .collect()
    }

    /// The declared resources `d` refers to by key.
    pub(super) fn depends_on(d: &Resource) -> Vec<String> {
        super::cascade::references(d)
    }

    /// Delete (or forget) a managed resource: no longer declared, or being destroyed.
    pub fn destroy(&mut self, address: &str, r: &Record, declared: Option<&Resource>, reason: Reason) {
        let mut base = Change::bare(address, &r.key, &r.sandbox, Action::Forget, &r.name);
        base.reason = Some(Reason::ForgetBecauseDeletedOutside);
        base.id = Some(r.id.clone());
        base.etag = r.etag.clone();
        base.fields = vec![Field::new("name", Some(text(&r.name)), None)];
        let l = match self.live.presence(r.kind, &r.sandbox, &record_scope(r), &r.id) {
            Presence::Absent => {
                self.change(base);
                return;
            }
            Presence::Found(l) => Some(l),
            Presence::Unknown => None,
        };
        let protected = r.protect || declared.is_some_and(|d| d.lifecycle.protect);
        if protected {
            let help = if declared.is_some() {
                "set `lifecycle: {protect: false}` and apply first"
            } else {
                "declare it again with `lifecycle: {protect: false}` and apply, then remove it; or stop managing it without deleting it: `flowform state rm`"
            };
            self.error_with_help(
                format!(
                    "`{address}` ({}) is protected and cannot be deleted; protection is remembered in the state, so removing it from the configuration does not lift it",
                    r.id
                ),
                help,
            );
            return;
        }
        if !r.kind.collection.deletes() {
            base.reason = Some(Reason::ForgetBecauseUndeletable);
            base.notes.push(format!(
                "AEP documents no DELETE for a {}: it stays in AEP, no longer managed",
                r.kind.noun
            ));
            self.change(base);
            return;
        }
        let change = Change {
            action: Action::Delete,
            reason: Some(reason),
            etag: l.and_then(|l| l.etag.clone()).or(base.etag.clone()),
            ..base
        };
        self.change(change);
    }

    /// Declared, not in the state: adopt (import block), recover (interrupted create), or create.
    pub fn declared_unmanaged(&mut self, address: &str, d: &Resource, pending: Option<&Pending>) {
        if let Some(id) = &d.import {
            return self.adopt(address, d, id, Reason::ImportBecauseImportBlock);
        }
        if let Some(link) = self.chained.get(address) {
            self.adopt(address, d, &link.id, Reason::ImportBecauseImportBlock);
            if let Some(change) = self.plan.changes.last_mut()
                && change.address == address
            {
                change.notes.insert(0, link.why());
            }
            return;
        }
        if let Some(p) = pending {
            return self.recover(address, d, p);
        }
        if self.name_is_taken(address, d) {
            return;
        }
        let change = self.creation(address, d);
        self.change(change);
    }

    /// Whether creating `d` (or renaming a resource to its name) would make a second
    /// resource with its kind, sandbox, scope and name — what an interrupted create is found
    /// again by, so they must name one resource. A taken name is an error (said here), never
    /// a warning: nothing bypasses it. Without a listing of its group (`--refresh=false`) nor
    /// a lookup of its name, the plan cannot know; the applier checks every name with AEP
    /// just before it creates or renames anyway.
    pub(super) fn name_is_taken(&mut self, address: &str, d: &Resource) -> bool {
        // A scope not known yet (a new parent) holds nothing.
        let Some(scope) = self.scope(d) else {
            return false;
        };
        let first = scope.first().cloned().unwrap_or_default();
        if !self.live.name_seen(d.kind, &d.sandbox, &first, d.name()) {
            return false;
        }
        let managed: BTreeSet<&str> = self.state.resources.values().map(|r| r.id.as_str()).collect();
        let twins: Vec<&LiveObject> = self
            .live
            .in_scope(d.kind, &d.sandbox, &scope)
            .filter(|l| l.name == d.name() && !managed.contains(l.id.as_str()))
            .collect();
        let key = if d.kind.is_default() {
            d.key.clone()
        } else {
            format!("{}:{}", d.kind.name, d.key)
        };
        let noun = d.kind.noun;
        let of_scope = if d.kind.is_default() {
            " of this spec"
        } else {
            " here"
        };
        match twins.as_slice() {
            [] => false,
            [twin] => {
                self.error_with_help(
                    format!(
                        "`{address}`: AEP already has a {noun} named `{}`{of_scope} in sandbox `{}` (id {}) that this state does not manage; creating another would make a duplicate",
                        d.name(),
                        d.sandbox,
                        twin.id
                    ),
                    format!(
                        "to manage that one, run `flowform import {key} {}`, or add `import: {{id: {}}}` to `{}`; if it is another {noun}, give `{}` another name",
                        twin.id, twin.id, d.key, d.key
                    ),
                );
                true
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|l| l.id.as_str()).collect();
                self.error_with_help(
                    format!(
                        "`{address}`: AEP already has {} {noun}s named `{}`{of_scope} in sandbox `{}` ({}) that this state does not manage; creating another would make one more",
                        several.len(),
                        d.name(),
                        d.sandbox,
                        ids.join(", ")
                    ),
                    format!(
                        "keep one: `flowform import {key} ID` (or `import: {{id: ID}}` on `{}`), and delete or rename the others in AEP",
                        d.key
                    ),
                );
                true
            }
        }
    }

    pub(super) fn creation(&self, address: &str, d: &Resource) -> Change {
        let mut change = Change::bare(address, &d.key, &d.sandbox, Action::Create, d.name());
        change.fields = creation_fields(self.desired, self.state, d);
        change.resend_secrets = true;
        change.depends_on = Self::depends_on(d);
        change
    }

    /// A pending create for a resource no longer declared.
    pub fn orphaned_pending(&mut self, address: &str) {
        let Some(p) = self.state.pending.iter().find(|p| p.address == address) else {
            return;
        };
        let verb = p.action.verb();
        self.plan.warnings.push(format!(
            "`{address}`: an interrupted apply began to {verb} it, and it is no longer declared; if AEP has a {} named `{}` in sandbox `{}` that nobody wants, delete it there",
            p.kind().noun,
            p.name,
            p.sandbox
        ));
    }
}

/// Every attribute of a resource about to be created.
pub(super) fn creation_fields(desired: &Desired, state: &State, d: &Resource) -> Vec<Field> {
    let mut fields = Vec::new();
    for f in d.kind.fields {
        match f.ty {
            Type::Params => {
                for (name, param) in d.params().into_iter().flatten() {
                    let path = format!("{}.{name}", f.path);
                    fields.push(match param {
                        Param::Plain(v) => Field::new(path, None, Some(v.clone())),
                        Param::Secret { .. } => Field {
                            sensitive: true,
                            ..Field::new(path, None, None)
                        },
                    });
                }
            }
            _ => match want(desired, state, d, f) {
                Want::Value(v) => fields.push(Field::new(f.path, None, Some(v))),
                Want::Unknown => fields.push(Field {
                    unknown: true,
                    ..Field::new(f.path, None, None)
                }),
                Want::Absent => {}
            },
        }
    }
    fields
}

/// A replacement's fields: what forces it, then the new resource's attributes against
/// the old one's (what stays is hidden, counted), then what the old one has and the new
/// one will not.
pub(super) fn replacement_fields(
    desired: &Desired,
    state: &State,
    d: &Resource,
    r: &Record,
    forcing: Vec<Field>,
) -> (Vec<Field>, usize) {
    let mut fields = forcing;
    let mut unchanged = 0;
    let replaced: BTreeSet<&str> = d
        .kind
        .fields
        .iter()
        .filter(|f| f.update == Update::Replace)
        .map(|f| f.path)
        .collect();
    let params = d.kind.params_field().map(|f| f.path);
    for mut f in creation_fields(desired, state, d) {
        if replaced.contains(f.path.as_str()) {
            continue;
        }
        if !f.sensitive {
            f.before = match params
                .and_then(|p| f.path.strip_prefix(p))
                .and_then(|rest| rest.strip_prefix('.'))
            {
                Some(param) => r.params().and_then(|p| p.get(param).cloned()),
                None => d.kind.field(&f.path).and_then(|decl| recorded_value(r, decl)),
            };
            if f.before == f.after {
                unchanged += 1;
                continue;
            }
        }
        fields.push(f);
    }
    // What the old resource has and the new one will not.
    if let Some(params) = params {
        let declared = d.params();
        let has = |name: &str| declared.is_some_and(|p| p.contains_key(name));
        for (name, value) in r.params().into_iter().flatten() {
            if !has(name) {
                fields.push(Field {
                    origin: Some(Origin::Config),
                    removed: true,
                    ..Field::new(format!("{params}.{name}"), Some(value.clone()), None)
                });
            }
        }
        for name in &r.secret_params {
            if !has(name) {
                fields.push(Field {
                    removed: true,
                    ..sensitive_field(params, name, Some(Origin::Config))
                });
            }
        }
    }
    (fields, unchanged)
}
