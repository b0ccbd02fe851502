//! What the refresh did, and `-v`'s account of it: which way each group was read, and why,
//! in requests.

use std::collections::BTreeMap;

use crate::flow::limits::PAGE_SIZE;
use crate::kind;
use crate::plan::Group;

/// Why a group was listed in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListedBecause {
    /// Every resource must be seen (`drift`, a refresh-only plan).
    All,
    /// A name to check cannot be put in a `property=name==…` filter.
    Unfilterable,
    /// Counting showed its pages to be fewer than the batches by id would be.
    Cheaper { by_id: u64 },
    /// Its API reads no batch of ids (Data Prep): listing takes fewer requests than a GET
    /// per managed one.
    NoBatches { managed: usize },
}

/// How one group was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Listed in full: `count` resources in `pages` pages, after counting them.
    Listed {
        count: u64,
        pages: u64,
        because: ListedBecause,
    },
    /// The managed resources read by id, `requests` batches of `property=id==…` (and one GET
    /// per id that cannot go in a filter). `listing`: what listing would have taken: at
    /// least this many requests, or, when counted, exactly this many (the count already
    /// spent).
    ByIds {
        ids: usize,
        requests: u64,
        listing: u64,
        counted: Option<u64>,
    },
}

/// What the refresh did for one group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairReport {
    /// `None`: nothing managed there, and no listing needed.
    pub strategy: Option<Strategy>,
    /// Names looked up by filter, and in how many requests.
    pub names: usize,
    pub name_requests: u64,
}

/// What the refresh did, for `-v`.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub groups: BTreeMap<Group, PairReport>,
    /// How many parents' children were read (kinds read by parent).
    pub parents: usize,
    /// Per kind read by parent and sandbox: parents, requests, children seen.
    pub parents_read: BTreeMap<(&'static str, String), (usize, u64, usize)>,
    /// Requests sent, all of them (a batch answered in more than one page included).
    pub requests: u64,
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `-v`: which way each group was read, and why, in requests.
pub(super) fn say(report: &Report) {
    for ((kind_name, sandbox, scope), group) in &report.groups {
        let kind = kind::by_name(kind_name).unwrap_or(kind::default());
        // A base connection's group is its spec, as before other kinds.
        let (place, noun) = if kind.is_default() {
            (
                format!("sandbox {sandbox}, spec {scope}"),
                "connection".to_owned(),
            )
        } else if scope.is_empty() {
            (format!("sandbox {sandbox}, {}s", kind.noun), kind.noun.to_owned())
        } else {
            let scope_name = kind.scope.first().copied().unwrap_or("scope");
            (
                format!("sandbox {sandbox}, {}s of {scope_name} {scope}", kind.noun),
                kind.noun.to_owned(),
            )
        };
        match &group.strategy {
            Some(Strategy::Listed {
                count,
                pages,
                because,
            }) => {
                let why = match because {
                    ListedBecause::All => format!("every {noun} must be seen"),
                    ListedBecause::Unfilterable => {
                        "a name to check has a comma, or a space or quote at an end, and cannot go in a filter".to_owned()
                    }
                    ListedBecause::Cheaper { by_id } => {
                        format!("fewer requests than the {by_id} by id at this --max-url-length")
                    }
                    ListedBecause::NoBatches { managed } => format!(
                        "its API reads no batch of ids: fewer requests than a GET for each of the {managed} managed, its pages by offset sent at once"
                    ),
                };
                if kind.collection.filters() {
                    crate::info!(
                        "refresh: {place}: listed {count} {noun}s, the count and {pages} page{} one after another ({why})",
                        plural(*pages)
                    );
                } else {
                    crate::info!(
                        "refresh: {place}: listed the {noun}s by offset, at least {pages} page{} ({why})",
                        plural(*pages)
                    );
                }
            }
            Some(Strategy::ByIds {
                ids,
                requests,
                listing,
                counted,
            }) => {
                let listing = match counted {
                    None if !kind.collection.filters() => format!(
                        "its API reads no batch of ids, and listing would take at least {listing} (a page per {PAGE_SIZE}, and every {noun} it does not manage)"
                    ),
                    None => format!(
                        "listing would take at least {listing} (the count and a page per {PAGE_SIZE} managed)"
                    ),
                    Some(count) => {
                        format!("listing its {count} {noun}s would take {listing} more after the count")
                    }
                };
                crate::info!(
                    "refresh: {place}: read {ids} managed {noun}{} by id in {requests} request{}, in parallel; {listing}",
                    plural(*ids as u64),
                    plural(*requests)
                );
            }
            None => {}
        }
        if group.names > 0 {
            crate::info!(
                "refresh: {place}: looked up {} name{} to create or rename in {} request{}, in parallel (no listing needed)",
                group.names,
                plural(group.names as u64),
                group.name_requests,
                plural(group.name_requests)
            );
        }
    }
    for ((kind_name, sandbox), (parents, requests, children)) in &report.parents_read {
        let kind = kind::by_name(kind_name).unwrap_or(kind::default());
        let field = match kind.refresh {
            kind::Refresh::ByParent(f) => kind.filter_name(f).unwrap_or_else(|| f.to_owned()),
            kind::Refresh::ById => "id".to_owned(),
        };
        crate::info!(
            "refresh: sandbox {sandbox}: read the {}s of {parents} parent{} by `{field}` in {requests} request{}, in parallel ({children} seen, unmanaged ones included; a page holds the children of several parents)",
            kind.noun,
            plural(*parents as u64),
            plural(*requests)
        );
    }
}
