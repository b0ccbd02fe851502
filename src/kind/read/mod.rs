//! Reading one resource of any kind from its mapping, field by field as the kind declares
//! them: types, required fields, defaults, references, secrets, `lifecycle`, `import`.
//! What a declaration cannot say, the kind's own reader adds ([`super::Hooks::read`]).
//! The `lifecycle:` and `import:` blocks are read in the `lifecycle` module.

mod lifecycle;

use std::collections::{BTreeMap, BTreeSet};

use super::resource::Draft;
use super::{
    Default, Field, IdForm, Kind, Lifecycle, Origin, Param, Places, ReadCx, Reference, Resource, Type, Value,
};
use crate::diagnostic::did_you_mean;
use crate::reader::{At, Fields, Reader, backticked, field, key_of};
use crate::secret::{self, Parsed};
use crate::yaml::{self, Location, Node};

pub use self::lifecycle::ignorable;

/// What a kind's reader fills in beside the values: where each field is, and whether any
/// failed to read (the resource is then not made, and reading goes on for the diagnostics).
#[derive(Default)]
pub struct Read {
    pub values: Draft,
    /// See [`Resource::hints`].
    pub hints: BTreeMap<&'static str, String>,
    pub places: Places,
    pub acknowledge: BTreeSet<String>,
    pub failed: bool,
}

/// Reads `kind`'s resource `key` (written at `key_location`) from `node`, in the document's
/// `sandbox`. `None` when anything is wrong (said in the reader's diagnostics).
pub fn resource(
    reader: &mut Reader<'_>,
    kind: &'static Kind,
    key: &str,
    key_location: Location,
    node: &Node,
    sandbox: Option<&str>,
) -> Option<Resource> {
    let here = At::on(key, "");
    let what = format!("a {}", kind.noun);
    reader.noun = (!kind.is_default()).then_some(kind.noun);
    let fields = reader.fields(node, here, kind.mapping, &what, false)?;
    let mut read = Read::default();
    // The generic fields, grouped by their first segment (`data.format` under `data`).
    let mut groups: Vec<&'static str> = Vec::new();
    for f in kind.fields.iter().filter(|f| !f.custom) {
        match f.ty {
            Type::Ref { .. } => reference(reader, key, key_location, &fields, f, &mut read),
            _ => {
                let top = f.path.split('.').next().unwrap_or(f.path);
                if f.path == top {
                    let node = fields.get(top);
                    single(reader, key, key_location, &fields, f, node, &mut read);
                } else if !groups.contains(&top) {
                    groups.push(top);
                }
            }
        }
    }
    for top in groups {
        group(reader, kind, key, key_location, &fields, top, &mut read);
    }
    kind.hooks.read(
        &mut ReadCx {
            reader,
            key,
            key_location,
            node,
        },
        &fields,
        &mut read,
    );
    let sandbox_override = fields
        .get("sandbox")
        .and_then(|n| reader.sandbox(n, At::on(key, "sandbox")));
    let lifecycle = match fields.get("lifecycle") {
        Some(n) => lifecycle::lifecycle(reader, kind, key, n, node),
        None => Some(Lifecycle::default()),
    };
    let import = match fields.get("import") {
        Some(n) => lifecycle::import(reader, kind, key, n, &mut read.places).map(Some),
        None => Some(None),
    };
    read.places.name = fields.get("name").map_or(key_location, |n| n.location);
    reader.noun = None;
    let mut lifecycle = lifecycle?;
    lifecycle.acknowledge = std::mem::take(&mut read.acknowledge);
    if read.failed {
        return None;
    }
    let resource = Resource {
        kind,
        key: key.to_owned(),
        sandbox: sandbox_override.or(sandbox.map(str::to_owned))?,
        values: read.values,
        lifecycle,
        import: import?,
        hints: read.hints,
        origin: Origin::new(reader.file, key_location),
        places: read.places,
    };
    kind.hooks.check(&resource, reader.diagnostics);
    Some(resource)
}

/// "missing `x`", unless it has a default or was misspelt (said already).
fn missing(
    reader: &mut Reader<'_>,
    key: &str,
    at_location: Location,
    fields: &Fields<'_>,
    f: &Field,
    top: &str,
) -> bool {
    if !f.required || !matches!(f.default, Default::None) {
        return false;
    }
    if fields.misspelt(top) {
        return true;
    }
    reader
        .error(At::on(key, ""), at_location, format!("missing `{top}`"))
        .help = Some(format!("add `{top}: …`, {}", f.doc));
    true
}

