//! Writing YAML from values AEP gave: names, descriptions and params are input from a
//! server, so nothing is interpolated as it came. Every string is a double-quoted scalar with
//! everything that could end it, break its line, or hide in a terminal escaped; mapping keys
//! are plain only when they cannot be read as anything but themselves.

use serde_json::Value;

/// How deep a param's value may nest: no connection spec comes near it, and the loader
/// refuses much deeper documents anyway.
pub const MAX_DEPTH: usize = 32;

/// `text` as a YAML double-quoted scalar that reads back as exactly `text`.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let code = u32::from(c);
                if code <= 0xFFFF {
                    out.push_str(&format!("\\u{code:04X}"));
                } else {
                    out.push_str(&format!("\\U{code:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Characters written as an escape: those outside YAML's printable set, line and paragraph
/// separators, and the invisible and bidirectional controls that make a file read otherwise
/// than it is (a reviewer reads these files).
fn needs_escape(c: char) -> bool {
    matches!(u32::from(c),
        0x00..=0x1F
        | 0x7F..=0x9F
        | 0xAD
        | 0x061C
        | 0x180E
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0xFFFE..=0xFFFF
        | 0xE0000..=0xE007F
    )
}

/// Words YAML (1.2's core schema, or the 1.1 that many editors still speak) reads as
/// something other than a string.
const RESERVED: &[&str] = &["null", "true", "false", "yes", "no", "on", "off", "y", "n"];

/// A mapping key: plain when it is a simple word that reads back as this string, else quoted.
pub fn key(text: &str) -> String {
    let simple = text.len() <= 128
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(text));
    if simple { text.to_owned() } else { quoted(text) }
}

/// A literal param value as the loader reads it back: it takes `${` to open a secret
/// reference, and `$${` for a literal `${`.
pub fn literal(text: &str) -> String {
    quoted(&text.replace("${", "$${"))
}

/// A param's value in flow style: strings as [`literal`]s (a param's strings are read for
/// references at any depth), keys quoted as they are. `Err` says why it cannot be written.
pub fn value(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_value(&mut out, v, 0)?;
    Ok(out)
}

fn write_value(out: &mut String, v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("it nests deeper than {MAX_DEPTH} levels"));
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&literal(s)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(entries) => {
            out.push('{');
            for (i, (k, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quoted(k));
                out.push_str(": ");
                write_value(out, item, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Value as Y, parse_all};

    /// What `text` reads back as, as the value of a mapping key.
    fn read_back(scalar: &str) -> Y {
        let (docs, duplicates) = parse_all(&format!("k: {scalar}\n")).unwrap();
        assert!(duplicates.is_empty());
        let Y::Mapping(entries) = &docs[0].value else {
            panic!("not a mapping: {scalar}")
        };
        entries[0].1.value.clone()
    }

    #[test]
    fn hostile_strings_read_back_exactly() {
        let cases = [
            "",
            "plain",
            "\"quoted\"",
            "back\\slash",
            "line\nbreak\r\nwindows",
            "tab\there",
            "# not a comment",
            "key: value",
            "- item",
            "{flow: mapping}",
            "[flow, seq]",
            "&anchor",
            "*alias",
            "!tag",
            "%directive",
            "@reserved",
            "`backtick`",
            "---",
            "...",
            "true",
            "null",
            "~",
            "60.0",
            "0x1F",
            ".inf",
            "'single'",
            "  leading and trailing  ",
            "\u{1b}[31mred\u{1b}[0m",
            "bidi \u{202e}desrever\u{202c}",
            "zero\u{200b}width",
            "\u{feff}bom",
            "line\u{2028}separator\u{2029}",
            "nel\u{85}",
            "nul\u{0}byte",
            "emoji 🦀 and 日本語",
            "\u{e0041}tag char",
            "${env:HOME}",
        ];
        for text in cases {
            assert_eq!(read_back(&quoted(text)), Y::String(text.to_owned()), "{text:?}");
        }
    }

    #[test]
    fn every_code_point_reads_back() {
        let all: Vec<char> = (0..=0x10FFFF_u32).filter_map(char::from_u32).collect();
        for chunk in all.chunks(8192) {
            let text: String = chunk.iter().collect();
            assert_eq!(read_back(&quoted(&text)), Y::String(text.clone()));
        }
    }

    #[test]
    fn nothing_escapable_is_left_raw() {
        for text in ["\u{1b}", "\u{202e}", "\u{2028}", "\u{85}", "\u{7f}", "\u{0}"] {
            let q = quoted(text);
            assert!(q.is_ascii(), "{text:?} -> {q}");
        }
    }

    #[test]
    fn keys_are_plain_only_when_they_read_as_themselves() {
        for (text, plain) in [
            ("acme-salesforce", true),
            ("environmentUrl", true),
            ("true", false),
            ("No", false),
            ("null", false),
            ("123", false),
            ("a b", false),
            ("a:b", false),
            ("", false),
            ("-dash", false),
            ("ünïcode", false),
        ] {
            let k = key(text);
            assert_eq!(k == text, plain, "{text:?} -> {k}");
            let (docs, _) = parse_all(&format!("{k}: 1\n")).unwrap();
            let Y::Mapping(entries) = &docs[0].value else {
                panic!("{k}")
            };
            assert_eq!(entries[0].0.value, Y::String(text.to_owned()), "{text:?} -> {k}");
        }
    }

    #[test]
    fn a_reference_in_a_live_value_stays_a_literal() {
        for text in ["${env:HOME}", "a${b}c", "$${x}", "$$${y", "${", "}"] {
            let written = literal(text);
            let Y::String(read) = read_back(&written) else {
                panic!("{written}")
            };
            assert_eq!(
                crate::secret::parse(&read),
                Ok(crate::secret::Parsed::Literal(text.to_owned())),
                "{text:?} -> {written}"
            );
        }
    }

    #[test]
    fn structured_values_and_their_depth() {
        let v = serde_json::json!({"a b": [1, -2.5, true, null, "x\ny", {"${k}": "${v}"}]});
        assert_eq!(
            value(&v).unwrap(),
            r#"{"a b": [1, -2.5, true, null, "x\ny", {"${k}": "$${v}"}]}"#
        );
        let mut deep = serde_json::json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = serde_json::json!([deep]);
        }
        assert!(value(&deep).is_err());
    }
}
