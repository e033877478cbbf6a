//! One outbox interface, two implementations: what [`GuestAttributes`](super::GuestAttributes)
//! asks of an outbox, answered by the redb file ([`Outbox`](super::Outbox), one process) and
//! by PostgreSQL (`pg_outbox.rs`, feature `postgres`, a service of many replicas).
//!
//! The interface is crate-private on purpose. What an outbox must do for the batcher is a
//! protocol (when an update is durable, who may send a session, when a row may leave, how
//! order survives a change of sender), and both implementations keep it together with the
//! batcher and the CRM sync; a public trait would freeze that protocol and let a third
//! implementation break the guarantees `GuestAttributes` documents. Callers choose an
//! implementation with `GuestAttributesBuilder::outbox` or `postgres_outbox`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::batcher::{BatcherHandle, SendGate};
use super::{DeadLetter, DeliveryHook, Replay, Reservation, StoredUpdate};
use crate::client::Client;
use crate::error::Error;

/// The consent flags of each update held, by update id, until it is delivered or given up.
pub(crate) type Consents = Arc<Mutex<HashMap<u64, BTreeMap<String, bool>>>>;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Puts stored updates into the batcher: a place, the consent flags kept for the CRM
/// sync, and the hook for deliveries an outbox finds already made (PostgreSQL). Cheap to
/// clone.
#[derive(Clone)]
pub(crate) struct Feeder {
    pub(crate) batcher: BatcherHandle,
    pub(crate) consents: Consents,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    pub(crate) hook: Arc<dyn DeliveryHook>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) client: Client,
}

impl fmt::Debug for Feeder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feeder").finish_non_exhaustive()
    }
}

impl Feeder {
    /// Queues `update` in `place`; `added` is when `add` accepted it (for the
    /// `guests.add_to_accept` latency).
    pub(crate) fn feed(
        &self,
        place: Reservation,
        update: &StoredUpdate,
        added: Instant,
    ) -> Result<(), Error> {
        lock(&self.consents).insert(update.id, update.consents.clone());
        let queued = place.add(
            update.session_id.clone(),
            update.attributes.clone(),
            Some(update.id),
            added,
        );
        if queued.is_err() {
            lock(&self.consents).remove(&update.id);
        }
        queued
    }

    /// Queues what a restart found fresh, as far as the batcher's pending bound allows;
    /// the rest moves to `replay.deferred` (counted by the caller).
    pub(crate) fn queue_replay(&self, replay: &mut Replay) {
        let mut queued = Vec::new();
        for update in std::mem::take(&mut replay.fresh) {
            let Ok(place) = self.batcher.reserve() else {
                replay.deferred.push(update);
                continue;
            };
            match self.feed(place, &update, Instant::now()) {
                Ok(()) => queued.push(update),
                Err(_) => replay.deferred.push(update),
            }
        }
        replay.fresh = queued;
    }
}

/// An outbox's background work, stopped when dropped (with `GuestAttributes`: dropping it
/// without `shutdown` stops everything at once, as a crash would).
pub(crate) struct Background(tokio::task::JoinHandle<()>);

impl Background {
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // the PostgreSQL outbox's
    pub(crate) fn new(task: tokio::task::JoinHandle<()>) -> Self {
        Self(task)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Background").finish_non_exhaustive()
    }
}

/// What `GuestAttributes` asks of an outbox. Every method that writes returns only once
/// the write is durable (a synced redb commit, a PostgreSQL commit).
#[async_trait]
pub(crate) trait Store: Send + Sync + fmt::Debug {
    /// Names this outbox in CRM dedupe keys: the same across restarts (and, for
    /// PostgreSQL, across replicas), different for another outbox.
    fn namespace(&self) -> &str;

    /// Asked by the batcher before each send (PostgreSQL: whether this replica holds the
    /// session's claim long enough for one send). `None`: always.
    fn gate(&self) -> Option<Arc<dyn SendGate>> {
        None
    }

    /// Hands back what earlier runs left (fresh updates queued through `feeder`, stale
    /// ones handed back) and starts the outbox's background work, if any.
    async fn start(
        self: Arc<Self>,
        staleness: Duration,
        feeder: Feeder,
    ) -> Result<(Replay, Option<Background>), Error>;

    /// Stores an accepted update and its consent flags durably, then queues it (in
    /// `place`, or through whoever sends the session); its id.
    async fn accept(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
        place: Reservation,
        feeder: &Feeder,
    ) -> Result<u64, Error>;

    /// Returns once what `accept` queued so far is in the batcher (PostgreSQL queues it
    /// from a task of its own).
    async fn settle(&self) {}

    /// The platform accepted these updates of `session_id`; a CRM sync may follow before
    /// [`remove`](Self::remove).
    async fn delivered(&self, session_id: &str, update_ids: &[u64]) -> Result<(), Error> {
        let _ = (session_id, update_ids);
        Ok(())
    }

    /// Done with these updates (delivered, and synced when there is a CRM): they leave.
    async fn remove(&self, update_ids: &[u64]) -> Result<(), Error>;

    /// These updates were given up (the letter is also in the replica's dead-letter list).
    async fn dead(&self, letter: &DeadLetter) -> Result<(), Error>;

    /// The caller dealt with these stale updates: they leave.
    async fn acknowledge(&self, update_ids: &[u64]) -> Result<(), Error>;

    /// After the batcher and the CRM sync stopped: lets other replicas take over what is
    /// left (PostgreSQL releases this replica's claims).
    async fn stop(&self) -> Result<(), Error> {
        Ok(())
    }
}
