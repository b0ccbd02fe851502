//! What a flow's declaration cannot say: its spec by name or by id, the schedule's rules
//! (the flow specs' `scheduleSpec`: `once` takes no interval or backfill, the others need an
//! interval, at least 15 for `minute`), the Copy transformation CRM sources need, and the
//! spec resolved and checked against AEP.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::flow::{Filter, FlowError};
use crate::kind::read::Read;
use crate::kind::{
    BoxFuture, HandOver, HandedOver, Hooks, Learned, LiveCx, ReadCx, Replacing, Resource, Same, Value,
};
use crate::reader::Fields;
use crate::yaml;

/// The flow spec of table sources (CRM and databases), whose flows need a delta column.
pub const CRM_TO_AEP: &str = "CRMToAEP";

pub struct FlowHooks;

fn plain(s: String) -> Value {
    Value::Plain(Json::String(s))
}

fn error(r: &Resource, path: &str, message: String) -> Diagnostic {
    Diagnostic::error(message)
        .at(&r.origin.file, r.place(path))
        .of(r.kind, &r.key)
        .field(path.to_owned())
}

/// An error about the flow spec, written `flowSpec:` whether by name or by id.
fn spec_error(r: &Resource, message: String) -> Diagnostic {
    Diagnostic::error(message)
        .at(&r.origin.file, r.place("flowSpec.id"))
        .of(r.kind, &r.key)
        .field("flowSpec".to_owned())
}

/// The longest flow spec name flowform takes: it goes in a filter.
const MAX_SPEC_NAME: usize = 128;

