//! Time as the transport and auth see it, injectable so tests need not wait.
//!
//! The clock drives retry waits, the retry time budget and token expiry. Per-attempt
//! timeouts and the overall deadline always run on tokio's timer (real time), because
//! they bound real network I/O.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A source of "now" and of waits.
///
/// The default, [`SystemClock`], follows tokio's clock (so `tokio::time::pause` works too).
/// The testkit's `ManualClock` returns from every wait at once and records it.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;

    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The real clock: tokio's `Instant::now` and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}
