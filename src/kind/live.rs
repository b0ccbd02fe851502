//! What each kind checks against AEP, and learns from it, before planning ([`check`]) and
//! before a create that still lacks it ([`complete`]): written once here over the kinds'
//! [`super::Hooks::live`], so that no part of the engine asks which kind it holds.
//!
//! A check costs requests, so a plan checks what it would send: resources it may create or
//! replace (not recorded, or a field that cannot change in place declared otherwise).
//! `validate --live` checks them all.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::{Field, Resource, Type, Update};
use crate::config::{Desired, Reference};
use crate::diagnostic::Diagnostics;
use crate::flow::{Client, FlowError};
use crate::state::State;

/// A future a hook returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a kind learnt from AEP of its declared resources.
#[derive(Debug, Default)]
pub struct Learned {
    pub diagnostics: Diagnostics,
    /// Values only AEP knows, to fill in: (address, field path, value).
    pub values: Vec<(String, &'static str, Value)>,
    /// What could not be checked yet, and why, by address: said in the plan, on the
    /// resource's change.
    pub notes: Vec<(String, String)>,
}

impl Learned {
    fn extend(&mut self, other: Learned) {
        for d in other.diagnostics.iter() {
            self.diagnostics.push(d.clone());
        }
        self.values.extend(other.values);
        self.notes.extend(other.notes);
    }
}

/// What a kind's live check is given.
pub struct LiveCx<'a> {
    pub client: &'a Arc<Client>,
    /// The kind's resources to check.
    pub resources: Vec<&'a Resource>,
    /// The id a reference resolves to now (`None`: its target does not exist yet).
    pub ids: &'a (dyn Fn(&Resource, &'static Field) -> Option<String> + Sync),
    /// The whole configuration (what a resource refers to by key is found in it), for a
    /// plan's check and one just before a create; `None` where there is none.
    pub desired: Option<&'a Desired>,
    /// The state as the check found it (what a managed resource it refers to is).
    pub state: &'a State,
}

/// The id `f` of `r` refers to, as the state holds it now.
fn id_in(state: &State, r: &Resource, f: &'static Field) -> Option<String> {
    match r.reference(f.path)? {
        Reference::Id(id) => Some(id.clone()),
        Reference::Key(key) => {
            let target = super::resource::ref_kind(f)?;
            let address = super::address::format(target, &r.sandbox, key);
            state.resources.get(&address).map(|t| t.id.clone())
        }
    }
}

/// Whether `r` is recorded as it is declared, in every field that cannot change in place:
/// AEP has it, checked when it was created.
fn unchanged(state: &State, r: &Resource) -> bool {
    let Some(record) = state.resources.get(&r.address()) else {
        return false;
    };
    // What is declared by a name AEP resolves (a flow's spec) is compared once resolved.
    if !r.hints.is_empty() {
        return false;
    }
    // A kind replaced whole by every change (a Data Prep set) is checked whenever what is
    // declared differs from what was applied: Data Prep validates what a PUT would send.
    let whole = r.kind.collection.replaced_whole();
    r.kind
        .fields
        .iter()
        .filter(|f| (whole || f.update == Update::Replace) && !matches!(f.ty, Type::Ref { .. }))
        .all(|f| match (r.value(f), record.get(f.path)) {
            (None, _) => true,
            (Some(Value::String(a)), Some(Value::String(b))) => a.eq_ignore_ascii_case(&b),
            (Some(Value::Array(a)), Some(Value::Array(b))) if matches!(f.ty, Type::Columns) => {
                names(&a) == names(&b)
            }
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        })
}

/// Columns (names, or column objects) as names.
fn names(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .filter_map(|v| v.as_str().or_else(|| v["name"].as_str()))
        .collect()
}

