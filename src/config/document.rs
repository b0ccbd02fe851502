//! Reading one YAML document into the model, checking each field as it goes.
//!
//! The reader never stops at a problem: it records a [`Diagnostic`] and carries on with what
//! it can still read, so that one run reports every mistake in the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::catalog::{self, AuthSpec, ConnectionSpec};
use crate::config::{Auth, Connection, LoadOptions, Origin, Param, SpecRef};
use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::secret::{self, Parsed};
use crate::settings::Environment;
use crate::yaml::{Location, Node, Value};

const DOCUMENT_FIELDS: &[&str] = &["sandbox", "connections", "moved", "removed"];
const CONNECTION_FIELDS: &[&str] = &[
    "name",
    "description",
    "source",
    "connectionSpec",
    "auth",
    "lifecycle",
    "import",
    "sandbox",
];
const SPEC_FIELDS: &[&str] = &["id", "version"];
const AUTH_FIELDS: &[&str] = &["specName", "params"];
const LIFECYCLE_FIELDS: &[&str] = &["protect", "ignoreChanges", "acknowledge"];
const IMPORT_FIELDS: &[&str] = &["id"];

/// What one document declares.
pub(super) struct Declared {
    /// `None` for a document of `moved:` and `removed:` entries alone.
    pub sandbox: Option<String>,
    pub connections: Vec<Connection>,
    pub moved: Vec<super::moved::Moved>,
    pub removed: Vec<super::moved::Removed>,
}

pub(super) struct Reader<'a> {
    pub file: &'a Path,
    pub base: &'a Path,
    pub env: &'a Environment,
    pub options: &'a LoadOptions,
    pub diagnostics: &'a mut Diagnostics,
}

/// The fields of a mapping, by name, after checking that the keys are known strings.
struct Fields<'n> {
    by_name: BTreeMap<&'n str, (&'n Node, &'n Node)>,
    /// Known fields a misspelt one was taken for ("did you mean"): not reported missing too.
    misspelt: BTreeSet<String>,
}

impl<'n> Fields<'n> {
    /// Whether `name` is absent only because it was misspelt (and said so already).
    fn misspelt(&self, name: &str) -> bool {
        self.misspelt.contains(name)
    }

    fn get(&self, name: &str) -> Option<&'n Node> {
        self.by_name.get(name).map(|(_, v)| *v)
    }

    /// Where the field's name is written (for "missing …" inside its value).
    fn key_location(&self, name: &str) -> Option<Location> {
        self.by_name.get(name).map(|(k, _)| k.location)
    }
}

/// Where in the document a value sits: the connection key (if inside one) and the field path.
#[derive(Clone, Copy)]
struct At<'p> {
    key: Option<&'p str>,
    field: &'p str,
}

impl<'p> At<'p> {
    /// A field of the connection `key`.
    fn on(key: &'p str, field: &'p str) -> At<'p> {
        At {
            key: Some(key),
            field,
        }
    }

    /// A field outside any connection.
    fn top(field: &'p str) -> At<'p> {
        At { key: None, field }
    }
}

