//! A complete answer from the platform, body already read (and capped).

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error, ErrorBody};

/// The response header Genesys Cloud uses to correlate a request across its services.
pub const CORRELATION_ID_HEADER: &str = "inin-correlation-id";

/// A complete HTTP answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// `METHOD /template`, shared by every attempt of a call.
    pub(crate) endpoint: std::sync::Arc<str>,
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Response {
    /// HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `ININ-Correlation-Id` header, to quote to Genesys support.
    pub fn correlation_id(&self) -> Option<&str> {
        self.headers
            .get(CORRELATION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body decoded as JSON. An empty body decodes as JSON `null`, so `()` and
    /// `Option<T>` accept a `204 No Content`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let body: &[u8] = if self.body.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &self.body
        };
        serde_json::from_slice(body).map_err(|err| self.decode_error::<T>(body, &err))
    }

    /// The decode failure, naming the field path (found by decoding once more, which
    /// only failures pay for) but never the value.
    #[cold]
    fn decode_error<T: DeserializeOwned>(&self, body: &[u8], err: &serde_json::Error) -> Error {
        let mut de = serde_json::Deserializer::from_slice(body);
        let path = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(traced) => traced.path().to_string(),
            Ok(_) => String::new(),
        };
        Error::decode(
            self.endpoint.clone(),
            self.status,
            self.correlation_id().map(str::to_owned),
            crate::error::decode_detail(&path, err),
        )
    }

    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `self` when the status is 2xx, otherwise the platform's error as [`Error::Api`].
    pub(crate) fn error_for_status(self) -> Result<Self, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.into_api_error().into())
        }
    }

    pub(crate) fn into_api_error(self) -> ApiError {
        let correlation_id = self.correlation_id().map(str::to_owned);
        ApiError::new(
            self.endpoint.clone(),
            self.status,
            correlation_id,
            serde_json::from_slice::<ErrorBody>(&self.body).ok(),
        )
    }
}
