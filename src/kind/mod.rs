//! Kinds: what flowform manages, each described once.
//!
//! A kind is a declaration, as a Terraform provider's resource is a schema: its fields with
//! their types, which one holds secrets, which refer to another resource, which change in
//! place (by JSON Patch on which path) and which force a replacement, how AEP's resources of
//! the kind are read and how one is found again by its name. Everything else is written once,
//! over the declaration: the reader ([`read`], file:line diagnostics), the editor schema, the
//! plan's comparison, the applier's request bodies and patches, the renders, `generate`.
//!
//! A kind may add what a declaration cannot say through its [`Hooks`] (a base connection's
//! auth is checked against the catalog of connection specs); the engine never asks which kind
//! it holds.
//!
//! - [`connection`]: base connections (`connections:`), the authenticated link to a source.
//! - [`source`]: source connections (`sources:`), which table of a base connection.
//! - [`target`]: target connections (`targets:`), which dataset of the data lake.
//! - [`mapping`]: Data Prep mapping sets (`mappings:`), how a dataflow's columns become
//!   its dataset's fields.
//! - [`flow`]: dataflows (`flows:`), what moves a source's table into a target's dataset,
//!   when, and whether it runs.
//! - [`resource`]: a declared resource, an instance of a kind. [`address`]: how one is named.

pub mod address;
pub mod connection;
pub mod flow;
pub mod live;
pub mod mapping;
pub mod read;
pub mod resource;
pub mod source;
pub mod target;

pub use self::address::{Address, KeyRef};
pub use self::live::{BoxFuture, Learned, LiveCx};
pub use self::resource::{Lifecycle, Origin, Param, Places, Reference, Resource, SplitParams, Value};

use crate::diagnostic::Diagnostics;
use crate::reader::{At, Fields, Reader};
use crate::yaml::{Location, Node};

/// A kind of resource.
pub struct Kind {
    /// Its name in addresses (`prod/source:KEY`), the state and plans: `connection`, `source`.
    pub name: &'static str,
    /// The configuration's section of it: `connections`, `sources`.
    pub section: &'static str,
    /// What it is called in messages: `connection`, `source connection`.
    pub noun: &'static str,
    /// The form of the ids AEP gives its resources.
    pub id: IdForm,
    /// Its collection, and the API that serves it: the Flow Service's `/connections`,
    /// `/sourceConnections`, …; Data Prep's `/mappingSets`.
    pub collection: crate::flow::Collection,
    /// Its fields. `name` comes first in every kind.
    pub fields: &'static [Field],
    /// The names its mapping in the configuration may hold, in the order messages list
    /// them: each field's first segment (or a reference's `by_key` name), the kind's own
    /// (a shorthand), and `lifecycle`, `import` and `sandbox`.
    pub mapping: &'static [&'static str],
    /// The fields (paths) that, with the sandbox and the name, tell AEP's resources of the
    /// kind apart for flowform: a create whose outcome is unknown is found again by them, and
    /// a name is unique within them. The first goes in AEP's `property` filters; the others
    /// are matched on what comes back.
    pub scope: &'static [&'static str],
    /// How the refresh reads the managed ones.
    pub refresh: Refresh,
    /// AEP may create one `initializing` (no etag yet): the applier waits until it is
    /// enabled, and nothing updates it meanwhile.
    pub initializes: bool,
    /// AEP may show one `disabled`, which no call of its API undoes: drift that flowform
    /// reports and cannot repair.
    pub disables: bool,
    /// The error code AEP answers a delete of one that another resource still uses
    /// (`FLOW-1418` for a base connection), for messages; empty when nothing uses it.
    pub in_use: &'static str,
    /// `lifecycle.acknowledge` names advisories about it (see [`crate::catalog::ADVISORIES`]).
    pub advisories: bool,
    /// What a declaration cannot say.
    pub hooks: &'static (dyn Hooks + Sync),
    /// One line on what it is, for the editor schema and `flowform schema`.
    pub about: &'static str,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.name == other.name
    }
}

impl Eq for Kind {}

/// One field of a kind.
#[derive(Debug)]
pub struct Field {
    /// Its path in the configuration and in plans, dotted: `name`, `connectionSpec.id`,
    /// `auth.params`, `table`.
    pub path: &'static str,
    /// Where AEP's body holds it, as a JSON pointer: `/name`, `/params/tableName`.
    pub api: &'static str,
    pub ty: Type,
    /// Must be declared (unless it has a default).
    pub required: bool,
    /// What it is when not declared.
    pub default: Default,
    /// How a change to it is made.
    pub update: Update,
    /// Read by the kind's own reader ([`Hooks::read`]) rather than the generic one.
    pub custom: bool,
    /// What it is, for the editor schema.
    pub doc: &'static str,
}

