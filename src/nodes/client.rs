//! The Data Actions endpoints: drafts, validation, publishing, tests, execution.

use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};

use super::DataAction;
use crate::client::Client;
use crate::error::{Error, ErrorBody};
use crate::paging;
use crate::transport::ApiRequest;
use crate::Method;

const ACTIONS: &str = "/api/v2/integrations/actions";
const DRAFTS: &str = "/api/v2/integrations/actions/drafts";
const ACTION: &str = "/api/v2/integrations/actions/{actionId}";
const DRAFT: &str = "/api/v2/integrations/actions/{actionId}/draft";
const VALIDATION: &str = "/api/v2/integrations/actions/{actionId}/draft/validation";
const PUBLISH: &str = "/api/v2/integrations/actions/{actionId}/draft/publish";
const DRAFT_TEST: &str = "/api/v2/integrations/actions/{actionId}/draft/test";
const TEST: &str = "/api/v2/integrations/actions/{actionId}/test";
const EXECUTE: &str = "/api/v2/integrations/actions/{actionId}/execute";

/// Actions per page when listing.
pub const LIST_PAGE_SIZE: u32 = 100;

impl Client {
    /// Flow REST nodes as Data Actions: drafts, tests, publishing, execution.
    pub fn nodes(&self) -> Nodes {
        Nodes {
            client: self.clone(),
        }
    }
}

/// Entry point of the Data Actions flow, from [`Client::nodes`].
#[derive(Debug, Clone)]
pub struct Nodes {
    client: Client,
}

/// A Data Action as the platform returns it (`Action`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Action {
    /// Its id (`custom_-_…` for custom actions).
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its category.
    #[serde(default)]
    pub category: String,
    /// The integration it belongs to.
    #[serde(default)]
    pub integration_id: String,
    /// The version (of the draft, for drafts).
    #[serde(default)]
    pub version: i64,
    /// Whether it handles sensitive data.
    #[serde(default)]
    pub secure: bool,
    /// Its configuration, when returned.
    #[serde(default)]
    pub config: Option<Value>,
    /// Its contract, when returned.
    #[serde(default)]
    pub contract: Option<Value>,
}

/// `DraftValidationResult`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct DraftValidation {
    /// Whether the draft can be published.
    #[serde(default)]
    pub valid: bool,
    /// What is wrong with it.
    #[serde(default)]
    pub errors: Vec<ErrorBody>,
}

/// `TestExecutionResult`: each step of a test run with its intermediate result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TestExecution {
    /// The steps, in order.
    #[serde(default)]
    pub operations: Vec<TestOperation>,
    /// The output, when the run succeeded.
    #[serde(default)]
    pub final_result: Option<Value>,
    /// Whether the run succeeded.
    #[serde(default)]
    pub success: bool,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// `TestExecutionOperationResult`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TestOperation {
    /// Its position.
    #[serde(default)]
    pub step: i64,
    /// Its name (free text; do not parse it).
    #[serde(default)]
    pub name: String,
    /// Whether it succeeded.
    #[serde(default)]
    pub success: bool,
    /// Its intermediate result.
    #[serde(default)]
    pub result: Option<Value>,
    /// Its error.
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

fn on_action(method: Method, template: &'static str, id: &str) -> Result<ApiRequest, Error> {
    Ok(ApiRequest::with_args(method, template, &[id])?)
}

fn input_object(input: &Value) -> Result<(), Error> {
    if input.is_object() {
        Ok(())
    } else {
        Err(crate::ValidationError::single(
            "input",
            "object",
            "the input of a data action is a JSON object",
        )
        .into())
    }
}

impl Nodes {
    /// Creates a new action as a draft (`POST /api/v2/integrations/actions/drafts`),
    /// sending the action's `PostActionInput` fields. An action read from an export
    /// needs its `integrationId` and `category` set first
    /// ([`DataActionBuilder::from_platform`](super::DataActionBuilder::from_platform)).
    pub async fn create_draft(&self, action: &DataAction) -> Result<Action, Error> {
        let mut v = crate::validation::Violations::default();
        v.check(
            !action.integration_id().is_empty(),
            "integrationId",
            "required",
            "a draft belongs to an integration: set `integrationId` (an export has none)",
        );
        v.check(
            !action.category().is_empty(),
            "category",
            "required",
            "a draft needs a category (an export has none)",
        );
        v.finish()?;
        let req = ApiRequest::new(Method::POST, DRAFTS).json(&action.post_body())?;
        self.client.transport().json(&req).await
    }

