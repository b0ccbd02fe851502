//! Writing a state: a journal entry in a transaction of its own, and the commit-like writes
//! that fold everything in (records, pending, org, claims) in one transaction, each fenced
//! by the lock's token.

use std::sync::Arc;

use serde_json::Value;

use super::PgStore;
use super::advisory::fenced;
use super::db::{Sessions, query_error};
use super::error::PgError;
use super::format_version;
use super::owners::{Owned, claim, release};
use super::schema::quoted;
use crate::state::file::StateError;
use crate::state::journal::Entry;
use crate::state::{AppliedPlan, Record};

/// A whole-state write's parts.
pub(super) struct Write {
    pub(super) upserts: Vec<(String, Record)>,
    pub(super) deletes: Vec<String>,
    pub(super) claims: Vec<Owned>,
    pub(super) releases: Vec<Owned>,
    pub(super) pending: Value,
    pub(super) org: Option<String>,
    /// The saved plans applied lately, when they changed (those of serial 0 are stamped
    /// with the serial the write leaves).
    pub(super) applied_plans: Option<Vec<AppliedPlan>>,
    /// Whether the serial moves on.
    pub(super) bump: bool,
    /// Everything replaced: the records and claims go first, and the row takes these.
    pub(super) replace: Option<Replaced>,
}

pub(super) struct Replaced {
    pub(super) lineage: String,
    pub(super) salt: String,
    pub(super) format: i32,
    pub(super) serial: i64,
    pub(super) moved_to: Option<String>,
}

impl PgStore {
    /// Writes one journal entry in a transaction of its own, with the connections it claims
    /// and lets go; returns the new serial.
    pub(super) fn write_entry(
        &self,
        seq: u64,
        entry: &Entry,
        claims: Vec<Owned>,
        releases: Vec<Owned>,
    ) -> Result<u64, StateError> {
        let token = self.require_lock()?;
        let value = serde_json::to_value(entry).map_err(|e| StateError::Io {
            context: "cannot write a journal entry".to_owned(),
            source: std::io::Error::other(e),
        })?;
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        let org = self.state.org.clone().unwrap_or_default();
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let context = match entry {
            Entry::Intent { .. } => "journalling an intent",
            _ => "journalling an outcome",
        };
        let serial = self.db.call(context, move |sessions: Arc<Sessions>| async move {
            fenced(&sessions, &shown)?;
            let err = |e: tokio_postgres::Error| query_error(&shown, context, &e);
            let mut client = sessions.data.lock().await;
            let insert = format!(
                "WITH fence AS (SELECT 1 FROM {s}.locks WHERE state = $1 AND token = $2 FOR SHARE), \
                 bump AS (UPDATE {s}.states SET serial = serial + 1, org = COALESCE(org, NULLIF($5, '')), updated_at = now() WHERE name = $1 AND EXISTS (SELECT 1 FROM fence) RETURNING serial) \
                 INSERT INTO {s}.journal (state, seq, entry) SELECT $1, $3, $4 FROM bump RETURNING (SELECT serial FROM bump)"
            );
            let serial: Option<i64> = if claims.is_empty() && releases.is_empty() {
                // One statement, one round trip, one transaction.
                client
                    .query_opt(&insert, &[&name, &token, &seq, &value, &org])
                    .await
                    .map_err(err)?
                    .map(|r| r.get(0))
            } else {
                let tx = client.transaction().await.map_err(err)?;
                let serial = tx
                    .query_opt(&insert, &[&name, &token, &seq, &value, &org])
                    .await
                    .map_err(err)?
                    .map(|r| r.get(0));
                if serial.is_some() {
                    release(&tx, &s, &name, &org, &releases).await.map_err(err)?;
                    claim(&tx, &s, &name, &org, &claims, &shown).await?;
                    tx.commit().await.map_err(err)?;
                }
                serial
            };
            serial.ok_or(PgError::LockLost { url: shown.clone() })
        })?;
        Ok(u64::try_from(serial).unwrap_or(0))
    }

