//! The crate's one error type, sorted by what a caller does next.
//!
//! [`Error`] is opaque: ask it what happened with [`Error::kind`] and its accessors
//! ([`status`](Error::status), [`may_have_been_sent`](Error::may_have_been_sent),
//! [`retry_after`](Error::retry_after), [`validation`](Error::validation), [`api`](Error::api)
//! ...). New cases become new kinds or accessors, never a breaking change, and no
//! dependency's type is part of it (transport and websocket failures stay reachable
//! through [`std::error::Error::source`]).
//!
//! | [`ErrorKind`] | sent? | what to do | a service would answer |
//! |---|---|---|---|
//! | [`InvalidInput`](ErrorKind::InvalidInput) | never ([`validation`](Error::validation)), or refused by the platform (400) | fix the request | 422 / 400 |
//! | [`NotFound`](ErrorKind::NotFound) | yes | the thing is not there (404, an unknown session) | 404 |
//! | [`Conflict`](ErrorKind::Conflict) | yes | re-read and retry, or give up (409, a resource in a state that ends the operation) | 409 |
//! | [`Throttled`](ErrorKind::Throttled) | yes | wait [`retry_after`](Error::retry_after), lower the rate | 429 / 503 |
//! | [`Unauthorized`](ErrorKind::Unauthorized) | login or token refused (401, 403) | check the OAuth client, its roles and org | 502 / 500 |
//! | [`Upstream`](ErrorKind::Upstream) | see [`may_have_been_sent`](Error::may_have_been_sent) | 5xx, timeout, network: retry later if idempotent | 502 / 503 / 504 |
//! | [`LocalLimit`](ErrorKind::LocalLimit) | never | a limit of this crate (concurrency, queue, body size, pages) was reached | 429 / 503 |
//! | [`Configuration`](ErrorKind::Configuration) | never | fix the client's setup | 500 |
//! | [`Decode`](ErrorKind::Decode) | yes, answered | the answer was unusable (not the documented JSON, broke its contract) | 502 |
//! | [`Storage`](ErrorKind::Storage) | never | the outbox file or the service's database could not be read or written ([`is_retryable`](Error::is_retryable) when the database was unreachable) | 500 / 503 |
//! | [`Closed`](ErrorKind::Closed) | never | the background task was shut down | 503 |
//!
//! Failures below HTTP name their class ([`NetworkFailure`], through
//! [`Error::network_failure`]: DNS, a refused or timed-out connect, TLS, the proxy, a
//! connection lost half-way) and say whether the request was sent; their cause chain,
//! down to what the operating system or TLS said, stays reachable through `source()`.
//!
//! No error holds a secret or a value: endpoints are named by their path template (ids
//! and query values left out), transport errors carry no URL, decode errors name the field
//! path and the expected type but never the value found, and the platform's error message
//! (which may quote what was sent) is shown only through [`ApiError::message`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::validation::{ValidationError, Violation};

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

type Source = Arc<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong when talking to Genesys Cloud. See the [module docs](self).
///
/// Cheap to clone (an `Arc` inside). `Display` says what happened and what to do;
/// neither `Display` nor `Debug` ever shows a secret or a value that was sent or received.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Repr>,
}

/// What kind of failure an [`Error`] is: what the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is invalid: refused before sending ([`Error::validation`] lists every
    /// rule), or refused by the platform (400, 413, 415, 422).
    InvalidInput,
    /// What was asked for is not there: 404 or 410 from the platform, or a local lookup
    /// (an unregistered guest session).
    NotFound,
    /// The resource changed or is in a state that ends the operation: 409, 412, an
    /// integration in `ERROR`, an expired guest session.
    Conflict,
    /// The platform kept answering 429 until the retry policy or budget ran out, or asked
    /// for a longer wait than the policy waits ([`RetryPolicy::clamp_retry_after`](crate::RetryPolicy::clamp_retry_after)).
    Throttled,
    /// Logging in or using the token failed (bad credentials, 401 twice, 403).
    Unauthorized,
    /// The platform or the network failed: 5xx, timeouts, lost connections, websockets.
    /// [`Error::may_have_been_sent`] says whether the request may have taken effect.
    Upstream,
    /// A limit of this crate was reached: a per-queue concurrency limit, a full queue,
    /// the response size cap, a page limit, the retry budget.
    LocalLimit,
    /// The client is set up wrongly (base URL, credentials, options).
    Configuration,
    /// The answer could not be used: not the JSON the endpoint documents, or it broke its
    /// declared contract.
    Decode,
    /// Local storage could not be read or written: the guest outbox's file, or the
    /// service's database (feature `postgres`; retryable while it is unreachable).
    Storage,
    /// A background task (batcher, stream) was shut down before it could take the request.
    Closed,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Upstream => "upstream failure",
            ErrorKind::LocalLimit => "local limit",
            ErrorKind::Configuration => "configuration",
            ErrorKind::Decode => "decode",
            ErrorKind::Storage => "storage",
            ErrorKind::Closed => "closed",
        })
    }
}

