//! The Markdown render, for a pull-request comment: the summary line first, warnings for
//! deletes and replaces, the keys per action, and the full text plan folded inside
//! `<details>` as a `diff` block (markers moved to the first column, so GitHub colours
//! them). Never longer than [`BUDGET`]: what does not fit is cut, and the comment says how
//! much and how to see all of it.

use std::fmt::Write;

use super::{DriftReport, summary_line};
use crate::plan::{Action, Plan};

/// GitHub refuses comments over 65,536 characters; this leaves room for a wrapper.
pub const BUDGET: usize = 65_000;

/// At most this many keys are listed per action before "and N more".
const LIST_LIMIT: usize = 50;

fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

/// Moves each line's change marker to the first column, for GitHub's `diff` highlighting.
fn diff_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let marker = ["+/- ", "+ ", "- ", "~ "]
            .iter()
            .find(|m| trimmed.starts_with(**m));
        match marker {
            // A replace keeps its `+/-` (GitHub colours the line by its first character).
            Some(&"+/- ") if indent >= 1 => {
                // Where the text render has it, moved to the first column.
                let _ = writeln!(out, "+/-{}{}", " ".repeat(indent), &trimmed[3..]);
            }
            Some(m) if indent >= 1 => {
                let sign = match m.chars().next() {
                    Some('~') => '!',
                    Some(c) => c,
                    None => ' ',
                };
                let width = m.trim_end().len();
                let _ = writeln!(
                    out,
                    "{sign}{}{}{}",
                    &line[1..indent],
                    " ".repeat(width),
                    &trimmed[width..]
                );
            }
            _ => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// `keys`: the addresses, as Markdown.
fn listing(out: &mut String, label: &str, keys: &[String]) {
    if keys.is_empty() {
        return;
    }
    let shown: Vec<&str> = keys.iter().take(LIST_LIMIT).map(String::as_str).collect();
    let more = keys.len().saturating_sub(LIST_LIMIT);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let _ = writeln!(out, "- **{label}** ({}): {}{tail}", keys.len(), shown.join(", "));
}

/// The plan as a comment. `see_all` tells the reader how to see a plan that was cut, such as
/// "`flowform show plan.out`".
pub fn plan(plan: &Plan, see_all: &str) -> String {
    let mut head = String::new();
    // A plan with errors does nothing: its summary would read as "no changes".
    if plan.errors.is_empty() {
        let _ = writeln!(head, "{}\n", summary_line(plan));
    }
    // How many of what, by kind: `2 connections, 1 source connection`.
    let tally = |addresses: &[String]| {
        crate::kind::tally(
            addresses
                .iter()
                .map(|a| crate::kind::address::kind_of(a.trim_matches('`'))),
        )
    };
    let addresses = |action: Action| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.action == action)
            .map(|c| format!("`{}`", c.address))
            .collect()
    };
    let (deletes, replaces) = (addresses(Action::Delete), addresses(Action::Replace));
    if !plan.errors.is_empty() {
        let _ = writeln!(head, "> [!CAUTION]\n> **This plan cannot be applied:**");
        for e in &plan.errors {
            let _ = writeln!(head, "> - {}", e.message.replace('\n', " "));
            if let Some(help) = &e.help {
                let _ = writeln!(head, ">   *help:* {}", help.replace('\n', " "));
            }
        }
        let _ = writeln!(head);
    }
    if !deletes.is_empty() || !replaces.is_empty() {
        // One list item per line: consecutive quoted lines would run together as one paragraph.
        let _ = writeln!(head, "> [!WARNING]");
        if !deletes.is_empty() {
            let _ = writeln!(
                head,
                "> - **{} will be deleted** in AEP; check before approving.",
                tally(&deletes)
            );
        }
        if !replaces.is_empty() {
            let _ = writeln!(
                head,
                "> - **{} will be replaced**: created anew, then the old one deleted (new ids; what uses an old one and is not replaced with it makes its delete fail).",
                tally(&replaces)
            );
        }
        for c in plan.changes.iter().filter(|c| c.action == Action::Replace) {
            let gone: Vec<String> = c
                .fields
                .iter()
                .filter(|f| f.removed)
                .map(|f| format!("`{}`", f.path.trim_start_matches("auth.params.")))
                .collect();
            if !gone.is_empty() {
                let _ = writeln!(
                    head,
                    "> - `{}`: the new {} will not have {}.",
                    c.address,
                    crate::kind::address::kind_of(&c.address).noun,
                    gone.join(", ")
                );
            }
        }
        let _ = writeln!(head);
    }
    chains(&mut head, plan);
    if !plan.drift.is_empty() {
        let _ = writeln!(
            head,
            "> [!NOTE]\n> {} managed resource{} changed outside flowform (see the plan).\n",
            plan.drift.len(),
            if plan.drift.len() == 1 { "" } else { "s" }
        );
    }
    for (label, action) in [
        ("Create", Action::Create),
        ("Update", Action::Update),
        ("Replace", Action::Replace),
        ("Delete", Action::Delete),
        ("Import", Action::Adopt),
    ] {
        let mut keys = addresses(action);
        // An import that is then updated counts under "to change" too: list it there.
        if action == Action::Update {
            keys.extend(
                plan.changes
                    .iter()
                    .filter(|c| c.action == Action::Adopt && c.then_update)
                    .map(|c| format!("`{}` (imported, then updated)", c.address)),
            );
        }
        listing(&mut head, label, &keys);
    }
    let moves: Vec<String> = plan
        .moves
        .iter()
        .map(|m| format!("`{}` → `{}`", m.from, m.to))
        .collect();
    listing(&mut head, "Move", &moves);
    listing(
        &mut head,
        "Forget: no longer managed, nothing is deleted",
        &addresses(Action::Forget),
    );
    listing(&mut head, "State only", &addresses(Action::StateOnly));
    for w in &plan.warnings {
        let _ = writeln!(head, "\n:warning: {}", w.replace('\n', " "));
    }
    let body = diff_lines(&plain(&super::text::plan(plan)));
    let open = "\n<details><summary>Show the full plan</summary>\n\n```diff\n";
    let close = "```\n\n</details>\n";
    let whole = format!("{head}{open}{body}{close}");
    if whole.chars().count() <= BUDGET {
        return whole;
    }
    // Cut the folded plan at a line, leaving room for the note that says so.
    let note_room = 400;
    let room = BUDGET.saturating_sub(head.chars().count() + open.len() + close.len() + note_room);
    let mut kept = String::new();
    for line in body.lines() {
        if kept.chars().count() + line.chars().count() + 1 > room {
            break;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let cut = body.chars().count() - kept.chars().count();
    let total = body.chars().count();
    let mut out = format!("{head}{open}{kept}");
    let _ = writeln!(out, "... ({cut} of {total} characters cut)");
    let _ = write!(out, "{close}");
    let _ = writeln!(
        out,
        "\n*The plan was cut to fit a GitHub comment: {cut} of its {total} characters are not shown. See all of it with {see_all}.*"
    );
    out
}

/// The replacements, one line per chain: each replacement that no other causes, why, and
/// how many of what it takes with it (a base connection's source connections and their
/// dataflows, which continue where the old ones stopped) — so that a plan of a hundred
/// replacements reads as the twenty decisions it is.
fn chains(out: &mut String, plan: &Plan) {
    let replaced: Vec<&crate::plan::Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Replace)
        .collect();
    if replaced.len() < 2 {
        return;
    }
    let by_address: std::collections::BTreeMap<&str, &crate::plan::Change> =
        replaced.iter().map(|c| (c.address.as_str(), *c)).collect();
    // The replacement a change's chain starts from (bounded: a hand-edited plan may loop).
    let root = |c: &crate::plan::Change| -> String {
        let mut at = c;
        for _ in 0..by_address.len() {
            match at.cause.as_deref().and_then(|cause| by_address.get(cause)) {
                Some(next) => at = next,
                None => break,
            }
        }
        at.address.clone()
    };
    let mut chains: std::collections::BTreeMap<String, Vec<&crate::plan::Change>> =
        std::collections::BTreeMap::new();
    for c in &replaced {
        chains.entry(root(c)).or_default().push(c);
    }
    let _ = writeln!(
        out,
        "**Replaced, chain by chain** ({} chain{}, {}):\n",
        chains.len(),
        if chains.len() == 1 { "" } else { "s" },
        crate::kind::tally(replaced.iter().map(|c| c.kind()))
    );
    for (i, (root, members)) in chains.iter().enumerate() {
        if i == LIST_LIMIT {
            let _ = writeln!(
                out,
                "- … and {} more chains (see the plan)",
                chains.len() - LIST_LIMIT
            );
            break;
        }
        let why = by_address
            .get(root.as_str())
            .and_then(|c| super::text::because(c))
            .map(|b| format!(" ({b})"))
            .unwrap_or_default();
        let with: Vec<&crate::plan::Change> =
            members.iter().copied().filter(|c| c.address != *root).collect();
        let continuing = members
            .iter()
            .filter(|c| c.notes.iter().any(|n| n.starts_with("continuity:")))
            .count();
        let tail = if with.is_empty() {
            String::new()
        } else {
            let mut tail = format!(
                ", and with it {}",
                crate::kind::tally(with.iter().map(|c| c.kind()))
            );
            if continuing > 0 {
                let _ = write!(tail, " ({continuing} continuing where the old stopped)");
            }
            tail
        };
        let _ = writeln!(out, "- `{root}`{why}{tail}");
    }
    let _ = writeln!(out);
}

