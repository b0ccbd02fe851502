//! The state: what flowform remembers of each connection it manages, so it can tell
//! "create" from "already exists" — and never a secret.
//!
//! One state per project, where its project file (`flowform.toml`) says it lives, started
//! only by `flowform init`. It is JSON with sorted keys, byte-stable, small enough to review
//! in a diff.
//!
//! - [`file`]: the format, versioning and the atomic write with rolling backups.
//! - [`journal`]: the append-only journal that makes each id and etag durable the moment it
//!   is known; folded into the state file at the end of a run, replayed after a crash.
//! - [`lock`]: the lock file, held with the OS's advisory lock.
//! - [`store`]: the three together, as commands use them ([`Store`]), whichever backend
//!   keeps the state: the file, or
//! - [`postgres`]: a PostgreSQL database a team shares, with the same guarantees (a journal
//!   of rows, an advisory lock) and one more: a connection has at most one state.

pub mod digest;
pub mod file;
pub mod journal;
mod local;
pub mod lock;
mod opening;
pub mod postgres;
pub mod record;
pub mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

pub use digest::{DigestError, Digester};
pub use record::Record;
pub use store::{Location, Store};

/// The format this flowform writes (see `file::migrate` for what changed).
pub const FORMAT_VERSION: u32 = 4;

/// Everything flowform remembers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Fixed when the state is created: a saved plan for another lineage is refused.
    pub lineage: String,
    /// Incremented on every change.
    pub serial: u64,
    /// Salts `secretsDigest`; random per state file.
    pub salt: String,
    /// The AEP organization (`…@AdobeOrg`) the state's connections live in, set by the first
    /// command that reaches AEP with it: a run against another organization is refused, rather
    /// than planning every connection as deleted there and creating it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// By address: `sandbox/key` (a base connection), `sandbox/kind:key` (any other kind).
    #[serde(alias = "connections")]
    pub resources: BTreeMap<String, Record>,
    /// Mutations that began and whose outcome was never learnt (a crash): creates are
    /// resolved by listing before the next plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// The last saved plans applied to this state (at most [`APPLIED_PLANS_KEPT`], oldest
    /// first), so that applying one again says so rather than call it stale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_plans: Vec<AppliedPlan>,
    /// How this run fingerprints secrets (`FLOWFORM_DIGEST_KEY`); not part of the file.
    #[serde(skip)]
    pub digester: Digester,
}

/// How many applied saved plans the state remembers.
pub const APPLIED_PLANS_KEPT: usize = 10;

/// A saved plan that was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppliedPlan {
    /// The plan's own random id (its `digest_salt`, drawn afresh for every plan).
    pub id: String,
    /// The serial the apply left the state at; 0 until the commit that records it stamps
    /// it ([`State::stamp_applied`]): only the store knows the serial its commit leaves.
    pub serial: u64,
    /// When it was applied (epoch ms).
    pub at: i64,
    /// Whether every action succeeded.
    pub complete: bool,
}

/// A mutation begun and never finished.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pending {
    pub address: String,
    pub action: Action,
    pub sandbox: String,
    pub name: String,
    /// The values of the kind's scope fields when the request was sent (a base
    /// connection's spec id, a source connection's base connection id): with the sandbox and
    /// the name, what finds what a create made ([`crate::kind::Kind::scope`]). Format 3's
    /// `specId` is read as a base connection's.
    #[serde(
        default,
        alias = "specId",
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub scope: Vec<String>,
    /// Epoch ms when the request was about to be sent.
    pub started_at: i64,
    /// SHA-256 of the request's non-secret content and secrets digest.
    pub fingerprint: String,
}

/// A string (format 3's `specId`) or a list of them.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Pending {
    /// The kind of what it acts on.
    pub fn kind(&self) -> &'static crate::kind::Kind {
        crate::kind::address::kind_of(&self.address)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// The verb, for messages.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// A state's salt and this run's fingerprint scheme: how the secrets of a connection are
/// fingerprinted for it ([`State::secrets_digest`]), without the state.
#[derive(Clone, Debug)]
pub struct Fingerprints {
    salt: String,
    digester: Digester,
}

impl Fingerprints {
    /// The fingerprint of a connection's secret params, by name, in this run's scheme.
    pub fn secrets_digest(&self, secrets: &BTreeMap<String, &Secret>) -> String {
        self.digester.secrets(&self.salt, secrets)
    }

    /// Computes ahead, over the cores, the fingerprints [`Fingerprints::secrets_digest`]
    /// will be asked for (see [`Digester::prepare`]).
    pub fn prepare<'a>(&self, connections: impl IntoIterator<Item = &'a BTreeMap<String, &'a Secret>>) {
        self.digester
            .prepare(&self.salt, connections.into_iter().map(|secrets| (secrets, None)));
    }
}

/// A base connection's address: `sandbox/key` (see [`crate::kind::address`] for every kind).
pub fn address(sandbox: &str, key: &str) -> String {
    format!("{sandbox}/{key}")
}

