//! The desired state: the connections declared in the configuration's YAML files.
//!
//! [`load`] finds the files ([`files`]), reads each document into the model below
//! ([`document`]), checks keys across files, and resolves secret references. It returns every
//! problem it finds, each with its file, line and column, rather than the first.
//!
//! The format mirrors the body of Flow Service's `POST /connections`, so that bodies from
//! Adobe's documentation can be pasted in once their secrets are replaced by references:
//!
//! ```yaml
//! sandbox: prod
//! connections:
//!   acme-salesforce:
//!     name: ACME Salesforce account
//!     connectionSpec: { id: cfc0fee1-7dc0-40ef-b73e-d8b134c436f5, version: "1.0" }
//!     auth:
//!       specName: Basic Authentication
//!       params:
//!         username: acme-salesforce
//!         password: ${env:SALESFORCE_PASSWORD}
//!         securityToken: ${file:secrets/acme-token}
//! ```

mod document;
pub mod files;
pub mod moved;

pub(crate) use self::document::{env_name, looks_secret};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::secret::{Secret, SecretRef};
use crate::settings::Environment;
use crate::yaml::Location;

/// The longest connection key flowform accepts.
pub const MAX_KEY: usize = 128;

/// What a connection key is, for messages.
pub const KEY_RULE: &str = "a key starts with a letter or digit and holds letters, digits, `-`, `_` and `.` (at most 128), e.g. `acme-salesforce`";

/// Whether `key` can be a connection key: it is part of addresses (`sandbox/key`) and of
/// command lines.
pub fn is_valid_key(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key.len() <= MAX_KEY
}

/// Every connection the configuration declares, by key.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Desired {
    pub connections: BTreeMap<String, Connection>,
    /// Every sandbox a document names, including those that declare no connection yet.
    pub sandboxes: BTreeSet<String>,
    /// The files read, in the order they were read.
    pub files: Vec<PathBuf>,
    /// `moved:` entries: keys renamed in the state, without a call to AEP.
    pub moved: Vec<moved::Moved>,
    /// `removed:` entries: connections that leave management, kept in AEP.
    pub removed: Vec<moved::Removed>,
}

/// One declared base connection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Connection {
    /// The connection's stable address in state and plans.
    pub key: String,
    /// The sandbox (`x-sandbox-name`) the connection lives in.
    pub sandbox: String,
    pub name: String,
    pub description: Option<String>,
    pub connection_spec: SpecRef,
    pub auth: Auth,
    pub lifecycle: Lifecycle,
    /// `import: {id}`: adopt this existing connection instead of creating one.
    pub import: Option<String>,
    /// Where the connection is declared, for messages.
    pub origin: Origin,
    /// Where some of its fields are, for messages about them.
    #[serde(skip)]
    pub places: Places,
}

/// Where fields that cross-file checks and the live checks talk about are written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Places {
    pub name: Location,
    pub import_id: Option<Location>,
    /// `connectionSpec.id`, or `source`.
    pub spec_id: Option<Location>,
    pub spec_name: Option<Location>,
    /// Each param's name, and `params:` itself (under the empty name).
    pub params: BTreeMap<String, Location>,
}

pub use crate::flow::model::SpecRef;

/// `auth: {specName, params}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Auth {
    pub spec_name: String,
    pub params: BTreeMap<String, Param>,
}

/// One auth param: a plain value, or a secret given by reference.
///
/// A param given by reference is sensitive whatever its name: the user chose to keep it out
/// of the file, and flowform keeps it out of everything it writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Param {
    Plain(serde_json::Value),
    Secret {
        reference: SecretRef,
        /// The resolved value; `None` when the configuration was loaded without resolving
        /// secrets (`flowform validate --skip-secrets`).
        value: Option<Secret>,
    },
}

impl Param {
    pub fn is_secret(&self) -> bool {
        matches!(self, Param::Secret { .. })
    }
}

/// A connection's params, split: the plain values, and the secrets by name.
#[derive(Clone, Debug, Default)]
pub struct SplitParams<'a> {
    pub plain: serde_json::Map<String, serde_json::Value>,
    /// The secrets that are resolved.
    pub secrets: BTreeMap<String, &'a Secret>,
    /// Every secret param's name, resolved or not.
    pub secret_names: BTreeSet<String>,
}

impl SplitParams<'_> {
    /// Whether every secret param is resolved (not so under `validate --skip-secrets`, or for
    /// a file outside a `-c` narrowing).
    pub fn all_resolved(&self) -> bool {
        self.secrets.len() == self.secret_names.len()
    }
}

impl Connection {
    /// The one place params are told apart into plain values and secrets.
    pub fn split_params(&self) -> SplitParams<'_> {
        let mut split = SplitParams::default();
        for (name, param) in &self.auth.params {
            match param {
                Param::Plain(value) => {
                    split.plain.insert(name.clone(), value.clone());
                }
                Param::Secret { value, .. } => {
                    split.secret_names.insert(name.clone());
                    if let Some(v) = value {
                        split.secrets.insert(name.clone(), v);
                    }
                }
            }
        }
        split
    }
}

