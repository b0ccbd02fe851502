//! Flow runs: `GET /runs` and `GET /runs/{id}`, and the runs themselves, produced from each
//! enabled flow's schedule on the emulator's clock.
//!
//! Every Flow Service, Catalog and Data Prep request first brings the runs up to date
//! ([`produce_due`], as initializing connections are enabled): each tick of each enabled
//! flow whose run has finished by now becomes a run, all flows' ticks in time order, so that
//! the runs' sequence (the listing's default order) is their start order, newest first.
//!
//! Decisions (flow-service-explore-runs §3, §5, §7, where the docs are silent):
//! - A tick is `startTime + k·interval·unit`, the first at or after the flow's creation (a
//!   past `startTime` replays nothing; backfill covers history) or its re-enabling; a
//!   disabled flow has no ticks, and a PATCH of `scheduleParams` restarts them from now.
//!   `once` ticks once.
//! - A run takes [`RUN_MS`] and appears when it has finished: started at its tick, completed
//!   `RUN_MS` later, at or before the clock's now. So advancing the clock by an interval and
//!   a minute shows the next run.
//! - Windows: the first run's starts at `0` (unbounded) with backfill, at `startTime`
//!   without; each later one at the previous run's end; each ends at its tick. A run after a
//!   disabled period covers the gap.
//! - At most [`KEPT_RUNS`] runs are kept per flow, the latest; when the clock jumps over more
//!   ticks than that, the older ones are skipped without being made (their windows are
//!   merged into the first run kept).
//! - Runs succeed, with a few hundred records each, unless the admin endpoint set an error
//!   for the flow's runs. Deleting a flow deletes its runs.
//! - Listings take `property` filters on any path of a run (`flowId`, `id`,
//!   `metrics.statusSummary.status` compared case-insensitively,
//!   `metrics.durationSummary.startedAtUTC` with `<`, `>`…), `limit` ≤ 100, `count` and
//!   continuation tokens, as every other listing here; `orderby` is accepted but runs have
//!   no name and are not updated, so it orders by start only.

use std::sync::{Arc, OnceLock};

use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::Response;

use crate::context::{Caller, Shared, lock};
use crate::errors::ApiError;
use crate::flow::{Flow, LastRun};
use crate::listing;
use crate::record::Kind;
use crate::run::Run;
use crate::schedule::{Frequency, Schedule};
use crate::store::Store;

/// How long every run takes.
pub const RUN_MS: i64 = 30_000;
/// How many runs are kept per flow.
pub const KEPT_RUNS: usize = 1_000;

/// When a flow with `schedule`, which has had `runs` runs, ticks next from `from_ms` on.
pub fn next_tick(schedule: &Schedule, runs: u64, from_ms: i64) -> Option<i64> {
    if schedule.frequency == Frequency::Once && runs > 0 {
        return None;
    }
    Some(schedule.first_tick_at_or_after(from_ms))
}

/// Makes the runs whose time has come, across every flow, in time order.
pub fn produce_due(shared: &Shared, now: i64) {
    let mut guard = lock(&shared.store);
    let due = |store: &Store| {
        store
            .ticks
            .first()
            .is_some_and(|(t, _)| t.saturating_add(RUN_MS) <= now)
    };
    if !due(&guard) {
        return;
    }
    let mut rng = lock(&shared.rng);
    let store: &mut Store = &mut guard;
    while due(store) {
        let Some((tick, id)) = store.ticks.pop_first() else {
            break;
        };
        let Some(flow) = store.flows.quietly(&id) else {
            continue;
        };
        flow.ticking.next_tick = None;
        let period = flow.schedule.period_ms();
        if period > 0 {
            // More ticks due than are kept: skip the older ones without making them.
            let due_ticks = (now - RUN_MS - tick) / period + 1;
            let skip = due_ticks - KEPT_RUNS as i64;
            if skip > 0 {
                let last_skipped = tick.saturating_add((skip - 1).saturating_mul(period));
                flow.ticking.window_end_s = Some(last_skipped / 1000);
                flow.ticking.runs += skip as u64;
                let next = tick.saturating_add(skip.saturating_mul(period));
                flow.ticking.next_tick = Some(next);
                store.ticks.insert((next, id));
                continue;
            }
        }
        let run = make_run(flow, tick, &mut rng);
        flow.last_run = Some(LastRun {
            id: run.id.clone(),
            success: run.success(),
            started_at: run.started_at,
            completed_at: run.success().then_some(run.completed_at),
        });
        flow.ticking.window_end_s = Some(run.window_end_s);
        flow.ticking.runs += 1;
        flow.ticking.kept.push_back(run.id.clone());
        let evicted = if flow.ticking.kept.len() > KEPT_RUNS {
            flow.ticking.kept.pop_front()
        } else {
            None
        };
        flow.touched();
        let next = if period > 0 {
            Some(tick.saturating_add(period))
        } else {
            None
        };
        flow.ticking.next_tick = next;
        let (org, sandbox) = (flow.org.clone(), flow.sandbox.clone());
        if let Some(next) = next {
            store.ticks.insert((next, id));
        }
        if let Some(old) = evicted {
            store.runs.remove(&org, &sandbox, &old);
        }
        let seq = store.runs.next_seq();
        store.runs.insert(Run { seq, ..run });
    }
    drop(rng);
    drop(guard);
    shared.changed();
}

/// The run of `flow` at `tick`.
fn make_run(flow: &Flow, tick: i64, rng: &mut crate::rng::Rng) -> Run {
    let schedule = &flow.schedule;
    let window_start_s =
        flow.ticking
            .window_end_s
            .unwrap_or(if schedule.backfill { 0 } else { schedule.start_s });
    Run {
        id: rng.uuid(),
        org: flow.org.clone(),
        sandbox: flow.sandbox.clone(),
        sandbox_id: flow.sandbox_id.clone(),
        flow_id: flow.id.clone(),
        spec_id: flow.spec_id.clone(),
        spec_version: flow.spec_version.clone(),
        source_id: flow.source_id.clone(),
        target_id: flow.target_id.clone(),
        delta_column: flow.delta_column().map(str::to_owned),
        started_at: tick,
        completed_at: tick + RUN_MS,
        window_start_s,
        window_end_s: tick / 1000,
        records: 100 + rng.below(900) as i64,
        error: flow.ticking.fail.clone(),
        etag: rng.etag(),
        provider_ref: rng.hex(32),
        copy_id: rng.uuid(),
        promotion_id: rng.uuid(),
        batch_id: rng.hex(26).to_uppercase(),
        seq: 0,
        earlier: Vec::new(),
        rendered: OnceLock::new(),
    }
}

/// `GET /runs`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    listing::list(&shared, &caller, raw.as_deref(), Kind::Runs, |s| &s.runs)
}

/// `GET /runs/{id}`.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    listing::get_one(&shared, &caller, Kind::Runs, &id, |s| &s.runs)
}
