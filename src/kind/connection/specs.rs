//! Base connections checked against AEP's live connection specs (`flowform validate
//! --live`, and every plan): the auth spec must exist, the params must satisfy its JSON
//! Schema, and a param it marks secret must not be written literally. The client fetches
//! the specs ([`crate::flow::Client::connection_spec`]); [`check_with`] is pure.
//!
//! Secret values never reach the schema validator (whose messages quote values): they are
//! replaced by a placeholder first.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::{Param, Resource as Connection};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::flow::model::{LiveAuthSpec, LiveSpec, problems_of};
use crate::kind::connection::{auth_spec_name, spec_id, spec_version};
use crate::yaml::Location;

/// What a secret's value is replaced by before validation.
const PLACEHOLDER: &str = "(sensitive)";

/// Fetches each connection spec in use (once: the client caches them) and checks every
/// connection against it.
pub async fn check_all(
    client: &crate::flow::Client,
    connections: &[&Connection],
) -> Result<crate::diagnostic::Diagnostics, crate::flow::FlowError> {
    let mut diagnostics = crate::diagnostic::Diagnostics::default();
    let mut schemas = Schemas::default();
    for conn in connections.iter().copied() {
        let spec = client.connection_spec(&conn.sandbox, spec_id(conn)).await?;
        for d in check_with(conn, spec.as_deref(), &mut schemas) {
            diagnostics.push(d);
        }
    }
    diagnostics.sort();
    Ok(diagnostics)
}

/// The auth specs' JSON Schemas compiled so far, by (connection spec id, version, auth spec
/// name): compiling one costs far more than checking a connection against it, and thousands
/// of connections share a few.
#[derive(Default)]
pub struct Schemas {
    compiled: HashMap<(String, String, String), Result<jsonschema::Validator, String>>,
}

impl Schemas {
    fn get(
        &mut self,
        conn: &Connection,
        spec: &LiveSpec,
        auth: &LiveAuthSpec,
    ) -> &Result<jsonschema::Validator, String> {
        self.compiled
            .entry((spec.id.clone(), spec_version(conn).to_owned(), auth.name.clone()))
            .or_insert_with(|| auth.validator())
    }
}

/// Problems with `conn` against `spec` (`None`: AEP has no such spec).
#[cfg(test)]
pub fn check(conn: &Connection, spec: Option<&LiveSpec>) -> Vec<Diagnostic> {
    check_with(conn, spec, &mut Schemas::default())
}

