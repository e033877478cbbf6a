//! Signed outbound webhooks: signing, verification, retries with one dedupe key, failures
//! counted and audited.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use genesys_cloud::observe::{AuditOutcome, MemoryAuditSink};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock, WebhookInbox};
use genesys_cloud::webhook::{sign, verify, VerifyError, WebhookSender};
use genesys_cloud::{Method, RetryPolicy};
use serde_json::json;

const SECRET: &str = "crm-shared-secret-0123456789";
const HOOK: &str = "/external/hooks/crm";

fn at(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).unwrap()
}

#[test]
fn signatures_verify_and_detect_tampering_staleness_and_bad_headers() {
    let body = br#"{"sessionId":"s-1","attributes":{"tier":"gold"}}"#;
    let header = sign(SECRET.as_bytes(), 1_700_000_000, body);
    assert!(header.starts_with("t=1700000000,v1="));
    let tolerance = Duration::from_secs(300);
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &header,
            body,
            at(1_700_000_100),
            tolerance
        ),
        Ok(())
    );
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &header,
            br#"{"sessionId":"s-2"}"#,
            at(1_700_000_100),
            tolerance
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(
            b"another secret value",
            &header,
            body,
            at(1_700_000_100),
            tolerance
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &header,
            body,
            at(1_700_000_301),
            tolerance
        ),
        Err(VerifyError::Stale { age_seconds: 301 })
    );
    let moved = header.replace("t=1700000000", "t=1700000050");
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &moved,
            body,
            at(1_700_000_100),
            tolerance
        ),
        Err(VerifyError::Mismatch),
        "the time is signed too"
    );
    for bad in [
        "",
        "v1=abcd",
        "t=1700000000",
        "t=x,v1=00",
        "t=1700000000,v1=zz",
    ] {
        assert_eq!(
            verify(SECRET.as_bytes(), bad, body, at(1_700_000_000), tolerance),
            Err(VerifyError::Malformed),
            "{bad}"
        );
    }
    let rotated = format!("{header},v1={}", "00".repeat(32));
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &rotated,
            body,
            at(1_700_000_000),
            tolerance
        ),
        Ok(()),
        "any v1 may match"
    );
}

/// A known-answer vector for the signature scheme (`t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>." + body>`, docs/architecture.md "Signed webhooks"), computed
/// outside Rust:
///
/// ```sh
/// printf '%s' '1700000000.{"event":"attributes.synced","sessionId":"s-1"}' \
///   | openssl dgst -sha256 -hmac 'kat-webhook-secret-0123456789'
/// python3 -c 'import hmac,hashlib; print(hmac.new(b"kat-webhook-secret-0123456789",
///   b"1700000000." + b"{\"event\":\"attributes.synced\",\"sessionId\":\"s-1\"}",
///   hashlib.sha256).hexdigest())'
/// ```
///
/// Both print `afa96f92406e614b88237bc61a631d6d73506c0cee4e9aed4a89b22d29aedc23`.
const KAT_SECRET: &[u8] = b"kat-webhook-secret-0123456789";
const KAT_TIMESTAMP: i64 = 1_700_000_000;
const KAT_BODY: &[u8] = br#"{"event":"attributes.synced","sessionId":"s-1"}"#;
const KAT_HEADER: &str =
    "t=1700000000,v1=afa96f92406e614b88237bc61a631d6d73506c0cee4e9aed4a89b22d29aedc23";

