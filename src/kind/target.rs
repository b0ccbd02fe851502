//! Target connections (`targets:`): which dataset of the data lake receives the data, in
//! the shape of the body of `POST /targetConnections`.
//!
//! A data-lake target connection names a Catalog dataset (`dataset: ID`) and the XDM schema
//! its data follows. The schema is the dataset's own unless declared: flowform reads the
//! dataset (`GET /dataSets/{id}`) when it talks to AEP, takes its `schemaRef.id`, and refuses
//! a declared schema that is not the dataset's (AEP would refuse the dataflow, 1425). Like a
//! source connection, it changes only its name and description in place.

use super::{Default, Field, IdForm, Kind, Plain, Refresh, Type, Update};

/// The data lake's connection spec, every data-lake target connection's.
pub const DATA_LAKE_SPEC: &str = "c604ff05-7f1a-43c0-8e18-33bf874cb11c";

pub static KIND: Kind = Kind {
    name: "target",
    section: "targets",
    noun: "target connection",
    collection: "/targetConnections",
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
    advisories: false,
    hooks: &Plain,
    about: "Target connections: which dataset of the data lake receives the data, in the shape of the body of `POST /targetConnections`.",
};
