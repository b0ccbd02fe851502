//! Moves and removals (`moved:` and `removed:`) as the plan sees them: state-only actions.
//!
//! A move gives the connection the state holds under one key another key: the plan is made
//! against the state as it will be after the moves (so the moved connection is compared under
//! its new key, and a rename that also changes its name is an update), and the apply makes
//! the moves first, in one atomic write of the state, before anything is sent to AEP. A
//! removal drops a connection from the state and leaves it in AEP. Neither calls AEP.
//!
//! The configuration checked what it alone can tell (`config::moved`); here is what the state
//! decides: a move whose target the state already holds, two keys of one chain both held.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Action, Change, Field, Problem, Reason};
use crate::config::moved::{KeyRef, Moved, Removed};
use crate::config::{Desired, Resource};
use crate::state::{Record, State};

/// One move: the connection `id` the state holds at address `from` is held at `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub id: String,
    /// The `moved:` entry that asks for it (`file:line:column`), for the reader.
    pub origin: String,
}

/// The records a key reference names, by address (of `kind` only, when given).
fn held<'s>(
    state: &'s State,
    key: &KeyRef,
    kind: Option<&crate::kind::Kind>,
) -> Vec<(&'s String, &'s Record)> {
    state
        .resources
        .iter()
        .filter(|(a, r)| {
            !a.ends_with("#deposed")
                && key.names(r.kind, &r.sandbox, &r.key)
                && kind.is_none_or(|k| k == r.kind)
        })
        .collect()
}

/// What the moves come to.
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub moves: Vec<Move>,
    pub problems: Vec<Problem>,
    /// The old keys of moves that cannot be made: their connections are neither moved nor
    /// planned as deleted (the configuration meant to keep them).
    pub held: BTreeSet<String>,
}

/// The moves the configuration asks for that the state still needs, each chain followed to
/// its declared end; and what stops one. `in_scope` limits them to the plan's reach.
pub(super) fn resolve(desired: &Desired, state: &State, in_scope: impl Fn(&str, &str) -> bool) -> Resolved {
    let mut moves = Vec::new();
    let mut problems = Vec::new();
    let mut held_back = BTreeSet::new();
    let mut into: BTreeMap<&str, Vec<&Moved>> = BTreeMap::new();
    for m in &desired.moved {
        into.entry(m.to.key.as_str()).or_default().push(m);
    }
    // Each chain ends at a declared resource; walk back from there.
    for end in desired.resources.values() {
        if !into.contains_key(end.key.as_str()) {
            continue;
        }
        // The moves into it that may name it (a move `to` of another kind does not).
        if !into[end.key.as_str()]
            .iter()
            .any(|m| m.to.names(end.kind, &end.sandbox, &end.key))
        {
            continue;
        }
        let to = end.address();
        if !in_scope(&to, &end.key) {
            continue;
        }
        let chain = chain_into(end, &into);
        let mut found: Vec<(&String, &Record, &Moved)> = Vec::new();
        for m in &chain {
            for (a, r) in held(state, &m.from, Some(end.kind)) {
                found.push((a, r, m));
            }
        }
        let Some((from, record, m)) = found.first().copied() else {
            continue;
        };
        held_back.extend(found.iter().map(|(a, ..)| (*a).clone()));
        if found.len() > 1 {
            let held: Vec<String> = found
                .iter()
                .map(|(a, r, _)| format!("`{a}` ({})", r.id))
                .collect();
            problems.push(
                Problem::new(format!(
                    "the moves into `{to}` would bring {} connections there: the state holds {}",
                    found.len(),
                    held.join(" and ")
                ))
                .with_help(
                    "one key holds one resource: keep the move of the one `{to}` should be, and stop managing the others with `removed: [{key: …, destroy: false}]`"
                        .replace("{to}", &to),
                ),
            );
            continue;
        }
        if let Some(other) = state.resources.get(&to) {
            problems.push(
                Problem::new(format!(
                    "`{from}` ({}) is moved to `{to}` (at {}), but the state already holds `{to}` ({})",
                    record.id, m.origin, other.id
                ))
                .with_help(format!(
                    "if `{to}` is the connection to keep, drop the `moved` entry and stop managing `{from}` with `removed: [{{key: {}, destroy: false}}]`; if `{from}` is, remove `{to}` from management first",
                    crate::generate::emit::key(&record.key)
                )),
            );
            continue;
        }
        if record.sandbox != end.sandbox {
            problems.push(
                Problem::new(format!(
                    "`{from}` is moved to `{}` (at {}), which is declared in sandbox `{}`: a move cannot change a connection's sandbox",
                    end.key, m.origin, end.sandbox
                ))
                .with_help("a connection in another sandbox is another connection: declare it there and let flowform create it"),
            );
            continue;
        }
        held_back.remove(from);
        moves.push(Move {
            from: from.clone(),
            to,
            id: record.id.clone(),
            origin: m.origin.to_string(),
        });
    }
    moves.sort_by(|a, b| a.to.cmp(&b.to));
    Resolved {
        moves,
        problems,
        held: held_back,
    }
}

