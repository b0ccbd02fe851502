//! A YAML document tree that remembers where every node came from.
//!
//! flowform reports every configuration error at its line and column, including errors in
//! documents that are perfectly good YAML (a literal password, a misspelt param, a number where
//! a string belongs). A serde deserializer can only say where it stopped; it cannot say where a
//! value it already produced came from, and it stops at the first problem. So the loader walks
//! this tree instead: [`parse`] turns text into [`Node`]s that carry a [`Location`], resolving
//! plain scalars with the YAML 1.2 core schema (the schema editors and yaml-language-server use),
//! expanding aliases and `<<` merge keys, and rejecting duplicate keys. Scalars are resolved
//! in `scalar`; a mapping's keys are checked and merged in `mapping`.

mod mapping;
mod scalar;

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, Span};

use self::mapping::{KeyIndex, is_merge_key, merge_keys};
use self::scalar::{check_collection_tag, resolve_scalar};

/// Nesting deeper than this is refused: no configuration needs it, and it keeps both the
/// builder and the recursive `Drop` of the tree far away from the stack's limit.
const MAX_DEPTH: usize = 128;

/// How many nodes alias expansion may copy in one document ("billion laughs" guard).
const MAX_ALIAS_NODES: usize = 100_000;

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    fn from_span(span: &Span) -> Location {
        Location {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One node of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub location: Location,
}

/// The resolved value of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// A float keeps the text it was written as, so that a message can quote `60.0` rather
    /// than the `60` that formatting an `f64` would print.
    Float(f64, String),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in document order. Keys are unique (duplicates are a parse error).
    Mapping(Vec<(Node, Node)>),
}

impl Value {
    /// What kind of value this is, for "expected a string, found a mapping" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(..) => "a number",
            Value::String(_) => "a string",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }

    /// The scalar as it was written, for messages; `None` for collections.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Null => Some("null".to_owned()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(_, text) => Some(text.clone()),
            Value::String(s) => Some(s.clone()),
            Value::Sequence(_) | Value::Mapping(_) => None,
        }
    }
}

impl Node {
    /// The node as JSON (what an editor's schema checker sees): keys become strings, and
    /// floats with no JSON form (`.nan`, `.inf`) become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f, _) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Sequence(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Mapping(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.value {
                            Value::String(s) => s.clone(),
                            other => other.scalar_text().unwrap_or_else(|| k.to_json().to_string()),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Why a text is not a YAML stream flowform can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub location: Location,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.location)
    }
}

impl std::error::Error for ParseError {}

/// Parses every document of a YAML stream. Empty documents come back as [`Value::Null`].
/// A duplicate key is an error (the first one found).
pub fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let (documents, mut duplicates) = parse_all(text)?;
    match duplicates.is_empty() {
        true => Ok(documents),
        false => Err(duplicates.remove(0)),
    }
}

/// Parses every document, returning the duplicate keys found (each dropped from its mapping)
/// beside the documents, so that a caller can report them all and go on checking.
pub fn parse_all(text: &str) -> Result<(Vec<Node>, Vec<ParseError>), ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| ParseError {
            message: e.info().to_owned(),
            location: Location {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
        })?;
        builder.event(event, &span)?;
    }
    Ok((builder.documents, builder.duplicates))
}

