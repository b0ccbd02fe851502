//! Flow specs and dataflows: create, read, list, enable and disable, delete, with AEP's
//! validation and error codes (1410, 1412, 1413, 1425, 1422, 1447); sandboxes.

use flowform_emulator::{CLOUD_STORAGE_TO_AEP_ID, CRM_TO_AEP_ID, DEMO_EVENT_SCHEMA_ID};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, SF, mapping_body};

#[tokio::test]
async fn flow_specs_are_listed_filtered_and_read() {
    let api = Api::start().await;
    let all = api.get("/flowSpecs").await.expect(200);
    let names: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CRMToAEP", "CloudStorageToAEP"]);
    for query in [
        "property=name==CRMToAEP",
        "property=name==%22CRMToAEP%22",
        "property=name==\"CRMToAEP\"",
        "property=name==CRMToAEP,Other",
        "property=id==14518937-270C-4525-BDEC-C2BA7CCE3860",
    ] {
        let r = api.get(&format!("/flowSpecs?{query}")).await.expect(200);
        let items = r.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{query}");
        let spec = &items[0];
        assert_eq!(spec["id"], CRM_TO_AEP_ID);
        assert_eq!(spec["version"], "1.0");
        assert!(
            spec["sourceConnectionSpecIds"]
                .as_array()
                .unwrap()
                .contains(&json!(SF))
        );
        assert_eq!(
            spec["targetConnectionSpecIds"],
            json!(["c604ff05-7f1a-43c0-8e18-33bf874cb11c"])
        );
    }
    let none = api
        .get("/flowSpecs?property=name==CRMToAEP&property=id==9753525b-82c7-4dce-8a9b-5ccfce2b9876")
        .await
        .expect(200);
    assert_eq!(none.body["items"], json!([]), "repeated properties are ANDed");
    let r = api
        .get(&format!("/flowSpecs/{CLOUD_STORAGE_TO_AEP_ID}"))
        .await
        .expect(200);
    assert_eq!(r.body["items"][0]["name"], "CloudStorageToAEP");
    let spec = &api
        .get(&format!("/flowSpecs/{CRM_TO_AEP_ID}"))
        .await
        .expect(200)
        .body["items"][0];
    let transformations: Vec<&str> = spec["transformationSpecs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(transformations, ["Copy", "Mapping"]);
    assert_eq!(
        spec["scheduleSpec"]["spec"]["properties"]["frequency"]["enum"],
        json!(["once", "minute", "hour", "day", "week"])
    );
    assert_eq!(
        api.get("/flowSpecs/nope").await.expect(404).flow_code(),
        "FLOW-1101-404"
    );
    assert_eq!(
        api.get("/flowSpecs?property=providerId==x")
            .await
            .expect(400)
            .flow_code(),
        "FLOW-1451-400"
    );
}

#[tokio::test]
async fn flows_are_created_read_and_deleted_like_aep() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let start = api.now().await / 1000 - 10;
    let r = api
        .post("/flows", &p.flow("ACME Contact Dataflow", start))
        .await
        .expect(201);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let etag = r.body["etag"].as_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        r.header("location").unwrap(),
        format!("/data/foundation/flowservice/flows/{id}")
    );
    let item = api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0].clone();
    assert_eq!(item["name"], "ACME Contact Dataflow");
    assert_eq!(item["description"], "contacts to the lake");
    assert_eq!(item["state"], "enabled");
    assert_eq!(item["etag"], etag.as_str());
    assert_eq!(item["version"], etag.as_str());
    assert_eq!(item["flowSpec"], json!({"id": CRM_TO_AEP_ID, "version": "1.0"}));
    assert_eq!(item["sourceConnectionIds"], json!([p.source]));
    assert_eq!(item["targetConnectionIds"], json!([p.target]));
    assert!(item["createdAt"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(item["createdAt"], item["updatedAt"]);
    assert_eq!(
        item["scheduleParams"],
        json!({"startTime": start.to_string(), "frequency": "minute", "interval": "15", "backfill": "true"})
    );
    assert_eq!(
        item["transformations"][0]["params"]["deltaColumn"]["name"],
        "LastModifiedDate"
    );
    assert_eq!(
        item["transformations"][1]["params"],
        json!({"mappingId": p.mapping, "mappingVersion": "0"}),
        "mappingVersion goes in as 0 and comes back as \"0\""
    );
    assert_eq!(
        item["inheritedAttributes"],
        json!({
            "sourceConnections": [{"id": p.source, "connectionSpec": {"id": SF, "version": "1.0"},
                                   "baseConnection": {"id": p.base, "connectionSpec": {"id": SF, "version": "1.0"}}}],
            "targetConnections": [{"id": p.target,
                                   "connectionSpec": {"id": "c604ff05-7f1a-43c0-8e18-33bf874cb11c", "version": "1.0"}}]
        })
    );
    assert_eq!(item["runs"], format!("/runs?property=flowId=={id}"));
    assert_eq!(item["lastOperation"]["operation"], "create");
    assert_eq!(item["lastOperation"]["status"]["value"], "completed");
    assert!(item.get("lastRunDetails").is_none(), "no run yet");
    for field in [
        "createdBy",
        "updatedBy",
        "createdClient",
        "updatedClient",
        "sandboxId",
        "sandboxName",
        "imsOrgId",
    ] {
        assert!(item[field].is_string(), "{field}");
    }

    // A source or target connection a flow uses cannot be deleted (1447).
    for kind in ["sourceConnections", "targetConnections"] {
        let conn = if kind == "sourceConnections" {
            &p.source
        } else {
            &p.target
        };
        let r = api
            .call(Method::DELETE, &format!("/{kind}/{conn}"), None)
            .await
            .expect(400);
        assert_eq!(r.flow_code(), "FLOW-1447-400");
        assert!(
            r.body["errorMessage"]
                .as_str()
                .unwrap()
                .contains(&format!("flows/{id}"))
        );
    }
    api.call(Method::DELETE, &format!("/flows/{id}"), None)
        .await
        .expect(204);
    let r = api.get(&format!("/flows/{id}")).await.expect(404);
    assert_eq!(r.flow_code(), "FLOW-1101-404");
    assert_eq!(
        r.body["errorMessage"],
        format!("flows not found with id = [{id}]")
    );
    api.call(Method::DELETE, &format!("/flows/{id}"), None)
        .await
        .expect(404);
    api.call(Method::DELETE, &format!("/sourceConnections/{}", p.source), None)
        .await
        .expect(204);
}

/// A change to a valid flow body: a JSON pointer and the value to put there (`null` removes).
fn changed(mut body: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = body.pointer_mut(parent).unwrap();
    match target {
        Value::Array(items) => {
            let i: usize = key.parse().unwrap();
            if value.is_null() {
                items.remove(i);
            } else {
                items[i] = value;
            }
        }
        Value::Object(object) if value.is_null() => {
            object.remove(key);
        }
        Value::Object(object) => {
            object.insert(key.to_owned(), value);
        }
        _ => panic!("{pointer}"),
    }
    body
}

#[tokio::test]
async fn creates_are_checked_against_the_spec_the_connections_and_the_mapping() {
    let mut api = Api::start().await;
    let p = api.pipeline().await;
    // A mapping set of another schema, and one in another sandbox.
    let mut events = mapping_body("Email");
    events["outputSchema"]["schemaRef"]["id"] = json!(DEMO_EVENT_SCHEMA_ID);
    let other_schema = api
        .conversion(Method::POST, "/mappingSets", Some(&events))
        .await
        .expect(200)
        .body["id"]
        .clone();
    api.sandbox = "dev".into();
    let elsewhere = api.pipeline().await;
    api.sandbox = "prod".into();
    let valid = p.flow("f", 1_700_000_000);
    // (pointer, value, status, code, words of the message)
    let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
        ("/name", Value::Null, 400, "FLOW-1100-400", "name"),
        ("/state", json!("disabled"), 400, "FLOW-1410-400", "state"),
        (
            "/flowSpec/id",
            json!("00000000-0000-0000-0000-000000000000"),
            400,
            "FLOW-1413-400",
            "flow spec",
        ),
        ("/flowSpec/version", json!("2.0"), 400, "FLOW-1413-400", "version"),
        ("/flowSpec", Value::Null, 400, "FLOW-1100-400", "flowSpec"),
        (
            "/flowSpec/id",
            json!(CLOUD_STORAGE_TO_AEP_ID),
            400,
            "FLOW-1413-400",
            "does not take",
        ),
        (
            "/sourceConnectionIds",
            json!([p.source, p.source]),
            400,
            "FLOW-1100-400",
            "exactly one",
        ),
        (
            "/sourceConnectionIds",
            Value::Null,
            400,
            "FLOW-1100-400",
            "sourceConnectionIds",
        ),
        (
            "/sourceConnectionIds",
            json!([elsewhere.source]),
            400,
            "FLOW-1100-400",
            "no source connection",
        ),
        (
            "/targetConnectionIds",
            json!(["nope"]),
            400,
            "FLOW-1100-400",
            "no target connection",
        ),
        (
            "/targetConnectionIds",
            json!([p.source]),
            400,
            "FLOW-1100-400",
            "no target connection",
        ),
        (
            "/scheduleParams",
            Value::Null,
            400,
            "FLOW-1100-400",
            "scheduleParams",
        ),
        (
            "/scheduleParams/interval",
            json!("10"),
            400,
            "FLOW-1100-400",
            "at least 15",
        ),
        (
            "/scheduleParams/frequency",
            json!("fortnight"),
            400,
            "FLOW-1100-400",
            "one of",
        ),
        (
            "/scheduleParams/frequency",
            json!("once"),
            400,
            "FLOW-1100-400",
            "must not be given",
        ),
        (
            "/scheduleParams/startTime",
            json!("soon"),
            400,
            "FLOW-1100-400",
            "epoch seconds",
        ),
        ("/transformations/0", Value::Null, 400, "FLOW-1100-400", "Copy"),
        (
            "/transformations/0/params/deltaColumn",
            Value::Null,
            400,
            "FLOW-1100-400",
            "deltaColumn",
        ),
        (
            "/transformations/1/name",
            json!("Sort"),
            400,
            "FLOW-1100-400",
            "Sort",
        ),
        (
            "/transformations/1/params/mappingId",
            json!("0123"),
            400,
            "FLOW-1412-400",
            "no mapping set",
        ),
        (
            "/transformations/1/params/mappingId",
            json!(elsewhere.mapping),
            400,
            "FLOW-1412-400",
            "no mapping set",
        ),
        (
            "/transformations/1/params/mappingVersion",
            json!(3),
            400,
            "FLOW-1412-400",
            "version",
        ),
        (
            "/transformations/1/params/mappingVersion",
            json!("x"),
            400,
            "FLOW-1412-400",
            "version",
        ),
        (
            "/transformations/1/params/mappingId",
            other_schema,
            400,
            "FLOW-1425-400",
            "schema",
        ),
        (
            "/options",
            json!({"partialIngestionPercent": 0}),
            400,
            "FLOW-1100-400",
            "partialIngestionPercent",
        ),
    ];
    for (pointer, value, status, code, words) in cases {
        let body = changed(valid.clone(), pointer, value.clone());
        let r = api.post("/flows", &body).await;
        assert_eq!(r.status.as_u16(), status, "{pointer} = {value}: {:#}", r.body);
        assert_eq!(r.flow_code(), code, "{pointer} = {value}");
        let message = r.body["errorMessage"].as_str().unwrap();
        assert!(message.contains(words), "{pointer} = {value}: {message}");
    }
    // Every encoding of the schedule and the mapping version, and a missing version (the
    // latest), are accepted.
    let typed = changed(
        valid.clone(),
        "/scheduleParams",
        json!({"startTime": 1_700_000_000, "frequency": "minute", "interval": 15, "backfill": false}),
    );
    let (id, _) = api
        .create_flow(&changed(
            typed,
            "/transformations/1/params/mappingVersion",
            Value::Null,
        ))
        .await;
    let item = &api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0];
    assert_eq!(
        item["scheduleParams"],
        json!({"startTime": "1700000000", "frequency": "minute", "interval": "15", "backfill": "false"})
    );
    assert_eq!(item["transformations"][1]["params"]["mappingVersion"], "0");
    let once = changed(
        valid.clone(),
        "/scheduleParams",
        json!({"startTime": "1700000000", "frequency": "once"}),
    );
    let (id, _) = api.create_flow(&once).await;
    let item = &api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0];
    assert_eq!(
        item["scheduleParams"],
        json!({"startTime": "1700000000", "frequency": "once"})
    );
    let with_options = changed(valid, "/options", json!({"partialIngestionPercent": "10"}));
    let (id, _) = api.create_flow(&with_options).await;
    let item = &api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0];
    assert_eq!(item["options"], json!({"partialIngestionPercent": 10}));
}

