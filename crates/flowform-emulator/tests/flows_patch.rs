//! Dataflow PATCH: `If-Match`, the paths D-UPDF and D-PARTIAL patch, the ones that need the
//! action endpoint or a new flow, and the `startTime` rule; the admin edit.

use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, mapping_body};

async fn patch(api: &Api, id: &str, etag: &str, ops: Value) -> super::api::Reply {
    api.call_with(
        Method::PATCH,
        &format!("/flows/{id}"),
        Some(&ops),
        &[("if-match", etag)],
    )
    .await
}

async fn item(api: &Api, id: &str) -> Value {
    api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0].clone()
}

#[tokio::test]
async fn patches_change_what_d_updf_changes_behind_if_match() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let (id, etag) = api.create_flow(&p.flow("f", 1_700_000_000)).await;
    let rename = json!([{"op": "replace", "path": "/name", "value": "g"}]);
    let r = api
        .call(Method::PATCH, &format!("/flows/{id}"), Some(&rename))
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1403-400");
    api.call(Method::PATCH, "/flows/nope", Some(&rename))
        .await
        .expect(404);
    let r = patch(&api, &id, "\"stale\"", rename.clone()).await.expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");

    // A new version of the mapping set, then the doc's edits in one patch.
    let r = api
        .conversion(
            Method::PUT,
            &format!("/mappingSets/{}", p.mapping),
            Some(&mapping_body("PersonalEmail")),
        )
        .await
        .expect(200);
    assert_eq!(r.body["version"], 1);
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/description", "value": "new words"},
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "hour"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": 2},
        {"op": "replace", "path": "/transformations/1",
         "value": {"name": "Mapping", "params": {"mappingId": p.mapping, "mappingVersion": 1}}},
        {"op": "add", "path": "/options", "value": {"partialIngestionPercent": "10"}},
        {"op": "add", "path": "/options/errorDiagnosticsEnabled", "value": true}
    ]);
    let r = patch(&api, &id, &etag, ops.clone()).await.expect(200);
    let new_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_eq!(r.body, json!({"id": id, "etag": new_etag}));
    assert_ne!(new_etag, etag);
    let got = item(&api, &id).await;
    assert_eq!(got["name"], "renamed");
    assert_eq!(got["description"], "new words");
    assert_eq!(got["etag"], new_etag.as_str());
    assert_eq!(got["scheduleParams"]["frequency"], "hour");
    assert_eq!(got["scheduleParams"]["interval"], "2");
    assert_eq!(got["transformations"][1]["params"]["mappingVersion"], "1");
    assert_eq!(
        got["options"],
        json!({"partialIngestionPercent": 10, "errorDiagnosticsEnabled": true})
    );
    assert_eq!(got["lastOperation"]["operation"], "update");
    assert_eq!(got["lastOperation"]["ops"], ops);
    assert!(got["updatedAt"].as_i64() >= got["createdAt"].as_i64());

    // (ops, status, code, words)
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!([{"op": "replace", "path": "/state", "value": "disabled"}]),
            400,
            "FLOW-1410-400",
            "action",
        ),
        (
            json!([{"op": "replace", "path": "/sourceConnectionIds", "value": ["x"]}]),
            400,
            "FLOW-1100-400",
            "new flow",
        ),
        (
            json!([{"op": "replace", "path": "/targetConnectionIds/0", "value": "x"}]),
            400,
            "FLOW-1100-400",
            "new flow",
        ),
        (
            json!([{"op": "replace", "path": "/flowSpec", "value": {"id": "x"}}]),
            400,
            "FLOW-1100-400",
            "new flow",
        ),
        (
            json!([{"op": "replace", "path": "/runs", "value": "x"}]),
            400,
            "FLOW-1100-400",
            "read-only",
        ),
        (
            json!([{"op": "replace", "path": "/colour", "value": "red"}]),
            400,
            "FLOW-1455-400",
            "colour",
        ),
        (
            json!([{"op": "replace", "path": "/transformations/7", "value": {}}]),
            400,
            "FLOW-1455-400",
            "transformations/7",
        ),
        (
            json!([{"op": "replace", "path": "/transformations/x", "value": {}}]),
            400,
            "FLOW-1455-400",
            "transformations/x",
        ),
        (
            json!([{"op": "replace", "path": "/transformations/1",
                  "value": {"name": "Mapping", "params": {"mappingId": p.mapping, "mappingVersion": 2}}}]),
            400,
            "FLOW-1412-400",
            "version",
        ),
        (
            json!([{"op": "replace", "path": "/transformations/0",
                  "value": {"name": "Copy", "params": {}}}]),
            400,
            "FLOW-1100-400",
            "deltaColumn",
        ),
        (
            json!([{"op": "replace", "path": "/scheduleParams/interval", "value": "0"}]),
            400,
            "FLOW-1100-400",
            "at least 1",
        ),
        (
            json!([{"op": "replace", "path": "/scheduleParams/colour", "value": "0"}]),
            400,
            "FLOW-1455-400",
            "colour",
        ),
        (
            json!([{"op": "remove", "path": "/scheduleParams"}]),
            400,
            "FLOW-1100-400",
            "cannot be removed",
        ),
        (
            json!([{"op": "move", "path": "/name", "from": "/description"}]),
            400,
            "FLOW-1434-400",
            "move",
        ),
        (
            json!([{"op": "add", "path": "/options/colour", "value": 1}]),
            400,
            "FLOW-1100-400",
            "colour",
        ),
    ];
    for (ops, status, code, words) in cases {
        let r = patch(&api, &id, &new_etag, ops.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{ops}: {:#}", r.body);
        assert_eq!(r.flow_code(), code, "{ops}");
        let message = r.body["errorMessage"].as_str().unwrap();
        assert!(message.contains(words), "{ops}: {message}");
    }
    // None of them changed anything.
    assert_eq!(item(&api, &id).await["etag"], new_etag.as_str());
    // Backfill in either encoding; once drops interval and backfill.
    let r = patch(
        &api,
        &id,
        &new_etag,
        json!([{"op": "replace", "path": "/scheduleParams/backfill", "value": false}]),
    )
    .await
    .expect(200);
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_eq!(item(&api, &id).await["scheduleParams"]["backfill"], "false");
    patch(
        &api,
        &id,
        &etag,
        json!([{"op": "replace", "path": "/scheduleParams",
                "value": {"startTime": "1700000000", "frequency": "once"}}]),
    )
    .await
    .expect(200);
    assert_eq!(
        item(&api, &id).await["scheduleParams"],
        json!({"startTime": "1700000000", "frequency": "once"})
    );
}

#[tokio::test]
async fn start_time_cannot_change_once_the_start_has_passed() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let start = api.now().await / 1000 + 3_600;
    let (id, etag) = api.create_flow(&p.flow("later", start)).await;
    let move_to =
        |s: i64| json!([{"op": "replace", "path": "/scheduleParams/startTime", "value": s.to_string()}]);
    let r = patch(&api, &id, &etag, move_to(start + 60)).await.expect(200);
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_eq!(
        item(&api, &id).await["scheduleParams"]["startTime"],
        (start + 60).to_string()
    );
    api.advance_clock(2 * 3_600_000).await;
    let r = patch(&api, &id, &etag, move_to(start + 7_200)).await.expect(400);
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("startTime cannot be changed")
    );
    // Disabled, the rule holds too; other schedule edits still go through.
    api.call(Method::POST, &format!("/flows/{id}/action?op=disable"), None)
        .await
        .expect(200);
    let etag = item(&api, &id).await["etag"].as_str().unwrap().to_owned();
    patch(&api, &id, &etag, move_to(start)).await.expect(400);
    patch(
        &api,
        &id,
        &etag,
        json!([{"op": "replace", "path": "/scheduleParams/interval", "value": "30"}]),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn the_admin_edit_changes_a_flow_out_of_band() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let (id, etag) = api.create_flow(&p.flow("f", 1_700_000_000)).await;
    let edit = json!({"name": "edited in the UI", "description": null, "state": "disabled",
                      "scheduleParams": {"startTime": 1_700_000_000, "frequency": "day", "interval": 1}});
    let r = api
        .admin(Method::PATCH, &format!("/flows/{id}"), Some(&edit))
        .await
        .expect(200);
    assert_eq!(r.body["item"]["name"], "edited in the UI");
    let got = item(&api, &id).await;
    assert_ne!(got["etag"], etag.as_str());
    assert_eq!(got["updatedClient"], "exc_app");
    assert_eq!(got["state"], "disabled");
    assert!(got.get("description").is_none());
    assert_eq!(got["scheduleParams"]["frequency"], "day");
    for bad in [
        json!({"flowSpec": {}}),
        json!({"state": "paused"}),
        json!({"scheduleParams": {"frequency": "day"}}),
        json!({"name": ""}),
    ] {
        api.admin(Method::PATCH, &format!("/flows/{id}"), Some(&bad))
            .await
            .expect(400);
    }
    let all = api.admin(Method::GET, "/flows", None).await.expect(200);
    assert_eq!(all.body.as_array().unwrap().len(), 1);
    assert_eq!(all.body[0]["org"], api.org.as_str());
    api.admin(Method::DELETE, &format!("/flows/{id}"), None)
        .await
        .expect(204);
    api.admin(Method::GET, &format!("/flows/{id}"), None)
        .await
        .expect(404);
    api.get(&format!("/flows/{id}")).await.expect(404);
}

