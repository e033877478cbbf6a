//! Guest attributes: the policy, the batcher, the durable outbox, the guest session on the
//! Web Messaging Guest API (against the fake), the sinks and the CRM sync.

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

    let masked = GuestPolicy::default()
        .pii(PiiAction::Mask)
        .check(&update, &none)
        .unwrap();
    assert_eq!(masked.attributes["contact"], "j***@example.com");
    assert_eq!(masked.attributes["firstName"], "Jane");
    assert_eq!(masked.findings.len(), 1);

    let counted = GuestPolicy::default()
        .pii(PiiAction::AllowAndCount)
        .check(&update, &none)
        .unwrap();
    assert_eq!(counted.attributes["contact"], "jane@example.com");
    assert_eq!(counted.findings[0].kind, PiiKind::Email);
}

#[tokio::test]
async fn an_unusable_policy_is_refused_at_start() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    let err = GuestAttributes::builder(client, sink)
        .policy(
            GuestPolicy::default()
                .max_keys(0)
                .max_value_chars(5000)
                .required_consents([" "]),
        )
        .start()
        .await
        .unwrap_err();
    let v = err.validation().expect("a validation error");
    assert!(v.has("policy.maxKeys", "min"), "{err}");
    assert!(v.has("policy.maxValueChars", "range"), "{err}");
    assert!(v.has("policy.requiredConsents", "empty"), "{err}");
}

#[test]
fn required_consent_must_be_present_and_true() {
    let policy = GuestPolicy::default().required_consents(["analytics", "marketing"]);
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use genesys_cloud::guests::{
    AttributeBatcher, AttributeSink, BatcherOptions, DeadLetterReason, GuestAttributes,
    ParticipantSink, WebMessagingSink,
};
use genesys_cloud::observe::{AuditOutcome, MemoryAuditSink, Metrics};
use genesys_cloud::testkit::{FakeGenesys, Fault};
use genesys_cloud::{Error, ErrorKind, Method};

/// A sink that records what it accepted and counts every call per session. Sessions in
/// `refuse` get that error; `hang` sessions never answer; with `gated`, every call waits
/// for a permit first.
struct Recorder {
    sent: Mutex<Vec<(String, BTreeMap<String, String>)>>,
    calls: Mutex<HashMap<String, usize>>,
    refuse: Mutex<HashMap<String, ErrorKind>>,
    hang: Mutex<Vec<String>>,
    failing: AtomicBool,
    gate: tokio::sync::Semaphore,
    gated: AtomicBool,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            sent: Mutex::default(),
            calls: Mutex::default(),
            refuse: Mutex::default(),
            hang: Mutex::default(),
            failing: AtomicBool::new(false),
            gate: tokio::sync::Semaphore::new(0),
            gated: AtomicBool::new(false),
        }
    }
}

impl Recorder {
    fn failing() -> Self {
        Self {
            failing: AtomicBool::new(true),
            ..Self::default()
        }
    }

    fn calls(&self, session: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(session)
            .copied()
            .unwrap_or(0)
    }

    fn sent_to(&self, session: &str) -> Vec<BTreeMap<String, String>> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter(|(s, _)| s == session)
            .map(|(_, a)| a.clone())
            .collect()
    }
}

#[async_trait]
impl AttributeSink for Recorder {
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(session_id.to_owned())
            .or_default() += 1;
        if self.hang.lock().unwrap().iter().any(|s| s == session_id) {
            std::future::pending::<()>().await;
        }
        if self.gated.load(Ordering::SeqCst) {
            let _permit = self.gate.acquire().await;
        }
        if let Some(kind) = self.refuse.lock().unwrap().get(session_id) {
            return Err(Error::custom(*kind, "the sink refuses this session"));
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

/// Polls `done` every 10 ms of real time for up to 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 10 s: {what}");
}

fn slow_window() -> genesys_cloud::guests::BatcherOptionsBuilder {
    BatcherOptions::builder()
        .flush_interval(Duration::from_secs(3600))
        .max_batch(1000)
        .max_pending(64)
}

#[tokio::test]
async fn updates_merge_per_session_last_write_wins_in_arrival_order() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    // One send at a time: sessions go in the order of their first update.
    let options = slow_window().max_concurrent_sends(1).build().unwrap();
    let batcher = AttributeBatcher::start(sink.clone(), options, metrics.clone());
    batcher.add("s1", attrs(&[("tier", "silver")])).unwrap();
    batcher.add("s2", attrs(&[("lang", "fr")])).unwrap();
    batcher
        .add("s1", attrs(&[("tier", "gold"), ("topic", "billing")]))
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
    assert_eq!(batcher.pending(), 0, "delivered updates free their places");
    batcher.shutdown().await.unwrap();
}

