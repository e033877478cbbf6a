//! The guest pipeline as sessions grow (issue #24, item 1): 100, 1,000 and 10,000 guest
//! sessions registered on one `ParticipantSink` behind `GuestAttributes` with the redb
//! outbox on, updates arriving at a fixed rate. How memory, CPU per update and the time
//! from `add` to delivery grow with the sessions.
//!
//! `cargo bench --bench guest_pipeline`; figures in docs/PERFORMANCE.md ("Guest pipeline
//! as sessions grow").
//!
//! The sink is the crate's own `ParticipantSink`, sending each session's merged updates as
//! `PATCH /api/v2/conversations/messages/{c}/participants/{p}/attributes` to a local
//! server (`support/http.rs`: HTTP/1.1 keep-alive, its own thread, its CPU taken out, its
//! memory not counted) that answers as the platform does: `200` with the participant's
//! attributes (`ParticipantAttributes`: the keys sent). The server notes when each PATCH
//! arrives and the highest update number (`seq`) it carries: an update is delivered when
//! a PATCH of its session carrying its number or a later one has arrived.
//!
//! For each size, a fresh client, sink, outbox file and pipeline (default policy and
//! batching: flush every 2 s or every 10 updates, 8 sends at once):
//!
//! 1. **memory**: bytes live (counting allocator) before and after registering the
//!    sessions, and once the load has passed and everything is delivered; tokio tasks
//!    alive at both points (`RuntimeMetrics::num_alive_tasks`);
//! 2. **load**: `rate` updates per second for `seconds`, each to a session drawn at
//!    random (the same seed every size), each `add` started at its time in a task of its
//!    own (open loop: a slow `add` does not slow the arrivals); each update sets 3 keys
//!    (`seq`, `page`, `cartValue`);
//! 3. **CPU per update**: process CPU minus the server thread's, from the first `add`
//!    until every update was delivered, divided by the updates;
//! 4. **latency**: from the start of `add` to the arrival of the PATCH that delivered it;
//!    p50, p99, max.
//!
//! Sizes run in rounds (each round every size, in order), so that a burst of other work
//! on this shared machine falls on every size alike; the table gives medians over rounds.
//!
//! | variable | default | what |
//! |---|---|---|
//! | `GUEST_SCALE_SESSIONS` | `100,1000,10000` | sizes |
//! | `GUEST_SCALE_RATE` | 200 | updates per second |
//! | `GUEST_SCALE_SECONDS` | 10 | seconds of load per size and round |
//! | `GUEST_SCALE_ROUNDS` | 3 | rounds |
//! | `GUEST_SCALE_MAX_BATCH` | 10 | `BatcherOptions::max_batch` (the default) |
//! | `GUEST_SCALE_QUICK` | 0 | 1: a run that only shows the bench works (also `-- --quick`, and `cargo test --bench guest_pipeline`) |

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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_cloud::auth::StaticToken;
use genesys_cloud::guests::{BatcherOptions, GuestAttributes, ParticipantSink};
use genesys_cloud::Client;
use http::{Request, Response, Server};
use serde_json::Value;

const TOKEN: &str = "bench-access-token-6f1c9a2e4b7d4e0f8a3c5b2d9e1f7a6c";
/// First groups of the bench's ids (see `knobs::uuid_of`).
const CONVERSATION: u32 = 0xc0;
const PARTICIPANT: u32 = 0xa0;

/// One PATCH as the server saw it: session, the highest update number it carried, when.
type Arrival = (usize, u64, Instant);

struct Knobs {
    sizes: Vec<usize>,
    rate: f64,
    seconds: f64,
    rounds: usize,
    max_batch: usize,
}

fn knobs() -> Knobs {
    if knobs::quick("GUEST_SCALE") {
        return Knobs {
            sizes: vec![10, 100],
            rate: 100.0,
            seconds: 0.3,
            rounds: 1,
            max_batch: 10,
        };
    }
    Knobs {
        sizes: knobs::env_list("GUEST_SCALE_SESSIONS", "100,1000,10000"),
        rate: knobs::env_or("GUEST_SCALE_RATE", 200.0),
        seconds: knobs::env_or("GUEST_SCALE_SECONDS", 10.0),
        rounds: knobs::env_or("GUEST_SCALE_ROUNDS", 3usize).max(1),
        max_batch: knobs::env_or("GUEST_SCALE_MAX_BATCH", 10usize),
    }
}

