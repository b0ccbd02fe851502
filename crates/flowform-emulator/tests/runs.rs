//! Runs, produced from each enabled flow's schedule on the emulator's clock: their ticks,
//! windows, shapes, failures, listing, the flow's `lastRunDetails`, and the bound on how
//! many are kept.

use flowform_emulator::{KEPT_RUNS, Options, RUN_MS};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, Pipeline};

const MINUTE: i64 = 60_000;

/// An emulator whose tokens outlive the clock's jumps (a year and more).
async fn start() -> Api {
    Api::with(Options {
        seed: Some(42),
        token_lifetime_s: 2 * 365 * 86_400,
        ..Options::default()
    })
    .await
}

async fn runs(api: &Api, flow: &str) -> Vec<Value> {
    let r = api
        .get(&format!("/runs?property=flowId=={flow}"))
        .await
        .expect(200);
    r.body["items"].as_array().unwrap().clone()
}

async fn flow_item(api: &Api, id: &str) -> Value {
    api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0].clone()
}

/// A 15-minute flow that started 10 s before it was created (as D-UPDF's did): its first
/// tick is 15 minutes after its start. Returns its id and its start in seconds.
async fn quarter_hourly(api: &Api, p: &Pipeline, backfill: &str) -> (String, i64) {
    let start = api.now().await / 1000 - 10;
    let mut body = p.flow("quarter-hourly", start);
    body["scheduleParams"]["backfill"] = json!(backfill);
    (api.create_flow(&body).await.0, start)
}

