//! `apply` and `destroy`: plan (or take a saved plan), show, ask, carry out, and whatever
//! happens, fold the journal into the state.

use std::path::PathBuf;
use std::time::Duration;

use super::approve::{Question, approve};
use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::apply::interrupt::{GRACE, Interrupt};
use crate::apply::{self, ApplyOptions, Report};
use crate::plan::{Mode, Plan};
use crate::settings::Environment;

/// `flowform apply`.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    /// A saved plan (`plan --out`), applied as it is or refused if stale.
    pub plan: Option<PathBuf>,
    pub target: Target,
    pub auto_approve: bool,
    /// Change nothing in AEP; make the state match it.
    pub refresh_only: bool,
    /// How long a new connection may take to become `enabled`.
    pub wait_timeout: Duration,
    /// Replace these even though nothing forces it (`apply --replace KEY`, as `plan`'s).
    pub replace: Vec<String>,
}

/// `flowform destroy`.
#[derive(Clone, Debug)]
pub struct DestroyRequest {
    pub target: Target,
    pub auto_approve: bool,
}

pub fn apply(request: &ApplyRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    if request.plan.is_some() && request.refresh_only {
        return Err(Error::message(
            "a saved plan is applied as it was made; --refresh-only plans anew",
            None,
        ));
    }
    if request.plan.is_some() && !request.target.targets.is_empty() {
        return Err(Error::message(
            "a saved plan is applied whole; --target belongs to `flowform plan`",
            None,
        ));
    }
    // A saved plan knows its configuration, state and whether it was made with --emulator.
    let saved = request.plan.as_deref().map(super::plan::load).transpose()?;
    let mut target = request.target.clone();
    if let Some(plan) = &saved {
        if target.config.is_empty() {
            target.config = plan.origin.config.clone();
        }
        if target.state.path.is_none() {
            target.state.path = plan.origin.state.clone();
        }
        target.emulator |= plan.origin.emulator;
    }
    // A plan made here reads the managed connections by id: started while the configuration
    // is read. A saved plan, or one that accepts what AEP has, reads otherwise.
    let mut session = if saved.is_none() && !request.refresh_only {
        Session::open_reading(&target, env, io, "flowform apply", true)?
    } else {
        Session::open(&target, env, io, "flowform apply", true)?
    };
    let outcome = match saved {
        Some(plan) => apply_saved(request, &target, plan, &mut session, io),
        None => apply_planned(request, &mut session, io),
    };
    fold(&mut session, outcome, io)
}

pub fn destroy(request: &DestroyRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let mut session = Session::open(&request.target, env, io, "flowform destroy", true)?;
    let outcome = destroy_in(request, &mut session, io);
    fold(&mut session, outcome, io)
}

/// Whatever came of an apply, what its state's journal holds (an interrupted run's ids,
/// replayed when the state was opened) is folded into the state file before the command
/// ends: a journal is local to one machine and one run, and a state committed without it
/// would lose ids.
pub(super) fn fold(session: &mut Session, outcome: Outcome, io: &mut Io<'_>) -> Outcome {
    let folded = session.store_mut().commit();
    let exit = outcome?;
    match folded {
        Err(e) if exit == Exit::Success => {
            let shared = matches!(e, crate::state::file::StateError::Postgres(_));
            let e = anyhow::Error::from(e);
            super::render_error(&e, io.err)?;
            if !shared {
                writeln!(
                    io.err,
                    "help: every id and etag is safe in the journal beside the state file; the next `flowform apply` folds it in"
                )?;
            }
            Err(Error::reported(Exit::Failure))
        }
        _ => Ok(exit),
    }
}

fn apply_saved(
    request: &ApplyRequest,
    target: &Target,
    plan: Plan,
    session: &mut Session,
    io: &mut Io<'_>,
) -> Outcome {
    let file = request
        .plan
        .as_deref()
        .unwrap_or(std::path::Path::new("plan.out"));
    if plan.mode == Mode::RefreshOnly {
        return Err(Error::message(
            format!(
                "`{}` is a refresh-only plan, which flowform never saves",
                file.display()
            ),
            Some("run `flowform apply --refresh-only`".to_owned()),
        ));
    }
    // A plan's id is drawn at random when it is made: found here, it was applied here.
    if let Some(applied) = session
        .store()
        .state()
        .applied_plans
        .iter()
        .find(|a| !plan.digest_salt.is_empty() && a.id == plan.digest_salt)
        .cloned()
    {
        return already_applied(session, &applied, file, io);
    }
    let problems = session.runtime.block_on(apply::stale(
        &plan,
        &session.desired,
        session.store().state(),
        session.client.as_ref(),
    ))?;
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
        return Err(Error::reported(Exit::Failure));
    }
    if !plan.errors.is_empty() {
        return Err(Error::message("the saved plan has errors; plan again", None));
    }
    // What the plan learnt from AEP, as it was reviewed: only for a field the configuration
    // leaves to AEP, and does not say.
    crate::kind::live::fill_learnt(&mut session.desired, &plan.learned);
    // Passing a saved plan is the approval.
    let verb = if plan.mode == Mode::Destroy {
        "Destroy"
    } else {
        "Apply"
    };
    carry_out_saved(session, &plan, request.wait_timeout, verb, true, io)
}

