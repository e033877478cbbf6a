//! Reconciling a gap as open callbacks grow (issue #24, item 3): 100, 1,000 and 10,000
//! open callbacks on the stream's queues, a gap in which a few of them change, and what
//! the reconciliation after it costs: API calls, time, memory.
//!
//! `cargo bench --bench reconciliation`; figures in docs/PERFORMANCE.md ("Reconciliation
//! as open callbacks grow").
//!
//! The platform is a local server (`support/http.rs`: its own thread, its CPU taken out,
//! its memory not counted) holding the callbacks and answering, with the platform's
//! models (the shapes the testkit's fake answers):
//!
//! - the Notifications API: `POST /api/v2/notifications/channels`, `PUT
//!   .../subscriptions`, `HEAD` a channel, and the channel's websocket (its own listener),
//!   where every callback is published as a live event
//!   (`v2.routing.queues.{id}.conversations.callbacks`, the `CallbackConversation` body)
//!   and heartbeats come on `channel.metadata`;
//! - `POST /api/v2/analytics/conversations/details/query`: open callbacks (no
//!   `conversationEnd`) of the queried queues that started on a day the interval touches,
//!   by `conversationStart`, paged (`AnalyticsConversationWithoutAttributes` records);
//! - `GET /api/v2/conversations/callbacks/{id}`: the `CallbackConversation`.
//!
//! Each request is counted by route. For each size, a fresh server and stream:
//!
//! 1. the stream starts on the two queues; every open callback is published live and
//!    read by the consumer, the server at most 128 events ahead of it (the stream's buffer
//!    is 256: nothing is dropped, which would be reconciled too): the stream has reported
//!    all of them (bytes live before and after, per callback);
//! 2. the gap: `changes` callbacks change (4 in 10 rescheduled, 3 in 10 ended, 3 in 10
//!    new) and the websocket is dropped; the stream reconnects to the same channel;
//! 3. the reconciliation: from the gap until the first complete `Reconciled` notice (the
//!    main pass) and until nothing more is asked for `analytics_delay` and 1.5 s (the
//!    second query of the window's end, `analytics_delay` after the first run: 5 s here
//!    instead of 2 min, still after the main pass ends, as 2 min is on the platform):
//!    query pages and GETs of each, the client's CPU and time of the main pass, the peak
//!    of bytes live during it, and the reconciled events yielded.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `RECONCILE_OPEN` | `100,1000,10000` | open callbacks |
//! | `RECONCILE_CHANGES` | 10 | callbacks changed in the gap |
//! | `RECONCILE_ANALYTICS_DELAY_MS` | 5000 | `StreamOptions::analytics_delay` (default 2 min) |
//! | `RECONCILE_PAGES` | 5 | `StreamOptions::max_reconcile_pages` (the default) |
//! | `RECONCILE_DEBUG` | unset | set: the server prints each query, its answer's size and each GET |
//! | `RECONCILE_QUICK` | 0 | 1: a run that only shows the bench works (also `-- --quick`, and `cargo test --bench reconciliation`): 10 and 150 open callbacks, one page per run |
//!
//! The bench fails unless every change is reported, and with a GET per change in the main
//! pass (none for the callbacks that did not change).

#[path = "support/cpu.rs"]
mod cpu;
#[path = "support/http.rs"]
mod http;
#[path = "support/knobs.rs"]
mod knobs;
#[path = "support/live_heap.rs"]
mod live_heap;

#[global_allocator]
static HEAP: live_heap::LiveHeap = live_heap::LiveHeap;

