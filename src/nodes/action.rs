//! A Data Action definition, validated as a whole before it is sent or run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use serde_json_path::JsonPath;

use super::template::{Access, Bindings, Node, Template};
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

/// A validated Data Action: contract, request and response configuration, with its
/// templates, paths and schemas compiled once.
///
/// Serializes as the platform's `PostActionInput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataAction {
    category: String,
    name: String,
    integration_id: String,
    secure: bool,
    config: Value,
    contract: Value,
    #[serde(skip)]
    compiled: Arc<Compiled>,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) method: String,
    pub(crate) url: Template,
    pub(crate) headers: Vec<(String, Template)>,
    pub(crate) body: Option<Template>,
    pub(crate) translations: Vec<(String, JsonPath, Option<Value>)>,
    pub(crate) success: Template,
    pub(crate) timeout_seconds: u32,
    /// Whether a request template uses `${input.rawRequest}` (the whole input).
    pub(crate) uses_raw_request: bool,
    pub(crate) input_schema: jsonschema::Validator,
    pub(crate) success_schema: jsonschema::Validator,
}

/// A rendered request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRequest {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// JSON body, for methods that carry one.
    pub body: Option<String>,
}

impl DataAction {
    /// A builder; `integration_id` is the web-services data actions integration the
    /// action belongs to.
    pub fn builder(
        category: impl Into<String>,
        name: impl Into<String>,
        integration_id: impl Into<String>,
    ) -> DataActionBuilder {
        DataActionBuilder {
            category: category.into(),
            name: name.into(),
            integration_id: integration_id.into(),
            secure: false,
            input_schema: json!({"type": "object", "properties": {}}),
            success_schema: json!({"type": "object", "properties": {}}),
            method: "GET".into(),
            url: String::new(),
            headers: BTreeMap::new(),
            request_template: DEFAULT_REQUEST_TEMPLATE.into(),
            translation_map: BTreeMap::new(),
            translation_defaults: BTreeMap::new(),
            success_template: DEFAULT_SUCCESS_TEMPLATE.into(),
            timeout_seconds: 60,
        }
    }

