//! The generated API (`genesys-cloud-api`, feature `api`) through a real `Client` to the
//! fake, which checks every request against the platform's description: a sample of
//! operations across groups (`codegen/config.json`), and the transport's behaviour
//! (encoding, paging, retries, errors, metrics, operations served without OAuth) for
//! generated calls; and a sample of the generated models against the documents the
//! official Python SDK's serializer makes of them.

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

/// The documents the official Python SDK (`PureCloudPlatformClientV2` 269.0.0) serializes
/// for a sample of the models this test compiles (`codegen/sdk_documents.py` makes them,
/// the generator samples them; see `codegen/README.md`).
const SDK_DOCUMENTS: &str = include_str!("data/sdk-documents.json");

#[rustfmt::skip]
#[path = "api/model_cases.rs"]
mod model_cases;

/// A model's name and its round trip.
type Case = (
    &'static str,
    fn(&serde_json::Value) -> Result<serde_json::Value, String>,
);

/// Reads `doc` as `T` with unknown fields refused (none may be left in `extra`, at any
/// depth), checks that every enum value the SDK accepted is a variant the generated enum
/// knows, and writes it back.
fn round_trip<T: DeserializeOwned + serde::Serialize + std::fmt::Debug>(
    doc: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let model: T = genesys_cloud::api::deny_unknown_fields(|| serde_json::from_value(doc.clone()))
        .map_err(|e| format!("read: {e}"))?;
    // The documents' strings are "text" and the like: only an enum value the generated
    // enum does not know shows as `Unrecognized(..)`.
    let debug = format!("{model:?}");
    if let Some(at) = debug.find("Unrecognized(") {
        let end = debug[at..].find(')').map_or(debug.len(), |e| at + e + 1);
        return Err(format!(
            "an enum value the SDK accepts is not a variant: {}",
            &debug[at..end]
        ));
    }
    serde_json::to_value(&model).map_err(|e| format!("write: {e}"))
}

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

#[test]
fn sampled_models_round_trip_the_python_sdks_documents() {
    let sample: serde_json::Value =
        serde_json::from_str(SDK_DOCUMENTS).expect("the SDK documents parse");
    let documents = sample["documents"]
        .as_object()
        .expect("documents by model name");
    assert_eq!(documents.len(), model_cases::CASES.len());
    assert!(documents.len() >= 200, "{} models sampled", documents.len());
    let mut failures = Vec::new();
    for (name, round_trip) in &model_cases::CASES {
        let doc = &documents[*name];
        assert!(
            doc.as_object().is_some_and(|o| !o.is_empty()),
            "{name}: the SDK set every field"
        );
        match round_trip(doc) {
            Ok(back) if back == *doc => {}
            Ok(back) => failures.push(format!("{name}: wrote {back}, the SDK {doc}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} models differ from the SDK:\n{}",
        failures.len(),
        model_cases::CASES.len(),
        failures.join("\n")
    );
}

/// `PushDeviceInsertRequest`, the body of a web messaging operation served without OAuth.
fn push_device() -> models::PushDeviceInsertRequest {
    body(
        r#"{"deviceToken": "t", "notificationProvider": "FCM", "language": "en", "deviceType": "ios"}"#,
    )
}

const PUSH_DEVICE: &str = "/api/v2/webmessaging/deployments/d1/pushdevices/t1";

#[tokio::test]
async fn operations_served_without_oauth_send_no_token_and_log_nobody_in() {
    // The platform's description gives these operations no security scheme (`auth_schemes`
    // is empty in tests/data/api-operations.json, `auth.schemes` in codegen/platform-api.json),
    // and the fake serves them without a token, as the platform does.
    let (fake, client) = fake_and_client().await;
    let described = fake
        .serve_described(DESCRIPTION)
        .expect("the description loads");
    let call = client
        .api()
        .web_messaging()
        .post_webmessaging_deployment_pushdevice("d1", "t1", push_device())
        .into_call();
    assert!(!call.requires_auth());
    assert!(client.api().users().get_users().into_call().requires_auth());

    client
        .api()
        .web_messaging()
        .post_webmessaging_deployment_pushdevice("d1", "t1", push_device())
        .send()
        .await
        .expect("served without a token");
    let sent = fake.requests_to(Method::POST, PUSH_DEVICE);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].auth_scheme, None, "no Authorization header");

    // Retries and paging are the client's as for any call: a 503 is retried (GET), every
    // page is fetched, and none of them carries a token.
    fake.inject_on(
        Method::GET,
        "/api/v2/webmessaging/messages",
        Fault::Status(503),
        1,
    );
    let messages: Vec<models::WebMessagingMessage> = client
        .api()
        .web_messaging()
        .get_webmessaging_messages()
        .page_size(1)
        .paginate()
        .try_collect()
        .await
        .expect("every page, without a token");
    assert_eq!(messages.len(), 2);
    let pages = fake.requests_to(Method::GET, "/api/v2/webmessaging/messages");
    assert_eq!(pages.len(), 3, "one 503, retried, and two pages");
    assert!(pages.iter().all(|r| r.auth_scheme.is_none()), "{pages:?}");
    assert_eq!(fake.tokens_issued(), 0, "no login for calls that need none");
    assert_eq!(described.violations(), Vec::<String>::new());
    let metrics = client.metrics_snapshot();
    assert_eq!(metrics.requests.calls, 3);
    assert_eq!(metrics.requests.retries, 1);

    // An OAuth operation on the same client still logs in and sends its token.
    client
        .api()
        .users()
        .get_users()
        .send()
        .await
        .expect("users");
    assert_eq!(fake.tokens_issued(), 1);
    let users = fake.requests_to(Method::GET, "/api/v2/users");
    assert_eq!(users[0].auth_scheme.as_deref(), Some("Bearer"));
}

/// A client with no credentials, pointed at the fake.
fn credentialless(fake: &FakeGenesys) -> Client {
    Client::builder()
        .base_urls(&fake.uri(), &fake.uri())
        .clock(ManualClock::new())
        .without_credentials()
        .build()
        .expect("a client without credentials")
}

#[tokio::test]
async fn a_client_without_credentials_calls_the_operations_served_without_oauth() {
    let fake = FakeGenesys::start().await;
    fake.serve_described(DESCRIPTION)
        .expect("the description loads");
    let guest = credentialless(&fake);
    guest
        .api()
        .web_messaging()
        .post_webmessaging_deployment_pushdevice("d1", "t1", push_device())
        .send()
        .await
        .expect("no credentials needed");
    let page = guest
        .api()
        .web_messaging()
        .get_webmessaging_messages()
        .send()
        .await
        .expect("no credentials needed");
    assert!(page.entities.is_some_and(|e| !e.is_empty()));
    // Any endpoint, by hand, declared as needing no token.
    let _: serde_json::Value = guest
        .request(Method::GET, "/api/v2/webmessaging/messages")
        .requires_auth(false)
        .send()
        .await
        .expect("no credentials needed");
    assert_eq!(fake.tokens_issued(), 0);
    let sent = fake.requests();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().all(|r| r.auth_scheme.is_none()), "{sent:?}");
}