/// Bytes live on the heap (this process's client side: the server's thread is not counted).
fn heap() -> i64 {
    live_heap::bytes() as i64
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use genesys_cloud::auth::StaticToken;
use genesys_cloud::callbacks::{EventSource, StreamItem, StreamOptions};
use genesys_cloud::jiff::{SignedDuration, Timestamp};
use genesys_cloud::Client;
use http::{Request, Response, Server};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "bench-access-token-6f1c9a2e4b7d4e0f8a3c5b2d9e1f7a6c";
const QUEUES: [&str; 2] = [
    "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
    "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
];
const CHANNEL: &str = "streaming-bench-channel";
/// First groups of the bench's ids (see `knobs::uuid_of`).
const CONVERSATION: u32 = 0xcb;
const CUSTOMER: u32 = 0xc5;
const ACD: u32 = 0xac;

// ---------------------------------------------------------------------------------------
// The platform's side

struct Callback {
    index: usize,
    queue: usize,
    created: Timestamp,
    scheduled: Timestamp,
    end: Option<Timestamp>,
}

fn time(t: Timestamp) -> String {
    // The platform's form: milliseconds, `Z`.
    format!("{t:.3}")
}

impl Callback {
    fn id(&self) -> String {
        knobs::uuid_of(CONVERSATION, self.index)
    }

    /// `CallbackConversation`, as `GET /api/v2/conversations/callbacks/{id}` answers it
    /// and as the queue's callback topic carries it.
    fn conversation(&self) -> Value {
        let state = |live: &'static str| {
            if self.end.is_some() {
                "disconnected"
            } else {
                live
            }
        };
        let mut customer = json!({
            "id": knobs::uuid_of(CUSTOMER, self.index),
            "purpose": "customer",
            "state": state("connected"),
            "direction": "inbound",
            "startTime": time(self.created),
        });
        let mut callback = json!({
            "id": knobs::uuid_of(ACD, self.index),
            "purpose": "acd",
            "state": state("scheduled"),
            "direction": "outbound",
            "startTime": time(self.created),
            "queue": { "id": QUEUES[self.queue] },
            "callbackNumbers": ["+14155550199"],
            "callbackUserName": "Jordan Lee",
            "callbackScheduledTime": time(self.scheduled),
            "attributes": { "channelPrimary": "voice", "reason": "Technical support escalation" },
        });
        if let Some(end) = self.end {
            callback["endTime"] = json!(time(end));
            customer["endTime"] = json!(time(end));
        }
        json!({
            "id": self.id(),
            "participants": [customer, callback],
            "selfUri": format!("/api/v2/conversations/callbacks/{}", self.id()),
        })
    }

    /// `AnalyticsConversationWithoutAttributes`: the customer's callback session carries
    /// the numbers and the scheduled time, the ACD participant's the queue.
    fn analytics(&self) -> Value {
        let start = time(self.created);
        json!({
            "conversationId": self.id(),
            "conversationStart": start,
            "originatingDirection": "inbound",
            "divisionIds": [],
            "participants": [
                { "participantId": knobs::uuid_of(CUSTOMER, self.index), "purpose": "customer", "sessions": [{
                    "sessionId": knobs::uuid_of(CUSTOMER, self.index),
                    "mediaType": "callback",
                    "direction": "inbound",
                    "callbackNumbers": ["+14155550199"],
                    "callbackUserName": "Jordan Lee",
                    "callbackScheduledTime": time(self.scheduled),
                    "segments": [{ "segmentType": "scheduled", "segmentStart": start }],
                }] },
                { "participantId": knobs::uuid_of(ACD, self.index), "purpose": "acd", "sessions": [{
                    "sessionId": knobs::uuid_of(ACD, self.index),
                    "mediaType": "callback",
                    "direction": "outbound",
                    "segments": [{ "segmentType": "scheduled", "segmentStart": start, "queueId": QUEUES[self.queue] }],
                }] },
            ],
        })
    }

    /// A live event on the callback's queue topic.
    fn frame(&self) -> String {
        json!({
            "topicName": format!("v2.routing.queues.{}.conversations.callbacks", QUEUES[self.queue]),
            "version": "2",
            "eventBody": self.conversation(),
            "metadata": { "CorrelationId": knobs::uuid_of(0xe0, self.index) },
        })
        .to_string()
    }
}

struct World {
    /// By `created` (new callbacks are added last, created last).
    callbacks: Vec<Callback>,
    ws_port: u16,
}

