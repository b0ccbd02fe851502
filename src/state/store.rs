//! The state as commands use it: opened under the lock, with the journal replayed; changed
//! through intents and outcomes (each durable at once) or edits; committed at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{self, StateError};
use super::journal::{self, Entry, Journal, Outcome};
use super::lock::{Holder, Lock};
use super::{Pending, Record, State};

/// How to open the state.
#[derive(Clone, Debug)]
pub enum Locking {
    /// Take the lock, waiting up to this long for another holder.
    Wait(Duration),
    /// Do not lock (`--lock=false`; read-only commands).
    None,
}

pub struct Store {
    path: PathBuf,
    state: State,
    /// The bytes on disk, to tell whether a commit changes anything.
    on_disk: Option<Vec<u8>>,
    journal: Option<Journal>,
    /// Whether a journal was found (and must be folded in and removed at commit).
    journal_found: bool,
    next_seq: u64,
    lock: Option<Lock>,
}

impl Store {
    /// Opens the state at `path` (a new state if there is none), replaying any journal left
    /// by an interrupted run.
    pub fn open(path: &Path, locking: Locking, holder: &Holder) -> Result<Store, StateError> {
        let lock = match locking {
            Locking::Wait(timeout) => Some(Lock::acquire(path, holder, timeout)?),
            Locking::None => None,
        };
        let (mut state, on_disk) = match file::read(path)? {
            Some((state, bytes)) => (state, Some(bytes)),
            None => (State::new(), None),
        };
        let journal_path = journal::path_for(path);
        let entries = journal::read(&journal_path)?;
        let journal_found = journal_path.exists();
        if !entries.is_empty() {
            journal::replay(&mut state, &entries);
            crate::info!(
                "replayed {} journal entries left by an interrupted run ({} pending)",
                entries.len(),
                state.pending.len()
            );
        }
        Ok(Store {
            path: path.to_owned(),
            state,
            on_disk,
            journal: None,
            journal_found,
            next_seq: journal::last_seq(&entries),
            lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    fn require_lock(&self) -> Result<(), StateError> {
        if self.lock.is_some() {
            Ok(())
        } else {
            Err(StateError::Io {
                context: format!("state `{}` was opened without its lock", self.path.display()),
                source: std::io::Error::other("changes need the lock"),
            })
        }
    }

    fn journal(&mut self) -> Result<&mut Journal, StateError> {
        if self.journal.is_none() {
            self.journal = Some(Journal::open(&journal::path_for(&self.path), self.next_seq)?);
            self.journal_found = true;
        }
        match self.journal.as_mut() {
            Some(j) => Ok(j),
            None => unreachable!("opened just above"),
        }
    }

    /// Records, durably, that a mutation is about to be sent. Returns its sequence number.
    pub fn begin(&mut self, pending: Pending) -> Result<u64, StateError> {
        self.require_lock()?;
        let journal = self.journal()?;
        let seq = journal.next_seq();
        journal.append(&Entry::Intent { seq, pending })?;
        Ok(seq)
    }

    /// Records, durably, what came of mutation `seq`, and applies it to the state.
    pub fn finish(&mut self, seq: u64, address: &str, result: Outcome) -> Result<(), StateError> {
        self.require_lock()?;
        let entry = Entry::Outcome {
            seq,
            address: address.to_owned(),
            result,
        };
        self.journal()?.append(&entry)?;
        if let Entry::Outcome { result, .. } = &entry {
            match result {
                Outcome::Done { record } => {
                    match record {
                        Some(r) => {
                            self.state.connections.insert(address.to_owned(), (**r).clone());
                        }
                        None => {
                            self.state.connections.remove(address);
                        }
                    }
                    self.state.pending.retain(|p| p.address != address);
                }
                Outcome::Failed => {}
                Outcome::Unknown => {}
            }
        }
        Ok(())
    }

    /// Records, durably, a change to the state alone (nothing sent to AEP): an adoption, a
    /// forgotten connection, the etag an initializing connection got.
    pub fn record(&mut self, address: &str, record: Option<Record>) -> Result<(), StateError> {
        self.require_lock()?;
        let seq = self.journal()?.next_seq();
        self.finish(
            seq,
            address,
            Outcome::Done {
                record: record.map(Box::new),
            },
        )
    }

    /// Changes the state in memory (state mv, rm, import, pending resolution); `commit`
    /// makes it durable.
    pub fn edit<T>(&mut self, change: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
        self.require_lock()?;
        Ok(change(&mut self.state))
    }

    /// Sets a record directly (for pending resolutions and imports).
    pub fn put(&mut self, address: &str, record: Record) -> Result<(), StateError> {
        self.edit(|s| {
            s.connections.insert(address.to_owned(), record);
        })
    }

    /// Writes the state file if its content changed (with a new serial), then removes the
    /// journal, whose every entry the file now holds. Returns whether the file was written.
    pub fn commit(&mut self) -> Result<bool, StateError> {
        self.require_lock()?;
        let unchanged = self
            .on_disk
            .as_ref()
            .is_some_and(|disk| *disk == file::to_bytes(&self.state));
        let written = if unchanged {
            false
        } else {
            self.state.serial += 1;
            let bytes = file::to_bytes(&self.state);
            file::write(&self.path, &bytes)?;
            self.on_disk = Some(bytes);
            true
        };
        if self.journal_found {
            self.journal = None;
            let path = journal::path_for(&self.path);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StateError::io(format!(
                        "cannot remove the journal `{}`",
                        path.display()
                    ))(e));
                }
            }
            self.journal_found = false;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Environment;
    use crate::state::Action;

    fn holder() -> Holder {
        Holder::me("test", &Environment::default())
    }

    fn record(id: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "key": "a", "sandbox": "prod", "id": id, "etag": "\"e\"", "name": "n",
            "connectionSpec": {"id": "s", "version": "1.0"}, "authSpecName": "x", "params": {}, "state": "enabled"
        }))
        .unwrap()
    }

    fn pending() -> Pending {
        Pending {
            address: "prod/a".into(),
            action: Action::Create,
            sandbox: "prod".into(),
            name: "n".into(),
            spec_id: "s".into(),
            started_at: 5,
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn ids_survive_a_crash_before_commit_and_commit_folds_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store = Store::open(&path, Locking::Wait(Duration::ZERO), &holder()).unwrap();
            let seq = store.begin(pending()).unwrap();
            store
                .finish(
                    seq,
                    "prod/a",
                    Outcome::Done {
                        record: Some(Box::new(record("id-1"))),
                    },
                )
                .unwrap();
            // Crash: no commit.
        }
        assert!(!path.exists());
        let mut store = Store::open(&path, Locking::Wait(Duration::ZERO), &holder()).unwrap();
        assert_eq!(
            store.state().connections["prod/a"].id,
            "id-1",
            "the id was durable before any commit"
        );
        assert!(store.commit().unwrap());
        assert!(!journal::path_for(&path).exists());
        let serial = store.state().serial;
        assert!(!store.commit().unwrap(), "an unchanged state is not rewritten");
        assert_eq!(store.state().serial, serial);
    }

    #[test]
    fn a_create_without_outcome_is_pending_after_the_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store = Store::open(&path, Locking::Wait(Duration::ZERO), &holder()).unwrap();
            store.begin(pending()).unwrap();
        }
        let mut store = Store::open(&path, Locking::Wait(Duration::ZERO), &holder()).unwrap();
        assert_eq!(store.state().pending, vec![pending()]);
        store.commit().unwrap();
        // Folded into the file, the pending create outlives the journal.
        let store = Store::open(&path, Locking::None, &holder()).unwrap();
        assert_eq!(store.state().pending, vec![pending()]);
    }

    #[test]
    fn changes_need_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.json"), Locking::None, &holder()).unwrap();
        assert!(store.begin(pending()).is_err());
        assert!(store.commit().is_err());
    }
}