enum Open {
    Sequence {
        anchor: usize,
        location: Location,
        items: Vec<Node>,
    },
    Mapping {
        anchor: usize,
        location: Location,
        entries: Vec<(Node, Node)>,
        /// The entries' keys by hash, so that a duplicate is found without comparing each
        /// new key with every earlier one.
        keys: KeyIndex,
        pending_key: Option<Node>,
        /// The pending key was a duplicate: its value is dropped.
        skip_value: bool,
    },
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    alias_budget: usize,
    /// The root of the current document, once it is complete.
    root: Option<Node>,
    /// Duplicate keys found so far.
    duplicates: Vec<ParseError>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), ParseError> {
        let location = Location::from_span(span);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(_) => {
                self.anchors.clear();
                self.alias_budget = MAX_ALIAS_NODES;
                self.root = None;
            }
            Event::DocumentEnd => {
                let root = self.root.take().unwrap_or(Node {
                    value: Value::Null,
                    location,
                });
                self.documents.push(root);
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(error("unknown alias", location));
                };
                let size = count_nodes(target);
                if size > self.alias_budget {
                    return Err(error(
                        "aliases expand to too many nodes (more than 100000 in one document)",
                        location,
                    ));
                }
                self.alias_budget -= size;
                let mut node = target.clone();
                node.location = location;
                self.complete(node)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = resolve_scalar(&text, style, tag.as_deref(), location)?;
                let node = Node { value, location };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.complete(node)?;
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", location)?;
                self.open(Open::Sequence {
                    anchor,
                    location,
                    items: Vec::new(),
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", location)?;
                self.open(Open::Mapping {
                    anchor,
                    location,
                    entries: Vec::new(),
                    keys: KeyIndex::default(),
                    pending_key: None,
                    skip_value: false,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (anchor, node) = match self.stack.pop() {
                    Some(Open::Sequence {
                        anchor,
                        location,
                        items,
                    }) => (
                        anchor,
                        Node {
                            value: Value::Sequence(items),
                            location,
                        },
                    ),
                    Some(Open::Mapping {
                        anchor,
                        location,
                        entries,
                        ..
                    }) => (
                        anchor,
                        Node {
                            value: Value::Mapping(merge_keys(entries)?),
                            location,
                        },
                    ),
                    None => return Err(error("unbalanced collection end", location)),
                };
                if anchor != 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.complete(node)?;
            }
        }
        Ok(())
    }

    fn open(&mut self, open: Open) -> Result<(), ParseError> {
        if self.stack.len() >= MAX_DEPTH {
            let location = match &open {
                Open::Sequence { location, .. } | Open::Mapping { location, .. } => *location,
            };
            return Err(error(format!("nesting deeper than {MAX_DEPTH} levels"), location));
        }
        self.stack.push(open);
        Ok(())
    }

    /// Hands a finished node to its parent collection, or makes it the document's root.
    fn complete(&mut self, node: Node) -> Result<(), ParseError> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Sequence { items, .. }) => items.push(node),
            Some(Open::Mapping {
                entries,
                keys,
                pending_key,
                skip_value,
                ..
            }) => match pending_key.take() {
                None => {
                    if !is_merge_key(&node)
                        && let Some(first) = keys.find(entries, &node.value)
                    {
                        // Reported, and the duplicate entry dropped; reading goes on so that
                        // every duplicate and every other mistake is found in one run.
                        let shown = node.value.scalar_text().unwrap_or_default();
                        self.duplicates.push(error(
                            format!(
                                "duplicate key `{shown}` (first defined at line {})",
                                first.location.line
                            ),
                            node.location,
                        ));
                        *skip_value = true;
                    }
                    *pending_key = Some(node);
                }
                Some(key) => {
                    if std::mem::take(skip_value) {
                        return Ok(());
                    }
                    keys.insert(entries, &key.value, entries.len());
                    entries.push((key, node));
                }
            },
        }
        Ok(())
    }
}

