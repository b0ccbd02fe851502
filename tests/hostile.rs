//! Hostile networks and servers (issue 11): the real binary against a server that redirects,
//! floods, loops, stalls and lies, beside a second server standing for "another host" that
//! must never hear from flowform. Each test asserts the exit code, the words of the error, that
//! no secret reaches any output (at `-vvv`), that the other host accepted no connection, and
//! that no foreign id reached the state.
//!
//! The server is raw HTTP/1.1 over a tokio listener, so that a test controls every byte: the
//! `Location` header, a `Content-Length` that lies, a body that never ends, an answer that
//! never comes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{Run, flowform, root};

const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
const CLIENT_ID: &str = "hostile-client";
const CLIENT_SECRET: &str = "client-secret-7f3a9c1e";
const ORG: &str = "HOSTILE0000@AdobeOrg";
/// The token the hostile server hands out: it must not appear in any output either.
const TOKEN: &str = "access-token-b81d44e0";
/// The path of the Flow Service under the server.
const FLOW: &str = "/data/foundation/flowservice";

/// A request as the server read it.
#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// With the query string.
    target: String,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path() == path
    }

    /// `GET /connections?limit=…`: a list page (the count has `count=true` instead).
    fn is_page(&self) -> bool {
        self.is("GET", &format!("{FLOW}/connections")) && self.target.contains("limit=")
    }

    /// `POST /connections`.
    fn is_create(&self) -> bool {
        self.is("POST", &format!("{FLOW}/connections"))
    }
}

/// What the server does with a request.
enum Reply {
    Json(u16, Value),
    /// A JSON answer with extra header lines (`name: value`).
    Headed(u16, Vec<String>, Value),
    /// A redirect with this `Location`, and a body saying where.
    Redirect(u16, String),
    /// `size` bytes of `fill` after `{"items":[`, sent as fast as the client reads; with a
    /// `Content-Length` when `declared`, else chunked.
    Flood {
        size: u64,
        fill: u8,
        declared: bool,
    },
    /// Read the request; never answer (hold the connection until the client lets go).
    Stall,
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A raw HTTP/1.1 server on `127.0.0.1:0`.
#[derive(Clone)]
struct Server {
    url: String,
    accepted: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Bytes of answer body written, all connections together.
    written: Arc<AtomicU64>,
}

impl Server {
    async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server {
            url: format!("http://{}", listener.local_addr().unwrap()),
            accepted: Arc::default(),
            requests: Arc::default(),
            written: Arc::default(),
        };
        let handler: Handler = Arc::new(handler);
        let shared = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let (shared, handler) = (shared.clone(), handler.clone());
                tokio::spawn(async move { shared.connection(stream, handler).await });
            }
        });
        server
    }

    /// "Another host": it would answer like AEP and IMS (a token, a created id), which is
    /// what makes following a redirect to it dangerous. Tests assert it accepted nothing.
    async fn other_host() -> Server {
        Server::start(|request: &Request| {
            if request.path().ends_with("/ims/token/v3") {
                Reply::Json(200, json!({"access_token": "foreign-token", "expires_in": 86399}))
            } else if request.method == "POST" {
                Reply::Json(201, json!({"id": "foreign-id-0001", "etag": "\"f\""}))
            } else {
                Reply::Json(200, json!({"items": [], "count": 0}))
            }
        })
        .await
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    fn served(&self, method: &str, path: &str) -> usize {
        let requests = self.requests.lock().unwrap();
        requests.iter().filter(|r| r.is(method, path)).count()
    }

    async fn connection(&self, mut stream: TcpStream, handler: Handler) {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        self.requests.lock().unwrap().push(request.clone());
        let reply = handler(&request);
        let _ = self.answer(&mut stream, reply).await;
    }

    async fn answer(&self, stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
        let (status, extra, body) = match reply {
            Reply::Json(status, value) => (status, String::new(), value.to_string()),
            Reply::Headed(status, headers, value) => (
                status,
                headers.iter().map(|h| format!("{h}\r\n")).collect(),
                value.to_string(),
            ),
            Reply::Redirect(status, location) => (
                status,
                format!("location: {location}\r\n"),
                json!({"moved": location}).to_string(),
            ),
            Reply::Flood { size, fill, declared } => {
                const PREFIX: &[u8] = br#"{"items":["#;
                let length = if declared {
                    format!("content-length: {}\r\n", size + PREFIX.len() as u64)
                } else {
                    "transfer-encoding: chunked\r\n".to_owned()
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{length}connection: close\r\n\r\n"
                );
                stream.write_all(head.as_bytes()).await?;
                let chunk = vec![fill; 64 << 10];
                let mut sent = 0u64;
                let piece = |bytes: &[u8]| {
                    if declared {
                        bytes.to_vec()
                    } else {
                        let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
                        framed.extend_from_slice(bytes);
                        framed.extend_from_slice(b"\r\n");
                        framed
                    }
                };
                stream.write_all(&piece(PREFIX)).await?;
                while sent < size {
                    let n = chunk.len().min((size - sent) as usize);
                    stream.write_all(&piece(&chunk[..n])).await?;
                    sent += n as u64;
                    self.written.fetch_add(n as u64, Ordering::SeqCst);
                }
                return Ok(());
            }
            Reply::Stall => {
                // Hold the connection open, answering nothing, until the client goes.
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                return Ok(());
            }
        };
        let reason = match status {
            200 => "OK",
            201 => "Created",
            301 => "Moved Permanently",
            303 => "See Other",
            307 => "Temporary Redirect",
            308 => "Permanent Redirect",
            429 => "Too Many Requests",
            _ => "Whatever",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        self.written.fetch_add(body.len() as u64, Ordering::SeqCst);
        stream.shutdown().await
    }
}

/// Reads one request (head and `Content-Length` body); `None` if the client went away.
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buffer.len() > 1 << 20 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // The body is read (so that the client sees its request taken) and dropped.
    let mut body = buffer.len() - head_end;
    while body < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body += n;
    }
    Some(Request { method, target })
}

