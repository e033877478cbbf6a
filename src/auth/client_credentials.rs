use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{AccessToken, Auth};
use crate::clock::SystemClock;
use crate::error::{AuthError, Error};
use crate::observe::metrics::HttpMetrics;
use crate::observe::Metrics;
use crate::transport::{ApiRequest, Credentials, HttpCore, TransportConfig};

/// How long before `expires_in` runs out a token is refreshed, by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

const TOKEN_PATH: &str = "/oauth/token";

/// The OAuth client credentials grant, for services acting as themselves.
///
/// `POST {login base}/oauth/token` with HTTP Basic `client_id:client_secret` and the form
/// `grant_type=client_credentials`. The token is cached and refreshed
/// [`refresh margin`](crate::ClientBuilder::token_refresh_margin) before it expires; however
/// many tasks ask at once, only one token request is in flight. If an early refresh fails
/// while the cached token is still valid, the cached token is used until it expires.
///
/// Usually created by [`ClientBuilder::credentials`](crate::ClientBuilder::credentials).
/// The secret and the tokens never appear in `Debug` output, errors or logs.
pub struct ClientCredentials {
    client_id: String,
    client_secret: SecretString,
    login_base: Url,
    refresh_margin: Duration,
    core: Arc<HttpCore>,
    cached: RwLock<Option<CachedToken>>,
    refresh: tokio::sync::Mutex<()>,
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
            HttpCore::default_http_client()?,
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
            return Err(Error::Config("the OAuth client id is empty".into()));
        }
        if client_secret.expose_secret().trim().is_empty() {
            return Err(Error::Config("the OAuth client secret is empty".into()));
        }
        Ok(Self {
            client_id,
            client_secret,
            login_base,
            refresh_margin,
            core,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    /// The OAuth client id (not a secret).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn cached(&self) -> Option<CachedToken> {
        self.cached
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn store(&self, token: Option<CachedToken>) {
        *self
            .cached
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token;
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
            )
            .await?;
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
        let resp = resp.error_for_status()?;
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
        if let Some(kind) = &answer.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(AuthError::InvalidTokenResponse {
                    reason: format!("token_type is {kind:?}, expected \"bearer\""),
                }
                .into());
            }
        }
        let lifetime = Duration::from_secs(answer.expires_in);
        // A margin as long as the lifetime would refresh on every call.
        let margin = self.refresh_margin.min(lifetime / 2);
        tracing::debug!(expires_in = answer.expires_in, "obtained an access token");
        Ok(CachedToken {
            token: AccessToken::new(answer.access_token),
            refresh_at: requested_at + (lifetime - margin),
            expires_at: requested_at + lifetime,
        })
    }
}

#[async_trait]
impl Auth for ClientCredentials {
    async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(c) = self.cached() {
            if self.core.clock.now() < c.refresh_at {
                return Ok(c.token);
            }
        }
        let _single_flight = self.refresh.lock().await;
        // Whoever held the lock before us may have refreshed already.
        let current = self.cached();
        if let Some(c) = &current {
            if self.core.clock.now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        match self.fetch().await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                self.store(Some(fresh));
                Ok(token)
            }
            Err(err) => match current {
                Some(c) if self.core.clock.now() < c.expires_at => {
                    tracing::warn!(error = %err, "early token refresh failed; using the current token until it expires");
                    Ok(c.token)
                }
                _ => Err(err),
            },
        }
    }

    async fn token_rejected(&self, token: &AccessToken) {
        let _single_flight = self.refresh.lock().await;
        if self.cached().is_some_and(|c| &c.token == token) {
            self.store(None);
        }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .field("login_base", &self.login_base.as_str())
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}
