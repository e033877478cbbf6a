//! One event stream for a service of many replicas, on the service's PostgreSQL (features
//! `postgres` and `notifications`; callback events with `callback-events`).
//!
//! The platform's notification limits are per OAuth client, not per replica: 20 channels,
//! and every replica that subscribes gets every event. So one replica, the stream's
//! **owner**, holds the channels and writes every event (live, and found by
//! reconciliation) to a table; every replica reads that table as a **work queue**, so each
//! event is handled by one replica, or as a **broadcast**, so each replica sees each event.
//!
//! ```no_run
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! use genesys_cloud::fleet::EventStream;
//! use genesys_cloud::postgres::Database;
//!
//! let db = Database::connect("postgres://svc@db.internal/svc")?;
//! let stream = EventStream::builder(client, db, "callbacks")
//!     .callbacks(["6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"])
//!     .start()
//!     .await?;
//! // Every replica runs this; each event is handled once (again only after a failure or
//! // a crash: check `event.id` if a repeat matters).
//! stream
//!     .work(|event| async move {
//!         let callback = event.callback()?;
//!         println!("{} is {:?}", callback.conversation_id, callback.state);
//!         Ok(())
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - **One owner, never two.** Ownership is a lease row with a heartbeat (see the `lease`
//!   module for why not an advisory lock): the owner renews it every third of
//!   [`lease_ttl`](EventStreamBuilder::lease_ttl) and stops acting as owner (drops its
//!   channels) once it could not renew for a `lease_ttl` less a fifth; the database lets
//!   another replica in only after the lease expired, and every write of the owner checks
//!   the lease's epoch in its own transaction. While PostgreSQL is down the stream has its
//!   owner until the lease runs out, then none.
//! - **Takeover within `lease_ttl` plus a third of it** after an owner dies (a `kill -9`,
//!   a lost node); a replica shutting down ([`EventStream::shutdown`]) hands over at once.
//!   The new owner reconciles from the last event the old one recorded.
//! - **Every event once in the table**, by a stable id: a repeat (the platform's, or a
//!   live event and its reconciled copy of the same state) is recognised and not written
//!   again.
//! - **Work queue: each event handled by one replica at a time**, acknowledged only after
//!   the handler returns `Ok`; a handler that fails gives the event back (visible again
//!   after [`retry_wait`](EventStreamBuilder::retry_wait) times its attempts), a replica
//!   that dies leaves it to come back after the
//!   [`visibility_timeout`](EventStreamBuilder::visibility_timeout); after
//!   [`max_attempts`](EventStreamBuilder::max_attempts) it is dead
//!   ([`EventStream::dead_letters`], [`EventStream::requeue`]). Events with one key (a
//!   callback's conversation) are handled one at a time, in order.
//! - **Bounded.** Handled events are kept for [`retain_done`](EventStreamBuilder::retain_done)
//!   (1 day), then pruned by the owner; a batch claims at most
//!   [`batch`](EventStreamBuilder::batch) events.

mod lease;
mod owner;
mod store;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::client::Client;
use crate::error::Error;
use crate::notifications::SubscribeOptions;
use crate::observe::Counter;
use crate::postgres::Database;
use crate::validation::Violations;

/// One event in the stream's table.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredEvent {
    /// Its place in the stream (increasing in the order the owner recorded events).
    pub seq: i64,
    /// Its stable id: the same event (redelivered after a failure or a crash, repeated by
    /// the platform, or found again by reconciliation) has the same id.
    pub id: String,
    /// Events with the same key are handled one at a time, in order: a callback's
    /// conversation id, a notification's topic.
    pub key: String,
    /// `callback`, `notification`, `gap` (notifications may have been lost between
    /// `from` and `to` in its body) or `lagged`.
    pub kind: String,
    /// The notification topic, when there was one.
    pub topic: Option<String>,
    /// The event, as JSON: a [`CallbackEvent`](crate::callbacks::CallbackEvent) for
    /// `callback`, the notification's body for `notification`.
    pub body: String,
    /// When the owner received it.
    pub received_at: Timestamp,
    /// Deliveries so far, this one included (more than 1: it was handled before, by a
    /// replica that failed or died).
    pub attempts: u32,
}

