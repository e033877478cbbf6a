//! In the fake: Data Actions (drafts, publishing, validation, test and execute)
//! and the external system the actions call.
//!
//! The fake judges and runs actions with rules and code of its own, never the crate's
//! `DataAction` (a fake that shared the crate's rules could not catch a misread one):
//!
//! - definitions (create, update, publish, `draft/validation`) are checked by
//!   [`action_rules`](super::action_rules): what Genesys's models, help pages and the
//!   platform's own quoted errors say it refuses, each rule with its source; what no
//!   source says is refused (template or JSONPath syntax, `http` URLs, reserved input
//!   names) is accepted;
//! - `execute` and `test` check the input against the input contract, render the URL,
//!   headers and body with the fake's Velocity subset ([`velocity`](super::velocity)),
//!   answer the rendered request with [`external_target`] in-process (no network), pick
//!   the translation map's values with the fake's JSONPath subset
//!   ([`jsonpath`](super::jsonpath)), render the success template with them and
//!   `rawResult`, and check the output contract;
//! - a construct outside those subsets is a 400 saying "the fake does not support ..."
//!   (`errorCode` [`UNSUPPORTED`] for the request's templates), never a panic and never a
//!   guess. Templates see no `credentials`: the fake has no integration configuration.
//!
//! The same external target is served over HTTP under `/external/`, for the crate's local
//! executor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

use super::action_rules::{check_definition, contract_problems, Problem};
use super::jsonpath;
use super::responses::{bad_request, error_body, genesys_error, json_response, page_of};
use super::router::PathPattern;
use super::velocity::{self, TemplateError};
use super::{FakeGenesys, FakeRequest};
use crate::Method;

const ACTIONS: &str = "/api/v2/integrations/actions";
const ACTION: &str = "/api/v2/integrations/actions/{actionId}";
const DRAFTS: &str = "/api/v2/integrations/actions/drafts";
const DRAFT: &str = "/api/v2/integrations/actions/{actionId}/draft";

/// The `PostActionInput` fields a stored body keeps.
const BODY_FIELDS: &[&str] = &[
    "name",
    "category",
    "integrationId",
    "secure",
    "config",
    "contract",
];

/// The `errorCode` of a template construct outside the fake's subset.
const UNSUPPORTED: &str = "unsupported.by.fake";

/// The `UpdateDraftInput` fields a draft PATCH may change (not `integrationId`).
const PATCH_FIELDS: &[&str] = &["category", "name", "config", "contract", "secure"];

/// The external target's routes, served over HTTP as well as in-process.
const EXTERNAL_RESOURCES: &str = "/external/v1/resources/{targetId}";
const EXTERNAL_BROKEN: &str = "/external/v1/broken/{targetId}";

/// The names of a test run's steps, in order.
const STEPS: [&str; 3] = ["resolve request", "execute request", "translate response"];

#[derive(Default)]
pub(crate) struct ActionsStore {
    /// By id; a BTreeMap keeps listing order stable.
    actions: Mutex<BTreeMap<String, StoredAction>>,
}

/// One action id: a published version, a draft, or both (never neither: an action
/// left with neither is removed).
#[derive(Default)]
struct StoredAction {
    published: Option<Version>,
    draft: Option<Version>,
}

#[derive(Clone)]
struct Version {
    version: i64,
    /// `PostActionInput` fields only (see [`BODY_FIELDS`]).
    body: Value,
}

/// Which of an action's versions a request is about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Published,
    Draft,
}

/// Which optional parts of an `Action` to include.
#[derive(Clone, Copy)]
struct Parts {
    config: bool,
    contract: bool,
}

impl Parts {
    const ALL: Parts = Parts {
        config: true,
        contract: true,
    };

    /// As the platform's `GET` of published actions: `config` only with
    /// `includeConfig=true`, `contract` only with `expand=contract`.
    fn asked(req: &FakeRequest) -> Parts {
        Parts {
            config: req
                .query
                .get("includeConfig")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            contract: req
                .query
                .get("expand")
                .is_some_and(|v| v.split(',').any(|e| e.trim() == "contract")),
        }
    }
}

