//! Callback events from the Notifications API, as a `Stream` that survives dropped
//! sockets, missed heartbeats and expiring channels.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::Callbacks;
use crate::client::Client;
use crate::error::Error;
use crate::paging;
use crate::transport::ApiRequest;
use crate::validation::Violations;
use crate::Method;

const CHANNELS: &str = "/api/v2/notifications/channels";
const SUBSCRIPTIONS: &str = "/api/v2/notifications/channels/{channelId}/subscriptions";
const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";

/// Conversations whose state is remembered for reconciliation (the most recent ones).
pub const RECONCILE_LIMIT: usize = 500;

/// How the event stream keeps its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// No frame (the platform sends a heartbeat about every 30 s) for this long means the
    /// socket is dead: reconnect. Default 90 s.
    pub heartbeat_timeout: Duration,
    /// How often the stream sends `{"message":"ping"}`. Default 30 s.
    pub ping_interval: Duration,
    /// How long before the channel's `expires` a new channel is made. Default 10 min.
    pub renew_before_expiry: Duration,
    /// First wait before reconnecting; doubles up to `max_reconnect_wait`. Default 500 ms.
    pub reconnect_wait: Duration,
    /// Longest wait before reconnecting. Default 30 s.
    pub max_reconnect_wait: Duration,
    /// Events buffered before the stream stops reading the socket (backpressure). Default 256.
    pub buffer: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            heartbeat_timeout: Duration::from_secs(90),
            ping_interval: Duration::from_secs(30),
            renew_before_expiry: Duration::from_secs(600),
            reconnect_wait: Duration::from_millis(500),
            max_reconnect_wait: Duration::from_secs(30),
            buffer: 256,
        }
    }
}

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventSource {
    /// Pushed by the platform on the websocket.
    Live,
    /// Found by the GET that follows a reconnect: the change happened while disconnected.
    Reconciled,
}

/// A change to a callback conversation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackEvent {
    /// Live or reconciled.
    pub source: EventSource,
    /// The notification topic (empty for reconciled events).
    pub topic: String,
    /// The callback conversation.
    pub conversation_id: String,
    /// The queue of the callback, when known.
    pub queue_id: Option<String>,
    /// The callback participant's state (`scheduled`, `connected`, `disconnected` ...).
    pub state: Option<String>,
    /// The callback's scheduled time, as the platform wrote it.
    pub scheduled_time: Option<String>,
    /// The platform's correlation id of the notification.
    pub correlation_id: Option<String>,
    /// The whole conversation, as the platform sent it.
    pub conversation: Value,
}

