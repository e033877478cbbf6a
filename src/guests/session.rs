//! A guest's session on the Web Messaging Guest API websocket, spoken the way Genesys's own
//! transport SDK speaks it (docs/research/background.md, part A, "KT" below:
//! `MyPureCloud/genesys-messenger-transport-mobile-sdk`).
//!
//! One task per session owns the socket (a `ws::Connection`):
//! nothing holds a lock across an await, and a session that stops answering delays only
//! its own callers. Callers talk to the task over a channel, each request with a deadline.
//!
//! - Frames are sorted by `class`, as KT does (A1): a `SessionResponse` answers
//!   `configureSession` and `closeSession` (its fixtures carry no `tracingId`); a
//!   `StructuredMessage` carrying the request's `tracingId` answers a message or an `echo`;
//!   error frames (`class: "string"`, `TooManyRequestsErrorMessage`) carry no `tracingId`
//!   and belong to the one request in flight (A2, `MessageStore.onMessageError`). So at
//!   most one request is in flight at a time.
//! - `SessionExpiredEvent`, 4006, 4007, `ConnectionClosedEvent` and `LogoutEvent` end the
//!   session (A2: fatal in KT, no reconnect). 4011 and 4013 fail only that message; 4029
//!   waits its `retryAfter`.
//! - Liveness: websocket pings every 15 s (KT's `DEFAULT_PING_INTERVAL_IN_SECONDS`, A5);
//!   a socket that answers nothing for `dead_after` is replaced. `echo` (session health,
//!   at most every 30 s, A5) runs while the session is idle.
//! - A lost socket is reopened with a backoff that keeps growing until a connection stayed
//!   healthy (the shared `ws::Reconnect`), and the session is
//!   resumed with the same token and `startNew: false` (A5), within a reconnect budget
//!   (KT: 300 s), after which the session is given up.
//! - Custom attributes ride in `message.channel.metadata.customAttributes` of a guest
//!   message, or of the auto-start Presence `Join` that KT sends once on a new session (A4);
//!   their size is the UTF-8 bytes of keys and values against `maxCustomDataBytes`, a JSON
//!   number (A4).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::http::{header::ORIGIN, HeaderName, HeaderValue};

use crate::client::Client;
use crate::error::{ApiError, Error, ErrorBody, TimeoutKind};
use crate::validation::{ValidationError, Violations};
use crate::ws::{Connection, Limits, Ping, Reconnect};

/// How often a websocket ping goes out (KT: `DEFAULT_PING_INTERVAL_IN_SECONDS = 15`).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);

/// The shortest `echo` interval: KT rate-limits `sendHealthCheck` to one per 30 s
/// (`HEALTH_CHECK_COOL_DOWN_MILLISECONDS`), and the platform may throttle more.
pub const MIN_ECHO_INTERVAL: Duration = Duration::from_secs(30);

/// How long a session tries to reconnect before it is given up (KT:
/// `reconnectionTimeoutInSeconds` defaults to 300).
pub const DEFAULT_RECONNECT_BUDGET: Duration = Duration::from_secs(300);

/// A connection that stayed up this long resets the reconnect backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Requests queued for the session task, and requests held while it reconnects.
const QUEUED_REQUESTS: usize = 32;

/// How the socket is named in errors (never its URL, which carries the deployment id).
const ENDPOINT: &str = "web messaging guest session";

/// How a guest session keeps its connection. Build with [`GuestSessionOptions::builder`];
/// [`Default`] holds the values below.
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::guests::GuestSessionOptions;
///
/// let options = GuestSessionOptions::builder()
///     .origin("https://shop.example.com")
///     .request_timeout(Duration::from_secs(20))
///     .build()?;
/// assert_eq!(options.ping_interval(), Duration::from_secs(15));
/// assert!(GuestSessionOptions::builder().echo_interval(Duration::from_secs(5)).build().is_err());
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSessionOptions {
    origin: Option<String>,
    connect_timeout: Duration,
    response_timeout: Duration,
    request_timeout: Duration,
    ping_interval: Duration,
    dead_after: Duration,
    echo_interval: Duration,
    reconnect_wait: Duration,
    max_reconnect_wait: Duration,
    reconnect_budget: Duration,
}

impl Default for GuestSessionOptions {
    fn default() -> Self {
        Self {
            origin: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ping_interval: DEFAULT_PING_INTERVAL,
            dead_after: DEFAULT_PING_INTERVAL * 2,
            echo_interval: MIN_ECHO_INTERVAL,
            reconnect_wait: Duration::from_millis(500),
            max_reconnect_wait: Duration::from_secs(30),
            reconnect_budget: DEFAULT_RECONNECT_BUDGET,
        }
    }
}

impl GuestSessionOptions {
    /// A builder starting from the defaults.
    pub fn builder() -> GuestSessionOptionsBuilder {
        GuestSessionOptionsBuilder {
            options: Self::default(),
        }
    }

    /// The `Origin` header sent on connect (deployments can restrict allowed origins).
    /// Default none.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// TCP, TLS and the websocket upgrade together. Default 10 s.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Writing one frame, and waiting for the platform's answer to it. Default 10 s.
    pub fn response_timeout(&self) -> Duration {
        self.response_timeout
    }

    /// One call on the session from start to end: waiting for the session (while it
    /// reconnects), for the answer, and for a `retryAfter`. Default 30 s.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// How often a websocket ping goes out. Default 15 s, as Genesys's SDK.
    pub fn ping_interval(&self) -> Duration {
        self.ping_interval
    }

