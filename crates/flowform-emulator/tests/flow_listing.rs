//! `GET /sourceConnections` and `/targetConnections`: the same listing as `/connections`
//! (pages, tokens, count, order), with filters on any path of their items.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, SF, basic, source, target};

/// Seeds `bases` base connections, then `sources` source connections over them.
async fn seed(api: &Api, bases: u64, sources: u64) {
    let seed = |body: Value| async move { api.admin(Method::POST, "/seed", Some(&body)).await };
    seed(json!({"count": bases})).await.expect(200);
    seed(json!({"count": sources, "kind": "sourceConnections", "namePrefix": "Src"}))
        .await
        .expect(200);
}

/// Follows `_links.next.href` from `first`; every item, page by page.
async fn walk(api: &Api, first: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let r = api.get(&path).await.expect(200);
        pages.push(r.body["items"].as_array().unwrap().clone());
        match r.body["_links"]["next"]["href"].as_str() {
            Some(href) => path = href.to_owned(),
            None => break,
        }
        assert!(pages.len() < 100, "runaway pagination");
    }
    pages
}

fn field(items: &[Value], name: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[name].as_str().unwrap().to_owned())
        .collect()
}

async fn base_ids(api: &Api) -> Vec<String> {
    let r = api.get("/connections?orderby=name").await.expect(200);
    field(r.body["items"].as_array().unwrap(), "id")
}

#[tokio::test]
async fn pages_of_source_connections_cover_everything_once() {
    let api = Api::start().await;
    seed(&api, 3, 250).await;
    let pages = walk(&api, "/sourceConnections?limit=100").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let all: Vec<Value> = pages.concat();
    assert_eq!(field(&all, "id").into_iter().collect::<BTreeSet<_>>().len(), 250);
    assert_eq!(all[0]["name"], "Src 000249", "most recent first");
    let first = api.get("/sourceConnections?limit=2").await.body;
    let href = first["_links"]["next"]["href"].as_str().unwrap();
    assert!(href.starts_with("/sourceConnections?"), "{href}");
    // A token is for the listing that issued it.
    let token = href.split("continuationToken=").nth(1).unwrap();
    let r = api
        .get(&format!("/targetConnections?continuationToken={token}"))
        .await
        .expect(400);
    assert_eq!(r.flow_code(), "FLOW-1451-400");
    let names = walk(&api, "/sourceConnections?orderby=-name&limit=40")
        .await
        .concat();
    assert_eq!(names.len(), 250);
    assert_eq!(names[0]["name"], "Src 000249");
    assert_eq!(
        api.get("/sourceConnections?count=true").await.body,
        json!({"count": 250})
    );
}

#[tokio::test]
async fn filters_take_any_path_with_or_and_and() {
    let api = Api::start().await;
    seed(&api, 4, 40).await;
    let bases = base_ids(&api).await;
    let (a, b) = (&bases[0], &bases[1]);
    let count = |query: String| {
        let api = &api;
        async move {
            api.get(&format!("/sourceConnections?count=true&{query}"))
                .await
                .expect(200)
                .body["count"]
                .as_u64()
                .unwrap()
        }
    };
    // Seeded source i uses base i % 4 and table i % 9.
    assert_eq!(count(format!("property=baseConnectionId=={a}")).await, 10);
    assert_eq!(count(format!("property=baseConnectionId=={a},{b}")).await, 20);
    assert_eq!(count("property=params.tableName==Contact".into()).await, 5);
    assert_eq!(
        count(format!(
            "property=params.tableName==Contact&property=baseConnectionId=={a},{b}"
        ))
        .await,
        3
    );
    assert_eq!(
        count(format!("property=inheritedAttributes.baseConnection.id=={a}")).await,
        10
    );
    assert_eq!(
        count(format!("property=connectionSpec.id=={}", SF.to_uppercase())).await,
        40
    );
    assert_eq!(count("property=name==Src%20000007".into()).await, 1);
    assert_eq!(
        count("property=state==enabled&property=data.format==tabular".into()).await,
        40
    );
    assert_eq!(count("property=createdAt>0".into()).await, 40);
    assert_eq!(count("property=params.nothing==x".into()).await, 0);

    let (mine, _) = api
        .create_in("sourceConnections", &source("with columns", a, "Lead"))
        .await;
    let r = api
        .get("/sourceConnections?property=params.columns[].name==Email")
        .await
        .expect(200);
    assert_eq!(field(r.body["items"].as_array().unwrap(), "id"), [mine]);

    // 100 ids in one request: one page, in one answer.
    let all = walk(&api, "/sourceConnections").await.concat();
    let ids: Vec<String> = field(&all, "id");
    let r = api
        .get(&format!(
            "/sourceConnections?property=id=={}",
            ids[..41].join(",")
        ))
        .await
        .expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 41);
    assert!(r.body.get("_links").is_none());

    for (query, code) in [
        ("property=auth.specName==x", "FLOW-1451-400"),
        ("property=colour==red", "FLOW-1451-400"),
        ("property=name>a", "FLOW-1450-400"),
        ("property=baseConnectionId~a", "FLOW-1440-400"),
        ("property=params.tableName==", "FLOW-1453-400"),
        ("count=true&limit=3", "FLOW-1401-400"),
    ] {
        let r = api.get(&format!("/sourceConnections?{query}")).await.expect(400);
        assert_eq!(r.flow_code(), code, "{query}");
    }
}

#[tokio::test]
async fn target_connections_filter_on_their_dataset_and_base() {
    let api = Api::start().await;
    let (base, _) = api.create(&basic("crm")).await;
    let mut linked = target("linked");
    linked["baseConnectionId"] = json!(base);
    let (one, _) = api.create_in("targetConnections", &linked).await;
    let (two, _) = api.create_in("targetConnections", &target("plain")).await;
    let ids = |r: Value| field(r["items"].as_array().unwrap(), "id");
    let r = api
        .get(&format!("/targetConnections?property=baseConnectionId=={base}"))
        .await
        .expect(200);
    assert_eq!(ids(r.body), [one.as_str()]);
    let r = api
        .get(&format!(
            "/targetConnections?property=params.dataSetId=={}",
            flowform_emulator::DEMO_PROFILE_DATASET_ID
        ))
        .await
        .expect(200);
    assert_eq!(ids(r.body), [two.clone(), one.clone()], "most recent first");
    let r = api.get("/targetConnections?orderby=name").await.expect(200);
    assert_eq!(ids(r.body), [one, two]);
}
