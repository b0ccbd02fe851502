//! `flowform plan`.

use std::path::PathBuf;

use super::TargetArgs;
use crate::ops::plan::PlanRequest;
use crate::ops::{Io, Outcome};
use crate::render::Format;
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Save the plan to apply it later with `flowform apply FILE` (no secrets are saved)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// How to show the plan: for a terminal, a pull-request comment, or a tool
    #[arg(long, default_value = "text", value_parser = super::args::format())]
    pub format: Format,
    /// Exit 0 with no changes, 2 with changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan the deletion of every managed resource (save it with --out, review it, and
    /// carry it out with `flowform apply FILE`)
    #[arg(long)]
    pub destroy: bool,
    /// Replace this resource (key, kind:key or sandbox/kind:key; repeatable) even though
    /// nothing forces it: create it anew, then delete the old one, as Terraform's -replace
    #[arg(long, value_name = "KEY", conflicts_with = "destroy")]
    pub replace: Vec<String>,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = PlanRequest {
        target: args.target.target(),
        out: args.out.clone(),
        format: args.format,
        detailed_exitcode: args.detailed_exitcode,
        destroy: args.destroy,
        replace: args.replace.clone(),
    };
    crate::ops::plan::plan(&request, env, io)
}
