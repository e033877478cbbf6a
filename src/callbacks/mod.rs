//! Scheduled callbacks: book them, move them, cancel them, and (feature
//! `callback-events`) follow what happens to a queue's callbacks as it happens.
//!
//! - [`CallbackReservation::builder`] checks a booking before anything is sent: E.164
//!   numbers (through a phone-number library), a time in the queue's time zone (daylight
//!   saving handled), opening hours, channels, routing.
//! - [`time_zone`] finds a queue's IANA time zone, with an error that says what to do when
//!   the machine has no time-zone database (see "Time zones" below).
//! - [`Callbacks`] (from [`Client::callbacks`]) creates, reschedules, reads and cancels
//!   callbacks, with an optional limit of bookings in flight per queue. Every answer is a
//!   typed model ([`CreateCallbackResponse`], [`CallbackConversation`], [`Conversation`]).
//! - With feature `callback-events`: `Callbacks::events` streams a queue's callback
//!   changes from the Notifications API and finds what a dropped socket missed (module
//!   `events`), and `sync_calendar` feeds the events to a calendar or CRM
//!   (`CalendarSink`), such as a signed webhook (`WebhookCalendar`).
//!
//! Feature `callbacks` alone is the REST part: no websocket, no webhook signer. Feature
//! `callback-events` adds the event stream (it turns on `notifications` and `webhook`).
//!
//! Times are [`jiff`] types, re-exported as [`crate::jiff`].
//!
//! ```no_run
//! use genesys_cloud::callbacks::{time_zone, CallbackReservation, Channel};
//! use genesys_cloud::jiff::{SignedDuration, Zoned};
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let queue = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";
//! let zone = time_zone("America/New_York")?;
//! let in_an_hour = Zoned::now().with_time_zone(zone.clone()) + SignedDuration::from_hours(1);
//! let reservation = CallbackReservation::builder(queue, zone)
//!     .callback_number("+14155550199")
//!     .at(in_an_hour.datetime())
//!     .channels(Channel::Voice, Some(Channel::Sms))
//!     .build()?;
//! let created = client.callbacks().create(&reservation).await?;
//! println!("callback conversation {}", created.conversation_id());
//! # Ok(()) }
//! ```
//!
//! # Time zones
//!
//! A slot is a local time of the queue's zone, so the crate needs the IANA time-zone
//! database. With `callbacks` it reads the system's (`/usr/share/zoneinfo`, or `TZDIR`; on
//! Windows, where there is none, a copy is bundled), so a zone changed by a tzdata update
//! is right without a rebuild. Feature `tzdb-bundled` (on by default) bundles the database
//! into the binary instead (about 0.2 MB): for images without tzdata (`scratch`,
//! distroless, some Alpine images). Without either, every zone but UTC is missing, and
//! [`time_zone`] fails with [`ErrorKind::Configuration`](crate::ErrorKind::Configuration):
//! "install tzdata or enable feature tzdb-bundled", instead of booking at a wrong time.

#[cfg(feature = "callback-events")]
mod calendar;
#[cfg(feature = "callback-events")]
#[cfg_attr(docsrs, doc(cfg(feature = "callback-events")))]
pub mod events;
mod model;
#[cfg(feature = "callback-events")]
mod outbox;
#[cfg(feature = "callback-events")]
mod reconcile;
mod reservation;
mod time_zone;
#[cfg(feature = "callback-events")]
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::Stream;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[cfg(feature = "callback-events")]
#[cfg_attr(docsrs, doc(cfg(feature = "callback-events")))]
pub use calendar::{sync_calendar, CalendarSink, WebhookCalendar};
#[cfg(feature = "callback-events")]
#[cfg_attr(docsrs, doc(cfg(feature = "callback-events")))]
pub use events::{
    CallbackEvent, CallbackEvents, CallbackSnapshot, EventSource, Lagged, Reconciliation,
    Reconnected, StreamItem, StreamOptions, StreamOptionsBuilder, StreamStatus,
};
pub use model::*;
pub use reservation::{
    CallbackReservation, CallbackReservationBuilder, Channel, Routing, MAX_DATA_ENTRIES,
    MAX_TEXT_CHARS,
};
pub use time_zone::{time_zone, time_zone_in};

