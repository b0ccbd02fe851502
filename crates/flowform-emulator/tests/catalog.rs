//! Catalog datasets: the demo ones, reads keyed by id, paging with `limit` and `start`,
//! creating one, and the admin endpoints.

use flowform_emulator::{
    CATALOG_BASE, DEMO_ACCOUNT_DATASET_ID, DEMO_DATASETS, DEMO_EVENT_DATASET_ID, DEMO_PROFILE_DATASET_ID,
    DEMO_PROFILE_SCHEMA_ID,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, target};

fn keys(body: &Value) -> Vec<String> {
    body.as_object()
        .expect("an object keyed by id")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_sandbox_has_the_demo_datasets_with_the_same_ids() {
    let mut api = Api::start().await;
    for sandbox in ["prod", "dev"] {
        api.sandbox = sandbox.into();
        let all = api.catalog(Method::GET, "/dataSets", None).await.expect(200).body;
        let mut expected = vec![
            DEMO_PROFILE_DATASET_ID,
            DEMO_EVENT_DATASET_ID,
            DEMO_ACCOUNT_DATASET_ID,
        ];
        expected.sort_unstable();
        assert_eq!(keys(&all), expected);
        let profile = &all[DEMO_PROFILE_DATASET_ID];
        assert_eq!(profile["tags"]["unifiedProfile"], json!(["enabled:true"]));
        assert_eq!(profile["schemaRef"]["id"], DEMO_PROFILE_SCHEMA_ID);
        assert_eq!(
            (profile["version"].as_str(), profile["state"].as_str()),
            (Some("1.0.0"), Some("DRAFT"))
        );
        assert!(profile["created"].as_i64().unwrap() > 1_600_000_000_000);
        assert_eq!(profile["imsOrg"], api.org.as_str());
        assert!(all[DEMO_EVENT_DATASET_ID]["tags"].get("unifiedProfile").is_none());
    }
    let one = api
        .catalog(Method::GET, &format!("/dataSets/{DEMO_EVENT_DATASET_ID}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(keys(&one), [DEMO_EVENT_DATASET_ID]);
    let trimmed = api
        .catalog(
            Method::GET,
            &format!("/dataSets/{DEMO_EVENT_DATASET_ID}?properties=name,schemaRef"),
            None,
        )
        .await
        .expect(200)
        .body;
    let item = trimmed[DEMO_EVENT_DATASET_ID].as_object().unwrap();
    assert_eq!(item.keys().collect::<Vec<_>>(), ["name", "schemaRef"]);
    let r = api
        .catalog(Method::GET, "/dataSets/5c8c3c555033b814b69f947f", None)
        .await
        .expect(404);
    assert_eq!(r.body["status"], 404);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("5c8c3c555033b814b69f947f")
    );
    assert!(r.body["report"]["request-id"].is_string());
    assert_eq!(DEMO_DATASETS.len(), 3);
}

#[tokio::test]
async fn listings_page_with_limit_and_start() {
    let api = Api::start().await;
    let r = api
        .admin(
            Method::POST,
            "/datasets",
            Some(&json!({"count": 147, "prefix": "Bench"})),
        )
        .await
        .expect(201);
    assert_eq!(r.body["ids"].as_array().unwrap().len(), 147);
    let api = &api;
    let page = |query: &'static str| async move {
        keys(
            &api.catalog(Method::GET, &format!("/dataSets?{query}"), None)
                .await
                .expect(200)
                .body,
        )
        .len()
    };
    assert_eq!(page("").await, 20, "20 by default");
    assert_eq!(page("limit=100").await, 100);
    assert_eq!(page("limit=500").await, 100, "at most 100");
    assert_eq!(page("limit=100&start=100").await, 50);
    assert_eq!(page("limit=100&start=150").await, 0);
    // Offsets walk every dataset once, in creation order.
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let body = api
            .catalog(
                Method::GET,
                &format!("/dataSets?limit=40&start={start}&properties=name&orderBy=asc:created"),
                None,
            )
            .await
            .expect(200)
            .body;
        let names: Vec<String> = body
            .as_object()
            .unwrap()
            .values()
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .collect();
        if names.is_empty() {
            break;
        }
        start += names.len();
        seen.extend(names);
    }
    assert_eq!(seen.len(), 150);
    let r = api
        .catalog(Method::GET, "/dataSets?name=Bench%20000042", None)
        .await
        .expect(200);
    assert_eq!(keys(&r.body).len(), 1);
    for query in [
        "limit=0",
        "limit=-5",
        "start=x",
        "orderBy=sideways:name",
        "tags=unifiedProfile:enabled:true",
    ] {
        let r = api
            .catalog(Method::GET, &format!("/dataSets?{query}"), None)
            .await
            .expect(400);
        assert_eq!(r.body["title"], "BadRequestError", "{query}");
    }
}

