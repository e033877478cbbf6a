//! The guest attribute outbox in PostgreSQL (feature `postgres`): one outbox for every
//! replica of a service.
//!
//! # What a fleet needs, and how this outbox gives it
//!
//! The redb outbox is one process's crash log: the process that stores an update sends it.
//! In a fleet, the replica that stores an update may not be the one that sends it (it may
//! have died, or another replica may be sending that guest's updates), and two replicas
//! sending one session at once could land an older update after a newer one. So:
//!
//! - **`add` returns after the commit.** The update's row and its consent flags are
//!   committed before `add` returns; an `add` that fails (the database down: a retryable
//!   [`ErrorKind::Storage`](crate::ErrorKind::Storage) error) stored nothing it reports
//!   as accepted. An `add` whose commit's answer was lost (no answer in time) may have
//!   stored it: at least once, as for every send.
//! - **One sender per session: claims.** A session row holds a claim: the replica that
//!   alone sends the session's updates, until the claim expires. The replica that adds an
//!   update takes the claim when it is free (or expired) and it holds fewer than
//!   `max_sessions`; otherwise `add` only inserts, and the holder picks the row up (at its
//!   next sweep). The holder renews its claims every third of `claim_ttl`; the batcher
//!   starts a send only while the claim has at least `send_timeout` left (measured from
//!   before the renewal was asked, so conservatively), so a replica that cannot renew
//!   stops sending before another may take over. A session whose updates were all
//!   delivered is released (its row deleted) at the holder's next sweep.
//! - **Takeover.** Every `sweep_interval`, each replica claims up to `sweep_batch`
//!   sessions whose claim expired (`FOR UPDATE SKIP LOCKED`: replicas never wait for each
//!   other, and a session is claimed by one), as long as it holds fewer than
//!   `max_sessions`. A replica killed mid-flight leaves its claims; they expire after at
//!   most `claim_ttl`, and the next sweep anywhere takes them over. A replica that shuts
//!   down releases its claims, so they are taken over at once.
//! - **Order.** Each `add` increments the session's `next_seq` under the session row's
//!   lock, so the session's updates are numbered in commit order, and a sender reads them
//!   in that order. `delivered_seq` is the session's high-water mark: raised in the same
//!   statement that marks updates delivered, removes them, dead-letters them or hands them
//!   back (never lowered). A new holder sends only updates above it: an update the
//!   platform accepted is never sent after a newer one, even when a removal failed. Rows
//!   at or below it that are still here were delivered but their CRM sync did not end
//!   (the sender died): the new holder syncs them to the CRM again (same dedupe key when
//!   the same updates were merged), without sending them to the platform.
//! - **Replay and staleness.** A replica taking a session over hands back (marks
//!   `stale`) the updates older than the staleness limit before the first one young enough
//!   to send; `start` hands back every stale update not acknowledged yet
//!   ([`Replay::stale`](super::Replay::stale)), and
//!   [`Replay::acknowledge_stale`](super::Replay::acknowledge_stale) deletes them.
//! - **Dead letters** go to the replica's [`DeadLetters`](super::DeadLetters) list,
//!   counted and audited as with the redb outbox; their rows stay, marked `dead` with the
//!   reason, the attempts and the error's kind, for `dead_letter_retention`.
//! - **PostgreSQL down.** `add` fails (retryable `Storage`); claims cannot be renewed, so
//!   sending pauses once they run out; when the database is back, sweeps take the sessions
//!   over again and delivery resumes. Nothing committed is lost. Every database call is
//!   bounded by a third of `claim_ttl`.
//! - **Bounded.** One background task per replica; per round at most `sweep_batch`
//!   sessions are claimed, loaded or released and at most the batcher's free places worth
//!   of updates are read; at most `max_sessions` claims are held; the batcher still holds
//!   at most `max_pending` updates (the rest waits in the table).
//!
//! Every replica's sink must be able to send every session (see
//! `GuestAttributesBuilder::start`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use super::batcher::SendGate;
use super::store::{lock, Background, Consents, Feeder, Store};
use super::{BatcherOptions, DeadLetter, Replay, Reservation, StoredUpdate};
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord};
use crate::postgres::{db_error, no_answer, Database};
use crate::validation::{ValidationError, Violations};

/// How the PostgreSQL outbox shares sessions between replicas. Build with
/// [`PostgresOutboxOptions::builder`]; [`Default`] holds the values below.
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::guests::PostgresOutboxOptions;
///
/// let options = PostgresOutboxOptions::builder()
///     .claim_ttl(Duration::from_secs(90))
///     .max_sessions(5_000)
///     .build()?;
/// assert_eq!(options.sweep_batch(), 100);
/// assert!(PostgresOutboxOptions::builder().sweep_batch(0).build().is_err());
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOutboxOptions {
    claim_ttl: Duration,
    sweep_interval: Duration,
    sweep_batch: usize,
    max_sessions: usize,
    dead_letter_retention: Duration,
    replica: Option<String>,
}

impl Default for PostgresOutboxOptions {
    fn default() -> Self {
        Self {
            claim_ttl: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(1),
            sweep_batch: 100,
            max_sessions: 1_000,
            dead_letter_retention: Duration::from_secs(7 * 24 * 3600),
            replica: None,
        }
    }
}

