//! `flowform drift`.

use super::TargetArgs;
use crate::ops::drift::DriftRequest;
use crate::ops::{Io, Outcome};
use crate::render::{Format, Sections};
use crate::settings::Environment;

/// A section of the drift report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Managed resources changed outside flowform (AEP against the state)
    Outside,
    /// The configuration not yet applied (the configuration against the state, secrets by
    /// fingerprint)
    Unapplied,
    /// Resources of the declared sandboxes and specs (and source and target connections on
    /// managed ones) that flowform does not manage
    Unmanaged,
    /// Managed dataflows whose last run failed or that are late
    Dataflows,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to show the report: for a terminal, an issue, or a tool
    #[arg(long, default_value = "text", value_parser = super::args::format())]
    pub format: Format,
    /// Check and report only this section (repeatable): outside, unapplied, unmanaged, dataflows [default: all four]
    #[arg(long, value_name = "SECTION", value_enum)]
    pub only: Vec<Section>,
    /// Report unmanaged resources without counting them as drift
    #[arg(long)]
    pub ignore_unmanaged: bool,
    /// Also ask AEP to test each managed base connection with its source (`GET
    /// /connections/{id}/test`), and report those whose credentials the source refuses
    #[arg(long)]
    pub check_credentials: bool,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let sections = if args.only.is_empty() {
        Sections::default()
    } else {
        Sections {
            outside: args.only.contains(&Section::Outside),
            unapplied: args.only.contains(&Section::Unapplied),
            unmanaged: args.only.contains(&Section::Unmanaged),
            dataflows: args.only.contains(&Section::Dataflows),
        }
    };
    let request = DriftRequest {
        target: args.target.target(),
        format: args.format,
        ignore_unmanaged: args.ignore_unmanaged,
        sections,
        check_credentials: args.check_credentials,
    };
    crate::ops::drift::drift(&request, env, io)
}
