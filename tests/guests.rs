//! Flow 3 (in progress): the guest attribute policy: limits, consent, PII with Luhn.

use std::collections::BTreeMap;

use genesys_cloud::guests::{find_pii, luhn_valid, mask_pii, GuestPolicy, PiiAction, PiiKind};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn consents(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn kinds(value: &str) -> Vec<PiiKind> {
    find_pii(value).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn luhn_true_and_false_positives() {
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "6011111111111117",
    ] {
        assert!(luhn_valid(card), "{card}");
        assert_eq!(
            kinds(&format!("paid with {card} today")),
            [PiiKind::PaymentCard],
            "{card}"
        );
    }
    // Order numbers, tracking numbers and timestamps of card length that fail the checksum.
    for not_card in [
        "4111111111111112",
        "1234567890123",
        "20231115000422",
        "9876543210987654",
    ] {
        assert!(!luhn_valid(not_card), "{not_card}");
        assert!(
            kinds(&format!("order {not_card}")).is_empty(),
            "{not_card} is not a card"
        );
    }
}

#[test]
fn emails_and_phone_numbers_are_found() {
    assert_eq!(
        kinds("write to jane.doe+vip@example.co.uk please"),
        [PiiKind::Email]
    );
    assert_eq!(kinds("call +1 415 555 0199"), [PiiKind::Phone]);
    assert_eq!(
        kinds("call (415) 555-0199 or +44 20 7946 0018"),
        [PiiKind::Phone, PiiKind::Phone]
    );
    assert!(kinds("ticket TCK-2024-0042, version 1.2.3, 555-0199").is_empty());
}

#[test]
fn masking_keeps_a_hint_and_nothing_more() {
    assert_eq!(mask_pii("jane.doe@example.com"), "j***@example.com");
    assert_eq!(
        mask_pii("card 4111 1111 1111 1111, call +14155550199"),
        "card ****1111, call ****0199"
    );
}

#[test]
fn the_policy_rejects_masks_or_counts_pii() {
    let update = attrs(&[("firstName", "Jane"), ("contact", "jane@example.com")]);
    let none = consents(&[]);
    let err = GuestPolicy::default().check(&update, &none).unwrap_err();
    assert!(err.has("attributes.contact", "pii"), "{err}");
    assert!(
        !err.to_string().contains("jane@example.com"),
        "errors never echo the data: {err}"
    );

    let masked = GuestPolicy {
        pii: PiiAction::Mask,
        ..GuestPolicy::default()
    }
    .check(&update, &none)
    .unwrap();
    assert_eq!(masked.attributes["contact"], "j***@example.com");
    assert_eq!(masked.attributes["firstName"], "Jane");
    assert_eq!(masked.findings.len(), 1);

    let counted = GuestPolicy {
        pii: PiiAction::AllowAndCount,
        ..GuestPolicy::default()
    }
    .check(&update, &none)
    .unwrap();
    assert_eq!(counted.attributes["contact"], "jane@example.com");
    assert_eq!(counted.findings[0].kind, PiiKind::Email);
}

#[test]
fn required_consent_must_be_present_and_true() {
    let policy = GuestPolicy {
        required_consents: vec!["analytics".into(), "marketing".into()],
        ..GuestPolicy::default()
    };
    let update = attrs(&[("preferredLanguage", "fr")]);
    let err = policy
        .check(&update, &consents(&[("analytics", false)]))
        .unwrap_err();
    assert!(err.has("consent.analytics", "consent_denied"), "{err}");
    assert!(err.has("consent.marketing", "consent_missing"), "{err}");
    assert!(policy
        .check(
            &update,
            &consents(&[("analytics", true), ("marketing", true)])
        )
        .is_ok());
}

#[test]
fn limits_and_every_violation_at_once() {
    let many: BTreeMap<String, String> = (0..101)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    let err = GuestPolicy::default()
        .check(&many, &consents(&[]))
        .unwrap_err();
    assert!(err.has("attributes", "max_keys"), "{err}");
    assert!(
        !err.has("attributes", "max_custom_data_bytes"),
        "101 short keys stay under 2048 bytes: only the key count is reported: {err}"
    );

    let long = "x".repeat(257);
    let wide = "y".repeat(65);
    let err = GuestPolicy::default()
        .check(
            &attrs(&[
                ("ticket", &long),
                (&wide, "v"),
                ("", "v"),
                ("card", "4111111111111111"),
            ]),
            &consents(&[]),
        )
        .unwrap_err();
    for (field, rule) in [
        ("attributes.ticket".to_owned(), "value_too_long"),
        (format!("attributes.{wide}"), "key_too_long"),
        ("attributes.".to_owned(), "key_empty"),
        ("attributes.card".to_owned(), "pii"),
    ] {
        assert!(err.has(&field, rule), "{field} {rule}: {err}");
    }
    let big: BTreeMap<String, String> = (0..10)
        .map(|i| (format!("key{i}"), "z".repeat(250)))
        .collect();
    let err = GuestPolicy::default()
        .check(&big, &consents(&[]))
        .unwrap_err();
    assert!(err.has("attributes", "max_custom_data_bytes"), "{err}");
    assert!(GuestPolicy::default()
        .check(&BTreeMap::new(), &consents(&[]))
        .unwrap_err()
        .has("attributes", "empty"));
}

// ---- batching ----

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use genesys_cloud::guests::{AttributeBatcher, AttributeSink, BatcherOptions};
use genesys_cloud::observe::Metrics;
use genesys_cloud::{Error, ErrorKind};

struct Recorder {
    sent: Mutex<Vec<(String, BTreeMap<String, String>)>>,
    failing: AtomicBool,
    gate: tokio::sync::Semaphore,
    gated: AtomicBool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            sent: Mutex::default(),
            failing: AtomicBool::new(false),
            gate: tokio::sync::Semaphore::new(0),
            gated: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl AttributeSink for Recorder {
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if self.gated.load(Ordering::SeqCst) {
            let _permit = self.gate.acquire().await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::custom(ErrorKind::Upstream, "the sink is down"));
        }
        self.sent
            .lock()
            .unwrap()
            .push((session_id.to_owned(), attributes.clone()));
        Ok(())
    }
}

