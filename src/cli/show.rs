//! `flowform show FILE`: a saved plan, in any format.

use std::path::PathBuf;

use super::{Exit, Io};
use crate::render::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `flowform plan --out FILE`
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: &Args, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let plan = match super::plan::load(&args.file) {
        Ok(plan) => plan,
        Err(e) => {
            writeln!(io.err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    let see_all = format!("`flowform show {}`", args.file.display());
    io.product(&super::plan::render(&plan, args.format, &see_all))?;
    Ok(Exit::Success)
}
