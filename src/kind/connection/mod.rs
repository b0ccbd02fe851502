//! Base connections (`connections:`): the authenticated link between a source and AEP, in
//! the shape of the body of `POST /connections`.
//!
//! What the declaration cannot say is read here: `connectionSpec` (or its `source:`
//! shorthand, `source: salesforce`), and `auth`, whose params are checked against the
//! catalog of connection specs flowform knows (names, formats, which are secret: a literal
//! secret in a file is refused), with the catalog's advisories and their acknowledgements.

pub mod schema;
pub mod specs;

use std::collections::{BTreeMap, BTreeSet};

use super::read::{Read, nested, param, resolve};
use super::{Default, Field, Hooks, IdForm, Kind, Param, ReadCx, Refresh, Resource, Type, Update, Value};
use crate::catalog::{self, AuthSpec, ConnectionSpec};
use crate::diagnostic::did_you_mean;
use crate::reader::{At, Fields, backticked, field, key_of};
use crate::secret::{self, Parsed};
use crate::yaml::{self, Location, Node};

const SPEC_FIELDS: &[&str] = &["id", "version"];
const AUTH_FIELDS: &[&str] = &["specName", "params"];

pub static KIND: Kind = Kind {
    name: "connection",
    section: "connections",
    noun: "connection",
    collection: "/connections",
    fields: &[
        Field {
            path: "name",
            api: "/name",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "the connection's display name in AEP",
        },
        Field {
            path: "description",
            api: "/description",
            ty: Type::Text,
            required: false,
            default: Default::None,
            update: Update::Patch,
            custom: false,
            doc: "what the connection is for",
        },
        Field {
            path: "connectionSpec.id",
            api: "/connectionSpec/id",
            ty: Type::Id(IdForm::Spec),
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: true,
            doc: "the source's connection spec id (or the shorthand `source: salesforce`)",
        },
        Field {
            path: "connectionSpec.version",
            api: "/connectionSpec/version",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: true,
            doc: "the connection spec's version, `\"1.0\"` for every documented source",
        },
        Field {
            path: "auth.specName",
            api: "/auth/specName",
            ty: Type::Text,
            required: true,
            default: Default::None,
            update: Update::Replace,
            custom: true,
            doc: "one of the connection spec's `authSpec[].name`",
        },
        Field {
            path: "auth.params",
            api: "/auth/params",
            ty: Type::Params,
            required: true,
            default: Default::None,
            update: Update::Patch,
            custom: true,
            doc: "the auth spec's params; secrets by reference (`${env:NAME}`, `${file:PATH}`)",
        },
    ],
    mapping: &[
        "name",
        "description",
        "source",
        "connectionSpec",
        "auth",
        "lifecycle",
        "import",
        "sandbox",
    ],
    scope: &["connectionSpec.id"],
    refresh: Refresh::ById,
    initializes: true,
    disables: true,
    advisories: true,
    hooks: &ConnectionHooks,
    about: "Base connections: the authenticated link between a source (Salesforce, …) and AEP, in the shape of the body of `POST /connections`.",
};

/// A base connection's connection spec id.
pub fn spec_id(r: &Resource) -> &str {
    r.text("connectionSpec.id").unwrap_or_default()
}

/// A base connection's connection spec version.
pub fn spec_version(r: &Resource) -> &str {
    r.text("connectionSpec.version").unwrap_or_default()
}

/// A base connection's auth spec name.
pub fn auth_spec_name(r: &Resource) -> &str {
    r.text("auth.specName").unwrap_or_default()
}

struct ConnectionHooks;

