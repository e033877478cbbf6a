//! The deployment lifecycle: find or create, configure, enable, wait until active,
//! and undo what was created when a later step fails.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::{Serialize, Serializer};

use super::{Integration, Integrations, ReportedState, StateCode, WidgetSpec};
use crate::client::Client;
use crate::error::{Error, TimeoutKind};
use crate::observe::{AuditOutcome, AuditRecord};
use crate::transport::poll::{poll, Check};
use crate::transport::PollPolicy;

/// Deployments kept in a deployer's history; older ones are dropped first.
pub const HISTORY_LIMIT: usize = 1000;

/// Times a configuration update is re-read and re-applied after a version conflict.
pub const MAX_CONFIG_CONFLICTS: usize = 3;

mod names {
    pub const DEPLOYS: &str = "integrations.deploys";
    pub const SUCCEEDED: &str = "integrations.deploys_succeeded";
    pub const FAILED: &str = "integrations.deploys_failed";
    pub const ROLLBACKS: &str = "integrations.rollbacks";
    pub const CONFLICTS: &str = "integrations.config_conflicts";
    pub const LATENCY: &str = "integrations.deploy";
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// How long one step of a deployment took.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StepTiming {
    /// `find`, `create`, `configure`, `enable`, `activate` or `rollback`.
    pub step: &'static str,
    /// Time taken (milliseconds in JSON).
    #[serde(rename = "ms", serialize_with = "millis")]
    pub took: Duration,
}

/// How a deployment ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeploymentOutcome {
    /// The integration is configured, enabled and active.
    Succeeded,
    /// A step failed.
    Failed {
        /// The step.
        step: &'static str,
        /// Why.
        error: String,
        /// Whether the integration this deployment created was deleted again.
        rolled_back: bool,
    },
}

/// One deployment: which integration, each step's timing, the total, the outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeploymentReport {
    /// The integration deployed (empty when the deployment failed before one existed).
    pub integration_id: String,
    /// The widget's name.
    pub name: String,
    /// The integration type.
    pub integration_type: &'static str,
    /// Whether this deployment created the integration (`false`: it updated one).
    pub created: bool,
    /// Each step, in order.
    pub steps: Vec<StepTiming>,
    /// From start to end (milliseconds in JSON).
    #[serde(rename = "totalMs", serialize_with = "millis")]
    pub total: Duration,
    /// How it ended.
    pub outcome: DeploymentOutcome,
    /// When it ended.
    pub finished_at: jiff::Timestamp,
}

/// Deployment figures from the client's metrics registry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeploymentStats {
    /// Deployments attempted.
    pub deploys: u64,
    /// Deployments that ended active.
    pub succeeded: u64,
    /// Deployments that failed.
    pub failed: u64,
    /// Integrations deleted again after a failed step.
    pub rollbacks: u64,
    /// `succeeded / deploys`; `None` before the first deployment.
    pub success_rate: Option<f64>,
    /// Mean deployment latency, milliseconds.
    pub mean_ms: f64,
    /// 95th percentile deployment latency, milliseconds.
    pub p95_ms: f64,
}

/// Deploys [`WidgetSpec`]s, keeping a history of reports and statistics.
///
/// Each deployment:
///
/// 1. `find`: pages through the org's integrations for one of the same name and type;
///    re-deploying a spec updates it instead of creating a twin;
/// 2. `create` (only when none was found): `POST /api/v2/integrations`;
/// 3. `configure`: reads the current configuration version and `PUT`s the spec's
///    configuration with it; a version conflict (409, or the platform's 400 "version does
///    not match") is resolved by re-reading and re-applying, at most
///    [`MAX_CONFIG_CONFLICTS`] times;
/// 4. `enable`: `PATCH {"intendedState": "ENABLED"}`;
/// 5. `activate`: polls until the platform reports `ACTIVE` (bounded by the
///    [`PollPolicy`]); `ERROR` fails at once with the platform's detail.
///
/// When a step after `create` fails, the integration this deployment created is deleted
/// (unless [`WidgetDeployer::rollback_on_failure`] is off), and the error names the step
/// and the cleanup. An integration that existed before is never deleted.
#[derive(Clone)]
pub struct WidgetDeployer {
    integrations: Integrations,
    client: Client,
    rollback: bool,
    activation: PollPolicy,
    history: Arc<Mutex<VecDeque<DeploymentReport>>>,
}

impl fmt::Debug for WidgetDeployer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WidgetDeployer")
            .field("rollback", &self.rollback)
            .field("activation", &self.activation)
            .finish_non_exhaustive()
    }
}