#[tokio::test]
async fn a_client_without_credentials_refuses_oauth_operations_before_sending() {
    let fake = FakeGenesys::start().await;
    fake.serve_described(DESCRIPTION)
        .expect("the description loads");
    let guest = credentialless(&fake);
    let err = guest
        .api()
        .routing()
        .get_routing_queue("q1")
        .send()
        .await
        .expect_err("an OAuth operation needs credentials");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let message = err.to_string();
    assert!(
        message.contains(".credentials(") && message.contains("without_credentials"),
        "the error says what to set: {message}"
    );
    let err = guest
        .request(Method::GET, "/api/v2/users")
        .paginate::<serde_json::Value>()
        .try_collect::<Vec<_>>()
        .await
        .expect_err("a listing that needs a token");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(fake.requests().len(), 0, "nothing was sent");
    assert_eq!(fake.tokens_issued(), 0);

    // A builder that simply forgot its credentials still fails to build.
    let err = Client::builder()
        .base_urls(&fake.uri(), &fake.uri())
        .build()
        .expect_err("no credentials and no without_credentials()");
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains(".credentials("), "{err}");
}

// ---- the fake answers generated operations (testkit: `answer`, `answer_items`) ----

fn queue(id: &str, name: &str) -> models::Queue {
    let mut queue = models::Queue::default();
    queue.id = Some(id.into());
    queue.name = Some(name.into());
    queue
}

