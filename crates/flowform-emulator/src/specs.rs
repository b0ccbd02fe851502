//! The connection specs the emulator knows, and `GET /connectionSpecs[/{id}]`.
//!
//! The specs are fixtures written from Adobe's documentation (`specs/*.json` beside this
//! crate; `specs/README.md` gives each one's sources), each a `ConnectionSpecItemDTO` as AEP
//! serves it: `authSpec[].spec` a draft-07 JSON Schema with `"format": "password"` on
//! secrets. They are served as written, and creating or patching a connection is checked
//! against them: which params are required, which are strings, which are secret.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::query::parse_filter;
use crate::record::Kind;

/// Salesforce's connection spec id.
pub const SALESFORCE_ID: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

/// The fixtures, by file name.
const FIXTURES: &[(&str, &str)] = &[
    ("salesforce.json", include_str!("../specs/salesforce.json")),
    (
        "microsoft-dynamics.json",
        include_str!("../specs/microsoft-dynamics.json"),
    ),
];

/// A connection spec: its DTO as served, and what creating a connection checks.
#[derive(Debug)]
pub struct ConnectionSpec {
    pub id: String,
    pub name: String,
    pub version: String,
    pub auth_specs: Vec<AuthSpec>,
    /// The `ConnectionSpecItemDTO`, exactly as the fixture writes it.
    pub item: Value,
}

/// One `authSpec[]` entry, as the checks need it.
#[derive(Debug)]
pub struct AuthSpec {
    pub name: String,
    /// The params its schema lists (`properties`).
    pub params: Vec<ParamSpec>,
}

#[derive(Debug)]
pub struct ParamSpec {
    pub name: String,
    /// In the schema's `required`.
    pub required: bool,
    /// Marked `"format": "password"`: kept only as a digest, read back masked.
    pub secret: bool,
    /// The schema says `"type": "string"`.
    pub string: bool,
}

impl ConnectionSpec {
    /// Reads a fixture; `file` names it in the panic a malformed one causes (a test reads
    /// every fixture, so that panic never reaches a run).
    fn parse(file: &str, text: &str) -> ConnectionSpec {
        let bad = |what: &str| -> ! { panic!("connection-spec fixture `{file}`: {what}") };
        let item: Value = serde_json::from_str(text).unwrap_or_else(|e| bad(&format!("not JSON: {e}")));
        let text_field = |name: &str| {
            item[name]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| bad(&format!("`{name}` is not a string")))
        };
        let (id, name, version) = (text_field("id"), text_field("name"), text_field("version"));
        let auth_specs = item["authSpec"]
            .as_array()
            .unwrap_or_else(|| bad("`authSpec` is not an array"))
            .iter()
            .map(|a| {
                let auth_name = a["name"]
                    .as_str()
                    .unwrap_or_else(|| bad("an `authSpec[].name` is not a string"));
                let schema = &a["spec"];
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let properties = schema["properties"]
                    .as_object()
                    .unwrap_or_else(|| bad(&format!("auth spec `{auth_name}` has no `properties`")));
                if let Some(unknown) = required.iter().find(|r| !properties.contains_key(**r)) {
                    bad(&format!(
                        "auth spec `{auth_name}` requires `{unknown}`, which it does not list"
                    ));
                }
                let params = properties
                    .iter()
                    .map(|(param, schema)| ParamSpec {
                        name: param.clone(),
                        required: required.contains(param.as_str()),
                        secret: schema["format"] == "password",
                        string: schema["type"] == "string",
                    })
                    .collect();
                AuthSpec {
                    name: auth_name.to_owned(),
                    params,
                }
            })
            .collect();
        ConnectionSpec {
            id,
            name,
            version,
            auth_specs,
            item,
        }
    }

    pub fn auth_spec(&self, name: &str) -> Option<&AuthSpec> {
        self.auth_specs.iter().find(|a| a.name == name)
    }
}

impl AuthSpec {
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.param(name).is_some_and(|p| p.secret)
    }
}

static SPECS: LazyLock<Vec<ConnectionSpec>> = LazyLock::new(|| {
    FIXTURES
        .iter()
        .map(|(file, text)| ConnectionSpec::parse(file, text))
        .collect()
});

/// The specs the emulator serves and accepts connections for.
pub fn all() -> &'static [ConnectionSpec] {
    &SPECS
}

pub fn find(id: &str) -> Option<&'static ConnectionSpec> {
    all().iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

pub async fn get(Path(id): Path<String>) -> Result<Response, ApiError> {
    let spec = find(&id).ok_or_else(|| ApiError::not_found("connectionSpecs", &id))?;
    Ok(axum::Json(json!({"items": [spec.item]})).into_response())
}

