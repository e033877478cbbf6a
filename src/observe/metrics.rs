use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

/// A registry of named counters and latency histograms. Cheap to clone; clones share state.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    counters: Mutex<BTreeMap<String, Counter>>,
    latencies: Mutex<BTreeMap<String, Latency>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    /// The counter called `name`, created at zero on first use.
    pub fn counter(&self, name: &str) -> Counter {
        let mut counters = lock(&self.inner.counters);
        // Looked up before inserting: most calls find the counter, and the name is copied
        // (allocated) only the first time, not under the lock on every call.
        if let Some(counter) = counters.get(name) {
            return counter.clone();
        }
        counters.entry(name.to_owned()).or_default().clone()
    }

    /// The latency histogram called `name`, created empty on first use.
    pub fn latency(&self, name: &str) -> Latency {
        let mut latencies = lock(&self.inner.latencies);
        if let Some(latency) = latencies.get(name) {
            return latency.clone();
        }
        latencies.entry(name.to_owned()).or_default().clone()
    }

    /// A consistent-enough copy of every figure, for printing or JSON.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let counters: BTreeMap<String, u64> = lock(&self.inner.counters)
            .iter()
            .map(|(k, v)| (k.clone(), v.get()))
            .collect();
        let latencies: BTreeMap<String, LatencySummary> = lock(&self.inner.latencies)
            .iter()
            .map(|(k, v)| (k.clone(), v.summary()))
            .collect();
        let get = |name: &str| counters.get(name).copied().unwrap_or(0);
        let successes = get(names::SUCCESSES);
        let failures = get(names::FAILURES);
        let calls = successes + failures;
        let requests = RequestMetrics {
            calls,
            attempts: get(names::ATTEMPTS),
            successes,
            failures,
            retries: get(names::RETRIES),
            retries_denied: get(names::RETRIES_DENIED),
            rate_limited: get(names::RATE_LIMITED),
            token_requests: get(names::TOKEN_REQUESTS),
            success_rate: (calls > 0).then(|| successes as f64 / calls as f64),
            latency: latencies.get(names::LATENCY).cloned().unwrap_or_default(),
        };
        MetricsSnapshot {
            requests,
            counters,
            latencies,
        }
    }
}

/// A monotonically increasing count. Cheap to clone; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A latency histogram: log-linear buckets from 1 µs to about 71 minutes (longer samples
/// count as the largest), 128 buckets per power of two, so percentiles are within 0.4 % of
/// the true value. Recording is two relaxed atomic additions, never a lock, so every task of
/// a busy service can record at once; memory is fixed (27 KiB) whatever the sample count.
#[derive(Clone)]
pub struct Latency(Arc<Histogram>);

impl fmt::Debug for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Latency").field(&self.summary()).finish()
    }
}

/// Sub-buckets per power of two: 2^7.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values up to 2^32 µs (about 71 minutes).
const MAX_EXPONENT: u32 = 32;
const BUCKETS: usize = (SUB + (MAX_EXPONENT - SUB_BITS) as u64 * SUB) as usize;
const MAX_MICROS: u64 = (1 << MAX_EXPONENT) - 1;

struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum_micros: AtomicU64,
    max_micros: AtomicU64,
}

/// The bucket of `micros` (1..=MAX_MICROS): exact below 128, then 128 per power of two.
fn bucket(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exponent = 63 - micros.leading_zeros(); // >= SUB_BITS
    let shift = exponent - SUB_BITS;
    let mantissa = (micros >> shift) - SUB;
    (SUB + u64::from(shift) * SUB + mantissa) as usize
}

/// The smallest value and the width of bucket `index`.
fn bucket_range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB {
        return (index, 1);
    }
    let shift = (index - SUB) / SUB;
    let mantissa = (index - SUB) % SUB;
    ((SUB + mantissa) << shift, 1 << shift)
}

impl Default for Latency {
    fn default() -> Self {
        Self(Arc::new(Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }))
    }
}

impl Latency {
    /// Records one sample.
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_MICROS);
        let h = &self.0;
        h.buckets[bucket(micros)].fetch_add(1, Ordering::Relaxed);
        h.sum_micros.fetch_add(micros, Ordering::Relaxed);
        if micros > h.max_micros.load(Ordering::Relaxed) {
            h.max_micros.fetch_max(micros, Ordering::Relaxed);
        }
    }

    /// Count, mean and percentiles so far.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        let counts: Vec<u64> = h
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let max = h.max_micros.load(Ordering::Relaxed);
        let quantile = |q: f64| {
            let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (index, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    let (low, width) = bucket_range(index);
                    // The middle of the bucket, never past the largest sample.
                    return (low + width / 2).min(max);
                }
            }
            max
        };
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count,
            mean_ms: h.sum_micros.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0,
            p50_ms: ms(quantile(0.50)),
            p95_ms: ms(quantile(0.95)),
            p99_ms: ms(quantile(0.99)),
            max_ms: ms(max),
        }
    }
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// The transport's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RequestMetrics {
    /// Calls made (each may take several attempts).
    pub calls: u64,
    /// HTTP attempts sent, retries and 401 replays included.
    pub attempts: u64,
    /// Calls that ended with a 2xx answer.
    pub successes: u64,
    /// Calls that ended with an error or a non-2xx answer.
    pub failures: u64,
    /// Retries made (attempts after the first, 401 replays excluded).
    pub retries: u64,
    /// Retries not made because the client's [`RetryBudget`](crate::transport::RetryBudget) was empty.
    pub retries_denied: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// OAuth token requests that got an answer.
    pub token_requests: u64,
    /// `successes / calls`; `None` before the first call.
    pub success_rate: Option<f64>,
    /// Latency of whole calls, retries and waits included.
    pub latency: LatencySummary,
}

