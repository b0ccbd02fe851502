//! After the steps: what AEP says of the resources this apply created or changed (their
//! state and timestamps, which a create's or a PATCH's answer does not carry), read back and
//! recorded; and a name another run gave a resource at the same moment, settled.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{ApplyError, Ctx, Failure, delete, names};
use crate::config::Resource;
use crate::flow::Filter;
use crate::flow::model::LiveObject;
use crate::state::{Record, Store};

impl Ctx {
    /// Records what AEP said of resources flowform just created or changed (their state
    /// and timestamps), each whose etag is still the one flowform recorded: journalled
    /// together, with one flush. A failure to record them is a note (the next plan reads
    /// them anyway).
    async fn record_read_back(&self, read: &[(&str, &LiveObject)]) {
        let written = {
            let mut store = self.store();
            let records: Vec<(String, Option<Record>)> = read
                .iter()
                .filter_map(|(address, live)| {
                    read_back_record(&store, address, live).map(|r| ((*address).to_owned(), Some(r)))
                })
                .collect();
            let count = records.len();
            (count, store.record_all_deferred(records))
        };
        let (count, written) = written;
        let durable = match written {
            Ok(durable) => durable.wait_async().await,
            Err(e) => Err(e),
        };
        if let Err(e) = durable {
            self.note(format!(
                "could not record what AEP says of {count} resource{} read back: {e}",
                if count == 1 { "" } else { "s" }
            ));
        }
    }
}

/// A resource's record with what AEP now says of its state and timestamps, if its etag is
/// still the one flowform recorded and anything changed.
fn read_back_record(store: &Store, address: &str, live: &LiveObject) -> Option<Record> {
    let mut record = store.state().resources.get(address).cloned()?;
    if record.id != live.id || record.etag != live.etag || live.etag.is_none() {
        return None;
    }
    let before = (record.state.clone(), record.created_at, record.updated_at);
    record.state = live.state.clone();
    record.created_at = live.created_at;
    record.updated_at = live.updated_at;
    (before != (record.state.clone(), record.created_at, record.updated_at)).then_some(record)
}

