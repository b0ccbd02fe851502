//! The requests an apply sends: the body of a create and the JSON Patch of an update. With
//! [`params_to_send`], the only place where a secret leaves flowform.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::config::{Connection, Param};
use crate::flow::model::is_masked;
use crate::flow::model::{LiveConnection, PatchKind, PatchOp};
use crate::plan::{self, Change};
use crate::state::Record;

/// The params a create or an update sends: plain values and secrets, in clear. The only
/// place, with [`patch_ops`], where a secret leaves flowform.
pub(super) fn params_to_send(conn: &Connection) -> Map<String, Value> {
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
pub(super) fn patch_ops(
    change: &Change,
    conn: &Connection,
    live: &LiveConnection,
    recorded: Option<&Record>,
) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let changes = |path: &str| change.fields.iter().any(|f| f.path == path);
    if changes("name") {
        ops.push(PatchOp {
            op: PatchKind::Replace,
            path: "/name".into(),
            value: Some(Value::String(conn.name.clone())),
        });
    }
    if changes("description") {
        match (&conn.description, &live.description) {
            (Some(d), _) => ops.push(PatchOp {
                op: PatchKind::Add,
                path: "/description".into(),
                value: Some(Value::String(d.clone())),
            }),
            (None, Some(_)) => ops.push(PatchOp {
                op: PatchKind::Remove,
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
                    .filter(|v| !is_masked(v))
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
                if !conn.auth.params.contains_key(name) && !managed.contains(name) && !is_masked(value) {
                    params.insert(name.clone(), value.clone());
                }
            }
        }
        ops.push(PatchOp {
            op: PatchKind::Replace,
            path: "/auth/params".into(),
            value: Some(Value::Object(params)),
        });
    }
    ops
}
