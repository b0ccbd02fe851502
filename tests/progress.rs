//! Progress while reading AEP: on a terminal, `drift` and `plan` show what they have read of
//! a large estate instead of seconds of silence; piped, or with `--format json`, nothing.

use flowform_emulator::ims::DEMO_ORG;
use serde_json::json;

use crate::world::World;

/// A world whose sandbox holds 3,000 connections flowform does not manage, read at 10 ms a
/// request: `drift` lists them all, 31 pages.
async fn large_estate() -> World {
    let world = World::new().await;
    world
        .admin(
            reqwest::Method::POST,
            "/seed",
            json!({"count": 3000, "org": DEMO_ORG}),
        )
        .await;
    world
        .admin(reqwest::Method::PUT, "/faults", json!({"latencyMs": 10}))
        .await;
    world
}

/// Runs the binary on a pseudo-terminal (util-linux `script`), and gives what the terminal
/// showed; `None` where `script` is not installed.
async fn on_a_terminal(world: &World, args: &str) -> Option<String> {
    let present = std::process::Command::new("script").arg("--version").output();
    if !present.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: util-linux `script` (for a pseudo-terminal) is not installed");
        return None;
    }
    let line = format!(
        "{} {args} --state {}",
        env!("CARGO_BIN_EXE_flowform"),
        world.state().display()
    );
    let mut command = std::process::Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .current_dir(world.dir.path())
        .env_remove("NO_COLOR");
    for (k, v) in world.env() {
        command.env(k, v);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_large_estate_shows_progress_on_a_terminal_only() {
    let world = large_estate().await;
    // Piped: the report, and no bar.
    let run = world.run(&["drift"]).await.expect_code(2);
    assert!(run.stdout().contains("3000 not managed"), "{}", run.stdout());
    assert!(!run.stderr().contains("Reading AEP"), "{}", run.stderr());
    let Some(screen) = on_a_terminal(&world, "drift").await else {
        return;
    };
    // Pages (and the count first) against what the refresh expects, then the bar is cleared
    // before the report.
    assert!(screen.contains("Reading AEP ["), "{screen}");
    // One count, then 30 pages of 100.
    assert!(screen.contains("/31 requests"), "{screen}");
    let report = screen.rfind("3000 not managed").unwrap();
    assert!(screen.rfind("Reading AEP").unwrap() < report, "{screen}");
    // A tool reading JSON has no one watching the terminal.
    let screen = on_a_terminal(&world, "drift --format json").await.unwrap();
    assert!(!screen.contains("Reading AEP"), "{screen}");
    assert!(screen.contains("\"unmanaged\""), "{screen}");
}
