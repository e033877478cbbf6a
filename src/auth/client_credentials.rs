use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt, Shared};
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{AccessToken, Auth};
use crate::clock::SystemClock;
use crate::error::{AuthError, Error, ErrorKind};
use crate::observe::metrics::HttpMetrics;
use crate::observe::Metrics;
use crate::transport::{ApiRequest, BaseUrl, Credentials, HttpCore, TransportConfig};

/// How long before `expires_in` runs out a token is refreshed, by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// The longest token lifetime believed. Genesys Cloud issues client-credentials tokens for
/// at most 48 hours (the OAuth client's "token duration", 300 to 172,800 s); a longer
/// `expires_in` is read as 48 hours, so a broken answer cannot keep a token forever.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(172_800);

/// First wait after a token request that got no usable answer (5xx, network); doubles
/// after each failure in a row.
const REFRESH_RETRY_MIN: Duration = Duration::from_secs(1);
/// Longest wait between token requests while the login service fails.
const REFRESH_RETRY_MAX: Duration = Duration::from_secs(30);
/// First wait after the login service refused the credentials (400, 401, 403): they are
/// wrong until someone changes them on the platform (a revoked or rotated secret, a
/// disabled client), which takes minutes, not milliseconds; doubles after each refusal.
const REFUSAL_RETRY_MIN: Duration = Duration::from_secs(5);
/// Longest wait between token requests while the credentials are refused.
const REFUSAL_RETRY_MAX: Duration = Duration::from_secs(300);

const TOKEN_PATH: &str = "/oauth/token";

/// The OAuth client credentials grant, for services acting as themselves.
///
/// `POST {login base}/oauth/token` with HTTP Basic `client_id:client_secret` and the form
/// `grant_type=client_credentials`. The token is cached and shared by every task.
///
/// # When the token is refreshed
///
/// A token answered with `expires_in` seconds is refreshed
/// [`refresh margin`](crate::ClientBuilder::token_refresh_margin) (default 60 s, at most
/// half the lifetime) before it expires, in one background task whatever the number of
/// callers:
///
/// - **While the cached token is valid, no caller ever waits for a refresh.** Calls in the
///   refresh window get the cached token at once; the refresh runs beside them.
/// - **A failed refresh is remembered and backed off** (1 s, doubling to 30 s) while the
///   cached token serves; a login outage shorter than the margin goes unnoticed by callers.
/// - **Only without a valid token do callers wait** (at start, after expiry, after a 401):
///   they share one token request, bounded by their own call's deadline, and when it
///   fails they get [`AuthError::LoginUnavailable`] (the login service failed) or
///   [`AuthError::CredentialsRejected`] (it refused the credentials).
/// - **A failed login is remembered too.** Until the next attempt is due, every call
///   without a valid token fails at once with the same error (its cause kept), instead of
///   asking the login service again: 1 s doubling to 30 s while the login service fails
///   (5xx, network), 5 s doubling to 5 minutes while it refuses the credentials (a revoked
///   or rotated secret is not fixed by asking again; the login endpoint has rate limits
///   of its own, and every replica of a service shares them). The first success clears it.
///
/// Usually created by [`ClientBuilder::credentials`](crate::ClientBuilder::credentials).
/// The secret and the tokens never appear in `Debug` output, errors or logs.
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: String,
    client_secret: SecretString,
    login_base: BaseUrl,
    refresh_margin: Duration,
    core: Arc<HttpCore>,
    state: Mutex<State>,
}

type Refresh = Shared<BoxFuture<'static, Result<CachedToken, Error>>>;

#[derive(Default)]
struct State {
    cached: Option<CachedToken>,
    /// The token request in flight, shared by everyone waiting for it.
    refreshing: Option<Refresh>,
    /// Token requests that failed in a row.
    failures: u32,
    /// No token request starts before this (after a failure).
    next_attempt: Option<Instant>,
    /// What the last token request failed with, given to every caller without a valid
    /// token until `next_attempt`: a refused or failing login is not asked again by each
    /// call (a fleet of replicas under traffic would hammer the login service).
    last_failure: Option<Error>,
}

