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
//! difference ([`same`]). For any dataflow, two starts both due when AEP made it are the same
//! (AEP runs a dataflow from its creation either way, and refuses to move a start that has
//! passed).

use serde_json::Value;

use crate::flow::model::ConnectionState;
use crate::flow::{Client, FlowError};
use crate::kind::{HandOver, HandedOver, Replacing, Same};

/// The record's attribute that names a dataflow's predecessor.
pub const CONTINUES: &str = "continues";

/// Where a dataflow's successor starts: the end (epoch seconds) of the window of its last
/// successful run, if it had one.
async fn resume_point(client: &Client, sandbox: &str, old: &str) -> Result<Option<i64>, FlowError> {
    let runs = client.runs(sandbox, old, true, 1).await?;
    Ok(runs.first().and_then(|r| r.window_end_s))
}

pub(super) async fn replacing(cx: Replacing<'_>) -> Result<Vec<(String, String)>, FlowError> {
    let mut notes = Vec::new();
    for (address, sandbox, old) in &cx.replaced {
        let note = match resume_point(cx.client, sandbox, old).await? {
            Some(end) => format!(
                "continuity: the old dataflow is disabled first; the new one reads from where its last successful run ended, {} ({end}), without backfill",
                crate::reader::rfc3339(end)
            ),
            None => "continuity: the old dataflow is disabled first; it has no successful run, so the new one starts as declared".to_owned(),
        };
        notes.push((address.clone(), note));
    }
    Ok(notes)
}

pub(super) async fn hand_over(cx: HandOver<'_>) -> Result<HandedOver, FlowError> {
    let d = cx.declared;
    let mut out = HandedOver::default();
    if let Some(old) = cx.client.get(d.kind.collection, &d.sandbox, cx.old_id).await?
        && old.state == Some(ConnectionState::Enabled)
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
    if let Some(end) = resume_point(cx.client, &d.sandbox, cx.old_id).await? {
        out.values.push(("schedule.startTime", Value::from(end)));
        if d.text("schedule.frequency") != Some("once") {
            out.values.push(("schedule.backfill", Value::Bool(false)));
        }
        out.said.push(format!(
            "continues from {} ({end}), where the old dataflow's last successful run ended",
            crate::reader::rfc3339(end)
        ));
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
    let Some(created) = cx.live.created_at.map(|ms| ms.div_euclid(1000)) else {
        return false;
    };
    path == "schedule.startTime"
        && want.as_i64().is_some_and(|w| w <= created)
        && have.as_i64().is_some_and(|h| h <= created)
}
