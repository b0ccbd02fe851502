//! End-to-end tests: they run the real `flowform` binary, as a user would.
//!
//! One test binary with a module per command (as casey/just does), so that cargo links it
//! once. [`common::flowform`] builds an invocation; the modules say what must come of it.

mod apply;
mod client;
mod common;
mod emulator;
mod examples;
mod live;
mod plan;
mod props;
mod schema;
mod state;
mod usage;
mod validate;
mod world;

/// A token from an emulator's IMS for its demo credential.
pub async fn emulator_token(http: &reqwest::Client, emulator: &flowform::emulator::Emulator) -> String {
    use flowform::emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
    let response: serde_json::Value = http
        .post(format!("{}/ims/token/v3", emulator.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&scope=openid"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}
