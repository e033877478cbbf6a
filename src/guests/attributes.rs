//! The tutorial's injector: validate, persist, batch, send, then sync the CRM.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::json;

use super::{
    AttributeBatcher, AttributeSink, BatcherOptions, CheckedAttributes, DeliveryHook, GuestPolicy,
    Outbox, Replay, DEFAULT_STALENESS,
};
use crate::client::Client;
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord};
use crate::validation::ValidationError;
use crate::webhook::WebhookSender;

type Consents = Arc<Mutex<HashMap<String, BTreeMap<String, bool>>>>;

/// Configures [`GuestAttributes`].
#[must_use]
pub struct GuestAttributesBuilder {
    client: Client,
    sink: Arc<dyn AttributeSink>,
    policy: GuestPolicy,
    options: BatcherOptions,
    outbox: Option<PathBuf>,
    staleness: Duration,
    crm: Option<(String, String)>,
}

impl GuestAttributesBuilder {
    /// The deployment's policy (default: [`GuestPolicy::default`]).
    pub fn policy(mut self, policy: GuestPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Batching (default: 2 s window, batches of 10).
    pub fn batching(mut self, options: BatcherOptions) -> Self {
        self.options = options;
        self
    }

    /// Keeps every accepted update in a file at `path` until the platform accepted it.
    pub fn outbox(mut self, path: impl Into<PathBuf>) -> Self {
        self.outbox = Some(path.into());
        self
    }

    /// Updates older than this at start are handed back instead of sent (default 60 s).
    pub fn staleness(mut self, staleness: Duration) -> Self {
        self.staleness = staleness;
        self
    }

    /// After each successful send, posts `{sessionId, attributes, consentFlags, syncedAt}`
    /// to `url`, signed with `secret` (see [`crate::webhook`]).
    pub fn crm_webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.crm = Some((url.into(), secret.into()));
        self
    }

    /// Starts the batcher; with an outbox, replays what a previous run left (the
    /// [`Replay`] says what was resent and what was too old).
    pub async fn start(self) -> Result<(GuestAttributes, Option<Replay>), Error> {
        let outbox = self.outbox.as_ref().map(Outbox::open).transpose()?;
        let crm = match self.crm {
            Some((url, secret)) => Some(Arc::new(WebhookSender::new(
                self.client.clone(),
                "crm",
                &url,
                secret,
            )?)),
            None => None,
        };
        let consents: Consents = Arc::default();
        let hook = Arc::new(Delivered {
            client: self.client.clone(),
            outbox: outbox.clone(),
            crm,
            consents: consents.clone(),
        });
        let batcher = AttributeBatcher::start_with_hook(
            self.sink,
            self.options,
            self.client.metrics().clone(),
            Some(hook),
        );
        let mut replay = None;
        if let Some(outbox) = &outbox {
            let found = outbox.replay(self.staleness).await?;
            for update in &found.fresh {
                batcher
                    .add_tracked(
                        update.session_id.clone(),
                        update.attributes.clone(),
                        update.id,
                        Instant::now(),
                    )
                    .await?;
            }
            if !found.stale.is_empty() {
                self.client
                    .metrics()
                    .counter("guests.stale_updates")
                    .add(found.stale.len() as u64);
                self.client.audit(
                    AuditRecord::new("guests.stale_updates", AuditOutcome::Failure)
                        .count(found.stale.len() as u64)
                        .keys(found.stale.iter().map(|u| u.session_id.clone())),
                );
            }
            replay = Some(found);
        }
        Ok((
            GuestAttributes {
                client: self.client,
                policy: self.policy,
                outbox,
                batcher,
                consents,
            },
            replay,
        ))
    }
}

/// Validated, durable, batched guest attribute updates, synced to a CRM.
///
/// `add` checks the update against the [`GuestPolicy`] (PII, consent, limits), writes it
/// to the outbox (synced to disk) before it returns, and queues it; the batcher merges
/// updates per session and sends them through the sink; an update leaves the outbox only
/// once the sink accepted it; then the CRM webhook is posted in the background, so a CRM
/// outage never holds up the platform send (its failures are counted and audited).
///
/// Governance metrics: `guests.updates`, `guests.rejected`, `guests.consent_violations`,
/// `guests.pii.<kind>`, `guests.batches`, `guests.coalesced_updates`, latency
/// `guests.add_to_accept`; audit lines name sessions and keys, never values.
pub struct GuestAttributes {
    client: Client,
    policy: GuestPolicy,
    outbox: Option<Outbox>,
    batcher: AttributeBatcher,
    consents: Consents,
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
        }
    }

    /// Accepts an update for `session_id` (an id of yours for the guest session, never
    /// the guest token): checked, stored, queued. Returns what will be sent.
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
        self.consents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(session_id.to_owned())
            .or_default()
            .extend(consents);
        let added = Instant::now();
        match &self.outbox {
            Some(outbox) => {
                let stored = outbox.push(session_id, &checked.attributes).await?;
                self.batcher
                    .add_tracked(session_id, checked.attributes.clone(), stored.id, added)
                    .await?;
            }
            None => {
                self.batcher
                    .add(session_id, checked.attributes.clone())
                    .await?
            }
        }
        self.client.audit(
            AuditRecord::new("guests.add", AuditOutcome::Success)
                .id("sessionId", session_id)
                .keys(checked.attributes.keys().cloned())
                .count(checked.attributes.len() as u64),
        );
        Ok(checked)
    }

    /// Sends everything queued now.
    pub async fn flush(&self) -> Result<(), Error> {
        self.batcher.flush().await
    }

    /// Sends everything queued, then stops. Updates that could not be sent stay in the
    /// outbox (if any) for the next start.
    pub async fn shutdown(self) -> Result<(), Error> {
        self.batcher.shutdown().await
    }
}

struct Delivered {
    client: Client,
    outbox: Option<Outbox>,
    crm: Option<Arc<WebhookSender>>,
    consents: Consents,
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
        if let Some(outbox) = &self.outbox {
            if let Err(err) = outbox.remove(update_ids).await {
                // The update was delivered; keeping it only risks a repeat, never a loss.
                tracing::warn!(error = %err, "could not remove delivered updates from the outbox");
            }
        }
        let Some(crm) = self.crm.clone() else { return };
        let consents = self
            .consents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
            .cloned()
            .unwrap_or_default();
        let payload = json!({
            "sessionId": session_id,
            "attributes": attributes,
            "consentFlags": consents,
            "syncedAt": jiff::Timestamp::now().to_string(),
        });
        let key = crate::webhook::dedupe_key(&format!("{session_id}|{update_ids:?}|{payload}"));
        let client = self.client.clone();
        // In the background: the CRM never holds up the platform send.
        tokio::spawn(async move {
            if crm
                .send("guest.attributes.synced", &key, &payload)
                .await
                .is_err()
            {
                client.metrics().counter("guests.crm_failures").inc();
            }
        });
    }
}