/// A field's type: how it is read, compared and sent.
#[derive(Debug)]
pub enum Type {
    /// A string.
    Text,
    /// A string of a fixed set.
    Enum(&'static [&'static str]),
    /// An id AEP gave something flowform does not manage here (a spec, a dataset): compared
    /// without regard to case.
    Id(IdForm),
    /// A whole number at least `min`. AEP's docs send such values as strings (a schedule's
    /// `"interval": "15"`) and read them back either way: sent as a string, compared as a
    /// number, so that neither encoding is a difference.
    Int { min: i64 },
    /// `true` or `false`, sent as the string AEP's docs send (`"backfill": "true"`),
    /// compared as a boolean.
    Bool,
    /// A moment, to the second: declared as RFC 3339 in UTC (`2026-12-01T06:00:00Z`) or as
    /// epoch seconds, sent as AEP's epoch seconds in a string, compared as a number.
    Time,
    /// `true` or `false` in the configuration, AEP's state `on` or `off` in its body (a
    /// flow's `enabled` is its `state`). Changed by the field's [`Update::Action`].
    Switch { on: &'static str, off: &'static str },
    /// A list of names.
    Names,
    /// A table's columns, declared by name (`[Id, Email]`) and sent as AEP's column objects
    /// (`[{name: Id}, …]`); compared by name, so what AEP adds to them is no difference.
    Columns,
    /// Data Prep mappings: a list of `{source, destination, sourceType}` (`sourceType`
    /// `ATTRIBUTE` unless said: a source field; `EXPRESSION`, a calculated one; `STATIC`).
    /// AEP echoes `sourceType` as a MIME-like type (`text/x.schema-path`, `text/x.aep-xl`,
    /// `text/plain`), adds row ids, versions and the legacy names
    /// (`sourceAttribute`, `destinationXdmPath`): compared as the three declared values,
    /// row by row, so none of that is a difference.
    Mappings,
    /// Params: an open map whose values are plain, or secrets given by reference. The only
    /// place a secret lives; AEP replaces the map whole on a patch, and keeps params of its
    /// own in it (never compared).
    Params,
    /// Another resource flowform may manage: `by_key: KEY` (declared in the configuration, in
    /// the same sandbox) or `path: ID` (one flowform does not manage). AEP holds the id.
    Ref {
        kind: &'static str,
        by_key: &'static str,
    },
}

/// The shape of an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdForm {
    /// A UUID.
    Uuid,
    /// Hex digits and dashes (connection specs: UUIDs, sometimes shorter in old documents).
    Spec,
    /// 24 hex digits (Catalog's datasets).
    Catalog,
    /// 32 hex digits (Data Prep's mapping sets).
    Hex32,
}

impl IdForm {
    pub fn check(self, id: &str) -> bool {
        match self {
            IdForm::Uuid => crate::reader::is_uuid(id),
            IdForm::Spec => {
                !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            }
            IdForm::Catalog => id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()),
            IdForm::Hex32 => id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        }
    }

    /// What it is, for help lines: "a UUID".
    pub fn described(self) -> &'static str {
        match self {
            IdForm::Uuid => "a UUID",
            IdForm::Spec => "hex digits and dashes",
            IdForm::Catalog => "24 hex digits",
            IdForm::Hex32 => "32 hex digits",
        }
    }

    /// An example, for help lines.
    pub fn example(self) -> &'static str {
        match self {
            IdForm::Uuid => "139f6a5f-a78b-4744-9f6a-5fa78bd74431",
            IdForm::Spec => crate::catalog::SALESFORCE_ID,
            IdForm::Catalog => "5c8c3c555033b814b69f947f",
            IdForm::Hex32 => "b0a0f0e5a1cd4e1aa0e1b5e7e0a4c2f1",
        }
    }
}