impl<'a> Reader<'a> {
    fn error(&mut self, at: At<'_>, location: Location, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(
            Diagnostic::error(message)
                .at(self.file, location)
                .key(at.key)
                .field(at.field),
        );
        self.last()
    }

    fn warning(&mut self, at: At<'_>, location: Location, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(
            Diagnostic::warning(message)
                .at(self.file, location)
                .key(at.key)
                .field(at.field),
        );
        self.last()
    }

    fn last(&mut self) -> &mut Diagnostic {
        match self.diagnostics.last_mut() {
            Some(last) => last,
            None => unreachable!("a diagnostic was just pushed"),
        }
    }

    /// Reads a top-level document: `sandbox`, `connections`, and ignored `x-…` extension keys
    /// (a place for YAML anchors shared by several connections).
    pub fn document(&mut self, doc: &Node) -> Option<Declared> {
        let top = At::top("");
        let fields = self.fields(doc, top, DOCUMENT_FIELDS, "the document", true)?;
        let moved = fields
            .get("moved")
            .map(|n| super::moved::read_moved(self.file, n, self.diagnostics))
            .unwrap_or_default();
        let removed = fields
            .get("removed")
            .map(|n| super::moved::read_removed(self.file, n, self.diagnostics))
            .unwrap_or_default();
        // A document of `moved:` and `removed:` entries alone names no sandbox: keys are
        // unique across the configuration.
        let state_only = (fields.get("moved").is_some() || fields.get("removed").is_some())
            && ["sandbox", "connections"]
                .iter()
                .all(|f| fields.get(f).is_none() && !fields.misspelt(f));
        if state_only {
            return Some(Declared {
                sandbox: None,
                connections: Vec::new(),
                moved,
                removed,
            });
        }
        let sandbox = match fields.get("sandbox") {
            Some(node) => self.sandbox(node, At::top("sandbox")),
            None if fields.misspelt("sandbox") => None,
            None => {
                self.error(top, doc.location, "the document names no `sandbox`")
                    .help = Some(
                    "add `sandbox: prod` (or your sandbox's name); AEP silently falls back to `prod` when none is named, so flowform never assumes one"
                        .to_owned(),
                );
                None
            }
        };
        let mut connections = Vec::new();
        match fields.get("connections") {
            Some(node) => {
                let at = At::top("connections");
                match &node.value {
                    Value::Mapping(entries) => {
                        for (key_node, value) in entries {
                            let Some(key) = self.connection_key(key_node) else {
                                continue;
                            };
                            if let Some(c) =
                                self.connection(&key, key_node.location, value, sandbox.as_deref())
                            {
                                connections.push(c);
                            }
                        }
                    }
                    Value::Null => {}
                    other => {
                        self.error(
                            at,
                            node.location,
                            format!(
                                "expected a mapping of connection keys to connections, found {}",
                                other.kind()
                            ),
                        );
                    }
                }
            }
            None if fields.misspelt("connections") => {}
            None => {
                self.error(top, doc.location, "the document declares no `connections`")
                    .help = Some("add `connections:` with one entry per connection, keyed by a stable name such as `acme-salesforce`".to_owned());
            }
        }
        Some(Declared {
            sandbox: Some(sandbox?),
            connections,
            moved,
            removed,
        })
    }

    fn connection_key(&mut self, node: &Node) -> Option<String> {
        let at = At::top("connections");
        let Some(key) = node.as_str() else {
            self.error(
                at,
                node.location,
                format!("a connection key must be a string, found {}", node.value.kind()),
            );
            return None;
        };
        if !crate::config::is_valid_key(key) {
            self.error(
                at,
                node.location,
                format!("`{key}` is not a valid connection key"),
            )
            .help = Some(crate::config::KEY_RULE.to_owned());
            return None;
        }
        Some(key.to_owned())
    }

    fn connection(
        &mut self,
        key: &str,
        key_location: Location,
        node: &Node,
        sandbox: Option<&str>,
    ) -> Option<Connection> {
        let here = At::on(key, "");
        let fields = self.fields(node, here, CONNECTION_FIELDS, "a connection", false)?;

        let name = match fields.get("name") {
            Some(n) => self.non_empty_string(n, At::on(key, "name")),
            None if fields.misspelt("name") => None,
            None => {
                self.error(here, key_location, "missing `name`").help =
                    Some("add `name: …`, the connection's display name in AEP".to_owned());
                None
            }
        };
        let description = fields
            .get("description")
            .and_then(|n| self.optional_string(n, At::on(key, "description")));
        let sandbox_override = fields
            .get("sandbox")
            .and_then(|n| self.sandbox(n, At::on(key, "sandbox")));
        // Carry on past a bad spec: the auth block still has mistakes worth reporting.
        let spec_ref = self.spec(key, key_location, &fields);
        let spec = spec_ref.as_ref().and_then(|(_, spec)| *spec);
        let auth = match fields.get("auth") {
            Some(n) => self.auth(key, n, spec),
            None if fields.misspelt("auth") => None,
            None => {
                self.error(here, key_location, "missing `auth`").help = Some(
                    "add `auth: {specName: …, params: {…}}` as in the body of `POST /connections`".to_owned(),
                );
                None
            }
        };
        let lifecycle = match fields.get("lifecycle") {
            Some(n) => {
                // Read from the YAML, so that a param that failed to load (an unset variable)
                // does not hide mistakes in `ignoreChanges`.
                let written = fields.get("auth").map(written_auth).unwrap_or_default();
                self.lifecycle(key, n, &written, spec)
            }
            None => Some(Default::default()),
        };
        let import = match fields.get("import") {
            Some(n) => self.import(key, n).map(Some),
            None => Some(None),
        };
        let auth_node = fields.get("auth");
        let params_node = auth_node.and_then(|n| field(n, "params"));
        let places = crate::config::Places {
            name: fields.get("name").map_or(key_location, |n| n.location),
            import_id: fields
                .get("import")
                .and_then(|n| field(n, "id"))
                .map(|n| n.location),
            spec_id: fields
                .get("connectionSpec")
                .and_then(|n| field(n, "id"))
                .or(fields.get("source"))
                .map(|n| n.location),
            spec_name: auth_node.and_then(|n| field(n, "specName")).map(|n| n.location),
            params: auth_node
                .and_then(|n| key_of(n, "params"))
                .map(|k| (String::new(), k.location))
                .into_iter()
                .chain(match params_node.map(|n| &n.value) {
                    Some(Value::Mapping(entries)) => entries
                        .iter()
                        .filter_map(|(k, _)| Some((k.as_str()?.to_owned(), k.location)))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect(),
        };
        if let (Some(spec), Some(auth), Some(lifecycle)) = (spec, &auth, &lifecycle) {
            let location = places.spec_name.unwrap_or(key_location);
            for advisory in catalog::advisories(spec.id, &auth.spec_name) {
                if !lifecycle.acknowledge.contains(advisory.id) {
                    self.warning(At::on(key, "auth.specName"), location, advisory.message)
                        .help = Some(advisory.help.to_owned());
                }
            }
        }
        Some(Connection {
            places,
            key: key.to_owned(),
            sandbox: sandbox_override.or(sandbox.map(str::to_owned))?,
            name: name?,
            description,
            connection_spec: spec_ref?.0,
            auth: auth?,
            lifecycle: lifecycle?,
            import: import?,
            origin: Origin::new(self.file, key_location),
        })
    }

    /// `connectionSpec: {id, version}` or the `source:` shorthand.
    fn spec(
        &mut self,
        key: &str,
        key_location: Location,
        fields: &Fields<'_>,
    ) -> Option<(SpecRef, Option<&'static ConnectionSpec>)> {
        match (fields.get("source"), fields.get("connectionSpec")) {
            (Some(source), Some(_)) => {
                self.error(
                    At::on(key, "source"),
                    source.location,
                    "give either `source` or `connectionSpec`, not both",
                )
                .help =
                    Some("`source: salesforce` is shorthand for Salesforce's `connectionSpec`".to_owned());
                None
            }
            (None, None) if fields.misspelt("connectionSpec") || fields.misspelt("source") => None,
            (None, None) => {
                self.error(At::on(key, ""), key_location, "missing `connectionSpec`")
                    .help = Some(format!(
                    "add `connectionSpec: {{id: {}, version: \"1.0\"}}`, or the shorthand `source: salesforce`",
                    catalog::SALESFORCE_ID
                ));
                None
            }
            (Some(source), None) => {
                let at = At::on(key, "source");
                let name = self.string(source, at)?;
                match catalog::by_source(&name) {
                    Some(spec) => Some((
                        SpecRef {
                            id: spec.id.to_owned(),
                            version: spec.version.to_owned(),
                        },
                        Some(spec),
                    )),
                    None => {
                        let known: Vec<&str> = catalog::all().iter().map(|s| s.source).collect();
                        let help = match did_you_mean(&name, known.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "known sources are {}; for any other, give `connectionSpec: {{id, version}}`",
                                backticked(&known)
                            ),
                        };
                        self.error(at, source.location, format!("unknown source `{name}`"))
                            .help = Some(help);
                        None
                    }
                }
            }
            (None, Some(node)) => {
                let at = At::on(key, "connectionSpec");
                let fields = self.fields(node, at, SPEC_FIELDS, "`connectionSpec`", false)?;
                let id = match fields.get("id") {
                    Some(n) => self.spec_id(n, At::on(key, "connectionSpec.id")),
                    None => {
                        self.error(at, node.location, "missing `id`");
                        None
                    }
                }?;
                let spec = catalog::by_id(&id);
                if spec.is_none()
                    && let Some(near) = catalog::misspelt_id(&id)
                    && let Some(id_node) = fields.get("id")
                {
                    self.error(
                        At::on(key, "connectionSpec.id"),
                        id_node.location,
                        format!("`{id}` is one or two characters off the id of {}", near.title),
                    )
                    .help = Some(format!(
                        "did you mean `{}`? (or write `source: {}` instead of `connectionSpec`)",
                        near.id, near.source
                    ));
                    return None;
                }
                let version_at = At::on(key, "connectionSpec.version");
                let version = match (fields.get("version"), spec) {
                    (Some(n), _) => self.non_empty_string(n, version_at)?,
                    (None, Some(spec)) => spec.version.to_owned(),
                    (None, None) => {
                        self.error(version_at, node.location, "missing `version`; flowform does not know this connection spec, so it cannot default it")
                            .help = Some("add `version: \"1.0\"` (the version Adobe's documentation gives for every source)".to_owned());
                        return None;
                    }
                };
                Some((
                    SpecRef {
                        id: spec.map_or(id, |s| s.id.to_owned()),
                        version,
                    },
                    spec,
                ))
            }
        }
    }

    fn spec_id(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let id = self.non_empty_string(node, at)?;
        let valid = id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !valid {
            self.error(at, node.location, format!("`{id}` is not a connection spec id"))
                .help = Some(format!(
                "a spec id is a UUID such as `{}` (Salesforce)",
                catalog::SALESFORCE_ID
            ));
            return None;
        }
        Some(id)
    }

    fn auth(&mut self, key: &str, node: &Node, spec: Option<&'static ConnectionSpec>) -> Option<Auth> {
        let at = At::on(key, "auth");
        let fields = self.fields(node, at, AUTH_FIELDS, "`auth`", false)?;
        let name_at = At::on(key, "auth.specName");
        let spec_name = match fields.get("specName") {
            Some(n) => self.non_empty_string(n, name_at),
            None => {
                self.error(at, node.location, "missing `specName`").help =
                    Some(match spec.filter(|s| s.knows_auth()) {
                        Some(s) => format!("{} accepts {}", s.title, backticked(&auth_names(s))),
                        None => "name one of the connection spec's `authSpec[].name`".to_owned(),
                    });
                None
            }
        };
        // Only a spec that publishes its auth specs can say which names and params exist.
        let auth_spec = match (
            spec.filter(|s| s.knows_auth()),
            &spec_name,
            fields.get("specName"),
        ) {
            (Some(spec), Some(name), Some(name_node)) => match spec.auth_spec(name) {
                Some(a) => Some(a),
                None => {
                    let names = auth_names(spec);
                    let help = match did_you_mean(name, names.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("{} accepts {}", spec.title, backticked(&names)),
                    };
                    self.error(
                        name_at,
                        name_node.location,
                        format!("unknown auth spec `{name}` for {}", spec.title),
                    )
                    .help = Some(help);
                    None
                }
            },
            _ => None,
        };
        let params = match fields.get("params") {
            Some(n) => self.params(
                key,
                n,
                fields.key_location("params").unwrap_or(n.location),
                auth_spec,
            ),
            None => {
                self.error(at, node.location, "missing `params`");
                None
            }
        };
        Some(Auth {
            spec_name: spec_name?,
            params: params?,
        })
    }

    /// `auth.params`. With a known auth spec, names, formats and secrecy are checked; without
    /// one, only the structure (and literal values of params named like secrets).
    fn params(
        &mut self,
        key: &str,
        node: &Node,
        params_key: Location,
        auth_spec: Option<&'static AuthSpec>,
    ) -> Option<BTreeMap<String, Param>> {
        let at = At::on(key, "auth.params");
        let Value::Mapping(entries) = &node.value else {
            self.error(
                at,
                node.location,
                format!(
                    "expected a mapping of param names to values, found {}",
                    node.value.kind()
                ),
            );
            return None;
        };
        let mut params = BTreeMap::new();
        let mut ok = true;
        // Params already named in a "did you mean" are not reported missing as well.
        let mut suggested = BTreeSet::new();
        for (name_node, value) in entries {
            let Some(name) = name_node.as_str() else {
                self.error(
                    at,
                    name_node.location,
                    format!("a param name must be a string, found {}", name_node.value.kind()),
                );
                ok = false;
                continue;
            };
            let field = format!("auth.params.{name}");
            let at = At::on(key, &field);
            let param_spec = auth_spec.and_then(|a| a.param(name));
            if let (Some(auth_spec), None) = (auth_spec, param_spec) {
                let names: Vec<&str> = auth_spec.params.iter().map(|p| p.name).collect();
                match did_you_mean(name, names.iter().copied()) {
                    Some(s) => {
                        suggested.insert(s);
                        self.error(
                            at,
                            name_node.location,
                            format!("unknown param `{name}` for `{}`", auth_spec.name),
                        )
                        .help = Some(format!("did you mean `{s}`?"));
                        ok = false;
                        continue;
                    }
                    None => {
                        self.warning(
                            at,
                            name_node.location,
                            format!(
                                "param `{name}` is not one flowform knows for `{}`; AEP will check it",
                                auth_spec.name
                            ),
                        )
                        .help = Some(format!("known params are {}", backticked(&names)));
                    }
                }
            }
            // Where flowform does not know the param, one named like a credential is treated
            // as one: a literal password in a file is never what the user wants.
            let must_be_secret = param_spec.map_or_else(|| looks_secret(name), |p| p.secret);
            match self.param(
                key,
                (name, name_node.location),
                value,
                at,
                param_spec,
                must_be_secret,
            ) {
                Some(p) => {
                    params.insert(name.to_owned(), p);
                }
                None => ok = false,
            }
        }
        if let Some(auth_spec) = auth_spec {
            let written: BTreeSet<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
            for p in auth_spec
                .params
                .iter()
                .filter(|p| p.required && !written.contains(p.name) && !suggested.contains(p.name))
            {
                let example = if p.secret {
                    format!("${{env:{}}}", env_name(key, p.name))
                } else {
                    p.format.example().to_owned()
                };
                self.error(
                    at,
                    params_key,
                    format!("missing required param `{}` for `{}`", p.name, auth_spec.name),
                )
                .help = Some(format!("add `{}: {example}` ({})", p.name, p.description));
                ok = false;
            }
        }
        ok.then_some(params)
    }

    fn param(
        &mut self,
        key: &str,
        (name, name_location): (&str, Location),
        node: &Node,
        at: At<'_>,
        spec: Option<&'static catalog::ParamSpec>,
        must_be_secret: bool,
    ) -> Option<Param> {
        let text = match &node.value {
            Value::String(s) => s,
            Value::Null => {
                // An empty value has no place of its own; point at the name.
                self.error(at, name_location, "has no value").help = Some(if must_be_secret {
                    format!("write `{name}: ${{env:{}}}`", env_name(key, name))
                } else {
                    format!("give `{name}` a value, or remove it")
                });
                return None;
            }
            // A secret written as a number or a boolean is still a literal secret: never echo it.
            _ if must_be_secret => {
                self.literal_secret(key, name, at, node.location, spec.is_some());
                return None;
            }
            other if spec.is_some() => {
                self.string_expected(at, node.location, other);
                return None;
            }
            _ => {
                if must_be_secret {
                    self.literal_secret(key, name, at, node.location, spec.is_some());
                    return None;
                }
                return self.json(node, at).map(Param::Plain);
            }
        };
        match secret::parse(text) {
            Err(e) => {
                self.error(at, node.location, e.message).help = e.help;
                None
            }
            Ok(Parsed::Literal(literal)) => {
                if must_be_secret {
                    self.literal_secret(key, name, at, node.location, spec.is_some());
                    return None;
                }
                if let Some(spec) = spec
                    && let Err(expected) = spec.format.check(&literal)
                {
                    self.error(at, node.location, format!("`{literal}` {expected}"))
                        .help = Some(format!("e.g. `{name}: {}`", spec.format.example()));
                    return None;
                }
                Some(Param::Plain(serde_json::Value::String(literal)))
            }
            Ok(Parsed::Reference(reference)) => {
                let value = if self.options.resolve_secrets {
                    match reference.resolve(self.env, self.base) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            self.error(at, node.location, e.message).help = e.help;
                            return None;
                        }
                    }
                } else {
                    None
                };
                // A referenced value is checked without being quoted back.
                if let (Some(spec), Some(v)) = (spec, &value)
                    && let Err(expected) = spec.format.check(v.expose())
                {
                    self.error(at, node.location, format!("the value of {reference} {expected}"));
                    return None;
                }
                Some(Param::Secret { reference, value })
            }
        }
    }

    fn literal_secret(&mut self, key: &str, name: &str, at: At<'_>, location: Location, known: bool) {
        let var = env_name(key, name);
        let file = var.to_lowercase().replace('_', "-");
        let message = if known {
            format!("`{name}` is a secret and cannot be written in the file")
        } else {
            format!("`{name}` is named like a secret and cannot be written in the file")
        };
        self.error(at, location, message).help = Some(format!(
            "reference it instead: `{name}: ${{env:{var}}}` or `{name}: ${{file:secrets/{file}}}` (relative to this file)"
        ));
    }

    /// A param value of a spec flowform does not know: any YAML value that has a JSON form.
    fn json(&mut self, node: &Node, at: At<'_>) -> Option<serde_json::Value> {
        Some(match &node.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f, text) => match serde_json::Number::from_f64(*f) {
                Some(n) => serde_json::Value::Number(n),
                None => {
                    self.error(at, node.location, format!("`{text}` has no JSON form"));
                    return None;
                }
            },
            // Inside a structured value, `$${` writes a literal `${` as it does in a param's
            // own value; a reference is read only as the whole value of a param.
            Value::String(s) => match secret::parse(s) {
                Ok(Parsed::Literal(literal)) => literal.into(),
                Ok(Parsed::Reference(_)) | Err(_) => {
                    self.error(
                        at,
                        node.location,
                        "secret references are only read as the whole value of a param",
                    )
                    .help = Some(
                        "move the secret to a param of its own, or write `$${` for a literal `${`".to_owned(),
                    );
                    return None;
                }
            },
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.json(item, at)?);
                }
                serde_json::Value::Array(out)
            }
            Value::Mapping(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    let Some(k) = k.as_str() else {
                        self.error(
                            at,
                            k.location,
                            format!("a key must be a string, found {}", k.value.kind()),
                        );
                        return None;
                    };
                    out.insert(k.to_owned(), self.json(v, at)?);
                }
                serde_json::Value::Object(out)
            }
        })
    }

    fn lifecycle(
        &mut self,
        key: &str,
        node: &Node,
        auth: &WrittenAuth,
        spec: Option<&'static ConnectionSpec>,
    ) -> Option<crate::config::Lifecycle> {
        let at = At::on(key, "lifecycle");
        let fields = self.fields(node, at, LIFECYCLE_FIELDS, "`lifecycle`", false)?;
        let protect = match fields.get("protect") {
            Some(n) => match &n.value {
                Value::Bool(b) => Some(*b),
                other => {
                    let found = match other.scalar_text() {
                        Some(text) => format!("{} `{text}`", other.kind()),
                        None => other.kind().to_owned(),
                    };
                    self.error(
                        At::on(key, "lifecycle.protect"),
                        n.location,
                        format!("expected `true` or `false`, found {found}"),
                    )
                    .help = Some("write `protect: true` or `protect: false`".to_owned());
                    None
                }
            },
            None => Some(false),
        };
        let mut ignore_changes = BTreeSet::new();
        let mut valid = true;
        if let Some(n) = fields.get("ignoreChanges") {
            let at = At::on(key, "lifecycle.ignoreChanges");
            let Value::Sequence(items) = &n.value else {
                self.error(
                    at,
                    n.location,
                    format!("expected a list of fields, found {}", n.value.kind()),
                )
                .help = Some("e.g. `ignoreChanges: [description]`".to_owned());
                return None;
            };
            let auth_spec = spec
                .zip(auth.spec_name.as_deref())
                .and_then(|(s, name)| s.auth_spec(name));
            for item in items {
                let Some(field) = self.string(item, at) else {
                    valid = false;
                    continue;
                };
                if let Some(param) = field.strip_prefix("auth.params.")
                    && let Some(a) = auth_spec
                    && a.param(param).is_none()
                    && !auth.params.contains(param)
                {
                    let names: Vec<&str> = a.params.iter().map(|p| p.name).collect();
                    let help = did_you_mean(param, names.iter().copied())
                        .map(|s| format!("did you mean `auth.params.{s}`?"))
                        .or_else(|| Some(format!("`{}` has {}", a.name, backticked(&names))));
                    self.error(
                        at,
                        item.location,
                        format!("`{param}` is not a param of `{}`", a.name),
                    )
                    .help = help;
                    valid = false;
                    continue;
                }
                let known = match field.strip_prefix("auth.params.") {
                    Some(param) => !param.is_empty(),
                    None => matches!(field.as_str(), "name" | "description" | "state" | "auth.params"),
                };
                if !known {
                    let help = match did_you_mean(&field, ["name", "description", "state", "auth.params"]) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "changes can be ignored on `name`, `description`, `state`, `auth.params` or `auth.params.<param>`".to_owned(),
                    };
                    self.error(at, item.location, format!("`{field}` cannot be ignored"))
                        .help = Some(help);
                    valid = false;
                    continue;
                }
                ignore_changes.insert(field);
            }
        }
        let acknowledge = match fields.get("acknowledge") {
            Some(n) => self.acknowledge(key, n, auth, spec),
            None => Some(BTreeSet::new()),
        };
        if !valid {
            return None;
        }
        Some(crate::config::Lifecycle {
            protect: protect?,
            ignore_changes,
            acknowledge: acknowledge?,
        })
    }

    /// `lifecycle.acknowledge`: advisories by id. One that does not concern the connection
    /// (any more) is a warning, so that acknowledgements do not outlive their reason.
    fn acknowledge(
        &mut self,
        key: &str,
        node: &Node,
        auth: &WrittenAuth,
        spec: Option<&'static ConnectionSpec>,
    ) -> Option<BTreeSet<String>> {
        let at = At::on(key, "lifecycle.acknowledge");
        let Value::Sequence(items) = &node.value else {
            self.error(
                at,
                node.location,
                format!("expected a list of advisories, found {}", node.value.kind()),
            )
            .help = Some("e.g. `acknowledge: [salesforce-basic-retirement]`".to_owned());
            return None;
        };
        let concerned: Vec<&str> = match (spec, auth.spec_name.as_deref()) {
            (Some(spec), Some(name)) => catalog::advisories(spec.id, name).map(|a| a.id).collect(),
            _ => Vec::new(),
        };
        let mut acknowledged = BTreeSet::new();
        let mut valid = true;
        for item in items {
            let Some(id) = self.string(item, at) else {
                valid = false;
                continue;
            };
            let known: Vec<&str> = catalog::ADVISORIES.iter().map(|a| a.id).collect();
            if !known.contains(&id.as_str()) {
                let help = match did_you_mean(&id, known.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("the advisories are {}", backticked(&known)),
                };
                self.error(
                    at,
                    item.location,
                    format!("`{id}` is not an advisory flowform gives"),
                )
                .help = Some(help);
                valid = false;
                continue;
            }
            if !concerned.contains(&id.as_str()) {
                self.warning(
                    at,
                    item.location,
                    format!("`{id}` does not concern this connection: nothing to acknowledge"),
                )
                .help = Some("remove it from `acknowledge`".to_owned());
            }
            acknowledged.insert(id);
        }
        valid.then_some(acknowledged)
    }

    fn import(&mut self, key: &str, node: &Node) -> Option<String> {
        let at = At::on(key, "import");
        let fields = self.fields(node, at, IMPORT_FIELDS, "`import`", false)?;
        let Some(id_node) = fields.get("id") else {
            self.error(at, node.location, "missing `id`").help =
                Some("write `import: {id: <the connection's id in AEP>}`".to_owned());
            return None;
        };
        let id_at = At::on(key, "import.id");
        let id = self.non_empty_string(id_node, id_at)?;
        if !is_uuid(&id) {
            self.error(id_at, id_node.location, format!("`{id}` is not a connection id"))
                .help =
                Some("a connection id is a UUID such as `139f6a5f-a78b-4744-9f6a-5fa78bd74431`".to_owned());
            return None;
        }
        Some(id.to_lowercase())
    }

    fn sandbox(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let name = self.non_empty_string(node, at)?;
        let valid = name.len() <= 256
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            let lower = name.to_lowercase();
            let help = if lower != name
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                format!("sandbox names are lower case: `{lower}`")
            } else {
                "a sandbox name is lower-case letters, digits and `-`, e.g. `prod` or `dev-2`".to_owned()
            };
            self.error(at, node.location, format!("`{name}` is not a sandbox name"))
                .help = Some(help);
            return None;
        }
        Some(name)
    }

    /// Checks that `node` is a mapping whose keys are strings naming known fields.
    /// `extensions` lets `x-…` keys through (ignored), for the document level.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        at: At<'_>,
        known: &[&str],
        what: &str,
        extensions: bool,
    ) -> Option<Fields<'n>> {
        let Value::Mapping(entries) = &node.value else {
            self.error(
                at,
                node.location,
                format!("expected {what} to be a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        let mut by_name = BTreeMap::new();
        let mut misspelt = BTreeSet::new();
        // The last field left empty (`params:` with nothing after it): a field that follows
        // it unknown here was most likely meant under it, indented one level too little.
        let mut empty_above: Option<(&str, Location)> = None;
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                self.error(
                    at,
                    k.location,
                    format!("a field name must be a string, found {}", k.value.kind()),
                );
                continue;
            };
            if extensions && name.starts_with("x-") {
                continue;
            }
            if known.contains(&name) {
                by_name.insert(name, (k, v));
                let holds_fields = matches!(
                    name,
                    "connections" | "connectionSpec" | "auth" | "params" | "lifecycle" | "import"
                );
                empty_above = (holds_fields && matches!(v.value, Value::Null)).then_some((name, k.location));
                continue;
            }
            let help = match (empty_above, did_you_mean(name, known.iter().copied())) {
                (Some((owner, place)), _) => format!(
                    "`{owner}` (line {}) is empty: if `{name}` belongs under it, indent it deeper than `{owner}`",
                    place.line
                ),
                (_, Some(s)) => {
                    misspelt.insert(s.to_owned());
                    format!("did you mean `{s}`?")
                }
                (_, None) => format!("expected one of {}", backticked(known)),
            };
            self.error(at, k.location, format!("unknown field `{name}` in {what}"))
                .help = Some(help);
        }
        Some(Fields { by_name, misspelt })
    }

    fn string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.string_expected(at, node.location, other);
                None
            }
        }
    }

    fn string_expected(&mut self, at: At<'_>, location: Location, found: &Value) {
        let d = self.error(at, location, format!("expected a string, found {}", found.kind()));
        if let Some(text) = found.scalar_text().filter(|_| !matches!(found, Value::Null)) {
            d.message = format!("expected a string, found {} `{text}`", found.kind());
            d.help = Some(format!("quote it: \"{text}\""));
        }
    }

    fn non_empty_string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let s = self.string(node, at)?;
        if s.trim().is_empty() {
            self.error(at, node.location, "must not be empty");
            return None;
        }
        Some(s)
    }

    fn optional_string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        match node.value {
            Value::Null => None,
            _ => self.string(node, at),
        }
    }
}

