//! Calls to any endpoint: the public face of the transport.

use std::borrow::Cow;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::paging::{self, PageLimits};
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
    headers: Vec<(String, String)>,
    body: Option<Result<Bytes, String>>,
    idempotent: Option<bool>,
    limits: PageLimits,
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
            headers: Vec::new(),
            body: None,
            idempotent: None,
            limits: PageLimits::default(),
        }
    }

    /// Adds a query parameter (repeat the key for list parameters).
    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    /// Adds a header (`If-Match`, `Accept-Language`, ...). A name or value that is not a
    /// valid header fails the request before it is sent.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends bytes already serialized as JSON (or the reason they could not be).
    #[cfg(feature = "api")]
    pub(crate) fn json_bytes(mut self, body: Result<Vec<u8>, String>) -> Self {
        self.body = Some(body.map(Bytes::from));
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

    /// With [`paginate`](RequestBuilder::paginate): fetch at most `pages` pages. A listing
    /// with more ends with an [`ErrorKind::LocalLimit`](crate::error::ErrorKind::LocalLimit)
    /// error after the items of the last page allowed, so nothing is cut off silently.
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.limits.max_pages = Some(pages);
        self
    }

    /// With [`paginate`](RequestBuilder::paginate): yield at most `items` items, then end
    /// (no more pages are fetched).
    pub fn max_items(mut self, items: u64) -> Self {
        self.limits.max_items = Some(items);
        self
    }

    fn into_api_request(self) -> Result<(Client, ApiRequest, PageLimits), Error> {
        if !self.template.starts_with('/') {
            return Err(ValidationError::single(
                "path",
                "absolute_path",
                "the path must start with `/`, e.g. /api/v2/users/me",
            )
            .into());
        }
        // A query written into the path is sent as written, but kept out of the endpoint
        // name that errors, spans and metrics carry: it can hold values.
        let (path, inline_query) = match self.template.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (self.template, None),
        };
        let mut req = match &self.args {
            Some(args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ApiRequest::with_args(self.method, Cow::Owned(path), &args)?
            }
            None => {
                let mut req = ApiRequest::new(self.method, Cow::Owned(template_of(&path)));
                req.path = path;
                req
            }
        };
        if let Some(query) = inline_query {
            req.query = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
        }
        req.query.extend(self.query);
        for (name, value) in self.headers {
            let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .ok()
                .zip(reqwest::header::HeaderValue::from_str(&value).ok());
            let Some(header) = header else {
                return Err(ValidationError::single(
                    "header",
                    "header",
                    format!("the header `{name}` is not a valid HTTP header name and value"),
                )
                .into());
            };
            req.headers.push(header);
        }
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
        Ok((self.client, req, self.limits))
    }

    /// Sends the request and decodes the JSON answer (an empty answer decodes as `null`,
    /// so `()` and `Option<T>` work for `204 No Content`).
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.send_raw().await?.json()
    }

    /// Sends the request and returns the 2xx answer undecoded.
    pub async fn send_raw(self) -> Result<Response, Error> {
        let (client, req, _) = self.into_api_request()?;
        client.transport().send(&req).await
    }

    /// Every item of a paged listing (`entities` of each page), fetching pages as the
    /// stream is read. See [`Page`](crate::paging::Page) for how the next page is found
    /// and when a listing ends; bound it with [`max_pages`](RequestBuilder::max_pages) or
    /// [`max_items`](RequestBuilder::max_items).
    ///
    /// The stream is `Unpin`, so `.next().await` works on it directly.
    pub fn paginate<T>(self) -> impl Stream<Item = Result<T, Error>> + Send + Unpin + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let prepared = self.into_api_request();
        Box::pin(
            futures::stream::once(async move { prepared })
                .map_ok(|(client, req, limits)| {
                    paging::items_limited::<T>(client.transport().clone(), req, limits)
                })
                .try_flatten(),
        )
    }
}

/// The endpoint name of a path written out in full: segments that look like ids or values
/// (UUIDs, numbers, anything percent-encoded or with `@`) become `{id}`, so that spans,
/// metrics and errors stay free of values and low in cardinality.
fn template_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let looks_like_value = uuid::Uuid::try_parse(segment).is_ok()
                || (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
                || segment.contains(['%', '@', ' ', '+', '{', '}']);
            if looks_like_value {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::template_of;

    #[test]
    fn full_paths_are_named_by_their_shape() {
        assert_eq!(
            template_of("/api/v2/users/0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b/queues"),
            "/api/v2/users/{id}/queues"
        );
        assert_eq!(template_of("/api/v2/things/12345"), "/api/v2/things/{id}");
        assert_eq!(
            template_of("/api/v2/x/alice%40example.com"),
            "/api/v2/x/{id}"
        );
        assert_eq!(
            template_of("/api/v2/organizations/me"),
            "/api/v2/organizations/me"
        );
    }
}
