//! Base connections (`connections:`): the authenticated link between a source and AEP, in
//! the shape of the body of `POST /connections`.
//!
//! What the declaration cannot say is read here: `connectionSpec` (or its `source:`
//! shorthand, `source: salesforce`), and `auth`, whose params are checked against the
//! catalog of connection specs flowform knows (names, formats, which are secret: a literal
//! secret in a file is refused), with the catalog's advisories and their acknowledgements.
//! The `auth` block is read in `auth`.

mod auth;
pub mod schema;
pub mod specs;

use std::collections::BTreeSet;

use self::auth::{WrittenAuth, auth, written_auth};
pub use self::auth::{env_name, looks_secret, params_key};
use super::read::{Read, nested};
use super::{Default, Field, Hooks, IdForm, Kind, ReadCx, Refresh, Resource, Type, Update, Value};
use crate::catalog::{self, ConnectionSpec};
use crate::diagnostic::did_you_mean;
use crate::reader::{Fields, backticked, field};
use crate::yaml::{self, Node};

const SPEC_FIELDS: &[&str] = &["id", "version"];

pub static KIND: Kind = Kind {
    name: "connection",
    section: "connections",
    noun: "connection",
    id: crate::kind::IdForm::Uuid,
    collection: crate::flow::Collection::flow("/connections"),
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
    in_use: "FLOW-1418",
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