impl Hooks for FlowHooks {
    /// `flowSpec: NAME`, or `flowSpec: {id, version}`.
    fn read(&self, cx: &mut ReadCx<'_, '_>, fields: &Fields<'_>, read: &mut Read) {
        let Some(node) = fields.get("flowSpec") else {
            if !fields.misspelt("flowSpec") {
                cx.reader
                    .error(cx.at(""), cx.key_location, "missing `flowSpec`")
                    .help = Some(format!(
                    "add `flowSpec: {CRM_TO_AEP}` for a table source (`CloudStorageToAEP` for files), or `flowSpec: {{id: …, version: \"1.0\"}}`"
                ));
            }
            read.failed = true;
            return;
        };
        read.places.fields.insert("flowSpec.id", node.location);
        read.places.fields.insert("flowSpec.version", node.location);
        match &node.value {
            yaml::Value::String(name) => {
                let ok = !name.is_empty()
                    && name.len() <= MAX_SPEC_NAME
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c));
                if !ok {
                    cx.reader
                        .error(
                            cx.at("flowSpec"),
                            node.location,
                            format!("`{name}` is not a flow spec name"),
                        )
                        .help = Some(format!(
                        "name one as AEP's `GET /flowSpecs` does (`{CRM_TO_AEP}`), or give `{{id, version}}`"
                    ));
                    read.failed = true;
                    return;
                }
                read.hints.insert("flowSpec.id", name.clone());
            }
            yaml::Value::Mapping(_) => {
                let Some(inner) =
                    cx.reader
                        .fields(node, cx.at("flowSpec"), &["id", "version"], "`flowSpec`", false)
                else {
                    read.failed = true;
                    return;
                };
                for (name, path) in [("id", "flowSpec.id"), ("version", "flowSpec.version")] {
                    match inner.get(name) {
                        Some(n) => {
                            read.places.fields.insert(path, n.location);
                            match cx.reader.non_empty_string(n, cx.at(path)) {
                                Some(s) if name == "id" && !crate::kind::IdForm::Spec.check(&s) => {
                                    cx.reader
                                        .error(
                                            cx.at(path),
                                            n.location,
                                            format!("`{s}` is not a flow spec id"),
                                        )
                                        .help = Some(format!("e.g. `{}`", super::super::flow::CRM_TO_AEP_ID));
                                    read.failed = true;
                                }
                                Some(s) => {
                                    let s = if name == "id" { s.to_lowercase() } else { s };
                                    read.values.insert(path, plain(s));
                                }
                                None => read.failed = true,
                            }
                        }
                        None if !inner.misspelt(name) => {
                            cx.reader
                                .error(cx.at("flowSpec"), node.location, format!("missing `{name}`"))
                                .help = Some("give `flowSpec: {id, version}`, or the spec's name".to_owned());
                            read.failed = true;
                        }
                        None => read.failed = true,
                    }
                }
            }
            other => {
                cx.reader
                    .error(
                        cx.at("flowSpec"),
                        node.location,
                        format!(
                            "expected a flow spec's name or `{{id, version}}`, found {}",
                            other.kind()
                        ),
                    )
                    .help = Some(format!("e.g. `flowSpec: {CRM_TO_AEP}`"));
                read.failed = true;
            }
        }
    }

    /// The schedule's rules, and the delta column a table source's flow needs.
    fn check(&self, r: &Resource, diagnostics: &mut Diagnostics) {
        let frequency = r.text("schedule.frequency").unwrap_or_default();
        let has = |path: &str| r.values.contains_key(path);
        let interval = match r.values.get("schedule.interval") {
            Some(Value::Plain(v)) => v.as_i64(),
            _ => None,
        };
        if frequency == "once" {
            for path in ["schedule.interval", "schedule.backfill"] {
                if has(path) {
                    let name = path.trim_start_matches("schedule.");
                    diagnostics.push(
                        error(r, path, format!("a schedule that runs `once` takes no `{name}`")).help(
                            format!("remove `{name}`, or run it on a `frequency` other than `once`"),
                        ),
                    );
                }
            }
        } else if !frequency.is_empty() {
            match interval {
                None => diagnostics.push(
                    error(
                        r,
                        "schedule.frequency",
                        format!("a schedule that runs every `{frequency}` needs an `interval`"),
                    )
                    .help(format!("add `interval: N`: runs every N {frequency}s")),
                ),
                Some(n) if frequency == "minute" && n < 15 => diagnostics.push(
                    error(
                        r,
                        "schedule.interval",
                        format!("runs every {n} minutes; AEP's flow specs take at least 15"),
                    )
                    .help("use `interval: 15` or more, or `frequency: hour`"),
                ),
                Some(_) => {}
            }
        }
        if r.hints.get("flowSpec.id").map(String::as_str) == Some(CRM_TO_AEP) && !has("deltaColumn.name") {
            diagnostics.push(
                spec_error(r, format!("a `{CRM_TO_AEP}` dataflow needs a delta column"))
                    .help("add `deltaColumn: {name: LastModifiedDate}` (the column whose value tells new and changed rows)"),
            );
        }
    }

    fn schema(&self, definition: &mut serde_json::Map<String, Json>) {
        if let Some(properties) = definition.get_mut("properties").and_then(Json::as_object_mut) {
            properties.insert(
                "flowSpec".into(),
                serde_json::json!({
                    "description": "its flow spec: by name (`CRMToAEP` for table sources, `CloudStorageToAEP` for files), or `{id, version}`",
                    "oneOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "object", "additionalProperties": false, "required": ["id", "version"],
                         "properties": {"id": {"type": "string"}, "version": {"type": "string"}}}
                    ]
                }),
            );
        }
        if let Some(required) = definition.get_mut("required").and_then(Json::as_array_mut)
            && !required.iter().any(|v| v == "flowSpec")
        {
            required.push(Json::String("flowSpec".into()));
        }
    }

    fn live<'a>(&'a self, cx: LiveCx<'a>) -> BoxFuture<'a, Result<Learned, FlowError>> {
        Box::pin(live(cx))
    }

    fn same(&self, path: &str, want: &Json, have: &Json, cx: Same<'_>) -> bool {
        super::continuity::same(path, want, have, cx)
    }

    fn replacing<'a>(
        &'a self,
        cx: Replacing<'a>,
    ) -> BoxFuture<'a, Result<Vec<crate::kind::Said>, FlowError>> {
        Box::pin(super::continuity::replacing(cx))
    }

    fn hand_over<'a>(&'a self, cx: HandOver<'a>) -> BoxFuture<'a, Result<HandedOver, FlowError>> {
        Box::pin(super::continuity::hand_over(cx))
    }
}

/// A flow spec as AEP lists it: what a flow's check needs of it.
struct Spec {
    id: String,
    name: String,
    version: String,
    sources: Vec<String>,
    targets: Vec<String>,
}

