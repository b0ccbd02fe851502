//! The emulator's own endpoints.

use reqwest::Method;
use serde_json::json;

use super::api::{Api, basic};

#[tokio::test]
async fn stats_count_requests_by_method_route_and_status() {
    let api = Api::start().await;
    api.admin(Method::DELETE, "/stats", None).await.expect(204);
    let (id, _) = api.create(&basic("a")).await;
    api.get(&format!("/connections/{id}")).await.expect(200);
    api.get("/connections/nope").await.expect(404);
    assert_eq!(api.count("POST", "/connections").await, 1);
    assert_eq!(api.count("GET", "/connections/{id}").await, 2);
    let stats = api.admin(Method::GET, "/stats", None).await.body;
    assert!(
        stats["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == 404)
    );
}

#[tokio::test]
async fn out_of_band_edits_change_the_etag_like_the_ui_does() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("mine")).await;
    let edit = json!({"name": "renamed in the UI", "params": {"password": "changed", "username": "ui-user"}});
    api.admin(Method::PATCH, &format!("/connections/{id}"), Some(&edit))
        .await
        .expect(200);
    let item = api.item(&id).await;
    assert_eq!(item["name"], "renamed in the UI");
    assert_eq!(item["updatedClient"], "exc_app");
    assert_ne!(item["etag"].as_str(), etag.as_deref());
    assert_eq!(item["auth"]["params"]["username"], "ui-user");
    assert_eq!(
        item["auth"]["params"]["password"],
        flowform_emulator::connection::MASK
    );
    api.admin(Method::DELETE, &format!("/connections/{id}"), None)
        .await
        .expect(204);
    api.get(&format!("/connections/{id}")).await.expect(404);
    api.admin(Method::PATCH, &format!("/connections/{id}"), Some(&edit))
        .await
        .expect(404);
}

#[tokio::test]
async fn seed_and_reset() {
    let api = Api::start().await;
    let r = api
        .admin(
            Method::POST,
            "/seed",
            Some(&json!({"count": 1000, "sandbox": "bulk"})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["total"], 1000);
    api.admin(Method::POST, "/reset", None).await.expect(204);
    assert_eq!(api.emulator.len(), 0);
    api.admin(Method::POST, "/seed", Some(&json!({"count": "many"})))
        .await
        .expect(400);
}
