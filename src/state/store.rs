//! The state as commands use it: opened under the lock, with the journal replayed; changed
//! through intents and outcomes (each durable at once) or edits; committed at the end.
//!
//! [`Store`] is the one type commands see, whichever backend keeps the state: a local file
//! ([`FileStore`], in `local`) or PostgreSQL ([`super::postgres::PgStore`]).

use std::path::{Path, PathBuf};

use super::file::StateError;
use super::journal::{Durable, Outcome};
pub use super::local::FileStore;
use super::lock::Holder;
pub use super::opening::{Locking, Missing};
use super::postgres::PgStore;
use super::postgres::db::Login;
use super::postgres::url::{PgUrl, UrlError};
use super::{Pending, Record, State};

/// Where a state lives: a local file, or a PostgreSQL database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Postgres(Box<PgUrl>),
}

impl Location {
    /// A path, or a `postgres://` URL (refused when it carries a password).
    pub fn parse(text: &std::ffi::OsStr) -> Result<Location, UrlError> {
        match text.to_str() {
            Some(t) if super::postgres::url::is_postgres(t) => {
                Ok(Location::Postgres(Box::new(PgUrl::parse(t)?)))
            }
            _ => Ok(Location::File(PathBuf::from(text))),
        }
    }

    pub fn as_file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

/// As people read it: the path, or the URL without a password.
impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// The state, whichever backend keeps it. Every command uses it through this type.
pub enum Store {
    File(Box<FileStore>),
    Postgres(Box<PgStore>),
}

macro_rules! each {
    ($self:expr, $store:ident => $body:expr) => {
        match $self {
            Store::File($store) => $body,
            Store::Postgres($store) => $body,
        }
    };
}

impl Store {
    /// Opens the state at `location`, replaying any journal left by an interrupted run. With
    /// no state there, `missing` decides. `env` gives a database's credentials.
    pub fn open(
        location: &Location,
        locking: Locking,
        holder: &Holder,
        missing: Missing,
        env: &crate::settings::Environment,
    ) -> Result<Store, StateError> {
        match location {
            Location::File(path) => {
                let missing = if missing == Missing::Migrate {
                    Missing::Create
                } else {
                    missing
                };
                FileStore::open(path, locking, holder, missing).map(|s| Store::File(Box::new(s)))
            }
            Location::Postgres(url) => {
                let login = Login {
                    url: (**url).clone(),
                    user: url.user_or(env),
                    password: PgUrl::password(env),
                };
                PgStore::open(url, login, locking, holder, missing).map(|s| Store::Postgres(Box::new(s)))
            }
        }
    }

    pub fn with_digester(self, digester: super::Digester) -> Store {
        match self {
            Store::File(s) => Store::File(Box::new(s.with_digester(digester))),
            Store::Postgres(s) => Store::Postgres(Box::new(s.with_digester(digester))),
        }
    }

    /// What opening the state found worth saying.
    pub fn warnings(&self) -> &[String] {
        each!(self, s => s.warnings())
    }

    /// The state's name as people read it: its path, or its URL (never a password).
    pub fn shown(&self) -> String {
        match self {
            Store::File(s) => s.path().display().to_string(),
            Store::Postgres(s) => s.shown().to_owned(),
        }
    }

    pub fn state(&self) -> &State {
        each!(self, s => s.state())
    }

    /// Closes a store that was only read, at the end of a command, without freeing the
    /// state's memory (a file store's; a PostgreSQL store closes as ever). Nothing is written.
    pub fn close_leaking_state(self) {
        match self {
            Store::File(s) => s.close_leaking_state(),
            Store::Postgres(s) => drop(s),
        }
    }

    /// Records, durably, that a mutation is about to be sent. Returns its sequence number.
    pub fn begin(&mut self, pending: Pending) -> Result<u64, StateError> {
        each!(self, s => s.begin(pending))
    }

    /// [`Store::begin`], durable when the [`Durable`] says so: waited for without holding
    /// the store, concurrent writes are flushed together. (A database's rows are durable
    /// when written.)
    pub fn begin_deferred(&mut self, pending: Pending) -> Result<(u64, Durable), StateError> {
        match self {
            Store::File(s) => s.begin_deferred(pending),
            Store::Postgres(s) => Ok((s.begin(pending)?, Durable::done())),
        }
    }

