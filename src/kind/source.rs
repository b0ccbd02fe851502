//! Source connections (`sources:`): which table of a base connection's source AEP reads,
//! in the shape of the body of `POST /sourceConnections`.
//!
//! A source connection belongs to its base connection: `connection: KEY` names one declared
//! in the configuration (same sandbox), `baseConnectionId: ID` one that flowform does not
//! manage. AEP cannot point one at another base connection, nor change what it reads: every
//! field but its name and description replaces it (the sources documentation: "create a new
//! pair of source and target connections, as well as a new dataflow"), so replacing a base
//! connection replaces its source connections.

use super::{Default, Field, IdForm, Kind, Refresh, Type, Update};

pub static KIND: Kind = Kind {
    name: "source",
    section: "sources",
    noun: "source connection",
    id: super::IdForm::Uuid,
    collection: crate::flow::Collection::flow("/sourceConnections"),
    fields: &[
        Field {
            path: "name",
            api: "/name",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the source connection's display name in AEP",
        },
        Field {
            path: "description",
            api: "/description",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "what the source connection reads",
        },
        Field {
            path: "baseConnectionId",
            api: "/baseConnectionId",
            ty: Type::Ref {
                kind: "connection",
                by_key: "connection",
            },
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "its base connection: `connection: KEY` (declared here, same sandbox) or `baseConnectionId: ID` (one flowform does not manage)",
        },
        Field {
            path: "connectionSpec.id",
            api: "/connectionSpec/id",
            ty: Type::Id(IdForm::Spec),
            required: true,
            default: Default::Inherit {
                reference: "baseConnectionId",
                path: "connectionSpec.id",
            },
            update: Update::Replace,
            custom: false,
            doc: "its base connection's connection spec (taken from it: declare it only to say which it must be)",
        },
        Field {
            path: "connectionSpec.version",
            api: "/connectionSpec/version",
            ty: Type::Text,
            required: true,
            default: Default::Inherit {
                reference: "baseConnectionId",
                path: "connectionSpec.version",
            },
            update: Update::Replace,
            custom: false,
            doc: "its base connection's connection spec version",
        },
        Field {
            path: "table",
            api: "/params/tableName",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the table it reads, by its path in `flowform explore KEY` (Salesforce: the object's API name, e.g. `Contact`)",
        },
        Field {
            path: "columns",
            api: "/params/columns",
            ty: Type::Columns,
            required: false,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the columns it reads, by name (every column when left out)",
        },
        Field {
            path: "data.format",
            api: "/data/format",
            ty: Type::Enum(&["tabular", "delimited", "json", "parquet"]),
            required: true,
            default: Default::Value("\"tabular\""),
            update: Update::Replace,
            custom: false,
            doc: "how the data is shaped: `tabular` for tables (the default)",
        },
    ],
    mapping: &[
        "name",
        "description",
        "connection",
        "baseConnectionId",
        "connectionSpec",
        "table",
        "columns",
        "data",
        "lifecycle",
        "import",
        "sandbox",
    ],
    scope: &["baseConnectionId"],
    refresh: Refresh::ByParent("baseConnectionId"),
    initializes: false,
    disables: false,
    in_use: "FLOW-1447",
    advisories: false,
    hooks: &SourceHooks,
    about: "Source connections: which table of a base connection AEP reads, in the shape of the body of `POST /sourceConnections`.",
};

mod live {
    //! A source connection checked against its source, through its base connection's
    //! explore: the table exists (or a did-you-mean names the nearest), and every column
    //! listed exists in it — so a misspelt table fails in review, not in a dataflow's run.
    //! The columns are learnt typed, as explore types them: AEP's `params.columns` takes
    //! AEP's column objects, and flowform takes them from AEP rather than guess the types.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde_json::Value;

    use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
    use crate::flow::explore::{Column, Table};
    use crate::flow::{Client, FlowError};
    use crate::kind::{Learned, LiveCx, Resource};

    /// What one base connection's source holds: its tables, and the columns of those asked.
    struct Source {
        tables: Option<Vec<Table>>,
        columns: BTreeMap<String, Option<Vec<Column>>>,
    }

    fn error(r: &Resource, path: &str, message: String) -> Diagnostic {
        Diagnostic::error(message)
            .at(&r.origin.file, r.place(path))
            .of(r.kind, &r.key)
            .field(path.to_owned())
    }

    /// Reads, for each base connection, its tables and the columns of the tables asked.
    async fn read(
        client: Arc<Client>,
        sandbox: String,
        base: String,
        tables: Vec<String>,
    ) -> Result<Source, FlowError> {
        let found = client.explore_tables(&sandbox, &base).await?;
        let mut columns = BTreeMap::new();
        if let Some(found) = &found {
            for table in tables {
                if found.iter().any(|t| t.path == table) && !columns.contains_key(&table) {
                    let read = client.explore_columns(&sandbox, &base, &table).await?;
                    columns.insert(table, read);
                }
            }
        }
        Ok(Source {
            tables: found,
            columns,
        })
    }

    pub(super) async fn check(cx: LiveCx<'_>) -> Result<Learned, FlowError> {
        let Some(field) = cx
            .resources
            .first()
            .and_then(|r| r.kind.field("baseConnectionId"))
        else {
            return Ok(Learned::default());
        };
        let mut learned = Learned::default();
        // (sandbox, base id) → the resources, and the tables whose columns they need.
        let mut wanted: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
        for r in &cx.resources {
            match (cx.ids)(r, field) {
                Some(base) => wanted.entry((r.sandbox.clone(), base)).or_default().push(r),
                None => learned.notes.push((
                    r.address(),
                    "its table and columns are checked against AEP once its base connection exists, just before it is created".to_owned(),
                )),
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for ((sandbox, base), resources) in &wanted {
            let tables: Vec<String> = resources
                .iter()
                .filter(|r| r.values.contains_key("columns"))
                .filter_map(|r| r.text("table").map(str::to_owned))
                .collect();
            let (client, sandbox, base) = (cx.client.clone(), sandbox.clone(), base.clone());
            tasks.spawn(async move {
                let key = (sandbox.clone(), base.clone());
                (key, read(client, sandbox, base, tables).await)
            });
        }
        let mut sources: BTreeMap<(String, String), Source> = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            let (key, source) = joined.map_err(|e| FlowError::Protocol {
                method: "GET".into(),
                path: "/connections/{id}/explore".into(),
                reason: format!("an explore task failed: {e}"),
            })?;
            sources.insert(key, source?);
        }
        let mut diagnostics = Diagnostics::default();
        for (key, resources) in &wanted {
            let Some(source) = sources.get(key) else { continue };
            for r in resources {
                check_one(r, source, &mut diagnostics, &mut learned);
            }
        }
        for d in diagnostics.iter() {
            learned.diagnostics.push(d.clone());
        }
        Ok(learned)
    }

    fn check_one(r: &Resource, source: &Source, diagnostics: &mut Diagnostics, learned: &mut Learned) {
        let Some(table) = r.text("table") else { return };
        let Some(tables) = &source.tables else {
            // AEP has no such base connection: a literal id that is wrong, or one deleted
            // outside flowform (which the plan creates again).
            if let Some(crate::config::Reference::Id(id)) = r.reference("baseConnectionId") {
                diagnostics.push(error(
                    r,
                    "baseConnectionId",
                    format!("AEP has no base connection {id} in sandbox `{}`", r.sandbox),
                ));
            }
            return;
        };
        if !tables.iter().any(|t| t.path == table) {
            // A label written for the path: say which path it is.
            let by_label = tables.iter().find(|t| t.name.eq_ignore_ascii_case(table));
            let near = did_you_mean(table, tables.iter().map(|t| t.path.as_str()));
            let help = match (by_label, near) {
                (Some(t), _) => format!(
                    "`{table}` is the label of `{}`: a table is named by its path",
                    t.path
                ),
                (None, Some(s)) => format!("did you mean `{s}`?"),
                (None, None) => "`flowform explore KEY` lists the tables".to_owned(),
            };
            diagnostics.push(error(r, "table", format!("the source has no table `{table}`")).help(help));
            return;
        }
        let Some(Value::Array(declared)) = r.values.get("columns").and_then(|v| match v {
            crate::config::Value::Plain(v) => Some(v),
            _ => None,
        }) else {
            return;
        };
        let Some(Some(columns)) = source.columns.get(table) else {
            return;
        };
        let mut typed = Vec::new();
        let mut ok = true;
        for (i, c) in declared.iter().enumerate() {
            let Some(name) = c.as_str().or_else(|| c["name"].as_str()) else {
                continue;
            };
            match columns.iter().find(|col| col.name == name) {
                Some(col) => typed.push(col.object.clone()),
                None => {
                    ok = false;
                    let help = match did_you_mean(name, columns.iter().map(|c| c.name.as_str())) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("`flowform explore KEY {table}` lists its columns"),
                    };
                    diagnostics.push(
                        Diagnostic::error(format!("table `{table}` has no column `{name}`"))
                            .at(&r.origin.file, r.item_place("columns", i))
                            .of(r.kind, &r.key)
                            .field("columns".to_owned())
                            .help(help),
                    );
                }
            }
        }
        if ok {
            learned.values.push((r.address(), "columns", Value::Array(typed)));
        }
    }
}

struct SourceHooks;

impl super::Hooks for SourceHooks {
    /// The columns listed read something, each once.
    fn check(&self, r: &super::Resource, diagnostics: &mut crate::diagnostic::Diagnostics) {
        let Some(super::Value::Plain(serde_json::Value::Array(columns))) = r.values.get("columns") else {
            return;
        };
        let error = |message: String| {
            crate::diagnostic::Diagnostic::error(message)
                .at(&r.origin.file, r.place("columns"))
                .of(r.kind, &r.key)
                .field("columns")
        };
        if columns.is_empty() {
            diagnostics.push(
                error("`columns: []` reads no column".to_owned())
                    .help("list the columns it reads, or leave `columns` out to read every one"),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, column) in columns.iter().enumerate() {
            let Some(name) = column.as_str() else { continue };
            if !seen.insert(name) {
                diagnostics.push(
                    error(format!("column `{name}` is listed twice"))
                        .at(&r.origin.file, r.item_place("columns", i))
                        .help("list each column once: AEP would read it twice"),
                );
            }
        }
    }

    fn live<'a>(
        &'a self,
        cx: super::LiveCx<'a>,
    ) -> super::BoxFuture<'a, Result<super::Learned, crate::flow::FlowError>> {
        Box::pin(live::check(cx))
    }
}
