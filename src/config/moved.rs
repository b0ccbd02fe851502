//! `moved:` and `removed:`: renaming a connection's key and letting go of a connection,
//! reviewed in the configuration like any change (Terraform's `moved` and `removed` blocks)
//! rather than done by hand with `flowform state mv` / `state rm`.
//!
//! ```yaml
//! moved:
//!   - {from: acme-salesforce, to: acme-sf-basic}    # the state follows; AEP is not called
//! removed:
//!   - {key: legacy-hubspot, destroy: false}         # no longer managed; AEP keeps it
//! ```
//!
//! Both are lists at the top level of a document, beside (or instead of) `sandbox` and
//! `connections`. This module reads them and checks what the configuration alone can tell
//! (a move from a key still declared, two moves to one key, circles, a move to nothing); what
//! the state decides (a move to a key it already holds) is the planner's (`plan::moved`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::{Desired, Origin};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::yaml::{Location, Node, Value};

/// How many entries one `moved:` or `removed:` list may hold: a rename of a whole
/// organisation is a few thousand; this bounds the checks' work on hostile input.
const MAX_ENTRIES: usize = 100_000;

pub use crate::kind::KeyRef;

/// `moved: [{from, to}]`: the connection the state holds as `from` is held as `to` from now
/// on, without a call to AEP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub from: KeyRef,
    pub to: KeyRef,
    pub origin: Origin,
}

/// `removed: [{key, destroy: false}]`: the connection leaves management; AEP keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub key: KeyRef,
    pub origin: Origin,
}

/// Reads one document's `moved:` list.
pub(super) fn read_moved(file: &Path, node: &Node, diagnostics: &mut Diagnostics) -> Vec<Moved> {
    let mut out = Vec::new();
    for (i, entry) in entries(file, node, "moved", "{from: old-key, to: new-key}", diagnostics) {
        let field = format!("moved[{i}]");
        let Some(fields) = mapping(file, entry, &field, &["from", "to"], diagnostics) else {
            continue;
        };
        let from = key_ref(file, entry, &fields, "from", &field, diagnostics);
        let to = key_ref(file, entry, &fields, "to", &field, diagnostics);
        if let (Some(from), Some(to)) = (&from, &to)
            && let (Some(a), Some(b)) = (from.kind, to.kind)
            && a != b
        {
            // A move renames a key; it cannot turn one kind of resource into another (as
            // Terraform refuses to move between resource types).
            diagnostics.push(
                Diagnostic::error(format!(
                    "a move cannot change a resource's kind: `{from}` is a {}, `{to}` a {}",
                    a.noun, b.noun
                ))
                .at(file, entry.location)
                .field("moved")
                .help(format!(
                    "a {} cannot become a {}: declare the new one, and remove the old one (or let it go with `removed:`)",
                    a.noun, b.noun
                )),
            );
            continue;
        }
        if let (Some(from), Some(to)) = (from, to) {
            out.push(Moved {
                from,
                to,
                origin: Origin::new(file, entry.location),
            });
        }
    }
    out
}

/// Reads one document's `removed:` list.
pub(super) fn read_removed(file: &Path, node: &Node, diagnostics: &mut Diagnostics) -> Vec<Removed> {
    let mut out = Vec::new();
    for (i, entry) in entries(
        file,
        node,
        "removed",
        "{key: old-key, destroy: false}",
        diagnostics,
    ) {
        let field = format!("removed[{i}]");
        let Some(fields) = mapping(file, entry, &field, &["key", "destroy"], diagnostics) else {
            continue;
        };
        let key = key_ref(file, entry, &fields, "key", &field, diagnostics);
        let destroy_help = "write `destroy: false`: the connection leaves flowform's management and AEP keeps it; to delete it in AEP instead, remove its declaration and this entry, and apply";
        let kept = match fields.get("destroy") {
            Some(n) if n.value == Value::Bool(false) => true,
            Some(n) if n.value == Value::Bool(true) => {
                diagnostics.push(
                    Diagnostic::error("`destroy: true` is not what `removed` is for")
                        .at(file, n.location)
                        .field(format!("{field}.destroy"))
                        .help(destroy_help),
                );
                false
            }
            Some(n) => {
                diagnostics.push(
                    Diagnostic::error(format!("expected `false`, found {}", n.value.kind()))
                        .at(file, n.location)
                        .field(format!("{field}.destroy"))
                        .help(destroy_help),
                );
                false
            }
            None => {
                diagnostics.push(
                    Diagnostic::error("missing `destroy: false`")
                        .at(file, entry.location)
                        .field(field.clone())
                        .help(destroy_help),
                );
                false
            }
        };
        if let (Some(key), true) = (key, kept) {
            out.push(Removed {
                key,
                origin: Origin::new(file, entry.location),
            });
        }
    }
    out
}