/// Which time limit a timeout hit (see [`Error::timeout_kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// One attempt (send plus reading the answer) took longer than the per-attempt timeout.
    Attempt,
    /// The whole call, retries and waits included, passed its deadline.
    Deadline,
    /// Waiting for the platform to finish an asynchronous change ran out of time.
    Wait,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Attempt => "per-attempt timeout",
            TimeoutKind::Deadline => "overall deadline",
            TimeoutKind::Wait => "wait",
        })
    }
}

/// What failed below HTTP, for errors that got no answer (see [`Error::network_failure`]):
/// enough for on-call to tell a wrong host from a firewall, TLS from a slow platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NetworkFailure {
    /// The host name could not be resolved: a wrong region or base URL, or no DNS.
    Dns,
    /// The host refused the connection: nothing listens there, or a firewall rejects it.
    Refused,
    /// No connection within the connect timeout: a firewall that drops packets, a host
    /// that is down, a network partition.
    ConnectTimeout,
    /// TLS failed: a certificate not trusted (a TLS-inspecting proxy: add its root with
    /// `ClientBuilder::add_root_certificate_pem`), a name mismatch, a broken handshake.
    Tls,
    /// The HTTP proxy refused or failed the tunnel (see `ClientBuilder::proxy`).
    Proxy,
    /// The server refused the websocket upgrade or broke the websocket protocol.
    Handshake,
    /// The connection was reset or closed before the whole answer arrived.
    ConnectionLost,
    /// Any other failure below HTTP.
    Other,
}

impl fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkFailure::Dns => "DNS lookup failed",
            NetworkFailure::Refused => "connection refused",
            NetworkFailure::ConnectTimeout => "connect timed out",
            NetworkFailure::Tls => "TLS failed",
            NetworkFailure::Proxy => "the proxy failed",
            NetworkFailure::Handshake => "websocket handshake refused",
            NetworkFailure::ConnectionLost => "connection lost",
            NetworkFailure::Other => "network error",
        })
    }
}

/// The private shape of an [`Error`].
enum Repr {
    Validation(ValidationError),
    Config(String),
    Api(ApiError),
    RateLimited {
        endpoint: Arc<str>,
        attempts: u32,
        retry_after: Option<Duration>,
        correlation_id: Option<String>,
    },
    Auth(AuthError),
    Timeout {
        endpoint: Arc<str>,
        kind: TimeoutKind,
        limit: Duration,
        /// Whether any attempt may have reached the platform.
        sent: bool,
        /// What the last attempt ended with, when the deadline ended the retries.
        last: Option<Error>,
    },
    Transport {
        endpoint: Arc<str>,
        sent: bool,
        failure: NetworkFailure,
        source: Source,
    },
    Decode {
        endpoint: Arc<str>,
        status: u16,
        correlation_id: Option<String>,
        detail: String,
    },
    BodyTooLarge {
        endpoint: Arc<str>,
        limit: usize,
        correlation_id: Option<String>,
    },
    InvalidState {
        resource: String,
        state: String,
        detail: Option<String>,
    },
    Contract {
        what: String,
        problems: Vec<String>,
    },
    WebSocket {
        endpoint: Arc<str>,
        message: String,
        sent: bool,
        failure: Option<NetworkFailure>,
        source: Option<Source>,
    },
    Limit {
        resource: String,
        limit: usize,
        hint: &'static str,
    },
    NotFound {
        resource: String,
    },
    Storage {
        what: String,
        source: Source,
        /// Whether trying again later may succeed (the database was unreachable).
        retryable: bool,
    },
    Closed {
        what: &'static str,
    },
    Custom {
        kind: ErrorKind,
        source: Source,
    },
    Step {
        operation: String,
        step: &'static str,
        cleanup: Option<String>,
        source: Error,
    },
}

impl Error {
    fn new(repr: Repr) -> Self {
        Self {
            inner: Arc::new(repr),
        }
    }

