//! When to retry, and how long to wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How the transport retries a failed attempt.
///
/// What is retried: 429 always (the platform did not process the request); 502, 503,
/// 504, timeouts and connections that failed after the request was sent only when the
/// request is idempotent (GET, PUT, DELETE, or marked so); connect failures always
/// (nothing was sent). Everything else is returned at once.
///
/// ```
/// use std::time::Duration;
/// use genesys_cloud::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(3)
///     .max_retry_time(Duration::from_secs(20));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) max_retry_time: Duration,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_retry_after: Duration,
    /// `false`: a `Retry-After` above `max_retry_after` ends the call instead of being
    /// clamped.
    pub(crate) clamp_retry_after: bool,
    pub(crate) jitter: bool,
}

impl Default for RetryPolicy {
    /// 5 attempts, 60 s of retrying, backoff from 250 ms doubling to 20 s with
    /// jitter, `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_retry_time: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(30),
            clamp_retry_after: true,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        Self::default().max_attempts(1)
    }

    /// The policy for calls someone is waiting on (a request handler): 3 attempts, retries
    /// starting within 10 s of the first attempt, backoff from 100 ms doubling to 1 s with jitter, and a `Retry-After`
    /// of up to 2 s waited; a longer one ends the call at once with
    /// [`ErrorKind::Throttled`](crate::ErrorKind::Throttled) and the platform's wait in
    /// [`Error::retry_after`](crate::Error::retry_after) (see
    /// [`clamp_retry_after`](RetryPolicy::clamp_retry_after)). Part of
    /// [`CallOptions::interactive`](crate::transport::CallOptions::interactive), which
    /// says why these figures.
    pub fn interactive() -> Self {
        Self {
            max_attempts: 3,
            max_retry_time: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(2),
            clamp_retry_after: false,
            jitter: true,
        }
    }

    /// Attempts per call, the first included (at least 1). Replaying once after a 401
    /// does not count.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Time from the first attempt after which no retry starts: a retry whose wait
    /// would end past this budget is not made.
    pub fn max_retry_time(mut self, budget: Duration) -> Self {
        self.max_retry_time = budget;
        self
    }

    /// The first backoff wait; each later one doubles, up to [`RetryPolicy::max_backoff`].
    pub fn initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// The longest backoff wait.
    pub fn max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// The longest `Retry-After` honoured; a longer one is clamped to this (or ends the
    /// call, see [`clamp_retry_after`](RetryPolicy::clamp_retry_after)).
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// What a `Retry-After` longer than [`max_retry_after`](RetryPolicy::max_retry_after)
    /// does: `true` (the default) waits `max_retry_after` and retries; `false` (the
    /// [interactive](RetryPolicy::interactive) policy) retries no more: the call ends at
    /// once with [`ErrorKind::Throttled`](crate::ErrorKind::Throttled), and
    /// [`Error::retry_after`](crate::Error::retry_after) holds the wait the platform asked
    /// for. Clamping retries before the platform said it would take the request again;
    /// giving up hands that wait to the caller.
    pub fn clamp_retry_after(mut self, clamp: bool) -> Self {
        self.clamp_retry_after = clamp;
        self
    }

    /// Whether backoff waits are randomised (on by default, so many clients that
    /// failed together do not retry together).
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The backoff schedule for one call.
    pub(crate) fn backoff(&self) -> impl Iterator<Item = Duration> {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize);
        let builder = if self.jitter {
            builder.with_jitter()
        } else {
            builder
        };
        // backon computes in f32 seconds; whole microseconds read better in logs.
        builder
            .build()
            .map(|wait| Duration::from_micros(wait.as_micros().min(u64::MAX as u128) as u64))
    }
}

/// An endless schedule of waits from `min` doubling to `max` (with jitter when asked), for
/// loops that end by other means: polling, reconnecting sockets.
pub(crate) fn endless_backoff(
    min: Duration,
    max: Duration,
    jitter: bool,
) -> impl Iterator<Item = Duration> {
    let builder = ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max)
        .without_max_times();
    let builder = if jitter {
        builder.with_jitter()
    } else {
        builder
    };
    builder.build()
}

/// Reads `Retry-After` as delay-seconds (integer or decimal) or as an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = jiff::fmt::rfc2822::parse(raw).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Why an attempt is being retried; shown in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryReason {
    RateLimited,
    ServerUnavailable(u16),
    Connect,
    ConnectionLost,
    AttemptTimeout,
}

impl std::fmt::Display for RetryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryReason::RateLimited => f.write_str("429 rate limited"),
            RetryReason::ServerUnavailable(s) => write!(f, "{s} from the platform"),
            RetryReason::Connect => f.write_str("connect failed"),
            RetryReason::ConnectionLost => f.write_str("connection lost"),
            RetryReason::AttemptTimeout => f.write_str("attempt timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(retry_after(&headers("3")), Some(Duration::from_secs(3)));
        assert_eq!(
            retry_after(&headers("0.5")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_after(&headers("-1")), None);
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(
            retry_after(&headers("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        let wait = retry_after(&headers(&date)).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stops() {
        let policy = RetryPolicy::default()
            .max_attempts(6)
            .jitter(false)
            .initial_backoff(Duration::from_millis(100))
            .max_backoff(Duration::from_millis(500));
        let waits: Vec<_> = policy.backoff().collect();
        assert_eq!(
            waits,
            [100, 200, 400, 500, 500]
                .map(Duration::from_millis)
                .to_vec()
        );
    }
}
