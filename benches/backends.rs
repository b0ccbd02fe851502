//! The state's cost in a plan and an apply, PostgreSQL against the local file, in one run.
//!
//! What a backend changes in `flowform plan` is opening the state under its lock and reading
//! it; in `flowform apply`, the journal (an intent before and an outcome after each
//! mutation, each durable before flowform goes on) and the final commit. AEP's share is the
//! same whichever backend keeps the state, so it is left out: these are the state's own
//! costs, measured through `Store`, the type every command uses.
//!
//! ```sh
//! cargo bench --bench backends                      # 1,000 and 10,000 connections
//! cargo bench --bench backends -- --sizes 1000 --mutations 500
//! FLOWFORM_TEST_DATABASE_URL=postgres://… cargo bench --bench backends
//! ```
//!
//! The file lives under `target/` (on the repository's disk: a tmpfs `/tmp` would hide the
//! cost of fsync); the database is `FLOWFORM_TEST_DATABASE_URL` (default: the local one,
//! `postgres://postgres@127.0.0.1:5432/test`), in a schema of the run's own, dropped after.

// Test and benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use flowform::settings::Environment;
use flowform::state::journal::Outcome;
use flowform::state::lock::Holder;
use flowform::state::store::{Locking, Missing};
use flowform::state::{Action, Location, Pending, Record, State, Store, file};

fn record(i: usize, etag: &str) -> Record {
    let etag: Option<String> = Some(format!("\"{etag}-{i:08x}\""));
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

struct Costs {
    /// Opening under the lock and reading `size` connections, ms (best of 3).
    plan: f64,
    /// Journalling `mutations` creates (intent + outcome each), ms per mutation.
    journal: f64,
    /// The commit that folds them in, ms.
    commit: f64,
    /// The whole apply's state cost: open, journal, commit, ms.
    apply: f64,
}

fn open(location: &Location, missing: Missing) -> Store {
    let env = Environment::default();
    Store::open(
        location,
        Locking::Wait(Duration::from_secs(10)),
        &Holder::me("bench", &env),
        missing,
        &env,
    )
    .unwrap()
}

/// An apply that creates `mutations` connections on a state of `size`, then plans.
fn measure(location: &Location, size: usize, mutations: usize) -> Costs {
    // A fresh state holding `size - mutations` connections; the apply creates the rest.
    let mut seeded = State::new();
    for i in mutations..size {
        seeded
            .resources
            .insert(format!("prod/connection-{i:05}"), record(i, "seed"));
    }
    {
        let mut store = open(location, Missing::Migrate);
        store.replace(&seeded).unwrap();
    }
    let started = Instant::now();
    let mut store = open(location, Missing::Refuse);
    let journalling = Instant::now();
    for i in 0..mutations {
        let address = format!("prod/connection-{i:05}");
        let r = record(i, "created");
        let seq = store
            .begin(Pending {
                address: address.clone(),
                action: Action::Create,
                sandbox: "prod".into(),
                name: r.name.clone(),
                scope: vec![r.spec_id().to_owned()],
                started_at: 0,
                fingerprint: "f".repeat(64),
            })
            .unwrap();
        store
            .finish(
                seq,
                &address,
                Outcome::Done {
                    record: Some(Box::new(r)),
                },
            )
            .unwrap();
    }
    let journal = journalling.elapsed().as_secs_f64() * 1000.0 / mutations.max(1) as f64;
    let committing = Instant::now();
    assert!(store.commit().unwrap());
    let commit = committing.elapsed().as_secs_f64() * 1000.0;
    drop(store);
    let apply = started.elapsed().as_secs_f64() * 1000.0;
    let plan = (0..3)
        .map(|_| {
            let started = Instant::now();
            let store = open(location, Missing::Refuse);
            assert_eq!(store.state().resources.len(), size);
            drop(store);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min);
    Costs {
        plan,
        journal,
        commit,
        apply,
    }
}

fn main() {
    let mut sizes = vec![1_000usize, 10_000];
    let mut mutations: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                sizes = args
                    .next()
                    .expect("sizes after --sizes")
                    .split(',')
                    .map(|s| s.parse().expect("a number"))
                    .collect();
            }
            "--mutations" => mutations = Some(args.next().and_then(|v| v.parse().ok()).expect("a number")),
            _ => {}
        }
    }
    let base_url = std::env::var("FLOWFORM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("ff_bench_{}", &flowform::state::uuid_v4().replace('-', "")[..12]);
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let pg = Location::parse(std::ffi::OsStr::new(&format!(
        "{base_url}{sep}state=bench&schema={schema}&sslmode=disable"
    )))
    .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-backends");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = tempfile::tempdir_in(&dir).unwrap();
    let path = dir.path().join("state.json");
    file::write(&path, &file::to_bytes(&State::new())).unwrap();
    let local = Location::File(path);

    println!(
        "state costs only (AEP's share is the same for both); plan = open under the lock and read, best of 3"
    );
    println!(
        "{:>11} {:>9} {:>10} {:>10} {:>14} {:>10} {:>10}",
        "connections", "backend", "plan ms", "apply ms", "journal ms/mut", "commit ms", "mutations"
    );
    for size in sizes {
        let n = mutations.unwrap_or(size).min(size);
        let f = measure(&local, size, n);
        let p = measure(&pg, size, n);
        for (name, c) in [("file", &f), ("postgres", &p)] {
            println!(
                "{size:>11} {name:>9} {:>10.1} {:>10.1} {:>14.3} {:>10.1} {n:>10}",
                c.plan, c.apply, c.journal, c.commit
            );
        }
        println!(
            "{size:>11} {:>9} {:>9.2}x {:>9.2}x {:>13.2}x {:>9.2}x",
            "pg/file",
            p.plan / f.plan,
            p.apply / f.apply,
            p.journal / f.journal,
            p.commit / f.commit
        );
    }
    drop_schema(&base_url, &schema);
}

fn drop_schema(url: &str, schema: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap();
    });
}
