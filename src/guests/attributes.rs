//! The guest attribute pipeline: validate, persist, batch, send, then sync the CRM.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;
use tokio::task::JoinSet;

use super::store::{lock, Background, Consents, Feeder, Store};
use super::{
    AttributeBatcher, AttributeSink, BatcherOptions, CheckedAttributes, DeadLetter, DeadLetters,
    DeliveryHook, GuestPolicy, Outbox, Replay, DEFAULT_STALENESS,
};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::observe::{AuditOutcome, AuditRecord};
use crate::validation::{ValidationError, Violations};
use crate::webhook::WebhookSender;

/// CRM deliveries running at once by default.
pub const DEFAULT_CRM_IN_FLIGHT: usize = 64;

/// How long `shutdown` waits for running CRM deliveries by default.
pub const DEFAULT_CRM_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where accepted updates are kept until delivered.
enum OutboxChoice {
    /// A redb file: one process.
    File(PathBuf),
    /// The service's PostgreSQL: every replica of the service.
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Database, super::PostgresOutboxOptions),
}

impl std::fmt::Debug for OutboxChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboxChoice::File(path) => f.debug_tuple("File").field(path).finish(),
            #[cfg(feature = "postgres")]
            OutboxChoice::Postgres(db, options) => {
                f.debug_tuple("Postgres").field(db).field(options).finish()
            }
        }
    }
}

/// Configures [`GuestAttributes`].
#[must_use]
pub struct GuestAttributesBuilder {
    client: Client,
    sink: Arc<dyn AttributeSink>,
    policy: GuestPolicy,
    options: BatcherOptions,
    outbox: Option<OutboxChoice>,
    staleness: Duration,
    crm: Option<(String, String)>,
    crm_in_flight: usize,
    crm_drain_timeout: Duration,
}

impl std::fmt::Debug for GuestAttributesBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestAttributesBuilder")
            .field("policy", &self.policy)
            .field("options", &self.options)
            .field("outbox", &self.outbox)
            .field("staleness", &self.staleness)
            .field("crm", &self.crm.is_some())
            .finish_non_exhaustive()
    }
}

impl GuestAttributesBuilder {
    /// The deployment's policy (default: [`GuestPolicy::default`]).
    pub fn policy(mut self, policy: GuestPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Batching, sending and retries (default: [`BatcherOptions::default`]).
    pub fn batching(mut self, options: BatcherOptions) -> Self {
        self.options = options;
        self
    }

    /// Keeps every accepted update (and its consent flags) in a file at `path` until it
    /// was delivered, or handed back to the caller: the embedded outbox, for one process.
    /// Replaces a [`postgres_outbox`](Self::postgres_outbox) chosen before.
    pub fn outbox(mut self, path: impl Into<PathBuf>) -> Self {
        self.outbox = Some(OutboxChoice::File(path.into()));
        self
    }

    /// Keeps every accepted update (and its consent flags) in the service's PostgreSQL,
    /// shared by all its replicas, with the default [`PostgresOutboxOptions`](super::PostgresOutboxOptions):
    /// any replica may `add`, one replica at a time sends a session's updates (it holds
    /// the session's claim), and a stopped replica's sessions are taken over once its
    /// claims expire. See [`postgres_outbox_with`](Self::postgres_outbox_with) and
    /// docs/guests.md ("One replica, or many"). The tables are migrated at `start`.
    /// Replaces an [`outbox`](Self::outbox) file chosen before.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres_outbox(self, db: crate::postgres::Database) -> Self {
        self.postgres_outbox_with(db, super::PostgresOutboxOptions::default())
    }

