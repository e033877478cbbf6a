//! Flow 4 in the fake: scheduled callbacks (create, reschedule, read, list, disconnect),
//! each change published as an event through the Notifications API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

use super::notifications::{rfc3339, Notifications};
use super::responses::{bad_request, genesys_error, json_response, page_of};
use super::{FakeGenesys, FakeRequest};
use crate::Method;

const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";

/// Problems found in a request body: `(field, code)`, as `bad_request` lists them.
type Problems = Vec<(String, &'static str)>;

pub(crate) struct CallbacksStore {
    /// By conversation id; a BTreeMap keeps listing order stable.
    ///
    /// Lock order: this lock, then the notifications' (events are published while it is
    /// held, so that subscribers see changes in the order they were made).
    conversations: Mutex<BTreeMap<String, StoredCallback>>,
    notifications: Arc<Notifications>,
}

/// A callback conversation: a customer participant and the ACD callback participant.
struct StoredCallback {
    id: String,
    customer_id: String,
    callback_id: String,
    queue_id: String,
    numbers: Vec<String>,
    user_name: Option<String>,
    scheduled: Option<Timestamp>,
    /// The create command's `data`: strings only.
    attributes: Map<String, Value>,
    script_id: Option<String>,
    /// Set when disconnected.
    end_time: Option<Timestamp>,
}

impl StoredCallback {
    /// The platform's `CallbackConversation`.
    fn to_json(&self) -> Value {
        let state = |live: &str| {
            if self.end_time.is_some() {
                "disconnected".to_owned()
            } else {
                live.to_owned()
            }
        };
        let customer = json!({
            "id": self.customer_id,
            "purpose": "customer",
            "state": state("connected"),
            "direction": "inbound",
        });
        let mut callback = json!({
            "id": self.callback_id,
            "purpose": "acd",
            "state": state("scheduled"),
            "direction": "outbound",
            "queue": { "id": self.queue_id },
            "callbackNumbers": self.numbers,
            "attributes": self.attributes,
        });
        if let Some(name) = &self.user_name {
            callback["callbackUserName"] = json!(name);
        }
        if let Some(at) = self.scheduled {
            callback["callbackScheduledTime"] = json!(rfc3339(at));
        }
        if let Some(script) = &self.script_id {
            callback["script"] = json!({ "id": script });
        }
        if let Some(end) = self.end_time {
            callback["endTime"] = json!(rfc3339(end));
        }
        json!({
            "id": self.id,
            "participants": [customer, callback],
            "selfUri": format!("{CALLBACKS}/{}", self.id),
        })
    }

    /// `CreateCallbackResponse` / `PatchCallbackResponse`.
    fn identifiers(&self) -> Value {
        json!({
            "conversation": {
                "id": self.id,
                "selfUri": format!("/api/v2/conversations/{}", self.id),
            },
            "callbackIdentifiers": [{ "type": "ACD", "id": self.callback_id }],
        })
    }
}

impl CallbacksStore {
    pub(crate) fn new(notifications: Arc<Notifications>) -> Self {
        Self {
            conversations: Mutex::new(BTreeMap::new()),
            notifications,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredCallback>> {
        self.conversations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the callback's current state on its queue's callback topic and on its
    /// conversation topic.
    fn publish(&self, callback: &StoredCallback) {
        let body = callback.to_json();
        let queue_topic = format!(
            "v2.routing.queues.{}.conversations.callbacks",
            callback.queue_id
        );
        self.notifications.publish(&queue_topic, &body);
        self.notifications
            .publish(&format!("v2.conversations.{}", callback.id), &body);
    }

    /// Publishes the current state of a stored callback again; false if unknown.
    pub(crate) fn republish(&self, conversation_id: &str) -> bool {
        let conversations = self.lock();
        match conversations.get(conversation_id) {
            Some(callback) => {
                self.publish(callback);
                true
            }
            None => false,
        }
    }
}

impl FakeGenesys {
    /// Every callback conversation in the fake, as `GET
    /// /api/v2/conversations/callbacks/{conversationId}` answers it.
    pub fn callbacks(&self) -> Vec<Value> {
        self.state
            .callbacks
            .lock()
            .values()
            .map(StoredCallback::to_json)
            .collect()
    }

    /// Publishes the current state of callback `conversation_id` again on its topics,
    /// as the platform may deliver an event twice. False if there is no such callback.
    pub fn publish_callback_event(&self, conversation_id: &str) -> bool {
        self.state.callbacks.republish(conversation_id)
    }
}

fn not_found() -> ResponseTemplate {
    genesys_error(404, "not.found", "The conversation was not found.")
}

fn invalid(problems: &[(String, &'static str)]) -> ResponseTemplate {
    let fields: Vec<(&str, &str)> = problems.iter().map(|(f, c)| (f.as_str(), *c)).collect();
    bad_request("Input validation error.", &fields)
}

/// The body as a JSON object.
fn object_body(req: &FakeRequest) -> Result<Map<String, Value>, ResponseTemplate> {
    match req.json::<Value>() {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(bad_request(
            "The request body is not a JSON object.",
            &[("body", "invalid.json")],
        )),
    }
}

/// A field, treating `null` as absent (as the platform's deserializer does).
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// An optional string field; a present non-string is a problem.
fn opt_string(body: &Map<String, Value>, name: &str, problems: &mut Problems) -> Option<String> {
    let value = field(body, name)?;
    match value.as_str() {
        Some(s) => Some(s.to_owned()),
        None => {
            problems.push((name.to_owned(), "invalid.value"));
            None
        }
    }
}

/// `+` then 8 to 15 digits.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `callbackNumbers`: `None` when absent; a problem unless a non-empty list of strings,
/// each E.164 when `validateCallbackNumbers` is true or absent.
fn numbers(body: &Map<String, Value>, problems: &mut Problems) -> Option<Vec<String>> {
    let validate = match field(body, "validateCallbackNumbers") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(("validateCallbackNumbers".into(), "invalid.value"));
            true
        }
    };
    let value = field(body, "callbackNumbers")?;
    let Some(items) = value.as_array() else {
        problems.push(("callbackNumbers".into(), "invalid.value"));
        return None;
    };
    if items.is_empty() {
        problems.push(("callbackNumbers".into(), "required"));
        return None;
    }
    let mut numbers = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(n) if !validate || is_e164(n) => numbers.push(n.to_owned()),
            _ => problems.push((format!("callbackNumbers[{i}]"), "invalid.value")),
        }
    }
    Some(numbers)
}

/// `callbackScheduledTime`: `None` when absent; a problem unless an RFC 3339 timestamp.
fn scheduled_time(body: &Map<String, Value>, problems: &mut Problems) -> Option<Timestamp> {
    let value = field(body, "callbackScheduledTime")?;
    match value.as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
        Some(at) => Some(at),
        None => {
            problems.push(("callbackScheduledTime".into(), "invalid.value"));
            None
        }
    }
}

/// `data`: an object of strings (the callback participant's attributes).
fn data(body: &Map<String, Value>, problems: &mut Problems) -> Map<String, Value> {
    match field(body, "data") {
        None => Map::new(),
        Some(Value::Object(data)) if data.values().all(Value::is_string) => data.clone(),
        Some(_) => {
            problems.push(("data".into(), "invalid.value"));
            Map::new()
        }
    }
}

/// The queue: `queueId`, or else `routingData.queueId`.
fn queue_id(body: &Map<String, Value>, problems: &mut Problems) -> Option<String> {
    let from_routing = || {
        field(body, "routingData")
            .and_then(|r| r.get("queueId"))
            .and_then(Value::as_str)
    };
    let queue = field(body, "queueId")
        .and_then(Value::as_str)
        .or_else(from_routing)
        .filter(|q| !q.is_empty());
    if queue.is_none() {
        problems.push(("queueId".into(), "required"));
    }
    queue.map(str::to_owned)
}

/// A `CreateCallbackCommand` checked as the platform does; the new callback, or the
/// problems found.
fn new_callback(body: &Map<String, Value>) -> Result<StoredCallback, Problems> {
    let mut problems = Problems::new();
    let numbers = numbers(body, &mut problems);
    if numbers.is_none() && field(body, "callbackNumbers").is_none() {
        problems.push(("callbackNumbers".into(), "required"));
    }
    let queue_id = queue_id(body, &mut problems);
    let scheduled = scheduled_time(body, &mut problems);
    let attributes = data(body, &mut problems);
    let user_name = opt_string(body, "callbackUserName", &mut problems);
    let script_id = opt_string(body, "scriptId", &mut problems);
    for name in ["countryCode", "callerId", "callerIdName"] {
        opt_string(body, name, &mut problems);
    }
    let (Some(numbers), Some(queue_id), true) = (numbers, queue_id, problems.is_empty()) else {
        return Err(problems);
    };
    let new_id = || uuid::Uuid::new_v4().to_string();
    Ok(StoredCallback {
        id: new_id(),
        customer_id: new_id(),
        callback_id: new_id(),
        queue_id,
        numbers,
        user_name,
        scheduled,
        attributes,
        script_id,
        end_time: None,
    })
}

/// The changes a `PatchCallbackRequest` asks for (fields left out stay as they are).
struct Reschedule {
    scheduled: Option<Timestamp>,
    numbers: Option<Vec<String>>,
    queue_id: Option<String>,
}

fn reschedule_of(body: &Map<String, Value>) -> Result<Reschedule, Problems> {
    let mut problems = Problems::new();
    let reschedule = Reschedule {
        scheduled: scheduled_time(body, &mut problems),
        numbers: numbers(body, &mut problems),
        queue_id: opt_string(body, "queueId", &mut problems).filter(|q| !q.is_empty()),
    };
    // Accepted but without effect in the fake.
    for name in ["agentId", "countryCode"] {
        opt_string(body, name, &mut problems);
    }
    if problems.is_empty() {
        Ok(reschedule)
    } else {
        Err(problems)
    }
}

/// Whether a `Conversation` body asks to disconnect: `state` or any participant's
/// `state` is `disconnected`.
fn asks_disconnect(body: &Map<String, Value>) -> bool {
    let disconnected = |v: &Value| {
        v.get("state")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("disconnected"))
    };
    let participants = body
        .get("participants")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(disconnected));
    participants
        || body
            .get("state")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("disconnected"))
}

