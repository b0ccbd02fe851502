//! A resource both declared and recorded: left as it is, updated in place (its secrets
//! compared by fingerprint), changed in the state alone, or replaced when what differs
//! cannot change in place.

use serde_json::Value;

use super::compare::{Want, compare, compare_recorded, ignored, recorded_value, sensitive_field, want};
use super::diff::{Context, record_scope, replacement_fields};
use super::{Action, Change, Field, Origin, Presence, Problem, Reason, fingerprint};
use crate::config::Resource;
use crate::flow::model::{ConnectionState, LiveObject};
use crate::kind::{Type, Update};
use crate::state::Record;

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

impl Context<'_> {
    /// The id of the resource `d`'s reference `f` names by key, when this plan imports it
    /// (its `import:` block, or an import's chain): known before applying.
    fn imported(&self, d: &Resource, f: &crate::kind::Field) -> Option<String> {
        let address = super::compare::target_address(d, f)?;
        if self.state.resources.contains_key(&address) {
            return None;
        }
        self.desired
            .resources
            .get(&address)
            .and_then(|t| t.import.clone())
            .or_else(|| self.chained.get(&address).map(|l| l.id.clone()))
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
                // A reference to a resource this plan imports: AEP's id, known now. Still the
                // one recorded, nothing changes.
                Want::Unknown if let Some(id) = self.imported(d, f) => {
                    let same = before
                        .as_ref()
                        .and_then(Value::as_str)
                        .is_none_or(|b| b.eq_ignore_ascii_case(&id));
                    if !same {
                        forcing.push(Field {
                            origin: Some(Origin::Config),
                            forces_replacement: true,
                            ..Field::new(f.path, before, Some(Value::String(id)))
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
        let etag_moved = l.is_some_and(|l| {
            r.etag.is_some()
                && l.etag.is_some()
                && r.etag != l.etag
                && !super::compare::ignored_change_outside(d, r, l)
        });
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
