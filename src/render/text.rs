//! The text render, in Terraform's idiom: a drift section, then `# X will be …` blocks with
//! `+`, `~`, `-`, `+/-` markers and per-field `before -> after`, then the summary line.
//!
//! Colour is ANSI written unconditionally; the caller's stream (anstream) strips it when the
//! output is not a terminal or `NO_COLOR` is set.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::{DriftReport, show, summary_line};
use crate::plan::{Action, Change, Drift, DriftKind, Field, Mode, Origin, Plan, Reason};

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn paint(style: Style, text: &str) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

fn symbol(action: Action, then_update: bool) -> (&'static str, Style) {
    match action {
        Action::Create => ("+", GREEN),
        Action::Update => ("~", YELLOW),
        Action::Replace => ("+/-", YELLOW),
        Action::Delete => ("-", RED),
        Action::Adopt if then_update => ("~", YELLOW),
        Action::Adopt => ("=", GREEN),
        Action::Forget => (".", DIM),
        Action::NoOp => (" ", Style::new()),
    }
}

fn header(change: &Change) -> Vec<String> {
    let a = &change.address;
    let mut lines = match change.action {
        Action::Create => vec![format!("# {a} will be created")],
        Action::Update => vec![format!("# {a} will be updated in-place")],
        Action::Replace => vec![format!("# {a} must be replaced")],
        Action::Delete => vec![format!("# {a} will be destroyed")],
        Action::Adopt if change.then_update => vec![format!("# {a} will be imported, then updated in-place")],
        Action::Adopt => vec![format!("# {a} will be imported")],
        Action::Forget => vec![format!("# {a} will no longer be managed by flowform")],
        Action::NoOp => vec![format!("# {a} is unchanged")],
    };
    let because = match change.reason {
        Some(Reason::RecreateBecauseDeletedOutside) => {
            Some("because it was deleted outside flowform".to_owned())
        }
        Some(Reason::DeleteBecauseNoResourceConfig) if a.ends_with("#deposed") => {
            Some("left over from a replacement whose delete did not complete".to_owned())
        }
        Some(Reason::DeleteBecauseNoResourceConfig) => {
            Some(format!("because {a} is not in the configuration"))
        }
        Some(Reason::ForgetBecauseDeletedOutside) => {
            Some("because it was deleted outside flowform".to_owned())
        }
        Some(Reason::ImportBecauseImportBlock) => {
            change.id.as_ref().map(|id| format!("imported from \"{id}\""))
        }
        Some(Reason::ImportBecauseRecoveredFromInterruptedApply) => change
            .id
            .as_ref()
            .map(|id| format!("adopted: recovered from an interrupted apply, as \"{id}\"")),
        Some(Reason::UpdateBecauseChangedOutside) => Some("because it changed outside flowform".to_owned()),
        Some(Reason::ReplaceBecauseCannotUpdate) => {
            Some("because its connection spec or auth spec cannot change in place".to_owned())
        }
        Some(Reason::DeleteBecauseDestroy) | None => None,
    };
    if let Some(because) = because {
        lines.push(format!("# ({because})"));
    }
    lines
}

