//! kill -9 at random moments of graph applies — creating a pipeline, replacing its base
//! connections (which cascades to their source connections and their dataflows,
//! create-before-destroy, each old dataflow disabled before its successor exists) and
//! destroying it — with a file state and with a PostgreSQL one: each rerun converges, and
//! no kind is ever duplicated, lost or left deposed.
//!
//! `FLOWFORM_RELIABILITY_SEED` repeats a run (the seed is printed); `FLOWFORM_GRAPH_ROUNDS`
//! sets the rounds (10).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowform_emulator::Options;
use flowform_emulator::faults::FaultSettings;
use reqwest::Method;
use serde_json::Value;

use crate::common::Run;
use crate::postgres::Pg;
use crate::world::World;

/// Base connections in each round's pipeline; each has two source connections, a target
/// connection and a dataflow from one to the other (so 5 × this many resources).
const BASES: usize = 3;

/// Resources per base connection.
const PER_BASE: usize = 5;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("`{name}` is not a number"))
        })
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so that a seed repeats a run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    /// Everything created from nothing.
    Create,
    /// Every base connection's auth spec changed: each is replaced, and its source
    /// connections with it.
    Replace,
    /// Everything removed from the configuration (deleted in the state's order).
    Destroy,
}

const ROUNDS: [Round; 3] = [Round::Create, Round::Replace, Round::Destroy];

/// The pipeline's YAML: base connections with `auth` (Basic or OAuth 2), two source
/// connections on each, and a target connection each.
fn pipeline(oauth: bool) -> String {
    let mut yaml = "sandbox: prod\nconnections:\n".to_owned();
    for i in 0..BASES {
        let auth = if oauth {
            "      specName: OAuth2 Client Credential\n      params:\n        environmentUrl: https://acme.my.salesforce.com\n        clientId: app\n        clientSecret: ${file:secrets/acme-oauth-client-secret}\n        apiVersion: \"60.0\"\n"
        } else {
            "      specName: Basic Authentication\n      params:\n        username: u\n        password: ${file:secrets/acme-password}\n        securityToken: ${file:secrets/acme-security-token}\n"
        };
        yaml.push_str(&format!(
            "  b{i}:\n    name: Base {i}\n    source: salesforce\n    auth:\n{auth}"
        ));
    }
    yaml.push_str("sources:\n");
    for i in 0..BASES {
        for table in ["Contact", "Account"] {
            yaml.push_str(&format!(
                "  s{i}-{table}:\n    name: {table} {i}\n    connection: b{i}\n    table: {table}\n"
            ));
        }
    }
    yaml.push_str("targets:\n");
    for i in 0..BASES {
        yaml.push_str(&format!(
            "  t{i}:\n    name: Target {i}\n    dataset: 65d4c1f0a1b2c3d4e5f60101\n"
        ));
    }
    yaml.push_str("flows:\n");
    for i in 0..BASES {
        yaml.push_str(&format!(
            "  f{i}:\n    name: Flow {i}\n    source: s{i}-Contact\n    target: t{i}\n    flowSpec: CRMToAEP\n    deltaColumn: {{name: LastModifiedDate}}\n    schedule: {{frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}}\n"
        ));
    }
    yaml
}

/// What a round leaves declared: the pipeline, or nothing (an empty document).
fn declare(config: &Path, round: Round, phase: Phase) {
    let text = match (round, phase) {
        (Round::Create, Phase::Before) => "sandbox: prod\nconnections: {}\n".to_owned(),
        (Round::Create, Phase::After) | (Round::Replace, Phase::Before) => pipeline(false),
        (Round::Replace, Phase::After) => pipeline(true),
        (Round::Destroy, Phase::Before) => pipeline(false),
        (Round::Destroy, Phase::After) => "sandbox: prod\nconnections: {}\n".to_owned(),
    };
    std::fs::write(config.join("pipeline.yaml"), text).unwrap();
}

#[derive(Clone, Copy)]
enum Phase {
    Before,
    After,
}

/// Journal lines the round's apply writes: an intent and an outcome per mutation.
fn journal_lines(round: Round) -> u64 {
    let mutations = match round {
        Round::Create | Round::Destroy => PER_BASE * BASES,
        // Each base connection, its two source connections and its dataflow: created, then
        // deleted.
        Round::Replace => 2 * 4 * BASES,
    };
    2 * mutations as u64
}

