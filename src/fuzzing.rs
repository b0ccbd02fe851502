//! What must hold for any local input flowform reads — a configuration file, a state file,
//! a journal, a saved plan — one function per reader: each runs the reader (and what
//! flowform does next with its result) on raw bytes and panics if a property breaks. The
//! fuzz targets (`fuzz/`) and the regression tests (`tests/parsers.rs`) call these same
//! functions; the readers of server answers have theirs in [`crate::flow::fuzzing`].

// A property check panics when the property breaks: that is what the fuzzer looks for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::config::{LoadOptions, Loader};
use crate::plan::Plan;
use crate::settings::Environment;
use crate::state::{State, file, journal};

/// A property check over an input's bytes.
pub type Check = fn(&[u8]);

/// The targets by name, as `fuzz/` and its corpus directories name them.
pub const TARGETS: &[(&str, Check)] = &[
    ("config", config),
    ("state", state),
    ("journal", journal),
    ("saved_plan", saved_plan),
];

/// A configuration file: every problem is reported with its file, and a configuration that
/// loads has keys and names that are usable.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let env = Environment::default();
    // Secret references are checked for their syntax only: resolving `${file:…}` would read
    // the machine's files.
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("fuzz.yaml"), &text);
    match loader.finish() {
        Ok(loaded) => {
            for (address, conn) in &loaded.desired.resources {
                assert_eq!(*address, conn.address());
                let key = &conn.key;
                assert!(!key.is_empty() && key.len() <= 128, "{key:?}");
                assert!(!conn.sandbox.is_empty());
                // Whatever loaded can be planned and fingerprinted.
                let _ = crate::plan::fingerprint(conn, &State::new());
            }
            let _ = loaded.warnings.to_string();
        }
        Err(diagnostics) => {
            assert!(diagnostics.has_errors());
            for d in diagnostics.iter() {
                assert!(d.file.is_some(), "{d}");
            }
            let _ = diagnostics.to_string();
        }
    }
}

/// A state file: one that reads writes back to bytes that read as the same state.
pub fn state(data: &[u8]) {
    let path = Path::new("fuzz.json");
    match file::parse(path, data) {
        Ok(state) => {
            let bytes = file::to_bytes(&state);
            let again = file::parse(path, &bytes).expect("a state flowform wrote reads back");
            assert_eq!(again, state);
            assert_eq!(file::to_bytes(&again), bytes, "byte-stable");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// A journal: reading never fails, every line is accounted for, and replaying what was read
/// onto a state never panics.
pub fn journal(data: &[u8]) {
    let read = journal::parse(data);
    let lines = data.split(|b| *b == b'\n').count();
    assert!(read.entries.len() + read.damaged.len() <= lines);
    let mut state = State::new();
    journal::replay(&mut state, &read.entries);
    let _ = journal::last_seq(&read.entries);
    // Replayed twice, nothing new: replay is idempotent.
    let once = state.clone();
    journal::replay(&mut state, &read.entries);
    assert_eq!(state.resources, once.resources);
}

/// A saved plan: one that reads can be shown in every format.
pub fn saved_plan(data: &[u8]) {
    if let Ok(plan) = Plan::from_saved(data) {
        let _ = crate::render::text::plan(&plan);
        let _ = crate::render::markdown::plan(&plan, "`flowform show plan.out`");
        let _ = crate::render::json::plan(&plan);
        let _ = plan.summary();
    }
}
