//! The JSON Schema of the configuration format, for editors.
//!
//! `flowform schema > flowform.schema.json` and a first line of
//! `# yaml-language-server: $schema=flowform.schema.json` give completion, hover text and
//! checks as a file is typed. The schema is built from the same catalog the loader checks
//! against, and a test runs every example through both, so the two cannot drift apart.
//! The loader remains the authority: it also checks what a schema cannot express (secret
//! files that exist, keys unique across files, literal secrets in unknown specs).

use serde_json::{Map, Value, json};

use crate::catalog::{self, Format};

/// The draft-07 schema of one configuration document.
pub fn config_schema() -> Value {
    let sources: Vec<&str> = catalog::all().iter().map(|s| s.source).collect();
    let mut rules = Vec::new();
    for spec in catalog::all().iter().filter(|s| s.knows_auth()) {
        let names: Vec<&str> = spec.auth_specs.iter().map(|a| a.name).collect();
        rules.push(json!({
            "if": uses_spec(spec.source, spec.id),
            "then": {"properties": {"auth": {"properties": {"specName": {"enum": names}}}}}
        }));
        for auth in spec.auth_specs {
            let mut properties = Map::new();
            for p in auth.params {
                let mut schema = if p.secret {
                    json!({"$ref": "#/definitions/secretRef"})
                } else {
                    let mut s = json!({"type": "string"});
                    match p.format {
                        Format::Text => {}
                        Format::HttpsUrl => s["pattern"] = json!("^(https://|\\$\\{)"),
                        Format::DecimalVersion => s["pattern"] = json!("^([0-9]+\\.[0-9]+|\\$\\{.*\\})$"),
                    }
                    json!({"anyOf": [s, {"$ref": "#/definitions/secretRef"}]})
                };
                schema["description"] = json!(p.description);
                properties.insert(p.name.into(), schema);
            }
            let required: Vec<&str> = auth
                .params
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name)
                .collect();
            let mut condition = uses_spec(spec.source, spec.id);
            condition["required"] = json!(["auth"]);
            condition["properties"] = json!({
                "auth": {"required": ["specName"], "properties": {"specName": {"const": auth.name}}}
            });
            rules.push(json!({
                "if": condition,
                "then": {"properties": {"auth": {"properties": {"params": {
                    "type": "object",
                    "required": required,
                    "properties": properties,
                }}}}}
            }));
        }
    }

    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "flowform configuration",
        "description": "Flow Service base connections for one AEP sandbox, as flowform declares them. The shape follows the body of `POST /connections`.",
        "type": "object",
        "anyOf": [
            {"required": ["sandbox", "connections"]},
            {"required": ["moved"], "not": {"anyOf": [{"required": ["sandbox"]}, {"required": ["connections"]}]}},
            {"required": ["removed"], "not": {"anyOf": [{"required": ["sandbox"]}, {"required": ["connections"]}]}}
        ],
        "additionalProperties": false,
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors shared by connections."}},
        "properties": {
            "moved": {
                "description": "Keys renamed without recreating the connection: the state follows on apply, AEP is not called (Terraform's `moved`). Chains are followed.",
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "required": ["from", "to"],
                    "additionalProperties": false,
                    "properties": {
                        "from": {"$ref": "#/definitions/keyRef"},
                        "to": {"$ref": "#/definitions/keyRef"}
                    }
                }
            },
            "removed": {
                "description": "Connections that leave flowform's management on apply; AEP keeps them (Terraform's `removed`).",
                "type": ["array", "null"],
                "items": {
                    "type": "object",
                    "required": ["key", "destroy"],
                    "additionalProperties": false,
                    "properties": {
                        "key": {"$ref": "#/definitions/keyRef"},
                        "destroy": {"const": false}
                    }
                }
            },
            "sandbox": {"$ref": "#/definitions/sandbox"},
            "connections": {
                "description": "The connections, keyed by a stable name that addresses them in state and plans.",
                "type": ["object", "null"],
                "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"},
                "additionalProperties": {"$ref": "#/definitions/connection"}
            }
        },
        "definitions": {
            "keyRef": {
                "description": "A connection key, or `sandbox/key`.",
                "type": "string",
                "pattern": "^([a-z0-9][a-z0-9-]*/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
            },
            "sandbox": {
                "description": "The sandbox name sent as `x-sandbox-name`. Never defaulted: AEP silently falls back to `prod` when none is named.",
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9-]*$",
                "maxLength": 256
            },
            "secretRef": {
                "description": "A secret is never written in the file: `${env:NAME}` reads an environment variable, `${file:PATH}` a file relative to this one (trailing newline trimmed).",
                "type": "string",
                "pattern": "^\\$\\{(env:[A-Za-z_][A-Za-z0-9_]*|file:[^{}]+)\\}$"
            },
            "connection": {
                "type": "object",
                "required": ["name", "auth"],
                "additionalProperties": false,
                "oneOf": [{"required": ["source"]}, {"required": ["connectionSpec"]}],
                "allOf": rules,
                "properties": {
                    "name": {"description": "The connection's display name in AEP.", "type": "string", "minLength": 1},
                    "description": {"type": ["string", "null"]},
                    "sandbox": {"$ref": "#/definitions/sandbox"},
                    "source": {
                        "description": "Shorthand for a known connection spec, instead of `connectionSpec`.",
                        "enum": sources
                    },
                    "connectionSpec": {
                        "type": "object",
                        "required": ["id"],
                        "additionalProperties": false,
                        "properties": {
                            "id": {"type": "string", "pattern": "^[0-9A-Fa-f-]{1,64}$"},
                            "version": {"description": "Defaults to the catalog's version for known specs; required otherwise.", "type": "string", "minLength": 1}
                        }
                    },
                    "auth": {
                        "type": "object",
                        "required": ["specName", "params"],
                        "additionalProperties": false,
                        "properties": {
                            "specName": {"description": "One of the connection spec's `authSpec[].name`.", "type": "string", "minLength": 1},
                            "params": {"type": "object"}
                        }
                    },
                    "lifecycle": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "protect": {"description": "Refuse to delete or replace this connection; remembered in state.", "type": "boolean"},
                            "ignoreChanges": {
                                "type": "array",
                                "items": {"type": "string", "pattern": "^(name|description|state|auth\\.params(\\.[^.]+)?)$"}
                            },
                            "acknowledge": {
                                "description": "Advisories seen and accepted for this connection: their warnings are not shown.",
                                "type": "array",
                                "items": {"enum": crate::catalog::ADVISORIES.iter().map(|a| a.id).collect::<Vec<_>>()}
                            }
                        }
                    },
                    "import": {
                        "description": "Adopt an existing connection by id instead of creating one.",
                        "type": "object",
                        "required": ["id"],
                        "additionalProperties": false,
                        "properties": {
                            "id": {"type": "string", "pattern": "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"}
                        }
                    }
                }
            }
        }
    })
}

/// A condition true when a connection names the spec by `source` or by `connectionSpec.id`.
fn uses_spec(source: &str, id: &str) -> Value {
    json!({
        "anyOf": [
            {"required": ["source"], "properties": {"source": {"const": source}}},
            {"required": ["connectionSpec"], "properties": {"connectionSpec": {"required": ["id"], "properties": {"id": {"const": id}}}}}
        ]
    })
}
