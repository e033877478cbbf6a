//! In the fake: Data Actions (drafts, publishing, validation, test and execute)
//! and the external system the actions call.
//!
//! Actions run in-process with the crate's own [`DataAction`], which renders templates
//! as the platform does (Apache Velocity 1.7 and Genesys's tools, no escaping of its
//! own: docs/research/velocity.md, "Escape any use of input or output variables …",
//! <https://help.mypurecloud.com/articles/velocity-macros-data-actions/>) and evaluates
//! translation maps with Jayway's rules: the rendered request is answered by
//! [`external_target`] directly, so an execution needs no real network, and the success
//! template sees the answer's text as `$rawResult`. The same target is served over HTTP
//! under `/external/` for the crate's local executor.
//!
//! Definitions are checked with [`DataAction::from_platform`]: what the platform itself
//! refuses (methods, timeouts, contracts, template and JSONPath syntax) is a 400, while
//! lint findings (unescaped inputs, non-JSON defaults, `$Input` typos) are not, since
//! Genesys accepts and publishes such actions (the exports under
//! tests/velocity-oracle/actions/, from Genesys-owned repositories, have them). Templates
//! see no `credentials`: the fake has no integration configuration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

use super::responses::{bad_request, error_body, genesys_error, json_response, page_of};
use super::router::PathPattern;
use super::{FakeGenesys, FakeRequest};
use crate::nodes::{DataAction, PreparedRequest};
use crate::validation::ValidationError;
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

/// The `PostActionInput` fields a new draft must have.
const POST_REQUIRED: &[&str] = &["category", "name", "integrationId", "config", "contract"];

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
fn invalid_action(error: &ValidationError) -> ResponseTemplate {
    let fields: Vec<(&str, &str)> = error
        .violations()
        .iter()
        .map(|v| (v.field.as_str(), v.rule))
        .collect();
    bad_request("The action is invalid.", &fields)
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
        // PostActionInput requires category, name, integrationId, config and contract
        // (platform models, docs/research/nodes.md [S2]); an export lacks the first and
        // the third.
        let missing: Vec<(&str, &str)> = POST_REQUIRED
            .iter()
            .filter(|&&k| {
                body.get(k)
                    .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
            })
            .map(|&k| (k, "required"))
            .collect();
        if !missing.is_empty() {
            return bad_request("The action is invalid.", &missing);
        }
        let body = Value::Object(body);
        if let Err(error) = DataAction::from_platform(&body) {
            return invalid_action(&error);
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
        let answer = match DataAction::from_platform(&body) {
            Ok(_) => json!({ "valid": true, "errors": [] }),
            Err(error) => {
                let errors: Vec<Value> = error
                    .violations()
                    .iter()
                    .map(|v| {
                        json!({
                            "message": v.message,
                            "code": v.rule,
                            "status": 400,
                            "details": [{ "fieldName": v.field, "errorCode": v.rule }],
                        })
                    })
                    .collect();
                json!({ "valid": false, "errors": errors })
            }
        };
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
    if let Err(error) = DataAction::from_platform(&body) {
        return invalid_action(&error);
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
    if let Err(error) = DataAction::from_platform(&draft.body) {
        return invalid_action(&error);
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
                Ok(input @ Value::Object(_)) => input,
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
    /// Step 1: the action, the input or the rendered request broke a rule.
    Resolve {
        message: &'static str,
        error: ValidationError,
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
            Failure::Resolve { message, error } => {
                let list: Vec<String> = error.violations().iter().map(|v| v.to_string()).collect();
                let details: Vec<Value> = error
                    .violations()
                    .iter()
                    .map(|v| json!({ "fieldName": v.field, "errorCode": v.rule }))
                    .collect();
                (format!("{message}: {}", list.join("; ")), details, vec![])
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

/// The message, `details` and nested `errors` of an execution failure.
fn remote_error(category: &str, detail: &str, status: u16) -> (String, Vec<Value>, Vec<Value>) {
    (
        format!("REST call for action execute failed. Message: {detail}"),
        vec![json!({ "errorCode": category })],
        vec![json!({ "message": detail, "code": "BAD_REQUEST", "status": status })],
    )
}

/// One run of an action: what each step produced, and how it ended.
struct Run {
    request: Option<PreparedRequest>,
    /// The target's answer, also when it was an error status.
    raw: Option<Value>,
    outcome: Result<Value, Failure>,
}

/// Runs the action stored as `body` for `input`, answering the request in-process.
fn run(body: &Value, input: &Value, base_uri: &str) -> Run {
    let mut run = Run {
        request: None,
        raw: None,
        outcome: Ok(Value::Null),
    };
    let resolved = DataAction::from_platform(body)
        .map_err(|error| Failure::Resolve {
            message: "The action is invalid",
            error,
        })
        .and_then(|action| {
            let invalid_input = |error| Failure::Resolve {
                message: "The input is invalid",
                error,
            };
            action.check_input(input).map_err(invalid_input)?;
            let request = action.prepare(input).map_err(invalid_input)?;
            Ok((action, request))
        });
    let (action, request) = match resolved {
        Ok(resolved) => resolved,
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
        // The answer as text, as the platform hands `rawResult` to the success template.
        let text = raw.to_string();
        action
            .translate(&text, Some(input))
            .map_err(Failure::Processing)
    };
    run
}

/// Sends `request` to the fake's external target, in-process; only URLs under the
/// fake's own `/external/` are reachable.
fn dispatch(request: &PreparedRequest, base_uri: &str) -> Result<(u16, Value), &'static str> {
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
            self.request
                .as_ref()
                .map(|r| json!({ "method": r.method, "url": r.url, "body": r.body })),
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
