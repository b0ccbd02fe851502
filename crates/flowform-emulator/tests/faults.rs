//! Fault injection, by share and by script, and its repeatability under a seed.

use std::time::{Duration, Instant};

use flowform_emulator::Options;
use flowform_emulator::faults::FaultSettings;
use reqwest::Method;
use serde_json::json;

use super::api::{Api, basic, source};

#[tokio::test]
async fn latency_is_added_to_every_flow_request() {
    let api = Api::with(Options {
        faults: FaultSettings {
            latency_ms: 150,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    api.get("/connections").await.expect(200);
    // A lower bound only: the emulator must not answer before its latency has passed.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn rate_limits_carry_retry_after() {
    let api = Api::start().await;
    let settings = json!({"rateLimit": 1.0, "retryAfterS": 7});
    api.admin(Method::PUT, "/faults", Some(&settings))
        .await
        .expect(200);
    let r = api.get("/connections").await.expect(429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.body["error_code"], "429050");
    api.admin(Method::PUT, "/faults", Some(&json!({})))
        .await
        .expect(200);
    api.get("/connections").await.expect(200);
}

#[tokio::test]
async fn server_errors_and_unavailability() {
    let api = Api::start().await;
    api.script("GET", "server-error").await;
    api.script("GET", "unavailable").await;
    assert_eq!(
        api.get("/connections").await.expect(500).flow_code(),
        "FLOW-1102-500"
    );
    assert_eq!(
        api.get("/connections").await.expect(503).flow_code(),
        "FLOW-1103-503"
    );
    api.get("/connections").await.expect(200);
}

#[tokio::test]
async fn commit_then_fail_creates_the_connection_and_answers_500() {
    let api = Api::start().await;
    api.script("POST", "commit-then-fail").await;
    api.post("/connections", &basic("committed")).await.expect(500);
    assert_eq!(api.stored().await.len(), 1, "the POST was carried out");
    assert_eq!(api.count("POST", "/connections").await, 1);
}

#[tokio::test]
async fn commit_then_drop_creates_the_connection_and_drops_the_response() {
    let api = Api::start().await;
    api.script("POST", "commit-then-drop").await;
    let response = api
        .request(Method::POST, "/connections")
        .json(&basic("dropped"))
        .send()
        .await;
    let failed = match response {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the client never gets a whole answer");
    assert_eq!(api.stored().await.len(), 1, "the POST was carried out");
}

#[tokio::test]
async fn commit_then_fail_applies_patches_too() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("before")).await;
    api.script("PATCH", "commit-then-fail").await;
    api.patch(
        &id,
        &etag.clone().unwrap(),
        &json!([{"op": "replace", "path": "/name", "value": "after"}]),
    )
    .await
    .expect(500);
    let item = api.item(&id).await;
    assert_eq!(item["name"], "after");
    assert_ne!(item["etag"].as_str(), etag.as_deref());
}

#[tokio::test]
async fn hangs_outlast_client_timeouts() {
    let api = Api::start().await;
    api.script("GET", "hang").await;
    let result = api
        .request(Method::GET, "/connections")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    // Shutting down does not wait out the hang.
    tokio::time::timeout(Duration::from_secs(30), api.emulator.shutdown())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shares_are_repeatable_under_a_seed() {
    async fn outcomes(seed: u64) -> Vec<u16> {
        let api = Api::with(Options {
            seed: Some(seed),
            faults: FaultSettings {
                rate_limit: 0.3,
                server_error: 0.2,
                ..FaultSettings::default()
            },
            ..Options::default()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(api.get("/connections").await.status.as_u16());
        }
        statuses
    }
    let (a, b) = (outcomes(9).await, outcomes(9).await);
    assert_eq!(a, b);
    assert!(a.contains(&429) && a.contains(&500) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn fault_settings_are_validated() {
    let api = Api::start().await;
    api.admin(Method::PUT, "/faults", Some(&json!({"rateLimit": 2.0})))
        .await
        .expect(400);
    api.admin(Method::PUT, "/faults", Some(&json!({"rateLimt": 0.5})))
        .await
        .expect(400);
    api.admin(Method::POST, "/faults/script", Some(&json!({"fault": "explode"})))
        .await
        .expect(400);
}

#[tokio::test]
async fn a_concurrent_edit_hits_only_a_patch_or_delete() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("raced")).await;
    let etag = etag.unwrap();
    // Aimed at any other method, it is refused, by script or by settings.
    for method in ["GET", "POST"] {
        let r = api
            .admin(
                Method::POST,
                "/faults/script",
                Some(&json!({"method": method, "fault": "concurrent-edit"})),
            )
            .await
            .expect(400);
        let message = r.body["report"]["detailed-message"].as_str().unwrap();
        assert!(
            message.contains("`concurrent-edit` can only be scripted for PATCH or DELETE"),
            "{message}"
        );
    }
    let settings = json!({"script": [{"method": "GET", "fault": "concurrent-edit"}]});
    api.admin(Method::PUT, "/faults", Some(&settings))
        .await
        .expect(400);
    assert_eq!(
        api.admin(Method::GET, "/faults", None).await.body["script"],
        json!([])
    );

    // Without a method, it waits for the next PATCH or DELETE: reads pass it by.
    api.admin(
        Method::POST,
        "/faults/script",
        Some(&json!({"fault": "concurrent-edit"})),
    )
    .await
    .expect(200);
    assert_eq!(api.item(&id).await["etag"], etag.as_str());
    api.get("/connections").await.expect(200);
    let r = api
        .patch(
            &id,
            &etag,
            &json!([{"op": "replace", "path": "/name", "value": "mine"}]),
        )
        .await
        .expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");
    let item = api.item(&id).await;
    assert_eq!(item["name"], "raced");
    assert_eq!(item["updatedClient"], "exc_app");
}

#[tokio::test]
async fn faults_reach_source_connections_and_the_catalog_too() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let (id, etag) = api
        .create_in("sourceConnections", &source("s", &base, "Contact"))
        .await;
    api.script("PATCH", "concurrent-edit").await;
    let path = format!("/sourceConnections/{id}");
    let rename = json!([{"op": "replace", "path": "/name", "value": "mine"}]);
    let r = api
        .call_with(Method::PATCH, &path, Some(&rename), &[("if-match", &etag)])
        .await
        .expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");
    let item = &api.get(&path).await.expect(200).body["items"][0];
    assert_eq!(item["updatedClient"], "exc_app");
    assert_ne!(item["etag"], etag.as_str());

    api.script("GET", "server-error").await;
    let r = api.catalog(Method::GET, "/dataSets", None).await.expect(500);
    assert!(r.header("x-request-id").is_some());
    api.catalog(Method::GET, "/dataSets", None).await.expect(200);
    // The gateway guards the Catalog as it guards the Flow Service.
    let r = super::api::reply(
        api.http
            .get(format!("{}/dataSets", api.emulator.catalog_url()))
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(403);
    assert_eq!(r.body["error_code"], "403010");
}