    /// A builder filled from the platform's JSON of an action (`Action` as returned by
    /// `GET /api/v2/integrations/actions/{id}?includeConfig=true`, or a `PostActionInput`
    /// as exported), so a stored action can be checked and run locally.
    pub fn from_platform(action: &Value) -> Result<DataAction, ValidationError> {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let map = |v: &Value| -> BTreeMap<String, String> {
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let request = &action["config"]["request"];
        let response = &action["config"]["response"];
        let mut builder = DataAction::builder(
            text(&action["category"]),
            text(&action["name"]),
            text(&action["integrationId"]),
        )
        .secure(action["secure"].as_bool().unwrap_or(false))
        .input_schema(action["contract"]["input"]["inputSchema"].clone())
        .success_schema(action["contract"]["output"]["successSchema"].clone())
        .request(
            text(&request["requestType"]),
            text(&request["requestUrlTemplate"]),
        )
        .timeout_seconds(
            action["config"]["timeoutSeconds"]
                .as_u64()
                .map_or(60, |t| t.min(u64::from(u32::MAX)) as u32),
        );
        if let Some(t) = request["requestTemplate"].as_str() {
            builder = builder.request_template(t);
        }
        if let Some(t) = response["successTemplate"].as_str() {
            builder = builder.success_template(t);
        }
        for (k, v) in map(&request["headers"]) {
            builder = builder.header(k, v);
        }
        for (k, v) in map(&response["translationMap"]) {
            builder = builder.translation(k, v);
        }
        for (k, v) in map(&response["translationMapDefaults"]) {
            builder = builder.translation_default(k, v);
        }
        builder.build()
    }

    /// The action's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The action's category.
    pub fn category(&self) -> &str {
        &self.category
    }

    /// The timeout, seconds.
    pub fn timeout_seconds(&self) -> u32 {
        self.compiled.timeout_seconds
    }

    /// The output for a raw response: translation map, success template, output contract.
    /// `Err` lists every problem.
    pub(crate) fn translate(&self, raw: &Value) -> Result<Value, Vec<String>> {
        translate(&self.compiled, raw)
    }

    /// The body of `PATCH .../draft` (`UpdateDraftInput`) for draft `version`.
    pub(crate) fn update_body(&self, version: i64) -> Value {
        json!({
            "category": self.category,
            "name": self.name,
            "secure": self.secure,
            "config": self.config,
            "contract": self.contract,
            "version": version,
        })
    }

    /// Checks `input` against the input contract; every violation at once.
    pub fn check_input(&self, input: &Value) -> Result<(), ValidationError> {
        let mut v = Violations::default();
        for error in self.compiled.input_schema.iter_errors(input) {
            let path = error.instance_path().to_string();
            let field = if path.is_empty() {
                "input".to_owned()
            } else {
                format!("input{}", path.replace('/', "."))
            };
            v.push(field, "input_schema", error.to_string());
        }
        v.finish()
    }

    /// Renders the request for `input` (which should have passed [`DataAction::check_input`]).
    pub fn prepare(&self, input: &Value) -> Result<PreparedRequest, ValidationError> {
        let c = &self.compiled;
        // Only a template naming `rawRequest` pays for copying the input.
        let with_raw;
        let inputs = if c.uses_raw_request {
            let mut copy = input.clone();
            if let Some(map) = copy.as_object_mut() {
                // The input itself: in a body `${input.rawRequest}` is the input object.
                map.entry("rawRequest").or_insert_with(|| input.clone());
            }
            with_raw = copy;
            &with_raw
        } else {
            input
        };
        let vars = Bindings::new().input(inputs);
        let mut v = Violations::default();
        let url = c
            .url
            .render(&vars)
            .map_err(|e| v.extend(e.into_validation("requestUrlTemplate")))
            .ok();
        let mut headers = Vec::new();
        for (name, template) in &c.headers {
            match template.render(&vars) {
                Ok(value) => headers.push((name.clone(), value)),
                Err(e) => v.extend(e.into_validation(&format!("headers.{name}"))),
            }
        }
        let body = match &c.body {
            Some(template) => template
                .render(&vars)
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
}

/// Collects a Data Action's definition; [`DataActionBuilder::build`] checks it all.
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
///     .request("POST", "https://api.external-system.com/v1/resources/${input.targetId}")
///     .request_template(r#"{"resourceId": "${input.targetId}", "data": "$!{input.requestPayload}"}"#)
///     .build()?;
/// assert_eq!(action.name(), "ExternalRESTNode");
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct DataActionBuilder {
    category: String,
    name: String,
    integration_id: String,
    secure: bool,
    input_schema: Value,
    success_schema: Value,
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    request_template: String,
    translation_map: BTreeMap<String, String>,
    translation_defaults: BTreeMap<String, String>,
    success_template: String,
    timeout_seconds: u32,
}

impl DataActionBuilder {
    /// The input contract: a JSON Schema of a flat object of primitives.
    pub fn input_schema(mut self, schema: Value) -> Self {
        self.input_schema = schema;
        self
    }

    /// The output contract: a JSON Schema the success template's result must match.
    pub fn success_schema(mut self, schema: Value) -> Self {
        self.success_schema = schema;
        self
    }

    /// The HTTP method and the URL template (`https`, with `${input.x}` references).
    pub fn request(mut self, method: impl Into<String>, url_template: impl Into<String>) -> Self {
        self.method = method.into();
        self.url = url_template.into();
        self
    }

    /// A request header; the value may reference inputs.
    pub fn header(mut self, name: impl Into<String>, value_template: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value_template.into());
        self
    }

    /// The request body template (default `${input.rawRequest}`: the input as JSON).
    pub fn request_template(mut self, template: impl Into<String>) -> Self {
        self.request_template = template.into();
        self
    }

    /// Maps output value `name` to a JSONPath into the response.
    pub fn translation(mut self, name: impl Into<String>, json_path: impl Into<String>) -> Self {
        self.translation_map.insert(name.into(), json_path.into());
        self
    }

    /// The value (JSON text, e.g. `"\"unknown\""` or `0`) used when `name`'s path matches nothing.
    pub fn translation_default(
        mut self,
        name: impl Into<String>,
        json_text: impl Into<String>,
    ) -> Self {
        self.translation_defaults
            .insert(name.into(), json_text.into());
        self
    }

    /// The success template (default `${rawResult}`); references translation names.
    pub fn success_template(mut self, template: impl Into<String>) -> Self {
        self.success_template = template.into();
        self
    }

    /// Timeout of one execution, 1 to 60 seconds (default 60).
    pub fn timeout_seconds(mut self, seconds: u32) -> Self {
        self.timeout_seconds = seconds;
        self
    }

    /// Whether the action handles sensitive data (the platform then keeps its inputs
    /// and outputs out of logs).
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Checks every rule and returns the action, or every violation found.
    pub fn build(self) -> Result<DataAction, ValidationError> {
        let mut v = Violations::default();
        for (field, value) in [("category", &self.category), ("name", &self.name)] {
            let chars = value.trim().chars().count();
            v.check(
                chars > 0,
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
        v.check(
            !self.integration_id.trim().is_empty(),
            "integrationId",
            "required",
            "name the web-services data actions integration the action belongs to",
        );
        v.check(
            METHODS.contains(&self.method.as_str()),
            "requestType",
            "method",
            format!("`{}` is not one of {}", self.method, METHODS.join(", ")),
        );
        v.check(
            TIMEOUT_SECONDS.contains(&self.timeout_seconds),
            "timeoutSeconds",
            "range",
            format!("{} s is outside 1..=60 s", self.timeout_seconds),
        );

        let declared = check_input_schema(&self.input_schema, &mut v);
        let input_schema = compile_schema("contract.input.inputSchema", &self.input_schema, &mut v);
        let success_schema = compile_schema(
            "contract.output.successSchema",
            &self.success_schema,
            &mut v,
        );

        let url = parse_template("requestUrlTemplate", &self.url, &mut v);
        if let Some(url) = &url {
            check_url(url, &mut v);
        }
        let mut headers = Vec::new();
        for (name, value) in &self.headers {
            let field = format!("headers.{name}");
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
            if value.contains(['\r', '\n']) {
                v.push(
                    &field,
                    "header_injection",
                    "header values must not contain line breaks",
                );
            }
            if let Some(t) = parse_template(&field, value, &mut v) {
                headers.push((name.clone(), t));
            }
        }
        let carries_body = matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        let body = if carries_body {
            parse_template("requestTemplate", &self.request_template, &mut v)
        } else {
            None
        };

        // Every input reference names a declared input.
        let mut used = BTreeSet::new();
        let mut uses_raw_request = false;
        let request_templates = [
            ("requestUrlTemplate", url.as_ref()),
            ("requestTemplate", body.as_ref()),
        ]
        .into_iter()
        .chain(headers.iter().map(|(n, t)| (n.as_str(), Some(t))));
        for (field, template) in request_templates {
            let Some(template) = template else { continue };
            for reference in template.references() {
                let field_name = match reference.chain.first() {
                    Some(Access::Property(p)) => Some(&**p),
                    _ => None,
                };
                match (&*reference.root, field_name) {
                    ("input", Some("rawRequest")) => {
                        uses_raw_request = true;
                        used.extend(declared.keys().cloned());
                    }
                    ("input", Some(name)) if declared.contains_key(name) => {
                        used.insert(name.to_owned());
                    }
                    ("input", Some(name)) => v.push(
                        field,
                        "undeclared_input",
                        format!("`${{input.{name}}}` is not a property of the input schema"),
                    ),
                    ("input", None) => v.push(
                        field,
                        "undeclared_input",
                        "`$input` must name a property: `${input.x}`",
                    ),
                    (root, _) => v.push(
                        field,
                        "unknown_reference",
                        format!(
                            "`${root}` is not available in request templates; use `${{input.x}}`"
                        ),
                    ),
                }
            }
        }
        let required: Vec<String> = self.input_schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for name in required {
            let documented = declared.get(&name).is_some_and(|d| *d);
            v.check(
                used.contains(&name) || documented,
                format!("contract.input.inputSchema.properties.{name}"),
                "unused_required_input",
                format!("required input `{name}` is not used by any template; use it, or give it a `description` saying why it is required"),
            );
        }

        // Translation map and success template.
        let mut translations = Vec::new();
        for (name, path) in &self.translation_map {
            let field = format!("translationMap.{name}");
            let parsed = JsonPath::parse(path)
                .map_err(|e| {
                    v.push(
                        &field,
                        "json_path",
                        format!("`{path}` is not a JSONPath: {e}"),
                    )
                })
                .ok();
            let default = match self.translation_defaults.get(name) {
                Some(text) => serde_json::from_str::<Value>(text)
                    .map_err(|e| {
                        v.push(
                            format!("translationMapDefaults.{name}"),
                            "json_literal",
                            format!("defaults are JSON text (e.g. `\"\\\"none\\\"\"` for a string): {e}"),
                        )
                    })
                    .ok(),
                None => None,
            };
            if let Some(parsed) = parsed {
                translations.push((name.clone(), parsed, default));
            }
        }
        for name in self.translation_defaults.keys() {
            v.check(
                self.translation_map.contains_key(name),
                format!("translationMapDefaults.{name}"),
                "no_translation",
                format!("`{name}` has a default but no translation map entry"),
            );
        }
        let success = parse_template("successTemplate", &self.success_template, &mut v);
        if let Some(success) = &success {
            for reference in success.references() {
                let root = &*reference.root;
                v.check(
                    root == "rawResult" || self.translation_map.contains_key(root),
                    "successTemplate",
                    "unknown_reference",
                    format!("`${root}` is neither `rawResult` nor a translation map name"),
                );
            }
        }

        v.finish()?;
        let (Some(url), Some(success), Some(input_schema), Some(success_schema)) =
            (url, success, input_schema, success_schema)
        else {
            // Unreachable: each of these recorded a violation when missing.
            return Err(ValidationError::single(
                "action",
                "invalid",
                "the action could not be compiled",
            ));
        };
        let config = json!({
            "timeoutSeconds": self.timeout_seconds,
            "request": {
                "requestUrlTemplate": self.url,
                "requestType": self.method,
                "headers": self.headers,
                "requestTemplate": self.request_template,
            },
            "response": {
                "translationMap": self.translation_map,
                "translationMapDefaults": self.translation_defaults,
                "successTemplate": self.success_template,
            },
        });
        let contract = json!({
            "input": { "inputSchema": self.input_schema },
            "output": { "successSchema": self.success_schema },
        });
        Ok(DataAction {
            category: self.category.trim().to_owned(),
            name: self.name.trim().to_owned(),
            integration_id: self.integration_id.trim().to_owned(),
            secure: self.secure,
            config,
            contract,
            compiled: Arc::new(Compiled {
                method: self.method,
                url,
                headers,
                body,
                translations,
                success,
                timeout_seconds: self.timeout_seconds,
                uses_raw_request,
                input_schema,
                success_schema,
            }),
        })
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
    v: &mut Violations,
) -> Option<jsonschema::Validator> {
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        v.push(
            field,
            "object_schema",
            "the contract must describe an object (`\"type\": \"object\"`)",
        );
    }
    if schema.to_string().contains("\"$ref\"") {
        v.push(field, "no_ref", "contracts do not support `$ref`");
    }
    jsonschema::validator_for(schema)
        .map_err(|e| v.push(field, "schema", format!("the schema does not compile: {e}")))
        .ok()
}

/// The input contract's properties (name → documented?), recording violations of the
/// platform's rules: a flat object of primitives with letter-first names.
fn check_input_schema(schema: &Value, v: &mut Violations) -> BTreeMap<String, bool> {
    let mut declared = BTreeMap::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return declared;
    };
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
        let documented = spec
            .get("description")
            .and_then(Value::as_str)
            .is_some_and(|d| !d.trim().is_empty());
        declared.insert(name.clone(), documented);
    }
    declared
}

fn check_url(url: &Template, v: &mut Violations) {
    let skeleton: String = url
        .nodes()
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
            format!("the URL must use https, not {}", parsed.scheme()),
        ),
        _ => v.push(
            "requestUrlTemplate",
            "absolute_url",
            "the URL template must be an absolute https URL, e.g. https://api.example.com/v1/items/${input.id}",
        ),
    }
}

