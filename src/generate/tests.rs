//! Generation from listings, checked by loading what it writes.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::config::Desired;
use crate::secret::SecretRef;

const SF: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";
const HUBSPOT: &str = "cc6a4487-9e91-433e-a3a3-9cf6626c1806";
const OTHER: &str = "0a1b2c3d-0000-4000-8000-00000000beef";

fn live(id: &str, name: &str, spec: &str, auth: &str, params: Value) -> LiveConnection {
    LiveConnection::from_json(json!({
        "id": id,
        "name": name,
        "connectionSpec": {"id": spec, "version": "1.0"},
        "state": "enabled",
        "etag": "\"e\"",
        "auth": {"specName": auth, "params": params},
    }))
    .unwrap()
}

fn basic(id: &str, name: &str) -> LiveConnection {
    live(
        id,
        name,
        SF,
        "Basic Authentication",
        json!({"username": "u", "password": "********", "securityToken": "********", "environmentUrl": "https://acme.my.salesforce.com"}),
    )
}

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn listed(sandbox: &str, connections: Vec<LiveConnection>) -> Listed {
    Listed {
        sandbox: sandbox.to_owned(),
        connections,
        specs: BTreeMap::new(),
        ..Listed::default()
    }
}

/// Loads the generated files together, secrets unresolved.
fn load(generated: &Generated) -> Desired {
    let env = Environment::default();
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    for f in &generated.files {
        loader.add(Path::new(&format!("{}.yaml", f.sandbox)), &f.text);
    }
    match loader.finish() {
        Ok(loaded) => loaded.desired,
        Err(d) => panic!(
            "{d}\n{}",
            generated
                .files
                .iter()
                .map(|f| f.text.as_str())
                .collect::<String>()
        ),
    }
}

#[test]
fn the_three_salesforce_auth_types_load_as_imports_with_secrets_by_reference() {
    let oauth = live(
        &id(2),
        "ACME OAuth",
        SF,
        "OAuth2 Client Credential",
        json!({"environmentUrl": "https://acme.my.salesforce.com", "clientId": "3MVG9", "clientSecret": "********", "apiVersion": "60.0"}),
    );
    let jwt = live(
        &id(3),
        "ACME (JWT)",
        SF,
        "OAuth2 JWT Token Credential",
        json!({"jwtToken": "********", "clientId": "3MVG9", "clientSecret": "********", "instanceUrl": "https://acme.my.salesforce.com", "orgId": "00Dxyz"}),
    );
    let generated = generate(
        &[listed("prod", vec![jwt, basic(&id(1), "ACME Salesforce"), oauth])],
        &Existing::default(),
    );
    assert!(generated.skipped.is_empty(), "{:?}", generated.skipped);
    let desired = load(&generated);
    let keys: Vec<&str> = desired.resources.values().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["acme-jwt", "acme-oauth", "acme-salesforce"]);
    let b = desired.find(crate::kind::default(), "acme-salesforce").unwrap();
    assert_eq!(b.import.as_deref(), Some(id(1).as_str()));
    assert_eq!(b.params().unwrap()["username"], Param::Plain(json!("u")));
    assert_eq!(
        b.params().unwrap()["securityToken"],
        Param::Secret {
            reference: SecretRef::Env("FLOWFORM_PROD_ACME_SALESFORCE_SECURITY_TOKEN".into()),
            value: None
        }
    );
    // AEP's own `orgId` is not the configuration's.
    assert!(
        !desired
            .find(crate::kind::default(), "acme-jwt")
            .unwrap()
            .params()
            .unwrap()
            .contains_key("orgId")
    );
    assert_eq!(
        generated.left_out,
        [(
            "prod/acme-jwt".to_owned(),
            "orgId".to_owned(),
            "`OAuth2 JWT Token Credential` does not list it: AEP sets it itself".to_owned()
        )]
    );
    let vars: Vec<&str> = generated.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        vars,
        [
            "FLOWFORM_PROD_ACME_JWT_CLIENT_SECRET",
            "FLOWFORM_PROD_ACME_JWT_JWT_TOKEN",
            "FLOWFORM_PROD_ACME_OAUTH_CLIENT_SECRET",
            "FLOWFORM_PROD_ACME_SALESFORCE_PASSWORD",
            "FLOWFORM_PROD_ACME_SALESFORCE_SECURITY_TOKEN",
        ]
    );
    // Known specs are written with the shorthand; no masked value reaches the file.
    let text = &generated.files[0].text;
    assert!(text.contains("    source: salesforce\n"), "{text}");
    assert!(!text.contains("****"), "{text}");
}

