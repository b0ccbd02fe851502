//! Fingerprints of secrets: how flowform tells, without keeping a secret, whether the one
//! declared now is the one it last sent.
//!
//! The state is often committed to git, so its fingerprints must be costly to invert: a
//! salted SHA-256 of a short password can be brute-forced at billions of guesses a second by
//! anyone who can read the repository. Two schemes, each written into the fingerprint itself
//! so that a state can hold both while it moves from one to the other:
//!
//! - `hmac-sha256:<key id>:<hex>` — with `FLOWFORM_DIGEST_KEY` set (a random value kept in the
//!   CI's secret store beside the secrets themselves, never beside the state): an HMAC keyed
//!   by it. Without the key a fingerprint tells nothing; guessing needs the key too. The key
//!   id (a fingerprint of the key, not the key) says which key made it.
//! - `pbkdf2-sha256:<rounds>:<hex>` — without a key: PBKDF2-HMAC-SHA256 over the salted
//!   secrets, [`ROUNDS`] rounds, about 1,200 times the work of one SHA-256 per guess, at a
//!   cost that keeps a 10,000-connection plan under a second of CPU. It slows an attacker
//!   down; it does not stop one with a GPU and a short password. Use a key.
//! - A bare 64-hex fingerprint is the salted SHA-256 of states written before these schemes;
//!   it is still read, and replaced on the next apply.
//!
//! Saved plans and journal fingerprints digest the secrets the same way.
//!
//! The cost is paid once per distinct input and run: a digester remembers what it stretched
//! (by a SHA-256 of the input, never the secrets themselves), and the plan and the apply
//! compute what they will need ahead, over the cores ([`Digester::prepare`]), not one by one
//! under the store's lock. Nothing about a fingerprint is weakened by that: each is the same
//! PBKDF2 (or HMAC) of the same input.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::settings::Environment;

/// The environment variable holding the key.
pub const KEY_VAR: &str = "FLOWFORM_DIGEST_KEY";

/// A key shorter than this is refused: it could itself be guessed.
pub const MIN_KEY_LEN: usize = 32;

/// PBKDF2 rounds for a keyless fingerprint of one connection's secrets: about 86 µs of CPU
/// on this project's 2-core machine (SHA extensions), so fingerprinting 10,000 connections
/// for a plan costs under a second. Each guess costs an attacker 1,200 SHA-256 blocks
/// instead of one.
pub const ROUNDS: u32 = 600;

/// PBKDF2 rounds for a keyless digest made once per plan (a saved plan's configuration
/// digest, over every secret at once): about 3 ms.
pub const ROUNDS_ONCE: u32 = 20_000;

type HmacSha256 = hmac::Hmac<Sha256>;

/// How fingerprints are made in this run.
#[derive(Clone, Default)]
pub struct Digester {
    key: Option<Key>,
    /// The stretched digests computed so far in this run, shared by every copy.
    memo: Arc<Memo>,
}

/// PBKDF2 results by their input, so that one input is stretched once per run: a plan
/// compares a connection's fingerprint, the apply's intent and record make it again, and
/// connections that share their secrets (one service account for many) share it. Kept in
/// memory only; the key is a SHA-256 of the input, so no secret is copied here.
#[derive(Default)]
struct Memo {
    done: Mutex<HashMap<[u8; 32], [u8; 32]>>,
}

/// What one PBKDF2 is given: the input and the rounds (the salt is the state's).
type Stretch = (Vec<u8>, u32);

/// The memo's key: the SHA-256 of everything PBKDF2 is given, length-prefixed.
fn memo_key(data: &[u8], salt: &str, rounds: u32) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(rounds.to_be_bytes());
    hasher.update((salt.len() as u64).to_be_bytes());
    hasher.update(salt.as_bytes());
    hasher.update(data);
    hasher.finalize().into()
}

impl Memo {
    fn get(&self, key: &[u8; 32]) -> Option<[u8; 32]> {
        crate::sync::lock(&self.done).get(key).copied()
    }

    fn put(&self, key: [u8; 32], value: [u8; 32]) {
        crate::sync::lock(&self.done).insert(key, value);
    }
}

#[derive(Clone)]
struct Key {
    secret: Secret,
    id: String,
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Some(key) => write!(f, "Digester(keyed, key id {})", key.id),
            None => write!(f, "Digester(keyless)"),
        }
    }
}

impl PartialEq for Digester {
    fn eq(&self, other: &Digester) -> bool {
        self.key_id() == other.key_id()
    }
}

impl Eq for Digester {}

