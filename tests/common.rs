//! A small builder around the `flowform` binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (tests run with it as the working directory unless told otherwise).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An invocation of the binary with an empty environment: what a test does not set, the
/// binary does not see.
pub struct Flowform {
    command: Command,
}

pub fn flowform<I, S>(args: I) -> Flowform
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowform"));
    command.args(args).env_clear().current_dir(root());
    Flowform { command }
}

impl Flowform {
    pub fn env(mut self, key: &str, value: &str) -> Flowform {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Flowform {
        self.command.current_dir(dir);
        self
    }

    pub fn run(mut self) -> Run {
        let output = self.command.output().expect("the flowform binary runs");
        Run { output }
    }
}

/// What came of an invocation.
pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A plain HTTP client for tests (with the TLS provider flowform installs).
pub fn http() -> reqwest::Client {
    flowform::flow::install_crypto();
    reqwest::Client::new()
}

/// Requests counted in an emulator `/__emulator/stats` body, by method and route (relative to
/// the Flow Service base).
pub fn served(stats: &serde_json::Value, method: &str, route: &str) -> u64 {
    let route = format!("/data/foundation/flowservice{route}");
    stats["requests"]
        .as_array()
        .expect("the stats body lists requests")
        .iter()
        .filter(|r| r["method"] == method && r["route"] == route.as_str())
        .map(|r| r["count"].as_u64().expect("each request row has a count"))
        .sum()
}

/// Whether a line of `text` reads `line`, the spaces that align a block's `=` aside.
pub fn says(text: &str, line: &str) -> bool {
    let squeeze = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let wanted = squeeze(line);
    text.lines().any(|l| squeeze(l) == wanted)
}

/// A plan that finds nothing to do (both streams shown if not).
pub fn no_changes(run: &Run) {
    assert!(
        run.stdout()
            .contains("No changes. Your resources match the configuration."),
        "{}\n{}",
        run.stdout(),
        run.stderr()
    );
}