#[tokio::test]
async fn a_concurrent_edit_makes_a_flow_patch_stale() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let (id, etag) = api.create_flow(&p.flow("f", 1_700_000_000)).await;
    api.script("PATCH", "concurrent-edit").await;
    let r = patch(
        &api,
        &id,
        &etag,
        json!([{"op": "replace", "path": "/name", "value": "g"}]),
    )
    .await
    .expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");
    assert!(
        item(&api, &id).await["description"]
            .as_str()
            .unwrap()
            .ends_with("(edited)")
    );
}

#[tokio::test]
async fn flows_runs_and_mapping_sets_survive_a_restart_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let options = flowform_emulator::Options {
        data: Some(dir.path().join("aep.json")),
        seed: Some(7),
        ..flowform_emulator::Options::default()
    };
    let api = Api::with(options.clone()).await;
    let p = api.pipeline().await;
    let start = api.now().await / 1000 - 10;
    let (id, _) = api.create_flow(&p.flow("kept", start)).await;
    api.advance_clock(15 * 60_000 + flowform_emulator::RUN_MS).await;
    let runs = api
        .get(&format!("/runs?property=flowId=={id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1);
    let before = item(&api, &id).await;
    api.emulator.shutdown().await.unwrap();

    let api = Api::with(options).await;
    assert_eq!(item(&api, &id).await, before);
    let again = api
        .get(&format!("/runs?property=flowId=={id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(again["items"], runs["items"]);
    api.conversion(Method::GET, &format!("/mappingSets/{}", p.mapping), None)
        .await
        .expect(200);
    let stored = api
        .admin(Method::GET, &format!("/flows/{id}"), None)
        .await
        .expect(200);
    assert!(
        stored.body["schedule"]["nextTickMs"].as_i64().is_some(),
        "it still ticks"
    );
    // Connections a restored flow uses are still guarded.
    api.call(Method::DELETE, &format!("/sourceConnections/{}", p.source), None)
        .await
        .expect(400);
}
