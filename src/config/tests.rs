//! Table-driven tests of loading: each case is a document and what must come of it.

use std::path::Path;

use super::*;
use crate::diagnostic::Severity;
use crate::kind::connection::{auth_spec_name, spec_id, spec_version};
use crate::secret::SecretRef;
use crate::yaml::Location;

const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

fn env() -> Environment {
    Environment::from_pairs([
        ("SF_PASSWORD", "pw-from-env"),
        ("SF_TOKEN", "tok-from-env"),
        ("EMPTY", ""),
    ])
}

fn load_text(text: &str) -> Result<Loaded, Diagnostics> {
    let env = env();
    let options = LoadOptions::default();
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("t/conf.yaml"), text);
    loader.finish()
}

/// A connection block under `sandbox: prod` / `connections:` / `k:`, indented for you.
fn doc(connection: &str) -> String {
    let body: String = connection.lines().map(|l| format!("    {l}\n")).collect();
    format!("sandbox: prod\nconnections:\n  k:\n{body}")
}

const BASIC: &str = "name: N
source: salesforce
auth:
  specName: Basic Authentication
  params:
    username: u
    password: ${env:SF_PASSWORD}
    securityToken: ${env:SF_TOKEN}";

struct Expect {
    line: usize,
    column: usize,
    field: &'static str,
    message: &'static str,
}

fn check_errors(name: &str, text: &str, expected: &[Expect]) {
    let diagnostics = match load_text(text) {
        Ok(loaded) => panic!(
            "{name}: loaded, expected errors; got {:?}",
            loaded.desired.resources.keys()
        ),
        Err(d) => d,
    };
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    for e in expected {
        let found = errors.iter().any(|d| {
            d.location
                == Some(Location {
                    line: e.line,
                    column: e.column,
                })
                && d.field.as_deref().unwrap_or("") == e.field
                && d.message.contains(e.message)
                && d.file.as_deref() == Some(Path::new("t/conf.yaml"))
        });
        assert!(
            found,
            "{name}: no error at {}:{} on `{}` containing {:?}; got:\n{diagnostics}",
            e.line, e.column, e.field, e.message
        );
    }
    assert_eq!(
        errors.len(),
        expected.len(),
        "{name}: error count; got:\n{diagnostics}"
    );
}

#[test]
fn valid_documents_load() {
    let loaded = load_text(&doc(BASIC)).unwrap();
    let c = loaded.desired.find(crate::kind::default(), "k").unwrap();
    assert_eq!(c.sandbox, "prod");
    assert_eq!((spec_id(c), spec_version(c)), (SF, "1.0"));
    assert_eq!(auth_spec_name(c), "Basic Authentication");
    assert_eq!(c.params().unwrap()["username"], Param::Plain("u".into()));
    match &c.params().unwrap()["password"] {
        Param::Secret { reference, value } => {
            assert_eq!(reference, &SecretRef::Env("SF_PASSWORD".into()));
            assert_eq!(value.as_ref().unwrap().expose(), "pw-from-env");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.origin.line, 3);
    // The one warning: Salesforce retires the flow behind Basic Authentication.
    let warned: Vec<Option<&str>> = loaded.warnings.iter().map(|w| w.field.as_deref()).collect();
    assert_eq!(warned, [Some("auth.specName")]);
    let acknowledged = doc(&format!(
        "{BASIC}\nlifecycle: {{acknowledge: [salesforce-basic-retirement]}}"
    ));
    let loaded = load_text(&acknowledged).unwrap();
    assert!(loaded.warnings.is_empty());
    assert!(
        loaded
            .desired
            .find(crate::kind::default(), "k")
            .unwrap()
            .lifecycle
            .acknowledge
            .contains("salesforce-basic-retirement")
    );
}

#[test]
fn adobe_tutorial_body_loads_once_secrets_are_references() {
    // The Salesforce tutorial's POST body, in YAML, secrets replaced.
    let text = format!(
        r#"sandbox: prod
connections:
  acme:
    name: "ACME Salesforce account"
    description: "Salesforce account using OAuth 2"
    auth:
      specName: "OAuth2 Client Credential"
      params:
        environmentUrl: "https://acme-enterprise-3126.my.salesforce.com"
        clientId: "xxxx"
        clientSecret: "${{env:SF_PASSWORD}}"
        apiVersion: "60.0"
    connectionSpec:
      id: "{SF}"
      version: "1.0"
"#
    );
    load_text(&text).unwrap();
    // The same as flow-style JSON, which is YAML too.
    let json = format!(
        r#"{{"sandbox": "prod", "connections": {{"acme": {{"name": "ACME", "auth": {{"specName": "OAuth2 JWT Token Credential",
        "params": {{"jwtToken": "${{env:SF_TOKEN}}", "clientId": "c", "clientSecret": "${{env:SF_PASSWORD}}",
        "instanceUrl": "https://acme.my.salesforce.com"}}}}, "connectionSpec": {{"id": "{SF}", "version": "1.0"}}}}}}}}"#
    );
    load_text(&json).unwrap();
}

