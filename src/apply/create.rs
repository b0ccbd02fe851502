//! Creating a resource: never twice. A create whose outcome is unknown is resolved by
//! listing; one created `initializing` is waited for.

use std::time::{Duration, Instant};

use super::progress::elapsed;
use super::request::{create_body, resolve};
use super::{ApplyError, Ctx, lock, now_ms};
use crate::config::Resource;
use crate::flow::model::LiveObject;
use crate::flow::{Filter, FlowError};
use crate::plan::{self, Interrupted};
use crate::state::journal::Outcome;
use crate::state::{Action as Mutation, Record};

/// Creates a resource, resolving an unknown outcome by listing, and waits for it to be
/// enabled. Returns its id.
pub(super) async fn create(ctx: &Ctx, address: &str, d: &Resource) -> Result<String, ApplyError> {
    let started = Instant::now();
    ctx.progress.line(format!("{address}: Creating..."));
    // What only AEP knows, learnt now if the plan could not (made without a refresh, or
    // before what it refers to existed).
    let completed;
    let d = if crate::kind::live::incomplete(d) {
        let state = ctx.store().state().clone();
        completed = crate::kind::live::complete(&ctx.client, &state, Some(&ctx.desired), d)
            .await
            .map_err(|reason| ApplyError::Incomplete { reason })?;
        &completed
    } else {
        d
    };
    // A replacement (or the create of one whose old resource is deposed, after an apply cut
    // short): the kind's hand-over from the old one first.
    let predecessor = ctx
        .store()
        .state()
        .resources
        .get(&format!("{address}#deposed"))
        .map(|r| r.id.clone());
    let mut handed = crate::kind::HandedOver::default();
    let handed_over;
    let d = match &predecessor {
        Some(old_id) => {
            handed = d
                .kind
                .hooks
                .hand_over(crate::kind::HandOver {
                    client: &ctx.client,
                    declared: d,
                    old_id,
                })
                .await?;
            for said in &handed.said {
                ctx.progress.line(format!("{address}: {said}"));
            }
            record_old(ctx, &format!("{address}#deposed"), &handed)?;
            let mut with = d.clone();
            for (path, value) in &handed.values {
                with.values
                    .insert(path, crate::config::Value::Plain(value.clone()));
            }
            handed_over = with;
            &handed_over
        }
        None => d,
    };
    // What it refers to was created by the steps before this one: its ids are in the state.
    let resolved = {
        let store = ctx.store();
        resolve(&ctx.desired, store.state(), d)?
    };
    let scope: Vec<String> = d
        .kind
        .scope
        .iter()
        .map(|path| {
            resolved
                .values
                .get(path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let started_at = now_ms();
    let seq = ctx
        .begin(Mutation::Create, address, d, scope.clone(), started_at)
        .await?;
    let body = create_body(d, &resolved);
    let mut tries = 0;
    let (id, etag) = loop {
        tries += 1;
        match ctx.client.create(d.kind.collection, &d.sandbox, &body).await {
            Ok(created) => break (created.id, created.etag),
            Err(FlowError::OutcomeUnknown { reason, .. }) => {
                ctx.progress.line(format!(
                    "{address}: the create's outcome is unknown ({reason}); listing to find out"
                ));
                let listed = match find_created(ctx, d, &scope).await {
                    Ok(listed) => listed,
                    Err(source) => {
                        let _ = ctx.store().finish(seq, address, Outcome::Unknown);
                        return Err(ApplyError::UnknownAndUnlisted {
                            reason,
                            source: Box::new(source),
                        });
                    }
                };
                let claimed = lock(&ctx.claimed).clone();
                match plan::interrupted_create(&listed, d.name(), |id| claimed.contains(id), started_at) {
                    Interrupted::One(one) => {
                        ctx.note(format!(
                            "{address}: AEP did make it: adopting {} (no duplicate)",
                            one.id
                        ));
                        break (one.id.clone(), one.etag.clone());
                    }
                    Interrupted::Nothing if tries < 3 => {
                        ctx.progress
                            .line(format!("{address}: AEP made nothing: creating again"));
                    }
                    Interrupted::Nothing => {
                        let _ = ctx.store().finish(seq, address, Outcome::Failed);
                        return Err(ApplyError::NothingMade { tries, reason });
                    }
                    Interrupted::Several(several) => {
                        let _ = ctx.store().finish(seq, address, Outcome::Unknown);
                        return Err(ApplyError::Ambiguous {
                            name: d.name().to_owned(),
                            noun: d.kind.noun,
                            ids: several.iter().map(|c| c.id.clone()).collect(),
                        });
                    }
                }
            }
            Err(e) => {
                let _ = ctx.store().finish(seq, address, Outcome::Failed);
                return Err(e.into());
            }
        }
    };
    // An answer giving an id the state already holds under another address (a confused or
    // hostile server) is not recorded twice: the state keeps one id per record.
    // Every id the state holds is claimed (from the start of the apply, or since): only a
    // claimed one is looked for among the records.
    let claimed = lock(&ctx.claimed).contains(&id);
    let holder = claimed
        .then(|| {
            ctx.store()
                .state()
                .resources
                .iter()
                .find(|(a, r)| r.id == id && a.as_str() != address)
                .map(|(a, _)| a.clone())
        })
        .flatten();
    if let Some(other) = holder {
        let _ = ctx.store().finish(seq, address, Outcome::Unknown);
        return Err(ApplyError::IdHeld { id, other });
    }
    lock(&ctx.claimed).insert(id.clone());
    // The id is durable from here on. AEP's answer to a create holds only the id and etag:
    // the resource's state is recorded once AEP says it (read back at the end of the apply,
    // or while waiting for an initializing one), never assumed.
    let initializing = d.kind.initializes && etag.is_none();
    let mut record = super::record::applied(
        d,
        &resolved,
        &id,
        etag.as_deref(),
        None,
        &ctx.fingerprints,
        now_ms(),
    );
    for (k, v) in std::mem::take(&mut handed.attrs) {
        record.attrs.insert(k, v);
    }
    // A field an action changes is what AEP creates it as, until the action is taken.
    for f in d.kind.fields {
        if let Some(created) = super::action::created(f) {
            record
                .attrs
                .insert(f.path.to_owned(), serde_json::Value::Bool(created));
        }
    }
    ctx.finish(
        seq,
        address,
        Outcome::Done {
            record: Some(Box::new(record.clone())),
        },
    )
    .await
    .map_err(|source| ApplyError::Unrecorded {
        done: "created",
        id: id.clone(),
        key: d.key.clone(),
        source: Box::new(source),
    })?;
    if initializing {
        wait_enabled(ctx, address, d, &id, record).await?;
    }
    super::action::settle(ctx, address, d, &id, super::action::created).await?;
    ctx.progress.line(format!(
        "{address}: Creation complete after {} [id={id}]",
        elapsed(started.elapsed())
    ));
    Ok(id)
}

/// The deposed record follows what a hand-over did to its resource (a flow disabled: its
/// `enabled`, state and etag), so that it is no change outside flowform.
fn record_old(ctx: &Ctx, deposed: &str, handed: &crate::kind::HandedOver) -> Result<(), ApplyError> {
    if handed.old.is_empty() && handed.old_etag.is_none() {
        return Ok(());
    }
    let Some(mut record) = ctx.store().state().resources.get(deposed).cloned() else {
        return Ok(());
    };
    for (path, value) in &handed.old {
        record.attrs.insert((*path).to_owned(), value.clone());
        if let (Some(f), serde_json::Value::Bool(on)) = (record.kind.field(path), value)
            && let crate::kind::Type::Switch {
                on: shown_on,
                off: shown_off,
            } = f.ty
        {
            let shown = if *on { shown_on } else { shown_off };
            record.state = Some(crate::flow::model::ConnectionState::from(shown));
        }
    }
    if handed.old_etag.is_some() {
        record.etag = handed.old_etag.clone();
    }
    ctx.record(deposed, Some(record))
}

/// The resources of `d`'s kind, sandbox, scope and name: what an unknown create may have
/// made is among them ([`plan::interrupted_create`] tells which). The first scope field goes
/// in the filter; the others are matched on what comes back.
async fn find_created(ctx: &Ctx, d: &Resource, scope: &[String]) -> Result<Vec<LiveObject>, FlowError> {
    let mut filters = Vec::new();
    if let (Some(path), Some(value)) = (d.kind.scope.first(), scope.first())
        && let Some(name) = d.kind.filter_name(path)
    {
        filters.push(Filter::new(name, [value.clone()]));
    }
    // A comma separates alternatives in a filter: such a name is matched here instead.
    if !d.name().contains(',') {
        filters.push(Filter::new("name", [d.name().to_owned()]));
    }
    let wanted: Vec<String> = scope.iter().map(|s| s.to_lowercase()).collect();
    let listed = ctx
        .client
        .list_all(d.kind.collection, &d.sandbox, &filters)
        .await?;
    Ok(listed
        .into_iter()
        .filter(|l| plan::scopes_of(d.kind, l) == wanted)
        .collect())
}

/// Polls an initializing resource until it is enabled, then records its etag and state.
async fn wait_enabled(
    ctx: &Ctx,
    address: &str,
    d: &Resource,
    id: &str,
    mut record: Record,
) -> Result<(), ApplyError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    let mut said = Instant::now();
    loop {
        tokio::time::sleep(delay).await;
        delay = (delay.mul_f64(1.5)).min(Duration::from_secs(5));
        match ctx.client.get(d.kind.collection, &d.sandbox, id).await {
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
            Ok(None) => {
                return Err(ApplyError::Gone {
                    id: id.to_owned(),
                    when: "disappeared from AEP while initializing",
                });
            }
            Err(e) => return Err(e.into()),
        }
        if started.elapsed() >= ctx.options.wait_timeout {
            ctx.note(format!(
                "{address}: still initializing after {}; it is recorded, and the next apply records its etag once AEP has enabled it",
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
