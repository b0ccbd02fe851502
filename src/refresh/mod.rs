//! Reading AEP before planning, in as few requests as the documented API allows, sent in
//! parallel where they do not depend on each other, kind by kind as each declares it.
//!
//! A kind read **by id** (base and target connections) is read per group — its kind, a
//! sandbox, and the first of its scope values (a base connection's spec): the managed ones in
//! batches of `property=id==a,b,…` (up to a page, 100, per request, each URL within
//! `--max-url-length`), all batches at once up to `--parallelism`; the names it must check
//! (where it may create or rename one: its name must be free) in batches of
//! `property=name==…` beside the group's filter; the whole group (`count=true`, then every
//! page, one after another) only where flowform must see everything (`drift`, a refresh-only
//! plan), where a name cannot be put in a filter, or where counting shows that listing takes
//! fewer requests than the batches. The Flow Service documents filtering "on any property in
//! an entity" (`property=id==12345` its own example), for every resource.
//!
//! A kind read **by parent** (source connections, by their base connection) is read in
//! batches of its parents' ids, `property=baseConnectionId==a,b,…`, each batch sized to a
//! page of the children the state knows: every resource of those parents is seen, the ones
//! no state manages too (what `drift` reports as unmanaged, and what would make AEP refuse to
//! delete a base connection, FLOW-1418), so their names need no lookup of their own.
//!
//! **The cost rule counts requests**, not rounds of requests: AEP's rate limits count
//! requests, whether sent together or one after another. The batches by id are chosen when
//! they take no more requests than the least a listing of the same group could (its count,
//! and a page per 100 of the managed ones, which it holds at least); otherwise the group is
//! counted (one request), and listed only if its pages are then fewer than the batches. At a
//! tie the batches win: they run in parallel, the pages cannot. `-v` says which way each
//! group was read, and why, in requests.

mod report;
mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::config::{Desired, Reference};
use crate::flow::limits::PAGE_SIZE;
use crate::flow::{Client, FlowError, listable};
use crate::kind::{self, Kind, Refresh, Update};
use crate::plan::{Group, Live};
use crate::state::{Action, State};

pub use self::report::{ListedBecause, Report, Strategy};
use self::run::{Job, run};

