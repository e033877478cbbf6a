//! The Integrations API's entities, as far as this flow reads them.
//!
//! Why hand-written and not `genesys-cloud-api`'s generated models (issue #16): the
//! generated ones are the platform's shapes as its SDKs describe them, with every field
//! optional, times as strings and no invariants; this flow's callers read the states as
//! enums (`IntendedState`, `StateCode`) and the configuration this flow writes with its
//! required fields required, which the generated shapes do not give. And the flows must
//! not need the `api` feature: the generated model closure of the `integrations` group
//! would add its compile cost to every service using the flow. The JSON names are the SDK's, so a value moves
//! between the two with `serde_json::to_value`/`from_value`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An installed integration (`Integration`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Integration {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its type.
    #[serde(default)]
    pub integration_type: Option<IntegrationTypeRef>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// What the integration was asked to be.
    #[serde(default)]
    pub intended_state: Option<IntendedState>,
    /// What the integration reports it is.
    #[serde(default)]
    pub reported_state: Option<ReportedState>,
    /// Its current configuration, when expanded.
    #[serde(default)]
    pub config: Option<ConfigInfo>,
    /// Read-only attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Integration {
    /// The integration type id.
    pub fn type_id(&self) -> Option<&str> {
        self.integration_type.as_ref().map(|t| t.id.as_str())
    }

    /// The reported state code, when the platform sent one.
    pub fn state(&self) -> Option<StateCode> {
        self.reported_state.as_ref().map(|s| s.code)
    }
}

/// The type of an integration, as referenced from one.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IntegrationTypeRef {
    /// The type id, e.g. `embedded-client-app`.
    pub id: String,
    /// Its display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An installable integration type (`IntegrationType`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IntegrationType {
    /// The type id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Category.
    #[serde(default)]
    pub category: Option<String>,
    /// Where the schema of `properties` is published.
    #[serde(default)]
    pub config_properties_schema_uri: Option<String>,
    /// Most instances allowed per org.
    #[serde(default)]
    pub max_instances: Option<u32>,
}

/// The state an integration was asked to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum IntendedState {
    /// Enabled.
    Enabled,
    /// Disabled.
    Disabled,
    /// Deleted.
    Deleted,
    /// Restored.
    Restored,
    /// A value this version of the crate does not know.
    #[serde(other)]
    Unknown,
}

/// `IntegrationStatusInfo`: what the integration reports.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReportedState {
    /// Machine-readable state.
    pub code: StateCode,
    /// Localized, human-readable state.
    #[serde(default)]
    pub effective: Option<String>,
    /// Details, e.g. why it is in error.
    #[serde(default)]
    pub detail: Option<MessageInfo>,
}

/// `MessageInfo`: a localizable message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct MessageInfo {
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
    /// Its localization code.
    #[serde(default)]
    pub localizable_message_code: Option<String>,
}

/// The machine-readable state of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum StateCode {
    /// Running.
    Active,
    /// Starting.
    Activating,
    /// Not running.
    Inactive,
    /// Stopping.
    Deactivating,
    /// Failed; see the detail.
    Error,
    /// A value this version of the crate does not know.
    #[serde(other)]
    Unknown,
}

/// `IntegrationConfigurationInfo`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ConfigInfo {
    /// The current configuration.
    #[serde(default)]
    pub current: Option<IntegrationConfiguration>,
}

/// `IntegrationConfiguration`: what `GET/PUT .../config/current` read and write.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IntegrationConfiguration {
    /// The integration's name (renaming goes through the configuration).
    #[serde(default)]
    pub name: String,
    /// The version a `PUT` must name.
    #[serde(default)]
    pub version: i64,
    /// Type-specific settings.
    #[serde(default)]
    pub properties: Value,
    /// Advanced settings (icons, lifecycle hooks ...).
    #[serde(default)]
    pub advanced: Value,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}
