//! Callbacks in the fake: scheduled callbacks (create, reschedule, read, list, disconnect),
//! each change published as an event through the Notifications API, and the analytics
//! conversation details query that finds a queue's callbacks.
//!
//! Two answers copy what the platform does under OAuth client credentials (the only grant
//! the fake issues tokens for), from docs/research/background.md part C:
//!
//! - `GET /api/v2/conversations/callbacks` is "the logged-in user's active conversations
//!   and their Callback participants state" (`get_conversations_callbacks` in the Python
//!   SDK's `conversations_api.py`); a client-credentials token has no user, so it lists
//!   nothing. (Third parties report empty answers for the user-scoped `GET
//!   /api/v2/conversations` and a 400 "requires a user context" for `/api/v2/users/me`;
//!   the fake answers the empty listing.)
//! - `POST /api/v2/analytics/conversations/details/query` finds callbacks by queue and
//!   media type (`ConversationQuery` and `AnalyticsConversationQueryResponse` of the
//!   Python SDK, field names exact). Only what the crate sends is understood: the
//!   `interval`, `paging`, `order`/`orderBy` (`conversationStart`), segment filters on
//!   `mediaType`, `queueId`, `purpose` and `segmentType`, conversation filters on
//!   `conversationEnd` and `conversationId`; anything else is refused with a 400 naming
//!   it, so a test never passes on a filter the fake ignored.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{json, Map, Value};
use wiremock::ResponseTemplate;

#[cfg(feature = "notifications")]
use super::notifications::Notifications;
use super::responses::rfc3339;
use super::responses::{bad_request, genesys_error, json_response, page_of};
use super::{FakeGenesys, FakeRequest};
use crate::Method;

const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";
const DETAILS_QUERY: &str = "/api/v2/analytics/conversations/details/query";
/// The largest analytics page the fake serves. Third-party notes give 100 (the 2022
/// Genesys blog "How the Analytics Conversation Details Query API Works" uses 200);
/// the smaller keeps clients honest.
const MAX_ANALYTICS_PAGE: u64 = 100;