/// Times steps and remembers what a failed deployment must undo.
struct Run {
    started: Instant,
    steps: Vec<StepTiming>,
    integration_id: Option<String>,
    created: bool,
}

impl Run {
    async fn step<T>(
        &mut self,
        step: &'static str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, (&'static str, Error)> {
        let started = Instant::now();
        let result = work.await;
        self.steps.push(StepTiming {
            step,
            took: started.elapsed(),
        });
        result.map_err(|e| (step, e))
    }
}

/// What an integration in `ERROR` reported, for the error: its detail's localization code
/// (an identifier), never the detail's message, which may quote the configuration (the
/// widget's URL).
fn error_state_detail(state: Option<ReportedState>) -> String {
    let code = state
        .and_then(|s| s.detail)
        .and_then(|d| d.localizable_message_code)
        .filter(|code| {
            code.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        });
    match code {
        Some(code) => format!("reported `{code}`; read its reportedState with Integrations::get"),
        None => "read its reportedState with Integrations::get".to_owned(),
    }
}

fn is_version_conflict(err: &Error) -> bool {
    match err.api() {
        Some(api) if api.status() == 409 => true,
        Some(api) if api.status() == 400 => api
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("version")),
        _ => false,
    }
}

impl WidgetDeployer {
    /// A deployer that rolls back on failure and waits up to 60 s for activation.
    pub fn new(client: Client) -> Self {
        Self {
            integrations: client.integrations(),
            client,
            rollback: true,
            activation: PollPolicy::default(),
            history: Arc::default(),
        }
    }

    /// Whether an integration created by a failed deployment is deleted again (default on).
    pub fn rollback_on_failure(mut self, rollback: bool) -> Self {
        self.rollback = rollback;
        self
    }

    /// How long and how often to check for activation.
    pub fn activation(mut self, policy: PollPolicy) -> Self {
        self.activation = policy;
        self
    }

    /// Deploys `spec`; see the type's documentation for the steps.
    pub async fn deploy(&self, spec: &WidgetSpec) -> Result<DeploymentReport, Error> {
        let metrics = self.client.metrics();
        metrics.counter(names::DEPLOYS).inc();
        let mut run = Run {
            started: Instant::now(),
            steps: Vec::new(),
            integration_id: None,
            created: false,
        };
        let result = self.run_steps(spec, &mut run).await;
        let (outcome, error) = match result {
            Ok(()) => (DeploymentOutcome::Succeeded, None),
            Err((step, err)) => {
                let (rolled_back, cleanup) = self.undo(&mut run).await;
                let error = Error::step_failed(
                    format!("deploy widget {:?}", spec.name()),
                    step,
                    cleanup,
                    err,
                );
                let outcome = DeploymentOutcome::Failed {
                    step,
                    error: error.to_string(),
                    rolled_back,
                };
                (outcome, Some(error))
            }
        };
        let report = DeploymentReport {
            integration_id: run.integration_id.unwrap_or_default(),
            name: spec.name().to_owned(),
            integration_type: spec.integration_type(),
            created: run.created,
            steps: run.steps,
            total: run.started.elapsed(),
            outcome,
            finished_at: jiff::Timestamp::now(),
        };
        self.record(&report, error.as_ref());
        match error {
            None => Ok(report),
            Some(err) => Err(err),
        }
    }

    async fn run_steps(
        &self,
        spec: &WidgetSpec,
        run: &mut Run,
    ) -> Result<(), (&'static str, Error)> {
        let existing = run.step("find", self.find(spec)).await?;
        let id = match existing {
            Some(found) => found.id,
            None => {
                let created = run.step("create", self.integrations.create(spec)).await?;
                run.created = true;
                created.id
            }
        };
        run.integration_id = Some(id.clone());
        run.step("configure", self.configure(&id, spec)).await?;
        run.step("enable", self.integrations.enable(&id)).await?;
        run.step("activate", self.wait_until_active(&id)).await?;
        Ok(())
    }

    async fn find(&self, spec: &WidgetSpec) -> Result<Option<Integration>, Error> {
        let all: Vec<Integration> = self.integrations.list().try_collect().await?;
        Ok(all
            .into_iter()
            .find(|i| i.name == spec.name() && i.type_id() == Some(spec.integration_type())))
    }

