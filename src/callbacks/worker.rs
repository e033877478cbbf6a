//! The event stream's background task: it owns the websocket, keeps it alive, replaces
//! it when it fails, renews the channel, reconciles after gaps, and hands everything to
//! the consumer through the outbox without ever waiting for it.
//!
//! Slow work (a reconciliation, a channel renewal, the replacement of a socket the
//! platform is about to close) runs as futures owned by the task and polled beside the
//! socket, so the socket is read, and pinged, all the time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::channel::{self, Channel};
use super::events::{
    CallbackEvent, CallbackSnapshot, Fingerprint, Reconciliation, Reconnected, StreamItem,
    StreamOptions,
};
use super::model::CallbackEventConversation;
use super::outbox::{Pushed, Shared};
use super::reconcile::{self, Job, Known, Limits, Outcome, Window};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::observe::Counter;
use crate::ws::{self, Connection, Ping};

/// Names the socket in errors (never its URL, which carries the channel id).
const ENDPOINT: &str = "notifications channel";
/// The Notifications API's keep-alive (Genesys's Java SDK `NotificationHandler.sendPing`).
const PING: &str = r#"{"message":"ping"}"#;
/// How long a replaced socket is still read for frames the platform sent before it
/// switched to the new one.
const DRAIN: Duration = Duration::from_secs(2);
/// Tries of a reconciliation that failed in a way a retry may mend (the first included).
const RECONCILE_TRIES: u32 = 3;
/// The longest window one analytics query covers (see `reconcile`).
const LOOKBACK: SignedDuration = SignedDuration::from_hours(7 * 24);

type Slot<T> = Option<Pin<Box<dyn Future<Output = T> + Send>>>;

mod names {
    pub const RECONNECTS: &str = "callbacks.stream_reconnects";
    pub const DROPPED: &str = "callbacks.stream_dropped_events";
    pub const UNDECODABLE: &str = "callbacks.stream_undecodable_frames";
    pub const RECONCILIATIONS: &str = "callbacks.reconciliations";
    pub const INCOMPLETE: &str = "callbacks.reconciliations_incomplete";
    pub const RECONCILED: &str = "callbacks.reconciled_events";
}

/// A notification frame: `{topicName, version, eventBody, metadata}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frame {
    #[serde(default)]
    topic_name: Option<String>,
    #[serde(default)]
    event_body: Value,
    #[serde(default)]
    metadata: Option<Value>,
}

/// What a maintenance future ended with.
enum Maintenance {
    /// A new socket on the same channel, replacing one the platform announced it closes.
    Replaced(Result<Connection, Error>),
    /// The channel was subscribed again; its `expires` before and now.
    Renewed(Result<(Option<Timestamp>, Option<Timestamp>), Error>),
    /// A new channel, connected and subscribed, replacing one whose `expires` did not move.
    RolledOver(Result<(Channel, Connection), Error>),
}

/// One wake-up of the task while it listens.
enum Step {
    Frame(Result<String, Error>),
    Drained(Option<String>),
    Reconciled(Box<Outcome>),
    Maintained(Box<Maintenance>),
    Renew,
    CaughtUp,
    TailDue,
    RetryDue,
}

/// The gap the stream is in, while the socket is down.
struct Outage {
    since: Timestamp,
    attempts: u32,
    new_channel: bool,
}

/// What was last reported for a conversation, and when a live event for it last came.
struct Entry {
    /// The last state handed to the consumer (`None`: its events were all dropped).
    reported: Option<Fingerprint>,
    ended: bool,
    live_at: Option<Instant>,
    known: Known,
    touch: u64,
}

/// Conversations the stream has reported, at most `cap` (the least recently seen go).
struct Tracked {
    map: HashMap<String, Entry>,
    by_touch: BTreeMap<u64, String>,
    tick: u64,
    cap: usize,
}

