//! Carrying a plan out against AEP, recording every id and etag the moment flowform has it.
//!
//! The plan becomes a graph of steps ([`steps`]): what a resource refers to is created
//! first, what depends on a resource is deleted first, and a replacement creates the new
//! resource before it deletes the old, along a whole chain. Steps whose dependencies are done
//! run in parallel, up to `--parallelism`; one failing stops only what depends on it, and
//! every success is in the state whatever else fails.
//!
//! Each mutation is journalled before it is sent (an intent) and after (the outcome, with
//! the resource's new record), so a crash at any point loses nothing. No duplicates: a create
//! whose outcome is unknown (a timeout, a 5xx, a dropped answer) is resolved by listing the
//! resources of its kind, sandbox, scope and name created since the intent — one: it is
//! adopted; none: it is safe to create again; several: flowform stops and names them. A
//! PATCH answered 412 (changed meanwhile) is re-read, re-planned and, if still needed,
//! applied again with the new etag.

mod action;
mod adopt;
mod create;
mod delete;
mod error;
pub mod interrupt;
mod names;
pub mod progress;
mod read_back;
pub(crate) mod record;
pub(crate) mod request;
mod saved;
mod schedule;
mod state_only;
pub mod steps;
mod update;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use self::interrupt::{Interrupt, Interrupted};
use self::progress::Progress;
use crate::config::{Desired, Resource};
use crate::flow::Client;
use crate::flow::model::LiveObject;
use crate::plan::{self, Action, Change, Plan};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Pending, Record, Store};
use crate::sync::lock;

pub use self::error::ApplyError;

pub use self::saved::stale;
pub use self::state_only::{accept_live, settle, sync_lifecycle};

/// How long a resource created `initializing` may take to become `enabled`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub parallelism: usize,
    pub wait_timeout: Duration,
    /// Stops the apply part-way (Ctrl-C): see [`interrupt`].
    pub interrupt: Interrupt,
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub imported: usize,
    /// State only: keys moved, resources let go (AEP untouched).
    pub moved: usize,
    pub forgotten: usize,
    pub failures: Vec<Failure>,
    /// What was not done because what it waits for failed.
    pub skipped: Vec<Skipped>,
    /// Things worth saying that are not failures (a 412 resolved, a connection still
    /// initializing).
    pub notes: Vec<String>,
    /// Stopped part-way (Ctrl-C): what was in flight, and what never started.
    pub interrupted: Option<Interrupted>,
}

impl Report {
    /// `Apply complete! Resources: [N imported, ]X added, Y changed, Z destroyed[, M moved][,
    /// F forgotten].`
    pub fn summary_line(&self, verb: &str) -> String {
        let imported = if self.imported > 0 {
            format!("{} imported, ", self.imported)
        } else {
            String::new()
        };
        let mut state_only = String::new();
        if self.moved > 0 {
            state_only.push_str(&format!(", {} moved", self.moved));
        }
        if self.forgotten > 0 {
            state_only.push_str(&format!(", {} forgotten", self.forgotten));
        }
        format!(
            "{verb} complete! Resources: {imported}{} added, {} changed, {} destroyed{state_only}.",
            self.added, self.changed, self.destroyed
        )
    }
}

#[derive(Debug)]
pub struct Failure {
    pub address: String,
    pub error: ApplyError,
}

/// A step not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub address: String,
    /// What it is (`create`, `delete the old …`).
    pub what: String,
    /// The failed step it waited for, directly or not.
    pub because: String,
}

/// What one action did, for the counts.
#[derive(Clone, Copy, Debug, Default)]
struct Done {
    added: usize,
    changed: usize,
    destroyed: usize,
    imported: usize,
    forgotten: usize,
}

