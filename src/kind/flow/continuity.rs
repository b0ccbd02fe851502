//! A replaced dataflow neither reads history again nor leaves a gap.
//!
//! A new dataflow reads from its `startTime` (and, with `backfill`, everything older): made
//! as declared, the replacement of a running dataflow would ingest again what its
//! predecessor ingested (or, with a late start, miss what came between). So the hand-over
//! ([`hand_over`], just before the new one is created) disables the old one — no run of it
//! can start after that — and creates the new one to start where the old one's last
//! successful run's window ended, without backfill. The plan says so first ([`replacing`]).
//! An apply cut short between two steps converges: the old one is deposed in the state
//! before the new one is made, and a create whose predecessor is deposed hands over from it
//! again (disabling what is disabled already is skipped; the runs say the same).
//!
//! The new one's start and backfill are then its predecessor's, not the declared ones: its
//! record says whose successor it is (`continues`), and for such a dataflow the two are no
//! difference ([`same`]). For any dataflow, a start that has passed (it has run, or was due
//! when AEP made it) is history: AEP refuses to move it, so a declared start that differs is no
//! difference (docs/flows.md says so; to run from another moment, replace it).

use serde_json::Value;

use crate::flow::model::{ConnectionState, LiveObject};
use crate::flow::{Client, FlowError};
use crate::kind::{HandOver, HandedOver, Replacing, Same};

/// The record's attribute that names a dataflow's predecessor.
pub const CONTINUES: &str = "continues";

/// Where a dataflow's successor starts.
enum Resume {
    /// Where the old one's last successful run's window ended (epoch seconds), without
    /// backfill.
    After(i64),
    /// The old one never ran successfully: where it would have started, as it would have
    /// (its own start and backfill: a continuation that had not run yet passes its own on).
    As { start: i64, backfill: Option<bool> },
    /// AEP has nothing of the old one: as declared.
    Declared,
}

async fn resume(
    client: &Client,
    sandbox: &str,
    old: &str,
    old_flow: Option<&LiveObject>,
) -> Result<Resume, FlowError> {
    let runs = client.runs(sandbox, old, true, 1).await?;
    if let Some(end) = runs.first().and_then(|r| r.window_end_s) {
        return Ok(Resume::After(end));
    }
    let Some(flow) = old_flow else {
        return Ok(Resume::Declared);
    };
    let schedule = flow.body.get("scheduleParams");
    let number = |key: &str| {
        schedule
            .and_then(|s| s.get(key))
            .and_then(crate::flow::runs::whole)
    };
    let backfill = match schedule.and_then(|s| s.get("backfill")) {
        Some(Value::String(s)) => s.parse::<bool>().ok(),
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    Ok(match number("startTime") {
        Some(start) => Resume::As { start, backfill },
        None => Resume::Declared,
    })
}

pub(super) async fn replacing(cx: Replacing<'_>) -> Result<Vec<crate::kind::Said>, FlowError> {
    let mut said = Vec::new();
    for (address, sandbox, old) in &cx.replaced {
        let old_flow = cx.client.get(super::KIND.collection, sandbox, old).await?;
        let mut values = Vec::new();
        let note = match resume(cx.client, sandbox, old, old_flow.as_ref()).await? {
            Resume::After(end) => {
                values.push(("schedule.startTime", Value::from(end)));
                values.push(("schedule.backfill", Value::Bool(false)));
                format!(
                    "continuity: the old dataflow is disabled first; the new one reads from where its last successful run ended, {} ({end}), without backfill",
                    crate::reader::rfc3339(end)
                )
            }
            Resume::As { start, backfill } => {
                values.push(("schedule.startTime", Value::from(start)));
                if let Some(b) = backfill {
                    values.push(("schedule.backfill", Value::Bool(b)));
                }
                format!(
                    "continuity: the old dataflow is disabled first; it has no successful run, so the new one starts where it would have, {} ({start}){}",
                    crate::reader::rfc3339(start),
                    if backfill == Some(false) {
                        ", without backfill"
                    } else {
                        ""
                    }
                )
            }
            Resume::Declared => {
                "continuity: AEP has nothing of the old dataflow; the new one starts as declared".to_owned()
            }
        };
        said.push(crate::kind::Said {
            address: address.clone(),
            note,
            values,
        });
    }
    Ok(said)
}

pub(super) async fn hand_over(cx: HandOver<'_>) -> Result<HandedOver, FlowError> {
    let d = cx.declared;
    let mut out = HandedOver::default();
    let old = cx.client.get(d.kind.collection, &d.sandbox, cx.old_id).await?;
    if let Some(flow) = &old
        && flow.state == Some(ConnectionState::Enabled)
    {
        out.old_etag = cx
            .client
            .action(d.kind.collection, &d.sandbox, cx.old_id, "disable")
            .await?;
        out.old.push(("enabled", Value::Bool(false)));
        out.said
            .push(format!("disabled the dataflow it replaces [id={}]", cx.old_id));
    }
    out.attrs
        .push((CONTINUES.to_owned(), Value::String(cx.old_id.to_owned())));
    let once = d.text("schedule.frequency") == Some("once");
    match resume(cx.client, &d.sandbox, cx.old_id, old.as_ref()).await? {
        Resume::After(end) => {
            out.values.push(("schedule.startTime", Value::from(end)));
            if !once {
                out.values.push(("schedule.backfill", Value::Bool(false)));
            }
            out.said.push(format!(
                "continues from {} ({end}), where the old dataflow's last successful run ended",
                crate::reader::rfc3339(end)
            ));
        }
        Resume::As { start, backfill } => {
            out.values.push(("schedule.startTime", Value::from(start)));
            if let (false, Some(b)) = (once, backfill) {
                out.values.push(("schedule.backfill", Value::Bool(b)));
            }
            out.said.push(format!(
                "starts where the old dataflow would have, {} ({start}): it never ran successfully",
                crate::reader::rfc3339(start)
            ));
        }
        Resume::Declared => {}
    }
    Ok(out)
}

/// A dataflow's start and backfill, once set by a hand-over or once due at its creation.
pub(super) fn same(path: &str, want: &Value, have: &Value, cx: Same<'_>) -> bool {
    if !matches!(path, "schedule.startTime" | "schedule.backfill") {
        return false;
    }
    if cx.record.is_some_and(|r| r.attrs.contains_key(CONTINUES)) {
        return true;
    }
    if path != "schedule.startTime" {
        return false;
    }
    // A start that has passed is history: AEP refuses to move it (update-dataflows), and a
    // patch it refuses would fail every apply. It has passed once the dataflow has run, or
    // when it was due at the dataflow's creation.
    let ran = cx.live.body.contains_key("lastRunDetails");
    let created = cx.live.created_at.map(|ms| ms.div_euclid(1000));
    let due_at_creation = created.is_some_and(|c| have.as_i64().is_some_and(|h| h <= c));
    let _ = want;
    ran || due_at_creation
}
