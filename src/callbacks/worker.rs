//! The event stream's background task: it reads one notifications subscription (the
//! [`notifications`](crate::notifications) layer owns the channel and its websocket),
//! reconciles after gaps, and hands everything to the consumer through the outbox without
//! ever waiting for it.
//!
//! A reconciliation runs as a future owned by the task and polled beside the
//! subscription, so notifications keep being taken meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

use super::events::{
    CallbackEvent, CallbackSnapshot, Fingerprint, Reconciliation, Reconnected, StreamItem,
    StreamOptions,
};
use super::model::CallbackEventConversation;
use super::outbox::Shared;
use super::reconcile::{self, Job, Known, Limits, Listing, Outcome, Window};
use crate::client::Client;
use crate::error::Error;
use crate::notifications::{
    Gap, Notification, NotificationItem, Pushed, SubscribeOptions, Subscription,
};
use crate::observe::Counter;

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

/// One wake-up of the task.
enum Step {
    Item(Option<Result<NotificationItem, Error>>),
    Reconciled(Box<Outcome>),
    CaughtUp,
    TailDue,
    RetryDue,
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

/// How long an ended callback is remembered: long enough to drop a repeat of its last
/// event, or an older state, that the platform delivers late (seconds, in practice). Open
/// callbacks are remembered until they end (or `cap` pushes them out): a service's memory
/// follows its open callbacks, not every callback it ever saw.
const KEEP_ENDED: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Conversations the stream has reported, at most `cap` (the least recently seen go);
/// ended ones for [`KEEP_ENDED`].
struct Tracked {
    map: HashMap<String, Entry>,
    by_touch: BTreeMap<u64, String>,
    /// Conversations as they were reported ended, oldest first, with when.
    ended: VecDeque<(Instant, String)>,
    tick: u64,
    cap: usize,
}

impl Tracked {
    fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            by_touch: BTreeMap::new(),
            ended: VecDeque::new(),
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
        let now = Instant::now();
        self.forget_ended_before(now.checked_sub(KEEP_ENDED));
        let fingerprint = event.fingerprint();
        let started = started(&event.conversation);
        let entry = self.entry(&event.conversation_id);
        entry.reported = Some(fingerprint);
        let newly_ended = event.ended && !entry.ended;
        entry.ended = event.ended;
        if live_at.is_some() {
            entry.live_at = live_at;
        }
        entry.known.state = event.state.clone();
        entry.known.scheduled = event.scheduled_time;
        entry.known.queue = event.queue_id.clone();
        entry.known.started = started.or(entry.known.started);
        if newly_ended {
            self.ended.push_back((now, event.conversation_id.clone()));
        }
    }

