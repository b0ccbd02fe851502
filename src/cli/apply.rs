//! `flowform apply` and `flowform destroy`: plan, show, ask, carry out.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Duration;

use super::session::{Session, Target};
use super::{Exit, Io};
use crate::apply::{self, ApplyOptions, Report};
use crate::plan::{Mode, Plan};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `flowform plan --out FILE`: applied as it is, or refused if stale
    #[arg(value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub target: Target,
    /// Skip the confirmation prompt
    #[arg(long)]
    pub auto_approve: bool,
    /// Change nothing in AEP: make the state match what AEP has (after a deliberate change in
    /// the AEP UI)
    #[arg(long)]
    pub refresh_only: bool,
    /// How long a new connection may take to go from `initializing` to `enabled`
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = super::duration)]
    pub wait_timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Skip the confirmation prompt
    #[arg(long)]
    pub auto_approve: bool,
}

/// Asks on the terminal. `Ok(false)`: the user said something other than `yes`, or there is
/// no terminal to ask (then the caller refuses: approval is never assumed).
fn confirm(io: &mut Io<'_>, question: &str, detail: &str) -> anyhow::Result<Option<bool>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    write!(
        io.err,
        "\n{question}\n  {detail}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    )?;
    io.err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(Some(answer.trim() == "yes"))
}

/// Asks for approval unless `auto`. `Some(exit)`: not approved (said why), stop with `exit`.
fn approve(
    io: &mut Io<'_>,
    auto: bool,
    verb: &str,
    question: &str,
    detail: &str,
) -> anyhow::Result<Option<Exit>> {
    if auto {
        return Ok(None);
    }
    match confirm(io, question, detail)? {
        Some(true) => Ok(None),
        Some(false) => {
            writeln!(io.err, "\n{verb} cancelled.")?;
            Ok(Some(Exit::Failure))
        }
        None => {
            writeln!(
                io.err,
                "error: not {} without approval, and there is no terminal to ask on\nhelp: pass --auto-approve, or save the plan with `flowform plan --out FILE` and apply that file",
                if verb == "Destroy" {
                    "destroying"
                } else {
                    "applying"
                }
            )?;
            Ok(Some(Exit::Failure))
        }
    }
}

/// After a person approved at the prompt: `--timeout` counts from now, not from before the
/// time they took to read the plan.
fn restart_deadline(session: &Session, auto_approved: bool) {
    if let (false, Some(client)) = (auto_approved, &session.client) {
        client.restart_deadline();
    }
}

/// Why a saved plan no longer applies (see [`apply::stale`]).
fn stale(plan: &Plan, session: &Session) -> anyhow::Result<Vec<String>> {
    let state = session.store().state();
    Ok(session.runtime.block_on(apply::stale(
        plan,
        &session.desired,
        state,
        session.client.as_ref(),
    ))?)
}

fn finish(session: &mut Session, report: &Report, verb: &str, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let committed = session.store_mut().commit();
    for note in &report.notes {
        crate::info!("{note}");
    }
    if let Err(e) = committed {
        writeln!(io.err, "error: {e}")?;
        writeln!(
            io.err,
            "help: every id and etag is safe in the journal beside the state file; the next flowform run folds it in"
        )?;
        return Ok(Exit::Failure);
    }
    if report.failures.is_empty() {
        writeln!(io.out, "\n{}", report.summary_line(verb))?;
        return Ok(Exit::Success);
    }
    for failure in &report.failures {
        writeln!(io.err, "\nError: {}: {}", failure.address, failure.error)?;
        if let Some(help) = failure.error.help() {
            writeln!(io.err, "help: {help}")?;
        }
    }
    writeln!(
        io.err,
        "\n{verb} failed: {} of the actions failed; everything that succeeded is in the state ({} added, {} changed, {} destroyed, {} imported).",
        report.failures.len(),
        report.added,
        report.changed,
        report.destroyed,
        report.imported
    )?;
    Ok(Exit::Failure)
}

fn carry_out(
    session: &mut Session,
    plan: &Plan,
    wait_timeout: Duration,
    verb: &str,
    io: &mut Io<'_>,
) -> anyhow::Result<Exit> {
    let Some(client) = session.client.clone() else {
        writeln!(io.err, "error: applying needs AEP (or --emulator)")?;
        return Ok(Exit::Failure);
    };
    if plan.mode == Mode::Normal {
        session.sync_lifecycle()?;
    }
    let options = ApplyOptions {
        parallelism: client.settings().parallelism,
        wait_timeout,
    };
    let store = session.take_store();
    let (store, report) =
        session
            .runtime
            .block_on(apply::apply(plan, &session.desired, store, client, options));
    session.give_back(store);
    finish(session, &report, verb, io)
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    if args.plan.is_some() && args.refresh_only {
        writeln!(
            io.err,
            "error: a saved plan is applied as it was made; --refresh-only plans anew"
        )?;
        return Ok(Exit::Failure);
    }
    if args.plan.is_some() && !args.target.targets.is_empty() {
        writeln!(
            io.err,
            "error: a saved plan is applied whole; --target belongs to `flowform plan`"
        )?;
        return Ok(Exit::Failure);
    }
    // A saved plan knows its configuration, state and whether it was made with --emulator.
    let saved = match &args.plan {
        Some(file) => match super::plan::load(file) {
            Ok(plan) => Some(plan),
            Err(e) => {
                writeln!(io.err, "error: {e}")?;
                return Ok(Exit::Failure);
            }
        },
        None => None,
    };
    let mut target = args.target.clone();
    if let Some(plan) = &saved {
        if target.config.is_empty() {
            target.config = plan.origin.config.clone();
        }
        if target.state.path.is_none() {
            target.state.path = plan.origin.state.clone();
        }
        target.emulator |= plan.origin.emulator;
    }
    let mut session = match Session::open(&target, env, io, "flowform apply", true)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let exit = apply_in(args, &target, saved, &mut session, io);
    fold(&mut session, exit, io)
}