/// Checks the declared resources against AEP, kind by kind at once: every one (`all`,
/// `validate --live`), or those a plan would send.
pub async fn check(
    client: &Arc<Client>,
    desired: &Desired,
    state: &State,
    all: bool,
) -> Result<Learned, FlowError> {
    let ids = |r: &Resource, f: &'static Field| id_in(state, r, f);
    let mut checks: Vec<BoxFuture<'_, Result<Learned, FlowError>>> = Vec::new();
    for kind in super::ALL {
        let resources: Vec<&Resource> = desired
            .of(kind)
            .filter(|r| all || kind.is_default() || !unchanged(state, r))
            .collect();
        if resources.is_empty() {
            continue;
        }
        checks.push(kind.hooks.live(LiveCx {
            client,
            resources,
            ids: &ids,
            desired: Some(desired),
            state,
        }));
    }
    let mut learned = Learned::default();
    for done in crate::sync::join_all(checks).await {
        learned.extend(done?);
    }
    learned.diagnostics.sort();
    Ok(learned)
}

/// Fills in what was learnt.
pub fn fill(desired: &mut Desired, learned: &Learned) {
    for (address, path, value) in &learned.values {
        if let Some(r) = desired.resources.get_mut(address) {
            r.values.insert(path, crate::config::Value::Plain(value.clone()));
        }
    }
}

/// Fills in what a saved plan learnt, where the field is one only AEP knows
/// ([`super::Default::Live`]) and the configuration does not say it.
pub fn fill_learnt(desired: &mut Desired, learnt: &[crate::plan::Learnt]) {
    for l in learnt {
        let Some(r) = desired.resources.get_mut(&l.address) else {
            continue;
        };
        let Some(f) = r.kind.field(&l.path) else {
            continue;
        };
        if matches!(f.default, super::Default::Live) && !r.values.contains_key(f.path) {
            r.values
                .insert(f.path, crate::config::Value::Plain(l.value.clone()));
        }
    }
}

/// Whether `r` still lacks what only AEP knows: a field known only from AEP not filled in,
/// or columns named but not typed.
pub fn incomplete(r: &Resource) -> bool {
    r.kind
        .fields
        .iter()
        .any(|f| match (&f.default, &f.ty, r.values.get(f.path)) {
            (super::Default::Live, _, None) => true,
            (_, Type::Columns, Some(crate::config::Value::Plain(Value::Array(items)))) => {
                items.iter().any(Value::is_string)
            }
            _ => false,
        })
}

/// `d` with what only AEP knows filled in, just before it is created (a plan made without a
/// refresh, or whose references did not exist yet, could not learn it). `Err`: what AEP
/// says is wrong with it.
pub async fn complete(
    client: &Arc<Client>,
    state: &State,
    desired: Option<&Desired>,
    d: &Resource,
) -> Result<Resource, String> {
    let ids = |r: &Resource, f: &'static Field| id_in(state, r, f);
    let learned = d
        .kind
        .hooks
        .live(LiveCx {
            client,
            resources: vec![d],
            ids: &ids,
            desired,
            state,
        })
        .await
        .map_err(|e| e.to_string())?;
    if let Some(e) = learned.diagnostics.iter().find(|d| d.is_error()) {
        return Err(match &e.help {
            Some(help) => format!("{} ({help})", e.message),
            None => e.message.clone(),
        });
    }
    let mut out = d.clone();
    for (_, path, value) in learned.values {
        out.values.insert(path, crate::config::Value::Plain(value));
    }
    Ok(out)
}

/// The kinds' resources by a key, for a hook that reads once per key (a base connection's
/// tables, a dataset).
pub fn by<'a, K: Ord>(
    resources: &[&'a Resource],
    key: impl Fn(&Resource) -> Option<K>,
) -> BTreeMap<K, Vec<&'a Resource>> {
    let mut out: BTreeMap<K, Vec<&'a Resource>> = BTreeMap::new();
    for r in resources {
        if let Some(k) = key(r) {
            out.entry(k).or_default().push(r);
        }
    }
    out
}
