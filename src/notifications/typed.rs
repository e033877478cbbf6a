//! Typed notification bodies (feature `api`): the model the platform's topic table gives a
//! topic, and decoding into it with the topic checked.
//!
//! The table is `genesys_cloud_api::topics` (242 topics, from the `notificationMappings.json`
//! Genesys's SDK builder writes from `GET /api/v2/notifications/availabletopics`); the
//! models are `genesys_cloud_api::models`, each behind the feature of its topic's area
//! (`topics-users` for `v2.users.…`, `topics` for all).

#![cfg(feature = "api")]

use std::sync::Arc;

use genesys_cloud_api::topics::{self, Topic};
use genesys_cloud_api::TopicBody;

use super::{topic_shape, Notification};
use crate::error::Error;

impl Notification {
    /// The model of this notification's body, by its SDK name, as the platform's topic
    /// table gives it (`PresenceEventUserPresence` for `v2.users.{id}.presence`); `None`
    /// for a topic the table does not list (`channel.metadata`, a topic newer than this
    /// crate). Needs no model feature. See [`Notification::topic_entry`] for the pattern
    /// and the feature that compiles the model.
    ///
    /// ```
    /// # fn check(n: &genesys_cloud::notifications::Notification) {
    /// match n.model() {
    ///     Some("PresenceEventUserPresence") => { /* n.body::<PresenceEventUserPresence>() */ }
    ///     Some(other) => println!("a {other}"),
    ///     None => println!("{}", n.body_json()),
    /// }
    /// # }
    /// ```
    pub fn model(&self) -> Option<&'static str> {
        topics::model_for(&self.topic)
    }

    /// This notification's entry in the platform's topic table: the pattern its topic
    /// matches (`v2.users.{id}.presence`), the model of its bodies and the feature of
    /// `genesys-cloud-api` that compiles it (`topics-users`).
    pub fn topic_entry(&self) -> Option<Topic> {
        topics::find(&self.topic)
    }

    /// The body decoded into `M`, the model of its topic: a model of
    /// `genesys_cloud_api::models` that implements [`TopicBody`] (turn on the feature of
    /// the topic's area in `genesys-cloud-api`, e.g. `topics-routing`, or `topics`).
    ///
    /// The topic must be one of `M`'s ([`TopicBody::TOPICS`]); otherwise this is an
    /// [`ErrorKind::Decode`] error naming the model the platform gives the topic (or
    /// saying it has none), before anything is decoded. A body that does not read as `M`
    /// is the same error as [`Notification::decode`]'s. For a topic without a model, or
    /// to read the body as JSON, use `decode::<serde_json::Value>()`.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    /// use genesys_cloud::api::models::QueueConversationCallbackEventTopicCallbackConversation as Callback;
    /// use genesys_cloud::notifications::NotificationItem;
    ///
    /// # async fn run(client: genesys_cloud::Client, queue: &str) -> Result<(), genesys_cloud::Error> {
    /// let topic = format!("v2.routing.queues.{queue}.conversations.callbacks");
    /// let mut events = client.notifications().subscribe([topic]).await?;
    /// while let Some(item) = events.next().await {
    ///     if let NotificationItem::Event(n) = item? {
    ///         let callback: Callback = n.body()?;
    ///         println!("{:?}: {} participants", callback.id, callback.participants.map_or(0, |p| p.len()));
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [`ErrorKind::Decode`]: crate::ErrorKind::Decode
    pub fn body<M: TopicBody>(&self) -> Result<M, Error> {
        if M::TOPICS
            .iter()
            .any(|pattern| topics::matches(pattern, &self.topic))
        {
            return self.decode();
        }
        let entry = topics::find(&self.topic);
        let served = M::TOPICS
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let (endpoint, detail) = match entry {
            Some(entry) => (
                format!("notification {}", entry.pattern),
                format!(
                    "its body is a `{}` (the platform's model for `{}`), not a `{}` (the body of {served}); \
                     decode it with `body::<{}>()` (feature `{}` of genesys-cloud-api) or \
                     `decode::<serde_json::Value>()`",
                    entry.model, entry.pattern, M::MODEL, entry.model, entry.feature
                ),
            ),
            None => (
                format!("notification {}", topic_shape(&self.topic)),
                format!(
                    "the platform's topic table has no model for this topic, and `{}` is the body of \
                     {served}; decode it with `decode::<T>()` into a type of your own or \
                     `serde_json::Value`",
                    M::MODEL
                ),
            ),
        };
        Err(Error::decode(
            Arc::from(endpoint),
            200,
            self.correlation_id.clone(),
            detail,
        ))
    }
}
