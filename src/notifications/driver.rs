//! One channel's background task: it owns the websocket, keeps it alive, replaces it when
//! it fails, renews the channel (or rolls over to a new one), keeps the platform's
//! subscriptions equal to what its subscribers want, and hands every notification to the
//! subscribers of its topic without ever waiting for them.
//!
//! Slow work (a subscription change, a renewal, the replacement of a socket the platform
//! is about to close) runs as futures owned by the task and polled beside the socket, so
//! the socket is read, and pinged, all the time.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::channel::{self, Channel};
use super::options::ConnectionOptions;
use super::registry::Registry;
use super::{Gap, Notification, NotificationItem, Sink};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::ws::{self, Connection, Ping};

/// Names the socket in errors (never its URL, which carries the channel id).
const ENDPOINT: &str = "notifications channel";
/// The Notifications API's keep-alive (Genesys's Java SDK `NotificationHandler.sendPing`).
const PING: &str = r#"{"message":"ping"}"#;
/// How long a replaced socket is still read for frames the platform sent before it
/// switched to the new one.
const DRAIN: Duration = Duration::from_secs(2);
/// The platform's maintenance notice: a new socket, then the old one closes.
const SOCKET_CLOSING: &str = "v2.system.socket_closing";
/// Heartbeats and pongs.
const METADATA: &str = "channel.metadata";

type Slot<T> = Option<Pin<Box<dyn Future<Output = T> + Send>>>;

/// What the registry asks of a channel's task.
pub(crate) enum Command {
    /// Deliver `topics` to `sink` from now on; `reply` once the platform confirmed them.
    Add {
        id: u64,
        topics: Vec<String>,
        sink: Sink,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// Subscriber `id` is gone.
    Remove { id: u64 },
    /// No subscriber is left: unsubscribe, close the socket, hand the channel back.
    Retire,
}

/// A notification frame: `{topicName, version, eventBody, metadata}`, read without
/// copying the body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frame<'a> {
    #[serde(default, borrow)]
    topic_name: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    version: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    event_body: Option<&'a RawValue>,
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default, rename = "CorrelationId")]
    correlation_id: Option<String>,
}

/// What a maintenance future ended with.
enum Maintenance {
    /// A new socket on the same channel, replacing one the platform announced it closes.
    Replaced(Result<Connection, Error>),
    /// The channel was subscribed again (to the topics wanted at the generation); its
    /// `expires` before and now.
    Renewed(u64, Result<(Option<Timestamp>, Option<Timestamp>), Error>),
    /// A new channel, connected and subscribed (to the topics wanted at `u64`, a
    /// generation), replacing one whose `expires` did not move.
    RolledOver(Result<(Channel, Connection, u64), Error>),
}

/// One wake-up of the task while it listens.
enum Step {
    Frame(Result<String, Error>),
    Drained(Option<String>),
    Synced(Result<(), Error>),
    Maintained(Box<Maintenance>),
    Command(Option<Command>),
    Renew,
    SyncDue,
}

/// The gap the channel is in, while its socket is down.
struct Outage {
    since: Timestamp,
    attempts: u32,
    new_channel: bool,
}

struct Subscriber {
    topics: Vec<String>,
    sink: Sink,
}

/// A subscription change in flight: the topics put on the platform, the generation of
/// the wanted set it carries, and the subscribers waiting for it.
struct Sync {
    generation: u64,
    waiting: Vec<(u64, oneshot::Sender<Result<(), Error>>)>,
}

pub(crate) struct Driver {
    client: Client,
    options: ConnectionOptions,
    registry: Arc<Registry>,
    /// The registry's key for this channel.
    key: u64,
    channel: Channel,
    /// The platform said the channel is gone (404).
    channel_gone: bool,
    conn: Option<Connection>,
    /// A replaced socket, read until it closes or the time is up.
    draining: Option<(Connection, Instant)>,
    /// The last time anything was heard on a socket.
    last_heard: Timestamp,
    outage: Option<Outage>,
    reconnect: ws::Reconnect,
    subscribers: HashMap<u64, Subscriber>,
    /// Topic → the subscribers that want it.
    index: HashMap<String, Vec<u64>>,
    /// Bumped on every change to the wanted topics.
    generation: u64,
    /// The generation the platform's subscriptions match, if they match one.
    synced: Option<u64>,
    /// Subscribers waiting for their topics to be confirmed.
    waiting: VecDeque<(u64, oneshot::Sender<Result<(), Error>>)>,
    sync: Option<Sync>,
    syncing: Slot<Result<(), Error>>,
    /// A failed subscription change is tried again at this time.
    sync_at: Option<Instant>,
    commands: mpsc::UnboundedReceiver<Command>,
    maintenance: Slot<Maintenance>,
    /// The maintenance under way replaces the socket (after `v2.system.socket_closing`).
    replacing: bool,
    renew_at: Instant,
    retiring: bool,
    /// Channels this driver has used, the first included.
    channels_used: u64,
}