/// What a field is when it is not declared.
#[derive(Debug)]
pub enum Default {
    /// Nothing: it is not sent, and AEP's value is not compared.
    None,
    /// This JSON value.
    Value(&'static str),
    /// The referenced resource's field: `{reference: the Ref field's path, path: its field}`
    /// (a source connection's spec is its base connection's).
    Inherit {
        reference: &'static str,
        path: &'static str,
    },
    /// Known only from AEP (a target connection's schema is its dataset's): filled in by the
    /// kind's live check before planning.
    Live,
    /// The version of what the reference field `reference` names (a mapping set's, which a
    /// dataflow pins): the one the state recorded of it, and unknown until the apply when
    /// the plan writes it (a new set, or a changed one: its version moves on). Never
    /// declared.
    Version { reference: &'static str },
    /// AEP's own when none is sent (a schedule's `backfill` is true): not sent, and what AEP
    /// has is compared only when declared — its default is no difference.
    Server,
}

/// How a change to a field is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// By JSON Patch on its `api` path, behind `If-Match`.
    Patch,
    /// AEP cannot change it in place: a change replaces the resource.
    Replace,
    /// By `POST {collection}/{id}/action?op=…`: `on` to make a [`Type::Switch`] true, `off`
    /// to make it false. Never sent in a create's body: AEP creates the resource `created`,
    /// and the applier takes the action after the create when the declared value is not
    /// that.
    Action {
        on: &'static str,
        off: &'static str,
        created: bool,
    },
}

impl Update {
    /// Whether a change to the field is made without replacing the resource.
    pub fn in_place(self) -> bool {
        !matches!(self, Update::Replace)
    }
}

/// How the refresh reads a kind's managed resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// In batches of `property=id==a,b,…`, a page of ids a request.
    ById,
    /// In batches of their parents' ids, `property=FIELD==a,b,…` on the Ref field `field`:
    /// every resource of a parent is seen, the unmanaged ones too.
    ByParent(&'static str),
}

/// What a kind adds to its declaration. Every method has a default that does nothing.
pub trait Hooks {
    /// Reads the fields declared `custom` (and the names of its `mapping` that are no
    /// field's, such as a shorthand) into `values`.
    fn read(&self, _cx: &mut ReadCx<'_, '_>, _fields: &Fields<'_>, _read: &mut read::Read) {}

    /// Checks a resource read whole (advisories, what depends on several fields).
    fn check(&self, _resource: &Resource, _diagnostics: &mut Diagnostics) {}

    /// Whether `path` (below a `Params` field, or one of the kind's own) may be named in
    /// `lifecycle.ignoreChanges` beyond the declared fields; `Err` says why not, with help.
    /// `node` is the resource's mapping (what is written counts, whatever failed to load).
    fn ignorable(&self, _path: &str, _node: &Node) -> Result<(), (String, Option<String>)> {
        Ok(())
    }

    /// Adds to the kind's editor-schema definition what its declaration cannot say (the
    /// fields its own reader reads).
    fn schema(&self, _definition: &mut serde_json::Map<String, serde_json::Value>) {}

    /// Checks the kind's declared resources against AEP, and learns what only AEP knows (a
    /// target connection's schema, a source connection's typed columns): before a plan,
    /// `validate --live`, and before a create that still lacks it.
    fn live<'a>(&'a self, _cx: LiveCx<'a>) -> BoxFuture<'a, Result<Learned, crate::flow::FlowError>> {
        Box::pin(async { Ok(Learned::default()) })
    }

    /// Whether AEP's `have` is what `want` asks of the field at `path` where equality does
    /// not say it (a flow's start, once it has started). `record`: what the state recorded.
    fn same(&self, _path: &str, _want: &serde_json::Value, _have: &serde_json::Value, _cx: Same<'_>) -> bool {
        false
    }

    /// What a plan says of each replacement of the kind, from AEP (a flow: from when the new
    /// one reads, and the start and backfill it will be created with).
    fn replacing<'a>(
        &'a self,
        _cx: Replacing<'a>,
    ) -> BoxFuture<'a, Result<Vec<Said>, crate::flow::FlowError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// A replacement's hand-over, just before the new resource is created: what must come
    /// first (a flow: the old one disabled), and what the new one takes instead of what is
    /// declared (a flow: its start where the old one's last successful run ended).
    fn hand_over<'a>(
        &'a self,
        _cx: HandOver<'a>,
    ) -> BoxFuture<'a, Result<HandedOver, crate::flow::FlowError>> {
        Box::pin(async { Ok(HandedOver::default()) })
    }
}

/// What [`Hooks::same`] is given beside the two values.
#[derive(Clone, Copy)]
pub struct Same<'a> {
    pub live: &'a crate::flow::model::LiveObject,
    pub record: Option<&'a crate::state::Record>,
}

/// The replacements [`Hooks::replacing`] speaks of.
pub struct Replacing<'a> {
    pub client: &'a std::sync::Arc<crate::flow::Client>,
    /// (address, sandbox, the old resource's id).
    pub replaced: Vec<(String, String, String)>,
}