#[test]
fn options_and_shorthands() {
    let text = doc(&format!(
        "{BASIC}\ndescription: |\n  two\n  lines\nsandbox: dev-2\nlifecycle: {{protect: true, ignoreChanges: [description, auth.params.username]}}\nimport: {{id: 139F6A5F-A78B-4744-9F6A-5FA78BD74431}}"
    ));
    let loaded = load_text(&text).unwrap();
    let c = loaded.desired.find(crate::kind::default(), "k").unwrap();
    assert_eq!(c.sandbox, "dev-2");
    assert_eq!(c.text("description"), Some("two\nlines\n"));
    assert!(c.lifecycle.protect);
    assert_eq!(c.lifecycle.ignore_changes.len(), 2);
    assert_eq!(c.import.as_deref(), Some("139f6a5f-a78b-4744-9f6a-5fa78bd74431"));
    assert!(loaded.desired.sandboxes.contains("prod"));
}

#[test]
fn unknown_specs_get_structural_checks_only() {
    let text = doc(
        "name: N\nconnectionSpec: {id: 12345678-aaaa-bbbb-cccc-1234567890ab, version: \"1.0\"}\nauth:\n  specName: Anything\n  params: {host: h, port: 443, tls: true, nested: {a: [1]}, apiKey: \"${env:SF_TOKEN}\"}",
    );
    let loaded = load_text(&text).unwrap();
    let params = loaded
        .desired
        .find(crate::kind::default(), "k")
        .unwrap()
        .params()
        .unwrap();
    assert_eq!(params["port"], Param::Plain(443.into()));
    assert_eq!(params["nested"], Param::Plain(serde_json::json!({"a": [1]})));
    assert!(params["apiKey"].is_secret());
}

#[test]
fn unknown_params_of_known_specs_warn_unless_they_look_like_typos() {
    let loaded = load_text(&doc(&format!("{BASIC}\n    region: eu"))).unwrap();
    let warnings: Vec<_> = loaded
        .warnings
        .iter()
        .filter(|w| w.field.as_deref() != Some("auth.specName"))
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert_eq!(warnings[0].field.as_deref(), Some("auth.params.region"));
}

#[test]
fn skip_secrets_checks_syntax_without_resolving() {
    let env = Environment::default();
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("t/conf.yaml"), &doc(BASIC));
    let loaded = loader.finish().unwrap();
    assert!(matches!(
        loaded
            .desired
            .find(crate::kind::default(), "k")
            .unwrap()
            .params()
            .unwrap()["password"],
        Param::Secret { value: None, .. }
    ));
}

