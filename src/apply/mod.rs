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

pub mod progress;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use self::progress::{Progress, elapsed};
use crate::config::{Connection, Desired, Param};
use crate::flow::model::{LiveConnection, PatchOp};
use crate::flow::{Client, Filter, FlowError};
use crate::plan::{self, Action, Change, Live, Options, Plan, masked};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Pending, Record, Store, address};

/// How long a connection created `initializing` may take to become `enabled`.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);

#[derive(Clone, Debug)]
pub struct ApplyOptions {
    pub parallelism: usize,
    pub wait_timeout: Duration,
}

/// What an apply did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub imported: usize,
    pub failures: Vec<Failure>,
    /// Things worth saying that are not failures (a 412 resolved, a connection still
    /// initializing).
    pub notes: Vec<String>,
}

impl Report {
    /// `Apply complete! Resources: [N imported, ]X added, Y changed, Z destroyed.`
    pub fn summary_line(&self, verb: &str) -> String {
        let imported = if self.imported > 0 {
            format!("{} imported, ", self.imported)
        } else {
            String::new()
        };
        format!(
            "{verb} complete! Resources: {imported}{} added, {} changed, {} destroyed.",
            self.added, self.changed, self.destroyed
        )
    }
}

#[derive(Clone, Debug)]
pub struct Failure {
    pub address: String,
    pub message: String,
}

/// What one action did, for the counts.
#[derive(Clone, Copy, Debug, Default)]
struct Done {
    added: usize,
    changed: usize,
    destroyed: usize,
    imported: usize,
}

struct Ctx {
    store: Mutex<Store>,
    client: Arc<Client>,
    progress: Progress,
    options: ApplyOptions,
    notes: Mutex<Vec<String>>,
    /// Ids already claimed by a connection in this run (never adopted twice).
    claimed: Mutex<BTreeSet<String>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Failed = String;

impl Ctx {
    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    fn note(&self, text: String) {
        self.progress.line(&text);
        lock(&self.notes).push(text);
    }

    /// Journals a state-only change (adopt, forget, a final etag) at once.
    fn record(&self, address: &str, record: Option<Record>) -> Result<(), Failed> {
        self.store().record(address, record).map_err(|e| e.to_string())
    }
}

/// The params a create or an update sends: plain values and secrets, in clear. The only
/// place, with [`patch_ops`], where a secret leaves flowform.
fn params_to_send(conn: &Connection) -> Map<String, Value> {
    let mut params = Map::new();
    for (name, param) in &conn.auth.params {
        let value = match param {
            Param::Plain(v) => v.clone(),
            Param::Secret { value: Some(v), .. } => Value::String(v.expose().to_owned()),
            // Loaded without resolving secrets: never the case for apply.
            Param::Secret { value: None, .. } => continue,
        };
        params.insert(name.clone(), value);
    }
    params
}

/// The body of `POST /connections`.
pub fn create_body(conn: &Connection) -> Value {
    let mut body = json!({
        "name": conn.name,
        "connectionSpec": {"id": conn.connection_spec.id, "version": conn.connection_spec.version},
        "auth": {"specName": conn.auth.spec_name, "params": params_to_send(conn)},
    });
    if let Some(d) = &conn.description {
        body["description"] = Value::String(d.clone());
    }
    body
}

/// The JSON Patch for an update: what the plan says changes; the auth params, when they go,
/// whole (AEP replaces `/auth/params` as a whole) with the server's own params kept.
fn patch_ops(
    change: &Change,
    conn: &Connection,
    live: &LiveConnection,
    recorded: Option<&Record>,
) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let changes = |path: &str| change.fields.iter().any(|f| f.path == path);
    if changes("name") {
        ops.push(PatchOp {
            op: "replace",
            path: "/name".into(),
            value: Some(Value::String(conn.name.clone())),
        });
    }
    if changes("description") {
        match (&conn.description, &live.description) {
            (Some(d), _) => ops.push(PatchOp {
                op: "add",
                path: "/description".into(),
                value: Some(Value::String(d.clone())),
            }),
            (None, Some(_)) => ops.push(PatchOp {
                op: "remove",
                path: "/description".into(),
                value: None,
            }),
            (None, None) => {}
        }
    }
    let params_change =
        change.resend_secrets || change.fields.iter().any(|f| f.path.starts_with("auth.params."));
    if params_change {
        let mut params = params_to_send(conn);
        // AEP replaces the params whole; an ignored param keeps what AEP has (or, for a
        // secret, which cannot be read back, what was last sent: the declared value).
        let live_params = live.auth.as_ref().map(|a| &a.params);
        for (name, param) in &conn.auth.params {
            if let Param::Plain(_) = param
                && plan::ignored(conn, &format!("auth.params.{name}"))
                && let Some(kept) = live_params
                    .and_then(|p| p.get(name))
                    .filter(|v| !masked(v))
                    .or_else(|| recorded.and_then(|r| r.params.get(name)))
            {
                params.insert(name.clone(), kept.clone());
            }
        }
        // Keep what AEP added itself (e.g. `orgId`): not declared, not a masked secret, and
        // never sent by flowform.
        let managed: BTreeSet<&String> = recorded
            .map(|r| r.params.keys().chain(r.secret_params.iter()).collect())
            .unwrap_or_default();
        if let Some(auth) = &live.auth {
            for (name, value) in &auth.params {
                if !conn.auth.params.contains_key(name) && !managed.contains(name) && !masked(value) {
                    params.insert(name.clone(), value.clone());
                }
            }
        }
        ops.push(PatchOp {
            op: "replace",
            path: "/auth/params".into(),
            value: Some(Value::Object(params)),
        });
    }
    ops
}