/// Why a fingerprint cannot be checked in this run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("`{KEY_VAR}` is {0} characters long; a key shorter than {MIN_KEY_LEN} could itself be guessed")]
    ShortKey(usize),
    #[error(
        "the state's secret fingerprints were made with the key `{KEY_VAR}` whose id is {0}, and it is not set"
    )]
    KeyMissing(String),
    #[error(
        "the state's secret fingerprints were made with another `{KEY_VAR}` (key id {stored}; this one is {given})"
    )]
    OtherKey { stored: String, given: String },
    #[error("a secret fingerprint in the state is unreadable: `{0}`")]
    Unreadable(String),
}

impl DigestError {
    /// What to do about it.
    pub fn help(&self) -> Option<String> {
        match self {
            DigestError::ShortKey(_) => Some(
                "generate one with `openssl rand -hex 32` and keep it in your CI's secret store".to_owned(),
            ),
            DigestError::KeyMissing(_) => Some(format!(
                "set `{KEY_VAR}` as your CI does (it is kept in the same secret store as the connections' secrets)"
            )),
            DigestError::OtherKey { .. } => Some("set the key the state was made with".to_owned()),
            DigestError::Unreadable(_) => None,
        }
    }
}

impl Digester {
    /// The keyless digester.
    pub fn keyless() -> Digester {
        Digester::default()
    }

    /// A digester keyed by `key`.
    pub fn keyed(key: &str) -> Result<Digester, DigestError> {
        let length = key.chars().count();
        if length < MIN_KEY_LEN {
            return Err(DigestError::ShortKey(length));
        }
        let id = hex(&hmac(key.as_bytes(), b"flowform digest key id"))[..16].to_owned();
        Ok(Digester {
            key: Some(Key {
                secret: Secret::new(key),
                id,
            }),
            memo: Arc::default(),
        })
    }

    /// The digester the environment asks for: keyed when `FLOWFORM_DIGEST_KEY` is set.
    pub fn from_env(env: &Environment) -> Result<Digester, DigestError> {
        match env.var(KEY_VAR).filter(|k| !k.is_empty()) {
            Some(key) => Digester::keyed(key),
            None => Ok(Digester::keyless()),
        }
    }

