//! `flowform validate` on a corpus of bad inputs under `tests/bad/`: each must exit 1, print
//! nothing on stdout, and name the place and the problem on stderr.

use std::collections::BTreeSet;

use crate::common::{flowform, root};

/// (input under tests/bad, [(file:line:col, what the message says)])
const CASES: &[(&str, &[(&str, &str)])] = &[
    ("malformed.yaml", &[("malformed.yaml:5:11", "invalid YAML")]),
    (
        "wrong-types.yaml",
        &[
            (
                "wrong-types.yaml:5:7",
                "connection `acme`, `name`: expected a string, found a list",
            ),
            (
                "wrong-types.yaml:9:15",
                "`auth.params`: expected a mapping of param names to values, found a list",
            ),
        ],
    ),
    (
        "unknown-field.yaml",
        &[(
            "unknown-field.yaml:5:5",
            "unknown field `descripton` in a connection\n",
        )],
    ),
    (
        "duplicate-key.yaml",
        &[
            (
                "duplicate-key.yaml:5:5",
                "duplicate key `name` (first defined at line 4)",
            ),
            (
                "duplicate-key.yaml:9:89",
                "duplicate key `username` (first defined at line 9)",
            ),
        ],
    ),
    (
        "duplicate-across-files",
        &[(
            "duplicate-across-files/b.yaml:9:3",
            "connection key `acme` is declared twice",
        )],
    ),
    (
        "missing-sandbox.yaml",
        &[("missing-sandbox.yaml:2:1", "the document names no `sandbox`")],
    ),
    (
        "unknown-auth-spec.yaml",
        &[(
            "unknown-auth-spec.yaml:7:17",
            "unknown auth spec `OAuth2 Client Credentials` for Salesforce",
        )],
    ),
    (
        "missing-required-params.yaml",
        &[
            (
                "missing-required-params.yaml:8:7",
                "missing required param `clientSecret`",
            ),
            (
                "missing-required-params.yaml:8:7",
                "missing required param `apiVersion`",
            ),
        ],
    ),
    (
        "literal-secret.yaml",
        &[(
            "literal-secret.yaml:10:19",
            "`password` is a secret and cannot be written in the file",
        )],
    ),
    (
        "bad-url.yaml",
        &[("bad-url.yaml:12:22", "must use https://, not http://")],
    ),
    (
        "bad-api-version.yaml",
        &[(
            "bad-api-version.yaml:12:21",
            "expected a string, found a number `60.0`",
        )],
    ),
    (
        "unresolved-references.yaml",
        &[
            (
                "unresolved-references.yaml:10:19",
                "environment variable `FLOWFORM_TEST_UNSET_VARIABLE` is not set",
            ),
            (
                "unresolved-references.yaml:11:24",
                "secrets/does-not-exist` cannot be read",
            ),
        ],
    ),
    ("empty.yaml", &[("empty.yaml\n", "the file declares nothing")]),
    (
        "garbage.yaml",
        &[("garbage.yaml:1:1", "the file is not UTF-8 text")],
    ),
    (
        "tabs.yaml",
        &[("tabs.yaml:3:2", "help: YAML indents with spaces, never tabs")],
    ),
    (
        "moved-and-removed.yaml",
        &[
            (
                "moved-and-removed.yaml:14:5",
                "`acme-sf` is moved to `acme-crm`, but `acme-sf` is still declared, at tests/bad/moved-and-removed.yaml:3:3",
            ),
            (
                "moved-and-removed.yaml:14:5",
                "`acme-sf` is moved to `acme-crm`, which is not declared",
            ),
            (
                "moved-and-removed.yaml:15:5",
                "the moves go round in a circle: a → b → a",
            ),
            (
                "moved-and-removed.yaml:18:28",
                "`destroy: true` is not what `removed` is for",
            ),
        ],
    ),
    (
        "misspelt-spec-id.yaml",
        &[(
            "misspelt-spec-id.yaml:7:11",
            "help: did you mean `cfc0fee1-7dc0-40ef-b73e-d8b134c436f5`?",
        )],
    ),
    (
        "misindented.yaml",
        &[(
            "misindented.yaml:11:8",
            "help: check the indentation: `password` is indented 7 spaces",
        )],
    ),
    (
        "under-indented.yaml",
        &[
            ("under-indented.yaml:9:13", "`auth.params`: expected a mapping"),
            (
                "under-indented.yaml:10:7",
                "if `username` belongs under it, indent it deeper than `params`",
            ),
            (
                "under-indented.yaml:11:7",
                "if `password` belongs under it, indent it deeper than `params`",
            ),
        ],
    ),
];

