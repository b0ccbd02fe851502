//! The Salesforce-like objects every Salesforce base connection explores to: standard
//! objects and one custom object, their typed columns, and a few deterministic rows each.
//!
//! As flow-service-explore-runs §7 proposes: every table has `Id`, `Name` (or `LastName`),
//! `Email`, `IsDeleted` (boolean), `AnnualRevenue` (double, XDM number) and the three audit
//! date-times (`CreatedDate`, `LastModifiedDate`, `SystemModstamp`), then columns of its
//! own. A table's `path` is the sObject API name (what `params.tableName` names), its
//! `name` the label.

use serde_json::{Value, json};

/// A column's type, as explore's variant-A columns write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    String,
    Boolean,
    /// Salesforce `double`, XDM `number`.
    Double,
    /// A string with `meta:xdmType: date-time`.
    DateTime,
}

use ColumnType::{Boolean, DateTime, Double, String as Text};

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: ColumnType,
}

const fn col(name: &'static str, kind: ColumnType) -> Column {
    Column { name, kind }
}

/// One object of the catalog.
#[derive(Debug)]
pub struct Table {
    /// The API name: explore's `path`, a source connection's `params.tableName`.
    pub path: &'static str,
    /// The label: explore's `name`.
    pub label: &'static str,
    pub can_preview: bool,
    /// The first three characters of its record ids, as Salesforce's key prefixes.
    pub id_prefix: &'static str,
    /// Its own columns, after the common ones.
    pub own: &'static [Column],
    /// Whether the person's name is `LastName` (people) rather than `Name`.
    pub last_name: bool,
}

/// How many rows a preview shows.
pub const PREVIEW_ROWS: usize = 5;

/// The catalog, in the order the root listing shows it.
pub const TABLES: &[Table] = &[
    Table {
        path: "Account",
        label: "Account",
        can_preview: true,
        id_prefix: "001",
        own: &[
            col("Industry", Text),
            col("Phone", Text),
            col("BillingCity", Text),
            col("BillingCountry", Text),
            col("NumberOfEmployees", Double),
        ],
        last_name: false,
    },
    Table {
        path: "Contact",
        label: "Contact",
        can_preview: true,
        id_prefix: "003",
        own: &[
            col("FirstName", Text),
            col("AccountId", Text),
            col("Title", Text),
            col("Phone", Text),
            col("MailingCountry", Text),
            col("HasOptedOutOfEmail", Boolean),
            col("Birthdate", DateTime),
        ],
        last_name: true,
    },
    Table {
        path: "Lead",
        label: "Lead",
        can_preview: true,
        id_prefix: "00Q",
        own: &[
            col("FirstName", Text),
            col("Company", Text),
            col("Status", Text),
            col("LeadSource", Text),
            col("IsConverted", Boolean),
        ],
        last_name: true,
    },
    Table {
        path: "Opportunity",
        label: "Opportunity",
        can_preview: true,
        id_prefix: "006",
        own: &[
            col("AccountId", Text),
            col("StageName", Text),
            col("Amount", Double),
            col("CloseDate", DateTime),
            col("IsWon", Boolean),
        ],
        last_name: false,
    },
    Table {
        path: "Campaign",
        label: "Campaign",
        can_preview: true,
        id_prefix: "701",
        own: &[
            col("Type", Text),
            col("Status", Text),
            col("IsActive", Boolean),
            col("BudgetedCost", Double),
            col("StartDate", DateTime),
        ],
        last_name: false,
    },
    Table {
        path: "CampaignMember",
        label: "Campaign Member",
        can_preview: false,
        id_prefix: "00v",
        own: &[
            col("CampaignId", Text),
            col("ContactId", Text),
            col("LeadId", Text),
            col("Status", Text),
            col("HasResponded", Boolean),
        ],
        last_name: false,
    },
    Table {
        path: "Case",
        label: "Case",
        can_preview: true,
        id_prefix: "500",
        own: &[
            col("CaseNumber", Text),
            col("Subject", Text),
            col("Status", Text),
            col("Priority", Text),
            col("ContactId", Text),
            col("IsClosed", Boolean),
        ],
        last_name: false,
    },
    Table {
        path: "User",
        label: "User",
        can_preview: true,
        id_prefix: "005",
        own: &[
            col("FirstName", Text),
            col("Username", Text),
            col("Alias", Text),
            col("IsActive", Boolean),
            col("LastLoginDate", DateTime),
        ],
        last_name: true,
    },
    Table {
        path: "Loyalty_Member__c",
        label: "Loyalty Member",
        can_preview: true,
        id_prefix: "a0L",
        own: &[
            col("Contact__c", Text),
            col("Tier__c", Text),
            col("Points__c", Double),
            col("Is_Active__c", Boolean),
            col("Enrolled_Date__c", DateTime),
        ],
        last_name: false,
    },
];

