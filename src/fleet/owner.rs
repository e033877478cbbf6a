//! The ownership task every replica runs: take the stream's lease when it is free, and
//! while it holds it, hold the notification channels and record every event.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::lease::{Held, Lease};
use super::store::{NewEvent, Recorded, Store};
use super::{Shared, Source, StreamConfig};
use crate::client::Client;
use crate::error::Error;

/// Events recorded in one transaction at most.
const BATCH: usize = 100;
/// How often handled events past their retention are pruned (by the owner).
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// What the owner's source yields, as the table records it.
type Items = std::pin::Pin<Box<dyn Stream<Item = Result<Vec<NewEvent>, Error>> + Send>>;

pub(super) struct Owner {
    pub(super) client: Client,
    pub(super) lease: Lease,
    pub(super) store: Store,
    pub(super) config: StreamConfig,
    pub(super) shared: Arc<Shared>,
    pub(super) replica: String,
}

/// A stable id: the same event (a redelivery, a live event and its reconciled copy)
/// always gets the same one.
fn stable_id(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Owner {
    /// Runs until the stream shuts down: waits for the lease, owns the stream while it
    /// holds it, and waits again.
    pub(super) async fn run(self) {
        let every = self.config.lease_ttl / 3;
        loop {
            if self.shared.is_shut_down() {
                return;
            }
            match self.lease.try_acquire().await {
                Ok(Some(held)) => {
                    self.shared.update(|s| {
                        s.owner = true;
                        s.epoch = Some(held.epoch);
                        s.takeovers += 1;
                    });
                    self.shared.metrics.takeovers.inc();
                    tracing::info!(
                        epoch = held.epoch,
                        "fleet: this replica owns the event stream"
                    );
                    let ended = self.own(held).await;
                    self.shared.update(|s| {
                        s.owner = false;
                        s.step_downs += 1;
                        if let Err(err) = &ended {
                            s.last_error = Some(err.clone());
                        }
                    });
                    match &ended {
                        Ok(()) => tracing::info!("fleet: stepped down"),
                        Err(err) => tracing::warn!(error = %err, "fleet: stepped down"),
                    }
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::debug!(error = %err, "fleet: the lease could not be read");
                    self.shared.update(|s| s.last_error = Some(err.clone()));
                }
            }
            let jitter = Duration::from_millis(fastrand::u64(0..=every.as_millis() as u64 / 4));
            self.shared.sleep(every + jitter).await;
        }
    }

    /// Owns the stream while the lease holds: `Ok` when it was given up or lost, `Err`
    /// when the source could not go on.
    async fn own(&self, mut held: Held) -> Result<(), Error> {
        let since = match self.store.last_received().await {
            Ok(since) => since,
            Err(err) => {
                let _ = self.lease.release(held).await;
                return Err(err);
            }
        };
        let mut items = match self.open(since).await {
            Ok(items) => items,
            Err(err) => {
                let _ = self.lease.release(held).await;
                return Err(err);
            }
        };
        let renew_every = self.config.lease_ttl / 3;
        let mut next_renewal = Instant::now() + renew_every;
        let mut next_prune = Instant::now();
        // Events taken from the source and not written yet (the database was away).
        let mut unwritten: Vec<NewEvent> = Vec::new();
        loop {
            if self.shared.is_shut_down() {
                let _ = self.lease.release(held).await;
                return Ok(());
            }
            let write_now = !unwritten.is_empty();
            tokio::select! {
                () = tokio::time::sleep_until(held.valid_until) => {
                    // No renewal got through in time: another replica may take over now.
                    return Ok(());
                }
                () = tokio::time::sleep_until(next_renewal) => {
                    match self.lease.renew(held).await {
                        Ok(Some(renewed)) => {
                            held = renewed;
                            next_renewal = Instant::now() + renew_every;
                        }
                        Ok(None) => return Ok(()),
                        Err(err) => {
                            // Tried again soon: the lease holds until `valid_until`.
                            tracing::debug!(error = %err, "fleet: renewing the lease failed; trying again");
                            self.shared.update(|s| s.last_error = Some(err.clone()));
                            next_renewal = Instant::now() + (renew_every / 4).max(Duration::from_millis(50));
                        }
                    }
                }
                () = tokio::time::sleep_until(next_prune) => {
                    next_prune = Instant::now() + PRUNE_EVERY;
                    if let Err(err) = self.store.prune(self.config.retain_done, 10_000).await {
                        tracing::debug!(error = %err, "fleet: pruning handled events failed");
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(200)), if write_now => {}
                item = items.next(), if !write_now => match item {
                    Some(Ok(events)) => unwritten.extend(events),
                    Some(Err(err)) => {
                        let _ = self.lease.release(held).await;
                        return Err(err);
                    }
                    None => {
                        let _ = self.lease.release(held).await;
                        return Err(Error::closed("the fleet's event source"));
                    }
                },
                () = self.shared.shut_down.notified() => {}
            }
            // Whatever else is ready now goes into the same transaction.
            while unwritten.len() < BATCH {
                match items.next().now_or_never() {
                    Some(Some(Ok(events))) => unwritten.extend(events),
                    _ => break,
                }
            }
            if unwritten.is_empty() {
                continue;
            }
            match self
                .store
                .record(&self.replica, held.epoch, &unwritten)
                .await
            {
                Ok(Recorded::Done(written)) => {
                    let fresh = written.iter().filter(|w| **w).count() as u64;
                    let repeats = written.len() as u64 - fresh;
                    self.shared.metrics.recorded.add(fresh);
                    self.shared.metrics.duplicates.add(repeats);
                    self.shared.update(|s| {
                        s.recorded += fresh;
                        s.duplicates += repeats;
                    });
                    unwritten.clear();
                }
                Ok(Recorded::NotOwner) => return Ok(()),
                Err(err) => {
                    // Kept and written again until the lease runs out; what is still
                    // unwritten then is found by the next owner's reconciliation.
                    tracing::debug!(error = %err, "fleet: recording events failed; retrying");
                    self.shared.update(|s| s.last_error = Some(err.clone()));
                }
            }
        }
    }

    /// The source, live, with what happened since `since` (the last recorded event)
    /// reconciled where the source can.
    async fn open(&self, since: Option<Timestamp>) -> Result<Items, Error> {
        match &self.config.source {
            #[cfg(feature = "callback-events")]
            Source::Callbacks { queues, options } => {
                use crate::callbacks::StreamItem;
                let mut options = options.clone();
                if let Some(since) = since {
                    // At most the analytics query's 7 days back.
                    let oldest = Timestamp::now() - jiff::SignedDuration::from_hours(7 * 24 - 1);
                    options = options.with_reconcile_since(since.max(oldest));
                }
                let queues: Vec<&str> = queues.iter().map(String::as_str).collect();
                // What the old owner recorded last for each callback: the reconciliation
                // reads only what changed since (an unchanged callback costs no read).
                let reported: Vec<crate::callbacks::CallbackEvent> = self
                    .store
                    .last_bodies("callback", options.max_tracked() as i64)
                    .await?
                    .iter()
                    .filter_map(|body| serde_json::from_str(body).ok())
                    .collect();
                let events = self
                    .client
                    .callbacks()
                    .events_seeded(&queues, options, reported)
                    .await?;
                Ok(Box::pin(events.map(|item| {
                    item.map(|item| match item {
                        StreamItem::Event(event) => callback_event(&event).into_iter().collect(),
                        _ => Vec::new(),
                    })
                })))
            }
            Source::Topics { topics, options } => {
                use crate::notifications::NotificationItem;
                let subscription = self
                    .client
                    .notifications()
                    .subscribe_with(topics.clone(), options.clone())
                    .await?;
                let first = since.map(|since| gap_event(since, Timestamp::now(), "takeover"));
                let live = subscription.map(|item| {
                    item.map(|item| match item {
                        NotificationItem::Event(n) => vec![NewEvent {
                            id: stable_id(&[n.topic(), n.body_json()]),
                            key: n.topic().to_owned(),
                            kind: "notification",
                            topic: Some(n.topic().to_owned()),
                            body: n.body_json().to_owned(),
                            received_at: n.received_at(),
                        }],
                        NotificationItem::Gap(gap) => {
                            vec![gap_event(gap.down_since, gap.reconnected_at, "reconnect")]
                        }
                        NotificationItem::Lagged(lagged) => vec![NewEvent {
                            id: stable_id(&["lagged", &Timestamp::now().to_string()]),
                            key: "lagged".to_owned(),
                            kind: "lagged",
                            topic: None,
                            body: serde_json::json!({ "dropped": lagged.dropped }).to_string(),
                            received_at: Timestamp::now(),
                        }],
                    })
                });
                Ok(Box::pin(
                    futures::stream::iter(first.map(|e| Ok(vec![e]))).chain(live),
                ))
            }
        }
    }
}

/// A window in which notifications may have been lost (no socket, or no owner).
fn gap_event(from: Timestamp, to: Timestamp, why: &str) -> NewEvent {
    NewEvent {
        id: stable_id(&["gap", &from.to_string(), &to.to_string()]),
        key: "gap".to_owned(),
        kind: "gap",
        topic: None,
        body: serde_json::json!({ "from": from, "to": to, "why": why }).to_string(),
        received_at: to,
    }
}

/// A callback event as recorded: its id is the state it reports (a live event and its
/// reconciled copy, or a repeat, are one event), its key its conversation.
#[cfg(feature = "callback-events")]
fn callback_event(event: &crate::callbacks::CallbackEvent) -> Option<NewEvent> {
    let state = serde_json::to_string(&event.state).ok()?;
    let scheduled = event
        .scheduled_time
        .map(|t| t.to_string())
        .unwrap_or_default();
    let numbers = event.callback_numbers().join(",");
    let id = stable_id(&[
        &event.conversation_id,
        &state,
        &scheduled,
        event.queue_id.as_deref().unwrap_or_default(),
        &numbers,
        if event.ended { "ended" } else { "open" },
    ]);
    Some(NewEvent {
        id,
        key: event.conversation_id.clone(),
        kind: "callback",
        topic: event.topic.clone(),
        body: serde_json::to_string(event).ok()?,
        received_at: Timestamp::now(),
    })
}
