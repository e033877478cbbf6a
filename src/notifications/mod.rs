//! The Notifications API: any topic the platform offers, live, over websockets that are
//! kept alive, replaced, renewed and rolled over for you (feature `notifications`).
//!
//! [`Notifications::subscribe`] (from [`Client::notifications`]) returns once the platform
//! confirmed every topic, so every change made after it returns is delivered. The
//! [`Subscription`] yields [`NotificationItem`]s: notifications, and notices of what
//! happened to the stream itself ([`NotificationItem::Lagged`], [`NotificationItem::Gap`]).
//!
//! ```no_run
//! use futures::StreamExt;
//! use genesys_cloud::notifications::NotificationItem;
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let user = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
//! let mut presence = client
//!     .notifications()
//!     .subscribe([format!("v2.users.{user}.presence")])
//!     .await?;
//! while let Some(item) = presence.next().await {
//!     match item? {
//!         NotificationItem::Event(n) => {
//!             let body: serde_json::Value = n.decode()?;
//!             println!("{}: {}", n.topic(), body["presenceDefinition"]["systemPresence"]);
//!         }
//!         // Events while the socket was down are lost (the platform keeps none):
//!         // read what matters again through the REST API.
//!         NotificationItem::Gap(gap) => println!("missed {:?}..{:?}", gap.down_since, gap.reconnected_at),
//!         other => println!("{other:?}"),
//!     }
//! #   break;
//! }
//! # Ok(()) }
//! ```
//!
//! # Channels
//!
//! A client's subscriptions share its channels: topics are spread over channels of at
//! most [`MAX_TOPICS_PER_CHANNEL`] (never a 400 at run time), a topic two subscriptions
//! want is carried once, and a subscription that would need more than the platform's
//! [`MAX_CHANNELS`] per OAuth client is refused before anything is made. Each channel
//! has one background task that owns its websocket:
//!
//! - **Alive.** `{"message":"ping"}` every `ping_every`; a socket silent for `dead_after`
//!   (no heartbeat, event or pong) is replaced.
//! - **Reconnects** back off from `reconnect_wait` to `max_reconnect_wait`, and start over
//!   only after a connection stayed up for `healthy_after`; a reconnect reuses the channel
//!   (its subscriptions stay on the platform) and makes a new one only when the platform
//!   says the old one is gone, subscribing it to the same topics.
//! - **Renewed.** `renew_before_expiry` before the channel's 24 hours are up it is
//!   subscribed again; if that does not move its `expires`, the task moves to a new
//!   channel (connected and subscribed before the old socket is let go).
//! - **Maintenance.** On `v2.system.socket_closing` a new socket is opened on the same
//!   channel before the platform closes the old one, which is read until then.
//!
//! # What is lost, and how you learn of it
//!
//! The platform keeps no notification for a socket that is down: what happened in a gap
//! is gone. Every gap is announced by a [`NotificationItem::Gap`] with its time window,
//! once the socket is up again, so the consumer can read what it needs through the REST
//! API (the callback event stream does exactly that: [`Callbacks::events`]). A consumer
//! that reads too slowly loses notifications beyond its `buffer`, announced by a
//! [`NotificationItem::Lagged`] where they went missing. Notices are never dropped.
//!
//! [`Client::notifications`]: crate::Client::notifications
//! [`Callbacks::events`]: https://docs.rs/genesys-cloud/latest/genesys_cloud/callbacks/struct.Callbacks.html#method.events

mod channel;
mod driver;
mod options;
mod queue;
mod registry;
mod typed;

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use jiff::Timestamp;
use serde::de::DeserializeOwned;

#[cfg(feature = "callback-events")]
pub(crate) use options::ConnectionOptions;
pub use options::{SubscribeOptions, SubscribeOptionsBuilder};
#[cfg(feature = "callback-events")]
pub(crate) use queue::Pushed;
pub(crate) use queue::{Queue, QueueItem, Taken};
pub use registry::{MAX_CHANNELS, MAX_TOPICS_PER_CHANNEL};

use crate::client::Client;
use crate::error::Error;
use crate::validation::Violations;

pub(crate) use registry::Registry;

/// Where a channel's task hands one subscription's items.
pub(crate) type Sink = Arc<Queue<NotificationItem, SubscriptionStatus>>;

/// Topic names are at most this long (the longest the platform lists is under 200).
const MAX_TOPIC_CHARS: usize = 512;

/// One notification as the platform sent it: `{topicName, version, eventBody, metadata}`.
///
/// The body is kept as the JSON text it arrived as (read once, when the frame's topic was
/// found) and decoded on demand, into the topic's model or any type. Cheap to clone.
#[derive(Clone)]
pub struct Notification {
    pub(crate) topic: Arc<str>,
    pub(crate) version: Option<String>,
    pub(crate) body: Arc<str>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) received_at: Timestamp,
}

