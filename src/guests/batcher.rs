//! Coalescing attribute updates per session before they are sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::observe::Metrics;

/// Where merged attributes go: the guest websocket, or the participant REST endpoint.
#[async_trait]
pub trait AttributeSink: Send + Sync {
    /// Sends the merged attributes of one session. An error keeps them queued for the
    /// next flush.
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error>;
}

/// Told about each successful send: the session, what was sent, the ids of the updates
/// merged into it (as given to [`AttributeBatcher::add_tracked`]) and when the oldest was added.
#[async_trait]
pub trait DeliveryHook: Send + Sync {
    /// Runs after the sink accepted a session's merged attributes.
    async fn delivered(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
        update_ids: &[u64],
        oldest: Instant,
    );
}

/// How the batcher groups updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatcherOptions {
    /// Flush at least this often (tutorial: 2 s).
    pub flush_interval: Duration,
    /// Flush once this many updates wait (tutorial: 10).
    pub max_batch: usize,
    /// Updates accepted but not yet merged; past it, `add` waits (backpressure).
    pub queue_capacity: usize,
}

impl Default for BatcherOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(2),
            max_batch: 10,
            queue_capacity: 1024,
        }
    }
}

enum Command {
    Add {
        session_id: String,
        attributes: BTreeMap<String, String>,
        id: Option<u64>,
        added: Instant,
    },
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Merges updates for the same session within a flush window into one send: the last
/// write per key wins, and sessions are sent in the order their first update arrived.
/// Flushes every `flush_interval`, or as soon as `max_batch` updates wait. `add` waits
/// when `queue_capacity` updates are queued, so memory stays bounded. `shutdown` flushes
/// everything before it returns; a send that fails keeps its attributes for the next
/// flush (and for the shutdown flush, which reports the failure).
///
/// Metrics: `guests.updates`, `guests.batches`, `guests.coalesced_updates`,
/// `guests.send_failures`, and latency `guests.add_to_accept` (from `add` to acceptance).
#[derive(Debug)]
pub struct AttributeBatcher {
    tx: mpsc::Sender<Command>,
    /// Taken by `shutdown`; aborted when the batcher is dropped without it.
    task: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

impl Drop for AttributeBatcher {
    /// Dropping without [`AttributeBatcher::shutdown`] abandons the queue at once, as a
    /// crash would; with an outbox, nothing accepted is lost.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One session's merged updates.
struct Batch {
    session_id: String,
    attributes: BTreeMap<String, String>,
    count: usize,
    ids: Vec<u64>,
    oldest: Instant,
}

struct Pending {
    /// In the order of each session's first update.
    sessions: Vec<Batch>,
    updates: usize,
}

impl Pending {
    fn add(
        &mut self,
        session_id: String,
        attributes: BTreeMap<String, String>,
        id: Option<u64>,
        added: Instant,
    ) {
        self.updates += 1;
        match self
            .sessions
            .iter_mut()
            .find(|b| b.session_id == session_id)
        {
            Some(batch) => {
                batch.attributes.extend(attributes);
                batch.count += 1;
                batch.ids.extend(id);
            }
            None => self.sessions.push(Batch {
                session_id,
                attributes,
                count: 1,
                ids: id.into_iter().collect(),
                oldest: added,
            }),
        }
    }
}

impl AttributeBatcher {
    /// Starts a batcher sending to `sink`, counting in `metrics`.
    pub fn start(sink: Arc<dyn AttributeSink>, options: BatcherOptions, metrics: Metrics) -> Self {
        Self::start_with_hook(sink, options, metrics, None)
    }

    /// Like [`AttributeBatcher::start`], telling `hook` about each successful send.
    pub fn start_with_hook(
        sink: Arc<dyn AttributeSink>,
        options: BatcherOptions,
        metrics: Metrics,
        hook: Option<Arc<dyn DeliveryHook>>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let task = tokio::spawn(run(sink, hook, options, metrics, rx));
        Self {
            tx,
            task: Some(task),
        }
    }

    /// Queues an update; waits while the queue is full.
    pub async fn add(
        &self,
        session_id: impl Into<String>,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        self.enqueue(session_id.into(), attributes, None, Instant::now())
            .await
    }

