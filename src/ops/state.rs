//! `state list | show | rm | mv | pull | push`: look at and repair the state, never touching
//! AEP.

use std::io::Read as _;

use crate::render::rfc3339;
use serde_json::Value;

use super::scope::{Scope, open_state};
use super::{Error, Exit, Io, Outcome, StateOptions};
use crate::diagnostic::did_you_mean;
use crate::settings::Environment;
use crate::state::store::Missing;
use crate::state::{self, State};

/// What to do with the state.
#[derive(Clone, Debug)]
pub enum StateCommand {
    List,
    Show {
        key: String,
    },
    Rm {
        keys: Vec<String>,
    },
    Mv {
        old: String,
        new: String,
    },
    /// The whole state, as a state file, on stdout.
    Pull,
    /// Replace the state with a state file's.
    Push {
        file: std::path::PathBuf,
        force: bool,
    },
}

/// `flowform state …`.
#[derive(Clone, Debug)]
pub struct StateRequest {
    pub command: StateCommand,
    pub state: StateOptions,
    /// The state `--emulator` runs keep.
    pub emulator: bool,
}

fn not_found(state: &State, key: &str) -> Error {
    let addresses: Vec<&str> = state.resources.keys().map(String::as_str).collect();
    let keys: Vec<&str> = state.resources.values().map(|r| r.key.as_str()).collect();
    // Compare like with like: an address with addresses, a key with keys.
    let candidates: Vec<&str> = if key.contains('/') { addresses } else { keys };
    let help = did_you_mean(key, candidates.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| "`flowform state list` shows what the state holds".to_owned());
    Error::message(format!("the state has no resource `{key}`"), Some(help))
}

