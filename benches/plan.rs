//! Issue 15's harness: what flowform's real binary costs, in wall time, CPU, memory and
//! requests, for a no-op plan of many connections, `validate`, and applies of many creates,
//! against the Flow Service emulator with injected latency, beside the baselines it must beat,
//! in the same run. The table it writes into `BENCHMARKS.md` is the claim; this is how anyone
//! checks it.
//!
//! ```sh
//! cargo bench --bench plan                          # the issue's sizes; rewrites BENCHMARKS.md
//! FLOWFORM_BENCH_RUNS=5 cargo bench --bench plan    # medians of 5 runs (default 3)
//! FLOWFORM_BENCH_SMOKE=1 cargo test --bench plan    # 200 connections, 1 run, nothing written (CI)
//! FLOWFORM_BENCH_ONLY=noop,noop-listing cargo bench --bench plan     # some scenarios only
//! FLOWFORM_BENCH_ONLY=among FLOWFORM_BENCH_ARGS='--parallelism 32' cargo bench --bench plan
//! FLOWFORM_BENCH_SIZE=2000 FLOWFORM_BENCH_ONLY=noop FLOWFORM_BENCH_RUNS=1 \
//!   FLOWFORM_BENCH_WRAP='valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p.out' \
//!   cargo bench --bench plan                        # profile one scenario
//! ```
//!
//! - **What runs.** `flowform` is the binary cargo built beside this benchmark
//!   (`CARGO_BIN_EXE_flowform`: `target/release/flowform` under `cargo bench`, the debug one
//!   under `cargo test`), run as a child process in a project written to a directory under
//!   `target/bench-plan/` (on the repository's disk: a journal's fsync costs what it costs),
//!   against an emulator started in this process on `127.0.0.1:0`. The baselines are clients
//!   written here, with reqwest, against the same emulator. Each plan must say `No changes.`
//!   and each apply must create every connection once, or the benchmark stops.
//! - **How it is measured.** CPU (user + system) and peak resident memory are flowform's own,
//!   from `getrusage(RUSAGE_CHILDREN)` in an intermediate with that one child (std gives neither; `/proc/self/stat` would give CPU only and
//!   `/usr/bin/time` is not on every machine). flowform is started by a fresh copy of this
//!   binary that waits for it ([`intermediate`]), because Linux counts the memory of the
//!   process a child was started from in the child's peak. Wall time is from spawning
//!   flowform to reaping it. Requests are what the emulator served (its `/__emulator/stats`,
//!   reset before each run): Flow Service and IMS requests, not its own admin endpoints. Each
//!   figure is the median of the runs.
//! - **Scenarios** (names for `FLOWFORM_BENCH_ONLY`; N = `FLOWFORM_BENCH_SIZE`, 10,000):
//!   `noop`, `noop-by-id`, `noop-listing`, `noop-batches`: a no-op plan of N managed
//!   connections among N at 50 ms a request, and three clients reading the same: one GET per
//!   id at parallelism 10 (Terraform's way), a sequential paged listing (an aepp script), and
//!   the ids by `property=id==…` filter, 100 a request at parallelism 10 (what is reachable);
//!   `among`, `among-by-id`, `among-listing`, `among-batches`: the same among 6N;
//!   `offline`: `plan --refresh=false` (load, plan and render, no network), every connection
//!   with the same secrets and keyless fingerprints (PBKDF2); `offline-keyed`: the same with
//!   `FLOWFORM_DIGEST_KEY` set (HMAC fingerprints, the documented recommendation);
//!   `offline-distinct`, `offline-distinct-keyed`: each connection with a password of its
//!   own, so that no two fingerprints are of the same secrets;
//!   `validate`: `flowform validate` of N and 4N connections;
//!   `creates`: an apply of N/10 creates at 100 ms, `--parallelism 8` and `32`;
//!   `creates-big`: an apply of N creates at no latency, for its CPU;
//!   `graph`, `graph-by-id`: a no-op plan of a graph at 50 ms a request — N base
//!   connections, 2N source connections (Contact and Account of each, by key) and N target
//!   connections over N/100 datasets, all made by flowform's own `apply` at no latency first
//!   (so the state is what flowform writes) — and one GET per id at parallelism 10, each
//!   at its kind's route.
//! - `FLOWFORM_BENCH_ARGS` adds arguments to every flowform command; `FLOWFORM_BENCH_WRAP`
//!   runs each under a command (a profiler). With either, with `FLOWFORM_BENCH_ONLY`, or at
//!   another size, `BENCHMARKS.md` is left alone and the table goes to stdout only.
//!
//! Client, emulator and flowform share the machine's cores: on a small machine the emulator's
//! work is part of every figure, the baselines' as much as flowform's.
// Benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use flowform::secret::Secret;
use flowform::state::{Digester, Record, State, file};
use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{ADMIN_BASE, Emulator, IMS_PATH, Options};
use serde_json::{Value, json};

/// Salesforce, the spec `POST /__emulator/seed` creates.
const SALESFORCE: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
/// The secrets every declared connection references, by environment variable.
const PASSWORD: (&str, &str) = ("BENCH_PASSWORD", "bench-password");
const TOKEN: (&str, &str) = ("BENCH_SECURITY_TOKEN", "bench-security-token");
/// Latency of every Flow Service request in the plan scenarios, and in the creates'.
const PLAN_LATENCY_MS: u64 = 50;
const CREATE_LATENCY_MS: u64 = 100;
/// The baselines' parallelism (Terraform's default is 10).
const BASELINE_PARALLELISM: usize = 10;
/// A listing page, and ids per filter: AEP's maximum.
const PAGE: usize = 100;
/// Where the generated table goes in `BENCHMARKS.md`.
const BEGIN: &str =
    "<!-- bench:begin (written by `cargo bench --bench plan`; edit outside these markers) -->";
const END: &str = "<!-- bench:end -->";

// ---------------------------------------------------------------------------------------
// Settings

/// What to run, from the environment.
struct Settings {
    /// N: managed connections.
    size: usize,
    runs: usize,
    smoke: bool,
    only: Option<BTreeSet<String>>,
    /// A command to run flowform under (a profiler).
    wrap: Vec<String>,
    /// Arguments added to every flowform command.
    extra: Vec<String>,
    /// The flowform binary.
    binary: PathBuf,
    /// Where projects are written.
    scratch: PathBuf,
}

const DEFAULT_SIZE: usize = 10_000;
const SMOKE_SIZE: usize = 200;
/// The names `FLOWFORM_BENCH_ONLY` takes.
const SCENARIOS: [&str; 20] = [
    "noop",
    "noop-by-id",
    "noop-listing",
    "noop-batches",
    "among",
    "among-by-id",
    "among-listing",
    "among-batches",
    "offline",
    "offline-keyed",
    "offline-distinct",
    "offline-distinct-keyed",
    "validate",
    "creates",
    "creates-big",
    "graph",
    "graph-by-id",
    "pipelines",
    "pipelines-by-id",
    "pipelines-apply",
];

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str| {
            var(name).map(|v| {
                v.parse::<usize>()
                    .unwrap_or_else(|_| panic!("`{name}` must be a number, not `{v}`"))
            })
        };
        let smoke = var("FLOWFORM_BENCH_SMOKE").is_some_and(|v| v != "0");
        let size = number("FLOWFORM_BENCH_SIZE").unwrap_or(if smoke { SMOKE_SIZE } else { DEFAULT_SIZE });
        assert!(size >= 10, "`FLOWFORM_BENCH_SIZE` is at least 10");
        let only: Option<BTreeSet<String>> =
            var("FLOWFORM_BENCH_ONLY").map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
        for name in only.iter().flatten() {
            assert!(
                SCENARIOS.contains(&name.as_str()),
                "`FLOWFORM_BENCH_ONLY`: no scenario `{name}`; there are {}",
                SCENARIOS.join(", ")
            );
        }
        let words = |name: &str| {
            var(name)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Settings {
            size,
            runs: number("FLOWFORM_BENCH_RUNS")
                .unwrap_or(if smoke { 1 } else { 3 })
                .max(1),
            smoke,
            only,
            wrap: words("FLOWFORM_BENCH_WRAP"),
            extra: words("FLOWFORM_BENCH_ARGS"),
            binary: PathBuf::from(env!("CARGO_BIN_EXE_flowform")),
            scratch: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-plan"),
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(scenario))
    }

    /// Whether this run is the full one whose table belongs in `BENCHMARKS.md`.
    fn writes(&self) -> bool {
        !self.smoke
            && self.only.is_none()
            && self.wrap.is_empty()
            && self.extra.is_empty()
            && self.size == DEFAULT_SIZE
    }

    /// Whether the pipelines' figures of this run belong in `BENCHMARKS.md`: at the
    /// default size, with nothing added, every pipeline scenario run.
    fn writes_pipelines(&self) -> bool {
        !self.smoke
            && self.wrap.is_empty()
            && self.extra.is_empty()
            && self.size == DEFAULT_SIZE
            && PIPELINE_SCENARIOS.iter().all(|s| self.wants(s))
    }

    fn among(&self) -> usize {
        self.size * 6
    }

    fn creates(&self) -> usize {
        self.size / 10
    }
}

// ---------------------------------------------------------------------------------------
// Figures

