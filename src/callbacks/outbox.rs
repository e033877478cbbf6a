//! What the stream's background task hands to the consumer: a bounded queue the task
//! never waits on.
//!
//! The task pushes under a short lock and moves on; the consumer takes items in
//! [`CallbackEvents`](super::CallbackEvents)'s `poll_next`. Events beyond the capacity are
//! dropped and counted in a [`StreamItem::Lagged`] notice at the point where they went
//! missing (as tokio's broadcast channel tells a slow receiver it lagged). Notices are
//! never dropped: at most one of each kind waits unread, and a later notice of that kind
//! is merged into it, so the queue holds at most `capacity` events and three notices (one of each kind).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use tokio::sync::Notify;

use super::events::{Lagged, Reconciliation, Reconnected, StreamItem, StreamStatus};
use crate::error::Error;

/// Whether an event went into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    Queued,
    Dropped,
}

pub(super) struct Shared {
    inner: Mutex<Inner>,
    /// The consumer read a `Lagged` notice: it has caught up with the point where events
    /// were dropped, so the task may reconcile what they were about.
    pub(super) caught_up: Notify,
}

struct Inner {
    items: VecDeque<StreamItem>,
    /// Events in `items`.
    events: usize,
    capacity: usize,
    waker: Option<Waker>,
    /// Why the task stopped, delivered after the queued items.
    end: Option<Error>,
    status: StreamStatus,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                events: 0,
                capacity,
                waker: None,
                end: None,
                status: StreamStatus::default(),
            }),
            caught_up: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(waker: Option<Waker>) {
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Queues an event, or drops it (counted in a `Lagged` notice) when the queue holds
    /// `capacity` events already.
    pub(super) fn push_event(&self, event: super::CallbackEvent) -> Pushed {
        let mut inner = self.lock();
        let pushed = if inner.events >= inner.capacity {
            inner.status.dropped_events += 1;
            inner.notice(StreamItem::Lagged(Lagged { dropped: 1 }));
            Pushed::Dropped
        } else {
            inner.events += 1;
            inner.status.events += 1;
            inner.items.push_back(StreamItem::Event(event));
            Pushed::Queued
        };
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
        pushed
    }

    /// Queues a notice, merged into an unread one of its kind if there is one.
    pub(super) fn push_notice(&self, notice: StreamItem) {
        let mut inner = self.lock();
        inner.notice(notice);
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
    }

    /// Changes the status the consumer can read with `CallbackEvents::status`.
    pub(super) fn update_status(&self, change: impl FnOnce(&mut StreamStatus)) {
        change(&mut self.lock().status);
    }

    pub(super) fn status(&self) -> StreamStatus {
        self.lock().status.clone()
    }

    /// The task stops with `error`, delivered once the queued items are read.
    pub(super) fn finish(&self, error: Error) {
        let mut inner = self.lock();
        inner.end = Some(error);
        inner.status.connected = false;
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
    }

    /// The next item, or why the task stopped, or `None` with `waker` kept for later.
    pub(super) fn take(&self, waker: &Waker) -> Taken {
        let mut inner = self.lock();
        if let Some(item) = inner.items.pop_front() {
            match &item {
                StreamItem::Event(_) => inner.events = inner.events.saturating_sub(1),
                StreamItem::Lagged(_) => {
                    drop(inner);
                    self.caught_up.notify_one();
                    return Taken::Item(item);
                }
                _ => {}
            }
            return Taken::Item(item);
        }
        if let Some(end) = inner.end.take() {
            return Taken::End(end);
        }
        inner.waker = Some(waker.clone());
        Taken::Nothing
    }
}

pub(super) enum Taken {
    Item(StreamItem),
    End(Error),
    Nothing,
}

impl Inner {
    fn notice(&mut self, notice: StreamItem) {
        for queued in self.items.iter_mut() {
            match (queued, &notice) {
                (StreamItem::Lagged(a), StreamItem::Lagged(b)) => {
                    a.dropped = a.dropped.saturating_add(b.dropped);
                    return;
                }
                (StreamItem::Reconnected(a), StreamItem::Reconnected(b)) => {
                    a.merge(b);
                    return;
                }
                (StreamItem::Reconciled(a), StreamItem::Reconciled(b)) => {
                    a.merge(b);
                    return;
                }
                _ => {}
            }
        }
        self.items.push_back(notice);
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
    use std::task::Waker;

    use super::*;
    use crate::callbacks::model::CallbackConversation;

    fn event(id: &str) -> super::super::CallbackEvent {
        let c: CallbackConversation =
            serde_json::from_value(serde_json::json!({"id": id})).unwrap();
        super::super::CallbackEvent::fetched(c).unwrap()
    }

    fn take_all(shared: &Shared) -> Vec<String> {
        let mut out = Vec::new();
        while let Taken::Item(item) = shared.take(Waker::noop()) {
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
