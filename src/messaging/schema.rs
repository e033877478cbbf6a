//! Which attribute keys a service may set, and how each is typed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use regex::Regex;
use serde::Deserialize;

use crate::validation::ValidationError;

/// The type an attribute's value must have. The platform stores every value as a string;
/// numbers and booleans are sent in canonical form (`1250.5`, `true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// Free text, sanitized before it is sent.
    String,
    /// A finite number.
    Number,
    /// `true` or `false`.
    Boolean,
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AttributeType::String => "string",
            AttributeType::Number => "number",
            AttributeType::Boolean => "boolean",
        })
    }
}

/// The rules of one key: its type and optional constraints on the (canonical) value.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "KeySpecConfig")]
pub struct KeySpec {
    pub(crate) kind: AttributeType,
    pub(crate) max_length: Option<usize>,
    pub(crate) allowed_values: Option<BTreeSet<String>>,
    pub(crate) pattern: Option<Regex>,
}

impl KeySpec {
    fn of(kind: AttributeType) -> Self {
        Self {
            kind,
            max_length: None,
            allowed_values: None,
            pattern: None,
        }
    }

    /// A text key.
    pub fn string() -> Self {
        Self::of(AttributeType::String)
    }

    /// A number key.
    pub fn number() -> Self {
        Self::of(AttributeType::Number)
    }

    /// A boolean key.
    pub fn boolean() -> Self {
        Self::of(AttributeType::Boolean)
    }

    /// The key's type.
    pub fn kind(&self) -> AttributeType {
        self.kind
    }

    /// Longest value in characters, below the patch-wide limit.
    pub fn max_length(mut self, chars: usize) -> Self {
        self.max_length = Some(chars);
        self
    }

    /// The only values accepted (compared with the sanitized, canonical value).
    pub fn allowed_values<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_values = Some(values.into_iter().map(Into::into).collect());
        self
    }

    /// A regular expression the canonical value must match (use `^…$` to anchor it).
    pub fn pattern(mut self, pattern: &str) -> Result<Self, ValidationError> {
        let compiled = Regex::new(pattern).map_err(|e| {
            ValidationError::single(
                "pattern",
                "invalid_pattern",
                format!("the pattern {pattern:?} does not compile: {e}"),
            )
        })?;
        self.pattern = Some(compiled);
        Ok(self)
    }
}

/// The configuration form of a [`KeySpec`], as JSON or TOML:
/// `{"type": "string", "maxLength": 32, "allowedValues": [...], "pattern": "^REF-"}`
/// (`max_length` and `allowed_values` are accepted too).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySpecConfig {
    #[serde(rename = "type")]
    kind: AttributeType,
    #[serde(default, alias = "maxLength")]
    max_length: Option<usize>,
    #[serde(default, alias = "allowedValues")]
    allowed_values: Option<Vec<String>>,
    #[serde(default)]
    pattern: Option<String>,
}

impl TryFrom<KeySpecConfig> for KeySpec {
    type Error = String;

    fn try_from(c: KeySpecConfig) -> Result<Self, Self::Error> {
        let mut spec = KeySpec::of(c.kind);
        spec.max_length = c.max_length;
        spec.allowed_values = c.allowed_values.map(|v| v.into_iter().collect());
        if let Some(p) = c.pattern {
            spec = spec.pattern(&p).map_err(|e| e.to_string())?;
        }
        Ok(spec)
    }
}

/// The keys a service may set on a participant, each with its [`KeySpec`].
///
/// Built in code:
///
/// ```
/// use genesys_cloud::messaging::{AttributeSchema, KeySpec};
///
/// let schema = AttributeSchema::new()
///     .key("customer_tier", KeySpec::string().allowed_values(["silver", "gold", "platinum"]))
///     .key("cart_value", KeySpec::number())
///     .key("is_vip", KeySpec::boolean())
///     .key("referral_code", KeySpec::string().max_length(32));
/// assert_eq!(schema.len(), 4);
/// ```
///
/// or read from configuration (JSON shown; TOML works the same through serde):
///
/// ```
/// use genesys_cloud::messaging::AttributeSchema;
///
/// let schema: AttributeSchema = serde_json::from_str(r#"{
///     "customer_tier": {"type": "string", "allowedValues": ["silver", "gold", "platinum"]},
///     "cart_value": {"type": "number"},
///     "referral_code": {"type": "string", "maxLength": 32, "pattern": "^REF-[0-9]+$"}
/// }"#)?;
/// assert!(schema.get("cart_value").is_some());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct AttributeSchema {
    keys: BTreeMap<String, KeySpec>,
}

impl AttributeSchema {
    /// An empty schema (which accepts no key).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `key`.
    pub fn key(mut self, key: impl Into<String>, spec: KeySpec) -> Self {
        self.keys.insert(key.into(), spec);
        self
    }

    /// The rules of `key`, if the schema has it.
    pub fn get(&self, key: &str) -> Option<&KeySpec> {
        self.keys.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the schema has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}
