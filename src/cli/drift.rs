//! `flowform drift`.

use super::TargetArgs;
use crate::ops::drift::DriftRequest;
use crate::ops::{Io, Outcome};
use crate::render::Format;
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to show the report: for a terminal, an issue, or a tool
    #[arg(long, default_value = "text", value_parser = super::args::format())]
    pub format: Format,
    /// Report unmanaged connections without counting them as drift
    #[arg(long)]
    pub ignore_unmanaged: bool,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = DriftRequest {
        target: args.target.target(),
        format: args.format,
        ignore_unmanaged: args.ignore_unmanaged,
    };
    crate::ops::drift::drift(&request, env, io)
}
