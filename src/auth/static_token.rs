use async_trait::async_trait;

use super::{AccessToken, Auth};
use crate::error::{AuthError, Error};

/// A token obtained and refreshed by the caller (e.g. from an implicit-grant login or a
/// token broker). It is used as-is; a 401 is reported as [`AuthError::TokenRejected`].
#[derive(Clone, Debug)]
pub struct StaticToken {
    token: AccessToken,
}

impl StaticToken {
    /// Uses `token` for every request.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: AccessToken::new(token),
        }
    }
}

#[async_trait]
impl Auth for StaticToken {
    async fn token(&self) -> Result<AccessToken, Error> {
        if self.token.expose_secret().is_empty() {
            return Err(AuthError::Unavailable("the static token is empty".into()).into());
        }
        Ok(self.token.clone())
    }

    fn current_token(&self) -> Option<AccessToken> {
        (!self.token.expose_secret().is_empty()).then(|| self.token.clone())
    }

    async fn token_rejected(&self, _token: &AccessToken) {
        tracing::warn!("Genesys Cloud rejected the static access token; it cannot be refreshed");
    }

    fn can_refresh(&self) -> bool {
        false
    }
}
