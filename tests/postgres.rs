//! The state in PostgreSQL, end to end, against a real server: several clones of one infra
//! repository applying at once on one shared state, a run killed or cut off from the
//! database mid-apply, two states claiming one connection, and moving a state in and out.
//!
//! The server is `FLOWFORM_TEST_DATABASE_URL` (default: the project machines' local one,
//! `postgres://postgres@127.0.0.1:5432/test`), each test in a schema of its own. Where none
//! answers the tests say so loudly and pass, unless `FLOWFORM_REQUIRE_POSTGRES=1` (as
//! `.ci/run` sets), which makes that a failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowform::settings::Environment;
use flowform::state::lock::Holder;
use flowform::state::store::{Locking, Missing};
use flowform::state::{Location, State, Store};
use flowform_emulator::Options;
use flowform_emulator::faults::FaultSettings;
use tokio::sync::Mutex;

use crate::common::Run;
use crate::world::{World, copy_dir};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The tests here run one at a time: one of them restarts the server.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// A schema of this test's own on the test server.
pub struct Pg {
    client: tokio_postgres::Client,
    base: String,
    pub schema: String,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Pg {
    /// The test server, or `None` (said loudly) when none answers and it is not required.
    pub async fn connect() -> Option<Pg> {
        let serial = SERIAL.lock().await;
        let base = std::env::var("FLOWFORM_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let required = std::env::var("FLOWFORM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let client = match tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(e) if required => {
                panic!("FLOWFORM_REQUIRE_POSTGRES=1 but the test database `{base}` does not answer: {e}")
            }
            Err(e) => {
                eprintln!(
                    "\n!!!!!!!! SKIPPED: no PostgreSQL at `{base}` ({e}); the PostgreSQL state is NOT tested. Start one, or set FLOWFORM_TEST_DATABASE_URL (FLOWFORM_REQUIRE_POSTGRES=1 makes this a failure) !!!!!!!!\n"
                );
                return None;
            }
        };
        let schema = format!(
            "ff_test_{}",
            flowform::state::uuid_v4().replace('-', "")[..16].to_owned()
        );
        Some(Pg {
            client,
            base,
            schema,
            _serial: serial,
        })
    }

    /// The URL of state `name` in this test's schema.
    pub fn url(&self, name: &str) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}state={name}&schema={}&sslmode=disable",
            self.base, self.schema
        )
    }

    pub fn location(&self, name: &str) -> Location {
        Location::parse(std::ffi::OsStr::new(&self.url(name))).unwrap()
    }

    /// The state `name` as it is now (read without the lock).
    pub fn recorded(&self, name: &str) -> State {
        let env = Environment::default();
        Store::open(
            &self.location(name),
            Locking::None,
            &Holder::me("test", &env),
            Missing::Refuse,
            &env,
        )
        .unwrap()
        .state()
        .clone()
    }

    /// Runs `sql` (`{s}` is this test's schema), as another program writing the tables would.
    pub async fn execute(&self, sql: &str) {
        let sql = sql.replace("{s}", &self.schema);
        self.client.batch_execute(&sql).await.unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sql.replace("{s}", &self.schema);
        self.client.query_one(&sql, &[]).await.unwrap().get(0)
    }

    /// Ends every session of flowform process `pid` (as a server restart would).
    pub async fn terminate(&self, pid: u32) -> i64 {
        self.client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1",
                &[&format!("flowform:{pid}:%")],
            )
            .await
            .unwrap()
            .len() as i64
    }

    /// A new session to the server (after a restart), in the same schema.
    pub async fn reconnect(self) -> Pg {
        let (client, connection) = tokio_postgres::connect(&self.base, tokio_postgres::NoTls)
            .await
            .expect("the server is back after the restart");
        tokio::spawn(connection);
        Pg { client, ..self }
    }

    pub async fn drop_schema(self) {
        self.client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema))
            .await
            .unwrap();
    }
}

