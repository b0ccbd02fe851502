//! A world for end-to-end tests: an in-process emulator, a directory holding a copy of the
//! examples and a state file, and the binary run against them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{Emulator, Options};
use serde_json::{Value, json};

use crate::common::{Run, flowform, root};

pub struct World {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
}

impl World {
    /// An emulator (quick to initialize), a project of the examples, and its state, started
    /// empty by `flowform init`.
    pub async fn new() -> World {
        World::with(Options::default()).await
    }

    pub async fn with(options: Options) -> World {
        let world = World::bare(options).await;
        copy_dir(&root().join("examples"), &world.dir.path().join("examples"));
        // The base connections alone: the source and target connections the examples add
        // on top are the pipeline worlds' ([`World::pipeline`]).
        std::fs::remove_file(world.dir.path().join("examples").join(PIPELINE)).unwrap();
        // And without its dataflows: the flow tests declare their own.
        std::fs::remove_file(world.dir.path().join("examples").join(DATAFLOWS)).unwrap();
        world
            .run_bare(
                ["init", "-c", "examples", "--state", "state.json"]
                    .map(str::to_owned)
                    .to_vec(),
            )
            .await
            .expect_code(0);
        world
    }

    /// An emulator and an empty directory: the test lays out its own repository. Connections
    /// initialize in 300 ms unless `options` asks for another time.
    pub async fn bare(options: Options) -> World {
        let initializing_ms = if options.initializing_ms == Options::default().initializing_ms {
            300
        } else {
            options.initializing_ms
        };
        let emulator = Emulator::start(Options {
            seed: options.seed.or(Some(21)),
            initializing_ms,
            ..options
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        World { emulator, dir }
    }

    /// A world whose configuration is `n` Salesforce connections (the examples removed), answering after `latency_ms`.
    pub async fn many(n: usize, latency_ms: u64) -> World {
        let world = World::with(Options {
            faults: FaultSettings {
                latency_ms,
                ..FaultSettings::default()
            },
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
        let mut yaml = "sandbox: prod\nconnections:\n".to_owned();
        for i in 0..n {
            yaml.push_str(&format!(
                "  c{i:03}:\n    name: Connection {i:03}\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        username: u{i}\n        password: ${{file:secrets/acme-password}}\n        securityToken: ${{file:secrets/acme-security-token}}\n"
            ));
        }
        world.write("many.yaml", &yaml);
        world
    }

    /// Asserts the emulator holds exactly `n` connections, each name once, and the state
    /// records each of them with nothing pending.
    pub async fn converged(&self, n: usize) {
        let stored = self.stored().await;
        let names: Vec<&str> = stored
            .iter()
            .map(|c| c["item"]["name"].as_str().unwrap())
            .collect();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!((names.len(), unique.len()), (n, n), "no duplicate: {names:?}");
        let state = self.recorded();
        assert_eq!(state.resources.len(), n, "no lost id");
        assert!(state.pending.is_empty(), "{:?}", state.pending);
        let ids: BTreeSet<&str> = stored.iter().map(|c| c["item"]["id"].as_str().unwrap()).collect();
        assert!(state.resources.values().all(|r| ids.contains(r.id.as_str())));
    }

    /// A world whose examples flowform has applied.
    pub async fn managed() -> World {
        let world = World::new().await;
        world.run(&["apply", "--auto-approve"]).await.expect_code(0);
        world
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("examples")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    pub fn recorded(&self) -> flowform::state::State {
        flowform::state::file::read(&self.state()).unwrap().unwrap().0
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let http = crate::common::http();
        let mut request = http.request(method, format!("{}/__emulator{path}", self.emulator.base_url()));
        if !body.is_null() {
            request = request.json(&body);
        }
        request.send().await.unwrap().json().await.unwrap_or(Value::Null)
    }

    /// Every connection the emulator holds.
    pub async fn stored(&self) -> Vec<Value> {
        self.admin(reqwest::Method::GET, "/connections", Value::Null)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Requests the emulator served, by method and route under the Flow Service base.
    pub async fn served(&self, method: &str, route: &str) -> u64 {
        let stats = self.admin(reqwest::Method::GET, "/stats", Value::Null).await;
        crate::common::served(&stats, method, route)
    }

    pub async fn script(&self, method: &str, fault: &str) {
        self.admin(
            reqwest::Method::POST,
            "/faults/script",
            json!({"method": method, "fault": fault}),
        )
        .await;
    }

    /// The headers AEP asks of a call, with a fresh token of the demo credential, in
    /// sandbox `prod`: for a test acting in AEP as someone else would.
    pub async fn headers(&self) -> reqwest::header::HeaderMap {
        let http = crate::common::http();
        let token: Value = http
            .post(format!("{}/ims/token/v3", self.emulator.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}&scope=openid,AdobeID",
                flowform_emulator::ims::DEMO_CLIENT_ID,
                flowform_emulator::ims::DEMO_CLIENT_SECRET
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        let token = format!("Bearer {}", token["access_token"].as_str().unwrap());
        for (name, value) in [
            ("authorization", token.as_str()),
            ("x-api-key", flowform_emulator::ims::DEMO_CLIENT_ID),
            ("x-gw-ims-org-id", flowform_emulator::ims::DEMO_ORG),
            ("x-sandbox-name", "prod"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        headers
    }

    pub async fn id_of(&self, key: &str) -> String {
        self.recorded().find(key).unwrap().1.id.clone()
    }

    /// The binary's environment for this world's emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FLOWFORM_ENDPOINT", self.emulator.flow_url()),
            ("AEP_IMS_URL", self.emulator.base_url()),
            ("AEP_CLIENT_ID", DEMO_CLIENT_ID.to_owned()),
            ("AEP_CLIENT_SECRET", DEMO_CLIENT_SECRET.to_owned()),
            ("AEP_ORG_ID", DEMO_ORG.to_owned()),
        ]
    }

    /// The arguments naming this world's state (the project's, named explicitly: the
    /// project in the world's directory already says so).
    pub fn where_args(&self) -> Vec<String> {
        vec!["--state".to_owned(), self.state().display().to_string()]
    }

    /// Runs the binary against the emulator, off the runtime's threads, in the world's
    /// project, naming its state after `args`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(self.where_args());
        self.run_bare(all).await
    }

    /// Runs the binary against the emulator with exactly `args`, in the world's directory.
    pub async fn run_bare(&self, all: Vec<String>) -> Run {
        self.run_in(self.dir.path(), &all).await
    }

    /// [`World::run`] with more environment variables.
    pub async fn run_with(&self, args: &[&str], vars: &[(&'static str, &str)]) -> Run {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(self.where_args());
        let vars: Vec<(&'static str, String)> = vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.spawn(self.dir.path(), all, vars).await
    }

    /// Runs the binary against the emulator with exactly `args`, in `cwd`.
    pub async fn run_in(&self, cwd: &Path, args: &[impl AsRef<str>]) -> Run {
        let all: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        self.spawn(cwd, all, Vec::new()).await
    }

    async fn spawn(&self, cwd: &Path, all: Vec<String>, vars: Vec<(&'static str, String)>) -> Run {
        let mut env = self.env();
        env.extend(vars);
        let cwd = cwd.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut command = flowform(&all).current_dir(&cwd);
            for (k, v) in &env {
                command = command.env(k, v);
            }
            command.run()
        })
        .await
        .unwrap()
    }

    /// Starts the binary with `args` (and this world's state) and kills it with SIGKILL as
    /// soon as its journal satisfies `now` (polled; it must not finish first).
    pub async fn kill_9_when(&self, args: &[&str], now: impl Fn(&str) -> bool) {
        let mut child = self.start_until(args, now).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }

    /// Starts the binary with `args` (and this world's state), its output captured, and
    /// returns once its journal satisfies `now` (polled; it must not finish first).
    pub async fn start_until(&self, args: &[&str], now: impl Fn(&str) -> bool) -> std::process::Child {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(self.where_args());
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_flowform"));
        command
            .args(&all)
            .env_clear()
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in self.env() {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let journal = flowform::state::journal::path_for(&self.state());
        let started = std::time::Instant::now();
        while !now(&std::fs::read_to_string(&journal).unwrap_or_default()) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run finished before the moment came"
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the run made no progress"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child
    }

    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.config().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }

    pub fn write(&self, file: &str, text: &str) {
        std::fs::write(self.config().join(file), text).unwrap();
    }
}

/// The examples' file of source and target connections.
pub const PIPELINE: &str = "salesforce-pipeline.yaml";
/// The examples' file of mapping sets and dataflows.
pub const DATAFLOWS: &str = "salesforce-dataflows.yaml";

impl World {
    /// The examples whole: base connections, and the source and target connections of
    /// `salesforce-pipeline.yaml`.
    pub async fn pipeline() -> World {
        let world = World::new().await;
        std::fs::copy(
            root().join("examples").join(PIPELINE),
            world.config().join(PIPELINE),
        )
        .unwrap();
        world
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
