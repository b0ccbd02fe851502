//! Carrying a plan out against AEP, recording every id and etag the moment flowform has it.
//!
//! Each mutation is journalled before it is sent (an intent) and after (the outcome, with
//! the connection's new record), so a crash at any point loses nothing. Independent actions
//! run in parallel, up to `--parallelism`; one failing does not stop the others, and every
//! success is in the state whatever else fails.
//!
//! No duplicates: a create whose outcome is unknown (a timeout, a 5xx, a dropped answer) is
//! resolved by listing the sandbox's connections of that name and spec created since the
//! intent — one: it is adopted; none: it is safe to create again; several: flowform stops and
//! names them. A PATCH answered 412 (changed meanwhile) is re-read, re-planned and, if still
//! needed, applied again with the new etag.

mod adopt;
mod create;
mod delete;
mod error;
pub mod interrupt;
mod names;
pub mod progress;
pub(crate) mod record;
mod request;
mod saved;
mod state_only;
mod update;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::interrupt::{GRACE, Interrupt, Interrupted};
use self::progress::Progress;
use crate::config::{Connection, Desired};
use crate::flow::model::LiveConnection;
use crate::flow::{Client, Filter, FlowError};
use crate::plan::{self, Action, Change, Plan};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Pending, Record, Store, address};
use crate::sync::lock;

pub use self::adopt::adopted_record;
pub use self::error::ApplyError;

pub use self::saved::stale;
pub use self::state_only::{accept_live, settle, sync_lifecycle};

