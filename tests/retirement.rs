//! The Salesforce Basic retirement as one reviewed plan (issue 21, part 7, at a test's size):
//! twenty base connections on Basic Authentication, each with two source connections, a
//! target connection, two mapping sets and two dataflows, all moved to OAuth2 Client Credential by one change
//! of the configuration. One plan: new base connections, new source connections, new
//! dataflows continuing where the old stopped, the old disabled then deleted, then the old
//! source and base connections. Its PR comment reads chain by chain and fits GitHub's limit.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

const CHAINS: usize = 20;

fn pipelines(oauth: bool) -> String {
    let mut yaml = "sandbox: prod\nconnections:\n".to_owned();
    for i in 0..CHAINS {
        let auth = if oauth {
            "      specName: OAuth2 Client Credential\n      params:\n        environmentUrl: https://acme.my.salesforce.com\n        clientId: app\n        clientSecret: ${file:secrets/acme-oauth-client-secret}\n        apiVersion: \"60.0\"\n"
        } else {
            "      specName: Basic Authentication\n      params:\n        username: u\n        password: ${file:secrets/acme-password}\n        securityToken: ${file:secrets/acme-security-token}\n"
        };
        yaml.push_str(&format!(
            "  sf-{i:02}:\n    name: Salesforce {i:02}\n    source: salesforce\n    auth:\n{auth}    lifecycle: {{acknowledge: [salesforce-basic-retirement]}}\n"
        ));
    }
    yaml.push_str("sources:\n");
    for i in 0..CHAINS {
        for table in ["Contact", "Account"] {
            yaml.push_str(&format!(
                "  sf-{i:02}-{table}:\n    name: {table} {i:02}\n    connection: sf-{i:02}\n    table: {table}\n"
            ));
        }
    }
    yaml.push_str("targets:\n");
    for i in 0..CHAINS {
        yaml.push_str(&format!(
            "  lake-{i:02}:\n    name: Lake {i:02}\n    dataset: 65d4c1f0a1b2c3d4e5f60101\n"
        ));
    }
    yaml.push_str("mappings:\n");
    for i in 0..CHAINS {
        for table in ["Contact", "Account"] {
            yaml.push_str(&format!(
                "  map-{i:02}-{table}:\n    name: {table} {i:02} to profile\n    mappings:\n      - {{source: Id, destination: _flowformdemo.crmId}}\n"
            ));
        }
    }
    yaml.push_str("flows:\n");
    for i in 0..CHAINS {
        for table in ["Contact", "Account"] {
            yaml.push_str(&format!(
                "  flow-{i:02}-{table}:\n    name: {table} {i:02} into the lake\n    source: sf-{i:02}-{table}\n    target: lake-{i:02}\n    mapping: map-{i:02}-{table}\n    flowSpec: CRMToAEP\n    deltaColumn: {{name: LastModifiedDate}}\n    schedule: {{frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}}\n"
            ));
        }
    }
    yaml
}

async fn names(world: &World, side: &str) -> Vec<String> {
    world
        .admin(Method::GET, side, Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| r["item"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_chains_leave_basic_authentication_in_one_plan_without_a_gap_or_a_duplicate() {
    let world = World::bare(flowform_emulator::Options::default()).await;
    let dir = world.dir.path();
    crate::world::copy_dir(
        &crate::common::root().join("examples/secrets"),
        &dir.join("config/secrets"),
    );
    std::fs::write(
        dir.join("flowform.toml"),
        "config = [\"config\"]\nstate = \"state.json\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("config/pipelines.yaml"), pipelines(false)).unwrap();
    world.run_in(dir, &["init"]).await.expect_code(0);
    world
        .run_in(dir, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    // The dataflows run for a while.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 3_600_000}))
        .await;

    std::fs::write(dir.join("config/pipelines.yaml"), pipelines(true)).unwrap();
    let plan_file = dir.join("retire.plan").display().to_string();
    let plan = world
        .run_in(dir, &["plan", "--out", &plan_file, "--format", "markdown"])
        .await
        .expect_code(0);
    let comment = plan.stdout();
    assert!(comment.chars().count() <= 65_000, "fits a GitHub comment");
    assert!(
        comment.contains(&format!(
            "**Replaced, chain by chain** ({CHAINS} chains, {CHAINS} connections, {} source connections, {} dataflows):",
            2 * CHAINS,
            2 * CHAINS
        )),
        "{comment}"
    );
    assert!(
        comment.contains("- `prod/sf-07` (because its connection spec or auth spec cannot change in place), and with it 2 source connections, 2 dataflows (2 continuing where the old stopped)"),
        "{comment}"
    );
    assert!(
        comment.contains("Plan: 100 to add, 0 to change, 100 to destroy."),
        "{comment}"
    );

    let apply = world
        .run_in(
            dir,
            &["apply", "--auto-approve", "--parallelism", "8", &plan_file],
        )
        .await
        .expect_code(0);
    let err = apply.stderr();
    for i in [0, 7, 19] {
        let flow = format!("prod/flow:flow-{i:02}-Contact");
        let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
        assert!(
            at(&format!("{flow}: disabled the dataflow it replaces"))
                < at(&format!("{flow}: Creation complete")),
            "{err}"
        );
        assert!(
            at(&format!("{flow}#deposed: Destruction complete"))
                < at(&format!("prod/source:sf-{i:02}-Contact#deposed: Destroying")),
            "{err}"
        );
        assert!(
            at(&format!(
                "prod/source:sf-{i:02}-Contact#deposed: Destruction complete"
            )) < at(&format!("prod/sf-{i:02}#deposed: Destroying")),
            "{err}"
        );
    }
    // One of each, nothing deposed, nothing left in AEP of the old chains.
    for (side, n) in [
        ("/connections", CHAINS),
        ("/sourceConnections", 2 * CHAINS),
        ("/targetConnections", CHAINS),
        ("/flows", 2 * CHAINS),
    ] {
        let names = names(&world, side).await;
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!((names.len(), unique.len()), (n, n), "{side}: {names:?}");
    }
    // The mapping sets stay as they were: the new dataflows pin the same sets, at the same
    // version (nothing of Data Prep is replaced, and nothing is made twice).
    let sets = world.admin(Method::GET, "/mappingSets", Value::Null).await;
    let sets = sets.as_array().unwrap();
    assert_eq!(sets.len(), 2 * CHAINS);
    assert!(sets.iter().all(|s| s["versions"].as_array().unwrap().len() == 1));
    let state = world.recorded();
    let sets: BTreeSet<&str> = sets.iter().map(|s| s["id"].as_str().unwrap()).collect();
    for (address, r) in &state.resources {
        if address.contains("/flow:") {
            let pinned = r.attrs["mappingId"].as_str().unwrap();
            assert!(sets.contains(pinned), "{address} pins {pinned}");
        }
    }
    assert_eq!(state.resources.len(), 8 * CHAINS);
    assert!(state.resources.keys().all(|a| !a.ends_with("#deposed")));
    for held in world
        .admin(Method::GET, "/connections", Value::Null)
        .await
        .as_array()
        .unwrap()
    {
        assert_eq!(held["item"]["auth"]["specName"], "OAuth2 Client Credential");
    }
    let again = world.run_in(dir, &["plan"]).await.expect_code(0);
    assert!(
        again
            .stdout()
            .contains("No changes. Your resources match the configuration."),
        "{}",
        again.stdout()
    );
}