struct Ctx {
    store: Mutex<Store>,
    /// The configuration the plan was made from: what a step refers to is resolved in it.
    desired: Arc<Desired>,
    /// The state's salt and this run's scheme: secrets are fingerprinted without the store.
    fingerprints: crate::state::Fingerprints,
    client: Arc<Client>,
    progress: Progress,
    options: ApplyOptions,
    notes: Mutex<Vec<String>>,
    /// Ids already claimed by a resource in this run (never adopted twice).
    claimed: Mutex<BTreeSet<String>>,
    /// The addresses whose step is under way.
    in_flight: Mutex<BTreeSet<String>>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Ctx {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn note(&self, text: String) {
        self.progress.line(&text);
        lock(&self.notes).push(text);
    }

    /// The resource a planned change acts on, as AEP has it now.
    async fn read(
        &self,
        kind: &crate::kind::Kind,
        sandbox: &str,
        id: &str,
    ) -> Result<LiveObject, ApplyError> {
        match self.client.get(kind.collection, sandbox, id).await? {
            Some(live) => Ok(live),
            None => Err(ApplyError::Gone {
                id: id.to_owned(),
                when: "is gone from AEP since the plan",
            }),
        }
    }

    /// Journals a state-only change (adopt, forget, a final etag) at once.
    fn record(&self, address: &str, record: Option<Record>) -> Result<(), ApplyError> {
        Ok(self.store().record(address, record)?)
    }

    /// Journals what came of mutation `seq`, durable when this returns: the flush is waited
    /// for without holding the store, so that concurrent outcomes are flushed together.
    async fn finish(
        &self,
        seq: u64,
        address: &str,
        result: Outcome,
    ) -> Result<(), crate::state::file::StateError> {
        let durable = self.store().finish_deferred(seq, address, result)?;
        durable.wait_async().await
    }

    /// Journals, durably, that a create or an update of `d` is about to be sent; `scope`:
    /// the values of its kind's scope fields as sent (what finds what a create made).
    async fn begin(
        &self,
        action: Mutation,
        address: &str,
        d: &Resource,
        scope: Vec<String>,
        started_at: i64,
    ) -> Result<u64, ApplyError> {
        // Fingerprinted before the store is taken; the flush waited for after it is let go.
        let pending = Pending {
            address: address.to_owned(),
            action,
            sandbox: d.sandbox.clone(),
            name: d.name().to_owned(),
            scope,
            started_at,
            fingerprint: plan::fingerprint_with(d, &self.fingerprints),
        };
        let (seq, durable) = self.store().begin_deferred(pending)?;
        durable.wait_async().await?;
        Ok(seq)
    }

    /// The declared resource at `address`.
    fn declared(&self, address: &str) -> Option<&Resource> {
        self.desired.resources.get(address)
    }
}

/// The id of the resource a change acts on. A change that lacks it (a saved plan edited by
/// hand, a bug) is an error, never a request: `DELETE /connections/` would read its 404 as
/// "already gone" and drop the record.
fn required_id(change: &Change) -> Result<String, ApplyError> {
    let verb = change.action.verb();
    match change.id.as_deref() {
        Some(id) if is_connection_id(id) => Ok(id.to_owned()),
        Some(id) => Err(ApplyError::BadId {
            id: id.to_owned(),
            verb,
        }),
        None => Err(ApplyError::MissingId { verb }),
    }
}

/// Whether `id` can be a resource id (AEP's are UUIDs): never empty, and nothing that would
/// change the path it is put in.
pub fn is_connection_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Carries out `plan`'s actions. `desired` must be the configuration the plan was made from.
pub async fn apply(
    plan: &Plan,
    desired: &Desired,
    mut store: Store,
    client: Arc<Client>,
    options: ApplyOptions,
) -> (Store, Report) {
    // Moves first, in one atomic write of the state, before anything is sent: every action
    // below addresses the resources by their new keys. A crash leaves the state before or
    // after every move, never between.
    let moved = match move_keys(plan, &mut store) {
        Ok(moved) => moved,
        Err(failures) => {
            let report = Report {
                failures,
                ..Report::default()
            };
            return (store, report);
        }
    };
    let actions: Vec<Change> = plan.actions().cloned().collect();
    let progress = Progress::new(actions.len());
    let claimed = store.state().resources.values().map(|r| r.id.clone()).collect();
    let fingerprints = store.state().fingerprints();
    let state = store.state().clone();
    let ctx = Arc::new(Ctx {
        fingerprints,
        store: Mutex::new(store),
        desired: Arc::new(desired.clone()),
        client,
        progress: progress.clone(),
        options: options.clone(),
        notes: Mutex::new(Vec::new()),
        claimed: Mutex::new(claimed),
        in_flight: Mutex::new(BTreeSet::new()),
    });
    let created: Vec<String> = actions
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| c.address.clone())
        .collect();
    let named: Vec<String> = actions
        .iter()
        .filter(|c| c.action == Action::Update && c.fields.iter().any(|f| f.path == "name"))
        .map(|c| c.address.clone())
        .chain(created.iter().cloned())
        .collect();
    let changed: Vec<String> = actions
        .iter()
        .filter(|c| matches!(c.action, Action::Update | Action::Adopt))
        .map(|c| c.address.clone())
        .collect();
    let mut report = Report {
        moved,
        ..Report::default()
    };
    // The names to create are checked again now, however long ago the plan was made: a
    // name AEP gave meanwhile to a resource this state does not manage is not created twice.
    let (taken, unchecked): (BTreeMap<String, LiveObject>, BTreeSet<String>) =
        match names::taken_names(plan, desired, &state, &ctx.client).await {
            Ok(taken) => (taken.into_iter().collect(), BTreeSet::new()),
            Err(source) => {
                for address in &named {
                    report.failures.push(Failure {
                        address: address.clone(),
                        error: ApplyError::NameUnchecked {
                            reason: source.to_string(),
                        },
                    });
                }
                (BTreeMap::new(), named.iter().cloned().collect())
            }
        };
    // The fingerprints of the secrets about to be sent (each create's and update's intent
    // and record), computed ahead over the cores, each distinct one once.
    let sent: Vec<crate::config::SplitParams<'_>> = actions
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                Action::Delete | Action::Forget | Action::StateOnly | Action::NoOp
            )
        })
        .filter_map(|c| desired.resources.get(&c.address))
        .map(Resource::split_params)
        .filter(|split| split.all_resolved() && !split.secret_names.is_empty())
        .collect();
    ctx.fingerprints.prepare(sent.iter().map(|split| &split.secrets));
    drop(sent);
    // What will not be sent at all: a name taken, or not checked.
    let mut refused: BTreeMap<String, ApplyError> = BTreeMap::new();
    for change in &actions {
        if unchecked.contains(&change.address) {
            refused.insert(change.address.clone(), ApplyError::Refused);
        } else if let Some(live) = taken.get(&change.address) {
            let key = if change.kind().is_default() {
                change.key.clone()
            } else {
                format!("{}:{}", change.kind().name, change.key)
            };
            report.failures.push(Failure {
                address: change.address.clone(),
                error: ApplyError::NameTaken {
                    name: live.name.clone(),
                    id: live.id.clone(),
                    key,
                    noun: change.kind().noun,
                },
            });
            refused.insert(change.address.clone(), ApplyError::Refused);
        }
    }
    let steps = steps::graph(actions, &state);
    let outcome = schedule::run(&ctx, steps, &refused, &options).await;
    report.added += outcome.done.added;
    report.changed += outcome.done.changed;
    report.destroyed += outcome.done.destroyed;
    report.imported += outcome.done.imported;
    report.forgotten += outcome.done.forgotten;
    report.failures.extend(outcome.failures);
    report.skipped = outcome.skipped;
    if let Some(interrupted) = outcome.interrupted {
        // Interrupted: no more requests (the next plan reads back what this one did).
        report.interrupted = Some(interrupted);
    } else {
        read_back::read_back(&ctx, &changed).await;
        report
            .failures
            .extend(read_back::check_created(&ctx, &created).await);
    }
    progress.finish();
    report.failures.sort_by(|a, b| a.address.cmp(&b.address));
    // Interrupted mutations of resources no longer declared: said at plan time, now let go.
    let declared: BTreeSet<String> = desired.resources.keys().cloned().collect();
    let ctx = match Arc::try_unwrap(ctx) {
        Ok(ctx) => ctx,
        Err(_) => unreachable!("every task has finished"),
    };
    report.notes = crate::sync::into_inner(ctx.notes);
    let mut store = crate::sync::into_inner(ctx.store);
    if report.failures.is_empty() && report.skipped.is_empty() {
        let _ = store.edit(|s| s.pending.retain(|p| declared.contains(&p.address)));
    }
    (store, report)
}

