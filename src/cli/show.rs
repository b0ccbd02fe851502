//! `flowform show FILE`.

use std::path::PathBuf;

use crate::ops::{Io, Outcome};
use crate::render::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `flowform plan --out FILE`
    pub file: PathBuf,
    /// How to show the plan: for a terminal, a pull-request comment, or a tool
    #[arg(long, default_value = "text", value_parser = super::args::format())]
    pub format: Format,
}

pub fn run(args: &Args, io: &mut Io<'_>) -> Outcome {
    crate::ops::plan::show(&args.file, args.format, io)
}
