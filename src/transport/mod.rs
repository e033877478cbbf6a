//! The one place HTTP is sent.
//!
//! Every call goes through one send loop: the client-side rate limit, the bearer token,
//! per-attempt timeouts, retries with backoff (honouring `Retry-After`), one replay after
//! a 401 with a fresh token, a capped body read, a `genesys.request` tracing span
//! (method, path template, status, attempt, correlation id; never a token) and metrics.
//! Domain modules describe requests as values and never retry or sleep themselves.
//!
//! What is public here are the knobs ([`RetryPolicy`], [`RateLimit`]) and the raw
//! [`Response`]; calls are made through [`Client::request`](crate::Client::request) or
//! the flow modules.

mod budget;
pub(crate) mod path;
pub(crate) mod poll;
mod rate_limit;
pub(crate) mod request;
mod response;
mod retry;
pub(crate) use retry::endless_backoff;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use tracing::{field, Instrument};
use url::Url;

use crate::auth::{AccessToken, Auth};
use crate::clock::Clock;
use crate::error::{AuthError, Error, TimeoutKind};
use crate::observe::metrics::HttpMetrics;

pub use budget::RetryBudget;
pub use poll::PollPolicy;
pub use rate_limit::RateLimit;
pub(crate) use request::{ApiRequest, Body};
pub use response::{Response, CORRELATION_ID_HEADER};
pub use retry::RetryPolicy;
use retry::RetryReason;

/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("genesys-cloud-rust/", env!("CARGO_PKG_VERSION"));

/// Time and size limits of the transport. Set through [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    /// One attempt: connecting, sending and reading the whole answer. Backoff waits do
    /// not count against it.
    pub(crate) attempt_timeout: Duration,
    /// The whole call: every attempt and every wait between them.
    pub(crate) deadline: Option<Duration>,
    /// Answers with a larger body fail with a local-limit error.
    pub(crate) max_response_body: usize,
    pub(crate) retry: RetryPolicy,
    pub(crate) budget: RetryBudget,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(30),
            deadline: Some(Duration::from_secs(180)),
            max_response_body: 16 * 1024 * 1024,
            retry: RetryPolicy::default(),
            budget: RetryBudget::default(),
        }
    }
}

/// How an attempt proves who it is.
pub(crate) enum Credentials<'a> {
    /// A bearer token from an [`Auth`]; a 401 is answered by one refresh and replay.
    Bearer(&'a dyn Auth),
    /// HTTP Basic, used for the OAuth token request.
    Basic {
        username: &'a str,
        password: &'a SecretString,
    },
    /// No credentials: calls to systems other than Genesys Cloud.
    None,
}

/// The HTTP machinery shared by the API transport and the token client.
#[derive(Debug)]
pub(crate) struct HttpCore {
    pub(crate) http: reqwest::Client,
    pub(crate) config: TransportConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) metrics: HttpMetrics,
    budget: budget::BudgetState,
}

/// What one attempt ended with, before the retry decision.
enum Attempt {
    Answered(Response),
    Failed(AttemptFailure),
}

enum AttemptFailure {
    Connect(reqwest::Error),
    Lost(reqwest::Error),
    Timeout,
    /// The call's overall deadline passed during the attempt: the call's error.
    Deadline(Error),
    TooLarge {
        correlation_id: Option<String>,
    },
}

/// The call's overall deadline: when it passes and how long it was.
#[derive(Clone, Copy)]
struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// `work`, unless the deadline passes first. Only for the waits around an attempt
    /// (rate limit, token, backoff): the attempt itself has one timer for both bounds.
    async fn bound<T>(
        deadline: Option<Deadline>,
        req: &ApiRequest,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match deadline {
            None => work.await,
            Some(d) => match tokio::time::timeout_at(d.at, work).await {
                Ok(result) => result,
                Err(_) => Err(d.error(req)),
            },
        }
    }

    fn error(&self, req: &ApiRequest) -> Error {
        Error::timeout(req.endpoint(), TimeoutKind::Deadline, self.limit)
    }
}

