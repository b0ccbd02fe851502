//! What a listing selects and in which order: `property` filters on any path of an item, the
//! orders of a listing, and a record's position in one.
//!
//! A filter's path is generic, as the sort-and-filter guide says filtering "can be applied
//! generically on any property in an entity as long as the valid path to that property is
//! known": dotted steps into the item as a GET shows it (`params.tableName`,
//! `inheritedAttributes.baseConnection.id`), with `[]` after a step that holds an array
//! (`params.columns[].name`), matching when any element does. The store applies filters;
//! [`crate::query`] reads them from a request's query string.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::Record;

/// One step of a filter's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A property of an object.
    Key(String),
    /// Every element of an array (`[]`).
    Each,
}

/// A dotted path into an item: `connectionSpec.id`, `params.columns[].name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// As written, for messages.
    pub text: String,
    /// Never empty; the first step is a key (the item's top-level property).
    steps: Vec<Step>,
}

impl Path {
    /// Reads `a.b[].c`; `None` for an empty step or a `[]` with no key before it.
    pub fn parse(text: &str) -> Option<Path> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (key, each) = match part.strip_suffix("[]") {
                Some(key) => (key, true),
                None => (part, false),
            };
            if key.is_empty() || key.contains(['[', ']']) {
                return None;
            }
            steps.push(Step::Key(key.to_owned()));
            if each {
                steps.push(Step::Each);
            }
        }
        Some(Path {
            text: text.to_owned(),
            steps,
        })
    }

    /// The top-level property the path starts at.
    pub fn head(&self) -> &str {
        match self.steps.first() {
            Some(Step::Key(key)) => key,
            _ => "",
        }
    }

    /// Whether the path is exactly `name` (a top-level property, no deeper steps).
    pub fn is(&self, name: &str) -> bool {
        self.steps.len() == 1 && self.head() == name
    }

    /// Spec ids compare case-insensitively, as `connectionSpec.id` always has here (and as
    /// the spec lookup does).
    /// So do `flowSpec.id` and a run's `metrics.statusSummary.status` (D-SORT filters on
    /// `Failed`, the runs say `failed`).
    fn case_insensitive(&self) -> bool {
        self.text == "connectionSpec.id"
            || self.text.ends_with(".connectionSpec.id")
            || self.text == "flowSpec.id"
            || self.text == "metrics.statusSummary.status"
    }
}

/// Every value `steps` reach from `value`.
fn reach<'v>(value: &'v Value, steps: &[Step], out: &mut Vec<&'v Value>) {
    match steps.split_first() {
        None => out.push(value),
        Some((Step::Key(key), rest)) => {
            if let Some(inner) = value.get(key) {
                reach(inner, rest, out);
            }
        }
        Some((Step::Each, rest)) => {
            for element in value.as_array().into_iter().flatten() {
                reach(element, rest, out);
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Lt,
    Ge,
    Le,
}

/// One `property=path<op>value[,value…]` filter: the record matches when a value at its
/// path stands in `op` to any of the values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub path: Path,
    pub op: Op,
    pub values: Vec<String>,
}

impl Filter {
    pub fn matches(&self, record: &impl Record) -> bool {
        let Some(top) = record.property(self.path.head()) else {
            return false;
        };
        let mut found = Vec::new();
        reach(&top, self.path.steps.get(1..).unwrap_or_default(), &mut found);
        found
            .iter()
            .any(|actual| self.values.iter().any(|wanted| self.holds(actual, wanted)))
    }

    /// `actual op wanted`: strings compare as written (`==` only), numbers as numbers,
    /// booleans as `true`/`false`; nothing else (objects, null) matches.
    fn holds(&self, actual: &Value, wanted: &str) -> bool {
        match actual {
            Value::String(s) if self.op == Op::Eq => {
                if self.path.case_insensitive() {
                    s.eq_ignore_ascii_case(wanted)
                } else {
                    s == wanted
                }
            }
            Value::Number(n) => {
                let ordering = match (n.as_i64(), wanted.parse::<i64>()) {
                    (Some(a), Ok(b)) => a.cmp(&b),
                    _ => match (n.as_f64(), wanted.parse::<f64>()) {
                        (Some(a), Ok(b)) => match a.partial_cmp(&b) {
                            Some(o) => o,
                            None => return false,
                        },
                        _ => return false,
                    },
                };
                match self.op {
                    Op::Eq => ordering == Ordering::Equal,
                    Op::Gt => ordering == Ordering::Greater,
                    Op::Lt => ordering == Ordering::Less,
                    Op::Ge => ordering != Ordering::Less,
                    Op::Le => ordering != Ordering::Greater,
                }
            }
            Value::Bool(b) if self.op == Op::Eq => wanted == if *b { "true" } else { "false" },
            _ => false,
        }
    }
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// The default: most recently created or updated first.
    #[serde(rename = "-updatedAt")]
    UpdatedDesc,
    #[serde(rename = "updatedAt")]
    UpdatedAsc,
    #[serde(rename = "name")]
    NameAsc,
    #[serde(rename = "-name")]
    NameDesc,
}

impl Order {
    pub fn compare(self, a: &Key, b: &Key) -> Ordering {
        let natural = a.cmp(b);
        match self {
            Order::UpdatedDesc | Order::NameDesc => natural.reverse(),
            Order::UpdatedAsc | Order::NameAsc => natural,
        }
    }

    /// Whether `key` comes after `cursor` in this order.
    pub fn follows(self, key: &Key, cursor: &Key) -> bool {
        self.compare(key, cursor) == Ordering::Greater
    }
}

/// A record's position in an order: its sequence number, or its name (then id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    Seq(u64),
    Name(String, String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_nested_values_and_array_elements() {
        let item = json!({"params": {"tableName": "Contact", "columns": [{"name": "Email"}, {"name": "Id"}]},
                          "n": 5, "flag": true});
        let cases: &[(&str, &[Value])] = &[
            ("params.tableName", &[json!("Contact")]),
            ("params.columns[].name", &[json!("Email"), json!("Id")]),
            ("params.columns.name", &[]),
            ("params.missing", &[]),
            ("n", &[json!(5)]),
        ];
        for (text, expected) in cases {
            let path = Path::parse(text).unwrap();
            let mut out = Vec::new();
            reach(&item, &path.steps, &mut out);
            assert_eq!(out.into_iter().cloned().collect::<Vec<_>>(), *expected, "{text}");
        }
        for bad in ["", "a..b", "[]", "a.[]", "a[0]"] {
            assert!(Path::parse(bad).is_none(), "{bad}");
        }
        let filter = |op, v: &str, path: &str| Filter {
            path: Path::parse(path).unwrap(),
            op,
            values: vec![v.to_owned()],
        };
        assert!(filter(Op::Ge, "5", "n").holds(&json!(5), "5"));
        assert!(!filter(Op::Gt, "5", "n").holds(&json!(5), "5"));
        assert!(filter(Op::Eq, "true", "flag").holds(&json!(true), "true"));
        assert!(!filter(Op::Gt, "a", "s").holds(&json!("b"), "a"));
        assert!(filter(Op::Eq, "ABC", "connectionSpec.id").holds(&json!("abc"), "ABC"));
        assert!(!filter(Op::Eq, "ABC", "name").holds(&json!("abc"), "ABC"));
    }
}