    /// Like [`postgres_outbox`](Self::postgres_outbox), with claim, sweep and retention
    /// options of your own (checked at `start` against the batching options: the claim
    /// TTL is at least twice the send timeout).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    pub fn postgres_outbox_with(
        mut self,
        db: crate::postgres::Database,
        options: super::PostgresOutboxOptions,
    ) -> Self {
        self.outbox = Some(OutboxChoice::Postgres(db, options));
        self
    }

    /// Updates older than this at start are handed back instead of sent (default 60 s;
    /// more than zero).
    pub fn staleness(mut self, staleness: Duration) -> Self {
        self.staleness = staleness;
        self
    }

    /// After each delivery, posts `{sessionId, attributes, consentFlags, syncedAt}` to
    /// `url`, signed with `secret` (see [`crate::webhook`]).
    pub fn crm_webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.crm = Some((url.into(), secret.into()));
        self
    }

    /// Bounds the CRM sync: at most `in_flight` deliveries run at once (default
    /// [`DEFAULT_CRM_IN_FLIGHT`]; past it a delivery is dropped, counted in
    /// `guests.crm_dropped` and audited), and `shutdown` waits at most `drain_timeout`
    /// for those running (default [`DEFAULT_CRM_DRAIN_TIMEOUT`]). Both more than zero.
    pub fn crm_limits(mut self, in_flight: usize, drain_timeout: Duration) -> Self {
        self.crm_in_flight = in_flight;
        self.crm_drain_timeout = drain_timeout;
        self
    }

    /// Starts the batcher; with an outbox, queues again what a previous run left: the
    /// [`Replay`] lists what was queued, what was too old (handed back, not sent) and what
    /// did not fit.
    ///
    /// Register the sessions (or participants) the outbox may hold with the sink before
    /// `start`: an update for a session the sink does not know is dead-lettered. With the
    /// PostgreSQL outbox, any replica may send any session: every replica's sink must know
    /// every session (register them on each, or use a sink of your own that looks the
    /// destination up).
    pub async fn start(self) -> Result<(GuestAttributes, Option<Replay>), Error> {
        let mut v = Violations::default();
        if let Err(policy) = self.policy.validate() {
            v.extend(policy);
        }
        v.check(
            !self.staleness.is_zero(),
            "staleness",
            "positive",
            "`staleness` must be more than zero",
        );
        v.check(
            self.crm_in_flight >= 1,
            "crmInFlight",
            "min",
            "at least one CRM delivery must be allowed to run",
        );
        v.check(
            !self.crm_drain_timeout.is_zero(),
            "crmDrainTimeout",
            "positive",
            "`crmDrainTimeout` must be more than zero",
        );
        #[cfg(feature = "postgres")]
        if let Some(OutboxChoice::Postgres(_, options)) = &self.outbox {
            options.check_against(&self.options, &mut v);
        }
        v.finish()?;
        let consents: Consents = Arc::default();
        let outbox: Option<Arc<dyn Store>> = match &self.outbox {
            None => None,
            Some(OutboxChoice::File(path)) => Some(Arc::new(Outbox::open(path)?)),
            #[cfg(feature = "postgres")]
            Some(OutboxChoice::Postgres(db, options)) => Some(Arc::new(
                super::pg_outbox::PgOutbox::open(
                    db.clone(),
                    options.clone(),
                    &self.options,
                    consents.clone(),
                )
                .await?,
            )),
        };
        let crm = match &self.crm {
            Some((url, secret)) => Some(Arc::new(CrmSync {
                sender: Arc::new(WebhookSender::new(
                    self.client.clone(),
                    "crm",
                    url,
                    secret.clone(),
                )?),
                tasks: Mutex::new(JoinSet::new()),
                max_in_flight: self.crm_in_flight,
            })),
            None => None,
        };
        // Names this outbox (or, without one, this run) in CRM dedupe keys.
        let namespace: Arc<str> = match &outbox {
            Some(outbox) => Arc::from(outbox.namespace()),
            None => Arc::from(uuid::Uuid::new_v4().to_string()),
        };
        let hook = Arc::new(Delivered {
            client: self.client.clone(),
            outbox: outbox.clone(),
            crm: crm.clone(),
            consents: consents.clone(),
            namespace,
        });
        let batcher = AttributeBatcher::start_inner(
            self.sink.clone(),
            self.options,
            self.client.metrics().clone(),
            Some(hook.clone()),
            outbox.is_some(),
            outbox.as_ref().and_then(|o| o.gate()),
        );
        let feeder = Feeder {
            batcher: batcher.handle(),
            consents: consents.clone(),
            hook,
            client: self.client.clone(),
        };
        let mut replay = None;
        let mut background = None;
        if let Some(outbox) = &outbox {
            let (found, work) = outbox.clone().start(self.staleness, feeder.clone()).await?;
            background = work;
            let metrics = self.client.metrics();
            if !found.deferred.is_empty() {
                metrics
                    .counter("guests.replay_deferred")
                    .add(found.deferred.len() as u64);
                tracing::warn!(
                    count = found.deferred.len(),
                    "outbox updates beyond the pending bound stay in the outbox for the next start"
                );
            }
            if !found.stale.is_empty() {
                metrics
                    .counter("guests.stale_updates")
                    .add(found.stale.len() as u64);
                let mut keys: Vec<String> = found
                    .stale
                    .iter()
                    .flat_map(|u| u.attributes.keys().cloned())
                    .collect();
                keys.sort();
                keys.dedup();
                self.client.audit(
                    AuditRecord::new("guests.stale_updates", AuditOutcome::Failure)
                        .count(found.stale.len() as u64)
                        .keys(keys),
                );
            }
            replay = Some(found);
        }
        Ok((
            GuestAttributes {
                client: self.client,
                policy: self.policy,
                outbox,
                background,
                batcher,
                feeder,
                sink: self.sink,
                next_local_id: AtomicU64::new(1),
                crm,
                crm_drain_timeout: self.crm_drain_timeout,
            },
            replay,
        ))
    }
}

