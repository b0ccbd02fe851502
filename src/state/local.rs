//! The state in a local file ([`FileStore`]): the file, its journal beside it (replayed on
//! opening, folded in at commit), its lock and its backups.

use std::path::{Path, PathBuf};

use super::file::{self, StateError};
use super::journal::{self, Durable, Entry, Header, Journal, Outcome};
use super::lock::{Holder, Lock};
use super::opening::{Locking, Missing, keep_pending, settle};
use super::{Pending, Record, State};

/// A state kept in a local file, beside its journal, lock and backups.
pub struct FileStore {
    /// As the user names it, for messages.
    path: PathBuf,
    /// Symlinks resolved: where the lock, the journal and every write go.
    real: PathBuf,
    state: State,
    /// The bytes on disk, to tell whether a commit changes anything.
    on_disk: Option<Vec<u8>>,
    /// Nothing was changed since the last commit, which left the state as `on_disk` holds
    /// it: committing again need not serialize the state to find that out.
    committed: bool,
    journal: Option<Journal>,
    /// Whether a journal was found (and must be folded in and removed at commit).
    journal_found: bool,
    /// Whether the journal had damaged lines (it is then kept aside, not removed).
    journal_damaged: bool,
    next_seq: u64,
    /// Intents begun in this run, by sequence number, whose outcome is not recorded yet.
    open: std::collections::BTreeMap<u64, Pending>,
    lock: Option<Lock>,
    /// What opening found worth saying (a journal replayed, a damaged line skipped).
    warnings: Vec<String>,
}

impl FileStore {
    /// Closes it (its lock released, its journal closed) without freeing the state's
    /// memory: for a command that only read it and is about to end, freeing tens of
    /// thousands of records one by one is a tenth of its CPU for nothing. Nothing is
    /// written: this is no commit.
    pub fn close_leaking_state(self) {
        let FileStore { state, .. } = self;
        std::mem::forget(state);
    }

