//! Coalescing attribute updates per session before they are sent: bounded memory, sessions
//! sent concurrently (one stuck session delays no other), transient failures retried with
//! backoff, permanent ones handed back in a dead-letter list.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

use crate::error::{Error, ErrorKind, TimeoutKind};
use crate::observe::Metrics;
use crate::validation::{ValidationError, Violations};

/// Where merged attributes go: the guest websocket, or the participant REST endpoint.
///
/// How the batcher treats an error (see [`Error::is_retryable`]): throttling, 5xx,
/// timeouts and lost connections are retried with backoff; anything else (invalid input,
/// an unknown or expired session, 401/403, 409, configuration) is permanent and the
/// updates go to the [`DeadLetters`] list at once. Raise your own errors with
/// [`Error::custom`] and the kind that says which.
#[async_trait]
pub trait AttributeSink: Send + Sync {
    /// Sends the merged attributes of one session.
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error>;

    /// The caller is done with `session_id` (see [`AttributeBatcher::finish_session`] and
    /// `GuestAttributes::unregister`): drop what you keep for it. Default: nothing.
    async fn forget(&self, session_id: &str) {
        let _ = session_id;
    }
}

/// Told about each successful send and each dead letter.
#[async_trait]
pub trait DeliveryHook: Send + Sync {
    /// Runs after the sink accepted a session's merged attributes: the session, what was
    /// sent, the ids of the updates merged into it (as given to
    /// [`AttributeBatcher::add_tracked`]) and when the oldest was added. Bounded by the
    /// send timeout.
    async fn delivered(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        update_ids: &[u64],
        oldest: Instant,
    );

    /// Runs when updates were given up (before the letter joins the [`DeadLetters`]
    /// list). Bounded by the send timeout. Default: nothing.
    async fn dead_lettered(&self, letter: &DeadLetter) {
        let _ = letter;
    }
}

/// Asked by the batcher before each send, and told when a session's updates leave it: how
/// a shared outbox keeps one sender per session (the PostgreSQL outbox answers from the
/// claims this replica holds). Crate-private: the protocol is the outbox's, not the user's.
pub(crate) trait SendGate: Send + Sync {
    /// Whether a send of `session_id` may start now. A session refused stays queued, and
    /// is asked again at every turn of the batcher (see [`BatcherHandle::wake`]).
    fn may_send(&self, session_id: &str) -> bool;

    /// The batcher holds nothing more for `session_id` (its last updates were delivered,
    /// dead-lettered or purged).
    fn idle(&self, session_id: &str);

    /// Updates dropped by [`BatcherHandle::purge`], neither delivered nor dead-lettered
    /// here (their outbox rows stay for whoever sends them).
    fn discarded(&self, update_ids: &[u64]);
}

/// How the batcher groups, sends and retries updates. Build with
/// [`BatcherOptions::builder`]; [`Default`] holds the values below.
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::guests::BatcherOptions;
///
/// let options = BatcherOptions::builder()
///     .flush_interval(Duration::from_millis(500))
///     .max_pending(50_000)
///     .build()?;
/// assert_eq!(options.max_batch(), 10);
/// assert!(BatcherOptions::builder().max_batch(0).build().is_err());
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatcherOptions {
    flush_interval: Duration,
    max_batch: usize,
    max_pending: usize,
    max_concurrent_sends: usize,
    send_timeout: Duration,
    max_attempts: u32,
    retry_wait: Duration,
    max_retry_wait: Duration,
    max_dead_letters: usize,
    shutdown_timeout: Duration,
}

impl Default for BatcherOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(2),
            max_batch: 10,
            max_pending: 10_000,
            max_concurrent_sends: 8,
            send_timeout: Duration::from_secs(30),
            max_attempts: 5,
            retry_wait: Duration::from_secs(1),
            max_retry_wait: Duration::from_secs(60),
            max_dead_letters: 1_000,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl BatcherOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> BatcherOptionsBuilder {
        BatcherOptionsBuilder {
            options: Self::default(),
        }
    }

    /// Flush at least this often Default 2 s.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// Flush once this many updates arrived since the last flush Default 10.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Updates held at most (queued, merged, in flight or waiting for a retry); past it,
    /// `add` fails at once with [`ErrorKind::LocalLimit`]. Default 10,000.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// Sessions sent at the same time. Default 8.
    pub fn max_concurrent_sends(&self) -> usize {
        self.max_concurrent_sends
    }

    /// One send of one session (and, after it, the delivery hook): past it the send counts
    /// as failed (it may still have arrived) and is retried. Default 30 s.
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Failed attempts in a row, per session, before its updates are dead-lettered.
    /// Default 5.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The first wait before a retry; waits double (with jitter) up to
    /// [`max_retry_wait`](Self::max_retry_wait). A sink's `retry_after` is honoured up to
    /// that cap. Default 1 s.
    pub fn retry_wait(&self) -> Duration {
        self.retry_wait
    }

    /// The longest wait before a retry. Default 60 s.
    pub fn max_retry_wait(&self) -> Duration {
        self.max_retry_wait
    }

    /// Dead letters kept for the caller; past it the oldest is dropped and counted
    /// ([`DeadLetters::dropped`]). Default 1,000.
    pub fn max_dead_letters(&self) -> usize {
        self.max_dead_letters
    }

    /// How long `shutdown` may take to send what is left. Default 10 s.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

