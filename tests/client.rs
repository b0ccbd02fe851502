//! The Flow Service client against the in-process emulator: pages, tokens, retries, and
//! never a duplicate create.

use std::time::{Duration, Instant};

use flowform::flow::model::PatchOp;
use flowform::flow::settings::{Credentials, RetryPolicy, Settings};
use flowform::flow::{Client, Deleted, Filter, FlowError};
use flowform::secret::Secret;
use flowform_emulator::faults::FaultSettings;
use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};
use flowform_emulator::{Emulator, Options, PageStyle};
use reqwest::Method;
use serde_json::{Value, json};

const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

/// Client settings for an emulator, with quick retries.
fn settings(emulator: &Emulator) -> Settings {
    Settings {
        endpoint: reqwest::Url::parse(&emulator.flow_url()).unwrap(),
        org_id: DEMO_ORG.to_owned(),
        client_id: DEMO_CLIENT_ID.to_owned(),
        credentials: Credentials::Ims {
            url: reqwest::Url::parse(&emulator.base_url()).unwrap(),
            client_secret: Secret::new(DEMO_CLIENT_SECRET),
            scopes: "openid,AdobeID".to_owned(),
        },
        parallelism: 8,
        requests_per_second: None,
        retry: RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(20),
        },
        timeout: Duration::from_secs(5),
        command_timeout: Duration::from_secs(120),
        max_url_length: flowform::flow::limits::DEFAULT_MAX_URL_LENGTH,
    }
}

async fn start(options: Options) -> (Emulator, Client) {
    let emulator = Emulator::start(Options {
        seed: Some(5),
        ..options
    })
    .await
    .unwrap();
    let client = Client::new(settings(&emulator)).unwrap();
    (emulator, client)
}

fn body(name: &str) -> Value {
    json!({
        "name": name,
        "connectionSpec": {"id": SF, "version": "1.0"},
        "auth": {"specName": "Basic Authentication", "params": {
            "username": "u", "password": "p", "securityToken": "t"}}
    })
}

