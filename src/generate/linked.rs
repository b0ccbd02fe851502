//! Source and target connections written from what AEP has: each source connection names
//! its base connection by key — one the project manages, or one generated alongside — and
//! by id only when the base connection is neither (then its spec is written too, which
//! flowform cannot take from a base connection it does not know).
//!
//! Each entry is read back through the loader before it is kept, as base connections are.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use super::{MAX_TEXT, Skipped, emit, shown};
use crate::config::{LoadOptions, Loader};
use crate::flow::model::LiveObject;
use crate::kind::{self, Kind};
use crate::settings::Environment;

/// How a generated source connection names its base connection.
enum Base<'a> {
    Key(&'a str),
    Id {
        id: String,
        spec: String,
        version: String,
    },
}

/// One entry that can be written.
pub(super) struct Entry<'l> {
    pub live: &'l LiveObject,
    /// The YAML of its fields (without its key line), indented for an entry.
    body: String,
}

/// The text of a field's YAML value, or why it cannot be written.
fn text(what: &str, value: Option<&str>) -> Result<Option<String>, String> {
    match value {
        Some(v) if v.len() > MAX_TEXT => Err(format!("its {what} is longer than {} KiB", MAX_TEXT / 1024)),
        Some(v) => Ok(Some(emit::quoted(v))),
        None => Ok(None),
    }
}

/// A source connection's entry; `base_key` names the base connection by the key the project
/// gives it (managed, or generated alongside).
pub(super) fn source<'l>(l: &'l LiveObject, base_key: Option<&str>) -> Result<Entry<'l>, String> {
    let mut out = String::new();
    let name = text("name", Some(&l.name))?.unwrap_or_default();
    let _ = writeln!(out, "    name: {name}");
    if let Some(d) = text("description", l.description.as_deref())? {
        let _ = writeln!(out, "    description: {d}");
    }
    let base = match (base_key, l.text_at("/baseConnectionId")) {
        (Some(key), _) => Base::Key(key),
        (None, Some(id)) => Base::Id {
            id: id.to_owned(),
            spec: l
                .spec_id()
                .ok_or("AEP shows no connection spec for it")?
                .to_owned(),
            version: l.text_at("/connectionSpec/version").unwrap_or("1.0").to_owned(),
        },
        (None, None) => return Err("AEP shows no base connection for it".to_owned()),
    };
    match base {
        Base::Key(key) => {
            let _ = writeln!(out, "    connection: {}", emit::key(key));
        }
        Base::Id { id, spec, version } => {
            let _ = writeln!(out, "    baseConnectionId: {}", emit::quoted(&id));
            let _ = writeln!(
                out,
                "    connectionSpec: {{id: {}, version: {}}}",
                emit::quoted(&spec),
                emit::quoted(&version)
            );
        }
    }
    let table = l
        .text_at("/params/tableName")
        .ok_or("AEP shows no table for it (`params.tableName`)")?;
    let _ = writeln!(
        out,
        "    table: {}",
        text("table", Some(table))?.unwrap_or_default()
    );
    if let Some(Value::Array(columns)) = l.at("/params/columns") {
        let names: Vec<String> = columns
            .iter()
            .filter_map(|c| c.as_str().or_else(|| c["name"].as_str()))
            .map(emit::quoted)
            .collect();
        if !names.is_empty() {
            let _ = writeln!(out, "    columns: [{}]", names.join(", "));
        }
    }
    if let Some(format) = l.text_at("/data/format").filter(|f| *f != "tabular") {
        let _ = writeln!(out, "    data: {{format: {}}}", emit::quoted(format));
    }
    let _ = writeln!(out, "    import: {{id: {}}}", emit::quoted(&l.id));
    Ok(Entry { live: l, body: out })
}