impl World {
    fn new(open: usize, ws_port: u16) -> World {
        let now = Timestamp::now();
        // Booked over the last 100 minutes, scheduled in the coming hours.
        let spacing = SignedDuration::from_millis(6_000_000 / open.max(1) as i64);
        let first = now - SignedDuration::from_mins(101);
        let callbacks = (0..open)
            .map(|i| Callback {
                index: i,
                queue: i % QUEUES.len(),
                created: first + spacing * i as i32,
                scheduled: now
                    + SignedDuration::from_hours(1)
                    + SignedDuration::from_secs(i as i64),
                end: None,
            })
            .collect();
        World { callbacks, ws_port }
    }

    fn get(&self, id: &str) -> Option<&Callback> {
        let i = knobs::index_of(id)?;
        self.callbacks
            .iter()
            .find(|c| c.index == i)
            .filter(|c| c.id() == id)
    }

    /// What changes in the gap: `n` callbacks, 4 in 10 rescheduled, 3 in 10 ended, the
    /// rest new; the changed ones spread evenly over the open ones.
    fn change(&mut self, n: usize) {
        let open = self.callbacks.len();
        let rescheduled = n * 4 / 10;
        let ended = n * 3 / 10;
        let new = n - rescheduled - ended;
        let now = Timestamp::now();
        for k in 0..(rescheduled + ended).min(open) {
            let c = &mut self.callbacks[k * open / (rescheduled + ended) + open / (2 * n.max(1))];
            if k < rescheduled {
                c.scheduled += SignedDuration::from_mins(30);
            } else {
                c.end = Some(now);
            }
        }
        for k in 0..new {
            self.callbacks.push(Callback {
                index: open + k,
                queue: k % QUEUES.len(),
                created: now,
                scheduled: now + SignedDuration::from_hours(3),
                end: None,
            });
        }
    }

    fn query(&self, body: &[u8]) -> Response {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return bad("the query is not JSON");
        };
        let Some((from, to)) = body["interval"]
            .as_str()
            .and_then(|i| i.split_once('/'))
            .and_then(|(a, b)| Some((a.parse::<Timestamp>().ok()?, b.parse::<Timestamp>().ok()?)))
        else {
            return bad("interval");
        };
        let day = |t: Timestamp| t.to_zoned(genesys_cloud::jiff::tz::TimeZone::UTC).date();
        let (first_day, last_day) = (day(from), day(to));
        let size = body["paging"]["pageSize"].as_u64().unwrap_or(25) as usize;
        let page = body["paging"]["pageNumber"].as_u64().unwrap_or(1) as usize;
        if !(1..=100).contains(&size) || page < 1 {
            return bad("paging");
        }
        let open_only = body["conversationFilters"][0]["predicates"][0]["operator"] == "notExists";
        let queues: Vec<&str> = body["segmentFilters"][0]["clauses"][0]["predicates"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["value"].as_str()).collect())
            .unwrap_or_default();
        if !open_only || queues.is_empty() {
            return bad("filters");
        }
        let hits: Vec<&Callback> = self
            .callbacks
            .iter()
            .filter(|c| c.end.is_none())
            .filter(|c| (first_day..=last_day).contains(&day(c.created)))
            .filter(|c| queues.contains(&QUEUES[c.queue]))
            .collect();
        let records: Vec<Value> = hits
            .iter()
            .skip((page - 1) * size)
            .take(size)
            .map(|c| c.analytics())
            .collect();
        if std::env::var("RECONCILE_DEBUG").is_ok() {
            eprintln!(
                "ANSWER page {page} size {size}: {} records of {}",
                records.len(),
                hits.len()
            );
        }
        let mut answer = json!({ "totalHits": hits.len() });
        if !records.is_empty() {
            answer["conversations"] = json!(records);
        }
        Response::json("query", 200, &answer)
    }

    fn route(&self, req: &Request<'_>) -> Response {
        const CALLBACK: &str = "/api/v2/conversations/callbacks/";
        const CHANNELS: &str = "/api/v2/notifications/channels";
        match (req.method, req.path) {
            ("POST", "/api/v2/analytics/conversations/details/query") => {
                if std::env::var("RECONCILE_DEBUG").is_ok() {
                    eprintln!("QUERY {}", String::from_utf8_lossy(req.body));
                }
                self.query(req.body)
            }
            ("GET", path) if path.starts_with(CALLBACK) => {
                if std::env::var("RECONCILE_DEBUG").is_ok() {
                    eprintln!("GET {:?}", knobs::index_of(&path[CALLBACK.len()..]));
                }
                match self.get(&path[CALLBACK.len()..]) {
                    Some(c) => Response::json("get", 200, &c.conversation()),
                    None => Response::json(
                        "get",
                        404,
                        &json!({"status": 404, "code": "not.found", "message": "The conversation was not found."}),
                    ),
                }
            }
            ("POST", CHANNELS) => Response::json(
                "channels",
                200,
                &json!({
                    "id": CHANNEL,
                    "connectUri": format!("ws://127.0.0.1:{}/channels/{CHANNEL}", self.ws_port),
                    "expires": time(Timestamp::now() + SignedDuration::from_hours(24)),
                }),
            ),
            ("PUT", path) if path.ends_with("/subscriptions") => {
                let topics: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
                let entities: Vec<Value> = topics
                    .as_array()
                    .map(|ts| {
                        ts.iter()
                            .map(|t| json!({ "id": t["id"], "state": "Permitted" }))
                            .collect()
                    })
                    .unwrap_or_default();
                Response::json("subscriptions", 200, &json!({ "entities": entities }))
            }
            ("HEAD", path) if path.starts_with(CHANNELS) => {
                Response::json("channels", 200, &json!({}))
            }
            _ => Response::json(
                "other",
                404,
                &json!({"status": 404, "code": "not.found", "message": "not a bench route"}),
            ),
        }
    }
}

