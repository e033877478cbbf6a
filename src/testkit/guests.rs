//! In the fake: the Web Messaging Guest API websocket, on a port of its own.
//!
//! A guest connects to `/v1?deploymentId=…`, configures a session with a token it made
//! up (`configureSession`), then sends messages (`onMessage`) whose custom attributes the
//! session keeps, keep-alives (`echo`) and finally `closeSession`. Sessions outlive
//! connections, so a client can connect again and resume with the same token.
//!
//! As in the notifications websocket, each connection is a task that owns its stream;
//! the controls on [`FakeGenesys`] reach it through an unbounded queue of [`Command`]s.
//! Requests are answered synchronously under the state lock (no `.await` there), so a
//! session seen by several connections changes atomically.
//!
//! The frames are shaped as Genesys's own transport SDK's test fixtures show them
//! (`MyPureCloud/genesys-messenger-transport-mobile-sdk`, `transport/src/androidUnitTest/
//! kotlin/transport/util/Response.kt`; see docs/research/background.md part A):
//!
//! - `SessionResponse` (the answer to `configureSession` and `closeSession`) carries no
//!   `tracingId`: a client recognises it by its `class` (A1.3, A2);
//! - error frames are `{"type":"response","class":"string","code":…,"body":"<text>"}`
//!   without a `tracingId`, as is `TooManyRequestsErrorMessage`: a client attributes them
//!   to the one message it has in flight (A2);
//! - the echo of a guest message and the answer to `echo` are `StructuredMessage`s that
//!   carry the request's `tracingId` (A3);
//! - `maxCustomDataBytes` is a JSON number (a `Double` in the Java SDK's model, A4), and
//!   the limit counts the UTF-8 bytes of every key and value (A4, `isSizeExceeded`);
//! - RFC 6455 pings are answered (the SDK pings every 15 s, A5).
//!
//! The session token is the guest's secret: nothing here logs it or a raw frame.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{StatusCode, Uri};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::responses::rfc3339;
use super::FakeGenesys;

/// The websocket path; the platform serves `wss://webmessaging.{domain}/v1`.
const PATH: &str = "/v1";
/// `SessionResponse.maxCustomDataBytes`, and the limit on the custom attributes of one
/// message (the platform's usual value, from its 4013 error text).
const MAX_CUSTOM_DATA_BYTES: usize = 2048;
/// The longest token the platform accepts, in characters.
const MAX_TOKEN_CHARS: usize = 2048;
/// `onMessage` per session per second, the platform's limit since December 2023.
const DEFAULT_RATE_LIMIT: u32 = 2;
/// The window the rate limit counts in.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// The message types a guest may send.
const MESSAGE_TYPES: [&str; 3] = ["Text", "Event", "Structured"];

/// The Guest API of the fake: sessions, connections and the websocket listener.
pub(crate) struct GuestServer {
    shared: Arc<Shared>,
    /// The websocket accept loop, stopped when the fake is dropped.
    listener: super::ws::Listener,
}

/// What the controls, the accept loop and the connection tasks share.
struct Shared {
    state: Mutex<State>,
}

struct State {
    /// The websocket port (0 until the listener is bound).
    port: u16,
    /// By token.
    sessions: HashMap<String, Session>,
    /// Live connections, by connection id.
    connections: HashMap<u64, Connection>,
    /// Deployments whose handshakes are refused with 403.
    forbidden: HashSet<String>,
    /// `onMessage` per session per second; 0 = no limit.
    rate_limit: u32,
    /// `maxCustomDataBytes`, as the `SessionResponse` states it and as enforced (4013).
    custom_data_limit: CustomDataLimit,
    /// Tokens whose connections stop answering once configured.
    stalled: HashSet<String>,
    /// Tokens whose next `onMessage` is met by a dropped connection: `true` after the
    /// message is applied (the answer is lost), `false` before (the message is lost).
    drop_at_message: HashMap<String, bool>,
    next_connection: u64,
}

/// The custom attribute limit, kept as the JSON number the platform states.
#[derive(Clone, Copy)]
enum CustomDataLimit {
    /// An integer, as in the SDK's fixtures.
    Integer(u64),
    /// A floating point number, as the Java SDK's model (`Double`) allows.
    Float(f64),
}

impl CustomDataLimit {
    fn json(self) -> Value {
        match self {
            CustomDataLimit::Integer(n) => json!(n),
            CustomDataLimit::Float(n) => json!(n),
        }
    }

    /// Whether `size` bytes exceed the limit (equal is allowed, as the SDK checks).
    fn exceeded_by(self, size: usize) -> bool {
        match self {
            CustomDataLimit::Integer(n) => u64::try_from(size).map_or(true, |s| s > n),
            CustomDataLimit::Float(n) => size as f64 > n,
        }
    }

    fn describe(self) -> String {
        match self {
            CustomDataLimit::Integer(n) => n.to_string(),
            CustomDataLimit::Float(n) => format!("{}", n.floor()),
        }
    }
}

