//! Mappings: duplicate keys found by hash ([`KeyIndex`]) rather than by comparing every key
//! with every earlier one, and `<<` merge keys applied (explicit keys win).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use super::{Node, ParseError, Value, error};

/// A mapping's keys by hash: each key is hashed once, and compared (with `==`, exactly as
/// before) only with the earlier keys of the same hash, so that reading a mapping of n keys
/// costs n steps rather than n²/2 comparisons. A small mapping (most of them) is searched
/// key by key, which costs less than hashing; the index is built when it grows past
/// [`KeyIndex::SMALL`].
#[derive(Default)]
pub(super) struct KeyIndex {
    /// Whether the keys are indexed (the mapping has more than [`KeyIndex::SMALL`]).
    built: bool,
    hasher: RandomState,
    /// Hash → the index (in the entries) of the first key with that hash.
    first: HashMap<u64, usize>,
    /// Further keys whose hash an earlier, different key already has (rare): by hash.
    more: HashMap<u64, Vec<usize>>,
}

impl KeyIndex {
    fn hash(&self, value: &Value) -> u64 {
        let mut state = self.hasher.build_hasher();
        hash_value(value, &mut state);
        state.finish()
    }

    const SMALL: usize = 16;

    /// The key among `entries` equal to `value`, if any.
    pub(super) fn find<'a>(&self, entries: &'a [(Node, Node)], value: &Value) -> Option<&'a Node> {
        if !self.built {
            return entries.iter().map(|(k, _)| k).find(|k| k.value == *value);
        }
        let hash = self.hash(value);
        let first = *self.first.get(&hash)?;
        std::iter::once(first)
            .chain(self.more.get(&hash).into_iter().flatten().copied())
            .filter_map(|i| entries.get(i).map(|(k, _)| k))
            .find(|k| k.value == *value)
    }

    /// Notes that the key of `entries[index]` is `value` (`entries` holds it already, or is
    /// about to, at `index`).
    pub(super) fn insert(&mut self, entries: &[(Node, Node)], value: &Value, index: usize) {
        if !self.built {
            if index < KeyIndex::SMALL {
                return;
            }
            self.built = true;
            for (i, (k, _)) in entries.iter().enumerate().take(index) {
                self.add(&k.value, i);
            }
        }
        self.add(value, index);
    }

    fn add(&mut self, value: &Value, index: usize) {
        let hash = self.hash(value);
        match self.first.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.more.entry(hash).or_default().push(index),
        }
    }
}

/// Hashes a value consistently with its `PartialEq`: values that compare equal hash alike.
/// A float is hashed by its text alone (two floats are equal only when their texts are), and
/// a node of a collection with its location (nodes compare their locations too).
fn hash_value(value: &Value, state: &mut impl Hasher) {
    std::mem::discriminant(value).hash(state);
    match value {
        Value::Null => {}
        Value::Bool(b) => b.hash(state),
        Value::Int(i) => i.hash(state),
        Value::Float(_, text) => text.hash(state),
        Value::String(s) => s.hash(state),
        Value::Sequence(items) => {
            items.len().hash(state);
            for item in items {
                hash_node(item, state);
            }
        }
        Value::Mapping(entries) => {
            entries.len().hash(state);
            for (k, v) in entries {
                hash_node(k, state);
                hash_node(v, state);
            }
        }
    }
}

fn hash_node(node: &Node, state: &mut impl Hasher) {
    hash_value(&node.value, state);
    node.location.hash(state);
}

pub(super) fn is_merge_key(node: &Node) -> bool {
    matches!(&node.value, Value::String(s) if s == "<<")
}

/// Applies `<<` merge keys: the merged mappings' entries are added unless the mapping already
/// has the key (explicit keys win; among several merged mappings the first wins).
pub(super) fn merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, ParseError> {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return Ok(entries);
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| is_merge_key(k));
    let mut keys = KeyIndex::default();
    for (i, (k, _)) in own.iter().enumerate() {
        keys.insert(&own, &k.value, i);
    }
    for (_, source) in merges {
        let sources = match source.value {
            Value::Mapping(m) => vec![m],
            Value::Sequence(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.value {
                        Value::Mapping(m) => maps.push(m),
                        other => {
                            return Err(error(
                                format!("a `<<` merge list holds mappings, not {}", other.kind()),
                                item.location,
                            ));
                        }
                    }
                }
                maps
            }
            other => {
                return Err(error(
                    format!("`<<` merges a mapping (or a list of them), not {}", other.kind()),
                    source.location,
                ));
            }
        };
        for map in sources {
            for (k, v) in map {
                if keys.find(&own, &k.value).is_none() {
                    keys.insert(&own, &k.value, own.len());
                    own.push((k, v));
                }
            }
        }
    }
    Ok(own)
}