impl HttpCore {
    pub(crate) fn new(
        http: reqwest::Client,
        config: TransportConfig,
        clock: Arc<dyn Clock>,
        rate_limit: Option<RateLimit>,
        metrics: HttpMetrics,
    ) -> Self {
        Self {
            budget: budget::BudgetState::new(config.budget.clone()),
            http,
            config,
            clock,
            rate_limit,
            metrics,
        }
    }

    /// Sends `req` to `base`, retrying as the policy and the client's retry budget allow,
    /// and returns the final answer whatever its status (after retries for 429 and 5xx
    /// ran out, that answer is the last one). Errors are the failures that left no answer
    /// to return.
    pub(crate) async fn send(
        &self,
        base: &Url,
        req: &ApiRequest,
        credentials: Credentials<'_>,
    ) -> Result<Response, Error> {
        let span = tracing::debug_span!(
            "genesys.request",
            method = %req.method,
            path = %req.template,
            status = field::Empty,
            attempt = field::Empty,
            correlation_id = field::Empty,
        );
        let started = Instant::now();
        let traced = !span.is_disabled();
        // No timer around the whole call: each wait checks the deadline itself, so that an
        // attempt runs under one timer (attempt timeout and deadline together), not two.
        let deadline = self.config.deadline.map(|limit| Deadline {
            at: tokio::time::Instant::now() + limit,
            limit,
        });
        let work = self.send_with_retries(base, req, &credentials, deadline, traced);
        // The span wraps the call only when a subscriber wants it: the wrapper costs a
        // move of the whole future and an enter/exit per poll.
        let result = if traced {
            work.instrument(span.clone()).await
        } else {
            work.await
        };
        let succeeded = matches!(&result, Ok(r) if r.is_success());
        self.metrics.record_call(succeeded, started.elapsed());
        if let Err(err) = &result {
            span.in_scope(|| tracing::debug!(error = %err, "request failed"));
        }
        result
    }

