//! The flow specs the emulator knows, and `GET /flowSpecs[/{id}]`.
//!
//! Two fixtures, written from the docs (flow-service-dataflows §2): `CRMToAEP`
//! (`14518937-…`, table sources to the data lake, with the `Copy` and `Mapping`
//! transformation specs and the `scheduleSpec` JSON Schema of D-TPL) and
//! `CloudStorageToAEP` (`9753525b-…`, the OpenAPI's example). Both are version `1.0`.
//!
//! Decisions:
//! - `CRMToAEP`'s `sourceConnectionSpecIds` is the union of D-CRM's and D-TPL's lists as far
//!   as the reference names the ids in full: Salesforce, Microsoft Dynamics, Salesforce
//!   Service Cloud (`cb66ab34-…`, the flow spec's spelling) and Zoho CRM (D-CRM only).
//! - `CloudStorageToAEP` lists no source spec: the reference names no cloud-storage source
//!   spec id, and the emulator serves none, so a flow of that spec is refused for its
//!   source connection (1413), as AEP would refuse a CRM source on it.
//! - `transformationSpecs` is an array of `{name, spec}` as D-TPL shows it; the OpenAPI's
//!   `FlowSpecItemDTO` declares an object (one spec), a contradiction the OpenAPI test
//!   records.
//! - `property=name==…` and `property=id==…` (quoted, `%22`-encoded or bare, comma = OR,
//!   repeated = AND) filter the list; any other property is 1451.

use std::sync::LazyLock;

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::flow_connections::DATA_LAKE_SPEC_ID;

/// `CRMToAEP`: table sources to the data lake.
pub const CRM_TO_AEP_ID: &str = "14518937-270c-4525-bdec-c2ba7cce3860";
/// `CloudStorageToAEP`: file sources to the data lake.
pub const CLOUD_STORAGE_TO_AEP_ID: &str = "9753525b-82c7-4dce-8a9b-5ccfce2b9876";
const VERSION: &str = "1.0";

/// One flow spec: what validation needs, and the item as served.
#[derive(Debug)]
pub struct FlowSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    pub sources: &'static [&'static str],
    pub targets: &'static [&'static str],
    /// Flows of this spec need a `Copy` transformation with `params.deltaColumn.name`.
    pub needs_delta_column: bool,
    pub item: Value,
}

const CRM_SOURCES: &[&str] = &[
    "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    "38ad80fe-8b06-4938-94f4-d4ee80266b07",
    "cb66ab34-8619-49cb-96d1-39b37ede86ea",
    "929e4450-0237-4ed2-9404-b7e1e0a00309",
];
const LAKE: &[&str] = &[DATA_LAKE_SPEC_ID];

/// The `scheduleSpec` of D-TPL, as a JSON Schema.
fn schedule_spec() -> Value {
    json!({
        "name": "PeriodicSchedule",
        "type": "Periodic",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "startTime": {"description": "epoch time", "type": "integer"},
                "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
                "interval": {"type": "integer"},
                "backfill": {"type": "boolean", "default": true}
            },
            "required": ["startTime", "frequency"],
            "if": {"properties": {"frequency": {"const": "once"}}},
            "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
            "else": {
                "required": ["interval"],
                "if": {"properties": {"frequency": {"const": "minute"}}},
                "then": {"properties": {"interval": {"minimum": 15}}},
                "else": {"properties": {"interval": {"minimum": 1}}}
            }
        }
    })
}

fn option_spec() -> Value {
    json!({
        "name": "OptionSpec",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "errorDiagnosticsEnabled": {"title": "Error diagnostics", "description": "Flag to enable detailed and sample error diagnostics summary.", "type": "boolean", "default": false},
                "partialIngestionPercent": {"title": "Partial ingestion threshold", "description": "Percentage which defines the threshold of errors allowed before the run is marked as failed.", "type": "number", "exclusiveMinimum": 0}
            }
        }
    })
}

fn mapping_spec() -> Value {
    json!({
        "name": "Mapping",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "description": "defines various params required for different mapping from source to target",
            "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}}
        }
    })
}

