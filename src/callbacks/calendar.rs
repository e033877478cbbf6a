//! Pushing callback changes to an external calendar.

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde_json::json;

use super::reservation::platform_time;
use super::{CallbackEvent, EventSource, StreamItem};
use crate::client::Client;
use crate::error::Error;
use crate::webhook::WebhookSender;

/// Where callback changes go (a calendar, a CRM ...).
#[async_trait]
pub trait CalendarSink: Send + Sync {
    /// Delivers one event. Delivery is at-least-once: the same event may come again, and
    /// carries the same dedupe key when it does.
    async fn deliver(&self, event: &CallbackEvent) -> Result<(), Error>;
}

/// A [`CalendarSink`] posting signed JSON to a webhook (see [`crate::webhook`]):
/// `{event, conversationId, queueId, state, scheduledTime, source, syncedAt}`, with a dedupe
/// key derived from the conversation and its state, so a receiver can drop repeats.
#[derive(Debug)]
pub struct WebhookCalendar {
    sender: WebhookSender,
}

impl WebhookCalendar {
    /// Posts to `url` (https) signed with `secret`, through `client`'s transport.
    pub fn new(client: Client, url: &str, secret: impl Into<String>) -> Result<Self, Error> {
        Ok(Self {
            sender: WebhookSender::new(client, "calendar", url, secret)?,
        })
    }
}

/// The same conversation in the same state always gets the same key.
pub(crate) fn dedupe_key(event: &CallbackEvent) -> String {
    crate::webhook::dedupe_key(&format!(
        "{}|{}|{}|{}",
        event.conversation_id,
        event.state.as_ref().map(|s| s.as_str()).unwrap_or_default(),
        event.scheduled_time.map(platform_time).unwrap_or_default(),
        event.ended,
    ))
}

#[async_trait]
impl CalendarSink for WebhookCalendar {
    async fn deliver(&self, event: &CallbackEvent) -> Result<(), Error> {
        let payload = json!({
            "event": "callback.changed",
            "conversationId": event.conversation_id,
            "queueId": event.queue_id,
            "state": event.state.as_ref().map(|s| s.as_str()),
            "scheduledTime": event.scheduled_time.map(platform_time),
            "source": match event.source {
                EventSource::Reconciled => "reconciled",
                _ => "live",
            },
            "syncedAt": jiff::Timestamp::now().to_string(),
        });
        self.sender
            .send("callback.changed", &dedupe_key(event), &payload)
            .await?;
        Ok(())
    }
}

/// Feeds every event of `events` (a [`CallbackEvents`](super::CallbackEvents) stream)
/// to `sink` until the stream ends, and returns how many were delivered. A delivery that
/// fails (after the sender's retries) is already counted and audited by the sink; it is
/// logged and the sync goes on, so one bad event never stops the others. Notices need
/// no delivery (the reconciled events that follow them do): a reconciliation cut short
/// is logged as a warning with what it left out. A stream error ends the sync with that
/// error.
pub async fn sync_calendar<S>(events: S, sink: &dyn CalendarSink) -> Result<u64, Error>
where
    S: Stream<Item = Result<StreamItem, Error>>,
{
    let mut events = std::pin::pin!(events);
    let mut delivered = 0;
    while let Some(item) = events.next().await {
        let event = match item? {
            StreamItem::Event(event) => event,
            StreamItem::Reconciled(report) if !report.is_complete() => {
                tracing::warn!(
                    skipped = report.skipped.len() as u64 + report.skipped_unlisted,
                    truncated = report.truncated,
                    error = ?report.error.as_ref().map(ToString::to_string),
                    "a reconciliation was cut short: some callback states may be missing from the calendar"
                );
                continue;
            }
            _ => continue,
        };
        match sink.deliver(&event).await {
            Ok(()) => delivered += 1,
            Err(err) => {
                tracing::warn!(conversation = %event.conversation_id, error = %err, "calendar delivery failed")
            }
        }
    }
    Ok(delivered)
}
