//! `flowform completions SHELL`: the shell's completion script, generated from the same
//! command line definition that parses the flags, so it never lags behind them.

use crate::ops::{Exit, Io, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

pub fn run(args: &Args, mut command: clap::Command, io: &mut Io<'_>) -> Outcome {
    // Generated into memory first, so a closed pipe is an io error main knows, not a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "flowform", &mut script);
    io.out.write_all(&script)?;
    Ok(Exit::Success)
}
