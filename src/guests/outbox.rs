//! A durable outbox for guest attribute updates: on disk before `add` returns, removed only
//! once the platform accepted them, replayed after a restart.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::Error;

const UPDATES: TableDefinition<u64, &[u8]> = TableDefinition::new("guest_attribute_updates");

/// How old a pending update may be and still be replayed (tutorial 002: 60 s).
pub const DEFAULT_STALENESS: Duration = Duration::from_secs(60);

/// One accepted update, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredUpdate {
    /// The outbox's id of the update (increasing).
    #[serde(skip)]
    pub id: u64,
    /// The guest session.
    pub session_id: String,
    /// The attributes.
    pub attributes: BTreeMap<String, String>,
    /// When `add` accepted it (milliseconds since the Unix epoch).
    pub added_at_ms: i64,
}

/// What a restart found in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// Updates young enough to send again, oldest first (still in the outbox).
    pub fresh: Vec<StoredUpdate>,
    /// Updates older than the staleness limit: taken out of the outbox and handed back
    /// here, so the caller decides (nothing is dropped silently).
    pub stale: Vec<StoredUpdate>,
}

/// The outbox: an embedded redb database file. Cheap to clone; clones share it.
#[derive(Clone)]
pub struct Outbox {
    db: Arc<Database>,
    next: Arc<AtomicU64>,
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
        write.commit().map_err(|e| storage("commit", e))?;
        Ok(Self {
            db: Arc::new(db),
            next: Arc::new(AtomicU64::new(last.map_or(1, |l| l + 1))),
        })
    }

    /// Stores an update durably (the commit is synced to disk) and returns it with its id.
    pub async fn push(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<StoredUpdate, Error> {
        let update = StoredUpdate {
            id: self.next.fetch_add(1, Ordering::SeqCst),
            session_id: session_id.to_owned(),
            attributes: attributes.clone(),
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

    /// Removes delivered updates.
    pub async fn remove(&self, ids: &[u64]) -> Result<(), Error> {
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
    /// `staleness`, which are removed from the outbox and returned to the caller.
    pub async fn replay(&self, staleness: Duration) -> Result<Replay, Error> {
        let now = jiff::Timestamp::now().as_millisecond();
        let limit = i64::try_from(staleness.as_millis()).unwrap_or(i64::MAX);
        let (fresh, stale): (Vec<_>, Vec<_>) = self
            .pending()?
            .into_iter()
            .partition(|u| now.saturating_sub(u.added_at_ms) <= limit);
        let stale_ids: Vec<u64> = stale.iter().map(|u| u.id).collect();
        if !stale_ids.is_empty() {
            tracing::warn!(
                count = stale_ids.len(),
                "stale guest attribute updates found in the outbox"
            );
            self.remove(&stale_ids).await?;
        }
        Ok(Replay { fresh, stale })
    }
}
