//! `flowform explore KEY [TABLE]`.

use super::TargetArgs;
use crate::ops::explore::ExploreRequest;
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A base connection: its key, or its id in AEP
    pub key: String,
    /// A table's path: show its columns
    pub table: Option<String>,
    /// `text` (the default) or `json`
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = ExploreRequest {
        key: args.key.clone(),
        table: args.table.clone(),
        json: args.format == "json",
        target: args.target.target(),
    };
    crate::ops::explore::explore(&request, env, io)
}
