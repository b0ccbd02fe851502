//! `GET /connections`: pages, filters, order, count, and stability under concurrent writes.

use std::collections::BTreeSet;

use flowform_emulator::{Options, PageStyle};
use reqwest::Method;
use serde_json::{Value, json};

use super::api::{Api, basic};

/// Seeds `n` connections through the admin endpoint (fast) into the demo org's prod.
async fn seed(api: &Api, n: u64) {
    api.admin(
        Method::POST,
        "/seed",
        Some(&json!({"count": n, "namePrefix": "Seeded"})),
    )
    .await
    .expect(200);
}

/// Follows `_links.next.href` from `first` to the end; returns every page's items.
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

fn ids(pages: &[Vec<Value>]) -> Vec<String> {
    pages
        .iter()
        .flatten()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn pages_cover_everything_once_with_the_most_recent_first() {
    let api = Api::start().await;
    seed(&api, 250).await;
    let pages = walk(&api, "/connections?limit=100").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let all = ids(&pages);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 250);
    // Seeded in order 0..250, so the most recently created (249) comes first.
    assert_eq!(pages[0][0]["name"], "Seeded 000249");
    assert_eq!(pages[2][49]["name"], "Seeded 000000");
    // The limit is capped at AEP's 100.
    let r = api.get("/connections?limit=1000").await.expect(200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 100);
}

#[tokio::test]
async fn filters_alternatives_and_conjunctions() {
    let api = Api::start().await;
    seed(&api, 30).await;
    let (a, _) = api.create(&basic("Alpha one")).await;
    let (b, _) = api.create(&basic("Beta")).await;
    let names = |r: &Value| -> Vec<String> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = api
        .get("/connections?property=name==Alpha%20one,Beta")
        .await
        .expect(200)
        .body;
    assert_eq!(names(&r), ["Beta", "Alpha one"]);
    let r = api
        .get(&format!("/connections?property=id=={a}&property=name==Beta"))
        .await
        .expect(200)
        .body;
    assert_eq!(
        names(&r),
        Vec::<String>::new(),
        "repeated property params are ANDed"
    );
    let r = api
        .get(&format!("/connections?property=id=={a},{b}&property=name==Beta"))
        .await
        .expect(200)
        .body;
    assert_eq!(names(&r), ["Beta"]);
    let r = api.get("/connections?property=connectionSpec.id==cfc0fee1-7dc0-40ef-b73e-d8b134c436f5&property=state==enabled&limit=100")
        .await
        .expect(200)
        .body;
    assert_eq!(r["items"].as_array().unwrap().len(), 32);
    let r = api
        .get("/connections?property=description==a%20test%20connection")
        .await
        .expect(200)
        .body;
    assert_eq!(names(&r).len(), 2);
    let r = api
        .get("/connections?property=state==initializing")
        .await
        .expect(200)
        .body;
    assert_eq!(names(&r).len(), 0);
    for (query, code) in [
        ("property=colour==red", "FLOW-1451-400"),
        ("property=name~x", "FLOW-1440-400"),
        ("property=name==", "FLOW-1453-400"),
        ("property=createdAt<=1,2", "FLOW-1443-400"),
        ("orderby=colour", "FLOW-1432-400"),
        ("limit=zero", "FLOW-1451-400"),
        ("continuationToken=bogus", "FLOW-1451-400"),
    ] {
        let r = api.get(&format!("/connections?{query}")).await.expect(400);
        assert_eq!(r.flow_code(), code, "{query}");
    }
}

#[tokio::test]
async fn order_by_name_both_ways() {
    let api = Api::start().await;
    for name in ["m", "c", "x", "a"] {
        api.create(&basic(name)).await;
    }
    let names = |r: Value| -> Vec<String> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(api.get("/connections?orderby=name").await.body),
        ["a", "c", "m", "x"]
    );
    assert_eq!(
        names(api.get("/connections?orderby=-name").await.body),
        ["x", "m", "c", "a"]
    );
    assert_eq!(
        names(api.get("/connections").await.body),
        ["a", "x", "c", "m"],
        "most recent first"
    );
    let pages = walk(&api, "/connections?orderby=name&limit=3").await;
    let walked: Vec<String> = pages
        .iter()
        .flatten()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(walked, ["a", "c", "m", "x"]);
}

