//! The refresh (issue 15): the managed connections read by id in batches, the names to
//! create looked up by filter, a listing only where everything must be seen, and the
//! requests each way costs, as the emulator saw them.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

/// The Flow Service requests the emulator served since its statistics were last reset:
/// method, path and query.
async fn recent(world: &World) -> Vec<String> {
    let stats = world.admin(Method::GET, "/stats", Value::Null).await;
    stats["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .filter(|t| t.contains("/data/foundation/flowservice/"))
        .collect()
}

async fn reset_stats(world: &World) {
    world.admin(Method::DELETE, "/stats", Value::Null).await;
}

/// The `GET /connections` requests among `targets` (lists and counts, not one id's GET).
fn listings(targets: &[String]) -> Vec<&String> {
    targets
        .iter()
        .filter(|t| t.starts_with("GET /data/foundation/flowservice/connections?"))
        .collect()
}

/// The values of the `property=field==…` filter of a request target, if it has one.
fn filter_values(target: &str, field: &str) -> Option<Vec<String>> {
    let query = target.split_once('?')?.1;
    let prefix = format!("{field}==");
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "property")
        .find_map(|(_, v)| {
            v.strip_prefix(&prefix)
                .map(|v| v.split(',').map(str::to_owned).collect())
        })
}

/// `count` Salesforce connections this state does not manage, in prod.
async fn unmanaged(world: &World, count: u64) {
    world
        .admin(
            Method::POST,
            "/seed",
            json!({"count": count, "namePrefix": "Other"}),
        )
        .await;
}

