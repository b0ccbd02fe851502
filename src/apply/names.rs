//! Finding resources by name: a name names one resource per kind, sandbox and scope (a base
//! connection's spec, a source connection's base connection), so before creating, flowform
//! asks AEP whether the name is still free (a person at the approval prompt can take
//! minutes; another clone may apply at the same time), and after creating, whether its
//! resource is the only one of that name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::config::{Desired, Reference, Resource};
use crate::flow::model::LiveObject;
use crate::flow::{Client, Filter, FlowError, listable};
use crate::kind::{self, Kind, Type};
use crate::plan::{Action, Plan};
use crate::state::State;

/// Above this many names, a kind that looks up one name a request is listed instead.
const MANY_NAMES: usize = 8;

/// A kind, a sandbox and the first scope value: one filter's reach.
type Group = (&'static Kind, String, String);

/// The scope values of `d` as AEP knows them now: a reference resolved through the state;
/// `None` when one is not known (what it refers to does not exist yet: nothing of its scope
/// can exist either).
fn scope(state: &State, d: &Resource) -> Option<Vec<String>> {
    d.kind
        .scope
        .iter()
        .map(|path| {
            let f = d.kind.field(path)?;
            match (&f.ty, d.reference(path)) {
                (Type::Ref { .. }, Some(Reference::Id(id))) => Some(id.to_lowercase()),
                (Type::Ref { .. }, Some(Reference::Key(key))) => {
                    let target = kind::resource::ref_kind(f)?;
                    let address = kind::address::format(target, &d.sandbox, key);
                    state.resources.get(&address).map(|r| r.id.to_lowercase())
                }
                _ => Some(
                    d.value(f)
                        .and_then(|v| v.as_str().map(str::to_lowercase))
                        .unwrap_or_default(),
                ),
            }
        })
        .collect()
}

/// The resources AEP has under the names of `wanted` (address and declared resource), in
/// their kinds, sandboxes and scopes, each paired with the address whose name it bears. The
/// names go in batches of `property=name==a,b,…` beside the scope's filter (a page of them
/// at most, each URL within `--max-url-length`), every batch at once up to `--parallelism`;
/// a name that cannot go in a filter (a comma, which separates alternatives, or a space or
/// quote at an end) is found by listing its group whole.
pub(super) async fn named(
    client: &Arc<Client>,
    state: &State,
    wanted: &[(String, &Resource)],
) -> Result<Vec<(String, LiveObject)>, FlowError> {
    // Kind and sandbox → (scope values, name) → address; and each group's names.
    type Place = (&'static str, String);
    let mut by_place: BTreeMap<Place, BTreeMap<(Vec<String>, String), String>> = BTreeMap::new();
    let mut groups: BTreeMap<Group, BTreeSet<String>> = BTreeMap::new();
    for (address, d) in wanted {
        let Some(scope) = scope(state, d) else { continue };
        let first = scope.first().cloned().unwrap_or_default();
        groups
            .entry((d.kind, d.sandbox.clone(), first))
            .or_default()
            .insert(d.name().to_owned());
        by_place
            .entry((d.kind.name, d.sandbox.clone()))
            .or_default()
            .insert((scope, d.name().to_owned()), address.clone());
    }
    let mut tasks: JoinSet<(Place, Result<Vec<LiveObject>, FlowError>)> = JoinSet::new();
    let spawn = |tasks: &mut JoinSet<(Place, Result<Vec<LiveObject>, FlowError>)>,
                 kind: &'static Kind,
                 sandbox: &str,
                 filters: Vec<Filter>,
                 counted: Option<u64>| {
        let (client, place) = (client.clone(), (kind.name, sandbox.to_owned()));
        tasks.spawn(async move {
            let found = match counted {
                Some(n) => client.list_counted(kind.collection, &place.1, &filters, n).await,
                None => client.list_all(kind.collection, &place.1, &filters).await,
            };
            (place, found)
        });
    };
    // Per kind and sandbox: the groups' names together, several scopes a request (what comes
    // back is matched on both), a group whose names cannot go in a filter listed whole.
    let mut places: BTreeMap<Place, Vec<(&Group, &BTreeSet<String>)>> = BTreeMap::new();
    for (group, names) in &groups {
        places
            .entry((group.0.name, group.1.clone()))
            .or_default()
            .push((group, names));
    }
    for ((_, sandbox), groups) in places {
        let kind = groups[0].0.0;
        let names: usize = groups.iter().map(|(_, n)| n.len()).sum();
        if !kind.collection.filters() {
            if names > MANY_NAMES {
                // One name a request (Data Prep): many are found by listing the sandbox's
                // whole, as many pages as the ones the state manages there fill sent at once.
                let managed = state
                    .resources
                    .values()
                    .filter(|r| r.kind == kind && r.sandbox == sandbox)
                    .count() as u64;
                spawn(&mut tasks, kind, &sandbox, Vec::new(), Some(managed));
            } else {
                for (_, names) in &groups {
                    for name in names.iter() {
                        spawn(
                            &mut tasks,
                            kind,
                            &sandbox,
                            vec![Filter::new("name", [name.clone()])],
                            None,
                        );
                    }
                }
            }
            continue;
        }
        let scope_filter = kind.scope.first().and_then(|p| kind.filter_name(p));
        // Scoped groups whose names all go in a filter: merged; the others alone.
        let mut merged: Vec<(String, &BTreeSet<String>)> = Vec::new();
        for (group, names) in &groups {
            let first = &group.2;
            let plain = names.iter().all(|n| listable(n));
            match (&scope_filter, first.is_empty()) {
                (Some(_), false) if plain && listable(first) => merged.push((first.clone(), names)),
                _ => {
                    let fixed: Vec<Filter> = scope_filter
                        .iter()
                        .filter(|_| !first.is_empty())
                        .map(|n| Filter::new(n.clone(), [first.clone()]))
                        .collect();
                    let (plain, odd): (Vec<String>, Vec<String>) =
                        names.iter().cloned().partition(|n| listable(n));
                    for batch in client.batches(kind.collection, &fixed, "name", plain) {
                        let mut filters = fixed.clone();
                        filters.push(Filter::new("name", batch));
                        spawn(&mut tasks, kind, &sandbox, filters, None);
                    }
                    if !odd.is_empty() {
                        spawn(&mut tasks, kind, &sandbox, fixed, None);
                    }
                }
            }
        }
        let Some(scope_filter) = scope_filter else {
            continue;
        };
        let names_of: BTreeMap<&String, &BTreeSet<String>> = merged.iter().map(|(s, n)| (s, *n)).collect();
        let scopes: Vec<String> = merged.iter().map(|(s, _)| s.clone()).collect();
        for scopes in client.batches(kind.collection, &[], &scope_filter, scopes) {
            let names: BTreeSet<String> = scopes
                .iter()
                .filter_map(|s| names_of.get(s))
                .flat_map(|n| n.iter().cloned())
                .collect();
            let fixed = vec![Filter::new(scope_filter.clone(), scopes.iter().cloned())];
            for batch in client.batches(kind.collection, &fixed, "name", names.into_iter().collect()) {
                let mut filters = fixed.clone();
                filters.push(Filter::new("name", batch));
                spawn(&mut tasks, kind, &sandbox, filters, None);
            }
        }
    }
    let mut found = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (place, listed) = joined.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: group_path(),
            reason: format!("a name lookup task failed: {e}"),
        })?;
        let Some(names) = by_place.get(&place) else {
            continue;
        };
        let Some(kind) = kind::by_name(place.0) else {
            continue;
        };
        for live in listed? {
            let scope = crate::plan::scopes_of(kind, &live);
            if let Some(address) = names.get(&(scope, live.name.clone())) {
                found.push((address.clone(), live));
            }
        }
    }
    // The same order whatever order the answers came in.
    found.sort_by(|(a, x), (b, y)| (a, &x.id).cmp(&(b, &y.id)));
    found.dedup_by(|(a, x), (b, y)| a == b && x.id == y.id);
    Ok(found)
}

fn group_path() -> String {
    kind::default().collection.path.to_owned()
}

/// The creates and renames of `plan` whose name AEP now gives to a resource `state` does
/// not manage: each address with the resource that has its name.
pub(super) async fn taken_names(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: &Arc<Client>,
) -> Result<Vec<(String, LiveObject)>, FlowError> {
    let creates: Vec<(String, &Resource)> = plan
        .actions()
        .filter(|c| {
            matches!(c.action, Action::Create | Action::Replace)
                || (c.action == Action::Update && c.fields.iter().any(|f| f.path == "name"))
        })
        .filter_map(|c| desired.resources.get(&c.address).map(|d| (c.address.clone(), d)))
        .collect();
    if creates.is_empty() {
        return Ok(Vec::new());
    }
    let managed: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
    Ok(named(client, state, &creates)
        .await?
        .into_iter()
        .filter(|(_, live)| !managed.contains(live.id.as_str()))
        .collect())
}
