//! Secrets and values never reach errors, logs, spans or the audit trail.
//!
//! One tracing subscriber, installed globally for this whole test binary before any
//! callsite registers, captures everything at TRACE: with a per-test (thread-local)
//! subscriber, tracing's global interest cache can already say "never" for a callsite
//! another test registered first, and a span goes uncaptured (a flaky test that hides
//! real leaks). Every test checks that its own markers appear nowhere in the capture.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use genesys_cloud::callbacks::{CallbackReservation, Channel};
use genesys_cloud::observe::{AuditRecord, MemoryAuditSink};
use genesys_cloud::testkit::{
    genesys_error, json_response, FakeGenesys, Fault, ManualClock, FAKE_CLIENT_SECRET,
};
use genesys_cloud::{Client, Error, Method};
use serde_json::json;

const ORG: &str = "/api/v2/organizations/me";
const THINGS: &str = "/api/v2/things";
const QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

/// Everything every test of this binary logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        captured
    })
}

fn logs() -> String {
    String::from_utf8_lossy(&capture().0.lock().unwrap()).into_owned()
}

async fn fake_with_things() -> FakeGenesys {
    capture();
    let fake = FakeGenesys::start().await;
    fake.route(Method::POST, THINGS, |req| {
        json_response(
            201,
            &json!({"id": "t-1", "echo": req.json::<serde_json::Value>().unwrap()}),
        )
    });
    fake
}

fn client_with_clock(fake: &FakeGenesys) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    (
        fake.client_builder().clock(clock.clone()).build().unwrap(),
        clock,
    )
}

async fn get_org(client: &Client) -> Result<serde_json::Value, Error> {
    client.request(Method::GET, ORG).send().await
}

async fn post_thing(client: &Client, idempotent: bool) -> Result<serde_json::Value, Error> {
    client
        .request(Method::POST, THINGS)
        .json(&json!({"name": "x"}))
        .idempotent(idempotent)
        .send()
        .await
}

fn shown(errors: &[Error]) -> String {
    errors.iter().map(|e| format!("{e}\n{e:?}\n")).collect()
}

#[tokio::test]
async fn traces_and_errors_never_contain_secret_or_token() {
    let fake = fake_with_things().await;
    let (client, _clock) = client_with_clock(&fake);
    let mut errors = Vec::new();
    get_org(&client).await.unwrap();
    let first_token = client.auth().token().await.unwrap();
    fake.expire_tokens(); // 401, refresh, replay
    get_org(&client).await.unwrap();
    let second_token = client.auth().token().await.unwrap();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        },
        10,
    );
    errors.push(get_org(&client).await.unwrap_err());
    fake.inject(Fault::Status(503), 1);
    errors.push(post_thing(&client, false).await.unwrap_err());
    fake.inject(Fault::Unauthorized, 2);
    errors.push(get_org(&client).await.unwrap_err());
    fake.inject(Fault::MalformedBody, 1);
    errors.push(get_org(&client).await.unwrap_err());
    let bad = fake
        .client_builder()
        .credentials("fake-client-id", "another-secret")
        .build()
        .unwrap();
    errors.push(get_org(&bad).await.unwrap_err());

    let logs = logs();
    assert!(
        logs.contains("genesys.request"),
        "spans were captured: {logs}"
    );
    assert!(logs.contains("retrying"), "retries were logged");
    let shown: String = errors.iter().map(|e| format!("{e}\n{e:?}\n")).collect();
    for secret in [
        FAKE_CLIENT_SECRET,
        "another-secret",
        first_token.expose_secret(),
        second_token.expose_secret(),
    ] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
        assert!(
            !shown.contains(secret),
            "a secret leaked into an error: {shown}"
        );
    }
}

