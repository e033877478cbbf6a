//! Pushing callback changes to an external calendar.

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde_json::json;

use super::{CallbackEvent, EventSource};
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
        "{}|{:?}|{:?}",
        event.conversation_id, event.state, event.scheduled_time
    ))
}

#[async_trait]
impl CalendarSink for WebhookCalendar {
    async fn deliver(&self, event: &CallbackEvent) -> Result<(), Error> {
        let payload = json!({
            "event": "callback.changed",
            "conversationId": event.conversation_id,
            "queueId": event.queue_id,
            "state": event.state,
            "scheduledTime": event.scheduled_time,
            "source": match event.source {
                EventSource::Live => "live",
                EventSource::Reconciled => "reconciled",
            },
            "syncedAt": jiff::Timestamp::now().to_string(),
        });
        self.sender
            .send("callback.changed", &dedupe_key(event), &payload)
            .await?;
        Ok(())
    }
}

/// Feeds every event of `events` to `sink` until the stream ends, and returns how many
/// were delivered. A delivery that fails (after the sender's retries) is already counted
/// and audited by the sink; it is logged and the sync goes on, so one bad event never
/// stops the others. A stream error ends the sync with that error.
pub async fn sync_calendar<S>(events: S, sink: &dyn CalendarSink) -> Result<u64, Error>
where
    S: Stream<Item = Result<CallbackEvent, Error>>,
{
    let mut events = std::pin::pin!(events);
    let mut delivered = 0;
    while let Some(event) = events.next().await {
        let event = event?;
        match sink.deliver(&event).await {
            Ok(()) => delivered += 1,
            Err(err) => {
                tracing::warn!(conversation = %event.conversation_id, error = %err, "calendar delivery failed")
            }
        }
    }
    Ok(delivered)
}