/// One run of one scenario.
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: Duration,
    /// The child's user + system CPU (`None` for the baselines, which run in this process
    /// beside the emulator).
    cpu: Option<Duration>,
    /// The child's peak resident memory, KiB.
    rss_kib: Option<u64>,
    /// Requests the emulator served (`None` when no emulator was involved).
    requests: Option<u64>,
}

/// The runs of one scenario.
#[derive(Clone, Debug, Default)]
struct Measured {
    samples: Vec<Sample>,
}

/// The middle value (the upper of the two middle ones of an even count).
fn median<T: Copy + Ord>(mut values: Vec<T>) -> Option<T> {
    values.sort();
    values.get(values.len() / 2).copied()
}

impl Measured {
    fn wall(&self) -> Duration {
        median(self.samples.iter().map(|s| s.wall).collect()).unwrap_or_default()
    }

    fn wall_range(&self) -> (Duration, Duration) {
        let walls = self.samples.iter().map(|s| s.wall);
        (
            walls.clone().min().unwrap_or_default(),
            walls.max().unwrap_or_default(),
        )
    }

    fn cpu(&self) -> Option<Duration> {
        median(self.samples.iter().filter_map(|s| s.cpu).collect())
    }

    /// Megabytes (10⁶ bytes), as the issue gives them.
    fn rss_mb(&self) -> Option<f64> {
        median(self.samples.iter().filter_map(|s| s.rss_kib).collect()).map(|k| k as f64 * 1024.0 / 1e6)
    }

    fn requests(&self) -> Option<u64> {
        median(self.samples.iter().filter_map(|s| s.requests).collect())
    }
}

/// A plan scenario: flowform, and the clients it is compared with.
#[derive(Default)]
struct PlanFigures {
    flowform: Option<Measured>,
    by_id: Option<Measured>,
    listing: Option<Measured>,
    batches: Option<Measured>,
}

/// Every figure of a run; the table is rendered from this alone ([`render`]).
#[derive(Default)]
struct Figures {
    noop: PlanFigures,
    among: PlanFigures,
    offline: Option<Measured>,
    /// The same with `FLOWFORM_DIGEST_KEY`, with a password per connection, and both.
    offline_keyed: Option<Measured>,
    offline_distinct: Option<Measured>,
    offline_distinct_keyed: Option<Measured>,
    /// `validate` of N and of 4N connections.
    validate: Option<(Measured, Measured)>,
    /// N/10 creates at 100 ms, `--parallelism 8` and `32`.
    creates: Option<(Measured, Measured)>,
    creates_big: Option<Measured>,
    /// The graph: a no-op plan of N base, 2N source and N target connections, and one GET
    /// per id at parallelism 10.
    graph: PlanFigures,
}

// ---------------------------------------------------------------------------------------
// The emulator

/// The in-process emulator and an HTTP client for it.
struct Aep {
    emulator: Emulator,
    http: reqwest::Client,
}

impl Aep {
    async fn start(latency_ms: u64) -> Aep {
        let emulator = Emulator::start(Options {
            seed: Some(15),
            faults: FaultSettings {
                latency_ms,
                ..FaultSettings::default()
            },
            ..Options::default()
        })
        .await
        .expect("the emulator starts");
        flowform::flow::install_crypto();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(BASELINE_PARALLELISM)
            .build()
            .expect("an HTTP client");
        Aep { emulator, http }
    }

    fn admin(&self, path: &str) -> String {
        format!("{}{ADMIN_BASE}{path}", self.emulator.base_url())
    }

    /// `count` Salesforce connections, as `POST /__emulator/seed` makes them.
    async fn seed(&self, count: usize) {
        let answer = self
            .http
            .post(self.admin("/seed"))
            .json(&json!({ "count": count }))
            .send()
            .await
            .expect("the emulator answers");
        assert!(answer.status().is_success(), "seeding: {}", answer.status());
    }

