//! A durable outbox for guest attribute updates: on disk (consents included) before `add`
//! returns, removed only once they were delivered (or handed back to the caller), replayed
//! after a restart.
//!
//! This is the embedded default, for one process: a redb file on local disk. A service of
//! many replicas shares one outbox in PostgreSQL instead (`GuestAttributesBuilder::postgres_outbox`,
//! feature `postgres`); both answer the same crate-private interface (`store.rs`) and the
//! same test suite (`tests/guest_outbox.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::store::{Background, Feeder, Store};
use super::{DeadLetter, Reservation};
use crate::error::Error;

const UPDATES: TableDefinition<u64, &[u8]> = TableDefinition::new("guest_attribute_updates");
/// `instance`: a random id made when the file is created, naming this outbox in dedupe
/// keys (update ids start over in a new file).
const META: TableDefinition<&str, &str> = TableDefinition::new("guest_attribute_outbox");

/// How old a pending update may be and still be replayed (60 s).
pub const DEFAULT_STALENESS: Duration = Duration::from_secs(60);

/// One accepted update, as stored. `Debug` shows the keys, never the values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredUpdate {
    /// The outbox's id of the update (increasing).
    #[serde(skip)]
    pub id: u64,
    /// The guest session.
    pub session_id: String,
    /// The attributes.
    pub attributes: BTreeMap<String, String>,
    /// The consent flags given with the update (for the CRM sync after a replay).
    #[serde(default)]
    pub consents: BTreeMap<String, bool>,
    /// When `add` accepted it (milliseconds since the Unix epoch).
    pub added_at_ms: i64,
}

impl std::fmt::Debug for StoredUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredUpdate")
            .field("id", &self.id)
            .field("session_id", &self.session_id)
            .field("keys", &self.attributes.keys().collect::<Vec<_>>())
            .field("consents", &self.consents)
            .field("added_at_ms", &self.added_at_ms)
            .finish()
    }
}

/// What a restart found in the outbox. It holds the outbox open (to acknowledge the stale
/// updates): drop it before opening the same file again in this process.
///
/// With the PostgreSQL outbox, shared by the replicas of a service, a start finds what
/// the other replicas cannot deliver any more: `fresh` are the updates of sessions whose
/// sender's claim had expired, taken over and queued by this replica; `stale` are every
/// stale update not acknowledged yet, whichever replica found it (so each starting replica
/// hands back the same ones: acknowledge them once).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Replay {
    /// Updates young enough to send again, oldest first (still in the outbox until
    /// delivered).
    pub fresh: Vec<StoredUpdate>,
    /// Updates older than the staleness limit, handed back for the caller to decide
    /// (resend with a new `add`, store elsewhere, drop). They stay in the outbox, and are
    /// handed back again at the next start, until
    /// [`acknowledge_stale`](Self::acknowledge_stale) removes them: nothing is deleted
    /// before the caller has seen it.
    pub stale: Vec<StoredUpdate>,
    /// Fresh updates that did not fit the batcher's pending bound: they stay in the outbox
    /// for the next start (counted in `guests.replay_deferred`); with PostgreSQL, they are
    /// queued as places free up.
    pub deferred: Vec<StoredUpdate>,
    outbox: Arc<dyn Store>,
}

impl Replay {
    /// Removes the stale updates from the outbox, once the caller has dealt with them.
    pub async fn acknowledge_stale(&self) -> Result<(), Error> {
        let ids: Vec<u64> = self.stale.iter().map(|u| u.id).collect();
        if ids.is_empty() {
            return Ok(());
        }
        self.outbox.acknowledge(&ids).await
    }

    /// A replay of `outbox`, before anything was queued.
    pub(crate) fn new(
        fresh: Vec<StoredUpdate>,
        stale: Vec<StoredUpdate>,
        outbox: Arc<dyn Store>,
    ) -> Self {
        Self {
            fresh,
            stale,
            deferred: Vec::new(),
            outbox,
        }
    }
}

/// The outbox: an embedded redb database file. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Outbox {
    db: Arc<Database>,
    next: Arc<AtomicU64>,
    instance: Arc<str>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

