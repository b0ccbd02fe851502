//! `GET /connections/{id}/explore`: the tables of a Salesforce connection, their columns and
//! preview rows, and the refusals.

use serde_json::{Value, json};

use super::api::{Api, basic, jwt};

#[tokio::test]
async fn the_root_lists_the_salesforce_tables() {
    let api = Api::start().await;
    let (id, _) = api.create(&basic("crm")).await;
    let root = api
        .get(&format!("/connections/{id}/explore?objectType=root"))
        .await
        .expect(200)
        .body;
    let tables = root.as_array().expect("a bare array");
    let paths: Vec<&str> = tables.iter().map(|t| t["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "Account",
            "Contact",
            "Lead",
            "Opportunity",
            "Campaign",
            "CampaignMember",
            "Case",
            "User",
            "Loyalty_Member__c"
        ]
    );
    let loyalty = &tables[8];
    assert_eq!(
        *loyalty,
        json!({"type": "table", "name": "Loyalty Member", "path": "Loyalty_Member__c", "canPreview": true, "canFetchSchema": true})
    );
    assert_eq!(tables.iter().filter(|t| t["canPreview"] == false).count(), 1);
    // Any case, and the root by default.
    for query in ["objectType=ROOT", "objectType=Root", ""] {
        let again = api
            .get(&format!("/connections/{id}/explore?{query}"))
            .await
            .expect(200)
            .body;
        assert_eq!(again, root, "{query}");
    }
}

#[tokio::test]
async fn a_table_shows_typed_columns_and_a_deterministic_preview() {
    let api = Api::start().await;
    let (id, _) = api.create(&basic("crm")).await;
    let path = format!("/connections/{id}/explore?objectType=table&object=Contact");
    let table = api.get(&path).await.expect(200).body;
    assert_eq!(table["format"], "flat");
    assert!(table.get("data").is_none());
    let columns = table["schema"]["columns"].as_array().unwrap();
    let column = |name: &str| {
        columns
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for name in ["Id", "FirstName", "LastName", "Email", "AccountId"] {
        assert_eq!(
            column(name),
            json!({"name": name, "type": "string", "xdm": {"type": "string"}})
        );
    }
    assert_eq!(column("IsDeleted")["xdm"], json!({"type": "boolean"}));
    assert_eq!(
        column("AnnualRevenue"),
        json!({"name": "AnnualRevenue", "type": "double", "xdm": {"type": "number"}})
    );
    assert_eq!(
        column("CreatedDate"),
        json!({"name": "CreatedDate", "type": "string", "meta:xdmType": "date-time",
               "xdm": {"type": "string", "format": "date-time"}})
    );
    let preview = api.get(&format!("{path}&preview=true")).await.expect(200).body;
    let rows = preview["data"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows[0]["Email"].as_str().unwrap().contains('@'));
    assert_eq!(rows[0]["IsDeleted"], false);
    assert!(rows[0]["AnnualRevenue"].is_f64());
    let (other, _) = api.create(&basic("another")).await;
    let again = api
        .get(&format!(
            "/connections/{other}/explore?objectType=TABLE&object=Contact&preview=TRUE"
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(again, preview, "the same rows every time");
}

#[tokio::test]
async fn explore_refuses_what_it_cannot_show() {
    let mut api = Api::start().await;
    let (id, _) = api.create(&basic("crm")).await;
    let explore = |query: &str| format!("/connections/{id}/explore?{query}");
    for (query, status, code) in [
        ("objectType=table&object=Nope", 404, "FLOW-1101-404"),
        ("objectType=table&object=contact", 404, "FLOW-1101-404"),
        ("objectType=table", 400, "FLOW-1100-400"),
        (
            "objectType=table&object=CampaignMember&preview=true",
            400,
            "FLOW-1100-400",
        ),
        (
            "objectType=table&object=Contact&preview=maybe",
            400,
            "FLOW-1100-400",
        ),
        ("objectType=folder", 400, "FLOW-1100-400"),
        ("objectType=everything", 400, "FLOW-1100-400"),
        (
            "objectType=table&object=Contact&preview=true&filters=e30%3D",
            400,
            "FLOW-1100-400",
        ),
    ] {
        let r = api.get(&explore(query)).await.expect(status);
        assert_eq!(r.flow_code(), code, "{query}");
    }
    api.get("/connections/nope/explore?objectType=root")
        .await
        .expect(404);
    // Not enabled yet.
    let (initializing, _) = api.create(&jwt("later")).await;
    let r = api
        .get(&format!("/connections/{initializing}/explore?objectType=root"))
        .await
        .expect(400);
    assert!(r.body["errorMessage"].as_str().unwrap().contains("initializing"));
    // Another spec: no tables.
    let dynamics = json!({"name": "d", "connectionSpec": {"id": "38ad80fe-8b06-4938-94f4-d4ee80266b07", "version": "1.0"},
        "auth": {"specName": "Basic Authentication for Dynamics-Online",
                 "params": {"serviceUri": "https://acme.crm.dynamics.com", "username": "u", "password": "p"}}});
    let (dynamics, _) = api.create(&dynamics).await;
    let r = api
        .get(&format!("/connections/{dynamics}/explore?objectType=root"))
        .await
        .expect(200);
    assert_eq!(r.body, json!([]));
    api.get(&format!(
        "/connections/{dynamics}/explore?objectType=table&object=Contact"
    ))
    .await
    .expect(404);
    // Another sandbox.
    api.sandbox = "dev".into();
    api.get(&explore("objectType=root")).await.expect(404);
}