    /// What the emulator holds of each seeded connection, by its index.
    async fn seeded(&self) -> BTreeMap<usize, Live> {
        let all: Value = self
            .http
            .get(self.admin("/connections"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the emulator lists what it holds")
            .json()
            .await
            .expect("as JSON");
        let mut seeded = BTreeMap::new();
        for stored in all.as_array().expect("an array") {
            let item = &stored["item"];
            let text = |field: &str| item[field].as_str().unwrap_or_default().to_owned();
            let Some(index) = text("name")
                .strip_prefix("Seeded ")
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            seeded.insert(
                index,
                Live {
                    id: text("id"),
                    etag: text("etag"),
                    created_at: item["createdAt"].as_i64(),
                    updated_at: item["updatedAt"].as_i64(),
                },
            );
        }
        seeded
    }

    /// Forgets every connection and statistic.
    async fn reset(&self) {
        let answer = self.http.post(self.admin("/reset")).send().await.expect("reset");
        assert!(answer.status().is_success(), "reset: {}", answer.status());
    }

    async fn reset_stats(&self) {
        let answer = self
            .http
            .delete(self.admin("/stats"))
            .send()
            .await
            .expect("stats");
        assert!(answer.status().is_success(), "stats: {}", answer.status());
    }

    /// Flow Service and IMS requests served since the last [`Aep::reset_stats`].
    async fn requests(&self) -> u64 {
        let stats: Value = self
            .http
            .get(self.admin("/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats as JSON");
        stats["requests"]
            .as_array()
            .expect("stats list requests")
            .iter()
            .filter(|row| !row["route"].as_str().unwrap_or_default().starts_with(ADMIN_BASE))
            .filter_map(|row| row["count"].as_u64())
            .sum()
    }

    /// A client of the Flow Service with a token from the emulator's IMS, as a script gets
    /// one (one IMS request).
    async fn reader(&self) -> Reader {
        let issued: Value = self
            .http
            .post(format!("{}{IMS_PATH}", self.emulator.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&scope=openid,AdobeID"
            ))
            .send()
            .await
            .expect("IMS answers")
            .json()
            .await
            .expect("a token as JSON");
        Reader {
            http: self.http.clone(),
            flow: self.emulator.flow_url(),
            token: issued["access_token"].as_str().expect("a token").to_owned(),
        }
    }

    /// flowform's environment for this emulator.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("FLOWFORM_ENDPOINT", self.emulator.flow_url()),
            ("AEP_IMS_URL", self.emulator.base_url()),
            ("AEP_CLIENT_ID", DEMO_CLIENT_ID.to_owned()),
            ("AEP_CLIENT_SECRET", DEMO_CLIENT_SECRET.to_owned()),
            ("AEP_ORG_ID", DEMO_ORG.to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec()
    }
}

/// A baseline's client: GETs under the Flow Service base, with the headers AEP requires.
#[derive(Clone)]
struct Reader {
    http: reqwest::Client,
    flow: String,
    token: String,
}

impl Reader {
    /// The JSON body of `GET {flow}{path}`, which must succeed.
    async fn get(&self, path: &str) -> Value {
        let answer = self
            .http
            .get(format!("{}{path}", self.flow))
            .bearer_auth(&self.token)
            .header("x-api-key", DEMO_CLIENT_ID)
            .header("x-gw-ims-org-id", DEMO_ORG)
            .header("x-sandbox-name", "prod")
            .send()
            .await
            .expect("the emulator answers");
        let status = answer.status();
        assert!(status.is_success(), "GET {path}: {status}");
        answer.json().await.expect("a JSON body")
    }
}

/// Runs `work` on `parallelism` tasks, each taking the next index of `0..n` until none is
/// left.
async fn in_parallel<F, Fut>(n: usize, parallelism: usize, work: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallelism {
        let (next, work) = (next.clone(), work.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                work(i).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a worker finishes");
    }
}

// ---------------------------------------------------------------------------------------
// Projects

/// One connection as declared in the configuration (and recorded in the state).
struct Declared {
    index: usize,
    /// A password of its own (`BENCH_PASSWORD_<index>`) rather than the one all share.
    own_password: bool,
    name: String,
    description: String,
    url: String,
    username: String,
}

impl Declared {
    /// The `i`-th connection `POST /__emulator/seed` makes (`seed` in the emulator crate's
    /// `connections.rs`, default prefix), declared exactly as AEP holds it: a no-op.
    fn seeded(i: usize) -> Declared {
        Declared {
            index: i,
            own_password: false,
            name: format!("Seeded {i:06}"),
            description: format!("seeded connection {i}"),
            url: format!("https://seed-{i}.my.salesforce.com"),
            username: format!("Seeded-{i}@example.com"),
        }
    }

    /// A connection AEP does not have yet.
    fn fresh(i: usize) -> Declared {
        Declared {
            index: i,
            own_password: false,
            name: format!("Bench {i:06}"),
            description: format!("benchmark connection {i}"),
            url: format!("https://bench-{i}.my.salesforce.com"),
            username: format!("bench-{i}@example.com"),
        }
    }

    fn key(&self) -> String {
        format!("bench-{:06}", self.index)
    }

    /// The environment variable its password is read from, and the password.
    fn password(&self) -> (String, String) {
        if self.own_password {
            (
                format!("{}_{}", PASSWORD.0, self.index),
                format!("{}-{}", PASSWORD.1, self.index),
            )
        } else {
            (PASSWORD.0.to_owned(), PASSWORD.1.to_owned())
        }
    }
}

/// What AEP holds of a connection, as a state records it.
#[derive(Clone)]
struct Live {
    id: String,
    etag: String,
    created_at: Option<i64>,
    updated_at: Option<i64>,
}

impl Live {
    /// Made up, for a plan that reads nothing from AEP.
    fn made_up(i: usize) -> Live {
        Live {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            etag: format!("\"{i:08x}-0000-0200-0000-000000000000\""),
            created_at: Some(1_700_000_000_000),
            updated_at: Some(1_700_000_000_000),
        }
    }
}

/// The configuration: one file, one sandbox, every connection in the shape of a
/// `POST /connections` body, secrets by reference.
fn yaml(connections: &[Declared]) -> String {
    let quoted = |s: &str| Value::String(s.to_owned()).to_string();
    let mut out = String::with_capacity(connections.len() * 360 + 64);
    out.push_str("sandbox: prod\nconnections:\n");
    for c in connections {
        let _ = write!(
            out,
            "  {}:\n    name: {}\n    description: {}\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        environmentUrl: {}\n        username: {}\n        password: ${{env:{}}}\n        securityToken: ${{env:{}}}\n",
            c.key(),
            quoted(&c.name),
            quoted(&c.description),
            quoted(&c.url),
            quoted(&c.username),
            c.password().0,
            TOKEN.0,
        );
    }
    out
}

/// A state that manages `managed` exactly as declared, with the secrets' fingerprint.
fn state(managed: &[(&Declared, Live)]) -> State {
    state_fingerprinted(managed, Digester::keyless())
}

/// [`state`], with the fingerprints `digester` makes.
fn state_fingerprinted(managed: &[(&Declared, Live)], digester: Digester) -> State {
    let mut state = State::new();
    state.org = Some(DEMO_ORG.to_owned());
    state.digester = digester;
    let token = Secret::new(TOKEN.1);
    // Unless each has a password of its own, every connection has the same secrets and the
    // state one salt: one fingerprint.
    let shared = Secret::new(PASSWORD.1);
    let shared_digest = state.secrets_digest(
        &[
            ("password".to_owned(), &shared),
            ("securityToken".to_owned(), &token),
        ]
        .into(),
    );
    for (c, live) in managed {
        let digest = if c.own_password {
            let password = Secret::new(c.password().1);
            state.secrets_digest(
                &[
                    ("password".to_owned(), &password),
                    ("securityToken".to_owned(), &token),
                ]
                .into(),
            )
        } else {
            shared_digest.clone()
        };
        let mut params = serde_json::Map::new();
        params.insert("environmentUrl".into(), Value::String(c.url.clone()));
        params.insert("username".into(), Value::String(c.username.clone()));
        let mut record = Record::new(flowform::kind::default(), &c.key(), "prod", &live.id, &c.name)
            .with("description", c.description.clone())
            .with("connectionSpec.id", SALESFORCE)
            .with("connectionSpec.version", "1.0")
            .with("auth.specName", "Basic Authentication")
            .with("auth.params", Value::Object(params));
        record.etag = Some(live.etag.clone());
        record.secret_params = ["password".to_owned(), "securityToken".to_owned()].into();
        record.secrets_digest = Some(digest.clone());
        record.state = Some("enabled".into());
        record.created_at = live.created_at;
        record.updated_at = live.updated_at;
        record.applied_at = live.updated_at;
        state.resources.insert(format!("prod/{}", c.key()), record);
    }
    state
}

/// A flowform project: `flowform.toml`, `connections/bench.yaml`, and its state.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn write(settings: &Settings, declared: &[Declared], state: &State) -> Project {
        let dir = tempfile::tempdir_in(&settings.scratch).expect("a project directory");
        let root = dir.path();
        std::fs::write(
            root.join("flowform.toml"),
            "config = [\"connections\"]\nstate = \"state/flowform.json\"\n",
        )
        .expect("flowform.toml");
        std::fs::create_dir_all(root.join("connections")).expect("connections/");
        std::fs::write(root.join("connections/bench.yaml"), yaml(declared)).expect("the configuration");
        std::fs::create_dir_all(root.join("state")).expect("state/");
        file::write(&root.join("state/flowform.json"), &file::to_bytes(state)).expect("the state");
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

// ---------------------------------------------------------------------------------------
// Running flowform

/// What one run of the binary came to.
struct Ran {
    sample: Sample,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// Panics, showing both streams, unless it exited `code` and stdout says `says`.
    fn expect(&self, code: i32, says: &str) {
        assert!(
            self.code == code && self.stdout.contains(says),
            "flowform exited {} (expected {code}, saying `{says}`)\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            tail(&self.stdout),
            tail(&self.stderr)
        );
    }
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    &text[start..]
}

/// Set on this benchmark's own binary when it runs as the measuring intermediate
/// ([`intermediate`]); its value is the file the figures go to.
const INTERMEDIATE: &str = "FLOWFORM_BENCH_MEASURE_INTO";

/// Runs flowform with `args` in `project`, with `env` (and nothing else of this process's
/// environment but `PATH` and `HOME`, which a wrapping profiler may need), and measures it.
///
/// flowform is started by a fresh copy of this binary ([`intermediate`]), which waits for it
/// and reports what `getrusage(RUSAGE_CHILDREN)` says of it. Started from here directly, its peak RSS would be
/// at least this process's (the emulator's tens of thousands of connections): Linux carries
/// the high-water mark of the memory a process was started from over `exec`.
async fn flowform(settings: &Settings, project: &Path, args: &[&str], env: &[(String, String)]) -> Ran {
    let report = tempfile::NamedTempFile::new_in(&settings.scratch).expect("a file for the figures");
    let mut out = tempfile::tempfile().expect("a file for stdout");
    let mut err = tempfile::tempfile().expect("a file for stderr");
    let mut command = std::process::Command::new(std::env::current_exe().expect("this benchmark's path"));
    command
        .args(&settings.wrap)
        .arg(&settings.binary)
        .args(args)
        .args(&settings.extra)
        .current_dir(project)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(PASSWORD.0, PASSWORD.1)
        .env(TOKEN.0, TOKEN.1)
        .env("NO_COLOR", "1")
        .env(INTERMEDIATE, report.path())
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("stdout"))
        .stderr(err.try_clone().expect("stderr"));
    for inherited in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(inherited) {
            command.env(inherited, value);
        }
    }
    let mut child = command.spawn().expect("the benchmark starts itself");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("the wait ends")
        .expect("the intermediate is reaped");
    let figures = std::fs::read_to_string(report.path()).unwrap_or_default();
    let figures: Vec<i64> = figures
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let &[code, wall_us, cpu_us, rss_kib] = figures.as_slice() else {
        panic!("the intermediate reported no figures ({status})");
    };
    let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
    let read = |file: &mut std::fs::File| {
        let mut text = String::new();
        file.rewind().expect("rewind");
        file.read_to_string(&mut text).expect("the output is text");
        text
    };
    Ran {
        sample: Sample {
            wall: micros(wall_us),
            cpu: Some(micros(cpu_us)),
            rss_kib: u64::try_from(rss_kib).ok(),
            requests: None,
        },
        code: i32::try_from(code).unwrap_or(-1),
        stdout: read(&mut out),
        stderr: read(&mut err),
    }
}

/// This binary as the intermediate of [`flowform`]: runs its arguments as a child (stdio,
/// working directory and environment passed on), waits for it, writes `code wall_µs cpu_µs
/// peak_rss_KiB` to `into`, and exits as the child did.
fn intermediate(into: &std::ffi::OsStr) -> ! {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (program, rest) = args.split_first().expect("a command to run");
    let started = Instant::now();
    let child = std::process::Command::new(program)
        .args(rest)
        .env_remove(INTERMEDIATE)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.to_string_lossy()));
    let (code, cpu, rss_kib) = reap(child);
    let wall = started.elapsed();
    std::fs::write(
        into,
        format!("{code} {} {} {rss_kib}\n", wall.as_micros(), cpu.as_micros()),
    )
    .expect("the figures are written");
    std::process::exit(code.clamp(0, 255))
}

/// Waits for `child` and returns its exit code (-1 if killed by a signal), its user + system
/// CPU and its peak resident memory in KiB. This intermediate process has no other child, so
/// `getrusage(RUSAGE_CHILDREN)` after the wait holds exactly the child's own figures (std's
/// `Child::wait` gives neither).
fn reap(mut child: std::process::Child) -> (i32, Duration, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let status = child.wait().expect("the child is waited for");
    let code = status.code().unwrap_or(-1);
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage(RUSAGE_CHILDREN)");
    let time = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    (
        code,
        time(usage.user_time()) + time(usage.system_time()),
        u64::try_from(usage.max_rss()).unwrap_or(0),
    )
}