/// Gives an unmanaged connection (seeded for it) the name `name`, as someone in the UI would.
async fn twin(world: &World, name: &str) {
    world
        .admin(Method::POST, "/seed", json!({"count": 1, "namePrefix": "Twin"}))
        .await;
    let stored = world.stored().await;
    let id = stored
        .iter()
        .find(|c| c["item"]["name"].as_str().unwrap().starts_with("Twin"))
        .map(|c| c["item"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{id}"),
            json!({"name": name}),
        )
        .await;
}

/// A world of `n` Salesforce connections, applied.
async fn applied(n: usize) -> World {
    let world = World::many(n, 0).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world
}

fn managed_ids(world: &World) -> BTreeSet<String> {
    world
        .recorded()
        .resources
        .values()
        .map(|r| r.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_plan_reads_exactly_the_managed_ones_by_id_among_many_unmanaged() {
    let world = applied(150).await;
    unmanaged(&world, 1_000).await;
    reset_stats(&world).await;
    let run = world.run(&["plan", "-v"]).await.expect_code(0);
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    let targets = recent(&world).await;
    let lists = listings(&targets);
    // 150 ids: two batches of at most 100, and no count, no listing of the 1,150.
    assert_eq!(lists.len(), 2, "{lists:#?}");
    let mut read = BTreeSet::new();
    for target in &lists {
        assert!(!target.contains("count=true"), "{target}");
        let ids = filter_values(target, "id").unwrap_or_else(|| panic!("not by id: {target}"));
        assert!(ids.len() <= 100, "{}", ids.len());
        read.extend(ids);
    }
    assert_eq!(read, managed_ids(&world), "exactly the managed ones");
    assert_eq!(world.served("GET", "/connections/{id}").await, 0);
    let stderr = run.stderr();
    assert!(
        stderr.contains(
            "read 150 managed connections by id in 2 requests, in parallel; listing would take at least 3"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_connection_deleted_in_aep_is_created_again_once_its_name_is_looked_up() {
    let world = World::managed().await;
    let id = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(Method::DELETE, &format!("/connections/{id}"), Value::Null)
        .await;
    reset_stats(&world).await;
    let run = world.run(&["plan", "-v"]).await.expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(&format!("{id} was deleted outside flowform")),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    let targets = recent(&world).await;
    let lists = listings(&targets);
    assert!(
        lists.iter().all(|t| !t.contains("count=true")),
        "no listing: {lists:#?}"
    );
    let looked_up: Vec<Vec<String>> = lists.iter().filter_map(|t| filter_values(t, "name")).collect();
    assert_eq!(
        looked_up,
        [vec!["ACME Salesforce (OAuth 2)".to_owned()]],
        "{lists:#?}"
    );
    assert!(
        run.stderr()
            .contains("looked up 1 name to create or rename in 1 request"),
        "{}",
        run.stderr()
    );

    // Someone gave its name to another connection meanwhile: creating it again would make a
    // duplicate, and the plan says so.
    twin(&world, "ACME Salesforce (OAuth 2)").await;
    let run = world.run(&["plan"]).await.expect_code(1);
    let said = run.stdout() + &run.stderr();
    assert!(
        said.contains("AEP already has a connection named `ACME Salesforce (OAuth 2)`"),
        "{said}"
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert_eq!(world.stored().await.len(), 3, "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_with_a_comma_is_checked_by_listing_its_sandbox_and_spec() {
    let world = World::new().await;
    world.edit(
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: \"ACME, Inc. Salesforce\"",
    );
    twin(&world, "ACME, Inc. Salesforce").await;
    reset_stats(&world).await;
    let run = world.run(&["plan", "-v"]).await.expect_code(1);
    let said = run.stdout() + &run.stderr();
    assert!(
        said.contains("AEP already has a connection named `ACME, Inc. Salesforce`"),
        "{said}"
    );
    assert!(run.stderr().contains("cannot go in a filter"), "{}", run.stderr());
    let targets = recent(&world).await;
    assert!(
        listings(&targets).iter().any(|t| t.contains("count=true")),
        "the pair is counted and listed: {targets:#?}"
    );
    // Free: created once, its name checked by listing before and read back after.
    let stored = world.stored().await;
    let twin_id = stored[0]["item"]["id"].as_str().unwrap().to_owned();
    world
        .admin(Method::DELETE, &format!("/connections/{twin_id}"), Value::Null)
        .await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.converged(3).await;
    assert!(
        world
            .stored()
            .await
            .iter()
            .any(|c| c["item"]["name"] == "ACME, Inc. Salesforce")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_within_the_url_length_and_the_rule_counts_requests() {
    let world = applied(30).await;
    let base = world.emulator.base_url();
    // Few connections besides: 30 ids at 400 characters a URL take more batches than the
    // count and the one page of a listing.
    reset_stats(&world).await;
    let run = world
        .run(&["plan", "-v", "--max-url-length", "400"])
        .await
        .expect_code(0);
    let targets = recent(&world).await;
    let lists = listings(&targets);
    assert_eq!(lists.len(), 2, "the count, then one page: {lists:#?}");
    assert!(lists[0].contains("count=true"), "{lists:#?}");
    assert!(filter_values(lists[1], "id").is_none(), "{lists:#?}");
    let stderr = run.stderr();
    assert!(
        stderr.contains("listed 30 connections, the count and 1 page"),
        "{stderr}"
    );
    assert!(stderr.contains("fewer requests than the"), "{stderr}");

    // Among 1,000 others, the batches are fewer than the listing's 11 pages.
    unmanaged(&world, 1_000).await;
    reset_stats(&world).await;
    let run = world
        .run(&["plan", "-v", "--max-url-length", "400"])
        .await
        .expect_code(0);
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    let targets = recent(&world).await;
    let lists = listings(&targets);
    let counts = lists.iter().filter(|t| t.contains("count=true")).count();
    assert_eq!(counts, 1, "{lists:#?}");
    let batches: Vec<&&String> = lists.iter().filter(|t| !t.contains("count=true")).collect();
    assert!(batches.len() >= 3, "{batches:#?}");
    let mut read = BTreeSet::new();
    for target in &batches {
        let url = format!("{base}{}", target.trim_start_matches("GET "));
        assert!(url.len() <= 400, "{} characters: {url}", url.len());
        read.extend(filter_values(target, "id").unwrap());
    }
    assert_eq!(read, managed_ids(&world));
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!(
            "read 30 managed connections by id in {} requests, in parallel; listing its 1030 connections would take 11 more after the count",
            batches.len()
        )),
        "{stderr}"
    );
    // With the default length, one batch.
    reset_stats(&world).await;
    world.run(&["plan"]).await.expect_code(0);
    assert_eq!(listings(&recent(&world).await).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_still_lists_and_sees_unmanaged_connections() {
    let world = applied(20).await;
    unmanaged(&world, 150).await;
    reset_stats(&world).await;
    let run = world.run(&["drift", "-v"]).await.expect_code(2);
    assert!(run.stdout().contains("150 not managed"), "{}", run.stdout());
    assert!(
        run.stderr().contains("every connection must be seen"),
        "{}",
        run.stderr()
    );
    let targets = recent(&world).await;
    let lists = listings(&targets);
    // The count, then two pages of the 170.
    assert_eq!(lists.len(), 3, "{lists:#?}");
    assert!(lists[0].contains("count=true"), "{lists:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_check_their_names_in_parallel_batches_and_never_duplicate() {
    let world = World::many(150, 0).await;
    twin(&world, "Connection 149").await;
    // The plan refuses the taken name; the rest cannot be applied with it declared.
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    let said = run.stdout() + &run.stderr();
    assert!(
        said.contains("AEP already has a connection named `Connection 149`"),
        "{said}"
    );
    assert_eq!(world.stored().await.len(), 1);
    // Renamed, all 150 are created once; the names go 100 a request, before and after.
    world.edit("many.yaml", "name: Connection 149", "name: Connection 149 (ours)");
    reset_stats(&world).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let stored = world.stored().await;
    assert_eq!(stored.len(), 151);
    let names: BTreeSet<&str> = stored
        .iter()
        .map(|c| c["item"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 151, "no duplicate");
    let targets = recent(&world).await;
    let lookups: Vec<Vec<String>> = listings(&targets)
        .iter()
        .filter_map(|t| filter_values(t, "name"))
        .collect();
    // The plan's refresh, the check before creating, the read-back after: two each.
    assert_eq!(lookups.len(), 6, "{lookups:#?}");
    assert!(lookups.iter().all(|l| l.len() <= 100));
    assert_eq!(world.served("POST", "/connections").await, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_block_reads_its_connection_by_id_without_a_listing() {
    let world = applied(5).await;
    unmanaged(&world, 120).await;
    let stored = world.stored().await;
    let other = stored
        .iter()
        .find(|c| c["item"]["name"] == "Other 000007")
        .map(|c| c["item"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    world.write(
        "imported.yaml",
        &format!(
            "sandbox: prod\nconnections:\n  imported:\n    name: Other 000007\n    source: salesforce\n    import: {{id: {other}}}\n    auth:\n      specName: Basic Authentication\n      params:\n        username: u\n        password: ${{file:secrets/acme-password}}\n        securityToken: ${{file:secrets/acme-security-token}}\n"
        ),
    );
    reset_stats(&world).await;
    let run = world.run(&["plan"]).await.expect_code(0);
    assert!(run.stdout().contains("1 to import"), "{}", run.stdout());
    let targets = recent(&world).await;
    let lists = listings(&targets);
    assert!(lists.iter().all(|t| !t.contains("count=true")), "{lists:#?}");
    let read: BTreeSet<String> = lists
        .iter()
        .filter_map(|t| filter_values(t, "id"))
        .flatten()
        .collect();
    assert!(read.contains(&other), "{lists:#?}");
    assert_eq!(world.served("GET", "/connections/{id}").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_managed_ones_are_read_while_the_configuration_loads_and_once() {
    let world = World::managed().await;
    reset_stats(&world).await;
    let run = world.run(&["plan", "-v"]).await.expect_code(0);
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
    // Each managed id asked for once, by the batches started before the configuration was
    // read; nothing listed.
    let targets = recent(&world).await;
    let asked: Vec<String> = targets
        .iter()
        .filter_map(|t| filter_values(t, "id"))
        .flatten()
        .collect();
    let unique: BTreeSet<&String> = asked.iter().collect();
    assert_eq!(asked.len(), unique.len(), "an id asked twice: {targets:#?}");
    assert_eq!(unique.len(), 3, "{targets:#?}");
    assert!(
        !listings(&targets).iter().any(|t| t.contains("count=true")),
        "{targets:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_the_configuration_needs_listed_drops_the_early_batches_and_says_so() {
    let world = World::managed().await;
    world.edit(
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: \"ACME, Inc. Salesforce\"",
    );
    let run = world.run(&["plan", "-v"]).await.expect_code(0);
    assert!(
        run.stderr()
            .contains("are not used (the configuration needs this pair listed)"),
        "{}",
        run.stderr()
    );
    // The plan is the listing's: the rename, nothing else.
    assert!(run.stdout().contains("1 to change"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_error_comes_first_and_never_waits_for_the_lock() {
    let world = World::managed().await;
    let before = std::fs::read(world.state()).unwrap();
    let env = flowform::settings::Environment::from_pairs([("USER", "release-bot")]);
    let _held = flowform::state::lock::Lock::acquire(
        &world.state(),
        &world.state(),
        &flowform::state::lock::Holder::me("flowform apply", &env),
        std::time::Duration::ZERO,
    )
    .unwrap();
    world.edit(
        "salesforce-basic.yaml",
        "name: ACME Salesforce account",
        "name: [open",
    );
    // Were the early open to wait for the lock, this would take ten minutes.
    for command in [
        &["plan", "--lock-timeout", "10m"][..],
        &["apply", "--auto-approve", "--lock-timeout", "10m"],
    ] {
        let run = world.run(command).await.expect_code(1);
        assert!(
            run.stderr().contains("salesforce-basic.yaml:"),
            "{}",
            run.stderr()
        );
        assert!(!run.stderr().contains("is locked by"), "{}", run.stderr());
    }
    assert_eq!(std::fs::read(world.state()).unwrap(), before);
}