impl PostgresOutboxOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> PostgresOutboxOptionsBuilder {
        PostgresOutboxOptionsBuilder {
            options: Self::default(),
        }
    }

    /// How long a claim lasts without renewal: a replica renews its claims every third of
    /// it, and a stopped replica's sessions are taken over at most this long after its
    /// last renewal. At least twice the batcher's `send_timeout` (a send starts only
    /// while the claim has a `send_timeout` left). Each database call is bounded by a
    /// third of it. Default 60 s.
    pub fn claim_ttl(&self) -> Duration {
        self.claim_ttl
    }

    /// How often a replica looks for sessions to take over, for updates other replicas
    /// added to the sessions it holds, and for sessions to release. An update added on a
    /// replica that does not hold its session waits up to this long more. Default 1 s.
    pub fn sweep_interval(&self) -> Duration {
        self.sweep_interval
    }

    /// Sessions claimed, loaded or released per round at most. Default 100.
    pub fn sweep_batch(&self) -> usize {
        self.sweep_batch
    }

    /// This replica's name as its claims show it (the `holder` of `guest_sessions`), for
    /// operators; default a random id. Unique in the fleet.
    pub fn replica(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// Sessions one replica holds at once at most; past it, `add` only stores, and other
    /// replicas (or this one, later) take the session. Default 1,000.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// How long dead-lettered rows stay in the table (then the sweep deletes them, a
    /// `sweep_batch` at a time). Default 7 days.
    pub fn dead_letter_retention(&self) -> Duration {
        self.dead_letter_retention
    }

    /// The rules that involve the batching options.
    pub(crate) fn check_against(&self, batching: &BatcherOptions, v: &mut Violations) {
        v.check(
            self.claim_ttl >= batching.send_timeout().saturating_mul(2),
            "claimTtl",
            "range",
            "the claim TTL must be at least twice the batcher's send timeout",
        );
    }

    fn op_timeout(&self) -> Duration {
        self.claim_ttl / 3
    }
}

/// Builds [`PostgresOutboxOptions`]; [`build`](Self::build) lists every value out of
/// range.
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresOutboxOptionsBuilder {
    options: PostgresOutboxOptions,
}

impl PostgresOutboxOptionsBuilder {
    /// See [`PostgresOutboxOptions::claim_ttl`]; at least 30 ms, at most a day.
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.options.claim_ttl = ttl;
        self
    }

    /// See [`PostgresOutboxOptions::sweep_interval`]; more than zero.
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.options.sweep_interval = interval;
        self
    }

    /// See [`PostgresOutboxOptions::sweep_batch`]; 1 to 10,000.
    pub fn sweep_batch(mut self, sessions: usize) -> Self {
        self.options.sweep_batch = sessions;
        self
    }

    /// See [`PostgresOutboxOptions::max_sessions`]; at least 1.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.options.max_sessions = sessions;
        self
    }

    /// See [`PostgresOutboxOptions::dead_letter_retention`]; more than zero.
    pub fn dead_letter_retention(mut self, retention: Duration) -> Self {
        self.options.dead_letter_retention = retention;
        self
    }

    /// See [`PostgresOutboxOptions::replica`]; 1 to 100 characters, no control
    /// characters.
    pub fn replica(mut self, name: impl Into<String>) -> Self {
        self.options.replica = Some(name.into());
        self
    }

    /// The options, or every value out of range.
    pub fn build(self) -> Result<PostgresOutboxOptions, ValidationError> {
        let o = self.options;
        let mut v = Violations::default();
        v.check(
            (Duration::from_millis(30)..=Duration::from_secs(24 * 3600)).contains(&o.claim_ttl),
            "claimTtl",
            "range",
            "`claimTtl` is 30 ms to a day",
        );
        for (field, value) in [
            ("sweepInterval", o.sweep_interval),
            ("deadLetterRetention", o.dead_letter_retention),
        ] {
            v.check(
                !value.is_zero(),
                field,
                "positive",
                format!("`{field}` must be more than zero"),
            );
        }
        v.check(
            (1..=10_000).contains(&o.sweep_batch),
            "sweepBatch",
            "range",
            "`sweepBatch` is 1 to 10000",
        );
        v.check(
            o.max_sessions >= 1,
            "maxSessions",
            "min",
            "`maxSessions` must be at least 1",
        );
        if let Some(name) = &o.replica {
            v.check(
                (1..=100).contains(&name.chars().count()) && !name.chars().any(char::is_control),
                "replica",
                "length",
                "a replica name is 1 to 100 characters without control characters",
            );
        }
        v.finish().map(|()| o)
    }
}

/// Milliseconds, for the statements (`$n::bigint * interval '1 millisecond'`).
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Update ids as the table's (ids come from a `BIGSERIAL`, never negative).
fn db_ids(ids: &[u64]) -> Vec<i64> {
    ids.iter()
        .map(|&id| i64::try_from(id).unwrap_or(i64::MAX))
        .collect()
}

fn row_id(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

/// A stored update that cannot be read back (said without its content).
#[derive(Debug)]
struct Undecodable;

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stored guest update is not a map of strings")
    }
}

impl std::error::Error for Undecodable {}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|_| Error::storage("PostgreSQL: reading a guest update", Undecodable))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value)
        .map_err(|_| Error::storage("PostgreSQL: storing a guest update", Undecodable))
}

/// The statements, with this outbox's table names.
struct Sql {
    add_session: String,
    add_update: String,
    mark_delivered: String,
    remove: String,
    dead: String,
    stale: String,
    acknowledge: String,
    release_all: String,
    renew: String,
    check: String,
    take_over: String,
    sessions: String,
    rows: String,
    release: String,
    purge_dead: String,
    stale_list: String,
    instance: String,
}

