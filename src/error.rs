//! The crate's one error type, classified by what happened on the wire.
//!
//! | variant | sent? | what to do |
//! |---|---|---|
//! | [`Error::Validation`] | never sent | fix the listed fields |
//! | [`Error::Config`] | never sent | fix the client configuration |
//! | [`Error::Api`] | sent, the service said no | read `status`/`code`; 5xx may be retried later |
//! | [`Error::RateLimited`] | sent, throttled past the retry budget | wait `retry_after`, lower the request rate |
//! | [`Error::Auth`] | login or token refused | check the OAuth client and its roles |
//! | [`Error::Timeout`] | may have been sent | retry only if the call is idempotent |
//! | [`Error::Transport`] | see [`Error::may_have_been_sent`] | network trouble |
//! | [`Error::Decode`] / [`Error::BodyTooLarge`] | sent and answered | the answer was unusable |

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

pub use crate::validation::ValidationError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to Genesys Cloud.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request broke one or more rules and was never sent.
    #[error(transparent)]
    Validation(#[from] ValidationError),

    /// The client was configured wrongly (bad URL, missing credentials, bad region ...).
    #[error("invalid client configuration: {0}")]
    Config(String),

    /// Genesys Cloud answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// Genesys Cloud kept answering 429 until the retry budget ran out.
    #[error("{endpoint}: rate limited by Genesys Cloud (429) after {attempts} attempt(s){}; slow down or raise the retry budget", RetryAfter(*retry_after))]
    RateLimited {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last `Retry-After` the platform sent, if any.
        retry_after: Option<Duration>,
        /// The `ININ-Correlation-Id` of the last answer.
        correlation_id: Option<String>,
    },

    /// Logging in, or using the token, failed.
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// An attempt, the whole call, or a wait for the platform took too long.
    #[error("{endpoint}: {kind} of {limit:?} elapsed; {}", kind.consequence())]
    Timeout {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// Which limit was hit.
        kind: TimeoutKind,
        /// The limit that was hit.
        limit: Duration,
    },

    /// The HTTP exchange failed below the HTTP status level (DNS, connect, reset, TLS ...).
    #[error("{endpoint}: {}: {source}", if *.sent { "connection failed after the request was sent" } else { "could not connect" })]
    Transport {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// `false` when the request certainly never left (connect failure).
        sent: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// The answer was not the JSON the endpoint documents.
    #[error("{endpoint}: could not decode the {status} response body: {source}{}", CorrelationSuffix(correlation_id.as_deref()))]
    Decode {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// HTTP status of the answer.
        status: u16,
        /// The `ININ-Correlation-Id` of the answer.
        correlation_id: Option<String>,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },

    /// The platform reports a resource in a state that ends the operation (e.g. an
    /// integration in `ERROR`).
    #[error("{resource} is {state}{}", DescriptionSuffix(detail.as_deref()))]
    InvalidState {
        /// What is in that state.
        resource: String,
        /// The state.
        state: String,
        /// The platform's explanation, if any.
        detail: Option<String>,
    },

    /// An answer broke the contract it must meet (e.g. a Data Action's response does not
    /// translate into its success schema). Not retried: the same answer would fail again.
    #[error("{what} breaks its contract: {}", problems.join("; "))]
    Contract {
        /// What broke it, e.g. `the response of data action "Lookup"`.
        what: String,
        /// Every problem found.
        problems: Vec<String>,
    },

    /// A websocket could not be opened or failed.
    #[error("{endpoint}: websocket failed: {message}")]
    WebSocket {
        /// What the socket was for, e.g. `notifications channel`.
        endpoint: String,
        /// What went wrong.
        message: String,
    },

    /// A client-side limit is reached and the caller asked not to wait.
    #[error(
        "{resource}: the limit of {limit} in flight is reached; retry later or let callers wait"
    )]
    LimitReached {
        /// What is limited, e.g. `callbacks on queue …`.
        resource: String,
        /// The limit.
        limit: usize,
    },

    /// The platform answered, but what was asked for is not there (e.g. a participant
    /// that is not in the conversation).
    #[error("not found: {resource}")]
    NotFound {
        /// What was looked for.
        resource: String,
    },

    /// One step of a multi-step operation (a deployment, a publish ...) failed.
    #[error("{operation} failed at step `{step}`{}: {source}", CleanupSuffix(cleanup.as_deref()))]
    StepFailed {
        /// The operation, e.g. `deploy widget "Agent Dashboard"`.
        operation: String,
        /// The step that failed, e.g. `configure`.
        step: &'static str,
        /// What was done to undo earlier steps, if anything.
        cleanup: Option<String>,
        /// Why the step failed.
        #[source]
        source: Box<Error>,
    },

    /// The answer was larger than the configured response body limit.
    #[error("{endpoint}: response body exceeds the {limit}-byte limit; raise ClientBuilder::max_response_body if this is expected{}", CorrelationSuffix(correlation_id.as_deref()))]
    BodyTooLarge {
        /// The endpoint, as `METHOD /path/{template}`.
        endpoint: String,
        /// The configured limit in bytes.
        limit: usize,
        /// The `ININ-Correlation-Id` of the answer.
        correlation_id: Option<String>,
    },
}

