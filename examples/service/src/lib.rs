//! A small HTTP service on genesys-cloud, built with only the features it uses
//! (`rustls`, `messaging`, `callbacks`, `api` and the generated `routing` group):
//!
//! | endpoint | what it does | crate API |
//! |---|---|---|
//! | `PATCH /conversations/{conversationId}/participants/{participantId}/attributes` | sets validated custom attributes on a messaging participant (text with HTML markup is refused: no `sanitize-html`) | `client.messaging()` |
//! | `POST /callbacks` | books a callback at a local time of the queue's time zone (the system's time-zone database) | `client.callbacks().create(..)` |
//! | `GET /queues/{queueId}` | reads a routing queue | `client.api().routing()` |
//!
//! Errors are answered as JSON, `{"error": kind, "message": .., "violations": [{field,
//! rule, message}]}`, with the status [`ServiceError::status`] gives: 422 for a request
//! that breaks a rule (nothing was sent to Genesys), 404 when Genesys has no such
//! conversation or queue, 409 on a conflict, 503 (with `Retry-After`) while Genesys
//! throttles, 500 when this service is set up wrongly (credentials, region, no time-zone
//! database), 504 on a timeout, 502 when Genesys or the network failed otherwise. No
//! message holds a value that was sent (a phone number, an attribute).
//!
//! `tests/service.rs` runs every endpoint against the crate's fake platform
//! (`genesys_cloud::testkit::FakeGenesys`); `benches/compile_cost.sh` builds this package
//! cold in release against the same service written on bare reqwest.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use genesys_cloud::api::{models, ApiExt};
use genesys_cloud::callbacks::{time_zone, CallbackReservation, Channel};
use genesys_cloud::jiff::civil::DateTime;
use genesys_cloud::messaging::{AttributePatch, AttributeSchema, AttributeValue, KeySpec, Markup};
use genesys_cloud::validation::Violation;
use genesys_cloud::{Client, Error, ErrorKind, ValidationError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The service's state: one client (cheap to clone) and the attribute keys it may set.
#[derive(Clone)]
pub struct Service {
    client: Client,
    schema: Arc<AttributeSchema>,
}

impl Service {
    /// The service on `client`, with the attribute keys of [`attribute_schema`].
    pub fn new(client: Client) -> Service {
        Service {
            client,
            schema: Arc::new(attribute_schema()),
        }
    }

    /// The three endpoints.
    pub fn router(self) -> Router {
        Router::new()
            .route(
                "/conversations/{conversation_id}/participants/{participant_id}/attributes",
                patch(patch_attributes),
            )
            .route("/callbacks", post(book_callback))
            .route("/queues/{queue_id}", get(read_queue))
            .with_state(self)
    }
}

/// The participant attributes this service may set, and their types.
pub fn attribute_schema() -> AttributeSchema {
    AttributeSchema::new()
        .key(
            "customer_tier",
            KeySpec::string().allowed_values(["silver", "gold", "platinum"]),
        )
        .key("cart_value", KeySpec::number())
        .key("is_vip", KeySpec::boolean())
        .key("referral_code", KeySpec::string().max_length(32))
}

/// An error, answered as JSON with the status that fits it.
#[derive(Debug)]
pub struct ServiceError(Error);

impl From<Error> for ServiceError {
    fn from(err: Error) -> Self {
        ServiceError(err)
    }
}

impl From<ValidationError> for ServiceError {
    fn from(err: ValidationError) -> Self {
        ServiceError(err.into())
    }
}

impl From<JsonRejection> for ServiceError {
    fn from(rejection: JsonRejection) -> Self {
        ValidationError::single("body", "json", rejection.body_text()).into()
    }
}

impl ServiceError {
    /// The status this service answers: the error's kind says whose fault it is.
    pub fn status(&self) -> StatusCode {
        match self.0.kind() {
            // Refused before anything was sent: the caller's request breaks a rule.
            ErrorKind::InvalidInput if self.0.validation().is_some() => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Throttled | ErrorKind::LocalLimit => StatusCode::SERVICE_UNAVAILABLE,
            // This service's own setup (credentials, region, the time-zone database).
            ErrorKind::Configuration => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Upstream if self.0.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            // Genesys refused what this service sent (400), its login failed, or it or
            // the network failed.
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = self.status();
        let violations: Vec<Value> = self
            .0
            .validation()
            .map(|v| {
                v.violations()
                    .iter()
                    .map(|v| json!({ "field": v.field, "rule": v.rule, "message": v.message }))
                    .collect()
            })
            .unwrap_or_default();
        let body = json!({
            "error": self.0.kind().to_string(),
            "message": self.0.to_string(),
            "violations": violations,
        });
        let mut answer = (status, Json(body)).into_response();
        if let Some(wait) = self.0.retry_after() {
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        answer
    }
}

/// A request refused for `violations` (at least one).
fn refused(violations: Vec<Violation>) -> ServiceError {
    ValidationError::from_violations(violations)
        .unwrap_or_else(|| ValidationError::single("body", "invalid", "the request is invalid"))
        .into()
}

async fn patch_attributes(
    State(service): State<Service>,
    Path((conversation_id, participant_id)): Path<(String, String)>,
    body: Result<Json<Map<String, Value>>, JsonRejection>,
) -> Result<Json<Value>, ServiceError> {
    let Json(body) = body?;
    let mut values = Vec::with_capacity(body.len());
    let mut wrong = Vec::new();
    for (key, value) in body {
        match attribute_value(&value) {
            Some(v) => values.push((key, v)),
            None => wrong.push(Violation::new(
                key,
                "type",
                "a value is text, a number or a boolean",
            )),
        }
    }
    if !wrong.is_empty() {
        return Err(refused(wrong));
    }
    // Refused rather than stripped, whether or not another crate of the build turns on
    // `sanitize-html`: the caller learns its text was not what it meant to send.
    let patch = AttributePatch::builder(&service.schema)
        .markup(Markup::Refuse)
        .set_all(values)
        .build()?;
    let held = service
        .client
        .messaging()
        .participant(conversation_id, participant_id)
        .patch_attributes(&patch)
        .await?;
    Ok(Json(json!({
        "attributes": held,
        "sanitized": patch.sanitized_keys(),
    })))
}

fn attribute_value(value: &Value) -> Option<AttributeValue> {
    match value {
        Value::String(s) => Some(AttributeValue::String(s.clone())),
        Value::Bool(b) => Some(AttributeValue::Boolean(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(AttributeValue::Integer)
            .or_else(|| n.as_f64().map(AttributeValue::Number)),
        _ => None,
    }
}

/// The body of `POST /callbacks`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BookCallback {
    queue_id: String,
    /// The queue's IANA time zone, e.g. `America/New_York`.
    time_zone: String,
    /// A local date-time in that zone, e.g. `2026-06-15T14:00`.
    at: String,
    number: String,
    country: Option<String>,
    name: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    sms_fallback: bool,
}

async fn book_callback(
    State(service): State<Service>,
    body: Result<Json<BookCallback>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ServiceError> {
    let Json(req) = body?;
    let mut violations = Vec::new();
    // From the system's time-zone database, or the one bundled into the binary with the
    // crate's `tzdb-bundled` feature. An unknown zone is the caller's mistake (422); no
    // database at all is this service's (500: "install tzdata or enable feature
    // tzdb-bundled").
    let zone = match time_zone(&req.time_zone) {
        Ok(zone) => Some(zone),
        Err(err) => match err.validation() {
            Some(refused) => {
                violations.extend(refused.violations().iter().cloned());
                None
            }
            None => return Err(err.into()),
        },
    };
    let at = req
        .at
        .parse::<DateTime>()
        .map_err(|_| {
            violations.push(Violation::new(
                "at",
                "date_time",
                "not a local date-time: give it as 2026-06-15T14:00",
            ))
        })
        .ok();
    let (Some(zone), Some(at)) = (zone, at) else {
        return Err(refused(violations));
    };
    let mut builder = CallbackReservation::builder(req.queue_id, zone)
        .callback_number(req.number)
        .at(at)
        .channels(Channel::Voice, req.sms_fallback.then_some(Channel::Sms));
    if let Some(country) = req.country {
        builder = builder.country(country);
    }
    if let Some(name) = req.name {
        builder = builder.user_name(name);
    }
    if let Some(reason) = req.reason {
        builder = builder.reason(reason);
    }
    let reservation = builder.build()?;
    let created = service.client.callbacks().create(&reservation).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "conversationId": created.conversation_id(),
            "scheduled": reservation.scheduled_time().to_string(),
            "numbers": reservation.command()["callbackNumbers"],
        })),
    ))
}

async fn read_queue(
    State(service): State<Service>,
    Path(queue_id): Path<String>,
) -> Result<Json<Value>, ServiceError> {
    let queue: models::Queue = service
        .client
        .api()
        .routing()
        .get_routing_queue(&queue_id)
        .send()
        .await?;
    Ok(Json(json!({
        "id": queue.id,
        "name": queue.name,
        "memberCount": queue.member_count,
    })))
}
