//! Loading source and target connections: their references to base connections, checked
//! by key and sandbox, what they take from what they name, and the mistakes said where
//! they are.

use std::path::Path;

use super::*;
use crate::kind::{self, Reference};

fn env() -> Environment {
    Environment::from_pairs([("SF_PASSWORD", "pw"), ("SF_TOKEN", "tok")])
}

/// Loads `(file, text)` documents as one configuration.
fn load(files: &[(&str, &str)]) -> Result<Loaded, Diagnostics> {
    let env = env();
    let options = LoadOptions::default();
    let mut loader = Loader::new(&env, &options);
    for (file, text) in files {
        loader.add(Path::new(file), text);
    }
    loader.finish()
}

/// A base connection `sf` in `sandbox`.
fn base(sandbox: &str) -> String {
    format!(
        "sandbox: {sandbox}
connections:
  sf:
    name: SF {sandbox}
    source: salesforce
    auth:
      specName: Basic Authentication
      params:
        username: u
        password: ${{env:SF_PASSWORD}}
        securityToken: ${{env:SF_TOKEN}}
"
    )
}

/// A source connection `contacts` in prod whose base connection is said by `base_line`.
fn source(base_line: &str) -> String {
    format!(
        "sandbox: prod
sources:
  contacts:
    name: Contacts
    {base_line}
    table: Contact
    columns: [Id, Email]
"
    )
}

/// Every error's message and help, one per line, for `contains` checks.
fn errors(files: &[(&str, &str)]) -> Vec<String> {
    let diagnostics = match load(files) {
        Ok(loaded) => panic!("loaded, expected errors: {:?}", loaded.desired.resources.keys()),
        Err(d) => d,
    };
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            format!(
                "{}:{} {} | {}",
                d.file
                    .as_deref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                d.location
                    .map(|l| format!("{}:{}", l.line, l.column))
                    .unwrap_or_default(),
                d.message,
                d.help.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

fn one_error(files: &[(&str, &str)], wanted: &[&str]) {
    let errors = errors(files);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    for w in wanted {
        assert!(errors[0].contains(w), "`{w}` in {errors:#?}");
    }
}

#[test]
fn sources_and_targets_load_beside_connections_with_their_defaults() {
    let targets = "sandbox: prod
targets:
  profiles:
    name: Profiles
    dataset: 65d4c1f0a1b2c3d4e5f60101
";
    let loaded = load(&[
        ("base.yaml", &base("prod")),
        ("pipe.yaml", &source("connection: sf")),
        ("targets.yaml", targets),
    ])
    .unwrap();
    let d = &loaded.desired;
    let addresses: Vec<&str> = d.resources.keys().map(String::as_str).collect();
    assert_eq!(
        addresses,
        ["prod/sf", "prod/source:contacts", "prod/target:profiles"]
    );
    let s = d.find(kind::by_name("source").unwrap(), "contacts").unwrap();
    assert_eq!(
        s.reference("baseConnectionId"),
        Some(&Reference::Key("sf".into()))
    );
    assert_eq!(s.text("table"), Some("Contact"));
    let default = |r: &Resource, path: &str| r.value(r.kind.field(path).unwrap());
    assert_eq!(s.text("data.format"), None, "not written");
    assert_eq!(default(s, "data.format"), Some("tabular".into()), "the default");
    // Where each field was written, for diagnostics later.
    assert_eq!(s.origin.file, Path::new("pipe.yaml"));
    let t = d.find(kind::by_name("target").unwrap(), "profiles").unwrap();
    assert_eq!(t.text("dataset"), Some("65d4c1f0a1b2c3d4e5f60101"));
    assert_eq!(
        default(t, "connectionSpec.id"),
        Some("c604ff05-7f1a-43c0-8e18-33bf874cb11c".into()),
        "the data lake's, by default"
    );
}

#[test]
fn an_unknown_reference_is_said_where_it_is_with_a_did_you_mean() {
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("pipe.yaml", &source("connection: sff")),
        ],
        &[
            "pipe.yaml:5:17",
            "no connection `sff` is declared",
            "did you mean `sf`?",
        ],
    );
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("pipe.yaml", &source("connection: elsewhere")),
        ],
        &[
            "no connection `elsewhere` is declared",
            "declare a connection `elsewhere` in sandbox `prod`, or name one flowform does not manage with `baseConnectionId: ID`",
        ],
    );
}

#[test]
fn a_reference_to_another_sandbox_is_an_error() {
    one_error(
        &[
            ("base.yaml", &base("dev")),
            ("pipe.yaml", &source("connection: sf")),
        ],
        &[
            "pipe.yaml:5:17",
            "`sf` is a connection of sandbox `dev`, and this source connection is in sandbox `prod`",
        ],
    );
}

#[test]
fn a_bare_base_connection_id_needs_its_spec_declared() {
    let id = "baseConnectionId: 0a1b2c3d-1111-4222-8333-444455556666";
    one_error(
        &[("pipe.yaml", &source(id))],
        &[
            "`baseConnectionId` names one flowform does not manage, so `connectionSpec.id` cannot be taken from it",
            "add `connectionSpec: {id: …, version: \"1.0\"}`",
        ],
    );
    let declared =
        format!("{id}\n    connectionSpec: {{id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: \"1.0\"}}");
    let loaded = load(&[("pipe.yaml", &source(&declared))]).unwrap();
    let s = loaded.desired.resources.get("prod/source:contacts").unwrap();
    assert_eq!(
        s.reference("baseConnectionId"),
        Some(&Reference::Id("0a1b2c3d-1111-4222-8333-444455556666".into()))
    );
}

