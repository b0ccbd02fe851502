//! A Flow Service emulator: AEP's base, source and target connections, explore, dataflows,
//! flow specs and runs, the Catalog's datasets, Data Prep's mapping sets and IMS's token
//! endpoint, served over real HTTP from memory, with fault injection. LocalStack for AEP
//! connections.
//!
//! It follows the official OpenAPI files and the research notes in `shared/reference/`, not
//! guesses: the same paths, headers, status codes, error envelopes, quoted etags, JSON Patch
//! semantics and pagination; its connection specs are fixtures written from Adobe's
//! documentation (`specs/`). Where the docs are silent or contradict each other the module
//! that decides says so in its header; the decisions are listed below.
//! It runs as `flowform emulator` for people, and in-process ([`Emulator::start`], bound to
//! `127.0.0.1:0`) for tests and flowform's `--emulator` runs. It knows nothing of flowform:
//! flowform depends on it, never the other way.
//!
//! The modules, each depending only on those above it:
//!
//! - [`errors`]: AEP's error bodies. [`rng`]: seeded ids, etags and dice.
//! - [`record`]: what every listed resource is ([`record::Record`], [`record::Kind`]).
//!   [`connection`]: one stored base connection (secrets as digests).
//!   [`flow_connection`]: one source or target connection. [`dataset`]: Catalog datasets,
//!   the demo ones ([`dataset::DEMO_DATASETS`]) and those added. [`schedule`]: a flow's
//!   `scheduleParams`, their rules and ticks. [`flow`]: one dataflow. [`run`]: one flow run.
//!   [`mapping_set`]: Data Prep mapping sets, every version, and the demo schemas' fields.
//! - [`select`]: filters on any path of an item, orders and positions of a listing.
//!   [`collection`]: one kind's records, their indexes, and snapshot-consistent paging.
//!   [`store`]: every collection, and the `--data` snapshot. [`query`]: `property`,
//!   `orderby`, `limit`, `count` and continuation tokens read from a query string.
//! - [`specs`]: the connection-spec fixtures and `GET /connectionSpecs`. [`flow_specs`]: the
//!   flow-spec fixtures (`CRMToAEP`, `CloudStorageToAEP`) and `GET /flowSpecs`. [`sobjects`]: the
//!   Salesforce-like tables explore shows. [`faults`]: what goes wrong, and when. [`ims`]:
//!   the token endpoint's credentials and tokens.
//! - `context`: options, clock, and the state every handler shares. `request`: JSON bodies.
//!   `patch`: JSON Patch and `If-Match`. `listing`: `GET /{kind}[/{id}]` for every kind.
//! - `connections`: the base-connection handlers. `flow_connections`: the source- and
//!   target-connection handlers. `explore`: `GET /connections/{id}/explore`. `catalog`: the
//!   dataset handlers. `flow_check`: what a dataflow must be. `flows`: the dataflow handlers.
//!   `runs`: runs made from the schedules on the clock, and `GET /runs`. `mapping_sets`: the
//!   Data Prep handlers. `backstage`: bulk seeding and the concurrent edit. `gateway`: what
//!   stands in front of them (auth, sandbox, faults, request ids, stats, logs, due runs).
//!   `admin`, `admin_flows`: `/__emulator/…`.
//! - This file: the routes, all in one place, and the server's start, stop and `--data`.
//!
//! # Decisions
//!
//! Where Adobe's docs are silent or contradict each other, the emulator decides; each
//! decision is written where it is made, and listed here.
//!
//! Source and target connections (`flow_connections`):
//! - `name` is required on both sides (the OpenAPI requires it on sources only).
//! - A missing `connectionSpec.version` is a 422 ([S-DST]), a wrong one 1413.
//! - A source needs a `baseConnectionId` of its sandbox (400), of the same spec (1413); the
//!   base connection's state is not checked.
//! - A target may name a `baseConnectionId` ([S-DST] requires it, [S-SRC] and the examples
//!   have none); when it does, the reference is checked, shown, inherited, filterable and
//!   guarded by 1418. Without one a target has no `inheritedAttributes`.
//! - Targets are data-lake targets ([`DATA_LAKE_SPEC_ID`]); `params.dataSetId` must be a
//!   dataset of the sandbox (400 "invalid dataSetId") and `data.schema.id` its
//!   `schemaRef.id` (400 otherwise).
//! - Sources are table sources: `data.format` is one of `tabular`, `delimited`, `json`,
//!   `parquet`; `params.tableName` is required but not checked against explore;
//!   `params.columns` must be explore-like columns.
//! - `state` on create is refused (1410, as for flows); other unknown properties are ignored.
//! - PATCH takes `/name` and `/description` only (other properties: 400; `/connectionSpec`:
//!   1414; unknown paths: 1455) and answers `{id, etag}`, not the list wrapper the OpenAPI
//!   declares.
//! - 404s are the Flow Service envelope whose `errorMessage` is [S-DST]'s
//!   `sourceConnections not found with id = [<id>]`; DELETE answers 204 ([S-SRC], not 202),
//!   or 400 `1447` while a flow uses the connection (up to five named; the admin delete
//!   skips the check).
//! - Deleting a base connection a source or target connection uses is 1418, naming up to five
//!   of them; the admin `in-use` flag still answers 1418 too; an admin delete skips the check.
//!
//! Flow specs ([`flow_specs`]):
//! - `CRMToAEP` lists Salesforce, Dynamics, Service Cloud (`cb66ab34-…`) and Zoho (D-CRM's
//!   and D-TPL's lists joined); `CloudStorageToAEP` lists no source spec (none is documented
//!   in full, none is served). `transformationSpecs` is D-TPL's array, not the OpenAPI's
//!   object. Version `1.0`.
//!
//! Dataflows (`flows`, `flow_check`, [`schedule`]):
//! - Required: `name`, `flowSpec.id`, exactly one source and one target connection id,
//!   `scheduleParams` (the OpenAPI's prose, not its schema); `state` is 1410; drafts are not
//!   emulated.
//! - An unknown flow spec, a wrong `flowSpec.version`, or a connection whose spec the flow
//!   spec does not list is 1413; an omitted version is the latest; an unknown connection id
//!   is a 400.
//! - The schedule follows the spec's JSON Schema (minute ≥ 15, other frequencies ≥ 1, not
//!   D-CRM's prose); numbers and booleans are read in either encoding and always shown as the
//!   docs show them (strings); a past `startTime` is accepted.
//! - `CRMToAEP` needs `Copy` with `deltaColumn.name`; a `Mapping` needs a mapping set of the
//!   sandbox at that version (1412; an omitted version is the latest) whose schema is the
//!   target dataset's (1425); `mappingVersion` is shown as a string. `options` are the
//!   `optionSpec`'s two (`partialIngestionPercent` shown as a number).
//! - PATCH: `/name`, `/description`, `/scheduleParams[/*]`, `/transformations[/i]`,
//!   `/options[/*]`; `/state` 1410; connection ids and `flowSpec` 400 (a new flow); other item
//!   properties 400; unknown 1455. `startTime` cannot change once the start has passed on the
//!   emulator's clock (400). Answers `{id, etag}`.
//! - `action?op=enable|disable` in any case, no body, no `subOp`, optional `If-Match`; a
//!   transition to the state the flow is in is 1422.
//! - `lastOperation` is completed at once; deleting a flow deletes its runs.
//!
//! Runs (`runs`, [`run`]):
//! - Made lazily, at every request, for every enabled flow in time order: ticks at
//!   `startTime + k·interval`, the first at or after creation or re-enabling; a run appears
//!   when finished, [`RUN_MS`] after its tick. `once` ticks once; disabled flows do not.
//! - Windows in `params` (epoch seconds, strings) and the copy activity's extensions (ms):
//!   first from `0` (backfill) or `startTime`, then from the previous end, to the tick.
//! - At most [`KEPT_RUNS`] kept per flow; older ticks of a long jump are skipped unmade.
//! - `activities`/`etag` as the docs spell them; statuses lower case, filtered in any case;
//!   failed runs (admin `PUT /__emulator/flows/{id}/runs`) have no `completedAtUTC`, `-1`
//!   counts and no promotion activity.
//!
//! Mapping sets (`mapping_sets`, [`mapping_set`]):
//! - POST 200 (not 201); both the current and the legacy body shapes; PUT replaces and adds a
//!   version; every version readable; reads echo both vocabularies and the MIME-style
//!   `sourceType`s; dates in ms (the OpenAPI says date-time strings).
//! - No DELETE (405). `limit` (default 10, at most 100) and `start` are optional.
//! - Errors are the Platform problem shape (undocumented; as Catalog's here).
//! - `validate` checks destinations against the demo schemas' fields only (other schemas are
//!   unknown: every destination passes) and refuses empty sources.
//! - At most 100 versions a set, 2,000 mappings a version, 100,000 sets.
//!
//! Listings (`select`, `query`, `listing`):
//! - A `property` path may go anywhere in the item, but its first step must be a top-level
//!   property the kind's items have (1451 otherwise); `[]` steps into arrays.
//! - Ordering operators need numbers (1452) and are refused on text properties (1450);
//!   strings compare exactly; spec ids (`connectionSpec.id`, `flowSpec.id`) and a run's
//!   `metrics.statusSummary.status` case-insensitively.
//! - A continuation token is for the listing that issued it (1451 on another).
//!
//! Explore (`explore`, [`sobjects`]):
//! - `objectType` in any case; missing means `root`; `file`, `folder`, `rest` and unknown
//!   values are 400s.
//! - A connection that is not `enabled` is a 400; one of a spec without a catalog lists `[]`.
//! - An unknown table is a 404 (1101), compared case-sensitively; `preview=true` on a table
//!   with `canPreview: false` is a 400; row `filters` are refused (400), not ignored.
//! - Every table has the common columns of flow-service-explore-runs §7, then its own.
//!
//! Catalog (`catalog`, [`dataset`], [`errors`]):
//! - The demo datasets ([`DEMO_DATASETS`]) have the same ids in every sandbox and run, were
//!   "created" on 2024-01-01, and stay at version `1.0.0`, state `DRAFT`.
//! - Listings are oldest first (`orderBy` reorders); `limit` defaults to 20, above 100 reads
//!   as 100, and 0, negatives and non-numbers are 400s; `start` is an offset.
//! - `name=` matches exactly; the other documented filters are refused (400), not ignored;
//!   `properties=` trims each dataset.
//! - `POST /dataSets` needs `name` and `schemaRef.id`; no PATCH, PUT or DELETE is served.
//! - Catalog errors, undocumented, are the Platform problem shape
//!   (`{type, status, title, detail}`) with the request id under `report`.

