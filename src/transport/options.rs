//! Per-call overrides of the client's time limits and retry policy.

use std::time::Duration;

use super::RetryPolicy;

/// The interactive profile's deadline: the whole call, token wait, attempts and retry
/// waits included. See [`CallOptions::interactive`] for why 10 s.
pub const INTERACTIVE_DEADLINE: Duration = Duration::from_secs(10);

/// The interactive profile's attempt timeout: one attempt, connect to last byte. See
/// [`CallOptions::interactive`] for why 5 s.
pub const INTERACTIVE_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Overrides of the client's [deadline](crate::ClientBuilder::deadline),
/// [attempt timeout](crate::ClientBuilder::attempt_timeout) and
/// [retry policy](crate::ClientBuilder::retry_policy) for some calls; what is not set
/// keeps the client's setting.
///
/// The requests describe, the transport sends: options never change what is sent, only
/// how long the transport tries. They are given in one of two places, and one mechanism
/// honours them both:
///
/// - on one request: [`RequestBuilder::options`](crate::request::RequestBuilder::options)
///   (or [`deadline`](crate::request::RequestBuilder::deadline),
///   [`retry_policy`](crate::request::RequestBuilder::retry_policy), ...);
/// - on a handle: [`Client::with_options`](crate::Client::with_options) returns a client
///   (a cheap clone sharing the token cache, connections, rate limit, retry budget and
///   metrics) whose every call uses them: the generated API (`client.with_options(o).api()`),
///   the flows (`client.with_options(o).callbacks()`), the pager, and anything built from
///   that client (an injector, a sink, a deployer, an executor).
///
/// Where both are given, the request's own setting wins, then the handle's, then the
/// client's.
///
/// ```no_run
/// # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
/// use std::time::Duration;
/// use genesys_cloud::transport::CallOptions;
/// use genesys_cloud::{Method, RetryPolicy};
///
/// // In a request handler: the interactive profile for every call it makes.
/// let handler_client = client.with_options(CallOptions::interactive());
/// let org: serde_json::Value = handler_client
///     .request(Method::GET, "/api/v2/organizations/me")
///     .send()
///     .await?;
///
/// // One call with a tighter deadline and no retries.
/// let me: serde_json::Value = client
///     .request(Method::GET, "/api/v2/users/me")
///     .deadline(Duration::from_secs(2))
///     .retry_policy(RetryPolicy::no_retries())
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct CallOptions {
    /// `Some(None)`: no deadline; `None`: the client's.
    pub(crate) deadline: Option<Option<Duration>>,
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) retry_policy: Option<RetryPolicy>,
}

impl CallOptions {
    /// No override: every setting is the client's.
    pub fn new() -> Self {
        Self::default()
    }

    /// The profile for calls made while someone waits for the answer (a request handler,
    /// an interactive tool): deadline [10 s](INTERACTIVE_DEADLINE), attempt timeout
    /// [5 s](INTERACTIVE_ATTEMPT_TIMEOUT), and [`RetryPolicy::interactive`] (3 attempts
    /// within 10 s, backoff 100 ms to 1 s, a `Retry-After` of up to 2 s waited, a longer
    /// one ending the call at once).
    ///
    /// Why these figures:
    ///
    /// - **10 s deadline**: a person or an upstream caller waiting on the handler gives up
    ///   long before the client's default 180 s, and proxies in front of a service
    ///   commonly cut a request at 30 to 60 s; 10 s leaves the handler time to answer
    ///   with an error of its own. It bounds everything: the token fetch, every attempt
    ///   and every wait.
    /// - **5 s per attempt**: the platform answers ordinary calls in well under a second,
    ///   so an attempt still silent after 5 s is lost; an idempotent call then has time
    ///   for one more attempt inside the deadline.
    /// - **2 s of `Retry-After`**: the platform's request limits are counted per minute
    ///   (300 requests per minute per token), so the `Retry-After` of a 429 can be up to a
    ///   minute. A short one (a burst) is worth waiting out; a long one is not worth
    ///   holding the caller for, and retrying before it ends would only draw another 429.
    ///   The call then ends at once with [`ErrorKind::Throttled`](crate::ErrorKind::Throttled)
    ///   and the platform's wait in [`Error::retry_after`](crate::Error::retry_after), for
    ///   the handler to pass on (its own `429`/`503` with `Retry-After`).
    /// - **3 attempts, retries starting within 10 s**: the deadline's 10 s, so the policy
    ///   alone (with [`RequestBuilder::retry_policy`](crate::request::RequestBuilder::retry_policy))
    ///   behaves as it does in the profile. Every retry still draws on the client's
    ///   [retry budget](crate::ClientBuilder::retry_budget), shared by every handle and
    ///   every call: while the platform fails for everyone, interactive calls stop
    ///   retrying with the rest, and their fewer retries leave more of it to background
    ///   work.
    ///
    /// Background jobs (syncs, batch imports, the guest outbox) keep the client's
    /// defaults: nobody waits on them, and riding out a throttle is what they should do.
    pub fn interactive() -> Self {
        Self {
            deadline: Some(Some(INTERACTIVE_DEADLINE)),
            attempt_timeout: Some(INTERACTIVE_ATTEMPT_TIMEOUT),
            retry_policy: Some(RetryPolicy::interactive()),
        }
    }

    /// The whole call's time limit, every attempt and wait included (the token wait too).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(Some(deadline));
        self
    }

    /// No overall deadline; each attempt is still bounded by the attempt timeout.
    pub fn no_deadline(mut self) -> Self {
        self.deadline = Some(None);
        self
    }

    /// One attempt's time limit: connecting, sending and reading the whole answer.
    /// Backoff waits do not count against it.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The retry policy of the call (attempts, retry time, backoff, `Retry-After` cap).
    /// The client's [retry budget](crate::ClientBuilder::retry_budget), shared by all its
    /// calls, still applies.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.deadline.is_none() && self.attempt_timeout.is_none() && self.retry_policy.is_none()
    }

    /// These options, with `base`'s settings where these have none.
    pub(crate) fn or(mut self, base: &CallOptions) -> CallOptions {
        if self.deadline.is_none() {
            self.deadline = base.deadline;
        }
        if self.attempt_timeout.is_none() {
            self.attempt_timeout = base.attempt_timeout;
        }
        if self.retry_policy.is_none() {
            self.retry_policy.clone_from(&base.retry_policy);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_fields_win_and_the_rest_come_from_the_base() {
        let base = CallOptions::interactive();
        let merged = CallOptions::new()
            .deadline(Duration::from_secs(1))
            .or(&base);
        assert_eq!(merged.deadline, Some(Some(Duration::from_secs(1))));
        assert_eq!(merged.attempt_timeout, Some(INTERACTIVE_ATTEMPT_TIMEOUT));
        assert_eq!(merged.retry_policy, Some(RetryPolicy::interactive()));
        let none = CallOptions::new().no_deadline().or(&base);
        assert_eq!(none.deadline, Some(None));
        assert!(CallOptions::new().or(&CallOptions::new()).is_empty());
    }
}