/// Paused time: a sleep returns once every task has done what it can, and the clock moves
/// only as far as the sleep asks.
#[tokio::test(start_paused = true)]
async fn flushes_by_size_and_by_time() {
    let sink = Arc::new(Recorder::default());
    let by_size = AttributeBatcher::start(
        sink.clone(),
        slow_window().max_batch(3).build().unwrap(),
        Metrics::default(),
    );
    for i in 0..2 {
        by_size.add(format!("s{i}"), attrs(&[("k", "v")])).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        sink.sent.lock().unwrap().is_empty(),
        "two of three: no send"
    );
    by_size.add("s2", attrs(&[("k", "v")])).unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        sink.sent.lock().unwrap().len(),
        3,
        "the third update filled the batch (the interval is an hour)"
    );

    let timed = Arc::new(Recorder::default());
    let by_time = AttributeBatcher::start(
        timed.clone(),
        slow_window()
            .flush_interval(Duration::from_millis(100))
            .build()
            .unwrap(),
        Metrics::default(),
    );
    by_time.add("s", attrs(&[("k", "v")])).unwrap();
    tokio::time::sleep(Duration::from_millis(99)).await;
    assert!(
        timed.sent.lock().unwrap().is_empty(),
        "not before the interval"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(timed.sent.lock().unwrap().len(), 1, "sent by the interval");
}

#[tokio::test]
async fn a_full_batcher_refuses_at_once_and_frees_places_on_delivery() {
    let sink = Arc::new(Recorder {
        gated: AtomicBool::new(true),
        ..Recorder::default()
    });
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(
        sink.clone(),
        slow_window().max_batch(1).max_pending(2).build().unwrap(),
        metrics.clone(),
    );
    batcher.add("s0", attrs(&[("k", "v")])).unwrap();
    batcher.add("s1", attrs(&[("k", "v")])).unwrap();
    let err = batcher.add("late", attrs(&[("k", "v")])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LocalLimit, "{err}");
    assert_eq!(metrics.snapshot().counter("guests.pending_full"), 1);
    assert_eq!(batcher.pending(), 2);
    sink.gate.add_permits(100);
    batcher.flush().await.unwrap();
    batcher
        .add("late", attrs(&[("k", "v")]))
        .expect("delivered updates freed their places");
    batcher.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_sends_everything_and_hands_back_what_it_could_not() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(
        sink.clone(),
        slow_window().build().unwrap(),
        metrics.clone(),
    );
    sink.failing.store(true, Ordering::SeqCst);
    batcher.add("s1", attrs(&[("a", "1")])).unwrap();
    assert!(
        batcher.flush().await.is_ok(),
        "flush reports completion; the failure is kept for a retry"
    );
    assert!(sink.sent.lock().unwrap().is_empty());
    sink.failing.store(false, Ordering::SeqCst);
    batcher.add("s1", attrs(&[("b", "2")])).unwrap();
    batcher.add("s2", attrs(&[("c", "3")])).unwrap();
    batcher.shutdown().await.unwrap();
    assert_eq!(
        sink.sent_to("s1"),
        [attrs(&[("a", "1"), ("b", "2")])],
        "the failed update was kept and merged"
    );
    assert_eq!(sink.sent_to("s2"), [attrs(&[("c", "3")])]);
    assert_eq!(metrics.snapshot().counter("guests.send_failures"), 1);

    let down = Arc::new(Recorder::failing());
    let batcher = AttributeBatcher::start(down, slow_window().build().unwrap(), Metrics::default());
    let dead = batcher.dead_letters();
    batcher.add("s", attrs(&[("k", "v")])).unwrap();
    let err = batcher.shutdown().await.unwrap_err();
    assert!(err.to_string().contains("1 update(s)"), "{err}");
    let letters = dead.drain();
    assert_eq!(letters.len(), 1, "nothing is lost silently");
    assert_eq!(letters[0].reason, DeadLetterReason::Shutdown);
    assert_eq!(letters[0].attributes, attrs(&[("k", "v")]));
    assert!(
        !format!("{letters:?}").contains("\"v\""),
        "Debug shows keys, not values: {letters:?}"
    );
}

#[tokio::test]
async fn a_thousand_updates_over_fifty_sessions_become_fifty_sends() {
    let sink = Arc::new(Recorder::default());
    let metrics = Metrics::default();
    let batcher = AttributeBatcher::start(
        sink.clone(),
        slow_window().max_pending(2000).build().unwrap(),
        metrics.clone(),
    );
    for i in 0..1000 {
        batcher
            .add(
                format!("session-{}", i % 50),
                attrs(&[("counter", &i.to_string())]),
            )
            .unwrap();
    }
    batcher.shutdown().await.unwrap();
    assert_eq!(sink.sent.lock().unwrap().len(), 50);
    assert_eq!(
        sink.sent_to("session-0")[0]["counter"],
        "950",
        "the last write wins"
    );
    assert_eq!(metrics.snapshot().counter("guests.coalesced_updates"), 950);
}