#[test]
fn the_same_organisation_gives_the_same_files_in_any_order() {
    let conns = || {
        vec![
            basic(&id(1), "Zed"),
            basic(&id(2), "alpha"),
            basic(&id(3), "Alpha!"),
            basic(&id(4), "beta"),
        ]
    };
    let once = generate(&[listed("prod", conns())], &Existing::default());
    let mut reversed = conns();
    reversed.reverse();
    let again = generate(&[listed("prod", reversed)], &Existing::default());
    assert_eq!(once, again);
    let keys: Vec<(&str, &str)> = once.files[0]
        .connections
        .iter()
        .map(|(k, i)| (k.as_str(), i.as_str()))
        .collect();
    // By name ignoring case, then id: `alpha` sorts before `Alpha!`.
    assert_eq!(
        keys,
        [
            ("alpha", id(2).as_str()),
            ("alpha-prod", id(3).as_str()),
            ("beta", id(4).as_str()),
            ("zed", id(1).as_str())
        ]
    );
}

#[test]
fn hostile_names_and_values_read_back_as_aep_has_them() {
    let names = [
        "Quote \" and \\ backslash",
        "line\nbreak: - [x] {y} # z",
        "${env:AWS_SECRET_ACCESS_KEY}",
        "\u{1b}[2J terminal \u{202e} bidi",
        "true",
        "  padded  ",
    ];
    let mut conns: Vec<LiveConnection> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut l = basic(&id(i as u32 + 1), n);
            l.description = Some(format!("{n}\n---\nsandbox: evil"));
            l
        })
        .collect();
    crate::plan::fixtures::params_mut(&mut conns[0]).insert("username".into(), json!("${env:HOME}"));
    let generated = generate(&[listed("prod", conns)], &Existing::default());
    assert!(generated.skipped.is_empty(), "{:?}", generated.skipped);
    let desired = load(&generated);
    assert_eq!(desired.resources.len(), names.len());
    for n in names {
        let c = desired.resources.values().find(|c| c.name() == n).unwrap();
        assert_eq!(
            c.text("description"),
            Some(format!("{n}\n---\nsandbox: evil").as_str())
        );
        assert_eq!(c.sandbox, "prod");
    }
    let first = desired.resources.values().find(|c| c.name() == names[0]).unwrap();
    assert_eq!(
        first.params().unwrap()["username"],
        Param::Plain(json!("${env:HOME}"))
    );
    assert!(
        generated.files[0].text.is_ascii(),
        "escaped: {}",
        generated.files[0].text
    );
}

#[test]
fn what_the_project_has_is_skipped_and_said_so() {
    let existing = Existing {
        managed: [(id(1), "prod/mine".to_owned())].into(),
        imported: [(id(2), "theirs".to_owned())].into(),
        names: [(
            ("prod".to_owned(), SF.to_owned(), "Planned".to_owned()),
            "planned".to_owned(),
        )]
        .into(),
        keys: ["acme".to_owned()].into(),
        variables: ["FLOWFORM_PROD_ACME_PROD_PASSWORD".to_owned()].into(),
        ..Existing::default()
    };
    let generated = generate(
        &[listed(
            "prod",
            vec![
                basic(&id(1), "Mine"),
                basic(&id(2), "Theirs"),
                basic(&id(3), "Planned"),
                basic(&id(4), "ACME"),
                basic(&id(5), "Twin"),
                basic(&id(6), "Twin"),
            ],
        )],
        &existing,
    );
    let reasons: Vec<(&str, &str)> = generated
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(
        reasons[0].1.contains("already managed, as `prod/mine`"),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(n, r)| *n == "Theirs" && r.contains("`theirs`"))
    );
    assert!(
        reasons
            .iter()
            .any(|(n, r)| *n == "Planned" && r.contains(&format!("import: {{id: {}}}", id(3))))
    );
    assert_eq!(
        reasons
            .iter()
            .filter(|(n, r)| *n == "Twin" && r.contains("2 connections"))
            .count(),
        2
    );
    // The key and the variable in use are not given again.
    assert_eq!(generated.files[0].connections, [("acme-prod".to_owned(), id(4))]);
    assert!(
        generated
            .variables
            .iter()
            .any(|v| v.name == "FLOWFORM_PROD_ACME_PROD_PASSWORD_2")
    );
}

