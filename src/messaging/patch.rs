//! The validated body of a participant attribute update.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::limits::{reserved_namespace, Limits};
use super::sanitize::{clean, Markup};
use super::schema::{AttributeSchema, AttributeType, KeySpec};
use crate::validation::{ValidationError, Violations};

/// A value before it is checked and made canonical.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// Text; sanitized (see [`Markup`](super::Markup) for HTML in it).
    String(String),
    /// A floating-point number; must be finite.
    Number(f64),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Boolean(bool),
}

impl AttributeValue {
    fn kind(&self) -> AttributeType {
        match self {
            AttributeValue::String(_) => AttributeType::String,
            AttributeValue::Number(_) | AttributeValue::Integer(_) => AttributeType::Number,
            AttributeValue::Boolean(_) => AttributeType::Boolean,
        }
    }
}

macro_rules! from_value {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {
        $(impl From<$t> for AttributeValue {
            fn from($v: $t) -> Self {
                $e
            }
        })+
    };
}

from_value! {
    &str => |v| AttributeValue::String(v.to_owned()),
    String => |v| AttributeValue::String(v),
    &String => |v| AttributeValue::String(v.clone()),
    f64 => |v| AttributeValue::Number(v),
    f32 => |v| AttributeValue::Number(f64::from(v)),
    i64 => |v| AttributeValue::Integer(v),
    i32 => |v| AttributeValue::Integer(i64::from(v)),
    i16 => |v| AttributeValue::Integer(i64::from(v)),
    u32 => |v| AttributeValue::Integer(i64::from(v)),
    u16 => |v| AttributeValue::Integer(i64::from(v)),
    usize => |v| i64::try_from(v).map_or(AttributeValue::Number(v as f64), AttributeValue::Integer),
    u64 => |v| i64::try_from(v).map_or(AttributeValue::Number(v as f64), AttributeValue::Integer),
    bool => |v| AttributeValue::Boolean(v),
}

/// A JSON value the platform cannot hold as an attribute (it holds one string per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsendable {
    Null,
    Array,
    Object,
}

impl Unsendable {
    /// The violation's rule and message; neither shows the value.
    fn violation(self) -> (&'static str, &'static str) {
        match self {
            Unsendable::Null => (
                "null_value",
                "null cannot be sent: the platform holds one string per key; leave the key out \
                 (a patch changes only the keys it sends)",
            ),
            Unsendable::Array => (
                "array_value",
                "an array cannot be sent: the platform holds one string per key; send one key \
                 per item, or join the items into one string",
            ),
            Unsendable::Object => (
                "object_value",
                "an object cannot be sent: the platform holds one string per key; flatten it \
                 into keys of their own (`address_city`)",
            ),
        }
    }
}

/// What a key was set to: a value to check, or a JSON value that cannot be sent.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Value(AttributeValue),
    Unsendable(Unsendable),
}

impl From<&Value> for Entry {
    fn from(value: &Value) -> Self {
        match value {
            Value::String(s) => Entry::Value(AttributeValue::String(s.clone())),
            Value::Bool(b) => Entry::Value(AttributeValue::Boolean(*b)),
            // As `set` takes a Rust number: an integer when it fits an i64, otherwise the
            // nearest f64 (serde_json holds nothing wider).
            Value::Number(n) => Entry::Value(match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => AttributeValue::Integer(i),
                (None, Some(f)) => AttributeValue::Number(f),
                (None, None) => AttributeValue::Number(f64::NAN),
            }),
            Value::Null => Entry::Unsendable(Unsendable::Null),
            Value::Array(_) => Entry::Unsendable(Unsendable::Array),
            Value::Object(_) => Entry::Unsendable(Unsendable::Object),
        }
    }
}

/// The name of a JSON value's type, for a message (never the value).
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The canonical string of a finite number: shortest round-trip digits, no exponent,
/// no `-0`.
pub(crate) fn canonical_number(n: f64) -> Option<String> {
    if !n.is_finite() {
        return None;
    }
    if n == 0.0 {
        return Some("0".to_owned());
    }
    Some(n.to_string())
}

/// A participant attribute update that passed every rule, ready to send:
/// `{"attributes": {key: value}}` with string values only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributePatch {
    attributes: BTreeMap<String, String>,
    #[serde(skip)]
    sanitized: Vec<String>,
    #[serde(skip)]
    truncated: Vec<String>,
    /// The JSON body, serialized once by `build()` (which needs its length anyway) and
    /// sent as is.
    #[serde(skip)]
    body: bytes::Bytes,
}

