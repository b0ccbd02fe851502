//! Property tests: no input, however broken, panics the loader.

use std::path::Path;

use flowform::config::{LoadOptions, Loader};
use flowform::settings::Environment;
use proptest::prelude::*;

fn load(text: &str) {
    let env = Environment::from_pairs([("P", "x")]);
    let options = LoadOptions::default();
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("prop.yaml"), text);
    // Either outcome is fine; reaching here without a panic is the property.
    let _ = loader.finish();
}

const VALID: &str = "sandbox: prod
connections:
  acme:
    name: ACME
    source: salesforce
    lifecycle: {protect: true, ignoreChanges: [description]}
    auth:
      specName: Basic Authentication
      params:
        environmentUrl: https://acme.my.salesforce.com
        username: u
        password: ${env:P}
        securityToken: ${env:P}
";

/// Fragments that YAML and the loader treat specially.
const PIECES: &[&str] = &[
    ":",
    " ",
    "\n",
    "  ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!x ",
    "---\n",
    "...\n",
    "'",
    "\"",
    "|\n",
    ">\n",
    "#",
    "${env:P}",
    "${file:x}",
    "${",
    "$${",
    "~",
    "null",
    "1.0",
    "0x",
    "\t",
    "?",
    "%YAML 1.2\n",
    "sandbox",
    "connections",
    "auth",
    "params",
    "specName",
    "source",
    "salesforce",
    "\u{feff}",
    "é",
    "\0",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load(&text);
    }

    #[test]
    fn spliced_yaml_never_panics(
        cut in 0..VALID.len(),
        pieces in proptest::collection::vec(proptest::sample::select(PIECES), 0..12),
        drop in 0..40usize,
    ) {
        let mut text = VALID.to_owned();
        let at = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + drop).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &pieces.concat());
        load(&text);
    }

    #[test]
    fn deep_and_wide_nesting_never_panics(depth in 0..5000usize, open in proptest::sample::select(vec!["[", "{", "- ", "a: "])) {
        load(&open.repeat(depth));
    }
}

/// Any state serializes to bytes that parse back to it and serialize to the same bytes.
mod state_round_trip {
    use std::path::Path;

    use flowform::state::{Record, State, file};
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,12}"
    }

    fn record() -> impl Strategy<Value = Record> {
        (
            text(),
            text(),
            proptest::option::of(text()),
            proptest::collection::btree_map(
                text(),
                prop_oneof![
                    text().prop_map(serde_json::Value::from),
                    any::<i64>().prop_map(serde_json::Value::from),
                    any::<bool>().prop_map(serde_json::Value::from)
                ],
                0..4,
            ),
            proptest::collection::btree_set(text(), 0..3),
            any::<bool>(),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(
                |(name, id, description, params, secret_params, protect, applied_at)| {
                    let mut r = Record::new(
                        flowform::kind::default(),
                        &format!("k{}", id.len()),
                        "prod",
                        &id,
                        &name,
                    )
                    .with("description", description)
                    .with("connectionSpec.id", "s")
                    .with("connectionSpec.version", "1.0")
                    .with("auth.specName", "Basic Authentication")
                    .with(
                        "auth.params",
                        serde_json::Value::Object(params.into_iter().collect()),
                    );
                    r.etag = Some("\"e\"".into());
                    r.secret_params = secret_params;
                    r.state = Some("enabled".into());
                    r.created_at = applied_at;
                    r.protect = protect;
                    r.applied_at = applied_at;
                    r
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_state_round_trips_byte_identically(records in proptest::collection::vec((text(), record()), 0..6), serial in any::<u64>()) {
            let mut state = State::new();
            state.serial = serial;
            for (address, record) in records {
                state.resources.insert(address, record);
            }
            let bytes = file::to_bytes(&state);
            let parsed = file::parse(Path::new("s.json"), &bytes).unwrap();
            prop_assert_eq!(&parsed, &state);
            prop_assert_eq!(file::to_bytes(&parsed), bytes);
        }
    }
}
