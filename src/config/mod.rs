//! The desired state: the resources declared in the configuration's YAML files.
//!
//! [`load`] finds the files ([`files`]), reads each document ([`document`]; each resource
//! of any kind by its declaration, [`crate::kind::read`]), checks what only the whole set can
//! show (keys unique per kind, names unique where AEP tells resources apart, references to
//! declared resources: [`refs`]), and resolves secret references. It returns every problem it
//! finds, each with its file, line and column, rather than the first.
//!
//! The format mirrors the bodies of Flow Service's `POST /connections`, `/sourceConnections`
//! and `/targetConnections`, so that bodies from Adobe's documentation can be pasted in once
//! their secrets are replaced by references:
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
//! sources:
//!   acme-contacts: {name: ACME contacts, connection: acme-salesforce, table: Contact}
//! ```

mod document;
pub mod files;
pub mod moved;
mod refs;

pub use crate::kind::address::{KEY_RULE, MAX_KEY, is_valid_key};
pub use crate::kind::connection::{env_name, looks_secret};
pub use crate::kind::{Lifecycle, Origin, Param, Places, Reference, Resource, SplitParams, Value};
pub use crate::reader::LoadOptions;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::kind::Kind;
use crate::settings::Environment;

/// Every resource the configuration declares.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Desired {
    /// By address (`sandbox/key`, `sandbox/kind:key`).
    pub resources: BTreeMap<String, Resource>,
    /// Every sandbox a document names, including those that declare nothing yet.
    pub sandboxes: BTreeSet<String>,
    /// The files read, in the order they were read.
    pub files: Vec<PathBuf>,
    /// `moved:` entries: keys renamed in the state, without a call to AEP.
    pub moved: Vec<moved::Moved>,
    /// `removed:` entries: resources that leave management, kept in AEP.
    pub removed: Vec<moved::Removed>,
    /// Resources declared whose declaration did not read (said already): what refers to them
    /// or moves to them is not said to name nothing as well. Kind name, sandbox, key.
    #[serde(skip)]
    pub unreadable: BTreeSet<(&'static str, String, String)>,
}

impl Desired {
    /// The resources of one kind.
    pub fn of<'a>(&'a self, kind: &'a Kind) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.kind == kind)
    }

    /// The resource of `kind` declared under `key`, whatever its sandbox (keys are unique
    /// per kind across the configuration).
    pub fn find(&self, kind: &Kind, key: &str) -> Option<&Resource> {
        self.resources.values().find(|r| r.kind == kind && r.key == key)
    }

    /// Adds a resource (for tests and tools that build a configuration in code).
    pub fn insert(&mut self, resource: Resource) {
        self.sandboxes.insert(resource.sandbox.clone());
        self.resources.insert(resource.address(), resource);
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
    /// Where each kind's key is first declared: keys are unique per kind across the files.
    keys: BTreeMap<(&'static str, String), Origin>,
}

impl<'a> Loader<'a> {
    pub fn new(env: &'a Environment, options: &'a LoadOptions) -> Loader<'a> {
        Loader {
            env,
            options,
            desired: Desired::default(),
            diagnostics: Diagnostics::default(),
            keys: BTreeMap::new(),
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
                    .help(format!(
                        "a configuration file holds `sandbox:` and `connections:` (or {}); see `flowform schema`",
                        crate::kind::other_sections()
                    )),
            );
            return;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let options = self.options.for_file(path);
        let mut reader = crate::reader::Reader {
            file: path,
            base,
            env: self.env,
            options: &options,
            diagnostics: &mut self.diagnostics,
            noun: None,
        };
        let declared: Vec<_> = documents
            .iter()
            .filter(|doc| doc.value != crate::yaml::Value::Null)
            .filter_map(|doc| document::read(&mut reader, doc))
            .collect();
        for d in declared {
            self.desired.unreadable.extend(d.unreadable);
            self.desired.sandboxes.extend(d.sandbox);
            self.desired.moved.extend(d.moved);
            self.desired.removed.extend(d.removed);
            for resource in d.resources {
                self.insert(resource);
            }
        }
    }

    fn insert(&mut self, resource: Resource) {
        let id = (resource.kind.name, resource.key.clone());
        if let Some(first) = self.keys.get(&id) {
            self.diagnostics.push(
                Diagnostic::error(format!(
                    "{} key `{}` is declared twice",
                    resource.kind.noun, resource.key
                ))
                .at(&resource.origin.file, resource.origin.location())
                .help(format!(
                    "first declared at {first}; keys are unique across all configuration files"
                )),
            );
            return;
        }
        self.keys.insert(id, resource.origin.clone());
        self.desired.resources.insert(resource.address(), resource);
    }

    /// Checks what only the whole set can show, and returns the result.
    pub fn finish(mut self) -> Result<Loaded, Diagnostics> {
        refs::check(&self.desired, &mut self.diagnostics);
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

    /// Flowform finds a create whose outcome it never learnt (a crash, a timeout) by its
    /// kind, sandbox, scope (a base connection's spec, a source connection's base
    /// connection) and name; two declared resources alike in all of them would make that
    /// ambiguous, so they are refused.
    fn check_unique_names(&mut self) {
        let mut seen: BTreeMap<(&str, &str, Vec<String>, &str), &Resource> = BTreeMap::new();
        for r in self.desired.resources.values() {
            let scope = refs::declared_scope(r);
            let id = (r.kind.name, r.sandbox.as_str(), scope, r.name());
            if let Some(first) = seen.insert(id, r) {
                let within = match r.kind.name {
                    "connection" => " for the same connection spec".to_owned(),
                    _ => format!(" within the same {}", refs::scope_words(r.kind)),
                };
                let noun = if r.kind.is_default() {
                    "connections".to_owned()
                } else {
                    format!("{}s", r.kind.noun)
                };
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "{noun} `{}` and `{}` have the same name `{}` in sandbox `{}`{within}",
                        first.key,
                        r.key,
                        r.name(),
                        r.sandbox
                    ))
                    .at(&r.origin.file, r.places.name)
                    .of(r.kind, &r.key)
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
        let mut seen: BTreeMap<&str, &Resource> = BTreeMap::new();
        for r in self.desired.resources.values() {
            let Some(id) = r.import.as_deref() else { continue };
            if let Some(first) = seen.insert(id, r) {
                let what = if first.kind == r.kind {
                    r.kind.noun
                } else {
                    "resource"
                };
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "{what} id `{id}` is imported by both `{}` and `{}`",
                        first.key, r.key
                    ))
                    .at(
                        &r.origin.file,
                        r.places.import_id.unwrap_or_else(|| r.origin.location()),
                    )
                    .key(Some(&r.key))
                    .field("import.id"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_graph;
