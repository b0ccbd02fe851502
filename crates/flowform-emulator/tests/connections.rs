//! Create, read, update, delete and test, with AEP's validation and error codes.

use flowform_emulator::Options;
use flowform_emulator::connection::MASK;
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, SF, basic, jwt, reply};

#[tokio::test]
async fn create_answers_201_with_location_and_a_quoted_etag() {
    let api = Api::start().await;
    let r = api.post("/connections", &basic("acme")).await.expect(201);
    let id = r.body["id"].as_str().unwrap();
    let etag = r.body["etag"].as_str().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        r.header("location").unwrap(),
        format!("/data/foundation/flowservice/connections/{id}")
    );
    let item = api.item(id).await;
    assert_eq!(item["etag"], etag);
    assert_eq!(item["version"], etag);
}

#[tokio::test]
async fn read_shows_every_documented_field_and_never_a_secret() {
    let api = Api::start().await;
    let (id, _) = api.create(&basic("acme")).await;
    let item = api.item(&id).await;
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
        "connectionSpec",
        "state",
        "auth",
        "version",
        "etag",
    ] {
        assert!(!item[field].is_null(), "missing `{field}` in {item:#}");
    }
    assert!(
        item["createdAt"].as_i64().unwrap() > 1_600_000_000_000,
        "epoch milliseconds"
    );
    assert_eq!(item["state"], "enabled");
    assert_eq!(item["auth"]["params"]["password"], MASK);
    assert_eq!(item["auth"]["params"]["securityToken"], MASK);
    assert_eq!(item["auth"]["params"]["username"], "u");
    let everything = serde_json::to_string(&api.stored().await).unwrap() + &item.to_string();
    for secret in ["hunter2", "tok-123"] {
        assert!(!everything.contains(secret), "the emulator kept `{secret}`");
    }
}

#[tokio::test]
async fn missing_connections_are_404_with_the_flow_envelope() {
    let api = Api::start().await;
    let r = api
        .get("/connections/4890fc95-5a1f-4983-94bb-e060c08e3f81")
        .await
        .expect(404);
    assert_eq!(r.flow_code(), "FLOW-1101-404");
    assert_eq!(r.body["status"], 404);
    assert_eq!(r.body["title"], "Resource not found");
    assert_eq!(r.body["report"]["request-id"].as_str(), r.header("x-request-id"));
    assert!(
        r.body["report"]["detailed-message"]
            .as_str()
            .unwrap()
            .contains("4890fc95-")
    );
}

#[tokio::test]
async fn create_validates_like_aep() {
    let api = Api::start().await;
    let mut unknown_spec = basic("x");
    unknown_spec["connectionSpec"]["id"] = json!("00000000-0000-0000-0000-000000000000");
    let mut unknown_auth = basic("x");
    unknown_auth["auth"]["specName"] = json!("Basic Auth");
    let mut missing_param = basic("x");
    missing_param["auth"]["params"]
        .as_object_mut()
        .unwrap()
        .remove("securityToken");
    let mut no_version = basic("x");
    no_version["connectionSpec"]
        .as_object_mut()
        .unwrap()
        .remove("version");
    let mut no_name = basic("x");
    no_name.as_object_mut().unwrap().remove("name");
    let mut number_param = basic("x");
    number_param["auth"]["params"]["username"] = json!(5);
    let mut oauth_without_version = basic("x");
    oauth_without_version["auth"] = json!({"specName": "OAuth2 Client Credential",
        "params": {"environmentUrl": "https://a.my.salesforce.com", "clientId": "c", "clientSecret": "s"}});
    let cases = [
        (unknown_spec, 400, "FLOW-1413-400"),
        (unknown_auth, 400, "FLOW-1415-400"),
        (missing_param, 400, "FLOW-1100-400"),
        (no_version, 422, "FLOW-1100-422"),
        (no_name, 400, "FLOW-1100-400"),
        (number_param, 400, "FLOW-1100-400"),
        (oauth_without_version, 400, "FLOW-1100-400"),
        (json!([1, 2]), 400, "FLOW-1100-400"),
    ];
    for (body, status, code) in cases {
        let r = api.post("/connections", &body).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.body);
        assert_eq!(r.flow_code(), code, "{body}");
    }
    assert_eq!(api.emulator.len(), 0, "nothing was created");
}

