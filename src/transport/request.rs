//! A request as a value: what to send, not how.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use reqwest::Method;

use crate::validation::ValidationError;

/// The body of a request, serialized once so that retries resend the same bytes.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Json(Bytes),
    Form(Bytes),
}

/// One Platform API call, described: method, path (already filled), query and body.
///
/// Domain modules build these; the transport sends them.
#[derive(Clone, Debug)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    /// The path with its placeholders kept, for tracing and metrics (low cardinality).
    pub(crate) template: Cow<'static, str>,
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
}

impl ApiRequest {
    /// A request to a fixed path (no placeholders).
    pub(crate) fn new(method: Method, path: impl Into<Cow<'static, str>>) -> Self {
        let template = path.into();
        let idempotent = is_idempotent_method(&method);
        Self {
            path: template.to_string(),
            template,
            method,
            query: Vec::new(),
            body: None,
            idempotent,
            absolute: None,
            headers: Vec::new(),
            attempt_timeout: None,
        }
    }

    /// A request whose `{placeholders}` are filled with `args` (see [`super::path::fill`]).
    pub(crate) fn with_args(
        method: Method,
        template: impl Into<Cow<'static, str>>,
        args: &[&str],
    ) -> Result<Self, ValidationError> {
        let template = template.into();
        let path = super::path::fill(&template, args)?;
        let mut req = Self::new(method, template);
        req.path = path;
        Ok(req)
    }

    pub(crate) fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    pub(crate) fn json<T: serde::Serialize + ?Sized>(
        mut self,
        body: &T,
    ) -> Result<Self, ValidationError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
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

    /// `METHOD /template`, the name errors, spans and metrics use.
    pub(crate) fn endpoint(&self) -> std::sync::Arc<str> {
        std::sync::Arc::from(format!("{} {}", self.method, self.template))
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