impl Sql {
    fn new(db: &Database) -> Self {
        let s = db.table("guest_sessions");
        let u = db.table("guest_updates");
        let seq = db.table("guest_claims");
        let meta = db.table("guest_outbox_meta");
        // A claim's end: now plus the TTL (milliseconds) in parameter `$n`.
        let ttl = |n: u8| format!("now() + ${n}::bigint * interval '1 millisecond'");
        let ttl4 = ttl(4);
        // Raises each touched session's high-water mark to the highest seq of the rows a
        // data-modifying CTE named `done` returned (never lowers it).
        let raise = format!(
            "top AS (SELECT session_id, max(seq) AS seq FROM done GROUP BY session_id)
             UPDATE {s} s SET delivered_seq = top.seq FROM top
             WHERE s.session_id = top.session_id AND top.seq > s.delivered_seq"
        );
        Sql {
            // $1 session, $2 may claim, $3 this replica, $4 TTL (ms).
            add_session: format!(
                "INSERT INTO {s} AS s (session_id, next_seq, holder, claim, claim_expires_at)
                 VALUES ($1, 1, CASE WHEN $2 THEN $3::text END, nextval('{seq}'),
                         CASE WHEN $2 THEN {ttl4} ELSE 'epoch'::timestamptz END)
                 ON CONFLICT (session_id) DO UPDATE SET
                     next_seq = s.next_seq + 1,
                     updated_at = now(),
                     holder = CASE WHEN s.claim_expires_at > now() THEN s.holder
                                   WHEN $2 THEN $3::text ELSE s.holder END,
                     claim = CASE WHEN s.claim_expires_at > now() THEN s.claim
                                  WHEN $2 THEN EXCLUDED.claim ELSE s.claim END,
                     claim_expires_at = CASE
                         WHEN s.claim_expires_at > now() AND s.holder = $3::text THEN {ttl4}
                         WHEN s.claim_expires_at > now() THEN s.claim_expires_at
                         WHEN $2 THEN {ttl4}
                         ELSE s.claim_expires_at END
                 RETURNING next_seq,
                           holder IS NOT DISTINCT FROM $3::text AND claim_expires_at > now(),
                           claim"
            ),
            add_update: format!(
                "INSERT INTO {u} (session_id, seq, attributes, consents)
                 VALUES ($1, $2, $3::text::jsonb, $4::text::jsonb)
                 RETURNING id, (extract(epoch FROM created_at) * 1000)::bigint"
            ),
            mark_delivered: format!(
                "UPDATE {s} s SET delivered_seq = m.seq
                 FROM (SELECT max(seq) AS seq FROM {u} WHERE session_id = $1 AND id = ANY($2)) m
                 WHERE s.session_id = $1 AND m.seq > s.delivered_seq"
            ),
            remove: format!(
                "WITH done AS (DELETE FROM {u} WHERE id = ANY($1) AND state = 'pending'
                               RETURNING session_id, seq), {raise}"
            ),
            dead: format!(
                "WITH done AS (UPDATE {u} SET state = 'dead', reason = $2, attempts = $3,
                                   error_kind = $4, done_at = now()
                               WHERE id = ANY($1) AND state = 'pending'
                               RETURNING session_id, seq), {raise}"
            ),
            stale: format!(
                "WITH done AS (UPDATE {u} SET state = 'stale', reason = 'stale', done_at = now()
                               WHERE id = ANY($1) AND state = 'pending'
                               RETURNING session_id, seq), {raise}"
            ),
            acknowledge: format!("DELETE FROM {u} WHERE id = ANY($1) AND state = 'stale'"),
            release_all: format!(
                "UPDATE {s} SET holder = NULL, claim_expires_at = 'epoch' WHERE holder = $1"
            ),
            // $1 this replica, $2 claims, $3 TTL (ms).
            renew: format!(
                "UPDATE {s} SET claim_expires_at = {ttl3}
                 WHERE holder = $1 AND claim = ANY($2) AND claim_expires_at > now()
                 RETURNING session_id, claim, next_seq",
                ttl3 = ttl(3)
            ),
            check: format!(
                "SELECT session_id, claim, next_seq FROM {s}
                 WHERE holder = $1 AND claim = ANY($2) AND claim_expires_at > now()"
            ),
            // $1 this replica, $2 TTL (ms), $3 how many.
            take_over: format!(
                "WITH picked AS MATERIALIZED (
                     SELECT session_id FROM {s} WHERE claim_expires_at <= now()
                     ORDER BY claim_expires_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 UPDATE {s} s SET holder = $1, claim = nextval('{seq}'),
                     claim_expires_at = {ttl2}
                 FROM picked WHERE s.session_id = picked.session_id
                 RETURNING s.session_id, s.claim",
                ttl2 = ttl(2)
            ),
            sessions: format!(
                "SELECT session_id, claim, next_seq, delivered_seq FROM {s}
                 WHERE holder = $1 AND session_id = ANY($2) AND claim_expires_at > now()"
            ),
            rows: format!(
                "SELECT u.id, u.session_id, u.seq, u.attributes::text, u.consents::text,
                        (extract(epoch FROM u.created_at) * 1000)::bigint,
                        u.created_at < now() - $3::bigint * interval '1 millisecond'
                 FROM {u} u
                 JOIN unnest($1::text[], $2::bigint[]) AS f(session_id, after)
                   ON u.session_id = f.session_id
                 WHERE u.state = 'pending' AND u.seq > f.after
                 ORDER BY u.session_id, u.seq
                 LIMIT $4"
            ),
            release: format!(
                "DELETE FROM {s} s
                 USING unnest($2::text[], $3::bigint[], $4::bigint[]) AS f(session_id, claim, seen)
                 WHERE s.session_id = f.session_id AND s.holder = $1 AND s.claim = f.claim
                   AND s.next_seq = f.seen
                   AND NOT EXISTS (SELECT 1 FROM {u} u
                                   WHERE u.session_id = s.session_id AND u.state = 'pending')
                 RETURNING s.session_id"
            ),
            purge_dead: format!(
                "DELETE FROM {u} WHERE id IN (
                     SELECT id FROM {u}
                     WHERE state = 'dead' AND done_at < now() - $1::bigint * interval '1 millisecond'
                     LIMIT $2)"
            ),
            stale_list: format!(
                "SELECT id, session_id, attributes::text, consents::text,
                        (extract(epoch FROM created_at) * 1000)::bigint
                 FROM {u} WHERE state = 'stale' ORDER BY id LIMIT $1"
            ),
            instance: format!("SELECT value FROM {meta} WHERE key = 'instance'"),
        }
    }
}

