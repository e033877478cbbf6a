//! Events through the PostgreSQL work queue with 1, 3 and 5 replicas (issue #24, item 4).
//!
//! `GENESYS_TEST_DATABASE_URL=postgres://... cargo bench --bench fleet --features
//! postgres,notifications`; figures go in docs/PERFORMANCE.md ("Fleet throughput").
//! `-- --test` runs every step once, small (CI does). Without a database URL it says so
//! and does nothing (under CI, where `GENESYS_REQUIRE_POSTGRES` is set, it fails).
//!
//! The platform is the Notifications API stand-in of `support/platform.rs`; the replicas
//! are [`EventStream`]s in this process, each with a client and a connection pool of its
//! own (as replica processes have), sharing one PostgreSQL. One of them owns the stream
//! (holds the channel, records every event); every replica runs
//! [`EventStream::work`] with a handler that waits `HANDLER_MS` (an API call it would
//! make) and records when the event reached it. Events are spread over 100 topics
//! (a topic is an event's key, and events of one key are handled one at a time).
//!
//! For each replica count: **throughput**, a burst of events sent as fast as the socket
//! takes them, timed from the first sent to the last handled; **latency**, events sent at
//! a steady `RATE` a second (below what one replica handles), from the platform's send to
//! the handler: p50 and p99.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `REPLICAS` | `1,3,5` | replica counts |
//! | `BURST` | 3000 | events of the throughput burst |
//! | `RATE` | 100 | events a second of the latency run |
//! | `SECONDS` | 10 | length of the latency run |
//! | `HANDLER_MS` | 2 | the handler's wait per event |

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/http.rs"]
mod http;
#[path = "support/live_heap.rs"]
mod live_heap;
#[path = "support/platform.rs"]
mod platform;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_cloud::auth::StaticToken;
use genesys_cloud::fleet::{EventStream, StoredEvent};
use genesys_cloud::notifications::SubscribeOptions;
use genesys_cloud::postgres::Database;
use genesys_cloud::Client;
use platform::Platform;

const TOKEN: &str = "bench-access-token-6f1c9a2e4b7d4e0f8a3c5b2d9e1f7a6c";
const TOPICS: usize = 100;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the handlers saw.
#[derive(Default)]
struct Seen {
    handled: AtomicUsize,
    latencies: Mutex<Vec<Duration>>,
    last: Mutex<Option<Instant>>,
}

impl Seen {
    fn reset(&self) {
        self.handled.store(0, Ordering::SeqCst);
        self.latencies.lock().unwrap().clear();
        *self.last.lock().unwrap() = None;
    }
}

struct Fleet {
    streams: Vec<EventStream>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    channel: String,
}

