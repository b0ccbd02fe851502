//! The plan: what flowform would do to bring AEP in line with the configuration.
//!
//! [`plan`] is a pure function of the desired resources, the recorded state, what AEP
//! showed (`Live`, from the refresh) and the options. No IO, no clock, no environment: the
//! same inputs give the same [`Plan`], which is why `plan`, `plan --out`, `show` and
//! `apply` agree, and why it is tested with plain tables of cases.
//!
//! Each resource is planned by its kind's declaration ([`diff`], [`compare`]); then the
//! graph: a resource replaced gives its dependents that cannot follow it in place a
//! replacement of their own ([`cascade`]), each with its cause. Each difference says where it
//! came from: the configuration changed (`Origin::Config`), or AEP changed outside flowform
//! (`Origin::Outside`, also listed as drift), as Terraform's "Objects have changed outside
//! of Terraform" keeps the two apart.
//!
//! What AEP showed is held in [`live`], what a plan lists is declared in [`change`], and the
//! digests that tie a saved plan and the journal to the configuration are made in
//! [`digest`].

mod adopt;
mod cascade;
pub mod chain;
mod change;
mod compare;
mod diff;
mod digest;
mod drift;
#[cfg(test)]
pub(crate) mod fixtures;
mod live;
mod managed;
mod moved;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::config::Desired;
use crate::kind::{self, Kind};
use crate::state::{Action as Mutation, State};

/// The version of the saved-plan and JSON format. 1.1: an error is `{message, help}`. 1.2:
/// state-only changes (`state-only`: protect), replaces asked for (`--replace`), params a
/// replace drops (`removed`), who last changed a drifted connection; `moves` (state-only
/// renames), the `forget_because_removed` reason, and the summary's `move`, `forget` and
/// `state_only` counts. 1.3: kinds (addresses `sandbox/kind:key`), a change's `depends_on`
/// and `cause` (a replacement it follows), fields `unknown` until applied, the
/// `replace_because_dependency_replaced` reason.
pub const FORMAT_VERSION: &str = "1.3";

/// Saved-plan formats this flowform still reads: each newer one only adds fields that an
/// older plan reads as absent.
const READABLE_VERSIONS: &[&str] = &["1.1", "1.2", FORMAT_VERSION];

pub use self::change::{Action, Change, Drift, DriftKind, Field, Origin, Reason};
use self::digest::prepare_fingerprints;
pub use self::digest::{config_digest, fingerprint, fingerprint_with};
pub use self::live::{Group, Interrupted, Live, Presence, interrupted_create, scope_of, scopes_of};
pub use self::moved::{Move, by_target as moves_by_target, rekey};

/// What kind of plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Normal,
    /// Delete everything managed (`flowform destroy`).
    Destroy,
    /// Change nothing in AEP; take what AEP has as the new state (`apply --refresh-only`).
    RefreshOnly,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Limit the plan to these keys (or addresses), and what they depend on; all when empty.
    pub targets: BTreeSet<String>,
    /// Limit the plan to these addresses (`-c` narrowing to some of the project's files);
    /// all when `None`.
    pub scope: Option<BTreeSet<String>>,
    pub mode: Mode,
    /// Salts the secrets in the configuration digest (drawn at random by the caller: the
    /// planner itself uses no randomness).
    pub digest_salt: String,
    /// Replace these managed resources (keys or addresses) even if nothing forces it
    /// (`plan --replace KEY`, Terraform's `-replace`).
    pub replace: BTreeSet<String>,
    /// Skip the configuration digest: the plan is neither saved nor rendered as JSON (it
    /// costs a tenth of a large plan's CPU).
    pub without_digest: bool,
}

/// The inputs a plan was made from (not part of the planning: filled by the command).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrigin {
    /// The `-c` inputs, as given.
    pub config: Vec<std::path::PathBuf>,
    /// The state file.
    pub state: Option<std::path::PathBuf>,
    /// Made against the in-process emulator.
    pub emulator: bool,
}

