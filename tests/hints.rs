//! Hints that point the right way: a mistake in the settings or the files is named where it
//! is, with the fix, before anything is sent where possible. Each message is kept whole as a
//! snapshot (`tests/snapshots/lib__hints__*.snap`).

use crate::world::World;

/// `text` without what differs from run to run: the emulator's port and AEP's request ids.
fn steady(text: &str, world: &World) -> String {
    let text = text.replace(&world.emulator.base_url(), "http://EMULATOR");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("[request id ") {
        let Some(len) = rest[start..].find(']') else { break };
        out.push_str(&rest[..start]);
        out.push_str("[request id …]");
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// The requests the emulator served to IMS and Flow Service (not to its admin endpoints).
async fn requests(world: &World) -> u64 {
    let stats = world
        .admin(reqwest::Method::GET, "/stats", serde_json::Value::Null)
        .await;
    stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["route"].as_str().unwrap().starts_with("/__emulator"))
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

/// The token endpoint's full URL, as Adobe's guides print it, is taken for IMS's base; a URL
/// where IMS has no token endpoint is said to be the URL's fault, not the credential's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ims_url_is_its_base_or_its_token_endpoint() {
    let world = World::new().await;
    let token_endpoint = format!("{}/ims/token/v3", world.emulator.base_url());
    world
        .run_with(&["plan"], &[("AEP_IMS_URL", &token_endpoint)])
        .await
        .expect_code(0);
    let elsewhere = format!("{}/ims-elsewhere", world.emulator.base_url());
    let run = world
        .run_with(&["plan"], &[("AEP_IMS_URL", &elsewhere)])
        .await
        .expect_code(1);
    insta::assert_snapshot!("ims_url_without_a_token_endpoint", steady(&run.stderr(), &world));
    world
        .admin(reqwest::Method::DELETE, "/stats", serde_json::Value::Null)
        .await;
    let jwt = format!("{}/ims/exchange/jwt", world.emulator.base_url());
    let run = world
        .run_with(&["plan"], &[("AEP_IMS_URL", &jwt)])
        .await
        .expect_code(1);
    insta::assert_snapshot!("ims_url_of_another_endpoint", steady(&run.stderr(), &world));
    // Nothing was asked of IMS or AEP with that URL.
    assert_eq!(requests(&world).await, 0);
}

/// An organization id without `@AdobeOrg` is refused before any request; a well-formed one
/// the credential does not belong to gets AEP's bare `403025 Profile is not valid` with the
/// setting to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_organization_names_aep_org_id() {
    let world = World::new().await;
    let run = world
        .run_with(&["plan"], &[("AEP_ORG_ID", "FLOWFORMEMULATOR00000000")])
        .await
        .expect_code(1);
    insta::assert_snapshot!("org_without_its_suffix", steady(&run.stderr(), &world));
    assert_eq!(requests(&world).await, 0);
    let run = world
        .run_with(&["plan"], &[("AEP_ORG_ID", "0123456789ABCDEF01234567@AdobeOrg")])
        .await
        .expect_code(1);
    insta::assert_snapshot!("org_of_another_credential", steady(&run.stderr(), &world));
}

/// An endpoint without Flow Service's path (the host alone, part of it, or the connections
/// URL) is refused with the endpoint to set, before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_without_flow_services_path_says_which_to_set() {
    let world = World::new().await;
    let base = world.emulator.base_url();
    for (name, endpoint) in [
        ("endpoint_host_alone", base.clone()),
        (
            "endpoint_past_the_base",
            format!("{base}/data/foundation/flowservice/connections"),
        ),
    ] {
        let run = world
            .run_with(&["plan"], &[("FLOWFORM_ENDPOINT", &endpoint)])
            .await
            .expect_code(1);
        insta::assert_snapshot!(name, steady(&run.stderr(), &world));
    }
    let run = world
        .run(&["plan", "--endpoint", &format!("{base}/data/foundation")])
        .await
        .expect_code(1);
    insta::assert_snapshot!("endpoint_flag_part_of_the_path", steady(&run.stderr(), &world));
    assert_eq!(requests(&world).await, 0);
}

/// A plan from the state alone (`--refresh=false`) needs no AEP, but still every secret its
/// configuration references; and it says when the settings to reach AEP are missing, which
/// applying it will need, rather than pass silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_refresh_still_says_what_is_unset() {
    let world = World::new().await;
    let plan = |vars: &[(&str, &str)]| {
        let mut command = crate::common::flowform(["plan", "--refresh=false"]).current_dir(world.dir.path());
        for (k, v) in vars {
            command = command.env(k, v);
        }
        command.run()
    };
    let run = plan(&[]).expect_code(0);
    assert!(run.stdout().contains("Plan: 3 to add"), "{}", run.stdout());
    insta::assert_snapshot!("plan_without_refresh_or_credentials", run.stderr());
    // With the settings, nothing to say.
    let env = world.env();
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = plan(&vars).expect_code(0);
    assert!(!run.stderr().contains("warning"), "{}", run.stderr());
    // A secret referenced from the environment and unset is an error, refresh or not.
    world.edit(
        "salesforce-oauth2.yaml",
        "clientSecret: ${file:secrets/acme-oauth-client-secret}",
        "clientSecret: ${env:ACME_OAUTH_SECRET}",
    );
    let run = plan(&vars).expect_code(1);
    assert!(
        run.stderr()
            .contains("environment variable `ACME_OAUTH_SECRET` is not set"),
        "{}",
        run.stderr()
    );
}