/// Validated, durable, batched guest attribute updates, synced to a CRM.
///
/// `add` checks the update against the [`GuestPolicy`] (PII, consent, limits), takes a
/// place in the batcher (failing at once with
/// [`ErrorKind::LocalLimit`](crate::ErrorKind::LocalLimit) when it is full, before
/// anything is stored), writes the update and its consents to the outbox (synced to disk,
/// or committed to PostgreSQL) and queues it. The batcher merges updates per session and sends them through the sink
/// (see [`AttributeBatcher`] for concurrency, retries and dead letters). After a delivery
/// the CRM webhook is posted in a bounded set of background tasks, so a CRM outage never
/// holds up the platform send; the update leaves the outbox once the CRM delivery ended
/// (or at once without a CRM).
///
/// Guarantees: an update `add` accepted is delivered at least once, or handed back in the
/// [`dead_letters`](Self::dead_letters) list (counted, audited with its session and
/// keys), or (with an outbox) still in the outbox for the next start; with an outbox, a
/// crash loses nothing `add` accepted. Per session, updates are sent in order, the last
/// write per key winning. The CRM sees each delivery at least once with the same dedupe
/// key, also when a restart replays it.
///
/// With the PostgreSQL outbox the same holds for the whole service: every replica may
/// `add`, one replica at a time sends a session (it holds the session's claim), a stopped
/// replica's sessions are taken over once its claims expire, and an older update of a
/// session never lands after a newer one, whichever replicas added and sent them. When
/// PostgreSQL is unreachable, `add` fails with a retryable
/// [`ErrorKind::Storage`](crate::ErrorKind::Storage) error and stores nothing.
///
/// Governance metrics: `guests.updates`, `guests.rejected`, `guests.consent_violations`,
/// `guests.pii.<kind>`, `guests.batches`, `guests.coalesced_updates`, `guests.dead_letters`,
/// `guests.crm_failures`, `guests.crm_dropped`, `guests.crm_abandoned`,
/// `guests.outbox_errors` (PostgreSQL), latency
/// `guests.add_to_accept`; audit lines name sessions and keys, never values.
pub struct GuestAttributes {
    client: Client,
    policy: GuestPolicy,
    outbox: Option<Arc<dyn Store>>,
    /// The outbox's background work (PostgreSQL: claims, sweeps), stopped when dropped.
    background: Option<Background>,
    batcher: AttributeBatcher,
    feeder: Feeder,
    sink: Arc<dyn AttributeSink>,
    /// Update ids when there is no outbox.
    next_local_id: AtomicU64,
    crm: Option<Arc<CrmSync>>,
    crm_drain_timeout: Duration,
}

