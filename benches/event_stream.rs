//! The notifications layer's cost per event as the topics grow (issue #24, item 2).
//!
//! `cargo bench --bench event_stream --features notifications`; figures go in
//! docs/PERFORMANCE.md ("Event stream"). `-- --test` runs every step once, small, to
//! check that the bench works (CI does).
//!
//! The platform is the stand-in of `support/platform.rs`, on the thread of a
//! `support/http.rs` server: its CPU clock is taken out of the process's, so what is
//! measured is the client's: the channel's task reading frames, routing each to its
//! subscribers, and the consumer taking it from its
//! [`Subscription`](genesys_cloud::notifications::Subscription).
//!
//! The client runs on a current-thread runtime on the bench's thread: events per second
//! are what one core holds. Each frame is a callback event as the platform sends it on
//! `v2.routing.queues.{id}.conversations.callbacks`: `{topicName, version, eventBody,
//! metadata}` with a `QueueConversationCallbackEventTopicCallbackConversation` body (the
//! model the platform's `notificationMappings.json` names for the topic; with the `api`
//! feature the bench checks that the body reads as that model with unknown fields
//! refused).
//!
//! Printed: for 1, 10, 100 and 1,000 topics (one channel, 1,000 being the platform's limit
//! per channel), client CPU per event, events per second, and the ratio to 1 topic; then a
//! consumer that reads nothing while 100,000 events arrive: the heap it costs (counted by
//! this bench's global allocator) against its buffer, and what it was told it lost.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `EVENTS` | 200000 | events per measurement (the warm-up sends a tenth) |
//! | `ROUNDS` | 5 | rounds (each topic count once per round, in turn) |
//! | `TOPICS` | `1,10,100,1000` | topic counts |

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/http.rs"]
mod http;
#[path = "support/live_heap.rs"]
mod live_heap;
#[path = "support/platform.rs"]
mod platform;

use std::hint::black_box;
use std::time::{Duration, Instant};

use futures::StreamExt;
use genesys_cloud::auth::StaticToken;
use genesys_cloud::notifications::{NotificationItem, SubscribeOptions, Subscription};
use genesys_cloud::Client;
use platform::{frame, topic, Platform};

#[global_allocator]
static HEAP: live_heap::LiveHeap = live_heap::LiveHeap;

const TOKEN: &str = "bench-access-token-6f1c9a2e4b7d4e0f8a3c5b2d9e1f7a6c";
/// The consumer's buffer while measuring: deep enough that nothing is dropped.
const BUFFER: usize = 16_384;
/// The slow consumer's buffer.
const SLOW_BUFFER: usize = 1_024;
const SLOW_EVENTS: usize = 100_000;

// ---------------------------------------------------------------------------------------
// The client side

struct Consumer {
    /// Kept alive: the subscription's channel belongs to it.
    _client: Client,
    subscription: Subscription,
    channel: String,
}

async fn subscribe(platform: &Platform, topics: usize, buffer: usize) -> Consumer {
    let base = format!("http://{}", platform.rest);
    let client = Client::builder()
        .base_urls(&base, &base)
        .auth(StaticToken::new(TOKEN))
        .build()
        .expect("client");
    let options = SubscribeOptions::builder()
        .buffer(buffer)
        .build()
        .expect("options");
    let subscription = client
        .notifications()
        .subscribe_with((0..topics).map(topic), options)
        .await
        .expect("subscribed");
    Consumer {
        _client: client,
        subscription,
        channel: platform.last_channel(),
    }
}

/// Reads `events` events; what was lost on the way (none, with the measuring buffer).
async fn consume(consumer: &mut Consumer, events: usize) -> u64 {
    let (mut got, mut lost) = (0u64, 0u64);
    while got + lost < events as u64 {
        match consumer.subscription.next().await {
            Some(Ok(NotificationItem::Event(event))) => {
                black_box(event);
                got += 1;
            }
            Some(Ok(NotificationItem::Lagged(lagged))) => lost += lagged.dropped,
            Some(Ok(other)) => panic!("unexpected notice while measuring: {other:?}"),
            Some(Err(err)) => panic!("the stream failed: {err}"),
            None => panic!("the stream ended"),
        }
    }
    lost
}

#[derive(Clone, Copy, Default)]
struct Sample {
    events: usize,
    wall: Duration,
    client_cpu: Duration,
    lost: u64,
}

impl Sample {
    fn cpu_ns(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e9 / self.events as f64
    }
    fn rate(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64()
    }
}

