//! Dataflows (`flows:`): what moves a source connection's table into a target connection's
//! dataset, when, and whether it runs, in the shape of the body of `POST /flows`.
//!
//! A flow joins one source connection (`source: KEY` or `sourceConnectionId: ID`) and one
//! target connection (`target: KEY` or `targetConnectionId: ID`) under a flow spec, named
//! (`flowSpec: CRMToAEP`, resolved through `GET /flowSpecs?property=name==…` when flowform
//! talks to AEP) or given (`flowSpec: {id, version}`). What changes in place, as the
//! sources docs show (update-dataflows): its name, description and schedule by JSON Patch;
//! whether it runs by `POST /flows/{id}/action?op=enable|disable` (AEP refuses `state` on
//! create, 1410, and it is no patch path). What does not: its source, target and spec — AEP
//! says to create a new flow — and the Copy transformation's delta column (documented for
//! no patch; decided here: a replacement).
//!
//! The schedule is declared as the API's `scheduleParams` are, with the types its rules
//! say (`interval: 15`, `backfill: false`, `startTime` as RFC 3339 or epoch seconds); AEP
//! returns them as strings, which are the same values: nothing is a perpetual difference.

use super::{Default, Field, IdForm, Kind, Refresh, Type, Update};

/// `CRMToAEP`'s id, for examples in help.
pub const CRM_TO_AEP_ID: &str = "14518937-270c-4525-bdec-c2ba7cce3860";

/// The frequencies a schedule takes (the flow specs' `scheduleSpec`).
pub const FREQUENCIES: &[&str] = &["once", "minute", "hour", "day", "week"];

pub static KIND: Kind = Kind {
    name: "flow",
    section: "flows",
    noun: "dataflow",
    id: crate::kind::IdForm::Uuid,
    collection: crate::flow::Collection::flow("/flows"),
    fields: &[
        Field {
            path: "name",
            api: "/name",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the dataflow's display name in AEP",
        },
        Field {
            path: "description",
            api: "/description",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "what the dataflow moves",
        },
        Field {
            path: "sourceConnectionId",
            api: "/sourceConnectionIds/0",
            ty: Type::Ref {
                kind: "source",
                by_key: "source",
            },
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "what it reads: `source: KEY` (a source connection declared here, same sandbox) or `sourceConnectionId: ID` (one flowform does not manage)",
        },
        Field {
            path: "targetConnectionId",
            api: "/targetConnectionIds/0",
            ty: Type::Ref {
                kind: "target",
                by_key: "target",
            },
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "where it writes: `target: KEY` (a target connection declared here, same sandbox) or `targetConnectionId: ID` (one flowform does not manage)",
        },
        Field {
            path: "flowSpec.id",
            api: "/flowSpec/id",
            ty: Type::Id(IdForm::Spec),
            required: true,
            default: Default::Live,
            update: Update::Replace,
            custom: true,
            doc: "its flow spec: by name (`flowSpec: CRMToAEP` for table sources, `CloudStorageToAEP` for files), resolved through AEP, or `flowSpec: {id, version}`",
        },
        Field {
            path: "flowSpec.version",
            api: "/flowSpec/version",
            ty: Type::Text,
            required: true,
            default: Default::Live,
            update: Update::Replace,
            custom: true,
            doc: "its flow spec's version",
        },
        Field {
            path: "deltaColumn.name",
            api: "/transformations/name=Copy/params/deltaColumn/name",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the column whose value tells new and changed rows (CRM sources need one: the Copy transformation's delta column), e.g. `LastModifiedDate`",
        },
        Field {
            path: "deltaColumn.dateFormat",
            api: "/transformations/name=Copy/params/deltaColumn/dateFormat",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the delta column's date format, e.g. `yyyy-MM-dd HH:mm:ss`",
        },
        Field {
            path: "deltaColumn.timezone",
            api: "/transformations/name=Copy/params/deltaColumn/timezone",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Replace,
            custom: false,
            doc: "the delta column's time zone, e.g. `UTC`",
        },
        Field {
            path: "mappingId",
            api: "/transformations/name=Mapping/params/mappingId",
            ty: Type::Ref {
                kind: "mapping",
                by_key: "mapping",
            },
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "how its columns become the dataset's fields: `mapping: KEY` (a mapping set declared here, same sandbox) or `mappingId: ID` (one flowform does not manage)",
        },
        Field {
            path: "mappingVersion",
            api: "/transformations/name=Mapping/params/mappingVersion",
            ty: Type::Int { min: 0 },
            required: false,
            default: Default::Version {
                reference: "mappingId",
            },
            update: Update::Patch,
            custom: true,
            doc: "the mapping set's version it uses: the one flowform last wrote (never declared; moved on by JSON Patch when the set changes)",
        },
        Field {
            path: "schedule.frequency",
            api: "/scheduleParams/frequency",
            ty: Type::Enum(FREQUENCIES),
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "how often it runs: `once`, `minute`, `hour`, `day` or `week`",
        },
        Field {
            path: "schedule.interval",
            api: "/scheduleParams/interval",
            ty: Type::Int { min: 1 },
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "how many of `frequency` between runs (at least 15 minutes; none for `once`)",
        },
        Field {
            path: "schedule.startTime",
            api: "/scheduleParams/startTime",
            ty: Type::Time,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "when its first run is due: RFC 3339 in UTC (`2026-12-01T06:00:00Z`) or epoch seconds",
        },
        Field {
            path: "schedule.backfill",
            api: "/scheduleParams/backfill",
            ty: Type::Bool,
            required: false,
            default: Default::Server,
            update: Update::Patch,
            custom: false,
            doc: "whether its first run also reads what is older than `startTime` (AEP's default: true; none for `once`)",
        },
        Field {
            path: "enabled",
            api: "/state",
            ty: Type::Switch {
                on: "enabled",
                off: "disabled",
            },
            required: false,
            default: Default::Value("true"),
            update: Update::Action {
                on: "enable",
                off: "disable",
                created: true,
            },
            custom: false,
            doc: "whether it runs on its schedule (default true); changed by AEP's enable and disable actions",
        },
    ],
    mapping: &[
        "name",
        "description",
        "source",
        "sourceConnectionId",
        "target",
        "targetConnectionId",
        "flowSpec",
        "deltaColumn",
        "mapping",
        "mappingId",
        "schedule",
        "enabled",
        "lifecycle",
        "import",
        "sandbox",
    ],
    scope: &["sourceConnectionId"],
    refresh: Refresh::ByParent("sourceConnectionId"),
    initializes: false,
    disables: false,
    in_use: "",
    advisories: false,
    hooks: &hooks::FlowHooks,
    about: "Dataflows: what moves a source connection's table into a target connection's dataset, when, and whether it runs, in the shape of the body of `POST /flows`.",
};

pub mod continuity;
mod hooks;