#[test]
fn the_signature_matches_a_known_answer() {
    assert_eq!(sign(KAT_SECRET, KAT_TIMESTAMP, KAT_BODY), KAT_HEADER);
    let tolerance = Duration::from_secs(300);
    let now = at(KAT_TIMESTAMP + 60);
    assert_eq!(
        verify(KAT_SECRET, KAT_HEADER, KAT_BODY, now, tolerance),
        Ok(())
    );
    // One byte changed anywhere: the body, the MAC, the time, the secret.
    let mut body = KAT_BODY.to_vec();
    let at = body.len() - 3;
    body[at] = b'2';
    assert_eq!(
        verify(KAT_SECRET, KAT_HEADER, &body, now, tolerance),
        Err(VerifyError::Mismatch)
    );
    let mac = KAT_HEADER.replace("dc23", "dc24");
    assert_eq!(
        verify(KAT_SECRET, &mac, KAT_BODY, now, tolerance),
        Err(VerifyError::Mismatch)
    );
    let time = KAT_HEADER.replace("t=1700000000", "t=1700000001");
    assert_eq!(
        verify(KAT_SECRET, &time, KAT_BODY, now, tolerance),
        Err(VerifyError::Mismatch)
    );
    let mut secret = KAT_SECRET.to_vec();
    secret[0] ^= 1;
    assert_eq!(
        verify(&secret, KAT_HEADER, KAT_BODY, now, tolerance),
        Err(VerifyError::Mismatch)
    );
}

/// A delivery's signature header and body.
type Captured = (String, Vec<u8>);

#[tokio::test]
async fn the_sender_signs_the_body_it_sends_with_the_known_scheme() {
    let fake = FakeGenesys::start().await;
    let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
    let capture = seen.clone();
    fake.route(Method::POST, "/external/capture", move |req| {
        let header = req
            .headers
            .get("x-genesys-cloud-signature")
            .cloned()
            .unwrap_or_default();
        capture.lock().unwrap().push((header, req.body.clone()));
        genesys_cloud::testkit::json_response(200, &json!({}))
    });
    let client = fake.client().unwrap();
    let url = format!("{}/external/capture", fake.uri());
    let sender = WebhookSender::new(
        client,
        "kat",
        &url,
        std::str::from_utf8(KAT_SECRET).unwrap(),
    )
    .unwrap();
    sender
        .send(
            "attributes.synced",
            "k-1",
            &json!({"event": "attributes.synced", "sessionId": "s-1"}),
        )
        .await
        .unwrap();
    let (header, body) = seen.lock().unwrap().pop().unwrap();
    assert_eq!(body, KAT_BODY, "the payload as compact JSON");
    let t: i64 = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("t=<unix seconds> first");
    assert_eq!(
        header,
        sign(KAT_SECRET, t, &body),
        "the header `sign` makes, which the known answer pins"
    );
}

#[tokio::test]
async fn the_fakes_receiver_checks_the_time_and_the_mac_itself() {
    let fake = FakeGenesys::start().await;
    let inbox = fake.webhook_receiver("/external/inbox", SECRET);
    let url = format!("{}/external/inbox", fake.uri());
    let http = reqwest::Client::new();
    let now = jiff::Timestamp::now().as_second();
    let body = br#"{"n":1}"#;
    let post = |header: String, key: &'static str| {
        http.post(&url)
            .header("x-genesys-cloud-signature", header)
            .header("x-genesys-cloud-delivery", key)
            .body(body.to_vec())
            .send()
    };
    let fresh = post(sign(SECRET.as_bytes(), now - 10, body), "a")
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    for (header, key) in [
        (sign(SECRET.as_bytes(), now - 3_600, body), "b"),
        (sign(SECRET.as_bytes(), now + 3_600, body), "c"),
        (sign(b"another secret value", now, body), "d"),
        (format!("t={now}"), "e"),
        (format!("t={now},v1=zz"), "f"),
    ] {
        let answer = post(header.clone(), key).await.unwrap();
        assert_eq!(answer.status(), 401, "{header}");
    }
    assert_eq!(inbox.deliveries(), vec![json!({"n": 1})]);
    assert_eq!((inbox.received(), inbox.rejected()), (6, 5));
}

/// A receiver that verifies each delivery and processes each dedupe key once.
fn receiver(fake: &FakeGenesys) -> WebhookInbox {
    fake.webhook_receiver(HOOK, SECRET)
}