/// Builds [`BatcherOptions`]; [`build`](Self::build) lists every value out of range.
#[derive(Debug, Clone)]
#[must_use]
pub struct BatcherOptionsBuilder {
    options: BatcherOptions,
}

impl BatcherOptionsBuilder {
    /// See [`BatcherOptions::flush_interval`]; more than zero.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.options.flush_interval = interval;
        self
    }

    /// See [`BatcherOptions::max_batch`]; at least 1.
    pub fn max_batch(mut self, updates: usize) -> Self {
        self.options.max_batch = updates;
        self
    }

    /// See [`BatcherOptions::max_pending`]; at least 1.
    pub fn max_pending(mut self, updates: usize) -> Self {
        self.options.max_pending = updates;
        self
    }

    /// See [`BatcherOptions::max_concurrent_sends`]; 1 to 1,024.
    pub fn max_concurrent_sends(mut self, sends: usize) -> Self {
        self.options.max_concurrent_sends = sends;
        self
    }

    /// See [`BatcherOptions::send_timeout`]; more than zero.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.options.send_timeout = timeout;
        self
    }

    /// See [`BatcherOptions::max_attempts`]; at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options.max_attempts = attempts;
        self
    }

    /// See [`BatcherOptions::retry_wait`] and
    /// [`max_retry_wait`](BatcherOptions::max_retry_wait): `first` more than zero, `max`
    /// at least `first`.
    pub fn retry_waits(mut self, first: Duration, max: Duration) -> Self {
        self.options.retry_wait = first;
        self.options.max_retry_wait = max;
        self
    }

    /// See [`BatcherOptions::max_dead_letters`]; at least 1.
    pub fn max_dead_letters(mut self, letters: usize) -> Self {
        self.options.max_dead_letters = letters;
        self
    }

    /// See [`BatcherOptions::shutdown_timeout`]; more than zero.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options.shutdown_timeout = timeout;
        self
    }

    /// The options, or every value out of range.
    pub fn build(self) -> Result<BatcherOptions, ValidationError> {
        let o = self.options;
        let mut v = Violations::default();
        for (field, value) in [
            ("flushInterval", o.flush_interval),
            ("sendTimeout", o.send_timeout),
            ("retryWait", o.retry_wait),
            ("shutdownTimeout", o.shutdown_timeout),
        ] {
            v.check(
                !value.is_zero(),
                field,
                "positive",
                format!("`{field}` must be more than zero"),
            );
        }
        for (field, value) in [
            ("maxBatch", o.max_batch),
            ("maxPending", o.max_pending),
            ("maxDeadLetters", o.max_dead_letters),
            ("maxAttempts", o.max_attempts as usize),
        ] {
            v.check(
                value >= 1,
                field,
                "min",
                format!("`{field}` must be at least 1"),
            );
        }
        v.check(
            (1..=1024).contains(&o.max_concurrent_sends),
            "maxConcurrentSends",
            "range",
            "`maxConcurrentSends` is 1 to 1024",
        );
        v.check(
            o.max_retry_wait >= o.retry_wait,
            "maxRetryWait",
            "range",
            "the longest retry wait must be at least the first",
        );
        v.finish().map(|()| o)
    }
}

/// Why updates were given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The sink refused them with an error that is not retryable (4xx, an unknown or
    /// expired session, a 409, ...).
    Rejected,
    /// A retryable error came back [`BatcherOptions::max_attempts`] times in a row.
    RetriesExhausted,
    /// The session was finished ([`AttributeBatcher::finish_session`]) and its last
    /// attempt failed.
    Unregistered,
    /// The batcher shut down before they could be sent.
    Shutdown,
}

impl DeadLetterReason {
    /// A stable name, for metrics and audit.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
            DeadLetterReason::Unregistered => "unregistered",
            DeadLetterReason::Shutdown => "shutdown",
        }
    }
}

/// Updates the batcher gave up, handed to the caller with what is needed to resend them.
/// `Debug` shows the keys, never the values.
#[derive(Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The guest session.
    pub session_id: String,
    /// The merged attributes that were not delivered.
    pub attributes: BTreeMap<String, String>,
    /// The ids of the updates merged into them (see [`AttributeBatcher::add_tracked`]).
    pub update_ids: Vec<u64>,
    /// How many updates were merged.
    pub updates: usize,
    /// Attempts made.
    pub attempts: u32,
    /// Why they were given up.
    pub reason: DeadLetterReason,
    /// The last error (`None` when shutdown came before any attempt).
    pub error: Option<Error>,
    /// When they were given up.
    pub at: jiff::Timestamp,
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("session_id", &self.session_id)
            .field("keys", &self.attributes.keys().collect::<Vec<_>>())
            .field("update_ids", &self.update_ids)
            .field("updates", &self.updates)
            .field("attempts", &self.attempts)
            .field("reason", &self.reason)
            .field("error", &self.error)
            .field("at", &self.at)
            .finish()
    }
}

