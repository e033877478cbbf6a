//! The one place HTTP is sent.
//!
//! Every call goes through one send loop: the client-side rate limit, the bearer token,
//! per-attempt timeouts, retries with backoff (honouring `Retry-After`), one replay after
//! a 401 with a fresh token, a capped body read, a `genesys.request` tracing span
//! (method, path template, status, attempt, correlation id; never a token) and metrics.
//! Domain modules describe requests as values and never retry or sleep themselves.
//!
//! What is public here are the knobs ([`RetryPolicy`], [`RateLimit`], [`CallOptions`]
//! for one call or one handle) and the raw [`Response`]; calls are made through
//! [`Client::request`](crate::Client::request) or the flow modules.

mod base;
mod basic_auth;
mod budget;
mod options;
pub(crate) mod path;
pub(crate) mod poll;
mod rate_limit;
pub(crate) mod request;
mod response;
mod retry;
pub(crate) use retry::endless_backoff;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use secrecy::SecretString;
use tracing::{field, Instrument};
use url::Url;

use crate::auth::{AccessToken, Auth};
use crate::clock::Clock;
use crate::error::{AuthError, Error, NetworkFailure, TimeoutKind};
use crate::observe::metrics::HttpMetrics;

pub(crate) use base::BaseUrl;
pub use budget::RetryBudget;
pub use options::{CallOptions, INTERACTIVE_ATTEMPT_TIMEOUT, INTERACTIVE_DEADLINE};
pub use poll::PollPolicy;
pub use rate_limit::RateLimit;
pub(crate) use request::{json_bytes, ApiRequest, Body, Template};
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
    /// No credentials: calls to systems other than Genesys Cloud, and the Platform API
    /// operations served without OAuth.
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
    /// The call's deadline passed during the attempt, which may have reached the platform.
    Deadline(Deadline),
    /// The call's error as it is, never retried: the request could not be built.
    Fatal(Error),
    TooLarge {
        correlation_id: Option<String>,
    },
}

/// What every attempt of one call shares.
#[derive(Clone, Copy)]
struct Call<'a> {
    base: &'a BaseUrl,
    req: &'a ApiRequest,
    credentials: &'a Credentials<'a>,
    limits: Limits<'a>,
    traced: bool,
    /// When the first attempt started, for the policy's `max_retry_time`.
    first_attempt: Instant,
}

/// The time limits and retry policy of one call: the call's options where it has them,
/// the client's otherwise.
#[derive(Clone, Copy)]
struct Limits<'a> {
    deadline: Option<Deadline>,
    attempt_timeout: Duration,
    policy: &'a RetryPolicy,
}

