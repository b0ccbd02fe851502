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
//! and [`schema`] for the tables; the lock is taken in `advisory`, a state read in `load`,
//! written in `write`, and its connections claimed in `owners`.

mod advisory;
pub mod db;
pub mod error;
mod load;
mod owners;
pub mod schema;
pub mod tls;
pub mod url;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use self::db::{Db, Login, Sessions, query_error};
use self::error::PgError;
use self::owners::Owned;
use self::schema::{Found, quoted};
use self::url::PgUrl;
use self::write::{Replaced, Write};
use super::file::StateError;
use super::journal::{Entry, Outcome};
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

/// The state in PostgreSQL, as commands use it (see [`super::Store`]).
pub struct PgStore {
    url: PgUrl,
    shown: String,
    db: Db,
    state: State,
    base: Base,
    /// Whether journal rows exist (to be folded in and removed at commit).
    journal_rows: bool,
    /// Read from an older format (`states.format`): the next commit writes every record in
    /// today's shape, as the file backend rewrites its file, not only those that changed.
    older_format: bool,
    next_seq: u64,
    /// Intents begun in this run whose outcome is not recorded yet.
    open: BTreeMap<u64, Pending>,
    /// This run's lock token, when it holds the lock.
    token: Option<String>,
    /// A moved state opened to be replaced (`init --migrate-state` into it).
    retired: bool,
    warnings: Vec<String>,
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
            older_format: false,
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
        let mut upserts: Vec<(String, Record)> = self
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
        if self.older_format {
            upserts = self
                .state
                .resources
                .iter()
                .map(|(a, r)| (a.clone(), r.clone()))
                .collect();
        }
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
        self.older_format = false;
        self.next_seq = 0;
        Ok(changed)
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
