//! One flow run as the emulator keeps it, and what `GET /runs` shows of it: the item of
//! flow-service-explore-runs §3, assembled from D-MON, D-MON-OLD and D-NOTIF.
//!
//! Decisions, where the docs disagree:
//! - Spelled as the docs spell it (`activities`, `etag`), not as `FlowRunItemDTO`
//!   (`activites`, `eTag`); `statusSummary` carries `errors` ([S-DST] and every doc).
//! - Statuses are lower case, `success` or `failed`, as every run example writes them; a
//!   `metrics.statusSummary.status` filter compares case-insensitively (D-SORT sends
//!   `Failed`).
//! - Activities are `Copy Activity` then `Promotion Activity`, with UUID ids and `name`
//!   (the current D-MON). A failed run failed copying: its `Copy Activity` carries the
//!   error, it has no `Promotion Activity`, no `completedAtUTC`, and `-1` for every count
//!   (D-NOTIF).
//! - The window is in `params` as epoch seconds in strings (`windowStartTime`,
//!   `windowEndTime`, with `startTime` the tick), as `POST /runs` takes it (D-ONDEMAND), and
//!   in the copy activity's `durationSummary.extensions` as `windowStart`/`windowEnd` in ms.
//!   An unbounded window start (a first run with backfill) is `0`.

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::flow::RunError;
use crate::record::{Earlier, Record, spec_ref, text};

/// One run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: String,
    pub org: String,
    pub sandbox: String,
    pub sandbox_id: String,
    pub flow_id: String,
    pub spec_id: String,
    pub spec_version: String,
    pub source_id: String,
    pub target_id: String,
    pub delta_column: Option<String>,
    pub started_at: i64,
    pub completed_at: i64,
    pub window_start_s: i64,
    pub window_end_s: i64,
    /// Rows read and written; bytes are derived from them.
    pub records: i64,
    /// Set when the run failed.
    pub error: Option<RunError>,
    pub etag: String,
    pub provider_ref: String,
    pub copy_id: String,
    pub promotion_id: String,
    pub batch_id: String,
    pub seq: u64,
    #[serde(default)]
    pub earlier: Vec<Earlier>,
    #[serde(skip)]
    pub rendered: OnceLock<Bytes>,
}

/// Who runs scheduled runs: the Flow Service itself.
const SERVICE: &str = "acp_flowservice";

impl Run {
    pub fn success(&self) -> bool {
        self.error.is_none()
    }

    fn status(&self) -> &'static str {
        if self.success() { "success" } else { "failed" }
    }

    fn errors(&self) -> Value {
        match &self.error {
            Some(e) => json!([{"code": e.code, "message": e.message}]),
            None => json!([]),
        }
    }

    /// Size, record and file summaries: the counts, or `-1` for a failed run.
    fn summaries(&self) -> (Value, Value, Value) {
        let (rows, bytes, files) = if self.success() {
            (self.records, self.records * 211, 1)
        } else {
            (-1, -1, -1)
        };
        (
            json!({"inputBytes": bytes, "outputBytes": bytes}),
            json!({"inputRecordCount": rows, "outputRecordCount": rows, "failedRecordCount": if self.success() { 0 } else { -1 }}),
            json!({"inputFileCount": files, "outputFileCount": files}),
        )
    }

    fn duration(&self) -> Value {
        let mut out = json!({"startedAtUTC": self.started_at});
        if self.success() {
            out["completedAtUTC"] = json!(self.completed_at);
        }
        out
    }

    fn activities(&self) -> Value {
        let (size, records, files) = self.summaries();
        let mut copy_duration = self.duration();
        copy_duration["extensions"] = json!({
            "windowStart": self.window_start_s.saturating_mul(1000),
            "windowEnd": self.window_end_s.saturating_mul(1000),
        });
        let mut status = json!({"status": self.status()});
        if !self.success() {
            status["errors"] = self.errors();
        }
        let copy = json!({
            "id": self.copy_id,
            "name": "Copy Activity",
            "updatedAtUTC": if self.success() { self.completed_at } else { self.started_at },
            "durationSummary": copy_duration,
            "sizeSummary": size,
            "recordSummary": records,
            "fileSummary": files,
            "statusSummary": status,
            "sourceInfo": [{"id": self.source_id, "type": "SourceConnection",
                            "reference": {"type": "AdfRunId", "ids": [self.provider_ref]}}],
        });
        if !self.success() {
            return json!([copy]);
        }
        let promotion = json!({
            "id": self.promotion_id,
            "name": "Promotion Activity",
            "updatedAtUTC": self.completed_at,
            "durationSummary": self.duration(),
            "sizeSummary": size,
            "recordSummary": records,
            "fileSummary": files,
            "statusSummary": {"status": "success"},
            "targetInfo": [{"id": self.target_id, "type": "TargetConnection",
                            "reference": {"type": "Batch", "ids": [self.batch_id]}}],
        });
        json!([copy, promotion])
    }

    fn params(&self) -> Value {
        let mut params = json!({
            "startTime": (self.started_at / 1000).to_string(),
            "windowStartTime": self.window_start_s.to_string(),
            "windowEndTime": self.window_end_s.to_string(),
        });
        if let Some(column) = &self.delta_column {
            params["deltaColumn"] = json!({"name": column});
        }
        params
    }

    fn metrics(&self) -> Value {
        let (size, records, files) = self.summaries();
        json!({
            "durationSummary": self.duration(),
            "sizeSummary": size,
            "recordSummary": records,
            "fileSummary": files,
            "statusSummary": {"status": self.status(), "errors": self.errors()},
        })
    }

    fn updated_at(&self) -> i64 {
        if self.success() {
            self.completed_at
        } else {
            self.started_at
        }
    }
}

