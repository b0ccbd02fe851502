//! How each connection is planned: the cases of declared / recorded / live presence (the
//! field-by-field comparison is in `compare`, drift in `drift`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::compare::{compare, compare_recorded, ignored, opt_text, sensitive_field, text};
use super::{Action, Change, Field, Interrupted, Live, Origin, Plan, Presence, Problem, Reason, fingerprint};
use crate::config::{Connection, Param};
use crate::flow::model::{ConnectionState, LiveConnection};
use crate::state::{Pending, Record, State};

pub(super) struct Context<'a> {
    pub state: &'a State,
    pub live: &'a Live,
    pub plan: &'a mut Plan,
    /// `--replace` names this connection.
    pub replace: bool,
}

/// What changes in the state alone: the declared `lifecycle.protect` against the one the
/// state remembers (the state keeps it so that removing the block and the connection
/// together cannot bypass it). `ignoreChanges` is not kept in the state: it is read from the
/// configuration on every plan, so changing it changes only what the plan compares.
fn state_only_fields(d: &Connection, r: &Record) -> Vec<Field> {
    if r.protect == d.lifecycle.protect {
        return Vec::new();
    }
    vec![Field {
        path: "lifecycle.protect".into(),
        before: Some(Value::Bool(r.protect)),
        after: Some(Value::Bool(d.lifecycle.protect)),
        sensitive: false,
        origin: Some(Origin::Config),
        forces_replacement: false,
        removed: false,
    }]
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

    /// Every attribute of a connection about to be created.
    fn creation_fields(conn: &Connection) -> Vec<Field> {
        let mut fields = vec![Field {
            path: "name".into(),
            before: None,
            after: Some(text(&conn.name)),
            sensitive: false,
            origin: None,
            forces_replacement: false,
            removed: false,
        }];
        if let Some(d) = &conn.description {
            fields.push(Field {
                path: "description".into(),
                before: None,
                after: Some(text(d)),
                sensitive: false,
                origin: None,
                forces_replacement: false,
                removed: false,
            });
        }
        for (path, value) in [
            ("connectionSpec.id", &conn.connection_spec.id),
            ("connectionSpec.version", &conn.connection_spec.version),
            ("auth.specName", &conn.auth.spec_name),
        ] {
            fields.push(Field {
                path: path.into(),
                before: None,
                after: Some(text(value)),
                sensitive: false,
                origin: None,
                forces_replacement: false,
                removed: false,
            });
        }
        for (name, param) in &conn.auth.params {
            let (after, sensitive) = match param {
                Param::Plain(v) => (Some(v.clone()), false),
                Param::Secret { .. } => (None, true),
            };
            fields.push(Field {
                path: format!("auth.params.{name}"),
                before: None,
                after,
                sensitive,
                origin: None,
                forces_replacement: false,
                removed: false,
            });
        }
        fields
    }

    /// Delete (or forget) a managed connection: no longer declared, or being destroyed.
    pub fn destroy(&mut self, address: &str, r: &Record, declared: Option<&Connection>, reason: Reason) {
        let fields = vec![Field {
            path: "name".into(),
            before: Some(text(&r.name)),
            after: None,
            sensitive: false,
            origin: None,
            forces_replacement: false,
            removed: false,
        }];
        let base = Change {
            address: address.to_owned(),
            key: r.key.clone(),
            sandbox: r.sandbox.clone(),
            action: Action::Forget,
            reason: Some(Reason::ForgetBecauseDeletedOutside),
            id: Some(r.id.clone()),
            etag: r.etag.clone(),
            name: r.name.clone(),
            fields,
            unchanged: 0,
            resend_secrets: false,
            then_update: false,
            initializing: false,
            notes: Vec::new(),
        };
        let l = match self.live.presence(&r.sandbox, &r.connection_spec.id, &r.id) {
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
    pub fn declared_unmanaged(&mut self, address: &str, d: &Connection, pending: Option<&Pending>) {
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

    /// Whether creating `d` (or renaming a connection to its name) would make a second
    /// connection with its sandbox, spec and name — the three by which an interrupted create
    /// is found again, so they must name one connection. A taken name is an error (said
    /// here), never a warning: nothing bypasses it. Without a listing of the sandbox and spec
    /// (`--refresh=false`) nor a lookup of its name, the plan cannot know; the applier checks every name with AEP just
    /// before it creates or renames anyway.
    fn name_is_taken(&mut self, address: &str, d: &Connection) -> bool {
        if !self.live.name_seen(&d.sandbox, &d.connection_spec.id, &d.name) {
            return false;
        }
        let managed: BTreeSet<&str> = self.state.connections.values().map(|r| r.id.as_str()).collect();
        let twins: Vec<&LiveConnection> = self
            .live
            .in_sandbox(&d.sandbox, &d.connection_spec.id)
            .filter(|l| l.name == d.name && !managed.contains(l.id.as_str()))
            .collect();
        let key = &d.key;
        match twins.as_slice() {
            [] => false,
            [twin] => {
                self.error_with_help(
                    format!(
                        "`{address}`: AEP already has a connection named `{}` of this spec in sandbox `{}` (id {}) that this state does not manage; creating another would make a duplicate",
                        d.name, d.sandbox, twin.id
                    ),
                    format!(
                        "to manage that one, run `flowform import {key} {}`, or add `import: {{id: {}}}` to `{key}`; if it is another connection, give `{key}` another name",
                        twin.id, twin.id
                    ),
                );
                true
            }
            several => {
                let ids: Vec<&str> = several.iter().map(|l| l.id.as_str()).collect();
                self.error_with_help(
                    format!(
                        "`{address}`: AEP already has {} connections named `{}` of this spec in sandbox `{}` ({}) that this state does not manage; creating another would make one more",
                        several.len(),
                        d.name,
                        d.sandbox,
                        ids.join(", ")
                    ),
                    format!(
                        "keep one: `flowform import {key} ID` (or `import: {{id: ID}}` on `{key}`), and delete or rename the others in AEP"
                    ),
                );
                true
            }
        }
    }

    fn creation(&self, address: &str, d: &Connection) -> Change {
        Change {
            address: address.to_owned(),
            key: d.key.clone(),
            sandbox: d.sandbox.clone(),
            action: Action::Create,
            reason: None,
            id: None,
            etag: None,
            name: d.name.clone(),
            fields: Self::creation_fields(d),
            unchanged: 0,
            resend_secrets: true,
            then_update: false,
            initializing: false,
            notes: Vec::new(),
        }
    }

    /// Adopts connection `id` for `d`, then updates what differs.
    fn adopt(&mut self, address: &str, d: &Connection, id: &str, reason: Reason) {
        if let Some((other, _)) = self
            .state
            .connections
            .iter()
            .find(|(a, r)| r.id == id && a.as_str() != address)
        {
            return self.error(format!(
                "`{address}` imports connection {id}, which the state already manages as `{other}`"
            ));
        }
        let l = match self.live.presence(&d.sandbox, &d.connection_spec.id, id) {
            Presence::Found(l) => l,
            Presence::Absent => {
                return self.error(format!(
                    "`{address}` imports connection {id}, but AEP has no such connection in sandbox `{}`",
                    d.sandbox
                ));
            }
            Presence::Unknown => {
                return self.error(format!(
                    "`{address}` imports connection {id}: importing needs a refresh (drop `--refresh=false`)"
                ));
            }
        };
        if l.spec_id()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&d.connection_spec.id))
        {
            return self.error(format!(
                "`{address}` imports connection {id}, whose connection spec is {}, not the declared {}",
                l.spec_id().unwrap_or_default(),
                d.connection_spec.id
            ));
        }
        let (mut fields, unchanged) = compare(d, None, l);
        // AEP never returns a secret, so what the connection has cannot be compared. An import
        // takes the connection as it is: the declared secrets are not sent (a wrong one would
        // break a working connection); the state records their digests, and a change to them
        // is sent from then on. Only when a plain param differs do they go, with it: AEP
        // replaces the auth params whole.
        let secret_names = d.split_params().secret_names;
        let params_differ = fields.iter().any(|f| f.path.starts_with("auth.params."));
        let resend = params_differ && !secret_names.is_empty() && !ignored(d, "auth.params");
        let recovered = reason == Reason::ImportBecauseRecoveredFromInterruptedApply;
        let mut notes = Vec::new();
        if recovered {
            notes.push("adopted: recovered from an interrupted apply (the create reached AEP; its answer did not reach flowform)".to_owned());
        } else if resend {
            notes.push(
                "secrets: sent, with the param that differs (AEP replaces the auth params whole)".to_owned(),
            );
        } else if !secret_names.is_empty() {
            notes.push("secrets: not sent (AEP keeps its values; flowform records the digests of the declared ones, and sends them when they change)".to_owned());
        }
        if resend {
            for name in &secret_names {
                fields.push(sensitive_field(name, None));
            }
        }
        let then_update = !fields.is_empty();
        self.change(Change {
            address: address.to_owned(),
            key: d.key.clone(),
            sandbox: d.sandbox.clone(),
            action: Action::Adopt,
            reason: Some(reason),
            id: Some(id.to_owned()),
            etag: l.etag.clone(),
            name: d.name.clone(),
            fields,
            unchanged,
            resend_secrets: resend,
            then_update,
            initializing: l.is_initializing(),
            notes,
        });
    }

    /// An interrupted create: find what it made by listing, never by creating blindly.
    fn recover(&mut self, address: &str, d: &Connection, p: &Pending) {
        if !self.live.name_seen(&p.sandbox, &p.spec_id, &p.name) {
            return self.error(format!(
                "`{address}`: an interrupted apply may have created it; resolving that needs a refresh (drop `--refresh=false`)"
            ));
        }
        let managed: BTreeSet<&str> = self.state.connections.values().map(|r| r.id.as_str()).collect();
        let found = super::interrupted_create(
            self.live.in_sandbox(&p.sandbox, &p.spec_id),
            &p.name,
            |id| managed.contains(id),
            p.started_at,
        );
        match found {
            Interrupted::Nothing => {
                if self.name_is_taken(address, d) {
                    return;
                }
                let mut change = self.creation(address, d);
                change.notes.push("an interrupted apply began creating it, and AEP has no such connection: it is created now".into());
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
                        "`{address}`: an interrupted apply began creating it, and AEP now has {} connections named `{}` in sandbox `{}` created since: {}. flowform will not guess which is its own",
                        several.len(),
                        p.name,
                        p.sandbox,
                        ids.join(", ")
                    ),
                    "delete the extra ones in AEP, or `import` the right one",
                );
            }
        }
    }

    /// A pending create for a connection no longer declared.
    pub fn orphaned_pending(&mut self, address: &str) {
        let Some(p) = self.state.pending.iter().find(|p| p.address == address) else {
            return;
        };
        let verb = p.action.verb();
        self.plan.warnings.push(format!(
            "`{address}`: an interrupted apply began to {verb} it, and it is no longer declared; if AEP has a connection named `{}` in sandbox `{}` that nobody wants, delete it there",
            p.name, p.sandbox
        ));
    }

    /// Declared and recorded.
    pub fn managed(&mut self, address: &str, d: &Connection, r: &Record) {
        let l = match self.live.presence(&r.sandbox, &r.connection_spec.id, &r.id) {
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
        let mut base = Change {
            address: address.to_owned(),
            key: d.key.clone(),
            sandbox: d.sandbox.clone(),
            action: Action::NoOp,
            reason: None,
            id: Some(r.id.clone()),
            etag: l.map_or(r.etag.clone(), |l| l.etag.clone()),
            name: d.name.clone(),
            fields: Vec::new(),
            unchanged: 0,
            resend_secrets: false,
            then_update: false,
            initializing: l.map_or(
                r.state == Some(ConnectionState::Initializing),
                LiveConnection::is_initializing,
            ),
            notes: Vec::new(),
        };
        // What cannot change in place.
        let mut forcing = Vec::new();
        for (path, before, after) in [
            ("connectionSpec.id", &r.connection_spec.id, &d.connection_spec.id),
            (
                "connectionSpec.version",
                &r.connection_spec.version,
                &d.connection_spec.version,
            ),
            ("auth.specName", &r.auth_spec_name, &d.auth.spec_name),
        ] {
            if !before.eq_ignore_ascii_case(after) {
                forcing.push(Field {
                    path: path.into(),
                    before: Some(text(before)),
                    after: Some(text(after)),
                    sensitive: false,
                    origin: Some(Origin::Config),
                    forces_replacement: true,
                    removed: false,
                });
            }
        }
        if !forcing.is_empty() || self.replace {
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
                        r.id,
                    ),
                    "set `lifecycle: {protect: false}` and apply first",
                );
            }
            let requested = forcing.is_empty();
            let mut fields = forcing;
            // The new connection's attributes against the old one's: what stays is hidden.
            let mut unchanged = 0;
            for mut f in Self::creation_fields(d) {
                if f.path.starts_with("connectionSpec") || f.path == "auth.specName" {
                    continue;
                }
                if !f.sensitive {
                    f.before = match f.path.as_str() {
                        "name" => Some(text(&r.name)),
                        "description" => opt_text(r.description.as_deref()),
                        path => path
                            .strip_prefix("auth.params.")
                            .and_then(|p| r.params.get(p).cloned()),
                    };
                    if f.before == f.after {
                        unchanged += 1;
                        continue;
                    }
                }
                fields.push(f);
            }
            // What the old connection has and the new one will not.
            for (name, value) in &r.params {
                if !d.auth.params.contains_key(name) {
                    fields.push(Field {
                        path: format!("auth.params.{name}"),
                        before: Some(value.clone()),
                        after: None,
                        sensitive: false,
                        origin: Some(Origin::Config),
                        forces_replacement: false,
                        removed: true,
                    });
                }
            }
            for name in &r.secret_params {
                if !d.auth.params.contains_key(name) {
                    fields.push(Field {
                        removed: true,
                        ..sensitive_field(name, Some(Origin::Config))
                    });
                }
            }
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
            change
                .notes
                .push("the new connection is created first, then the old one deleted".into());
            if r.protect != d.lifecycle.protect {
                change.notes.push(format!(
                    "the new connection is recorded with `lifecycle.protect: {}`",
                    d.lifecycle.protect
                ));
            }
            return self.change(change);
        }
        if let Some(l) = l
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
            Some(l) => compare(d, Some(r), l),
            None => compare_recorded(d, r),
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
        // A rename to a name AEP gives to a connection this state does not manage would make
        // two of a name, as a create would (the refresh lists the sandbox and spec of every
        // rename the configuration asks for).
        let renamed = fields.iter().any(|f| f.path == "name");
        if renamed && self.name_is_taken(address, d) {
            return;
        }
        // Secrets: the declared ones, by digest, against what flowform last sent.
        let split = d.split_params();
        let secret_names = &split.secret_names;
        let params_ignored = ignored(d, "auth.params");
        let considered = !secret_names.is_empty()
            && !secret_names
                .iter()
                .all(|n| ignored(d, &format!("auth.params.{n}")));
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
                    return;
                }
            },
            _ => false,
        };
        let secrets_changed = considered && (!same || *secret_names != r.secret_params);
        let mut notes = Vec::new();
        if secrets_changed && !params_ignored {
            for name in secret_names {
                fields.push(sensitive_field(name, Some(Origin::Config)));
            }
            // One fingerprint covers a connection's secrets together (one per secret would let
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
        let mut resend = !fields.is_empty()
            && !params_ignored
            && fields.iter().any(|f| f.path.starts_with("auth.params."));
        if etag_moved && !params_ignored && !secret_names.is_empty() {
            resend = true;
            if fields.is_empty() {
                reason = Some(Reason::UpdateBecauseChangedOutside);
            }
            notes.push("changed outside flowform since the last apply (its etag moved), and its secrets may have changed too: the auth params are sent again".to_owned());
            if !fields.iter().any(|f| f.sensitive) {
                for name in secret_names {
                    fields.push(sensitive_field(name, Some(Origin::Outside)));
                }
            }
        }
        if resend || secrets_changed {
            let kept: Vec<String> = secret_names
                .iter()
                .filter(|n| ignored(d, &format!("auth.params.{n}")))
                .cloned()
                .collect();
            if !kept.is_empty() && !params_ignored {
                notes.push(format!(
                    "{} ignored, but AEP replaces the params as a whole and never gives a secret back: the declared value is sent",
                    kept.iter().map(|n| format!("`auth.params.{n}` is")).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let action = match (fields.is_empty(), state_only.is_empty()) {
            (true, true) => Action::NoOp,
            (true, false) => Action::StateOnly,
            (false, _) => Action::Update,
        };
        if action == Action::StateOnly {
            notes.push("changes the state only: nothing is sent to AEP".to_owned());
        }
        fields.extend(state_only);
        self.change(Change {
            action,
            reason,
            fields,
            unchanged,
            resend_secrets: resend || secrets_changed,
            notes,
            ..base
        });
    }
}