#[derive(Clone)]
struct CachedToken {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    expires_in: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginRefusal {
    error: Option<String>,
    error_description: Option<String>,
    description: Option<String>,
}

impl ClientCredentials {
    /// Client credentials against `login_base` (e.g. [`Region::login_base`](crate::Region::login_base)),
    /// with the default transport settings.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        login_base: Url,
    ) -> Result<Self, Error> {
        let core = HttpCore::new(
            crate::net::Network::new(&Default::default())?
                .http_client(crate::transport::USER_AGENT)?,
            TransportConfig::default(),
            Arc::new(SystemClock),
            None,
            HttpMetrics::register(&Metrics::default()),
        );
        Self::with_core(
            client_id.into(),
            SecretString::from(client_secret.into()),
            login_base,
            DEFAULT_REFRESH_MARGIN,
            Arc::new(core),
        )
    }

    pub(crate) fn with_core(
        client_id: String,
        client_secret: SecretString,
        login_base: Url,
        refresh_margin: Duration,
        core: Arc<HttpCore>,
    ) -> Result<Self, Error> {
        use secrecy::ExposeSecret;
        if client_id.trim().is_empty() {
            return Err(Error::config("the OAuth client id is empty"));
        }
        if client_secret.expose_secret().trim().is_empty() {
            return Err(Error::config("the OAuth client secret is empty"));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                client_id,
                client_secret,
                login_base: BaseUrl::new(login_base),
                refresh_margin,
                core,
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// The OAuth client id (not a secret).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The refresh in flight, or a new one. The request runs in its own task, so it
    /// finishes (and its result is kept) even if every caller waiting for it gives up.
    fn refresh(self: &Arc<Self>, state: &mut State) -> Refresh {
        if let Some(running) = &state.refreshing {
            return running.clone();
        }
        let inner = self.clone();
        let started = self.core.clock.now();
        let refresh = async move {
            let result = inner.fetch().await;
            inner.finish(started, &result);
            result
        }
        .boxed()
        .shared();
        state.refreshing = Some(refresh.clone());
        tokio::spawn(refresh.clone());
        refresh
    }

    /// Records what a refresh that began at `started` ended with: the new token, or one
    /// more failure and when the next background attempt may start (counted from the
    /// start, so that a slow failure is not followed by a long silence as well).
    fn finish(&self, started: Instant, result: &Result<CachedToken, Error>) {
        let now = self.core.clock.now();
        let mut state = self.state();
        state.refreshing = None;
        match result {
            Ok(fresh) => {
                state.cached = Some(fresh.clone());
                state.failures = 0;
                state.next_attempt = None;
                state.last_failure = None;
            }
            Err(err) => {
                state.failures = state.failures.saturating_add(1);
                let exponent = state.failures.saturating_sub(1).min(16);
                let (min, max) = if is_refusal(err) {
                    (REFUSAL_RETRY_MIN, REFUSAL_RETRY_MAX)
                } else {
                    (REFRESH_RETRY_MIN, REFRESH_RETRY_MAX)
                };
                let wait = min.saturating_mul(1 << exponent).min(max);
                state.next_attempt = started.checked_add(wait);
                state.last_failure = Some(err.clone());
                let valid = state.cached.as_ref().is_some_and(|c| now < c.expires_at);
                if valid {
                    tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64,
                        "token refresh failed; the current token serves until it expires");
                } else {
                    tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64,
                        "token request failed; calls without a valid token fail with this error until the next attempt");
                }
            }
        }
    }

