//! `flowform apply` and `flowform destroy`.

use std::path::PathBuf;
use std::time::Duration;

use super::TargetArgs;
use crate::ops::apply::{ApplyRequest, DestroyRequest};
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `flowform plan --out FILE`: applied as it is, or refused if stale
    #[arg(value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Skip the confirmation prompt
    #[arg(long)]
    pub auto_approve: bool,
    /// Change nothing in AEP: make the state match what AEP has (after a deliberate change in
    /// the AEP UI)
    #[arg(long)]
    pub refresh_only: bool,
    /// How long a new connection may take to go from `initializing` to `enabled`
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::duration)]
    pub wait_timeout: Duration,
    /// Replace this resource (key, kind:key or sandbox/kind:key; repeatable) even though
    /// nothing forces it: create it anew, then delete the old one, as Terraform's -replace
    #[arg(long, value_name = "KEY", conflicts_with_all = ["plan", "refresh_only"])]
    pub replace: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Skip the confirmation prompt
    #[arg(long)]
    pub auto_approve: bool,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = ApplyRequest {
        plan: args.plan.clone(),
        target: args.target.target(),
        auto_approve: args.auto_approve,
        refresh_only: args.refresh_only,
        wait_timeout: args.wait_timeout,
        replace: args.replace.clone(),
    };
    crate::ops::apply::apply(&request, env, io)
}

pub fn destroy(args: &DestroyArgs, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = DestroyRequest {
        target: args.target.target(),
        auto_approve: args.auto_approve,
    };
    crate::ops::apply::destroy(&request, env, io)
}
