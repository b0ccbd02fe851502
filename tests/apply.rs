//! `flowform apply`, `destroy` and `import` through the binary against the in-process
//! emulator: every kind of change, faults, staleness, locking, and a kill -9 mid-apply.

use std::collections::BTreeSet;
use std::time::Duration;

use flowform::settings::Environment;
use flowform::state::lock::{Holder, Lock};
use flowform_emulator::Options;
use flowform_emulator::faults::FaultSettings;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::flowform;
use crate::world::World;

/// Names of the connections the emulator holds.
async fn names(world: &World) -> Vec<String> {
    let mut names: Vec<String> = world
        .stored()
        .await
        .iter()
        .map(|c| c["item"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_all_three_auth_types_then_a_second_apply_changes_nothing() {
    let world = World::new().await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr()
            .contains("prod/acme-salesforce: Creation complete after"),
        "{}",
        run.stderr()
    );
    let stored = world.stored().await;
    assert_eq!(stored.len(), 3);
    let state = world.recorded();
    assert_eq!(state.resources.len(), 3);
    for c in &stored {
        let id = c["item"]["id"].as_str().unwrap();
        let record = state
            .resources
            .values()
            .find(|r| r.id == id)
            .expect("every connection is recorded");
        assert_eq!(
            record.etag.as_deref(),
            c["item"]["etag"].as_str(),
            "the final etag is recorded"
        );
        assert_eq!(record.state.as_ref().map(|s| s.as_str()), Some("enabled"));
    }
    // The JWT connection went through initializing and gained AEP's orgId.
    let jwt = stored
        .iter()
        .find(|c| c["item"]["auth"]["specName"] == "OAuth2 JWT Token Credential")
        .unwrap();
    assert!(jwt["item"]["auth"]["params"]["orgId"].is_string());
    assert!(
        !flowform::state::journal::path_for(&world.state()).exists(),
        "the journal was folded in"
    );

    let posts = world.served("POST", "/connections").await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("No changes. Your resources match the configuration."),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.\n")
    );
    assert_eq!(world.served("POST", "/connections").await, posts);
    assert_eq!(world.served("PATCH", "/connections/{id}").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_is_a_patch_with_if_match() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce-oauth").await;
    let before = world.recorded().resources["prod/acme-salesforce-oauth"]
        .etag
        .clone();
    world.edit(
        "salesforce-oauth2.yaml",
        "name: ACME Salesforce (OAuth 2)",
        "name: ACME OAuth",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(world.served("PATCH", "/connections/{id}").await, 1);
    let item = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await;
    assert_eq!(item["item"]["name"], "ACME OAuth");
    let after = world.recorded().resources["prod/acme-salesforce-oauth"]
        .etag
        .clone();
    assert_ne!(after, before);
    assert_eq!(after.as_deref(), item["item"]["etag"].as_str());
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_sent_and_only_its_digest_kept() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce").await;
    let before = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await["secretDigests"]["password"]
        .clone();
    std::fs::write(
        world.config().join("secrets/acme-password"),
        "rotated-password-2026\n",
    )
    .unwrap();
    let run = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(2);
    assert!(
        run.stdout()
            .contains("~ auth.params.password      = (sensitive value)"),
        "{}",
        run.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let after = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await["secretDigests"]["password"]
        .clone();
    assert_ne!(after, before, "AEP got the new password");
    let state = std::fs::read_to_string(world.state()).unwrap();
    assert!(!state.contains("rotated-password-2026"));
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_change_replaces_create_first() {
    let world = World::managed().await;
    let old = world.id_of("acme-salesforce-oauth").await;
    world.write(
        "salesforce-oauth2.yaml",
        "sandbox: prod\nconnections:\n  acme-salesforce-oauth:\n    name: ACME Salesforce (OAuth 2)\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        username: acme\n        password: ${file:secrets/acme-password}\n        securityToken: ${file:secrets/acme-security-token}\n",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("# prod/acme-salesforce-oauth must be replaced"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 1 added, 0 changed, 1 destroyed.\n"),
        "{}",
        run.stdout()
    );
    let new = world.id_of("acme-salesforce-oauth").await;
    assert_ne!(new, old);
    let ids: BTreeSet<String> = world
        .stored()
        .await
        .iter()
        .map(|c| c["item"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&new) && !ids.contains(&old));
    assert!(world.recorded().resources.keys().all(|a| !a.contains("deposed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_from_config_is_deleted_but_protect_blocks_it() {
    let world = World::managed().await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(world.stored().await.len(), 2);
    // The basic example is protected.
    std::fs::remove_file(world.config().join("salesforce-basic.yaml")).unwrap();
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert!(run.stdout().contains("is protected"), "{}", run.stdout());
    assert_eq!(world.stored().await.len(), 2, "nothing was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_in_aep_is_recreated() {
    let world = World::managed().await;
    let old = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(Method::DELETE, &format!("/connections/{old}"), Value::Null)
        .await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("# prod/acme-salesforce-oauth has been deleted"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\n")
    );
    assert_ne!(world.id_of("acme-salesforce-oauth").await, old);
    assert_eq!(world.stored().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_in_aep_is_reported_as_drift_then_put_back() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce-jwt").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"name": "Renamed in the UI"}),
        )
        .await;
    world.run(&["drift"]).await.expect_code(2);
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("Note: Objects have changed outside of flowform"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("~ name") && run.stdout().contains("# changed outside flowform"));
    let item = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await;
    assert_eq!(item["item"]["name"], "ACME Salesforce (JWT)");
    assert!(
        item["item"]["auth"]["params"]["orgId"].is_string(),
        "AEP's own param survived the update"
    );
    world.run(&["drift"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refresh_only_accepts_what_aep_has() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"description": "edited in the UI"}),
        )
        .await;
    world
        .run(&["apply", "--refresh-only", "--auto-approve"])
        .await
        .expect_code(0);
    assert_eq!(
        world.recorded().resources["prod/acme-salesforce"].text("description"),
        Some("edited in the UI")
    );
    // AEP and the state agree now; the configuration still says otherwise, which drift
    // reports as not yet applied, and a normal plan wants back.
    world
        .run(&["drift", "--only", "outside", "--only", "unmanaged"])
        .await
        .expect_code(0);
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(
        run.stdout()
            .contains("0 changed outside flowform, 1 not yet applied"),
        "{}",
        run.stdout()
    );
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_by_block_and_by_command() {
    let world = World::new().await;
    world
        .admin(
            Method::POST,
            "/seed",
            json!({"count": 2, "namePrefix": "Existing"}),
        )
        .await;
    let stored = world.stored().await;
    let (first, second) = (
        stored[0]["item"]["id"].as_str().unwrap(),
        stored[1]["item"]["id"].as_str().unwrap(),
    );
    for file in [
        "salesforce-basic.yaml",
        "salesforce-oauth2.yaml",
        "salesforce-jwt.yaml",
    ] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    let conn = |key: &str, name: &str, import: &str| {
        format!(
            "  {key}:\n    name: {name}\n    source: salesforce\n{import}    auth:\n      specName: Basic Authentication\n      params:\n        username: u\n        password: ${{file:secrets/acme-password}}\n        securityToken: ${{file:secrets/acme-security-token}}\n"
        )
    };
    world.write(
        "existing.yaml",
        &format!(
            "sandbox: prod\nconnections:\n{}{}",
            conn(
                "by-block",
                "Existing 000000",
                &format!("    import: {{id: {first}}}\n")
            ),
            conn("by-command", "Existing 000001", "")
        ),
    );
    // The command: records without changing anything.
    let state = world.state();
    let run = world.run(&["import", "by-command", second]).await.expect_code(0);
    assert!(run.stdout().contains("Import successful!"), "{}", run.stdout());
    assert_eq!(
        flowform::state::file::read(&state).unwrap().unwrap().0.resources["prod/by-command"].id,
        second
    );
    // The block: planned, then the declared secrets are sent (flowform cannot know AEP's).
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("# prod/by-block will be imported, then updated in-place"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 1 imported, 0 added, 2 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(world.stored().await.len(), 2, "nothing was created");
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_committed_then_failed_makes_exactly_one_connection() {
    for fault in ["commit-then-fail", "commit-then-drop"] {
        let world = World::new().await;
        world.script("POST", fault).await;
        let run = world
            .run(&["apply", "--auto-approve", "--parallelism", "1"])
            .await
            .expect_code(0);
        assert!(
            run.stderr().contains("outcome is unknown"),
            "{fault}: {}",
            run.stderr()
        );
        assert!(run.stderr().contains("no duplicate"), "{fault}: {}", run.stderr());
        assert_eq!(
            world.stored().await.len(),
            3,
            "{fault}: exactly one connection each"
        );
        assert_eq!(
            world.served("POST", "/connections").await,
            3,
            "{fault}: the POST was never resent"
        );
        assert_eq!(world.recorded().resources.len(), 3);
        world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_converges_without_duplicates() {
    let world = World::with(Options {
        faults: FaultSettings {
            rate_limit: 0.5,
            retry_after_s: 0,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert_eq!(names(&world).await.len(), 3);
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert_eq!(names(&world).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plans_apply_once_and_stale_ones_are_refused() {
    let world = World::managed().await;
    world.edit(
        "salesforce-oauth2.yaml",
        "apiVersion: \"60.0\"",
        "apiVersion: \"61.0\"",
    );
    let out = world.dir.path().join("plan.out");
    let out_s = out.to_str().unwrap();
    world.run(&["plan", "--out", out_s]).await.expect_code(0);
    // Someone changes the connection in AEP after the review.
    let id = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"description": "touched"}),
        )
        .await;
    let run = world.run(&["apply", out_s]).await.expect_code(1);
    assert!(run.stderr().contains("is stale"), "{}", run.stderr());
    assert!(
        run.stderr().contains("changed in AEP since the plan was made"),
        "{}",
        run.stderr()
    );
    // Planned again, it applies; applied again, it says so, and does nothing.
    world.run(&["plan", "--out", out_s]).await.expect_code(0);
    let run = world.run(&["apply", out_s]).await.expect_code(0);
    assert!(run.stdout().contains("Apply complete!"), "{}", run.stdout());
    let run = world.run(&["apply", out_s]).await.expect_code(0);
    assert!(
        run.stderr().contains("was already applied") && run.stderr().contains("Nothing to do."),
        "{}",
        run.stderr()
    );
    // Once another apply ran, it is still said to be applied, and the next step is a plan.
    let other = world.dir.path().join("other.out");
    world.edit(
        "salesforce-oauth2.yaml",
        "apiVersion: \"61.0\"",
        "apiVersion: \"62.0\"",
    );
    world
        .run(&["plan", "--out", other.to_str().unwrap()])
        .await
        .expect_code(0);
    world
        .run(&["apply", other.to_str().unwrap()])
        .await
        .expect_code(0);
    let run = world.run(&["apply", out_s]).await.expect_code(1);
    assert!(
        run.stderr().contains("was already applied")
            && run.stderr().contains("the state changed since")
            && run.stderr().contains("flowform plan"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("another state"), "{}", run.stderr());
    // A configuration changed after the plan is refused too.
    world.run(&["plan", "--out", out_s]).await.expect_code(0);
    world.edit("salesforce-jwt.yaml", "name: ACME Salesforce (JWT)", "name: JWT");
    let run = world.run(&["apply", out_s]).await.expect_code(1);
    assert!(
        run.stderr()
            .contains("the configuration (or a secret it references) changed"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_apply_is_refused_with_the_holders_details() {
    let world = World::managed().await;
    let env = Environment::from_pairs([("USER", "release-bot")]);
    let _held = Lock::acquire(
        &world.state(),
        &world.state(),
        &Holder::me("flowform apply -c prod/", &env),
        Duration::ZERO,
    )
    .unwrap();
    world.edit("salesforce-jwt.yaml", "name: ACME Salesforce (JWT)", "name: JWT");
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert!(
        run.stderr()
            .contains("is locked by `flowform apply -c prod/` (pid "),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("release-bot@"), "{}", run.stderr());
    assert_eq!(world.served("PATCH", "/connections/{id}").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_apply_needs_approval() {
    let world = World::new().await;
    let run = world.run(&["apply"]).await.expect_code(1);
    assert!(
        run.stderr().contains("not applying without approval"),
        "{}",
        run.stderr()
    );
    assert!(world.stored().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_listed_and_successes_kept() {
    let world = World::managed().await;
    let oauth = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            Method::PUT,
            &format!("/connections/{oauth}/in-use"),
            json!({"inUse": true}),
        )
        .await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    world.edit(
        "salesforce-jwt.yaml",
        "name: ACME Salesforce (JWT)",
        "name: JWT renamed",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("error: prod/acme-salesforce-oauth:") && stderr.contains("FLOW-1418-400"),
        "{stderr}"
    );
    assert!(stderr.contains("[request id "), "{stderr}");
    assert!(
        stderr.contains("something still uses this connection: a dataflow"),
        "{stderr}"
    );
    assert!(stderr.contains("Apply failed: 1 action failed;"), "{stderr}");
    // The rename went through and is recorded; the delete did not, and the record stays.
    let state = world.recorded();
    assert_eq!(state.resources["prod/acme-salesforce-jwt"].name, "JWT renamed");
    assert!(state.resources.contains_key("prod/acme-salesforce-oauth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_deletes_what_is_managed_and_respects_protect() {
    let world = World::managed().await;
    let run = world.run(&["destroy", "--auto-approve"]).await.expect_code(1);
    assert!(run.stdout().contains("is protected"), "{}", run.stdout());
    assert_eq!(world.stored().await.len(), 3);
    world.edit("salesforce-basic.yaml", "protect: true", "protect: false");
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let run = world.run(&["destroy", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Destroy complete! Resources: 0 added, 0 changed, 3 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert!(world.stored().await.is_empty());
    assert!(world.recorded().resources.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_apply_then_rerun_loses_nothing_and_duplicates_nothing() {
    let world = World::many(12, 120).await;
    // Start an apply, and kill it once some creates are recorded in the journal.
    world
        .kill_9_when(&["apply", "--auto-approve", "--parallelism", "2"], |journal| {
            journal.matches("\"kind\":\"outcome\"").count() >= 3
        })
        .await;
    let created_before_rerun = world.stored().await.len();
    assert!(
        created_before_rerun < 12,
        "killed mid-apply ({created_before_rerun} created)"
    );

    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("Apply complete!"), "{}", run.stdout());
    // What the killed run created is taken as it is: its secrets were digested under the
    // same salt, so nothing is updated for nothing.
    assert!(
        run.stdout().contains(" 0 changed, 0 destroyed."),
        "{}",
        run.stdout()
    );
    world.converged(12).await;
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[test]
fn the_emulator_demo_runs_twice_from_a_fresh_clone() {
    // What a fresh clone has: the examples and the repository's project file.
    let dir = tempfile::tempdir().unwrap();
    crate::world::copy_dir(
        &crate::common::root().join("examples"),
        &dir.path().join("examples"),
    );
    std::fs::copy(
        crate::common::root().join("flowform.toml"),
        dir.path().join("flowform.toml"),
    )
    .unwrap();
    let first = flowform(["apply", "--emulator", "--auto-approve", "-c", "examples/"])
        .current_dir(dir.path())
        .run()
        .expect_code(0);
    assert!(
        first
            .stdout()
            .ends_with("Apply complete! Resources: 9 added, 0 changed, 0 destroyed.\n"),
        "{}",
        first.stdout()
    );
    let second = flowform(["apply", "--emulator", "--auto-approve", "-c", "examples/"])
        .current_dir(dir.path())
        .run()
        .expect_code(0);
    assert!(second.stdout().starts_with("No changes."), "{}", second.stdout());
    assert!(dir.path().join("state/emulator/examples.json").exists());
    assert!(dir.path().join("state/emulator/aep.json").exists());
    assert!(
        !dir.path().join("state/examples.json").exists(),
        "the real state is untouched"
    );
    let drift = flowform(["drift", "--emulator", "-c", "examples/"])
        .current_dir(dir.path())
        .run();
    assert_eq!(drift.code(), Some(0), "{}", drift.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_at_the_most_verbose_level() {
    let world = World::with(Options {
        faults: FaultSettings {
            rate_limit: 0.2,
            retry_after_s: 0,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    world.script("POST", "commit-then-drop").await;
    let mut outputs = String::new();
    for args in [
        &["apply", "--auto-approve", "-vvv"][..],
        &["plan", "-vvv", "--format", "json"][..],
        &["drift", "-vvv"][..],
        &["state", "show", "acme-salesforce-jwt"][..],
    ] {
        let run = world.run(args).await;
        assert!(
            run.code() == Some(0) || run.code() == Some(2),
            "{args:?}: {}",
            run.stderr()
        );
        outputs.push_str(&run.stdout());
        outputs.push_str(&run.stderr());
    }
    assert!(
        outputs.contains("-> 201") && outputs.contains("requesting an access token"),
        "the log is verbose: {outputs}"
    );
    let mut secrets = vec![
        flowform_emulator::ims::DEMO_CLIENT_SECRET.to_owned(),
        "eyJemulator".to_owned(),
    ];
    for entry in std::fs::read_dir(world.config().join("secrets")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none() {
            secrets.push(std::fs::read_to_string(&path).unwrap().trim().to_owned());
        }
    }
    let state = std::fs::read_to_string(world.state()).unwrap();
    for secret in &secrets {
        assert!(
            !outputs.contains(secret.as_str()),
            "`{secret}` reached the output"
        );
        assert!(!state.contains(secret.as_str()), "`{secret}` reached the state");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_412_is_re_read_re_planned_and_applied_again() {
    let world = World::managed().await;
    world.edit(
        "salesforce-oauth2.yaml",
        "name: ACME Salesforce (OAuth 2)",
        "name: ACME OAuth",
    );
    // Someone edits the connection in the UI between flowform's read and its PATCH.
    world.script("PATCH", "concurrent-edit").await;
    let run = world.run(&["apply", "--auto-approve", "-v"]).await.expect_code(0);
    assert!(run.stderr().contains("AEP answered 412"), "{}", run.stderr());
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    let id = world.id_of("acme-salesforce-oauth").await;
    let item = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await;
    assert_eq!(item["item"]["name"], "ACME OAuth");
    // The other edit was to the description, which this example ignores (`ignoreChanges`):
    // the re-plan, made against the fresh read, leaves it be.
    assert_eq!(
        item["item"]["description"],
        "Salesforce account using OAuth 2 client credentials (edited)"
    );
    assert_eq!(
        world.served("PATCH", "/connections/{id}").await,
        2,
        "one 412, one success"
    );
    assert_eq!(
        world.recorded().resources["prod/acme-salesforce-oauth"]
            .etag
            .as_deref(),
        item["item"]["etag"].as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_whose_delete_fails_leaves_the_old_one_deposed_until_it_can_go() {
    let world = World::managed().await;
    let old = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            Method::PUT,
            &format!("/connections/{old}/in-use"),
            json!({"inUse": true}),
        )
        .await;
    world.edit(
        "salesforce-oauth2.yaml",
        "specName: OAuth2 Client Credential",
        "specName: OAuth2 JWT Token Credential",
    );
    world.edit(
        "salesforce-oauth2.yaml",
        "        environmentUrl: https://acme-enterprise-3126.my.salesforce.com\n        clientId: 3MVG9n_HvETGhr3Cjq8Q.acme.demo\n        clientSecret: ${file:secrets/acme-oauth-client-secret}\n        apiVersion: \"60.0\"\n",
        "        jwtToken: ${file:secrets/acme-jwt-token}\n        clientId: 3MVG9n_HvETGhr3Cjq8Q.acme.demo\n        clientSecret: ${file:secrets/acme-oauth-client-secret}\n        instanceUrl: https://acme-enterprise-3126.my.salesforce.com\n",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert!(
        run.stderr().contains("the old one (") && run.stderr().contains("#deposed"),
        "{}",
        run.stderr()
    );
    let state = world.recorded();
    assert_eq!(
        state.resources["prod/acme-salesforce-oauth#deposed"].id, old,
        "the old one is still managed"
    );
    assert_ne!(
        state.resources["prod/acme-salesforce-oauth"].id, old,
        "the new one is recorded"
    );
    // Once the dataflow lets go, the next apply deletes the old one.
    world
        .admin(
            Method::PUT,
            &format!("/connections/{old}/in-use"),
            json!({"inUse": false}),
        )
        .await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout().contains("left over from a replacement"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 0 added, 0 changed, 1 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(world.stored().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_saved_plan_applies_and_remembers_its_configuration() {
    // The state `init` started is empty: the plan is made against it, and applies to it.
    let world = World::new().await;
    let out = world.dir.path().join("first.out");
    let out_s = out.to_str().unwrap().to_owned();
    let before = std::fs::read(world.state()).unwrap();
    world.run(&["plan", "--out", &out_s]).await.expect_code(0);
    assert_eq!(
        std::fs::read(world.state()).unwrap(),
        before,
        "plan writes no state"
    );
    // `apply FILE` needs neither -c nor --state: the plan says where they are.
    let run = world
        .run_bare(vec!["apply".to_owned(), out_s])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_eq!(world.recorded().resources.len(), 3);
    let run = world
        .run(&["plan", "--target", "no-such-key"])
        .await
        .expect_code(1);
    assert!(
        run.stdout()
            .contains("--target `no-such-key` matches no declared or managed resource"),
        "{}",
        run.stdout()
    );
    let run = world
        .run(&["plan", "--target", "acme-salesforce"])
        .await
        .expect_code(0);
    assert!(run.stdout().contains("limited to --target"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_fields_keep_what_aep_has_and_are_never_drift() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce-oauth").await;
    // The OAuth example ignores its description; someone edits it in the UI.
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"description": "edited in the UI"}),
        )
        .await;
    world.edit(
        "salesforce-oauth2.yaml",
        "name: ACME Salesforce (OAuth 2)",
        "name: ACME OAuth",
    );
    world.edit(
        "salesforce-oauth2.yaml",
        "ignoreChanges: [description]",
        "ignoreChanges: [description, auth.params.clientId]",
    );
    world.edit(
        "salesforce-oauth2.yaml",
        "clientId: 3MVG9n_HvETGhr3Cjq8Q.acme.demo",
        "clientId: changed-but-ignored",
    );
    std::fs::write(
        world.config().join("secrets/acme-oauth-client-secret"),
        "rotated-client-secret\n",
    )
    .unwrap();
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let item = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await;
    assert_eq!(item["item"]["name"], "ACME OAuth");
    assert_eq!(
        item["item"]["description"], "edited in the UI",
        "an ignored field is left as AEP has it"
    );
    assert_eq!(
        item["item"]["auth"]["params"]["clientId"], "3MVG9n_HvETGhr3Cjq8Q.acme.demo",
        "an ignored param keeps AEP's value even when the params are sent whole"
    );
    let record = &world.recorded().resources["prod/acme-salesforce-oauth"];
    assert_eq!(
        record.text("description"),
        Some("edited in the UI"),
        "the state records what AEP has"
    );
    world.run(&["drift"]).await.expect_code(0);
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}