impl std::fmt::Debug for StoredEvent {
    /// Everything but the body, which holds the platform's data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredEvent")
            .field("seq", &self.seq)
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("received_at", &self.received_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl StoredEvent {
    /// The body decoded into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut de = serde_json::Deserializer::from_str(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            Error::decode(
                Arc::from(format!("fleet event ({})", self.kind)),
                200,
                None,
                crate::error::decode_detail(&e.path().to_string(), e.inner()),
            )
        })
    }

    /// The callback event, for a `callback` event.
    #[cfg(feature = "callback-events")]
    pub fn callback(&self) -> Result<crate::callbacks::CallbackEvent, Error> {
        self.decode()
    }
}

/// What the stream has done, as this replica sees it (see [`EventStream::status`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FleetStatus {
    /// Whether this replica owns the stream now.
    pub owner: bool,
    /// The lease's epoch this replica last held.
    pub epoch: Option<i64>,
    /// Times this replica became the owner.
    pub takeovers: u64,
    /// Times it stopped being the owner (lost or gave up the lease, or its source ended).
    pub step_downs: u64,
    /// Events this replica recorded as owner.
    pub recorded: u64,
    /// Events it received that were in the table already (repeats).
    pub duplicates: u64,
    /// Events this replica's handlers completed.
    pub handled: u64,
    /// Handler failures here (the event is given back, or dead after `max_attempts`).
    pub failed: u64,
    /// Events that went dead here.
    pub dead: u64,
    /// The last failure of the ownership task or the database.
    pub last_error: Option<Error>,
}

/// Where the owner's events come from.
#[derive(Debug, Clone)]
enum Source {
    /// Callback events of queues, reconciled after gaps and takeovers.
    #[cfg(feature = "callback-events")]
    Callbacks {
        queues: Vec<String>,
        options: crate::callbacks::StreamOptions,
    },
    /// Notifications of topics, gaps recorded as `gap` events.
    Topics {
        topics: Vec<String>,
        options: SubscribeOptions,
    },
}

#[derive(Debug, Clone)]
struct StreamConfig {
    source: Source,
    lease_ttl: Duration,
    visibility_timeout: Duration,
    retry_wait: Duration,
    max_attempts: u32,
    retain_done: Duration,
    batch: u32,
    poll_every: Duration,
}

struct Metrics {
    recorded: Counter,
    duplicates: Counter,
    takeovers: Counter,
    handled: Counter,
    failed: Counter,
    dead: Counter,
}

/// What the handle and the ownership task share.
struct Shared {
    status: Mutex<FleetStatus>,
    shut_down: Notify,
    stopping: AtomicBool,
    metrics: Metrics,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FleetStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut FleetStatus)) {
        change(&mut self.lock());
    }

    fn is_shut_down(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Sleeps for `d`, or less if the stream shuts down.
    async fn sleep(&self, d: Duration) {
        tokio::select! {
            () = tokio::time::sleep(d) => {}
            () = self.shut_down.notified() => {}
        }
    }
}

/// Configures an [`EventStream`]; every setting has a default but the source.
#[must_use]
pub struct EventStreamBuilder {
    client: Client,
    db: Database,
    name: String,
    source: Option<Source>,
    replica: Option<String>,
    lease_ttl: Duration,
    visibility_timeout: Duration,
    retry_wait: Duration,
    max_attempts: u32,
    retain_done: Duration,
    batch: u32,
    poll_every: Duration,
}

