//! Adopting an organisation: `generate` writes the configuration from what AEP has, a plan
//! imports exactly that, an apply takes it under management; `moved:` and `removed:` then
//! rename and let go through review, against the emulator.

use std::time::Duration;

use flowform::flow::Client;
use flowform::flow::settings::{Credentials, RetryPolicy, Settings};
use flowform::secret::Secret;
use flowform_emulator::Options;
use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Run, flowform};
use crate::world::World;

const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

/// A client of the world's emulator, to make connections as a person would in the UI.
fn client(world: &World) -> Client {
    Client::new(Settings {
        endpoint: reqwest::Url::parse(&world.emulator.flow_url()).unwrap(),
        org_id: DEMO_ORG.to_owned(),
        client_id: DEMO_CLIENT_ID.to_owned(),
        credentials: Credentials::Ims {
            url: reqwest::Url::parse(&world.emulator.base_url()).unwrap(),
            client_secret: Secret::new(DEMO_CLIENT_SECRET),
            scopes: "openid,AdobeID".to_owned(),
        },
        parallelism: 4,
        requests_per_second: None,
        retry: RetryPolicy::default(),
        timeout: Duration::from_secs(10),
        command_timeout: Duration::from_secs(60),
        max_url_length: flowform::flow::limits::DEFAULT_MAX_URL_LENGTH,
    })
    .unwrap()
}

/// Runs the binary in the world's directory with the emulator's environment and `vars`.
async fn run(world: &World, args: &[&str], vars: &[(String, String)]) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let mut env: Vec<(String, String)> = world.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend(vars.iter().cloned());
    let dir = world.dir.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = flowform(&args).current_dir(&dir);
        for (k, v) in &env {
            command = command.env(k, v);
        }
        command.run()
    })
    .await
    .unwrap()
}

/// An organisation made by hand: Basic connections seeded in `prod` and `dev`, OAuth2 client
/// credential and JWT ones made through the API in both; every connection enabled. A
/// project (`flowform init`) with an empty `connections/`.
async fn organisation() -> World {
    let world = World::bare(Options::default()).await;
    std::fs::create_dir(world.dir.path().join("connections")).unwrap();
    run(&world, &["init"], &[]).await.expect_code(0);
    for (sandbox, count) in [("prod", 2), ("dev", 1)] {
        world
            .admin(
                Method::POST,
                "/seed",
                json!({"count": count, "sandbox": sandbox, "namePrefix": "ACME Basic"}),
            )
            .await;
    }
    let client = client(&world);
    for sandbox in ["prod", "dev"] {
        let oauth = json!({
            "name": format!("ACME OAuth \"{sandbox}\""),
            "description": "made in the UI\nby ${USER}: see {wiki}",
            "connectionSpec": {"id": SF, "version": "1.0"},
            "auth": {"specName": "OAuth2 Client Credential", "params": {
                "environmentUrl": "https://acme.my.salesforce.com", "clientId": "3MVG9 client ${id}",
                "clientSecret": "the-real-client-secret", "apiVersion": "60.0"}},
        });
        let jwt = json!({
            "name": "ACME (JWT)",
            "connectionSpec": {"id": SF, "version": "1.0"},
            "auth": {"specName": "OAuth2 JWT Token Credential", "params": {
                "jwtToken": "the-real-jwt", "clientId": "3MVG9jwt",
                "clientSecret": "the-real-jwt-secret", "instanceUrl": "https://acme.my.salesforce.com"}},
        });
        for body in [oauth, jwt] {
            client
                .create(flowform::flow::CONNECTIONS, sandbox, &body)
                .await
                .unwrap();
        }
    }
    // JWT connections start `initializing`; AEP enables them (and adds `orgId`) later.
    world
        .admin(Method::POST, "/clock", json!({"advanceMs": 60_000}))
        .await;
    let stored = world.stored().await;
    assert_eq!(stored.len(), 7);
    world
}

/// The variables `generate` printed, each set to a value of its own.
fn variables(generated: &Run) -> Vec<(String, String)> {
    generated
        .stdout()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_suffix('='))
        .map(|name| (name.to_owned(), format!("value of {name}")))
        .collect()
}

