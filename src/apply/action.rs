//! Fields changed by an action rather than a patch (a flow's `enabled`, by
//! `POST /flows/{id}/action?op=enable|disable`): after a create that made the resource
//! otherwise, and in an update. The record follows each action AEP confirms, so an apply
//! cut short between two steps leaves the state saying what AEP has.

use serde_json::Value;

use super::{ApplyError, Ctx};
use crate::config::Resource;
use crate::kind::{Field, Type, Update};

/// A field `f` of `d` is wanted `true` or `false`: the declared value, else its default.
fn wanted(d: &Resource, f: &Field) -> Option<bool> {
    d.value(f).and_then(|v| v.as_bool()).or(match f.default {
        crate::kind::Default::Value(json) => serde_json::from_str::<Value>(json).ok()?.as_bool(),
        _ => None,
    })
}

/// The action fields of `d`'s kind with what `have` says AEP has of each (`None`: unknown).
/// For each whose wanted value differs, the action is taken and recorded.
pub(super) async fn settle(
    ctx: &Ctx,
    address: &str,
    d: &Resource,
    id: &str,
    have: impl Fn(&'static Field) -> Option<bool>,
) -> Result<(), ApplyError> {
    for f in d.kind.fields {
        let (
            Update::Action { on, off, .. },
            Type::Switch {
                on: shown_on,
                off: shown_off,
            },
        ) = (f.update, &f.ty)
        else {
            continue;
        };
        let Some(want) = wanted(d, f) else { continue };
        if have(f) == Some(want) {
            continue;
        }
        let op = if want { on } else { off };
        ctx.progress
            .line(format!("{address}: {}... [id={id}]", capitalised(op)));
        let etag = match ctx.client.action(d.kind.collection, &d.sandbox, id, op).await {
            Ok(etag) => etag,
            Err(e) => {
                // An action whose answer was lost and that was sent again is refused as a
                // transition to where it already is: what AEP shows decides.
                let live = ctx.read(d.kind, &d.sandbox, id).await?;
                let shown = live.at(f.api).and_then(|v| v.as_str().map(str::to_owned));
                let there = if want { *shown_on } else { *shown_off };
                if shown.as_deref() != Some(there) {
                    return Err(e.into());
                }
                live.etag
            }
        };
        let mut record = ctx
            .store()
            .state()
            .resources
            .get(address)
            .cloned()
            .ok_or_else(|| ApplyError::NotDeclared {
                address: address.to_owned(),
            })?;
        record.attrs.insert(f.path.to_owned(), Value::Bool(want));
        if etag.is_some() {
            record.etag = etag;
        }
        let state = if want { *shown_on } else { *shown_off };
        record.state = Some(crate::flow::model::ConnectionState::from(state));
        ctx.record(address, Some(record))?;
        ctx.progress.line(format!("{address}: {op}d [id={id}]"));
    }
    Ok(())
}

/// What a kind's resource is created as, for its action fields (a flow: enabled).
pub(super) fn created(f: &Field) -> Option<bool> {
    match f.update {
        Update::Action { created, .. } => Some(created),
        _ => None,
    }
}

/// `enable` → `Enabling`, as progress lines say what is under way.
fn capitalised(op: &str) -> String {
    let stem = op.strip_suffix('e').unwrap_or(op);
    let mut chars = stem.chars();
    match chars.next() {
        Some(c) => format!("{}{}ing", c.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}
