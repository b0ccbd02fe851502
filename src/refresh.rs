//! Reading AEP before planning, in as few requests as the documented API allows, sent in
//! parallel where they do not depend on each other.
//!
//! For each sandbox and connection spec in play, flowform reads:
//!
//! - **the managed connections by id**, in batches of `property=id==a,b,…` (up to a page,
//!   100, per request, each URL within `--max-url-length`), all batches at once up to
//!   `--parallelism`. Their cost does not grow with the connections flowform does not manage.
//! - **the names it must check** (where it may create or rename a connection: its name must
//!   be free), in batches of `property=name==…` beside the spec's filter, in parallel too.
//!   One managed connection gone from AEP is created again, so its name is looked up as well.
//! - **the whole listing** (`count=true`, then every page, one after another: a continuation
//!   token comes only with the page before, and AEP documents no other way to split a
//!   listing into independent parts) only where flowform must see every connection (`drift`,
//!   a refresh-only plan), where a name cannot be put in a filter (a comma, which separates
//!   values, or a space or quote at either end), or where counting shows that listing takes
//!   fewer requests than the batches (a short `--max-url-length` and few other connections).
//!
//! **The cost rule counts requests**, not rounds of requests: AEP's rate limits count
//! requests, whether sent together or one after another. The batches by id are chosen when
//! they take no more requests than the least a listing of the same pair could (its count, and
//! a page per 100 of the managed ones, which it holds at least); otherwise the pair is
//! counted (one request), and listed only if its pages are then fewer than the batches. At a
//! tie the batches win: they run in parallel, the pages cannot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::config::Desired;
use crate::flow::limits::PAGE_SIZE;
use crate::flow::model::LiveConnection;
use crate::flow::{Client, Filter, FlowError, listable};
use crate::plan::Live;
use crate::state::{Action, State};

/// A sandbox and a connection spec id.
type Pair = (String, String);

/// Why a sandbox and spec was listed in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListedBecause {
    /// Every connection must be seen (`drift`, a refresh-only plan).
    All,
    /// A name to check cannot be put in a `property=name==…` filter.
    Unfilterable,
    /// Counting showed its pages to be fewer than the batches by id would be.
    Cheaper { by_id: u64 },
}

/// How one sandbox and spec was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Listed in full: `count` connections in `pages` pages, after counting them.
    Listed {
        count: u64,
        pages: u64,
        because: ListedBecause,
    },
    /// The managed connections read by id, `requests` batches of `property=id==…` (and
    /// one GET per id that cannot go in a filter). `listing`: what listing would have
    /// taken: at least this many requests, or, when counted, exactly this many (the count
    /// already spent).
    ByIds {
        ids: usize,
        requests: u64,
        listing: u64,
        counted: Option<u64>,
    },
}

/// What the refresh did for one sandbox and spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairReport {
    /// `None`: nothing managed there, and no listing needed.
    pub strategy: Option<Strategy>,
    /// Names looked up by filter, and in how many requests.
    pub names: usize,
    pub name_requests: u64,
}

/// What the refresh did, for `-v`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub pairs: BTreeMap<Pair, PairReport>,
    /// Requests sent, all of them (a batch answered in more than one page included).
    pub requests: u64,
}

/// One request's worth (or one listing's) of reading, run as a task of its own.
enum Job {
    /// Count, then list every page.
    List(Pair, Option<u64>),
    /// A batch of ids.
    Ids(Pair, Vec<String>),
    /// An id that cannot go in a filter: `GET /connections/{id}`.
    Get(Pair, String),
    /// A batch of names.
    Names(Pair, Vec<String>),
}

/// What a job read.
enum Read {
    Counted(Pair, u64),
    Listed(Pair, u64, Vec<LiveConnection>),
    Ids(Pair, Vec<String>, Vec<LiveConnection>),
    Got(Pair, String, Option<Box<LiveConnection>>),
    Names(Pair, Vec<String>, Vec<LiveConnection>),
}

/// A batch of ids asked for in a sandbox and spec, and what came back.
type Batch = (Pair, Vec<String>, Vec<LiveConnection>);

/// The managed connections' batches by id, started as soon as the state is open, while the
/// configuration is still being read: they depend on the state alone. [`refresh`] takes
/// their answers for every sandbox and spec it reads by id with exactly these batches, and
/// drops the rest (a pair it must list, which the configuration tells only later).
pub struct Prefetch {
    /// Per sandbox and spec, the ids its batches ask for.
    asked: BTreeMap<Pair, BTreeSet<String>>,
    reads: tokio::task::JoinHandle<Result<Vec<Batch>, FlowError>>,
}

