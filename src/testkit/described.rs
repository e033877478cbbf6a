//! Any operation of an API description, served by the fake, with every request checked
//! against the description.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;
use wiremock::ResponseTemplate;

use super::{genesys_error, json_response, lock, FakeGenesys, FakeRequest};
use crate::error::Error;
use crate::Method;

/// The description `genesys-cloud-codegen` writes for the operations a test samples
/// (`tests/data/api-operations.json`): per operation its method, path template, path,
/// query and header parameters, body type and a sample answer; and the fields of the
/// models bodies use.
#[derive(Debug, Deserialize)]
struct Description {
    operations: Vec<Operation>,
    models: BTreeMap<String, Vec<Field>>,
}

#[derive(Debug, Deserialize)]
struct Operation {
    id: String,
    /// The operation's security schemes; empty for one the platform serves without OAuth
    /// (absent: OAuth, as for almost every operation).
    #[serde(default = "oauth")]
    auth_schemes: Vec<String>,
    method: String,
    path: String,
    path_params: Vec<PathParam>,
    query: Vec<QueryParam>,
    headers: Vec<HeaderParam>,
    body: Option<BodySpec>,
    response: Value,
    text: bool,
}

fn oauth() -> Vec<String> {
    vec!["PureCloud OAuth".to_owned()]
}

#[derive(Debug, Deserialize)]
struct PathParam {
    name: String,
}

#[derive(Debug, Deserialize)]
struct QueryParam {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    required: bool,
}

#[derive(Debug, Deserialize)]
struct HeaderParam {
    name: String,
    required: bool,
}

#[derive(Debug, Deserialize)]
struct BodySpec {
    #[serde(rename = "type")]
    ty: String,
    required: bool,
}

#[derive(Debug, Deserialize)]
struct Field {
    json: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(rename = "enum")]
    allowed: Option<Vec<String>>,
    required: bool,
}

/// What the fake saw of the operations it serves from a description (see
/// [`FakeGenesys::serve_described`]).
#[derive(Debug, Clone)]
pub struct DescribedApi {
    shared: Arc<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    operations: usize,
    served: Mutex<Vec<String>>,
    violations: Mutex<Vec<String>>,
}

impl DescribedApi {
    /// How many operations the description has.
    pub fn operations(&self) -> usize {
        self.shared.operations
    }

    /// The operations requested so far (`group.name`), in order.
    pub fn served(&self) -> Vec<String> {
        lock(&self.shared.served).clone()
    }

    /// Every way a request differed from the description, prefixed by its operation.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }
}

impl FakeGenesys {
    /// Serves every operation of `description` (the JSON `genesys-cloud-codegen` writes,
    /// e.g. `tests/data/api-operations.json`) and checks each request against it: the
    /// method and path shape (by routing; each path parameter one segment, not empty),
    /// query parameters (known names, required
    /// ones present, values of their type), required headers, and the JSON body (present
    /// when required, of the body's type: known fields, field types, allowed values,
    /// required fields). A request that differs is answered `400` and recorded in
    /// [`DescribedApi::violations`]; one that does not gets the description's sample
    /// answer (listings: two pages, by `pageNumber`/`pageCount`).
    ///
    /// An operation whose `auth_schemes` is empty (the platform serves it without OAuth,
    /// its security in the API description is empty) is served without a token, as with
    /// [`FakeGenesys::route_without_auth`]; the others demand one.
    ///
    /// Routes the fake already has for the flows win over these on the same path.
    pub fn serve_described(&self, description: &str) -> Result<DescribedApi, Error> {
        let desc: Description = serde_json::from_str(description).map_err(|e| {
            Error::contract(
                "the API description",
                vec![format!("it does not parse: {e}")],
            )
        })?;
        let shared = Arc::new(Seen {
            operations: desc.operations.len(),
            ..Seen::default()
        });
        let models = Arc::new(desc.models);
        for op in desc.operations {
            let method = Method::from_bytes(op.method.as_bytes()).map_err(|_| {
                Error::contract(
                    "the API description",
                    vec![format!("{}: method {:?}", op.id, op.method)],
                )
            })?;
            let template = op.path.clone();
            let requires_auth = !op.auth_schemes.is_empty();
            let op = Arc::new(op);
            let (models, seen) = (models.clone(), shared.clone());
            let handler = Arc::new(move |req: &FakeRequest| {
                lock(&seen.served).push(op.id.clone());
                let problems = check(&op, &models, req);
                if problems.is_empty() {
                    return answer(&op, req);
                }
                let message = problems.join("; ");
                lock(&seen.violations)
                    .extend(problems.into_iter().map(|p| format!("{}: {p}", op.id)));
                genesys_error(400, "bad.request", &format!("{}: {message}", op.id))
            });
            self.add_route(method, &template, handler, requires_auth);
        }
        Ok(DescribedApi { shared })
    }
}