/// One field line (or several, for a multi-line string), at `indent`.
fn field(out: &mut String, indent: &str, action: Action, f: &Field, width: usize) {
    let (mark, style) = if f.forces_replacement {
        ("~", YELLOW)
    } else {
        match (action, &f.before, &f.after, f.sensitive) {
            (Action::Delete | Action::Forget, ..) => ("-", RED),
            (Action::Create | Action::Replace, None, _, _) => ("+", GREEN),
            (_, None, Some(_), false) => ("+", GREEN),
            (_, Some(_), None, false) => ("-", RED),
            _ => ("~", YELLOW),
        }
    };
    let name = format!("{:<width$}", f.path);
    let value = if f.sensitive {
        "(sensitive value)".to_owned()
    } else {
        match (&f.before, &f.after) {
            (Some(b), Some(a))
                if b.as_str().is_some_and(|s| s.contains('\n'))
                    || a.as_str().is_some_and(|s| s.contains('\n')) =>
            {
                let mut block = "<<-EOT\n".to_owned();
                let (before, after) = (b.as_str().unwrap_or_default(), a.as_str().unwrap_or_default());
                for change in TextDiff::from_lines(before, after).iter_all_changes() {
                    let (sign, style) = match change.tag() {
                        ChangeTag::Delete => ("- ", RED),
                        ChangeTag::Insert => ("+ ", GREEN),
                        ChangeTag::Equal => ("  ", Style::new()),
                    };
                    let line = change.value().trim_end_matches('\n');
                    let _ = writeln!(
                        block,
                        "{indent}          {}",
                        paint(style, &format!("{sign}{line}"))
                    );
                }
                let _ = write!(block, "{indent}        EOT");
                block
            }
            (Some(b), Some(a)) => format!("{} -> {}", show(b), show(a)),
            (None, Some(a)) => multiline(a, indent),
            (Some(b), None) if matches!(action, Action::Delete | Action::Forget) => multiline(b, indent),
            (Some(b), None) => format!("{} -> null", show(b)),
            (None, None) => "(known after apply)".to_owned(),
        }
    };
    let mut comment = String::new();
    if f.forces_replacement {
        comment = paint(RED, " # forces replacement");
    } else if f.origin == Some(Origin::Outside) {
        // A secret cannot be read back: that it changed outside is a guess, and says so.
        comment = paint(
            DIM,
            if f.sensitive {
                " # may have changed outside flowform"
            } else {
                " # changed outside flowform"
            },
        );
    }
    let _ = writeln!(
        out,
        "{indent}    {} {name} = {value}{comment}",
        paint(style, mark)
    );
}

/// A string with line breaks as a heredoc; anything else on one line.
fn multiline(value: &serde_json::Value, indent: &str) -> String {
    match value.as_str() {
        Some(s) if s.contains('\n') => {
            let mut block = "<<-EOT\n".to_owned();
            for line in s.trim_end_matches('\n').lines() {
                let _ = writeln!(block, "{indent}            {line}");
            }
            let _ = write!(block, "{indent}        EOT");
            block
        }
        _ => show(value),
    }
}

fn change_block(out: &mut String, change: &Change) {
    let indent = "  ";
    for line in header(change) {
        let _ = writeln!(out, "{indent}{}", paint(BOLD, &line));
    }
    let (mark, style) = symbol(change.action, change.then_update);
    let _ = writeln!(
        out,
        "{indent}{} connection \"{}\" {{",
        paint(style, mark),
        change.address
    );
    let width = change
        .fields
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(0)
        .max(if change.id.is_some() { 2 } else { 0 });
    if let Some(id) = &change.id {
        let _ = writeln!(out, "{indent}      {:<width$} = \"{id}\"", "id");
    }
    for f in &change.fields {
        field(out, indent, change.action, f, width);
    }
    if change.unchanged > 0 {
        let s = if change.unchanged == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "{indent}      {}",
            paint(
                DIM,
                &format!("# ({} unchanged attribute{s} hidden)", change.unchanged)
            )
        );
    }
    if change.resend_secrets && matches!(change.action, Action::Update | Action::Adopt) {
        let _ = writeln!(
            out,
            "{indent}      {}",
            paint(DIM, "# the auth params are sent whole, secrets included")
        );
    }
    for note in &change.notes {
        let _ = writeln!(out, "{indent}      {}", paint(DIM, &format!("# {note}")));
    }
    let _ = writeln!(out, "{indent}  }}\n");
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
                "{indent}{} connection \"{}\" {{",
                paint(RED, "-"),
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
                "{indent}{} connection \"{}\" {{",
                paint(YELLOW, "~"),
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
                field(out, indent, Action::Update, &f, width);
            }
            if drift.etag_changed {
                let _ = writeln!(
                    out,
                    "{indent}      {}",
                    paint(DIM, "# its etag changed: something changed, perhaps a secret")
                );
            }
        }
    }
    let _ = writeln!(out, "{indent}  }}\n");
}