    // ---- constructors (crate-internal) ----

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Repr::Config(message.into()))
    }

    pub(crate) fn rate_limited(
        endpoint: Arc<str>,
        attempts: u32,
        retry_after: Option<Duration>,
        correlation_id: Option<String>,
    ) -> Self {
        Self::new(Repr::RateLimited {
            endpoint,
            attempts,
            retry_after,
            correlation_id,
        })
    }

    /// A time limit hit while the request may have been on its way.
    pub(crate) fn timeout(endpoint: Arc<str>, kind: TimeoutKind, limit: Duration) -> Self {
        Self::new(Repr::Timeout {
            endpoint,
            kind,
            limit,
            sent: true,
            last: None,
        })
    }

    /// The call's deadline passed. `sent` says whether any attempt may have reached the
    /// platform; `last` is what the last attempt (or wait) ended with, if anything.
    pub(crate) fn deadline_passed(
        endpoint: Arc<str>,
        limit: Duration,
        sent: bool,
        last: Option<Error>,
    ) -> Self {
        Self::new(Repr::Timeout {
            endpoint,
            kind: TimeoutKind::Deadline,
            limit,
            sent,
            last,
        })
    }

    /// A failure below HTTP, classified from its cause chain. `source` must not hold a URL
    /// (reqwest: `without_url()`).
    pub(crate) fn transport(
        endpoint: Arc<str>,
        sent: bool,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::transport_as(endpoint, sent, None, source)
    }

    /// [`Error::transport`] with the class already known (`None`: read it off `source`).
    pub(crate) fn transport_as(
        endpoint: Arc<str>,
        sent: bool,
        failure: Option<NetworkFailure>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let failure = failure.unwrap_or_else(|| crate::net::classify_failure(&source));
        Self::new(Repr::Transport {
            endpoint,
            sent,
            failure,
            source: Arc::new(source),
        })
    }

    /// An answer that is not the JSON expected. `detail` must not quote the answer; see
    /// [`decode_detail`].
    pub(crate) fn decode(
        endpoint: Arc<str>,
        status: u16,
        correlation_id: Option<String>,
        detail: String,
    ) -> Self {
        Self::new(Repr::Decode {
            endpoint,
            status,
            correlation_id,
            detail,
        })
    }

    pub(crate) fn body_too_large(
        endpoint: Arc<str>,
        limit: usize,
        correlation_id: Option<String>,
    ) -> Self {
        Self::new(Repr::BodyTooLarge {
            endpoint,
            limit,
            correlation_id,
        })
    }

    pub(crate) fn invalid_state(
        resource: impl Into<String>,
        state: impl Into<String>,
        detail: Option<String>,
    ) -> Self {
        Self::new(Repr::InvalidState {
            resource: resource.into(),
            state: state.into(),
            detail,
        })
    }

    pub(crate) fn contract(what: impl Into<String>, problems: Vec<String>) -> Self {
        Self::new(Repr::Contract {
            what: what.into(),
            problems,
        })
    }

    /// A websocket failure; `sent` says whether the frame that failed may have arrived.
    pub(crate) fn websocket(endpoint: &str, message: impl Into<String>, sent: bool) -> Self {
        Self::new(Repr::WebSocket {
            endpoint: Arc::from(endpoint),
            message: message.into(),
            sent,
            failure: None,
            source: None,
        })
    }

    /// A websocket failure below the protocol, classified from `source`'s cause chain
    /// (unless `failure` says), which stays reachable through
    /// [`std::error::Error::source`]. `source` must not hold a URL or a value.
    pub(crate) fn websocket_network(
        endpoint: &str,
        message: impl Into<String>,
        sent: bool,
        failure: Option<NetworkFailure>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        let failure = failure.unwrap_or_else(|| crate::net::classify_failure(&source));
        Self::new(Repr::WebSocket {
            endpoint: Arc::from(endpoint),
            message: message.into(),
            sent,
            failure: Some(failure),
            source: Some(Arc::new(source)),
        })
    }

    /// A limit of this crate. `hint` says how to get past it.
    pub(crate) fn limit(resource: impl Into<String>, limit: usize, hint: &'static str) -> Self {
        Self::new(Repr::Limit {
            resource: resource.into(),
            limit,
            hint,
        })
    }

    pub(crate) fn not_found(resource: impl Into<String>) -> Self {
        Self::new(Repr::NotFound {
            resource: resource.into(),
        })
    }

    pub(crate) fn storage(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::new(Repr::Storage {
            what: what.into(),
            source: Arc::new(source),
            retryable: false,
        })
    }

    /// Local storage that is unreachable for now (the service's database down): the
    /// operation may succeed later.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn storage_unavailable(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::new(Repr::Storage {
            what: what.into(),
            source: Arc::new(source),
            retryable: true,
        })
    }

    pub(crate) fn closed(what: &'static str) -> Self {
        Self::new(Repr::Closed { what })
    }

    pub(crate) fn step_failed(
        operation: impl Into<String>,
        step: &'static str,
        cleanup: Option<String>,
        source: Error,
    ) -> Self {
        Self::new(Repr::Step {
            operation: operation.into(),
            step,
            cleanup,
            source,
        })
    }

    /// An error raised by your own code in one of the crate's extension points (an
    /// [`AttributeSink`](crate::guests::AttributeSink), a `CalendarSink`, an
    /// [`Auth`](crate::auth::Auth)), sorted by `kind` so the crate handles it as its own:
    /// [`Throttled`](ErrorKind::Throttled), [`Upstream`](ErrorKind::Upstream) and
    /// [`LocalLimit`](ErrorKind::LocalLimit) errors are retried later, others are not.
    ///
    /// Its `Display` is `source`'s: keep values and secrets out of it.
    ///
    /// ```
    /// use genesys_cloud::{Error, ErrorKind};
    ///
    /// let err = Error::custom(ErrorKind::Upstream, "the CRM answered 503");
    /// assert!(err.is_retryable());
    /// assert_eq!(err.to_string(), "the CRM answered 503");
    /// ```
    pub fn custom(
        kind: ErrorKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::new(Repr::Custom {
            kind,
            source: Arc::from(source.into()),
        })
    }

    // ---- what callers ask ----

    /// What kind of failure this is: what to do next.
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Repr::Validation(_) => ErrorKind::InvalidInput,
            Repr::Config(_) => ErrorKind::Configuration,
            Repr::Api(api) => api.kind(),
            Repr::RateLimited { .. } => ErrorKind::Throttled,
            Repr::Auth(auth) => auth.kind(),
            Repr::Timeout { .. } | Repr::Transport { .. } | Repr::WebSocket { .. } => {
                ErrorKind::Upstream
            }
            Repr::Decode { .. } | Repr::Contract { .. } => ErrorKind::Decode,
            Repr::BodyTooLarge { .. } | Repr::Limit { .. } => ErrorKind::LocalLimit,
            Repr::InvalidState { .. } => ErrorKind::Conflict,
            Repr::NotFound { .. } => ErrorKind::NotFound,
            Repr::Storage { .. } => ErrorKind::Storage,
            Repr::Closed { .. } => ErrorKind::Closed,
            Repr::Custom { kind, .. } => *kind,
            Repr::Step { source, .. } => source.kind(),
        }
    }

    /// Whether trying the same call again later may succeed (throttling, 5xx, timeouts,
    /// network failures, a local limit that frees up).
    ///
    /// The transport has already retried where that was safe; this is for callers that
    /// queue work for later (an outbox, a job runner).
    pub fn is_retryable(&self) -> bool {
        match &*self.inner {
            Repr::Api(api) => matches!(api.status, 408 | 429 | 500 | 502 | 503 | 504),
            Repr::Auth(auth) => auth.is_retryable(),
            Repr::Step { source, .. } => source.is_retryable(),
            Repr::Storage { retryable, .. } => *retryable,
            Repr::BodyTooLarge { .. } => false,
            _ => matches!(
                self.kind(),
                ErrorKind::Throttled | ErrorKind::Upstream | ErrorKind::LocalLimit
            ),
        }
    }

    /// Whether the request may have reached the platform (and so may have taken effect).
    ///
    /// `false` for validation, configuration, local limits and connect failures.
    pub fn may_have_been_sent(&self) -> bool {
        match &*self.inner {
            Repr::Validation(_)
            | Repr::Config(_)
            | Repr::Limit { .. }
            | Repr::NotFound { .. }
            | Repr::Storage { .. }
            | Repr::Closed { .. } => false,
            Repr::Custom { kind, .. } => !matches!(
                kind,
                ErrorKind::InvalidInput
                    | ErrorKind::Configuration
                    | ErrorKind::LocalLimit
                    | ErrorKind::Storage
                    | ErrorKind::Closed
            ),
            Repr::Transport { sent, .. }
            | Repr::WebSocket { sent, .. }
            | Repr::Timeout { sent, .. } => *sent,
            Repr::Auth(auth) => auth.was_answered(),
            Repr::Step { source, .. } => source.may_have_been_sent(),
            _ => true,
        }
    }

    /// The HTTP status the platform answered with, where there was one.
    pub fn status(&self) -> Option<u16> {
        match &*self.inner {
            Repr::Api(api) => Some(api.status),
            Repr::RateLimited { .. } => Some(429),
            Repr::Decode { status, .. } => Some(*status),
            Repr::Auth(auth) => auth.status(),
            Repr::Step { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The `ININ-Correlation-Id` of the answer, to quote to Genesys support.
    pub fn correlation_id(&self) -> Option<&str> {
        match &*self.inner {
            Repr::Api(api) => api.correlation_id.as_deref(),
            Repr::RateLimited { correlation_id, .. }
            | Repr::Decode { correlation_id, .. }
            | Repr::BodyTooLarge { correlation_id, .. } => correlation_id.as_deref(),
            Repr::Auth(AuthError::TokenRejected { correlation_id, .. }) => {
                correlation_id.as_deref()
            }
            Repr::Step { source, .. } => source.correlation_id(),
            _ => None,
        }
    }

    /// The endpoint that failed, as `METHOD /path/{template}` (never with ids or a query).
    pub fn endpoint(&self) -> Option<&str> {
        match &*self.inner {
            Repr::Api(api) => Some(&api.endpoint),
            Repr::RateLimited { endpoint, .. }
            | Repr::Timeout { endpoint, .. }
            | Repr::Transport { endpoint, .. }
            | Repr::Decode { endpoint, .. }
            | Repr::BodyTooLarge { endpoint, .. }
            | Repr::WebSocket { endpoint, .. } => Some(endpoint),
            Repr::Auth(AuthError::TokenRejected { endpoint, .. }) => Some(endpoint),
            Repr::Step { source, .. } => source.endpoint(),
            _ => None,
        }
    }

    /// How long the platform asked to wait (the last `Retry-After`, or a websocket's
    /// `retryAfter`), for throttled errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match &*self.inner {
            Repr::RateLimited { retry_after, .. } => *retry_after,
            Repr::Step { source, .. } => source.retry_after(),
            _ => None,
        }
    }

    /// Which time limit was hit, for timeouts.
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        match &*self.inner {
            Repr::Timeout { kind, .. } => Some(*kind),
            Repr::Step { source, .. } => source.timeout_kind(),
            _ => None,
        }
    }

    /// Every violated rule, when the request was refused before it was sent.
    pub fn validation(&self) -> Option<&ValidationError> {
        match &*self.inner {
            Repr::Validation(v) => Some(v),
            Repr::Step { source, .. } => source.validation(),
            _ => None,
        }
    }

    /// The platform's error answer (status, code, message, per-field details), when the
    /// platform answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match &*self.inner {
            Repr::Api(api) => Some(api),
            Repr::Step { source, .. } => source.api(),
            _ => None,
        }
    }

    /// What went wrong logging in or with the token, for [`ErrorKind::Unauthorized`]
    /// errors raised by the crate's own auth.
    pub fn auth(&self) -> Option<&AuthError> {
        match &*self.inner {
            Repr::Auth(auth) => Some(auth),
            Repr::Step { source, .. } => source.auth(),
            _ => None,
        }
    }

    /// Every problem found, when an answer broke its declared contract (a Data Action
    /// response that does not fit its success schema).
    pub fn contract_problems(&self) -> Option<&[String]> {
        match &*self.inner {
            Repr::Contract { problems, .. } => Some(problems),
            Repr::Step { source, .. } => source.contract_problems(),
            _ => None,
        }
    }

    /// The step that failed, when a multi-step operation (a widget deployment) failed.
    pub fn failed_step(&self) -> Option<&'static str> {
        match &*self.inner {
            Repr::Step { step, .. } => Some(step),
            _ => None,
        }
    }

    /// What was done to undo earlier steps of a failed multi-step operation, if anything.
    pub fn cleanup(&self) -> Option<&str> {
        match &*self.inner {
            Repr::Step { cleanup, .. } => cleanup.as_deref(),
            _ => None,
        }
    }

    /// The error a failed step of a multi-step operation ended with.
    pub fn step_error(&self) -> Option<&Error> {
        match &*self.inner {
            Repr::Step { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Whether this is a timeout (of an attempt, of the whole call, or of a wait).
    pub fn is_timeout(&self) -> bool {
        self.timeout_kind().is_some()
    }

    /// What failed below HTTP, when the request got no answer because of the network
    /// (DNS, a refused or timed-out connect, TLS, the proxy, a lost connection), also when
    /// that failure is the cause of a failed login or the last failure before a deadline.
    ///
    /// ```no_run
    /// # async fn run(client: genesys_cloud::Client) {
    /// use genesys_cloud::{Method, NetworkFailure};
    ///
    /// let err = client.request(Method::GET, "/api/v2/users/me").send::<serde_json::Value>().await.unwrap_err();
    /// if err.network_failure() == Some(NetworkFailure::Dns) {
    ///     eprintln!("check GENESYS_REGION: {err}");
    /// }
    /// # }
    /// ```
    pub fn network_failure(&self) -> Option<NetworkFailure> {
        match &*self.inner {
            Repr::Transport { failure, .. } => Some(*failure),
            Repr::WebSocket { failure, .. } => *failure,
            Repr::Timeout { last, .. } => last.as_ref().and_then(Error::network_failure),
            Repr::Auth(AuthError::LoginUnavailable { cause, .. }) => cause.network_failure(),
            Repr::Step { source, .. } => source.network_failure(),
            _ => None,
        }
    }
}

impl From<ValidationError> for Error {
    fn from(err: ValidationError) -> Self {
        Self::new(Repr::Validation(err))
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        Self::new(Repr::Api(err))
    }
}

impl From<AuthError> for Error {
    fn from(err: AuthError) -> Self {
        Self::new(Repr::Auth(err))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Repr::Validation(v) => v.fmt(f),
            Repr::Config(message) => write!(f, "invalid client configuration: {message}"),
            Repr::Api(api) => api.fmt(f),
            Repr::RateLimited {
                endpoint,
                attempts,
                retry_after,
                correlation_id,
            } => write!(
                f,
                "{endpoint}: rate limited by Genesys Cloud (429) after {attempts} attempt(s){}; slow down or raise the retry budget{}",
                RetryAfter(*retry_after),
                CorrelationSuffix(correlation_id.as_deref())
            ),
            Repr::Auth(auth) => auth.fmt(f),
            Repr::Timeout {
                endpoint,
                kind,
                limit,
                sent,
                last,
            } => {
                write!(f, "{endpoint}: {kind} of {limit:?} elapsed; ")?;
                match kind {
                    TimeoutKind::Wait => f.write_str("the platform had not finished")?,
                    _ if *sent => f.write_str("the request may have been processed")?,
                    _ => f.write_str("the request was not sent")?,
                }
                match last {
                    Some(last) => write!(f, "; last failure: {last}"),
                    None => Ok(()),
                }
            }
            Repr::Transport {
                endpoint,
                sent,
                failure,
                source,
            } => {
                let cause = crate::net::root_message(&**source);
                if *sent {
                    write!(
                        f,
                        "{endpoint}: {failure} after the request was sent ({cause}); it may have been processed"
                    )
                } else {
                    write!(
                        f,
                        "{endpoint}: could not connect: {failure} ({cause}); the request was not sent"
                    )
                }
            }
            Repr::Decode {
                endpoint,
                status,
                correlation_id,
                detail,
            } => write!(
                f,
                "{endpoint}: could not decode the {status} response body: {detail}{}",
                CorrelationSuffix(correlation_id.as_deref())
            ),
            Repr::BodyTooLarge {
                endpoint,
                limit,
                correlation_id,
            } => write!(
                f,
                "{endpoint}: response body exceeds the {limit}-byte limit; raise ClientBuilder::max_response_body if this is expected{}",
                CorrelationSuffix(correlation_id.as_deref())
            ),
            Repr::InvalidState {
                resource,
                state,
                detail,
            } => write!(f, "{resource} is {state}{}", DescriptionSuffix(detail.as_deref())),
            Repr::Contract { what, problems } => {
                write!(f, "{what} breaks its contract: {}", problems.join("; "))
            }
            Repr::WebSocket {
                endpoint,
                message,
                failure,
                source,
                ..
            } => {
                write!(f, "{endpoint}: websocket failed: {message}")?;
                match (failure, source) {
                    (Some(failure), Some(source)) => write!(
                        f,
                        " ({failure}: {})",
                        crate::net::root_message(&**source)
                    ),
                    _ => Ok(()),
                }
            }
            Repr::Limit {
                resource,
                limit,
                hint,
            } => write!(f, "{resource}: the limit of {limit} is reached; {hint}"),
            Repr::NotFound { resource } => write!(f, "not found: {resource}"),
            Repr::Storage { what, source, .. } => write!(f, "{what}: {source}"),
            Repr::Closed { what } => write!(f, "{what} has been shut down"),
            Repr::Custom { source, .. } => source.fmt(f),
            Repr::Step {
                operation,
                step,
                cleanup,
                source,
            } => write!(
                f,
                "{operation} failed at step `{step}`{}: {source}",
                CleanupSuffix(cleanup.as_deref())
            ),
        }
    }
}

impl fmt::Debug for Error {
    /// The kind, the status and the `Display` text: nothing a secret or a value could be in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind());
        if let Some(status) = self.status() {
            d.field("status", &status);
        }
        if let Some(id) = self.correlation_id() {
            d.field("correlation_id", &id);
        }
        d.field("message", &self.to_string());
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Repr::Validation(v) => Some(v),
            Repr::Api(api) => Some(api),
            Repr::Auth(auth) => Some(auth),
            Repr::Transport { source, .. }
            | Repr::Storage { source, .. }
            | Repr::Custom { source, .. } => Some(&**source),
            Repr::WebSocket {
                source: Some(source),
                ..
            } => Some(&**source),
            Repr::Timeout {
                last: Some(last), ..
            } => Some(last),
            Repr::Step { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An error answer from the Platform API.
///
/// `Display` names the endpoint, status, the platform's code, its message template
/// (`messageWithParams`, whose `{placeholders}` stand where values were) and the fields
/// concerned. The message itself can quote what was sent, so it is only returned by
/// [`ApiError::message`], never shown by `Display` or `Debug`.
#[derive(Clone)]
pub struct ApiError {
    endpoint: Arc<str>,
    status: u16,
    correlation_id: Option<String>,
    body: Option<ErrorBody>,
}

impl ApiError {
    pub(crate) fn new(
        endpoint: Arc<str>,
        status: u16,
        correlation_id: Option<String>,
        body: Option<ErrorBody>,
    ) -> Self {
        Self {
            endpoint,
            status,
            correlation_id,
            body,
        }
    }

    /// What a caller does with this status.
    fn kind(&self) -> ErrorKind {
        match self.status {
            401 | 403 => ErrorKind::Unauthorized,
            404 | 410 => ErrorKind::NotFound,
            409 | 412 => ErrorKind::Conflict,
            429 => ErrorKind::Throttled,
            400..=499 if self.status != 408 => ErrorKind::InvalidInput,
            _ => ErrorKind::Upstream,
        }
    }

    /// The endpoint, as `METHOD /path/{template}`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `ININ-Correlation-Id` response header.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// The platform's error code, e.g. `bad.request` or `not.found`.
    pub fn code(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.code.as_deref())
    }

    /// The platform's human-readable message. It may quote values that were sent (ids,
    /// attribute values): do not log it where values must not go.
    pub fn message(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.message.as_deref())
    }

    /// The message with `{placeholders}` where the values were, safe to log.
    pub fn message_template(&self) -> Option<&str> {
        self.body
            .as_ref()
            .and_then(|b| b.message_with_params.as_deref())
    }

    /// The platform's error body, when it sent one in its usual shape.
    pub fn body(&self) -> Option<&ErrorBody> {
        self.body.as_ref()
    }

    /// The fields the platform found fault with (`details[].fieldName`).
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.body
            .iter()
            .flat_map(|b| b.details.iter())
            .filter_map(|d| d.field_name.as_deref())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: Genesys Cloud answered {}",
            self.endpoint, self.status
        )?;
        if let Some(code) = self.code() {
            write!(f, " {code}")?;
        }
        if let Some(template) = self.message_template() {
            write!(f, ": {template}")?;
        }
        if (300..400).contains(&self.status) {
            f.write_str(" (a redirect, not followed: the Platform API does not redirect; check the base URL or proxy)")?;
        }
        if let Some(body) = &self.body {
            for detail in &body.details {
                if let Some(field) = &detail.field_name {
                    write!(f, "; field `{field}`")?;
                    if let Some(code) = &detail.error_code {
                        write!(f, " ({code})")?;
                    }
                }
            }
        }
        write!(f, "{}", CorrelationSuffix(self.correlation_id.as_deref()))
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("endpoint", &self.endpoint)
            .field("status", &self.status)
            .field("code", &self.code())
            .field("message_template", &self.message_template())
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for ApiError {}

/// The Platform API's error body (`ErrorBody` in Genesys's SDKs).
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Human-readable message (may quote values that were sent).
    pub message: Option<String>,
    /// Machine-readable code, e.g. `bad.request`.
    pub code: Option<String>,
    /// HTTP status, repeated in the body.
    pub status: Option<u16>,
    /// The entity the error is about.
    pub entity_id: Option<String>,
    /// The entity's name.
    pub entity_name: Option<String>,
    /// The message template with `{placeholders}`.
    pub message_with_params: Option<String>,
    /// Values for the placeholders.
    pub message_params: std::collections::BTreeMap<String, String>,
    /// The platform's request id.
    pub context_id: Option<String>,
    /// Per-field details.
    pub details: Vec<ErrorDetail>,
    /// Nested errors.
    pub errors: Vec<ErrorBody>,
}