    async fn configure(&self, id: &str, spec: &WidgetSpec) -> Result<(), Error> {
        let mut conflicts = 0;
        loop {
            let current = self.integrations.config(id).await?;
            match self
                .integrations
                .put_config(id, spec, current.version)
                .await
            {
                Err(err) if is_version_conflict(&err) && conflicts < MAX_CONFIG_CONFLICTS => {
                    conflicts += 1;
                    self.client.metrics().counter(names::CONFLICTS).inc();
                    tracing::debug!(
                        integration = id,
                        conflicts,
                        "configuration version conflict; re-reading"
                    );
                }
                other => return other,
            }
        }
    }

    async fn wait_until_active(&self, id: &str) -> Result<(), Error> {
        let clock = self.client.transport().core.clock.clone();
        let waited = poll(clock.as_ref(), &self.activation, || async {
            let integration = self.integrations.get(id).await?;
            let state = integration.reported_state;
            match state.as_ref().map(|s| s.code) {
                Some(StateCode::Active) => Ok(Check::Done(())),
                Some(StateCode::Error) => Err(Error::invalid_state(
                    "the integration",
                    "ERROR",
                    Some(error_state_detail(state)),
                )),
                other => Ok(Check::Pending(other)),
            }
        })
        .await?;
        waited.map_err(|last| {
            tracing::debug!(
                integration = id,
                ?last,
                "integration did not become active in time"
            );
            Error::timeout(
                std::sync::Arc::from("GET /api/v2/integrations/{integrationId} (until ACTIVE)"),
                TimeoutKind::Wait,
                self.activation.timeout,
            )
        })
    }

    /// Deletes the integration this run created, if it created one and rollback is on.
    async fn undo(&self, run: &mut Run) -> (bool, Option<String>) {
        let Some(id) = run.integration_id.clone() else {
            return (false, None);
        };
        // The id is in the report and the audit record, never in the error's text.
        if !run.created {
            return (
                false,
                Some("the existing integration was left as it was".to_owned()),
            );
        }
        if !self.rollback {
            return (
                false,
                Some("rollback is off: the new integration was left in place (its id is in the audit record and the deployer's history)".to_owned()),
            );
        }
        match run.step("rollback", self.integrations.delete(&id)).await {
            Ok(()) => {
                self.client.metrics().counter(names::ROLLBACKS).inc();
                (
                    true,
                    Some("rolled back: the new integration was deleted".to_owned()),
                )
            }
            Err((_, err)) => (
                false,
                Some(format!(
                    "rollback failed, the new integration is left in place (its id is in the audit record and the deployer's history): {err}"
                )),
            ),
        }
    }

    fn record(&self, report: &DeploymentReport, error: Option<&Error>) {
        let metrics = self.client.metrics();
        metrics.latency(names::LATENCY).record(report.total);
        let mut audit = AuditRecord::new("integrations.deploy_widget", AuditOutcome::Success)
            .id("integrationId", report.integration_id.clone())
            .id("integrationType", report.integration_type)
            .keys(report.steps.iter().map(|s| s.step))
            .latency(report.total);
        match error {
            None => {
                metrics.counter(names::SUCCEEDED).inc();
            }
            Some(err) => {
                metrics.counter(names::FAILED).inc();
                audit = audit.error(err);
                audit.outcome = AuditOutcome::Failure;
            }
        }
        self.client.audit(audit);
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY_LIMIT {
            history.pop_front();
        }
        history.push_back(report.clone());
    }

    /// The reports of this deployer's deployments, oldest first (at most [`HISTORY_LIMIT`]).
    pub fn history(&self) -> Vec<DeploymentReport> {
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Deployments, success rate and latency for this client (all deployers count together).
    pub fn stats(&self) -> DeploymentStats {
        let snapshot = self.client.metrics_snapshot();
        let deploys = snapshot.counter(names::DEPLOYS);
        let succeeded = snapshot.counter(names::SUCCEEDED);
        let latency = snapshot
            .latencies
            .get(names::LATENCY)
            .cloned()
            .unwrap_or_default();
        DeploymentStats {
            deploys,
            succeeded,
            failed: snapshot.counter(names::FAILED),
            rollbacks: snapshot.counter(names::ROLLBACKS),
            success_rate: (deploys > 0).then(|| succeeded as f64 / deploys as f64),
            mean_ms: latency.mean_ms,
            p95_ms: latency.p95_ms,
        }
    }

    /// The audit report: statistics and every report in the history, as JSON.
    pub fn audit_report(&self) -> serde_json::Value {
        serde_json::json!({
            "stats": self.stats(),
            "deployments": self.history(),
        })
    }
}
