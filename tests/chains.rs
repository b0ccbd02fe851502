//! Whole chains: a dataflow imported (by `flowform import`, or an `import:` block) takes the
//! declared source and target connections and base connection it refers to; `generate` writes
//! whole pipelines, dataflows included, that plan as imports and then as no change; a destroy
//! goes from the dataflows down to the base connections; and a base connection let go while
//! what refers to it stays declared is refused at its line.

use reqwest::Method;
use serde_json::Value;

use crate::common::no_changes;
use crate::world::World;

const FLOWS: &str = "flows.yaml";

/// A dataflow per source connection of the examples' pipeline, both into its target.
const TWO_FLOWS: &str = r#"sandbox: prod
flows:
  acme-contacts-flow:
    name: ACME contacts into the lake
    source: acme-contacts
    target: acme-profiles
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate, dateFormat: "yyyy-MM-dd HH:mm:ss", timezone: UTC}
    schedule: {frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}
  acme-accounts-flow:
    name: ACME accounts into the lake
    source: acme-accounts
    target: acme-profiles
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate}
    schedule: {frequency: day, interval: 1, startTime: 1796104800, backfill: false}
    enabled: false
"#;

/// Every resource of the pipeline, as `state rm` names them.
const ALL: [&str; 6] = [
    "acme-salesforce-oauth",
    "source:acme-contacts",
    "source:acme-accounts",
    "target:acme-profiles",
    "flow:acme-contacts-flow",
    "flow:acme-accounts-flow",
];

/// The examples' OAuth 2 base connection, its pipeline and two dataflows, declared.
async fn world() -> World {
    let world = World::pipeline().await;
    for file in ["salesforce-basic.yaml", "salesforce-jwt.yaml"] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world.write(FLOWS, TWO_FLOWS);
    world
}

/// [`world`] applied, then forgotten by the state (AEP keeps it all): the pipeline as if
/// made by hand. Returns each resource's id, in the order of [`ALL`].
async fn made_by_hand() -> (World, Vec<String>) {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let mut ids = Vec::new();
    for key in ALL {
        ids.push(world.id_of(key).await);
    }
    let mut rm = vec!["state", "rm"];
    rm.extend(ALL);
    world.run(&rm).await.expect_code(0);
    assert!(world.recorded().resources.is_empty());
    (world, ids)
}

