//! Catalog datasets: the demo datasets every sandbox has from the start, the ones added since
//! (through `POST /dataSets` or the admin endpoint), and how a read shows one.
//!
//! The demo datasets are not stored: they are constants, present in every organization's
//! every sandbox with the same ids, in every run, so that examples and tests can name them
//! ([`DEMO_DATASETS`]). Real AEP ids are unique across sandboxes; the emulator trades that
//! for ids one can write down.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The tenant of the demo schemas (`https://ns.adobe.com/<tenant>/schemas/<hex>`).
pub const DEMO_TENANT: &str = "flowformdemo";
/// The content type of the demo schema references, as the create-dataset tutorial sends it.
pub const SCHEMA_CONTENT_TYPE: &str = "application/vnd.adobe.xed+json;version=1";

/// An XDM individual-profile schema.
pub const DEMO_PROFILE_SCHEMA_ID: &str =
    "https://ns.adobe.com/flowformdemo/schemas/6d1f0b5e2c7a4e3b9f8d1c0a5b4e3d21";
/// An XDM experience-event schema.
pub const DEMO_EVENT_SCHEMA_ID: &str =
    "https://ns.adobe.com/flowformdemo/schemas/0b7e3c9a5d1f4b6e8a2c7d9f1e3b5a46";
/// An XDM business-account schema.
pub const DEMO_ACCOUNT_SCHEMA_ID: &str =
    "https://ns.adobe.com/flowformdemo/schemas/a4c2e8f6b1d3497e85f0c6a2d8e4b1f7";

/// The profile-enabled demo dataset (`tags.unifiedProfile: ["enabled:true"]`).
pub const DEMO_PROFILE_DATASET_ID: &str = "65d4c1f0a1b2c3d4e5f60101";
/// The experience-event demo dataset.
pub const DEMO_EVENT_DATASET_ID: &str = "65d4c1f0a1b2c3d4e5f60102";
/// The account demo dataset.
pub const DEMO_ACCOUNT_DATASET_ID: &str = "65d4c1f0a1b2c3d4e5f60103";

/// A dataset every sandbox has from the start.
#[derive(Clone, Copy, Debug)]
pub struct DemoDataset {
    pub id: &'static str,
    pub name: &'static str,
    pub schema_id: &'static str,
    /// Enabled for Real-Time Customer Profile.
    pub profile: bool,
}

/// The demo datasets, in the order they were "created".
pub const DEMO_DATASETS: &[DemoDataset] = &[
    DemoDataset {
        id: DEMO_PROFILE_DATASET_ID,
        name: "Demo CRM profiles",
        schema_id: DEMO_PROFILE_SCHEMA_ID,
        profile: true,
    },
    DemoDataset {
        id: DEMO_EVENT_DATASET_ID,
        name: "Demo web events",
        schema_id: DEMO_EVENT_SCHEMA_ID,
        profile: false,
    },
    DemoDataset {
        id: DEMO_ACCOUNT_DATASET_ID,
        name: "Demo CRM accounts",
        schema_id: DEMO_ACCOUNT_SCHEMA_ID,
        profile: false,
    },
];

/// When the demo datasets were "created": 2024-01-01T00:00:00Z, plus their index in ms.
const DEMO_CREATED_MS: i64 = 1_704_067_200_000;

/// One dataset.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub id: String,
    pub org: String,
    pub sandbox: String,
    pub name: String,
    pub description: Option<String>,
    pub schema_id: String,
    pub schema_content_type: String,
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
    pub created: i64,
    pub updated: i64,
    pub created_client: String,
    pub created_user: String,
}

impl Dataset {
    /// A demo dataset as it stands in `org`'s `sandbox`.
    pub fn demo(index: usize, demo: &DemoDataset, org: &str, sandbox: &str) -> Dataset {
        let table = demo.name.to_ascii_lowercase().replace(' ', "_");
        let mut tags = BTreeMap::from([("adobe/pqs/table".to_owned(), vec![table])]);
        if demo.profile {
            tags.insert("unifiedProfile".into(), vec!["enabled:true".into()]);
            tags.insert("unifiedIdentity".into(), vec!["enabled:true".into()]);
        }
        Dataset {
            id: demo.id.to_owned(),
            org: org.to_owned(),
            sandbox: sandbox.to_owned(),
            name: demo.name.to_owned(),
            description: Some("A demo dataset the emulator has in every sandbox".to_owned()),
            schema_id: demo.schema_id.to_owned(),
            schema_content_type: SCHEMA_CONTENT_TYPE.to_owned(),
            tags,
            created: DEMO_CREATED_MS + index as i64,
            updated: DEMO_CREATED_MS + index as i64,
            created_client: "acp_foundation_catalog".to_owned(),
            created_user: "acp_foundation_catalog@AdobeID".to_owned(),
        }
    }

