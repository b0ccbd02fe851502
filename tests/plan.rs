//! `flowform plan`, `show` and `drift` through the binary, against the in-process emulator,
//! with a state that manages the examples.

use serde_json::{Value, json};

use crate::common::flowform;
use crate::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_changes_then_a_config_change_with_detailed_exit_codes() {
    let world = World::managed().await;
    let run = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("No changes. Your resources match the configuration."),
        "{}",
        run.stdout()
    );
    world.edit(
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: ACME Salesforce (renamed)",
    );
    let run = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains("# prod/acme-salesforce will be updated in-place"),
        "{out}"
    );
    assert!(
        out.contains("~ name")
            && out.contains("\"ACME Salesforce account\" -> \"ACME Salesforce (renamed)\""),
        "{out}"
    );
    assert!(
        out.ends_with("Plan: 0 to add, 1 to change, 0 to destroy.\n"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "no colour when not a terminal");
    // Without --detailed-exitcode, changes are still success.
    world.run(&["plan"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_aep_is_drift_in_the_plan_and_in_drift() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            reqwest::Method::PATCH,
            &format!("/connections/{id}"),
            json!({"name": "Renamed in the UI"}),
        )
        .await;
    let run = world.run(&["plan"]).await.expect_code(0);
    let out = run.stdout();
    assert!(
        out.starts_with("Note: Objects have changed outside of flowform"),
        "{out}"
    );
    assert!(out.contains("# prod/acme-salesforce-oauth has changed"), "{out}");
    assert!(out.contains("# changed outside flowform"), "{out}");
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(
        run.stdout().contains("1 changed outside flowform"),
        "{}",
        run.stdout()
    );
    let run = world.run(&["drift", "--format", "json"]).await.expect_code(2);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["summary"]["changed"], 1);
    assert_eq!(
        report["outside"]["resource_drift"][0]["address"],
        "prod/acme-salesforce-oauth"
    );
    // Said by what changed, and who changed it: not only that its etag moved.
    let drift = &report["outside"]["resource_drift"][0];
    assert_eq!(drift["change"]["after"]["name"], "Renamed in the UI");
    assert_eq!(drift["updated_client"], "exc_app");
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(run.stdout().contains("in the AEP UI"), "{}", run.stdout());
    assert!(!run.stdout().contains("etag moved"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_lists_unmanaged_connections_and_coverage() {
    let world = World::managed().await;
    let run = world.run(&["drift"]).await.expect_code(0);
    assert!(run.stdout().contains("In sync"), "{}", run.stdout());
    world
        .admin(
            reqwest::Method::POST,
            "/seed",
            json!({"count": 1, "namePrefix": "Made by hand"}),
        )
        .await;
    let run = world.run(&["drift", "--format", "json"]).await.expect_code(2);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(
        report["summary"],
        json!({"total": 4, "managed": 3, "unmanaged": 1, "missing": 0, "changed": 0, "unapplied": 0, "credentials_rejected": 0, "dataflows_unhealthy": 0, "coverage": 75.0})
    );
    assert_eq!(report["unmanaged"]["count"], 1);
    assert_eq!(
        report["unmanaged"]["connections"][0]["name"],
        "Made by hand 000000"
    );
    world.run(&["drift", "--ignore-unmanaged"]).await.expect_code(0);
    let run = world.run(&["drift", "--format", "markdown"]).await.expect_code(2);
    assert!(run.stdout().starts_with("**Drift detected**"), "{}", run.stdout());
    // A managed connection deleted in AEP is missing.
    let id = world.id_of("acme-salesforce").await;
    world
        .admin(
            reqwest::Method::DELETE,
            &format!("/connections/{id}"),
            Value::Null,
        )
        .await;
    let run = world
        .run(&["drift", "--format", "json", "--ignore-unmanaged"])
        .await
        .expect_code(2);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["summary"]["missing"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plans_show_in_every_format_without_secrets() {
    let world = World::managed().await;
    world.edit(
        "salesforce-oauth2.yaml",
        "apiVersion: \"60.0\"",
        "apiVersion: \"61.0\"",
    );
    let out = world.dir.path().join("plan.out");
    let out_s = out.to_str().unwrap();
    let run = world
        .run(&["plan", "--out", out_s, "--format", "json"])
        .await
        .expect_code(0);
    assert!(run.stderr().contains("flowform apply"), "{}", run.stderr());
    let shown = flowform(["show", out_s, "--format", "json"]).run().expect_code(0);
    assert_eq!(shown.stdout(), run.stdout(), "show renders the same plan");
    let saved = std::fs::read_to_string(&out).unwrap();
    for entry in std::fs::read_dir(world.config().join("secrets")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none() {
            let secret = std::fs::read_to_string(&path).unwrap();
            assert!(!saved.contains(secret.trim()), "the saved plan holds a secret");
        }
    }
    let md = flowform(["show", out_s, "--format", "markdown"])
        .run()
        .expect_code(0)
        .stdout();
    assert!(
        md.starts_with("Plan: 0 to add, 1 to change, 0 to destroy.\n"),
        "{md}"
    );
    let text = flowform(["show", out_s]).run().expect_code(0).stdout();
    assert!(text.contains("~ auth.params.apiVersion"), "{text}");
    flowform(["show", "no-such-plan"]).run().expect_code(1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_false_plans_from_the_state_and_targets_limit() {
    let world = World::managed().await;
    world.edit(
        "salesforce-jwt.yaml",
        "name: ACME Salesforce (JWT)",
        "name: JWT renamed",
    );
    world.edit(
        "salesforce-basic.yaml",
        "username: acme-salesforce",
        "username: acme-sf",
    );
    // No credentials are needed to plan from the state alone.
    let run = flowform(["plan", "--refresh=false"])
        .current_dir(world.dir.path())
        .run()
        .expect_code(0);
    assert!(run.stdout().contains("AEP was not read"), "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        run.stdout()
    );
    let run = world
        .run(&["plan", "--target", "acme-salesforce-jwt"])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        run.stdout()
    );
    assert!(
        !run.stdout().contains("prod/acme-salesforce "),
        "{}",
        run.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_connection_removed_from_config_fails_the_plan() {
    let world = World::managed().await;
    std::fs::remove_file(world.config().join("salesforce-basic.yaml")).unwrap();
    let run = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(1);
    assert!(
        run.stdout().contains("error: `prod/acme-salesforce`"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("is protected"), "{}", run.stdout());
}