/// Paused time: the sleeps below outlast every retry wait (10-20 ms) many times over,
/// whatever the machine's speed.
#[tokio::test(start_paused = true)]
async fn a_permanent_sink_error_is_dead_lettered_counted_audited_and_not_retried() {
    let fake = FakeGenesys::start().await;
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .audit_sink(audit.clone())
        .build()
        .unwrap();
    let sink = Arc::new(Recorder::default());
    sink.refuse
        .lock()
        .unwrap()
        .insert("gone".to_owned(), ErrorKind::NotFound);
    let (guests, _) = GuestAttributes::builder(client.clone(), sink.clone())
        .batching(
            slow_window()
                .retry_waits(Duration::from_millis(10), Duration::from_millis(20))
                .build()
                .unwrap(),
        )
        .start()
        .await
        .unwrap();
    guests
        .add("gone", attrs(&[("tier", "gold")]), consents(&[]))
        .await
        .unwrap();
    guests
        .add("fine", attrs(&[("lang", "fr")]), consents(&[]))
        .await
        .unwrap();
    for _ in 0..3 {
        guests.flush().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(sink.calls("gone"), 1, "a permanent error is not retried");
    assert_eq!(sink.sent_to("fine"), [attrs(&[("lang", "fr")])]);
    let letters = guests.dead_letters().drain();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].session_id, "gone");
    assert_eq!(letters[0].reason, DeadLetterReason::Rejected);
    assert_eq!(letters[0].attempts, 1);
    assert_eq!(letters[0].attributes, attrs(&[("tier", "gold")]));
    assert_eq!(
        letters[0].error.as_ref().map(Error::kind),
        Some(ErrorKind::NotFound)
    );
    assert_eq!(client.metrics_snapshot().counter("guests.dead_letters"), 1);
    let records = audit.records();
    let record = records
        .iter()
        .find(|r| r.action == "guests.dead_letter.rejected")
        .expect("audited");
    assert_eq!(record.outcome, AuditOutcome::Failure);
    assert_eq!(record.ids["sessionId"], "gone");
    assert_eq!(record.keys, ["tier"]);
    assert!(
        !serde_json::to_string(record).unwrap().contains("gold"),
        "never the value"
    );
    guests.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failing_session_is_retried_with_growing_waits_then_dead_lettered_and_never_resent_per_add(
) {
    let sink = Arc::new(Recorder::default());
    sink.refuse
        .lock()
        .unwrap()
        .insert("down".to_owned(), ErrorKind::Upstream);
    let metrics = Metrics::default();
    let options = BatcherOptions::builder()
        .flush_interval(Duration::from_secs(3600))
        .max_batch(1)
        .max_attempts(4)
        .retry_waits(Duration::from_secs(1), Duration::from_secs(8))
        .build()
        .unwrap();
    let batcher = AttributeBatcher::start(sink.clone(), options, metrics.clone());
    let dead = batcher.dead_letters();
    batcher.add("down", attrs(&[("a", "1")])).unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(sink.calls("down"), 1);
    // Every add fills a batch of one and flushes: the failing session waits out its
    // backoff instead of being sent again each time.
    for i in 0..50 {
        batcher
            .add(format!("ok-{i}"), attrs(&[("k", "v")]))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(sink.calls("down"), 1, "not resent on every add");
    assert_eq!(sink.sent.lock().unwrap().len(), 50);
    let started = tokio::time::Instant::now();
    while dead.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "gave up in time"
        );
    }
    assert_eq!(sink.calls("down"), 4, "max_attempts");
    // Waits of at least 1, 2 and 4 s (with jitter on top, capped at 8 s each).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(6) && waited <= Duration::from_secs(25),
        "{waited:?}"
    );
    let letter = &dead.snapshot()[0];
    assert_eq!(letter.reason, DeadLetterReason::RetriesExhausted);
    assert_eq!(letter.attempts, 4);
    assert_eq!(metrics.snapshot().counter("guests.retries"), 3);
    assert_eq!(batcher.pending(), 0, "dead letters free their places");
    batcher.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_hung_sink_call_times_out_and_delays_no_other_session() {
    let sink = Arc::new(Recorder::default());
    sink.hang.lock().unwrap().push("stuck".to_owned());
    let options = slow_window()
        .send_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let batcher = AttributeBatcher::start(sink.clone(), options, Metrics::default());
    batcher.add("stuck", attrs(&[("a", "1")])).unwrap();
    batcher.add("fine", attrs(&[("b", "2")])).unwrap();
    let started = tokio::time::Instant::now();
    batcher.flush().await.unwrap();
    assert_eq!(sink.sent_to("fine"), [attrs(&[("b", "2")])]);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "flush returns once the stuck send timed out"
    );
    assert_eq!(batcher.pending(), 1, "the stuck update waits for its retry");
}

