//! What the generated operations need from a client: the [`Sender`] trait, and the
//! [`ApiCall`] value each operation builds for it.

use std::fmt;
use std::future::Future;

use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The HTTP method of an operation (the Platform API uses these six).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as HTTP writes it (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// GET, HEAD, PUT and DELETE may be repeated without changing the outcome (RFC 9110
    /// §9.2.2), so a sender may retry them after a 5xx or a lost connection; POST and
    /// PATCH may not.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Put | Method::Delete
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation call, described: what to send, not how. Generated operations build it;
/// a [`Sender`] sends it.
///
/// The path stays a template with its arguments beside it, so that the sender can encode
/// each argument as one path segment and name the endpoint by its template in traces and
/// metrics (no ids in them).
///
/// Most operations need the org's OAuth token; the few the platform serves without one
/// (web deployment and guest endpoints, see [`ApiCall::requires_auth`]) are built with
/// [`ApiCall::set_requires_auth`]`(false)`, and a sender sends those without credentials.
///
/// ```
/// use genesys_cloud_api::{ApiCall, Method};
///
/// let mut call = ApiCall::new("users.get_users", Method::Get, "/api/v2/users");
/// call.set_query("pageSize", "100");
/// call.set_query_list("id", ["a", "b"]);
/// assert_eq!(call.query(), [("pageSize", "100".to_owned()), ("id", "a".to_owned()), ("id", "b".to_owned())]);
/// assert!(call.is_idempotent());
/// assert!(call.requires_auth());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    operation: &'static str,
    method: Method,
    template: &'static str,
    path_args: Vec<String>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Result<Vec<u8>, String>>,
    idempotent: bool,
    requires_auth: bool,
}

impl ApiCall {
    /// A call of `operation` (`group.name`, e.g. `routing.get_routing_queue`) with no
    /// arguments yet; idempotent when the method is; sent with the client's credentials.
    pub fn new(operation: &'static str, method: Method, template: &'static str) -> Self {
        ApiCall {
            operation,
            method,
            template,
            path_args: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            idempotent: method.is_idempotent(),
            requires_auth: true,
        }
    }

    /// Adds the value of the next `{placeholder}` of the path (unencoded: the sender
    /// encodes it as one segment).
    pub fn push_path_arg(&mut self, value: impl Into<String>) {
        self.path_args.push(value.into());
    }

    /// Sets a query parameter, replacing any value it had.
    pub fn set_query(&mut self, name: &'static str, value: impl Into<String>) {
        self.query.retain(|(k, _)| *k != name);
        self.query.push((name, value.into()));
    }

    /// Sets a list query parameter, one `name=value` pair per value (the `multi` format
    /// of the Platform API), replacing any values it had.
    pub fn set_query_list<I, V>(&mut self, name: &'static str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.query.retain(|(k, _)| *k != name);
        self.query
            .extend(values.into_iter().map(|v| (name, v.into())));
    }

    /// Sets a header, replacing any value it had.
    pub fn set_header(&mut self, name: &'static str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name, value.into()));
    }

    /// Serializes `body` as the JSON body, once (retries send the same bytes). A value
    /// that cannot be serialized is kept as an error for the sender to report.
    pub fn set_json_body<T: Serialize + ?Sized>(&mut self, body: &T) {
        self.body = Some(serde_json::to_vec(body).map_err(|e| e.to_string()));
    }

    /// Declares whether sending the call twice has the effect of sending it once (e.g. a
    /// POST with an `Idempotency-Key` header), which lets the sender retry it.
    pub fn set_idempotent(&mut self, idempotent: bool) {
        self.idempotent = idempotent;
    }

    /// Declares whether the call needs the client's credentials (the default). The
    /// generated operations that the platform serves without OAuth (their security in the
    /// API description is empty) set `false`.
    pub fn set_requires_auth(&mut self, requires_auth: bool) {
        self.requires_auth = requires_auth;
    }

