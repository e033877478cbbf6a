//! `FakeGenesys`: a stateful fake of the Genesys Cloud Platform API, for tests and examples.
//!
//! It runs a real HTTP server on loopback (wiremock underneath) that speaks like the
//! platform: an OAuth token endpoint that checks HTTP Basic credentials and counts the
//! tokens it issues, API endpoints that demand a live bearer token (except those added
//! with [`FakeGenesys::route_without_auth`], as the platform serves a few), Genesys-shaped
//! error bodies and `ININ-Correlation-Id` headers, injectable faults (429 storms, 5xx,
//! delays, malformed and oversized bodies, dropped connections, expired tokens) and a
//! journal of every request received.
//!
//! Use it to test your own services without an org:
//!
//! ```
//! use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
//! use genesys_cloud::Method;
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), genesys_cloud::Error> {
//! let fake = FakeGenesys::start().await;
//! let clock = ManualClock::new();
//! let client = fake.client_builder().clock(clock.clone()).build()?;
//!
//! fake.inject(Fault::RateLimited { retry_after: Some(Duration::from_secs(3)) }, 2);
//! let org: serde_json::Value = client.request(Method::GET, "/api/v2/organizations/me").send().await?;
//!
//! assert_eq!(org["name"], "Fake Genesys Org");
//! assert_eq!(clock.sleeps(), [Duration::from_secs(3), Duration::from_secs(3)]);
//! assert_eq!(fake.tokens_issued(), 1);
//! # Ok(()) }
//! ```
//!
//! Add endpoints of your own with [`FakeGenesys::route`]; they get the same token
//! checks, faults and journal ([`FakeGenesys::route_without_auth`]: the same without the
//! token check).
//!
//! With the `api` feature, answer the generated API's operations with their own models:
//! `fake.answer(|api| api.routing().get_routing_queue("q-1").send(), &queue)` (see
//! `FakeGenesys::answer` and `FakeGenesys::answer_items`, and `docs/testing.md`).

// Fake endpoints return `Result<_, ResponseTemplate>`: the error is the answer to send,
// built once per request, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

#[cfg(feature = "nodes")]
mod action_rules;
#[cfg(feature = "api")]
mod answers;
#[cfg(feature = "callbacks")]
mod callbacks;
mod clock;
mod described;
mod faults;
#[cfg(feature = "guests")]
mod guests;
#[cfg(feature = "integrations")]
mod integrations;
#[cfg(feature = "nodes")]
mod jsonpath;
#[cfg(feature = "messaging")]
mod messaging;
#[cfg(feature = "nodes")]
mod nodes;
#[cfg(feature = "notifications")]
mod notifications;
mod responses;
mod router;
mod token;
#[cfg(feature = "nodes")]
mod velocity;
#[cfg(feature = "webhook")]
mod webhooks;
#[cfg(any(feature = "guests", feature = "notifications"))]
mod ws;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[cfg(feature = "api")]
pub use answers::{Operations, Unsent};
pub use clock::ManualClock;
pub use described::DescribedApi;
pub use faults::Fault;
#[cfg(feature = "messaging")]
pub use messaging::SeededConversation;
pub use responses::{bad_request, genesys_error, json_response};
pub use router::FakeRequest;
#[cfg(feature = "webhook")]
pub use webhooks::WebhookInbox;

use crate::client::{Client, ClientBuilder, ENV_CLIENT_ID};
use crate::error::Error;
use crate::Method;
use router::{Handler, PathPattern, Route};
use token::Tokens;

/// The OAuth client id the fake accepts unless told otherwise.
pub const FAKE_CLIENT_ID: &str = "fake-client-id";
/// The OAuth client secret the fake accepts unless told otherwise.
pub const FAKE_CLIENT_SECRET: &str = "fake-client-secret";
/// The organization the fake answers `GET /api/v2/organizations/me` with.
pub const FAKE_ORG_ID: &str = "6a1f3bb0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";

/// A running fake of Genesys Cloud. Stops when dropped.
pub struct FakeGenesys {
    server: MockServer,
    state: Arc<FakeState>,
}

/// Configures a [`FakeGenesys`].
#[derive(Debug)]
#[must_use]
pub struct FakeGenesysBuilder {
    client_id: String,
    client_secret: String,
    token_lifetime: Duration,
    record_requests: bool,
}

impl Default for FakeGenesysBuilder {
    fn default() -> Self {
        Self {
            client_id: FAKE_CLIENT_ID.into(),
            client_secret: FAKE_CLIENT_SECRET.into(),
            token_lifetime: Duration::from_secs(86_400),
            record_requests: true,
        }
    }
}

impl FakeGenesysBuilder {
    /// The only client credentials the token endpoint accepts.
    pub fn credentials(mut self, client_id: &str, client_secret: &str) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// The `expires_in` of issued tokens (default 24 h, as the platform's default).
    /// The fake refuses a token once this much real time has passed.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Whether the journal keeps every request (default on); off, [`FakeGenesys::requests`]
    /// is empty. The HTTP server underneath (wiremock) still keeps a copy of every request
    /// it answered, about 5 KB each, for the fake's lifetime: a fake serving millions of
    /// requests belongs in a process of its own (as `examples/soak.rs` runs it).
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record_requests = record;
        self
    }

    /// Starts the server on a free loopback port.
    pub async fn start(self) -> FakeGenesys {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        #[cfg(feature = "notifications")]
        let notifications = Arc::new(notifications::Notifications::default());
        let state = Arc::new(FakeState {
            tokens: Tokens::new(self.client_id, self.client_secret, self.token_lifetime),
            routes: RwLock::new(Vec::new()),
            api_faults: Mutex::new(VecDeque::new()),
            login_faults: Mutex::new(VecDeque::new()),
            targeted_faults: Mutex::new(Vec::new()),
            journal: Mutex::new(Vec::new()),
            record_requests: self.record_requests,
            #[cfg(feature = "api")]
            answers: Mutex::default(),
            #[cfg(feature = "messaging")]
            messaging: Arc::default(),
            #[cfg(feature = "integrations")]
            integrations: Arc::default(),
            #[cfg(feature = "nodes")]
            actions: Arc::default(),
            #[cfg(all(feature = "callbacks", feature = "notifications"))]
            callbacks: Arc::new(callbacks::CallbacksStore::new(notifications.clone())),
            #[cfg(all(feature = "callbacks", not(feature = "notifications")))]
            callbacks: Arc::new(callbacks::CallbacksStore::new(())),
            #[cfg(feature = "notifications")]
            notifications,
            #[cfg(feature = "guests")]
            guests: Arc::default(),
        });
        Mock::given(any())
            .respond_with(Dispatcher {
                state: state.clone(),
            })
            // Lowest priority: mocks a user mounts on `server()` answer first.
            .with_priority(u8::MAX)
            .mount(&server)
            .await;
        let fake = FakeGenesys { server, state };
        fake.route(Method::GET, "/api/v2/organizations/me", |_| {
            json_response(
                200,
                &json!({
                    "id": FAKE_ORG_ID,
                    "name": "Fake Genesys Org",
                    "defaultLanguage": "en-us",
                    "domain": "fakegenesys",
                    "state": "active",
                    "version": 1,
                    "selfUri": format!("/api/v2/organizations/{FAKE_ORG_ID}"),
                }),
            )
        });
        #[cfg(feature = "messaging")]
        messaging::install(&fake, fake.state.messaging.clone());
        #[cfg(feature = "integrations")]
        integrations::install(&fake, fake.state.integrations.clone());
        #[cfg(feature = "nodes")]
        nodes::install(&fake, fake.state.actions.clone());
        #[cfg(feature = "callbacks")]
        callbacks::install(&fake, fake.state.callbacks.clone());
        #[cfg(feature = "notifications")]
        notifications::install(&fake, fake.state.notifications.clone()).await;
        #[cfg(feature = "guests")]
        fake.state.guests.listen().await;
        fake
    }
}