/// A claim this replica holds, as it knows it.
#[derive(Debug, Clone)]
struct Claim {
    /// The claim's number in the database.
    token: i64,
    /// When the claim ends at the earliest (measured from before it was asked for).
    deadline: Instant,
    /// The session's updates up to this seq were handled here (queued, synced again,
    /// handed back).
    fed: i64,
    /// The session's `next_seq` last read.
    seen: i64,
    /// Claimed, not loaded yet: rows up to `resync_upto` are synced to the CRM again,
    /// and stale rows before the first fresh one are handed back.
    fresh: bool,
    resync_upto: i64,
    /// The batcher holds nothing of the session (as far as it said).
    idle: bool,
}

impl Claim {
    fn new(token: i64, deadline: Instant) -> Self {
        Claim {
            token,
            deadline,
            fed: 0,
            seen: 0,
            fresh: true,
            resync_upto: 0,
            idle: true,
        }
    }
}

enum Event {
    /// `add` committed an update of a session this replica holds.
    Added {
        session_id: String,
        claim: i64,
        asked: Instant,
        place: Reservation,
    },
    /// The batcher holds nothing more of the session.
    Idle(String),
    /// Answer once what was sent before is in the batcher.
    Settle(oneshot::Sender<()>),
}

/// The claims this replica holds: written by its claimer task, read by the batcher.
struct Claims {
    held: Mutex<HashMap<String, Claim>>,
    send_timeout: Duration,
    events: mpsc::UnboundedSender<Event>,
    consents: Consents,
}

impl SendGate for Claims {
    fn may_send(&self, session_id: &str) -> bool {
        let now = Instant::now();
        lock(&self.held)
            .get(session_id)
            .is_some_and(|c| c.deadline.saturating_duration_since(now) >= self.send_timeout)
    }

    fn idle(&self, session_id: &str) {
        let _ = self.events.send(Event::Idle(session_id.to_owned()));
    }

    fn discarded(&self, update_ids: &[u64]) {
        let mut consents = lock(&self.consents);
        for id in update_ids {
            consents.remove(id);
        }
    }
}

/// The outbox in the service's PostgreSQL.
pub(crate) struct PgOutbox {
    db: Database,
    sql: Arc<Sql>,
    me: Arc<str>,
    options: PostgresOutboxOptions,
    namespace: String,
    claims: Arc<Claims>,
    inbox: Mutex<Option<mpsc::UnboundedReceiver<Event>>>,
    max_pending: usize,
}

impl fmt::Debug for PgOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOutbox")
            .field("db", &self.db)
            .field("replica", &self.me)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `fut`, or a retryable storage error when it takes longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| Err(no_answer(what)))
}

impl PgOutbox {
    /// Migrates the tables and reads the outbox's id; nothing is claimed yet.
    pub(crate) async fn open(
        db: Database,
        options: PostgresOutboxOptions,
        batching: &BatcherOptions,
        consents: Consents,
    ) -> Result<Self, Error> {
        db.migrate().await?;
        let sql = Arc::new(Sql::new(&db));
        let namespace = bounded(options.op_timeout(), "reading the outbox's id", async {
            let client = db.client().await?;
            let row = client
                .query_one(&sql.instance, &[])
                .await
                .map_err(|e| db_error("reading the guest outbox's id", e))?;
            row.try_get::<_, String>(0)
                .map_err(|e| db_error("reading the guest outbox's id", e))
        })
        .await?;
        let (events, inbox) = mpsc::unbounded_channel();
        Ok(PgOutbox {
            db,
            sql,
            me: Arc::from(
                options
                    .replica
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            namespace: format!("pg:{namespace}"),
            claims: Arc::new(Claims {
                held: Mutex::default(),
                send_timeout: batching.send_timeout(),
                events,
                consents,
            }),
            inbox: Mutex::new(Some(inbox)),
            max_pending: batching.max_pending(),
            options,
        })
    }

    /// Runs `statement` with `params` (an `execute`), bounded.
    async fn execute(
        &self,
        what: &'static str,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, Error> {
        bounded(self.options.op_timeout(), what, async {
            let client = self.db.client().await?;
            client
                .execute(statement, params)
                .await
                .map_err(|e| db_error(what, e))
        })
        .await
    }

    async fn insert(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
        want: bool,
    ) -> Result<(StoredUpdate, bool, i64), Error> {
        let what = "storing a guest update";
        let (attributes_json, consents_json) = (encode(attributes)?, encode(consents)?);
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(|e| db_error(what, e))?;
        let me: &str = &self.me;
        let session = tx
            .query_one(
                &self.sql.add_session,
                &[&session_id, &want, &me, &millis(self.options.claim_ttl)],
            )
            .await
            .map_err(|e| db_error(what, e))?;
        let seq: i64 = session.try_get(0).map_err(|e| db_error(what, e))?;
        let mine: bool = session.try_get(1).map_err(|e| db_error(what, e))?;
        let claim: i64 = session.try_get(2).map_err(|e| db_error(what, e))?;
        let row = tx
            .query_one(
                &self.sql.add_update,
                &[&session_id, &seq, &attributes_json, &consents_json],
            )
            .await
            .map_err(|e| db_error(what, e))?;
        let id: i64 = row.try_get(0).map_err(|e| db_error(what, e))?;
        let added_at_ms: i64 = row.try_get(1).map_err(|e| db_error(what, e))?;
        tx.commit().await.map_err(|e| db_error(what, e))?;
        let update = StoredUpdate {
            id: row_id(id),
            session_id: session_id.to_owned(),
            attributes: attributes.clone(),
            consents: consents.clone(),
            added_at_ms,
        };
        Ok((update, mine, claim))
    }

    /// Every stale update not acknowledged yet, oldest first, at most `max_pending`.
    async fn stale_updates(&self) -> Result<Vec<StoredUpdate>, Error> {
        let what = "reading stale guest updates";
        let limit = i64::try_from(self.max_pending).unwrap_or(i64::MAX);
        bounded(self.options.op_timeout(), what, async {
            let client = self.db.client().await?;
            let rows = client
                .query(&self.sql.stale_list, &[&limit])
                .await
                .map_err(|e| db_error(what, e))?;
            rows.iter()
                .map(|row| {
                    let get = |e| db_error(what, e);
                    Ok(StoredUpdate {
                        id: row_id(row.try_get(0).map_err(get)?),
                        session_id: row.try_get(1).map_err(get)?,
                        attributes: decode(row.try_get::<_, &str>(2).map_err(get)?)?,
                        consents: decode(row.try_get::<_, &str>(3).map_err(get)?)?,
                        added_at_ms: row.try_get(4).map_err(get)?,
                    })
                })
                .collect()
        })
        .await
    }
}

#[async_trait]
impl Store for PgOutbox {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    fn gate(&self) -> Option<Arc<dyn SendGate>> {
        Some(self.claims.clone())
    }