/// One line of progress on stderr.
fn progress(scenario: &str, run: usize, settings: &Settings, sample: &Sample) {
    let mut line = format!(
        "{scenario}: run {run}/{}: {:.2} s",
        settings.runs,
        sample.wall.as_secs_f64()
    );
    if let Some(cpu) = sample.cpu {
        let _ = write!(line, ", {:.2} s CPU", cpu.as_secs_f64());
    }
    if let Some(kib) = sample.rss_kib {
        let _ = write!(line, ", {:.0} MB peak", kib as f64 * 1024.0 / 1e6);
    }
    if let Some(requests) = sample.requests {
        let _ = write!(line, ", {requests} requests");
    }
    eprintln!("{line}");
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// An emulator at 50 ms holding `total` seeded connections, and a project managing the
/// first `managed` of them, declared as they are: every plan of it is a no-op.
async fn plan_world(settings: &Settings, managed: usize, total: usize) -> (Aep, Project, Vec<String>) {
    let aep = Aep::start(PLAN_LATENCY_MS).await;
    aep.seed(total).await;
    let seeded = aep.seeded().await;
    assert_eq!(seeded.len(), total, "every seeded connection is listed");
    let declared: Vec<Declared> = (0..managed).map(Declared::seeded).collect();
    let pairs: Vec<(&Declared, Live)> = declared.iter().map(|c| (c, seeded[&c.index].clone())).collect();
    let ids = pairs.iter().map(|(_, live)| live.id.clone()).collect();
    let project = Project::write(settings, &declared, &state(&pairs));
    (aep, project, ids)
}

/// `flowform plan` of the project, a no-op, `runs` times.
async fn noop_plan(settings: &Settings, name: &str, aep: &Aep, project: &Project) -> Measured {
    let mut measured = Measured::default();
    for run in 1..=settings.runs {
        aep.reset_stats().await;
        let mut ran = flowform(settings, project.path(), &["plan"], &aep.env()).await;
        ran.expect(0, "No changes.");
        ran.sample.requests = Some(aep.requests().await);
        progress(name, run, settings, &ran.sample);
        measured.samples.push(ran.sample);
    }
    measured
}

/// Times `runs` runs of a baseline client (its token included) and counts its requests.
async fn baseline<F, Fut>(settings: &Settings, name: &str, aep: &Aep, client: F) -> Measured
where
    F: Fn(Reader) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut measured = Measured::default();
    for run in 1..=settings.runs {
        aep.reset_stats().await;
        let started = Instant::now();
        client(aep.reader().await).await;
        let sample = Sample {
            wall: started.elapsed(),
            cpu: None,
            rss_kib: None,
            requests: Some(aep.requests().await),
        };
        progress(name, run, settings, &sample);
        measured.samples.push(sample);
    }
    measured
}

/// Baseline: one `GET /connections/{id}` per id, `BASELINE_PARALLELISM` at a time, as
/// Terraform refreshes.
async fn by_id(reader: Reader, ids: Arc<Vec<String>>) {
    in_parallel(ids.len(), BASELINE_PARALLELISM, move |i| {
        let (reader, ids) = (reader.clone(), ids.clone());
        async move {
            let body = reader.get(&format!("/connections/{}", ids[i])).await;
            assert_eq!(body["items"][0]["id"].as_str(), Some(ids[i].as_str()));
        }
    })
    .await;
}

/// Baseline: the whole listing, page after page, following `_links.next.href`, as an aepp
/// script does.
async fn listing(reader: Reader, total: usize) {
    let mut path = format!("/connections?limit={PAGE}&property=connectionSpec.id%3D%3D{SALESFORCE}");
    let mut items = 0;
    loop {
        let page = reader.get(&path).await;
        items += page["items"].as_array().map_or(0, Vec::len);
        match page["_links"]["next"]["href"].as_str() {
            Some(href) if !href.is_empty() => path = href.to_owned(),
            _ => break,
        }
    }
    assert_eq!(items, total, "the listing holds every connection");
}

/// Reference: the ids by filter, `property=id==a,b,…` with 100 a request,
/// `BASELINE_PARALLELISM` requests at a time: what reading exactly the managed connections
/// can cost.
async fn batches(reader: Reader, ids: Arc<Vec<String>>) {
    let batches: Arc<Vec<String>> = Arc::new(ids.chunks(PAGE).map(|chunk| chunk.join(",")).collect());
    let found = Arc::new(AtomicUsize::new(0));
    let counted = found.clone();
    in_parallel(batches.len(), BASELINE_PARALLELISM, move |i| {
        let (reader, batches, found) = (reader.clone(), batches.clone(), found.clone());
        async move {
            let page = reader
                .get(&format!(
                    "/connections?limit={PAGE}&property=id%3D%3D{}",
                    batches[i]
                ))
                .await;
            found.fetch_add(page["items"].as_array().map_or(0, Vec::len), Ordering::Relaxed);
        }
    })
    .await;
    assert_eq!(counted.load(Ordering::Relaxed), ids.len(), "every id is found");
}

/// A no-op plan of N managed among `total`, and the clients it is compared with; `prefix` is
/// the scenarios' name (`noop`, `among`).
async fn plan_scenarios(settings: &Settings, prefix: &str, total: usize) -> PlanFigures {
    let managed = settings.size;
    let mut figures = PlanFigures::default();
    let names = [
        prefix.to_owned(),
        format!("{prefix}-by-id"),
        format!("{prefix}-listing"),
        format!("{prefix}-batches"),
    ];
    if !names.iter().any(|n| settings.wants(n)) {
        return figures;
    }
    eprintln!("{prefix}: seeding {total} connections, {managed} of them managed");
    let (aep, project, ids) = plan_world(settings, managed, total).await;
    if settings.wants(&names[0]) {
        figures.flowform = Some(noop_plan(settings, &names[0], &aep, &project).await);
    }
    let ids = Arc::new(ids);
    if settings.wants(&names[1]) {
        let client = |reader| by_id(reader, ids.clone());
        figures.by_id = Some(baseline(settings, &names[1], &aep, client).await);
    }
    if settings.wants(&names[2]) {
        let client = |reader| listing(reader, total);
        figures.listing = Some(baseline(settings, &names[2], &aep, client).await);
    }
    if settings.wants(&names[3]) {
        let client = |reader| batches(reader, ids.clone());
        figures.batches = Some(baseline(settings, &names[3], &aep, client).await);
    }
    aep.emulator.shutdown().await.expect("the emulator stops");
    figures
}

/// The key `offline-keyed` fingerprints with (a benchmark's, nobody's secret).
const BENCH_DIGEST_KEY: &str = "bench-digest-key-0123456789abcdef0123456789abcdef";

/// `flowform plan --refresh=false` of N managed connections: loading, planning and rendering,
/// with no network. `keyed`: with `FLOWFORM_DIGEST_KEY`; `distinct`: each connection with a
/// password of its own.
async fn offline(settings: &Settings, name: &str, keyed: bool, distinct: bool) -> Measured {
    let declared: Vec<Declared> = (0..settings.size)
        .map(|i| Declared {
            own_password: distinct,
            ..Declared::seeded(i)
        })
        .collect();
    let pairs: Vec<(&Declared, Live)> = declared.iter().map(|c| (c, Live::made_up(c.index))).collect();
    let digester = if keyed {
        Digester::keyed(BENCH_DIGEST_KEY).expect("a long enough key")
    } else {
        Digester::keyless()
    };
    let project = Project::write(settings, &declared, &state_fingerprinted(&pairs, digester));
    let mut env: Vec<(String, String)> = Vec::new();
    if keyed {
        env.push(("FLOWFORM_DIGEST_KEY".to_owned(), BENCH_DIGEST_KEY.to_owned()));
    }
    if distinct {
        env.extend(declared.iter().map(Declared::password));
    }
    let mut measured = Measured::default();
    for run in 1..=settings.runs {
        let ran = flowform(settings, project.path(), &["plan", "--refresh=false"], &env).await;
        ran.expect(0, "No changes.");
        progress(name, run, settings, &ran.sample);
        measured.samples.push(ran.sample);
    }
    measured
}

/// `flowform validate` of `n` connections (offline: no state, no network).
async fn validate(settings: &Settings, n: usize) -> Measured {
    let declared: Vec<Declared> = (0..n).map(Declared::fresh).collect();
    let project = Project::write(settings, &declared, &State::new());
    let mut measured = Measured::default();
    for run in 1..=settings.runs {
        let ran = flowform(settings, project.path(), &["validate"], &[]).await;
        ran.expect(0, "");
        progress(&format!("validate {n}"), run, settings, &ran.sample);
        measured.samples.push(ran.sample);
    }
    measured
}

/// `flowform apply` of `n` creates into an empty sandbox, each run from an empty state.
async fn creates(settings: &Settings, name: &str, aep: &Aep, n: usize, parallelism: usize) -> Measured {
    let declared: Vec<Declared> = (0..n).map(Declared::fresh).collect();
    let parallelism = parallelism.to_string();
    let mut measured = Measured::default();
    for run in 1..=settings.runs {
        aep.reset().await;
        let project = Project::write(settings, &declared, &State::new());
        let mut ran = flowform(
            settings,
            project.path(),
            &["apply", "--auto-approve", "--parallelism", &parallelism],
            &aep.env(),
        )
        .await;
        ran.expect(0, &format!("{n} added, 0 changed, 0 destroyed."));
        ran.sample.requests = Some(aep.requests().await);
        assert_eq!(aep.emulator.len(), n, "every connection is created once");
        progress(name, run, settings, &ran.sample);
        measured.samples.push(ran.sample);
    }
    measured
}

/// The tables each base connection of the graph is read from, a source connection each.
const GRAPH_TABLES: [&str; 2] = ["Contact", "Account"];