impl CallbackEvent {
    fn from_conversation(
        source: EventSource,
        topic: String,
        correlation_id: Option<String>,
        conversation: Value,
    ) -> Option<Self> {
        let conversation_id = conversation.get("id")?.as_str()?.to_owned();
        let participant = conversation["participants"].as_array().and_then(|ps| {
            ps.iter()
                .find(|p| {
                    p.get("callbackNumbers").is_some() || p.get("callbackScheduledTime").is_some()
                })
                .or_else(|| ps.iter().find(|p| p["purpose"] == "acd"))
        });
        let text = |p: Option<&Value>, key: &str| {
            p.and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Self {
            source,
            topic,
            queue_id: participant
                .and_then(|p| p.pointer("/queue/id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            state: text(participant, "state"),
            scheduled_time: text(participant, "callbackScheduledTime"),
            correlation_id,
            conversation_id,
            conversation,
        })
    }

    /// What identifies the callback's state: unchanged fingerprint, nothing missed.
    fn fingerprint(&self) -> String {
        format!("{:?}|{:?}", self.state, self.scheduled_time)
    }
}

/// The stream returned by [`Callbacks::events`]. Dropping it stops the background task.
#[derive(Debug)]
pub struct CallbackEvents {
    rx: mpsc::Receiver<Result<CallbackEvent, Error>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream for CallbackEvents {
    type Item = Result<CallbackEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for CallbackEvents {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Callbacks {
    /// Callback events of `queue_ids`, with the default [`StreamOptions`].
    pub fn events(&self, queue_ids: &[&str]) -> Result<CallbackEvents, Error> {
        self.events_with(queue_ids, StreamOptions::default())
    }

    /// Callback events of `queue_ids`: creates a notifications channel, subscribes to
    /// `v2.routing.queues.{id}.conversations.callbacks`, connects to the channel's
    /// websocket and yields each event. A dropped socket, missed heartbeats or a channel
    /// about to expire lead to a new channel and connection (with backoff), followed by
    /// a GET of the callbacks seen so far (and the listing), so that changes made while
    /// disconnected arrive as [`EventSource::Reconciled`] events. Errors that a retry
    /// cannot mend (refused subscription, bad credentials) end the stream with the error.
    pub fn events_with(
        &self,
        queue_ids: &[&str],
        options: StreamOptions,
    ) -> Result<CallbackEvents, Error> {
        let mut v = Violations::default();
        v.check(
            !queue_ids.is_empty(),
            "queue_ids",
            "required",
            "name at least one queue",
        );
        for (i, id) in queue_ids.iter().enumerate() {
            v.check_uuid(&format!("queue_ids[{i}]"), id);
        }
        v.finish()?;
        let topics: Vec<String> = queue_ids
            .iter()
            .map(|q| format!("v2.routing.queues.{q}.conversations.callbacks"))
            .collect();
        let queues: Vec<String> = queue_ids.iter().map(|q| (*q).to_owned()).collect();
        let (tx, rx) = mpsc::channel(options.buffer.max(1));
        let task = tokio::spawn(run(self.client.clone(), topics, queues, options, tx));
        Ok(CallbackEvents { rx, task })
    }
}

/// Why a session ended.
enum End {
    /// The stream was dropped.
    Closed,
    /// Connect again (the reason is logged).
    Reconnect(&'static str),
}

type Tx = mpsc::Sender<Result<CallbackEvent, Error>>;

struct Seen {
    states: HashMap<String, (u64, String)>,
    order: u64,
}

impl Seen {
    fn changed(&mut self, event: &CallbackEvent) -> bool {
        self.order += 1;
        let fingerprint = event.fingerprint();
        let changed = self
            .states
            .get(&event.conversation_id)
            .is_none_or(|(_, f)| *f != fingerprint);
        self.states
            .insert(event.conversation_id.clone(), (self.order, fingerprint));
        if self.states.len() > RECONCILE_LIMIT {
            if let Some(oldest) = self
                .states
                .iter()
                .min_by_key(|(_, (o, _))| *o)
                .map(|(k, _)| k.clone())
            {
                self.states.remove(&oldest);
            }
        }
        changed
    }
}

async fn run(
    client: Client,
    topics: Vec<String>,
    queues: Vec<String>,
    options: StreamOptions,
    tx: Tx,
) {
    let mut seen = Seen {
        states: HashMap::new(),
        order: 0,
    };
    let mut reconnecting = false;
    let mut waits = backoff(&options);
    loop {
        match session(
            &client,
            &topics,
            &queues,
            &options,
            &tx,
            &mut seen,
            reconnecting,
        )
        .await
        {
            Ok(End::Closed) => return,
            Ok(End::Reconnect(reason)) => {
                client
                    .metrics()
                    .counter("callbacks.stream_reconnects")
                    .inc();
                tracing::debug!(reason, "callback event stream reconnecting");
                waits = backoff(&options);
            }
            Err(err) if !err.is_retryable() => {
                let _ = tx.send(Err(err)).await;
                return;
            }
            Err(err) => tracing::debug!(error = %err, "callback event stream failed; retrying"),
        }
        reconnecting = true;
        let wait = waits.next().unwrap_or(options.max_reconnect_wait);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = tx.closed() => return,
        }
    }
}

fn backoff(options: &StreamOptions) -> impl Iterator<Item = Duration> {
    crate::transport::endless_backoff(options.reconnect_wait, options.max_reconnect_wait, true)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Channel {
    id: String,
    connect_uri: String,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Deserialize)]
struct Subscriptions {
    #[serde(default)]
    entities: Vec<Subscription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subscription {
    id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    rejection_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frame {
    #[serde(default)]
    topic_name: String,
    #[serde(default)]
    event_body: Value,
    #[serde(default)]
    metadata: Option<Value>,
}

async fn session(
    client: &Client,
    topics: &[String],
    queues: &[String],
    options: &StreamOptions,
    tx: &Tx,
    seen: &mut Seen,
    reconciling: bool,
) -> Result<End, Error> {
    let transport = client.transport();
    let channel: Channel = transport
        .json(&ApiRequest::new(Method::POST, CHANNELS))
        .await?;
    let body: Vec<Value> = topics.iter().map(|t| json!({ "id": t })).collect();
    // Replacing the list with the same topics twice has no further effect.
    let req = ApiRequest::with_args(Method::PUT, SUBSCRIPTIONS, &[&channel.id])?
        .json(&body)?
        .idempotent(true);
    let subscribed: Subscriptions = transport.json(&req).await?;
    if let Some(refused) = subscribed.entities.iter().find(|s| {
        s.state
            .as_deref()
            .is_some_and(|st| st.eq_ignore_ascii_case("rejected"))
    }) {
        return Err(Error::invalid_state(
            format!("subscription to {}", refused.id),
            "rejected",
            refused.rejection_reason.clone(),
        ));
    }

    let (mut socket, _) = tokio_tungstenite::connect_async(channel.connect_uri.as_str())
        .await
        .map_err(|e| Error::websocket("notifications channel", e.to_string(), false))?;
    if reconciling && reconcile(client, queues, tx, seen).await? {
        return Ok(End::Closed);
    }

    let renew_at = channel
        .expires
        .as_deref()
        .and_then(|e| e.parse::<jiff::Timestamp>().ok())
        .map(|expires| {
            let left = expires.duration_since(jiff::Timestamp::now());
            let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
            Instant::now() + left.saturating_sub(options.renew_before_expiry)
        })
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(23 * 3600));
    let mut last_frame = Instant::now();
    let mut ping = tokio::time::interval_at(
        Instant::now() + options.ping_interval,
        options.ping_interval,
    );

    loop {
        tokio::select! {
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => return Ok(End::Reconnect("the socket closed")),
                    Some(Err(_)) => return Ok(End::Reconnect("the socket failed")),
                    Some(Ok(_)) => {
                        last_frame = Instant::now();
                        continue;
                    }
                };
                last_frame = Instant::now();
                let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                    tracing::debug!("ignoring a frame that is not a notification");
                    continue;
                };
                if frame.topic_name == "v2.system.socket_closing" {
                    return Ok(End::Reconnect("the platform announced a socket close"));
                }
                if !topics.contains(&frame.topic_name) {
                    continue; // heartbeats, pongs and other metadata
                }
                let correlation_id = frame.metadata.as_ref().and_then(|m| m.get("CorrelationId")).and_then(Value::as_str).map(str::to_owned);
                if let Some(event) = CallbackEvent::from_conversation(EventSource::Live, frame.topic_name, correlation_id, frame.event_body) {
                    seen.changed(&event);
                    if tx.send(Ok(event)).await.is_err() {
                        return Ok(End::Closed);
                    }
                }
            }
            () = tokio::time::sleep_until(last_frame + options.heartbeat_timeout) => {
                return Ok(End::Reconnect("no heartbeat within the timeout"));
            }
            _ = ping.tick() => {
                if socket.send(Message::text(r#"{"message":"ping"}"#)).await.is_err() {
                    return Ok(End::Reconnect("the ping could not be sent"));
                }
            }
            () = tokio::time::sleep_until(renew_at) => {
                return Ok(End::Reconnect("the channel is about to expire"));
            }
            () = tx.closed() => return Ok(End::Closed),
        }
    }
}

/// Reports, as reconciled events, callbacks whose state differs from the last one seen.
/// `Ok(true)` when the stream was dropped meanwhile.
async fn reconcile(
    client: &Client,
    queues: &[String],
    tx: &Tx,
    seen: &mut Seen,
) -> Result<bool, Error> {
    let transport = client.transport();
    let mut conversations: Vec<Value> =
        paging::items(transport.clone(), ApiRequest::new(Method::GET, CALLBACKS))
            .try_collect()
            .await?;
    let listed: Vec<String> = conversations
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let known: Vec<String> = seen
        .states
        .keys()
        .filter(|id| !listed.contains(id))
        .cloned()
        .collect();
    for id in known {
        let req = ApiRequest::with_args(Method::GET, CALLBACK, &[&id])?;
        match transport.json::<Value>(&req).await {
            Ok(conversation) => conversations.push(conversation),
            Err(err) if err.status() == Some(404) => {}
            Err(err) => return Err(err),
        }
    }
    for conversation in conversations {
        let Some(event) = CallbackEvent::from_conversation(
            EventSource::Reconciled,
            String::new(),
            None,
            conversation,
        ) else {
            continue;
        };
        let watched = event.queue_id.as_ref().is_none_or(|q| queues.contains(q));
        if watched && seen.changed(&event) {
            client
                .metrics()
                .counter("callbacks.reconciled_events")
                .inc();
            if tx.send(Ok(event)).await.is_err() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
