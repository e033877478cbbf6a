//! Authentication: where the bearer token for each request comes from.
//!
//! The transport asks an [`Auth`] for a token before every attempt and tells it when
//! the platform answered 401, so it can drop the token and fetch a fresh one.
//!
//! - [`ClientCredentials`]: the OAuth client credentials grant, cached and refreshed
//!   early, with one shared refresh however many tasks ask at once.
//! - [`StaticToken`]: a token the caller manages.

mod client_credentials;
mod none;
mod static_token;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

pub use client_credentials::{ClientCredentials, DEFAULT_REFRESH_MARGIN};
pub(crate) use none::NoCredentials;
pub use static_token::StaticToken;

use crate::error::Error;

/// A source of bearer tokens.
///
/// Implement it to plug in your own token management (a token broker, a vault).
/// Implementations must be cheap to call: the transport calls [`Auth::token`] once per attempt.
#[async_trait]
pub trait Auth: Send + Sync + fmt::Debug {
    /// A token valid for at least the next request.
    async fn token(&self) -> Result<AccessToken, Error>;

    /// The token to use right now, if one is at hand without any work: the transport asks
    /// this first on every attempt and calls [`Auth::token`] only when it answers `None`.
    /// Implementations that cache tokens answer from their cache (no allocation, no
    /// await); the default always answers `None`.
    fn current_token(&self) -> Option<AccessToken> {
        None
    }

    /// The platform answered 401 to `token`: drop it so the next [`Auth::token`] call
    /// yields a fresh one. Implementations should ignore a `token` they no longer hold,
    /// so that many requests failing with the same token cause a single refresh.
    async fn token_rejected(&self, token: &AccessToken);

    /// Whether a rejected token can be replaced by a fresh one. When `false`, the
    /// transport reports a 401 at once instead of replaying the request.
    fn can_refresh(&self) -> bool {
        true
    }
}

#[async_trait]
impl<A: Auth + ?Sized> Auth for Arc<A> {
    async fn token(&self) -> Result<AccessToken, Error> {
        (**self).token().await
    }

    async fn token_rejected(&self, token: &AccessToken) {
        (**self).token_rejected(token).await
    }

    fn current_token(&self) -> Option<AccessToken> {
        (**self).current_token()
    }

    fn can_refresh(&self) -> bool {
        (**self).can_refresh()
    }
}

/// An OAuth bearer token. Its `Debug` output is redacted; read it with
/// [`AccessToken::expose_secret`]. Cheap to clone.
#[derive(Clone)]
pub struct AccessToken(Arc<TokenInner>);

struct TokenInner {
    secret: SecretString,
    /// `Bearer <token>`, built once and marked sensitive (never logged by the HTTP stack).
    header: Option<reqwest::header::HeaderValue>,
}

impl AccessToken {
    /// Wraps a raw token.
    pub fn new(token: impl Into<String>) -> Self {
        let secret = SecretString::from(token.into());
        let header =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", secret.expose_secret()))
                .ok()
                .map(|mut value| {
                    value.set_sensitive(true);
                    value
                });
        Self(Arc::new(TokenInner { secret, header }))
    }

    /// The raw token, for an `Authorization` header.
    pub fn expose_secret(&self) -> &str {
        self.0.secret.expose_secret()
    }

    /// The `Authorization` header value, when the token is a valid header value.
    pub(crate) fn authorization(&self) -> Option<&reqwest::header::HeaderValue> {
        self.0.header.as_ref()
    }
}

impl PartialEq for AccessToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = AccessToken::new("s3cr3t-token");
        assert_eq!(format!("{t:?}"), "AccessToken([REDACTED])");
        assert_eq!(t.expose_secret(), "s3cr3t-token");
    }
}
