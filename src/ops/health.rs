//! Whether the managed dataflows are doing their job, for `drift`'s section of its own: the
//! morning question "is any pipeline broken?".
//!
//! What the refresh read already says most of it: a dataflow's `lastRunDetails` (its last
//! run's state and start) and its schedule. Only a dataflow whose last run failed costs a
//! request more (`GET /runs?property=flowId==…`, its newest run) for the error's code and
//! message. A disabled dataflow is not expected to run (whether it should be disabled is
//! drift, said above).
//!
//! Late (derived from the sources docs' monitoring notes, which give no rule): an enabled
//! dataflow is late when more than twice its period has passed since its last run started
//! (or, before any run, since its first run was due: its start, or its creation if later),
//! and, for one that runs `once`, an hour after it was due. "Now" is this machine's clock.

use std::sync::Arc;

use serde_json::Value;

use crate::flow::model::{ConnectionState, LiveObject};
use crate::flow::{Client, FlowError};
use crate::plan::Live;
use crate::render::{FlowHealth, Unhealthy};

/// A managed dataflow to look at: (address, sandbox, id, name).
pub type Managed = (String, String, String, String);

/// The seconds in one of a schedule's frequency.
fn unit(frequency: &str) -> Option<i64> {
    match frequency {
        "minute" => Some(60),
        "hour" => Some(3_600),
        "day" => Some(86_400),
        "week" => Some(604_800),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<i64> {
    crate::flow::runs::whole(v?)
}

/// When a run was due and has not happened (epoch ms), if the dataflow is late at `now_ms`.
pub fn late(flow: &LiveObject, now_ms: i64) -> Option<i64> {
    let schedule = flow.body.get("scheduleParams")?;
    let frequency = schedule.get("frequency")?.as_str()?;
    let start_ms = number(schedule.get("startTime"))?.checked_mul(1000)?;
    let first_due = start_ms.max(flow.created_at.unwrap_or(start_ms));
    let last_run = flow
        .body
        .get("lastRunDetails")
        .and_then(|d| d.get("startedAtUTC"))
        .and_then(Value::as_i64);
    let (since, allowed) = match (frequency, unit(frequency)) {
        ("once", _) => {
            if last_run.is_some() {
                return None;
            }
            (first_due, 3_600_000)
        }
        (_, Some(unit)) => {
            let interval = number(schedule.get("interval")).unwrap_or(1).max(1);
            let period = interval.checked_mul(unit)?.checked_mul(1000)?;
            (last_run.unwrap_or(first_due), period.checked_mul(2)?)
        }
        _ => return None,
    };
    let due = since.checked_add(allowed)?;
    (now_ms > due).then_some(due)
}

/// Looks at each managed dataflow as the refresh read it; reads the newest run of those whose
/// last run failed.
pub async fn check(
    client: Arc<Client>,
    managed: Vec<Managed>,
    live: &Live,
    now_ms: i64,
) -> Result<FlowHealth, FlowError> {
    let mut health = FlowHealth::default();
    let mut failed = Vec::new();
    for (address, sandbox, id, name) in managed {
        let Some(seen) = live.objects.get(&id).filter(|s| s.sandbox == sandbox) else {
            continue;
        };
        let flow = &seen.object;
        if flow.state == Some(ConnectionState::Disabled) {
            continue;
        }
        health.checked += 1;
        let last = flow.body.get("lastRunDetails");
        let last_state = last.and_then(|d| d.get("state")).and_then(Value::as_str);
        if last_state.is_some_and(|s| s.eq_ignore_ascii_case("failed")) {
            let at = last.and_then(|d| d.get("startedAtUTC")).and_then(Value::as_i64);
            failed.push((address, sandbox, id, name, at));
        } else if let Some(due) = late(flow, now_ms) {
            health.unhealthy.push(Unhealthy {
                address,
                id,
                name,
                problem: "late",
                detail: format!(
                    "no run since {}: one was due by then",
                    crate::render::rfc3339(due).unwrap_or_else(|| due.to_string())
                ),
                run: None,
                at: Some(due),
            });
        }
    }
    let mut reads = tokio::task::JoinSet::new();
    for (address, sandbox, id, name, at) in failed {
        let client = client.clone();
        reads.spawn(async move {
            let runs = client.runs(&sandbox, &id, false, 1).await;
            (address, id, name, at, runs)
        });
    }
    while let Some(joined) = reads.join_next().await {
        let Ok((address, id, name, at, runs)) = joined else {
            continue;
        };
        let newest = runs?.into_iter().next();
        let detail = match newest.as_ref().and_then(|r| r.errors.first()) {
            Some((code, message)) if !code.is_empty() => format!("its last run failed: {code}: {message}"),
            Some((_, message)) => format!("its last run failed: {message}"),
            None => "its last run failed (AEP gives no error for it)".to_owned(),
        };
        health.unhealthy.push(Unhealthy {
            address,
            id,
            name,
            problem: "failed",
            detail,
            at: newest.as_ref().and_then(|r| r.started_ms).or(at),
            run: newest.map(|r| r.id),
        });
    }
    health.unhealthy.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(health)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flow(schedule: Value, created_ms: i64, last_run_ms: Option<i64>) -> LiveObject {
        let mut item = json!({"id": "f", "name": "F", "createdAt": created_ms, "scheduleParams": schedule});
        if let Some(ms) = last_run_ms {
            item["lastRunDetails"] = json!({"state": "success", "startedAtUTC": ms});
        }
        LiveObject::from_json(item).unwrap()
    }

    #[test]
    fn a_dataflow_is_late_after_twice_its_period_without_a_run() {
        let hour = 3_600_000;
        let every_15 = json!({"frequency": "minute", "interval": "15", "startTime": "1000"});
        // Created at 1 h; no run yet: due by 1 h + 30 min.
        let f = flow(every_15.clone(), hour, None);
        assert_eq!(late(&f, hour + 30 * 60_000), None);
        assert_eq!(late(&f, hour + 31 * 60_000), Some(hour + 30 * 60_000));
        // Ran at 2 h: fine until 2 h 30.
        let f = flow(every_15, hour, Some(2 * hour));
        assert_eq!(late(&f, 2 * hour + 29 * 60_000), None);
        assert!(late(&f, 3 * hour).is_some());
        // A start in the future is not due yet.
        let daily = json!({"frequency": "day", "interval": 1, "startTime": 4_000_000_000_i64});
        assert_eq!(late(&flow(daily, hour, None), 10 * hour), None);
        // Once: an hour after it was due, unless it ran.
        let once = json!({"frequency": "once", "startTime": "7200"});
        assert_eq!(late(&flow(once.clone(), 0, None), 3 * hour), None);
        assert!(late(&flow(once.clone(), 0, None), 3 * hour + 1).is_some());
        assert_eq!(late(&flow(once, 0, Some(2 * hour)), 10 * hour), None);
        // Nonsense is never late.
        assert_eq!(
            late(&flow(json!({"frequency": "fortnight"}), 0, None), i64::MAX),
            None
        );
        assert_eq!(
            late(
                &flow(
                    json!({"frequency": "week", "interval": i64::MAX, "startTime": "1"}),
                    0,
                    None
                ),
                i64::MAX
            ),
            None
        );
    }
}