/// What a plan says of one replacement ([`Hooks::replacing`]): a note, and the values the new
/// resource will be created with instead of the declared ones (a flow's start where the old
/// one stopped), shown in its fields.
#[derive(Debug, Default)]
pub struct Said {
    pub address: String,
    pub note: String,
    pub values: Vec<(&'static str, serde_json::Value)>,
}

/// What [`Hooks::hand_over`] is given.
pub struct HandOver<'a> {
    pub client: &'a std::sync::Arc<crate::flow::Client>,
    /// The new resource, as declared.
    pub declared: &'a Resource,
    /// The resource it replaces.
    pub old_id: &'a str,
}

/// What a hand-over came to.
#[derive(Debug, Default)]
pub struct HandedOver {
    /// Values the new resource is created with instead of the declared ones.
    pub values: Vec<(&'static str, serde_json::Value)>,
    /// What the new resource's record keeps beside its fields (a flow: whose successor it
    /// is), kept by every later write of it.
    pub attrs: Vec<(String, serde_json::Value)>,
    /// What was done, for the apply's progress.
    pub said: Vec<String>,
    /// What the old resource now is, where the hand-over changed it (a flow disabled): its
    /// fields' values and its new etag, for its record.
    pub old: Vec<(&'static str, serde_json::Value)>,
    pub old_etag: Option<String>,
}

/// What a kind's own reader is given.
pub struct ReadCx<'r, 'a> {
    pub reader: &'r mut Reader<'a>,
    pub key: &'r str,
    pub key_location: Location,
    /// The resource's mapping.
    pub node: &'r Node,
}

impl ReadCx<'_, '_> {
    pub fn at<'p>(&self, field: &'p str) -> At<'p>
    where
        Self: 'p,
    {
        At {
            key: Some(self.key),
            field,
        }
    }
}

/// Every kind, in dependency order: a kind refers only to kinds before it.
pub static ALL: &[&Kind] = &[
    &connection::KIND,
    &source::KIND,
    &target::KIND,
    &mapping::KIND,
    &flow::KIND,
];

/// The kind named `name` (`connection`, `source`, …).
pub fn by_name(name: &str) -> Option<&'static Kind> {
    ALL.iter().copied().find(|k| k.name == name)
}

/// The kind of the configuration's section `section` (`connections`, …).
pub fn by_section(section: &str) -> Option<&'static Kind> {
    ALL.iter().copied().find(|k| k.section == section)
}

/// How many of each kind, in kind order, the kinds with none left out: `3 connections,
/// 2 source connections, 1 target connection` (`0 connections` when there are none).
pub fn tally(kinds: impl IntoIterator<Item = &'static Kind>) -> String {
    let mut counts = vec![0usize; ALL.len()];
    for k in kinds {
        if let Some(i) = ALL.iter().position(|a| std::ptr::eq(*a, k)) {
            counts[i] += 1;
        }
    }
    let parts: Vec<String> = ALL
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}{}", k.noun, if *n == 1 { "" } else { "s" }))
        .collect();
    if parts.is_empty() {
        format!("0 {}s", default().noun)
    } else {
        parts.join(", ")
    }
}

/// The sections of every kind but the base connection's, for help lines:
/// `` `sources:`, `targets:`, `flows:` ``.
pub fn other_sections() -> String {
    ALL.iter()
        .filter(|k| !k.is_default())
        .map(|k| format!("`{}:`", k.section))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The base connection, the kind every address without a kind names.
pub fn default() -> &'static Kind {
    &connection::KIND
}

impl Kind {
    pub fn field(&self, path: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.path == path)
    }

    /// Its `Params` field, if it has one.
    pub fn params_field(&self) -> Option<&'static Field> {
        self.fields.iter().find(|f| matches!(f.ty, Type::Params))
    }

    /// Its references to other kinds.
    pub fn refs(&self) -> impl Iterator<Item = &'static Field> {
        self.fields.iter().filter(|f| matches!(f.ty, Type::Ref { .. }))
    }

    /// Whether it is the default kind (its addresses carry no kind).
    pub fn is_default(&self) -> bool {
        std::ptr::eq(self, default())
    }

    /// The `property` filter name of a field (`connectionSpec.id`, `params.tableName`).
    pub fn filter_name(&self, path: &str) -> Option<String> {
        self.field(path).map(|f| crate::flow::pointer::filter_name(f.api))
    }
}

/// No hooks.
pub struct Plain;

impl Hooks for Plain {}