/// A clone of the infra repository in `dir`: the examples and a project file whose state is
/// `url`.
fn clone_at(world: &World, name: &str, url: &str) -> PathBuf {
    let dir = world.dir.path().join(name);
    copy_dir(&crate::common::root().join("examples"), &dir.join("examples"));
    // The base connections alone (as `World::new`'s): the graph has tests of its own.
    std::fs::remove_file(dir.join("examples").join(crate::world::PIPELINE)).unwrap();
    std::fs::remove_file(dir.join("examples").join(crate::world::DATAFLOWS)).unwrap();
    std::fs::write(
        dir.join("flowform.toml"),
        format!("config = [\"examples\"]\nstate = \"{url}\"\n"),
    )
    .unwrap();
    dir
}

/// Replaces `from` by `to` in a clone's configuration file.
fn edit(clone: &Path, file: &str, from: &str, to: &str) {
    let path = clone.join("examples").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

async fn slow_world(latency_ms: u64) -> World {
    World::bare(Options {
        faults: FaultSettings {
            latency_ms,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await
}

/// Starts flowform in `cwd` with `args`, against the world's emulator.
fn spawn(world: &World, cwd: &Path, args: &[&str]) -> std::process::Child {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowform"));
    command
        .args(args)
        .env_clear()
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in world.env() {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

async fn wait(child: std::process::Child) -> Run {
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    Run { output }
}

/// Polls until `sql` counts at least `n`, while `child` runs.
async fn until(pg: &Pg, child: &mut std::process::Child, sql: &str, n: i64) {
    let started = Instant::now();
    while pg.count(sql).await < n {
        assert!(child.try_wait().unwrap().is_none(), "the run finished too soon");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts the emulator holds `n` connections, no name twice, and the state `name` records
/// each of them with nothing pending.
async fn converged(world: &World, pg: &Pg, name: &str, n: usize) {
    let stored = world.stored().await;
    let mut names: Vec<&str> = stored
        .iter()
        .map(|c| c["item"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!((count, names.len()), (n, n), "no duplicate: {names:?}");
    let state = pg.recorded(name);
    assert_eq!(state.resources.len(), n, "no lost id");
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    for c in &stored {
        let id = c["item"]["id"].as_str().unwrap();
        assert!(
            state.resources.values().any(|r| r.id == id),
            "{id} is in the state"
        );
    }
}

#[tokio::test]
async fn two_clones_apply_at_once_one_runs_the_other_is_refused_or_waits() {
    let Some(pg) = Pg::connect().await else { return };
    let world = slow_world(150).await;
    let url = pg.url("team");
    let alice = clone_at(&world, "alice", &url);
    let bob = clone_at(&world, "bob", &url);
    world.run_in(&alice, &["init"]).await.expect_code(0);
    // Bob's clone finds the state Alice started: it is the project's one state.
    let found = world.run_in(&bob, &["init"]).await.expect_code(0);
    assert!(
        found.stdout().contains("exists: 0 connections managed"),
        "{}",
        found.stdout()
    );

    // At once, without waiting: one runs, the other is refused, naming the holder.
    let a = spawn(&world, &alice, &["apply", "--auto-approve"]);
    let b = spawn(&world, &bob, &["apply", "--auto-approve"]);
    let (a, b) = tokio::join!(wait(a), wait(b));
    let (ran, refused) = match (a.code(), b.code()) {
        (Some(0), Some(1)) => (a, b),
        (Some(1), Some(0)) => (b, a),
        _ => panic!("one runs, one is refused:\n{}\n---\n{}", a.stderr(), b.stderr()),
    };
    assert!(ran.stdout().contains("3 added"), "{}", ran.stdout());
    let said = refused.stderr();
    assert!(said.contains("is locked by `flowform apply` (pid "), "{said}");
    assert!(
        said.contains("help: wait for it to finish, or pass `--lock-timeout 5m`"),
        "{said}"
    );
    assert!(!said.contains("Creating"), "nothing was sent: {said}");
    converged(&world, &pg, "team", 3).await;

    // With --lock-timeout the second waits, then finds nothing to do: the other's ids are
    // in the one state, so nothing is created twice and nothing reverted.
    edit(
        &alice,
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: ACME Salesforce (renamed)",
    );
    edit(
        &bob,
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: ACME Salesforce (renamed)",
    );
    let a = spawn(
        &world,
        &alice,
        &["apply", "--auto-approve", "--lock-timeout", "2m"],
    );
    let b = spawn(&world, &bob, &["apply", "--auto-approve", "--lock-timeout", "2m"]);
    let (a, b) = tokio::join!(wait(a), wait(b));
    let (a, b) = (a.expect_code(0), b.expect_code(0));
    let changed = [&a, &b]
        .iter()
        .filter(|r| r.stdout().contains("1 changed"))
        .count();
    let nothing = [&a, &b]
        .iter()
        .filter(|r| r.stdout().contains("No changes."))
        .count();
    assert_eq!((changed, nothing), (1, 1), "{}\n---\n{}", a.stdout(), b.stdout());
    converged(&world, &pg, "team", 3).await;
    // And a plan from either clone now shows nothing: no change made by the other is
    // reverted as "changed outside flowform".
    for clone in [&alice, &bob] {
        let plan = world.run_in(clone, &["plan"]).await.expect_code(0);
        assert!(plan.stdout().starts_with("No changes."), "{}", plan.stdout());
    }
    assert_eq!(
        pg.count("SELECT count(*) FROM {s}.locks").await,
        0,
        "no holder left behind"
    );
    pg.drop_schema().await;
}

#[tokio::test]
async fn killed_mid_apply_the_other_clone_carries_on_with_no_duplicate_and_no_lost_id() {
    let Some(pg) = Pg::connect().await else { return };
    let world = slow_world(400).await;
    let url = pg.url("team");
    let alice = clone_at(&world, "alice", &url);
    let bob = clone_at(&world, "bob", &url);
    world.run_in(&alice, &["init"]).await.expect_code(0);
    let mut a = spawn(&world, &alice, &["apply", "--auto-approve", "--parallelism", "1"]);
    // An id durable (an outcome recorded), and the next create begun.
    until(
        &pg,
        &mut a,
        "SELECT count(*) FROM {s}.journal WHERE entry->>'kind' = 'outcome'",
        1,
    )
    .await;
    until(
        &pg,
        &mut a,
        "SELECT count(*) FROM {s}.journal WHERE entry->>'kind' = 'intent'",
        2,
    )
    .await;
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    // The server lets the lock go with the dead process's session.
    let rerun = world
        .run_in(&bob, &["apply", "--auto-approve", "--lock-timeout", "30s"])
        .await
        .expect_code(0);
    assert!(
        rerun.stderr().contains("replayed") && rerun.stderr().contains("journal entries"),
        "{}",
        rerun.stderr()
    );
    converged(&world, &pg, "team", 3).await;
    let again = world
        .run_in(&alice, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    assert!(again.stdout().starts_with("No changes."), "{}", again.stdout());
    assert_eq!(pg.count("SELECT count(*) FROM {s}.journal").await, 0, "folded in");
    pg.drop_schema().await;
}

#[tokio::test]
async fn the_database_going_away_mid_apply_stops_it_cleanly_and_the_rerun_converges() {
    let Some(pg) = Pg::connect().await else { return };
    let world = slow_world(400).await;
    let url = pg.url("team");
    let alice = clone_at(&world, "alice", &url);
    let bob = clone_at(&world, "bob", &url);
    world.run_in(&alice, &["init"]).await.expect_code(0);
    let mut a = spawn(&world, &alice, &["apply", "--auto-approve", "--parallelism", "2"]);
    until(
        &pg,
        &mut a,
        "SELECT count(*) FROM {s}.journal WHERE entry->>'kind' = 'intent'",
        2,
    )
    .await;
    // As a server restart or a dropped connection would: both of its sessions end.
    assert!(pg.terminate(a.id()).await >= 1);
    let run = wait(a).await.expect_code(1);
    let said = run.stderr();
    assert!(
        said.contains("was lost") || said.contains("lock on the state"),
        "the apply says the database went away: {said}"
    );
    // Nothing sent to AEP is forgotten: each create whose outcome could not be written is
    // printed with its id and how to import it.
    for line in said.lines().filter(|l| l.contains("created in AEP as ")) {
        let id = line
            .split("created in AEP as ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        assert!(said.contains(&format!(" {id}` records it by hand")), "{said}");
    }
    assert!(!said.contains("panicked"), "{said}");
    let rerun = world
        .run_in(&bob, &["apply", "--auto-approve", "--lock-timeout", "30s"])
        .await
        .expect_code(0);
    assert!(!rerun.stdout().contains("Duplicated"), "{}", rerun.stdout());
    converged(&world, &pg, "team", 3).await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn a_real_server_restart_mid_apply() {
    if std::env::var("FLOWFORM_TEST_RESTART_POSTGRES").ok().as_deref() != Some("1") {
        eprintln!(
            "skipped: a_real_server_restart_mid_apply restarts the local PostgreSQL cluster; FLOWFORM_TEST_RESTART_POSTGRES=1 (set by .ci/run) runs it"
        );
        return;
    }
    let Some(pg) = Pg::connect().await else { return };
    let world = slow_world(400).await;
    let url = pg.url("team");
    let alice = clone_at(&world, "alice", &url);
    world.run_in(&alice, &["init"]).await.expect_code(0);
    let mut a = spawn(&world, &alice, &["apply", "--auto-approve", "--parallelism", "1"]);
    until(
        &pg,
        &mut a,
        "SELECT count(*) FROM {s}.journal WHERE entry->>'kind' = 'outcome'",
        1,
    )
    .await;
    // The other tests here wait (`SERIAL` is held throughout).
    let restarted = tokio::task::spawn_blocking(restart_cluster).await.unwrap();
    let run = wait(a).await;
    assert!(restarted, "the cluster restarts");
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    // Back: the rerun converges, with no duplicate.
    let pg = pg.reconnect().await;
    world
        .run_in(&alice, &["apply", "--auto-approve", "--lock-timeout", "30s"])
        .await
        .expect_code(0);
    converged(&world, &pg, "team", 3).await;
    pg.drop_schema().await;
}

/// Restarts the local cluster (and waits until it answers again).
fn restart_cluster() -> bool {
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let Some(version) = versions.first() else {
        return false;
    };
    std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", version, "main", "restart"])
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn a_connection_has_one_state_importing_one_another_state_owns_is_refused() {
    let Some(pg) = Pg::connect().await else { return };
    let world = World::bare(Options::default()).await;
    let marketing = clone_at(&world, "marketing", &pg.url("marketing"));
    let sales = clone_at(&world, "sales", &pg.url("sales"));
    world.run_in(&marketing, &["init"]).await.expect_code(0);
    world.run_in(&sales, &["init"]).await.expect_code(0);
    world
        .run_in(&marketing, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    let id = pg.recorded("marketing").resources["prod/acme-salesforce-jwt"]
        .id
        .clone();
    // `flowform import`: refused before anything is read, naming the state that owns it.
    let refused = world
        .run_in(&sales, &["import", "acme-salesforce-jwt", &id])
        .await
        .expect_code(1);
    let said = refused.stderr();
    assert!(
        said.contains(&format!("the connection {id} (sandbox `prod`) is managed by the state `marketing` (as `prod/acme-salesforce-jwt`)")),
        "{said}"
    );
    assert!(said.contains("help: a connection belongs to one state"), "{said}");
    // `import: {id}` in the configuration (an adoption): refused at apply, naming it too.
    edit(
        &sales,
        "salesforce-jwt.yaml",
        "acme-salesforce-jwt:\n",
        &format!("acme-salesforce-jwt:\n    import: {{id: {id}}}\n"),
    );
    let adopt = world
        .run_in(
            &sales,
            &["apply", "--auto-approve", "--target", "acme-salesforce-jwt"],
        )
        .await
        .expect_code(1);
    assert!(
        adopt.stderr().contains("is managed by the state `marketing`"),
        "{}",
        adopt.stderr()
    );
    assert!(pg.recorded("sales").resources.is_empty());
    assert_eq!(
        pg.count(&format!(
            "SELECT count(*) FROM {{s}}.owners WHERE connection_id = '{id}'"
        ))
        .await,
        1
    );
    // Once the owner lets it go, it can move.
    world
        .run_in(&marketing, &["state", "rm", "acme-salesforce-jwt"])
        .await
        .expect_code(0);
    world
        .run_in(
            &sales,
            &["apply", "--auto-approve", "--target", "acme-salesforce-jwt"],
        )
        .await
        .expect_code(0);
    assert_eq!(pg.recorded("sales").resources["prod/acme-salesforce-jwt"].id, id);
    pg.drop_schema().await;
}

#[tokio::test]
async fn a_state_moves_from_a_file_to_postgres_and_back_with_nothing_lost() {
    let Some(pg) = Pg::connect().await else { return };
    let world = World::managed().await;
    let dir = world.dir.path().to_owned();
    let before = world.recorded();
    let toml = dir.join("flowform.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let url = pg.url("infra");
    std::fs::write(
        &toml,
        text.replace("state = \"state.json\"", &format!("state = \"{url}\"")),
    )
    .unwrap();
    // Refused while the state is locked (here by hand, as a running apply would).
    let key = flowform::state::postgres::schema::key(&format!("flowform-state:{}:infra", pg.schema));
    let moved = world
        .run_in(&dir, &["init", "--migrate-state", "state.json"])
        .await
        .expect_code(0);
    assert!(
        moved.stdout().contains("Moved the state from `state.json`"),
        "{}",
        moved.stdout()
    );
    let there = pg.recorded("infra");
    assert_eq!(
        (
            &there.lineage,
            there.serial,
            &there.salt,
            &there.resources,
            &there.org
        ),
        (
            &before.lineage,
            before.serial,
            &before.salt,
            &before.resources,
            &before.org
        )
    );
    assert!(!dir.join("state.json").exists() && dir.join("state.json.migrated").exists());
    let plan = world.run_in(&dir, &["plan"]).await.expect_code(0);
    assert!(plan.stdout().starts_with("No changes."), "{}", plan.stdout());
    assert_eq!(pg.count("SELECT count(*) FROM {s}.owners").await, 3);

    // Back to a file, refused while the shared state is locked.
    std::fs::write(
        &toml,
        text.replace("state = \"state.json\"", "state = \"local/state.json\""),
    )
    .unwrap();
    pg.client
        .query_one("SELECT pg_advisory_lock($1)", &[&key])
        .await
        .unwrap();
    let locked = world
        .run_in(&dir, &["init", "--migrate-state", &url])
        .await
        .expect_code(1);
    assert!(locked.stderr().contains("is locked by"), "{}", locked.stderr());
    assert!(!dir.join("local/state.json").exists(), "nothing written");
    pg.client
        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .unwrap();
    world
        .run_in(&dir, &["init", "--migrate-state", &url])
        .await
        .expect_code(0);
    let back = flowform::state::file::read(&dir.join("local/state.json"))
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(
        (&back.lineage, back.serial, &back.resources),
        (&before.lineage, before.serial, &before.resources)
    );
    let plan = world.run_in(&dir, &["plan"]).await.expect_code(0);
    assert!(plan.stdout().starts_with("No changes."), "{}", plan.stdout());
    // Whoever still points at the database is told where it went; it holds nothing more.
    let elsewhere = tempfile::tempdir().unwrap();
    let stale = world
        .run_in(elsewhere.path(), &["state", "list", "--state", &url])
        .await
        .expect_code(1);
    assert!(stale.stderr().contains("was moved"), "{}", stale.stderr());
    assert_eq!(pg.count("SELECT count(*) FROM {s}.owners").await, 0);
    pg.drop_schema().await;
}

#[tokio::test]
async fn pull_and_push_keep_lineage_and_refuse_an_older_serial() {
    let Some(pg) = Pg::connect().await else { return };
    let world = World::bare(Options::default()).await;
    let repo = clone_at(&world, "repo", &pg.url("team"));
    world.run_in(&repo, &["init"]).await.expect_code(0);
    world
        .run_in(&repo, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    let pulled = world.run_in(&repo, &["state", "pull"]).await.expect_code(0);
    let old = repo.join("old.json");
    std::fs::write(&old, pulled.stdout()).unwrap();
    let state = flowform::state::file::parse(&old, pulled.stdout().as_bytes()).unwrap();
    assert_eq!(state.lineage, pg.recorded("team").lineage);
    world
        .run_in(&repo, &["state", "rm", "acme-salesforce-jwt"])
        .await
        .expect_code(0);
    let refused = world
        .run_in(&repo, &["state", "push", "old.json"])
        .await
        .expect_code(1);
    assert!(
        refused.stderr().contains("has moved on to serial"),
        "{}",
        refused.stderr()
    );
    world
        .run_in(&repo, &["state", "push", "old.json", "--force"])
        .await
        .expect_code(0);
    assert_eq!(pg.recorded("team").resources.len(), 3);
    let plan = world.run_in(&repo, &["plan"]).await.expect_code(0);
    assert!(plan.stdout().starts_with("No changes."), "{}", plan.stdout());
    pg.drop_schema().await;
}

#[tokio::test]
async fn urls_with_a_password_are_refused_and_never_printed() {
    let world = World::bare(Options::default()).await;
    let repo = world.dir.path().join("repo");
    copy_dir(&crate::common::root().join("examples"), &repo.join("examples"));
    let run = world
        .run_in(
            &repo,
            &[
                "init",
                "-c",
                "examples",
                "--state",
                "postgres://ci:hunter2@db.invalid/infra?state=a",
            ],
        )
        .await
        .expect_code(1);
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    assert!(run.stderr().contains("PGPASSWORD"), "{}", run.stderr());
    assert!(!repo.join("flowform.toml").exists());
    std::fs::write(
        repo.join("flowform.toml"),
        "config = [\"examples\"]\nstate = \"postgres://ci:hunter2@db.invalid/infra?state=a\"\n",
    )
    .unwrap();
    let run = world.run_in(&repo, &["plan"]).await.expect_code(1);
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    assert!(run.stderr().contains("flowform.toml:2:9"), "{}", run.stderr());
}

#[tokio::test]
async fn a_run_whose_lock_session_died_writes_nothing_more() {
    let Some(pg) = Pg::connect().await else { return };
    let env = Environment::from_pairs([("USER", "alice")]);
    let open = |missing| {
        Store::open(
            &pg.location("team"),
            Locking::Wait(Duration::ZERO),
            &Holder::me("flowform apply", &env),
            missing,
            &env,
        )
    };
    let mut first = open(Missing::Create).unwrap();
    let pending = flowform::state::Pending {
        address: "prod/a".into(),
        action: flowform::state::Action::Create,
        sandbox: "prod".into(),
        name: "A".into(),
        scope: vec!["s".into()],
        started_at: 1,
        fingerprint: "f".into(),
    };
    first.begin(pending.clone()).unwrap();
    // Its lock session ends (a network cut, say): the server lets the lock go, and another
    // run takes it.
    let ended: i64 = pg
        .client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("flowform:{}:lock", std::process::id())],
        )
        .await
        .unwrap()
        .len() as i64;
    assert_eq!(ended, 1);
    let started = Instant::now();
    let second = loop {
        match open(Missing::Refuse) {
            Ok(store) => break store,
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                assert!(e.to_string().contains("is locked by `flowform apply`"), "{e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(
        second.state().pending,
        vec![pending.clone()],
        "the first run's intent was durable"
    );
    let err = first.begin(pending).unwrap_err();
    assert!(err.to_string().contains("lock on the state"), "{err}");
    assert!(first.commit().is_err(), "nor does it commit over the next holder");
    drop(second);
    drop(first);
    assert_eq!(
        pg.count("SELECT count(*) FROM {s}.journal WHERE entry->>'kind' = 'intent'")
            .await,
        1
    );
    pg.drop_schema().await;
}

/// The plan workflow's comment script (`examples/github-actions/plan-comment.js`): run by
/// node, where there is one.
#[test]
fn the_plan_workflow_comment_says_why_a_plan_failed() {
    let dir = crate::common::root().join("examples/github-actions");
    let Ok(out) = std::process::Command::new("node")
        .arg("plan-comment.test.js")
        .current_dir(&dir)
        .output()
    else {
        eprintln!("skipped: no `node` to run examples/github-actions/plan-comment.test.js");
        return;
    };
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every workflow gives secrets to steps, never to a job (where the install compiles
    // third-party code), and installs flowform through a cache.
    for file in ["plan.yml", "apply.yml", "drift.yml", "local-file/apply.yml"] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut job_env = false;
        for line in text.lines() {
            if line.starts_with("    env:") {
                job_env = true;
            } else if !line.starts_with("      ") {
                job_env = false;
            }
            assert!(
                !(job_env && line.contains("secrets.")),
                "{file}: a secret in a job's env: {line}"
            );
        }
        assert!(text.contains("actions/cache@v4"), "{file}: flowform is cached");
        assert!(
            !text.contains("cancel-in-progress: true") || file == "plan.yml",
            "{file}"
        );
    }
}

#[tokio::test]
async fn tls_through_rustls_as_sslmode_says() {
    let Some(pg) = Pg::connect().await else { return };
    let ssl: Option<String> = pg
        .client
        .query_one("SELECT current_setting('ssl')", &[])
        .await
        .map(|r| r.get(0))
        .ok();
    if ssl.as_deref() != Some("on") {
        eprintln!("skipped: the test server does not offer TLS");
        pg.drop_schema().await;
        return;
    }
    let env = Environment::default();
    let with = |mode: &str| {
        let url = pg
            .url("tls")
            .replace("sslmode=disable", &format!("sslmode={mode}"));
        Store::open(
            &Location::parse(std::ffi::OsStr::new(&url)).unwrap(),
            Locking::Wait(Duration::ZERO),
            &Holder::me("test", &env),
            Missing::Create,
            &env,
        )
    };
    // Encrypted, the certificate unchecked (libpq's `require`): works against any server.
    let store = with("require").unwrap();
    let encrypted: i64 = pg
        .client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.application_name LIKE $1",
            &[&format!("flowform:{}:%", std::process::id())],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(encrypted, 2, "both sessions (data and lock) are encrypted");
    drop(store);
    // Checked against the platform's roots: a test server's own certificate is refused,
    // saying why, and nothing is written.
    let err = with("verify-full").err().unwrap().to_string();
    assert!(err.contains("cannot connect to the state"), "{err}");
    pg.drop_schema().await;
}

/// A saved plan applied to a shared state is remembered there, with the serial its apply
/// left: applied again (a re-run CI job) it says so and does nothing; a schema made before
/// that column existed is migrated.
#[tokio::test]
async fn a_saved_plan_applied_twice_to_a_shared_state_says_it_was_already_applied() {
    let Some(pg) = Pg::connect().await else { return };
    let world = World::bare(Options::default()).await;
    let repo = clone_at(&world, "repo", &pg.url("team"));
    world.run_in(&repo, &["init"]).await.expect_code(0);
    world
        .run_in(&repo, &["plan", "--out", "plan.out"])
        .await
        .expect_code(0);
    world.run_in(&repo, &["apply", "plan.out"]).await.expect_code(0);
    let state = pg.recorded("team");
    assert_eq!(state.applied_plans.len(), 1);
    assert_eq!(
        state.applied_plans[0].serial, state.serial,
        "the serial the apply left, stamped by its commit"
    );
    let again = world.run_in(&repo, &["apply", "plan.out"]).await.expect_code(0);
    assert!(
        again.stderr().contains("was already applied") || again.stdout().contains("was already applied"),
        "{}{}",
        again.stdout(),
        again.stderr()
    );
    assert_eq!(pg.recorded("team").serial, state.serial, "nothing written");
    assert_eq!(
        pg.count("SELECT max(version)::bigint FROM {s}.flowform_schema")
            .await,
        2
    );
    // A schema as the first version made it: the next run migrates it, keeping the state.
    let s = &pg.schema;
    pg.client
        .batch_execute(&format!(
            "ALTER TABLE \"{s}\".states DROP COLUMN applied_plans; DELETE FROM \"{s}\".flowform_schema WHERE version = 2"
        ))
        .await
        .unwrap();
    let plan = world.run_in(&repo, &["plan"]).await.expect_code(0);
    assert!(plan.stdout().starts_with("No changes."), "{}", plan.stdout());
    assert_eq!(
        pg.count("SELECT max(version)::bigint FROM {s}.flowform_schema")
            .await,
        2
    );
    assert_eq!(pg.recorded("team").resources.len(), 3);
    pg.drop_schema().await;
}