impl Tracked {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            by_touch: BTreeMap::new(),
            tick: 0,
            cap,
        }
    }

    fn entry(&mut self, id: &str) -> &mut Entry {
        self.tick += 1;
        let tick = self.tick;
        match self.map.get(id).map(|e| e.touch) {
            Some(touch) => {
                self.by_touch.remove(&touch);
            }
            None if self.map.len() >= self.cap => {
                if let Some((_, oldest)) = self.by_touch.pop_first() {
                    self.map.remove(&oldest);
                }
            }
            None => {}
        }
        self.by_touch.insert(tick, id.to_owned());
        let entry = self.map.entry(id.to_owned()).or_insert_with(|| Entry {
            reported: None,
            ended: false,
            live_at: None,
            known: Known {
                id: id.to_owned(),
                state: None,
                scheduled: None,
                queue: None,
                started: None,
            },
            touch: tick,
        });
        entry.touch = tick;
        entry
    }

    /// Whether `event` is an older state of a callback already reported over.
    fn after_end(&self, event: &CallbackEvent) -> bool {
        !event.ended
            && self
                .map
                .get(&event.conversation_id)
                .is_some_and(|e| e.ended && e.reported.is_some())
    }

    /// Whether a reconciled `event`, read with a GET sent at `sent`, says something the
    /// consumer has not been told, and is not older than a live event.
    fn is_news(&self, event: &CallbackEvent, sent: Instant) -> bool {
        let Some(entry) = self.map.get(&event.conversation_id) else {
            return true;
        };
        if entry.live_at.is_some_and(|live| live > sent) || self.after_end(event) {
            return false;
        }
        entry.reported.as_ref() != Some(&event.fingerprint())
    }

    /// The consumer was given `event`.
    fn reported(&mut self, event: &CallbackEvent, live_at: Option<Instant>) {
        let fingerprint = event.fingerprint();
        let started = started(&event.conversation);
        let entry = self.entry(&event.conversation_id);
        entry.reported = Some(fingerprint);
        entry.ended = event.ended;
        if live_at.is_some() {
            entry.live_at = live_at;
        }
        entry.known.state = event.state.clone();
        entry.known.scheduled = event.scheduled_time;
        entry.known.queue = event.queue_id.clone();
        entry.known.started = started.or(entry.known.started);
    }

    /// A live event for `id` came at `at` but was dropped.
    fn live_seen(&mut self, id: &str, at: Instant) {
        self.entry(id).live_at = Some(at);
    }

    fn forget(&mut self, id: &str) {
        if let Some(entry) = self.map.remove(id) {
            self.by_touch.remove(&entry.touch);
        }
    }

    /// Callbacks not over, most recently seen first.
    fn open(&self) -> Vec<Known> {
        self.by_touch
            .values()
            .rev()
            .filter_map(|id| self.map.get(id))
            .filter(|e| !e.ended)
            .map(|e| e.known.clone())
            .collect()
    }

    fn earliest_open_start(&self) -> Option<Timestamp> {
        self.map
            .values()
            .filter(|e| !e.ended)
            .filter_map(|e| e.known.started)
            .min()
    }
}

/// When the earliest participant of the conversation started.
fn started(snapshot: &CallbackSnapshot) -> Option<Timestamp> {
    match snapshot {
        CallbackSnapshot::Notification(c) => {
            c.participants.iter().filter_map(|p| p.start_time).min()
        }
        CallbackSnapshot::Fetched(c) => c.participants.iter().filter_map(|p| p.start_time).min(),
    }
}

/// Conversation ids whose events were dropped, to reconcile; at most `cap`.
struct Dirty {
    ids: Vec<String>,
    set: HashSet<String>,
    cap: usize,
    /// Ids that did not fit, since the last reconciliation.
    forgotten: u64,
}

impl Dirty {
    fn insert(&mut self, id: String) {
        if self.set.contains(&id) {
            return;
        }
        if self.ids.len() >= self.cap {
            self.forgotten = self.forgotten.saturating_add(1);
            return;
        }
        self.set.insert(id.clone());
        self.ids.push(id);
    }

    fn take(&mut self) -> (Vec<String>, u64) {
        self.set.clear();
        (
            std::mem::take(&mut self.ids),
            std::mem::take(&mut self.forgotten),
        )
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.forgotten == 0
    }
}

struct Counters {
    reconnects: Counter,
    dropped: Counter,
    undecodable: Counter,
    reconciliations: Counter,
    incomplete: Counter,
    reconciled: Counter,
}