/// `lifecycle: {protect, ignoreChanges, acknowledge}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// Refuse to delete or replace the connection.
    pub protect: bool,
    /// Fields whose differences never produce an update (or drift): `name`, `description`,
    /// `state` (a connection disabled in AEP on purpose), `auth.params`, or
    /// `auth.params.<param>`.
    pub ignore_changes: BTreeSet<String>,
    /// Advisories (see [`crate::catalog::ADVISORIES`]) the team has seen and keeps the
    /// connection as it is for: their warnings are not shown.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub acknowledge: BTreeSet<String>,
}

/// Where something is declared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Origin {
    pub(crate) fn new(file: &Path, location: Location) -> Origin {
        Origin {
            file: file.to_owned(),
            line: location.line,
            column: location.column,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Resolve `${env:…}` and `${file:…}` references (an unresolvable one is an error).
    /// Off for checking files where the secrets are not available, such as a pull request.
    pub resolve_secrets: bool,
    /// Resolve them only in these files (their real paths): a plan narrowed by `-c` reads
    /// the whole project, to know every key, but needs only its own files' secrets.
    pub secrets_only_in: Option<BTreeSet<PathBuf>>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            resolve_secrets: true,
            secrets_only_in: None,
        }
    }
}

impl LoadOptions {
    /// The options for one file.
    fn for_file(&self, path: &Path) -> LoadOptions {
        let resolve = self.resolve_secrets
            && self
                .secrets_only_in
                .as_ref()
                .is_none_or(|only| std::fs::canonicalize(path).is_ok_and(|real| only.contains(&real)));
        LoadOptions {
            resolve_secrets: resolve,
            secrets_only_in: None,
        }
    }
}

/// A configuration that loaded, with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub desired: Desired,
    pub warnings: Diagnostics,
}

/// Finds and reads the configuration files named by `inputs` (files or directories; the
/// default locations when empty) and loads them.
pub fn load(inputs: &[PathBuf], env: &Environment, options: &LoadOptions) -> Result<Loaded, Diagnostics> {
    let paths = files::discover(inputs)?;
    let mut loader = Loader::new(env, options);
    for path in &paths {
        match files::read(path) {
            Ok(text) => loader.add(path, &text),
            Err(d) => loader.diagnostics.push(*d),
        }
    }
    loader.finish()
}

/// The likely cause of a YAML syntax error, when the line says: a tab in the indentation, an
/// unquoted reference inside `{…}`, or a line indented unlike its neighbours.
fn syntax_help(text: &str, e: &crate::yaml::ParseError) -> Option<String> {
    let number = e.location.line;
    let lines: Vec<&str> = text.lines().collect();
    let line = *lines.get(number.checked_sub(1)?)?;
    let indent: &str = &line[..line.len() - line.trim_start().len()];
    if indent.contains('\t') || e.message.contains("tab") {
        return Some(format!(
            "YAML indents with spaces, never tabs: replace the tabs at the start of line {number} with spaces (two per level, as the examples do)"
        ));
    }
    // A reference unquoted inside `{…}`: `{` and `}` are YAML's punctuation there (the `{`
    // of a reference's own `${` does not count).
    if line.contains("${") && line.replace("${", "").contains('{') {
        return Some(
            "in flow style (`{a: b}`), quote a reference: `{password: \"${env:PASSWORD}\"}`".to_owned(),
        );
    }
    let block_structure = [
        "did not find expected key",
        "mapping values are not allowed",
        "did not find expected '-'",
        "indentation",
    ];
    if !block_structure.iter().any(|m| e.message.contains(m)) {
        return None;
    }
    // The nearest line above that holds something: the one this line is measured against.
    let (above_number, above) = lines[..number - 1]
        .iter()
        .enumerate()
        .rev()
        .map(|(i, l)| (i + 1, *l))
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let spaces = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let (own, theirs) = (spaces(line), spaces(above));
    let field = |l: &str| {
        l.trim_start()
            .trim_start_matches("- ")
            .split_once(':')
            .map(|(name, _)| name.trim().to_owned())
            .filter(|name| !name.is_empty() && !name.contains(' '))
    };
    let name = field(line).map_or_else(|| format!("line {number}"), |f| format!("`{f}`"));
    let plural = |n: usize| if n == 1 { "space" } else { "spaces" };
    Some(if own > theirs {
        let owner = field(above).map_or_else(String::new, |f| format!(", whose `{f}` already has a value"));
        format!(
            "check the indentation: {name} is indented {own} {} and line {above_number} above it {theirs}{owner}; a field of the same mapping starts in the same column as its neighbours",
            plural(own)
        )
    } else {
        format!(
            "check the indentation: {name} is indented {own} {} and line {above_number} above it {theirs}; the fields of one mapping start in the same column, and a nested mapping is indented deeper than its key",
            plural(own)
        )
    })
}