/// How long a connection created `initializing` may take to become `enabled`.
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
    /// State only: keys moved, connections let go (AEP untouched).
    pub moved: usize,
    pub forgotten: usize,
    pub failures: Vec<Failure>,
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
    /// The state's salt and this run's scheme: secrets are fingerprinted without the store.
    fingerprints: crate::state::Fingerprints,
    client: Arc<Client>,
    progress: Progress,
    options: ApplyOptions,
    notes: Mutex<Vec<String>>,
    /// Ids already claimed by a connection in this run (never adopted twice).
    claimed: Mutex<BTreeSet<String>>,
    /// The addresses whose action is under way.
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

    /// The connection a planned change acts on, as AEP has it now.
    async fn read(&self, sandbox: &str, id: &str) -> Result<LiveConnection, ApplyError> {
        match self.client.get_connection(sandbox, id).await? {
            Some(live) => Ok(live),
            None => Err(ApplyError::Gone {
                id: id.to_owned(),
                when: "is gone from AEP since the plan",
            }),
        }
    }

    /// Records what AEP said of connections flowform just created or changed (their state
    /// and timestamps), each whose etag is still the one flowform recorded: journalled
    /// together, with one flush. A failure to record them is a note (the next plan reads
    /// them anyway).
    async fn record_read_back(&self, read: &[(&str, &LiveConnection)]) {
        let written = {
            let mut store = self.store();
            let records: Vec<(String, Option<Record>)> = read
                .iter()
                .filter_map(|(address, live)| {
                    read_back_record(&store, address, live).map(|r| ((*address).to_owned(), Some(r)))
                })
                .collect();
            let count = records.len();
            (count, store.record_all_deferred(records))
        };
        let (count, written) = written;
        let durable = match written {
            Ok(durable) => durable.wait_async().await,
            Err(e) => Err(e),
        };
        if let Err(e) = durable {
            self.note(format!(
                "could not record what AEP says of {count} connection{} read back: {e}",
                if count == 1 { "" } else { "s" }
            ));
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

    /// Journals, durably, that a create or an update of `conn` is about to be sent.
    async fn begin(
        &self,
        action: Mutation,
        address: &str,
        conn: &Connection,
        started_at: i64,
    ) -> Result<u64, ApplyError> {
        // Fingerprinted before the store is taken; the flush waited for after it is let go.
        let pending = Pending {
            address: address.to_owned(),
            action,
            sandbox: conn.sandbox.clone(),
            name: conn.name.clone(),
            spec_id: conn.connection_spec.id.clone(),
            started_at,
            fingerprint: plan::fingerprint_with(conn, &self.fingerprints),
        };
        let (seq, durable) = self.store().begin_deferred(pending)?;
        durable.wait_async().await?;
        Ok(seq)
    }
}

/// A connection's record with what AEP now says of its state and timestamps, if its etag is
/// still the one flowform recorded and anything changed.
fn read_back_record(store: &Store, address: &str, live: &LiveConnection) -> Option<Record> {
    let mut record = store.state().connections.get(address).cloned()?;
    if record.id != live.id || record.etag != live.etag || live.etag.is_none() {
        return None;
    }
    let before = (record.state.clone(), record.created_at, record.updated_at);
    record.state = live.state.clone();
    record.created_at = live.created_at;
    record.updated_at = live.updated_at;
    (before != (record.state.clone(), record.created_at, record.updated_at)).then_some(record)
}

/// The id of the connection a change acts on. A change that lacks it (a saved plan edited
/// by hand, a bug) is an error, never a request: `DELETE /connections/` would read its 404
/// as "already gone" and drop the record.
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

/// Whether `id` can be a connection id (AEP's are UUIDs): never empty, and nothing that
/// would change the path it is put in.
pub fn is_connection_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The creates and renames of `plan` whose name AEP now gives to a connection `state` does
/// not manage: each address with the connection that has its name.
async fn taken_names(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: &Arc<Client>,
) -> Result<Vec<(String, LiveConnection)>, FlowError> {
    let declared: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
    let creates: Vec<(String, &Connection)> = plan
        .actions()
        .filter(|c| {
            matches!(c.action, Action::Create | Action::Replace)
                || (c.action == Action::Update && c.fields.iter().any(|f| f.path == "name"))
        })
        .filter_map(|c| declared.get(&c.address).map(|d| (c.address.clone(), *d)))
        .collect();
    if creates.is_empty() {
        return Ok(Vec::new());
    }
    let managed: BTreeSet<&str> = state.connections.values().map(|r| r.id.as_str()).collect();
    Ok(names::named(client, &creates)
        .await?
        .into_iter()
        .filter(|(_, live)| !managed.contains(live.id.as_str()))
        .collect())
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
    // below addresses the connections by their new keys. A crash leaves the state before or
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
    let claimed = store.state().connections.values().map(|r| r.id.clone()).collect();
    let fingerprints = store.state().fingerprints();
    let ctx = Arc::new(Ctx {
        fingerprints,
        store: Mutex::new(store),
        client,
        progress: progress.clone(),
        options: options.clone(),
        notes: Mutex::new(Vec::new()),
        claimed: Mutex::new(claimed),
        in_flight: Mutex::new(BTreeSet::new()),
    });
    let gate = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let by_address: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
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
    // name AEP gave meanwhile to a connection this state does not manage is not created
    // twice.
    let state = ctx.store().state().clone();
    let (taken, unchecked): (BTreeMap<String, LiveConnection>, BTreeSet<String>) =
        match taken_names(plan, desired, &state, &ctx.client).await {
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
        .filter_map(|c| by_address.get(&c.address))
        .map(|c| c.split_params())
        .filter(|split| split.all_resolved() && !split.secret_names.is_empty())
        .collect();
    ctx.fingerprints.prepare(sent.iter().map(|split| &split.secrets));
    drop(sent);
    let mut tasks = JoinSet::new();
    let mut spawned = Vec::new();
    for change in actions {
        if unchecked.contains(&change.address) {
            continue;
        }
        if let Some(live) = taken.get(&change.address) {
            report.failures.push(Failure {
                address: change.address.clone(),
                error: ApplyError::NameTaken {
                    name: live.name.clone(),
                    id: live.id.clone(),
                    key: change.key.clone(),
                },
            });
            continue;
        }
        let declared = by_address.get(&change.address).map(|c| (*c).clone());
        let (ctx, gate) = (ctx.clone(), gate.clone());
        spawned.push(change.address.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            // Interrupted: nothing new is started.
            if ctx.options.interrupt.is_set() {
                return (change.address.clone(), None);
            }
            lock(&ctx.in_flight).insert(change.address.clone());
            ctx.progress.working_on(&change.address);
            let result = run(&ctx, &change, declared.as_ref()).await;
            ctx.progress.done_one();
            lock(&ctx.in_flight).remove(&change.address);
            (change.address.clone(), Some(result))
        });
    }
    // In flight when the apply was interrupted, and how long they may still take.
    let mut stopping: Option<(BTreeSet<String>, tokio::time::Instant)> = None;
    let mut answered: BTreeSet<String> = BTreeSet::new();
    let mut abandoned: BTreeSet<String> = BTreeSet::new();
    loop {
        let joined = match &stopping {
            None => tokio::select! {
                joined = tasks.join_next() => joined,
                () = options.interrupt.wait() => {
                    let in_flight = lock(&ctx.in_flight).clone();
                    stopping = Some((in_flight, tokio::time::Instant::now() + GRACE));
                    continue;
                }
            },
            Some((_, until)) => match tokio::time::timeout_at(*until, tasks.join_next()).await {
                Ok(joined) => joined,
                Err(_) => {
                    // The grace ran out: what is still under way stays an intent without an
                    // outcome (pending), as after a crash.
                    abandoned = lock(&ctx.in_flight).clone();
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            },
        };
        let Some(joined) = joined else {
            break;
        };
        match joined {
            Ok((_, None)) => {}
            Ok((address, Some(Ok(done)))) => {
                answered.insert(address);
                report.added += done.added;
                report.changed += done.changed;
                report.destroyed += done.destroyed;
                report.imported += done.imported;
                report.forgotten += done.forgotten;
            }
            Ok((address, Some(Err(error)))) => {
                answered.insert(address.clone());
                progress.line(format!("{address}: failed: {error}"));
                report.failures.push(Failure { address, error });
            }
            // A task that panicked: nothing to say of its connection but that.
            Err(e) => report.failures.push(Failure {
                address: "(task)".into(),
                error: ApplyError::Flow(FlowError::Protocol {
                    method: "apply".into(),
                    path: String::new(),
                    reason: format!("an apply task failed: {e}"),
                }),
            }),
        }
    }
    if let Some((in_flight, _)) = stopping {
        // Interrupted: no more requests (the next plan reads back what this one did).
        report.interrupted = Some(Interrupted {
            finished: in_flight
                .iter()
                .filter(|a| answered.contains(*a))
                .cloned()
                .collect(),
            abandoned: abandoned.iter().cloned().collect(),
            not_started: spawned
                .into_iter()
                .filter(|a| !answered.contains(a) && !abandoned.contains(a))
                .collect(),
        });
    } else {
        read_back(&ctx, &changed).await;
        report
            .failures
            .extend(check_created(&ctx, desired, &created).await);
    }
    progress.finish();
    report.failures.sort_by(|a, b| a.address.cmp(&b.address));
    // Interrupted mutations of connections no longer declared: said at plan time, now let go.
    let declared: BTreeSet<String> = desired
        .connections
        .values()
        .map(|c| address(&c.sandbox, &c.key))
        .collect();
    let ctx = match Arc::try_unwrap(ctx) {
        Ok(ctx) => ctx,
        Err(_) => unreachable!("every task has finished"),
    };
    report.notes = crate::sync::into_inner(ctx.notes);
    let mut store = crate::sync::into_inner(ctx.store);
    if report.failures.is_empty() {
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
        let held = state.connections.get(&m.from).is_some_and(|r| r.id == m.id);
        if !held || state.connections.contains_key(&m.to) {
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

/// Records what AEP says of the connections this apply created or changed — state and
/// timestamps, which a create's or a PATCH's answer does not carry — up to a page of ids
/// per request (`property=id==a,b,…`, each URL within `--max-url-length`). A connection whose etag moved meanwhile is left as flowform applied it (the next
/// plan shows what someone else changed). A failed read is a note, not a failure: nothing
/// is assumed, and the next plan reads them anyway.
async fn read_back(ctx: &Arc<Ctx>, addresses: &[String]) {
    let mut by_sandbox: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    {
        let store = ctx.store();
        for address in addresses {
            if let Some(r) = store.state().connections.get(address) {
                by_sandbox
                    .entry(r.sandbox.clone())
                    .or_default()
                    .push((r.id.clone(), address.clone()));
            }
        }
    }
    let mut tasks = JoinSet::new();
    for (sandbox, ids) in by_sandbox {
        let addresses: BTreeMap<String, String> = ids.into_iter().collect();
        // Ids that cannot go in a filter (a hand-edited state) are left to the next plan.
        let listable = addresses.keys().filter(|id| crate::flow::listable(id)).cloned();
        for batch in ctx.client.batches(&[], "id", listable.collect()) {
            let batch: Vec<(String, String)> = batch
                .into_iter()
                .filter_map(|id| addresses.get(&id).map(|a| (id, a.clone())))
                .collect();
            let (ctx, sandbox) = (ctx.clone(), sandbox.clone());
            tasks.spawn(async move {
                let filter = Filter::new("id", batch.iter().map(|(id, _)| id.clone()));
                let listed = ctx.client.list_batch(&sandbox, &[filter], batch.len()).await;
                (ctx, batch, listed)
            });
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((ctx, batch, listed)) = joined else {
            continue;
        };
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) => {
                ctx.note(format!(
                    "could not read back {} connection{} after applying ({e}); the next plan reads them",
                    batch.len(),
                    if batch.len() == 1 { "" } else { "s" }
                ));
                continue;
            }
        };
        let by_id: BTreeMap<&str, &str> = batch.iter().map(|(id, a)| (id.as_str(), a.as_str())).collect();
        let read: Vec<(&str, &LiveConnection)> = listed
            .iter()
            .filter_map(|live| by_id.get(live.id.as_str()).map(|address| (*address, live)))
            .collect();
        ctx.record_read_back(&read).await;
    }
}

/// Reads back what this apply created, by name: records AEP's state and timestamps for
/// each, and settles a name AEP now gives to another connection too, one this state does
/// not manage — another clone or CI run, applying with another state, or a person, created
/// it at the same moment. Of the connections sharing the name, the first created stays
/// (ties: the smaller id); if that is not flowform's own, flowform deletes its own copy, so
/// that a race of two runs leaves one connection whichever run reads back first. Either way
/// the apply fails, naming both: two states claim one connection, and a person must say
/// which keeps it.
async fn check_created(ctx: &Arc<Ctx>, desired: &Desired, created: &[String]) -> Vec<Failure> {
    let declared: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
    let wanted: Vec<(String, &Connection)> = {
        let store = ctx.store();
        created
            .iter()
            .filter(|a| store.state().connections.contains_key(*a))
            .filter_map(|a| declared.get(a).map(|c| (a.clone(), *c)))
            .collect()
    };
    if wanted.is_empty() {
        return Vec::new();
    }
    let found = match names::named(&ctx.client, &wanted).await {
        Ok(found) => found,
        Err(e) => {
            ctx.note(format!(
                "could not read back the {} connection{} created ({e}); the next plan reads them",
                wanted.len(),
                if wanted.len() == 1 { "" } else { "s" }
            ));
            return Vec::new();
        }
    };
    // Address → every connection AEP has under its name that is not another of ours.
    let mut sharing: BTreeMap<String, Vec<LiveConnection>> = BTreeMap::new();
    {
        let store = ctx.store();
        let managed: BTreeSet<&str> = store
            .state()
            .connections
            .values()
            .map(|r| r.id.as_str())
            .collect();
        for (address, live) in found {
            let Some(ours) = store.state().connections.get(&address).map(|r| r.id.as_str()) else {
                continue;
            };
            if ours != live.id && managed.contains(live.id.as_str()) {
                continue;
            }
            sharing.entry(address).or_default().push(live);
        }
    }
    // What AEP says of ours, recorded together (one journal write, one flush).
    let ours: Vec<(&str, &LiveConnection)> = {
        let store = ctx.store();
        sharing
            .iter()
            .flat_map(|(address, all)| all.iter().map(move |live| (address.as_str(), live)))
            .filter(|(address, live)| {
                store
                    .state()
                    .connections
                    .get(*address)
                    .is_some_and(|r| r.id == live.id)
            })
            .collect()
    };
    ctx.record_read_back(&ours).await;
    let mut failures = Vec::new();
    for (address, mut all) in sharing {
        if all.len() < 2 {
            continue;
        }
        let Some(ours) = ctx.store().state().connections.get(&address).cloned() else {
            continue;
        };
        all.sort_by(|a, b| {
            (a.created_at.unwrap_or(i64::MAX), &a.id).cmp(&(b.created_at.unwrap_or(i64::MAX), &b.id))
        });
        let kept = all[0].id.clone();
        let others: Vec<String> = all
            .iter()
            .map(|c| c.id.clone())
            .filter(|id| *id != ours.id)
            .collect();
        let deleted = if kept == ours.id {
            None
        } else {
            Some(delete::delete(ctx, &address, &ours.sandbox, &ours.id).await)
        };
        failures.push(Failure {
            address,
            error: ApplyError::Duplicated {
                name: ours.name.clone(),
                ours: ours.id.clone(),
                others,
                kept,
                deleted: deleted.map(|d| d.map_err(|e| e.to_string())),
            },
        });
    }
    failures
}

async fn run(ctx: &Ctx, change: &Change, conn: Option<&Connection>) -> Result<Done, ApplyError> {
    let need = || {
        conn.ok_or_else(|| ApplyError::NotDeclared {
            address: change.address.clone(),
        })
    };
    match change.action {
        Action::Create => {
            create::create(ctx, &change.address, need()?).await?;
            Ok(Done {
                added: 1,
                ..Done::default()
            })
        }
        Action::Update => {
            update::update(ctx, change, need()?).await?;
            Ok(Done {
                changed: 1,
                ..Done::default()
            })
        }
        Action::Replace => delete::replace(ctx, change, need()?).await,
        Action::Delete => {
            let id = required_id(change)?;
            delete::delete(ctx, &change.address, &change.sandbox, &id).await?;
            Ok(Done {
                destroyed: 1,
                ..Done::default()
            })
        }
        Action::Adopt => adopt::adopt(ctx, change, need()?).await,
        Action::Forget => {
            ctx.record(&change.address, None)?;
            let why = if change.reason == Some(plan::Reason::ForgetBecauseRemoved) {
                "no longer managed; AEP keeps it"
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
        Action::StateOnly => {
            state_only::record_change(ctx, change)?;
            Ok(Done::default())
        }
        Action::NoOp => Ok(Done::default()),
    }
}