impl Prefetch {
    /// Starts the batches of `state`'s managed connections on the current runtime, for each
    /// sandbox and spec that the rule of [`refresh`] reads by id without counting (the
    /// batches take no more requests than the least a listing could). Call it within the
    /// runtime.
    pub fn start(client: &Arc<Client>, state: &State) -> Prefetch {
        let mut ids: BTreeMap<Pair, BTreeSet<String>> = BTreeMap::new();
        for r in state.connections.values() {
            ids.entry((r.sandbox.clone(), r.connection_spec.id.clone()))
                .or_default()
                .insert(r.id.clone());
        }
        let mut asked = BTreeMap::new();
        let mut jobs: Vec<(Pair, Vec<String>)> = Vec::new();
        for (pair, wanted) in ids {
            let (plain, odd): (Vec<String>, Vec<String>) =
                wanted.iter().cloned().partition(|id| listable(id));
            let batches = client.batches(&[], "id", plain.clone());
            if (batches.len() + odd.len()) as u64 > at_least(wanted.len()) {
                continue;
            }
            asked.insert(pair.clone(), plain.into_iter().collect());
            jobs.extend(batches.into_iter().map(|b| (pair.clone(), b)));
        }
        let client = client.clone();
        let reads = tokio::spawn(async move {
            let mut tasks = JoinSet::new();
            for (pair, batch) in jobs {
                let client = client.clone();
                tasks.spawn(async move {
                    let filter = [Filter::new("id", batch.iter().cloned())];
                    let found = client.list_batch(&pair.0, &filter, batch.len()).await?;
                    Ok::<_, FlowError>((pair, batch, found))
                });
            }
            let mut reads = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                reads.push(joined.map_err(|e| FlowError::Protocol {
                    method: "GET".into(),
                    path: "/connections".into(),
                    reason: format!("a refresh task failed: {e}"),
                })??);
            }
            Ok(reads)
        });
        Prefetch { asked, reads }
    }
}

/// The least a listing of a sandbox and spec holding `managed` managed connections takes:
/// its count and a page per 100 of them.
fn at_least(managed: usize) -> u64 {
    1 + (managed as u64).div_ceil(PAGE_SIZE).max(1)
}