#[test]
fn every_bad_input_is_refused_with_its_place() {
    for (input, expected) in CASES {
        let path = format!("tests/bad/{input}");
        let run = flowform(["validate", "-c", &path])
            .env("PASSWORD", "p")
            .env("TOKEN", "t")
            .run()
            .expect_code(1);
        let stderr = run.stderr();
        assert_eq!(run.stdout(), "", "{input}: nothing on stdout");
        for (place, message) in *expected {
            assert!(
                stderr.contains(&format!("--> tests/bad/{place}")),
                "{input}: no `{place}` in\n{stderr}"
            );
            assert!(stderr.contains(message), "{input}: no {message:?} in\n{stderr}");
        }
        let count = expected.len();
        let noun = if count == 1 { "error" } else { "errors" };
        assert!(
            stderr.ends_with(&format!("error: the configuration has {count} {noun}\n")),
            "{input}: count line in\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{input}: {stderr}");
    }
}

/// Whole messages, not substrings: what each bad input prints, kept as a snapshot, so a
/// change to any message (its place, its wording, its help) is seen in review.
#[test]
fn every_bad_input_prints_exactly_its_messages() {
    for (input, _) in CASES {
        let path = format!("tests/bad/{input}");
        let run = flowform(["validate", "-c", &path])
            .env("PASSWORD", "p")
            .env("TOKEN", "t")
            .run()
            .expect_code(1);
        let name = format!("bad_{}", input.replace(['/', '.', '-'], "_"));
        insta::assert_snapshot!(name, run.stderr());
    }
}

#[test]
fn the_corpus_is_all_covered() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(root().join("tests/bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let tested: BTreeSet<String> = CASES.iter().map(|(input, _)| (*input).to_owned()).collect();
    assert_eq!(
        on_disk, tested,
        "every file in tests/bad has a case, and every case a file"
    );
}

#[test]
fn all_errors_of_all_files_are_reported_at_once() {
    let run = flowform([
        "validate",
        "-c",
        "tests/bad/literal-secret.yaml",
        "-c",
        "tests/bad/bad-url.yaml",
    ])
    .env("PASSWORD", "p")
    .env("TOKEN", "t")
    .run()
    .expect_code(1);
    let stderr = run.stderr();
    assert!(stderr.find("bad-url.yaml:12:22").unwrap() < stderr.find("literal-secret.yaml:10:19").unwrap());
    assert!(
        stderr.ends_with("error: the configuration has 2 errors\n"),
        "{stderr}"
    );
}

#[test]
fn a_literal_secret_is_never_echoed() {
    let run = flowform(["validate", "-c", "tests/bad/literal-secret.yaml"])
        .env("TOKEN", "t")
        .run();
    assert!(
        !run.stderr().contains("correct-horse-battery-staple"),
        "{}",
        run.stderr()
    );
}

#[test]
fn skip_secrets_checks_references_without_resolving_them() {
    flowform([
        "validate",
        "--skip-secrets",
        "-c",
        "tests/bad/unresolved-references.yaml",
    ])
    .run()
    .expect_code(0);
}

#[test]
fn missing_inputs_are_named() {
    let run = flowform(["validate", "-c", "no/such/dir", "-c", "nor-this.yaml"])
        .run()
        .expect_code(1);
    let stderr = run.stderr();
    assert!(
        stderr.contains("cannot read `no/such/dir`: no such file or directory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot read `nor-this.yaml`: no such file or directory"),
        "{stderr}"
    );
}

#[test]
fn the_default_input_is_flowform_yaml_then_connections() {
    let dir = tempfile::tempdir().unwrap();
    let run = flowform(["validate"])
        .current_dir(dir.path())
        .run()
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("neither `flowform.yaml` nor `connections/` exists here"),
        "{}",
        run.stderr()
    );

    std::fs::create_dir(dir.path().join("connections")).unwrap();
    std::fs::write(
        dir.path().join("connections/a.yml"),
        "sandbox: dev\nconnections:\n  a:\n    name: A\n    source: hubspot\n    auth: {specName: OAuth, params: {clientId: x}}\n",
    )
    .unwrap();
    let run = flowform(["validate"])
        .current_dir(dir.path())
        .run()
        .expect_code(0);
    assert_eq!(run.stdout(), "dev: 1 connection valid (HubSpot 1)\n");

    std::fs::write(
        dir.path().join("flowform.yaml"),
        "sandbox: prod\nconnections: {}\n",
    )
    .unwrap();
    let run = flowform(["validate"])
        .current_dir(dir.path())
        .run()
        .expect_code(0);
    assert_eq!(run.stdout(), "prod: 0 connections, valid\n");
}