#[test]
fn mistakes_are_reported_where_they_are() {
    let cases: &[(&str, String, &[Expect])] = &[
        (
            "missing sandbox",
            "connections: {}\n".into(),
            &[Expect {
                line: 1,
                column: 1,
                field: "",
                message: "names no `sandbox`",
            }],
        ),
        (
            "missing connections",
            "sandbox: prod\n".into(),
            &[Expect {
                line: 1,
                column: 1,
                field: "",
                message: "declares no `connections`",
            }],
        ),
        (
            "unknown top-level field",
            "sandbox: prod\nconections: {}\n".into(),
            &[
                // Not also "declares no `connections`": the did-you-mean says it.
                Expect {
                    line: 2,
                    column: 1,
                    field: "",
                    message: "unknown field `conections`",
                },
            ],
        ),
        (
            "upper-case sandbox",
            "sandbox: Prod\nconnections: {}\n".into(),
            &[Expect {
                line: 1,
                column: 10,
                field: "sandbox",
                message: "`Prod` is not a sandbox name",
            }],
        ),
        (
            "document is a list",
            "- a\n- b\n".into(),
            &[Expect {
                line: 1,
                column: 1,
                field: "",
                message: "expected the document to be a mapping, found a list",
            }],
        ),
        (
            "bad key",
            "sandbox: prod\nconnections:\n  bad key!: {}\n".into(),
            &[Expect {
                line: 3,
                column: 3,
                field: "connections",
                message: "not a valid connection key",
            }],
        ),
        (
            "unknown connection field",
            doc(&format!("{BASIC}\nnmae: x")),
            &[Expect {
                line: 12,
                column: 5,
                field: "",
                message: "unknown field `nmae`",
            }],
        ),
        (
            "missing name and auth",
            doc("source: salesforce"),
            &[
                Expect {
                    line: 3,
                    column: 3,
                    field: "",
                    message: "missing `name`",
                },
                Expect {
                    line: 3,
                    column: 3,
                    field: "",
                    message: "missing `auth`",
                },
            ],
        ),
        (
            "wrong type for name",
            doc(&BASIC.replace("name: N", "name: [a]")),
            &[Expect {
                line: 4,
                column: 11,
                field: "name",
                message: "expected a string, found a list",
            }],
        ),
        (
            "both source and connectionSpec",
            doc(&format!("{BASIC}\nconnectionSpec: {{id: {SF}}}")),
            &[Expect {
                line: 5,
                column: 13,
                field: "source",
                message: "either `source` or `connectionSpec`",
            }],
        ),
        (
            "unknown source",
            doc(&BASIC.replace("source: salesforce", "source: salesfroce")),
            &[Expect {
                line: 5,
                column: 13,
                field: "source",
                message: "unknown source `salesfroce`",
            }],
        ),
        (
            "unknown spec without version",
            doc(&BASIC.replace(
                "source: salesforce",
                "connectionSpec: {id: 12345678-aaaa-bbbb-cccc-1234567890ab}",
            )),
            &[Expect {
                line: 5,
                column: 21,
                field: "connectionSpec.version",
                message: "missing `version`",
            }],
        ),
        (
            "spec id is not an id",
            doc(&BASIC.replace(
                "source: salesforce",
                "connectionSpec: {id: salesforce, version: \"1.0\"}",
            )),
            &[Expect {
                line: 5,
                column: 26,
                field: "connectionSpec.id",
                message: "is not a connection spec id",
            }],
        ),
        (
            "version as a number",
            doc(&BASIC.replace(
                "source: salesforce",
                &format!("connectionSpec: {{id: {SF}, version: 1.0}}"),
            )),
            &[Expect {
                line: 5,
                column: 73,
                field: "connectionSpec.version",
                message: "found a number `1.0`",
            }],
        ),
        (
            "unknown auth spec name",
            doc(&BASIC.replace("Basic Authentication", "Basic Auth")),
            &[Expect {
                line: 7,
                column: 17,
                field: "auth.specName",
                message: "unknown auth spec `Basic Auth` for Salesforce",
            }],
        ),
        (
            "missing required params",
            doc(
                "name: N\nsource: salesforce\nauth:\n  specName: Basic Authentication\n  params:\n    username: u",
            ),
            &[
                Expect {
                    line: 8,
                    column: 7,
                    field: "auth.params",
                    message: "missing required param `password`",
                },
                Expect {
                    line: 8,
                    column: 7,
                    field: "auth.params",
                    message: "missing required param `securityToken`",
                },
            ],
        ),
        (
            "literal secret",
            doc(&BASIC.replace("${env:SF_PASSWORD}", "hunter2")),
            &[Expect {
                line: 10,
                column: 19,
                field: "auth.params.password",
                message: "is a secret and cannot be written",
            }],
        ),
        (
            "literal secret of an unknown spec, by name",
            doc(
                "name: N\nconnectionSpec: {id: 12345678-aaaa-bbbb-cccc-1234567890ab, version: \"1.0\"}\nauth: {specName: X, params: {clientSecret: s3cr3t}}",
            ),
            &[Expect {
                line: 6,
                column: 48,
                field: "auth.params.clientSecret",
                message: "named like a secret",
            }],
        ),
        (
            "typo in a param name",
            doc(&BASIC.replace("username", "usrname")),
            &[Expect {
                line: 9,
                column: 9,
                field: "auth.params.usrname",
                message: "unknown param `usrname`",
            }],
        ),
        (
            "http url",
            doc(&format!(
                "{BASIC}\n    environmentUrl: http://acme.my.salesforce.com"
            )),
            &[Expect {
                line: 12,
                column: 25,
                field: "auth.params.environmentUrl",
                message: "must use https://",
            }],
        ),
        (
            "apiVersion not decimal",
            doc(&format!("{BASIC}\n    apiVersion: \"v60\"")),
            &[Expect {
                line: 12,
                column: 21,
                field: "auth.params.apiVersion",
                message: "decimal version",
            }],
        ),
        (
            "apiVersion unquoted",
            doc(&format!("{BASIC}\n    apiVersion: 60.0")),
            &[Expect {
                line: 12,
                column: 21,
                field: "auth.params.apiVersion",
                message: "found a number `60.0`",
            }],
        ),
        (
            "unset and empty variables",
            doc(&BASIC
                .replace("SF_PASSWORD", "NOT_SET")
                .replace("SF_TOKEN", "EMPTY")),
            &[
                Expect {
                    line: 10,
                    column: 19,
                    field: "auth.params.password",
                    message: "`NOT_SET` is not set",
                },
                Expect {
                    line: 11,
                    column: 24,
                    field: "auth.params.securityToken",
                    message: "`EMPTY` is empty",
                },
            ],
        ),
        (
            "missing secret file",
            doc(&BASIC.replace("${env:SF_TOKEN}", "${file:nope/token}")),
            &[Expect {
                line: 11,
                column: 24,
                field: "auth.params.securityToken",
                message: "t/nope/token` cannot be read",
            }],
        ),
        (
            "reference inside text",
            doc(&BASIC.replace("username: u", "username: user-${env:SF_TOKEN}")),
            &[Expect {
                line: 9,
                column: 19,
                field: "auth.params.username",
                message: "reference must be the whole value",
            }],
        ),
        (
            "empty param",
            doc(&BASIC.replace("username: u", "username:")),
            &[Expect {
                line: 9,
                column: 9,
                field: "auth.params.username",
                message: "has no value",
            }],
        ),
        (
            "bad lifecycle",
            doc(&format!(
                "{BASIC}\nlifecycle: {{protect: yes, ignoreChanges: [nam, auth.params.pasword]}}"
            )),
            &[
                Expect {
                    line: 12,
                    column: 26,
                    field: "lifecycle.protect",
                    message: "found a string `yes`",
                },
                Expect {
                    line: 12,
                    column: 47,
                    field: "lifecycle.ignoreChanges",
                    message: "`nam` cannot be ignored",
                },
                Expect {
                    line: 12,
                    column: 52,
                    field: "lifecycle.ignoreChanges",
                    message: "`pasword` is not a param of `Basic Authentication`",
                },
            ],
        ),
        (
            "bad import id",
            doc(&format!("{BASIC}\nimport: {{id: 42}}")),
            &[Expect {
                line: 12,
                column: 18,
                field: "import.id",
                message: "expected a string, found an integer `42`",
            }],
        ),
        (
            "same name twice in a sandbox",
            format!(
                "{}  k2:\n{}",
                doc(BASIC),
                BASIC.lines().map(|l| format!("    {l}\n")).collect::<String>()
            ),
            &[Expect {
                line: 13,
                column: 11,
                field: "name",
                message: "have the same name `N`",
            }],
        ),
    ];
    for (name, text, expected) in cases {
        check_errors(name, text, expected);
    }
}