    async fn send_with_retries(
        &self,
        base: &Url,
        req: &ApiRequest,
        credentials: &Credentials<'_>,
        deadline: Option<Deadline>,
        traced: bool,
    ) -> Result<Response, Error> {
        let url = join(base, req);
        let policy = &self.config.retry;
        // Built at the first retry: most calls never need it.
        let mut backoff = None;
        let first_attempt = self.clock.now();
        let mut attempts: u32 = 0;
        let mut replayed_after_401 = false;
        let mut last_retry_after = None;
        let mut budget_spent: u32 = 0;
        let span = tracing::Span::current();

        loop {
            attempts = attempts.saturating_add(1);
            if traced {
                span.record("attempt", attempts);
            }
            // The quota is the org's API limit; token requests are limited separately.
            if let (Some(limit), Credentials::Bearer(_)) = (&self.rate_limit, credentials) {
                Deadline::bound(deadline, req, async {
                    limit.until_ready().await;
                    Ok(())
                })
                .await?;
            }
            let token = match credentials {
                Credentials::Bearer(auth) => Some(match auth.current_token() {
                    Some(token) => token,
                    None => Deadline::bound(deadline, req, auth.token()).await?,
                }),
                Credentials::Basic { .. } | Credentials::None => None,
            };
            self.metrics.attempts.inc();
            let outcome = self
                .attempt(&url, req, credentials, token.as_ref(), deadline)
                .await;

            let (reason, hint, last) = match outcome {
                Attempt::Answered(resp) => {
                    if traced {
                        span.record("status", resp.status);
                        if let Some(id) = resp.correlation_id() {
                            span.record("correlation_id", id);
                        }
                    }
                    match resp.status {
                        401 => {
                            let (Credentials::Bearer(auth), Some(token)) = (credentials, &token)
                            else {
                                return Ok(resp);
                            };
                            if replayed_after_401 || !auth.can_refresh() {
                                return Err(AuthError::TokenRejected {
                                    endpoint: req.endpoint().to_string(),
                                    correlation_id: resp.correlation_id().map(str::to_owned),
                                }
                                .into());
                            }
                            tracing::debug!("401: refreshing the access token and replaying once");
                            self.metrics.token_rejections.inc();
                            auth.token_rejected(token).await;
                            replayed_after_401 = true;
                            attempts -= 1;
                            continue;
                        }
                        429 => {
                            self.metrics.rate_limited.inc();
                            let hint = retry::retry_after(&resp.headers)
                                .map(|wait| wait.min(policy.max_retry_after));
                            last_retry_after = hint.or(last_retry_after);
                            (RetryReason::RateLimited, hint, Ok(resp))
                        }
                        status @ (502..=504) if req.idempotent => {
                            (RetryReason::ServerUnavailable(status), None, Ok(resp))
                        }
                        _ => {
                            if resp.is_success() {
                                self.budget.succeeded(budget_spent);
                            }
                            return Ok(resp);
                        }
                    }
                }
                Attempt::Failed(AttemptFailure::Connect(source)) => (
                    RetryReason::Connect,
                    None,
                    Err(Error::transport(req.endpoint(), false, source)),
                ),
                Attempt::Failed(AttemptFailure::Lost(source)) => {
                    let err = Error::transport(req.endpoint(), true, source);
                    if !req.idempotent {
                        return Err(err);
                    }
                    (RetryReason::ConnectionLost, None, Err(err))
                }
                Attempt::Failed(AttemptFailure::Timeout) => {
                    let err = Error::timeout(
                        req.endpoint(),
                        TimeoutKind::Attempt,
                        req.attempt_timeout.unwrap_or(self.config.attempt_timeout),
                    );
                    if !req.idempotent {
                        return Err(err);
                    }
                    (RetryReason::AttemptTimeout, None, Err(err))
                }
                Attempt::Failed(AttemptFailure::Deadline(err)) => return Err(err),
                Attempt::Failed(AttemptFailure::TooLarge { correlation_id }) => {
                    return Err(Error::body_too_large(
                        req.endpoint(),
                        self.config.max_response_body,
                        correlation_id,
                    ));
                }
            };

            let wait = match hint {
                Some(wait) => Some(wait),
                None => backoff.get_or_insert_with(|| policy.backoff()).next(),
            };
            let within_policy = |wait: Duration| {
                attempts < policy.max_attempts
                    && self
                        .clock
                        .now()
                        .saturating_duration_since(first_attempt)
                        .saturating_add(wait)
                        <= policy.max_retry_time
            };
            let retry = match wait {
                Some(wait) if within_policy(wait) => {
                    let cost = self.budget.cost(matches!(
                        reason,
                        RetryReason::AttemptTimeout | RetryReason::ConnectionLost
                    ));
                    if self.budget.try_spend(cost) {
                        budget_spent = budget_spent.saturating_add(cost);
                        Some(wait)
                    } else {
                        self.metrics.retries_denied.inc();
                        tracing::debug!(%reason, "retry budget exhausted: not retrying");
                        None
                    }
                }
                _ => None,
            };
            match retry {
                Some(wait) => {
                    self.metrics.retries.inc();
                    tracing::debug!(attempt = attempts, wait_ms = wait.as_millis() as u64, %reason, "retrying");
                    Deadline::bound(deadline, req, async {
                        self.clock.sleep(wait).await;
                        Ok(())
                    })
                    .await?;
                }
                None => {
                    return match (reason, last) {
                        (RetryReason::RateLimited, Ok(resp)) => {
                            tracing::warn!(attempts, "giving up: still rate limited");
                            Err(Error::rate_limited(
                                req.endpoint(),
                                attempts,
                                last_retry_after,
                                resp.correlation_id().map(str::to_owned),
                            ))
                        }
                        (_, last) => last,
                    };
                }
            }
        }
    }

