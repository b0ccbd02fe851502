//! The emulator's responses, route by route, against the response schemas of Adobe's own
//! OpenAPI files in `shared/reference/` beside the repository (read here, not copied).
//!
//! Without that directory (a clone on its own) these tests say so loudly on stderr and
//! pass, unless `FLOWFORM_REQUIRE_SHARED=1` (as CI sets), which makes that a failure: the
//! same rule as the main crate's PostgreSQL tests and `FLOWFORM_REQUIRE_POSTGRES`.

use std::io::Write as _;
use std::path::PathBuf;

use reqwest::Method;
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value, json};

use super::api::{Api, SF, basic, reply, source, target};

/// `shared/reference/` beside the repository, or `None` (said loudly on stderr) when it is
/// not there and `FLOWFORM_REQUIRE_SHARED=1` does not require it.
fn reference_dir() -> Option<PathBuf> {
    // The crate is `<repository>/crates/flowform-emulator`; `shared/` sits beside the
    // repository.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let beside = manifest.ancestors().nth(3).unwrap_or(&manifest);
    let dir = beside.join("shared/reference");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("FLOWFORM_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!(
            "FLOWFORM_REQUIRE_SHARED=1 but `{}` is not a directory: shared/ must sit beside the repository",
            dir.display()
        );
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of a passing test, and
    // this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! skipped: {} not found beside the repository; the emulator's answers are NOT checked against Adobe's OpenAPI files (FLOWFORM_REQUIRE_SHARED=1 makes this a failure) !!!!!!!!\n",
        dir.display()
    );
    None
}

/// Adobe's OpenAPI file `file`, from `shared/reference/` beside the repository; `None` when
/// that directory is missing (see [`reference_dir`]).
pub(super) fn spec(file: &str) -> Option<Value> {
    let path = reference_dir()?.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = Yaml::load_from_str(&text).expect("Adobe's OpenAPI parses");
    Some(to_json(&docs[0]))
}

/// A YAML node as JSON; mapping keys become strings (`200:` and `'200':` alike).
fn to_json(node: &Yaml<'_>) -> Value {
    let scalar = |s: &Scalar<'_>| match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => json!(i),
        Scalar::FloatingPoint(f) => json!(f.into_inner()),
        Scalar::String(s) => Value::String(s.to_string()),
    };
    match node {
        Yaml::Value(s) => scalar(s),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Yaml::Tagged(_, inner) => to_json(inner),
        other => panic!("the OpenAPI holds a YAML node this test does not read: {other:?}"),
    }
}

/// The schema of a documented response, validating against the spec's own components.
pub(super) fn validator(doc: &Value, path: &str, method: &str, status: &str) -> jsonschema::Validator {
    let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no schema for {method} {path} {status}");
    let root = json!({"allOf": [schema], "components": doc["components"]});
    jsonschema::draft7::new(&root).expect("the OpenAPI schema compiles")
}

pub(super) fn check(validator: &jsonschema::Validator, body: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
}

/// Checks a schema that rejects something does: the validation is not vacuous.
pub(super) fn rejects(validator: &jsonschema::Validator, body: &Value) {
    assert!(!validator.is_valid(body), "the schema accepts {body}");
}

