//! Adopting a connection AEP already has (`import: {id}`, `flowform import`, or one an
//! interrupted create made): record what AEP has, then update it if the plan says so.

use serde_json::Map;

use super::update::update;
use super::{ApplyError, Ctx, Done, lock, now_ms, required_id};
use crate::config::{Connection, Param};
use crate::flow::model::LiveConnection;
use crate::plan::Change;
use crate::state::Record;

/// Adopt: record what AEP has, then update it if the plan says so.
pub(super) async fn adopt(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<Done, ApplyError> {
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Importing... [id={id}]"));
    let live = ctx.read(&conn.sandbox, &id).await?;
    // Secrets not sent are taken as AEP's (an import takes the connection as it is; an
    // interrupted create that carried exactly this configuration sent these very ones): the
    // state records the declared ones' digest, so that a change to them is sent from now on.
    // Sent ones are recorded by the update.
    let digest = (!change.resend_secrets)
        .then(|| super::record::declared_secrets_digest(conn, &ctx.fingerprints))
        .flatten();
    lock(&ctx.claimed).insert(id.clone());
    ctx.store()
        .record(address, Some(adopted_record(conn, &live, digest)))
        .map_err(|source| {
            if source.is_owned_elsewhere() {
                // Another state manages it: refused, naming that state.
                ApplyError::State(source)
            } else {
                ApplyError::Unrecorded {
                    done: "adopted",
                    id: id.clone(),
                    key: conn.key.clone(),
                    source: Box::new(source),
                }
            }
        })?;
    ctx.progress.line(format!("{address}: Import complete [id={id}]"));
    if change.then_update {
        update(ctx, change, conn).await?;
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

/// The record of an adopted connection: what AEP has, and the declared secrets' names.
pub fn adopted_record(conn: &Connection, live: &LiveConnection, digest: Option<String>) -> Record {
    let mut params = Map::new();
    let live_params = live.auth.as_ref().map(|a| &a.params);
    for (name, param) in &conn.auth.params {
        if let (Param::Plain(_), Some(value)) = (param, live_params.and_then(|p| p.get(name))) {
            params.insert(name.clone(), value.clone());
        }
    }
    Record {
        key: conn.key.clone(),
        sandbox: conn.sandbox.clone(),
        id: live.id.clone(),
        etag: live.etag.clone(),
        name: live.name.clone(),
        description: live.description.clone(),
        connection_spec: conn.connection_spec.clone(),
        auth_spec_name: live
            .auth
            .as_ref()
            .map_or_else(|| conn.auth.spec_name.clone(), |a| a.spec_name.clone()),
        params,
        secret_params: conn
            .auth
            .params
            .iter()
            .filter(|(_, p)| p.is_secret())
            .map(|(n, _)| n.clone())
            .collect(),
        secrets_digest: digest,
        state: live.state.clone(),
        created_at: live.created_at,
        updated_at: live.updated_at,
        protect: conn.lifecycle.protect,
        applied_at: Some(now_ms()),
    }
}
