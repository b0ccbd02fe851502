//! `flowform drift` as an on-call person reads it: what changed outside flowform, what the
//! configuration asks for that was never applied, what flowform does not manage, and (on
//! request) whose credentials the source refuses; each counted, listed, and exit 2 when any
//! is non-empty.

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

/// The report as JSON, with the exit code asserted.
async fn report(world: &World, args: &[&str], vars: &[(&'static str, &str)], code: i32) -> Value {
    let mut all = vec!["drift", "--format", "json"];
    all.extend(args);
    let run = world.run_with(&all, vars).await.expect_code(code);
    serde_json::from_str(&run.stdout()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_three_sections_each_counted_and_narrowed_by_only() {
    let world = World::managed().await;
    // The OAuth client secret comes from the CI's secret store, as in a real repository.
    world.edit(
        "salesforce-oauth2.yaml",
        "${file:secrets/acme-oauth-client-secret}",
        "${env:SF_SERVICE_CLIENT_SECRET}",
    );
    let secret = std::fs::read_to_string(world.config().join("secrets/acme-oauth-client-secret")).unwrap();
    let secret = secret.trim();
    let same = [("SF_SERVICE_CLIENT_SECRET", secret)];
    world
        .run_with(&["apply", "--auto-approve"], &same)
        .await
        .expect_code(0);
    let r = report(&world, &[], &same, 0).await;
    assert_eq!(r["in_sync"], true);
    assert_eq!(
        r["summary_line"],
        "In sync: 0 changed outside flowform, 0 not yet applied, 0 not managed."
    );

    // The secret is rotated in the secret store, and nobody applied it: the plan has a change,
    // and so does drift.
    let rotated = [("SF_SERVICE_CLIENT_SECRET", "rotated")];
    world
        .run_with(&["plan", "--detailed-exitcode"], &rotated)
        .await
        .expect_code(2);
    let r = report(&world, &[], &rotated, 2).await;
    assert_eq!(r["unapplied"]["count"], 1);
    let change = &r["unapplied"]["resource_changes"][0];
    assert_eq!(change["address"], "prod/acme-salesforce-oauth");
    assert_eq!(
        change["change"]["sensitive"]["auth"]["params"]["clientSecret"],
        true
    );
    assert_eq!(r["outside"]["count"], 0);
    let text = world.run_with(&["drift"], &rotated).await.expect_code(2).stdout();
    assert!(
        text.contains("Not yet applied (the configuration differs from the state): 1")
            && text.contains("~ auth.params.clientSecret = (sensitive value)"),
        "{text}"
    );
    assert!(!text.contains("rotated"), "no secret in a report: {text}");

    // A name edited and never applied; a change made in the AEP UI; a connection made by
    // hand.
    world.edit(
        "salesforce-jwt.yaml",
        "name: ACME Salesforce (JWT)",
        "name: ACME JWT",
    );
    let id = world.id_of("acme-salesforce").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"state": "disabled"}),
        )
        .await;
    world
        .admin(
            Method::POST,
            "/seed",
            json!({"count": 1, "namePrefix": "By hand"}),
        )
        .await;
    let r = report(&world, &[], &rotated, 2).await;
    assert_eq!(
        (
            r["outside"]["count"].clone(),
            r["unapplied"]["count"].clone(),
            r["unmanaged"]["count"].clone()
        ),
        (json!(1), json!(2), json!(1))
    );
    assert_eq!(
        r["summary_line"],
        "Drift detected: 1 changed outside flowform, 2 not yet applied, 1 not managed."
    );
    // The disabled connection is said by what changed, and by whom, not by its etag.
    let drifted = &r["outside"]["resource_drift"][0];
    assert_eq!(drifted["change"]["after"]["state"], "disabled");
    assert_eq!(drifted["updated_client"], "exc_app");
    let text = world.run_with(&["drift"], &rotated).await.expect_code(2).stdout();
    assert!(
        text.contains("~ state = \"enabled\" -> \"disabled\"") && text.contains("in the AEP UI"),
        "{text}"
    );
    assert!(!text.contains("etag"), "{text}");
    let md = world
        .run_with(&["drift", "--format", "markdown"], &rotated)
        .await
        .expect_code(2)
        .stdout();
    for line in [
        "- **Changed outside flowform** (1): `prod/acme-salesforce`",
        "- **Not yet applied** (2): `prod/acme-salesforce-jwt`, `prod/acme-salesforce-oauth`",
        "- **Not managed by flowform** (1): ",
    ] {
        assert!(md.contains(line), "{line}\n{md}");
    }

    // `--only` narrows to any of them; what is not checked is neither listed nor counted.
    let r = report(&world, &["--only", "unmanaged"], &rotated, 2).await;
    assert_eq!(
        (
            r["outside"]["checked"].clone(),
            r["unapplied"]["checked"].clone(),
            r["unmanaged"]["checked"].clone()
        ),
        (json!(false), json!(false), json!(true))
    );
    assert_eq!(r["unapplied"]["resource_changes"], json!([]));
    report(
        &world,
        &["--only", "unmanaged", "--ignore-unmanaged"],
        &rotated,
        0,
    )
    .await;
    let r = report(&world, &["--only", "outside", "--only", "unapplied"], &rotated, 2).await;
    assert_eq!(r["unmanaged"]["count"], 0);
    assert_eq!(
        r["summary_line"],
        "Drift detected: 1 changed outside flowform, 2 not yet applied."
    );
    // Applied, the configuration is in the state; what AEP has and nobody manages remains.
    world
        .run_with(&["apply", "--auto-approve"], &rotated)
        .await
        .expect_code(0);
    report(&world, &["--only", "unapplied"], &rotated, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_refused_by_apply_leaves_its_change_reported_as_not_applied() {
    let world = World::managed().await;
    world.edit(
        "salesforce-oauth2.yaml",
        "apiVersion: \"60.0\"",
        "apiVersion: \"61.0\"",
    );
    let out = world.dir.path().join("plan.out");
    let out = out.to_str().unwrap();
    world.run(&["plan", "--out", out]).await.expect_code(0);
    let id = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"description": "touched"}),
        )
        .await;
    world.run(&["apply", out]).await.expect_code(1);
    // The description is ignored (`ignoreChanges`): AEP's change to it, which moved the etag
    // (so the saved plan was stale), is no drift; the configuration's change was never
    // applied.
    let r = report(&world, &["--ignore-unmanaged"], &[], 2).await;
    assert_eq!(r["outside"]["count"], 0);
    assert_eq!(r["unapplied"]["count"], 1);
    let fields = &r["unapplied"]["resource_changes"][0]["change"]["fields"];
    assert_eq!(fields[0]["path"], "auth.params.apiVersion");
    assert_eq!(fields[0]["origin"], "config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_credentials_finds_a_password_rotated_at_the_source() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce").await;
    report(&world, &["--check-credentials"], &[], 0).await;
    // Salesforce's password is changed at Salesforce; AEP's connection still holds the old one.
    world
        .admin(
            Method::PUT,
            &format!("/connections/{id}/source"),
            json!({"credentials": {"password": "rotated-at-salesforce"}}),
        )
        .await;
    // Nothing in AEP or the configuration changed: only the test tells.
    report(&world, &[], &[], 0).await;
    let r = report(&world, &["--check-credentials"], &[], 2).await;
    assert_eq!(r["credentials"]["tested"], 3);
    assert_eq!(r["credentials"]["count"], 1);
    assert_eq!(r["credentials"]["rejected"][0]["address"], "prod/acme-salesforce");
    assert_eq!(r["summary"]["credentials_rejected"], 1);
    let text = world
        .run(&["drift", "--check-credentials"])
        .await
        .expect_code(2)
        .stdout();
    assert!(
        text.contains("Credentials rejected by their source (of 3 tested): 1")
            && text.contains("prod/acme-salesforce (")
            && text.contains("1 with credentials rejected"),
        "{text}"
    );
    // Three connections, three tests per run that asks for them, none for one that does not.
    assert_eq!(world.served("GET", "/connections/{id}/test").await, 9);
    // The new password goes where the configuration references it, and is applied.
    std::fs::write(
        world.config().join("secrets/acme-password"),
        "rotated-at-salesforce\n",
    )
    .unwrap();
    let r = report(&world, &["--check-credentials"], &[], 2).await;
    assert_eq!(r["unapplied"]["count"], 1, "the new password is not applied yet");
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    report(&world, &["--check-credentials"], &[], 0).await;
    // A disabled connection cannot be tested, and says so.
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"state": "disabled"}),
        )
        .await;
    let r = report(&world, &["--check-credentials", "--only", "unapplied"], &[], 0).await;
    assert_eq!(r["credentials"]["tested"], 2);
    assert_eq!(
        r["credentials"]["skipped"],
        json!([{"address": "prod/acme-salesforce", "reason": "disabled in AEP"}])
    );
}