#[test]
fn several_sandboxes_in_the_order_asked() {
    let generated = generate(
        &[
            listed("prod", vec![basic(&id(1), "ACME")]),
            listed("dev", vec![basic(&id(2), "ACME")]),
        ],
        &Existing::default(),
    );
    let desired = load(&generated);
    assert_eq!(
        desired.find(crate::kind::default(), "acme").unwrap().sandbox,
        "prod"
    );
    assert_eq!(
        desired.find(crate::kind::default(), "acme-dev").unwrap().sandbox,
        "dev"
    );
    assert!(
        generated
            .variables
            .iter()
            .any(|v| v.name == "FLOWFORM_DEV_ACME_DEV_PASSWORD" && v.address == "dev/acme-dev")
    );
}

#[test]
fn unknown_specs_are_written_structurally() {
    let mut hub = live(
        &id(1),
        "HubSpot",
        HUBSPOT,
        "OAuth2",
        json!({"clientId": "c", "refreshToken": "plain-looking", "accessToken": "********", "scopes": ["a", "${b}"], "nested": {"x": 1, "y": null}}),
    );
    hub.body
        .insert("connectionSpec".into(), json!({"id": HUBSPOT, "version": "2.0"}));
    let other = live(
        &id(2),
        "Other",
        OTHER,
        "Key",
        json!({"host": "h", "port": 443, "enabled": true, "apiKey": "visible?"}),
    );
    let generated = generate(&[listed("prod", vec![hub, other])], &Existing::default());
    assert!(generated.skipped.is_empty(), "{:?}", generated.skipped);
    let desired = load(&generated);
    let h = desired.find(crate::kind::default(), "hubspot").unwrap();
    assert_eq!(crate::kind::connection::spec_version(h), "2.0");
    assert!(
        h.params().unwrap()["refreshToken"].is_secret(),
        "named like a secret"
    );
    assert!(h.params().unwrap()["accessToken"].is_secret(), "masked");
    assert_eq!(h.params().unwrap()["scopes"], Param::Plain(json!(["a", "${b}"])));
    assert_eq!(
        h.params().unwrap()["nested"],
        Param::Plain(json!({"x": 1, "y": null}))
    );
    let o = desired.find(crate::kind::default(), "other").unwrap();
    assert_eq!(o.params().unwrap()["port"], Param::Plain(json!(443)));
    assert!(o.params().unwrap()["apiKey"].is_secret());
    // A value AEP showed in clear for a param named like a secret never reaches the file.
    assert!(!generated.files[0].text.contains("visible?"));
    assert!(!generated.files[0].text.contains("plain-looking"));
    assert!(generated.files[0].text.contains(&format!("id: \"{OTHER}\"")));
}

#[test]
fn what_cannot_be_written_faithfully_is_skipped_with_the_reason() {
    let mut long = basic(&id(1), "Long");
    long.description = Some("x".repeat(MAX_TEXT + 1));
    let number = live(
        &id(2),
        "Number",
        SF,
        "OAuth2 Client Credential",
        json!({"environmentUrl": "https://a.my.salesforce.com", "clientId": "c", "clientSecret": "********", "apiVersion": 60.0}),
    );
    let http = live(
        &id(3),
        "Http",
        SF,
        "Basic Authentication",
        json!({"username": "u", "environmentUrl": "http://insecure.example"}),
    );
    let upper = basic(&id(4).to_uppercase().replace('X', "x"), "Upper");
    let mut upper = upper;
    upper.id = "ABCDEF00-0000-4000-8000-000000000004".into();
    let no_name = basic(&id(5), "   ");
    let generated = generate(
        &[listed("prod", vec![long, number, http, upper, no_name])],
        &Existing::default(),
    );
    assert!(generated.files.is_empty(), "{:?}", generated.files);
    let reasons: BTreeMap<&str, &str> = generated
        .skipped
        .iter()
        .map(|s| (s.name.as_str(), s.reason.as_str()))
        .collect();
    assert!(reasons["Long"].contains("longer than 64 KiB"), "{reasons:?}");
    assert!(
        reasons["Number"].contains("`auth.params.apiVersion`"),
        "{reasons:?}"
    );
    assert!(reasons["Http"].contains("https"), "{reasons:?}");
    assert!(reasons["Upper"].contains("id"), "{reasons:?}");
    assert!(reasons[""].contains("name"), "{reasons:?}");
}

