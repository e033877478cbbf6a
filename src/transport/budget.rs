//! A retry budget shared by every call of a client, so that a failing platform is not
//! hammered by every caller at once (the AWS SDKs' retry quota, gax's retry throttler).

use std::sync::atomic::{AtomicU32, Ordering};

/// How many retries a client may make across all its calls: a token bucket shared by the
/// client and its clones.
///
/// Every retry spends tokens ([`retry_cost`](RetryBudget::retry_cost), or
/// [`timeout_cost`](RetryBudget::timeout_cost) after a timeout or a lost connection); a
/// call that succeeds puts back what its own retries spent, or
/// [`success_refill`](RetryBudget::success_refill) when it needed none. While the
/// platform answers, the bucket stays full and nothing changes; when it fails for every
/// caller, the bucket empties and calls return their first failure instead of retrying
/// (counted as `http.retries_denied`), until successes fill it again.
///
/// The default (as the AWS SDKs' standard retry mode): 500 tokens, 5 per retry, 10 per
/// retry after a timeout, 1 back per success: at most 100 retries in a row while
/// everything fails, whatever the number of callers.
///
/// ```
/// use genesys_cloud::transport::RetryBudget;
///
/// let budget = RetryBudget::default().capacity(1_000).retry_cost(10);
/// let unlimited = RetryBudget::unlimited();
/// # let _ = (budget, unlimited);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryBudget {
    pub(crate) capacity: u32,
    pub(crate) retry_cost: u32,
    pub(crate) timeout_cost: u32,
    pub(crate) success_refill: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refill: 1,
        }
    }
}

impl RetryBudget {
    /// No budget: every call retries as its [`RetryPolicy`](crate::RetryPolicy) allows,
    /// whatever other calls do.
    pub fn unlimited() -> Self {
        Self {
            capacity: u32::MAX,
            retry_cost: 0,
            timeout_cost: 0,
            success_refill: 0,
        }
    }

    /// Tokens in a full bucket (default 500).
    pub fn capacity(mut self, tokens: u32) -> Self {
        self.capacity = tokens;
        self
    }

    /// Tokens one retry costs (default 5).
    pub fn retry_cost(mut self, tokens: u32) -> Self {
        self.retry_cost = tokens;
        self
    }

    /// Tokens one retry after a timeout or a lost connection costs (default 10): those
    /// cost the platform most when it is already struggling.
    pub fn timeout_cost(mut self, tokens: u32) -> Self {
        self.timeout_cost = tokens;
        self
    }

    /// Tokens a call that succeeded without retrying puts back (default 1).
    pub fn success_refill(mut self, tokens: u32) -> Self {
        self.success_refill = tokens;
        self
    }
}

/// The bucket itself, shared by a client's calls.
#[derive(Debug)]
pub(crate) struct BudgetState {
    config: RetryBudget,
    tokens: AtomicU32,
}

impl BudgetState {
    pub(crate) fn new(config: RetryBudget) -> Self {
        Self {
            tokens: AtomicU32::new(config.capacity),
            config,
        }
    }

    /// The cost of one retry, by what failed.
    pub(crate) fn cost(&self, after_timeout: bool) -> u32 {
        if after_timeout {
            self.config.timeout_cost
        } else {
            self.config.retry_cost
        }
    }

    /// Takes `cost` tokens if the bucket has them.
    pub(crate) fn try_spend(&self, cost: u32) -> bool {
        cost == 0
            || self
                .tokens
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                    left.checked_sub(cost)
                })
                .is_ok()
    }

    /// A call succeeded after spending `spent` tokens on its retries.
    pub(crate) fn succeeded(&self, spent: u32) {
        let refill = if spent > 0 {
            spent
        } else {
            self.config.success_refill
        };
        if refill == 0 || self.tokens.load(Ordering::Relaxed) >= self.config.capacity {
            return; // the common case: a full bucket, no write to a shared cache line
        }
        let capacity = self.config.capacity;
        let _ = self
            .tokens
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                Some(left.saturating_add(refill).min(capacity))
            });
    }

    #[cfg(test)]
    pub(crate) fn available(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spend_and_successes_refill_up_to_capacity() {
        let state = BudgetState::new(RetryBudget::default().capacity(12));
        assert!(state.try_spend(state.cost(false)));
        assert!(state.try_spend(state.cost(false)));
        assert!(
            !state.try_spend(state.cost(false)),
            "2 tokens left, 5 needed"
        );
        assert_eq!(state.available(), 2);
        state.succeeded(5);
        assert_eq!(state.available(), 7);
        state.succeeded(0);
        assert_eq!(state.available(), 8);
        state.succeeded(100);
        assert_eq!(state.available(), 12, "never above capacity");
        // A retry after a timeout costs 10: the full bucket pays for one, then not another.
        assert_eq!((state.cost(false), state.cost(true)), (5, 10));
        assert!(state.try_spend(state.cost(true)), "12 tokens, 10 needed");
        assert_eq!(state.available(), 2);
        assert!(
            !state.try_spend(state.cost(true)),
            "2 tokens left, 10 needed"
        );
        assert_eq!(state.available(), 2, "a refused spend takes nothing");
    }

    #[test]
    fn unlimited_never_refuses() {
        let state = BudgetState::new(RetryBudget::unlimited());
        for _ in 0..10_000 {
            assert!(state.try_spend(state.cost(true)));
        }
    }
}
