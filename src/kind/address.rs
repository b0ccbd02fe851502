//! How a resource is named: its address in the state and plans, and the references by key
//! that `moved:`, `removed:` and the command line take.
//!
//! An address is `sandbox/key` for a base connection (as before flowform knew other kinds)
//! and `sandbox/kind:key` for every other kind (`prod/source:sf-contacts`). Keys never hold
//! `/` or `:`, and a sandbox never holds either, so an address reads back one way only.

use serde::Serialize;

use super::Kind;

/// The longest key flowform accepts.
pub const MAX_KEY: usize = 128;

/// What a key is, for messages.
pub const KEY_RULE: &str = "a key starts with an ASCII letter or digit and holds ASCII letters, digits, `-`, `_` and `.` (at most 128), e.g. `acme-salesforce`";

/// Whether `key` can be a key: it is part of addresses (`sandbox/key`) and of command lines.
pub fn is_valid_key(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key.len() <= MAX_KEY
}

/// The address of `kind`'s `key` in `sandbox`.
pub fn format(kind: &Kind, sandbox: &str, key: &str) -> String {
    if kind.is_default() {
        format!("{sandbox}/{key}")
    } else {
        format!("{sandbox}/{}:{key}", kind.name)
    }
}

/// An address read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address<'a> {
    pub sandbox: &'a str,
    pub kind: &'static Kind,
    pub key: &'a str,
    /// The old resource of a replacement that is not deleted yet (`…#deposed`).
    pub deposed: bool,
}

impl<'a> Address<'a> {
    /// Reads an address; `None` when it is not one (a hand-edited state).
    pub fn parse(address: &'a str) -> Option<Address<'a>> {
        let (address, deposed) = match address.strip_suffix("#deposed") {
            Some(rest) => (rest, true),
            None => (address, false),
        };
        let (sandbox, rest) = address.split_once('/')?;
        let (kind, key) = match rest.split_once(':') {
            Some((kind, key)) => (super::by_name(kind)?, key),
            None => (super::default(), rest),
        };
        Some(Address {
            sandbox,
            kind,
            key,
            deposed,
        })
    }
}

/// The kind an address names (the default kind for one that does not parse).
pub fn kind_of(address: &str) -> &'static Kind {
    Address::parse(address).map_or(super::default(), |a| a.kind)
}

/// A key as `moved:`, `removed:` and commands name it: `key`, `kind:key`, `sandbox/key` or
/// `sandbox/kind:key`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyRef {
    pub sandbox: Option<String>,
    /// `None`: any kind with that key.
    #[serde(serialize_with = "kind_name")]
    pub kind: Option<&'static Kind>,
    pub key: String,
}

fn kind_name<S: serde::Serializer>(kind: &Option<&'static Kind>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(k) => s.serialize_some(k.name),
        None => s.serialize_none(),
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Kind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Kind) -> std::cmp::Ordering {
        self.name.cmp(other.name)
    }
}

/// Why a text is not a key reference.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyRefError {
    UnknownKind(String),
    Invalid,
}