#[tokio::test]
async fn every_route_answers_in_the_documented_shape() {
    let Some(doc) = spec("aep-flow-service-openapi.yaml") else {
        return;
    };
    let api = Api::start().await;

    let created = api.post("/connections", &basic("shape")).await.expect(201);
    check(
        &validator(&doc, "/connections", "post", "201"),
        &created.body,
        "POST /connections",
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let (jwt_id, _) = api.create(&super::api::jwt("initializing")).await;

    let one = validator(&doc, "/connections/{BASE_CONNECTION_ID}", "get", "200");
    check(
        &one,
        &api.get(&format!("/connections/{id}")).await.expect(200).body,
        "GET /connections/{id}",
    );
    check(
        &one,
        &api.get(&format!("/connections/{jwt_id}")).await.expect(200).body,
        "GET initializing",
    );
    rejects(&one, &json!({"items": [{"createdAt": "yesterday"}]}));

    let list = validator(&doc, "/connections", "get", "200");
    api.admin(Method::POST, "/seed", Some(&json!({"count": 3})))
        .await
        .expect(200);
    check(
        &list,
        &api.get("/connections?limit=2").await.expect(200).body,
        "GET /connections",
    );
    check(
        &list,
        &api.get("/connections?orderby=name").await.expect(200).body,
        "GET /connections ordered",
    );

    let test = validator(&doc, "/connections/{BASE_CONNECTION_ID}/test", "get", "200");
    check(
        &test,
        &api.get(&format!("/connections/{id}/test")).await.expect(200).body,
        "GET test",
    );

    let specs = validator(&doc, "/connectionSpecs", "get", "200");
    check(
        &specs,
        &api.get("/connectionSpecs").await.expect(200).body,
        "GET /connectionSpecs",
    );
    let spec_one = validator(&doc, "/connectionSpecs/{CONNECTION_SPEC_ID}", "get", "200");
    check(
        &spec_one,
        &api.get(&format!("/connectionSpecs/{SF}")).await.expect(200).body,
        "GET /connectionSpecs/{id}",
    );

    // PATCH documents only an example: the response has its keys, with its types.
    let example = &doc["paths"]["/connections/{BASE_CONNECTION_ID}/"]["patch"]["responses"]["200"]["content"]
        ["application/json"]["example"];
    let etag = api.item(&id).await["etag"].as_str().unwrap().to_owned();
    let patched = api
        .patch(
            &id,
            &etag,
            &json!([{"op": "replace", "path": "/name", "value": "x"}]),
        )
        .await
        .expect(200);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&patched.body), keys(example));
    assert!(patched.body.as_object().unwrap().values().all(Value::is_string));

    // DELETE documents 204 with no content.
    let deleted = api
        .call(Method::DELETE, &format!("/connections/{id}/"), None)
        .await
        .expect(204);
    assert_eq!(deleted.body, Value::Null);
}