#[test]
fn a_declared_spec_must_be_its_base_connections() {
    let line =
        "connection: sf\n    connectionSpec: {id: 0a1b2c3d-0000-4000-8000-00000000beef, version: \"1.0\"}";
    one_error(
        &[("base.yaml", &base("prod")), ("pipe.yaml", &source(line))],
        &[
            "`connectionSpec.id` is `0a1b2c3d-0000-4000-8000-00000000beef`, but its connection `sf` has `cfc0fee1-7dc0-40ef-b73e-d8b134c436f5`",
            "remove it here",
        ],
    );
    // Said the same, it is no error.
    let same =
        "connection: sf\n    connectionSpec: {id: CFC0FEE1-7DC0-40EF-B73E-D8B134C436F5, version: \"1.0\"}";
    load(&[("base.yaml", &base("prod")), ("pipe.yaml", &source(same))]).unwrap();
}

#[test]
fn a_reference_to_a_moved_or_removed_key_says_what_became_of_it() {
    let moved = "moved:\n  - {from: old-sf, to: sf}\n";
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("moves.yaml", moved),
            ("pipe.yaml", &source("connection: old-sf")),
        ],
        &[
            "no connection `old-sf` is declared",
            "`old-sf` was moved to `sf` (`moved` at moves.yaml:2:5): refer to it by its new key, `connection: sf`",
        ],
    );
    let removed = "removed:\n  - {key: gone, destroy: false}\n";
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("moves.yaml", removed),
            ("pipe.yaml", &source("connection: gone")),
        ],
        &["`gone` leaves management (`removed` at moves.yaml:2:5)"],
    );
}

#[test]
fn a_reference_to_a_declaration_that_failed_is_not_also_reported() {
    // The base connection's own error is enough: the reference to it names something.
    let broken = base("prod").replace("specName: Basic Authentication", "specName: 7");
    let errors = errors(&[("base.yaml", &broken), ("pipe.yaml", &source("connection: sf"))]);
    assert!(errors.iter().all(|e| !e.contains("is declared")), "{errors:#?}");
    assert!(!errors.is_empty());
}

#[test]
fn keys_are_unique_per_kind_not_across_kinds() {
    // A source connection may share a key with a base connection.
    let same_key = source("connection: sf").replace("  contacts:", "  sf:");
    load(&[("base.yaml", &base("prod")), ("pipe.yaml", &same_key)]).unwrap();
    // Two source connections may not.
    let errors = errors(&[
        ("base.yaml", &base("prod")),
        ("a.yaml", &source("connection: sf")),
        ("b.yaml", &source("connection: sf")),
    ]);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("b.yaml:3:3") && e.contains("`contacts`")),
        "{errors:#?}"
    );
}

#[test]
fn a_target_needs_its_dataset() {
    let text = "sandbox: prod\ntargets:\n  profiles:\n    name: Profiles\n";
    let errors = errors(&[("t.yaml", text)]);
    assert!(errors.iter().any(|e| e.contains("dataset")), "{errors:#?}");
}

#[test]
fn a_move_cannot_change_a_resources_kind() {
    let moved = "moved:\n  - {from: target:profiles, to: source:contacts}\n";
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("pipe.yaml", &source("connection: sf")),
            ("moves.yaml", moved),
        ],
        &[
            "moves.yaml:2:5",
            "a move cannot change a resource's kind: `target:profiles` is a target connection, `source:contacts` a source connection",
        ],
    );
}

#[test]
fn columns_read_something_each_once_and_a_target_has_no_sources_spec() {
    let columns = |list: &str| source("connection: sf").replace("[Id, Email]", list);
    one_error(
        &[("base.yaml", &base("prod")), ("pipe.yaml", &columns("[]"))],
        &["`columns: []` reads no column", "leave `columns` out"],
    );
    one_error(
        &[
            ("base.yaml", &base("prod")),
            ("pipe.yaml", &columns("[Id, Email, Id]")),
        ],
        &["pipe.yaml:7:26", "column `Id` is listed twice"],
    );
    let target = "sandbox: prod\ntargets:\n  t:\n    name: T\n    dataset: 65d4c1f0a1b2c3d4e5f60101\n    connectionSpec: {id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: \"1.0\"}\n";
    one_error(
        &[("t.yaml", target)],
        &["is the connection spec of the source Salesforce, not of a destination"],
    );
}

#[test]
fn an_absurdly_long_name_is_refused_where_it_is() {
    let long = "n".repeat(2000);
    let text = source("connection: sf").replace("name: Contacts", &format!("name: {long}"));
    one_error(
        &[("base.yaml", &base("prod")), ("pipe.yaml", &text)],
        &[
            "pipe.yaml:4:11",
            "`name` is 2000 bytes long; flowform takes at most 1024",
        ],
    );
}
