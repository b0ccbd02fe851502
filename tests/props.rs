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
