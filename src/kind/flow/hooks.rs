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

    fn replacing<'a>(&'a self, cx: Replacing<'a>) -> BoxFuture<'a, Result<Vec<(String, String)>, FlowError>> {
        Box::pin(super::continuity::replacing(cx))
    }

    fn hand_over<'a>(&'a self, cx: HandOver<'a>) -> BoxFuture<'a, Result<HandedOver, FlowError>> {
        Box::pin(super::continuity::hand_over(cx))
    }
}

/// A flow spec as AEP lists it: what a flow's check needs of it.
struct Spec {
    id: String,
    version: String,
}

/// Each flow spec named resolved once per sandbox: its id and version filled in.
async fn live(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
    let wanted = crate::kind::live::by(&cx.resources, |r| {
        r.hints
            .get("flowSpec.id")
            .map(|name| (r.sandbox.clone(), name.clone()))
    });
    let mut found: BTreeMap<(String, String), Vec<Spec>> = BTreeMap::new();
    for (sandbox, name) in wanted.keys() {
        let listed = cx
            .client
            .list_all("/flowSpecs", sandbox, &[Filter::new("name", [name.clone()])])
            .await?;
        let specs = listed
            .into_iter()
            .filter(|l| l.name == *name)
            .map(|l| Spec {
                version: l
                    .body
                    .get("version")
                    .and_then(Json::as_str)
                    .unwrap_or("1.0")
                    .to_owned(),
                id: l.id.to_lowercase(),
            })
            .collect();
        found.insert((sandbox.clone(), name.clone()), specs);
    }
    let mut learned = Learned::default();
    for (key, resources) in &wanted {
        let specs = found.get(key).map(Vec::as_slice).unwrap_or_default();
        for r in resources {
            match specs {
                [spec] => {
                    learned
                        .values
                        .push((r.address(), "flowSpec.id", Json::String(spec.id.clone())));
                    learned
                        .values
                        .push((r.address(), "flowSpec.version", Json::String(spec.version.clone())));
                }
                [] => learned.diagnostics.push(
                    spec_error(r, format!("AEP has no flow spec named `{}`", key.1)).help(format!(
                        "table sources take `{CRM_TO_AEP}`, file sources `CloudStorageToAEP`; `GET /flowSpecs` lists them"
                    )),
                ),
                several => learned.diagnostics.push(
                    spec_error(r, format!("AEP has {} flow specs named `{}`", several.len(), key.1)).help(
                        format!(
                            "give the one meant by id: `flowSpec: {{id: {}, version: \"{}\"}}`",
                            several[0].id, several[0].version
                        ),
                    ),
                ),
            }
        }
    }
    Ok(learned)
}