impl AttributePatch {
    /// The JSON body `build()` serialized.
    pub(crate) fn body(&self) -> &bytes::Bytes {
        &self.body
    }

    /// A builder checking keys against `schema` and the default [`Limits`].
    pub fn builder(schema: &AttributeSchema) -> AttributePatchBuilder<'_> {
        AttributePatchBuilder {
            schema,
            limits: Limits::default(),
            truncate: false,
            markup: Markup::default(),
            entries: BTreeMap::new(),
        }
    }

    /// The patch of a JSON object's keys, as a service receives them in a request body,
    /// checked against `schema` and the default [`Limits`]: the bridge from an HTTP
    /// handler's `serde_json::Map` to the platform. Strings, numbers and booleans are
    /// taken as [`AttributePatchBuilder::set`] takes them (and must match the schema's
    /// type for their key); `null`, arrays and objects are violations (`null_value`,
    /// `array_value`, `object_value`), since the platform holds one string per key. See
    /// [`AttributePatchBuilder::set_json`].
    ///
    /// ```
    /// use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
    /// use serde_json::json;
    ///
    /// let schema = AttributeSchema::new()
    ///     .key("tier", KeySpec::string())
    ///     .key("cart_value", KeySpec::number())
    ///     .key("is_vip", KeySpec::boolean())
    ///     .key("tags", KeySpec::string());
    /// let body = json!({"tier": "gold", "cart_value": 1250.5, "is_vip": true});
    /// let patch = AttributePatch::from_json_map(&schema, body.as_object().unwrap())?;
    /// assert_eq!(patch.attributes()["cart_value"], "1250.5");
    ///
    /// let body = json!({"tier": null, "tags": ["a", "b"], "cart_value": {"amount": 3}});
    /// let err = AttributePatch::from_json_map(&schema, body.as_object().unwrap()).unwrap_err();
    /// assert!(err.has("attributes.tier", "null_value"));
    /// assert!(err.has("attributes.tags", "array_value"));
    /// assert!(err.has("attributes.cart_value", "object_value"));
    /// # Ok::<(), genesys_cloud::ValidationError>(())
    /// ```
    pub fn from_json_map(
        schema: &AttributeSchema,
        attributes: &Map<String, Value>,
    ) -> Result<AttributePatch, ValidationError> {
        Self::builder(schema).set_json(attributes).build()
    }

    /// [`from_json_map`](AttributePatch::from_json_map) for any JSON value: an object is
    /// taken key by key; anything else is one violation, `attributes` `not_object`.
    pub fn from_json(
        schema: &AttributeSchema,
        attributes: &Value,
    ) -> Result<AttributePatch, ValidationError> {
        match attributes {
            Value::Object(map) => Self::from_json_map(schema, map),
            other => Err(ValidationError::single(
                "attributes",
                "not_object",
                format!(
                    "the attributes must be a JSON object of key to value, not a {}",
                    json_kind(other)
                ),
            )),
        }
    }

    /// The attributes to send, canonical and sanitized.
    pub fn attributes(&self) -> &BTreeMap<String, String> {
        &self.attributes
    }

    /// The keys to send.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.attributes.keys().map(String::as_str)
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    /// Whether there is no attribute (never true for a built patch).
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    /// Keys whose value the sanitizer changed (markup, scripts or control characters
    /// removed, white space trimmed).
    pub fn sanitized_keys(&self) -> &[String] {
        &self.sanitized
    }

    /// Keys whose value was cut to its limit (only with
    /// [`AttributePatchBuilder::truncate_long_values`]).
    pub fn truncated_keys(&self) -> &[String] {
        &self.truncated
    }
}

/// Collects attributes and checks them all at [`AttributePatchBuilder::build`].
///
/// ```
/// use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
///
/// let schema = AttributeSchema::new()
///     .key("cart_value", KeySpec::number())
///     .key("is_vip", KeySpec::boolean())
///     .key("referral_code", KeySpec::string());
/// let patch = AttributePatch::builder(&schema)
///     .set("cart_value", 1250.50)
///     .set("is_vip", true)
///     .set("referral_code", " REF-2024\n")
///     .build()?;
/// assert_eq!(patch.attributes()["cart_value"], "1250.5");
/// assert_eq!(patch.attributes()["is_vip"], "true");
/// assert_eq!(patch.attributes()["referral_code"], "REF-2024");
/// assert_eq!(patch.sanitized_keys(), ["referral_code"]);
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AttributePatchBuilder<'s> {
    schema: &'s AttributeSchema,
    limits: Limits,
    truncate: bool,
    markup: Markup,
    entries: BTreeMap<String, Entry>,
}