    /// Records, durably, what came of mutation `seq`, and applies it to the state.
    pub fn finish(&mut self, seq: u64, address: &str, result: Outcome) -> Result<(), StateError> {
        each!(self, s => s.finish(seq, address, result))
    }

    /// [`Store::finish`], durable when the [`Durable`] says so.
    pub fn finish_deferred(
        &mut self,
        seq: u64,
        address: &str,
        result: Outcome,
    ) -> Result<Durable, StateError> {
        match self {
            Store::File(s) => s.finish_deferred(seq, address, result),
            Store::Postgres(s) => s.finish(seq, address, result).map(|()| Durable::done()),
        }
    }

    /// Records, durably, a change to the state alone (nothing sent to AEP): an adoption, a
    /// forgotten connection, the etag an initializing connection got.
    pub fn record(&mut self, address: &str, record: Option<Record>) -> Result<(), StateError> {
        each!(self, s => s.record(address, record))
    }

    /// [`Store::record`] of several connections at once (what an apply reads back), durable
    /// when the [`Durable`] says so: one journal write and one flush for them all. Stops at
    /// the first that cannot be recorded.
    pub fn record_all_deferred(
        &mut self,
        records: Vec<(String, Option<Record>)>,
    ) -> Result<Durable, StateError> {
        match self {
            Store::File(s) => s.record_all_deferred(records),
            Store::Postgres(s) => {
                for (address, record) in records {
                    s.record(&address, record)?;
                }
                Ok(Durable::done())
            }
        }
    }

    /// Changes the state in memory (state mv, rm, import, pending resolution); `commit`
    /// makes it durable.
    pub fn edit<T>(&mut self, change: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
        each!(self, s => s.edit(change))
    }

    /// Sets a record directly (for pending resolutions and imports).
    pub fn put(&mut self, address: &str, record: Record) -> Result<(), StateError> {
        self.edit(|s| {
            s.resources.insert(address.to_owned(), record);
        })
    }

    /// Makes durable what changed, with a new serial, and folds the journal in. Returns
    /// whether anything was written.
    pub fn commit(&mut self) -> Result<bool, StateError> {
        each!(self, s => s.commit())
    }

    /// The other state that manages connection `id` of `sandbox` (its name and the address
    /// there), when one does: only a shared backend knows the other states.
    pub fn owner_elsewhere(&self, sandbox: &str, id: &str) -> Result<Option<(String, String)>, StateError> {
        match self {
            Store::File(_) => Ok(None),
            Store::Postgres(s) => {
                let ours = &s.url_state();
                Ok(s.owner_of(sandbox, id)?.filter(|(owner, _)| owner != ours))
            }
        }
    }

    /// Whether the store holds no state worth keeping: just started (serial 0, nothing
    /// managed or pending), or moved away earlier.
    pub fn is_blank(&self) -> bool {
        let s = self.state();
        let empty = s.serial == 0 && s.resources.is_empty() && s.pending.is_empty();
        match self {
            Store::File(_) => empty,
            Store::Postgres(p) => empty || p.is_retired(),
        }
    }

    /// Replaces the whole state with `state` as it is — lineage, serial, salt, org, records,
    /// pending (`state push`, `init --migrate-state`).
    pub fn replace(&mut self, state: &State) -> Result<(), StateError> {
        each!(self, s => s.replace(state))
    }

    /// Retires the state once it lives at `to`: a file is moved aside (`<file>.migrated`),
    /// a database state says where it went to whoever opens it next. Returns what was done.
    pub fn retire(&mut self, to: &str) -> Result<String, StateError> {
        match self {
            Store::File(s) => {
                let aside = s.retire()?;
                Ok(format!(
                    "moved `{}` aside to `{}`",
                    s.path().display(),
                    aside.display()
                ))
            }
            Store::Postgres(s) => {
                s.retire(to)?;
                Ok(format!("marked `{}` as moved to {to}", s.shown()))
            }
        }
    }
}