/// Where the state is, and how to wait for a moment of a run.
enum Backend {
    File,
    Pg(Box<Pg>),
}

impl Backend {
    /// Journal entries written so far.
    async fn journalled(&self, world: &World) -> u64 {
        match self {
            Backend::File => {
                let path = flowform::state::journal::path_for(&world.dir.path().join("state.json"));
                std::fs::read_to_string(path)
                    .unwrap_or_default()
                    .split_inclusive('\n')
                    .filter(|l| l.ends_with('\n'))
                    .count() as u64
            }
            Backend::Pg(pg) => pg.count("SELECT count(*) FROM {s}.journal").await as u64,
        }
    }

    fn recorded(&self, world: &World) -> flowform::state::State {
        match self {
            Backend::File => world.recorded(),
            Backend::Pg(pg) => pg.recorded("graph"),
        }
    }
}

/// A repository of the pipeline (and the examples' secret files) whose state is `state`.
fn repository(world: &World, state: &str) -> PathBuf {
    let dir = world.dir.path().to_owned();
    let config = dir.join("config");
    crate::world::copy_dir(
        &crate::common::root().join("examples/secrets"),
        &config.join("secrets"),
    );
    std::fs::write(
        dir.join("flowform.toml"),
        format!("config = [\"config\"]\nstate = \"{state}\"\n"),
    )
    .unwrap();
    config
}

async fn run(world: &World, args: &[&str]) -> Run {
    world.run_in(world.dir.path(), args).await
}

/// Reruns `apply` until a plan has nothing to do (at most 3 reruns); what each said.
async fn converge(world: &World) -> (usize, Vec<String>) {
    let mut said = Vec::new();
    for rerun in 1..=3 {
        let apply = run(world, &["apply", "--auto-approve"]).await;
        said.push(format!("{}{}", apply.stdout(), apply.stderr()));
        if apply.code() == Some(0) {
            let plan = run(world, &["plan", "--detailed-exitcode"]).await;
            if plan.code() == Some(0) {
                return (rerun, said);
            }
            said.push(format!("{}{}", plan.stdout(), plan.stderr()));
        }
    }
    panic!("no convergence in 3 reruns:\n{}", said.join("\n---\n"));
}