#[tokio::test]
async fn error_bodies_carry_what_the_destinations_spec_documents() {
    let Some(doc) = spec("aep-flow-service-destinations-openapi.yaml") else {
        return;
    };
    let example = |path: &str, method: &str, status: &str| -> Value {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["example"].clone()
    };
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let api = Api::start().await;

    // 401: the gateway shape, word for word.
    let r = reply(
        api.http
            .get(api.flow("/connections"))
            .bearer_auth("expired-or-forged")
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(401);
    let documented = example("/connections", "get", "401");
    assert_eq!(
        r.body["error_code"].as_str().unwrap(),
        documented["error_code"].to_string()
    );
    assert_eq!(r.body["message"], documented["message"]);

    // 404 and 412: the documented keys are all there (with the typed envelope around them).
    let r = api
        .get("/connections/ca5c6e9a-8559-4a08-97a5-f15b756da600")
        .await
        .expect(404);
    for key in keys(&example("/connections/{id}", "get", "404")) {
        assert!(r.body.get(&key).is_some(), "404 lacks `{key}`: {}", r.body);
    }
    for kind in ["sourceConnections", "targetConnections"] {
        let missing = "4890fc95-5a1f-4983-94bb-e060c08e3f";
        let r = api.get(&format!("/{kind}/{missing}")).await.expect(404);
        let documented = example(&format!("/{kind}/{{id}}"), "get", "404");
        for key in keys(&documented) {
            assert!(r.body.get(&key).is_some(), "404 lacks `{key}`: {}", r.body);
        }
        assert_eq!(
            r.body["errorMessage"], documented["errorMessage"],
            "word for word"
        );
    }
    let (id, _) = api.create(&basic("e")).await;
    let r = api
        .patch(
            &id,
            "\"stale\"",
            &json!([{"op": "add", "path": "/description", "value": "d"}]),
        )
        .await
        .expect(412);
    for key in keys(&example("/connections/{id}", "patch", "412")) {
        assert!(r.body.get(&key).is_some(), "412 lacks `{key}`: {}", r.body);
    }
    assert!(
        r.body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not match the current version on entity")
    );
}

#[tokio::test]
async fn source_and_target_connections_answer_in_the_documented_shape() {
    let Some(doc) = spec("aep-flow-service-openapi.yaml") else {
        return;
    };
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let mut linked = target("linked");
    linked["baseConnectionId"] = json!(base);
    let cases = [
        (
            "sourceConnections",
            "SOURCE_CONNECTION_ID",
            source("s", &base, "Contact"),
        ),
        ("targetConnections", "TARGET_CONNECTION_ID", target("t")),
        ("targetConnections", "TARGET_CONNECTION_ID", linked),
    ];
    for (kind, param, body) in &cases {
        let collection = format!("/{kind}");
        let one = format!("/{kind}/{{{param}}}");
        let created = api.post(&collection, body).await.expect(201);
        check(
            &validator(&doc, &collection, "post", "201"),
            &created.body,
            &format!("POST {collection}"),
        );
        let id = created.body["id"].as_str().unwrap().to_owned();
        let etag = created.body["etag"].as_str().unwrap().to_owned();
        let read = validator(&doc, &one, "get", "200");
        check(
            &read,
            &api.get(&format!("{collection}/{id}")).await.expect(200).body,
            &format!("GET {one}"),
        );
        rejects(
            &read,
            &json!({"items": [{"inheritedAttributes": {"baseConnection": {"id": 7}}}]}),
        );
        let list = validator(&doc, &collection, "get", "200");
        for query in ["?limit=1", "?count=true", "?orderby=name"] {
            check(
                &list,
                &api.get(&format!("{collection}{query}")).await.expect(200).body,
                &format!("GET {collection}{query}"),
            );
        }
        // The OpenAPI declares PATCH's answer as the list wrapper, with no example; the
        // emulator answers `{id, etag}` as for base connections and flows, which that
        // wrapper (no required property) accepts.
        let patched = api
            .call_with(
                Method::PATCH,
                &format!("{collection}/{id}"),
                Some(&json!([{"op": "replace", "path": "/name", "value": "renamed"}])),
                &[("if-match", &etag)],
            )
            .await
            .expect(200);
        check(
            &validator(&doc, &one, "patch", "200"),
            &patched.body,
            &format!("PATCH {one}"),
        );
        let deleted = api
            .call(Method::DELETE, &format!("{collection}/{id}"), None)
            .await
            .expect(204);
        assert!(doc["paths"][&one]["delete"]["responses"]["204"].is_object());
        assert_eq!(deleted.body, Value::Null);
    }
}

#[tokio::test]
async fn explore_answers_the_documented_root_listing() {
    let Some(doc) = spec("aep-flow-service-openapi.yaml") else {
        return;
    };
    let api = Api::start().await;
    let (id, _) = api.create(&basic("crm")).await;
    let explore = validator(&doc, "/connections/{BASE_CONNECTION_ID}/explore", "get", "200");
    let root = api
        .get(&format!("/connections/{id}/explore?objectType=root"))
        .await
        .expect(200);
    check(&explore, &root.body, "explore root");
    rejects(&explore, &json!([{"canPreview": "yes"}]));
    // A documented contradiction (flow-service-explore-runs §1): the OpenAPI's
    // `ExploreConnectionResponse` is an array and fits only the root (and folder) listings;
    // the table answer the tutorials show, `{format, schema: {columns}, data}`, is
    // described nowhere in it. So the schema must refuse the emulator's table answer, and its
    // shape is checked against the tutorials instead.
    let table = api
        .get(&format!(
            "/connections/{id}/explore?objectType=table&object=Account&preview=true"
        ))
        .await
        .expect(200)
        .body;
    rejects(&explore, &table);
    assert_eq!(table["format"], "flat");
    for column in table["schema"]["columns"].as_array().unwrap() {
        assert!(
            column["name"].is_string() && column["type"].is_string() && column["xdm"]["type"].is_string()
        );
    }
    assert!(table["data"].as_array().unwrap().iter().all(Value::is_object));
}

#[tokio::test]
async fn datasets_answer_in_the_catalog_documented_shape() {
    let Some(doc) = spec("aep-catalog-openapi.yaml") else {
        return;
    };
    let api = Api::start().await;
    let created = api
        .catalog(
            Method::POST,
            "/dataSets",
            Some(&json!({"name": "d", "schemaRef": {"id": flowform_emulator::DEMO_EVENT_SCHEMA_ID}})),
        )
        .await
        .expect(201);
    check(
        &validator(&doc, "/dataSets", "post", "201"),
        &created.body,
        "POST /dataSets",
    );
    let list = validator(&doc, "/dataSets", "get", "200");
    check(
        &list,
        &api.catalog(Method::GET, "/dataSets", None).await.expect(200).body,
        "GET /dataSets",
    );
    check(
        &list,
        &api.catalog(
            Method::GET,
            "/dataSets?limit=1&start=2&properties=name,tags",
            None,
        )
        .await
        .expect(200)
        .body,
        "GET /dataSets trimmed",
    );
    rejects(
        &list,
        &json!({"5c8c3c555033b814b69f947f": {"created": "yesterday"}}),
    );
    let one = validator(&doc, "/dataSets/{DATASET_ID}", "get", "200");
    let id = flowform_emulator::DEMO_PROFILE_DATASET_ID;
    check(
        &one,
        &api.catalog(Method::GET, &format!("/dataSets/{id}"), None)
            .await
            .expect(200)
            .body,
        "GET /dataSets/{id}",
    );
    rejects(&one, &json!({id: {"tags": {"unifiedProfile": "enabled:true"}}}));
}
