//! Flow specs, flows, runs and mapping sets against the response schemas of Adobe's OpenAPI
//! files in `shared/reference/` (the Flow Service's and Data Prep's), with the same rule as
//! [`super::openapi`]: without that directory the tests say so loudly and pass, unless
//! `FLOWFORM_REQUIRE_SHARED=1` (CI) makes that a failure.
//!
//! Where the OpenAPI contradicts the docs the emulator follows, the schema is widened for
//! exactly that contradiction, and the test first shows that the unwidened schema refuses
//! the emulator's answer (so the widening is needed, and says what it is for):
//! - `ScheduleSpecDTO` types `startTime` as an integer and `backfill` as a boolean; D-UPDF
//!   shows (and the emulator answers) strings: `"1612310466"`, `"true"`.
//! - `FlowSpecItemDTO.transformationSpecs` is one object; D-TPL shows an array of them.
//! - Data Prep types `createdDate`/`modifiedDate` as date-time strings; every doc example,
//!   the OpenAPI's own included, has epoch ms.
//! - Data Prep's `SourceType` is `ATTRIBUTE|EXPRESSION|STATIC`; D-MAP shows reads echoing
//!   `text/x.schema-path` and `text/x.aep-xl`.

use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, mapping_body};
use super::openapi::{check, rejects, spec, validator};

/// The Flow Service OpenAPI with its two documented contradictions widened.
fn widened_flow(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let schemas = &mut doc["components"]["schemas"];
    schemas["ScheduleSpecDTO"]["properties"]["startTime"] = json!({"type": ["integer", "string"]});
    schemas["ScheduleSpecDTO"]["properties"]["backfill"] = json!({"type": ["boolean", "string"]});
    let one = schemas["FlowSpecItemDTO"]["properties"]["transformationSpecs"].clone();
    schemas["FlowSpecItemDTO"]["properties"]["transformationSpecs"] = json!({"type": "array", "items": one});
    doc
}

/// Every `{"type": "string", "format": "date-time"}` also takes an integer (epoch ms).
fn dates_as_ms(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("format") == Some(&json!("date-time")) && map.get("type") == Some(&json!("string")) {
                map.insert("type".into(), json!(["string", "integer"]));
            }
            map.values_mut().for_each(dates_as_ms);
        }
        Value::Array(items) => items.iter_mut().for_each(dates_as_ms),
        _ => {}
    }
}

/// The Data Prep OpenAPI with its two documented contradictions widened.
fn widened_prep(doc: &Value) -> Value {
    let mut doc = doc.clone();
    dates_as_ms(&mut doc["components"]);
    let source_type = &mut doc["components"]["schemas"]["SourceType"]["enum"];
    if let Some(values) = source_type.as_array_mut() {
        values.extend([
            json!("text/x.schema-path"),
            json!("text/x.aep-xl"),
            json!("text/plain"),
        ]);
    }
    doc
}

