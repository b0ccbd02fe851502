//! The emulator's data: base connections per organization and sandbox, with the indexes
//! listing needs, and the snapshot format of `--data`.
//!
//! Every change to a connection takes a new value from one global sequence. Listing orders
//! by that sequence (most recently updated first) or by name, and pages are read *as of* the
//! sequence number at which the first page was read: a connection changed while a client
//! walks the pages is returned at the place it had then (each connection keeps the sequence
//! numbers and names it had before), and one created since is not returned at all. So a walk
//! never skips or repeats a connection, however the data changes under it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::connection::{Connection, Earlier};
use crate::select::{Field, Filter, Key, Op, Order};

/// How long a continuation token stays valid, and so how long a connection's earlier
/// positions are kept.
pub const CURSOR_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// The connections of one organization's sandbox.
#[derive(Debug, Default)]
struct Partition {
    by_id: HashMap<String, Connection>,
    by_seq: BTreeMap<u64, String>,
    by_name: BTreeSet<(String, String)>,
}

type PartitionKey = (String, String);

/// All the emulator's connections.
#[derive(Debug, Default)]
pub struct Store {
    partitions: HashMap<PartitionKey, Partition>,
    /// Where each id lives, for the admin endpoints (which name no org or sandbox).
    located: HashMap<String, PartitionKey>,
    seq: u64,
    /// Initializing connections by the time they become enabled.
    pending: BTreeSet<(i64, String)>,
}

/// Which page to read: the connections that match every filter, in `order`, as they stood at
/// sequence number `snapshot`, starting after `after`, at most `limit` of them.
#[derive(Clone, Copy, Debug)]
pub struct Walk<'a> {
    pub filters: &'a [Filter],
    pub order: Order,
    pub snapshot: u64,
    pub after: Option<&'a Key>,
    pub limit: usize,
}

/// One page of a listing.
pub struct Page<'a> {
    pub items: Vec<&'a Connection>,
    /// The key of the last item, when more items follow.
    pub next: Option<Key>,
}

impl Store {
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn len(&self) -> usize {
        self.located.len()
    }

    pub fn is_empty(&self) -> bool {
        self.located.is_empty()
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn get(&self, org: &str, sandbox: &str, id: &str) -> Option<&Connection> {
        self.partitions
            .get(&(org.to_owned(), sandbox.to_owned()))?
            .by_id
            .get(id)
    }

    /// Finds a connection by id alone (admin endpoints).
    pub fn locate(&self, id: &str) -> Option<&Connection> {
        let (org, sandbox) = self.located.get(id)?;
        self.get(org, sandbox, id)
    }

    /// A connection to change in what AEP does not show (its source's side): no new
    /// sequence, no new `updatedAt`, the same rendered item.
    pub fn source_side(&mut self, id: &str) -> Option<&mut Connection> {
        let (org, sandbox) = self.located.get(id)?.clone();
        self.partitions.get_mut(&(org, sandbox))?.by_id.get_mut(id)
    }

    /// Adds a new connection; its `seq` must come from [`Store::next_seq`].
    pub fn insert(&mut self, conn: Connection) {
        if let Some(at) = conn.enable_at {
            self.pending.insert((at, conn.id.clone()));
        }
        let key = (conn.org.clone(), conn.sandbox.clone());
        self.located.insert(conn.id.clone(), key.clone());
        let part = self.partitions.entry(key).or_default();
        part.by_seq.insert(conn.seq, conn.id.clone());
        part.by_name.insert((conn.name.clone(), conn.id.clone()));
        part.by_id.insert(conn.id.clone(), conn);
    }

    /// Changes a connection: `change` edits it, then it takes a new sequence number and the
    /// indexes follow. Returns `None` when there is no such connection.
    pub fn modify<T>(
        &mut self,
        org: &str,
        sandbox: &str,
        id: &str,
        now: i64,
        change: impl FnOnce(&mut Connection) -> T,
    ) -> Option<T> {
        self.seq += 1;
        let seq = self.seq;
        let part = self.partitions.get_mut(&(org.to_owned(), sandbox.to_owned()))?;
        let conn = part.by_id.get_mut(id)?;
        let (old_seq, old_name) = (conn.seq, conn.name.clone());
        let result = change(conn);
        conn.seq = seq;
        conn.updated_at = now;
        conn.rendered = OnceLock::new();
        conn.earlier.retain(|e| e.until_ms > now - CURSOR_LIFETIME_MS);
        conn.earlier.push(Earlier {
            seq: old_seq,
            name: old_name.clone(),
            until_ms: now,
        });
        part.by_seq.remove(&old_seq);
        part.by_seq.insert(seq, id.to_owned());
        if conn.name != old_name {
            part.by_name.remove(&(old_name, id.to_owned()));
            part.by_name.insert((conn.name.clone(), id.to_owned()));
        }
        Some(result)
    }

    pub fn remove(&mut self, org: &str, sandbox: &str, id: &str) -> Option<Connection> {
        let part = self.partitions.get_mut(&(org.to_owned(), sandbox.to_owned()))?;
        let conn = part.by_id.remove(id)?;
        part.by_seq.remove(&conn.seq);
        part.by_name.remove(&(conn.name.clone(), conn.id.clone()));
        self.located.remove(id);
        if let Some(at) = conn.enable_at {
            self.pending.remove(&(at, conn.id.clone()));
        }
        self.seq += 1;
        Some(conn)
    }

    /// Initializing connections whose time has come, for the caller to enable.
    pub fn due(&mut self, now: i64) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.pending.first() {
            if *at > now {
                break;
            }
            if let Some((_, id)) = self.pending.pop_first() {
                due.push(id);
            }
        }
        due
    }

