//! Flow REST nodes as Genesys Cloud Data Actions.
//!
//! A flow's REST call is a Data Action on the platform: a contract (input and success
//! JSON Schemas), a request (URL, method, headers and body templates in Velocity) and a
//! response configuration (a JSONPath translation map with defaults, and a success
//! template). This module builds and validates actions ([`DataAction`], with the
//! [`lint`] for unescaped values), manages them on the platform ([`Nodes`]: drafts,
//! validation, publishing, tests, execution), renders templates as the platform renders
//! them ([`template`]: Apache Velocity 1.7 with Genesys's tools, checked against Velocity
//! itself), evaluates translation maps with Jayway's rules ([`jsonpath`]), runs actions
//! locally against their target ([`LocalExecutor`]) and, with the `simulator` feature,
//! serves them over HTTP for flow tests (`simulator`).
//!
//! ```no_run
//! use genesys_cloud::nodes::{Credentials, DataAction, LocalExecutor};
//! use serde_json::json;
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let action = DataAction::builder("External System", "Lookup", "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41")
//!     .input_schema(json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}))
//!     .success_schema(json!({"type": "object", "properties": {"status": {"type": "string"}}}))
//!     .request("GET", "https://api.example.com/v1/items/$esc.uriEncode(${input.id})")
//!     .header("Authorization", "Bearer ${credentials.apiToken}")
//!     .translation("status", "$.status")
//!     .success_template(r#"{"status": ${status}}"#)
//!     .build()?;
//!
//! // Try it locally (credentials as the integration holds them), then publish it.
//! let local = LocalExecutor::new(client.clone(), action.clone())
//!     .credentials(Credentials::new().with("apiToken", "…"));
//! let output = local.execute(&json!({"id": "42"})).await?;
//! let draft = client.nodes().create_draft(&action).await?;
//! let published = client.nodes().publish(&draft.id).await?;
//! # Ok(()) }
//! ```

mod action;
mod client;
mod executor;
pub mod jsonpath;
pub mod lint;
#[cfg(feature = "simulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulator")))]
pub mod simulator;
pub mod template;

pub use action::{
    DataAction, DataActionBuilder, LintLevel, PreparedRequest, DEFAULT_REQUEST_TEMPLATE,
    DEFAULT_SUCCESS_TEMPLATE, INPUT_TYPES, MAX_NAME_CHARS, METHODS, RESERVED_INPUTS,
    TIMEOUT_SECONDS,
};
pub use client::{Action, DraftValidation, Nodes, TestExecution, TestOperation, LIST_PAGE_SIZE};
pub use executor::{platform_error, LocalExecutor, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL};
pub use jsonpath::TranslationPath;
pub use lint::LintFinding;
pub use template::{Credentials, Template};