#[tokio::test]
async fn count_returns_only_a_count_and_refuses_a_limit() {
    let api = Api::start().await;
    seed(&api, 12).await;
    let r = api.get("/connections?count=true").await.expect(200);
    assert_eq!(r.body, json!({"count": 12}));
    let r = api
        .get("/connections?count=true&property=name==Seeded%20000003")
        .await
        .expect(200);
    assert_eq!(r.body, json!({"count": 1}));
    let r = api.get("/connections?count=true&limit=5").await.expect(400);
    assert_eq!(r.flow_code(), "FLOW-1401-400");
}

#[tokio::test]
async fn walks_neither_skip_nor_repeat_under_concurrent_writes() {
    for order in ["", "&orderby=name", "&orderby=-name", "&orderby=updatedAt"] {
        let api = Api::start().await;
        seed(&api, 250).await;
        let before: BTreeSet<String> = api
            .stored()
            .await
            .iter()
            .map(|c| c["item"]["id"].as_str().unwrap().to_owned())
            .collect();
        let first = api
            .get(&format!("/connections?limit=100{order}"))
            .await
            .expect(200);
        let mut seen: Vec<String> = first.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        // Between pages, change connections not yet returned and ones already returned:
        // touch (moves to the front of the default order), rename (moves in name order),
        // create new ones, delete one not yet seen.
        let unseen: Vec<String> = before.iter().filter(|id| !seen.contains(id)).cloned().collect();
        let stored = api.stored().await;
        let etag_of = |id: &str| -> String {
            stored.iter().find(|c| c["item"]["id"] == id).unwrap()["item"]["etag"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        for (i, id) in unseen.iter().take(20).chain(seen.iter().take(20)).enumerate() {
            let ops = json!([{"op": "replace", "path": "/name", "value": format!("{} renamed {i}", if i % 2 == 0 { "AAA" } else { "zzz" })}]);
            api.patch(id, &etag_of(id), &ops).await.expect(200);
        }
        for i in 0..5 {
            api.create(&basic(&format!("new {i}"))).await;
        }
        let deleted = unseen.last().unwrap().clone();
        api.call(Method::DELETE, &format!("/connections/{deleted}"), None)
            .await
            .expect(204);

        let mut next = first.body["_links"]["next"]["href"].as_str().map(str::to_owned);
        while let Some(href) = next {
            let r = api.get(&href).await.expect(200);
            seen.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned()),
            );
            next = r.body["_links"]["next"]["href"].as_str().map(str::to_owned);
        }
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "order {order:?}: a connection was repeated"
        );
        let mut expected = before.clone();
        expected.remove(&deleted);
        let skipped: Vec<_> = expected.difference(&unique).collect();
        let extra: Vec<_> = unique.difference(&expected).collect();
        assert!(
            skipped.is_empty() && extra.is_empty(),
            "order {order:?}: skipped {skipped:?}, not expected {extra:?}"
        );
    }
}

#[tokio::test]
async fn tokens_work_alone_or_with_the_original_parameters_in_every_page_style() {
    for style in [PageStyle::Links, PageStyle::Token, PageStyle::Both] {
        let api = Api::with(Options {
            page_style: style,
            ..Options::default()
        })
        .await;
        seed(&api, 7).await;
        let r = api
            .get("/connections?limit=5&property=state==enabled")
            .await
            .expect(200);
        let link = r.body["_links"]["next"]["href"].as_str();
        let token = r.body["continuationToken"].as_str();
        assert_eq!(link.is_some(), style != PageStyle::Token, "{style:?}");
        assert_eq!(token.is_some(), style != PageStyle::Links, "{style:?}");
        if let Some(token) = token {
            assert!(token.contains('='), "tokens carry `=` padding: {token}");
            let encoded: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            let again = api
                .get(&format!(
                    "/connections?limit=5&property=state==enabled&continuationToken={encoded}"
                ))
                .await;
            assert_eq!(again.expect(200).body["items"].as_array().unwrap().len(), 2);
            let alone = api
                .get(&format!("/connections?continuationToken={encoded}"))
                .await
                .expect(200);
            assert_eq!(alone.body["items"].as_array().unwrap().len(), 2);
            let other = api
                .get(&format!(
                    "/connections?property=state==disabled&continuationToken={encoded}"
                ))
                .await;
            assert_eq!(other.expect(400).flow_code(), "FLOW-1451-400");
        }
    }
}

