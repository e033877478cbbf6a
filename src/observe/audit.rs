use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;

/// Where audit records go. Implementations must not block for long: records are
/// written on the task that made the call.
pub trait AuditSink: Send + Sync + fmt::Debug {
    /// Stores one record. A failure is logged and counted by the caller, never
    /// turned into a failed API call.
    fn record(&self, record: &AuditRecord) -> io::Result<()>;
}

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditOutcome {
    /// It did what was asked.
    Success,
    /// It did part of what was asked (e.g. the call succeeded, a follow-up hook failed).
    Partial,
    /// It failed.
    Failure,
}

/// One audited action: what, on which ids, which keys, how it ended.
///
/// There is deliberately no field for values: attribute values, tokens and secrets
/// cannot end up in an audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// When the record was made (RFC 3339, UTC).
    pub timestamp: jiff::Timestamp,
    /// What was done, e.g. `messaging.patch_attributes`.
    pub action: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The ids involved, by role (`conversationId`, `participantId` ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
    /// Attribute or field names involved (never their values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// How many items were involved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// HTTP status of the platform's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time taken, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The error, as its `Display` (which never holds values or secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The platform's correlation id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl AuditRecord {
    /// A record of `action` ending with `outcome`, stamped now.
    pub fn new(action: impl Into<String>, outcome: AuditOutcome) -> Self {
        Self {
            timestamp: jiff::Timestamp::now(),
            action: action.into(),
            outcome,
            ids: BTreeMap::new(),
            keys: Vec::new(),
            count: None,
            status: None,
            latency_ms: None,
            error: None,
            correlation_id: None,
        }
    }

    /// Adds an id under its role.
    pub fn id(mut self, role: impl Into<String>, id: impl Into<String>) -> Self {
        self.ids.insert(role.into(), id.into());
        self
    }

    /// Sets the key names involved.
    pub fn keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the item count.
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the time taken.
    pub fn latency(mut self, elapsed: Duration) -> Self {
        self.latency_ms = Some(elapsed.as_secs_f64() * 1000.0);
        self
    }

    /// Records `err`: its message, status and correlation id.
    pub fn error(mut self, err: &Error) -> Self {
        self.error = Some(err.to_string());
        self.status = err.status().or(self.status);
        self.correlation_id = err
            .correlation_id()
            .map(str::to_owned)
            .or(self.correlation_id);
        self
    }
}

/// Writes each record as one JSON line to any writer (a file, stderr, a buffer).
///
/// ```
/// use genesys_cloud::observe::{AuditOutcome, AuditRecord, AuditSink, JsonLinesAuditSink};
///
/// let sink = JsonLinesAuditSink::new(Vec::new());
/// sink.record(&AuditRecord::new("demo", AuditOutcome::Success).keys(["tier"]))?;
/// let out = String::from_utf8_lossy(&sink.into_inner()).into_owned();
/// assert!(out.ends_with("\n") && out.contains(r#""keys":["tier"]"#));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct JsonLinesAuditSink<W> {
    writer: Mutex<W>,
}

impl<W: Write + Send> JsonLinesAuditSink<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer: Mutex::new(writer),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<W> fmt::Debug for JsonLinesAuditSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesAuditSink").finish_non_exhaustive()
    }
}

impl<W: Write + Send> AuditSink for JsonLinesAuditSink<W> {
    fn record(&self, record: &AuditRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.write_all(&line)?;
        writer.flush()
    }
}

/// Keeps records in memory; for tests and for reports built at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct MemoryAuditSink {
    records: Arc<Mutex<Vec<AuditRecord>>>,
}

impl MemoryAuditSink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl AuditSink for MemoryAuditSink {
    fn record(&self, record: &AuditRecord) -> io::Result<()> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(record.clone());
        Ok(())
    }
}

/// Discards every record (the default sink).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DiscardAuditSink;

impl AuditSink for DiscardAuditSink {
    fn record(&self, _record: &AuditRecord) -> io::Result<()> {
        Ok(())
    }
}
