//! Waiting for the platform to finish something, with backoff, on the client's clock.

use std::future::Future;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::Error;

/// How long and how often to check whether the platform finished an asynchronous change
/// (an integration becoming active, ...).
///
/// The first check is immediate; later ones back off from `initial` doubling to `max`;
/// no check starts after `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPolicy {
    pub(crate) timeout: Duration,
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Default for PollPolicy {
    /// 60 s, checking after 500 ms, then up to every 5 s.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            initial: Duration::from_millis(500),
            max: Duration::from_secs(5),
        }
    }
}

impl PollPolicy {
    /// Gives up after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The first wait between checks.
    pub fn initial_interval(mut self, wait: Duration) -> Self {
        self.initial = wait;
        self
    }

    /// The longest wait between checks.
    pub fn max_interval(mut self, wait: Duration) -> Self {
        self.max = wait;
        self
    }
}

/// What one check found.
pub(crate) enum Check<T, S> {
    /// Finished, with this result.
    Done(T),
    /// Not yet; this is the state seen.
    Pending(S),
}

/// Runs `check` until it is done or the policy's time is up. `Ok(Err(state))` is a
/// timeout, carrying the last state seen; a failing check ends the wait with its error.
pub(crate) async fn poll<T, S, F, Fut>(
    clock: &dyn Clock,
    policy: &PollPolicy,
    mut check: F,
) -> Result<Result<T, S>, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T, S>, Error>>,
{
    let started = clock.now();
    let mut waits = super::endless_backoff(policy.initial, policy.max, false);
    loop {
        let state = match check().await? {
            Check::Done(done) => return Ok(Ok(done)),
            Check::Pending(state) => state,
        };
        let wait = waits.next().unwrap_or(policy.max);
        if clock.now().saturating_duration_since(started) + wait > policy.timeout {
            return Ok(Err(state));
        }
        clock.sleep(wait).await;
    }
}
