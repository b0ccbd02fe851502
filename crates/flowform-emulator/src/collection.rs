//! One collection of records (base, source or target connections) per organization and
//! sandbox, with the indexes listing needs and snapshot-consistent paging. Written once for
//! every [`Kind`](crate::record::Kind) over [`Record`].
//!
//! Every change to a record takes a new value from the collection's sequence. Listing orders
//! by that sequence (most recently updated first) or by name, and pages are read *as of* the
//! sequence number at which the first page was read: a record changed while a client walks
//! the pages is returned at the place it had then (each record keeps the sequence numbers and
//! names it had before), and one created since is not returned at all. So a walk never skips
//! or repeats a record, however the data changes under it.
//!
//! `id==`, `name==` and `baseConnectionId==` filters are answered from indexes, in time
//! proportional to the matches: flowform reads 40,000 records 100 ids at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use crate::record::{Earlier, Record};
use crate::select::{Filter, Key, Op, Order};

/// How long a continuation token stays valid, and so how long a record's earlier positions
/// are kept.
pub const CURSOR_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// The records of one organization's sandbox.
#[derive(Debug)]
struct Partition<R> {
    by_id: HashMap<String, R>,
    by_seq: BTreeMap<u64, String>,
    by_name: BTreeSet<(String, String)>,
    /// (base connection id, record id), for records that use a base connection.
    by_base: BTreeSet<(String, String)>,
}

impl<R> Default for Partition<R> {
    fn default() -> Partition<R> {
        Partition {
            by_id: HashMap::new(),
            by_seq: BTreeMap::new(),
            by_name: BTreeSet::new(),
            by_base: BTreeSet::new(),
        }
    }
}

type PartitionKey = (String, String);

/// All the records of one kind.
#[derive(Debug)]
pub struct Collection<R> {
    partitions: HashMap<PartitionKey, Partition<R>>,
    /// Where each id lives, for the admin endpoints (which name no org or sandbox).
    located: HashMap<String, PartitionKey>,
    seq: u64,
    /// Initializing records by the time they become enabled.
    pending: BTreeSet<(i64, String)>,
}

impl<R> Default for Collection<R> {
    fn default() -> Collection<R> {
        Collection {
            partitions: HashMap::new(),
            located: HashMap::new(),
            seq: 0,
            pending: BTreeSet::new(),
        }
    }
}

/// Which page to read: the records that match every filter, in `order`, as they stood at
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
pub struct Page<'a, R> {
    pub items: Vec<&'a R>,
    /// The key of the last item, when more items follow.
    pub next: Option<Key>,
}

fn key(org: &str, sandbox: &str) -> PartitionKey {
    (org.to_owned(), sandbox.to_owned())
}

impl<R: Record> Collection<R> {
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

    pub fn get(&self, org: &str, sandbox: &str, id: &str) -> Option<&R> {
        self.partitions.get(&key(org, sandbox))?.by_id.get(id)
    }

    /// Finds a record by id alone (admin endpoints).
    pub fn locate(&self, id: &str) -> Option<&R> {
        let (org, sandbox) = self.located.get(id)?;
        self.get(org, sandbox, id)
    }

    /// Where a record lives.
    pub fn location_of(&self, id: &str) -> Option<(String, String)> {
        self.located.get(id).cloned()
    }

    /// A record to change in what AEP does not show: no new sequence, no new `updatedAt`,
    /// the same rendered item. The change must leave its name and base connection alone.
    pub fn quietly(&mut self, id: &str) -> Option<&mut R> {
        let at = self.located.get(id)?;
        self.partitions.get_mut(at)?.by_id.get_mut(id)
    }

    /// Adds a new record; its `seq` must come from [`Collection::next_seq`].
    pub fn insert(&mut self, record: R) {
        let id = record.id().to_owned();
        if let Some(at) = record.enable_at() {
            self.pending.insert((at, id.clone()));
        }
        self.seq = self.seq.max(record.seq());
        let at = key(record.org(), record.sandbox());
        self.located.insert(id.clone(), at.clone());
        let part = self.partitions.entry(at).or_default();
        part.by_seq.insert(record.seq(), id.clone());
        part.by_name.insert((record.name().to_owned(), id.clone()));
        if let Some(base) = record.indexed_ref() {
            part.by_base.insert((base.to_owned(), id.clone()));
        }
        part.by_id.insert(id, record);
    }

