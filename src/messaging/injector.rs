//! The injector: patch, then follow-up hooks, audit and metrics.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::AttributePatch;
use crate::client::Client;
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord, LatencySummary};

/// What a hook's failure carries.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// A completed injection, as hooks see it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Injection {
    /// The conversation.
    pub conversation_id: String,
    /// The participant.
    pub participant_id: String,
    /// The keys this injection set.
    pub keys: Vec<String>,
    /// Every attribute the platform now holds for the participant.
    pub attributes: BTreeMap<String, String>,
}

/// Work to do after a successful injection (refresh a context, sync a personalization
/// engine ...). Hooks run in the order they were added; a failing hook is logged,
/// audited and counted, and neither stops the hooks after it nor fails the injection.
#[async_trait]
pub trait InjectionHook: Send + Sync {
    /// A short name for logs and audit records.
    fn name(&self) -> &str;

    /// Runs after the platform accepted the patch.
    async fn after_injection(&self, injection: &Injection) -> Result<(), HookError>;
}

/// A hook from a name and an async closure:
///
/// ```
/// use genesys_cloud::messaging::{hook_fn, Injection};
///
/// let refresh = hook_fn("context_refresh", |injection: Injection| async move {
///     println!("refreshing context of {}", injection.participant_id);
///     Ok(())
/// });
/// ```
pub fn hook_fn<F, Fut>(name: impl Into<String>, f: F) -> impl InjectionHook
where
    F: Fn(Injection) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HookError>> + Send,
{
    FnHook {
        name: name.into(),
        f,
    }
}

struct FnHook<F> {
    name: String,
    f: F,
}

#[async_trait]
impl<F, Fut> InjectionHook for FnHook<F>
where
    F: Fn(Injection) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HookError>> + Send,
{
    fn name(&self) -> &str {
        &self.name
    }

    async fn after_injection(&self, injection: &Injection) -> Result<(), HookError> {
        (self.f)(injection.clone()).await
    }
}

/// A hook that failed during an injection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookFailure {
    /// The hook's name.
    pub hook: String,
    /// Its error, as text.
    pub error: String,
}

/// The outcome of a successful injection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InjectionReport {
    /// Every attribute the platform now holds for the participant.
    pub attributes: BTreeMap<String, String>,
    /// Hooks that failed (the injection itself succeeded).
    pub hook_failures: Vec<HookFailure>,
    /// Time from the start of the patch to the end of the last hook.
    pub latency: Duration,
}

/// Injection figures from the client's metrics registry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InjectionStats {
    /// Injections attempted.
    pub injections: u64,
    /// Injections the platform accepted.
    pub succeeded: u64,
    /// Injections that failed.
    pub failed: u64,
    /// Hook runs that failed.
    pub hook_failures: u64,
    /// `succeeded / injections`; `None` before the first injection.
    pub availability_rate: Option<f64>,
    /// Latency of successful injections (patch and hooks).
    pub latency: LatencySummary,
}

mod names {
    pub const INJECTIONS: &str = "messaging.injections";
    pub const SUCCEEDED: &str = "messaging.injections_succeeded";
    pub const FAILED: &str = "messaging.injections_failed";
    pub const HOOK_FAILURES: &str = "messaging.hook_failures";
    pub const LATENCY: &str = "messaging.inject";
}

/// Patches participant attributes, then runs post-success hooks in order, writes one
/// audit record per injection (ids, keys, count, status, latency; never values) and
/// keeps availability and latency figures in the client's metrics.
///
/// ```no_run
/// use genesys_cloud::messaging::{hook_fn, AttributeInjector, Injection};
///
/// # async fn run(client: genesys_cloud::Client, patch: genesys_cloud::messaging::AttributePatch) -> Result<(), genesys_cloud::Error> {
/// let injector = AttributeInjector::new(client)
///     .hook(hook_fn("personalization_sync", |i: Injection| async move {
///         println!("syncing {} attributes", i.attributes.len());
///         Ok(())
///     }));
/// let report = injector
///     .inject("0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b", "5f2c1d3e-4b6a-4c8d-9e0f-1a2b3c4d5e6f", &patch)
///     .await?;
/// println!("{} hooks failed; availability {:?}", report.hook_failures.len(), injector.stats().availability_rate);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AttributeInjector {
    client: Client,
    hooks: Vec<Arc<dyn InjectionHook>>,
}