    /// Nothing heard (pongs included) for this long: the socket is replaced. Default 30 s.
    pub fn dead_after(&self) -> Duration {
        self.dead_after
    }

    /// How often an idle session sends `echo` to keep the session itself alive. Default
    /// and minimum 30 s.
    pub fn echo_interval(&self) -> Duration {
        self.echo_interval
    }

    /// The first wait before reconnecting; waits grow up to
    /// [`max_reconnect_wait`](Self::max_reconnect_wait). Default 500 ms.
    pub fn reconnect_wait(&self) -> Duration {
        self.reconnect_wait
    }

    /// The longest wait before reconnecting. Default 30 s.
    pub fn max_reconnect_wait(&self) -> Duration {
        self.max_reconnect_wait
    }

    /// How long the session tries to reconnect before it is given up (its later calls then
    /// fail). Default 300 s, as Genesys's SDK.
    pub fn reconnect_budget(&self) -> Duration {
        self.reconnect_budget
    }
}

/// Builds [`GuestSessionOptions`]; [`build`](Self::build) lists every value out of range.
#[derive(Debug, Clone)]
#[must_use]
pub struct GuestSessionOptionsBuilder {
    options: GuestSessionOptions,
}

impl GuestSessionOptionsBuilder {
    /// See [`GuestSessionOptions::origin`].
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.options.origin = Some(origin.into());
        self
    }

    /// See [`GuestSessionOptions::connect_timeout`]; more than zero.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// See [`GuestSessionOptions::response_timeout`]; more than zero.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.options.response_timeout = timeout;
        self
    }

    /// See [`GuestSessionOptions::request_timeout`]; at least the response timeout.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.options.request_timeout = timeout;
        self
    }

    /// See [`GuestSessionOptions::ping_interval`]; more than zero.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.options.ping_interval = interval;
        self
    }

    /// See [`GuestSessionOptions::dead_after`]; longer than the ping interval.
    pub fn dead_after(mut self, silence: Duration) -> Self {
        self.options.dead_after = silence;
        self
    }

    /// See [`GuestSessionOptions::echo_interval`]; at least [`MIN_ECHO_INTERVAL`].
    pub fn echo_interval(mut self, interval: Duration) -> Self {
        self.options.echo_interval = interval;
        self
    }

    /// See [`GuestSessionOptions::reconnect_wait`] and
    /// [`max_reconnect_wait`](GuestSessionOptions::max_reconnect_wait): `first` more than
    /// zero, `max` at least `first`.
    pub fn reconnect_waits(mut self, first: Duration, max: Duration) -> Self {
        self.options.reconnect_wait = first;
        self.options.max_reconnect_wait = max;
        self
    }

    /// See [`GuestSessionOptions::reconnect_budget`]; more than zero.
    pub fn reconnect_budget(mut self, budget: Duration) -> Self {
        self.options.reconnect_budget = budget;
        self
    }

    /// The options, or every value out of range.
    pub fn build(self) -> Result<GuestSessionOptions, ValidationError> {
        let o = self.options;
        let mut v = Violations::default();
        for (field, value) in [
            ("connectTimeout", o.connect_timeout),
            ("responseTimeout", o.response_timeout),
            ("requestTimeout", o.request_timeout),
            ("pingInterval", o.ping_interval),
            ("deadAfter", o.dead_after),
            ("reconnectWait", o.reconnect_wait),
            ("reconnectBudget", o.reconnect_budget),
        ] {
            v.check(
                !value.is_zero(),
                field,
                "positive",
                format!("`{field}` must be more than zero"),
            );
        }
        v.check(
            o.request_timeout >= o.response_timeout,
            "requestTimeout",
            "range",
            "`requestTimeout` covers a whole call: make it at least `responseTimeout`",
        );
        v.check(
            o.dead_after > o.ping_interval,
            "deadAfter",
            "range",
            "`deadAfter` must be longer than `pingInterval`, or a live socket is declared dead between two pings",
        );
        v.check(
            o.echo_interval >= MIN_ECHO_INTERVAL,
            "echoInterval",
            "min",
            "`echoInterval` is at least 30 s: the platform rate-limits echo (Genesys's SDK waits 30 s between two)",
        );
        v.check(
            o.max_reconnect_wait >= o.reconnect_wait,
            "maxReconnectWait",
            "range",
            "the longest reconnect wait must be at least the first",
        );
        if let Some(origin) = &o.origin {
            v.check(
                !origin.is_empty() && HeaderValue::from_str(origin).is_ok(),
                "origin",
                "header",
                "`origin` must be a non-empty header value, e.g. https://shop.example.com",
            );
        }
        v.finish().map(|()| o)
    }
}

/// What `configureSession` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// `false` when an existing session was resumed.
    pub new_session: bool,
    /// Whether the session only reads (its conversation ended): nothing can be sent.
    pub read_only: bool,
    /// The platform's limit on custom attribute bytes per message (keys and values, UTF-8),
    /// when it says. A JSON number, read whether it comes as `2048` or `2048.0`.
    pub max_custom_data_bytes: Option<u64>,
}

/// What the session task is asked to do.
enum Command {
    Send {
        message: Outgoing,
        attributes: BTreeMap<String, String>,
        deadline: Instant,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Close {
        deadline: Instant,
        reply: oneshot::Sender<Result<(), Error>>,
    },
}

impl Command {
    /// Whether the caller is still waiting for it.
    fn wanted(&self) -> bool {
        let (deadline, closed) = match self {
            Command::Send {
                deadline, reply, ..
            }
            | Command::Close { deadline, reply } => (*deadline, reply.is_closed()),
        };
        !closed && Instant::now() < deadline
    }