impl Hooks for ConnectionHooks {
    fn read(&self, cx: &mut ReadCx<'_, '_>, fields: &Fields<'_>, read: &mut Read) {
        // Carry on past a bad spec: the auth block still has mistakes worth reporting.
        let spec = match spec(cx, fields, read) {
            Some((spec_ref, known)) => {
                read.values.insert("connectionSpec.id", plain(spec_ref.0));
                read.values.insert("connectionSpec.version", plain(spec_ref.1));
                known
            }
            None => {
                read.failed = true;
                None
            }
        };
        match fields.get("auth") {
            Some(n) => {
                if !auth(cx, n, spec, read) {
                    read.failed = true;
                }
            }
            None if fields.misspelt("auth") => read.failed = true,
            None => {
                cx.reader.error(cx.at(""), cx.key_location, "missing `auth`").help = Some(
                    "add `auth: {specName: …, params: {…}}` as in the body of `POST /connections`".to_owned(),
                );
                read.failed = true;
            }
        }
        let acknowledged = match nested(cx.node, "lifecycle.acknowledge") {
            Some(n) => {
                let written = fields.get("auth").map(written_auth).unwrap_or_default();
                acknowledge(cx, n, &written, spec)
            }
            None => Some(BTreeSet::new()),
        };
        // The catalog's advisories, whatever else is wrong with the resource: a spec and an
        // auth spec read are enough to say them.
        if let (Some(spec), Some(Value::Plain(serde_json::Value::String(auth))), Some(acknowledged)) =
            (spec, read.values.get("auth.specName"), &acknowledged)
        {
            let location = read
                .places
                .fields
                .get("auth.specName")
                .copied()
                .unwrap_or(cx.key_location);
            for advisory in catalog::advisories(spec.id, auth) {
                if !acknowledged.contains(advisory.id) {
                    cx.reader
                        .warning(cx.at("auth.specName"), location, advisory.message)
                        .help = Some(advisory.help.to_owned());
                }
            }
        }
        match acknowledged {
            Some(set) => read.acknowledge = set,
            None => read.failed = true,
        }
    }

    fn live<'a>(
        &'a self,
        cx: super::LiveCx<'a>,
    ) -> super::BoxFuture<'a, Result<super::Learned, crate::flow::FlowError>> {
        Box::pin(async move {
            let diagnostics = specs::check_all(cx.client, &cx.resources).await?;
            Ok(super::Learned {
                diagnostics,
                ..super::Learned::default()
            })
        })
    }

    fn schema(&self, definition: &mut serde_json::Map<String, serde_json::Value>) {
        schema::extend(definition);
    }

    fn ignorable(&self, path: &str, node: &Node) -> Result<(), (String, Option<String>)> {
        let Some(param) = path.strip_prefix("auth.params.") else {
            return Ok(());
        };
        let written = nested(node, "auth").map(written_auth).unwrap_or_default();
        let spec = written_spec(node);
        let auth_spec = spec
            .zip(written.spec_name.as_deref())
            .and_then(|(s, name)| s.auth_spec(name));
        if let Some(a) = auth_spec
            && a.param(param).is_none()
            && !written.params.contains(param)
        {
            let names: Vec<&str> = a.params.iter().map(|p| p.name).collect();
            let help = did_you_mean(param, names.iter().copied())
                .map(|s| format!("did you mean `auth.params.{s}`?"))
                .or_else(|| Some(format!("`{}` has {}", a.name, backticked(&names))));
            return Err((format!("`{param}` is not a param of `{}`", a.name), help));
        }
        Ok(())
    }
}

fn plain(s: String) -> Value {
    Value::Plain(serde_json::Value::String(s))
}

/// The spec a resource's node names (`source:` or `connectionSpec.id`), if flowform knows it.
fn written_spec(node: &Node) -> Option<&'static ConnectionSpec> {
    if let Some(source) = field(node, "source").and_then(Node::as_str) {
        return catalog::by_source(source);
    }
    nested(node, "connectionSpec.id")
        .and_then(Node::as_str)
        .and_then(catalog::by_id)
}

