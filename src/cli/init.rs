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
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = InitRequest {
        config: args.config.clone(),
        state: args.state.options(),
    };
    crate::ops::init::init(&request, env, io)
}
