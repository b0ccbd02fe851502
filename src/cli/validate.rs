//! `flowform validate`.

use std::path::PathBuf;

use super::ClientArgs;
use crate::ops::validate::ValidateRequest;
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration files or directories (repeatable); default: the project's (`flowform.toml`),
    /// outside a project `flowform.yaml`, else `connections/`
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Check secret references' syntax without resolving them (for runs without the secrets)
    #[arg(long)]
    pub skip_secrets: bool,
    /// Also check against AEP's live connection specs (needs credentials)
    #[arg(long)]
    pub live: bool,
    /// With --live: check against the in-process emulator instead of AEP
    #[arg(long, requires = "live")]
    pub emulator: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = ValidateRequest {
        config: args.config.clone(),
        skip_secrets: args.skip_secrets,
        live: args.live,
        emulator: args.emulator,
        client: args.client.overrides(),
    };
    crate::ops::validate::validate(&request, env, io)
}
