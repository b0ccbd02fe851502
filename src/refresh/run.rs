//! The refresh's requests: each job one request's worth (or one listing's) of reading, run
//! as a task of its own, and what each read is recorded as in [`Live`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use super::{ListedBecause, Report, Strategy};
use crate::flow::limits::PAGE_SIZE;
use crate::flow::model::LiveObject;
use crate::flow::{Client, Filter, FlowError};
use crate::kind::{self, Kind, Refresh};
use crate::plan::{Group, Live};

/// One request's worth (or one listing's) of reading.
pub(super) enum Job {
    /// Count, then list every page.
    List(Group, Option<u64>),
    /// A batch of ids.
    Ids(Group, Vec<String>),
    /// An id that cannot go in a filter: `GET {collection}/{id}`.
    Get(Group, String),
    /// A batch of names.
    Names(Group, Vec<String>),
    /// Every child of a batch of parents.
    Parents(&'static Kind, String, Vec<String>),
}

/// What a job read.
pub(super) enum Read {
    Counted(Group, u64),
    Listed(Group, u64, Vec<LiveObject>),
    Ids(Group, Vec<String>, Vec<LiveObject>),
    Got(Group, String, Option<Box<LiveObject>>),
    Names(Group, Vec<String>, Vec<LiveObject>),
    Parents(&'static Kind, String, Vec<String>, Vec<LiveObject>),
}

fn kind_of(group: &Group) -> &'static Kind {
    kind::by_name(group.0).unwrap_or(kind::default())
}

/// A group's own filter: its kind's first scope field (none for a group read by id alone).
pub(super) fn group_filter(group: &Group) -> Vec<Filter> {
    let kind = kind_of(group);
    if group.2.is_empty() {
        return Vec::new();
    }
    kind.scope
        .first()
        .and_then(|path| kind.filter_name(path))
        .map(|name| vec![Filter::new(name, [group.2.clone()])])
        .unwrap_or_default()
}

/// The jobs that look up `wanted` names (all listable) in `group`, in batches.
pub(super) fn name_jobs(
    client: &Client,
    group: &Group,
    wanted: impl Iterator<Item = String>,
    report: &mut Report,
) -> Vec<Job> {
    let kind = kind_of(group);
    let fixed = group_filter(group);
    let wanted: Vec<String> = wanted.collect();
    let count = wanted.len();
    let batches = client.batches(kind.collection, &fixed, "name", wanted);
    let entry = report.groups.entry(group.clone()).or_default();
    entry.names += count;
    entry.name_requests += batches.len() as u64;
    batches
        .into_iter()
        .map(|b| Job::Names(group.clone(), b))
        .collect()
}

fn spawn(tasks: &mut JoinSet<Result<Read, FlowError>>, client: &Arc<Client>, job: Job) -> u64 {
    let client = client.clone();
    match job {
        Job::List(group, None) => {
            tasks.spawn(async move {
                let kind = kind_of(&group);
                let count = client
                    .count(kind.collection, &group.1, &group_filter(&group))
                    .await?;
                Ok(Read::Counted(group, count))
            });
            0
        }
        Job::List(group, Some(count)) => {
            spawn_list(tasks, &client, group, count);
            count.div_ceil(PAGE_SIZE).max(1)
        }
        Job::Ids(group, batch) => {
            tasks.spawn(async move {
                let kind = kind_of(&group);
                let filter = [Filter::new("id", batch.iter().cloned())];
                let found = client
                    .list_batch(kind.collection, &group.1, &filter, batch.len())
                    .await?;
                Ok(Read::Ids(group, batch, found))
            });
            1
        }
        Job::Get(group, id) => {
            tasks.spawn(async move {
                let kind = kind_of(&group);
                let found = client.get(kind.collection, &group.1, &id).await?;
                Ok(Read::Got(group, id, found.map(Box::new)))
            });
            1
        }
        Job::Names(group, batch) => {
            tasks.spawn(async move {
                let kind = kind_of(&group);
                let mut filters = group_filter(&group);
                filters.push(Filter::new("name", batch.iter().cloned()));
                let found = client
                    .list_batch(kind.collection, &group.1, &filters, batch.len())
                    .await?;
                Ok(Read::Names(group, batch, found))
            });
            1
        }
        Job::Parents(kind, sandbox, batch) => {
            tasks.spawn(async move {
                let Refresh::ByParent(field) = kind.refresh else {
                    return Ok(Read::Parents(kind, sandbox, batch, Vec::new()));
                };
                let name = kind.filter_name(field).unwrap_or_else(|| field.to_owned());
                let filter = [Filter::new(name, batch.iter().cloned())];
                let found = client.list_all(kind.collection, &sandbox, &filter).await?;
                Ok(Read::Parents(kind, sandbox, batch, found))
            });
            1
        }
    }
}

/// Spawns the listing of `group`, counted `count` just before.
fn spawn_list(tasks: &mut JoinSet<Result<Read, FlowError>>, client: &Arc<Client>, group: Group, count: u64) {
    let client = client.clone();
    tasks.spawn(async move {
        let kind = kind_of(&group);
        let items = client
            .list_counted(kind.collection, &group.1, &group_filter(&group), count)
            .await?;
        Ok(Read::Listed(group, count, items))
    });
}

fn task_failed(e: &tokio::task::JoinError) -> FlowError {
    FlowError::Protocol {
        method: "GET".into(),
        path: "/connections".into(),
        reason: format!("a refresh task failed: {e}"),
    }
}

/// Runs `jobs` with nothing to record yet (the prefetch): their reads, as they came.
pub(super) async fn reads(client: &Arc<Client>, jobs: Vec<Job>) -> Result<Vec<Read>, FlowError> {
    let mut tasks: JoinSet<Result<Read, FlowError>> = JoinSet::new();
    for job in jobs {
        spawn(&mut tasks, client, job);
    }
    let mut reads = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        reads.push(joined.map_err(|e| task_failed(&e))??);
    }
    Ok(reads)
}

