//! A declared resource: an instance of a kind, as the configuration gives it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Default, Field, Kind, Type};
use crate::secret::{Secret, SecretRef};
use crate::yaml::Location;

/// One declared resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    #[serde(serialize_with = "kind_name")]
    pub kind: &'static Kind,
    /// Its stable address in state and plans, with the sandbox.
    pub key: String,
    /// The sandbox (`x-sandbox-name`) it lives in.
    pub sandbox: String,
    /// The declared fields by path (a field's default is not here: see [`Resource::value`]).
    pub values: BTreeMap<&'static str, Value>,
    pub lifecycle: Lifecycle,
    /// `import: {id}`: adopt this existing resource instead of creating one.
    pub import: Option<String>,
    /// What the kind's own reader keeps for its live check, by the field it settles: a
    /// flow's spec by name (`flowSpec: CRMToAEP`), which the check resolves to the spec's id
    /// and version. Never sent or compared itself: the field it settles is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hints: BTreeMap<&'static str, String>,
    /// Where it is declared, for messages.
    pub origin: Origin,
    /// Where some of its fields are, for messages about them.
    #[serde(skip)]
    pub places: Places,
}

fn kind_name<S: serde::Serializer>(kind: &&'static Kind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name)
}

/// A declared field's value.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Value {
    /// A plain value.
    Plain(serde_json::Value),
    /// Params, each plain or secret.
    Params(BTreeMap<String, Param>),
    /// Another resource.
    Ref(Reference),
}

/// How a resource names another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reference {
    /// By key, declared in the configuration (same sandbox).
    Key(String),
    /// By AEP's id: one flowform does not manage.
    Id(String),
}

/// One param: a plain value, or a secret given by reference.
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

/// A resource's params, split: the plain values, and the secrets by name.
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

/// `lifecycle: {protect, ignoreChanges, acknowledge}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// Refuse to delete or replace it.
    pub protect: bool,
    /// Fields whose differences never produce an update (or drift): fields that change in
    /// place, `state` where AEP may disable it, a `Params` field or one of its params.
    pub ignore_changes: BTreeSet<String>,
    /// Advisories (see [`crate::catalog::ADVISORIES`]) the team has seen and keeps it as it
    /// is for: their warnings are not shown.
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
    pub fn new(file: &Path, location: Location) -> Origin {
        Origin {
            file: file.to_owned(),
            line: location.line,
            column: location.column,
        }
    }

    pub fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.column,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Where fields that cross-resource checks and the live checks talk about are written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Places {
    pub name: Location,
    pub import_id: Option<Location>,
    /// Each declared field's value, by path (a shorthand's place stands for the fields it
    /// gives).
    pub fields: BTreeMap<&'static str, Location>,
    /// Each param's name, and `params:` itself (under the empty name).
    pub params: BTreeMap<String, Location>,
    /// Each item of a list field (a table's columns, a set's mappings), in order.
    pub items: BTreeMap<&'static str, Vec<Location>>,
}

/// A resource being read: its values so far.
pub type Draft = BTreeMap<&'static str, Value>;

impl Resource {
    /// `sandbox/key` (or `sandbox/kind:key`).
    pub fn address(&self) -> String {
        super::address::format(self.kind, &self.sandbox, &self.key)
    }

    /// The display name every kind has.
    pub fn name(&self) -> &str {
        self.text("name").unwrap_or_default()
    }

    /// A plain string field as declared.
    pub fn text(&self, path: &str) -> Option<&str> {
        match self.values.get(path) {
            Some(Value::Plain(serde_json::Value::String(s))) => Some(s),
            _ => None,
        }
    }

    /// A field's value as declared, or its default (an inherited or live default is not
    /// known here: `None`).
    pub fn value(&self, field: &Field) -> Option<serde_json::Value> {
        match self.values.get(field.path) {
            Some(Value::Plain(v)) => Some(v.clone()),
            Some(Value::Ref(Reference::Id(id))) => Some(serde_json::Value::String(id.clone())),
            Some(_) => None,
            None => match field.default {
                Default::Value(json) => serde_json::from_str(json).ok(),
                _ => None,
            },
        }
    }

    /// A reference field's value.
    pub fn reference(&self, path: &str) -> Option<&Reference> {
        match self.values.get(path) {
            Some(Value::Ref(r)) => Some(r),
            _ => None,
        }
    }

