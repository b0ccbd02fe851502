//! Reading AEP before planning: for each sandbox and connection spec in play, either list
//! its connections (all pages) or fetch the managed ones by id, whichever costs fewer
//! requests, so a large configuration is not refreshed one GET at a time (Terraform's slow
//! refreshes, hashicorp/terraform#18981) and a small one is not made to page through a big
//! sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::config::Desired;
use crate::flow::{Client, Filter, FlowError};
use crate::plan::Live;
use crate::state::{Action, State};

/// How one sandbox and spec was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Listed in full: `count` connections.
    Listed { count: u64 },
    /// Fetched one by one.
    Fetched { ids: usize, count: u64 },
}

/// What the refresh did, for `-v`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub strategies: BTreeMap<(String, String), Strategy>,
    pub requests: u64,
}

/// Refreshes what `desired` and `state` involve. `list_all`: list every pair in full
/// (drift detection, which must see unmanaged connections). `expect` is told how many
/// requests the refresh means to send, as it learns it (for a progress bar).
pub async fn refresh(
    client: &Arc<Client>,
    desired: &Desired,
    state: &State,
    list_all: bool,
    expect: &dyn Fn(u64),
) -> Result<(Live, Report), FlowError> {
    let before = client.requests();
    // Which managed ids live in which pair, and which pairs must be listed in full.
    let mut ids: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut must_list: BTreeSet<(String, String)> = BTreeSet::new();
    for r in state.connections.values() {
        ids.entry((r.sandbox.clone(), r.connection_spec.id.clone()))
            .or_default()
            .insert(r.id.clone());
    }
    let mut imports: Vec<(String, String)> = Vec::new();
    for c in desired.connections.values() {
        let pair = (c.sandbox.clone(), c.connection_spec.id.clone());
        ids.entry(pair.clone()).or_default();
        let managed = state
            .connections
            .contains_key(&crate::state::address(&c.sandbox, &c.key));
        let record = state.connections.get(&crate::state::address(&c.sandbox, &c.key));
        // A connection that may be created (new, or replaced because its spec or auth spec
        // changes): list its sandbox and spec, so the plan can tell whether its name is free.
        let replaced = record.is_some_and(|r| {
            !r.connection_spec.id.eq_ignore_ascii_case(&c.connection_spec.id)
                || !r
                    .connection_spec
                    .version
                    .eq_ignore_ascii_case(&c.connection_spec.version)
                || !r.auth_spec_name.eq_ignore_ascii_case(&c.auth.spec_name)
        });
        match &c.import {
            Some(id) if !managed => imports.push((c.sandbox.clone(), id.clone())),
            None if !managed => {
                must_list.insert(pair);
            }
            // A rename: its new name must be free too.
            _ if replaced || record.is_some_and(|r| r.name != c.name) => {
                must_list.insert(pair);
            }
            _ => {}
        }
    }
    for p in &state.pending {
        if p.action == Action::Create {
            must_list.insert((p.sandbox.clone(), p.spec_id.clone()));
            ids.entry((p.sandbox.clone(), p.spec_id.clone())).or_default();
        }
    }
    let mut live = Live {
        refreshed: true,
        own_client: Some(client.settings().client_id.clone()),
        ..Live::default()
    };
    let mut report = Report::default();
    let parallelism = client.settings().parallelism.max(1) as u64;
    for ((sandbox, spec), wanted) in &ids {
        let pair = (sandbox.clone(), spec.clone());
        let count = client
            .count_connections(sandbox, &[Filter::new("connectionSpec.id", [spec.clone()])])
            .await?;
        // Requests to list: one per page of 100. To fetch: one per id, `parallelism` at a time.
        let pages = count.div_ceil(100).max(1);
        let rounds = (wanted.len() as u64).div_ceil(parallelism);
        let list = list_all || must_list.contains(&pair) || pages <= rounds;
        // The count just sent, and the pages or the fetches to come.
        expect(1 + if list { pages } else { wanted.len() as u64 });
        if list {
            for conn in client
                .list_counted(
                    sandbox,
                    &[Filter::new("connectionSpec.id", [spec.clone()])],
                    count,
                )
                .await?
            {
                live.connections.insert(conn.id.clone(), (sandbox.clone(), conn));
            }
            live.listed.insert(pair.clone());
            report.strategies.insert(pair, Strategy::Listed { count });
        } else {
            fetch(client, sandbox, wanted.iter().cloned(), &mut live).await?;
            // One gone from AEP is created again: list, so the plan can tell whether its name
            // was taken meanwhile.
            if wanted.iter().any(|id| !live.connections.contains_key(id)) {
                for conn in client
                    .list_connections(sandbox, &[Filter::new("connectionSpec.id", [spec.clone()])])
                    .await?
                {
                    live.connections.insert(conn.id.clone(), (sandbox.clone(), conn));
                }
                live.listed.insert(pair.clone());
            }
            report.strategies.insert(
                pair,
                Strategy::Fetched {
                    ids: wanted.len(),
                    count,
                },
            );
        }
    }
    for (sandbox, id) in imports {
        if !live.connections.contains_key(&id) {
            fetch(client, &sandbox, [id], &mut live).await?;
        }
    }
    report.requests = client.requests() - before;
    for ((sandbox, spec), strategy) in &report.strategies {
        match strategy {
            Strategy::Listed { count } => {
                let pages = count.div_ceil(100).max(1);
                crate::info!(
                    "refresh: listed sandbox {sandbox}, spec {spec}: {count} connections in {pages} page{}",
                    if pages == 1 { "" } else { "s" }
                )
            }
            Strategy::Fetched { ids, count } => {
                crate::info!(
                    "refresh: fetched {ids} managed connections by id in sandbox {sandbox}, spec {spec} (cheaper than listing all {count})"
                )
            }
        }
    }
    crate::info!("refresh: {} requests", report.requests);
    Ok((live, report))
}

/// Fetches connections by id, in parallel (the client bounds how many are in flight).
async fn fetch(
    client: &Arc<Client>,
    sandbox: &str,
    ids: impl IntoIterator<Item = String>,
    live: &mut Live,
) -> Result<(), FlowError> {
    let mut tasks = JoinSet::new();
    for id in ids {
        let (client, sandbox) = (client.clone(), sandbox.to_owned());
        tasks.spawn(async move {
            let found = client.get_connection(&sandbox, &id).await;
            (id, found)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (id, found) = done.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: "/connections/{id}".into(),
            reason: format!("a fetch task failed: {e}"),
        })?;
        live.fetched.insert(id.clone());
        if let Some(conn) = found? {
            live.connections.insert(id, (sandbox.to_owned(), conn));
        }
    }
    Ok(())
}
