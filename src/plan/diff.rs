//! How each resource is planned: the cases of declared / recorded / live presence (the
//! field-by-field comparison is in `compare`, drift in `drift`, what one replacement forces
//! on others in `cascade`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::compare::{Want, compare, compare_recorded, ignored, recorded_value, sensitive_field, text, want};
use super::{Action, Change, Field, Interrupted, Live, Origin, Plan, Presence, Problem, Reason, fingerprint};
use crate::config::{Desired, Param, Resource};
use crate::flow::model::{ConnectionState, LiveObject};
use crate::kind::{Type, Update};
use crate::state::{Pending, Record, State};

pub(super) struct Context<'a> {
    pub desired: &'a Desired,
    pub state: &'a State,
    pub live: &'a Live,
    pub plan: &'a mut Plan,
    /// `--replace` names this resource.
    pub replace: bool,
}

/// What changes in the state alone: the declared `lifecycle.protect` against the one the
/// state remembers (the state keeps it so that removing the block and the resource together
/// cannot bypass it). `ignoreChanges` is not kept in the state: it is read from the
/// configuration on every plan, so changing it changes only what the plan compares.
fn state_only_fields(d: &Resource, r: &Record) -> Vec<Field> {
    if r.protect == d.lifecycle.protect {
        return Vec::new();
    }
    vec![Field {
        origin: Some(Origin::Config),
        ..Field::new(
            "lifecycle.protect",
            Some(Value::Bool(r.protect)),
            Some(Value::Bool(d.lifecycle.protect)),
        )
    }]
}

/// The first scope value of a record.
fn record_scope(r: &Record) -> String {
    r.scope().into_iter().next().unwrap_or_default()
}