impl fmt::Debug for AttributeInjector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hooks: Vec<&str> = self.hooks.iter().map(|h| h.name()).collect();
        f.debug_struct("AttributeInjector")
            .field("hooks", &hooks)
            .finish_non_exhaustive()
    }
}

impl AttributeInjector {
    /// An injector with no hooks.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            hooks: Vec::new(),
        }
    }

    /// Adds a hook, run after those added before it.
    pub fn hook(mut self, hook: impl InjectionHook + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Patches the participant, then runs the hooks.
    ///
    /// Fails only when the patch fails; hook failures are in the report.
    pub async fn inject(
        &self,
        conversation_id: &str,
        participant_id: &str,
        patch: &AttributePatch,
    ) -> Result<InjectionReport, Error> {
        let metrics = self.client.metrics();
        metrics.counter(names::INJECTIONS).inc();
        let started = Instant::now();
        let keys: Vec<String> = patch.keys().map(str::to_owned).collect();
        let audit = || {
            AuditRecord::new("messaging.inject_attributes", AuditOutcome::Success)
                .id("conversationId", conversation_id)
                .id("participantId", participant_id)
                .keys(keys.iter().cloned())
                .count(keys.len() as u64)
        };

        let patched = self
            .client
            .messaging()
            .participant(conversation_id, participant_id)
            .patch_attributes(patch)
            .await;
        let attributes = match patched {
            Ok(attributes) => attributes,
            Err(err) => {
                metrics.counter(names::FAILED).inc();
                let mut record = audit().latency(started.elapsed()).error(&err);
                record.outcome = AuditOutcome::Failure;
                self.client.audit(record);
                return Err(err);
            }
        };

        let injection = Injection {
            conversation_id: conversation_id.to_owned(),
            participant_id: participant_id.to_owned(),
            keys: keys.clone(),
            attributes,
        };
        let mut hook_failures = Vec::new();
        for hook in &self.hooks {
            if let Err(err) = hook.after_injection(&injection).await {
                metrics.counter(names::HOOK_FAILURES).inc();
                tracing::warn!(hook = hook.name(), error = %err, "post-injection hook failed");
                let mut record =
                    AuditRecord::new("messaging.injection_hook", AuditOutcome::Failure)
                        .id("conversationId", conversation_id)
                        .id("participantId", participant_id)
                        .id("hook", hook.name());
                record.error = Some(format!("hook `{}` failed", hook.name()));
                self.client.audit(record);
                hook_failures.push(HookFailure {
                    hook: hook.name().to_owned(),
                    error: err.to_string(),
                });
            }
        }

        let latency = started.elapsed();
        metrics.counter(names::SUCCEEDED).inc();
        metrics.latency(names::LATENCY).record(latency);
        let mut record = audit().status(200).latency(latency);
        if !hook_failures.is_empty() {
            record.outcome = AuditOutcome::Partial;
        }
        self.client.audit(record);
        Ok(InjectionReport {
            attributes: injection.attributes,
            hook_failures,
            latency,
        })
    }

    /// Availability and latency of injections made through this client (all injectors
    /// sharing the client count together).
    pub fn stats(&self) -> InjectionStats {
        let snapshot = self.client.metrics_snapshot();
        let injections = snapshot.counter(names::INJECTIONS);
        let succeeded = snapshot.counter(names::SUCCEEDED);
        InjectionStats {
            injections,
            succeeded,
            failed: snapshot.counter(names::FAILED),
            hook_failures: snapshot.counter(names::HOOK_FAILURES),
            availability_rate: (injections > 0).then(|| succeeded as f64 / injections as f64),
            latency: snapshot
                .latencies
                .get(names::LATENCY)
                .cloned()
                .unwrap_or_default(),
        }
    }
}