mod admin;
mod admin_flows;
mod backstage;
mod catalog;
pub mod collection;
pub mod connection;
mod connections;
mod context;
pub mod dataset;
pub mod errors;
mod explore;
pub mod faults;
pub mod flow;
mod flow_check;
pub mod flow_connection;
mod flow_connections;
pub mod flow_specs;
mod flows;
mod gateway;
pub mod ims;
mod listing;
pub mod mapping_set;
mod mapping_sets;
mod patch;
pub mod query;
pub mod record;
mod request;
pub mod rng;
pub mod run;
mod runs;
pub mod schedule;
pub mod select;
pub mod sobjects;
pub mod specs;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Extension, Router};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use self::context::{
    ADMIN_BASE, CATALOG_BASE, CONVERSION_BASE, Clock, FLOW_BASE, IMS_PATH, Options, PageStyle, Stats,
};
use self::context::{Shared, lock};
pub use self::dataset::{
    DEMO_ACCOUNT_DATASET_ID, DEMO_ACCOUNT_SCHEMA_ID, DEMO_DATASETS, DEMO_EVENT_DATASET_ID,
    DEMO_EVENT_SCHEMA_ID, DEMO_PROFILE_DATASET_ID, DEMO_PROFILE_SCHEMA_ID, DEMO_TENANT,
};
use self::faults::Faults;
pub use self::flow_connection::Side;
pub use self::flow_connections::DATA_LAKE_SPEC_ID;
pub use self::flow_specs::{CLOUD_STORAGE_TO_AEP_ID, CRM_TO_AEP_ID};
use self::ims::Ims;
pub use self::mapping_set::MAX_VERSIONS as MAX_MAPPING_SET_VERSIONS;
use self::rng::Rng;
pub use self::runs::{KEPT_RUNS, RUN_MS};
use self::store::{Snapshot, Store};

