//! Who owns a stream: a lease row with a heartbeat, fenced by an epoch.
//!
//! Why a lease row and not an advisory lock on a dedicated connection: an advisory lock
//! lives as long as PostgreSQL believes its session lives, which after a network partition
//! is as long as TCP keepalive takes (two hours by default), and it does not survive a
//! transaction-pooling proxy (PgBouncer) at all. A lease row expires at a time the database
//! states (`expires_at`), so takeover after an owner's death takes at most the lease's
//! time to live whatever happened to its connection; its `epoch` grows at every change of
//! owner, and every write of the owner checks it in the same transaction (`FOR SHARE` on
//! the lease row), so a deposed owner cannot write.
//!
//! Never two owners: the owner renews every third of the time to live, and stops acting
//! as owner once a time to live (less a safety margin) has passed on its own monotonic
//! clock since the last renewal it *sent* that succeeded; the database lets another
//! replica in only once `expires_at`, counted from when that renewal *arrived*, has passed.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;
use crate::postgres::{db_error, Database};

/// A lease held by this replica.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    pub(crate) epoch: i64,
    /// This replica acts as owner until then (its own clock), unless renewed.
    pub(crate) valid_until: Instant,
}

/// A stream's lease, as one replica sees it.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    db: Database,
    stream: String,
    replica: String,
    ttl: Duration,
}

impl Lease {
    pub(crate) fn new(db: Database, stream: &str, replica: &str, ttl: Duration) -> Self {
        Self {
            db,
            stream: stream.to_owned(),
            replica: replica.to_owned(),
            ttl,
        }
    }

    /// How long before the lease's end this replica stops acting: a fifth of the time to
    /// live, for a renewal's round trip and clocks that run at slightly different rates.
    fn margin(&self) -> Duration {
        self.ttl / 5
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Takes the lease if it is free or expired: `Some` with the new epoch, `None` when
    /// another replica holds it.
    pub(crate) async fn try_acquire(&self) -> Result<Option<Held>, Error> {
        let sent = Instant::now();
        let client = self.db.client().await?;
        let table = self.db.table("stream_leases");
        client
            .execute(
                &format!("INSERT INTO {table} (stream) VALUES ($1) ON CONFLICT DO NOTHING"),
                &[&self.stream],
            )
            .await
            .map_err(|e| db_error("creating a stream lease", e))?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE {table}
                     SET owner = $2, epoch = epoch + 1, acquired_at = now(),
                         expires_at = now() + $3::bigint * interval '1 millisecond'
                     WHERE stream = $1 AND (owner IS NULL OR expires_at <= now())
                     RETURNING epoch"
                ),
                &[&self.stream, &self.replica, &self.ttl_ms()],
            )
            .await
            .map_err(|e| db_error("taking a stream lease", e))?;
        Ok(row.map(|row| Held {
            epoch: row.get(0),
            valid_until: sent + self.ttl.saturating_sub(self.margin()),
        }))
    }

    /// Extends the lease held at `held.epoch`: the new local deadline, or `None` when the
    /// lease is no longer this replica's (expired and taken, or released).
    pub(crate) async fn renew(&self, held: Held) -> Result<Option<Held>, Error> {
        let sent = Instant::now();
        let client = self.db.client().await?;
        let table = self.db.table("stream_leases");
        let renewed = client
            .execute(
                &format!(
                    "UPDATE {table} SET expires_at = now() + $4::bigint * interval '1 millisecond'
                     WHERE stream = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()"
                ),
                &[&self.stream, &self.replica, &held.epoch, &self.ttl_ms()],
            )
            .await
            .map_err(|e| db_error("renewing a stream lease", e))?;
        Ok((renewed == 1).then(|| Held {
            epoch: held.epoch,
            valid_until: sent + self.ttl.saturating_sub(self.margin()),
        }))
    }

    /// Gives the lease up at once (a replica shutting down), so another takes over without
    /// waiting for it to expire.
    pub(crate) async fn release(&self, held: Held) -> Result<(), Error> {
        let client = self.db.client().await?;
        let table = self.db.table("stream_leases");
        client
            .execute(
                &format!(
                    "UPDATE {table} SET owner = NULL, expires_at = now()
                     WHERE stream = $1 AND owner = $2 AND epoch = $3"
                ),
                &[&self.stream, &self.replica, &held.epoch],
            )
            .await
            .map_err(|e| db_error("releasing a stream lease", e))?;
        Ok(())
    }

    /// The replica that owns the stream now, and since when (by the database's clock).
    pub(crate) async fn owner(&self) -> Result<Option<(String, i64)>, Error> {
        let client = self.db.client().await?;
        let table = self.db.table("stream_leases");
        let row = client
            .query_opt(
                &format!(
                    "SELECT owner, epoch FROM {table}
                     WHERE stream = $1 AND owner IS NOT NULL AND expires_at > now()"
                ),
                &[&self.stream],
            )
            .await
            .map_err(|e| db_error("reading a stream lease", e))?;
        Ok(row.map(|row| (row.get(0), row.get(1))))
    }
}