#[tokio::test]
async fn flows_are_listed_filtered_counted_and_paged() {
    let mut api = Api::start().await;
    let p = api.pipeline().await;
    let (other_source, _) = api
        .create_in(
            "sourceConnections",
            &super::api::source("accounts", &p.base, "Account"),
        )
        .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = p.flow(&format!("flow {i}"), 1_700_000_000);
        if i >= 3 {
            body["sourceConnectionIds"] = json!([other_source]);
        }
        ids.push(api.create_flow(&body).await.0);
    }
    api.call(
        Method::POST,
        &format!("/flows/{}/action?op=disable", ids[0]),
        None,
    )
    .await
    .expect(200);
    let names = |r: &super::api::Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = api.get("/flows").await.expect(200);
    assert_eq!(
        names(&all),
        ["flow 0", "flow 4", "flow 3", "flow 2", "flow 1"],
        "most recently updated first"
    );
    let cases: Vec<(String, usize)> = vec![
        ("property=name==flow 1".into(), 1),
        ("property=name==%22flow 1%22,flow 2".into(), 2),
        ("property=state==disabled".into(), 1),
        ("property=state==enabled".into(), 4),
        (format!("property=sourceConnectionIds[]=={other_source}"), 2),
        (format!("property=targetConnectionIds[]=={}", p.target), 5),
        (
            format!("property=flowSpec.id=={}", CRM_TO_AEP_ID.to_uppercase()),
            5,
        ),
        (format!("property=id=={},{}", ids[1], ids[2]), 2),
        (
            format!("property=state==enabled&property=sourceConnectionIds[]=={other_source}"),
            2,
        ),
        (
            format!(
                "property=inheritedAttributes.sourceConnections[].baseConnection.id=={}",
                p.base
            ),
            5,
        ),
        ("property=createdAt>=1".into(), 5),
    ];
    for (query, expected) in &cases {
        let r = api.get(&format!("/flows?{query}")).await.expect(200);
        assert_eq!(r.body["items"].as_array().unwrap().len(), *expected, "{query}");
        let count = api.get(&format!("/flows?{query}&count=true")).await.expect(200);
        assert_eq!(count.body["count"], *expected as u64, "{query}");
    }
    assert_eq!(
        api.get("/flows?property=colour==red")
            .await
            .expect(400)
            .flow_code(),
        "FLOW-1451-400"
    );
    assert_eq!(
        api.get("/flows?property=connectionSpec.id==x")
            .await
            .expect(400)
            .flow_code(),
        "FLOW-1451-400",
        "flows have a flowSpec, not a connectionSpec"
    );
    // Pages of two, followed by `_links.next.href`.
    let mut seen = Vec::new();
    let mut next = Some("/flows?limit=2".to_owned());
    while let Some(path) = next {
        let r = api.get(&path).await.expect(200);
        seen.extend(names(&r));
        next = r.body["_links"]["next"]["href"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, names(&all));
    assert_eq!(
        api.get("/flows?limit=0").await.expect(400).flow_code(),
        "FLOW-1451-400"
    );
    // Sandboxes partition flows.
    api.sandbox = "dev".into();
    assert_eq!(api.get("/flows").await.expect(200).body["items"], json!([]));
    api.get(&format!("/flows/{}", ids[1])).await.expect(404);
}

