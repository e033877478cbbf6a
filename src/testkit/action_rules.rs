//! Which Data Action definitions the fake accepts, and how it holds an execution's input
//! and output to the action's contracts: rules of the fake's own, each with its source,
//! never the crate's `DataAction` (whose rules the fake exists to check).
//!
//! Sources, cited below by key:
//!
//! - [SDK] the Python SDK's model docs, MyPureCloud/platform-client-sdk-python
//!   `docs/PostActionInput.md`, `ActionConfig.md`, `RequestConfig.md`, `ResponseConfig.md`,
//!   `ActionContractInput.md`, `PostInputContract.md`, `PostOutputContract.md`,
//!   `ActionInput.md`;
//! - [TF] MyPureCloud/terraform-provider-genesyscloud
//!   `genesyscloud/integration_action/resource_genesyscloud_integration_action_schema.go`;
//! - [S9] "Add configuration to custom actions for integrations",
//!   <https://help.mypurecloud.com/articles/add-configuration-custom-actions-integrations/>,
//!   and [S6] "Request configuration for data actions",
//!   <https://help.mypurecloud.com/articles/request-configuration-data-actions/>;
//! - [S15] "Add contracts to custom actions for integrations",
//!   <https://help.mypurecloud.com/articles/add-contracts-custom-actions-integrations/>;
//! - [S18] the platform's answer quoted on the developer forum, "Custom action on custom
//!   integration: Create sub-objects" (2022): "Failed Validation of
//!   contract.input.inputSchema as a simple properties schema. Must be an Object with
//!   properties and no sub-objects ... #
//!   @/properties/properties/patternProperties/^[a-zA-Z][a-zA-Z0-9_-]*$/properties/type
//!   ... not found in enum (possible values: ["boolean","integer","null","number","string"])".
//!
//! Not checked when an action is saved, because no source says the platform refuses them
//! then: template syntax, JSONPath syntax, an `http` URL, header-name syntax, the reserved
//! input names `orgId`, `integrationId` and `rawRequest` ([S15] says using them makes
//! "the data action ... fail", which is at execution).

use serde_json::{Map, Value};

/// Longest `name` and `category`: "Can be up to 256 characters long" [SDK PostActionInput].
const MAX_NAME_CHARS: usize = 256;

/// `timeoutSeconds`: "Optional 1-60 second timeout enforced on the execution or test of
/// this action" [SDK ActionConfig].
const TIMEOUT_SECONDS: std::ops::RangeInclusive<i64> = 1..=60;

/// `requestType`: "HTTP method to use for request (GET | PUT | POST | PATCH | DELETE)",
/// required [TF].
const REQUEST_TYPES: &[&str] = &["GET", "PUT", "POST", "PATCH", "DELETE"];

/// `PostActionInput`'s required fields [SDK PostActionInput].
const POST_REQUIRED: &[&str] = &["category", "name", "integrationId", "config", "contract"];

/// The types an input contract's properties may have [S18], [S15] ("limited to the
/// following data types: string, integer, number, Boolean, null").
const INPUT_TYPES: &[&str] = &["boolean", "integer", "null", "number", "string"];

/// One broken rule: the field (dotted, as the platform names fields), a code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) field: String,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    /// A string field: `None` when absent (or `null`), a problem when not a string.
    fn string<'v>(&mut self, value: Option<&'v Value>, field: &str) -> Option<&'v str> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.push(field, "not.a.string", format!("`{field}` is a string"));
                None
            }
        }
    }

    /// A map of strings (`Map<String, String>` in the models): its entries.
    fn string_map<'v>(&mut self, value: Option<&'v Value>, field: &str) -> Vec<(&'v str, &'v str)> {
        match value {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(map)) => map
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.as_str(), self.string(Some(v), &format!("{field}.{k}"))?))
                })
                .collect(),
            Some(_) => {
                self.push(
                    field,
                    "not.an.object",
                    format!("`{field}` is an object of strings"),
                );
                Vec::new()
            }
        }
    }
}

/// Every rule `body` (a `PostActionInput`, or a draft after a PATCH) breaks.
pub(crate) fn check_definition(body: &Value) -> Vec<Problem> {
    let mut p = Problems::default();
    for &field in POST_REQUIRED {
        let present = match body.get(field) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        };
        if !present {
            p.push(field, "required", format!("`{field}` is required"));
        }
    }
    for field in ["name", "category"] {
        if let Some(text) = p.string(body.get(field), field) {
            let chars = text.chars().count();
            if chars > MAX_NAME_CHARS {
                p.push(
                    field,
                    "max.length",
                    format!("{chars} characters; at most {MAX_NAME_CHARS}"),
                );
            }
        }
    }
    if let Some(config) = body.get("config") {
        check_config(config, &mut p);
    }
    if let Some(contract) = body.get("contract") {
        check_contract(contract, &mut p);
    }
    p.0
}

