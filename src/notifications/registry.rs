//! A client's notification channels: which channel carries which topics, started and
//! retired as subscriptions come and go. One per [`Client`], never per process: channels
//! belong to the token that made them.
//!
//! Topics are spread over channels of at most [`MAX_TOPICS_PER_CHANNEL`]; a topic two
//! subscriptions want is carried once. A channel whose last subscriber left is emptied,
//! its socket closed, and kept for the next subscription until it expires, so that a
//! service that subscribes and unsubscribes does not make channel after channel (each
//! new one past the platform's 20 removes the oldest, another integration's perhaps).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::channel::{self, Channel};
use super::driver::{Command, Driver};
use super::options::ConnectionOptions;
use super::Sink;
use crate::client::Client;
use crate::error::Error;
use crate::observe::Counter;

/// Topics one channel takes: "You can subscribe to up to 1,000 topics per channel"
/// (Genesys developer docs, Notifications API limits; the description of
/// `POST /api/v2/notifications/channels/{channelId}/subscriptions`).
pub const MAX_TOPICS_PER_CHANNEL: usize = 1_000;

/// Channels per OAuth client (user/app): "a new channel will remove the channel with
/// oldest last used date. Channels without an active connection will be removed first"
/// (the description of `POST /api/v2/notifications/channels` in the platform's API
/// description, Python SDK `notifications_api.py`).
pub const MAX_CHANNELS: usize = 20;

/// A running channel, as the registry sees it.
struct Handle {
    key: u64,
    options: ConnectionOptions,
    commands: mpsc::UnboundedSender<Command>,
    /// Topic → subscriptions that want it on this channel.
    topics: HashMap<String, usize>,
    subscribers: usize,
}

#[derive(Default)]
struct State {
    channels: Vec<Handle>,
    /// Emptied channels kept for reuse, while they live.
    idle: Vec<Channel>,
    /// Every channel id this client holds (running, starting or idle): a channel found
    /// after a lost create must not be one of these.
    held: HashSet<String>,
    next_key: u64,
}

/// Where one subscription's topics went: channel key → its topics there.
pub(crate) type Placement = Vec<(u64, Vec<String>)>;

