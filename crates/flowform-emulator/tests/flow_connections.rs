//! Source and target connections: create, read, patch and delete, with AEP's validation and
//! error codes; the references they hold (1418); sandboxes; admin and `--data`.

use flowform_emulator::{DEMO_EVENT_SCHEMA_ID, DEMO_PROFILE_DATASET_ID, Options};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, SF, basic, source, target};

#[tokio::test]
async fn sources_and_targets_are_created_read_and_deleted_like_aep() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let r = api
        .post("/sourceConnections", &source("contacts", &base, "Contact"))
        .await
        .expect(201);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        r.header("location").unwrap(),
        format!("/data/foundation/flowservice/sourceConnections/{id}")
    );
    let r = api.get(&format!("/sourceConnections/{id}")).await.expect(200);
    let item = &r.body["items"][0];
    for field in [
        "id",
        "createdAt",
        "updatedAt",
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
        "name",
        "description",
        "baseConnectionId",
        "data",
        "params",
        "connectionSpec",
        "state",
        "version",
        "etag",
        "inheritedAttributes",
    ] {
        assert!(!item[field].is_null(), "missing `{field}` in {item:#}");
    }
    assert_eq!(item["etag"], etag.as_str());
    assert_eq!(item["version"], etag.as_str());
    assert_eq!(item["state"], "enabled");
    assert_eq!(item["sandboxName"], "prod");
    assert!(item["createdAt"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(item["params"]["tableName"], "Contact");
    assert_eq!(item["params"]["columns"][0]["name"], "Email");
    assert_eq!(item["data"], json!({"format": "tabular"}));
    assert_eq!(
        item["inheritedAttributes"],
        json!({"baseConnection": {"id": base, "connectionSpec": {"id": SF, "version": "1.0"}}})
    );

    let (plain, _) = api.create_in("targetConnections", &target("lake")).await;
    let item = &api
        .get(&format!("/targetConnections/{plain}"))
        .await
        .expect(200)
        .body["items"][0];
    assert_eq!(item["params"]["dataSetId"], DEMO_PROFILE_DATASET_ID);
    assert!(item.get("baseConnectionId").is_none() && item.get("inheritedAttributes").is_none());
    let mut linked = target("linked lake");
    linked["baseConnectionId"] = json!(base);
    let (linked, _) = api.create_in("targetConnections", &linked).await;
    let item = &api
        .get(&format!("/targetConnections/{linked}"))
        .await
        .expect(200)
        .body["items"][0];
    assert_eq!(item["inheritedAttributes"]["baseConnection"]["id"], base.as_str());

    api.call(Method::DELETE, &format!("/sourceConnections/{id}"), None)
        .await
        .expect(204);
    let r = api.get(&format!("/sourceConnections/{id}")).await.expect(404);
    assert_eq!(r.flow_code(), "FLOW-1101-404");
    assert_eq!(
        r.body["errorMessage"],
        format!("sourceConnections not found with id = [{id}]")
    );
    let r = api
        .call(Method::DELETE, &format!("/targetConnections/{id}"), None)
        .await
        .expect(404);
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("targetConnections not found")
    );
}

/// A change to a valid body, as a JSON pointer and the value to put there (`null` removes).
type Change = (&'static str, Value);

fn changed(mut body: Value, (pointer, value): &Change) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let object = body.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    if value.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), value.clone());
    }
    body
}

