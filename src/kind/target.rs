//! Target connections (`targets:`): which dataset of the data lake receives the data, in
//! the shape of the body of `POST /targetConnections`.
//!
//! A data-lake target connection names a Catalog dataset (`dataset: ID`) and the XDM schema
//! its data follows. The schema is the dataset's own unless declared: flowform reads the
//! dataset (`GET /dataSets/{id}`) when it talks to AEP, takes its `schemaRef.id`, and refuses
//! a declared schema that is not the dataset's (AEP would refuse the dataflow, 1425). Like a
//! source connection, it changes only its name and description in place.

use super::{Default, Field, IdForm, Kind, Refresh, Type, Update};

/// The data lake's connection spec, every data-lake target connection's.
pub const DATA_LAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";

pub static KIND: Kind = Kind {
    name: "target",
    section: "targets",
    noun: "target connection",
    id: super::IdForm::Uuid,
    collection: crate::flow::Collection::flow("/targetConnections"),
    fields: &[
        Field {
            path: "name",
            api: "/name",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the target connection's display name in AEP",
        },
        Field {
            path: "description",
            api: "/description",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "what the target connection receives",
        },
        Field {
            path: "dataset",
            api: "/params/dataSetId",
            ty: Type::Id(IdForm::Catalog),
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the Catalog dataset that receives the data, by id (24 hex digits)",
        },
        Field {
            path: "schema.id",
            api: "/data/schema/id",
            ty: Type::Text,
            required: true,
            default: Default::Live,
            update: Update::Replace,
            custom: false,
            doc: "the XDM schema the data follows (the dataset's own when left out)",
        },
        Field {
            path: "schema.version",
            api: "/data/schema/version",
            ty: Type::Text,
            required: true,
            default: Default::Value("\"application/vnd.adobe.xed-full+json;version=1\""),
            update: Update::Replace,
            custom: false,
            doc: "the schema's content type and version",
        },
        Field {
            path: "connectionSpec.id",
            api: "/connectionSpec/id",
            ty: Type::Id(IdForm::Spec),
            required: true,
            default: Default::Value("\"c604ff05-7f1a-43c0-8e18-33bf874cb11c\""),
            update: Update::Replace,
            custom: false,
            doc: "the data lake's connection spec (the default)",
        },
        Field {
            path: "connectionSpec.version",
            api: "/connectionSpec/version",
            ty: Type::Text,
            required: true,
            default: Default::Value("\"1.0\""),
            update: Update::Replace,
            custom: false,
            doc: "the connection spec's version",
        },
    ],
    mapping: &[
        "name",
        "description",
        "dataset",
        "schema",
        "connectionSpec",
        "lifecycle",
        "import",
        "sandbox",
    ],
    scope: &["connectionSpec.id", "dataset"],
    refresh: Refresh::ById,
    initializes: false,
    disables: false,
    in_use: "FLOW-1447",
    advisories: false,
    hooks: &TargetHooks,
    about: "Target connections: which dataset of the data lake receives the data, in the shape of the body of `POST /targetConnections`.",
};

mod live {
    //! A target connection checked against the Catalog: its dataset exists in its sandbox,
    //! and the schema is the dataset's (declared, it must be; left out, it is learnt from
    //! the dataset's `schemaRef.id`).

    use std::collections::BTreeMap;

    use serde_json::Value;

    use crate::diagnostic::Diagnostic;
    use crate::flow::FlowError;
    use crate::flow::explore::Dataset;
    use crate::kind::{Learned, LiveCx, Resource};

    fn error(r: &Resource, path: &str, message: String) -> Diagnostic {
        Diagnostic::error(message)
            .at(&r.origin.file, r.place(path))
            .of(r.kind, &r.key)
            .field(path.to_owned())
    }

    pub(super) async fn check(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
        let wanted = crate::kind::live::by(&cx.resources, |r| {
            r.text("dataset").map(|d| (r.sandbox.clone(), d.to_owned()))
        });
        let mut tasks = tokio::task::JoinSet::new();
        for (sandbox, id) in wanted.keys() {
            let (client, sandbox, id) = (cx.client.clone(), sandbox.clone(), id.clone());
            tasks.spawn(async move {
                let read = client.dataset(&sandbox, &id).await;
                ((sandbox, id), read)
            });
        }
        let mut found: BTreeMap<(String, String), Option<Dataset>> = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            let (key, read) = joined.map_err(|e| FlowError::Protocol {
                method: "GET".into(),
                path: "/dataSets/{id}".into(),
                reason: format!("a Catalog task failed: {e}"),
            })?;
            found.insert(key, read?);
        }
        let mut learned = Learned::default();
        for (key, resources) in &wanted {
            for r in resources {
                match found.get(key).and_then(Option::as_ref) {
                    None => learned.diagnostics.push(
                        error(r, "dataset", format!("AEP has no dataset `{}` in sandbox `{}`", key.1, key.0))
                            .help("the Catalog's `GET /dataSets` lists a sandbox's datasets; a dataset belongs to one sandbox"),
                    ),
                    Some(Dataset { schema: None, .. }) => learned.diagnostics.push(
                        error(r, "dataset", format!("dataset `{}` has no schema (`schemaRef`)", key.1))
                            .help("declare `schema: {id: …}`"),
                    ),
                    Some(Dataset {
                        schema: Some(schema),
                        name,
                        ..
                    }) => match r.text("schema.id") {
                        Some(declared) if declared != schema => learned.diagnostics.push(
                            error(
                                r,
                                "schema.id",
                                format!("dataset `{}` ({name}) follows schema `{schema}`, not `{declared}`", key.1),
                            )
                            .help("remove `schema` (the dataset's is taken), or name the dataset of this schema; AEP refuses a dataflow whose schema is not its dataset's (1425)"),
                        ),
                        Some(_) => {}
                        None => learned
                            .values
                            .push((r.address(), "schema.id", Value::String(schema.clone()))),
                    },
                }
            }
        }
        Ok(learned)
    }
}

struct TargetHooks;

impl super::Hooks for TargetHooks {
    /// A source's connection spec (one flowform knows) is no target's.
    fn check(&self, r: &super::Resource, diagnostics: &mut crate::diagnostic::Diagnostics) {
        let Some(id) = r.text("connectionSpec.id") else {
            return;
        };
        if let Some(spec) = crate::catalog::by_id(id) {
            diagnostics.push(
                crate::diagnostic::Diagnostic::error(format!(
                    "`{id}` is the connection spec of the source {}, not of a destination",
                    spec.title
                ))
                .at(&r.origin.file, r.place("connectionSpec.id"))
                .of(r.kind, &r.key)
                .field("connectionSpec.id")
                .help(format!(
                    "leave `connectionSpec` out for the data lake's ({DATA_LAKE_SPEC}); the source's spec belongs on its base connection"
                )),
            );
        }
    }

    fn live<'a>(
        &'a self,
        cx: super::LiveCx<'a>,
    ) -> super::BoxFuture<'a, Result<super::Learned, crate::flow::FlowError>> {
        Box::pin(live::check(cx))
    }
}
