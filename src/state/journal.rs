//! The journal beside the state file (`<state>.journal`): one JSON line per event, each
//! flushed to disk before flowform goes on.
//!
//! Group commit: lines written at the same time by concurrent mutations are flushed by one
//! `fdatasync` rather than one each. A writer appends its line and gets a [`Durable`]; it
//! goes on only once a flush that began after its line was written has succeeded (a flush
//! covers everything written before it). A thread of the journal's own flushes whatever
//! was written while the previous flush ran. A flush that fails fails every write not yet
//! covered, and every later one: what the disk holds can no longer be trusted.
//!
//! Before a mutating call to AEP flowform writes an *intent* (what it is about to do), and
//! after it an *outcome* (the id and etag it got, as the connection's new record). An id is
//! thus durable the moment it is known, at the cost of one small append rather than a
//! rewrite of the whole state. At the end of a run the journal is folded into the state file
//! and removed; after a crash it is replayed on load, and an intent with no outcome becomes a
//! pending mutation (a create the applier resolves by listing, instead of creating again —
//! Terraform's duplicates after a crash, hashicorp/terraform#24276).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::sync::lock;

use serde::{Deserialize, Serialize};

use super::file::StateError;
use super::{Pending, Record, State};

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    /// The first line: which state the journal continues, with all a rerun needs to carry on
    /// with that same state even if its file was never written (a first apply killed).
    Header(Header),
    /// About to send a mutating request.
    Intent { seq: u64, pending: Pending },
    /// What came of it.
    Outcome {
        seq: u64,
        address: String,
        result: Outcome,
    },
}

/// The state a journal belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Header {
    pub lineage: String,
    /// The state's serial when the journal was started.
    pub serial: u64,
    pub salt: String,
}