impl fmt::Debug for ErrorBody {
    /// Leaves out `message`, `messageParams` and `entityName`, which may hold values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorBody")
            .field("code", &self.code)
            .field("status", &self.status)
            .field("message_with_params", &self.message_with_params)
            .field("entity_id", &self.entity_id)
            .field("context_id", &self.context_id)
            .field("details", &self.details)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// One per-field detail inside an [`ErrorBody`]. Its `Debug` leaves out `entity_name`,
/// which may hold a value.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub error_code: Option<String>,
    /// The offending field.
    pub field_name: Option<String>,
    /// The entity concerned.
    pub entity_id: Option<String>,
    /// The entity's name.
    pub entity_name: Option<String>,
}

impl fmt::Debug for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorDetail")
            .field("error_code", &self.error_code)
            .field("field_name", &self.field_name)
            .field("entity_id", &self.entity_id)
            .finish_non_exhaustive()
    }
}

/// Logging in failed, or the platform refused a fresh token.
///
/// Never contains the client secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The login service refused the client credentials grant.
    #[error("login refused ({status} {error}){}: check the OAuth client id and secret, and that the client uses the Client Credentials grant", DescriptionSuffix(description.as_deref()))]
    CredentialsRejected {
        /// HTTP status of the login answer (400, 401 or 403).
        status: u16,
        /// The OAuth `error` code, e.g. `invalid_client`.
        error: String,
        /// The login service's `error_description`.
        description: Option<String>,
    },

    /// The API answered 401 to a token that had just been refreshed.
    #[error("{endpoint}: Genesys Cloud rejected a freshly issued access token (401 twice); check the OAuth client's roles and organization{}", CorrelationSuffix(correlation_id.as_deref()))]
    TokenRejected {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// The `ININ-Correlation-Id` of the second 401.
        correlation_id: Option<String>,
    },

    /// The login service answered 2xx with a body that is not a token.
    #[error("the login service's token answer is unusable: {reason}")]
    InvalidTokenResponse {
        /// What was wrong with it.
        reason: String,
    },

    /// No valid token is cached and the login service cannot issue one now (it fails,
    /// times out or is unreachable); `cause` is the last failure, and its cause chain
    /// (down to the network failure) is this error's [`source`](std::error::Error::source).
    #[error(
        "no valid access token: the login service failed ({cause}); calls resume once it answers"
    )]
    LoginUnavailable {
        /// The last failure of the token request.
        #[source]
        cause: Error,
        /// Whether the cause may be retried (5xx, network) rather than a refusal.
        retryable: bool,
    },

    /// A custom [`Auth`](crate::auth::Auth) implementation could not produce a token.
    #[error("no access token available: {0}")]
    Unavailable(String),
}