/// The output of a run: translation values merged into the success template.
pub(crate) fn translate(compiled: &Compiled, raw: &Value) -> Result<Value, Vec<String>> {
    let raw_text = raw.to_string();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    for (name, path, default) in &compiled.translations {
        let found = path.query(raw).all();
        let value = match (found.as_slice(), default) {
            ([], Some(default)) => default.clone(),
            ([], None) => {
                problems.push(format!(
                    "translation `{name}`: the path matched nothing and there is no default"
                ));
                continue;
            }
            ([one], _) => (*one).clone(),
            (many, _) => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
        };
        texts.push((name.clone(), value.to_string()));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut vars = Bindings::new().raw_result(&raw_text);
    for (name, text) in &texts {
        vars = vars.translation(name, text);
    }
    let rendered = compiled
        .success
        .render(&vars)
        .map_err(|e| vec![format!("success template: {e}")])?;
    let output: Value =
        serde_json::from_str(&rendered).map_err(|e| vec![format!("success template: {e}")])?;
    let errors: Vec<String> = compiled
        .success_schema
        .iter_errors(&output)
        .map(|e| {
            let path = e.instance_path().to_string();
            format!("output{}: {e}", path.replace('/', "."))
        })
        .collect();
    if errors.is_empty() {
        Ok(output)
    } else {
        Err(errors)
    }
}
