//! Guest attribute batching: how many sends 1,000 updates over 50 sessions become, `add`
//! throughput with the durable outbox on, and memory while 100,000 updates pass a bounded
//! batcher.
//!
//! `cargo bench --bench guests`; figures go in docs/PERFORMANCE.md.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use genesys_cloud::guests::{AttributeBatcher, AttributeSink, BatcherOptions, GuestAttributes};
use genesys_cloud::observe::Metrics;
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::Error;

/// Counts sends; optionally slow, like a remote platform.
struct CountingSink {
    sends: AtomicU64,
    delay: Duration,
}

#[async_trait]
impl AttributeSink for CountingSink {
    async fn send(
        &self,
        _session: &str,
        _attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.sends.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn update(i: usize) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("counter".to_owned(), i.to_string()),
        ("page".to_owned(), "checkout".to_owned()),
    ])
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn guests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let window = BatcherOptions::builder()
        .flush_interval(Duration::from_secs(3600))
        .max_batch(1_000_000)
        .max_pending(2048)
        .build()
        .unwrap();

    c.bench_function("batch_1000_updates_50_sessions", |b| {
        b.to_async(&rt).iter(|| async {
            let sink = Arc::new(CountingSink {
                sends: AtomicU64::new(0),
                delay: Duration::ZERO,
            });
            let batcher = AttributeBatcher::start(sink.clone(), window.clone(), Metrics::default());
            for i in 0..1000 {
                batcher
                    .add(format!("session-{}", i % 50), update(i))
                    .unwrap();
            }
            batcher.shutdown().await.unwrap();
            assert_eq!(
                sink.sends.load(Ordering::Relaxed),
                50,
                "1,000 updates, 50 sends"
            );
        })
    });

    let fake = rt.block_on(FakeGenesys::builder().record_requests(false).start());
    let client = fake.client().unwrap();
    let path =
        std::env::temp_dir().join(format!("genesys-bench-outbox-{}.redb", std::process::id()));
    let sink = Arc::new(CountingSink {
        sends: AtomicU64::new(0),
        delay: Duration::ZERO,
    });
    let (with_outbox, _) = rt
        .block_on(
            GuestAttributes::builder(client.clone(), sink)
                // Sent in batches of 100 as they come, so the pending bound never fills.
                .batching(
                    BatcherOptions::builder()
                        .flush_interval(Duration::from_secs(3600))
                        .max_batch(100)
                        .max_pending(1_000_000)
                        .build()
                        .unwrap(),
                )
                .outbox(&path)
                .start(),
        )
        .unwrap();
    let mut i = 0;
    c.bench_function("add_with_durable_outbox", |b| {
        b.to_async(&rt).iter(|| {
            i += 1;
            let update = update(i);
            let guests = &with_outbox;
            async move {
                guests
                    .add(&format!("session-{}", i % 50), update, BTreeMap::new())
                    .await
                    .unwrap()
            }
        })
    });
    rt.block_on(with_outbox.shutdown()).unwrap();
    let _ = std::fs::remove_file(&path);

    // Not a timing: resident memory while 100,000 updates pass through a bound of 1,024
    // pending updates towards a sink that takes 1 ms per send (a full batcher refuses at
    // once; the producer waits and tries again, as a caller would).
    let before = rss_kib();
    let peak = rt.block_on(async {
        let sink = Arc::new(CountingSink {
            sends: AtomicU64::new(0),
            delay: Duration::from_millis(1),
        });
        let options = BatcherOptions::builder()
            .flush_interval(Duration::from_millis(50))
            .max_batch(100)
            .max_pending(1024)
            .build()
            .unwrap();
        let batcher = AttributeBatcher::start(sink, options, Metrics::default());
        let mut peak = 0;
        for i in 0..100_000 {
            while let Err(err) = batcher.add(format!("session-{}", i % 500), update(i)) {
                assert_eq!(err.kind(), genesys_cloud::ErrorKind::LocalLimit, "{err}");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if i % 10_000 == 0 {
                peak = peak.max(rss_kib());
            }
        }
        batcher.shutdown().await.unwrap();
        peak.max(rss_kib())
    });
    eprintln!("memory: RSS {before} KiB before, peak {peak} KiB while 100,000 updates passed a 1,024-slot queue (+{} KiB)", peak.saturating_sub(before));
}

criterion_group!(benches, guests);
criterion_main!(benches);
