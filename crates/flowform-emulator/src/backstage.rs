//! What changes the emulator's records besides the API's requests: bulk seeding for
//! benchmarks (`POST /__emulator/seed`) and someone else's edit just before a request (the
//! `concurrent-edit` fault).
//!
//! Seeding inserts straight into the store, thousands a second, with records shaped as the
//! API would have made them: base connections of Salesforce's Basic Authentication, source
//! connections reading the explore catalog's tables of those base connections in turn, and
//! target connections writing to a dataset.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::connection::{Connection, State as ConnState, digest, sandbox_id};
use crate::context::{Shared, lock};
use crate::dataset::DEMO_PROFILE_DATASET_ID;
use crate::flow_connection::{BaseRef, FlowConnection, Side};
use crate::flow_connections::DATA_LAKE_SPEC_ID;
use crate::record::Record;
use crate::sobjects::TABLES;
use crate::specs::{self, SALESFORCE_ID};

const SEED_USER: &str = "seed@AdobeID";
const SEED_CLIENT: &str = "exc_app";

/// Inserts `count` Salesforce connections into one sandbox. Returns how many base
/// connections the store then holds; `None` if the Salesforce fixture is missing (a broken
/// build).
pub fn connections(shared: &Shared, org: &str, sandbox: &str, count: usize, prefix: &str) -> Option<usize> {
    let now = shared.clock.now_ms();
    let spec = specs::find(SALESFORCE_ID)?;
    let sandbox_id = sandbox_id(org, sandbox);
    let mut store = lock(&shared.store);
    let mut rng = lock(&shared.rng);
    let password = digest(&Value::String("seeded".into()));
    for i in 0..count {
        let seq = store.connections.next_seq();
        let id = rng.uuid();
        let mut params = Map::new();
        params.insert(
            "environmentUrl".into(),
            Value::String(format!("https://seed-{i}.my.salesforce.com")),
        );
        params.insert(
            "username".into(),
            Value::String(format!("{prefix}-{i}@example.com")),
        );
        store.connections.insert(Connection {
            id,
            org: org.to_owned(),
            sandbox: sandbox.to_owned(),
            sandbox_id: sandbox_id.clone(),
            created_at: now,
            updated_at: now,
            created_by: SEED_USER.into(),
            updated_by: SEED_USER.into(),
            created_client: SEED_CLIENT.into(),
            updated_client: SEED_CLIENT.into(),
            name: format!("{prefix} {i:06}"),
            description: Some(format!("seeded connection {i}")),
            spec_id: spec.id.clone(),
            spec_version: spec.version.clone(),
            state: ConnState::Enabled,
            auth_spec: "Basic Authentication".into(),
            params,
            secrets: [
                ("password".to_owned(), password.clone()),
                ("securityToken".to_owned(), password.clone()),
            ]
            .into_iter()
            .collect(),
            etag: Some(rng.etag()),
            seq,
            earlier: Vec::new(),
            in_use: false,
            source_accepts: None,
            enable_at: None,
            adds_org_id: false,
            rendered: OnceLock::new(),
        });
    }
    let total = store.connections.len();
    drop(rng);
    drop(store);
    shared.changed();
    Some(total)
}

/// How to seed source or target connections.
#[derive(Clone, Debug)]
pub struct FlowSeed {
    pub side: Side,
    pub count: usize,
    pub prefix: String,
    /// Targets: the dataset they write to.
    pub dataset: String,
    /// Targets: whether each names a base connection (in turn), as sources always do.
    pub link_bases: bool,
}

impl FlowSeed {
    pub fn new(side: Side, count: usize) -> FlowSeed {
        FlowSeed {
            side,
            count,
            prefix: format!("Seeded {}", side.noun()),
            dataset: DEMO_PROFILE_DATASET_ID.to_owned(),
            link_bases: false,
        }
    }
}

