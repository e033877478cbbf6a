//! The bounded queue between a background task and the stream its consumer reads: the
//! task never waits on it.
//!
//! The task pushes under a short lock and moves on; the consumer takes items in its
//! stream's `poll_next`. Events beyond the capacity are dropped and counted in a lagged
//! notice at the point where they went missing (as tokio's broadcast channel tells a slow
//! receiver it lagged). Notices are never dropped: at most one of each kind waits unread,
//! and a later notice of that kind is merged into it, so the queue holds at most
//! `capacity` events and one notice of each kind.
//!
//! Used by every notifications subscription and by the callback event stream on top of
//! one.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::task::Waker;

use tokio::sync::Notify;

use crate::error::Error;

/// What the queue needs to know of its items.
pub(crate) trait QueueItem: Sized {
    /// Whether this is an event (counted against the capacity, dropped beyond it) rather
    /// than a notice.
    fn is_event(&self) -> bool;
    /// The notice that says `dropped` events went missing here (the first of them
    /// dropped now).
    fn lagged(dropped: u64) -> Self;
    /// Whether this is the lagged notice.
    fn is_lagged(&self) -> bool;
    /// Merges the later notice `later` into this unread one if they are of one kind
    /// (`true`), or leaves both as they are (`false`).
    fn absorb(&mut self, later: &Self) -> bool;
}

/// Whether an event went into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    Dropped,
}

/// A bounded queue of `I`, with what the task counts beside it (`S`).
pub(crate) struct Queue<I, S> {
    inner: Mutex<Inner<I, S>>,
    /// The consumer read a lagged notice: it has caught up with the point where events
    /// were dropped, so the task may recover what they were about.
    pub(crate) caught_up: Notify,
}

struct Inner<I, S> {
    items: VecDeque<I>,
    /// Events in `items`.
    events: usize,
    capacity: usize,
    waker: Option<Waker>,
    /// Why the task stopped, delivered after the queued items.
    end: Option<Error>,
    /// Events dropped so far.
    dropped: u64,
    status: S,
}

impl<I, S> std::fmt::Debug for Queue<I, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

/// What [`Queue::take`] found.
pub(crate) enum Taken<I> {
    Item(I),
    End(Error),
    Nothing,
}

impl<I: QueueItem, S: Clone + Default> Queue<I, S> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                events: 0,
                capacity,
                waker: None,
                end: None,
                dropped: 0,
                status: S::default(),
            }),
            caught_up: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<I, S>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(waker: Option<Waker>) {
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Queues an event, or drops it (counted in a lagged notice) when the queue holds
    /// `capacity` events already. A notice is queued as [`Queue::push_notice`] does.
    pub(crate) fn push(&self, item: I) -> Pushed {
        if !item.is_event() {
            self.push_notice(item);
            return Pushed::Queued;
        }
        let mut inner = self.lock();
        let pushed = if inner.events >= inner.capacity {
            inner.dropped = inner.dropped.saturating_add(1);
            inner.notice(I::lagged(1));
            Pushed::Dropped
        } else {
            inner.events += 1;
            inner.items.push_back(item);
            Pushed::Queued
        };
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
        pushed
    }

    /// Queues a notice, merged into an unread one of its kind if there is one.
    pub(crate) fn push_notice(&self, notice: I) {
        let mut inner = self.lock();
        inner.notice(notice);
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
    }

    /// Changes the status the consumer can read.
    pub(crate) fn update_status(&self, change: impl FnOnce(&mut S)) {
        change(&mut self.lock().status);
    }

    /// The status, as the task last set it.
    pub(crate) fn status(&self) -> S {
        self.lock().status.clone()
    }

    /// Events dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// The task stops with `error`, delivered once the queued items are read; a later
    /// call changes nothing (the first reason stands).
    pub(crate) fn finish(&self, error: Error) {
        let mut inner = self.lock();
        if inner.end.is_none() {
            inner.end = Some(error);
        }
        let waker = inner.waker.take();
        drop(inner);
        Self::wake(waker);
    }

    /// Whether the task has stopped (its reason may still be unread).
    pub(crate) fn is_finished(&self) -> bool {
        self.lock().end.is_some()
    }

    /// The next item, or why the task stopped, or nothing with `waker` kept for later.
    pub(crate) fn take(&self, waker: &Waker) -> Taken<I> {
        let mut inner = self.lock();
        if let Some(item) = inner.items.pop_front() {
            if item.is_event() {
                inner.events = inner.events.saturating_sub(1);
            } else if item.is_lagged() {
                drop(inner);
                self.caught_up.notify_one();
                return Taken::Item(item);
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

impl<I: QueueItem, S> Inner<I, S> {
    fn notice(&mut self, notice: I) {
        for queued in self.items.iter_mut() {
            if !queued.is_event() && queued.absorb(&notice) {
                return;
            }
        }
        self.items.push_back(notice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Item {
        Event(&'static str),
        Lagged(u64),
        Gap(u32),
    }

    impl QueueItem for Item {
        fn is_event(&self) -> bool {
            matches!(self, Item::Event(_))
        }
        fn lagged(dropped: u64) -> Self {
            Item::Lagged(dropped)
        }
        fn is_lagged(&self) -> bool {
            matches!(self, Item::Lagged(_))
        }
        fn absorb(&mut self, later: &Self) -> bool {
            match (self, later) {
                (Item::Lagged(a), Item::Lagged(b)) => *a += b,
                (Item::Gap(a), Item::Gap(b)) => *a += b,
                _ => return false,
            }
            true
        }
    }

    fn take_all(queue: &Queue<Item, ()>) -> Vec<Item> {
        let mut out = Vec::new();
        while let Taken::Item(item) = queue.take(Waker::noop()) {
            out.push(item);
        }
        out
    }

    #[test]
    fn events_past_the_capacity_become_one_lagged_notice_where_they_went_missing() {
        let queue = Queue::<Item, ()>::new(2);
        assert_eq!(queue.push(Item::Event("a")), Pushed::Queued);
        assert_eq!(queue.push(Item::Event("b")), Pushed::Queued);
        assert_eq!(queue.push(Item::Event("c")), Pushed::Dropped);
        queue.push_notice(Item::Gap(1));
        assert_eq!(queue.push(Item::Event("d")), Pushed::Dropped);
        queue.push_notice(Item::Gap(1));
        assert_eq!(
            take_all(&queue),
            [
                Item::Event("a"),
                Item::Event("b"),
                Item::Lagged(2),
                Item::Gap(2)
            ],
            "notices are never dropped; unread ones absorb later ones"
        );
        assert_eq!(queue.push(Item::Event("e")), Pushed::Queued);
        assert_eq!(take_all(&queue), [Item::Event("e")]);
        assert_eq!(queue.dropped(), 2);
    }

    #[test]
    fn the_end_comes_after_the_queued_items_and_the_first_reason_stands() {
        let queue = Queue::<Item, ()>::new(2);
        queue.push(Item::Event("a"));
        queue.finish(Error::closed("first"));
        queue.finish(Error::closed("second"));
        assert!(matches!(
            queue.take(Waker::noop()),
            Taken::Item(Item::Event("a"))
        ));
        match queue.take(Waker::noop()) {
            Taken::End(err) => assert!(err.to_string().contains("first"), "{err}"),
            _ => panic!("the end"),
        }
    }
}