fn spec(l: &crate::flow::model::LiveObject) -> Spec {
    let ids = |key: &str| -> Vec<String> {
        l.body
            .get(key)
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).map(str::to_lowercase).collect())
            .unwrap_or_default()
    };
    Spec {
        id: l.id.to_lowercase(),
        name: l.name.clone(),
        version: l
            .body
            .get("version")
            .and_then(Json::as_str)
            .unwrap_or("1.0")
            .to_owned(),
        sources: ids("sourceConnectionSpecIds"),
        targets: ids("targetConnectionSpecIds"),
    }
}

/// A field of a declared resource as it will be sent: declared, defaulted, or inherited from
/// what it refers to by key (a source connection's spec is its base connection's).
fn declared_text(desired: &crate::config::Desired, r: &Resource, path: &str, depth: usize) -> Option<String> {
    let f = r.kind.field(path)?;
    if let Some(v) = r.value(f).and_then(|v| v.as_str().map(str::to_lowercase)) {
        return Some(v);
    }
    let crate::kind::Default::Inherit {
        reference,
        path: inherited,
    } = f.default
    else {
        return None;
    };
    let via = r.kind.field(reference)?;
    let Some(crate::config::Reference::Key(key)) = r.reference(reference) else {
        return None;
    };
    let target = crate::kind::resource::ref_kind(via)?;
    let t = desired
        .resources
        .get(&crate::kind::address::format(target, &r.sandbox, key))?;
    (depth < 4).then(|| declared_text(desired, t, inherited, depth + 1))?
}

/// The connection spec of what a flow refers to through `field`, when declared here.
fn joined_spec(desired: &crate::config::Desired, r: &Resource, field: &str) -> Option<String> {
    let f = r.kind.field(field)?;
    let Some(crate::config::Reference::Key(key)) = r.reference(field) else {
        return None;
    };
    let kind = crate::kind::resource::ref_kind(f)?;
    let joined = desired
        .resources
        .get(&crate::kind::address::format(kind, &r.sandbox, key))?;
    declared_text(desired, joined, "connectionSpec.id", 0)
}

/// Each flow spec resolved (by name, once per sandbox; by id, once) and checked: the version
/// declared is the spec's, and the spec takes the source's and the target's connection
/// specs (AEP refuses the flow otherwise, 1413 — better in review than at apply, after the
/// old dataflow of a replacement was disabled).
async fn live(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
    let mut learned = specs(&cx).await?;
    mappings(&cx, &mut learned).await?;
    delta_columns(&cx, &mut learned).await?;
    Ok(learned)
}

/// A flow's delta column is a column of its source's table (AEP would accept the dataflow and
/// fail its first run): read through the source's base connection, once per table, where the
/// source is declared here and its base connection exists.
async fn delta_columns(cx: &LiveCx<'_>, learned: &mut Learned) -> Result<(), FlowError> {
    use crate::config::Reference;
    let Some(desired) = cx.desired else {
        return Ok(());
    };
    let source_kind = &crate::kind::source::KIND;
    let Some(base_field) = source_kind.field("baseConnectionId") else {
        return Ok(());
    };
    let mut read: BTreeMap<(String, String, String), Option<Vec<String>>> = BTreeMap::new();
    for r in &cx.resources {
        let Some(delta) = r.text("deltaColumn.name") else {
            continue;
        };
        let Some(Reference::Key(key)) = r.reference("sourceConnectionId") else {
            continue;
        };
        let address = crate::kind::address::format(source_kind, &r.sandbox, key);
        let Some(source) = desired.resources.get(&address) else {
            continue;
        };
        let (Some(table), Some(base)) = (source.text("table"), (cx.ids)(source, base_field)) else {
            continue;
        };
        let at = (source.sandbox.clone(), base, table.to_owned());
        if !read.contains_key(&at) {
            let columns = cx
                .client
                .explore_columns(&at.0, &at.1, &at.2)
                .await?
                .map(|cols| cols.into_iter().map(|c| c.name).collect());
            read.insert(at.clone(), columns);
        }
        let Some(Some(columns)) = read.get(&at) else {
            continue;
        };
        if columns.is_empty() || columns.iter().any(|c| c == delta) {
            continue;
        }
        let help = match crate::diagnostic::did_you_mean(delta, columns.iter().map(String::as_str)) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("`flowform explore {} {table}` lists its columns", source.key),
        };
        learned.diagnostics.push(
            Diagnostic::error(format!(
                "table `{table}` of source connection `{key}` has no column `{delta}`: the dataflow's first run would fail"
            ))
            .at(&r.origin.file, r.place("deltaColumn.name"))
            .of(r.kind, &r.key)
            .field("deltaColumn.name")
            .help(help),
        );
    }
    Ok(())
}