    /// The dataset as `GET /dataSets/{id}` shows it (the value under its id). Catalog
    /// versions are semver strings; the emulator never changes a dataset, so it stays at
    /// `1.0.0`, and `state` stays `DRAFT` as the tutorials' fresh datasets show.
    pub fn to_json(&self) -> Value {
        let mut item = json!({
            "name": self.name,
            "imsOrg": self.org,
            "tags": self.tags,
            "schemaRef": {"id": self.schema_id, "contentType": self.schema_content_type},
            "created": self.created,
            "updated": self.updated,
            "createdClient": self.created_client,
            "createdUser": self.created_user,
            "updatedUser": self.created_user,
            "version": "1.0.0",
            "state": "DRAFT",
        });
        if let Some(description) = &self.description {
            item["description"] = Value::String(description.clone());
        }
        item
    }
}

type PartitionKey = (String, String);

/// The datasets added to each sandbox, besides the demo ones.
#[derive(Debug, Default)]
pub struct Datasets {
    added: HashMap<PartitionKey, Vec<Dataset>>,
    located: HashMap<String, PartitionKey>,
}

impl Datasets {
    /// Whether `id` is taken by a demo dataset or an added one.
    pub fn taken(&self, id: &str) -> bool {
        DEMO_DATASETS.iter().any(|d| d.id == id) || self.located.contains_key(id)
    }

    pub fn add(&mut self, dataset: Dataset) {
        let at = (dataset.org.clone(), dataset.sandbox.clone());
        self.located.insert(dataset.id.clone(), at.clone());
        self.added.entry(at).or_default().push(dataset);
    }

    /// The sandbox's datasets: the demo ones first, then those added, oldest first.
    pub fn list(&self, org: &str, sandbox: &str) -> Vec<Dataset> {
        let demos = DEMO_DATASETS
            .iter()
            .enumerate()
            .map(|(i, d)| Dataset::demo(i, d, org, sandbox));
        let added = self
            .added
            .get(&(org.to_owned(), sandbox.to_owned()))
            .into_iter()
            .flatten()
            .cloned();
        demos.chain(added).collect()
    }

    pub fn get(&self, org: &str, sandbox: &str, id: &str) -> Option<Dataset> {
        if let Some((i, demo)) = DEMO_DATASETS.iter().enumerate().find(|(_, d)| d.id == id) {
            return Some(Dataset::demo(i, demo, org, sandbox));
        }
        let at = self.located.get(id)?;
        if at.0 != org || at.1 != sandbox {
            return None;
        }
        self.added.get(at)?.iter().find(|d| d.id == id).cloned()
    }

    /// Removes an added dataset (the demo ones stay).
    pub fn remove(&mut self, id: &str) -> Option<Dataset> {
        let at = self.located.remove(id)?;
        let list = self.added.get_mut(&at)?;
        let index = list.iter().position(|d| d.id == id)?;
        Some(list.remove(index))
    }

    /// Every added dataset, for `--data` and the admin dump, in the order they were added.
    pub fn added(&self) -> Vec<&Dataset> {
        let mut all: Vec<&Dataset> = self.added.values().flatten().collect();
        all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        all
    }

    pub fn len(&self) -> usize {
        self.located.len()
    }

    pub fn is_empty(&self) -> bool {
        self.located.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_ids_are_24_hex_and_schemas_are_tenant_urls() {
        for demo in DEMO_DATASETS {
            assert_eq!(demo.id.len(), 24, "{}", demo.id);
            assert!(
                demo.id
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            let hex = demo
                .schema_id
                .strip_prefix(&format!("https://ns.adobe.com/{DEMO_TENANT}/schemas/"))
                .unwrap();
            assert_eq!(hex.len(), 32);
            assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        let profile = Dataset::demo(0, &DEMO_DATASETS[0], "o", "prod").to_json();
        assert_eq!(profile["tags"]["unifiedProfile"], json!(["enabled:true"]));
        assert_eq!(profile["schemaRef"]["id"], DEMO_PROFILE_SCHEMA_ID);
    }

    #[test]
    fn added_datasets_belong_to_their_sandbox() {
        let mut all = Datasets::default();
        let mut d = Dataset::demo(0, &DEMO_DATASETS[1], "o", "dev");
        d.id = "0123456789abcdef01234567".into();
        all.add(d);
        assert!(all.get("o", "dev", "0123456789abcdef01234567").is_some());
        assert!(all.get("o", "prod", "0123456789abcdef01234567").is_none());
        assert!(all.get("o", "prod", DEMO_EVENT_DATASET_ID).is_some());
        assert_eq!(all.list("o", "dev").len(), DEMO_DATASETS.len() + 1);
        assert!(all.remove("0123456789abcdef01234567").is_some());
        assert!(all.is_empty());
    }
}