    /// Opens the state at `path`, replaying any journal left by an interrupted run. With no
    /// state there, `missing` decides.
    pub fn open(
        path: &Path,
        locking: Locking,
        holder: &Holder,
        missing: Missing,
    ) -> Result<FileStore, StateError> {
        let real = file::real_path(path).map_err(StateError::io(format!(
            "cannot resolve the state path `{}`",
            path.display()
        )))?;
        let journal_path = journal::path_for(&real);
        // Nothing at all where the state should be: refuse before creating anything (a lock
        // file in a mistyped directory, say).
        let anything = real.exists() || journal_path.exists() || !file::backups(&real).is_empty();
        if !anything && missing == Missing::Refuse {
            return Err(StateError::NotInitialized {
                path: path.to_owned(),
            });
        }
        if missing == Missing::Create
            && let Some(dir) = real.parent()
        {
            std::fs::create_dir_all(dir)
                .map_err(StateError::io(format!("cannot create `{}`", dir.display())))?;
        }
        let lock = match locking {
            Locking::Wait(timeout) => Some(Lock::acquire(&real, path, holder, timeout)?),
            Locking::None => None,
        };
        let found = file::read(&real).map_err(|e| e.named(path))?;
        let read = journal::read(&journal_path)?;
        let mut warnings = Vec::new();
        let (mut state, on_disk, create) = match (found, &read.header) {
            (Some((state, bytes)), header) => {
                match header {
                    Some(h) if h.lineage != state.lineage => {
                        return Err(StateError::ForeignJournal {
                            path: path.to_owned(),
                            journal: journal_path,
                            found: h.lineage.clone(),
                            expected: state.lineage,
                        });
                    }
                    Some(h) if h.serial > state.serial => warnings.push(format!(
                        "the journal `{}` began at serial {}, but the state file is at serial {} (restored from an older copy?); it is replayed, so no id it holds is lost: check the plan",
                        journal_path.display(),
                        h.serial,
                        state.serial
                    )),
                    None if !read.entries.is_empty() => warnings.push(format!(
                        "the journal `{}` does not say which state it belongs to (its first line is damaged, or an older flowform wrote it); it is replayed unchecked",
                        journal_path.display()
                    )),
                    _ => {}
                }
                (state, Some(bytes), false)
            }
            // The state file is gone but its journal is here. When the journal began on a
            // state that held nothing (serial 0: just started by `init`), replaying it onto
            // that empty state is exact; otherwise the records before the journal are lost,
            // and flowform will not pretend otherwise.
            (None, Some(h)) if h.serial == 0 => {
                warnings.push(format!(
                    "the state file `{}` is missing; its journal began on the empty state `init` started (lineage {}), so the state is rebuilt from the journal",
                    path.display(),
                    h.lineage
                ));
                let mut state = State::new();
                state.lineage = h.lineage.clone();
                state.salt = h.salt.clone();
                (state, None, false)
            }
            (None, header) if !read.entries.is_empty() || header.is_some() => {
                return Err(StateError::JournalWithoutState {
                    path: path.to_owned(),
                    journal: journal_path,
                    serial: header.as_ref().map(|h| h.serial),
                });
            }
            (None, _) if missing == Missing::Create => (State::new(), None, true),
            (None, _) => {
                return Err(StateError::NotInitialized {
                    path: path.to_owned(),
                });
            }
        };
        if !read.entries.is_empty() {
            journal::replay(&mut state, &read.entries);
            warnings.push(format!(
                "replayed {} journal entries left by an interrupted run ({} pending)",
                read.entries.len(),
                state.pending.len()
            ));
        }
        if !read.damaged.is_empty() {
            let lines: Vec<String> = read.damaged.iter().map(usize::to_string).collect();
            warnings.push(format!(
                "the journal `{}` has damaged lines ({}); they were skipped and the rest replayed. Nothing is created again on their account: a create they may have recorded is found in AEP by its name first. The journal is kept as `{}` once folded in",
                journal_path.display(),
                lines.join(", "),
                journal::damaged_path_for(&journal_path).display()
            ));
        }
        let mut store = FileStore {
            path: path.to_owned(),
            real,
            state,
            on_disk,
            committed: false,
            journal: None,
            journal_found: !read.is_empty() || read.torn,
            journal_damaged: !read.damaged.is_empty(),
            next_seq: journal::last_seq(&read.entries),
            open: std::collections::BTreeMap::new(),
            lock,
            warnings,
        };
        if create {
            if store.lock.is_none() {
                return Err(StateError::NotInitialized {
                    path: path.to_owned(),
                });
            }
            // Durable before anything else happens: a crash from here on reruns with the same
            // lineage and salt.
            let bytes = file::to_bytes(&store.state);
            file::write(&store.real, &bytes).map_err(|e| e.named(path))?;
            store.on_disk = Some(bytes);
        }
        Ok(store)
    }

    /// Fingerprints secrets with `digester` from now on (`FLOWFORM_DIGEST_KEY`).
    pub fn with_digester(mut self, digester: super::Digester) -> FileStore {
        self.state.digester = digester;
        self
    }