#[tokio::test]
async fn tokens_expire() {
    let api = Api::start().await;
    seed(&api, 3).await;
    let r = api.get("/connections?limit=1").await.expect(200);
    let href = r.body["_links"]["next"]["href"].as_str().unwrap().to_owned();
    api.advance_clock(11 * 60 * 1000).await;
    let r = api.get(&href).await.expect(400);
    assert!(
        r.body["report"]["detailed-message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

/// Walks a listing as aepp's `getConnections` does: it follows `_links.next.href` and, with
/// `requests`' `params=`, appends its own original parameters to it again.
async fn walk_like_aepp(api: &Api, params: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut path = format!("/connections?{params}");
    for _ in 0..100 {
        let r = api.get(&path).await.expect(200);
        names.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].as_str().unwrap().to_owned()),
        );
        match r.body["_links"]["next"]["href"].as_str() {
            Some(href) => path = format!("{href}&{params}"),
            None => return names,
        }
    }
    panic!("runaway pagination");
}

#[tokio::test]
async fn a_filtered_listing_pages_when_the_client_resends_its_parameters_with_the_link() {
    let api = Api::start().await;
    seed(&api, 60).await;
    for i in 0..45 {
        api.create(&basic(&format!("mine {i:02}"))).await;
    }
    let mine: Vec<String> = (0..45).map(|i| format!("mine {i:02}")).collect();
    let newest_first: Vec<String> = mine.iter().rev().cloned().collect();
    let filter = "property=description==a%20test%20connection";
    for (params, expected) in [
        (format!("limit=20&{filter}"), &newest_first),
        (format!("limit=20&{filter}&orderby=name"), &mine),
        (
            format!("limit=7&{filter}&property=state==enabled&orderby=name"),
            &mine,
        ),
        // More than AEP's 100 asks for 100 a page, as the link then says.
        (format!("limit=500&{filter}"), &newest_first),
    ] {
        let walked = walk_like_aepp(&api, &params).await;
        assert_eq!(&walked, expected, "{params}: skipped, repeated or out of order");
    }
}

#[tokio::test]
async fn conflicting_repeats_of_a_single_valued_parameter_are_refused() {
    let api = Api::start().await;
    seed(&api, 5).await;
    let r = api.get("/connections?limit=2").await.expect(200);
    let token = r.body["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .split("continuationToken=")
        .nth(1)
        .unwrap()
        .to_owned();
    for query in [
        "limit=10&limit=20".to_owned(),
        "orderby=name&orderby=-name".to_owned(),
        "count=true&count=false".to_owned(),
        format!("continuationToken={token}&continuationToken=other"),
    ] {
        let r = api.get(&format!("/connections?{query}")).await.expect(400);
        assert_eq!(r.flow_code(), "FLOW-1451-400", "{query}");
    }
    // The same repeated is one parameter; different filters are still ANDed.
    for (query, n) in [
        // The token carries the first page's limit, 2.
        (format!("continuationToken={token}&continuationToken={token}"), 2),
        ("limit=2&limit=2".to_owned(), 2),
        (
            "property=name==Seeded%20000001&property=name==Seeded%20000001".to_owned(),
            1,
        ),
        (
            "property=name==Seeded%20000001&property=name==Seeded%20000002".to_owned(),
            0,
        ),
    ] {
        let r = api.get(&format!("/connections?{query}")).await.expect(200);
        assert_eq!(r.body["items"].as_array().unwrap().len(), n, "{query}");
    }
}

#[tokio::test]
async fn a_page_of_ids_by_filter_answers_in_one_page() {
    let api = Api::start().await;
    seed(&api, 250).await;
    let all = ids(&walk(&api, "/connections?limit=100").await);
    let wanted: Vec<&str> = all.iter().step_by(2).take(100).map(String::as_str).collect();
    let r = api
        .get(&format!(
            "/connections?limit=100&property=id=={}",
            wanted.join(",")
        ))
        .await
        .expect(200);
    let mut found: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    found.sort_unstable();
    let mut expected = wanted.clone();
    expected.sort_unstable();
    assert_eq!(found, expected, "exactly the ids asked for");
    assert!(
        r.body["_links"]["next"].is_null(),
        "one page: {:#}",
        r.body["_links"]
    );
}

#[tokio::test]
async fn an_over_long_request_target_is_answered_414() {
    let api = Api::start().await;
    // 8 KiB of target is the emulator's limit (its choice: Adobe documents none).
    let names: Vec<String> = (0..1_000).map(|i| format!("name-{i:04}")).collect();
    let r = api
        .get(&format!("/connections?property=name=={}", names.join(",")))
        .await
        .expect(414);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Request-URI Too Long"),
        "{:#}",
        r.body
    );
    api.get(&format!("/connections?property=name=={}", names[..100].join(",")))
        .await
        .expect(200);
}