#[test]
fn options_out_of_range_are_errors_not_clamped() {
    let err = BatcherOptions::builder()
        .flush_interval(Duration::ZERO)
        .max_batch(0)
        .max_pending(0)
        .max_concurrent_sends(0)
        .max_attempts(0)
        .retry_waits(Duration::from_secs(2), Duration::from_secs(1))
        .build()
        .unwrap_err();
    for (field, rule) in [
        ("flushInterval", "positive"),
        ("maxBatch", "min"),
        ("maxPending", "min"),
        ("maxConcurrentSends", "range"),
        ("maxAttempts", "min"),
        ("maxRetryWait", "range"),
    ] {
        assert!(err.has(field, rule), "{field} {rule}: {err}");
    }
    let err = GuestSessionOptions::builder()
        .echo_interval(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(err.has("echoInterval", "min"), "{err}");
    assert!(err.has("requestTimeout", "range"), "{err}");
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
        outbox
            .push("s1", &attrs(&[("a", "1")]), &consents(&[("crmSync", true)]))
            .await
            .unwrap();
        outbox
            .push("s2", &attrs(&[("b", "2")]), &consents(&[]))
            .await
            .unwrap();
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
    assert_eq!(pending[0].consents, consents(&[("crmSync", true)]));
    assert!(
        !format!("{pending:?}").contains("\"1\""),
        "Debug shows keys, not values: {pending:?}"
    );
    let third = outbox
        .push("s3", &attrs(&[("c", "3")]), &consents(&[]))
        .await
        .unwrap();
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
async fn stale_updates_are_handed_back_before_they_are_deleted() {
    let path = TempPath::new();
    let outbox = Outbox::open(&path.0).unwrap();
    outbox
        .push("old", &attrs(&[("a", "1")]), &consents(&[]))
        .await
        .unwrap();
    // The outbox stamps updates with the wall clock: "old" is 2 s older than "new".
    let gap = Duration::from_secs(2);
    tokio::time::sleep(gap).await;
    let new_pushed = std::time::Instant::now();
    outbox
        .push("new", &attrs(&[("b", "2")]), &consents(&[]))
        .await
        .unwrap();
    // A limit halfway between their ages, however long the synced writes took: "new"
    // stays fresh unless the replay reads its clock a whole second after this.
    let staleness = || new_pushed.elapsed() + gap / 2;
    let replay = outbox.replay(staleness()).await.unwrap();
    assert_eq!(replay.stale.len(), 1);
    assert_eq!(replay.stale[0].session_id, "old");
    assert_eq!(
        replay.stale[0].attributes["a"], "1",
        "handed back with its data"
    );
    assert_eq!(replay.fresh.len(), 1);
    assert_eq!(
        outbox.pending().unwrap().len(),
        2,
        "the stale update stays until the caller has dealt with it"
    );
    let again = outbox.replay(staleness()).await.unwrap();
    assert_eq!(again.stale.len(), 1, "and is handed back again meanwhile");
    replay.acknowledge_stale().await.unwrap();
    let left: Vec<String> = outbox
        .pending()
        .unwrap()
        .into_iter()
        .map(|u| u.session_id)
        .collect();
    assert_eq!(left, ["new"], "acknowledged: gone");
}

#[tokio::test]
async fn a_full_batcher_fails_add_fast_before_the_outbox_is_written() {
    let path = TempPath::new();
    let fake = FakeGenesys::start().await;
    let sink = Arc::new(Recorder::default());
    sink.hang.lock().unwrap().push("s0".to_owned());
    let (guests, _) = GuestAttributes::builder(fake.client().unwrap(), sink)
        .outbox(&path.0)
        .batching(slow_window().max_batch(1).max_pending(1).build().unwrap())
        .start()
        .await
        .unwrap();
    guests
        .add("s0", attrs(&[("a", "1")]), consents(&[]))
        .await
        .unwrap();
    // s0's send hangs forever: an add that waited for a place would never return (10 s
    // only bounds how long a failure takes to show).
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        guests.add("s1", attrs(&[("b", "2")]), consents(&[])),
    )
    .await
    .expect("add never waits");
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::LocalLimit);
    drop(guests);
    let outbox = reopen(&path.0).await;
    let stored: Vec<String> = outbox
        .pending()
        .unwrap()
        .into_iter()
        .map(|u| u.session_id)
        .collect();
    assert_eq!(stored, ["s0"], "the refused update was never stored");
}