/// A field at the top of the resource's mapping.
fn single(
    reader: &mut Reader<'_>,
    key: &str,
    key_location: Location,
    fields: &Fields<'_>,
    f: &'static Field,
    node: Option<&Node>,
    read: &mut Read,
) {
    match node {
        Some(n) => {
            read.places.fields.insert(f.path, n.location);
            match value(reader, key, f, n, &mut read.places) {
                Some(Some(v)) => {
                    read.values.insert(f.path, v);
                }
                Some(None) => {}
                None => read.failed = true,
            }
        }
        None => {
            if missing(reader, key, key_location, fields, f, f.path) {
                read.failed = true;
            }
        }
    }
}

/// The fields under one mapping (`data: {format}`).
fn group(
    reader: &mut Reader<'_>,
    kind: &'static Kind,
    key: &str,
    key_location: Location,
    fields: &Fields<'_>,
    top: &'static str,
    read: &mut Read,
) {
    let members: Vec<&'static Field> = kind
        .fields
        .iter()
        .filter(|f| !f.custom && f.path.split('.').next() == Some(top) && f.path != top)
        .collect();
    let Some(node) = fields.get(top) else {
        for f in &members {
            if missing(reader, key, key_location, fields, f, top) {
                read.failed = true;
                break;
            }
        }
        return;
    };
    let names: Vec<&str> = members
        .iter()
        .filter_map(|f| f.path.split_once('.').map(|(_, rest)| rest))
        .collect();
    let path = top;
    let Some(inner) = reader.fields(node, At::on(key, path), &names, &format!("`{top}`"), false) else {
        read.failed = true;
        return;
    };
    for f in members {
        let name = f.path.split_once('.').map_or(f.path, |(_, rest)| rest);
        match inner.get(name) {
            Some(n) => {
                read.places.fields.insert(f.path, n.location);
                match value(reader, key, f, n, &mut read.places) {
                    Some(Some(v)) => {
                        read.values.insert(f.path, v);
                    }
                    Some(None) => {}
                    None => read.failed = true,
                }
            }
            None if f.required && matches!(f.default, Default::None) && !inner.misspelt(name) => {
                reader.error(At::on(key, path), node.location, format!("missing `{name}`"));
                read.failed = true;
            }
            None => {}
        }
    }
}

/// The longest name flowform takes (bytes): it must fit in a `property=name==…` filter.
pub const MAX_NAME: usize = 1024;
/// The longest other text (a description, a table's path).
pub const MAX_TEXT: usize = 16 * 1024;