    /// What opening the state found worth saying.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> &State {
        &self.state
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
            self.journal = Some(Journal::open(
                &journal::path_for(&self.real),
                self.next_seq,
                &Header::of(&self.state),
            )?);
            self.journal_found = true;
        }
        match self.journal.as_mut() {
            Some(j) => Ok(j),
            None => unreachable!("opened just above"),
        }
    }

    /// Records, durably, that a mutation is about to be sent. Returns its sequence number.
    pub fn begin(&mut self, pending: Pending) -> Result<u64, StateError> {
        let (seq, durable) = self.begin_deferred(pending)?;
        durable.wait()?;
        Ok(seq)
    }

    /// [`FileStore::begin`], returning once the intent is written: it is durable (and the
    /// request may be sent) when the [`Durable`] says so. Waiting for that without holding
    /// the store lets concurrent writes be flushed together.
    pub fn begin_deferred(&mut self, pending: Pending) -> Result<(u64, Durable), StateError> {
        self.require_lock()?;
        self.committed = false;
        let journal = self.journal()?;
        let seq = journal.next_seq();
        let durable = journal.append_all(&[Entry::Intent {
            seq,
            pending: pending.clone(),
        }])?;
        self.open.insert(seq, pending);
        Ok((seq, durable))
    }

    /// Records, durably, what came of mutation `seq`, and applies it to the state.
    pub fn finish(&mut self, seq: u64, address: &str, result: Outcome) -> Result<(), StateError> {
        self.finish_deferred(seq, address, result)?.wait()
    }

    /// [`FileStore::finish`], returning once the outcome is written (and applied to the state
    /// in memory, which reaches the disk only through the journal or a commit): it is
    /// durable when the [`Durable`] says so.
    pub fn finish_deferred(
        &mut self,
        seq: u64,
        address: &str,
        result: Outcome,
    ) -> Result<Durable, StateError> {
        self.finish_all_deferred(vec![(seq, address.to_owned(), result)])
    }

    fn finish_all_deferred(&mut self, outcomes: Vec<(u64, String, Outcome)>) -> Result<Durable, StateError> {
        self.require_lock()?;
        let entries: Vec<Entry> = outcomes
            .into_iter()
            .map(|(seq, address, result)| Entry::Outcome { seq, address, result })
            .collect();
        self.committed = false;
        let durable = self.journal()?.append_all(&entries)?;
        for entry in entries {
            if let Entry::Outcome { seq, address, result } = entry {
                settle(&mut self.state, &mut self.open, seq, &address, result);
            }
        }
        Ok(durable)
    }

    /// Records, durably, a change to the state alone (nothing sent to AEP): an adoption, a
    /// forgotten connection, the etag an initializing connection got.
    pub fn record(&mut self, address: &str, record: Option<Record>) -> Result<(), StateError> {
        self.record_all_deferred(vec![(address.to_owned(), record)])?
            .wait()
    }

    /// [`FileStore::record`] of several connections, in one write of the journal, durable
    /// when the [`Durable`] says so.
    pub fn record_all_deferred(
        &mut self,
        records: Vec<(String, Option<Record>)>,
    ) -> Result<Durable, StateError> {
        self.require_lock()?;
        if records.is_empty() {
            return Ok(Durable::done());
        }
        let journal = self.journal()?;
        let outcomes = records
            .into_iter()
            .map(|(address, record)| {
                let result = Outcome::Done {
                    record: record.map(Box::new),
                };
                (journal.next_seq(), address, result)
            })
            .collect();
        self.finish_all_deferred(outcomes)
    }

    /// Changes the state in memory (state mv, rm, import, pending resolution); `commit`
    /// makes it durable.
    pub fn edit<T>(&mut self, change: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
        self.require_lock()?;
        self.committed = false;
        Ok(change(&mut self.state))
    }

    /// Sets a record directly (for pending resolutions and imports).
    pub fn put(&mut self, address: &str, record: Record) -> Result<(), StateError> {
        self.edit(|s| {
            s.resources.insert(address.to_owned(), record);
        })
    }

    /// Writes the state file if its content changed (with a new serial), then removes the
    /// journal, whose every entry the file now holds. Returns whether the file was written.
    pub fn commit(&mut self) -> Result<bool, StateError> {
        self.require_lock()?;
        if self.committed && self.open.is_empty() && !self.journal_found {
            return Ok(false);
        }
        // An intent that never got an outcome (a task that stopped half-way) stays pending,
        // as after a crash: the journal that holds it is about to go.
        for (_, pending) in std::mem::take(&mut self.open) {
            keep_pending(&mut self.state, pending);
        }
        let unchanged = self
            .on_disk
            .as_ref()
            .is_some_and(|disk| *disk == file::to_bytes(&self.state));
        let written = if unchanged {
            false
        } else {
            self.state.serial += 1;
            self.state.stamp_applied();
            let bytes = file::to_bytes(&self.state);
            file::write(&self.real, &bytes).map_err(|e| e.named(&self.path))?;
            self.on_disk = Some(bytes);
            true
        };
        if self.journal_found {
            self.journal = None;
            let path = journal::path_for(&self.real);
            let removed = if self.journal_damaged {
                std::fs::rename(&path, journal::damaged_path_for(&path))
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
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
            self.journal_damaged = false;
        }
        self.committed = true;
        Ok(written)
    }
}

