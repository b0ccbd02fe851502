//! Flags, help and exit codes.

use crate::common::flowform;
use crate::world::World;

#[test]
fn help_and_version_succeed_on_stdout() {
    let run = flowform(["--help"]).run().expect_code(0);
    assert!(run.stdout().contains("validate"), "{}", run.stdout());
    let run = flowform(["--version"]).run().expect_code(0);
    assert!(
        run.stdout()
            .starts_with(&format!("flowform {} (", env!("CARGO_PKG_VERSION"))),
        "{}",
        run.stdout()
    );
}

/// `flowform version` names the commit the binary was built from, as git says it.
#[test]
fn version_names_the_commit() {
    let run = flowform(["version"]).run().expect_code(0);
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::common::root())
        .output();
    let expected = match git {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        // Built outside a git checkout (a tarball): the commit is not known.
        _ => "unknown".to_owned(),
    };
    let line = run.stdout();
    let prefix = format!("flowform {} ({expected}", env!("CARGO_PKG_VERSION"));
    assert!(
        line.starts_with(&prefix),
        "{line:?} does not start with {prefix:?}"
    );
    assert!(line.ends_with(")\n") || line.ends_with("-dirty)\n"), "{line:?}");
    assert_eq!(flowform(["--version"]).run().stdout(), line);
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _flowform"),
        ("zsh", "#compdef flowform"),
        ("fish", "complete -c flowform"),
    ] {
        let run = flowform(["completions", shell]).run().expect_code(0);
        let script = run.stdout();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["plan", "apply", "drift", "auto-approve", "detailed-exitcode"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    // The bash script parses and registers itself.
    let run = flowform(["completions", "bash"]).run().expect_code(0);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("flowform.bash");
    std::fs::write(&script, run.stdout()).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p flowform", script.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("_flowform"));
    let run = flowform(["completions", "tcsh"]).run().expect_code(1);
    assert!(run.stderr().contains("possible values"), "{}", run.stderr());
}

/// Terraform's spellings (`-out=FILE`, `-auto-approve`, `-refresh=false`, `-lock-timeout=5m`,
/// `-detailed-exitcode`, `-target=KEY`) are taken as the double-dash options they mean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_single_dash_options_are_accepted() {
    let world = World::new().await;
    let run = world
        .run(&["plan", "-out=plan.out", "-detailed-exitcode", "-lock-timeout=5m"])
        .await
        .expect_code(2);
    assert!(run.stdout().contains("Plan: 3 to add"), "{}", run.stdout());
    assert!(world.dir.path().join("plan.out").exists());
    world.run(&["apply", "plan.out"]).await.expect_code(0);
    let run = world
        .run(&[
            "plan",
            "-refresh=false",
            "-target=acme-salesforce",
            "-detailed-exitcode",
        ])
        .await
        .expect_code(0);
    assert!(run.stdout().contains("AEP was not read"), "{}", run.stdout());
    world.edit(
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: ACME Salesforce (renamed)",
    );
    let run = world.run(&["apply", "-auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("1 changed"), "{}", run.stdout());
    // Real short flags still work, and so does `-C`.
    let run = world
        .run_bare(
            ["-C", "examples", "plan", "-c", ".", "-detailed-exitcode"]
                .map(str::to_owned)
                .to_vec(),
        )
        .await
        .expect_code(0);
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    // A single-dash word that is no option of the command is still refused, exit 1.
    let run = world.run(&["drift", "-auto-approve"]).await.expect_code(1);
    assert!(run.stderr().contains("unexpected argument"), "{}", run.stderr());
}

#[test]
fn bad_flags_exit_1_not_2() {
    // 2 is kept for "changes present" (`plan --detailed-exitcode`), so usage errors are 1.
    let run = flowform(["validate", "--no-such-flag"]).run().expect_code(1);
    assert!(run.stderr().contains("--no-such-flag"), "{}", run.stderr());
    assert_eq!(run.stdout(), "");
    flowform(["no-such-command"]).run().expect_code(1);
    flowform(Vec::<&str>::new()).run().expect_code(1);
}

/// Details fixed before (issue 14 asked to keep them so): a bad key for `state mv` is
/// refused, `state show` gives RFC 3339 times, `--format` lists its values, and a lock held
/// past a `--lock-timeout` given says to give a longer one rather than suggest `5m`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_usage_details_stay_fixed() {
    let world = World::managed().await;
    let run = world
        .run(&["state", "mv", "acme-salesforce", "bad key!"])
        .await
        .expect_code(1);
    assert!(
        run.stderr().contains("`bad key!` is not a valid connection key"),
        "{}",
        run.stderr()
    );
    let run = world
        .run(&["state", "show", "acme-salesforce"])
        .await
        .expect_code(0);
    let shown: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    for field in ["appliedAt", "createdAt", "updatedAt"] {
        let time = shown[field].as_str().unwrap();
        assert!(is_rfc3339_utc(time), "{field}: {time}");
    }
    let run = flowform(["plan", "--help"]).run().expect_code(0);
    assert!(
        run.stdout()
            .lines()
            .any(|l| l.contains("--format <FORMAT>") && l.contains("[possible values: text, markdown, json]")),
        "{}",
        run.stdout()
    );
    let state = world.state();
    let held = flowform::state::lock::Lock::acquire(
        &state,
        &state,
        &flowform::state::lock::Holder::me("flowform apply", &flowform::settings::Environment::default()),
        std::time::Duration::ZERO,
    )
    .unwrap();
    let run = world
        .run(&["state", "rm", "acme-salesforce", "--lock-timeout", "1s"])
        .await
        .expect_code(1);
    drop(held);
    let stderr = run.stderr();
    assert!(stderr.contains("pass a longer `--lock-timeout`"), "{stderr}");
    assert!(!stderr.contains("5m"), "{stderr}");
}

/// `2026-11-29T11:45:55Z`: RFC 3339 in UTC, to the second.
fn is_rfc3339_utc(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
