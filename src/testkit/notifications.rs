//! The Notifications API in the fake: channels and their topic subscriptions
//! over REST, and the channels' websocket on a port of its own (heartbeats, the
//! application-level ping, and events for subscribed topics).
//!
//! What it copies from the platform, and where that is written down
//! (docs/research/background.md part B has the full references):
//!
//! - channels belong to the access token that created them; `GET
//!   /api/v2/notifications/channels?includechannels=token|oauthclient` lists this token's
//!   channels, or every channel of the OAuth client with the ids of other tokens' channels
//!   left out (the `includechannels` description in the Python SDK's `notifications_api.py`
//!   and the JavaScript SDK's NotificationsApi.md);
//! - at most 20 channels per OAuth client: creating a 21st removes the one used longest
//!   ago, channels without a connection first (`post_notifications_channels` description);
//! - one websocket per channel: connecting a second closes the first, and a client may
//!   connect again to the same `connectUri` for as long as the channel lives (the developer
//!   documentation's limits, quoted in the Genesys blog "Event Driven Integrations in
//!   Genesys Cloud", 2021-12-02; the Java SDK's `NotificationHandler` reconnects to the
//!   same `connectUri`);
//! - heartbeats on `channel.metadata` about every 30 s, `{"message":"ping"}` answered with
//!   a `pong` on `channel.metadata`, and `v2.system.socket_closing` before a maintenance
//!   close, after which the old socket is closed about a minute later.
//!
//! Each websocket connection is a task that owns its stream; everything else talks to it
//! through an unbounded queue of [`Command`]s, so publishing from the (synchronous) HTTP
//! handlers never waits on a socket.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use jiff::Timestamp;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use wiremock::ResponseTemplate;

use super::responses::{bad_request, genesys_error, json_response, rfc3339};
use super::{FakeGenesys, FakeRequest};
use crate::Method;

const CHANNELS: &str = "/api/v2/notifications/channels";
const CHANNEL: &str = "/api/v2/notifications/channels/{channelId}";
const SUBSCRIPTIONS: &str = "/api/v2/notifications/channels/{channelId}/subscriptions";

/// The platform's heartbeat period, about 30 s.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
/// The platform's channel lifetime: 24 h unless subscriptions are renewed.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Channels per OAuth client; creating one more removes the one used longest ago.
const MAX_CHANNELS: usize = 20;
/// How long a socket stays open after `v2.system.socket_closing` (about a minute).
const SOCKET_CLOSING_GRACE: Duration = Duration::from_secs(60);

/// The Notifications API of the fake: channels, subscriptions and the websocket server.
pub(crate) struct Notifications {
    shared: Arc<Shared>,
    /// The websocket accept loop, stopped when the fake is dropped.
    listener: super::ws::Listener,
}

/// What the HTTP handlers, the accept loop and the connection tasks share.
struct Shared {
    state: Mutex<State>,
}

struct State {
    /// The websocket port (0 until the listener is bound).
    port: u16,
    /// By id; a BTreeMap keeps listing order stable. Expired channels stay (a fake
    /// need not garbage-collect), but behave as gone.
    channels: BTreeMap<String, Channel>,
    heartbeat_every: Duration,
    heartbeats_suppressed: bool,
    lifetime: Duration,
    next_connection: u64,
    /// Websocket handshakes accepted so far.
    handshakes: u64,
    /// Channels created so far (removed and expired ones included).
    created: u64,
    /// Fault: every socket is closed (with a close frame) right after its handshake.
    close_on_open: bool,
    /// Fault: handshakes are refused with 503 (the notification service is down).
    refuse_handshakes: bool,
    /// Whether subscribing again moves a channel's `expires` (the documentation says it
    /// keeps the channel alive; whether `expires` shows it is not confirmed).
    subscribing_extends: bool,
    /// Fault: sockets send nothing at all (no heartbeats, no pongs, no events).
    silent: bool,
    /// Fault: this many channel creations answer 503 after creating the channel.
    fail_after_create: usize,
}

struct Channel {
    id: String,
    connect_uri: String,
    expires: Timestamp,
    /// The bearer token that created it (channels belong to a token).
    token: String,
    /// Created, or last connected to: the 21st channel removes the oldest.
    last_used: Timestamp,
    /// Permitted topics, in subscription order, without duplicates.
    topics: Vec<String>,
    /// At most one live connection, as on the platform.
    connection: Option<Connection>,
}