/// A drift report, for an issue body: the status line, one line per checked section with
/// its count and keys, then the whole text report folded.
pub fn drift_report(report: &DriftReport) -> String {
    let mut out = String::new();
    let status = if report.in_sync() {
        "In sync"
    } else {
        "Drift detected"
    };
    let _ = writeln!(
        out,
        "**{status}**: {} managed, {}% coverage.\n",
        report.managed, report.coverage
    );
    let keys =
        |addresses: Vec<String>| -> Vec<String> { addresses.into_iter().map(|a| format!("`{a}`")).collect() };
    if report.sections.outside {
        listing_always(
            &mut out,
            "Changed outside flowform",
            &keys(report.outside().iter().map(|d| d.address.clone()).collect()),
        );
    }
    if report.sections.unapplied {
        let mut items: Vec<String> = report
            .moves_not_applied()
            .iter()
            .map(|m| format!("`{}` → `{}` (moved)", m.from, m.to))
            .collect();
        items.extend(keys(
            report.not_applied().iter().map(|c| c.address.clone()).collect(),
        ));
        items.extend(
            report
                .problems()
                .iter()
                .map(|p| format!("error: {}", p.message.replace('\n', " "))),
        );
        listing_always(&mut out, "Not yet applied", &items);
    }
    if report.sections.unmanaged {
        let label = if report.ignore_unmanaged {
            "Not managed by flowform (ignored)"
        } else {
            "Not managed by flowform"
        };
        listing_always(
            &mut out,
            label,
            &report
                .unmanaged()
                .iter()
                .map(|u| format!("`{}/{}` ({})", u.sandbox, u.id, u.name))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(check) = &report.credentials {
        listing_always(
            &mut out,
            &format!(
                "Credentials rejected by their source (of {} tested)",
                check.tested
            ),
            &keys(check.rejected.iter().map(|r| r.address.clone()).collect()),
        );
    }
    if let Some(health) = &report.health {
        listing_always(
            &mut out,
            &format!(
                "Dataflows not running as scheduled (of {} enabled)",
                health.checked
            ),
            &health
                .unhealthy
                .iter()
                .map(|u| format!("`{}` ({}): {}", u.address, u.problem, u.detail))
                .collect::<Vec<_>>(),
        );
    }
    let _ = writeln!(out);
    let body = plain(&super::text::drift(report));
    let body = if body.chars().count() > BUDGET - 2_000 {
        let kept: String = body.chars().take(BUDGET - 3_000).collect();
        format!("{kept}\n... (cut; run `flowform drift` to see all of it)\n")
    } else {
        body
    };
    let _ = writeln!(
        out,
        "<details><summary>Details</summary>\n\n```diff\n{}```\n\n</details>",
        diff_lines(&body)
    );
    out
}

/// A section's line with its count, even when it is empty (a reader sees what was checked).
fn listing_always(out: &mut String, label: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(out, "- **{label}** (0)");
    } else {
        listing(out, label, items);
    }
}