async fn measure(platform: &Platform, consumer: &mut Consumer, events: usize) -> Sample {
    let (server0, cpu0, wall0) = (platform.cpu(), cpu::process_cpu(), Instant::now());
    platform.burst(&consumer.channel, events);
    let lost = consume(consumer, events).await;
    let wall = wall0.elapsed();
    let server = platform.cpu() - server0;
    Sample {
        events,
        wall,
        client_cpu: (cpu::process_cpu() - cpu0).saturating_sub(server),
        lost,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The body reads as the topic's model, unknown fields refused.
#[cfg(feature = "api")]
fn check_shape() {
    use genesys_cloud::api::models::QueueConversationCallbackEventTopicCallbackConversation as Model;
    let body = platform::event_body(&platform::queue(0), 0);
    genesys_cloud::api::deny_unknown_fields(|| serde_json::from_value::<Model>(body))
        .expect("the bench's event body is the topic's model");
}

#[cfg(not(feature = "api"))]
fn check_shape() {}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    check_shape();
    if let Ok(filter) = std::env::var("RUST_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let (events, rounds) = if test_mode {
        (2_000, 1)
    } else {
        (env_or("EVENTS", 200_000usize), env_or("ROUNDS", 5usize))
    };
    let topic_counts: Vec<usize> = std::env::var("TOPICS")
        .unwrap_or_else(|_| "1,10,100,1000".into())
        .split(',')
        .map(|t| t.trim().parse().expect("TOPICS: numbers"))
        .collect();
    let platform = Platform::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async {
        println!(
            "event stream: {events} events per measurement, {rounds} rounds, topics {topic_counts:?}; client on one thread; load average {}",
            cpu::loadavg()
        );
        let mut consumers = Vec::new();
        for &n in &topic_counts {
            let mut consumer = subscribe(&platform, n, BUFFER).await;
            measure(&platform, &mut consumer, (events / 10).max(1)).await;
            consumers.push(consumer);
        }
        let mut samples = vec![Vec::new(); topic_counts.len()];
        for _ in 0..rounds {
            for (k, consumer) in consumers.iter_mut().enumerate() {
                samples[k].push(measure(&platform, consumer, events).await);
            }
        }
        drop(consumers);
        let base = median(samples[0].iter().map(Sample::cpu_ns).collect());
        println!(
            "\n{:>7} {:>22} {:>16} {:>14} {:>6}",
            "topics", "client CPU/event, ns", "events/s", "CPU / 1 topic", "lost"
        );
        for (k, &n) in topic_counts.iter().enumerate() {
            let cpu = median(samples[k].iter().map(Sample::cpu_ns).collect());
            let rate = median(samples[k].iter().map(Sample::rate).collect());
            let lost: u64 = samples[k].iter().map(|s| s.lost).sum();
            println!(
                "{n:>7} {cpu:>22.0} {rate:>16.0} {:>14.3} {lost:>6}",
                cpu / base
            );
        }

        // A consumer that reads nothing: what it costs is bounded by its buffer.
        let slow_events = if test_mode { 5_000 } else { SLOW_EVENTS };
        let mut slow = subscribe(&platform, 1, SLOW_BUFFER).await;
        let heap_before = live_heap::bytes();
        platform.burst(&slow.channel, slow_events);
        let expected_drops = (slow_events - SLOW_BUFFER) as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while slow.subscription.dropped() < expected_drops && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let heap_peak = live_heap::bytes();
        let dropped = slow.subscription.dropped();
        let mut kept = 0usize;
        let mut told = 0u64;
        while kept + (told as usize) < slow_events {
            match tokio::time::timeout(Duration::from_secs(5), slow.subscription.next()).await {
                Ok(Some(Ok(NotificationItem::Event(_)))) => kept += 1,
                Ok(Some(Ok(NotificationItem::Lagged(l)))) => told += l.dropped,
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        let frame_len = frame(&topic(0), 0).len();
        println!(
            "\nslow consumer (buffer {SLOW_BUFFER}, reads nothing while {slow_events} events arrive): heap +{:.0} KiB \
             ({:.0} bytes per buffered event, a frame is {frame_len} bytes); dropped {dropped}, then read {kept} events \
             and Lagged notices for {told}",
            (heap_peak.saturating_sub(heap_before)) as f64 / 1024.0,
            heap_peak.saturating_sub(heap_before) as f64 / SLOW_BUFFER as f64,
        );
        assert_eq!(
            kept as u64 + told,
            slow_events as u64,
            "every event is read or announced as lost"
        );
    });
}
