//! The [`Client`] and its [`ClientBuilder`].

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::auth::{Auth, ClientCredentials, NoCredentials, DEFAULT_REFRESH_MARGIN};
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::net::{Network, NetworkOptions, ProxySetting};
use crate::observe::metrics::HttpMetrics;
use crate::observe::{AuditRecord, AuditSink, DiscardAuditSink, Metrics, MetricsSnapshot};
use crate::region::{Environment, Region};
use crate::request::RequestBuilder;
use crate::transport::{
    CallOptions, HttpCore, RateLimit, RetryBudget, RetryPolicy, Transport, TransportConfig,
    TransportRef,
};
use crate::Method;

/// Environment variable holding the OAuth client id.
pub const ENV_CLIENT_ID: &str = "GENESYS_CLIENT_ID";
/// Environment variable holding the OAuth client secret.
pub const ENV_CLIENT_SECRET: &str = "GENESYS_CLIENT_SECRET";
/// Environment variable holding the region name or domain (`us-east-1`, `mypurecloud.ie`).
pub const ENV_REGION: &str = "GENESYS_REGION";
/// Environment variable holding a custom Platform API base URL (with [`ENV_LOGIN_BASE`]).
pub const ENV_API_BASE: &str = "GENESYS_API_BASE";
/// Environment variable holding a custom OAuth login base URL (with [`ENV_API_BASE`]).
pub const ENV_LOGIN_BASE: &str = "GENESYS_LOGIN_BASE";
/// Environment variable holding a custom Web Messaging Guest API websocket base
/// (`wss://…/v1`), for custom bases whose guest host cannot be derived.
pub const ENV_WEB_MESSAGING_BASE: &str = "GENESYS_WEBMESSAGING_BASE";

/// A Genesys Cloud Platform API client.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`: build one per OAuth client and share
/// it. Clones share the token cache, the connection pool, the rate limit and the metrics.
///
/// ```no_run
/// use genesys_cloud::{Client, Region};
///
/// # async fn run() -> Result<(), genesys_cloud::Error> {
/// let client = Client::builder()
///     .region(Region::EuWest1)
///     .credentials("my-client-id", "my-client-secret")
///     .build()?;
/// let me: serde_json::Value = client
///     .request(genesys_cloud::Method::GET, "/api/v2/organizations/me")
///     .send()
///     .await?;
/// println!("{me}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
    /// The overrides of this handle ([`Client::with_options`]); `None` for the client as
    /// built, so the common call reads no options at all.
    options: Option<Arc<CallOptions>>,
}

struct ClientInner {
    transport: Transport,
    network: Arc<Network>,
    environment: Environment,
    metrics: Metrics,
    audit: Arc<dyn AuditSink>,
    /// The client's notification channels, made at the first subscription.
    #[cfg(feature = "notifications")]
    notifications: std::sync::OnceLock<Arc<crate::notifications::Registry>>,
}

