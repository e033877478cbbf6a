//! The pager against listings as the platform pages them, and as a broken server might.

use futures::{StreamExt, TryStreamExt};
use genesys_cloud::testkit::{json_response, FakeGenesys, Fault};
use genesys_cloud::{Client, Error, ErrorKind, Method};
use serde_json::{json, Value};

const THINGS: &str = "/api/v2/things";

fn client(fake: &FakeGenesys) -> Client {
    fake.client().unwrap()
}

async fn collect(client: &Client) -> Result<Vec<Value>, Error> {
    client
        .request(Method::GET, THINGS)
        .paginate()
        .try_collect()
        .await
}

fn gets(fake: &FakeGenesys) -> Vec<Option<String>> {
    fake.requests_to(Method::GET, THINGS)
        .into_iter()
        .map(|r| r.query)
        .collect()
}

#[tokio::test]
async fn next_uri_is_followed_exactly_as_given() {
    let fake = FakeGenesys::start().await;
    // The link carries parameters the pager could not invent (`after`, `expand`) and no
    // `pageNumber`: it must be followed as written, not rebuilt.
    fake.route(Method::GET, THINGS, |req| {
        let page = match req.query.get("after").map(String::as_str) {
            None => json!({"entities": [{"id": 1}, {"id": 2}],
                           "nextUri": "/api/v2/things?after=k2&expand=x&pageSize=2"}),
            Some("k2") => json!({"entities": [{"id": 3}],
                                 "nextUri": "https://api.elsewhere.example/api/v2/things?after=k3&pageSize=2"}),
            Some("k3") => json!({"entities": [{"id": 4}]}),
            Some(_) => json!({"entities": []}),
        };
        json_response(200, &page)
    });
    let items = collect(&client(&fake)).await.unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(
        gets(&fake),
        [
            None,
            Some("after=k2&expand=x&pageSize=2".into()),
            Some("after=k3&pageSize=2".into()),
        ],
        "links are followed as given, on the client's own base"
    );
}

#[tokio::test]
async fn a_repeating_cursor_ends_the_listing_with_an_error() {
    let fake = FakeGenesys::start().await;
    fake.route(Method::GET, THINGS, |_| {
        json_response(
            200,
            &json!({"entities": [{"id": 1}], "cursor": "same-cursor-secret"}),
        )
    });
    let client = client(&fake);
    let mut items = client.request(Method::GET, THINGS).paginate::<Value>();
    let mut seen = 0;
    let err = loop {
        match items.next().await {
            Some(Ok(_)) => seen += 1,
            Some(Err(err)) => break err,
            None => panic!("the listing ended without an error"),
        }
    };
    assert_eq!(seen, 2, "the first page and the one its cursor gave");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err:?}");
    assert!(err.to_string().contains("repeats the cursor"), "{err}");
    assert!(!format!("{err} {err:?}").contains("same-cursor-secret"));
    assert_eq!(
        gets(&fake).len(),
        2,
        "the server was asked twice, not a thousand times"
    );
}

#[tokio::test]
async fn a_repeating_next_uri_ends_the_listing_with_an_error() {
    let fake = FakeGenesys::start().await;
    // A cycle of two links: page 1 -> 2 -> 1 -> ...
    fake.route(Method::GET, THINGS, |req| {
        let next = if req.query.get("page").map(String::as_str) == Some("2") {
            "/api/v2/things?page=1"
        } else {
            "/api/v2/things?page=2"
        };
        json_response(200, &json!({"entities": [{"id": 1}], "nextUri": next}))
    });
    let err = collect(&client(&fake)).await.unwrap_err();
    assert!(err.to_string().contains("repeats the nextUri"), "{err}");
    assert_eq!(gets(&fake).len(), 3);
}

#[tokio::test]
async fn page_numbers_follow_page_count_and_stop_at_the_last() {
    let fake = FakeGenesys::start().await;
    // A server that ignores pageNumber and always says it is on page 1 of 3.
    fake.route(Method::GET, THINGS, |_| {
        json_response(
            200,
            &json!({"entities": [{"id": 1}], "pageNumber": 1, "pageCount": 3}),
        )
    });
    let items = collect(&client(&fake)).await.unwrap();
    assert_eq!(items.len(), 3, "pages 1, 2 and 3 asked for, then done");
    let huge = json!({"entities": [{"id": 1}], "pageNumber": u32::MAX, "pageCount": u32::MAX});
    fake.inject(
        Fault::Answer {
            status: 200,
            body: huge,
        },
        1,
    );
    let fake_client = client(&fake);
    let first: Vec<Value> = fake_client
        .request(Method::GET, THINGS)
        .query("pageNumber", u32::MAX)
        .paginate()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        first.len(),
        1,
        "no page after u32::MAX, and no overflow panic"
    );
}

#[tokio::test]
async fn max_items_and_max_pages_bound_a_listing() {
    let fake = FakeGenesys::start().await;
    fake.route(Method::GET, THINGS, |req| {
        let n: u32 = req.query.get("pageNumber").and_then(|v| v.parse().ok()).unwrap_or(1);
        json_response(
            200,
            &json!({"entities": [{"id": n * 10}, {"id": n * 10 + 1}], "pageNumber": n, "pageCount": 100}),
        )
    });
    let client = client(&fake);
    let three: Vec<Value> = client
        .request(Method::GET, THINGS)
        .max_items(3)
        .paginate()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(three.len(), 3);
    assert_eq!(
        gets(&fake).len(),
        2,
        "no page fetched beyond the items asked for"
    );

    let mut stream = client
        .request(Method::GET, THINGS)
        .max_pages(2)
        .paginate::<Value>();
    let mut items = 0;
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => items += 1,
            Some(Err(err)) => break err,
            None => panic!("a listing with more pages than allowed must not end silently"),
        }
    };
    assert_eq!(items, 4, "every item of the pages allowed");
    assert_eq!(err.kind(), ErrorKind::LocalLimit, "{err:?}");
    assert!(err.to_string().contains("max_pages"), "{err}");
}

#[tokio::test]
async fn a_query_written_into_the_path_is_sent_but_kept_out_of_the_endpoint_name() {
    let fake = FakeGenesys::start().await;
    fake.inject(Fault::Status(500), 1);
    let err = client(&fake)
        .request(Method::GET, "/api/v2/things?email=alice%40example.com&x=1")
        .send::<Value>()
        .await
        .unwrap_err();
    assert_eq!(err.endpoint(), Some("GET /api/v2/things"));
    assert!(!format!("{err} {err:?}").contains("alice"), "{err:?}");
    let sent = fake.requests_to(Method::GET, THINGS);
    assert_eq!(
        sent[0].query.as_deref(),
        Some("email=alice%40example.com&x=1")
    );
}

#[tokio::test]
async fn malformed_path_templates_are_errors_not_panics() {
    let fake = FakeGenesys::start().await;
    let client = client(&fake);
    for template in ["/api/v2/things/{id", "/api/v2/{", "/api/v2/things/{a}/{b"] {
        let err = client
            .request_template(Method::GET, template, &["1", "2"])
            .send::<Value>()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{template}: {err}");
        assert!(!err.may_have_been_sent());
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}