impl Error {
    /// Whether trying the same call again later may succeed
    /// (throttling, 5xx, timeouts, network failures).
    ///
    /// The transport has already retried where that was safe; this is for callers
    /// that queue work for later (an outbox, a job runner).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::WebSocket { .. }
            | Error::LimitReached { .. } => true,
            Error::Api(api) => matches!(api.status, 408 | 429 | 500 | 502 | 503 | 504),
            Error::Auth(auth) => auth.is_retryable(),
            Error::StepFailed { source, .. } => source.is_retryable(),
            Error::Validation(_)
            | Error::Config(_)
            | Error::Decode { .. }
            | Error::NotFound { .. }
            | Error::InvalidState { .. }
            | Error::Contract { .. }
            | Error::BodyTooLarge { .. } => false,
        }
    }

    /// The HTTP status the platform answered with, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::RateLimited { .. } => Some(429),
            Error::Decode { status, .. } => Some(*status),
            Error::Auth(auth) => auth.status(),
            Error::StepFailed { source, .. } => source.status(),
            _ => None,
        }
    }

    /// The `ININ-Correlation-Id` of the answer, to quote to Genesys support.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.correlation_id.as_deref(),
            Error::RateLimited { correlation_id, .. }
            | Error::Decode { correlation_id, .. }
            | Error::BodyTooLarge { correlation_id, .. } => correlation_id.as_deref(),
            Error::Auth(AuthError::TokenRejected { correlation_id, .. }) => {
                correlation_id.as_deref()
            }
            Error::StepFailed { source, .. } => source.correlation_id(),
            _ => None,
        }
    }

    /// Whether the request may have reached the platform (and so may have taken effect).
    ///
    /// `false` for validation, configuration and connect failures.
    pub fn may_have_been_sent(&self) -> bool {
        match self {
            Error::Validation(_) | Error::Config(_) => false,
            Error::Transport { sent, .. } => *sent,
            Error::StepFailed { source, .. } => source.may_have_been_sent(),
            _ => true,
        }
    }

    /// The platform's error answer, when this is an [`Error::Api`] (also inside a
    /// [`Error::StepFailed`]).
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            Error::StepFailed { source, .. } => source.as_api(),
            _ => None,
        }
    }

    /// The failed step's name, when this is an [`Error::StepFailed`].
    pub fn failed_step(&self) -> Option<&'static str> {
        match self {
            Error::StepFailed { step, .. } => Some(step),
            _ => None,
        }
    }

    /// The validation failure, when this is an [`Error::Validation`].
    pub fn as_validation(&self) -> Option<&ValidationError> {
        match self {
            Error::Validation(v) => Some(v),
            _ => None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(err: ApiError) -> Self {
        Error::Api(Box::new(err))
    }
}

/// Which time limit a [`Error::Timeout`] hit.
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

impl TimeoutKind {
    fn consequence(self) -> &'static str {
        match self {
            TimeoutKind::Attempt | TimeoutKind::Deadline => "the request may have been processed",
            TimeoutKind::Wait => "the platform had not finished",
        }
    }
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

/// An error answer from the Platform API.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The endpoint, as `METHOD /path/{template}`.
    pub endpoint: String,
    /// HTTP status.
    pub status: u16,
    /// The `ININ-Correlation-Id` response header.
    pub correlation_id: Option<String>,
    /// The platform's error body, when it sent one in its usual shape.
    pub body: Option<ErrorBody>,
}

impl ApiError {
    /// The platform's error code, e.g. `bad.request` or `not.found`.
    pub fn code(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.code.as_deref())
    }

    /// The platform's human-readable message.
    pub fn message(&self) -> Option<&str> {
        self.body.as_ref().and_then(|b| b.message.as_deref())
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
        if let Some(message) = self.message() {
            write!(f, ": {message}")?;
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

impl std::error::Error for ApiError {}

/// The Platform API's error body (`ErrorBody` in Genesys's SDKs).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Human-readable message.
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

/// One per-field detail inside an [`ErrorBody`].
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
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

/// Logging in failed, or the platform refused a fresh token.
///
/// Never contains the client secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The login service refused the client credentials grant.
    #[error("login refused ({status} {error}){}: check the OAuth client id and secret, and that the client uses the Client Credentials grant", DescriptionSuffix(description.as_deref()))]
    CredentialsRejected {
        /// HTTP status of the login answer (400 or 401).
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

    /// A custom [`Auth`](crate::auth::Auth) implementation could not produce a token.
    #[error("no access token available: {0}")]
    Unavailable(String),
}

impl AuthError {
    fn is_retryable(&self) -> bool {
        matches!(self, AuthError::Unavailable(_))
    }

    fn status(&self) -> Option<u16> {
        match self {
            AuthError::CredentialsRejected { status, .. } => Some(*status),
            AuthError::TokenRejected { .. } => Some(401),
            _ => None,
        }
    }
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
        // Result<T, Error> is returned everywhere; keep it cheap to move.
        assert!(
            std::mem::size_of::<Error>() <= 96,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn api_error_display_names_endpoint_code_field_and_correlation() {
        let body: ErrorBody = serde_json::from_value(serde_json::json!({
            "message": "Invalid value", "code": "bad.request", "status": 400,
            "details": [{"errorCode": "too.long", "fieldName": "attributes.x"}]
        }))
        .unwrap();
        let err = ApiError {
            endpoint: "PATCH /api/v2/x/{id}".into(),
            status: 400,
            correlation_id: Some("c-1".into()),
            body: Some(body),
        };
        assert_eq!(
            err.to_string(),
            "PATCH /api/v2/x/{id}: Genesys Cloud answered 400 bad.request: Invalid value; field `attributes.x` (too.long) (correlation id c-1)"
        );
    }
}
