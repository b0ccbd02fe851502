//! What every state backend shares about opening a state and settling its mutations: how
//! to lock it, what to do when there is none, and the rule that folds a mutation's outcome
//! into the state (the file's journal and PostgreSQL's rows both follow it).

use std::collections::BTreeMap;
use std::time::Duration;

use super::journal::Outcome;
use super::{Pending, State};

/// How to open the state.
#[derive(Clone, Debug)]
pub enum Locking {
    /// Take the lock, waiting up to this long for another holder.
    Wait(Duration),
    /// Do not lock (`--lock=false`; read-only commands).
    None,
}

/// What to do when there is no state yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Refuse ([`StateError::NotInitialized`]): an empty state would plan every connection
    /// as new.
    Refuse,
    /// Start one, and write it at once, so its lineage and salt are durable before anything
    /// is sent to AEP (`flowform init`, and the emulator's own demo state).
    Create,
    /// As `Create`, and a state moved away earlier counts as none: the destination of
    /// `init --migrate-state`, about to be replaced.
    Migrate,
}

/// Makes a mutation whose outcome nobody knows pending in the state, as replaying the
/// journal after a crash would: so that a commit never drops it with the journal.
pub(crate) fn keep_pending(state: &mut State, pending: Pending) {
    let known = state
        .pending
        .iter()
        .any(|p| p.address == pending.address && p.action == pending.action);
    if !known {
        state.pending.push(pending);
        state
            .pending
            .sort_by(|a, b| (&a.address, a.action).cmp(&(&b.address, b.action)));
    }
}

/// Applies what came of mutation `seq` to the state, once it is durable: the rule every
/// backend shares.
pub(crate) fn settle(
    state: &mut State,
    open: &mut BTreeMap<u64, Pending>,
    seq: u64,
    address: &str,
    result: Outcome,
) {
    let intent = open.remove(&seq);
    match result {
        Outcome::Done { record } => {
            match record {
                Some(r) => {
                    state.resources.insert(address.to_owned(), *r);
                }
                None => {
                    state.resources.remove(address);
                }
            }
            state.pending.retain(|p| p.address != address);
            // What began on this address before is settled too.
            open.retain(|s, p| p.address != address || *s > seq);
        }
        Outcome::Failed => {}
        Outcome::Unknown => {
            if let Some(p) = intent {
                keep_pending(state, p);
            }
        }
    }
}
