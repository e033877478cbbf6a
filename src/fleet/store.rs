//! The stream's table: what the owner records, what the replicas claim, acknowledge and
//! read.

use std::time::Duration;

use jiff::Timestamp;
use tokio_postgres::Row;

use super::StoredEvent;
use crate::error::Error;
use crate::postgres::{db_error, Database};

/// An event as the owner records it.
#[derive(Debug, Clone)]
pub(crate) struct NewEvent {
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) kind: &'static str,
    pub(crate) topic: Option<String>,
    pub(crate) body: String,
    pub(crate) received_at: Timestamp,
}

/// Why a record was refused.
pub(crate) enum Recorded {
    /// Written (`true`), or already there (`false`: a redelivery or a repeat).
    Done(Vec<bool>),
    /// This replica no longer owns the stream: nothing was written.
    NotOwner,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn to_time(ts: std::time::SystemTime) -> Timestamp {
    Timestamp::try_from(ts).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn system_time(ts: Timestamp) -> std::time::SystemTime {
    std::time::SystemTime::from(ts)
}

#[derive(Debug, Clone)]
pub(crate) struct Store {
    db: Database,
    stream: String,
}

impl Store {
    pub(crate) fn new(db: Database, stream: &str) -> Self {
        Self {
            db,
            stream: stream.to_owned(),
        }
    }

    fn events(&self) -> String {
        self.db.table("stream_events")
    }

    /// Writes `events` while this replica holds the lease at `epoch` (checked in the same
    /// transaction, the lease row share-locked so a takeover waits for the commit).
    pub(crate) async fn record(
        &self,
        replica: &str,
        epoch: i64,
        events: &[NewEvent],
    ) -> Result<Recorded, Error> {
        let mut client = self.db.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| db_error("recording events", e))?;
        let leases = self.db.table("stream_leases");
        let owner = tx
            .query_opt(
                &format!(
                    "SELECT 1 FROM {leases}
                     WHERE stream = $1 AND owner = $2 AND epoch = $3 AND expires_at > now()
                     FOR SHARE"
                ),
                &[&self.stream, &replica, &epoch],
            )
            .await
            .map_err(|e| db_error("checking the stream lease", e))?;
        if owner.is_none() {
            return Ok(Recorded::NotOwner);
        }
        let insert = tx
            .prepare(&format!(
                "INSERT INTO {} (stream, event_id, event_key, kind, topic, body, received_at, epoch)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (stream, event_id) DO NOTHING",
                self.events()
            ))
            .await
            .map_err(|e| db_error("recording events", e))?;
        let mut written = Vec::with_capacity(events.len());
        for event in events {
            let n = tx
                .execute(
                    &insert,
                    &[
                        &self.stream,
                        &event.id,
                        &event.key,
                        &event.kind,
                        &event.topic,
                        &event.body,
                        &system_time(event.received_at),
                        &epoch,
                    ],
                )
                .await
                .map_err(|e| db_error("recording events", e))?;
            written.push(n == 1);
        }
        tx.commit()
            .await
            .map_err(|e| db_error("recording events", e))?;
        Ok(Recorded::Done(written))
    }

    /// When the last recorded event was received: a new owner reconciles from there.
    pub(crate) async fn last_received(&self) -> Result<Option<Timestamp>, Error> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                &format!(
                    "SELECT max(received_at) FROM {} WHERE stream = $1",
                    self.events()
                ),
                &[&self.stream],
            )
            .await
            .map_err(|e| db_error("reading the last event", e))?;
        let last: Option<std::time::SystemTime> = row.get(0);
        Ok(last.map(to_time))
    }

    /// The last recorded body of each key, for `kind`, at most `limit` keys (the most
    /// recently recorded first): what the consumer was told last.
    pub(crate) async fn last_bodies(&self, kind: &str, limit: i64) -> Result<Vec<String>, Error> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT body FROM (
                        SELECT DISTINCT ON (event_key) event_key, seq, body FROM {}
                        WHERE stream = $1 AND kind = $2
                        ORDER BY event_key, seq DESC) last
                     ORDER BY seq DESC LIMIT $3",
                    self.events()
                ),
                &[&self.stream, &kind, &limit],
            )
            .await
            .map_err(|e| db_error("reading the last recorded states", e))?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Claims up to `limit` events due now, for `visibility`: the oldest pending event of
    /// each key only (a key's events are handled one at a time, in order), skipping rows
    /// other replicas are claiming this instant.
    pub(crate) async fn claim(
        &self,
        replica: &str,
        limit: i64,
        visibility: Duration,
    ) -> Result<Vec<StoredEvent>, Error> {
        let client = self.db.client().await?;
        let events = self.events();
        let rows = client
            .query(
                &format!(
                    "WITH due AS (
                        SELECT e.seq FROM {events} e
                        WHERE e.stream = $1 AND e.state = 'pending' AND e.visible_at <= now()
                          AND NOT EXISTS (
                            SELECT 1 FROM {events} o
                            WHERE o.stream = e.stream AND o.event_key = e.event_key
                              AND o.state = 'pending' AND o.seq < e.seq)
                        ORDER BY e.seq
                        LIMIT $2
                        FOR UPDATE SKIP LOCKED)
                     UPDATE {events} e
                     SET visible_at = now() + $3::bigint * interval '1 millisecond',
                         attempts = e.attempts + 1, claimed_by = $4
                     FROM due WHERE e.seq = due.seq
                     RETURNING e.seq, e.event_id, e.event_key, e.kind, e.topic, e.body,
                               e.received_at, e.attempts"
                ),
                &[&self.stream, &limit, &millis(visibility), &replica],
            )
            .await
            .map_err(|e| db_error("claiming events", e))?;
        let mut claimed: Vec<StoredEvent> = rows.iter().map(stored).collect();
        claimed.sort_by_key(|e| e.seq);
        Ok(claimed)
    }

    /// The handler is done with `seq`: it leaves the queue (kept as `done` for the
    /// retention time). `false` when the claim had lapsed and another replica claimed it.
    pub(crate) async fn ack(&self, replica: &str, seq: i64) -> Result<bool, Error> {
        let client = self.db.client().await?;
        let n = client
            .execute(
                &format!(
                    "UPDATE {} SET state = 'done', done_at = now()
                     WHERE seq = $1 AND claimed_by = $2 AND state = 'pending'",
                    self.events()
                ),
                &[&seq, &replica],
            )
            .await
            .map_err(|e| db_error("acknowledging an event", e))?;
        Ok(n == 1)
    }

    /// The handler failed on `seq` with an error of kind `kind`: visible again after
    /// `retry_after`, or dead once it has had `max_attempts`. `Some(dead)`, or `None` when
    /// the claim had lapsed.
    pub(crate) async fn fail(
        &self,
        replica: &str,
        seq: i64,
        kind: &str,
        retry_after: Duration,
        max_attempts: i32,
    ) -> Result<Option<bool>, Error> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "UPDATE {} SET last_error = $3,
                         visible_at = now() + $4::bigint * interval '1 millisecond',
                         state = CASE WHEN attempts >= $5 THEN 'dead' ELSE 'pending' END
                     WHERE seq = $1 AND claimed_by = $2 AND state = 'pending'
                     RETURNING state",
                    self.events()
                ),
                &[&seq, &replica, &kind, &millis(retry_after), &max_attempts],
            )
            .await
            .map_err(|e| db_error("releasing a failed event", e))?;
        Ok(row.map(|row| row.get::<_, String>(0) == "dead"))
    }

    /// Dead events, oldest first (at most `limit`).
    pub(crate) async fn dead(&self, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT seq, event_id, event_key, kind, topic, body, received_at, attempts
                     FROM {} WHERE stream = $1 AND state = 'dead' ORDER BY seq LIMIT $2",
                    self.events()
                ),
                &[&self.stream, &limit],
            )
            .await
            .map_err(|e| db_error("reading dead events", e))?;
        Ok(rows.iter().map(stored).collect())
    }

    /// Puts a dead event back in the queue, its attempts counted from zero.
    pub(crate) async fn requeue(&self, seq: i64) -> Result<bool, Error> {
        let client = self.db.client().await?;
        let n = client
            .execute(
                &format!(
                    "UPDATE {} SET state = 'pending', attempts = 0, visible_at = now(),
                         claimed_by = NULL
                     WHERE seq = $1 AND stream = $2 AND state = 'dead'",
                    self.events()
                ),
                &[&seq, &self.stream],
            )
            .await
            .map_err(|e| db_error("requeuing an event", e))?;
        Ok(n == 1)
    }

    /// Events after `after`, in order, at most `limit`: a broadcast reader's next batch.
    pub(crate) async fn after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>, Error> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT seq, event_id, event_key, kind, topic, body, received_at, attempts
                     FROM {} WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    self.events()
                ),
                &[&self.stream, &after, &limit],
            )
            .await
            .map_err(|e| db_error("reading events", e))?;
        Ok(rows.iter().map(stored).collect())
    }

    /// Where broadcast reader `reader` is; a new reader starts at the newest event.
    pub(crate) async fn cursor(&self, reader: &str) -> Result<i64, Error> {
        let client = self.db.client().await?;
        let cursors = self.db.table("stream_cursors");
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO {cursors} (stream, reader, seq)
                     VALUES ($1, $2, (SELECT coalesce(max(seq), 0) FROM {} WHERE stream = $1))
                     ON CONFLICT (stream, reader) DO UPDATE SET stream = EXCLUDED.stream
                     RETURNING seq",
                    self.events()
                ),
                &[&self.stream, &reader],
            )
            .await
            .map_err(|e| db_error("reading a broadcast cursor", e))?;
        Ok(row.get(0))
    }

    /// Moves broadcast reader `reader` to `seq` (never back).
    pub(crate) async fn advance(&self, reader: &str, seq: i64) -> Result<(), Error> {
        let client = self.db.client().await?;
        let cursors = self.db.table("stream_cursors");
        client
            .execute(
                &format!(
                    "UPDATE {cursors} SET seq = greatest(seq, $3), updated_at = now()
                     WHERE stream = $1 AND reader = $2"
                ),
                &[&self.stream, &reader, &seq],
            )
            .await
            .map_err(|e| db_error("moving a broadcast cursor", e))?;
        Ok(())
    }

    /// Deletes handled events older than `retain` (at most `limit` at a time).
    pub(crate) async fn prune(&self, retain: Duration, limit: i64) -> Result<u64, Error> {
        let client = self.db.client().await?;
        let events = self.events();
        client
            .execute(
                &format!(
                    "DELETE FROM {events} WHERE seq IN (
                        SELECT seq FROM {events}
                        WHERE stream = $1 AND state = 'done'
                          AND done_at < now() - $2::bigint * interval '1 millisecond'
                        LIMIT $3)"
                ),
                &[&self.stream, &millis(retain), &limit],
            )
            .await
            .map_err(|e| db_error("pruning handled events", e))
    }

    /// Counts by state: pending, done, dead.
    pub(crate) async fn counts(&self) -> Result<(i64, i64, i64), Error> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE state = 'pending'),
                            count(*) FILTER (WHERE state = 'done'),
                            count(*) FILTER (WHERE state = 'dead')
                     FROM {} WHERE stream = $1",
                    self.events()
                ),
                &[&self.stream],
            )
            .await
            .map_err(|e| db_error("counting events", e))?;
        Ok((row.get(0), row.get(1), row.get(2)))
    }
}

fn stored(row: &Row) -> StoredEvent {
    let received: std::time::SystemTime = row.get(6);
    StoredEvent {
        seq: row.get(0),
        id: row.get(1),
        key: row.get(2),
        kind: row.get(3),
        topic: row.get(4),
        body: row.get(5),
        received_at: to_time(received),
        attempts: row.get::<_, i32>(7).try_into().unwrap_or(0),
    }
}
