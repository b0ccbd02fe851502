//! The state in PostgreSQL: one shared, locked, journalled state for every clone and CI
//! runner of a team (Terraform's `pg` backend, with flowform's guarantees kept).
//!
//! - Lineage, serial, salt, org and pending mutations are a row of `states`; records are
//!   rows of `records`, as in the file.
//! - The journal is rows of `journal`, each written in a transaction of its own before and
//!   after each mutation: an id is durable the moment it is known. The run's commit folds
//!   them into `records` in one transaction; a run that died leaves them to be replayed.
//!   Every journal write also moves the serial on, so a plan saved before it is stale.
//! - The lock is an advisory lock held by a session of its own (released by the server
//!   when that session ends, however the process ended), with a row in `locks` naming the
//!   holder. Each write checks, in its own transaction, that the row still carries this
//!   run's token (a fence): a run whose lock session died never writes over the next
//!   holder's work.
//! - `owners` gives each connection (org, sandbox, id) at most one state across the
//!   schema: claimed in the same transaction as the journal row or commit that records it,
//!   released when the state lets it go.
//!
//! See [`url`] for the address and credentials, [`tls`] for TLS, [`db`] for the sessions
//! and [`schema`] for the tables.

pub mod db;
pub mod error;
pub mod schema;
pub mod tls;
pub mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use self::db::{Db, Login, Sessions, query_error};
use self::error::PgError;
use self::schema::{Found, quoted};
use self::url::PgUrl;
use super::file::StateError;
use super::journal::{self, Entry, Outcome};
use super::lock::Holder;
use super::opening::{Locking, Missing, keep_pending, settle};
use super::{AppliedPlan, FORMAT_VERSION, Pending, Record, State};

impl From<PgError> for StateError {
    fn from(e: PgError) -> StateError {
        StateError::Postgres(Box::new(e))
    }
}

/// What the `states` and `records` rows hold (the journal not folded in): what a commit
/// compares the state with.
#[derive(Clone, Debug, Default)]
struct Base {
    resources: BTreeMap<String, Record>,
    pending: Vec<Pending>,
    org: Option<String>,
    applied_plans: Vec<AppliedPlan>,
}

impl Base {
    fn of(state: &State) -> Base {
        Base {
            resources: state.resources.clone(),
            pending: state.pending.clone(),
            org: state.org.clone(),
            applied_plans: state.applied_plans.clone(),
        }
    }
}

/// The format this flowform writes, as the `states.format` column holds it.
fn format_version() -> i32 {
    i32::try_from(FORMAT_VERSION).unwrap_or(i32::MAX)
}

/// A resource as `owners` keys it (the org is the state's).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Owned {
    sandbox: String,
    id: String,
    address: String,
}

/// The state in PostgreSQL, as commands use it (see [`super::Store`]).
pub struct PgStore {
    url: PgUrl,
    shown: String,
    db: Db,
    state: State,
    base: Base,
    /// Whether journal rows exist (to be folded in and removed at commit).
    journal_rows: bool,
    next_seq: u64,
    /// Intents begun in this run whose outcome is not recorded yet.
    open: BTreeMap<u64, Pending>,
    /// This run's lock token, when it holds the lock.
    token: Option<String>,
    /// A moved state opened to be replaced (`init --migrate-state` into it).
    retired: bool,
    warnings: Vec<String>,
}

/// One row's worth of a loaded state.
struct Loaded {
    lineage: String,
    serial: i64,
    salt: String,
    org: Option<String>,
    format: i32,
    pending: Value,
    applied_plans: Value,
    moved_to: Option<String>,
    records: Vec<(String, Value)>,
    journal: Vec<(i64, Value)>,
}

fn lock_key(url: &PgUrl) -> i64 {
    schema::key(&format!("flowform-state:{}:{}", url.schema, url.state))
}