struct FakeState {
    tokens: Tokens,
    routes: RwLock<Vec<Route>>,
    api_faults: Mutex<VecDeque<Fault>>,
    login_faults: Mutex<VecDeque<Fault>>,
    targeted_faults: Mutex<Vec<TargetedFault>>,
    journal: Mutex<Vec<RecordedRequest>>,
    record_requests: bool,
    /// The answers of generated operations ([`FakeGenesys::answer`]), by method and path
    /// template.
    #[cfg(feature = "api")]
    answers: Mutex<HashMap<(Method, &'static str), Arc<answers::Answers>>>,
    #[cfg(feature = "messaging")]
    messaging: Arc<messaging::MessagingStore>,
    #[cfg(feature = "integrations")]
    integrations: Arc<integrations::IntegrationsStore>,
    #[cfg(feature = "nodes")]
    actions: Arc<nodes::ActionsStore>,
    #[cfg(feature = "callbacks")]
    callbacks: Arc<callbacks::CallbacksStore>,
    #[cfg(feature = "notifications")]
    notifications: Arc<notifications::Notifications>,
    #[cfg(feature = "guests")]
    guests: Arc<guests::GuestServer>,
}

/// A fault waiting for requests of one method on one path shape.
struct TargetedFault {
    method: Method,
    pattern: PathPattern,
    fault: Fault,
    remaining: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request the fake received.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path, as sent (still percent-encoded).
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// The `Authorization` header's scheme (`Bearer`, `Basic`), if any.
    pub auth_scheme: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

impl FakeGenesys {
    /// Starts a fake with the default credentials ([`FAKE_CLIENT_ID`], [`FAKE_CLIENT_SECRET`]).
    pub async fn start() -> FakeGenesys {
        FakeGenesys::builder().start().await
    }