/// The state records what AEP has after a PATCH: what was sent, and for everything else (not
/// sent: unchanged or ignored) what AEP had.
fn record_what_was_sent(
    record: &mut Record,
    ops: &[PatchOp],
    live: &LiveConnection,
    recorded: Option<&Record>,
) {
    if !ops.iter().any(|o| o.path == "/name") {
        record.name = live.name.clone();
    }
    if !ops.iter().any(|o| o.path == "/description") {
        record.description = live.description.clone();
    }
    let sent = ops
        .iter()
        .find(|o| o.path == "/auth/params")
        .and_then(|o| o.value.as_ref())
        .and_then(Value::as_object);
    match sent {
        Some(sent) => {
            for (name, value) in record.params.iter_mut() {
                if let Some(v) = sent.get(name) {
                    *value = v.clone();
                }
            }
        }
        None => {
            if let Some(old) = recorded {
                record.params = old.params.clone();
                record.secret_params = old.secret_params.clone();
                record.secrets_digest = old.secrets_digest.clone();
            }
        }
    }
}

/// The record of an adopted connection: what AEP has, and the declared secrets' names.
pub fn adopted_record(conn: &Connection, live: &LiveConnection, digest: Option<String>) -> Record {
    let mut params = Map::new();
    let live_params = live.auth.as_ref().map(|a| &a.params);
    for (name, param) in &conn.auth.params {
        if let (Param::Plain(_), Some(value)) = (param, live_params.and_then(|p| p.get(name))) {
            params.insert(name.clone(), value.clone());
        }
    }
    Record {
        key: conn.key.clone(),
        sandbox: conn.sandbox.clone(),
        id: live.id.clone(),
        etag: live.etag.clone(),
        name: live.name.clone(),
        description: live.description.clone(),
        connection_spec: conn.connection_spec.clone(),
        auth_spec_name: live
            .auth
            .as_ref()
            .map_or_else(|| conn.auth.spec_name.clone(), |a| a.spec_name.clone()),
        params,
        secret_params: conn
            .auth
            .params
            .iter()
            .filter(|(_, p)| p.is_secret())
            .map(|(n, _)| n.clone())
            .collect(),
        secrets_digest: digest,
        state: live.state.clone(),
        created_at: live.created_at,
        updated_at: live.updated_at,
        protect: conn.lifecycle.protect,
        applied_at: Some(now_ms()),
    }
}