fn check_config(config: &Value, p: &mut Problems) {
    match config.get("timeoutSeconds") {
        None | Some(Value::Null) => {}
        Some(t) if t.as_i64().is_some_and(|t| TIMEOUT_SECONDS.contains(&t)) => {}
        Some(_) => p.push(
            "config.timeoutSeconds",
            "out.of.range",
            "`timeoutSeconds` is 1 to 60 seconds",
        ),
    }
    let request = config.get("request");
    let field = "config.request.requestUrlTemplate";
    if p.string(request.and_then(|r| r.get("requestUrlTemplate")), field)
        .is_none()
    {
        p.push(field, "required", "`requestUrlTemplate` is required");
    }
    let field = "config.request.requestType";
    match p.string(request.and_then(|r| r.get("requestType")), field) {
        Some(method) if REQUEST_TYPES.contains(&method) => {}
        Some(method) => p.push(
            field,
            "invalid.value",
            format!("`{method}` is not one of {}", REQUEST_TYPES.join(", ")),
        ),
        None => p.push(field, "required", "`requestType` is required"),
    }
    p.string(
        request.and_then(|r| r.get("requestTemplate")),
        "config.request.requestTemplate",
    );
    for (name, value) in p.string_map(
        request.and_then(|r| r.get("headers")),
        "config.request.headers",
    ) {
        // "The 'Accept' header only supports json content types when specified" [S9], [S6].
        if name.eq_ignore_ascii_case("accept") && !value.split(',').all(is_json_media_type) {
            p.push(
                format!("config.request.headers.{name}"),
                "accept.not.json",
                "The 'Accept' header only supports json content types when specified",
            );
        }
    }
    let response = config.get("response");
    for key in ["translationMap", "translationMapDefaults"] {
        p.string_map(
            response.and_then(|r| r.get(key)),
            &format!("config.response.{key}"),
        );
    }
    p.string(
        response.and_then(|r| r.get("successTemplate")),
        "config.response.successTemplate",
    );
}

/// `application/json`, or a `+json` type such as `application/vnd.api+json`.
fn is_json_media_type(range: &str) -> bool {
    let essence = range
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.ends_with("/json") || essence.ends_with("+json")
}

fn check_contract(contract: &Value, p: &mut Problems) {
    // ActionContractInput's `input` and `output`, PostInputContract's `inputSchema` and
    // PostOutputContract's `successSchema` are required [SDK].
    for (part, schema_key) in [("input", "inputSchema"), ("output", "successSchema")] {
        let field = format!("contract.{part}");
        let Some(part_value) = contract.get(part).filter(|v| !v.is_null()) else {
            p.push(&field, "required", format!("`{field}` is required"));
            continue;
        };
        let field = format!("{field}.{schema_key}");
        match part_value.get(schema_key) {
            Some(Value::Object(schema)) => {
                // "Contracts do not support the $ref keyword." [S15]
                no_ref(schema, &field, p);
                if part == "input" {
                    check_input_schema(schema, &field, p);
                } else {
                    no_nested_arrays(schema, &field, p);
                }
            }
            None | Some(Value::Null) => {
                p.push(&field, "required", format!("`{field}` is required"))
            }
            Some(_) => p.push(
                &field,
                "not.an.object",
                format!("`{field}` is a JSON Schema object"),
            ),
        }
    }
}

fn no_ref(schema: &Map<String, Value>, field: &str, p: &mut Problems) {
    for (key, value) in schema {
        let here = format!("{field}.{key}");
        if key == "$ref" {
            p.push(
                &here,
                "not.supported",
                "Contracts do not support the $ref keyword.",
            );
        }
        match value {
            Value::Object(inner) => no_ref(inner, &here, p),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        no_ref(inner, &format!("{here}[{i}]"), p);
                    }
                }
            }
            _ => {}
        }
    }
}

/// "The top-level item in the schema can only be an object. Object properties can be
/// strings, numbers, integers, Booleans, or null." [S15]; names "must start with a letter
/// (a-z, A-Z) and only contain letters, numbers (0-9), hyphens (-), or underscores (_)"
/// [S15], the platform's `patternProperties` [S18].
fn check_input_schema(schema: &Map<String, Value>, field: &str, p: &mut Problems) {
    match schema.get("type") {
        None => {}
        Some(Value::String(t)) if t == "object" => {}
        Some(_) => p.push(
            format!("{field}.type"),
            "invalid.value",
            "the input contract is an object",
        ),
    }
    let properties = match schema.get("properties") {
        None | Some(Value::Null) => return,
        Some(Value::Object(properties)) => properties,
        Some(_) => {
            p.push(
                format!("{field}.properties"),
                "not.an.object",
                "`properties` is an object",
            );
            return;
        }
    };
    for (name, property) in properties {
        let here = format!("{field}.properties.{name}");
        let mut chars = name.chars();
        let well_named = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_named {
            p.push(
                &here,
                "invalid.name",
                "input names start with a letter and hold letters, digits, `-` and `_`",
            );
        }
        match property.get("type") {
            None => {}
            Some(Value::String(t)) if INPUT_TYPES.contains(&t.as_str()) => {}
            Some(_) => p.push(
                format!("{here}.type"),
                "invalid.value",
                format!("an input property is one of {}", INPUT_TYPES.join(", ")),
            ),
        }
    }
}