impl AttributePatchBuilder<'_> {
    /// Sets `key` to `value` (a later `set` of the same key wins).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<AttributeValue>) -> Self {
        self.entries.insert(key.into(), Entry::Value(value.into()));
        self
    }

    /// Sets every key of a JSON object (a later setting of the same key wins, either
    /// way): strings, booleans and numbers as [`set`](AttributePatchBuilder::set) takes
    /// them (a number is an integer when it fits an `i64`, a float otherwise; the schema
    /// decides whether a key takes a number, and `build` writes its canonical text).
    /// `null`, arrays and objects are kept to be reported by
    /// [`build`](AttributePatchBuilder::build), one violation per key (`null_value`,
    /// `array_value`, `object_value`): the platform's `ParticipantAttributes` holds one
    /// string per key, and turning a structure into text silently would hand routing and
    /// scripts a value nobody chose. Keys go through every key rule as with `set`.
    pub fn set_json(mut self, attributes: &Map<String, Value>) -> Self {
        for (key, value) in attributes {
            self.entries.insert(key.clone(), Entry::from(value));
        }
        self
    }

    /// Sets every pair of `attributes`.
    pub fn set_all<K, V, I>(mut self, attributes: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<AttributeValue>,
    {
        for (k, v) in attributes {
            self.entries.insert(k.into(), Entry::Value(v.into()));
        }
        self
    }

    /// Checks against `limits` instead of the defaults.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// What to do with text values holding HTML markup: strip it (the default with feature
    /// `sanitize-html`) or refuse the value (rule `markup`; the default without it).
    /// See [`Markup`].
    pub fn markup(mut self, markup: Markup) -> Self {
        self.markup = markup;
        self
    }

    /// Cuts over-long values to their limit (on a character boundary) instead of
    /// rejecting them. Off by default: nothing is lost unless asked.
    pub fn truncate_long_values(mut self, truncate: bool) -> Self {
        self.truncate = truncate;
        self
    }

    /// Checks every rule and returns the patch, or every violation found.
    pub fn build(self) -> Result<AttributePatch, ValidationError> {
        let limits = &self.limits;
        let mut v = Violations::default();
        limits.check(&mut v);
        if self.entries.is_empty() {
            v.push("attributes", "empty", "set at least one attribute");
        }
        if self.entries.len() > limits.max_attributes {
            v.push(
                "attributes",
                "max_attributes",
                format!(
                    "{} attributes set; at most {} fit in one patch: split it",
                    self.entries.len(),
                    limits.max_attributes
                ),
            );
        }
        let mut attributes = BTreeMap::new();
        let mut sanitized = Vec::new();
        let mut truncated = Vec::new();
        for (key, entry) in self.entries {
            let key_ok = check_key(&key, limits, &mut v);
            let Some(spec) = self.schema.get(&key) else {
                if key_ok {
                    v.push(
                        field_name(&key),
                        "unknown_key",
                        format!(
                            "`{key}` is not in the attribute schema; known keys: {}",
                            known_keys(self.schema)
                        ),
                    );
                }
                continue;
            };
            let value = match entry {
                Entry::Value(value) => value,
                Entry::Unsendable(kind) => {
                    let (rule, message) = kind.violation();
                    v.push(field_name(&key), rule, message);
                    continue;
                }
            };
            let Some(mut text) = canonical_value(&value, spec, &key, self.markup, &mut v) else {
                continue;
            };
            if let AttributeValue::String(raw) = &value {
                if text != *raw {
                    sanitized.push(key.clone());
                }
            }
            let max = spec
                .max_length
                .map_or(limits.max_value_chars, |m| m.min(limits.max_value_chars));
            let chars = text.chars().count();
            if chars > max {
                if self.truncate {
                    text = text.chars().take(max).collect();
                    truncated.push(key.clone());
                } else {
                    v.push(
                        field_name(&key),
                        "value_too_long",
                        format!("the value has {chars} characters; at most {max} are allowed (or opt in to truncation)"),
                    );
                    continue;
                }
            }
            check_rules(&text, spec, &key, &mut v);
            attributes.insert(key, text);
        }
        let mut patch = AttributePatch {
            attributes,
            sanitized,
            truncated,
            body: bytes::Bytes::new(),
        };
        if v.is_empty() {
            // ok to fall back to empty: a map of strings always serializes.
            patch.body = crate::transport::json_bytes(&patch)
                .map(bytes::Bytes::from)
                .unwrap_or_default();
            let body = patch.body.len();
            if body > limits.max_body_bytes {
                v.push(
                    "attributes",
                    "max_body_bytes",
                    format!(
                        "the request body would be {body} bytes; at most {} are accepted: send fewer or shorter values",
                        limits.max_body_bytes
                    ),
                );
            }
        }
        v.finish().map(|()| patch)
    }
}

