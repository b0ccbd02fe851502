//! The JSON render: versioned, in the spirit of `terraform show -json` (`resource_changes`,
//! `resource_drift`, `actions`, `action_reason`, `before`/`after` with `*_sensitive`). Its
//! schema is documented in the README.

use serde_json::{Map, Value, json};

use super::DriftReport;
use crate::plan::{Action, Change, Drift, DriftKind, Field, Plan};

/// `before` and `after` as nested objects (`auth.params.username` → `{"auth": {"params":
/// {"username": …}}}`), and which leaves are sensitive.
fn sides(fields: &[Field]) -> (Value, Value, Value) {
    let (mut before, mut after, mut sensitive) = (Map::new(), Map::new(), Map::new());
    for f in fields {
        if f.sensitive {
            insert(&mut sensitive, &f.path, Value::Bool(true));
            continue;
        }
        if let Some(b) = &f.before {
            insert(&mut before, &f.path, b.clone());
        }
        if let Some(a) = &f.after {
            insert(&mut after, &f.path, a.clone());
        }
    }
    (
        Value::Object(before),
        Value::Object(after),
        Value::Object(sensitive),
    )
}

fn insert(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        // Params are one level under auth.params, whatever their name holds.
        Some(("auth", rest)) if rest.starts_with("params.") => {
            let inner = map.entry("auth").or_insert_with(|| json!({}));
            let params = inner
                .as_object_mut()
                .map(|m| m.entry("params").or_insert_with(|| json!({})));
            if let Some(Value::Object(p)) = params {
                p.insert(rest["params.".len()..].to_owned(), value);
            }
        }
        Some((head, rest)) => {
            let inner = map.entry(head).or_insert_with(|| json!({}));
            if let Value::Object(m) = inner {
                insert(m, rest, value);
            }
        }
        None => {
            map.insert(path.to_owned(), value);
        }
    }
}

fn change(c: &Change, moved_from: Option<&str>) -> Value {
    let (before, after, sensitive) = sides(&c.fields);
    // Terraform shows an import as the action done to the imported object, with `importing`.
    let (actions, importing) = match c.action {
        Action::Adopt if c.then_update => (json!(["update"]), json!({"id": c.id})),
        Action::Adopt => (json!(["no-op"]), json!({"id": c.id})),
        other => (json!(other.terraform_actions()), Value::Null),
    };
    json!({
        "address": c.address,
        "previous_address": moved_from,
        "kind": c.kind().name,
        "key": c.key,
        "sandbox": c.sandbox,
        "id": c.id,
        "name": c.name,
        "actions": actions,
        "importing": importing,
        "action_reason": c.reason,
        "change": {
            "before": before,
            "after": after,
            "sensitive": sensitive,
            "secrets_changed": c.fields.iter().any(|f| f.sensitive),
            "resend_secrets": c.resend_secrets,
            "fields": c.fields,
            "unchanged": c.unchanged,
        },
        "etag": c.etag,
        "then_update": c.then_update,
        "initializing": c.initializing,
        "depends_on": c.depends_on,
        "cause": c.cause,
        "notes": c.notes,
    })
}

fn drift(d: &Drift) -> Value {
    let (before, after, _) = sides(&d.fields);
    json!({
        "address": d.address,
        "kind": crate::kind::address::kind_of(&d.address).name,
        "id": d.id,
        "actions": match d.kind { DriftKind::Changed => ["update"], DriftKind::Deleted => ["delete"] },
        "change": {"before": before, "after": after, "fields": d.fields},
        "etag_changed": d.etag_changed,
        "updated_at": d.updated_at,
        "updated_by": d.updated_by,
        "updated_client": d.updated_client,
        "dangling": d.dangling,
    })
}

pub fn plan_value(plan: &Plan) -> Value {
    let s = plan.summary();
    let moves = crate::plan::moves_by_target(&plan.moves);
    json!({
        "format_version": plan.format_version,
        "flowform_version": env!("CARGO_PKG_VERSION"),
        "mode": plan.mode,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "config_digest": plan.config_digest,
        "refreshed": plan.refreshed,
        "applyable": plan.errors.is_empty() && plan.has_changes(),
        "errored": !plan.errors.is_empty(),
        "resource_changes": plan
            .changes
            .iter()
            .map(|c| change(c, moves.get(c.address.as_str()).map(|m| m.from.as_str())))
            .collect::<Vec<_>>(),
        "moves": plan.moves,
        "resource_drift": plan.drift.iter().map(drift).collect::<Vec<_>>(),
        "warnings": plan.warnings,
        "errors": plan.errors,
        "summary": {"import": s.import, "add": s.add, "change": s.change, "destroy": s.destroy, "move": s.moved, "forget": s.forget, "state_only": s.state_only},
        "summary_line": super::summary_line(plan),
    })
}

pub fn plan(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(&plan_value(plan)).unwrap_or_default();
    text.push('\n');
    text
}

/// `flowform drift --format json`: each section checked, counted and listed (a section not
/// checked, by `--only`, says `"checked": false` and lists nothing).
pub fn drift_report(report: &DriftReport) -> String {
    let credentials = match &report.credentials {
        Some(check) => json!({
            "checked": true,
            "count": check.rejected.len(),
            "tested": check.tested,
            "rejected": check.rejected,
            "skipped": check.skipped.iter().map(|(address, why)| json!({"address": address, "reason": why})).collect::<Vec<_>>(),
        }),
        None => json!({"checked": false}),
    };
    let dataflows = match &report.health {
        Some(health) => json!({
            "checked": true,
            "count": health.unhealthy.len(),
            "enabled": health.checked,
            "unhealthy": health.unhealthy,
        }),
        None => json!({"checked": false}),
    };
    let value = json!({
        "format_version": crate::plan::FORMAT_VERSION,
        "in_sync": report.in_sync(),
        "summary": {
            "total": report.managed + report.unmanaged.len(),
            "managed": report.managed,
            "unmanaged": report.unmanaged.len(),
            "missing": report.missing,
            "changed": report.changed,
            "unapplied": report.unapplied_count(),
            "credentials_rejected": report.rejected().len(),
            "dataflows_unhealthy": report.unhealthy().len(),
            "coverage": report.coverage,
        },
        "summary_line": super::text::drift_summary(report),
        "outside": {
            "checked": report.sections.outside,
            "count": report.outside().len(),
            "resource_drift": report.outside().iter().map(drift).collect::<Vec<_>>(),
        },
        "unapplied": {
            "checked": report.sections.unapplied,
            "count": report.unapplied_count(),
            "resource_changes": report.not_applied().iter().map(|c| change(c, None)).collect::<Vec<_>>(),
            "moves": report.moves_not_applied(),
            "errors": report.problems(),
        },
        "unmanaged": {
            "checked": report.sections.unmanaged,
            "count": report.unmanaged().len(),
            "ignored": report.ignore_unmanaged,
            "connections": report.unmanaged(),
        },
        "credentials": credentials,
        "dataflows": dataflows,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