impl Record for Run {
    fn id(&self) -> &str {
        &self.id
    }

    /// Runs have no name; every run sorts alike by name.
    fn name(&self) -> &str {
        ""
    }

    fn org(&self) -> &str {
        &self.org
    }

    fn sandbox(&self) -> &str {
        &self.sandbox
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn earlier(&self) -> &[Earlier] {
        &self.earlier
    }

    fn earlier_mut(&mut self) -> &mut Vec<Earlier> {
        &mut self.earlier
    }

    fn stamp(&mut self, seq: u64, _now_ms: i64) {
        self.seq = seq;
        self.rendered = OnceLock::new();
    }

    fn indexed_ref(&self) -> Option<&str> {
        Some(&self.flow_id)
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "flowId": self.flow_id,
            "flowSpec": spec_ref(&self.spec_id, &self.spec_version),
            "createdAt": self.started_at,
            "updatedAt": self.updated_at(),
            "createdBy": SERVICE,
            "updatedBy": SERVICE,
            "createdClient": SERVICE,
            "updatedClient": SERVICE,
            "sandboxId": self.sandbox_id,
            "sandboxName": self.sandbox,
            "imsOrgId": self.org,
            "etag": self.etag,
            "providerRefId": self.provider_ref,
            "params": self.params(),
            "metrics": self.metrics(),
            "activities": self.activities(),
        })
    }

    fn rendered(&self) -> &Bytes {
        self.rendered
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.to_json()).unwrap_or_default()))
    }

    fn property(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "id" => text(&self.id),
            "flowId" => text(&self.flow_id),
            "createdAt" => Some(Cow::Owned(self.started_at.into())),
            "metrics" => Some(Cow::Owned(self.metrics())),
            "etag" => text(&self.etag),
            _ => self.to_json().as_object_mut()?.remove(name).map(Cow::Owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Kind;
    use crate::record::tests::properties_agree_with_the_item;

    fn sample(error: Option<RunError>) -> Run {
        Run {
            id: "r".into(),
            org: "o".into(),
            sandbox: "prod".into(),
            sandbox_id: "s".into(),
            flow_id: "f".into(),
            spec_id: "spec".into(),
            spec_version: "1.0".into(),
            source_id: "src".into(),
            target_id: "tgt".into(),
            delta_column: Some("LastModifiedDate".into()),
            started_at: 2_000_000,
            completed_at: 2_030_000,
            window_start_s: 0,
            window_end_s: 2_000,
            records: 10,
            error,
            etag: "\"e\"".into(),
            provider_ref: "p".into(),
            copy_id: "c".into(),
            promotion_id: "m".into(),
            batch_id: "b".into(),
            seq: 1,
            earlier: Vec::new(),
            rendered: OnceLock::new(),
        }
    }

    #[test]
    fn runs_show_what_the_docs_show() {
        let ok = sample(None);
        properties_agree_with_the_item(&ok, Kind::Runs);
        let item = ok.to_json();
        assert_eq!(item["params"]["windowEndTime"], "2000");
        assert_eq!(item["metrics"]["durationSummary"]["completedAtUTC"], 2_030_000);
        assert_eq!(item["activities"][1]["name"], "Promotion Activity");
        assert_eq!(
            item["activities"][0]["durationSummary"]["extensions"]["windowEnd"],
            2_000_000
        );
        let failed = sample(Some(RunError {
            code: "CONNECTOR-1001-500".into(),
            message: "m".into(),
        }));
        properties_agree_with_the_item(&failed, Kind::Runs);
        let item = failed.to_json();
        assert!(item["metrics"]["durationSummary"].get("completedAtUTC").is_none());
        assert_eq!(item["metrics"]["recordSummary"]["inputRecordCount"], -1);
        assert_eq!(item["metrics"]["statusSummary"]["status"], "failed");
        assert_eq!(
            item["metrics"]["statusSummary"]["errors"][0]["code"],
            "CONNECTOR-1001-500"
        );
        assert_eq!(item["activities"].as_array().unwrap().len(), 1);
    }
}