/// The value of `name` in the mapping `node`, if it is one and has it.
fn field<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The key node `name` in the mapping `node` (where the field's name is written).
fn key_of<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(k, _)| k),
        _ => None,
    }
}

/// The auth spec name and param names as written, whatever else is wrong with them.
#[derive(Default)]
struct WrittenAuth {
    spec_name: Option<String>,
    params: BTreeSet<String>,
}

fn written_auth(node: &Node) -> WrittenAuth {
    let mut written = WrittenAuth::default();
    if let Value::Mapping(entries) = &node.value {
        for (k, v) in entries {
            match (k.as_str(), &v.value) {
                (Some("specName"), Value::String(s)) => written.spec_name = Some(s.clone()),
                (Some("params"), Value::Mapping(params)) => {
                    written.params = params
                        .iter()
                        .filter_map(|(p, _)| p.as_str().map(str::to_owned))
                        .collect();
                }
                _ => {}
            }
        }
    }
    written
}

fn auth_names(spec: &ConnectionSpec) -> Vec<&'static str> {
    spec.auth_specs.iter().map(|a| a.name).collect()
}

fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A param of an unknown spec whose name says it holds a credential.
pub(crate) fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "password",
        "passphrase",
        "secret",
        "token",
        "key",
        "credential",
        "credentials",
    ]
    .iter()
    .any(|s| lower.ends_with(s))
}

/// The environment variable name suggested in help lines: `ACME_SALESFORCE_PASSWORD`.
pub(crate) fn env_name(key: &str, param: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    out.push('_');
    let mut prev_lower = false;
    for c in param.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    out
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_read_like_shell_variables() {
        assert_eq!(
            env_name("acme-salesforce", "securityToken"),
            "ACME_SALESFORCE_SECURITY_TOKEN"
        );
        assert_eq!(env_name("a.b", "password"), "A_B_PASSWORD");
    }

    #[test]
    fn secret_looking_names() {
        for name in [
            "password",
            "clientSecret",
            "apiKey",
            "refreshToken",
            "servicePrincipalKey",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["username", "environmentUrl", "keyId", "tokenUrl", "clientId"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
