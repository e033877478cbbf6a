//! Runs a Data Action directly against its target, so a flow author can try it before
//! publishing: render, send (through the shared transport), cache, translate, check.

use std::borrow::Cow;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};

use sha2::{Digest, Sha256};

use super::template::Credentials;
use super::{DataAction, PreparedRequest};
use crate::client::Client;
use crate::error::Error;
use crate::transport::{ApiRequest, Body};
use crate::validation::{ValidationError, Violations};
use crate::Method;

/// Entries the response cache holds by default; the least recently used goes first.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// How long a cached result is served by default (5 minutes).
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// Executes one [`DataAction`] locally.
///
/// For each input: checks it against the input contract, renders the request as the
/// platform renders it (with the [`credentials`](LocalExecutor::credentials) given
/// here), and looks up the cache by the SHA-256 of method, URL, headers and body (so two
/// bodies never share an entry). On a miss it sends the request through the client's
/// transport (timeouts, retries with backoff, metrics): an absolute URL without Genesys
/// credentials, a path (`/api/v2/…`, the Genesys Cloud Data Actions integration) to the
/// client's own API with the client's token. It then translates the answer with the
/// translation map (Jayway rules; defaults where a path fails to resolve) and the
/// success template (`$rawResult` is the body as received), checks the result against
/// the success schema, and caches it. A result that breaks the contract is an
/// [`ErrorKind::Decode`](crate::ErrorKind::Decode) error listing its
/// [`contract_problems`](Error::contract_problems), and is neither retried nor cached.
#[derive(Debug)]
pub struct LocalExecutor {
    client: Client,
    action: DataAction,
    credentials: Credentials,
    cache: Mutex<LruCache<[u8; 32], Cached>>,
    ttl: Duration,
    retry_writes: bool,
}

struct Cached {
    output: Value,
    stored: Instant,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The output is user data: not shown.
        f.debug_struct("Cached")
            .field("stored", &self.stored)
            .finish_non_exhaustive()
    }
}

impl LocalExecutor {
    /// An executor for `action`, sending through `client`'s transport.
    pub fn new(client: Client, action: DataAction) -> Self {
        let capacity = NonZeroUsize::new(DEFAULT_CACHE_CAPACITY).unwrap_or(NonZeroUsize::MIN);
        Self {
            client,
            action,
            credentials: Credentials::new(),
            cache: Mutex::new(LruCache::new(capacity)),
            ttl: DEFAULT_CACHE_TTL,
            retry_writes: true,
        }
    }

