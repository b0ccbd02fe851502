//! Mapping sets (`mappings:`): how a dataflow's source columns become the fields of its
//! dataset's XDM schema, in the shape of the body of Data Prep's `POST /mappingSets`
//! (flow-service-explore-runs §4).
//!
//! A mapping set lives in another API than the rest, Data Prep's (`/data/foundation/conversion`):
//! read bare, listed by offset, versioned. Every change is a PUT of the whole set, which
//! moves its version on; a dataflow pins a version (`mappingVersion`), and follows the set's
//! new one by JSON Patch in the same apply. Data Prep has no DELETE: a set no longer declared
//! leaves flowform's management and stays in AEP, as the plan says.
//!
//! Its output schema is its dataflow's dataset's unless declared: flowform reads the dataset
//! of the target connection of a dataflow that uses the set. Its mappings are checked by
//! `POST /mappingSets/validate` when a plan would send them.

use super::{Default, Field, IdForm, Kind, Refresh, Type, Update};

pub static KIND: Kind = Kind {
    name: "mapping",
    section: "mappings",
    noun: "mapping set",
    id: IdForm::Hex32,
    collection: crate::flow::Collection::prep("/mappingSets"),
    fields: &[
        Field {
            path: "name",
            api: "/name",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the mapping set's name in AEP",
        },
        Field {
            path: "schema.id",
            api: "/outputSchema/schemaRef/id",
            ty: Type::Text,
            required: true,
            default: Default::Live,
            update: Update::Patch,
            custom: false,
            doc: "the XDM schema it writes (the dataset's of a dataflow that uses it, when left out)",
        },
        Field {
            path: "schema.contentType",
            api: "/outputSchema/schemaRef/contentType",
            ty: Type::Text,
            required: true,
            default: Default::Value("\"application/vnd.adobe.xed-full+json;version=1\""),
            update: Update::Patch,
            custom: false,
            doc: "the schema's content type and version",
        },
        Field {
            path: "mappings",
            api: "/mappings",
            ty: Type::Mappings,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the mappings: `{source, destination, sourceType}` each (`sourceType` ATTRIBUTE unless said; EXPRESSION, STATIC)",
        },
    ],
    mapping: &["name", "schema", "mappings", "lifecycle", "import", "sandbox"],
    scope: &[],
    refresh: Refresh::ById,
    initializes: false,
    disables: false,
    in_use: "",
    advisories: false,
    hooks: &hooks::MappingHooks,
    about: "Mapping sets (Data Prep): how a dataflow's source columns become its dataset's XDM fields, in the shape of the body of `POST /mappingSets`.",
};

mod hooks {
    //! A mapping set checked against AEP: its schema learnt from the dataset of a dataflow
    //! that uses it (when not declared), and its mappings validated by Data Prep.

    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use crate::config::{Desired, Reference};
    use crate::diagnostic::Diagnostic;
    use crate::flow::FlowError;
    use crate::kind::{Learned, LiveCx, Resource};

    pub struct MappingHooks;

    fn error(r: &Resource, path: &str, message: String) -> Diagnostic {
        Diagnostic::error(message)
            .at(&r.origin.file, r.place(path))
            .of(r.kind, &r.key)
            .field(path.to_owned())
    }

