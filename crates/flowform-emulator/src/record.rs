//! What every listed Flow Service resource is to the machinery that stores, filters, orders
//! and pages it: a [`Record`] of one [`Kind`].
//!
//! Base, source and target connections are different structs with different JSON, but a
//! listing needs the same few things from each: an id, a name, an organization and sandbox,
//! the sequence number of its last change, its earlier places (for snapshot-consistent
//! paging), its rendered JSON and the value of any top-level property (for `property`
//! filters). [`crate::collection::Collection`] is written once over this trait.

use std::borrow::Cow;

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of resource the Flow Service lists, by the path they are served under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Connections,
    SourceConnections,
    TargetConnections,
    Flows,
    Runs,
}

/// The properties every Flow Service entity carries.
const COMMON: &[&str] = &[
    "id",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "name",
    "description",
    "connectionSpec",
    "state",
    "version",
    "etag",
];

impl Kind {
    /// The collection's path under the Flow Service base, and the word AEP's 404s use
    /// ("sourceConnections not found with id = […]").
    pub fn path(self) -> &'static str {
        match self {
            Kind::Connections => "connections",
            Kind::SourceConnections => "sourceConnections",
            Kind::TargetConnections => "targetConnections",
            Kind::Flows => "flows",
            Kind::Runs => "runs",
        }
    }

    /// Whether `name` is a top-level property of this kind's items (as the OpenAPI's
    /// `ConnectionItemDTO`, `SourceConnectionItemDTO` and `TargetConnectionItemDTO` declare
    /// them): the first step of a `property` filter's path must be one.
    pub fn has_property(self, name: &str) -> bool {
        let own: &[&str] = match self {
            Kind::Connections => &["auth"],
            Kind::SourceConnections | Kind::TargetConnections => {
                &["baseConnectionId", "data", "params", "inheritedAttributes"]
            }
            Kind::Flows => FLOW_OWN,
            // A run has no name, description, spec, state or version: its own list is whole.
            Kind::Runs => return RUN_PROPERTIES.contains(&name),
        };
        let common = COMMON.contains(&name) && !(self == Kind::Flows && name == "connectionSpec");
        common || own.contains(&name)
    }
}

/// A flow's own properties (the OpenAPI's `FlowItemDTO`, with `options` and `description`).
const FLOW_OWN: &[&str] = &[
    "flowSpec",
    "sourceConnectionIds",
    "targetConnectionIds",
    "inheritedAttributes",
    "transformations",
    "scheduleParams",
    "options",
    "runs",
    "lastOperation",
    "lastRunDetails",
];

/// A run's properties (`FlowRunItemDTO`, spelled as the docs spell it).
const RUN_PROPERTIES: &[&str] = &[
    "id",
    "flowId",
    "flowSpec",
    "createdAt",
    "updatedAt",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "etag",
    "providerRefId",
    "params",
    "metrics",
    "activities",
];

/// A place a record held earlier in the listing orders: its sequence number and name until
/// `until_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Earlier {
    pub seq: u64,
    pub name: String,
    pub until_ms: i64,
}

/// One stored resource, as a [`crate::collection::Collection`] needs it.
pub trait Record {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
    fn org(&self) -> &str;
    fn sandbox(&self) -> &str;
    /// The sequence number of its last change.
    fn seq(&self) -> u64;
    fn earlier(&self) -> &[Earlier];
    fn earlier_mut(&mut self) -> &mut Vec<Earlier>;
    /// Records a change: the new sequence number and `updatedAt`, and forgets the cached
    /// render.
    fn stamp(&mut self, seq: u64, now_ms: i64);
    /// The base connection it uses (source and target connections), for the
    /// `baseConnectionId` index and the 1418 check.
    fn base_connection_id(&self) -> Option<&str> {
        None
    }
    /// The value of the kind's reference index: the base connection for source and target
    /// connections, the flow for runs (`flowId==` filters read it).
    fn indexed_ref(&self) -> Option<&str> {
        self.base_connection_id()
    }
    /// When an initializing record becomes enabled.
    fn enable_at(&self) -> Option<i64> {
        None
    }
    /// The item as a GET shows it.
    fn to_json(&self) -> Value;
    /// [`Record::to_json`], serialized once per version of the record.
    fn rendered(&self) -> &Bytes;
    /// The top-level property `name` of [`Record::to_json`], for filters. Implementations
    /// answer the common ones without rendering the whole item; a test holds them to
    /// `to_json`.
    fn property(&self, name: &str) -> Option<Cow<'_, Value>> {
        let mut item = self.to_json();
        item.as_object_mut()?.remove(name).map(Cow::Owned)
    }
}

/// A string property, for [`Record::property`].
pub fn text(value: &str) -> Option<Cow<'static, Value>> {
    Some(Cow::Owned(Value::String(value.to_owned())))
}

/// `{"id", "version"}`, as a spec reference shows.
pub fn spec_ref(id: &str, version: &str) -> Value {
    serde_json::json!({"id": id, "version": version})
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Holds a record's fast [`Record::property`] to what its item shows.
    pub fn properties_agree_with_the_item(record: &impl Record, kind: Kind) {
        let item = record.to_json();
        let object = item.as_object().unwrap();
        for name in object.keys() {
            assert!(kind.has_property(name), "{kind:?} lacks property `{name}`");
        }
        let own: Vec<&str> = object.keys().map(String::as_str).collect();
        for name in COMMON
            .iter()
            .chain(&[
                "auth",
                "baseConnectionId",
                "data",
                "params",
                "inheritedAttributes",
            ])
            .chain(&own)
        {
            assert_eq!(
                record.property(name).map(Cow::into_owned),
                object.get(*name).cloned(),
                "{kind:?} `{name}`"
            );
        }
    }
}
