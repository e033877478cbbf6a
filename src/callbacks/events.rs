//! The callback event stream: what a queue's callbacks do, live from the Notifications
//! API, with what a dropped socket or a slow reader missed found again through the REST
//! API.
//!
//! [`Callbacks::events`] returns once the stream is subscribed: every change made after
//! it returns is reported. The stream yields [`StreamItem`]s: callback events, and
//! notices of what happened to the stream itself ([`StreamItem::Lagged`],
//! [`StreamItem::Reconnected`], [`StreamItem::Reconciled`]).
//!
//! # What the background task guarantees
//!
//! One task per stream owns the websocket. It never waits for the consumer, so pings,
//! heartbeat checks and reconnects go on however slowly the stream is read.
//!
//! - **Delivery: at least once, by state.** Every change the platform pushes while the
//!   socket is up is yielded as an [`EventSource::Live`] event (the platform may repeat
//!   one: duplicates are possible). A change missed while the socket was down, or
//!   dropped because the consumer lagged, is found by a *reconciliation* and yielded as
//!   an [`EventSource::Reconciled`] event carrying the callback's current state: what is
//!   lost are intermediate states, never the latest one, within the bounds below.
//! - **Ordering.** Per conversation, a state older than one already yielded is never
//!   yielded after it: a reconciled state is dropped if a live event for the same
//!   conversation arrived after its GET was sent, and nothing follows a final state
//!   (`disconnected`, `terminated`) of a conversation. Across conversations, events
//!   come in the order they were received.
//! - **Bounded.** The queue to the consumer holds [`StreamOptions::buffer`] events;
//!   beyond that, events are dropped and counted in a [`Lagged`] notice, and the
//!   conversations they were about are reconciled once the consumer reads the notice.
//!   Reconnects back off from [`StreamOptions::reconnect_wait`] to
//!   [`StreamOptions::max_reconnect_wait`] and start over only after a connection stayed
//!   up for [`StreamOptions::healthy_after`]; a reconnect reuses the channel (no API
//!   call) and makes a new one only when the platform says the old one is gone. One
//!   reconciliation makes at most [`StreamOptions::max_reconcile_pages`] analytics
//!   queries and [`StreamOptions::max_reconcile_fetches`] GETs; what a bound cut off is
//!   listed in the [`Reconciliation`] notice.
//! - **Memory.** Per stream: the queue, and what was last reported for at most
//!   [`StreamOptions::max_tracked`] conversations (the least recently seen are
//!   forgotten first); a callback that ended is forgotten 10 minutes after its end was
//!   reported (until then a late repeat, or an older state, is still dropped), so memory
//!   follows the open callbacks, not every callback the stream saw.
//!
//! # What can still be missed, and how you learn of it
//!
//! - A callback created *and* ended while the socket was down: the query lists open
//!   callbacks only, and the stream never knew it.
//! - A change while the socket was down to an open callback that started before the
//!   window the query covers and that the stream never reported (one created before the
//!   stream started, on a day the window does not touch).
//! - A callback created in the last [`StreamOptions::analytics_delay`] before a
//!   reconnect is found by a second query that long after it (the analytics index lags
//!   the platform by an undocumented delay; a longer lag than the option is missed).
//! - Whatever a bound or a failed call cut off: the [`Reconciliation`] notice says so
//!   ([`Reconciliation::is_complete`], [`Reconciliation::skipped`],
//!   [`Reconciliation::error`]).
//!
//! A stream that cannot go on (credentials refused, a subscription refused, a channel
//! the platform will not make) yields one `Err` and ends. [`CallbackEvents::status`]
//! tells at any time whether the socket is up and what the stream has done.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::model::{CallbackConversation, CallbackEventConversation, CallbackState, Summary};
use super::outbox::Shared;
use super::worker::Worker;
use super::Callbacks;
use crate::error::Error;
use crate::notifications::Taken;
use crate::validation::{ValidationError, Violations};

/// Most ids a [`Reconciliation`] notice lists as skipped; more are only counted.
pub const MAX_SKIPPED_LISTED: usize = 1_000;

/// Most queues one stream watches (the platform's limit is 1,000 topics per channel).
pub const MAX_QUEUES: usize = 1_000;