/// A saved plan applied before: said so, rather than called stale. Nothing to do (exit 0)
/// when it was applied whole and the state has not changed since; otherwise plan again.
fn already_applied(
    session: &Session,
    applied: &crate::state::AppliedPlan,
    file: &std::path::Path,
    io: &mut Io<'_>,
) -> Outcome {
    let when = crate::render::rfc3339(applied.at).unwrap_or_else(|| applied.at.to_string());
    let serial = session.store().state().serial;
    if applied.complete && serial == applied.serial {
        writeln!(
            io.err,
            "The saved plan `{}` was already applied, at {when} (the state is still at serial {serial}, as that apply left it). Nothing to do.",
            file.display()
        )?;
        return Ok(Exit::Success);
    }
    let since = if applied.complete {
        format!(
            "the state changed since (serial {} then, {serial} now)",
            applied.serial
        )
    } else {
        "some of its actions failed".to_owned()
    };
    writeln!(
        io.err,
        "error: the saved plan `{}` was already applied, at {when}, and {since}",
        file.display()
    )?;
    writeln!(io.err, "help: run `flowform plan` to see what remains")?;
    Err(Error::reported(Exit::Failure))
}

fn apply_planned(request: &ApplyRequest, session: &mut Session, io: &mut Io<'_>) -> Outcome {
    let mode = if request.refresh_only {
        Mode::RefreshOnly
    } else {
        Mode::Normal
    };
    let (plan, live) = session.plan_replacing(mode, &request.replace, io)?;
    io.product(&crate::render::text::plan(&plan))?;
    // What AEP finished on its own (an initializing connection enabled) is recorded, whatever
    // else happens.
    apply::settle(&live, session.store_mut())?;
    if !plan.errors.is_empty() {
        return Err(Error::reported(Exit::Failure));
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
    approve(
        io,
        request.auto_approve,
        &Question {
            verb: "Apply",
            question: "Do you want to perform these actions?",
            detail: "flowform will perform the actions described above.",
        },
    )?;
    restart_deadline(session, request.auto_approve);
    if request.refresh_only {
        let accepted = apply::accept_live(&plan, &live, session.store_mut())?;
        let exit = finish(session, &Report::default(), "Apply", io)?;
        writeln!(
            io.err,
            "The state now matches AEP for {accepted} resource{}.",
            if accepted == 1 { "" } else { "s" }
        )?;
        return Ok(exit);
    }
    carry_out(session, &plan, request.wait_timeout, "Apply", io)
}

fn destroy_in(request: &DestroyRequest, session: &mut Session, io: &mut Io<'_>) -> Outcome {
    let (plan, _) = session.plan(Mode::Destroy, io)?;
    io.product(&crate::render::text::plan(&plan))?;
    if !plan.errors.is_empty() {
        return Err(Error::reported(Exit::Failure));
    }
    if !plan.has_changes() {
        writeln!(io.out, "\n{}", Report::default().summary_line("Destroy"))?;
        return Ok(Exit::Success);
    }
    approve(
        io,
        request.auto_approve,
        &Question {
            verb: "Destroy",
            question: "Do you really want to destroy all managed connections?",
            detail: "flowform will delete every connection listed above from AEP. There is no undo.",
        },
    )?;
    restart_deadline(session, request.auto_approve);
    carry_out(session, &plan, apply::DEFAULT_WAIT, "Destroy", io)
}

/// After a person approved at the prompt: `--timeout` counts from now, not from before the
/// time they took to read the plan.
fn restart_deadline(session: &Session, auto_approved: bool) {
    if let (false, Some(client)) = (auto_approved, &session.client) {
        client.restart_deadline();
    }
}

/// While an apply runs, the first Ctrl-C stops it starting anything new and lets what is in
/// flight finish (for [`GRACE`] at most); a second one ends the process at once, which is
/// as safe as a crash: every intent and outcome is already in the journal.
async fn on_ctrl_c(interrupt: Interrupt) {
    loop {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        if interrupt.is_set() {
            eprintln!(
                "\nInterrupted again: exiting now. Every id flowform learnt is in the journal beside the state; run `flowform plan` to see what remains (it resolves what was in flight)."
            );
            std::process::exit(super::Exit::Interrupted as i32);
        }
        interrupt.trigger();
        eprintln!(
            "\nInterrupt received: no new changes will be started; waiting up to {}s for those in flight to finish and be recorded (Ctrl-C again to exit at once).",
            GRACE.as_secs()
        );
    }
}

/// Commits what the apply recorded, and says how it went: the summary line, or each failure
/// with its fix.
fn finish(session: &mut Session, report: &Report, verb: &str, io: &mut Io<'_>) -> Outcome {
    let committed = session.store_mut().commit();
    for note in &report.notes {
        crate::info!("{note}");
    }
    if let Err(e) = committed {
        let shared = matches!(e, crate::state::file::StateError::Postgres(_));
        super::render_error(&anyhow::Error::from(e), io.err)?;
        if !shared {
            writeln!(
                io.err,
                "help: every id and etag is safe in the journal beside the state file; the next `flowform apply` folds it in"
            )?;
        }
        // What could not be done is said too, each with its id.
        for failure in &report.failures {
            writeln!(io.err, "\nError: {}: {}", failure.address, failure.error)?;
            if let Some(help) = failure.error.help() {
                writeln!(io.err, "help: {help}")?;
            }
        }
        return Err(Error::reported(Exit::Failure));
    }
    if let Some(stopped) = &report.interrupted {
        for failure in &report.failures {
            writeln!(io.err, "\nError: {}: {}", failure.address, failure.error)?;
        }
        let list = |addresses: &[String]| {
            addresses
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            io.err,
            "\n{verb} interrupted: {} added, {} changed, {} destroyed, {} imported before it stopped; all of it is in the state.",
            report.added, report.changed, report.destroyed, report.imported
        )?;
        if !stopped.finished.is_empty() {
            writeln!(
                io.err,
                "  In flight when interrupted, finished and recorded: {}.",
                list(&stopped.finished)
            )?;
        }
        if !stopped.abandoned.is_empty() {
            writeln!(
                io.err,
                "  In flight, and no answer within {}s: {}. Their requests may have reached AEP; each is recorded as begun, and the next plan finds out what came of it (a create by listing, never by creating again).",
                GRACE.as_secs(),
                list(&stopped.abandoned)
            )?;
        }
        if !stopped.not_started.is_empty() {
            writeln!(io.err, "  Not started: {}.", list(&stopped.not_started))?;
        }
        writeln!(io.err, "Run `flowform plan` to see what remains.")?;
        return Err(Error::reported(Exit::Interrupted));
    }
    if report.failures.is_empty() {
        writeln!(io.out, "\n{}", report.summary_line(verb))?;
        return Ok(Exit::Success);
    }
    for failure in &report.failures {
        writeln!(io.err, "\nerror: {}: {}", failure.address, failure.error)?;
        if let Some(help) = failure.error.help() {
            writeln!(io.err, "help: {help}")?;
        }
    }
    let failed = report.failures.len();
    let skipped = match report.skipped.len() {
        0 => String::new(),
        n => format!(
            " and {n} {} skipped, waiting for {}",
            if n == 1 { "was" } else { "were" },
            if failed == 1 { "it" } else { "them" }
        ),
    };
    writeln!(
        io.err,
        "\n{verb} failed: {failed} action{} failed{skipped}; everything that succeeded is in the state ({} added, {} changed, {} destroyed, {} imported).",
        if failed == 1 { "" } else { "s" },
        report.added,
        report.changed,
        report.destroyed,
        report.imported
    )?;
    Err(Error::reported(Exit::Failure))
}

fn carry_out(
    session: &mut Session,
    plan: &Plan,
    wait_timeout: Duration,
    verb: &str,
    io: &mut Io<'_>,
) -> Outcome {
    carry_out_saved(session, plan, wait_timeout, verb, false, io)
}

/// Carries `plan` out; `saved`: it is a saved plan, which the state then remembers as
/// applied.
fn carry_out_saved(
    session: &mut Session,
    plan: &Plan,
    wait_timeout: Duration,
    verb: &str,
    saved: bool,
    io: &mut Io<'_>,
) -> Outcome {
    let Some(client) = session.client.clone() else {
        return Err(Error::message("applying needs AEP (or --emulator)", None));
    };
    if plan.mode == Mode::Normal {
        session.sync_lifecycle()?;
    }
    let interrupt = Interrupt::new();
    let options = ApplyOptions {
        parallelism: client.settings().parallelism,
        wait_timeout,
        interrupt: interrupt.clone(),
    };
    let listener = session.runtime.spawn(on_ctrl_c(interrupt));
    let store = session.take_store();
    let (store, report) =
        session
            .runtime
            .block_on(apply::apply(plan, &session.desired, store, client, options));
    // From here on the state is written: a Ctrl-C is the default again only once the
    // process ends (the journal keeps every outcome meanwhile).
    listener.abort();
    session.give_back(store);
    // Stopped before any step started, the plan is as applicable as it was.
    let untouched = report.interrupted.as_ref().is_some_and(|i| {
        i.finished.is_empty()
            && i.abandoned.is_empty()
            && report.failures.is_empty()
            && report.added
                + report.changed
                + report.destroyed
                + report.imported
                + report.moved
                + report.forgotten
                == 0
    });
    if saved && !plan.digest_salt.is_empty() && !untouched {
        let complete = report.failures.is_empty() && report.interrupted.is_none();
        session.store_mut().edit(|s| {
            // The commit that ends this apply stamps the serial it leaves (a file's commit
            // bumps it once; a database's bumps it at every journal write too).
            s.remember_applied(crate::state::AppliedPlan {
                id: plan.digest_salt.clone(),
                serial: 0,
                at: crate::apply::now_ms(),
                complete,
            });
        })?;
    }
    finish(session, &report, verb, io)
}