/// Secret digests the emulator keeps, by connection id: what an apply must not have changed.
async fn secret_digests(world: &World) -> std::collections::BTreeMap<String, Value> {
    world
        .stored()
        .await
        .iter()
        .map(|c| {
            (
                c["item"]["id"].as_str().unwrap().to_owned(),
                c["secretDigests"].clone(),
            )
        })
        .collect()
}

/// Requests that change a connection in AEP, served so far.
async fn mutations_served(world: &World) -> u64 {
    let mut n = 0;
    for (method, route) in [
        ("PATCH", "/connections/{id}"),
        ("DELETE", "/connections/{id}"),
        ("POST", "/connections"),
    ] {
        n += world.served(method, route).await;
    }
    n
}

/// An organisation generated, planned and applied.
async fn adopted() -> (World, Vec<(String, String)>) {
    let world = organisation().await;
    let generated = run(
        &world,
        &["generate", "--sandbox", "prod", "--sandbox", "dev"],
        &[],
    )
    .await
    .expect_code(0);
    let vars = variables(&generated);
    run(&world, &["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    (world, vars)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_comes_under_management_in_one_generate_plan_and_apply() {
    let world = organisation().await;
    let before = secret_digests(&world).await;
    let generated = run(
        &world,
        &["generate", "--sandbox", "prod", "--sandbox", "dev"],
        &[],
    )
    .await
    .expect_code(0);
    let vars = variables(&generated);
    // Basic: password and token; OAuth: the secret; JWT: the token and the secret.
    assert_eq!(vars.len(), 3 * 2 + 2 + 2 * 2, "{}", generated.stdout());
    assert!(
        vars.iter()
            .any(|(name, _)| name == "FLOWFORM_PROD_ACME_BASIC_000000_SECURITY_TOKEN"),
        "{}",
        generated.stdout()
    );
    let schema: Value = serde_json::from_str(&flowform(["schema"]).run().expect_code(0).stdout()).unwrap();
    let schema = jsonschema::draft7::new(&schema).unwrap();
    for file in ["prod.yaml", "dev.yaml"] {
        let text = std::fs::read_to_string(world.dir.path().join("connections").join(file)).unwrap();
        for secret in ["the-real", "****"] {
            assert!(!text.contains(secret), "{file}: {text}");
        }
        // What an editor checks as it is typed holds too.
        let doc = flowform::yaml::parse(&text).unwrap()[0].to_json();
        assert!(schema.is_valid(&doc), "{file}: {text}");
    }
    let stderr = generated.stderr();
    assert!(
        stderr.contains("connections/prod.yaml: 4 connections to import"),
        "{stderr}"
    );
    assert!(stderr.contains("left out `auth.params.orgId`"), "{stderr}");
    assert!(
        stderr.contains("flowform plan`: it shows 7 to import, 0 to add, 0 to change, 0 to destroy."),
        "{stderr}"
    );

    // Without the variables the configuration does not load; with them it does.
    let unset = run(&world, &["validate"], &[]).await.expect_code(1);
    assert!(unset.stderr().contains("FLOWFORM_"), "{}", unset.stderr());
    let valid = run(&world, &["validate"], &vars).await.expect_code(0);
    assert!(
        valid.stdout().contains("prod: 4 connections valid"),
        "{}",
        valid.stdout()
    );
    assert!(
        valid.stdout().contains("dev: 3 connections valid"),
        "{}",
        valid.stdout()
    );

    let plan = run(&world, &["plan", "--detailed-exitcode"], &vars)
        .await
        .expect_code(2);
    assert!(
        plan.stdout()
            .contains("Plan: 7 to import, 0 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
    assert_eq!(
        plan.stdout()
            .matches("# secrets: not sent (AEP keeps its values")
            .count(),
        7,
        "{}",
        plan.stdout()
    );
    let json = run(&world, &["plan", "--format", "json"], &vars)
        .await
        .expect_code(0);
    let json: Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(
        json["summary"],
        json!({"import": 7, "add": 0, "change": 0, "destroy": 0, "move": 0, "forget": 0, "state_only": 0})
    );
    assert!(
        json["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["change"]["resend_secrets"] == false)
    );

    let patches_before = world.served("PATCH", "/connections/{id}").await;
    let apply = run(&world, &["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 7 imported, 0 added, 0 changed, 0 destroyed.\n"),
        "{}",
        apply.stdout()
    );
    // Nothing was sent: no update, and every secret AEP keeps is the one it had.
    assert_eq!(world.served("PATCH", "/connections/{id}").await, patches_before);
    assert_eq!(world.stored().await.len(), 7, "nothing was created");
    assert_eq!(secret_digests(&world).await, before);
    let again = run(&world, &["plan", "--detailed-exitcode"], &vars)
        .await
        .expect_code(0);
    assert!(again.stdout().starts_with("No changes."), "{}", again.stdout());

    // A second run finds everything managed: the files are in the way, and elsewhere there
    // is nothing to write.
    let refused = run(&world, &["generate", "--sandbox", "prod,dev"], &[])
        .await
        .expect_code(1);
    assert!(
        refused.stderr().contains("never overwrites a file unasked"),
        "{}",
        refused.stderr()
    );
    let forced = run(&world, &["generate", "--sandbox", "prod", "--force"], &[])
        .await
        .expect_code(1);
    assert!(
        forced.stderr().contains("the next plan would delete them in AEP"),
        "{}",
        forced.stderr()
    );
    let elsewhere = run(&world, &["generate", "--sandbox", "prod", "--out", "more"], &[])
        .await
        .expect_code(0);
    assert!(
        elsewhere.stderr().contains("already managed, as `prod/acme-jwt`"),
        "{}",
        elsewhere.stderr()
    );
    assert!(!world.dir.path().join("more/prod.yaml").exists());

    // A secret changed in the configuration afterwards is sent, and said so.
    let (name, _) = vars
        .iter()
        .find(|(n, _)| n.starts_with("FLOWFORM_PROD_ACME_OAUTH"))
        .unwrap();
    let rotated: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == name {
                    "rotated".to_owned()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let plan = run(&world, &["plan"], &rotated).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_takes_filters_and_new_connections_since() {
    let (world, _) = adopted().await;
    world
        .admin(
            Method::POST,
            "/seed",
            json!({"count": 2, "sandbox": "dev", "namePrefix": "Later"}),
        )
        .await;
    let run_out = run(
        &world,
        &[
            "generate",
            "--sandbox",
            "dev",
            "--source",
            "salesforce",
            "--name",
            "Later*1",
            "--out",
            "later",
        ],
        &[],
    )
    .await
    .expect_code(0);
    let text = std::fs::read_to_string(world.dir.path().join("later/dev.yaml")).unwrap();
    assert!(text.contains("name: \"Later 000001\""), "{text}");
    assert!(!text.contains("Later 000000"), "{text}");
    assert!(
        run_out
            .stderr()
            .contains("is not part of the project's configuration"),
        "{}",
        run_out.stderr()
    );
    // The next step says so too, rather than promise a plan that cannot see the files.
    assert!(
        run_out
            .stderr()
            .contains("\nNext: add `later` to `config` in `flowform.toml`, then set the variables"),
        "{}",
        run_out.stderr()
    );
    let bad = run(&world, &["generate", "--sandbox", "Prod"], &[])
        .await
        .expect_code(1);
    assert!(
        bad.stderr().contains("`Prod` is not a sandbox name"),
        "{}",
        bad.stderr()
    );
    let bad = run(
        &world,
        &["generate", "--sandbox", "dev", "--source", "salesfarce"],
        &[],
    )
    .await
    .expect_code(1);
    assert!(
        bad.stderr().contains("unknown source `salesfarce`"),
        "{}",
        bad.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_and_removed_go_through_plan_and_apply_without_a_call_to_aep() {
    let (world, vars) = adopted().await;
    let connections = world.dir.path().join("connections");
    let prod = connections.join("prod.yaml");
    let dev = connections.join("dev.yaml");
    let state_path = world.dir.path().join("state/flowform.json");
    let recorded = || flowform::state::file::read(&state_path).unwrap().unwrap().0;
    let jwt_id = recorded().resources["prod/acme-jwt"].id.clone();
    let forgotten_id = recorded().resources["dev/acme-jwt-dev"].id.clone();

    // Rename a key, and let one connection go (its declaration removed with it).
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replace("\n  acme-jwt:\n", "\n  salesforce-jwt:\n")).unwrap();
    let text = std::fs::read_to_string(&dev).unwrap();
    let start = text.find("  acme-jwt-dev:\n").unwrap();
    let end = text[start..]
        .find("\n  acme-")
        .map_or(text.len(), |e| start + e + 1);
    std::fs::write(&dev, format!("{}{}", &text[..start], &text[end..])).unwrap();
    std::fs::write(
        connections.join("moves.yaml"),
        "moved:\n  - {from: acme-jwt, to: salesforce-jwt}\nremoved:\n  - key: acme-jwt-dev\n    destroy: false\n",
    )
    .unwrap();

    let plan = run(&world, &["plan", "--detailed-exitcode"], &vars)
        .await
        .expect_code(2);
    let out = plan.stdout();
    assert!(
        out.contains("# prod/acme-jwt has moved to prod/salesforce-jwt"),
        "{out}"
    );
    assert!(
        out.contains("# `moved` at connections/moves.yaml:2:5: state only"),
        "{out}"
    );
    assert!(
        out.contains("# dev/acme-jwt-dev will no longer be managed by flowform"),
        "{out}"
    );
    assert!(
        out.contains("because of a `removed` entry: AEP keeps it"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 0 to add, 0 to change, 0 to destroy, 1 to move, 1 to forget."),
        "{out}"
    );
    let markdown = run(&world, &["plan", "--format", "markdown"], &vars)
        .await
        .expect_code(0);
    assert!(
        markdown
            .stdout()
            .contains("- **Move** (1): `prod/acme-jwt` → `prod/salesforce-jwt`"),
        "{}",
        markdown.stdout()
    );
    let json = run(
        &world,
        &["plan", "--format", "json", "--out", "moves.plan"],
        &vars,
    )
    .await
    .expect_code(0);
    let json: Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(json["format_version"], "1.3");
    assert_eq!(json["summary"]["move"], 1);
    assert_eq!(json["summary"]["forget"], 1);
    assert_eq!(
        json["moves"],
        json!([{"from": "prod/acme-jwt", "to": "prod/salesforce-jwt", "id": jwt_id, "origin": "connections/moves.yaml:2:5"}])
    );
    let moved = json["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "prod/salesforce-jwt")
        .unwrap();
    assert_eq!(
        (moved["previous_address"].as_str(), moved["actions"].clone()),
        (Some("prod/acme-jwt"), json!(["no-op"]))
    );

    let mutations = mutations_served(&world).await;
    let apply = run(&world, &["apply", "moves.plan"], &vars).await.expect_code(0);
    assert!(
        apply
            .stdout()
            .ends_with("Apply complete! Resources: 0 added, 0 changed, 0 destroyed, 1 moved, 1 forgotten.\n"),
        "{}",
        apply.stdout()
    );
    assert_eq!(
        mutations_served(&world).await,
        mutations,
        "no call to AEP changed anything"
    );
    let state = recorded();
    assert_eq!(state.resources["prod/salesforce-jwt"].id, jwt_id);
    assert_eq!(state.resources["prod/salesforce-jwt"].key, "salesforce-jwt");
    assert!(!state.resources.contains_key("prod/acme-jwt"));
    assert!(!state.resources.contains_key("dev/acme-jwt-dev"));
    assert!(
        world
            .stored()
            .await
            .iter()
            .any(|c| c["item"]["id"] == forgotten_id.as_str()),
        "AEP keeps it"
    );
    // The entries stay in the configuration; done, they plan nothing.
    run(&world, &["plan", "--detailed-exitcode"], &vars)
        .await
        .expect_code(0);

    // A chain: the entries of an earlier rename stay, and the next one follows on.
    let text = std::fs::read_to_string(&prod).unwrap();
    std::fs::write(&prod, text.replace("\n  salesforce-jwt:\n", "\n  sf-jwt:\n")).unwrap();
    std::fs::write(
        connections.join("moves.yaml"),
        "moved:\n  - {from: acme-jwt, to: salesforce-jwt}\n  - {from: salesforce-jwt, to: sf-jwt}\nremoved:\n  - {key: acme-jwt-dev, destroy: false}\n",
    )
    .unwrap();
    let plan = run(&world, &["plan"], &vars).await.expect_code(0);
    assert!(
        plan.stdout()
            .contains("# prod/salesforce-jwt has moved to prod/sf-jwt"),
        "{}",
        plan.stdout()
    );
    run(&world, &["apply", "--auto-approve"], &vars)
        .await
        .expect_code(0);
    assert_eq!(recorded().resources["prod/sf-jwt"].id, jwt_id);

    // A move to a key the state still holds: an error, with what to do.
    let text = std::fs::read_to_string(&prod).unwrap();
    let start = text.find("  sf-jwt:\n").unwrap();
    let end = text[start..]
        .find("\n  acme-")
        .map_or(text.len(), |e| start + e + 1);
    std::fs::write(&prod, format!("{}{}", &text[..start], &text[end..])).unwrap();
    std::fs::write(
        connections.join("moves.yaml"),
        "moved:\n  - {from: sf-jwt, to: acme-basic-000000}\n",
    )
    .unwrap();
    let plan = run(&world, &["plan"], &vars).await.expect_code(1);
    let out = plan.stdout();
    assert!(
        out.contains("`prod/sf-jwt` (") && out.contains("is moved to `prod/acme-basic-000000` (at connections/moves.yaml:2:5), but the state already holds `prod/acme-basic-000000`"),
        "{out}"
    );
    assert!(
        out.contains("help: if `prod/acme-basic-000000` is the connection to keep"),
        "{out}"
    );
    assert!(
        !out.contains("will be destroyed"),
        "what the move meant to keep is not planned away: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_and_removed_mistakes_are_clear_errors_at_their_line() {
    let world = World::new().await;
    world.write(
        "moves.yaml",
        "moved:\n  - {from: ghost, to: nowhere}\n  - {from: acme-salesforce, to: acme-jwt}\n  - {from: a, to: b}\n  - {from: b, to: a}\nremoved:\n  - {key: acme-oauth2}\n",
    );
    let run = world
        .run_bare(vec!["validate".into(), "--skip-secrets".into()])
        .await
        .expect_code(1);
    let err = run.stderr();
    for expected in [
        "`ghost` is moved to `nowhere`, which is not declared\n  --> examples/moves.yaml:2:5",
        "`acme-salesforce` is moved to `acme-jwt`, but `acme-salesforce` is still declared",
        "the moves go round in a circle: a → b → a",
        "missing `destroy: false`\n  --> examples/moves.yaml:7:5",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    assert!(err.contains("help: "), "{err}");
}

/// What `generate` prints is an env file as it is: sourced by a shell it sets every variable
/// the files read (empty until filled in), and once each is filled in, the configuration
/// loads with nothing but that file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_variables_are_an_env_file_a_shell_can_source() {
    let world = organisation().await;
    let generated = run(&world, &["generate", "--sandbox", "prod,dev"], &[])
        .await
        .expect_code(0);
    let template = generated.stdout();
    let path = world.dir.path().join("adopt.env");
    std::fs::write(&path, &template).unwrap();
    let names = |text: &str| -> Vec<String> {
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("FLOWFORM_"))
            .filter_map(|l| l.split('=').next())
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    };
    let declared = names(&template);
    assert_eq!(declared.len(), 3 * 2 + 2 + 2 * 2, "{template}");
    for name in &declared {
        assert!(
            template.contains(&format!("{name}=\n")),
            "each variable is an empty assignment to fill in: {template}"
        );
    }
    // As it is: a shell reads it without an error and every variable is then set, empty.
    let sourced = std::process::Command::new("sh")
        .arg("-c")
        .arg("set -eu; set -a; . ./adopt.env; set +a; env")
        .current_dir(world.dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        sourced.status.success(),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    assert_eq!(names(&String::from_utf8_lossy(&sourced.stdout)), declared);
    // Filled in (a value with a space, quoted as a shell and a dotenv reader want), it is
    // all `validate` needs.
    let filled: String = template
        .lines()
        .map(|l| match l.strip_suffix('=') {
            Some(name) if l.starts_with("FLOWFORM_") => format!("{name}='a value of {name}'\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&path, filled).unwrap();
    let mut env: Vec<(String, String)> = world.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.push(("FLOWFORM".to_owned(), env!("CARGO_BIN_EXE_flowform").to_owned()));
    let dir = world.dir.path().to_owned();
    let valid = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg("set -a; . ./adopt.env; set +a; exec \"$FLOWFORM\" validate")
            .current_dir(dir)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        valid.status.success(),
        "{}{}",
        String::from_utf8_lossy(&valid.stdout),
        String::from_utf8_lossy(&valid.stderr)
    );
}

/// Keys YAML would read as something else (`null`, `yes`, `123`) are written quoted in every
/// YAML snippet a message suggests, and a bare one in `moved:` says to quote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_yaml_reads_otherwise_are_quoted_in_the_fixes_offered() {
    let world = World::managed().await;
    for (from, to) in [("acme-salesforce", "null"), ("acme-salesforce-oauth", "yes")] {
        world.run(&["state", "mv", from, to]).await.expect_code(0);
    }
    world.edit("salesforce-oauth2.yaml", "  acme-salesforce-oauth:", "  \"yes\":");
    std::fs::remove_file(world.config().join("salesforce-basic.yaml")).unwrap();
    world.write("moves.yaml", "moved:\n  - {from: \"null\", to: \"yes\"}\n");
    let plan = world.run(&["plan"]).await.expect_code(1);
    let err = plan.stdout();
    assert!(
        err.contains("stop managing `prod/null` with `removed: [{key: \"null\", destroy: false}]`"),
        "{err}"
    );

    world.write(
        "moves.yaml",
        "moved:\n  - {from: null, to: \"yes\"}\n  - {from: 123, to: \"yes\"}\n",
    );
    let bad = world.run(&["plan"]).await.expect_code(1);
    let err = bad.stderr();
    assert!(
        err.contains("help: YAML reads a bare `null` (or `~`, or nothing) as no value: to name the key `null`, quote it: `\"null\"`"),
        "{err}"
    );
    assert!(
        err.contains("help: YAML reads `123` as an integer: quote it: `\"123\"`"),
        "{err}"
    );
}

/// A connection leaving management is not drawn as a deletion: no field of it is marked `-`
/// (red in a PR comment's diff), and the comment's list says nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_connection_is_not_drawn_as_a_deletion() {
    let world = World::managed().await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    world.write(
        "moves.yaml",
        "removed:\n  - {key: acme-salesforce-oauth, destroy: false}\n",
    );
    let text = world.run(&["plan"]).await.expect_code(0).stdout();
    assert!(
        text.contains("  . connection \"prod/acme-salesforce-oauth\" {"),
        "{text}"
    );
    assert!(
        text.lines().all(|l| !l.trim_start().starts_with("- ")),
        "nothing is marked as deleted: {text}"
    );
    let markdown = world
        .run(&["plan", "--format", "markdown"])
        .await
        .expect_code(0)
        .stdout();
    assert!(
        markdown.contains(
            "- **Forget: no longer managed, nothing is deleted** (1): `prod/acme-salesforce-oauth`"
        ),
        "{markdown}"
    );
    let diff = markdown
        .split("```diff\n")
        .nth(1)
        .and_then(|d| d.split("```").next())
        .unwrap();
    assert!(
        diff.lines().all(|l| !l.starts_with('-')),
        "no red line in the PR comment: {diff}"
    );
}

/// A plan with errors (here a move the state cannot make) is not saved for apply, and no
/// note suggests it could be applied; the errors are the product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_errors_is_neither_saved_nor_offered_to_apply() {
    let world = World::managed().await;
    std::fs::remove_file(world.config().join("salesforce-oauth2.yaml")).unwrap();
    world.write(
        "moves.yaml",
        "moved:\n  - {from: acme-salesforce-oauth, to: acme-salesforce-jwt}\n",
    );
    let out = world.dir.path().join("plan.out");
    let plan = world
        .run(&["plan", "--out", out.to_str().unwrap()])
        .await
        .expect_code(1);
    assert!(
        plan.stdout()
            .contains("but the state already holds `prod/acme-salesforce-jwt`"),
        "{}",
        plan.stdout()
    );
    assert!(!out.exists(), "an errored plan is not saved");
    let err = plan.stderr();
    assert!(!err.contains("Saved the plan"), "{err}");
    assert!(err.contains("The plan has errors: it was not saved"), "{err}");
    let unsaved = world.run(&["plan"]).await.expect_code(1);
    assert!(
        !unsaved.stderr().contains("You didn't use the --out option"),
        "{}",
        unsaved.stderr()
    );
}
