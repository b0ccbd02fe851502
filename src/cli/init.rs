//! `flowform init`.

use std::path::PathBuf;

use super::StateArgs;
use crate::ops::init::InitRequest;
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project's configuration files or directories (repeatable) [default: connections]
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    /// Move the state at FROM (a path or a `postgres://` URL) to where the project's `state`
    /// now says it lives, keeping its lineage and serial; the old one is retired
    #[arg(long = "migrate-state", value_name = "FROM")]
    pub migrate_state: Option<PathBuf>,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = InitRequest {
        config: args.config.clone(),
        state: args.state.options(),
        migrate_from: args.migrate_state.clone(),
    };
    crate::ops::init::init(&request, env, io)
}
