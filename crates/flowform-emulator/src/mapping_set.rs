//! Data Prep mapping sets as the emulator keeps them: every version of each, what a request
//! body may say (the current shape and the legacy one), what a read shows, and the fields of
//! the demo schemas that `POST /mappingSets/validate` checks destinations against.
//!
//! Shapes (flow-service-explore-runs §4, D-MAP, [S-PREP] `MappingSet`):
//! - current: `{outputSchema: {schemaRef: {id, contentType}}, mappings: [{sourceType
//!   ATTRIBUTE|EXPRESSION|STATIC, source, destination, name?, description?}]}`;
//! - legacy (the sources tutorials): `{xdmSchema, xdmVersion, mappings: [{sourceAttribute,
//!   destinationXdmPath, identity, …}]}`, read as `ATTRIBUTE` mappings.
//!
//! Decisions:
//! - A read shows the current shape with both vocabularies on every mapping (`source` and
//!   `sourceAttribute`, `destination` and `destinationXdmPath`), `sourceType` as D-MAP echoes
//!   it (`text/x.schema-path` for ATTRIBUTE, `text/x.aep-xl` for EXPRESSION, `text/plain` for
//!   STATIC), and a fresh 32-hex row `id` per mapping per version. Those echoed values are
//!   accepted on input too, so a set read back can be sent again.
//! - Dates are epoch ms, as every doc example shows ([S-PREP] types them as date-time
//!   strings).
//! - A body needs a schema (`outputSchema.schemaRef.id` or `xdmSchema`) and a `mappings`
//!   array whose rows each have a non-empty `destination` and a string `source` (400
//!   otherwise). `POST /mappingSets` does not check destinations against the schema; only
//!   `validate` does.
//! - Bounds, the emulator's: at most [`MAX_MAPPINGS`] mappings per version and
//!   [`MAX_VERSIONS`] versions per set (a PUT beyond is a 400, nothing is forgotten).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::dataset::{
    DEMO_ACCOUNT_SCHEMA_ID, DEMO_EVENT_SCHEMA_ID, DEMO_PROFILE_SCHEMA_ID, SCHEMA_CONTENT_TYPE,
};

/// The most mappings one version holds.
pub const MAX_MAPPINGS: usize = 2_000;
/// The most versions one set keeps.
pub const MAX_VERSIONS: usize = 100;
/// The most mapping sets the emulator holds, over every sandbox.
pub const MAX_SETS: usize = 100_000;

/// The fields of the demo schemas, as XDM paths: what a mapping's destination may be.
const DEMO_FIELDS: &[(&str, &[&str])] = &[
    (
        DEMO_PROFILE_SCHEMA_ID,
        &[
            "_id",
            "identityMap",
            "person.name.firstName",
            "person.name.lastName",
            "person.name.fullName",
            "personalEmail.address",
            "mobilePhone.number",
            "homeAddress.city",
            "homeAddress.country",
            "homeAddress.postalCode",
            "extSourceSystemAudit.createdDate",
            "extSourceSystemAudit.lastUpdatedDate",
            "_flowformdemo.crmId",
            "_flowformdemo.loyaltyTier",
        ],
    ),
    (
        DEMO_EVENT_SCHEMA_ID,
        &[
            "_id",
            "identityMap",
            "timestamp",
            "eventType",
            "web.webPageDetails.name",
            "web.webPageDetails.URL",
            "_flowformdemo.crmId",
        ],
    ),
    (
        DEMO_ACCOUNT_SCHEMA_ID,
        &[
            "_id",
            "accountName",
            "accountKey.sourceKey",
            "accountOrganization.annualRevenue.amount",
            "accountOrganization.numberOfEmployees",
            "extSourceSystemAudit.lastUpdatedDate",
            "_flowformdemo.crmId",
        ],
    ),
];