struct Connection {
    id: u64,
    commands: UnboundedSender<Command>,
}

/// What a connection task is told to do.
enum Command {
    /// Send this frame.
    Send(Message),
    /// Heartbeat at this new period from now on.
    Heartbeat(Duration),
    /// Send a close frame and end.
    Close,
    /// Announce a maintenance close (`v2.system.socket_closing`), then close after the grace.
    Closing,
    /// End at once: drop the socket without a close frame.
    Drop,
}

impl Channel {
    fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "connectUri": self.connect_uri,
            "expires": rfc3339(self.expires),
        })
    }

    /// Ends the live connection, if any, with `command`.
    fn disconnect(&mut self, command: Command) {
        if let Some(connection) = self.connection.take() {
            // The task may already have ended; then there is nothing to stop.
            let _ = connection.commands.send(command);
        }
    }
}

/// `now + d`, saturating (a test may ask for a lifetime of `Duration::MAX`).
fn later(now: Timestamp, d: Duration) -> Timestamp {
    now.checked_add(d).unwrap_or(Timestamp::MAX)
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    port: 0,
                    channels: BTreeMap::new(),
                    heartbeat_every: DEFAULT_HEARTBEAT,
                    heartbeats_suppressed: false,
                    lifetime: DEFAULT_LIFETIME,
                    next_connection: 0,
                    handshakes: 0,
                    created: 0,
                    close_on_open: false,
                    refuse_handshakes: false,
                    subscribing_extends: true,
                    silent: false,
                    fail_after_create: 0,
                }),
            }),
            listener: super::ws::Listener::default(),
        }
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        // Connection tasks hold only `Shared`, so they would outlive the fake otherwise.
        for channel in self.shared.lock().channels.values_mut() {
            channel.disconnect(Command::Drop);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes a new connection the channel's only one, replacing (closing) any older one.
    /// `None` when the channel does not exist or has expired.
    fn register(&self, channel_id: &str, commands: UnboundedSender<Command>) -> Option<u64> {
        let mut state = self.lock();
        state.next_connection += 1;
        let id = state.next_connection;
        let now = Timestamp::now();
        let channel = state
            .channels
            .get_mut(channel_id)
            .filter(|c| c.is_live(now))?;
        channel.disconnect(Command::Close);
        channel.connection = Some(Connection { id, commands });
        channel.last_used = now;
        state.handshakes += 1;
        Some(id)
    }

    /// Forgets connection `id` once its task ends, unless it was already replaced.
    fn forget(&self, channel_id: &str, id: u64) {
        let mut state = self.lock();
        if let Some(channel) = state.channels.get_mut(channel_id) {
            if channel.connection.as_ref().is_some_and(|c| c.id == id) {
                channel.connection = None;
            }
        }
    }

    fn is_live(&self, channel_id: &str) -> bool {
        self.lock()
            .channels
            .get(channel_id)
            .is_some_and(|c| c.is_live(Timestamp::now()))
    }
}

impl Notifications {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Sends `body` as an event on `topic` to every live channel subscribed to it.
    pub(crate) fn publish(&self, topic: &str, body: &Value) {
        let frame = json!({
            "topicName": topic,
            "version": "2",
            "eventBody": body,
            "metadata": { "CorrelationId": uuid::Uuid::new_v4().to_string() },
        })
        .to_string();
        let now = Timestamp::now();
        let state = self.lock();
        let subscribed = state
            .channels
            .values()
            .filter(|c| c.is_live(now) && c.topics.iter().any(|t| t == topic));
        for channel in subscribed {
            if let Some(connection) = &channel.connection {
                // A send fails only when the task has just ended; the event is lost, as
                // it would be on a dropped socket.
                let _ = connection
                    .commands
                    .send(Command::Send(Message::text(frame.clone())));
            }
        }
    }

    /// Binds the websocket listener on a free loopback port and starts accepting.
    async fn listen(&self) {
        let shared = self.shared.clone();
        let serving = move |stream| serve(stream, shared.clone());
        if let Some(port) = self.listener.start("notifications", serving).await {
            self.lock().port = port;
        }
    }