#[test]
fn keys_are_unique_across_files() {
    let env = env();
    let options = LoadOptions::default();
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("a.yaml"), &doc(BASIC));
    loader.add(
        Path::new("b.yaml"),
        &format!("# comment\n{}", doc(&BASIC.replace("name: N", "name: M"))),
    );
    let diagnostics = loader.finish().unwrap_err();
    let d = diagnostics.iter().find(|d| d.is_error()).unwrap();
    assert_eq!(d.message, "connection key `k` is declared twice");
    assert_eq!(d.file.as_deref(), Some(Path::new("b.yaml")));
    assert_eq!(d.location, Some(Location { line: 4, column: 3 }));
    assert_eq!(
        d.help.as_deref(),
        Some("first declared at a.yaml:3:3; keys are unique across all configuration files")
    );
}

#[test]
fn empty_and_broken_files() {
    for (text, message) in [
        ("", "declares nothing"),
        ("# nothing\n---\n", "declares nothing"),
        ("sandbox: [prod\n", "invalid YAML"),
        ("a: 1\na: 2\n", "duplicate key `a`"),
    ] {
        let diagnostics = load_text(text).unwrap_err();
        assert!(
            diagnostics.iter().any(|d| d.message.contains(message)),
            "{text:?}: {diagnostics}"
        );
    }
}