#[test]
fn required_secrets_aep_leaves_out_are_still_declared() {
    let bare = live(
        &id(1),
        "Bare",
        SF,
        "Basic Authentication",
        json!({"username": "u"}),
    );
    let generated = generate(&[listed("prod", vec![bare])], &Existing::default());
    let desired = load(&generated);
    let params = desired
        .find(crate::kind::default(), "bare")
        .unwrap()
        .params()
        .unwrap();
    assert!(params["password"].is_secret() && params["securityToken"].is_secret());
}

#[test]
fn a_param_that_yaml_would_read_as_a_merge_is_never_written() {
    let merge = live(
        &id(1),
        "Merge",
        OTHER,
        "Key",
        json!({"host": "h", "<<": {"injected": "x"}}),
    );
    let generated = generate(&[listed("prod", vec![merge])], &Existing::default());
    assert!(generated.files.is_empty());
    assert!(
        generated.skipped[0].reason.contains("would not"),
        "{:?}",
        generated.skipped
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Pieces that YAML, the loader's references and terminals read specially, and anything.
    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            proptest::sample::select(vec![
                "\n",
                "\r\n",
                ": ",
                "- ",
                "#",
                "'",
                "\"",
                "\\",
                "{",
                "}",
                "[",
                "]",
                "&a",
                "*a",
                "<<",
                "!!str",
                "---",
                "...",
                "${env:P}",
                "${",
                "$${",
                "}",
                "~",
                "null",
                "true",
                "1.0",
                "\t",
                "\u{1b}[2J",
                "\u{202e}",
                "\u{2028}",
                "\u{85}",
                "\u{feff}",
                "\0",
                "é",
                "🦀",
            ])
            .prop_map(str::to_owned),
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever AEP calls a connection and puts in it, what `generate` writes loads and
        /// reads back exactly, or the connection is skipped with a reason: never written
        /// otherwise.
        #[test]
        fn what_is_written_reads_back_exactly(name in hostile(), description in hostile(), username in hostile(), extra in hostile()) {
            let mut l = basic(&id(1), &name);
            l.description = Some(description.clone());
            let params = &mut crate::plan::fixtures::params_mut(&mut l);
            params.insert("username".into(), json!(username));
            let mut other = live(&id(2), &format!("{name} other"), OTHER, "Key", json!({"value": extra, "nested": [extra, {"k": extra}]}));
            other.description = Some(extra.clone());
            let generated = generate(&[listed("prod", vec![l, other])], &Existing::default());
            let written: usize = generated.files.iter().map(|f| f.connections.len()).sum();
            prop_assert_eq!(written + generated.skipped.len(), 2);
            // Only a name the loader refuses (nothing but spaces) keeps one out.
            prop_assert_eq!(written, if name.trim().is_empty() { 1 } else { 2 }, "{:?}", generated.skipped);
            let desired = load(&generated);
            for c in desired.resources.values() {
                if c.import.as_deref() == Some(id(1).as_str()) {
                    prop_assert_eq!(c.name(), name.as_str());
                    prop_assert_eq!(c.text("description"), Some(description.as_str()));
                    prop_assert_eq!(&c.params().unwrap()["username"], &Param::Plain(json!(username)));
                } else {
                    // A spec flowform does not know: a value that looks masked (`{…}`, `***`)
                    // is taken for a secret AEP hid.
                    if crate::flow::model::is_masked(&json!(extra)) {
                        let hidden = matches!(&c.params().unwrap()["value"], Param::Secret { .. });
                        prop_assert!(hidden, "{:?}", c.params().unwrap()["value"]);
                    } else {
                        prop_assert_eq!(&c.params().unwrap()["value"], &Param::Plain(json!(extra)));
                    }
                    prop_assert_eq!(&c.params().unwrap()["nested"], &Param::Plain(json!([extra, {"k": extra}])));
                }
            }
        }
    }
}

