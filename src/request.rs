//! Calls to any endpoint: the public face of the transport.

use std::borrow::Cow;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::paging;
use crate::transport::{ApiRequest, Body, Response};
use crate::validation::ValidationError;
use crate::Method;

/// A call to any Platform API endpoint, made by [`Client::request`] or
/// [`Client::request_template`]. It gets the client's auth, retries, rate limit and metrics.
///
/// ```no_run
/// # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
/// use genesys_cloud::Method;
/// use futures::TryStreamExt;
///
/// let queue: serde_json::Value = client
///     .request_template(Method::GET, "/api/v2/routing/queues/{queueId}", &["a1b2..."])
///     .send()
///     .await?;
/// let users: Vec<serde_json::Value> = client
///     .request(Method::GET, "/api/v2/users")
///     .query("pageSize", 100)
///     .paginate()
///     .try_collect()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    template: String,
    args: Option<Vec<String>>,
    query: Vec<(String, String)>,
    body: Option<Result<Bytes, String>>,
    idempotent: Option<bool>,
}

impl RequestBuilder {
    pub(crate) fn new(
        client: Client,
        method: Method,
        template: String,
        args: Option<Vec<String>>,
    ) -> Self {
        Self {
            client,
            method,
            template,
            args,
            query: Vec::new(),
            body: None,
            idempotent: None,
        }
    }

    /// Adds a query parameter (repeat the key for list parameters).
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Sends `body` as JSON.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.body = Some(
            serde_json::to_vec(body)
                .map(Bytes::from)
                .map_err(|e| e.to_string()),
        );
        self
    }

    /// Declares that sending this request twice has the same effect as once, so it may
    /// be retried after a 502/503/504, a timeout or a lost connection. GET, PUT and
    /// DELETE are idempotent by default; POST and PATCH are not.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    fn into_api_request(self) -> Result<(Client, ApiRequest), Error> {
        if !self.template.starts_with('/') {
            return Err(ValidationError::single(
                "path",
                "absolute_path",
                format!(
                    "the path {:?} must start with `/`, e.g. /api/v2/users/me",
                    self.template
                ),
            )
            .into());
        }
        let template: Cow<'static, str> = Cow::Owned(self.template);
        let mut req = match &self.args {
            Some(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ApiRequest::with_args(self.method, template, &args)?
            }
            None => ApiRequest::new(self.method, template),
        };
        req.query = self.query;
        if let Some(body) = self.body {
            let body = body.map_err(|e| {
                ValidationError::single(
                    "body",
                    "json",
                    format!("the body cannot be serialized as JSON: {e}"),
                )
            })?;
            req.body = Some(Body::Json(body));
        }
        if let Some(idempotent) = self.idempotent {
            req = req.idempotent(idempotent);
        }
        Ok((self.client, req))
    }

    /// Sends the request and decodes the JSON answer (an empty answer decodes as `null`,
    /// so `()` and `Option<T>` work for `204 No Content`).
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.send_raw().await?.json()
    }

    /// Sends the request and returns the 2xx answer undecoded.
    pub async fn send_raw(self) -> Result<Response, Error> {
        let (client, req) = self.into_api_request()?;
        client.transport().send(&req).await
    }

    /// Every item of a paged listing (`entities` of each page), fetching pages as the
    /// stream is read. See [`Page`](crate::paging::Page) for the paging styles followed.
    pub fn paginate<T>(self) -> impl Stream<Item = Result<T, Error>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let prepared = self.into_api_request();
        futures::stream::once(async move { prepared })
            .map_ok(|(client, req)| paging::items::<T>(client.transport().clone(), req))
            .try_flatten()
    }
}