/// Refreshes what `desired` and `state` involve. `list_all`: list every pair in full
/// (drift detection, which must see unmanaged connections). `expect` is told how many
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
    // Which managed ids live in which pair, and which names must be checked in which pair.
    let mut ids: BTreeMap<Pair, BTreeSet<String>> = BTreeMap::new();
    let mut names: BTreeMap<Pair, BTreeSet<String>> = BTreeMap::new();
    for r in state.connections.values() {
        ids.entry((r.sandbox.clone(), r.connection_spec.id.clone()))
            .or_default()
            .insert(r.id.clone());
    }
    let mut imports: Vec<(String, String)> = Vec::new();
    for c in desired.connections.values() {
        let pair = (c.sandbox.clone(), c.connection_spec.id.clone());
        ids.entry(pair.clone()).or_default();
        let record = state.connections.get(&crate::state::address(&c.sandbox, &c.key));
        // A connection that may be created (new, or replaced because its spec or auth spec
        // changes) or renamed: its name must be free in its sandbox and spec.
        let replaced = record.is_some_and(|r| {
            !r.connection_spec.id.eq_ignore_ascii_case(&c.connection_spec.id)
                || !r
                    .connection_spec
                    .version
                    .eq_ignore_ascii_case(&c.connection_spec.version)
                || !r.auth_spec_name.eq_ignore_ascii_case(&c.auth.spec_name)
        });
        match (&c.import, record) {
            (Some(id), None) => imports.push((c.sandbox.clone(), id.clone())),
            (None, None) => {
                names.entry(pair).or_default().insert(c.name.clone());
            }
            (_, Some(r)) if replaced || r.name != c.name => {
                names.entry(pair).or_default().insert(c.name.clone());
            }
            _ => {}
        }
    }
    // An interrupted create is recovered by the name it was created with.
    for p in &state.pending {
        if p.action == Action::Create {
            let pair = (p.sandbox.clone(), p.spec_id.clone());
            ids.entry(pair.clone()).or_default();
            names.entry(pair).or_default().insert(p.name.clone());
        }
    }

    let mut report = Report::default();
    let mut listed: BTreeMap<Pair, ListedBecause> = BTreeMap::new();
    for pair in ids.keys() {
        let because = if list_all {
            Some(ListedBecause::All)
        } else if names.get(pair).is_some_and(|n| n.iter().any(|n| !listable(n))) {
            Some(ListedBecause::Unfilterable)
        } else {
            None
        };
        if let Some(because) = because {
            listed.insert(pair.clone(), because);
        }
    }
    // The managed ones by id, where that costs no more requests than listing.
    let mut counted: BTreeMap<Pair, u64> = BTreeMap::new();
    let mut jobs: Vec<Job> = Vec::new();
    // The pairs whose batches the prefetch sent.
    let mut taken: BTreeSet<Pair> = BTreeSet::new();
    for (pair, wanted) in &ids {
        if listed.contains_key(pair) || wanted.is_empty() {
            continue;
        }
        let (plain, odd): (Vec<String>, Vec<String>) = wanted.iter().cloned().partition(|id| listable(id));
        let batches = client.batches(&[], "id", plain);
        let by_id = (batches.len() + odd.len()) as u64;
        // A listing of the pair holds at least the managed ones: a page per 100, and its count.
        let at_least = at_least(wanted.len());
        let mut strategy = Strategy::ByIds {
            ids: wanted.len(),
            requests: by_id,
            listing: at_least,
            counted: None,
        };
        if by_id > at_least {
            let count = client
                .count_connections(&pair.0, &[Filter::new("connectionSpec.id", [pair.1.clone()])])
                .await?;
            expect(1);
            let pages = count.div_ceil(PAGE_SIZE).max(1);
            if pages < by_id {
                counted.insert(pair.clone(), count);
                listed.insert(pair.clone(), ListedBecause::Cheaper { by_id });
                continue;
            }
            strategy = Strategy::ByIds {
                ids: wanted.len(),
                requests: by_id,
                listing: pages,
                counted: Some(count),
            };
        }
        report.pairs.entry(pair.clone()).or_default().strategy = Some(strategy);
        // Read already, if the prefetch asked for exactly these.
        let plain: BTreeSet<String> = batches.iter().flatten().cloned().collect();
        if prefetched
            .as_ref()
            .is_some_and(|p| p.asked.get(pair) == Some(&plain))
        {
            taken.insert(pair.clone());
        } else {
            jobs.extend(batches.into_iter().map(|b| Job::Ids(pair.clone(), b)));
        }
        jobs.extend(odd.into_iter().map(|id| Job::Get(pair.clone(), id)));
    }
    for (pair, wanted) in &names {
        if !listed.contains_key(pair) {
            jobs.extend(name_jobs(client, pair, wanted.iter().cloned(), &mut report));
        }
    }
    jobs.extend(
        listed
            .keys()
            .map(|pair| Job::List(pair.clone(), counted.get(pair).copied())),
    );

    let mut live = Live {
        refreshed: true,
        own_client: Some(client.settings().client_id.clone()),
        ..Live::default()
    };
    if let Some(p) = &prefetched {
        for (sandbox, spec) in p.asked.keys().filter(|pair| !taken.contains(*pair)) {
            crate::info!(
                "refresh: sandbox {sandbox}, spec {spec}: the batches by id sent while the configuration was read are not used (the configuration needs this pair listed)"
            );
        }
    }
    let prefetched = match prefetched {
        Some(p) if !taken.is_empty() => Some(p.reads),
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
        for (pair, batch, found) in reads {
            if taken.contains(&pair) {
                record_ids(&mut live, &pair, batch, found);
            }
        }
    }

    // A managed connection gone from AEP is created again: its name must be free too.
    let unseen: Vec<(&String, &crate::state::Record)> = state
        .connections
        .iter()
        .filter(|(_, r)| {
            !listed.contains_key(&(r.sandbox.clone(), r.connection_spec.id.clone()))
                && live
                    .connections
                    .get(&r.id)
                    .is_none_or(|(sandbox, _)| *sandbox != r.sandbox)
        })
        .collect();
    let mut gone: BTreeMap<Pair, BTreeSet<String>> = BTreeMap::new();
    if !unseen.is_empty() {
        let declared: BTreeMap<String, &crate::config::Connection> = desired
            .connections
            .values()
            .map(|c| (crate::state::address(&c.sandbox, &c.key), c))
            .collect();
        for (address, _) in unseen {
            if let Some(d) = declared.get(address)
                && !live.name_seen(&d.sandbox, &d.connection_spec.id, &d.name)
            {
                gone.entry((d.sandbox.clone(), d.connection_spec.id.clone()))
                    .or_default()
                    .insert(d.name.clone());
            }
        }
    }
    let mut more: Vec<Job> = Vec::new();
    let mut more_listed: BTreeMap<Pair, ListedBecause> = BTreeMap::new();
    for (pair, wanted) in gone {
        if wanted.iter().all(|n| listable(n)) {
            more.extend(name_jobs(client, &pair, wanted.into_iter(), &mut report));
        } else {
            more.push(Job::List(pair.clone(), None));
            more_listed.insert(pair, ListedBecause::Unfilterable);
        }
    }
    // The connections to import, unless a listing saw them: by id too, with the names.
    let mut to_import: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (sandbox, id) in imports {
        if !live.connections.contains_key(&id) {
            to_import.entry(sandbox).or_default().insert(id);
        }
    }
    for (sandbox, wanted) in to_import {
        // Only the sandbox of the pair matters to a read by id.
        let pair = (sandbox, String::new());
        let (plain, odd): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|id| listable(id));
        more.extend(
            client
                .batches(&[], "id", plain)
                .into_iter()
                .map(|b| Job::Ids(pair.clone(), b)),
        );
        more.extend(odd.into_iter().map(|id| Job::Get(pair.clone(), id)));
    }
    if !more.is_empty() {
        run(client, more, expect, &more_listed, &mut live, &mut report).await?;
    }
    report.requests = client.requests() - before;
    say(&report);
    Ok((live, report))
}

