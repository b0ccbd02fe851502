//! A graph of resources through the binary: base connections, the source connections that
//! read through them and the target connections that write to a dataset — planned in
//! dependency order, applied as a graph (create-before-destroy along a replaced chain, a
//! failure stopping only what depends on it), and kept without a duplicate or a lost id.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::World;

/// The examples' pipeline on one base connection: `acme-salesforce-oauth`, two source
/// connections on it (Contact, Account) and a target connection on the demo profile dataset.
async fn scratch() -> World {
    let world = World::pipeline().await;
    for file in ["salesforce-basic.yaml", "salesforce-jwt.yaml"] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world
}

/// What the emulator holds of a side (`sourceConnections`, `targetConnections`).
async fn held(world: &World, side: &str) -> Vec<Value> {
    world
        .admin(Method::GET, &format!("/{side}"), Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r["item"].clone())
        .collect()
}

/// The names the emulator holds of a side, sorted, duplicates kept.
async fn names(world: &World, side: &str) -> Vec<String> {
    let mut names: Vec<String> = held(world, side)
        .await
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The lines of `text` that say `what`, in order, by the address each starts with.
fn order_of(text: &str, what: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(what))
        .map(|l| l.split(':').take(2).collect::<Vec<_>>().join(":"))
        .collect()
}

fn position(lines: &[String], address: &str) -> usize {
    lines
        .iter()
        .position(|l| l.starts_with(address))
        .unwrap_or_else(|| panic!("{address} in {lines:#?}"))
}