/// Lists the specs, filtered by `property=name==…` or `property=id==…`.
pub async fn list(RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let mut names: Option<Vec<String>> = None;
    let mut ids: Option<Vec<String>> = None;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key != "property" {
            continue;
        }
        let (field, values) = value.split_once("==").ok_or_else(|| {
            parse_filter(&value, Kind::Connections)
                .err()
                .unwrap_or_else(|| ApiError::bad_request("invalid property"))
        })?;
        let values = values
            .split(',')
            .map(|v| v.trim().trim_matches('"').to_owned())
            .collect();
        match field {
            "name" => names = Some(values),
            "id" => ids = Some(values),
            other => {
                return Err(ApiError::flow(
                    StatusCode::BAD_REQUEST,
                    1451,
                    "Bad request",
                    format!("Invalid params: property '{other}' cannot be filtered"),
                ));
            }
        }
    }
    let items: Vec<&Value> = all()
        .iter()
        .filter(|s| names.as_ref().is_none_or(|n| n.contains(&s.name)))
        .filter(|s| {
            ids.as_ref()
                .is_none_or(|i| i.iter().any(|i| i.eq_ignore_ascii_case(&s.id)))
        })
        .map(|s| &s.item)
        .collect();
    Ok(axum::Json(json!({"items": items})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_reads_with_its_auth_specs() {
        let summary: Vec<(&str, &str, Vec<&str>)> = all()
            .iter()
            .map(|s| {
                (
                    s.id.as_str(),
                    s.name.as_str(),
                    s.auth_specs.iter().map(|a| a.name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    SALESFORCE_ID,
                    "salesforce",
                    vec![
                        "Basic Authentication",
                        "OAuth2 Client Credential",
                        "OAuth2 JWT Token Credential"
                    ]
                ),
                (
                    "38ad80fe-8b06-4938-94f4-d4ee80266b07",
                    "dynamics-online",
                    vec![
                        "Basic Authentication for Dynamics-Online",
                        "Service Principal Key Based Authentication"
                    ]
                ),
            ]
        );
        for spec in all() {
            assert_eq!(spec.version, "1.0", "{}", spec.name);
            for key in ["id", "name", "providerId", "version", "authSpec", "attributes"] {
                assert!(spec.item.get(key).is_some(), "{} lacks `{key}`", spec.name);
            }
            for auth in &spec.auth_specs {
                assert!(auth.params.iter().all(|p| p.string), "{}", auth.name);
            }
        }
    }

    #[test]
    fn required_and_secret_params_are_as_adobe_documents_them() {
        let params = |spec: &str, auth: &str, pick: fn(&ParamSpec) -> bool| -> Vec<String> {
            let mut names: Vec<String> = find(spec)
                .unwrap()
                .auth_spec(auth)
                .unwrap()
                .params
                .iter()
                .filter(|p| pick(p))
                .map(|p| p.name.clone())
                .collect();
            names.sort();
            names
        };
        let dynamics = "38ad80fe-8b06-4938-94f4-d4ee80266b07";
        let cases: &[(&str, &str, &[&str], &[&str])] = &[
            (
                SALESFORCE_ID,
                "Basic Authentication",
                &["password", "securityToken", "username"],
                &["password", "securityToken"],
            ),
            (
                SALESFORCE_ID,
                "OAuth2 Client Credential",
                &["apiVersion", "clientId", "clientSecret", "environmentUrl"],
                &["clientSecret"],
            ),
            (
                SALESFORCE_ID,
                "OAuth2 JWT Token Credential",
                &["clientId", "clientSecret", "instanceUrl", "jwtToken"],
                &["clientSecret", "jwtToken"],
            ),
            (
                dynamics,
                "Basic Authentication for Dynamics-Online",
                &["password", "serviceUri", "username"],
                &["password"],
            ),
            (
                dynamics,
                "Service Principal Key Based Authentication",
                &["servicePrincipalId", "servicePrincipalKey", "serviceUri"],
                &["servicePrincipalKey"],
            ),
        ];
        for (spec, auth, required, secret) in cases {
            assert_eq!(params(spec, auth, |p| p.required), *required, "{auth}");
            assert_eq!(params(spec, auth, |p| p.secret), *secret, "{auth}");
        }
        // Optional in the published Basic Authentication spec; `apiVersion` is the current
        // tutorial's addition.
        let basic = find(SALESFORCE_ID)
            .unwrap()
            .auth_spec("Basic Authentication")
            .unwrap();
        assert!(!basic.param("environmentUrl").unwrap().required);
        assert!(!basic.param("apiVersion").unwrap().required);
    }
}