/// What the emulator holds of a side, as (name, id, parent id: a source connection's base
/// connection, a dataflow's source connection).
async fn held(world: &World, side: &str) -> Vec<(String, String, String)> {
    world
        .admin(Method::GET, &format!("/{side}"), Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let item = &r["item"];
            (
                item["name"].as_str().unwrap_or_default().to_owned(),
                item["id"].as_str().unwrap_or_default().to_owned(),
                item["baseConnectionId"]
                    .as_str()
                    .or(item["sourceConnectionIds"][0].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// Asserts AEP holds exactly what is declared, once each, the state records exactly that
/// (nothing deposed, nothing pending), and every source connection reads through the base
/// connection the state records for it.
async fn audit(world: &World, backend: &Backend, declared: bool, context: &str) {
    let n = if declared { BASES } else { 0 };
    let bases: Vec<(String, String)> = world
        .stored()
        .await
        .iter()
        .map(|c| {
            (
                c["item"]["name"].as_str().unwrap().to_owned(),
                c["item"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let sources = held(world, "sourceConnections").await;
    let targets = held(world, "targetConnections").await;
    let flows = held(world, "flows").await;
    for (what, names, want) in [
        ("base", bases.iter().map(|b| b.0.clone()).collect::<Vec<_>>(), n),
        ("source", sources.iter().map(|s| s.0.clone()).collect(), 2 * n),
        ("target", targets.iter().map(|t| t.0.clone()).collect(), n),
        ("flow", flows.iter().map(|f| f.0.clone()).collect(), n),
    ] {
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(
            (names.len(), unique.len()),
            (want, want),
            "{context}: {what} connections in AEP, each once: {names:?}"
        );
    }
    let state = backend.recorded(world);
    assert!(state.pending.is_empty(), "{context}: {:?}", state.pending);
    let addresses: Vec<&String> = state.resources.keys().collect();
    assert_eq!(
        addresses.len(),
        PER_BASE * n,
        "{context}: the state: {addresses:?}"
    );
    assert!(
        addresses.iter().all(|a| !a.ends_with("#deposed")),
        "{context}: {addresses:?}"
    );
    let ids: BTreeMap<&str, &str> = bases
        .iter()
        .map(|(_, id)| (id.as_str(), "base"))
        .chain(sources.iter().map(|(_, id, _)| (id.as_str(), "source")))
        .chain(targets.iter().map(|(_, id, _)| (id.as_str(), "target")))
        .chain(flows.iter().map(|(_, id, _)| (id.as_str(), "flow")))
        .collect();
    for (address, record) in &state.resources {
        assert!(
            ids.contains_key(record.id.as_str()),
            "{context}: {address} is in AEP"
        );
    }
    for (name, _, base) in &sources {
        let i = name.rsplit(' ').next().unwrap();
        let recorded = &state.find(&format!("b{i}")).unwrap().1.id;
        assert_eq!(base, recorded, "{context}: `{name}` reads through b{i}");
    }
    for (name, _, source) in &flows {
        let i = name.rsplit(' ').next().unwrap();
        let recorded = &state.find(&format!("source:s{i}-Contact")).unwrap().1.id;
        assert_eq!(source, recorded, "{context}: `{name}` reads s{i}-Contact");
    }
}

async fn world() -> World {
    World::bare(Options {
        faults: FaultSettings {
            latency_ms: 15,
            jitter_ms: 30,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await
}

/// One round: set up, apply killed at a random moment, converge, audit.
async fn round(backend: &Backend, world: &World, config: &Path, round: Round, rng: &mut Rng) -> String {
    declare(config, round, Phase::Before);
    run(world, &["apply", "--auto-approve"]).await.expect_code(0);
    audit(world, backend, round != Round::Create, "set-up").await;
    declare(config, round, Phase::After);
    let lines = journal_lines(round);
    let at = 1 + rng.below(lines - 1);
    let mut child = spawn(world, &["apply", "--auto-approve", "--parallelism", "4"]);
    let started = Instant::now();
    let killed = loop {
        if backend.journalled(world).await >= at {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break true;
        }
        if child.try_wait().unwrap().is_some() {
            // Finished before the moment came (its last lines land together).
            break false;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let (reruns, _) = converge(world).await;
    let context = format!("{round:?} killed after {at} of {lines} journal lines");
    audit(world, backend, round != Round::Destroy, &context).await;
    format!(
        "{round:?}: {} at line {at}/{lines}, converged in {reruns}",
        if killed { "killed" } else { "finished first" }
    )
}

fn spawn(world: &World, args: &[&str]) -> std::process::Child {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowform"));
    command
        .args(args)
        .env_clear()
        .current_dir(world.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for (k, v) in world.env() {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

async fn rounds(backend: Backend, world: World, config: PathBuf) {
    let seed = setting(
        "FLOWFORM_RELIABILITY_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(11, |d| d.as_micros() as u64 % 1_000_000),
    );
    let n = setting("FLOWFORM_GRAPH_ROUNDS", 10);
    eprintln!("graph kill -9 rounds: seed {seed} (FLOWFORM_RELIABILITY_SEED), {n} rounds");
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut killed = 0;
    for i in 0..n {
        // Each round starts from nothing in AEP and in the state.
        declare(&config, Round::Destroy, Phase::After);
        run(&world, &["apply", "--auto-approve"]).await.expect_code(0);
        let kind = ROUNDS[(i % 3) as usize];
        let said = round(&backend, &world, &config, kind, &mut rng).await;
        eprintln!("  round {i}: {said}");
        killed += usize::from(said.contains("killed"));
    }
    assert!(
        killed * 2 >= n as usize,
        "most rounds were killed mid-apply ({killed} of {n})"
    );
    if let Backend::Pg(pg) = backend {
        (*pg).drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_through_graph_applies_with_a_file_state_duplicates_and_loses_nothing() {
    let world = world().await;
    let config = repository(&world, "state.json");
    declare(&config, Round::Create, Phase::Before);
    run(&world, &["init"]).await.expect_code(0);
    rounds(Backend::File, world, config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_through_graph_applies_with_a_postgres_state_duplicates_and_loses_nothing() {
    let Some(pg) = Pg::connect().await else { return };
    let world = world().await;
    let config = repository(&world, &pg.url("graph"));
    declare(&config, Round::Create, Phase::Before);
    run(&world, &["init"]).await.expect_code(0);
    rounds(Backend::Pg(Box::new(pg)), world, config).await;
}
