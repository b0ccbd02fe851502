//! Adopting a resource AEP already has (`import: {id}`, `flowform import`, or one an
//! interrupted create made): record what AEP has, then update it if the plan says so.

use super::update::update;
use super::{ApplyError, Ctx, Done, lock, now_ms, required_id};
use crate::config::Resource;
use crate::plan::Change;

/// Adopt: record what AEP has, then update it if the plan says so.
pub(super) async fn adopt(ctx: &Ctx, change: &Change, d: &Resource) -> Result<Done, ApplyError> {
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Importing... [id={id}]"));
    let live = ctx.read(d.kind, &d.sandbox, &id).await?;
    // Secrets not sent are taken as AEP's (an import takes the resource as it is; an
    // interrupted create that carried exactly this configuration sent these very ones): the
    // state records the declared ones' digest, so that a change to them is sent from now on.
    // Sent ones are recorded by the update.
    let digest = (!change.resend_secrets)
        .then(|| super::record::declared_secrets_digest(d, &ctx.fingerprints))
        .flatten();
    lock(&ctx.claimed).insert(id.clone());
    ctx.store()
        .record(address, Some(super::record::adopted(d, &live, digest, now_ms())))
        .map_err(|source| {
            if source.is_owned_elsewhere() {
                // Another state manages it: refused, naming that state.
                ApplyError::State(source)
            } else {
                ApplyError::Unrecorded {
                    done: "adopted",
                    id: id.clone(),
                    key: d.key.clone(),
                    source: Box::new(source),
                }
            }
        })?;
    ctx.progress.line(format!("{address}: Import complete [id={id}]"));
    if change.then_update {
        update(ctx, change, d).await?;
        return Ok(Done {
            imported: 1,
            changed: 1,
            ..Done::default()
        });
    }
    Ok(Done {
        imported: 1,
        ..Done::default()
    })
}