impl std::fmt::Debug for EventStreamBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStreamBuilder")
            .field("name", &self.name)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl EventStreamBuilder {
    /// The callback events of `queue_ids` (UUIDs), reconciled after every gap and every
    /// takeover, with the default [`StreamOptions`](crate::callbacks::StreamOptions).
    #[cfg(feature = "callback-events")]
    pub fn callbacks<I, S>(self, queue_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.callbacks_with(queue_ids, crate::callbacks::StreamOptions::default())
    }

    /// [`callbacks`](Self::callbacks) with stream options of your own.
    #[cfg(feature = "callback-events")]
    pub fn callbacks_with<I, S>(
        mut self,
        queue_ids: I,
        options: crate::callbacks::StreamOptions,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.source = Some(Source::Callbacks {
            queues: queue_ids.into_iter().map(Into::into).collect(),
            options,
        });
        self
    }

    /// The notifications of `topics`; a window in which some may have been lost (a
    /// socket down, a takeover) is recorded as a `gap` event.
    pub fn topics<I, S>(mut self, topics: I, options: SubscribeOptions) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.source = Some(Source::Topics {
            topics: topics.into_iter().map(Into::into).collect(),
            options,
        });
        self
    }

    /// This replica's name, unique in the fleet (default: the host name, the process id
    /// and a random suffix). 1 to 100 characters.
    pub fn replica(mut self, name: impl Into<String>) -> Self {
        self.replica = Some(name.into());
        self
    }

    /// How long the owner's lease lasts without a renewal: after an owner dies, another
    /// replica takes over within this and a third of it. 1 s to 10 min; default 15 s.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// How long a claimed event stays invisible to other replicas: a replica that dies
    /// while handling it leaves it to come back after this. Longer than the slowest
    /// handler. 1 s to 1 h; default 60 s.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// After a handler's failure the event is visible again after this times its attempts
    /// so far. 0 to 1 h; default 5 s.
    pub fn retry_wait(mut self, wait: Duration) -> Self {
        self.retry_wait = wait;
        self
    }

    /// Deliveries before an event whose handler keeps failing is dead. 1 to 100; default 5.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// How long handled events stay in the table. 1 min to 30 days; default 1 day.
    pub fn retain_done(mut self, retain: Duration) -> Self {
        self.retain_done = retain;
        self
    }

    /// Events one claim takes at most. 1 to 1,000; default 32.
    pub fn batch(mut self, batch: u32) -> Self {
        self.batch = batch;
        self
    }

    /// How often an idle work loop or broadcast reader looks for new events. 10 ms to
    /// 1 min; default 250 ms.
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every;
        self
    }

    /// Checks every setting, applies the database's migrations, and starts this replica's
    /// ownership task (it takes the lease when it is free). Returns at once: this replica
    /// may or may not be the owner ([`EventStream::status`]).
    pub async fn start(self) -> Result<EventStream, Error> {
        let mut v = Violations::default();
        let secs = Duration::from_secs;
        v.check_within("lease_ttl", self.lease_ttl, secs(1), secs(600));
        v.check_within(
            "visibility_timeout",
            self.visibility_timeout,
            secs(1),
            secs(3_600),
        );
        v.check_within("retry_wait", self.retry_wait, Duration::ZERO, secs(3_600));
        v.check_within("retain_done", self.retain_done, secs(60), secs(30 * 86_400));
        v.check_within(
            "poll_every",
            self.poll_every,
            Duration::from_millis(10),
            secs(60),
        );
        v.check(
            (1..=100).contains(&self.max_attempts),
            "max_attempts",
            "range",
            "1 to 100",
        );
        v.check(
            (1..=1_000).contains(&self.batch),
            "batch",
            "range",
            "1 to 1,000",
        );
        v.check(
            is_name(&self.name),
            "name",
            "identifier",
            "a stream name is 1 to 100 letters, digits, `_`, `-` and `.`",
        );
        if let Some(replica) = &self.replica {
            v.check(
                (1..=100).contains(&replica.chars().count())
                    && !replica.chars().any(char::is_control),
                "replica",
                "length",
                "a replica name is 1 to 100 characters without control characters",
            );
        }
        v.check(
            self.source.is_some(),
            "source",
            "required",
            "name what the stream carries: .callbacks(queues) or .topics(topics, options)",
        );
        match &self.source {
            #[cfg(feature = "callback-events")]
            Some(Source::Callbacks { queues, .. }) => {
                v.check(
                    !queues.is_empty(),
                    "queues",
                    "required",
                    "name at least one queue",
                );
                for (i, queue) in queues.iter().enumerate() {
                    v.check_uuid(&format!("queues[{i}]"), queue);
                }
            }
            Some(Source::Topics { topics, .. }) => {
                v.check(
                    !topics.is_empty(),
                    "topics",
                    "required",
                    "name at least one topic",
                );
            }
            None => {}
        }
        v.finish()?;
        let Some(source) = self.source else {
            return Err(Error::config("no source"));
        };
        self.db.migrate().await?;
        let replica = self.replica.unwrap_or_else(default_replica);
        let metrics = self.client.metrics();
        let shared = Arc::new(Shared {
            status: Mutex::new(FleetStatus::default()),
            shut_down: Notify::new(),
            stopping: AtomicBool::new(false),
            metrics: Metrics {
                recorded: metrics.counter("fleet.events_recorded"),
                duplicates: metrics.counter("fleet.events_repeated"),
                takeovers: metrics.counter("fleet.takeovers"),
                handled: metrics.counter("fleet.events_handled"),
                failed: metrics.counter("fleet.handler_failures"),
                dead: metrics.counter("fleet.events_dead"),
            },
        });
        let config = StreamConfig {
            source,
            lease_ttl: self.lease_ttl,
            visibility_timeout: self.visibility_timeout,
            retry_wait: self.retry_wait,
            max_attempts: self.max_attempts,
            retain_done: self.retain_done,
            batch: self.batch,
            poll_every: self.poll_every,
        };
        let store = store::Store::new(self.db.clone(), &self.name);
        let lease = lease::Lease::new(self.db.clone(), &self.name, &replica, self.lease_ttl);
        let owner = owner::Owner {
            client: self.client.clone(),
            lease: lease.clone(),
            store: store.clone(),
            config: config.clone(),
            shared: shared.clone(),
            replica: replica.clone(),
        };
        let task = tokio::spawn(owner.run());
        Ok(EventStream {
            inner: Arc::new(Inner {
                store,
                lease,
                replica,
                config,
                shared,
                task: Mutex::new(Some(task)),
            }),
        })
    }
}