impl std::fmt::Debug for Notification {
    /// The topic and the metadata; never the body, which holds the platform's data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notification")
            .field("topic", &self.topic)
            .field("version", &self.version)
            .field("correlation_id", &self.correlation_id)
            .field("received_at", &self.received_at)
            .finish_non_exhaustive()
    }
}

impl Notification {
    /// The topic, e.g. `v2.users.{id}.presence` with the id filled in.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The topic's schema version, when the platform said.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The notification's `CorrelationId` metadata, when the platform sent one.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// When this process received it.
    pub fn received_at(&self) -> Timestamp {
        self.received_at
    }

    /// The `eventBody` as the JSON text it arrived as.
    pub fn body_json(&self) -> &str {
        &self.body
    }

    /// The `eventBody`, decoded into `T`: the topic's model (the generated API has one
    /// for most topics, `*TopicEvent*` models), a type of your own, or
    /// `serde_json::Value`. A body that does not fit is an [`ErrorKind::Decode`] error
    /// naming the field path and the expected type, never the value.
    ///
    /// [`ErrorKind::Decode`]: crate::ErrorKind::Decode
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut de = serde_json::Deserializer::from_str(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            Error::decode(
                Arc::from(format!("notification {}", self.topic_shape())),
                200,
                self.correlation_id.clone(),
                crate::error::decode_detail(&path, e.inner()),
            )
        })
    }

    /// The topic with its ids replaced by `{id}`, for errors and metrics.
    pub(crate) fn topic_shape(&self) -> String {
        topic_shape(&self.topic)
    }
}

/// A topic with its ids replaced by `{id}` (`v2.users.{id}.presence`): the name errors and
/// metrics use, since the ids are the caller's values. A segment holding a digit is an id,
/// unless it is the version (`v2`).
pub(crate) fn topic_shape(topic: &str) -> String {
    topic
        .split('.')
        .map(|segment| {
            let version = segment
                .strip_prefix('v')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !version && segment.bytes().any(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// One item of a [`Subscription`].
///
/// Notices are never dropped. While one is unread, a later notice of the same kind is
/// merged into it (counts added, windows widened), so a consumer that reads late learns
/// everything in at most one notice of each kind.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NotificationItem {
    /// A notification on one of the subscription's topics.
    Event(Notification),
    /// The consumer fell `buffer` notifications behind and notifications were dropped
    /// here.
    Lagged(Lagged),
    /// A channel's socket was down and is up again; notifications of that window are
    /// lost (the platform keeps none): read what matters again through the REST API.
    Gap(Gap),
}

/// Notifications dropped because the consumer was `buffer` behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lagged {
    /// How many.
    pub dropped: u64,
}

/// A channel's socket was down and is up again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Gap {
    /// The last time the channel heard from the platform before the gap.
    pub down_since: Timestamp,
    /// When the socket was up again.
    pub reconnected_at: Timestamp,
    /// Gaps this notice covers (more than one when notices were merged).
    pub outages: u32,
    /// Connection attempts it took.
    pub attempts: u32,
    /// Whether a new channel had to be made (the old one was gone).
    pub new_channel: bool,
}

impl Gap {
    fn merge(&mut self, later: &Gap) {
        self.down_since = self.down_since.min(later.down_since);
        self.reconnected_at = self.reconnected_at.max(later.reconnected_at);
        self.outages = self.outages.saturating_add(later.outages);
        self.attempts = self.attempts.saturating_add(later.attempts);
        self.new_channel |= later.new_channel;
    }
}

impl QueueItem for NotificationItem {
    fn is_event(&self) -> bool {
        matches!(self, NotificationItem::Event(_))
    }

    fn lagged(dropped: u64) -> Self {
        NotificationItem::Lagged(Lagged { dropped })
    }

    fn is_lagged(&self) -> bool {
        matches!(self, NotificationItem::Lagged(_))
    }

    fn absorb(&mut self, later: &Self) -> bool {
        match (self, later) {
            (NotificationItem::Lagged(a), NotificationItem::Lagged(b)) => {
                a.dropped = a.dropped.saturating_add(b.dropped);
            }
            (NotificationItem::Gap(a), NotificationItem::Gap(b)) => a.merge(b),
            _ => return false,
        }
        true
    }
}

/// What a subscription has seen so far (see [`Subscription::status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionStatus {
    /// Whether every channel of the subscription has its socket up now.
    pub connected: bool,
    /// Times a socket was lost.
    pub disconnects: u64,
    /// Times it was up again.
    pub reconnects: u64,
    /// Channels used (made or reused), the first included.
    pub channels_created: u64,
}

/// The client's Notifications API (from [`Client::notifications`](crate::Client::notifications)).
#[derive(Debug, Clone)]
pub struct Notifications {
    client: Client,
}

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

impl Notifications {
    pub(crate) fn new(client: Client) -> Self {
        Self { client }
    }