impl State {
    /// A new, empty state with a fresh lineage and salt.
    pub fn new() -> State {
        State {
            version: FORMAT_VERSION,
            lineage: uuid_v4(),
            serial: 0,
            salt: random_salt(),
            org: None,
            resources: BTreeMap::new(),
            pending: Vec::new(),
            applied_plans: Vec::new(),
            digester: Digester::default(),
        }
    }

    /// The fingerprint of a connection's secret params, by name, in this run's scheme.
    pub fn secrets_digest(&self, secrets: &BTreeMap<String, &Secret>) -> String {
        self.digester.secrets(&self.salt, secrets)
    }

    /// What fingerprinting secrets needs of the state, apart from it (so that it is done
    /// without holding the store).
    pub fn fingerprints(&self) -> Fingerprints {
        Fingerprints {
            salt: self.salt.clone(),
            digester: self.digester.clone(),
        }
    }

    /// Whether a recorded fingerprint is that of `secrets` (in the scheme it was made in).
    pub fn secrets_match(
        &self,
        stored: &str,
        secrets: &BTreeMap<String, &Secret>,
    ) -> Result<bool, DigestError> {
        self.digester.matches(stored, &self.salt, secrets)
    }

    /// Remembers a saved plan as applied, forgetting the oldest beyond
    /// [`APPLIED_PLANS_KEPT`].
    /// Gives the plans remembered since the last commit (serial 0) the serial this commit
    /// leaves: called by the stores once they know it.
    pub fn stamp_applied(&mut self) {
        let serial = self.serial;
        for applied in self.applied_plans.iter_mut().filter(|a| a.serial == 0) {
            applied.serial = serial;
        }
    }

    pub fn remember_applied(&mut self, applied: AppliedPlan) {
        self.applied_plans.retain(|a| a.id != applied.id);
        self.applied_plans.push(applied);
        let excess = self.applied_plans.len().saturating_sub(APPLIED_PLANS_KEPT);
        self.applied_plans.drain(..excess);
    }

    /// Finds a record by address, or by a key reference (`key`, `kind:key`,
    /// `sandbox/kind:key`) when that names one record.
    pub fn find(&self, key_or_address: &str) -> Option<(&String, &Record)> {
        if let Some(found) = self.resources.get_key_value(key_or_address) {
            return Some(found);
        }
        let key = crate::kind::KeyRef::parse(key_or_address).ok()?;
        match key.pick(self.resources.keys()).as_slice() {
            [one] => self.resources.get_key_value(one.as_str()),
            _ => None,
        }
    }

    /// Whether a record holds `id` (of any kind, at any address).
    pub fn holds(&self, id: &str) -> bool {
        self.resources.values().any(|r| r.id == id)
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

/// A random salt (hex).
pub fn random_salt() -> String {
    hex(&random_bytes::<16>())
}

pub(crate) use digest::hex;

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS's generator; on the rare platform without one, time is better than nothing for
    // a lineage and a salt.
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (now >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
        }
    }
    bytes
}

/// A random (version 4) UUID.
pub fn uuid_v4() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_salted_and_unambiguous() {
        let (a, b) = (Secret::new("ab"), Secret::new("c"));
        let (a2, b2) = (Secret::new("a"), Secret::new("bc"));
        let s = State::new();
        let one: BTreeMap<String, &Secret> = [("p".to_owned(), &a), ("q".to_owned(), &b)].into();
        let two: BTreeMap<String, &Secret> = [("p".to_owned(), &a2), ("q".to_owned(), &b2)].into();
        assert_ne!(s.secrets_digest(&one), s.secrets_digest(&two));
        assert_eq!(s.secrets_digest(&one), s.secrets_digest(&one.clone()));
        assert_ne!(
            s.secrets_digest(&one),
            State::new().secrets_digest(&one),
            "another salt"
        );
        assert!(s.secrets_match(&s.secrets_digest(&one), &one).unwrap());
    }

    #[test]
    fn applied_plans_are_remembered_a_few_at_a_time() {
        let mut s = State::new();
        for i in 0..(APPLIED_PLANS_KEPT + 3) {
            s.remember_applied(AppliedPlan {
                id: format!("plan-{i}"),
                serial: i as u64,
                at: 0,
                complete: true,
            });
        }
        assert_eq!(s.applied_plans.len(), APPLIED_PLANS_KEPT);
        assert_eq!(s.applied_plans[0].id, "plan-3", "the oldest go first");
        // Applied again (after a failure, say), a plan is remembered once, as its last try.
        s.remember_applied(AppliedPlan {
            id: "plan-5".into(),
            serial: 99,
            at: 0,
            complete: false,
        });
        assert_eq!(s.applied_plans.iter().filter(|a| a.id == "plan-5").count(), 1);
        assert_eq!(s.applied_plans.last().map(|a| a.serial), Some(99));
    }

    #[test]
    fn lineages_are_uuids() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }
}