#[tokio::test]
async fn malformed_wrongly_typed_and_huge_bodies_get_400s() {
    let api = Api::start().await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        let request = api
            .request(Method::POST, "/connections")
            .header("content-type", content_type)
            .body(body);
        async move { reply(request.send().await.unwrap()).await }
    };
    let r = send(b"{\"name\": ".to_vec(), "application/json")
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1100-400");
    let r = send(vec![b'x'; 3 * 1024 * 1024], "application/json")
        .await
        .expect(400);
    assert!(r.body["title"].is_string());
    let r = send(b"{}".to_vec(), "text/plain").await.expect(400);
    assert_eq!(
        r.body,
        json!({"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError", "detail": "A valid content-type must be specified"})
    );
    let r = send(b"\xff\xfe garbage".to_vec(), "application/json")
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1100-400");
}

#[tokio::test]
async fn jwt_connections_initialize_then_gain_an_etag_and_org_id() {
    let api = Api::with(Options {
        initializing_ms: 5_000,
        seed: Some(1),
        ..Options::default()
    })
    .await;
    let r = api.post("/connections", &jwt("jwt")).await.expect(201);
    assert!(
        r.body.get("etag").is_none(),
        "no etag while initializing: {}",
        r.body
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    let item = api.item(&id).await;
    assert_eq!(item["state"], "initializing");
    assert!(
        item.get("etag").is_none() && item.get("version").is_none(),
        "{item}"
    );
    let r = api
        .patch(
            &id,
            "\"x\"",
            &json!([{"op": "replace", "path": "/name", "value": "n"}]),
        )
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1417-400");
    api.advance_clock(5_000).await;
    let item = api.item(&id).await;
    assert_eq!(item["state"], "enabled");
    assert!(item["etag"].as_str().unwrap().starts_with('"'));
    assert!(
        item["auth"]["params"]["orgId"]
            .as_str()
            .unwrap()
            .starts_with("00D")
    );
    assert_eq!(item["auth"]["params"]["jwtToken"], MASK);
}

#[tokio::test]
async fn all_initializing_starts_every_connection_initializing() {
    let api = Api::with(Options {
        all_initializing: true,
        ..Options::default()
    })
    .await;
    let (id, etag) = api.create(&basic("b")).await;
    assert_eq!(etag, None);
    assert_eq!(api.item(&id).await["state"], "initializing");
    api.advance_clock(3_000).await;
    let item = api.item(&id).await;
    assert_eq!(item["state"], "enabled");
    assert!(
        item["auth"]["params"].get("orgId").is_none(),
        "only JWT connections gain orgId"
    );
}

#[tokio::test]
async fn patch_applies_json_patch_with_if_match() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("before")).await;
    let etag = etag.unwrap();
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "after"},
        {"op": "REMOVE", "path": "/description"},
        {"op": "add", "path": "/auth/params/apiVersion", "value": "60.0"},
        {"op": "replace", "path": "/auth/params/password", "value": "rotated"},
    ]);
    let r = api.patch(&id, &etag, &ops).await.expect(200);
    let new_etag = r.body["etag"].as_str().unwrap().to_owned();
    assert_ne!(new_etag, etag, "the etag changes on every update");
    assert_eq!(r.body["id"], id.as_str());
    let item = api.item(&id).await;
    assert_eq!(item["name"], "after");
    assert!(item.get("description").is_none());
    assert_eq!(item["auth"]["params"]["apiVersion"], "60.0");
    assert_eq!(item["etag"], new_etag.as_str());
    assert_eq!(item["version"], new_etag.as_str());
    // The trailing-slash form of the spec works the same; the old etag is now stale.
    let slash = format!("/connections/{id}/");
    let one = json!([{"op": "replace", "path": "/name", "value": "again"}]);
    let r = api
        .call_with(Method::PATCH, &slash, Some(&one), &[("if-match", &etag)])
        .await
        .expect(412);
    assert_eq!(r.flow_code(), "FLOW-1404-412");
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Supplied version=[")
    );
    api.call_with(Method::PATCH, &slash, Some(&one), &[("if-match", &new_etag)])
        .await
        .expect(200);
}