    /// Configures a fake before starting it.
    pub fn builder() -> FakeGenesysBuilder {
        FakeGenesysBuilder::default()
    }

    /// The base URL, for both the API and the login service (e.g. `http://127.0.0.1:41234`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A client builder pointed at this fake with its credentials; adjust and build.
    pub fn client_builder(&self) -> ClientBuilder {
        let builder = Client::builder()
            .base_urls(&self.uri(), &self.uri())
            .credentials(
                self.state.tokens.client_id(),
                self.state.tokens.client_secret(),
            );
        #[cfg(feature = "guests")]
        let builder = builder.web_messaging_base(&self.web_messaging_uri());
        builder
    }

    /// A client pointed at this fake with default settings.
    pub fn client(&self) -> Result<Client, Error> {
        self.client_builder().build()
    }

    /// The underlying wiremock server, to mount mocks of your own (they answer before
    /// the fake's endpoints, but skip its token checks, faults and journal).
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Adds an endpoint. `template` uses `{name}` placeholders; the handler sees their
    /// decoded values in [`FakeRequest::params`]. Requests reach it only with a live
    /// token and after any injected fault.
    pub fn route<F>(&self, method: Method, template: &str, handler: F)
    where
        F: Fn(&FakeRequest) -> ResponseTemplate + Send + Sync + 'static,
    {
        self.add_route(method, template, Arc::new(handler), true);
    }

    /// Adds an endpoint served without OAuth, as the platform serves the operations whose
    /// security is empty in its API description (35 of them: web deployment and web
    /// messaging guest endpoints, Journey's web and app events, knowledge guest sessions,
    /// scorable surveys, documentation search). Requests reach the handler with or without
    /// a token (an `Authorization` header, if any, is not checked) and after any injected
    /// fault; the journal records them as usual.
    ///
    /// ```
    /// use genesys_cloud::testkit::{json_response, FakeGenesys};
    /// use genesys_cloud::{Client, Method};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), genesys_cloud::Error> {
    /// let fake = FakeGenesys::start().await;
    /// fake.route_without_auth(Method::POST, "/api/v2/knowledge/guest/sessions", |_| {
    ///     json_response(200, &serde_json::json!({"id": "s1"}))
    /// });
    /// let guest = Client::builder()
    ///     .base_urls(&fake.uri(), &fake.uri())
    ///     .without_credentials()
    ///     .build()?;
    /// let session: serde_json::Value = guest
    ///     .request(Method::POST, "/api/v2/knowledge/guest/sessions")
    ///     .requires_auth(false)
    ///     .json(&serde_json::json!({}))
    ///     .send()
    ///     .await?;
    /// assert_eq!(session["id"], "s1");
    /// assert_eq!(fake.tokens_issued(), 0);
    /// # Ok(()) }
    /// ```
    pub fn route_without_auth<F>(&self, method: Method, template: &str, handler: F)
    where
        F: Fn(&FakeRequest) -> ResponseTemplate + Send + Sync + 'static,
    {
        self.add_route(method, template, Arc::new(handler), false);
    }

    pub(crate) fn add_route(
        &self,
        method: Method,
        template: &str,
        handler: Handler,
        requires_auth: bool,
    ) {
        self.state
            .routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Route::new(method, template, handler, requires_auth));
    }