    fn answer(self, result: Result<(), Error>) {
        let (Command::Send { reply, .. } | Command::Close { reply, .. }) = self;
        // The caller may have given up; then nobody needs the answer.
        let _ = reply.send(result);
    }
}

/// The guest message that carries the attributes.
enum Outgoing {
    /// A visible text message.
    Text(String),
    /// The auto-start Presence `Join` of a new session (KT `AutoStartRequest`).
    AutoStart,
}

impl Outgoing {
    fn endpoint(&self) -> &'static str {
        match self {
            Outgoing::Text(_) => "web messaging onMessage",
            Outgoing::AutoStart => "web messaging onMessage (auto-start)",
        }
    }
}

/// One guest session: configured on connect, resumed (same token) after a dropped socket.
/// The guest token never appears in `Debug` output, errors or logs.
///
/// Cheap to share behind an `Arc`; its calls queue for the session's task, one in flight
/// at a time. Dropping the last handle closes the socket (the session stays on the
/// platform, resumable with the token, until it expires); [`close`](Self::close) also
/// tells the platform.
pub struct GuestSession {
    commands: mpsc::Sender<Command>,
    /// Why the session's task ended, once it did.
    ended: Arc<OnceLock<Error>>,
    info: SessionInfo,
    deployment_id: String,
    request_timeout: Duration,
}

impl fmt::Debug for GuestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestSession")
            .field("deployment_id", &self.deployment_id)
            .field("token", &"[REDACTED]")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl GuestSession {
    /// Connects to the client's Web Messaging Guest API (see
    /// [`Environment::web_messaging_base`](crate::Environment::web_messaging_base)) for
    /// `deployment_id`, through the client's network setup (TLS, roots, proxy), and
    /// configures (or resumes) the session of `token`, the guest token the caller keeps to
    /// resume later. Fails when the socket does not open within the connect timeout or
    /// the platform does not answer within the response timeout.
    pub async fn connect(
        client: &Client,
        deployment_id: &str,
        token: impl Into<String>,
        options: GuestSessionOptions,
    ) -> Result<GuestSession, Error> {
        let token = SecretString::from(token.into());
        let mut v = Violations::default();
        let length = token.expose_secret().chars().count();
        v.check(
            (1..=2048).contains(&length),
            "token",
            "length",
            "the guest token is 1 to 2048 characters",
        );
        v.check(
            !deployment_id.trim().is_empty(),
            "deploymentId",
            "required",
            "name the Messenger deployment",
        );
        v.finish()?;
        let mut url = client.environment().web_messaging_base().cloned().ok_or_else(|| {
            Error::config(
                "no Web Messaging Guest API base: set GENESYS_WEBMESSAGING_BASE or ClientBuilder::web_messaging_base (it is derived from a region)",
            )
        })?;
        url.query_pairs_mut()
            .append_pair("deploymentId", deployment_id)
            .append_pair(
                "application",
                concat!("genesys-cloud-rust-", env!("CARGO_PKG_VERSION")),
            );
        let mut headers = Vec::new();
        if let Some(origin) = &options.origin {
            let value = HeaderValue::from_str(origin)
                .map_err(|_| Error::config("the guest session's Origin is not a header value"))?;
            headers.push((ORIGIN, value));
        }
        let (commands, receiver) = mpsc::channel(QUEUED_REQUESTS);
        let ended = Arc::new(OnceLock::new());
        let mut task = Task {
            client: client.clone(),
            url,
            headers,
            deployment_id: deployment_id.to_owned(),
            token,
            reconnect: Reconnect::new(
                options.reconnect_wait,
                options.max_reconnect_wait,
                HEALTHY_AFTER,
            ),
            request_timeout: options.request_timeout,
            options,
            commands: receiver,
            held: VecDeque::new(),
            conn: None,
            session: SessionInfo {
                new_session: true,
                read_only: false,
                max_custom_data_bytes: None,
            },
            startable: false,
            next_echo: Instant::now(),
            fatal: None,
            ended: ended.clone(),
        };
        let info = task.open().await.map_err(Failure::into_error)?;
        let request_timeout = task.request_timeout;
        tokio::spawn(task.run());
        Ok(GuestSession {
            commands,
            ended,
            info,
            deployment_id: deployment_id.to_owned(),
            request_timeout,
        })
    }

    /// What `configureSession` answered on connect.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Sends the guest's text message with `attributes` on it
    /// (`message.channel.metadata.customAttributes`, the place Genesys's SDK uses), and
    /// waits until the platform echoes it. `attributes` may be empty. Fails without
    /// sending when they exceed the session's `maxCustomDataBytes` (UTF-8 bytes of keys
    /// and values); a platform refusal (4011 message too long, 4013 attributes too large)
    /// fails this message only. A lost socket fails the message (it may have arrived: the
    /// error says so) and the session reconnects; the message is not sent twice.
    pub async fn send_message(
        &self,
        text: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if text.trim().is_empty() {
            return Err(ValidationError::single(
                "text",
                "required",
                "a guest message needs visible text",
            )
            .into());
        }
        let message = Outgoing::Text(text.to_owned());
        self.send(message, attributes).await
    }

    /// Starts the conversation of a **new** session the way Genesys's SDK auto-starts one:
    /// a Presence `Join` event carrying `attributes`, sent once per session (KT sends it
    /// when a `SessionResponse` says `newSession: true` and the deployment has auto-start
    /// on). This is the only way the Guest API takes attributes without a visible guest
    /// message.
    ///
    /// When the socket is lost before the platform answers, the session reconnects (within
    /// the request timeout) and its state tells whether the start arrived: a session the
    /// platform still calls new did not get it, and it is sent again; otherwise it did.
    /// Either way it is started once.
    ///
    /// Fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict) when the session was
    /// resumed or already started: later attributes ride on
    /// [`send_message`](Self::send_message), or go server side through
    /// [`ParticipantSink`](super::ParticipantSink).
    pub async fn auto_start(&self, attributes: &BTreeMap<String, String>) -> Result<(), Error> {
        self.send(Outgoing::AutoStart, attributes).await
    }

    async fn send(
        &self,
        message: Outgoing,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let endpoint = message.endpoint();
        let attributes = attributes.clone();
        self.call(endpoint, |deadline, reply| Command::Send {
            message,
            attributes,
            deadline,
            reply,
        })
        .await
    }

    /// Sends `closeSession` (as Genesys's SDK does before it starts a new chat), waits for
    /// the platform's `SessionResponse` and closes the socket; the session's later calls
    /// fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed). When the socket is down
    /// at that moment, it is reopened once to close.
    pub async fn close(&self) -> Result<(), Error> {
        self.call("web messaging closeSession", |deadline, reply| {
            Command::Close { deadline, reply }
        })
        .await
    }

    /// Hands one request to the session's task and waits for its answer, both within the
    /// request timeout.
    async fn call(
        &self,
        endpoint: &'static str,
        command: impl FnOnce(Instant, oneshot::Sender<Result<(), Error>>) -> Command,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + self.request_timeout;
        let (reply, answer) = oneshot::channel();
        let timeout = || {
            Error::timeout(
                Arc::from(endpoint),
                TimeoutKind::Deadline,
                self.request_timeout,
            )
        };
        match tokio::time::timeout_at(deadline, self.commands.send(command(deadline, reply))).await
        {
            Err(_) => return Err(timeout()),
            Ok(Err(_)) => return Err(self.ended()),
            Ok(Ok(())) => {}
        }
        match tokio::time::timeout_at(deadline, answer).await {
            Err(_) => Err(timeout()),
            Ok(Err(_)) => Err(self.ended()),
            Ok(Ok(result)) => result,
        }
    }

    /// Why the session's task is gone.
    fn ended(&self) -> Error {
        self.ended
            .get()
            .cloned()
            .unwrap_or_else(|| Error::closed("the guest session"))
    }
}