/// How an event stream keeps its connection and finds what it missed. Build with
/// [`StreamOptions::builder`]; the defaults suit the platform.
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::callbacks::StreamOptions;
///
/// let options = StreamOptions::builder()
///     .buffer(1_024)
///     .max_reconnect_wait(Duration::from_secs(60))
///     .build()?;
/// assert_eq!(options.buffer(), 1_024);
/// assert!(StreamOptions::builder().buffer(0).build().is_err());
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    buffer: usize,
    ping_every: Duration,
    dead_after: Duration,
    connect_timeout: Duration,
    reconnect_wait: Duration,
    max_reconnect_wait: Duration,
    healthy_after: Duration,
    renew_before_expiry: Duration,
    reconcile_margin: Duration,
    analytics_delay: Duration,
    max_reconcile_pages: u32,
    max_reconcile_fetches: usize,
    reconcile_concurrency: usize,
    max_tracked: usize,
    reconcile_since: Option<Timestamp>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            buffer: 256,
            ping_every: Duration::from_secs(30),
            dead_after: Duration::from_secs(95),
            connect_timeout: Duration::from_secs(10),
            reconnect_wait: Duration::from_millis(500),
            max_reconnect_wait: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            renew_before_expiry: Duration::from_secs(3_600),
            reconcile_margin: Duration::from_secs(60),
            analytics_delay: Duration::from_secs(120),
            max_reconcile_pages: 5,
            max_reconcile_fetches: 100,
            reconcile_concurrency: 4,
            max_tracked: 10_000,
            reconcile_since: None,
        }
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        impl StreamOptions {
            $($(#[$doc])* pub fn $name(&self) -> $ty { self.$name })*
        }
        impl StreamOptionsBuilder {
            $($(#[$doc])* pub fn $name(mut self, value: $ty) -> Self { self.options.$name = value; self })*
        }
    };
}

getters! {
    /// Events waiting for the consumer before further events are dropped (and counted
    /// in a [`StreamItem::Lagged`] notice). 1 to 65,536; default 256.
    buffer: usize;
    /// How often `{"message":"ping"}` is sent; the platform answers on
    /// `channel.metadata`. Default 30 s (at most 10 min).
    ping_every: Duration;
    /// Nothing heard (events, heartbeats about every 30 s, pongs) for this long: the
    /// socket is dead and is replaced. Longer than `ping_every`; default 95 s.
    dead_after: Duration;
    /// Connecting, TLS and the websocket upgrade together. Default 10 s (at most 5 min).
    connect_timeout: Duration;
    /// The first wait before reconnecting; each later one doubles (with jitter, never
    /// shorter) up to `max_reconnect_wait`. Default 500 ms.
    reconnect_wait: Duration;
    /// The longest wait before reconnecting. Default 30 s (at most 1 h).
    max_reconnect_wait: Duration;
    /// A connection that stayed up this long starts the waits over; shorter ones keep
    /// them growing (a socket that closes at once must not cause a storm). Default 60 s.
    healthy_after: Duration;
    /// How long before the channel's `expires` it is renewed (subscribed again, or
    /// replaced by a new channel if that does not move `expires`). Default 1 h (less
    /// than 23 h).
    renew_before_expiry: Duration;
    /// How far before the last frame heard a reconciliation looks, for changes the
    /// platform sent while the socket was already failing. 0 to 1 h; default 60 s.
    reconcile_margin: Duration;
    /// How long after a reconciliation the end of its window is queried again, for
    /// callbacks the analytics index did not have yet. 0 (no second query) to 15 min;
    /// default 2 min.
    analytics_delay: Duration;
    /// Analytics query pages (100 callbacks each) per reconciliation. 1 to 100; default 5.
    max_reconcile_pages: u32;
    /// Callbacks read (`GET`) per reconciliation. 1 to 1,000; default 100.
    max_reconcile_fetches: usize;
    /// Reads in flight at once during a reconciliation. 1 to 16; default 4.
    reconcile_concurrency: usize;
    /// Conversations whose last reported state is remembered (for ordering and to find
    /// what changed). 1 to 1,000,000; default 10,000.
    max_tracked: usize;
    /// A gap to reconcile as soon as the stream is live: what changed since this time
    /// (less `reconcile_margin`) is read through the REST API and reported as
    /// [`EventSource::Reconciled`] events. For a stream that takes over from another (a
    /// fleet's new owner, from the last event the old one recorded). Default none; at
    /// most 7 days back (the analytics query's longest interval).
    reconcile_since: Option<Timestamp>;
}

impl StreamOptions {
    /// These options, reconciling from `since` as soon as the stream is live.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn with_reconcile_since(mut self, since: Timestamp) -> Self {
        self.reconcile_since = Some(since);
        self
    }

    /// A builder starting from the defaults.
    pub fn builder() -> StreamOptionsBuilder {
        StreamOptionsBuilder {
            options: StreamOptions::default(),
        }
    }

    /// The part of these options that belongs to the notification channel's connection.
    pub(super) fn connection(&self) -> crate::notifications::ConnectionOptions {
        crate::notifications::ConnectionOptions {
            ping_every: self.ping_every,
            dead_after: self.dead_after,
            connect_timeout: self.connect_timeout,
            reconnect_wait: self.reconnect_wait,
            max_reconnect_wait: self.max_reconnect_wait,
            healthy_after: self.healthy_after,
            renew_before_expiry: self.renew_before_expiry,
        }
    }

    fn check(&self) -> Result<(), ValidationError> {
        let mut v = Violations::default();
        self.connection().check_into(&mut v);
        let secs = Duration::from_secs;
        v.check_within(
            "reconcile_margin",
            self.reconcile_margin,
            Duration::ZERO,
            secs(3_600),
        );
        v.check_within(
            "analytics_delay",
            self.analytics_delay,
            Duration::ZERO,
            secs(900),
        );
        let mut count = |field: &str, value: usize, max: usize| {
            v.check(
                (1..=max).contains(&value),
                field,
                "range",
                format!("{value} is outside 1..={max}"),
            );
        };
        count("buffer", self.buffer, 65_536);
        count(
            "max_reconcile_pages",
            self.max_reconcile_pages as usize,
            100,
        );
        count("max_reconcile_fetches", self.max_reconcile_fetches, 1_000);
        count("reconcile_concurrency", self.reconcile_concurrency, 16);
        count("max_tracked", self.max_tracked, 1_000_000);
        if let Some(since) = self.reconcile_since {
            let age = Timestamp::now().duration_since(since);
            v.check(
                age <= jiff::SignedDuration::from_hours(7 * 24),
                "reconcile_since",
                "range",
                "at most 7 days back: the analytics query covers no more",
            );
        }
        v.finish()
    }
}

/// Collects [`StreamOptions`]; [`StreamOptionsBuilder::build`] checks every value.
#[derive(Debug, Clone)]
#[must_use]
pub struct StreamOptionsBuilder {
    options: StreamOptions,
}

impl StreamOptionsBuilder {
    /// The options, or every value out of range (none is silently clamped).
    pub fn build(self) -> Result<StreamOptions, ValidationError> {
        self.options.check()?;
        Ok(self.options)
    }
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventSource {
    /// Pushed by the platform on the websocket.
    Live,
    /// Read from the REST API after a gap (a dropped socket, or events dropped for a
    /// slow consumer): the callback's state when it was read.
    Reconciled,
}

/// The conversation an event carries, as the platform gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallbackSnapshot {
    /// A live event's body (`QueueConversationCallbackEventTopicCallbackConversation`).
    Notification(Box<CallbackEventConversation>),
    /// A reconciled event's conversation (`GET /api/v2/conversations/callbacks/{id}`).
    Fetched(Box<CallbackConversation>),
}

/// A callback's state, live or reconciled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CallbackEvent {
    /// Live or reconciled.
    pub source: EventSource,
    /// The callback conversation.
    pub conversation_id: String,
    /// The callback's queue, when the conversation names it.
    pub queue_id: Option<String>,
    /// The callback participant's state.
    pub state: Option<CallbackState>,
    /// When the callback is scheduled.
    pub scheduled_time: Option<Timestamp>,
    /// Whether the callback is over (its participant has ended or is in a final state).
    pub ended: bool,
    /// The notification topic (live events only).
    pub topic: Option<String>,
    /// The notification's correlation id (live events only).
    pub correlation_id: Option<String>,
    /// The whole conversation.
    pub conversation: CallbackSnapshot,
}