/// The id of the connection a change acts on. A change that lacks it (a saved plan edited
/// by hand, a bug) is an error, never a request: `DELETE /connections/` would read its 404
/// as "already gone" and drop the record.
fn required_id(change: &Change) -> Result<String, Failed> {
    match change.id.as_deref() {
        Some(id) if is_connection_id(id) => Ok(id.to_owned()),
        Some(id) => Err(format!(
            "the plan names `{id}` as the connection to {}, which is not a connection id; nothing was sent\nhelp: plan again",
            change.action.verb()
        )),
        None => Err(format!(
            "the plan has no connection id to {}; nothing was sent\nhelp: plan again",
            change.action.verb()
        )),
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

fn describe(e: &FlowError) -> String {
    let text = e.to_string();
    match e.api().and_then(crate::flow::ApiError::flow_code) {
        Some(1418) => {
            format!("{text}\nhelp: a dataflow uses this connection; delete or move the dataflow first")
        }
        Some(1417) => {
            format!("{text}\nhelp: the connection is still initializing; apply again once it is enabled")
        }
        _ => text,
    }
}

/// Why a saved plan no longer applies, if it does not: the state moved on (another lineage,
/// or a newer serial), the configuration or a referenced secret changed (by digest), or a
/// connection it touches changed in AEP (its etag). Empty: it still applies.
pub async fn stale(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: Option<&Arc<Client>>,
) -> Result<Vec<String>, FlowError> {
    let mut problems = Vec::new();
    // A state exists before any plan (`flowform init` starts it), so its lineage is fixed.
    if plan.lineage != state.lineage {
        problems.push(format!(
            "the plan was made for another state (lineage {}; this state is {})",
            plan.lineage, state.lineage
        ));
    } else if plan.serial != state.serial {
        problems.push(format!(
            "the state changed since the plan was made (serial {} then, {} now): another apply ran",
            plan.serial, state.serial
        ));
    }
    if let Some(id) = plan
        .config_digest
        .strip_prefix("hmac-sha256:")
        .and_then(|rest| rest.split(':').next())
        && state.digester.key_id() != Some(id)
    {
        problems.push(format!(
            "the plan was made with the `FLOWFORM_DIGEST_KEY` whose id is {id}, and this run {}",
            if state.digester.key_id().is_some() {
                "has another"
            } else {
                "has none"
            }
        ));
    } else if plan::config_digest(desired, &plan.digest_salt, &state.digester) != plan.config_digest {
        problems
            .push("the configuration (or a secret it references) changed since the plan was made".to_owned());
    }
    if let Some(client) = client {
        for change in plan.actions() {
            let (Some(id), Some(etag)) = (&change.id, &change.etag) else {
                continue;
            };
            match client.get_connection(&change.sandbox, id).await? {
                None => problems.push(format!(
                    "`{}` ({id}) was deleted in AEP since the plan was made",
                    change.address
                )),
                Some(l) if l.etag.as_deref() != Some(etag.as_str()) => problems.push(format!(
                    "`{}` ({id}) changed in AEP since the plan was made (etag {etag}, now {})",
                    change.address,
                    l.etag.as_deref().unwrap_or("none")
                )),
                Some(_) => {}
            }
        }
        problems.extend(names_taken_since(plan, desired, state, client).await?);
    }
    Ok(problems)
}

/// Creates in a saved plan whose name AEP has given to a connection this state does not
/// manage since the plan was made: applying them would make a duplicate.
async fn names_taken_since(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: &Arc<Client>,
) -> Result<Vec<String>, FlowError> {
    let declared: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
    // Sandbox and spec → the names to be created there, and by which address.
    let mut creates: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for change in plan.actions() {
        if !matches!(change.action, Action::Create | Action::Replace) {
            continue;
        }
        if let Some(conn) = declared.get(&change.address) {
            creates
                .entry((conn.sandbox.clone(), conn.connection_spec.id.clone()))
                .or_default()
                .insert(conn.name.clone(), change.address.clone());
        }
    }
    let managed: BTreeSet<&str> = state.connections.values().map(|r| r.id.as_str()).collect();
    let mut problems = Vec::new();
    for ((sandbox, spec), names) in creates {
        let mut filters = vec![Filter::new("connectionSpec.id", [spec.clone()])];
        // A comma separates alternatives in a filter: with such a name, list the spec whole.
        if names.keys().all(|n| !n.contains(',')) && names.len() <= READ_BACK_BATCH {
            filters.push(Filter::new("name", names.keys().cloned()));
        }
        for live in client.list_connections(&sandbox, &filters).await? {
            if let Some(address) = names.get(&live.name)
                && !managed.contains(live.id.as_str())
            {
                problems.push(format!(
                    "`{address}`: AEP now has a connection named `{}` in sandbox `{sandbox}` (id {}) that this state does not manage; creating another would make a duplicate",
                    live.name, live.id
                ));
            }
        }
    }
    Ok(problems)
}

/// Carries out `plan`'s actions. `desired` must be the configuration the plan was made from.
pub async fn apply(
    plan: &Plan,
    desired: &Desired,
    store: Store,
    client: Arc<Client>,
    options: ApplyOptions,
) -> (Store, Report) {
    let actions: Vec<Change> = plan.actions().cloned().collect();
    let progress = Progress::new(actions.len());
    let claimed = store.state().connections.values().map(|r| r.id.clone()).collect();
    let ctx = Arc::new(Ctx {
        store: Mutex::new(store),
        client,
        progress: progress.clone(),
        options: options.clone(),
        notes: Mutex::new(Vec::new()),
        claimed: Mutex::new(claimed),
    });
    let gate = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let by_address: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
    let touched: Vec<String> = actions
        .iter()
        .filter(|c| {
            matches!(
                c.action,
                Action::Create | Action::Update | Action::Replace | Action::Adopt
            )
        })
        .map(|c| c.address.clone())
        .collect();
    let mut tasks = JoinSet::new();
    for change in actions {
        let declared = by_address.get(&change.address).map(|c| (*c).clone());
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            ctx.progress.working_on(&change.address);
            let result = run(&ctx, &change, declared.as_ref()).await;
            ctx.progress.done_one();
            (change.address.clone(), result)
        });
    }
    let mut report = Report::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((_, Ok(done))) => {
                report.added += done.added;
                report.changed += done.changed;
                report.destroyed += done.destroyed;
                report.imported += done.imported;
            }
            Ok((address, Err(message))) => {
                progress.line(format!(
                    "{address}: failed: {}",
                    message.lines().next().unwrap_or_default()
                ));
                report.failures.push(Failure { address, message });
            }
            Err(e) => report.failures.push(Failure {
                address: "(task)".into(),
                message: format!("an apply task failed: {e}"),
            }),
        }
    }
    read_back(&ctx, &touched).await;
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
    report.notes = ctx.notes.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut store = ctx.store.into_inner().unwrap_or_else(|p| p.into_inner());
    if report.failures.is_empty() {
        let _ = store.edit(|s| s.pending.retain(|p| declared.contains(&p.address)));
    }
    (store, report)
}