/// One value of a declared type. `Some(None)`: written empty where that means "not set".
fn value(
    reader: &mut Reader<'_>,
    key: &str,
    f: &'static Field,
    node: &Node,
    places: &mut Places,
) -> Option<Option<Value>> {
    let at = At::on(key, f.path);
    if let (Type::Columns | Type::Mappings, yaml::Value::Sequence(items)) = (&f.ty, &node.value) {
        places
            .items
            .insert(f.path, items.iter().map(|i| i.location).collect());
    }
    let plain = |s: String| Some(Some(Value::Plain(serde_json::Value::String(s))));
    // A name is looked up by filter (so it must fit in a request line) and shown in every
    // plan; other text goes in bodies.
    let longest = if f.path == "name" { MAX_NAME } else { MAX_TEXT };
    let bounded = |reader: &mut Reader<'_>, s: String| {
        if s.len() <= longest {
            return Some(s);
        }
        reader
            .error(
                at,
                node.location,
                format!(
                    "`{}` is {} bytes long; flowform takes at most {longest}",
                    f.path,
                    s.len()
                ),
            )
            .help = Some("shorten it".to_owned());
        None
    };
    match &f.ty {
        Type::Text if f.required => {
            let s = reader.non_empty_string(node, at)?;
            plain(bounded(reader, s)?)
        }
        Type::Text => match reader.optional_string(node, at) {
            Some(s) => plain(bounded(reader, s)?),
            None if matches!(node.value, yaml::Value::Null) => Some(None),
            None => None,
        },
        Type::Enum(values) => {
            let s = reader.non_empty_string(node, at)?;
            if !values.contains(&s.as_str()) {
                let help = match did_you_mean(&s, values.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("expected {}", backticked(values)),
                };
                reader
                    .error(at, node.location, format!("`{s}` is not a value of `{}`", f.path))
                    .help = Some(help);
                return None;
            }
            plain(s)
        }
        Type::Id(form) => {
            let s = reader.non_empty_string(node, at)?;
            if !form.check(&s) {
                reader
                    .error(
                        at,
                        node.location,
                        format!("`{s}` is not an id of the form `{}` takes", f.path),
                    )
                    .help = Some(format!("e.g. `{}`", form.example()));
                return None;
            }
            plain(if *form == IdForm::Catalog {
                s
            } else {
                s.to_lowercase()
            })
        }
        Type::Names | Type::Columns => {
            let names = reader.strings(node, at, &format!("{}: [Id, Name]", f.path))?;
            Some(Some(Value::Plain(serde_json::Value::Array(
                names.into_iter().map(serde_json::Value::String).collect(),
            ))))
        }
        Type::Params => params(reader, key, f, node, places).map(|p| Some(Value::Params(p))),
        Type::Mappings => mappings(reader, at, node).map(|m| Some(Value::Plain(m))),
        Type::Int { min } => {
            let n = match &node.value {
                yaml::Value::Int(n) => Some(*n),
                yaml::Value::String(s) => s.parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if n >= *min => Some(Some(Value::Plain(serde_json::Value::from(n)))),
                Some(n) => {
                    reader.error(at, node.location, format!("`{}` is {n}; at least {min}", f.path));
                    None
                }
                None => {
                    reader.error(
                        at,
                        node.location,
                        format!("expected a whole number, found {}", node.value.kind()),
                    );
                    None
                }
            }
        }
        // AEP's docs write a schedule's booleans as strings (`backfill: "true"`): both are read.
        Type::Bool => match &node.value {
            yaml::Value::String(s) if s == "true" || s == "false" => {
                Some(Some(Value::Plain(serde_json::Value::Bool(s == "true"))))
            }
            _ => reader
                .boolean(node, at)
                .map(|b| Some(Value::Plain(serde_json::Value::Bool(b)))),
        },
        Type::Switch { .. } => reader
            .boolean(node, at)
            .map(|b| Some(Value::Plain(serde_json::Value::Bool(b)))),
        Type::Time => {
            let seconds = match &node.value {
                yaml::Value::Int(n) if *n >= 0 => Some(*n),
                yaml::Value::String(s) => crate::reader::epoch_seconds(s),
                _ => None,
            };
            match seconds {
                // Past the year 9999: milliseconds, as AEP's `createdAt` are, written for seconds.
                Some(n) if n > 253_402_300_799 => {
                    reader
                        .error(at, node.location, format!("`{}` is {n}: past the year 9999", f.path))
                        .help = Some("AEP takes epoch seconds (its `createdAt` are milliseconds: drop the last three digits), or write RFC 3339 (`2026-12-01T06:00:00Z`)".to_owned());
                    None
                }
                Some(n) => Some(Some(Value::Plain(serde_json::Value::from(n)))),
                None => {
                    reader
                        .error(
                            at,
                            node.location,
                            format!("`{}` is not a moment flowform reads", f.path),
                        )
                        .help = Some(
                        "write it in RFC 3339, in UTC (`2026-12-01T06:00:00Z`), or as epoch seconds"
                            .to_owned(),
                    );
                    None
                }
            }
        }
        // Read by `reference`.
        Type::Ref { .. } => None,
    }
}

