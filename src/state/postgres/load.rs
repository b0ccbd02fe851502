//! Reading a state: its `states` row, its records and its journal in one snapshot, made the
//! store's state with the journal replayed.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::db::{Sessions, query_error};
use super::schema::quoted;
use super::{Base, PgStore};
use crate::state::file::StateError;
use crate::state::journal::{self, Entry};
use crate::state::{FORMAT_VERSION, Record, State};

/// One row's worth of a loaded state.
pub(super) struct Loaded {
    lineage: String,
    serial: i64,
    salt: String,
    org: Option<String>,
    format: i32,
    pending: Value,
    applied_plans: Value,
    pub(super) moved_to: Option<String>,
    records: Vec<(String, Value)>,
    journal: Vec<(i64, Value)>,
}

impl PgStore {
    /// Reads the state's rows and its journal in one snapshot.
    pub(super) fn load(&self) -> Result<Option<Loaded>, StateError> {
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        Ok(self.db.call("reading the state", move |sessions: Arc<Sessions>| async move {
            let err = |context: &'static str| {
                let shown = shown.clone();
                move |e: tokio_postgres::Error| query_error(&shown, context, &e)
            };
            let mut client = sessions.data.lock().await;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(err("reading the state"))?;
            let Some(row) = tx
                .query_opt(
                    &format!("SELECT lineage, serial, salt, org, format, pending, moved_to, applied_plans FROM {s}.states WHERE name = $1"),
                    &[&name],
                )
                .await
                .map_err(err("reading the state"))?
            else {
                return Ok(None);
            };
            let records = tx
                .query(
                    &format!("SELECT address, record FROM {s}.records WHERE state = $1 ORDER BY address"),
                    &[&name],
                )
                .await
                .map_err(err("reading the records"))?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let journal = tx
                .query(
                    &format!("SELECT seq, entry FROM {s}.journal WHERE state = $1 ORDER BY id"),
                    &[&name],
                )
                .await
                .map_err(err("reading the journal"))?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tx.commit().await.map_err(err("reading the state"))?;
            Ok(Some(Loaded {
                lineage: row.get(0),
                serial: row.get(1),
                salt: row.get(2),
                org: row.get(3),
                format: row.get(4),
                pending: row.get(5),
                moved_to: row.get(6),
                applied_plans: row.get(7),
                records,
                journal,
            }))
        })?)
    }

    /// Makes the loaded rows this store's state, replaying the journal.
    pub(super) fn take(&mut self, loaded: Loaded) -> Result<(), StateError> {
        let damaged = |what: String, reason: String| StateError::Corrupt {
            path: PathBuf::from(&self.shown),
            reason: format!("{what}: {reason}"),
            backups: Vec::new(),
        };
        if u32::try_from(loaded.format).map_or(true, |f| f > FORMAT_VERSION) {
            return Err(StateError::Newer {
                path: PathBuf::from(&self.shown),
                found: u64::try_from(loaded.format).unwrap_or(0),
            });
        }
        self.older_format = u32::try_from(loaded.format).is_ok_and(|f| f < FORMAT_VERSION);
        let mut state = State::new();
        state.lineage = loaded.lineage;
        state.serial = u64::try_from(loaded.serial).unwrap_or(0);
        state.salt = loaded.salt;
        state.org = loaded.org;
        state.pending = serde_json::from_value(loaded.pending)
            .map_err(|e| damaged("its pending mutations".to_owned(), e.to_string()))?;
        state.applied_plans = serde_json::from_value(loaded.applied_plans)
            .map_err(|e| damaged("its applied plans".to_owned(), e.to_string()))?;
        for (address, record) in loaded.records {
            let record: Record = serde_json::from_value(record)
                .map_err(|e| damaged(format!("the record of `{address}`"), e.to_string()))?;
            state.resources.insert(address, record);
        }
        let base = Base::of(&state);
        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        for (seq, entry) in loaded.journal {
            match serde_json::from_value::<Entry>(entry) {
                Ok(entry @ (Entry::Intent { .. } | Entry::Outcome { .. })) => entries.push(entry),
                _ => skipped.push(seq.to_string()),
            }
        }
        self.next_seq = journal::last_seq(&entries);
        self.journal_rows = !entries.is_empty() || !skipped.is_empty();
        if !entries.is_empty() {
            journal::replay(&mut state, &entries);
            self.warnings.push(format!(
                "replayed {} journal entries left by an interrupted run ({} pending)",
                entries.len(),
                state.pending.len()
            ));
        }
        if !skipped.is_empty() {
            self.warnings.push(format!(
                "the journal of `{}` has rows flowform cannot read (seq {}); they were skipped and the rest replayed. Nothing is created again on their account: a create they may have recorded is found in AEP by its name first",
                self.shown,
                skipped.join(", ")
            ));
        }
        state.digester = std::mem::take(&mut self.state.digester);
        self.state = state;
        self.base = base;
        Ok(())
    }
}