    /// A new channel for `token`; `Err` with the answer to send instead when the
    /// create-then-fail fault is armed (the channel exists all the same).
    fn create_channel(&self, token: &str) -> Result<Value, ResponseTemplate> {
        let mut state = self.lock();
        let now = Timestamp::now();
        let live: Vec<(bool, Timestamp, String)> = state
            .channels
            .values()
            .filter(|c| c.is_live(now))
            .map(|c| (c.connection.is_some(), c.last_used, c.id.clone()))
            .collect();
        if live.len() >= MAX_CHANNELS {
            // Channels without a connection go first, then the one used longest ago.
            if let Some((_, _, oldest)) = live.into_iter().min() {
                if let Some(mut removed) = state.channels.remove(&oldest) {
                    removed.disconnect(Command::Close);
                }
            }
        }
        let id = format!("streaming-0-{}", uuid::Uuid::new_v4().simple());
        let channel = Channel {
            connect_uri: format!("ws://127.0.0.1:{}/channels/{id}", state.port),
            expires: later(now, state.lifetime),
            id: id.clone(),
            token: token.to_owned(),
            last_used: now,
            topics: Vec::new(),
            connection: None,
        };
        let answer = channel.to_json();
        state.channels.insert(id, channel);
        state.created += 1;
        if state.fail_after_create > 0 {
            state.fail_after_create -= 1;
            return Err(genesys_error(
                503,
                "service.unavailable",
                "The service is temporarily unavailable (injected after the channel was created).",
            ));
        }
        Ok(answer)
    }

    /// `GET /api/v2/notifications/channels`: live channels of `token` (`includechannels=token`,
    /// the default) or of the whole OAuth client (`oauthclient`), where other tokens'
    /// channels show only that they exist (no id, no `connectUri`).
    fn list_channels(&self, token: &str, include: &str) -> Result<Value, ResponseTemplate> {
        let all = match include {
            "token" => false,
            "oauthclient" => true,
            _ => {
                return Err(bad_request(
                    "includechannels must be token or oauthclient.",
                    &[("includechannels", "invalid.value")],
                ))
            }
        };
        let now = Timestamp::now();
        let state = self.lock();
        let entities: Vec<Value> = state
            .channels
            .values()
            .filter(|c| c.is_live(now))
            .filter_map(|c| {
                if c.token == token {
                    Some(c.to_json())
                } else if all {
                    Some(json!({ "expires": rfc3339(c.expires) }))
                } else {
                    None
                }
            })
            .collect();
        Ok(json!({ "entities": entities }))
    }

    /// Replaces (`replace`) or extends the channel's topics; the answer's entities, or
    /// the answer to send instead (an unknown or expired channel, too many topics).
    fn subscribe(
        &self,
        channel_id: &str,
        asked: &[String],
        replace: bool,
    ) -> Result<Vec<Value>, ResponseTemplate> {
        let now = Timestamp::now();
        let mut state = self.lock();
        let lifetime = state.lifetime;
        let extends = state.subscribing_extends;
        let channel = state
            .channels
            .get_mut(channel_id)
            .filter(|c| c.is_live(now))
            .ok_or_else(channel_not_found)?;
        let kept = if replace { 0 } else { channel.topics.len() };
        let added = asked
            .iter()
            .filter(|t| replace || !channel.topics.contains(t))
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if kept + added > MAX_TOPICS {
            return Err(bad_request(
                "A channel can subscribe to at most 1000 topics.",
                &[("topics", "too.many")],
            ));
        }
        if replace {
            channel.topics.clear();
        }
        let mut entities = Vec::new();
        for topic in asked {
            if is_known_topic(topic) {
                if !channel.topics.contains(topic) {
                    channel.topics.push(topic.clone());
                }
                entities.push(json!({ "id": topic, "state": "Permitted" }));
            } else {
                entities.push(json!({
                    "id": topic,
                    "state": "Rejected",
                    "rejectionReason": "unknown topic",
                }));
            }
        }
        // Resubscribing is how a client keeps a channel past its lifetime.
        if extends {
            channel.expires = later(now, lifetime);
        }
        Ok(entities)
    }

