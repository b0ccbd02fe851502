//! Comparing a declared connection with what AEP has (or, without a refresh, with what the
//! state recorded), field by field, saying where each difference came from.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Field, Origin};
use crate::config::Connection;
use crate::flow::model::{LiveConnection, is_masked};
use crate::state::Record;

pub(super) fn sensitive_field(name: &str, origin: Option<Origin>) -> Field {
    Field {
        path: format!("auth.params.{name}"),
        before: None,
        after: None,
        sensitive: true,
        origin,
        forces_replacement: false,
        removed: false,
    }
}

pub(super) fn text(v: &str) -> Value {
    Value::String(v.to_owned())
}

pub(super) fn opt_text(v: Option<&str>) -> Option<Value> {
    v.map(text)
}

/// Whether `conn`'s `lifecycle.ignoreChanges` covers `path`.
pub fn ignored(conn: &Connection, path: &str) -> bool {
    let ignore = &conn.lifecycle.ignore_changes;
    ignore.contains(path) || (path.starts_with("auth.params.") && ignore.contains("auth.params"))
}

/// Compares what is declared with what AEP has, field by field (declared params only:
/// AEP adds its own, such as `orgId`). `r`, when given, says whether a difference came from
/// the configuration (it differs from what was applied) or from outside.
pub(super) fn compare(d: &Connection, r: Option<&Record>, l: &LiveConnection) -> (Vec<Field>, usize) {
    let split = d.split_params();
    let (plain, secret_names) = (&split.plain, &split.secret_names);
    let mut fields = Vec::new();
    let mut unchanged = 0;
    let mut consider = |path: String, applied: Option<Value>, now: Option<Value>, want: Option<Value>| {
        if ignored(d, &path) {
            return;
        }
        if now == want {
            unchanged += 1;
            return;
        }
        let origin = match r {
            Some(_) if applied != want => Origin::Config,
            Some(_) => Origin::Outside,
            None => Origin::Config,
        };
        fields.push(Field {
            path,
            before: now,
            after: want,
            sensitive: false,
            origin: Some(origin),
            forces_replacement: false,
            removed: false,
        });
    };
    consider(
        "name".into(),
        r.map(|r| text(&r.name)),
        Some(text(&l.name)),
        Some(text(&d.name)),
    );
    consider(
        "description".into(),
        r.and_then(|r| opt_text(r.description.as_deref())),
        opt_text(l.description.as_deref()),
        opt_text(d.description.as_deref()),
    );
    let live_params = l.auth.as_ref().map(|a| &a.params);
    let mut names: BTreeSet<&String> = plain.keys().collect();
    if let Some(r) = r {
        names.extend(r.params.keys().filter(|k| !secret_names.contains(*k)));
    }
    for name in names {
        let now = live_params
            .and_then(|p| p.get(name))
            .filter(|v| !is_masked(v))
            .cloned();
        let applied = r.and_then(|r| r.params.get(name)).cloned();
        consider(
            format!("auth.params.{name}"),
            applied,
            now,
            plain.get(name).cloned(),
        );
    }
    (fields, unchanged)
}

/// Without a refresh: the declared connection against what the state recorded.
pub(super) fn compare_recorded(d: &Connection, r: &Record) -> (Vec<Field>, usize) {
    let live = LiveConnection {
        id: r.id.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        connection_spec: None,
        state: r.state.clone(),
        auth: Some(crate::flow::model::LiveAuth {
            spec_name: r.auth_spec_name.clone(),
            params: r.params.clone(),
        }),
        etag: r.etag.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        created_client: None,
        updated_client: None,
        updated_by: None,
        sandbox_name: Some(r.sandbox.clone()),
    };
    let (mut fields, unchanged) = compare(d, Some(r), &live);
    for f in &mut fields {
        f.origin = Some(Origin::Config);
    }
    (fields, unchanged)
}
