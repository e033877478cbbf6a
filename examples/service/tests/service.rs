//! The service's three endpoints against the crate's fake platform (`FakeGenesys`), each
//! request going through the router as axum serves it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use genesys_cloud::testkit::{genesys_error, json_response, FakeGenesys, Fault};
use genesys_cloud::Method;
use genesys_cloud_example_service::Service;
use serde_json::{json, Value};
use tower::ServiceExt;

const QUEUE: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";
const CALLBACKS: &str = "/api/v2/conversations/callbacks";

/// Sends one request to the service on `fake`; the status and the JSON answer.
async fn call(
    fake: &FakeGenesys,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let client = fake
        .client_builder()
        .retry_policy(
            genesys_cloud::RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let request = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let answer = Service::new(client)
        .router()
        .oneshot(request)
        .await
        .unwrap();
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

fn violations(answer: &Value) -> Vec<(String, String)> {
    answer["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["field"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(answer: &Value, field: &str, rule: &str) -> bool {
    violations(answer)
        .iter()
        .any(|(f, r)| f == field && r == rule)
}

fn attributes_uri(conversation: &str, participant: &str) -> String {
    format!("/conversations/{conversation}/participants/{participant}/attributes")
}

// ---- PATCH .../attributes: messaging ----

#[tokio::test]
async fn patch_sets_canonical_attributes() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let uri = attributes_uri(&seeded.conversation_id, &seeded.customer_participant_id);
    let body = json!({
        "customer_tier": "platinum",
        "cart_value": 1250.50,
        "is_vip": true,
        "referral_code": " REF-2024\n",
    });
    let (status, answer) = call(&fake, "PATCH", &uri, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["sanitized"], json!(["referral_code"]));
    let held = fake
        .participant_attributes(&seeded.conversation_id, &seeded.customer_participant_id)
        .unwrap();
    assert_eq!(held["cart_value"], "1250.5");
    assert_eq!(held["is_vip"], "true");
    assert_eq!(held["referral_code"], "REF-2024");
    assert_eq!(answer["attributes"]["customer_tier"], "platinum");
}

#[tokio::test]
async fn patch_with_html_is_refused_not_silently_stripped() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let uri = attributes_uri(&seeded.conversation_id, &seeded.customer_participant_id);
    for value in [
        "<script>alert('xss')</script>REF-2024",
        "&lt;script&gt;REF",
        "<b>REF</b>",
    ] {
        let body = json!({ "is_vip": true, "referral_code": value });
        let (status, answer) = call(&fake, "PATCH", &uri, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(
            violations(&answer),
            [("attributes.referral_code".to_owned(), "markup".to_owned())],
            "{answer}"
        );
        assert!(
            !answer.to_string().contains("REF"),
            "no value in errors: {answer}"
        );
    }
    // Text that only looks like markup is text.
    let body = json!({ "referral_code": "R&D <3" });
    let (status, answer) = call(&fake, "PATCH", &uri, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["attributes"]["referral_code"], "R&D <3");
    assert_eq!(
        fake.requests_to(Method::PATCH, &patch_path(&seeded)).len(),
        1
    );
}

fn patch_path(seeded: &genesys_cloud::testkit::SeededConversation) -> String {
    format!(
        "/api/v2/conversations/messages/{}/participants/{}/attributes",
        seeded.conversation_id, seeded.customer_participant_id
    )
}

#[tokio::test]
async fn patch_breaking_the_schema_is_refused_before_anything_is_sent() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let uri = attributes_uri(&seeded.conversation_id, &seeded.customer_participant_id);
    let body = json!({ "customer_tier": "diamond", "unknown_key": "x", "cart_value": [1] });
    let (status, answer) = call(&fake, "PATCH", &uri, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(has(&answer, "cart_value", "type"), "{answer}");
    let body = json!({ "customer_tier": "diamond", "unknown_key": "x" });
    let (status, answer) = call(&fake, "PATCH", &uri, Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(violations(&answer).len(), 2, "every rule at once: {answer}");
    assert!(fake
        .requests_to(Method::PATCH, &patch_path(&seeded))
        .is_empty());
    assert_eq!(fake.tokens_issued(), 0, "not even a token was asked for");
}

#[tokio::test]
async fn patch_with_a_body_that_is_not_json_is_refused() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let uri = attributes_uri(&seeded.conversation_id, &seeded.customer_participant_id);
    let request = Request::builder()
        .method("PATCH")
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let answer = Service::new(fake.client().unwrap())
        .router()
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn patch_of_a_conversation_genesys_does_not_have_is_404() {
    let fake = FakeGenesys::start().await;
    let uri = attributes_uri(
        "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    );
    let (status, answer) = call(&fake, "PATCH", &uri, Some(json!({ "is_vip": false }))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

#[tokio::test]
async fn patch_is_retried_when_genesys_is_rate_limited() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_millis(10)),
        },
        1,
    );
    let uri = attributes_uri(&seeded.conversation_id, &seeded.customer_participant_id);
    let (status, answer) = call(&fake, "PATCH", &uri, Some(json!({ "is_vip": true }))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(fake.pending_faults(), 0);
}

// ---- POST /callbacks: callbacks ----

fn booking(at: &str) -> Value {
    json!({
        "queueId": QUEUE,
        "timeZone": "America/New_York",
        "at": at,
        // E.164: the service is built without `phone-numbers` (the numbering plans), which
        // national formats such as "(415) 555-0199" need.
        "number": "+1 415-555-0199",
        "country": "US",
        "name": "Jordan Lee",
        "smsFallback": true,
    })
}

#[tokio::test]
async fn books_a_callback_at_the_queues_local_time() {
    let fake = FakeGenesys::start().await;
    let (status, answer) = call(
        &fake,
        "POST",
        "/callbacks",
        Some(booking("2030-06-17T14:00")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["scheduled"], "2030-06-17T18:00:00Z", "14:00 EDT");
    assert_eq!(answer["numbers"], json!(["+14155550199"]));
    let booked = fake.callbacks();
    assert_eq!(booked.len(), 1);
    let sent = &fake.requests_to(Method::POST, CALLBACKS)[0].json();
    assert_eq!(sent["callbackNumbers"], json!(["+14155550199"]));
    assert_eq!(sent["callbackScheduledTime"], "2030-06-17T18:00:00.000Z");
    assert_eq!(sent["data"]["channelFallback"], "sms");
    assert_eq!(answer["conversationId"], booked[0]["id"]);
}

#[tokio::test]
async fn callback_with_an_invalid_number_is_refused_before_sending() {
    let fake = FakeGenesys::start().await;
    let mut body = booking("2030-06-17T14:00");
    body["number"] = json!("+1 415"); // too short for any number
    let (status, answer) = call(&fake, "POST", "/callbacks", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        has(&answer, "callbackNumbers[0]", "phone_number"),
        "{answer}"
    );
    assert!(fake.requests_to(Method::POST, CALLBACKS).is_empty());
}

#[tokio::test]
async fn callback_in_an_unknown_time_zone_or_at_no_time_is_refused() {
    let fake = FakeGenesys::start().await;
    let mut body = booking("tomorrow at two");
    body["timeZone"] = json!("America/Gotham");
    let (status, answer) = call(&fake, "POST", "/callbacks", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(has(&answer, "timeZone", "time_zone"), "{answer}");
    assert!(has(&answer, "at", "date_time"), "{answer}");
    assert!(fake.requests_to(Method::POST, CALLBACKS).is_empty());
}

#[tokio::test]
async fn callback_in_the_past_or_in_a_daylight_saving_gap_is_refused() {
    let fake = FakeGenesys::start().await;
    let (status, answer) = call(
        &fake,
        "POST",
        "/callbacks",
        Some(booking("2020-06-15T14:00")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(has(&answer, "slots[0]", "in_future"), "{answer}");
    // Clocks in New York go from 02:00 to 03:00 on 10 March 2030.
    let (status, answer) = call(
        &fake,
        "POST",
        "/callbacks",
        Some(booking("2030-03-10T02:30")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(has(&answer, "slots[0]", "nonexistent_time"), "{answer}");
    assert!(fake.requests_to(Method::POST, CALLBACKS).is_empty());
}

#[tokio::test]
async fn callback_is_not_booked_twice_after_a_gateway_error() {
    let fake = FakeGenesys::start().await;
    fake.inject_on(Method::POST, CALLBACKS, Fault::Status(503), 1);
    let (status, answer) = call(
        &fake,
        "POST",
        "/callbacks",
        Some(booking("2030-06-17T14:00")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(
        fake.requests_to(Method::POST, CALLBACKS).len(),
        1,
        "a POST that may have been processed is not sent again"
    );
}

// ---- GET /queues/{id}: client.api() ----

fn serve_queue(fake: &FakeGenesys) {
    fake.route(Method::GET, "/api/v2/routing/queues/{queueId}", |req| {
        if req.param("queueId") == QUEUE {
            json_response(
                200,
                &json!({ "id": QUEUE, "name": "Support", "memberCount": 12 }),
            )
        } else {
            genesys_error(404, "not.found", "The queue was not found.")
        }
    });
}

#[tokio::test]
async fn reads_a_routing_queue_through_the_generated_api() {
    let fake = FakeGenesys::start().await;
    serve_queue(&fake);
    let (status, answer) = call(&fake, "GET", &format!("/queues/{QUEUE}"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({ "id": QUEUE, "name": "Support", "memberCount": 12 })
    );
}

#[tokio::test]
async fn a_queue_genesys_does_not_have_is_404() {
    let fake = FakeGenesys::start().await;
    serve_queue(&fake);
    let (status, answer) = call(
        &fake,
        "GET",
        "/queues/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
}

#[tokio::test]
async fn a_queue_read_is_retried_after_a_gateway_error() {
    let fake = FakeGenesys::start().await;
    serve_queue(&fake);
    fake.inject_on(
        Method::GET,
        "/api/v2/routing/queues/{queueId}",
        Fault::Status(503),
        2,
    );
    let (status, answer) = call(&fake, "GET", &format!("/queues/{QUEUE}"), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        fake.requests_to(Method::GET, &format!("/api/v2/routing/queues/{QUEUE}"))
            .len(),
        3
    );
}

// ---- errors: whose fault, which status ----

#[test]
fn no_time_zone_database_is_this_services_fault_not_the_callers() {
    let no_database = genesys_cloud::jiff::tz::TimeZoneDatabase::none();
    let err = genesys_cloud::callbacks::time_zone_in(&no_database, "America/New_York").unwrap_err();
    assert!(
        err.to_string()
            .contains("install tzdata or enable feature tzdb-bundled"),
        "{err}"
    );
    let answer = genesys_cloud_example_service::ServiceError::from(err);
    assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
