//! `flowform generate`.

use std::path::PathBuf;

use super::ClientArgs;
use crate::ops::generate::GenerateRequest;
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sandboxes to read (repeatable, or comma-separated); default: those the
    /// configuration names
    #[arg(long = "sandbox", value_name = "NAME")]
    pub sandboxes: Vec<String>,
    /// Only base connections (and what reads through them) of this source: salesforce, microsoft-dynamics, hubspot, veeva-crm,
    /// zoho-crm (repeatable)
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Only connections of this connection spec id (repeatable)
    #[arg(long = "spec", value_name = "ID")]
    pub specs: Vec<String>,
    /// Only resources whose own name matches this pattern (`*` any text, `?` one character;
    /// case matters; repeatable); a dataflow kept brings what it joins
    #[arg(long = "name", value_name = "PATTERN")]
    pub names: Vec<String>,
    /// Write the files (`<sandbox>.yaml`) here [default: the project's configuration directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write over files that exist (never over one that declares managed resources)
    #[arg(long)]
    pub force: bool,
    /// Read the in-process emulator (the `--emulator` demo's data) instead of AEP
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = GenerateRequest {
        sandboxes: args.sandboxes.clone(),
        sources: args.sources.clone(),
        specs: args.specs.clone(),
        names: args.names.clone(),
        out: args.out.clone(),
        force: args.force,
        client: args.client.overrides(),
        emulator: args.emulator,
    };
    crate::ops::generate::generate(&request, env, io)
}
