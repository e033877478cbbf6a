//! What the stream's background task hands to the consumer: the notifications layer's
//! bounded queue (the task never waits on it), holding callback events and the stream's
//! notices, with the stream's status beside it.
//!
//! Events beyond the capacity are dropped and counted in a [`StreamItem::Lagged`] notice
//! at the point where they went missing; notices are never dropped: at most one of each
//! kind waits unread, and a later notice of that kind is merged into it.

use std::sync::OnceLock;
use std::task::Waker;

use tokio::sync::Notify;

use super::events::{Lagged, Reconciliation, Reconnected, StreamItem, StreamStatus};
use crate::error::Error;
use crate::notifications::{Pushed, Queue, QueueItem, Sink, Taken};

impl QueueItem for StreamItem {
    fn is_event(&self) -> bool {
        matches!(self, StreamItem::Event(_))
    }

    fn lagged(dropped: u64) -> Self {
        StreamItem::Lagged(Lagged { dropped })
    }

    fn is_lagged(&self) -> bool {
        matches!(self, StreamItem::Lagged(_))
    }

    fn absorb(&mut self, later: &Self) -> bool {
        match (self, later) {
            (StreamItem::Lagged(a), StreamItem::Lagged(b)) => {
                a.dropped = a.dropped.saturating_add(b.dropped);
            }
            (StreamItem::Reconnected(a), StreamItem::Reconnected(b)) => a.merge(b),
            (StreamItem::Reconciled(a), StreamItem::Reconciled(b)) => a.merge(b),
            _ => return false,
        }
        true
    }
}

pub(super) struct Shared {
    queue: Queue<StreamItem, StreamStatus>,
    /// The subscription's own status (its sockets), read live.
    subscription: OnceLock<Sink>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            queue: Queue::new(capacity),
            subscription: OnceLock::new(),
        }
    }

    /// Where the status of the stream's sockets is read.
    pub(super) fn set_subscription(&self, sink: Sink) {
        let _ = self.subscription.set(sink);
    }

    /// Resolves when the consumer read a `Lagged` notice: it has caught up with the point
    /// where events were dropped, so the task may reconcile what they were about.
    pub(super) fn caught_up(&self) -> &Notify {
        &self.queue.caught_up
    }

    /// Queues an event, or drops it (counted in a `Lagged` notice) when the queue holds
    /// `capacity` events already.
    pub(super) fn push_event(&self, event: super::CallbackEvent) -> Pushed {
        let pushed = self.queue.push(StreamItem::Event(event));
        self.queue.update_status(|s| match pushed {
            Pushed::Queued => s.events += 1,
            Pushed::Dropped => s.dropped_events += 1,
        });
        pushed
    }

    /// Queues a notice, merged into an unread one of its kind if there is one.
    pub(super) fn push_notice(&self, notice: StreamItem) {
        self.queue.push_notice(notice);
    }

    /// Changes the status the consumer can read with `CallbackEvents::status`.
    pub(super) fn update_status(&self, change: impl FnOnce(&mut StreamStatus)) {
        self.queue.update_status(change);
    }

    /// The stream's status: its own counts, and its sockets' as the subscription sees them.
    pub(super) fn status(&self) -> StreamStatus {
        let mut status = self.queue.status();
        if let Some(subscription) = self.subscription.get() {
            let sockets = subscription.status();
            status.connected = sockets.connected && !self.queue.is_finished();
            status.disconnects = sockets.disconnects;
            status.reconnects = sockets.reconnects;
            status.channels_created = sockets.channels_created;
        }
        status
    }

    /// The task stops with `error`, delivered once the queued items are read.
    pub(super) fn finish(&self, error: Error) {
        self.queue.finish(error);
    }

    /// The next item, or why the task stopped, or nothing with `waker` kept for later.
    pub(super) fn take(&self, waker: &Waker) -> Taken<StreamItem> {
        self.queue.take(waker)
    }
}

// Merging is defined beside the notice types; these keep the outbox's rules in one place.
impl Reconnected {
    fn merge(&mut self, later: &Reconnected) {
        self.down_since = self.down_since.min(later.down_since);
        self.reconnected_at = self.reconnected_at.max(later.reconnected_at);
        self.outages = self.outages.saturating_add(later.outages);
        self.attempts = self.attempts.saturating_add(later.attempts);
        self.new_channel |= later.new_channel;
    }
}

impl Reconciliation {
    fn merge(&mut self, later: &Reconciliation) {
        self.runs = self.runs.saturating_add(later.runs);
        self.window = match (self.window, later.window) {
            (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
            (a, b) => a.or(b),
        };
        self.listed = self.listed.saturating_add(later.listed);
        self.fetched = self.fetched.saturating_add(later.fetched);
        self.reported = self.reported.saturating_add(later.reported);
        self.truncated |= later.truncated;
        for id in &later.skipped {
            if self.skipped.len() >= super::events::MAX_SKIPPED_LISTED {
                self.skipped_unlisted = self.skipped_unlisted.saturating_add(1);
            } else if !self.skipped.contains(id) {
                self.skipped.push(id.clone());
            }
        }
        self.skipped_unlisted = self.skipped_unlisted.saturating_add(later.skipped_unlisted);
        if later.error.is_some() {
            self.error.clone_from(&later.error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::model::CallbackConversation;

    fn event(id: &str) -> super::super::CallbackEvent {
        let c: CallbackConversation =
            serde_json::from_value(serde_json::json!({"id": id})).unwrap();
        super::super::CallbackEvent::fetched(c).unwrap()
    }

    fn take_all(shared: &Shared) -> Vec<String> {
        let mut out = Vec::new();
        while let Taken::Item(item) = shared.take(std::task::Waker::noop()) {
            out.push(match item {
                StreamItem::Event(e) => e.conversation_id,
                StreamItem::Lagged(l) => format!("lagged {}", l.dropped),
                StreamItem::Reconnected(r) => format!("reconnected {}", r.outages),
                StreamItem::Reconciled(r) => format!("reconciled {}", r.runs),
            });
        }
        out
    }

    fn reconnected() -> StreamItem {
        StreamItem::Reconnected(Reconnected {
            down_since: jiff::Timestamp::UNIX_EPOCH,
            reconnected_at: jiff::Timestamp::UNIX_EPOCH,
            outages: 1,
            attempts: 1,
            new_channel: false,
        })
    }

    #[test]
    fn events_past_the_capacity_become_one_lagged_notice_where_they_went_missing() {
        let shared = Shared::new(2);
        assert_eq!(shared.push_event(event("a")), Pushed::Queued);
        assert_eq!(shared.push_event(event("b")), Pushed::Queued);
        assert_eq!(shared.push_event(event("c")), Pushed::Dropped);
        shared.push_notice(reconnected());
        assert_eq!(shared.push_event(event("d")), Pushed::Dropped);
        shared.push_notice(reconnected());
        assert_eq!(
            take_all(&shared),
            ["a", "b", "lagged 2", "reconnected 2"],
            "notices are never dropped; unread ones absorb later ones"
        );
        assert_eq!(shared.push_event(event("e")), Pushed::Queued);
        assert_eq!(take_all(&shared), ["e"]);
        assert_eq!(shared.status().dropped_events, 2);
    }
}