/// The entries of the chain that ends at `end`, nearest first (bounded: the configuration
/// refused circles, and each key is visited once).
fn chain_into<'d>(end: &Resource, into: &BTreeMap<&str, Vec<&'d Moved>>) -> Vec<&'d Moved> {
    let mut chain = Vec::new();
    let mut seen = BTreeSet::new();
    let mut frontier = vec![end.key.as_str()];
    while let Some(key) = frontier.pop() {
        if !seen.insert(key) {
            continue;
        }
        for m in into.get(key).into_iter().flatten() {
            chain.push(*m);
            frontier.push(m.from.key.as_str());
        }
    }
    chain
}

/// Makes one move in `state`: the record, and an interrupted mutation left at its address.
pub fn rekey(state: &mut State, m: &Move) {
    let Some(mut record) = state.resources.remove(&m.from) else {
        return;
    };
    record.key = crate::kind::Address::parse(&m.to)
        .map_or(m.to.as_str(), |a| a.key)
        .to_owned();
    state.resources.insert(m.to.clone(), record);
    for p in state.pending.iter_mut().filter(|p| p.address == m.from) {
        p.address = m.to.clone();
    }
}

/// The state as it will be after `moves`: what the rest of the plan is made against.
pub(super) fn view(state: &State, moves: &[Move]) -> State {
    let mut view = state.clone();
    for m in moves {
        rekey(&mut view, m);
    }
    view
}

/// The removals the configuration asks for, by the address of the record each names.
pub(super) fn removals<'d>(desired: &'d Desired, state: &State) -> BTreeMap<String, &'d Removed> {
    let mut out = BTreeMap::new();
    for removed in &desired.removed {
        for (address, _) in held(state, &removed.key, None) {
            out.insert(address.clone(), removed);
        }
    }
    out
}

/// The change that lets a managed resource go: dropped from the state, kept in AEP.
pub(super) fn forget(address: &str, r: &Record, removed: &Removed) -> Change {
    let mut change = Change::bare(address, &r.key, &r.sandbox, Action::Forget, &r.name);
    change.reason = Some(Reason::ForgetBecauseRemoved);
    change.id = Some(r.id.clone());
    change.fields = vec![Field::new(
        "name",
        Some(serde_json::Value::String(r.name.clone())),
        None,
    )];
    change.notes = vec![format!(
        "`removed` at {}: AEP keeps the {}; only the state forgets it (nothing is sent)",
        removed.origin, r.kind.noun
    )];
    change
}

/// Moves by where they go, for renders.
pub fn by_target(moves: &[Move]) -> BTreeMap<&str, &Move> {
    moves.iter().map(|m| (m.to.as_str(), m)).collect()
}