impl ActionsStore {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredAction>> {
        self.actions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of one version's body, so the lock is not held while the action runs.
    fn body_of(&self, id: &str, which: Which) -> Option<Value> {
        let actions = self.lock();
        let action = actions.get(id)?;
        let version = match which {
            Which::Published => action.published.as_ref(),
            Which::Draft => action.draft.as_ref(),
        };
        version.map(|v| v.body.clone())
    }
}

/// The platform's `Action` for one version of action `id`.
fn action_json(id: &str, v: &Version, which: Which, parts: Parts) -> Value {
    let body = &v.body;
    let mut self_uri = format!("{ACTIONS}/{id}");
    if which == Which::Draft {
        self_uri.push_str("/draft");
    }
    let mut action = Map::new();
    action.insert("id".into(), json!(id));
    for key in ["name", "category", "integrationId"] {
        action.insert(key.into(), body.get(key).cloned().unwrap_or(Value::Null));
    }
    let secure = body.get("secure").and_then(Value::as_bool).unwrap_or(false);
    action.insert("secure".into(), json!(secure));
    action.insert("version".into(), json!(v.version));
    for (key, wanted) in [("config", parts.config), ("contract", parts.contract)] {
        if let Some(value) = body.get(key).filter(|_| wanted) {
            action.insert(key.into(), value.clone());
        }
    }
    action.insert("selfUri".into(), json!(self_uri));
    Value::Object(action)
}

impl FakeGenesys {
    /// Every Data Action in the fake: `{"id", "published", "draft"}`, where `published`
    /// and `draft` are the platform's `Action` (config and contract included) or `null`.
    pub fn actions(&self) -> Vec<Value> {
        self.state
            .actions
            .lock()
            .iter()
            .map(|(id, a)| {
                let as_json = |v: Option<&Version>, which| {
                    v.map_or(Value::Null, |v| action_json(id, v, which, Parts::ALL))
                };
                json!({
                    "id": id,
                    "published": as_json(a.published.as_ref(), Which::Published),
                    "draft": as_json(a.draft.as_ref(), Which::Draft),
                })
            })
            .collect()
    }

    /// The base URL of the fake's external system (`{uri}/external/v1`), for the
    /// `requestUrlTemplate` of actions under test: `POST {base}/resources/{id}` accepts,
    /// `GET {base}/resources/{id}` reports `ok`, and `POST {base}/broken/{id}` answers a
    /// body without `status`, to fail an output contract.
    pub fn external_target_path(&self) -> String {
        format!("{}/external/v1", self.uri())
    }
}

fn action_not_found() -> ResponseTemplate {
    genesys_error(404, "not.found", "The action was not found.")
}

fn draft_not_found() -> ResponseTemplate {
    genesys_error(404, "not.found", "The action has no draft.")
}

fn invalid_json() -> ResponseTemplate {
    bad_request(
        "The request body is not a JSON object.",
        &[("body", "invalid.json")],
    )
}

fn version_conflict() -> ResponseTemplate {
    genesys_error(
        409,
        "conflict",
        "The version of the draft does not match the current version.",
    )
}

/// 400 naming each violated rule of an action definition.
fn invalid_action(problems: &[Problem]) -> ResponseTemplate {
    let messages: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    let fields: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.code))
        .collect();
    bad_request(
        &format!("The action is invalid: {}", messages.join("; ")),
        &fields,
    )
}