/// The platform's participant attributes endpoint, as far as the bench needs it: the
/// attributes sent are answered back (`ParticipantAttributes`), and each arrival noted.
fn server(arrivals: Arc<Mutex<Vec<Arrival>>>) -> Server {
    Server::start("guest-server", move || {
        let handler = move |req: &Request<'_>| {
            let at = Instant::now();
            // /api/v2/conversations/messages/{c}/participants/{p}/attributes
            let session = req
                .path
                .strip_prefix("/api/v2/conversations/messages/")
                .and_then(knobs::index_of);
            let (Some(session), "PATCH") = (session, req.method) else {
                return Response::json(
                    "other",
                    404,
                    &serde_json::json!({"status": 404, "code": "not.found", "message": "not a bench route"}),
                );
            };
            let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
            let seq = body["attributes"]["seq"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            arrivals.lock().unwrap().push((session, seq, at));
            Response::bytes("patch", 200, req.body.to_vec())
        };
        (handler, async {})
    })
}

/// What one size gave in one round.
#[derive(Clone, Default)]
struct Sample {
    updates: usize,
    /// Bytes live per registered session, right after registering.
    bytes_registered: f64,
    /// Bytes live per session once the load passed and everything was delivered.
    bytes_after: f64,
    tasks_before: usize,
    tasks_registered: usize,
    tasks_after: usize,
    cpu_us: f64,
    server_us: f64,
    /// System (kernel) CPU of the whole process per update: the outbox's synced commits,
    /// the sockets.
    system_us: f64,
    p50: Duration,
    p99: Duration,
    /// How long `add` took (policy, a place, the outbox's synced commit, the queue).
    add_p50: Duration,
    add_p99: Duration,
    max: Duration,
    /// PATCHes sent (sessions' merged updates).
    sends: usize,
    undelivered: usize,
    wall: Duration,
}