/// What identifies a reported state: an event with the same fingerprint tells nothing new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fingerprint {
    state: Option<CallbackState>,
    scheduled: Option<Timestamp>,
    queue: Option<String>,
    numbers: Vec<String>,
    ended: bool,
}

impl CallbackEvent {
    fn new(
        source: EventSource,
        conversation_id: String,
        summary: Summary<'_>,
        topic: Option<String>,
        correlation_id: Option<String>,
    ) -> impl FnOnce(CallbackSnapshot) -> Self {
        let queue_id = summary.queue_id.map(str::to_owned);
        let state = summary.state.cloned();
        let scheduled_time = summary.scheduled_time;
        let ended = summary.ended;
        move |conversation| Self {
            source,
            conversation_id,
            queue_id,
            state,
            scheduled_time,
            ended,
            topic,
            correlation_id,
            conversation,
        }
    }

    /// A live event, from a notification's body; `None` without a conversation id.
    pub(super) fn live(
        body: CallbackEventConversation,
        topic: String,
        correlation_id: Option<String>,
    ) -> Option<Self> {
        let id = body.id.clone()?;
        let make = Self::new(
            EventSource::Live,
            id,
            body.summary(),
            Some(topic),
            correlation_id,
        );
        Some(make(CallbackSnapshot::Notification(Box::new(body))))
    }