    async fn attempt(
        &self,
        url: &Url,
        req: &ApiRequest,
        credentials: &Credentials<'_>,
        token: Option<&AccessToken>,
        deadline: Option<Deadline>,
    ) -> Attempt {
        let mut builder = self
            .http
            .request(req.method.clone(), url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        builder = match (credentials, token) {
            (Credentials::Basic { username, password }, _) => {
                builder.basic_auth(username, Some(password.expose_secret()))
            }
            (Credentials::Bearer(_), Some(token)) => match token.authorization() {
                Some(header) => builder.header(AUTHORIZATION, header.clone()),
                None => builder.bearer_auth(token.expose_secret()),
            },
            (Credentials::Bearer(_), None) | (Credentials::None, _) => builder,
        };
        for (name, value) in &req.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        builder = match &req.body {
            Some(Body::Json(bytes)) => builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(bytes.clone()),
            Some(Body::Form(bytes)) => builder
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(bytes.clone()),
            None => builder,
        };
        let limit = self.config.max_response_body;
        let exchange = async {
            let mut resp = builder.send().await.map_err(classify)?;
            let status = resp.status().as_u16();
            let headers = std::mem::take(resp.headers_mut());
            let correlation_id = || {
                headers
                    .get(&response::CORRELATION_ID)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if resp.content_length().is_some_and(|len| len > limit as u64) {
                return Err(AttemptFailure::TooLarge {
                    correlation_id: correlation_id(),
                });
            }
            let body = match resp.content_length() {
                // Length known and within the limit (checked above): one read, no copy.
                Some(_) => resp.bytes().await.map_err(classify)?,
                None => {
                    let mut body = bytes::BytesMut::new();
                    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                        if body.len().saturating_add(chunk.len()) > limit {
                            return Err(AttemptFailure::TooLarge {
                                correlation_id: correlation_id(),
                            });
                        }
                        body.extend_from_slice(&chunk);
                    }
                    body.freeze()
                }
            };
            Ok(Response {
                method: req.method.clone(),
                template: req.template.clone(),
                status,
                headers,
                body,
            })
        };
        let attempt_timeout = req.attempt_timeout.unwrap_or(self.config.attempt_timeout);
        // One timer for both bounds: whichever comes first.
        let attempt_end = tokio::time::Instant::now() + attempt_timeout;
        let (end, call_deadline) = match deadline {
            Some(d) if d.at <= attempt_end => (d.at, Some(d)),
            _ => (attempt_end, None),
        };
        match tokio::time::timeout_at(end, exchange).await {
            Ok(Ok(resp)) => Attempt::Answered(resp),
            Ok(Err(failure)) => Attempt::Failed(failure),
            Err(_) => Attempt::Failed(match call_deadline {
                Some(d) => AttemptFailure::Deadline(d.error(req)),
                None => AttemptFailure::Timeout,
            }),
        }
    }
}

/// Connect failures never reached the server; anything later may have. The URL is taken
/// out of the error: it can hold ids and query values.
fn classify(err: reqwest::Error) -> AttemptFailure {
    if err.is_connect() {
        AttemptFailure::Connect(err.without_url())
    } else if err.is_timeout() {
        AttemptFailure::Timeout
    } else {
        AttemptFailure::Lost(err.without_url())
    }
}

/// `base` (which may carry a path prefix) + the request's path and query. The base was
/// parsed once when the client was built: only the path is set here, not a whole URL
/// parsed again per call.
fn join(base: &Url, req: &ApiRequest) -> Url {
    let mut url = match &req.absolute {
        Some(url) => url.clone(),
        None => {
            let mut url = base.clone();
            let prefix = base.path().trim_end_matches('/');
            if prefix.is_empty() {
                url.set_path(&req.path);
            } else {
                url.set_path(&format!("{prefix}{}", req.path));
            }
            url
        }
    };
    if !req.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&req.query);
    }
    url
}

/// Whether `url` points at this machine (`localhost`, 127.0.0.0/8, `::1`): the only
/// hosts plain `http` is accepted for (local targets and tests).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Sends Platform API requests with the client's [`Auth`]; non-2xx answers become errors.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) core: Arc<HttpCore>,
    pub(crate) auth: Arc<dyn Auth>,
    pub(crate) api_base: Url,
}

impl Transport {
    /// Sends `req`; a non-2xx answer is returned as an error with [`Error::api`].
    pub(crate) async fn send(&self, req: &ApiRequest) -> Result<Response, Error> {
        self.core
            .send(&self.api_base, req, Credentials::Bearer(self.auth.as_ref()))
            .await?
            .error_for_status()
    }

    /// Sends `req` (with an absolute URL) without Genesys credentials; non-2xx answers
    /// become errors with [`Error::api`].
    pub(crate) async fn send_external(&self, req: &ApiRequest) -> Result<Response, Error> {
        self.core
            .send(&self.api_base, req, Credentials::None)
            .await?
            .error_for_status()
    }

    /// Sends `req` and decodes the JSON answer.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: &ApiRequest,
    ) -> Result<T, Error> {
        self.send(req).await?.json()
    }
}
