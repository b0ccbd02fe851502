//! A base connection's part of the editor schema that its declaration cannot say: the
//! `source:` shorthand, `connectionSpec`, and `auth`, with the catalog's auth specs and their
//! params as rules (which names a spec accepts, which params it requires, which are secret).

use serde_json::{Map, Value, json};

use crate::catalog::{self, Format};

/// Adds them to the connection's definition (`properties`, `allOf`, `oneOf`).
pub fn extend(definition: &mut Map<String, Value>) {
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

    if let Some(Value::Object(properties)) = definition.get_mut("properties") {
        properties.insert(
            "source".into(),
            json!({"description": "Shorthand for a known connection spec, instead of `connectionSpec`.", "enum": sources}),
        );
        properties.insert(
            "connectionSpec".into(),
            json!({
                "type": "object",
                "required": ["id"],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "pattern": "^[0-9A-Fa-f-]{1,64}$"},
                    "version": {"description": "Defaults to the catalog's version for known specs; required otherwise.", "type": "string", "minLength": 1}
                }
            }),
        );
        properties.insert(
            "auth".into(),
            json!({
                "type": "object",
                "required": ["specName", "params"],
                "additionalProperties": false,
                "properties": {
                    "specName": {"description": "One of the connection spec's `authSpec[].name`.", "type": "string", "minLength": 1},
                    "params": {"type": "object"}
                }
            }),
        );
        if let Some(Value::Object(lifecycle)) = properties.get_mut("lifecycle")
            && let Some(Value::Object(fields)) = lifecycle.get_mut("properties")
        {
            fields.insert(
                "acknowledge".into(),
                json!({
                    "description": "Advisories seen and accepted for this connection: their warnings are not shown.",
                    "type": "array",
                    "items": {"enum": catalog::ADVISORIES.iter().map(|a| a.id).collect::<Vec<_>>()}
                }),
            );
        }
    }
    if let Some(Value::Array(required)) = definition.get_mut("required") {
        required.push(json!("auth"));
    }
    definition.insert(
        "oneOf".into(),
        json!([{"required": ["source"]}, {"required": ["connectionSpec"]}]),
    );
    definition.insert("allOf".into(), Value::Array(rules));
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