fn storage(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::storage(format!("the guest attribute outbox could not {what}"), e)
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let db = Database::create(path.as_ref()).map_err(|e| storage("be opened", e))?;
        let write = db
            .begin_write()
            .map_err(|e| storage("start a transaction", e))?;
        let last = {
            let table = write
                .open_table(UPDATES)
                .map_err(|e| storage("open its table", e))?;
            let last = table
                .last()
                .map_err(|e| storage("read", e))?
                .map(|(k, _)| k.value());
            last
        };
        let instance = {
            let mut meta = write
                .open_table(META)
                .map_err(|e| storage("open its table", e))?;
            let found = meta
                .get("instance")
                .map_err(|e| storage("read", e))?
                .map(|v| v.value().to_owned());
            match found {
                Some(instance) => instance,
                None => {
                    let instance = uuid::Uuid::new_v4().to_string();
                    meta.insert("instance", instance.as_str())
                        .map_err(|e| storage("write", e))?;
                    instance
                }
            }
        };
        write.commit().map_err(|e| storage("commit", e))?;
        Ok(Self {
            db: Arc::new(db),
            next: Arc::new(AtomicU64::new(last.map_or(1, |l| l + 1))),
            instance: Arc::from(instance),
        })
    }

    /// A random id made when the file was created: with an update id, it names one update
    /// across restarts (dedupe keys), and never an update of another outbox file.
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// Stores an update and its consent flags durably (the commit is synced to disk) and
    /// returns it with its id.
    pub async fn push(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
    ) -> Result<StoredUpdate, Error> {
        let update = StoredUpdate {
            id: self.next.fetch_add(1, Ordering::SeqCst),
            session_id: session_id.to_owned(),
            attributes: attributes.clone(),
            consents: consents.clone(),
            added_at_ms: jiff::Timestamp::now().as_millisecond(),
        };
        let bytes = serde_json::to_vec(&update).map_err(|e| storage("encode an update", e))?;
        let id = update.id;
        self.write("store an update", move |table| {
            table.insert(id, bytes.as_slice()).map(|_| ())
        })
        .await?;
        Ok(update)
    }

    /// Removes delivered (or handed back) updates.
    pub async fn remove(&self, ids: &[u64]) -> Result<(), Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write("remove an update", move |table| {
            ids.iter().try_for_each(|id| table.remove(id).map(|_| ()))
        })
        .await
    }

    /// Runs `change` in one write transaction, committed (synced to disk) before it returns.
    /// On a blocking thread: a synced commit can take milliseconds.
    async fn write<F>(&self, what: &'static str, change: F) -> Result<(), Error>
    where
        F: FnOnce(&mut redb::Table<'_, u64, &'static [u8]>) -> Result<(), redb::StorageError>
            + Send
            + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            let write = db
                .begin_write()
                .map_err(|e| storage("start a transaction", e))?;
            {
                let mut table = write
                    .open_table(UPDATES)
                    .map_err(|e| storage("open its table", e))?;
                change(&mut table).map_err(|e| storage(what, e))?;
            }
            write.commit().map_err(|e| storage("commit", e))
        })
        .await
        .map_err(|e| storage("finish a write", e))?
    }

    /// Every pending update, oldest first.
    pub fn pending(&self) -> Result<Vec<StoredUpdate>, Error> {
        let read = self
            .db
            .begin_read()
            .map_err(|e| storage("start a read", e))?;
        let table = match read.open_table(UPDATES) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(storage("open its table", e)),
        };
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| storage("read", e))? {
            let (key, value) = entry.map_err(|e| storage("read", e))?;
            let mut update: StoredUpdate = serde_json::from_slice(value.value())
                .map_err(|e| storage("decode an update", e))?;
            update.id = key.value();
            out.push(update);
        }
        Ok(out)
    }

    /// Splits what a restart finds: fresh updates to send again, and updates older than
    /// `staleness`, handed back in [`Replay::stale`] and left in the outbox until
    /// [`Replay::acknowledge_stale`]. Removes nothing.
    pub async fn replay(&self, staleness: Duration) -> Result<Replay, Error> {
        let now = jiff::Timestamp::now().as_millisecond();
        let limit = i64::try_from(staleness.as_millis()).unwrap_or(i64::MAX);
        let (fresh, stale): (Vec<_>, Vec<_>) = self
            .pending()?
            .into_iter()
            .partition(|u| now.saturating_sub(u.added_at_ms) <= limit);
        if !stale.is_empty() {
            tracing::warn!(
                count = stale.len(),
                "stale guest attribute updates found in the outbox; handed back to the caller"
            );
        }
        Ok(Replay::new(fresh, stale, Arc::new(self.clone())))
    }
}

/// The redb file as the guest attributes' outbox: one process, which sends everything it
/// stores (no gate), and replays at start what an earlier run left.
#[async_trait]
impl Store for Outbox {
    fn namespace(&self) -> &str {
        self.instance_id()
    }

    async fn start(
        self: Arc<Self>,
        staleness: Duration,
        feeder: Feeder,
    ) -> Result<(Replay, Option<Background>), Error> {
        let mut found = self.replay(staleness).await?;
        feeder.queue_replay(&mut found);
        Ok((found, None))
    }

    async fn accept(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
        place: Reservation,
        feeder: &Feeder,
    ) -> Result<u64, Error> {
        let added = std::time::Instant::now();
        let update = self.push(session_id, attributes, consents).await?;
        feeder.feed(place, &update, added)?;
        Ok(update.id)
    }

    async fn remove(&self, update_ids: &[u64]) -> Result<(), Error> {
        Outbox::remove(self, update_ids).await
    }

    /// Handed to the caller in the dead-letter list: out of the file, or every start
    /// would send them again.
    async fn dead(&self, letter: &DeadLetter) -> Result<(), Error> {
        Outbox::remove(self, &letter.update_ids).await
    }

    async fn acknowledge(&self, update_ids: &[u64]) -> Result<(), Error> {
        Outbox::remove(self, update_ids).await
    }
}
