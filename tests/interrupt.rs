//! Ctrl-C during an apply: the first stops anything new from starting and lets what is in
//! flight finish and be recorded, then says what happened and what to run next; a second
//! exits at once. Either way the next run finds everything, and never duplicates.

use std::process::{Child, Command, Output};

use flowform_emulator::Options;
use flowform_emulator::faults::FaultSettings;
use serde_json::json;

use crate::world::World;

/// Sends SIGINT, as a terminal's Ctrl-C does.
fn ctrl_c(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// A create has been sent (its intent is in the journal).
fn create_sent(journal: &str) -> bool {
    journal.lines().any(|l| l.contains("\"kind\":\"intent\""))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_what_is_in_flight_finish_records_it_and_says_what_remains() {
    // Every answer takes a while, so the first create is still in flight at the Ctrl-C.
    let world = World::with(Options {
        faults: FaultSettings {
            latency_ms: 700,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    let child = world
        .start_until(&["apply", "--auto-approve", "--parallelism", "1"], create_sent)
        .await;
    ctrl_c(&child);
    let output = finish(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("Interrupt received: no new changes will be started"),
        "{stderr}"
    );
    // One at a time (`--parallelism 1`): whichever went first finished; the others never
    // started.
    let listed = |label: &str| -> Vec<String> {
        let line = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_default();
        line.trim_end_matches('.')
            .split(", ")
            .filter(|a| !a.is_empty())
            .map(|a| a.trim_matches('`').to_owned())
            .collect()
    };
    let finished = listed("In flight when interrupted, finished and recorded: ");
    let not_started = listed("Not started: ");
    assert_eq!((finished.len(), not_started.len()), (1, 2), "{stderr}");
    let mut all: Vec<String> = finished.iter().chain(&not_started).cloned().collect();
    all.sort();
    assert_eq!(
        all,
        [
            "prod/acme-salesforce",
            "prod/acme-salesforce-jwt",
            "prod/acme-salesforce-oauth"
        ]
    );
    assert!(
        stderr.contains("Run `flowform plan` to see what remains."),
        "{stderr}"
    );
    // What finished is in the state (folded: no journal left), and nothing else was sent.
    let state = world.recorded();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), [&finished[0]]);
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    assert!(!flowform::state::journal::path_for(&world.state()).exists());
    assert_eq!(world.stored().await.len(), 1);
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(
        run.stdout()
            .contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{}",
        run.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.converged(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_exits_at_once_and_the_next_run_resolves_what_was_in_flight() {
    let world = World::new().await;
    // The first create gets no answer, for longer than the grace after a Ctrl-C.
    world
        .admin(reqwest::Method::PUT, "/faults", json!({"hangMs": 600_000}))
        .await;
    world.script("POST", "hang").await;
    let child = world
        .start_until(&["apply", "--auto-approve", "--parallelism", "1"], create_sent)
        .await;
    ctrl_c(&child);
    // Wait for the first Ctrl-C to be taken before the second.
    let mut child = child;
    let stderr = child.stderr.take().unwrap();
    let said = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stderr);
        let mut seen = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            seen.push_str(&line);
            if line.contains("Interrupt received") {
                return (reader, seen);
            }
            line.clear();
        }
        panic!("no interrupt message: {seen}");
    })
    .await
    .unwrap();
    ctrl_c(&child);
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let (mut reader, mut seen) = said;
    std::io::Read::read_to_string(&mut reader, &mut seen).unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("Interrupted again: exiting now"), "{seen}");
    assert!(
        !seen.contains("no answer within"),
        "it did not wait out the grace: {seen}"
    );
    // The create it was waiting on stays begun, unresolved; the next run finds out by
    // listing (AEP made nothing) and creates each connection once.
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(
        run.stdout().contains("an interrupted apply began creating it"),
        "{}",
        run.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.converged(3).await;
}
