//! The state file on disk: its bytes, its versions, and how it is replaced.
//!
//! A write never rewrites the file in place (Terraform's local state can be left truncated
//! that way, hashicorp/terraform#34266). It writes a temporary file in the same directory,
//! flushes it to disk, keeps the current file as the newest of a few rolling backups (a hard
//! link, so the file itself is never absent), renames the temporary file over it, and
//! flushes the directory. A crash at any point leaves the old content or the new, whole.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{FORMAT_VERSION, State};
use crate::atomic;

/// How many earlier versions are kept beside the state file.
pub const BACKUPS: usize = 3;

/// What can be wrong with a state file.
#[derive(Debug)]
pub enum StateError {
    /// Unreadable JSON, or not a state: nothing is overwritten.
    Corrupt {
        path: PathBuf,
        reason: String,
        backups: Vec<PathBuf>,
    },
    /// Written by a newer flowform.
    Newer {
        path: PathBuf,
        found: u64,
    },
    /// The file is gone but its backups are not: something deleted it.
    Missing {
        path: PathBuf,
        backups: Vec<PathBuf>,
    },
    /// Another flowform holds the lock.
    Locked {
        path: PathBuf,
        holder: String,
        /// How long this process waited (`--lock-timeout`).
        waited: std::time::Duration,
    },
    /// No state where one should be: only `flowform init` starts one.
    NotInitialized {
        path: PathBuf,
    },
    /// `FLOWFORM_DIGEST_KEY` is unusable.
    Digest(super::digest::DigestError),
    /// The file is not a flowform state at all (not JSON: a configuration file named by
    /// mistake, say).
    NotAState {
        path: PathBuf,
    },
    /// The state path is a directory.
    IsDirectory {
        path: PathBuf,
    },
    /// The state file is gone and its journal cannot rebuild it.
    JournalWithoutState {
        path: PathBuf,
        journal: PathBuf,
        /// The serial the journal began at, when it says.
        serial: Option<u64>,
    },
    /// The journal beside the state belongs to another state (another lineage).
    ForeignJournal {
        path: PathBuf,
        journal: PathBuf,
        found: String,
        expected: String,
    },
    Io {
        context: String,
        source: io::Error,
    },
    /// The PostgreSQL state (unreachable, moved, a connection owned elsewhere, …).
    Postgres(Box<super::postgres::error::PgError>),
}

impl StateError {
    /// The same error, naming the state by `shown` (as the user named it) rather than by its
    /// real path.
    pub fn named(self, shown: &Path) -> StateError {
        match self {
            StateError::Corrupt { reason, backups, .. } => StateError::Corrupt {
                path: shown.to_owned(),
                reason,
                backups,
            },
            StateError::NotAState { .. } => StateError::NotAState {
                path: shown.to_owned(),
            },
            StateError::Newer { found, .. } => StateError::Newer {
                path: shown.to_owned(),
                found,
            },
            StateError::Missing { backups, .. } => StateError::Missing {
                path: shown.to_owned(),
                backups,
            },
            other => other,
        }
    }

    /// Whether another state (in a shared database) manages the connection this one was
    /// about to record.
    pub fn is_owned_elsewhere(&self) -> bool {
        matches!(self, StateError::Postgres(e) if matches!(**e, super::postgres::error::PgError::Owned(_)))
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> StateError {
        let context = context.into();
        move |source| StateError::Io { context, source }
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Corrupt { path, reason, .. } => write!(
                f,
                "state file `{}` cannot be read: {reason}; nothing was changed",
                path.display()
            ),
            StateError::Newer { path, found } => write!(
                f,
                "state file `{}` is format version {found}, written by a newer flowform; this one reads up to version {FORMAT_VERSION}",
                path.display()
            ),
            StateError::Missing { path, backups } => write!(
                f,
                "state file `{}` is missing, but its backups exist ({}); refusing to start a new state that would forget every connection",
                path.display(),
                list(backups)
            ),
            StateError::Locked { path, holder, waited } if waited.is_zero() => {
                write!(f, "state `{}` is locked by {holder}", path.display())
            }
            StateError::Locked { path, holder, waited } => write!(
                f,
                "state `{}` is still locked by {holder} after waiting {:.1}s",
                path.display(),
                waited.as_secs_f64()
            ),
            StateError::Digest(e) => write!(f, "{e}"),
            StateError::NotAState { path } => write!(
                f,
                "`{}` is not a flowform state: it does not hold JSON; nothing was changed",
                path.display()
            ),
            StateError::IsDirectory { path } => {
                write!(f, "`{}` is a directory, not a state file", path.display())
            }
            StateError::JournalWithoutState {
                path,
                journal,
                serial,
            } => write!(
                f,
                "the state file `{}` is missing, but its journal `{}` is here{}; the journal holds only what happened since, so it cannot rebuild the state, and nothing was changed",
                path.display(),
                journal.display(),
                serial
                    .map(|s| format!(" (it began at serial {s})"))
                    .unwrap_or_default()
            ),
            StateError::NotInitialized { path } => write!(
                f,
                "there is no state at `{}`; flowform never starts an empty state by itself, since an empty state would create every connection again",
                path.display()
            ),
            StateError::ForeignJournal {
                path,
                journal,
                found,
                expected,
            } => write!(
                f,
                "the journal `{}` belongs to another state (lineage {found}) than `{}` (lineage {expected}); nothing was changed",
                journal.display(),
                path.display()
            ),
            StateError::Io { context, source } => {
                write!(f, "{context}: {}", crate::secret::io_reason(source))
            }
            StateError::Postgres(e) => write!(f, "{e}"),
        }
    }
}