    /// Forgets the callbacks reported ended before `cutoff` (and still ended).
    fn forget_ended_before(&mut self, cutoff: Option<Instant>) {
        let Some(cutoff) = cutoff else { return };
        while self.ended.front().is_some_and(|(at, _)| *at < cutoff) {
            let Some((_, id)) = self.ended.pop_front() else {
                break;
            };
            if self.map.get(&id).is_some_and(|e| e.ended) {
                self.forget(&id);
            }
        }
        // Entries pushed out by `cap` or forgotten otherwise leave stale ids here; they
        // are skipped above, and never more than the ended callbacks of `KEEP_ENDED`.
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
    options: StreamOptions,
    shared: Arc<Shared>,
    subscription: Subscription,
    /// When the last notification was taken: a lag in the subscription is reconciled
    /// from there.
    last_taken: Timestamp,
    tracked: Tracked,
    dirty: Dirty,
    /// Gap windows not reconciled yet; `pending_tail` when only a tail re-query.
    pending: Option<Window>,
    /// What the page bound left of the last window listed: the page to go on from, and
    /// what the listing found so far.
    rest: Option<Listing>,
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
    counters: Counters,
}

/// Waits for the future in `slot`, or for ever when there is none.
async fn poll_slot<T>(slot: &mut Slot<T>) -> T {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The topic of a queue's callbacks.
pub(super) fn topic(queue: &str) -> String {
    format!("v2.routing.queues.{queue}.conversations.callbacks")
}

impl Worker {
    /// Subscribes to the queues' callback topics: the stream is live when this returns.
    pub(super) async fn start(
        client: Client,
        queues: Vec<String>,
        options: StreamOptions,
        shared: Arc<Shared>,
        reported: Vec<CallbackEvent>,
    ) -> Result<Self, Error> {
        let topics: Vec<String> = queues.iter().map(|q| topic(q)).collect();
        let subscription = client
            .notifications()
            .subscribe_with(topics, subscribe_options(&options))
            .await?;
        shared.set_subscription(subscription.status_source());
        let metrics = client.metrics();
        let counters = Counters {
            reconnects: metrics.counter(names::RECONNECTS),
            dropped: metrics.counter(names::DROPPED),
            undecodable: metrics.counter(names::UNDECODABLE),
            reconciliations: metrics.counter(names::RECONCILIATIONS),
            incomplete: metrics.counter(names::INCOMPLETE),
            reconciled: metrics.counter(names::RECONCILED),
        };
        let since = options.reconcile_since();
        let mut worker = Self {
            tracked: Tracked::new(options.max_tracked()),
            dirty: Dirty {
                ids: Vec::new(),
                set: HashSet::new(),
                cap: options.max_tracked(),
                forgotten: 0,
            },
            client,
            queues,
            options,
            shared,
            subscription,
            last_taken: Timestamp::now(),
            pending: None,
            rest: None,
            pending_tail: false,
            pending_tries: 0,
            tail: None,
            retry_at: None,
            retry_window: None,
            lag_read: false,
            reconcile_soon: false,
            running: None,
            counters,
        };
        for event in &reported {
            worker.tracked.reported(event, None);
        }
        if let Some(since) = since {
            let margin =
                SignedDuration::try_from(worker.options.reconcile_margin()).unwrap_or_default();
            worker.queue_window(
                Window {
                    from: since - margin,
                    to: Timestamp::now(),
                },
                false,
            );
        }
        Ok(worker)
    }

    /// Runs until the stream cannot go on (the consumer dropping the stream aborts it).
    pub(super) async fn run(mut self) {
        let error = self.drive().await;
        tracing::debug!(error = %error, "callback event stream stopped");
        self.shared.finish(error);
    }

    async fn drive(&mut self) -> Error {
        loop {
            self.maybe_reconcile();
            let tail_due = self.tail.map(|(at, _)| at);
            let step = tokio::select! {
                item = self.subscription.next() => Step::Item(item),
                outcome = poll_slot(&mut self.running) => Step::Reconciled(Box::new(outcome)),
                () = self.shared.caught_up().notified() => Step::CaughtUp,
                () = sleep_until(tail_due) => Step::TailDue,
                () = sleep_until(self.retry_at) => Step::RetryDue,
            };
            match step {
                Step::Item(Some(Ok(item))) => self.on_item(item),
                Step::Item(Some(Err(error))) => return error,
                Step::Item(None) => return Error::closed("the notifications subscription"),
                Step::Reconciled(outcome) => {
                    self.running = None;
                    self.apply(*outcome);
                }
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

    fn on_item(&mut self, item: NotificationItem) {
        let margin = SignedDuration::try_from(self.options.reconcile_margin()).unwrap_or_default();
        match item {
            NotificationItem::Event(notification) => {
                self.last_taken = notification.received_at();
                self.on_event(&notification);
            }
            NotificationItem::Gap(gap) => self.reconnected(&gap, margin),
            NotificationItem::Lagged(_) => {
                // The layer dropped notifications after the last one taken: what they
                // were about is found by a reconciliation of that window.
                let now = Timestamp::now();
                self.queue_window(
                    Window {
                        from: self.last_taken - margin,
                        to: now,
                    },
                    false,
                );
            }
        }
    }

    /// A channel's socket is up again after a gap: say so, and reconcile the gap.
    fn reconnected(&mut self, gap: &Gap, margin: SignedDuration) {
        self.counters.reconnects.inc();
        self.shared
            .push_notice(StreamItem::Reconnected(Reconnected {
                down_since: gap.down_since,
                reconnected_at: gap.reconnected_at,
                outages: gap.outages,
                attempts: gap.attempts,
                new_channel: gap.new_channel,
            }));
        self.queue_window(
            Window {
                from: gap.down_since - margin,
                to: gap.reconnected_at,
            },
            false,
        );
    }

    fn on_event(&mut self, notification: &Notification) {
        let received = Instant::now();
        let topic = notification.topic().to_owned();
        let correlation_id = notification.correlation_id().map(str::to_owned);
        let event = notification
            .decode::<CallbackEventConversation>()
            .ok()
            .and_then(|body| CallbackEvent::live(body, topic, correlation_id));
        let Some(event) = event else {
            // Not lost: its conversation, when named, is read again.
            tracing::debug!("callback event stream: an event body could not be read");
            self.counters.undecodable.inc();
            self.shared.update_status(|s| s.undecodable += 1);
            let id_hint = notification
                .decode::<IdOnly>()
                .ok()
                .and_then(|body| body.id);
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
        if self.running.is_some() || !self.subscription.status().connected {
            return;
        }
        let dirty_due = (self.lag_read || self.reconcile_soon) && !self.dirty.is_empty();
        if self.pending.is_none() && self.rest.is_none() && !dirty_due {
            return;
        }
        // A new gap first; else the rest of a listing the page bound cut, as it is (no
        // reaching back: that would list the same first pages again).
        let continuation = self.pending.is_none() && self.rest.is_some();
        let tail = self.pending_tail || continuation;
        let (window, from) = match self.pending.take() {
            Some(mut window) => {
                // Reach back to the open callbacks the stream knows, so the query says
                // whether they changed (within the longest interval one query covers).
                if let Some(start) = self.tracked.earliest_open_start() {
                    window.from = window.from.min(start.max(window.to - LOOKBACK));
                }
                // A new window starts the listing over.
                self.rest = None;
                (Some(window), None)
            }
            None => match self.rest.take() {
                Some(listing) => (Some(listing.window), Some(listing)),
                None => (None, None),
            },
        };
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
            from,
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
        // What the page bound left of the window is listed by the next reconciliation.
        if outcome.rest.is_some() {
            self.rest = outcome.rest;
        }
        // What the read bound left unread is read by the next reconciliation, one bound's
        // worth at a time: a gap with more changes than the bound is caught up, not cut.
        if !outcome.skipped.is_empty() {
            for id in &outcome.skipped {
                self.dirty.insert(id.clone());
            }
            self.reconcile_soon = true;
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
}

/// A notification body's `id`, when the rest of it cannot be read.
#[derive(serde::Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

/// The subscription options of a stream with `options`.
fn subscribe_options(options: &StreamOptions) -> SubscribeOptions {
    SubscribeOptions {
        // The task takes notifications as they come; its own queue to the consumer is
        // `buffer` long.
        buffer: options.buffer().max(1_024),
        connection: options.connection(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::model::CallbackConversation;
    use serde_json::json;
    use std::time::Duration;

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

    #[tokio::test(start_paused = true)]
    async fn an_ended_callback_is_remembered_for_a_while_then_forgotten() {
        let mut tracked = Tracked::new(10_000);
        tracked.reported(&fetched("ended", "connected"), None);
        tracked.reported(&fetched("ended", "disconnected"), None);
        tracked.reported(&fetched("open", "scheduled"), None);
        tokio::time::advance(KEEP_ENDED - Duration::from_secs(1)).await;
        tracked.reported(&fetched("other", "scheduled"), None);
        assert!(
            tracked.after_end(&fetched("ended", "connected")),
            "a late older state of a callback that ended is still recognised"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        tracked.reported(&fetched("another", "scheduled"), None);
        assert!(
            !tracked.map.contains_key("ended"),
            "an ended callback is not kept for ever"
        );
        assert!(tracked.ended.is_empty());
        for open in ["open", "other", "another"] {
            assert!(tracked.map.contains_key(open), "{open} is still open");
        }
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