/// A target connection's entry.
pub(super) fn target(l: &LiveObject) -> Result<Entry<'_>, String> {
    let mut out = String::new();
    let name = text("name", Some(&l.name))?.unwrap_or_default();
    let _ = writeln!(out, "    name: {name}");
    if let Some(d) = text("description", l.description.as_deref())? {
        let _ = writeln!(out, "    description: {d}");
    }
    let dataset = l
        .text_at("/params/dataSetId")
        .ok_or("AEP shows no dataset for it (`params.dataSetId`)")?;
    let _ = writeln!(out, "    dataset: {}", emit::quoted(dataset));
    let schema = l
        .text_at("/data/schema/id")
        .ok_or("AEP shows no schema for it (`data.schema.id`)")?;
    let _ = write!(out, "    schema: {{id: {}", emit::quoted(schema));
    match l.text_at("/data/schema/version") {
        Some(v) if v != "application/vnd.adobe.xed-full+json;version=1" => {
            let _ = writeln!(out, ", version: {}}}", emit::quoted(v));
        }
        _ => {
            let _ = writeln!(out, "}}");
        }
    }
    let _ = writeln!(out, "    import: {{id: {}}}", emit::quoted(&l.id));
    Ok(Entry { live: l, body: out })
}

/// Reads an entry back through the loader (with its base connection named by id, as the
/// loader cannot see the project here) and checks it says what AEP showed.
pub(super) fn round_trip(sandbox: &str, kind: &'static Kind, entry: &Entry<'_>) -> Result<(), String> {
    let mut body = entry.body.clone();
    if let (Some(start), Some(id)) = (
        body.find("    connection: "),
        entry.live.text_at("/baseConnectionId"),
    ) {
        let end = start + body[start..].find('\n').map_or(body.len() - start, |i| i + 1);
        let spec = entry.live.spec_id().unwrap_or_default();
        body.replace_range(
            start..end,
            &format!(
                "    baseConnectionId: {}\n    connectionSpec: {{id: {}, version: \"1.0\"}}\n",
                emit::quoted(id),
                emit::quoted(spec)
            ),
        );
    }
    let text = format!("sandbox: {}\n{}:\n  k:\n{body}", emit::key(sandbox), kind.section);
    let env = Environment::default();
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("generated.yaml"), &text);
    let loaded = loader.finish().map_err(|d| {
        let first = d
            .iter()
            .find(|d| d.is_error())
            .map(|d| d.message.clone())
            .unwrap_or_default();
        format!(
            "the configuration written for it would not load: {}",
            crate::flow::model::clean(&first, 300)
        )
    })?;
    let Some(r) = loaded.desired.find(kind, "k") else {
        return Err("the configuration written for it would not load".to_owned());
    };
    let l = entry.live;
    if r.name() != l.name || r.text("description") != l.description.as_deref() {
        return Err("its name or description would not read back as AEP has it".to_owned());
    }
    if r.import.as_deref() != Some(l.id.as_str()) {
        return Err("its id would not read back".to_owned());
    }
    Ok(())
}

/// The sections of one sandbox's file for the linked kinds, and what is left out. `keys`:
/// the base connections' keys by id (managed or generated here); `take`: a fresh key for a
/// name.
pub(super) fn sections(
    sandbox: &str,
    sources: &[LiveObject],
    targets: &[LiveObject],
    keys: &BTreeMap<String, String>,
    skipped: &mut Vec<Skipped>,
    take: &mut dyn FnMut(&str) -> String,
) -> (String, Vec<(String, String)>) {
    let mut text = String::new();
    let mut written = Vec::new();
    let skip = |skipped: &mut Vec<Skipped>, l: &LiveObject, reason: String| {
        skipped.push(Skipped {
            sandbox: sandbox.to_owned(),
            id: l.id.clone(),
            name: shown(&l.name),
            reason,
        });
    };
    for (kind, listed) in [
        (kind::by_name("source"), sources),
        (kind::by_name("target"), targets),
    ] {
        let Some(kind) = kind else { continue };
        let mut entries = Vec::new();
        for l in listed {
            let base = l
                .text_at("/baseConnectionId")
                .and_then(|id| keys.get(&id.to_lowercase()));
            let made = if kind.name == "source" {
                source(l, base.map(String::as_str))
            } else {
                target(l)
            };
            match made.and_then(|e| round_trip(sandbox, kind, &e).map(|()| e)) {
                Ok(e) => entries.push(e),
                Err(reason) => skip(skipped, l, reason),
            }
        }
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(text, "{}:", kind.section);
        for e in entries {
            let key = take(&e.live.name);
            let _ = writeln!(text, "  {}:", emit::key(&key));
            text.push_str(&e.body);
            written.push((format!("{}:{key}", kind.name), e.live.id.clone()));
        }
    }
    (text, written)
}