/// The request body as a JSON object, if it is one.
fn json_object(req: &FakeRequest) -> Option<Map<String, Value>> {
    match req.json::<Value>() {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The `version` a PATCH or publish names; a 400 when it has none.
fn version_of(body: &Map<String, Value>) -> Result<i64, ResponseTemplate> {
    body.get("version").and_then(Value::as_i64).ok_or_else(|| {
        bad_request(
            "The current draft version is required.",
            &[("version", "required")],
        )
    })
}

pub(crate) fn install(fake: &FakeGenesys, store: Arc<ActionsStore>) {
    install_drafts(fake, &store);
    install_draft(fake, &store);
    install_published(fake, &store);
    install_runs(fake, &store, &fake.uri());
    install_external(fake);
}

/// `GET` and `POST /actions/drafts`. Registered before `/actions/{actionId}`, which
/// would otherwise take `drafts` for an id.
fn install_drafts(fake: &FakeGenesys, store: &Arc<ActionsStore>) {
    let s = store.clone();
    fake.route(Method::GET, DRAFTS, move |req| {
        let items = s
            .lock()
            .iter()
            .filter_map(|(id, a)| {
                let draft = a.draft.as_ref()?;
                Some(action_json(id, draft, Which::Draft, Parts::ALL))
            })
            .collect();
        page_of(req, items, DRAFTS)
    });

    let s = store.clone();
    fake.route(Method::POST, DRAFTS, move |req| {
        let Some(input) = json_object(req) else {
            return invalid_json();
        };
        let body: Map<String, Value> = BODY_FIELDS
            .iter()
            .filter_map(|&k| Some((k.to_owned(), input.get(k)?.clone())))
            .collect();
        let body = Value::Object(body);
        let problems = check_definition(&body);
        if !problems.is_empty() {
            return invalid_action(&problems);
        }
        let id = format!("custom_-_{}", uuid::Uuid::new_v4());
        let draft = Version { version: 1, body };
        let answer = action_json(&id, &draft, Which::Draft, Parts::ALL);
        s.lock().insert(
            id,
            StoredAction {
                published: None,
                draft: Some(draft),
            },
        );
        json_response(200, &answer)
    });
}

/// The draft of one action: create, read, update, delete, validate, publish.
fn install_draft(fake: &FakeGenesys, store: &Arc<ActionsStore>) {
    let s = store.clone();
    fake.route(Method::POST, DRAFT, move |req| {
        let id = req.param("actionId");
        let mut actions = s.lock();
        let Some(action) = actions.get_mut(id) else {
            return action_not_found();
        };
        // An existing draft is answered as is; otherwise one is copied from the
        // published version (an action always has one of the two).
        if action.draft.is_none() {
            let Some(published) = &action.published else {
                return action_not_found();
            };
            let body = published.body.clone();
            action.draft = Some(Version { version: 1, body });
        }
        match &action.draft {
            Some(draft) => json_response(200, &action_json(id, draft, Which::Draft, Parts::ALL)),
            None => action_not_found(),
        }
    });

    let s = store.clone();
    fake.route(Method::GET, DRAFT, move |req| {
        let id = req.param("actionId");
        match s.lock().get(id).and_then(|a| a.draft.as_ref()) {
            Some(draft) => json_response(200, &action_json(id, draft, Which::Draft, Parts::ALL)),
            None => draft_not_found(),
        }
    });

    let s = store.clone();
    fake.route(Method::PATCH, DRAFT, move |req| patch_draft(&s, req));

    let s = store.clone();
    fake.route(Method::DELETE, DRAFT, move |req| {
        let id = req.param("actionId");
        let mut actions = s.lock();
        let Some(action) = actions.get_mut(id) else {
            return draft_not_found();
        };
        if action.draft.take().is_none() {
            return draft_not_found();
        }
        if action.published.is_none() {
            actions.remove(id);
        }
        ResponseTemplate::new(204)
    });

    let s = store.clone();
    fake.route(Method::GET, &format!("{DRAFT}/validation"), move |req| {
        let Some(body) = s.body_of(req.param("actionId"), Which::Draft) else {
            return draft_not_found();
        };
        // `DraftValidationResult { valid, errors: [ErrorBody] }` (platform models).
        let errors: Vec<Value> = check_definition(&body)
            .iter()
            .map(|p| {
                json!({
                    "message": p.message,
                    "code": p.code,
                    "status": 400,
                    "details": [{ "fieldName": p.field, "errorCode": p.code }],
                })
            })
            .collect();
        let answer = json!({ "valid": errors.is_empty(), "errors": errors });
        json_response(200, &answer)
    });

    let s = store.clone();
    fake.route(Method::POST, &format!("{DRAFT}/publish"), move |req| {
        publish_draft(&s, req)
    });
}

/// `PATCH .../draft` (`UpdateDraftInput`): the draft changes only if the merged
/// definition is still valid.
fn patch_draft(store: &ActionsStore, req: &FakeRequest) -> ResponseTemplate {
    let id = req.param("actionId");
    let mut actions = store.lock();
    let Some(draft) = actions.get_mut(id).and_then(|a| a.draft.as_mut()) else {
        return draft_not_found();
    };
    let Some(patch) = json_object(req) else {
        return invalid_json();
    };
    let version = match version_of(&patch) {
        Ok(version) => version,
        Err(response) => return response,
    };
    if version != draft.version {
        return version_conflict();
    }
    let mut body = draft.body.clone();
    if let Some(fields) = body.as_object_mut() {
        for &key in PATCH_FIELDS {
            // A `null` field is an absent one, as serializers skip `None` either way.
            if let Some(value) = patch.get(key).filter(|v| !v.is_null()) {
                fields.insert(key.to_owned(), value.clone());
            }
        }
    }
    let problems = check_definition(&body);
    if !problems.is_empty() {
        return invalid_action(&problems);
    }
    draft.body = body;
    draft.version += 1;
    json_response(200, &action_json(id, draft, Which::Draft, Parts::ALL))
}

/// `POST .../draft/publish` (`PublishDraftInput`): the draft becomes the next published
/// version and is removed.
fn publish_draft(store: &ActionsStore, req: &FakeRequest) -> ResponseTemplate {
    let id = req.param("actionId");
    let mut actions = store.lock();
    let Some(action) = actions.get_mut(id) else {
        return draft_not_found();
    };
    let Some(draft) = action.draft.as_ref() else {
        return draft_not_found();
    };
    let Some(input) = json_object(req) else {
        return invalid_json();
    };
    match version_of(&input) {
        Ok(version) if version == draft.version => {}
        Ok(_) => return version_conflict(),
        Err(response) => return response,
    }
    let problems = check_definition(&draft.body);
    if !problems.is_empty() {
        return invalid_action(&problems);
    }
    let version = action.published.as_ref().map_or(1, |p| p.version + 1);
    let body = draft.body.clone();
    action.draft = None;
    let published = action.published.insert(Version { version, body });
    json_response(
        200,
        &action_json(id, published, Which::Published, Parts::ALL),
    )
}

/// Published actions: list, read, delete.
fn install_published(fake: &FakeGenesys, store: &Arc<ActionsStore>) {
    let s = store.clone();
    fake.route(Method::GET, ACTIONS, move |req| {
        let parts = Parts::asked(req);
        let items = s
            .lock()
            .iter()
            .filter_map(|(id, a)| {
                let published = a.published.as_ref()?;
                Some(action_json(id, published, Which::Published, parts))
            })
            .collect();
        page_of(req, items, ACTIONS)
    });

    let s = store.clone();
    fake.route(Method::GET, ACTION, move |req| {
        let id = req.param("actionId");
        match s.lock().get(id).and_then(|a| a.published.as_ref()) {
            Some(v) => json_response(
                200,
                &action_json(id, v, Which::Published, Parts::asked(req)),
            ),
            None => action_not_found(),
        }
    });

    let s = store.clone();
    fake.route(Method::DELETE, ACTION, move |req| {
        match s.lock().remove(req.param("actionId")) {
            Some(_) => ResponseTemplate::new(204),
            None => action_not_found(),
        }
    });
}

/// `execute`, `test` and `draft/test`.
fn install_runs(fake: &FakeGenesys, store: &Arc<ActionsStore>, base_uri: &str) {
    let endpoints = [
        (format!("{ACTION}/execute"), Which::Published, false),
        (format!("{ACTION}/test"), Which::Published, true),
        (format!("{DRAFT}/test"), Which::Draft, true),
    ];
    for (template, which, test) in endpoints {
        let s = store.clone();
        let base = base_uri.to_owned();
        fake.route(Method::POST, &template, move |req| {
            let Some(body) = s.body_of(req.param("actionId"), which) else {
                return match which {
                    Which::Published => action_not_found(),
                    Which::Draft => draft_not_found(),
                };
            };
            let input = match req.json::<Value>() {
                Ok(Value::Object(input)) => input,
                _ => return invalid_json(),
            };
            let run = run(&body, &input, &base);
            if test {
                return json_response(200, &run.test_result());
            }
            match run.outcome {
                Ok(output) => json_response(200, &output),
                Err(failure) => json_response(400, &failure.error_body()),
            }
        });
    }
}

/// Why a run stopped.
enum Failure {
    /// Step 1: the input broke the input contract, or the request could not be rendered.
    Resolve {
        message: String,
        /// `(fieldName, errorCode)` pairs.
        details: Vec<(String, String)>,
    },
    /// Step 2: the target could not be reached, or answered an error status.
    Remote { status: u16, detail: String },
    /// Step 3: translation map, success template or output contract failed.
    Processing(Vec<String>),
}

impl Failure {
    /// The step (1-based) that failed.
    fn step(&self) -> usize {
        match self {
            Failure::Resolve { .. } => 1,
            Failure::Remote { .. } => 2,
            Failure::Processing(_) => 3,
        }
    }

    /// The platform's `ErrorBody` for this failure, as `execute` answers it with 400.
    fn error_body(&self) -> Value {
        let (message, details, errors) = match self {
            Failure::Resolve { message, details } => {
                let details = details
                    .iter()
                    .map(|(field, code)| json!({ "fieldName": field, "errorCode": code }))
                    .collect();
                (message.clone(), details, vec![])
            }
            Failure::Remote { status, detail } => {
                remote_error("ACTION.REMOTE_ENDPOINT", detail, *status)
            }
            // The target answered fine; the nested error reports the action's failure.
            Failure::Processing(problems) => {
                remote_error("ACTION.PROCESSING", &problems.join("; "), 400)
            }
        };
        error_body(400, "bad.request", &message, details, errors)
    }
}

/// The message, `details` and nested `errors` of an execution failure ("Data action
/// returns a 400 error", <https://help.mypurecloud.com/?p=266465>: `details[].errorCode`
/// `ACTION.REMOTE_ENDPOINT`, and "REST call for action execute failed. Message: ...").
fn remote_error(category: &str, detail: &str, status: u16) -> (String, Vec<Value>, Vec<Value>) {
    (
        format!("REST call for action execute failed. Message: {detail}"),
        vec![json!({ "errorCode": category })],
        vec![json!({ "message": detail, "code": "BAD_REQUEST", "status": status })],
    )
}

/// The request a run rendered (step 1's result).
struct Rendered {
    method: String,
    url: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
}

/// One run of an action: what each step produced, and how it ended.
struct Run {
    request: Option<Rendered>,
    /// The target's answer, also when it was an error status.
    raw: Option<Value>,
    outcome: Result<Value, Failure>,
}

/// The parts of a stored action a run reads (the definition rules made sure of their
/// shape when it was saved).
struct Definition<'a> {
    method: &'a str,
    url: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    request_template: &'a str,
    translation_map: Vec<(&'a str, &'a str)>,
    defaults: Option<&'a Map<String, Value>>,
    success_template: &'a str,
    input_schema: &'a Value,
    success_schema: &'a Value,
}

impl<'a> Definition<'a> {
    fn of(body: &'a Value) -> Definition<'a> {
        let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
        let strings = |pointer: &str| -> Vec<(&'a str, &'a str)> {
            body.pointer(pointer)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                        .collect()
                })
                .unwrap_or_default()
        };
        Definition {
            method: text("/config/request/requestType").unwrap_or("GET"),
            url: text("/config/request/requestUrlTemplate").unwrap_or_default(),
            headers: strings("/config/request/headers"),
            // "The requestTemplate field shows a default value of ${input.rawRequest}"
            // ("Request configuration for data actions").
            request_template: text("/config/request/requestTemplate")
                .unwrap_or("${input.rawRequest}"),
            translation_map: strings("/config/response/translationMap"),
            defaults: body
                .pointer("/config/response/translationMapDefaults")
                .and_then(Value::as_object),
            // No source states the default; the pass-through most Genesys exports write.
            success_template: text("/config/response/successTemplate").unwrap_or("${rawResult}"),
            input_schema: body
                .pointer("/contract/input/inputSchema")
                .unwrap_or(&Value::Null),
            success_schema: body
                .pointer("/contract/output/successSchema")
                .unwrap_or(&Value::Null),
        }
    }
}