    /// The params of its `Params` field.
    pub fn params(&self) -> Option<&BTreeMap<String, Param>> {
        let field = self.kind.params_field()?;
        match self.values.get(field.path) {
            Some(Value::Params(p)) => Some(p),
            _ => None,
        }
    }

    /// The one place params are told apart into plain values and secrets.
    pub fn split_params(&self) -> SplitParams<'_> {
        let mut split = SplitParams::default();
        for (name, param) in self.params().into_iter().flatten() {
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

    /// Whether `lifecycle.ignoreChanges` covers `path` (a param is covered by its field).
    pub fn ignores(&self, path: &str) -> bool {
        let ignore = &self.lifecycle.ignore_changes;
        if ignore.contains(path) {
            return true;
        }
        match self.kind.params_field() {
            Some(f) => {
                path.strip_prefix(f.path)
                    .is_some_and(|rest| rest.starts_with('.'))
                    && ignore.contains(f.path)
            }
            None => false,
        }
    }

    /// Where `path` is written, or the resource's key.
    /// Where item `index` of the list field `path` is written (the field's place if unknown).
    pub fn item_place(&self, path: &str, index: usize) -> Location {
        self.places
            .items
            .get(path)
            .and_then(|items| items.get(index))
            .copied()
            .unwrap_or_else(|| self.place(path))
    }

    pub fn place(&self, path: &str) -> Location {
        if path == "name" {
            return self.places.name;
        }
        if let Some(location) = self.places.fields.get(path) {
            return *location;
        }
        if let Some(f) = self.kind.params_field()
            && let Some(rest) = path.strip_prefix(f.path)
            && (rest.is_empty() || rest.starts_with('.'))
            && let Some(location) = self.places.params.get(rest.trim_start_matches('.'))
        {
            return *location;
        }
        self.origin.location()
    }

    /// Its field of type `Ref` whose kind is `kind`, with the reference declared.
    pub fn refs(&self) -> impl Iterator<Item = (&'static Field, &Reference)> {
        self.kind
            .refs()
            .filter_map(|f| self.reference(f.path).map(|r| (f, r)))
    }
}

/// The referenced kind of a `Ref` field.
pub fn ref_kind(field: &Field) -> Option<&'static Kind> {
    match field.ty {
        Type::Ref { kind, .. } => super::by_name(kind),
        _ => None,
    }
}

/// Data Prep mapping rows as flowform compares and records them: `{source, destination,
/// sourceType}` each, `sourceType` in the declared vocabulary (AEP echoes
/// `text/x.schema-path` for `ATTRIBUTE`, `text/x.aep-xl` for `EXPRESSION`, `text/plain` for
/// `STATIC`), the legacy names read where the current ones are missing, what AEP adds (row
/// ids, versions, dates, `identity`, …) left out, and in the order of their destinations.
pub fn mapping_rows(rows: Vec<serde_json::Value>) -> serde_json::Value {
    use serde_json::Value;
    let rows = rows.into_iter().map(|row| {
        let pick = |a: &str, b: &str| row.get(a).or_else(|| row.get(b)).cloned().unwrap_or(Value::Null);
        let source_type = match row.get("sourceType").and_then(Value::as_str) {
            None => "ATTRIBUTE".to_owned(),
            Some(t) => match t.to_ascii_lowercase().as_str() {
                "text/x.schema-path" | "attribute" => "ATTRIBUTE".to_owned(),
                "text/x.aep-xl" | "expression" => "EXPRESSION".to_owned(),
                "text/plain" | "static" => "STATIC".to_owned(),
                _ => t.to_owned(),
            },
        };
        serde_json::json!({
            "source": pick("source", "sourceAttribute"),
            "destination": pick("destination", "destinationXdmPath"),
            "sourceType": source_type,
        })
    });
    // A destination takes one mapping: their order is no difference.
    let mut rows: Vec<Value> = rows.collect();
    rows.sort_by(|a, b| a["destination"].as_str().cmp(&b["destination"].as_str()));
    Value::Array(rows)
}

/// A version recorded as an etag (a Data Prep set's: `"3"`, quotes or not), as a number.
pub fn version(etag: Option<&str>) -> Option<u64> {
    etag?.trim().trim_matches('"').parse().ok()
}
