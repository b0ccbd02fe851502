//! The text render, in Terraform's idiom: a drift section, then `# X will be …` blocks with
//! `+`, `~`, `-`, `+/-` markers and per-field `before -> after`, then the summary line.
//!
//! Colour is ANSI written unconditionally; the caller's stream (anstream) strips it when the
//! output is not a terminal or `NO_COLOR` is set. Drift, in a plan and in a drift report, is
//! rendered in `drift`.

mod drift;

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use self::drift::drift_section;
pub use self::drift::{drift, drift_summary};
use super::{show, summary_line};
use crate::plan::{Action, Change, Field, Move, Origin, Plan, Reason, moves_by_target};

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
        Action::StateOnly => ("~", DIM),
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
        Action::StateOnly => vec![format!("# {a} will change in the state only")],
        Action::NoOp => vec![format!("# {a} is unchanged")],
    };
    if let Some(because) = because(change) {
        lines.push(format!("# ({because})"));
    }
    lines
}

/// Why a change is made, where the plan says it: `because its table cannot change in place`.
pub(crate) fn because(change: &Change) -> Option<String> {
    let a = &change.address;
    match change.reason {
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
        Some(Reason::ForgetBecauseUndeletable) => {
            Some("because AEP has no DELETE for it: AEP keeps it, nothing is sent".to_owned())
        }
        Some(Reason::ForgetBecauseRemoved) => {
            Some("because of a `removed` entry: AEP keeps it, nothing is sent".to_owned())
        }
        Some(Reason::ImportBecauseImportBlock) => {
            change.id.as_ref().map(|id| format!("imported from \"{id}\""))
        }
        Some(Reason::ImportBecauseRecoveredFromInterruptedApply) => change
            .id
            .as_ref()
            .map(|id| format!("adopted: recovered from an interrupted apply, as \"{id}\"")),
        Some(Reason::UpdateBecauseChangedOutside) => Some("because it changed outside flowform".to_owned()),
        Some(Reason::ReplaceBecauseCannotUpdate) => Some(match change.kind().is_default() {
            true => "because its connection spec or auth spec cannot change in place".to_owned(),
            false => format!(
                "because {} cannot change in place",
                change
                    .fields
                    .iter()
                    .filter(|f| f.forces_replacement)
                    .map(|f| format!("`{}`", f.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        Some(Reason::ReplaceByRequest) => Some("as requested with --replace".to_owned()),
        Some(Reason::ReplaceBecauseDependencyReplaced) => Some(format!(
            "because {} gets a new id, and AEP cannot point it at the new one in place",
            change.cause.as_deref().unwrap_or("what it refers to")
        )),
        Some(Reason::DeleteBecauseDestroy) | None => None,
    }
}

/// One field line (or several, for a multi-line string), at `indent`.
/// `secrets_together`: how many secrets of the change changed by one fingerprint (when more
/// than one, each line says it may not be the one).
/// `moment`: the field is a moment in epoch seconds, also shown in RFC 3339.
fn field(
    out: &mut String,
    indent: &str,
    action: Action,
    f: &Field,
    width: usize,
    secrets_together: usize,
    moment: bool,
) {
    let (mark, style) = if f.forces_replacement {
        ("~", YELLOW)
    } else if f.removed {
        ("-", RED)
    } else {
        match (action, &f.before, &f.after, f.sensitive) {
            (Action::Delete, ..) => ("-", RED),
            // Nothing is deleted: what the connection is, shown unmarked (a `-` is red in a
            // PR comment's diff).
            (Action::Forget, ..) => (" ", DIM),
            (Action::Create | Action::Replace, None, _, _) => ("+", GREEN),
            (_, None, Some(_), false) => ("+", GREEN),
            (_, None, None, false) if f.unknown => ("+", GREEN),
            (_, Some(_), None, false) if !f.unknown => ("-", RED),
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
            (Some(serde_json::Value::Array(b)), Some(serde_json::Value::Array(a)))
                if b.iter().chain(a).any(serde_json::Value::is_object) =>
            {
                rows(b, a, indent)
            }
            (Some(b), Some(a)) => format!("{} -> {}", show(b), show(a)),
            (None, Some(serde_json::Value::Array(a))) if a.iter().any(serde_json::Value::is_object) => {
                rows(&[], a, indent)
            }
            (None, Some(a)) => multiline(a, indent),
            (Some(b), None) if matches!(action, Action::Delete | Action::Forget) || f.removed => {
                multiline(b, indent)
            }
            (Some(b), None) if f.unknown => format!("{} -> (known after apply)", show(b)),
            (Some(b), None) => format!("{} -> null", show(b)),
            (None, None) => "(known after apply)".to_owned(),
        }
    };
    let mut comment = String::new();
    let when = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(serde_json::Value::as_i64)
            .filter(|s| *s >= 0)
            .map(crate::reader::rfc3339)
    };
    if moment && let Some(at) = when(&f.after).or_else(|| when(&f.before)) {
        comment = paint(DIM, &format!(" # {at}"));
    }
    if f.forces_replacement {
        comment = paint(RED, " # forces replacement");
    } else if f.removed {
        comment = paint(DIM, " # the new connection will not have it");
    } else if f.path.starts_with("lifecycle.") {
        comment = paint(DIM, " # in the state only");
    } else if f.sensitive && f.origin == Some(Origin::Config) && secrets_together > 1 {
        comment = paint(DIM, " # one or more of these secrets changed");
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

/// A list of objects (a mapping set's mappings) row by row: the rows added and removed, in
/// order, the others counted.
fn rows(before: &[serde_json::Value], after: &[serde_json::Value], indent: &str) -> String {
    let line = |v: &serde_json::Value| match v {
        serde_json::Value::Object(o) => {
            let members: Vec<String> = o.iter().map(|(k, v)| format!("{k} = {}", show(v))).collect();
            format!("{{ {} }}\n", members.join(", "))
        }
        other => format!("{}\n", show(other)),
    };
    let (b, a): (String, String) = (
        before.iter().map(line).collect(),
        after.iter().map(line).collect(),
    );
    let mut block = "[\n".to_owned();
    let mut same = 0;
    for change in TextDiff::from_lines(&b, &a).iter_all_changes() {
        let (sign, style) = match change.tag() {
            ChangeTag::Delete => ("- ", RED),
            ChangeTag::Insert => ("+ ", GREEN),
            ChangeTag::Equal => {
                same += 1;
                continue;
            }
        };
        let text = change.value().trim_end_matches('\n');
        let _ = writeln!(
            block,
            "{indent}          {}",
            paint(style, &format!("{sign}{text}"))
        );
    }
    if same > 0 {
        let s = if same == 1 { "" } else { "s" };
        let _ = writeln!(
            block,
            "{indent}            {}",
            paint(DIM, &format!("# ({same} unchanged element{s} hidden)"))
        );
    }
    let _ = write!(block, "{indent}        ]");
    block
}

/// A string with line breaks as a heredoc; anything else on one line.
fn multiline(value: &serde_json::Value, indent: &str) -> String {
    match value.as_str() {
        Some(s) if s.contains('\n') => {
            let mut block = "<<-EOT\n".to_owned();
            for line in s.trim_end_matches('\n').lines() {
                let _ = writeln!(block, "{indent}            {}", super::visible(line));
            }
            let _ = write!(block, "{indent}        EOT");
            block
        }
        _ => show(value),
    }
}

fn change_block(out: &mut String, change: &Change, moved: Option<&Move>) {
    let indent = "  ";
    let mut lines = header(change);
    if let Some(m) = moved {
        lines.insert(1, format!("# (moved from {}: state only)", m.from));
    }
    for line in lines {
        let _ = writeln!(out, "{indent}{}", paint(BOLD, &line));
    }
    let (mark, style) = symbol(change.action, change.then_update);
    let _ = writeln!(
        out,
        "{indent}{} {} \"{}\" {{",
        paint(style, mark),
        change.kind().name,
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
    let secrets_together = change
        .fields
        .iter()
        .filter(|f| f.sensitive && !f.removed && f.origin == Some(Origin::Config))
        .count();
    let secrets_together = if change.action == Action::Update {
        secrets_together
    } else {
        0
    };
    for f in &change.fields {
        let moment = change
            .kind()
            .field(&f.path)
            .is_some_and(|d| matches!(d.ty, crate::kind::Type::Time));
        field(out, indent, change.action, f, width, secrets_together, moment);
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

/// A move that changes nothing else: the state alone follows (Terraform's "has moved to").
fn move_block(out: &mut String, m: &Move) {
    let indent = "  ";
    let _ = writeln!(
        out,
        "{indent}{}",
        paint(BOLD, &format!("# {} has moved to {}", m.from, m.to))
    );
    let _ = writeln!(
        out,
        "{indent}  {} \"{}\" {{",
        crate::kind::address::kind_of(&m.to).name,
        m.to
    );
    let _ = writeln!(out, "{indent}      id = \"{}\"", m.id);
    let _ = writeln!(
        out,
        "{indent}      {}",
        paint(
            DIM,
            &format!("# `moved` at {}: state only, nothing is sent to AEP", m.origin)
        )
    );
    let _ = writeln!(out, "{indent}  }}\n");
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
            (Action::StateOnly, _) => "change in the state only (nothing is sent to AEP)",
            (Action::NoOp, _) => continue,
        };
        if !seen.iter().any(|(m, _, said)| *m == mark && *said == meaning) {
            seen.push((mark, style, meaning));
        }
    }
    let order = ["+", "~", "+/-", "-", "=", "."];
    seen.sort_by_key(|(m, _, meaning)| (order.iter().position(|o| o == m), meaning.contains("state only")));
    // A plan of moves alone has no symbol to explain.
    if !seen.is_empty() {
        let _ = writeln!(out, "Resource actions are indicated with the following symbols:");
        for (mark, style, meaning) in seen {
            let _ = writeln!(out, "  {} {meaning}", paint(style, mark));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "flowform will perform the following actions:\n");
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
    let moves = moves_by_target(&plan.moves);
    if plan.actions().next().is_some() || !plan.moves.is_empty() {
        legend(&mut out, plan);
        // Moves that change nothing else first, as Terraform shows them.
        let acted: std::collections::BTreeSet<&str> = plan.actions().map(|c| c.address.as_str()).collect();
        for m in plan.moves.iter().filter(|m| !acted.contains(m.to.as_str())) {
            move_block(&mut out, m);
        }
        for change in plan.actions() {
            change_block(&mut out, change, moves.get(change.address.as_str()).copied());
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
    } else if out.ends_with("\n\n") {
        // No summary line: the blank line after the last block separates what follows.
        out.pop();
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