impl AuthError {
    fn kind(&self) -> ErrorKind {
        match self {
            AuthError::InvalidTokenResponse { .. } => ErrorKind::Decode,
            AuthError::LoginUnavailable {
                retryable: true, ..
            } => ErrorKind::Upstream,
            _ => ErrorKind::Unauthorized,
        }
    }

    fn is_retryable(&self) -> bool {
        matches!(
            self,
            AuthError::Unavailable(_)
                | AuthError::LoginUnavailable {
                    retryable: true,
                    ..
                }
        )
    }

    /// Whether the API request this error ended was never sent.
    fn was_answered(&self) -> bool {
        matches!(self, AuthError::TokenRejected { .. })
    }

    fn status(&self) -> Option<u16> {
        match self {
            AuthError::CredentialsRejected { status, .. } => Some(*status),
            AuthError::TokenRejected { .. } => Some(401),
            _ => None,
        }
    }
}

/// What serde found wrong with an answer, without the value it found: the field path, the
/// kind of value found and what was expected, and where in the body.
///
/// serde's own messages quote the offending value (`invalid type: string "…", expected
/// u64`); answers can hold personal data, so only the parts that come from this crate's
/// types (field names, expected types) are kept.
pub(crate) fn decode_detail(path: &str, err: &serde_json::Error) -> String {
    let message = err.to_string();
    // serde_json appends " at line L column C"; it is re-added from the error itself.
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    let reason = match err.classify() {
        serde_json::error::Category::Data => describe_data_error(message),
        // Syntax and EOF messages describe the JSON grammar, never its content.
        _ => message.to_owned(),
    };
    let location = format!("line {} column {}", err.line(), err.column());
    if path.is_empty() || path == "." {
        format!("{reason} ({location})")
    } else {
        format!("at `{path}`: {reason} ({location})")
    }
}