    /// Where a connection lives.
    pub fn location_of(&self, id: &str) -> Option<(String, String)> {
        self.located.get(id).cloned()
    }

    /// Counts the connections of a sandbox that match every filter.
    pub fn count(&self, org: &str, sandbox: &str, filters: &[Filter]) -> usize {
        self.partition(org, sandbox).map_or(0, |p| {
            p.by_id.values().filter(|c| matches_all(c, filters)).count()
        })
    }

    fn partition(&self, org: &str, sandbox: &str) -> Option<&Partition> {
        self.partitions.get(&(org.to_owned(), sandbox.to_owned()))
    }

    /// One page of the sandbox's connections, as `walk` describes it.
    pub fn page(&self, org: &str, sandbox: &str, walk: &Walk<'_>) -> Page<'_> {
        let Walk {
            filters,
            order,
            snapshot,
            after,
            limit,
        } = *walk;
        let Some(part) = self.partition(org, sandbox) else {
            return Page {
                items: Vec::new(),
                next: None,
            };
        };
        let follows = |key: &Key| after.is_none_or(|a| order.follows(key, a));
        let mut found: Vec<(Key, &Connection)> = Vec::new();

        if let Some(candidates) = indexed_candidates(part, filters) {
            // Few candidates (an `id==` or `name==` filter): take them all, then order.
            for conn in candidates {
                if let Some(key) = key_as_of(conn, order, snapshot)
                    && follows(&key)
                    && matches_all(conn, filters)
                {
                    found.push((key, conn));
                }
            }
        } else {
            // Walk the index in order; connections changed since the snapshot are taken up
            // below, at the place they had then.
            let want = limit + 1;
            let unchanged = |id: &String| part.by_id.get(id).filter(|c| c.seq <= snapshot);
            let take = |conn: &'_ Connection| matches_all(conn, filters);
            match order {
                Order::UpdatedDesc | Order::UpdatedAsc => {
                    let upper = match after {
                        Some(Key::Seq(s)) if order == Order::UpdatedDesc => Bound::Excluded(*s),
                        _ => Bound::Included(snapshot),
                    };
                    let lower = match after {
                        Some(Key::Seq(s)) if order == Order::UpdatedAsc => Bound::Excluded(*s),
                        _ => Bound::Unbounded,
                    };
                    let range = part.by_seq.range((lower, upper));
                    let iter: Box<dyn Iterator<Item = (&u64, &String)>> = if order == Order::UpdatedDesc {
                        Box::new(range.rev())
                    } else {
                        Box::new(range)
                    };
                    for (seq, id) in iter {
                        if *seq > snapshot {
                            break;
                        }
                        if let Some(conn) = unchanged(id).filter(|c| take(c)) {
                            found.push((Key::Seq(*seq), conn));
                            if found.len() >= want {
                                break;
                            }
                        }
                    }
                }
                Order::NameAsc | Order::NameDesc => {
                    let bound = match after {
                        Some(Key::Name(n, i)) => Some((n.clone(), i.clone())),
                        _ => None,
                    };
                    let iter: Box<dyn Iterator<Item = &(String, String)>> = match (order, bound) {
                        (Order::NameAsc, Some(b)) => {
                            Box::new(part.by_name.range((Bound::Excluded(b), Bound::Unbounded)))
                        }
                        (Order::NameDesc, Some(b)) => {
                            Box::new(part.by_name.range((Bound::Unbounded, Bound::Excluded(b))).rev())
                        }
                        (Order::NameAsc, None) => Box::new(part.by_name.iter()),
                        _ => Box::new(part.by_name.iter().rev()),
                    };
                    for (name, id) in iter {
                        if let Some(conn) = unchanged(id).filter(|c| take(c)) {
                            found.push((Key::Name(name.clone(), id.clone()), conn));
                            if found.len() >= want {
                                break;
                            }
                        }
                    }
                }
            }
            for (_, id) in part.by_seq.range((Bound::Excluded(snapshot), Bound::Unbounded)) {
                let Some(conn) = part.by_id.get(id) else { continue };
                if let Some(key) = key_as_of(conn, order, snapshot)
                    && follows(&key)
                    && take(conn)
                {
                    found.push((key, conn));
                }
            }
        }
        found.sort_by(|a, b| order.compare(&a.0, &b.0));
        let more = found.len() > limit;
        found.truncate(limit);
        let next = if more {
            found.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Page {
            items: found.into_iter().map(|(_, c)| c).collect(),
            next,
        }
    }

    /// Every connection, for `--data` snapshots and admin dumps.
    pub fn all(&self) -> impl Iterator<Item = &Connection> {
        self.partitions.values().flat_map(|p| p.by_id.values())
    }

    /// Rebuilds a store from saved connections.
    pub fn from_snapshot(snapshot: Snapshot) -> Store {
        let mut store = Store {
            seq: snapshot.seq,
            ..Store::default()
        };
        for conn in snapshot.connections {
            store.seq = store.seq.max(conn.seq);
            store.insert(conn);
        }
        store
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut connections: Vec<Connection> = self
            .all()
            .map(|c| Connection {
                earlier: Vec::new(),
                rendered: OnceLock::new(),
                ..c.clone()
            })
            .collect();
        connections.sort_by_key(|c| c.seq);
        Snapshot {
            version: 1,
            seq: self.seq,
            connections,
        }
    }
}

/// The `--data` file: every connection, in the order they were last changed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub seq: u64,
    pub connections: Vec<Connection>,
}

fn matches_all(conn: &Connection, filters: &[Filter]) -> bool {
    filters.iter().all(|f| f.matches(conn))
}

/// The connections an `id==` or `name==` filter narrows the sandbox to, if there is one.
fn indexed_candidates<'a>(part: &'a Partition, filters: &[Filter]) -> Option<Vec<&'a Connection>> {
    let filter = filters
        .iter()
        .find(|f| f.op == Op::Eq && matches!(f.field, Field::Id | Field::Name))?;
    let mut out: Vec<&Connection> = Vec::new();
    for value in &filter.values {
        match filter.field {
            Field::Id => out.extend(part.by_id.get(value)),
            _ => {
                let start = (value.clone(), String::new());
                for (name, id) in part.by_name.range(start..) {
                    if name != value {
                        break;
                    }
                    out.extend(part.by_id.get(id));
                }
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    Some(out)
}

/// The connection's sort key as it stood at sequence number `at`; `None` if it did not
/// exist yet.
fn key_as_of(conn: &Connection, order: Order, at: u64) -> Option<Key> {
    let (seq, name) = if conn.seq <= at {
        (conn.seq, &conn.name)
    } else {
        let e = conn.earlier.iter().rev().find(|e| e.seq <= at)?;
        (e.seq, &e.name)
    };
    Some(match order {
        Order::UpdatedDesc | Order::UpdatedAsc => Key::Seq(seq),
        Order::NameAsc | Order::NameDesc => Key::Name(name.clone(), conn.id.clone()),
    })
}