    /// A reconciled event, from a conversation read with a GET; `None` without an id.
    pub(super) fn fetched(conversation: CallbackConversation) -> Option<Self> {
        let id = conversation.id.clone()?;
        let make = Self::new(
            EventSource::Reconciled,
            id,
            conversation.summary(),
            None,
            None,
        );
        Some(make(CallbackSnapshot::Fetched(Box::new(conversation))))
    }

    /// The callback numbers of the callback participant.
    pub fn callback_numbers(&self) -> &[String] {
        match &self.conversation {
            CallbackSnapshot::Notification(c) => c
                .callback_participant()
                .map(|p| p.callback_numbers.as_slice())
                .unwrap_or_default(),
            CallbackSnapshot::Fetched(c) => c
                .callback_participant()
                .map(|p| p.callback_numbers.as_slice())
                .unwrap_or_default(),
        }
    }

    pub(super) fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            state: self.state.clone(),
            scheduled: self.scheduled_time,
            queue: self.queue_id.clone(),
            numbers: self.callback_numbers().to_vec(),
            ended: self.ended,
        }
    }
}

/// One item of a [`CallbackEvents`] stream.
///
/// Notices are never dropped. While one is unread, a later notice of the same kind is
/// merged into it (counts added, windows widened), so a consumer that reads late learns
/// everything in at most one notice of each kind.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StreamItem {
    /// A callback changed.
    Event(CallbackEvent),
    /// The consumer fell `buffer` events behind and events were dropped here. Their
    /// conversations are reconciled once this notice is read: their current states
    /// follow as [`EventSource::Reconciled`] events, then a [`StreamItem::Reconciled`]
    /// notice.
    Lagged(Lagged),
    /// The socket was down and is up again. What changed meanwhile follows as
    /// [`EventSource::Reconciled`] events, then a [`StreamItem::Reconciled`] notice.
    Reconnected(Reconnected),
    /// A reconciliation ended: what it looked at, what it reported, whether a bound or
    /// a failure cut it short.
    Reconciled(Reconciliation),
}

/// Events dropped because the consumer was `buffer` events behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lagged {
    /// How many.
    pub dropped: u64,
}

/// The socket was down and is up again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reconnected {
    /// The last time the stream heard from the platform before the gap.
    pub down_since: Timestamp,
    /// When the socket was up again.
    pub reconnected_at: Timestamp,
    /// Gaps this notice covers (more than one when notices were merged).
    pub outages: u32,
    /// Connection attempts it took.
    pub attempts: u32,
    /// Whether a new notifications channel had to be made (the old one was gone).
    pub new_channel: bool,
}

/// What one reconciliation (or several, merged) did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reconciliation {
    /// Runs this notice covers.
    pub runs: u32,
    /// The time window the analytics query covered, if one ran.
    pub window: Option<(Timestamp, Timestamp)>,
    /// Open callbacks the query listed.
    pub listed: u64,
    /// Callbacks read.
    pub fetched: u64,
    /// Reconciled events yielded (states that differ from the last ones reported).
    pub reported: u64,
    /// A bound (pages, reads, the 7-day interval) cut the reconciliation short.
    pub truncated: bool,
    /// Conversations left unread because of the read bound. The stream reads them in the
    /// reconciliations that follow (one bound's worth at a time), so their states still
    /// come; this says they come late.
    pub skipped: Vec<String>,
    /// Skipped conversations beyond the first [`MAX_SKIPPED_LISTED`].
    pub skipped_unlisted: u64,
    /// The last failure (the query or a read), if any.
    pub error: Option<Error>,
}

impl Reconciliation {
    /// Whether nothing was cut short: no bound hit, no failure.
    pub fn is_complete(&self) -> bool {
        !self.truncated && self.error.is_none() && self.skipped.is_empty()
    }
}

