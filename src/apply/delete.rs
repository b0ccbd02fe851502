//! Deleting a connection, and replacing one (create the new, then delete the old, which
//! stays in the state as `<address>#deposed` until it is gone).

use std::time::Instant;

use super::create::create;
use super::progress::elapsed;
use super::{ApplyError, Ctx, Done, is_connection_id, now_ms};
use crate::config::Connection;
use crate::plan::Change;
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Pending};

pub(super) async fn delete(ctx: &Ctx, address: &str, sandbox: &str, id: &str) -> Result<(), ApplyError> {
    if !is_connection_id(id) {
        return Err(ApplyError::BadId {
            id: id.to_owned(),
            verb: "delete",
        });
    }
    let started = Instant::now();
    ctx.progress.line(format!("{address}: Destroying... [id={id}]"));
    let (name, spec_id) = ctx
        .store()
        .state()
        .connections
        .get(address)
        .map(|r| (r.name.clone(), r.connection_spec.id.clone()))
        .unwrap_or_default();
    let pending = Pending {
        address: address.to_owned(),
        action: Mutation::Delete,
        sandbox: sandbox.to_owned(),
        name,
        spec_id,
        started_at: now_ms(),
        fingerprint: String::new(),
    };
    let (seq, durable) = ctx.store().begin_deferred(pending)?;
    durable.wait_async().await?;
    match ctx.client.delete_connection(sandbox, id).await {
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

/// Replace: the old record steps aside (deposed, so a crash cannot lose it), the new
/// connection is created, then the old one deleted.
pub(super) async fn replace(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<Done, ApplyError> {
    let address = &change.address;
    let old = ctx.store().state().connections.get(address.as_str()).cloned();
    let Some(old) = old else {
        return Err(ApplyError::NotInState {
            address: address.clone(),
        });
    };
    let deposed = format!("{address}#deposed");
    ctx.record(&deposed, Some(old.clone()))?;
    ctx.record(address, None)?;
    create(ctx, address, conn).await?;
    match delete(ctx, &deposed, &old.sandbox, &old.id).await {
        Ok(()) => Ok(Done {
            added: 1,
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