    /// Notifications of `topics`, with the default [`SubscribeOptions`]; see
    /// [`Notifications::subscribe_with`].
    pub async fn subscribe<I, T>(&self, topics: I) -> Result<Subscription, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.subscribe_with(topics, SubscribeOptions::default())
            .await
    }

    /// Notifications of `topics` (e.g. `v2.users.{id}.presence`, ids filled in): placed
    /// on the client's channels (made as needed), confirmed by the platform, and
    /// delivered from the moment this returns. See the [module docs](self).
    ///
    /// Errors: no topics, a malformed topic or out-of-range options (nothing sent); more
    /// channels than the platform allows ([`ErrorKind::LocalLimit`]); a topic the
    /// platform refuses ([`ErrorKind::Conflict`], naming it and any missing permission);
    /// or the first failure to make a channel, connect or subscribe, within the client's
    /// deadline.
    ///
    /// [`ErrorKind::LocalLimit`]: crate::ErrorKind::LocalLimit
    /// [`ErrorKind::Conflict`]: crate::ErrorKind::Conflict
    pub async fn subscribe_with<I, T>(
        &self,
        topics: I,
        options: SubscribeOptions,
    ) -> Result<Subscription, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut unique: Vec<String> = Vec::new();
        for topic in topics {
            let topic = topic.into();
            if !unique.contains(&topic) {
                unique.push(topic);
            }
        }
        let mut v = Violations::default();
        v.check(
            !unique.is_empty(),
            "topics",
            "required",
            "name at least one topic",
        );
        for (i, topic) in unique.iter().enumerate() {
            v.check(
                is_topic(topic),
                format!("topics[{i}]"),
                "topic",
                format!("a topic is dot-separated segments of letters, digits, `_` and `-` (as `v2.users.{{id}}.presence`), at most {MAX_TOPIC_CHARS} characters"),
            );
        }
        options.check_into(&mut v);
        v.finish()?;
        let registry = self.client.notification_registry();
        let sink: Sink = Arc::new(Queue::new(options.buffer));
        let id = NEXT_SUBSCRIPTION.fetch_add(1, Ordering::Relaxed);
        let limit = self.client.transport().deadline();
        let placement = registry
            .subscribe(&self.client, &options.connection, id, &unique, &sink, limit)
            .await?;
        let finished = sink.is_finished();
        sink.update_status(|s| s.connected = !finished);
        Ok(Subscription {
            sink,
            registry,
            id,
            placement,
            topics: unique,
            ended: false,
        })
    }

    /// Channels this client runs now (idle ones kept for reuse not included).
    pub fn channels(&self) -> usize {
        self.client.notification_registry().channels()
    }
}

/// Whether `topic` looks like a topic: dot-separated segments of ASCII letters, digits,
/// `_` and `-`, starting with a letter.
fn is_topic(topic: &str) -> bool {
    topic.len() <= MAX_TOPIC_CHARS
        && topic.starts_with(|c: char| c.is_ascii_alphabetic())
        && topic.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
}

/// The stream returned by [`Notifications::subscribe`]: `Ok` items until the
/// subscription cannot go on (a channel the platform refuses, credentials refused), then
/// one `Err`, then the end. Dropping it unsubscribes (a channel left without subscribers
/// is emptied and kept for the next subscription).
pub struct Subscription {
    sink: Sink,
    registry: Arc<Registry>,
    id: u64,
    placement: registry::Placement,
    topics: Vec<String>,
    ended: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topics", &self.topics.len())
            .field("channels", &self.placement.len())
            .field("status", &self.sink.status())
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// What the subscription has seen so far, and whether its sockets are up.
    pub fn status(&self) -> SubscriptionStatus {
        self.sink.status()
    }

    /// The topics it receives.
    pub fn topics(&self) -> &[String] {
        &self.topics
    }

    /// Notifications dropped so far because the consumer lagged.
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }

    /// Where the subscription's status is kept, for a consumer that reports it.
    pub(crate) fn status_source(&self) -> Sink {
        self.sink.clone()
    }
}

impl Stream for Subscription {
    type Item = Result<NotificationItem, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.sink.take(cx.waker()) {
            Taken::Item(item) => Poll::Ready(Some(Ok(item))),
            Taken::End(error) => {
                self.ended = true;
                Poll::Ready(Some(Err(error)))
            }
            Taken::Nothing => Poll::Pending,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.registry.unsubscribe(self.id, &self.placement);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_checked_and_shaped_without_their_ids() {
        assert!(is_topic(
            "v2.users.6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f.presence"
        ));
        assert!(is_topic("v2.routing.queues.q-1.conversations.callbacks"));
        assert!(!is_topic(""));
        assert!(!is_topic("v2..users"));
        assert!(!is_topic("v2.users.a b"));
        assert!(!is_topic(".v2"));
        assert_eq!(
            topic_shape("v2.users.6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f.presence"),
            "v2.users.{id}.presence"
        );
        assert_eq!(
            topic_shape(
                "v2.routing.queues.6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f.conversations.callbacks"
            ),
            "v2.routing.queues.{id}.conversations.callbacks"
        );
    }
}
