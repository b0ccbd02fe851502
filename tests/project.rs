//! The project: one state per infra repository, whatever directory flowform is run from and
//! however `-c` narrows it; never an empty state started by accident.

use std::path::{Path, PathBuf};

use flowform_emulator::Options;

use crate::common::root;
use crate::world::{World, copy_dir};

/// An infra repository `infra/` in the world's directory, with `connections/prod.yaml` (2
/// connections) and `connections/dev.yaml` (3, in sandboxes dev and staging): the
/// multi-file example.
async fn infra() -> (World, PathBuf) {
    let world = World::bare(Options::default()).await;
    let repo = world.dir.path().join("infra");
    copy_dir(&root().join("examples/multi-file"), &repo.join("connections"));
    (world, repo)
}

/// `init`, then apply everything.
async fn applied(world: &World, repo: &Path) {
    world.run_in(repo, &["init"]).await.expect_code(0);
    world
        .run_in(repo, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
}

fn lines(text: &str) -> String {
    text.lines().collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_project_for_connections_and_starts_its_state_once() {
    let (world, repo) = infra().await;
    let run = world.run_in(&repo, &["init"]).await.expect_code(0);
    let out = run.stdout();
    for said in [
        "Wrote `flowform.toml`: the configuration is `connections`, the state `state/flowform.json`.",
        "Started an empty state `state/flowform.json` (lineage ",
        "Wrote `state/.gitignore`",
    ] {
        assert!(out.contains(said), "{said}\n{out}");
    }
    let project = std::fs::read_to_string(repo.join("flowform.toml")).unwrap();
    assert!(
        project.contains("config = [\"connections\"]\nstate = \"state/flowform.json\"\n"),
        "{project}"
    );
    let state = std::fs::read(repo.join("state/flowform.json")).unwrap();
    let ignore = std::fs::read_to_string(repo.join("state/.gitignore")).unwrap();
    assert!(
        ignore.contains("*.lock") && ignore.contains("*.journal"),
        "{ignore}"
    );
    // Again: nothing is rewritten.
    let run = world.run_in(&repo, &["init"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("The state `state/flowform.json` exists: 0 connections managed, serial 0."),
        "{}",
        run.stdout()
    );
    assert_eq!(std::fs::read(repo.join("state/flowform.json")).unwrap(), state);
    // From a subdirectory, it finds the project rather than write another.
    let run = world
        .run_in(&repo.join("connections"), &["init"])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .contains("Found the flowform project `../flowform.toml`."),
        "{}",
        run.stdout()
    );
    assert!(!repo.join("connections/flowform.toml").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_project_nothing_is_planned_and_nothing_written() {
    let (world, repo) = infra().await;
    for (cwd, args) in [
        (repo.clone(), vec!["plan"]),
        (repo.clone(), vec!["apply", "--auto-approve"]),
        (repo.clone(), vec!["state", "list"]),
        (
            world.dir.path().to_owned(),
            vec!["plan", "-c", "infra/connections"],
        ),
    ] {
        let run = world.run_in(&cwd, &args).await.expect_code(1);
        let err = run.stderr();
        assert!(
            err.contains("error: no flowform project here: no `flowform.toml` in")
                && err.contains("help: run `flowform init` at the root of your infra repository"),
            "{args:?}: {err}"
        );
    }
    assert!(!repo.join("state").exists() && !world.dir.path().join("state").exists());
    assert_eq!(world.stored().await.len(), 0);
    // `init` in a directory without `connections/` says what it needs.
    let run = world.run_in(world.dir.path(), &["init"]).await.expect_code(1);
    assert!(
        run.stderr().contains("error: `connections` does not exist")
            && run.stderr().contains("help: create `connections/`"),
        "{}",
        run.stderr()
    );
    assert!(!world.dir.path().join("flowform.toml").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_without_its_state_refuses_rather_than_start_an_empty_one() {
    let (world, repo) = infra().await;
    applied(&world, &repo).await;
    // The state is lost (a clone that never had it, a careless `rm`): no command starts an
    // empty one, which would create every connection again.
    std::fs::remove_dir_all(repo.join("state")).unwrap();
    for args in [
        vec!["plan"],
        vec!["apply", "--auto-approve"],
        vec!["drift"],
        vec!["state", "list"],
    ] {
        let run = world.run_in(&repo, &args).await.expect_code(1);
        assert!(
            run.stderr()
                .contains("error: there is no state at `state/flowform.json`")
                && run.stderr().contains("help: run `flowform init`"),
            "{args:?}: {}",
            run.stderr()
        );
    }
    assert!(!repo.join("state/flowform.json").exists());
    // `init` starts an empty one, and the plan then refuses to duplicate what AEP has.
    world.run_in(&repo, &["init"]).await.expect_code(0);
    let run = world.run_in(&repo, &["plan"]).await.expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("AEP already has a connection named `EMEA Salesforce`")
            && out.contains("flowform import emea-salesforce "),
        "{out}"
    );
    let run = world
        .run_in(&repo, &["apply", "--auto-approve"])
        .await
        .expect_code(1);
    assert!(!run.stdout().contains("Creating..."), "{}", run.stdout());
    assert_eq!(world.stored().await.len(), 5, "no duplicate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_state_from_the_root_a_subdirectory_the_parent_and_a_narrowed_config() {
    let (world, repo) = infra().await;
    world.run_in(&repo, &["init"]).await.expect_code(0);
    let run = world
        .run_in(&repo, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 5 added, 0 changed, 0 destroyed.\n"),
        "{}",
        run.stdout()
    );
    // The measured case: applying one file of the project uses the project's state.
    let run = world
        .run_in(&repo, &["apply", "-c", "connections/prod.yaml", "--auto-approve"])
        .await
        .expect_code(0);
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
    let here = repo.join("connections");
    for (cwd, args) in [
        (repo.clone(), vec!["plan", "--detailed-exitcode"]),
        (here.clone(), vec!["plan", "--detailed-exitcode"]),
        (
            here.clone(),
            vec!["plan", "--detailed-exitcode", "-c", "dev.yaml"],
        ),
        (
            world.dir.path().to_owned(),
            vec!["-C", "infra", "plan", "--detailed-exitcode"],
        ),
        (
            world.dir.path().to_owned(),
            vec![
                "plan",
                "--detailed-exitcode",
                "-C",
                "infra/connections",
                "-c",
                "prod.yaml",
            ],
        ),
    ] {
        let run = world.run_in(&cwd, &args).await.expect_code(0);
        assert!(
            run.stdout().starts_with("No changes."),
            "{args:?}: {}",
            run.stdout()
        );
    }
    assert_eq!(world.stored().await.len(), 5, "nothing created twice");
    let states: Vec<_> = std::fs::read_dir(repo.join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(states, ["flowform.json"], "one state");
    assert!(!here.join("state").exists() && !world.dir.path().join("state").exists());

    // A narrowed plan shows its own file's changes only, and says it is narrowed.
    let prod = repo.join("connections/prod.yaml");
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replace("name: APAC Salesforce", "name: APAC CRM")).unwrap();
    let dev = repo.join("connections/dev.yaml");
    let text = std::fs::read_to_string(&dev).unwrap();
    std::fs::write(&dev, text.replace("name: Dev Dynamics", "name: Dev CRM")).unwrap();
    let run = world
        .run_in(&repo, &["apply", "-c", "connections/dev.yaml", "--auto-approve"])
        .await
        .expect_code(0);
    let out = lines(&run.stdout());
    assert!(
        out.contains("dev/dev-dynamics") && !out.contains("prod/apac-salesforce"),
        "{out}"
    );
    assert!(
        out.contains("the plan is limited to the 3 connections declared in `-c connections/dev.yaml`"),
        "{out}"
    );
    assert!(
        out.ends_with("Apply complete! Resources: 0 added, 1 changed, 0 destroyed."),
        "{out}"
    );
    let run = world
        .run_in(&repo, &["plan", "--detailed-exitcode"])
        .await
        .expect_code(2);
    assert!(
        run.stdout()
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        run.stdout()
    );

    // `-c` never reaches outside the project.
    std::fs::write(
        world.dir.path().join("other.yaml"),
        "sandbox: prod\nconnections: {}\n",
    )
    .unwrap();
    let run = world
        .run_in(&repo, &["plan", "-c", "../other.yaml"])
        .await
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("`-c ../other.yaml` is not part of this project's configuration"),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_carries_on_a_state_named_the_old_way() {
    let (world, repo) = infra().await;
    // A flowform before projects kept `state/connections.json` for `-c connections`.
    applied(&world, &repo).await;
    std::fs::rename(
        repo.join("state/flowform.json"),
        repo.join("state/connections.json"),
    )
    .unwrap();
    std::fs::remove_file(repo.join("flowform.toml")).unwrap();
    let run = world.run_in(&repo, &["init"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("Using the existing state `state/connections.json`."),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("The state `state/connections.json` exists: 5 connections managed"),
        "{}",
        run.stdout()
    );
    let run = world.run_in(&repo, &["plan"]).await.expect_code(0);
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_project_file_is_named_with_its_line_and_nothing_runs() {
    let (world, repo) = infra().await;
    std::fs::write(
        repo.join("flowform.toml"),
        "config = [\"connections\"]\nstate_file = \"state/x.json\"\n",
    )
    .unwrap();
    for args in [
        vec!["plan"],
        vec!["validate"],
        vec!["init"],
        vec!["state", "list"],
    ] {
        let run = world.run_in(&repo, &args).await.expect_code(1);
        let err = run.stderr();
        assert!(
            err.contains("error: invalid project file: unknown field `state_file`")
                && err.contains("--> flowform.toml:2:1")
                && err.contains("help: did you mean `state`?"),
            "{args:?}: {err}"
        );
    }
    assert!(!Path::new(&repo.join("state")).exists());
}
