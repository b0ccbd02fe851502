//! The emulator's responses, route by route, against the response schemas of Adobe's own
//! OpenAPI files in `shared/reference/` beside the repository (read here, not copied).
//!
//! Without that directory (a clone on its own) these tests say so loudly on stderr and
//! pass, unless `FLOWFORM_REQUIRE_SHARED=1` (as CI sets), which makes that a failure: the
//! same rule as the main crate's PostgreSQL tests and `FLOWFORM_REQUIRE_POSTGRES`.

use std::path::PathBuf;

use reqwest::Method;
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value, json};

use super::api::{Api, SF, basic, reply};

/// `shared/reference/` beside the repository, or `None` (said loudly on stderr) when it is
/// not there and `FLOWFORM_REQUIRE_SHARED=1` does not require it.
fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("FLOWFORM_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!(
            "FLOWFORM_REQUIRE_SHARED=1 but `{}` is not a directory: shared/ must sit beside the repository",
            dir.display()
        );
    }
    eprintln!(
        "\n!!!!!!!! skipped: {} not found beside the repository; the emulator's answers are NOT checked against Adobe's OpenAPI files (FLOWFORM_REQUIRE_SHARED=1 makes this a failure) !!!!!!!!\n",
        dir.display()
    );
    None
}

/// Adobe's OpenAPI file `file`, from `shared/reference/` beside the repository; `None` when
/// that directory is missing (see [`reference_dir`]).
fn spec(file: &str) -> Option<Value> {
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
fn validator(doc: &Value, path: &str, method: &str, status: &str) -> jsonschema::Validator {
    let schema = &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no schema for {method} {path} {status}");
    let root = json!({"allOf": [schema], "components": doc["components"]});
    jsonschema::draft7::new(&root).expect("the OpenAPI schema compiles")
}

fn check(validator: &jsonschema::Validator, body: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{body:#}");
}

/// Checks a schema that rejects something does: the validation is not vacuous.
fn rejects(validator: &jsonschema::Validator, body: &Value) {
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