impl Context<'_> {
    fn change(&mut self, change: Change) {
        self.plan.changes.push(change);
    }

    fn error(&mut self, message: String) {
        self.plan.errors.push(Problem::new(message));
    }

    fn error_with_help(&mut self, message: String, help: impl Into<String>) {
        self.plan.errors.push(Problem::new(message).with_help(help));
    }

    /// The scope values of a declared resource as AEP will know them; `None` when one is not
    /// known before applying (it refers to a resource created first: nothing of its scope
    /// can exist yet).
    fn scope(&self, d: &Resource) -> Option<Vec<String>> {
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
    fn depends_on(d: &Resource) -> Vec<String> {
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
    fn name_is_taken(&mut self, address: &str, d: &Resource) -> bool {
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

    /// Adopts resource `id` for `d`, then updates what differs.
    fn adopt(&mut self, address: &str, d: &Resource, id: &str, reason: Reason) {
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
        for f in d.kind.fields.iter().filter(|f| f.update == Update::Replace) {
            let (Want::Value(wanted), Some(have)) = (
                want(self.desired, self.state, d, f),
                super::compare::live_value(l, f),
            ) else {
                continue;
            };
            if wanted != have {
                let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                return self.error(format!(
                    "`{address}` imports {noun} {id}, whose `{}` is {}, not the declared {}",
                    f.path,
                    show(&have),
                    show(&wanted)
                ));
            }
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
    fn recover(&mut self, address: &str, d: &Resource, p: &Pending) {
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

    /// Declared and recorded.
    pub fn managed(&mut self, address: &str, d: &Resource, r: &Record) {
        let l = match self.live.presence(r.kind, &r.sandbox, &record_scope(r), &r.id) {
            Presence::Absent => {
                if self.name_is_taken(address, d) {
                    return;
                }
                let mut change = self.creation(address, d);
                change.reason = Some(Reason::RecreateBecauseDeletedOutside);
                change
                    .notes
                    .push(format!("{} was deleted outside flowform", r.id));
                return self.change(change);
            }
            Presence::Found(l) => Some(l),
            Presence::Unknown => None,
        };
        let mut base = Change::bare(address, &d.key, &d.sandbox, Action::NoOp, d.name());
        base.id = Some(r.id.clone());
        base.etag = l.map_or(r.etag.clone(), |l| l.etag.clone());
        base.initializing = d.kind.initializes
            && l.map_or(
                r.state == Some(ConnectionState::Initializing),
                LiveObject::is_initializing,
            );
        base.depends_on = Self::depends_on(d);
        // What cannot change in place.
        let mut forcing = Vec::new();
        for f in d.kind.fields.iter().filter(|f| f.update == Update::Replace) {
            let before = recorded_value(r, f);
            match want(self.desired, self.state, d, f) {
                Want::Value(after) => {
                    let same = match (&before, &after) {
                        (Some(Value::String(b)), Value::String(a)) => b.eq_ignore_ascii_case(a),
                        (Some(b), a) => b == a,
                        // Not recorded (an older record): nothing to say it changed.
                        (None, _) => true,
                    };
                    if !same {
                        forcing.push(Field {
                            origin: Some(Origin::Config),
                            forces_replacement: true,
                            ..Field::new(f.path, before, Some(after))
                        });
                    }
                }
                // A reference to a resource not created yet: a new one to point at.
                Want::Unknown if matches!(f.ty, Type::Ref { .. }) => forcing.push(Field {
                    origin: Some(Origin::Config),
                    forces_replacement: true,
                    unknown: true,
                    ..Field::new(f.path, before, None)
                }),
                Want::Unknown | Want::Absent => {}
            }
        }
        if !forcing.is_empty() || self.replace {
            return self.replacement(address, d, r, base, forcing);
        }
        if let Some(l) = l
            && d.kind.disables
            && l.state == Some(ConnectionState::Disabled)
            && !ignored(d, "state")
        {
            let note = "disabled in AEP; flowform cannot enable it: the Flow Service API changes only a base connection's `/name`, `/description` and `/auth/params`. Re-enable it in the AEP UI";
            self.plan
                .warnings
                .push(format!("`{address}` ({}) is {note}", r.id));
            base.notes.push(format!("is {note}"));
        }
        let state_only = state_only_fields(d, r);
        if base.initializing {
            let mut change = base;
            change
                .notes
                .push("initializing in AEP: it cannot be updated until it is enabled".into());
            if !state_only.is_empty() {
                change.action = Action::StateOnly;
                change.fields = state_only;
            }
            return self.change(change);
        }
        let (mut fields, unchanged) = match l {
            Some(l) => compare(self.desired, self.state, d, Some(r), l),
            None => compare_recorded(self.desired, self.state, d, r),
        };
        // An update an interrupted run sent that reached AEP: the etag moved since the record
        // was made, AEP says flowform's credential changed it since the update began, it
        // shows every declared value, and the update carried exactly this configuration
        // (secrets included, by fingerprint). Then nothing is left to send: the record takes
        // what AEP has, with the declared secrets' fingerprint. (An etag that did not move
        // means the update never arrived: it is sent again.)
        if let Some(l) = l
            && let Some(p) = self
                .state
                .pending
                .iter()
                .find(|p| p.address == address && p.action == crate::state::Action::Update)
            && r.etag.is_some()
            && l.etag != r.etag
            && self.live.changed_by_us_since(l, p.started_at)
            && fields.is_empty()
            && p.fingerprint == fingerprint(d, self.state)
        {
            let id = r.id.clone();
            self.adopt(
                address,
                d,
                &id,
                Reason::ImportBecauseRecoveredFromInterruptedApply,
            );
            if let Some(change) = self.plan.changes.last_mut()
                && change.address == address
            {
                change.notes = vec![
                    "an interrupted apply updated it (AEP shows it changed by flowform, as configured): recorded, nothing is sent".into(),
                ];
            }
            return;
        }
        // A rename to a name AEP gives to a resource this state does not manage would make
        // two of a name, as a create would (the refresh looks up every name a rename asks for).
        let renamed = fields.iter().any(|f| f.path == "name");
        if renamed && self.name_is_taken(address, d) {
            return;
        }
        let (resend, secrets_changed, notes, reason) = match self.secrets(address, d, r, l, &mut fields) {
            Some(found) => found,
            None => return,
        };
        let action = match (fields.is_empty(), state_only.is_empty()) {
            (true, true) => Action::NoOp,
            (true, false) => Action::StateOnly,
            (false, _) => Action::Update,
        };
        let mut notes = notes;
        if action == Action::StateOnly {
            notes.push("changes the state only: nothing is sent to AEP".to_owned());
        }
        fields.extend(state_only);
        base.notes.extend(notes);
        self.change(Change {
            action,
            reason,
            fields,
            unchanged,
            resend_secrets: resend || secrets_changed,
            ..base
        });
    }

    /// The secrets of a managed resource: the declared ones, by digest, against what flowform
    /// last sent; and whether AEP's etag moved (a secret may have changed outside). Adds their
    /// fields; `None` when the fingerprint cannot be compared (said as a plan error).
    #[allow(clippy::type_complexity)]
    fn secrets(
        &mut self,
        _address: &str,
        d: &Resource,
        r: &Record,
        l: Option<&LiveObject>,
        fields: &mut Vec<Field>,
    ) -> Option<(bool, bool, Vec<String>, Option<Reason>)> {
        let Some(params) = d.kind.params_field().map(|f| f.path) else {
            return Some((false, false, Vec::new(), None));
        };
        let split = d.split_params();
        let secret_names = &split.secret_names;
        let params_ignored = ignored(d, params);
        let considered =
            !secret_names.is_empty() && !secret_names.iter().all(|n| ignored(d, &format!("{params}.{n}")));
        // Compared in the scheme the record was made in (it may predate a key).
        let same = match (&r.secrets_digest, split.all_resolved()) {
            (Some(stored), true) if considered => match self.state.secrets_match(stored, &split.secrets) {
                Ok(same) => same,
                Err(e) => {
                    let problem = Problem {
                        message: e.to_string(),
                        help: e.help(),
                    };
                    if !self.plan.errors.contains(&problem) {
                        self.plan.errors.push(problem);
                    }
                    return None;
                }
            },
            _ => false,
        };
        let secrets_changed = considered && (!same || *secret_names != r.secret_params);
        let mut notes = Vec::new();
        if secrets_changed && !params_ignored {
            for name in secret_names {
                fields.push(sensitive_field(params, name, Some(Origin::Config)));
            }
            // One fingerprint covers a resource's secrets together (one per secret would let
            // each be guessed apart), so which of them changed is not known.
            if secret_names.len() > 1 && r.secrets_digest.is_some() && !same {
                notes.push(format!(
                    "one or more of its {} secrets changed (flowform keeps one fingerprint of a connection's secrets together, so it cannot say which): all are sent",
                    secret_names.len()
                ));
            }
            if r.secrets_digest.is_none() {
                notes.push("flowform has never sent its secrets (it was imported): they are sent".to_owned());
            }
        }
        let etag_moved = l.is_some_and(|l| r.etag.is_some() && l.etag.is_some() && r.etag != l.etag);
        let mut reason = None;
        let prefix = format!("{params}.");
        let mut resend =
            !fields.is_empty() && !params_ignored && fields.iter().any(|f| f.path.starts_with(&prefix));
        if etag_moved && !params_ignored && !secret_names.is_empty() {
            resend = true;
            if fields.is_empty() {
                reason = Some(Reason::UpdateBecauseChangedOutside);
            }
            notes.push("changed outside flowform since the last apply (its etag moved), and its secrets may have changed too: the auth params are sent again".to_owned());
            if !fields.iter().any(|f| f.sensitive) {
                for name in secret_names {
                    fields.push(sensitive_field(params, name, Some(Origin::Outside)));
                }
            }
        }
        if resend || secrets_changed {
            let kept: Vec<String> = secret_names
                .iter()
                .filter(|n| ignored(d, &format!("{params}.{n}")))
                .cloned()
                .collect();
            if !kept.is_empty() && !params_ignored {
                notes.push(format!(
                    "{} ignored, but AEP replaces the params as a whole and never gives a secret back: the declared value is sent",
                    kept.iter()
                        .map(|n| format!("`{params}.{n}` is"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Some((resend, secrets_changed, notes, reason))
    }

    /// A managed resource that must be replaced: `forcing` says why (nothing: `--replace`).
    fn replacement(&mut self, address: &str, d: &Resource, r: &Record, base: Change, forcing: Vec<Field>) {
        if r.protect || d.lifecycle.protect {
            let why = if forcing.is_empty() {
                "`--replace` asks for it".to_owned()
            } else {
                format!(
                    "{} cannot change in place",
                    forcing
                        .iter()
                        .map(|f| format!("`{}`", f.path))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return self.error_with_help(
                format!(
                    "`{address}` ({}) must be replaced ({why}), but it is protected",
                    r.id
                ),
                "set `lifecycle: {protect: false}` and apply first",
            );
        }
        let requested = forcing.is_empty();
        let (fields, unchanged) = replacement_fields(self.desired, self.state, d, r, forcing);
        if self.name_is_taken(address, d) {
            return;
        }
        let mut change = Change {
            action: Action::Replace,
            reason: Some(if requested {
                Reason::ReplaceByRequest
            } else {
                Reason::ReplaceBecauseCannotUpdate
            }),
            fields,
            unchanged,
            resend_secrets: true,
            ..base
        };
        change.notes.push(format!(
            "the new {} is created first, then the old one deleted",
            d.kind.noun
        ));
        if r.protect != d.lifecycle.protect {
            change.notes.push(format!(
                "the new {} is recorded with `lifecycle.protect: {}`",
                d.kind.noun, d.lifecycle.protect
            ));
        }
        self.change(change);
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