/// Makes the plan's moves in the state and writes it at once. Returns how many, or why none
/// could be made (then nothing else is done: every action addresses the new keys).
fn move_keys(plan: &Plan, store: &mut Store) -> Result<usize, Vec<Failure>> {
    if plan.moves.is_empty() {
        return Ok(0);
    }
    let failed = |reason: String| -> Vec<Failure> {
        plan.moves
            .iter()
            .map(|m| Failure {
                address: m.to.clone(),
                error: ApplyError::NotMoved {
                    from: m.from.clone(),
                    reason: reason.clone(),
                },
            })
            .collect()
    };
    // What the plan saw must still hold: the record under the old key, the new key free.
    for m in &plan.moves {
        let state = store.state();
        let held = state.resources.get(&m.from).is_some_and(|r| r.id == m.id);
        if !held || state.resources.contains_key(&m.to) {
            return Err(failed(format!(
                "the state no longer holds {} as `{}` with `{}` free; plan again",
                m.id, m.from, m.to
            )));
        }
    }
    let written = store
        .edit(|state| {
            for m in &plan.moves {
                plan::rekey(state, m);
            }
        })
        .and_then(|()| store.commit());
    match written {
        Ok(_) => {
            for m in &plan.moves {
                crate::info!("{}: moved to {} (state only)", m.from, m.to);
            }
            Ok(plan.moves.len())
        }
        Err(e) => Err(failed(e.to_string())),
    }
}