#[cfg(test)]
mod tests {
    //! Each kind's declaration holds together: what the engine reads from it names what is
    //! there. A new kind that breaks one of these fails here, not in a user's plan.

    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_kind_is_named_once_and_refers_only_to_kinds_before_it() {
        let mut names = BTreeSet::new();
        let mut sections = BTreeSet::new();
        for (i, kind) in ALL.iter().enumerate() {
            assert!(names.insert(kind.name), "{}: named twice", kind.name);
            assert!(sections.insert(kind.section), "{}: section twice", kind.name);
            assert!(kind.collection.path.starts_with('/'), "{}", kind.name);
            assert!(
                !kind.name.contains([':', '/']),
                "{}: an address reads back one way",
                kind.name
            );
            for f in kind.refs() {
                let Type::Ref { kind: target, .. } = f.ty else {
                    unreachable!()
                };
                let at = ALL.iter().position(|k| k.name == target);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{}.{}: refers to `{target}`, which must be a kind before it (creates go in this order)",
                    kind.name,
                    f.path
                );
            }
        }
        assert!(ALL[0].is_default());
    }

    #[test]
    fn every_field_is_readable_sent_somewhere_and_defaulted_from_what_exists() {
        for kind in ALL {
            let mut apis = BTreeSet::new();
            for f in kind.fields {
                let what = format!("{}.{}", kind.name, f.path);
                assert!(f.api.starts_with('/'), "{what}: a JSON pointer");
                assert!(apis.insert(f.api), "{what}: `{}` sent twice", f.api);
                assert!(
                    !f.doc.is_empty(),
                    "{what}: documented (the editor schema says it)"
                );
                // The reader takes it from a top-level key the kind's mapping lists (a
                // reference also by its key's name), unless the kind's hooks read it.
                let top = f.path.split('.').next().unwrap_or(f.path);
                let by_key = match f.ty {
                    Type::Ref { by_key, .. } => Some(by_key),
                    _ => None,
                };
                assert!(
                    f.custom
                        || kind.mapping.contains(&top)
                        || by_key.is_some_and(|k| kind.mapping.contains(&k)),
                    "{what}: `{top}` is not in the kind's mapping"
                );
                match &f.default {
                    Default::Value(json) => {
                        let value: serde_json::Value =
                            serde_json::from_str(json).unwrap_or_else(|e| panic!("{what}: {e}"));
                        if let Type::Enum(allowed) = f.ty {
                            assert!(
                                value.as_str().is_some_and(|v| allowed.contains(&v)),
                                "{what}: the default is one of the values"
                            );
                        }
                    }
                    Default::Inherit { reference, path } => {
                        let via = kind
                            .field(reference)
                            .unwrap_or_else(|| panic!("{what}: inherits through `{reference}`, no field"));
                        let Type::Ref { kind: target, .. } = via.ty else {
                            panic!("{what}: inherits through `{reference}`, not a reference");
                        };
                        let target = by_name(target).unwrap();
                        assert!(
                            target.field(path).is_some(),
                            "{what}: inherits `{path}`, which `{}` does not have",
                            target.name
                        );
                    }
                    Default::Version { reference } => {
                        let via = kind
                            .field(reference)
                            .unwrap_or_else(|| panic!("{what}: follows `{reference}`, no field"));
                        let Type::Ref { kind: target, .. } = via.ty else {
                            panic!("{what}: follows `{reference}`, not a reference");
                        };
                        assert!(
                            by_name(target).is_some_and(|t| t.collection.replaced_whole()),
                            "{what}: follows the version of `{target}`, whose writes give none"
                        );
                        assert!(f.custom, "{what}: a version is never declared");
                    }
                    Default::None | Default::Live | Default::Server => {}
                }
            }
        }
    }

    #[test]
    fn scopes_and_refreshes_name_fields_the_api_can_filter_on() {
        for kind in ALL {
            for path in kind.scope {
                assert!(kind.field(path).is_some(), "{}: scope `{path}`", kind.name);
                assert!(kind.filter_name(path).is_some(), "{}: scope `{path}`", kind.name);
            }
            if let Refresh::ByParent(parent) = kind.refresh {
                let f = kind
                    .field(parent)
                    .unwrap_or_else(|| panic!("{}: `{parent}`", kind.name));
                assert!(
                    matches!(f.ty, Type::Ref { .. }),
                    "{}: read by parent through `{parent}`, which must be a reference",
                    kind.name
                );
                assert!(
                    kind.scope.contains(&parent),
                    "{}: the parent it is read by tells it apart",
                    kind.name
                );
            }
            assert!(
                kind.fields
                    .iter()
                    .filter(|f| matches!(f.ty, Type::Params))
                    .count()
                    <= 1,
                "{}: one params field at most",
                kind.name
            );
            assert!(
                kind.field("name").is_some_and(|f| f.required),
                "{}: named",
                kind.name
            );
        }
    }
}