/// A plan: serializable (saved plans, `--format json`), secret-free.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub mode: Mode,
    /// The state the plan was made against: a saved plan applies only to it.
    pub lineage: String,
    pub serial: u64,
    /// A digest of the resolved configuration (secrets by digest under `digest_salt`).
    pub config_digest: String,
    /// A random salt drawn for this plan.
    #[serde(default)]
    pub digest_salt: String,
    /// How the plan was made, so `apply FILE` can find the same configuration and state.
    #[serde(default)]
    pub origin: PlanOrigin,
    pub refreshed: bool,
    /// Every managed or declared resource in scope, by address, no-ops included.
    pub changes: Vec<Change>,
    /// Keys the state gives another key (`moved:`), made before anything else; state only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// Differences between AEP and the state made outside flowform.
    pub drift: Vec<Drift>,
    pub warnings: Vec<String>,
    /// Why the plan cannot be applied (a protected resource to delete, …).
    pub errors: Vec<Problem>,
    /// What only AEP knows that the plan learnt and shows (a target connection's schema, a
    /// dataflow's flow spec id): `apply FILE` takes it as reviewed, not asked again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<Learnt>,
}

/// A value the plan learnt from AEP for a field the configuration leaves to it
/// ([`crate::kind::Default::Live`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Learnt {
    pub address: String,
    pub path: String,
    pub value: serde_json::Value,
}

/// Why a plan cannot be applied, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// Whether the message or the help says `text`.
    #[cfg(test)]
    pub fn says(&self, text: &str) -> bool {
        self.message.contains(text) || self.help.as_deref().is_some_and(|h| h.contains(text))
    }
}

/// Counts in Terraform's summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// State-only: keys moved (`moved:`).
    #[serde(default, rename = "move")]
    pub moved: usize,
    /// State-only: resources let go, kept in AEP (`removed:`, or deleted outside).
    #[serde(default)]
    pub forget: usize,
    /// Resources whose change is to the state alone.
    #[serde(default)]
    pub state_only: usize,
}

impl Plan {
    /// Reads a saved plan's bytes (`plan --out`): the format and its version checked. A
    /// saved plan is input like any other file: it may be damaged or hand-edited.
    pub fn from_saved(bytes: &[u8]) -> Result<Plan, String> {
        let plan: Plan =
            serde_json::from_slice(bytes).map_err(|e| format!("it is not a flowform saved plan: {e}"))?;
        if !READABLE_VERSIONS.contains(&plan.format_version.as_str()) {
            return Err(format!(
                "it is saved-plan format {}; this flowform reads {}",
                plan.format_version,
                READABLE_VERSIONS.join(", ")
            ));
        }
        Ok(plan)
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::Adopt => {
                    s.import += 1;
                    if c.then_update {
                        s.change += 1;
                    }
                }
                Action::Forget => s.forget += 1,
                Action::StateOnly => s.state_only += 1,
                Action::NoOp => {}
            }
        }
        s.moved = self.moves.len();
        s
    }

    /// Whether applying would change anything (in AEP or the state).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::is_change)
            || !self.moves.is_empty()
            || (self.mode == Mode::RefreshOnly && !self.drift.is_empty())
    }

    /// Changes that do something, in address order.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_change())
    }
}

/// The addresses `targets` name (keys, `kind:key`, addresses) and everything they depend on
/// through declared references, as Terraform's `-target` pulls in dependencies.
fn targeted(desired: &Desired, state: &State, targets: &BTreeSet<String>) -> BTreeSet<String> {
    let mut wanted: Vec<String> = Vec::new();
    for t in targets {
        let key = kind::KeyRef::parse(t).ok();
        for address in desired.resources.keys().chain(state.resources.keys()) {
            if address == t || key.as_ref().is_some_and(|k| k.names_address(address)) {
                wanted.push(address.clone());
            }
        }
    }
    let mut out = BTreeSet::new();
    while let Some(address) = wanted.pop() {
        if !out.insert(address.clone()) {
            continue;
        }
        if let Some(r) = desired.resources.get(&address) {
            wanted.extend(cascade::references(r));
        }
    }
    out
}

