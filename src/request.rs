//! Calls to any endpoint: the public face of the transport.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::client::Client;
use crate::error::Error;
use crate::paging::{self, PageLimits};
use crate::transport::{ApiRequest, Body, CallOptions, Response, Template};
use crate::validation::ValidationError;
use crate::{Method, RetryPolicy};

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
pub struct RequestBuilder {
    client: Client,
    /// The request so far, or the first problem found in it (reported when it is sent).
    /// Prepared as it is described: nothing is copied again at send time.
    req: Result<ApiRequest, Error>,
    limits: PageLimits,
}

/// Method and path template only: queries, headers and bodies can hold values.
impl std::fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("RequestBuilder");
        match &self.req {
            Ok(req) => out
                .field("method", &req.method)
                .field("template", &&*req.template),
            Err(err) => out.field("error", &err.kind()),
        };
        out.finish_non_exhaustive()
    }
}

impl RequestBuilder {
    /// A request to `path`, written out in full.
    pub(crate) fn new(client: Client, method: Method, path: &str) -> Self {
        Self::prepared(client, prepare_path(method, path))
    }

    /// A request to `template`, its `{placeholders}` filled in order from `args`.
    pub(crate) fn with_template(
        client: Client,
        method: Method,
        template: Cow<'static, str>,
        args: &[&str],
    ) -> Self {
        Self::prepared(client, prepare_template(method, template, args))
    }

    fn prepared(client: Client, req: Result<ApiRequest, Error>) -> Self {
        Self {
            client,
            req,
            limits: PageLimits::default(),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut ApiRequest) -> Result<(), Error>) -> Self {
        if let Ok(req) = &mut self.req {
            if let Err(err) = f(req) {
                self.req = Err(err);
            }
        }
        self
    }

    /// Adds a query parameter (repeat the key for list parameters).
    pub fn query(self, key: impl Into<String>, value: impl ToString) -> Self {
        self.edit(|req| {
            req.query.push((key.into(), value.to_string()));
            Ok(())
        })
    }

    /// Adds a header (`If-Match`, `Accept-Language`, ...). A name or value that is not a
    /// valid header fails the request before it is sent; the error names a valid name,
    /// never the value (nor a name that is not one, which could be anything).
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        self.edit(|req| {
            let Ok(header_name) = reqwest::header::HeaderName::from_bytes(name.as_bytes()) else {
                return Err(ValidationError::single(
                    "header",
                    "header_name",
                    "a header name is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                )
                .into());
            };
            let Ok(header_value) = reqwest::header::HeaderValue::from_str(&value) else {
                return Err(ValidationError::single(
                    format!("header.{header_name}"),
                    "header_value",
                    "the value is not a valid HTTP header value (no line breaks or control characters)",
                )
                .into());
            };
            req.headers.push((header_name, header_value));
            Ok(())
        })
    }

    /// Sends bytes already serialized as JSON (or the reason they could not be).
    #[cfg(feature = "api")]
    pub(crate) fn json_bytes(self, body: Result<Vec<u8>, String>) -> Self {
        self.edit(|req| {
            req.body = Some(Body::Json(Bytes::from(body.map_err(body_error)?)));
            Ok(())
        })
    }