/// What a stream has done so far (see [`CallbackEvents::status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStatus {
    /// Whether the socket is up now.
    pub connected: bool,
    /// Times the socket was lost.
    pub disconnects: u64,
    /// Times it was up again.
    pub reconnects: u64,
    /// Notifications channels made (the first included).
    pub channels_created: u64,
    /// Events queued for the consumer.
    pub events: u64,
    /// Events dropped because the consumer lagged.
    pub dropped_events: u64,
    /// Notification frames on a subscribed topic that could not be read (their
    /// conversations, when named, are reconciled).
    pub undecodable: u64,
    /// Reconciliations run.
    pub reconciliations: u64,
    /// Reconciliations cut short by a bound or a failure.
    pub incomplete_reconciliations: u64,
}

/// The stream returned by [`Callbacks::events`]: `Ok` items until the stream cannot go
/// on, then one `Err`, then the end. Dropping it stops the background task.
pub struct CallbackEvents {
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
    task_done: bool,
    ended: bool,
}

impl std::fmt::Debug for CallbackEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackEvents")
            .field("status", &self.shared.status())
            .finish_non_exhaustive()
    }
}

impl CallbackEvents {
    /// What the stream has done so far, and whether the socket is up.
    pub fn status(&self) -> StreamStatus {
        self.shared.status()
    }
}

impl Stream for CallbackEvents {
    type Item = Result<StreamItem, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.shared.take(cx.waker()) {
            Taken::Item(item) => return Poll::Ready(Some(Ok(item))),
            Taken::End(error) => {
                self.ended = true;
                return Poll::Ready(Some(Err(error)));
            }
            Taken::Nothing => {}
        }
        // The task always says why it stops; if it stopped without a word (a panic in
        // a dependency), the stream still ends.
        if !self.task_done && Pin::new(&mut self.task).poll(cx).is_ready() {
            self.task_done = true;
            if let Taken::Item(item) = self.shared.take(cx.waker()) {
                return Poll::Ready(Some(Ok(item)));
            }
            self.ended = true;
            return Poll::Ready(Some(Err(Error::closed("callback event stream"))));
        }
        Poll::Pending
    }
}

impl Drop for CallbackEvents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Callbacks {
    /// Callback events of `queue_ids`, with the default [`StreamOptions`]; see
    /// [`Callbacks::events_with`].
    pub async fn events(&self, queue_ids: &[&str]) -> Result<CallbackEvents, Error> {
        self.events_with(queue_ids, StreamOptions::default()).await
    }

    /// Callback events of `queue_ids` (topic
    /// `v2.routing.queues.{queueId}.conversations.callbacks`): makes a notifications
    /// channel, connects to its websocket, subscribes, and returns once the platform
    /// confirmed every subscription, so every change made after this returns is
    /// reported. See the [module docs](self) for what the stream guarantees.
    ///
    /// Errors: invalid queue ids or options (nothing sent), a refused subscription, or
    /// the first failure to make the channel or connect (retry as the error says).
    pub async fn events_with(
        &self,
        queue_ids: &[&str],
        options: StreamOptions,
    ) -> Result<CallbackEvents, Error> {
        self.events_seeded(queue_ids, options, Vec::new()).await
    }

    /// [`Callbacks::events_with`] for a stream that takes over from another: `reported`
    /// are the states the other stream reported last (the consumer has them), so that a
    /// reconciliation reads only what changed since.
    pub(crate) async fn events_seeded(
        &self,
        queue_ids: &[&str],
        options: StreamOptions,
        reported: Vec<CallbackEvent>,
    ) -> Result<CallbackEvents, Error> {
        let mut v = Violations::default();
        v.check(
            !queue_ids.is_empty(),
            "queue_ids",
            "required",
            "name at least one queue",
        );
        v.check(
            queue_ids.len() <= MAX_QUEUES,
            "queue_ids",
            "max_items",
            format!(
                "{} queues; a channel takes at most {MAX_QUEUES} topics",
                queue_ids.len()
            ),
        );
        for (i, id) in queue_ids.iter().enumerate() {
            v.check_uuid(&format!("queue_ids[{i}]"), id);
        }
        v.finish()?;
        options.check()?;
        let mut queues: Vec<String> = Vec::new();
        for id in queue_ids {
            let id = id.to_ascii_lowercase();
            if !queues.contains(&id) {
                queues.push(id);
            }
        }
        let shared = Arc::new(Shared::new(options.buffer));
        let worker = Worker::start(
            self.client.clone(),
            queues,
            options,
            shared.clone(),
            reported,
        )
        .await?;
        let task = tokio::spawn(worker.run());
        Ok(CallbackEvents {
            shared,
            task,
            task_done: false,
            ended: false,
        })
    }
}