#[tokio::test]
async fn creates_are_validated_against_what_they_refer_to() {
    let mut api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    api.sandbox = "dev".into();
    let (elsewhere, _) = api.create(&basic("crm in dev")).await;
    api.sandbox = "prod".into();
    let sf = source("s", &base, "Contact");
    // (body, change, status, flow code, words the message has)
    let cases: Vec<(&str, Value, Change, u16, &str, &str)> = vec![
        (
            "sourceConnections",
            sf.clone(),
            ("/name", json!("")),
            400,
            "FLOW-1100-400",
            "name",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/connectionSpec/version", Value::Null),
            422,
            "FLOW-1100-422",
            "version",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/baseConnectionId", Value::Null),
            400,
            "FLOW-1100-400",
            "baseConnectionId",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/baseConnectionId", json!("nope")),
            400,
            "FLOW-1100-400",
            "baseConnectionId",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/baseConnectionId", json!(elsewhere)),
            400,
            "FLOW-1100-400",
            "sandbox 'prod'",
        ),
        (
            "sourceConnections",
            sf.clone(),
            (
                "/connectionSpec/id",
                json!("38ad80fe-8b06-4938-94f4-d4ee80266b07"),
            ),
            400,
            "FLOW-1413-400",
            "spec",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/connectionSpec/version", json!("2.0")),
            400,
            "FLOW-1413-400",
            "version",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/data", Value::Null),
            400,
            "FLOW-1100-400",
            "data",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/data/format", json!("xml")),
            400,
            "FLOW-1100-400",
            "tabular",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/params/tableName", Value::Null),
            400,
            "FLOW-1100-400",
            "tableName",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/params/columns", json!([{"name": "x"}])),
            400,
            "FLOW-1100-400",
            "columns[0]",
        ),
        (
            "sourceConnections",
            sf.clone(),
            ("/state", json!("enabled")),
            400,
            "FLOW-1410-400",
            "state",
        ),
        (
            "targetConnections",
            target("t"),
            ("/params/dataSetId", json!("000000000000000000000000")),
            400,
            "FLOW-1100-400",
            "invalid dataSetId",
        ),
        (
            "targetConnections",
            target("t"),
            ("/data/schema/id", json!(DEMO_EVENT_SCHEMA_ID)),
            400,
            "FLOW-1100-400",
            "schema",
        ),
        (
            "targetConnections",
            target("t"),
            ("/data/schema", Value::Null),
            400,
            "FLOW-1100-400",
            "data.schema",
        ),
        (
            "targetConnections",
            target("t"),
            ("/connectionSpec/id", json!(SF)),
            400,
            "FLOW-1413-400",
            "data lake",
        ),
        (
            "targetConnections",
            target("t"),
            ("/baseConnectionId", json!("nope")),
            400,
            "FLOW-1100-400",
            "baseConnectionId",
        ),
        (
            "targetConnections",
            target("t"),
            ("/name", Value::Null),
            400,
            "FLOW-1100-400",
            "name",
        ),
    ];
    for (kind, body, change, status, code, words) in &cases {
        let r = api
            .post(&format!("/{kind}"), &changed(body.clone(), change))
            .await;
        assert_eq!(r.status.as_u16(), *status, "{kind} {change:?}: {:#}", r.body);
        assert_eq!(r.flow_code(), *code, "{kind} {change:?}");
        let message = r.body["errorMessage"].as_str().unwrap();
        assert!(message.contains(words), "{kind} {change:?}: {message}");
    }
    api.post("/sourceConnections", &json!([1])).await.expect(400);
    assert_eq!(api.emulator.count(flowform_emulator::Side::Source), 0);
    assert_eq!(api.emulator.count(flowform_emulator::Side::Target), 0);
}