/// The fields of schema `id`, when it is one the emulator knows.
pub fn schema_fields(id: &str) -> Option<&'static [&'static str]> {
    DEMO_FIELDS.iter().find(|(s, _)| *s == id).map(|(_, f)| *f)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SourceType {
    Attribute,
    Expression,
    Static,
}

impl SourceType {
    fn read(text: &str) -> Option<SourceType> {
        Some(match text {
            "ATTRIBUTE" | "text/x.schema-path" => SourceType::Attribute,
            "EXPRESSION" | "text/x.aep-xl" => SourceType::Expression,
            "STATIC" | "text/plain" => SourceType::Static,
            _ => return None,
        })
    }

    /// As the API's enum writes it (validation errors).
    pub fn name(self) -> &'static str {
        match self {
            SourceType::Attribute => "ATTRIBUTE",
            SourceType::Expression => "EXPRESSION",
            SourceType::Static => "STATIC",
        }
    }

    /// As a read echoes it (D-MAP, D-DSDK).
    fn echo(self) -> &'static str {
        match self {
            SourceType::Attribute => "text/x.schema-path",
            SourceType::Expression => "text/x.aep-xl",
            SourceType::Static => "text/plain",
        }
    }
}

/// One mapping of one version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    /// The row id, new in every version.
    #[serde(default)]
    pub id: String,
    pub source_type: SourceType,
    pub source: String,
    pub destination: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub identity: bool,
}

/// What a request body describes: a schema and its mappings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub name: Option<String>,
    pub schema_id: String,
    pub content_type: String,
    pub mappings: Vec<Mapping>,
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match row.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

impl Content {
    /// Reads a `MappingSet` body in either shape; the error is the message of a 400.
    pub fn read(body: &Value) -> Result<Content, String> {
        let body = body.as_object().ok_or("The request body must be a JSON object")?;
        let reference = body.get("outputSchema").and_then(|o| o.get("schemaRef"));
        let (schema_id, content_type) = match (reference, text(body, "xdmSchema")?) {
            (Some(r), _) => {
                let id = r.get("id").and_then(Value::as_str).filter(|s| !s.is_empty());
                let id = id.ok_or("`outputSchema.schemaRef.id` must be a schema id")?;
                let content_type = r.get("contentType").and_then(Value::as_str);
                (id, content_type.unwrap_or(SCHEMA_CONTENT_TYPE))
            }
            (None, Some(id)) if !id.is_empty() => (id, SCHEMA_CONTENT_TYPE),
            _ => {
                return Err(
                    "A schema is required: `outputSchema.schemaRef.id` (or the legacy `xdmSchema`)".into(),
                );
            }
        };
        let rows = body
            .get("mappings")
            .and_then(Value::as_array)
            .ok_or("`mappings` is required: an array of mappings")?;
        if rows.len() > MAX_MAPPINGS {
            return Err(format!("At most {MAX_MAPPINGS} mappings per mapping set"));
        }
        let mut mappings = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let row = row
                .as_object()
                .ok_or(format!("`mappings[{i}]` must be an object"))?;
            let at = |e: String| format!("mappings[{i}]: {e}");
            let source = match text(row, "source").map_err(at)? {
                Some(s) => Some(s),
                None => text(row, "sourceAttribute").map_err(at)?,
            };
            let destination = match text(row, "destination").map_err(at)? {
                Some(d) => Some(d),
                None => text(row, "destinationXdmPath").map_err(at)?,
            };
            let destination = destination
                .filter(|d| !d.is_empty())
                .ok_or_else(|| at("`destination` (or `destinationXdmPath`) is required".into()))?;
            let source = source.ok_or_else(|| at("`source` (or `sourceAttribute`) is required".into()))?;
            let source_type = match text(row, "sourceType").map_err(at)? {
                None => SourceType::Attribute,
                Some(t) => SourceType::read(t).ok_or_else(|| {
                    at(format!(
                        "`sourceType` '{t}' is not one of ATTRIBUTE, EXPRESSION, STATIC"
                    ))
                })?,
            };
            mappings.push(Mapping {
                id: String::new(),
                source_type,
                source: source.to_owned(),
                destination: destination.to_owned(),
                name: text(row, "name").map_err(at)?.map(str::to_owned),
                description: text(row, "description").map_err(at)?.map(str::to_owned),
                identity: row.get("identity").and_then(Value::as_bool).unwrap_or(false),
            });
        }
        Ok(Content {
            name: text(body, "name")?.map(str::to_owned),
            schema_id: schema_id.to_owned(),
            content_type: content_type.to_owned(),
            mappings,
        })
    }

    /// `validate`'s answer for each mapping: FAILED for an empty source, or a destination
    /// the schema lacks when the schema is one the emulator knows.
    pub fn validation(&self) -> Vec<Value> {
        let fields = schema_fields(&self.schema_id);
        self.mappings
            .iter()
            .map(|m| {
                let problem = if m.source.trim().is_empty() {
                    Some("the source is empty".to_owned())
                } else if fields.is_some_and(|f| !f.contains(&m.destination.as_str())) {
                    Some(format!(
                        "the destination '{}' is not a field of the schema {}",
                        m.destination, self.schema_id
                    ))
                } else {
                    None
                };
                match problem {
                    None => json!({"status": "SUCCESS", "errors": []}),
                    Some(exception) => json!({"status": "FAILED", "errors": [{
                        "source": m.source, "destination": m.destination,
                        "sourceType": m.source_type.name(), "exception": exception}]}),
                }
            })
            .collect()
    }
}