    async fn start(
        self: Arc<Self>,
        staleness: Duration,
        feeder: Feeder,
    ) -> Result<(Replay, Option<Background>), Error> {
        let inbox = lock(&self.inbox)
            .take()
            .ok_or_else(|| Error::closed("the guest outbox (started twice)"))?;
        let mut claimer = Claimer {
            db: self.db.clone(),
            sql: self.sql.clone(),
            me: self.me.clone(),
            options: self.options.clone(),
            staleness,
            claims: self.claims.clone(),
            feeder,
            dirty: BTreeSet::new(),
            spare: Vec::new(),
        };
        // The first round, before `start` returns: what expired claims left is taken over
        // and queued (or handed back) now.
        let first = claimer.round(Work::start()).await?;
        let stale = self.stale_updates().await?;
        let mut replay = Replay::new(first.fed, stale, self.clone());
        replay.deferred = first.deferred;
        let task = tokio::spawn(claimer.run(inbox));
        Ok((replay, Some(Background::new(task))))
    }

    async fn accept(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
        place: Reservation,
        _feeder: &Feeder,
    ) -> Result<u64, Error> {
        let want = {
            let held = lock(&self.claims.held);
            held.contains_key(session_id) || held.len() < self.options.max_sessions
        };
        let asked = Instant::now();
        let (update, mine, claim) = bounded(
            self.options.op_timeout(),
            "storing a guest update",
            self.insert(session_id, attributes, consents, want),
        )
        .await?;
        if mine {
            // Committed: the claimer queues it (with whatever other replicas added before).
            let _ = self.claims.events.send(Event::Added {
                session_id: session_id.to_owned(),
                claim,
                asked,
                place,
            });
        }
        // Otherwise the place is freed here: the session's holder sends it.
        Ok(update.id)
    }

    async fn settle(&self) {
        let (done, wait) = oneshot::channel();
        if self.claims.events.send(Event::Settle(done)).is_ok() {
            let _ = wait.await;
        }
    }

    async fn delivered(&self, session_id: &str, update_ids: &[u64]) -> Result<(), Error> {
        let ids = db_ids(update_ids);
        self.execute(
            "marking guest updates delivered",
            &self.sql.mark_delivered,
            &[&session_id, &ids],
        )
        .await
        .map(|_| ())
    }

    async fn remove(&self, update_ids: &[u64]) -> Result<(), Error> {
        let ids = db_ids(update_ids);
        self.execute(
            "removing delivered guest updates",
            &self.sql.remove,
            &[&ids],
        )
        .await
        .map(|_| ())
    }

    async fn dead(&self, letter: &DeadLetter) -> Result<(), Error> {
        let ids = db_ids(&letter.update_ids);
        let reason = letter.reason.as_str();
        let attempts = i32::try_from(letter.attempts).unwrap_or(i32::MAX);
        let kind = letter.error.as_ref().map(|e| e.kind().to_string());
        self.execute(
            "recording dead-lettered guest updates",
            &self.sql.dead,
            &[&ids, &reason, &attempts, &kind],
        )
        .await
        .map(|_| ())
    }

    async fn acknowledge(&self, update_ids: &[u64]) -> Result<(), Error> {
        let ids = db_ids(update_ids);
        self.execute(
            "removing acknowledged stale guest updates",
            &self.sql.acknowledge,
            &[&ids],
        )
        .await
        .map(|_| ())
    }

