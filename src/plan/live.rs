//! What the refresh saw of AEP ([`Live`]): every resource seen, by id, and what was looked
//! at in full, so that a resource not seen is known absent rather than unknown; and the one
//! rule that finds what an interrupted create made ([`interrupted_create`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::flow::model::LiveObject;
use crate::kind::Kind;

/// How far back from an interrupted create's start a resource AEP made may be dated
/// (clocks differ).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// What an interrupted create (a timeout, a dropped answer, a crash) may have made.
#[derive(Debug, PartialEq)]
pub enum Interrupted<'a> {
    /// Nothing: it is safe to create again.
    Nothing,
    /// Exactly one: adopt it, never create another.
    One(&'a LiveObject),
    /// Several: flowform will not guess which is its own.
    Several(Vec<&'a LiveObject>),
}

/// The one rule, shared by the planner (a create left pending by a crashed run) and the
/// applier (a create whose answer was lost): among the resources seen of the create's kind,
/// sandbox and scope, those with its name, not already owned (`owned`), and created since it
/// began (give or take clock skew). Names are unique per kind, sandbox and scope in a
/// configuration, and a create whose name is taken is refused, so a name finds the create's
/// resource.
pub fn interrupted_create<'a>(
    seen: impl IntoIterator<Item = &'a LiveObject>,
    name: &str,
    owned: impl Fn(&str) -> bool,
    started_at: i64,
) -> Interrupted<'a> {
    let since = started_at.saturating_sub(CLOCK_SKEW_MS);
    let mut found: Vec<&LiveObject> = seen
        .into_iter()
        .filter(|l| l.name == name && !owned(&l.id))
        .filter(|l| l.created_at.is_none_or(|t| t >= since))
        .collect();
    match found.len() {
        0 => Interrupted::Nothing,
        1 => Interrupted::One(found.remove(0)),
        _ => Interrupted::Several(found),
    }
}

/// A kind, a sandbox and the first of the kind's scope values (lower case): what one listing
/// of AEP covers, with `property=SCOPE==value` (a base connection's spec, a source
/// connection's base connection).
pub type Group = (&'static str, String, String);

/// One resource AEP showed.
#[derive(Clone, Debug)]
pub struct Seen {
    pub kind: &'static Kind,
    pub sandbox: String,
    pub object: LiveObject,
}

/// What the refresh saw of AEP.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Whether AEP was asked at all (`--refresh=false`: no, and every presence is unknown).
    pub refreshed: bool,
    /// Every resource seen, by id.
    pub objects: BTreeMap<String, Seen>,
    /// Groups listed in full: a resource of that group not seen is absent.
    pub listed: BTreeSet<Group>,
    /// Ids read by id (one by one, or in batches by filter): one not seen is absent.
    pub fetched: BTreeSet<String>,
    /// Names looked up by filter, with their group: every resource of that group and name
    /// was seen, as if the group had been listed, for that name alone.
    pub named: BTreeSet<(&'static str, String, String, String)>,
    /// The client id flowform reaches AEP with (`x-api-key`): a resource AEP says it last
    /// updated was changed by flowform (this run's credential), not by a person.
    pub own_client: Option<String>,
}

/// The first scope value of `kind` as `object` shows it (lower case).
pub fn scope_of(kind: &Kind, object: &LiveObject) -> String {
    kind.scope
        .first()
        .and_then(|path| kind.field(path))
        .and_then(|f| object.text_at(f.api))
        .unwrap_or_default()
        .to_lowercase()
}

/// Every scope value of `kind` as `object` shows it (lower case).
pub fn scopes_of(kind: &Kind, object: &LiveObject) -> Vec<String> {
    kind.scope
        .iter()
        .map(|path| {
            kind.field(path)
                .and_then(|f| object.text_at(f.api))
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect()
}

impl Live {
    /// Records a resource seen in `sandbox`.
    pub fn see(&mut self, kind: &'static Kind, sandbox: &str, object: LiveObject) {
        self.objects.insert(
            object.id.clone(),
            Seen {
                kind,
                sandbox: sandbox.to_owned(),
                object,
            },
        );
    }

    /// Whether every resource of `kind` in `sandbox` whose scope is `scope` and whose name
    /// is `name` was seen (its group listed, or its name looked up).
    pub fn name_seen(&self, kind: &Kind, sandbox: &str, scope: &str, name: &str) -> bool {
        let group = (kind.name, sandbox.to_owned(), scope.to_lowercase());
        self.listed.contains(&group) || self.named.contains(&(group.0, group.1, group.2, name.to_owned()))
    }

    /// Whether AEP says `object` was last changed by this credential since `since` (give or
    /// take clock skew): the work of an interrupted flowform run, not of someone outside.
    pub fn changed_by_us_since(&self, object: &LiveObject, since: i64) -> bool {
        self.own_client.is_some()
            && object.updated_client == self.own_client
            && object
                .updated_at
                .is_some_and(|t| t >= since.saturating_sub(CLOCK_SKEW_MS))
    }

    /// Whether AEP has the resource `id` of `kind` in `sandbox`; `scope`: its first scope
    /// value, as recorded.
    pub fn presence(&self, kind: &Kind, sandbox: &str, scope: &str, id: &str) -> Presence<'_> {
        if let Some(seen) = self.objects.get(id)
            && seen.sandbox == sandbox
            && seen.kind == kind
        {
            return Presence::Found(&seen.object);
        }
        let listed = self
            .listed
            .contains(&(kind.name, sandbox.to_owned(), scope.to_lowercase()));
        if listed || self.fetched.contains(id) {
            Presence::Absent
        } else {
            Presence::Unknown
        }
    }

    /// The resources seen of `kind` in `sandbox` whose scope values are `scope` (lower case).
    pub fn in_scope<'a>(
        &'a self,
        kind: &'a Kind,
        sandbox: &'a str,
        scope: &'a [String],
    ) -> impl Iterator<Item = &'a LiveObject> {
        self.objects
            .values()
            .filter(move |s| s.kind == kind && s.sandbox == sandbox && scopes_of(kind, &s.object) == scope)
            .map(|s| &s.object)
    }
}

/// Whether AEP has a resource.
#[derive(Clone, Copy, Debug)]
pub enum Presence<'a> {
    Found(&'a LiveObject),
    Absent,
    /// Not looked at (no refresh).
    Unknown,
}