/// `connectionSpec: {id, version}` or the `source:` shorthand: the id and version, and the
/// spec if flowform knows it.
fn spec(
    cx: &mut ReadCx<'_, '_>,
    fields: &Fields<'_>,
    read: &mut Read,
) -> Option<((String, String), Option<&'static ConnectionSpec>)> {
    match (fields.get("source"), fields.get("connectionSpec")) {
        (Some(source), Some(_)) => {
            cx.reader
                .error(
                    cx.at("source"),
                    source.location,
                    "give either `source` or `connectionSpec`, not both",
                )
                .help =
                Some("`source: salesforce` is shorthand for Salesforce's `connectionSpec`".to_owned());
            None
        }
        (None, None) if fields.misspelt("connectionSpec") || fields.misspelt("source") => None,
        (None, None) => {
            cx.reader
                .error(cx.at(""), cx.key_location, "missing `connectionSpec`")
                .help = Some(format!(
                "add `connectionSpec: {{id: {}, version: \"1.0\"}}`, or the shorthand `source: salesforce`",
                catalog::SALESFORCE_ID
            ));
            None
        }
        (Some(source), None) => {
            let at = cx.at("source");
            read.places.fields.insert("connectionSpec.id", source.location);
            let name = cx.reader.string(source, at)?;
            match catalog::by_source(&name) {
                Some(spec) => Some(((spec.id.to_owned(), spec.version.to_owned()), Some(spec))),
                None => {
                    let known: Vec<&str> = catalog::all().iter().map(|s| s.source).collect();
                    let help = match did_you_mean(&name, known.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "known sources are {}; for any other, give `connectionSpec: {{id, version}}`",
                            backticked(&known)
                        ),
                    };
                    cx.reader
                        .error(at, source.location, format!("unknown source `{name}`"))
                        .help = Some(help);
                    None
                }
            }
        }
        (None, Some(node)) => {
            let at = cx.at("connectionSpec");
            let fields = cx
                .reader
                .fields(node, at, SPEC_FIELDS, "`connectionSpec`", false)?;
            if let Some(n) = fields.get("id") {
                read.places.fields.insert("connectionSpec.id", n.location);
            }
            let id = match fields.get("id") {
                Some(n) => spec_id_value(cx, n),
                None => {
                    cx.reader.error(at, node.location, "missing `id`");
                    None
                }
            }?;
            let spec = catalog::by_id(&id);
            if spec.is_none()
                && let Some(near) = catalog::misspelt_id(&id)
                && let Some(id_node) = fields.get("id")
            {
                cx.reader
                    .error(
                        cx.at("connectionSpec.id"),
                        id_node.location,
                        format!("`{id}` is one or two characters off the id of {}", near.title),
                    )
                    .help = Some(format!(
                    "did you mean `{}`? (or write `source: {}` instead of `connectionSpec`)",
                    near.id, near.source
                ));
                return None;
            }
            let version_at = cx.at("connectionSpec.version");
            let version = match (fields.get("version"), spec) {
                (Some(n), _) => cx.reader.non_empty_string(n, version_at)?,
                (None, Some(spec)) => spec.version.to_owned(),
                (None, None) => {
                    cx.reader.error(version_at, node.location, "missing `version`; flowform does not know this connection spec, so it cannot default it")
                        .help = Some("add `version: \"1.0\"` (the version Adobe's documentation gives for every source)".to_owned());
                    return None;
                }
            };
            Some(((spec.map_or(id, |s| s.id.to_owned()), version), spec))
        }
    }
}

fn spec_id_value(cx: &mut ReadCx<'_, '_>, node: &Node) -> Option<String> {
    let at = cx.at("connectionSpec.id");
    let id = cx.reader.non_empty_string(node, at)?;
    if !IdForm::Spec.check(&id) {
        cx.reader
            .error(at, node.location, format!("`{id}` is not a connection spec id"))
            .help = Some(format!(
            "a spec id is a UUID such as `{}` (Salesforce)",
            catalog::SALESFORCE_ID
        ));
        return None;
    }
    Some(id)
}