/// Runs `jobs` at once (the client bounds how many requests are in flight) and records what
/// they read in `live`; `listed`: why each listed group is listed, for the report.
pub(super) async fn run(
    client: &Arc<Client>,
    jobs: Vec<Job>,
    expect: &dyn Fn(u64),
    listed: &BTreeMap<Group, ListedBecause>,
    live: &mut Live,
    report: &mut Report,
) -> Result<(), FlowError> {
    let mut tasks: JoinSet<Result<Read, FlowError>> = JoinSet::new();
    // The counts of the listings first: their pages are known only then.
    let mut counts = 0;
    for job in jobs {
        if matches!(job, Job::List(_, None)) {
            counts += 1;
        }
        expect(spawn(&mut tasks, client, job));
    }
    expect(counts);
    while let Some(joined) = tasks.join_next().await {
        let read = joined.map_err(|e| task_failed(&e))??;
        if let Read::Counted(group, count) = read {
            // A count: now its pages.
            expect(count.div_ceil(PAGE_SIZE).max(1));
            spawn_list(&mut tasks, client, group, count);
            continue;
        }
        record(read, listed, live, report);
    }
    Ok(())
}

/// Records what a read found: only what was asked for (an answer is not trusted to stick to
/// the filter), and every id, name, group or parent asked as seen whole.
pub(super) fn record(
    read: Read,
    listed: &BTreeMap<Group, ListedBecause>,
    live: &mut Live,
    report: &mut Report,
) {
    match read {
        Read::Counted(..) => {}
        Read::Listed(group, count, items) => {
            let kind = kind_of(&group);
            for object in items {
                if crate::plan::scope_of(kind, &object) == group.2 || group.2.is_empty() {
                    live.see(kind, &group.1, object);
                }
            }
            let because = listed.get(&group).cloned().unwrap_or(ListedBecause::All);
            report.groups.entry(group.clone()).or_default().strategy = Some(Strategy::Listed {
                count,
                pages: count.div_ceil(PAGE_SIZE).max(1),
                because,
            });
            live.listed.insert(group);
        }
        Read::Ids(group, batch, found) => {
            let kind = kind_of(&group);
            let asked: BTreeSet<&String> = batch.iter().collect();
            for object in found {
                if asked.contains(&object.id) {
                    live.see(kind, &group.1, object);
                }
            }
            live.fetched.extend(batch);
        }
        Read::Got(group, id, found) => {
            live.fetched.insert(id);
            if let Some(object) = found {
                live.see(kind_of(&group), &group.1, *object);
            }
        }
        Read::Names(group, batch, found) => {
            let kind = kind_of(&group);
            let asked: BTreeSet<&String> = batch.iter().collect();
            for object in found {
                if asked.contains(&object.name) && crate::plan::scope_of(kind, &object) == group.2 {
                    live.see(kind, &group.1, object);
                }
            }
            for name in batch {
                live.named
                    .insert((group.0, group.1.clone(), group.2.clone(), name));
            }
        }
        Read::Parents(kind, sandbox, batch, found) => {
            let asked: BTreeSet<&String> = batch.iter().collect();
            let mut children = 0;
            for object in found {
                if asked.contains(&crate::plan::scope_of(kind, &object)) {
                    children += 1;
                    live.see(kind, &sandbox, object);
                }
            }
            let entry = report
                .parents_read
                .entry((kind.name, sandbox.clone()))
                .or_default();
            entry.0 += batch.len();
            entry.1 += 1;
            entry.2 += children;
            for parent in batch {
                live.listed.insert((kind.name, sandbox.clone(), parent));
            }
        }
    }
}