/// An AEP and IMS that behave, but for what `twist` answers instead.
fn aep(
    twist: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static,
) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |request: &Request| {
        if let Some(reply) = twist(request) {
            return reply;
        }
        let spec_path = format!("{FLOW}/connectionSpecs/{SF}");
        let connections = format!("{FLOW}/connections");
        if request.is("POST", "/ims/token/v3") {
            Reply::Json(
                200,
                json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": 86399}),
            )
        } else if request.is("GET", &spec_path) {
            Reply::Json(200, json!({"items": [salesforce_spec()]}))
        } else if request.is("GET", &connections) && request.target.contains("count=true") {
            Reply::Json(200, json!({"count": 0}))
        } else if request.is("GET", &connections) {
            Reply::Json(200, json!({"items": []}))
        } else {
            Reply::Json(404, json!({"title": "Not found", "status": 404}))
        }
    }
}

/// Salesforce's connection spec with its basic auth spec, as AEP documents it
/// (flow-service-notes §11).
fn salesforce_spec() -> Value {
    json!({
        "id": SF, "name": "salesforce", "version": "1.0",
        "authSpec": [{"name": "Basic Authentication", "type": "Basic_Authentication", "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
            "properties": {
                "environmentUrl": {"type": "string"}, "username": {"type": "string"},
                "password": {"type": "string", "format": "password"},
                "securityToken": {"type": "string", "format": "password"}},
            "required": ["username", "password", "securityToken"]}}]
    })
}

/// The commands these tests drive.
#[derive(Clone, Copy, Debug)]
enum Command {
    /// `validate --live`: IMS, then `GET /connectionSpecs/{id}`.
    ValidateLive,
    /// `plan`: IMS, the spec, then the names to create, looked up by filter.
    Plan,
    /// `drift`: IMS, the spec, then count and list.
    Drift,
    /// `apply --auto-approve`: as `plan`, then `POST /connections`.
    Apply,
}