#[tokio::test]
async fn enabled_flows_run_at_their_ticks_with_contiguous_windows() {
    let api = start().await;
    let p = api.pipeline().await;
    let (id, start) = quarter_hourly(&api, &p, "true").await;
    assert!(runs(&api, &id).await.is_empty());
    api.advance_clock(15 * MINUTE).await;
    assert!(runs(&api, &id).await.is_empty(), "the run is not over yet");
    api.advance_clock(RUN_MS).await;
    let first = runs(&api, &id).await;
    assert_eq!(first.len(), 1);
    let run = &first[0];
    let tick = (start * 1000) + 15 * MINUTE;
    assert_eq!(run["flowId"], id.as_str());
    assert_eq!(run["metrics"]["durationSummary"]["startedAtUTC"], tick);
    assert_eq!(run["metrics"]["durationSummary"]["completedAtUTC"], tick + RUN_MS);
    assert_eq!(run["metrics"]["statusSummary"]["status"], "success");
    assert_eq!(run["metrics"]["statusSummary"]["errors"], json!([]));
    assert!(
        run["metrics"]["recordSummary"]["inputRecordCount"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(
        run["params"],
        json!({"startTime": (tick / 1000).to_string(), "windowStartTime": "0",
               "windowEndTime": (tick / 1000).to_string(),
               "deltaColumn": {"name": "LastModifiedDate"}}),
        "a first run with backfill reads everything up to its tick"
    );
    assert!(run["etag"].as_str().unwrap().starts_with('"'));
    let names: Vec<&str> = run["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Copy Activity", "Promotion Activity"]);
    assert_eq!(run["activities"][0]["sourceInfo"][0]["id"], p.source.as_str());
    assert_eq!(run["activities"][1]["targetInfo"][0]["id"], p.target.as_str());
    assert_eq!(
        run["activities"][0]["durationSummary"]["extensions"],
        json!({"windowStart": 0, "windowEnd": tick})
    );
    let flow = flow_item(&api, &id).await;
    assert_eq!(
        flow["lastRunDetails"],
        json!({"id": run["id"], "state": "success", "startedAtUTC": tick, "completedAtUTC": tick + RUN_MS})
    );
    let one = api
        .get(&format!("/runs/{}", run["id"].as_str().unwrap()))
        .await
        .expect(200);
    assert_eq!(one.body["items"][0], *run);

    // Two more ticks: newest first, each window starting where the previous ended.
    api.advance_clock(30 * MINUTE).await;
    let all = runs(&api, &id).await;
    assert_eq!(all.len(), 3);
    let started: Vec<i64> = all
        .iter()
        .map(|r| r["metrics"]["durationSummary"]["startedAtUTC"].as_i64().unwrap())
        .collect();
    assert_eq!(started, [tick + 30 * MINUTE, tick + 15 * MINUTE, tick]);
    for pair in all.windows(2) {
        assert_eq!(
            pair[0]["params"]["windowStartTime"],
            pair[1]["params"]["windowEndTime"]
        );
    }
    let count = api
        .get(&format!("/runs?property=flowId=={id}&count=true"))
        .await
        .expect(200);
    assert_eq!(count.body["count"], 3);
    let page = api
        .get(&format!("/runs?property=flowId=={id}&limit=2"))
        .await
        .expect(200);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let next = page.body["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let rest = api.get(&next).await.expect(200);
    assert_eq!(rest.body["items"][0]["id"], all[2]["id"]);
    assert_eq!(rest.body["_links"], Value::Null);
    let after = api
        .get(&format!(
            "/runs?property=flowId=={id}&property=metrics.durationSummary.startedAtUTC>{tick}"
        ))
        .await
        .expect(200);
    assert_eq!(after.body["items"].as_array().unwrap().len(), 2);
    let since = api
        .get(&format!(
            "/flows?property=lastRunDetails.startedAtUTC>={}&count=true",
            tick + 30 * MINUTE
        ))
        .await
        .expect(200);
    assert_eq!(since.body["count"], 1, "flows filter on their last run");
    let later = api
        .get(&format!(
            "/flows?property=lastRunDetails.startedAtUTC>{}&count=true",
            tick + 30 * MINUTE
        ))
        .await
        .expect(200);
    assert_eq!(later.body["count"], 0);
    assert_eq!(
        api.get("/runs/nope").await.expect(404).body["errorMessage"],
        "runs not found with id = [nope]"
    );
    assert_eq!(
        api.get("/runs?property=colour==red")
            .await
            .expect(400)
            .flow_code(),
        "FLOW-1451-400"
    );

    // Deleting the flow deletes its runs.
    api.call(Method::DELETE, &format!("/flows/{id}"), None)
        .await
        .expect(204);
    assert!(runs(&api, &id).await.is_empty());
}

#[tokio::test]
async fn windows_follow_backfill_and_disabled_flows_do_not_run() {
    let api = start().await;
    let p = api.pipeline().await;
    let (id, start) = quarter_hourly(&api, &p, "false").await;
    api.advance_clock(15 * MINUTE + RUN_MS).await;
    let first = runs(&api, &id).await;
    assert_eq!(
        first[0]["params"]["windowStartTime"],
        start.to_string(),
        "without backfill the first window starts at startTime"
    );
    api.call(Method::POST, &format!("/flows/{id}/action?op=disable"), None)
        .await
        .expect(200);
    api.advance_clock(60 * MINUTE).await;
    assert_eq!(runs(&api, &id).await.len(), 1, "no runs while disabled");
    let enabled_at = api.now().await;
    api.call(Method::POST, &format!("/flows/{id}/action?op=enable"), None)
        .await
        .expect(200);
    api.advance_clock(15 * MINUTE + RUN_MS).await;
    let all = runs(&api, &id).await;
    assert_eq!(all.len(), 2);
    let resumed = all[0]["metrics"]["durationSummary"]["startedAtUTC"]
        .as_i64()
        .unwrap();
    assert!(resumed >= enabled_at && resumed < enabled_at + 15 * MINUTE + RUN_MS);
    assert_eq!(
        (resumed - start * 1000) % (15 * MINUTE),
        0,
        "on the schedule's grid"
    );
    assert_eq!(
        all[0]["params"]["windowStartTime"], all[1]["params"]["windowEndTime"],
        "the first run after a pause covers it"
    );
}

#[tokio::test]
async fn once_flows_run_once() {
    let api = start().await;
    let p = api.pipeline().await;
    let start = api.now().await / 1000 + 60;
    let mut body = p.flow("once", start);
    body["scheduleParams"] = json!({"startTime": start.to_string(), "frequency": "once"});
    let (id, _) = api.create_flow(&body).await;
    api.advance_clock(24 * 60 * MINUTE).await;
    let all = runs(&api, &id).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["metrics"]["durationSummary"]["startedAtUTC"], start * 1000);
    assert_eq!(all[0]["params"]["windowStartTime"], start.to_string());
}

#[tokio::test]
async fn runs_fail_as_the_admin_endpoint_says() {
    let api = start().await;
    let p = api.pipeline().await;
    let (id, _) = quarter_hourly(&api, &p, "true").await;
    let fail = json!({"fail": {"code": "CONNECTOR-1001-500", "message": "Error occurred while copying"}});
    let r = api
        .admin(Method::PUT, &format!("/flows/{id}/runs"), Some(&fail))
        .await
        .expect(200);
    assert_eq!(r.body, fail);
    api.advance_clock(15 * MINUTE + RUN_MS).await;
    let run = runs(&api, &id).await[0].clone();
    let metrics = &run["metrics"];
    assert_eq!(metrics["statusSummary"]["status"], "failed");
    assert_eq!(
        metrics["statusSummary"]["errors"],
        json!([{"code": "CONNECTOR-1001-500", "message": "Error occurred while copying"}])
    );
    assert!(metrics["durationSummary"].get("completedAtUTC").is_none());
    assert_eq!(metrics["recordSummary"]["inputRecordCount"], -1);
    assert_eq!(metrics["sizeSummary"]["inputBytes"], -1);
    assert_eq!(metrics["fileSummary"]["inputFileCount"], -1);
    let flow = flow_item(&api, &id).await;
    assert_eq!(flow["lastRunDetails"]["state"], "failed");
    assert!(flow["lastRunDetails"].get("completedAtUTC").is_none());

    api.admin(
        Method::PUT,
        &format!("/flows/{id}/runs"),
        Some(&json!({"fail": null})),
    )
    .await
    .expect(200);
    api.advance_clock(15 * MINUTE).await;
    assert_eq!(flow_item(&api, &id).await["lastRunDetails"]["state"], "success");
    for (status, expected) in [("failed", 1), ("Failed", 1), ("SUCCESS", 1)] {
        let r = api
            .get(&format!(
                "/runs?property=flowId=={id}&property=metrics.statusSummary.status=={status}&count=true"
            ))
            .await
            .expect(200);
        assert_eq!(r.body["count"], expected, "{status}");
    }
    for bad in [json!({}), json!({"fail": {"code": "X"}}), json!({"fail": 7})] {
        api.admin(Method::PUT, &format!("/flows/{id}/runs"), Some(&bad))
            .await
            .expect(400);
    }
    api.admin(Method::PUT, "/flows/nope/runs", Some(&json!({"fail": null})))
        .await
        .expect(404);
}

#[tokio::test]
async fn a_long_jump_keeps_only_the_latest_runs() {
    let api = start().await;
    let p = api.pipeline().await;
    let (id, _) = quarter_hourly(&api, &p, "true").await;
    let (other, _) = quarter_hourly(&api, &p, "true").await;
    // A year of quarter hours: 35,040 ticks each.
    api.advance_clock(365 * 24 * 60 * MINUTE).await;
    for flow in [&id, &other] {
        let r = api
            .get(&format!("/runs?property=flowId=={flow}&count=true"))
            .await
            .expect(200);
        assert_eq!(r.body["count"], KEPT_RUNS as u64);
    }
    let stored = api
        .admin(Method::GET, &format!("/flows/{id}"), None)
        .await
        .expect(200);
    // The ticks skipped count as runs the flow had.
    assert!(stored.body["schedule"]["runs"].as_u64().unwrap() > 35_000);
    assert_eq!(stored.body["schedule"]["keptRuns"], KEPT_RUNS);
    // The runs of both flows are interleaved in time, newest first.
    let page = api.get("/runs?limit=4").await.expect(200);
    let started: Vec<i64> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["metrics"]["durationSummary"]["startedAtUTC"].as_i64().unwrap())
        .collect();
    assert!(started.windows(2).all(|w| w[0] >= w[1]), "{started:?}");
    let flows: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["flowId"].as_str().unwrap())
        .collect();
    assert!(flows.contains(&id.as_str()) && flows.contains(&other.as_str()));
}