#[derive(Default)]
struct Session {
    attributes: BTreeMap<String, String>,
    /// `onMessage` frames accepted.
    messages: usize,
    /// Set by `expire_guest_session`; the next `configureSession` forgets the session.
    expired: bool,
    /// When the accepted `onMessage` of the last second arrived, oldest first.
    recent: VecDeque<Instant>,
}

impl Session {
    /// Whether one more message fits the rate limit at `now`.
    fn admits(&mut self, now: Instant, per_second: u32) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            self.recent.pop_front();
        }
        per_second == 0 || self.recent.len() < per_second as usize
    }
}

struct Connection {
    commands: UnboundedSender<Command>,
    /// The session this connection configured, if any.
    token: Option<String>,
}

/// What a connection task is told to do.
enum Command {
    /// Send this frame.
    Send(Message),
    /// Stop reading and answering (pings included) until dropped: a peer that hangs.
    Stall,
    /// Send a close frame and end.
    Close,
    /// End at once: drop the socket without a close frame.
    Drop,
}

/// What the connection task does after a request: send `frames`, then maybe close, stall
/// (stop answering) or drop the socket without a word.
#[derive(Default)]
struct Reply {
    frames: Vec<Value>,
    close: bool,
    stall: bool,
    drop: bool,
}

impl Reply {
    fn one(frame: Value) -> Self {
        Self {
            frames: vec![frame],
            ..Self::default()
        }
    }
}

impl Default for GuestServer {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    port: 0,
                    sessions: HashMap::new(),
                    connections: HashMap::new(),
                    forbidden: HashSet::new(),
                    rate_limit: DEFAULT_RATE_LIMIT,
                    custom_data_limit: CustomDataLimit::Integer(MAX_CUSTOM_DATA_BYTES as u64),
                    stalled: HashSet::new(),
                    drop_at_message: HashMap::new(),
                    next_connection: 0,
                }),
            }),
            listener: super::ws::Listener::default(),
        }
    }
}

impl Drop for GuestServer {
    fn drop(&mut self) {
        // Connection tasks hold only `Shared`, so they would outlive the fake otherwise.
        self.shared.drop_connections();
    }
}