/// Every way `req` differs from `op`.
fn check(op: &Operation, models: &BTreeMap<String, Vec<Field>>, req: &FakeRequest) -> Vec<String> {
    let mut problems = Vec::new();
    for p in &op.path_params {
        let value = req.param(&p.name);
        if value.trim().is_empty() {
            problems.push(format!("path parameter {} is empty", p.name));
        }
    }
    for (name, value) in &req.query {
        match op.query.iter().find(|q| q.name == *name) {
            None => problems.push(format!("unknown query parameter {name}")),
            Some(q) => {
                let item =
                    q.ty.strip_prefix("list[")
                        .and_then(|t| t.strip_suffix(']'))
                        .unwrap_or(&q.ty);
                if !scalar_parses(item, value) {
                    problems.push(format!("query parameter {name}={value:?} is not a {item}"));
                }
            }
        }
    }
    for q in op.query.iter().filter(|q| q.required) {
        if !req.query.contains_key(&q.name) {
            problems.push(format!("required query parameter {} is missing", q.name));
        }
    }
    for h in op.headers.iter().filter(|h| h.required) {
        if !req.headers.contains_key(&h.name.to_ascii_lowercase()) {
            problems.push(format!("required header {} is missing", h.name));
        }
    }
    match (&op.body, req.body.is_empty()) {
        (None, false) => problems.push("a body was sent to an operation that takes none".into()),
        (Some(spec), true) if spec.required => problems.push("the required body is missing".into()),
        (Some(spec), false) => {
            let json = req
                .headers
                .get("content-type")
                .is_some_and(|c| c.starts_with("application/json"));
            if !json {
                problems.push("the body is not sent as application/json".into());
            }
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(body) => check_value(&spec.ty, &body, models, "body", &mut problems),
                Err(e) => problems.push(format!("the body is not JSON: {e}")),
            }
        }
        _ => {}
    }
    problems
}

fn scalar_parses(ty: &str, value: &str) -> bool {
    match ty {
        "int" => value.parse::<i64>().is_ok(),
        "float" => value.parse::<f64>().is_ok(),
        "bool" => value == "true" || value == "false",
        _ => true,
    }
}

/// Checks that `value` is of the description's type `ty`.
fn check_value(
    ty: &str,
    value: &Value,
    models: &BTreeMap<String, Vec<Field>>,
    at: &str,
    problems: &mut Vec<String>,
) {
    if let Some(inner) = ty.strip_prefix("list[").and_then(|t| t.strip_suffix(']')) {
        match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_value(inner, item, models, &format!("{at}[{i}]"), problems);
                }
            }
            None => problems.push(format!("{at} is not a list")),
        }
        return;
    }
    if let Some(inner) = ty
        .strip_prefix("dict(str,")
        .and_then(|t| t.strip_suffix(')'))
    {
        match value.as_object() {
            Some(map) => {
                for (key, item) in map {
                    check_value(inner.trim(), item, models, &format!("{at}.{key}"), problems);
                }
            }
            None => problems.push(format!("{at} is not a map")),
        }
        return;
    }
    let ok = match ty {
        "str" | "date" | "datetime" | "LocalDateTime" | "YearMonth" => value.is_string(),
        "int" => value.is_i64() || value.is_u64(),
        "float" => value.is_number(),
        "bool" => value.is_boolean(),
        "object" => true,
        model => {
            let Some(object) = value.as_object() else {
                problems.push(format!("{at} is not a {model} object"));
                return;
            };
            // Models outside the description's closure are taken as any object.
            let Some(fields) = models.get(model) else {
                return;
            };
            for key in object.keys() {
                if !fields.iter().any(|f| f.json == *key) {
                    problems.push(format!("{at}.{key} is not a field of {model}"));
                }
            }
            for f in fields {
                match object.get(&f.json) {
                    None if f.required => {
                        problems.push(format!("{at}.{} is required by {model}", f.json));
                    }
                    None => {}
                    Some(v) => {
                        let here = format!("{at}.{}", f.json);
                        check_value(&f.ty, v, models, &here, problems);
                        if let (Some(allowed), Some(s)) = (&f.allowed, v.as_str()) {
                            if !allowed.iter().any(|a| a == s) {
                                problems.push(format!("{here} = {s:?} is not an allowed value"));
                            }
                        }
                    }
                }
            }
            true
        }
    };
    if !ok {
        problems.push(format!("{at} is not a {ty}"));
    }
}

/// The description's sample answer; listings are two pages long.
fn answer(op: &Operation, req: &FakeRequest) -> ResponseTemplate {
    if op.text {
        return ResponseTemplate::new(200).set_body_raw(
            op.response.as_str().unwrap_or_default().as_bytes().to_vec(),
            "text/plain",
        );
    }
    let mut body = op.response.clone();
    if body.is_null() {
        return ResponseTemplate::new(204);
    }
    if let Some(page) = body.as_object_mut() {
        if page.contains_key("entities") && page.contains_key("pageCount") {
            let number = req
                .query
                .get("pageNumber")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(1);
            for link in ["nextUri", "previousUri", "firstUri", "lastUri", "cursor"] {
                page.remove(link);
            }
            page.insert("pageNumber".into(), number.into());
            page.insert("pageCount".into(), 2.into());
            if number > 2 {
                page.insert("entities".into(), Value::Array(Vec::new()));
            }
        }
    }
    json_response(200, &body)
}