/// How many ids one read-back request names (`property=id==a,b,…`): about 2 KB of URL.
const READ_BACK_BATCH: usize = 40;

/// Records what AEP says of the connections this apply created or changed — state and
/// timestamps, which a create's or a PATCH's answer does not carry — a few dozen per
/// request. A connection whose etag moved meanwhile is left as flowform applied it (the next
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
        for batch in ids.chunks(READ_BACK_BATCH) {
            let (ctx, sandbox, batch) = (ctx.clone(), sandbox.clone(), batch.to_vec());
            tasks.spawn(async move {
                let filter = Filter::new("id", batch.iter().map(|(id, _)| id.clone()));
                let listed = ctx.client.list_connections(&sandbox, &[filter]).await;
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
        for live in listed {
            let Some((_, address)) = batch.iter().find(|(id, _)| *id == live.id) else {
                continue;
            };
            let mut store = ctx.store();
            let Some(mut record) = store.state().connections.get(address).cloned() else {
                continue;
            };
            if record.id != live.id || record.etag != live.etag || live.etag.is_none() {
                continue;
            }
            let before = (record.state.clone(), record.created_at, record.updated_at);
            record.state = live.state.clone();
            record.created_at = live.created_at;
            record.updated_at = live.updated_at;
            if before != (record.state.clone(), record.created_at, record.updated_at)
                && let Err(e) = store.record(address, Some(record))
            {
                drop(store);
                ctx.note(format!("{address}: could not record what AEP says of it: {e}"));
            }
        }
    }
}

async fn run(ctx: &Ctx, change: &Change, conn: Option<&Connection>) -> Result<Done, Failed> {
    let missing = || format!("`{}` is not in the configuration", change.address);
    let need = || conn.ok_or_else(missing);
    match change.action {
        Action::Create => {
            create(ctx, &change.address, need()?).await?;
            Ok(Done {
                added: 1,
                ..Done::default()
            })
        }
        Action::Update => {
            update(ctx, change, need()?).await?;
            Ok(Done {
                changed: 1,
                ..Done::default()
            })
        }
        Action::Replace => replace(ctx, change, need()?).await,
        Action::Delete => {
            let id = required_id(change)?;
            delete(ctx, &change.address, &change.sandbox, &id).await?;
            Ok(Done {
                destroyed: 1,
                ..Done::default()
            })
        }
        Action::Adopt => adopt(ctx, change, need()?).await,
        Action::Forget => {
            ctx.record(&change.address, None)?;
            ctx.progress.line(format!(
                "{}: forgotten (it was deleted outside flowform)",
                change.address
            ));
            Ok(Done::default())
        }
        Action::NoOp => Ok(Done::default()),
    }
}

/// Creates a connection, resolving an unknown outcome by listing, and waits for it to be
/// enabled. Returns its id.
async fn create(ctx: &Ctx, address: &str, conn: &Connection) -> Result<String, Failed> {
    let started = Instant::now();
    ctx.progress.line(format!("{address}: Creating..."));
    let started_at = now_ms();
    let seq = {
        let mut store = ctx.store();
        let fingerprint = plan::fingerprint(conn, store.state());
        let pending = Pending {
            address: address.to_owned(),
            action: Mutation::Create,
            sandbox: conn.sandbox.clone(),
            name: conn.name.clone(),
            spec_id: conn.connection_spec.id.clone(),
            started_at,
            fingerprint,
        };
        store.begin(pending).map_err(|e| e.to_string())?
    };
    let body = create_body(conn);
    let mut tries = 0;
    let (id, etag) = loop {
        tries += 1;
        match ctx.client.create_connection(&conn.sandbox, &body).await {
            Ok(created) => break (created.id, created.etag),
            Err(FlowError::OutcomeUnknown { reason, .. }) => {
                ctx.progress.line(format!(
                    "{address}: the create's outcome is unknown ({reason}); listing to find out"
                ));
                let found = match find_created(ctx, conn, started_at).await {
                    Ok(found) => found,
                    Err(e) => {
                        let _ = ctx.store().finish(seq, address, Outcome::Unknown);
                        return Err(format!(
                            "the create's outcome is unknown, and listing failed: {e}; the next plan resolves it"
                        ));
                    }
                };
                match found.as_slice() {
                    [one] => {
                        ctx.note(format!(
                            "{address}: AEP did make it: adopting {} (no duplicate)",
                            one.id
                        ));
                        break (one.id.clone(), one.etag.clone());
                    }
                    [] if tries < 3 => {
                        ctx.progress
                            .line(format!("{address}: AEP made nothing: creating again"));
                    }
                    [] => {
                        let _ = ctx.store().finish(seq, address, Outcome::Failed);
                        return Err(format!("AEP made nothing after {tries} attempts ({reason})"));
                    }
                    several => {
                        let _ = ctx.store().finish(seq, address, Outcome::Unknown);
                        let ids: Vec<&str> = several.iter().map(|c| c.id.as_str()).collect();
                        return Err(format!(
                            "the create's outcome was unknown, and AEP now has {} connections named `{}` created since: {}; flowform will not guess which is its own\nhelp: delete the extra ones in AEP (or `import` the right one), then plan again",
                            several.len(),
                            conn.name,
                            ids.join(", ")
                        ));
                    }
                }
            }
            Err(e) => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                return Err(describe(&e));
            }
        }
    };
    lock(&ctx.claimed).insert(id.clone());
    // The id is durable from here on. AEP's answer to a create holds only the id and etag:
    // the connection's state is recorded once AEP says it (read back at the end of the
    // apply, or while waiting for an initializing one), never assumed.
    let initializing = etag.is_none();
    let record = {
        let store = ctx.store();
        Record::applied(conn, &id, etag.as_deref(), None, store.state(), now_ms())
    };
    ctx.store()
        .finish(
            seq,
            address,
            Outcome::Done {
                record: Some(Box::new(record.clone())),
            },
        )
        .map_err(|e| e.to_string())?;
    if initializing {
        wait_enabled(ctx, address, conn, &id, record).await?;
    }
    ctx.progress.line(format!(
        "{address}: Creation complete after {} [id={id}]",
        elapsed(started.elapsed())
    ));
    Ok(id)
}

