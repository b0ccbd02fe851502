//! The state lock: a separate `<state>.lock` file (renaming the state file on every write
//! would break a lock held on the state file itself), locked with the OS's advisory lock.
//! The OS releases it when the process dies, so a crash never leaves a stale lock. The
//! holder writes who it is inside, for the message another process shows.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::file::StateError;
use crate::settings::Environment;

/// Who holds the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub user: String,
    pub command: String,
    pub started: String,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str, env: &Environment) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .or_else(|| env.var("HOSTNAME").map(str::to_owned))
            .unwrap_or_else(|| "unknown host".to_owned());
        let user = env
            .var("USER")
            .or(env.var("USERNAME"))
            .unwrap_or("unknown user")
            .to_owned();
        Holder {
            pid: std::process::id(),
            host,
            user,
            command: command.to_owned(),
            started: httpdate::fmt_http_date(SystemTime::now()),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` (pid {}, {}@{}, since {})",
            self.command, self.pid, self.user, self.host, self.started
        )
    }
}

pub fn path_for(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// A held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct Lock {
    file: File,
}

impl Lock {
    /// Takes the lock on `state`'s lock file, waiting up to `timeout` for another holder.
    /// `state` is the state's real path (symlinks resolved, so that every path to one state
    /// meets one lock); `shown` names it in messages.
    pub fn acquire(
        state: &Path,
        shown: &Path,
        holder: &Holder,
        timeout: Duration,
    ) -> Result<Lock, StateError> {
        let path = path_for(state);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(StateError::io(format!("cannot create `{}`", dir.display())))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StateError::io(format!(
                "cannot open the lock file `{}`",
                path.display()
            )))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(100).min(timeout));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    let holder = serde_json::from_str::<Holder>(&text)
                        .map_or_else(|_| "another flowform process".to_owned(), |h| h.to_string());
                    return Err(StateError::Locked {
                        path: shown.to_owned(),
                        holder,
                        waited: timeout,
                    });
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(StateError::io(format!("cannot lock `{}`", path.display()))(e));
                }
            }
        }
        // Ours now: say who we are.
        let info = serde_json::to_vec(holder).unwrap_or_default();
        let written = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&info))
            .and_then(|()| file.sync_data());
        written.map_err(StateError::io(format!(
            "cannot write the lock file `{}`",
            path.display()
        )))?;
        Ok(Lock { file })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Leave no holder's name behind; the OS lock goes with the file handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_who_holds_it_and_can_take_it_after() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s.json");
        let env = Environment::from_pairs([("USER", "alice")]);
        let first = Lock::acquire(
            &state,
            &state,
            &Holder::me("flowform apply", &env),
            Duration::ZERO,
        )
        .unwrap();
        let err = Lock::acquire(
            &state,
            &state,
            &Holder::me("flowform plan", &env),
            Duration::from_millis(150),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("is still locked by `flowform apply` (pid "),
            "{text}"
        );
        assert!(text.contains("after waiting 0.1s"), "{text}");
        assert!(text.contains("alice@"), "{text}");
        drop(first);
        Lock::acquire(&state, &state, &Holder::me("flowform plan", &env), Duration::ZERO).unwrap();
    }
}