/// The source and target connections of the graph over [`Declared::fresh`] base connections
/// `0..n`: sources by key, targets over `datasets` in turn.
fn graph_yaml(n: usize, datasets: &[String]) -> String {
    let mut out = String::with_capacity(n * 400 + 64);
    out.push_str("sandbox: prod\nsources:\n");
    for i in 0..n {
        for table in GRAPH_TABLES {
            let _ = write!(
                out,
                "  src-{i:06}-{lower}:\n    name: \"Bench {i:06} {table}\"\n    connection: bench-{i:06}\n    table: {table}\n",
                lower = table.to_lowercase(),
            );
        }
    }
    out.push_str("targets:\n");
    for i in 0..n {
        let _ = write!(
            out,
            "  tgt-{i:06}:\n    name: \"Bench {i:06} lake\"\n    description: \"benchmark target {i}\"\n    dataset: {}\n",
            datasets[i % datasets.len()]
        );
    }
    out
}

/// Every record's kind and id in the state file of `project`.
fn recorded(project: &Project) -> Vec<(String, String)> {
    let bytes = std::fs::read(project.path().join("state/flowform.json")).expect("the state");
    let state: Value = serde_json::from_slice(&bytes).expect("the state is JSON");
    let mut out = Vec::new();
    for record in state["resources"].as_object().expect("resources").values() {
        let kind = record["kind"].as_str().unwrap_or("connection").to_owned();
        out.push((kind, record["id"].as_str().expect("an id").to_owned()));
    }
    out
}

/// The route a kind's records are read at, by id.
fn route(kind: &str) -> &'static str {
    match kind {
        "connection" => "/connections",
        "source" => "/sourceConnections",
        "target" => "/targetConnections",
        other => panic!("no route for kind `{other}`"),
    }
}

/// Baseline: one `GET /{kind's route}/{id}` per resource, `BASELINE_PARALLELISM` at a time.
async fn graph_by_id(reader: Reader, ids: Arc<Vec<(String, String)>>) {
    in_parallel(ids.len(), BASELINE_PARALLELISM, move |i| {
        let (reader, ids) = (reader.clone(), ids.clone());
        async move {
            let (kind, id) = &ids[i];
            let body = reader.get(&format!("{}/{id}", route(kind))).await;
            assert_eq!(body["items"][0]["id"].as_str(), Some(id.as_str()));
        }
    })
    .await;
}

/// The graph's scenarios: the graph made by flowform's apply with no latency, then a no-op
/// plan of it at 50 ms and the per-id baseline.
async fn graph(settings: &Settings) -> PlanFigures {
    let mut figures = PlanFigures::default();
    if !settings.wants("graph") && !settings.wants("graph-by-id") {
        return figures;
    }
    let n = settings.size;
    let aep = Aep::start(0).await;
    let datasets = datasets(&aep, n.div_ceil(100)).await;
    let declared: Vec<Declared> = (0..n).map(Declared::fresh).collect();
    let project = Project::write(settings, &declared, &State::new());
    std::fs::write(
        project.path().join("connections/graph.yaml"),
        graph_yaml(n, &datasets),
    )
    .expect("the graph's configuration");
    let total = n * (2 + GRAPH_TABLES.len());
    eprintln!(
        "graph: applying {n} base, {} source and {n} target connections (no latency)",
        n * 2
    );
    let made = flowform(
        settings,
        project.path(),
        &["apply", "--auto-approve", "--parallelism", "32"],
        &aep.env(),
    )
    .await;
    made.expect(0, &format!("{total} added, 0 changed, 0 destroyed."));
    let ids = recorded(&project);
    assert_eq!(ids.len(), total, "the state records every resource");
    let answer = aep
        .http
        .put(aep.admin("/faults"))
        .json(&FaultSettings {
            latency_ms: PLAN_LATENCY_MS,
            ..FaultSettings::default()
        })
        .send()
        .await
        .expect("the emulator answers");
    assert!(answer.status().is_success(), "faults: {}", answer.status());
    if settings.wants("graph") {
        figures.flowform = Some(noop_plan(settings, "graph", &aep, &project).await);
    }
    if settings.wants("graph-by-id") {
        let ids = Arc::new(ids);
        let client = |reader| graph_by_id(reader, ids.clone());
        figures.by_id = Some(baseline(settings, "graph-by-id", &aep, client).await);
    }
    aep.emulator.shutdown().await.expect("the emulator stops");
    figures
}

async fn run_all(settings: &Settings) -> Figures {
    let mut figures = Figures {
        noop: plan_scenarios(settings, "noop", settings.size).await,
        among: plan_scenarios(settings, "among", settings.among()).await,
        ..Figures::default()
    };
    if settings.wants("offline") {
        figures.offline = Some(offline(settings, "offline", false, false).await);
    }
    if settings.wants("offline-keyed") {
        figures.offline_keyed = Some(offline(settings, "offline-keyed", true, false).await);
    }
    if settings.wants("offline-distinct") {
        figures.offline_distinct = Some(offline(settings, "offline-distinct", false, true).await);
    }
    if settings.wants("offline-distinct-keyed") {
        figures.offline_distinct_keyed = Some(offline(settings, "offline-distinct-keyed", true, true).await);
    }
    if settings.wants("validate") {
        figures.validate = Some((
            validate(settings, settings.size).await,
            validate(settings, settings.size * 4).await,
        ));
    }
    if settings.wants("creates") {
        let aep = Aep::start(CREATE_LATENCY_MS).await;
        let n = settings.creates();
        figures.creates = Some((
            creates(settings, "creates --parallelism 8", &aep, n, 8).await,
            creates(settings, "creates --parallelism 32", &aep, n, 32).await,
        ));
        aep.emulator.shutdown().await.expect("the emulator stops");
    }
    if settings.wants("creates-big") {
        let aep = Aep::start(0).await;
        figures.creates_big = Some(creates(settings, "creates-big", &aep, settings.size, 8).await);
        aep.emulator.shutdown().await.expect("the emulator stops");
    }
    figures.graph = graph(settings).await;
    figures
}

// ---------------------------------------------------------------------------------------
// The table

/// Where and when the figures were taken.
struct Machine {
    cores: usize,
    cpu: String,
    date: String,
    commit: String,
    rustc: String,
    /// The 1-minute load average when the run began and when it ended: how busy the shared
    /// machine was besides.
    load: (Option<f64>, Option<f64>),
    took: Duration,
}

/// The 1-minute load average (Linux).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Machine {
    fn here(load_before: Option<f64>, took: Duration) -> Machine {
        let output = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let dirty =
            output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("model name"))
                        .and_then(|l| l.split(':').nth(1))
                        .map(|m| m.trim().to_owned())
                })
                .unwrap_or_else(|| "unknown CPU".to_owned()),
            date: httpdate::fmt_http_date(SystemTime::now()),
            commit: output("git", &["rev-parse", "--short", "HEAD"])
                .map(|c| {
                    if dirty {
                        format!("{c} (with uncommitted changes)")
                    } else {
                        c
                    }
                })
                .unwrap_or_else(|| "unknown".to_owned()),
            rustc: output("rustc", &["--version"]).unwrap_or_else(|| "rustc (unknown)".to_owned()),
            load: (load_before, load_average()),
            took,
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn times(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}×")
    } else {
        format!("{ratio:.2}×")
    }
}

fn or_dash<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "—".to_owned(), show)
}

/// `wall (min–max)`, CPU, peak RSS, requests: the cells every row shares.
fn cells(m: &Measured) -> String {
    let (low, high) = m.wall_range();
    let wall = if m.samples.len() > 1 {
        format!(
            "{} ({:.2}–{:.2})",
            secs(m.wall()),
            low.as_secs_f64(),
            high.as_secs_f64()
        )
    } else {
        secs(m.wall())
    };
    format!(
        "{wall} | {} | {} | {}",
        or_dash(m.cpu(), secs),
        or_dash(m.rss_mb(), |mb| format!("{mb:.0} MB")),
        or_dash(m.requests(), thousands)
    )
}

/// The rows of flowform's no-op plan of a graph and of the per-id baseline at each kind's
/// route, the baseline's wall time as a multiple of flowform's.
fn flowform_and_by_id(out: &mut String, p: &PlanFigures) {
    let ours = p.flowform.as_ref().map(Measured::wall);
    for (i, (label, m)) in [
        ("**flowform plan**", &p.flowform),
        (
            "baseline: one GET per id at its kind's route, parallelism 10 (Terraform's way)",
            &p.by_id,
        ),
    ]
    .iter()
    .enumerate()
    {
        let Some(m) = m else {
            let _ = writeln!(out, "| {label} | not run | | | | |");
            continue;
        };
        let ratio = match (i, ours) {
            (0, _) | (_, None) => "—".to_owned(),
            (_, Some(ours)) => times(m.wall().as_secs_f64() / ours.as_secs_f64()),
        };
        let _ = writeln!(out, "| {label} | {} | {ratio} |", cells(m));
    }
}

/// A goal's row: what, the target, the figure, and whether it is met.
fn goal(out: &mut String, what: &str, target: &str, figure: Option<(String, bool)>) {
    let (figure, met) = match figure {
        Some((figure, met)) => (figure, if met { "✔" } else { "✘" }),
        None => ("not run".to_owned(), "—"),
    };
    let _ = writeln!(out, "| {what} | {target} | {figure} | {met} |");
}