/// The sandbox's connections of `conn`'s spec and name, created since `since` and not
/// managed: what an unknown create may have made.
async fn find_created(ctx: &Ctx, conn: &Connection, since: i64) -> Result<Vec<LiveConnection>, FlowError> {
    let mut filters = vec![Filter::new(
        "connectionSpec.id",
        [conn.connection_spec.id.clone()],
    )];
    // A comma separates alternatives in a filter: such a name is matched here instead.
    if !conn.name.contains(',') {
        filters.push(Filter::new("name", [conn.name.clone()]));
    }
    let listed = ctx.client.list_connections(&conn.sandbox, &filters).await?;
    let claimed = lock(&ctx.claimed).clone();
    Ok(listed
        .into_iter()
        .filter(|c| c.name == conn.name && !claimed.contains(&c.id))
        .filter(|c| c.created_at.is_none_or(|t| t >= since - 5 * 60 * 1000))
        .collect())
}

/// Polls an initializing connection until it is enabled, then records its etag and state.
async fn wait_enabled(
    ctx: &Ctx,
    address: &str,
    conn: &Connection,
    id: &str,
    mut record: Record,
) -> Result<(), Failed> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    let mut said = Instant::now();
    loop {
        tokio::time::sleep(delay).await;
        delay = (delay.mul_f64(1.5)).min(Duration::from_secs(5));
        match ctx.client.get_connection(&conn.sandbox, id).await {
            Ok(Some(live)) if !live.is_initializing() => {
                record.etag = live.etag.clone();
                record.state = live.state.clone();
                record.created_at = live.created_at;
                record.updated_at = live.updated_at;
                return ctx.record(address, Some(record));
            }
            Ok(Some(live)) => {
                if record.state != live.state {
                    record.state = live.state.clone();
                    record.created_at = live.created_at;
                    record.updated_at = live.updated_at;
                    ctx.record(address, Some(record.clone()))?;
                }
            }
            Ok(None) => return Err(format!("{id} disappeared from AEP while initializing")),
            Err(e) => return Err(describe(&e)),
        }
        if started.elapsed() >= ctx.options.wait_timeout {
            ctx.note(format!(
                "{address}: still initializing after {}; it is recorded, and the next plan picks up its etag",
                elapsed(started.elapsed())
            ));
            return Ok(());
        }
        if said.elapsed() >= Duration::from_secs(10) {
            ctx.progress.line(format!(
                "{address}: Still initializing... [{} elapsed]",
                elapsed(started.elapsed())
            ));
            said = Instant::now();
        }
    }
}