#[test]
fn secrets_never_appear_in_debug_or_serialized_output() {
    let loaded = load_text(&doc(BASIC)).unwrap();
    let debug = format!("{:?}", loaded.desired);
    let json = serde_json::to_string(&loaded.desired).unwrap();
    for secret in ["pw-from-env", "tok-from-env"] {
        assert!(!debug.contains(secret), "{debug}");
        assert!(!json.contains(secret), "{json}");
    }
}

#[test]
fn an_unquoted_reference_in_flow_style_says_to_quote_it() {
    let diagnostics = load_text("sandbox: prod\nconnections:\n  a: {name: A, source: salesforce, auth: {specName: Basic Authentication, params: {password: ${env:X}}}}\n").unwrap_err();
    let d = diagnostics.iter().next().unwrap();
    assert!(d.message.starts_with("invalid YAML"), "{d}");
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("quote a reference"),
        "{d}"
    );
}

#[test]
fn a_syntax_error_gets_the_help_its_line_calls_for() {
    let help = |text: &str| {
        let diagnostics = load_text(text).unwrap_err();
        let d = diagnostics.iter().next().unwrap();
        assert!(d.message.starts_with("invalid YAML"), "{d}");
        d.help.clone().unwrap_or_default()
    };
    let head = "sandbox: prod\nconnections:\n  a:\n    name: A\n    source: salesforce\n    auth:\n      specName: Basic Authentication\n      params:\n        username: u\n";
    // A block-style reference on a misindented line is about the indentation, not quoting.
    let short = help(&format!("{head}       password: ${{env:PW}}\n"));
    assert!(
        short.starts_with("check the indentation: `password` is indented 7 spaces and line 9 above it 8;"),
        "{short}"
    );
    let deep = help(&format!("{head}          password: x\n"));
    assert!(
        deep.contains("indented 10 spaces and line 9 above it 8, whose `username` already has a value"),
        "{deep}"
    );
    let tab = help(&format!("{head}\tpassword: x\n"));
    assert!(tab.starts_with("YAML indents with spaces, never tabs"), "{tab}");
    let flow = help("sandbox: prod\nconnections:\n  a: {name: A, auth: {params: {password: ${env:X}}}}\n");
    assert!(flow.contains("quote a reference"), "{flow}");
}