/// One version of a set.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub modified: i64,
    pub modified_by: String,
    pub content: Content,
}

/// One mapping set, every version kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingSet {
    pub id: String,
    pub org: String,
    pub sandbox: String,
    pub created: i64,
    pub created_by: String,
    /// Version `n` at index `n`; never empty.
    pub versions: Vec<Version>,
}

impl MappingSet {
    pub fn latest(&self) -> u32 {
        self.versions.len().saturating_sub(1) as u32
    }

    /// The `{id, version, createdDate, modifiedDate, createdBy, modifiedBy}` of a write.
    pub fn summary(&self) -> Value {
        let version = self.versions.last();
        json!({
            "id": self.id,
            "version": self.latest(),
            "createdDate": self.created,
            "modifiedDate": version.map_or(self.created, |v| v.modified),
            "createdBy": self.created_by,
            "modifiedBy": version.map_or(self.created_by.as_str(), |v| v.modified_by.as_str()),
        })
    }

    /// Version `n` (the latest when `None`) as a read shows it.
    pub fn to_json(&self, n: Option<u32>) -> Option<Value> {
        let n = n.unwrap_or(self.latest());
        let version = self.versions.get(n as usize)?;
        let content = &version.content;
        let mappings: Vec<Value> = content
            .mappings
            .iter()
            .map(|m| {
                let mut row = json!({
                    "id": m.id,
                    "version": n,
                    "createdDate": version.modified,
                    "modifiedDate": version.modified,
                    "createdBy": version.modified_by,
                    "modifiedBy": version.modified_by,
                    "sourceType": m.source_type.echo(),
                    "source": m.source,
                    "destination": m.destination,
                    "sourceAttribute": m.source,
                    "destinationXdmPath": m.destination,
                    "identity": m.identity,
                    "primaryIdentity": false,
                    "functionVersion": 0,
                });
                if let Some(name) = &m.name {
                    row["name"] = json!(name);
                }
                if let Some(description) = &m.description {
                    row["description"] = json!(description);
                }
                row
            })
            .collect();
        let mut out = json!({
            "id": self.id,
            "version": n,
            "createdDate": self.created,
            "modifiedDate": version.modified,
            "createdBy": self.created_by,
            "modifiedBy": version.modified_by,
            "status": "PUBLISHED",
            "outputSchema": {"schemaRef": {"id": content.schema_id, "contentType": content.content_type}},
            "mappings": mappings,
        });
        if let Some(name) = &content.name {
            out["name"] = json!(name);
        }
        Some(out)
    }
}

type PartitionKey = (String, String);