    /// Adds an endpoint that wins over those of the same shape added before (the flows').
    #[cfg(feature = "api")]
    pub(crate) fn add_route_first(
        &self,
        method: Method,
        template: &str,
        handler: Handler,
        requires_auth: bool,
    ) {
        self.state
            .routes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(0, Route::new(method, template, handler, requires_auth));
    }

    /// The next `times` API requests (under `/api/`) show `fault`, after any faults
    /// injected before.
    pub fn inject(&self, fault: Fault, times: usize) {
        lock(&self.state.api_faults).extend(std::iter::repeat_n(fault, times));
    }

    /// The next `times` requests with `method` on paths of the shape `template`
    /// (`{name}` placeholders match any one segment) show `fault`, before any fault
    /// injected with [`FakeGenesys::inject`]. For failing one step of a multi-step flow.
    pub fn inject_on(&self, method: Method, template: &str, fault: Fault, times: usize) {
        lock(&self.state.targeted_faults).push(TargetedFault {
            method,
            pattern: PathPattern::new(template),
            fault,
            remaining: times,
        });
    }

    /// The next `times` token requests show `fault`.
    pub fn inject_login(&self, fault: Fault, times: usize) {
        lock(&self.state.login_faults).extend(std::iter::repeat_n(fault, times));
    }

    /// Drops every fault injected but not yet shown: the fake behaves again.
    pub fn clear_faults(&self) {
        lock(&self.state.api_faults).clear();
        lock(&self.state.login_faults).clear();
        lock(&self.state.targeted_faults).clear();
    }

    /// Faults injected but not yet shown.
    pub fn pending_faults(&self) -> usize {
        let targeted: usize = lock(&self.state.targeted_faults)
            .iter()
            .map(|t| t.remaining)
            .sum();
        lock(&self.state.api_faults).len() + lock(&self.state.login_faults).len() + targeted
    }

    /// Every token issued so far is refused from now on (as when tokens expire or are
    /// revoked); clients must fetch new ones.
    pub fn expire_tokens(&self) {
        self.state.tokens.expire_all();
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.state.tokens.issued()
    }

    /// Every request received so far, token requests included, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.journal).clone()
    }

    /// The requests received with `method` on `path` (percent-encoded, no query).
    pub fn requests_to(&self, method: Method, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state.journal)
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for FakeGenesys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGenesys")
            .field("uri", &self.uri())
            .finish_non_exhaustive()
    }
}

/// A client for the org named by the `GENESYS_*` environment variables when
/// `GENESYS_CLIENT_ID` is set; otherwise a started [`FakeGenesys`] and a client for it.
/// Keep the fake alive as long as the client is used.
pub async fn client_from_env_or_fake() -> Result<(Client, Option<FakeGenesys>), Error> {
    let (builder, fake) = builder_from_env_or_fake().await?;
    Ok((builder.build()?, fake))
}

/// Like [`client_from_env_or_fake`], but returns the builder so more settings can be made.
pub async fn builder_from_env_or_fake() -> Result<(ClientBuilder, Option<FakeGenesys>), Error> {
    if std::env::var_os(ENV_CLIENT_ID).is_some() {
        return Ok((ClientBuilder::from_env()?, None));
    }
    let fake = FakeGenesys::start().await;
    Ok((fake.client_builder(), Some(fake)))
}

/// Answers every request the server receives.
struct Dispatcher {
    state: Arc<FakeState>,
}

impl Respond for Dispatcher {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let method = request.method.clone();
        let path = request.url.path().to_owned();
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let authorization = header("authorization");
        if self.state.record_requests {
            lock(&self.state.journal).push(RecordedRequest {
                method: method.clone(),
                path: path.clone(),
                query: request.url.query().map(str::to_owned),
                auth_scheme: authorization
                    .as_deref()
                    .and_then(|a| a.split_whitespace().next())
                    .map(str::to_owned),
                user_agent: header("user-agent"),
                content_type: header("content-type"),
                body: request.body.clone(),
            });
        }