    /// Changes a record: `change` edits it, then it takes a new sequence number and the
    /// indexes follow. Returns `None` when there is no such record.
    pub fn modify<T>(
        &mut self,
        org: &str,
        sandbox: &str,
        id: &str,
        now: i64,
        change: impl FnOnce(&mut R) -> T,
    ) -> Option<T> {
        self.seq += 1;
        let seq = self.seq;
        let part = self.partitions.get_mut(&key(org, sandbox))?;
        let record = part.by_id.get_mut(id)?;
        let (old_seq, old_name) = (record.seq(), record.name().to_owned());
        let old_base = record.indexed_ref().map(str::to_owned);
        let result = change(record);
        record.stamp(seq, now);
        let earlier = record.earlier_mut();
        earlier.retain(|e| e.until_ms > now - CURSOR_LIFETIME_MS);
        earlier.push(Earlier {
            seq: old_seq,
            name: old_name.clone(),
            until_ms: now,
        });
        part.by_seq.remove(&old_seq);
        part.by_seq.insert(seq, id.to_owned());
        if record.name() != old_name {
            part.by_name.remove(&(old_name, id.to_owned()));
            part.by_name.insert((record.name().to_owned(), id.to_owned()));
        }
        let new_base = record.indexed_ref().map(str::to_owned);
        if new_base != old_base {
            if let Some(old) = old_base {
                part.by_base.remove(&(old, id.to_owned()));
            }
            if let Some(new) = new_base {
                part.by_base.insert((new, id.to_owned()));
            }
        }
        Some(result)
    }

    pub fn remove(&mut self, org: &str, sandbox: &str, id: &str) -> Option<R> {
        let part = self.partitions.get_mut(&key(org, sandbox))?;
        let record = part.by_id.remove(id)?;
        part.by_seq.remove(&record.seq());
        part.by_name.remove(&(record.name().to_owned(), id.to_owned()));
        if let Some(base) = record.indexed_ref() {
            part.by_base.remove(&(base.to_owned(), id.to_owned()));
        }
        self.located.remove(id);
        if let Some(at) = record.enable_at() {
            self.pending.remove(&(at, id.to_owned()));
        }
        self.seq += 1;
        Some(record)
    }

    /// Initializing records whose time has come, for the caller to enable.
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

    /// The ids of the sandbox's records that use base connection `base`, at most `limit`.
    pub fn using(&self, org: &str, sandbox: &str, base: &str, limit: usize) -> Vec<&str> {
        let Some(part) = self.partition(org, sandbox) else {
            return Vec::new();
        };
        equal_to(&part.by_base, base)
            .take(limit)
            .map(String::as_str)
            .collect()
    }

    /// Counts the sandbox's records that match every filter.
    pub fn count(&self, org: &str, sandbox: &str, filters: &[Filter]) -> usize {
        let Some(part) = self.partition(org, sandbox) else {
            return 0;
        };
        match indexed_candidates(part, filters) {
            Some(candidates) => candidates
                .into_iter()
                .filter(|r| matches_all(*r, filters))
                .count(),
            None => part.by_id.values().filter(|r| matches_all(*r, filters)).count(),
        }
    }

    fn partition(&self, org: &str, sandbox: &str) -> Option<&Partition<R>> {
        self.partitions.get(&key(org, sandbox))
    }