/// Runs the action stored as `body` for `input`, answering the request in-process, with
/// the fake's own renderer ([`velocity`]) and JSONPath ([`jsonpath`]).
fn run(body: &Value, input: &Map<String, Value>, base_uri: &str) -> Run {
    let mut run = Run {
        request: None,
        raw: None,
        outcome: Ok(Value::Null),
    };
    let action = Definition::of(body);
    let input_value = Value::Object(input.clone());
    let broken = contract_problems(action.input_schema, &input_value, "input");
    if !broken.is_empty() {
        let list: Vec<String> = broken.iter().map(|(f, k)| format!("{f} ({k})")).collect();
        run.outcome = Err(Failure::Resolve {
            message: format!(
                "The input does not match the action's input contract: {}",
                list.join("; ")
            ),
            details: broken.into_iter().map(|(f, k)| (f, k.to_owned())).collect(),
        });
        return run;
    }
    let request = match render_request(&action, input) {
        Ok(request) => request,
        Err(failure) => {
            run.outcome = Err(failure);
            return run;
        }
    };
    let answer = dispatch(&request, base_uri);
    run.request = Some(request);
    let (status, raw) = match answer {
        Ok(answer) => answer,
        Err(detail) => {
            run.outcome = Err(Failure::Remote {
                status: 400,
                detail: detail.into(),
            });
            return run;
        }
    };
    run.raw = Some(raw.clone());
    run.outcome = if status >= 400 {
        Err(Failure::Remote {
            status,
            detail: format!("Request to backend service failed. Response from web service: {raw}"),
        })
    } else {
        translate(&action, &raw).map_err(Failure::Processing)
    };
    run
}