/// The Markdown of a run: everything `BENCHMARKS.md` shows between its markers.
fn render(settings: &Settings, machine: &Machine, f: &Figures) -> String {
    let n = settings.size;
    let count = |n: usize| thousands(n as u64);
    let mut out = String::new();
    let _ = writeln!(out, "## The figures\n");
    let _ = writeln!(
        out,
        "Reproduce with `cargo bench --bench plan` (medians of `FLOWFORM_BENCH_RUNS`={} runs; see \
         [`benches/plan.rs`](benches/plan.rs)). Taken {} at commit {}, {}, on {} core{} ({}), \
         in {:.0} minutes. The cores are shared with other engineers' work (load average {} at \
         the start, {} at the end), and the emulator, the baselines' client and flowform share \
         them too: read the ratios, not the absolute figures.\n",
        settings.runs,
        machine.date,
        machine.commit,
        machine.rustc,
        machine.cores,
        if machine.cores == 1 { "" } else { "s" },
        machine.cpu,
        machine.took.as_secs_f64() / 60.0,
        or_dash(machine.load.0, |l| format!("{l:.1}")),
        or_dash(machine.load.1, |l| format!("{l:.1}")),
    );
    let _ = writeln!(
        out,
        "Wall time is the median of the runs (their range in brackets). CPU (user + system) and \
         peak RSS are flowform's own process, from `getrusage(2)` of its parent; the baselines run inside the \
         benchmark's process, beside the emulator, so they have none. Requests are what the \
         emulator served, Flow Service and IMS (its token) together.\n"
    );
    for (title, p) in [
        (
            format!(
                "No-op plan, {} managed connections, {PLAN_LATENCY_MS} ms a request",
                count(n)
            ),
            &f.noop,
        ),
        (
            format!(
                "No-op plan, {} managed among {}, {PLAN_LATENCY_MS} ms a request",
                count(n),
                count(settings.among())
            ),
            &f.among,
        ),
    ] {
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| client | wall | CPU | peak RSS | requests | flowform is faster by |\n|---|---|---|---|---|---|"
        );
        let ours = p.flowform.as_ref().map(Measured::wall);
        let rows = [
            ("**flowform plan**", &p.flowform),
            (
                "baseline: one `GET /connections/{id}` per id, parallelism 10 (Terraform's way)",
                &p.by_id,
            ),
            (
                "baseline: sequential paged listing, `_links.next.href` (an aepp script)",
                &p.listing,
            ),
            (
                "reference: the ids by `property=id==…`, 100 a request, parallelism 10",
                &p.batches,
            ),
        ];
        for (i, (label, m)) in rows.iter().enumerate() {
            let Some(m) = m else {
                let _ = writeln!(out, "| {label} | not run | | | | |");
                continue;
            };
            let ratio = match (i, ours) {
                (0, _) | (_, None) => "—".to_owned(),
                (_, Some(ours)) => times(m.wall().as_secs_f64() / ours.as_secs_f64()),
            };
            let _ = writeln!(out, "| {label} | {} | {ratio} |", cells(m));
        }
        out.push('\n');
    }

    let _ = writeln!(
        out,
        "### No-op plan of a graph: {} base, {} source and {} target connections, {PLAN_LATENCY_MS} ms a request\n",
        count(n),
        count(2 * n),
        count(n)
    );
    let _ = writeln!(
        out,
        "Made by `flowform apply` at no latency first (two source connections by key on each base \
         connection, the targets over {} datasets), so the state is flowform's own.\n",
        count(n.div_ceil(100))
    );
    let _ = writeln!(
        out,
        "| client | wall | CPU | peak RSS | requests | flowform is faster by |\n|---|---|---|---|---|---|"
    );
    flowform_and_by_id(&mut out, &f.graph);
    out.push('\n');

    let _ = writeln!(out, "### Offline: loading, planning, rendering, validating\n");
    let _ = writeln!(
        out,
        "| command | wall | CPU | peak RSS | requests |\n|---|---|---|---|---|"
    );
    let variants = [
        (
            &f.offline,
            "keyless fingerprints, the secrets every connection shares",
        ),
        (
            &f.offline_keyed,
            "`FLOWFORM_DIGEST_KEY` set, the secrets every connection shares",
        ),
        (
            &f.offline_distinct,
            "keyless fingerprints, a password per connection",
        ),
        (
            &f.offline_distinct_keyed,
            "`FLOWFORM_DIGEST_KEY` set, a password per connection",
        ),
    ];
    for (m, how) in variants {
        if let Some(m) = m {
            let _ = writeln!(
                out,
                "| `flowform plan --refresh=false`, {} managed (load + plan + render, no network), {how} | {} |",
                count(n),
                cells(m)
            );
        }
    }
    if let Some((small, large)) = &f.validate {
        for (size, m) in [(n, small), (4 * n, large)] {
            let _ = writeln!(
                out,
                "| `flowform validate`, {} connections | {} |",
                count(size),
                cells(m)
            );
        }
    }
    out.push('\n');

    let _ = writeln!(out, "### Applying creates\n");
    let _ = writeln!(
        out,
        "| apply | wall | CPU | peak RSS | requests | requests per create | ideal (N × latency ÷ parallelism) | wall ÷ ideal |\n|---|---|---|---|---|---|---|---|"
    );
    let creates = settings.creates();
    let ideal = |parallelism: usize| {
        Duration::from_millis(CREATE_LATENCY_MS * creates as u64) / u32::try_from(parallelism).unwrap_or(1)
    };
    let per_create =
        |m: &Measured, n: usize| or_dash(m.requests(), |r| format!("{:.3}", r as f64 / n as f64));
    if let Some((p8, p32)) = &f.creates {
        for (parallelism, m) in [(8, p8), (32, p32)] {
            let _ = writeln!(
                out,
                "| {} creates, {CREATE_LATENCY_MS} ms, `--parallelism {parallelism}` | {} | {} | {} | {} |",
                count(creates),
                cells(m),
                per_create(m, creates),
                secs(ideal(parallelism)),
                times(m.wall().as_secs_f64() / ideal(parallelism).as_secs_f64())
            );
        }
    }
    if let Some(m) = &f.creates_big {
        let _ = writeln!(
            out,
            "| {} creates, no latency, `--parallelism 8` (for its CPU) | {} | {} | — | — |",
            count(n),
            cells(m),
            per_create(m, n)
        );
    }
    out.push('\n');

    let _ = writeln!(
        out,
        "### Against the issues' goals (15, and 20 where it says so)\n"
    );
    let _ = writeln!(out, "| goal | target | measured | |\n|---|---|---|---|");
    let noop = f.noop.flowform.as_ref();
    let faster = |baseline: &Option<Measured>| {
        noop.zip(baseline.as_ref())
            .map(|(ours, theirs)| theirs.wall().as_secs_f64() / ours.wall().as_secs_f64())
    };
    goal(
        &mut out,
        &format!("no-op plan of {}: faster than one GET per id", count(n)),
        "≥ 30×",
        faster(&f.noop.by_id).map(|r| (times(r), r >= 30.0)),
    );
    goal(
        &mut out,
        &format!("no-op plan of {}: faster than the sequential listing", count(n)),
        "≥ 4×",
        faster(&f.noop.listing).map(|r| (times(r), r >= 4.0)),
    );
    let most = n.div_ceil(PAGE) as u64 + 10;
    goal(
        &mut out,
        &format!("no-op plan of {}: requests", count(n)),
        &format!("≤ {}", thousands(most)),
        noop.and_then(Measured::requests)
            .map(|r| (thousands(r), r <= most)),
    );
    goal(
        &mut out,
        &format!(
            "no-op plan of {} among {} as fast as among {} (read here: within 1.2×)",
            count(n),
            count(settings.among()),
            count(n)
        ),
        "≤ 1.2×",
        noop.zip(f.among.flowform.as_ref()).map(|(small, large)| {
            let r = large.wall().as_secs_f64() / small.wall().as_secs_f64();
            (format!("{} the time", times(r)), r <= 1.2)
        }),
    );
    for (m, how) in [
        (&f.offline, "keyless, shared secrets"),
        (&f.offline_keyed, "keyed, shared secrets"),
        (&f.offline_distinct, "keyless, a password per connection"),
        (&f.offline_distinct_keyed, "keyed, a password per connection"),
    ] {
        goal(
            &mut out,
            &format!(
                "load + plan + render of {}, CPU (`plan --refresh=false`), {how}",
                count(n)
            ),
            "≤ 300 ms",
            m.as_ref()
                .and_then(Measured::cpu)
                .map(|cpu| (secs(cpu), cpu <= Duration::from_millis(300))),
        );
    }
    goal(
        &mut out,
        &format!(
            "load + plan + render of {}, CPU, keyless, shared secrets: not past the 0.41 s before kinds (issue 20)",
            count(n)
        ),
        "≤ 0.41 s",
        f.offline
            .as_ref()
            .and_then(Measured::cpu)
            .map(|cpu| (secs(cpu), cpu <= Duration::from_millis(410))),
    );
    let graph_total = 4 * n;
    goal(
        &mut out,
        &format!(
            "no-op plan of a graph of {} resources: wall (issue 20)",
            count(graph_total)
        ),
        "≤ 2 s",
        f.graph
            .flowform
            .as_ref()
            .map(|m| (secs(m.wall()), m.wall() <= Duration::from_secs(2))),
    );
    // 450 requests for 40,000 resources: scaled with N at other sizes, never under 20.
    let graph_most = (450 * n as u64).div_ceil(10_000).max(20);
    goal(
        &mut out,
        &format!(
            "no-op plan of a graph of {} resources: requests (issue 20)",
            count(graph_total)
        ),
        &format!("≤ {}", thousands(graph_most)),
        f.graph
            .flowform
            .as_ref()
            .and_then(Measured::requests)
            .map(|r| (thousands(r), r <= graph_most)),
    );
    goal(
        &mut out,
        &format!("`validate` linear: CPU of {} ÷ CPU of {}", count(4 * n), count(n)),
        "≤ 4.5×",
        f.validate.as_ref().and_then(|(small, large)| {
            let r = large.cpu()?.as_secs_f64() / small.cpu()?.as_secs_f64();
            Some((times(r), r <= 4.5))
        }),
    );
    goal(
        &mut out,
        &format!(
            "apply of {} creates, CPU (all of flowform's, its HTTP client included)",
            count(n)
        ),
        "≤ 1 s",
        f.creates_big
            .as_ref()
            .and_then(Measured::cpu)
            .map(|cpu| (secs(cpu), cpu <= Duration::from_secs(1))),
    );
    goal(
        &mut out,
        &format!("peak RSS, no-op plan of {}", count(n)),
        "≤ 150 MB",
        noop.and_then(Measured::rss_mb)
            .map(|mb| (format!("{mb:.0} MB"), mb <= 150.0)),
    );
    goal(
        &mut out,
        &format!(
            "{} creates at {CREATE_LATENCY_MS} ms, `--parallelism 32`: wall ÷ ideal",
            count(creates)
        ),
        "≤ 1.1×",
        f.creates.as_ref().map(|(_, p32)| {
            let r = p32.wall().as_secs_f64() / ideal(32).as_secs_f64();
            (times(r), r <= 1.1)
        }),
    );
    out
}

