//! Drift in text: a drifted resource's block (with who last changed it, as far as AEP
//! says), the plan's "Objects have changed outside of flowform" section, and the drift
//! report, each checked section counted and listed down to its one-line summary.

use std::fmt::Write;

use super::{BOLD, DIM, RED, YELLOW, change_block, field, move_block, paint};
use crate::plan::{Action, Drift, DriftKind, Mode, Plan};
use crate::render::{DriftReport, rfc3339};

/// "last changed at … by … in the AEP UI", as far as AEP says.
fn changed_by(drift: &Drift) -> Option<String> {
    let at = drift.updated_at.and_then(rfc3339)?;
    let by = drift
        .updated_by
        .as_deref()
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    let through = match drift.updated_client.as_deref() {
        _ if drift.by_flowform => " with flowform's own credential (an apply)".to_owned(),
        // Experience Cloud's own client id: a person in the AEP UI.
        Some("exc_app") => " in the AEP UI".to_owned(),
        Some(client) => format!(" through the API client `{client}`"),
        None => String::new(),
    };
    Some(format!("last changed at {at}{by}{through}"))
}

fn drift_block(out: &mut String, drift: &Drift) {
    let indent = "  ";
    match drift.kind {
        DriftKind::Deleted => {
            let _ = writeln!(
                out,
                "{indent}{}",
                paint(BOLD, &format!("# {} has been deleted", drift.address))
            );
            let _ = writeln!(
                out,
                "{indent}{} {} \"{}\" {{",
                paint(RED, "-"),
                crate::kind::address::kind_of(&drift.address).name,
                drift.address
            );
            let _ = writeln!(out, "{indent}      id = \"{}\"", drift.id);
        }
        DriftKind::Changed => {
            let _ = writeln!(
                out,
                "{indent}{}",
                paint(BOLD, &format!("# {} has changed", drift.address))
            );
            let _ = writeln!(
                out,
                "{indent}{} {} \"{}\" {{",
                paint(YELLOW, "~"),
                crate::kind::address::kind_of(&drift.address).name,
                drift.address
            );
            let width = drift
                .fields
                .iter()
                .map(|f| f.path.len())
                .max()
                .unwrap_or(2)
                .max(2);
            let _ = writeln!(out, "{indent}      {:<width$} = \"{}\"", "id", drift.id);
            for f in &drift.fields {
                let mut f = f.clone();
                f.origin = None;
                let moment = crate::kind::address::kind_of(&drift.address)
                    .field(&f.path)
                    .is_some_and(|d| matches!(d.ty, crate::kind::Type::Time));
                field(out, indent, Action::Update, &f, width, 0, moment);
            }
            // What changed is said field by field; an etag that moved with nothing to show
            // for it is a change AEP does not show, such as a secret.
            if drift.etag_changed && drift.fields.is_empty() {
                let what = if drift.secret_params.is_empty() {
                    "something AEP does not show".to_owned()
                } else {
                    format!(
                        "perhaps a secret, which AEP never shows ({})",
                        drift
                            .secret_params
                            .iter()
                            .map(|n| format!("`auth.params.{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let _ = writeln!(
                    out,
                    "{indent}      {}",
                    paint(
                        DIM,
                        &format!("# nothing AEP shows changed, yet its etag moved: {what}")
                    )
                );
            }
            if let Some(who) = changed_by(drift) {
                let _ = writeln!(out, "{indent}      {}", paint(DIM, &format!("# {who}")));
            }
            if let Some(gone) = &drift.dangling {
                let _ = writeln!(
                    out,
                    "{indent}      {}",
                    paint(
                        RED,
                        &format!("# dangling: it refers to `{gone}`, which AEP no longer has")
                    )
                );
            }
        }
    }
    let _ = writeln!(out, "{indent}  }}\n");
}

pub(super) fn drift_section(out: &mut String, plan: &Plan) {
    if plan.drift.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}\n",
        paint(BOLD, "Note: Objects have changed outside of flowform")
    );
    let _ = writeln!(
        out,
        "flowform detected the following changes made outside of flowform since the last \"flowform apply\":\n"
    );
    for d in &plan.drift {
        drift_block(out, d);
    }
    if plan.mode == Mode::RefreshOnly {
        let _ = writeln!(
            out,
            "This is a refresh-only plan: applying it makes the state match AEP, and changes nothing in AEP.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "Unless you have made equivalent changes to your configuration, or ignored the relevant attributes using `lifecycle.ignoreChanges`, the following plan may include actions to undo or respond to these changes.\n"
        );
        let _ = writeln!(out, "{}\n", "─".repeat(77));
    }
}

/// A section's heading with its count.
fn section(out: &mut String, title: &str, count: usize) {
    let _ = writeln!(out, "{}\n", paint(BOLD, &format!("{title}: {count}")));
}

/// A drift report: each checked section counted and listed, then one line that says it all.
pub fn drift(report: &DriftReport) -> String {
    let mut out = String::new();
    let total = report.managed + report.unmanaged.len();
    let _ = writeln!(
        out,
        "Found {total} resource{} in the declared sandboxes and specs: {} managed by flowform, {} not managed ({}% coverage).\n",
        if total == 1 { "" } else { "s" },
        report.managed,
        report.unmanaged.len(),
        report.coverage,
    );
    if report.sections.outside {
        section(
            &mut out,
            "Changed outside flowform (AEP differs from the state)",
            report.outside().len(),
        );
        for d in report.outside() {
            drift_block(&mut out, d);
        }
    }
    if report.sections.unapplied {
        section(
            &mut out,
            "Not yet applied (the configuration differs from the state)",
            report.unapplied_count(),
        );
        for m in report.moves_not_applied() {
            move_block(&mut out, m);
        }
        for change in report.not_applied() {
            change_block(&mut out, change, None);
        }
        for problem in report.problems() {
            let _ = writeln!(out, "  {} {}", paint(RED.bold(), "Error:"), problem.message);
            if let Some(help) = &problem.help {
                let _ = writeln!(out, "  help: {help}");
            }
            let _ = writeln!(out);
        }
        if report.unapplied_count() > 0 {
            let _ = writeln!(
                out,
                "  Run `flowform plan` to review these changes, and `flowform apply` to make them.\n"
            );
        }
    }
    if report.sections.unmanaged {
        section(
            &mut out,
            &format!(
                "Not managed by flowform{}",
                if report.ignore_unmanaged { " (ignored)" } else { "" }
            ),
            report.unmanaged().len(),
        );
        for u in report.unmanaged() {
            let what = match (&u.parent, crate::kind::by_name(&u.kind)) {
                (Some(parent), Some(kind)) => format!("{} of {parent}", kind.noun),
                _ => format!("spec {}", u.spec_id),
            };
            let _ = writeln!(out, "  {}/{}  \"{}\"  ({what})", u.sandbox, u.id, u.name);
        }
        if !report.unmanaged().is_empty() {
            let _ = writeln!(out, "\n  To manage one, declare it with `import: {{id: …}}`.\n");
        }
    }
    if let Some(check) = &report.credentials {
        section(
            &mut out,
            &format!(
                "Credentials rejected by their source (of {} tested)",
                check.tested
            ),
            check.rejected.len(),
        );
        for r in &check.rejected {
            let _ = writeln!(
                out,
                "  {} ({}) \"{}\": AEP's connection test failed; its source refuses the credentials flowform last sent (a password rotated at the source?)",
                r.address, r.id, r.name
            );
        }
        for (address, why) in &check.skipped {
            let _ = writeln!(out, "  {address}: not tested ({why})");
        }
        if !check.rejected.is_empty() {
            let _ = writeln!(
                out,
                "\n  Put the source's current credentials where the configuration references them, then `flowform apply`."
            );
        }
        if !check.rejected.is_empty() || !check.skipped.is_empty() {
            let _ = writeln!(out);
        }
    }
    if let Some(health) = &report.health {
        section(
            &mut out,
            &format!(
                "Dataflows not running as scheduled (of {} enabled)",
                health.checked
            ),
            health.unhealthy.len(),
        );
        for u in &health.unhealthy {
            let run = u
                .run
                .as_deref()
                .map(|r| format!(" [run {r}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} ({}) \"{}\": {}{run}",
                u.address, u.id, u.name, u.detail
            );
        }
        if !health.unhealthy.is_empty() {
            let _ = writeln!(
                out,
                "\n  `GET /runs?property=flowId==ID` has each one's runs; fix the cause, and the next scheduled run shows it.\n"
            );
        }
    }
    let _ = writeln!(out, "{}", paint(BOLD, &drift_summary(report)));
    out
}

/// The report's last line: `In sync.` or `Drift detected: …`, with each checked section's
/// count.
pub fn drift_summary(report: &DriftReport) -> String {
    let mut counts = Vec::new();
    if report.sections.outside {
        counts.push(format!("{} changed outside flowform", report.outside().len()));
    }
    if report.sections.unapplied {
        counts.push(format!("{} not yet applied", report.unapplied_count()));
    }
    if report.sections.unmanaged {
        counts.push(format!(
            "{} not managed{}",
            report.unmanaged().len(),
            if report.ignore_unmanaged { " (ignored)" } else { "" }
        ));
    }
    if let Some(check) = &report.credentials {
        counts.push(format!("{} with credentials rejected", check.rejected.len()));
    }
    if let Some(health) = &report.health {
        let n = health.unhealthy.len();
        counts.push(format!(
            "{n} dataflow{} not running as scheduled",
            if n == 1 { "" } else { "s" }
        ));
    }
    let status = if report.in_sync() {
        "In sync"
    } else {
        "Drift detected"
    };
    format!("{status}: {}.", counts.join(", "))
}