/// Whatever came of an apply, what its state's journal holds (an interrupted run's ids,
/// replayed when the state was opened) is folded into the state file before the command
/// ends: a journal is local to one machine and one run, and a state committed without it
/// would lose ids.
pub(super) fn fold(
    session: &mut Session,
    exit: anyhow::Result<Exit>,
    io: &mut Io<'_>,
) -> anyhow::Result<Exit> {
    let folded = session.store_mut().commit();
    let exit = exit?;
    match folded {
        Err(e) if exit == Exit::Success => {
            writeln!(io.err, "error: {e}")?;
            writeln!(
                io.err,
                "help: every id and etag is safe in the journal beside the state file; the next `flowform apply` folds it in"
            )?;
            Ok(Exit::Failure)
        }
        _ => Ok(exit),
    }
}

fn apply_in(
    args: &Args,
    target: &Target,
    saved: Option<Plan>,
    session: &mut Session,
    io: &mut Io<'_>,
) -> anyhow::Result<Exit> {
    let session = &mut *session;
    if let (Some(file), Some(plan)) = (&args.plan, saved) {
        let problems = stale(&plan, session)?;
        if !problems.is_empty() {
            writeln!(io.err, "error: the saved plan `{}` is stale:", file.display())?;
            for p in problems {
                writeln!(io.err, "  - {p}")?;
            }
            let mut again = vec!["flowform plan".to_owned()];
            for c in &target.config {
                again.push(format!("-c {}", c.display()));
            }
            if target.emulator {
                again.push("--emulator".to_owned());
            }
            again.push(format!("--out {}", file.display()));
            writeln!(
                io.err,
                "help: run `{}` again, review it, and apply that",
                again.join(" ")
            )?;
            return Ok(Exit::Failure);
        }
        if !plan.errors.is_empty() {
            writeln!(io.err, "error: the saved plan has errors; plan again")?;
            return Ok(Exit::Failure);
        }
        // Passing a saved plan is the approval.
        return carry_out(session, &plan, args.wait_timeout, "Apply", io);
    }
    let mode = if args.refresh_only {
        Mode::RefreshOnly
    } else {
        Mode::Normal
    };
    let (plan, live) = match session.plan(mode, io)? {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    io.product(&crate::render::text::plan(&plan))?;
    // What AEP finished on its own (an initializing connection enabled) is recorded, whatever
    // else happens.
    apply::settle(&live, session.store_mut())?;
    if !plan.errors.is_empty() {
        return Ok(Exit::Failure);
    }
    if !plan.has_changes() {
        // Nothing to do in AEP; a changed `protect` is still recorded (when the command
        // ends, with the rest).
        if mode == Mode::Normal {
            session.sync_lifecycle()?;
        }
        writeln!(io.out, "\n{}", Report::default().summary_line("Apply"))?;
        return Ok(Exit::Success);
    }
    let question = "Do you want to perform these actions?";
    if let Some(exit) = approve(
        io,
        args.auto_approve,
        "Apply",
        question,
        "flowform will perform the actions described above.",
    )? {
        return Ok(exit);
    }
    restart_deadline(session, args.auto_approve);
    if args.refresh_only {
        let accepted = apply::accept_live(&plan, &live, session.store_mut())?;
        let report = Report::default();
        let exit = finish(session, &report, "Apply", io)?;
        writeln!(
            io.err,
            "The state now matches AEP for {accepted} connection{}.",
            if accepted == 1 { "" } else { "s" }
        )?;
        return Ok(exit);
    }
    carry_out(session, &plan, args.wait_timeout, "Apply", io)
}

pub fn destroy(args: &DestroyArgs, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let mut session = match Session::open(&args.target, env, io, "flowform destroy", true)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let exit = destroy_in(args, &mut session, io);
    fold(&mut session, exit, io)
}

fn destroy_in(args: &DestroyArgs, session: &mut Session, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let (plan, _) = match session.plan(Mode::Destroy, io)? {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    io.product(&crate::render::text::plan(&plan))?;
    if !plan.errors.is_empty() {
        return Ok(Exit::Failure);
    }
    if !plan.has_changes() {
        writeln!(io.out, "\n{}", Report::default().summary_line("Destroy"))?;
        return Ok(Exit::Success);
    }
    let question = "Do you really want to destroy all managed connections?";
    let detail = "flowform will delete every connection listed above from AEP. There is no undo.";
    if let Some(exit) = approve(io, args.auto_approve, "Destroy", question, detail)? {
        return Ok(exit);
    }
    restart_deadline(session, args.auto_approve);
    carry_out(session, &plan, apply::DEFAULT_WAIT, "Destroy", io)
}