        let is_login = path == "/oauth/token";
        // The external system that Data Actions call is not Genesys: no bearer token,
        // and only targeted faults (`inject_on`), not the `/api/` queue.
        let is_external = path.starts_with("/external/");
        let faults = if is_login {
            Some(&self.state.login_faults)
        } else if path.starts_with("/api/") {
            Some(&self.state.api_faults)
        } else if is_external {
            None
        } else {
            return not_found(&method, &path);
        };
        let fault = self
            .targeted_fault(&method, &path)
            .or_else(|| faults.and_then(|f| lock(f).pop_front()));
        let mut delay = None;
        if let Some(fault) = fault {
            match (fault.response(), fault) {
                (Some(response), _) => return with_correlation_id(response),
                (None, Fault::Delay(d)) => delay = Some(d),
                (None, _) => {}
            }
        }

        let response = if is_login {
            self.state.tokens.issue(
                &method,
                authorization.as_deref(),
                header("content-type").as_deref(),
                &request.body,
            )
        } else if is_external || !self.requires_auth(&method, &path) {
            self.route(method, &path, request)
        } else if let Some(refused) = self.state.tokens.refusal(authorization.as_deref()) {
            refused
        } else {
            self.route(method, &path, request)
        };
        let response = with_correlation_id(response);
        match delay {
            Some(d) => response.set_delay(d),
            None => response,
        }
    }
}

impl Dispatcher {
    fn targeted_fault(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut targeted = lock(&self.state.targeted_faults);
        let hit = targeted.iter_mut().find(|t| {
            t.remaining > 0 && t.method == *method && t.pattern.matches(path).is_some()
        })?;
        hit.remaining -= 1;
        let fault = hit.fault.clone();
        targeted.retain(|t| t.remaining > 0);
        Some(fault)
    }

    /// Whether the route serving `method` on `path` demands a token: every route but
    /// those added with [`FakeGenesys::route_without_auth`] (and a path no route serves,
    /// which is refused without a token as the platform does).
    fn requires_auth(&self, method: &Method, path: &str) -> bool {
        let routes = self.state.routes.read().unwrap_or_else(|p| p.into_inner());
        // Most fakes have no route without auth: no path matching for them.
        routes.iter().all(Route::requires_auth)
            || best_route(&routes, method, path).is_none_or(|(route, _, _)| route.requires_auth())
    }

    fn route(&self, method: Method, path: &str, request: &Request) -> ResponseTemplate {
        let routes = self.state.routes.read().unwrap_or_else(|p| p.into_inner());
        let (best, path_matched) = match best_route(&routes, &method, path) {
            Some((route, params, _)) => (Some((route, params)), true),
            None => (None, routes.iter().any(|r| r.matches(path).is_some())),
        };
        match best {
            Some((route, params)) => {
                let req = FakeRequest {
                    method,
                    path: path.to_owned(),
                    params,
                    query: request
                        .url
                        .query_pairs()
                        .into_owned()
                        .collect::<HashMap<_, _>>(),
                    headers: request
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_owned()))
                        })
                        .collect(),
                    body: request.body.clone(),
                };
                route.handle(&req)
            }
            None if path_matched => genesys_error(
                405,
                "method.not.allowed",
                &format!("{method} is not allowed on {path}"),
            ),
            None => not_found(&method, path),
        }
    }
}

/// The route serving `method` on `path`, with its placeholder values: the most specific
/// (most literal segments) of those matching, whatever the order in which flows installed
/// theirs (`/integrations/actions` beats `/integrations/{id}`).
fn best_route<'r>(
    routes: &'r [Route],
    method: &Method,
    path: &str,
) -> Option<(&'r Route, HashMap<String, String>, usize)> {
    let mut best: Option<(&Route, HashMap<String, String>, usize)> = None;
    for route in routes {
        if route.method() != method {
            continue;
        }
        let Some(params) = route.matches(path) else {
            continue;
        };
        let specificity = route.literal_segments();
        if best.as_ref().is_none_or(|(_, _, s)| specificity > *s) {
            best = Some((route, params, specificity));
        }
    }
    best
}

fn not_found(method: &Method, path: &str) -> ResponseTemplate {
    genesys_error(
        404,
        "not.found",
        &format!("FakeGenesys has no endpoint {method} {path}; add one with FakeGenesys::route"),
    )
}

fn with_correlation_id(response: ResponseTemplate) -> ResponseTemplate {
    response.insert_header(
        "ININ-Correlation-Id",
        uuid::Uuid::new_v4().to_string().as_str(),
    )
}