#[tokio::test]
async fn flows_flow_specs_and_runs_answer_in_the_documented_shape() {
    let Some(doc) = spec("aep-flow-service-openapi.yaml") else {
        return;
    };
    let wide = widened_flow(&doc);
    let api = Api::start().await;

    // Flow specs.
    let specs = api.get("/flowSpecs").await.expect(200).body;
    rejects(&validator(&doc, "/flowSpecs", "get", "200"), &specs);
    check(
        &validator(&wide, "/flowSpecs", "get", "200"),
        &specs,
        "GET /flowSpecs",
    );
    let one = api
        .get(&format!("/flowSpecs/{}", flowform_emulator::CRM_TO_AEP_ID))
        .await
        .expect(200)
        .body;
    let spec_one = validator(&wide, "/flowSpecs/{FLOW_SPEC_ID}", "get", "200");
    check(&spec_one, &one, "GET /flowSpecs/{id}");
    rejects(
        &spec_one,
        &json!({"items": [{"sourceConnectionSpecIds": "cfc0fee1"}]}),
    );

    // Create, read, list.
    let p = api.pipeline().await;
    let start = api.now().await / 1000 - 10;
    let created = api.post("/flows", &p.flow("shape", start)).await.expect(201);
    check(
        &validator(&doc, "/flows", "post", "201"),
        &created.body,
        "POST /flows",
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let etag = created.body["etag"].as_str().unwrap().to_owned();
    let read = api.get(&format!("/flows/{id}")).await.expect(200).body;
    rejects(&validator(&doc, "/flows/{FLOW_ID}", "get", "200"), &read);
    let flow_one = validator(&wide, "/flows/{FLOW_ID}", "get", "200");
    check(&flow_one, &read, "GET /flows/{id}");
    rejects(
        &flow_one,
        &json!({"items": [{"lastRunDetails": {"startedAtUTC": "noon"}}]}),
    );
    let list = validator(&wide, "/flows", "get", "200");
    for query in [
        "?limit=1",
        "?count=true",
        "?property=state==enabled",
        "?orderby=name",
    ] {
        check(
            &list,
            &api.get(&format!("/flows{query}")).await.expect(200).body,
            &format!("GET /flows{query}"),
        );
    }

    // Patch and action answer `CreateFlowResponse`.
    let patched = api
        .call_with(
            Method::PATCH,
            &format!("/flows/{id}"),
            Some(&json!([{"op": "replace", "path": "/name", "value": "renamed"}])),
            &[("if-match", &etag)],
        )
        .await
        .expect(200);
    check(
        &validator(&doc, "/flows/{FLOW_ID}", "patch", "200"),
        &patched.body,
        "PATCH /flows/{id}",
    );
    let action = validator(&doc, "/flows/{FLOW_ID}/action", "post", "200");
    for op in ["disable", "enable"] {
        let r = api
            .call(Method::POST, &format!("/flows/{id}/action?op={op}"), None)
            .await
            .expect(200);
        check(&action, &r.body, "POST /flows/{id}/action");
    }

    // Runs, a successful one and a failed one; a flow with `lastRunDetails`.
    api.advance_clock(15 * 60_000 + flowform_emulator::RUN_MS).await;
    api.admin(
        Method::PUT,
        &format!("/flows/{id}/runs"),
        Some(&json!({"fail": {"code": "CONNECTOR-1001-500", "message": "copy failed"}})),
    )
    .await
    .expect(200);
    api.advance_clock(15 * 60_000).await;
    let runs = api
        .get(&format!("/runs?property=flowId=={id}"))
        .await
        .expect(200)
        .body;
    assert_eq!(runs["items"].as_array().unwrap().len(), 2);
    let run_list = validator(&doc, "/runs", "get", "200");
    check(&run_list, &runs, "GET /runs");
    check(
        &run_list,
        &api.get("/runs?count=true").await.expect(200).body,
        "GET /runs?count=true",
    );
    rejects(
        &run_list,
        &json!({"items": [{"metrics": {"durationSummary": {"startedAtUTC": "noon"}}}]}),
    );
    let run_id = runs["items"][0]["id"].as_str().unwrap();
    check(
        &validator(&doc, "/runs/{RUN_ID}", "get", "200"),
        &api.get(&format!("/runs/{run_id}")).await.expect(200).body,
        "GET /runs/{id}",
    );
    let read = api.get(&format!("/flows/{id}")).await.expect(200).body;
    assert!(read["items"][0]["lastRunDetails"].is_object());
    check(&flow_one, &read, "GET /flows/{id} after runs");

    // DELETE documents 204 with no content.
    assert!(doc["paths"]["/flows/{FLOW_ID}"]["delete"]["responses"]["204"].is_object());
    let deleted = api
        .call(Method::DELETE, &format!("/flows/{id}"), None)
        .await
        .expect(204);
    assert_eq!(deleted.body, Value::Null);
}

#[tokio::test]
async fn mapping_sets_answer_in_the_data_prep_documented_shape() {
    let Some(doc) = spec("aep-data-prep-openapi.yaml") else {
        return;
    };
    let wide = widened_prep(&doc);
    let api = Api::start().await;

    let created = api
        .conversion(Method::POST, "/mappingSets", Some(&mapping_body("Email")))
        .await
        .expect(200);
    rejects(&validator(&doc, "/mappingSets", "post", "200"), &created.body);
    check(
        &validator(&wide, "/mappingSets", "post", "200"),
        &created.body,
        "POST /mappingSets",
    );
    // The same keys as the OpenAPI's own example, with the same JSON types.
    let example =
        &doc["paths"]["/mappingSets"]["post"]["responses"]["200"]["content"]["application/json"]["example"];
    let shape = |v: &Value| -> Vec<(String, &'static str)> {
        let mut keys: Vec<(String, &'static str)> = v
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let kind = match v {
                    Value::Number(_) => "number",
                    Value::String(_) => "string",
                    _ => "other",
                };
                (k.clone(), kind)
            })
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(shape(&created.body), shape(example));
    let id = created.body["id"].as_str().unwrap().to_owned();

    let one = validator(&wide, "/mappingSets/{MAPPING_SET_ID}", "get", "200");
    let read = api
        .conversion(Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .expect(200)
        .body;
    rejects(
        &validator(&doc, "/mappingSets/{MAPPING_SET_ID}", "get", "200"),
        &read,
    );
    check(&one, &read, "GET /mappingSets/{id}");
    rejects(&one, &json!({"mappings": [{"sourceType": "COLUMN"}]}));
    let put = api
        .conversion(
            Method::PUT,
            &format!("/mappingSets/{id}"),
            Some(&mapping_body("Other")),
        )
        .await
        .expect(200);
    check(
        &validator(&wide, "/mappingSets/{MAPPING_SET_ID}", "put", "200"),
        &put.body,
        "PUT /mappingSets/{id}",
    );
    check(
        &one,
        &api.conversion(Method::GET, &format!("/mappingSets/{id}?version=0"), None)
            .await
            .expect(200)
            .body,
        "GET /mappingSets/{id}?version=0",
    );
    let list = validator(&wide, "/mappingSets", "get", "200");
    let page = api
        .conversion(Method::GET, "/mappingSets?limit=1&start=0", None)
        .await
        .expect(200)
        .body;
    check(&list, &page, "GET /mappingSets");
    rejects(&list, &json!({"_page": {"count": "one"}}));

    let validate = validator(&doc, "/mappingSets/validate", "post", "200");
    let mut body = mapping_body("Email");
    body["mappings"][1]["destination"] = json!("person.shoeSize");
    let answer = api
        .conversion(Method::POST, "/mappingSets/validate", Some(&body))
        .await
        .expect(200)
        .body;
    check(&validate, &answer, "POST /mappingSets/validate");
    assert_eq!(answer["validationResponse"][1]["status"], "FAILED");
    rejects(&validate, &json!({"validationResponse": [{"status": "MAYBE"}]}));
    // Data Prep documents no DELETE for mapping sets.
    assert!(
        doc["paths"]["/mappingSets/{MAPPING_SET_ID}"]
            .get("delete")
            .is_none()
    );
}