/// Asserts the emulator and the state agree: every base, source and target connection once,
/// each recorded, nothing pending, nothing deposed.
async fn settled(world: &World, bases: usize, sources: usize, targets: usize) {
    let state = world.recorded();
    assert!(state.pending.is_empty(), "{:?}", state.pending);
    assert!(
        state.resources.keys().all(|a| !a.ends_with("#deposed")),
        "{:?}",
        state.resources.keys()
    );
    let mut ids = BTreeSet::new();
    for (side, n) in [("sourceConnections", sources), ("targetConnections", targets)] {
        let names = names(world, side).await;
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!((names.len(), unique.len()), (n, n), "{side}: {names:?}");
        ids.extend(
            held(world, side)
                .await
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
    }
    let stored = world.stored().await;
    assert_eq!(stored.len(), bases, "{stored:#?}");
    ids.extend(
        stored
            .iter()
            .map(|c| c["item"]["id"].as_str().unwrap().to_owned()),
    );
    assert_eq!(state.resources.len(), bases + sources + targets, "no lost id");
    for r in state.resources.values() {
        assert!(ids.contains(&r.id), "{} is in AEP", r.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_plans_in_dependency_order_applies_and_then_has_no_changes() {
    let world = scratch().await;
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 4 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    let blocks = order_of(&out, " will be created");
    assert_eq!(
        blocks,
        [
            "  # prod/acme-salesforce-oauth will be created",
            "  # prod/source:acme-accounts will be created",
            "  # prod/source:acme-contacts will be created",
            "  # prod/target:acme-profiles will be created",
        ],
        "{out}"
    );
    // The base connection's id is known only once it exists.
    assert!(
        out.contains("+ baseConnectionId       = (known after apply)"),
        "{out}"
    );
    // The schema, taken from the dataset, is shown before anything is sent.
    assert!(
        out.contains("+ schema.id              = \"https://ns.adobe.com/"),
        "{out}"
    );

    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    let done = order_of(&err, "Creation complete");
    let base = position(&done, "prod/acme-salesforce-oauth");
    assert!(base < position(&done, "prod/source:acme-contacts"), "{err}");
    assert!(base < position(&done, "prod/source:acme-accounts"), "{err}");
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 4 added, 0 changed, 0 destroyed.\n"),
        "{}",
        apply.stdout()
    );
    settled(&world, 1, 2, 1).await;

    // What AEP holds is what was declared, by the base connection's new id.
    let base_id = world.id_of("acme-salesforce-oauth").await;
    let sources = held(&world, "sourceConnections").await;
    for s in &sources {
        assert_eq!(s["baseConnectionId"], base_id.as_str());
    }
    let contacts = sources
        .iter()
        .find(|s| s["name"] == "ACME Salesforce contacts")
        .unwrap();
    assert_eq!(contacts["params"]["tableName"], "Contact");
    assert_eq!(
        contacts["params"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Id", "FirstName", "LastName", "Email", "LastModifiedDate"]
    );
    let targets = held(&world, "targetConnections").await;
    assert_eq!(targets[0]["params"]["dataSetId"], "65d4c1f0a1b2c3d4e5f60101");
    // Each record knows its kind and what it depends on, for a destroy without the
    // configuration.
    let state = world.recorded();
    let (_, record) = state.find("source:acme-contacts").unwrap();
    assert_eq!(record.kind.name, "source");
    assert_eq!(record.depends_on, std::slice::from_ref(&base_id));

    let again = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
    assert!(
        again
            .stdout()
            .contains("No changes. Your resources match the configuration."),
        "{}",
        again.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_table_or_column_fails_the_plan_with_a_suggestion() {
    let world = scratch().await;
    world
        .run(&["apply", "--auto-approve", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    world.edit(crate::world::PIPELINE, "table: Contact", "table: Contcat");
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("source connection `acme-contacts`"), "{err}");
    assert!(err.contains("salesforce-pipeline.yaml:15"), "{err}");
    assert!(err.contains("did you mean `Contact`?"), "{err}");
    assert!(
        held(&world, "sourceConnections").await.is_empty(),
        "nothing was created"
    );

    world.edit(crate::world::PIPELINE, "table: Contcat", "table: Contact");
    world.edit(crate::world::PIPELINE, "LastName, Email", "LastName, Emial");
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("`Emial`"), "{err}");
    assert!(err.contains("did you mean `Email`?"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_lists_tables_and_a_tables_columns() {
    let world = scratch().await;
    world
        .run(&["apply", "--auto-approve", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    let run = world
        .run(&["explore", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    let out = run.stdout();
    for table in ["Account", "Contact", "Lead", "Opportunity"] {
        assert!(
            out.lines().any(|l| l.split_whitespace().next() == Some(table)),
            "{out}"
        );
    }
    let run = world
        .run(&["explore", "acme-salesforce-oauth", "Contact", "--format", "json"])
        .await
        .expect_code(0);
    let columns: Value = serde_json::from_str(&run.stdout()).unwrap();
    let text = columns.to_string();
    assert!(text.contains("\"Email\""), "{text}");
    assert!(text.contains("\"LastModifiedDate\""), "{text}");
    let run = world
        .run(&["explore", "acme-salesforce-oauth", "Contcat"])
        .await
        .expect_code(1);
    assert!(
        run.stderr().contains("did you mean `Contact`?"),
        "{}",
        run.stderr()
    );
}

/// The oauth connection's auth, moved to another auth spec (a replacement).
const BASIC: &str = "      specName: Basic Authentication
      params:
        environmentUrl: https://acme-enterprise-3126.my.salesforce.com
        username: acme-integration
        password: ${file:secrets/acme-password}
        securityToken: ${file:secrets/acme-security-token}
";

const OAUTH: &str = "      specName: OAuth2 Client Credential
      params:
        environmentUrl: https://acme-enterprise-3126.my.salesforce.com
        clientId: 3MVG9n_HvETGhr3Cjq8Q.acme.demo
        clientSecret: ${file:secrets/acme-oauth-client-secret}
        apiVersion: \"60.0\"
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_spec_change_replaces_the_chain_new_first_and_leaves_nothing_behind() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let old_base = world.id_of("acme-salesforce-oauth").await;
    let old_contacts = world.id_of("source:acme-contacts").await;
    let old_target = world.id_of("target:acme-profiles").await;
    world.edit("salesforce-oauth2.yaml", OAUTH, BASIC);

    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 3 to add, 0 to change, 3 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("# prod/acme-salesforce-oauth must be replaced"),
        "{out}"
    );
    for source in ["acme-contacts", "acme-accounts"] {
        assert!(
            out.contains(&format!(
                "# prod/source:{source} must be replaced\n  # (because prod/acme-salesforce-oauth gets a new id, and AEP cannot point it at the new one in place)"
            )),
            "{out}"
        );
    }
    assert!(!out.contains("prod/target:acme-profiles"), "{out}");

    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    // The new chain first: each old source connection goes once its replacement exists,
    // the old base connection last, once nothing uses it.
    let at = |line: &str| err.find(line).unwrap_or_else(|| panic!("{line}: {err}"));
    let base_created = at("prod/acme-salesforce-oauth: Creation complete");
    let base_destroyed = at("prod/acme-salesforce-oauth#deposed: Destruction complete");
    for source in ["acme-contacts", "acme-accounts"] {
        let created = at(&format!("prod/source:{source}: Creation complete"));
        let destroyed = at(&format!("prod/source:{source}#deposed: Destruction complete"));
        assert!(
            base_created < created && created < destroyed && destroyed < base_destroyed,
            "{err}"
        );
    }
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 3 added, 0 changed, 3 destroyed.\n"),
        "{}",
        apply.stdout()
    );
    settled(&world, 1, 2, 1).await;
    let new_base = world.id_of("acme-salesforce-oauth").await;
    assert_ne!(new_base, old_base);
    assert_ne!(world.id_of("source:acme-contacts").await, old_contacts);
    assert_eq!(world.id_of("target:acme-profiles").await, old_target, "untouched");
    for s in held(&world, "sourceConnections").await {
        assert_eq!(s["baseConnectionId"], new_base.as_str());
    }
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_deletes_source_connections_before_their_base_connection() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let plan_file = world.dir.path().join("destroy.plan");
    let plan_path = plan_file.display().to_string();
    let plan = world
        .run(&["plan", "--destroy", "--out", &plan_path])
        .await
        .expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 0 to add, 0 to change, 4 to destroy."),
        "{}",
        plan.stdout()
    );
    let apply = world
        .run(&["apply", "--auto-approve", &plan_path])
        .await
        .expect_code(0);
    let err = apply.stderr();
    let destroyed = order_of(&err, "Destruction complete");
    let base = position(&destroyed, "prod/acme-salesforce-oauth");
    // After both its source connections (the target connection, which does not use it, may
    // go at any time).
    for source in ["prod/source:acme-contacts", "prod/source:acme-accounts"] {
        assert!(
            position(&destroyed, source) < base,
            "the base connection goes after {source}: {err}"
        );
    }
    settled(&world, 0, 0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_gone_from_the_configuration_are_deleted_in_the_order_the_state_records() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The base connection and its source connections leave the configuration together:
    // only the state says which depends on which.
    for file in ["salesforce-oauth2.yaml", crate::world::PIPELINE] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world.write("empty.yaml", "sandbox: prod\nconnections: {}\n");
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    let destroyed = order_of(&err, "Destruction complete");
    assert_eq!(destroyed.len(), 4, "{err}");
    // After both its source connections (the target connection, which does not use it, may
    // go at any time).
    let base = position(&destroyed, "prod/acme-salesforce-oauth");
    for source in ["prod/source:acme-contacts", "prod/source:acme-accounts"] {
        assert!(
            position(&destroyed, source) < base,
            "the base connection goes after {source}: {err}"
        );
    }
    settled(&world, 0, 0, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_pulls_in_what_the_targeted_resource_depends_on() {
    let world = scratch().await;
    let run = world
        .run(&["plan", "--target", "source:acme-contacts"])
        .await
        .expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("# prod/acme-salesforce-oauth will be created"),
        "{out}"
    );
    assert!(
        out.contains("# prod/source:acme-contacts will be created"),
        "{out}"
    );
    assert!(!out.contains("acme-accounts"), "{out}");
    world
        .run(&["apply", "--auto-approve", "--target", "source:acme-contacts"])
        .await
        .expect_code(0);
    settled(&world, 1, 1, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_create_stops_only_what_depends_on_it_and_says_so() {
    let world = scratch().await;
    // Every try of the base connection's create fails before AEP makes anything.
    for _ in 0..3 {
        world
            .admin(
                Method::POST,
                "/faults/script",
                json!({"method": "POST", "path": "/connections", "fault": "server-error"}),
            )
            .await;
    }
    let run = world.run(&["apply", "--auto-approve"]).await;
    let (out, err) = (run.stdout(), run.stderr());
    assert_eq!(run.code(), Some(1), "{out}\n{err}");
    assert!(err.contains("error: prod/acme-salesforce-oauth: "), "{err}");
    for source in ["acme-contacts", "acme-accounts"] {
        assert!(
            err.contains(&format!(
                "prod/source:{source}: skipped (create): it waits for `prod/acme-salesforce-oauth`, which failed"
            )),
            "{err}"
        );
    }
    assert!(
        err.contains("Apply failed: 1 action failed and 2 were skipped, waiting for it; everything that succeeded is in the state (1 added, 0 changed, 0 destroyed, 0 imported)."),
        "{err}"
    );
    // The target connection, which depends on nothing that failed, was created.
    settled(&world, 0, 0, 1).await;
    // The rerun does the rest.
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_behind_a_new_base_connection_is_checked_before_its_create() {
    let world = scratch().await;
    world.edit(crate::world::PIPELINE, "table: Contact", "table: Contcat");
    // The base connection does not exist yet: the plan says when the table is checked.
    let plan = world.run(&["plan"]).await.expect_code(0);
    assert!(
        plan.stdout().contains(
            "# its table and columns are checked against AEP once its base connection exists, just before it is created"
        ),
        "{}",
        plan.stdout()
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("error: prod/source:acme-contacts: ") && err.contains("did you mean `Contact`?"),
        "{err}"
    );
    // Nothing was sent for it; the rest was created.
    assert_eq!(
        names(&world, "sourceConnections").await,
        ["ACME Salesforce accounts"]
    );
    assert_eq!(world.stored().await.len(), 1);
    world.edit(crate::world::PIPELINE, "table: Contcat", "table: Contact");
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protect_on_a_source_connection_blocks_its_base_connections_replacement() {
    let world = scratch().await;
    world.edit(
        crate::world::PIPELINE,
        "    table: Account\n",
        "    table: Account\n    lifecycle:\n      protect: true\n",
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.edit("salesforce-oauth2.yaml", OAUTH, BASIC);
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stdout() + &run.stderr();
    assert!(
        err.contains("is protected, and must be replaced because `prod/acme-salesforce-oauth` is replaced")
            && err.contains(": prod/acme-salesforce-oauth → prod/source:acme-accounts\n"),
        "the chain is named: {err}"
    );
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    let said = apply.stdout() + &apply.stderr();
    assert!(said.contains("is protected"), "{said}");
    settled(&world, 1, 2, 1).await;
    assert_eq!(
        world.stored().await[0]["item"]["auth"]["specName"],
        "OAuth2 Client Credential"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_create_with_an_unknown_outcome_is_found_not_made_twice() {
    let world = scratch().await;
    world
        .run(&["apply", "--auto-approve", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    for fault in ["commit-then-fail", "commit-then-drop"] {
        world
            .admin(
                Method::POST,
                "/faults/script",
                json!({"method": "POST", "path": "/sourceConnections", "fault": fault}),
            )
            .await;
    }
    let run = world
        .run(&["apply", "--auto-approve", "--parallelism", "1"])
        .await
        .expect_code(0);
    let err = run.stderr();
    assert_eq!(err.matches("outcome is unknown").count(), 2, "{err}");
    assert_eq!(err.matches("AEP did make it: adopting").count(), 2, "{err}");
    settled(&world, 1, 2, 1).await;
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_name_taken_in_aep_is_refused_with_the_import_to_run() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let id = world.id_of("source:acme-contacts").await;
    world
        .run(&["state", "rm", "source:acme-contacts"])
        .await
        .expect_code(0);
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stdout() + &run.stderr();
    assert!(
        err.contains(&format!("run `flowform import source:acme-contacts {id}`")),
        "{err}"
    );
    assert!(
        err.contains("AEP already has a source connection named `ACME Salesforce contacts`"),
        "{err}"
    );
    world
        .run(&["import", "source:acme-contacts", &id])
        .await
        .expect_code(0);
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_moved_removed_and_ignore_changes_work_for_source_connections() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let id = world.id_of("source:acme-accounts").await;
    // A renamed key, said with `moved:`: nothing in AEP changes.
    world.edit(crate::world::PIPELINE, "  acme-accounts:\n", "  sf-accounts:\n");
    world.write(
        "moves.yaml",
        "moved:\n  - {from: source:acme-accounts, to: source:sf-accounts}\n",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("1 moved"), "{}", run.stdout());
    assert_eq!(world.id_of("source:sf-accounts").await, id);
    // Let go with `removed:`: AEP keeps it, the state forgets it.
    world.edit(
        crate::world::PIPELINE,
        "  sf-accounts:\n    name: ACME Salesforce accounts\n    connection: acme-salesforce-oauth\n    table: Account\n",
        "",
    );
    world.write(
        "moves.yaml",
        "removed:\n  - {key: source:sf-accounts, destroy: false}\n",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("1 forgotten"), "{}", run.stdout());
    assert_eq!(names(&world, "sourceConnections").await.len(), 2, "AEP keeps it");
    // Taken back with `import:`.
    world.write(
        "moves.yaml",
        &format!(
            "sandbox: prod\nsources:\n  sf-accounts:\n    name: ACME Salesforce accounts\n    connection: acme-salesforce-oauth\n    table: Account\n    import: {{id: {id}}}\n"
        ),
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("1 imported"), "{}", run.stdout());
    // A change ignored by `ignoreChanges` plans nothing.
    world
        .admin(
            Method::PATCH,
            &format!("/sourceConnections/{id}"),
            json!({"description": "edited in the UI"}),
        )
        .await;
    world.edit(
        "moves.yaml",
        "    table: Account\n",
        "    table: Account\n    lifecycle: {ignoreChanges: [description]}\n",
    );
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_every_kind_changed_outside_unmanaged_and_dangling() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let clean = world.run(&["drift"]).await.expect_code(0);
    assert!(clean.stdout().contains("In sync"), "{}", clean.stdout());

    // Renamed in the UI.
    let contacts = world.id_of("source:acme-contacts").await;
    world
        .admin(
            Method::PATCH,
            &format!("/sourceConnections/{contacts}"),
            json!({"name": "Contacts (renamed by hand)"}),
        )
        .await;
    // Forgotten by the state and by the configuration: AEP still has it, on a managed base.
    world
        .run(&["state", "rm", "source:acme-accounts"])
        .await
        .expect_code(0);
    world.edit(
        crate::world::PIPELINE,
        "  acme-accounts:\n    name: ACME Salesforce accounts\n    connection: acme-salesforce-oauth\n    table: Account\n",
        "",
    );
    let run = world.run(&["drift"]).await.expect_code(2);
    let out = run.stdout();
    assert!(out.contains("# prod/source:acme-contacts has changed"), "{out}");
    assert!(
        out.contains("~ name = \"ACME Salesforce contacts\" -> \"Contacts (renamed by hand)\""),
        "{out}"
    );
    assert!(out.contains("\"ACME Salesforce accounts\""), "unmanaged: {out}");

    // The base connection deleted outside flowform: its source connections dangle.
    let base = world.id_of("acme-salesforce-oauth").await;
    world
        .admin(Method::DELETE, &format!("/connections/{base}"), Value::Null)
        .await;
    let run = world.run(&["drift"]).await.expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains("# prod/acme-salesforce-oauth has been deleted"),
        "{out}"
    );
    assert!(out.contains("prod/source:acme-contacts"), "{out}");
    assert!(
        out.contains("# dangling: it refers to `prod/acme-salesforce-oauth`, which AEP no longer has"),
        "{out}"
    );
    // Recreating the base connection and replacing what pointed at it only answers the
    // change outside: nothing is said to be unapplied.
    assert!(
        out.contains("Not yet applied (the configuration differs from the state): 0"),
        "{out}"
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(run.stdout().contains("2 added"), "{}", run.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_writes_source_and_target_connections_that_refer_by_key() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    for key in [
        "acme-salesforce-oauth",
        "source:acme-contacts",
        "source:acme-accounts",
        "target:acme-profiles",
    ] {
        world.run(&["state", "rm", key]).await.expect_code(0);
    }
    let by_hand = world.dir.path().join("by-hand");
    std::fs::create_dir(&by_hand).unwrap();
    for file in ["salesforce-oauth2.yaml", crate::world::PIPELINE] {
        std::fs::rename(world.config().join(file), by_hand.join(file)).unwrap();
    }
    let run = world
        .run_bare(["generate", "--sandbox", "prod"].map(str::to_owned).to_vec())
        .await
        .expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains(
            "1 connection, 2 source connections, 1 target connection to import (4 listed, 0 skipped)"
        ),
        "{err}"
    );
    let written = std::fs::read_to_string(world.config().join("prod.yaml")).unwrap();
    assert!(written.contains("\nsources:\n"), "{written}");
    assert!(
        written.contains("    connection: acme-salesforce-oauth-2\n"),
        "by key: {written}"
    );
    assert!(written.contains("    table: \"Contact\"\n"), "{written}");
    assert!(written.contains("\ntargets:\n"), "{written}");
    assert!(
        written.contains("    dataset: \"65d4c1f0a1b2c3d4e5f60101\"\n"),
        "{written}"
    );
    // Its secrets from the environment, as generate printed them.
    let vars: Vec<(String, String)> = run
        .stdout()
        .lines()
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| (name.to_owned(), "from-the-vault".to_owned()))
        .collect();
    let vars: Vec<(&'static str, &str)> = vars
        .iter()
        .map(|(k, v)| (&*Box::leak(k.clone().into_boxed_str()), v.as_str()))
        .collect();
    let plan = world.run_with(&["plan"], &vars).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 4 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
    world
        .run_with(&["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    let again = world.run_with(&["plan"], &vars).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_written_before_kinds_is_read_and_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::common::root();
    crate::world::copy_dir(&root.join("examples"), &dir.path().join("examples"));
    let pipeline = dir.path().join("examples").join(crate::world::PIPELINE);
    std::fs::remove_file(&pipeline).unwrap();
    std::fs::remove_file(dir.path().join("examples").join(crate::world::DATAFLOWS)).unwrap();
    std::fs::write(
        dir.path().join("flowform.toml"),
        "config = [\"examples\"]\nstate = \"state/flowform.json\"\n",
    )
    .unwrap();
    let emulator = dir.path().join("state").join("emulator");
    crate::world::copy_dir(&root.join("tests/fixtures/state-v3"), &emulator);
    std::fs::remove_file(emulator.join("README.md")).unwrap();
    let state_path = emulator.join("flowform.json");
    let written = std::fs::read(&state_path).unwrap();
    let old: Value = serde_json::from_slice(&written).unwrap();
    assert_eq!(old["version"], 3);
    let run = |args: &[&str]| crate::common::flowform(args).current_dir(dir.path()).run();

    // Read as it is: nothing to do, and nothing written by a plan.
    let plan = run(&["plan", "--emulator"]).expect_code(0);
    assert!(plan.stdout().contains("No changes."), "{}", plan.stdout());
    assert_eq!(
        std::fs::read(&state_path).unwrap(),
        written,
        "a plan writes nothing"
    );
    let list = run(&["state", "list", "--emulator"]).expect_code(0);
    assert_eq!(list.stdout().lines().count(), 3, "{}", list.stdout());

    // The next write upgrades it: the same lineage, the next serial, the same ids.
    std::fs::copy(root.join("examples").join(crate::world::PIPELINE), &pipeline).unwrap();
    let apply = run(&["apply", "--emulator", "--auto-approve"]).expect_code(0);
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n"),
        "{}",
        apply.stdout()
    );
    let new: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(new["version"], 4);
    assert_eq!(new["lineage"], old["lineage"]);
    assert!(new["serial"].as_u64() > old["serial"].as_u64());
    assert!(new.get("connections").is_none(), "written in today's shape");
    for (address, record) in old["connections"].as_object().unwrap() {
        assert_eq!(new["resources"][address]["id"], record["id"], "{address}");
        assert_eq!(new["resources"][address]["kind"], "connection", "{address}");
    }
    let again = run(&["plan", "--emulator"]).expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_saved_before_kinds_is_applied_as_reviewed() {
    let dir = tempfile::tempdir().unwrap();
    let root = crate::common::root();
    crate::world::copy_dir(&root.join("examples"), &dir.path().join("examples"));
    std::fs::remove_file(dir.path().join("examples").join(crate::world::PIPELINE)).unwrap();
    std::fs::remove_file(dir.path().join("examples").join(crate::world::DATAFLOWS)).unwrap();
    std::fs::write(
        dir.path().join("flowform.toml"),
        "config = [\"examples\"]\nstate = \"state/flowform.json\"\n",
    )
    .unwrap();
    let emulator = dir.path().join("state").join("emulator");
    crate::world::copy_dir(&root.join("tests/fixtures/state-v3"), &emulator);
    let jwt = dir.path().join("examples/salesforce-jwt.yaml");
    let text = std::fs::read_to_string(&jwt).unwrap();
    std::fs::write(
        &jwt,
        text.replace("name: ACME Salesforce (JWT)", "name: ACME JWT"),
    )
    .unwrap();
    let plan = emulator.join("rename-jwt.plan").display().to_string();
    let apply = crate::common::flowform(["apply", "--emulator", plan.as_str()])
        .current_dir(dir.path())
        .run()
        .expect_code(0);
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.\n"),
        "{}\n{}",
        apply.stdout(),
        apply.stderr()
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(emulator.join("flowform.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 4);
    assert_eq!(state["resources"]["prod/acme-salesforce-jwt"]["name"], "ACME JWT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_comment_counts_each_kind_and_an_erroneous_plan_claims_no_changes() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.edit("salesforce-oauth2.yaml", OAUTH, BASIC);
    let md = world
        .run(&["plan", "--format", "markdown"])
        .await
        .expect_code(0)
        .stdout();
    assert!(
        md.starts_with("Plan: 3 to add, 0 to change, 3 to destroy."),
        "{md}"
    );
    assert!(
        md.contains("> - **1 connection, 2 source connections will be replaced**"),
        "{md}"
    );
    world.edit("salesforce-oauth2.yaml", BASIC, OAUTH);
    world
        .run(&["state", "rm", "source:acme-contacts"])
        .await
        .expect_code(0);
    let run = world.run(&["plan", "--format", "markdown"]).await.expect_code(1);
    let md = run.stdout();
    assert!(!md.contains("No changes."), "{md}");
    assert!(
        md.starts_with("> [!CAUTION]\n> **This plan cannot be applied:**"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_connection_has_one_state_in_postgres_too() {
    let Some(pg) = crate::postgres::Pg::connect().await else {
        return;
    };
    let world = World::bare(flowform_emulator::Options::default()).await;
    let clone = |name: &str| {
        let dir = world.dir.path().join(name);
        crate::world::copy_dir(&crate::common::root().join("examples"), &dir.join("examples"));
        for file in [
            "salesforce-basic.yaml",
            "salesforce-jwt.yaml",
            crate::world::DATAFLOWS,
        ] {
            std::fs::remove_file(dir.join("examples").join(file)).unwrap();
        }
        std::fs::write(
            dir.join("flowform.toml"),
            format!("config = [\"examples\"]\nstate = \"{}\"\n", pg.url(name)),
        )
        .unwrap();
        dir
    };
    let (marketing, sales) = (clone("marketing"), clone("sales"));
    world.run_in(&marketing, &["init"]).await.expect_code(0);
    world.run_in(&sales, &["init"]).await.expect_code(0);
    world
        .run_in(&marketing, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    let id = pg.recorded("marketing").resources["prod/source:acme-contacts"]
        .id
        .clone();
    let refused = world
        .run_in(&sales, &["import", "source:acme-contacts", &id])
        .await
        .expect_code(1);
    assert!(
        refused
            .stderr()
            .contains("is managed by the state `marketing` (as `prod/source:acme-contacts`)"),
        "{}",
        refused.stderr()
    );
    assert!(pg.recorded("sales").resources.is_empty());
    assert_eq!(
        pg.count(&format!(
            "SELECT count(*) FROM {{s}}.owners WHERE connection_id = '{id}'"
        ))
        .await,
        1
    );
    pg.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_shared_across_kinds_validate_narrowed_and_apply_replace() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // A file of the project named with -c is validated with the rest of the project, whose
    // other files declare what it refers to.
    let validate = world
        .run_bare(
            ["validate", "-c", &format!("examples/{}", crate::world::PIPELINE)]
                .map(str::to_owned)
                .to_vec(),
        )
        .await
        .expect_code(0);
    assert_eq!(
        validate.stdout(),
        "prod: 2 source connections, 1 target connection valid\n"
    );
    // A source connection keyed like its base connection: the bare key is the base
    // connection's, `source:` the source connection's.
    world.edit(
        crate::world::PIPELINE,
        "  acme-accounts:\n",
        "  acme-salesforce-oauth:\n",
    );
    world.write(
        "moves.yaml",
        "moved:\n  - {from: source:acme-accounts, to: source:acme-salesforce-oauth}\n",
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let show = world
        .run(&["state", "show", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    assert!(
        show.stdout()
            .contains("\"address\": \"prod/acme-salesforce-oauth\""),
        "{}",
        show.stdout()
    );
    let show = world
        .run(&["state", "show", "source:acme-salesforce-oauth"])
        .await
        .expect_code(0);
    assert!(
        show.stdout()
            .contains("\"address\": \"prod/source:acme-salesforce-oauth\""),
        "{}",
        show.stdout()
    );
    // `apply --replace` replaces what it names, and what must follow it.
    let source = world.id_of("source:acme-salesforce-oauth").await;
    let run = world
        .run(&[
            "apply",
            "--auto-approve",
            "--replace",
            "source:acme-salesforce-oauth",
        ])
        .await
        .expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 1 added, 0 changed, 1 destroyed.\n"),
        "{}",
        run.stdout()
    );
    assert_ne!(world.id_of("source:acme-salesforce-oauth").await, source);
    settled(&world, 1, 2, 1).await;
    // Explore names a base connection; a source connection's key says which one.
    let explore = world.run(&["explore", "acme-contacts"]).await.expect_code(1);
    assert!(
        explore.stderr().contains(
            "`acme-contacts` is a source connection: explore its base connection, `flowform explore acme-salesforce-oauth`"
        ),
        "{}",
        explore.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_connection_is_renamed_in_place_and_an_edit_outside_is_undone() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let id = world.id_of("target:acme-profiles").await;
    world.edit(
        crate::world::PIPELINE,
        "description: The profile dataset; its schema is taken from the dataset",
        "description: Profiles",
    );
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout().contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        run.stdout()
    );
    // Renamed in the UI: the apply puts the declared name back.
    world
        .admin(
            Method::PATCH,
            &format!("/targetConnections/{id}"),
            json!({"name": "renamed by hand"}),
        )
        .await;
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        run.stdout().contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        run.stdout()
    );
    let targets = held(&world, "targetConnections").await;
    assert_eq!(targets[0]["name"], "ACME profiles (data lake)");
    assert_eq!(targets[0]["description"], "Profiles");
    assert_eq!(world.id_of("target:acme-profiles").await, id, "in place");
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_of_a_whole_pipeline_applies_as_reviewed() {
    let world = scratch().await;
    let saved = world.dir.path().join("first.plan").display().to_string();
    // The base connection exists, so the plan learns the columns' types and the schema.
    world
        .run(&["apply", "--auto-approve", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    world.run(&["plan", "--out", &saved]).await.expect_code(0);
    let run = world.run(&["apply", &saved]).await.expect_code(0);
    assert!(
        run.stdout()
            .ends_with("Apply complete! Resources: 3 added, 0 changed, 0 destroyed.\n"),
        "{}\n{}",
        run.stdout(),
        run.stderr()
    );
    settled(&world, 1, 2, 1).await;
    let again = world.run(&["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targeted_replacement_takes_what_must_be_replaced_with_it() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world.edit("salesforce-oauth2.yaml", OAUTH, BASIC);
    let plan = world
        .run(&["plan", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 3 to add, 0 to change, 3 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("# prod/source:acme-contacts must be replaced"),
        "{out}"
    );
    assert!(!out.contains("target:acme-profiles"), "{out}");
    world
        .run(&["apply", "--auto-approve", "--target", "acme-salesforce-oauth"])
        .await
        .expect_code(0);
    settled(&world, 1, 2, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_base_connection_named_by_id_is_refused_with_its_key() {
    let world = scratch().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let base = world.id_of("acme-salesforce-oauth").await;
    world.write(
        "leads.yaml",
        &format!(
            "sandbox: prod\nsources:\n  leads:\n    name: Leads\n    baseConnectionId: {base}\n    connectionSpec: {{id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: \"1.0\"}}\n    table: Lead\n"
        ),
    );
    let run = world.run(&["plan"]).await.expect_code(1);
    let said = run.stdout() + &run.stderr();
    assert!(
        said.contains(&format!(
            "`prod/source:leads`: `baseConnectionId: {base}` is `prod/acme-salesforce-oauth`, which this state manages"
        )),
        "{said}"
    );
    assert!(
        said.contains("name it by key: `connection: acme-salesforce-oauth`"),
        "{said}"
    );
    assert!(
        names(&world, "sourceConnections").await.len() == 2,
        "nothing was created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ignored_field_changed_outside_is_neither_drift_nor_a_reason_to_resend() {
    let world = scratch().await;
    world.edit(
        crate::world::PIPELINE,
        "    dataset: 65d4c1f0a1b2c3d4e5f60101\n",
        "    dataset: 65d4c1f0a1b2c3d4e5f60101\n    lifecycle: {ignoreChanges: [description]}\n",
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The examples' OAuth connection ignores its description too.
    let base = world.id_of("acme-salesforce-oauth").await;
    let target = world.id_of("target:acme-profiles").await;
    world
        .admin(
            Method::PATCH,
            &format!("/connections/{base}"),
            json!({"description": "by hand"}),
        )
        .await;
    world
        .admin(
            Method::PATCH,
            &format!("/targetConnections/{target}"),
            json!({"description": "by hand"}),
        )
        .await;
    for _ in 0..2 {
        let plan = world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0);
        let out = plan.stdout();
        assert!(out.starts_with("No changes."), "{out}");
        assert!(!out.contains("changed outside"), "{out}");
        let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
        assert!(apply.stdout().starts_with("No changes."), "{}", apply.stdout());
    }
    world.run(&["drift"]).await.expect_code(0);
}

/// A PostgreSQL state of the flowform before kinds: the rows it wrote (format 3, records in
/// its shape), made from the file fixture's records, whose layout the tables share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_state_written_before_kinds_is_upgraded_in_place() {
    let Some(pg) = crate::postgres::Pg::connect().await else {
        return;
    };
    let fixtures = crate::common::root().join("tests/fixtures/state-v3");
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("aep.json");
    std::fs::copy(fixtures.join("aep.json"), &data).unwrap();
    let world = World::bare(flowform_emulator::Options {
        data: Some(data),
        ..flowform_emulator::Options::default()
    })
    .await;
    let dir = world.dir.path().to_owned();
    crate::world::copy_dir(&crate::common::root().join("examples"), &dir.join("examples"));
    std::fs::remove_file(dir.join("examples").join(crate::world::PIPELINE)).unwrap();
    std::fs::remove_file(dir.join("examples").join(crate::world::DATAFLOWS)).unwrap();
    std::fs::write(
        dir.join("flowform.toml"),
        format!("config = [\"examples\"]\nstate = \"{}\"\n", pg.url("v3")),
    )
    .unwrap();
    world.run_in(&dir, &["init"]).await.expect_code(0);
    let v3: Value = serde_json::from_slice(&std::fs::read(fixtures.join("flowform.json")).unwrap()).unwrap();
    let quote = |v: &Value| v.as_str().unwrap().replace('\'', "''");
    let mut sql = format!(
        "UPDATE {{s}}.states SET format = 3, serial = 1, lineage = '{}', salt = '{}', org = '{}' WHERE name = 'v3';",
        quote(&v3["lineage"]),
        quote(&v3["salt"]),
        quote(&v3["org"])
    );
    for (address, record) in v3["connections"].as_object().unwrap() {
        let json = record.to_string().replace('\'', "''");
        sql.push_str(&format!(
            "INSERT INTO {{s}}.records (state, address, sandbox, connection_id, record) VALUES ('v3', '{address}', 'prod', '{}', '{json}'::jsonb);
             INSERT INTO {{s}}.owners (org, sandbox, connection_id, state, address) VALUES ('{}', 'prod', '{}', 'v3', '{address}');",
            quote(&record["id"]),
            quote(&v3["org"]),
            quote(&record["id"])
        ));
    }
    pg.execute(&sql).await;

    // Read as it is: nothing to do, and nothing written.
    let plan = world.run_in(&dir, &["plan"]).await.expect_code(0);
    assert!(plan.stdout().contains("No changes."), "{}", plan.stdout());
    assert_eq!(pg.count("SELECT format::bigint FROM {s}.states").await, 3);
    // The next write upgrades it: every record in today's shape, the lineage kept.
    std::fs::copy(
        crate::common::root()
            .join("examples")
            .join(crate::world::PIPELINE),
        dir.join("examples").join(crate::world::PIPELINE),
    )
    .unwrap();
    let apply = world
        .run_in(&dir, &["apply", "--auto-approve"])
        .await
        .expect_code(0);
    assert!(apply.stdout().contains("3 added"), "{}", apply.stdout());
    assert_eq!(pg.count("SELECT format::bigint FROM {s}.states").await, 4);
    assert_eq!(
        pg.count("SELECT count(*) FROM {s}.records WHERE record ? 'kind'")
            .await,
        6,
        "every record rewritten"
    );
    let state = pg.recorded("v3");
    assert_eq!(state.lineage, v3["lineage"].as_str().unwrap());
    assert_eq!(
        state.resources["prod/acme-salesforce"].id,
        v3["connections"]["prod/acme-salesforce"]["id"].as_str().unwrap()
    );
    let again = world.run_in(&dir, &["plan"]).await.expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    pg.drop_schema().await;
}