    /// Sends `body` as JSON.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Self {
        self.edit(|req| {
            let bytes =
                crate::transport::json_bytes(body).map_err(|e| body_error(e.to_string()))?;
            req.body = Some(Body::Json(Bytes::from(bytes)));
            Ok(())
        })
    }

    /// Declares that sending this request twice has the same effect as once, so it may
    /// be retried after a 502/503/504, a timeout or a lost connection. GET, PUT and
    /// DELETE are idempotent by default; POST and PATCH are not.
    pub fn idempotent(self, idempotent: bool) -> Self {
        self.edit(|req| {
            req.idempotent = idempotent;
            Ok(())
        })
    }

    /// Declares whether the request needs the client's OAuth token (the default). With
    /// `false` (for the operations the platform serves without OAuth, such as
    /// `POST /api/v2/knowledge/guest/sessions`), the request is sent with no
    /// `Authorization` header and no token is fetched for it, so no login happens; retries,
    /// timeouts, metrics and tracing are the same. A header you set yourself with
    /// [`header`](RequestBuilder::header) (e.g. a guest session's own JWT) is still sent.
    pub fn requires_auth(self, requires_auth: bool) -> Self {
        self.edit(|req| {
            req.requires_auth = requires_auth;
            Ok(())
        })
    }

    /// Overrides the client's time limits and retry policy for this request (every page
    /// of it, with [`paginate`](RequestBuilder::paginate)); what `options` leave unset
    /// keeps the client's (or its handle's, see [`Client::with_options`]) setting.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.client = self.client.with_options(options);
        self
    }

    /// This request's overall time limit, every attempt and wait included (instead of
    /// the client's [`deadline`](crate::ClientBuilder::deadline)).
    pub fn deadline(self, deadline: std::time::Duration) -> Self {
        self.options(CallOptions::new().deadline(deadline))
    }

    /// No overall time limit for this request; each attempt is still bounded by the
    /// attempt timeout.
    pub fn no_deadline(self) -> Self {
        self.options(CallOptions::new().no_deadline())
    }

    /// This request's per-attempt time limit (instead of the client's
    /// [`attempt_timeout`](crate::ClientBuilder::attempt_timeout)); backoff waits do not
    /// count against it.
    pub fn attempt_timeout(self, timeout: std::time::Duration) -> Self {
        self.options(CallOptions::new().attempt_timeout(timeout))
    }

    /// This request's retry policy (instead of the client's
    /// [`retry_policy`](crate::ClientBuilder::retry_policy)); the client's retry budget
    /// still applies.
    pub fn retry_policy(self, policy: RetryPolicy) -> Self {
        self.options(CallOptions::new().retry_policy(policy))
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
        Ok((self.client, self.req?, self.limits))
    }

    /// Sends the request and decodes the JSON answer (an empty answer decodes as `null`,
    /// so `()` and `Option<T>` work for `204 No Content`).
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, Error> {
        let (client, req, _) = self.into_api_request()?;
        client.transport().send(&req).await?.json()
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
                .map_ok(|(client, req, limits)| paging::items_limited::<T>(client, req, limits))
                .try_flatten(),
        )
    }
}

/// The request to a path written out in full; its endpoint name is the path with the
/// segments that look like values replaced (see [`template_of`]).
fn prepare_path(method: Method, path: &str) -> Result<ApiRequest, Error> {
    check_absolute(path)?;
    let (path, inline_query) = split_query(path);
    let mut req = ApiRequest::new(method, Cow::Owned(template_of(path)));
    req.path = path.to_owned();
    Ok(with_inline_query(req, inline_query))
}

/// The request to `template`, placeholders filled from `args`. A `&'static str` template
/// is kept as it is (no copy per request).
fn prepare_template(
    method: Method,
    template: Cow<'static, str>,
    args: &[&str],
) -> Result<ApiRequest, Error> {
    check_absolute(&template)?;
    let (template, inline_query) = match template {
        Cow::Borrowed(template) => {
            let (path, query) = split_query(template);
            (Template::Static(path), query.map(str::to_owned))
        }
        Cow::Owned(template) => {
            let (path, query) = split_query(&template);
            (Template::Shared(Arc::from(path)), query.map(str::to_owned))
        }
    };
    let req = ApiRequest::with_args(method, template, args)?;
    Ok(with_inline_query(req, inline_query.as_deref()))
}

fn check_absolute(path: &str) -> Result<(), Error> {
    if path.starts_with('/') {
        return Ok(());
    }
    Err(ValidationError::single(
        "path",
        "absolute_path",
        "the path must start with `/`, e.g. /api/v2/users/me",
    )
    .into())
}

/// A query written into the path is sent as written, but kept out of the endpoint name
/// that errors, spans and metrics carry: it can hold values.
fn split_query(path: &str) -> (&str, Option<&str>) {
    match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    }
}

fn with_inline_query(mut req: ApiRequest, query: Option<&str>) -> ApiRequest {
    if let Some(query) = query {
        req.query = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    }
    req
}

fn body_error(reason: String) -> Error {
    ValidationError::single(
        "body",
        "json",
        format!("the body cannot be serialized as JSON: {reason}"),
    )
    .into()
}

/// The endpoint name of a path written out in full: segments that look like ids or values
/// (anything with a digit, as UUIDs, numbers, `custom_-_<uuid>` action ids and dates have,
/// but not a version such as `v2`; anything percent-encoded or with `@`) become `{id}`, so
/// that spans, metrics and errors stay free of values and low in cardinality. A value of
/// letters only cannot be told from a word of the path: ids go in
/// [`Client::request_template`] arguments.
fn template_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            let version = segment
                .strip_prefix('v')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            let looks_like_value = (!version && segment.bytes().any(|b| b.is_ascii_digit()))
                || segment.contains(['%', '@', ' ', '+', '{', '}', ':', '=', ',', ';']);
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
        assert_eq!(
            template_of(
                "/api/v2/integrations/actions/custom_-_0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b/draft"
            ),
            "/api/v2/integrations/actions/{id}/draft"
        );
        assert_eq!(template_of("/api/v2/things/ab12cd"), "/api/v2/things/{id}");
        assert_eq!(
            template_of("/api/v2/scim/v2/users"),
            "/api/v2/scim/v2/users"
        );
    }
}