/// Loads configuration text file by file; the unit tests and property tests drive it with
/// strings, `load` with files.
pub struct Loader<'a> {
    env: &'a Environment,
    options: &'a LoadOptions,
    desired: Desired,
    diagnostics: Diagnostics,
}

impl<'a> Loader<'a> {
    pub fn new(env: &'a Environment, options: &'a LoadOptions) -> Loader<'a> {
        Loader {
            env,
            options,
            desired: Desired::default(),
            diagnostics: Diagnostics::default(),
        }
    }

    /// Adds the documents of one file. `path` names the file in messages, and its directory
    /// is where relative `${file:…}` references are resolved.
    pub fn add(&mut self, path: &Path, text: &str) {
        self.desired.files.push(path.to_owned());
        let documents = match crate::yaml::parse_all(text) {
            Ok((documents, duplicates)) => {
                for e in duplicates {
                    self.diagnostics
                        .push(Diagnostic::error(e.message).at(path, e.location));
                }
                documents
            }
            Err(e) => {
                let mut d = Diagnostic::error(format!("invalid YAML: {}", e.message)).at(path, e.location);
                if let Some(help) = syntax_help(text, &e) {
                    d = d.help(help);
                }
                self.diagnostics.push(d);
                return;
            }
        };
        if documents.iter().all(|d| d.value == crate::yaml::Value::Null) {
            self.diagnostics.push(
                Diagnostic::error("the file declares nothing")
                    .in_file(path)
                    .help("a configuration file holds `sandbox:` and `connections:`; see `flowform schema`"),
            );
            return;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let options = self.options.for_file(path);
        let mut reader = document::Reader {
            file: path,
            base,
            env: self.env,
            options: &options,
            diagnostics: &mut self.diagnostics,
        };
        let declared: Vec<_> = documents
            .iter()
            .filter(|doc| doc.value != crate::yaml::Value::Null)
            .filter_map(|doc| reader.document(doc))
            .collect();
        for d in declared {
            self.desired.sandboxes.extend(d.sandbox);
            self.desired.moved.extend(d.moved);
            self.desired.removed.extend(d.removed);
            for connection in d.connections {
                self.insert(connection);
            }
        }
    }

    fn insert(&mut self, connection: Connection) {
        if let Some(first) = self.desired.connections.get(&connection.key) {
            self.diagnostics.push(
                Diagnostic::error(format!("connection key `{}` is declared twice", connection.key))
                    .at(&connection.origin.file, origin_location(&connection.origin))
                    .help(format!(
                        "first declared at {}; keys are unique across all configuration files",
                        first.origin
                    )),
            );
            return;
        }
        self.desired
            .connections
            .insert(connection.key.clone(), connection);
    }

    /// Checks what only the whole set can show, and returns the result.
    pub fn finish(mut self) -> Result<Loaded, Diagnostics> {
        self.check_unique_names();
        self.check_unique_imports();
        moved::check(&self.desired, &mut self.diagnostics);
        self.diagnostics.sort();
        if self.diagnostics.has_errors() {
            Err(self.diagnostics)
        } else {
            Ok(Loaded {
                desired: self.desired,
                warnings: self.diagnostics,
            })
        }
    }

    /// Flowform finds a create whose outcome it never learnt (a crash, a timeout) by listing
    /// connections by sandbox, spec and name; two declared connections alike in all three
    /// would make that ambiguous, so they are refused.
    fn check_unique_names(&mut self) {
        let mut seen: BTreeMap<(&str, &str, &str), &Connection> = BTreeMap::new();
        for c in self.desired.connections.values() {
            let id = (c.sandbox.as_str(), c.connection_spec.id.as_str(), c.name.as_str());
            if let Some(first) = seen.insert(id, c) {
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "connections `{}` and `{}` have the same name `{}` in sandbox `{}` for the same connection spec",
                        first.key, c.key, c.name, c.sandbox
                    ))
                    .at(&c.origin.file, c.places.name)
                    .key(Some(&c.key))
                    .field("name")
                    .help(format!(
                        "give one of them another name; `{}` is declared at {}",
                        first.key, first.origin
                    )),
                );
            }
        }
    }

    fn check_unique_imports(&mut self) {
        let mut seen: BTreeMap<&str, &Connection> = BTreeMap::new();
        for c in self.desired.connections.values() {
            let Some(id) = c.import.as_deref() else { continue };
            if let Some(first) = seen.insert(id, c) {
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "connection id `{id}` is imported by both `{}` and `{}`",
                        first.key, c.key
                    ))
                    .at(
                        &c.origin.file,
                        c.places.import_id.unwrap_or_else(|| origin_location(&c.origin)),
                    )
                    .key(Some(&c.key))
                    .field("import.id"),
                );
            }
        }
    }
}

fn origin_location(origin: &Origin) -> Location {
    Location {
        line: origin.line,
        column: origin.column,
    }
}

#[cfg(test)]
mod tests;