#[tokio::test]
async fn replacing_auth_params_drops_what_is_left_out() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("b")).await;
    let before = api.stored().await[0]["secretDigests"]["password"].clone();
    let ops = json!([{"op": "replace", "path": "/auth/params",
        "value": {"username": "u2", "password": "new", "securityToken": "t"}}]);
    api.patch(&id, &etag.unwrap(), &ops).await.expect(200);
    let item = api.item(&id).await;
    assert!(item["auth"]["params"].get("environmentUrl").is_none(), "{item}");
    assert_eq!(item["auth"]["params"]["username"], "u2");
    assert_ne!(
        api.stored().await[0]["secretDigests"]["password"],
        before,
        "the secret was rotated"
    );
}

#[tokio::test]
async fn patch_refusals() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("b")).await;
    let etag = etag.unwrap();
    let unquoted = etag.trim_matches('"').to_owned();
    let name = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    let r = api
        .call(Method::PATCH, &format!("/connections/{id}"), Some(&name))
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1403-400");
    assert_eq!(
        api.patch(&id, &unquoted, &name).await.expect(412).flow_code(),
        "FLOW-1404-412"
    );
    let cases = [
        (
            json!([{"op": "replace", "path": "/connectionSpec/id", "value": SF}]),
            "FLOW-1414-400",
        ),
        (
            json!([{"op": "replace", "path": "/connectionSpec", "value": {}}]),
            "FLOW-1414-400",
        ),
        (
            json!([{"op": "move", "from": "/name", "path": "/description"}]),
            "FLOW-1434-400",
        ),
        (
            json!([{"op": "replace", "path": "/state", "value": "disabled"}]),
            "FLOW-1455-400",
        ),
        (
            json!([{"op": "replace", "path": "/auth/params/nope", "value": "x"}]),
            "FLOW-1455-400",
        ),
        (
            json!([{"op": "remove", "path": "/auth/params/password"}]),
            "FLOW-1100-400",
        ),
        (json!([{"op": "remove", "path": "/name"}]), "FLOW-1100-400"),
        (json!([]), "FLOW-1100-400"),
        (json!({"op": "replace"}), "FLOW-1100-400"),
    ];
    for (ops, code) in cases {
        let r = api.patch(&id, &etag, &ops).await;
        assert_eq!(r.status, 400, "{ops}: {}", r.body);
        assert_eq!(r.flow_code(), code, "{ops}");
    }
    assert_eq!(api.item(&id).await["etag"], etag.as_str(), "nothing changed");
    api.patch("00000000-0000-4000-8000-000000000000", &etag, &name)
        .await
        .expect(404);
}

#[tokio::test]
async fn delete_answers_204_then_404_and_1418_while_in_use() {
    let api = Api::start().await;
    let (id, _) = api.create(&basic("b")).await;
    let (used, _) = api.create(&basic("used")).await;
    api.admin(
        Method::PUT,
        &format!("/connections/{used}/in-use"),
        Some(&json!({"inUse": true})),
    )
    .await
    .expect(204);
    let r = api
        .call(Method::DELETE, &format!("/connections/{used}"), None)
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1418-400");
    let r = api
        .call(Method::DELETE, &format!("/connections/{id}/"), None)
        .await
        .expect(204);
    assert_eq!(r.body, Value::Null);
    assert!(r.header("x-request-id").is_some());
    api.call(Method::DELETE, &format!("/connections/{id}"), None)
        .await
        .expect(404);
    api.get(&format!("/connections/{id}")).await.expect(404);
}

