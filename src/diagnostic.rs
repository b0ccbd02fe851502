//! Problems found in the user's input, with the place they were found.
//!
//! A [`Diagnostic`] names the file, line and column, the connection key and the field, says
//! what was expected, and carries a `help:` line where there is an obvious fix. The loader
//! collects all of them rather than stopping at the first, so that one run of
//! `flowform validate` shows everything that needs fixing.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::yaml::Location;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: Option<PathBuf>,
    pub location: Option<Location>,
    /// The key of the resource the problem belongs to, if any.
    pub key: Option<String>,
    /// What that resource is (`source connection`, …; a base connection when not said).
    pub noun: Option<&'static str>,
    /// The field within the connection (or document), as a dotted path: `auth.params.password`.
    pub field: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            location: None,
            key: None,
            noun: None,
            field: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn at(mut self, file: &Path, location: Location) -> Diagnostic {
        self.file = Some(file.to_owned());
        self.location = Some(location);
        self
    }

    pub fn in_file(mut self, file: &Path) -> Diagnostic {
        self.file = Some(file.to_owned());
        self
    }

    pub fn key(mut self, key: Option<&str>) -> Diagnostic {
        self.key = key.map(str::to_owned);
        self
    }

    /// The resource it belongs to: its kind's noun and its key.
    pub fn of(mut self, kind: &crate::kind::Kind, key: &str) -> Diagnostic {
        self.key = Some(key.to_owned());
        self.noun = (!kind.is_default()).then_some(kind.noun);
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Diagnostic {
        let field = field.into();
        self.field = (!field.is_empty()).then_some(field);
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn sort_key(&self) -> (Option<&Path>, Option<Location>, Severity) {
        (self.file.as_deref(), self.location, self.severity)
    }
}

impl fmt::Display for Diagnostic {
    /// ```text
    /// error: connection `acme`: `auth.params.password` is a secret and cannot be written literally
    ///   --> connections/acme.yaml:14:19
    /// help: write `password: ${env:NAME}` or `password: ${file:PATH}`
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{label}: ")?;
        let noun = self.noun.unwrap_or("connection");
        match (&self.key, &self.field) {
            (Some(key), Some(field)) => write!(f, "{noun} `{key}`, `{field}`: ")?,
            (Some(key), None) => write!(f, "{noun} `{key}`: ")?,
            (None, Some(field)) => write!(f, "`{field}`: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.message)?;
        match (&self.file, &self.location) {
            (Some(file), Some(location)) => write!(f, "\n  --> {}:{location}", file.display())?,
            (Some(file), None) => write!(f, "\n  --> {}", file.display())?,
            _ => {}
        }
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

/// Everything the loader found wrong, in file and line order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn last_mut(&mut self) -> Option<&mut Diagnostic> {
        self.0.last_mut()
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorts by file, then position, keeping the order of problems found at one place.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The closest candidate to a misspelt name, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let found_lower = found.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&found_lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_strangers() {
        let fields = ["name", "description", "connectionSpec", "auth", "lifecycle"];
        let cases = [
            ("nmae", Some("name")),
            ("descripton", Some("description")),
            ("connectionspec", Some("connectionSpec")),
            ("connection_spec", Some("connectionSpec")),
            ("Auth", Some("auth")),
            ("colour", None),
            ("x", None),
        ];
        for (found, expected) in cases {
            assert_eq!(did_you_mean(found, fields), expected, "{found}");
        }
    }

    #[test]
    fn rendering_names_the_place_and_the_fix() {
        let d = Diagnostic::error("is a secret")
            .at(Path::new("c/a.yaml"), Location { line: 3, column: 7 })
            .key(Some("acme"))
            .field("auth.params.password")
            .help("use ${env:X}");
        assert_eq!(
            d.to_string(),
            "error: connection `acme`, `auth.params.password`: is a secret\n  --> c/a.yaml:3:7\nhelp: use ${env:X}"
        );
    }
}
