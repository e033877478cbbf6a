//! The guest outbox: one suite, written once and run against both implementations (the
//! redb file and PostgreSQL, each behaviour a generic async fn called from a `redb` and a
//! `postgres` test), then what only a fleet does (PostgreSQL): two replicas deliver each
//! update once, a killed replica's sessions are taken over after the claim TTL, an older
//! update never lands after a newer one across replicas, and PostgreSQL going down and
//! coming back.
//!
//! PostgreSQL is a real server (`tests/pg/mod.rs`), never a mock. Nothing here sleeps
//! before asserting that something did not happen: conditions are polled.

#[cfg(feature = "postgres")]
mod pg;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use genesys_cloud::guests::{
    AttributeSink, BatcherOptions, BatcherOptionsBuilder, DeadLetterReason, GuestAttributes,
    GuestAttributesBuilder, Replay,
};
use genesys_cloud::observe::MemoryAuditSink;
use genesys_cloud::testkit::{FakeGenesys, Fault};
use genesys_cloud::{Client, Error, ErrorKind, Method};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn consents(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

const SECRET: &str = "crm-webhook-secret-0123456789";

/// A sink that records what it accepted and counts every call per session. Sessions in
/// `hang` never answer, sessions in `refuse` are refused for good (not found), and while
/// `failing` every call fails with a retryable error.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(String, BTreeMap<String, String>)>>,
    calls: Mutex<HashMap<String, usize>>,
    hang: Mutex<Vec<String>>,
    refuse: Mutex<Vec<String>>,
    failing: AtomicBool,
}

