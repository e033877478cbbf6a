//! What the client did: a metrics registry with snapshots, and an audit trail.
//!
//! Every client owns one [`Metrics`] registry, shared by its clones. The transport
//! counts attempts, successes, failures, retries and 429s and times every call; flows
//! add their own named counters and latencies to the same registry.
//!
//! Audit records ([`AuditRecord`]) name keys and ids, never attribute values or
//! secrets: the type has no field that could hold one.

mod audit;
pub(crate) mod metrics;

pub(crate) use audit::DiscardAuditSink;
pub use audit::{AuditOutcome, AuditRecord, AuditSink, JsonLinesAuditSink, MemoryAuditSink};
pub use metrics::{Counter, Latency, LatencySummary, Metrics, MetricsSnapshot, RequestMetrics};