#[derive(Default)]
struct DeadState {
    letters: VecDeque<DeadLetter>,
    capacity: usize,
    dropped: u64,
    total: u64,
}

/// The updates a batcher gave up, for the caller to read (or drain) and deal with: resend,
/// store, alert. Cheap to clone; outlives the batcher. Bounded: past
/// [`BatcherOptions::max_dead_letters`] the oldest letter is dropped and counted in
/// [`dropped`](Self::dropped) (every letter is also counted in the `guests.dead_letters`
/// metric when it arrives).
#[derive(Clone)]
pub struct DeadLetters {
    state: Arc<Mutex<DeadState>>,
}

impl fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("DeadLetters")
            .field("len", &state.letters.len())
            .field("dropped", &state.dropped)
            .field("total", &state.total)
            .finish()
    }
}

impl DeadLetters {
    fn new(capacity: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(DeadState {
                capacity,
                ..DeadState::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DeadState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a letter; `false` when the oldest had to make room.
    fn push(&self, letter: DeadLetter) -> bool {
        let mut state = self.lock();
        state.total += 1;
        let mut kept = true;
        if state.letters.len() >= state.capacity {
            state.letters.pop_front();
            state.dropped += 1;
            kept = false;
        }
        state.letters.push_back(letter);
        kept
    }

    /// Takes every letter held, oldest first.
    pub fn drain(&self) -> Vec<DeadLetter> {
        self.lock().letters.drain(..).collect()
    }

    /// A copy of every letter held, oldest first.
    pub fn snapshot(&self) -> Vec<DeadLetter> {
        self.lock().letters.iter().cloned().collect()
    }

    /// Letters held.
    pub fn len(&self) -> usize {
        self.lock().letters.len()
    }

    /// Whether no letter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Letters dropped because the list was full (the oldest go first).
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Letters ever added, dropped ones included.
    pub fn total(&self) -> u64 {
        self.lock().total
    }
}

/// One accepted update, holding its place in the pending bound.
struct Update {
    session_id: String,
    attributes: BTreeMap<String, String>,
    id: Option<u64>,
    added: Instant,
    permit: OwnedSemaphorePermit,
}

enum Command {
    Add(Update),
    Flush(oneshot::Sender<()>),
    Finish {
        session_id: String,
        done: oneshot::Sender<()>,
    },
    Shutdown(oneshot::Sender<Result<(), Error>>),
    /// Drop a session's updates without sending or dead-lettering them.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    Purge(String),
    /// Look at the gated sessions again.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Wake,
}

/// A place in the batcher's pending bound, taken before the update is stored anywhere (an
/// outbox, say), so that a full batcher is known before anything is written.
#[must_use = "a reservation holds a place until it is used or dropped"]
pub struct Reservation {
    permit: OwnedSemaphorePermit,
    tx: mpsc::UnboundedSender<Command>,
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation").finish_non_exhaustive()
    }
}

impl Reservation {
    /// Queues the update in the reserved place; `id` (e.g. an outbox id) is reported to
    /// the delivery hook and in dead letters, `added` is when it was accepted. Never waits.
    pub fn add(
        self,
        session_id: impl Into<String>,
        attributes: BTreeMap<String, String>,
        id: Option<u64>,
        added: Instant,
    ) -> Result<(), Error> {
        let update = Update {
            session_id: session_id.into(),
            attributes,
            id,
            added,
            permit: self.permit,
        };
        self.tx.send(Command::Add(update)).map_err(|_| stopped())
    }
}

/// Merges updates for the same session into one send (the last write per key wins) and
/// sends each session's merged attributes through an [`AttributeSink`].
///
/// - **When**: every `flush_interval`, once `max_batch` updates arrived since the last
///   flush, on [`flush`](Self::flush), and at [`shutdown`](Self::shutdown).
/// - **Concurrency and order**: up to `max_concurrent_sends` sessions are sent at once,
///   each within `send_timeout`, so a session that hangs delays no other. Per session,
///   sends never overlap and go in order (what fails is retried merged under the newer
///   updates, newer keys winning); across sessions there is no order.
/// - **Failures**: retryable errors are retried per session with a growing backoff, up to
///   `max_attempts` in a row; permanent errors, and retries run out, go to the
///   [`DeadLetters`] list (counted in `guests.dead_letters`, told to the
///   [`DeliveryHook`]), never silently dropped. A failing session is not sent again
///   before its backoff ends, however many updates arrive for others.
/// - **Memory**: at most `max_pending` updates are held; past it [`add`](Self::add) fails
///   at once with [`ErrorKind::LocalLimit`] (it never waits).
/// - **Shutdown**: sends what is left (one attempt per session, within
///   `shutdown_timeout`); what is still undelivered is dead-lettered and reported in the
///   error. Dropping the batcher without shutdown abandons its updates at once, as a
///   crash would (with an outbox, nothing accepted is lost).
///
/// Delivery is at-least-once: a send that timed out may have arrived and is sent again.
///
/// Metrics: `guests.updates`, `guests.batches`, `guests.coalesced_updates`,
/// `guests.send_failures`, `guests.retries`, `guests.dead_letters`,
/// `guests.dead_letters_dropped`, `guests.pending_full`, latency `guests.add_to_accept`
/// (from `add` to acceptance).
#[derive(Debug)]
pub struct AttributeBatcher {
    tx: mpsc::UnboundedSender<Command>,
    permits: Arc<Semaphore>,
    max_pending: usize,
    dead_letters: DeadLetters,
    metrics: Metrics,
    /// Taken by `shutdown`; aborted when the batcher is dropped without it.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for AttributeBatcher {
    /// Dropping without [`AttributeBatcher::shutdown`] abandons the queue at once, as a
    /// crash would; with an outbox, nothing accepted is lost.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn stopped() -> Error {
    Error::closed("the attribute batcher")
}

impl AttributeBatcher {
    /// Starts a batcher sending to `sink`, counting in `metrics`.
    pub fn start(sink: Arc<dyn AttributeSink>, options: BatcherOptions, metrics: Metrics) -> Self {
        Self::start_with_hook(sink, options, metrics, None)
    }

    /// Like [`AttributeBatcher::start`], telling `hook` about each successful send and
    /// each dead letter.
    pub fn start_with_hook(
        sink: Arc<dyn AttributeSink>,
        options: BatcherOptions,
        metrics: Metrics,
        hook: Option<Arc<dyn DeliveryHook>>,
    ) -> Self {
        Self::start_inner(sink, options, metrics, hook, false, None)
    }

    /// `keep_undelivered`: what shutdown could not send is left to the caller (who keeps
    /// it in an outbox) instead of being dead-lettered. `gate`: asked before each send.
    pub(crate) fn start_inner(
        sink: Arc<dyn AttributeSink>,
        options: BatcherOptions,
        metrics: Metrics,
        hook: Option<Arc<dyn DeliveryHook>>,
        keep_undelivered: bool,
        gate: Option<Arc<dyn SendGate>>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let dead_letters = DeadLetters::new(options.max_dead_letters);
        let permits = Arc::new(Semaphore::new(options.max_pending));
        let engine = Engine {
            sink,
            hook,
            gate,
            metrics: metrics.clone(),
            dead_letters: dead_letters.clone(),
            slots: HashMap::new(),
            due: BTreeSet::new(),
            retries: BTreeSet::new(),
            sends: JoinSet::new(),
            in_flight: HashMap::new(),
            seq: 0,
            next_arrival: 0,
            since_flush: 0,
            waiters: Vec::new(),
            keep_undelivered,
            shutting_down: false,
            options: options.clone(),
        };
        let task = tokio::spawn(engine.run(rx));
        Self {
            tx,
            permits,
            max_pending: options.max_pending,
            dead_letters,
            metrics,
            task: Some(task),
        }
    }

    /// Takes a place for one update, failing at once with [`ErrorKind::LocalLimit`] when
    /// `max_pending` updates are held.
    pub fn reserve(&self) -> Result<Reservation, Error> {
        self.handle().reserve()
    }

    /// What an outbox needs of the batcher (places, purges, wake-ups), apart from it.
    pub(crate) fn handle(&self) -> BatcherHandle {
        BatcherHandle {
            tx: self.tx.clone(),
            permits: self.permits.clone(),
            max_pending: self.max_pending,
            metrics: self.metrics.clone(),
        }
    }

    /// Queues an update. Never waits: fails with [`ErrorKind::LocalLimit`] when
    /// `max_pending` updates are held.
    pub fn add(
        &self,
        session_id: impl Into<String>,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.reserve()?
            .add(session_id, attributes, None, Instant::now())
    }

    /// Queues an update known by `id` (e.g. its outbox id), reported to the delivery hook
    /// and in dead letters; `added` is when it was accepted.
    pub fn add_tracked(
        &self,
        session_id: impl Into<String>,
        attributes: BTreeMap<String, String>,
        id: u64,
        added: Instant,
    ) -> Result<(), Error> {
        self.reserve()?.add(session_id, attributes, Some(id), added)
    }

    /// Updates held now (queued, merged, in flight or waiting for a retry).
    pub fn pending(&self) -> usize {
        self.max_pending
            .saturating_sub(self.permits.available_permits())
    }

    /// The updates given up so far (a shared view; it outlives the batcher).
    pub fn dead_letters(&self) -> DeadLetters {
        self.dead_letters.clone()
    }

    /// Sends everything queued now, sessions waiting for a retry included when they have
    /// new updates, and returns once each of those updates had its attempt (delivered,
    /// dead-lettered, or waiting for a retry). Bounded by the send timeout, except for
    /// new updates of a session whose send was in flight and failed: they go with its
    /// retry, and `flush` waits for that (at most `max_retry_wait` more).
    pub async fn flush(&self) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Command::Flush(done)).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())
    }

    /// Gives `session_id` one last attempt for what it has pending (waiting for a send in
    /// flight first), then forgets it; what is still undelivered is dead-lettered
    /// ([`DeadLetterReason::Unregistered`]). Returns once the session is gone.
    pub async fn finish_session(&self, session_id: &str) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Finish {
                session_id: session_id.to_owned(),
                done,
            })
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())
    }

    /// Sends what is left and stops, within `shutdown_timeout` (sends still running then
    /// are aborted). Errors when some updates were not delivered: they are in the
    /// [`DeadLetters`] list ([`DeadLetterReason::Shutdown`]).
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Shutdown(done))
            .map_err(|_| stopped())?;
        let result = wait.await.map_err(|_| stopped())?;
        if let Some(task) = self.task.take() {
            task.await.map_err(|_| stopped())?;
        }
        result
    }
}

