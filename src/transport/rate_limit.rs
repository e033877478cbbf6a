use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// A client-side request rate limit, shared by every clone of a client.
///
/// Keeps a busy service under the org's limit (Genesys Cloud's default is 300 requests
/// per minute per OAuth client) instead of bouncing off 429s; the retry policy still
/// handles any 429 that gets through.
///
/// The generic cell rate algorithm (GCRA, as in ATM networks and the `governor` crate):
/// requests are spread evenly, with bursts of up to the whole quota after a quiet minute.
/// The state is one atomic: waiting callers never block each other.
#[derive(Debug, Clone)]
pub struct RateLimit {
    inner: Arc<Gcra>,
}

#[derive(Debug)]
struct Gcra {
    /// Time between two requests at the steady rate.
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run: a burst of the quota.
    tolerance: Duration,
    /// The theoretical arrival time of the next request, in nanoseconds after `origin`.
    tat: AtomicU64,
    origin: Instant,
}

impl RateLimit {
    /// At most `requests` per minute, spread evenly (bursts of up to `requests`).
    pub fn per_minute(requests: NonZeroU32) -> Self {
        let interval = Duration::from_secs(60) / requests.get();
        Self {
            inner: Arc::new(Gcra {
                interval,
                tolerance: interval * (requests.get() - 1),
                tat: AtomicU64::new(0),
                origin: Instant::now(),
            }),
        }
    }

    /// Takes a slot if one is free now, without waiting.
    pub(crate) fn try_now(&self) -> bool {
        self.inner.try_acquire(Instant::now()).is_ok()
    }

    /// Waits until one more request is allowed. A little jitter keeps many waiting
    /// tasks from waking at the same instant.
    pub(crate) async fn until_ready(&self) {
        loop {
            match self.inner.try_acquire(Instant::now()) {
                Ok(()) => return,
                Err(wait) => {
                    let jitter = Duration::from_micros(fastrand::u64(0..20_000));
                    tokio::time::sleep(wait + jitter).await;
                }
            }
        }
    }
}

impl Gcra {
    /// Takes a slot at `now`, or says how long until one frees up.
    fn try_acquire(&self, now: Instant) -> Result<(), Duration> {
        let now_ns = nanos(now.saturating_duration_since(self.origin));
        let interval = nanos(self.interval);
        let tolerance = nanos(self.tolerance);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let start = tat.max(now_ns);
            if start - now_ns > tolerance {
                return Err(Duration::from_nanos(start - now_ns - tolerance));
            }
            match self.tat.compare_exchange_weak(
                tat,
                start.saturating_add(interval),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_the_quota_then_the_steady_rate() {
        let limit = RateLimit::per_minute(NonZeroU32::new(6).unwrap());
        let gcra = &limit.inner;
        let start = Instant::now();
        for _ in 0..6 {
            assert!(gcra.try_acquire(start).is_ok(), "the first six are a burst");
        }
        assert_eq!(gcra.try_acquire(start), Err(Duration::from_secs(10)));
        assert!(gcra.try_acquire(start + Duration::from_secs(10)).is_ok());
        assert!(gcra.try_acquire(start + Duration::from_secs(10)).is_err());
        // A fresh limit: six at once, then one every ten seconds.
        let limit = RateLimit::per_minute(NonZeroU32::new(6).unwrap());
        let waited = Instant::now();
        for _ in 0..12 {
            limit.until_ready().await;
        }
        let took = waited.elapsed();
        assert!(
            took >= Duration::from_secs(60) && took < Duration::from_secs(61),
            "{took:?}"
        );
    }
}