    async fn stop(&self) -> Result<(), Error> {
        lock(&self.claims.held).clear();
        let me: &str = &self.me;
        self.execute(
            "releasing guest session claims",
            &self.sql.release_all,
            &[&me],
        )
        .await
        .map(|_| ())
    }
}

/// What a round of the claimer does besides loading what it was told about.
#[derive(Debug, Clone, Copy, Default)]
struct Work {
    /// Look for sessions to take over and to release, and for new rows of held ones.
    sweep: bool,
    /// Renew the claims held.
    renew: bool,
    /// The first round, at start: stale updates are reported by `start`, not here.
    quiet: bool,
}

impl Work {
    fn start() -> Self {
        Work {
            sweep: true,
            renew: false,
            quiet: true,
        }
    }
}

/// What a round queued, and what it could not for want of places.
#[derive(Debug, Default)]
struct Report {
    fed: Vec<StoredUpdate>,
    deferred: Vec<StoredUpdate>,
}

/// One row read for a session this replica holds.
struct Row {
    update: StoredUpdate,
    seq: i64,
    stale: bool,
}

/// The replica's one background task: takes claims over, renews them, loads what the
/// sessions it holds have pending into the batcher, and releases what is done.
struct Claimer {
    db: Database,
    sql: Arc<Sql>,
    me: Arc<str>,
    options: PostgresOutboxOptions,
    staleness: Duration,
    claims: Arc<Claims>,
    feeder: Feeder,
    /// Held sessions with rows to load.
    dirty: BTreeSet<String>,
    /// Places `add` took for updates this round loads.
    spare: Vec<Reservation>,
}

async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

impl Claimer {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Event>) {
        let mut sweep = tokio::time::interval(self.options.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        sweep.tick().await; // the first round ran at start
        let renew_every = self.options.claim_ttl / 3;
        let mut renew =
            tokio::time::interval_at(tokio::time::Instant::now() + renew_every, renew_every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut settles = Vec::new();
        loop {
            let mut work = Work::default();
            let expiry = lock(&self.claims.held).values().map(|c| c.deadline).min();
            tokio::select! {
                event = inbox.recv() => match event {
                    Some(event) => self.take(event, &mut settles),
                    None => return,
                },
                _ = sweep.tick() => work.sweep = true,
                _ = renew.tick() => work.renew = true,
                () = sleep_until_or_never(expiry) => {}
            }
            while let Ok(event) = inbox.try_recv() {
                self.take(event, &mut settles);
            }
            if let Err(err) = self.round(work).await {
                self.feeder
                    .client
                    .metrics()
                    .counter("guests.outbox_errors")
                    .inc();
                tracing::warn!(error = %err, "the guest outbox could not reach PostgreSQL; delivery resumes once it can");
            }
            for done in settles.drain(..) {
                let _ = done.send(());
            }
        }
    }

    fn take(&mut self, event: Event, settles: &mut Vec<oneshot::Sender<()>>) {
        match event {
            Event::Added {
                session_id,
                claim,
                asked,
                place,
            } => {
                self.spare.push(place);
                let deadline = asked + self.options.claim_ttl;
                let known = lock(&self.claims.held).get(&session_id).map(|c| c.token);
                match known {
                    Some(token) if token == claim => {
                        if let Some(c) = lock(&self.claims.held).get_mut(&session_id) {
                            c.deadline = c.deadline.max(deadline);
                        }
                    }
                    // An event of an older claim than the one held now.
                    Some(token) if token > claim => {}
                    known => {
                        if known.is_some() {
                            self.lose(&session_id);
                        }
                        lock(&self.claims.held)
                            .insert(session_id.clone(), Claim::new(claim, deadline));
                    }
                }
                self.dirty.insert(session_id);
            }
            Event::Idle(session_id) => {
                if let Some(c) = lock(&self.claims.held).get_mut(&session_id) {
                    c.idle = true;
                }
            }
            Event::Settle(done) => settles.push(done),
        }
    }

    /// This replica no longer holds `session_id`: what the batcher has of it is dropped
    /// (its rows stay for the next holder).
    fn lose(&mut self, session_id: &str) {
        lock(&self.claims.held).remove(session_id);
        self.dirty.remove(session_id);
        self.feeder.batcher.purge(session_id);
    }

    async fn round(&mut self, work: Work) -> Result<Report, Error> {
        let limit = self.options.op_timeout();
        let result = async {
            self.expire();
            if work.renew || work.sweep {
                bounded(
                    limit,
                    "renewing guest session claims",
                    self.check(work.renew),
                )
                .await?;
            }
            if work.sweep {
                bounded(limit, "claiming guest sessions", self.take_over()).await?;
                bounded(limit, "deleting old dead letters", self.purge_dead()).await?;
            }
            let report = bounded(limit, "loading guest updates", self.load(work.quiet)).await?;
            if work.sweep {
                bounded(limit, "releasing guest sessions", self.release()).await?;
            }
            Ok(report)
        }
        .await;
        self.spare.clear();
        // Claims may have been renewed or taken: sessions held back may go now.
        self.feeder.batcher.wake();
        result
    }

    /// Claims whose end passed without a renewal are lost here (the database may still
    /// name this replica; a sweep takes them again with a new claim).
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<String> = lock(&self.claims.held)
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(s, _)| s.clone())
            .collect();
        for session_id in expired {
            self.lose(&session_id);
        }
    }

    /// Renews the claims held (or only checks them), and marks the sessions that other
    /// replicas added updates to.
    async fn check(&mut self, renew: bool) -> Result<(), Error> {
        let tokens: Vec<i64> = lock(&self.claims.held).values().map(|c| c.token).collect();
        if tokens.is_empty() {
            return Ok(());
        }
        let what = "renewing guest session claims";
        let me: &str = &self.me;
        let asked = Instant::now();
        let client = self.db.client().await?;
        let rows = if renew {
            client
                .query(
                    &self.sql.renew,
                    &[&me, &tokens, &millis(self.options.claim_ttl)],
                )
                .await
        } else {
            client.query(&self.sql.check, &[&me, &tokens]).await
        }
        .map_err(|e| db_error(what, e))?;
        let mut alive = HashMap::new();
        for row in &rows {
            let session_id: String = row.try_get(0).map_err(|e| db_error(what, e))?;
            let claim: i64 = row.try_get(1).map_err(|e| db_error(what, e))?;
            let next_seq: i64 = row.try_get(2).map_err(|e| db_error(what, e))?;
            alive.insert(session_id, (claim, next_seq));
        }
        let checked: BTreeSet<i64> = tokens.into_iter().collect();
        let mut lost = Vec::new();
        {
            let mut held = lock(&self.claims.held);
            for (session_id, c) in held.iter_mut() {
                if !checked.contains(&c.token) {
                    continue; // claimed during this call
                }
                match alive.get(session_id) {
                    Some(&(claim, next_seq)) if claim == c.token => {
                        if renew {
                            c.deadline = asked + self.options.claim_ttl;
                        }
                        if next_seq > c.seen.max(c.fed) {
                            self.dirty.insert(session_id.clone());
                        }
                    }
                    _ => lost.push(session_id.clone()),
                }
            }
        }
        for session_id in lost {
            self.lose(&session_id);
        }
        Ok(())
    }