/// A batcher's places, purges and wake-ups, for an outbox that feeds it from a task of its
/// own. Cheap to clone; it does not keep the batcher running.
#[derive(Clone)]
pub(crate) struct BatcherHandle {
    tx: mpsc::UnboundedSender<Command>,
    permits: Arc<Semaphore>,
    max_pending: usize,
    metrics: Metrics,
}

impl fmt::Debug for BatcherHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatcherHandle").finish_non_exhaustive()
    }
}

impl BatcherHandle {
    /// See [`AttributeBatcher::reserve`].
    pub(crate) fn reserve(&self) -> Result<Reservation, Error> {
        if self.tx.is_closed() {
            return Err(stopped());
        }
        match self.try_reserve() {
            Some(place) => Ok(place),
            None => {
                self.metrics.counter("guests.pending_full").inc();
                Err(Error::limit(
                    "guest attribute updates waiting to be sent",
                    self.max_pending,
                    "nothing was stored: try again once sends caught up, or raise BatcherOptions::max_pending",
                ))
            }
        }
    }

    /// A place, or `None` when the batcher is full or stopped (not counted as a refusal:
    /// the outbox keeps the update and tries again later).
    pub(crate) fn try_reserve(&self) -> Option<Reservation> {
        if self.tx.is_closed() {
            return None;
        }
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        Some(Reservation {
            permit,
            tx: self.tx.clone(),
        })
    }