use crate::client::Client;
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord, LatencySummary};
use crate::paging;
use crate::transport::ApiRequest;
use crate::validation::{ValidationError, Violations};
use crate::Method;

/// The guide's code samples (docs/callbacks.md), compiled as doctests (the event stream's
/// need `callback-events`, and the booking's the time-zone database).
#[cfg(all(doctest, feature = "callback-events"))]
#[doc = include_str!("../../docs/callbacks.md")]
struct Guide;

const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";

/// The bounds of the per-queue concurrency limit.
pub const CONCURRENCY_LIMIT_RANGE: std::ops::RangeInclusive<usize> = 1..=50;

mod names {
    pub const PROCESSED: &str = "callbacks.reservations";
    pub const SUCCEEDED: &str = "callbacks.reservations_succeeded";
    pub const FAILED: &str = "callbacks.reservations_failed";
    pub const LATENCY: &str = "callbacks.create";
}

impl Client {
    /// Scheduled callbacks: book, reschedule, read, cancel, and follow their events.
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
    /// Fail at once with an [`ErrorKind::LocalLimit`](crate::ErrorKind::LocalLimit) error.
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

/// The answer, once it is known to name the conversation.
fn with_conversation(answer: CreateCallbackResponse) -> Result<CreateCallbackResponse, Error> {
    if answer.conversation_id().is_empty() {
        return Err(Error::contract(
            "the callback answer",
            vec!["it names no conversation".into()],
        ));
    }
    Ok(answer)
}

impl Callbacks {
    /// Limits reservations in flight to `per_queue` for each queue (1 to 50); callers
    /// past it wait or are rejected.
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
                "callback reservations in flight on this reservation's queue",
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
    ) -> Result<CreateCallbackResponse, Error> {
        let metrics = self.client.metrics();
        metrics.counter(names::PROCESSED).inc();
        let started = Instant::now();
        let result = async {
            let _permit = self.permit(&reservation.queue_id).await?;
            let req = ApiRequest::new(Method::POST, CALLBACKS).json(&reservation.command)?;
            let answer: CreateCallbackResponse = self.client.transport().json(&req).await?;
            with_conversation(answer)
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
                    .id("conversationId", created.conversation_id())
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
    ) -> Result<PatchCallbackResponse, Error> {
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
        let answer: PatchCallbackResponse = self.client.transport().json(&req).await?;
        let answer = with_conversation(answer)?;
        self.client.audit(
            AuditRecord::new("callbacks.reschedule", AuditOutcome::Success)
                .id("conversationId", conversation_id),
        );
        Ok(answer)
    }

    /// One callback conversation (`GET /api/v2/conversations/callbacks/{conversationId}`).
    pub async fn get(&self, conversation_id: &str) -> Result<CallbackConversation, Error> {
        self.client
            .transport()
            .json(&conversation_request(Method::GET, conversation_id)?)
            .await
    }

    /// The callbacks of the **logged-in user** (`GET /api/v2/conversations/callbacks`,
    /// all pages). Under client credentials there is no user and the platform lists
    /// none: to find a queue's callbacks use the event stream ([`Callbacks::events`]),
    /// which finds missed ones with the analytics conversation details query.
    pub fn list(&self) -> impl Stream<Item = Result<CallbackConversation, Error>> + Send + 'static {
        paging::items(self.client.clone(), ApiRequest::new(Method::GET, CALLBACKS))
    }

    /// Cancels a callback by disconnecting its participants; the conversation as the
    /// platform answers.
    pub async fn disconnect(&self, conversation_id: &str) -> Result<Conversation, Error> {
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