impl GuestServer {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Binds the websocket listener on a free loopback port and starts accepting.
    pub(crate) async fn listen(&self) {
        let shared = self.shared.clone();
        let serving = move |stream| serve(stream, shared.clone());
        if let Some(port) = self.listener.start("guests", serving).await {
            self.lock().port = port;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks a handshake's URL and registers the connection: its id and deployment, or
    /// the refusal to answer with.
    fn admit(
        &self,
        uri: &Uri,
        commands: UnboundedSender<Command>,
    ) -> Result<(u64, String), ErrorResponse> {
        if uri.path() != PATH {
            return Err(refusal(StatusCode::NOT_FOUND, "Not found"));
        }
        let deployment = uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "deploymentId")
                    .map(|(_, v)| v.into_owned())
            })
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                refusal(
                    StatusCode::BAD_REQUEST,
                    "The deploymentId query parameter is required",
                )
            })?;
        let mut state = self.lock();
        if state.forbidden.contains(&deployment) {
            return Err(refusal(
                StatusCode::FORBIDDEN,
                "Turn on the Feature Toggle or fix the configuration.",
            ));
        }
        state.next_connection += 1;
        let id = state.next_connection;
        let token = None;
        state.connections.insert(id, Connection { commands, token });
        Ok((id, deployment))
    }

    /// Forgets connection `id` once its task ends (it may be gone already).
    fn forget(&self, id: u64) {
        self.lock().connections.remove(&id);
    }

    /// Ends every connection abruptly.
    fn drop_connections(&self) {
        for (_, connection) in self.lock().connections.drain() {
            // The task may already have ended; then there is nothing to stop.
            let _ = connection.commands.send(Command::Drop);
        }
    }

    /// Answers one text frame from connection `id`, opened for `deployment`.
    fn handle(&self, id: u64, deployment: &str, text: &str) -> Reply {
        let Ok(Value::Object(request)) = serde_json::from_str::<Value>(text) else {
            return Reply::one(error(400, "Invalid request"));
        };
        let tracing_id = request.get("tracingId").and_then(Value::as_str);
        match request.get("action").and_then(Value::as_str) {
            Some("configureSession") => self.configure(id, deployment, &request),
            Some("onMessage") => match self.drop_at_message(id, &request) {
                Some(arrived) => {
                    if arrived {
                        // Applied; its answer is what the dropped connection loses.
                        let _ = self.accept_message(id, &request);
                    }
                    Reply {
                        drop: true,
                        ..Reply::default()
                    }
                }
                None => Reply::one(self.on_message(id, &request, tracing_id)),
            },
            Some("echo") => Reply::one(echo(&request, tracing_id)),
            Some("closeSession") => self.close_session(id, &request),
            _ => Reply::one(error(400, "Invalid request")),
        }
    }

    /// `configureSession`: creates, resumes or (if expired) ends a session. The answer
    /// has no `tracingId`, as in the SDK's `SessionResponse` fixtures. A stalled session's
    /// connection stops answering right after it.
    fn configure(&self, id: u64, deployment: &str, request: &Map<String, Value>) -> Reply {
        let Some(token) = request
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.chars().count() <= MAX_TOKEN_CHARS)
        else {
            let text = "token must be a non-empty string of at most 2048 characters";
            return Reply::one(error(400, text));
        };
        if request.get("deploymentId").and_then(Value::as_str) != Some(deployment) {
            let text = "deploymentId does not match the deployment of the connection";
            return Reply::one(error(400, text));
        }
        let start_new = request
            .get("startNew")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut state = self.lock();
        if state.sessions.get(token).is_some_and(|s| s.expired) {
            // Told once, then forgotten: the same token configures a new session later.
            state.sessions.remove(token);
            let expired = envelope("response", "SessionExpiredEvent", 200, json!({}), None);
            return Reply::one(expired);
        }
        // `startNew` asks for a fresh session even when the token is known. A session is
        // new until its conversation starts (its first accepted `onMessage`): Genesys's
        // Messenger Transport SDK sends the auto-start on every `SessionResponse` with
        // `newSession: true`, reconnects included (`MessagingClientImpl.kt`,
        // genesys-messenger-transport-mobile-sdk: `if (newSession &&
        // deploymentConfig.isAutostartEnabled()) sendAutoStart()`), which would start a
        // conversation twice if a started session still answered `true`.
        let known = state.sessions.get(token).map(|s| s.messages > 0);
        let new_session = start_new || known != Some(true);
        if start_new || known.is_none() {
            state.sessions.insert(token.to_owned(), Session::default());
        }
        if let Some(connection) = state.connections.get_mut(&id) {
            connection.token = Some(token.to_owned());
        }
        let body = json!({
            "connected": true,
            "newSession": new_session,
            "readOnly": false,
            "maxCustomDataBytes": state.custom_data_limit.json(),
            "clearedExistingSession": false,
        });
        Reply {
            frames: vec![envelope("response", "SessionResponse", 200, body, None)],
            stall: state.stalled.contains(token),
            ..Reply::default()
        }
    }

    /// Whether this `onMessage` is met by a dropped connection (see
    /// `drop_guest_connection_at_next_message`), and if so whether it is applied first.
    fn drop_at_message(&self, id: u64, request: &Map<String, Value>) -> Option<bool> {
        let mut state = self.lock();
        let token = configured(&state.connections, id, request)?.to_owned();
        state.drop_at_message.remove(&token)
    }

    /// `onMessage`: the guest's message comes back as a `StructuredMessage`, once its
    /// custom attributes are kept.
    fn on_message(&self, id: u64, request: &Map<String, Value>, tracing_id: Option<&str>) -> Value {
        let message_type = match self.accept_message(id, request) {
            Ok(message_type) => message_type,
            Err(refused) => return refused.frame(),
        };
        let message = request.get("message");
        let mut body = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "channel": { "time": rfc3339(Timestamp::now()) },
            "type": message_type,
            "direction": "Inbound",
        });
        // The platform echoes the guest's text, events and metadata, with the request's
        // `tracingId` (the fixture `onMessage(Direction.Inbound)`: type `message`).
        for field in ["text", "events", "metadata"] {
            if let Some(value) = message.and_then(|m| m.get(field)) {
                body[field] = value.clone();
            }
        }
        envelope("message", "StructuredMessage", 200, body, tracing_id)
    }

    /// Checks an `onMessage` (configured, valid, small enough, within the rate limit)
    /// and applies it to the session: its message type, or the refusal to answer.
    fn accept_message<'r>(
        &self,
        id: u64,
        request: &'r Map<String, Value>,
    ) -> Result<&'r str, Refusal> {
        let message_type = message_type(request);
        let attributes = sent_attributes(request);
        let mut guard = self.lock();
        // Split the guard's borrow: the connection is read while the session changes.
        let state = &mut *guard;
        let session = configured(&state.connections, id, request)
            .and_then(|token| state.sessions.get_mut(token))
            .filter(|s| !s.expired)
            .ok_or(Refusal::NotConfigured)?;
        let message_type = message_type.map_err(|e| Refusal::Invalid(e.into()))?;
        let attributes = attributes.map_err(Refusal::Invalid)?;
        if state
            .custom_data_limit
            .exceeded_by(attributes_size(&attributes))
        {
            return Err(Refusal::TooLarge(state.custom_data_limit));
        }
        let now = Instant::now();
        if !session.admits(now, state.rate_limit) {
            return Err(Refusal::TooManyRequests);
        }
        session.recent.push_back(now);
        session.messages += 1;
        session.attributes.extend(attributes);
        Ok(message_type)
    }

    /// `closeSession`: answers a `SessionResponse` with `connected: false` (no
    /// `tracingId`, as the SDK's fixtures; background.md A6) and closes this connection,
    /// and with `closeAllConnections` the session's other connections too. The session
    /// stays.
    fn close_session(&self, id: u64, request: &Map<String, Value>) -> Reply {
        let mut state = self.lock();
        let Some(token) = configured(&state.connections, id, request).map(str::to_owned) else {
            return Reply::one(error(400, "Session not configured"));
        };
        // Forgotten now rather than when the task ends, so `guest_connections` drops at
        // once although the close handshake takes a moment.
        state.connections.remove(&id);
        let close_all = request
            .get("closeAllConnections")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if close_all {
            let closed = envelope("message", "ConnectionClosedEvent", 200, json!({}), None);
            state.connections.retain(|_, c| {
                if c.token.as_deref() != Some(token.as_str()) {
                    return true;
                }
                // A task that has just ended needs no telling.
                let _ = c
                    .commands
                    .send(Command::Send(Message::text(closed.to_string())));
                let _ = c.commands.send(Command::Close);
                false
            });
        }
        let body = json!({ "connected": false, "newSession": false, "readOnly": false });
        let answer = envelope("response", "SessionResponse", 200, body, None);
        Reply {
            frames: vec![answer],
            close: true,
            ..Reply::default()
        }
    }
}