impl Header {
    pub fn of(state: &State) -> Header {
        Header {
            lineage: state.lineage.clone(),
            serial: state.serial,
            salt: state.salt.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// Done: the connection's record now (`None`: it is gone).
    Done { record: Option<Box<Record>> },
    /// AEP refused: nothing changed.
    Failed,
    /// Nobody knows (a timeout, a dropped answer): stays pending until resolved.
    Unknown,
}

pub fn path_for(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

/// Where a journal that had damaged lines is kept once its readable entries are folded in.
pub fn damaged_path_for(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push(".damaged");
    PathBuf::from(name)
}

/// An open journal, for appending.
pub struct Journal {
    file: File,
    path: PathBuf,
    next_seq: u64,
    /// Shared with the flushing thread and with the writers waiting for a flush.
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

/// What the writers and the flushing thread share.
struct Shared {
    file: File,
    path: PathBuf,
    progress: Mutex<Progress>,
    /// Wakes the flushing thread: something was written, or the journal closes.
    written: Condvar,
    /// Wakes writers waiting on a thread (blocking).
    flushed: Condvar,
    /// Wakes writers waiting in a task (async).
    flushed_async: tokio::sync::Notify,
}

#[derive(Default)]
struct Progress {
    /// Bytes written, and bytes a successful flush covers.
    written: u64,
    flushed: u64,
    /// Why a write or a flush failed: every write not yet flushed fails with it.
    failed: Option<String>,
    closing: bool,
}

/// A journal write, durable once [`Durable::wait`] (or [`Durable::wait_async`]) says so.
#[must_use = "a journal write is not durable until waited for"]
pub struct Durable(Option<(Arc<Shared>, u64)>);

impl Durable {
    /// Already durable (a store that writes synchronously).
    pub fn done() -> Durable {
        Durable(None)
    }

    fn outcome(shared: &Shared, end: u64, progress: &Progress) -> Option<Result<(), StateError>> {
        if progress.flushed >= end {
            return Some(Ok(()));
        }
        progress.failed.as_ref().map(|why| {
            Err(StateError::io(format!(
                "cannot flush the journal `{}`",
                shared.path.display()
            ))(io::Error::other(why.clone())))
        })
    }

    /// Waits, blocking the thread, until the write is flushed to disk.
    pub fn wait(self) -> Result<(), StateError> {
        let Some((shared, end)) = self.0 else {
            return Ok(());
        };
        let mut progress = lock(&shared.progress);
        loop {
            if let Some(outcome) = Durable::outcome(&shared, end, &progress) {
                return outcome;
            }
            progress = shared
                .flushed
                .wait(progress)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Waits, without blocking the thread, until the write is flushed to disk.
    pub async fn wait_async(self) -> Result<(), StateError> {
        let Some((shared, end)) = self.0 else {
            return Ok(());
        };
        loop {
            let notified = shared.flushed_async.notified();
            tokio::pin!(notified);
            // Registered before looking, so that a flush between the look and the wait
            // still wakes this one.
            notified.as_mut().enable();
            if let Some(outcome) = Durable::outcome(&shared, end, &lock(&shared.progress)) {
                return outcome;
            }
            notified.await;
        }
    }
}

impl Shared {
    /// The flushing thread: flushes whatever was written since the last flush, until the
    /// journal closes with everything flushed (or a flush failed).
    fn flush_loop(&self) {
        loop {
            let end = {
                let mut progress = lock(&self.progress);
                while progress.written == progress.flushed && !progress.closing && progress.failed.is_none() {
                    progress = self
                        .written
                        .wait(progress)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                if progress.failed.is_some() || progress.written == progress.flushed {
                    return;
                }
                progress.written
            };
            let flushed = self.file.sync_data();
            {
                let mut progress = lock(&self.progress);
                match flushed {
                    Ok(()) => progress.flushed = end,
                    Err(e) => progress.failed = Some(e.to_string()),
                }
            }
            self.flushed.notify_all();
            self.flushed_async.notify_waiters();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        lock(&self.shared.progress).closing = true;
        self.shared.written.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl Journal {
    /// Opens the journal for appending, after the entries already in it. A new (or empty)
    /// journal starts with `header`. A last line cut short by a crash is cut off first, so
    /// the next entry starts a line of its own; one that is whole but lacks its newline gets
    /// it.
    pub fn open(path: &Path, next_seq: u64, header: &Header) -> Result<Journal, StateError> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(StateError::io(format!(
                "cannot open the journal `{}`",
                path.display()
            )))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(StateError::io(format!(
            "cannot read the journal `{}`",
            path.display()
        )))?;
        let shared = Arc::new(Shared {
            file: file.try_clone().map_err(StateError::io(format!(
                "cannot open the journal `{}`",
                path.display()
            )))?,
            path: path.to_owned(),
            progress: Mutex::new(Progress::default()),
            written: Condvar::new(),
            flushed: Condvar::new(),
            flushed_async: tokio::sync::Notify::new(),
        });
        let mut journal = Journal {
            file,
            path: path.to_owned(),
            next_seq,
            shared,
            flusher: None,
        };
        let tail_start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let tail = &bytes[tail_start..];
        if !tail.is_empty() {
            if serde_json::from_slice::<Entry>(tail).is_ok() {
                journal.write_synced(b"\n")?;
            } else {
                // Torn by a crash mid-write: nothing after it happened, and it cannot be read.
                journal
                    .file
                    .set_len(tail_start as u64)
                    .and_then(|()| journal.file.sync_data())
                    .map_err(StateError::io(format!(
                        "cannot cut the torn last line of the journal `{}`",
                        path.display()
                    )))?;
            }
        }
        if tail_start == 0 {
            let mut line = serde_json::to_vec(&Entry::Header(header.clone())).unwrap_or_default();
            line.push(b'\n');
            journal.write_synced(&line)?;
        }
        let shared = journal.shared.clone();
        journal.flusher = Some(
            std::thread::Builder::new()
                .name("journal-flush".into())
                .spawn(move || shared.flush_loop())
                .map_err(StateError::io(format!(
                    "cannot start flushing the journal `{}`",
                    path.display()
                )))?,
        );
        Ok(journal)
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Appends one entry and flushes it to disk before returning.
    pub fn append(&mut self, entry: &Entry) -> Result<(), StateError> {
        self.append_all(std::slice::from_ref(entry))?.wait()
    }

    /// Appends entries (in one write) and returns at once: they are durable when the
    /// returned [`Durable`] says so, flushed together with whatever else was written
    /// meanwhile.
    pub fn append_all(&mut self, entries: &[Entry]) -> Result<Durable, StateError> {
        let mut lines = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut lines, entry).unwrap_or_default();
            lines.push(b'\n');
        }
        let shared = &self.shared;
        let mut progress = lock(&shared.progress);
        if let Some(why) = &progress.failed {
            return Err(StateError::io(format!(
                "cannot write the journal `{}`",
                self.path.display()
            ))(io::Error::other(why.clone())));
        }
        if let Err(e) = (&shared.file).write_all(&lines) {
            // Part of it may be written: nothing after it can be trusted to read back.
            progress.failed = Some(e.to_string());
            drop(progress);
            shared.flushed.notify_all();
            shared.flushed_async.notify_waiters();
            return Err(StateError::io(format!(
                "cannot write the journal `{}`",
                self.path.display()
            ))(e));
        }
        progress.written += lines.len() as u64;
        let end = progress.written;
        drop(progress);
        shared.written.notify_one();
        Ok(Durable(Some((shared.clone(), end))))
    }

    fn write_synced(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let io = StateError::io(format!("cannot write the journal `{}`", self.path.display()));
        self.file.write_all(bytes).map_err(io)?;
        self.file.sync_data().map_err(StateError::io(format!(
            "cannot flush the journal `{}`",
            self.path.display()
        )))
    }
}

/// What a journal holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub header: Option<Header>,
    pub entries: Vec<Entry>,
    /// Lines that could not be read (1-based), other than a torn last line.
    pub damaged: Vec<usize>,
    /// Whether the last line was cut short by a crash (and dropped).
    pub torn: bool,
}

impl Read {
    pub fn is_empty(&self) -> bool {
        self.header.is_none() && self.entries.is_empty() && self.damaged.is_empty()
    }
}

/// Reads a journal file; an absent one is empty.
pub fn read(path: &Path) -> Result<Read, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Read::default()),
        Err(e) => Err(StateError::io(format!(
            "cannot read the journal `{}`",
            path.display()
        ))(e)),
    }
}

/// Parses a journal's bytes. Never fails: a last line cut short by a crash is dropped (its
/// write never finished, so nothing after it happened), and any other line that cannot be
/// read is skipped and reported, so that one damaged line never costs the others. What a
/// skipped line held is not lost for safety's sake: an intent without its outcome leaves the
/// mutation pending, and a create nobody knows of is found by name before anything is
/// created again.
pub fn parse(bytes: &[u8]) -> Read {
    let mut read = Read::default();
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // The part after the last newline was being written when the run stopped (or is empty).
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(Entry::Header(header)) if read.header.is_none() && read.entries.is_empty() => {
                read.header = Some(header);
            }
            Ok(Entry::Header(_)) => read.damaged.push(i + 1),
            Ok(entry) => read.entries.push(entry),
            Err(_) if i == last => read.torn = true,
            Err(_) => read.damaged.push(i + 1),
        }
    }
    read
}

/// Applies a journal to a state: outcomes update records; intents without an outcome (or
/// with an unknown one) become pending. Returns whether anything changed.
pub fn replay(state: &mut State, entries: &[Entry]) -> bool {
    let mut changed = false;
    let mut open: Vec<(u64, Pending)> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Header(_) => {}
            Entry::Intent { seq, pending } => open.push((*seq, pending.clone())),
            Entry::Outcome { seq, address, result } => {
                let intent = open.iter().position(|(s, _)| s == seq).map(|i| open.remove(i).1);
                match result {
                    Outcome::Done { record } => {
                        match record {
                            Some(record) => {
                                state.resources.insert(address.clone(), (**record).clone());
                            }
                            None => {
                                state.resources.remove(address);
                            }
                        }
                        state.pending.retain(|p| p.address != *address);
                        // What began on this address before is settled: the record is what
                        // came after it (a later run adopted what a killed one created).
                        open.retain(|(s, p)| p.address != *address || s > seq);
                        changed = true;
                    }
                    Outcome::Failed => {}
                    Outcome::Unknown => {
                        if let Some(p) = intent {
                            open.push((*seq, p));
                        }
                    }
                }
            }
        }
    }
    for (_, pending) in open {
        if !state
            .pending
            .iter()
            .any(|p| p.address == pending.address && p.action == pending.action)
        {
            state.pending.push(pending);
            changed = true;
        }
    }
    state
        .pending
        .sort_by(|a, b| (&a.address, a.action).cmp(&(&b.address, b.action)));
    changed
}