/// Updates a connection with `If-Match`; a 412 is re-read, re-planned, and applied again
/// once if still needed.
async fn update(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<(), Failed> {
    let started = Instant::now();
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Modifying... [id={id}]"));
    let live = match ctx.client.get_connection(&conn.sandbox, &id).await {
        Ok(Some(live)) => live,
        Ok(None) => return Err(format!("{id} is gone from AEP since the plan; plan again")),
        Err(e) => return Err(describe(&e)),
    };
    let recorded = ctx.store().state().connections.get(address.as_str()).cloned();
    let mut change = change.clone();
    let mut live = live;
    for round in 0..2 {
        let ops = patch_ops(&change, conn, &live, recorded.as_ref());
        if ops.is_empty() {
            break;
        }
        let etag = live.etag.clone().unwrap_or_default();
        let seq = {
            let mut store = ctx.store();
            let pending = Pending {
                address: address.clone(),
                action: Mutation::Update,
                sandbox: conn.sandbox.clone(),
                name: conn.name.clone(),
                spec_id: conn.connection_spec.id.clone(),
                started_at: now_ms(),
                fingerprint: plan::fingerprint(conn, store.state()),
            };
            store.begin(pending).map_err(|e| e.to_string())?
        };
        match ctx
            .client
            .update_connection(&conn.sandbox, &id, &etag, &ops)
            .await
        {
            Ok(updated) => {
                let record = {
                    let store = ctx.store();
                    // A PATCH changes no connection's state: it is what AEP showed just
                    // before. The new `updatedAt` is read back at the end of the apply.
                    let mut record = Record::applied(
                        conn,
                        &id,
                        updated.etag.as_deref(),
                        live.state.as_deref(),
                        store.state(),
                        now_ms(),
                    );
                    record.created_at = live.created_at;
                    record_what_was_sent(&mut record, &ops, &live, recorded.as_ref());
                    record
                };
                ctx.store()
                    .finish(
                        seq,
                        address,
                        Outcome::Done {
                            record: Some(Box::new(record)),
                        },
                    )
                    .map_err(|e| e.to_string())?;
                if updated.confirmed_by_reading {
                    ctx.note(format!(
                        "{address}: the update's answer was lost; a re-read shows it applied"
                    ));
                }
                ctx.progress.line(format!(
                    "{address}: Modifications complete after {} [id={id}]",
                    elapsed(started.elapsed())
                ));
                return Ok(());
            }
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) && round == 0 => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                // Someone changed it meanwhile: read it again and plan this one connection anew.
                live = match ctx.client.get_connection(&conn.sandbox, &id).await {
                    Ok(Some(l)) => l,
                    Ok(None) => return Err(format!("{id} was deleted while flowform updated it")),
                    Err(e) => return Err(describe(&e)),
                };
                let replanned = replan(ctx, conn, &live);
                match replanned {
                    Some(again) if again.action == Action::Update => {
                        ctx.note(format!(
                            "{address}: AEP answered 412 (changed by someone else meanwhile); re-read it and applied the update again"
                        ));
                        change = again;
                    }
                    _ => {
                        ctx.note(format!(
                            "{address}: AEP answered 412; re-read, it already matches the configuration"
                        ));
                        return Ok(());
                    }
                }
            }
            Err(e) => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                return Err(describe(&e));
            }
        }
    }
    ctx.progress.line(format!("{address}: no change needed"));
    Ok(())
}