impl std::fmt::Debug for GuestAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestAttributes")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl GuestAttributes {
    /// A builder sending through `sink`.
    pub fn builder(client: Client, sink: Arc<dyn AttributeSink>) -> GuestAttributesBuilder {
        GuestAttributesBuilder {
            client,
            sink,
            policy: GuestPolicy::default(),
            options: BatcherOptions::default(),
            outbox: None,
            staleness: DEFAULT_STALENESS,
            crm: None,
            crm_in_flight: DEFAULT_CRM_IN_FLIGHT,
            crm_drain_timeout: DEFAULT_CRM_DRAIN_TIMEOUT,
        }
    }

    /// Accepts an update for `session_id` (an id of yours for the guest session, never
    /// the guest token): checked, stored with its `consents`, queued. Returns what will
    /// be sent. Never waits for the sink.
    pub async fn add(
        &self,
        session_id: &str,
        attributes: BTreeMap<String, String>,
        consents: BTreeMap<String, bool>,
    ) -> Result<CheckedAttributes, Error> {
        let metrics = self.client.metrics();
        if session_id.trim().is_empty() {
            return Err(
                ValidationError::single("sessionId", "required", "name the guest session").into(),
            );
        }
        let checked = match self.policy.check(&attributes, &consents) {
            Ok(checked) => checked,
            Err(err) => {
                metrics.counter("guests.rejected").inc();
                let consent = err
                    .violations()
                    .iter()
                    .filter(|v| v.rule.starts_with("consent"))
                    .count();
                metrics
                    .counter("guests.consent_violations")
                    .add(consent as u64);
                let pii = err.violations().iter().filter(|v| v.rule == "pii").count();
                metrics.counter("guests.pii_rejections").add(pii as u64);
                let mut record = AuditRecord::new("guests.add", AuditOutcome::Failure)
                    .id("sessionId", session_id)
                    .keys(attributes.keys().cloned());
                record.error = Some(err.to_string());
                self.client.audit(record);
                return Err(err.into());
            }
        };
        for finding in &checked.findings {
            metrics
                .counter(&format!("guests.pii.{}", finding.kind.as_str()))
                .inc();
        }
        // A place first: a full batcher is an error before anything is stored.
        let place = match self.batcher.reserve() {
            Ok(place) => place,
            Err(err) => {
                self.client.audit(
                    AuditRecord::new("guests.add", AuditOutcome::Failure)
                        .id("sessionId", session_id)
                        .keys(checked.attributes.keys().cloned())
                        .error(&err),
                );
                return Err(err);
            }
        };
        let accepted = match &self.outbox {
            Some(outbox) => outbox
                .accept(
                    session_id,
                    &checked.attributes,
                    &consents,
                    place,
                    &self.feeder,
                )
                .await
                .map(|_| ()),
            None => {
                let id = self.next_local_id.fetch_add(1, Ordering::Relaxed);
                lock(&self.feeder.consents).insert(id, consents);
                let queued = place.add(
                    session_id,
                    checked.attributes.clone(),
                    Some(id),
                    Instant::now(),
                );
                if queued.is_err() {
                    lock(&self.feeder.consents).remove(&id);
                }
                queued
            }
        };
        if let Err(err) = accepted {
            self.client.audit(
                AuditRecord::new("guests.add", AuditOutcome::Failure)
                    .id("sessionId", session_id)
                    .keys(checked.attributes.keys().cloned())
                    .error(&err),
            );
            return Err(err);
        }
        self.client.audit(
            AuditRecord::new("guests.add", AuditOutcome::Success)
                .id("sessionId", session_id)
                .keys(checked.attributes.keys().cloned())
                .count(checked.attributes.len() as u64),
        );
        Ok(checked)
    }

    /// Sends everything queued now (see [`AttributeBatcher::flush`]). With the
    /// PostgreSQL outbox: what this replica sends (the sessions whose claims it holds);
    /// updates another replica sends are not waited for.
    pub async fn flush(&self) -> Result<(), Error> {
        if let Some(outbox) = &self.outbox {
            outbox.settle().await;
        }
        self.batcher.flush().await
    }

    /// The updates given up (a shared view that outlives `self`): read or drain it to
    /// resend, store or alert. Each letter was also counted and audited.
    pub fn dead_letters(&self) -> DeadLetters {
        self.batcher.dead_letters()
    }

    /// Done with `session_id`: its pending updates get one last attempt (what still fails
    /// is dead-lettered), then the sink forgets it ([`AttributeSink::forget`]: the web
    /// messaging sink drops the guest's session, closing its socket) and nothing is kept
    /// for it any more.
    ///
    /// With the PostgreSQL outbox this acts on this replica: the last attempt is made
    /// here when this replica sends the session, and only this replica's sink forgets it.
    pub async fn unregister(&self, session_id: &str) -> Result<(), Error> {
        if let Some(outbox) = &self.outbox {
            outbox.settle().await;
        }
        self.batcher.finish_session(session_id).await?;
        self.sink.forget(session_id).await;
        self.client.audit(
            AuditRecord::new("guests.unregister", AuditOutcome::Success)
                .id("sessionId", session_id),
        );
        Ok(())
    }

    /// Sends what is left and stops: the batcher within its `shutdown_timeout`, then the
    /// running CRM deliveries within the CRM drain timeout (those still running then are
    /// aborted, counted in `guests.crm_abandoned` and audited). Errors when something was
    /// left undelivered; with an outbox, those updates stay in it for the next start.
    ///
    /// With the PostgreSQL outbox, this replica's claims are released last, so that
    /// another replica takes over what is left at once (not after the claim TTL).
    pub async fn shutdown(self) -> Result<(), Error> {
        if let Some(outbox) = &self.outbox {
            outbox.settle().await;
        }
        let batched = self.batcher.shutdown().await;
        let abandoned = match &self.crm {
            Some(crm) => crm.drain(self.crm_drain_timeout).await,
            None => 0,
        };
        drop(self.background);
        let released = match &self.outbox {
            Some(outbox) => outbox.stop().await,
            None => Ok(()),
        };
        if abandoned > 0 {
            self.client
                .metrics()
                .counter("guests.crm_abandoned")
                .add(abandoned as u64);
            self.client.audit(
                AuditRecord::new("guests.crm_abandoned", AuditOutcome::Failure)
                    .count(abandoned as u64),
            );
        }
        batched?;
        released?;
        if abandoned > 0 {
            let kept = if self.outbox.is_some() {
                "their updates stay in the outbox and are synced again at the next start"
            } else {
                "they were not synced"
            };
            return Err(Error::custom(
                ErrorKind::Upstream,
                format!("{abandoned} CRM deliveries were still running at the shutdown deadline and were abandoned; {kept}"),
            ));
        }
        Ok(())
    }
}