#[tokio::test]
async fn a_created_dataset_is_read_and_written_to_in_its_sandbox_only() {
    let mut api = Api::start().await;
    let body = json!({"name": "Loyalty members", "schemaRef": {"id": DEMO_PROFILE_SCHEMA_ID,
                      "contentType": "application/vnd.adobe.xed-full+json;version=1"},
                      "tags": {"unifiedProfile": ["enabled:true"]}, "fileDescription": {"persisted": true}});
    let r = api
        .catalog(Method::POST, "/dataSets?requestDataSource=true", Some(&body))
        .await
        .expect(201);
    let reference = r.body[0].as_str().unwrap();
    let id = reference.strip_prefix("@/dataSets/").unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(
        r.header("location").unwrap(),
        format!("{CATALOG_BASE}/dataSets/{id}")
    );
    let read = api
        .catalog(Method::GET, &format!("/dataSets/{id}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(read[&id]["name"], "Loyalty members");
    assert_eq!(
        read[&id]["schemaRef"]["contentType"],
        "application/vnd.adobe.xed-full+json;version=1"
    );
    let mut writes = target("loyalty");
    writes["params"]["dataSetId"] = json!(id);
    api.create_in("targetConnections", &writes).await;
    api.catalog(Method::POST, "/dataSets", Some(&json!({"name": "no schema"})))
        .await
        .expect(400);
    api.catalog(
        Method::POST,
        "/dataSets",
        Some(&json!({"schemaRef": {"id": "x"}})),
    )
    .await
    .expect(400);
    api.sandbox = "dev".into();
    api.catalog(Method::GET, &format!("/dataSets/{id}"), None)
        .await
        .expect(404);
    let r = api.post("/targetConnections", &writes).await.expect(400);
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("invalid dataSetId")
    );
}

#[tokio::test]
async fn admin_adds_lists_and_removes_datasets() {
    let api = Api::start().await;
    let id = api
        .admin(
            Method::POST,
            "/datasets",
            Some(&json!({"name": "one", "sandbox": "dev"})),
        )
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let all = api.admin(Method::GET, "/datasets", None).await.expect(200).body;
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["sandbox"], "dev");
    assert_eq!(all[0]["item"]["schemaRef"]["id"], DEMO_PROFILE_SCHEMA_ID);
    api.admin(
        Method::POST,
        "/datasets",
        Some(&json!({"name": "", "schemaRef": {"id": "s"}})),
    )
    .await
    .expect(400);
    api.admin(Method::POST, "/datasets", Some(&json!({"count": 1_000_000})))
        .await
        .expect(400);
    api.admin(
        Method::DELETE,
        &format!("/datasets/{DEMO_PROFILE_DATASET_ID}"),
        None,
    )
    .await
    .expect(404);
    api.admin(Method::DELETE, &format!("/datasets/{id}"), None)
        .await
        .expect(204);
    api.admin(Method::POST, "/datasets", Some(&json!({"name": "gone at reset"})))
        .await
        .expect(201);
    api.admin(Method::POST, "/reset", None).await.expect(204);
    assert_eq!(api.admin(Method::GET, "/datasets", None).await.body, json!([]));
}