fn bad(what: &str) -> Response {
    Response::json(
        "query",
        400,
        &json!({"status": 400, "code": "bad.request", "message": format!("the bench server does not understand {what}")}),
    )
}

/// What the bench asks of the platform's side.
enum Command {
    /// Publish every callback as a live event, at most 128 ahead of what the consumer
    /// has read (`read`; the stream's buffer is 256), so that it never lags (what a lag
    /// drops is reconciled too, and would count here).
    PublishAll(Arc<AtomicUsize>),
    /// The gap: change `n` callbacks, then drop the socket.
    Gap(usize),
}

/// The channel's websocket: one connection at a time (the stream's), heartbeats every
/// 30 s, commands from the bench.
async fn websocket(
    listener: std::net::TcpListener,
    world: Arc<Mutex<World>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            continue;
        };
        let mut heartbeat = tokio::time::interval(Duration::from_secs(30));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::PublishAll(read)) => {
                        let frames: Vec<String> =
                            world.lock().unwrap().callbacks.iter().map(Callback::frame).collect();
                        for (sent, frame) in frames.into_iter().enumerate() {
                            while sent >= read.load(Ordering::Relaxed) + 128 {
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            if ws.send(Message::text(frame)).await.is_err() {
                                break;
                            }
                        }
                    }
                    Some(Command::Gap(n)) => {
                        world.lock().unwrap().change(n);
                        break; // dropped without a close frame, as a lost network path
                    }
                    None => return,
                },
                incoming = ws.next() => match incoming {
                    Some(Ok(_)) => {} // pings: heartbeats keep the socket alive
                    _ => break,
                },
                _ = heartbeat.tick() => {
                    let beat = json!({"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}});
                    if ws.send(Message::text(beat.to_string())).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

fn platform(open: usize) -> (Server, mpsc::UnboundedSender<Command>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::start("platform", move || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        let world = Arc::new(Mutex::new(World::new(open, port)));
        let routes = world.clone();
        let handler = move |req: &Request<'_>| routes.lock().unwrap().route(req);
        (handler, websocket(listener, world, rx))
    });
    (server, tx)
}

// ---------------------------------------------------------------------------------------
// The client's side

/// What the consumer has read.
#[derive(Default)]
struct Seen {
    live: Arc<AtomicUsize>,
    reconciled: Mutex<Vec<(Instant, String)>>,
    reconnected: Mutex<Option<Instant>>,
    /// Each reconciliation notice: when, whether complete, runs it covers.
    notices: Mutex<Vec<(Instant, bool, u32)>>,
    error: Mutex<Option<String>>,
    /// Events the stream dropped because the consumer lagged.
    lagged: AtomicUsize,
}

#[derive(Clone, Default)]
struct Sample {
    open: usize,
    changes: usize,
    /// Bytes live once the stream had reported every open callback, over those before
    /// the stream started.
    bytes_tracked: i64,
    tasks: usize,
    main_queries: u64,
    main_gets: u64,
    main_time: Duration,
    main_cpu: Duration,
    main_runs: u32,
    peak_extra: i64,
    total_queries: u64,
    total_gets: u64,
    reconciled_events: usize,
    bytes_after: i64,
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn run_one(
    rt: &tokio::runtime::Runtime,
    open: usize,
    changes: usize,
    delay: Duration,
    pages: u32,
) -> Sample {
    let (server, commands) = platform(open);
    let base = server.base();
    let seen = Arc::new(Seen::default());
    let client = Client::builder()
        .base_urls(&base, &base)
        .auth(StaticToken::new(TOKEN))
        .build()
        .expect("client");
    let options = StreamOptions::builder()
        .reconnect_wait(Duration::from_millis(50))
        .max_reconnect_wait(Duration::from_millis(500))
        .analytics_delay(delay)
        .max_reconcile_pages(pages)
        .build()
        .expect("stream options");

    let before = heap();
    let events = rt
        .block_on(client.callbacks().events_with(&QUEUES, options))
        .expect("the stream starts");
    let consumer = {
        let seen = seen.clone();
        rt.spawn(async move {
            let mut events = events;
            while let Some(item) = events.next().await {
                match item {
                    Ok(StreamItem::Event(event)) => match event.source {
                        EventSource::Live => {
                            seen.live.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => seen
                            .reconciled
                            .lock()
                            .unwrap()
                            .push((Instant::now(), event.conversation_id)),
                    },
                    Ok(StreamItem::Lagged(lagged)) => {
                        seen.lagged
                            .fetch_add(lagged.dropped as usize, Ordering::Relaxed);
                    }
                    Ok(StreamItem::Reconnected(_)) => {
                        *seen.reconnected.lock().unwrap() = Some(Instant::now());
                    }
                    Ok(StreamItem::Reconciled(report)) => seen.notices.lock().unwrap().push((
                        Instant::now(),
                        report.is_complete(),
                        report.runs,
                    )),
                    Ok(_) => {}
                    Err(err) => {
                        *seen.error.lock().unwrap() = Some(err.to_string());
                        return events;
                    }
                }
            }
            events
        })
    };

    // 1. Every open callback reported live.
    commands
        .send(Command::PublishAll(seen.live.clone()))
        .expect("the platform runs");
    wait_for("every live event read", Duration::from_secs(120), || {
        seen.live.load(Ordering::Relaxed) >= open
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        seen.lagged.load(Ordering::Relaxed),
        0,
        "the consumer lagged while the live events came: what was dropped would be read after the gap"
    );
    let tracked = heap();
    let tasks = rt.metrics().num_alive_tasks();

    // 2. The gap, 3. the reconciliation.
    let (queries0, gets0) = (server.count("query"), server.count("get"));
    live_heap::track_peak();
    let (gap, cpu0, server0) = (Instant::now(), cpu::process_cpu(), server.cpu());
    commands
        .send(Command::Gap(changes))
        .expect("the platform runs");
    let expected = changes.min(open + changes);
    wait_for(
        "the main pass: every change reported and a complete notice",
        Duration::from_secs(600),
        || {
            if let Some(err) = seen.error.lock().unwrap().as_ref() {
                panic!("the stream failed: {err}");
            }
            let reconnected = *seen.reconnected.lock().unwrap();
            reconnected.is_some_and(|at| {
                seen.notices
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|&(when, complete, _)| when > at && complete)
            }) && seen.reconciled.lock().unwrap().len() >= expected
        },
    );
    let main_time = gap.elapsed();
    let (cpu, server_cpu) = (cpu::process_cpu() - cpu0, server.cpu() - server0);
    let peak = live_heap::peak() as i64;
    let (main_queries, main_gets) = (
        server.count("query") - queries0,
        server.count("get") - gets0,
    );
    let main_runs = seen
        .notices
        .lock()
        .unwrap()
        .iter()
        .map(|&(_, _, runs)| runs)
        .sum();
    // Then until nothing more is asked for `analytics_delay` and 1.5 s (the second query
    // of the window's end comes `analytics_delay` after the first run).
    let mut last = (server.count("query"), server.count("get"));
    let mut quiet_since = Instant::now();
    wait_for("quiet", Duration::from_secs(600), || {
        let now = (server.count("query"), server.count("get"));
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
        quiet_since.elapsed() > delay + Duration::from_millis(1_500)
    });
    let after = heap();
    let reconciled_events = seen.reconciled.lock().unwrap().len();
    consumer.abort();
    drop(commands);
    Sample {
        open,
        changes,
        bytes_tracked: tracked - before,
        tasks,
        main_queries,
        main_gets,
        main_time,
        main_cpu: cpu.saturating_sub(server_cpu),
        main_runs,
        peak_extra: peak - tracked,
        total_queries: last.0 - queries0,
        total_gets: last.1 - gets0,
        reconciled_events,
        bytes_after: after - before,
    }
}

fn main() {
    let quick = knobs::quick("RECONCILE");
    // Quick: 150 open callbacks over two runs of one page, to go past the page bound.
    let (sizes, changes, delay, pages) = if quick {
        (vec![10, 150], 10, Duration::from_millis(200), 1)
    } else {
        (
            knobs::env_list("RECONCILE_OPEN", "100,1000,10000"),
            knobs::env_or("RECONCILE_CHANGES", 10usize),
            Duration::from_millis(knobs::env_or("RECONCILE_ANALYTICS_DELAY_MS", 5_000)),
            knobs::env_or("RECONCILE_PAGES", 5u32),
        )
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "reconciliation: open callbacks {sizes:?}, {changes} changed in the gap (4/10 rescheduled, 3/10 ended, 3/10 new); {pages} page(s) of 100 and 100 GETs per run, analytics_delay {delay:?}; {} cores; load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu::loadavg()
    );
    println!(
        "\nopen | changed | main pass: query pages, GETs, runs, time, client CPU | with the second pass: query pages, GETs | reconciled events | bytes live, tracking all (per callback) | peak extra during the main pass | tasks"
    );
    let mut samples = Vec::new();
    for &open in &sizes {
        let s = run_one(&rt, open, changes, delay, pages);
        println!(
            "{} | {} | {}, {}, {}, {:.0} ms, {:.0} ms | {}, {} | {} | {} ({:.0}) | {} | {}",
            s.open,
            s.changes,
            s.main_queries,
            s.main_gets,
            s.main_runs,
            s.main_time.as_secs_f64() * 1e3,
            s.main_cpu.as_secs_f64() * 1e3,
            s.total_queries,
            s.total_gets,
            s.reconciled_events,
            s.bytes_tracked,
            s.bytes_tracked as f64 / s.open as f64,
            s.peak_extra,
            s.tasks,
        );
        samples.push(s);
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        if last.open > first.open {
            println!(
                "marginal bytes per tracked callback ({} -> {}): {:.0}",
                first.open,
                last.open,
                (last.bytes_tracked - first.bytes_tracked) as f64 / (last.open - first.open) as f64
            );
        }
    }
    for s in &samples {
        let _ = s.bytes_after;
        assert!(
            s.reconciled_events >= s.changes,
            "every change is reported ({} of {})",
            s.reconciled_events,
            s.changes
        );
        // The goal: a GET per change, none for what did not change.
        assert_eq!(
            s.main_gets as usize, s.changes,
            "{} open callbacks: GETs in the main pass",
            s.open
        );
    }
    println!("load average now {}", cpu::loadavg());
}
