use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// A clock that only moves when told to, or when something sleeps on it: every
/// [`Clock::sleep`] returns at once, moves the clock forward and is recorded.
///
/// Give it to [`ClientBuilder::clock`](crate::ClientBuilder::clock) and retry waits
/// (`Retry-After` included) take no real time, yet can be asserted exactly.
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    start: Instant,
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the real "now".
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                start: Instant::now(),
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.state().elapsed += by;
    }

    /// Every wait asked of the clock so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    /// The sum of every wait so far.
    pub fn total_slept(&self) -> Duration {
        self.state().sleeps.iter().sum()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let s = self.state();
        s.start + s.elapsed
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut s = self.state();
        s.elapsed += duration;
        s.sleeps.push(duration);
        Box::pin(std::future::ready(()))
    }
}
