//! `GET /connectionSpecs` and `GET /connectionSpecs/{id}`: the specs of flowform's catalog
//! whose auth specs Adobe publishes, as AEP serves them (`authSpec[].spec` a draft-07 JSON
//! Schema with `"format": "password"` on secrets).

use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::errors::ApiError;
use super::query::Filter;
use crate::catalog::{self, ConnectionSpec};

/// The specs the emulator serves and accepts connections for.
pub fn served() -> impl Iterator<Item = &'static ConnectionSpec> {
    catalog::all().iter().filter(|s| s.knows_auth())
}

pub fn find(id: &str) -> Option<&'static ConnectionSpec> {
    served().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// A spec as `ConnectionSpecItemDTO`.
pub fn item(spec: &ConnectionSpec) -> Value {
    let auth: Vec<Value> = spec
        .auth_specs
        .iter()
        .map(|a| json!({"name": a.name, "type": a.kind, "spec": a.json_schema()}))
        .collect();
    json!({
        "id": spec.id,
        "name": spec.name,
        "providerId": spec.provider_id,
        "version": spec.version,
        "authSpec": auth,
        "attributes": {"category": "CRM", "connectorName": spec.title, "isSource": true},
    })
}

pub async fn get(Path(id): Path<String>) -> Result<Response, ApiError> {
    let spec = find(&id).ok_or_else(|| ApiError::not_found("connectionSpecs", &id))?;
    Ok(axum::Json(json!({"items": [item(spec)]})).into_response())
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
            Filter::parse(&value)
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
                    axum::http::StatusCode::BAD_REQUEST,
                    1451,
                    "Bad request",
                    format!("Invalid params: property '{other}' cannot be filtered"),
                ));
            }
        }
    }
    let items: Vec<Value> = served()
        .filter(|s| names.as_ref().is_none_or(|n| n.iter().any(|n| n == s.name)))
        .filter(|s| {
            ids.as_ref()
                .is_none_or(|i| i.iter().any(|i| i.eq_ignore_ascii_case(s.id)))
        })
        .map(item)
        .collect();
    Ok(axum::Json(json!({"items": items})).into_response())
}