    /// The channel's subscriptions as `ChannelTopic`s, or `None` if it is gone.
    fn subscriptions(&self, channel_id: &str) -> Option<Vec<Value>> {
        let state = self.lock();
        let channel = state
            .channels
            .get(channel_id)
            .filter(|c| c.is_live(Timestamp::now()))?;
        Some(
            channel
                .topics
                .iter()
                .map(|t| json!({ "id": t, "state": "Permitted" }))
                .collect(),
        )
    }

    /// Removes every subscription; false if the channel is gone.
    fn unsubscribe_all(&self, channel_id: &str) -> bool {
        let mut state = self.lock();
        match state
            .channels
            .get_mut(channel_id)
            .filter(|c| c.is_live(Timestamp::now()))
        {
            Some(channel) => {
                channel.topics.clear();
                true
            }
            None => false,
        }
    }
}

/// Topic patterns the fake accepts, `{id}` standing for a UUID: a few of the 242 the
/// platform lists (`GET /api/v2/notifications/availabletopics`, as Genesys's SDK builder
/// records them in `notificationMappings.json`, platform-client-sdk-dotnet 269.0.0, commit
/// 6e801ced). Any other topic is refused, as the platform refuses a topic it does not
/// know.
const TOPICS: [&str; 8] = [
    "v2.routing.queues.{id}.conversations.callbacks",
    "v2.routing.queues.{id}.conversations",
    "v2.routing.queues.{id}.users",
    "v2.users.{id}.conversations.callbacks",
    "v2.users.{id}.conversations",
    "v2.users.{id}.presence",
    "v2.users.{id}.routingStatus",
    "v2.users.{id}.activity",
];

/// Topics one channel takes: "You can subscribe to up to 1,000 topics per channel"
/// (the Notifications API limits, quoted by the Genesys developer blog "Event Driven
/// Integrations in Genesys Cloud", 2021-12-02); more is a 400.
const MAX_TOPICS: usize = 1_000;

/// Whether the fake knows `topic`: one of [`TOPICS`] with a UUID for each `{id}`.
fn is_known_topic(topic: &str) -> bool {
    let segments: Vec<&str> = topic.split('.').collect();
    TOPICS.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| if *p == "{id}" { is_uuid(s) } else { p == s })
    })
}

/// A hyphenated uuid (the only form the platform puts in topic names).
fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// One websocket connection, from handshake to end.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (commands, queue) = mpsc::unbounded_channel();
    let mut registered: Option<(String, u64)> = None;
    // Register during the handshake, before the answer is written: a client that has
    // connected may publish at once (create a callback) and must get the event.
    let callback = |request: &Request, response: Response| {
        let path = request.uri().path();
        if shared.lock().refuse_handshakes {
            let mut refused = ErrorResponse::new(Some("Service unavailable".into()));
            *refused.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return Err(refused);
        }
        let accepted = path.strip_prefix("/channels/").and_then(|channel_id| {
            let id = shared.register(channel_id, commands)?;
            Some((channel_id.to_owned(), id))
        });
        match accepted {
            Some(accepted) => {
                registered = Some(accepted);
                Ok(response)
            }
            None => Err(refusal(path)),
        }
    };
    let handshake = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    let Some((channel_id, id)) = registered else {
        tracing::debug!("FakeGenesys notifications: connection refused");
        return;
    };
    let close_on_open = shared.lock().close_on_open;
    match handshake {
        Ok(ws) if close_on_open => close(ws).await,
        Ok(ws) => run(ws, queue, &shared, &channel_id).await,
        Err(e) => tracing::debug!("FakeGenesys notifications: handshake failed: {e}"),
    }
    shared.forget(&channel_id, id);
}