/// Inserts source or target connections into one sandbox: source connection `i` reads
/// table `i` (in turn) of base connection `i` (in turn, oldest first), so that seeding `2n`
/// of them over `n` base connections gives each two. Returns how many of that side the
/// store then holds, or why it cannot seed (no base connection to use, no such dataset).
pub fn flow_connections(shared: &Shared, org: &str, sandbox: &str, seed: &FlowSeed) -> Result<usize, String> {
    let now = shared.clock.now_ms();
    let sandbox_id = sandbox_id(org, sandbox);
    let mut store = lock(&shared.store);
    let bases: Vec<BaseRef> = store
        .connections
        .in_sandbox(org, sandbox)
        .into_iter()
        .map(|c| BaseRef {
            id: c.id.clone(),
            spec_id: c.spec_id.clone(),
            spec_version: c.spec_version.clone(),
        })
        .collect();
    let needs_bases = seed.side == Side::Source || seed.link_bases;
    if needs_bases && bases.is_empty() {
        return Err(format!(
            "there is no base connection in {org}'s sandbox `{sandbox}` to seed {}s over; seed base connections first",
            seed.side.noun()
        ));
    }
    let schema = match seed.side {
        Side::Source => None,
        Side::Target => Some(
            store
                .datasets
                .get(org, sandbox, &seed.dataset)
                .ok_or_else(|| format!("there is no dataset `{}` in sandbox `{sandbox}`", seed.dataset))?
                .schema_id,
        ),
    };
    let mut rng = lock(&shared.rng);
    for i in 0..seed.count {
        let base = needs_bases.then(|| bases[i % bases.len()].clone());
        let (spec_id, data, params) = match (&schema, &base) {
            (None, Some(base)) => (
                base.spec_id.clone(),
                json!({"format": "tabular"}),
                json!({"tableName": TABLES[i % TABLES.len()].path}),
            ),
            (Some(schema), _) => (
                DATA_LAKE_SPEC_ID.to_owned(),
                json!({"format": "parquet_xdm", "schema": {"id": schema, "version": "application/vnd.adobe.xed-full+json;version=1"}}),
                json!({"dataSetId": seed.dataset}),
            ),
            (None, None) => return Err("a source connection needs a base connection".to_owned()),
        };
        let collection = store.side_mut(seed.side);
        let seq = collection.next_seq();
        collection.insert(FlowConnection {
            id: rng.uuid(),
            org: org.to_owned(),
            sandbox: sandbox.to_owned(),
            sandbox_id: sandbox_id.clone(),
            created_at: now,
            updated_at: now,
            created_by: SEED_USER.into(),
            updated_by: SEED_USER.into(),
            created_client: SEED_CLIENT.into(),
            updated_client: SEED_CLIENT.into(),
            name: format!("{} {i:06}", seed.prefix),
            description: None,
            spec_id,
            spec_version: "1.0".into(),
            enabled: true,
            base,
            data,
            params,
            etag: rng.etag(),
            seq,
            earlier: Vec::new(),
            rendered: OnceLock::new(),
        });
    }
    let total = store.side(seed.side).len();
    drop(rng);
    drop(store);
    shared.changed();
    Ok(total)
}

/// The `concurrent-edit` fault: the base, source or target connection or flow `id` gets a new etag
/// (and a touched description) from someone else, just before the request in hand reaches
/// it.
pub fn edit_concurrently(shared: &Shared, id: &str) {
    let now = shared.clock.now_ms();
    let mut store = lock(&shared.store);
    let etag = lock(&shared.rng).etag();
    let touched =
        |description: &Option<String>| Some(format!("{} (edited)", description.clone().unwrap_or_default()));
    if let Some((org, sandbox)) = store.connections.location_of(id) {
        store.connections.modify(&org, &sandbox, id, now, |c| {
            c.etag = Some(etag);
            c.description = touched(&c.description);
            c.updated_client = SEED_CLIENT.to_owned();
        });
    } else if let Some(side) = [Side::Source, Side::Target]
        .into_iter()
        .find(|s| store.side(*s).locate(id).is_some())
    {
        let collection = store.side_mut(side);
        if let Some(found) = collection.locate(id) {
            let (org, sandbox) = (found.org().to_owned(), found.sandbox().to_owned());
            collection.modify(&org, &sandbox, id, now, |c| {
                c.etag = etag;
                c.description = touched(&c.description);
                c.updated_client = SEED_CLIENT.to_owned();
            });
        }
    } else if let Some((org, sandbox)) = store.flows.location_of(id) {
        store.flows.modify(&org, &sandbox, id, now, |f| {
            f.etag = etag;
            f.description = touched(&f.description);
            f.updated_client = SEED_CLIENT.to_owned();
        });
    } else {
        return;
    }
    drop(store);
    shared.changed();
}