/// Records what AEP says of the resources this apply created or changed — state and
/// timestamps, which a create's or a PATCH's answer does not carry — up to a page of ids
/// per request (`property=id==a,b,…`, each URL within `--max-url-length`). A resource whose
/// etag moved meanwhile is left as flowform applied it (the next plan shows what someone
/// else changed). A failed read is a note, not a failure: nothing is assumed, and the next
/// plan reads them anyway.
pub(super) async fn read_back(ctx: &Arc<Ctx>, addresses: &[String]) {
    let mut by_place: BTreeMap<(&'static str, String), Vec<(String, String)>> = BTreeMap::new();
    {
        let store = ctx.store();
        for address in addresses {
            // What a write's answer does not carry is the Flow Service's (state, timestamps):
            // a Data Prep write answers its version, recorded already.
            if let Some(r) = store.state().resources.get(address)
                && r.kind.collection.filters()
            {
                by_place
                    .entry((r.kind.collection.path, r.sandbox.clone()))
                    .or_default()
                    .push((r.id.clone(), address.clone()));
            }
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for ((collection, sandbox), ids) in by_place {
        let addresses: BTreeMap<String, String> = ids.into_iter().collect();
        // Ids that cannot go in a filter (a hand-edited state) are left to the next plan.
        let listable = addresses.keys().filter(|id| crate::flow::listable(id)).cloned();
        for batch in ctx.client.batches(collection, &[], "id", listable.collect()) {
            let batch: Vec<(String, String)> = batch
                .into_iter()
                .filter_map(|id| addresses.get(&id).map(|a| (id, a.clone())))
                .collect();
            let (ctx, sandbox) = (ctx.clone(), sandbox.clone());
            tasks.spawn(async move {
                let filter = Filter::new("id", batch.iter().map(|(id, _)| id.clone()));
                let listed = ctx
                    .client
                    .list_batch(collection, &sandbox, &[filter], batch.len())
                    .await;
                (ctx, batch, listed)
            });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((ctx, batch, listed)) = joined else {
            continue;
        };
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => {
                ctx.note(format!(
                    "could not read back {} resource{} after applying ({e}); the next plan reads them",
                    batch.len(),
                    if batch.len() == 1 { "" } else { "s" }
                ));
                continue;
            }
        };
        let by_id: BTreeMap<&str, &str> = batch.iter().map(|(id, a)| (id.as_str(), a.as_str())).collect();
        let read: Vec<(&str, &LiveObject)> = listed
            .iter()
            .filter_map(|live| by_id.get(live.id.as_str()).map(|address| (*address, live)))
            .collect();
        ctx.record_read_back(&read).await;
    }
}

/// Reads back what this apply created, by name: records AEP's state and timestamps for
/// each, and settles a name AEP now gives to another resource too, one this state does not
/// manage — another clone or CI run, applying with another state, or a person, created it at
/// the same moment. Of the resources sharing the name, the first created stays (ties: the
/// smaller id); if that is not flowform's own, flowform deletes its own copy, so that a race
/// of two runs leaves one resource whichever run reads back first. Either way the apply
/// fails, naming both: two states claim one resource, and a person must say which keeps it.
pub(super) async fn check_created(ctx: &Arc<Ctx>, created: &[String]) -> Vec<Failure> {
    let (wanted, state): (Vec<(String, &Resource)>, crate::state::State) = {
        let store = ctx.store();
        let wanted = created
            .iter()
            .filter(|a| store.state().resources.contains_key(*a))
            .filter_map(|a| ctx.declared(a).map(|d| (a.clone(), d)))
            .collect();
        (wanted, store.state().clone())
    };
    if wanted.is_empty() {
        return Vec::new();
    }
    let found = match names::named(&ctx.client, &state, &wanted).await {
        Ok(found) => found,
        Err(e) => {
            ctx.note(format!(
                "could not read back the {} resource{} created ({e}); the next plan reads them",
                wanted.len(),
                if wanted.len() == 1 { "" } else { "s" }
            ));
            return Vec::new();
        }
    };
    // Address → every resource AEP has under its name that is not another of ours.
    let mut sharing: BTreeMap<String, Vec<LiveObject>> = BTreeMap::new();
    {
        let store = ctx.store();
        let managed: BTreeSet<&str> = store.state().resources.values().map(|r| r.id.as_str()).collect();
        for (address, live) in found {
            let Some(ours) = store.state().resources.get(&address).map(|r| r.id.as_str()) else {
                continue;
            };
            if ours != live.id && managed.contains(live.id.as_str()) {
                continue;
            }
            sharing.entry(address).or_default().push(live);
        }
    }
    // What AEP says of ours, recorded together (one journal write, one flush).
    let ours: Vec<(&str, &LiveObject)> = {
        let store = ctx.store();
        sharing
            .iter()
            .flat_map(|(address, all)| all.iter().map(move |live| (address.as_str(), live)))
            .filter(|(address, live)| {
                store
                    .state()
                    .resources
                    .get(*address)
                    .is_some_and(|r| r.id == live.id)
            })
            .collect()
    };
    ctx.record_read_back(&ours).await;
    let mut failures = Vec::new();
    for (address, mut all) in sharing {
        if all.len() < 2 {
            continue;
        }
        let Some(ours) = ctx.store().state().resources.get(&address).cloned() else {
            continue;
        };
        all.sort_by(|a, b| {
            (a.created_at.unwrap_or(i64::MAX), &a.id).cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
        });
        let kept = all[0].id.clone();
        let others: Vec<String> = all
            .iter()
            .map(|c| c.id.clone())
            .filter(|id| *id != ours.id)
            .collect();
        let deleted = if kept == ours.id {
            None
        } else {
            Some(delete::delete(ctx, &address, ours.kind, &ours.sandbox, &ours.id).await)
        };
        failures.push(Failure {
            address,
            error: ApplyError::Duplicated {
                name: ours.name.clone(),
                ours: ours.id.clone(),
                others,
                kept,
                deleted: deleted.map(|d| d.map_err(|e| e.to_string())),
            },
        });
    }
    failures
}
