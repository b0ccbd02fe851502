//! What a reviewer sees and an operator does: plans that hide nothing (state-only changes,
//! replaces, secrets), destroys and replaces as reviewed plans, and a saved plan applied
//! twice.

use serde_json::Value;

use crate::common::flowform;
use crate::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protect_change_is_planned_shown_in_the_pr_comment_and_recorded() {
    let world = World::managed().await;
    world.edit("salesforce-basic.yaml", "protect: true", "protect: false");
    let run = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains("# prod/acme-salesforce will change in the state only")
            && out.contains("~ lifecycle.protect = true -> false # in the state only"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 0 to change, 0 to destroy. 1 to change in the state only."),
        "{out}"
    );
    let md = world
        .run(&["plan", "--format", "markdown"])
        .await
        .expect_code(0)
        .stdout();
    assert!(
        md.starts_with("Plan: 0 to add, 0 to change, 0 to destroy. 1 to change in the state only.")
            && md.contains("- **State only** (1): `prod/acme-salesforce`"),
        "{md}"
    );
    let json: Value = serde_json::from_str(
        &world
            .run(&["plan", "--format", "json"])
            .await
            .expect_code(0)
            .stdout(),
    )
    .unwrap();
    let change = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "prod/acme-salesforce")
        .unwrap();
    assert_eq!(change["actions"], serde_json::json!(["state-only"]));
    assert_eq!(json["summary"]["state_only"], 1);
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stderr()
            .contains("recorded in the state (lifecycle.protect = false)"),
        "{}",
        run.stderr()
    );
    assert!(!world.recorded().resources["prod/acme-salesforce"].protect);
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_by_request_is_a_reviewed_plan_and_applying_it_twice_says_so() {
    let world = World::managed().await;
    let old = world.id_of("acme-salesforce-oauth").await;
    let out = world.dir.path().join("replace.out");
    let out = out.to_str().unwrap();
    let run = world
        .run(&["plan", "--replace", "acme-salesforce-oauth", "--out", out])
        .await
        .expect_code(0);
    assert!(
        run.stdout().contains("# (as requested with --replace)")
            && run
                .stdout()
                .contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{}",
        run.stdout()
    );
    let md = flowform(["show", out, "--format", "markdown"])
        .run()
        .expect_code(0)
        .stdout();
    assert!(
        md.contains("\n+/-   connection \"prod/acme-salesforce-oauth\" {")
            && md.contains("> - **1 connection will be replaced**"),
        "{md}"
    );
    world.run(&["apply", out]).await.expect_code(0);
    let new = world.id_of("acme-salesforce-oauth").await;
    assert_ne!(old, new, "a new connection");
    world.converged(3).await;
    // Applied again: said so, nothing done.
    let run = world.run(&["apply", out]).await.expect_code(0);
    assert!(
        run.stderr().contains("was already applied") && run.stderr().contains("Nothing to do."),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("lineage"), "{}", run.stderr());
    assert_eq!(world.id_of("acme-salesforce-oauth").await, new);
    // A protected connection is not replaced, and a key nobody manages is an error.
    let run = world
        .run(&["plan", "--replace", "acme-salesforce"])
        .await
        .expect_code(1);
    assert!(
        run.stdout()
            .contains("must be replaced (`--replace` asks for it), but it is protected"),
        "{}",
        run.stdout()
    );
    let run = world.run(&["plan", "--replace", "nope"]).await.expect_code(1);
    assert!(run.stdout().contains("--replace `nope`"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_is_planned_saved_reviewed_and_applied() {
    let world = World::managed().await;
    let out = world.dir.path().join("destroy.out");
    let out = out.to_str().unwrap();
    // Protected connections refuse, in the plan already.
    let run = world
        .run(&["plan", "--destroy", "--out", out])
        .await
        .expect_code(1);
    assert!(run.stdout().contains("is protected"), "{}", run.stdout());
    world.edit("salesforce-basic.yaml", "protect: true", "protect: false");
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let run = world
        .run(&["plan", "--destroy", "--out", out, "--detailed-exitcode"])
        .await
        .expect_code(2);
    assert!(
        run.stdout()
            .contains("Plan: 0 to add, 0 to change, 3 to destroy."),
        "{}",
        run.stdout()
    );
    let md = flowform(["show", out, "--format", "markdown"])
        .run()
        .expect_code(0)
        .stdout();
    assert!(md.contains("> - **3 connections will be deleted**"), "{md}");
    // Without a terminal, `destroy` says how to make a reviewed plan of it.
    let run = world.run(&["destroy"]).await.expect_code(1);
    assert!(
        run.stderr().contains("flowform plan --destroy --out FILE"),
        "{}",
        run.stderr()
    );
    // Nothing happened yet.
    assert_eq!(world.stored().await.len(), 3);
    let run = world.run(&["apply", out]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("Destroy complete! Resources: 0 added, 0 changed, 3 destroyed."),
        "{}",
        run.stdout()
    );
    assert!(world.stored().await.is_empty());
    assert!(world.recorded().resources.is_empty());
    let run = world.run(&["apply", out]).await.expect_code(0);
    assert!(run.stderr().contains("was already applied"), "{}", run.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_one_or_more_secrets_changed() {
    let world = World::managed().await;
    std::fs::write(world.config().join("secrets/acme-password"), "rotated\n").unwrap();
    let run = world.run(&["plan"]).await.expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(
            "~ auth.params.password      = (sensitive value) # one or more of these secrets changed"
        ) && out.contains("one or more of its 2 secrets changed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_then_updated_is_listed_where_it_is_counted() {
    let world = World::new().await;
    world
        .admin(
            reqwest::Method::POST,
            "/seed",
            serde_json::json!({"count": 1, "namePrefix": "Existing"}),
        )
        .await;
    let id = world.stored().await[0]["item"]["id"].as_str().unwrap().to_owned();
    for file in [
        "salesforce-basic.yaml",
        "salesforce-oauth2.yaml",
        "salesforce-jwt.yaml",
    ] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world.write(
        "existing.yaml",
        &format!(
            "sandbox: prod\nconnections:\n  existing:\n    name: Existing, renamed\n    source: salesforce\n    import: {{id: {id}}}\n    auth:\n      specName: Basic Authentication\n      params:\n        username: u\n        password: ${{file:secrets/acme-password}}\n        securityToken: ${{file:secrets/acme-security-token}}\n"
        ),
    );
    let md = world
        .run(&["plan", "--format", "markdown"])
        .await
        .expect_code(0)
        .stdout();
    assert!(
        md.starts_with("Plan: 1 to import, 0 to add, 1 to change, 0 to destroy.")
            && md.contains("- **Update** (1): `prod/existing` (imported, then updated)")
            && md.contains("- **Import** (1): `prod/existing`"),
        "{md}"
    );
}