    /// Claims sessions whose claim expired, as many as this replica may still hold.
    async fn take_over(&mut self) -> Result<(), Error> {
        let held = lock(&self.claims.held).len();
        let room = self
            .options
            .max_sessions
            .saturating_sub(held)
            .min(self.options.sweep_batch);
        if room == 0 {
            return Ok(());
        }
        let what = "claiming guest sessions";
        let me: &str = &self.me;
        let room = i64::try_from(room).unwrap_or(i64::MAX);
        let asked = Instant::now();
        let client = self.db.client().await?;
        let rows = client
            .query(
                &self.sql.take_over,
                &[&me, &millis(self.options.claim_ttl), &room],
            )
            .await
            .map_err(|e| db_error(what, e))?;
        for row in &rows {
            let session_id: String = row.try_get(0).map_err(|e| db_error(what, e))?;
            let claim: i64 = row.try_get(1).map_err(|e| db_error(what, e))?;
            if lock(&self.claims.held).contains_key(&session_id) {
                self.lose(&session_id);
            }
            lock(&self.claims.held).insert(
                session_id.clone(),
                Claim::new(claim, asked + self.options.claim_ttl),
            );
            self.dirty.insert(session_id);
        }
        if !rows.is_empty() {
            tracing::debug!(sessions = rows.len(), "guest sessions taken over");
        }
        Ok(())
    }

    async fn purge_dead(&mut self) -> Result<(), Error> {
        let what = "deleting old dead letters";
        let retention = millis(self.options.dead_letter_retention);
        let batch = i64::try_from(self.options.sweep_batch).unwrap_or(i64::MAX);
        let client = self.db.client().await?;
        client
            .execute(&self.sql.purge_dead, &[&retention, &batch])
            .await
            .map_err(|e| db_error(what, e))?;
        Ok(())
    }