#[tokio::test]
async fn test_reports_whether_a_connection_works() {
    let api = Api::start().await;
    let (id, etag) = api.create(&basic("b")).await;
    let test = || async { api.get(&format!("/connections/{id}/test")).await.expect(200).body };
    assert_eq!(test().await, json!({"result": true}));
    // The password is rotated at the source: the connection's credentials no longer work,
    // and nothing about the connection in AEP changed.
    let source_path = format!("/connections/{id}/source");
    let source = |credentials: Value| {
        let (api, path) = (&api, &source_path);
        async move {
            api.admin(Method::PUT, path, Some(&json!({ "credentials": credentials })))
                .await
        }
    };
    source(json!({"password": "rotated"})).await.expect(204);
    assert_eq!(test().await, json!({"result": false}));
    assert_eq!(
        api.get(&format!("/connections/{id}")).await.expect(200).body["items"][0]["etag"],
        json!(etag)
    );
    // Given the new password, it works again.
    api.call_with(
        Method::PATCH,
        &format!("/connections/{id}"),
        Some(&json!([{"op": "replace", "path": "/auth/params/password", "value": "rotated"}])),
        &[("If-Match", etag.as_deref().unwrap())],
    )
    .await
    .expect(200);
    assert_eq!(test().await, json!({"result": true}));
    // Back to accepting whatever it holds; a disabled connection cannot connect.
    source(Value::Null).await.expect(204);
    source(json!("nonsense")).await.expect(400);
    api.admin(
        Method::PATCH,
        &format!("/connections/{id}"),
        Some(&json!({"state": "disabled"})),
    )
    .await
    .expect(200);
    assert_eq!(test().await, json!({"result": false}));
    api.admin(
        Method::PUT,
        "/connections/no-such-id/source",
        Some(&json!({"credentials": null})),
    )
    .await
    .expect(404);
}

#[tokio::test]
async fn connection_specs_are_served_with_their_auth_schemas() {
    let api = Api::start().await;
    let r = api.get(&format!("/connectionSpecs/{SF}")).await.expect(200);
    let spec = &r.body["items"][0];
    assert_eq!(spec["name"], "salesforce");
    let names: Vec<&str> = spec["authSpec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Basic Authentication",
            "OAuth2 Client Credential",
            "OAuth2 JWT Token Credential"
        ]
    );
    let basic = &spec["authSpec"][0]["spec"];
    assert_eq!(basic["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(basic["properties"]["securityToken"]["format"], "password");
    assert_eq!(
        basic["required"],
        json!(["username", "password", "securityToken"])
    );
    let r = api
        .get("/connectionSpecs?property=name==%22dynamics-online%22")
        .await
        .expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["id"], "38ad80fe-8b06-4938-94f4-d4ee80266b07");
    assert!(
        api.get("/connectionSpecs").await.body["items"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    api.get("/connectionSpecs/00000000-0000-0000-0000-000000000000")
        .await
        .expect(404);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_envelopes() {
    let api = Api::start().await;
    let r = api.get("/destinations").await.expect(404);
    assert_eq!(r.flow_code(), "FLOW-1101-404");
    let r = api
        .call(Method::PUT, "/connections", Some(&json!({})))
        .await
        .expect(405);
    assert!(r.body["type"].as_str().unwrap().ends_with("-405"));
}

#[tokio::test]
async fn data_persists_across_restarts_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let options = Options {
        data: Some(data.clone()),
        ..Options::default()
    };
    let api = Api::with(options.clone()).await;
    let (id, etag) = api.create(&basic("kept")).await;
    api.emulator.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("tok-123"), "{text}");
    let api = Api::with(options).await;
    let item = api.item(&id).await;
    assert_eq!(item["etag"].as_str(), etag.as_deref());
    assert_eq!(item["name"], "kept");
    api.emulator.shutdown().await.unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}