#[test]
fn unknown_param_warnings_go_to_stderr_and_pass() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "sandbox: prod\nconnections:\n  a:\n    name: A\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params: {username: u, password: \"${env:P}\", securityToken: \"${env:P}\", region: eu}\n    lifecycle: {acknowledge: [salesforce-basic-retirement]}\n",
    )
    .unwrap();
    let run = flowform(["validate", "-c", file.to_str().unwrap()])
        .env("P", "x")
        .run()
        .expect_code(0);
    assert!(
        run.stderr()
            .starts_with("warning: connection `a`, `auth.params.region`"),
        "{}",
        run.stderr()
    );
    assert_eq!(run.stdout(), "prod: 1 connection valid (Salesforce 1)\n");
}

/// Salesforce is retiring the username-password flow behind `Basic Authentication`: validate
/// (and every plan) warns, naming the help article and the auth spec to move to, until a
/// connection acknowledges it; an acknowledgement that concerns nothing is itself a warning.
#[test]
fn salesforce_basic_authentication_warns_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let basic = |key: &str, lifecycle: &str| {
        format!(
            "  {key}:\n    name: {key}\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params: {{username: u, password: \"${{env:P}}\", securityToken: \"${{env:P}}\"}}\n{lifecycle}"
        )
    };
    let oauth = "  oauth:\n    name: oauth\n    source: salesforce\n    auth:\n      specName: OAuth2 Client Credential\n      params: {environmentUrl: \"https://a.my.salesforce.com\", clientId: c, clientSecret: \"${env:P}\", apiVersion: \"60.0\"}\n    lifecycle: {acknowledge: [salesforce-basic-retirement]}\n";
    let text = format!(
        "sandbox: prod\nconnections:\n{}{}{oauth}",
        basic(
            "seen",
            "    lifecycle:\n      acknowledge: [salesforce-basic-retirement]\n"
        ),
        basic("unseen", "")
    );
    std::fs::write(dir.path().join("c.yaml"), text).unwrap();
    let run = flowform(["validate", "-c", "c.yaml"])
        .current_dir(dir.path())
        .env("P", "x")
        .run()
        .expect_code(0);
    assert_eq!(run.stdout(), "prod: 3 connections valid (Salesforce 3)\n");
    insta::assert_snapshot!("salesforce_basic_retirement", run.stderr());
    // A misspelt acknowledgement is an error: it would silence nothing.
    let typo = "sandbox: prod\nconnections:\n".to_owned()
        + &basic(
            "typo",
            "    lifecycle: {acknowledge: [salesforce-basic-retirment]}\n",
        );
    std::fs::write(dir.path().join("c.yaml"), typo).unwrap();
    let run = flowform(["validate", "-c", "c.yaml"])
        .current_dir(dir.path())
        .env("P", "x")
        .run()
        .expect_code(1);
    assert!(
        run.stderr()
            .contains("help: did you mean `salesforce-basic-retirement`?"),
        "{}",
        run.stderr()
    );
}