/// How one exchange with the platform ended, when not with the expected answer.
enum Failure {
    /// The socket is gone or no longer trusted: reconnect.
    Lost(Error),
    /// No answer in time: the socket is not trusted any more.
    Timeout(Duration),
    /// 429: wait this long.
    Throttled(Duration),
    /// The platform refused this request; the session goes on.
    Refused(Error),
    /// The session is over (expired, unknown, closed by the platform).
    Fatal(Error),
}

impl Failure {
    fn into_error(self) -> Error {
        match self {
            Failure::Lost(err) | Failure::Refused(err) | Failure::Fatal(err) => err,
            Failure::Timeout(limit) => Error::timeout(
                Arc::from("web messaging configureSession"),
                TimeoutKind::Attempt,
                limit,
            ),
            Failure::Throttled(wait) => Error::rate_limited(
                Arc::from("web messaging configureSession"),
                1,
                Some(wait),
                None,
            ),
        }
    }
}

/// What a request waits for.
#[derive(Clone, Copy)]
enum Expect<'a> {
    /// The next `SessionResponse` (configure, close): KT matches it by class alone.
    Session,
    /// The `StructuredMessage` carrying this `tracingId` (a message's echo, an echo reply).
    Traced(&'a str),
}

/// A frame from the platform, sorted by `class` as KT's `WebMessagingJson` does.
enum Frame {
    Session(Value),
    Structured { tracing_id: Option<String> },
    Error { code: u64, text: String },
    Throttled(Duration),
    Expired,
    ConnectionClosed,
    Logout,
    Other,
}

fn classify(text: &str) -> Frame {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return Frame::Other;
    };
    let code = frame["code"].as_u64().unwrap_or(200);
    match frame["class"].as_str().unwrap_or_default() {
        "SessionResponse" => Frame::Session(frame["body"].clone()),
        "StructuredMessage" => Frame::Structured {
            tracing_id: frame["tracingId"].as_str().map(str::to_owned),
        },
        "string" if code >= 300 => Frame::Error {
            code,
            text: frame["body"].as_str().unwrap_or_default().to_owned(),
        },
        "TooManyRequestsErrorMessage" => Frame::Throttled(retry_after(&frame["body"])),
        "SessionExpiredEvent" => Frame::Expired,
        "ConnectionClosedEvent" => Frame::ConnectionClosed,
        "LogoutEvent" => Frame::Logout,
        _ => Frame::Other,
    }
}

/// The `retryAfter` of a 429 (seconds, a number), capped at a minute.
fn retry_after(body: &Value) -> Duration {
    let seconds = body["retryAfter"].as_f64().unwrap_or(1.0);
    let seconds = if seconds.is_finite() {
        seconds.clamp(0.0, 60.0)
    } else {
        1.0
    };
    Duration::from_secs_f64(seconds)
}

fn expired() -> Error {
    Error::invalid_state(
        "the guest session",
        "expired",
        Some("start a new session with a new token".into()),
    )
}