#[tokio::test]
async fn patch_renames_behind_if_match_and_refuses_the_rest() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let (id, etag) = api
        .create_in("sourceConnections", &source("s", &base, "Lead"))
        .await;
    let path = format!("/sourceConnections/{id}");
    let rename = json!([{"op": "REPLACE", "path": "/name", "value": "leads"}]);
    let r = api.call(Method::PATCH, &path, Some(&rename)).await.expect(400);
    assert_eq!(r.flow_code(), "FLOW-1403-400");
    let r = api
        .call_with(Method::PATCH, &path, Some(&rename), &[("if-match", "\"stale\"")])
        .await
        .expect(412);
    assert_eq!(
        r.body["errorMessage"],
        format!("Supplied version=[\"stale\"] does not match the current version on entity=[{etag}]")
    );
    let before = api.get(&path).await.body["items"][0]["updatedAt"]
        .as_i64()
        .unwrap();
    api.advance_clock(1_000).await;
    let r = api
        .call_with(Method::PATCH, &path, Some(&rename), &[("if-match", &etag)])
        .await
        .expect(200);
    assert_eq!(r.body["id"], id.as_str());
    let new_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let item = api.get(&path).await.body["items"][0].clone();
    assert_eq!(item["name"], "leads");
    assert_eq!(item["etag"], new_etag.as_str());
    assert!(item["updatedAt"].as_i64().unwrap() >= before + 1_000);
    let describe = json!([{"op": "remove", "path": "/description"}, {"op": "add", "path": "/description", "value": "d"}]);
    api.call_with(Method::PATCH, &path, Some(&describe), &[("if-match", &new_etag)])
        .await
        .expect(200);
    let etag = api.get(&path).await.body["items"][0]["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    for (op, code) in [
        (
            json!({"op": "replace", "path": "/params/tableName", "value": "Contact"}),
            "FLOW-1100-400",
        ),
        (
            json!({"op": "replace", "path": "/baseConnectionId", "value": base}),
            "FLOW-1100-400",
        ),
        (
            json!({"op": "replace", "path": "/connectionSpec/id", "value": SF}),
            "FLOW-1414-400",
        ),
        (
            json!({"op": "replace", "path": "/colour", "value": "red"}),
            "FLOW-1455-400",
        ),
        (
            json!({"op": "move", "path": "/name", "from": "/description"}),
            "FLOW-1434-400",
        ),
    ] {
        let r = api
            .call_with(Method::PATCH, &path, Some(&json!([op])), &[("if-match", &etag)])
            .await
            .expect(400);
        assert_eq!(r.flow_code(), code, "{op}");
    }
    assert_eq!(
        api.get(&path).await.body["items"][0]["etag"],
        etag.as_str(),
        "refusals change nothing"
    );
}

#[tokio::test]
async fn a_base_connection_in_use_cannot_be_deleted_1418() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let (src, _) = api
        .create_in("sourceConnections", &source("s", &base, "Account"))
        .await;
    let r = api
        .call(Method::DELETE, &format!("/connections/{base}"), None)
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1418-400");
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains(&format!("sourceConnections/{src}"))
    );
    api.call(Method::DELETE, &format!("/sourceConnections/{src}"), None)
        .await
        .expect(204);
    let mut linked = target("t");
    linked["baseConnectionId"] = json!(base);
    let (tgt, _) = api.create_in("targetConnections", &linked).await;
    let r = api
        .call(Method::DELETE, &format!("/connections/{base}/"), None)
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1418-400");
    api.call(Method::DELETE, &format!("/targetConnections/{tgt}"), None)
        .await
        .expect(204);
    api.call(Method::DELETE, &format!("/connections/{base}"), None)
        .await
        .expect(204);
}

#[tokio::test]
async fn sandboxes_keep_their_own_connections() {
    let mut api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let (src, _) = api
        .create_in("sourceConnections", &source("s", &base, "Case"))
        .await;
    api.sandbox = "dev".into();
    api.get(&format!("/sourceConnections/{src}")).await.expect(404);
    api.call(Method::DELETE, &format!("/sourceConnections/{src}"), None)
        .await
        .expect(404);
    assert_eq!(
        api.get("/sourceConnections?count=true").await.expect(200).body,
        json!({"count": 0})
    );
    api.post("/sourceConnections", &source("s", &base, "Case"))
        .await
        .expect(400);
}