#[tokio::test]
async fn flows_are_enabled_and_disabled_through_the_action_endpoint() {
    let api = Api::start().await;
    let p = api.pipeline().await;
    let (id, etag) = api.create_flow(&p.flow("f", 1_700_000_000)).await;
    let action = |op: &str| format!("/flows/{id}/action?op={op}");
    let r = api.call(Method::POST, &action("disable"), None).await.expect(200);
    let disabled_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_eq!(r.body["id"], id.as_str());
    assert_ne!(disabled_etag, etag);
    let item = &api.get(&format!("/flows/{id}")).await.expect(200).body["items"][0];
    assert_eq!(item["state"], "disabled");
    assert_eq!(item["etag"], disabled_etag.as_str());
    assert_eq!(item["lastOperation"]["operation"], "disable");
    let r = api.call(Method::POST, &action("DISABLE"), None).await.expect(400);
    assert_eq!(r.flow_code(), "FLOW-1422-400");
    // `If-Match` is checked when sent.
    let r = api
        .call_with(Method::POST, &action("Enable"), None, &[("if-match", &etag)])
        .await
        .expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");
    api.call_with(
        Method::POST,
        &format!("{}&subOp=APPLY", action("ENABLE")),
        None,
        &[("if-match", &disabled_etag)],
    )
    .await
    .expect(200);
    let r = api.call(Method::POST, &action("enable"), None).await.expect(400);
    assert_eq!(r.flow_code(), "FLOW-1422-400");
    for bad in ["finalize", "publish", ""] {
        api.call(Method::POST, &action(bad), None).await.expect(400);
    }
    api.call(Method::POST, &format!("/flows/{id}/action"), None)
        .await
        .expect(400);
    api.call(Method::POST, "/flows/nope/action?op=enable", None)
        .await
        .expect(404);
}