impl StateError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            StateError::Corrupt { backups, .. } if backups.is_empty() => {
                "there is no backup; restore the file from version control".to_owned()
            }
            StateError::Corrupt { path, backups, .. } => format!(
                "the previous versions are {} (newest first); copy one over `{}` after checking it",
                list(backups),
                path.display()
            ),
            StateError::Newer { .. } => "upgrade flowform".to_owned(),
            StateError::Missing { path, .. } => format!(
                "copy the newest backup over `{}`, or delete the backups to start afresh",
                path.display()
            ),
            StateError::Locked { waited, .. } if waited.is_zero() => {
                "wait for it to finish, or pass `--lock-timeout 5m` to wait".to_owned()
            }
            StateError::Locked { .. } => {
                "wait for it to finish, or pass a longer `--lock-timeout`".to_owned()
            }
            StateError::Digest(e) => return e.help(),
            StateError::NotAState { .. } => {
                "check the project's `state` in `flowform.toml` (or `--state`): it names the state file, not a configuration file".to_owned()
            }
            StateError::IsDirectory { .. } => {
                "name the file in the project's `state` (e.g. `state = \"state/flowform.json\"`)".to_owned()
            }
            StateError::JournalWithoutState { path, .. } => format!(
                "restore `{}` (from version control, or a `.backup.N` beside it), then run flowform again: it folds the journal in",
                path.display()
            ),
            StateError::NotInitialized { .. } => {
                "run `flowform init` to start this project's state; if it existed before, restore it (from version control or its backups) instead".to_owned()
            }
            StateError::ForeignJournal { .. } => {
                "the state file was replaced since the journal was written: put back the state the journal belongs to (see its backups), let flowform fold the journal in, then replace it; moving the journal aside loses the ids it holds".to_owned()
            }
            // EROFS: a read-only file system.
            StateError::Io { source, .. }
                if source.kind() == io::ErrorKind::PermissionDenied || source.raw_os_error() == Some(30) =>
            {
                "flowform writes beside the state (its lock, journal and backups): the state's directory must be writable".to_owned()
            }
            StateError::Io { .. } => return None,
            StateError::Postgres(e) => return e.help(),
        })
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StateError::Digest(e) => Some(e),
            // The reason is in the message already (`io_reason`); the chain keeps the error.
            StateError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The state file's real path, symlinks resolved, for the lock, the journal and every write:
/// two paths to one file share one lock and one journal, and a symlink to the state stays a
/// symlink (the file it points to is what gets replaced). A file that does not exist yet is
/// placed in its directory's real path.
pub fn real_path(path: &Path) -> io::Result<PathBuf> {
    let mut path = std::path::absolute(path)?;
    // As many links as the OS follows before it gives up (Linux's MAXSYMLINKS).
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(_) => return fs::canonicalize(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                    return Ok(path);
                };
                return match fs::canonicalize(dir) {
                    Ok(dir) => Ok(dir.join(name)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

pub fn backup_path(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".backup.{n}"));
    PathBuf::from(name)
}

/// The backups that exist, newest first.
pub fn backups(path: &Path) -> Vec<PathBuf> {
    (1..=BACKUPS)
        .map(|n| backup_path(path, n))
        .filter(|p| p.exists())
        .collect()
}

/// The file's bytes: pretty JSON, keys sorted, a final newline. The same state always gives
/// the same bytes.
pub fn to_bytes(state: &State) -> Vec<u8> {
    // Through `Value`, whose maps are sorted, so every object's keys come out in order.
    let value = serde_json::to_value(state).unwrap_or(Value::Null);
    let mut bytes = serde_json::to_vec_pretty(&value).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Parses a state file's bytes, migrating older formats.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<State, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_owned(),
        reason,
        backups: backups(path),
    };
    // A state in this format reads straight into its type: half the work of reading a JSON
    // tree first. Anything else (an older format, a damaged file) takes the way below,
    // which says what is wrong.
    if let Ok(state) = serde_json::from_slice::<State>(bytes)
        && state.version == FORMAT_VERSION
    {
        return Ok(state);
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => {
            let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
            return Err(match first {
                None => corrupt("the file is empty".to_owned()),
                // JSON that broke (or a byte-order mark before it): a damaged state.
                Some(b'{' | b'[' | 0xef) => corrupt(format!("invalid JSON ({e})")),
                // Not JSON at all: another file named as the state.
                Some(_) => StateError::NotAState {
                    path: path.to_owned(),
                },
            });
        }
    };
    let version = value["version"]
        .as_u64()
        .ok_or_else(|| corrupt("no `version`".to_owned()))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(StateError::Newer {
            path: path.to_owned(),
            found: version,
        });
    }
    let value = migrate(value, version).map_err(corrupt)?;
    serde_json::from_value(value).map_err(|e| corrupt(format!("not a flowform state ({e})")))
}

