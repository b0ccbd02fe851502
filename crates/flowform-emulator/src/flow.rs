//! One dataflow as the emulator keeps it, and what a GET shows of it: the OpenAPI's
//! `FlowItemDTO` with D-UPDF's shapes (schedule values as strings, `lastOperation.status`).
//!
//! What the server computes is stored with the flow when it is created
//! (`inheritedAttributes`: the connections' specs and base connections cannot change) or
//! kept up to date by the run producer (`lastRunDetails`); the run schedule's own state
//! ([`Ticking`]) is the emulator's and is never shown.

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::record::{Earlier, Record, spec_ref, text};
use crate::schedule::Schedule;

/// The error a flow's runs fail with, as the admin endpoint sets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

/// The latest run, as `lastRunDetails` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub id: String,
    pub success: bool,
    pub started_at: i64,
    pub completed_at: Option<i64>,
}

/// The latest write, as `lastOperation` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// `create`, `update`, `enable`, `disable`.
    pub operation: String,
    pub started: i64,
    pub updated: i64,
    /// The JSON Patch of an `update`, echoed as D-UPDF shows (`ops`).
    #[serde(default)]
    pub ops: Option<Value>,
}

/// Where the run schedule stands: the emulator's bookkeeping, never shown.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticking {
    /// The next tick not yet run (ms); `None` while disabled or when a `once` flow has run.
    pub next_tick: Option<i64>,
    /// The end of the latest run's window (epoch seconds); `None` before the first run.
    pub window_end_s: Option<i64>,
    /// How many runs the flow has had.
    pub runs: u64,
    /// The ids of its runs still kept, oldest first.
    pub kept: std::collections::VecDeque<String>,
    /// Its runs fail with this, while set.
    pub fail: Option<RunError>,
}

/// One dataflow.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub org: String,
    pub sandbox: String,
    pub sandbox_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub updated_by: String,
    pub created_client: String,
    pub updated_client: String,
    pub name: String,
    pub description: Option<String>,
    pub spec_id: String,
    pub spec_version: String,
    pub enabled: bool,
    pub source_id: String,
    pub target_id: String,
    /// `inheritedAttributes`, computed at create.
    pub inherited: Value,
    /// As given, `mappingVersion` as a string.
    pub transformations: Vec<Value>,
    pub schedule: Schedule,
    /// `options`, normalised (`partialIngestionPercent` a number); `None` when never set.
    pub options: Option<Value>,
    pub last_operation: Operation,
    pub last_run: Option<LastRun>,
    pub ticking: Ticking,
    pub etag: String,
    pub seq: u64,
    #[serde(default)]
    pub earlier: Vec<Earlier>,
    #[serde(skip)]
    pub rendered: OnceLock<Bytes>,
}

impl Flow {
    pub fn state(&self) -> &'static str {
        if self.enabled { "enabled" } else { "disabled" }
    }

    /// The `Copy` transformation's delta column, if any.
    pub fn delta_column(&self) -> Option<&str> {
        self.transformations
            .iter()
            .find(|t| t["name"] == "Copy")
            .and_then(|t| t["params"]["deltaColumn"]["name"].as_str())
    }

    fn last_operation(&self) -> Value {
        let op = &self.last_operation;
        let mut out = json!({
            "started": op.started,
            "updated": op.updated,
            "operation": op.operation,
            "percentCompleted": 100,
            "status": {"value": "completed"},
        });
        if let Some(ops) = &op.ops {
            out["ops"] = ops.clone();
        }
        out
    }

    fn last_run_details(&self) -> Option<Value> {
        self.last_run.as_ref().map(|r| {
            let mut out = json!({
                "id": r.id,
                "state": if r.success { "success" } else { "failed" },
                "startedAtUTC": r.started_at,
            });
            if let Some(done) = r.completed_at {
                out["completedAtUTC"] = json!(done);
            }
            out
        })
    }

    /// Forgets the cached render after a change that is not a write (a run).
    pub fn touched(&mut self) {
        self.rendered = OnceLock::new();
    }
}

impl Record for Flow {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
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

    fn stamp(&mut self, seq: u64, now_ms: i64) {
        self.seq = seq;
        self.updated_at = now_ms;
        self.rendered = OnceLock::new();
    }

