//! Throughput and memory of the Flow Service emulator, so that it is never the bottleneck of
//! another benchmark.
//!
//! ```sh
//! cargo bench --bench emulator                     # 100,000 connections, 5 s per route
//! cargo bench --bench emulator -- --seconds 10 --connections 100000 --concurrency 32
//! cargo bench --bench emulator -- --connections 10000 --sources 20000 --targets 10000
//! ```
//!
//! It starts the in-process emulator, seeds it through the admin endpoint (base connections,
//! then source connections over them in turn and target connections linked to them), then
//! drives each
//! route with `--concurrency` keep-alive clients on the same machine for `--seconds`, and
//! reports requests per second and the process's resident memory. Client and server share
//! the machine's cores, so the figures are a lower bound on what the emulator can serve.

// Test and benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{Emulator, IMS_PATH, Options, Side};

/// The URL of a route's `i`-th request.
type UrlFor = Box<dyn Fn(u64) -> String + Send + Sync>;

struct Args {
    seconds: u64,
    connections: u64,
    sources: u64,
    targets: u64,
    concurrency: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 5,
        connections: 100_000,
        sources: 20_000,
        targets: 10_000,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .expect("a number after the flag")
        };
        match arg.as_str() {
            "--seconds" => args.seconds = value(),
            "--connections" => args.connections = value(),
            "--sources" => args.sources = value(),
            "--targets" => args.targets = value(),
            "--concurrency" => args.concurrency = value() as usize,
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    args
}

/// Resident memory of this process, in MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = args();
    let emulator = Emulator::start(Options {
        seed: Some(1),
        ..Options::default()
    })
    .await
    .expect("the emulator starts");
    let base = emulator.base_url();
    // Features are unified across the workspace: reqwest may carry flowform's
    // `rustls-no-provider`, and then wants a TLS provider even for `http://`.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();

    let before = rss_mib();
    let started = Instant::now();
    let seeded = http
        .post(format!("{base}/__emulator/seed"))
        .json(&serde_json::json!({"count": args.connections}))
        .send()
        .await
        .unwrap();
    assert!(seeded.status().is_success());
    let seed_time = started.elapsed();
    let after = rss_mib();
    println!(
        "seeded {} connections in {:.2} s; resident memory {:.0} MiB -> {:.0} MiB ({:.2} KiB per connection)",
        emulator.len(),
        seed_time.as_secs_f64(),
        before,
        after,
        (after - before) * 1024.0 / args.connections.max(1) as f64
    );
    let started = Instant::now();
    for body in [
        serde_json::json!({"count": args.sources, "kind": "sourceConnections"}),
        serde_json::json!({"count": args.targets, "kind": "targetConnections", "linkBaseConnections": true}),
    ] {
        let seeded = http
            .post(format!("{base}/__emulator/seed"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(seeded.status().is_success());
    }
    println!(
        "seeded {} source and {} target connections in {:.2} s; resident memory {:.0} MiB",
        emulator.count(Side::Source),
        emulator.count(Side::Target),
        started.elapsed().as_secs_f64(),
        rss_mib()
    );

    // A token, as any client of IMS gets one.
    let issued: serde_json::Value = http
        .post(format!("{base}{IMS_PATH}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&scope=openid"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap().to_owned();

    // Ids to read: a page of them, spread over the set by name order.
    let flow = emulator.flow_url();
    let request = |url: String| {
        http.get(url)
            .bearer_auth(&token)
            .header("x-api-key", DEMO_CLIENT_ID)
            .header("x-gw-ims-org-id", DEMO_ORG)
            .header("x-sandbox-name", "prod")
    };
    let page: serde_json::Value = request(format!("{flow}/connections?orderby=name&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Arc<Vec<String>> = Arc::new(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect(),
    );
    let second_page = page["_links"]["next"]["href"].as_str().unwrap().to_owned();
    let sources: serde_json::Value = request(format!("{flow}/sourceConnections?orderby=name&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let source_ids: Vec<&str> = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    // 100 ids a request, as flowform reads them.
    let by_source_id = format!("{flow}/sourceConnections?property=id=={}", source_ids.join(","));
    let by_base = |kind: &str| format!("{flow}/{kind}?property=baseConnectionId=={}", ids.join(","));
    let (sources_by_base, targets_by_base) = (by_base("sourceConnections"), by_base("targetConnections"));

    println!(
        "{:<44} {:>10} {:>12} {:>10}",
        "route", "requests", "requests/s", "MiB/s"
    );
    let routes: Vec<(&str, UrlFor)> = vec![
        (
            "GET /connections/{id}",
            Box::new({
                let (flow, ids) = (flow.clone(), ids.clone());
                move |i| format!("{flow}/connections/{}", ids[i as usize % ids.len()])
            }),
        ),
        (
            "GET /connections?limit=100 (first page)",
            Box::new({
                let flow = flow.clone();
                move |_| format!("{flow}/connections?limit=100")
            }),
        ),
        (
            "GET /connections (a later page, by token)",
            Box::new({
                let flow = flow.clone();
                move |_| format!("{flow}{second_page}")
            }),
        ),
        (
            "GET /sourceConnections?property=id==(100)",
            Box::new(move |_| by_source_id.clone()),
        ),
        (
            "GET /sourceConnections?…baseConnectionId==(100)",
            Box::new(move |_| sources_by_base.clone()),
        ),
        (
            "GET /targetConnections?…baseConnectionId==(100)",
            Box::new(move |_| targets_by_base.clone()),
        ),
    ];
    for (name, url) in routes {
        let url = Arc::new(url);
        let done = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let mut tasks = Vec::new();
        for worker in 0..args.concurrency {
            let (url, done, bytes) = (url.clone(), done.clone(), bytes.clone());
            let http = http.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = worker as u64;
                while Instant::now() < deadline {
                    let response = http
                        .get(url(i))
                        .bearer_auth(&token)
                        .header("x-api-key", DEMO_CLIENT_ID)
                        .header("x-gw-ims-org-id", DEMO_ORG)
                        .header("x-sandbox-name", "prod")
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    let body = response.bytes().await.unwrap();
                    bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += args.concurrency as u64;
                }
            }));
        }
        let started = Instant::now();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed);
        println!(
            "{name:<44} {n:>10} {:>12.0} {:>10.1}",
            n as f64 / elapsed,
            bytes.load(Ordering::Relaxed) as f64 / elapsed / 1024.0 / 1024.0
        );
    }
    println!("resident memory at the end: {:.0} MiB", rss_mib());
    emulator.shutdown().await.unwrap();
}