fn drift_section(out: &mut String, plan: &Plan) {
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

/// The legend of the symbols this plan uses.
fn legend(out: &mut String, plan: &Plan) {
    let mut seen: Vec<(&str, Style, &str)> = Vec::new();
    for c in plan.actions() {
        let (mark, style) = symbol(c.action, c.then_update);
        let meaning = match (c.action, c.then_update) {
            (Action::Create, _) => "create",
            (Action::Update, _) | (Action::Adopt, true) => "update in-place",
            (Action::Replace, _) => "create replacement and then destroy",
            (Action::Delete, _) => "destroy",
            (Action::Adopt, false) => "import",
            (Action::Forget, _) => "forget (no longer managed, not destroyed)",
            (Action::NoOp, _) => continue,
        };
        if !seen.iter().any(|(m, ..)| *m == mark) {
            seen.push((mark, style, meaning));
        }
    }
    let order = ["+", "~", "+/-", "-", "=", "."];
    seen.sort_by_key(|(m, ..)| order.iter().position(|o| o == m));
    let _ = writeln!(
        out,
        "Connection actions are indicated with the following symbols:"
    );
    for (mark, style, meaning) in seen {
        let _ = writeln!(out, "  {} {meaning}", paint(style, mark));
    }
    let _ = writeln!(out, "\nflowform will perform the following actions:\n");
}

/// The whole plan.
pub fn plan(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.refreshed {
        let _ = writeln!(
            out,
            "{}\n",
            paint(
                YELLOW,
                "Note: AEP was not read (--refresh=false); this plan compares the configuration with the state alone."
            )
        );
    }
    drift_section(&mut out, plan);
    if plan.actions().next().is_some() {
        legend(&mut out, plan);
        for change in plan.actions() {
            change_block(&mut out, change);
        }
    }
    for c in plan.changes.iter().filter(|c| c.initializing && !c.is_change()) {
        let _ = writeln!(
            out,
            "Note: {} is initializing in AEP; flowform will not update it until it is enabled.\n",
            c.address
        );
    }
    if plan.errors.is_empty() {
        let _ = writeln!(out, "{}", paint(BOLD, &summary_line(plan)));
    }
    for warning in &plan.warnings {
        let _ = writeln!(out, "\n{} {warning}", paint(YELLOW.bold(), "warning:"));
    }
    for error in &plan.errors {
        let _ = writeln!(out, "\n{} {}", paint(RED.bold(), "error:"), error.message);
        if let Some(help) = &error.help {
            let _ = writeln!(out, "help: {help}");
        }
    }
    out
}

/// A drift report.
pub fn drift(report: &DriftReport) -> String {
    let mut out = String::new();
    let total = report.managed + report.unmanaged.len();
    let _ = writeln!(
        out,
        "Found {total} connection{} in the declared sandboxes and connection specs: {} managed by flowform, {} not managed ({}% coverage). {} managed connection{} missing from AEP, {} changed outside flowform.\n",
        if total == 1 { "" } else { "s" },
        report.managed,
        report.unmanaged.len(),
        report.coverage,
        report.missing,
        if report.missing == 1 { " is" } else { "s are" },
        report.changed,
    );
    for d in report.drift() {
        drift_block(&mut out, d);
    }
    if !report.unmanaged.is_empty() {
        let _ = writeln!(
            out,
            "Connections not managed by flowform{}:",
            if report.ignore_unmanaged { " (ignored)" } else { "" }
        );
        for u in &report.unmanaged {
            let _ = writeln!(
                out,
                "  {}/{}  \"{}\"  (spec {})",
                u.sandbox, u.id, u.name, u.spec_id
            );
        }
        let _ = writeln!(out, "\nTo manage one, declare it with `import: {{id: …}}`.\n");
    }
    if report.in_sync() {
        let _ = writeln!(out, "{}", paint(BOLD, "In sync: AEP matches the state."));
    } else {
        let _ = writeln!(out, "{}", paint(BOLD, "Drift detected."));
    }
    out
}