    /// Places free now.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    pub(crate) fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Drops `session_id`'s updates without sending or dead-lettering them (they are told
    /// to the gate as discarded); a send in flight ends, and what it leaves is dropped too.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    pub(crate) fn purge(&self, session_id: &str) {
        let _ = self.tx.send(Command::Purge(session_id.to_owned()));
    }

    /// Asks the gate again about the sessions it held back.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    pub(crate) fn wake(&self) {
        let _ = self.tx.send(Command::Wake);
    }
}

/// One session's merged updates.
struct Batch {
    attributes: BTreeMap<String, String>,
    ids: Vec<u64>,
    updates: usize,
    oldest: Instant,
    /// The places these updates hold in the pending bound.
    permit: OwnedSemaphorePermit,
    /// The lowest sequence number among updates never attempted.
    fresh_from: Option<u64>,
}

impl Batch {
    /// Takes in `newer`, whose keys win.
    fn absorb(&mut self, newer: Batch) {
        self.attributes.extend(newer.attributes);
        self.ids.extend(newer.ids);
        self.updates += newer.updates;
        self.oldest = self.oldest.min(newer.oldest);
        self.permit.merge(newer.permit);
        self.fresh_from = match (self.fresh_from, newer.fresh_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

struct InFlight {
    batch: Batch,
    fresh_from: Option<u64>,
    /// The session was purged meanwhile: if this send fails, its updates are dropped
    /// (neither retried nor dead-lettered).
    purged: bool,
}

/// One session's state.
struct Slot {
    /// Order of the session's first update, for sending in arrival order.
    arrival: u64,
    /// Updates not in flight (possibly failed ones, waiting for their retry).
    waiting: Option<Batch>,
    in_flight: Option<InFlight>,
    /// Failed attempts in a row.
    attempts: u32,
    /// Not sent again before this (after a failure).
    retry_at: Option<tokio::time::Instant>,
    /// `finish_session` callers, answered once the session is gone.
    finishing: Vec<oneshot::Sender<()>>,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.waiting.is_none() && self.in_flight.is_none()
    }
}

struct Engine {
    sink: Arc<dyn AttributeSink>,
    hook: Option<Arc<dyn DeliveryHook>>,
    gate: Option<Arc<dyn SendGate>>,
    options: BatcherOptions,
    metrics: Metrics,
    dead_letters: DeadLetters,
    slots: HashMap<String, Slot>,
    /// Sessions to send, by arrival.
    due: BTreeSet<(u64, String)>,
    /// Sessions waiting for a retry, by time.
    retries: BTreeSet<(tokio::time::Instant, u64, String)>,
    sends: JoinSet<Result<(), Error>>,
    in_flight: HashMap<tokio::task::Id, String>,
    seq: u64,
    next_arrival: u64,
    since_flush: usize,
    /// `flush` callers and the last update sequence number they wait for.
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    keep_undelivered: bool,
    shutting_down: bool,
}

impl Engine {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        // The first flush is one interval after start, not at once.
        let first = tokio::time::Instant::now() + self.options.flush_interval;
        let mut tick = tokio::time::interval_at(first, self.options.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.dispatch();
            self.answer_waiters();
            let next_retry = self.retries.first().map(|(at, _, _)| *at);
            tokio::select! {
                command = rx.recv() => match command {
                    Some(Command::Add(update)) => self.add(update),
                    Some(Command::Flush(done)) => {
                        self.flush(true);
                        self.waiters.push((self.seq, done));
                    }
                    Some(Command::Finish { session_id, done }) => self.finish(session_id, done),
                    Some(Command::Purge(session_id)) => self.purge(&session_id),
                    Some(Command::Wake) => {}
                    Some(Command::Shutdown(done)) => {
                        rx.close();
                        // Everything sent before the shutdown was accepted: take it in.
                        while let Ok(command) = rx.try_recv() {
                            match command {
                                Command::Add(update) => self.add(update),
                                Command::Flush(done) => self.waiters.push((self.seq, done)),
                                Command::Finish { session_id, done } => self.finish(session_id, done),
                                Command::Purge(session_id) => self.purge(&session_id),
                                Command::Shutdown(_) | Command::Wake => {}
                            }
                        }
                        let result = self.shutdown().await;
                        let _ = done.send(result);
                        return;
                    }
                    // Unreachable while the batcher lives (it holds a sender); the task
                    // is aborted when it is dropped.
                    None => return,
                },
                Some(joined) = self.sends.join_next_with_id(), if !self.sends.is_empty() => {
                    self.completed(joined).await;
                }
                _ = tick.tick() => self.flush(false),
                () = sleep_until_or_never(next_retry) => self.retry_due(),
            }
        }
    }

    fn add(&mut self, update: Update) {
        self.metrics.counter("guests.updates").inc();
        self.seq += 1;
        let batch = Batch {
            attributes: update.attributes,
            ids: update.id.into_iter().collect(),
            updates: 1,
            oldest: update.added,
            permit: update.permit,
            fresh_from: Some(self.seq),
        };
        let arrival = &mut self.next_arrival;
        let slot = self.slots.entry(update.session_id).or_insert_with(|| {
            *arrival += 1;
            Slot {
                arrival: *arrival,
                waiting: None,
                in_flight: None,
                attempts: 0,
                retry_at: None,
                finishing: Vec::new(),
            }
        });
        match &mut slot.waiting {
            Some(waiting) => waiting.absorb(batch),
            None => slot.waiting = Some(batch),
        }
        self.since_flush += 1;
        if self.since_flush >= self.options.max_batch {
            self.flush(false);
        }
    }

    /// Marks sessions to send: those not waiting for a retry, and with `force` also those
    /// that are but have new updates.
    fn flush(&mut self, force: bool) {
        self.since_flush = 0;
        let now = tokio::time::Instant::now();
        for (session_id, slot) in &self.slots {
            let Some(waiting) = &slot.waiting else {
                continue;
            };
            let ready =
                slot.retry_at.is_none_or(|at| at <= now) || (force && waiting.fresh_from.is_some());
            if ready {
                self.due.insert((slot.arrival, session_id.clone()));
            }
        }
    }

    fn retry_due(&mut self) {
        let now = tokio::time::Instant::now();
        while let Some((at, arrival, session_id)) = self.retries.first().cloned() {
            if at > now {
                break;
            }
            self.retries.pop_first();
            // A stale entry when the session was sent early (a forced flush).
            if let Some(slot) = self.slots.get(&session_id) {
                if slot.retry_at == Some(at) && slot.waiting.is_some() {
                    self.due.insert((arrival, session_id));
                }
            }
        }
    }

    /// Starts sends for due sessions, in arrival order, up to the concurrency cap.
    fn dispatch(&mut self) {
        while self.sends.len() < self.options.max_concurrent_sends {
            let next = self
                .due
                .iter()
                .find(|(_, id)| {
                    self.slots
                        .get(id.as_str())
                        .is_none_or(|slot| slot.in_flight.is_none())
                        && self.may_send(id)
                })
                .cloned();
            let Some(key) = next else { break };
            self.due.remove(&key);
            let session_id = key.1;
            let Some(slot) = self.slots.get_mut(&session_id) else {
                continue;
            };
            let Some(mut batch) = slot.waiting.take() else {
                continue;
            };
            slot.retry_at = None;
            let fresh_from = batch.fresh_from.take();
            let sink = self.sink.clone();
            let hook = self.hook.clone();
            let metrics = self.metrics.clone();
            let timeout = self.options.send_timeout;
            let attributes = batch.attributes.clone();
            let ids = batch.ids.clone();
            let oldest = batch.oldest;
            let session = session_id.clone();
            let handle = self.sends.spawn(async move {
                let sent = tokio::time::timeout(timeout, sink.send(&session, &attributes)).await;
                let result = sent.unwrap_or_else(|_| {
                    Err(Error::timeout(
                        Arc::from("guest attribute sink"),
                        TimeoutKind::Attempt,
                        timeout,
                    ))
                });
                if result.is_ok() {
                    if let Some(hook) = hook {
                        let told = hook.delivered(&session, &attributes, &ids, oldest);
                        if tokio::time::timeout(timeout, told).await.is_err() {
                            metrics.counter("guests.hook_timeouts").inc();
                            tracing::warn!(
                                "the guest delivery hook took longer than the send timeout"
                            );
                        }
                    }
                }
                result
            });
            self.in_flight.insert(handle.id(), session_id);
            slot.in_flight = Some(InFlight {
                batch,
                fresh_from,
                purged: false,
            });
        }
    }

    /// A send ended.
    async fn completed(&mut self, joined: Result<(tokio::task::Id, Result<(), Error>), JoinError>) {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(err) => {
                let why = if err.is_panic() {
                    "the attribute sink panicked"
                } else {
                    "the send was aborted at shutdown; it may have arrived"
                };
                (err.id(), Err(Error::custom(ErrorKind::Upstream, why)))
            }
        };
        let Some(session_id) = self.in_flight.remove(&id) else {
            return;
        };
        let Some(slot) = self.slots.get_mut(&session_id) else {
            return;
        };
        let Some(flight) = slot.in_flight.take() else {
            return;
        };
        let batch = flight.batch;
        if flight.purged && result.is_err() {
            // Another sender has these updates now: not ours to retry or dead-letter.
            self.discard(batch);
            self.settle(&session_id);
            return;
        }
        match result {
            Ok(()) => {
                slot.attempts = 0;
                self.metrics.counter("guests.batches").inc();
                self.metrics
                    .counter("guests.coalesced_updates")
                    .add(batch.updates.saturating_sub(1) as u64);
                self.metrics
                    .latency("guests.add_to_accept")
                    .record(batch.oldest.elapsed());
            }
            Err(err) => {
                self.metrics.counter("guests.send_failures").inc();
                slot.attempts += 1;
                let attempts = slot.attempts;
                let finishing = !slot.finishing.is_empty();
                let reason = if !err.is_retryable() {
                    Some(DeadLetterReason::Rejected)
                } else if finishing {
                    Some(DeadLetterReason::Unregistered)
                } else if attempts >= self.options.max_attempts {
                    Some(DeadLetterReason::RetriesExhausted)
                } else {
                    None
                };
                match reason {
                    Some(reason) => {
                        slot.attempts = 0;
                        // A finishing session's last attempt failed: what came in
                        // meanwhile is given up with it.
                        let rest = if finishing { slot.waiting.take() } else { None };
                        self.dead_letter(&session_id, batch, reason, attempts, Some(err))
                            .await;
                        if let Some(rest) = rest {
                            let reason = DeadLetterReason::Unregistered;
                            self.dead_letter(&session_id, rest, reason, 0, None).await;
                        }
                    }
                    None if self.shutting_down => {
                        // One attempt per session at shutdown: the rest is undelivered.
                        let mut batch = batch;
                        if let Some(newer) = slot.waiting.take() {
                            batch.absorb(newer);
                        }
                        slot.waiting = Some(batch);
                        self.due.remove(&(slot.arrival, session_id.clone()));
                    }
                    None => {
                        self.metrics.counter("guests.retries").inc();
                        tracing::debug!(error = %err, attempts, "guest attribute send failed; retrying later");
                        let mut batch = batch;
                        if let Some(newer) = slot.waiting.take() {
                            batch.absorb(newer);
                        }
                        slot.waiting = Some(batch);
                        let backoff = crate::transport::endless_backoff(
                            self.options.retry_wait,
                            self.options.max_retry_wait,
                            true,
                        )
                        .nth(attempts.saturating_sub(1) as usize)
                        .unwrap_or(self.options.max_retry_wait);
                        let wait = err
                            .retry_after()
                            .map_or(backoff, |asked| asked.max(backoff))
                            .min(self.options.max_retry_wait);
                        let at = tokio::time::Instant::now() + wait;
                        slot.retry_at = Some(at);
                        // Newer updates wait out the backoff with the failed ones.
                        self.due.remove(&(slot.arrival, session_id.clone()));
                        self.retries.insert((at, slot.arrival, session_id.clone()));
                    }
                }
            }
        }
        self.settle(&session_id);
    }

