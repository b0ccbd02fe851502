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

use crate::plan::{Drift, DriftKind, Plan};

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
}

/// What `flowform drift` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DriftReport {
    /// The refresh-only plan: its `drift` is the managed connections' drift.
    #[serde(skip)]
    pub plan: Plan,
    pub unmanaged: Vec<Unmanaged>,
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
        unmanaged: Vec<Unmanaged>,
        recorded: usize,
        ignore_unmanaged: bool,
    ) -> DriftReport {
        let missing = plan.drift.iter().filter(|d| d.kind == DriftKind::Deleted).count();
        let changed = plan.drift.iter().filter(|d| d.kind == DriftKind::Changed).count();
        let managed = recorded - missing;
        let total = managed + unmanaged.len();
        let coverage = if total == 0 {
            100.0
        } else {
            (managed as f64 * 100.0 / total as f64).floor()
        };
        DriftReport {
            plan,
            unmanaged,
            managed,
            missing,
            changed,
            coverage,
            ignore_unmanaged,
        }
    }

    pub fn in_sync(&self) -> bool {
        self.plan.drift.is_empty() && (self.ignore_unmanaged || self.unmanaged.is_empty())
    }

    pub fn drift(&self) -> &[Drift] {
        &self.plan.drift
    }
}

/// Epoch milliseconds in RFC 3339 (UTC, to the second); `None` before 1970.
pub(crate) fn rfc3339(ms: i64) -> Option<String> {
    if ms < 0 {
        return None;
    }
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days.checked_add(719_468)?;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    ))
}

/// A value as the plan shows it: strings quoted (JSON escapes), others as JSON.
pub(crate) fn show(value: &Value) -> String {
    value.to_string()
}

/// `Plan: [N to import, ]X to add, Y to change, Z to destroy.`, or the no-change sentence:
/// exactly Terraform's, which tools parse.
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    if plan.mode == crate::plan::Mode::RefreshOnly {
        return match plan.drift.len() {
            0 => "No changes. The state matches AEP.".to_owned(),
            n => format!(
                "Refresh-only: applying updates the state to match AEP for {n} connection{}.",
                if n == 1 { "" } else { "s" }
            ),
        };
    }
    if !plan.has_changes() {
        return "No changes. Your connections match the configuration.".to_owned();
    }
    let import = if s.import > 0 {
        format!("{} to import, ", s.import)
    } else {
        String::new()
    };
    let state_only = if s.state_only > 0 {
        format!(" {} to change in the state only.", s.state_only)
    } else {
        String::new()
    };
    format!(
        "Plan: {import}{} to add, {} to change, {} to destroy.{state_only}",
        s.add, s.change, s.destroy
    )
}
