//! Running a graph of steps: each as soon as what it waits for is done, up to
//! `--parallelism` at once; a failure skips what waits on it (and says why); an interrupt
//! (Ctrl-C) starts nothing new and gives what is in flight a grace to finish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::interrupt::{GRACE, Interrupted};
use super::steps::{Step, Work, circles};
use super::{ApplyError, ApplyOptions, Ctx, Done, Failure, Skipped};
use crate::flow::FlowError;
use crate::sync::lock;

/// What running the steps came to.
#[derive(Default)]
pub(super) struct Outcome {
    pub done: Done,
    pub failures: Vec<Failure>,
    pub skipped: Vec<Skipped>,
    pub interrupted: Option<Interrupted>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// What a step is, for a skip's message.
fn what(step: &Step) -> String {
    match step.work {
        Work::ReplaceCreate => "create the replacement".to_owned(),
        Work::ReplaceDelete => "delete the old one (it stays deposed)".to_owned(),
        Work::Change => step.change.action.verb().to_owned(),
    }
}

/// Runs `steps`; those of a `refused` address fail without being started (their failure is
/// said already), and what waits on them is skipped.
pub(super) async fn run(
    ctx: &Arc<Ctx>,
    steps: Vec<Step>,
    refused: &BTreeMap<String, ApplyError>,
    options: &ApplyOptions,
) -> Outcome {
    let steps = Arc::new(steps);
    let mut outcome = Outcome::default();
    let mut status = vec![Status::Waiting; steps.len()];
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.after.len()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for &j in &s.after {
            if let Some(u) = users.get_mut(j) {
                u.push(i);
            }
        }
    }
    let gate = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut tasks: JoinSet<(usize, Option<Result<Done, ApplyError>>)> = JoinSet::new();
    let mut ready: Vec<usize> = Vec::new();
    // Marks `i` failed (said elsewhere) and every step that waits on it skipped.
    fn fail(
        i: usize,
        steps: &[Step],
        users: &[Vec<usize>],
        status: &mut [Status],
        skipped: &mut Vec<Skipped>,
    ) {
        status[i] = Status::Failed;
        let because = steps[i].address();
        let mut stack: Vec<usize> = users[i].clone();
        while let Some(u) = stack.pop() {
            if matches!(status[u], Status::Waiting) {
                status[u] = Status::Skipped;
                skipped.push(Skipped {
                    address: steps[u].address(),
                    what: what(&steps[u]),
                    because: because.clone(),
                });
                stack.extend(users[u].iter().copied());
            }
        }
    }
    // A circle (a hand-edited state) never runs: its steps fail, naming it.
    for (i, first) in circles(&steps) {
        if status[i] == Status::Waiting {
            outcome.failures.push(Failure {
                address: steps[i].address(),
                error: ApplyError::Circle { at: first },
            });
            fail(i, &steps, &users, &mut status, &mut outcome.skipped);
        }
    }
    for i in 0..steps.len() {
        if status[i] == Status::Waiting && refused.contains_key(&steps[i].change.address) {
            fail(i, &steps, &users, &mut status, &mut outcome.skipped);
        }
    }
    for i in 0..steps.len() {
        if status[i] == Status::Waiting && waiting[i] == 0 {
            ready.push(i);
        }
    }
    let spawn = |i: usize, tasks: &mut JoinSet<(usize, Option<Result<Done, ApplyError>>)>| {
        let (ctx, gate, steps) = (ctx.clone(), gate.clone(), steps.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            // Interrupted: nothing new is started.
            if ctx.options.interrupt.is_set() {
                return (i, None);
            }
            let step = &steps[i];
            let address = step.address();
            lock(&ctx.in_flight).insert(address.clone());
            ctx.progress.working_on(&address);
            let result = super::run(&ctx, step).await;
            if step.work != Work::ReplaceCreate {
                ctx.progress.done_one();
            }
            lock(&ctx.in_flight).remove(&address);
            (i, Some(result))
        });
    };
    // In flight when the apply was interrupted, and how long they may still take.
    let mut stopping: Option<(BTreeSet<String>, tokio::time::Instant)> = None;
    let mut answered: BTreeSet<String> = BTreeSet::new();
    let mut abandoned: BTreeSet<String> = BTreeSet::new();
    loop {
        if stopping.is_none() {
            for i in ready.drain(..) {
                status[i] = Status::Running;
                spawn(i, &mut tasks);
            }
        }
        if tasks.is_empty() {
            break;
        }
        let joined = match &stopping {
            None => tokio::select! {
                joined = tasks.join_next() => joined,
                () = options.interrupt.wait() => {
                    let in_flight = lock(&ctx.in_flight).clone();
                    stopping = Some((in_flight, tokio::time::Instant::now() + GRACE));
                    continue;
                }
            },
            Some((_, until)) => match tokio::time::timeout_at(*until, tasks.join_next()).await {
                Ok(joined) => joined,
                Err(_) => {
                    // The grace ran out: what is still under way stays an intent without an
                    // outcome (pending), as after a crash.
                    abandoned = lock(&ctx.in_flight).clone();
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            },
        };
        let Some(joined) = joined else {
            break;
        };
        match joined {
            Ok((i, None)) => status[i] = Status::Waiting,
            Ok((i, Some(Ok(done)))) => {
                status[i] = Status::Done;
                answered.insert(steps[i].address());
                outcome.done.added += done.added;
                outcome.done.changed += done.changed;
                outcome.done.destroyed += done.destroyed;
                outcome.done.imported += done.imported;
                outcome.done.forgotten += done.forgotten;
                for &u in &users[i] {
                    waiting[u] = waiting[u].saturating_sub(1);
                    if waiting[u] == 0 && status[u] == Status::Waiting {
                        ready.push(u);
                    }
                }
            }
            Ok((i, Some(Err(error)))) => {
                let address = steps[i].address();
                answered.insert(address.clone());
                ctx.progress.line(format!("{address}: failed: {error}"));
                outcome.failures.push(Failure { address, error });
                fail(i, &steps, &users, &mut status, &mut outcome.skipped);
            }
            // A task that panicked: nothing to say of its resource but that.
            Err(e) => outcome.failures.push(Failure {
                address: "(task)".into(),
                error: ApplyError::Flow(FlowError::Protocol {
                    method: "apply".into(),
                    path: String::new(),
                    reason: format!("an apply task failed: {e}"),
                }),
            }),
        }
    }
    for s in &outcome.skipped {
        ctx.progress.line(format!(
            "{}: skipped ({}): it waits for `{}`, which failed",
            s.address, s.what, s.because
        ));
    }
    if let Some((in_flight, _)) = stopping {
        let mut not_started: Vec<String> = Vec::new();
        for (i, s) in status.iter().enumerate() {
            let address = steps[i].address();
            if matches!(s, Status::Waiting | Status::Running)
                && !answered.contains(&address)
                && !abandoned.contains(&address)
                && !not_started.contains(&address)
            {
                not_started.push(address);
            }
        }
        outcome.interrupted = Some(Interrupted {
            finished: in_flight
                .iter()
                .filter(|a| answered.contains(*a))
                .cloned()
                .collect(),
            abandoned: abandoned.iter().cloned().collect(),
            not_started,
        });
    }
    outcome
}