/// The token connection `id` configured, if the request names that same token.
fn configured<'a>(
    connections: &'a HashMap<u64, Connection>,
    id: u64,
    request: &Map<String, Value>,
) -> Option<&'a str> {
    let token = connections.get(&id)?.token.as_deref()?;
    (request.get("token").and_then(Value::as_str) == Some(token)).then_some(token)
}

/// The `type` of the request's `message`, which must be one a guest may send.
fn message_type(request: &Map<String, Value>) -> Result<&str, &'static str> {
    request
        .get("message")
        .and_then(|m| m.get("type"))
        .and_then(Value::as_str)
        .filter(|t| MESSAGE_TYPES.contains(t))
        .ok_or("message.type must be Text, Event or Structured")
}

/// The custom attributes of an `onMessage`: the deprecated top-level
/// `channel.metadata.customAttributes`, then `message.channel.metadata.customAttributes`
/// (the current place, so its keys win).
fn sent_attributes(request: &Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    let top = request.get("channel");
    let inner = request.get("message").and_then(|m| m.get("channel"));
    let mut attributes = BTreeMap::new();
    for channel in [top, inner].into_iter().flatten() {
        let Some(found) = channel.pointer("/metadata/customAttributes") else {
            continue;
        };
        let found = match found {
            Value::Null => continue,
            Value::Object(found) => found,
            _ => return Err("customAttributes must be an object of strings".into()),
        };
        for (key, value) in found {
            let Some(value) = value.as_str() else {
                return Err(format!(
                    "The value of custom attribute {key} must be a string"
                ));
            };
            attributes.insert(key.clone(), value.to_owned());
        }
    }
    Ok(attributes)
}

/// The size the platform limits: the UTF-8 bytes of every key and value.
fn attributes_size(attributes: &BTreeMap<String, String>) -> usize {
    attributes.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// `echo`: the keep-alive comes back as the guest's own message, with `type: response`
/// and the request's `tracingId`, by which the SDK recognises it (background.md A3).
fn echo(request: &Map<String, Value>, tracing_id: Option<&str>) -> Value {
    let message = request.get("message");
    let text = message
        .and_then(|m| m.get("text"))
        .cloned()
        .unwrap_or_else(|| json!("ping"));
    let mut body = json!({ "text": text, "type": "Text", "direction": "Inbound" });
    // Older SDK versions put a customMessageId in the metadata; it comes back too.
    if let Some(metadata) = message.and_then(|m| m.get("metadata")) {
        body["metadata"] = metadata.clone();
    }
    envelope("response", "StructuredMessage", 200, body, tracing_id)
}

/// The envelope of every frame the platform sends.
fn envelope(kind: &str, class: &str, code: u16, body: Value, tracing_id: Option<&str>) -> Value {
    let mut frame = json!({ "type": kind, "class": class, "code": code, "body": body });
    if let Some(tracing_id) = tracing_id {
        frame["tracingId"] = json!(tracing_id);
    }
    frame
}

/// An error answer: class `string`, the text as body, no `tracingId` (as every error
/// fixture of the SDK: the client attributes it to its one message in flight).
fn error(code: u16, text: &str) -> Value {
    envelope("response", "string", code, json!(text), None)
}

/// Why an `onMessage` was not applied.
enum Refusal {
    NotConfigured,
    Invalid(String),
    TooLarge(CustomDataLimit),
    TooManyRequests,
}

impl Refusal {
    /// The answer frame, without a `tracingId` (the SDK's fixtures `customAttributeSizeTooLarge`,
    /// `tooManyRequests`).
    fn frame(self) -> Value {
        match self {
            Refusal::NotConfigured => error(400, "Session not configured"),
            Refusal::Invalid(text) => error(400, &text),
            Refusal::TooLarge(limit) => {
                let text = format!(
                    "Custom Attributes in channel metadata is larger than {} bytes",
                    limit.describe()
                );
                error(4013, &text)
            }
            Refusal::TooManyRequests => {
                let body = json!({
                    "retryAfter": 1,
                    "errorCode": 4029,
                    "errorMessage": "Message rate too high for this session",
                });
                envelope("response", "TooManyRequestsErrorMessage", 429, body, None)
            }
        }
    }
}

/// The answer to a refused handshake.
fn refusal(status: StatusCode, text: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(text.to_owned()));
    *response.status_mut() = status;
    response
}

