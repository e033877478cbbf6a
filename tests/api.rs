//! The generated API (`genesys-cloud-api`, feature `api`) through a real `Client` to the
//! fake, which checks every request against the platform's description: a sample of
//! operations across groups (`codegen/config.json`), and the transport's behaviour
//! (encoding, paging, retries, errors, metrics) for generated calls.

use futures::TryStreamExt;
use genesys_cloud::api::{models, ApiExt};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::{Client, ErrorKind, Method};
use serde::de::DeserializeOwned;

/// The sampled operations, as `genesys-cloud-codegen` extracts them from the description.
const DESCRIPTION: &str = include_str!("data/api-operations.json");

#[rustfmt::skip]
#[path = "api/calls.rs"]
mod calls;

/// A body synthesized by the generator, read as its model.
fn body<T: DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).expect("a synthesized body reads as its model")
}

async fn fake_and_client() -> (FakeGenesys, Client) {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .build()
        .expect("a client for the fake");
    (fake, client)
}

#[tokio::test]
async fn sampled_operations_send_what_the_description_says() {
    let (fake, client) = fake_and_client().await;
    let described = fake
        .serve_described(DESCRIPTION)
        .expect("the description loads");
    let results = calls::call_all(&client).await;

    let failed: Vec<String> = results
        .iter()
        .filter_map(|(id, r)| r.as_ref().err().map(|e| format!("{id}: {e}")))
        .collect();
    assert!(
        failed.is_empty(),
        "calls failed:\n{}\nviolations:\n{}",
        failed.join("\n"),
        described.violations().join("\n")
    );
    assert_eq!(described.violations(), Vec::<String>::new());

    let sent: Vec<&str> = results.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        described.served(),
        sent,
        "each call reached its own operation"
    );
    assert_eq!(sent.len(), described.operations());
    assert!(sent.len() >= 50, "{} operations sampled", sent.len());
    let groups: std::collections::BTreeSet<&str> =
        sent.iter().filter_map(|id| id.split('.').next()).collect();
    assert!(groups.len() >= 8, "groups sampled: {groups:?}");
}

#[tokio::test]
async fn the_fake_refuses_what_the_description_does_not_allow() {
    let (fake, client) = fake_and_client().await;
    let described = fake
        .serve_described(DESCRIPTION)
        .expect("the description loads");
    // An unknown query parameter and a body of the wrong shape, sent by hand.
    let err = client
        .request_template(Method::GET, "/api/v2/routing/queues/{queueId}", &["q1"])
        .query("noSuchParameter", "1")
        .send::<serde_json::Value>()
        .await
        .expect_err("an unknown query parameter is refused");
    assert_eq!(err.status(), Some(400));
    let err = client
        .request(Method::POST, "/api/v2/groups")
        .json(&serde_json::json!({"name": 5, "notAField": true}))
        .send::<serde_json::Value>()
        .await
        .expect_err("a body that is not a GroupCreate is refused");
    assert_eq!(err.status(), Some(400));
    let violations = described.violations().join("\n");
    assert!(
        violations.contains("unknown query parameter noSuchParameter"),
        "{violations}"
    );
    assert!(
        violations.contains("body.name is not a str"),
        "{violations}"
    );
    assert!(
        violations.contains("body.notAField is not a field of GroupCreate"),
        "{violations}"
    );
}

#[tokio::test]
async fn path_parameters_are_one_encoded_segment_and_lists_repeat_their_key() {
    let (fake, client) = fake_and_client().await;
    fake.serve_described(DESCRIPTION)
        .expect("the description loads");
    let queue = client
        .api()
        .routing()
        .get_routing_queue("a/b c-é")
        .send()
        .await
        .expect("the queue");
    assert!(queue.id.is_some());
    let sent = fake.requests_to(Method::GET, "/api/v2/routing/queues/a%2Fb%20c-%C3%A9");
    assert_eq!(sent.len(), 1, "{:?}", fake.requests());

    client
        .api()
        .users()
        .get_users()
        .id(["u1", "u2"])
        .page_size(2)
        .send()
        .await
        .expect("users");
    let query = fake.requests_to(Method::GET, "/api/v2/users")[0]
        .query
        .clone()
        .unwrap_or_default();
    assert!(query.contains("id=u1&id=u2"), "{query}");
    assert!(query.contains("pageSize=2"), "{query}");
}