pub(crate) fn install(fake: &FakeGenesys, store: Arc<CallbacksStore>) {
    let s = store.clone();
    fake.route(Method::POST, CALLBACKS, move |req| {
        let body = match object_body(req) {
            Ok(body) => body,
            Err(response) => return response,
        };
        let callback = match new_callback(&body) {
            Ok(callback) => callback,
            Err(problems) => return invalid(&problems),
        };
        let answer = callback.identifiers();
        let mut conversations = s.lock();
        s.publish(&callback);
        conversations.insert(callback.id.clone(), callback);
        json_response(200, &answer)
    });

    let s = store.clone();
    fake.route(Method::PATCH, CALLBACKS, move |req| {
        let body = match object_body(req) {
            Ok(body) => body,
            Err(response) => return response,
        };
        let Some(id) = field(&body, "conversationId").and_then(Value::as_str) else {
            return invalid(&[("conversationId".into(), "required")]);
        };
        let mut conversations = s.lock();
        let Some(callback) = conversations.get_mut(id) else {
            return not_found();
        };
        let changes = match reschedule_of(&body) {
            Ok(changes) => changes,
            Err(problems) => return invalid(&problems),
        };
        if let Some(at) = changes.scheduled {
            callback.scheduled = Some(at);
        }
        if let Some(numbers) = changes.numbers {
            callback.numbers = numbers;
        }
        if let Some(queue) = changes.queue_id {
            callback.queue_id = queue;
        }
        s.publish(callback);
        json_response(200, &callback.identifiers())
    });

    let s = store.clone();
    fake.route(Method::GET, CALLBACKS, move |req| {
        let items = s.lock().values().map(StoredCallback::to_json).collect();
        page_of(req, items, CALLBACKS)
    });

    let s = store.clone();
    fake.route(Method::GET, CALLBACK, move |req| {
        match s.lock().get(req.param("conversationId")) {
            Some(callback) => json_response(200, &callback.to_json()),
            None => not_found(),
        }
    });

    fake.route(Method::PATCH, CALLBACK, move |req| {
        let body = match object_body(req) {
            Ok(body) => body,
            Err(response) => return response,
        };
        let mut conversations = store.lock();
        let Some(callback) = conversations.get_mut(req.param("conversationId")) else {
            return not_found();
        };
        if !asks_disconnect(&body) {
            return bad_request(
                "Only disconnecting a callback is supported: send {\"state\": \"disconnected\"}.",
                &[("state", "invalid.value")],
            );
        }
        // Disconnecting twice changes nothing and tells nobody.
        if callback.end_time.is_none() {
            callback.end_time = Some(Timestamp::now());
            store.publish(callback);
        }
        json_response(200, &callback.to_json())
    });
}