impl Client {
    /// A builder; set a region (or base URLs) and credentials (or an [`Auth`]).
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment: `GENESYS_CLIENT_ID`,
    /// `GENESYS_CLIENT_SECRET`, and either `GENESYS_REGION` or both
    /// `GENESYS_API_BASE` and `GENESYS_LOGIN_BASE` (which win over the region).
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// A request to any Platform API endpoint, with the client's auth, retries, rate
    /// limit and metrics, for endpoints this crate has no module for yet.
    ///
    /// `path` starts with `/api/v2/`; when it contains ids, prefer
    /// [`Client::request_template`], which encodes them and keeps them out of metrics.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, path)
    }

    /// A request whose `{placeholders}` are filled, in order, with `args`, each
    /// percent-encoded as one path segment. The template (not the ids) names the
    /// endpoint in spans and metrics.
    ///
    /// The template is usually a literal (`&'static str`), used as it is; a template
    /// built at run time is passed as a `String`.
    pub fn request_template(
        &self,
        method: Method,
        template: impl Into<Cow<'static, str>>,
        args: &[&str],
    ) -> RequestBuilder {
        RequestBuilder::with_template(self.clone(), method, template.into(), args)
    }

    /// Where this client sends requests.
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// The client's [`Auth`], e.g. to hand a token to a websocket. A client built
    /// [without credentials](ClientBuilder::without_credentials) has one whose
    /// [`token`](Auth::token) fails with a configuration error.
    pub fn auth(&self) -> &Arc<dyn Auth> {
        &self.inner.transport.auth
    }

    /// The metrics registry shared by this client and its clones.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A snapshot of the client's metrics.
    pub fn metrics_snapshot(&self) -> MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// The client's transport, with this handle's options.
    pub(crate) fn transport(&self) -> TransportRef<'_> {
        TransportRef::new(&self.inner.transport, self.options.as_deref())
    }

    /// This client with `options` for every call made through it: the generated API, the
    /// flows (`client.with_options(o).callbacks()`), [`Client::request`], and whatever is
    /// built from it (an injector, a deployer, an executor, a paged listing). See
    /// [`CallOptions`] for what can be set.
    ///
    /// A cheap clone: it shares the token cache, the connections, the rate limit, the
    /// retry budget, the metrics and the notification channels with `self`; only its
    /// calls' time limits and retry policy differ. Options given here win over those
    /// `self` already has, setting by setting; a request's own
    /// ([`RequestBuilder::options`]) win over both.
    ///
    /// ```no_run
    /// # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
    /// use genesys_cloud::transport::CallOptions;
    /// use genesys_cloud::Method;
    ///
    /// // A request handler's calls: 10 s at most, a long 429 handed back at once.
    /// let interactive = client.with_options(CallOptions::interactive());
    /// let queue: serde_json::Value = interactive
    ///     .request_template(Method::GET, "/api/v2/routing/queues/{queueId}", &["queue-id"])
    ///     .send()
    ///     .await?;
    /// // The same for the generated API (feature `api`):
    /// // interactive.api().routing().get_routing_queue("queue-id").send().await?
    /// # let _ = queue; Ok(()) }
    /// ```
    pub fn with_options(&self, options: CallOptions) -> Client {
        let options = match &self.options {
            Some(mine) => options.or(mine),
            None => options,
        };
        Client {
            inner: self.inner.clone(),
            options: (!options.is_empty()).then(|| Arc::new(options)),
        }
    }

    /// The options of this handle ([`Client::with_options`]); empty for a client as built.
    pub fn options(&self) -> CallOptions {
        self.options.as_deref().cloned().unwrap_or_default()
    }

    /// This client without the options of [`Client::with_options`]: for work shared by
    /// every handle (the notification channels).
    #[cfg_attr(not(feature = "notifications"), allow(dead_code))]
    pub(crate) fn without_options(&self) -> Client {
        Client {
            inner: self.inner.clone(),
            options: None,
        }
    }

    /// The network setup (TLS, proxy) that websockets share with REST.
    #[cfg_attr(
        not(any(feature = "guests", feature = "notifications")),
        allow(dead_code)
    )]
    pub(crate) fn network(&self) -> &Network {
        &self.inner.network
    }

    /// The Notifications API: any topic, live (see [`notifications`](crate::notifications)).
    /// The client's subscriptions share its channels.
    #[cfg(feature = "notifications")]
    pub fn notifications(&self) -> crate::notifications::Notifications {
        crate::notifications::Notifications::new(self.clone())
    }

    /// The client's channel registry, made at first use.
    #[cfg(feature = "notifications")]
    pub(crate) fn notification_registry(&self) -> Arc<crate::notifications::Registry> {
        self.inner
            .notifications
            .get_or_init(|| Arc::new(crate::notifications::Registry::new(self)))
            .clone()
    }

    /// Writes `record` to the client's audit sink. The crate's flows audit their own
    /// actions; call this to put your own actions in the same trail. A sink failure is
    /// logged and counted (`audit.write_failures`), never returned.
    pub fn audit(&self, record: AuditRecord) {
        if let Err(err) = self.inner.audit.record(&record) {
            self.inner.metrics.counter("audit.write_failures").inc();
            tracing::warn!(error = %err, action = %record.action, "audit sink failed");
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.inner.environment.api_base().as_str())
            .field("auth", &self.inner.transport.auth)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]. Every setting has a production default except where to