pub fn state(request: &StateRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let command = match &request.command {
        StateCommand::List => "flowform state list".to_owned(),
        StateCommand::Show { key } => format!("flowform state show {key}"),
        StateCommand::Rm { keys } => format!("flowform state rm {}", keys.join(" ")),
        StateCommand::Mv { old, new } => format!("flowform state mv {old} {new}"),
        StateCommand::Pull => "flowform state pull".to_owned(),
        StateCommand::Push { file, .. } => format!("flowform state push {}", file.display()),
    };
    let writes = matches!(
        request.command,
        StateCommand::Rm { .. } | StateCommand::Mv { .. } | StateCommand::Push { .. }
    );
    // Reading the state needs no lock (and must work while an apply holds it).
    let mut options = request.state.clone();
    options.lock = writes;
    let scope =
        Scope::settle_state(request.state.path.as_deref(), request.emulator).map_err(|e| e.report(io))?;
    let mut store = open_state(&options, &scope.state, writes, &command, env, Missing::Refuse)?;
    match &request.command {
        StateCommand::List => {
            let state = store.state();
            if state.resources.is_empty() && state.pending.is_empty() {
                writeln!(io.err, "the state `{}` manages nothing", store.shown())?;
            }
            let width = state.resources.keys().map(String::len).max().unwrap_or(0);
            for (address, r) in &state.resources {
                let protect = if r.protect { "  protected" } else { "" };
                writeln!(
                    io.out,
                    "{address:<width$}  {}  {:<12}  {}{protect}",
                    r.id,
                    r.state.as_ref().map_or("-", |s| s.as_str()),
                    r.name
                )?;
            }
            for p in &state.pending {
                writeln!(
                    io.out,
                    "{:<width$}  pending {} (interrupted; resolved at the next plan)",
                    p.address,
                    p.action.verb()
                )?;
            }
        }
        StateCommand::Show { key } => {
            let Some((address, record)) = store.state().find(key) else {
                return Err(not_found(store.state(), key));
            };
            let mut value = serde_json::to_value(record)?;
            value["address"] = Value::String(address.clone());
            for field in ["createdAt", "updatedAt", "appliedAt"] {
                if let Some(text) = value[field].as_i64().and_then(rfc3339) {
                    value[field] = Value::String(text);
                }
            }
            writeln!(io.out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        StateCommand::Rm { keys } => {
            let mut addresses = Vec::new();
            for key in keys {
                match store.state().find(key) {
                    Some((address, _)) => addresses.push(address.clone()),
                    None => return Err(not_found(store.state(), key)),
                }
            }
            store.edit(|s| {
                for address in &addresses {
                    s.resources.remove(address);
                }
            })?;
            store.commit()?;
            for address in addresses {
                writeln!(
                    io.err,
                    "removed `{address}` from the state; the {} in AEP is untouched",
                    crate::kind::address::kind_of(&address).noun
                )?;
            }
        }
        StateCommand::Mv { old, new } => {
            let Some((old_address, record)) = store.state().find(old).map(|(a, r)| (a.clone(), r.clone()))
            else {
                return Err(not_found(store.state(), old));
            };
            let (sandbox, key) = match new.split_once('/') {
                Some((sandbox, key)) => (sandbox.to_owned(), key.to_owned()),
                None => (record.sandbox.clone(), new.clone()),
            };
            // `kind:key` names the kind it already is; a key moves within its kind.
            let key = match key.split_once(':') {
                Some((kind, key)) if kind == record.kind.name => key.to_owned(),
                _ => key,
            };
            if sandbox != record.sandbox {
                return Err(Error::message(
                    format!(
                        "`{old_address}` lives in sandbox `{}`; a key cannot move it to `{sandbox}`",
                        record.sandbox
                    ),
                    Some("a connection in another sandbox is another connection: change the configuration and let flowform replace it".to_owned()),
                ));
            }
            if !crate::config::is_valid_key(&key) {
                return Err(Error::message(
                    format!("`{key}` is not a valid {} key", record.kind.noun),
                    Some(crate::config::KEY_RULE.to_owned()),
                ));
            }
            let new_address = crate::kind::address::format(record.kind, &sandbox, &key);
            if store.state().resources.contains_key(&new_address) {
                return Err(Error::message(
                    format!("the state already has `{new_address}`"),
                    None,
                ));
            }
            store.edit(|s| {
                if let Some(mut r) = s.resources.remove(&old_address) {
                    r.key = key.clone();
                    s.resources.insert(new_address.clone(), r);
                }
            })?;
            store.commit()?;
            writeln!(io.err, "moved `{old_address}` to `{new_address}`")?;
        }
        StateCommand::Pull => {
            io.out.write_all(&state::file::to_bytes(store.state()))?;
        }
        StateCommand::Push { file, force } => {
            let pushed = read_pushed(file)?;
            let current = store.state();
            let blank = store.is_blank();
            if !force && !blank && pushed.lineage != current.lineage {
                return Err(Error::message(
                    format!(
                        "`{}` is another state (lineage {}) than `{}` (lineage {}); nothing was changed",
                        file.display(),
                        pushed.lineage,
                        store.shown(),
                        current.lineage
                    ),
                    Some("push a state of this lineage (`flowform state pull` gives one), or `--force` to replace it with another".to_owned()),
                ));
            }
            if !force && !blank && pushed.serial <= current.serial && pushed.resources != current.resources {
                return Err(Error::message(
                    format!(
                        "`{}` is at serial {}, and `{}` has moved on to serial {}: pushing it would undo what was recorded since; nothing was changed",
                        file.display(),
                        pushed.serial,
                        store.shown(),
                        current.serial
                    ),
                    Some("pull the state again and make the change on that, or `--force` to push this one anyway".to_owned()),
                ));
            }
            store.replace(&pushed)?;
            writeln!(
                io.err,
                "pushed `{}` to `{}`: {} resources, serial {}",
                file.display(),
                store.shown(),
                pushed.resources.len(),
                pushed.serial
            )?;
        }
    }
    Ok(Exit::Success)
}

/// The state file to push (`-`: stdin), read as any state file is (older formats migrated).
fn read_pushed(file: &std::path::Path) -> Result<State, Error> {
    let bytes = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().take(64 * 1024 * 1024), &mut bytes)?;
        bytes
    } else {
        std::fs::read(file).map_err(|e| {
            Error::message(
                format!(
                    "cannot read `{}`: {}",
                    file.display(),
                    crate::secret::io_reason(&e)
                ),
                None,
            )
        })?
    };
    Ok(state::file::parse(file, &bytes)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_rfc_3339() {
        assert_eq!(super::rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            super::rfc3339(1_795_947_141_213).as_deref(),
            Some("2026-11-29T10:12:21Z")
        );
        assert_eq!(
            super::rfc3339(951_782_400_000).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(super::rfc3339(-5), None);
        assert!(super::rfc3339(i64::MAX).is_some());
    }
}
