//! Custom agent widgets as client-application integrations.
//!
//! On Genesys Cloud an agent widget is a client-app integration: created with
//! `POST /api/v2/integrations` (`{name, integrationType: {id}}`), configured with
//! `PUT /api/v2/integrations/{id}/config/current` (versioned: `url`, `sandbox`,
//! `permissions`, `groups` ...), and enabled with `PATCH /api/v2/integrations/{id}`
//! (`{"intendedState": "ENABLED"}`), after which the platform reports it `ACTIVE`.
//!
//! 1. Describe the widget: [`WidgetSpec::builder`], checked against a [`SandboxPolicy`]
//!    (https only, host allowlist with correct wildcards, known sandbox tokens and
//!    permission features, size and frame limits), every violation at once.
//! 2. Deploy it: [`Integrations::deploy`] (or a [`WidgetDeployer`] that keeps history
//!    and statistics) creates or updates, configures, enables and waits until active,
//!    and deletes what it created if a later step fails.
//!
//! ```no_run
//! use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let policy = SandboxPolicy::default().allow_host("*.cloudfront.net");
//! let spec = WidgetSpec::builder("Agent Dashboard Widget", "https://d111.cloudfront.net/widget/")
//!     .kind(WidgetKind::InteractionWidget)
//!     .build(&policy)?;
//! let report = client.integrations().deploy(&spec).await?;
//! println!("{} deployed in {:?}", report.integration_id, report.total);
//! # Ok(()) }
//! ```

mod allowlist;
mod deploy;
mod model;
mod spec;

use futures::Stream;
use serde_json::json;

pub use allowlist::HostPattern;
pub use deploy::{
    DeploymentOutcome, DeploymentReport, DeploymentStats, StepTiming, WidgetDeployer,
    HISTORY_LIMIT, MAX_CONFIG_CONFLICTS,
};
pub use model::{
    ConfigInfo, Integration, IntegrationConfiguration, IntegrationType, IntegrationTypeRef,
    IntendedState, MessageInfo, ReportedState, StateCode,
};
pub use spec::{
    SandboxPolicy, WidgetKind, WidgetSpec, WidgetSpecBuilder, COMMUNICATION_TYPES, MAX_NAME_CHARS,
    PERMISSION_FEATURES, SANDBOX_TOKENS,
};

use crate::client::Client;
use crate::error::Error;
use crate::paging;
use crate::transport::ApiRequest;
use crate::Method;

const INTEGRATIONS: &str = "/api/v2/integrations";
const INTEGRATION: &str = "/api/v2/integrations/{integrationId}";
const CONFIG: &str = "/api/v2/integrations/{integrationId}/config/current";
const TYPES: &str = "/api/v2/integrations/types";

/// Integrations per page when listing (the platform's default is 25).
pub const LIST_PAGE_SIZE: u32 = 100;

impl Client {
    /// Client-application integrations (custom agent widgets).
    pub fn integrations(&self) -> Integrations {
        Integrations {
            client: self.clone(),
        }
    }
}

/// Entry point of the integrations flow, from [`Client::integrations`].
#[derive(Debug, Clone)]
pub struct Integrations {
    client: Client,
}

/// A request on one integration. The id is encoded as one path segment (so `/`, `?` and
/// `..` cannot escape it); it is not required to be a UUID, because ids usually come
/// back from the platform itself.
fn integration_request(
    method: Method,
    template: &'static str,
    id: &str,
) -> Result<ApiRequest, Error> {
    Ok(ApiRequest::with_args(method, template, &[id])?)
}

impl Integrations {
    /// Deploys `spec` (see [`WidgetDeployer::deploy`]) with the default options.
    pub async fn deploy(&self, spec: &WidgetSpec) -> Result<DeploymentReport, Error> {
        self.deployer().deploy(spec).await
    }

    /// A deployer with history, statistics and options.
    pub fn deployer(&self) -> WidgetDeployer {
        WidgetDeployer::new(self.client.clone())
    }

    /// One integration.
    pub async fn get(&self, integration_id: &str) -> Result<Integration, Error> {
        let req = integration_request(Method::GET, INTEGRATION, integration_id)?;
        self.client.transport().json(&req).await
    }

    /// Every integration of the org, all pages, fetched as the stream is read.
    pub fn list(&self) -> impl Stream<Item = Result<Integration, Error>> + Send + 'static {
        let req = ApiRequest::new(Method::GET, INTEGRATIONS).query("pageSize", LIST_PAGE_SIZE);
        paging::items(self.client.clone(), req)
    }

    /// Every integration type the org can install.
    pub fn types(&self) -> impl Stream<Item = Result<IntegrationType, Error>> + Send + 'static {
        let req = ApiRequest::new(Method::GET, TYPES).query("pageSize", LIST_PAGE_SIZE);
        paging::items(self.client.clone(), req)
    }

    /// The current configuration of an integration.
    pub async fn config(&self, integration_id: &str) -> Result<IntegrationConfiguration, Error> {
        let req = integration_request(Method::GET, CONFIG, integration_id)?;
        self.client.transport().json(&req).await
    }

    /// Asks the platform to enable the integration.
    pub async fn enable(&self, integration_id: &str) -> Result<Integration, Error> {
        self.set_intended_state(integration_id, IntendedState::Enabled)
            .await
    }

    /// Asks the platform to disable the integration.
    pub async fn disable(&self, integration_id: &str) -> Result<Integration, Error> {
        self.set_intended_state(integration_id, IntendedState::Disabled)
            .await
    }

    /// Deletes the integration.
    pub async fn delete(&self, integration_id: &str) -> Result<(), Error> {
        let req = integration_request(Method::DELETE, INTEGRATION, integration_id)?;
        self.client.transport().send(&req).await?;
        Ok(())
    }

    async fn set_intended_state(
        &self,
        integration_id: &str,
        state: IntendedState,
    ) -> Result<Integration, Error> {
        // Asking for the same state twice has no further effect.
        let req = integration_request(Method::PATCH, INTEGRATION, integration_id)?
            .json(&json!({ "intendedState": state }))?
            .idempotent(true);
        self.client.transport().json(&req).await
    }

    async fn create(&self, spec: &WidgetSpec) -> Result<Integration, Error> {
        let req = ApiRequest::new(Method::POST, INTEGRATIONS).json(&json!({
            "name": spec.name(),
            "integrationType": { "id": spec.integration_type() },
        }))?;
        self.client.transport().json(&req).await
    }

    async fn put_config(
        &self,
        integration_id: &str,
        spec: &WidgetSpec,
        version: i64,
    ) -> Result<(), Error> {
        let req = integration_request(Method::PUT, CONFIG, integration_id)?
            .json(&spec.config_body(version))?;
        self.client.transport().send(&req).await?;
        Ok(())
    }
}