/// `attributes.<key>`, with absurdly long keys shortened so errors stay readable.
fn field_name(key: &str) -> String {
    const SHOWN: usize = 80;
    if key.chars().count() > SHOWN {
        let head: String = key.chars().take(SHOWN).collect();
        format!("attributes.{head}…")
    } else {
        format!("attributes.{key}")
    }
}

fn known_keys(schema: &AttributeSchema) -> String {
    if schema.is_empty() {
        return "(none: the schema is empty)".into();
    }
    schema.keys().collect::<Vec<_>>().join(", ")
}

/// Key rules; `true` when the key itself is acceptable.
fn check_key(key: &str, limits: &Limits, v: &mut Violations) -> bool {
    let count = v.len();
    if key.trim().is_empty() {
        v.push(
            field_name(key),
            "key_empty",
            "attribute keys must not be empty or blank",
        );
    }
    let chars = key.chars().count();
    if chars > limits.max_key_chars {
        v.push(
            field_name(key),
            "key_too_long",
            format!(
                "the key has {chars} characters; at most {} are allowed",
                limits.max_key_chars
            ),
        );
    }
    if key.chars().any(char::is_control) {
        v.push(
            field_name(key),
            "key_invalid_chars",
            "attribute keys must not contain control characters",
        );
    }
    if let Some(ns) = reserved_namespace(key) {
        v.push(
            field_name(key),
            "reserved_namespace",
            format!(
                "keys starting with `{ns}` are reserved for the platform; choose another prefix"
            ),
        );
    }
    v.len() == count
}

/// The canonical string of `value` for `spec`, or `None` after recording why not.
fn canonical_value(
    value: &AttributeValue,
    spec: &KeySpec,
    key: &str,
    markup: Markup,
    v: &mut Violations,
) -> Option<String> {
    if value.kind() != spec.kind {
        v.push(
            field_name(key),
            "type_mismatch",
            format!(
                "the schema says {}, the value is a {}",
                spec.kind,
                value.kind()
            ),
        );
        return None;
    }
    match value {
        AttributeValue::String(s) => {
            let text = clean(s, markup);
            if text.is_none() {
                v.push(
                    field_name(key),
                    "markup",
                    "the value holds HTML markup or a character reference (such as &lt;): send plain text, or enable feature sanitize-html to have markup stripped",
                );
            }
            text
        }
        AttributeValue::Integer(i) => Some(i.to_string()),
        AttributeValue::Boolean(b) => Some(b.to_string()),
        AttributeValue::Number(n) => {
            let canonical = canonical_number(*n);
            if canonical.is_none() {
                v.push(
                    field_name(key),
                    "not_finite",
                    "NaN and infinite numbers cannot be sent",
                );
            }
            canonical
        }
    }
}

