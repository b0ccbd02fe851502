//! The command line: flags become validated arguments, mapped to one request value of
//! [`crate::ops`] each; no command does more than that.
//!
//! stdout carries the product (summaries, schemas, plans); stderr carries diagnostics and
//! progress. Exit codes: 0 success, 1 error (including bad flags), 2 reserved for "changes
//! present" (`plan --detailed-exitcode`, `drift`), which is why usage errors are not 2 here.

mod apply;
mod args;
mod completions;
mod dashes;
mod drift;
mod emulator;
mod explore;
mod generate;
mod import;
mod init;
mod plan;
mod schema;
mod show;
mod state;
mod validate;
mod version;

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

pub use self::args::{ClientArgs, StateArgs, TargetArgs, duration};
use crate::ops::{Error, Exit, Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, Parser)]
#[command(
    name = "flowform",
    version = version::VERSION,
    about = "Declarative reconciler for Adobe Experience Platform Flow Service: base, source and target connections, and dataflows",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More detail on stderr: -v decisions, -vv every request, -vvv retries and tokens
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Run as if flowform was started in DIR (as `git -C` and `cargo -C` do)
    #[arg(short = 'C', long = "chdir", value_name = "DIR", global = true)]
    chdir: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make this directory a flowform project (`flowform.toml`) and start its state
    Init(Box<init::Args>),
    /// Check the configuration offline: structure, connection specs, params, secret references
    Validate(validate::Args),
    /// Show what apply would do: create, update, replace, delete or import resources
    Plan(Box<plan::Args>),
    /// Carry out a plan (planned now, or saved): create, update, replace, delete resources
    Apply(Box<apply::Args>),
    /// Delete everything flowform manages, dependents first (protected ones refuse)
    Destroy(Box<apply::DestroyArgs>),
    /// Take an existing resource under management, by the key that declares it
    Import(Box<import::Args>),
    /// List a base connection's tables, or one table's columns (what a source connection reads)
    Explore(Box<explore::Args>),
    /// Write configuration for what AEP has that the project does not manage yet
    Generate(Box<generate::Args>),
    /// Show a saved plan
    Show(show::Args),
    /// Compare AEP with the state, and list resources flowform does not manage (for cron)
    Drift(Box<drift::Args>),
    /// Print the JSON Schema of the configuration format (for editors)
    Schema(schema::Args),
    /// Serve a Flow Service emulator (AEP's connection API and IMS) until interrupted
    Emulator(Box<emulator::Args>),
    /// Look at and repair the state, without touching AEP
    State(state::Args),
    /// Print a shell's completion script (`flowform completions bash > …`)
    Completions(completions::Args),
    /// Print flowform's version and the commit it was built from
    Version,
}

/// Parses `args` and runs the command. Errors that are not about the user's input (a
/// failed write to stdout, say) come back as `Err` for `main` to print once.
pub fn run(args: impl IntoIterator<Item = OsString>, env: &Environment, io: &mut Io<'_>) -> Outcome {
    // `-out=plan.out` as Terraform spells it means `--out=plan.out`.
    let args = dashes::normalize(&Cli::command(), args.into_iter().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors; everything else clap refuses is bad input.
            let exit = if e.use_stderr() {
                Exit::Failure
            } else {
                Exit::Success
            };
            let text = e.render().to_string();
            if e.use_stderr() {
                write!(io.err, "{text}")?;
            } else {
                write!(io.out, "{text}")?;
            }
            return Ok(exit);
        }
    };
    crate::log::set_level(cli.verbose);
    if let Some(dir) = &cli.chdir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        return Err(Error::message(
            format!(
                "cannot run in `{}`: {}",
                dir.display(),
                crate::secret::io_reason(&e)
            ),
            None,
        ));
    }
    match cli.command {
        Command::Init(args) => init::run(&args, env, io),
        Command::Validate(args) => validate::run(&args, env, io),
        Command::Plan(args) => plan::run(&args, env, io),
        Command::Apply(args) => apply::run(&args, env, io),
        Command::Destroy(args) => apply::destroy(&args, env, io),
        Command::Import(args) => import::run(&args, env, io),
        Command::Explore(args) => explore::run(&args, env, io),
        Command::Generate(args) => generate::run(&args, env, io),
        Command::Show(args) => show::run(&args, io),
        Command::Drift(args) => drift::run(&args, env, io),
        Command::Schema(args) => schema::run(&args, io),
        Command::Emulator(args) => emulator::run(&args, io),
        Command::State(args) => state::run(&args, env, io),
        Command::Completions(args) => completions::run(&args, Cli::command(), io),
        Command::Version => version::run(io),
    }
}