fn run_one(rt: &tokio::runtime::Runtime, knobs: &Knobs, sessions: usize, round: usize) -> Sample {
    let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let server = server(arrivals.clone());
    let base = server.base();
    let dir = std::env::temp_dir().join(format!(
        "genesys-guest-pipeline-{}-{sessions}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let updates = (knobs.rate * knobs.seconds).round().max(1.0) as usize;
    // The load's plan, made before anything is measured: (session, at) per update.
    let mut rng = fastrand::Rng::with_seed(24);
    let plan: Vec<usize> = (0..updates).map(|_| rng.usize(..sessions)).collect();
    let mut added: Vec<Option<Instant>> = vec![None; updates];
    let mut add_times: Vec<Duration> = Vec::with_capacity(updates);
    // A guest's updates come one after the other: an update's `add` starts once the
    // previous update of its session was accepted (two `add`s of one session at once
    // have no order, and the older could win).
    let mut previous: Vec<Option<usize>> = vec![None; updates];
    let mut last_of: HashMap<usize, usize> = HashMap::new();
    for (n, &session) in plan.iter().enumerate() {
        previous[n] = last_of.insert(session, n);
    }
    drop(last_of);
    let accepted: Arc<Vec<tokio::sync::Semaphore>> = Arc::new(
        (0..updates)
            .map(|_| tokio::sync::Semaphore::new(0))
            .collect(),
    );

    let sample = rt.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let client = Client::builder()
            .base_urls(&base, &base)
            .auth(StaticToken::new(TOKEN))
            .build()
            .expect("client");
        let sink = Arc::new(ParticipantSink::new(client.clone()));
        let options = BatcherOptions::builder()
            .max_batch(knobs.max_batch)
            .build()
            .expect("batcher options");
        let (guests, _) = GuestAttributes::builder(client.clone(), sink.clone())
            .batching(options)
            .outbox(dir.join("outbox.redb"))
            .start()
            .await
            .expect("pipeline");
        let guests = Arc::new(guests);
        settle().await;

        // 1. Memory: registering the sessions.
        let (tasks_before, before) = (metrics.num_alive_tasks(), heap());
        for i in 0..sessions {
            sink.register(
                session_id(i),
                knobs::uuid_of(CONVERSATION, i),
                knobs::uuid_of(PARTICIPANT, i),
            );
        }
        settle().await;
        let (tasks_registered, registered) = (metrics.num_alive_tasks(), heap());

        // 2. The load, at its fixed rate.
        let started_at = Instant::now();
        let (cpu0, server0, usage0) = (cpu::process_cpu(), server.cpu(), cpu::usage());
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for (n, &session) in plan.iter().enumerate() {
            let due = started_at + Duration::from_secs_f64(n as f64 / knobs.rate);
            tokio::time::sleep_until(due.into()).await;
            let guests = guests.clone();
            let done = done_tx.clone();
            let accepted = accepted.clone();
            let previous = previous[n];
            tokio::spawn(async move {
                if let Some(p) = previous {
                    let _ = accepted[p].acquire().await.expect("never closed");
                }
                let at = Instant::now();
                let update = BTreeMap::from([
                    ("seq".to_owned(), (n + 1).to_string()),
                    ("page".to_owned(), "checkout/payment".to_owned()),
                    ("cartValue".to_owned(), format!("{}.50", 100 + n % 900)),
                ]);
                guests
                    .add(&session_id(session), update, BTreeMap::new())
                    .await
                    .expect("accepted");
                accepted[n].add_permits(1);
                let _ = done.send((n, at, at.elapsed()));
            });
        }
        drop(done_tx);
        while let Some((n, at, took)) = done_rx.recv().await {
            added[n] = Some(at);
            add_times.push(took);
        }
        // Delivered: every session's last update has arrived (the batcher flushes by
        // itself; no `flush` call, which would change the timings).
        let mut last: HashMap<usize, u64> = HashMap::new();
        for (n, &session) in plan.iter().enumerate() {
            last.insert(session, n as u64 + 1);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let arrived: HashMap<usize, u64> =
                arrivals
                    .lock()
                    .unwrap()
                    .iter()
                    .fold(HashMap::new(), |mut m, &(s, seq, _)| {
                        let e = m.entry(s).or_insert(0);
                        *e = (*e).max(seq);
                        m
                    });
            if last.iter().all(|(s, seq)| arrived.get(s) >= Some(seq)) {
                break;
            }
            if Instant::now() > deadline {
                let missing: Vec<_> = last
                    .iter()
                    .filter(|(s, seq)| arrived.get(s) < Some(seq))
                    .map(|(s, seq)| (*s, *seq, arrived.get(s).copied()))
                    .collect();
                let letters = guests.dead_letters().snapshot();
                panic!(
                    "not every update was delivered within 60 s: {} sessions behind, e.g. {:?}; dead letters {letters:?}; metrics {:?}",
                    missing.len(),
                    &missing[..missing.len().min(5)],
                    client.metrics().snapshot()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (cpu, server_cpu, wall) = (
            cpu::process_cpu() - cpu0,
            server.cpu() - server0,
            started_at.elapsed(),
        );
        let usage = cpu::usage();
        let system_us = (usage.1 - usage0.1).as_secs_f64() * 1e6 / updates as f64;
        // The outbox removes what was delivered right after the answer: let it finish.
        guests.flush().await.expect("flush");
        settle().await;
        let (tasks_after, after) = (metrics.num_alive_tasks(), heap());
        let guests = Arc::into_inner(guests).expect("no add is running");
        guests.shutdown().await.expect("shutdown");
        Sample {
            updates,
            bytes_registered: (registered - before) as f64 / sessions as f64,
            bytes_after: (after - before) as f64 / sessions as f64,
            tasks_before,
            tasks_registered,
            tasks_after,
            cpu_us: cpu.saturating_sub(server_cpu).as_secs_f64() * 1e6 / updates as f64,
            server_us: server_cpu.as_secs_f64() * 1e6 / updates as f64,
            system_us,
            wall,
            ..Sample::default()
        }
    });

    // 4. Latency: each update is delivered by the first PATCH of its session, arrived
    // after its `add` started, carrying its number or a later one.
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap());
    let mut by_session: HashMap<usize, Vec<(u64, Instant)>> = HashMap::new();
    for &(s, seq, at) in &arrivals {
        by_session.entry(s).or_default().push((seq, at));
    }
    for list in by_session.values_mut() {
        list.sort_by_key(|&(_, at)| at);
    }
    let mut latencies = Vec::with_capacity(updates);
    let mut undelivered = 0;
    for (n, &session) in plan.iter().enumerate() {
        let seq = n as u64 + 1;
        let start = added[n].expect("every add returned");
        let delivered = by_session.get(&session).and_then(|list| {
            list.iter()
                .find(|&&(s, at)| s >= seq && at >= start)
                .map(|&(_, at)| at - start)
        });
        match delivered {
            Some(latency) => latencies.push(latency),
            None => undelivered += 1,
        }
    }
    latencies.sort();
    add_times.sort();
    let _ = std::fs::remove_dir_all(&dir);
    Sample {
        add_p50: knobs::percentile(&add_times, 50.0),
        add_p99: knobs::percentile(&add_times, 99.0),
        p50: knobs::percentile(&latencies, 50.0),
        p99: knobs::percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        sends: arrivals.len(),
        undelivered,
        ..sample
    }
}

fn session_id(i: usize) -> String {
    format!("guest-session-{i}")
}

/// Lets spawned work (sends, outbox removals, connection tasks) come to rest.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let knobs = knobs();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "guest pipeline: sessions {:?}, {} updates/s for {} s, {} round(s), max_batch {}; {} cores; load average {}",
        knobs.sizes,
        knobs.rate,
        knobs.seconds,
        knobs.rounds,
        knobs.max_batch,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu::loadavg()
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); knobs.sizes.len()];
    for round in 0..knobs.rounds {
        for (i, &sessions) in knobs.sizes.iter().enumerate() {
            let s = run_one(&rt, &knobs, sessions, round);
            println!(
                "  round {round} sessions {sessions:>6}: {:.0} B/session registered, {:.0} after; tasks {} -> {} -> {}; CPU {:.1} µs/update (server {:.1}; kernel, whole process {:.1}); latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms (add itself p50 {:.2} ms p99 {:.1} ms); {} updates in {} PATCHes, {} undelivered; {:.1} s",
                s.bytes_registered,
                s.bytes_after,
                s.tasks_before,
                s.tasks_registered,
                s.tasks_after,
                s.cpu_us,
                s.server_us,
                s.system_us,
                ms(s.p50),
                ms(s.p99),
                ms(s.max),
                ms(s.add_p50),
                ms(s.add_p99),
                s.updates,
                s.sends,
                s.undelivered,
                s.wall.as_secs_f64(),
            );
            assert_eq!(s.undelivered, 0, "every update is delivered");
            samples[i].push(s);
        }
    }

    let med = |v: &[Sample], f: &dyn Fn(&Sample) -> f64| knobs::median(v.iter().map(f).collect());
    let first = &samples[0];
    let (cpu0, p99_0) = (med(first, &|s| s.cpu_us), med(first, &|s| ms(s.p99)));
    println!(
        "\nsessions | bytes/session registered | bytes/session after the load | tasks alive (before, registered, after) | CPU µs/update (of it kernel, whole process) | vs first | p50 ms | p99 ms | p99 vs first | add p50, p99 ms | PATCHes/update"
    );
    for (i, &sessions) in knobs.sizes.iter().enumerate() {
        let v = &samples[i];
        let last = v.last().expect("a round");
        let cpu = med(v, &|s| s.cpu_us);
        let p99 = med(v, &|s| ms(s.p99));
        println!(
            "{sessions} | {:.0} | {:.0} | {}, {}, {} | {cpu:.1} ({:.1}) | {:.2}x | {:.1} | {p99:.1} | {:.2}x | {:.2}, {:.1} | {:.2}",
            med(v, &|s| s.bytes_registered),
            med(v, &|s| s.bytes_after),
            last.tasks_before,
            last.tasks_registered,
            last.tasks_after,
            med(v, &|s| s.system_us),
            cpu / cpu0,
            med(v, &|s| ms(s.p50)),
            p99 / p99_0,
            med(v, &|s| ms(s.add_p50)),
            med(v, &|s| ms(s.add_p99)),
            med(v, &|s| s.sends as f64 / s.updates as f64),
        );
    }
    println!("load average now {}", cpu::loadavg());
}
