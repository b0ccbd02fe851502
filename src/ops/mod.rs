//! The operations under the command line: what each command does, with no command-line
//! parsing in sight (cargo's `ops` under its `commands`). A `cli/` file maps its flags to
//! one of the request values here and calls one operation; the operation reports on an
//! [`Io`] and ends with an [`Exit`], or an [`Error`] that says what went wrong, once, with its
//! `help`.
//!
//! - [`scope`]: which configuration and which state a command works on (the project).
//! - [`session`]: what the planning commands share: load, open the state, connect, plan
//!   (with `reading`: progress on a terminal while the refresh reads AEP).
//! - [`apply`] (apply, destroy), [`plan`] (plan, show, saved plans), [`drift`], [`generate`], [`import`],
//!   [`init`], [`state`], [`validate`], [`emulator`]: one operation each.

pub(crate) mod apply;
mod approve;
pub(crate) mod drift;
pub(crate) mod emulator;
mod error;
pub(crate) mod explore;
pub(crate) mod generate;
pub mod health;
pub(crate) mod import;
pub(crate) mod init;
pub(crate) mod plan;
mod reading;
pub(crate) mod scope;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod validate;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

pub use self::error::{Error, Help, render_error};
use crate::flow::settings::Overrides;

/// How the process should exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    /// `plan --detailed-exitcode` with changes; `drift` with drift.
    Changes = 2,
    /// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

/// What an operation ends with.
pub type Outcome = Result<Exit, Error>;

/// Where operations write: the product to `out`, everything else to `err`.
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
            // Stripped first and written at once: stdout is line-buffered, and written piece
            // by piece a plan of thousands of lines would cost a system call per line.
            let stripped = anstream::adapter::strip_str(text).to_string();
            self.out.write_all(stripped.as_bytes())
        }
    }
}

/// Which state file, and how to lock it.
#[derive(Clone, Debug)]
pub struct StateOptions {
    /// `--state`: the project's own, or outside a project the one to use.
    pub path: Option<PathBuf>,
    /// `--lock-timeout`: how long to wait for another holder.
    pub lock_timeout: Duration,
    /// `--lock=false`: read without the lock (read-only commands only).
    pub lock: bool,
}

impl Default for StateOptions {
    fn default() -> StateOptions {
        StateOptions {
            path: None,
            lock_timeout: Duration::ZERO,
            lock: true,
        }
    }
}

/// What every planning command takes: which configuration and state, how to reach AEP.
#[derive(Clone, Debug)]
pub struct Target {
    /// `-c`: narrow the plan to these of the project's configuration files.
    pub config: Vec<PathBuf>,
    pub state: StateOptions,
    pub client: Overrides,
    /// Read AEP before planning (`--refresh=false`: plan from the state alone).
    pub refresh: bool,
    /// `--target`: limit the plan to these keys or addresses.
    pub targets: Vec<String>,
    /// `--emulator`: the in-process emulator, with a state of its own.
    pub emulator: bool,
}