/// Step 1: the URL, headers and body rendered for `input`. "GET requests do not use
/// request templates" ("Request configuration for data actions").
fn render_request(
    action: &Definition<'_>,
    input: &Map<String, Value>,
) -> Result<Rendered, Failure> {
    let context = velocity::Context::request(input);
    let mut problems: Vec<(String, TemplateError)> = Vec::new();
    let mut render = |field: String, template: &str| match velocity::render(template, &context) {
        Ok(text) => Some(text),
        Err(e) => {
            problems.push((field, e));
            None
        }
    };
    let url = render("config.request.requestUrlTemplate".into(), action.url);
    let headers: BTreeMap<String, String> = action
        .headers
        .iter()
        .filter_map(|(name, template)| {
            let value = render(format!("config.request.headers.{name}"), template)?;
            Some(((*name).to_owned(), value))
        })
        .collect();
    let body = match action.method {
        "GET" => None,
        _ => render(
            "config.request.requestTemplate".into(),
            action.request_template,
        ),
    };
    match url {
        Some(url) if problems.is_empty() => Ok(Rendered {
            method: action.method.to_owned(),
            url,
            headers,
            body,
        }),
        _ => {
            let list: Vec<String> = problems.iter().map(|(f, e)| format!("{f}: {e}")).collect();
            Err(Failure::Resolve {
                message: format!("The request could not be resolved: {}", list.join("; ")),
                details: problems
                    .iter()
                    .map(|(field, e)| {
                        let code = match e {
                            TemplateError::Unsupported(_) => UNSUPPORTED,
                            TemplateError::Syntax(_) => "template.syntax",
                        };
                        (field.clone(), code.to_owned())
                    })
                    .collect(),
            })
        }
    }
}