/// connect (a region or base URLs) and how to authenticate (credentials or an [`Auth`],
/// or explicitly [none](ClientBuilder::without_credentials)).
#[must_use]
pub struct ClientBuilder {
    environment: Option<Result<Environment, Error>>,
    credentials: Option<(String, SecretString)>,
    auth: Option<Arc<dyn Auth>>,
    without_credentials: bool,
    config: TransportConfig,
    refresh_margin: Duration,
    rate_limit: Option<Result<RateLimit, Error>>,
    clock: Arc<dyn Clock>,
    audit: Arc<dyn AuditSink>,
    network: NetworkOptions,
    web_messaging: Option<String>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            environment: None,
            credentials: None,
            auth: None,
            without_credentials: false,
            config: TransportConfig::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            rate_limit: None,
            clock: Arc::new(SystemClock),
            audit: Arc::new(DiscardAuditSink),
            network: NetworkOptions::default(),
            web_messaging: None,
        }
    }
}

impl ClientBuilder {
    /// A builder preset from the environment variables [`Client::from_env`] reads, so
    /// that other settings can still be changed.
    pub fn from_env() -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let id = var(ENV_CLIENT_ID)
            .ok_or_else(|| Error::config(format!("{ENV_CLIENT_ID} is not set")))?;
        let secret = var(ENV_CLIENT_SECRET)
            .ok_or_else(|| Error::config(format!("{ENV_CLIENT_SECRET} is not set")))?;
        let mut builder = Client::builder().credentials(id, secret);
        if let Some(base) = var(ENV_WEB_MESSAGING_BASE) {
            builder = builder.web_messaging_base(&base);
        }
        match (var(ENV_API_BASE), var(ENV_LOGIN_BASE), var(ENV_REGION)) {
            (Some(api), Some(login), _) => Ok(builder.base_urls(&api, &login)),
            (Some(_), None, _) | (None, Some(_), _) => Err(Error::config(format!(
                "set both {ENV_API_BASE} and {ENV_LOGIN_BASE}, or neither"
            ))),
            (None, None, Some(region)) => Ok(builder.region(
                // Named by the variable: what it holds is not shown (it may be anything).
                region
                    .parse::<Region>()
                    .map_err(|e| Error::config(format!("{ENV_REGION}: {e}")))?,
            )),
            (None, None, None) => Err(Error::config(format!(
                "set {ENV_REGION} (e.g. us-east-1), or {ENV_API_BASE} and {ENV_LOGIN_BASE}"
            ))),
        }
    }

    /// Connect to a Genesys Cloud region.
    pub fn region(mut self, region: Region) -> Self {
        self.environment = Some(Ok(region.environment()));
        self
    }

    /// Connect to custom bases (a proxy, a sandbox, the testkit's fake). Checked in
    /// [`ClientBuilder::build`].
    pub fn base_urls(mut self, api_base: &str, login_base: &str) -> Self {
        self.environment = Some(Environment::custom(api_base, login_base));
        self
    }

    /// Connect to `environment`.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(Ok(environment));
        self
    }

    /// The Web Messaging Guest API websocket base (`wss://…/v1`), for custom bases whose
    /// guest host cannot be derived (a proxy, a sandbox, the testkit's fake); applied over
    /// the region or base URLs whatever the order of the calls. Checked in
    /// [`ClientBuilder::build`].
    pub fn web_messaging_base(mut self, base: &str) -> Self {
        self.web_messaging = Some(base.to_owned());
        self
    }

    /// Authenticate with the OAuth client credentials grant (see [`ClientCredentials`]).
    pub fn credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials = Some((client_id.into(), SecretString::from(client_secret.into())));
        self
    }

    /// Authenticate with your own [`Auth`] (e.g. a [`StaticToken`](crate::auth::StaticToken));
    /// wins over [`ClientBuilder::credentials`].
    pub fn auth(mut self, auth: impl Auth + 'static) -> Self {
        self.auth = Some(Arc::new(auth));
        self
    }

    /// Builds a client with no credentials, for the operations the platform serves without
    /// OAuth (web deployment and guest endpoints, Journey's web and app events, knowledge
    /// guest sessions, scorable surveys, documentation search: in the generated API (feature
    /// `api`), the operations whose `ApiCall::requires_auth()` is `false`; for any other
    /// endpoint, [`RequestBuilder::requires_auth`](crate::request::RequestBuilder::requires_auth)`(false)`).
    /// Such calls are sent with no `Authorization` header, with the client's retries,
    /// timeouts, metrics and tracing.
    ///
    /// Any call that needs a token fails before it is sent, with an
    /// [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) error naming what to
    /// set. [`credentials`](Self::credentials) and [`auth`](Self::auth) win over this
    /// setting; a builder given none of the three fails to build, as it did before.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), genesys_cloud::Error> {
    /// use genesys_cloud::{Client, Method, Region};
    ///
    /// let guest = Client::builder()
    ///     .region(Region::EuWest1)
    ///     .without_credentials()
    ///     .build()?;
    /// let session: serde_json::Value = guest
    ///     .request(Method::POST, "/api/v2/knowledge/guest/sessions")
    ///     .requires_auth(false)
    ///     .json(&serde_json::json!({
    ///         "app": {"deploymentId": "my-deployment-id", "type": "MessengerKnowledgeApp"},
    ///         "customerId": "my-customer-id",
    ///     }))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn without_credentials(mut self) -> Self {
        self.without_credentials = true;
        self
    }

    /// How long before expiry a client-credentials token is refreshed (default 60 s;
    /// at most half the token's lifetime is used, and `expires_in` is believed for at most
    /// 48 hours).
    ///
    /// From `expires_in - margin` on, the first call starts one refresh in the background
    /// and every call keeps getting the cached token at once: **while the token is valid,
    /// no call waits for a refresh**. During a login outage the refresh fails, is retried
    /// after 1 s, 2 s, 4 s ... (at most 30 s apart), and calls go on with the cached token
    /// until it expires. Only without a valid token (at start, after expiry, after a 401)
    /// do calls wait, sharing one token request, within their own [deadline](Self::deadline);
    /// if the login service still fails they get
    /// [`AuthError::LoginUnavailable`](crate::AuthError::LoginUnavailable)
    /// ([`ErrorKind::Upstream`](crate::ErrorKind::Upstream), retryable), and if it refuses
    /// the credentials, [`AuthError::CredentialsRejected`](crate::AuthError::CredentialsRejected).
    /// A failed login is remembered: until its backoff is up (1 s to 30 s while the login
    /// service fails, 5 s to 5 minutes while it refuses the credentials), calls without a
    /// valid token get the same error at once instead of logging in again.
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Time limit of one attempt: connecting, sending and reading the whole answer
    /// (default 30 s). Backoff waits do not count against it.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.attempt_timeout = timeout;
        self
    }

    /// Time limit of a whole call, every attempt and wait included (default 180 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.config.deadline = Some(deadline);
        self
    }

    /// No overall deadline; each attempt is still bounded by the attempt timeout.
    pub fn no_deadline(mut self) -> Self {
        self.config.deadline = None;
        self
    }

    /// The retry policy of each call (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// The interactive profile as this client's defaults: deadline 10 s, attempt timeout
    /// 5 s, [`RetryPolicy::interactive`] (see [`CallOptions::interactive`] for the figures
    /// and why). For a client that serves request handlers only; a client shared with
    /// background jobs keeps the defaults and hands its handlers
    /// [`Client::with_options`]`(CallOptions::interactive())`. Settings made after this
    /// call win.
    pub fn interactive(self) -> Self {
        self.deadline(crate::transport::INTERACTIVE_DEADLINE)
            .attempt_timeout(crate::transport::INTERACTIVE_ATTEMPT_TIMEOUT)
            .retry_policy(RetryPolicy::interactive())
    }

    /// The retry budget shared by every call of this client and its clones (default:
    /// [`RetryBudget::default`], at most 100 retries in a row while everything fails;
    /// [`RetryBudget::unlimited`] turns it off). Token requests draw on it too.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.config.budget = budget;
        self
    }

    /// The largest response body accepted, in bytes (default 16 MiB); a larger answer
    /// fails with an [`ErrorKind::LocalLimit`](crate::ErrorKind::LocalLimit) error without being read into memory.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.config.max_response_body = bytes;
        self
    }

    /// Sends at most `requests` per minute from this client and its clones (off by
    /// default). Must be at least 1.
    pub fn requests_per_minute(mut self, requests: u32) -> Self {
        self.rate_limit = Some(
            NonZeroU32::new(requests)
                .map(RateLimit::per_minute)
                .ok_or_else(|| Error::config("requests_per_minute must be at least 1")),
        );
        self
    }

    /// The clock for retry waits and token expiry (tests use the testkit's `ManualClock`).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Where audit records go (default: discarded).
    pub fn audit_sink(mut self, sink: impl AuditSink + 'static) -> Self {
        self.audit = Arc::new(sink);
        self
    }

    /// Sends every connection (REST and websockets) through this HTTP proxy, with an HTTP
    /// `CONNECT` tunnel; credentials go in the URL (`http://user:password@proxy:3128`) and
    /// never appear in logs or errors. Loopback hosts are never proxied.
    ///
    /// Default: the system's proxy settings, read when the client is built: `HTTPS_PROXY`
    /// (for `https` and `wss`), `http_proxy` (for `http` and `ws`), `ALL_PROXY`, and
    /// `NO_PROXY` (host names, domains, IP addresses, CIDR blocks, `*`), in either case.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.network.proxy = ProxySetting::Explicit(url.into());
        self
    }

    /// Connects directly, whatever the system's proxy settings say.
    pub fn no_proxy(mut self) -> Self {
        self.network.proxy = ProxySetting::Direct;
        self
    }

    /// Trusts the root certificates in `pem` (one or more PEM blocks) besides the system's:
    /// a corporate TLS-inspecting proxy, a sandbox with its own CA. Applies to REST and
    /// websockets. Checked in [`ClientBuilder::build`].
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.network.roots_pem.push(pem.into());
        self
    }

    /// Builds the client; fails with an [`ErrorKind::Configuration`](crate::ErrorKind::Configuration) error naming what is missing or wrong.
    pub fn build(self) -> Result<Client, Error> {
        let mut environment = self.environment.unwrap_or_else(|| {
            Err(Error::config(
                "no region: call .region(..) or .base_urls(api, login)",
            ))
        })?;
        if let Some(base) = &self.web_messaging {
            environment = environment.with_web_messaging_base(base)?;
        }
        if self.config.attempt_timeout.is_zero() {
            return Err(Error::config("attempt_timeout must be more than zero"));
        }
        if self.config.max_response_body == 0 {
            return Err(Error::config("max_response_body must be more than zero"));
        }
        let rate_limit = self.rate_limit.transpose()?;
        let metrics = Metrics::default();
        let network = Arc::new(Network::new(&self.network)?);
        for base in [environment.api_base(), environment.login_base()] {
            if base.scheme() == "https" && !network.has_tls() {
                return Err(Error::config(
                    "the base URLs are https, but no TLS backend is compiled in: enable the `rustls` or `native-tls` feature",
                ));
            }
        }
        let http = network.http_client(crate::transport::USER_AGENT)?;
        let core = Arc::new(HttpCore::new(
            http,
            self.config,
            self.clock,
            rate_limit,
            HttpMetrics::register(&metrics),
        ));
        let auth: Arc<dyn Auth> = match (self.auth, self.credentials) {
            (Some(auth), _) => auth,
            (None, Some((id, secret))) => Arc::new(ClientCredentials::with_core(
                id,
                secret,
                environment.login_base().clone(),
                self.refresh_margin,
                core.clone(),
            )?),
            (None, None) if self.without_credentials => Arc::new(NoCredentials),
            (None, None) => {
                return Err(Error::config(
                    "no credentials: call .credentials(id, secret) or .auth(..) \
                     (or .without_credentials() for a client that calls only the operations \
                     served without OAuth)",
                ))
            }
        };
        Ok(Client {
            options: None,
            inner: Arc::new(ClientInner {
                transport: Transport {
                    core,
                    auth,
                    api_base: crate::transport::BaseUrl::new(environment.api_base().clone()),
                },
                network,
                environment,
                metrics,
                audit: self.audit,
                #[cfg(feature = "notifications")]
                notifications: std::sync::OnceLock::new(),
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("without_credentials", &self.without_credentials)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