/// The CRM deliveries in the background: a bounded, tracked set that `shutdown` drains.
struct CrmSync {
    sender: Arc<WebhookSender>,
    tasks: Mutex<JoinSet<()>>,
    max_in_flight: usize,
}

impl CrmSync {
    /// Runs `job` in the set; `false` (and nothing runs) when the set is full.
    fn spawn(&self, job: impl std::future::Future<Output = ()> + Send + 'static) -> bool {
        let mut tasks = lock(&self.tasks);
        while tasks.try_join_next().is_some() {}
        if tasks.len() >= self.max_in_flight {
            return false;
        }
        tasks.spawn(job);
        true
    }

    /// Waits for the running deliveries until `timeout`, then aborts the rest; how many
    /// were aborted.
    async fn drain(&self, timeout: Duration) -> usize {
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) => return 0,
                Err(_) => {
                    let abandoned = tasks.len();
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    return abandoned;
                }
            }
        }
    }
}

struct Delivered {
    client: Client,
    outbox: Option<Arc<dyn Store>>,
    crm: Option<Arc<CrmSync>>,
    consents: Consents,
    namespace: Arc<str>,
}

impl Delivered {
    /// The consent flags given with these updates, merged in their order; forgotten here.
    fn take_consents(&self, ids: &[u64]) -> BTreeMap<String, bool> {
        let mut held = lock(&self.consents);
        let mut merged = BTreeMap::new();
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        for id in ids {
            if let Some(flags) = held.remove(&id) {
                merged.extend(flags);
            }
        }
        merged
    }
}