    /// Opens a draft from a published action.
    pub async fn draft_from_published(&self, action_id: &str) -> Result<Action, Error> {
        self.client
            .transport()
            .json(&on_action(Method::POST, DRAFT, action_id)?)
            .await
    }

    /// The current draft.
    pub async fn draft(&self, action_id: &str) -> Result<Action, Error> {
        self.client
            .transport()
            .json(&on_action(Method::GET, DRAFT, action_id)?)
            .await
    }

    /// Replaces the draft's definition with `action`. The draft's current version is
    /// read first; a version conflict (another edit in between) is reported, not retried.
    pub async fn update_draft(
        &self,
        action_id: &str,
        action: &DataAction,
    ) -> Result<Action, Error> {
        let version = self.draft(action_id).await?.version;
        // Setting the same definition at the same version twice changes nothing more.
        let req = on_action(Method::PATCH, DRAFT, action_id)?
            .json(&action.update_body(version))?
            .idempotent(true);
        self.client.transport().json(&req).await
    }

    /// What the platform finds wrong with the draft, if anything.
    pub async fn validate_draft(&self, action_id: &str) -> Result<DraftValidation, Error> {
        self.client
            .transport()
            .json(&on_action(Method::GET, VALIDATION, action_id)?)
            .await
    }

    /// Publishes the draft: reads its current version and publishes that version.
    pub async fn publish(&self, action_id: &str) -> Result<Action, Error> {
        let version = self.draft(action_id).await?.version;
        let req =
            on_action(Method::POST, PUBLISH, action_id)?.json(&json!({ "version": version }))?;
        self.client.transport().json(&req).await
    }

    /// Runs the draft with `input`, returning each step.
    pub async fn test_draft(&self, action_id: &str, input: &Value) -> Result<TestExecution, Error> {
        input_object(input)?;
        let req = on_action(Method::POST, DRAFT_TEST, action_id)?.json(input)?;
        self.client.transport().json(&req).await
    }

    /// Runs the published action with `input`, returning each step.
    pub async fn test(&self, action_id: &str, input: &Value) -> Result<TestExecution, Error> {
        input_object(input)?;
        let req = on_action(Method::POST, TEST, action_id)?.json(input)?;
        self.client.transport().json(&req).await
    }

    /// Runs the published action with `input` and returns its output, as a flow would.
    pub async fn execute(&self, action_id: &str, input: &Value) -> Result<Value, Error> {
        input_object(input)?;
        let req = on_action(Method::POST, EXECUTE, action_id)?.json(input)?;
        self.client.transport().json(&req).await
    }

    /// The published action, with its configuration and contract.
    pub async fn get(&self, action_id: &str) -> Result<Action, Error> {
        let req = on_action(Method::GET, ACTION, action_id)?
            .query("includeConfig", true)
            .query("expand", "contract");
        self.client.transport().json(&req).await
    }

    /// Every published action, all pages.
    pub fn list(&self) -> impl Stream<Item = Result<Action, Error>> + Send + 'static {
        let req = ApiRequest::new(Method::GET, ACTIONS).query("pageSize", LIST_PAGE_SIZE);
        paging::items(self.client.clone(), req)
    }

    /// Every draft, all pages.
    pub fn list_drafts(&self) -> impl Stream<Item = Result<Action, Error>> + Send + 'static {
        let req = ApiRequest::new(Method::GET, DRAFTS).query("pageSize", LIST_PAGE_SIZE);
        paging::items(self.client.clone(), req)
    }

    /// Deletes the action (published and draft).
    pub async fn delete(&self, action_id: &str) -> Result<(), Error> {
        self.client
            .transport()
            .send(&on_action(Method::DELETE, ACTION, action_id)?)
            .await?;
        Ok(())
    }

    /// Deletes the draft only.
    pub async fn delete_draft(&self, action_id: &str) -> Result<(), Error> {
        self.client
            .transport()
            .send(&on_action(Method::DELETE, DRAFT, action_id)?)
            .await?;
        Ok(())
    }
}