    /// After a send ended: a finishing session's newer updates go next; an empty session
    /// is forgotten (and its `finish_session` callers answered).
    fn settle(&mut self, session_id: &str) {
        let Some(slot) = self.slots.get_mut(session_id) else {
            return;
        };
        if !slot.finishing.is_empty() && slot.in_flight.is_none() && slot.waiting.is_some() {
            self.due.insert((slot.arrival, session_id.to_owned()));
        }
        if slot.is_empty() {
            for done in slot.finishing.drain(..) {
                let _ = done.send(());
            }
            self.slots.remove(session_id);
            if let Some(gate) = &self.gate {
                gate.idle(session_id);
            }
        }
    }

    /// Whether the gate (if any) lets `session_id` be sent now.
    fn may_send(&self, session_id: &str) -> bool {
        self.gate
            .as_ref()
            .is_none_or(|gate| gate.may_send(session_id))
    }

    /// Drops a batch that another sender has taken over: its places are freed, and the
    /// gate is told which updates it held.
    fn discard(&mut self, batch: Batch) {
        if let Some(gate) = &self.gate {
            gate.discarded(&batch.ids);
        }
        drop(batch.permit);
    }

    /// Drops what `session_id` has waiting; a send in flight is left to end (what it
    /// leaves is dropped then).
    fn purge(&mut self, session_id: &str) {
        let Some(slot) = self.slots.get_mut(session_id) else {
            return;
        };
        let waiting = slot.waiting.take();
        slot.retry_at = None;
        slot.attempts = 0;
        if let Some(flight) = &mut slot.in_flight {
            flight.purged = true;
        }
        let arrival = slot.arrival;
        self.due.remove(&(arrival, session_id.to_owned()));
        if let Some(batch) = waiting {
            self.discard(batch);
        }
        self.settle(session_id);
    }

