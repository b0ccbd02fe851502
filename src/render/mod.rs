//! Plans and drift reports as people and machines read them: Terraform-literate text for a
//! terminal, Markdown for a pull-request comment, versioned JSON for tools.
//!
//! Renders are strings built from a [`Plan`](crate::plan::Plan) alone, so the same plan
//! always renders the same bytes. None of them can show a secret: a plan holds none.

pub mod json;
pub mod markdown;
#[cfg(test)]
mod tests;
pub mod text;

use serde::Serialize;
use serde_json::Value;

use crate::plan::{Change, Drift, DriftKind, Plan};

/// How a plan or a drift report is shown (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// For a terminal: Terraform's idiom.
    #[default]
    Text,
    /// For a pull-request comment or an issue.
    Markdown,
    /// For tools.
    Json,
}

impl Format {
    /// The names `--format` takes.
    pub const NAMES: [&'static str; 3] = ["text", "markdown", "json"];
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "markdown" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            other => Err(format!("`{other}` is not a format: text, markdown or json")),
        }
    }
}

/// A connection AEP has that flowform does not manage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unmanaged {
    pub sandbox: String,
    pub id: String,
    pub name: String,
    pub spec_id: String,
    /// Its kind (`connection`, `source`, …).
    pub kind: String,
    /// What it belongs to, for a kind read by its parent (a source connection's base
    /// connection): the parent's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// The sections `flowform drift` reports, each counted and listed (`--only` narrows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sections {
    /// Managed connections AEP shows differently from the state: changed outside flowform.
    pub outside: bool,
    /// The configuration not yet applied: it differs from the state (secrets by fingerprint).
    pub unapplied: bool,
    /// Connections of the declared sandboxes and specs that flowform does not manage.
    pub unmanaged: bool,
    /// The managed dataflows' runs: failed or late.
    pub dataflows: bool,
}

impl Default for Sections {
    fn default() -> Sections {
        Sections {
            outside: true,
            unapplied: true,
            unmanaged: true,
            dataflows: true,
        }
    }
}

/// A managed connection whose source refused its credentials (`GET /connections/{id}/test`
/// answered `false`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub address: String,
    pub id: String,
    pub name: String,
}

/// What `drift --check-credentials` found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CredentialCheck {
    /// How many connections were tested.
    pub tested: usize,
    pub rejected: Vec<Rejected>,
    /// Not tested, with why (disabled or initializing in AEP, or gone).
    pub skipped: Vec<(String, String)>,
}

/// A managed dataflow that is not doing its job: its last run failed, or it has not run
/// when its schedule says it should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unhealthy {
    pub address: String,
    pub id: String,
    pub name: String,
    /// `failed` or `late`.
    pub problem: &'static str,
    /// What went wrong, in a line (the run's error code and message; when it was due).
    pub detail: String,
    /// The run it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// When that run started, or when a run was due (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

/// What `drift` found of the managed dataflows' runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowHealth {
    /// How many enabled dataflows were looked at.
    pub checked: usize,
    pub unhealthy: Vec<Unhealthy>,
}

/// What `flowform drift` found.
#[derive(Clone, Debug, PartialEq)]
pub struct DriftReport {
    /// The plan against what the refresh read: its `drift` is the managed connections'
    /// changes outside flowform, its changes hold the configuration not yet applied.
    pub plan: Plan,
    pub sections: Sections,
    /// The configuration not yet applied ([`crate::plan::unapplied`]).
    pub unapplied: Vec<Change>,
    pub unmanaged: Vec<Unmanaged>,
    /// `--check-credentials`.
    pub credentials: Option<CredentialCheck>,
    /// The managed dataflows' runs (checked whenever the state manages one).
    pub health: Option<FlowHealth>,
    /// Managed connections AEP still has.
    pub managed: usize,
    /// Managed connections AEP no longer has.
    pub missing: usize,
    /// Managed connections changed outside flowform.
    pub changed: usize,
    /// Managed share of what AEP has in the declared sandboxes and specs, in percent.
    pub coverage: f64,
    /// Unmanaged connections do not count as drift (`--ignore-unmanaged`).
    pub ignore_unmanaged: bool,
}

impl DriftReport {
    pub fn new(
        plan: Plan,
        sections: Sections,
        unmanaged: Vec<Unmanaged>,
        recorded: usize,
        ignore_unmanaged: bool,
    ) -> DriftReport {
        let missing = plan.drift.iter().filter(|d| d.kind == DriftKind::Deleted).count();
        let changed = plan.drift.iter().filter(|d| d.kind == DriftKind::Changed).count();
        let managed = recorded.saturating_sub(missing);
        let total = managed + unmanaged.len();
        let coverage = if total == 0 {
            100.0
        } else {
            (managed as f64 * 100.0 / total as f64).floor()
        };
        DriftReport {
            unapplied: crate::plan::unapplied(&plan),
            plan,
            sections,
            unmanaged,
            credentials: None,
            health: None,
            managed,
            missing,
            changed,
            coverage,
            ignore_unmanaged,
        }
    }

