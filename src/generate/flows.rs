//! Dataflows written from what AEP has: each names the source and target connections it
//! joins by key (generated alongside, managed, or imported by the configuration), and by id
//! only when the project has neither (one that could not be written); its flow spec by name
//! where AEP's name finds that spec alone, else as `{id, version}`; its delta column, its
//! schedule with the start in RFC 3339, and whether it runs.
//!
//! Each entry is read back through the loader and compared with what AEP showed, field by
//! field as a plan compares them, before it is kept: what is written plans as an import that
//! changes nothing.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::{MAX_TEXT, Skipped, emit, shown};
use crate::flow::model::{ConnectionState, LiveObject};

/// Where a dataflow names its mapping set.
const MAPPING: &str = "/transformations/name=Mapping/params/mappingId";

/// How a dataflow names what it joins.
#[derive(Clone, Copy)]
enum Named<'a> {
    Key(&'a str),
    Id(&'a str),
}

/// The keys the project gives source and target connections, by kind name and id (lower
/// case).
pub(super) type Keys = BTreeMap<(&'static str, String), String>;

/// A field's text as a YAML scalar, or why it cannot be written.
fn text(what: &str, value: &str) -> Result<String, String> {
    if value.len() > MAX_TEXT {
        return Err(format!("its {what} is longer than {} KiB", MAX_TEXT / 1024));
    }
    Ok(emit::quoted(value))
}

/// A boolean AEP may give as its string (`"true"`).
fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// One dataflow's fields (without its key line), indented for an entry.
fn body(
    l: &LiveObject,
    source: Named<'_>,
    target: Named<'_>,
    mapping: Option<Named<'_>>,
    specs: &BTreeMap<String, (String, String)>,
) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(out, "    name: {}", text("name", &l.name)?);
    if let Some(d) = &l.description {
        let _ = writeln!(out, "    description: {}", text("description", d)?);
    }
    for (named, by_key, by_id) in [
        (source, "source", "sourceConnectionId"),
        (target, "target", "targetConnectionId"),
    ] {
        let _ = match named {
            Named::Key(key) => writeln!(out, "    {by_key}: {}", emit::key(key)),
            Named::Id(id) => writeln!(out, "    {by_id}: {}", emit::quoted(id)),
        };
    }
    let spec = l.text_at("/flowSpec/id").ok_or("AEP shows no flow spec for it")?;
    let version = l.text_at("/flowSpec/version").unwrap_or("1.0");
    match specs.get(&spec.to_ascii_lowercase()) {
        Some((name, at)) if at == version => {
            let _ = writeln!(out, "    flowSpec: {}", emit::key(name));
        }
        _ => {
            let _ = writeln!(
                out,
                "    flowSpec: {{id: {}, version: {}}}",
                emit::quoted(spec),
                emit::quoted(version)
            );
        }
    }
    let delta: Vec<String> = ["name", "dateFormat", "timezone"]
        .iter()
        .filter_map(|part| {
            let v = l.text_at(&format!("/transformations/name=Copy/params/deltaColumn/{part}"))?;
            Some(text("delta column", v).map(|v| format!("{part}: {v}")))
        })
        .collect::<Result<_, _>>()?;
    if !delta.is_empty() {
        let _ = writeln!(out, "    deltaColumn: {{{}}}", delta.join(", "));
    }
    match mapping {
        Some(Named::Key(key)) => {
            let _ = writeln!(out, "    mapping: {}", emit::key(key));
        }
        Some(Named::Id(id)) => {
            let _ = writeln!(out, "    mappingId: {}", emit::quoted(id));
        }
        None => {}
    }
    let frequency = l
        .text_at("/scheduleParams/frequency")
        .ok_or("AEP shows no schedule for it (`scheduleParams.frequency`)")?;
    let mut schedule = vec![format!("frequency: {}", emit::key(frequency))];
    if let Some(v) = l.at("/scheduleParams/interval").filter(|v| !v.is_null()) {
        let n = crate::flow::runs::whole(&v).ok_or("its schedule's interval is not a whole number")?;
        schedule.push(format!("interval: {n}"));
    }
    let start = l
        .at("/scheduleParams/startTime")
        .and_then(|v| crate::flow::runs::whole(&v))
        .filter(|s| *s >= 0)
        .ok_or("AEP shows no start for its schedule in epoch seconds")?;
    schedule.push(format!("startTime: {}", crate::reader::rfc3339(start)));
    if frequency != "once"
        && let Some(b) = l.at("/scheduleParams/backfill").as_ref().and_then(boolean)
    {
        schedule.push(format!("backfill: {b}"));
    }
    let _ = writeln!(out, "    schedule: {{{}}}", schedule.join(", "));
    match l.state {
        Some(ConnectionState::Enabled) => {
            let _ = writeln!(out, "    enabled: true");
        }
        Some(ConnectionState::Disabled) => {
            let _ = writeln!(out, "    enabled: false");
        }
        _ => {}
    }
    let _ = writeln!(out, "    import: {{id: {}}}", emit::quoted(&l.id));
    Ok(out)
}

/// Reads a dataflow's entry back through the loader (naming what it joins by id, as the
/// loader cannot see the project here) and checks that a plan finds nothing to change.
fn round_trip(
    sandbox: &str,
    l: &LiveObject,
    specs: &BTreeMap<String, (String, String)>,
) -> Result<(), String> {
    let (Some(source), Some(target)) = (
        l.text_at("/sourceConnectionIds/0"),
        l.text_at("/targetConnectionIds/0"),
    ) else {
        return Err("AEP shows no source or target connection for it".to_owned());
    };
    let text = format!(
        "sandbox: {}\nflows:\n  k:\n{}",
        emit::key(sandbox),
        body(
            l,
            Named::Id(source),
            Named::Id(target),
            l.text_at(MAPPING).map(Named::Id),
            specs
        )?
    );
    let loaded = super::load_entry(&text)?;
    let Some(kind) = crate::kind::by_name("flow") else {
        return Err("flowform has no dataflows".to_owned());
    };
    let Some(r) = loaded.desired.find(kind, "k") else {
        return Err("the configuration written for it would not load".to_owned());
    };
    if r.import.as_deref() != Some(l.id.as_str()) {
        return Err("its id would not read back".to_owned());
    }
    let differing = crate::plan::differing(&loaded.desired, &crate::state::State::default(), r, l);
    if let Some(path) = differing.first() {
        return Err(format!("its `{path}` would not read back as AEP has it"));
    }
    Ok(())
}

/// How a dataflow names what it joins through `pointer`: by the key the project gives it,
/// else by its id.
fn named<'a>(keys: &'a Keys, kind: &'static str, pointer: &str, l: &'a LiveObject) -> Option<Named<'a>> {
    let id = l.text_at(pointer)?;
    Some(match keys.get(&(kind, id.to_lowercase())) {
        Some(key) => Named::Key(key),
        None => Named::Id(id),
    })
}