fn describe_data_error(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = match rest.rfind(", expected ") {
                Some(i) => (&rest[..i], Some(&rest[i + ", expected ".len()..])),
                None => (rest, None),
            };
            // `string "abc"`, `integer `5``: keep the kind, drop the quoted value.
            let found = found
                .split(['"', '`', '\''])
                .next()
                .unwrap_or_default()
                .trim();
            let found = if found.is_empty() { "a value" } else { found };
            return match expected {
                Some(expected) => format!("{prefix}{found}, expected {expected}"),
                None => format!("{prefix}{found}"),
            };
        }
    }
    if message.starts_with("unknown variant ") {
        return match message.find(", expected ") {
            Some(i) => format!("unknown variant{}", &message[i..]),
            None => "unknown variant".to_owned(),
        };
    }
    for keep in [
        "missing field ",
        "duplicate field ",
        "unknown field ",
        "invalid length ",
    ] {
        if message.starts_with(keep) {
            return message.to_owned();
        }
    }
    // A type's own message (a timestamp or UUID parser ...) may quote its input.
    "invalid value".to_owned()
}

struct CorrelationSuffix<'a>(Option<&'a str>);

impl fmt::Display for CorrelationSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (correlation id {id})"),
            None => Ok(()),
        }
    }
}

struct CleanupSuffix<'a>(Option<&'a str>);

