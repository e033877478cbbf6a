use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota};

/// A client-side request rate limit, shared by every clone of a client.
///
/// Keeps a busy service under the org's limit (Genesys Cloud's default is 300 requests
/// per minute per OAuth client) instead of bouncing off 429s; the retry policy still
/// handles any 429 that gets through.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultDirectRateLimiter>,
}

impl RateLimit {
    /// At most `requests` per minute, spread evenly (bursts of up to `requests`).
    pub fn per_minute(requests: NonZeroU32) -> Self {
        Self {
            limiter: Arc::new(DefaultDirectRateLimiter::direct(Quota::per_minute(
                requests,
            ))),
        }
    }

    /// Waits until one more request is allowed. A little jitter keeps many waiting
    /// tasks from waking at the same instant.
    pub(crate) async fn until_ready(&self) {
        self.limiter
            .until_ready_with_jitter(Jitter::up_to(Duration::from_millis(20)))
            .await;
    }
}