/// The answer to a handshake for an unknown or expired channel.
fn refusal(path: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(format!("No live channel at {path}")));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// What woke a connection task.
enum Step {
    Command(Option<Command>),
    Incoming(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
    Heartbeat,
    /// The grace after `v2.system.socket_closing` is over.
    Closing,
}

/// A sleep until `at`, or for ever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn run(
    mut ws: WebSocketStream<TcpStream>,
    mut queue: UnboundedReceiver<Command>,
    shared: &Shared,
    channel_id: &str,
) {
    let mut heartbeat = heartbeat_timer(shared.lock().heartbeat_every);
    let mut closing_at = None;
    loop {
        let step = tokio::select! {
            // Commands first, so that a close or drop is not delayed by chatter.
            biased;
            command = queue.recv() => Step::Command(command),
            incoming = ws.next() => Step::Incoming(incoming),
            _ = heartbeat.tick() => Step::Heartbeat,
            () = sleep_until(closing_at) => Step::Closing,
        };
        let silent = shared.lock().silent;
        let sent = match step {
            // `None`: the fake forgot the connection (dropped) without a word.
            Step::Command(None | Some(Command::Drop)) => return,
            Step::Command(Some(Command::Close)) | Step::Closing => return close(ws).await,
            Step::Command(Some(Command::Closing)) => {
                closing_at = Some(Instant::now() + SOCKET_CLOSING_GRACE);
                ws.send(socket_closing(channel_id)).await
            }
            // A silent socket loses what it should send, as a dead network path would.
            Step::Command(Some(Command::Send(_))) if silent => Ok(()),
            Step::Command(Some(Command::Send(frame))) => ws.send(frame).await,
            Step::Command(Some(Command::Heartbeat(every))) => {
                heartbeat = heartbeat_timer(every);
                Ok(())
            }
            // The client went away (after a close handshake, or not).
            Step::Incoming(None) => return,
            Step::Incoming(Some(Err(e))) => {
                tracing::debug!("FakeGenesys notifications: read failed: {e}");
                return;
            }
            Step::Incoming(Some(Ok(_))) if silent => Ok(()),
            Step::Incoming(Some(Ok(frame))) => answer(&mut ws, frame).await,
            Step::Heartbeat => {
                // Channels also expire without `expire_notification_channels`: a
                // connection notices at its next heartbeat tick.
                if !shared.is_live(channel_id) {
                    return close(ws).await;
                }
                if silent || shared.lock().heartbeats_suppressed {
                    Ok(())
                } else {
                    ws.send(metadata("WebSocket Heartbeat")).await
                }
            }
        };
        if let Err(e) = sent {
            tracing::debug!("FakeGenesys notifications: write failed: {e}");
            return;
        }
    }
}

/// A heartbeat timer whose first tick is one period away (not at once, as a plain
/// `interval` would).
fn heartbeat_timer(every: Duration) -> Interval {
    // `interval` refuses a zero period.
    let every = every.max(Duration::from_millis(1));
    let mut timer = tokio::time::interval_at(Instant::now() + every, every);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    timer
}

/// A `channel.metadata` frame, as heartbeats and pongs are.
fn metadata(message: &str) -> Message {
    Message::text(
        json!({ "topicName": "channel.metadata", "eventBody": { "message": message } }).to_string(),
    )
}

/// The platform's maintenance warning: `v2.system.socket_closing` with a
/// `SystemMessageSystemMessage` body (the Java SDK's docs name its fields).
fn socket_closing(channel_id: &str) -> Message {
    Message::text(
        json!({
            "topicName": "v2.system.socket_closing",
            "version": "2",
            "eventBody": {
                "channelId": channel_id,
                "message": "The WebSocket will close for maintenance; connect a new WebSocket.",
            },
            "metadata": { "CorrelationId": uuid::Uuid::new_v4().to_string() },
        })
        .to_string(),
    )
}

/// Answers the client's application-level ping; other frames are ignored (protocol
/// pings and closes are answered by tungstenite itself).
async fn answer(
    ws: &mut WebSocketStream<TcpStream>,
    frame: Message,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let Message::Text(text) = frame else {
        return Ok(());
    };
    let is_ping = serde_json::from_str::<Value>(&text)
        .is_ok_and(|v| v.get("message").and_then(Value::as_str) == Some("ping"));
    if is_ping {
        ws.send(metadata("pong")).await
    } else {
        Ok(())
    }
}