    /// Runs one commit-like write; returns the new serial.
    pub(super) fn write(
        &self,
        token: String,
        write: Write,
        context: &'static str,
    ) -> Result<u64, StateError> {
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        let org = self.state.org.clone().unwrap_or_default();
        let serial = self.db.call(context, move |sessions: Arc<Sessions>| async move {
            fenced(&sessions, &shown)?;
            let err = |e: tokio_postgres::Error| query_error(&shown, context, &e);
            let mut client = sessions.data.lock().await;
            let tx = client.transaction().await.map_err(err)?;
            let fence = tx
                .query_opt(
                    &format!("SELECT 1 FROM {s}.locks WHERE state = $1 AND token = $2 FOR SHARE"),
                    &[&name, &token],
                )
                .await
                .map_err(err)?;
            if fence.is_none() {
                return Err(PgError::LockLost { url: shown.clone() });
            }
            if let Some(replaced) = &write.replace {
                tx.execute(&format!("DELETE FROM {s}.records WHERE state = $1"), &[&name])
                    .await
                    .map_err(err)?;
                tx.execute(&format!("DELETE FROM {s}.owners WHERE state = $1"), &[&name])
                    .await
                    .map_err(err)?;
                tx.execute(
                    &format!("UPDATE {s}.states SET lineage = $2, salt = $3, format = $4, serial = $5, moved_to = $6 WHERE name = $1"),
                    &[&name, &replaced.lineage, &replaced.salt, &replaced.format, &replaced.serial, &replaced.moved_to],
                )
                .await
                .map_err(err)?;
            }
            if !write.deletes.is_empty() {
                tx.execute(
                    &format!("DELETE FROM {s}.records WHERE state = $1 AND address = ANY($2)"),
                    &[&name, &write.deletes],
                )
                .await
                .map_err(err)?;
            }
            if !write.upserts.is_empty() {
                let mut addresses = Vec::with_capacity(write.upserts.len());
                let mut sandboxes = Vec::with_capacity(write.upserts.len());
                let mut ids = Vec::with_capacity(write.upserts.len());
                let mut records = Vec::with_capacity(write.upserts.len());
                for (address, record) in &write.upserts {
                    addresses.push(address.clone());
                    sandboxes.push(record.sandbox.clone());
                    ids.push(record.id.clone());
                    records.push(serde_json::to_value(record).unwrap_or(Value::Null));
                }
                tx.execute(
                    &format!(
                        "INSERT INTO {s}.records (state, address, sandbox, connection_id, record) \
                         SELECT $1, t.address, t.sandbox, t.id, t.record FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS t (address, sandbox, id, record) \
                         ON CONFLICT (state, address) DO UPDATE SET sandbox = EXCLUDED.sandbox, connection_id = EXCLUDED.connection_id, record = EXCLUDED.record"
                    ),
                    &[&name, &addresses, &sandboxes, &ids, &records],
                )
                .await
                .map_err(err)?;
            }
            let org = write.org.clone().unwrap_or(org);
            if write.replace.is_none() && !org.is_empty() {
                // Claimed before the org was known.
                tx.execute(
                    &format!("UPDATE {s}.owners SET org = $2 WHERE state = $1 AND org = ''"),
                    &[&name, &org],
                )
                .await
                .map_err(err)?;
            }
            release(&tx, &s, &name, &org, &write.releases).await.map_err(err)?;
            claim(&tx, &s, &name, &org, &write.claims, &shown).await?;
            tx.execute(&format!("DELETE FROM {s}.journal WHERE state = $1"), &[&name])
                .await
                .map_err(err)?;
            let bump: i64 = i64::from(write.bump);
            let serial: i64 = tx
                .query_one(
                    &format!(
                        "UPDATE {s}.states SET serial = serial + $2, org = $3, pending = $4, format = $5, updated_at = now() WHERE name = $1 RETURNING serial"
                    ),
                    // Written in this format from now on: an older flowform refuses it
                    // rather than misread its records.
                    &[&name, &bump, &write.org, &write.pending, &format_version()],
                )
                .await
                .map_err(err)?
                .get(0);
            if let Some(mut applied) = write.applied_plans {
                // Plans remembered by this run get the serial this commit leaves.
                let stamp = u64::try_from(serial).unwrap_or(0);
                for a in applied.iter_mut().filter(|a| a.serial == 0) {
                    a.serial = stamp;
                }
                let applied = serde_json::to_value(&applied).unwrap_or(Value::Array(Vec::new()));
                tx.execute(
                    &format!("UPDATE {s}.states SET applied_plans = $2 WHERE name = $1"),
                    &[&name, &applied],
                )
                .await
                .map_err(err)?;
            }
            tx.commit().await.map_err(err)?;
            Ok(serial)
        })?;
        Ok(u64::try_from(serial).unwrap_or(0))
    }
}
