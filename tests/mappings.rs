//! Mapping sets (`mappings:`), Data Prep's, as a user meets them: created before the
//! dataflows that pin them; a change a PUT that moves the version on, the dataflows
//! following it in the same apply; AEP's echoes no difference; validated before review;
//! never deleted (forgotten, and AEP keeps them); found again, not made twice, after a
//! create whose answer was lost; many read by listing, not one GET each.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{no_changes, says};
use crate::world::World;

const FLOWS: &str = "flows.yaml";

/// The examples' pipeline with a mapping set and two dataflows that use it.
const PIPELINE: &str = r#"sandbox: prod
mappings:
  acme-profile-mapping:
    name: ACME Salesforce to profile
    mappings:
      - {source: Id, destination: _flowformdemo.crmId}
      - {source: Email, destination: personalEmail.address}
      - {source: "concat(FirstName, ' ', LastName)", destination: person.name.fullName, sourceType: EXPRESSION}
flows:
  acme-contacts-flow:
    name: ACME contacts into the lake
    source: acme-contacts
    target: acme-profiles
    mapping: acme-profile-mapping
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate}
    schedule: {frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}
  acme-accounts-flow:
    name: ACME accounts into the lake
    source: acme-accounts
    target: acme-profiles
    mapping: acme-profile-mapping
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate}
    schedule: {frequency: hour, interval: 1, startTime: 2026-12-01T06:00:00Z}
"#;

async fn world() -> World {
    let world = World::pipeline().await;
    for file in ["salesforce-basic.yaml", "salesforce-jwt.yaml"] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world.write(FLOWS, PIPELINE);
    world
}