impl FileStore {
    /// Replaces the whole file with `state` as it is, serial included (`state push`,
    /// `init --migrate-state`), folding away the journal.
    pub(super) fn replace(&mut self, state: &State) -> Result<(), StateError> {
        self.require_lock()?;
        self.commit()?;
        let mut replaced = state.clone();
        replaced.digester = std::mem::take(&mut self.state.digester);
        let bytes = file::to_bytes(&replaced);
        file::write(&self.real, &bytes).map_err(|e| e.named(&self.path))?;
        self.on_disk = Some(bytes);
        self.state = replaced;
        Ok(())
    }

    /// Moves the state file aside once its state lives elsewhere (`init --migrate-state`):
    /// whatever names this file next finds its backups and no state, never a stale copy.
    pub(super) fn retire(&mut self) -> Result<PathBuf, StateError> {
        self.require_lock()?;
        self.commit()?;
        let mut aside = self.real.as_os_str().to_owned();
        aside.push(".migrated");
        let aside = PathBuf::from(aside);
        std::fs::rename(&self.real, &aside).map_err(StateError::io(format!(
            "cannot move `{}` aside",
            self.path.display()
        )))?;
        Ok(aside)
    }
}

#[cfg(test)]
mod tests {
    use super::FileStore as Store;
    use super::*;
    use std::time::Duration;

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
            scope: vec!["s".into()],
            started_at: 5,
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn ids_survive_a_crash_before_commit_and_commit_folds_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store =
                Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
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
        assert!(path.exists(), "a new state is written before anything is sent");
        let mut store =
            Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
        assert_eq!(
            store.state().resources["prod/a"].id,
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
    fn deferred_writes_are_in_the_state_at_once_and_durable_once_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store =
                Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
            let (seq, begun) = store.begin_deferred(pending()).unwrap();
            begun.wait().unwrap();
            let done = Outcome::Done {
                record: Some(Box::new(record("id-1"))),
            };
            let finished = store.finish_deferred(seq, "prod/a", done).unwrap();
            // Applied in memory when written; the caller goes on once it is flushed.
            assert_eq!(store.state().resources["prod/a"].id, "id-1");
            finished.wait().unwrap();
            // Read back together: one write, one flush.
            let mut b = record("id-2");
            b.key = "b".into();
            let mut a = record("id-1");
            a.state = Some("disabled".into());
            let read_back = store
                .record_all_deferred(vec![("prod/a".into(), Some(a)), ("prod/b".into(), Some(b))])
                .unwrap();
            read_back.wait().unwrap();
            assert!(store.record_all_deferred(Vec::new()).unwrap().wait().is_ok());
            // Crash: no commit.
        }
        let store = Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
        let connections = &store.state().resources;
        assert_eq!(connections["prod/a"].state, Some("disabled".into()));
        assert_eq!(connections["prod/b"].id, "id-2");
        assert!(store.state().pending.is_empty(), "{:?}", store.state().pending);
    }

    #[test]
    fn a_create_without_outcome_is_pending_after_the_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store =
                Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
            store.begin(pending()).unwrap();
        }
        let mut store =
            Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
        assert_eq!(store.state().pending, vec![pending()]);
        store.commit().unwrap();
        // Folded into the file, the pending create outlives the journal.
        let store = Store::open(&path, Locking::None, &holder(), Missing::Refuse).unwrap();
        assert_eq!(store.state().pending, vec![pending()]);
    }

    #[test]
    fn changes_need_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        drop(Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap());
        let mut store = Store::open(&path, Locking::None, &holder(), Missing::Refuse).unwrap();
        assert!(store.begin(pending()).is_err());
        assert!(store.commit().is_err());
    }

    #[test]
    fn no_state_is_started_unasked_and_nothing_is_created_looking_for_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typo/s.json");
        for locking in [Locking::Wait(Duration::ZERO), Locking::None] {
            let err = Store::open(&path, locking, &holder(), Missing::Refuse)
                .err()
                .unwrap();
            assert!(matches!(err, StateError::NotInitialized { .. }), "{err}");
            assert!(err.help().is_some_and(|h| h.contains("flowform init")), "{err}");
        }
        assert!(!dir.path().join("typo").exists(), "no lock file, no directory");
    }

    #[test]
    fn a_state_never_written_carries_on_from_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let (lineage, salt) = {
            let mut store =
                Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
            store.begin(pending()).unwrap();
            (store.state().lineage.clone(), store.state().salt.clone())
        };
        // The state file is lost (never written, in the old way of things): the journal's
        // header still knows the state, which held nothing before it.
        std::fs::remove_file(&path).unwrap();
        let mut store =
            Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Refuse).unwrap();
        assert_eq!((&store.state().lineage, &store.state().salt), (&lineage, &salt));
        assert_eq!(store.state().pending, vec![pending()]);
        assert!(!path.exists(), "opening writes nothing");
        store.commit().unwrap();
        assert!(path.exists());
        // A journal that began on a state holding records cannot rebuild it: refused.
        store.put("prod/b", record("id-2")).unwrap();
        store.commit().unwrap();
        store.begin(pending()).unwrap();
        drop(store);
        std::fs::remove_file(&path).unwrap();
        for backup in file::backups(&path) {
            std::fs::remove_file(backup).unwrap();
        }
        let err = Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Refuse)
            .err()
            .unwrap();
        assert!(
            matches!(err, StateError::JournalWithoutState { serial: Some(2), .. }),
            "{err}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn a_journal_of_another_state_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        {
            let mut store =
                Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
            store.begin(pending()).unwrap();
        }
        file::write(&path, &file::to_bytes(&State::new())).unwrap();
        let err = Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Refuse)
            .err()
            .unwrap();
        assert!(matches!(err, StateError::ForeignJournal { .. }), "{err}");
    }

    #[test]
    fn two_paths_to_one_state_share_one_lock_and_a_symlink_stays_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let link = dir.path().join("link.json");
        drop(Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap());
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let mut first =
            Store::open(&link, Locking::Wait(Duration::ZERO), &holder(), Missing::Refuse).unwrap();
        let err = Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Refuse)
            .err()
            .unwrap();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains("s.json"),
            "named as the user named it: {err}"
        );
        first.put("prod/a", record("id-1")).unwrap();
        assert!(first.commit().unwrap());
        drop(first);
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        let store = Store::open(&path, Locking::None, &holder(), Missing::Refuse).unwrap();
        assert_eq!(store.state().resources["prod/a"].id, "id-1");
    }

    #[test]
    fn a_create_whose_outcome_is_unknown_stays_pending_through_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut store =
            Store::open(&path, Locking::Wait(Duration::ZERO), &holder(), Missing::Create).unwrap();
        let seq = store.begin(pending()).unwrap();
        store.finish(seq, "prod/a", Outcome::Unknown).unwrap();
        // And one that never got an outcome at all.
        let mut other = pending();
        other.address = "prod/b".into();
        store.begin(other.clone()).unwrap();
        store.commit().unwrap();
        assert!(!journal::path_for(&path).exists());
        let store = Store::open(&path, Locking::None, &holder(), Missing::Refuse).unwrap();
        assert_eq!(store.state().pending, vec![pending(), other]);
    }
}
