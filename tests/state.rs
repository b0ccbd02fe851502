//! The state store through the binary: `state list | show | rm | mv`, the lock between
//! processes, and never a secret in the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flowform::config::{self, LoadOptions};
use flowform::settings::Environment;
use flowform::state::file;
use flowform::state::lock::{Holder, Lock};
use flowform::state::{Record, State};

use crate::common::{Flowform, root};

/// The binary, run outside any project (these tests name a state explicitly with
/// `--state`, which inside a project may only name the project's own).
fn flowform<I, S>(args: I) -> Flowform
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    crate::common::flowform(args).current_dir(&std::env::temp_dir())
}

/// A state for the examples, as if they had been applied.
fn applied_examples(dir: &Path) -> (PathBuf, State) {
    let loaded = config::load(
        &[root().join("examples")],
        &Environment::default(),
        &LoadOptions::default(),
    )
    .unwrap();
    let mut state = State::new();
    for (i, conn) in loaded.desired.resources.values().enumerate() {
        let id = format!("00000000-0000-4000-8000-00000000000{i}");
        let split = conn.split_params();
        let mut record = Record::new(conn.kind, &conn.key, &conn.sandbox, &id, conn.name())
            .with("description", conn.text("description").map(str::to_owned))
            .with("connectionSpec.id", conn.text("connectionSpec.id"))
            .with("connectionSpec.version", conn.text("connectionSpec.version"))
            .with("auth.specName", conn.text("auth.specName"))
            .with("auth.params", serde_json::Value::Object(split.plain));
        record.etag = Some("\"etag\"".into());
        record.secrets_digest = Some(state.secrets_digest(&split.secrets));
        record.secret_params = split.secret_names;
        record.state = Some("enabled".into());
        record.protect = conn.lifecycle.protect;
        record.applied_at = Some(1_700_000_000_000);
        state.resources.insert(conn.address(), record);
    }
    let path = dir.join("state.json");
    file::write(&path, &file::to_bytes(&state)).unwrap();
    (path, state)
}

fn example_secrets() -> Vec<String> {
    std::fs::read_dir(root().join("examples/secrets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none())
        .map(|p| std::fs::read_to_string(p).unwrap().trim().to_owned())
        .collect()
}

#[test]
fn no_secret_value_reaches_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let (path, state) = applied_examples(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    let secrets = example_secrets();
    assert!(secrets.len() >= 5);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "`{secret}` is in the state file");
    }
    let record = &state.resources["prod/acme-salesforce"];
    assert_eq!(
        record.secret_params.iter().collect::<Vec<_>>(),
        ["password", "securityToken"]
    );
    let digest = record.secrets_digest.as_ref().unwrap();
    assert!(digest.starts_with("pbkdf2-sha256:600:"), "{digest}");
    assert_eq!(digest.rsplit(':').next().unwrap().len(), 64);
    assert!(record.protect);
}

#[test]
fn list_and_show() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = applied_examples(dir.path());
    let state = path.to_str().unwrap();
    let run = flowform(["state", "list", "--state", state]).run().expect_code(0);
    let out = run.stdout();
    assert_eq!(out.lines().count(), 9, "{out}");
    assert!(
        out.contains("prod/acme-salesforce") && out.contains("protected"),
        "{out}"
    );
    let run = flowform(["state", "show", "acme-salesforce-jwt", "--state", state])
        .run()
        .expect_code(0);
    let shown: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(shown["address"], "prod/acme-salesforce-jwt");
    assert_eq!(
        shown["secretParams"],
        serde_json::json!(["clientSecret", "jwtToken"])
    );
    for secret in example_secrets() {
        assert!(!run.stdout().contains(&secret));
    }
    let run = flowform(["state", "show", "acme-salesforc", "--state", state])
        .run()
        .expect_code(1);
    assert!(
        run.stderr().contains("did you mean `acme-salesforce`?"),
        "{}",
        run.stderr()
    );
}

#[test]
fn rm_and_mv_change_only_the_state_and_keep_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (path, before) = applied_examples(dir.path());
    let state = path.to_str().unwrap();
    flowform(["state", "mv", "acme-salesforce", "acme-sf", "--state", state])
        .run()
        .expect_code(0);
    let after = file::read(&path).unwrap().unwrap().0;
    assert_eq!(
        after.resources["prod/acme-sf"].id,
        before.resources["prod/acme-salesforce"].id
    );
    assert_eq!(after.resources["prod/acme-sf"].key, "acme-sf");
    assert_eq!(after.serial, before.serial + 1);
    assert_eq!(after.lineage, before.lineage);
    let run = flowform(["state", "mv", "acme-sf", "dev/acme-sf", "--state", state])
        .run()
        .expect_code(1);
    assert!(
        run.stderr().contains("lives in sandbox `prod`"),
        "{}",
        run.stderr()
    );
    let run = flowform(["state", "mv", "acme-sf", "acme-salesforce-jwt", "--state", state])
        .run()
        .expect_code(1);
    assert!(run.stderr().contains("already has `prod/acme-salesforce-jwt`"));

    let run = flowform([
        "state",
        "rm",
        "acme-sf",
        "prod/acme-salesforce-jwt",
        "--state",
        state,
    ])
    .run()
    .expect_code(0);
    assert!(run.stderr().contains("the connection in AEP is untouched"));
    let after = file::read(&path).unwrap().unwrap().0;
    assert_eq!(
        after.resources.keys().collect::<Vec<_>>(),
        [
            "prod/acme-salesforce-oauth",
            "prod/flow:acme-accounts-flow",
            "prod/flow:acme-contacts-flow",
            "prod/mapping:acme-profile-mapping",
            "prod/source:acme-accounts",
            "prod/source:acme-contacts",
            "prod/target:acme-profiles"
        ]
    );
    assert!(!file::backups(&path).is_empty());
    flowform(["state", "rm", "nope", "--state", state])
        .run()
        .expect_code(1);
}

#[test]
fn a_second_process_is_refused_with_the_holders_details_or_waits() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = applied_examples(dir.path());
    let state = path.to_str().unwrap().to_owned();
    let env = Environment::from_pairs([("USER", "ci-robot")]);
    let held = Lock::acquire(
        &path,
        &path,
        &Holder::me("flowform apply -c prod/", &env),
        Duration::ZERO,
    )
    .unwrap();
    let run = flowform(["state", "rm", "acme-salesforce", "--state", &state])
        .run()
        .expect_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("is locked by `flowform apply -c prod/` (pid "),
        "{stderr}"
    );
    assert!(stderr.contains("ci-robot@"), "{stderr}");
    assert!(stderr.contains("--lock-timeout"), "{stderr}");
    // Reading needs no lock.
    flowform(["state", "list", "--lock=false", "--state", &state])
        .run()
        .expect_code(0);
    // With a timeout, the second process waits for the first to let go.
    let waiter = std::thread::spawn(move || {
        flowform([
            "state",
            "rm",
            "acme-salesforce",
            "--lock-timeout",
            "20s",
            "--state",
            &state,
        ])
        .run()
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(held);
    waiter.join().unwrap().expect_code(0);
}

#[test]
fn a_damaged_state_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = applied_examples(dir.path());
    file::write(&path, &std::fs::read(&path).unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let run = flowform([
        "state",
        "rm",
        "acme-salesforce",
        "--state",
        path.to_str().unwrap(),
    ])
    .run()
    .expect_code(1);
    assert!(
        run.stderr().contains("cannot be read: invalid JSON"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("state.json.backup.1"), "{}", run.stderr());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        &bytes[..bytes.len() / 2],
        "nothing was overwritten"
    );
}