pub(super) struct Worker {
    client: Client,
    queues: Vec<String>,
    topics: Vec<String>,
    options: StreamOptions,
    shared: Arc<Shared>,
    channel: Channel,
    /// The platform said the channel is gone (404).
    channel_gone: bool,
    conn: Option<Connection>,
    /// A replaced socket, read until it closes or the time is up.
    draining: Option<(Connection, Instant)>,
    /// The last time anything was heard on a socket.
    last_heard: Timestamp,
    outage: Option<Outage>,
    reconnect: ws::Reconnect,
    tracked: Tracked,
    dirty: Dirty,
    /// Gap windows not reconciled yet; `pending_tail` when only a tail re-query.
    pending: Option<Window>,
    pending_tail: bool,
    /// Tries of the pending window so far.
    pending_tries: u32,
    tail: Option<(Instant, Window)>,
    /// A failed reconciliation is tried again at this time.
    retry_at: Option<Instant>,
    /// The window of a query that failed in a way a retry may mend, whether it was a
    /// tail, and how many times it was tried.
    retry_window: Option<(Window, bool, u32)>,
    /// The consumer read the `Lagged` notice: dropped events may be reconciled now.
    lag_read: bool,
    /// Reconcile the dirty ids without waiting for the consumer (undecodable frames,
    /// failed reads due again).
    reconcile_soon: bool,
    running: Slot<Outcome>,
    maintenance: Slot<Maintenance>,
    /// The maintenance under way replaces the socket (after `v2.system.socket_closing`).
    replacing: bool,
    renew_at: Instant,
    counters: Counters,
}

fn limits(options: &StreamOptions) -> ws::Limits {
    ws::Limits {
        connect_timeout: options.connect_timeout(),
        send_timeout: options.connect_timeout(),
        ping_every: options.ping_every(),
        ping: Ping::Text(PING),
        dead_after: options.dead_after(),
    }
}

async fn open_socket(
    client: &Client,
    channel: &Channel,
    options: &StreamOptions,
) -> Result<Connection, Error> {
    Connection::open(
        client.network(),
        ENDPOINT,
        &channel.connect_uri,
        &[],
        limits(options),
    )
    .await
}

/// Whether a failure cannot be mended by trying again (refused credentials, a refused
/// subscription, an answer that breaks the API's contract).
fn is_fatal(err: &Error) -> bool {
    !err.is_retryable() && err.kind() != ErrorKind::NotFound
}

/// When to renew `channel`: `renew_before_expiry` before it expires (about 23 h from now
/// when the platform did not say).
fn renew_time(channel: &Channel, options: &StreamOptions) -> Instant {
    let left = match channel.expires {
        Some(expires) => {
            Duration::try_from(expires.duration_since(Timestamp::now())).unwrap_or_default()
        }
        None => Duration::from_secs(23 * 3_600),
    };
    Instant::now() + left.saturating_sub(options.renew_before_expiry())
}

