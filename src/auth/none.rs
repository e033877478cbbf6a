//! The [`Auth`] of a client built without credentials.

use async_trait::async_trait;

use super::{AccessToken, Auth};
use crate::error::Error;

/// No credentials at all (`ClientBuilder::without_credentials`): the client calls only the
/// operations the platform serves without OAuth. A call that needs a token fails before
/// anything is sent, with a configuration error that says what to set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoCredentials;

#[async_trait]
impl Auth for NoCredentials {
    async fn token(&self) -> Result<AccessToken, Error> {
        Err(Error::config(
            "this call needs an OAuth token, and the client was built without credentials \
             (ClientBuilder::without_credentials): build it with .credentials(client_id, \
             client_secret) or .auth(..) to call it; without credentials only the operations \
             the platform serves without OAuth can be called",
        ))
    }

    async fn token_rejected(&self, _token: &AccessToken) {}

    fn can_refresh(&self) -> bool {
        false
    }
}