    /// `group.name` of the operation.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path template, `{placeholders}` and all (`/api/v2/routing/queues/{queueId}`).
    pub fn template(&self) -> &'static str {
        self.template
    }

    /// The values of the template's placeholders, in order, unencoded.
    pub fn path_args(&self) -> &[String] {
        &self.path_args
    }

    /// Query parameters in order; a list parameter appears once per value.
    pub fn query(&self) -> &[(&'static str, String)] {
        &self.query
    }

    /// Headers of the operation (`If-Match`, `Accept-Language`, ...).
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// The JSON body, if any, or why it could not be serialized.
    pub fn body(&self) -> Result<Option<&[u8]>, &str> {
        match &self.body {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes)),
            Some(Err(e)) => Err(e),
        }
    }

    /// Whether the sender may retry the call after a 5xx, a timeout or a lost connection.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// Whether the call needs the client's credentials. `false` for the operations the
    /// platform serves without OAuth (35 in the description: Journey's web and app
    /// events, knowledge guest sessions, scorable surveys, web deployment and web
    /// messaging guest endpoints, documentation search, ...): a sender sends them with no
    /// `Authorization` header and without fetching a token, so a client with no
    /// credentials can call them.
    pub fn requires_auth(&self) -> bool {
        self.requires_auth
    }
}

/// A client that sends [`ApiCall`]s: `genesys_cloud::Client` implements it (feature `api`
/// of `genesys-cloud`), so every generated operation gets its auth, retries, rate limits,
/// metrics and tracing.
///
/// A call whose [`ApiCall::requires_auth`] is `false` must be sent without credentials
/// (no `Authorization` header, no token fetched for it).
///
/// Implement it to send the generated calls some other way (a recording fake, another
/// HTTP stack).
pub trait Sender: Sync {
    /// What a failed call returns.
    type Error: Send + 'static;

    /// Sends `call` and decodes the JSON answer (an empty answer as JSON `null`).
    fn send<T>(&self, call: ApiCall) -> impl Future<Output = Result<T, Self::Error>> + Send
    where
        T: DeserializeOwned + Send + 'static;

    /// Sends `call` and ignores the answer (operations that answer with no content).
    fn send_empty(&self, call: ApiCall) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let answer = self.send::<serde::de::IgnoredAny>(call);
        async move { answer.await.map(|_| ()) }
    }

    /// Sends `call` and returns the answer as text (`text/plain`, `text/calendar`).
    fn send_text(&self, call: ApiCall) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Every item (`entities`) of a paged listing, fetching pages as the stream is read:
    /// the sender follows `nextUri`, `cursor` or `pageNumber`/`pageCount`.
    fn paginate<T>(
        &self,
        call: ApiCall,
    ) -> impl Stream<Item = Result<T, Self::Error>> + Send + use<Self, T>
    where
        T: DeserializeOwned + Send + 'static;
}

/// The generated API on a [`Sender`]: one method per group (each behind its feature),
/// each giving that group's operations.
///
/// ```ignore
/// use genesys_cloud::api::ApiExt;
/// let queue = client.api().routing().get_routing_queue(queue_id).send().await?;
/// ```
pub struct Api<'a, S> {
    sender: &'a S,
}

impl<'a, S: Sender> Api<'a, S> {
    /// The API on `sender`.
    pub fn new(sender: &'a S) -> Self {
        Api { sender }
    }

    /// The sender the calls go through.
    pub fn sender(&self) -> &'a S {
        self.sender
    }
}

impl<S> Clone for Api<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Api<'_, S> {}

impl<S> fmt::Debug for Api<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

/// `.api()` on every [`Sender`].
pub trait ApiExt: Sender + Sized {
    /// The generated API, sent through this client.
    fn api(&self) -> Api<'_, Self> {
        Api::new(self)
    }
}

impl<S: Sender> ApiExt for S {}