/// Waits for the future in `slot`, or for ever when there is none.
async fn poll_slot<T>(slot: &mut Slot<T>) -> T {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// The next frame of a replaced socket; `None` once it closed or its time is up.
async fn recv_draining(slot: &mut Option<(Connection, Instant)>) -> Option<String> {
    let Some((conn, until)) = slot.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        frame = conn.recv() => frame.ok(),
        () = tokio::time::sleep_until(*until) => None,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Worker {
    /// Makes the channel, connects and subscribes: the stream is live when this returns.
    pub(super) async fn start(
        client: Client,
        queues: Vec<String>,
        options: StreamOptions,
        shared: Arc<Shared>,
    ) -> Result<Self, Error> {
        let topics: Vec<String> = queues
            .iter()
            .map(|q| format!("v2.routing.queues.{q}.conversations.callbacks"))
            .collect();
        let mut channel = channel::open(&client).await?;
        // Connect first: the platform sends events only to an open socket, so a change
        // right after the subscription is confirmed must find the socket there.
        let conn = open_socket(&client, &channel, &options).await?;
        channel::subscribe(&client, &channel.id, &topics).await?;
        channel.subscribed = true;
        shared.update_status(|s| {
            s.connected = true;
            s.channels_created += 1;
        });
        let metrics = client.metrics();
        let counters = Counters {
            reconnects: metrics.counter(names::RECONNECTS),
            dropped: metrics.counter(names::DROPPED),
            undecodable: metrics.counter(names::UNDECODABLE),
            reconciliations: metrics.counter(names::RECONCILIATIONS),
            incomplete: metrics.counter(names::INCOMPLETE),
            reconciled: metrics.counter(names::RECONCILED),
        };
        let mut reconnect = ws::Reconnect::new(
            options.reconnect_wait(),
            options.max_reconnect_wait(),
            options.healthy_after(),
        );
        reconnect.connected();
        Ok(Self {
            renew_at: renew_time(&channel, &options),
            tracked: Tracked::new(options.max_tracked()),
            dirty: Dirty {
                ids: Vec::new(),
                set: HashSet::new(),
                cap: options.max_tracked(),
                forgotten: 0,
            },
            client,
            queues,
            topics,
            options,
            shared,
            channel,
            channel_gone: false,
            conn: Some(conn),
            draining: None,
            last_heard: Timestamp::now(),
            outage: None,
            reconnect,
            pending: None,
            pending_tail: false,
            pending_tries: 0,
            tail: None,
            retry_at: None,
            retry_window: None,
            lag_read: false,
            reconcile_soon: false,
            running: None,
            maintenance: None,
            replacing: false,
            counters,
        })
    }

    /// Runs until the stream cannot go on (the consumer dropping the stream aborts it).
    pub(super) async fn run(mut self) {
        let error = self.drive().await;
        tracing::debug!(error = %error, "callback event stream stopped");
        self.shared.finish(error);
    }

    async fn drive(&mut self) -> Error {
        loop {
            if self.conn.is_none() {
                if let Err(fatal) = self.reconnect().await {
                    return fatal;
                }
            }
            if let Err(fatal) = self.listen().await {
                return fatal;
            }
        }
    }

    /// Reads the socket until it is lost (`Ok`) or the stream cannot go on (`Err`).
    async fn listen(&mut self) -> Result<(), Error> {
        loop {
            self.maybe_reconcile();
            let tail_due = self.tail.map(|(at, _)| at);
            let renew_at = self.renew_at;
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            let step = tokio::select! {
                frame = conn.recv() => Step::Frame(frame),
                frame = recv_draining(&mut self.draining) => Step::Drained(frame),
                outcome = poll_slot(&mut self.running) => Step::Reconciled(Box::new(outcome)),
                done = poll_slot(&mut self.maintenance) => Step::Maintained(Box::new(done)),
                () = tokio::time::sleep_until(renew_at), if self.maintenance.is_none() => Step::Renew,
                () = self.shared.caught_up.notified() => Step::CaughtUp,
                () = sleep_until(tail_due) => Step::TailDue,
                () = sleep_until(self.retry_at) => Step::RetryDue,
            };
            match step {
                Step::Frame(Ok(text)) => self.on_frame(&text),
                Step::Frame(Err(err)) => {
                    if self.replacing {
                        // The platform closed the old socket because the new one is
                        // connecting (one socket per channel): wait for it.
                        if let Some(replacement) = self.maintenance.take() {
                            let done = replacement.await;
                            self.maintained(done)?;
                            if self.conn.is_some() {
                                continue;
                            }
                        }
                    }
                    self.lost(&err);
                    return Ok(());
                }
                Step::Drained(Some(text)) => self.on_frame(&text),
                Step::Drained(None) => self.draining = None,
                Step::Reconciled(outcome) => {
                    self.running = None;
                    self.apply(*outcome);
                }
                Step::Maintained(done) => {
                    self.maintenance = None;
                    self.maintained(*done)?;
                }
                Step::Renew => self.renew(),
                Step::CaughtUp => self.lag_read = true,
                Step::TailDue => {
                    if let Some((_, window)) = self.tail.take() {
                        self.queue_window(window, true);
                    }
                }
                Step::RetryDue => {
                    self.retry_at = None;
                    if let Some((window, tail, tries)) = self.retry_window.take() {
                        self.queue_window(window, tail);
                        self.pending_tries = self.pending_tries.max(tries);
                    }
                    self.reconcile_soon = true;
                }
            }
        }
    }

    /// Waits (backing off) and connects again, until connected (`Ok`) or the stream
    /// cannot go on. A reconciliation under way goes on meanwhile.
    async fn reconnect(&mut self) -> Result<(), Error> {
        loop {
            let until = Instant::now() + self.reconnect.next_wait();
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    outcome = poll_slot(&mut self.running) => {
                        self.running = None;
                        self.apply(outcome);
                    }
                }
            }
            if let Some(outage) = &mut self.outage {
                outage.attempts = outage.attempts.saturating_add(1);
            }
            let mut running = self.running.take();
            let mut finished = None;
            let attempt = {
                let attempt = self.connect();
                tokio::pin!(attempt);
                loop {
                    tokio::select! {
                        result = &mut attempt => break result,
                        outcome = poll_slot(&mut running) => {
                            running = None;
                            finished = Some(outcome);
                        }
                    }
                }
            };
            self.running = running;
            if let Some(outcome) = finished {
                self.apply(outcome);
            }
            match attempt {
                Ok(conn) => {
                    self.connected(conn);
                    return Ok(());
                }
                Err(err) if is_fatal(&err) => return Err(err),
                Err(err) => {
                    tracing::debug!(error = %err, "callback event stream: reconnecting failed; backing off")
                }
            }
        }
    }

    /// One connection attempt: to the same channel while it lives; a new channel when
    /// the platform says it is gone (by `expires`, a refused handshake and a 404 on
    /// `HEAD`, or a 404 when subscribing).
    async fn connect(&mut self) -> Result<Connection, Error> {
        if self.channel_gone || self.channel.has_expired() {
            self.new_channel().await?;
        }
        let conn = match open_socket(&self.client, &self.channel, &self.options).await {
            Ok(conn) => conn,
            Err(err) => {
                // A refused handshake and a dead network path look alike: ask.
                if channel::exists(&self.client, &self.channel.id).await? {
                    return Err(err);
                }
                tracing::debug!("callback event stream: the channel is gone; making a new one");
                self.new_channel().await?;
                open_socket(&self.client, &self.channel, &self.options).await?
            }
        };
        if !self.channel.subscribed {
            match channel::subscribe(&self.client, &self.channel.id, &self.topics).await {
                Ok(()) => self.channel.subscribed = true,
                Err(err) => {
                    if err.kind() == ErrorKind::NotFound {
                        self.channel_gone = true;
                    }
                    return Err(err);
                }
            }
        }
        Ok(conn)
    }

    async fn new_channel(&mut self) -> Result<(), Error> {
        self.channel = channel::open(&self.client).await?;
        self.channel_gone = false;
        self.shared.update_status(|s| s.channels_created += 1);
        if let Some(outage) = &mut self.outage {
            outage.new_channel = true;
        }
        Ok(())
    }

    fn connected(&mut self, conn: Connection) {
        self.conn = Some(conn);
        self.reconnect.connected();
        self.renew_at = renew_time(&self.channel, &self.options);
        let now = Timestamp::now();
        let outage = self.outage.take().unwrap_or(Outage {
            since: self.last_heard,
            attempts: 1,
            new_channel: false,
        });
        self.last_heard = now;
        self.counters.reconnects.inc();
        self.shared.update_status(|s| {
            s.connected = true;
            s.reconnects += 1;
        });
        self.shared
            .push_notice(StreamItem::Reconnected(Reconnected {
                down_since: outage.since,
                reconnected_at: now,
                outages: 1,
                attempts: outage.attempts,
                new_channel: outage.new_channel,
            }));
        let margin = SignedDuration::try_from(self.options.reconcile_margin()).unwrap_or_default();
        self.queue_window(
            Window {
                from: outage.since - margin,
                to: now,
            },
            false,
        );
    }

    fn lost(&mut self, err: &Error) {
        tracing::debug!(error = %err, "callback event stream: the socket was lost");
        self.conn = None;
        // Renewals and replacements belong to the lost socket; the reconnect redoes
        // what is needed.
        self.maintenance = None;
        self.replacing = false;
        self.outage = Some(Outage {
            since: self.last_heard,
            attempts: 0,
            new_channel: false,
        });
        self.shared.update_status(|s| {
            s.connected = false;
            s.disconnects += 1;
        });
    }

    fn on_frame(&mut self, text: &str) {
        self.last_heard = Timestamp::now();
        let Ok(frame) = serde_json::from_str::<Frame>(text) else {
            tracing::debug!("callback event stream: a frame that is not a notification; ignored");
            return;
        };
        match frame.topic_name.as_deref() {
            // Heartbeats, pongs, and frames without a topic.
            None | Some("channel.metadata") => {}
            Some("v2.system.socket_closing") => self.replace_socket(),
            Some(topic) if self.topics.iter().any(|t| t == topic) => {
                let topic = topic.to_owned();
                self.on_event(topic, frame.event_body, frame.metadata.as_ref());
            }
            Some(_) => {}
        }
    }

    fn on_event(&mut self, topic: String, body: Value, metadata: Option<&Value>) {
        let received = Instant::now();
        let correlation_id = metadata
            .and_then(|m| m.get("CorrelationId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let id_hint = body.get("id").and_then(Value::as_str).map(str::to_owned);
        let event = serde_json::from_value::<CallbackEventConversation>(body)
            .ok()
            .and_then(|body| CallbackEvent::live(body, topic, correlation_id));
        let Some(event) = event else {
            // Not lost: its conversation, when named, is read again.
            tracing::debug!("callback event stream: an event body could not be read");
            self.counters.undecodable.inc();
            self.shared.update_status(|s| s.undecodable += 1);
            if let Some(id) = id_hint {
                self.dirty.insert(id);
                self.reconcile_soon = true;
            }
            return;
        };
        if self.tracked.after_end(&event) {
            tracing::debug!(conversation = %event.conversation_id, "callback event stream: a state older than the callback's end; dropped");
            return;
        }
        let id = event.conversation_id.clone();
        let copy = event.clone();
        match self.shared.push_event(event) {
            Pushed::Queued => self.tracked.reported(&copy, Some(received)),
            Pushed::Dropped => {
                self.counters.dropped.inc();
                self.tracked.live_seen(&id, received);
                self.dirty.insert(id);
                self.lag_read = false;
            }
        }
    }

    /// Adds `window` to what the next reconciliation queries.
    fn queue_window(&mut self, window: Window, tail: bool) {
        self.pending_tail = match self.pending {
            Some(_) => self.pending_tail && tail,
            None => tail,
        };
        self.pending = Some(match self.pending {
            Some(pending) => pending.merge(window),
            None => window,
        });
    }

    /// Starts a reconciliation if one is due and none runs.
    fn maybe_reconcile(&mut self) {
        if self.running.is_some() || self.conn.is_none() {
            return;
        }
        let dirty_due = (self.lag_read || self.reconcile_soon) && !self.dirty.is_empty();
        if self.pending.is_none() && !dirty_due {
            return;
        }
        let tail = self.pending_tail;
        let window = self.pending.take().map(|mut window| {
            // Reach back to the open callbacks the stream knows, so the query says
            // whether they changed (within the longest interval one query covers).
            if let Some(start) = self.tracked.earliest_open_start() {
                window.from = window.from.min(start.max(window.to - LOOKBACK));
            }
            window
        });
        let (ids, forgotten) = self.dirty.take();
        let job = Job {
            open: if window.is_some() {
                self.tracked.open()
            } else {
                Vec::new()
            },
            window,
            window_attempts: std::mem::take(&mut self.pending_tries),
            ids,
        };
        self.lag_read = false;
        self.reconcile_soon = false;
        let limits = Limits {
            max_pages: self.options.max_reconcile_pages(),
            max_fetches: self.options.max_reconcile_fetches(),
            concurrency: self.options.reconcile_concurrency(),
        };
        let client = self.client.clone();
        let queues = self.queues.clone();
        self.running = Some(Box::pin(async move {
            let mut outcome = reconcile::run(client, queues, job, limits).await;
            outcome.tail = tail;
            outcome.forgotten = forgotten;
            outcome
        }));
    }

    /// Hands a reconciliation's findings to the consumer, newer states only.
    fn apply(&mut self, outcome: Outcome) {
        let mut reported = 0;
        let fetched = outcome.fetched.len() as u64;
        for (sent, conversation) in outcome.fetched {
            let Some(event) = CallbackEvent::fetched(conversation) else {
                continue;
            };
            if !self.tracked.is_news(&event, sent) {
                continue;
            }
            let copy = event.clone();
            match self.shared.push_event(event) {
                Pushed::Queued => {
                    self.tracked.reported(&copy, None);
                    reported += 1;
                }
                Pushed::Dropped => {
                    self.counters.dropped.inc();
                    self.dirty.insert(copy.conversation_id);
                    self.lag_read = false;
                }
            }
        }
        for id in &outcome.gone {
            self.tracked.forget(id);
        }
        let failed = !outcome.failed.is_empty();
        for id in outcome.failed {
            self.dirty.insert(id);
        }
        let query_failed = outcome.query_retryable;
        if let Some(window) = outcome.window {
            if query_failed {
                let tries = outcome.window_attempts + 1;
                if tries < RECONCILE_TRIES {
                    self.retry_window = Some(match self.retry_window {
                        Some((w, tail, t)) => (w.merge(window), tail && outcome.tail, t.max(tries)),
                        None => (window, outcome.tail, tries),
                    });
                }
            } else if !outcome.tail {
                if let Some(tail) = reconcile::tail(
                    window,
                    self.options.analytics_delay(),
                    self.options.reconcile_margin(),
                ) {
                    let due = Instant::now() + self.options.analytics_delay();
                    self.tail = Some(match self.tail {
                        Some((at, pending)) => (at.max(due), pending.merge(tail)),
                        None => (due, tail),
                    });
                }
            }
        }
        if (query_failed || failed) && self.retry_at.is_none() {
            self.retry_at = Some(Instant::now() + self.options.max_reconnect_wait());
        }
        let notice = Reconciliation {
            runs: 1,
            window: outcome.window.map(|w| (w.from, w.to)),
            listed: outcome.listed,
            fetched,
            reported,
            truncated: outcome.truncated || outcome.forgotten > 0,
            skipped_unlisted: (outcome
                .skipped
                .len()
                .saturating_sub(super::events::MAX_SKIPPED_LISTED)
                as u64)
                .saturating_add(outcome.forgotten),
            skipped: outcome
                .skipped
                .into_iter()
                .take(super::events::MAX_SKIPPED_LISTED)
                .collect(),
            error: outcome.error,
        };
        let complete = notice.is_complete() && notice.skipped_unlisted == 0;
        self.counters.reconciliations.inc();
        self.counters.reconciled.add(reported);
        if !complete {
            self.counters.incomplete.inc();
        }
        self.shared.update_status(|s| {
            s.reconciliations += 1;
            if !complete {
                s.incomplete_reconciliations += 1;
            }
        });
        self.shared.push_notice(StreamItem::Reconciled(notice));
    }

    /// `v2.system.socket_closing`: a new socket on the same channel now (the platform
    /// then closes the old one); the old one is read until then.
    fn replace_socket(&mut self) {
        if self.maintenance.is_some() {
            // Busy renewing: the platform closes the socket in about a minute and the
            // stream reconnects then.
            return;
        }
        let client = self.client.clone();
        let url = self.channel.connect_uri.clone();
        let limits = limits(&self.options);
        self.replacing = true;
        self.maintenance = Some(Box::pin(async move {
            Maintenance::Replaced(
                Connection::open(client.network(), ENDPOINT, &url, &[], limits).await,
            )
        }));
    }

    /// Subscribes the channel again, which keeps it past its 24 hours, and reads back
    /// its `expires` (whether re-subscribing moves it is not documented: if it does not,
    /// the stream moves to a new channel).
    fn renew(&mut self) {
        let client = self.client.clone();
        let id = self.channel.id.clone();
        let topics = self.topics.clone();
        let before = self.channel.expires;
        self.maintenance = Some(Box::pin(async move {
            let result = async {
                channel::subscribe(&client, &id, &topics).await?;
                channel::expiry(&client, &id).await
            }
            .await;
            Maintenance::Renewed(result.map(|now| (before, now)))
        }));
    }

    /// A new channel, connected and subscribed, to move to before the old one expires.
    fn roll_over(&mut self) {
        let client = self.client.clone();
        let topics = self.topics.clone();
        let options = self.options.clone();
        self.maintenance = Some(Box::pin(async move {
            let result = async {
                let mut channel = channel::open(&client).await?;
                let conn = open_socket(&client, &channel, &options).await?;
                channel::subscribe(&client, &channel.id, &topics).await?;
                channel.subscribed = true;
                Ok((channel, conn))
            }
            .await;
            Maintenance::RolledOver(result)
        }));
    }

    fn maintained(&mut self, done: Maintenance) -> Result<(), Error> {
        let later = Instant::now() + self.options.max_reconnect_wait();
        self.replacing = false;
        match done {
            Maintenance::Replaced(Ok(conn)) => {
                // The old socket may be gone already (the platform closed it when the
                // new one connected): then there is nothing to drain.
                if self.conn.is_some() {
                    self.switch_to(conn);
                } else {
                    self.conn = Some(conn);
                    self.last_heard = Timestamp::now();
                }
            }
            Maintenance::Replaced(Err(err)) => {
                tracing::debug!(error = %err, "callback event stream: no new socket before the maintenance close; reconnecting after it");
            }
            Maintenance::Renewed(Ok((before, Some(now)))) if before.is_none_or(|b| now > b) => {
                self.channel.expires = Some(now);
                // Never sooner than a backoff wait: an `expires` already within
                // `renew_before_expiry` must not make renewals back to back.
                self.renew_at = renew_time(&self.channel, &self.options).max(later);
            }
            Maintenance::Renewed(Ok(_)) => {
                tracing::debug!("callback event stream: re-subscribing did not move the channel's expiry; moving to a new channel");
                self.roll_over();
            }
            Maintenance::Renewed(Err(err)) if err.kind() == ErrorKind::NotFound => self.roll_over(),
            Maintenance::Renewed(Err(err)) | Maintenance::RolledOver(Err(err)) => {
                if is_fatal(&err) {
                    return Err(err);
                }
                tracing::debug!(error = %err, "callback event stream: renewing the channel failed; trying again later");
                self.renew_at = later;
            }
            Maintenance::RolledOver(Ok((channel, conn))) => {
                self.channel = channel;
                self.channel_gone = false;
                self.shared.update_status(|s| s.channels_created += 1);
                self.renew_at = renew_time(&self.channel, &self.options);
                self.switch_to(conn);
            }
        }
        Ok(())
    }

    /// Makes `conn` the socket; the old one is read a little longer.
    fn switch_to(&mut self, conn: Connection) {
        if let Some(old) = self.conn.replace(conn) {
            self.draining = Some((old, Instant::now() + DRAIN));
        }
        self.last_heard = Timestamp::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::model::CallbackConversation;
    use serde_json::json;

    fn fetched(id: &str, state: &str) -> CallbackEvent {
        let conversation: CallbackConversation = serde_json::from_value(json!({
            "id": id,
            "participants": [{"purpose": "acd", "state": state, "queue": {"id": "q"}}]
        }))
        .unwrap();
        CallbackEvent::fetched(conversation).unwrap()
    }

    #[test]
    fn a_read_older_than_a_live_event_or_an_end_is_not_news() {
        let mut tracked = Tracked::new(10);
        let before = Instant::now();
        let live = fetched("c-1", "connected");
        tracked.reported(&live, Some(before + Duration::from_secs(1)));
        assert!(
            !tracked.is_news(&fetched("c-1", "scheduled"), before),
            "the GET was sent before the live event came"
        );
        assert!(tracked.is_news(
            &fetched("c-1", "disconnected"),
            before + Duration::from_secs(2)
        ));
        tracked.reported(&fetched("c-1", "disconnected"), None);
        assert!(
            !tracked.is_news(
                &fetched("c-1", "scheduled"),
                before + Duration::from_secs(3)
            ),
            "nothing follows the end"
        );
        assert!(
            !tracked.is_news(
                &fetched("c-1", "disconnected"),
                before + Duration::from_secs(3)
            ),
            "unchanged"
        );
    }

    #[test]
    fn tracking_forgets_the_least_recently_seen() {
        let mut tracked = Tracked::new(2);
        for id in ["a", "b", "c"] {
            tracked.reported(&fetched(id, "scheduled"), None);
        }
        assert!(!tracked.map.contains_key("a"));
        assert_eq!(
            tracked
                .open()
                .iter()
                .map(|k| k.id.as_str())
                .collect::<Vec<_>>(),
            ["c", "b"]
        );
    }
}
