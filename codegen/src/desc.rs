//! The description `extract.py` writes (`platform-api.json`), as Rust values.
//!
//! Only what the generator reads is declared; other keys are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole description: source packages, groups, operations and models.
#[derive(Debug, Clone, Deserialize)]
pub struct Description {
    /// Version of the JSON layout.
    pub format_version: u32,
    /// The SDK packages the description was extracted from.
    pub source: Source,
    /// API groups (the SDKs' `*Api` classes), by module name.
    pub groups: BTreeMap<String, Group>,
    /// Every operation, sorted by (group, name).
    pub operations: Vec<Operation>,
    /// Every model, by its SDK name.
    pub models: BTreeMap<String, Model>,
    /// Every notification topic (pattern) with the model of its bodies, sorted by pattern
    /// (`extract_topics.py`; empty in a description without them).
    #[serde(default)]
    pub topics: Vec<TopicEntry>,
}

/// One notification topic: `{"pattern": "v2.users.{id}.presence", "model":
/// "PresenceEventUserPresence"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct TopicEntry {
    /// The topic with `{id}` for each variable segment, as the platform lists it.
    pub pattern: String,
    /// The model of its `eventBody`.
    pub model: String,
}

/// Where the description comes from.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// The primary package (`PureCloudPlatformClientV2`).
    pub package: String,
    /// Its registry.
    pub registry: String,
    /// Its version.
    pub version: String,
    /// Packages that supplied facts the primary one lacks.
    #[serde(default)]
    pub supplements: Vec<Supplement>,
    /// Where the topic table comes from (present with `topics`).
    #[serde(default)]
    pub topics: Option<TopicsSource>,
}

/// The file the topic table was read from (`source.topics`).
#[derive(Debug, Clone, Deserialize)]
pub struct TopicsSource {
    /// `owner/name` of the SDK repository.
    pub repository: String,
    /// The SDK release of that commit.
    pub release: String,
    /// The commit.
    pub commit: String,
    /// The file (`notificationMappings.json`).
    pub file: String,
    /// Its sha256.
    pub sha256: String,
}

/// A supplementary package.
#[derive(Debug, Clone, Deserialize)]
pub struct Supplement {
    /// Package name.
    pub package: String,
    /// Its registry.
    pub registry: String,
    /// Its version.
    pub version: String,
}

/// An API group.
#[derive(Debug, Clone, Deserialize)]
pub struct Group {
    /// The SDK class (`RoutingApi`).
    pub api_class: String,
    /// Number of operations.
    pub operations: usize,
}

/// One operation (one SDK method).
#[derive(Debug, Clone, Deserialize)]
pub struct Operation {
    /// The Python SDK's method name (`get_routing_queue`).
    pub name: String,
    /// The group (`routing`).
    pub group: String,
    /// The SDK class.
    pub api_class: String,
    /// The JavaScript SDK's name (`getRoutingQueue`), when known.
    pub operation_id: Option<String>,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template with `{placeholders}`.
    pub path: String,
    /// One-line summary.
    #[serde(default)]
    pub summary: Option<String>,
    /// Longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// Marked deprecated by the SDK.
    pub deprecated: bool,
    /// A preview operation (may change without notice).
    pub preview: bool,
    /// Path parameters, in template order.
    pub path_params: Vec<Param>,
    /// Query parameters.
    pub query_params: Vec<Param>,
    /// Header parameters.
    pub header_params: Vec<Param>,
    /// The request body.
    pub body: Option<BodyParam>,
    /// The answer's type; `None` for no content.
    pub returns: Option<String>,
    /// Accept types.
    pub produces: Vec<String>,
    /// How the listing pages, if it is one.
    pub paging: Option<Paging>,
    /// How the platform authenticates the call.
    pub auth: OperationAuth,
    /// Other groups whose SDK class carries the same method.
    #[serde(default)]
    pub also_in: Vec<String>,
}

impl Operation {
    /// `group.name`, unique across the description.
    pub fn id(&self) -> String {
        format!("{}.{}", self.group, self.name)
    }

    /// Whether a call needs the client's OAuth token: `true` for [`OAUTH_SCHEME`], `false`
    /// for no scheme; an error for any other scheme (the client knows no other way to
    /// authenticate, and must not send a token where the platform expects something else).
    pub fn requires_auth(&self) -> Result<bool, String> {
        match self.auth.schemes.as_slice() {
            [] => Ok(false),
            [one] if one == OAUTH_SCHEME => Ok(true),
            other => Err(format!(
                "{}: security schemes {other:?}; the generator knows only {OAUTH_SCHEME:?} or none \
                 (teach emit_ops and the client's Sender the new scheme before generating it)",
                self.id()
            )),
        }
    }
}

/// The one security scheme of the Platform API: an OAuth bearer token of the org.
pub const OAUTH_SCHEME: &str = "PureCloud OAuth";

/// The security of an operation.
#[derive(Debug, Clone, Deserialize)]
pub struct OperationAuth {
    /// The security schemes the SDK names (`PureCloud OAuth`); empty for an operation the
    /// platform serves without credentials.
    pub schemes: Vec<String>,
}

/// A path, query or header parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// The name on the wire.
    pub name: String,
    /// The Python SDK's argument name.
    pub python_name: String,
    /// Type (`str`, `int`, `list[str]`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether the SDK requires it.
    pub required: bool,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// `multi` when a list is sent as repeated keys.
    #[serde(default)]
    pub collection_format: Option<String>,
    /// The server's default, when documented.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

/// The request body.
#[derive(Debug, Clone, Deserialize)]
pub struct BodyParam {
    /// The Python SDK's argument name.
    pub python_name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether the SDK requires it.
    pub required: bool,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
}

/// Paging facts of a listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Paging {
    /// `page_number`, `cursor`, `next_uri`, `page_token`, `body`, or `None`.
    pub style: Option<String>,
    /// A next page can be asked for.
    pub pageable: bool,
    /// Where the items are.
    pub items: Option<PagingItems>,
}

/// The items of a listing.
#[derive(Debug, Clone, Deserialize)]
pub struct PagingItems {
    /// The field holding them (`entities`).
    pub field: String,
    /// Their type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// A model (a JSON object type).
#[derive(Debug, Clone, Deserialize)]
pub struct Model {
    /// Fields in the SDK's order.
    pub fields: Vec<Field>,
}

/// A field of a model.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    /// The Python attribute name (keyword escapes such as `pcFrom` kept).
    pub name: String,
    /// The JSON name.
    pub json: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
    /// Allowed values.
    #[serde(default, rename = "enum")]
    pub allowed: Option<Vec<String>>,
    /// Required (from the JavaScript SDK's typings; `None` when unknown).
    #[serde(default)]
    pub required: Option<bool>,
}

/// Reads a description from JSON text.
pub fn parse(json: &str) -> Result<Description, String> {
    let desc: Description =
        serde_json::from_str(json).map_err(|e| format!("platform-api.json: {e}"))?;
    if desc.format_version != 1 {
        return Err(format!(
            "platform-api.json has format_version {}; this generator reads 1",
            desc.format_version
        ));
    }
    Ok(desc)
}