/// The collections of source and target connections, by the path they are served under.
const SIDES: [(Side, &str); 2] = [
    (Side::Source, "/sourceConnections"),
    (Side::Target, "/targetConnections"),
];

/// `routes`, told which side of a dataflow they serve.
fn on(side: Side, routes: MethodRouter<Arc<Shared>>) -> MethodRouter<Arc<Shared>> {
    routes.layer(Extension(side))
}

/// Every route: the Flow Service and the Catalog behind the gateway, IMS, and the admin
/// endpoints.
fn router(shared: Arc<Shared>) -> Router {
    let flow = Router::new()
        .route("/connections", get(connections::list).post(connections::create))
        .route(
            "/connections/{id}",
            get(connections::get)
                .patch(connections::patch)
                .delete(connections::delete),
        )
        // The OpenAPI spells PATCH and DELETE with a trailing slash; the tutorials without.
        .route(
            "/connections/{id}/",
            get(connections::get)
                .patch(connections::patch)
                .delete(connections::delete),
        )
        .route("/connections/{id}/test", get(connections::test))
        .route("/connections/{id}/explore", get(explore::explore))
        .route("/connectionSpecs", get(specs::list))
        .route("/connectionSpecs/{id}", get(specs::get))
        .route("/flowSpecs", get(flow_specs::list))
        .route("/flowSpecs/{id}", get(flow_specs::get))
        .route("/flows", get(flows::list).post(flows::create))
        .route(
            "/flows/{id}",
            get(flows::get).patch(flows::patch).delete(flows::delete),
        )
        .route("/flows/{id}/action", post(flows::action))
        .route("/runs", get(runs::list))
        .route("/runs/{id}", get(runs::get));
    let flow = SIDES
        .into_iter()
        .fold(flow, |flow, (side, path)| {
            let one = get(flow_connections::get)
                .patch(flow_connections::patch)
                .delete(flow_connections::delete);
            flow.route(
                path,
                on(side, get(flow_connections::list).post(flow_connections::create)),
            )
            .route(&format!("{path}/{{id}}"), on(side, one))
        })
        .route_layer(from_fn_with_state(shared.clone(), gateway::gateway));
    let catalog = Router::new()
        .route("/dataSets", get(catalog::list).post(catalog::create))
        .route("/dataSets/{id}", get(catalog::get))
        .route_layer(from_fn_with_state(shared.clone(), gateway::gateway));
    let conversion = Router::new()
        .route("/mappingSets", get(mapping_sets::list).post(mapping_sets::create))
        .route("/mappingSets/validate", post(mapping_sets::validate))
        .route(
            "/mappingSets/{id}",
            get(mapping_sets::get)
                .put(mapping_sets::replace)
                .delete(mapping_sets::delete),
        )
        .route_layer(from_fn_with_state(shared.clone(), gateway::gateway));
    let mut admin = Router::new()
        .route("/stats", get(admin::stats).delete(admin::reset_stats))
        .route("/reset", post(admin::reset))
        .route("/faults", get(admin::faults).put(admin::set_faults))
        .route("/faults/script", post(admin::script))
        .route("/seed", post(admin::seed))
        .route("/connections", get(admin::dump))
        .route(
            "/connections/{id}",
            get(admin::inspect).patch(admin::edit).delete(admin::remove),
        )
        .route("/connections/{id}/in-use", put(admin::in_use))
        .route("/connections/{id}/source", put(admin::source))
        .route("/datasets", get(admin::datasets).post(admin::add_datasets))
        .route("/datasets/{id}", delete(admin::remove_dataset))
        .route("/clock", post(admin::clock))
        .route("/flows", get(admin_flows::dump))
        .route(
            "/flows/{id}",
            get(admin_flows::inspect)
                .patch(admin_flows::edit)
                .delete(admin_flows::remove),
        )
        .route("/flows/{id}/runs", put(admin_flows::runs))
        .route("/mappingSets", get(admin_flows::mapping_sets));
    for (side, path) in SIDES {
        let one = get(admin::inspect_side)
            .patch(admin::edit_side)
            .delete(admin::remove_side);
        admin = admin
            .route(path, on(side, get(admin::dump_side)))
            .route(&format!("{path}/{{id}}"), on(side, one));
    }
    Router::new()
        .nest(FLOW_BASE, flow)
        .nest(CATALOG_BASE, catalog)
        .nest(CONVERSION_BASE, conversion)
        .route(IMS_PATH, post(gateway::ims_token))
        .nest(ADMIN_BASE, admin)
        .fallback(gateway::not_found)
        .layer(from_fn_with_state(shared.clone(), gateway::envelope))
        .with_state(shared)
}

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    writer: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `options.listen`, loads `options.data` if it exists, and serves on the current
    /// tokio runtime until [`Emulator::shutdown`].
    pub async fn start(options: Options) -> anyhow::Result<Emulator> {
        let store = match &options.data {
            Some(path) => load_data(path)?,
            None => Store::default(),
        };
        let seed = options.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        });
        let mut rng = Rng::new(seed);
        let epoch = rng.next_u64();
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let addr = listener.local_addr()?;
        let (stop, stopping) = watch::channel(false);
        let shared = Arc::new(Shared {
            ims: Mutex::new(Ims::new(options.credentials.clone(), options.token_lifetime_s)),
            faults: Mutex::new(Faults::new(options.faults.clone(), seed)),
            store: Mutex::new(store),
            stats: Mutex::new(Stats::new()),
            recent: Mutex::new(std::collections::VecDeque::new()),
            rng: Mutex::new(rng),
            clock: Clock::default(),
            epoch,
            dirty: Notify::new(),
            stopping: stopping.clone(),
            options,
        });
        let app = router(shared.clone());
        let mut until = stopping.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = until.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                eprintln!("emulator: server error: {e}");
            }
        });
        let writer = shared
            .options
            .data
            .clone()
            .map(|path| tokio::spawn(write_loop(shared.clone(), path)));
        Ok(Emulator {
            addr,
            shared,
            stop,
            server,
            writer,
        })
    }

    /// `http://127.0.0.1:PORT`: the root under which the Flow Service (`FLOW_BASE`), IMS
    /// (`IMS_PATH`) and the admin endpoints (`ADMIN_BASE`) are served.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Flow Service endpoint, as a client is configured with it.
    pub fn flow_url(&self) -> String {
        format!("{}{FLOW_BASE}", self.base_url())
    }

    /// The Catalog Service endpoint (datasets).
    pub fn catalog_url(&self) -> String {
        format!("{}{CATALOG_BASE}", self.base_url())
    }

    /// The Data Prep endpoint (mapping sets).
    pub fn conversion_url(&self) -> String {
        format!("{}{CONVERSION_BASE}", self.base_url())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many base connections the emulator holds.
    pub fn len(&self) -> usize {
        lock(&self.shared.store).len()
    }

    /// How many source or target connections the emulator holds.
    pub fn count(&self, side: Side) -> usize {
        lock(&self.shared.store).side(side).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops serving (requests in flight finish; hanging ones give up) and saves `--data`.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(writer) = self.writer {
            writer.abort();
            let _ = writer.await;
        }
        if let Some(path) = &self.shared.options.data {
            let snapshot = lock(&self.shared.store).snapshot();
            save_data(path, &snapshot)?;
        }
        Ok(())
    }
}

/// Saves the store whenever it changed, at most every 200 ms.
async fn write_loop(shared: Arc<Shared>, path: PathBuf) {
    loop {
        shared.dirty.notified().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let snapshot = lock(&shared.store).snapshot();
        let path = path.clone();
        let saved = tokio::task::spawn_blocking(move || save_data(&path, &snapshot)).await;
        if let Ok(Err(e)) = saved {
            eprintln!("emulator: {e:#}");
        }
    }
}

fn load_data(path: &Path) -> anyhow::Result<Store> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Store::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read emulator data `{}`", path.display())),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "emulator data `{}` is not a snapshot this emulator wrote",
            path.display()
        )
    })?;
    Ok(Store::from_snapshot(snapshot))
}

/// Writes the snapshot atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over the old one, so a crash leaves the old file or the new, never half.
fn save_data(path: &Path, snapshot: &Snapshot) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("emulator".into(), |n| n.to_string_lossy())
    ));
    let file = std::fs::File::create(&tmp).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    serde_json::to_writer(&mut writer, snapshot)?;
    writer.flush()?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace `{}`", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
