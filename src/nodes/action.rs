//! A Data Action definition, validated as a whole before it is sent or run.
//!
//! The action is kept as the platform's JSON document (what `to_platform` returns and
//! `create_draft` sends); the builder edits that document, so an action read with
//! [`DataAction::from_platform`] goes back out with every field it came with.
//!
//! Why not `genesys-cloud-api`'s generated `Action` model (issue #16): a typed model drops
//! what it does not know on the way back out, and an action's contract holds JSON Schemas
//! and templates that must round-trip byte for byte; the document is the model. The JSON
//! names are the SDK's (`Action`, `ActionContract`, `RequestConfig`, `ResponseConfig`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::jsonpath::TranslationPath;
use super::lint::{InputInfo, Kind, Lint, LintFinding};
use super::template::{Access, Bindings, Credentials, Node, Template};
use crate::validation::{ValidationError, Violations};

/// HTTP methods a Data Action may use (the platform's `requestType` values).
pub const METHODS: &[&str] = &["GET", "PUT", "POST", "PATCH", "DELETE"];

/// Timeout range, seconds (developer center: "Optional 1-60 second timeout"; default 60).
pub const TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 1..=60;

/// Longest name and category (platform models: "Can be up to 256 characters long").
pub const MAX_NAME_CHARS: usize = 256;

/// Input property names the platform reserves.
pub const RESERVED_INPUTS: &[&str] = &["orgId", "integrationId", "rawRequest"];

/// Input property types the platform accepts (a flat object of primitives).
pub const INPUT_TYPES: &[&str] = &["string", "integer", "number", "boolean", "null"];

/// The default request template: the whole input as the body.
pub const DEFAULT_REQUEST_TEMPLATE: &str = "${input.rawRequest}";

/// The default success template: the whole response as the output.
pub const DEFAULT_SUCCESS_TEMPLATE: &str = "${rawResult}";

/// The `PostActionInput` fields (`POST /api/v2/integrations/actions/drafts`).
const POST_FIELDS: &[&str] = &[
    "category",
    "name",
    "integrationId",
    "secure",
    "config",
    "contract",
];

/// What [`DataActionBuilder::build`] does with lint findings (see [`super::lint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LintLevel {
    /// Findings are violations: `build()` refuses the action (the builder's default).
    #[default]
    Deny,
    /// Findings are kept on the action ([`DataAction::lint`]) and `build()` succeeds
    /// (what [`DataAction::from_platform`] does: the action already exists).
    Warn,
}

/// A validated Data Action: the platform's document, with its templates, paths and
/// schemas compiled once.
///
/// Serializes as its platform document.
#[derive(Clone)]
pub struct DataAction {
    document: Value,
    compiled: Arc<Compiled>,
}

impl fmt::Debug for DataAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataAction")
            .field("name", &self.compiled.name)
            .field("category", &self.compiled.category)
            .field("method", &self.compiled.method)
            .field("url", &self.compiled.url.source())
            .field("lint_findings", &self.compiled.findings.len())
            .finish_non_exhaustive()
    }
}

impl Serialize for DataAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.document.serialize(s)
    }
}

struct Compiled {
    name: String,
    category: String,
    integration_id: String,
    method: String,
    url: Template,
    /// A path on the org's own API (Genesys Cloud Data Actions integration).
    url_relative: bool,
    headers: Vec<(String, Template)>,
    body: Option<Template>,
    translations: Vec<Translation>,
    success: Template,
    timeout_seconds: u32,
    input_schema: jsonschema::Validator,
    success_schema: jsonschema::Validator,
    findings: Vec<LintFinding>,
}

struct Translation {
    name: String,
    path: TranslationPath,
    /// `translationMapDefaults` text, inserted as written.
    default: Option<String>,
}

/// A rendered request, ready to send. Its `Debug` shows the method, the sizes and the
/// header names only: URL, header values and body carry input values and credentials.
#[derive(Clone, PartialEq)]
pub struct PreparedRequest {
    /// HTTP method.
    pub method: String,
    /// The URL: absolute, or a path on the org's API for Genesys Cloud data actions.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body, for methods that carry one.
    pub body: Option<String>,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("method", &self.method)
            .field("url", &format_args!("<{} bytes>", self.url.len()))
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field(
                "body",
                &self.body.as_ref().map(|b| format!("<{} bytes>", b.len())),
            )
            .finish()
    }
}

