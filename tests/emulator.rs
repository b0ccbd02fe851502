//! `flowform emulator` as a person runs it: prints its URL, serves, saves on SIGTERM. (The
//! emulator's own behaviour is tested in its crate, `crates/flowform-emulator/tests/`.)

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_ORG};

#[tokio::test]
async fn the_command_prints_its_url_serves_and_saves_on_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("emulator.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowform"))
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--seed",
            "3",
            "--page-style",
            "token",
        ])
        .arg("--data")
        .arg(&data)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
        "{base}"
    );

    let http = crate::common::http();
    let seeded = http
        .post(format!("{base}/__emulator/seed"))
        .json(&serde_json::json!({"count": 2}))
        .send()
        .await
        .unwrap();
    assert!(seeded.status().is_success());
    let stats = http.get(format!("{base}/__emulator/stats")).send().await.unwrap();
    assert!(stats.status().is_success());
    // `--page-style token`: a page names the next by a top-level token, not a link.
    let token: serde_json::Value = http
        .post(format!("{base}/ims/token/v3"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={DEMO_CLIENT_ID}&client_secret={DEMO_CLIENT_SECRET}&scope=openid"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: serde_json::Value = http
        .get(format!("{base}/data/foundation/flowservice/connections?limit=1"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("x-api-key", DEMO_CLIENT_ID)
        .header("x-gw-ims-org-id", DEMO_ORG)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page["continuationToken"].is_string(), "{page}");
    assert!(page.get("_links").is_none(), "{page}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("POST /__emulator/seed 200"),
        "one line per request: {stderr}"
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    assert_eq!(saved["connections"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_flags_are_refused() {
    for (flag, value, says) in [
        ("--rate-limit", "1.5", "not a share between 0 and 1"),
        (
            "--page-style",
            "sideways",
            "[possible values: links, token, both]",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_flowform"))
            .args(["emulator", flag, value])
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// The README's fault settings body is what the emulator takes: every field it shows is read
/// back as given.
#[tokio::test]
async fn the_readmes_fault_settings_are_accepted_as_written() {
    let readme = std::fs::read_to_string(crate::common::root().join("README.md")).unwrap();
    let start = readme
        .find("__emulator/faults -H 'content-type: application/json' -d '")
        .expect("the README shows a PUT of the fault settings");
    let body_start = readme[start..].find("-d '").unwrap() + start + 4;
    let body_len = readme[body_start..].find('\'').unwrap();
    let body: serde_json::Value = serde_json::from_str(&readme[body_start..body_start + body_len]).unwrap();
    let emulator = flowform_emulator::Emulator::start(flowform_emulator::Options::default())
        .await
        .unwrap();
    let http = crate::common::http();
    let url = format!("{}/__emulator/faults", emulator.base_url());
    let put = http.put(&url).json(&body).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let now: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&now[field], value, "{field}");
    }
    // A misspelt field is refused, not ignored.
    let put = http
        .put(&url)
        .json(&serde_json::json!({"latency": 50}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_client_error());
}
