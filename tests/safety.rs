//! The promise — never a duplicate connection, never a lost id — where it was found broken:
//! crashes that tear the journal, two paths to one state, a plan without the id it needs,
//! a connection disabled outside flowform, a stale copy of the state.

use std::collections::BTreeSet;
use std::io::Write;

use flowform_emulator::Options;
use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{World, copy_dir};

fn tear(journal: &std::path::Path, fragment: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(journal)
        .unwrap()
        .write_all(fragment.as_bytes())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_journal_then_a_second_crash_still_converges_without_a_duplicate() {
    let world = World::many(30, 60).await;
    let journal = flowform::state::journal::path_for(&world.state());
    let args = ["apply", "--auto-approve", "--parallelism", "3"];
    world
        .kill_9_when(&args, |j| j.matches("\"kind\":\"outcome\"").count() >= 4)
        .await;
    // The crash came mid-write: the last line is torn.
    tear(&journal, r#"{"kind":"outcome","seq":99,"addr"#);
    // The next run appends after it, and is killed too.
    let lines_before = std::fs::read_to_string(&journal).unwrap().lines().count();
    world
        .kill_9_when(&args, |j| j.lines().count() >= lines_before + 6)
        .await;
    tear(&journal, r#"{"kind":"int"#);
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(!run.stderr().contains("damaged"), "{}", run.stderr());
    world.converged(30).await;
    assert!(!journal.exists(), "folded in and removed");
    world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_journal_loses_no_intent_and_says_the_truth() {
    let world = World::many(8, 40).await;
    let journal = flowform::state::journal::path_for(&world.state());
    world
        .kill_9_when(&["apply", "--auto-approve", "--parallelism", "2"], |j| {
            j.matches("\"kind\":\"intent\"").count() >= 4
        })
        .await;
    // Garbage in the middle of the journal (a disk, a hand edit): the lines around it still
    // count, and an intent whose outcome line is gone stays pending.
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let outcome = lines.iter().position(|l| l.contains("\"kind\":\"outcome\""));
    if let Some(i) = outcome {
        lines[i] = "\u{0}\u{0}garbage".to_owned();
    }
    lines.insert(1, "not json at all".to_owned());
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let run = world.run(&["plan"]).await.expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("has damaged lines (2")
            && err.contains("they were skipped and the rest replayed")
            && !err.contains("version control"),
        "{err}"
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("Apply complete!"), "{}", run.stdout());
    world.converged(8).await;
    assert!(
        flowform::state::journal::damaged_path_for(&journal).exists(),
        "the damaged journal is kept aside"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_paths_to_one_state_meet_one_lock_and_the_symlink_stays() {
    let world = World::new().await;
    let link = world.dir.path().join("link.json");
    std::os::unix::fs::symlink(world.state(), &link).unwrap();
    let link_s = link.to_str().unwrap().to_owned();
    let run = world
        .run_bare(
            ["apply", "--auto-approve", "--state", &link_s]
                .map(str::to_owned)
                .to_vec(),
        )
        .await
        .expect_code(0);
    assert!(run.stdout().contains("3 added"), "{}", run.stdout());
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the symlink stays a symlink"
    );
    assert_eq!(world.recorded().resources.len(), 3, "written through the link");
    // One apply through the link holds the lock; another through the real path meets it.
    let env = flowform::settings::Environment::from_pairs([("USER", "alice")]);
    let real = std::fs::canonicalize(world.state()).unwrap();
    let _held = flowform::state::lock::Lock::acquire(
        &real,
        &link,
        &flowform::state::lock::Holder::me("flowform apply", &env),
        std::time::Duration::ZERO,
    )
    .unwrap();
    world.edit("salesforce-jwt.yaml", "name: ACME Salesforce (JWT)", "name: JWT");
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert!(
        run.stderr().contains("is locked by `flowform apply`"),
        "{}",
        run.stderr()
    );
    assert_eq!(world.stored().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_without_its_id_is_an_error_never_a_request() {
    let world = World::managed().await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    let out = world.dir.path().join("delete.out");
    let out_s = out.to_str().unwrap().to_owned();
    world.run(&["plan", "--out", &out_s]).await.expect_code(0);
    // The saved plan loses its id (a hand edit, a bug).
    let mut plan: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for change in plan["changes"].as_array_mut().unwrap() {
        if change["action"] == "delete" {
            change.as_object_mut().unwrap().remove("id");
        }
    }
    std::fs::write(&out, serde_json::to_vec(&plan).unwrap()).unwrap();
    let deletes = world.served("DELETE", "/connections/{id}").await;
    let run = world
        .run_bare(vec!["apply".to_owned(), out_s])
        .await
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("the plan has no connection id to delete; nothing was sent"),
        "{}",
        run.stderr()
    );
    assert_eq!(world.served("DELETE", "/connections/{id}").await, deletes);
    assert!(
        world.recorded().find("acme-salesforce-oauth").is_some(),
        "the record stays"
    );
    assert_eq!(world.stored().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_say_what_aep_says_and_a_disabled_connection_is_reported_by_name() {
    let world = World::managed().await;
    // After an apply, every record holds AEP's own state and timestamps.
    for (address, r) in &world.recorded().resources {
        assert_eq!(r.state.as_ref().map(|s| s.as_str()), Some("enabled"), "{address}");
        assert!(r.created_at.is_some() && r.updated_at.is_some(), "{address}");
    }
    let id = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"state": "disabled"}),
        )
        .await;
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(
        run.stdout().contains("state") && run.stdout().contains("\"enabled\" -> \"disabled\""),
        "{}",
        run.stdout()
    );
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("is disabled in AEP; flowform cannot enable it")
            && run.stdout().contains("Re-enable it in the AEP UI"),
        "{}",
        run.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let record = world.recorded().find("acme-salesforce-oauth").unwrap().1.clone();
    assert_eq!(
        record.state.as_ref().map(|s| s.as_str()),
        Some("disabled"),
        "recorded as AEP has it, never assumed"
    );
    let stored = world
        .admin(Method::GET, &format!("/connections/{id}"), Value::Null)
        .await;
    assert_eq!(stored["item"]["state"], "disabled");
    // Still said on every plan, and still drift, while it is disabled.
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(run.stdout().contains("is disabled in AEP"), "{}", run.stdout());
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(
        run.stdout().contains("\"enabled\" -> \"disabled\""),
        "{}",
        run.stdout()
    );
    // Unless the configuration says it is disabled on purpose.
    world.edit(
        "salesforce-oauth2.yaml",
        "ignoreChanges: [description]",
        "ignoreChanges: [description, state]",
    );
    let run = world.run(&["drift", "--ignore-unmanaged"]).await.expect_code(0);
    assert!(!run.stdout().contains("disabled"), "{}", run.stdout());
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(!run.stdout().contains("is disabled in AEP"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_with_a_stale_state_is_refused_rather_than_duplicate() {
    // Bob's clone has the state as it was before Alice's apply.
    let world = World::new().await;
    let bob = world.dir.path().join("bob");
    copy_dir(&world.config(), &bob.join("examples"));
    std::fs::copy(world.dir.path().join("flowform.toml"), bob.join("flowform.toml")).unwrap();
    std::fs::copy(world.state(), bob.join("state.json")).unwrap();
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let run = world
        .run_in(&bob, &["apply", "--auto-approve"])
        .await
        .expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("AEP already has a connection named `ACME Salesforce account`")
            && out.contains("flowform import acme-salesforce "),
        "{out}"
    );
    assert_eq!(world.stored().await.len(), 3, "no duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_fingerprints_are_keyed_when_a_key_is_given_and_move_to_it() {
    let world = World::new().await;
    // Without a key: stretched fingerprints.
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let digests = |world: &World| -> Vec<String> {
        world
            .recorded()
            .resources
            .values()
            .filter_map(|r| r.secrets_digest.clone())
            .collect()
    };
    assert!(digests(&world).iter().all(|d| d.starts_with("pbkdf2-sha256:")));
    // A key arrives: nothing changes in AEP; the next apply makes the fingerprints anew.
    let key = "5f1d0c9a8b7e6d5c4b3a29181706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4";
    let with_key = [("FLOWFORM_DIGEST_KEY", key)];
    let run = world
        .run_with(&["plan", "--detailed-exitcode"], &with_key)
        .await
        .expect_code(0);
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
    world
        .run_with(&["apply", "--auto-approve"], &with_key)
        .await
        .expect_code(0);
    let keyed = digests(&world);
    assert_eq!(keyed.len(), 3);
    assert!(keyed.iter().all(|d| d.starts_with("hmac-sha256:")), "{keyed:?}");
    let state = std::fs::read_to_string(world.state()).unwrap();
    assert!(!state.contains(key), "the key never reaches the state");
    world
        .run_with(&["plan", "--detailed-exitcode"], &with_key)
        .await
        .expect_code(0);
    // Without it, or with another, a plan cannot tell a rotated secret: it says so.
    let run = world.run(&["plan"]).await.expect_code(1);
    assert!(
        run.stdout()
            .contains("were made with the key `FLOWFORM_DIGEST_KEY` whose id is")
            && run.stdout().contains("and it is not set"),
        "{}",
        run.stdout()
    );
    let other = [(
        "FLOWFORM_DIGEST_KEY",
        "another key, long enough to be a key: 0123456789",
    )];
    let run = world.run_with(&["plan"], &other).await.expect_code(1);
    assert!(
        run.stdout().contains("with another `FLOWFORM_DIGEST_KEY`"),
        "{}",
        run.stdout()
    );
    // A key too short to be one is refused before anything happens.
    let run = world
        .run_with(&["plan"], &[("FLOWFORM_DIGEST_KEY", "hunter2")])
        .await
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("`FLOWFORM_DIGEST_KEY` is 7 characters long"),
        "{}",
        run.stderr()
    );
    // A rotated secret is still seen with the key.
    std::fs::write(world.config().join("secrets/acme-password"), "rotated\n").unwrap();
    let run = world
        .run_with(&["plan", "--detailed-exitcode"], &with_key)
        .await
        .expect_code(2);
    assert!(run.stdout().contains("prod/acme-salesforce"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_with_nothing_to_do_still_folds_the_journal_into_the_state() {
    let world = World::many(6, 60).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // One more connection; the run is killed as soon as its create is recorded.
    let mut yaml = std::fs::read_to_string(world.config().join("many.yaml")).unwrap();
    yaml.push_str("  extra:\n    name: Extra\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        username: extra\n        password: ${file:secrets/acme-password}\n        securityToken: ${file:secrets/acme-security-token}\n");
    world.write("many.yaml", &yaml);
    world
        .kill_9_when(&["apply", "--auto-approve"], |j| {
            j.contains("\"kind\":\"outcome\"") && j.contains("prod/extra")
        })
        .await;
    let journal = flowform::state::journal::path_for(&world.state());
    assert!(journal.exists());
    // Nothing left to do in AEP, but the id the killed run got must reach the state file,
    // which is what a team commits (the journal never leaves this machine).
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("0 added"), "{}", run.stdout());
    assert!(!journal.exists(), "folded in");
    let on_disk = flowform::state::file::read(&world.state()).unwrap().unwrap().0;
    assert!(
        on_disk.resources.contains_key("prod/extra"),
        "the id is in the file"
    );
    world.converged(7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_belongs_to_one_organization() {
    let world = World::managed().await;
    assert_eq!(
        world.recorded().org.as_deref(),
        Some(flowform_emulator::ims::DEMO_ORG),
        "bound by the first apply"
    );
    // The same project pointed at another organization: every connection would look deleted
    // there, and be created again.
    let run = world
        .run_with(&["plan"], &[("AEP_ORG_ID", "ANOTHERORG0000000000000@AdobeOrg")])
        .await
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("belongs to the organization `FLOWFORMEMULATOR00000000@AdobeOrg`")
            && run.stderr().contains("help: set `AEP_ORG_ID`"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_paths_that_are_not_the_projects_are_refused_and_nothing_is_made() {
    let world = World::managed().await;
    // Another project's state, or a mistyped one.
    let other = world.dir.path().join("other/state.json");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    std::fs::copy(world.state(), &other).unwrap();
    let other_s = other.to_str().unwrap().to_owned();
    let run = world
        .run_bare(["plan", "--state", &other_s].map(str::to_owned).to_vec())
        .await
        .expect_code(1);
    assert!(
        run.stderr().contains("is not this project's state") && run.stderr().contains("help: drop `--state`"),
        "{}",
        run.stderr()
    );
    // Outside a project, a state that is not there makes nothing (no lock, no directory).
    let outside = tempfile::tempdir().unwrap();
    let typo = outside.path().join("typo/dir/x.json");
    let run = world
        .run_in(
            outside.path(),
            &["state", "list", "--state", typo.to_str().unwrap()],
        )
        .await
        .expect_code(1);
    assert!(run.stderr().contains("there is no state at"), "{}", run.stderr());
    assert!(!outside.path().join("typo").exists());
    // A project whose `state` names a new file beside the real one: init refuses to start a
    // second, empty state there.
    let project = std::fs::read_to_string(world.dir.path().join("flowform.toml")).unwrap();
    std::fs::write(
        world.dir.path().join("flowform.toml"),
        project.replace("state = \"state.json\"", "state = \"renamed.json\""),
    )
    .unwrap();
    let run = world.run_bare(vec!["init".to_owned()]).await.expect_code(1);
    assert!(
        run.stderr()
            .contains("refusing to start an empty state next to another")
            && run.stderr().contains("`state.json` is beside it"),
        "{}",
        run.stderr()
    );
    assert!(!world.dir.path().join("renamed.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_is_not_rebuilt_from_a_journal_that_began_on_records() {
    let world = World::many(8, 60).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // Six of the eight go.
    let yaml = std::fs::read_to_string(world.config().join("many.yaml")).unwrap();
    let kept: String = yaml.split("  c002:").next().unwrap().to_owned();
    world.write("many.yaml", &kept);
    world
        .kill_9_when(&["apply", "--auto-approve", "--parallelism", "1"], |j| {
            j.matches("\"kind\":\"outcome\"").count() >= 2
        })
        .await;
    // The state and its backups are gone; the journal stays.
    std::fs::remove_file(world.state()).unwrap();
    for backup in flowform::state::file::backups(&world.state()) {
        std::fs::remove_file(backup).unwrap();
    }
    for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
        let run = world.run(args).await.expect_code(1);
        assert!(
            run.stderr().contains("is missing, but its journal") && run.stderr().contains("help: restore"),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(!world.state().exists(), "{args:?} wrote no state");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clones_applying_at_once_leave_one_connection_per_name_and_say_so() {
    // Two clones, each with its own state (no shared backend), apply the same new
    // connections at the same moment. Both may send their creates; after reading back, the
    // later copy of each name is deleted by the run that made it, and both runs say so.
    let world = World::many(10, 80).await;
    let bob = world.dir.path().join("bob");
    copy_dir(&world.config(), &bob.join("examples"));
    std::fs::copy(world.dir.path().join("flowform.toml"), bob.join("flowform.toml")).unwrap();
    std::fs::copy(world.state(), bob.join("state.json")).unwrap();
    let (alice, bob_run) = tokio::join!(
        world.run(&["apply", "--auto-approve"]),
        world.run_in(&bob, &["apply", "--auto-approve"])
    );
    let stored = world.stored().await;
    let names: Vec<&str> = stored
        .iter()
        .map(|c| c["item"]["name"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(
        (names.len(), unique.len()),
        (10, 10),
        "one connection per name\n--- alice\n{}\n--- bob\n{}",
        alice.stderr(),
        bob_run.stderr()
    );
    // Each state records only connections that exist, none twice, and together they hold
    // each of the ten.
    let bobs = flowform::state::file::read(&bob.join("state.json"))
        .unwrap()
        .unwrap()
        .0;
    let ids: BTreeSet<&str> = stored.iter().map(|c| c["item"]["id"].as_str().unwrap()).collect();
    let mut owned = BTreeSet::new();
    for state in [world.recorded(), bobs] {
        for r in state.resources.values() {
            assert!(ids.contains(r.id.as_str()), "{} is recorded but gone", r.id);
            owned.insert(r.id.clone());
        }
    }
    assert_eq!(owned.len(), 10);
    // A race is never silent: whoever raced says what it kept or deleted.
    assert!(
        alice.code() == Some(1) || bob_run.code() == Some(1),
        "both succeeded: a race went unreported"
    );
    for run in [&alice, &bob_run] {
        if run.code() == Some(1) {
            assert!(
                run.stderr()
                    .contains("created at the same moment by someone else")
                    || run.stderr().contains("would make a duplicate"),
                "{}",
                run.stderr()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initializing_connection_gets_its_etag_recorded_once_enabled() {
    // Initializing for ten minutes of the emulator's clock, which the test moves on: a slow,
    // loaded machine cannot see it enabled before the test says so.
    let world = World::with(Options {
        initializing_ms: 600_000,
        ..Options::default()
    })
    .await;
    let run = world
        .run(&["apply", "--auto-approve", "--wait-timeout", "0s"])
        .await
        .expect_code(0);
    assert!(run.stderr().contains("still initializing"), "{}", run.stderr());
    let jwt = world.recorded().find("acme-salesforce-jwt").unwrap().1.clone();
    assert_eq!(
        (jwt.etag.as_deref(), jwt.state.as_ref().map(|s| s.as_str())),
        (None, Some("initializing"))
    );
    // Until AEP has enabled it, nothing is recorded but what it said.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 600_000}))
        .await;
    // The next apply, with nothing to do in AEP, records what AEP finished on its own.
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let jwt = world.recorded().find("acme-salesforce-jwt").unwrap().1.clone();
    assert!(jwt.etag.is_some(), "{jwt:?}");
    assert_eq!(jwt.state.as_ref().map(|s| s.as_str()), Some("enabled"));
    // From then on, a secret changed in the AEP UI is seen.
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{}", jwt.id),
            json!({"params": {"clientSecret": "rotated-in-the-ui"}}),
        )
        .await;
    let run = world.run(&["drift", "--ignore-unmanaged"]).await.expect_code(2);
    assert!(
        run.stdout().contains("prod/acme-salesforce-jwt"),
        "{}",
        run.stdout()
    );
}