/// The items of a `moved:` or `removed:` list, numbered.
fn entries<'n>(
    file: &Path,
    node: &'n Node,
    name: &str,
    example: &str,
    diagnostics: &mut Diagnostics,
) -> Vec<(usize, &'n Node)> {
    match &node.value {
        Value::Null => Vec::new(),
        Value::Sequence(items) if items.len() <= MAX_ENTRIES => items.iter().enumerate().collect(),
        Value::Sequence(items) => {
            diagnostics.push(
                Diagnostic::error(format!(
                    "`{name}` has {} entries; flowform reads at most {MAX_ENTRIES}",
                    items.len()
                ))
                .at(file, node.location)
                .field(name),
            );
            Vec::new()
        }
        other => {
            diagnostics.push(
                Diagnostic::error(format!("expected a list, found {}", other.kind()))
                    .at(file, node.location)
                    .field(name)
                    .help(format!("write `{name}:` as a list: `- {example}`")),
            );
            Vec::new()
        }
    }
}

/// The fields of one entry, after checking that it is a mapping of known fields.
fn mapping<'n>(
    file: &Path,
    entry: &'n Node,
    field: &str,
    known: &[&str],
    diagnostics: &mut Diagnostics,
) -> Option<BTreeMap<&'n str, &'n Node>> {
    let Value::Mapping(pairs) = &entry.value else {
        diagnostics.push(
            Diagnostic::error(format!("expected a mapping, found {}", entry.value.kind()))
                .at(file, entry.location)
                .field(field),
        );
        return None;
    };
    let mut fields = BTreeMap::new();
    let mut ok = true;
    for (k, v) in pairs {
        match k.as_str() {
            Some(name) if known.contains(&name) => {
                fields.insert(name, v);
            }
            _ => {
                let name = k.value.scalar_text().unwrap_or_else(|| k.value.kind().to_owned());
                let help = match crate::diagnostic::did_you_mean(&name, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "expected {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    ),
                };
                diagnostics.push(
                    Diagnostic::error(format!("unknown field `{name}`"))
                        .at(file, k.location)
                        .field(field)
                        .help(help),
                );
                ok = false;
            }
        }
    }
    ok.then_some(fields)
}

/// A `key` or `sandbox/key` field.
fn key_ref(
    file: &Path,
    entry: &Node,
    fields: &BTreeMap<&str, &Node>,
    name: &str,
    field: &str,
    diagnostics: &mut Diagnostics,
) -> Option<KeyRef> {
    let field = format!("{field}.{name}");
    let Some(node) = fields.get(name) else {
        diagnostics.push(
            Diagnostic::error(format!("missing `{name}`"))
                .at(file, entry.location)
                .field(field),
        );
        return None;
    };
    let Some(text) = node.as_str() else {
        let mut diagnostic =
            Diagnostic::error(format!("expected a connection key, found {}", node.value.kind()))
                .at(file, node.location)
                .field(field);
        // A key such as `null`, `yes` or `123` is what YAML reads a bare scalar as otherwise.
        match (&node.value, node.value.scalar_text()) {
            (crate::yaml::Value::Null, _) => {
                diagnostic = diagnostic.help(
                    "YAML reads a bare `null` (or `~`, or nothing) as no value: to name the key `null`, quote it: `\"null\"`",
                );
            }
            (_, Some(text)) => {
                diagnostic = diagnostic.help(format!(
                    "YAML reads `{text}` as {}: quote it: `\"{text}\"`",
                    node.value.kind()
                ));
            }
            (_, None) => {}
        }
        diagnostics.push(diagnostic);
        return None;
    };
    match KeyRef::parse(text) {
        Ok(k) => Some(k),
        Err(e) => {
            let (message, help) = crate::kind::address::key_ref_problem(text, &e);
            let help = match e {
                crate::kind::address::KeyRefError::Invalid => {
                    format!("{} (or `sandbox/key`)", super::KEY_RULE)
                }
                _ => help,
            };
            diagnostics.push(
                Diagnostic::error(message)
                    .at(file, node.location)
                    .field(field)
                    .help(help),
            );
            None
        }
    }
}

fn location(origin: &Origin) -> Location {
    Location {
        line: origin.line,
        column: origin.column,
    }
}

fn error_at(origin: &Origin, field: &str, message: String, help: impl Into<String>) -> Diagnostic {
    Diagnostic::error(message)
        .at(&origin.file, location(origin))
        .field(field)
        .help(help)
}

