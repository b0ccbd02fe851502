//! The emulator's data: a [`Collection`] per Flow Service kind, the Catalog's datasets, what
//! refers to what, and the snapshot format of `--data`.

use serde::{Deserialize, Serialize};

use crate::collection::Collection;
use crate::connection::Connection;
use crate::dataset::{Dataset, Datasets};
use crate::flow_connection::{FlowConnection, Side};

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub struct Store {
    pub connections: Collection<Connection>,
    pub sources: Collection<FlowConnection>,
    pub targets: Collection<FlowConnection>,
    /// The datasets added to the demo ones.
    pub datasets: Datasets,
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

    /// Rebuilds a store from a saved snapshot.
    pub fn from_snapshot(snapshot: Snapshot) -> Store {
        let mut datasets = Datasets::default();
        for dataset in snapshot.datasets {
            datasets.add(dataset);
        }
        Store {
            connections: Collection::restore(snapshot.seq, snapshot.connections),
            sources: Collection::restore(0, snapshot.source_connections),
            targets: Collection::restore(0, snapshot.target_connections),
            datasets,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let saved = |c: &FlowConnection| FlowConnection {
            earlier: Vec::new(),
            rendered: Default::default(),
            ..c.clone()
        };
        Snapshot {
            version: 2,
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
        }
    }
}

/// The `--data` file: every record, in the order they were last changed. Version 1 files
/// (base connections only) still load: what they lack is empty.
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
}