async fn remove_from_outbox(outbox: Option<&Arc<dyn Store>>, ids: &[u64]) {
    if let Some(outbox) = outbox {
        if let Err(err) = outbox.remove(ids).await {
            // Keeping them only risks a repeat at the next start, never a loss.
            tracing::warn!(error = %err, "could not remove guest updates from the outbox");
        }
    }
}

#[async_trait]
impl DeliveryHook for Delivered {
    async fn delivered(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        update_ids: &[u64],
        _oldest: Instant,
    ) {
        let consents = self.take_consents(update_ids);
        let Some(crm) = &self.crm else {
            return remove_from_outbox(self.outbox.as_ref(), update_ids).await;
        };
        if let Some(outbox) = &self.outbox {
            // The platform has them: a sender taking the session over must not send them
            // again after newer ones (PostgreSQL; the redb file has one sender).
            if let Err(err) = outbox.delivered(session_id, update_ids).await {
                tracing::warn!(error = %err, "could not mark guest updates delivered in the outbox");
            }
        }
        let payload = json!({
            "sessionId": session_id,
            "attributes": attributes,
            "consentFlags": consents,
            "syncedAt": jiff::Timestamp::now().to_string(),
        });
        // The same updates get the same key, also when a restart replays them: the
        // receiver sees the repeat (`syncedAt` is not part of it).
        let key =
            crate::webhook::dedupe_key(&format!("{}|{session_id}|{update_ids:?}", self.namespace));
        let sender = crm.sender.clone();
        let client = self.client.clone();
        let outbox = self.outbox.clone();
        let ids = update_ids.to_vec();
        // In the background: the CRM never holds up the platform send. The updates leave
        // the outbox once the delivery ended, so a crash before replays it.
        let job = async move {
            if sender
                .send("guest.attributes.synced", &key, &payload)
                .await
                .is_err()
            {
                client.metrics().counter("guests.crm_failures").inc();
            }
            remove_from_outbox(outbox.as_ref(), &ids).await;
        };
        if !crm.spawn(job) {
            self.client.metrics().counter("guests.crm_dropped").inc();
            tracing::warn!(
                session_id,
                "too many CRM deliveries running; this one is dropped"
            );
            self.client.audit(
                AuditRecord::new("guests.crm_dropped", AuditOutcome::Failure)
                    .id("sessionId", session_id)
                    .keys(attributes.keys().cloned())
                    .count(update_ids.len() as u64),
            );
            remove_from_outbox(self.outbox.as_ref(), update_ids).await;
        }
    }

    async fn dead_lettered(&self, letter: &DeadLetter) {
        self.take_consents(&letter.update_ids);
        let mut record = AuditRecord::new(
            format!("guests.dead_letter.{}", letter.reason.as_str()),
            AuditOutcome::Failure,
        )
        .id("sessionId", letter.session_id.as_str())
        .keys(letter.attributes.keys().cloned())
        .count(letter.updates as u64);
        if let Some(err) = &letter.error {
            record = record.error(err);
        }
        self.client.audit(record);
        // Handed to the caller in the dead-letter list: out of the outbox (PostgreSQL: kept
        // as dead, with the reason), or every start would send them again.
        if let Some(outbox) = &self.outbox {
            if let Err(err) = outbox.dead(letter).await {
                tracing::warn!(error = %err, "could not record dead-lettered guest updates in the outbox");
            }
        }
    }
}