/// A kind read by parent, a sandbox, and a parent's id (lower case).
type Parent = (&'static Kind, String, String);

/// The batches the state alone asks for, started as soon as the state is open, while the
/// configuration is still being read: the managed resources' batches by id, and their
/// parents'. [`refresh`] takes the answers of every group it reads with exactly these
/// batches, and drops the rest (a group it must list, which the configuration tells only
/// later).
pub struct Prefetch {
    /// Per group, the ids its batches ask for.
    asked: BTreeMap<Group, BTreeSet<String>>,
    /// Per kind read by parent and sandbox, the parents its batches ask for.
    parents: BTreeMap<(&'static str, String), BTreeSet<String>>,
    reads: tokio::task::JoinHandle<Result<Vec<run::Read>, FlowError>>,
}

/// Every managed id by group, for the kinds read by id.
fn managed_by_group(state: &State) -> BTreeMap<Group, BTreeSet<String>> {
    let mut ids: BTreeMap<Group, BTreeSet<String>> = BTreeMap::new();
    for r in state
        .resources
        .values()
        .filter(|r| r.kind.refresh == Refresh::ById)
    {
        let scope = r.scope().into_iter().next().unwrap_or_default();
        ids.entry((r.kind.name, r.sandbox.clone(), scope))
            .or_default()
            .insert(r.id.clone());
    }
    ids
}

/// Every parent of a managed resource read by parent, with how many children the state
/// knows it has.
fn managed_parents(state: &State) -> BTreeMap<Parent, u64> {
    let mut parents: BTreeMap<Parent, u64> = BTreeMap::new();
    for r in state.resources.values() {
        let Refresh::ByParent(field) = r.kind.refresh else {
            continue;
        };
        if let Some(parent) = r.text(field).filter(|p| listable(p)) {
            *parents
                .entry((r.kind, r.sandbox.clone(), parent.to_lowercase()))
                .or_default() += 1;
        }
    }
    parents
}

impl Prefetch {
    /// Starts the batches of `state`'s managed resources on the current runtime: by id for
    /// each group that the rule of [`refresh`] reads by id without counting, by parent for
    /// the kinds read so. Call it within the runtime.
    pub fn start(client: &Arc<Client>, state: &State) -> Prefetch {
        let mut asked = BTreeMap::new();
        let mut jobs: Vec<Job> = Vec::new();
        for (group, wanted) in managed_by_group(state) {
            let Some(kind) = kind::by_name(group.0) else {
                continue;
            };
            if !kind.collection.filters() {
                continue;
            }
            let (plain, odd): (Vec<String>, Vec<String>) =
                wanted.iter().cloned().partition(|id| listable(id));
            let batches = client.batches(kind.collection, &[], "id", plain.clone());
            if (batches.len() + odd.len()) as u64 > at_least(wanted.len()) {
                continue;
            }
            asked.insert(group.clone(), plain.into_iter().collect());
            jobs.extend(batches.into_iter().map(|b| Job::Ids(group.clone(), b)));
        }
        let mut parents: BTreeMap<(&'static str, String), BTreeSet<String>> = BTreeMap::new();
        for (kind, sandbox, batch) in parent_batches(client, managed_parents(state)) {
            parents
                .entry((kind.name, sandbox.clone()))
                .or_default()
                .extend(batch.iter().cloned());
            jobs.push(Job::Parents(kind, sandbox, batch));
        }
        let client = client.clone();
        let reads = tokio::spawn(async move { run::reads(&client, jobs).await });
        Prefetch {
            asked,
            parents,
            reads,
        }
    }
}

/// How many GETs more than the least a listing takes a kind without batches by id (Data
/// Prep) spends rather than list: a listing also reads every set it does not manage.
const PREP_GETS: u64 = 8;

/// The least a listing of a group holding `managed` managed resources takes: its count and
/// a page per 100 of them.
fn at_least(managed: usize) -> u64 {
    1 + (managed as u64).div_ceil(PAGE_SIZE).max(1)
}

/// The batches of parents to list their children by, per kind and sandbox: each batch's
/// known children fill a page at most (a parent counts for one at least), each URL within
/// `--max-url-length`.
fn parent_batches(
    client: &Client,
    parents: BTreeMap<Parent, u64>,
) -> Vec<(&'static Kind, String, Vec<String>)> {
    let mut by_place: BTreeMap<(&'static str, String), Vec<(String, u64)>> = BTreeMap::new();
    let mut kinds: BTreeMap<&'static str, &'static Kind> = BTreeMap::new();
    for ((kind, sandbox, parent), children) in parents {
        kinds.insert(kind.name, kind);
        by_place
            .entry((kind.name, sandbox))
            .or_default()
            .push((parent, children.max(1)));
    }
    let mut out = Vec::new();
    for ((name, sandbox), parents) in by_place {
        let Some(kind) = kinds.get(name).copied() else {
            continue;
        };
        let Refresh::ByParent(field) = kind.refresh else {
            continue;
        };
        let filter = kind.filter_name(field).unwrap_or_else(|| field.to_owned());
        // First by the URL's length, then each of those by the children a page holds.
        let ids: Vec<String> = parents.iter().map(|(p, _)| p.clone()).collect();
        let children: BTreeMap<&String, u64> = parents.iter().map(|(p, c)| (p, *c)).collect();
        for batch in client.batches(kind.collection, &[], &filter, ids) {
            let mut current: Vec<String> = Vec::new();
            let mut filled = 0;
            for parent in batch {
                let n = children.get(&parent).copied().unwrap_or(1);
                if !current.is_empty() && filled + n > PAGE_SIZE {
                    out.push((kind, sandbox.clone(), std::mem::take(&mut current)));
                    filled = 0;
                }
                filled += n;
                current.push(parent);
            }
            if !current.is_empty() {
                out.push((kind, sandbox.clone(), current));
            }
        }
    }
    out
}

/// The first scope value of a declared resource, as the configuration says it (a reference
/// by key resolved through the state; `None` when that is not known yet).
fn declared_scope(desired: &Desired, state: &State, r: &crate::config::Resource) -> Option<String> {
    let path = r.kind.scope.first()?;
    let f = r.kind.field(path)?;
    match r.reference(path) {
        Some(Reference::Id(id)) => Some(id.to_lowercase()),
        Some(Reference::Key(_)) => {
            let target = crate::kind::resource::ref_kind(f)?;
            let key = match r.reference(path) {
                Some(Reference::Key(k)) => k,
                _ => return None,
            };
            let address = kind::address::format(target, &r.sandbox, key);
            state.resources.get(&address).map(|t| t.id.to_lowercase())
        }
        None => {
            let _ = desired;
            r.value(f).and_then(|v| v.as_str().map(str::to_lowercase))
        }
    }
}

/// Whether a declared resource that the state holds may be replaced (a field that cannot
/// change in place is declared otherwise): its name must then be free in its group.
fn may_be_replaced(r: &crate::config::Resource, record: &crate::state::Record) -> bool {
    r.kind
        .fields
        .iter()
        .filter(|f| f.update == Update::Replace)
        .any(|f| match (r.value(f), record.text(f.path)) {
            (Some(serde_json::Value::String(want)), Some(have)) => !want.eq_ignore_ascii_case(have),
            _ => false,
        })
}

/// Refreshes what `desired` and `state` involve. `list_all`: list every group in full
/// (drift detection, which must see unmanaged resources). `expect` is told how many
/// requests the refresh means to send, as it learns it (for a progress bar).
pub async fn refresh(
    client: &Arc<Client>,
    desired: &Desired,
    state: &State,
    list_all: bool,
    prefetched: Option<Prefetch>,
    expect: &dyn Fn(u64),
) -> Result<(Live, Report), FlowError> {
    let before = client.requests();
    // Which managed ids live in which group, and which names must be checked in which group.
    let mut ids = managed_by_group(state);
    let mut names: BTreeMap<Group, BTreeSet<String>> = BTreeMap::new();
    let mut parents = managed_parents(state);
    let mut imports: Vec<(&'static Kind, String, String)> = Vec::new();
    for r in desired.resources.values() {
        let record = state.resources.get(&r.address());
        let scope = declared_scope(desired, state, r);
        if let Refresh::ByParent(_) = r.kind.refresh {
            // Its parent's children are listed: its name is seen there.
            if let Some(parent) = scope.filter(|p| listable(p)) {
                parents.entry((r.kind, r.sandbox.clone(), parent)).or_insert(1);
            }
            if let (Some(id), None) = (&r.import, record) {
                imports.push((r.kind, r.sandbox.clone(), id.clone()));
            }
            continue;
        }
        let group = (r.kind.name, r.sandbox.clone(), scope.unwrap_or_default());
        ids.entry(group.clone()).or_default();
        // One that may be created (new, or replaced) or renamed: its name must be free.
        match (&r.import, record) {
            (Some(id), None) => imports.push((r.kind, r.sandbox.clone(), id.clone())),
            (None, None) => {
                names.entry(group).or_default().insert(r.name().to_owned());
            }
            (_, Some(rec)) if may_be_replaced(r, rec) || rec.name != r.name() => {
                names.entry(group).or_default().insert(r.name().to_owned());
            }
            _ => {}
        }
    }
    // An interrupted create is recovered by the name it was created with.
    for p in state.pending.iter().filter(|p| p.action == Action::Create) {
        let kind = p.kind();
        let scope = p.scope.first().map(|s| s.to_lowercase()).unwrap_or_default();
        match kind.refresh {
            Refresh::ByParent(_) => {
                if listable(&scope) {
                    parents.entry((kind, p.sandbox.clone(), scope)).or_insert(1);
                }
            }
            Refresh::ById => {
                let group = (kind.name, p.sandbox.clone(), scope);
                ids.entry(group.clone()).or_default();
                names.entry(group).or_default().insert(p.name.clone());
            }
        }
    }
    // Drift: every managed parent's children, the unmanaged ones too.
    if list_all {
        for r in state.resources.values() {
            for child in kind::ALL.iter().copied() {
                if let Refresh::ByParent(field) = child.refresh
                    && child.field(field).and_then(kind::resource::ref_kind) == Some(r.kind)
                    && listable(&r.id)
                {
                    parents
                        .entry((child, r.sandbox.clone(), r.id.to_lowercase()))
                        .or_insert(1);
                }
            }
        }
    }

    let mut report = Report::default();
    let mut listed: BTreeMap<Group, ListedBecause> = BTreeMap::new();
    for group in ids.keys() {
        let because = if list_all {
            Some(ListedBecause::All)
        } else if names.get(group).is_some_and(|n| n.iter().any(|n| !listable(n))) {
            Some(ListedBecause::Unfilterable)
        } else {
            None
        };
        if let Some(because) = because {
            listed.insert(group.clone(), because);
        }
    }
    // The managed ones by id, where that costs no more requests than listing.
    let mut counted: BTreeMap<Group, u64> = BTreeMap::new();
    let mut jobs: Vec<Job> = Vec::new();
    // The groups whose batches the prefetch sent.
    let mut taken: BTreeSet<Group> = BTreeSet::new();
    for (group, wanted) in &ids {
        if listed.contains_key(group) || wanted.is_empty() {
            continue;
        }
        let Some(kind) = kind::by_name(group.0) else {
            continue;
        };
        if !kind.collection.filters() {
            // No batches by id (Data Prep): a GET each, or the listing when that is fewer
            // requests (its pages by offset go at once).
            let pages = (wanted.len() as u64).div_ceil(PAGE_SIZE).max(1);
            if wanted.len() as u64 <= pages + PREP_GETS {
                report.groups.entry(group.clone()).or_default().strategy = Some(Strategy::ByIds {
                    ids: wanted.len(),
                    requests: wanted.len() as u64,
                    listing: pages,
                    counted: None,
                });
                jobs.extend(wanted.iter().map(|id| Job::Get(group.clone(), id.clone())));
            } else {
                counted.insert(group.clone(), wanted.len() as u64);
                listed.insert(
                    group.clone(),
                    ListedBecause::NoBatches {
                        managed: wanted.len(),
                    },
                );
            }
            continue;
        }
        let (plain, odd): (Vec<String>, Vec<String>) = wanted.iter().cloned().partition(|id| listable(id));
        let batches = client.batches(kind.collection, &[], "id", plain);
        let by_id = (batches.len() + odd.len()) as u64;
        // A listing of the group holds at least the managed ones: a page per 100, and its count.
        let at_least = at_least(wanted.len());
        let mut strategy = Strategy::ByIds {
            ids: wanted.len(),
            requests: by_id,
            listing: at_least,
            counted: None,
        };
        if by_id > at_least {
            let count = client
                .count(kind.collection, &group.1, &run::group_filter(group))
                .await?;
            expect(1);
            let pages = count.div_ceil(PAGE_SIZE).max(1);
            if pages < by_id {
                counted.insert(group.clone(), count);
                listed.insert(group.clone(), ListedBecause::Cheaper { by_id });
                continue;
            }
            strategy = Strategy::ByIds {
                ids: wanted.len(),
                requests: by_id,
                listing: pages,
                counted: Some(count),
            };
        }
        report.groups.entry(group.clone()).or_default().strategy = Some(strategy);
        // Read already, if the prefetch asked for exactly these.
        let plain: BTreeSet<String> = batches.iter().flatten().cloned().collect();
        if prefetched
            .as_ref()
            .is_some_and(|p| p.asked.get(group) == Some(&plain))
        {
            taken.insert(group.clone());
        } else {
            jobs.extend(batches.into_iter().map(|b| Job::Ids(group.clone(), b)));
        }
        jobs.extend(odd.into_iter().map(|id| Job::Get(group.clone(), id)));
    }
    for (group, wanted) in &names {
        if listed.contains_key(group) {
            continue;
        }
        // Data Prep looks up one name a request: many are seen by listing the sandbox's sets
        // instead (its pages by offset sent at once).
        let by_name = kind::by_name(group.0).is_none_or(|k| k.collection.filters());
        if !by_name && wanted.len() as u64 > PREP_GETS {
            let managed = ids.get(group).map_or(0, BTreeSet::len);
            listed.insert(group.clone(), ListedBecause::NoBatches { managed });
            continue;
        }
        jobs.extend(run::name_jobs(client, group, wanted.iter().cloned(), &mut report));
    }
    // A listing is counted first, but where its API counts nothing (Data Prep): the managed
    // ones stand for its count, as many pages as they fill sent at once.
    jobs.extend(listed.keys().map(|group| {
        let uncounted = kind::by_name(group.0).is_some_and(|k| !k.collection.filters());
        let count = match counted.get(group) {
            Some(n) => Some(*n),
            None if uncounted => Some(ids.get(group).map_or(0, |w| w.len() as u64)),
            None => None,
        };
        Job::List(group.clone(), count)
    }));
    // The parents: those the prefetch asked for are read already; the rest now.
    let prefetched_parents = prefetched.as_ref().map(|p| p.parents.clone()).unwrap_or_default();
    let extra: BTreeMap<Parent, u64> = parents
        .iter()
        .filter(|((k, s, p), _)| {
            !prefetched_parents
                .get(&(k.name, s.clone()))
                .is_some_and(|asked| asked.contains(p))
        })
        .map(|(p, n)| (p.clone(), *n))
        .collect();
    for (kind, sandbox, batch) in parent_batches(client, extra) {
        jobs.push(Job::Parents(kind, sandbox, batch));
    }
    report.parents = parents.len();

    let mut live = Live {
        refreshed: true,
        own_client: Some(client.settings().client_id.clone()),
        ..Live::default()
    };
    if let Some(p) = &prefetched {
        for (kind, sandbox, scope) in p.asked.keys().filter(|group| !taken.contains(*group)) {
            let place = match kind::by_name(kind) {
                Some(k) if !k.is_default() => format!("sandbox {sandbox}, {}s of {scope}", k.noun),
                _ => format!("sandbox {sandbox}, spec {scope}"),
            };
            crate::info!(
                "refresh: {place}: the batches by id sent while the configuration was read are not used (the configuration needs this pair listed)"
            );
        }
    }
    let prefetched = match prefetched {
        Some(p) if !taken.is_empty() || !p.parents.is_empty() => Some(p.reads),
        Some(p) => {
            // Nothing of it is used: its requests stop here.
            p.reads.abort();
            None
        }
        None => None,
    };
    let (ran, reads) = tokio::join!(
        run(client, jobs, expect, &listed, &mut live, &mut report),
        async {
            match prefetched {
                Some(reads) => Some(reads.await),
                None => None,
            }
        }
    );
    ran?;
    if let Some(reads) = reads {
        let reads = reads.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: "/connections".into(),
            reason: format!("a refresh task failed: {e}"),
        })??;
        for read in reads {
            match &read {
                run::Read::Ids(group, ..) if !taken.contains(group) => continue,
                _ => run::record(read, &listed, &mut live, &mut report),
            }
        }
    }

    // A managed resource gone from AEP is created again: its name must be free too.
    let mut more: Vec<Job> = Vec::new();
    let mut more_listed: BTreeMap<Group, ListedBecause> = BTreeMap::new();
    let mut gone: BTreeMap<Group, BTreeSet<String>> = BTreeMap::new();
    for (address, r) in &state.resources {
        if r.kind.refresh != Refresh::ById {
            continue;
        }
        let scope = r.scope().into_iter().next().unwrap_or_default();
        let group = (r.kind.name, r.sandbox.clone(), scope);
        let seen = live.objects.get(&r.id).is_some_and(|s| s.sandbox == r.sandbox);
        if seen {
            continue;
        }
        if listed.contains_key(&group) {
            // A listing by offset may miss one that moved between its pages: what it did not
            // show is read by id before it is taken for gone (and made again).
            if !r.kind.collection.filters() {
                live.listed.remove(&group);
                more.push(Job::Get(group.clone(), r.id.clone()));
            }
            continue;
        }
        if let Some(d) = desired.resources.get(address) {
            let scope = declared_scope(desired, state, d).unwrap_or_default();
            if !live.name_seen(d.kind, &d.sandbox, &scope, d.name()) {
                gone.entry((d.kind.name, d.sandbox.clone(), scope))
                    .or_default()
                    .insert(d.name().to_owned());
            }
        }
    }
    for (group, wanted) in gone {
        if wanted.iter().all(|n| listable(n)) {
            more.extend(run::name_jobs(client, &group, wanted.into_iter(), &mut report));
        } else {
            more.push(Job::List(group.clone(), None));
            more_listed.insert(group, ListedBecause::Unfilterable);
        }
    }
    // The resources to import, unless a listing saw them: by id too, with the names.
    let mut to_import: BTreeMap<(&'static str, String), BTreeSet<String>> = BTreeMap::new();
    for (kind, sandbox, id) in imports {
        if !live.objects.contains_key(&id) {
            to_import.entry((kind.name, sandbox)).or_default().insert(id);
        }
    }
    for ((kind_name, sandbox), wanted) in to_import {
        let Some(kind) = kind::by_name(kind_name) else {
            continue;
        };
        // Only the kind and sandbox of the group matter to a read by id.
        let group = (kind.name, sandbox, String::new());
        let (plain, odd): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|id| listable(id));
        more.extend(
            client
                .batches(kind.collection, &[], "id", plain)
                .into_iter()
                .map(|b| Job::Ids(group.clone(), b)),
        );
        more.extend(odd.into_iter().map(|id| Job::Get(group.clone(), id)));
    }
    if !more.is_empty() {
        run(client, more, expect, &more_listed, &mut live, &mut report).await?;
    }
    // What the imports take with them (`plan::chain`), by id: a link of the chain a round.
    for _ in 0..kind::ALL.len() {
        let unread = crate::plan::chain::of_imports(desired, state, &live).unread;
        let mut wanted: BTreeMap<(&'static str, String), BTreeSet<String>> = BTreeMap::new();
        for (kind, sandbox, id) in unread {
            if !live.fetched.contains(&id) {
                wanted.entry((kind.name, sandbox)).or_default().insert(id);
            }
        }
        if wanted.is_empty() {
            break;
        }
        let mut jobs = Vec::new();
        for ((kind_name, sandbox), ids) in wanted {
            let Some(kind) = kind::by_name(kind_name) else {
                continue;
            };
            let group = (kind.name, sandbox, String::new());
            let (plain, odd): (Vec<String>, Vec<String>) = ids.into_iter().partition(|id| listable(id));
            jobs.extend(
                client
                    .batches(kind.collection, &[], "id", plain)
                    .into_iter()
                    .map(|b| Job::Ids(group.clone(), b)),
            );
            jobs.extend(odd.into_iter().map(|id| Job::Get(group.clone(), id)));
        }
        run(client, jobs, expect, &BTreeMap::new(), &mut live, &mut report).await?;
    }
    report.requests = client.requests() - before;
    report::say(&report);
    Ok((live, report))
}