    /// The key's id, if keyed.
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref().map(|k| k.id.as_str())
    }

    /// The fingerprint of one connection's secrets, in this run's scheme.
    pub fn secrets(&self, salt: &str, secrets: &BTreeMap<String, &Secret>) -> String {
        let canonical = canonical(salt, secrets);
        match &self.key {
            Some(key) => format!(
                "hmac-sha256:{}:{}",
                key.id,
                hex(&hmac(key.secret.expose().as_bytes(), &canonical))
            ),
            None => format!(
                "pbkdf2-sha256:{ROUNDS}:{}",
                hex(&self.stretched(&canonical, salt, ROUNDS))
            ),
        }
    }

    /// PBKDF2 of `data`, computed once per input in this run (the lock is not held while
    /// computing: two threads may both compute a value the first time, never wrongly).
    fn stretched(&self, data: &[u8], salt: &str, rounds: u32) -> [u8; 32] {
        let key = memo_key(data, salt, rounds);
        if let Some(done) = self.memo.get(&key) {
            return done;
        }
        let value = pbkdf2(data, salt, rounds);
        self.memo.put(key, value);
        value
    }

    /// Computes ahead, spread over the machine's cores, the stretched fingerprints that
    /// will be needed for these connections' secrets, so that each is computed once, in
    /// parallel, and not later one by one (under a lock, say): with a recorded fingerprint,
    /// what [`Digester::matches`] needs to check it; without (`None`), what
    /// [`Digester::secrets`] needs to make one. Keyed fingerprints are one HMAC each:
    /// nothing to do ahead.
    pub fn prepare<'a>(
        &self,
        salt: &str,
        connections: impl IntoIterator<Item = (&'a BTreeMap<String, &'a Secret>, Option<&'a str>)>,
    ) {
        // Memo key → (input, rounds).
        let mut wanted: HashMap<[u8; 32], Stretch> = HashMap::new();
        for (secrets, stored) in connections {
            let rounds = match stored {
                Some(stored) => stored_rounds(stored),
                None => self.key.is_none().then_some(ROUNDS),
            };
            let Some(rounds) = rounds else {
                continue;
            };
            let canonical = canonical(salt, secrets);
            let key = memo_key(&canonical, salt, rounds);
            if !wanted.contains_key(&key) && self.memo.get(&key).is_none() {
                wanted.insert(key, (canonical, rounds));
            }
        }
        let wanted: Vec<([u8; 32], Stretch)> = wanted.into_iter().collect();
        if wanted.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(wanted.len());
        let share = wanted.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for part in wanted.chunks(share) {
                scope.spawn(move || {
                    let done: Vec<([u8; 32], [u8; 32])> = part
                        .iter()
                        .map(|(key, (data, rounds))| (*key, pbkdf2(data, salt, *rounds)))
                        .collect();
                    crate::sync::lock(&self.memo.done).extend(done);
                });
            }
        });
    }

    /// Whether `stored` is the fingerprint of `secrets`, computed in `stored`'s own scheme.
    pub fn matches(
        &self,
        stored: &str,
        salt: &str,
        secrets: &BTreeMap<String, &Secret>,
    ) -> Result<bool, DigestError> {
        let canonical = canonical(salt, secrets);
        let parts: Vec<&str> = stored.split(':').collect();
        let expected = match parts.as_slice() {
            [legacy] if legacy.len() == 64 => hex(&Sha256::digest(&canonical)),
            ["hmac-sha256", id, _] => match &self.key {
                Some(key) if key.id == *id => hex(&hmac(key.secret.expose().as_bytes(), &canonical)),
                Some(key) => {
                    return Err(DigestError::OtherKey {
                        stored: (*id).to_owned(),
                        given: key.id.clone(),
                    });
                }
                None => return Err(DigestError::KeyMissing((*id).to_owned())),
            },
            ["pbkdf2-sha256", rounds, _] => {
                // A state is hostile input: a round count beyond ours would make reading it a
                // denial of service.
                let rounds: u32 = rounds
                    .parse()
                    .ok()
                    .filter(|r| (1..=ROUNDS_ONCE).contains(r))
                    .ok_or_else(|| DigestError::Unreadable(stored.to_owned()))?;
                hex(&self.stretched(&canonical, salt, rounds))
            }
            _ => return Err(DigestError::Unreadable(stored.to_owned())),
        };
        let given = parts.last().copied().unwrap_or_default();
        Ok(constant_time_eq(given.as_bytes(), expected.as_bytes()))
    }

    /// Whether `stored` is in this run's scheme (with this key); otherwise the next apply
    /// replaces it.
    pub fn is_current(&self, stored: &str) -> bool {
        match &self.key {
            Some(key) => stored.starts_with(&format!("hmac-sha256:{}:", key.id)),
            None => stored.starts_with(&format!("pbkdf2-sha256:{ROUNDS}:")),
        }
    }

    /// One digest of `data` under `salt`, made once per plan (a saved plan's configuration
    /// digest): keyed, or stretched with [`ROUNDS_ONCE`] rounds.
    pub fn once(&self, salt: &str, data: &[u8]) -> String {
        match &self.key {
            Some(key) => {
                let mut input = Vec::with_capacity(salt.len() + data.len() + 8);
                input.extend((salt.len() as u64).to_be_bytes());
                input.extend(salt.as_bytes());
                input.extend(data);
                format!(
                    "hmac-sha256:{}:{}",
                    key.id,
                    hex(&hmac(key.secret.expose().as_bytes(), &input))
                )
            }
            None => format!(
                "pbkdf2-sha256:{ROUNDS_ONCE}:{}",
                hex(&pbkdf2(data, salt, ROUNDS_ONCE))
            ),
        }
    }
}

/// The rounds of a readable keyless fingerprint (as [`Digester::matches`] accepts them).
fn stored_rounds(stored: &str) -> Option<u32> {
    let mut parts = stored.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("pbkdf2-sha256"), Some(rounds), Some(_), None) => {
            rounds.parse().ok().filter(|r| (1..=ROUNDS_ONCE).contains(r))
        }
        _ => None,
    }
}

