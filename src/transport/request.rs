//! A request as a value: what to send, not how.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;

use crate::validation::ValidationError;

/// The body of a request, serialized once so that retries resend the same bytes.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Json(Bytes),
    Form(Bytes),
}

/// `value` as JSON bytes. The buffer starts at 256 bytes, the size of a typical request
/// body: `serde_json::to_vec` starts empty and grows 8, 16, 32, ... (six reallocations to
/// reach 256), and a reallocation takes the allocator's arena lock, which workers
/// freeing each other's requests contend for.
pub(crate) fn json_bytes<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    serde_json::to_writer(&mut buf, value)?;
    Ok(buf)
}

/// A path template (`/api/v2/users/{userId}`): the low-cardinality name of an endpoint in
/// errors, spans and metrics. Cheap to clone: flows use `&'static str` templates, and
/// templates built at run time are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Template {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Deref for Template {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Template::Static(s) => s,
            Template::Shared(s) => s,
        }
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl From<&'static str> for Template {
    fn from(template: &'static str) -> Self {
        Template::Static(template)
    }
}

impl From<Cow<'static, str>> for Template {
    fn from(template: Cow<'static, str>) -> Self {
        match template {
            Cow::Borrowed(s) => Template::Static(s),
            Cow::Owned(s) => Template::Shared(Arc::from(s)),
        }
    }
}

/// `METHOD /template`, formatted only when an error or a message needs it.
pub(crate) fn endpoint_name(method: &Method, template: &Template) -> Arc<str> {
    Arc::from(format!("{method} {template}"))
}

/// One Platform API call, described: method, path (already filled), query and body.
///
/// Domain modules build these; the transport sends them.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    /// The path with its placeholders kept, for tracing and metrics (low cardinality).
    pub(crate) template: Template,
    /// The path to send, placeholders filled and encoded.
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Body>,
    pub(crate) idempotent: bool,
    /// A full URL to send to instead of `path` on the client's base (calls to systems
    /// other than Genesys Cloud, e.g. a Data Action's target).
    pub(crate) absolute: Option<url::Url>,
    /// Headers beyond the transport's own.
    pub(crate) headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// Overrides the client's per-attempt timeout for this request.
    pub(crate) attempt_timeout: Option<std::time::Duration>,
    /// Whether the request carries the client's bearer token (the default). `false` for
    /// the operations the platform serves without OAuth: sent with no `Authorization`
    /// header, and no token is fetched for them.
    pub(crate) requires_auth: bool,
}

impl ApiRequest {
    /// A request to a fixed path (no placeholders).
    pub(crate) fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        let template = Template::from(path.into());
        Self::with_path(method, template.to_string(), template)
    }

    fn with_path(method: Method, path: String, template: Template) -> Self {
        let idempotent = is_idempotent_method(&method);
        Self {
            path,
            template,
            method,
            query: Vec::new(),
            body: None,
            idempotent,
            absolute: None,
            headers: Vec::new(),
            attempt_timeout: None,
            requires_auth: true,
        }
    }

    /// A request whose `{placeholders}` are filled with `args` (see [`super::path::fill`]).
    pub(crate) fn with_args(
        method: Method,
        template: impl Into<Template>,
        args: &[&str],
    ) -> Result<Self, ValidationError> {
        let template = template.into();
        let path = super::path::fill(&template, args)?;
        Ok(Self::with_path(method, path, template))
    }

    pub(crate) fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    pub(crate) fn json<T: serde::Serialize + ?Sized>(
        mut self,
        body: &T,
    ) -> Result<Self, ValidationError> {
        let bytes = json_bytes(body).map_err(|e| {
            ValidationError::single(
                "body",
                "json",
                format!("the request body cannot be serialized as JSON: {e}"),
            )
        })?;
        self.body = Some(Body::Json(Bytes::from(bytes)));
        Ok(self)
    }

    pub(crate) fn form(mut self, encoded: &'static str) -> Self {
        self.body = Some(Body::Form(Bytes::from_static(encoded.as_bytes())));
        self
    }

    pub(crate) fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// `METHOD /template`, the name errors and messages use.
    pub(crate) fn endpoint(&self) -> Arc<str> {
        endpoint_name(&self.method, &self.template)
    }
}

impl fmt::Display for ApiRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// GET, HEAD, PUT, DELETE and OPTIONS may be repeated without changing the outcome
/// (RFC 9110 §9.2.2); POST and PATCH may not, unless the caller says so.
pub(crate) fn is_idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}