/// The error for a `class: "string"` frame with `code`, and whether it ends the session.
/// Codes from KT's `ErrorCode.kt`; the status is the HTTP one closest in meaning (so
/// [`Error::kind`] sorts it), the platform's code is [`ApiError::code`].
fn refusal(endpoint: &'static str, code: u64, text: &str) -> Failure {
    let status: u16 = match code {
        4006 => return Failure::Fatal(expired()),
        4029 => return Failure::Throttled(Duration::from_secs(1)),
        4007 => 404,
        4011 | 4013 => 413,
        300..=599 => u16::try_from(code).unwrap_or(502),
        4000..=4999 => 400,
        5000..=5999 => 500,
        _ => 502,
    };
    // The Guest API's error texts are fixed sentences, not echoes of what was sent.
    let body = ErrorBody {
        message_with_params: Some(text.to_owned()),
        message: Some(text.to_owned()),
        code: Some(code.to_string()),
        status: Some(status),
        ..ErrorBody::default()
    };
    let err = Error::from(ApiError::new(Arc::from(endpoint), status, None, Some(body)));
    if code == 4007 {
        Failure::Fatal(err)
    } else {
        Failure::Refused(err)
    }
}

/// Reads frames until the one `expect`s, an error for the request in flight, or `until`.
async fn await_answer(
    conn: &mut Connection,
    endpoint: &'static str,
    expect: Expect<'_>,
    until: Instant,
) -> Result<Value, Failure> {
    loop {
        let text = match tokio::time::timeout_at(until, conn.recv()).await {
            Err(_) => {
                let limit = until.saturating_duration_since(Instant::now());
                return Err(Failure::Timeout(limit));
            }
            Ok(Err(err)) => return Err(Failure::Lost(err)),
            Ok(Ok(text)) => text,
        };
        match (classify(&text), expect) {
            (Frame::Session(body), Expect::Session) => return Ok(body),
            (
                Frame::Structured {
                    tracing_id: Some(id),
                },
                Expect::Traced(ours),
            ) if id == ours => return Ok(Value::Null),
            // No tracingId on errors: they belong to the one request in flight (KT).
            (Frame::Error { code, text }, _) => return Err(refusal(endpoint, code, &text)),
            (Frame::Throttled(wait), _) => return Err(Failure::Throttled(wait)),
            (Frame::Expired, _) => return Err(Failure::Fatal(expired())),
            (Frame::ConnectionClosed, _) => return Err(Failure::Fatal(closed_by_platform())),
            (Frame::Logout, _) => return Err(Failure::Fatal(logged_out())),
            _ => continue,
        }
    }
}

fn closed_by_platform() -> Error {
    Error::invalid_state(
        "the guest session",
        "closed by the platform",
        Some("another connection closed the session or the session limit was reached; start a new session".into()),
    )
}

fn logged_out() -> Error {
    Error::invalid_state(
        "the guest session",
        "logged out",
        Some("start a new session".into()),
    )
}

/// The session's task: owns the socket and answers requests one at a time.
struct Task {
    client: Client,
    url: url::Url,
    headers: Vec<(HeaderName, HeaderValue)>,
    deployment_id: String,
    token: SecretString,
    options: GuestSessionOptions,
    request_timeout: Duration,
    commands: mpsc::Receiver<Command>,
    /// Requests taken while reconnecting, served once connected (at most
    /// [`QUEUED_REQUESTS`]).
    held: VecDeque<Command>,
    conn: Option<Connection>,
    reconnect: Reconnect,
    /// What the last `configureSession` said.
    session: SessionInfo,
    /// Whether the auto-start may still go out: the platform called the session new and
    /// no message has gone out on it since.
    startable: bool,
    next_echo: Instant,
    /// Why the session is over, once it is.
    fatal: Option<Error>,
    ended: Arc<OnceLock<Error>>,
}

/// Whether a message whose socket was lost before its answer arrived.
enum Settled {
    /// It did: the platform's state after a reconnect shows it.
    Arrived,
    /// It did not, and the session is connected again: send it again.
    Resend,
    /// It may have: not sent again.
    Unknown,
}

/// What woke the idle task.
enum Wake {
    Command(Option<Command>),
    Frame(Result<String, Error>),
    Echo,
}

impl Task {
    fn limits(&self) -> Limits {
        Limits {
            connect_timeout: self.options.connect_timeout,
            send_timeout: self.options.response_timeout,
            ping_every: self.options.ping_interval,
            ping: Ping::Protocol,
            dead_after: self.options.dead_after,
        }
    }