pub(crate) struct Registry {
    state: Mutex<State>,
    /// One subscription change at a time, so that placements and channel starts do not
    /// race each other.
    changing: tokio::sync::Mutex<()>,
    created: Counter,
    reconnects: Counter,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Registry")
            .field("channels", &state.channels.len())
            .field("idle", &state.idle.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub(crate) fn new(client: &Client) -> Self {
        let metrics = client.metrics();
        Self {
            state: Mutex::new(State::default()),
            changing: tokio::sync::Mutex::new(()),
            created: metrics.counter("notifications.channels_created"),
            reconnects: metrics.counter("notifications.reconnects"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Channels running now.
    pub(crate) fn channels(&self) -> usize {
        self.lock().channels.len()
    }

    /// Places `topics` (deduplicated) for subscription `id`, starting channels as needed,
    /// and returns once the platform confirmed every topic, within `limit`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        client: &Client,
        options: &ConnectionOptions,
        id: u64,
        topics: &[String],
        sink: &Sink,
        limit: Option<Duration>,
    ) -> Result<Placement, Error> {
        let _one_at_a_time = self.changing.lock().await;
        let mut replies = Vec::new();
        // Running channels first, placed and registered under one lock: a channel that
        // gets a subscriber here cannot retire in between.
        let (mut placement, homeless) = {
            let mut state = self.lock();
            let (placement, homeless) = place_on_running(&state, options, topics);
            let new_channels = homeless.len().div_ceil(MAX_TOPICS_PER_CHANNEL);
            if state.channels.len() + new_channels > MAX_CHANNELS {
                return Err(Error::limit(
                    "notification channels of this client",
                    MAX_CHANNELS,
                    "the platform keeps 20 channels per OAuth client and removes the oldest for a 21st: subscribe to fewer topics (1,000 fit on a channel), or share subscriptions",
                ));
            }
            for (key, topics) in &placement {
                replies.push(register(&mut state, *key, id, topics, sink));
            }
            (placement, homeless)
        };
        let mut started = Ok(());
        for chunk in homeless.chunks(MAX_TOPICS_PER_CHANNEL) {
            match self.start(client, options).await {
                Ok(key) => {
                    let mut state = self.lock();
                    replies.push(register(&mut state, key, id, chunk, sink));
                    placement.push((key, chunk.to_vec()));
                }
                Err(err) => {
                    started = Err(err);
                    break;
                }
            }
        }
        let confirmed = async {
            started?;
            for answer in replies.into_iter().flatten() {
                answer
                    .await
                    .map_err(|_| Error::closed("the notifications channel"))??;
            }
            Ok::<_, Error>(())
        };
        let outcome = match limit {
            Some(limit) => match tokio::time::timeout(limit, confirmed).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::timeout(
                    Arc::from("PUT /api/v2/notifications/channels/{channelId}/subscriptions"),
                    crate::error::TimeoutKind::Deadline,
                    limit,
                )),
            },
            None => confirmed.await,
        };
        if let Err(err) = outcome {
            self.unsubscribe(id, &placement);
            return Err(err);
        }
        Ok(placement)
    }

    /// Starts a channel's driver; its key once the socket is open.
    async fn start(
        self: &Arc<Self>,
        client: &Client,
        options: &ConnectionOptions,
    ) -> Result<u64, Error> {
        let key = {
            let mut state = self.lock();
            state.next_key += 1;
            state.next_key
        };
        let (commands, receiver) = mpsc::unbounded_channel();
        let driver =
            // The channel serves every handle of the client: it keeps the client's own limits,
            // not those of the handle that happened to open it.
            Driver::start(
                client.without_options(),
                options.clone(),
                self.clone(),
                key,
                receiver,
            )
            .await?;
        self.lock().channels.push(Handle {
            key,
            options: options.clone(),
            commands,
            topics: HashMap::new(),
            subscribers: 0,
        });
        tokio::spawn(driver.run());
        Ok(key)
    }

    /// Subscription `id` is gone from `placement`: its topics are released, and a channel
    /// left without subscribers retires.
    pub(crate) fn unsubscribe(&self, id: u64, placement: &Placement) {
        let mut state = self.lock();
        let mut retire = Vec::new();
        for (key, topics) in placement {
            let Some(handle) = state.channels.iter_mut().find(|h| h.key == *key) else {
                continue;
            };
            for topic in topics {
                if let Some(count) = handle.topics.get_mut(topic) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        handle.topics.remove(topic);
                    }
                }
            }
            handle.subscribers = handle.subscribers.saturating_sub(1);
            let _ = handle.commands.send(Command::Remove { id });
            if handle.subscribers == 0 {
                retire.push(*key);
            }
        }
        for key in retire {
            if let Some(at) = state.channels.iter().position(|h| h.key == key) {
                let handle = state.channels.remove(at);
                let _ = handle.commands.send(Command::Retire);
            }
        }
    }

    /// A channel for a new driver: a kept one that still lives, or a new one.
    pub(crate) async fn channel_for(&self, client: &Client) -> Result<Channel, Error> {
        {
            let mut state = self.lock();
            state.idle.retain(|c| !c.has_expired());
            if let Some(channel) = state.idle.pop() {
                return Ok(channel);
            }
        }
        self.create(client).await
    }

    /// A new channel, held by this client.
    pub(crate) async fn create(&self, client: &Client) -> Result<Channel, Error> {
        let channel = channel::open(client, |id| self.is_held(id)).await?;
        self.lock().held.insert(channel.id.clone());
        self.created.inc();
        Ok(channel)
    }

    fn is_held(&self, id: &str) -> bool {
        self.lock().held.contains(id)
    }

    /// This client no longer holds channel `id`.
    pub(crate) fn release(&self, id: &str) {
        self.lock().held.remove(id);
    }

    /// A driver retired: `channel` is kept for reuse if its subscriptions were removed.
    pub(crate) fn retired(&self, key: u64, channel: &Channel, emptied: bool) {
        let mut state = self.lock();
        state.channels.retain(|h| h.key != key);
        if emptied && !channel.has_expired() {
            state.idle.push(channel.clone());
        } else {
            state.held.remove(&channel.id);
        }
    }

    /// A driver stopped for good (its subscribers were told why).
    pub(crate) fn failed(&self, key: u64, channel_id: &str) {
        let mut state = self.lock();
        state.channels.retain(|h| h.key != key);
        state.held.remove(channel_id);
    }

    /// A channel's socket is up again.
    pub(crate) fn reconnected(&self) {
        self.reconnects.inc();
    }
}

/// Places what it can of `topics` on running channels with `options`: where a topic is
/// carried already, else where there is room. The rest need new channels.
fn place_on_running(
    state: &State,
    options: &ConnectionOptions,
    topics: &[String],
) -> (Placement, Vec<String>) {
    let mut placement: Placement = Vec::new();
    let mut homeless = Vec::new();
    let mut room: HashMap<u64, usize> = state
        .channels
        .iter()
        .map(|h| (h.key, MAX_TOPICS_PER_CHANNEL.saturating_sub(h.topics.len())))
        .collect();
    let mut put = |key: u64, topic: &String| match placement.iter_mut().find(|(k, _)| *k == key) {
        Some((_, list)) => list.push(topic.clone()),
        None => placement.push((key, vec![topic.clone()])),
    };
    for topic in topics {
        let same = || state.channels.iter().filter(|h| &h.options == options);
        if let Some(h) = same().find(|h| h.topics.contains_key(topic)) {
            put(h.key, topic);
        } else if let Some(h) = same().find(|h| room.get(&h.key).is_some_and(|r| *r > 0)) {
            if let Some(r) = room.get_mut(&h.key) {
                *r -= 1;
            }
            put(h.key, topic);
        } else {
            homeless.push(topic.clone());
        }
    }
    (placement, homeless)
}

/// Registers subscription `id` for `topics` on channel `key`: counted, and the driver
/// told. The reply comes once the platform confirmed them (`None` if the channel is gone).
fn register(
    state: &mut State,
    key: u64,
    id: u64,
    topics: &[String],
    sink: &Sink,
) -> Option<oneshot::Receiver<Result<(), Error>>> {
    let handle = state.channels.iter_mut().find(|h| h.key == key)?;
    for topic in topics {
        *handle.topics.entry(topic.clone()).or_default() += 1;
    }
    handle.subscribers += 1;
    let (reply, answer) = oneshot::channel();
    let _ = handle.commands.send(Command::Add {
        id,
        topics: topics.to_vec(),
        sink: sink.clone(),
        reply,
    });
    Some(answer)
}