#[tokio::test]
async fn listings_paginate_through_every_page() {
    let (fake, client) = fake_and_client().await;
    fake.serve_described(DESCRIPTION)
        .expect("the description loads");
    let users: Vec<models::User> = client
        .api()
        .users()
        .get_users()
        .page_size(1)
        .paginate()
        .try_collect()
        .await
        .expect("every user");
    assert_eq!(users.len(), 2, "the fake's listings have two pages of one");
    let pages = fake.requests_to(Method::GET, "/api/v2/users");
    assert_eq!(pages.len(), 2);
    assert!(pages[1]
        .query
        .as_deref()
        .unwrap_or_default()
        .contains("pageNumber=2"));
}

#[tokio::test]
async fn posts_are_not_retried_after_a_server_error_but_gets_are() {
    let (fake, client) = fake_and_client().await;
    fake.serve_described(DESCRIPTION)
        .expect("the description loads");
    let group: models::GroupCreate = body(
        r#"{"name": "Support", "type": "official", "visibility": "public", "rulesVisible": true}"#,
    );

    fake.inject_on(Method::POST, "/api/v2/groups", Fault::Status(503), 1);
    let err = client
        .api()
        .groups()
        .post_groups(group.clone())
        .send()
        .await
        .expect_err("a POST is not retried after a 503");
    assert_eq!(err.status(), Some(503));
    assert_eq!(fake.requests_to(Method::POST, "/api/v2/groups").len(), 1);

    fake.inject_on(
        Method::GET,
        "/api/v2/groups/{groupId}",
        Fault::Status(503),
        1,
    );
    client
        .api()
        .groups()
        .get_group("g1")
        .send()
        .await
        .expect("a GET is retried after a 503");
    assert_eq!(fake.requests_to(Method::GET, "/api/v2/groups/g1").len(), 2);
}

#[tokio::test]
async fn errors_and_metrics_are_the_clients() {
    let (fake, client) = fake_and_client().await;
    // No described routes: the fake answers 404 like the platform for an unknown id.
    let err = client
        .api()
        .routing()
        .get_routing_queue("missing")
        .send()
        .await
        .expect_err("no such queue");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.endpoint(), Some("GET /api/v2/routing/queues/{queueId}"));
    let metrics = client.metrics_snapshot().to_string();
    assert!(
        !metrics.contains("missing"),
        "ids stay out of metrics: {metrics}"
    );
    drop(fake);
}

#[test]
fn a_call_is_a_value_before_it_is_sent() {
    let client = Client::builder()
        .base_urls("http://127.0.0.1:9", "http://127.0.0.1:9")
        .credentials("id", "secret")
        .build()
        .expect("a client");
    let call = client
        .api()
        .scim()
        .get_scim_user("u1")
        .if_none_match("etag-1")
        .attributes(["userName", "emails"])
        .into_call();
    assert_eq!(call.method(), genesys_cloud::api::Method::Get);
    assert_eq!(call.template(), "/api/v2/scim/users/{userId}");
    assert_eq!(call.path_args(), ["u1"]);
    assert_eq!(call.headers(), [("If-None-Match", "etag-1".to_owned())]);
    assert_eq!(
        call.query(),
        [
            ("attributes", "userName".to_owned()),
            ("attributes", "emails".to_owned())
        ]
    );
    assert!(call.is_idempotent());
    let post = client
        .api()
        .groups()
        .post_groups(models::GroupCreate::default())
        .into_call();
    assert!(!post.is_idempotent(), "POSTs are not retried after a 5xx");
    assert_eq!(post.body(), Ok(Some(&b"{}"[..])));
}
