//! A dataflow's runs, as `GET /runs?property=flowId==…` gives them (newest first, at most a
//! page): what continuity on a replacement starts from (where the last successful run's
//! window ended) and what `drift` says of a failing dataflow (the run's error).
//!
//! Run statuses have no one authoritative list (`success`, `Success`, `failed`, `Failed`,
//! …): folded here, case aside, into [`RunStatus`]. Times are AEP's: epoch milliseconds for
//! the run's metrics, epoch seconds (in strings) for its window params.

use reqwest::Method;
use serde_json::Value;

use super::transport::{Call, Repeat};
use super::{Client, FlowError, parse};

/// How a run went, folded from AEP's spellings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Success,
    Failed,
    /// Scheduled, waiting or processing.
    Pending,
    Unknown,
}

impl RunStatus {
    fn fold(text: &str) -> RunStatus {
        match text.to_ascii_lowercase().as_str() {
            "success" | "succeeded" | "completed" => RunStatus::Success,
            "failed" | "failure" | "error" => RunStatus::Failed,
            "scheduled" | "waiting" | "processing" | "inprogress" | "running" => RunStatus::Pending,
            _ => RunStatus::Unknown,
        }
    }
}

/// One run, as much of it as flowform reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: String,
    pub status: RunStatus,
    /// When it started (epoch ms).
    pub started_ms: Option<i64>,
    /// Where its window ended (epoch seconds): the next run reads from there.
    pub window_end_s: Option<i64>,
    /// The errors it reports: (code, message), bounded.
    pub errors: Vec<(String, String)>,
}

/// The most errors of a run kept, and the longest message.
const MAX_ERRORS: usize = 5;
const MAX_MESSAGE: usize = 500;

/// A whole number AEP may give as a number or as a string of one (`"1796104800"`).
pub fn whole(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn run(item: &Value) -> Option<Run> {
    let id = item.get("id")?.as_str()?.to_owned();
    let metrics = &item["metrics"];
    let status = metrics["statusSummary"]["status"]
        .as_str()
        .map_or(RunStatus::Unknown, RunStatus::fold);
    let errors = metrics["statusSummary"]["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .take(MAX_ERRORS)
                .map(|e| {
                    (
                        parse::clean(e["code"].as_str().unwrap_or_default(), 120),
                        parse::clean(e["message"].as_str().unwrap_or_default(), MAX_MESSAGE),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Run {
        id: parse::clean(&id, 120),
        status,
        started_ms: metrics["durationSummary"]["startedAtUTC"].as_i64(),
        window_end_s: whole(&item["params"]["windowEndTime"]),
        errors,
    })
}

impl Client {
    /// The newest runs of dataflow `flow` (at most `limit`, at most a page), newest first;
    /// `success`: its successful ones only.
    pub async fn runs(
        &self,
        sandbox: &str,
        flow: &str,
        success: bool,
        limit: usize,
    ) -> Result<Vec<Run>, FlowError> {
        let path = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query.append_pair(
                "limit",
                &(limit as u64).clamp(1, super::limits::PAGE_SIZE).to_string(),
            );
            query.append_pair("property", &format!("flowId=={flow}"));
            if success {
                query.append_pair("property", "metrics.statusSummary.status==success");
            }
            format!("/runs?{}", query.finish())
        };
        let call = Call::on(Method::GET, path, sandbox, Repeat::Safe);
        let answer = self.send(&call).await?;
        let body: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| Self::protocol(&call, format!("the answer is not JSON: {e}")))?;
        let Some(items) = body.get("items").and_then(Value::as_array) else {
            return Err(Self::protocol(&call, "the answer has no `items`"));
        };
        let mut runs: Vec<Run> = items.iter().filter_map(run).collect();
        // Newest first, whatever order AEP gave.
        runs.sort_by_key(|r| std::cmp::Reverse(r.started_ms));
        runs.truncate(limit);
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn runs_read_in_any_casing_and_keep_their_window_and_errors() {
        let r = run(&json!({
            "id": "r1",
            "params": {"windowEndTime": "1796104800"},
            "metrics": {"durationSummary": {"startedAtUTC": 1_796_104_800_000_i64},
                        "statusSummary": {"status": "Failed", "errors": [{"code": "CONNECTOR-1001-500", "message": "copy failed"}]}}
        }))
        .unwrap();
        assert_eq!(r.status, RunStatus::Failed);
        assert_eq!(r.window_end_s, Some(1_796_104_800));
        assert_eq!(
            r.errors,
            [("CONNECTOR-1001-500".to_owned(), "copy failed".to_owned())]
        );
        assert_eq!(RunStatus::fold("success"), RunStatus::Success);
        assert_eq!(RunStatus::fold("processing"), RunStatus::Pending);
        assert_eq!(run(&json!({"metrics": {}})), None);
    }
}
