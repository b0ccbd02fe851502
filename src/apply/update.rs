//! Updating a connection: a JSON Patch with `If-Match`; a 412 (changed meanwhile) is
//! re-read, re-planned, and applied again once if still needed.

use std::time::Instant;

use serde_json::Value;

use super::progress::elapsed;
use super::request::patch_ops;
use super::{ApplyError, Ctx, now_ms, required_id};
use crate::config::{Connection, Desired};
use crate::flow::model::{LiveConnection, PatchOp};
use crate::plan::{self, Action, Change, Live, Options};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Record, address};

/// Updates a connection with `If-Match`; a 412 is re-read, re-planned, and applied again
/// once if still needed.
pub(super) async fn update(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<(), ApplyError> {
    let started = Instant::now();
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Modifying... [id={id}]"));
    let live = ctx.read(&conn.sandbox, &id).await?;
    let recorded = ctx.store().state().connections.get(address.as_str()).cloned();
    let mut change = change.clone();
    let mut live = live;
    for round in 0..2 {
        let ops = patch_ops(&change, conn, &live, recorded.as_ref());
        if ops.is_empty() {
            break;
        }
        let etag = live.etag.clone().unwrap_or_default();
        let seq = ctx.begin(Mutation::Update, address, conn, now_ms()).await?;
        match ctx
            .client
            .update_connection(&conn.sandbox, &id, &etag, &ops)
            .await
        {
            Ok(updated) => {
                let record = {
                    // A PATCH changes no connection's state: it is what AEP showed just
                    // before. The new `updatedAt` is read back at the end of the apply.
                    let mut record = super::record::applied(
                        conn,
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
                    key: conn.key.clone(),
                    source: Box::new(source),
                })?;
                if updated.confirmed_by_reading {
                    ctx.note(format!(
                        "{address}: the update's answer was lost; a re-read shows it applied"
                    ));
                }
                ctx.progress.line(format!(
                    "{address}: Modifications complete after {} [id={id}]",
                    elapsed(started.elapsed())
                ));
                return Ok(());
            }
            Err(e) if e.is_precondition_failed() && round == 0 => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                // Someone changed it meanwhile: read it again and plan this one connection anew.
                live = match ctx.client.get_connection(&conn.sandbox, &id).await {
                    Ok(Some(l)) => l,
                    Ok(None) => {
                        return Err(ApplyError::Gone {
                            id,
                            when: "was deleted while flowform updated it",
                        });
                    }
                    Err(e) => return Err(e.into()),
                };
                let replanned = replan(ctx, conn, &live);
                match replanned {
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
    ctx.progress.line(format!("{address}: no change needed"));
    Ok(())
}

/// Plans one connection again, against a fresh read.
fn replan(ctx: &Ctx, conn: &Connection, live: &LiveConnection) -> Option<Change> {
    let store = ctx.store();
    let mut seen = Live {
        refreshed: true,
        ..Live::default()
    };
    seen.connections
        .insert(live.id.clone(), (conn.sandbox.clone(), live.clone()));
    seen.fetched.insert(live.id.clone());
    let desired = Desired {
        connections: [(conn.key.clone(), conn.clone())].into(),
        sandboxes: [conn.sandbox.clone()].into(),
        files: Vec::new(),
        ..Desired::default()
    };
    let options = Options {
        targets: [address(&conn.sandbox, &conn.key)].into(),
        ..Options::default()
    };
    plan::plan(&desired, store.state(), &seen, &options)
        .changes
        .into_iter()
        .next()
}

/// The state records what AEP has after a PATCH: what was sent, and for everything else (not
/// sent: unchanged or ignored) what AEP had.
fn record_what_was_sent(
    record: &mut Record,
    ops: &[PatchOp],
    live: &LiveConnection,
    recorded: Option<&Record>,
) {
    if !ops.iter().any(|o| o.path == "/name") {
        record.name = live.name.clone();
    }
    if !ops.iter().any(|o| o.path == "/description") {
        record.description = live.description.clone();
    }
    let sent = ops
        .iter()
        .find(|o| o.path == "/auth/params")
        .and_then(|o| o.value.as_ref())
        .and_then(Value::as_object);
    match sent {
        Some(sent) => {
            for (name, value) in record.params.iter_mut() {
                if let Some(v) = sent.get(name) {
                    *value = v.clone();
                }
            }
        }
        None => {
            if let Some(old) = recorded {
                record.params = old.params.clone();
                record.secret_params = old.secret_params.clone();
                record.secrets_digest = old.secrets_digest.clone();
            }
        }
    }
}
