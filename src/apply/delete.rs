//! Deleting a resource, and the two halves of a replacement: the old record steps aside (as
//! `<address>#deposed`, so that a crash cannot lose it) before the new resource is created,
//! and the deposed one is deleted once the new one — and every dependent's new one — exists.

use std::time::Instant;

use super::progress::elapsed;
use super::{ApplyError, Ctx, Done, is_connection_id, now_ms};
use crate::kind::Kind;
use crate::plan::Change;
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Pending};

pub(super) async fn delete(
    ctx: &Ctx,
    address: &str,
    kind: &Kind,
    sandbox: &str,
    id: &str,
) -> Result<(), ApplyError> {
    if !is_connection_id(id) {
        return Err(ApplyError::BadId {
            id: id.to_owned(),
            verb: "delete",
        });
    }
    if !kind.collection.deletes() {
        // A replaced mapping set: AEP keeps the old one (no DELETE); its record goes.
        ctx.record(address, None)?;
        ctx.progress.line(format!(
            "{address}: forgotten ({id}: AEP has no DELETE for a {}, and keeps it)",
            kind.noun
        ));
        return Ok(());
    }
    let started = Instant::now();
    ctx.progress.line(format!("{address}: Destroying... [id={id}]"));
    let (name, scope) = ctx
        .store()
        .state()
        .resources
        .get(address)
        .map(|r| (r.name.clone(), r.scope()))
        .unwrap_or_default();
    let pending = Pending {
        address: address.to_owned(),
        action: Mutation::Delete,
        sandbox: sandbox.to_owned(),
        name,
        scope,
        started_at: now_ms(),
        fingerprint: String::new(),
    };
    let (seq, durable) = ctx.store().begin_deferred(pending)?;
    durable.wait_async().await?;
    match ctx.client.delete(kind.collection, sandbox, id).await {
        Ok(_) => {
            ctx.finish(seq, address, Outcome::Done { record: None })
                .await
                .map_err(|source| ApplyError::Unrecorded {
                    done: "deleted",
                    id: id.to_owned(),
                    key: address.to_owned(),
                    source: Box::new(source),
                })?;
            ctx.progress.line(format!(
                "{address}: Destruction complete after {}",
                elapsed(started.elapsed())
            ));
            Ok(())
        }
        Err(e) => {
            let _ = ctx.store().finish(seq, address, Outcome::Failed);
            Err(e.into())
        }
    }
}

/// A replacement's first half, before its create: the old record steps aside as
/// `<address>#deposed` (one atomic journal write each), so that the create records the new
/// one under the address and a crash loses neither.
pub(super) fn depose(ctx: &Ctx, change: &Change) -> Result<(), ApplyError> {
    let address = &change.address;
    let old = ctx.store().state().resources.get(address.as_str()).cloned();
    let Some(old) = old else {
        // Deposed already (a rerun after a crash between the two writes): nothing to move.
        if ctx
            .store()
            .state()
            .resources
            .contains_key(&format!("{address}#deposed"))
        {
            return Ok(());
        }
        return Err(ApplyError::NotInState {
            address: address.clone(),
        });
    };
    if change.id.as_deref().is_some_and(|id| id != old.id) {
        // The state holds another resource there now (a rerun found it created): leave it.
        return Ok(());
    }
    let deposed = format!("{address}#deposed");
    ctx.record(&deposed, Some(old))?;
    ctx.record(address, None)?;
    Ok(())
}

/// A replacement's second half: the deposed old resource is deleted.
pub(super) async fn delete_deposed(ctx: &Ctx, change: &Change) -> Result<Done, ApplyError> {
    let deposed = format!("{}#deposed", change.address);
    let old = ctx.store().state().resources.get(&deposed).cloned();
    let Some(old) = old else {
        return Err(ApplyError::NotInState { address: deposed });
    };
    match delete(ctx, &deposed, old.kind, &old.sandbox, &old.id).await {
        Ok(()) => Ok(Done {
            destroyed: 1,
            ..Done::default()
        }),
        Err(e) => Err(ApplyError::OldNotDeleted {
            old: old.id,
            deposed,
            source: Box::new(e),
        }),
    }
}