    /// Opens a socket and configures (or resumes) the session on it.
    async fn open(&mut self) -> Result<SessionInfo, Failure> {
        let mut conn = Connection::open(
            self.client.network(),
            ENDPOINT,
            &self.url,
            &self.headers,
            self.limits(),
        )
        .await
        .map_err(Failure::Lost)?;
        let tracing_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "action": "configureSession",
            "deploymentId": self.deployment_id,
            "token": self.token.expose_secret(),
            "startNew": false,
            "tracingId": tracing_id,
        });
        conn.send_text(frame.to_string())
            .await
            .map_err(Failure::Lost)?;
        let until = Instant::now() + self.options.response_timeout;
        let endpoint = "web messaging configureSession";
        let body = await_answer(&mut conn, endpoint, Expect::Session, until).await?;
        let info = SessionInfo {
            new_session: body["newSession"].as_bool().unwrap_or(true),
            read_only: body["readOnly"].as_bool().unwrap_or(false),
            // A number, integer or not (the Java SDK's model has a Double).
            max_custom_data_bytes: body["maxCustomDataBytes"]
                .as_f64()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n.floor() as u64),
        };
        if body["connected"].as_bool() == Some(false) {
            return Err(Failure::Fatal(Error::invalid_state(
                "the guest session",
                "not connected",
                Some("the platform did not connect the session; start a new one".into()),
            )));
        }
        if info.new_session && !self.session.new_session {
            // The platform no longer knew the session: it starts over.
            tracing::warn!(
                "the resumed guest session was new on the platform; earlier attributes are gone"
            );
        }
        if info.new_session {
            self.startable = true;
        }
        self.session = info.clone();
        self.conn = Some(conn);
        self.reconnect.connected();
        self.next_echo = Instant::now() + self.options.echo_interval;
        Ok(info)
    }

    async fn run(mut self) {
        loop {
            if self.fatal.is_some() {
                break;
            }
            if self.conn.is_none() {
                if self.reconnect_or_stop().await {
                    continue;
                }
                break;
            }
            if let Some(command) = self.held.pop_front() {
                if self.serve(command).await {
                    continue;
                }
                break;
            }
            let wake = {
                let Task {
                    commands,
                    conn,
                    next_echo,
                    ..
                } = &mut self;
                let Some(conn) = conn.as_mut() else { continue };
                tokio::select! {
                    // Frames first: a socket that already failed is noticed before a
                    // request is sent on it.
                    biased;
                    frame = conn.recv() => Wake::Frame(frame),
                    command = commands.recv() => Wake::Command(command),
                    () = tokio::time::sleep_until(*next_echo) => Wake::Echo,
                }
            };
            match wake {
                // Every handle is gone: close politely and end.
                Wake::Command(None) => break,
                Wake::Command(Some(command)) => {
                    if !self.serve(command).await {
                        break;
                    }
                }
                Wake::Frame(Ok(text)) => self.unsolicited(&text),
                Wake::Frame(Err(err)) => self.lose(&err),
                Wake::Echo => self.echo().await,
            }
        }
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        let why = self
            .fatal
            .take()
            .unwrap_or_else(|| Error::closed("the guest session"));
        // Set before the channel closes, so that a caller whose request is dropped with
        // it learns why.
        let _ = self.ended.set(why.clone());
        for command in self.held.drain(..) {
            command.answer(Err(why.clone()));
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            command.answer(Err(why.clone()));
        }
    }

    /// Serves one request; `false` when the task should end.
    async fn serve(&mut self, command: Command) -> bool {
        if !command.wanted() {
            return true;
        }
        match command {
            Command::Send {
                message,
                attributes,
                deadline,
                reply,
            } => {
                let result = self.send(&message, &attributes, deadline).await;
                let _ = reply.send(result);
                true
            }
            Command::Close { deadline, reply } => {
                let result = self.close(deadline).await;
                let _ = reply.send(result);
                self.fatal = Some(Error::closed("the guest session"));
                false
            }
        }
    }

    /// Sends one message and waits for its echo, waiting out 429s within the deadline.
    async fn send(
        &mut self,
        message: &Outgoing,
        attributes: &BTreeMap<String, String>,
        deadline: Instant,
    ) -> Result<(), Error> {
        if self.session.read_only {
            return Err(Error::invalid_state(
                "the guest session",
                "read-only",
                Some("its conversation ended; start a new session".into()),
            ));
        }
        if matches!(message, Outgoing::AutoStart) && !self.startable {
            return Err(Error::invalid_state(
                "the guest session",
                "already started (or resumed)",
                Some("the Guest API takes custom attributes only with a guest message or the one auto-start of a new session: send them with GuestSession::send_message, or server side with ParticipantSink".into()),
            ));
        }
        let size: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        if let Some(limit) = self.session.max_custom_data_bytes {
            if u64::try_from(size).map_or(true, |size| size > limit) {
                return Err(ValidationError::single(
                    "attributes",
                    "max_custom_data_bytes",
                    format!("the custom attributes are {size} bytes of keys and values; the session takes at most {limit} (maxCustomDataBytes)"),
                )
                .into());
            }
        }
        let endpoint = message.endpoint();
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Err(Error::websocket(
                    ENDPOINT,
                    "the socket was lost; the session is reconnecting",
                    false,
                ));
            };
            let tracing_id = uuid::Uuid::new_v4().to_string();
            let frame = message_frame(self.token.expose_secret(), &tracing_id, message, attributes);
            if let Err(err) = conn.send_text(frame.to_string()).await {
                self.lose(&err);
                match self.settle_lost(message, deadline).await {
                    Settled::Arrived => return Ok(()),
                    Settled::Resend => continue,
                    Settled::Unknown => return Err(err),
                }
            }
            let until = deadline.min(Instant::now() + self.options.response_timeout);
            match await_answer(conn, endpoint, Expect::Traced(&tracing_id), until).await {
                Ok(_) => {
                    self.startable = false;
                    self.next_echo = Instant::now() + self.options.echo_interval;
                    return Ok(());
                }
                Err(Failure::Throttled(wait)) => {
                    let retry_at = Instant::now() + wait;
                    if retry_at >= deadline {
                        return Err(Error::rate_limited(
                            Arc::from(endpoint),
                            1,
                            Some(wait),
                            None,
                        ));
                    }
                    self.idle_until(retry_at).await;
                    if let Some(fatal) = &self.fatal {
                        return Err(fatal.clone());
                    }
                }
                Err(Failure::Refused(err)) => return Err(err),
                Err(Failure::Fatal(err)) => {
                    self.fatal = Some(err.clone());
                    return Err(err);
                }
                Err(Failure::Lost(err)) => {
                    self.lose(&err);
                    match self.settle_lost(message, deadline).await {
                        Settled::Arrived => return Ok(()),
                        Settled::Resend => continue,
                        Settled::Unknown => return Err(err),
                    }
                }
                Err(Failure::Timeout(_)) => {
                    // Its answer may still come; with one request in flight at a time, a
                    // socket whose answers are late is not to be trusted: start afresh.
                    let err = Error::timeout(
                        Arc::from(endpoint),
                        TimeoutKind::Attempt,
                        self.options.response_timeout,
                    );
                    self.lose(&err);
                    return Err(err);
                }
            }
        }
    }

    /// The socket was lost (not merely slow: a late answer may still come on a slow one)
    /// while `message` was on its way, before its answer. A text message may have arrived
    /// and is not sent twice ([`Settled::Unknown`]). The
    /// auto-start can be settled: the platform calls a session new until its conversation
    /// starts (Genesys's Messenger Transport SDK sends the auto-start on every
    /// `SessionResponse` with `newSession: true`, reconnects included:
    /// `MessagingClientImpl.kt`), so once reconnected within `deadline`, a session still
    /// new did not get the start (send it again) and one that is not did.
    async fn settle_lost(&mut self, message: &Outgoing, deadline: Instant) -> Settled {
        if !matches!(message, Outgoing::AutoStart) {
            return Settled::Unknown;
        }
        while self.fatal.is_none() {
            let at = Instant::now() + self.reconnect.next_wait();
            if at >= deadline {
                return Settled::Unknown;
            }
            tokio::time::sleep_until(at).await;
            self.client
                .metrics()
                .counter("guests.session.reconnects")
                .inc();
            match self.open().await {
                Ok(info) if info.new_session => return Settled::Resend,
                Ok(_) => {
                    self.startable = false;
                    self.next_echo = Instant::now() + self.options.echo_interval;
                    return Settled::Arrived;
                }
                Err(Failure::Fatal(err) | Failure::Refused(err)) => self.fatal = Some(err),
                Err(_) => {}
            }
        }
        Settled::Unknown
    }

    /// Reads (and handles) frames until `until`, keeping the socket alive meanwhile.
    async fn idle_until(&mut self, until: Instant) {
        while self.fatal.is_none() {
            let Some(conn) = self.conn.as_mut() else {
                return;
            };
            let frame = tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                frame = conn.recv() => frame,
            };
            match frame {
                Ok(text) => self.unsolicited(&text),
                Err(err) => return self.lose(&err),
            }
        }
    }

    /// A frame that answers no request: session events, agent messages.
    fn unsolicited(&mut self, text: &str) {
        match classify(text) {
            Frame::Expired => self.fatal = Some(expired()),
            Frame::ConnectionClosed => self.fatal = Some(closed_by_platform()),
            Frame::Logout => self.fatal = Some(logged_out()),
            Frame::Error { code, .. } => match refusal("web messaging guest session", code, "") {
                Failure::Fatal(err) => self.fatal = Some(err),
                _ => tracing::debug!(
                    code,
                    "guest session: an error frame with no request in flight"
                ),
            },
            _ => {}
        }
    }

    /// The socket is gone (or no longer trusted).
    fn lose(&mut self, err: &Error) {
        tracing::debug!(error = %err, "guest socket lost; the session will reconnect");
        self.conn = None;
    }

    /// Keeps the session alive on the platform; a socket that does not answer is replaced.
    async fn echo(&mut self) {
        self.next_echo = Instant::now() + self.options.echo_interval;
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let tracing_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "action": "echo",
            "token": self.token.expose_secret(),
            "tracingId": tracing_id,
            "message": { "type": "Text", "text": "ping" },
        });
        if let Err(err) = conn.send_text(frame.to_string()).await {
            return self.lose(&err);
        }
        let until = Instant::now() + self.options.response_timeout;
        match await_answer(
            conn,
            "web messaging echo",
            Expect::Traced(&tracing_id),
            until,
        )
        .await
        {
            Ok(_) | Err(Failure::Throttled(_)) => {}
            Err(Failure::Refused(err)) => tracing::debug!(error = %err, "guest echo refused"),
            Err(Failure::Fatal(err)) => self.fatal = Some(err),
            Err(Failure::Lost(err)) => self.lose(&err),
            Err(Failure::Timeout(_)) => {
                self.client
                    .metrics()
                    .counter("guests.session.echo_timeouts")
                    .inc();
                self.lose(&Error::websocket(ENDPOINT, "no answer to echo", true));
            }
        }
    }

    /// Waits (holding requests) and reconnects until connected (`true`), or until the
    /// session is over: closed, every handle gone, given up after the reconnect budget,
    /// or refused by the platform (`false`).
    async fn reconnect_or_stop(&mut self) -> bool {
        let lost_at = Instant::now();
        let mut last: Option<Error> = None;
        loop {
            let until = Instant::now() + self.reconnect.next_wait();
            loop {
                let command = tokio::select! {
                    () = tokio::time::sleep_until(until) => break,
                    command = self.commands.recv() => command,
                };
                match command {
                    None => return false,
                    Some(Command::Close { deadline, reply }) => {
                        let result = match self.open().await {
                            Ok(_) => self.close(deadline).await,
                            Err(failure) => Err(failure.into_error()),
                        };
                        let _ = reply.send(result);
                        self.fatal = Some(Error::closed("the guest session"));
                        return false;
                    }
                    Some(command) => self.hold(command),
                }
            }
            if lost_at.elapsed() >= self.options.reconnect_budget {
                let why = last.map(|e| format!(" (last: {e})")).unwrap_or_default();
                self.fatal = Some(Error::websocket(
                    ENDPOINT,
                    format!(
                        "could not reconnect within {:?}{why}; the session is given up",
                        self.options.reconnect_budget
                    ),
                    false,
                ));
                return false;
            }
            self.client
                .metrics()
                .counter("guests.session.reconnects")
                .inc();
            match self.open().await {
                Ok(_) => return true,
                // The platform refused the session itself (expired, unknown, forbidden):
                // reconnecting again will not help (KT: fatal while reconnecting).
                Err(Failure::Fatal(err) | Failure::Refused(err)) => {
                    self.fatal = Some(err);
                    return false;
                }
                Err(failure) => last = Some(failure.into_error()),
            }
        }
    }

    /// Keeps a request for when the session is connected again.
    fn hold(&mut self, command: Command) {
        self.held.retain(Command::wanted);
        if self.held.len() >= QUEUED_REQUESTS {
            command.answer(Err(Error::limit(
                "guest session requests waiting for a reconnect",
                QUEUED_REQUESTS,
                "wait until the session has reconnected",
            )));
        } else {
            self.held.push_back(command);
        }
    }

    /// `closeSession`, then a polite close of the socket.
    async fn close(&mut self, deadline: Instant) -> Result<(), Error> {
        let Some(mut conn) = self.conn.take() else {
            return Err(Error::websocket(ENDPOINT, "the socket is down", false));
        };
        let tracing_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "action": "closeSession",
            "token": self.token.expose_secret(),
            "closeAllConnections": false,
            "tracingId": tracing_id,
        });
        conn.send_text(frame.to_string()).await?;
        let until = deadline.min(Instant::now() + self.options.response_timeout);
        let endpoint = "web messaging closeSession";
        let answer = await_answer(&mut conn, endpoint, Expect::Session, until).await;
        conn.close().await;
        match answer {
            Ok(_) | Err(Failure::Fatal(_)) => Ok(()),
            Err(failure) => Err(failure.into_error()),
        }
    }
}