impl Recorder {
    fn hanging(sessions: &[&str]) -> Arc<Self> {
        let recorder = Self::default();
        *recorder.hang.lock().unwrap() = sessions.iter().map(|s| (*s).to_owned()).collect();
        Arc::new(recorder)
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
        if self.refuse.lock().unwrap().iter().any(|s| s == session_id) {
            return Err(Error::custom(ErrorKind::NotFound, "no such guest session"));
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

/// Polls `done` every 10 ms of real time for up to 20 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 20 s: {what}");
}

/// [`eventually`] for a condition that needs to wait (a query).
#[cfg(feature = "postgres")]
async fn eventually_async<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..2_000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 20 s: {what}");
}

// ---- the two implementations ----

/// The claim TTL of the PostgreSQL runs: short, so that a crashed run's claims expire
/// quickly.
#[cfg(feature = "postgres")]
const CLAIM_TTL: Duration = Duration::from_secs(2);

/// Batching both implementations run with: a send fits twice in the claim TTL.
fn batching() -> BatcherOptionsBuilder {
    BatcherOptions::builder()
        .send_timeout(Duration::from_secs(1))
        .flush_interval(Duration::from_millis(50))
}

#[cfg(feature = "postgres")]
fn fleet_options() -> genesys_cloud::guests::PostgresOutboxOptions {
    genesys_cloud::guests::PostgresOutboxOptions::builder()
        .claim_ttl(CLAIM_TTL)
        .sweep_interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// Where a run keeps its outbox.
enum Backend {
    /// A redb file in the temp directory, removed when dropped.
    File(std::path::PathBuf),
    /// Tables of this test's own in the test server.
    #[cfg(feature = "postgres")]
    Postgres(genesys_cloud::postgres::Database),
}

impl Drop for Backend {
    fn drop(&mut self) {
        match self {
            Backend::File(path) => {
                let _ = std::fs::remove_file(path);
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => {}
        }
    }
}

impl Backend {
    fn file() -> Self {
        Backend::File(
            std::env::temp_dir().join(format!("genesys-outbox-{}.redb", uuid::Uuid::new_v4())),
        )
    }

    #[cfg(feature = "postgres")]
    async fn postgres() -> Option<Self> {
        pg::database().await.map(Backend::Postgres)
    }

    /// A run's builder, with this outbox and [`batching`].
    fn builder(&self, client: Client, sink: Arc<dyn AttributeSink>) -> GuestAttributesBuilder {
        let builder = GuestAttributes::builder(client, sink).batching(batching().build().unwrap());
        match self {
            Backend::File(path) => builder.outbox(path),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => builder.postgres_outbox_with(db.clone(), fleet_options()),
        }
    }

    /// Starts the next run once the one before (dropped, as in a crash, or shut down) let
    /// go of the outbox: redb's file lock is released once the dropped run's tasks ended;
    /// PostgreSQL's claims once they expire (the claim TTL). Polled, never slept.
    async fn restart(
        &self,
        make: impl Fn() -> GuestAttributesBuilder,
    ) -> (GuestAttributes, Replay) {
        match self {
            Backend::File(_) => {
                for _ in 0..2_000 {
                    if let Ok((run, replay)) = make().start().await {
                        return (run, replay.expect("an outbox replays"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("the outbox file was not released");
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => {
                let sessions = format!("{}guest_sessions", db.prefix());
                eventually_async("the crashed run's claims expire", || async {
                    let client = db.pool().get().await.unwrap();
                    let live: i64 = client
                        .query_one(
                            &format!(
                                "SELECT count(*) FROM {sessions} WHERE claim_expires_at > now()"
                            ),
                            &[],
                        )
                        .await
                        .unwrap()
                        .get(0);
                    live == 0
                })
                .await;
                let (run, replay) = make().start().await.unwrap();
                (run, replay.expect("an outbox replays"))
            }
        }
    }

    /// Whether a start sends an update the platform already accepted again when its CRM
    /// sync did not end (redb: yes, at least once), or only syncs it to the CRM again
    /// (PostgreSQL: an update the platform accepted is never sent after a newer one).
    fn resends_delivered(&self) -> bool {
        matches!(self, Backend::File(_))
    }

    /// The reasons of the rows kept as dead letters (PostgreSQL keeps them; the redb file
    /// hands them over and forgets them: `None`).
    async fn dead_rows(&self) -> Option<Vec<String>> {
        match self {
            Backend::File(_) => None,
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => {
                let client = db.pool().get().await.unwrap();
                let rows = client
                    .query(
                        &format!(
                            "SELECT reason FROM {}guest_updates WHERE state = 'dead' ORDER BY id",
                            db.prefix()
                        ),
                        &[],
                    )
                    .await
                    .unwrap();
                Some(rows.iter().map(|r| r.get(0)).collect())
            }
        }
    }
}

/// Runs a behaviour of the suite against both implementations.
macro_rules! both {
    ($behaviour:ident) => {
        mod $behaviour {
            #[tokio::test]
            async fn redb() {
                super::$behaviour(super::Backend::file()).await;
            }

            #[cfg(feature = "postgres")]
            #[tokio::test]
            async fn postgres() {
                if let Some(backend) = super::Backend::postgres().await {
                    super::$behaviour(backend).await;
                }
            }
        }
    };
}

// ---- the suite ----

both!(a_crash_loses_nothing_accepted_and_the_next_start_sends_it_with_its_consents);
async fn a_crash_loses_nothing_accepted_and_the_next_start_sends_it_with_its_consents(
    backend: Backend,
) {
    let fake = FakeGenesys::start().await;
    let crm_inbox = fake.webhook_receiver("/external/crm", SECRET);
    let client = fake.client().unwrap();
    let stuck = Recorder::hanging(&["s1"]);
    let (first_run, replay) = backend
        .builder(client.clone(), stuck.clone())
        .start()
        .await
        .unwrap();
    assert!(replay.unwrap().fresh.is_empty());
    let yes = consents(&[("crmSync", true)]);
    // s2 is delivered, and its delivery recorded (`flush` returns after the outbox's
    // bookkeeping: a send the crash cuts between the sink and the record would be sent
    // again, which is at-least-once, not what this test is about) ...
    first_run
        .add(
            "s2",
            attrs(&[("lang", "fr")]),
            consents(&[("crmSync", false)]),
        )
        .await
        .unwrap();
    first_run.flush().await.unwrap();
    assert!(!stuck.sent_to("s2").is_empty());
    first_run
        .add("s1", attrs(&[("firstName", "Ada")]), yes.clone())
        .await
        .unwrap();
    first_run
        .add("s1", attrs(&[("ticketNumber", "TCK-7")]), yes.clone())
        .await
        .unwrap();
    // ... and s1's send is in flight (and hangs) ...
    let flushing = tokio::spawn(async move {
        let _ = first_run.flush().await;
        first_run
    });
    eventually("s1 in flight", || stuck.calls("s1") > 0).await;
    // ... when the process dies: no shutdown.
    flushing.abort();
    let _ = flushing.await;

    let up = Arc::new(Recorder::default());
    let (second_run, replay) = backend
        .restart(|| {
            backend
                .builder(client.clone(), up.clone())
                .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
        })
        .await;
    assert_eq!(
        replay.fresh.len(),
        2,
        "every accepted, undelivered update was stored: {replay:?}"
    );
    assert!(replay.fresh.iter().all(|u| u.consents == yes));
    drop(replay); // the redb replay holds the file open
    second_run.shutdown().await.unwrap();
    assert_eq!(
        up.sent_to("s1"),
        [attrs(&[("firstName", "Ada"), ("ticketNumber", "TCK-7")])],
        "in order, merged"
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
        "consents were kept"
    );

    let (third_run, replay) = backend
        .restart(|| backend.builder(client.clone(), up.clone()))
        .await;
    assert!(
        replay.fresh.is_empty(),
        "delivered updates left the outbox: {replay:?}"
    );
    drop(replay);
    third_run.shutdown().await.unwrap();
}

both!(stale_updates_are_handed_back_unsent_and_deleted_only_once_acknowledged);
async fn stale_updates_are_handed_back_unsent_and_deleted_only_once_acknowledged(backend: Backend) {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let stuck = Recorder::hanging(&["old", "new"]);
    let (first_run, _) = backend
        .builder(client.clone(), stuck.clone())
        .start()
        .await
        .unwrap();
    first_run
        .add("old", attrs(&[("a", "1")]), consents(&[]))
        .await
        .unwrap();
    // Outboxes stamp updates with the wall clock: "old" is 2 s older than "new".
    let gap = Duration::from_secs(2);
    tokio::time::sleep(gap).await;
    let new_added = Instant::now();
    first_run
        .add("new", attrs(&[("b", "2")]), consents(&[]))
        .await
        .unwrap();
    drop(first_run); // a crash

    // A limit halfway between their ages when the next run starts, however long it took.
    let sink = Arc::new(Recorder::default());
    let (second_run, replay) = backend
        .restart(|| {
            backend
                .builder(client.clone(), sink.clone())
                .staleness(new_added.elapsed() + gap / 2)
        })
        .await;
    assert_eq!(replay.stale.len(), 1, "{replay:?}");
    assert_eq!(replay.stale[0].session_id, "old");
    assert_eq!(
        replay.stale[0].attributes["a"], "1",
        "handed back with its data"
    );
    assert_eq!(replay.fresh.len(), 1);
    assert_eq!(replay.fresh[0].session_id, "new");
    drop(replay);
    second_run.shutdown().await.unwrap();
    assert!(sink.sent_to("old").is_empty(), "a stale update is not sent");
    assert_eq!(sink.sent_to("new"), [attrs(&[("b", "2")])]);

    // (The redb file judges staleness again at each start: "old" is older than this.)
    let later = || {
        backend
            .builder(client.clone(), sink.clone())
            .staleness(gap / 2)
    };
    let (third_run, replay) = backend.restart(later).await;
    assert_eq!(replay.stale.len(), 1, "not acknowledged: handed back again");
    replay.acknowledge_stale().await.unwrap();
    drop(replay);
    third_run.shutdown().await.unwrap();

    let (fourth_run, replay) = backend.restart(later).await;
    assert!(replay.stale.is_empty(), "acknowledged: gone");
    assert!(replay.fresh.is_empty());
    drop(replay);
    fourth_run.shutdown().await.unwrap();
    assert!(sink.sent_to("old").is_empty());
}

both!(a_full_batcher_refuses_add_at_once_before_anything_is_stored);
async fn a_full_batcher_refuses_add_at_once_before_anything_is_stored(backend: Backend) {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let sink = Recorder::hanging(&["s0"]);
    let (run, _) = backend
        .builder(client.clone(), sink.clone())
        .batching(batching().max_batch(1).max_pending(1).build().unwrap())
        .start()
        .await
        .unwrap();
    run.add("s0", attrs(&[("a", "1")]), consents(&[]))
        .await
        .unwrap();
    // s0's send hangs for ever: an add that waited for a place would never return (10 s
    // only bounds how long a failure takes to show).
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        run.add("s1", attrs(&[("b", "2")]), consents(&[])),
    )
    .await
    .expect("add never waits");
    assert_eq!(refused.unwrap_err().kind(), ErrorKind::LocalLimit);
    drop(run);

    let up = Arc::new(Recorder::default());
    let (next, replay) = backend
        .restart(|| backend.builder(client.clone(), up.clone()))
        .await;
    let stored: Vec<&str> = replay
        .fresh
        .iter()
        .chain(&replay.deferred)
        .chain(&replay.stale)
        .map(|u| u.session_id.as_str())
        .collect();
    assert_eq!(stored, ["s0"], "the refused update was never stored");
    drop(replay);
    next.shutdown().await.unwrap();
}

both!(a_refused_update_is_dead_lettered_audited_and_never_sent_again);
async fn a_refused_update_is_dead_lettered_audited_and_never_sent_again(backend: Backend) {
    let fake = FakeGenesys::start().await;
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .audit_sink(audit.clone())
        .build()
        .unwrap();
    let sink = Arc::new(Recorder::default());
    sink.refuse.lock().unwrap().push("s1".to_owned());
    let (run, _) = backend
        .builder(client.clone(), sink.clone())
        .start()
        .await
        .unwrap();
    run.add("s1", attrs(&[("plan", "gold")]), consents(&[]))
        .await
        .unwrap();
    run.add("s2", attrs(&[("plan", "free")]), consents(&[]))
        .await
        .unwrap();
    run.flush().await.unwrap();
    let letters = run.dead_letters();
    eventually("s1 dead-lettered", || letters.len() == 1).await;
    let letter = &letters.snapshot()[0];
    assert_eq!(letter.session_id, "s1");
    assert_eq!(letter.reason, DeadLetterReason::Rejected);
    assert_eq!(
        letter.attributes["plan"], "gold",
        "handed back with its data"
    );
    assert!(audit
        .records()
        .iter()
        .any(|r| r.action == "guests.dead_letter.rejected"));
    run.shutdown().await.unwrap();
    assert_eq!(sink.sent_to("s2"), [attrs(&[("plan", "free")])]);
    if let Some(reasons) = backend.dead_rows().await {
        assert_eq!(reasons, ["rejected"], "kept, with the reason");
    }

    let (next, replay) = backend
        .restart(|| backend.builder(client.clone(), sink.clone()))
        .await;
    assert!(
        replay.fresh.is_empty() && replay.stale.is_empty(),
        "{replay:?}"
    );
    drop(replay);
    next.shutdown().await.unwrap();
    assert_eq!(sink.calls("s1"), 1, "never sent again");
}

both!(a_delivery_whose_crm_sync_was_cut_short_reaches_the_crm_again_as_a_duplicate);
async fn a_delivery_whose_crm_sync_was_cut_short_reaches_the_crm_again_as_a_duplicate(
    backend: Backend,
) {
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
    let crm = || {
        backend
            .builder(client.clone(), sink.clone())
            .crm_webhook(format!("{}/external/crm", fake.uri()), SECRET)
    };
    let (first_run, _) = crm().start().await.unwrap();
    first_run
        .add("s1", attrs(&[("tier", "gold")]), consents(&[]))
        .await
        .unwrap();
    first_run.flush().await.unwrap();
    eventually("the CRM got the delivery", || crm_inbox.received() > 0).await;
    drop(first_run);

    let (second_run, replay) = backend.restart(crm).await;
    let resent = usize::from(backend.resends_delivered());
    assert_eq!(replay.fresh.len(), resent, "{replay:?}");
    drop(replay);
    second_run.shutdown().await.unwrap();
    assert_eq!(
        sink.sent_to("s1").len(),
        1 + resent,
        "at least once to the platform"
    );
    assert_eq!(crm_inbox.received(), 2, "synced again");
    assert_eq!(crm_inbox.duplicates(), 1, "with the same dedupe key");
    assert_eq!(crm_inbox.deliveries().len(), 1);
}

// ---- a fleet (PostgreSQL) ----

#[cfg(feature = "postgres")]
mod fleet {
    use super::*;
    use genesys_cloud::guests::ParticipantSink;
    use genesys_cloud::postgres::Database;
    use genesys_cloud::testkit::SeededConversation;

    fn path(c: &SeededConversation) -> String {
        format!(
            "/api/v2/conversations/messages/{}/participants/{}/attributes",
            c.conversation_id, c.customer_participant_id
        )
    }

    /// The attributes of every PATCH the fake received for `c`'s participant, in the
    /// order they landed.
    fn landed(fake: &FakeGenesys, c: &SeededConversation) -> Vec<BTreeMap<String, String>> {
        fake.requests_to(Method::PATCH, &path(c))
            .iter()
            .map(|r| serde_json::from_value(r.json()["attributes"].clone()).unwrap())
            .collect()
    }

    /// A replica: its own client of the fake, a participant sink knowing every session
    /// (`g0`, `g1`, ... for `conversations`), wrapped by `wrap`.
    async fn replica(
        fake: &FakeGenesys,
        db: &Database,
        conversations: &[SeededConversation],
        wrap: impl FnOnce(Arc<ParticipantSink>) -> Arc<dyn AttributeSink>,
    ) -> GuestAttributes {
        let client = fake.client().unwrap();
        let sink = Arc::new(ParticipantSink::new(client.clone()));
        for (i, c) in conversations.iter().enumerate() {
            sink.register(
                format!("g{i}"),
                &c.conversation_id,
                &c.customer_participant_id,
            );
        }
        GuestAttributes::builder(client, wrap(sink))
            .batching(batching().build().unwrap())
            .postgres_outbox_with(db.clone(), fleet_options())
            .start()
            .await
            .unwrap()
            .0
    }

    fn plain(sink: Arc<ParticipantSink>) -> Arc<dyn AttributeSink> {
        sink
    }

    /// Forwards to a sink after a delay (the first `delayed` calls): a request that
    /// reaches the platform late.
    struct Late {
        inner: Arc<dyn AttributeSink>,
        delay: Duration,
        delayed: Mutex<usize>,
        started: AtomicBool,
    }

    #[async_trait]
    impl AttributeSink for Late {
        async fn send(
            &self,
            session_id: &str,
            attributes: &BTreeMap<String, String>,
        ) -> Result<(), Error> {
            self.started.store(true, Ordering::SeqCst);
            let late = {
                let mut delayed = self.delayed.lock().unwrap();
                let late = *delayed > 0;
                *delayed = delayed.saturating_sub(1);
                late
            };
            if late {
                tokio::time::sleep(self.delay).await;
            }
            self.inner.send(session_id, attributes).await
        }
    }

    /// Records when each send started (wall clock, seconds since the epoch), then
    /// forwards it.
    struct Timed {
        inner: Arc<dyn AttributeSink>,
        at: Mutex<Vec<f64>>,
    }

    #[async_trait]
    impl AttributeSink for Timed {
        async fn send(
            &self,
            session_id: &str,
            attributes: &BTreeMap<String, String>,
        ) -> Result<(), Error> {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            self.at.lock().unwrap().push(now);
            self.inner.send(session_id, attributes).await
        }
    }

    async fn scalar<T>(db: &Database, sql: &str) -> T
    where
        T: for<'a> genesys_cloud::postgres::tokio_postgres::types::FromSql<'a>,
    {
        let client = db.pool().get().await.unwrap();
        client
            .query_one(&sql.replace("{p}", db.prefix()), &[])
            .await
            .unwrap()
            .get(0)
    }

    #[tokio::test]
    async fn two_replicas_sharing_one_database_deliver_each_update_once() {
        let Some(db) = pg::database().await else {
            return;
        };
        let fake = FakeGenesys::start().await;
        let conversations: Vec<_> = (0..6).map(|_| fake.seed_message_conversation()).collect();
        let a = replica(&fake, &db, &conversations, plain).await;
        let b = replica(&fake, &db, &conversations, plain).await;
        let rounds = 6;
        for round in 0..rounds {
            for (s, _) in conversations.iter().enumerate() {
                // Each session's updates come through both replicas, alternately.
                let via = if (round + s) % 2 == 0 { &a } else { &b };
                let key = format!("u{round}");
                let value = format!("v{round}-{s}");
                via.add(&format!("g{s}"), attrs(&[(&key, &value)]), consents(&[]))
                    .await
                    .unwrap();
            }
        }
        eventually("every update landed on its participant", || {
            conversations.iter().all(|c| {
                fake.participant_attributes(&c.conversation_id, &c.customer_participant_id)
                    .is_some_and(|held| held.len() == rounds)
            })
        })
        .await;
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
        for (s, c) in conversations.iter().enumerate() {
            let patches = landed(&fake, c);
            for round in 0..rounds {
                let key = format!("u{round}");
                let carrying = patches.iter().filter(|p| p.contains_key(&key)).count();
                assert_eq!(
                    carrying, 1,
                    "session g{s}, update {round}: sent {carrying} times: {patches:?}"
                );
            }
        }
        let left: i64 = scalar(&db, "SELECT count(*) FROM {p}guest_updates").await;
        assert_eq!(left, 0, "delivered updates left the table");
    }

    #[tokio::test]
    async fn a_replica_killed_mid_flight_leaves_its_claims_and_another_takes_over_after_the_ttl() {
        let Some(db) = pg::database().await else {
            return;
        };
        let fake = FakeGenesys::start().await;
        let conversations: Vec<_> = (0..3).map(|_| fake.seed_message_conversation()).collect();
        let stuck = Recorder::hanging(&["g0", "g1", "g2"]);
        let stuck_sink: Arc<dyn AttributeSink> = stuck.clone();
        let a = replica(&fake, &db, &conversations, |_| stuck_sink).await;
        let slot = Arc::new(Mutex::new(None::<Arc<Timed>>));
        let keep = slot.clone();
        let b = replica(&fake, &db, &conversations, move |sink| {
            let timed = Arc::new(Timed {
                inner: sink,
                at: Mutex::default(),
            });
            *keep.lock().unwrap() = Some(timed.clone());
            timed
        })
        .await;
        let b_sink = slot.lock().unwrap().clone().unwrap();
        for s in 0..3 {
            a.add(
                &format!("g{s}"),
                attrs(&[("plan", &format!("p{s}"))]),
                consents(&[]),
            )
            .await
            .unwrap();
        }
        eventually("A is sending every session", || {
            (0..3).all(|s| stuck.calls(&format!("g{s}")) > 0)
        })
        .await;
        drop(a); // killed mid-flight: no shutdown, its claims stay

        let held: i64 = scalar(
            &db,
            "SELECT count(*) FROM {p}guest_sessions WHERE holder IS NOT NULL AND claim_expires_at > now()",
        )
        .await;
        assert_eq!(held, 3, "the killed replica's claims are still there");
        let until: f64 = scalar(
            &db,
            "SELECT extract(epoch FROM max(claim_expires_at))::float8 FROM {p}guest_sessions",
        )
        .await;
        eventually("B took the sessions over and delivered them", || {
            conversations.iter().enumerate().all(|(s, c)| {
                fake.participant_attributes(&c.conversation_id, &c.customer_participant_id)
                    .is_some_and(|held| held.get("plan") == Some(&format!("p{s}")))
            })
        })
        .await;
        let first = b_sink
            .at
            .lock()
            .unwrap()
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        assert!(
            first >= until,
            "B sent at {first}, before the claims expired at {until}"
        );
        b.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn an_older_update_never_lands_after_a_newer_one_across_replicas() {
        let Some(db) = pg::database().await else {
            return;
        };
        let fake = FakeGenesys::start().await;
        let conversations = vec![fake.seed_message_conversation()];
        let late = Arc::new(Mutex::new(None::<Arc<Late>>));
        let keep = late.clone();
        // A's first send reaches the platform 600 ms late (within its send timeout).
        let a = replica(&fake, &db, &conversations, move |sink| {
            let sink = Arc::new(Late {
                inner: sink,
                delay: Duration::from_millis(600),
                delayed: Mutex::new(1),
                started: AtomicBool::new(false),
            });
            *keep.lock().unwrap() = Some(sink.clone());
            sink
        })
        .await;
        let b = replica(&fake, &db, &conversations, plain).await;
        a.add("g0", attrs(&[("n", "1")]), consents(&[]))
            .await
            .unwrap();
        let a_sink = late.lock().unwrap().clone().unwrap();
        eventually("A's first send is on its way", || {
            a_sink.started.load(Ordering::SeqCst)
        })
        .await;
        // B does not hold g0: it stores these, and A sends them after its first.
        for n in 2..=5 {
            b.add("g0", attrs(&[("n", &n.to_string())]), consents(&[]))
                .await
                .unwrap();
        }
        let c = &conversations[0];
        eventually("both the first and the last update landed", || {
            let values: Vec<String> = landed(&fake, c)
                .into_iter()
                .filter_map(|p| p.get("n").cloned())
                .collect();
            values.iter().any(|v| v == "1") && values.iter().any(|v| v == "5")
        })
        .await;
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
        let values: Vec<u32> = landed(&fake, c)
            .into_iter()
            .filter_map(|p| p.get("n").and_then(|v| v.parse().ok()))
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] <= w[1]),
            "an older update landed after a newer one: {values:?}"
        );
        assert_eq!(values.last(), Some(&5));
        let held = fake
            .participant_attributes(&c.conversation_id, &c.customer_participant_id)
            .unwrap();
        assert_eq!(held["n"], "5");
    }

    /// Fails (retryable) until `succeed_after`, then forwards each send 800 ms late.
    struct FailsThenLate {
        inner: Arc<dyn AttributeSink>,
        succeed_after: Mutex<Option<Instant>>,
    }

    #[async_trait]
    impl AttributeSink for FailsThenLate {
        async fn send(
            &self,
            session_id: &str,
            attributes: &BTreeMap<String, String>,
        ) -> Result<(), Error> {
            let after = *self.succeed_after.lock().unwrap();
            if after.is_none_or(|at| Instant::now() < at) {
                return Err(Error::custom(ErrorKind::Upstream, "not yet"));
            }
            tokio::time::sleep(Duration::from_millis(800)).await;
            self.inner.send(session_id, attributes).await
        }
    }

    #[tokio::test]
    async fn a_replica_that_cannot_renew_its_claim_stops_sending_before_another_takes_over() {
        let Some(url) = pg::url() else {
            return;
        };
        let relay = pg::Cuttable::start(&url).await;
        let (relayed, direct) = pg::database_via(&relay.url(&url)).await;
        let fake = FakeGenesys::start().await;
        let conversations = vec![fake.seed_message_conversation()];
        let slot = Arc::new(Mutex::new(None::<Arc<FailsThenLate>>));
        let keep = slot.clone();
        // A reaches PostgreSQL through the relay; its sends fail for now.
        let a = {
            let client = fake.client().unwrap();
            let sink = Arc::new(ParticipantSink::new(client.clone()));
            let c = &conversations[0];
            sink.register("g0", &c.conversation_id, &c.customer_participant_id);
            let flaky = Arc::new(FailsThenLate {
                inner: sink,
                succeed_after: Mutex::new(None),
            });
            *keep.lock().unwrap() = Some(flaky.clone());
            GuestAttributes::builder(client, flaky)
                .batching(
                    batching()
                        .max_attempts(10_000)
                        .retry_waits(Duration::from_millis(20), Duration::from_millis(50))
                        .build()
                        .unwrap(),
                )
                .postgres_outbox_with(relayed, fleet_options())
                .start()
                .await
                .unwrap()
                .0
        };
        let a_sink = slot.lock().unwrap().clone().unwrap();
        let b = replica(&fake, &direct, &conversations, plain).await;
        a.add("g0", attrs(&[("n", "1")]), consents(&[]))
            .await
            .unwrap();
        b.add("g0", attrs(&[("n", "2")]), consents(&[]))
            .await
            .unwrap();
        // A can no longer renew its claim; it keeps retrying its update.
        relay.cut();
        let left: f64 = scalar(
            &direct,
            "SELECT extract(epoch FROM max(claim_expires_at) - now())::float8 FROM {p}guest_sessions",
        )
        .await;
        let expires = Instant::now() + Duration::from_secs_f64(left.max(0.0));
        // From half a second before the claim expires, A's sends would succeed, and land
        // 800 ms later: after B took the session over, had A started one.
        *a_sink.succeed_after.lock().unwrap() =
            Some(expires.checked_sub(Duration::from_millis(500)).unwrap());
        let c = &conversations[0];
        eventually("B took g0 over and sent the newest value", || {
            landed(&fake, c)
                .iter()
                .any(|p| p.get("n").is_some_and(|v| v == "2"))
        })
        .await;
        let _ = a.shutdown().await; // waits for a send A may have in flight
        b.shutdown().await.unwrap();
        let values: Vec<u32> = landed(&fake, c)
            .into_iter()
            .filter_map(|p| p.get("n").and_then(|v| v.parse().ok()))
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] <= w[1]),
            "an older update landed after a newer one: {values:?}"
        );
        let held = fake
            .participant_attributes(&c.conversation_id, &c.customer_participant_id)
            .unwrap();
        assert_eq!(held["n"], "2");
    }

    #[tokio::test]
    async fn with_postgresql_down_add_fails_retryable_and_what_was_committed_is_delivered_after() {
        let Some(url) = pg::url() else {
            return;
        };
        let relay = pg::Cuttable::start(&url).await;
        let (db, direct) = pg::database_via(&relay.url(&url)).await;
        let fake = FakeGenesys::start().await;
        let sink = Arc::new(Recorder::default());
        sink.failing.store(true, Ordering::SeqCst);
        let (run, _) = GuestAttributes::builder(fake.client().unwrap(), sink.clone())
            .batching(
                batching()
                    .max_attempts(10_000)
                    .retry_waits(Duration::from_millis(20), Duration::from_millis(100))
                    .build()
                    .unwrap(),
            )
            .postgres_outbox_with(db, fleet_options())
            .start()
            .await
            .unwrap();
        run.add("g", attrs(&[("first", "committed-value")]), consents(&[]))
            .await
            .unwrap();
        eventually("the update is being tried", || sink.calls("g") > 0).await;

        relay.cut();
        let err = run
            .add("g", attrs(&[("second", "refused-value")]), consents(&[]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
        assert!(err.is_retryable(), "{err}");
        assert!(
            !format!("{err} {err:?}").contains("refused-value"),
            "{err:?}"
        );
        // Nobody can renew the claim: it runs out, and this replica stops sending.
        eventually_async("the claim ran out", || async {
            let live: i64 = scalar(
                &direct,
                "SELECT count(*) FROM {p}guest_sessions WHERE claim_expires_at > now()",
            )
            .await;
            live == 0
        })
        .await;
        sink.failing.store(false, Ordering::SeqCst); // only the database is down now
        assert!(
            sink.sent_to("g").is_empty(),
            "no send without a claim, while the database is down"
        );

        relay.restore();
        eventually("delivered once PostgreSQL is back", || {
            !sink.sent_to("g").is_empty()
        })
        .await;
        run.shutdown().await.unwrap();
        assert_eq!(
            sink.sent_to("g"),
            [attrs(&[("first", "committed-value")])],
            "what was committed, and nothing that was refused"
        );
        let left: i64 = scalar(&direct, "SELECT count(*) FROM {p}guest_updates").await;
        assert_eq!(left, 0);
    }
}