    fn to_json(&self) -> Value {
        let mut item = json!({
            "id": self.id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "createdBy": self.created_by,
            "updatedBy": self.updated_by,
            "createdClient": self.created_client,
            "updatedClient": self.updated_client,
            "sandboxId": self.sandbox_id,
            "sandboxName": self.sandbox,
            "imsOrgId": self.org,
            "name": self.name,
            "flowSpec": spec_ref(&self.spec_id, &self.spec_version),
            "state": self.state(),
            "version": self.etag,
            "etag": self.etag,
            "sourceConnectionIds": [self.source_id],
            "targetConnectionIds": [self.target_id],
            "inheritedAttributes": self.inherited,
            "transformations": self.transformations,
            "scheduleParams": self.schedule.to_json(),
            "runs": format!("/runs?property=flowId=={}", self.id),
            "lastOperation": self.last_operation(),
        });
        if let Some(description) = &self.description {
            item["description"] = Value::String(description.clone());
        }
        if let Some(options) = &self.options {
            item["options"] = options.clone();
        }
        if let Some(last) = self.last_run_details() {
            item["lastRunDetails"] = last;
        }
        item
    }

    fn rendered(&self) -> &Bytes {
        self.rendered
            .get_or_init(|| Bytes::from(serde_json::to_vec(&self.to_json()).unwrap_or_default()))
    }

    fn property(&self, name: &str) -> Option<Cow<'_, Value>> {
        match name {
            "id" => text(&self.id),
            "name" => text(&self.name),
            "description" => self.description.as_deref().and_then(text),
            "state" => text(self.state()),
            "createdAt" => Some(Cow::Owned(self.created_at.into())),
            "updatedAt" => Some(Cow::Owned(self.updated_at.into())),
            "flowSpec" => Some(Cow::Owned(spec_ref(&self.spec_id, &self.spec_version))),
            "sourceConnectionIds" => Some(Cow::Owned(json!([self.source_id]))),
            "targetConnectionIds" => Some(Cow::Owned(json!([self.target_id]))),
            "inheritedAttributes" => Some(Cow::Borrowed(&self.inherited)),
            "scheduleParams" => Some(Cow::Owned(self.schedule.to_json())),
            "lastRunDetails" => self.last_run_details().map(Cow::Owned),
            "version" | "etag" => text(&self.etag),
            _ => self.to_json().as_object_mut()?.remove(name).map(Cow::Owned),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::record::Kind;
    use crate::record::tests::properties_agree_with_the_item;

    pub fn sample() -> Flow {
        Flow {
            id: "f".into(),
            org: "o@AdobeOrg".into(),
            sandbox: "prod".into(),
            sandbox_id: "s".into(),
            created_at: 1,
            updated_at: 2,
            created_by: "c".into(),
            updated_by: "u".into(),
            created_client: "cc".into(),
            updated_client: "uc".into(),
            name: "n".into(),
            description: Some("d".into()),
            spec_id: "14518937-270c-4525-bdec-c2ba7cce3860".into(),
            spec_version: "1.0".into(),
            enabled: true,
            source_id: "src".into(),
            target_id: "tgt".into(),
            inherited: json!({"sourceConnections": [], "targetConnections": []}),
            transformations: vec![
                json!({"name": "Copy", "params": {"deltaColumn": {"name": "LastModifiedDate"}}}),
            ],
            schedule: Schedule::read(&json!({"startTime": 1, "frequency": "hour", "interval": 1})).unwrap(),
            options: Some(json!({"partialIngestionPercent": 10})),
            last_operation: Operation {
                operation: "create".into(),
                started: 1,
                updated: 1,
                ops: None,
            },
            last_run: Some(LastRun {
                id: "r".into(),
                success: false,
                started_at: 5,
                completed_at: None,
            }),
            ticking: Ticking::default(),
            etag: "\"e\"".into(),
            seq: 1,
            earlier: Vec::new(),
            rendered: OnceLock::new(),
        }
    }

    #[test]
    fn fast_properties_match_the_rendered_item() {
        let flow = sample();
        properties_agree_with_the_item(&flow, Kind::Flows);
        let item = flow.to_json();
        assert_eq!(item["scheduleParams"]["interval"], "1");
        assert_eq!(item["lastRunDetails"]["state"], "failed");
        assert!(item["lastRunDetails"].get("completedAtUTC").is_none());
        assert_eq!(item["runs"], "/runs?property=flowId==f");
        assert_eq!(flow.delta_column(), Some("LastModifiedDate"));
    }
}
