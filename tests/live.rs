//! `flowform validate --live`: the real binary against the in-process emulator, checking the
//! configuration against AEP's connection specs, and keeping every secret out of its logs.

use std::path::Path;

use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{Emulator, Options};

use crate::common::{Run, flowform, root};

/// Runs the binary off the runtime's threads, so the emulator keeps serving.
async fn run(emulator: &Emulator, args: &[&str]) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let (flow, base) = (emulator.flow_url(), emulator.base_url());
    tokio::task::spawn_blocking(move || {
        flowform(&args)
            .env("FLOWFORM_ENDPOINT", &flow)
            .env("AEP_IMS_URL", &base)
            .env("AEP_CLIENT_ID", DEMO_CLIENT_ID)
            .env("AEP_CLIENT_SECRET", DEMO_CLIENT_SECRET)
            .env("AEP_ORG_ID", DEMO_ORG)
            .run()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_pass_live_validation_and_no_secret_reaches_the_log() {
    let emulator = Emulator::start(Options {
        seed: Some(11),
        faults: FaultSettings {
            rate_limit: 0.3,
            retry_after_s: 0,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await
    .unwrap();
    let run = run(&emulator, &["validate", "--live", "-vvv", "-c", "examples/"])
        .await
        .expect_code(0);
    assert_eq!(
        run.stdout(),
        "prod: 3 connections valid (Salesforce 3), 2 dataflows, 1 mapping set, 2 source connections, 1 target connection\n"
    );
    let log = run.stderr();
    assert!(
        log.contains("GET /connectionSpecs/cfc0fee1-7dc0-40ef-b73e-d8b134c436f5 -> 200"),
        "{log}"
    );
    assert!(log.contains("requesting an access token"), "{log}");
    let mut secrets: Vec<String> = vec![DEMO_CLIENT_SECRET.to_owned(), "eyJemulator".to_owned()];
    for entry in std::fs::read_dir(root().join("examples/secrets")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none() {
            secrets.push(std::fs::read_to_string(&path).unwrap().trim().to_owned());
        }
    }
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "`{secret}` reached the log:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_spec_or_auth_spec_fails_live_validation() {
    let emulator = Emulator::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "sandbox: prod\nconnections:\n  other:\n    name: Other CRM\n    connectionSpec: {id: 12345678-aaaa-bbbb-cccc-1234567890ab, version: \"1.0\"}\n    auth: {specName: Key, params: {host: h}}\n  hubspot:\n    name: HubSpot\n    source: hubspot\n    auth: {specName: OAuth, params: {clientId: c}}\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let run = run(&emulator, &["validate", "--live", "-c", path])
        .await
        .expect_code(1);
    let stderr = run.stderr();
    assert!(stderr.contains("connection `other`, `connectionSpec.id`: AEP has no connection spec `12345678-aaaa-bbbb-cccc-1234567890ab`"), "{stderr}");
    // Each points at the line it is about (the spec's id, `source:`), not at the key.
    assert!(
        stderr.contains(&format!("--> {}:5:26", Path::new(path).display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--> {}:9:13", Path::new(path).display())),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("error: the configuration has 2 errors\n"),
        "{stderr}"
    );
}

#[test]
fn live_validation_without_credentials_names_what_is_missing() {
    let run = flowform(["validate", "--live", "-c", "examples/"])
        .run()
        .expect_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("AEP_CLIENT_ID, AEP_ORG_ID, AEP_CLIENT_SECRET not set"),
        "{stderr}"
    );
    assert!(stderr.contains("help: "), "{stderr}");
    // Offline validation needs none of them.
    flowform(["validate", "-c", "examples/"]).run().expect_code(0);
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let run = flowform([
        "validate",
        "--live",
        "-c",
        "examples/",
        "--endpoint",
        "http://example.com/flow",
    ])
    .env("AEP_ACCESS_TOKEN", "t")
    .env("AEP_CLIENT_ID", "c")
    .env("AEP_ORG_ID", "o@AdobeOrg")
    .run()
    .expect_code(1);
    assert!(
        run.stderr().contains("uses plain http; only https is allowed"),
        "{}",
        run.stderr()
    );
}