/// The schema a flow's mapping set writes, and the one its target connection's dataset
/// follows, must be the same (AEP refuses the dataflow otherwise, 1425): checked here for a
/// set flowform manages (declared, or as the state recorded it) and for one named by id (read
/// from Data Prep, which must have it). A set created in this plan is checked by its own kind.
async fn mappings(cx: &LiveCx<'_>, learned: &mut Learned) -> Result<(), FlowError> {
    use crate::config::Reference;
    let Some(desired) = cx.desired else {
        return Ok(());
    };
    let set_kind = &crate::kind::mapping::KIND;
    let mut sets: BTreeMap<(String, String), Option<crate::flow::model::LiveObject>> = BTreeMap::new();
    let mut datasets: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for r in &cx.resources {
        let (set_schema, set_name) = match r.reference("mappingId") {
            Some(Reference::Key(key)) => {
                let address = crate::kind::address::format(set_kind, &r.sandbox, key);
                let declared = desired.resources.get(&address).and_then(|s| s.text("schema.id"));
                let recorded = cx.state.resources.get(&address).and_then(|s| s.text("schema.id"));
                (declared.or(recorded).map(str::to_owned), format!("`{key}`"))
            }
            Some(Reference::Id(id)) => {
                let key = (r.sandbox.clone(), id.clone());
                if !sets.contains_key(&key) {
                    let read = cx.client.get(set_kind.collection, &r.sandbox, id).await?;
                    sets.insert(key.clone(), read);
                }
                match sets.get(&key).and_then(Option::as_ref) {
                    Some(set) => (
                        set.text_at("/outputSchema/schemaRef/id").map(str::to_owned),
                        id.clone(),
                    ),
                    None => {
                        learned.diagnostics.push(
                            Diagnostic::error(format!("AEP has no mapping set {id} in sandbox `{}`", r.sandbox))
                                .at(&r.origin.file, r.place("mappingId"))
                                .of(r.kind, &r.key)
                                .field("mappingId")
                                .help("Data Prep's `GET /mappingSets` lists a sandbox's sets; or declare one here (`mappings:`) and name it `mapping: KEY`"),
                        );
                        continue;
                    }
                }
            }
            None => continue,
        };
        let Some(set_schema) = set_schema else { continue };
        let Some(Reference::Key(target)) = r.reference("targetConnectionId") else {
            continue;
        };
        let address = crate::kind::address::format(&crate::kind::target::KIND, &r.sandbox, target);
        let Some(t) = desired.resources.get(&address) else {
            continue;
        };
        // As the state recorded it, where the target connection is on that dataset still.
        let recorded = cx
            .state
            .resources
            .get(&address)
            .filter(|rec| rec.text("dataset") == t.text("dataset"))
            .and_then(|rec| rec.text("schema.id"));
        let target_schema = match (t.text("schema.id").or(recorded), t.text("dataset")) {
            (Some(known), _) => Some(known.to_owned()),
            (None, Some(dataset)) => {
                let key = (t.sandbox.clone(), dataset.to_owned());
                if !datasets.contains_key(&key) {
                    let read = cx.client.dataset(&t.sandbox, dataset).await?;
                    datasets.insert(key.clone(), read.and_then(|d| d.schema));
                }
                datasets.get(&key).cloned().flatten()
            }
            (None, None) => None,
        };
        if let Some(target_schema) = target_schema
            && target_schema != set_schema
        {
            learned.diagnostics.push(
                Diagnostic::error(format!(
                    "mapping set {set_name} writes schema `{set_schema}`, but target connection `{target}` writes `{target_schema}`: AEP would refuse the dataflow (1425)"
                ))
                .at(&r.origin.file, r.place("mappingId"))
                .of(r.kind, &r.key)
                .field("mappingId")
                .help("a dataflow's mapping set writes its dataset's schema: name a mapping set of that schema (one per schema)"),
            );
        }
    }
    Ok(())
}