/// Plans one connection again, against a fresh read.
fn replan(ctx: &Ctx, conn: &Connection, live: &LiveConnection) -> Option<Change> {
    let store = ctx.store();
    let mut seen = Live {
        refreshed: true,
        ..Live::default()
    };
    seen.connections
        .insert(live.id.clone(), (conn.sandbox.clone(), live.clone()));
    seen.fetched.insert(live.id.clone());
    let desired = Desired {
        connections: [(conn.key.clone(), conn.clone())].into(),
        sandboxes: [conn.sandbox.clone()].into(),
        files: Vec::new(),
    };
    let options = Options {
        targets: [address(&conn.sandbox, &conn.key)].into(),
        ..Options::default()
    };
    plan::plan(&desired, store.state(), &seen, &options)
        .changes
        .into_iter()
        .next()
}

async fn delete(ctx: &Ctx, address: &str, sandbox: &str, id: &str) -> Result<(), Failed> {
    if !is_connection_id(id) {
        return Err(format!(
            "`{address}` has no usable connection id (`{id}`); nothing was sent\nhelp: check `flowform state show {address}`"
        ));
    }
    let started = Instant::now();
    ctx.progress.line(format!("{address}: Destroying... [id={id}]"));
    let (name, spec_id) = ctx
        .store()
        .state()
        .connections
        .get(address)
        .map(|r| (r.name.clone(), r.connection_spec.id.clone()))
        .unwrap_or_default();
    let seq = {
        let pending = Pending {
            address: address.to_owned(),
            action: Mutation::Delete,
            sandbox: sandbox.to_owned(),
            name,
            spec_id,
            started_at: now_ms(),
            fingerprint: String::new(),
        };
        ctx.store().begin(pending).map_err(|e| e.to_string())?
    };
    match ctx.client.delete_connection(sandbox, id).await {
        Ok(_) => {
            ctx.store()
                .finish(seq, address, Outcome::Done { record: None })
                .map_err(|e| e.to_string())?;
            ctx.progress.line(format!(
                "{address}: Destruction complete after {}",
                elapsed(started.elapsed())
            ));
            Ok(())
        }
        Err(e) => {
            let _ = ctx.store().finish(seq, address, Outcome::Failed);
            Err(describe(&e))
        }
    }
}

