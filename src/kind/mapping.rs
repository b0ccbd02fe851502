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

    /// The schema a dataflow's target connection writes: declared, or its dataset's.
    async fn target_schema(
        cx: &LiveCx<'_>,
        desired: &Desired,
        flow: &Resource,
    ) -> Result<Option<String>, FlowError> {
        let target = match flow.reference("targetConnectionId") {
            Some(Reference::Key(key)) => {
                let address = crate::kind::address::format(&crate::kind::target::KIND, &flow.sandbox, key);
                desired.resources.get(&address)
            }
            _ => None,
        };
        let Some(target) = target else {
            return Ok(None);
        };
        if let Some(schema) = target.text("schema.id") {
            return Ok(Some(schema.to_owned()));
        }
        let Some(dataset) = target.text("dataset") else {
            return Ok(None);
        };
        Ok(cx
            .client
            .dataset(&target.sandbox, dataset)
            .await?
            .and_then(|d| d.schema))
    }

    pub(super) async fn check(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
        let mut learned = Learned::default();
        for r in &cx.resources {
            let mut schema = r.text("schema.id").map(str::to_owned);
            if let Some(desired) = cx.desired {
                let mut theirs = BTreeSet::new();
                for flow in users(desired, r) {
                    if let Some(s) = target_schema(&cx, desired, flow).await? {
                        theirs.insert((s, flow.key.clone()));
                    }
                }
                let schemas: BTreeSet<&String> = theirs.iter().map(|(s, _)| s).collect();
                match (&schema, schemas.len()) {
                    (None, 1) => {
                        let s = theirs.iter().next().map(|(s, _)| s.clone()).unwrap_or_default();
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
            let verdicts = cx
                .client
                .validate_mappings(r.kind.collection, &r.sandbox, &body)
                .await?;
            for (i, (verdict, row)) in verdicts.iter().zip(rows.iter()).enumerate() {
                if let Some(reason) = verdict {
                    learned.diagnostics.push(
                        error(
                            r,
                            "mappings",
                            format!(
                                "mapping {} (`{}` → `{}`): Data Prep says {reason}",
                                i + 1,
                                row["source"].as_str().unwrap_or_default(),
                                row["destination"].as_str().unwrap_or_default()
                            ),
                        )
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