#[test]
fn every_duplicate_key_is_reported_and_the_rest_still_checked() {
    let text = doc(&format!("{BASIC}\nname: again\ndescription: d\ndescription: e"));
    let diagnostics = load_text(&text).unwrap_err();
    let duplicates: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.message.starts_with("duplicate key"))
        .collect();
    assert_eq!(duplicates.len(), 2, "{diagnostics}");
}

#[test]
fn moved_and_removed_sit_beside_connections_or_alone() {
    let text = format!(
        "{}moved:\n  - {{from: old, to: k}}\n  - {{from: older, to: old}}\n---\nremoved:\n  - {{key: prod/legacy, destroy: false}}\n",
        doc(BASIC)
    );
    let loaded = load_text(&text).unwrap();
    let d = &loaded.desired;
    assert_eq!(d.resources.len(), 1);
    let moves: Vec<(String, String, usize)> = d
        .moved
        .iter()
        .map(|m| (m.from.to_string(), m.to.to_string(), m.origin.line))
        .collect();
    assert_eq!(
        moves,
        [("old".into(), "k".into(), 13), ("older".into(), "old".into(), 14)]
    );
    assert_eq!(d.removed[0].key.to_string(), "prod/legacy");
    assert_eq!((d.removed[0].origin.line, d.removed[0].origin.column), (17, 5));
    assert_eq!(d.sandboxes.len(), 1, "a document of moves names no sandbox");
}

#[test]
fn moved_and_removed_mistakes() {
    let with = |extra: &str| format!("{}{extra}", doc(BASIC));
    check_errors(
        "self, removed and declared, a sandbox move",
        &with(
            "moved:\n  - {from: k, to: k}\n  - {from: dev/x, to: k}\nremoved:\n  - {key: k, destroy: false}\n  - {key: x, destroy: yes}\n  - {key: 'bad key', destroy: false}\n",
        ),
        &[
            Expect {
                line: 13,
                column: 5,
                field: "moved",
                message: "`k` is moved to itself",
            },
            Expect {
                line: 14,
                column: 5,
                field: "moved",
                message: "a move cannot change a connection's sandbox",
            },
            Expect {
                line: 16,
                column: 5,
                field: "removed",
                message: "`k` is removed from management, but it is still declared, at t/conf.yaml:3:3",
            },
            Expect {
                line: 16,
                column: 5,
                field: "removed",
                message: "`k` is removed from management, and moved at",
            },
            Expect {
                line: 17,
                column: 23,
                field: "removed[1].destroy",
                message: "expected `false`, found a string",
            },
            Expect {
                line: 18,
                column: 11,
                field: "removed[2].key",
                message: "`bad key` is not a key",
            },
        ],
    );
    check_errors(
        "not a list",
        &with("moved: {from: a, to: k}\n"),
        &[Expect {
            line: 12,
            column: 8,
            field: "moved",
            message: "expected a list, found a mapping",
        }],
    );
}

#[test]
fn a_literal_dollar_brace_inside_a_structured_value() {
    let text = "sandbox: prod\nconnections:\n  k:\n    name: N\n    connectionSpec: {id: 0a1b2c3d-0000-4000-8000-00000000beef, version: \"1.0\"}\n    auth:\n      specName: S\n      params:\n        list: [\"$${literal}\", plain]\n";
    let loaded = load_text(text).unwrap();
    assert_eq!(
        loaded
            .desired
            .find(crate::kind::default(), "k")
            .unwrap()
            .params()
            .unwrap()["list"],
        Param::Plain(serde_json::json!(["${literal}", "plain"]))
    );
    let text = text.replace("$${literal}", "${env:SF_PASSWORD}");
    let errors = load_text(&text).unwrap_err();
    assert!(
        errors
            .to_string()
            .contains("only read as the whole value of a param"),
        "{errors}"
    );
}