/// Replace: the old record steps aside (deposed, so a crash cannot lose it), the new
/// connection is created, then the old one deleted.
async fn replace(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<Done, Failed> {
    let address = &change.address;
    let old = ctx.store().state().connections.get(address.as_str()).cloned();
    let Some(old) = old else {
        return Err(format!("`{address}` is no longer in the state; plan again"));
    };
    let deposed = format!("{address}#deposed");
    ctx.record(&deposed, Some(old.clone()))?;
    ctx.record(address, None)?;
    create(ctx, address, conn).await?;
    match delete(ctx, &deposed, &old.sandbox, &old.id).await {
        Ok(()) => Ok(Done {
            added: 1,
            destroyed: 1,
            ..Done::default()
        }),
        Err(e) => Err(format!(
            "the new connection was created, but the old one ({}) could not be deleted: {e}\nit stays in the state as `{deposed}`, and the next apply deletes it",
            old.id
        )),
    }
}

/// Adopt: record what AEP has, then update it if the plan says so.
async fn adopt(ctx: &Ctx, change: &Change, conn: &Connection) -> Result<Done, Failed> {
    let address = &change.address;
    let id = required_id(change)?;
    ctx.progress.line(format!("{address}: Importing... [id={id}]"));
    let live = match ctx.client.get_connection(&conn.sandbox, &id).await {
        Ok(Some(live)) => live,
        Ok(None) => return Err(format!("{id} is gone from AEP since the plan; plan again")),
        Err(e) => return Err(describe(&e)),
    };
    // An interrupted create that carried exactly this configuration sent these secrets.
    let digest = {
        let store = ctx.store();
        let recovered = change.reason == Some(plan::Reason::ImportBecauseRecoveredFromInterruptedApply)
            && !change.resend_secrets;
        recovered
            .then(|| crate::state::declared_secrets_digest(conn, store.state()))
            .flatten()
    };
    lock(&ctx.claimed).insert(id.clone());
    ctx.record(address, Some(adopted_record(conn, &live, digest)))?;
    ctx.progress.line(format!("{address}: Import complete [id={id}]"));
    if change.then_update {
        update(ctx, change, conn).await?;
        return Ok(Done {
            imported: 1,
            changed: 1,
            ..Done::default()
        });
    }
    Ok(Done {
        imported: 1,
        ..Done::default()
    })
}

/// Records what changes in the state alone: the declared lifecycle flags of managed
/// connections (a change to `protect` changes nothing in AEP, but the state must remember
/// it), and secret fingerprints made in an older scheme (or before `FLOWFORM_DIGEST_KEY` was
/// set), made anew when the declared secrets are still the ones they fingerprint. Returns how
/// many records changed.
pub fn sync_lifecycle(desired: &Desired, store: &mut Store) -> Result<usize, crate::state::file::StateError> {
    store.edit(|state| {
        let mut changed = 0;
        let mut refingerprinted = Vec::new();
        for conn in desired.connections.values() {
            let address = address(&conn.sandbox, &conn.key);
            let Some(r) = state.connections.get(&address) else {
                continue;
            };
            let mut r = r.clone();
            let mut touched = false;
            if r.protect != conn.lifecycle.protect {
                r.protect = conn.lifecycle.protect;
                touched = true;
            }
            let split = conn.split_params();
            if let Some(stored) = &r.secrets_digest
                && split.all_resolved()
                && !state.digester.is_current(stored)
                && state.secrets_match(stored, &split.secrets) == Ok(true)
            {
                r.secrets_digest = Some(state.secrets_digest(&split.secrets));
                refingerprinted.push(address.clone());
                touched = true;
            }
            if touched {
                state.connections.insert(address, r);
                changed += 1;
            }
        }
        if !refingerprinted.is_empty() {
            crate::info!(
                "made the secret fingerprints of {} connection{} anew in this run's scheme ({})",
                refingerprinted.len(),
                if refingerprinted.len() == 1 { "" } else { "s" },
                match state.digester.key_id() {
                    Some(id) => format!("keyed, key id {id}"),
                    None => "keyless".to_owned(),
                }
            );
        }
        changed
    })
}

/// Makes the state match what AEP has (`apply --refresh-only`): drifted records take the live
/// values, deleted ones go. Nothing is sent to AEP.
pub fn accept_live(
    plan: &Plan,
    live: &Live,
    store: &mut Store,
) -> Result<usize, crate::state::file::StateError> {
    let mut changed = 0;
    store.edit(|state| {
        for drift in &plan.drift {
            match live.connections.get(&drift.id) {
                None => {
                    state.connections.remove(&drift.address);
                }
                Some((_, l)) => {
                    if let Some(r) = state.connections.get_mut(&drift.address) {
                        r.name = l.name.clone();
                        r.description = l.description.clone();
                        r.etag = l.etag.clone();
                        if l.state.is_some() {
                            r.state = l.state.clone();
                        }
                        r.updated_at = l.updated_at;
                        if let Some(auth) = &l.auth {
                            for (name, value) in r.params.iter_mut() {
                                if let Some(v) = auth.params.get(name).filter(|v| !masked(v)) {
                                    *value = v.clone();
                                }
                            }
                        }
                    }
                }
            }
            changed += 1;
        }
    })?;
    Ok(changed)
}