    /// The dataflows declared to use `r` (by key, same sandbox).
    fn users<'a>(desired: &'a Desired, r: &Resource) -> Vec<&'a Resource> {
        desired
            .of(&crate::kind::flow::KIND)
            .filter(|f| f.sandbox == r.sandbox)
            .filter(|f| matches!(f.reference("mappingId"), Some(Reference::Key(k)) if *k == r.key))
            .collect()
    }

    /// What a dataflow's target connection says of its schema: declared, or the dataset it
    /// is read from.
    enum Schema {
        Declared(String),
        Dataset(String, String),
    }

    fn target_schema(desired: &Desired, flow: &Resource) -> Option<Schema> {
        let Some(Reference::Key(key)) = flow.reference("targetConnectionId") else {
            return None;
        };
        let address = crate::kind::address::format(&crate::kind::target::KIND, &flow.sandbox, key);
        let target = desired.resources.get(&address)?;
        if let Some(schema) = target.text("schema.id") {
            return Some(Schema::Declared(schema.to_owned()));
        }
        target
            .text("dataset")
            .map(|d| Schema::Dataset(target.sandbox.clone(), d.to_owned()))
    }

    /// The schema the state recorded of a managed set.
    fn recorded_schema(cx: &LiveCx<'_>, r: &Resource) -> Option<String> {
        cx.state
            .resources
            .get(&r.address())
            .and_then(|rec| rec.text("schema.id"))
            .map(str::to_owned)
    }

    fn task_failed(e: &tokio::task::JoinError) -> FlowError {
        FlowError::Protocol {
            method: "POST".into(),
            path: "/data/foundation/conversion/mappingSets/validate".into(),
            reason: format!("a check task failed: {e}"),
        }
    }

    pub(super) async fn check(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
        let mut learned = Learned::default();
        // What each set's dataflows say of their schema; the datasets to read, each once,
        // all at once.
        let mut said: Vec<Vec<(Schema, String)>> = Vec::new();
        let mut datasets: BTreeSet<(String, String)> = BTreeSet::new();
        for r in &cx.resources {
            let mut theirs = Vec::new();
            if let Some(desired) = cx.desired {
                for flow in users(desired, r) {
                    if let Some(schema) = target_schema(desired, flow) {
                        if let Schema::Dataset(sandbox, id) = &schema {
                            datasets.insert((sandbox.clone(), id.clone()));
                        }
                        theirs.push((schema, flow.key.clone()));
                    }
                }
            }
            said.push(theirs);
        }
        let mut reads = tokio::task::JoinSet::new();
        for (sandbox, id) in datasets {
            let client = cx.client.clone();
            reads.spawn(async move {
                let read = client.dataset(&sandbox, &id).await;
                ((sandbox, id), read)
            });
        }
        let mut schemas: std::collections::BTreeMap<(String, String), Option<String>> = Default::default();
        while let Some(joined) = reads.join_next().await {
            let (key, read) = joined.map_err(|e| task_failed(&e))?;
            schemas.insert(key, read?.and_then(|d| d.schema));
        }
        let mut validations = tokio::task::JoinSet::new();
        for (at, (r, theirs)) in cx.resources.iter().zip(said).enumerate() {
            let mut schema = r.text("schema.id").map(str::to_owned);
            let theirs: BTreeSet<(String, String)> = theirs
                .into_iter()
                .filter_map(|(s, flow)| match s {
                    Schema::Declared(s) => Some((s, flow)),
                    Schema::Dataset(sandbox, id) => {
                        schemas.get(&(sandbox, id)).cloned().flatten().map(|s| (s, flow))
                    }
                })
                .collect();
            if cx.desired.is_some() {
                let distinct: BTreeSet<&String> = theirs.iter().map(|(s, _)| s).collect();
                match (&schema, distinct.len()) {
                    (None, 1) => {
                        let s = theirs.iter().next().map(|(s, _)| s.clone()).unwrap_or_default();
                        learned.values.push((r.address(), "schema.id", Value::String(s.clone())));
                        schema = Some(s);
                    }
                    (None, 0) if recorded_schema(&cx, r).is_some() => {
                        let s = recorded_schema(&cx, r).unwrap_or_default();
                        learned.values.push((r.address(), "schema.id", Value::String(s.clone())));
                        schema = Some(s);
                    }
                    (None, 0) => learned.diagnostics.push(
                        error(r, "mappings", format!("no dataflow here says which schema mapping set `{}` writes", r.key))
                            .help("declare `schema: {id: …}`, or name it from a dataflow (`mapping: KEY`) whose target connection is declared here"),
                    ),
                    (_, 0) => {}
                    (declared, _) => {
                        for (s, flow) in &theirs {
                            if declared.as_deref().is_some_and(|d| d == s) {
                                continue;
                            }
                            learned.diagnostics.push(
                                error(r, if declared.is_some() { "schema.id" } else { "mappings" }, format!(
                                    "dataflow `{flow}` writes schema `{s}`, but mapping set `{}` {}",
                                    r.key,
                                    match declared {
                                        Some(d) => format!("writes `{d}`"),
                                        None => "is used by dataflows writing other schemas too".to_owned(),
                                    }
                                ))
                                .help("a mapping set's output schema is its dataflow's dataset's (AEP refuses the dataflow otherwise): use one mapping set per schema"),
                            );
                        }
                    }
                }
            }
            let (Some(schema), Some(Value::Array(rows))) =
                (schema, r.kind.field("mappings").and_then(|f| r.value(f)))
            else {
                continue;
            };
            let body = json!({
                "outputSchema": {"schemaRef": {"id": schema, "contentType": r.text("schema.contentType").unwrap_or("application/vnd.adobe.xed-full+json;version=1")}},
                "mappings": rows,
            });
            let (client, sandbox, collection) = (cx.client.clone(), r.sandbox.clone(), r.kind.collection);
            validations.spawn(async move {
                let verdicts = client.validate_mappings(collection, &sandbox, &body).await;
                (at, rows, verdicts)
            });
        }
        while let Some(joined) = validations.join_next().await {
            let (at, rows, verdicts) = joined.map_err(|e| task_failed(&e))?;
            let r = cx.resources[at];
            for (i, (verdict, row)) in verdicts?.iter().zip(rows.iter()).enumerate() {
                if let Some(reason) = verdict {
                    learned.diagnostics.push(
                        Diagnostic::error(format!(
                                "mapping {} (`{}` → `{}`): Data Prep says {reason}",
                                i + 1,
                                row["source"].as_str().unwrap_or_default(),
                                row["destination"].as_str().unwrap_or_default()
                        ))
                        .at(&r.origin.file, r.item_place("mappings", i))
                        .of(r.kind, &r.key)
                        .field("mappings".to_owned())
                        .help("fix the mapping (a destination is a field of the schema, as `personalEmail.address`); `POST /mappingSets/validate` is what checked it"),
                    );
                }
            }
        }
        Ok(learned)
    }

    impl crate::kind::Hooks for MappingHooks {
        fn live<'a>(&'a self, cx: LiveCx<'a>) -> crate::kind::BoxFuture<'a, Result<Learned, FlowError>> {
            Box::pin(check(cx))
        }
    }
}