    fn finish(&mut self, session_id: String, done: oneshot::Sender<()>) {
        let Some(slot) = self.slots.get_mut(&session_id) else {
            let _ = done.send(());
            return;
        };
        slot.finishing.push(done);
        slot.attempts = 0;
        if slot.waiting.is_some() {
            self.due.insert((slot.arrival, session_id));
        }
    }

    async fn dead_letter(
        &mut self,
        session_id: &str,
        batch: Batch,
        reason: DeadLetterReason,
        attempts: u32,
        error: Option<Error>,
    ) {
        self.metrics.counter("guests.dead_letters").inc();
        self.metrics
            .counter(&format!("guests.dead_letters.{}", reason.as_str()))
            .inc();
        let keys: Vec<&str> = batch.attributes.keys().map(String::as_str).collect();
        match &error {
            Some(err) => tracing::warn!(
                session_id,
                ?keys,
                reason = reason.as_str(),
                error = %err,
                "guest attribute updates dead-lettered"
            ),
            None => tracing::warn!(
                session_id,
                ?keys,
                reason = reason.as_str(),
                "guest attribute updates dead-lettered"
            ),
        }
        let letter = DeadLetter {
            session_id: session_id.to_owned(),
            attributes: batch.attributes,
            update_ids: batch.ids,
            updates: batch.updates,
            attempts,
            reason,
            error,
            at: jiff::Timestamp::now(),
        };
        if let Some(hook) = &self.hook {
            let told = hook.dead_lettered(&letter);
            if tokio::time::timeout(self.options.send_timeout, told)
                .await
                .is_err()
            {
                self.metrics.counter("guests.hook_timeouts").inc();
            }
        }
        if !self.dead_letters.push(letter) {
            self.metrics.counter("guests.dead_letters_dropped").inc();
        }
        // The batch's places in the pending bound are freed here (its permit drops).
        drop(batch.permit);
    }