/// `schema` violations, named by place and keyword, never by the value that broke them.
fn schema_problems(
    root: &str,
    validator: &jsonschema::Validator,
    instance: &Value,
) -> Vec<(String, String)> {
    validator
        .iter_errors(instance)
        .map(|e| {
            let path = e.instance_path().to_string();
            let field = if path.is_empty() {
                root.to_owned()
            } else {
                format!("{root}{}", path.replace('/', "."))
            };
            let message = match e.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => format!(
                    "the required property `{}` is missing",
                    property.as_str().unwrap_or("?")
                ),
                jsonschema::error::ValidationErrorKind::Type { kind } => {
                    format!("the value is not of the type the schema declares ({kind:?})")
                }
                kind => format!(
                    "the value does not satisfy `{}` of the schema",
                    kind.keyword()
                ),
            };
            (field, message)
        })
        .collect()
}

impl DataAction {
    /// A builder; `integration_id` is the web-services data actions integration the
    /// action belongs to.
    pub fn builder(
        category: impl Into<String>,
        name: impl Into<String>,
        integration_id: impl Into<String>,
    ) -> DataActionBuilder {
        let doc = json!({
            "category": category.into(),
            "name": name.into(),
            "integrationId": integration_id.into(),
            "secure": false,
            "config": {
                "timeoutSeconds": 60,
                "request": {
                    "requestUrlTemplate": "",
                    "requestType": "GET",
                    "headers": {},
                    "requestTemplate": DEFAULT_REQUEST_TEMPLATE,
                },
                "response": {
                    "translationMap": {},
                    "translationMapDefaults": {},
                    "successTemplate": DEFAULT_SUCCESS_TEMPLATE,
                },
            },
            "contract": {
                "input": { "inputSchema": {"type": "object", "properties": {}} },
                "output": { "successSchema": {"type": "object", "properties": {}} },
            },
        });
        DataActionBuilder {
            doc: match doc {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            imported: false,
            trusted: BTreeSet::new(),
            lint: LintLevel::Deny,
        }
    }

    /// An action from the platform's JSON: an `Action` as returned by
    /// `GET /api/v2/integrations/actions/{id}?includeConfig=true&expand=contract`, a
    /// `PostActionInput`, or an export from the Genesys Cloud UI (which has no
    /// `category` or `integrationId`). Rules the platform enforces are checked; lint
    /// findings are kept on the action ([`DataAction::lint`]) instead of refusing it,
    /// since the action exists as it is. [`DataAction::to_platform`] gives the document
    /// back unchanged.
    pub fn from_platform(action: &Value) -> Result<DataAction, ValidationError> {
        DataActionBuilder::from_platform(action)
            .lint_level(LintLevel::Warn)
            .build()
    }

    /// The platform document: every field it was read with, or the `PostActionInput`
    /// the builder made.
    pub fn to_platform(&self) -> Value {
        self.document.clone()
    }

    /// The body of `POST .../actions/drafts` (`PostActionInput`).
    pub(crate) fn post_body(&self) -> Value {
        let mut body = Map::new();
        if let Value::Object(doc) = &self.document {
            for key in POST_FIELDS {
                if let Some(v) = doc.get(*key) {
                    body.insert((*key).to_owned(), v.clone());
                }
            }
        }
        Value::Object(body)
    }

    /// The body of `PATCH .../draft` (`UpdateDraftInput`) for draft `version`.
    pub(crate) fn update_body(&self, version: i64) -> Value {
        let mut body = Map::new();
        if let Value::Object(doc) = &self.document {
            for key in ["category", "name", "secure", "config", "contract"] {
                if let Some(v) = doc.get(key) {
                    body.insert(key.to_owned(), v.clone());
                }
            }
        }
        body.insert("version".into(), json!(version));
        Value::Object(body)
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.compiled.name
    }

    /// The action's category (empty for an export).
    pub fn category(&self) -> &str {
        &self.compiled.category
    }

    /// The integration it belongs to (empty for an export).
    pub fn integration_id(&self) -> &str {
        &self.compiled.integration_id
    }

    /// The timeout, seconds.
    pub fn timeout_seconds(&self) -> u32 {
        self.compiled.timeout_seconds
    }

    /// Whether the URL is a path on the org's own API (the Genesys Cloud Data Actions
    /// integration), rather than an absolute URL.
    pub fn calls_genesys_cloud(&self) -> bool {
        self.compiled.url_relative
    }

    /// What the lint found (empty for an action built with [`LintLevel::Deny`]).
    pub fn lint(&self) -> &[LintFinding] {
        &self.compiled.findings
    }

    /// Checks `input` against the input contract; every violation at once. Messages
    /// name the property and the rule, never the value.
    pub fn check_input(&self, input: &Value) -> Result<(), ValidationError> {
        let mut v = Violations::default();
        for (field, message) in schema_problems("input", &self.compiled.input_schema, input) {
            v.push(field, "input_schema", message);
        }
        v.finish()
    }

    /// Renders the request for `input` (which should have passed
    /// [`DataAction::check_input`]), without credentials.
    pub fn prepare(&self, input: &Value) -> Result<PreparedRequest, ValidationError> {
        self.prepare_with(input, &Credentials::new())
    }

    /// Renders the request for `input` with the integration's `credentials`.
    pub fn prepare_with(
        &self,
        input: &Value,
        credentials: &Credentials,
    ) -> Result<PreparedRequest, ValidationError> {
        let c = &self.compiled;
        let bindings = Bindings::new().input(input).credentials(credentials);
        let mut v = Violations::default();
        let url = c
            .url
            .render(&bindings)
            .map_err(|e| v.extend(e.into_validation("requestUrlTemplate")))
            .ok();
        let mut headers = Vec::new();
        for (name, template) in &c.headers {
            match template.render(&bindings) {
                Ok(value) => headers.push((name.clone(), value)),
                Err(e) => v.extend(e.into_validation(&format!("headers.{name}"))),
            }
        }
        let body = match &c.body {
            Some(template) => template
                .render(&bindings)
                .map_err(|e| v.extend(e.into_validation("requestTemplate")))
                .ok(),
            None => None,
        };
        v.finish()?;
        Ok(PreparedRequest {
            method: c.method.clone(),
            url: url.unwrap_or_default(),
            headers,
            body,
        })
    }

    /// The output for a response `body` (its text): translation map, success template,
    /// output contract. `Err` lists every problem (without values).
    pub(crate) fn translate(
        &self,
        body: &str,
        input: Option<&Value>,
    ) -> Result<Value, Vec<String>> {
        let c = &self.compiled;
        let doc: Value = if c.translations.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).map_err(|e| {
                vec![format!(
                    "the response is not JSON, so the translation map cannot read it ({})",
                    e.classify_name()
                )]
            })?
        };
        let mut texts: Vec<(&str, String)> = Vec::new();
        let mut problems = Vec::new();
        for t in &c.translations {
            match (t.path.evaluate(&doc), &t.default) {
                (Some(value), _) => {
                    let mut text = String::new();
                    super::template::jackson_json(&value, &mut text);
                    texts.push((&t.name, text));
                }
                (None, Some(default)) => texts.push((&t.name, default.clone())),
                (None, None) => problems.push(format!(
                    "translation `{}`: the path `{}` matched nothing and there is no default",
                    t.name,
                    t.path.as_str()
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut bindings = Bindings::new().raw_result(body);
        if let Some(input) = input {
            bindings = bindings.input(input);
        }
        for (name, text) in &texts {
            bindings = bindings.translation(name, text);
        }
        let rendered = c
            .success
            .render(&bindings)
            .map_err(|e| vec![format!("success template: {e}")])?;
        let output: Value = serde_json::from_str(&rendered).map_err(|e| {
            vec![format!(
                "success template: the rendered output is not JSON (line {}, column {}): escape values, or insert translations without quotes",
                e.line(),
                e.column()
            )]
        })?;
        let errors: Vec<String> = schema_problems("output", &c.success_schema, &output)
            .into_iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect();
        if errors.is_empty() {
            Ok(output)
        } else {
            Err(errors)
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "data error",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// Edits a Data Action's document; [`DataActionBuilder::build`] checks it all.
///
/// Templates are Velocity, rendered as the platform renders them: escape values where
/// they land (`$esc.jsonString(…)` inside JSON strings, `$esc.uriEncode(…)` in URLs),
/// or `build()` refuses the action naming the template, the position and the fix.
///
/// ```
/// use genesys_cloud::nodes::DataAction;
/// use serde_json::json;
///
/// let action = DataAction::builder("External System", "ExternalRESTNode", "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41")
///     .input_schema(json!({
///         "type": "object",
///         "required": ["targetId"],
///         "properties": {"targetId": {"type": "string"}, "requestPayload": {"type": "string"}}
///     }))
///     .success_schema(json!({"type": "object", "properties": {"status": {"type": "string"}}}))
///     .request("POST", "https://api.external-system.com/v1/resources/$esc.uriEncode(${input.targetId})")
///     .request_template(r#"{"resourceId": "$esc.jsonString(${input.targetId})", "data": "$!esc.jsonString($!{input.requestPayload})"}"#)
///     .build()?;
/// assert_eq!(action.name(), "ExternalRESTNode");
///
/// // Unescaped, the input would break the JSON body on the platform:
/// let err = DataAction::builder("c", "n", "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41")
///     .input_schema(json!({"type": "object", "properties": {"x": {"type": "string"}}}))
///     .request("POST", "https://api.example.com/v1/items")
///     .request_template(r#"{"x": "${input.x}"}"#)
///     .build()
///     .unwrap_err();
/// assert!(err.has("requestTemplate", "json_string_unescaped"));
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DataActionBuilder {
    doc: Map<String, Value>,
    /// Read from the platform: category and integration id may be absent (exports).
    imported: bool,
    trusted: BTreeSet<String>,
    lint: LintLevel,
}

/// A `{{input.x}}` placeholder (spaces allowed) as Velocity's `${input.x}`.
fn convert_placeholders(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let converted = after.find("}}").and_then(|end| {
            let inner = after[..end].trim();
            let name = inner.strip_prefix("input.")?;
            let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            ok.then(|| (format!("${{input.{name}}}"), end + 2))
        });
        match converted {
            Some((reference, len)) => {
                out.push_str(&reference);
                rest = &after[len..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl DataActionBuilder {
    /// A builder holding the platform's JSON of an action (see
    /// [`DataAction::from_platform`]): change what you need (e.g. set
    /// [`integration_id`](Self::integration_id) and [`category`](Self::category) on an
    /// export before creating it in an org), then `build()` with the builder's lint.
    pub fn from_platform(action: &Value) -> DataActionBuilder {
        DataActionBuilder {
            doc: action.as_object().cloned().unwrap_or_default(),
            imported: true,
            trusted: BTreeSet::new(),
            lint: LintLevel::Deny,
        }
    }

    /// The object at `path` in the document, created (or replaced if not an object).
    fn object(&mut self, path: &[&str]) -> Option<&mut Map<String, Value>> {
        let mut map = &mut self.doc;
        for key in path {
            let slot = map
                .entry((*key).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = slot.as_object_mut()?;
        }
        Some(map)
    }

    fn set(mut self, path: &[&str], key: &str, value: Value) -> Self {
        if let Some(map) = self.object(path) {
            map.insert(key.to_owned(), value);
        }
        self
    }

    /// The action's name.
    pub fn name(self, name: impl Into<String>) -> Self {
        self.set(&[], "name", Value::String(name.into()))
    }

    /// The action's category.
    pub fn category(self, category: impl Into<String>) -> Self {
        self.set(&[], "category", Value::String(category.into()))
    }

    /// The web-services data actions integration the action belongs to.
    pub fn integration_id(self, id: impl Into<String>) -> Self {
        self.set(&[], "integrationId", Value::String(id.into()))
    }

    /// The input contract: a JSON Schema of a flat object of primitives.
    pub fn input_schema(self, schema: Value) -> Self {
        self.set(&["contract", "input"], "inputSchema", schema)
    }

    /// The output contract: a JSON Schema the success template's result must match.
    pub fn success_schema(self, schema: Value) -> Self {
        self.set(&["contract", "output"], "successSchema", schema)
    }

    /// The HTTP method and the URL template: an absolute `https` URL, or a path such
    /// as `/api/v2/...` for the Genesys Cloud Data Actions integration (the org's own
    /// API). A `{{input.x}}` placeholder is stored as `${input.x}`.
    pub fn request(self, method: impl Into<String>, url_template: impl Into<String>) -> Self {
        self.set(
            &["config", "request"],
            "requestType",
            Value::String(method.into()),
        )
        .set(
            &["config", "request"],
            "requestUrlTemplate",
            Value::String(convert_placeholders(&url_template.into())),
        )
    }

    /// A request header; the value is a template (`Basic $encoding.base64(…)`,
    /// `Bearer ${credentials.token}` …).
    pub fn header(self, name: impl Into<String>, value_template: impl Into<String>) -> Self {
        let value = convert_placeholders(&value_template.into());
        let name = name.into();
        self.set(
            &["config", "request", "headers"],
            &name,
            Value::String(value),
        )
    }

    /// The request body template (default `${input.rawRequest}`: the input as JSON).
    pub fn request_template(self, template: impl Into<String>) -> Self {
        self.set(
            &["config", "request"],
            "requestTemplate",
            Value::String(convert_placeholders(&template.into())),
        )
    }

    /// Maps output value `name` to a JSONPath into the response (Jayway's rules: see
    /// [`TranslationPath`]).
    pub fn translation(self, name: impl Into<String>, json_path: impl Into<String>) -> Self {
        let name = name.into();
        self.set(
            &["config", "response", "translationMap"],
            &name,
            Value::String(json_path.into()),
        )
    }

    /// The JSON text (e.g. `"\"unknown\""`, `0`, `[]`) inserted for `name` when its path
    /// fails to resolve (not when it resolves to `null`).
    pub fn translation_default(
        self,
        name: impl Into<String>,
        json_text: impl Into<String>,
    ) -> Self {
        let name = name.into();
        self.set(
            &["config", "response", "translationMapDefaults"],
            &name,
            Value::String(json_text.into()),
        )
    }

    /// The success template (default `${rawResult}`); references translation names
    /// (JSON text: insert them without quotes) and `rawResult`.
    pub fn success_template(self, template: impl Into<String>) -> Self {
        self.set(
            &["config", "response"],
            "successTemplate",
            Value::String(convert_placeholders(&template.into())),
        )
    }

    /// Timeout of one execution, 1 to 60 seconds (default 60).
    pub fn timeout_seconds(self, seconds: u32) -> Self {
        self.set(&["config"], "timeoutSeconds", json!(seconds))
    }

    /// Whether the action handles sensitive data (the platform then keeps its inputs
    /// and outputs out of logs).
    pub fn secure(self, secure: bool) -> Self {
        self.set(&[], "secure", Value::Bool(secure))
    }

    /// Marks input `name` as safe to insert unescaped: the lint's escaping rules skip
    /// its references (for values the author controls, or JSON fragments spliced into
    /// a body on purpose).
    pub fn trusted_input(mut self, name: impl Into<String>) -> Self {
        self.trusted.insert(name.into());
        self
    }

    /// What lint findings do at `build()` (default [`LintLevel::Deny`]).
    pub fn lint_level(mut self, level: LintLevel) -> Self {
        self.lint = level;
        self
    }

    /// Checks every rule and returns the action, or every violation found.
    pub fn build(self) -> Result<DataAction, ValidationError> {
        let mut v = Violations::default();
        let doc = &self.doc;
        let text = |v: &mut Violations, value: Option<&Value>, field: &str| -> Option<String> {
            match value {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    v.push(field, "string", format!("`{field}` must be a string"));
                    None
                }
            }
        };
        let request = doc.get("config").and_then(|c| c.get("request"));
        let response = doc.get("config").and_then(|c| c.get("response"));

        let name = text(&mut v, doc.get("name"), "name").unwrap_or_default();
        let category = text(&mut v, doc.get("category"), "category");
        let integration_id = text(&mut v, doc.get("integrationId"), "integrationId");
        for (field, value, required) in [
            ("name", Some(&name), true),
            ("category", category.as_ref(), !self.imported),
            ("integrationId", integration_id.as_ref(), false),
        ] {
            let chars = value.map_or(0, |s| s.trim().chars().count());
            if field != "integrationId" {
                v.check(
                    chars > 0 || !required,
                    field,
                    "required",
                    format!("set the action's {field}"),
                );
                v.check(
                    chars <= MAX_NAME_CHARS,
                    field,
                    "max_length",
                    format!("{chars} characters; at most {MAX_NAME_CHARS} are allowed"),
                );
            }
        }
        if !self.imported {
            v.check(
                integration_id
                    .as_ref()
                    .is_some_and(|i| !i.trim().is_empty()),
                "integrationId",
                "required",
                "name the web-services data actions integration the action belongs to",
            );
        }
        if let Some(secure) = doc.get("secure") {
            v.check(
                secure.is_boolean(),
                "secure",
                "boolean",
                "`secure` is true or false",
            );
        }
        let method = text(
            &mut v,
            request.and_then(|r| r.get("requestType")),
            "requestType",
        )
        .unwrap_or_default();
        v.check(
            METHODS.contains(&method.as_str()),
            "requestType",
            "method",
            format!("the method must be one of {}", METHODS.join(", ")),
        );
        let timeout_seconds = match doc.get("config").and_then(|c| c.get("timeoutSeconds")) {
            None => 60,
            Some(t) => match t.as_u64().and_then(|t| u32::try_from(t).ok()) {
                Some(t) => t,
                None => {
                    v.push(
                        "timeoutSeconds",
                        "range",
                        "`timeoutSeconds` is a number of seconds, 1 to 60",
                    );
                    60
                }
            },
        };
        v.check(
            TIMEOUT_SECONDS.contains(&timeout_seconds),
            "timeoutSeconds",
            "range",
            format!("{timeout_seconds} s is outside 1..=60 s"),
        );

        let default_schema = json!({"type": "object", "properties": {}});
        let input_schema_doc = doc
            .get("contract")
            .and_then(|c| c.get("input"))
            .and_then(|i| i.get("inputSchema"))
            .unwrap_or(&default_schema);
        let success_schema_doc = doc
            .get("contract")
            .and_then(|c| c.get("output"))
            .and_then(|o| o.get("successSchema"))
            .unwrap_or(&default_schema);
        let declared = check_input_schema(input_schema_doc, &mut v);
        let input_schema = compile_schema(
            "contract.input.inputSchema",
            input_schema_doc,
            &["object"],
            &mut v,
        );
        let success_schema = compile_schema(
            "contract.output.successSchema",
            success_schema_doc,
            &["object", "array"],
            &mut v,
        );

        // Templates.
        let url_source = text(
            &mut v,
            request.and_then(|r| r.get("requestUrlTemplate")),
            "requestUrlTemplate",
        )
        .unwrap_or_default();
        let url = parse_template("requestUrlTemplate", &url_source, &mut v);
        let url_relative = url.as_ref().is_some_and(|u| check_url(u, &mut v));
        let mut headers = Vec::new();
        let header_docs: Vec<(String, Value)> = match request.and_then(|r| r.get("headers")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(h)) => h.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => {
                v.push(
                    "headers",
                    "object",
                    "`headers` is an object of name to template",
                );
                Vec::new()
            }
        };
        let mut form_body = false;
        for (name, value) in &header_docs {
            let field = format!("headers.{name}");
            let Some(value) = text(&mut v, Some(value), &field) else {
                continue;
            };
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                v.push(
                    &field,
                    "header_name",
                    format!("`{name}` is not a valid header name"),
                );
            }
            if name.eq_ignore_ascii_case("accept") && !value.to_ascii_lowercase().contains("json") {
                v.push(
                    &field,
                    "accept_json",
                    "the platform only accepts JSON media types in `Accept`",
                );
            }
            if name.eq_ignore_ascii_case("content-type")
                && value.to_ascii_lowercase().contains("x-www-form-urlencoded")
            {
                form_body = true;
            }
            if value.contains(['\r', '\n']) {
                v.push(
                    &field,
                    "header_injection",
                    "header values must not contain line breaks",
                );
            }
            if let Some(t) = parse_template(&field, &value, &mut v) {
                headers.push((name.clone(), t));
            }
        }
        let body_source = text(
            &mut v,
            request.and_then(|r| r.get("requestTemplate")),
            "requestTemplate",
        )
        .unwrap_or_else(|| DEFAULT_REQUEST_TEMPLATE.to_owned());
        let carries_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
        let body = parse_template("requestTemplate", &body_source, &mut v);

        // Translation map and success template.
        let map_of =
            |v: &mut Violations, value: Option<&Value>, field: &str| -> BTreeMap<String, String> {
                match value {
                    None | Some(Value::Null) => BTreeMap::new(),
                    Some(Value::Object(m)) => m
                        .iter()
                        .filter_map(|(k, val)| match val {
                            Value::String(s) => Some((k.clone(), s.clone())),
                            _ => {
                                v.push(format!("{field}.{k}"), "string", "values are strings");
                                None
                            }
                        })
                        .collect(),
                    Some(_) => {
                        v.push(field, "object", format!("`{field}` is an object"));
                        BTreeMap::new()
                    }
                }
            };
        let translation_map = map_of(
            &mut v,
            response.and_then(|r| r.get("translationMap")),
            "translationMap",
        );
        let translation_defaults = map_of(
            &mut v,
            response.and_then(|r| r.get("translationMapDefaults")),
            "translationMapDefaults",
        );
        let mut translations = Vec::new();
        for (name, path) in &translation_map {
            match TranslationPath::parse(path) {
                Ok(parsed) => translations.push(Translation {
                    name: name.clone(),
                    path: parsed,
                    default: translation_defaults.get(name).cloned(),
                }),
                Err(e) => v.push(format!("translationMap.{name}"), "json_path", e),
            }
        }
        let success_source = text(
            &mut v,
            response.and_then(|r| r.get("successTemplate")),
            "successTemplate",
        )
        .unwrap_or_else(|| DEFAULT_SUCCESS_TEMPLATE.to_owned());
        let success = parse_template("successTemplate", &success_source, &mut v);

        // The lint.
        let mut findings = Vec::new();
        let names: BTreeSet<String> = translation_map.keys().cloned().collect();
        let mut lint = |name: &str, template: &Template, kind: Kind| {
            Lint {
                name,
                template,
                kind,
                inputs: &declared,
                trusted: &self.trusted,
                translations: &names,
            }
            .run(&mut findings);
        };
        if let Some(url) = &url {
            lint("requestUrlTemplate", url, Kind::Url);
        }
        for (name, template) in &headers {
            lint(&format!("headers.{name}"), template, Kind::Header);
        }
        if let (Some(body), true) = (&body, carries_body) {
            let trimmed = body_source.trim_start();
            let kind = if form_body {
                Kind::FormBody
            } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
                Kind::JsonBody
            } else {
                Kind::OtherBody
            };
            lint("requestTemplate", body, kind);
        }
        if let Some(success) = &success {
            lint("successTemplate", success, Kind::Success);
        }
        for (name, text) in &translation_defaults {
            let field = format!("translationMapDefaults.{name}");
            if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                findings.push(finding(
                    "default_not_json",
                    &field,
                    "the default is not JSON text, and is inserted as written: write a string as `\"\\\"text\\\"\"`, or a number, `[]`, `null`",
                ));
            }
            if !translation_map.contains_key(name) {
                findings.push(finding(
                    "no_translation",
                    &field,
                    &format!("`{name}` has a default but no translation map entry"),
                ));
            }
        }
        unused_required(
            input_schema_doc,
            &declared,
            [
                url.as_ref(),
                if carries_body { body.as_ref() } else { None },
            ]
            .into_iter()
            .flatten()
            .chain(headers.iter().map(|(_, t)| t)),
            &mut findings,
        );
        if self.lint == LintLevel::Deny {
            for f in &findings {
                v.push(&f.template, f.rule, f.to_string());
            }
        }

        v.finish()?;
        let (Some(url), Some(success), Some(input_schema), Some(success_schema)) =
            (url, success, input_schema, success_schema)
        else {
            // Each of these recorded a violation when missing.
            return Err(ValidationError::single(
                "action",
                "invalid",
                "the action could not be compiled",
            ));
        };
        Ok(DataAction {
            document: Value::Object(self.doc),
            compiled: Arc::new(Compiled {
                name: name.trim().to_owned(),
                category: category.unwrap_or_default().trim().to_owned(),
                integration_id: integration_id.unwrap_or_default().trim().to_owned(),
                method,
                url,
                url_relative,
                headers,
                body: if carries_body { body } else { None },
                translations,
                success,
                timeout_seconds,
                input_schema,
                success_schema,
                findings,
            }),
        })
    }
}

fn finding(rule: &'static str, template: &str, message: &str) -> LintFinding {
    LintFinding {
        rule,
        template: template.to_owned(),
        line: 0,
        column: 0,
        message: message.to_owned(),
    }
}

/// `unused_required_input`: a required input no request template reads, unless its
/// `description` says why it is required.
fn unused_required<'t>(
    schema: &Value,
    declared: &BTreeMap<String, InputInfo>,
    templates: impl Iterator<Item = &'t Template>,
    findings: &mut Vec<LintFinding>,
) {
    let mut used = BTreeSet::new();
    let mut all = false;
    for template in templates {
        for r in template.references() {
            if &*r.root != "input" {
                continue;
            }
            match r.chain.first() {
                Some(Access::Property(p)) if &**p == "rawRequest" => all = true,
                Some(Access::Property(p)) => {
                    used.insert(p.to_string());
                }
                // `$input` itself, `$input.get(…)`: every input may be read.
                _ => all = true,
            }
        }
    }
    if all {
        return;
    }
    let documented = |name: &str| {
        schema["properties"][name]["description"]
            .as_str()
            .is_some_and(|d| !d.trim().is_empty())
    };
    for (name, info) in declared {
        if info.required && !used.contains(name) && !documented(name) {
            findings.push(finding(
                "unused_required_input",
                &format!("contract.input.inputSchema.properties.{name}"),
                &format!("required input `{name}` is not used by any template; use it, or give it a `description` saying why it is required"),
            ));
        }
    }
}

fn parse_template(field: &str, source: &str, v: &mut Violations) -> Option<Template> {
    Template::parse(source)
        .map_err(|e| v.extend(e.into_validation(field)))
        .ok()
}

fn compile_schema(
    field: &str,
    schema: &Value,
    types: &[&str],
    v: &mut Violations,
) -> Option<jsonschema::Validator> {
    let ty = schema.get("type").and_then(Value::as_str);
    if !ty.is_some_and(|t| types.contains(&t)) {
        v.push(
            field,
            "object_schema",
            format!(
                "the contract must describe {} (`\"type\": \"{}\"`)",
                if types.len() > 1 {
                    "an object or an array"
                } else {
                    "an object"
                },
                types.join("\"` or `\"")
            ),
        );
    }
    if schema.to_string().contains("\"$ref\"") {
        v.push(field, "no_ref", "contracts do not support `$ref`");
    }
    jsonschema::validator_for(schema)
        .map_err(|e| v.push(field, "schema", format!("the schema does not compile: {e}")))
        .ok()
}

/// The input contract's properties, recording violations of the platform's rules: a
/// flat object of primitives with letter-first names.
fn check_input_schema(schema: &Value, v: &mut Violations) -> BTreeMap<String, InputInfo> {
    let mut declared = BTreeMap::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return declared;
    };
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, spec) in properties {
        let field = format!("contract.input.inputSchema.properties.{name}");
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        v.check(
            name_ok,
            &field,
            "input_name",
            "input names start with a letter and contain only letters, digits, `-` and `_`",
        );
        v.check(
            !RESERVED_INPUTS.contains(&name.as_str()),
            &field,
            "reserved_input",
            format!("`{name}` is reserved by the platform"),
        );
        let types: Vec<&str> = match spec.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        v.check(
            !types.is_empty() && types.iter().all(|t| INPUT_TYPES.contains(t)),
            &field,
            "input_type",
            format!(
                "input properties are {}; no objects or arrays",
                INPUT_TYPES.join(", ")
            ),
        );
        declared.insert(
            name.clone(),
            InputInfo {
                string: types.contains(&"string"),
                required: required.contains(name.as_str()),
            },
        );
    }
    declared
}

/// Checks the URL's literal start; `true` for a path on the org's API (`/api/v2/…`).
fn check_url(url: &Template, v: &mut Violations) -> bool {
    let nodes = url.nodes();
    let prefix = match nodes.first() {
        Some(Node::Text(t)) => t.to_string(),
        // The URL starts with a reference (`${credentials.loginUrl}`): nothing to check.
        Some(_) => return false,
        None => String::new(),
    };
    if prefix.starts_with('/') && !prefix.starts_with("//") {
        return true;
    }
    let skeleton: String = nodes
        .iter()
        .map(|n| match n {
            Node::Text(t) => t.to_string(),
            _ => "x".to_owned(),
        })
        .collect();
    match url::Url::parse(&skeleton) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host_str().is_some() => {}
        // Plain http only to this machine, for local targets and tests.
        Ok(parsed) if parsed.scheme() == "http" && crate::transport::is_loopback(&parsed) => {}
        Ok(parsed) if parsed.scheme() != "https" => v.push(
            "requestUrlTemplate",
            "https",
            "the URL must use https (plain http only to this machine)",
        ),
        _ => v.push(
            "requestUrlTemplate",
            "absolute_url",
            "the URL template must be an absolute https URL (https://api.example.com/v1/items/$esc.uriEncode(${input.id})) or a path on the org's API (/api/v2/…)",
        ),
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_placeholders_become_references() {
        assert_eq!(
            convert_placeholders("a/{{input.id}}/{{ input.x_y }}"),
            "a/${input.id}/${input.x_y}"
        );
        assert_eq!(
            convert_placeholders("{{other}} {{input.}} {{input.a"),
            "{{other}} {{input.}} {{input.a"
        );
    }
}
