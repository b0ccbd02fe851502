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
    // Group → (scope values, name) → address.
    let mut by_group: BTreeMap<Group, BTreeMap<(Vec<String>, String), String>> = BTreeMap::new();
    for (address, d) in wanted {
        let Some(scope) = scope(state, d) else { continue };
        let first = scope.first().cloned().unwrap_or_default();
        by_group
            .entry((d.kind, d.sandbox.clone(), first))
            .or_default()
            .insert((scope, d.name().to_owned()), address.clone());
    }
    let mut tasks: JoinSet<(Group, Result<Vec<LiveObject>, FlowError>)> = JoinSet::new();
    for (group, names) in &by_group {
        let (kind, _, first) = group;
        let fixed: Vec<Filter> = kind
            .scope
            .first()
            .and_then(|p| kind.filter_name(p))
            .filter(|_| !first.is_empty())
            .map(|n| vec![Filter::new(n, [first.clone()])])
            .unwrap_or_default();
        let mut unique: Vec<String> = names.keys().map(|(_, n)| n.clone()).collect();
        unique.sort();
        unique.dedup();
        let (plain, odd): (Vec<String>, Vec<String>) = unique.into_iter().partition(|n| listable(n));
        for batch in client.batches(kind.collection, &fixed, "name", plain) {
            let (client, group) = (client.clone(), group.clone());
            let mut filters = fixed.clone();
            filters.push(Filter::new("name", batch.iter().cloned()));
            tasks.spawn(async move {
                let found = client
                    .list_batch(group.0.collection, &group.1, &filters, batch.len())
                    .await;
                (group, found)
            });
        }
        if !odd.is_empty() {
            let (client, group, filters) = (client.clone(), group.clone(), fixed.clone());
            tasks.spawn(async move {
                let found = client.list_all(group.0.collection, &group.1, &filters).await;
                (group, found)
            });
        }
    }
    let mut found = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (group, listed) = joined.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: group_path(),
            reason: format!("a name lookup task failed: {e}"),
        })?;
        let Some(names) = by_group.get(&group) else {
            continue;
        };
        for live in listed? {
            let scope = crate::plan::scopes_of(group.0, &live);
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
