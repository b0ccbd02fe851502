//! How best to make each connection's id and etag durable the moment flowform has it:
//! appending one fsynced line to the journal, or rewriting the whole state file atomically
//! (temporary file, fsync, rename, fsync the directory) after every operation. Both survive
//! a crash at any point; this measures what each costs.
//!
//! ```sh
//! cargo bench --bench state                  # 100, 1,000 and 10,000 connections
//! cargo bench --bench state -- --ops 100
//! ```
//!
//! It works in a directory under `target/`, on the same disk as the repository (a tmpfs
//! `/tmp` would hide the cost of fsync).

// Test and benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use flowform::state::journal::{Entry, Header, Journal, Outcome};
use flowform::state::{Action, Pending, Record, State, file};

fn record(i: usize) -> Record {
    let etag: Option<String> = Some(format!("\"{i:08x}-0000-0200-0000-000000000000\""));
    serde_json::from_value(serde_json::json!({
        "kind": "connection",
        "key": format!("connection-{i:05}"),
        "sandbox": "prod",
        "id": format!("00000000-0000-4000-8000-{i:012}"),
        "etag": etag,
        "name": format!("Connection {i}"),
        "attrs": {
            "description": "a benchmark connection with a description of ordinary length",
            "connectionSpec.id": "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
            "connectionSpec.version": "1.0",
            "auth.specName": "Basic Authentication",
            "auth.params": {"environmentUrl": format!("https://c{i}.my.salesforce.com"), "username": format!("user{i}")},
        },
        "secretParams": ["password", "securityToken"],
        "secretsDigest": "ab".repeat(32),
        "state": "enabled",
        "createdAt": 1_700_000_000_000i64,
        "updatedAt": 1_700_000_000_000i64,
        "protect": false,
        "appliedAt": 1_700_000_000_000i64,
    }))
    .expect("a record")
}

fn main() {
    let mut ops = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--ops" {
            ops = args
                .next()
                .and_then(|v| v.parse().ok())
                .expect("a number after --ops");
        }
    }
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-state");
    std::fs::create_dir_all(&base).unwrap();
    println!("{ops} operations each; cost per operation = total time / operations");
    println!(
        "{:>12} {:>18} {:>18} {:>8} {:>12}",
        "connections", "rewrite ms/op", "journal ms/op", "ratio", "state KiB"
    );
    for size in [100usize, 1_000, 10_000] {
        let mut state = State::new();
        for i in 0..size {
            state
                .resources
                .insert(format!("prod/connection-{i:05}"), record(i));
        }
        let dir = tempfile::tempdir_in(&base).unwrap();
        let path = dir.path().join("state.json");
        file::write(&path, &file::to_bytes(&state)).unwrap();
        let kib = std::fs::metadata(&path).unwrap().len() / 1024;

        // (a) rewrite the whole file after each operation.
        let started = Instant::now();
        for op in 0..ops {
            let i = op % size;
            if let Some(r) = state.resources.get_mut(&format!("prod/connection-{i:05}")) {
                r.etag = Some(format!("\"{op:08x}-rewrite\""));
            }
            state.serial += 1;
            file::write(&path, &file::to_bytes(&state)).unwrap();
        }
        let rewrite = started.elapsed().as_secs_f64() * 1000.0 / ops as f64;

        // (b) an intent and an outcome line per operation, then one fold at the end.
        let journal_path = dir.path().join("state.json.journal");
        let started = Instant::now();
        let mut journal = Journal::open(&journal_path, 0, &Header::of(&state)).unwrap();
        for op in 0..ops {
            let i = op % size;
            let mut r = record(i);
            r.etag = Some(format!("\"{op:08x}-journal\""));
            let address = format!("prod/connection-{i:05}");
            let seq = journal.next_seq();
            let pending = Pending {
                address: address.clone(),
                action: Action::Update,
                sandbox: "prod".into(),
                name: r.name.clone(),
                scope: vec![r.spec_id().to_owned()],
                started_at: 0,
                fingerprint: "f".repeat(64),
            };
            journal.append(&Entry::Intent { seq, pending }).unwrap();
            journal
                .append(&Entry::Outcome {
                    seq,
                    address: address.clone(),
                    result: Outcome::Done {
                        record: Some(Box::new(r.clone())),
                    },
                })
                .unwrap();
            state.resources.insert(address, r);
        }
        state.serial += 1;
        file::write(&path, &file::to_bytes(&state)).unwrap();
        std::fs::remove_file(&journal_path).unwrap();
        let journal_ms = started.elapsed().as_secs_f64() * 1000.0 / ops as f64;
        println!(
            "{size:>12} {rewrite:>18.3} {journal_ms:>18.3} {:>7.1}x {kib:>12}",
            rewrite / journal_ms
        );
    }
}