impl KeyRef {
    /// Reads `key`, `kind:key`, `sandbox/key` or `sandbox/kind:key`.
    pub fn parse(text: &str) -> Result<KeyRef, KeyRefError> {
        let (sandbox, rest) = match text.split_once('/') {
            Some((sandbox, rest)) => (Some(sandbox), rest),
            None => (None, text),
        };
        let (kind, key) = match rest.split_once(':') {
            Some((kind, key)) => (
                Some(super::by_name(kind).ok_or_else(|| KeyRefError::UnknownKind(kind.to_owned()))?),
                key,
            ),
            None => (None, rest),
        };
        let sandbox_ok = sandbox.is_none_or(|s| {
            !s.is_empty()
                && s.len() <= 256
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
        if !sandbox_ok || !is_valid_key(key) {
            return Err(KeyRefError::Invalid);
        }
        Ok(KeyRef {
            sandbox: sandbox.map(str::to_owned),
            kind,
            key: key.to_owned(),
        })
    }

    /// Whether `kind`'s `key` in `sandbox` is what this names.
    pub fn names(&self, kind: &Kind, sandbox: &str, key: &str) -> bool {
        self.key == key
            && self.sandbox.as_deref().is_none_or(|s| s == sandbox)
            && self.kind.is_none_or(|k| k == kind)
    }

    /// Whether this names the resource at `address`.
    pub fn names_address(&self, address: &str) -> bool {
        Address::parse(address).is_some_and(|a| !a.deposed && self.names(a.kind, a.sandbox, a.key))
    }

    /// The addresses among `addresses` this names. A bare key names the base connection of
    /// that key where there is one (its address carries no kind either), and otherwise the
    /// resource of whatever kind holds that key: `sf` is the base connection `sf` even when a
    /// source connection is keyed `sf` too (that one is `source:sf`).
    pub fn pick<'a, S: AsRef<str> + ?Sized + 'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a S>,
    ) -> Vec<&'a S> {
        let named: Vec<&S> = addresses
            .into_iter()
            .filter(|a| self.names_address(a.as_ref()))
            .collect();
        let bases = |a: &&S| kind_of(a.as_ref()).is_default();
        if self.kind.is_none() && named.iter().any(bases) {
            named.into_iter().filter(bases).collect()
        } else {
            named
        }
    }
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(sandbox) = &self.sandbox {
            write!(f, "{sandbox}/")?;
        }
        if let Some(kind) = self.kind {
            write!(f, "{}:", kind.name)?;
        }
        f.write_str(&self.key)
    }
}

/// What a `KeyRef` error says, and its help.
pub fn key_ref_problem(text: &str, error: &KeyRefError) -> (String, String) {
    let shown = crate::flow::model::clean(text, 200);
    match error {
        KeyRefError::UnknownKind(kind) => {
            let kinds: Vec<&str> = super::ALL.iter().map(|k| k.name).collect();
            let help = match crate::diagnostic::did_you_mean(kind, kinds.iter().copied()) {
                Some(s) => format!("did you mean `{s}:`?"),
                None => format!(
                    "the kinds are {} (a bare key names a base connection)",
                    crate::reader::backticked(&kinds)
                ),
            };
            (format!("`{shown}` names no kind flowform knows (`{kind}`)"), help)
        }
        KeyRefError::Invalid => (
            format!("`{shown}` is not a key"),
            format!("{KEY_RULE} (or `kind:key`, or `sandbox/key`)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_back_one_way() {
        let source = super::super::by_name("source").unwrap();
        for (kind, sandbox, key) in [
            (super::super::default(), "prod", "acme"),
            (source, "dev-2", "sf.contacts"),
        ] {
            let text = format(kind, sandbox, key);
            let a = Address::parse(&text).unwrap();
            assert_eq!((a.kind, a.sandbox, a.key, a.deposed), (kind, sandbox, key, false));
            let deposed = format!("{text}#deposed");
            assert!(Address::parse(&deposed).unwrap().deposed);
        }
        assert_eq!(format(source, "prod", "x"), "prod/source:x");
        assert!(Address::parse("prod/nothing:x").is_none());
        assert!(Address::parse("nokey").is_none());
    }

    #[test]
    fn key_refs_name_what_they_say() {
        let source = super::super::by_name("source").unwrap();
        let conn = super::super::default();
        let bare = KeyRef::parse("acme").unwrap();
        assert!(bare.names(conn, "prod", "acme") && bare.names(source, "dev", "acme"));
        let typed = KeyRef::parse("prod/source:acme").unwrap();
        assert!(typed.names(source, "prod", "acme"));
        assert!(!typed.names(conn, "prod", "acme") && !typed.names(source, "dev", "acme"));
        assert_eq!(typed.to_string(), "prod/source:acme");
        assert_eq!(
            KeyRef::parse("flo:x"),
            Err(KeyRefError::UnknownKind("flo".into()))
        );
        assert_eq!(KeyRef::parse("a b"), Err(KeyRefError::Invalid));
        assert!(typed.names_address("prod/source:acme"));
        assert!(!typed.names_address("prod/source:acme#deposed"));
        // A bare key picks the base connection where a key is shared across kinds.
        let both = ["prod/acme", "prod/source:acme", "prod/target:other"];
        assert_eq!(bare.pick(&both), [&"prod/acme"]);
        assert_eq!(typed.pick(&both), [&"prod/source:acme"]);
        let other = KeyRef::parse("other").unwrap();
        assert_eq!(other.pick(&both), [&"prod/target:other"]);
    }
}