    /// Changed outside flowform, when that section is checked.
    pub fn outside(&self) -> &[Drift] {
        if self.sections.outside {
            &self.plan.drift
        } else {
            &[]
        }
    }

    /// Not yet applied, when that section is checked.
    pub fn not_applied(&self) -> &[Change] {
        if self.sections.unapplied {
            &self.unapplied
        } else {
            &[]
        }
    }

    /// Why the configuration cannot be applied as it is (a protected connection no longer
    /// declared, a name AEP gives to another connection, a fingerprint key missing), when the
    /// unapplied section is checked.
    pub fn problems(&self) -> &[crate::plan::Problem] {
        if self.sections.unapplied {
            &self.plan.errors
        } else {
            &[]
        }
    }

    /// Unmanaged connections, when that section is checked.
    pub fn unmanaged(&self) -> &[Unmanaged] {
        if self.sections.unmanaged {
            &self.unmanaged
        } else {
            &[]
        }
    }

    /// How many things the unapplied section counts: changes and problems.
    /// Moves the configuration asks for (`moved:`) that the state has not made yet, when
    /// the unapplied section is checked.
    pub fn moves_not_applied(&self) -> &[crate::plan::Move] {
        if self.sections.unapplied {
            &self.plan.moves
        } else {
            &[]
        }
    }

    pub fn unapplied_count(&self) -> usize {
        self.not_applied().len() + self.moves_not_applied().len() + self.problems().len()
    }

    pub fn rejected(&self) -> &[Rejected] {
        self.credentials.as_ref().map_or(&[], |c| c.rejected.as_slice())
    }

    /// Dataflows whose last run failed or that are late.
    pub fn unhealthy(&self) -> &[Unhealthy] {
        self.health.as_ref().map_or(&[], |h| h.unhealthy.as_slice())
    }

    pub fn in_sync(&self) -> bool {
        self.outside().is_empty()
            && self.unapplied_count() == 0
            && (self.ignore_unmanaged || self.unmanaged().is_empty())
            && self.rejected().is_empty()
            && self.unhealthy().is_empty()
    }
}

/// Epoch milliseconds in RFC 3339 (UTC, to the second); `None` before 1970.
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    (ms >= 0).then(|| crate::reader::rfc3339(ms / 1000))
}

/// A value as the plan shows it: strings quoted (JSON escapes), others as JSON; characters
/// that would make a reviewer read something else (bidirectional overrides, zero-width and
/// control characters) escaped as `\u{…}`.
pub(crate) fn show(value: &Value) -> String {
    visible(&value.to_string())
}

/// `text` with the characters that can disguise what it says escaped as `\u{…}`: controls
/// (but line breaks and tabs), bidirectional marks, overrides and isolates, and zero-width
/// ones, as the Trojan Source advisory (CVE-2021-42574) asks of review tools.
pub(crate) fn visible(text: &str) -> String {
    let hidden = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(
                c,
                '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
            )
    };
    if !text.chars().any(hidden) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                format!("\\u{{{:04X}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `Plan: [N to import, ]X to add, Y to change, Z to destroy[, M to move][, F to forget].`, or
/// the no-change sentence: exactly Terraform's, which tools parse.
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    if plan.mode == crate::plan::Mode::RefreshOnly {
        return match plan.drift.len() {
            0 => "No changes. The state matches AEP.".to_owned(),
            n => format!(
                "Refresh-only: applying updates the state to match AEP for {n} resource{}.",
                if n == 1 { "" } else { "s" }
            ),
        };
    }
    if !plan.has_changes() {
        return "No changes. Your resources match the configuration.".to_owned();
    }
    let import = if s.import > 0 {
        format!("{} to import, ", s.import)
    } else {
        String::new()
    };
    // Moves and forgets follow Terraform's `, N to forget`, said only when there are some;
    // other state-only changes (protect) come after Terraform's sentence, which stays whole.
    let mut counts = String::new();
    if s.moved > 0 {
        counts.push_str(&format!(", {} to move", s.moved));
    }
    if s.forget > 0 {
        counts.push_str(&format!(", {} to forget", s.forget));
    }
    let state_only = if s.state_only > 0 {
        format!(" {} to change in the state only.", s.state_only)
    } else {
        String::new()
    };
    format!(
        "Plan: {import}{} to add, {} to change, {} to destroy{counts}.{state_only}",
        s.add, s.change, s.destroy
    )
}