/// Opens an outbox a dropped run still held: its aborted tasks let go of the file a
/// moment later (a restarted process finds it released at once).
async fn reopen(path: &std::path::Path) -> Outbox {
    for _ in 0..1_000 {
        if let Ok(outbox) = Outbox::open(path) {
            return outbox;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the outbox did not reopen")
}

// ---- guest session on the web messaging websocket ----

use genesys_cloud::guests::{GuestSession, GuestSessionOptions};

const DEPLOYMENT: &str = "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";

async fn session(fake: &FakeGenesys, token: &str) -> GuestSession {
    GuestSession::connect(
        &fake.client().unwrap(),
        DEPLOYMENT,
        token,
        GuestSessionOptions::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_configure_answer_without_tracing_id_is_accepted() {
    // The fake answers configureSession as the SDK's fixtures show: a SessionResponse
    // with no tracingId (and maxCustomDataBytes as a number).
    let fake = FakeGenesys::start().await;
    let options = GuestSessionOptions::builder()
        .response_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let guest = GuestSession::connect(&fake.client().unwrap(), DEPLOYMENT, "t-1", options)
        .await
        .expect("recognised by its class");
    assert!(guest.info().new_session);
    assert_eq!(guest.info().max_custom_data_bytes, Some(2048));
}

#[tokio::test]
async fn a_session_sends_attributes_on_messages_and_resumes_after_a_drop() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    assert!(guest.info().new_session);
    guest
        .auto_start(&attrs(&[("firstName", "Ada"), ("preferredLanguage", "fr")]))
        .await
        .unwrap();
    assert_eq!(
        fake.guest_attributes(&token).unwrap(),
        attrs(&[("firstName", "Ada"), ("preferredLanguage", "fr")])
    );
    let again = guest.auto_start(&attrs(&[("a", "1")])).await.unwrap_err();
    assert_eq!(
        again.kind(),
        ErrorKind::Conflict,
        "auto-start is once: {again}"
    );

    fake.drop_guest_connections();
    // A message sent while the drop is on its way fails (it may have arrived) rather than
    // being sent twice; once the session noticed, it reconnects and resumes.
    while fake.guest_connections() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    guest
        .send_message("my ticket", &attrs(&[("ticketNumber", "TCK-1")]))
        .await
        .unwrap();
    let held = fake.guest_attributes(&token).unwrap();
    assert_eq!(held.len(), 3, "the same session was resumed: {held:?}");
    assert_eq!(fake.guest_connections(), 1);

    let other = session(&fake, &token).await;
    assert!(
        !other.info().new_session,
        "the caller's token resumes the session"
    );
    assert!(
        !format!("{guest:?}").contains(&token),
        "the guest token is never printed"
    );
    guest.close().await.unwrap();
    let closed = guest.send_message("hi", &attrs(&[])).await.unwrap_err();
    assert_eq!(closed.kind(), ErrorKind::Closed, "{closed}");
}

/// A guest session whose reconnects start at once (the default waits 1 s first).
async fn quick_session(fake: &FakeGenesys, token: &str) -> GuestSession {
    let options = GuestSessionOptions::builder()
        .reconnect_waits(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap();
    GuestSession::connect(&fake.client().unwrap(), DEPLOYMENT, token, options)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_auto_start_lost_with_its_socket_is_sent_again_once_the_session_shows_it_did_not_arrive()
{
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = quick_session(&fake, &token).await;
    assert!(guest.info().new_session);
    // The socket dies as the start goes out: the start never reaches the platform.
    fake.drop_guest_connection_at_next_message(&token, false);
    guest
        .auto_start(&attrs(&[("entryPage", "pricing")]))
        .await
        .expect("the session, still new after the reconnect, was started again");
    assert_eq!(fake.guest_messages(&token), 1, "started exactly once");
    assert_eq!(
        fake.guest_attributes(&token).unwrap(),
        attrs(&[("entryPage", "pricing")])
    );
    let again = guest.auto_start(&attrs(&[("a", "1")])).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
}

#[tokio::test]
async fn an_auto_start_whose_answer_was_lost_is_not_sent_twice() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = quick_session(&fake, &token).await;
    // The start arrives; the socket dies before its answer.
    fake.drop_guest_connection_at_next_message(&token, true);
    guest
        .auto_start(&attrs(&[("entryPage", "pricing")]))
        .await
        .expect("the session, no longer new after the reconnect, had been started");
    assert_eq!(fake.guest_messages(&token), 1, "not sent twice");
    let again = guest.auto_start(&attrs(&[("a", "1")])).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
}

#[tokio::test]
async fn a_text_message_lost_with_its_socket_may_have_arrived_and_is_not_sent_twice() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = quick_session(&fake, &token).await;
    guest.auto_start(&attrs(&[])).await.unwrap();
    fake.drop_guest_connection_at_next_message(&token, true);
    let err = guest
        .send_message("hello", &attrs(&[("a", "1")]))
        .await
        .unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    assert_eq!(fake.guest_messages(&token), 2, "sent once, never again");
}

#[tokio::test]
async fn max_custom_data_bytes_is_a_number_and_checked_in_utf8_bytes() {
    let fake = FakeGenesys::start().await;
    fake.set_guest_custom_data_limit(100.0);
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    assert_eq!(
        guest.info().max_custom_data_bytes,
        Some(100),
        "read from 100.0"
    );
    // 1 + 99 bytes: exactly the limit is allowed.
    let exact = attrs(&[("k", &"v".repeat(99))]);
    guest.send_message("hi", &exact).await.unwrap();
    // "é" is 2 bytes in UTF-8: 1 + 2 * 50 = 101 bytes, though 51 characters.
    let over = attrs(&[("k", &"é".repeat(50))]);
    let err = guest.send_message("hi", &over).await.unwrap_err();
    assert!(
        err.validation()
            .is_some_and(|v| v.has("attributes", "max_custom_data_bytes")),
        "{err}"
    );
    assert_eq!(fake.guest_messages(&token), 1, "refused before sending");
}

#[tokio::test]
async fn platform_error_frames_are_typed_errors() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let guest = session(&fake, &token).await;
    // The platform lowers its limit after configure: its 4013 (no tracingId) fails this
    // message only.
    fake.set_guest_custom_data_limit(10.0);
    let err = guest
        .send_message("hi", &attrs(&[("key", "a value of 20 bytes")]))
        .await
        .unwrap_err();
    assert_eq!(err.api().and_then(|a| a.code()), Some("4013"), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains(&token));
    guest.send_message("still here", &attrs(&[])).await.unwrap();

    fake.expire_guest_session(&token);
    let err = guest
        .send_message("hi", &attrs(&[("a", "1")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err:?}");

    fake.forbid_deployment("forbidden-deployment");
    let err = GuestSession::connect(
        &fake.client().unwrap(),
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
    guest
        .send_message("one", &attrs(&[("a", "1")]))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    guest
        .send_message("two", &attrs(&[("b", "2")]))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited the platform's retryAfter"
    );
    assert_eq!(fake.guest_attributes(&token).unwrap().len(), 2);
    assert_eq!(fake.guest_messages(&token), 2);
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_stops_answering_is_replaced() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let token = uuid::Uuid::new_v4().to_string();
    let guest = GuestSession::connect(&client, DEPLOYMENT, token.as_str(), Default::default())
        .await
        .unwrap();
    fake.stall_guest_session(&token);
    // No pong for 30 s: the socket is declared dead and the session reconnects (and the
    // fake, still stalling this session, hangs again after each configure).
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert!(
        client
            .metrics_snapshot()
            .counter("guests.session.reconnects")
            >= 1,
        "the dead socket was replaced"
    );
    drop(guest);
}

#[tokio::test(start_paused = true)]
async fn one_hung_guest_session_delays_no_other() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let sink = Arc::new(WebMessagingSink::new());
    let hung = uuid::Uuid::new_v4().to_string();
    let healthy = uuid::Uuid::new_v4().to_string();
    for (id, token) in [("hung", &hung), ("healthy", &healthy)] {
        let guest = GuestSession::connect(&client, DEPLOYMENT, token.as_str(), Default::default())
            .await
            .unwrap();
        sink.register(id, guest);
    }
    // Accepts the socket, answered configure, and now answers nothing, pings included.
    fake.stall_guest_session(&hung);
    let batcher = AttributeBatcher::start(sink, slow_window().build().unwrap(), Metrics::default());
    batcher.add("hung", attrs(&[("a", "1")])).unwrap();
    batcher.add("healthy", attrs(&[("b", "2")])).unwrap();
    let started = tokio::time::Instant::now();
    let flushed = tokio::spawn(async move {
        batcher.flush().await.unwrap();
        batcher
    });
    while !fake
        .guest_attributes(&healthy)
        .is_some_and(|a| a.contains_key("b"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the healthy session's update is late"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!fake.guest_attributes(&hung).unwrap().contains_key("a"));
    // The hung send ends within the session's response timeout, and waits for a retry.
    let batcher = flushed.await.unwrap();
    assert!(
        started.elapsed() <= Duration::from_secs(11),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(batcher.pending(), 1);
}

#[tokio::test]
async fn the_web_messaging_sink_auto_starts_once_then_says_to_use_the_participant_sink() {
    let fake = FakeGenesys::start().await;
    let token = uuid::Uuid::new_v4().to_string();
    let sink = Arc::new(WebMessagingSink::new());
    sink.register("g", session(&fake, &token).await);
    let batcher = AttributeBatcher::start(
        sink.clone(),
        slow_window().build().unwrap(),
        Metrics::default(),
    );
    batcher.add("g", attrs(&[("firstName", "Ada")])).unwrap();
    batcher.flush().await.unwrap();
    assert_eq!(fake.guest_attributes(&token).unwrap()["firstName"], "Ada");
    batcher.add("g", attrs(&[("lang", "fr")])).unwrap();
    batcher.flush().await.unwrap();
    let letters = batcher.dead_letters().drain();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].reason, DeadLetterReason::Rejected);
    let err = letters[0].error.clone().unwrap();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("ParticipantSink"), "{err}");
    assert_eq!(
        fake.guest_messages(&token),
        1,
        "one auto-start, nothing more"
    );
    batcher.shutdown().await.unwrap();
}

// ---- the injector: outbox replay, sinks, CRM ----

const SECRET: &str = "crm-webhook-secret-0123456789";

#[tokio::test]
async fn a_kill_mid_flush_loses_no_accepted_update_and_the_restart_replays_consents() {
    let path = TempPath::new();
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let client = fake.client().unwrap();
    let stuck = Arc::new(Recorder::default());
    stuck.hang.lock().unwrap().push("s1".to_owned());
    let (first_run, replay) = GuestAttributes::builder(client.clone(), stuck.clone())
        .outbox(&path.0)
        .start()
        .await
        .unwrap();
    assert_eq!(replay.unwrap().fresh.len(), 0);
    let yes = consents(&[("crmSync", true)]);
    first_run
        .add("s1", attrs(&[("firstName", "Ada")]), yes.clone())
        .await
        .unwrap();
    first_run
        .add(
            "s2",
            attrs(&[("lang", "fr")]),
            consents(&[("crmSync", false)]),
        )
        .await
        .unwrap();
    first_run
        .add("s1", attrs(&[("ticketNumber", "TCK-7")]), yes.clone())
        .await
        .unwrap();
    // s1's send is in flight (and hangs), s2 was delivered (no CRM in this run) ...
    let flushing = tokio::spawn(async move {
        let _ = first_run.flush().await;
        first_run
    });
    while stuck.calls("s1") == 0 || stuck.sent_to("s2").is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // ... when the process dies: no shutdown.
    flushing.abort();
    let _ = flushing.await;

    let up = Arc::new(Recorder::default());
    let mut started = None;
    for _ in 0..1_000 {
        let run = GuestAttributes::builder(client.clone(), up.clone())
            .outbox(&path.0)
            .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
            .start()
            .await;
        if let Ok(run) = run {
            started = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (second_run, replay) = started.expect("the outbox reopens");
    let replay = replay.unwrap();
    assert_eq!(
        replay.fresh.len(),
        2,
        "every accepted, undelivered update was on disk: {replay:?}"
    );
    assert!(replay.fresh.iter().all(|u| u.consents == yes));
    drop(replay); // it holds the outbox open, to acknowledge stale updates
    second_run.shutdown().await.unwrap();
    assert_eq!(
        up.sent_to("s1"),
        [attrs(&[("firstName", "Ada"), ("ticketNumber", "TCK-7")])]
    );
    assert!(
        up.sent_to("s2").is_empty(),
        "s2 was delivered before the crash"
    );
    let crm = crm_inbox.deliveries();
    assert_eq!(crm.len(), 1);
    assert_eq!(crm[0]["sessionId"], "s1");
    assert_eq!(
        crm[0]["consentFlags"]["crmSync"], true,
        "consents were replayed"
    );

    let (third_run, replay) = GuestAttributes::builder(client, up.clone())
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
async fn a_replayed_delivery_is_a_duplicate_for_the_crm() {
    let path = TempPath::new();
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let client = fake.client().unwrap();
    let sink = Arc::new(Recorder::default());
    // The CRM takes the delivery, then answers late: the process dies meanwhile.
    fake.inject_on(
        Method::POST,
        "/external/crm",
        Fault::Delay(Duration::from_secs(30)),
        1,
    );
    let (first_run, _) = GuestAttributes::builder(client.clone(), sink.clone())
        .outbox(&path.0)
        .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
        .start()
        .await
        .unwrap();
    first_run
        .add("s1", attrs(&[("tier", "gold")]), consents(&[]))
        .await
        .unwrap();
    first_run.flush().await.unwrap();
    while crm_inbox.received() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(first_run);

    let mut started = None;
    for _ in 0..1_000 {
        let run = GuestAttributes::builder(client.clone(), sink.clone())
            .outbox(&path.0)
            .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
            .start()
            .await;
        if let Ok(run) = run {
            started = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (second_run, replay) = started.expect("the outbox reopens");
    assert_eq!(
        replay.unwrap().fresh.len(),
        1,
        "kept until the CRM delivery ended"
    );
    second_run.shutdown().await.unwrap();
    assert_eq!(sink.sent_to("s1").len(), 2, "at least once to the platform");
    assert_eq!(crm_inbox.received(), 2);
    assert_eq!(crm_inbox.duplicates(), 1, "the receiver saw the repeat");
    assert_eq!(crm_inbox.deliveries().len(), 1);
}

#[tokio::test]
async fn the_participant_sink_sends_only_the_update_and_retries_on_409() {
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
    assert!(sink.unregister("s1"));
    assert!(matches!(
        sink.send("s1", &attrs(&[("a", "1")])).await,
        Err(e) if e.kind() == ErrorKind::NotFound
    ));
}

#[tokio::test]
async fn a_concurrent_writer_between_sink_calls_keeps_its_key() {
    let fake = FakeGenesys::start().await;
    let c = fake.seed_message_conversation();
    let client = fake.client().unwrap();
    let agent = ParticipantSink::new(client.clone());
    agent.register("agent", &c.conversation_id, &c.customer_participant_id);
    agent
        .send("agent", &attrs(&[("agentNote", "old")]))
        .await
        .unwrap();
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    sink.register("s1", &c.conversation_id, &c.customer_participant_id);
    // Reading the conversation is slow: a sink that reads, merges and writes back the
    // whole map would carry the old note over the agent's newer one.
    fake.inject_on(
        Method::GET,
        "/api/v2/conversations/messages/{conversationId}",
        Fault::Delay(Duration::from_millis(400)),
        1,
    );
    let guest = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.send("s1", &attrs(&[("tier", "gold")])).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    agent
        .send("agent", &attrs(&[("agentNote", "new")]))
        .await
        .unwrap();
    guest.await.unwrap().unwrap();
    let held = fake
        .participant_attributes(&c.conversation_id, &c.customer_participant_id)
        .unwrap();
    assert_eq!(held["agentNote"], "new", "the other writer's key is kept");
    assert_eq!(held["tier"], "gold");
    let patch = format!(
        "/api/v2/conversations/messages/{}/participants/{}/attributes",
        c.conversation_id, c.customer_participant_id
    );
    let bodies: Vec<serde_json::Value> = fake
        .requests_to(Method::PATCH, &patch)
        .iter()
        .map(|r| r.json())
        .collect();
    assert!(
        bodies.contains(&serde_json::json!({ "attributes": { "tier": "gold" } })),
        "only the update's keys are sent: {bodies:?}"
    );
}

#[tokio::test]
async fn unregister_sends_what_is_pending_then_forgets_the_session() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let token = uuid::Uuid::new_v4().to_string();
    let web = Arc::new(WebMessagingSink::new());
    web.register("guest", session(&fake, &token).await);
    let (guests, _) = GuestAttributes::builder(client.clone(), web.clone())
        .batching(slow_window().build().unwrap())
        .start()
        .await
        .unwrap();
    guests
        .add("guest", attrs(&[("firstName", "Ada")]), consents(&[]))
        .await
        .unwrap();
    guests.unregister("guest").await.unwrap();
    assert_eq!(
        fake.guest_attributes(&token).unwrap()["firstName"],
        "Ada",
        "the pending update had its last attempt"
    );
    assert!(web.is_empty(), "the sink let go of the session");
    let started = std::time::Instant::now();
    while fake.guest_connections() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "its socket closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    guests.shutdown().await.unwrap();
}

#[tokio::test]
async fn crm_deliveries_are_bounded_and_shutdown_drains_them_within_its_deadline() {
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let client = fake.client().unwrap();
    let sink = Arc::new(Recorder::default());
    fake.inject_on(
        Method::POST,
        "/external/crm",
        Fault::Delay(Duration::from_secs(30)),
        1,
    );
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .batching(slow_window().build().unwrap())
        .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
        .crm_limits(1, Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    guests
        .add("s1", attrs(&[("a", "1")]), consents(&[]))
        .await
        .unwrap();
    guests.flush().await.unwrap();
    while crm_inbox.received() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The one CRM slot is taken by the slow delivery: the next is dropped and counted.
    guests
        .add("s2", attrs(&[("b", "2")]), consents(&[]))
        .await
        .unwrap();
    guests.flush().await.unwrap();
    let m = client.metrics_snapshot();
    assert_eq!(m.counter("guests.crm_dropped"), 1);
    let started = std::time::Instant::now();
    let err = guests.shutdown().await.unwrap_err();
    // The slow delivery answers after 30 s; the drain timeout is 300 ms.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded by the drain timeout"
    );
    assert!(err.to_string().contains("abandoned"), "{err}");
    assert_eq!(client.metrics_snapshot().counter("guests.crm_abandoned"), 1);
}

#[tokio::test]
async fn crm_sync_is_signed_and_an_outage_never_blocks_the_platform_send() {
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let c = fake.seed_message_conversation();
    let client = fake
        .client_builder()
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    sink.register("guest-1", &c.conversation_id, &c.customer_participant_id);
    let policy = GuestPolicy::default().required_consents(["crmSync"]);
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .policy(policy)
        .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
        .start()
        .await
        .unwrap();
    let held = || {
        fake.participant_attributes(&c.conversation_id, &c.customer_participant_id)
            .unwrap()
    };

    guests
        .add(
            "guest-1",
            attrs(&[("firstName", "Ada")]),
            consents(&[("crmSync", true)]),
        )
        .await
        .unwrap();
    guests.flush().await.unwrap();
    assert_eq!(held()["firstName"], "Ada");
    eventually("the CRM delivery", || crm_inbox.deliveries().len() == 1).await;
    let crm = crm_inbox.deliveries();
    assert_eq!(crm.len(), 1);
    assert_eq!(crm[0]["sessionId"], "guest-1");
    assert_eq!(crm[0]["attributes"]["firstName"], "Ada");
    assert_eq!(crm[0]["consentFlags"]["crmSync"], true);

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
    assert_eq!(held()["lang"], "fr", "the platform send went through");
    eventually("the failed CRM delivery counted", || {
        client.metrics_snapshot().counter("guests.crm_failures") == 1
    })
    .await;
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