/// The table whose API name is `path` (exactly: sObject names are case-sensitive in paths).
pub fn find(path: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.path == path)
}

impl Table {
    /// Every column: the common ones, then its own.
    pub fn columns(&self) -> Vec<Column> {
        let mut columns = vec![
            col("Id", Text),
            col(if self.last_name { "LastName" } else { "Name" }, Text),
            col("Email", Text),
            col("IsDeleted", Boolean),
            col("AnnualRevenue", Double),
        ];
        columns.extend_from_slice(self.own);
        columns.extend([
            col("CreatedDate", DateTime),
            col("LastModifiedDate", DateTime),
            col("SystemModstamp", DateTime),
        ]);
        columns
    }

    /// Explore's root-listing entry.
    pub fn entry(&self) -> Value {
        json!({"type": "table", "name": self.label, "path": self.path,
               "canPreview": self.can_preview, "canFetchSchema": true})
    }

    /// Row `n` of the preview: the same in every run, typed as the columns say.
    pub fn row(&self, n: usize) -> Value {
        let mut row = serde_json::Map::new();
        for c in self.columns() {
            let value = match (c.kind, c.name) {
                (Text, "Id") => json!(format!("{}5g{:013}", self.id_prefix, n + 1)),
                (Text, "Email") => json!(format!(
                    "{}.{}@example.com",
                    self.path.to_ascii_lowercase(),
                    n + 1
                )),
                (Text, "Name" | "LastName") => json!(format!("{} {}", self.label, n + 1)),
                (Text, name) if name.ends_with("Id") || name == "Contact__c" => {
                    json!(format!("{}5g{:013}", referenced_prefix(name), n + 1))
                }
                (Text, name) => json!(format!("{name} {}", n + 1)),
                (Boolean, "IsDeleted") => json!(false),
                (Boolean, _) => json!(n.is_multiple_of(2)),
                (Double, _) => json!(1000.0 * (n as f64 + 1.0) + 0.5),
                (DateTime, _) => json!(format!("2024-01-{:02}T09:30:00.000+0000", n + 1)),
            };
            row.insert(c.name.to_owned(), value);
        }
        Value::Object(row)
    }
}

/// The key prefix of the object a reference column points to.
fn referenced_prefix(column: &str) -> &'static str {
    match column {
        "AccountId" => "001",
        "LeadId" => "00Q",
        "CampaignId" => "701",
        _ => "003",
    }
}

impl Column {
    /// The column as explore shows it (variant A of flow-service-explore-runs §1).
    pub fn to_json(&self) -> Value {
        match self.kind {
            Text => json!({"name": self.name, "type": "string", "xdm": {"type": "string"}}),
            Boolean => json!({"name": self.name, "type": "boolean", "xdm": {"type": "boolean"}}),
            Double => json!({"name": self.name, "type": "double", "xdm": {"type": "number"}}),
            DateTime => json!({"name": self.name, "type": "string", "meta:xdmType": "date-time",
                               "xdm": {"type": "string", "format": "date-time"}}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_the_common_columns_once_and_rows_typed_by_them() {
        assert_eq!(TABLES.len(), 9);
        assert_eq!(TABLES.iter().filter(|t| !t.can_preview).count(), 1);
        for table in TABLES {
            let names: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{}: {names:?}", table.path);
            for common in [
                "Id",
                "Email",
                "IsDeleted",
                "AnnualRevenue",
                "CreatedDate",
                "SystemModstamp",
            ] {
                assert!(names.contains(&common), "{} lacks {common}", table.path);
            }
            let row = table.row(2);
            assert_eq!(row["Id"].as_str().unwrap().len(), 18);
            for c in table.columns() {
                let v = &row[c.name];
                let ok = match c.kind {
                    Text | DateTime => v.is_string(),
                    Boolean => v.is_boolean(),
                    Double => v.is_f64(),
                };
                assert!(ok, "{}.{} = {v}", table.path, c.name);
            }
        }
        assert_eq!(find("Loyalty_Member__c").unwrap().label, "Loyalty Member");
        assert!(find("contact").is_none());
    }
}
