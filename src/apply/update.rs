//! Updating a resource: a JSON Patch with `If-Match`; a 412 (changed meanwhile) is re-read,
//! re-planned, and applied again once if still needed.

use std::time::Instant;

use serde_json::Value;

use super::progress::elapsed;
use super::request::{patch_ops, resolve};
use super::{ApplyError, Ctx, now_ms, required_id};
use crate::config::Resource;
use crate::flow::model::{LiveObject, PatchOp};
use crate::kind::Type;
use crate::plan::{self, Action, Change, Live, Options};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Record};

/// Updates a resource with `If-Match`; a 412 is re-read, re-planned, and applied again once
/// if still needed.
pub(super) async fn update(ctx: &Ctx, change: &Change, d: &Resource) -> Result<(), ApplyError> {
    let started = Instant::now();
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Modifying... [id={id}]"));
    let live = ctx.read(d.kind, &d.sandbox, &id).await?;
    let (recorded, resolved) = {
        let store = ctx.store();
        let recorded = store.state().resources.get(address.as_str()).cloned();
        (recorded, resolve(&ctx.desired, store.state(), d)?)
    };
    let mut change = change.clone();
    let mut live = live;
    for round in 0..2 {
        let ops = patch_ops(&change, d, &resolved, &live, recorded.as_ref());
        if ops.is_empty() {
            break;
        }
        let shown = live.clone();
        let etag = live.etag.clone().unwrap_or_default();
        let scope = recorded.as_ref().map(Record::scope).unwrap_or_default();
        let seq = ctx.begin(Mutation::Update, address, d, scope, now_ms()).await?;
        if d.kind.collection.replaced_whole() {
            return put(ctx, seq, d, &resolved, &id, started).await;
        }
        match ctx
            .client
            .update(d.kind.collection, &d.sandbox, &id, &etag, &ops)
            .await
        {
            Ok(updated) => {
                let record = {
                    // A PATCH changes no resource's state: it is what AEP showed just before.
                    // The new `updatedAt` is read back at the end of the apply.
                    let mut record = super::record::applied(
                        d,
                        &resolved,
                        &id,
                        updated.etag.as_deref(),
                        live.state.clone(),
                        &ctx.fingerprints,
                        now_ms(),
                    );
                    record.created_at = live.created_at;
                    record_what_was_sent(&mut record, &ops, &live, recorded.as_ref());
                    record
                };
                ctx.finish(
                    seq,
                    address,
                    Outcome::Done {
                        record: Some(Box::new(record)),
                    },
                )
                .await
                .map_err(|source| ApplyError::Unrecorded {
                    done: "updated",
                    id: id.clone(),
                    key: d.key.clone(),
                    source: Box::new(source),
                })?;
                if updated.confirmed_by_reading {
                    ctx.note(format!(
                        "{address}: the update's answer was lost; a re-read shows it applied"
                    ));
                }
                super::action::settle(ctx, address, d, &id, |f| shown_switch(&shown, f)).await?;
                ctx.progress.line(format!(
                    "{address}: Modifications complete after {} [id={id}]",
                    elapsed(started.elapsed())
                ));
                return Ok(());
            }
            Err(e) if e.is_precondition_failed() && round == 0 => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                // Someone changed it meanwhile: read it again and plan this one resource anew.
                live = match ctx.client.get(d.kind.collection, &d.sandbox, &id).await {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        return Err(ApplyError::Gone {
                            id,
                            when: "was deleted while flowform updated it",
                        });
                    }
                    Err(e) => return Err(e.into()),
                };
                match replan(ctx, d, &live) {
                    Some(again) if again.action == Action::Update => {
                        ctx.note(format!(
                            "{address}: AEP answered 412 (changed by someone else meanwhile); re-read it and applied the update again"
                        ));
                        change = again;
                    }
                    _ => {
                        ctx.note(format!(
                            "{address}: AEP answered 412; re-read, it already matches the configuration"
                        ));
                        return Ok(());
                    }
                }
            }
            Err(e) => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                return Err(e.into());
            }
        }
    }
    let before = ctx
        .store()
        .state()
        .resources
        .get(address.as_str())
        .map(|r| r.etag.clone());
    super::action::settle(ctx, address, d, &id, |f| shown_switch(&live, f)).await?;
    let after = ctx
        .store()
        .state()
        .resources
        .get(address.as_str())
        .map(|r| r.etag.clone());
    if before == after {
        ctx.progress.line(format!("{address}: no change needed"));
    } else {
        ctx.progress.line(format!(
            "{address}: Modifications complete after {} [id={id}]",
            elapsed(started.elapsed())
        ));
    }
    Ok(())
}

