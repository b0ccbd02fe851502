//! `flowform state list | show | rm | mv`: look at and repair the state, never touching AEP.

use std::path::PathBuf;
use std::time::Duration;

use super::{Exit, Io};
use crate::diagnostic::did_you_mean;
use crate::settings::Environment;
use crate::state::Digester;
use crate::state::file::StateError;
use crate::state::lock::Holder;
use crate::state::store::{Locking, Missing, Store};
use crate::state::{self, State};

/// Which state file, and how to lock it; shared by every command that uses the state.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// State file [default: the project's, from `flowform.toml`]
    #[arg(long = "state", value_name = "PATH", global = true)]
    pub path: Option<PathBuf>,
    /// Wait this long for another flowform holding the state lock (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::duration, global = true)]
    pub lock_timeout: Duration,
    /// Take the state lock (`--lock=false` only for reading)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub lock: bool,
}

impl StateArgs {
    pub fn open_at(
        &self,
        path: &std::path::Path,
        write: bool,
        command: &str,
        env: &Environment,
        missing: Missing,
    ) -> Result<Store, StateError> {
        let locking = if write || self.lock {
            Locking::Wait(self.lock_timeout)
        } else {
            Locking::None
        };
        let digester = Digester::from_env(env).map_err(StateError::Digest)?;
        Ok(Store::open(path, locking, &Holder::me(command, env), missing)?.with_digester(digester))
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub state: StateArgs,
    /// The state `--emulator` runs keep, beside the project's state in `emulator/`
    #[arg(long, global = true)]
    pub emulator: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the managed connections
    List,
    /// Show what the state holds for one connection (digests, never secrets)
    Show {
        /// `sandbox/key`, or the key alone when it is unambiguous
        key: String,
    },
    /// Forget connections without touching them in AEP
    Rm {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Give a connection a new key without recreating it
    Mv { old: String, new: String },
}

fn not_found(state: &State, key: &str) -> String {
    let addresses: Vec<&str> = state.connections.keys().map(String::as_str).collect();
    let keys: Vec<&str> = state.connections.values().map(|r| r.key.as_str()).collect();
    // Compare like with like: an address with addresses, a key with keys.
    let candidates: Vec<&str> = if key.contains('/') { addresses } else { keys };
    let hint = did_you_mean(key, candidates.iter().copied())
        .map(|s| format!("\nhelp: did you mean `{s}`?"))
        .unwrap_or_else(|| "\nhelp: `flowform state list` shows what the state holds".to_owned());
    format!("error: the state has no connection `{key}`{hint}")
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let command = match &args.command {
        Command::List => "flowform state list".to_owned(),
        Command::Show { key } => format!("flowform state show {key}"),
        Command::Rm { keys } => format!("flowform state rm {}", keys.join(" ")),
        Command::Mv { old, new } => format!("flowform state mv {old} {new}"),
    };
    let writes = matches!(args.command, Command::Rm { .. } | Command::Mv { .. });
    // Reading the state needs no lock (and must work while an apply holds it).
    let mut state_args = args.state.clone();
    state_args.lock = writes;
    let scope = match super::session::Scope::settle_state(args.state.path.as_deref(), args.emulator) {
        Ok(scope) => scope,
        Err(e) => {
            writeln!(io.err, "{e}")?;
            return Ok(Exit::Failure);
        }
    };
    let mut store = match state_args.open_at(&scope.state, writes, &command, env, Missing::Refuse) {
        Ok(store) => store,
        Err(e) => {
            writeln!(io.err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    match &args.command {
        Command::List => {
            let state = store.state();
            if state.connections.is_empty() && state.pending.is_empty() {
                writeln!(
                    io.err,
                    "the state `{}` manages no connections",
                    store.path().display()
                )?;
            }
            let width = state.connections.keys().map(String::len).max().unwrap_or(0);
            for (address, r) in &state.connections {
                let protect = if r.protect { "  protected" } else { "" };
                writeln!(
                    io.out,
                    "{address:<width$}  {}  {:<12}  {}{protect}",
                    r.id,
                    r.state.as_deref().unwrap_or("-"),
                    r.name
                )?;
            }
            for p in &state.pending {
                writeln!(
                    io.out,
                    "{:<width$}  pending {:?} (interrupted; resolved at the next plan)",
                    p.address, p.action
                )?;
            }
        }
        Command::Show { key } => {
            let Some((address, record)) = store.state().find(key) else {
                writeln!(io.err, "{}", not_found(store.state(), key))?;
                return Ok(Exit::Failure);
            };
            let mut value = serde_json::to_value(record)?;
            value["address"] = serde_json::Value::String(address.clone());
            writeln!(io.out, "{}", serde_json::to_string_pretty(&value)?)?;
        }
        Command::Rm { keys } => {
            let mut addresses = Vec::new();
            for key in keys {
                match store.state().find(key) {
                    Some((address, _)) => addresses.push(address.clone()),
                    None => {
                        writeln!(io.err, "{}", not_found(store.state(), key))?;
                        return Ok(Exit::Failure);
                    }
                }
            }
            store.edit(|s| {
                for address in &addresses {
                    s.connections.remove(address);
                }
            })?;
            store.commit()?;
            for address in addresses {
                writeln!(
                    io.err,
                    "removed `{address}` from the state; the connection in AEP is untouched"
                )?;
            }
        }
        Command::Mv { old, new } => {
            let Some((old_address, record)) = store.state().find(old).map(|(a, r)| (a.clone(), r.clone()))
            else {
                writeln!(io.err, "{}", not_found(store.state(), old))?;
                return Ok(Exit::Failure);
            };
            let (sandbox, key) = match new.split_once('/') {
                Some((sandbox, key)) => (sandbox.to_owned(), key.to_owned()),
                None => (record.sandbox.clone(), new.clone()),
            };
            if sandbox != record.sandbox {
                writeln!(
                    io.err,
                    "error: `{old_address}` lives in sandbox `{}`; a key cannot move it to `{sandbox}`\nhelp: a connection in another sandbox is another connection: change the configuration and let flowform replace it",
                    record.sandbox
                )?;
                return Ok(Exit::Failure);
            }
            let new_address = state::address(&sandbox, &key);
            if store.state().connections.contains_key(&new_address) {
                writeln!(io.err, "error: the state already has `{new_address}`")?;
                return Ok(Exit::Failure);
            }
            store.edit(|s| {
                if let Some(mut r) = s.connections.remove(&old_address) {
                    r.key = key.clone();
                    s.connections.insert(new_address.clone(), r);
                }
            })?;
            store.commit()?;
            writeln!(io.err, "moved `{old_address}` to `{new_address}`")?;
        }
    }
    Ok(Exit::Success)
}