    /// Loads what the dirty sessions have pending, in each session's order: queued in
    /// the batcher as far as it has places; for a session just claimed, rows already
    /// delivered are synced to the CRM again and stale ones handed back.
    async fn load(&mut self, quiet: bool) -> Result<Report, Error> {
        let what = "loading guest updates";
        let mut report = Report::default();
        let sessions: Vec<String> = self
            .dirty
            .iter()
            .take(self.options.sweep_batch)
            .cloned()
            .collect();
        if sessions.is_empty() {
            return Ok(report);
        }
        let me: &str = &self.me;
        let client = self.db.client().await?;
        let found = client
            .query(&self.sql.sessions, &[&me, &sessions])
            .await
            .map_err(|e| db_error(what, e))?;
        let mut state = HashMap::new();
        for row in &found {
            let session_id: String = row.try_get(0).map_err(|e| db_error(what, e))?;
            let claim: i64 = row.try_get(1).map_err(|e| db_error(what, e))?;
            let next_seq: i64 = row.try_get(2).map_err(|e| db_error(what, e))?;
            let delivered_seq: i64 = row.try_get(3).map_err(|e| db_error(what, e))?;
            state.insert(session_id, (claim, next_seq, delivered_seq));
        }
        // Which sessions to read, from where.
        let mut reading = Vec::new();
        let mut lost = Vec::new();
        {
            let mut held = lock(&self.claims.held);
            for session_id in &sessions {
                let Some(c) = held.get_mut(session_id) else {
                    self.dirty.remove(session_id);
                    continue;
                };
                match state.get(session_id) {
                    Some(&(claim, next_seq, delivered_seq)) if claim == c.token => {
                        c.seen = c.seen.max(next_seq);
                        if c.fresh {
                            c.resync_upto = delivered_seq;
                        }
                        reading.push((session_id.clone(), c.fed));
                    }
                    // Claimed again by an `add` here whose event comes next.
                    Some(&(claim, _, _)) if claim > c.token => {}
                    _ => lost.push(session_id.clone()),
                }
            }
        }
        for session_id in lost {
            self.lose(&session_id);
        }
        if reading.is_empty() {
            return Ok(report);
        }
        let capacity = self.spare.len() + self.feeder.batcher.available();
        let limit = capacity + self.options.sweep_batch;
        let (names, afters): (Vec<String>, Vec<i64>) = reading.iter().cloned().unzip();
        let rows = client
            .query(
                &self.sql.rows,
                &[
                    &names,
                    &afters,
                    &millis(self.staleness),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(|e| db_error(what, e))?;
        let truncated = rows.len() >= limit;
        let mut by_session: BTreeMap<String, Vec<Row>> = BTreeMap::new();
        let mut last_session = None;
        for row in &rows {
            let get = |e| db_error(what, e);
            let session_id: String = row.try_get(1).map_err(get)?;
            let update = StoredUpdate {
                id: row_id(row.try_get(0).map_err(get)?),
                session_id: session_id.clone(),
                attributes: decode(row.try_get::<_, &str>(3).map_err(get)?)?,
                consents: decode(row.try_get::<_, &str>(4).map_err(get)?)?,
                added_at_ms: row.try_get(5).map_err(get)?,
            };
            let seq: i64 = row.try_get(2).map_err(get)?;
            let stale: bool = row.try_get(6).map_err(get)?;
            last_session = Some(session_id.clone());
            by_session
                .entry(session_id)
                .or_default()
                .push(Row { update, seq, stale });
        }
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut stale = Vec::new();
        let mut resync = Vec::new();
        let mut full = false;
        for (session_id, _) in &reading {
            let rows = by_session.remove(session_id).unwrap_or_default();
            let Some(mut c) = lock(&self.claims.held).get(session_id).cloned() else {
                continue;
            };
            let mut stopped = full;
            let mut synced = Vec::new();
            for row in rows {
                if stopped {
                    report.deferred.push(row.update);
                    continue;
                }
                if c.fresh && row.seq <= c.resync_upto {
                    c.fed = c.fed.max(row.seq);
                    synced.push(row.update);
                    continue;
                }
                if c.fresh && row.stale {
                    c.fed = c.fed.max(row.seq);
                    stale.push(row.update);
                    continue;
                }
                // From the first update young enough, every later one is sent.
                c.fresh = false;
                let place = self
                    .spare
                    .pop()
                    .or_else(|| self.feeder.batcher.try_reserve());
                let Some(place) = place else {
                    stopped = true;
                    full = true;
                    report.deferred.push(row.update);
                    continue;
                };
                let age = Duration::from_millis(
                    u64::try_from(now_ms.saturating_sub(row.update.added_at_ms)).unwrap_or(0),
                );
                let added = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                if self.feeder.feed(place, &row.update, added).is_err() {
                    // The batcher stopped (shutdown): the row stays for the next holder.
                    stopped = true;
                    full = true;
                    report.deferred.push(row.update);
                    continue;
                }
                c.fed = c.fed.max(row.seq);
                c.idle = false;
                report.fed.push(row.update);
            }
            let cut_short = truncated && last_session.as_ref() == Some(session_id);
            let complete = !(stopped || cut_short);
            if complete {
                c.fed = c.fed.max(c.seen);
                c.fresh = false;
                self.dirty.remove(session_id);
            }
            if !synced.is_empty() {
                resync.push((session_id.clone(), synced));
            }
            if let Some(held) = lock(&self.claims.held).get_mut(session_id) {
                if held.token == c.token {
                    *held = c;
                }
            }
        }
        drop(client);
        if !stale.is_empty() {
            self.hand_back(&stale, quiet).await?;
        }
        for (session_id, updates) in resync {
            self.sync_again(&session_id, updates).await;
        }
        Ok(report)
    }

    /// Marks updates too old to send as stale (handed back at the next start).
    async fn hand_back(&self, stale: &[StoredUpdate], quiet: bool) -> Result<(), Error> {
        let what = "handing back stale guest updates";
        let ids: Vec<i64> = stale
            .iter()
            .map(|u| i64::try_from(u.id).unwrap_or(i64::MAX))
            .collect();
        let client = self.db.client().await?;
        client
            .execute(&self.sql.stale, &[&ids])
            .await
            .map_err(|e| db_error(what, e))?;
        if quiet {
            return Ok(());
        }
        let client_handle = &self.feeder.client;
        client_handle
            .metrics()
            .counter("guests.stale_updates")
            .add(stale.len() as u64);
        let mut keys: Vec<String> = stale
            .iter()
            .flat_map(|u| u.attributes.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
        client_handle.audit(
            AuditRecord::new("guests.stale_updates", AuditOutcome::Failure)
                .count(stale.len() as u64)
                .keys(keys),
        );
        tracing::warn!(
            count = stale.len(),
            "stale guest attribute updates found taking sessions over; handed back at the next start"
        );
        Ok(())
    }

    /// Updates the platform accepted whose CRM sync did not end (their sender stopped):
    /// synced again, then removed (the delivery hook does both).
    async fn sync_again(&self, session_id: &str, updates: Vec<StoredUpdate>) {
        let mut attributes = BTreeMap::new();
        let mut ids = Vec::with_capacity(updates.len());
        {
            let mut consents = lock(&self.feeder.consents);
            for update in updates {
                attributes.extend(update.attributes);
                consents.insert(update.id, update.consents);
                ids.push(update.id);
            }
        }
        self.feeder
            .hook
            .delivered(session_id, &attributes, &ids, Instant::now())
            .await;
    }

    /// Releases the idle sessions whose updates have all left: their rows are deleted, so
    /// that the next `add` anywhere claims them afresh.
    async fn release(&mut self) -> Result<(), Error> {
        let candidates: Vec<(String, i64, i64)> = {
            let held = lock(&self.claims.held);
            held.iter()
                .filter(|(s, c)| c.idle && !c.fresh && c.fed >= c.seen && !self.dirty.contains(*s))
                .take(self.options.sweep_batch)
                .map(|(s, c)| (s.clone(), c.token, c.seen))
                .collect()
        };
        if candidates.is_empty() {
            return Ok(());
        }
        let what = "releasing guest sessions";
        let me: &str = &self.me;
        let names: Vec<&str> = candidates.iter().map(|(s, _, _)| s.as_str()).collect();
        let tokens: Vec<i64> = candidates.iter().map(|(_, t, _)| *t).collect();
        let seen: Vec<i64> = candidates.iter().map(|(_, _, n)| *n).collect();
        let client = self.db.client().await?;
        let rows = client
            .query(&self.sql.release, &[&me, &names, &tokens, &seen])
            .await
            .map_err(|e| db_error(what, e))?;
        let mut held = lock(&self.claims.held);
        for row in &rows {
            let session_id: String = row.try_get(0).map_err(|e| db_error(what, e))?;
            held.remove(&session_id);
        }
        Ok(())
    }
}
