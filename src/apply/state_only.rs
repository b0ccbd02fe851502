//! What an apply changes in the state alone, sending nothing to AEP: lifecycle flags and
//! secret fingerprints kept current, and `apply --refresh-only`.

use super::{ApplyError, Ctx};
use crate::config::Desired;
use crate::flow::model::{ConnectionState, is_masked};
use crate::kind::Type;
use crate::plan::{Change, Live, Plan};
use crate::state::Store;
use crate::state::file::StateError;

/// Records what changes in the state alone: the declared lifecycle flags of managed
/// connections (a change to `protect` changes nothing in AEP, but the state must remember
/// it), and secret fingerprints made in an older scheme (or before `FLOWFORM_DIGEST_KEY` was
/// set), made anew when the declared secrets are still the ones they fingerprint. Returns how
/// many records changed.
pub fn sync_lifecycle(desired: &Desired, store: &mut Store) -> Result<usize, StateError> {
    store.edit(|state| {
        let mut changed = 0;
        let mut refingerprinted = Vec::new();
        for (address, conn) in &desired.resources {
            let Some(r) = state.resources.get(address) else {
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
                state.resources.insert(address.clone(), r);
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
/// values of the fields that change in place, deleted ones go. Nothing is sent to AEP.
pub fn accept_live(plan: &Plan, live: &Live, store: &mut Store) -> Result<usize, StateError> {
    let mut changed = 0;
    store.edit(|state| {
        for drift in &plan.drift {
            match live.objects.get(&drift.id) {
                None => {
                    state.resources.remove(&drift.address);
                }
                Some(seen) => {
                    let l = &seen.object;
                    if let Some(r) = state.resources.get_mut(&drift.address) {
                        r.name = l.name.clone();
                        r.etag = l.etag.clone();
                        if l.state.is_some() {
                            r.state = l.state.clone();
                        }
                        r.updated_at = l.updated_at;
                        for f in r
                            .kind
                            .fields
                            .iter()
                            .filter(|f| f.update.in_place() && f.path != "name")
                        {
                            if let Type::Params = f.ty {
                                let live_params = l.at(f.api);
                                if let Some(params) =
                                    r.attrs.get_mut(f.path).and_then(serde_json::Value::as_object_mut)
                                {
                                    for (name, value) in params.iter_mut() {
                                        if let Some(v) = live_params
                                            .as_ref()
                                            .and_then(|p| p.get(name))
                                            .filter(|v| !is_masked(v))
                                        {
                                            *value = v.clone();
                                        }
                                    }
                                }
                                continue;
                            }
                            match l.at(f.api).filter(|v| !v.is_null()) {
                                Some(v) => {
                                    r.attrs.insert(f.path.to_owned(), v);
                                }
                                None => {
                                    r.attrs.remove(f.path);
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

/// Records what AEP moved on its own since flowform last looked: a resource recorded while
/// `initializing` (no etag yet) that AEP has since enabled gets its etag, state and
/// timestamps, so that what changes next is seen. Nothing is sent to AEP. Returns how many.
pub fn settle(live: &Live, store: &mut Store) -> Result<usize, StateError> {
    store.edit(|state| {
        let mut settled = 0;
        for r in state.resources.values_mut() {
            if r.etag.is_some() && r.state != Some(ConnectionState::Initializing) {
                continue;
            }
            let Some(seen) = live.objects.get(&r.id) else {
                continue;
            };
            let l = &seen.object;
            if seen.sandbox != r.sandbox || l.is_initializing() || l.etag.is_none() {
                continue;
            }
            r.etag = l.etag.clone();
            r.state = l.state.clone();
            r.created_at = l.created_at;
            r.updated_at = l.updated_at;
            settled += 1;
        }
        settled
    })
}

/// Carries out a state-only change (`lifecycle.protect`): the record takes each field's
/// `after`, and nothing is sent to AEP. A field the state does not keep (a hand-edited plan)
/// is refused before anything changes.
pub(super) fn record_change(ctx: &Ctx, change: &Change) -> Result<(), ApplyError> {
    let Some(mut record) = ctx.store().state().resources.get(&change.address).cloned() else {
        return Err(ApplyError::NotInState {
            address: change.address.clone(),
        });
    };
    for field in &change.fields {
        match (
            field.path.as_str(),
            field.after.as_ref().and_then(serde_json::Value::as_bool),
        ) {
            ("lifecycle.protect", Some(protect)) => record.protect = protect,
            _ => {
                return Err(ApplyError::NotRecordable {
                    path: field.path.clone(),
                });
            }
        }
    }
    ctx.record(&change.address, Some(record))?;
    ctx.progress.line(format!(
        "{}: recorded in the state ({}); nothing was sent to AEP",
        change.address,
        change
            .fields
            .iter()
            .map(|f| format!(
                "{} = {}",
                f.path,
                f.after.as_ref().map_or("null".to_owned(), ToString::to_string)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}
