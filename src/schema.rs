//! The JSON Schema of the configuration format, for editors.
//!
//! `flowform schema > flowform.schema.json` and a first line of
//! `# yaml-language-server: $schema=flowform.schema.json` give completion, hover text and
//! checks as a file is typed. Each kind's definition is built from its declaration (its
//! fields, their types and docs, what is required) and what its hooks add (a base
//! connection's auth specs, from the same catalog the loader checks against); a test runs
//! every example through both, so the two cannot drift apart. The loader remains the
//! authority: it also checks what a schema cannot express (secret files that exist, keys
//! unique across files, references to declared resources, literal secrets in unknown specs).

use serde_json::{Map, Value, json};

use crate::kind::{self, Default, Field, IdForm, Kind, Type};

const KEY_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$";
const HEX32_PATTERN: &str = "^[0-9A-Fa-f]{32}$";
const UUID_PATTERN: &str = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// A field's schema.
fn field(f: &Field) -> Value {
    let mut s = match &f.ty {
        Type::Text if f.required => json!({"type": "string", "minLength": 1}),
        Type::Text => json!({"type": ["string", "null"]}),
        Type::Enum(values) => json!({"enum": values}),
        Type::Id(IdForm::Uuid) => json!({"type": "string", "pattern": UUID_PATTERN}),
        Type::Id(IdForm::Spec) => json!({"type": "string", "pattern": "^[0-9A-Fa-f-]{1,64}$"}),
        Type::Id(IdForm::Catalog) => json!({"type": "string", "pattern": "^[0-9A-Fa-f]{24}$"}),
        Type::Id(IdForm::Hex32) => json!({"type": "string", "pattern": HEX32_PATTERN}),
        Type::Names | Type::Columns => json!({"type": "array", "items": {"type": "string", "minLength": 1}}),
        Type::Params => json!({"type": "object"}),
        Type::Mappings => json!({"type": "array", "minItems": 1, "items": {
            "type": "object",
            "additionalProperties": false,
            "required": ["source", "destination"],
            "properties": {
                "source": {"type": "string", "minLength": 1, "description": "a source column (ATTRIBUTE), an expression (EXPRESSION) or a value (STATIC)"},
                "destination": {"type": "string", "minLength": 1, "description": "the XDM path it is written to, e.g. `personalEmail.address`"},
                "sourceType": {"enum": crate::kind::read::SOURCE_TYPES, "default": "ATTRIBUTE"},
            },
        }}),
        Type::Int { min } => json!({"type": ["integer", "string"], "minimum": min, "pattern": "^[0-9]+$"}),
        Type::Bool | Type::Switch { .. } => json!({"type": "boolean"}),
        Type::Time => json!({"type": ["string", "integer"], "minimum": 0}),
        Type::Ref { kind, .. } => match kind::by_name(kind).map(|k| k.id) {
            Some(IdForm::Hex32) => json!({"type": "string", "pattern": HEX32_PATTERN}),
            _ => json!({"type": "string", "pattern": UUID_PATTERN}),
        },
    };
    s["description"] = json!(f.doc);
    if let Default::Value(v) = f.default
        && let Ok(v) = serde_json::from_str::<Value>(v)
    {
        s["default"] = v;
    }
    s
}