/// Each flow's spec, resolved and checked (see [`live`]).
async fn specs(cx: &LiveCx<'_>) -> Result<Learned, FlowError> {
    let mut by_name: BTreeMap<(String, String), Vec<Spec>> = BTreeMap::new();
    let mut by_id: BTreeMap<(String, String), Option<Spec>> = BTreeMap::new();
    for r in &cx.resources {
        match (r.hints.get("flowSpec.id"), r.text("flowSpec.id")) {
            (Some(name), _) => {
                let key = (r.sandbox.clone(), name.clone());
                if by_name.contains_key(&key) {
                    continue;
                }
                let listed = cx
                    .client
                    .list_all("/flowSpecs", &r.sandbox, &[Filter::new("name", [name.clone()])])
                    .await?;
                by_name.insert(key, listed.iter().filter(|l| l.name == *name).map(spec).collect());
            }
            (None, Some(id)) => {
                let key = (r.sandbox.clone(), id.to_owned());
                if by_id.contains_key(&key) {
                    continue;
                }
                let found = cx.client.get("/flowSpecs", &r.sandbox, id).await?;
                by_id.insert(key, found.as_ref().map(spec));
            }
            (None, None) => {}
        }
    }
    let mut learned = Learned::default();
    for r in &cx.resources {
        let found: Option<&Spec> = match (r.hints.get("flowSpec.id"), r.text("flowSpec.id")) {
            (Some(name), _) => match by_name.get(&(r.sandbox.clone(), name.clone())).map(Vec::as_slice) {
                Some([one]) => {
                    learned
                        .values
                        .push((r.address(), "flowSpec.id", Json::String(one.id.clone())));
                    learned
                        .values
                        .push((r.address(), "flowSpec.version", Json::String(one.version.clone())));
                    Some(one)
                }
                Some([]) | None => {
                    learned.diagnostics.push(
                        spec_error(r, format!("AEP has no flow spec named `{name}`")).help(format!(
                            "table sources take `{CRM_TO_AEP}`, file sources `CloudStorageToAEP`; `GET /flowSpecs` lists them"
                        )),
                    );
                    None
                }
                Some(several) => {
                    learned.diagnostics.push(
                        spec_error(r, format!("AEP has {} flow specs named `{name}`", several.len())).help(
                            format!(
                                "give the one meant by id: `flowSpec: {{id: {}, version: \"{}\"}}`",
                                several[0].id, several[0].version
                            ),
                        ),
                    );
                    None
                }
            },
            (None, Some(id)) => match by_id.get(&(r.sandbox.clone(), id.to_owned())) {
                Some(Some(found)) => {
                    let declared = r.text("flowSpec.version").unwrap_or_default();
                    if declared != found.version {
                        learned.diagnostics.push(
                            spec_error(
                                r,
                                format!(
                                    "flow spec `{}` ({id}) is at version `{}`, not `{declared}`",
                                    found.name, found.version
                                ),
                            )
                            .help(format!("declare `version: \"{}\"`", found.version)),
                        );
                    }
                    Some(found)
                }
                _ => {
                    learned.diagnostics.push(
                        spec_error(r, format!("AEP has no flow spec `{id}`"))
                            .help("`GET /flowSpecs` lists them; or name one: `flowSpec: CRMToAEP`"),
                    );
                    None
                }
            },
            (None, None) => None,
        };
        let (Some(found), Some(desired)) = (found, cx.desired) else {
            continue;
        };
        for (field, side, takes) in [
            ("sourceConnectionId", "source", &found.sources),
            ("targetConnectionId", "target", &found.targets),
        ] {
            // An empty list takes nothing (AEP refuses the flow, as the emulator does).
            if let Some(joined) = joined_spec(desired, r, field)
                && !takes.contains(&joined)
            {
                let known = crate::catalog::by_id(&joined)
                    .map(|s| format!(" ({})", s.title))
                    .unwrap_or_default();
                learned.diagnostics.push(
                    spec_error(
                        r,
                        format!(
                            "flow spec `{}` does not take the {side} connection's spec `{joined}`{known}: AEP would refuse the dataflow (1413)",
                            found.name
                        ),
                    )
                    .help(format!(
                        "table sources (CRM, databases) take `{CRM_TO_AEP}`, files `CloudStorageToAEP`; the spec's {side} specs are {}",
                        if takes.is_empty() { "none".to_owned() } else { takes.join(", ") }
                    )),
                );
            }
        }
    }
    Ok(learned)
}