/// The jobs that look up `wanted` names (all [`listable`]) in `pair`, in batches.
fn name_jobs(
    client: &Client,
    pair: &Pair,
    wanted: impl Iterator<Item = String>,
    report: &mut Report,
) -> Vec<Job> {
    let spec = [Filter::new("connectionSpec.id", [pair.1.clone()])];
    let wanted: Vec<String> = wanted.collect();
    let count = wanted.len();
    let batches = client.batches(&spec, "name", wanted);
    let entry = report.pairs.entry(pair.clone()).or_default();
    entry.names += count;
    entry.name_requests += batches.len() as u64;
    batches.into_iter().map(|b| Job::Names(pair.clone(), b)).collect()
}

/// Runs `jobs` at once (the client bounds how many requests are in flight) and records what
/// they read in `live`; `listed`: why each listed pair is listed, for the report.
async fn run(
    client: &Arc<Client>,
    jobs: Vec<Job>,
    expect: &dyn Fn(u64),
    listed: &BTreeMap<Pair, ListedBecause>,
    live: &mut Live,
    report: &mut Report,
) -> Result<(), FlowError> {
    let mut tasks: JoinSet<Result<Read, FlowError>> = JoinSet::new();
    // The counts of the listings first: their pages are known only then.
    let mut counts = 0;
    for job in jobs {
        match job {
            Job::List(pair, None) => {
                let client = client.clone();
                counts += 1;
                tasks.spawn(async move {
                    let spec = [Filter::new("connectionSpec.id", [pair.1.clone()])];
                    let count = client.count_connections(&pair.0, &spec).await?;
                    Ok(Read::Counted(pair, count))
                });
            }
            Job::List(pair, Some(count)) => {
                expect(count.div_ceil(PAGE_SIZE).max(1));
                spawn_list(&mut tasks, client, pair, count);
            }
            Job::Ids(pair, batch) => {
                expect(1);
                let client = client.clone();
                tasks.spawn(async move {
                    let filter = [Filter::new("id", batch.iter().cloned())];
                    let found = client.list_batch(&pair.0, &filter, batch.len()).await?;
                    Ok(Read::Ids(pair, batch, found))
                });
            }
            Job::Get(pair, id) => {
                expect(1);
                let client = client.clone();
                tasks.spawn(async move {
                    let found = client.get_connection(&pair.0, &id).await?;
                    Ok(Read::Got(pair, id, found.map(Box::new)))
                });
            }
            Job::Names(pair, batch) => {
                expect(1);
                let client = client.clone();
                tasks.spawn(async move {
                    let filters = [
                        Filter::new("connectionSpec.id", [pair.1.clone()]),
                        Filter::new("name", batch.iter().cloned()),
                    ];
                    let found = client.list_batch(&pair.0, &filters, batch.len()).await?;
                    Ok(Read::Names(pair, batch, found))
                });
            }
        }
    }
    expect(counts);
    while let Some(joined) = tasks.join_next().await {
        let read = joined.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: "/connections".into(),
            reason: format!("a refresh task failed: {e}"),
        })??;
        match read {
            // A count: now its pages.
            Read::Counted(pair, count) => {
                expect(count.div_ceil(PAGE_SIZE).max(1));
                spawn_list(&mut tasks, client, pair, count);
            }
            Read::Listed(pair, count, items) => {
                for conn in items {
                    live.connections.insert(conn.id.clone(), (pair.0.clone(), conn));
                }
                let because = listed.get(&pair).cloned().unwrap_or(ListedBecause::All);
                report.pairs.entry(pair.clone()).or_default().strategy = Some(Strategy::Listed {
                    count,
                    pages: count.div_ceil(PAGE_SIZE).max(1),
                    because,
                });
                live.listed.insert(pair);
            }
            Read::Ids(pair, batch, found) => record_ids(live, &pair, batch, found),
            Read::Got(pair, id, found) => {
                live.fetched.insert(id.clone());
                if let Some(conn) = found {
                    live.connections.insert(id, (pair.0.clone(), *conn));
                }
            }
            Read::Names(pair, batch, found) => {
                let asked: BTreeSet<&String> = batch.iter().collect();
                for conn in found {
                    let spec_matches = conn.spec_id().is_some_and(|s| s.eq_ignore_ascii_case(&pair.1));
                    if asked.contains(&conn.name) && spec_matches {
                        live.connections.insert(conn.id.clone(), (pair.0.clone(), conn));
                    }
                }
                for name in batch {
                    live.named.insert((pair.0.clone(), pair.1.clone(), name));
                }
            }
        }
    }
    Ok(())
}