/// The salt, then each name and value, length-prefixed so that no two different maps share a
/// byte string.
fn canonical(salt: &str, secrets: &BTreeMap<String, &Secret>) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(salt.as_bytes());
    for (name, value) in secrets {
        for part in [name.as_bytes(), value.expose().as_bytes()] {
            bytes.extend((part.len() as u64).to_be_bytes());
            bytes.extend(part);
        }
    }
    bytes
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn pbkdf2(data: &[u8], salt: &str, rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(data, salt.as_bytes(), rounds, &mut out);
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets<'a>(pairs: &[(&str, &'a Secret)]) -> BTreeMap<String, &'a Secret> {
        pairs.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
    }

    #[test]
    fn fingerprints_match_their_secrets_in_either_scheme() {
        let (a, b) = (Secret::new("hunter2"), Secret::new("other"));
        let one = secrets(&[("password", &a)]);
        let two = secrets(&[("password", &b)]);
        let key = "k".repeat(40);
        for digester in [Digester::keyless(), Digester::keyed(&key).unwrap()] {
            let stored = digester.secrets("salt", &one);
            assert!(digester.matches(&stored, "salt", &one).unwrap(), "{stored}");
            assert!(!digester.matches(&stored, "salt", &two).unwrap());
            assert!(!digester.matches(&stored, "pepper", &one).unwrap(), "salted");
            assert!(digester.is_current(&stored));
            assert!(!stored.contains("hunter2"));
        }
    }

    #[test]
    fn fingerprints_prepared_ahead_are_the_ones_computed_alone() {
        let secrets_of: Vec<Secret> = (0..9).map(|i| Secret::new(format!("pw{}", i % 3))).collect();
        let maps: Vec<BTreeMap<String, &Secret>> =
            secrets_of.iter().map(|s| secrets(&[("password", s)])).collect();
        let older = format!(
            "pbkdf2-sha256:100:{}",
            hex(&pbkdf2(&canonical("salt", &maps[0]), "salt", 100))
        );
        let prepared = Digester::keyless();
        prepared.prepare(
            "salt",
            maps.iter()
                .enumerate()
                .map(|(i, m)| (m, (i == 0).then_some(older.as_str()))),
        );
        // Three distinct inputs at the current rounds (`pw0` for the others that share it),
        // one at the older rounds.
        assert_eq!(crate::sync::lock(&prepared.memo.done).len(), 4);
        let alone = Digester::keyless();
        for m in &maps {
            assert_eq!(prepared.secrets("salt", m), alone.secrets("salt", m));
            assert_eq!(
                prepared.secrets("salt", m),
                format!(
                    "pbkdf2-sha256:{ROUNDS}:{}",
                    hex(&pbkdf2(&canonical("salt", m), "salt", ROUNDS))
                )
            );
            assert!(prepared.matches(&alone.secrets("salt", m), "salt", m).unwrap());
        }
        assert!(prepared.matches(&older, "salt", &maps[0]).unwrap());
        assert!(!prepared.matches(&older, "salt", &maps[1]).unwrap());
        assert!(
            !prepared
                .matches(&alone.secrets("pepper", &maps[0]), "salt", &maps[0])
                .unwrap()
        );
        // Only `pw1` at the older rounds was new.
        assert_eq!(crate::sync::lock(&prepared.memo.done).len(), 5);
        // A keyed digester stretches nothing ahead but what a keyless record needs.
        let keyed = Digester::keyed(&"k".repeat(40)).unwrap();
        let current = keyed.secrets("salt", &maps[1]);
        keyed.prepare("salt", maps.iter().map(|m| (m, None)));
        keyed.prepare("salt", [(&maps[1], Some(current.as_str()))]);
        assert!(crate::sync::lock(&keyed.memo.done).is_empty());
        keyed.prepare("salt", [(&maps[0], Some(older.as_str()))]);
        assert_eq!(crate::sync::lock(&keyed.memo.done).len(), 1);
    }

    #[test]
    fn a_keyed_fingerprint_needs_its_key() {
        let a = Secret::new("hunter2");
        let one = secrets(&[("password", &a)]);
        let keyed = Digester::keyed(&"k".repeat(40)).unwrap();
        let stored = keyed.secrets("salt", &one);
        assert!(stored.starts_with(&format!("hmac-sha256:{}:", keyed.key_id().unwrap())));
        assert!(matches!(
            Digester::keyless().matches(&stored, "salt", &one),
            Err(DigestError::KeyMissing(_))
        ));
        assert!(matches!(
            Digester::keyed(&"x".repeat(40))
                .unwrap()
                .matches(&stored, "salt", &one),
            Err(DigestError::OtherKey { .. })
        ));
        assert!(!Digester::keyless().is_current(&stored));
    }

    #[test]
    fn old_and_hostile_fingerprints() {
        let a = Secret::new("hunter2");
        let one = secrets(&[("password", &a)]);
        let legacy = hex(&Sha256::digest(canonical("salt", &one)));
        let digester = Digester::keyless();
        assert!(digester.matches(&legacy, "salt", &one).unwrap());
        assert!(!digester.is_current(&legacy));
        for bad in [
            "pbkdf2-sha256:4294967295:00",
            "pbkdf2-sha256:0:00",
            "pbkdf2-sha256:x:00",
            "md5:00",
            "",
        ] {
            assert!(
                matches!(
                    digester.matches(bad, "salt", &one),
                    Err(DigestError::Unreadable(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_print() {
        assert!(matches!(Digester::keyed("short"), Err(DigestError::ShortKey(5))));
        let d = Digester::keyed(&"s3cr3t".repeat(8)).unwrap();
        assert!(!format!("{d:?}").contains("s3cr3t"));
        let env = Environment::from_pairs([(KEY_VAR, "s3cr3t".repeat(8))]);
        assert_eq!(Digester::from_env(&env).unwrap(), d);
    }
}