    async fn fetch(&self) -> Result<CachedToken, Error> {
        let req = ApiRequest::new(Method::POST, TOKEN_PATH)
            .form("grant_type=client_credentials")
            // Asking for a token twice has no effect beyond a spare token.
            .idempotent(true);
        let requested_at = self.core.clock.now();
        let resp = self
            .core
            .send(
                &self.login_base,
                &req,
                Credentials::Basic {
                    username: &self.client_id,
                    password: &self.client_secret,
                },
                None,
            )
            .await
            .map_err(login_unavailable)?;
        self.core.metrics.token_requests.inc();
        if matches!(resp.status(), 400 | 401 | 403) {
            let refusal: LoginRefusal = serde_json::from_slice(resp.body()).unwrap_or_default();
            return Err(AuthError::CredentialsRejected {
                status: resp.status(),
                error: refusal.error.unwrap_or_else(|| "unknown_error".into()),
                description: refusal.error_description.or(refusal.description),
            }
            .into());
        }
        let resp = resp.error_for_status().map_err(login_unavailable)?;
        // Not `resp.json()`: a decode error must not quote the body, which holds the token.
        let answer: TokenAnswer = serde_json::from_slice(resp.body()).map_err(|e| {
            AuthError::InvalidTokenResponse {
                reason: format!(
                    "expected {{access_token, token_type, expires_in}} ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            }
        })?;
        if answer.access_token.is_empty() {
            return Err(AuthError::InvalidTokenResponse {
                reason: "access_token is empty".into(),
            }
            .into());
        }
        if answer.expires_in == 0 {
            return Err(AuthError::InvalidTokenResponse {
                reason: "expires_in is 0: the token is already expired".into(),
            }
            .into());
        }
        if let Some(kind) = &answer.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(AuthError::InvalidTokenResponse {
                    reason: format!("token_type is {kind:?}, expected \"bearer\""),
                }
                .into());
            }
        }
        let lifetime = Duration::from_secs(answer.expires_in).min(MAX_TOKEN_LIFETIME);
        // A margin as long as the lifetime would refresh on every call.
        let margin = self.refresh_margin.min(lifetime / 2);
        tracing::debug!(expires_in = answer.expires_in, "obtained an access token");
        // `requested_at`, not now: the lifetime started when the platform issued it.
        let at = |offset: Duration| requested_at.checked_add(offset).unwrap_or(requested_at);
        Ok(CachedToken {
            token: AccessToken::new(answer.access_token),
            refresh_at: at(lifetime - margin),
            expires_at: at(lifetime),
        })
    }
}

/// A token request that got no usable answer (5xx, timeout, network): the login service
/// is unavailable, which is not the same as refusing the credentials. The failure stays
/// the error's source, down to what the network said.
fn login_unavailable(err: Error) -> Error {
    if err.auth().is_some() {
        return err;
    }
    AuthError::LoginUnavailable {
        retryable: err.is_retryable() || err.kind() == ErrorKind::Upstream,
        cause: err,
    }
    .into()
}

/// Whether the login service refused the credentials (rather than failing to answer).
fn is_refusal(err: &Error) -> bool {
    matches!(err.auth(), Some(AuthError::CredentialsRejected { .. }))
}

#[async_trait]
impl Auth for ClientCredentials {
    async fn token(&self) -> Result<AccessToken, Error> {
        let inner = &self.inner;
        let now = inner.core.clock.now();
        let wait = {
            let mut state = inner.state();
            if let Some(cached) = &state.cached {
                if now < cached.refresh_at {
                    return Ok(cached.token.clone());
                }
                if now < cached.expires_at {
                    // The refresh window: start a refresh unless one runs or the last
                    // failure is still backing off, and never wait for it.
                    let token = cached.token.clone();
                    let due = state.next_attempt.is_none_or(|at| now >= at);
                    if state.refreshing.is_none() && due {
                        drop(inner.refresh(&mut state));
                    }
                    return Ok(token);
                }
            }
            // No valid token. While the last token request's failure is backing off, every
            // caller gets that failure at once; otherwise every caller waits for the same
            // request.
            if state.refreshing.is_none() && state.next_attempt.is_some_and(|at| now < at) {
                if let Some(failure) = &state.last_failure {
                    return Err(failure.clone());
                }
            }
            inner.refresh(&mut state)
        };
        wait.await.map(|fresh| fresh.token)
    }

    fn current_token(&self) -> Option<AccessToken> {
        let now = self.inner.core.clock.now();
        let state = self.inner.state();
        let cached = state.cached.as_ref()?;
        (now < cached.refresh_at).then(|| cached.token.clone())
    }

    async fn token_rejected(&self, token: &AccessToken) {
        let mut state = self.inner.state();
        if state.cached.as_ref().is_some_and(|c| &c.token == token) {
            state.cached = None;
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("login_base", &self.inner.login_base.url().as_str())
            .field("refresh_margin", &self.inner.refresh_margin)
            .finish_non_exhaustive()
    }
}
