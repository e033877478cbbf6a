//! Flow 4: callback reservations, with a live event stream.
//!
//! A reservation is validated ([`CallbackReservation::builder`]: E.164 numbers through a
//! real phone-number library, time slots in the queue's IANA zone with DST handled,
//! operating hours, channels, routing) and created with
//! `POST /api/v2/conversations/callbacks`; rescheduled with `PATCH
//! /api/v2/conversations/callbacks`. An optional per-queue limit bounds reservations in
//! flight. Events come from the Notifications API (see [`Callbacks::events`]).
//!
//! ```no_run
//! use genesys_cloud::callbacks::{CallbackReservation, Channel};
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let in_an_hour = jiff::Zoned::now().in_tz("America/New_York")? + jiff::SignedDuration::from_hours(1);
//! let start = in_an_hour.datetime();
//! let reservation = CallbackReservation::builder("0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b", "America/New_York")
//!     .callback_number("+14155550199")
//!     .slot(start, start + jiff::SignedDuration::from_mins(15))
//!     .channels(Channel::Voice, Some(Channel::Sms))
//!     .build()?;
//! let created = client.callbacks().create(&reservation).await?;
//! println!("callback conversation {}", created.conversation_id);
//! # Ok(()) }
//! ```

mod calendar;
mod events;
mod reservation;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use calendar::{sync_calendar, CalendarSink, WebhookCalendar};
pub use events::{CallbackEvent, CallbackEvents, EventSource, StreamOptions, RECONCILE_LIMIT};
pub use reservation::{
    CallbackReservation, CallbackReservationBuilder, Channel, Routing, TimeSlot, MAX_DATA_ENTRIES,
    MAX_TEXT_CHARS,
};

use crate::client::Client;
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord, LatencySummary};
use crate::paging;
use crate::transport::ApiRequest;
use crate::validation::{ValidationError, Violations};
use crate::Method;

const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";

/// The tutorial's bounds for the per-queue concurrency limit.
pub const CONCURRENCY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1..=50;

mod names {
    pub const PROCESSED: &str = "callbacks.reservations";
    pub const SUCCEEDED: &str = "callbacks.reservations_succeeded";
    pub const FAILED: &str = "callbacks.reservations_failed";
    pub const LATENCY: &str = "callbacks.create";
}

impl Client {
    /// Flow 4: callback reservations and their events.
    pub fn callbacks(&self) -> Callbacks {
        Callbacks {
            client: self.clone(),
            limit: None,
        }
    }
}

/// What callers past the concurrency limit do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait for a reservation on the same queue to finish.
    Wait,
    /// Fail at once with [`Error::LimitReached`].
    Reject,
}

#[derive(Debug)]
struct QueueLimit {
    per_queue: usize,
    when_full: WhenFull,
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Entry point of the callbacks flow, from [`Client::callbacks`]. Clones share the
/// concurrency limit.
#[derive(Debug, Clone)]
pub struct Callbacks {
    client: Client,
    limit: Option<Arc<QueueLimit>>,
}

/// The answer to a create or reschedule (`CreateCallbackResponse`/`PatchCallbackResponse`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CreatedCallback {
    /// The callback conversation.
    pub conversation_id: String,
    /// The callback's identifiers (`ACD`, `EXTERNAL` ...), as `(type, id)`.
    pub callback_identifiers: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct CallbackAnswer {
    conversation: IdRef,
    #[serde(default, rename = "callbackIdentifiers")]
    callback_identifiers: Vec<Identifier>,
}

#[derive(Deserialize)]
struct IdRef {
    id: String,
}

#[derive(Deserialize)]
struct Identifier {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    id: String,
}

impl From<CallbackAnswer> for CreatedCallback {
    fn from(a: CallbackAnswer) -> Self {
        CreatedCallback {
            conversation_id: a.conversation.id,
            callback_identifiers: a
                .callback_identifiers
                .into_iter()
                .map(|i| (i.kind, i.id))
                .collect(),
        }
    }
}

/// Reservation figures from the client's metrics registry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ReservationStats {
    /// Reservations attempted.
    pub processed: u64,
    /// Reservations the platform accepted.
    pub succeeded: u64,
    /// Reservations that failed.
    pub failed: u64,
    /// Latency of creates.
    pub latency: LatencySummary,
}

fn conversation_request(method: Method, id: &str) -> Result<ApiRequest, Error> {
    let mut v = Violations::default();
    v.check_uuid("conversationId", id);
    v.finish()?;
    Ok(ApiRequest::with_args(method, CALLBACK, &[id])?)
}

impl Callbacks {
    /// Limits reservations in flight to `per_queue` for each queue (the tutorial's
    /// `concurrency_limit`, 1 to 50); callers past it wait or are rejected.
    pub fn with_concurrency_limit(
        mut self,
        per_queue: usize,
        when_full: WhenFull,
    ) -> Result<Self, Error> {
        if !CONCURRENCY_LIMIT_RANGE.contains(&per_queue) {
            return Err(ValidationError::single(
                "concurrency_limit",
                "range",
                format!("{per_queue} is outside 1..=50"),
            )
            .into());
        }
        self.limit = Some(Arc::new(QueueLimit {
            per_queue,
            when_full,
            queues: Mutex::new(HashMap::new()),
        }));
        Ok(self)
    }