/// A change to a resource AEP replaces whole (a Data Prep mapping set): a PUT of the whole
/// body as declared, which moves its version on (recorded as its etag, which a dataflow
/// pinning it then follows). Data Prep documents no `If-Match`: what the plan compared is
/// what is replaced.
async fn put(
    ctx: &Ctx,
    seq: u64,
    d: &Resource,
    resolved: &super::request::Resolved,
    id: &str,
    started: Instant,
) -> Result<(), ApplyError> {
    let address = d.address();
    let body = super::request::create_body(d, resolved);
    match ctx.client.replace(d.kind.collection, &d.sandbox, id, &body).await {
        Ok(updated) => {
            let record = super::record::applied(
                d,
                resolved,
                id,
                updated.etag.as_deref(),
                None,
                &ctx.fingerprints,
                now_ms(),
            );
            ctx.finish(
                seq,
                &address,
                Outcome::Done {
                    record: Some(Box::new(record)),
                },
            )
            .await
            .map_err(|source| ApplyError::Unrecorded {
                done: "updated",
                id: id.to_owned(),
                key: d.key.clone(),
                source: Box::new(source),
            })?;
            ctx.progress.line(format!(
                "{address}: Modifications complete after {} [id={id}, version {}]",
                elapsed(started.elapsed()),
                updated.etag.as_deref().unwrap_or("?")
            ));
            Ok(())
        }
        Err(e) => {
            let _ = ctx.store().finish(seq, &address, Outcome::Failed);
            Err(e.into())
        }
    }
}

/// What AEP shows of a switch (`enabled` is the state `enabled`).
fn shown_switch(live: &LiveObject, f: &crate::kind::Field) -> Option<bool> {
    match (&f.ty, live.text_at(f.api)) {
        (Type::Switch { on, .. }, Some(s)) if s == *on => Some(true),
        (Type::Switch { off, .. }, Some(s)) if s == *off => Some(false),
        _ => None,
    }
}

/// Plans one resource again, against a fresh read.
fn replan(ctx: &Ctx, d: &Resource, live: &LiveObject) -> Option<Change> {
    let store = ctx.store();
    let mut seen = Live {
        refreshed: true,
        ..Live::default()
    };
    seen.see(d.kind, &d.sandbox, live.clone());
    seen.fetched.insert(live.id.clone());
    let address = d.address();
    let options = Options {
        targets: [address.clone()].into(),
        ..Options::default()
    };
    plan::plan(&ctx.desired, store.state(), &seen, &options)
        .changes
        .into_iter()
        .find(|c| c.address == address)
}

/// The state records what AEP has after a PATCH: what was sent, and for everything else (not
/// sent: unchanged or ignored) what AEP had.
fn record_what_was_sent(record: &mut Record, ops: &[PatchOp], live: &LiveObject, recorded: Option<&Record>) {
    // What a kind's hand-over recorded beside the fields (a flow's predecessor) stays.
    if let Some(old) = recorded {
        for (k, v) in &old.attrs {
            if record.kind.field(k).is_none() {
                record.attrs.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let sent = |api: &str| {
        ops.iter().find(|o| {
            o.path == api
                // An op on what holds it (a list sent whole).
                || (api.starts_with(&o.path) && api[o.path.len()..].starts_with('/'))
                || crate::flow::pointer::element(api).is_some_and(|(element, _)| {
                    // A field inside a list's element: sent with its element whole.
                    crate::flow::pointer::concrete(&live.body, element).as_deref() == Some(o.path.as_str())
                        || element
                            .rfind('/')
                            .is_some_and(|at| o.path == format!("{}/-", &element[..at]))
                })
        })
    };
    if sent("/name").is_none() {
        record.name = live.name.clone();
    }
    for f in record.kind.fields {
        if f.path == "name" || !f.update.in_place() {
            continue;
        }
        if let Type::Params = f.ty {
            match sent(f.api)
                .and_then(|o| o.value.as_ref())
                .and_then(Value::as_object)
            {
                Some(sent) => {
                    if let Some(params) = record.params_mut() {
                        for (name, value) in params.iter_mut() {
                            if let Some(v) = sent.get(name) {
                                *value = v.clone();
                            }
                        }
                    }
                }
                None => {
                    if let Some(old) = recorded {
                        if let Some(p) = old.attrs.get(f.path) {
                            record.attrs.insert(f.path.to_owned(), p.clone());
                        }
                        record.secret_params = old.secret_params.clone();
                        record.secrets_digest = old.secrets_digest.clone();
                    }
                }
            }
            continue;
        }
        if sent(f.api).is_none() {
            match live.at(f.api).filter(|v| !v.is_null()) {
                Some(v) => {
                    record.attrs.insert(f.path.to_owned(), v);
                }
                None => {
                    record.attrs.remove(f.path);
                }
            }
        }
    }
}