async fn admin(emulator: &Emulator, method: Method, path: &str, body: Option<Value>) -> Value {
    let http = crate::common::http();
    let mut request = http.request(method, format!("{}/__emulator{path}", emulator.base_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

async fn script(emulator: &Emulator, method: &str, fault: &str) {
    admin(
        emulator,
        Method::POST,
        "/faults/script",
        Some(json!({"method": method, "fault": fault})),
    )
    .await;
}

/// Requests the emulator served, by method and route under the Flow Service base.
async fn served(emulator: &Emulator, method: &str, route: &str) -> u64 {
    let stats = admin(emulator, Method::GET, "/stats", None).await;
    crate::common::served(&stats, method, route)
}

#[tokio::test]
async fn lists_every_page_with_filters_in_every_link_style() {
    for style in [PageStyle::Links, PageStyle::Token, PageStyle::Both] {
        let (emulator, client) = start(Options {
            page_style: style,
            ..Options::default()
        })
        .await;
        admin(&emulator, Method::POST, "/seed", Some(json!({"count": 260}))).await;
        admin(
            &emulator,
            Method::POST,
            "/seed",
            Some(json!({"count": 5, "sandbox": "dev"})),
        )
        .await;
        let all = client
            .list_all(
                flowform::flow::CONNECTIONS,
                "prod",
                &[Filter::new("connectionSpec.id", [SF])],
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 260, "{style:?}");
        let unique: std::collections::BTreeSet<_> = all.iter().map(|c| c.id.clone()).collect();
        assert_eq!(unique.len(), 260);
        let some = client
            .list_all(
                flowform::flow::CONNECTIONS,
                "prod",
                &[Filter::new("name", ["Seeded 000001", "Seeded 000259"])],
            )
            .await
            .unwrap();
        assert_eq!(some.len(), 2);
        assert_eq!(
            client
                .list_all(flowform::flow::CONNECTIONS, "dev", &[])
                .await
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            served(&emulator, "GET", "/connections").await,
            3 + 1 + 1,
            "{style:?}: 100 per page"
        );
    }
}

/// A server that always sends the same next link.
async fn looping_server(next: &'static str) -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/ims/token/v3",
            post(|| async {
                axum::Json(json!({"access_token": "t", "token_type": "bearer", "expires_in": 86399}))
            }),
        )
        .route(
            "/flow/connections",
            get(move || async move { axum::Json(json!({"items": [], "_links": {"next": {"href": next}}})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_repeated_token_or_a_foreign_link_stops_the_walk() {
    for (next, expected) in [
        (
            "/connections?continuationToken=same",
            "repeated a continuation token",
        ),
        (
            "http://203.0.113.9/flow/connections?continuationToken=x",
            "points to another host",
        ),
    ] {
        let base = looping_server(next).await;
        let emulator = Emulator::start(Options::default()).await.unwrap();
        let mut s = settings(&emulator);
        s.endpoint = reqwest::Url::parse(&format!("{base}/flow")).unwrap();
        s.credentials = Credentials::Static(Secret::new("static-token"));
        let client = Client::new(s).unwrap();
        let err = client
            .list_all(flowform::flow::CONNECTIONS, "prod", &[])
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_after_a_401() {
    let (emulator, client) = start(Options {
        token_lifetime_s: 60,
        ..Options::default()
    })
    .await;
    client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap();
    // The emulator's clock moves past the token's life; the client's does not know.
    admin(
        &emulator,
        Method::POST,
        "/clock",
        Some(json!({"advanceMs": 61_000})),
    )
    .await;
    client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap();
    assert_eq!(
        served(&emulator, "GET", "/connections").await,
        3,
        "one 401, then success"
    );
    let stats = admin(&emulator, Method::GET, "/stats", None).await;
    let ims: u64 = stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["route"] == "/ims/token/v3")
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(ims, 2, "one token, then one renewal");
}

#[tokio::test]
async fn a_token_refused_twice_is_a_clear_error() {
    let (_emulator, client) = start(Options {
        token_lifetime_s: 0,
        ..Options::default()
    })
    .await;
    let err = client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.status, 401);
    assert_eq!(api.code.as_deref(), Some("401013"));
    let text = err.to_string();
    assert!(
        text.contains("Oauth token is not valid") && text.contains("[request id "),
        "{text}"
    );
}

#[tokio::test]
async fn wrong_credentials_say_which_to_check() {
    let emulator = Emulator::start(Options::default()).await.unwrap();
    let mut s = settings(&emulator);
    s.credentials = Credentials::Ims {
        url: reqwest::Url::parse(&emulator.base_url()).unwrap(),
        client_secret: Secret::new("wrong-secret"),
        scopes: "openid".into(),
    };
    let err = Client::new(s)
        .unwrap()
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, FlowError::Auth(_)), "{text}");
    assert!(
        text.contains("invalid client_secret parameter") && text.contains("AEP_CLIENT_SECRET"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"));
}

#[tokio::test]
async fn gets_are_retried_through_5xx() {
    let (emulator, client) = start(Options::default()).await;
    let created = client
        .create(flowform::flow::CONNECTIONS, "prod", &body("a"))
        .await
        .unwrap();
    script(&emulator, "GET", "server-error").await;
    script(&emulator, "GET", "unavailable").await;
    let live = client
        .get(flowform::flow::CONNECTIONS, "prod", &created.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.name, "a");
    assert_eq!(served(&emulator, "GET", "/connections/{id}").await, 3);
    assert_eq!(
        client
            .get(
                flowform::flow::CONNECTIONS,
                "prod",
                "00000000-0000-4000-8000-000000000000"
            )
            .await
            .unwrap(),
        None,
        "404 is absent"
    );
}

#[tokio::test]
async fn a_429_storm_converges_and_honours_retry_after() {
    let (emulator, client) = start(Options {
        faults: FaultSettings {
            rate_limit: 0.5,
            retry_after_s: 0,
            ..FaultSettings::default()
        },
        ..Options::default()
    })
    .await;
    let client = std::sync::Arc::new(client);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create(flowform::flow::CONNECTIONS, "prod", &body(&format!("c{i}")))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stored = admin(&emulator, Method::GET, "/connections", None).await;
    assert_eq!(
        stored.as_array().unwrap().len(),
        24,
        "a 429 was not processed: retrying made no duplicate"
    );
    assert_eq!(
        served(&emulator, "POST", "/connections").await,
        24 + {
            let stats = admin(&emulator, Method::GET, "/stats", None).await;
            stats["requests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == 429)
                .map(|r| r["count"].as_u64().unwrap())
                .sum::<u64>()
        }
    );
    // Retry-After is honoured: one 429 saying 1 s makes the client wait at least that.
    admin(&emulator, Method::PUT, "/faults", Some(json!({"retryAfterS": 1}))).await;
    script(&emulator, "GET", "rate-limit").await;
    let started = Instant::now();
    client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_post_with_an_unknown_outcome_is_reported_and_never_resent() {
    for fault in ["commit-then-fail", "commit-then-drop", "unavailable"] {
        let (emulator, client) = start(Options::default()).await;
        script(&emulator, "POST", fault).await;
        let err = client
            .create(flowform::flow::CONNECTIONS, "prod", &body("once"))
            .await
            .unwrap_err();
        assert!(matches!(err, FlowError::OutcomeUnknown { .. }), "{fault}: {err}");
        assert_eq!(
            served(&emulator, "POST", "/connections").await,
            1,
            "{fault}: exactly one POST"
        );
        let created = if fault == "unavailable" { 0 } else { 1 };
        assert_eq!(
            admin(&emulator, Method::GET, "/connections", None)
                .await
                .as_array()
                .unwrap()
                .len(),
            created,
            "{fault}"
        );
    }
}

#[tokio::test]
async fn a_post_that_could_not_connect_is_not_an_unknown_outcome() {
    let emulator = Emulator::start(Options::default()).await.unwrap();
    let mut s = settings(&emulator);
    // Nothing listens on the port of an emulator that has shut down; IMS stays reachable.
    let gone = Emulator::start(Options::default()).await.unwrap();
    s.endpoint = reqwest::Url::parse(&gone.flow_url()).unwrap();
    gone.shutdown().await.unwrap();
    let err = Client::new(s)
        .unwrap()
        .create(flowform::flow::CONNECTIONS, "prod", &body("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, FlowError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn api_errors_carry_code_and_request_id() {
    let (_emulator, client) = start(Options::default()).await;
    let mut bad = body("x");
    bad["auth"]["specName"] = json!("Basic Auth");
    let err = client
        .create(flowform::flow::CONNECTIONS, "prod", &bad)
        .await
        .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.code.as_deref(), Some("FLOW-1415-400"));
    let text = err.to_string();
    assert!(text.starts_with("POST /connections in sandbox prod: 400 Bad Request (FLOW-1415-400 Bad request): The auth spec 'Basic Auth'"), "{text}");
    assert!(text.contains("[request id "), "{text}");
}

#[tokio::test]
async fn patch_sends_the_etag_verbatim_and_resolves_a_412_after_a_lost_answer() {
    let (emulator, client) = start(Options::default()).await;
    let created = client
        .create(flowform::flow::CONNECTIONS, "prod", &body("before"))
        .await
        .unwrap();
    let etag = created.etag.unwrap();
    let rename = |name: &str| {
        vec![PatchOp {
            op: flowform::flow::model::PatchKind::Replace,
            path: "/name".into(),
            value: Some(json!(name)),
        }]
    };
    let updated = client
        .update(
            flowform::flow::CONNECTIONS,
            "prod",
            &created.id,
            &etag,
            &rename("after"),
        )
        .await
        .unwrap();
    assert!(!updated.confirmed_by_reading);
    let etag2 = updated.etag.unwrap();
    // The answer to the next PATCH is lost after it applied: the retry meets 412, and a
    // re-read shows the change, so it is taken as done.
    script(&emulator, "PATCH", "commit-then-drop").await;
    let updated = client
        .update(
            flowform::flow::CONNECTIONS,
            "prod",
            &created.id,
            &etag2,
            &rename("again"),
        )
        .await
        .unwrap();
    assert!(updated.confirmed_by_reading);
    assert_eq!(
        client
            .get(flowform::flow::CONNECTIONS, "prod", &created.id)
            .await
            .unwrap()
            .unwrap()
            .etag,
        updated.etag
    );
    // A real conflict stays a 412.
    let err = client
        .update(
            flowform::flow::CONNECTIONS,
            "prod",
            &created.id,
            &etag,
            &rename("stale"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::PRECONDITION_FAILED));
}

#[tokio::test]
async fn delete_retries_and_treats_404_as_gone() {
    let (emulator, client) = start(Options::default()).await;
    let created = client
        .create(flowform::flow::CONNECTIONS, "prod", &body("d"))
        .await
        .unwrap();
    script(&emulator, "DELETE", "unavailable").await;
    assert_eq!(
        client
            .delete(flowform::flow::CONNECTIONS, "prod", &created.id)
            .await
            .unwrap(),
        Deleted::Deleted
    );
    assert_eq!(
        client
            .delete(flowform::flow::CONNECTIONS, "prod", &created.id)
            .await
            .unwrap(),
        Deleted::AlreadyGone
    );
}

#[tokio::test]
async fn specs_are_fetched_once_per_run() {
    let (emulator, client) = start(Options::default()).await;
    for _ in 0..3 {
        let spec = client.connection_spec("prod", SF).await.unwrap().unwrap();
        assert_eq!(spec.auth_spec.len(), 3);
        assert_eq!(spec.auth_spec[0].secret_params(), ["password", "securityToken"]);
    }
    assert!(
        client
            .connection_spec("prod", "00000000-0000-0000-0000-000000000000")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(served(&emulator, "GET", "/connectionSpecs/{id}").await, 2);
    assert!(
        client
            .test_connection(
                "prod",
                &client
                    .create(flowform::flow::CONNECTIONS, "prod", &body("t"))
                    .await
                    .unwrap()
                    .id
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_in_flight_limit_backs_off_under_429s() {
    let (emulator, client) = start(Options::default()).await;
    admin(&emulator, Method::PUT, "/faults", Some(json!({"retryAfterS": 0}))).await;
    assert_eq!(client.in_flight_limit(), 8);
    for _ in 0..3 {
        script(&emulator, "GET", "rate-limit").await;
    }
    client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap();
    assert!(
        client.in_flight_limit() < 8,
        "halved, then growing back: {}",
        client.in_flight_limit()
    );
}
