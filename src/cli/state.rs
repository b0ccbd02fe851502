//! `flowform state list | show | rm | mv | pull | push`.

use super::StateArgs;
use crate::ops::state::{StateCommand, StateRequest};
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

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
    /// List the managed resources
    List,
    /// Show what the state holds for one resource (digests, never secrets)
    Show {
        /// `key`, `kind:key` or `sandbox/kind:key` (a bare key names the base connection of that key)
        key: String,
    },
    /// Forget resources without touching them in AEP
    Rm {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Give a resource a new key without recreating it
    Mv { old: String, new: String },
    /// Print the whole state, as a state file, to stdout (a backup, or a look at a shared state)
    Pull,
    /// Replace the state with a state file (refused for another lineage or an older serial)
    Push {
        /// The state file (`-` for stdin)
        file: std::path::PathBuf,
        /// Push even an older serial or another lineage (what the state holds now is lost)
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let command = match &args.command {
        Command::List => StateCommand::List,
        Command::Show { key } => StateCommand::Show { key: key.clone() },
        Command::Rm { keys } => StateCommand::Rm { keys: keys.clone() },
        Command::Mv { old, new } => StateCommand::Mv {
            old: old.clone(),
            new: new.clone(),
        },
        Command::Pull => StateCommand::Pull,
        Command::Push { file, force } => StateCommand::Push {
            file: file.clone(),
            force: *force,
        },
    };
    let request = StateRequest {
        command,
        state: args.state.options(),
        emulator: args.emulator,
    };
    crate::ops::state::state(&request, env, io)
}