fn limits(options: &ConnectionOptions) -> ws::Limits {
    ws::Limits {
        connect_timeout: options.connect_timeout,
        send_timeout: options.connect_timeout,
        ping_every: options.ping_every,
        ping: Ping::Text(PING),
        dead_after: options.dead_after,
    }
}

async fn open_socket(
    client: &Client,
    channel: &Channel,
    options: &ConnectionOptions,
) -> Result<Connection, Error> {
    Connection::open(
        client.network(),
        ENDPOINT,
        &channel.connect_uri,
        &[],
        limits(options),
    )
    .await
}

/// Whether a failure cannot be mended by trying again (refused credentials, a refused
/// subscription, an answer that breaks the API's contract).
pub(crate) fn is_fatal(err: &Error) -> bool {
    !err.is_retryable() && err.kind() != ErrorKind::NotFound
}

/// When to renew `channel`: `renew_before_expiry` before it expires (about 23 h from now
/// when the platform did not say).
fn renew_time(channel: &Channel, options: &ConnectionOptions) -> Instant {
    let left = match channel.expires {
        Some(expires) => {
            Duration::try_from(expires.duration_since(Timestamp::now())).unwrap_or_default()
        }
        None => Duration::from_secs(23 * 3_600),
    };
    Instant::now() + left.saturating_sub(options.renew_before_expiry)
}