/// Replaces what lies between the markers of `BENCHMARKS.md` (the file is made if missing;
/// everything outside the markers, such as the profile, is kept).
fn write_benchmarks(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let block = format!("{BEGIN}\n{table}{END}");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &old[..begin], &old[end + END.len()..])
        }
        _ => format!("# Benchmarks\n\n{block}\n"),
    };
    if new != old {
        std::fs::write(&path, new).expect("BENCHMARKS.md is written");
    }
    eprintln!("wrote {}", path.display());
}

fn main() {
    // Before any runtime starts: the intermediate must stay small.
    if let Some(into) = std::env::var_os(INTERMEDIATE) {
        intermediate(&into);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(bench());
}

async fn bench() {
    let settings = Settings::from_env();
    std::fs::create_dir_all(&settings.scratch).expect("target/bench-plan");
    eprintln!(
        "flowform: {}; N = {}, {} run{} per scenario{}",
        settings.binary.display(),
        settings.size,
        settings.runs,
        if settings.runs == 1 { "" } else { "s" },
        if settings.writes() {
            ""
        } else {
            " (BENCHMARKS.md is left alone)"
        }
    );
    let (started, load) = (Instant::now(), load_average());
    let pipelines_only = settings
        .only
        .as_ref()
        .is_some_and(|only| only.iter().all(|s| PIPELINE_SCENARIOS.contains(&s.as_str())));
    if !pipelines_only {
        let figures = run_all(&settings).await;
        let table = render(&settings, &Machine::here(load, started.elapsed()), &figures);
        println!("{table}");
        if settings.writes() {
            write_benchmarks(&table);
        }
    }
    if PIPELINE_SCENARIOS.iter().any(|s| settings.wants(s)) {
        let (began, load) = (Instant::now(), load_average());
        let figures = pipelines(&settings).await;
        let table = render_pipelines(&settings, &Machine::here(load, began.elapsed()), &figures);
        println!("{table}");
        if settings.writes_pipelines() {
            write_pipelines(&table);
        }
    }
    eprintln!("the whole run took {:.0} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------
// Pipelines (issue 21): base connection, two source connections, a target connection, two
// mapping sets and two dataflows each.

/// The scenarios of the pipelines, which have a table of their own in `BENCHMARKS.md`.
const PIPELINE_SCENARIOS: [&str; 3] = ["pipelines", "pipelines-by-id", "pipelines-apply"];
const PIPELINES_BEGIN: &str =
    "<!-- bench:pipelines:begin (written by `cargo bench --bench plan`; edit outside these markers) -->";
const PIPELINES_END: &str = "<!-- bench:pipelines:end -->";
/// New pipelines the apply scenario creates, and its parallelism.
const APPLY_PIPELINES: usize = 200;
const APPLY_PARALLELISM: usize = 16;

/// The pipelines' figures.
#[derive(Default)]
struct PipelineFigures {
    /// How many pipelines the no-op plan reads.
    count: usize,
    plan: PlanFigures,
    /// The apply of a saved plan of new pipelines, and its critical-path ideal.
    apply: Option<(Measured, Duration)>,
    /// The same planned and applied in one command (`apply --auto-approve`).
    apply_whole: Option<Measured>,
}

/// The sources, targets, mapping sets and dataflows of pipelines `from..to` over
/// [`Declared::fresh`] base connections, targets over `datasets` in turn.
fn pipelines_yaml(from: usize, to: usize, datasets: &[String]) -> String {
    let mut sources = String::from("sources:\n");
    let mut targets = String::from("targets:\n");
    let mut mappings = String::from("mappings:\n");
    let mut flows = String::from("flows:\n");
    for i in from..to {
        let _ = write!(
            targets,
            "  tgt-{i:06}:\n    name: \"Bench {i:06} lake\"\n    dataset: {}\n",
            datasets[i % datasets.len()]
        );
        for table in GRAPH_TABLES {
            let t = table.to_lowercase();
            let _ = write!(
                sources,
                "  src-{i:06}-{t}:\n    name: \"Bench {i:06} {table}\"\n    connection: bench-{i:06}\n    table: {table}\n"
            );
            let _ = write!(
                mappings,
                "  map-{i:06}-{t}:\n    name: \"Bench {i:06} {table} to profile\"\n    mappings:\n      - {{source: Id, destination: _flowformdemo.crmId}}\n      - {{source: Email, destination: personalEmail.address}}\n"
            );
            let _ = write!(
                flows,
                "  flow-{i:06}-{t}:\n    name: \"Bench {i:06} {table} into the lake\"\n    source: src-{i:06}-{t}\n    target: tgt-{i:06}\n    mapping: map-{i:06}-{t}\n    flowSpec: CRMToAEP\n    deltaColumn: {{name: LastModifiedDate}}\n    schedule: {{frequency: hour, interval: 1, startTime: 2026-12-01T06:00:00Z}}\n"
            );
        }
    }
    format!("sandbox: prod\n{sources}{targets}{mappings}{flows}")
}

/// How many resources a pipeline is.
const PER_PIPELINE: usize = 8;

/// `count` datasets added to the emulator (the demo profile schema's): their ids.
async fn datasets(aep: &Aep, count: usize) -> Vec<String> {
    let added: Value = aep
        .http
        .post(aep.admin("/datasets"))
        .json(&json!({ "count": count, "prefix": "Bench lake" }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("datasets are added")
        .json()
        .await
        .expect("their ids");
    added["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("an id").to_owned())
        .collect()
}

/// A project of `n` pipelines, nothing applied.
async fn pipelines_project(settings: &Settings, aep: &Aep, n: usize) -> Project {
    let datasets = datasets(aep, n.div_ceil(100)).await;
    let declared: Vec<Declared> = (0..n).map(Declared::fresh).collect();
    let project = Project::write(settings, &declared, &State::new());
    std::fs::write(
        project.path().join("connections/pipelines.yaml"),
        pipelines_yaml(0, n, &datasets),
    )
    .expect("the pipelines' configuration");
    project
}

/// The route a pipeline's record is read at, by id, and whether its answer is AEP's
/// `{items}` wrapper (Data Prep answers the object bare).
fn pipeline_route(kind: &str) -> (&'static str, bool) {
    match kind {
        "mapping" => ("/../conversion/mappingSets", false),
        "flow" => ("/flows", true),
        other => (route(other), true),
    }
}

/// Baseline: one GET per resource at its kind's route, `BASELINE_PARALLELISM` at a time.
async fn pipelines_by_id(reader: Reader, ids: Arc<Vec<(String, String)>>) {
    in_parallel(ids.len(), BASELINE_PARALLELISM, move |i| {
        let (reader, ids) = (reader.clone(), ids.clone());
        async move {
            let (kind, id) = &ids[i];
            let (route, wrapped) = pipeline_route(kind);
            let body = reader.get(&format!("{route}/{id}")).await;
            let got = if wrapped {
                &body["items"][0]["id"]
            } else {
                &body["id"]
            };
            assert_eq!(got.as_str(), Some(id.as_str()));
        }
    })
    .await;
}

/// The critical-path ideal of an apply of `n` new pipelines: per level of the chain (base
/// connections, targets and mapping sets; sources; dataflows), the level's creates in rounds
/// of `parallelism`, each round one latency.
fn critical_path(n: usize, parallelism: usize, latency: Duration) -> Duration {
    let levels = [n + n + 2 * n, 2 * n, 2 * n];
    let rounds: usize = levels.iter().map(|width| width.div_ceil(parallelism)).sum();
    latency * rounds as u32
}

async fn pipelines(settings: &Settings) -> PipelineFigures {
    let mut figures = PipelineFigures::default();
    let n = settings.size / 5;
    figures.count = n;
    if settings.wants("pipelines") || settings.wants("pipelines-by-id") {
        let aep = Aep::start(0).await;
        let project = pipelines_project(settings, &aep, n).await;
        let total = n * PER_PIPELINE;
        eprintln!("pipelines: applying {n} pipelines, {total} resources (no latency)");
        let made = flowform(
            settings,
            project.path(),
            &["apply", "--auto-approve", "--parallelism", "32"],
            &aep.env(),
        )
        .await;
        made.expect(0, &format!("{total} added, 0 changed, 0 destroyed."));
        let ids = recorded(&project);
        assert_eq!(ids.len(), total, "the state records every resource");
        let answer = aep
            .http
            .put(aep.admin("/faults"))
            .json(&FaultSettings {
                latency_ms: PLAN_LATENCY_MS,
                ..FaultSettings::default()
            })
            .send()
            .await
            .expect("the emulator answers");
        assert!(answer.status().is_success(), "faults: {}", answer.status());
        if settings.wants("pipelines") {
            figures.plan.flowform = Some(noop_plan(settings, "pipelines", &aep, &project).await);
        }
        if settings.wants("pipelines-by-id") {
            let ids = Arc::new(ids);
            let client = |reader| pipelines_by_id(reader, ids.clone());
            figures.plan.by_id = Some(baseline(settings, "pipelines-by-id", &aep, client).await);
        }
        aep.emulator.shutdown().await.expect("the emulator stops");
    }
    if settings.wants("pipelines-apply") {
        let n = if settings.smoke { 20 } else { APPLY_PIPELINES };
        let latency = Duration::from_millis(CREATE_LATENCY_MS);
        let parallelism = APPLY_PARALLELISM.to_string();
        let added = format!("{} added, 0 changed, 0 destroyed.", n * PER_PIPELINE);
        let (mut saved, mut whole) = (Measured::default(), Measured::default());
        for run in 1..=settings.runs {
            // The reviewed plan, saved, then carried out (what a pipeline's CI does).
            let aep = Aep::start(CREATE_LATENCY_MS).await;
            let project = pipelines_project(settings, &aep, n).await;
            flowform(
                settings,
                project.path(),
                &["plan", "--parallelism", &parallelism, "--out", "plan.out"],
                &aep.env(),
            )
            .await
            .expect(0, "to add, 0 to change, 0 to destroy.");
            aep.reset_stats().await;
            let mut ran = flowform(
                settings,
                project.path(),
                &["apply", "--parallelism", &parallelism, "plan.out"],
                &aep.env(),
            )
            .await;
            ran.expect(0, &added);
            ran.sample.requests = Some(aep.requests().await);
            progress("pipelines-apply (saved plan)", run, settings, &ran.sample);
            saved.samples.push(ran.sample);
            aep.emulator.shutdown().await.expect("the emulator stops");
            // Planned and carried out in one command.
            let aep = Aep::start(CREATE_LATENCY_MS).await;
            let project = pipelines_project(settings, &aep, n).await;
            aep.reset_stats().await;
            let mut ran = flowform(
                settings,
                project.path(),
                &["apply", "--auto-approve", "--parallelism", &parallelism],
                &aep.env(),
            )
            .await;
            ran.expect(0, &added);
            ran.sample.requests = Some(aep.requests().await);
            progress("pipelines-apply (--auto-approve)", run, settings, &ran.sample);
            whole.samples.push(ran.sample);
            aep.emulator.shutdown().await.expect("the emulator stops");
        }
        figures.apply = Some((saved, critical_path(n, APPLY_PARALLELISM, latency)));
        figures.apply_whole = Some(whole);
    }
    figures
}

/// The pipelines' table.
fn render_pipelines(settings: &Settings, machine: &Machine, f: &PipelineFigures) -> String {
    let n = f.count;
    let count = |n: usize| thousands(n as u64);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Pipelines (issue 21)\n\nReproduce with `FLOWFORM_BENCH_ONLY=pipelines,pipelines-by-id,pipelines-apply cargo bench --bench plan` \
         (medians of {} runs; part of the full run too). Taken {} at commit {}, {}, on {} core{} ({}), in {:.0} minutes \
         (load average {} at the start, {} at the end).\n",
        settings.runs,
        machine.date,
        machine.commit,
        machine.rustc,
        machine.cores,
        if machine.cores == 1 { "" } else { "s" },
        machine.cpu,
        machine.took.as_secs_f64() / 60.0,
        or_dash(machine.load.0, |l| format!("{l:.1}")),
        or_dash(machine.load.1, |l| format!("{l:.1}")),
    );
    let _ = writeln!(
        out,
        "### No-op plan of {} pipelines, {PLAN_LATENCY_MS} ms a request\n\n{} base connections, {} source connections, \
         {} target connections, {} mapping sets and {} dataflows, made by `flowform apply` at no latency first \
         (so the state is flowform's own).\n",
        count(n),
        count(n),
        count(2 * n),
        count(n),
        count(2 * n),
        count(2 * n)
    );
    let _ = writeln!(
        out,
        "| client | wall | CPU | peak RSS | requests | flowform is faster by |\n|---|---|---|---|---|---|"
    );
    flowform_and_by_id(&mut out, &f.plan);
    let apply_n = if settings.smoke { 20 } else { APPLY_PIPELINES };
    let _ = writeln!(
        out,
        "\n### Apply of {} new pipelines ({} resources), {CREATE_LATENCY_MS} ms a request, `--parallelism {APPLY_PARALLELISM}`\n\n\
         The reviewed plan (`plan --out plan.out`, not timed) carried out by `flowform apply plan.out`, and the same \
         planned and applied in one command (`apply --auto-approve`: its plan's live checks included, each mapping set \
         validated by Data Prep). The critical-path ideal is the chain's depth in rounds: per level (base connections, \
         target connections and mapping sets; source connections; dataflows), ⌈its creates ÷ {APPLY_PARALLELISM}⌉ \
         rounds of one request's latency.\n",
        count(apply_n),
        count(apply_n * PER_PIPELINE)
    );
    let _ = writeln!(
        out,
        "| command | wall | CPU | peak RSS | requests | ideal | wall ÷ ideal |\n|---|---|---|---|---|---|---|"
    );
    let ideal = f.apply.as_ref().map(|(_, ideal)| *ideal);
    for (label, m) in [
        ("**flowform apply plan.out**", f.apply.as_ref().map(|(m, _)| m)),
        ("flowform apply --auto-approve", f.apply_whole.as_ref()),
    ] {
        match (m, ideal) {
            (Some(m), Some(ideal)) => {
                let _ = writeln!(
                    out,
                    "| {label} | {} | {} | {} |",
                    cells(m),
                    secs(ideal),
                    times(m.wall().as_secs_f64() / ideal.as_secs_f64())
                );
            }
            _ => {
                let _ = writeln!(out, "| {label} | not run | | | | | |");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n### Goals\n\n| goal | target | figure | met |\n|---|---|---|---|"
    );
    goal(
        &mut out,
        &format!("no-op plan of {} pipelines: wall", count(n)),
        "≤ 2 s",
        f.plan
            .flowform
            .as_ref()
            .map(|m| (secs(m.wall()), m.wall() <= Duration::from_secs(2))),
    );
    // 250 requests for 2,000 pipelines: scaled at other sizes, never under 20.
    let most = (250 * n as u64).div_ceil(2_000).max(20);
    goal(
        &mut out,
        &format!("no-op plan of {} pipelines: requests", count(n)),
        &format!("≤ {}", thousands(most)),
        f.plan
            .flowform
            .as_ref()
            .and_then(Measured::requests)
            .map(|r| (thousands(r), r <= most)),
    );
    goal(
        &mut out,
        &format!(
            "apply of {} pipelines (a saved plan) at `--parallelism {APPLY_PARALLELISM}`: wall ÷ critical-path ideal",
            count(apply_n)
        ),
        "≤ 1.3×",
        f.apply.as_ref().map(|(m, ideal)| {
            let r = m.wall().as_secs_f64() / ideal.as_secs_f64();
            (times(r), r <= 1.3)
        }),
    );
    out
}

/// Replaces what lies between the pipelines' markers of `BENCHMARKS.md` (added at its end if
/// missing).
fn write_pipelines(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let block = format!("{PIPELINES_BEGIN}\n{table}{PIPELINES_END}");
    let new = match (old.find(PIPELINES_BEGIN), old.find(PIPELINES_END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!("{}{block}{}", &old[..begin], &old[end + PIPELINES_END.len()..])
        }
        _ => format!("{}\n{block}\n", old.trim_end()),
    };
    if new != old {
        std::fs::write(&path, new).expect("BENCHMARKS.md is written");
    }
    eprintln!("wrote the pipelines' figures in {}", path.display());
}