/// Records what a batch by id found: only what was asked for (an answer is not trusted to
/// stick to the filter), and every id asked as read.
fn record_ids(live: &mut Live, pair: &Pair, batch: Vec<String>, found: Vec<LiveConnection>) {
    let asked: BTreeSet<&String> = batch.iter().collect();
    for conn in found {
        if asked.contains(&conn.id) {
            live.connections.insert(conn.id.clone(), (pair.0.clone(), conn));
        }
    }
    live.fetched.extend(batch);
}

/// Spawns the listing of `pair`, counted `count` just before.
fn spawn_list(tasks: &mut JoinSet<Result<Read, FlowError>>, client: &Arc<Client>, pair: Pair, count: u64) {
    let client = client.clone();
    tasks.spawn(async move {
        let spec = [Filter::new("connectionSpec.id", [pair.1.clone()])];
        let items = client.list_counted(&pair.0, &spec, count).await?;
        Ok(Read::Listed(pair, count, items))
    });
}

/// `-v`: which way each sandbox and spec was read, and why, in requests.
fn say(report: &Report) {
    for ((sandbox, spec), pair) in &report.pairs {
        match &pair.strategy {
            Some(Strategy::Listed {
                count,
                pages,
                because,
            }) => {
                let why = match because {
                    ListedBecause::All => "every connection must be seen".to_owned(),
                    ListedBecause::Unfilterable => {
                        "a name to check has a comma, or a space or quote at an end, and cannot go in a filter".to_owned()
                    }
                    ListedBecause::Cheaper { by_id } => format!(
                        "fewer requests than the {by_id} by id at this --max-url-length"
                    ),
                };
                crate::info!(
                    "refresh: sandbox {sandbox}, spec {spec}: listed {count} connections, the count and {pages} page{} one after another ({why})",
                    plural(*pages)
                );
            }
            Some(Strategy::ByIds {
                ids,
                requests,
                listing,
                counted,
            }) => {
                let listing = match counted {
                    None => format!(
                        "listing would take at least {listing} (the count and a page per {PAGE_SIZE} managed)"
                    ),
                    Some(count) => {
                        format!("listing its {count} connections would take {listing} more after the count")
                    }
                };
                crate::info!(
                    "refresh: sandbox {sandbox}, spec {spec}: read {ids} managed connection{} by id in {requests} request{}, in parallel; {listing}",
                    plural(*ids as u64),
                    plural(*requests)
                );
            }
            None => {}
        }
        if pair.names > 0 {
            crate::info!(
                "refresh: sandbox {sandbox}, spec {spec}: looked up {} name{} to create or rename in {} request{}, in parallel (no listing needed)",
                pair.names,
                plural(pair.names as u64),
                pair.name_requests,
                plural(pair.name_requests)
            );
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
