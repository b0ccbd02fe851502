//! Drift: what AEP shows differently from what the state recorded, made outside flowform
//! (as Terraform's "Objects have changed outside of Terraform").

use serde_json::Value;

use super::compare::{ignored, opt_text, text};
use super::diff::Context;
use super::{Action, Change, Drift, DriftKind, Field, Origin, Plan, Presence, Reason};
use crate::config::Connection;
use crate::flow::model::{ConnectionState, is_masked};
use crate::state::Record;

impl Context<'_> {
    /// Drift: AEP differs from what the state recorded.
    /// `declared`: the connection's configuration, whose `ignoreChanges` fields are not
    /// drift (the user said they do not matter; a scheduled check must not keep flagging them).
    pub fn drift(&mut self, address: &str, r: &Record, declared: Option<&Connection>) {
        let interrupted = |action: crate::state::Action| {
            self.state
                .pending
                .iter()
                .find(|p| p.address == address && p.action == action)
        };
        let l = match self.live.presence(&r.sandbox, &r.connection_spec.id, &r.id) {
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
                    path,
                    before,
                    after,
                    sensitive: false,
                    origin: Some(Origin::Outside),
                    forces_replacement: false,
                    removed: false,
                });
            }
        };
        push("name".into(), Some(text(&r.name)), Some(text(&l.name)));
        push(
            "description".into(),
            opt_text(r.description.as_deref()),
            opt_text(l.description.as_deref()),
        );
        let live_params = l.auth.as_ref().map(|a| &a.params);
        for (name, recorded) in &r.params {
            let now = live_params
                .and_then(|p| p.get(name))
                .filter(|v| !is_masked(v))
                .cloned();
            push(format!("auth.params.{name}"), Some(recorded.clone()), now);
        }
        // A state AEP moved on its own (initializing → enabled) is no drift; any other is.
        // A disabled connection stays drift for as long as it is disabled, even once the
        // state records it: flowform declares connections to be used, and cannot enable one
        // (unless `ignoreChanges: [state]` says it is disabled on purpose).
        match (&r.state, &l.state) {
            (_, Some(now @ ConnectionState::Disabled)) => {
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
        if let Some(live_spec) = l.auth.as_ref().map(|a| a.spec_name.as_str())
            && live_spec != r.auth_spec_name
        {
            push(
                "auth.specName".into(),
                Some(text(&r.auth_spec_name)),
                Some(text(live_spec)),
            );
        }
        // An initializing connection has no etag yet; the first one it gets is no drift.
        let etag_changed = r.etag.is_some() && l.etag.is_some() && r.etag != l.etag;
        if !fields.is_empty() || etag_changed {
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
            });
        }
    }
}

/// What of a plan the configuration asks for and the state does not have yet — the
/// configuration not yet applied, compared with the state (secrets by fingerprint) — apart
/// from what AEP changed outside flowform (the plan's drift, and the updates, recreates and
/// forgets that only answer it). An update keeps only the fields the configuration changed.
pub fn unapplied(plan: &Plan) -> Vec<Change> {
    plan.actions()
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