/// What the configuration alone can tell is wrong with its moves and removals.
pub(super) fn check(desired: &Desired, diagnostics: &mut Diagnostics) {
    let declared = |k: &KeyRef| {
        desired
            .resources
            .values()
            .find(|r| k.names(r.kind, &r.sandbox, &r.key))
    };
    let mut by_from: BTreeMap<&str, &Moved> = BTreeMap::new();
    let mut by_to: BTreeMap<&str, &Moved> = BTreeMap::new();
    for m in &desired.moved {
        if m.from.key == m.to.key {
            diagnostics.push(error_at(
                &m.origin,
                "moved",
                format!("`{}` is moved to itself", m.from),
                "remove this entry",
            ));
            continue;
        }
        if let Some(first) = by_from.insert(&m.from.key, m) {
            diagnostics.push(error_at(
                &m.origin,
                "moved",
                format!(
                    "`{}` is moved twice: to `{}` and, at {}, to `{}`",
                    m.from, m.to, first.origin, first.to
                ),
                "a resource moves to one key; keep one of the two entries",
            ));
        }
        if let Some(first) = by_to.insert(&m.to.key, m) {
            diagnostics.push(error_at(
                &m.origin,
                "moved",
                format!(
                    "two resources are moved to `{}`: `{}` here and `{}` at {}",
                    m.to, m.from, first.from, first.origin
                ),
                "one key holds one resource; move one of them to another key, or stop managing it with `removed: [{key: …, destroy: false}]`",
            ));
        }
        if let Some(c) = declared(&m.from) {
            diagnostics.push(error_at(
                &m.origin,
                "moved",
                format!(
                    "`{}` is moved to `{}`, but `{}` is still declared, at {}",
                    m.from, m.to, m.from.key, c.origin
                ),
                format!(
                    "a move renames a key: remove the declaration of `{}` (what the state holds under it is kept, as `{}`)",
                    m.from.key, m.to
                ),
            ));
        }
    }
    // Chains (a → b, b → c) are followed to their end, as Terraform's are: the end must be
    // declared, in the sandbox of what moves, and a chain must not come back on itself.
    for m in &desired.moved {
        if m.from.key == m.to.key || by_from.contains_key(m.to.key.as_str()) {
            continue;
        }
        let unreadable = desired
            .unreadable
            .iter()
            .any(|(kind, _, key)| *key == m.to.key && m.to.kind.is_none_or(|k| k.name == *kind));
        match declared(&m.to) {
            None if unreadable => {}
            None => diagnostics.push(error_at(
                &m.origin,
                "moved",
                format!("`{}` is moved to `{}`, which is not declared", m.from, m.to),
                format!(
                    "declare `{}` (it keeps its id and is not recreated), or, to stop managing it without deleting it, write `removed: [{{key: {}, destroy: false}}]` instead",
                    m.to, m.from
                ),
            )),
            Some(c) => {
                if let Some(sandbox) = &m.from.sandbox
                    && *sandbox != c.sandbox
                {
                    diagnostics.push(error_at(
                        &m.origin,
                        "moved",
                        format!(
                            "`{}` is in sandbox `{sandbox}`, and `{}` is declared in sandbox `{}`: a move cannot change a connection's sandbox",
                            m.from, c.key, c.sandbox
                        ),
                        "a connection in another sandbox is another connection: declare it there and let flowform create it",
                    ));
                }
            }
        }
    }
    // Circles, each said once; every key is walked once (hostile input stays linear).
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in by_from.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut on_path: BTreeSet<&str> = BTreeSet::new();
        let mut at: &str = start;
        while let Some(m) = by_from.get(at) {
            if done.contains(at) {
                break;
            }
            if !on_path.insert(at) {
                let from = path.iter().position(|k| *k == at).unwrap_or(0);
                let mut circle: Vec<&str> = path[from..].to_vec();
                circle.push(at);
                diagnostics.push(error_at(
                    &m.origin,
                    "moved",
                    format!("the moves go round in a circle: {}", circle.join(" → ")),
                    "a chain of moves must end at a declared key; remove one of these entries",
                ));
                break;
            }
            path.push(at);
            at = &m.to.key;
        }
        done.extend(path);
    }
    let mut removed: BTreeMap<&str, &Removed> = BTreeMap::new();
    for r in &desired.removed {
        if let Some(first) = removed.insert(&r.key.key, r) {
            diagnostics.push(error_at(
                &r.origin,
                "removed",
                format!("`{}` is removed twice (also at {})", r.key, first.origin),
                "keep one of the two entries",
            ));
        }
        if let Some(c) = declared(&r.key) {
            diagnostics.push(error_at(
                &r.origin,
                "removed",
                format!(
                    "`{}` is removed from management, but it is still declared, at {}",
                    r.key, c.origin
                ),
                format!(
                    "remove the declaration of `{}` too (AEP keeps the connection), or drop this entry to keep managing it",
                    r.key.key
                ),
            ));
        }
        if let Some(m) = by_from
            .get(r.key.key.as_str())
            .or_else(|| by_to.get(r.key.key.as_str()))
        {
            diagnostics.push(error_at(
                &r.origin,
                "removed",
                format!(
                    "`{}` is removed from management, and moved at {} (`{}` to `{}`)",
                    r.key, m.origin, m.from, m.to
                ),
                "a connection is either moved to a new key or removed from management: keep one of the two entries",
            ));
        }
    }
}