#[tokio::test]
async fn deliveries_are_signed_retried_with_one_key_and_deduped() {
    let fake = FakeGenesys::start().await;
    let processed = receiver(&fake);
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    let url = format!("{}{HOOK}", fake.uri());
    let sender = WebhookSender::new(client.clone(), "crm", &url, SECRET).unwrap();

    fake.inject_on(Method::POST, HOOK, Fault::Status(503), 2);
    let delivery = sender
        .send(
            "attributes.synced",
            "sess-1:42",
            &json!({"sessionId": "sess-1"}),
        )
        .await
        .unwrap();
    assert_eq!(delivery.status, 200);
    assert_eq!(clock.sleeps().len(), 2, "retried with backoff");
    let sent = fake.requests_to(Method::POST, HOOK);
    assert_eq!(sent.len(), 3);

    // At-least-once: the same event again is delivered, and the receiver drops the repeat.
    sender
        .send(
            "attributes.synced",
            "sess-1:42",
            &json!({"sessionId": "sess-1"}),
        )
        .await
        .unwrap();
    assert_eq!(processed.deliveries(), vec![json!({"sessionId": "sess-1"})]);
    assert_eq!(
        processed.duplicates(),
        1,
        "the repeat was dropped by its key"
    );
    assert_eq!(
        client.metrics_snapshot().counter("webhook.crm.deliveries"),
        2
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_a_failure_is_counted_and_audited() {
    let fake = FakeGenesys::start().await;
    receiver(&fake);
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .audit_sink(audit.clone())
        .retry_policy(RetryPolicy::default().max_attempts(2))
        .build()
        .unwrap();
    let url = format!("{}{HOOK}", fake.uri());
    let wrong = WebhookSender::new(client.clone(), "crm", &url, "not-the-shared-secret").unwrap();
    let err = wrong
        .send("attributes.synced", "k-1", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));

    fake.inject_on(Method::POST, HOOK, Fault::Status(503), 5);
    let right = WebhookSender::new(client.clone(), "crm", &url, SECRET).unwrap();
    let err = right
        .send("attributes.synced", "k-2", &json!({}))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(client.metrics_snapshot().counter("webhook.crm.failures"), 2);
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.outcome == AuditOutcome::Failure && r.action == "webhook.crm"));
    assert_eq!(records[1].ids["deliveryId"], "k-2");
    assert!(
        !format!("{right:?}").contains(SECRET),
        "the secret is never printed"
    );
}

#[tokio::test]
async fn senders_refuse_plain_http_and_short_secrets() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let err = WebhookSender::new(client.clone(), "crm", "http://crm.example.com/hook", SECRET)
        .unwrap_err();
    assert!(
        err.validation().is_some_and(|v| v.has("url", "https")),
        "{err}"
    );
    let err =
        WebhookSender::new(client, "crm", "https://crm.example.com/hook", "short").unwrap_err();
    assert!(
        err.validation()
            .is_some_and(|v| v.has("secret", "min_length")),
        "{err}"
    );
}

#[tokio::test]
async fn the_fakes_receiver_verifies_and_dedupes() {
    let fake = FakeGenesys::start().await;
    let inbox = fake.webhook_receiver("/external/inbox", SECRET);
    let client = fake.client().unwrap();
    let url = format!("{}/external/inbox", fake.uri());
    let sender = WebhookSender::new(client.clone(), "inbox", &url, SECRET).unwrap();
    sender.send("e", "key-1", &json!({"n": 1})).await.unwrap();
    sender.send("e", "key-1", &json!({"n": 1})).await.unwrap();
    sender.send("e", "key-2", &json!({"n": 2})).await.unwrap();
    let forger = WebhookSender::new(client, "forger", &url, "some-other-secret-value").unwrap();
    assert_eq!(
        forger
            .send("e", "key-3", &json!({"n": 3}))
            .await
            .unwrap_err()
            .status(),
        Some(401)
    );
    assert_eq!(inbox.deliveries(), vec![json!({"n": 1}), json!({"n": 2})]);
    assert_eq!(
        (inbox.received(), inbox.duplicates(), inbox.rejected()),
        (4, 1, 1)
    );
}
