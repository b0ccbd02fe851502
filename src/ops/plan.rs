//! `plan` and `show`: what apply would do, for a terminal, a pull request or a tool; and
//! saved plans, written and read.

use std::path::{Path, PathBuf};

use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::plan::{Mode, Plan};
use crate::render::{self, Format};
use crate::settings::Environment;

/// `flowform plan`.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    pub target: Target,
    /// Save the plan for `flowform apply FILE`.
    pub out: Option<PathBuf>,
    pub format: Format,
    /// Exit 2 when there are changes.
    pub detailed_exitcode: bool,
    /// Plan to delete every managed connection (`plan --destroy`).
    pub destroy: bool,
    /// Replace these connections even though nothing forces it (`plan --replace KEY`).
    pub replace: Vec<String>,
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
    crate::atomic::write(path, &bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot write `{}`: {}",
            path.display(),
            crate::secret::io_reason(&e)
        )
    })
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

pub fn plan(request: &PlanRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let mut session = Session::open_reading(&request.target, env, io, "flowform plan", false)?;
    session.progress = request.format != crate::render::Format::Json;
    // The digest is what a saved plan is checked by, and the JSON render shows it.
    session.without_digest = request.out.is_none() && request.format != Format::Json;
    let mode = if request.destroy {
        Mode::Destroy
    } else {
        Mode::Normal
    };
    let (plan, live) = session.plan_replacing(mode, &request.replace, io)?;
    // What AEP answered is not freed: the process ends once the plan is out, and freeing
    // tens of thousands of answers one map at a time is a tenth of a large plan's CPU. It
    // holds no lock, file or connection (the session, which does, is dropped as ever).
    std::mem::forget(live);
    let see_all = match &request.out {
        Some(out) => format!("`flowform show {}`", out.display()),
        None => "`flowform plan`".to_owned(),
    };
    io.product(&render(&plan, request.format, &see_all))?;
    if !plan.errors.is_empty() {
        // As Terraform: a plan that cannot be applied is not saved for apply.
        if let Some(out) = &request.out {
            writeln!(
                io.err,
                "\nThe plan has errors: it was not saved to {}. Fix them and plan again.",
                out.display()
            )?;
        }
    } else if let Some(out) = &request.out {
        save(&plan, out)?;
        writeln!(
            io.err,
            "\nSaved the plan to {}. To carry out exactly these actions: flowform apply {}",
            out.display(),
            out.display()
        )?;
    } else if request.format == Format::Text && plan.has_changes() {
        writeln!(
            io.err,
            "\nNote: You didn't use the --out option to save this plan, so flowform can't guarantee to take exactly these actions if you run \"flowform apply\" now."
        )?;
    }
    let outcome = if !plan.errors.is_empty() {
        Err(Error::reported(Exit::Failure))
    } else if request.detailed_exitcode && plan.has_changes() {
        Ok(Exit::Changes)
    } else {
        Ok(Exit::Success)
    };
    std::mem::forget(plan);
    session.close_leaking();
    outcome
}

/// `flowform show FILE`: a saved plan, in any format.
pub fn show(file: &Path, format: Format, io: &mut Io<'_>) -> Outcome {
    let plan = load(file)?;
    let see_all = format!("`flowform show {}`", file.display());
    io.product(&render(&plan, format, &see_all))?;
    Ok(Exit::Success)
}