/// One kind's definition, from its declaration and its hooks.
fn definition(kind: &'static Kind) -> Value {
    let mut properties = Map::new();
    let mut required: Vec<&str> = Vec::new();
    let mut one_of = Vec::new();
    for f in kind.fields.iter().filter(|f| !f.custom) {
        let needed = f.required && matches!(f.default, Default::None);
        if let Type::Ref { kind: target, by_key } = f.ty {
            let noun = kind::by_name(target).map_or(target, |k| k.noun);
            properties.insert(
                by_key.into(),
                json!({"description": format!("The key of its {noun}, declared in this configuration (same sandbox)."), "type": "string", "pattern": KEY_PATTERN}),
            );
            properties.insert(f.path.into(), field(f));
            if f.required {
                // Each reference by key or by id, exactly one: a kind with two (a flow's source
                // and target) needs both, each one way.
                one_of.push(json!({"oneOf": [{"required": [by_key]}, {"required": [f.path]}]}));
            }
            continue;
        }
        match f.path.split_once('.') {
            None => {
                properties.insert(f.path.into(), field(f));
                if needed {
                    required.push(f.path);
                }
            }
            Some((top, name)) => {
                let group = properties.entry(top).or_insert_with(
                    || json!({"type": "object", "additionalProperties": false, "properties": {}}),
                );
                group["properties"][name] = field(f);
                if needed {
                    if !required.contains(&top) {
                        required.push(top);
                    }
                    let list = group["required"].as_array_mut();
                    match list {
                        Some(list) => list.push(json!(name)),
                        None => group["required"] = json!([name]),
                    }
                }
            }
        }
    }
    let ignorable: Vec<String> = kind::read::ignorable(kind)
        .iter()
        .map(|p| regex_escape(p))
        .collect();
    let params = kind
        .params_field()
        .map(|f| format!("|{}\\.[^.]+", regex_escape(f.path)));
    properties.insert("sandbox".into(), json!({"$ref": "#/definitions/sandbox"}));
    properties.insert(
        "lifecycle".into(),
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "protect": {"description": format!("Refuse to delete or replace this {}; remembered in state.", kind.noun), "type": "boolean"},
                "ignoreChanges": {
                    "type": "array",
                    "items": {"type": "string", "pattern": format!("^({}{})$", ignorable.join("|"), params.unwrap_or_default())}
                }
            }
        }),
    );
    properties.insert(
        "import".into(),
        json!({
            "description": format!("Adopt an existing {} by id instead of creating one.", kind.noun),
            "type": "object",
            "required": ["id"],
            "additionalProperties": false,
            "properties": {"id": {"type": "string", "pattern": if kind.id == IdForm::Hex32 { HEX32_PATTERN } else { UUID_PATTERN }}}
        }),
    );
    let mut definition = Map::new();
    definition.insert("description".into(), json!(kind.about));
    definition.insert("type".into(), json!("object"));
    definition.insert("required".into(), json!(required));
    definition.insert("additionalProperties".into(), json!(false));
    if !one_of.is_empty() {
        definition.insert("allOf".into(), Value::Array(one_of));
    }
    definition.insert("properties".into(), Value::Object(properties));
    kind.hooks.schema(&mut definition);
    Value::Object(definition)
}

fn regex_escape(text: &str) -> String {
    text.replace('.', "\\.")
}

/// The draft-07 schema of one configuration document.
pub fn config_schema() -> Value {
    let sections: Vec<&str> = kind::ALL.iter().map(|k| k.section).collect();
    let mut properties = Map::new();
    let mut definitions = Map::new();
    properties.insert(
        "moved".into(),
        json!({
            "description": "Keys renamed without recreating the resource: the state follows on apply, AEP is not called (Terraform's `moved`). Chains are followed.",
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
        }),
    );
    properties.insert(
        "removed".into(),
        json!({
            "description": "Resources that leave flowform's management on apply; AEP keeps them (Terraform's `removed`).",
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
        }),
    );
    properties.insert("sandbox".into(), json!({"$ref": "#/definitions/sandbox"}));
    for kind in kind::ALL {
        properties.insert(
            kind.section.into(),
            json!({
                "description": format!("{} Keyed by a stable name that addresses each in state and plans.", kind.about),
                "type": ["object", "null"],
                "propertyNames": {"pattern": KEY_PATTERN},
                "additionalProperties": {"$ref": format!("#/definitions/{}", kind.name)}
            }),
        );
        definitions.insert(kind.name.into(), definition(kind));
    }
    let kinds: Vec<&str> = kind::ALL.iter().map(|k| k.name).collect();
    definitions.insert(
        "keyRef".into(),
        json!({
            "description": format!("A key, `kind:key` ({}), or either after `sandbox/`.", kinds.join(", ")),
            "type": "string",
            "pattern": format!("^([a-z0-9][a-z0-9-]*/)?(({}):)?[A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}$", kinds.join("|"))
        }),
    );
    definitions.insert(
        "sandbox".into(),
        json!({
            "description": "The sandbox name sent as `x-sandbox-name`. Never defaulted: AEP silently falls back to `prod` when none is named.",
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9-]*$",
            "maxLength": 256
        }),
    );
    definitions.insert(
        "secretRef".into(),
        json!({
            "description": "A secret is never written in the file: `${env:NAME}` reads an environment variable, `${file:PATH}` a file relative to this one (trailing newline trimmed).",
            "type": "string",
            "pattern": "^\\$\\{(env:[A-Za-z_][A-Za-z0-9_]*|file:[^{}]+)\\}$"
        }),
    );
    let none_of_them: Vec<Value> = std::iter::once("sandbox")
        .chain(sections.iter().copied())
        .map(|f| json!({"required": [f]}))
        .collect();
    let any_section: Vec<Value> = sections
        .iter()
        .map(|s| json!({"required": ["sandbox", s]}))
        .collect();
    let mut any_of = any_section;
    any_of.push(json!({"required": ["moved"], "not": {"anyOf": none_of_them}}));
    any_of.push(json!({"required": ["removed"], "not": {"anyOf": none_of_them}}));
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "flowform configuration",
        "description": "Flow Service resources of one AEP sandbox as flowform declares them: base connections, source and target connections. Each follows the body of its `POST`.",
        "type": "object",
        "anyOf": any_of,
        "additionalProperties": false,
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors shared by resources."}},
        "properties": properties,
        "definitions": definitions
    })
}