/// Every mapping set, by id, and each sandbox's in creation order.
#[derive(Debug, Default)]
pub struct MappingSets {
    by_id: HashMap<String, MappingSet>,
    order: BTreeMap<PartitionKey, Vec<String>>,
}

impl MappingSets {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn taken(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn add(&mut self, set: MappingSet) {
        self.order
            .entry((set.org.clone(), set.sandbox.clone()))
            .or_default()
            .push(set.id.clone());
        self.by_id.insert(set.id.clone(), set);
    }

    /// The set `id` of the sandbox.
    pub fn get(&self, org: &str, sandbox: &str, id: &str) -> Option<&MappingSet> {
        self.by_id
            .get(id)
            .filter(|s| s.org == org && s.sandbox == sandbox)
    }

    pub fn get_mut(&mut self, org: &str, sandbox: &str, id: &str) -> Option<&mut MappingSet> {
        self.by_id
            .get_mut(id)
            .filter(|s| s.org == org && s.sandbox == sandbox)
    }

    /// The sandbox's sets, oldest first, from `start`, at most `limit`; and how many it has.
    pub fn page(&self, org: &str, sandbox: &str, start: usize, limit: usize) -> (Vec<&MappingSet>, usize) {
        let Some(ids) = self.order.get(&(org.to_owned(), sandbox.to_owned())) else {
            return (Vec::new(), 0);
        };
        let page = ids
            .iter()
            .skip(start)
            .take(limit)
            .filter_map(|id| self.by_id.get(id))
            .collect();
        (page, ids.len())
    }

    /// Every set, sandbox by sandbox in creation order, for `--data`.
    pub fn all(&self) -> Vec<&MappingSet> {
        self.order
            .values()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_read_to_the_same_content() {
        let current = json!({"outputSchema": {"schemaRef": {"id": DEMO_PROFILE_SCHEMA_ID, "contentType": SCHEMA_CONTENT_TYPE}},
                             "mappings": [{"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"}]});
        let legacy = json!({"version": 0, "xdmSchema": DEMO_PROFILE_SCHEMA_ID, "xdmVersion": "1.0", "id": null,
                            "mappings": [{"destinationXdmPath": "personalEmail.address", "sourceAttribute": "Email",
                                          "identity": false, "identityGroup": null, "namespaceCode": null, "version": 0}]});
        assert_eq!(Content::read(&current).unwrap(), Content::read(&legacy).unwrap());
        let echoed = json!({"xdmSchema": "s", "mappings": [{"sourceType": "text/x.aep-xl", "source": "lower(Email)", "destination": "d"}]});
        assert_eq!(
            Content::read(&echoed).unwrap().mappings[0].source_type,
            SourceType::Expression
        );
        for bad in [
            json!({"mappings": []}),
            json!({"xdmSchema": "s"}),
            json!({"xdmSchema": "s", "mappings": [{"source": "a"}]}),
            json!({"xdmSchema": "s", "mappings": [{"destination": "a"}]}),
            json!({"xdmSchema": "s", "mappings": [{"source": "a", "destination": "b", "sourceType": "COLUMN"}]}),
            json!({"xdmSchema": "s", "mappings": [7]}),
            json!([]),
        ] {
            assert!(Content::read(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_checks_known_schemas_only() {
        let content = Content::read(&json!({"xdmSchema": DEMO_PROFILE_SCHEMA_ID, "mappings": [
            {"source": "Email", "destination": "personalEmail.address"},
            {"source": "Email", "destination": "person.shoeSize"},
            {"source": " ", "destination": "_id"}]}))
        .unwrap();
        let answers = content.validation();
        let statuses: Vec<&str> = answers.iter().map(|v| v["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["SUCCESS", "FAILED", "FAILED"]);
        let unknown = Content::read(
            &json!({"xdmSchema": "https://ns.adobe.com/x/schemas/y", "mappings": [
            {"source": "a", "destination": "anything.at.all"}]}),
        )
        .unwrap();
        assert_eq!(unknown.validation()[0]["status"], "SUCCESS");
    }
}