fn item(spec: &FlowSpec, transformations: Vec<Value>) -> Value {
    json!({
        "id": spec.id,
        "name": spec.name,
        "providerId": "0ed90a81-07f4-4586-8190-b40eccef1c5a",
        "version": spec.version,
        "sourceConnectionSpecIds": spec.sources,
        "targetConnectionSpecIds": spec.targets,
        "optionSpec": option_spec(),
        "transformationSpecs": transformations,
        "scheduleSpec": schedule_spec(),
        "runSpec": {
            "name": "ProviderParams",
            "spec": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "startTime": {"type": "integer"},
                    "windowStartTime": {"type": "integer"},
                    "windowEndTime": {"type": "integer"},
                    "deltaColumn": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
                },
                "required": ["startTime", "windowStartTime", "windowEndTime"]
            }
        },
        "attributes": {
            "isSourceFlow": true,
            "flacValidationSupported": true,
            "frequency": "batch",
            "notification": {"category": "sources", "flowRun": {"enabled": true}}
        },
        "permissionsInfo": {
            "manage": [{"type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
            "view": [{"type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}]
        }
    })
}

static SPECS: LazyLock<Vec<FlowSpec>> = LazyLock::new(|| {
    let mut crm = FlowSpec {
        id: CRM_TO_AEP_ID,
        name: "CRMToAEP",
        version: VERSION,
        sources: CRM_SOURCES,
        targets: LAKE,
        needs_delta_column: true,
        item: Value::Null,
    };
    let copy = json!({
        "name": "Copy",
        "spec": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "deltaColumn": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "dateFormat": {"type": "string", "description": "yyyy-MM-dd HH:mm:ss (Dynamics: yyyy-MM-ddTHH:mm:ssZ)"},
                        "timezone": {"type": "string"}
                    },
                    "required": ["name"]
                }
            },
            "required": ["deltaColumn"]
        }
    });
    crm.item = item(&crm, vec![copy, mapping_spec()]);
    let mut files = FlowSpec {
        id: CLOUD_STORAGE_TO_AEP_ID,
        name: "CloudStorageToAEP",
        version: VERSION,
        sources: &[],
        targets: LAKE,
        needs_delta_column: false,
        item: Value::Null,
    };
    files.item = item(&files, vec![mapping_spec()]);
    vec![crm, files]
});

pub fn all() -> &'static [FlowSpec] {
    &SPECS
}

/// The flow spec `id` (case-insensitive).
pub fn find(id: &str) -> Option<&'static FlowSpec> {
    all().iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// `GET /flowSpecs/{id}`.
pub async fn get(Path(id): Path<String>) -> Result<Response, ApiError> {
    let spec = find(&id).ok_or_else(|| ApiError::not_found("flowSpecs", &id))?;
    Ok(axum::Json(json!({"items": [spec.item]})).into_response())
}

/// `GET /flowSpecs`, filtered by `property=name==…` and `property=id==…`.
pub async fn list(RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let mut keep: Vec<&FlowSpec> = all().iter().collect();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key != "property" {
            continue;
        }
        let Some((field, values)) = value.split_once("==") else {
            return Err(ApiError::flow(
                StatusCode::BAD_REQUEST,
                1450,
                "Bad request",
                format!("Invalid operator in property '{value}': flow specs are filtered with =="),
            ));
        };
        let values: Vec<&str> = values.split(',').map(|v| v.trim().trim_matches('"')).collect();
        match field.trim() {
            "name" => keep.retain(|s| values.contains(&s.name)),
            "id" => keep.retain(|s| values.iter().any(|v| v.eq_ignore_ascii_case(s.id))),
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
    let items: Vec<&Value> = keep.iter().map(|s| &s.item).collect();
    Ok(axum::Json(json!({"items": items})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_carry_what_validation_reads() {
        let crm = find(&CRM_TO_AEP_ID.to_uppercase()).unwrap();
        assert_eq!(crm.item["name"], "CRMToAEP");
        assert_eq!(crm.item["targetConnectionSpecIds"], json!([DATA_LAKE_SPEC_ID]));
        assert_eq!(crm.item["transformationSpecs"][0]["name"], "Copy");
        assert_eq!(
            crm.item["scheduleSpec"]["spec"]["else"]["then"]["properties"]["interval"]["minimum"],
            15
        );
        assert!(find(CLOUD_STORAGE_TO_AEP_ID).unwrap().sources.is_empty());
        assert!(find("nope").is_none());
    }
}