/// "The output contract does not support nested arrays." [S15]: no array schema whose
/// `items` is an array schema, at any depth.
fn no_nested_arrays(schema: &Map<String, Value>, field: &str, p: &mut Problems) {
    if is_array_schema(schema) {
        let items: Vec<(String, &Value)> = match schema.get("items") {
            Some(Value::Array(tuple)) => tuple
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("{field}.items[{i}]"), s))
                .collect(),
            Some(single) => vec![(format!("{field}.items"), single)],
            None => Vec::new(),
        };
        for (here, item) in &items {
            if item.as_object().is_some_and(is_array_schema) {
                p.push(
                    here,
                    "nested.array",
                    "The output contract does not support nested arrays.",
                );
            }
        }
    }
    for (key, value) in schema {
        if let Value::Object(inner) = value {
            if key == "properties" || key == "patternProperties" || key == "definitions" {
                for (name, sub) in inner {
                    if let Value::Object(sub) = sub {
                        no_nested_arrays(sub, &format!("{field}.{key}.{name}"), p);
                    }
                }
            } else {
                no_nested_arrays(inner, &format!("{field}.{key}"), p);
            }
        }
    }
}

fn is_array_schema(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "array",
        Some(Value::Array(types)) => types.iter().any(|t| t == "array"),
        _ => false,
    }
}

/// Where `instance` breaks `schema`: each as `(place, keyword)`, naming no value.
///
/// The contract is a JSON Schema: "JSON Schema that defines the body of the request ... on
/// the /execute path" [SDK ActionInput], and success templates "create resolved responses
/// that must conform to the success schemas. Otherwise, errors result." ("Response
/// configuration for data actions"). The fake checks the keywords contracts use (`type`,
/// `required`, `properties`, `additionalProperties: false`, `items`, `enum`) and accepts
/// whatever other keywords say.
pub(crate) fn contract_problems(
    schema: &Value,
    instance: &Value,
    place: &str,
) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    check_instance(schema, instance, place, &mut out);
    out
}

fn check_instance(
    schema: &Value,
    instance: &Value,
    place: &str,
    out: &mut Vec<(String, &'static str)>,
) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    let type_ok = match schema.get("type") {
        Some(Value::String(t)) => has_type(instance, t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .any(|t| has_type(instance, t)),
        _ => true,
    };
    if !type_ok {
        out.push((place.to_owned(), "type"));
        return;
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(instance) {
            out.push((place.to_owned(), "enum"));
        }
    }
    if let Value::Object(object) = instance {
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    out.push((format!("{place}.{name}"), "required"));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, value) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => check_instance(sub, value, &format!("{place}.{name}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push((format!("{place}.{name}"), "additionalProperties"))
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema @ Value::Object(_))) =
        (instance, schema.get("items"))
    {
        for (i, item) in items.iter().enumerate() {
            check_instance(item_schema, item, &format!("{place}[{i}]"), out);
        }
    }
}

fn has_type(instance: &Value, t: &str) -> bool {
    match t {
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "boolean" => instance.is_boolean(),
        "null" => instance.is_null(),
        "number" => instance.is_number(),
        "integer" => instance.as_f64().is_some_and(|n| n.fract() == 0.0),
        // An unknown type name: not the fake's to judge.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contracts_are_checked_by_the_keywords_contracts_use() {
        let schema = json!({"type": "object", "required": ["a"], "additionalProperties": false,
            "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"enum": ["x"]}}}});
        assert!(contract_problems(&schema, &json!({"a": 2.0, "b": ["x"]}), "in").is_empty());
        let mut found = contract_problems(&schema, &json!({"a": 1.5, "b": ["y"], "c": 1}), "in");
        found.sort();
        assert_eq!(
            found,
            [
                ("in.a".to_owned(), "type"),
                ("in.b[0]".to_owned(), "enum"),
                ("in.c".to_owned(), "additionalProperties"),
            ]
        );
        assert_eq!(
            contract_problems(&schema, &json!({}), "in"),
            [("in.a".to_owned(), "required")]
        );
        assert_eq!(
            contract_problems(&schema, &json!([]), "in"),
            [("in".to_owned(), "type")]
        );
    }

    #[test]
    fn every_genesys_export_is_a_definition_the_fake_accepts() {
        // Read at run time: a test binary reused from a shared target directory may have
        // been built from another checkout.
        let root = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
        let mut seen = 0;
        for entry in std::fs::read_dir(format!("{root}/tests/velocity-oracle/actions")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let mut action: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            // Exports carry neither; the platform needs both.
            action["category"] = json!("Exports");
            action["integrationId"] = json!("5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41");
            assert_eq!(check_definition(&action), [], "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 20, "{seen} exports");
    }
}
