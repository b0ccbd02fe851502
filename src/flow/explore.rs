//! What a base connection's source holds (`GET /connections/{id}/explore`) and what a
//! Catalog dataset is (`GET /dataSets/{id}`), read bounded like every other answer.
//!
//! Explore answers a bare array of tables for `objectType=root` and an object with
//! `schema.columns` for `objectType=table&object=PATH` (flow-service-explore-runs §1: the
//! OpenAPI describes only the first). The Catalog lives beside the Flow Service, under
//! `/data/foundation/catalog` on the same host: its path is taken relative to the Flow
//! Service endpoint, so it can go nowhere else (and answers an object keyed by the
//! dataset's id, not `items`).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::model::clean;
use super::transport::{Call, Repeat};
use super::{Client, FlowError};

/// The most tables or columns flowform reads from one answer: a Salesforce org has a few
/// thousand objects, a table a few hundred columns.
pub const MAX_ITEMS: usize = 20_000;

/// One table of a source, as the root listing gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The human label.
    pub name: String,
    /// The machine identifier, what a source connection's `params.tableName` takes.
    pub path: String,
}

/// One column of a table: its name, and AEP's whole column object (what a source
/// connection's `params.columns` takes).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub object: Value,
}

/// A Catalog dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    /// `schemaRef.id`: the XDM schema its data follows.
    pub schema: Option<String>,
}

/// The tables of an explore root listing.
pub fn tables(body: &[u8]) -> Result<Vec<Table>, String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Value::Array(items) = json else {
        return Err("the answer is not a list of tables".to_owned());
    };
    if items.len() > MAX_ITEMS {
        return Err(format!(
            "the answer lists {} tables, more than flowform reads",
            items.len()
        ));
    }
    Ok(items
        .iter()
        .filter(|t| t["type"].as_str().is_none_or(|k| k.eq_ignore_ascii_case("table")))
        .filter_map(|t| {
            let path = t["path"].as_str()?;
            Some(Table {
                name: clean(t["name"].as_str().unwrap_or(path), 200),
                path: path.to_owned(),
            })
        })
        .collect())
}

/// The columns of an explore table answer.
pub fn columns(body: &[u8]) -> Result<Vec<Column>, String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    // `{schema: {columns}}`, or a bare array (the cloud-storage variant).
    let items = match &json {
        Value::Array(items) => items,
        other => match other["schema"]["columns"].as_array() {
            Some(items) => items,
            None => return Err("the answer has no `schema.columns`".to_owned()),
        },
    };
    if items.len() > MAX_ITEMS {
        return Err(format!(
            "the answer lists {} columns, more than flowform reads",
            items.len()
        ));
    }
    Ok(items
        .iter()
        .filter_map(|c| {
            Some(Column {
                name: c["name"].as_str()?.to_owned(),
                object: c.clone(),
            })
        })
        .collect())
}

/// A Catalog read of one dataset: `{ID: {name, schemaRef, …}}`.
pub fn dataset(body: &[u8], id: &str) -> Result<Option<Dataset>, String> {
    let json: Value = serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Value::Object(by_id) = json else {
        return Err("the answer is not an object keyed by dataset id".to_owned());
    };
    Ok(by_id.get(id).map(|d| Dataset {
        id: id.to_owned(),
        name: clean(d["name"].as_str().unwrap_or_default(), 200),
        schema: d["schemaRef"]["id"].as_str().map(str::to_owned),
    }))
}

/// Whether a table path or a column name can go in a query as it is.
fn plain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && !text.chars().any(char::is_control)
}

impl Client {
    /// The tables a base connection's source holds; `None` when AEP has no such connection.
    pub async fn explore_tables(
        &self,
        sandbox: &str,
        connection: &str,
    ) -> Result<Option<Vec<Table>>, FlowError> {
        if !super::parse::usable_id(connection) {
            return Ok(None);
        }
        let path = format!("/connections/{connection}/explore?objectType=root");
        let call = Call::on(Method::GET, path, sandbox, Repeat::Safe);
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        tables(&answer.body)
            .map(Some)
            .map_err(|e| Self::protocol(&call, e))
    }

    /// The columns of one table; `None` when AEP has no such table (or connection).
    pub async fn explore_columns(
        &self,
        sandbox: &str,
        connection: &str,
        table: &str,
    ) -> Result<Option<Vec<Column>>, FlowError> {
        if !super::parse::usable_id(connection) || !plain(table) {
            return Ok(None);
        }
        let object: String = form_urlencoded::byte_serialize(table.as_bytes()).collect();
        let path = format!("/connections/{connection}/explore?objectType=table&object={object}");
        let call = Call::on(Method::GET, path, sandbox, Repeat::Safe);
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        columns(&answer.body)
            .map(Some)
            .map_err(|e| Self::protocol(&call, e))
    }

    /// A Catalog dataset, read once per run; `None` when the sandbox has no such dataset.
    pub async fn dataset(&self, sandbox: &str, id: &str) -> Result<Option<Dataset>, FlowError> {
        if !super::parse::usable_id(id) {
            return Ok(None);
        }
        let key = (sandbox.to_owned(), id.to_owned());
        if let Some(known) = crate::sync::lock(&self.datasets).get(&key) {
            return Ok(known.clone());
        }
        let read = self.read_dataset(sandbox, id).await?;
        crate::sync::lock(&self.datasets).insert(key, read.clone());
        Ok(read)
    }

    async fn read_dataset(&self, sandbox: &str, id: &str) -> Result<Option<Dataset>, FlowError> {
        // Beside the Flow Service on its host: `…/foundation/flowservice/../catalog/…`,
        // which the URL resolves to `…/foundation/catalog/…`.
        let path = format!("/../catalog/dataSets/{id}");
        let mut call = Call::on(Method::GET, path, sandbox, Repeat::Safe);
        call.label = format!("/data/foundation/catalog/dataSets/{id}");
        let answer = match self.send(&call).await {
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => return Ok(None),
            other => other?,
        };
        dataset(&answer.body, id).map_err(|e| Self::protocol(&call, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_column_encodings_read() {
        let a = br#"{"format":"flat","schema":{"columns":[{"name":"Id","type":"string","xdm":{"type":"string"}}]}}"#;
        let b = br#"[{"name":"email","type":"String","meta":{"originalType":"String"}}]"#;
        assert_eq!(columns(a).unwrap()[0].name, "Id");
        assert_eq!(columns(b).unwrap()[0].name, "email");
        assert!(columns(b"{}").is_err());
    }

    #[test]
    fn tables_and_datasets_read() {
        let t = tables(br#"[{"type":"table","name":"Loyalty Member","path":"Loyalty_Member__c"},{"type":"folder","name":"x","path":"x"}]"#)
            .unwrap();
        assert_eq!(
            t,
            [Table {
                name: "Loyalty Member".into(),
                path: "Loyalty_Member__c".into()
            }]
        );
        let d = dataset(br#"{"abc":{"name":"n","schemaRef":{"id":"s"}}}"#, "abc")
            .unwrap()
            .unwrap();
        assert_eq!(d.schema.as_deref(), Some("s"));
        assert_eq!(dataset(br#"{}"#, "abc").unwrap(), None);
        assert!(dataset(b"[]", "abc").is_err());
    }
}
