//! A notifications channel over REST: created (or found again after a create whose
//! answer was lost), subscribed, checked, renewed.
//!
//! Channels belong to the access token that created them and hold their subscriptions
//! across websocket connections, so a dropped socket is replaced by a new socket on the
//! same `connectUri` (as Genesys's Java SDK `NotificationHandler` does), and a channel is
//! made again only when the platform says it is gone (see docs/research/background.md
//! part B).

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::transport::ApiRequest;
use crate::Method;

use super::topic_shape;

const CHANNELS: &str = "/api/v2/notifications/channels";
const CHANNEL: &str = "/api/v2/notifications/channels/{channelId}";
const SUBSCRIPTIONS: &str = "/api/v2/notifications/channels/{channelId}/subscriptions";

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

/// A channel: where to connect and until when it lives.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) connect_uri: Url,
    /// When the platform drops the channel, if it said.
    pub(crate) expires: Option<Timestamp>,
}

impl Channel {
    fn from_answer(answer: ChannelAnswer) -> Result<Self, Error> {
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
        })
    }

    /// Whether the platform has dropped the channel by now, by its `expires`.
    pub(crate) fn has_expired(&self) -> bool {
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
/// a channel `held` does not name is taken (the newest: the one that create made) before
/// a second create is tried. At most two creates and one listing per failure.
pub(crate) async fn open(
    client: &Client,
    held: impl Fn(&str) -> bool + Send + Sync,
) -> Result<Channel, Error> {
    let transport = client.transport();
    let mut last = None;
    for _ in 0..2 {
        match transport
            .json::<ChannelAnswer>(&ApiRequest::new(Method::POST, CHANNELS))
            .await
        {
            Ok(answer) => {
                if answer.id.as_deref().is_some_and(&held) {
                    return Err(Error::contract(
                        "a new notifications channel",
                        vec!["it has the id of a channel in use".into()],
                    ));
                }
                return Channel::from_answer(answer);
            }
            Err(err) if may_have_created(&err) => {
                tracing::debug!(error = %err, "creating a notifications channel failed; looking for the channel it may have made");
                if let Some(channel) = find_unused(client, &held).await? {
                    return Ok(channel);
                }
                last = Some(err);
            }
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| Error::closed("notifications channel")))
}

/// The newest live channel of this token that `held` does not name.
async fn find_unused(
    client: &Client,
    held: &(impl Fn(&str) -> bool + Send + Sync),
) -> Result<Option<Channel>, Error> {
    let now = Timestamp::now();
    let mut candidates: Vec<(Option<Timestamp>, ChannelAnswer)> = listing(client)
        .await?
        .into_iter()
        .filter(|c| c.id.as_deref().is_some_and(|id| !held(id)) && c.connect_uri.is_some())
        .map(|c| (c.expires.as_deref().and_then(|e| e.parse().ok()), c))
        .filter(|(expires, _)| expires.is_none_or(|e: Timestamp| e > now))
        .collect();
    // Newest (latest expiry) first.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    match candidates.into_iter().next() {
        Some((_, answer)) => Channel::from_answer(answer).map(Some),
        None => Ok(None),
    }
}

async fn listing(client: &Client) -> Result<Vec<ChannelAnswer>, Error> {
    let req = ApiRequest::new(Method::GET, CHANNELS).query("includechannels", "token");
    let listing: ChannelListing = client.transport().json(&req).await?;
    Ok(listing.entities)
}

/// Sets the channel's subscriptions to `topics` (`PUT`: the same list twice has no further
/// effect, so it is retried as idempotent) and checks that the platform took every one: a
/// topic refused, or missing from the answer, is an error. An empty list removes every
/// subscription (`DELETE`).
pub(crate) async fn subscribe(
    client: &Client,
    channel_id: &str,
    topics: &[String],
) -> Result<(), Error> {
    if topics.is_empty() {
        let req = ApiRequest::with_args(Method::DELETE, SUBSCRIPTIONS, &[channel_id])?;
        client.transport().send(&req).await?;
        return Ok(());
    }
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

/// Whether the channel still exists (`HEAD`): `Ok(false)` on 404.
pub(crate) async fn exists(client: &Client, channel_id: &str) -> Result<bool, Error> {
    let req = ApiRequest::with_args(Method::HEAD, CHANNEL, &[channel_id])?;
    match client.transport().send(&req).await {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// The channel's `expires` as the token's channel listing shows it now (`None` when the
/// listing does not show the channel).
pub(crate) async fn expiry(client: &Client, channel_id: &str) -> Result<Option<Timestamp>, Error> {
    Ok(listing(client)
        .await?
        .into_iter()
        .find(|c| c.id.as_deref() == Some(channel_id))
        .and_then(|c| c.expires)
        .and_then(|e| e.parse().ok()))
}