/// Where a kind stands among the kinds, in dependency order.
fn kind_order(kind: &Kind) -> usize {
    kind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

/// Plans. Pure: see the module documentation.
pub fn plan(desired: &Desired, state: &State, live: &Live, options: &Options) -> Plan {
    let mut out = Plan {
        format_version: FORMAT_VERSION.to_owned(),
        mode: options.mode,
        lineage: state.lineage.clone(),
        serial: state.serial,
        config_digest: if options.without_digest {
            String::new()
        } else {
            config_digest(desired, &options.digest_salt, &state.digester)
        },
        digest_salt: options.digest_salt.clone(),
        origin: PlanOrigin::default(),
        refreshed: live.refreshed,
        changes: Vec::new(),
        moves: Vec::new(),
        drift: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
        learned: Vec::new(),
    };
    let targets = (!options.targets.is_empty()).then(|| targeted(desired, state, &options.targets));
    let in_scope = |address: &str, _key: &str| {
        targets.as_ref().is_none_or(|t| t.contains(address))
            && options.scope.as_ref().is_none_or(|scope| scope.contains(address))
    };
    // Moves first: the rest is planned against the state as the moves leave it.
    let view;
    let mut held = BTreeSet::new();
    let state = if options.mode == Mode::Normal && !desired.moved.is_empty() {
        let resolved = moved::resolve(desired, state, in_scope);
        out.errors.extend(resolved.problems);
        held = resolved.held;
        view = moved::view(state, &resolved.moves);
        out.moves = resolved.moves;
        &view
    } else {
        state
    };
    prepare_fingerprints(desired, state);
    // What the `import:` blocks take with them: the declared resources they refer to that
    // nothing manages yet, at the ids AEP shows.
    let chain = match options.mode {
        Mode::Normal => chain::of_imports(desired, state, live),
        Mode::Destroy | Mode::RefreshOnly => chain::Chain::default(),
    };
    out.errors.extend(chain.problems.iter().cloned());
    let holders: std::collections::HashMap<&str, &str> = state
        .resources
        .iter()
        .map(|(a, r)| (r.id.as_str(), a.as_str()))
        .collect();
    let removals = moved::removals(desired, state);
    let mut addresses: BTreeSet<&String> = desired.resources.keys().collect();
    addresses.extend(state.resources.keys());
    addresses.extend(state.pending.iter().map(|p| &p.address));
    // Keys and addresses `--replace` may name.
    let mut replaceable: BTreeSet<&str> = BTreeSet::new();
    // Resources outside `--target` that a targeted replacement pulls in: AEP cannot point
    // them at the new one, so they are replaced with it (else the old one stays deposed).
    let mut pulled: BTreeSet<&String> = BTreeSet::new();
    let mut queue: Vec<&String> = addresses.iter().copied().collect();
    while !queue.is_empty() {
        for address in queue.drain(..) {
            let d = desired.resources.get(address);
            let r = state.resources.get(address);
            let key = d
                .map(|c| c.key.as_str())
                .or(r.map(|r| r.key.as_str()))
                .or_else(|| kind::Address::parse(address).map(|a| a.key))
                .unwrap_or(address.as_str());
            // A resource whose move cannot be made is kept as it is, never planned away.
            if !(in_scope(address, key) || pulled.contains(address)) || held.contains(address.as_str()) {
                continue;
            }
            if options.mode == Mode::Normal && d.is_some() && r.is_some() {
                replaceable.insert(address.as_str());
                replaceable.insert(key);
            }
            let replace = options.replace.contains(address.as_str())
                || options.replace.contains(key)
                || options.replace.iter().any(|w| {
                    kind::KeyRef::parse(w).is_ok_and(|k| k.kind.is_some() && k.names_address(address))
                });
            let mut ctx = diff::Context {
                desired,
                state,
                live,
                plan: &mut out,
                replace,
                holders: &holders,
                chained: &chain.links,
            };
            if let Some(r) = r {
                ctx.drift(address, r, d);
            }
            // Let go, not deleted, whatever the mode: AEP keeps it.
            if let (Some(r), None, Some(removed)) = (r, d, removals.get(address.as_str()))
                && options.mode != Mode::RefreshOnly
            {
                out.changes.push(moved::forget(address, r, removed));
                continue;
            }
            match options.mode {
                Mode::RefreshOnly => {}
                Mode::Destroy => {
                    if let Some(r) = r {
                        ctx.destroy(address, r, d, Reason::DeleteBecauseDestroy);
                    }
                }
                Mode::Normal => match (d, r) {
                    (Some(d), None) => {
                        let pending = state
                            .pending
                            .iter()
                            .find(|p| p.address == *address && p.action == Mutation::Create);
                        ctx.declared_unmanaged(address, d, pending);
                    }
                    (Some(d), Some(r)) => ctx.managed(address, d, r),
                    (None, Some(r)) => ctx.destroy(address, r, None, Reason::DeleteBecauseNoResourceConfig),
                    (None, None) => ctx.orphaned_pending(address),
                },
            }
        }
        if targets.is_some() && options.mode == Mode::Normal {
            // Replaced, or pulled in to be replaced with what it refers to (down the chain).
            let renewed: BTreeSet<&str> = out
                .changes
                .iter()
                .filter(|c| c.action == Action::Replace)
                .map(|c| c.address.as_str())
                .chain(pulled.iter().map(|a| a.as_str()))
                .collect();
            for (address, d) in &desired.resources {
                let planned = in_scope(address, &d.key) || pulled.contains(address);
                if !planned
                    && state.resources.contains_key(address)
                    && cascade::references(d)
                        .iter()
                        .any(|a| renewed.contains(a.as_str()))
                {
                    pulled.insert(address);
                    queue.push(address);
                }
            }
        }
    }
    for wanted in &options.replace {
        let named = replaceable.contains(wanted.as_str())
            || kind::KeyRef::parse(wanted)
                .is_ok_and(|k| replaceable.iter().any(|a| k.kind.is_some() && k.names_address(a)));
        if !named {
            out.errors.push(
                Problem::new(format!(
                    "--replace `{wanted}` names no resource that is both declared and managed"
                ))
                .with_help("name a key from `flowform state list` that the configuration still declares"),
            );
        }
    }
    // A replacement of what AEP cannot delete (a Data Prep mapping set) would leave the old
    // one beside the new, under the same name: refused. It changes in place anyway.
    for c in out
        .changes
        .iter()
        .filter(|c| c.action == Action::Replace && !c.kind().collection.deletes())
    {
        out.errors.push(
            Problem::new(format!(
                "`{}` cannot be replaced: AEP has no DELETE for a {}, so the old one would stay beside the new one, under the same name",
                c.address,
                c.kind().noun
            ))
            .with_help(format!(
                "a {} changes in place (each change is a new version of it): change it instead; for a new one, declare it under another key and name that one from the dataflows",
                c.kind().noun
            )),
        );
    }
    if options.mode == Mode::Normal {
        cascade::literal_ids_of_managed(desired, state, &mut out);
        cascade::cascade(desired, state, &mut out);
        cascade::follow_versions(desired, state, &mut out);
    }
    // In dependency order: a kind refers only to the kinds before it; deletes (all of a
    // destroy) last, in the order they are carried out, what refers to others first.
    let order = |c: &Change| match c.action {
        Action::Delete => (1, usize::MAX - kind_order(c.kind())),
        _ => (0, kind_order(c.kind())),
    };
    out.changes
        .sort_by(|a, b| (order(a), &a.address).cmp(&(order(b), &b.address)));
    cascade::warn_unmanaged_dependents(state, live, &mut out);
    out.drift.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

pub use self::adopt::{differing, not_as_declared};
pub use self::cascade::references;
pub use self::compare::ignored;
pub use self::drift::{unapplied, unmanaged};