/// `auth: {specName, params}`. Returns whether it read.
fn auth(
    cx: &mut ReadCx<'_, '_>,
    node: &Node,
    spec: Option<&'static ConnectionSpec>,
    read: &mut Read,
) -> bool {
    let at = cx.at("auth");
    let Some(fields) = cx.reader.fields(node, at, AUTH_FIELDS, "`auth`", false) else {
        return false;
    };
    let name_at = cx.at("auth.specName");
    if let Some(n) = fields.get("specName") {
        read.places.fields.insert("auth.specName", n.location);
    }
    let spec_name = match fields.get("specName") {
        Some(n) => cx.reader.non_empty_string(n, name_at),
        None => {
            cx.reader.error(at, node.location, "missing `specName`").help =
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
                cx.reader
                    .error(
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
        Some(n) => {
            let params_key = fields.key_location("params").unwrap_or(n.location);
            read.places.params.insert(String::new(), params_key);
            params(cx, n, params_key, auth_spec, read)
        }
        None => {
            cx.reader.error(at, node.location, "missing `params`");
            None
        }
    };
    match (spec_name, params) {
        (Some(name), Some(params)) => {
            read.values.insert("auth.specName", plain(name));
            read.values.insert("auth.params", Value::Params(params));
            true
        }
        _ => false,
    }
}

/// `auth.params`. With a known auth spec, names, formats and secrecy are checked; without
/// one, only the structure (and literal values of params named like secrets).
fn params(
    cx: &mut ReadCx<'_, '_>,
    node: &Node,
    params_key: Location,
    auth_spec: Option<&'static AuthSpec>,
    read: &mut Read,
) -> Option<BTreeMap<String, Param>> {
    let at = cx.at("auth.params");
    let yaml::Value::Mapping(entries) = &node.value else {
        cx.reader.error(
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
            cx.reader.error(
                at,
                name_node.location,
                format!("a param name must be a string, found {}", name_node.value.kind()),
            );
            ok = false;
            continue;
        };
        read.places.params.insert(name.to_owned(), name_node.location);
        let field = format!("auth.params.{name}");
        let at = cx.at(&field);
        let param_spec = auth_spec.and_then(|a| a.param(name));
        if let (Some(auth_spec), None) = (auth_spec, param_spec) {
            let names: Vec<&str> = auth_spec.params.iter().map(|p| p.name).collect();
            match did_you_mean(name, names.iter().copied()) {
                Some(s) => {
                    suggested.insert(s);
                    cx.reader
                        .error(
                            at,
                            name_node.location,
                            format!("unknown param `{name}` for `{}`", auth_spec.name),
                        )
                        .help = Some(format!("did you mean `{s}`?"));
                    ok = false;
                    continue;
                }
                None => {
                    cx.reader
                        .warning(
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
        match one_param(
            cx,
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
                format!("${{env:{}}}", env_name(cx.key, p.name))
            } else {
                p.format.example().to_owned()
            };
            cx.reader
                .error(
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

fn one_param(
    cx: &mut ReadCx<'_, '_>,
    (name, name_location): (&str, Location),
    node: &Node,
    at: At<'_>,
    spec: Option<&'static catalog::ParamSpec>,
    must_be_secret: bool,
) -> Option<Param> {
    let key = cx.key;
    let text = match &node.value {
        yaml::Value::String(s) => s,
        yaml::Value::Null => {
            // An empty value has no place of its own; point at the name.
            cx.reader.error(at, name_location, "has no value").help = Some(if must_be_secret {
                format!("write `{name}: ${{env:{}}}`", env_name(key, name))
            } else {
                format!("give `{name}` a value, or remove it")
            });
            return None;
        }
        // A secret written as a number or a boolean is still a literal secret: never echo it.
        _ if must_be_secret => {
            literal_secret(cx, name, at, node.location, spec.is_some());
            return None;
        }
        other if spec.is_some() => {
            cx.reader.string_expected(at, node.location, other);
            return None;
        }
        _ => return param(cx.reader, at, node),
    };
    match secret::parse(text) {
        Err(e) => {
            cx.reader.error(at, node.location, e.message).help = e.help;
            None
        }
        Ok(Parsed::Literal(literal)) => {
            if must_be_secret {
                literal_secret(cx, name, at, node.location, spec.is_some());
                return None;
            }
            if let Some(spec) = spec
                && let Err(expected) = spec.format.check(&literal)
            {
                cx.reader
                    .error(at, node.location, format!("`{literal}` {expected}"))
                    .help = Some(format!("e.g. `{name}: {}`", spec.format.example()));
                return None;
            }
            Some(Param::Plain(serde_json::Value::String(literal)))
        }
        Ok(Parsed::Reference(reference)) => {
            let value = resolve(cx.reader, at, node.location, &reference)?;
            // A referenced value is checked without being quoted back.
            if let (Some(spec), Some(v)) = (spec, &value)
                && let Err(expected) = spec.format.check(v.expose())
            {
                cx.reader
                    .error(at, node.location, format!("the value of {reference} {expected}"));
                return None;
            }
            Some(Param::Secret { reference, value })
        }
    }
}

fn literal_secret(cx: &mut ReadCx<'_, '_>, name: &str, at: At<'_>, location: Location, known: bool) {
    let var = env_name(cx.key, name);
    let file = var.to_lowercase().replace('_', "-");
    let message = if known {
        format!("`{name}` is a secret and cannot be written in the file")
    } else {
        format!("`{name}` is named like a secret and cannot be written in the file")
    };
    cx.reader.error(at, location, message).help = Some(format!(
        "reference it instead: `{name}: ${{env:{var}}}` or `{name}: ${{file:secrets/{file}}}` (relative to this file)"
    ));
}

/// `lifecycle.acknowledge`: advisories by id. One that does not concern the connection
/// (any more) is a warning, so that acknowledgements do not outlive their reason.
fn acknowledge(
    cx: &mut ReadCx<'_, '_>,
    node: &Node,
    auth: &WrittenAuth,
    spec: Option<&'static ConnectionSpec>,
) -> Option<BTreeSet<String>> {
    let at = cx.at("lifecycle.acknowledge");
    let yaml::Value::Sequence(items) = &node.value else {
        cx.reader
            .error(
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
        let Some(id) = cx.reader.string(item, at) else {
            valid = false;
            continue;
        };
        let known: Vec<&str> = catalog::ADVISORIES.iter().map(|a| a.id).collect();
        if !known.contains(&id.as_str()) {
            let help = match did_you_mean(&id, known.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the advisories are {}", backticked(&known)),
            };
            cx.reader
                .error(
                    at,
                    item.location,
                    format!("`{id}` is not an advisory flowform gives"),
                )
                .help = Some(help);
            valid = false;
            continue;
        }
        if !concerned.contains(&id.as_str()) {
            cx.reader
                .warning(
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

/// The auth spec name and param names as written, whatever else is wrong with them.
#[derive(Default)]
struct WrittenAuth {
    spec_name: Option<String>,
    params: BTreeSet<String>,
}

fn written_auth(node: &Node) -> WrittenAuth {
    let mut written = WrittenAuth::default();
    if let yaml::Value::Mapping(entries) = &node.value {
        for (k, v) in entries {
            match (k.as_str(), &v.value) {
                (Some("specName"), yaml::Value::String(s)) => written.spec_name = Some(s.clone()),
                (Some("params"), yaml::Value::Mapping(params)) => {
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

/// Where the `params:` key of a connection's node is written.
pub fn params_key(node: &Node) -> Option<Location> {
    field(node, "auth")
        .and_then(|a| key_of(a, "params"))
        .map(|k| k.location)
}

/// A param of an unknown spec whose name says it holds a credential.
pub fn looks_secret(name: &str) -> bool {
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
pub fn env_name(key: &str, param: &str) -> String {
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