    async fn permit(&self, queue_id: &str) -> Result<Option<OwnedSemaphorePermit>, Error> {
        let Some(limit) = &self.limit else {
            return Ok(None);
        };
        let semaphore = limit
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(queue_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(limit.per_queue)))
            .clone();
        let full = || {
            Error::limit(
                format!("callback reservations in flight on queue {queue_id}"),
                limit.per_queue,
                "retry later, or let callers wait (WhenFull::Wait)",
            )
        };
        match limit.when_full {
            WhenFull::Wait => semaphore
                .acquire_owned()
                .await
                .map(Some)
                .map_err(|_| full()),
            WhenFull::Reject => semaphore.try_acquire_owned().map(Some).map_err(|_| full()),
        }
    }

    /// Creates the callback. POST is not repeated after a 5xx or a lost connection (it
    /// could book the customer twice); 429 is retried by the transport.
    pub async fn create(
        &self,
        reservation: &CallbackReservation,
    ) -> Result<CreatedCallback, Error> {
        let metrics = self.client.metrics();
        metrics.counter(names::PROCESSED).inc();
        let started = Instant::now();
        let result = async {
            let _permit = self.permit(&reservation.queue_id).await?;
            let req = ApiRequest::new(Method::POST, CALLBACKS).json(&reservation.command)?;
            let answer: CallbackAnswer = self.client.transport().json(&req).await?;
            Ok::<_, Error>(CreatedCallback::from(answer))
        }
        .await;
        let latency = started.elapsed();
        let mut audit = AuditRecord::new("callbacks.create", AuditOutcome::Success)
            .id("queueId", reservation.queue_id.clone())
            .keys(
                reservation.command["data"]
                    .as_object()
                    .map(|d| d.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .latency(latency);
        match &result {
            Ok(created) => {
                metrics.counter(names::SUCCEEDED).inc();
                metrics.latency(names::LATENCY).record(latency);
                audit = audit
                    .id("conversationId", created.conversation_id.clone())
                    .status(200);
            }
            Err(err) => {
                metrics.counter(names::FAILED).inc();
                audit = audit.error(err);
                audit.outcome = AuditOutcome::Failure;
            }
        }
        self.client.audit(audit);
        result
    }

    /// Moves a scheduled callback to `at` (which must be in the future).
    pub async fn reschedule(
        &self,
        conversation_id: &str,
        at: jiff::Timestamp,
    ) -> Result<CreatedCallback, Error> {
        let mut v = Violations::default();
        v.check_uuid("conversationId", conversation_id);
        v.check(
            at > jiff::Timestamp::now(),
            "callbackScheduledTime",
            "in_future",
            "a callback is rescheduled to a future time",
        );
        v.finish()?;
        let req = ApiRequest::new(Method::PATCH, CALLBACKS).json(&json!({
            "conversationId": conversation_id,
            "callbackScheduledTime": reservation::platform_time(at),
        }))?;
        let answer: CallbackAnswer = self.client.transport().json(&req).await?;
        self.client.audit(
            AuditRecord::new("callbacks.reschedule", AuditOutcome::Success)
                .id("conversationId", conversation_id),
        );
        Ok(answer.into())
    }

    /// One callback conversation, as the platform returns it (`CallbackConversation`).
    pub async fn get(&self, conversation_id: &str) -> Result<Value, Error> {
        self.client
            .transport()
            .json(&conversation_request(Method::GET, conversation_id)?)
            .await
    }

    /// Every callback conversation the platform lists (all pages). With client credentials
    /// the platform lists those of no user; use [`Callbacks::get`] or the event stream.
    pub fn list(&self) -> impl Stream<Item = Result<Value, Error>> + Send + 'static {
        paging::items(
            self.client.transport().clone(),
            ApiRequest::new(Method::GET, CALLBACKS),
        )
    }

    /// Cancels a callback by disconnecting its participants.
    pub async fn disconnect(&self, conversation_id: &str) -> Result<Value, Error> {
        // Disconnecting twice leaves the same state.
        let req = conversation_request(Method::PATCH, conversation_id)?
            .json(&json!({ "state": "disconnected" }))?
            .idempotent(true);
        self.client.transport().json(&req).await
    }

    /// Reservations processed, succeeded, failed, and create latency.
    pub fn stats(&self) -> ReservationStats {
        let s = self.client.metrics_snapshot();
        ReservationStats {
            processed: s.counter(names::PROCESSED),
            succeeded: s.counter(names::SUCCEEDED),
            failed: s.counter(names::FAILED),
            latency: s.latencies.get(names::LATENCY).cloned().unwrap_or_default(),
        }
    }
}