async fn start_fleet(
    platform: &Platform,
    url: &str,
    prefix: &str,
    replicas: usize,
    seen: &Arc<Seen>,
    handler_wait: Duration,
) -> Fleet {
    let base = format!("http://{}", platform.rest);
    let topics: Vec<String> = (0..TOPICS).map(platform::topic).collect();
    let channels_before = platform.channels_made();
    let mut streams = Vec::new();
    for i in 0..replicas {
        let client = Client::builder()
            .base_urls(&base, &base)
            .auth(StaticToken::new(TOKEN))
            .build()
            .expect("client");
        let db = Database::connect(url)
            .expect("the database URL is valid")
            .table_prefix(prefix)
            .expect("a valid prefix");
        let options = SubscribeOptions::builder()
            .buffer(16_384)
            .build()
            .expect("options");
        let stream = EventStream::builder(client, db, "bench")
            .topics(topics.clone(), options)
            .replica(format!("replica-{i}"))
            .poll_every(Duration::from_millis(10))
            .start()
            .await
            .expect("the stream starts");
        streams.push(stream);
    }
    // The owner has subscribed when the platform has a new channel with its socket.
    let deadline = Instant::now() + Duration::from_secs(30);
    while platform.channels_made() == channels_before {
        assert!(Instant::now() < deadline, "no replica took the stream");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let channel = platform.last_channel();
    platform.wait_ready(&channel);
    let workers = streams
        .iter()
        .map(|stream| {
            let (stream, seen) = (stream.clone(), seen.clone());
            tokio::spawn(async move {
                let handler = |event: StoredEvent| {
                    let seen = seen.clone();
                    async move {
                        let body: serde_json::Value = event.decode()?;
                        let sent = body["id"].as_str().and_then(platform::sent_at);
                        tokio::time::sleep(handler_wait).await;
                        if let Some(sent) = sent {
                            let now = Instant::now();
                            seen.latencies.lock().unwrap().push(now - sent);
                            *seen.last.lock().unwrap() = Some(now);
                            seen.handled.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(())
                    }
                };
                if let Err(err) = stream.work(handler).await {
                    eprintln!("a replica's work queue stopped: {err}");
                }
            })
        })
        .collect();
    Fleet {
        streams,
        workers,
        channel,
    }
}

async fn wait_handled(seen: &Seen, events: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while seen.handled.load(Ordering::SeqCst) < events {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(url) = std::env::var("GENESYS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        assert!(
            std::env::var_os("GENESYS_REQUIRE_POSTGRES").is_none(),
            "GENESYS_TEST_DATABASE_URL is not set, but this run requires PostgreSQL"
        );
        println!(
            "fleet bench skipped: no PostgreSQL (`eval \"$(bash .ci/postgres start)\"` starts one)"
        );
        return;
    };
    if let Ok(filter) = std::env::var("RUST_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let replica_counts: Vec<usize> = std::env::var("REPLICAS")
        .unwrap_or_else(|_| "1,3,5".into())
        .split(',')
        .map(|r| r.trim().parse().expect("REPLICAS: numbers"))
        .collect();
    let (burst, rate, seconds) = if test_mode {
        (200, 100, 1)
    } else {
        (
            env_or("BURST", 3_000usize),
            env_or("RATE", 100u32),
            env_or("SECONDS", 10u64),
        )
    };
    let handler_wait = Duration::from_millis(env_or("HANDLER_MS", 2u64));
    let platform = Platform::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!(
            "fleet: replicas {replica_counts:?}, burst {burst}, {rate} events/s for {seconds} s, handler {} ms, {TOPICS} topics; load average {}",
            handler_wait.as_millis(),
            cpu::loadavg()
        );
        println!(
            "\n{:>8} {:>14} {:>14} {:>12} {:>12} {:>12}",
            "replicas", "burst, ev/s", "vs 1 replica", "p50, ms", "p99, ms", "max, ms"
        );
        let mut first_rate = None;
        for &replicas in &replica_counts {
            let prefix = format!("bench{}_{replicas}_", std::process::id());
            let setup = Database::connect(&url)
                .expect("the database URL is valid")
                .table_prefix(&prefix)
                .expect("a valid prefix");
            setup.migrate().await.expect("the migrations apply");
            let seen = Arc::new(Seen::default());
            let fleet = start_fleet(&platform, &url, &prefix, replicas, &seen, handler_wait).await;

            // Throughput: a burst, from the first sent to the last handled.
            let started = Instant::now();
            platform.stamped_burst(&fleet.channel, burst);
            let complete = wait_handled(&seen, burst, Duration::from_secs(600)).await;
            let last = seen.last.lock().unwrap().unwrap_or_else(Instant::now);
            let throughput = seen.handled.load(Ordering::SeqCst) as f64
                / (last - started).as_secs_f64();
            assert!(complete, "the burst was not handled in 10 minutes");

            // Latency at a steady rate.
            seen.reset();
            let events = rate as usize * seconds as usize;
            platform.paced_burst(&fleet.channel, events, rate);
            let complete = wait_handled(
                &seen,
                events,
                Duration::from_secs(seconds + 120),
            )
            .await;
            assert!(complete, "the paced events were not all handled");
            let mut latencies = seen.latencies.lock().unwrap().clone();
            latencies.sort();
            let base = *first_rate.get_or_insert(throughput);
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{replicas:>8} {throughput:>14.0} {:>14.2} {:>12.1} {:>12.1} {:>12.1}",
                throughput / base,
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                ms(percentile(&latencies, 1.0)),
            );
            for stream in &fleet.streams {
                stream.shutdown().await;
            }
            for worker in fleet.workers {
                let _ = worker.await;
            }
        }
    });
}