fn check_rules(text: &str, spec: &KeySpec, key: &str, v: &mut Violations) {
    if let Some(allowed) = &spec.allowed_values {
        if !allowed.contains(text) {
            let list: Vec<&str> = allowed.iter().map(String::as_str).collect();
            v.push(
                field_name(key),
                "not_allowed",
                format!("the value must be one of: {}", list.join(", ")),
            );
        }
    }
    if let Some(pattern) = &spec.pattern {
        if !pattern.is_match(text) {
            v.push(
                field_name(key),
                "pattern_mismatch",
                format!("the value must match the pattern {}", pattern.as_str()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_schema() -> AttributeSchema {
        AttributeSchema::new()
            .key("tier", KeySpec::string())
            .key("n", KeySpec::number())
            .key("flag", KeySpec::boolean())
            .key("extra", KeySpec::string())
    }

    #[test]
    fn a_json_map_converts_as_set_does() {
        let schema = json_schema();
        let body = json!({"tier": "gold", "n": 1250.50, "flag": false});
        let patch = AttributePatch::from_json(&schema, &body).unwrap();
        let built = AttributePatch::builder(&schema)
            .set("tier", "gold")
            .set("n", 1250.50)
            .set("flag", false)
            .build()
            .unwrap();
        assert_eq!(patch, built);
        assert_eq!(patch.attributes()["n"], "1250.5");
        // Markup meets the rules `set` applies: stripped with `sanitize-html`, refused
        // without it.
        let markup = json!({"tier": "<b>gold</b>"});
        let from_json = AttributePatch::from_json(&schema, &markup);
        let from_set = AttributePatch::builder(&schema)
            .set("tier", "<b>gold</b>")
            .build();
        assert_eq!(format!("{from_json:?}"), format!("{from_set:?}"));
        #[cfg(feature = "sanitize-html")]
        assert_eq!(from_json.unwrap().sanitized_keys(), ["tier"]);
        #[cfg(not(feature = "sanitize-html"))]
        assert_eq!(from_json.unwrap_err().violations()[0].rule, "markup");
        let ints = json!({"n": -42, "flag": true});
        let patch = AttributePatch::from_json(&schema, &ints).unwrap();
        assert_eq!(patch.attributes()["n"], "-42");
        assert_eq!(patch.attributes()["flag"], "true");
    }

    #[test]
    fn null_arrays_and_objects_are_one_violation_per_key() {
        let schema = json_schema();
        let body = json!({
            "tier": null,
            "n": [1, 2],
            "flag": {"on": true},
            "extra": "fine",
            "nope": null,
            "sys:x": "reserved",
        });
        let err = AttributePatch::from_json(&schema, &body).unwrap_err();
        let found: Vec<(&str, &str)> = err
            .violations()
            .iter()
            .map(|v| (v.field.as_str(), v.rule))
            .collect();
        assert_eq!(
            found,
            [
                ("attributes.flag", "object_value"),
                ("attributes.n", "array_value"),
                ("attributes.nope", "unknown_key"),
                ("attributes.sys:x", "reserved_namespace"),
                ("attributes.tier", "null_value"),
            ]
        );
        // The schema's types hold for JSON too.
        let err = AttributePatch::from_json(&schema, &json!({"n": "12", "tier": 3})).unwrap_err();
        assert!(err.has("attributes.n", "type_mismatch"));
        assert!(err.has("attributes.tier", "type_mismatch"));
    }

    #[test]
    fn only_an_object_is_a_patch_and_a_later_setting_wins() {
        let schema = json_schema();
        for body in [json!(null), json!([]), json!("tier"), json!(1)] {
            let err = AttributePatch::from_json(&schema, &body).unwrap_err();
            assert_eq!(err.violations().len(), 1);
            assert!(err.has("attributes", "not_object"));
        }
        assert!(AttributePatch::from_json(&schema, &json!({}))
            .unwrap_err()
            .has("attributes", "empty"));
        let map = json!({"tier": null});
        let patch = AttributePatch::builder(&schema)
            .set_json(map.as_object().unwrap())
            .set("tier", "gold")
            .build()
            .unwrap();
        assert_eq!(patch.attributes()["tier"], "gold");
        let map = json!({"tier": ["gold"]});
        let err = AttributePatch::builder(&schema)
            .set("tier", "gold")
            .set_json(map.as_object().unwrap())
            .build()
            .unwrap_err();
        assert!(err.has("attributes.tier", "array_value"));
    }

    #[test]
    fn serializes_as_the_platform_body() {
        let schema = AttributeSchema::new()
            .key("tier", KeySpec::string())
            .key("n", KeySpec::number());
        let patch = AttributePatch::builder(&schema)
            .set("tier", "gold")
            .set("n", 3)
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!({"attributes": {"tier": "gold", "n": "3"}})
        );
    }

    #[test]
    fn canonical_numbers() {
        let cases = [
            (1250.50, "1250.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "0"),
            (1e21, "1000000000000000000000"),
            (1e-7, "0.0000001"),
            (-3.0, "-3"),
        ];
        for (n, want) in cases {
            assert_eq!(canonical_number(n).as_deref(), Some(want), "{n}");
        }
        assert_eq!(canonical_number(f64::NAN), None);
        assert_eq!(canonical_number(f64::INFINITY), None);
    }
}
