//! The reliability suite (issue 11): the promise — never a duplicate connection, never a
//! lost id, never a leaked secret — checked under kill -9, a storm of faults, a scan of
//! every output for secrets, and a corpus of damaged states. `RELIABILITY.md` gives the
//! commands and the figures of the long runs.
//!
//! Sizes are small by default so that CI stays fast; the long runs set them from the
//! environment:
//!
//! | variable | default | what |
//! |---|---|---|
//! | `FLOWFORM_RELIABILITY_SEED` | from the clock | the seed of every random choice (printed) |
//! | `FLOWFORM_RELIABILITY_ROUNDS` | 3 | kill -9 rounds |
//! | `FLOWFORM_RELIABILITY_SIZE` | 30 | connections per kill round |
//! | `FLOWFORM_RELIABILITY_STORM_SIZE` | 20 | connections in the fault storm |
//! | `FLOWFORM_RELIABILITY_HANG` | 0 | share of storm requests that hang past the client's timeout |
//! | `FLOWFORM_RELIABILITY_HANGS` | 1 | scripted storm POSTs that hang past the client's timeout |
//!
//! Each test prints one summary row (`cargo test … -- --nocapture`). Times are reported,
//! never asserted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::{Credential, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::rng::Rng;
use flowform_emulator::{Emulator, Options};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Run, flowform};
use crate::world::World;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A number from the environment, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`{name}` is not a whole number: `{text}`")),
        Err(_) => default,
    }
}

/// A share (0 to 1) from the environment, or `default`.
fn share(name: &str, default: f64) -> f64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("`{name}` is not a number: `{text}`")),
        Err(_) => default,
    }
}