/// Every mapping set the emulator holds, every version, as stored.
async fn sets(world: &World) -> Vec<Value> {
    world
        .admin(Method::GET, "/mappingSets", Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The `Mapping` transformation of each dataflow the emulator holds, by name.
async fn pinned(world: &World) -> Vec<(String, Value)> {
    let flows = world.admin(Method::GET, "/flows", Value::Null).await;
    let mut out: Vec<(String, Value)> = flows
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let f = &r["item"];
            let mapping = f["transformations"]
                .as_array()
                .and_then(|t| t.iter().find(|t| t["name"] == "Mapping"))
                .map(|t| t["params"].clone())
                .unwrap_or(Value::Null);
            (f["name"].as_str().unwrap_or_default().to_owned(), mapping)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_a_mapping_set_moves_its_version_and_the_dataflows_follow_it() {
    let world = world().await;
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    // Its schema is the dataset's of the dataflows' target, learnt when planning.
    assert!(
        says(
            &out,
            "+ schema.id = \"https://ns.adobe.com/flowformdemo/schemas/6d1f0b5e2c7a4e3b9f8d1c0a5b4e3d21\""
        ),
        "{out}"
    );
    assert!(says(&out, "+ mappingId = (known after apply)"), "{out}");
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // AEP echoes `text/x.aep-xl`, row ids and the legacy names: no difference.
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    let set = world.id_of("mapping:acme-profile-mapping").await;
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingId"], set.as_str(), "{name}");
        assert_eq!(params["mappingVersion"], "0", "{name}");
    }

    // A row added: the set is replaced whole (version 1), each dataflow follows.
    world.write(
        FLOWS,
        &PIPELINE.replace(
            "      - {source: Email, destination: personalEmail.address}\n",
            "      - {source: Email, destination: personalEmail.address}\n      - {source: Id, destination: identityMap}\n",
        ),
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 0 to add, 3 to change, 0 to destroy."),
        "{out}"
    );
    assert!(
        out.contains(r#"+ { destination = "identityMap", source = "Id", sourceType = "ATTRIBUTE" }"#),
        "the plan shows the row added: {out}"
    );
    assert!(out.contains("# (3 unchanged elements hidden)"), "{out}");
    assert!(says(&out, "~ mappingVersion = 0 -> (known after apply)"), "{out}");
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let said = apply.stderr() + &apply.stdout();
    let put = said.find("prod/mapping:acme-profile-mapping: Modifying").unwrap();
    assert!(said.contains(&format!("[id={set}, version 1]")), "{said}");
    // The dataflows are patched after the set's PUT, which gave them its version.
    let set_done = said.find("version 1]").unwrap();
    for name in ["acme-contacts-flow", "acme-accounts-flow"] {
        let at = said
            .find(&format!("prod/flow:{name}: Modifying"))
            .unwrap_or_else(|| panic!("{said}"));
        assert!(at > set_done && set_done > put, "{said}");
    }
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingVersion"], "1", "{name}");
    }
    let stored = sets(&world).await;
    assert_eq!(stored.len(), 1, "one set, not a second one");
    assert_eq!(stored[0]["versions"].as_array().unwrap().len(), 2, "{stored:#?}");
    no_changes(&world.run(&["plan"]).await.expect_code(0));

    // Changed outside (a PUT in the UI): drift, and apply puts it back, the dataflows following.
    let body = json!({"outputSchema": {"schemaRef": {"id": stored[0]["versions"][1]["content"]["schemaId"]}},
        "name": "ACME Salesforce to profile", "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_flowformdemo.crmId"}]});
    let http = crate::common::http();
    let answer = http
        .put(format!("{}/mappingSets/{set}", world.emulator.conversion_url()))
        .headers(world.headers().await)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().await.unwrap());
    let drift = world.run(&["drift"]).await;
    assert_eq!(drift.code(), Some(2), "{}", drift.stdout());
    assert!(
        drift.stdout().contains("mapping:acme-profile-mapping"),
        "{}",
        drift.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingVersion"], "3", "{name}");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_data_prep_refuses_fails_the_plan_at_its_line_and_nothing_is_sent() {
    let world = world().await;
    world.write(
        FLOWS,
        &PIPELINE.replace(
            "destination: person.name.fullName",
            "destination: person.name.nickName",
        ),
    );
    let plan = world.run(&["plan"]).await.expect_code(1);
    let err = plan.stderr();
    assert!(
        err.contains("error: mapping set `acme-profile-mapping`, `mappings`: mapping 3 (`concat(FirstName, ' ', LastName)` → `person.name.nickName`): Data Prep says the destination 'person.name.nickName' is not a field of the schema"),
        "{err}"
    );
    // At the mapping itself (the third of the list).
    assert!(err.contains("--> examples/flows.yaml:8:9"), "{err}");
    assert!(sets(&world).await.is_empty());

    // A declared schema that is not the dataflows' dataset's.
    world.write(
        FLOWS,
        &PIPELINE.replace(
            "    name: ACME Salesforce to profile\n",
            "    name: ACME Salesforce to profile\n    schema: {id: \"https://ns.adobe.com/flowformdemo/schemas/other\"}\n",
        ),
    );
    let plan = world.run(&["plan"]).await.expect_code(1);
    assert!(
        plan.stderr()
            .contains("writes schema `https://ns.adobe.com/flowformdemo/schemas/"),
        "{}",
        plan.stderr()
    );

    // Two destinations the same: refused as the configuration loads.
    world.write(
        FLOWS,
        &PIPELINE.replace(
            "destination: personalEmail.address",
            "destination: _flowformdemo.crmId",
        ),
    );
    let validate = world.run(&["plan"]).await.expect_code(1);
    assert!(
        validate
            .stderr()
            .contains("mappings 1 and 2 both write `_flowformdemo.crmId`"),
        "{}",
        validate.stderr()
    );

    // An empty source: said so, with what a source is.
    world.write(FLOWS, &PIPELINE.replace("{source: Email,", "{source: \"\","));
    let plan = world.run(&["plan"]).await.expect_code(1);
    let err = plan.stderr();
    assert!(err.contains("mapping 2: `source` is empty"), "{err}");
    assert!(err.contains("help: a source is a column of the table"), "{err}");
    assert!(sets(&world).await.is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_set_no_longer_declared_is_forgotten_and_stays_in_aep() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let set = world.id_of("mapping:acme-profile-mapping").await;
    // Both dataflows let it go, and the set goes from the configuration.
    let text = PIPELINE.replace("    mapping: acme-profile-mapping\n", "");
    let start = text.find("mappings:").unwrap();
    let end = text.find("flows:").unwrap();
    world.write(FLOWS, &format!("{}{}", &text[..start], &text[end..]));
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 0 to add, 2 to change, 0 to destroy, 1 to forget."),
        "{out}"
    );
    assert!(
        out.contains("because AEP has no DELETE for it: AEP keeps it, nothing is sent"),
        "{out}"
    );
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        apply
            .stderr()
            .contains("prod/mapping:acme-profile-mapping: forgotten (no longer managed; AEP has no DELETE for it and keeps it)"),
        "{}",
        apply.stderr()
    );
    assert!(world.recorded().find("mapping:acme-profile-mapping").is_none());
    assert_eq!(sets(&world).await[0]["id"], set.as_str(), "AEP keeps it");
    for (name, params) in pinned(&world).await {
        assert_eq!(params, Value::Null, "{name}: its Mapping transformation is gone");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    // Without a refresh too: the state recorded what was sent.
    no_changes(&world.run(&["plan", "--refresh=false"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_set_whose_create_answer_was_lost_is_found_by_name_not_made_twice() {
    let world = world().await;
    world
        .admin(
            Method::POST,
            "/faults/script",
            json!({"method": "POST", "path": "/mappingSets", "fault": "commit-then-drop"}),
        )
        .await;
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        apply
            .stderr()
            .contains("prod/mapping:acme-profile-mapping: AEP did make it: adopting"),
        "{}",
        apply.stderr()
    );
    assert_eq!(sets(&world).await.len(), 1, "no duplicate");
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_mapping_sets_are_read_by_listing_their_pages_at_once() {
    let world = world().await;
    let mut text = PIPELINE.to_owned();
    let rows = "    mappings:\n      - {source: Id, destination: _flowformdemo.crmId}\n";
    let mut extra = String::new();
    for i in 0..150 {
        extra.push_str(&format!(
            "  extra-{i:03}:\n    name: Extra {i:03}\n    schema: {{id: \"https://ns.adobe.com/flowformdemo/schemas/6d1f0b5e2c7a4e3b9f8d1c0a5b4e3d21\"}}\n{rows}"
        ));
    }
    text = text.replace(
        "mappings:\n  acme-profile-mapping:",
        &format!("mappings:\n{extra}  acme-profile-mapping:"),
    );
    world.write(FLOWS, &text);
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let plan = world.run(&["plan", "-v"]).await.expect_code(0);
    no_changes(&plan);
    let err = plan.stderr();
    assert!(
        err.contains("refresh: sandbox prod, mapping sets: listed the mapping sets by offset, at least 2 pages (its API reads no batch of ids"),
        "{err}"
    );
    let requests: u64 = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("refresh: ")?
                .split(" requests in all")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        requests <= 12,
        "151 sets in a few pages, not 151 GETs: {requests}\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataflow_takes_a_mapping_set_in_place_and_moves_to_a_new_one() {
    let world = world().await;
    // At first without any: no Mapping transformation.
    let without = PIPELINE.replace("    mapping: acme-profile-mapping\n", "");
    let without = format!(
        "{}{}",
        &without[..without.find("mappings:").unwrap()],
        &without[without.find("flows:").unwrap()..]
    );
    world.write(FLOWS, &without);
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    for (name, params) in pinned(&world).await {
        assert_eq!(params, Value::Null, "{name}");
    }
    // Given one: an update in place, the transformation added.
    world.write(FLOWS, PIPELINE);
    let plan = world.run(&["plan"]).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 1 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    let first = world.id_of("mapping:acme-profile-mapping").await;
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingId"], first.as_str(), "{name}");
    }
    // Moved to a set created in the same apply: created first, then pointed at.
    let text = PIPELINE
        .replace("    mapping: acme-profile-mapping\n", "    mapping: acme-second\n")
        .replace(
            "flows:\n",
            "  acme-second:\n    name: ACME second\n    mappings:\n      - {source: Id, destination: _flowformdemo.crmId}\nflows:\n",
        );
    world.write(FLOWS, &text);
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        says(&out, &format!("~ mappingId = \"{first}\" -> (known after apply)")),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 2 to change, 0 to destroy."),
        "{out}"
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let second = world.id_of("mapping:acme-second").await;
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingId"], second.as_str(), "{name}");
        assert_eq!(params["mappingVersion"], "0", "{name}");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

/// A set made by hand in Data Prep (outside flowform), moved to version 1: its id.
async fn made_by_hand(world: &World) -> String {
    let http = crate::common::http();
    let base = world.emulator.conversion_url();
    let body = json!({"name": "Hand made", "outputSchema": {"schemaRef": {"id": flowform_emulator::dataset::DEMO_PROFILE_SCHEMA_ID}},
        "mappings": [{"sourceType": "ATTRIBUTE", "source": "Id", "destination": "_flowformdemo.crmId"}]});
    let made: Value = http
        .post(format!("{base}/mappingSets"))
        .headers(world.headers().await)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    let put = http
        .put(format!("{base}/mappingSets/{id}"))
        .headers(world.headers().await)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_review_of_mapping_sets_found_is_planned_right() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The set at version 2 (a row added, then taken away): a dataflow moving to a set by id
    // must not keep that number.
    let more = PIPELINE.replace(
        "      - {source: Id, destination: _flowformdemo.crmId}\n",
        "      - {source: Id, destination: _flowformdemo.crmId}\n      - {source: Id, destination: identityMap}\n",
    );
    for text in [more.as_str(), PIPELINE] {
        world.write(FLOWS, text);
        world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    }
    assert_eq!(sets(&world).await[0]["versions"].as_array().unwrap().len(), 3);

    // `--replace` of a mapping set: refused (the old one would stay beside the new one).
    let plan = world
        .run(&["plan", "--replace", "mapping:acme-profile-mapping"])
        .await
        .expect_code(1);
    assert!(
        (plan.stdout() + &plan.stderr()).contains(
            "`prod/mapping:acme-profile-mapping` cannot be replaced: AEP has no DELETE for a mapping set"
        ),
        "{}{}",
        plan.stdout(),
        plan.stderr()
    );

    // Rows in another order: no difference (a destination takes one mapping).
    let rows = "      - {source: Id, destination: _flowformdemo.crmId}\n      - {source: Email, destination: personalEmail.address}\n";
    let swapped = "      - {source: Email, destination: personalEmail.address}\n      - {source: Id, destination: _flowformdemo.crmId}\n";
    assert!(PIPELINE.contains(rows));
    world.write(FLOWS, &PIPELINE.replace(rows, swapped));
    no_changes(&world.run(&["plan"]).await.expect_code(0));

    // A dataflow moved to a target whose dataset follows another schema, its set unchanged:
    // refused in review, before anything is disabled.
    world.write(
        "other.yaml",
        &format!(
            "sandbox: prod\ntargets:\n  acme-events:\n    name: ACME events\n    dataset: {}\n",
            flowform_emulator::dataset::DEMO_EVENT_DATASET_ID
        ),
    );
    world.write(
        FLOWS,
        &PIPELINE.replacen("    target: acme-profiles\n", "    target: acme-events\n", 1),
    );
    let plan = world.run(&["plan"]).await.expect_code(1);
    assert!(
        (plan.stdout() + &plan.stderr()).contains("mapping set `acme-profile-mapping` writes schema `https://ns.adobe.com/flowformdemo/schemas/6d1f0b5e2c7a4e3b9f8d1c0a5b4e3d21`, but target connection `acme-events` writes `https://ns.adobe.com/flowformdemo/schemas/0b7e3c9a5d1f4b6e8a2c7d9f1e3b5a46`: AEP would refuse the dataflow (1425)"),
        "{}{}",
        plan.stdout(),
        plan.stderr()
    );
    std::fs::remove_file(world.config().join("other.yaml")).unwrap();

    // A set AEP does not have, by id: refused at its line.
    let text = PIPELINE.replacen(
        "    mapping: acme-profile-mapping\n",
        "    mappingId: 0123456789abcdef0123456789abcdef\n",
        1,
    );
    world.write(FLOWS, &text);
    let plan = world.run(&["plan"]).await.expect_code(1);
    assert!(
        (plan.stdout() + &plan.stderr())
            .contains("AEP has no mapping set 0123456789abcdef0123456789abcdef in sandbox `prod`"),
        "{}{}",
        plan.stdout(),
        plan.stderr()
    );

    // Moved to one made by hand, by id: AEP's own version of it, not the old set's number;
    // and no drift ever after from the version flowform did not pin.
    let hand = made_by_hand(&world).await;
    let text = PIPELINE.replacen(
        "    mapping: acme-profile-mapping\n",
        &format!("    mappingId: {hand}\n"),
        1,
    );
    world.write(FLOWS, &text);
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let pins = pinned(&world).await;
    let moved = pins
        .iter()
        .find(|(_, p)| p["mappingId"] == hand.as_str())
        .unwrap();
    assert_ne!(moved.1["mappingVersion"], "2", "{pins:?}");
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    let drift = world.run(&["drift"]).await;
    assert_eq!(drift.code(), Some(0), "{}", drift.stdout());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_answer_was_lost_is_sent_again_and_the_dataflows_follow_the_last_version() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world
        .admin(
            Method::POST,
            "/faults/script",
            json!({"method": "PUT", "fault": "commit-then-drop"}),
        )
        .await;
    world.write(
        FLOWS,
        &PIPELINE.replace(
            "      - {source: Email, destination: personalEmail.address}\n",
            "      - {source: Email, destination: personalEmail.address}\n      - {source: Id, destination: identityMap}\n",
        ),
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The PUT went twice (its first answer lost): the same content at two versions, and
    // the dataflows at the last one.
    let stored = sets(&world).await;
    assert_eq!(stored.len(), 1);
    let last = stored[0]["versions"].as_array().unwrap().len() - 1;
    assert_eq!(last, 2, "version 0, then the PUT twice: {stored:?}");
    for (name, params) in pinned(&world).await {
        assert_eq!(params["mappingVersion"], last.to_string().as_str(), "{name}");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_column_the_table_lacks_fails_the_plan_at_its_line() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The source exists: its table's columns are read, and the column must be one of them.
    world.write(
        FLOWS,
        &PIPELINE.replacen(
            "deltaColumn: {name: LastModifiedDate}",
            "deltaColumn: {name: LastModifedDate}",
            1,
        ),
    );
    let plan = world.run(&["plan"]).await.expect_code(1);
    let err = plan.stderr();
    assert!(
        err.contains("table `Contact` of source connection `acme-contacts` has no column `LastModifedDate`: the dataflow's first run would fail"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `LastModifiedDate`?"), "{err}");
    assert!(err.contains("--> examples/flows.yaml:"), "{err}");
    // As it was: nothing to do.
    world.write(FLOWS, PIPELINE);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_shows_the_start_it_will_be_created_with_not_the_declared_one() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // Its source and its start changed at once: continuity decides the start.
    world.write(
        FLOWS,
        &PIPELINE
            .replacen("    source: acme-contacts\n", "    source: acme-accounts\n", 1)
            .replacen(
                "schedule: {frequency: minute, interval: 15, startTime: 2026-12-01T06:00:00Z}",
                "schedule: {frequency: minute, interval: 15, startTime: 2026-12-03T06:00:00Z}",
                1,
            ),
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        says(
            &out,
            "~ schedule.startTime = 1796104800 -> 1796104800 # 2026-12-01T06:00:00Z"
        ),
        "{out}"
    );
    assert!(
        out.contains("# `schedule.startTime`: the declared 1796277600 gives way to continuity"),
        "{out}"
    );
}