/// The call's overall deadline: when it passes and how long it was.
#[derive(Clone, Copy)]
struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// `work`, unless the deadline passes first (then the deadline, for the caller to turn
    /// into an error that says what was sent). Only for the waits around an attempt (rate
    /// limit, token, backoff): the attempt itself has one timer for both bounds.
    async fn bound<T>(
        deadline: Option<Deadline>,
        work: impl Future<Output = T>,
    ) -> Result<T, Deadline> {
        match deadline {
            None => Ok(work.await),
            Some(d) => tokio::time::timeout_at(d.at, work).await.map_err(|_| d),
        }
    }

    /// The deadline passed: `sent` says whether any attempt may have reached the
    /// platform, `last` is what the last attempt ended with.
    fn error(&self, req: &ApiRequest, sent: bool, last: Option<&Error>) -> Error {
        Error::deadline_passed(req.endpoint(), self.limit, sent, last.cloned())
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
    /// to return. `options` override the client's limits and policy for this call (the
    /// request's own attempt timeout wins over theirs).
    pub(crate) async fn send(
        &self,
        base: &BaseUrl,
        req: &ApiRequest,
        credentials: Credentials<'_>,
        options: Option<&CallOptions>,
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
        let limits = self.limits(req, options);
        let work = self.send_with_retries(base, req, &credentials, limits, traced);
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

    /// The limits of one call: `options` where they say, the client's otherwise. No
    /// options (the common call) cost a branch each, nothing more.
    fn limits<'a>(&'a self, req: &ApiRequest, options: Option<&'a CallOptions>) -> Limits<'a> {
        let (deadline, attempt_timeout, policy) = match options {
            None => (self.config.deadline, None, None),
            Some(o) => (
                o.deadline.unwrap_or(self.config.deadline),
                o.attempt_timeout,
                o.retry_policy.as_ref(),
            ),
        };
        // No timer around the whole call: each wait checks the deadline itself, so that an
        // attempt runs under one timer (attempt timeout and deadline together), not two.
        Limits {
            deadline: deadline.map(|limit| Deadline {
                at: tokio::time::Instant::now() + limit,
                limit,
            }),
            attempt_timeout: req
                .attempt_timeout
                .or(attempt_timeout)
                .unwrap_or(self.config.attempt_timeout),
            policy: policy.unwrap_or(&self.config.retry),
        }
    }

    /// The common call, kept on its own: no wait for the rate limit or a token, one
    /// attempt, an answer that needs no second look. Anything else continues in
    /// [`retry_loop`](Self::retry_loop), boxed: its state (backoff, the waits, a token
    /// refresh, the 401 replay) would otherwise be carried by every call's future, and
    /// touching that larger future cost every call cache misses (docs/PERFORMANCE.md).
    async fn send_with_retries(
        &self,
        base: &BaseUrl,
        req: &ApiRequest,
        credentials: &Credentials<'_>,
        limits: Limits<'_>,
        traced: bool,
    ) -> Result<Response, Error> {
        let first_attempt = self.clock.now();
        let first = match self.ready_now(credentials) {
            Some(token) => {
                if traced {
                    tracing::Span::current().record("attempt", 1u32);
                }
                self.metrics.attempts.inc();
                let outcome = self
                    .attempt(base.join(req), req, credentials, token.as_ref(), &limits)
                    .await;
                match outcome {
                    Attempt::Answered(resp)
                        if settled(resp.status, req, credentials, token.is_some()) =>
                    {
                        return Ok(self.answered(resp, 0, traced));
                    }
                    outcome => Some((outcome, token)),
                }
            }
            None => None,
        };
        let call = Call {
            base,
            req,
            credentials,
            limits,
            traced,
            first_attempt,
        };
        self.slow_path(call, first).await
    }

    /// [`retry_loop`](Self::retry_loop), boxed, out of line and marked cold: building it is
    /// code the common call never runs, kept out of the instruction cache lines it does.
    #[cold]
    #[inline(never)]
    fn slow_path<'a>(
        &'a self,
        call: Call<'a>,
        first: Option<(Attempt, Option<AccessToken>)>,
    ) -> Pin<Box<dyn Future<Output = Result<Response, Error>> + Send + 'a>> {
        Box::pin(self.retry_loop(call, first))
    }

    /// The token for an attempt that can start at once (`Some(None)` when the call sends
    /// no bearer token), or `None` when it must wait for the rate limit or a token first.
    fn ready_now(&self, credentials: &Credentials<'_>) -> Option<Option<AccessToken>> {
        match credentials {
            Credentials::Bearer(auth) => {
                // The token first: taking a rate-limit slot and then waiting for a token
                // would spend two slots on one attempt.
                let token = auth.current_token()?;
                match &self.rate_limit {
                    Some(limit) if !limit.try_now() => None,
                    _ => Some(Some(token)),
                }
            }
            Credentials::Basic { .. } | Credentials::None => Some(None),
        }
    }

    /// A final answer: traced, and a success returns the retry budget it spent.
    fn answered(&self, resp: Response, budget_spent: u32, traced: bool) -> Response {
        if traced {
            record_answer(&tracing::Span::current(), &resp);
        }
        if resp.is_success() {
            self.budget.succeeded(budget_spent);
        }
        resp
    }

    /// Every call that needs more than one plain attempt: waits for the rate limit and
    /// the token, retries with backoff within the policy, the deadline and the retry
    /// budget, and one replay after a 401. `first` is the fast path's attempt, if it made
    /// one.
    async fn retry_loop(
        &self,
        call: Call<'_>,
        mut first: Option<(Attempt, Option<AccessToken>)>,
    ) -> Result<Response, Error> {
        let Call {
            base,
            req,
            credentials,
            limits,
            traced,
            first_attempt,
        } = call;
        let (deadline, policy) = (limits.deadline, limits.policy);
        // Built at the first retry: most calls never need it.
        let mut backoff = None;
        let mut attempts: u32 = u32::from(first.is_some());
        let mut replayed_after_401 = false;
        let mut last_retry_after = None;
        let mut budget_spent: u32 = 0;
        // For an error at the deadline: whether any attempt may have reached the platform,
        // and what the last one ended with.
        let mut sent = false;
        let mut last_failure: Option<Error> = None;
        let span = if traced {
            tracing::Span::current()
        } else {
            tracing::Span::none()
        };

        loop {
            let (outcome, token) = match first.take() {
                Some(first) => first,
                None => {
                    attempts = attempts.saturating_add(1);
                    if traced {
                        span.record("attempt", attempts);
                    }
                    let passed = |d: Deadline| d.error(req, sent, last_failure.as_ref());
                    // The quota is the org's API limit; token requests are limited separately.
                    if let (Some(limit), Credentials::Bearer(_)) = (&self.rate_limit, credentials) {
                        Deadline::bound(deadline, limit.until_ready())
                            .await
                            .map_err(passed)?;
                    }
                    let token = match credentials {
                        Credentials::Bearer(auth) => Some(match auth.current_token() {
                            Some(token) => token,
                            None => Deadline::bound(deadline, auth.token())
                                .await
                                .map_err(passed)??,
                        }),
                        Credentials::Basic { .. } | Credentials::None => None,
                    };
                    self.metrics.attempts.inc();
                    let outcome = self
                        .attempt(base.join(req), req, credentials, token.as_ref(), &limits)
                        .await;
                    (outcome, token)
                }
            };

            sent |= !matches!(outcome, Attempt::Failed(AttemptFailure::Connect(_)));
            let (reason, hint, last) = match outcome {
                Attempt::Answered(resp) => {
                    if traced {
                        record_answer(&span, &resp);
                    }
                    if settled(resp.status, req, credentials, token.is_some()) {
                        return Ok(self.answered(resp, budget_spent, false));
                    }
                    match resp.status {
                        401 => {
                            let (Credentials::Bearer(auth), Some(token)) = (credentials, &token)
                            else {
                                return Ok(resp); // settled: only a bearer token is replayed
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
                            let asked = retry::retry_after(&resp.headers);
                            if !policy.clamp_retry_after
                                && asked.is_some_and(|wait| wait > policy.max_retry_after)
                            {
                                tracing::debug!(
                                    attempts,
                                    "giving up: Retry-After is longer than the policy waits"
                                );
                                return Err(Error::rate_limited(
                                    req.endpoint(),
                                    attempts,
                                    asked,
                                    resp.correlation_id().map(str::to_owned),
                                ));
                            }
                            let hint = asked.map(|wait| wait.min(policy.max_retry_after));
                            last_retry_after = hint.or(last_retry_after);
                            (RetryReason::RateLimited, hint, Ok(resp))
                        }
                        // What `settled` leaves: 502–504 to an idempotent request.
                        status => (RetryReason::ServerUnavailable(status), None, Ok(resp)),
                    }
                }
                Attempt::Failed(AttemptFailure::Connect(source)) => {
                    // reqwest's connect timeout has no public cause type; it says so itself.
                    let class = source
                        .is_timeout()
                        .then_some(NetworkFailure::ConnectTimeout);
                    let err = Error::transport_as(req.endpoint(), false, class, source);
                    (RetryReason::Connect, None, Err(err))
                }
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
                        limits.attempt_timeout,
                    );
                    if !req.idempotent {
                        return Err(err);
                    }
                    (RetryReason::AttemptTimeout, None, Err(err))
                }
                Attempt::Failed(AttemptFailure::Deadline(d)) => {
                    return Err(d.error(req, true, last_failure.as_ref()))
                }
                Attempt::Failed(AttemptFailure::Fatal(err)) => return Err(err),
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
                    last_failure = Some(match &last {
                        Ok(resp) if reason == RetryReason::RateLimited => Error::rate_limited(
                            req.endpoint(),
                            attempts,
                            hint,
                            resp.correlation_id().map(str::to_owned),
                        ),
                        Ok(resp) => resp.clone().into_api_error().into(),
                        Err(err) => err.clone(),
                    });
                    Deadline::bound(deadline, self.clock.sleep(wait))
                        .await
                        .map_err(|d| d.error(req, sent, last_failure.as_ref()))?;
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

    /// One attempt: the request sent and the whole answer read, within the attempt
    /// timeout and the call's deadline (one timer for both).
    async fn attempt(
        &self,
        url: Url,
        req: &ApiRequest,
        credentials: &Credentials<'_>,
        token: Option<&AccessToken>,
        limits: &Limits<'_>,
    ) -> Attempt {
        let request = match http_request(url, req, credentials, token) {
            Ok(request) => request,
            Err(err) => return Attempt::Failed(AttemptFailure::Fatal(err)),
        };
        // One timer for both bounds: whichever comes first.
        let attempt_end = tokio::time::Instant::now() + limits.attempt_timeout;
        let (end, call_deadline) = match limits.deadline {
            Some(d) if d.at <= attempt_end => (d.at, Some(d)),
            _ => (attempt_end, None),
        };
        // The timer is polled beside each step rather than wrapped around an async block
        // (`tokio::time::timeout`): the wrapper and the block are two more state machines
        // that every poll of every call goes through, and their construction moves the
        // whole attempt's state twice (docs/PERFORMANCE.md).
        let mut timer = std::pin::pin!(tokio::time::sleep_until(end));
        let mut sent = self.http.execute(request);
        let Some(sent) = within(timer.as_mut(), &mut sent).await else {
            return timed_out(call_deadline);
        };
        let mut resp = match sent {
            Ok(resp) => resp,
            Err(err) => return Attempt::Failed(classify(err)),
        };
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        let limit = self.config.max_response_body;
        if resp.content_length().is_some_and(|len| len > limit as u64) {
            return too_large(&headers);
        }
        // Read chunk by chunk (a small future, unlike `bytes()`); a body that arrives in
        // one chunk, as small JSON answers do, is kept without a copy.
        let mut body = BodyBuf::Empty;
        loop {
            let Some(chunk) = within(timer.as_mut(), std::pin::pin!(resp.chunk())).await else {
                return timed_out(call_deadline);
            };
            match chunk {
                Ok(Some(chunk)) => {
                    if body.len().saturating_add(chunk.len()) > limit {
                        return too_large(&headers);
                    }
                    body.push(chunk);
                }
                Ok(None) => break,
                Err(err) => return Attempt::Failed(classify(err)),
            }
        }
        Attempt::Answered(Response {
            method: req.method.clone(),
            template: req.template.clone(),
            status,
            headers,
            body: body.into_bytes(),
        })
    }
}

/// The attempt's timer fired: past the call's deadline, or the attempt's own timeout.
#[cold]
fn timed_out(call_deadline: Option<Deadline>) -> Attempt {
    Attempt::Failed(match call_deadline {
        Some(d) => AttemptFailure::Deadline(d),
        None => AttemptFailure::Timeout,
    })
}

#[cold]
fn too_large(headers: &HeaderMap) -> Attempt {
    Attempt::Failed(AttemptFailure::TooLarge {
        correlation_id: headers
            .get(&response::CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

/// `work`'s output, or `None` if `timer` fires first. A `poll_fn`, not an `async fn`: no
/// state machine of its own.
fn within<'t, F: Future + Unpin + 't>(
    mut timer: Pin<&'t mut tokio::time::Sleep>,
    mut work: F,
) -> impl Future<Output = Option<F::Output>> + 't {
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = Pin::new(&mut work).poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
}

/// Whether an answer is final as it is: not a 401 to a bearer token (refreshed and
/// replayed), not a 429 and not a 502–504 to an idempotent request (retried). The one
/// rule for both the fast path and the retry loop.
fn settled(status: u16, req: &ApiRequest, credentials: &Credentials<'_>, has_token: bool) -> bool {
    match status {
        401 => !(matches!(credentials, Credentials::Bearer(_)) && has_token),
        429 => false,
        502..=504 => !req.idempotent,
        _ => true,
    }
}

fn record_answer(span: &tracing::Span, resp: &Response) {
    span.record("status", resp.status);
    if let Some(id) = resp.correlation_id() {
        span.record("correlation_id", id);
    }
}

/// The `reqwest::Request` of one attempt, built in place (a `RequestBuilder` is moved,
/// all 272 bytes of it, by every call that adds to it).
fn http_request(
    url: Url,
    req: &ApiRequest,
    credentials: &Credentials<'_>,
    token: Option<&AccessToken>,
) -> Result<reqwest::Request, Error> {
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");
    let mut request = reqwest::Request::new(req.method.clone(), url);
    let headers = request.headers_mut();
    headers.insert(ACCEPT, JSON);
    match (credentials, token) {
        (Credentials::Basic { username, password }, _) => {
            headers.insert(AUTHORIZATION, basic_auth::header(username, password));
        }
        (Credentials::Bearer(_), Some(token)) => match token.authorization() {
            Some(header) => {
                headers.insert(AUTHORIZATION, header.clone());
            }
            None => {
                return Err(AuthError::Unavailable(
                    "the access token holds characters an HTTP header cannot carry".into(),
                )
                .into())
            }
        },
        (Credentials::Bearer(_), None) | (Credentials::None, _) => {}
    }
    for (name, value) in &req.headers {
        headers.append(name.clone(), value.clone());
    }
    let (content_type, bytes) = match &req.body {
        Some(Body::Json(bytes)) => (JSON, bytes),
        Some(Body::Form(bytes)) => (FORM, bytes),
        None => return Ok(request),
    };
    headers.insert(CONTENT_TYPE, content_type);
    *request.body_mut() = Some(reqwest::Body::from(bytes.clone()));
    Ok(request)
}

/// An answer's body as it arrives: one chunk kept as it is, more copied together.
enum BodyBuf {
    Empty,
    One(bytes::Bytes),
    Many(bytes::BytesMut),
}

impl BodyBuf {
    fn len(&self) -> usize {
        match self {
            BodyBuf::Empty => 0,
            BodyBuf::One(b) => b.len(),
            BodyBuf::Many(b) => b.len(),
        }
    }

    fn push(&mut self, chunk: bytes::Bytes) {
        *self = match std::mem::replace(self, BodyBuf::Empty) {
            BodyBuf::Empty => BodyBuf::One(chunk),
            BodyBuf::One(first) => {
                let mut all = bytes::BytesMut::with_capacity(first.len() + chunk.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&chunk);
                BodyBuf::Many(all)
            }
            BodyBuf::Many(mut all) => {
                all.extend_from_slice(&chunk);
                BodyBuf::Many(all)
            }
        };
    }

    fn into_bytes(self) -> bytes::Bytes {
        match self {
            BodyBuf::Empty => bytes::Bytes::new(),
            BodyBuf::One(b) => b,
            BodyBuf::Many(b) => b.freeze(),
        }
    }
}

/// Connect failures never reached the server; anything later may have. The URL is taken
/// out of the error: it can hold ids and query values.
#[cold]
fn classify(err: reqwest::Error) -> AttemptFailure {
    if err.is_connect() {
        AttemptFailure::Connect(err.without_url())
    } else if err.is_timeout() {
        AttemptFailure::Timeout
    } else {
        AttemptFailure::Lost(err.without_url())
    }
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
/// Reached through [`Client::transport`](crate::Client::transport), which pairs it with
/// the client handle's [`CallOptions`] ([`TransportRef`]).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) core: Arc<HttpCore>,
    pub(crate) auth: Arc<dyn Auth>,
    pub(crate) api_base: BaseUrl,
}

/// The client's [`Transport`] with the [`CallOptions`] of the handle it was reached from
/// (none for a plain client): what flows send through. Derefs to the [`Transport`].
#[derive(Clone, Copy)]
pub(crate) struct TransportRef<'a> {
    transport: &'a Transport,
    options: Option<&'a CallOptions>,
}

impl std::ops::Deref for TransportRef<'_> {
    type Target = Transport;

    fn deref(&self) -> &Transport {
        self.transport
    }
}

impl<'a> TransportRef<'a> {
    pub(crate) fn new(transport: &'a Transport, options: Option<&'a CallOptions>) -> Self {
        Self { transport, options }
    }

    /// The overall deadline of a call made through this handle.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        match self.options.and_then(|o| o.deadline) {
            Some(deadline) => deadline,
            None => self.transport.core.config.deadline,
        }
    }

    /// Sends `req`, with the client's bearer token unless the request says it needs none
    /// (then no token is fetched and no `Authorization` header sent); a non-2xx answer is
    /// returned as an error with [`Error::api`].
    ///
    /// A plain function returning the transport's future (mapped), not an `async fn`: one
    /// state machine less for every poll of every call.
    pub(crate) fn send(
        self,
        req: &'a ApiRequest,
    ) -> impl Future<Output = Result<Response, Error>> + Send + 'a {
        use futures::FutureExt as _;
        let transport = self.transport;
        let credentials = if req.requires_auth {
            Credentials::Bearer(transport.auth.as_ref())
        } else {
            Credentials::None
        };
        transport
            .core
            .send(&transport.api_base, req, credentials, self.options)
            .map(|answer| answer?.error_for_status())
    }

    /// Sends `req` (with an absolute URL) without Genesys credentials; non-2xx answers
    /// become errors with [`Error::api`].
    pub(crate) async fn send_external(self, req: &ApiRequest) -> Result<Response, Error> {
        let transport = self.transport;
        transport
            .core
            .send(&transport.api_base, req, Credentials::None, self.options)
            .await?
            .error_for_status()
    }

    /// Sends `req` and decodes the JSON answer.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        self,
        req: &ApiRequest,
    ) -> Result<T, Error> {
        self.send(req).await?.json()
    }
}