fn is_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `host-pid-xxxxxx`.
fn default_replica() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().chars().take(60).collect::<String>())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "replica".to_owned());
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    format!("{host}-{}-{suffix}", std::process::id())
}

struct Inner {
    store: store::Store,
    lease: lease::Lease,
    replica: String,
    config: StreamConfig,
    shared: Arc<Shared>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A service's event stream, as one replica takes part in it. Cheap to clone; dropping
/// the last clone stops this replica's ownership task (call [`EventStream::shutdown`] to
/// hand over at once).
#[derive(Clone)]
pub struct EventStream {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("replica", &self.inner.replica)
            .field("owner", &self.inner.shared.lock().owner)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.shut_down.notify_waiters();
    }
}

impl EventStream {
    /// A builder for the stream `name` (letters, digits, `_`, `-`, `.`: one name per
    /// stream of the service; replicas of one service use the same name).
    pub fn builder(client: Client, db: Database, name: &str) -> EventStreamBuilder {
        EventStreamBuilder {
            client,
            db,
            name: name.to_owned(),
            source: None,
            replica: None,
            lease_ttl: Duration::from_secs(15),
            visibility_timeout: Duration::from_secs(60),
            retry_wait: Duration::from_secs(5),
            max_attempts: 5,
            retain_done: Duration::from_secs(86_400),
            batch: 32,
            poll_every: Duration::from_millis(250),
        }
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// What the stream has done, as this replica sees it.
    pub fn status(&self) -> FleetStatus {
        self.inner.shared.lock().clone()
    }

    /// The replica that owns the stream now, by the database (`None`: no owner at the
    /// moment, e.g. during a takeover).
    pub async fn owner(&self) -> Result<Option<String>, Error> {
        Ok(self.inner.lease.owner().await?.map(|(owner, _)| owner))
    }

    /// Claims up to `batch` events due now for this replica (invisible to the others for
    /// the visibility timeout). Hand each back with [`EventStream::ack`] or
    /// [`EventStream::fail`]; [`EventStream::work`] does all of it.
    pub async fn claim(&self) -> Result<Vec<StoredEvent>, Error> {
        self.inner
            .store
            .claim(
                &self.inner.replica,
                i64::from(self.inner.config.batch),
                self.inner.config.visibility_timeout,
            )
            .await
    }

    /// Done with `event`: it leaves the queue. `false` when this replica's claim had
    /// lapsed (the visibility timeout passed and another replica claimed it).
    pub async fn ack(&self, event: &StoredEvent) -> Result<bool, Error> {
        let acked = self.inner.store.ack(&self.inner.replica, event.seq).await?;
        if acked {
            self.inner.shared.metrics.handled.inc();
            self.inner.shared.update(|s| s.handled += 1);
        }
        Ok(acked)
    }

    /// The handler failed on `event` with `error`: visible again after `retry_wait`
    /// times its attempts, or dead once it had `max_attempts`. Only the error's kind is
    /// kept with the event (never its text, which may hold values).
    pub async fn fail(&self, event: &StoredEvent, error: &Error) -> Result<(), Error> {
        let config = &self.inner.config;
        let wait = config.retry_wait.saturating_mul(event.attempts.max(1));
        let kind = serde_json::to_value(error.kind())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned());
        let dead = self
            .inner
            .store
            .fail(
                &self.inner.replica,
                event.seq,
                &kind,
                wait,
                i32::try_from(config.max_attempts).unwrap_or(i32::MAX),
            )
            .await?;
        self.inner.shared.metrics.failed.inc();
        self.inner.shared.update(|s| s.failed += 1);
        if dead == Some(true) {
            self.inner.shared.metrics.dead.inc();
            self.inner.shared.update(|s| s.dead += 1);
            tracing::warn!(seq = event.seq, kind = %kind, "fleet: an event is dead after its last attempt");
        }
        Ok(())
    }

