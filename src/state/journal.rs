//! The journal beside the state file (`<state>.journal`): one JSON line per event, each
//! flushed to disk before flowform goes on.
//!
//! Before a mutating call to AEP flowform writes an *intent* (what it is about to do), and
//! after it an *outcome* (the id and etag it got, as the connection's new record). An id is
//! thus durable the moment it is known, at the cost of one small append rather than a
//! rewrite of the whole state. At the end of a run the journal is folded into the state file
//! and removed; after a crash it is replayed on load, and an intent with no outcome becomes a
//! pending mutation (a create the applier resolves by listing, instead of creating again —
//! Terraform's duplicates after a crash, hashicorp/terraform#24276).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::StateError;
use super::{Pending, Record, State};

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    /// About to send a mutating request.
    Intent { seq: u64, pending: Pending },
    /// What came of it.
    Outcome {
        seq: u64,
        address: String,
        result: Outcome,
    },
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

/// An open journal, for appending.
pub struct Journal {
    file: File,
    path: PathBuf,
    next_seq: u64,
}

impl Journal {
    pub fn open(path: &Path, next_seq: u64) -> Result<Journal, StateError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(StateError::io(format!(
                "cannot open the journal `{}`",
                path.display()
            )))?;
        Ok(Journal {
            file,
            path: path.to_owned(),
            next_seq,
        })
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Appends one entry and flushes it to disk before returning.
    pub fn append(&mut self, entry: &Entry) -> Result<(), StateError> {
        let mut line = serde_json::to_vec(entry).unwrap_or_default();
        line.push(b'\n');
        let io = StateError::io(format!("cannot write the journal `{}`", self.path.display()));
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(StateError::io(format!(
            "cannot flush the journal `{}`",
            self.path.display()
        )))
    }
}

/// Reads a journal. A last line cut short by a crash is dropped (its write never finished, so
/// nothing after it happened); a damaged line before the last is an error.
pub fn read(path: &Path) -> Result<Vec<Entry>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StateError::io(format!(
                "cannot read the journal `{}`",
                path.display()
            ))(e));
        }
    };
    let mut entries = Vec::new();
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let complete = lines.len() - 1; // the part after the last newline is incomplete (or empty)
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Entry>(line) {
            Ok(entry) if i < complete => entries.push(entry),
            // Unfinished: the crash came mid-write.
            _ if i == complete => {}
            Ok(_) | Err(_) => {
                return Err(StateError::Corrupt {
                    path: path.to_owned(),
                    reason: format!("line {} of the journal is damaged", i + 1),
                    backups: Vec::new(),
                });
            }
        }
    }
    Ok(entries)
}

/// Applies a journal to a state: outcomes update records; intents without an outcome (or
/// with an unknown one) become pending. Returns whether anything changed.
pub fn replay(state: &mut State, entries: &[Entry]) -> bool {
    let mut changed = false;
    let mut open: Vec<(u64, Pending)> = Vec::new();
    for entry in entries {
        match entry {
            Entry::Intent { seq, pending } => open.push((*seq, pending.clone())),
            Entry::Outcome { seq, address, result } => {
                let intent = open.iter().position(|(s, _)| s == seq).map(|i| open.remove(i).1);
                match result {
                    Outcome::Done { record } => {
                        match record {
                            Some(record) => {
                                state.connections.insert(address.clone(), (**record).clone());
                            }
                            None => {
                                state.connections.remove(address);
                            }
                        }
                        state.pending.retain(|p| p.address != *address);
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
            Entry::Intent { seq, .. } | Entry::Outcome { seq, .. } => *seq,
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Action;

    fn pending(address: &str, action: Action) -> Pending {
        Pending {
            address: address.into(),
            action,
            sandbox: "prod".into(),
            name: "n".into(),
            spec_id: "s".into(),
            started_at: 1,
            fingerprint: "f".into(),
        }
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_unanswered_intents_become_pending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json.journal");
        let mut journal = Journal::open(&path, 0).unwrap();
        let a = journal.next_seq();
        journal
            .append(&Entry::Intent {
                seq: a,
                pending: pending("prod/a", Action::Create),
            })
            .unwrap();
        journal
            .append(&Entry::Outcome {
                seq: a,
                address: "prod/a".into(),
                result: Outcome::Done { record: None },
            })
            .unwrap();
        let b = journal.next_seq();
        journal
            .append(&Entry::Intent {
                seq: b,
                pending: pending("prod/b", Action::Create),
            })
            .unwrap();
        drop(journal);
        // A crash while writing b's outcome.
        let mut torn = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        torn.write_all(br#"{"kind":"outcome","seq":2,"addr"#).unwrap();
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 3);
        let mut state = State::new();
        state.connections.insert("prod/a".into(), dummy());
        assert!(replay(&mut state, &entries));
        assert!(!state.connections.contains_key("prod/a"));
        assert_eq!(state.pending, vec![pending("prod/b", Action::Create)]);
        // Replaying again changes nothing.
        assert!(!replay(&mut state, &entries) || state.pending.len() == 1);
        assert_eq!(last_seq(&entries), 2);
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, "garbage\n{\"kind\":\"outcome\",\"seq\":1,\"address\":\"a\",\"result\":{\"status\":\"failed\"}}\n").unwrap();
        assert!(
            read(&path)
                .unwrap_err()
                .to_string()
                .contains("line 1 of the journal is damaged")
        );
    }

    fn dummy() -> Record {
        serde_json::from_value(serde_json::json!({
            "key": "a", "sandbox": "prod", "id": "i", "etag": null, "name": "n",
            "connectionSpec": {"id": "s", "version": "1.0"}, "authSpecName": "x", "params": {}, "state": "enabled"
        }))
        .unwrap()
    }
}