/// The highest sequence number in a journal.
pub fn last_seq(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| match e {
            Entry::Header(_) => 0,
            Entry::Intent { seq, .. } | Entry::Outcome { seq, .. } => *seq,
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::state::Action;

    fn pending(address: &str, action: Action) -> Pending {
        Pending {
            address: address.into(),
            action,
            sandbox: "prod".into(),
            name: "n".into(),
            scope: vec!["s".into()],
            started_at: 1,
            fingerprint: "f".into(),
        }
    }

    fn header() -> Header {
        Header::of(&State::new())
    }

    fn intent(seq: u64, address: &str) -> Entry {
        Entry::Intent {
            seq,
            pending: pending(address, Action::Create),
        }
    }

    fn done(seq: u64, address: &str) -> Entry {
        Entry::Outcome {
            seq,
            address: address.into(),
            result: Outcome::Done { record: None },
        }
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_unanswered_intents_become_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.journal");
        let h = header();
        let mut journal = Journal::open(&path, 0, &h).unwrap();
        let a = journal.next_seq();
        journal.append(&intent(a, "prod/a")).unwrap();
        journal.append(&done(a, "prod/a")).unwrap();
        let b = journal.next_seq();
        journal.append(&intent(b, "prod/b")).unwrap();
        drop(journal);
        // A crash while writing b's outcome.
        let mut torn = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        torn.write_all(br#"{"kind":"outcome","seq":2,"addr"#).unwrap();
        let read = read(&path).unwrap();
        assert_eq!(read.header, Some(h));
        assert!(read.torn && read.damaged.is_empty());
        assert_eq!(read.entries.len(), 3);
        let mut state = State::new();
        state.resources.insert("prod/a".into(), dummy());
        assert!(replay(&mut state, &read.entries));
        assert!(!state.resources.contains_key("prod/a"));
        assert_eq!(state.pending, vec![pending("prod/b", Action::Create)]);
        assert_eq!(last_seq(&read.entries), 2);
    }

    #[test]
    fn appending_after_a_torn_line_starts_a_fresh_one_and_a_second_crash_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let h = header();
        let mut journal = Journal::open(&path, 0, &h).unwrap();
        journal.append(&intent(1, "prod/a")).unwrap();
        drop(journal);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"kind":"outc"#)
            .unwrap();
        // The next run appends (and then crashes with a torn line again).
        let mut journal = Journal::open(&path, 1, &h).unwrap();
        journal.append(&intent(2, "prod/b")).unwrap();
        drop(journal);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(br#"{"kind":"in"#)
            .unwrap();
        let read = read(&path).unwrap();
        assert!(read.damaged.is_empty(), "{read:?}");
        assert_eq!(read.entries, vec![intent(1, "prod/a"), intent(2, "prod/b")]);
        let mut state = State::new();
        replay(&mut state, &read.entries);
        assert_eq!(state.pending.len(), 2, "both creates stay pending");
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut bytes = serde_json::to_vec(&Entry::Header(header())).unwrap();
        bytes.push(b'\n');
        bytes.extend(serde_json::to_vec(&intent(1, "prod/a")).unwrap());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap().entries, vec![intent(1, "prod/a")]);
        let mut journal = Journal::open(&path, 1, &header()).unwrap();
        journal.append(&intent(2, "prod/b")).unwrap();
        assert_eq!(read(&path).unwrap().entries.len(), 2);
    }

    #[test]
    fn a_later_record_of_an_address_settles_what_began_there_before() {
        // Run one is killed after its intent; run two adopts what it made, and is killed
        // before it commits.
        let entries = [
            intent(1, "prod/a"),
            intent(2, "prod/b"),
            Entry::Outcome {
                seq: 3,
                address: "prod/a".into(),
                result: Outcome::Done {
                    record: Some(Box::new(dummy())),
                },
            },
        ];
        let mut state = State::new();
        replay(&mut state, &entries);
        assert!(state.resources.contains_key("prod/a"));
        assert_eq!(state.pending, vec![pending("prod/b", Action::Create)]);
    }

    #[test]
    fn concurrent_writes_are_each_durable_once_waited_for_and_all_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let h = header();
        let journal = Mutex::new(Journal::open(&path, 0, &h).unwrap());
        let (threads, each) = (8, 25);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let journal = &journal;
                scope.spawn(move || {
                    for i in 0..each {
                        let address = format!("prod/{t}-{i}");
                        // The write under the lock, the wait for its flush without it.
                        let (durable, shared) = {
                            let mut journal = lock(journal);
                            let seq = journal.next_seq();
                            let entries = [intent(seq, &address), done(seq, &address)];
                            (journal.append_all(&entries).unwrap(), journal.shared.clone())
                        };
                        let Durable(Some((_, end))) = &durable else {
                            panic!("a journal write is waited for")
                        };
                        let end = *end;
                        durable.wait().unwrap();
                        assert!(lock(&shared.progress).flushed >= end, "flushed past the write");
                    }
                });
            }
        });
        // A crash right now loses nothing: what a fresh reader finds is every write, whole.
        let read = read(&path).unwrap();
        assert_eq!(read.header, Some(h));
        assert!(!read.torn && read.damaged.is_empty());
        assert_eq!(read.entries.len(), threads * each * 2);
        for t in 0..threads {
            // Each writer's lines in its order, intent then outcome.
            let mine: Vec<&Entry> = read
                .entries
                .iter()
                .filter(|e| match e {
                    Entry::Intent { pending, .. } => pending.address.starts_with(&format!("prod/{t}-")),
                    Entry::Outcome { address, .. } => address.starts_with(&format!("prod/{t}-")),
                    Entry::Header(_) => false,
                })
                .collect();
            assert_eq!(mine.len(), each * 2);
            for (i, pair) in mine.chunks(2).enumerate() {
                let address = format!("prod/{t}-{i}");
                assert!(matches!(pair[0], Entry::Intent { pending, .. } if pending.address == address));
                assert!(matches!(pair[1], Entry::Outcome { address: a, .. } if *a == address));
            }
        }
        let seqs: BTreeSet<u64> = read
            .entries
            .iter()
            .map(|e| last_seq(std::slice::from_ref(e)))
            .collect();
        assert_eq!(seqs.len(), threads * each, "one sequence number per intent");
        drop(journal);
    }

    #[test]
    fn writes_waited_for_in_tasks_are_durable_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let journal = Arc::new(Mutex::new(Journal::open(&path, 0, &header()).unwrap()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..32 {
                let journal = journal.clone();
                tasks.spawn(async move {
                    for i in 0..5 {
                        let durable = {
                            let mut journal = lock(&journal);
                            let seq = journal.next_seq();
                            journal
                                .append_all(&[intent(seq, &format!("prod/{t}-{i}"))])
                                .unwrap()
                        };
                        durable.wait_async().await.unwrap();
                    }
                });
            }
            while let Some(joined) = tasks.join_next().await {
                joined.unwrap();
            }
        });
        let read = read(&path).unwrap();
        assert_eq!(read.entries.len(), 160);
        let mut state = State::new();
        replay(&mut state, &read.entries);
        assert_eq!(state.pending.len(), 160, "every intent is there, pending");
    }

    #[test]
    fn a_failed_flush_fails_every_write_it_did_not_cover_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut journal = Journal::open(&path, 0, &header()).unwrap();
        journal.append(&intent(1, "prod/a")).unwrap();
        // As the flushing thread records a failed fdatasync, while a write waits.
        let waiting = {
            let mut progress = lock(&journal.shared.progress);
            progress.written += 1;
            progress.failed = Some("Input/output error".into());
            Durable(Some((journal.shared.clone(), progress.written)))
        };
        journal.shared.flushed.notify_all();
        let err = waiting.wait().unwrap_err();
        assert!(err.to_string().contains("cannot flush the journal"), "{err}");
        assert!(journal.append(&intent(2, "prod/b")).is_err());
        assert!(journal.append_all(&[intent(3, "prod/c")]).is_err());
    }

    #[test]
    fn damaged_lines_are_skipped_and_reported_never_fatal() {
        let bytes = format!(
            "{}\ngarbage\n{}\n\u{0}\u{0}\n{}\n",
            serde_json::to_string(&Entry::Header(header())).unwrap(),
            serde_json::to_string(&intent(1, "prod/a")).unwrap(),
            serde_json::to_string(&intent(2, "prod/b")).unwrap(),
        );
        let read = parse(bytes.as_bytes());
        assert_eq!(read.damaged, vec![2, 4]);
        assert!(!read.torn);
        assert_eq!(read.entries.len(), 2);
    }

    fn dummy() -> Record {
        serde_json::from_value(serde_json::json!({
            "key": "a", "sandbox": "prod", "id": "i", "etag": null, "name": "n",
            "connectionSpec": {"id": "s", "version": "1.0"}, "authSpecName": "x", "params": {}, "state": "enabled"
        }))
        .unwrap()
    }
}
