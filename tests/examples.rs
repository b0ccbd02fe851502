//! Every example validates, alone and together.

use crate::common::{flowform, root};

fn example_files() -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for dir in ["examples", "examples/multi-file"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

#[test]
fn each_example_file_validates() {
    for file in example_files() {
        // The source and target connections refer to the OAuth 2 base connection by key.
        let mut args = vec!["validate", "-c", &file];
        if file.ends_with(crate::world::PIPELINE) {
            args.extend(["-c", "examples/salesforce-oauth2.yaml"]);
        }
        let run = flowform(args).run().expect_code(0);
        assert_eq!(run.stderr(), "", "{file}");
    }
}

#[test]
fn the_example_directories_validate() {
    let run = flowform(["validate", "-c", "examples/"]).run().expect_code(0);
    assert_eq!(
        run.stdout(),
        "prod: 3 connections valid (Salesforce 3), 2 dataflows, 1 mapping set, 2 source connections, 1 target connection\n"
    );
    let run = flowform(["validate", "-c", "examples/multi-file"])
        .run()
        .expect_code(0);
    assert_eq!(
        run.stdout(),
        "dev: 2 connections valid (Microsoft Dynamics 1, Salesforce 1)\nprod: 2 connections valid (Salesforce 2)\nstaging: 1 connection valid (Salesforce 1)\n"
    );
}

#[test]
fn all_three_salesforce_auth_specs_are_exampled() {
    let all: String = example_files()
        .iter()
        .map(|f| std::fs::read_to_string(root().join(f)).unwrap())
        .collect();
    for spec in [
        "Basic Authentication",
        "OAuth2 Client Credential",
        "OAuth2 JWT Token Credential",
    ] {
        assert!(all.contains(&format!("specName: {spec}\n")), "{spec}");
    }
}

pub fn all_example_files() -> Vec<String> {
    example_files()
}