fn error(message: impl Into<String>, location: Location) -> ParseError {
    ParseError {
        message: message.into(),
        location,
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.value {
        Value::Sequence(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Mapping(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse(text).unwrap();
        assert_eq!(docs.len(), 1, "{text:?}");
        docs.remove(0)
    }

    fn scalar(text: &str) -> Value {
        match one(&format!("k: {text}\n")).value {
            Value::Mapping(mut entries) => entries.remove(0).1.value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let cases: &[(&str, Value)] = &[
            ("", Value::Null),
            ("~", Value::Null),
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("FALSE", Value::Bool(false)),
            ("yes", Value::String("yes".into())),
            ("no", Value::String("no".into())),
            ("42", Value::Int(42)),
            ("-7", Value::Int(-7)),
            ("0x1f", Value::Int(31)),
            ("0o17", Value::Int(15)),
            ("1.0", Value::Float(1.0, "1.0".into())),
            ("60.0", Value::Float(60.0, "60.0".into())),
            ("1e3", Value::Float(1000.0, "1e3".into())),
            (".5", Value::Float(0.5, ".5".into())),
            ("1.2.3", Value::String("1.2.3".into())),
            ("'1.0'", Value::String("1.0".into())),
            ("\"true\"", Value::String("true".into())),
            ("!!str 60.0", Value::String("60.0".into())),
            ("${env:X}", Value::String("${env:X}".into())),
            ("https://a.example/x", Value::String("https://a.example/x".into())),
            (
                "99999999999999999999",
                Value::Float(1e20, "99999999999999999999".into()),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&scalar(text), expected, "scalar {text:?}");
        }
    }

    #[test]
    fn locations_are_one_based_lines_and_columns() {
        let doc = one("a: 1\nbb:\n  c: x\n");
        let Value::Mapping(entries) = doc.value else {
            panic!()
        };
        assert_eq!(entries[0].0.location, Location { line: 1, column: 1 });
        assert_eq!(entries[0].1.location, Location { line: 1, column: 4 });
        let Value::Mapping(inner) = &entries[1].1.value else {
            panic!()
        };
        assert_eq!(inner[0].0.location, Location { line: 3, column: 3 });
        assert_eq!(inner[0].1.location, Location { line: 3, column: 6 });
    }

    #[test]
    fn several_documents_and_empty_ones() {
        let docs = parse("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].value, Value::Null);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("# only a comment\n").unwrap().is_empty());
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a` (first defined at line 1)");
        assert_eq!(err.location, Location { line: 3, column: 1 });
    }

    #[test]
    fn every_duplicate_is_found_in_a_large_mapping() {
        // 20,000 keys, three of them written twice (one a number, one a float by its text,
        // one far from its first): each reported at its second place, naming the first.
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("key{i}: {i}\n"));
        }
        text.push_str("7: a\n1.0: b\n");
        text.push_str("key19999: again\nkey3: again\n7: c\n1.0: d\n1.00: e\n");
        let (docs, duplicates) = parse_all(&text).unwrap();
        let found: Vec<(String, usize)> = duplicates
            .iter()
            .map(|d| (d.message.clone(), d.location.line))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "duplicate key `key19999` (first defined at line 20000)".to_owned(),
                    20_003
                ),
                (
                    "duplicate key `key3` (first defined at line 4)".to_owned(),
                    20_004
                ),
                (
                    "duplicate key `7` (first defined at line 20001)".to_owned(),
                    20_005
                ),
                (
                    "duplicate key `1.0` (first defined at line 20002)".to_owned(),
                    20_006
                ),
            ]
        );
        // The duplicates are dropped; `1.00` is another key than `1.0`.
        let Value::Mapping(entries) = &docs[0].value else {
            panic!()
        };
        assert_eq!(entries.len(), 20_003);
        assert_eq!(entries[20_002].0.value.scalar_text().as_deref(), Some("1.00"));
    }

    #[test]
    fn duplicates_are_found_either_side_of_the_size_an_index_is_built_at() {
        for n in [1, 2, 15, 16, 17, 33] {
            let mut text: String = (0..n).map(|i| format!("k{i}: {i}\n")).collect();
            text.push_str(&format!("k0: again\nk{}: again\nnew: 1\n", n - 1));
            let (docs, duplicates) = parse_all(&text).unwrap();
            let lines: Vec<usize> = duplicates.iter().map(|d| d.location.line).collect();
            assert_eq!(lines, vec![n + 1, n + 2], "{n} keys");
            let Value::Mapping(entries) = &docs[0].value else {
                panic!()
            };
            assert_eq!(entries.len(), n + 1, "{n} keys");
            // Merged into a mapping of that size: explicit keys win, nothing repeats.
            let merged = format!("base: &b {{k0: x, other: y}}\nm:\n  <<: *b\n{}", {
                (0..n).map(|i| format!("  k{i}: {i}\n")).collect::<String>()
            });
            let doc = one(&merged);
            let Value::Mapping(top) = doc.value else { panic!() };
            let Value::Mapping(m) = &top[1].1.value else {
                panic!()
            };
            assert_eq!(m.len(), n + 1, "{n} keys");
            assert_eq!(m[0].1.value, Value::Int(0));
            assert_eq!(m[n].0.as_str(), Some("other"));
        }
    }

    #[test]
    fn merged_keys_never_override_nor_repeat() {
        let doc = one("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nc:\n  <<: [*a, *b]\n  x: 0\n");
        let Value::Mapping(entries) = doc.value else {
            panic!()
        };
        let Value::Mapping(merged) = &entries[2].1.value else {
            panic!()
        };
        let pairs: Vec<(String, Value)> = merged
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.value.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("x".to_owned(), Value::Int(0)),
                ("y".to_owned(), Value::Int(2)),
                ("z".to_owned(), Value::Int(4)),
            ]
        );
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let doc = one("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n");
        let Value::Mapping(entries) = doc.value else {
            panic!()
        };
        let Value::Mapping(used) = &entries[1].1.value else {
            panic!()
        };
        let pairs: Vec<_> = used
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.value.clone()))
            .collect();
        assert_eq!(
            pairs,
            vec![("y".to_owned(), Value::Int(3)), ("x".to_owned(), Value::Int(1))]
        );
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(parse(&bomb).unwrap_err().message.contains("too many nodes"));
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.location.line >= 1, "{err:?}");
        let err = parse("a: b: c\n").unwrap_err();
        assert_eq!(err.location.line, 1, "{err:?}");
    }

    #[test]
    fn unknown_tags_are_refused() {
        let err = parse("a: !secret x\n").unwrap_err();
        assert!(err.message.contains("unsupported tag"), "{err:?}");
    }
}