    /// Runs the work queue until the stream shuts down: claims events, hands each to
    /// `handler` in order, acknowledges it when the handler returns `Ok` and gives it back
    /// when it returns `Err`. Returns `Err` only when the database stays unreachable for
    /// longer than the visibility timeout (the events claimed come back to others).
    pub async fn work<F, Fut>(&self, handler: F) -> Result<(), Error>
    where
        F: Fn(StoredEvent) -> Fut,
        Fut: Future<Output = Result<(), Error>>,
    {
        let shared = &self.inner.shared;
        let mut failing_since: Option<tokio::time::Instant> = None;
        while !shared.is_shut_down() {
            let claimed = match self.claim().await {
                Ok(claimed) => {
                    failing_since = None;
                    claimed
                }
                Err(err) => {
                    let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() > self.inner.config.visibility_timeout {
                        return Err(err);
                    }
                    shared.sleep(self.inner.config.poll_every).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                shared.sleep(self.inner.config.poll_every).await;
                continue;
            }
            for event in claimed {
                let outcome = handler(event.clone()).await;
                let settled = match &outcome {
                    Ok(()) => self.ack(&event).await.map(|_| ()),
                    Err(err) => self.fail(&event, err).await,
                };
                if let Err(err) = settled {
                    // Not acknowledged: the event comes back after the visibility timeout.
                    tracing::debug!(error = %err, seq = event.seq, "fleet: an event could not be settled");
                    shared.update(|s| s.last_error = Some(err.clone()));
                }
            }
        }
        Ok(())
    }

    /// Every event, in order, for this replica under `reader` (a name unique in the fleet,
    /// kept across restarts: a restarted replica goes on where it was; a new reader starts
    /// at the newest event). Events are not claimed: every reader sees every event.
    pub async fn broadcast(&self, reader: &str) -> Result<Broadcast, Error> {
        let mut v = Violations::default();
        v.check(
            is_name(reader),
            "reader",
            "identifier",
            "a reader name is 1 to 100 letters, digits, `_`, `-` and `.`",
        );
        v.finish()?;
        let after = self.inner.store.cursor(reader).await?;
        Ok(Broadcast {
            stream: self.clone(),
            reader: reader.to_owned(),
            after,
        })
    }

    /// Dead events (their handler failed `max_attempts` times), oldest first, at most
    /// `limit`.
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<StoredEvent>, Error> {
        self.inner.store.dead(i64::from(limit)).await
    }

    /// Puts dead event `seq` back in the queue with its attempts counted from zero;
    /// `false` if it is not dead.
    pub async fn requeue(&self, seq: i64) -> Result<bool, Error> {
        self.inner.store.requeue(seq).await
    }

    /// Events pending, handled (within the retention) and dead, in the whole stream.
    pub async fn counts(&self) -> Result<(i64, i64, i64), Error> {
        self.inner.store.counts().await
    }

    /// Stops this replica's part: it gives up the lease at once if it holds it (another
    /// replica takes over without waiting for it to expire) and its work loops end.
    pub async fn shutdown(&self) {
        let shared = &self.inner.shared;
        shared.stopping.store(true, Ordering::Release);
        shared.shut_down.notify_waiters();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// One replica's view of every event, in order (see [`EventStream::broadcast`]).
#[derive(Debug)]
pub struct Broadcast {
    stream: EventStream,
    reader: String,
    after: i64,
}

impl Broadcast {
    /// The next events after the last ones taken (waiting until there are some, or the
    /// stream shuts down: then empty). Call [`Broadcast::commit`] once they are applied,
    /// so that a restart goes on after them.
    pub async fn next(&mut self) -> Result<Vec<StoredEvent>, Error> {
        let config = &self.stream.inner.config;
        loop {
            let events = self
                .stream
                .inner
                .store
                .after(self.after, i64::from(config.batch))
                .await?;
            if let Some(last) = events.last() {
                self.after = last.seq;
                return Ok(events);
            }
            if self.stream.inner.shared.is_shut_down() {
                return Ok(Vec::new());
            }
            self.stream.inner.shared.sleep(config.poll_every).await;
        }
    }

    /// Records that every event taken so far is applied.
    pub async fn commit(&self) -> Result<(), Error> {
        self.stream
            .inner
            .store
            .advance(&self.reader, self.after)
            .await
    }
}
