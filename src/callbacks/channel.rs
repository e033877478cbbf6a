//! The notifications channel an event stream listens on: created (or found again after a
//! create whose answer was lost), subscribed, checked, renewed.
//!
//! Channels belong to the access token that created them and hold their subscriptions
//! across websocket connections, so a dropped socket is replaced by a new socket on the
//! same `connectUri` (as Genesys's Java SDK `NotificationHandler` does), and a channel is
//! made again only when the platform says it is gone (see docs/research/background.md
//! part B).

use std::collections::BTreeSet;
use std::sync::Mutex;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::transport::ApiRequest;
use crate::Method;

const CHANNELS: &str = "/api/v2/notifications/channels";
const CHANNEL: &str = "/api/v2/notifications/channels/{channelId}";
const SUBSCRIPTIONS: &str = "/api/v2/notifications/channels/{channelId}/subscriptions";

/// Channels in use by this process's event streams. A channel takes one websocket at a
/// time (a second connection closes the first), so a stream looking for the channel a
/// lost create made must not take another stream's.
static IN_USE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Holds a channel id in [`IN_USE`] until dropped.
#[derive(Debug)]
pub(super) struct Lease(String);

impl Lease {
    /// `None` when another stream of this process holds the channel.
    fn take(id: &str) -> Option<Self> {
        let mut in_use = IN_USE.lock().unwrap_or_else(|p| p.into_inner());
        in_use.insert(id.to_owned()).then(|| Lease(id.to_owned()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        IN_USE
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// The platform's `Channel`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelAnswer {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    connect_uri: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

/// `ChannelEntityListing`: only `entities`.
#[derive(Deserialize)]
struct ChannelListing {
    #[serde(default)]
    entities: Vec<ChannelAnswer>,
}

#[derive(Deserialize)]
struct Subscriptions {
    #[serde(default)]
    entities: Vec<ChannelTopic>,
}

/// The platform's `ChannelTopic`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChannelTopic {
    #[serde(default)]
    id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    rejection_reason: Option<String>,
    #[serde(default)]
    missing_permissions: Vec<String>,
}

/// A channel this stream holds.
#[derive(Debug)]
pub(super) struct Channel {
    pub(super) id: String,
    pub(super) connect_uri: Url,
    /// When the platform drops the channel, if it said.
    pub(super) expires: Option<Timestamp>,
    /// Whether the stream's topics are subscribed on it.
    pub(super) subscribed: bool,
    _lease: Lease,
}

impl Channel {
    fn from_answer(answer: ChannelAnswer, lease: Lease) -> Result<Self, Error> {
        let (Some(id), Some(uri)) = (answer.id, answer.connect_uri) else {
            return Err(Error::contract(
                "a notifications channel",
                vec!["the channel has no id or connectUri".into()],
            ));
        };
        let connect_uri = Url::parse(&uri).map_err(|_| {
            Error::contract(
                "a notifications channel",
                vec!["its connectUri is not a URL".into()],
            )
        })?;
        Ok(Self {
            id,
            connect_uri,
            expires: answer.expires.and_then(|e| e.parse().ok()),
            subscribed: false,
            _lease: lease,
        })
    }

    /// Whether the platform has dropped the channel by now, by its `expires`.
    pub(super) fn has_expired(&self) -> bool {
        self.expires.is_some_and(|e| e <= Timestamp::now())
    }
}

/// Whether a failed create may have made a channel all the same: the request may have
/// arrived, and the platform did not refuse it (5xx, timeout, lost answer).
fn may_have_created(err: &Error) -> bool {
    err.may_have_been_sent() && err.status().is_none_or(|s| s >= 500)
}

/// A new channel. A create that may have worked although it failed (a 5xx or a lost
/// answer) is followed by a look at the token's channels (`includechannels=token`), and
/// a channel no stream of this process holds is taken (the newest: the one that create
/// made) before a second create is tried. At most two creates and one listing.
pub(super) async fn open(client: &Client) -> Result<Channel, Error> {
    let transport = client.transport();
    let mut last = None;
    for _ in 0..2 {
        match transport
            .json::<ChannelAnswer>(&ApiRequest::new(Method::POST, CHANNELS))
            .await
        {
            Ok(answer) => {
                let lease = answer.id.as_deref().and_then(Lease::take).ok_or_else(|| {
                    Error::contract(
                        "a new notifications channel",
                        vec!["it has no id, or the id of a channel in use".into()],
                    )
                })?;
                return Channel::from_answer(answer, lease);
            }
            Err(err) if may_have_created(&err) => {
                tracing::debug!(error = %err, "creating a notifications channel failed; looking for the channel it may have made");
                if let Some(channel) = find_unused(client).await? {
                    return Ok(channel);
                }
                last = Some(err);
            }
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| Error::closed("notifications channel")))
}

/// The newest live channel of this token that no stream of this process holds.
async fn find_unused(client: &Client) -> Result<Option<Channel>, Error> {
    let req = ApiRequest::new(Method::GET, CHANNELS).query("includechannels", "token");
    let listing: ChannelListing = client.transport().json(&req).await?;
    let now = Timestamp::now();
    let mut candidates: Vec<(Option<Timestamp>, ChannelAnswer)> = listing
        .entities
        .into_iter()
        .filter(|c| c.id.is_some() && c.connect_uri.is_some())
        .map(|c| (c.expires.as_deref().and_then(|e| e.parse().ok()), c))
        .filter(|(expires, _)| expires.is_none_or(|e: Timestamp| e > now))
        .collect();
    // Newest (latest expiry) first.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, answer) in candidates {
        if let Some(lease) = answer.id.as_deref().and_then(Lease::take) {
            return Channel::from_answer(answer, lease).map(Some);
        }
    }
    Ok(None)
}

/// Replaces the channel's subscriptions with `topics` (the same list twice has no further
/// effect, so the PUT is retried as idempotent) and checks that the platform took every
/// one: a topic refused, or missing from the answer, is an error.
pub(super) async fn subscribe(
    client: &Client,
    channel_id: &str,
    topics: &[String],
) -> Result<(), Error> {
    let body: Vec<_> = topics.iter().map(|t| json!({ "id": t })).collect();
    let req = ApiRequest::with_args(Method::PUT, SUBSCRIPTIONS, &[channel_id])?
        .json(&body)?
        .idempotent(true);
    let answer: Subscriptions = client.transport().json(&req).await?;
    for topic in topics {
        let Some(entity) = answer.entities.iter().find(|e| &e.id == topic) else {
            return Err(Error::invalid_state(
                format!("the subscription to {}", topic_shape(topic)),
                "not confirmed",
                Some("the platform's answer does not list it".into()),
            ));
        };
        let refused = entity
            .state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("rejected"))
            || entity.rejection_reason.is_some()
            || !entity.missing_permissions.is_empty();
        if refused {
            // The platform's `rejectionReason` is free text that may quote the topic (and
            // so the queue id): it is not passed on. Permission names are not values.
            let detail = if entity.missing_permissions.is_empty() {
                "check that the queue exists and that the OAuth client may read it".to_owned()
            } else {
                format!(
                    "missing permissions: {}",
                    entity.missing_permissions.join(", ")
                )
            };
            let state = match entity.state.as_deref() {
                Some(state) if state.chars().all(|c| c.is_ascii_alphabetic()) => state.to_owned(),
                _ => "rejected".to_owned(),
            };
            return Err(Error::invalid_state(
                format!("the subscription to {}", topic_shape(topic)),
                state,
                Some(detail),
            ));
        }
    }
    Ok(())
}

/// A topic with its ids replaced by `{id}` (`v2.routing.queues.{id}.conversations.callbacks`):
/// the name errors use, since the ids are the caller's values.
fn topic_shape(topic: &str) -> String {
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

/// Whether the channel still exists (`HEAD`): `Ok(false)` on 404.
pub(super) async fn exists(client: &Client, channel_id: &str) -> Result<bool, Error> {
    let req = ApiRequest::with_args(Method::HEAD, CHANNEL, &[channel_id])?;
    match client.transport().send(&req).await {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// The channel's `expires` as the token's channel listing shows it now (`None` when the
/// listing does not show the channel).
pub(super) async fn expiry(client: &Client, channel_id: &str) -> Result<Option<Timestamp>, Error> {
    let req = ApiRequest::new(Method::GET, CHANNELS).query("includechannels", "token");
    let listing: ChannelListing = client.transport().json(&req).await?;
    Ok(listing
        .entities
        .into_iter()
        .find(|c| c.id.as_deref() == Some(channel_id))
        .and_then(|c| c.expires)
        .and_then(|e| e.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_leased_to_one_stream_at_a_time() {
        let first = Lease::take("streaming-0-test-lease").unwrap();
        assert!(Lease::take("streaming-0-test-lease").is_none());
        drop(first);
        assert!(Lease::take("streaming-0-test-lease").is_some());
    }

    #[test]
    fn topics_are_named_without_their_ids() {
        assert_eq!(
            topic_shape(
                "v2.routing.queues.0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b.conversations.callbacks"
            ),
            "v2.routing.queues.{id}.conversations.callbacks"
        );
        assert_eq!(topic_shape("channel.metadata"), "channel.metadata");
    }
}