/// Carries out one step.
async fn run(ctx: &Ctx, step: &steps::Step) -> Result<Done, ApplyError> {
    let change = &step.change;
    let need = || {
        ctx.declared(&change.address)
            .ok_or_else(|| ApplyError::NotDeclared {
                address: change.address.clone(),
            })
    };
    match (step.work, change.action) {
        (steps::Work::ReplaceCreate, _) => {
            delete::depose(ctx, change)?;
            create::create(ctx, &change.address, need()?).await?;
            Ok(Done {
                added: 1,
                ..Done::default()
            })
        }
        (steps::Work::ReplaceDelete, _) => delete::delete_deposed(ctx, change).await,
        (_, Action::Create) => {
            create::create(ctx, &change.address, need()?).await?;
            Ok(Done {
                added: 1,
                ..Done::default()
            })
        }
        (_, Action::Update) => {
            update::update(ctx, change, need()?).await?;
            Ok(Done {
                changed: 1,
                ..Done::default()
            })
        }
        (_, Action::Replace) => Ok(Done::default()),
        (_, Action::Delete) => {
            let id = required_id(change)?;
            delete::delete(ctx, &change.address, change.kind(), &change.sandbox, &id).await?;
            Ok(Done {
                destroyed: 1,
                ..Done::default()
            })
        }
        (_, Action::Adopt) => adopt::adopt(ctx, change, need()?).await,
        (_, Action::Forget) => {
            ctx.record(&change.address, None)?;
            let why = if change.reason == Some(plan::Reason::ForgetBecauseRemoved) {
                "no longer managed; AEP keeps it"
            } else if change.reason == Some(plan::Reason::ForgetBecauseUndeletable) {
                "no longer managed; AEP has no DELETE for it and keeps it"
            } else {
                "it was deleted outside flowform"
            };
            ctx.progress
                .line(format!("{}: forgotten ({why})", change.address));
            Ok(Done {
                forgotten: 1,
                ..Done::default()
            })
        }
        (_, Action::StateOnly) => {
            state_only::record_change(ctx, change)?;
            Ok(Done::default())
        }
        (_, Action::NoOp) => Ok(Done::default()),
    }
}