/// A dataflow as AEP shows it, from the source connection `source` into `target`.
fn flow(n: u32, name: &str, source: &str, target: &str, schedule: Value) -> LiveObject {
    LiveObject::from_json(json!({
        "id": id(n),
        "name": name,
        "state": "disabled",
        "etag": "\"e\"",
        "sourceConnectionIds": [source],
        "targetConnectionIds": [target],
        "flowSpec": {"id": crate::kind::flow::CRM_TO_AEP_ID, "version": "1.0"},
        "transformations": [{"name": "Copy", "params": {"deltaColumn": {"name": "SystemModstamp"}}}],
        "scheduleParams": schedule,
    }))
    .unwrap()
}

#[test]
fn dataflows_name_what_they_join_by_key_else_by_id_and_what_cannot_be_written_is_skipped() {
    let source = LiveObject::from_json(json!({
        "id": id(10), "name": "Contacts", "baseConnectionId": id(1),
        "connectionSpec": {"id": SF, "version": "1.0"}, "params": {"tableName": "Contact"},
    }))
    .unwrap();
    let elsewhere = id(11);
    let target = "00000000-0000-4000-8000-0000000000ff";
    let daily = json!({"frequency": "day", "interval": "1", "startTime": "1796104800", "backfill": "false"});
    let mut l = listed("prod", vec![basic(&id(1), "ACME Salesforce")]);
    l.sources = vec![source];
    l.flows = vec![
        flow(20, "Contacts \"daily\"\u{202e}", &id(10), target, daily.clone()),
        flow(21, "Elsewhere", &elsewhere, target, daily),
        // AEP's milliseconds are no moment flowform reads: not written.
        flow(
            22,
            "In milliseconds",
            &id(10),
            target,
            json!({"frequency": "once", "startTime": "1796104800000"}),
        ),
    ];
    let mut existing = Existing::default();
    existing
        .managed
        .insert(target.to_owned(), "prod/target:lake".to_owned());
    let generated = generate(&[l], &existing);
    let skipped: Vec<(&str, &str)> = generated
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .any(|(i, why)| *i == id(22) && why.contains("is not a moment flowform reads")),
        "{skipped:?}"
    );
    let desired = load_with_lake(&generated);
    let kind = crate::kind::by_name("flow").unwrap();
    let daily = desired
        .of(kind)
        .find(|r| r.import.as_deref() == Some(id(20).as_str()))
        .unwrap();
    assert_eq!(daily.name(), "Contacts \"daily\"\u{202e}");
    assert_eq!(
        daily.reference("sourceConnectionId"),
        Some(&crate::config::Reference::Key("contacts".to_owned()))
    );
    assert_eq!(
        daily.reference("targetConnectionId"),
        Some(&crate::config::Reference::Key("lake".to_owned()))
    );
    // The spec is not known by name here: by id and version.
    assert_eq!(daily.text("flowSpec.id"), Some(crate::kind::flow::CRM_TO_AEP_ID));
    assert_eq!(daily.text("schedule.startTime"), None, "a moment, not text");
    let other = desired
        .of(kind)
        .find(|r| r.import.as_deref() == Some(id(21).as_str()))
        .unwrap();
    assert_eq!(
        other.reference("sourceConnectionId"),
        Some(&crate::config::Reference::Id(elsewhere.clone()))
    );
    let text = &generated.files[0].text;
    assert!(
        text.contains("    schedule: {frequency: day, interval: 1, startTime: 2026-12-01T06:00:00Z, backfill: false}\n    enabled: false\n"),
        "{text}"
    );
    assert!(
        text.contains("# 1 connection, 1 source connection, 2 dataflows."),
        "{text}"
    );
}

/// [`load`], with the managed target connection `lake` the dataflows name declared beside.
fn load_with_lake(generated: &Generated) -> Desired {
    let env = Environment::default();
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    loader.add(
        Path::new("lake.yaml"),
        "sandbox: prod\ntargets:\n  lake:\n    name: Lake\n    dataset: 65d4c1f0a1b2c3d4e5f60101\n",
    );
    for f in &generated.files {
        loader.add(Path::new(&format!("{}.yaml", f.sandbox)), &f.text);
    }
    match loader.finish() {
        Ok(loaded) => loaded.desired,
        Err(d) => panic!("{d}\n{}", generated.files[0].text),
    }
}