    /// Queues an update known by `id` (e.g. its outbox id), reported to the delivery hook.
    pub async fn add_tracked(
        &self,
        session_id: impl Into<String>,
        attributes: BTreeMap<String, String>,
        id: u64,
        added: Instant,
    ) -> Result<(), Error> {
        self.enqueue(session_id.into(), attributes, Some(id), added)
            .await
    }

    async fn enqueue(
        &self,
        session_id: String,
        attributes: BTreeMap<String, String>,
        id: Option<u64>,
        added: Instant,
    ) -> Result<(), Error> {
        let command = Command::Add {
            session_id,
            attributes,
            id,
            added,
        };
        self.tx.send(command).await.map_err(|_| stopped())
    }

    /// Sends everything queued now, and returns when it was sent (or failed and stayed queued).
    pub async fn flush(&self) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .await
            .map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())
    }

    /// Flushes everything and stops. Errors if some attributes could not be sent.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Shutdown(done))
            .await
            .map_err(|_| stopped())?;
        let _ = wait.await;
        match self.task.take() {
            Some(task) => task.await.map_err(|_| stopped())?,
            None => Err(stopped()),
        }
    }
}

fn stopped() -> Error {
    Error::closed("the attribute batcher")
}

async fn run(
    sink: Arc<dyn AttributeSink>,
    hook: Option<Arc<dyn DeliveryHook>>,
    options: BatcherOptions,
    metrics: Metrics,
    mut rx: mpsc::Receiver<Command>,
) -> Result<(), Error> {
    let mut pending = Pending {
        sessions: Vec::new(),
        updates: 0,
    };
    // The first flush is one interval after start, not at once.
    let first = tokio::time::Instant::now() + options.flush_interval;
    let mut tick = tokio::time::interval_at(first, options.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let hook = hook.as_deref();
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Add { session_id, attributes, id, added }) => {
                    metrics.counter("guests.updates").inc();
                    pending.add(session_id, attributes, id, added);
                    if pending.updates >= options.max_batch {
                        let _ = flush(sink.as_ref(), hook, &metrics, &mut pending).await;
                    }
                }
                Some(Command::Flush(done)) => {
                    let _ = flush(sink.as_ref(), hook, &metrics, &mut pending).await;
                    let _ = done.send(());
                }
                Some(Command::Shutdown(done)) => {
                    // Updates still in the channel were accepted by `add`: merge them first.
                    while let Ok(Command::Add { session_id, attributes, id, added }) = rx.try_recv() {
                        metrics.counter("guests.updates").inc();
                        pending.add(session_id, attributes, id, added);
                    }
                    let result = flush(sink.as_ref(), hook, &metrics, &mut pending).await;
                    let _ = done.send(());
                    return result;
                }
                None => return flush(sink.as_ref(), hook, &metrics, &mut pending).await,
            },
            _ = tick.tick() => {
                let _ = flush(sink.as_ref(), hook, &metrics, &mut pending).await;
            }
        }
    }
}

/// Sends each session's merged attributes; failed sessions stay pending. The first error
/// is returned after every session was tried.
async fn flush(
    sink: &dyn AttributeSink,
    hook: Option<&dyn DeliveryHook>,
    metrics: &Metrics,
    pending: &mut Pending,
) -> Result<(), Error> {
    if pending.sessions.is_empty() {
        return Ok(());
    }
    let mut kept = Vec::new();
    let mut first_error = None;
    for batch in std::mem::take(&mut pending.sessions) {
        match sink.send(&batch.session_id, &batch.attributes).await {
            Ok(()) => {
                metrics.counter("guests.batches").inc();
                metrics
                    .counter("guests.coalesced_updates")
                    .add((batch.count - 1) as u64);
                metrics
                    .latency("guests.add_to_accept")
                    .record(batch.oldest.elapsed());
                if let Some(hook) = hook {
                    hook.delivered(
                        &batch.session_id,
                        &batch.attributes,
                        &batch.ids,
                        batch.oldest,
                    )
                    .await;
                }
            }
            Err(err) => {
                metrics.counter("guests.send_failures").inc();
                tracing::warn!(error = %err, "guest attribute send failed; kept for the next flush");
                first_error.get_or_insert(err);
                kept.push(batch);
            }
        }
    }
    pending.updates = kept.iter().map(|b| b.count).sum();
    pending.sessions = kept;
    match first_error {
        None => Ok(()),
        Some(err) => Err(err),
    }
}