impl fmt::Display for CleanupSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(c) => write!(f, " ({c})"),
            None => Ok(()),
        }
    }
}

struct DescriptionSuffix<'a>(Option<&'a str>);

impl fmt::Display for DescriptionSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, ": {d}"),
            None => Ok(()),
        }
    }
}

struct RetryAfter(Option<Duration>);

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, " (last Retry-After: {}s)", d.as_secs_f64()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Result<T, Error> is returned everywhere; keep it one pointer.
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    fn api(status: u16, body: serde_json::Value) -> ApiError {
        ApiError::new(
            Arc::from("PATCH /api/v2/x/{id}"),
            status,
            Some("c-1".into()),
            Some(serde_json::from_value(body).unwrap()),
        )
    }

    #[test]
    fn api_error_display_names_endpoint_code_template_field_and_correlation() {
        let err = api(
            400,
            serde_json::json!({
                "message": "Invalid value 'alice@example.com' for attributes.x",
                "messageWithParams": "Invalid value {value} for {field}",
                "messageParams": {"value": "alice@example.com", "field": "attributes.x"},
                "code": "bad.request", "status": 400,
                "details": [{"errorCode": "too.long", "fieldName": "attributes.x"}]
            }),
        );
        assert_eq!(
            err.to_string(),
            "PATCH /api/v2/x/{id}: Genesys Cloud answered 400 bad.request: Invalid value {value} for {field}; field `attributes.x` (too.long) (correlation id c-1)"
        );
        let err = Error::from(err);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let shown = format!("{err} {err:?} {:?}", err.api().unwrap());
        assert!(!shown.contains("alice@example.com"), "{shown}");
        assert_eq!(
            err.api().unwrap().message(),
            Some("Invalid value 'alice@example.com' for attributes.x")
        );
    }

    #[test]
    fn every_status_sorts_into_a_kind() {
        let kind = |status| Error::from(api(status, serde_json::json!({}))).kind();
        assert_eq!(kind(400), ErrorKind::InvalidInput);
        assert_eq!(kind(401), ErrorKind::Unauthorized);
        assert_eq!(kind(403), ErrorKind::Unauthorized);
        assert_eq!(kind(404), ErrorKind::NotFound);
        assert_eq!(kind(408), ErrorKind::Upstream);
        assert_eq!(kind(409), ErrorKind::Conflict);
        assert_eq!(kind(429), ErrorKind::Throttled);
        assert_eq!(kind(500), ErrorKind::Upstream);
        assert_eq!(kind(503), ErrorKind::Upstream);
        assert_eq!(
            Error::not_found("guest session s-1").kind(),
            ErrorKind::NotFound,
            "one not-found shape, local or remote"
        );
        assert_eq!(
            Error::limit("callbacks on queue q", 5, "retry later").kind(),
            ErrorKind::LocalLimit
        );
    }

    #[test]
    fn decode_details_name_the_path_and_types_never_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Page {
            total: u64,
        }
        let cases = [
            (
                r#"{"total": "secret-value-1"}"#,
                "invalid type: string, expected u64",
            ),
            (r#"{"total": -5}"#, "invalid value: integer, expected u64"),
            (r#"{"totl": 1}"#, "missing field `total`"),
        ];
        for (body, want) in cases {
            let err = serde_json::from_str::<Page>(body).unwrap_err();
            let detail = decode_detail("total", &err);
            assert!(detail.contains(want), "{detail}");
            assert!(
                !detail.contains("secret-value-1") && !detail.contains("-5"),
                "{detail}"
            );
            assert!(detail.contains("line 1 column"), "{detail}");
        }
        let err = serde_json::from_str::<jiff::Timestamp>(r#""not-a-time-secret""#).unwrap_err();
        let detail = decode_detail("", &err);
        assert!(!detail.contains("secret"), "{detail}");
    }
}