    /// Answers `flush` callers whose updates all had their attempt.
    fn answer_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        // Updates the gate holds back (another replica may be sending them) are not
        // waited for.
        let lowest_fresh = self
            .slots
            .iter()
            .flat_map(|(session_id, slot)| {
                let waiting = slot
                    .waiting
                    .as_ref()
                    .and_then(|b| b.fresh_from)
                    .filter(|_| self.may_send(session_id));
                let flying = slot.in_flight.as_ref().and_then(|f| f.fresh_from);
                [waiting, flying]
            })
            .flatten()
            .min();
        let mut still = Vec::with_capacity(self.waiters.len());
        for (upto, done) in self.waiters.drain(..) {
            if lowest_fresh.is_some_and(|lowest| lowest <= upto) {
                still.push((upto, done));
            } else {
                let _ = done.send(());
            }
        }
        self.waiters = still;
    }

    /// Sends what is left (one attempt per session), within the shutdown timeout.
    async fn shutdown(&mut self) -> Result<(), Error> {
        self.shutting_down = true;
        let ids: Vec<(u64, String)> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.waiting.is_some())
            .map(|(id, slot)| (slot.arrival, id.clone()))
            .collect();
        self.due.extend(ids);
        let deadline = tokio::time::Instant::now() + self.options.shutdown_timeout;
        loop {
            self.dispatch();
            if self.sends.is_empty() {
                break;
            }
            tokio::select! {
                Some(joined) = self.sends.join_next_with_id() => self.completed(joined).await,
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        // Past the deadline: what is still running is given up (it may have arrived).
        self.sends.abort_all();
        while let Some(joined) = self.sends.join_next_with_id().await {
            self.completed(joined).await;
        }
        let left: Vec<String> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.waiting.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let (mut updates, sessions) = (0, left.len());
        for session_id in left {
            let Some(batch) = self
                .slots
                .get_mut(&session_id)
                .and_then(|s| s.waiting.take())
            else {
                continue;
            };
            updates += batch.updates;
            if self.keep_undelivered {
                self.metrics
                    .counter("guests.undelivered_at_shutdown")
                    .add(batch.updates as u64);
            } else {
                let attempts = self.slots.get(&session_id).map_or(0, |s| s.attempts);
                let reason = DeadLetterReason::Shutdown;
                self.dead_letter(&session_id, batch, reason, attempts, None)
                    .await;
            }
        }
        for slot in self.slots.values_mut() {
            for done in slot.finishing.drain(..) {
                let _ = done.send(());
            }
        }
        for (_, done) in self.waiters.drain(..) {
            let _ = done.send(());
        }
        if updates == 0 {
            return Ok(());
        }
        let kept = if self.keep_undelivered {
            "they stay in the outbox for the next start"
        } else {
            "they are in the dead-letter list"
        };
        Err(Error::custom(
            ErrorKind::Upstream,
            format!("the attribute batcher shut down with {updates} update(s) of {sessions} session(s) undelivered; {kept}"),
        ))
    }
}

/// Sleeps until `at`, or for ever without one.
async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
