//! A base connection's `auth: {specName, params}`, checked against the catalog's auth specs
//! where flowform knows them: names, formats, and which params are secret (a literal secret
//! in a file is refused, with the environment variable to reference instead).

use std::collections::{BTreeMap, BTreeSet};

use super::plain;
use crate::catalog::{self, AuthSpec, ConnectionSpec};
use crate::diagnostic::did_you_mean;
use crate::kind::read::{Read, param, resolve};
use crate::kind::{Param, ReadCx, Value};
use crate::reader::{At, backticked, field, key_of};
use crate::secret::{self, Parsed};
use crate::yaml::{self, Location, Node};

const AUTH_FIELDS: &[&str] = &["specName", "params"];

/// `auth: {specName, params}`. Returns whether it read.
pub(super) fn auth(
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

/// The auth spec name and param names as written, whatever else is wrong with them.
#[derive(Default)]
pub(super) struct WrittenAuth {
    pub(super) spec_name: Option<String>,
    pub(super) params: BTreeSet<String>,
}

pub(super) fn written_auth(node: &Node) -> WrittenAuth {
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