/// Step 3: the translation map, then the success template, then the output contract.
fn translate(action: &Definition<'_>, raw: &Value) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    let mut translations = BTreeMap::new();
    for (name, path) in &action.translation_map {
        let value = match jsonpath::Path::parse(path) {
            Ok(path) => path.evaluate(raw),
            Err(e) => {
                problems.push(format!("translationMap.{name}: {e}"));
                continue;
            }
        };
        // "The default value is used if the JSONPath expression configured in the
        // translation map fails to resolve a value. Null values do not fall back to
        // defaults." ("Response configuration for data actions"). Defaults are JSON text
        // as written, as Genesys's exports write them.
        match (
            value,
            action
                .defaults
                .and_then(|d| d.get(*name))
                .and_then(Value::as_str),
        ) {
            (Some(value), _) => {
                translations.insert((*name).to_owned(), value.to_string());
            }
            (None, Some(default)) => {
                translations.insert((*name).to_owned(), default.to_owned());
            }
            (None, None) => problems.push(format!(
                "translationMap.{name}: `{path}` resolves to nothing and has no default"
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let raw_text = raw.to_string();
    let context = velocity::Context::success(&translations, &raw_text);
    let text = velocity::render(action.success_template, &context)
        .map_err(|e| vec![format!("successTemplate: {e}")])?;
    let output: Value = serde_json::from_str(&text)
        .map_err(|_| vec!["the success template's result is not JSON".to_owned()])?;
    // "Success templates create resolved responses that must conform to the success
    // schemas. Otherwise, errors result." (ibid.)
    let broken = contract_problems(action.success_schema, &output, "output");
    if broken.is_empty() {
        Ok(output)
    } else {
        Err(broken
            .into_iter()
            .map(|(field, keyword)| {
                format!("{field} does not match the output contract (`{keyword}`)")
            })
            .collect())
    }
}

/// Sends `request` to the fake's external target, in-process; only URLs under the
/// fake's own `/external/` are reachable.
fn dispatch(request: &Rendered, base_uri: &str) -> Result<(u16, Value), &'static str> {
    let path = request
        .url
        .strip_prefix(base_uri)
        .filter(|p| p.starts_with("/external/"))
        .ok_or("the fake only reaches its own /external/ endpoints")?;
    let body: Option<Value> = request
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok());
    Ok(external_target(&request.method, path, body.as_ref()))
}

impl Run {
    /// The platform's `TestExecutionResult`: the steps up to the first failure.
    fn test_result(&self) -> Value {
        let failed = self.outcome.as_ref().err();
        let error = failed.map(Failure::error_body);
        let results = [
            self.request.as_ref().map(|r| {
                json!({ "method": r.method, "url": r.url, "headers": r.headers, "body": r.body })
            }),
            self.raw.clone(),
            self.outcome.as_ref().ok().cloned(),
        ];
        let mut operations = Vec::new();
        for (i, (name, result)) in STEPS.iter().zip(results).enumerate() {
            let step = i + 1;
            let this_failed = failed.is_some_and(|f| f.step() == step);
            let mut op = Map::new();
            op.insert("step".into(), json!(step));
            op.insert("name".into(), json!(name));
            op.insert("success".into(), json!(!this_failed));
            if let Some(result) = result {
                op.insert("result".into(), result);
            }
            if let (true, Some(e)) = (this_failed, &error) {
                let short =
                    json!({ "message": e["message"], "code": e["code"], "status": e["status"] });
                op.insert("error".into(), short);
            }
            operations.push(Value::Object(op));
            if this_failed {
                break;
            }
        }
        let mut result = Map::new();
        result.insert("operations".into(), Value::Array(operations));
        let final_result = self.outcome.as_ref().ok().cloned();
        result.insert("finalResult".into(), final_result.unwrap_or(Value::Null));
        result.insert("success".into(), json!(failed.is_none()));
        if let Some(error) = error {
            result.insert("error".into(), error);
        }
        Value::Object(result)
    }
}

/// Serves the external target over HTTP too (no token needed: see the Dispatcher).
/// Every method is routed, so HTTP answers exactly as the in-process calls do.
fn install_external(fake: &FakeGenesys) {
    for template in [EXTERNAL_RESOURCES, EXTERNAL_BROKEN] {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            fake.route(method, template, |req| {
                let body = req.json::<Value>().ok();
                let (status, answer) =
                    external_target(req.method.as_str(), &req.path, body.as_ref());
                json_response(status, &answer)
            });
        }
    }
}

/// The fake external system: `path` is the raw path (query allowed) under `/external/`.
///
/// - `POST /external/v1/resources/{id}`: accepts, echoing the body;
/// - `GET /external/v1/resources/{id}`: `ok`;
/// - `POST /external/v1/broken/{id}`: 200 without `status`, to fail output contracts;
/// - anything else: 404.
fn external_target(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if let Some(params) = PathPattern::new(EXTERNAL_RESOURCES).matches(path) {
        let id = params
            .get("targetId")
            .map(String::as_str)
            .unwrap_or_default();
        match method {
            "POST" => {
                let resource_id = body.and_then(|b| b.get("resourceId")).cloned();
                return (
                    200,
                    json!({
                        "status": "accepted",
                        "resultId": format!("res-{id}"),
                        "resourceId": resource_id.unwrap_or(Value::Null),
                        "received": body.cloned().unwrap_or(Value::Null),
                    }),
                );
            }
            "GET" => {
                return (
                    200,
                    json!({ "status": "ok", "resultId": format!("res-{id}") }),
                )
            }
            _ => {}
        }
    }
    if method == "POST" && PathPattern::new(EXTERNAL_BROKEN).matches(path).is_some() {
        return (200, json!({ "unexpected": true }));
    }
    (404, json!({ "error": "not found" }))
}
