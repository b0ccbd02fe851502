//! The emulator's data: a [`Collection`] per Flow Service kind, the Catalog's datasets, Data
//! Prep's mapping sets, the flows' run schedule, what refers to what, and the snapshot format
//! of `--data`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::collection::Collection;
use crate::connection::Connection;
use crate::dataset::{Dataset, Datasets};
use crate::flow::Flow;
use crate::flow_connection::{FlowConnection, Side};
use crate::mapping_set::{MappingSet, MappingSets};
use crate::run::Run;

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub struct Store {
    pub connections: Collection<Connection>,
    pub sources: Collection<FlowConnection>,
    pub targets: Collection<FlowConnection>,
    /// The datasets added to the demo ones.
    pub datasets: Datasets,
    pub flows: Collection<Flow>,
    pub runs: Collection<Run>,
    /// The enabled flows' next ticks: (time in ms, flow id), soonest first.
    pub ticks: BTreeSet<(i64, String)>,
    pub mapping_sets: MappingSets,
}

impl Store {
    /// How many base connections it holds.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    pub fn side(&self, side: Side) -> &Collection<FlowConnection> {
        match side {
            Side::Source => &self.sources,
            Side::Target => &self.targets,
        }
    }

    pub fn side_mut(&mut self, side: Side) -> &mut Collection<FlowConnection> {
        match side {
            Side::Source => &mut self.sources,
            Side::Target => &mut self.targets,
        }
    }

    /// Up to `limit` source and target connections of the sandbox that use base connection
    /// `base`, as `sourceConnections/<id>` and `targetConnections/<id>`: what keeps it from
    /// being deleted.
    pub fn users_of(&self, org: &str, sandbox: &str, base: &str, limit: usize) -> Vec<String> {
        let mut users: Vec<String> = self
            .sources
            .using(org, sandbox, base, limit)
            .into_iter()
            .map(|id| format!("sourceConnections/{id}"))
            .collect();
        let room = limit.saturating_sub(users.len());
        users.extend(
            self.targets
                .using(org, sandbox, base, room)
                .into_iter()
                .map(|id| format!("targetConnections/{id}")),
        );
        users
    }

    /// Up to `limit` flows of the sandbox that read from (`Side::Source`) or write to
    /// (`Side::Target`) connection `id`, as `flows/<id>`: what keeps it from being deleted
    /// (1447). Flows have no index by connection: this reads the sandbox's flows.
    pub fn flows_using(&self, org: &str, sandbox: &str, side: Side, id: &str, limit: usize) -> Vec<String> {
        self.flows
            .in_sandbox(org, sandbox)
            .into_iter()
            .filter(|f| match side {
                Side::Source => f.source_id == id,
                Side::Target => f.target_id == id,
            })
            .take(limit)
            .map(|f| format!("flows/{}", f.id))
            .collect()
    }

    /// Sets when flow `id` ticks next (`None`: it does not), keeping [`Store::ticks`] in
    /// step with the flow.
    pub fn reschedule(&mut self, id: &str, next: Option<i64>) {
        let Some(flow) = self.flows.quietly(id) else {
            return;
        };
        if let Some(old) = flow.ticking.next_tick.take() {
            self.ticks.remove(&(old, id.to_owned()));
        }
        flow.ticking.next_tick = next;
        if let Some(at) = next {
            self.ticks.insert((at, id.to_owned()));
        }
    }

    /// Removes a flow, its place in the schedule and its runs.
    pub fn remove_flow(&mut self, id: &str) -> Option<Flow> {
        let (org, sandbox) = self.flows.location_of(id)?;
        self.reschedule(id, None);
        let flow = self.flows.remove(&org, &sandbox, id)?;
        for run in &flow.ticking.kept {
            self.runs.remove(&org, &sandbox, run);
        }
        Some(flow)
    }

    /// Rebuilds a store from a saved snapshot.
    pub fn from_snapshot(snapshot: Snapshot) -> Store {
        let mut datasets = Datasets::default();
        for dataset in snapshot.datasets {
            datasets.add(dataset);
        }
        let mut mapping_sets = MappingSets::default();
        for set in snapshot.mapping_sets {
            mapping_sets.add(set);
        }
        let ticks = snapshot
            .flows
            .iter()
            .filter_map(|f| f.ticking.next_tick.map(|t| (t, f.id.clone())))
            .collect();
        Store {
            connections: Collection::restore(snapshot.seq, snapshot.connections),
            sources: Collection::restore(0, snapshot.source_connections),
            targets: Collection::restore(0, snapshot.target_connections),
            datasets,
            flows: Collection::restore(0, snapshot.flows),
            runs: Collection::restore(0, snapshot.runs),
            ticks,
            mapping_sets,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let saved = |c: &FlowConnection| FlowConnection {
            earlier: Vec::new(),
            rendered: Default::default(),
            ..c.clone()
        };
        Snapshot {
            version: 3,
            seq: self.connections.seq(),
            connections: self
                .connections
                .all_by_seq()
                .into_iter()
                .map(|c| Connection {
                    earlier: Vec::new(),
                    rendered: Default::default(),
                    ..c.clone()
                })
                .collect(),
            source_connections: self.sources.all_by_seq().into_iter().map(saved).collect(),
            target_connections: self.targets.all_by_seq().into_iter().map(saved).collect(),
            datasets: self.datasets.added().into_iter().cloned().collect(),
            flows: self
                .flows
                .all_by_seq()
                .into_iter()
                .map(|f| Flow {
                    earlier: Vec::new(),
                    rendered: Default::default(),
                    ..f.clone()
                })
                .collect(),
            runs: self
                .runs
                .all_by_seq()
                .into_iter()
                .map(|r| Run {
                    earlier: Vec::new(),
                    rendered: Default::default(),
                    ..r.clone()
                })
                .collect(),
            mapping_sets: self.mapping_sets.all().into_iter().cloned().collect(),
        }
    }
}

/// The `--data` file: every record, in the order they were last changed. Version 1 files
/// (base connections only) and version 2 files (no flows, runs or mapping sets) still load:
/// what they lack is empty. The clock's offset is not saved: a flow's next tick, computed on
/// the advanced clock, waits for the wall clock after a restart.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub version: u32,
    pub seq: u64,
    pub connections: Vec<Connection>,
    #[serde(default)]
    pub source_connections: Vec<FlowConnection>,
    #[serde(default)]
    pub target_connections: Vec<FlowConnection>,
    /// The datasets added to the demo ones.
    #[serde(default)]
    pub datasets: Vec<Dataset>,
    #[serde(default)]
    pub flows: Vec<Flow>,
    /// Runs, oldest first.
    #[serde(default)]
    pub runs: Vec<Run>,
    #[serde(default)]
    pub mapping_sets: Vec<MappingSet>,
}