fn slow_window() -> BatcherOptions {
    BatcherOptions {
        flush_interval: Duration::from_secs(3600),
        max_batch: 1000,
        queue_capacity: 64,
    }
}

#[tokio::test]
async fn updates_merge_per_session_last_write_wins_in_arrival_order() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(sink.clone(), slow_window(), metrics.clone());
    batcher
        .add("s1", attrs(&[("tier", "silver")]))
        .await
        .unwrap();
    batcher.add("s2", attrs(&[("lang", "fr")])).await.unwrap();
    batcher
        .add("s1", attrs(&[("tier", "gold"), ("topic", "billing")]))
        .await
        .unwrap();
    batcher.flush().await.unwrap();
    let sent = sink.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![
            (
                "s1".to_owned(),
                attrs(&[("tier", "gold"), ("topic", "billing")])
            ),
            ("s2".to_owned(), attrs(&[("lang", "fr")])),
        ]
    );
    let snapshot = metrics.snapshot();
    assert_eq!(
        (
            snapshot.counter("guests.updates"),
            snapshot.counter("guests.batches"),
            snapshot.counter("guests.coalesced_updates")
        ),
        (3, 2, 1)
    );
    batcher.shutdown().await.unwrap();
}

#[tokio::test]
async fn flushes_by_size_and_by_time() {
    let sink = Arc::new(Recorder::default());
    let by_size = AttributeBatcher::start(
        sink.clone(),
        BatcherOptions {
            max_batch: 3,
            ..slow_window()
        },
        Metrics::default(),
    );
    for i in 0..3 {
        by_size
            .add(format!("s{i}"), attrs(&[("k", "v")]))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        sink.sent.lock().unwrap().len(),
        3,
        "the third update filled the batch"
    );

    let timed = Arc::new(Recorder::default());
    let by_time = AttributeBatcher::start(
        timed.clone(),
        BatcherOptions {
            flush_interval: Duration::from_millis(100),
            ..slow_window()
        },
        Metrics::default(),
    );
    by_time.add("s", attrs(&[("k", "v")])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(timed.sent.lock().unwrap().len(), 1, "sent by the interval");
}

#[tokio::test]
async fn a_full_queue_makes_add_wait() {
    let sink = Arc::new(Recorder {
        gated: AtomicBool::new(true),
        ..Recorder::default()
    });
    let batcher = Arc::new(AttributeBatcher::start(
        sink.clone(),
        BatcherOptions {
            max_batch: 1,
            queue_capacity: 2,
            ..slow_window()
        },
        Metrics::default(),
    ));
    // The first update is being sent (held at the gate); two more fill the queue.
    for i in 0..3 {
        batcher
            .add(format!("s{i}"), attrs(&[("k", "v")]))
            .await
            .unwrap();
    }
    let waiting = {
        let b = batcher.clone();
        tokio::spawn(async move { b.add("late", attrs(&[("k", "v")])).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "backpressure: add waits while the queue is full"
    );
    sink.gate.add_permits(100);
    waiting.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_flushes_everything_and_failures_are_kept() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(sink.clone(), slow_window(), metrics.clone());
    sink.failing.store(true, Ordering::SeqCst);
    batcher.add("s1", attrs(&[("a", "1")])).await.unwrap();
    assert!(
        batcher.flush().await.is_ok(),
        "flush reports completion; the failure is kept"
    );
    assert!(sink.sent.lock().unwrap().is_empty());
    sink.failing.store(false, Ordering::SeqCst);
    batcher.add("s1", attrs(&[("b", "2")])).await.unwrap();
    batcher.add("s2", attrs(&[("c", "3")])).await.unwrap();
    batcher.shutdown().await.unwrap();
    let sent = sink.sent.lock().unwrap().clone();
    assert_eq!(
        sent[0],
        ("s1".to_owned(), attrs(&[("a", "1"), ("b", "2")])),
        "the failed update was kept and merged"
    );
    assert_eq!(sent.len(), 2);
    assert_eq!(metrics.snapshot().counter("guests.send_failures"), 1);

    let down = Arc::new(Recorder {
        failing: AtomicBool::new(true),
        ..Recorder::default()
    });
    let batcher = AttributeBatcher::start(down, slow_window(), Metrics::default());
    batcher.add("s", attrs(&[("k", "v")])).await.unwrap();
    assert!(
        batcher.shutdown().await.is_err(),
        "nothing is lost silently"
    );
}

#[tokio::test]
async fn a_thousand_updates_over_fifty_sessions_become_fifty_sends() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(
        sink.clone(),
        BatcherOptions {
            queue_capacity: 2000,
            ..slow_window()
        },
        metrics.clone(),
    );
    for i in 0..1000 {
        batcher
            .add(
                format!("session-{}", i % 50),
                attrs(&[("counter", &i.to_string())]),
            )
            .await
            .unwrap();
    }
    batcher.shutdown().await.unwrap();
    let sent = sink.sent.lock().unwrap();
    assert_eq!(sent.len(), 50);
    assert_eq!(sent[0].1["counter"], "950", "the last write wins");
    assert_eq!(metrics.snapshot().counter("guests.coalesced_updates"), 950);
}

// ---- durable outbox ----

use genesys_cloud::guests::Outbox;

/// A fresh outbox file in the temp directory, removed when dropped.
struct TempPath(std::path::PathBuf);

impl TempPath {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("genesys-outbox-{}.redb", uuid::Uuid::new_v4())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn accepted_updates_survive_a_crash_and_are_removed_once_delivered() {
    let path = TempPath::new();
    {
        let outbox = Outbox::open(&path.0).unwrap();
        outbox.push("s1", &attrs(&[("a", "1")])).await.unwrap();
        outbox.push("s2", &attrs(&[("b", "2")])).await.unwrap();
        // The process dies here: no shutdown, no flush.
    }
    let outbox = Outbox::open(&path.0).unwrap();
    let pending = outbox.pending().unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(
        (
            pending[0].session_id.as_str(),
            pending[1].session_id.as_str()
        ),
        ("s1", "s2"),
        "oldest first"
    );
    let third = outbox.push("s3", &attrs(&[("c", "3")])).await.unwrap();
    assert!(
        third.id > pending[1].id,
        "ids keep increasing after a restart"
    );

    outbox.remove(&[pending[0].id]).await.unwrap();
    let left: Vec<String> = outbox
        .pending()
        .unwrap()
        .into_iter()
        .map(|u| u.session_id)
        .collect();
    assert_eq!(left, ["s2", "s3"]);
}

#[tokio::test]
async fn stale_updates_are_reported_not_dropped_silently() {
    let path = TempPath::new();
    let outbox = Outbox::open(&path.0).unwrap();
    outbox.push("old", &attrs(&[("a", "1")])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    outbox.push("new", &attrs(&[("b", "2")])).await.unwrap();
    let replay = outbox.replay(Duration::from_millis(20)).await.unwrap();
    assert_eq!(replay.stale.len(), 1);
    assert_eq!(replay.stale[0].session_id, "old");
    assert_eq!(
        replay.stale[0].attributes["a"], "1",
        "handed back with its data"
    );
    assert_eq!(replay.fresh.len(), 1);
    assert_eq!(
        outbox.pending().unwrap().len(),
        1,
        "the stale update left the outbox once reported"
    );
}

// ---- guest session on the web messaging websocket ----

use genesys_cloud::guests::{GuestSession, GuestSessionOptions};
use genesys_cloud::testkit::FakeGenesys;

const DEPLOYMENT: &str = "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";

async fn session(fake: &FakeGenesys, token: &str) -> GuestSession {
    GuestSession::connect(
        &fake.web_messaging_uri(),
        DEPLOYMENT,
        token,
        GuestSessionOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_session_sends_attributes_and_resumes_after_a_drop() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    assert!(guest.info().new_session);
    guest
        .send_attributes(&attrs(&[("firstName", "Ada"), ("preferredLanguage", "fr")]))
        .await
        .unwrap();
    assert_eq!(
        fake.guest_attributes(&token).unwrap(),
        attrs(&[("firstName", "Ada"), ("preferredLanguage", "fr")])
    );

    fake.drop_guest_connections();
    guest
        .send_attributes(&attrs(&[("ticketNumber", "TCK-1")]))
        .await
        .unwrap();
    let held = fake.guest_attributes(&token).unwrap();
    assert_eq!(held.len(), 3, "the same session was resumed: {held:?}");
    assert_eq!(fake.guest_connections(), 1);

    let again = session(&fake, &token).await;
    assert!(
        !again.info().new_session,
        "the caller's token resumes the session"
    );
    assert!(
        !format!("{guest:?}").contains(&token),
        "the guest token is never printed"
    );
}

#[tokio::test]
async fn platform_error_frames_are_typed_errors() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    let big: BTreeMap<String, String> = (0..10)
        .map(|i| (format!("key{i}"), "v".repeat(250)))
        .collect();
    let err = guest.send_attributes(&big).await.unwrap_err();
    assert_eq!(err.status(), Some(4013), "{err}");
    assert!(err.to_string().contains("2048"), "{err}");
    assert!(!err.to_string().contains(&token));

    fake.expire_guest_session(&token);
    let err = guest
        .send_attributes(&attrs(&[("a", "1")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");

    fake.forbid_deployment("forbidden-deployment");
    let err = GuestSession::connect(
        &fake.web_messaging_uri(),
        "forbidden-deployment",
        "t",
        GuestSessionOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
}

#[tokio::test]
async fn a_rate_limited_message_is_sent_after_retry_after() {
    let fake = FakeGenesys::start().await;
    fake.set_guest_rate_limit(1);
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    guest.send_attributes(&attrs(&[("a", "1")])).await.unwrap();
    let started = std::time::Instant::now();
    guest.send_attributes(&attrs(&[("b", "2")])).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the platform's retryAfter"
    );
    assert_eq!(fake.guest_attributes(&token).unwrap().len(), 2);
    assert_eq!(fake.guest_messages(&token), 2);
}

// ---- the injector: outbox replay, sinks, CRM ----

use genesys_cloud::guests::{GuestAttributes, ParticipantSink, WebMessagingSink};
use genesys_cloud::testkit::Fault;
use genesys_cloud::Method;

#[tokio::test]
async fn a_crash_mid_flush_loses_nothing_and_the_restart_delivers_once() {
    let path = TempPath::new();
    let down = Arc::new(Recorder {
        failing: AtomicBool::new(true),
        ..Recorder::default()
    });
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let (first_run, replay) = GuestAttributes::builder(client.clone(), down.clone())
        .outbox(&path.0)
        .start()
        .await
        .unwrap();
    assert_eq!(replay.unwrap().fresh.len(), 0);
    first_run
        .add("s1", attrs(&[("firstName", "Ada")]), consents(&[]))
        .await
        .unwrap();
    first_run
        .add("s2", attrs(&[("lang", "fr")]), consents(&[]))
        .await
        .unwrap();
    first_run
        .add("s1", attrs(&[("ticketNumber", "TCK-7")]), consents(&[]))
        .await
        .unwrap();
    first_run.flush().await.unwrap(); // the sink is down: nothing accepted
    drop(first_run); // the process dies: no shutdown

    let up = Arc::new(Recorder::default());
    // A restarted process finds the file lock released; here the aborted task lets go of
    // it a moment later.
    let mut started = None;
    for _ in 0..100 {
        match GuestAttributes::builder(client.clone(), up.clone())
            .outbox(&path.0)
            .start()
            .await
        {
            Ok(run) => {
                started = Some(run);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let (second_run, replay) = started.expect("the outbox reopens");
    assert_eq!(
        replay.unwrap().fresh.len(),
        3,
        "every accepted update was on disk"
    );
    second_run.shutdown().await.unwrap();
    let sent = up.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![
            (
                "s1".to_owned(),
                attrs(&[("firstName", "Ada"), ("ticketNumber", "TCK-7")])
            ),
            ("s2".to_owned(), attrs(&[("lang", "fr")])),
        ]
    );
    let (third_run, replay) = GuestAttributes::builder(fake.client().unwrap(), up.clone())
        .outbox(&path.0)
        .start()
        .await
        .unwrap();
    assert_eq!(
        replay.unwrap().fresh.len(),
        0,
        "delivered updates left the outbox: nothing is sent twice"
    );
    third_run.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_participant_sink_merges_and_retries_on_409() {
    let fake = FakeGenesys::start().await;
    let c = fake.seed_message_conversation();
    let client = fake.client().unwrap();
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    sink.register("s1", &c.conversation_id, &c.customer_participant_id);
    let path =
        "/api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes";
    fake.inject_on(Method::PATCH, path, Fault::Status(409), 2);
    sink.send("s1", &attrs(&[("tier", "gold")])).await.unwrap();
    assert_eq!(
        fake.participant_attributes(&c.conversation_id, &c.customer_participant_id)
            .unwrap()["tier"],
        "gold"
    );
    assert_eq!(client.metrics_snapshot().counter("guests.conflicts"), 2);

    fake.inject_on(Method::PATCH, path, Fault::Status(409), 4);
    let err = sink
        .send("s1", &attrs(&[("tier", "platinum")]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "at most 3 retries");
    assert!(matches!(
        sink.send("unknown", &attrs(&[("a", "1")])).await,
        Err(e) if e.kind() == ErrorKind::NotFound
    ));
}

#[tokio::test]
async fn crm_sync_is_signed_and_an_outage_never_blocks_the_platform_send() {
    const SECRET: &str = "crm-webhook-secret-0123456789";
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let token = uuid::Uuid::new_v4().to_string();
    let sink = Arc::new(WebMessagingSink::new());
    sink.register(
        "guest-1",
        GuestSession::connect(
            &fake.web_messaging_uri(),
            DEPLOYMENT,
            &token,
            GuestSessionOptions::default(),
        )
        .await
        .unwrap(),
    );
    let client = fake
        .client_builder()
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    let policy = GuestPolicy {
        required_consents: vec!["crmSync".into()],
        ..GuestPolicy::default()
    };
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .policy(policy)
        .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
        .start()
        .await
        .unwrap();

    guests
        .add(
            "guest-1",
            attrs(&[("firstName", "Ada")]),
            consents(&[("crmSync", true)]),
        )
        .await
        .unwrap();
    guests.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.guest_attributes(&token).unwrap()["firstName"], "Ada");
    let crm = crm_inbox.deliveries();
    assert_eq!(crm.len(), 1);
    assert_eq!(crm[0]["sessionId"], "guest-1");
    assert_eq!(crm[0]["attributes"]["firstName"], "Ada");
    assert_eq!(crm[0]["consentFlags"]["crmSync"], true);
    assert!(
        !crm[0].to_string().contains(&token),
        "the guest token never leaves the session"
    );

    fake.inject_on(Method::POST, "/external/crm", Fault::Status(503), 5);
    guests
        .add(
            "guest-1",
            attrs(&[("lang", "fr")]),
            consents(&[("crmSync", true)]),
        )
        .await
        .unwrap();
    guests.flush().await.unwrap();
    assert_eq!(
        fake.guest_attributes(&token).unwrap()["lang"],
        "fr",
        "the platform send went through"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = client.metrics_snapshot();
    assert_eq!(m.counter("webhook.crm.failures"), 1);
    assert_eq!(m.counter("guests.crm_failures"), 1);

    let err = guests
        .add("guest-1", attrs(&[("x", "y")]), consents(&[]))
        .await
        .unwrap_err();
    assert!(err
        .validation()
        .is_some_and(|v| v.has("consent.crmSync", "consent_missing")));
    let err = guests
        .add(
            "guest-1",
            attrs(&[("mail", "ada@example.com")]),
            consents(&[("crmSync", true)]),
        )
        .await
        .unwrap_err();
    assert!(err.validation().is_some_and(|v| v.has_rule("pii")));
    let m = client.metrics_snapshot();
    assert_eq!(
        (
            m.counter("guests.rejected"),
            m.counter("guests.consent_violations"),
            m.counter("guests.pii_rejections")
        ),
        (2, 1, 1)
    );
    guests.shutdown().await.unwrap();
}