/// Brings an older format up to date, one version at a time.
///
/// - 1 → 2: version 2 adds what version 1 lacked and reads it as absent: the organization the
///   state belongs to (`org`), records without a `state` (AEP has not said it yet), and
///   secret fingerprints that name their scheme (a bare one is version 1's salted SHA-256,
///   still read, and made anew on the next apply).
/// - 2 → 3: version 3 may remember the last saved plans applied (`appliedPlans`); a version
///   2 state has none.
/// - 3 → 4: version 4 holds resources of every kind (`resources`, each record with its
///   `kind`, its fields under `attrs` and the ids it `dependsOn`); version 3's
///   `connections` are base connections, read as such.
fn migrate(mut value: Value, version: u64) -> Result<Value, String> {
    let mut version = version;
    loop {
        match version {
            1 => {
                value["version"] = Value::from(2);
                version = 2;
            }
            2 => {
                value["version"] = Value::from(3);
                version = 3;
            }
            // Records of base connections alone, under `connections`: read as the base
            // connections they are (`state::record`), written back under `resources`.
            3 => {
                if let Some(connections) = value.as_object_mut().and_then(|o| o.remove("connections")) {
                    value["resources"] = connections;
                }
                value["version"] = Value::from(4);
                version = 4;
            }
            v if v == u64::from(FORMAT_VERSION) => return Ok(value),
            other => return Err(format!("unknown format version {other}")),
        }
    }
}

/// Reads the state file: `None` when there is none (and never was: no backups either).
pub fn read(path: &Path) -> Result<Option<(State, Vec<u8>)>, StateError> {
    match fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(|state| Some((state, bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let backups = backups(path);
            if backups.is_empty() {
                Ok(None)
            } else {
                Err(StateError::Missing {
                    path: path.to_owned(),
                    backups,
                })
            }
        }
        Err(e) => Err(StateError::io(format!(
            "cannot read state file `{}`",
            path.display()
        ))(e)),
    }
}

/// The steps of a write, for tests that crash after each one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    TempWritten,
    TempSynced,
    BackupsRotated,
    BackupLinked,
    Renamed,
    DirectorySynced,
}

pub const STEPS: [Step; 6] = [
    Step::TempWritten,
    Step::TempSynced,
    Step::BackupsRotated,
    Step::BackupLinked,
    Step::Renamed,
    Step::DirectorySynced,
];

/// Replaces the state file with `bytes`, atomically, keeping backups.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_until(path, bytes, None)
}