/// Waits for the future in `slot`, or for ever when there is none.
async fn poll_slot<T>(slot: &mut Slot<T>) -> T {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// The next frame of a replaced socket; `None` once it closed or its time is up.
async fn recv_draining(slot: &mut Option<(Connection, Instant)>) -> Option<String> {
    let Some((conn, until)) = slot.as_mut() else {
        return std::future::pending().await;
    };
    tokio::select! {
        frame = conn.recv() => frame.ok(),
        () = tokio::time::sleep_until(*until) => None,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Driver {
    /// A channel (one the registry kept, or a new one) with its socket open: the
    /// platform sends events only to an open socket, so a change right after a
    /// subscription is confirmed must find the socket there.
    pub(crate) async fn start(
        client: Client,
        options: ConnectionOptions,
        registry: Arc<Registry>,
        key: u64,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Result<Self, Error> {
        let channel = registry.channel_for(&client).await?;
        let conn = match open_socket(&client, &channel, &options).await {
            Ok(conn) => conn,
            Err(err) => {
                registry.release(&channel.id);
                return Err(err);
            }
        };
        let mut reconnect = ws::Reconnect::new(
            options.reconnect_wait,
            options.max_reconnect_wait,
            options.healthy_after,
        );
        reconnect.connected();
        Ok(Self {
            renew_at: renew_time(&channel, &options),
            client,
            options,
            registry,
            key,
            channel,
            channel_gone: false,
            conn: Some(conn),
            draining: None,
            last_heard: Timestamp::now(),
            outage: None,
            reconnect,
            subscribers: HashMap::new(),
            index: HashMap::new(),
            generation: 0,
            // A new channel has no subscriptions; a kept one was emptied when retired.
            synced: Some(0),
            waiting: VecDeque::new(),
            sync: None,
            syncing: None,
            sync_at: None,
            commands,
            maintenance: None,
            replacing: false,
            retiring: false,
            channels_used: 1,
        })
    }

    /// Runs until retired or until the channel cannot go on; either way its subscribers
    /// learn why, and the registry forgets it.
    pub(crate) async fn run(mut self) {
        let outcome = self.drive().await;
        match outcome {
            Ok(()) => {
                // Retired: nothing subscribed is left to stop events for; a channel whose
                // subscriptions could not be removed is not kept.
                let emptied = match self.conn.take() {
                    Some(conn) => {
                        let emptied = channel::subscribe(&self.client, &self.channel.id, &[])
                            .await
                            .is_ok();
                        conn.close().await;
                        emptied
                    }
                    None => false,
                };
                self.registry.retired(self.key, &self.channel, emptied);
            }
            Err(error) => {
                tracing::debug!(error = %error, "notifications channel stopped");
                for subscriber in self.subscribers.values() {
                    subscriber.sink.finish(error.clone());
                }
                for (_, reply) in self.waiting.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
                if let Some(sync) = self.sync.take() {
                    for (_, reply) in sync.waiting {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
                self.registry.failed(self.key, &self.channel.id);
            }
        }
    }

    async fn drive(&mut self) -> Result<(), Error> {
        loop {
            if self.retiring && self.syncing.is_none() {
                return Ok(());
            }
            if self.conn.is_none() {
                self.reconnect().await?;
                continue;
            }
            self.listen().await?;
        }
    }

    /// Reads the socket until it is lost or the channel retires (`Ok`), or until the
    /// channel cannot go on (`Err`).
    async fn listen(&mut self) -> Result<(), Error> {
        loop {
            if self.retiring && self.syncing.is_none() {
                return Ok(());
            }
            self.maybe_sync();
            let renew_at = self.renew_at;
            let sync_at = self.sync_at;
            let Some(conn) = self.conn.as_mut() else {
                return Ok(());
            };
            let step = tokio::select! {
                frame = conn.recv() => Step::Frame(frame),
                frame = recv_draining(&mut self.draining) => Step::Drained(frame),
                result = poll_slot(&mut self.syncing) => Step::Synced(result),
                done = poll_slot(&mut self.maintenance) => Step::Maintained(Box::new(done)),
                command = self.commands.recv(), if !self.retiring => Step::Command(command),
                () = tokio::time::sleep_until(renew_at), if self.maintenance.is_none() => Step::Renew,
                () = sleep_until(sync_at) => Step::SyncDue,
            };
            match step {
                Step::Frame(Ok(text)) => self.on_frame(&text),
                Step::Frame(Err(err)) => {
                    if self.replacing {
                        // The platform closed the old socket because the new one is
                        // connecting (one socket per channel): wait for it.
                        if let Some(replacement) = self.maintenance.take() {
                            let done = replacement.await;
                            self.maintained(done)?;
                            if self.conn.is_some() {
                                continue;
                            }
                        }
                    }
                    self.lost(&err);
                    return Ok(());
                }
                Step::Drained(Some(text)) => self.on_frame(&text),
                Step::Drained(None) => self.draining = None,
                Step::Synced(result) => {
                    self.syncing = None;
                    self.synced(result)?;
                }
                Step::Maintained(done) => {
                    self.maintenance = None;
                    self.maintained(*done)?;
                }
                Step::Command(Some(command)) => self.command(command),
                // The registry is gone with its client: nobody can subscribe any more.
                Step::Command(None) => self.retiring = true,
                Step::Renew => self.renew(),
                Step::SyncDue => self.sync_at = None,
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Add {
                id,
                topics,
                sink,
                reply,
            } => {
                let mut changed = false;
                for topic in &topics {
                    let wanted = self.index.entry(topic.clone()).or_default();
                    changed |= wanted.is_empty();
                    wanted.push(id);
                }
                sink.update_status(|s| {
                    s.connected = self.conn.is_some();
                    s.channels_created += self.channels_used;
                });
                self.subscribers.insert(id, Subscriber { topics, sink });
                if changed {
                    self.generation += 1;
                }
                if self.synced == Some(self.generation) {
                    // Every topic is subscribed already: live at once.
                    let _ = reply.send(Ok(()));
                } else {
                    self.waiting.push_back((id, reply));
                }
            }
            Command::Remove { id } => {
                self.waiting.retain(|(waiting, _)| *waiting != id);
                if let Some(gone) = self.subscribers.remove(&id) {
                    let mut changed = false;
                    for topic in gone.topics {
                        if let Some(wanted) = self.index.get_mut(&topic) {
                            wanted.retain(|s| *s != id);
                            if wanted.is_empty() {
                                self.index.remove(&topic);
                                changed = true;
                            }
                        }
                    }
                    if changed {
                        self.generation += 1;
                    }
                }
            }
            Command::Retire => self.retiring = true,
        }
    }

    /// The topics the subscribers want, sorted.
    fn wanted(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.index.keys().collect();
        set.into_iter().cloned().collect()
    }

    /// Starts a subscription change if the platform's subscriptions lag behind what is
    /// wanted, none runs, the socket is up and no failure is backing off.
    fn maybe_sync(&mut self) {
        if self.retiring
            || self.syncing.is_some()
            || self.conn.is_none()
            || self.sync_at.is_some()
            || self.synced == Some(self.generation)
        {
            return;
        }
        let topics = self.wanted();
        let client = self.client.clone();
        let id = self.channel.id.clone();
        self.sync = Some(Sync {
            generation: self.generation,
            waiting: self.waiting.drain(..).collect(),
        });
        self.syncing = Some(Box::pin(async move {
            channel::subscribe(&client, &id, &topics).await
        }));
    }

    /// A subscription change ended.
    fn synced(&mut self, result: Result<(), Error>) -> Result<(), Error> {
        let Some(sync) = self.sync.take() else {
            return Ok(());
        };
        match result {
            Ok(()) => {
                self.synced = Some(sync.generation);
                for (_, reply) in sync.waiting {
                    let _ = reply.send(Ok(()));
                }
                Ok(())
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                // The channel is gone: reconnect on a new one, and subscribe there.
                self.waiting.extend(sync.waiting);
                self.synced = None;
                self.channel_gone = true;
                self.lost(&err);
                Ok(())
            }
            Err(err) => {
                self.synced = None;
                // Whoever asked for this change learns why it failed and is not kept; the
                // subscribers already live are subscribed again after a wait.
                let asked = !sync.waiting.is_empty();
                for (id, reply) in sync.waiting {
                    self.command(Command::Remove { id });
                    let _ = reply.send(Err(err.clone()));
                }
                if !asked && is_fatal(&err) {
                    return Err(err);
                }
                tracing::debug!(error = %err, "notifications: changing a channel's subscriptions failed; trying again later");
                self.sync_at = Some(Instant::now() + self.options.max_reconnect_wait);
                Ok(())
            }
        }
    }

    fn on_frame(&mut self, text: &str) {
        self.last_heard = Timestamp::now();
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
            tracing::debug!("notifications: a frame that is not a notification; ignored");
            return;
        };
        let Some(topic) = frame.topic_name.as_deref() else {
            return;
        };
        match topic {
            METADATA => {}
            SOCKET_CLOSING => self.replace_socket(),
            topic => {
                let Some(wanted) = self.index.get(topic) else {
                    return;
                };
                let notification = Notification {
                    topic: Arc::from(topic),
                    version: frame.version.map(|v| v.into_owned()),
                    body: Arc::from(frame.event_body.map_or("null", RawValue::get)),
                    correlation_id: frame.metadata.and_then(|m| m.correlation_id),
                    received_at: self.last_heard,
                };
                for id in wanted {
                    if let Some(subscriber) = self.subscribers.get(id) {
                        subscriber
                            .sink
                            .push(NotificationItem::Event(notification.clone()));
                    }
                }
            }
        }
    }

    /// Waits (backing off) and connects again, until connected (`Ok`) or the channel
    /// cannot go on. Commands are taken meanwhile: new subscribers wait for the
    /// reconnect.
    async fn reconnect(&mut self) -> Result<(), Error> {
        loop {
            let until = Instant::now() + self.reconnect.next_wait();
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    command = self.commands.recv(), if !self.retiring => match command {
                        Some(command) => self.command(command),
                        None => self.retiring = true,
                    },
                }
                if self.retiring {
                    return Ok(());
                }
            }
            if let Some(outage) = &mut self.outage {
                outage.attempts = outage.attempts.saturating_add(1);
            }
            match self.connect().await {
                Ok(conn) => {
                    self.connected(conn);
                    return Ok(());
                }
                Err(err) if is_fatal(&err) => return Err(err),
                Err(err) => {
                    tracing::debug!(error = %err, "notifications: reconnecting failed; backing off")
                }
            }
        }
    }

    /// One connection attempt: to the same channel while it lives; a new channel when
    /// the platform says it is gone (by `expires`, a refused handshake and a 404 on
    /// `HEAD`, or a 404 when subscribing). The subscriptions are put on a channel that
    /// may lack them before the socket counts as up.
    async fn connect(&mut self) -> Result<Connection, Error> {
        if self.channel_gone || self.channel.has_expired() {
            self.new_channel().await?;
        }
        let conn = match open_socket(&self.client, &self.channel, &self.options).await {
            Ok(conn) => conn,
            Err(err) => {
                // A refused handshake and a dead network path look alike: ask.
                if channel::exists(&self.client, &self.channel.id).await? {
                    return Err(err);
                }
                tracing::debug!("notifications: the channel is gone; making a new one");
                self.new_channel().await?;
                open_socket(&self.client, &self.channel, &self.options).await?
            }
        };
        if self.synced != Some(self.generation) {
            let generation = self.generation;
            match channel::subscribe(&self.client, &self.channel.id, &self.wanted()).await {
                Ok(()) => {
                    self.synced = Some(generation);
                    for (_, reply) in self.waiting.drain(..) {
                        let _ = reply.send(Ok(()));
                    }
                }
                Err(err) => {
                    if err.kind() == ErrorKind::NotFound {
                        self.channel_gone = true;
                    }
                    return Err(err);
                }
            }
        }
        Ok(conn)
    }

    async fn new_channel(&mut self) -> Result<(), Error> {
        let old = self.channel.id.clone();
        let registry = self.registry.clone();
        let fresh = registry.create(&self.client).await?;
        self.registry.release(&old);
        self.channel = fresh;
        self.channel_gone = false;
        self.synced = None;
        self.count_channel();
        if let Some(outage) = &mut self.outage {
            outage.new_channel = true;
        }
        Ok(())
    }

    /// One more channel made for this driver's subscribers.
    fn count_channel(&mut self) {
        self.channels_used += 1;
        for subscriber in self.subscribers.values() {
            subscriber.sink.update_status(|s| s.channels_created += 1);
        }
    }

    fn connected(&mut self, conn: Connection) {
        self.conn = Some(conn);
        self.reconnect.connected();
        self.renew_at = renew_time(&self.channel, &self.options);
        let now = Timestamp::now();
        let outage = self.outage.take().unwrap_or(Outage {
            since: self.last_heard,
            attempts: 1,
            new_channel: false,
        });
        self.last_heard = now;
        self.registry.reconnected();
        let gap = Gap {
            down_since: outage.since,
            reconnected_at: now,
            outages: 1,
            attempts: outage.attempts,
            new_channel: outage.new_channel,
        };
        for subscriber in self.subscribers.values() {
            subscriber.sink.update_status(|s| {
                s.connected = true;
                s.reconnects += 1;
            });
            subscriber
                .sink
                .push_notice(NotificationItem::Gap(gap.clone()));
        }
    }

    fn lost(&mut self, err: &Error) {
        tracing::debug!(error = %err, "notifications: the socket was lost");
        self.conn = None;
        // Renewals, replacements and subscription changes belong to the lost socket; the
        // reconnect redoes what is needed.
        self.maintenance = None;
        self.replacing = false;
        if self.syncing.take().is_some() {
            if let Some(sync) = self.sync.take() {
                let mut waiting: VecDeque<_> = sync.waiting.into();
                waiting.extend(self.waiting.drain(..));
                self.waiting = waiting;
            }
        }
        self.outage = Some(Outage {
            since: self.last_heard,
            attempts: 0,
            new_channel: false,
        });
        for subscriber in self.subscribers.values() {
            subscriber.sink.update_status(|s| {
                s.connected = false;
                s.disconnects += 1;
            });
        }
    }

    /// `v2.system.socket_closing`: a new socket on the same channel now (the platform
    /// then closes the old one); the old one is read until then.
    fn replace_socket(&mut self) {
        if self.maintenance.is_some() {
            // Busy renewing: the platform closes the socket in about a minute and the
            // channel reconnects then.
            return;
        }
        let client = self.client.clone();
        let url = self.channel.connect_uri.clone();
        let limits = limits(&self.options);
        self.replacing = true;
        self.maintenance = Some(Box::pin(async move {
            Maintenance::Replaced(
                Connection::open(client.network(), ENDPOINT, &url, &[], limits).await,
            )
        }));
    }

    /// Subscribes the channel again, which keeps it past its 24 hours, and reads back
    /// its `expires` (whether re-subscribing moves it is not documented: if it does not,
    /// the driver moves to a new channel).
    fn renew(&mut self) {
        let client = self.client.clone();
        let id = self.channel.id.clone();
        let topics = self.wanted();
        let generation = self.generation;
        let before = self.channel.expires;
        self.maintenance = Some(Box::pin(async move {
            let result = async {
                channel::subscribe(&client, &id, &topics).await?;
                channel::expiry(&client, &id).await
            }
            .await;
            Maintenance::Renewed(generation, result.map(|now| (before, now)))
        }));
    }

    /// A new channel, connected and subscribed, to move to before the old one expires.
    fn roll_over(&mut self) {
        let client = self.client.clone();
        let topics = self.wanted();
        let generation = self.generation;
        let options = self.options.clone();
        let registry = self.registry.clone();
        self.maintenance = Some(Box::pin(async move {
            let result = async {
                let channel = registry.create(&client).await?;
                let opened = async {
                    let conn = open_socket(&client, &channel, &options).await?;
                    channel::subscribe(&client, &channel.id, &topics).await?;
                    Ok::<_, Error>(conn)
                }
                .await;
                match opened {
                    Ok(conn) => Ok((channel, conn, generation)),
                    Err(err) => {
                        registry.release(&channel.id);
                        Err(err)
                    }
                }
            }
            .await;
            Maintenance::RolledOver(result)
        }));
    }

    fn maintained(&mut self, done: Maintenance) -> Result<(), Error> {
        let later = Instant::now() + self.options.max_reconnect_wait;
        self.replacing = false;
        match done {
            Maintenance::Replaced(Ok(conn)) => {
                // The old socket may be gone already (the platform closed it when the
                // new one connected): then there is nothing to drain.
                if self.conn.is_some() {
                    self.switch_to(conn);
                } else {
                    self.conn = Some(conn);
                    self.last_heard = Timestamp::now();
                }
            }
            Maintenance::Replaced(Err(err)) => {
                tracing::debug!(error = %err, "notifications: no new socket before the maintenance close; reconnecting after it");
            }
            Maintenance::Renewed(generation, _) if generation != self.generation => {
                // The renewal put an older list: whatever it did to `expires`, put the
                // current one now (and renew again soon).
                self.synced = None;
                self.renew_at = later;
            }
            Maintenance::Renewed(_, Ok((before, Some(now)))) if before.is_none_or(|b| now > b) => {
                self.channel.expires = Some(now);
                // Never sooner than a backoff wait: an `expires` already within
                // `renew_before_expiry` must not make renewals back to back.
                self.renew_at = renew_time(&self.channel, &self.options).max(later);
            }
            Maintenance::Renewed(_, Ok(_)) => {
                tracing::debug!("notifications: re-subscribing did not move the channel's expiry; moving to a new channel");
                self.roll_over();
            }
            Maintenance::Renewed(_, Err(err)) if err.kind() == ErrorKind::NotFound => {
                self.roll_over()
            }
            Maintenance::Renewed(_, Err(err)) | Maintenance::RolledOver(Err(err)) => {
                if is_fatal(&err) {
                    return Err(err);
                }
                tracing::debug!(error = %err, "notifications: renewing the channel failed; trying again later");
                self.renew_at = later;
            }
            Maintenance::RolledOver(Ok((channel, conn, generation))) => {
                let old = std::mem::replace(&mut self.channel, channel);
                // The old channel expires soon; it is not kept for reuse.
                self.registry.release(&old.id);
                self.channel_gone = false;
                if generation != self.generation {
                    self.synced = None;
                }
                self.count_channel();
                self.renew_at = renew_time(&self.channel, &self.options);
                self.switch_to(conn);
            }
        }
        Ok(())
    }

    /// Makes `conn` the socket; the old one is read a little longer.
    fn switch_to(&mut self, conn: Connection) {
        if let Some(old) = self.conn.replace(conn) {
            self.draining = Some((old, Instant::now() + DRAIN));
        }
        self.last_heard = Timestamp::now();
    }
}