    /// The integration's credential fields, for `${credentials.x}` (on the platform
    /// they come from the integration's configuration). Kept secret: never in `Debug`,
    /// logs or errors; changing them empties the cache.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self.lock().clear();
        self
    }

    /// How many results the cache holds (at least 1).
    pub fn cache_capacity(self, capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            cache: Mutex::new(LruCache::new(capacity)),
            ..self
        }
    }

    /// How long a result is served from the cache; `Duration::ZERO` turns caching off.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether POST, PUT and PATCH targets may be retried after a 5xx, a timeout or a lost
    /// connection (on by default, as a flow's REST node retries every call; turn it off
    /// for targets where a repeated call does harm). 429 is always retried.
    pub fn retry_writes(mut self, retry: bool) -> Self {
        self.retry_writes = retry;
        self
    }

    /// The action.
    pub fn action(&self) -> &DataAction {
        &self.action
    }

    /// Results in the cache (expired ones included until they are looked up or evicted).
    pub fn cached(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<[u8; 32], Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the action for `input` and returns what the flow would see.
    pub async fn execute(&self, input: &Value) -> Result<Value, Error> {
        if !input.is_object() {
            return Err(ValidationError::single(
                "input",
                "object",
                "the input of a data action is a JSON object",
            )
            .into());
        }
        self.action.check_input(input)?;
        let prepared = self.action.prepare_with(input, &self.credentials)?;
        let key = cache_key(&prepared);
        let metrics = self.client.metrics();
        if let Some(hit) = self.cache_get(&key) {
            metrics.counter("nodes.cache_hits").inc();
            return Ok(hit);
        }
        metrics.counter("nodes.cache_misses").inc();
        let request = self.request(&prepared)?;
        let response = if self.action.calls_genesys_cloud() {
            self.client.transport().send(&request).await?
        } else {
            self.client.transport().send_external(&request).await?
        };
        let body = String::from_utf8_lossy(response.body());
        let output = self
            .action
            .translate(&body, Some(input))
            .map_err(|problems| {
                Error::contract(
                    format!("the response of data action {:?}", self.action.name()),
                    problems,
                )
            })?;
        self.cache_put(key, &output);
        Ok(output)
    }

    fn cache_get(&self, key: &[u8; 32]) -> Option<Value> {
        if self.ttl.is_zero() {
            return None;
        }
        let now = self.client.transport().core.clock.now();
        let mut cache = self.lock();
        match cache.get(key) {
            Some(hit) if now.saturating_duration_since(hit.stored) < self.ttl => {
                Some(hit.output.clone())
            }
            Some(_) => {
                cache.pop(key);
                None
            }
            None => None,
        }
    }

    fn cache_put(&self, key: [u8; 32], output: &Value) {
        if self.ttl.is_zero() {
            return;
        }
        let stored = self.client.transport().core.clock.now();
        self.lock().put(
            key,
            Cached {
                output: output.clone(),
                stored,
            },
        );
    }

    /// The rendered URL, absolute; a path is resolved on the client's API and must stay
    /// there (the client's token goes with it).
    fn url(&self, rendered: &str) -> Result<url::Url, Error> {
        let invalid = |why: &str| -> Error {
            ValidationError::single(
                "requestUrlTemplate",
                "absolute_url",
                format!("the rendered URL {why}"),
            )
            .into()
        };
        if !self.action.calls_genesys_cloud() {
            return url::Url::parse(rendered).map_err(|_| invalid("is not a valid URL"));
        }
        let base = self.client.environment().api_base();
        let url = base
            .join(rendered)
            .map_err(|_| invalid("is not a valid path"))?;
        if url.origin() != base.origin() {
            return Err(invalid(
                "leaves the org's API (a value made it a different host)",
            ));
        }
        Ok(url)
    }

    fn request(&self, prepared: &PreparedRequest) -> Result<ApiRequest, Error> {
        let mut v = Violations::default();
        let method = Method::from_bytes(prepared.method.as_bytes())
            .map_err(|_| ValidationError::single("requestType", "method", "not an HTTP method"))?;
        let url = self.url(&prepared.url)?;
        let mut headers = Vec::new();
        let mut form = false;
        for (name, value) in &prepared.headers {
            if name.eq_ignore_ascii_case("content-type") {
                // The transport writes the body's content type itself.
                let lower = value.to_ascii_lowercase();
                if lower.contains("x-www-form-urlencoded") {
                    form = true;
                    continue;
                }
                if lower.contains("json") {
                    continue;
                }
                v.push(
                    format!("headers.{name}"),
                    "content_type",
                    "the local executor sends JSON or form-encoded bodies only",
                );
                continue;
            }
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(mut val)) => {
                    // Values carry inputs and credentials: keep them out of debug output.
                    val.set_sensitive(true);
                    headers.push((n, val));
                }
                _ => v.push(
                    format!("headers.{name}"),
                    "header",
                    "the rendered header is not a valid HTTP header",
                ),
            }
        }
        v.finish()?;
        // The data action, not the URL (which carries input values), names the
        // endpoint in metrics, traces and errors.
        let template = format!("data action {:?}", self.action.name());
        let mut req = ApiRequest::new(method, Cow::Owned(template));
        req.absolute = Some(url);
        req.headers = headers;
        req.attempt_timeout = Some(Duration::from_secs(u64::from(
            self.action.timeout_seconds(),
        )));
        if let Some(body) = &prepared.body {
            let bytes = bytes::Bytes::from(body.clone().into_bytes());
            req.body = Some(if form {
                Body::Form(bytes)
            } else {
                Body::Json(bytes)
            });
        }
        if self.retry_writes {
            req.idempotent = true;
        }
        Ok(req)
    }
}

/// SHA-256 of method, URL, headers and body, each length-prefixed so that no two
/// requests share a key.
fn cache_key(prepared: &PreparedRequest) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    part(prepared.method.as_bytes());
    part(prepared.url.as_bytes());
    for (name, value) in &prepared.headers {
        part(name.as_bytes());
        part(value.as_bytes());
    }
    match &prepared.body {
        Some(body) => {
            part(b"body");
            part(body.as_bytes());
        }
        None => part(b"no body"),
    }
    hash.finalize().into()
}

/// The platform's error shape (`ErrorBody`) and status for a failed execution, as
/// `POST /api/v2/integrations/actions/{id}/execute` would answer.
pub fn platform_error(err: &Error) -> (u16, Value) {
    let context_id = uuid::Uuid::new_v4().to_string();
    let body =
        |status: u16, code: &str, message: String, detail_code: &str, details: Vec<Value>| {
            let mut details = details;
            if !detail_code.is_empty() {
                details.push(json!({ "errorCode": detail_code }));
            }
            json!({
                "message": message,
                "code": code,
                "status": status,
                "messageParams": {},
                "contextId": context_id,
                "details": details,
                "errors": [],
            })
        };
    if let Some(v) = err.validation() {
        let details = v
            .violations()
            .iter()
            .map(|x| json!({ "fieldName": x.field, "errorCode": x.rule }))
            .collect();
        return (400, body(400, "bad.request", v.to_string(), "", details));
    }
    match err {
        _ if err.contract_problems().is_some() => (
            400,
            body(
                400,
                "bad.request",
                err.to_string(),
                "ACTION.PROCESSING",
                Vec::new(),
            ),
        ),
        _ if err.api().is_some_and(|api| api.status() < 500) => (
            400,
            body(
                400,
                "bad.request",
                format!("REST call for action execute failed. Message: {err}"),
                "ACTION.REMOTE_ENDPOINT",
                Vec::new(),
            ),
        ),
        _ => (
            500,
            body(
                500,
                "internal.server.error",
                format!("REST call for action execute failed. Message: {err}"),
                "ACTION.REMOTE_ENDPOINT",
                Vec::new(),
            ),
        ),
    }
}
