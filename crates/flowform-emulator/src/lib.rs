//! A Flow Service emulator: AEP's base-connection API and IMS token endpoint, served over
//! real HTTP from memory, with fault injection. LocalStack for AEP connections.
//!
//! It follows the official OpenAPI and `flow-service-notes.md`, not guesses: the same paths,
//! headers, status codes, error envelopes, quoted etags, JSON Patch semantics and
//! pagination. It runs as `flowform emulator` for people, and in-process
//! ([`Emulator::start`], bound to `127.0.0.1:0`) for tests and `--emulator` runs.
//!
//! - [`store`]: the connections, their indexes, and snapshot-consistent paging.
//! - [`query`]: `property` filters, `orderby`, `limit`, `count`, continuation tokens.
//! - `http`: the router and the gateway (auth, sandbox, faults, request ids, stats, logs).
//! - `connections` / `specs`: the Flow Service handlers. `admin`: `/__emulator/…`.
//! - [`ims`]: the token endpoint. [`faults`]: what goes wrong, and when.
//!
//! Nothing else in flowform depends on this module, except the `--emulator` switch.

mod admin;
mod connections;
pub mod errors;
pub mod faults;
mod http;
pub mod ims;
pub mod query;
pub mod rng;
mod specs;
pub mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use self::faults::{FaultSettings, Faults};
use self::ims::{Credential, Ims};
use self::rng::Rng;
use self::store::{Snapshot, Store};

/// The Flow Service base path, as on `platform.adobe.io`.
pub const FLOW_BASE: &str = "/data/foundation/flowservice";
/// The IMS token path.
pub const IMS_PATH: &str = "/ims/token/v3";
/// Where the emulator's own endpoints live (clearly not AEP's).
pub const ADMIN_BASE: &str = "/__emulator";

/// Where a list page tells the client how to get the next one. AEP's spec is ambiguous
/// (flow-service-notes §3), so the emulator can answer either way, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PageStyle {
    /// `_links.next.href`, as aepp reads it.
    #[default]
    Links,
    /// A top-level `continuationToken`.
    Token,
    /// Both.
    Both,
}

/// How to run an emulator.
#[derive(Clone, Debug)]
pub struct Options {
    pub listen: SocketAddr,
    /// Load the store from this file at start and keep it saved there (atomically).
    pub data: Option<PathBuf>,
    /// Seeds ids, etags, tokens and fault dice; random when `None`.
    pub seed: Option<u64>,
    pub faults: FaultSettings,
    /// `expires_in` of issued tokens, in seconds (IMS issues ~24 h).
    pub token_lifetime_s: u64,
    /// How long an initializing connection takes to become enabled.
    pub initializing_ms: u64,
    /// Start every new connection `initializing` (not only OAuth2 JWT ones).
    pub all_initializing: bool,
    pub page_style: PageStyle,
    pub credentials: Vec<Credential>,
    /// One line per request on stderr.
    pub log: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: None,
            seed: None,
            faults: FaultSettings::default(),
            token_lifetime_s: 86_399,
            initializing_ms: 3_000,
            all_initializing: false,
            page_style: PageStyle::Links,
            credentials: vec![Credential::demo()],
            log: false,
        }
    }
}

/// The emulator's clock: wall time plus an offset that `/__emulator/clock` advances, so tests
/// can let a token expire or a connection finish initializing without sleeping.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Requests served, by method, route and status.
pub type Stats = BTreeMap<(String, String, u16), u64>;

/// What every request handler shares.
pub(crate) struct Shared {
    pub options: Options,
    pub store: Mutex<Store>,
    pub ims: Mutex<Ims>,
    pub faults: Mutex<Faults>,
    pub stats: Mutex<Stats>,
    pub rng: Mutex<Rng>,
    pub clock: Clock,
    /// Identifies this run in continuation tokens.
    pub epoch: u64,
    /// Wakes the `--data` writer.
    pub dirty: Notify,
    /// Becomes true at shutdown; hanging requests give up then.
    pub stopping: watch::Receiver<bool>,
}

/// Locks a mutex, carrying on if a panicking thread poisoned it (the data is still whole:
/// no handler panics while half-way through a change).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Marks the store changed, for the `--data` writer.
    pub fn changed(&self) {
        if self.options.data.is_some() {
            self.dirty.notify_one();
        }
    }
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
            rng: Mutex::new(rng),
            clock: Clock::default(),
            epoch,
            dirty: Notify::new(),
            stopping: stopping.clone(),
            options,
        });
        let app = http::router(shared.clone());
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