/// An `onMessage` frame as KT builds it (`TextMessage`, `AutoStartRequest`), attributes in
/// `message.channel.metadata.customAttributes`.
fn message_frame(
    token: &str,
    tracing_id: &str,
    message: &Outgoing,
    attributes: &BTreeMap<String, String>,
) -> Value {
    let mut body = match message {
        Outgoing::Text(text) => json!({ "type": "Text", "text": text }),
        Outgoing::AutoStart => json!({
            "type": "Event",
            "events": [{ "eventType": "Presence", "presence": { "type": "Join" } }],
        }),
    };
    if !attributes.is_empty() {
        body["channel"] = json!({ "metadata": { "customAttributes": attributes } });
    }
    json!({
        "action": "onMessage",
        "token": token,
        "tracingId": tracing_id,
        "message": body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_sorted_by_class_as_the_sdk_fixtures_show() {
        // KT-RESP `configureSuccess`: no tracingId.
        let session = r#"{"type":"response","class":"SessionResponse","code":200,"body":{"connected":true,"newSession":true,"readOnly":false,"maxCustomDataBytes":100,"clearedExistingSession":false}}"#;
        assert!(matches!(classify(session), Frame::Session(b) if b["maxCustomDataBytes"] == 100));
        let too_large = r#"{"type":"response","class":"string","code":4013,"body":"Custom Attributes in channel metadata is larger than 2048 bytes"}"#;
        assert!(matches!(
            classify(too_large),
            Frame::Error { code: 4013, .. }
        ));
        let limited = r#"{"type":"response","class":"TooManyRequestsErrorMessage","code":429,"body":{"retryAfter":3,"errorCode":4029,"errorMessage":"Message rate too high for this session"}}"#;
        assert!(matches!(classify(limited), Frame::Throttled(d) if d == Duration::from_secs(3)));
        let expired_event =
            r#"{"type": "response","class": "SessionExpiredEvent","code": 200,"body": {}}"#;
        assert!(matches!(classify(expired_event), Frame::Expired));
        assert!(matches!(classify("not json"), Frame::Other));
    }

    #[test]
    fn error_codes_map_to_kinds_and_keep_the_platform_code() {
        use crate::ErrorKind;
        let Failure::Refused(err) = refusal("e", 4013, "too large") else {
            panic!("4013 fails only the message")
        };
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.is_retryable());
        assert_eq!(err.api().and_then(ApiError::code), Some("4013"));
        assert!(
            matches!(refusal("e", 4006, ""), Failure::Fatal(e) if e.kind() == ErrorKind::Conflict)
        );
        assert!(
            matches!(refusal("e", 4007, ""), Failure::Fatal(e) if e.kind() == ErrorKind::NotFound)
        );
        assert!(matches!(refusal("e", 5000, ""), Failure::Refused(e) if e.is_retryable()));
        assert!(
            matches!(refusal("e", 403, ""), Failure::Refused(e) if e.kind() == ErrorKind::Unauthorized)
        );
    }

    #[test]
    fn options_out_of_range_are_errors() {
        let err = GuestSessionOptions::builder()
            .connect_timeout(Duration::ZERO)
            .dead_after(Duration::from_secs(10))
            .reconnect_waits(Duration::from_secs(5), Duration::from_secs(1))
            .origin("bad\nvalue")
            .build()
            .unwrap_err();
        for (field, rule) in [
            ("connectTimeout", "positive"),
            ("deadAfter", "range"),
            ("maxReconnectWait", "range"),
            ("origin", "header"),
        ] {
            assert!(err.has(field, rule), "{field} {rule}: {err}");
        }
        assert_eq!(
            GuestSessionOptions::builder().build().unwrap(),
            GuestSessionOptions::default()
        );
    }
}