/// The write protocol, stopping after `crash_after` as a crash would (tests only pass one).
pub fn write_until(path: &Path, bytes: &[u8], crash_after: Option<Step>) -> Result<(), StateError> {
    let stop = |step: Step| crash_after == Some(step);
    let dir = atomic::dir_of(path);
    fs::create_dir_all(&dir).map_err(StateError::io(format!("cannot create `{}`", dir.display())))?;
    let io = |what: &str| StateError::io(format!("cannot {what} `{}`", path.display()));
    if stop(Step::TempWritten) {
        // A crash mid-write leaves a partial temporary file.
        let _ = fs::write(atomic::temp_path(path), &bytes[..bytes.len() / 2]);
        return Ok(());
    }
    let tmp = atomic::write_temp(path, bytes).map_err(io("write a temporary file beside"))?;
    if stop(Step::TempSynced) {
        return Ok(());
    }
    if path.exists() {
        for n in (1..BACKUPS).rev() {
            let from = backup_path(path, n);
            if from.exists() {
                fs::rename(&from, backup_path(path, n + 1)).map_err(io("rotate the backups of"))?;
            }
        }
        if stop(Step::BackupsRotated) {
            return Ok(());
        }
        let newest = backup_path(path, 1);
        let _ = fs::remove_file(&newest);
        // A hard link: the current file stays in place until the rename replaces it.
        if fs::hard_link(path, &newest).is_err() {
            fs::copy(path, &newest).map_err(io("back up"))?;
        }
        if stop(Step::BackupLinked) {
            return Ok(());
        }
    }
    fs::rename(&tmp, path).map_err(io("replace"))?;
    if stop(Step::Renamed) {
        return Ok(());
    }
    // The rename is durable only once the directory is flushed.
    atomic::sync_dir(&dir).map_err(io("flush the directory of"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Record;

    fn sample(serial: u64) -> State {
        let mut s = State::new();
        s.serial = serial;
        s.resources.insert("prod/acme".into(), {
            let mut r = Record::new(
                crate::kind::default(),
                "acme",
                "prod",
                "139f6a5f-a78b-4744-9f6a-5fa78bd74431",
                "ACME",
            )
            .with("connectionSpec.id", "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5")
            .with("connectionSpec.version", "1.0")
            .with("auth.specName", "Basic Authentication")
            .with("auth.params", serde_json::json!({"username": "u"}));
            r.etag = Some("\"3600e378-0000-0200-0000-5f40212f0000\"".into());
            r.secret_params = ["password".to_owned()].into();
            r.secrets_digest = Some("ab".repeat(32));
            r.state = Some("enabled".into());
            r.created_at = Some(1);
            r.updated_at = Some(2);
            r.protect = true;
            r.applied_at = Some(3);
            r
        });
        s
    }

    #[test]
    fn bytes_are_stable_sorted_and_round_trip() {
        let s = sample(4);
        let bytes = to_bytes(&s);
        assert_eq!(parse(Path::new("s.json"), &bytes).unwrap(), s);
        assert_eq!(to_bytes(&parse(Path::new("s.json"), &bytes).unwrap()), bytes);
        let text = String::from_utf8(bytes).unwrap();
        let (l, r, s_) = (
            text.find("\"lineage\"").unwrap(),
            text.find("\"resources\"").unwrap(),
            text.find("\"serial\"").unwrap(),
        );
        assert!(l < r && r < s_, "keys sorted:\n{text}");
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn a_crash_at_any_step_leaves_the_old_or_the_new_state_whole() {
        for step in STEPS {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.json");
            let (old, new) = (sample(1), sample(2));
            write(&path, &to_bytes(&old)).unwrap();
            write(&path, &to_bytes(&old)).unwrap();
            write_until(&path, &to_bytes(&new), Some(step)).unwrap();
            let (loaded, _) = read(&path).unwrap().expect("the state file is there");
            assert!(loaded == old || loaded == new, "{step:?}");
            if step >= Step::Renamed {
                assert_eq!(loaded, new, "{step:?}");
            } else {
                assert_eq!(loaded, old, "{step:?}");
            }
            // The next write goes through, whatever was left over.
            write(&path, &to_bytes(&new)).unwrap();
            assert_eq!(read(&path).unwrap().unwrap().0, new);
            assert!(backups(&path).len() >= 2, "{step:?}");
        }
    }

    #[test]
    fn backups_roll() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        for serial in 1..=6 {
            write(&path, &to_bytes(&sample(serial))).unwrap();
        }
        let serials: Vec<u64> = backups(&path)
            .iter()
            .map(|b| parse(b, &fs::read(b).unwrap()).unwrap().serial)
            .collect();
        assert_eq!(serials, [5, 4, 3]);
    }

    #[test]
    fn corrupt_newer_and_missing_files_are_refused_with_their_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        write(&path, &to_bytes(&sample(1))).unwrap();
        write(&path, &to_bytes(&sample(2))).unwrap();
        let whole = to_bytes(&sample(3));
        fs::write(&path, &whole[..whole.len() / 3]).unwrap();
        let err = read(&path).unwrap_err();
        let help = err.help().unwrap_or_default();
        assert!(
            err.to_string().contains("cannot be read: invalid JSON") && help.contains("s.json.backup.1"),
            "{err}\nhelp: {help}"
        );
        fs::write(&path, br#"{"version": 9}"#).unwrap();
        assert!(
            read(&path)
                .unwrap_err()
                .to_string()
                .contains("format version 9, written by a newer flowform")
        );
        fs::remove_file(&path).unwrap();
        assert!(matches!(read(&path).unwrap_err(), StateError::Missing { .. }));
        assert!(read(&dir.path().join("other.json")).unwrap().is_none());
    }
}