#[tokio::test]
async fn query_and_response_values_reach_no_error_span_or_audit_record() {
    let fake = fake_with_things().await;
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .audit_sink(audit.clone())
        .build()
        .unwrap();
    let mut errors = Vec::new();

    // A query value, written into the path and as a parameter; the platform fails.
    fake.inject(Fault::Status(500), 2);
    errors.push(
        client
            .request(
                Method::GET,
                "/api/v2/things?email=query-value-in-path%40example.com",
            )
            .send::<serde_json::Value>()
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .request(Method::GET, THINGS)
            .query("q", "query-value-as-parameter")
            .send::<serde_json::Value>()
            .await
            .unwrap_err(),
    );
    // A connection that fails: reqwest's own error would print the whole URL.
    let unreachable = Client::builder()
        .base_urls("http://127.0.0.1:9", "http://127.0.0.1:9")
        .auth(genesys_cloud::auth::StaticToken::new("static"))
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    errors.push(
        unreachable
            .request(Method::GET, THINGS)
            .query("q", "query-value-unreachable")
            .send::<serde_json::Value>()
            .await
            .unwrap_err(),
    );
    // An answer whose value has the wrong type: serde would quote it.
    fake.route(Method::GET, "/api/v2/counts", |_| {
        json_response(200, &json!({"total": "response-value-wrong-type"}))
    });
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Count {
        total: u64,
    }
    errors.push(
        client
            .request(Method::GET, "/api/v2/counts")
            .send::<Count>()
            .await
            .unwrap_err(),
    );
    // The platform's error message echoes what was sent.
    fake.route(Method::POST, "/api/v2/echoes", |_| {
        genesys_error(
            400,
            "bad.request",
            "The value response-value-echoed is not valid",
        )
    });
    errors.push(
        client
            .request(Method::POST, "/api/v2/echoes")
            .json(&json!({"v": "response-value-echoed"}))
            .send::<serde_json::Value>()
            .await
            .unwrap_err(),
    );
    // A flow audits its failures: a callback create whose answer is not a callback, and
    // one refused with a message that quotes the request.
    let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let start = (jiff::Zoned::now().with_time_zone(zone.clone())
        + jiff::SignedDuration::from_hours(1))
    .datetime();
    let reservation = CallbackReservation::builder(QUEUE, zone)
        .callback_number("+14155550199")
        .at(start)
        .channels(Channel::Voice, None)
        .build()
        .unwrap();
    fake.inject_on(
        Method::POST,
        "/api/v2/conversations/callbacks",
        Fault::Answer {
            status: 200,
            body: json!({"conversation": "response-value-in-flow"}),
        },
        1,
    );
    errors.push(client.callbacks().create(&reservation).await.unwrap_err());
    fake.inject_on(
        Method::POST,
        "/api/v2/conversations/callbacks",
        Fault::Answer {
            status: 400,
            body: json!({"message": "Number +14155550199 is invalid",
                         "messageWithParams": "Number {number} is invalid",
                         "messageParams": {"number": "+14155550199"},
                         "code": "bad.request", "status": 400}),
        },
        1,
    );
    errors.push(client.callbacks().create(&reservation).await.unwrap_err());
    for err in &errors {
        client.audit(
            AuditRecord::new(
                "test.failure",
                genesys_cloud::observe::AuditOutcome::Failure,
            )
            .error(err),
        );
    }

    let shown = shown(&errors);
    let logs = logs();
    let audit = serde_json::to_string(&audit.records()).unwrap();
    assert!(
        audit.contains("callbacks.create"),
        "the flow audited: {audit}"
    );
    for value in [
        "query-value-in-path",
        "query-value-as-parameter",
        "query-value-unreachable",
        "response-value-wrong-type",
        "response-value-echoed",
        "response-value-in-flow",
        "+14155550199",
    ] {
        assert!(!shown.contains(value), "{value} in an error: {shown}");
        assert!(!logs.contains(value), "{value} in the logs");
        assert!(
            !audit.contains(value),
            "{value} in the audit trail: {audit}"
        );
    }
    assert!(shown.contains("GET /api/v2/things"), "{shown}");
    assert!(
        shown.contains("at `total`: invalid type: string, expected u64"),
        "{shown}"
    );
    assert!(shown.contains("Number {number} is invalid"), "{shown}");
    assert!(
        errors[4]
            .api()
            .unwrap()
            .message()
            .unwrap()
            .contains("response-value-echoed"),
        "the raw message stays reachable for who asks"
    );
}