/// The `flows:` section of one sandbox's file, and what it declares: `keys` names the
/// source and target connections the project has; `take`, a fresh key for a name.
pub(super) fn section(
    sandbox: &str,
    flows: &[LiveObject],
    keys: &Keys,
    specs: &BTreeMap<String, (String, String)>,
    skipped: &mut Vec<Skipped>,
    take: &mut dyn FnMut(&str) -> String,
) -> (String, Vec<(String, String)>) {
    let mut text = String::new();
    let mut written = Vec::new();
    let mut entries = Vec::new();
    for l in flows {
        let made = match (
            named(keys, "source", "/sourceConnectionIds/0", l),
            named(keys, "target", "/targetConnectionIds/0", l),
        ) {
            (Some(source), Some(target)) => round_trip(sandbox, l, specs)
                .and_then(|()| body(l, source, target, named(keys, "mapping", MAPPING, l), specs)),
            _ => Err("AEP shows no source or target connection for it".to_owned()),
        };
        match made {
            Ok(b) => entries.push((l, b)),
            Err(reason) => skipped.push(Skipped {
                sandbox: sandbox.to_owned(),
                id: l.id.clone(),
                name: shown(&l.name),
                reason,
            }),
        }
    }
    if entries.is_empty() {
        return (text, written);
    }
    text.push_str("flows:\n");
    for (l, b) in entries {
        let key = take(&l.name);
        let _ = writeln!(text, "  {}:", emit::key(&key));
        text.push_str(&b);
        written.push((format!("flow:{key}"), l.id.clone()));
    }
    (text, written)
}