impl PgStore {
    /// Opens the state `url` names (see [`super::Store::open`]).
    pub fn open(
        url: &PgUrl,
        login: Login,
        locking: Locking,
        holder: &Holder,
        missing: Missing,
    ) -> Result<PgStore, StateError> {
        let shown = url.to_string();
        let db = Db::connect(login)?;
        let creating = matches!(missing, Missing::Create | Missing::Migrate);
        let (s_url, schema_name) = (shown.clone(), url.schema.clone());
        let may_create = creating && matches!(locking, Locking::Wait(_));
        let found = db.call("reading the schema", move |s: Arc<Sessions>| async move {
            let mut client = s.data.lock().await;
            schema::ensure(&mut client, &s_url, &schema_name, may_create).await
        })?;
        if found == Found::Absent {
            return Err(StateError::NotInitialized {
                path: PathBuf::from(&shown),
            });
        }
        let mut store = PgStore {
            url: url.clone(),
            shown: shown.clone(),
            db,
            state: State::new(),
            base: Base::default(),
            journal_rows: false,
            next_seq: 0,
            open: BTreeMap::new(),
            token: None,
            retired: false,
            warnings: Vec::new(),
        };
        if let Locking::Wait(timeout) = locking {
            store.token = Some(store.lock(holder, timeout)?);
        }
        let loaded = store.load()?;
        match loaded {
            Some(loaded) if loaded.moved_to.is_some() && missing == Missing::Migrate => {
                // Moved away earlier: it holds nothing, and is about to be replaced.
                store.retired = true;
            }
            Some(loaded) if loaded.moved_to.is_some() => {
                return Err(PgError::Moved {
                    url: shown,
                    to: loaded.moved_to.unwrap_or_default(),
                }
                .into());
            }
            Some(loaded) => store.take(loaded)?,
            None if creating && store.token.is_some() => store.start()?,
            None => {
                return Err(StateError::NotInitialized {
                    path: PathBuf::from(&shown),
                });
            }
        }
        Ok(store)
    }

    /// Takes the lock, waiting up to `timeout` for another holder; returns the token that
    /// fences this run's writes.
    fn lock(&self, holder: &Holder, timeout: Duration) -> Result<String, StateError> {
        let key = lock_key(&self.url);
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        let token = super::uuid_v4();
        let holder = holder.clone();
        let theirs = self.db.call("taking the lock", {
            let token = token.clone();
            move |sessions: Arc<Sessions>| async move {
                sessions.open_lock_session().await?;
                let started = Instant::now();
                let backend_pid: i32 = loop {
                    let guard = sessions.lock.lock().await;
                    let Some(lock) = guard.as_ref() else {
                        return Err(PgError::LockLost { url: shown });
                    };
                    let row = lock
                        .client
                        .query_one("SELECT pg_try_advisory_lock($1), pg_backend_pid()", &[&key])
                        .await
                        .map_err(|e| query_error(&shown, "taking the lock", &e))?;
                    if row.get::<_, bool>(0) {
                        break row.get(1);
                    }
                    drop(guard);
                    let waited = started.elapsed();
                    if waited >= timeout {
                        let data = sessions.data.lock().await;
                        let holder = data
                            .query_opt(
                                &format!(
                                    "SELECT command, pid, \"user\", host, to_char(since AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"'), EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.backend_pid) FROM {s}.locks l WHERE state = $1"
                                ),
                                &[&name],
                            )
                            .await
                            .map_err(|e| query_error(&shown, "reading who holds the lock", &e))?;
                        let named = holder
                            .filter(|r| r.get::<_, bool>(5))
                            .map(|r| {
                                format!(
                                    "`{}` (pid {}, {}@{}, since {})",
                                    r.get::<_, String>(0),
                                    r.get::<_, i32>(1),
                                    r.get::<_, String>(2),
                                    r.get::<_, String>(3),
                                    r.get::<_, String>(4)
                                )
                            })
                            .unwrap_or_else(|| "another flowform process".to_owned());
                        return Ok(Some(named));
                    }
                    tokio::time::sleep((timeout - waited).min(Duration::from_millis(250))).await;
                };
                let data = sessions.data.lock().await;
                let pid = i32::try_from(holder.pid).unwrap_or(i32::MAX);
                data.execute(
                    &format!(
                        "INSERT INTO {s}.locks (state, token, pid, host, \"user\", command, since, backend_pid) VALUES ($1, $2, $3, $4, $5, $6, now(), $7) \
                         ON CONFLICT (state) DO UPDATE SET token = EXCLUDED.token, pid = EXCLUDED.pid, host = EXCLUDED.host, \"user\" = EXCLUDED.\"user\", command = EXCLUDED.command, since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid"
                    ),
                    &[&name, &token, &pid, &holder.host, &holder.user, &holder.command, &backend_pid],
                )
                .await
                .map_err(|e| query_error(&shown, "recording who holds the lock", &e))?;
                Ok(None)
            }
        })?;
        match theirs {
            None => Ok(token),
            Some(holder) => Err(StateError::Locked {
                path: PathBuf::from(&self.shown),
                holder,
                waited: timeout,
            }),
        }
    }