/// A configuration (the Salesforce example and its secret files) in a temporary directory.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        crate::world::copy_dir(&root().join("examples/secrets"), &config.join("secrets"));
        std::fs::copy(
            root().join("examples/salesforce-basic.yaml"),
            config.join("salesforce-basic.yaml"),
        )
        .unwrap();
        // A project, and its empty state.
        flowform(["init", "-c", "config", "--state", "state.json"])
            .current_dir(dir.path())
            .run()
            .expect_code(0);
        Workspace { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// The values the configuration resolves from its secret files.
    fn resolved_secrets(&self) -> Vec<String> {
        ["acme-password", "acme-security-token"]
            .iter()
            .map(|f| {
                std::fs::read_to_string(self.config().join("secrets").join(f))
                    .unwrap()
                    .trim()
                    .to_owned()
            })
            .collect()
    }

    /// Runs `command` against `aep` (Flow Service and IMS on the same server) at `-vvv`, with
    /// `extra` flags. The one place that builds the command line.
    async fn run(&self, command: Command, aep: &Server, extra: &[&str]) -> Outcome {
        let mut args: Vec<String> = match command {
            Command::ValidateLive => vec!["validate".into(), "--live".into()],
            Command::Plan => vec!["plan".into()],
            Command::Drift => vec!["drift".into()],
            Command::Apply => vec!["apply".into(), "--auto-approve".into()],
        };
        args.extend([
            "-vvv".to_owned(),
            "-c".to_owned(),
            self.config().display().to_string(),
        ]);
        if !matches!(command, Command::ValidateLive) {
            args.extend(["--state".to_owned(), self.state().display().to_string()]);
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let env = [
            ("FLOWFORM_ENDPOINT", format!("{}{FLOW}", aep.url)),
            ("AEP_IMS_URL", aep.url.clone()),
            ("AEP_CLIENT_ID", CLIENT_ID.to_owned()),
            ("AEP_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("AEP_ORG_ID", ORG.to_owned()),
        ];
        let cwd = self.dir.path().to_owned();
        let started = Instant::now();
        let run = tokio::task::spawn_blocking(move || {
            let mut invocation = flowform(&args).current_dir(&cwd);
            for (k, v) in &env {
                invocation = invocation.env(k, v);
            }
            invocation.run()
        })
        .await
        .unwrap();
        Outcome {
            elapsed: started.elapsed(),
            secrets: self.resolved_secrets(),
            state: std::fs::read_to_string(self.state()).ok(),
            run,
        }
    }
}

struct Outcome {
    run: Run,
    elapsed: Duration,
    secrets: Vec<String>,
    /// The state file after the run, if there is one.
    state: Option<String>,
}

impl Outcome {
    /// Exit 1, an error with every one of `words`, no secret in any output, and no foreign
    /// id in the state.
    fn refused(self, words: &[&str]) -> Outcome {
        let stderr = self.run.stderr();
        assert_eq!(
            self.run.code(),
            Some(1),
            "exit code\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.run.stdout()
        );
        for word in words {
            assert!(stderr.contains(word), "`{word}` in\n{stderr}");
        }
        self.no_secret_shown()
    }

    fn no_secret_shown(self) -> Outcome {
        let all = format!("{}\n{}", self.run.stdout(), self.run.stderr());
        for secret in [CLIENT_SECRET, TOKEN]
            .iter()
            .copied()
            .chain(self.secrets.iter().map(String::as_str))
        {
            assert!(!all.contains(secret), "a secret reached the output:\n{all}");
        }
        if let Some(state) = &self.state {
            assert!(
                !state.contains("foreign"),
                "a foreign id reached the state:\n{state}"
            );
        }
        self
    }
}

#[tokio::test]
async fn a_redirect_from_ims_is_refused_and_the_secret_stays_home() {
    let other = Server::other_host().await;
    let location = format!("{}/ims/token/v3", other.url);
    let server = Server::start(aep(move |r| {
        r.is("POST", "/ims/token/v3")
            .then(|| Reply::Redirect(307, location.clone()))
    }))
    .await;
    let workspace = Workspace::new();
    let port = other.url.rsplit(':').next().unwrap().to_owned();
    workspace
        .run(Command::ValidateLive, &server, &[])
        .await
        .refused(&[
            "POST /ims/token/v3",
            "IMS answered 307 Temporary Redirect",
            &format!("towards 127.0.0.1:{port}"),
            "never follows redirects",
        ]);
    assert_eq!(other.accepted(), 0, "the other host heard nothing");
    assert_eq!(server.served("POST", "/ims/token/v3"), 1, "asked once, not again");
}

#[tokio::test]
async fn a_redirected_create_is_a_failure_and_its_passwords_go_nowhere() {
    let other = Server::other_host().await;
    let location = format!("{}{FLOW}/connections", other.url);
    let server = Server::start(aep(move |r| {
        r.is_create().then(|| Reply::Redirect(307, location.clone()))
    }))
    .await;
    let workspace = Workspace::new();
    let outcome = workspace.run(Command::Apply, &server, &[]).await.refused(&[
        "POST /connections",
        "AEP answered 307 Temporary Redirect towards 127.0.0.1:",
        "never follows redirects",
    ]);
    assert_eq!(other.accepted(), 0, "the other host heard nothing");
    assert_eq!(
        server.served("POST", &format!("{FLOW}/connections")),
        1,
        "a 307 means AEP did not create it, and nothing is re-sent"
    );
    assert!(
        !outcome.run.stderr().contains("outcome is unknown"),
        "a 307 is a definite failure"
    );
}

#[tokio::test]
async fn a_create_answered_see_other_is_an_unknown_outcome_resolved_by_listing_here() {
    let other = Server::other_host().await;
    let location = format!("{}{FLOW}/connections/foreign-id-0001", other.url);
    let server = Server::start(aep(move |r| {
        r.is_create().then(|| Reply::Redirect(303, location.clone()))
    }))
    .await;
    let workspace = Workspace::new();
    workspace.run(Command::Apply, &server, &[]).await.refused(&[
        "303 See Other",
        "outcome is unknown",
        "listing",
    ]);
    assert_eq!(other.accepted(), 0, "the other host heard nothing");
}

#[tokio::test]
async fn a_redirected_list_page_is_not_followed() {
    let other = Server::other_host().await;
    let location = format!("{}{FLOW}/connections?limit=100", other.url);
    let server = Server::start(aep(move |r| {
        r.is_page().then(|| Reply::Redirect(301, location.clone()))
    }))
    .await;
    let workspace = Workspace::new();
    workspace.run(Command::Plan, &server, &[]).await.refused(&[
        "GET /connections",
        "AEP answered 301 Moved Permanently towards 127.0.0.1:",
        "never follows redirects",
    ]);
    assert_eq!(other.accepted(), 0, "the other host heard nothing");
}

#[tokio::test]
async fn a_huge_list_page_is_cut_at_the_cap() {
    for (fill, declared) in [(b'x', true), (b' ', false)] {
        let server = Server::start(aep(move |r| {
            r.is_page().then_some(Reply::Flood {
                size: 200 << 20,
                fill,
                declared,
            })
        }))
        .await;
        let workspace = Workspace::new();
        workspace
            .run(Command::Plan, &server, &[])
            .await
            .refused(&["GET /connections", "larger than the 4 MiB flowform reads"]);
        // The client stopped reading at the cap: what the server got out is the cap and what
        // the sockets' buffers hold, nowhere near 200 MiB.
        let written = server.written.load(Ordering::SeqCst);
        assert!(written < 64 << 20, "{} MiB written", written >> 20);
        assert_eq!(
            server.served("GET", &format!("{FLOW}/connections")),
            1,
            "one page (the names to create, looked up by filter: no count, no listing): a page too large is not retried"
        );
    }
}

/// A server whose every page of `GET /connections` (but the count, `count=3`) links to
/// another; `pages` counts the pages served.
fn endless(pages: Arc<AtomicU64>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    aep(move |r| {
        if !r.is("GET", &format!("{FLOW}/connections")) {
            return None;
        }
        if r.target.contains("count=true") {
            return Some(Reply::Json(200, json!({"count": 3})));
        }
        let n = pages.fetch_add(1, Ordering::SeqCst);
        Some(Reply::Json(
            200,
            json!({"items": [], "_links": {"next": {"href": format!("/connections?continuationToken=t{n}")}}}),
        ))
    })
}

#[tokio::test]
async fn an_endless_listing_stops_at_the_page_ceiling_the_count_allows() {
    let pages = Arc::new(AtomicU64::new(0));
    let server = Server::start(endless(pages.clone())).await;
    let workspace = Workspace::new();
    // `drift` lists in full (it must see unmanaged connections), counting first.
    workspace.run(Command::Drift, &server, &[]).await.refused(&[
        "GET /connections",
        "AEP's listing goes on past 4 pages",
        "AEP counted 3 just before",
    ]);
    assert_eq!(pages.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn an_endless_name_lookup_stops_at_the_page_ceiling_its_batch_allows() {
    let pages = Arc::new(AtomicU64::new(0));
    let server = Server::start(endless(pages.clone())).await;
    let workspace = Workspace::new();
    // The plan looks up the one name it would create, by filter: one name answers in one
    // page; with room for a name given to many connections, flowform follows four at most,
    // not the ten thousand of a listing it could not count.
    workspace.run(Command::Plan, &server, &[]).await.refused(&[
        "GET /connections",
        "AEP's listing goes on past 4 pages",
        "the filter names 1",
    ]);
    assert_eq!(pages.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn an_absurd_token_lifetime_is_clamped_not_a_panic() {
    for expires_in in [
        json!(18446744073709551615u64),
        json!(-1),
        json!(1e300),
        json!("never"),
    ] {
        let server = Server::start(aep(move |r| {
            r.is("POST", "/ims/token/v3").then(|| {
                Reply::Json(
                    200,
                    json!({"access_token": TOKEN, "token_type": "bearer", "expires_in": expires_in}),
                )
            })
        }))
        .await;
        let workspace = Workspace::new();
        let outcome = workspace
            .run(Command::ValidateLive, &server, &[])
            .await
            .no_secret_shown();
        let stderr = outcome.run.stderr();
        assert_eq!(outcome.run.code(), Some(0), "{stderr}");
        assert!(
            ["valid for 86400 s", "valid for 60 s", "valid for 3600 s"]
                .iter()
                .any(|w| stderr.contains(w)),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_silent_list_ends_at_the_deadline() {
    let server = Server::start(aep(|r| r.is_page().then_some(Reply::Stall))).await;
    let workspace = Workspace::new();
    let outcome = workspace
        .run(Command::Plan, &server, &["--timeout", "3s"])
        .await
        .refused(&[
            "GET /connections",
            "the command's deadline (--timeout 3s) passed while waiting for AEP's answer",
        ]);
    assert!(outcome.elapsed < Duration::from_secs(20), "{:?}", outcome.elapsed);
}

#[tokio::test]
async fn a_silent_ims_ends_at_the_deadline() {
    let server = Server::start(aep(|r| r.is("POST", "/ims/token/v3").then_some(Reply::Stall))).await;
    let workspace = Workspace::new();
    let outcome = workspace
        .run(Command::ValidateLive, &server, &["--timeout", "3s"])
        .await
        .refused(&[
            "POST /ims/token/v3",
            "the command's deadline (--timeout 3s) passed while waiting for IMS to answer",
        ]);
    assert!(outcome.elapsed < Duration::from_secs(20), "{:?}", outcome.elapsed);
    assert_eq!(server.served("POST", "/ims/token/v3"), 1);
}

#[tokio::test]
async fn a_create_cut_off_by_the_deadline_has_an_unknown_outcome() {
    let server = Server::start(aep(|r| r.is_create().then_some(Reply::Stall))).await;
    let workspace = Workspace::new();
    let outcome = workspace
        .run(Command::Apply, &server, &["--timeout", "3s"])
        .await
        .refused(&[
            "outcome is unknown",
            "the command's deadline (--timeout 3s) passed while waiting for AEP's answer",
        ]);
    assert!(outcome.elapsed < Duration::from_secs(20), "{:?}", outcome.elapsed);
    assert_eq!(
        server.served("POST", &format!("{FLOW}/connections")),
        1,
        "never re-sent"
    );
    // Nobody knows whether AEP made it: the state keeps the create pending, so the next plan
    // looks for it by name before anything is created again.
    let state = flowform::state::file::read(&workspace.state())
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(
        state
            .pending
            .iter()
            .map(|p| p.address.as_str())
            .collect::<Vec<_>>(),
        ["prod/acme-salesforce"],
        "{state:?}"
    );
    assert!(state.resources.is_empty());
}

/// A client of `server` (Flow Service and IMS) with the IMS credential, each request bounded
/// by `timeout` and the command by ten minutes: far enough that no deadline cuts a test short.
fn ims_client(server: &Server, timeout: Duration) -> flowform::flow::Client {
    use flowform::flow::settings::{Credentials, RetryPolicy, Settings};
    let settings = Settings {
        endpoint: reqwest::Url::parse(&format!("{}{FLOW}", server.url)).unwrap(),
        org_id: ORG.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        credentials: Credentials::Ims {
            url: reqwest::Url::parse(&server.url).unwrap(),
            client_secret: flowform::secret::Secret::new(CLIENT_SECRET),
            scopes: "openid".to_owned(),
        },
        parallelism: 2,
        requests_per_second: None,
        retry: RetryPolicy::default(),
        timeout,
        command_timeout: Duration::from_secs(600),
        max_url_length: flowform::flow::limits::DEFAULT_MAX_URL_LENGTH,
    };
    flowform::flow::Client::new(settings).unwrap()
}

/// Without a deadline near, a silent IMS costs one request timeout, not one per attempt.
#[tokio::test]
async fn a_silent_ims_is_not_asked_again() {
    let server = Server::start(aep(|r| r.is("POST", "/ims/token/v3").then_some(Reply::Stall))).await;
    let client = ims_client(&server, Duration::from_secs(1));
    let started = Instant::now();
    let err = client
        .list_all(flowform::flow::CONNECTIONS, "prod", &[])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "IMS sent no complete answer within 1s (attempt 1 of 3); a silent IMS is not asked again"
        ),
        "{text}"
    );
    assert!(!text.contains(CLIENT_SECRET));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.served("POST", "/ims/token/v3"), 1);
}

/// Requests that need a token at once (as `plan` checks the specs while it refreshes) share
/// one attempt at IMS, and its failure: a silent IMS costs one timeout in all, not one for
/// each of them in turn, and what they are told is what happened. A request that comes
/// after the failure asks again, and says so.
#[tokio::test]
async fn requests_waiting_at_once_for_a_silent_ims_share_one_attempt() {
    let server = Server::start(aep(|r| r.is("POST", "/ims/token/v3").then_some(Reply::Stall))).await;
    let timeout = Duration::from_secs(3);
    let client = ims_client(&server, timeout);
    let host = server.url.trim_start_matches("http://");
    let connections = flowform::flow::CONNECTIONS;
    let started = Instant::now();
    let (spec, listed, counted, other) = tokio::join!(
        client.connection_spec("prod", SF),
        client.list_all(connections, "prod", &[]),
        client.count(connections, "prod", &[]),
        client.list_all(connections, "dev", &[]),
    );
    let elapsed = started.elapsed();
    assert_eq!(
        server.served("POST", "/ims/token/v3"),
        1,
        "asked once for all four"
    );
    // One timeout each, in turn, would be four (12 s): a bound with room for a slow machine.
    assert!(elapsed < timeout * 3, "{elapsed:?}");
    let texts = [
        spec.map(|_| ()).unwrap_err().to_string(),
        listed.map(|_| ()).unwrap_err().to_string(),
        counted.map(|_| ()).unwrap_err().to_string(),
        other.map(|_| ()).unwrap_err().to_string(),
    ];
    for text in &texts {
        assert_eq!(text, &texts[0], "one failure, shared");
    }
    for words in [
        "IMS sent no complete answer within 3s (attempt 1 of 3); a silent IMS is not asked again",
        &format!("IMS at {host} was asked once in "),
        "the requests waiting for this token share this failure",
    ] {
        assert!(texts[0].contains(words), "`{words}` in {}", texts[0]);
    }
    assert!(!texts[0].contains(CLIENT_SECRET));
    assert_eq!(server.served("GET", &format!("{FLOW}/connections")), 0);
    // Later, a request of its own: IMS is asked again, and the message counts the run's.
    let text = client
        .list_all(connections, "prod", &[])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(server.served("POST", "/ims/token/v3"), 2);
    assert!(
        text.contains(&format!("IMS at {host} was asked once in "))
            && text.contains(" s (2 times in this run)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_server_that_echoes_a_secret_does_not_get_it_shown() {
    // IMS repeats the client secret it was sent; AEP repeats the bearer token in a detail
    // long enough to be cut short, but not before the token.
    let padding = "x".repeat(400);
    let server = Server::start(aep(move |r| {
        r.is_page().then(|| {
            Reply::Json(
                400,
                json!({"title": "Bad request", "detail": format!("{padding}{TOKEN} is not welcome")}),
            )
        })
    }))
    .await;
    let workspace = Workspace::new();
    workspace.run(Command::Plan, &server, &[]).await.refused(&[
        "GET /connections",
        "400 Bad Request",
        "xxxxx",
    ]);
    let ims = Server::start(aep(|r| {
        r.is("POST", "/ims/token/v3").then(|| {
            Reply::Json(
                401,
                json!({"error": "invalid_client", "error_description": format!("bad secret {CLIENT_SECRET}")}),
            )
        })
    }))
    .await;
    workspace
        .run(Command::ValidateLive, &ims, &[])
        .await
        .refused(&["IMS refused the credential", "bad secret (redacted)"]);
}

#[tokio::test]
async fn a_huge_token_answer_is_cut_at_its_cap() {
    let server = Server::start(aep(|r| {
        r.is("POST", "/ims/token/v3").then_some(Reply::Flood {
            size: 50 << 20,
            fill: b' ',
            declared: false,
        })
    }))
    .await;
    Workspace::new()
        .run(Command::ValidateLive, &server, &[])
        .await
        .refused(&[
            "POST /ims/token/v3",
            "IMS's answer is larger than the 64 KiB flowform reads for a token",
        ]);
    assert!(server.written.load(Ordering::SeqCst) < 32 << 20);
}

#[tokio::test]
async fn an_absurd_retry_after_is_bounded_and_never_outlasts_the_deadline() {
    for retry_after in ["18446744073709551615", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        let server = Server::start(aep(move |r| {
            r.is_page().then(|| {
                Reply::Headed(
                    429,
                    vec![format!("retry-after: {retry_after}")],
                    json!({"error_code": "429050", "message": "Too many requests"}),
                )
            })
        }))
        .await;
        let outcome = Workspace::new()
            .run(Command::Plan, &server, &["--timeout", "5s"])
            .await
            .refused(&[
                "GET /connections",
                "the command's deadline (--timeout 5s) would pass during the 60.0 s wait before a retry (AEP answered 429 Too Many Requests)",
            ]);
        assert!(outcome.elapsed < Duration::from_secs(20), "{:?}", outcome.elapsed);
    }
}

/// A create answered with an id the state already holds under another key is not recorded
/// a second time: the state keeps one id per record (a confused or hostile server).
#[tokio::test]
async fn a_create_answered_with_an_id_the_state_holds_is_refused_not_recorded_twice() {
    const HELD: &str = "0d6a3c1e-5f2b-4e8a-9c7d-1b2a3c4d5e6f";
    let server = Server::start(aep(|r| {
        r.is_create()
            .then(|| Reply::Json(201, json!({"id": HELD, "etag": "\"1\""})))
    }))
    .await;
    let workspace = Workspace::new();
    let (mut state, _) = flowform::state::file::read(&workspace.state()).unwrap().unwrap();
    let kind = flowform::kind::default();
    let record = flowform::state::Record::new(kind, "held", "prod", HELD, "Held elsewhere");
    state.resources.insert("prod/held".to_owned(), record);
    flowform::state::file::write(&workspace.state(), &flowform::state::file::to_bytes(&state)).unwrap();

    let outcome = workspace
        .run(Command::Apply, &server, &["--target", "acme-salesforce"])
        .await
        .refused(&[
            "error: prod/acme-salesforce: AEP answered the create with the id",
            "which the state already holds as `prod/held`; it is not recorded a second time",
        ]);
    let (state, _) = flowform::state::file::read(&workspace.state()).unwrap().unwrap();
    let holders: Vec<&String> = state
        .resources
        .iter()
        .filter(|(_, r)| r.id == HELD)
        .map(|(a, _)| a)
        .collect();
    assert_eq!(holders, ["prod/held"], "{:?}", outcome.state);
    assert!(!state.resources.contains_key("prod/acme-salesforce"));
}