    /// One page of the sandbox's records, as `walk` describes it.
    pub fn page(&self, org: &str, sandbox: &str, walk: &Walk<'_>) -> Page<'_, R> {
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
        let mut found: Vec<(Key, &R)> = Vec::new();

        if let Some(candidates) = indexed_candidates(part, filters) {
            // Few candidates (an indexed filter): take them all, then order.
            for record in candidates {
                if let Some(key) = key_as_of(record, order, snapshot)
                    && follows(&key)
                    && matches_all(record, filters)
                {
                    found.push((key, record));
                }
            }
        } else {
            // Walk the index in order; records changed since the snapshot are taken up
            // below, at the place they had then.
            let want = limit + 1;
            let unchanged = |id: &String| part.by_id.get(id).filter(|r| r.seq() <= snapshot);
            let take = |record: &R| matches_all(record, filters);
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
                        if let Some(record) = unchanged(id).filter(|r| take(r)) {
                            found.push((Key::Seq(*seq), record));
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
                        if let Some(record) = unchanged(id).filter(|r| take(r)) {
                            found.push((Key::Name(name.clone(), id.clone()), record));
                            if found.len() >= want {
                                break;
                            }
                        }
                    }
                }
            }
            for (_, id) in part.by_seq.range((Bound::Excluded(snapshot), Bound::Unbounded)) {
                let Some(record) = part.by_id.get(id) else {
                    continue;
                };
                if let Some(key) = key_as_of(record, order, snapshot)
                    && follows(&key)
                    && take(record)
                {
                    found.push((key, record));
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
            items: found.into_iter().map(|(_, r)| r).collect(),
            next,
        }
    }

    /// Every record, for `--data` snapshots and admin dumps.
    pub fn all(&self) -> impl Iterator<Item = &R> {
        self.partitions.values().flat_map(|p| p.by_id.values())
    }

    /// The sandbox's records, oldest change first.
    pub fn in_sandbox(&self, org: &str, sandbox: &str) -> Vec<&R> {
        let Some(part) = self.partition(org, sandbox) else {
            return Vec::new();
        };
        part.by_seq.values().filter_map(|id| part.by_id.get(id)).collect()
    }

    /// Every record, oldest change first.
    pub fn all_by_seq(&self) -> Vec<&R> {
        let mut all: Vec<&R> = self.all().collect();
        all.sort_by_key(|r| r.seq());
        all
    }

    /// A collection of saved records, continuing from sequence number `seq`.
    pub fn restore(seq: u64, records: Vec<R>) -> Collection<R> {
        let mut collection = Collection {
            seq,
            ..Collection::default()
        };
        for record in records {
            collection.insert(record);
        }
        collection
    }
}

fn matches_all<R: Record>(record: &R, filters: &[Filter]) -> bool {
    filters.iter().all(|f| f.matches(record))
}

/// The properties answered from an index, most selective first.
/// `baseConnectionId` and `flowId` are the reference index of their kinds
/// ([`Record::indexed_ref`]); no kind has both.
const INDEXED: [&str; 4] = ["id", "name", "baseConnectionId", "flowId"];

/// The records an indexed `==` filter narrows the sandbox to, if there is one.
fn indexed_candidates<'a, R: Record>(part: &'a Partition<R>, filters: &[Filter]) -> Option<Vec<&'a R>> {
    let filter = INDEXED
        .iter()
        .find_map(|name| filters.iter().find(|f| f.op == Op::Eq && f.path.is(name)))?;
    let mut out: Vec<&R> = Vec::new();
    for value in &filter.values {
        match filter.path.head() {
            "id" => out.extend(part.by_id.get(value)),
            "name" => out.extend(equal_to(&part.by_name, value).filter_map(|id| part.by_id.get(id))),
            _ => out.extend(equal_to(&part.by_base, value).filter_map(|id| part.by_id.get(id))),
        }
    }
    out.sort_by(|a, b| a.id().cmp(b.id()));
    out.dedup_by(|a, b| a.id() == b.id());
    Some(out)
}

/// The record ids an index pairs with `value`.
fn equal_to<'a>(
    index: &'a BTreeSet<(String, String)>,
    value: &str,
) -> impl Iterator<Item = &'a String> + use<'a> {
    let value = value.to_owned();
    index
        .range((value.clone(), String::new())..)
        .take_while(move |(v, _)| *v == value)
        .map(|(_, id)| id)
}

