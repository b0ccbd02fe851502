//! `flowform plan`: what apply would do, for a terminal, a pull request or a tool.

use std::path::{Path, PathBuf};

use super::session::{Session, Target};
use super::{Exit, Io};
use crate::plan::{Mode, Plan};
use crate::render::{self, Format};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: Target,
    /// Save the plan to apply it later with `flowform apply FILE` (no secrets are saved)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 0 with no changes, 2 with changes, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Renders a plan in a format. `see_all` tells a Markdown reader how to see a cut plan.
pub fn render(plan: &Plan, format: Format, see_all: &str) -> String {
    match format {
        Format::Text => render::text::plan(plan),
        Format::Markdown => render::markdown::plan(plan, see_all),
        Format::Json => render::json::plan(plan),
    }
}

/// Writes a saved plan, atomically.
pub fn save(plan: &Plan, path: &Path) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(plan)?;
    bytes.push(b'\n');
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))?;
    Ok(())
}

/// Reads a saved plan.
pub fn load(path: &Path) -> anyhow::Result<Plan> {
    // A saved plan of 100,000 connections is tens of MiB; nothing sane comes near this.
    const MAX_SAVED_PLAN: u64 = 256 * 1024 * 1024;
    let unreadable = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot read the saved plan `{}`: {}",
            path.display(),
            crate::secret::io_reason(&e)
        )
    };
    if std::fs::metadata(path).map_err(unreadable)?.len() > MAX_SAVED_PLAN {
        anyhow::bail!(
            "`{}` is larger than 256 MiB: not a flowform saved plan",
            path.display()
        );
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    Plan::from_saved(&bytes).map_err(|e| anyhow::anyhow!("`{}`: {e}", path.display()))
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let session = match Session::open(&args.target, env, io, "flowform plan", false)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let (plan, _) = match session.plan(Mode::Normal, io)? {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    let see_all = match &args.out {
        Some(out) => format!("`flowform show {}`", out.display()),
        None => "`flowform plan`".to_owned(),
    };
    io.product(&render(&plan, args.format, &see_all))?;
    if let Some(out) = &args.out {
        save(&plan, out)?;
        writeln!(
            io.err,
            "\nSaved the plan to {}. To carry out exactly these actions: flowform apply {}",
            out.display(),
            out.display()
        )?;
    } else if args.format == Format::Text && plan.has_changes() {
        writeln!(
            io.err,
            "\nNote: You didn't use the --out option to save this plan, so flowform can't guarantee to take exactly these actions if you run \"flowform apply\" now."
        )?;
    }
    Ok(if !plan.errors.is_empty() {
        Exit::Failure
    } else if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
