//! Dataflows through the binary: declared beside the pipeline they join, planned after their
//! source and target connections, applied (created, disabled by action when declared so),
//! changed in place (name, schedule, enabled), replaced with what they read (create before
//! destroy, the old one deleted before its source connection), and destroyed first.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{no_changes, says};
use crate::world::World;

const FLOWS: &str = "flows.yaml";

/// Two flows over the examples' pipeline: contacts every 15 minutes, accounts daily and
/// disabled.
const TWO_FLOWS: &str = r#"sandbox: prod
flows:
  acme-contacts-flow:
    name: ACME contacts into the lake
    description: Contacts, every 15 minutes
    source: acme-contacts
    target: acme-profiles
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate, dateFormat: "yyyy-MM-dd HH:mm:ss", timezone: UTC}
    schedule:
      frequency: minute
      interval: 15
      startTime: 2026-12-01T06:00:00Z
  acme-accounts-flow:
    name: ACME accounts into the lake
    source: acme-accounts
    target: acme-profiles
    flowSpec: CRMToAEP
    deltaColumn: {name: LastModifiedDate}
    schedule: {frequency: day, interval: 1, startTime: 1796104800, backfill: false}
    enabled: false
"#;

async fn world() -> World {
    at_latency(0).await
}

/// [`world`], its emulator answering each request after `ms`.
async fn at_latency(ms: u64) -> World {
    let world = World::with(flowform_emulator::Options {
        faults: flowform_emulator::faults::FaultSettings {
            latency_ms: ms,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    std::fs::copy(
        crate::common::root()
            .join("examples")
            .join(crate::world::PIPELINE),
        world.config().join(crate::world::PIPELINE),
    )
    .unwrap();
    for file in ["salesforce-basic.yaml", "salesforce-jwt.yaml"] {
        std::fs::remove_file(world.config().join(file)).unwrap();
    }
    world.write(FLOWS, TWO_FLOWS);
    world
}

/// The flows the emulator holds, as AEP shows them.
async fn flows(world: &World) -> Vec<Value> {
    world
        .admin(Method::GET, "/flows", Value::Null)
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r["item"].clone())
        .collect()
}

async fn flow_named(world: &World, name: &str) -> Value {
    flows(world)
        .await
        .into_iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no flow `{name}`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_are_created_after_what_they_join_as_declared_and_then_have_no_changes() {
    let world = world().await;
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 6 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    // The spec, named, is resolved through AEP before anything is sent.
    assert!(
        says(&out, "+ flowSpec.id = \"14518937-270c-4525-bdec-c2ba7cce3860\""),
        "{out}"
    );
    assert!(says(&out, "+ sourceConnectionId = (known after apply)"), "{out}");
    assert!(says(&out, "+ enabled = false"), "{out}");
    // A moment is shown in RFC 3339 beside AEP's epoch seconds.
    assert!(
        says(&out, "+ schedule.startTime = 1796104800 # 2026-12-01T06:00:00Z"),
        "{out}"
    );

    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    assert!(
        at("prod/source:acme-contacts: Creation complete") < at("prod/flow:acme-contacts-flow: Creating..."),
        "{err}"
    );
    assert!(
        at("prod/target:acme-profiles: Creation complete") < at("prod/flow:acme-accounts-flow: Creating..."),
        "{err}"
    );
    assert!(
        err.contains("prod/flow:acme-accounts-flow: Disabling..."),
        "{err}"
    );
    assert!(
        !err.contains("prod/flow:acme-contacts-flow: Disabling..."),
        "{err}"
    );

    // AEP holds what was declared, in its own encodings.
    let contacts = flow_named(&world, "ACME contacts into the lake").await;
    assert_eq!(contacts["state"], "enabled");
    assert_eq!(
        contacts["sourceConnectionIds"],
        json!([world.id_of("source:acme-contacts").await])
    );
    assert_eq!(
        contacts["targetConnectionIds"],
        json!([world.id_of("target:acme-profiles").await])
    );
    assert_eq!(contacts["flowSpec"]["id"], "14518937-270c-4525-bdec-c2ba7cce3860");
    assert_eq!(contacts["scheduleParams"]["interval"], "15");
    assert_eq!(contacts["scheduleParams"]["startTime"], "1796104800");
    let copy = contacts["transformations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Copy")
        .unwrap();
    assert_eq!(copy["params"]["deltaColumn"]["name"], "LastModifiedDate");
    assert_eq!(copy["params"]["deltaColumn"]["timezone"], "UTC");
    let accounts = flow_named(&world, "ACME accounts into the lake").await;
    assert_eq!(accounts["state"], "disabled");
    assert_eq!(accounts["scheduleParams"]["backfill"], "false");

    // Each flow is recorded with its kind and what it depends on.
    let state = world.recorded();
    let (_, record) = state.find("flow:acme-contacts-flow").unwrap();
    assert_eq!(record.kind.name, "flow");
    assert_eq!(record.depends_on.len(), 2);
    assert_eq!(state.resources.len(), 6);

    // AEP's strings for numbers, its default backfill and its state are no difference.
    no_changes(&world.run(&["plan", "--detailed-exitcode"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flows_name_schedule_and_enabled_change_in_place() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let before = world.id_of("flow:acme-accounts-flow").await;
    world.edit(
        FLOWS,
        "name: ACME accounts into the lake",
        "name: ACME accounts, daily",
    );
    world.edit(FLOWS, "interval: 1, startTime", "interval: 2, startTime");
    world.edit(FLOWS, "    enabled: false\n", "");
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
    assert!(says(&out, "~ schedule.interval = 1 -> 2"), "{out}");
    assert!(says(&out, "~ enabled = false -> true"), "{out}");

    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        apply
            .stderr()
            .contains("prod/flow:acme-accounts-flow: Enabling..."),
        "{}",
        apply.stderr()
    );
    assert_eq!(
        world.id_of("flow:acme-accounts-flow").await,
        before,
        "the same flow"
    );
    let accounts = flow_named(&world, "ACME accounts, daily").await;
    assert_eq!(accounts["state"], "enabled");
    assert_eq!(accounts["scheduleParams"]["interval"], "2");
    assert_eq!(world.served("PATCH", "/flows/{id}").await, 1);
    assert_eq!(
        world.served("POST", "/flows/{id}/action").await,
        2,
        "one disable at create, one enable"
    );
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_source_connection_replaces_its_flow_and_leaves_nothing_behind() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let old_flow = world.id_of("flow:acme-contacts-flow").await;
    world.edit(
        crate::world::PIPELINE,
        "columns: [Id, FirstName, LastName, Email, LastModifiedDate]",
        "columns: [Id, FirstName, LastName, LastModifiedDate]",
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains("Plan: 2 to add, 0 to change, 2 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("# (because prod/source:acme-contacts gets a new id, and AEP cannot point it at the new one in place)"),
        "{out}"
    );
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    // The new chain first; then the old from the top down (AEP refuses to delete a source
    // connection a flow uses, 1447).
    assert!(
        at("prod/flow:acme-contacts-flow: Creation complete")
            < at("prod/flow:acme-contacts-flow#deposed: Destroying")
    );
    assert!(
        at("prod/flow:acme-contacts-flow#deposed: Destruction complete")
            < at("prod/source:acme-contacts#deposed: Destroying"),
        "{err}"
    );
    assert_ne!(world.id_of("flow:acme-contacts-flow").await, old_flow);
    assert_eq!(flows(&world).await.len(), 2, "the old flow is gone");
    let state = world.recorded();
    assert!(state.resources.keys().all(|a| !a.ends_with("#deposed")));
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_deletes_flows_first_and_a_flow_disabled_outside_is_drift_that_apply_repairs() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let id = world.id_of("flow:acme-contacts-flow").await;
    world
        .admin(
            Method::PATCH,
            &format!("/flows/{id}"),
            json!({"state": "disabled"}),
        )
        .await;
    let drift = world.run(&["drift"]).await;
    let out = drift.stdout();
    assert_eq!(drift.code(), Some(2), "{out}");
    assert!(out.contains("prod/flow:acme-contacts-flow"), "{out}");
    assert!(out.contains("enabled"), "{out}");
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    assert!(
        apply
            .stderr()
            .contains("prod/flow:acme-contacts-flow: Enabling..."),
        "{}",
        apply.stderr()
    );
    assert_eq!(
        flow_named(&world, "ACME contacts into the lake").await["state"],
        "enabled"
    );
    no_changes(&world.run(&["plan"]).await.expect_code(0));

    let plan_file = world.dir.path().join("destroy.plan").display().to_string();
    world
        .run(&["plan", "--destroy", "--out", &plan_file])
        .await
        .expect_code(0);
    let destroy = world
        .run(&["apply", "--auto-approve", &plan_file])
        .await
        .expect_code(0);
    let err = destroy.stderr();
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    for flow in ["prod/flow:acme-contacts-flow", "prod/flow:acme-accounts-flow"] {
        assert!(
            at(&format!("{flow}: Destruction complete")) < at("prod/target:acme-profiles: Destroying"),
            "{err}"
        );
    }
    assert!(
        at("prod/flow:acme-contacts-flow: Destruction complete")
            < at("prod/source:acme-contacts: Destroying"),
        "{err}"
    );
    assert!(flows(&world).await.is_empty());
    assert!(world.recorded().resources.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_against_the_rules_or_an_unknown_flow_spec_fails_at_its_line() {
    let world = world().await;
    world.edit(FLOWS, "interval: 15", "interval: 5");
    world.edit(
        FLOWS,
        "frequency: day, interval: 1, startTime: 1796104800, backfill: false",
        "frequency: once, startTime: 1796104800, backfill: false",
    );
    let run = world.run_bare(vec!["validate".to_owned()]).await.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("dataflow `acme-contacts-flow`, `schedule.interval`: runs every 5 minutes; AEP's flow specs take at least 15"), "{err}");
    assert!(err.contains("flows.yaml:12:17"), "{err}");
    assert!(err.contains("dataflow `acme-accounts-flow`, `schedule.backfill`: a schedule that runs `once` takes no `backfill`"), "{err}");

    // A key of another kind where a source connection goes (from a review: the hint named
    // the nearest source connection).
    let other = self::world().await;
    other.edit(FLOWS, "source: acme-accounts", "source: acme-salesforce-oauth");
    let run = other.run_bare(vec!["validate".to_owned()]).await.expect_code(1);
    assert!(
        run.stderr().contains("help: `acme-salesforce-oauth` is a connection, and `source` names a source connection: name one declared in `sources:` (or `sourceConnectionId: ID`)"),
        "{}",
        run.stderr()
    );

    let world = self::world().await;
    world.edit(
        FLOWS,
        "flowSpec: CRMToAEP\n    deltaColumn: {name: LastModifiedDate}\n",
        "flowSpec: CRMToAPE\n    deltaColumn: {name: LastModifiedDate}\n",
    );
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("dataflow `acme-accounts-flow`, `flowSpec`: AEP has no flow spec named `CRMToAPE`"),
        "{err}"
    );
    assert!(err.contains("flows.yaml:18:15"), "{err}");
    assert!(flows(&world).await.is_empty(), "nothing was created");
}

/// The flow's runs the emulator holds, newest first.
async fn runs_of(world: &World, id: &str) -> Vec<Value> {
    let http = crate::common::http();
    let page: Value = http
        .get(format!(
            "{}/runs?property=flowId=={id}",
            world.emulator.flow_url()
        ))
        .headers(world.headers().await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_flow_continues_where_the_old_one_stopped_without_a_gap_or_a_second_backfill() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let old = world.id_of("flow:acme-contacts-flow").await;
    // An hour of the emulator's clock: the flow runs every 15 minutes.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 3_600_000}))
        .await;
    let runs = runs_of(&world, &old).await;
    assert!(runs.len() >= 3, "{runs:#?}");
    let last_end = runs[0]["params"]["windowEndTime"].as_str().unwrap().to_owned();

    world.edit(
        crate::world::PIPELINE,
        "columns: [Id, FirstName, LastName, Email, LastModifiedDate]",
        "columns: [Id, FirstName, LastName, LastModifiedDate]",
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    let out = plan.stdout();
    assert!(
        out.contains(&format!(
            "# continuity: the old dataflow is disabled first; the new one reads from where its last successful run ended, {} ({last_end}), without backfill",
            flowform::reader::rfc3339(last_end.parse().unwrap())
        )),
        "{out}"
    );
    let apply = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let err = apply.stderr();
    let at = |what: &str| err.find(what).unwrap_or_else(|| panic!("{what} in {err}"));
    // The old one is disabled before the new one exists.
    assert!(
        at("prod/flow:acme-contacts-flow: disabled the dataflow it replaces")
            < at("prod/flow:acme-contacts-flow: Creation complete"),
        "{err}"
    );
    let new = world.id_of("flow:acme-contacts-flow").await;
    assert_ne!(new, old);
    let flow = flow_named(&world, "ACME contacts into the lake").await;
    assert_eq!(flow["scheduleParams"]["startTime"], last_end.as_str());
    assert_eq!(flow["scheduleParams"]["backfill"], "false");
    // Its start and backfill are its predecessor's end: no difference, no update.
    no_changes(&world.run(&["plan"]).await.expect_code(0));

    // Its first run reads from where the old one's last ended: no gap, nothing twice.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 1_800_000}))
        .await;
    let runs = runs_of(&world, &new).await;
    let first = runs.last().unwrap();
    assert_eq!(
        first["params"]["windowStartTime"],
        last_end.as_str(),
        "{first:#?}"
    );
    assert!(runs_of(&world, &old).await.is_empty(), "the old flow is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_a_flow_whose_last_run_failed_with_the_runs_error() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // Runs that succeed: in sync.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 3_600_000}))
        .await;
    let drift = world.run(&["drift"]).await;
    assert_eq!(drift.code(), Some(0), "{}\n{}", drift.stdout(), drift.stderr());
    assert!(
        drift
            .stdout()
            .contains("Dataflows not running as scheduled (of 1 enabled): 0"),
        "{}",
        drift.stdout()
    );

    let id = world.id_of("flow:acme-contacts-flow").await;
    world
        .admin(
            Method::PUT,
            &format!("/flows/{id}/runs"),
            json!({"fail": {"code": "CONNECTOR-1001-500", "message": "Copying from Salesforce failed: INVALID_SESSION_ID"}}),
        )
        .await;
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 1_800_000}))
        .await;
    let drift = world.run(&["drift"]).await;
    let out = drift.stdout();
    assert_eq!(drift.code(), Some(2), "{out}");
    assert!(
        out.contains("Dataflows not running as scheduled (of 1 enabled): 1"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "prod/flow:acme-contacts-flow ({id}) \"ACME contacts into the lake\": its last run failed: CONNECTOR-1001-500: Copying from Salesforce failed: INVALID_SESSION_ID [run "
        )),
        "{out}"
    );
    assert!(out.contains("1 dataflow not running as scheduled."), "{out}");
    // `--only` leaves the section out, or checks it alone (from a review).
    let outside = world.run(&["drift", "--only", "outside"]).await;
    assert_eq!(outside.code(), Some(0), "{}", outside.stdout());
    assert!(
        !outside.stdout().contains("Dataflows not running"),
        "{}",
        outside.stdout()
    );
    let alone = world.run(&["drift", "--only", "dataflows"]).await;
    assert_eq!(alone.code(), Some(2), "{}", alone.stdout());
    let json = world.run(&["drift", "--format", "json"]).await;
    let report: Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(report["dataflows"]["count"], 1);
    assert_eq!(report["dataflows"]["unhealthy"][0]["problem"], "failed");
    assert_eq!(report["summary"]["dataflows_unhealthy"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_killed_after_the_old_flow_is_disabled_continues_on_the_rerun() {
    // Slow enough for the kill to come between the create's intent and its answer.
    let world = at_latency(150).await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let old = world.id_of("flow:acme-contacts-flow").await;
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 3_600_000}))
        .await;
    let last_end = runs_of(&world, &old).await[0]["params"]["windowEndTime"]
        .as_str()
        .unwrap()
        .to_owned();
    world.edit(
        crate::world::PIPELINE,
        "columns: [Id, FirstName, LastName, Email, LastModifiedDate]",
        "columns: [Id, FirstName, LastName, LastModifiedDate]",
    );
    // Killed once the new dataflow's create is journalled: the old one is disabled by then.
    world
        .kill_9_when(&["apply", "--auto-approve"], |journal| {
            journal.lines().any(|l| {
                l.contains("\"kind\":\"intent\"")
                    && l.contains("prod/flow:acme-contacts-flow\"")
                    && l.contains("\"create\"")
            })
        })
        .await;
    let held = world
        .admin(Method::GET, &format!("/flows/{old}"), Value::Null)
        .await;
    assert_eq!(held["item"]["state"], "disabled", "{held:#?}");

    let rerun = world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    let out = format!("{}{}", rerun.stdout(), rerun.stderr());
    assert!(
        !out.contains("disabled the dataflow it replaces"),
        "already disabled: {out}"
    );
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    let all = flows(&world).await;
    assert_eq!(all.len(), 2, "no duplicate, the old one gone: {all:#?}");
    let flow = flow_named(&world, "ACME contacts into the lake").await;
    assert_eq!(flow["scheduleParams"]["startTime"], last_end.as_str(), "{out}");
    assert_eq!(flow["scheduleParams"]["backfill"], "false");
    let state = world.recorded();
    assert!(state.resources.keys().all(|a| !a.ends_with("#deposed")));
    assert!(state.pending.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_spec_that_cannot_take_the_source_fails_in_review_before_anything_is_disabled() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // From a reviewer: this passed the plan, then apply disabled the old dataflow and failed.
    world.edit(
        FLOWS,
        "flowSpec: CRMToAEP\n    deltaColumn: {name: LastModifiedDate, dateFormat",
        "flowSpec: CloudStorageToAEP\n    deltaColumn: {name: LastModifiedDate, dateFormat",
    );
    let run = world.run(&["plan"]).await.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("dataflow `acme-contacts-flow`, `flowSpec`: flow spec `CloudStorageToAEP` does not take the source connection's spec `cfc0fee1-7dc0-40ef-b73e-d8b134c436f5` (Salesforce): AEP would refuse the dataflow (1413)"),
        "{err}"
    );
    assert!(err.contains("flows.yaml:8:15"), "{err}");
    let run = world.run(&["apply", "--auto-approve"]).await.expect_code(1);
    assert!(!run.stderr().contains("Disabling"), "{}", run.stderr());
    assert_eq!(
        flow_named(&world, "ACME contacts into the lake").await["state"],
        "enabled"
    );

    // A version the spec is not at, by id.
    world.edit(
        FLOWS,
        "flowSpec: CloudStorageToAEP\n",
        "flowSpec: {id: 14518937-270c-4525-bdec-c2ba7cce3860, version: \"2.0\"}\n",
    );
    let run = world.run(&["plan"]).await.expect_code(1);
    assert!(
        run.stderr().contains(
            "flow spec `CRMToAEP` (14518937-270c-4525-bdec-c2ba7cce3860) is at version `1.0`, not `2.0`"
        ),
        "{}",
        run.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replacement_before_any_run_passes_the_continuation_on() {
    let world = world().await;
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 3_600_000}))
        .await;
    let old = world.id_of("flow:acme-contacts-flow").await;
    let last_end = runs_of(&world, &old).await[0]["params"]["windowEndTime"]
        .as_str()
        .unwrap()
        .to_owned();
    // Replaced, then (before the new one has run) replaced again: the second keeps the
    // first's start, without backfill — from a reviewer: it started as declared.
    for delta in ["SystemModstamp", "LastModifiedDate"] {
        let from = if delta == "SystemModstamp" {
            "LastModifiedDate"
        } else {
            "SystemModstamp"
        };
        world.edit(
            FLOWS,
            &format!("deltaColumn: {{name: {from}, dateFormat"),
            &format!("deltaColumn: {{name: {delta}, dateFormat"),
        );
        world.run(&["apply", "--auto-approve"]).await.expect_code(0);
        let flow = flow_named(&world, "ACME contacts into the lake").await;
        assert_eq!(
            flow["scheduleParams"]["startTime"],
            last_end.as_str(),
            "after {delta}: {flow:#?}"
        );
        assert_eq!(flow["scheduleParams"]["backfill"], "false");
    }
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_in_milliseconds_is_refused_and_a_backfill_may_be_written_as_aeps_string() {
    let world = world().await;
    world.edit(
        FLOWS,
        "startTime: 1796104800, backfill: false",
        "startTime: 1796104800000, backfill: \"false\"",
    );
    let run = world.run_bare(vec!["validate".to_owned()]).await.expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("`schedule.startTime` is 1796104800000: past the year 9999"),
        "{err}"
    );
    assert!(err.contains("drop the last three digits"), "{err}");
    assert!(!err.contains("backfill"), "a string boolean is read: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_has_passed_is_history_not_an_update_aep_would_refuse() {
    let world = world().await;
    // The accounts flow starts in January 2027, after the emulator's now.
    world.edit(
        FLOWS,
        "startTime: 1796104800, backfill: false",
        "startTime: 1800000000, backfill: false",
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    // The contacts flow's start (2026-12-01) was due when AEP made it: moving it would be
    // refused (400), and from a reviewer: the plan offered that update on every run.
    world.edit(
        FLOWS,
        "startTime: 2026-12-01T06:00:00Z",
        "startTime: 2027-03-01T06:00:00Z",
    );
    no_changes(&world.run(&["plan"]).await.expect_code(0));
    // A start still to come moves in place.
    world.edit(
        FLOWS,
        "startTime: 1800000000, backfill: false",
        "startTime: 1800003600, backfill: false",
    );
    let plan = world.run(&["plan"]).await.expect_code(0);
    assert!(
        says(
            &plan.stdout(),
            "~ schedule.startTime = 1800000000 -> 1800003600 # 2027-01-15T09:00:00Z"
        ),
        "{}",
        plan.stdout()
    );
    world.run(&["apply", "--auto-approve"]).await.expect_code(0);
    no_changes(&world.run(&["plan"]).await.expect_code(0));
}