/// A generic `Params` field: plain values, or secrets by reference (a kind that knows which
/// params are secret checks them in its own reader, as a base connection's does).
fn params(
    reader: &mut Reader<'_>,
    key: &str,
    f: &'static Field,
    node: &Node,
    places: &mut Places,
) -> Option<BTreeMap<String, Param>> {
    let at = At::on(key, f.path);
    let yaml::Value::Mapping(entries) = &node.value else {
        reader.error(
            at,
            node.location,
            format!(
                "expected a mapping of param names to values, found {}",
                node.value.kind()
            ),
        );
        return None;
    };
    let mut out = BTreeMap::new();
    let mut ok = true;
    for (name_node, value) in entries {
        let Some(name) = name_node.as_str() else {
            reader.error(
                at,
                name_node.location,
                format!("a param name must be a string, found {}", name_node.value.kind()),
            );
            ok = false;
            continue;
        };
        places.params.insert(name.to_owned(), name_node.location);
        let field = format!("{}.{name}", f.path);
        match param(reader, At::on(key, &field), value) {
            Some(p) => {
                out.insert(name.to_owned(), p);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// A param's value: a literal (any JSON), or a secret reference, resolved unless told not to.
pub fn param(reader: &mut Reader<'_>, at: At<'_>, node: &Node) -> Option<Param> {
    let yaml::Value::String(text) = &node.value else {
        return reader.json(node, at).map(Param::Plain);
    };
    match secret::parse(text) {
        Err(e) => {
            reader.error(at, node.location, e.message).help = e.help;
            None
        }
        Ok(Parsed::Literal(literal)) => Some(Param::Plain(serde_json::Value::String(literal))),
        Ok(Parsed::Reference(reference)) => {
            let value = resolve(reader, at, node.location, &reference)?;
            Some(Param::Secret { reference, value })
        }
    }
}

/// Resolves a reference unless loading without secrets: `Some(None)` then.
pub fn resolve(
    reader: &mut Reader<'_>,
    at: At<'_>,
    location: Location,
    reference: &secret::SecretRef,
) -> Option<Option<secret::Secret>> {
    if !reader.options.resolve_secrets {
        return Some(None);
    }
    match reference.resolve(reader.env, reader.base) {
        Ok(v) => Some(Some(v)),
        Err(e) => {
            reader.error(at, location, e.message).help = e.help;
            None
        }
    }
}

/// The source types a mapping takes (Data Prep's `sourceType`).
pub const SOURCE_TYPES: &[&str] = &["ATTRIBUTE", "EXPRESSION", "STATIC"];

/// Data Prep mappings: a list of `{source, destination, sourceType?}`, each checked at its
/// line; read as `[{source, destination, sourceType}]`, `sourceType` said.
fn mappings(reader: &mut Reader<'_>, at: At<'_>, node: &Node) -> Option<serde_json::Value> {
    const EXAMPLE: &str = "mappings: [{source: Email, destination: personalEmail.address}]";
    let yaml::Value::Sequence(items) = &node.value else {
        reader
            .error(
                at,
                node.location,
                format!("expected a list of mappings, found {}", node.value.kind()),
            )
            .help = Some(format!("e.g. `{EXAMPLE}`"));
        return None;
    };
    if items.is_empty() {
        reader
            .error(
                at,
                node.location,
                "a mapping set maps something: the list is empty",
            )
            .help = Some(format!("e.g. `{EXAMPLE}`"));
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let Some(fields) = reader.fields(
            item,
            at,
            &["source", "destination", "sourceType"],
            "a mapping",
            false,
        ) else {
            ok = false;
            continue;
        };
        let mut text = |name: &str| match fields.get(name) {
            Some(n) => match reader.string(n, at) {
                Some(s) if s.trim().is_empty() => {
                    reader
                        .error(at, n.location, format!("mapping {}: `{name}` is empty", i + 1))
                        .help = Some(if name == "source" {
                        "a source is a column of the table (`Email`), an expression (`sourceType: EXPRESSION`) or a value (`sourceType: STATIC`)".to_owned()
                    } else {
                        "a destination is a field of the schema, as an XDM path: `personalEmail.address`"
                            .to_owned()
                    });
                    None
                }
                other => other,
            },
            None => {
                reader
                    .error(at, item.location, format!("mapping {} has no `{name}`", i + 1))
                    .help = Some(format!("e.g. `{EXAMPLE}`"));
                None
            }
        };
        let (source, destination) = (text("source"), text("destination"));
        let source_type = match fields.get("sourceType") {
            None => Some("ATTRIBUTE".to_owned()),
            Some(n) => reader.non_empty_string(n, at).and_then(|t| {
                let upper = t.to_ascii_uppercase();
                if SOURCE_TYPES.contains(&upper.as_str()) {
                    Some(upper)
                } else {
                    reader
                        .error(at, n.location, format!("`{t}` is not a source type"))
                        .help = Some(format!("expected {}", backticked(SOURCE_TYPES)));
                    None
                }
            }),
        };
        let (Some(source), Some(destination), Some(source_type)) = (source, destination, source_type) else {
            ok = false;
            continue;
        };
        if let Some(first) = seen.insert(destination.clone(), i + 1) {
            reader
                .error(
                    at,
                    item.location,
                    format!("mappings {first} and {} both write `{destination}`", i + 1),
                )
                .help = Some("a destination takes one mapping: remove one".to_owned());
            ok = false;
            continue;
        }
        out.push(
            serde_json::json!({"source": source, "destination": destination, "sourceType": source_type}),
        );
    }
    ok.then_some(serde_json::Value::Array(out))
}

/// A reference field: `by_key: KEY` or `path: ID`, exactly one.
fn reference(
    reader: &mut Reader<'_>,
    key: &str,
    key_location: Location,
    fields: &Fields<'_>,
    f: &'static Field,
    read: &mut Read,
) {
    let Type::Ref { kind: target, by_key } = f.ty else {
        return;
    };
    let noun = super::by_name(target).map_or(target, |k| k.noun);
    let form = super::by_name(target).map_or(IdForm::Uuid, |k| k.id);
    match (fields.get(by_key), fields.get(f.path)) {
        (Some(by), Some(_)) => {
            reader
                .error(
                    At::on(key, by_key),
                    by.location,
                    format!("give either `{by_key}` or `{}`, not both", f.path),
                )
                .help = Some(format!(
                "`{by_key}: KEY` names a {noun} of this configuration; `{}: ID` one that flowform does not manage",
                f.path
            ));
            read.failed = true;
        }
        (Some(n), None) => {
            read.places.fields.insert(f.path, n.location);
            let at = At::on(key, by_key);
            match reader.non_empty_string(n, at) {
                Some(k) if super::address::is_valid_key(&k) => {
                    read.values.insert(f.path, Value::Ref(Reference::Key(k)));
                }
                Some(k) => {
                    reader.error(at, n.location, format!("`{k}` is not a key")).help = Some(format!(
                        "`{by_key}` names a {noun} by its key in this configuration; {}",
                        super::address::KEY_RULE
                    ));
                    read.failed = true;
                }
                None => read.failed = true,
            }
        }
        (None, Some(n)) => {
            read.places.fields.insert(f.path, n.location);
            let at = At::on(key, f.path);
            match reader.non_empty_string(n, at) {
                Some(id) if form.check(&id) => {
                    read.values
                        .insert(f.path, Value::Ref(Reference::Id(id.to_lowercase())));
                }
                Some(id) => {
                    reader
                        .error(at, n.location, format!("`{id}` is not a {noun} id"))
                        .help = Some(format!(
                        "a {noun} id is {} such as `{}`; to name one declared here, write `{by_key}: KEY`",
                        form.described(),
                        form.example()
                    ));
                    read.failed = true;
                }
                None => read.failed = true,
            }
        }
        (None, None) if fields.misspelt(by_key) || fields.misspelt(f.path) => read.failed = true,
        (None, None) if !f.required => {}
        (None, None) => {
            reader
                .error(At::on(key, ""), key_location, format!("missing `{by_key}`"))
                .help = Some(format!(
                "add `{by_key}: KEY`, the key of its {noun} in this configuration (or `{}: ID` for one flowform does not manage)",
                f.path
            ));
            read.failed = true;
        }
    }
}

/// A key of a section (`connections:`): a valid key string.
pub fn key(reader: &mut Reader<'_>, kind: &Kind, node: &Node) -> Option<String> {
    let at = At::top(kind.section);
    let Some(key) = node.as_str() else {
        reader.error(
            at,
            node.location,
            format!(
                "a {} key must be a string, found {}",
                kind.noun,
                node.value.kind()
            ),
        );
        return None;
    };
    if !super::address::is_valid_key(key) {
        reader
            .error(
                at,
                node.location,
                format!("`{key}` is not a valid {} key", kind.noun),
            )
            .help = Some(super::address::KEY_RULE.to_owned());
        return None;
    }
    Some(key.to_owned())
}

/// Helpers a kind's own reader uses on its nodes.
pub fn nested<'n>(node: &'n Node, path: &str) -> Option<&'n Node> {
    path.split('.').try_fold(node, |n, name| field(n, name))
}

/// The key node of `name` in `node`'s mapping.
pub fn name_node<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    key_of(node, name)
}
