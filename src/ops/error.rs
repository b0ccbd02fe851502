//! How an operation fails: cargo's `CliError`. An [`Error`] carries its exit code and, unless
//! the operation already reported it (configuration diagnostics, a plan's own errors), the
//! error to print. Errors keep their fix apart from their message ([`Help`]); the one place
//! that prints them ([`render_error`]) adds it as a `help:` line.

use std::io::Write;

use super::Exit;

/// Why a command did not succeed.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    /// What to say; `None` when it was said already.
    pub cause: Option<anyhow::Error>,
}

impl Error {
    /// Already reported: end with `exit`, saying nothing more.
    pub fn reported(exit: Exit) -> Error {
        Error { exit, cause: None }
    }

    /// A message of the command's own (lowercase, names in backticks), with its fix.
    pub fn message(message: impl Into<String>, help: Option<String>) -> Error {
        Error::from(Message {
            message: message.into(),
            help,
        })
    }
}

impl<E> From<E> for Error
where
    E: Into<anyhow::Error>,
{
    fn from(e: E) -> Error {
        Error {
            exit: Exit::Failure,
            cause: Some(e.into()),
        }
    }
}

/// An error that knows its fix.
pub trait Help {
    /// What to do about it, when there is an obvious fix.
    fn help(&self) -> Option<String>;
}

/// A message with its fix, for the errors of the operations themselves.
#[derive(Debug)]
pub struct Message {
    pub message: String,
    pub help: Option<String>,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Message {}

impl Help for Message {
    fn help(&self) -> Option<String> {
        self.help.clone()
    }
}

/// The fix for any error in `e`'s chain that knows one: the first found, outermost first.
fn help_of(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|cause| {
        macro_rules! try_help {
            ($($t:ty),*) => {
                $(if let Some(known) = cause.downcast_ref::<$t>() {
                    return known.help();
                })*
            };
        }
        try_help!(
            Message,
            crate::state::file::StateError,
            crate::state::DigestError,
            crate::apply::ApplyError,
            crate::flow::FlowError,
            crate::flow::settings::SettingsError
        );
        None
    })
}

/// Prints an error once: `error: ` and its chain, then its `help:` line if it has one.
pub fn render_error(e: &anyhow::Error, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "error: {e:#}")?;
    if let Some(help) = help_of(e) {
        writeln!(w, "help: {help}")?;
    }
    Ok(())
}
