//! Reading one YAML document: its `sandbox`, a section per kind (`connections:`,
//! `sources:`, `targets:`, `flows:`), each entry read by its kind's declaration, and `moved:` and
//! `removed:` entries.

use crate::kind::{self, Resource};
use crate::reader::{At, Reader};
use crate::yaml::{Node, Value};

/// What one document declares.
pub(super) struct Declared {
    /// `None` for a document of `moved:` and `removed:` entries alone.
    pub sandbox: Option<String>,
    pub resources: Vec<Resource>,
    pub moved: Vec<super::moved::Moved>,
    pub removed: Vec<super::moved::Removed>,
    /// Declared, and not read (kind name, sandbox, key).
    pub unreadable: Vec<(&'static str, String, String)>,
}

/// The fields a document may hold, in the order messages list them.
fn document_fields() -> Vec<&'static str> {
    let mut fields = vec!["sandbox"];
    fields.extend(kind::ALL.iter().map(|k| k.section));
    fields.extend(["moved", "removed"]);
    fields
}

/// Reads a top-level document: `sandbox`, the sections, and ignored `x-…` extension keys (a
/// place for YAML anchors shared by several resources).
pub(super) fn read(reader: &mut Reader<'_>, doc: &Node) -> Option<Declared> {
    let top = At::top("");
    let known = document_fields();
    let fields = reader.fields(doc, top, &known, "the document", true)?;
    let moved = fields
        .get("moved")
        .map(|n| super::moved::read_moved(reader.file, n, reader.diagnostics))
        .unwrap_or_default();
    let removed = fields
        .get("removed")
        .map(|n| super::moved::read_removed(reader.file, n, reader.diagnostics))
        .unwrap_or_default();
    let sections: Vec<&'static kind::Kind> = kind::ALL
        .iter()
        .copied()
        .filter(|k| fields.get(k.section).is_some())
        .collect();
    let misspelt_section = kind::ALL.iter().any(|k| fields.misspelt(k.section));
    // A document of `moved:` and `removed:` entries alone names no sandbox: keys are
    // unique across the configuration.
    let state_only = (fields.get("moved").is_some() || fields.get("removed").is_some())
        && fields.get("sandbox").is_none()
        && !fields.misspelt("sandbox")
        && sections.is_empty()
        && !misspelt_section;
    if state_only {
        return Some(Declared {
            sandbox: None,
            resources: Vec::new(),
            moved,
            removed,
            unreadable: Vec::new(),
        });
    }
    let sandbox = match fields.get("sandbox") {
        Some(node) => reader.sandbox(node, At::top("sandbox")),
        None if fields.misspelt("sandbox") => None,
        None => {
            reader.error(top, doc.location, "the document names no `sandbox`").help = Some(
                "add `sandbox: prod` (or your sandbox's name); AEP silently falls back to `prod` when none is named, so flowform never assumes one"
                    .to_owned(),
            );
            None
        }
    };
    if sections.is_empty() && !misspelt_section {
        reader
            .error(top, doc.location, "the document declares no `connections`")
            .help = Some(format!(
            "add `connections:` with one entry per connection, keyed by a stable name such as `acme-salesforce` (or {})",
            crate::kind::other_sections()
        ));
    }
    let mut resources = Vec::new();
    let mut unreadable = Vec::new();
    for kind in sections {
        let Some(node) = fields.get(kind.section) else {
            continue;
        };
        match &node.value {
            Value::Mapping(entries) => {
                for (key_node, value) in entries {
                    let Some(key) = kind::read::key(reader, kind, key_node) else {
                        continue;
                    };
                    match kind::read::resource(
                        reader,
                        kind,
                        &key,
                        key_node.location,
                        value,
                        sandbox.as_deref(),
                    ) {
                        Some(r) => resources.push(r),
                        None => unreadable.push((kind.name, sandbox.clone().unwrap_or_default(), key)),
                    }
                }
            }
            Value::Null => {}
            other => {
                reader.error(
                    At::top(kind.section),
                    node.location,
                    format!(
                        "expected a mapping of {} keys to {}s, found {}",
                        kind.noun,
                        kind.noun,
                        other.kind()
                    ),
                );
            }
        }
    }
    Some(Declared {
        sandbox: Some(sandbox?),
        resources,
        moved,
        removed,
        unreadable,
    })
}