#[tokio::test]
async fn admin_dumps_edits_removes_seeds_and_resets_every_kind() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let (src, etag) = api
        .create_in("sourceConnections", &source("s", &base, "User"))
        .await;
    let (tgt, _) = api.create_in("targetConnections", &target("t")).await;
    let dump = api
        .admin(Method::GET, "/sourceConnections", None)
        .await
        .expect(200)
        .body;
    assert_eq!(dump[0]["item"]["id"], src.as_str());
    assert_eq!(dump[0]["sandbox"], "prod");
    let edited = api
        .admin(
            Method::PATCH,
            &format!("/sourceConnections/{src}"),
            Some(&json!({"name": "renamed in the UI", "state": "disabled"})),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(edited["item"]["name"], "renamed in the UI");
    assert_eq!(edited["item"]["state"], "disabled");
    assert_eq!(edited["item"]["updatedClient"], "exc_app");
    assert_ne!(edited["item"]["etag"], etag.as_str());
    api.admin(Method::GET, &format!("/targetConnections/{tgt}"), None)
        .await
        .expect(200);
    api.admin(Method::DELETE, &format!("/targetConnections/{tgt}"), None)
        .await
        .expect(204);
    api.get(&format!("/targetConnections/{tgt}")).await.expect(404);
    api.admin(Method::GET, &format!("/targetConnections/{tgt}"), None)
        .await
        .expect(404);

    let api = &api;
    let seed = |body: Value| async move { api.admin(Method::POST, "/seed", Some(&body)).await };
    let r = seed(json!({"count": 10, "kind": "sourceConnections"}))
        .await
        .expect(200);
    assert_eq!(r.body, json!({"created": 10, "total": 11}));
    seed(json!({"count": 4, "kind": "targetConnections", "linkBaseConnections": true}))
        .await
        .expect(200);
    seed(json!({"count": 1, "kind": "sourceConnections", "sandbox": "empty"}))
        .await
        .expect(400);
    seed(json!({"count": 1, "kind": "flows"})).await.expect(400);
    seed(json!({"count": 1, "kind": "targetConnections", "dataSetId": "nope"}))
        .await
        .expect(400);
    let r = api
        .get(&format!(
            "/targetConnections?property=baseConnectionId=={base}&count=true"
        ))
        .await
        .expect(200);
    assert_eq!(r.body, json!({"count": 4}));
    api.admin(Method::POST, "/reset", None).await.expect(204);
    assert_eq!(api.emulator.count(flowform_emulator::Side::Source), 0);
    assert_eq!(api.emulator.count(flowform_emulator::Side::Target), 0);
}

#[tokio::test]
async fn data_keeps_the_new_kinds_and_old_snapshots_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let options = Options {
        data: Some(data.clone()),
        ..Options::default()
    };
    let api = Api::with(options.clone()).await;
    let (base, _) = api.create(&basic("crm")).await;
    let (src, etag) = api
        .create_in("sourceConnections", &source("s", &base, "Contact"))
        .await;
    let added = api
        .admin(Method::POST, "/datasets", Some(&json!({"name": "kept"})))
        .await
        .expect(201)
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = target("t");
    body["params"]["dataSetId"] = json!(added);
    let (tgt, _) = api.create_in("targetConnections", &body).await;
    api.emulator.shutdown().await.unwrap();

    let api = Api::with(options.clone()).await;
    let item = &api
        .get(&format!("/sourceConnections/{src}"))
        .await
        .expect(200)
        .body["items"][0];
    assert_eq!(item["etag"], etag.as_str());
    assert_eq!(item["inheritedAttributes"]["baseConnection"]["id"], base.as_str());
    api.get(&format!("/targetConnections/{tgt}")).await.expect(200);
    api.catalog(Method::GET, &format!("/dataSets/{added}"), None)
        .await
        .expect(200);
    let r = api
        .call(Method::DELETE, &format!("/connections/{base}"), None)
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1418-400", "references survive a restart");
    api.emulator.shutdown().await.unwrap();

    // A version-1 file: base connections only.
    let mut old: Value = serde_json::from_str(&std::fs::read_to_string(&data).unwrap()).unwrap();
    for key in ["sourceConnections", "targetConnections", "datasets"] {
        old.as_object_mut().unwrap().remove(key);
    }
    old["version"] = json!(1);
    std::fs::write(&data, old.to_string()).unwrap();
    let api = Api::with(options).await;
    api.get(&format!("/connections/{base}")).await.expect(200);
    api.get(&format!("/sourceConnections/{src}")).await.expect(404);
    api.emulator.shutdown().await.unwrap();
}
