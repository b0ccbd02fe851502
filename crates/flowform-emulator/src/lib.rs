//! A Flow Service emulator: AEP's base-connection API and IMS token endpoint, served over
//! real HTTP from memory, with fault injection. LocalStack for AEP connections.
//!
//! It follows the official OpenAPI and `flow-service-notes.md`, not guesses: the same paths,
//! headers, status codes, error envelopes, quoted etags, JSON Patch semantics and
//! pagination; its connection specs are fixtures written from Adobe's documentation
//! (`specs/`). It runs as `flowform emulator` for people, and in-process
//! ([`Emulator::start`], bound to `127.0.0.1:0`) for tests and flowform's `--emulator` runs.
//! It knows nothing of flowform: flowform depends on it, never the other way.
//!
//! The modules, each depending only on those above it:
//!
//! - [`errors`]: AEP's error bodies. [`rng`]: seeded ids, etags and dice.
//! - [`connection`]: one stored connection (secrets as digests) and how a read shows it.
//! - [`select`]: filters, orders and positions of a listing. [`store`]: the connections,
//!   their indexes, and snapshot-consistent paging. [`query`]: `property`, `orderby`,
//!   `limit`, `count` and continuation tokens read from a query string.
//! - [`specs`]: the connection-spec fixtures and `GET /connectionSpecs`. [`faults`]: what goes
//!   wrong, and when. [`ims`]: the token endpoint's credentials and tokens.
//! - `context`: options, clock, and the state every handler shares. `request`: JSON bodies.
//! - `connections`: the Flow Service handlers. `gateway`: what stands in front of them
//!   (auth, sandbox, faults, request ids, stats, logs). `admin`: `/__emulator/…`.
//! - This file: the routes, all in one place, and the server's start, stop and `--data`.

mod admin;
pub mod connection;
mod connections;
mod context;
pub mod errors;
pub mod faults;
mod gateway;
pub mod ims;
pub mod query;
mod request;
pub mod rng;
pub mod select;
pub mod specs;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use self::context::{ADMIN_BASE, Clock, FLOW_BASE, IMS_PATH, Options, PageStyle, Stats};
use self::context::{Shared, lock};
use self::faults::Faults;
use self::ims::Ims;
use self::rng::Rng;
use self::store::{Snapshot, Store};

/// Every route: the Flow Service behind the gateway, IMS, and the admin endpoints.
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
        .route("/connectionSpecs", get(specs::list))
        .route("/connectionSpecs/{id}", get(specs::get))
        .route_layer(from_fn_with_state(shared.clone(), gateway::gateway));
    let admin = Router::new()
        .route("/stats", get(admin::stats).delete(admin::reset_stats))
        .route("/reset", post(admin::reset))
        .route("/faults", get(admin::faults).put(admin::set_faults))
        .route("/faults/script", post(admin::script))
        .route("/seed", post(admin::seed_connections))
        .route("/connections", get(admin::dump))
        .route(
            "/connections/{id}",
            get(admin::inspect).patch(admin::edit).delete(admin::remove),
        )
        .route("/connections/{id}/in-use", put(admin::in_use))
        .route("/connections/{id}/source", put(admin::source))
        .route("/clock", post(admin::clock));
    Router::new()
        .nest(FLOW_BASE, flow)
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

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections the emulator holds.
    pub fn len(&self) -> usize {
        lock(&self.shared.store).len()
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