/// Sends a close frame and waits briefly for the client's, so that it reads a clean
/// close rather than a reset.
async fn close(mut ws: WebSocketStream<TcpStream>) {
    let frame = CloseFrame {
        code: CloseCode::Away,
        reason: "channel closed".into(),
    };
    if let Err(e) = ws.close(Some(frame)).await {
        tracing::debug!("FakeGenesys notifications: close failed: {e}");
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// The request's bearer token (the fake has already checked that it is live).
fn bearer(req: &FakeRequest) -> &str {
    req.headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("")
}

fn channel_not_found() -> ResponseTemplate {
    genesys_error(404, "not.found", "The channel was not found.")
}

/// The topics of a subscription body: a JSON array of `{"id": topic}`.
fn topics_of(req: &FakeRequest) -> Result<Vec<String>, ResponseTemplate> {
    let invalid = || {
        bad_request(
            "The body must be a list of topics, each {\"id\": topic}.",
            &[("body", "invalid.value")],
        )
    };
    let body = req.json::<Value>().map_err(|_| invalid())?;
    let items = body.as_array().ok_or_else(invalid)?;
    items
        .iter()
        .map(|item| {
            item.get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(invalid)
        })
        .collect()
}

pub(crate) async fn install(fake: &FakeGenesys, store: Arc<Notifications>) {
    store.listen().await;

    let s = store.clone();
    fake.route(Method::POST, CHANNELS, move |req| {
        match s.create_channel(bearer(req)) {
            Ok(channel) => json_response(200, &channel),
            Err(response) => response,
        }
    });

    let s = store.clone();
    fake.route(Method::GET, CHANNELS, move |req| {
        let include = req
            .query
            .get("includechannels")
            .map(String::as_str)
            .unwrap_or("token");
        match s.list_channels(bearer(req), include) {
            Ok(listing) => json_response(200, &listing),
            Err(response) => response,
        }
    });

    let s = store.clone();
    fake.route(Method::HEAD, CHANNEL, move |req| {
        // HEAD answers carry no body.
        let status = if s.shared.is_live(req.param("channelId")) {
            200
        } else {
            404
        };
        ResponseTemplate::new(status)
    });

    for (method, replace) in [(Method::PUT, true), (Method::POST, false)] {
        let s = store.clone();
        fake.route(method, SUBSCRIPTIONS, move |req| {
            let topics = match topics_of(req) {
                Ok(topics) => topics,
                Err(response) => return response,
            };
            match s.subscribe(req.param("channelId"), &topics, replace) {
                Ok(entities) => json_response(200, &json!({ "entities": entities })),
                Err(answer) => answer,
            }
        });
    }

    let s = store.clone();
    fake.route(Method::GET, SUBSCRIPTIONS, move |req| {
        match s.subscriptions(req.param("channelId")) {
            Some(entities) => json_response(200, &json!({ "entities": entities })),
            None => channel_not_found(),
        }
    });

    fake.route(Method::DELETE, SUBSCRIPTIONS, move |req| {
        if store.unsubscribe_all(req.param("channelId")) {
            ResponseTemplate::new(204)
        } else {
            channel_not_found()
        }
    });
}

impl FakeGenesys {
    /// Sends `body` as a notification on `topic` to every live channel subscribed to it
    /// (a channel without an open socket gets nothing: the platform keeps no events).
    pub fn publish_notification(&self, topic: &str, body: &Value) {
        self.state.notifications.publish(topic, body);
    }

    /// The topics channel `channel_id` is subscribed to, in subscription order (`None`
    /// for an unknown or expired channel).
    pub fn notification_topics(&self, channel_id: &str) -> Option<Vec<String>> {
        let state = self.state.notifications.lock();
        state
            .channels
            .get(channel_id)
            .filter(|c| c.is_live(Timestamp::now()))
            .map(|c| c.topics.clone())
    }

    /// How often notification websockets get a `channel.metadata` heartbeat (default
    /// 30 s, as the platform). Applies to open connections too, from now on.
    pub fn set_heartbeat_interval(&self, every: Duration) {
        let mut state = self.state.notifications.lock();
        state.heartbeat_every = every;
        for connection in state
            .channels
            .values()
            .filter_map(|c| c.connection.as_ref())
        {
            let _ = connection.commands.send(Command::Heartbeat(every));
        }
    }

    /// Stops (`true`) or resumes (`false`) heartbeats on every notification websocket,
    /// to test a client's detection of a silent socket. Pings are still answered.
    pub fn suppress_heartbeats(&self, suppress: bool) {
        self.state.notifications.lock().heartbeats_suppressed = suppress;
    }

    /// How long a notification channel lives after it is created or subscribed again
    /// (default 24 h, as the platform). Applies to channels created or subscribed from
    /// now on.
    pub fn set_channel_lifetime(&self, lifetime: Duration) {
        self.state.notifications.lock().lifetime = lifetime;
    }

    /// Closes every notification websocket abruptly: the socket is dropped without a
    /// close frame, as when a network path dies. The channels stay usable.
    pub fn drop_notification_connections(&self) {
        for channel in self.state.notifications.lock().channels.values_mut() {
            channel.disconnect(Command::Drop);
        }
    }

    /// Every notification channel expires now: its websocket is closed (with a close
    /// frame), and connecting to it or reading or changing its subscriptions fails
    /// (the handshake is refused; REST answers 404).
    pub fn expire_notification_channels(&self) {
        let now = Timestamp::now();
        for channel in self.state.notifications.lock().channels.values_mut() {
            channel.expires = channel.expires.min(now);
            channel.disconnect(Command::Close);
        }
    }

    /// Announces a maintenance close (`v2.system.socket_closing`) on every notification
    /// websocket; each is closed a minute later unless the client has replaced it.
    pub fn announce_notification_socket_closing(&self) {
        for channel in self.state.notifications.lock().channels.values() {
            if let Some(connection) = &channel.connection {
                let _ = connection.commands.send(Command::Closing);
            }
        }
    }

    /// Fault: while on, every notification websocket is closed (with a close frame)
    /// right after its handshake, as a socket that opens and closes at once.
    pub fn close_notification_sockets_on_open(&self, on: bool) {
        self.state.notifications.lock().close_on_open = on;
    }

    /// Fault: while on, websocket handshakes on notification channels are refused with
    /// 503, as when the notification service is down (the channels stay valid).
    pub fn refuse_notification_handshakes(&self, on: bool) {
        self.state.notifications.lock().refuse_handshakes = on;
    }

    /// Whether subscribing a channel again moves its `expires` (default true). Genesys
    /// documents that re-subscribing keeps a channel past its 24 hours, not whether
    /// `expires` shows it: `false` tests a client that must move to a new channel.
    pub fn set_subscribing_extends_channels(&self, extends: bool) {
        self.state.notifications.lock().subscribing_extends = extends;
    }

    /// Fault: while on, notification websockets send nothing (no heartbeats, no pongs,
    /// no events: what they should send is lost), as a socket whose network path died
    /// without a close.
    pub fn silence_notification_sockets(&self, on: bool) {
        self.state.notifications.lock().silent = on;
    }

    /// Fault: the next `times` channel creations (`POST /api/v2/notifications/channels`)
    /// create the channel, then answer 503 (a create that took effect but whose answer
    /// was lost).
    pub fn fail_channel_creation_after_creating(&self, times: usize) {
        self.state.notifications.lock().fail_after_create = times;
    }

    /// Websocket handshakes on notification channels accepted so far.
    pub fn notification_handshakes(&self) -> u64 {
        self.state.notifications.lock().handshakes
    }

    /// Notification channels created so far (removed and expired ones included).
    pub fn notification_channels_created(&self) -> u64 {
        self.state.notifications.lock().created
    }

    /// How many notification websockets are connected.
    pub fn notification_connections(&self) -> usize {
        self.state
            .notifications
            .lock()
            .channels
            .values()
            .filter(|c| c.connection.is_some())
            .count()
    }

    /// Every notification channel the fake holds, expired ones included (channels removed
    /// by the 20-channel limit are gone; [`FakeGenesys::notification_channels_created`]
    /// counts them all):
    /// `{"id", "connectUri", "expires", "expired": bool, "connected": bool,
    /// "subscriptions": [topic, ...]}`.
    pub fn notification_channels(&self) -> Vec<Value> {
        let now = Timestamp::now();
        self.state
            .notifications
            .lock()
            .channels
            .values()
            .map(|c| {
                let mut channel = c.to_json();
                channel["expired"] = json!(!c.is_live(now));
                channel["connected"] = json!(c.connection.is_some());
                channel["subscriptions"] = json!(c.topics);
                channel
            })
            .collect()
    }
}
