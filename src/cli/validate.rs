//! `flowform validate`: load the configuration and report every problem, touching nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Exit, Io};
use crate::catalog;
use crate::config::{self, Desired, LoadOptions};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration files or directories (repeatable); default `flowform.yaml`, else `connections/`
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    /// Check secret references' syntax without resolving them (for runs without the secrets)
    #[arg(long)]
    pub skip_secrets: bool,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let options = LoadOptions {
        resolve_secrets: !args.skip_secrets,
    };
    match config::load(&args.config, env, &options) {
        Ok(loaded) => {
            for warning in loaded.warnings.iter() {
                writeln!(io.err, "{warning}\n")?;
            }
            for line in summary(&loaded.desired) {
                writeln!(io.out, "{line}")?;
            }
            Ok(Exit::Success)
        }
        Err(diagnostics) => {
            write!(io.err, "{diagnostics}")?;
            let errors = diagnostics.error_count();
            let plural = if errors == 1 { "" } else { "s" };
            writeln!(io.err, "\nerror: the configuration has {errors} error{plural}")?;
            Ok(Exit::Failure)
        }
    }
}

/// One line per sandbox: `prod: 3 connections valid (Salesforce 3)`.
fn summary(desired: &Desired) -> Vec<String> {
    let mut by_sandbox: BTreeMap<&str, BTreeMap<String, usize>> = desired
        .sandboxes
        .iter()
        .map(|s| (s.as_str(), BTreeMap::new()))
        .collect();
    for c in desired.connections.values() {
        let spec = match catalog::by_id(&c.connection_spec.id) {
            Some(s) => s.title.to_owned(),
            None => format!("spec {}", c.connection_spec.id),
        };
        *by_sandbox.entry(&c.sandbox).or_default().entry(spec).or_default() += 1;
    }
    by_sandbox
        .into_iter()
        .map(|(sandbox, specs)| {
            let total: usize = specs.values().sum();
            let noun = if total == 1 { "connection" } else { "connections" };
            let detail: Vec<String> = specs.iter().map(|(s, n)| format!("{s} {n}")).collect();
            if detail.is_empty() {
                format!("{sandbox}: 0 connections, valid")
            } else {
                format!("{sandbox}: {total} {noun} valid ({})", detail.join(", "))
            }
        })
        .collect()
}