/// A copy of a client's metrics at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The transport's figures.
    pub requests: RequestMetrics,
    /// Every named counter, the transport's included.
    pub counters: BTreeMap<String, u64>,
    /// Every named latency, the transport's included.
    pub latencies: BTreeMap<String, LatencySummary>,
}

impl MetricsSnapshot {
    /// A named counter's value (0 if it was never used).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.requests;
        write!(
            f,
            "calls {} (attempts {}, retries {}, retries denied {}, 429s {}, token requests {}), success rate {}",
            r.calls,
            r.attempts,
            r.retries,
            r.retries_denied,
            r.rate_limited,
            r.token_requests,
            match r.success_rate {
                Some(rate) => format!("{:.1}%", rate * 100.0),
                None => "n/a".into(),
            }
        )?;
        for (name, l) in &self.latencies {
            write!(
                f,
                "\n{name}: n={} mean {:.2} ms, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
                l.count, l.mean_ms, l.p50_ms, l.p95_ms, l.p99_ms
            )?;
        }
        for (name, value) in &self.counters {
            if !name.starts_with("http.") && name != names::TOKEN_REQUESTS {
                write!(f, "\n{name}: {value}")?;
            }
        }
        Ok(())
    }
}

/// Names of the transport's own metrics.
pub mod names {
    /// Attempts sent.
    pub const ATTEMPTS: &str = "http.attempts";
    /// Calls ending 2xx.
    pub const SUCCESSES: &str = "http.successes";
    /// Calls ending otherwise.
    pub const FAILURES: &str = "http.failures";
    /// Retries made.
    pub const RETRIES: &str = "http.retries";
    /// Retries the policy allowed but the client's retry budget refused.
    pub const RETRIES_DENIED: &str = "http.retries_denied";
    /// 429 answers.
    pub const RATE_LIMITED: &str = "http.rate_limited";
    /// 401 answers followed by a refresh and replay.
    pub const TOKEN_REJECTIONS: &str = "http.token_rejections";
    /// Token requests answered.
    pub const TOKEN_REQUESTS: &str = "auth.token_requests";
    /// Whole-call latency.
    pub const LATENCY: &str = "http.latency";
}

/// The transport's handles into a registry, looked up once.
#[derive(Debug, Clone)]
pub(crate) struct HttpMetrics {
    pub(crate) attempts: Counter,
    pub(crate) successes: Counter,
    pub(crate) failures: Counter,
    pub(crate) retries: Counter,
    pub(crate) retries_denied: Counter,
    pub(crate) rate_limited: Counter,
    pub(crate) token_rejections: Counter,
    pub(crate) token_requests: Counter,
    pub(crate) latency: Latency,
}

impl HttpMetrics {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        Self {
            attempts: metrics.counter(names::ATTEMPTS),
            successes: metrics.counter(names::SUCCESSES),
            failures: metrics.counter(names::FAILURES),
            retries: metrics.counter(names::RETRIES),
            retries_denied: metrics.counter(names::RETRIES_DENIED),
            rate_limited: metrics.counter(names::RATE_LIMITED),
            token_rejections: metrics.counter(names::TOKEN_REJECTIONS),
            token_requests: metrics.counter(names::TOKEN_REQUESTS),
            latency: metrics.latency(names::LATENCY),
        }
    }

    pub(crate) fn record_call(&self, succeeded: bool, elapsed: Duration) {
        if succeeded {
            self.successes.inc();
        } else {
            self.failures.inc();
        }
        self.latency.record(elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_success_rate() {
        let m = Metrics::default();
        let http = HttpMetrics::register(&m);
        for ms in 1..=100 {
            http.record_call(ms <= 90, Duration::from_millis(ms));
        }
        let s = m.snapshot();
        assert_eq!(s.requests.calls, 100);
        assert_eq!(s.requests.success_rate, Some(0.9));
        let l = &s.requests.latency;
        assert_eq!(l.count, 100);
        assert!((l.p50_ms - 50.0).abs() < 50.0 * 0.004, "{l:?}");
        assert!((l.p95_ms - 95.0).abs() < 95.0 * 0.004, "{l:?}");
        assert!((l.p99_ms - 99.0).abs() < 99.0 * 0.004, "{l:?}");
        assert!((l.mean_ms - 50.5).abs() < 0.1, "{l:?}");
    }

    #[test]
    fn buckets_cover_every_value_within_their_precision() {
        let mut previous = 0;
        for micros in (1..5_000)
            .chain((5_000..MAX_MICROS).step_by(999_983))
            .chain([MAX_MICROS])
        {
            let index = bucket(micros);
            assert!(index < BUCKETS && index >= previous, "{micros}");
            let (low, width) = bucket_range(index);
            assert!(
                low <= micros && micros < low + width,
                "{micros} in {low}+{width}"
            );
            assert!(width as f64 / low as f64 <= 1.0 / SUB as f64 + 1e-9 || low < SUB);
            previous = index;
        }
    }

    #[test]
    fn named_counters_are_shared_by_name() {
        let m = Metrics::default();
        m.counter("flow.x").inc();
        m.clone().counter("flow.x").add(2);
        assert_eq!(m.snapshot().counter("flow.x"), 3);
        assert_eq!(m.snapshot().requests.success_rate, None);
    }
}
