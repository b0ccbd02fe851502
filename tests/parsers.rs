//! The parsers of server answers (`flowform::flow::parse`) and the readers of local inputs
//! (configuration, state, journal, saved plan), with the properties the fuzz targets check
//! (`flowform::flow::fuzzing`, `flowform::fuzzing`): on every committed fuzz seed and
//! regression (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`), on generated JSON-ish
//! answers, and on committed inputs damaged at random.

use std::time::Duration;

use flowform::flow::fuzzing::{self, TARGETS};
use flowform::flow::limits::{MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
use flowform::flow::parse;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::root;

/// Every fuzz target: the server answers' and the local inputs'.
fn all_targets() -> impl Iterator<Item = &'static (&'static str, fn(&[u8]))> {
    TARGETS.iter().chain(flowform::fuzzing::TARGETS)
}

#[test]
fn every_committed_seed_and_regression_passes() {
    let mut fed = 0;
    for (name, check) in all_targets() {
        for dir in ["corpus", "regressions"] {
            let dir = root().join("fuzz").join(dir).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                // A panic names the file through the test's output.
                eprintln!("{name}: {}", path.display());
                check(&data);
                fed += 1;
            }
        }
    }
    // The seeds are committed: an empty run would mean the paths are wrong.
    assert!(
        fed >= (TARGETS.len() + flowform::fuzzing::TARGETS.len()) * 2,
        "only {fed} files"
    );
}

/// JSON values as servers might send them: extreme numbers, odd types, nesting.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        "[ -~]{0,12}".prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
        Just(json!("../../ims/token/v3")),
        Just(json!("\u{1b}[2J")),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Keys the parsers look at, and some they do not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "items",
            "id",
            "name",
            "description",
            "connectionSpec",
            "auth",
            "specName",
            "params",
            "state",
            "etag",
            "createdAt",
            "updatedAt",
            "_links",
            "next",
            "href",
            "continuationToken",
            "count",
            "access_token",
            "expires_in",
            "token_type",
            "type",
            "title",
            "detail",
            "report",
            "detailed-message",
            "request-id",
            "errorMessage",
            "error_code",
            "error",
            "error_description",
            "message",
            "authSpec",
            "spec",
            "properties",
            "format",
            "required",
            "pattern",
            "$ref",
            "minimum",
            "multipleOf",
            "result",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
    ]
}

/// An answer of one of the documented shapes, with generated values where the fields go.
fn answer() -> impl Strategy<Value = Value> {
    (value(), value(), value(), value()).prop_flat_map(|(a, b, c, d)| {
        prop_oneof![
            Just(json!({"access_token": a, "token_type": "bearer", "expires_in": b})),
            Just(json!({"items": [{"id": a, "name": b, "auth": {"specName": c, "params": d}}]})),
            Just(json!({"items": a, "_links": {"next": {"href": b}}, "continuationToken": c})),
            Just(json!({"items": [{"id": "s", "authSpec": [{"name": "K", "spec": {
                "type": "object", "properties": {"username": a, "port": b}, "required": c}}]}]})),
            Just(json!({"type": a, "title": b, "report": {"detailed-message": c, "request-id": d}})),
            Just(a),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_answer_breaks_a_parser(answer in answer()) {
        let bytes = serde_json::to_vec(&answer).unwrap();
        for (_, check) in TARGETS {
            check(&bytes);
        }
    }

    #[test]
    fn no_bytes_break_a_parser(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for (_, check) in all_targets() {
            check(&bytes);
        }
    }

    /// Committed inputs, damaged: bytes flipped, cut short, lines repeated or dropped.
    #[test]
    fn damaged_local_inputs_break_no_reader(
        seed in 0usize..1_000,
        cut in 0usize..4_096,
        flips in prop::collection::vec((0usize..4_096, any::<u8>()), 0..8),
    ) {
        for (name, check) in flowform::fuzzing::TARGETS {
            let dir = root().join("fuzz/corpus").join(name);
            let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            let mut data = std::fs::read(&files[seed % files.len()]).unwrap();
            for (at, byte) in &flips {
                if !data.is_empty() {
                    let at = at % data.len();
                    data[at] = *byte;
                }
            }
            data.truncate(cut.max(1).min(data.len()));
            check(&data);
        }
    }

    #[test]
    fn any_expires_in_gives_a_lifetime_in_bounds(expires_in in value()) {
        let body = serde_json::to_vec(&json!({"access_token": "t", "expires_in": expires_in})).unwrap();
        let lifetime = parse::token(&body).unwrap().lifetime;
        prop_assert!(lifetime >= MIN_TOKEN_LIFETIME && lifetime <= MAX_TOKEN_LIFETIME);
    }

    #[test]
    fn whole_seconds_in_bounds_are_kept(seconds in 60u64..=86_400) {
        let body = format!(r#"{{"access_token":"t","expires_in":{seconds}}}"#);
        prop_assert_eq!(parse::token(body.as_bytes()).unwrap().lifetime, Duration::from_secs(seconds));
    }
}

#[test]
fn nesting_past_the_json_limit_is_an_error_not_a_stack_overflow() {
    for depth in [100, 10_000, 100_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let body = format!(r#"{{"items":[{{"id":"a","auth":{{"specName":"s","params":{{"p":{deep}}}}}}}]}}"#);
        for (_, check) in TARGETS {
            check(body.as_bytes());
        }
        let parsed = parse::list_page(body.as_bytes());
        assert_eq!(parsed.is_ok(), depth < 128, "depth {depth}");
    }
    fuzzing::error_envelope(&b"{".repeat(1 << 16));
}