/// Problems with `conn` against `spec` (`None`: AEP has no such spec), with the schemas
/// compiled for earlier connections.
pub fn check_with(conn: &Connection, spec: Option<&LiveSpec>, schemas: &mut Schemas) -> Vec<Diagnostic> {
    let at = |field: &str, message: String| {
        Diagnostic::error(message)
            .at(Path::new(&conn.origin.file), place(conn, field))
            .key(Some(&conn.key))
            .field(field)
    };
    let Some(spec) = spec else {
        return vec![
            at(
                "connectionSpec.id",
                format!("AEP has no connection spec `{}`", spec_id(conn)),
            )
            .help("check the id against Adobe's documentation for the source, or `GET /connectionSpecs`"),
        ];
    };
    let Some(auth) = spec.auth_spec.iter().find(|a| a.name == auth_spec_name(conn)) else {
        let names: Vec<&str> = spec.auth_spec.iter().map(|a| a.name.as_str()).collect();
        let help = match did_you_mean(auth_spec_name(conn), names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "`{}` accepts {}",
                spec.name,
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return vec![
            at(
                "auth.specName",
                format!(
                    "connection spec `{}` has no auth spec `{}`",
                    spec.name,
                    auth_spec_name(conn)
                ),
            )
            .help(help),
        ];
    };
    let mut problems = Vec::new();
    let secrets = auth.secret_params();
    let mut instance = Map::new();
    // Values given by reference that AEP does not mark secret (an `environmentUrl` from the
    // environment, say) are checked as they are, since a placeholder would fail their format;
    // they are then scrubbed from the validator's messages.
    let mut scrub: Vec<&str> = Vec::new();
    for (name, param) in conn.params().into_iter().flatten() {
        match param {
            Param::Secret {
                value: Some(value), ..
            } if !secrets.contains(name) => {
                scrub.push(value.expose());
                instance.insert(name.clone(), Value::String(value.expose().to_owned()));
            }
            Param::Secret { .. } => {
                instance.insert(name.clone(), Value::String(PLACEHOLDER.to_owned()));
            }
            Param::Plain(value) => {
                if secrets.contains(name) {
                    problems.push(
                        at(
                            &format!("auth.params.{name}"),
                            format!("AEP marks `{name}` secret; it cannot be written in the file"),
                        )
                        .help(format!(
                            "write `{name}: ${{env:NAME}}` or `{name}: ${{file:PATH}}`"
                        )),
                    );
                }
                instance.insert(name.clone(), value.clone());
            }
        }
    }
    if auth.spec.is_object() {
        match schemas.get(conn, spec, auth) {
            Ok(validator) => {
                let errors = problems_of(validator, &Value::Object(instance));
                for (field, message) in errors {
                    let message = scrubbed(&message, &scrub);
                    problems.push(at(
                        &field,
                        format!("{message} (auth spec `{}` of `{}`)", auth.name, spec.name),
                    ));
                }
            }
            Err(e) => problems.push(Diagnostic::warning(format!(
                "AEP's schema for auth spec `{}` does not compile ({e}); params were not checked against it",
                auth.name
            ))),
        }
    }
    problems
}

/// Where `field` of `conn` is written: the line a problem with it is about, not the key's
/// (a param not written, its `params:`).
fn place(conn: &Connection, field: &str) -> Location {
    if let Some(param) = field.strip_prefix("auth.params")
        && !conn.places.params.contains_key(param.trim_start_matches('.'))
        && let Some(params) = conn.places.params.get("")
    {
        return *params;
    }
    conn.place(field)
}

/// `message` with every value of `values` (as it is, and as a JSON string would quote it)
/// replaced by the placeholder.
fn scrubbed(message: &str, values: &[&str]) -> String {
    let mut out = message.to_owned();
    for value in values.iter().filter(|v| !v.is_empty()) {
        if let Ok(quoted) = serde_json::to_string(value) {
            out = out.replace(&quoted, &format!("\"{PLACEHOLDER}\""));
            out = out.replace(&quoted[1..quoted.len() - 1], PLACEHOLDER);
        }
        out = out.replace(*value, PLACEHOLDER);
    }
    out
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;
    use crate::secret::{Secret, SecretRef};

    fn spec() -> LiveSpec {
        serde_json::from_value(json!({
            "id": "s", "name": "crm", "authSpec": [{"name": "Key", "type": "KeyBased", "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                "properties": {"host": {"type": "string"}, "port": {"type": "integer"}, "apiKey": {"type": "string", "format": "password"}},
                "required": ["host", "apiKey"]}}]
        }))
        .unwrap()
    }

    fn conn(spec_name: &str, params: Vec<(&str, Param)>) -> Connection {
        let mut c = crate::plan::fixtures::conn("k", "n");
        c.description = None;
        c.connection_spec.id = "s".into();
        c.auth.spec_name = spec_name.into();
        c.auth.params = params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let mut r = c.resource();
        r.origin.line = 3;
        r.origin.column = 3;
        r
    }

    /// `r` with `path` set to a plain string.
    fn with(r: &Connection, path: &'static str, value: &str) -> Connection {
        let mut r = r.clone();
        r.values.insert(path, crate::config::Value::Plain(json!(value)));
        r
    }

    fn secret(value: &str) -> Param {
        Param::Secret {
            reference: SecretRef::Env("X".into()),
            value: Some(Secret::new(value)),
        }
    }

    #[test]
    fn valid_params_pass() {
        let c = conn(
            "Key",
            vec![("host", Param::Plain(json!("h"))), ("apiKey", secret("k"))],
        );
        assert!(check(&c, Some(&spec())).is_empty());
    }

    #[test]
    fn a_schema_is_compiled_once_for_every_connection_of_its_auth_spec() {
        let spec = spec();
        let mut schemas = Schemas::default();
        let good = conn(
            "Key",
            vec![("host", Param::Plain(json!("h"))), ("apiKey", secret("k"))],
        );
        let bad = conn("Key", vec![("port", Param::Plain(json!("eighty")))]);
        for c in [&good, &bad, &good, &bad] {
            let shared: Vec<String> = check_with(c, Some(&spec), &mut schemas)
                .iter()
                .map(ToString::to_string)
                .collect();
            let alone: Vec<String> = check(c, Some(&spec)).iter().map(ToString::to_string).collect();
            assert_eq!(shared, alone);
        }
        assert!(!check(&bad, Some(&spec)).is_empty());
        assert_eq!(schemas.compiled.len(), 1);
        // Another version of the connection spec is another schema.
        let other = with(&good, "connectionSpec.version", "2.0");
        check_with(&other, Some(&spec), &mut schemas);
        assert_eq!(schemas.compiled.len(), 2);
    }

    #[test]
    fn problems_are_named_without_echoing_secrets() {
        let missing_spec = check(&conn("Key", vec![]), None);
        assert!(missing_spec[0].message.contains("AEP has no connection spec `s`"));
        let typo = check(&conn("key", vec![]), Some(&spec()));
        assert_eq!(typo[0].help.as_deref(), Some("did you mean `Key`?"));
        let c = conn(
            "Key",
            vec![
                ("port", Param::Plain(json!("eighty"))),
                ("apiKey", Param::Plain(json!("literal-key"))),
            ],
        );
        let problems = check(&c, Some(&spec()));
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("`auth.params.apiKey`: AEP marks `apiKey` secret")),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("`auth.params.port`") && t.contains("integer")),
            "{text:#?}"
        );
        assert!(
            text.iter().any(|t| t.contains("\"host\" is a required property")),
            "{text:#?}"
        );
        let c = conn(
            "Key",
            vec![
                ("host", Param::Plain(json!(5))),
                ("apiKey", secret("top-secret-value")),
            ],
        );
        let all: String = check(&c, Some(&spec()))
            .iter()
            .map(|d| format!("{d} {d:?}"))
            .collect();
        assert!(!all.contains("top-secret-value"), "{all}");
    }

    /// Each problem points at the line it is about (the id, the auth spec's name, the
    /// param, or `params:` for a missing one), not at the connection's key.
    #[test]
    fn problems_point_at_their_field() {
        let loc = |line: usize| Location { line, column: 7 };
        let mut c = conn(
            "Key",
            vec![("port", Param::Plain(json!("eighty"))), ("apiKey", secret("k"))],
        );
        c.places.fields.insert("connectionSpec.id", loc(5));
        c.places.fields.insert("auth.specName", loc(7));
        c.places.params = [("", 8), ("port", 9), ("apiKey", 10)]
            .into_iter()
            .map(|(name, line)| (name.to_owned(), loc(line)))
            .collect();
        let lines = |problems: Vec<Diagnostic>| -> Vec<(String, usize)> {
            let mut out: Vec<(String, usize)> = problems
                .iter()
                .map(|d| {
                    (
                        d.field.clone().unwrap_or_default(),
                        d.location.map_or(0, |p| p.line),
                    )
                })
                .collect();
            out.sort();
            out
        };
        assert_eq!(lines(check(&c, None)), [("connectionSpec.id".to_owned(), 5)]);
        let typo = with(&c, "auth.specName", "key");
        assert_eq!(
            lines(check(&typo, Some(&spec()))),
            [("auth.specName".to_owned(), 7)]
        );
        assert_eq!(
            lines(check(&c, Some(&spec()))),
            [("auth.params".to_owned(), 8), ("auth.params.port".to_owned(), 9)]
        );
        // Without places (a connection built in code), the key's line.
        let bare = conn("Key", vec![]);
        assert_eq!(lines(check(&bare, None)), [("connectionSpec.id".to_owned(), 3)]);
    }

    #[test]
    fn a_referenced_value_aep_does_not_mark_secret_is_checked_as_it_is_never_echoed() {
        let spec: LiveSpec = serde_json::from_value(json!({
            "id": "s", "name": "crm", "authSpec": [{"name": "Key", "type": "KeyBased", "spec": {
                "type": "object",
                "properties": {"host": {"type": "string", "pattern": "^https://"}, "apiKey": {"type": "string", "format": "password"}},
                "required": ["host", "apiKey"]}}]
        }))
        .unwrap();
        // Given by reference and right: it passes (a placeholder would not).
        let good = conn(
            "Key",
            vec![("host", secret("https://crm.example")), ("apiKey", secret("k"))],
        );
        assert!(
            check(&good, Some(&spec)).is_empty(),
            "{:?}",
            check(&good, Some(&spec))
        );
        // Wrong: said so, without the value.
        let bad = conn(
            "Key",
            vec![
                ("host", secret("http://in-the-clear.example")),
                ("apiKey", secret("k")),
            ],
        );
        let all: String = check(&bad, Some(&spec))
            .iter()
            .map(|d| format!("{d} {d:?}"))
            .collect();
        assert!(all.contains("does not match"), "{all}");
        assert!(!all.contains("in-the-clear"), "{all}");
    }
}