/// The record's sort key as it stood at sequence number `at`; `None` if it did not exist
/// yet.
fn key_as_of<R: Record>(record: &R, order: Order, at: u64) -> Option<Key> {
    let (seq, name) = if record.seq() <= at {
        (record.seq(), record.name())
    } else {
        let e = record.earlier().iter().rev().find(|e| e.seq <= at)?;
        (e.seq, e.name.as_str())
    };
    Some(match order {
        Order::UpdatedDesc | Order::UpdatedAsc => Key::Seq(seq),
        Order::NameAsc | Order::NameDesc => Key::Name(name.to_owned(), record.id().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::OnceLock;

    use axum::body::Bytes;
    use serde_json::{Value, json};

    use super::*;
    use crate::query::parse_filter;
    use crate::record::Kind;

    /// A record that counts how often a filter looks at it.
    struct Probe {
        id: String,
        name: String,
        base: String,
        seq: u64,
        earlier: Vec<Earlier>,
        looked: Rc<Cell<usize>>,
        rendered: OnceLock<Bytes>,
    }

    impl Record for Probe {
        fn id(&self) -> &str {
            &self.id
        }
        fn name(&self) -> &str {
            &self.name
        }
        fn org(&self) -> &str {
            "o"
        }
        fn sandbox(&self) -> &str {
            "prod"
        }
        fn seq(&self) -> u64 {
            self.seq
        }
        fn earlier(&self) -> &[Earlier] {
            &self.earlier
        }
        fn earlier_mut(&mut self) -> &mut Vec<Earlier> {
            &mut self.earlier
        }
        fn stamp(&mut self, seq: u64, _now_ms: i64) {
            self.seq = seq;
        }
        fn base_connection_id(&self) -> Option<&str> {
            Some(&self.base)
        }
        fn to_json(&self) -> Value {
            json!({"id": self.id, "name": self.name, "baseConnectionId": self.base, "state": "enabled"})
        }
        fn rendered(&self) -> &Bytes {
            self.rendered.get_or_init(Bytes::new)
        }
        fn property(&self, name: &str) -> Option<Cow<'_, Value>> {
            self.looked.set(self.looked.get() + 1);
            self.to_json().get(name).cloned().map(Cow::Owned)
        }
    }

    const N: usize = 20_000;

    fn collection(looked: &Rc<Cell<usize>>) -> Collection<Probe> {
        let mut c = Collection::default();
        for i in 0..N {
            let seq = c.next_seq();
            c.insert(Probe {
                id: format!("id-{i}"),
                name: format!("name-{i}"),
                base: format!("base-{}", i / 2),
                seq,
                earlier: Vec::new(),
                looked: looked.clone(),
                rendered: OnceLock::new(),
            });
        }
        c
    }

    /// How many records a page and a count with `filters` look at, and what each finds.
    fn cost(c: &Collection<Probe>, looked: &Cell<usize>, filters: &[&str]) -> (usize, usize, usize) {
        let filters: Vec<Filter> = filters
            .iter()
            .map(|f| parse_filter(f, Kind::SourceConnections).unwrap())
            .collect();
        looked.set(0);
        let walk = Walk {
            filters: &filters,
            order: Order::UpdatedDesc,
            snapshot: c.seq(),
            after: None,
            limit: 100,
        };
        let found = c.page("o", "prod", &walk).items.len();
        let counted = c.count("o", "prod", &filters);
        (looked.get(), found, counted)
    }

    #[test]
    fn id_name_and_base_filters_look_only_at_their_matches() {
        let looked = Rc::new(Cell::new(0));
        let c = collection(&looked);
        let ids: Vec<String> = (0..100).map(|i| format!("id-{}", i * 97)).collect();
        let by_id = format!("id=={}", ids.join(","));
        // Each filter is evaluated on each candidate, once for the page and once for the
        // count: the work follows the matches, not the 20,000 records.
        let cases: &[(&[&str], usize)] = &[
            (&[by_id.as_str()], 100),
            (&[by_id.as_str(), "state==enabled"], 100),
            (&["name==name-7,name-8"], 2),
            (&["baseConnectionId==base-3,base-9999"], 4),
            (&["state==enabled", "baseConnectionId==base-3"], 2),
        ];
        for (filters, matches) in cases {
            let (work, found, counted) = cost(&c, &looked, filters);
            assert_eq!((found, counted), (*matches, *matches), "{filters:?}");
            assert!(
                work <= 2 * filters.len() * matches,
                "{filters:?} looked {work} times"
            );
        }
        // Without an indexed filter, a count looks at everything (the probe does count).
        let (work, found, counted) = cost(&c, &looked, &["state==enabled"]);
        assert_eq!((found, counted), (100, N));
        assert!(work >= N, "{work}");
    }
}