#[tokio::test]
async fn the_fake_answers_generated_operations_with_their_models() {
    let fake = FakeGenesys::start().await;
    fake.answer(
        |api| api.routing().get_routing_queue("q/1").send(),
        &queue("q/1", "Support"),
    );
    fake.answer(
        |api| api.routing().get_routing_queue("q-2").send(),
        &queue("q-2", "Sales"),
    );
    // An answer given again replaces the first.
    fake.answer(
        |api| api.routing().get_routing_queue("q-2").send(),
        &queue("q-2", "Sales EMEA"),
    );
    let client = fake.client().unwrap();
    let routing = client.api();
    let got = routing
        .routing()
        .get_routing_queue("q/1")
        .send()
        .await
        .unwrap();
    assert_eq!(got.name.as_deref(), Some("Support"));
    let got = routing
        .routing()
        .get_routing_queue("q-2")
        .send()
        .await
        .unwrap();
    assert_eq!(got.name.as_deref(), Some("Sales EMEA"));
    // The id travelled as one encoded segment, with the client's token.
    let sent = fake.requests_to(Method::GET, "/api/v2/routing/queues/q%2F1");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Bearer"));

    // A listing, paged as the platform pages (25 a page unless asked).
    let users: Vec<models::User> = (0..30)
        .map(|n| {
            let mut user = models::User::default();
            user.id = Some(format!("u-{n}"));
            user
        })
        .collect();
    fake.answer_items(|api| api.users().get_users().paginate(), users);
    let all: Vec<models::User> = client
        .api()
        .users()
        .get_users()
        .paginate()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    assert_eq!(all[29].id.as_deref(), Some("u-29"));
    assert_eq!(fake.requests_to(Method::GET, "/api/v2/users").len(), 2);

    // Faults and the token check apply to answers as to every endpoint.
    fake.inject_on(
        Method::GET,
        "/api/v2/routing/queues/{queueId}",
        Fault::Status(503),
        1,
    );
    let clock = ManualClock::new();
    let retrying = fake.client_builder().clock(clock.clone()).build().unwrap();
    let got = retrying
        .api()
        .routing()
        .get_routing_queue("q-2")
        .send()
        .await
        .unwrap();
    assert_eq!(got.id.as_deref(), Some("q-2"));
    assert_eq!(clock.sleeps().len(), 1);
    fake.expire_tokens();
    let got = client
        .api()
        .routing()
        .get_routing_queue("q-2")
        .send()
        .await
        .unwrap();
    assert_eq!(got.id.as_deref(), Some("q-2"));
}

#[tokio::test]
async fn an_unanswered_id_gets_the_platforms_404() {
    let fake = FakeGenesys::start().await;
    fake.answer(
        |api| api.routing().get_routing_queue("q-1").send(),
        &queue("q-1", "Support"),
    );
    let client = fake.client().unwrap();
    let err = client
        .api()
        .routing()
        .get_routing_queue("q-404")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.status(), Some(404));
    let api = err.api().unwrap();
    assert_eq!(api.code(), Some("not.found"));
    assert!(api.correlation_id().is_some());
    // Every field of the platform's `ErrorBody` a 404 carries, as the SDKs read them.
    let body = api.body().unwrap();
    assert_eq!(body.status, Some(404));
    assert_eq!(
        body.message.as_deref(),
        Some("The requested operation failed with status 404")
    );
    assert_eq!(body.message_with_params, body.message);
    assert!(body.message_params.is_empty());
    assert!(body.context_id.is_some());
    assert!(body.details.is_empty() && body.errors.is_empty());
    // No id of the request in it.
    assert!(!format!("{err} {err:?}").contains("q-404"));
}

#[tokio::test]
async fn answers_follow_the_operations_kind_and_auth() {
    let fake = FakeGenesys::start().await;
    // An operation answering no content.
    fake.answer(|api| api.routing().delete_routing_queue("q-1").send(), &());
    // An answer takes the template over from the fake's own endpoint (integrations').
    let mut integration = models::Integration::default();
    integration.name = Some("Answered".into());
    fake.answer(
        |api| api.integrations().get_integration("i-1").send(),
        &integration,
    );
    let client = fake.client().unwrap();
    client
        .api()
        .routing()
        .delete_routing_queue("q-1")
        .send()
        .await
        .unwrap();
    let got = client
        .api()
        .integrations()
        .get_integration("i-1")
        .send()
        .await
        .unwrap();
    assert_eq!(got.name.as_deref(), Some("Answered"));

    // An operation the platform serves without OAuth is answered without a token.
    fake.answer(
        |api| {
            api.web_messaging()
                .post_webmessaging_deployment_pushdevice("d1", "t1", push_device())
                .send()
        },
        &(),
    );
    let tokens = fake.tokens_issued();
    credentialless(&fake)
        .api()
        .web_messaging()
        .post_webmessaging_deployment_pushdevice("d1", "t1", push_device())
        .send()
        .await
        .unwrap();
    assert_eq!(fake.tokens_issued(), tokens, "no login for it");
    let sent = fake.requests_to(Method::POST, PUSH_DEVICE);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].auth_scheme, None);
}

#[tokio::test]
async fn generated_calls_keep_the_handles_options() {
    // Issue #23: a request handler's `client.with_options(CallOptions::interactive()).api()`
    // gives up on a long Retry-After at once; the client's defaults wait it out.
    use genesys_cloud::CallOptions;
    use std::time::Duration;
    let fake = FakeGenesys::start().await;
    fake.answer(
        |api| api.routing().get_routing_queue("q-1").send(),
        &queue("q-1", "Support"),
    );
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    let wait = Duration::from_secs(20);
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(wait),
        },
        1,
    );
    client
        .api()
        .routing()
        .get_routing_queue("q-1")
        .send()
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), [wait]);

    let interactive = client.with_options(CallOptions::interactive());
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(wait),
        },
        1,
    );
    let err = interactive
        .api()
        .routing()
        .get_routing_queue("q-1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(wait));
    assert_eq!(clock.sleeps(), [wait], "no second wait");
}
