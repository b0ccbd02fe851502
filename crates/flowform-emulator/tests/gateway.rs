//! The gateway's checks, IMS, and how sandboxes and organizations partition the data.

use flowform_emulator::Options;
use flowform_emulator::ims::{Credential, DEMO_CLIENT_ID, DEMO_ORG};
use serde_json::json;

use super::api::{Api, basic, reply, token};

async fn raw(api: &Api, headers: &[(&str, &str)]) -> super::api::Reply {
    let mut request = api.http.get(api.flow("/connections"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn gateway_refusals_use_the_gateway_shape() {
    let api = Api::start().await;
    let bearer = format!("Bearer {}", api.token);
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![], 403, "403010", "Oauth token is missing."),
        (
            vec![("authorization", "Bearer nope")],
            401,
            "401013",
            "Oauth token is not valid",
        ),
        (
            vec![("authorization", "Basic abc")],
            401,
            "401013",
            "Oauth token is not valid",
        ),
        (
            vec![("authorization", &bearer)],
            403,
            "403000",
            "Api Key is required",
        ),
        (
            vec![("authorization", &bearer), ("x-api-key", "other")],
            403,
            "403003",
            "Api Key is invalid",
        ),
        (
            vec![("authorization", &bearer), ("x-api-key", DEMO_CLIENT_ID)],
            400,
            "400003",
            "Missing header",
        ),
        (
            vec![
                ("authorization", &bearer),
                ("x-api-key", DEMO_CLIENT_ID),
                ("x-gw-ims-org-id", "OTHER@AdobeOrg"),
            ],
            403,
            "403025",
            "Profile is not valid",
        ),
    ];
    for (headers, status, code, message) in cases {
        let r = raw(&api, &headers).await;
        assert_eq!(r.status.as_u16(), status, "{headers:?}: {}", r.body);
        assert_eq!(
            r.body,
            json!({"error_code": code, "message": message}),
            "{headers:?}"
        );
        assert!(r.header("x-request-id").is_some());
    }
    let ok = raw(
        &api,
        &[
            ("authorization", &bearer),
            ("x-api-key", DEMO_CLIENT_ID),
            ("x-gw-ims-org-id", DEMO_ORG),
        ],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn ims_issues_tokens_for_known_credentials_only() {
    let api = Api::start().await;
    let post = |body: &'static str| {
        let http = api.http.clone();
        let url = format!("{}/ims/token/v3", api.emulator.base_url());
        async move {
            reply(
                http.post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let good = post("grant_type=client_credentials&client_id=flowform-emulator&client_secret=flowform-emulator-secret&scope=openid").await.expect(200);
    assert_eq!(good.body["token_type"], "bearer");
    assert_eq!(good.body["expires_in"], 86399);
    assert!(good.body["access_token"].as_str().unwrap().len() > 20);
    let cases = [
        (
            "grant_type=client_credentials&client_id=nobody&client_secret=x&scope=openid",
            400,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials&client_id=flowform-emulator&client_secret=wrong&scope=openid",
            401,
            "invalid_client",
        ),
        (
            "grant_type=client_credentials&client_id=flowform-emulator&client_secret=flowform-emulator-secret",
            400,
            "invalid_scope",
        ),
        (
            "grant_type=password&client_id=flowform-emulator&client_secret=flowform-emulator-secret&scope=x",
            400,
            "unsupported_grant_type",
        ),
    ];
    for (body, status, error) in cases {
        let r = post(body).await;
        assert_eq!(r.status.as_u16(), status, "{body}");
        assert_eq!(r.body["error"], error, "{body}");
        assert!(r.body["error_description"].is_string());
    }
}

#[tokio::test]
async fn tokens_expire_on_the_emulator_clock() {
    let api = Api::with(Options {
        token_lifetime_s: 60,
        ..Options::default()
    })
    .await;
    api.get("/connections").await.expect(200);
    api.advance_clock(59_000).await;
    api.get("/connections").await.expect(200);
    api.advance_clock(2_000).await;
    let r = api.get("/connections").await.expect(401);
    assert_eq!(r.body["error_code"], "401013");
}

#[tokio::test]
async fn a_missing_sandbox_header_means_prod_and_sandboxes_partition() {
    let mut api = Api::start().await;
    let (id, _) = api.create(&basic("in prod")).await;
    // Without x-sandbox-name, AEP answers from prod.
    let r = api
        .http
        .get(api.flow(&format!("/connections/{id}")))
        .bearer_auth(&api.token)
        .header("x-api-key", DEMO_CLIENT_ID)
        .header("x-gw-ims-org-id", DEMO_ORG)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    api.sandbox = "dev".into();
    api.get(&format!("/connections/{id}")).await.expect(404);
    assert_eq!(api.get("/connections").await.body["items"], json!([]));
    let (dev_id, _) = api.create(&basic("in dev")).await;
    assert_eq!(api.item(&dev_id).await["sandboxName"], "dev");
    api.sandbox = "Not-Lower".into();
    assert_eq!(
        api.get("/connections").await.expect(404).flow_code(),
        "FLOW-2101-404"
    );
}

#[tokio::test]
async fn organizations_partition_the_data() {
    let unbound = Credential::parse("any-org-client:s3cret").unwrap();
    let mut api = Api::with(Options {
        credentials: vec![Credential::demo(), unbound],
        ..Options::default()
    })
    .await;
    api.create(&basic("demo org's")).await;
    api.token = token(&api.http, &api.emulator.base_url(), "any-org-client", "s3cret").await;
    api.org = "OTHER0000000000000000000@AdobeOrg".into();
    let r = reply(
        api.http
            .get(api.flow("/connections"))
            .bearer_auth(&api.token)
            .header("x-api-key", "any-org-client")
            .header("x-gw-ims-org-id", &api.org)
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(200);
    assert_eq!(
        r.body["items"],
        json!([]),
        "another org sees none of the demo org's connections"
    );
    assert_eq!(api.emulator.len(), 1);
}
