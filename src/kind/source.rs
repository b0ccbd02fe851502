//! Source connections (`sources:`): which table of a base connection's source AEP reads,
//! in the shape of the body of `POST /sourceConnections`.
//!
//! A source connection belongs to its base connection: `connection: KEY` names one declared
//! in the configuration (same sandbox), `baseConnectionId: ID` one that flowform does not
//! manage. AEP cannot point one at another base connection, nor change what it reads: every
//! field but its name and description replaces it (the sources documentation: "create a new
//! pair of source and target connections, as well as a new dataflow"), so replacing a base
//! connection replaces its source connections.

use super::{Default, Field, IdForm, Kind, Plain, Refresh, Type, Update};

pub static KIND: Kind = Kind {
    name: "source",
    section: "sources",
    noun: "source connection",
    collection: "/sourceConnections",
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
    advisories: false,
    hooks: &Plain,
    about: "Source connections: which table of a base connection AEP reads, in the shape of the body of `POST /sourceConnections`.",
};
