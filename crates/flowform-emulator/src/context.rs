//! What the handlers share: where things are served, how the emulator was asked to run, its
//! clock, and the state every request reaches through [`Shared`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{Notify, watch};

use crate::faults::{FaultSettings, Faults};
use crate::ims::{Credential, Ims};
use crate::rng::Rng;
use crate::store::Store;

/// The Flow Service base path, as on `platform.adobe.io`.
pub const FLOW_BASE: &str = "/data/foundation/flowservice";
/// The Catalog Service base path, where datasets live.
pub const CATALOG_BASE: &str = "/data/foundation/catalog";
/// The Data Prep (conversion) service base path, where mapping sets live.
pub const CONVERSION_BASE: &str = "/data/foundation/conversion";
/// The IMS token path.
pub const IMS_PATH: &str = "/ims/token/v3";
/// Where the emulator's own endpoints live (clearly not AEP's).
pub const ADMIN_BASE: &str = "/__emulator";

/// Where a list page tells the client how to get the next one. AEP's spec is ambiguous
/// (flow-service-notes §3), so the emulator can answer either way, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageStyle {
    /// `_links.next.href`, as aepp reads it.
    #[default]
    Links,
    /// A top-level `continuationToken`.
    Token,
    /// Both.
    Both,
}

impl PageStyle {
    /// The names it is read from (`FromStr`), as `--page-style` takes them.
    pub const NAMES: [&'static str; 3] = ["links", "token", "both"];

    pub fn as_str(self) -> &'static str {
        match self {
            PageStyle::Links => "links",
            PageStyle::Token => "token",
            PageStyle::Both => "both",
        }
    }
}

impl FromStr for PageStyle {
    type Err = String;

    fn from_str(text: &str) -> Result<PageStyle, String> {
        match text {
            "links" => Ok(PageStyle::Links),
            "token" => Ok(PageStyle::Token),
            "both" => Ok(PageStyle::Both),
            other => Err(format!(
                "`{other}` is not a page style; use {}",
                PageStyle::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for PageStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// The longest request target (path and query) answered; a longer one is answered
    /// `414 URI Too Long`, as gateways do. Adobe documents no such limit for Flow Service:
    /// this is the emulator's choice, 8 KiB, the limit common servers and gateways apply
    /// (Apache's `LimitRequestLine`, nginx's `large_client_header_buffers`), so that a client
    /// that sends ever longer filters fails here before it does against AEP.
    pub max_target_length: usize,
}

/// [`Options::max_target_length`] by default.
pub const MAX_TARGET_LENGTH: usize = 8 << 10;

/// How many request targets `GET /__emulator/stats` shows (`recent`), the latest last.
pub const RECENT_TARGETS: usize = 2_000;

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
            max_target_length: MAX_TARGET_LENGTH,
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
    /// The latest request targets (`GET /data/…?…`), at most [`RECENT_TARGETS`].
    pub recent: Mutex<std::collections::VecDeque<String>>,
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

/// Who is calling, once the gateway let the request through.
#[derive(Clone, Debug)]
pub struct Caller {
    pub org: String,
    pub sandbox: String,
    pub client_id: String,
}