/// One websocket connection, from handshake to end.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (commands, queue) = mpsc::unbounded_channel();
    let mut registered: Option<(u64, String)> = None;
    // Register during the handshake, before the answer is written, so that
    // `guest_connections` counts a connection as soon as the client has it.
    let callback = |request: &Request, response: Response| {
        let accepted = shared.admit(request.uri(), commands)?;
        registered = Some(accepted);
        Ok(response)
    };
    let handshake = tokio_tungstenite::accept_hdr_async(stream, callback).await;
    let Some((id, deployment)) = registered else {
        tracing::debug!("FakeGenesys guests: connection refused");
        return;
    };
    match handshake {
        Ok(ws) => run(ws, queue, &shared, id, &deployment).await,
        Err(e) => tracing::debug!("FakeGenesys guests: handshake failed: {e}"),
    }
    shared.forget(id);
}

/// What woke a connection task.
enum Step {
    Command(Option<Command>),
    Incoming(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

async fn run(
    mut ws: WebSocketStream<TcpStream>,
    mut queue: UnboundedReceiver<Command>,
    shared: &Shared,
    id: u64,
    deployment: &str,
) {
    loop {
        let step = tokio::select! {
            // Commands first, so that a close or drop is not delayed by chatter.
            biased;
            command = queue.recv() => Step::Command(command),
            incoming = ws.next() => Step::Incoming(incoming),
        };
        let sent = match step {
            // `None`: the fake forgot the connection (dropped) without a word.
            Step::Command(None | Some(Command::Drop)) => return,
            Step::Command(Some(Command::Close)) => {
                return close(ws, CloseCode::Away, "connection closed").await
            }
            Step::Command(Some(Command::Send(frame))) => ws.send(frame).await,
            Step::Command(Some(Command::Stall)) => return stall(ws, queue).await,
            // The client went away (after a close handshake, or not).
            Step::Incoming(None) => return,
            Step::Incoming(Some(Err(e))) => {
                tracing::debug!("FakeGenesys guests: read failed: {e}");
                return;
            }
            Step::Incoming(Some(Ok(Message::Text(text)))) => {
                let reply = shared.handle(id, deployment, text.as_str());
                match send_all(&mut ws, reply.frames).await {
                    Ok(()) if reply.close => {
                        return close(ws, CloseCode::Normal, "session closed").await
                    }
                    Ok(()) if reply.stall => return stall(ws, queue).await,
                    // A dead network path: no close frame.
                    Ok(()) if reply.drop => return,
                    sent => sent,
                }
            }
            Step::Incoming(Some(Ok(Message::Binary(_)))) => {
                send_all(&mut ws, vec![error(400, "Invalid request")]).await
            }
            // Protocol pings and closes are answered by tungstenite itself.
            Step::Incoming(Some(Ok(_))) => Ok(()),
        };
        if let Err(e) = sent {
            tracing::debug!("FakeGenesys guests: write failed: {e}");
            return;
        }
    }
}

/// A peer that hangs: the socket stays open, but nothing is read (so pings get no pong)
/// and nothing is sent, until the fake drops or closes the connection.
async fn stall(ws: WebSocketStream<TcpStream>, mut queue: UnboundedReceiver<Command>) {
    while let Some(command) = queue.recv().await {
        if matches!(command, Command::Drop | Command::Close) {
            break;
        }
    }
    drop(ws);
}

async fn send_all(
    ws: &mut WebSocketStream<TcpStream>,
    frames: Vec<Value>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    for frame in frames {
        ws.send(Message::text(frame.to_string())).await?;
    }
    Ok(())
}

/// Sends a close frame and waits briefly for the client's, so that it reads a clean
/// close rather than a reset.
async fn close(mut ws: WebSocketStream<TcpStream>, code: CloseCode, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if let Err(e) = ws.close(Some(frame)).await {
        tracing::debug!("FakeGenesys guests: close failed: {e}");
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

impl FakeGenesys {
    /// The Web Messaging Guest API websocket, `ws://127.0.0.1:<port>/v1`; connect with
    /// `?deploymentId=<id>` appended (the handshake is refused with 400 without it).
    pub fn web_messaging_uri(&self) -> String {
        format!("ws://127.0.0.1:{}{PATH}", self.state.guests.lock().port)
    }

    /// The custom attributes the guest session with this token holds (merged over all
    /// its accepted messages, later keys winning), or `None` for an unknown session.
    /// An expired session still answers until a `configureSession` forgets it.
    pub fn guest_attributes(&self, token: &str) -> Option<BTreeMap<String, String>> {
        let state = self.state.guests.lock();
        state.sessions.get(token).map(|s| s.attributes.clone())
    }

    /// How many `onMessage` frames the guest session with this token accepted (0 for
    /// an unknown session). Refused ones (rate limit, size, invalid) do not count.
    pub fn guest_messages(&self, token: &str) -> usize {
        let state = self.state.guests.lock();
        state.sessions.get(token).map_or(0, |s| s.messages)
    }

    /// Closes every guest websocket abruptly: the socket is dropped without a close
    /// frame, as when a network path dies. Sessions survive, so a client can connect
    /// again and resume with its token.
    pub fn drop_guest_connections(&self) {
        self.state.guests.shared.drop_connections();
    }

    /// The guest session with this token expires now. Connections that configured it
    /// get a `SessionExpiredEvent` and must configure again; the next `configureSession`
    /// with the token answers `SessionExpiredEvent`, and forgets the session (a later
    /// one starts a new session).
    pub fn expire_guest_session(&self, token: &str) {
        let mut state = self.state.guests.lock();
        let Some(session) = state.sessions.get_mut(token) else {
            return;
        };
        session.expired = true;
        let expired = envelope("response", "SessionExpiredEvent", 200, json!({}), None);
        for connection in state.connections.values_mut() {
            if connection.token.as_deref() == Some(token) {
                connection.token = None;
                let frame = Message::text(expired.to_string());
                let _ = connection.commands.send(Command::Send(frame));
            }
        }
    }

    /// Refuses guest websocket handshakes for this deployment from now on, with 403
    /// (as for a deployment that is off or does not allow the origin). Open connections
    /// are not affected.
    pub fn forbid_deployment(&self, deployment_id: &str) {
        let mut state = self.state.guests.lock();
        state.forbidden.insert(deployment_id.to_owned());
    }

    /// How many `onMessage` a guest session may send per second (default 2, as the
    /// platform); the excess is answered with `TooManyRequestsErrorMessage` (429,
    /// `retryAfter: 1`) and not applied. 0 means no limit.
    pub fn set_guest_rate_limit(&self, per_second: u32) {
        self.state.guests.lock().rate_limit = per_second;
    }

    /// The guest session with this token stops answering: each of its connections, now
    /// and after every later `configureSession` (whose answer still arrives), keeps its
    /// socket open but reads and answers nothing, websocket pings included, as a peer
    /// that hangs. For testing that one stuck session delays no other.
    pub fn stall_guest_session(&self, token: &str) {
        let mut state = self.state.guests.lock();
        state.stalled.insert(token.to_owned());
        for connection in state.connections.values() {
            if connection.token.as_deref() == Some(token) {
                let _ = connection.commands.send(Command::Stall);
            }
        }
    }

    /// The next `onMessage` of the guest session with this token is met by a dropped
    /// connection (no answer, no close frame), as when a network path dies mid-request:
    /// with `arrived`, after the message was applied (its answer is lost); without, before
    /// (the message is lost). Either way the session survives for a reconnect.
    pub fn drop_guest_connection_at_next_message(&self, token: &str, arrived: bool) {
        let mut state = self.state.guests.lock();
        state.drop_at_message.insert(token.to_owned(), arrived);
    }

    /// The custom attribute limit every later `SessionResponse` states as
    /// `maxCustomDataBytes` and `onMessage` enforces (default 2048, sent as an integer).
    /// Given here as a float, it is sent as one (e.g. `100.0`): the Java SDK's model
    /// declares the field a `Double`.
    pub fn set_guest_custom_data_limit(&self, bytes: f64) {
        self.state.guests.lock().custom_data_limit = CustomDataLimit::Float(bytes);
    }

    /// How many guest websockets are connected.
    pub fn guest_connections(&self) -> usize {
        self.state.guests.lock().connections.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::MaybeTlsStream;

    type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;
    const DEPLOYMENT: &str = "d-1";
    const TOKEN: &str = "0b3e5a7c-guest-token";

    async fn connect(fake: &FakeGenesys) -> Client {
        let url = format!("{}?deploymentId={DEPLOYMENT}", fake.web_messaging_uri());
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("handshake");
        ws
    }

    async fn ask(ws: &mut Client, request: Value) -> Value {
        ws.send(Message::text(request.to_string()))
            .await
            .expect("send");
        next(ws).await
    }

    async fn next(ws: &mut Client) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).expect("json");
            }
        }
    }

    fn configure(token: &str) -> Value {
        json!({ "action": "configureSession", "deploymentId": DEPLOYMENT, "token": token })
    }

    fn text_with(attributes: Value) -> Value {
        json!({
            "action": "onMessage", "token": TOKEN, "tracingId": "t-1",
            "message": { "type": "Text", "text": "hi",
                         "channel": { "metadata": { "customAttributes": attributes } } },
        })
    }

    #[tokio::test]
    async fn a_session_is_new_until_its_first_message() {
        let fake = FakeGenesys::start().await;
        let mut ws = connect(&fake).await;
        assert_eq!(
            ask(&mut ws, configure(TOKEN)).await["body"]["newSession"],
            true
        );
        let mut again = connect(&fake).await;
        assert_eq!(
            ask(&mut again, configure(TOKEN)).await["body"]["newSession"],
            true,
            "nothing started its conversation yet"
        );
        ask(&mut again, text_with(json!({ "a": "1" }))).await;
        let mut third = connect(&fake).await;
        assert_eq!(
            ask(&mut third, configure(TOKEN)).await["body"]["newSession"],
            false
        );
    }

    #[tokio::test]
    async fn configure_send_attributes_and_resume() {
        let fake = FakeGenesys::start().await;
        let mut ws = connect(&fake).await;
        let before = ask(&mut ws, text_with(json!({ "a": "1" }))).await;
        assert_eq!(
            (before["code"].clone(), before["body"].clone()),
            (json!(400), json!("Session not configured"))
        );
        let session = ask(&mut ws, configure(TOKEN)).await;
        assert_eq!(session["class"], "SessionResponse");
        assert_eq!(session["body"]["newSession"], true);
        assert_eq!(session["body"]["maxCustomDataBytes"], 2048);
        assert!(
            session.get("tracingId").is_none(),
            "SessionResponse carries no tracingId, as the SDK's fixtures"
        );
        let sent = ask(&mut ws, text_with(json!({ "a": "1", "b": "2" }))).await;
        assert_eq!(sent["class"], "StructuredMessage");
        assert_eq!(sent["body"]["direction"], "Inbound");
        assert_eq!(sent["tracingId"], "t-1");
        let deprecated = json!({ "action": "onMessage", "token": TOKEN,
            "channel": { "metadata": { "customAttributes": { "b": "3" } } },
            "message": { "type": "Event", "events": [] } });
        assert_eq!(ask(&mut ws, deprecated).await["code"], 200);
        let expected: BTreeMap<String, String> = [("a", "1"), ("b", "3")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        assert_eq!(fake.guest_attributes(TOKEN), Some(expected.clone()));
        assert_eq!(fake.guest_messages(TOKEN), 2);

        assert_eq!(fake.guest_connections(), 1);
        fake.drop_guest_connections();
        assert!(!matches!(ws.next().await, Some(Ok(Message::Close(_)))));
        let mut ws = connect(&fake).await;
        let resumed = ask(&mut ws, configure(TOKEN)).await;
        assert_eq!(resumed["body"]["newSession"], false);
        assert_eq!(fake.guest_attributes(TOKEN), Some(expected));
    }

    #[tokio::test]
    async fn limits_size_rate_and_values() {
        let fake = FakeGenesys::start().await;
        let mut ws = connect(&fake).await;
        ask(&mut ws, configure(TOKEN)).await;
        let big = ask(&mut ws, text_with(json!({ "k": "é".repeat(1024) }))).await;
        assert_eq!(big["code"], 4013);
        assert_eq!(big["class"], "string");
        assert!(
            big.get("tracingId").is_none(),
            "error frames carry no tracingId"
        );
        assert_eq!(
            big["body"],
            "Custom Attributes in channel metadata is larger than 2048 bytes"
        );
        let not_string = ask(&mut ws, text_with(json!({ "k": 1 }))).await;
        assert_eq!(not_string["code"], 400);
        assert_eq!(fake.guest_attributes(TOKEN), Some(BTreeMap::new()));
        assert_eq!(
            ask(&mut ws, text_with(json!({ "n": "1" }))).await["code"],
            200
        );
        assert_eq!(
            ask(&mut ws, text_with(json!({ "n": "2" }))).await["code"],
            200
        );
        let limited = ask(&mut ws, text_with(json!({ "n": "3" }))).await;
        assert_eq!(limited["class"], "TooManyRequestsErrorMessage");
        assert_eq!(limited["body"]["errorCode"], 4029);
        assert_eq!(
            fake.guest_attributes(TOKEN)
                .and_then(|a| a.get("n").cloned())
                .as_deref(),
            Some("2")
        );
        fake.set_guest_rate_limit(0);
        assert_eq!(
            ask(&mut ws, text_with(json!({ "n": "4" }))).await["code"],
            200
        );
        assert_eq!(fake.guest_messages(TOKEN), 3);
    }

    #[tokio::test]
    async fn echo_invalid_expiry_and_close() {
        let fake = FakeGenesys::start().await;
        let mut ws = connect(&fake).await;
        let echo = json!({ "action": "echo", "token": TOKEN, "tracingId": "e",
                           "message": { "type": "Text", "text": "ping" } });
        let pong = ask(&mut ws, echo).await;
        assert_eq!(
            pong["body"],
            json!({ "text": "ping", "type": "Text", "direction": "Inbound" })
        );
        assert_eq!(pong["tracingId"], "e");
        assert_eq!(
            ask(&mut ws, json!({ "action": "dance" })).await["body"],
            "Invalid request"
        );
        ws.send(Message::text("not json")).await.expect("send");
        assert_eq!(next(&mut ws).await["body"], "Invalid request");
        let wrong =
            json!({ "action": "configureSession", "deploymentId": "other", "token": TOKEN });
        assert_eq!(ask(&mut ws, wrong).await["code"], 400);
        assert_eq!(
            ask(&mut ws, configure(&"x".repeat(2049))).await["code"],
            400
        );

        ask(&mut ws, configure(TOKEN)).await;
        fake.expire_guest_session(TOKEN);
        assert_eq!(next(&mut ws).await["class"], "SessionExpiredEvent");
        let expired = ask(&mut ws, configure(TOKEN)).await;
        assert_eq!(
            (expired["type"].clone(), expired["class"].clone()),
            (json!("response"), json!("SessionExpiredEvent"))
        );
        assert_eq!(fake.guest_attributes(TOKEN), None);
        assert_eq!(
            ask(&mut ws, configure(TOKEN)).await["body"]["newSession"],
            true
        );

        let mut other = connect(&fake).await;
        ask(&mut other, configure(TOKEN)).await;
        let close =
            json!({ "action": "closeSession", "token": TOKEN, "closeAllConnections": true });
        let closed = ask(&mut ws, close).await;
        assert_eq!(closed["body"]["connected"], false);
        assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
        assert_eq!(next(&mut other).await["class"], "ConnectionClosedEvent");
        assert!(matches!(other.next().await, Some(Ok(Message::Close(_)))));
        assert_eq!(fake.guest_connections(), 0);
    }

    /// Paused time: the fake's server runs on this runtime, so a timeout fires only once it
    /// has nothing left to do (an answer on its way would be read first).
    #[tokio::test(start_paused = true)]
    async fn a_stalled_session_answers_nothing_and_a_float_limit_stays_a_float() {
        let fake = FakeGenesys::start().await;
        fake.set_guest_custom_data_limit(100.0);
        let mut ws = connect(&fake).await;
        let session = ask(&mut ws, configure(TOKEN)).await;
        assert_eq!(session["body"]["maxCustomDataBytes"], json!(100.0));
        assert!(session["body"]["maxCustomDataBytes"].is_f64());
        // 1 + 100 bytes: one over.
        let over = ask(&mut ws, text_with(json!({ "k": "v".repeat(100) }))).await;
        assert_eq!(over["code"], 4013);

        fake.stall_guest_session(TOKEN);
        ws.send(Message::Ping(vec![1].into())).await.expect("send");
        ws.send(Message::text(text_with(json!({ "a": "1" })).to_string()))
            .await
            .expect("send");
        let silence = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
        assert!(silence.is_err(), "no pong, no answer: {silence:?}");
        assert_eq!(fake.guest_messages(TOKEN), 0);

        // A new connection configures (answered), then hangs too.
        let mut again = connect(&fake).await;
        assert_eq!(
            ask(&mut again, configure(TOKEN)).await["class"],
            "SessionResponse"
        );
        again
            .send(Message::text(text_with(json!({ "a": "1" })).to_string()))
            .await
            .expect("send");
        let silence = tokio::time::timeout(Duration::from_millis(300), again.next()).await;
        assert!(silence.is_err(), "{silence:?}");
    }

    #[tokio::test]
    async fn handshake_refusals() {
        let fake = FakeGenesys::start().await;
        let status = |result: Result<_, tokio_tungstenite::tungstenite::Error>| match result {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status(),
            _ => StatusCode::OK,
        };
        let bare = fake.web_messaging_uri().into_client_request().expect("url");
        assert_eq!(
            status(tokio_tungstenite::connect_async(bare).await.map(|_| ())),
            StatusCode::BAD_REQUEST
        );
        fake.forbid_deployment(DEPLOYMENT);
        let url = format!("{}?deploymentId={DEPLOYMENT}", fake.web_messaging_uri());
        assert_eq!(
            status(tokio_tungstenite::connect_async(url).await.map(|_| ())),
            StatusCode::FORBIDDEN
        );
        assert_eq!(fake.guest_connections(), 0);
    }
}