    /// Reads the state's rows and its journal in one snapshot.
    fn load(&self) -> Result<Option<Loaded>, StateError> {
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
    fn take(&mut self, loaded: Loaded) -> Result<(), StateError> {
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

    /// Starts an empty state (`flowform init`): durable before anything is sent to AEP.
    fn start(&mut self) -> Result<(), StateError> {
        let state = State::new();
        let (s, name, shown) = (
            quoted(&self.url.schema),
            self.url.state.clone(),
            self.shown.clone(),
        );
        let (lineage, salt) = (state.lineage.clone(), state.salt.clone());
        let format = i32::try_from(FORMAT_VERSION).unwrap_or(i32::MAX);
        self.db.call("starting the state", move |sessions: Arc<Sessions>| async move {
            let client = sessions.data.lock().await;
            client
                .execute(
                    &format!("INSERT INTO {s}.states (name, lineage, serial, salt, format) VALUES ($1, $2, 0, $3, $4)"),
                    &[&name, &lineage, &salt, &format],
                )
                .await
                .map_err(|e| query_error(&shown, "starting the state", &e))?;
            Ok(())
        })?;
        self.base = Base::of(&state);
        self.state = state;
        Ok(())
    }

    pub fn with_digester(mut self, digester: super::Digester) -> PgStore {
        self.state.digester = digester;
        self
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state's name in its schema.
    pub fn url_state(&self) -> String {
        self.url.state.clone()
    }

    /// Whether this is a moved state opened to be replaced.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    fn require_lock(&self) -> Result<String, StateError> {
        self.token.clone().ok_or_else(|| StateError::Io {
            context: format!("state `{}` was opened without its lock", self.shown),
            source: std::io::Error::other("changes need the lock"),
        })
    }

    /// Writes one journal entry in a transaction of its own, with the connections it claims
    /// and lets go; returns the new serial.
    fn write_entry(
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

    /// Records, durably, that a mutation is about to be sent. Returns its sequence number.
    pub fn begin(&mut self, pending: Pending) -> Result<u64, StateError> {
        self.require_lock()?;
        let seq = self.next_seq.saturating_add(1);
        let entry = Entry::Intent {
            seq,
            pending: pending.clone(),
        };
        let serial = self.write_entry(seq, &entry, Vec::new(), Vec::new())?;
        self.next_seq = seq;
        self.journal_rows = true;
        self.state.serial = serial;
        self.open.insert(seq, pending);
        Ok(seq)
    }

    /// Records, durably, what came of mutation `seq` (claiming the connection it records
    /// for this state), and applies it to the state.
    pub fn finish(&mut self, seq: u64, address: &str, result: Outcome) -> Result<(), StateError> {
        self.require_lock()?;
        let (claims, releases) = match &result {
            Outcome::Done { record } => {
                let before = self
                    .state
                    .resources
                    .get(address)
                    .map(|r| (r.sandbox.clone(), r.id.clone()));
                let claims: Vec<Owned> = record
                    .iter()
                    .map(|r| Owned {
                        sandbox: r.sandbox.clone(),
                        id: r.id.clone(),
                        address: address.to_owned(),
                    })
                    .collect();
                // What this address held goes, unless another address of the state still holds it.
                let releases = before
                    .filter(|(sandbox, id)| {
                        !claims.iter().any(|c| c.sandbox == *sandbox && c.id == *id)
                            && !self
                                .state
                                .resources
                                .iter()
                                .any(|(a, r)| a != address && r.sandbox == *sandbox && r.id == *id)
                    })
                    .map(|(sandbox, id)| Owned {
                        sandbox,
                        id,
                        address: address.to_owned(),
                    })
                    .into_iter()
                    .collect();
                (claims, releases)
            }
            Outcome::Failed | Outcome::Unknown => (Vec::new(), Vec::new()),
        };
        let entry = Entry::Outcome {
            seq,
            address: address.to_owned(),
            result,
        };
        let serial = self.write_entry(seq, &entry, claims, releases)?;
        self.next_seq = self.next_seq.max(seq);
        self.journal_rows = true;
        self.state.serial = serial;
        if let Entry::Outcome { result, .. } = entry {
            settle(&mut self.state, &mut self.open, seq, address, result);
        }
        Ok(())
    }

    /// Records, durably, a change to the state alone (see [`super::Store::record`]).
    pub fn record(&mut self, address: &str, record: Option<Record>) -> Result<(), StateError> {
        self.require_lock()?;
        let seq = self.next_seq.saturating_add(1);
        self.finish(
            seq,
            address,
            Outcome::Done {
                record: record.map(Box::new),
            },
        )
    }

    pub fn edit<T>(&mut self, change: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
        self.require_lock()?;
        Ok(change(&mut self.state))
    }

    /// Writes what changed since the rows were read (records, pending, org), with a new
    /// serial, claiming and letting go of connections, and removes the journal — all in one
    /// transaction. Returns whether anything was written.
    pub fn commit(&mut self) -> Result<bool, StateError> {
        let token = self.require_lock()?;
        for (_, pending) in std::mem::take(&mut self.open) {
            keep_pending(&mut self.state, pending);
        }
        let upserts: Vec<(String, Record)> = self
            .state
            .resources
            .iter()
            .filter(|(a, r)| self.base.resources.get(*a) != Some(*r))
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect();
        let deletes: Vec<String> = self
            .base
            .resources
            .keys()
            .filter(|a| !self.state.resources.contains_key(*a))
            .cloned()
            .collect();
        let kept: BTreeSet<(&str, &str)> = self
            .state
            .resources
            .values()
            .map(|r| (r.sandbox.as_str(), r.id.as_str()))
            .collect();
        let releases: Vec<Owned> = self
            .base
            .resources
            .iter()
            .filter(|(_, r)| !kept.contains(&(r.sandbox.as_str(), r.id.as_str())))
            .map(|(a, r)| Owned {
                sandbox: r.sandbox.clone(),
                id: r.id.clone(),
                address: a.clone(),
            })
            .collect();
        let claims: Vec<Owned> = upserts
            .iter()
            .map(|(a, r)| Owned {
                sandbox: r.sandbox.clone(),
                id: r.id.clone(),
                address: a.clone(),
            })
            .collect();
        let pending_changed = self.state.pending != self.base.pending;
        let org_changed = self.state.org != self.base.org;
        let applied_changed = self.state.applied_plans != self.base.applied_plans;
        if upserts.is_empty()
            && deletes.is_empty()
            && !pending_changed
            && !org_changed
            && !applied_changed
            && !self.journal_rows
        {
            return Ok(false);
        }
        let changed =
            !upserts.is_empty() || !deletes.is_empty() || pending_changed || org_changed || applied_changed;
        let write = Write {
            upserts,
            deletes,
            claims,
            releases,
            pending: serde_json::to_value(&self.state.pending).unwrap_or(Value::Array(Vec::new())),
            org: self.state.org.clone(),
            applied_plans: applied_changed.then(|| self.state.applied_plans.clone()),
            bump: changed,
            replace: None,
        };
        let serial = self.write(token, write, "committing the state")?;
        self.state.serial = serial;
        self.state.stamp_applied();
        self.base = Base::of(&self.state);
        self.journal_rows = false;
        self.next_seq = 0;
        Ok(changed)
    }

    /// Runs one commit-like write; returns the new serial.
    fn write(&self, token: String, write: Write, context: &'static str) -> Result<u64, StateError> {
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

    /// The state (of this schema) that manages connection `id` of `sandbox`, with the
    /// address it has there, if any.
    pub fn owner_of(&self, sandbox: &str, id: &str) -> Result<Option<(String, String)>, StateError> {
        let (s, shown) = (quoted(&self.url.schema), self.shown.clone());
        let org = self.state.org.clone().unwrap_or_default();
        let (sandbox, id) = (sandbox.to_owned(), id.to_owned());
        Ok(self.db.call("reading who manages a connection", move |sessions: Arc<Sessions>| async move {
            let client = sessions.data.lock().await;
            let row = client
                .query_opt(
                    &format!("SELECT state, address FROM {s}.owners WHERE org IN ($1, '') AND sandbox = $2 AND connection_id = $3"),
                    &[&org, &sandbox, &id],
                )
                .await
                .map_err(|e| query_error(&shown, "reading who manages a connection", &e))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })?)
    }

    /// Replaces the whole state with `state` as it is — lineage, serial, salt, org, records,
    /// pending — claiming every connection it records (`init --migrate-state`, `state push`).
    pub fn replace(&mut self, state: &State) -> Result<(), StateError> {
        let token = self.require_lock()?;
        let upserts: Vec<(String, Record)> = state
            .resources
            .iter()
            .map(|(a, r)| (a.clone(), r.clone()))
            .collect();
        let mut seen = BTreeSet::new();
        let claims: Vec<Owned> = upserts
            .iter()
            .filter(|(_, r)| seen.insert((r.sandbox.clone(), r.id.clone())))
            .map(|(a, r)| Owned {
                sandbox: r.sandbox.clone(),
                id: r.id.clone(),
                address: a.clone(),
            })
            .collect();
        let write = Write {
            upserts,
            deletes: Vec::new(),
            claims,
            releases: Vec::new(),
            pending: serde_json::to_value(&state.pending).unwrap_or(Value::Array(Vec::new())),
            org: state.org.clone(),
            applied_plans: Some(state.applied_plans.clone()),
            bump: false,
            replace: Some(Replaced {
                lineage: state.lineage.clone(),
                salt: state.salt.clone(),
                format: i32::try_from(state.version).unwrap_or(i32::MAX),
                serial: i64::try_from(state.serial).unwrap_or(i64::MAX),
                moved_to: None,
            }),
        };
        let mut replaced = state.clone();
        replaced.digester = std::mem::take(&mut self.state.digester);
        // The org the claims are made under is the new state's.
        let previous = std::mem::replace(&mut self.state.org, state.org.clone());
        let written = self.write(token, write, "replacing the state");
        if let Err(e) = written {
            self.state.org = previous;
            return Err(e);
        }
        self.state = replaced;
        self.base = Base::of(&self.state);
        self.journal_rows = false;
        self.open.clear();
        self.next_seq = 0;
        self.retired = false;
        Ok(())
    }

    /// Marks the state as moved to `to` (said to whoever opens it next) and lets go of
    /// everything it held.
    pub fn retire(&mut self, to: &str) -> Result<(), StateError> {
        let token = self.require_lock()?;
        let write = Write {
            upserts: Vec::new(),
            deletes: Vec::new(),
            claims: Vec::new(),
            releases: Vec::new(),
            pending: Value::Array(Vec::new()),
            org: self.state.org.clone(),
            applied_plans: Some(Vec::new()),
            bump: true,
            replace: Some(Replaced {
                lineage: self.state.lineage.clone(),
                salt: self.state.salt.clone(),
                format: i32::try_from(FORMAT_VERSION).unwrap_or(i32::MAX),
                serial: i64::try_from(self.state.serial).unwrap_or(i64::MAX),
                moved_to: Some(to.to_owned()),
            }),
        };
        self.write(token, write, "marking the state as moved")?;
        self.retired = true;
        Ok(())
    }
}

/// A whole-state write's parts.
struct Write {
    upserts: Vec<(String, Record)>,
    deletes: Vec<String>,
    claims: Vec<Owned>,
    releases: Vec<Owned>,
    pending: Value,
    org: Option<String>,
    /// The saved plans applied lately, when they changed (those of serial 0 are stamped
    /// with the serial the write leaves).
    applied_plans: Option<Vec<AppliedPlan>>,
    /// Whether the serial moves on.
    bump: bool,
    /// Everything replaced: the records and claims go first, and the row takes these.
    replace: Option<Replaced>,
}

struct Replaced {
    lineage: String,
    salt: String,
    format: i32,
    serial: i64,
    moved_to: Option<String>,
}

/// Refuses to write once the lock session is gone: another flowform may hold the lock now.
fn fenced(sessions: &Sessions, shown: &str) -> Result<(), PgError> {
    match sessions.lock.try_lock() {
        Ok(lock) if lock.as_ref().is_some_and(db::LockSession::is_alive) => Ok(()),
        // Busy: a write of this process is using it, so it is there.
        Err(_) => Ok(()),
        Ok(_) => Err(PgError::LockLost {
            url: shown.to_owned(),
        }),
    }
}

async fn release(
    tx: &tokio_postgres::Transaction<'_>,
    s: &str,
    name: &str,
    org: &str,
    releases: &[Owned],
) -> Result<(), tokio_postgres::Error> {
    if releases.is_empty() {
        return Ok(());
    }
    let sandboxes: Vec<&str> = releases.iter().map(|o| o.sandbox.as_str()).collect();
    let ids: Vec<&str> = releases.iter().map(|o| o.id.as_str()).collect();
    tx.execute(
        &format!(
            "DELETE FROM {s}.owners o USING unnest($3::text[], $4::text[]) AS t (sandbox, id) \
             WHERE o.state = $1 AND o.org IN ($2, '') AND o.sandbox = t.sandbox AND o.connection_id = t.id"
        ),
        &[&name, &org, &sandboxes, &ids],
    )
    .await?;
    Ok(())
}

/// Claims `claims` for state `name`; refused (the transaction to be rolled back) when
/// another state owns one of them.
async fn claim(
    tx: &tokio_postgres::Transaction<'_>,
    s: &str,
    name: &str,
    org: &str,
    claims: &[Owned],
    shown: &str,
) -> Result<(), PgError> {
    if claims.is_empty() {
        return Ok(());
    }
    let err = |e: tokio_postgres::Error| query_error(shown, "claiming connections for the state", &e);
    let sandboxes: Vec<&str> = claims.iter().map(|o| o.sandbox.as_str()).collect();
    let ids: Vec<&str> = claims.iter().map(|o| o.id.as_str()).collect();
    let addresses: Vec<&str> = claims.iter().map(|o| o.address.as_str()).collect();
    let claimed = tx
        .execute(
            &format!(
                "INSERT INTO {s}.owners (org, sandbox, connection_id, state, address) \
                 SELECT $2, t.sandbox, t.id, $1, t.address FROM unnest($3::text[], $4::text[], $5::text[]) AS t (sandbox, id, address) \
                 ON CONFLICT (org, sandbox, connection_id) DO UPDATE SET address = EXCLUDED.address WHERE {s}.owners.state = EXCLUDED.state"
            ),
            &[&name, &org, &sandboxes, &ids, &addresses],
        )
        .await
        .map_err(err)?;
    if usize::try_from(claimed).unwrap_or(0) == claims.len() {
        return Ok(());
    }
    let taken = tx
        .query_opt(
            &format!(
                "SELECT o.connection_id, o.sandbox, o.state, t.address, o.address FROM {s}.owners o JOIN unnest($3::text[], $4::text[], $5::text[]) AS t (sandbox, id, address) \
                 ON o.sandbox = t.sandbox AND o.connection_id = t.id WHERE o.org = $2 AND o.state <> $1 ORDER BY o.connection_id LIMIT 1"
            ),
            &[&name, &org, &sandboxes, &ids, &addresses],
        )
        .await
        .map_err(err)?;
    Err(match taken {
        Some(row) => PgError::Owned(Box::new(error::Conflict {
            id: row.get(0),
            sandbox: row.get(1),
            owner: row.get(2),
            address: row.get(3),
            theirs: row.get(4),
            url: shown.to_owned(),
        })),
        None => PgError::Query {
            url: shown.to_owned(),
            context: "claiming connections for the state".to_owned(),
            reason: "a connection is named twice".to_owned(),
            lost: false,
        },
    })
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Leave no holder's name behind, and let the lock go now rather than when the
        // session closes; the server releases it anyway if this never runs.
        if let Some(token) = self.token.take() {
            let (s, name, key) = (
                quoted(&self.url.schema),
                self.url.state.clone(),
                lock_key(&self.url),
            );
            let _ = self
                .db
                .call("releasing the lock", move |sessions: Arc<Sessions>| async move {
                    let data = sessions.data.lock().await;
                    let _ = data
                        .execute(
                            &format!("DELETE FROM {s}.locks WHERE state = $1 AND token = $2"),
                            &[&name, &token],
                        )
                        .await;
                    if let Some(lock) = sessions.lock.lock().await.as_ref() {
                        let _ = lock
                            .client
                            .execute("SELECT pg_advisory_unlock($1)", &[&key])
                            .await;
                    }
                    Ok(())
                });
        }
    }
}
