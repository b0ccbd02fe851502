//! Data Prep mapping sets: both request shapes, versions, the echoed vocabularies, listing,
//! validation, no DELETE, Data Prep's error shape and sandboxes.

use flowform_emulator::{DEMO_PROFILE_SCHEMA_ID, MAX_MAPPING_SET_VERSIONS};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, mapping_body};

fn is_hex32(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn mapping_sets_are_created_versioned_and_read_back_with_both_vocabularies() {
    let api = Api::start().await;
    let r = api
        .conversion(Method::POST, "/mappingSets", Some(&mapping_body("Email")))
        .await
        .expect(200);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(is_hex32(&r.body["id"]), "{}", r.body);
    assert_eq!(r.body["version"], 0);
    let created = r.body["createdDate"].as_i64().unwrap();
    assert!(created > 1_600_000_000_000);
    assert_eq!(r.body["modifiedDate"], created);
    assert!(r.body["createdBy"].is_string() && r.body["modifiedBy"].is_string());

    let v0 = api
        .conversion(Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(v0["version"], 0);
    assert_eq!(v0["outputSchema"]["schemaRef"]["id"], DEMO_PROFILE_SCHEMA_ID);
    let row = &v0["mappings"][0];
    assert_eq!(row["sourceType"], "text/x.schema-path");
    assert_eq!(
        (row["source"].clone(), row["sourceAttribute"].clone()),
        (json!("Email"), json!("Email"))
    );
    assert_eq!(row["destination"], "personalEmail.address");
    assert_eq!(row["destinationXdmPath"], "personalEmail.address");
    assert!(is_hex32(&row["id"]));
    let expression = &v0["mappings"][1];
    assert_eq!(expression["sourceType"], "text/x.aep-xl");
    assert_eq!(
        (expression["name"].clone(), expression["description"].clone()),
        (json!("full name"), json!("joined"))
    );

    // PUT replaces the whole set: version 1, same id and createdDate, fresh row ids.
    api.advance_clock(1_000).await;
    let r = api
        .conversion(
            Method::PUT,
            &format!("/mappingSets/{id}"),
            Some(&mapping_body("WorkEmail")),
        )
        .await
        .expect(200);
    assert_eq!(
        (r.body["id"].as_str(), r.body["version"].as_i64()),
        (Some(id.as_str()), Some(1))
    );
    assert_eq!(r.body["createdDate"], created);
    assert!(r.body["modifiedDate"].as_i64().unwrap() > created);
    assert_ne!(r.body["mappings"][0]["id"], row["id"]);
    let latest = api
        .conversion(Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(latest["mappings"][0]["source"], "WorkEmail");
    let old = api
        .conversion(Method::GET, &format!("/mappingSets/{id}?version=0"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(old, v0, "every version stays as it was");
    for (path, status) in [
        (format!("/mappingSets/{id}?version=2"), 404),
        (format!("/mappingSets/{id}?version=x"), 400),
        ("/mappingSets/0000".to_owned(), 404),
    ] {
        let r = api.conversion(Method::GET, &path, None).await.expect(status);
        assert_eq!(r.body["status"], status, "Data Prep's problem shape: {}", r.body);
        assert!(r.body["detail"].is_string() && r.body["title"].is_string());
    }
    api.conversion(Method::PUT, "/mappingSets/0000", Some(&mapping_body("x")))
        .await
        .expect(404);

    // The legacy shape of the sources tutorials reads as the current one.
    let legacy = json!({"version": 0, "xdmSchema": DEMO_PROFILE_SCHEMA_ID, "xdmVersion": "1.0", "id": null,
                        "mappings": [{"destinationXdmPath": "person.name.fullName", "sourceAttribute": "Name",
                                      "identity": false, "identityGroup": null, "namespaceCode": null, "version": 0}]});
    let r = api
        .conversion(Method::POST, "/mappingSets", Some(&legacy))
        .await
        .expect(200);
    let legacy_id = r.body["id"].as_str().unwrap().to_owned();
    let read = api
        .conversion(Method::GET, &format!("/mappingSets/{legacy_id}"), None)
        .await
        .expect(200)
        .body;
    assert_eq!(read["outputSchema"]["schemaRef"]["id"], DEMO_PROFILE_SCHEMA_ID);
    assert_eq!(read["mappings"][0]["source"], "Name");
    assert_eq!(read["mappings"][0]["sourceType"], "text/x.schema-path");

    // Bad bodies: Data Prep's problem shape, not the Flow Service envelope.
    for bad in [
        json!({"mappings": []}),
        json!({"xdmSchema": DEMO_PROFILE_SCHEMA_ID}),
        json!({"xdmSchema": DEMO_PROFILE_SCHEMA_ID, "mappings": [{"source": "a", "destination": "b", "sourceType": "COLUMN"}]}),
    ] {
        let r = api
            .conversion(Method::POST, "/mappingSets", Some(&bad))
            .await
            .expect(400);
        assert_eq!(r.body["title"], "BadRequestError", "{bad}");
    }
    // No DELETE.
    let r = api
        .conversion(Method::DELETE, &format!("/mappingSets/{id}"), None)
        .await
        .expect(405);
    assert_eq!(r.body["status"], 405);
    api.conversion(Method::GET, &format!("/mappingSets/{id}"), None)
        .await
        .expect(200);
}

#[tokio::test]
async fn mapping_sets_are_listed_validated_bounded_and_kept_per_sandbox() {
    let mut api = Api::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut body = mapping_body("Email");
        body["name"] = json!(format!("set {i}"));
        let r = api
            .conversion(Method::POST, "/mappingSets", Some(&body))
            .await
            .expect(200);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = api
        .conversion(Method::GET, "/mappingSets?limit=2&start=0", None)
        .await
        .expect(200);
    assert_eq!(r.body["_page"], json!({"count": 2, "limit": 2}));
    let page: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [ids[0].as_str(), ids[1].as_str()], "oldest first");
    assert_eq!(r.body["_links"]["next"]["href"], "/mappingSets?limit=2&start=2");
    let r = api
        .conversion(Method::GET, "/mappingSets?limit=2&start=2", None)
        .await
        .expect(200);
    assert_eq!(r.body["data"][0]["id"], ids[2].as_str());
    assert!(r.body.get("_links").is_none());
    let r = api
        .conversion(Method::GET, "/mappingSets?limit=5&start=0&name=set%201", None)
        .await
        .expect(200);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    api.conversion(Method::GET, "/mappingSets?limit=0", None)
        .await
        .expect(400);

    let check = json!({"outputSchema": {"schemaRef": {"id": DEMO_PROFILE_SCHEMA_ID}},
                       "mappings": [{"sourceType": "ATTRIBUTE", "source": "Email", "destination": "personalEmail.address"},
                                    {"sourceType": "ATTRIBUTE", "source": "Shoe", "destination": "person.shoeSize"},
                                    {"sourceType": "STATIC", "source": "", "destination": "_id"}]});
    let r = api
        .conversion(Method::POST, "/mappingSets/validate", Some(&check))
        .await
        .expect(200);
    let statuses: Vec<&str> = r.body["validationResponse"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["SUCCESS", "FAILED", "FAILED"]);
    assert_eq!(
        r.body["validationResponse"][1]["errors"][0]["destination"],
        "person.shoeSize"
    );

    // At most so many versions per set.
    for _ in 1..MAX_MAPPING_SET_VERSIONS {
        api.conversion(
            Method::PUT,
            &format!("/mappingSets/{}", ids[0]),
            Some(&mapping_body("E")),
        )
        .await
        .expect(200);
    }
    api.conversion(
        Method::PUT,
        &format!("/mappingSets/{}", ids[0]),
        Some(&mapping_body("E")),
    )
    .await
    .expect(400);

    // Another sandbox sees none of them.
    api.sandbox = "dev".into();
    api.conversion(Method::GET, &format!("/mappingSets/{}", ids[1]), None)
        .await
        .expect(404);
    let r = api
        .conversion(Method::GET, "/mappingSets", None)
        .await
        .expect(200);
    assert_eq!(r.body["data"], json!([]));
    let stored = api.admin(Method::GET, "/mappingSets", None).await.expect(200);
    assert_eq!(stored.body.as_array().unwrap().len(), 3);
}
