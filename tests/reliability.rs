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
use std::time::{Duration, Instant};

use flowform::emulator::faults::FaultSettings;
use flowform::emulator::rng::Rng;
use flowform::emulator::Options;
use reqwest::Method;
use serde_json::Value;
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

/// The fault settings with only this latency.
async fn set_faults(world: &World, faults: &FaultSettings) {
    let body = serde_json::to_value(faults).unwrap();
    let answer = world.admin(Method::PUT, "/faults", body).await;
    assert!(answer.is_object(), "the emulator took the fault settings: {answer}");
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

/// The YAML of these members; `rotated` says which password the rotated third reads.
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
    /// of nothing declared; a mutation still pending.
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
                item["connectionSpec"]["id"].as_str().unwrap_or_default().to_owned(),
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
    let owned: BTreeSet<&str> = state.connections.values().map(|r| r.id.as_str()).collect();
    for (key, (name, password)) in &expected.declared {
        let Some(record) = state.connections.get(&format!("prod/{key}")) else {
            audit.lost += 1;
            audit.details.push(format!("lost: `{key}` is not in the state"));
            continue;
        };
        let Some(live) = by_id.get(&record.id) else {
            audit.lost += 1;
            audit
                .details
                .push(format!("lost: `{key}` is recorded as {}, which AEP lacks", record.id));
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
            audit
                .details
                .push(format!("mismatch: `{key}` does not have the declared password in AEP"));
        }
    }
    for (address, record) in &state.connections {
        if !expected.declared.contains_key(&record.key) {
            audit.mismatches += 1;
            audit
                .details
                .push(format!("mismatch: the state still records `{address}` ({})", record.id));
        }
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
    let lines: Vec<&str> = journal.split_inclusive('\n').filter(|l| l.ends_with('\n')).collect();
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
        match result.reruns {
            Some(n) => {
                reruns += n;
                max_reruns = max_reruns.max(n);
            }
            None => non_converged += 1,
        }
        eprintln!(
            "  round {round} (seed {round_seed}): kill after the first {kind} + {} lines; in flight {:?}; reruns {:?}; {}",
            result.extra,
            result.killed,
            result.reruns,
            if result.audit.is_clean() { "clean" } else { "NOT CLEAN" }
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
        "| kill -9 | seed {seed} | {rounds} rounds × {size} | kills create/update/delete {}/{}/{} (finished first {finished_first}) | in flight at the kill {landed:?} | duplicates {} | lost ids {} | orphans {} | mismatches {} | non-converged {non_converged} | reruns {reruns} (max {max_reruns}) | {:.1} s |",
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
        phase.timeouts += run.stderr().matches("outcome is unknown (timed out").count();
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
    eprintln!(
        "fault storm: seed {seed}, {size} connections, hang share {hang}, {hangs} scripted hang(s)"
    );
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