/// The suite's seed: `FLOWFORM_RELIABILITY_SEED`, else the clock (printed either way, so a
/// failing run can be repeated).
fn seed() -> u64 {
    setting(
        "FLOWFORM_RELIABILITY_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(11, |d| d.as_micros() as u64 % 1_000_000),
    )
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs the binary in the world's project (found by walking up, no `--state`) with more
/// environment variables.
async fn here(world: &World, args: &[&str], vars: &[(&str, String)]) -> Run {
    let mut env = world.env();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let dir = world.dir.path().to_owned();
    env.retain(|(k, _)| !vars.iter().any(|(v, _)| v == k));
    tokio::task::spawn_blocking(move || {
        let mut command = flowform(&args).current_dir(&dir);
        for (k, v) in &env {
            command = command.env(k, v);
        }
        for (k, v) in &vars {
            command = command.env(k, v);
        }
        command.run()
    })
    .await
    .unwrap()
}

/// Starts the binary (in the world's project, naming its state) and kills it with SIGKILL
/// as soon as its journal satisfies `now`, polled every 10 ms. Returns the journal as it was
/// right after the kill, or `None` when the run finished first.
async fn kill_9_when(
    world: &World,
    args: &[&str],
    vars: &[(&str, String)],
    now: impl Fn(&str) -> bool,
) -> Option<String> {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowform"));
    command
        .args(args)
        .args(world.where_args())
        .env_clear()
        .current_dir(world.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in world.env() {
        command.env(k, v);
    }
    for (k, v) in vars {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let journal = flowform::state::journal::path_for(&world.state());
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if now(&text) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run made no progress in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    Some(std::fs::read_to_string(&journal).unwrap_or_default())
}

/// The intents of a journal that have no outcome, by action.
fn in_flight(journal: &str) -> BTreeMap<String, usize> {
    let mut open: BTreeMap<u64, String> = BTreeMap::new();
    for line in journal.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let seq = entry["seq"].as_u64().unwrap_or_default();
        match entry["kind"].as_str() {
            Some("intent") => {
                open.insert(seq, entry["pending"]["action"].as_str().unwrap_or("?").to_owned());
            }
            Some("outcome") => {
                open.remove(&seq);
            }
            _ => {}
        }
    }
    let mut by_action = BTreeMap::new();
    for action in open.into_values() {
        *by_action.entry(action).or_default() += 1;
    }
    by_action
}

/// Replaces the emulator's fault settings.
async fn set_faults(world: &World, faults: &FaultSettings) {
    let body = serde_json::to_value(faults).unwrap();
    let answer = world.admin(Method::PUT, "/faults", body).await;
    assert!(
        answer.is_object(),
        "the emulator took the fault settings: {answer}"
    );
}

// ---------------------------------------------------------------------------------------
// A fleet of connections, and what AEP must hold once an apply converged
// ---------------------------------------------------------------------------------------

/// What a connection does in a round: the thirds of the fleet are renamed, have a secret
/// rotated, or are removed; new ones are created between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Rename,
    Rotate,
    Remove,
    Create,
}

/// One declared connection of a fleet.
#[derive(Clone, Debug)]
struct Member {
    key: String,
    name: String,
    role: Role,
}

/// `n` connections (`c0000`, `c0001`, …) and `n / 3` new ones interleaved with them, so
/// that an apply's creates, updates and deletes go on side by side, in address order.
fn fleet(n: usize) -> Vec<Member> {
    let mut members = Vec::new();
    for j in 0..n {
        let slot = 4 * (j / 3) + j % 3;
        let role = [Role::Rename, Role::Rotate, Role::Remove][j % 3];
        members.push(Member {
            key: format!("c{slot:04}"),
            name: format!("Connection {slot:04}"),
            role,
        });
    }
    for t in 0..n.div_ceil(3) {
        let slot = 4 * t + 3;
        members.push(Member {
            key: format!("c{slot:04}"),
            name: format!("Connection {slot:04}"),
            role: Role::Create,
        });
    }
    members.sort_by(|a, b| a.key.cmp(&b.key));
    members
}

const STATIC_PASSWORD: &str = "static-password-0001";

/// The YAML of these members; `renamed`: the third to rename has its new name. The third
/// whose secret rotates reads its password from `secrets/pw-rotate`, the others from
/// `secrets/pw-static`.
fn fleet_yaml(members: &[&Member], renamed: bool) -> String {
    let mut yaml = "sandbox: prod\nconnections:\n".to_owned();
    for m in members {
        let name = if renamed && m.role == Role::Rename {
            format!("{} v2", m.name)
        } else {
            m.name.clone()
        };
        let password = if m.role == Role::Rotate {
            "pw-rotate"
        } else {
            "pw-static"
        };
        yaml.push_str(&format!(
            "  {}:\n    name: {name}\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        username: {}\n        password: ${{file:secrets/{password}}}\n        securityToken: ${{file:secrets/acme-security-token}}\n",
            m.key, m.key
        ));
    }
    yaml
}

/// A world whose configuration is the fleet's first `n` connections, not yet applied.
async fn fleet_world(n: usize, seed: u64, faults: FaultSettings) -> (World, Vec<Member>) {
    let world = World::with(Options {
        seed: Some(seed),
        faults,
        ..Options::default()
    })
    .await;
    for file in [
        "salesforce-basic.yaml",
        "salesforce-oauth2.yaml",
        "salesforce-jwt.yaml",
    ] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    let members = fleet(n);
    let initial: Vec<&Member> = members.iter().filter(|m| m.role != Role::Create).collect();
    world.write("secrets/pw-static", STATIC_PASSWORD);
    world.write("secrets/pw-rotate", "rotate-password-0001");
    world.write("fleet.yaml", &fleet_yaml(&initial, false));
    (world, members)
}

/// Changes the configuration for a round: renames a third, rotates the secret of a third,
/// removes a third, and declares the new ones. Returns what AEP must then hold.
fn mutate(world: &World, members: &[Member], round: u64) -> Expected {
    let rotated = format!("rotated-password-{round:04}");
    world.write("secrets/pw-rotate", &rotated);
    let declared: Vec<&Member> = members.iter().filter(|m| m.role != Role::Remove).collect();
    world.write("fleet.yaml", &fleet_yaml(&declared, true));
    let mut expected = Expected::default();
    for m in members {
        let name = if m.role == Role::Rename {
            format!("{} v2", m.name)
        } else {
            m.name.clone()
        };
        let password = if m.role == Role::Rotate {
            rotated.clone()
        } else {
            STATIC_PASSWORD.to_owned()
        };
        if m.role == Role::Remove {
            expected.removed.insert(m.name.clone());
        } else {
            expected.declared.insert(m.key.clone(), (name, password));
        }
    }
    expected
}

/// What AEP and the state must hold: each declared key's name and password; the names that
/// were removed.
#[derive(Default)]
struct Expected {
    declared: BTreeMap<String, (String, String)>,
    removed: BTreeSet<String>,
}

impl Expected {
    /// Every member as first declared (before a round's changes).
    fn initial(members: &[Member], roles: &[Role], rotate_password: &str) -> Expected {
        let mut expected = Expected::default();
        for m in members.iter().filter(|m| roles.contains(&m.role)) {
            let password = if m.role == Role::Rotate {
                rotate_password
            } else {
                STATIC_PASSWORD
            };
            expected
                .declared
                .insert(m.key.clone(), (m.name.clone(), password.to_owned()));
        }
        expected
    }
}

/// What an audit found; every figure must be 0.
#[derive(Debug, Default, Clone)]
struct Audit {
    /// Connections beyond the first of each (sandbox, spec, name).
    duplicates: usize,
    /// Declared connections the state does not record, or records by an id AEP lacks.
    lost: usize,
    /// Connections in AEP that no state record owns, or that were meant to be deleted.
    orphans: usize,
    /// A recorded connection whose name or secret in AEP is not the declared one; a record
    /// of nothing declared; a mutation still pending; a journal left unfolded.
    mismatches: usize,
    details: Vec<String>,
}

impl Audit {
    fn is_clean(&self) -> bool {
        self.duplicates + self.lost + self.orphans + self.mismatches == 0
    }

    fn add(&mut self, other: &Audit) {
        self.duplicates += other.duplicates;
        self.lost += other.lost;
        self.orphans += other.orphans;
        self.mismatches += other.mismatches;
        self.details.extend(other.details.iter().cloned());
    }
}

/// Compares the emulator's stored connections with the state and the configuration.
async fn audit(world: &World, expected: &Expected) -> Audit {
    let mut audit = Audit::default();
    let stored = world.stored().await;
    let mut by_name: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let mut by_id: BTreeMap<String, &Value> = BTreeMap::new();
    for c in &stored {
        let item = &c["item"];
        let id = item["id"].as_str().unwrap().to_owned();
        by_name
            .entry((
                c["sandbox"].as_str().unwrap_or_default().to_owned(),
                item["connectionSpec"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                item["name"].as_str().unwrap_or_default().to_owned(),
            ))
            .or_default()
            .push(id.clone());
        by_id.insert(id, c);
    }
    for ((_, _, name), ids) in &by_name {
        if ids.len() > 1 {
            audit.duplicates += ids.len() - 1;
            audit.details.push(format!("duplicate: `{name}` is {ids:?}"));
        }
    }
    let state = flowform::state::file::read(&world.state())
        .ok()
        .flatten()
        .map(|(s, _)| s);
    let Some(state) = state else {
        audit.lost += expected.declared.len();
        audit.details.push("the state cannot be read".to_owned());
        return audit;
    };
    let owned: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
    for (key, (name, password)) in &expected.declared {
        let Some(record) = state.resources.get(&format!("prod/{key}")) else {
            audit.lost += 1;
            audit.details.push(format!("lost: `{key}` is not in the state"));
            continue;
        };
        let Some(live) = by_id.get(&record.id) else {
            audit.lost += 1;
            audit.details.push(format!(
                "lost: `{key}` is recorded as {}, which AEP lacks",
                record.id
            ));
            continue;
        };
        if live["item"]["name"] != name.as_str() {
            audit.mismatches += 1;
            audit.details.push(format!(
                "mismatch: `{key}` is named {} in AEP, declared `{name}`",
                live["item"]["name"]
            ));
        }
        if live["secretDigests"]["password"] != sha256_hex(password).as_str() {
            audit.mismatches += 1;
            audit.details.push(format!(
                "mismatch: `{key}` does not have the declared password in AEP"
            ));
        }
    }
    for (address, record) in &state.resources {
        if !expected.declared.contains_key(&record.key) {
            audit.mismatches += 1;
            audit.details.push(format!(
                "mismatch: the state still records `{address}` ({})",
                record.id
            ));
        }
    }
    // What a team commits is the state file: a journal left beside it holds what the file
    // lacks (it is folded in at the end of every run).
    if flowform::state::journal::path_for(&world.state()).exists() {
        audit.mismatches += 1;
        audit
            .details
            .push("mismatch: a journal is left beside the state file, not folded in".to_owned());
    }
    for pending in &state.pending {
        audit.mismatches += 1;
        audit.details.push(format!(
            "mismatch: a {:?} of `{}` is still pending",
            pending.action, pending.address
        ));
    }
    for c in &stored {
        let id = c["item"]["id"].as_str().unwrap();
        let name = c["item"]["name"].as_str().unwrap_or_default();
        if !owned.contains(id) {
            audit.orphans += 1;
            audit
                .details
                .push(format!("orphan: `{name}` ({id}) is owned by no record"));
        } else if expected.removed.contains(name) {
            audit.orphans += 1;
            audit
                .details
                .push(format!("orphan: `{name}` ({id}) was meant to be deleted"));
        }
    }
    audit
}

/// Reruns `apply --auto-approve` until `plan --detailed-exitcode` exits 0, at most `max`
/// times. Returns how many applies it took (`None`: it never converged) and what the
/// failing runs said.
async fn converge(world: &World, max: usize) -> (Option<usize>, Vec<String>) {
    let mut said = Vec::new();
    for attempt in 1..=max {
        let run = world.run(&["apply", "--auto-approve"]).await;
        if run.code() != Some(0) {
            said.push(format!(
                "apply {attempt} exited {:?}:\n{}\n{}",
                run.code(),
                run.stdout(),
                run.stderr()
            ));
        }
        let plan = world.run(&["plan", "--detailed-exitcode"]).await;
        if plan.code() == Some(0) {
            return (Some(attempt), said);
        }
        said.push(format!(
            "plan after apply {attempt} exited {:?}:\n{}\n{}",
            plan.code(),
            plan.stdout(),
            plan.stderr()
        ));
    }
    (None, said)
}

// ---------------------------------------------------------------------------------------
// 1. kill -9 rounds
// ---------------------------------------------------------------------------------------

const KINDS: [&str; 3] = ["create", "update", "delete"];

/// Whether the journal shows the first intent of `kind` and `extra` lines after it.
fn after_first(journal: &str, kind: &str, extra: usize) -> bool {
    let action = format!("\"action\":\"{kind}\"");
    let lines: Vec<&str> = journal
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    lines
        .iter()
        .position(|l| l.contains("\"kind\":\"intent\"") && l.contains(&action))
        .is_some_and(|first| lines.len() > first + extra)
}

#[derive(Debug)]
struct Round {
    kind: &'static str,
    extra: usize,
    /// The intents without an outcome when the kill landed, by action (`None`: the run
    /// finished before the kill).
    killed: Option<BTreeMap<String, usize>>,
    reruns: Option<usize>,
    audit: Audit,
    said: Vec<String>,
}

/// One round: apply `size` connections, change the configuration, start the apply that
/// carries the change out and kill it after the first intent of `kind` plus `extra` journal
/// lines, then rerun until converged and audit.
async fn kill_round(size: usize, seed: u64, round: u64, kind: &'static str, rng: &mut Rng) -> Round {
    let (world, members) = fleet_world(size, seed, FaultSettings::default()).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let before = audit(
        &world,
        &Expected::initial(
            &members,
            &[Role::Rename, Role::Rotate, Role::Remove],
            "rotate-password-0001",
        ),
    )
    .await;
    assert!(before.is_clean(), "the set-up converged: {:?}", before.details);
    let expected = mutate(&world, &members, round);
    let mutations = members.len();
    // Anywhere from the first such intent to near the end of the apply's mutations (each
    // takes an intent and an outcome line).
    let extra = rng.below((2 * mutations - 4) as u64) as usize;
    set_faults(
        &world,
        &FaultSettings {
            latency_ms: 30,
            jitter_ms: 40,
            ..FaultSettings::default()
        },
    )
    .await;
    let journal = kill_9_when(
        &world,
        &["apply", "--auto-approve", "--parallelism", "4"],
        &[],
        |j| after_first(j, kind, extra),
    )
    .await;
    set_faults(&world, &FaultSettings::default()).await;
    let (reruns, said) = converge(&world, 3).await;
    let audit = audit(&world, &expected).await;
    Round {
        kind,
        extra,
        killed: journal.as_deref().map(in_flight),
        reruns,
        audit,
        said,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_of_creates_updates_and_deletes_loses_and_duplicates_nothing() {
    let seed = seed();
    let rounds = setting("FLOWFORM_RELIABILITY_ROUNDS", 3);
    let size = setting("FLOWFORM_RELIABILITY_SIZE", 30) as usize;
    assert!(size >= 6, "FLOWFORM_RELIABILITY_SIZE is at least 6");
    eprintln!("kill -9 rounds: seed {seed}, {rounds} rounds of {size} connections");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let mut total = Audit::default();
    let mut kills: BTreeMap<&str, usize> = BTreeMap::new();
    let mut landed: BTreeMap<String, usize> = BTreeMap::new();
    let (mut finished_first, mut non_converged, mut reruns, mut max_reruns) = (0, 0, 0, 0);
    let mut failed_reruns = 0;
    let mut failures = Vec::new();
    for round in 0..rounds {
        let kind = KINDS[(round % 3) as usize];
        let round_seed = seed.wrapping_add(round);
        let result = kill_round(size, round_seed, round, kind, &mut rng).await;
        match &result.killed {
            Some(flight) => {
                *kills.entry(kind).or_default() += 1;
                for (action, n) in flight {
                    *landed.entry(action.clone()).or_default() += n;
                }
            }
            None => finished_first += 1,
        }
        failed_reruns += result.said.iter().filter(|s| s.starts_with("apply ")).count();
        match result.reruns {
            Some(n) => {
                reruns += n;
                max_reruns = max_reruns.max(n);
            }
            None => non_converged += 1,
        }
        eprintln!(
            "  round {round} (seed {round_seed}): kill after the first {} + {} lines; in flight {:?}; reruns {:?}; {}",
            result.kind,
            result.extra,
            result.killed,
            result.reruns,
            if result.audit.is_clean() {
                "clean"
            } else {
                "NOT CLEAN"
            }
        );
        if !result.audit.is_clean() || result.reruns.is_none() {
            failures.push(format!(
                "round {round} (seed {round_seed}, kill after the first {kind} intent + {} lines): {:#?}\n{}",
                result.extra,
                result.audit.details,
                result.said.join("\n")
            ));
        }
        total.add(&result.audit);
    }
    let elapsed = started.elapsed();
    println!(
        "| kill -9 | seed {seed} | {rounds} rounds × {size} | kills create/update/delete {}/{}/{} (finished first {finished_first}) | in flight at the kill {landed:?} | duplicates {} | lost ids {} | orphans {} | mismatches {} | non-converged {non_converged} | reruns {reruns} (max {max_reruns}; {failed_reruns} exited 1) | {:.1} s |",
        kills.get("create").unwrap_or(&0),
        kills.get("update").unwrap_or(&0),
        kills.get("delete").unwrap_or(&0),
        total.duplicates,
        total.lost,
        total.orphans,
        total.mismatches,
        elapsed.as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {} round(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        (total.duplicates, total.lost, total.orphans, non_converged),
        (0, 0, 0, 0)
    );
}

// ---------------------------------------------------------------------------------------
// 2. A fault storm
// ---------------------------------------------------------------------------------------

/// 429 on 30 % of requests, 5xx on 10 % (500 and 503), 10 % of writes carried out then
/// answered 500, 10 % carried out then dropped, and `hang` of requests answered only after
/// the client's 30 s per-request timeout. Shares are drawn one after the other (a request
/// that escapes the 429 may still draw a 5xx), so the figures report what was served.
fn storm(hang: f64) -> FaultSettings {
    FaultSettings {
        latency_ms: 2,
        jitter_ms: 8,
        rate_limit: 0.3,
        retry_after_s: 0,
        server_error: 0.05,
        unavailable: 0.05,
        commit_then_fail: 0.1,
        commit_then_drop: 0.1,
        hang,
        hang_ms: 31_000,
        ..FaultSettings::default()
    }
}

/// Requests the emulator served on the Flow Service routes: in all, and by status.
async fn served_by_status(world: &World) -> (u64, BTreeMap<u64, u64>) {
    let stats = world.admin(Method::GET, "/stats", Value::Null).await;
    let mut total = 0;
    let mut by_status = BTreeMap::new();
    for row in stats["requests"].as_array().unwrap() {
        if !row["route"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/data/foundation/flowservice")
        {
            continue;
        }
        let count = row["count"].as_u64().unwrap();
        total += count;
        *by_status.entry(row["status"].as_u64().unwrap()).or_default() += count;
    }
    (total, by_status)
}

/// How a phase of the storm went.
#[derive(Debug, Default)]
struct Phase {
    /// Applies until one found nothing to do (`None`: never, within the bound).
    applies: Option<usize>,
    /// Applies that exited 1 on the way.
    failed: usize,
    /// Creates whose request timed out (a hang), resolved by listing.
    timeouts: usize,
    said: Vec<String>,
}

/// Applies until an apply finds nothing to do, at most `max` times.
async fn apply_until_no_changes(world: &World, max: usize) -> Phase {
    let mut phase = Phase::default();
    for attempt in 1..=max {
        let run = world.run(&["apply", "--auto-approve"]).await;
        phase.timeouts += run
            .stderr()
            .matches("outcome is unknown (no complete answer within")
            .count();
        if run.code() == Some(0) && run.stdout().starts_with("No changes.") {
            phase.applies = Some(attempt);
            return phase;
        }
        if run.code() != Some(0) {
            phase.failed += 1;
            let stderr = run.stderr();
            let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
            phase.said.push(format!(
                "apply {attempt} exited {:?}: …{}",
                run.code(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
    }
    phase
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_storm_converges_by_rerunning_apply_without_a_duplicate() {
    let seed = seed();
    let size = setting("FLOWFORM_RELIABILITY_STORM_SIZE", 20) as usize;
    let hang = share("FLOWFORM_RELIABILITY_HANG", 0.0);
    let hangs = setting("FLOWFORM_RELIABILITY_HANGS", 1);
    assert!(size >= 6, "FLOWFORM_RELIABILITY_STORM_SIZE is at least 6");
    eprintln!("fault storm: seed {seed}, {size} connections, hang share {hang}, {hangs} scripted hang(s)");
    let started = Instant::now();
    let (world, members) = fleet_world(size, seed, storm(hang)).await;
    // Hangs past the client's timeout, aimed at creates: the outcome is unknown, and AEP
    // made nothing.
    for _ in 0..hangs {
        world.script("POST", "hang").await;
    }
    let max = 25;
    // Phase one: every connection created.
    let created = apply_until_no_changes(&world, max).await;
    let first = Expected::initial(
        &members,
        &[Role::Rename, Role::Rotate, Role::Remove],
        "rotate-password-0001",
    );
    let audit_a = audit(&world, &first).await;
    // Phase two: a third renamed, a third rotated, a third removed, new ones created.
    let expected = mutate(&world, &members, 1);
    let changed = apply_until_no_changes(&world, max).await;
    let (requests, by_status) = served_by_status(&world).await;
    set_faults(&world, &FaultSettings::default()).await;
    let plan = world.run(&["plan", "--detailed-exitcode"]).await;
    let audit_b = audit(&world, &expected).await;
    let elapsed = started.elapsed();
    let count = |status: u64| by_status.get(&status).copied().unwrap_or(0);
    let applies = |p: &Phase| p.applies.map_or("never".to_owned(), |n| n.to_string());
    println!(
        "| fault storm | seed {seed} | {size} connections, then {} changes | applies to converge {} + {} ({} exited 1) | requests {requests} (429: {}, 500: {}, 503: {}; creates timed out: {}) | duplicates {} | lost ids {} | orphans {} | mismatches {} | {:.1} s |",
        members.len(),
        applies(&created),
        applies(&changed),
        created.failed + changed.failed,
        count(429),
        count(500),
        count(503),
        created.timeouts + changed.timeouts,
        audit_a.duplicates + audit_b.duplicates,
        audit_a.lost + audit_b.lost,
        audit_a.orphans + audit_b.orphans,
        audit_a.mismatches + audit_b.mismatches,
        elapsed.as_secs_f64()
    );
    let said = [created.said, changed.said].concat().join("\n");
    if !said.is_empty() {
        eprintln!("the storm's failed applies said:\n{said}");
    }
    assert!(
        audit_a.is_clean() && audit_b.is_clean(),
        "seed {seed}: {:#?}\n{:#?}\n{said}",
        audit_a.details,
        audit_b.details
    );
    assert!(
        created.applies.is_some() && changed.applies.is_some(),
        "seed {seed}: the storm did not converge in {max} applies\n{said}"
    );
    assert_eq!(
        plan.code(),
        Some(0),
        "seed {seed}: once the storm is over, nothing is left to do\n{}\n{}",
        plan.stdout(),
        plan.stderr()
    );
    assert!(count(429) > 0 && count(500) > 0, "the storm blew: {by_status:?}");
    assert!(
        created.timeouts + changed.timeouts >= hangs as usize,
        "every scripted hang timed a create out"
    );
}

// ---------------------------------------------------------------------------------------
// 3. A secrets scan
// ---------------------------------------------------------------------------------------

/// Base64, standard (`+/`) or URL-safe (`-_`), with padding.
fn base64(bytes: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The texts that betray `secret`: itself, and its base64 (standard and URL-safe) wherever it
/// starts in a longer encoded text (`Basic …`, a JSON body, a token): for each of the three
/// alignments, the characters that depend on the secret's bytes alone.
fn betrayals(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    for url_safe in [false, true] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend(secret.as_bytes());
            let encoded = base64(&bytes, url_safe);
            let start = if offset == 0 { 0 } else { 4 };
            let end = if bytes.len() % 3 == 0 {
                encoded.len()
            } else {
                encoded.len() - 4
            };
            if end >= start + 8 {
                forms.push(encoded[start..end].to_owned());
            }
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

/// The secrets of the scan, by name.
struct Secrets {
    named: Vec<(String, Vec<String>)>,
}

impl Secrets {
    fn new() -> Secrets {
        Secrets { named: Vec::new() }
    }

    fn add(&mut self, name: &str, value: &str) {
        assert!(value.len() >= 8, "`{name}` is too short to scan for");
        if !self.named.iter().any(|(n, _)| n == name) {
            self.named.push((name.to_owned(), betrayals(value)));
        }
    }

    /// The secrets (by name) that `text` gives away.
    fn found_in(&self, text: &str) -> Vec<String> {
        self.named
            .iter()
            .filter(|(_, forms)| forms.iter().any(|f| text.contains(f.as_str())))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Every file under `dir` but the configuration's own secrets, with its bytes as text.
fn files_under(dir: &Path, skip: &Path, into: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            files_under(&path, skip, into);
        } else if let Ok(bytes) = std::fs::read(&path) {
            into.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
}

/// An IMS in front of the emulator's that keeps every access token it hands out, so the
/// scan can look for the very tokens flowform used.
struct ImsProxy {
    base_url: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

type Forward = Arc<(String, Arc<Mutex<Vec<String>>>)>;

async fn forward_token_request(
    axum::extract::State(to): axum::extract::State<Forward>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut request = crate::common::http()
        .post(format!("{}/ims/token/v3{query}", to.0))
        .body(body.to_vec());
    if let Some(kind) = headers.get(reqwest::header::CONTENT_TYPE) {
        request = request.header(reqwest::header::CONTENT_TYPE, kind.clone());
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let bytes = answer.bytes().await.unwrap().to_vec();
    if let Ok(value) = serde_json::from_slice::<Value>(&bytes)
        && let Some(token) = value["access_token"].as_str()
    {
        to.1.lock().unwrap().push(token.to_owned());
    }
    (
        status,
        [(reqwest::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

async fn ims_proxy(emulator: &Emulator) -> ImsProxy {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let to: Forward = Arc::new((emulator.base_url(), tokens.clone()));
    let app = axum::Router::new()
        .route("/ims/token/v3", axum::routing::post(forward_token_request))
        .with_state(to);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    ImsProxy { base_url, tokens }
}

const SCAN_YAML: &str = r#"sandbox: prod
connections:
  scan-env:
    name: Scan env
    source: salesforce
    auth:
      specName: Basic Authentication
      params:
        username: scan
        password: ${env:FLOWFORM_SCAN_PASSWORD}
        securityToken: ${file:secrets/scan-token}
  scan-oauth:
    name: Scan OAuth
    source: salesforce
    auth:
      specName: OAuth2 Client Credential
      params:
        environmentUrl: https://scan.my.salesforce.com
        clientId: scan-client
        clientSecret: ${env:FLOWFORM_SCAN_CLIENT_SECRET}
        apiVersion: "60.0"
  scan-import:
    name: Scan seeded 000000
    source: salesforce
    auth:
      specName: Basic Authentication
      params:
        username: imported
        password: ${env:FLOWFORM_SCAN_PASSWORD}
        securityToken: ${file:secrets/scan-token}
"#;

/// What the scan ran and found.
#[derive(Default)]
struct Scanned {
    commands: usize,
    bytes: usize,
    files: BTreeSet<PathBuf>,
    leaks: Vec<String>,
    /// Every stdout and stderr, to check the logs said something.
    outputs: String,
}

impl Scanned {
    /// Scans a command's output and every file the project holds now.
    fn check(&mut self, world: &World, secrets: &Secrets, label: &str, run: &Run) {
        self.commands += 1;
        for (stream, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
            self.bytes += text.len();
            for name in secrets.found_in(&text) {
                self.leaks
                    .push(format!("`{label}`: its {stream} gives away {name}"));
            }
            self.outputs.push_str(&text);
        }
        self.check_files(world, secrets, label);
    }

    fn check_files(&mut self, world: &World, secrets: &Secrets, label: &str) {
        let mut files = Vec::new();
        files_under(world.dir.path(), &world.config().join("secrets"), &mut files);
        for (path, text) in files {
            self.bytes += text.len();
            for name in secrets.found_in(&text) {
                self.leaks
                    .push(format!("after `{label}`: `{}` gives away {name}", path.display()));
            }
            self.files.insert(path);
        }
    }
}

const SCAN_PASSWORD: &str = "scan-env-password-7f3a9c1e";
const SCAN_PASSWORD_ROTATED: &str = "scan-env-password-rotated-4b8d2e60";
const SCAN_OAUTH_SECRET: &str = "scan-env-oauth-secret-91c4d7aa";
const SCAN_FILE_TOKEN: &str = "scan-file-security-token-2d5e8f13";
const SCAN_FILE_TOKEN_ROTATED: &str = "scan-file-security-token-rotated-8c1f";
const SCAN_CLIENT_SECRET: &str = "scan-aep-client-secret-6a1f0b37";
const SCAN_WRONG_CLIENT_SECRET: &str = "scan-wrong-client-secret-0e9d3c58";
const SCAN_DIGEST_KEY: &str = "scan-digest-key-3c7e1a9f5b2d8e4c6a0f1b3d5e7c9a2b";

#[test]
fn the_scan_finds_a_secret_in_any_of_its_forms() {
    let mut secrets = Secrets::new();
    secrets.add("the password", SCAN_PASSWORD);
    let s = SCAN_PASSWORD.as_bytes();
    for prefix in ["", "a", "ab", "Basic "] {
        for url_safe in [false, true] {
            let mut bytes = prefix.as_bytes().to_vec();
            bytes.extend(s);
            bytes.extend(b"\"}");
            let text = format!("log: {}", base64(&bytes, url_safe));
            assert_eq!(secrets.found_in(&text), ["the password"], "{prefix:?} {text}");
        }
    }
    assert_eq!(secrets.found_in(&format!("x{SCAN_PASSWORD}y")).len(), 1);
    assert!(secrets.found_in("scan-env-password-7f3a9c1").is_empty());
    assert_eq!(base64(b"Man", false), "TWFu");
    assert_eq!(base64(b"Ma", false), "TWE=");
    assert_eq!(base64(&[0xfb, 0xff], true), "-_8=");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_at_any_verbosity_gives_away_a_secret_in_its_output_or_its_files() {
    let started = Instant::now();
    let world = World::with(Options {
        credentials: vec![Credential {
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: SCAN_CLIENT_SECRET.to_owned(),
            org: Some(DEMO_ORG.to_owned()),
        }],
        faults: FaultSettings {
            rate_limit: 0.2,
            retry_after_s: 0,
            server_error: 0.05,
            unavailable: 0.05,
            commit_then_fail: 0.1,
            commit_then_drop: 0.1,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    let proxy = ims_proxy(&world.emulator).await;
    world.write("scan.yaml", SCAN_YAML);
    world.write("secrets/scan-token", SCAN_FILE_TOKEN);
    let mut secrets = Secrets::new();
    for (name, value) in [
        ("the ${env:} password", SCAN_PASSWORD),
        ("the rotated ${env:} password", SCAN_PASSWORD_ROTATED),
        ("the ${env:} OAuth client secret", SCAN_OAUTH_SECRET),
        ("the ${file:} security token", SCAN_FILE_TOKEN),
        ("the rotated ${file:} security token", SCAN_FILE_TOKEN_ROTATED),
        ("AEP_CLIENT_SECRET", SCAN_CLIENT_SECRET),
        ("a wrong AEP_CLIENT_SECRET", SCAN_WRONG_CLIENT_SECRET),
        ("FLOWFORM_DIGEST_KEY", SCAN_DIGEST_KEY),
        ("the emulator's demo client secret", DEMO_CLIENT_SECRET),
        ("an emulator access token", "eyJemulator."),
    ] {
        secrets.add(name, value);
    }
    for entry in std::fs::read_dir(world.config().join("secrets")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none() {
            let value = std::fs::read_to_string(&path).unwrap().trim().to_owned();
            secrets.add(&format!("`{}`", path.display()), &value);
        }
    }
    let base = |password: &str| -> Vec<(&'static str, String)> {
        vec![
            ("AEP_IMS_URL", proxy.base_url.clone()),
            ("AEP_CLIENT_SECRET", SCAN_CLIENT_SECRET.to_owned()),
            ("FLOWFORM_DIGEST_KEY", SCAN_DIGEST_KEY.to_owned()),
            ("FLOWFORM_SCAN_PASSWORD", password.to_owned()),
            ("FLOWFORM_SCAN_CLIENT_SECRET", SCAN_OAUTH_SECRET.to_owned()),
        ]
    };
    let vars = base(SCAN_PASSWORD);
    let mut scanned = Scanned::default();
    let mut codes: Vec<(String, Option<i32>)> = Vec::new();
    macro_rules! scan {
        ($args:expr, $vars:expr) => {{
            let mut args: Vec<&str> = $args.to_vec();
            args.push("-vvv");
            let run = here(&world, &args, $vars).await;
            let label = args.join(" ");
            scanned.check(&world, &secrets, &label, &run);
            codes.push((label, run.code()));
            run
        }};
    }

    scan!(["init"], &vars).expect_code(0);
    scan!(["validate"], &vars).expect_code(0);
    scan!(["validate", "--live"], &vars).expect_code(0);
    scan!(["validate", "--live", "--emulator"], &vars).expect_code(0);
    let seeded = world
        .admin(
            Method::POST,
            "/seed",
            json!({"count": 1, "namePrefix": "Scan seeded"}),
        )
        .await;
    assert_eq!(seeded["created"], 1);
    let seeded_id = world
        .stored()
        .await
        .iter()
        .find(|c| c["item"]["name"] == "Scan seeded 000000")
        .map(|c| c["item"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    scan!(["import", "scan-import", &seeded_id], &vars);
    scan!(["plan"], &vars);
    scan!(["plan", "--format", "markdown"], &vars);
    scan!(["plan", "--format", "json"], &vars);
    scan!(["plan", "--detailed-exitcode"], &vars);
    scan!(["plan", "--out", "plan.out"], &vars);
    assert!(world.dir.path().join("plan.out").exists(), "{codes:?}");
    scan!(["show", "plan.out"], &vars).expect_code(0);
    scan!(["show", "plan.out", "--format", "markdown"], &vars).expect_code(0);
    scan!(["show", "plan.out", "--format", "json"], &vars).expect_code(0);
    scan!(["apply", "plan.out"], &vars);
    let mut converged = false;
    for _ in 0..6 {
        let run = scan!(["apply", "--auto-approve"], &vars);
        if run.code() == Some(0) && run.stdout().starts_with("No changes.") {
            converged = true;
            break;
        }
    }
    assert!(converged, "the scan's applies converged: {codes:?}");

    // Secrets rotated, and an apply killed mid-way: its journal is scanned too.
    let rotated = base(SCAN_PASSWORD_ROTATED);
    world.write("secrets/scan-token", SCAN_FILE_TOKEN_ROTATED);
    for (file, from, to) in [
        (
            "salesforce-basic.yaml",
            "name: ACME Salesforce account",
            "name: ACME basic",
        ),
        (
            "salesforce-jwt.yaml",
            "name: ACME Salesforce (JWT)",
            "name: ACME JWT",
        ),
        (
            "salesforce-oauth2.yaml",
            "name: ACME Salesforce (OAuth 2)",
            "name: ACME OAuth",
        ),
    ] {
        world.edit(file, from, to);
    }
    scan!(["plan"], &rotated);
    let slow = world.admin(Method::GET, "/faults", Value::Null).await;
    let mut slower = slow.clone();
    slower["latencyMs"] = json!(150);
    world.admin(Method::PUT, "/faults", slower).await;
    let journal = kill_9_when(
        &world,
        &["apply", "--auto-approve", "--parallelism", "2", "-vvv"],
        &rotated,
        |j| j.contains("\"kind\":\"outcome\""),
    )
    .await;
    scanned.check_files(&world, &secrets, "apply killed mid-way");
    world.admin(Method::PUT, "/faults", slow).await;
    scan!(["state", "list"], &rotated).expect_code(0);
    for _ in 0..6 {
        let run = scan!(["apply", "--auto-approve"], &rotated);
        if run.code() == Some(0) && run.stdout().starts_with("No changes.") {
            break;
        }
    }
    scan!(["drift"], &rotated);
    scan!(["drift", "--format", "json"], &rotated);
    scan!(["drift", "--format", "markdown"], &rotated);
    scan!(["state", "list"], &rotated).expect_code(0);
    scan!(["state", "show", "scan-env"], &rotated).expect_code(0);
    scan!(["state", "show", "scan-oauth"], &rotated).expect_code(0);
    scan!(["state", "mv", "scan-env", "scan-env-moved"], &rotated).expect_code(0);
    scan!(["state", "mv", "scan-env-moved", "scan-env"], &rotated).expect_code(0);
    let oauth_id = world.id_of("scan-oauth").await;
    scan!(["state", "rm", "scan-oauth"], &rotated).expect_code(0);
    scan!(["import", "scan-oauth", &oauth_id], &rotated);
    scan!(["plan", "--emulator"], &rotated);
    scan!(["apply", "--emulator", "--auto-approve"], &rotated);
    // Failures say what went wrong, never with what.
    let mut wrong = rotated.clone();
    wrong.retain(|(k, _)| *k != "AEP_CLIENT_SECRET");
    wrong.push(("AEP_CLIENT_SECRET", SCAN_WRONG_CLIENT_SECRET.to_owned()));
    scan!(["plan"], &wrong).expect_code(1);
    let mut unset = rotated.clone();
    unset.retain(|(k, _)| *k != "FLOWFORM_SCAN_PASSWORD");
    scan!(["plan"], &unset).expect_code(1);
    let tokens = proxy.tokens.lock().unwrap().clone();
    assert!(!tokens.is_empty(), "the IMS proxy saw flowform's token requests");
    for (i, token) in tokens.iter().enumerate() {
        secrets.add(&format!("access token {i}"), token);
    }
    let mut static_token = rotated.clone();
    static_token.push(("AEP_ACCESS_TOKEN", tokens[0].clone()));
    scan!(["drift"], &static_token);
    world.edit("salesforce-basic.yaml", "protect: true", "protect: false");
    scan!(["apply", "--auto-approve"], &rotated);
    scan!(["destroy", "--auto-approve"], &rotated).expect_code(0);

    // Now that every token is known, everything is scanned again for them.
    let mut rescan = Scanned::default();
    for name in secrets.found_in(&scanned.outputs) {
        rescan.leaks.push(format!("the outputs give away {name}"));
    }
    rescan.check_files(&world, &secrets, "the end");
    scanned.leaks.extend(rescan.leaks);
    scanned.leaks.sort();
    scanned.leaks.dedup();
    let elapsed = started.elapsed();
    let exits = |code: i32| codes.iter().filter(|(_, c)| *c == Some(code)).count();
    println!(
        "| secrets scan | {} commands at -vvv (exit 0/1/2: {}/{}/{}) | {} secrets × {} forms | {} files, {} KiB scanned | {} access tokens captured | journal of a killed apply {} | leaks {} | {:.1} s |",
        scanned.commands,
        exits(0),
        exits(1),
        exits(2),
        secrets.named.len(),
        secrets.named.iter().map(|(_, f)| f.len()).sum::<usize>(),
        scanned.files.len(),
        scanned.bytes / 1024,
        tokens.len(),
        if journal.is_some() {
            "scanned"
        } else {
            "(finished first)"
        },
        scanned.leaks.len(),
        elapsed.as_secs_f64()
    );
    // The logs were verbose and the run did its work: the scan is not vacuous.
    assert!(
        scanned.outputs.contains("-> 201") && scanned.outputs.contains("requesting an access token"),
        "the log is verbose"
    );
    for name in ["state.json", "state.json.backup.1", "plan.out", "state.json.lock"] {
        assert!(
            scanned.files.contains(&world.dir.path().join(name)),
            "`{name}` was scanned: {:?}",
            scanned.files
        );
    }
    assert!(
        scanned.leaks.is_empty(),
        "secrets given away:\n{}",
        scanned.leaks.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 4. A bad-state corpus
// ---------------------------------------------------------------------------------------

/// Every file under `dir`, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, into);
            } else {
                into.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, &mut files);
    files
}

/// What differs between two snapshots, by path.
fn differences(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let mut changed = Vec::new();
    for (path, bytes) in after {
        match before.get(path) {
            None => changed.push(format!("`{}` was written", path.display())),
            Some(old) if old != bytes => changed.push(format!("`{}` was changed", path.display())),
            Some(_) => {}
        }
    }
    for path in before.keys().filter(|p| !after.contains_key(*p)) {
        changed.push(format!("`{}` was removed", path.display()));
    }
    changed
}

/// The state file's text with the number after its top-level `"key": ` replaced by
/// `number`.
fn with_number(valid: &[u8], key: &str, number: &str) -> Vec<u8> {
    let text = String::from_utf8(valid.to_vec()).unwrap();
    let top = format!("\n  \"{key}\": ");
    let at = text.find(&top).unwrap() + top.len();
    let end = at + text[at..].find([',', '\n']).unwrap();
    format!("{}{number}{}", &text[..at], &text[end..]).into_bytes()
}

/// The state file's JSON, changed by `change`.
fn with_json(valid: &[u8], change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(valid).unwrap();
    change(&mut value);
    serde_json::to_vec_pretty(&value).unwrap()
}

/// Damaged state files (`None`: the file is gone, its backups are not), each with what the
/// refusal must say.
fn bad_states(valid: &[u8]) -> Vec<(&'static str, Option<Vec<u8>>, &'static str)> {
    let mut nul = valid.to_vec();
    let middle = nul.len() / 2;
    nul[middle..middle + 16].fill(0);
    let deep = format!(
        "{{\"version\": 1, \"lineage\": {}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    // Deeper than a parser may go, where a param's value (any JSON) is.
    let deep_record = {
        let text = String::from_utf8(valid.to_vec()).unwrap();
        let at = text.find("\"username\": ").unwrap() + "\"username\": ".len();
        let end = at + text[at..].find([',', '\n']).unwrap();
        format!(
            "{}{}{}{}",
            &text[..at],
            "[".repeat(5_000),
            "]".repeat(5_000),
            &text[end..]
        )
        .into_bytes()
    };
    let first_record =
        |v: &mut Value| -> String { v["resources"].as_object().unwrap().keys().next().unwrap().clone() };
    vec![
        (
            "truncated",
            Some(valid[..valid.len() / 2].to_vec()),
            "invalid JSON",
        ),
        ("an empty file", Some(Vec::new()), "the file is empty"),
        (
            "not JSON",
            Some(b"this is not a flowform state\n".to_vec()),
            "is not a flowform state: it does not hold JSON",
        ),
        ("NUL bytes in the middle", Some(nul), "invalid JSON"),
        (
            "a UTF-8 byte-order mark",
            Some([b"\xef\xbb\xbf".as_slice(), valid].concat()),
            "invalid JSON",
        ),
        ("JSON null", Some(b"null\n".to_vec()), "no `version`"),
        ("a JSON array", Some(b"[]\n".to_vec()), "no `version`"),
        (
            "wrong type: serial a string",
            Some(with_json(valid, |v| v["serial"] = json!("seven"))),
            "not a flowform state",
        ),
        (
            "wrong type: resources an array",
            Some(with_json(valid, |v| v["resources"] = json!([]))),
            "not a flowform state",
        ),
        (
            "wrong type: an id a number",
            Some(with_json(valid, |v| {
                let first = first_record(v);
                v["resources"][first]["id"] = json!(42);
            })),
            "not a flowform state",
        ),
        (
            "wrong type: version a string",
            Some(with_json(valid, |v| v["version"] = json!("1"))),
            "no `version`",
        ),
        (
            "a future version",
            Some(with_json(valid, |v| v["version"] = json!(99))),
            "written by a newer flowform",
        ),
        (
            "a huge serial",
            Some(with_number(valid, "serial", "184467440737095516160000")),
            "not a flowform state",
        ),
        (
            "a serial out of range",
            Some(with_number(valid, "serial", "1e999")),
            "invalid JSON",
        ),
        (
            "a huge version",
            Some(with_number(valid, "version", "18446744073709551616")),
            "no `version`",
        ),
        ("deep nesting", Some(deep.into_bytes()), "invalid JSON"),
        ("deep nesting in a record", Some(deep_record), "invalid JSON"),
        ("missing, with backups", None, "is missing, but its backups exist"),
    ]
}

/// Runs every command that reads the state and checks each refuses, naming the file, with a
/// `help:` line, and writes nothing. `no_lock`: the lock file is removed before each, and may
/// then be the one file written, empty (a command takes the lock before it reads the
/// state). Returns how many refusals were as they should be, and the problems found.
async fn refused_by_all(
    world: &World,
    case: &str,
    says: &str,
    names: &str,
    no_lock: bool,
) -> (usize, Vec<String>) {
    let lock = flowform::state::lock::path_for(&world.state());
    let unmanaged = "00000000-0000-4000-8000-000000000000";
    let commands: [&[&str]; 12] = [
        &["plan"],
        &["plan", "--out", "bad.out"],
        &["apply", "--auto-approve"],
        &["apply", "saved.out"],
        &["destroy", "--auto-approve"],
        &["drift"],
        &["import", "acme-salesforce", unmanaged],
        &["state", "list"],
        &["state", "show", "acme-salesforce"],
        &["state", "mv", "acme-salesforce", "acme-sf"],
        &["state", "rm", "acme-salesforce"],
        &["init"],
    ];
    let (mut good, mut problems) = (0, Vec::new());
    for args in commands {
        if no_lock {
            let _ = std::fs::remove_file(&lock);
        }
        let before = snapshot(world.dir.path());
        let run = here(world, args, &[]).await;
        let mut after = snapshot(world.dir.path());
        if no_lock && after.get(&lock).is_some_and(Vec::is_empty) {
            after.remove(&lock);
        }
        let found = problems.len();
        let label = format!("{case}: `flowform {}`", args.join(" "));
        let err = run.stderr();
        if run.code() != Some(1) {
            problems.push(format!(
                "{label} exited {:?}\n{}\n{err}",
                run.code(),
                run.stdout()
            ));
        } else if !(err.contains(says) && err.contains(names) && err.contains("help:")) {
            problems.push(format!(
                "{label}: the message does not say `{says}`, name `{names}` and help:\n{err}"
            ));
        }
        if err.contains("panicked") {
            problems.push(format!("{label} panicked:\n{err}"));
        }
        for change in differences(&before, &after) {
            problems.push(format!("{label}: {change}"));
        }
        if problems.len() == found {
            good += 1;
        }
    }
    if no_lock {
        std::fs::write(&lock, b"").unwrap();
    }
    (good, problems)
}

/// Cuts the journal's last line in the middle, as a crash mid-write leaves it.
fn tear_last_line(journal: &Path) {
    let bytes = std::fs::read(journal).unwrap();
    let body = &bytes[..bytes.len() - 1];
    let start = body.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let cut = start + (body.len() - start) / 2;
    std::fs::write(journal, &bytes[..cut]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_states_are_refused_untouched_and_damaged_journals_lose_nothing() {
    let seed = seed();
    let started = Instant::now();
    let mut problems = Vec::new();
    let mut cases = 0;
    let mut refusals = 0;

    // The state file itself: refused by every command that reads it, and left as it is.
    let world = World::managed().await;
    world.edit(
        "salesforce-jwt.yaml",
        "name: ACME Salesforce (JWT)",
        "name: ACME JWT",
    );
    here(&world, &["plan", "--out", "saved.out"], &[])
        .await
        .expect_code(0);
    let state = world.state();
    let valid = std::fs::read(&state).unwrap();
    assert!(
        !flowform::state::file::backups(&state).is_empty(),
        "the corpus is refused with backups to offer"
    );
    for (case, bytes, says) in bad_states(&valid) {
        cases += 1;
        match &bytes {
            Some(bytes) => std::fs::write(&state, bytes).unwrap(),
            None => std::fs::remove_file(&state).unwrap(),
        }
        let (good, found) = refused_by_all(&world, case, says, "state.json", false).await;
        refusals += good;
        problems.extend(found);
        // Without a lock file: the lock is taken before the state is read, so an empty lock
        // file is all a refused command may leave.
        if case == "truncated" {
            let (good, found) =
                refused_by_all(&world, "truncated, no lock file", says, "state.json", true).await;
            refusals += good;
            problems.extend(found);
        }
        std::fs::write(&state, &valid).unwrap();
    }

    // A journal of another state beside it: refused too.
    cases += 1;
    let journal = flowform::state::journal::path_for(&state);
    let other = flowform::state::State::new();
    let header = flowform::state::journal::Entry::Header(flowform::state::journal::Header::of(&other));
    std::fs::write(&journal, format!("{}\n", serde_json::to_string(&header).unwrap())).unwrap();
    let (good, found) = refused_by_all(
        &world,
        "a journal of another lineage",
        "belongs to another state",
        "state.json.journal",
        false,
    )
    .await;
    refusals += good;
    problems.extend(found);
    std::fs::remove_file(&journal).unwrap();

    // An empty journal, and one that is nothing but garbage: warned about, never fatal.
    cases += 1;
    std::fs::write(&journal, b"").unwrap();
    let run = here(&world, &["plan", "--detailed-exitcode"], &[]).await;
    if run.code() != Some(2) {
        problems.push(format!(
            "an empty journal: plan exited {:?}\n{}",
            run.code(),
            run.stderr()
        ));
    }
    cases += 1;
    std::fs::write(&journal, b"\x00\x00garbage\nnot json at all\n").unwrap();
    let run = here(&world, &["apply", "--auto-approve"], &[]).await;
    if run.code() != Some(0) || !run.stderr().contains("has damaged lines (1, 2)") {
        problems.push(format!(
            "a journal of garbage: apply exited {:?}\n{}",
            run.code(),
            run.stderr()
        ));
    }
    if !flowform::state::journal::damaged_path_for(&journal).exists() {
        problems.push("a journal of garbage is not kept aside".to_owned());
    }
    let stored = world.stored().await;
    if stored.len() != 3 {
        problems.push(format!(
            "a journal of garbage: AEP holds {} connections",
            stored.len()
        ));
    }

    // Garbage in the middle of a journal a kill -9 left: the lines around it replay, and the
    // next apply converges without a duplicate.
    cases += 1;
    problems.extend(garbage_in_the_middle(seed).await);
    // A torn tail, then a second crash, torn again: converges without a duplicate.
    cases += 1;
    problems.extend(torn_twice(seed).await);
    // The state file lost after a first apply was killed (no backups yet): the journal
    // carries the state on.
    cases += 1;
    problems.extend(journal_without_its_state(seed).await);
    // A create both of whose lines are damaged: nothing is created again; the name is taken,
    // the plan says which id to import, and with it the apply converges.
    cases += 1;
    problems.extend(a_create_no_line_remembers(seed).await);

    println!(
        "| bad-state corpus | seed {seed} | {cases} cases | {refusals} refusals checked (exit 1, the file named, help:, nothing written) | problems {} | {:.1} s |",
        problems.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "seed {seed}:\n{}", problems.join("\n\n"));
}

/// A fleet world killed mid-apply, with its journal. `None` if the apply finished first.
async fn killed_fleet(n: usize, seed: u64, after_outcomes: usize) -> (World, Vec<Member>, String) {
    let (world, members) = fleet_world(
        n,
        seed,
        FaultSettings {
            latency_ms: 60,
            ..FaultSettings::default()
        },
    )
    .await;
    let journal = kill_9_when(
        &world,
        &["apply", "--auto-approve", "--parallelism", "3"],
        &[],
        |j| j.matches("\"kind\":\"outcome\"").count() >= after_outcomes,
    )
    .await
    .expect("the apply was killed mid-way");
    (world, members, journal)
}

fn all_initial(members: &[Member]) -> Expected {
    Expected::initial(
        members,
        &[Role::Rename, Role::Rotate, Role::Remove],
        "rotate-password-0001",
    )
}

async fn garbage_in_the_middle(seed: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let (world, members, text) = killed_fleet(12, seed, 4).await;
    let journal = flowform::state::journal::path_for(&world.state());
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    // An outcome whose intent stays (the create stays pending, resolved by listing), and an
    // intent whose outcome stays (the outcome alone records it).
    let outcome = lines.iter().position(|l| l.contains("\"kind\":\"outcome\""));
    if let Some(i) = outcome {
        lines[i] = "\u{0}\u{0}garbage".to_owned();
    }
    let seq_of = |l: &str| serde_json::from_str::<Value>(l).ok().map(|v| v["seq"].clone());
    let answered = lines
        .iter()
        .rposition(|l| l.contains("\"kind\":\"outcome\""))
        .unwrap();
    let answered_seq = seq_of(&lines[answered]);
    if let Some(i) = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"intent\"") && seq_of(l) == answered_seq)
    {
        lines[i] = "{\"kind\":\"intent\",\"seq\":".to_owned();
    }
    lines.insert(1, "not json at all".to_owned());
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let run = world.run(&["plan"]).await;
    let err = run.stderr();
    if run.code() != Some(0)
        || !(err.contains("has damaged lines (") && err.contains("they were skipped and the rest replayed"))
    {
        problems.push(format!(
            "garbage in the middle: plan exited {:?}\n{err}",
            run.code()
        ));
    }
    let (converged, said) = converge(&world, 3).await;
    if converged.is_none() {
        problems.push(format!(
            "garbage in the middle: never converged\n{}",
            said.join("\n")
        ));
    }
    let audit = audit(&world, &all_initial(&members)).await;
    if !audit.is_clean() {
        problems.push(format!("garbage in the middle: {:#?}", audit.details));
    }
    if !flowform::state::journal::damaged_path_for(&journal).exists() {
        problems.push("garbage in the middle: the damaged journal is not kept aside".to_owned());
    }
    problems
}

async fn torn_twice(seed: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let (world, members, _) = killed_fleet(30, seed, 4).await;
    let journal = flowform::state::journal::path_for(&world.state());
    tear_last_line(&journal);
    let lines_before = std::fs::read_to_string(&journal).unwrap().lines().count();
    let killed = kill_9_when(
        &world,
        &["apply", "--auto-approve", "--parallelism", "3"],
        &[],
        |j| j.lines().count() >= lines_before + 6,
    )
    .await;
    if killed.is_none() {
        problems.push("torn twice: the second apply finished before the kill".to_owned());
    }
    tear_last_line(&journal);
    let run = world.run(&["apply", "--auto-approve"]).await;
    if run.code() != Some(0) || run.stderr().contains("damaged") {
        problems.push(format!(
            "torn twice: apply exited {:?}\n{}",
            run.code(),
            run.stderr()
        ));
    }
    let (converged, said) = converge(&world, 2).await;
    if converged.is_none() {
        problems.push(format!("torn twice: never converged\n{}", said.join("\n")));
    }
    let audit = audit(&world, &all_initial(&members)).await;
    if !audit.is_clean() {
        problems.push(format!("torn twice: {:#?}", audit.details));
    }
    if journal.exists() {
        problems.push("torn twice: the journal was not folded in".to_owned());
    }
    problems
}

async fn journal_without_its_state(seed: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let (world, members, _) = killed_fleet(12, seed, 3).await;
    if !flowform::state::file::backups(&world.state()).is_empty() {
        problems.push("journal without its state: backups exist already".to_owned());
    }
    std::fs::remove_file(world.state()).unwrap();
    let run = world.run(&["plan"]).await;
    if run.code() != Some(0)
        || !run
            .stderr()
            .contains("its journal began on the empty state `init` started")
    {
        problems.push(format!(
            "journal without its state: plan exited {:?}\n{}",
            run.code(),
            run.stderr()
        ));
    }
    let (converged, said) = converge(&world, 2).await;
    if converged.is_none() {
        problems.push(format!(
            "journal without its state: never converged\n{}",
            said.join("\n")
        ));
    }
    let audit = audit(&world, &all_initial(&members)).await;
    if !audit.is_clean() {
        problems.push(format!("journal without its state: {:#?}", audit.details));
    }
    problems
}

async fn a_create_no_line_remembers(seed: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let (world, members, text) = killed_fleet(12, seed, 3).await;
    let journal = flowform::state::journal::path_for(&world.state());
    // The first create that came back: both its lines damaged.
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
        .collect();
    let done = entries
        .iter()
        .find(|e| e["kind"] == "outcome" && e["result"]["status"] == "done")
        .unwrap();
    let (seq, address) = (done["seq"].clone(), done["address"].as_str().unwrap().to_owned());
    let id = done["result"]["record"]["id"].as_str().unwrap().to_owned();
    let key = address.trim_start_matches("prod/").to_owned();
    let lines: Vec<String> = text
        .lines()
        .zip(&entries)
        .map(|(line, e)| {
            if e["seq"] == seq {
                "#### damaged ####".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect();
    std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    let run = world.run(&["apply", "--auto-approve"]).await;
    let out = run.stdout();
    let hint = format!("flowform import {key} {id}");
    if run.code() != Some(1) || !out.contains(&hint) {
        problems.push(format!(
            "a create no line remembers: apply exited {:?} without `{hint}`\n{out}\n{}",
            run.code(),
            run.stderr()
        ));
    }
    let names: Vec<String> = world
        .stored()
        .await
        .iter()
        .map(|c| c["item"]["name"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    if unique.len() != names.len() {
        problems.push(format!("a create no line remembers: a duplicate: {names:?}"));
    }
    world.run(&["import", &key, &id]).await.expect_code(0);
    let (converged, said) = converge(&world, 2).await;
    if converged.is_none() {
        problems.push(format!(
            "a create no line remembers: never converged\n{}",
            said.join("\n")
        ));
    }
    let audit = audit(&world, &all_initial(&members)).await;
    if !audit.is_clean() {
        problems.push(format!("a create no line remembers: {:#?}", audit.details));
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Defects the suite found, kept as regressions
// ---------------------------------------------------------------------------------------

/// Found by the kill -9 rounds (seed 20261129, round 24: killed 524 journal lines after the
/// first create, while the apply read back what it had done): the rerun replayed the
/// journal, found nothing left to do, said `Apply complete!` — and never folded the journal
/// into the state file. Every id of the killed run lived only in the journal, which
/// `state/.gitignore` keeps out of git. Fixed: an apply folds the journal whatever it finds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_with_nothing_left_to_do_still_folds_the_journal_into_the_state_file() {
    let (world, members) = fleet_world(
        12,
        5,
        FaultSettings {
            latency_ms: 300,
            ..FaultSettings::default()
        },
    )
    .await;
    // Killed once every create came back, while the apply reads them back (before it
    // commits).
    let killed = kill_9_when(
        &world,
        &["apply", "--auto-approve", "--parallelism", "4"],
        &[],
        |j| j.matches("\"status\":\"done\"").count() >= 12,
    )
    .await;
    assert!(killed.is_some(), "killed before its commit");
    set_faults(&world, &FaultSettings::default()).await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().starts_with("No changes."), "{}", run.stdout());
    // The state file holds every id, and the journal is folded in.
    let audit = audit(&world, &all_initial(&members)).await;
    assert!(audit.is_clean(), "{:#?}", audit.details);
    assert!(
        !flowform::state::journal::path_for(&world.state()).exists(),
        "the journal was folded into the state file"
    );
}
