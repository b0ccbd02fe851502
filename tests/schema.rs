//! `flowform schema` and the loader agree: every example passes both, and the bad inputs
//! that a schema can describe fail both.

use serde_json::Value;

use crate::common::{flowform, root};

fn schema() -> Value {
    let run = flowform(["schema"]).run().expect_code(0);
    serde_json::from_str(&run.stdout()).expect("the schema is JSON")
}

fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    flowform::yaml::parse(&text)
        .unwrap()
        .iter()
        .filter(|d| d.value != flowform::yaml::Value::Null)
        .map(flowform::yaml::Node::to_json)
        .collect()
}

#[test]
fn the_schema_is_a_valid_draft_7_schema() {
    assert!(jsonschema::draft7::meta::is_valid(&schema()));
}

#[test]
fn every_example_matches_the_schema() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    for file in crate::examples::all_example_files() {
        for doc in documents(&file) {
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{file}: {errors:#?}");
        }
    }
}

#[test]
fn bad_inputs_a_schema_can_describe_fail_it_too() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    for file in [
        "wrong-types.yaml",
        "unknown-field.yaml",
        "missing-sandbox.yaml",
        "unknown-auth-spec.yaml",
        "missing-required-params.yaml",
        "literal-secret.yaml",
        "bad-url.yaml",
        "bad-api-version.yaml",
    ] {
        for doc in documents(&format!("tests/bad/{file}")) {
            assert!(!validator.is_valid(&doc), "{file} passes the schema");
        }
    }
}

#[test]
fn the_committed_schema_is_current() {
    // The examples point editors at `flowform.schema.json`; it must be what `schema` prints.
    let committed = std::fs::read_to_string(root().join("flowform.schema.json")).unwrap();
    let printed = flowform(["schema"]).run().expect_code(0).stdout();
    assert!(
        committed == printed,
        "flowform.schema.json is stale: run `cargo run -- schema > flowform.schema.json`"
    );
}

#[test]
fn moved_and_removed_documents_match_the_schema() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let doc = |text: &str| flowform::yaml::parse(text).unwrap()[0].to_json();
    for good in [
        "moved:\n  - {from: old, to: new}\nremoved:\n  - {key: prod/legacy, destroy: false}\n",
        "removed:\n  - {key: legacy, destroy: false}\n",
        "sandbox: prod\nconnections: {}\nmoved:\n  - {from: a, to: b}\n",
    ] {
        assert!(validator.is_valid(&doc(good)), "{good}");
    }
    for bad in [
        "removed:\n  - {key: legacy, destroy: true}\n",
        "removed:\n  - {key: legacy}\n",
        "moved:\n  - {from: old}\n",
        "moved:\n  - {from: 'bad key', to: new}\n",
        "sandbox: prod\nmoved: []\n",
    ] {
        assert!(!validator.is_valid(&doc(bad)), "{bad}");
    }
}

#[test]
fn a_flow_with_its_source_and_target_by_key_matches_the_schema_and_its_ignorable_paths_too() {
    // From a review: a flow's two references matched two branches of one `oneOf`, and the
    // `ignoreChanges` pattern escaped its dots twice.
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let text = "sandbox: prod\nflows:\n  f:\n    name: F\n    source: s\n    targetConnectionId: 139f6a5f-a78b-4744-9f6a-5fa78bd74431\n    flowSpec: CRMToAEP\n    deltaColumn: {name: LastModifiedDate}\n    schedule: {frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}\n    lifecycle: {ignoreChanges: [schedule.interval]}\n";
    let doc = flowform::yaml::parse(text).unwrap()[0].to_json();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // Neither way to name the source: refused.
    let bare = text.replace("    source: s\n", "");
    let doc = flowform::yaml::parse(&bare).unwrap()[0].to_json();
    assert!(!validator.is_valid(&doc));
}