/// How many resources of a collection the emulator holds.
async fn held(world: &World, collection: &str) -> usize {
    world
        .admin(Method::GET, collection, Value::Null)
        .await
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_a_dataflow_takes_its_chain_with_the_ids_aep_shows() {
    let (world, ids) = made_by_hand().await;
    let flow = &ids[4];

    // A chain member that AEP has otherwise than declared, in a field that cannot change in
    // place: refused, naming it and the field, and nothing is recorded.
    world.edit(crate::world::PIPELINE, "table: Contact", "table: Opportunity");
    let refused = world
        .run(&["import", "flow:acme-contacts-flow", flow])
        .await
        .expect_code(1);
    let err = refused.stderr();
    assert!(
        err.contains(&format!(
            "{} has `table` Contact, but `prod/source:acme-contacts` (taken with `prod/flow:acme-contacts-flow`, whose `sourceConnectionId` it is in AEP) declares Opportunity",
            ids[1]
        )),
        "{err}"
    );
    assert!(err.contains("help: `table` cannot change in place"), "{err}");
    assert!(world.recorded().resources.is_empty(), "nothing recorded");
    world.edit(crate::world::PIPELINE, "table: Opportunity", "table: Contact");

    // The dataflow, its source and target connections, and the source's base connection.
    let run = world
        .run(&["import", "flow:acme-contacts-flow", flow])
        .await
        .expect_code(0);
    let err = run.stderr();
    for (key, id) in [
        ("acme-salesforce-oauth", &ids[0]),
        ("source:acme-contacts", &ids[1]),
        ("target:acme-profiles", &ids[3]),
        ("flow:acme-contacts-flow", &ids[4]),
    ] {
        assert!(
            err.contains(&format!("prod/{key}: Import complete [id={id}]")),
            "{key}: {err}"
        );
        assert_eq!(&world.id_of(key).await, id, "{key}");
    }
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    assert!(
        at("prod/acme-salesforce-oauth: Import complete") < at("prod/source:acme-contacts: Import complete")
    );
    assert!(
        at("prod/source:acme-contacts: Import complete")
            < at("prod/flow:acme-contacts-flow: Import complete")
    );
    assert!(
        run.stdout().contains(
            "`prod/flow:acme-contacts-flow` is now managed by flowform, with what it refers to: `prod/acme-salesforce-oauth`, `prod/source:acme-contacts`, `prod/target:acme-profiles`."
        ),
        "{}",
        run.stdout()
    );
    assert_eq!(world.recorded().resources.len(), 4);

    // The second dataflow takes only what is not managed yet: its source connection.
    let run = world
        .run(&["import", "flow:acme-accounts-flow", &ids[5]])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .contains("with what it refers to: `prod/source:acme-accounts`."),
        "{}",
        run.stdout()
    );
    assert_eq!(world.recorded().resources.len(), 6);

    // Importing again is refused as before; nothing was created or changed in AEP.
    world
        .run(&["import", "flow:acme-accounts-flow", &ids[5]])
        .await
        .expect_code(1);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    assert_eq!(held(&world, "/sourceConnections").await, 2);
    assert_eq!(held(&world, "/flows").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_block_on_a_dataflow_plans_its_chain_as_imports() {
    let (world, ids) = made_by_hand().await;
    world.edit(
        FLOWS,
        "    enabled: false\n",
        &format!("    enabled: false\n    import: {{id: {}}}\n", ids[5]),
    );
    world.edit(
        FLOWS,
        "    target: acme-profiles\n    flowSpec: CRMToAEP\n    deltaColumn: {name: LastModifiedDate, dateFormat",
        &format!(
            "    target: acme-profiles\n    import: {{id: {}}}\n    flowSpec: CRMToAEP\n    deltaColumn: {{name: LastModifiedDate, dateFormat",
            ids[4]
        ),
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 6 to import, 0 to add, 0 to change, 0 to destroy."),
        "{out}\n{}",
        plan.stderr()
    );
    assert!(
        out.contains(&format!("# (imported from \"{}\")", ids[1])),
        "{out}"
    );
    assert!(
        out.contains("# taken with `prod/flow:acme-contacts-flow`, whose `sourceConnectionId` it is in AEP"),
        "{out}"
    );
    assert!(
        out.contains("# taken with `prod/source:acme-accounts`, whose `baseConnectionId` it is in AEP")
            || out
                .contains("# taken with `prod/source:acme-contacts`, whose `baseConnectionId` it is in AEP"),
        "{out}"
    );
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        apply
            .stdout()
            .contains("Apply complete! Resources: 6 imported, 0 added, 0 changed, 0 destroyed."),
        "{}",
        apply.stdout()
    );
    for (key, id) in ALL.iter().zip(&ids) {
        assert_eq!(&world.id_of(key).await, id, "{key}");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    assert_eq!(held(&world, "/sourceConnections").await, 2);
    assert_eq!(held(&world, "/targetConnections").await, 1);
    assert_eq!(held(&world, "/flows").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_member_aep_has_otherwise_is_a_plan_error_and_nothing_is_imported() {
    let (world, ids) = made_by_hand().await;
    world.edit(
        FLOWS,
        "    enabled: false\n",
        &format!("    enabled: false\n    import: {{id: {}}}\n", ids[5]),
    );
    world.edit(crate::world::PIPELINE, "table: Account", "table: Opportunity");
    let plan = world.run(&["plan"]).await.expect_code(1);
    let all = plan.stdout() + &plan.stderr();
    assert!(
        all.contains(&format!(
            "`prod/source:acme-accounts` imports source connection {}, whose `table` is Account, not the declared Opportunity",
            ids[2]
        )),
        "{all}"
    );
}

/// [`made_by_hand`], its files taken away: nothing in git, everything in AEP.
async fn nothing_in_git() -> (World, Vec<String>) {
    let (world, ids) = made_by_hand().await;
    let by_hand = world.dir.path().join("by-hand");
    std::fs::create_dir(&by_hand).unwrap();
    for file in ["salesforce-oauth2.yaml", crate::world::PIPELINE, FLOWS] {
        std::fs::rename(world.config().join(file), by_hand.join(file)).unwrap();
    }
    (world, ids)
}

/// The variables a generate printed, each given a value.
fn variables(generated: &crate::common::Run) -> Vec<(&'static str, String)> {
    generated
        .stdout()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| -> (&'static str, String) {
            (
                Box::leak(name.to_owned().into_boxed_str()),
                format!("value of {name}"),
            )
        })
        .collect()
}

/// Runs the binary with `vars` set.
async fn run_with(world: &World, args: &[&str], vars: &[(&'static str, String)]) -> crate::common::Run {
    let vars: Vec<(&'static str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    world.run_with(args, &vars).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_writes_whole_pipelines_that_import_and_then_have_no_changes() {
    let (world, ids) = nothing_in_git().await;
    let generated = world
        .run_bare(["generate", "--sandbox", "prod"].map(str::to_owned).to_vec())
        .await
        .expect_code(0);
    let err = generated.stderr();
    assert!(
        err.contains(
            "examples/prod.yaml: 1 connection, 2 source connections, 1 target connection, 2 dataflows to import (6 listed, 0 skipped)"
        ),
        "{err}"
    );
    let written = std::fs::read_to_string(world.config().join("prod.yaml")).unwrap();
    let flows = &written[written.find("\nflows:\n").expect(&written)..];
    // Each dataflow names what it joins by the keys written beside it, its flow spec by
    // name, its start in RFC 3339, and whether it runs.
    for line in [
        "  acme-contacts-into-the-lake:\n    name: \"ACME contacts into the lake\"\n    source: acme-salesforce-contacts\n    target: acme-profiles-data-lake\n    flowSpec: CRMToAEP\n",
        "    deltaColumn: {name: \"LastModifiedDate\", dateFormat: \"yyyy-MM-dd HH:mm:ss\", timezone: \"UTC\"}\n",
        "    schedule: {frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z, backfill: true}\n    enabled: true\n",
        "    schedule: {frequency: day, interval: 1, startTime: 2026-12-01T06:00:00Z, backfill: false}\n    enabled: false\n",
        &format!("    import: {{id: \"{}\"}}\n", ids[4]),
    ] {
        assert!(flows.contains(line), "{line}\nin\n{written}");
    }
    assert!(
        written.contains("  acme-salesforce-contacts:\n    name: \"ACME Salesforce contacts\"\n"),
        "{written}"
    );

    let vars = variables(&generated);
    let plan = run_with(&world, &["plan"], &vars).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 6 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}\n{}",
        plan.stdout(),
        plan.stderr()
    );
    let apply = run_with(&world, &["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    assert!(
        apply
            .stdout()
            .contains("Apply complete! Resources: 6 imported, 0 added, 0 changed, 0 destroyed."),
        "{}",
        apply.stdout()
    );
    no_changes(&run_with(&world, &["plan"], &vars).await.expect_code(0));
    let mut managed: Vec<String> = world
        .recorded()
        .resources
        .values()
        .map(|r| r.id.clone())
        .collect();
    let mut all = ids.clone();
    managed.sort();
    all.sort();
    assert_eq!(managed, all, "the very resources made by hand");
    assert_eq!(held(&world, "/flows").await, 2);

    // Generated again, nothing is left to write.
    let again = world
        .run_bare(
            ["generate", "--sandbox", "prod", "--out", "more"]
                .map(str::to_owned)
                .to_vec(),
        )
        .await
        .expect_code(0);
    assert!(
        again
            .stderr()
            .contains("nothing to generate (6 listed, 6 skipped)"),
        "{}",
        again.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataflow_generated_brings_the_source_and_target_connections_it_joins() {
    let (world, ids) = nothing_in_git().await;
    // Only the contacts' dataflow by name: its source and target connections come with it,
    // whatever their names; the base connection, not asked for, is named by id.
    let generated = world
        .run_bare(
            ["generate", "--sandbox", "prod", "--name", "ACME contacts*"]
                .map(str::to_owned)
                .to_vec(),
        )
        .await
        .expect_code(0);
    let err = generated.stderr();
    assert!(
        err.contains(
            "examples/prod.yaml: 1 source connection, 1 target connection, 1 dataflow to import (3 listed, 0 skipped)"
        ),
        "{err}"
    );
    let written = std::fs::read_to_string(world.config().join("prod.yaml")).unwrap();
    assert!(
        written.contains(&format!("    baseConnectionId: \"{}\"\n", ids[0])),
        "{written}"
    );
    assert!(
        written.contains("    source: acme-salesforce-contacts\n    target: acme-profiles-data-lake\n"),
        "{written}"
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 3 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}\n{}",
        plan.stdout(),
        plan.stderr()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    for (key, id) in [
        ("source:acme-salesforce-contacts", &ids[1]),
        ("target:acme-profiles-data-lake", &ids[3]),
        ("flow:acme-contacts-into-the-lake", &ids[4]),
    ] {
        assert_eq!(&world.id_of(key).await, id, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_goes_from_the_dataflows_down_to_the_base_connections() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let plan_file = world.dir.path().join("destroy.plan").display().to_string();
    let plan = world
        .run(&["plan", "--destroy", "--out", &plan_file])
        .await
        .expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 0 to add, 0 to change, 6 to destroy."),
        "{out}"
    );
    // Listed in the order they are carried out: dataflows, then what they join, then the
    // base connection.
    let listed: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# "))
        .filter_map(|l| l.strip_suffix(" will be destroyed"))
        .collect();
    assert_eq!(
        listed,
        [
            "prod/flow:acme-accounts-flow",
            "prod/flow:acme-contacts-flow",
            "prod/target:acme-profiles",
            "prod/source:acme-accounts",
            "prod/source:acme-contacts",
            "prod/acme-salesforce-oauth",
        ],
        "{out}"
    );
    let destroy = world
        .run(&["apply", "--auto-approve", &plan_file])
        .await
        .expect_code(0);
    let err = destroy.stderr();
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    // Carried out along the graph: a dataflow before what it joins, a source connection
    // before its base connection.
    for (first, then) in [
        ("flow:acme-contacts-flow", "source:acme-contacts"),
        ("flow:acme-contacts-flow", "target:acme-profiles"),
        ("flow:acme-accounts-flow", "source:acme-accounts"),
        ("flow:acme-accounts-flow", "target:acme-profiles"),
        ("source:acme-contacts", "acme-salesforce-oauth"),
        ("source:acme-accounts", "acme-salesforce-oauth"),
    ] {
        assert!(
            at(&format!("prod/{first}: Destruction complete")) < at(&format!("prod/{then}: Destroying...")),
            "{first} before {then}: {err}"
        );
    }
    assert!(
        destroy
            .stdout()
            .contains("Destroy complete! Resources: 0 added, 0 changed, 6 destroyed."),
        "{}",
        destroy.stdout()
    );
    assert!(world.recorded().resources.is_empty());
    for collection in ["/flows", "/sourceConnections", "/targetConnections"] {
        assert_eq!(held(&world, collection).await, 0, "{collection}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_connection_let_go_while_what_refers_to_it_stays_is_refused_at_its_line() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let base = world.id_of("acme-salesforce-oauth").await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    world.write(
        "moves.yaml",
        "removed:\n  - {key: acme-salesforce-oauth, destroy: false}\n",
    );
    let refused = world.run(&["plan"]).await.expect_code(1);
    let err = refused.stderr();
    assert!(
        err.contains(
            "error: source connection `acme-contacts`, `connection`: no connection `acme-salesforce-oauth` is declared"
        ),
        "{err}"
    );
    // Each source connection that still names it, at its line, with the way out.
    let pipeline = std::fs::read_to_string(world.config().join(crate::world::PIPELINE)).unwrap();
    for (n, line) in pipeline.lines().enumerate() {
        if line.trim() == "connection: acme-salesforce-oauth" {
            assert!(
                err.contains(&format!("--> examples/{}:{}:17", crate::world::PIPELINE, n + 1)),
                "line {}: {err}",
                n + 1
            );
        }
    }
    assert!(
        err.contains(
            "help: `acme-salesforce-oauth` leaves management (`removed` at examples/moves.yaml:2:5): a source connection cannot refer to it by key; name it by its id, `baseConnectionId: ID`, or keep `acme-salesforce-oauth` declared"
        ),
        "{err}"
    );
    assert_eq!(world.recorded().resources.len(), 6, "nothing changed");

    // The help followed: the source connections name it by id, and the plan lets it go.
    world.edit(
        crate::world::PIPELINE,
        "    connection: acme-salesforce-oauth\n    table: Contact",
        &format!(
            "    baseConnectionId: {base}\n    connectionSpec: {{id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: \"1.0\"}}\n    table: Contact"
        ),
    );
    world.edit(
        crate::world::PIPELINE,
        "    connection: acme-salesforce-oauth\n    table: Account",
        &format!(
            "    baseConnectionId: {base}\n    connectionSpec: {{id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: \"1.0\"}}\n    table: Account"
        ),
    );
    let plan = world.run(&["plan"]).await;
    let out = plan.stdout();
    assert_eq!(plan.code(), Some(0), "{out}\n{}", plan.stderr());
    assert!(
        out.contains("# prod/acme-salesforce-oauth will no longer be managed by flowform"),
        "{out}"
    );
    assert!(out.contains("0 to add, 0 to change, 0 to destroy"), "{out}");
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(apply.stdout().contains("1 forgotten"), "{}", apply.stdout());
    assert!(world.recorded().find("acme-salesforce-oauth").is_none());
    assert!(
        world
            .stored()
            .await
            .iter()
            .any(|c| c["item"]["id"] == base.as_str()),
        "AEP keeps it"
    );
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

/// What stays managed and names a member of the chain by key is not replaced: the plan knows
/// the id it will import.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_blocks_chain_under_what_stays_managed_replaces_nothing() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let flow = world.id_of("flow:acme-contacts-flow").await;
    let before: Vec<String> = {
        let mut ids = Vec::new();
        for key in ALL {
            ids.push(world.id_of(key).await);
        }
        ids
    };
    world
        .run(&[
            "state",
            "rm",
            "flow:acme-contacts-flow",
            "source:acme-contacts",
            "target:acme-profiles",
            "acme-salesforce-oauth",
        ])
        .await
        .expect_code(0);
    world.edit(
        FLOWS,
        "    target: acme-profiles\n    flowSpec: CRMToAEP\n    deltaColumn: {name: LastModifiedDate, dateFormat",
        &format!(
            "    target: acme-profiles\n    import: {{id: {flow}}}\n    flowSpec: CRMToAEP\n    deltaColumn: {{name: LastModifiedDate, dateFormat"
        ),
    );
    // `source:acme-accounts` and its dataflow, still managed, name the base connection and
    // the target connection the chain imports.
    let plan = world.run(&["plan"]).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 4 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}\n{}",
        plan.stdout(),
        plan.stderr()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    for (key, id) in ALL.iter().zip(&before) {
        assert_eq!(&world.id_of(key).await, id, "{key}");
    }
}

/// [`TWO_FLOWS`], the contacts' dataflow with a mapping set.
fn with_mapping() -> String {
    TWO_FLOWS.replace(
        "    source: acme-contacts\n",
        "    source: acme-contacts\n    mapping: acme-profile-mapping\n",
    ) + r#"mappings:
  acme-profile-mapping:
    name: ACME Salesforce to profile
    mappings:
      - {source: Id, destination: _flowformdemo.crmId}
      - {source: "lower(Email)", destination: personalEmail.address, sourceType: EXPRESSION}
"#
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_set_comes_with_its_dataflow_when_imported_and_when_generated() {
    let world = world().await;
    world.write(FLOWS, &with_mapping());
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    let set = world.id_of("mapping:acme-profile-mapping").await;
    let flow = world.id_of("flow:acme-contacts-flow").await;
    assert_eq!(set.len(), 32, "a Data Prep id: {set}");

    // `import` of the dataflow takes the mapping set it uses, by the id AEP shows.
    world
        .run(&[
            "state",
            "rm",
            "flow:acme-contacts-flow",
            "mapping:acme-profile-mapping",
        ])
        .await
        .expect_code(0);
    let import = world
        .run(&["import", "flow:acme-contacts-flow", &flow])
        .await
        .expect_code(0);
    let err = import.stderr();
    assert!(err.contains("prod/mapping:acme-profile-mapping"), "{err}");
    assert_eq!(world.id_of("mapping:acme-profile-mapping").await, set);
    no_changes(&world.run(&["plan"]).await.expect_code(0));

    // Forgotten and taken away: `generate` writes the set, and the dataflow names it by key.
    let mut rm = vec!["state", "rm", "mapping:acme-profile-mapping"];
    rm.extend(ALL);
    world.run(&rm).await.expect_code(0);
    let by_hand = world.dir.path().join("by-hand");
    std::fs::create_dir(&by_hand).unwrap();
    for file in ["salesforce-oauth2.yaml", crate::world::PIPELINE, FLOWS] {
        std::fs::rename(world.config().join(file), by_hand.join(file)).unwrap();
    }
    let generated = world
        .run_bare(["generate", "--sandbox", "prod"].map(str::to_owned).to_vec())
        .await
        .expect_code(0);
    let written = std::fs::read_to_string(world.config().join("prod.yaml")).unwrap();
    for line in [
        "mappings:\n  acme-salesforce-to-profile:\n    name: \"ACME Salesforce to profile\"\n",
        "      - {source: \"lower(Email)\", destination: \"personalEmail.address\", sourceType: EXPRESSION}\n",
        &format!("    import: {{id: \"{set}\"}}\n"),
        "    mapping: acme-salesforce-to-profile\n",
    ] {
        assert!(written.contains(line), "{line}\nin\n{written}");
    }
    let vars = variables(&generated);
    let plan = run_with(&world, &["plan"], &vars).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 7 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}\n{}",
        plan.stdout(),
        plan.stderr()
    );
    run_with(&world, &["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    no_changes(&run_with(&world, &["plan"], &vars).await.expect_code(0));
}
