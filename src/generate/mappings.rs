//! Mapping sets written from what AEP has: the ones the dataflows written beside them use,
//! each with its name, output schema, mappings and `import: {id}`. Read back through the
//! loader and compared with what AEP showed before it is kept, as a dataflow is.

use std::fmt::Write;

use serde_json::Value;

use super::{MAX_TEXT, Skipped, emit, shown};
use crate::flow::model::LiveObject;

/// A text as a YAML scalar, or why it cannot be written.
fn text(what: &str, value: &str) -> Result<String, String> {
    if value.len() > MAX_TEXT {
        return Err(format!("its {what} is longer than {} KiB", MAX_TEXT / 1024));
    }
    Ok(emit::quoted(value))
}

/// One set's fields (without its key line), indented for an entry.
fn body(l: &LiveObject) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(out, "    name: {}", text("name", &l.name)?);
    let schema = l
        .text_at("/outputSchema/schemaRef/id")
        .ok_or("AEP shows no output schema for it")?;
    match l.text_at("/outputSchema/schemaRef/contentType") {
        Some(t) if t != "application/vnd.adobe.xed-full+json;version=1" => {
            let _ = writeln!(
                out,
                "    schema: {{id: {}, contentType: {}}}",
                text("schema", schema)?,
                text("content type", t)?
            );
        }
        _ => {
            let _ = writeln!(out, "    schema: {{id: {}}}", text("schema", schema)?);
        }
    }
    let Some(Value::Array(rows)) = l.at("/mappings") else {
        return Err("AEP shows no mappings for it".to_owned());
    };
    let Value::Array(rows) = crate::kind::resource::mapping_rows(rows) else {
        return Err("its mappings are unreadable".to_owned());
    };
    if rows.is_empty() {
        return Err("it maps nothing".to_owned());
    }
    let _ = writeln!(out, "    mappings:");
    for row in rows {
        let (Some(source), Some(destination), Some(ty)) = (
            row["source"].as_str(),
            row["destination"].as_str(),
            row["sourceType"].as_str(),
        ) else {
            return Err("a mapping has no source or destination".to_owned());
        };
        let ty = if ty == "ATTRIBUTE" {
            String::new()
        } else {
            format!(", sourceType: {}", emit::key(ty))
        };
        let _ = writeln!(
            out,
            "      - {{source: {}, destination: {}{ty}}}",
            text("mapping's source", source)?,
            text("mapping's destination", destination)?
        );
    }
    let _ = writeln!(out, "    import: {{id: {}}}", emit::quoted(&l.id));
    Ok(out)
}

/// Reads an entry back through the loader and checks that a plan finds nothing to change.
fn round_trip(sandbox: &str, l: &LiveObject, body: &str) -> Result<(), String> {
    let text = format!("sandbox: {}\nmappings:\n  k:\n{body}", emit::key(sandbox));
    let loaded = super::load_entry(&text)?;
    let kind = &crate::kind::mapping::KIND;
    let Some(r) = loaded.desired.find(kind, "k") else {
        return Err("the configuration written for it would not load".to_owned());
    };
    let differing = crate::plan::differing(&loaded.desired, &crate::state::State::default(), r, l);
    match differing.first() {
        Some(path) => Err(format!("its `{path}` would not read back as AEP has it")),
        None => Ok(()),
    }
}

/// The `mappings:` section of one sandbox's file, and what it declares (`mapping:KEY`, id).
pub(super) fn section(
    sandbox: &str,
    sets: &[LiveObject],
    skipped: &mut Vec<Skipped>,
    take: &mut dyn FnMut(&str) -> String,
) -> (String, Vec<(String, String)>) {
    let mut text = String::new();
    let mut written = Vec::new();
    for l in sets {
        match body(l).and_then(|b| round_trip(sandbox, l, &b).map(|()| b)) {
            Ok(b) => {
                if written.is_empty() {
                    text.push_str("mappings:\n");
                }
                let key = take(&l.name);
                let _ = writeln!(text, "  {}:", emit::key(&key));
                text.push_str(&b);
                written.push((format!("mapping:{key}"), l.id.clone()));
            }
            Err(reason) => skipped.push(Skipped {
                sandbox: sandbox.to_owned(),
                id: l.id.clone(),
                name: shown(&l.name),
                reason,
            }),
        }
    }
    (text, written)
}