/// Problems found in a request body: `(field, code)`, as `bad_request` lists them.
type Problems = Vec<(String, &'static str)>;

pub(crate) struct CallbacksStore {
    /// By conversation id; a BTreeMap keeps listing order stable.
    ///
    /// Lock order: this lock, then the notifications' (events are published while it is
    /// held, so that subscribers see changes in the order they were made).
    conversations: Mutex<BTreeMap<String, StoredCallback>>,
    /// Where changes are published (the fake's Notifications API, with `notifications`).
    notifications: Publisher,
    /// How long after its creation a callback shows in analytics queries.
    analytics_delay: Mutex<Duration>,
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
    /// When it was created (the participants' `startTime`, analytics' `conversationStart`).
    created: Timestamp,
    /// When it was created, on tokio's clock (for the analytics delay, under paused time).
    created_at: tokio::time::Instant,
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
        let mut customer = json!({
            "id": self.customer_id,
            "purpose": "customer",
            "state": state("connected"),
            "direction": "inbound",
            "startTime": rfc3339(self.created),
        });
        let mut callback = json!({
            "id": self.callback_id,
            "purpose": "acd",
            "state": state("scheduled"),
            "direction": "outbound",
            "startTime": rfc3339(self.created),
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
            customer["endTime"] = json!(rfc3339(end));
        }
        json!({
            "id": self.id,
            "participants": [customer, callback],
            "selfUri": format!("{CALLBACKS}/{}", self.id),
        })
    }

    /// The platform's `Conversation` (the answer to a disconnect): participants with
    /// their `callbacks` media.
    fn to_conversation(&self) -> Value {
        let state = if self.end_time.is_some() {
            "disconnected"
        } else {
            "connected"
        };
        let start = rfc3339(self.created);
        let end = self.end_time.map(rfc3339);
        let mut acd_media = json!({
            "id": self.callback_id,
            "state": if self.end_time.is_some() { "disconnected" } else { "scheduled" },
            "direction": "outbound",
            "callbackNumbers": self.numbers,
        });
        if let Some(at) = self.scheduled {
            acd_media["callbackScheduledTime"] = json!(rfc3339(at));
        }
        if let Some(name) = &self.user_name {
            acd_media["callbackUserName"] = json!(name);
        }
        if let Some(end) = &end {
            acd_media["disconnectedTime"] = json!(end);
        }
        let mut customer = json!({
            "id": self.customer_id,
            "purpose": "customer",
            "startTime": start,
            "callbacks": [{ "id": self.customer_id, "state": state, "direction": "inbound" }],
        });
        let mut acd = json!({
            "id": self.callback_id,
            "purpose": "acd",
            "startTime": start,
            "queueId": self.queue_id,
            "attributes": self.attributes,
            "callbacks": [acd_media],
        });
        let mut conversation = json!({
            "id": self.id,
            "state": state,
            "startTime": start,
            "selfUri": format!("/api/v2/conversations/{}", self.id),
        });
        if let Some(end) = end {
            customer["endTime"] = json!(end);
            acd["endTime"] = json!(end);
            conversation["endTime"] = json!(end);
        }
        conversation["participants"] = json!([customer, acd]);
        conversation
    }

    /// The analytics record (`AnalyticsConversationWithoutAttributes`): the customer's
    /// callback session carries the numbers and the scheduled time, the ACD
    /// participant's session the queue (the shape of docs/research/background.md C2).
    fn to_analytics(&self) -> Value {
        let start = rfc3339(self.created);
        let mut customer_session = json!({
            "sessionId": self.customer_id,
            "mediaType": "callback",
            "direction": "inbound",
            "callbackNumbers": self.numbers,
            "segments": [{ "segmentType": "scheduled", "segmentStart": start }],
        });
        if let Some(at) = self.scheduled {
            customer_session["callbackScheduledTime"] = json!(rfc3339(at));
        }
        if let Some(name) = &self.user_name {
            customer_session["callbackUserName"] = json!(name);
        }
        let mut segment = json!({
            "segmentType": "scheduled",
            "segmentStart": start,
            "queueId": self.queue_id,
        });
        let mut conversation = json!({
            "conversationId": self.id,
            "conversationStart": start,
            "originatingDirection": "inbound",
            "divisionIds": [],
        });
        if let Some(end) = self.end_time {
            segment["segmentEnd"] = json!(rfc3339(end));
            segment["disconnectType"] = json!("client");
            conversation["conversationEnd"] = json!(rfc3339(end));
        }
        conversation["participants"] = json!([
            { "participantId": self.customer_id, "purpose": "customer", "sessions": [customer_session] },
            { "participantId": self.callback_id, "purpose": "acd", "sessions": [{
                "sessionId": self.callback_id,
                "mediaType": "callback",
                "direction": "outbound",
                "segments": [segment],
            }] },
        ]);
        conversation
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

/// The fake's Notifications API, or nothing in builds without it (REST-only callbacks).
#[cfg(feature = "notifications")]
pub(crate) type Publisher = Arc<Notifications>;
/// The fake's Notifications API, or nothing in builds without it (REST-only callbacks).
#[cfg(not(feature = "notifications"))]
pub(crate) type Publisher = ();

impl CallbacksStore {
    pub(crate) fn new(notifications: Publisher) -> Self {
        Self {
            conversations: Mutex::new(BTreeMap::new()),
            notifications,
            analytics_delay: Mutex::new(Duration::ZERO),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredCallback>> {
        self.conversations.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes the callback's current state on its queue's callback topic
    /// (`v2.routing.queues.{id}.conversations.callbacks`).
    #[cfg(feature = "notifications")]
    fn publish(&self, callback: &StoredCallback) {
        let body = callback.to_json();
        let queue_topic = format!(
            "v2.routing.queues.{}.conversations.callbacks",
            callback.queue_id
        );
        self.notifications.publish(&queue_topic, &body);
    }

    /// Without the Notifications API there is no one to tell.
    #[cfg(not(feature = "notifications"))]
    fn publish(&self, _callback: &StoredCallback) {
        let () = self.notifications;
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

    /// How long after its creation a callback shows in analytics conversation details
    /// queries (default none). The platform indexes conversations for analytics with a
    /// delay it does not document.
    pub fn set_analytics_delay(&self, delay: Duration) {
        *self
            .state
            .callbacks
            .analytics_delay
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = delay;
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
        created: Timestamp::now(),
        created_at: tokio::time::Instant::now(),
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

    // The logged-in user's callbacks: a client-credentials token has no user (see the
    // module docs).
    fake.route(Method::GET, CALLBACKS, move |req| {
        page_of(req, Vec::new(), CALLBACKS)
    });

    let s = store.clone();
    fake.route(Method::POST, DETAILS_QUERY, move |req| {
        let body = match object_body(req) {
            Ok(body) => body,
            Err(response) => return response,
        };
        let query = match AnalyticsQuery::parse(&body) {
            Ok(query) => query,
            Err(response) => return response,
        };
        let delay = *s.analytics_delay.lock().unwrap_or_else(|p| p.into_inner());
        let now = tokio::time::Instant::now();
        let conversations = s.lock();
        let mut hits: Vec<&StoredCallback> = conversations
            .values()
            .filter(|c| now.saturating_duration_since(c.created_at) >= delay)
            .filter(|c| query.matches(c))
            .collect();
        hits.sort_by_key(|c| (c.created, c.id.clone()));
        if query.descending {
            hits.reverse();
        }
        let total = hits.len();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(query.skip())
            .take(query.page_size)
            .map(StoredCallback::to_analytics)
            .collect();
        // The platform leaves `conversations` out of an empty answer.
        let mut answer = json!({ "totalHits": total });
        if !page.is_empty() {
            answer["conversations"] = json!(page);
        }
        json_response(200, &answer)
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
        json_response(200, &callback.to_conversation())
    });
}

/// A `ConversationQuery`, as far as the fake understands one.
struct AnalyticsQuery {
    /// The UTC days the interval touches: conversations that started on one of them.
    first_day: jiff::civil::Date,
    last_day: jiff::civil::Date,
    page_size: usize,
    page_number: usize,
    descending: bool,
    segment_filters: Vec<Filter>,
    conversation_filters: Vec<Filter>,
}

/// A `SegmentDetailQueryFilter` or `ConversationDetailQueryFilter`.
struct Filter {
    any: bool,
    predicates: Vec<Predicate>,
    /// Each clause: (any, predicates).
    clauses: Vec<(bool, Vec<Predicate>)>,
}

/// A query predicate: `dimension` with `operator` (`matches`, `exists`, `notExists`).
struct Predicate {
    dimension: String,
    operator: String,
    value: Option<String>,
}

/// What a segment predicate sees of one segment.
struct SegmentRow<'a> {
    media_type: &'a str,
    purpose: &'a str,
    segment_type: &'a str,
    queue_id: Option<&'a str>,
}

const SEGMENT_DIMENSIONS: &[&str] = &["mediaType", "queueId", "purpose", "segmentType"];
const CONVERSATION_DIMENSIONS: &[&str] = &["conversationEnd", "conversationId"];

fn unsupported(field: &str, what: &str) -> ResponseTemplate {
    bad_request(
        &format!("{what} (FakeGenesys understands only what the crate sends)."),
        &[(field, "invalid.value")],
    )
}

impl AnalyticsQuery {
    fn parse(body: &Map<String, Value>) -> Result<Self, ResponseTemplate> {
        let interval = field(body, "interval")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(&[("interval".into(), "required")]))?;
        let (start, end) = interval
            .split_once('/')
            .and_then(|(a, b)| Some((a.parse::<Timestamp>().ok()?, b.parse::<Timestamp>().ok()?)))
            .filter(|(a, b)| a < b)
            .ok_or_else(|| invalid(&[("interval".into(), "invalid.value")]))?;
        let utc_day = |t: Timestamp| t.to_zoned(jiff::tz::TimeZone::UTC).date();
        let paging = field(body, "paging");
        let number = |name: &str, default: u64| {
            paging
                .and_then(|p| p.get(name))
                .map_or(Some(default), Value::as_u64)
        };
        let page_size = number("pageSize", 25)
            .filter(|n| (1..=MAX_ANALYTICS_PAGE).contains(n))
            .ok_or_else(|| invalid(&[("paging.pageSize".into(), "invalid.value")]))?;
        let page_number = number("pageNumber", 1)
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid(&[("paging.pageNumber".into(), "invalid.value")]))?;
        let descending = match field(body, "order").and_then(Value::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(unsupported("order", "order must be asc or desc")),
        };
        match field(body, "orderBy").and_then(Value::as_str) {
            None | Some("conversationStart") => {}
            Some(_) => {
                return Err(unsupported(
                    "orderBy",
                    "only conversationStart is supported",
                ))
            }
        }
        for name in body.keys() {
            if !matches!(
                name.as_str(),
                "interval"
                    | "paging"
                    | "order"
                    | "orderBy"
                    | "segmentFilters"
                    | "conversationFilters"
            ) {
                return Err(unsupported(name, "unsupported query field"));
            }
        }
        Ok(Self {
            first_day: utc_day(start),
            last_day: utc_day(end),
            page_size: usize::try_from(page_size).unwrap_or(usize::MAX),
            page_number: usize::try_from(page_number).unwrap_or(usize::MAX),
            descending,
            segment_filters: filters(body, "segmentFilters", SEGMENT_DIMENSIONS)?,
            conversation_filters: filters(body, "conversationFilters", CONVERSATION_DIMENSIONS)?,
        })
    }

    fn skip(&self) -> usize {
        self.page_number
            .saturating_sub(1)
            .saturating_mul(self.page_size)
    }

    fn matches(&self, c: &StoredCallback) -> bool {
        let day = c.created.to_zoned(jiff::tz::TimeZone::UTC).date();
        if day < self.first_day || day > self.last_day {
            return false;
        }
        let conversation = |p: &Predicate| match p.dimension.as_str() {
            "conversationEnd" => p.test(c.end_time.map(rfc3339).as_deref()),
            "conversationId" => p.test(Some(&c.id)),
            _ => false,
        };
        if !self
            .conversation_filters
            .iter()
            .all(|f| f.matches(&conversation))
        {
            return false;
        }
        // One row per segment: the customer's callback session (no queue) and the ACD
        // participant's (with the queue).
        let rows = [
            SegmentRow {
                media_type: "callback",
                purpose: "customer",
                segment_type: "scheduled",
                queue_id: None,
            },
            SegmentRow {
                media_type: "callback",
                purpose: "acd",
                segment_type: "scheduled",
                queue_id: Some(&c.queue_id),
            },
        ];
        self.segment_filters.iter().all(|f| {
            rows.iter().any(|row| {
                f.matches(&|p: &Predicate| match p.dimension.as_str() {
                    "mediaType" => p.test(Some(row.media_type)),
                    "purpose" => p.test(Some(row.purpose)),
                    "segmentType" => p.test(Some(row.segment_type)),
                    "queueId" => p.test(row.queue_id),
                    _ => false,
                })
            })
        })
    }
}

impl Filter {
    fn matches(&self, test: &dyn Fn(&Predicate) -> bool) -> bool {
        let clause = |(any, predicates): &(bool, Vec<Predicate>)| {
            if *any {
                predicates.iter().any(test)
            } else {
                predicates.iter().all(test)
            }
        };
        if self.any {
            self.predicates.iter().any(test) || self.clauses.iter().any(clause)
        } else {
            self.predicates.iter().all(test) && self.clauses.iter().all(clause)
        }
    }
}

impl Predicate {
    fn test(&self, actual: Option<&str>) -> bool {
        match self.operator.as_str() {
            "exists" => actual.is_some(),
            "notExists" => actual.is_none(),
            _ => actual.is_some() && actual == self.value.as_deref(),
        }
    }
}

/// The filters at `name`: `[{type, predicates, clauses: [{type, predicates}]}]`.
fn filters(
    body: &Map<String, Value>,
    name: &str,
    dimensions: &[&str],
) -> Result<Vec<Filter>, ResponseTemplate> {
    let Some(value) = field(body, name) else {
        return Ok(Vec::new());
    };
    let bad = || invalid(&[(name.to_owned(), "invalid.value")]);
    let any = |v: &Value| match v.get("type").and_then(Value::as_str) {
        Some("and") => Ok(false),
        Some("or") => Ok(true),
        _ => Err(bad()),
    };
    let predicates = |v: &Value| -> Result<Vec<Predicate>, ResponseTemplate> {
        let Some(items) = v.get("predicates") else {
            return Ok(Vec::new());
        };
        items
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|p| {
                let dimension = p.get("dimension").and_then(Value::as_str).ok_or_else(bad)?;
                if !dimensions.contains(&dimension) {
                    return Err(unsupported(
                        name,
                        &format!("unsupported dimension {dimension}"),
                    ));
                }
                if p.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "dimension")
                {
                    return Err(unsupported(name, "only dimension predicates are supported"));
                }
                let operator = p
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or("matches");
                if !matches!(operator, "matches" | "exists" | "notExists") {
                    return Err(bad());
                }
                let value = p.get("value").and_then(Value::as_str).map(str::to_owned);
                if operator == "matches" && value.is_none() {
                    return Err(bad());
                }
                Ok(Predicate {
                    dimension: dimension.to_owned(),
                    operator: operator.to_owned(),
                    value,
                })
            })
            .collect()
    };
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|f| {
            let clauses = match f.get("clauses") {
                None => Vec::new(),
                Some(c) => c
                    .as_array()
                    .ok_or_else(bad)?
                    .iter()
                    .map(|c| Ok((any(c)?, predicates(c)?)))
                    .collect::<Result<_, ResponseTemplate>>()?,
            };
            Ok(Filter {
                any: any(f)?,
                predicates: predicates(f)?,
                clauses,
            })
        })
        .collect()
}
