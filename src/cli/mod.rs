//! The command line: flags become validated arguments, and each command is a thin adapter
//! over one library operation.
//!
//! stdout carries the product (summaries, schemas, later plans); stderr carries diagnostics
//! and progress. Exit codes: 0 success, 1 error (including bad flags), 2 reserved for
//! "changes present" (`plan --detailed-exitcode`), which is why usage errors are not 2 here.

mod apply;
mod drift;
mod emulator;
mod import;
mod init;
pub mod plan;
mod schema;
pub mod session;
mod show;
pub mod state;
mod validate;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

use crate::settings::Environment;

#[derive(Debug, Parser)]
#[command(
    name = "flowform",
    version,
    about = "Declarative reconciler for Adobe Experience Platform Flow Service base connections",
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

/// Where AEP is and how hard to push it; shared by the commands that talk to it.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Flow Service base URL [env: FLOWFORM_ENDPOINT] [default: https://platform.adobe.io/data/foundation/flowservice]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// IMS base URL for OAuth server-to-server tokens [env: AEP_IMS_URL] [default: https://ims-na1.adobelogin.com]
    #[arg(long, value_name = "URL")]
    pub ims_url: Option<String>,
    /// Requests to AEP in flight at most (the limit halves on 429 and recovers) [default: 8]
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// Requests to AEP per second at most
    #[arg(long, value_name = "N")]
    pub requests_per_second: Option<f64>,
    /// The most the command may spend talking to AEP, retries and waits included (e.g. 90s, 30m) [default: 30m]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<std::time::Duration>,
}

impl ClientArgs {
    pub fn overrides(&self) -> crate::flow::settings::Overrides {
        crate::flow::settings::Overrides {
            endpoint: self.endpoint.clone(),
            ims_url: self.ims_url.clone(),
            parallelism: self.parallelism,
            requests_per_second: self.requests_per_second,
            timeout: self.timeout,
        }
    }

    /// `--timeout`, or its default.
    pub fn command_timeout(&self) -> std::time::Duration {
        self.timeout
            .unwrap_or(crate::flow::limits::DEFAULT_COMMAND_TIMEOUT)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make this directory a flowform project (`flowform.toml`) and start its state
    Init(Box<init::Args>),
    /// Check the configuration offline: structure, connection specs, params, secret references
    Validate(validate::Args),
    /// Show what apply would do: create, update, replace, delete or import connections
    Plan(Box<plan::Args>),
    /// Carry out a plan (planned now, or saved): create, update, replace, delete connections
    Apply(Box<apply::Args>),
    /// Delete every connection flowform manages (protected ones refuse)
    Destroy(Box<apply::DestroyArgs>),
    /// Take an existing connection under management, by the key that declares it
    Import(Box<import::Args>),
    /// Show a saved plan
    Show(show::Args),
    /// Compare AEP with the state, and list connections flowform does not manage (for cron)
    Drift(Box<drift::Args>),
    /// Print the JSON Schema of the configuration format (for editors)
    Schema(schema::Args),
    /// Serve a Flow Service emulator (AEP's connection API and IMS) until interrupted
    Emulator(Box<emulator::Args>),
    /// Look at and repair the state, without touching AEP
    State(state::Args),
}

/// How the process should exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    /// `plan --detailed-exitcode` with changes; `drift` with drift.
    Changes = 2,
}

/// Where commands write: the product to `out`, everything else to `err`.
pub struct Io<'a> {
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
    /// Whether `out` takes ANSI colour (a terminal, and `NO_COLOR` unset).
    pub color: bool,
}

impl Io<'_> {
    /// Writes a render to stdout, without its colour unless the terminal takes it.
    pub fn product(&mut self, text: &str) -> std::io::Result<()> {
        if self.color {
            self.out.write_all(text.as_bytes())
        } else {
            write!(self.out, "{}", anstream::adapter::strip_str(text))
        }
    }
}

/// Parses `args` and runs the command. Errors that are not about the user's input (a
/// failed write to stdout, say) come back as `Err` for `main` to print once.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    env: &Environment,
    io: &mut Io<'_>,
) -> anyhow::Result<Exit> {
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
        writeln!(
            io.err,
            "error: cannot run in `{}`: {}",
            dir.display(),
            crate::secret::io_reason(&e)
        )?;
        return Ok(Exit::Failure);
    }
    match cli.command {
        Command::Init(args) => init::run(&args, env, io),
        Command::Validate(args) => validate::run(&args, env, io),
        Command::Plan(args) => plan::run(&args, env, io),
        Command::Apply(args) => apply::run(&args, env, io),
        Command::Destroy(args) => apply::destroy(&args, env, io),
        Command::Import(args) => import::run(&args, env, io),
        Command::Show(args) => show::run(&args, io),
        Command::Drift(args) => drift::run(&args, env, io),
        Command::Schema(args) => schema::run(&args, io),
        Command::Emulator(args) => emulator::run(&args, io),
        Command::State(args) => state::run(&args, env, io),
    }
}

/// Parses `500ms`, `30s`, `5m`, `1h`, or a number of seconds.
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30s or 5m"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("`{text}` is not a duration such as 30s or 5m")),
    };
    std::time::Duration::try_from_secs_f64(seconds)
        .map_err(|_| format!("`{text}` is not a duration flowform can wait"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(super::duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(super::duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(super::duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(super::duration("2"), Ok(Duration::from_secs(2)));
        assert!(super::duration("soon").is_err());
        assert!(super::duration("5d").is_err());
        assert!(super::duration("99999999999999999999h").is_err());
    }
}
