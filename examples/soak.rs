//! Soak runner: the guest attribute pipeline and the callbacks event stream, for minutes,
//! under injected faults.
//!
//! **A test harness, not an example to copy.** It runs against the crate's built-in fake of
//! Genesys Cloud (`genesys_cloud::testkit::FakeGenesys`), which it starts itself and breaks
//! on purpose every 5 to 15 s, for a few seconds: API 429s and 503s, login outages, expired
//! tokens, dropped guest and notification websockets, announced socket closes, expired
//! notification channels, a stalled guest session. Meanwhile 20 guest sessions feed
//! `GuestAttributes` (participant sink, durable outbox, CRM webhook), 3 guests send messages
//! on their web messaging sessions, and a callback is booked every 2 s on a queue whose
//! event stream is followed.
//!
//! The fake runs in a child process (this program with `--serve-fake`, driven over
//! stdin/stdout), so that the RSS and sockets measured here are the client's alone: the
//! fake's HTTP server keeps every request it answered, which would read as a leak.
//!
//! At the end (faults cleared, then a settle period for the stream's reconciliation) it
//! exits non-zero when an acknowledged update was neither delivered nor dead-lettered (nor
//! kept in the outbox for the next start), a created callback was never reported, or RSS
//! or open sockets grew without bound. `--seed` fixes the fault schedule; the timing of
//! everything else is the machine's.
//!
//! ```sh
//! cargo run -p genesys-cloud-examples --example soak -- --minutes 3 [--seed 42]
//! cargo run -p genesys-cloud-examples --example soak -- --seconds 90
//! # a heap profile (dhat-heap.json, for https://nnethercote.github.io/dh_view/dh_view.html):
//! cargo run -p genesys-cloud-examples --features dhat-heap --example soak -- --minutes 10
//! ```
//!
//! Memory is read two ways each second: RSS, and the bytes the program holds on the heap
//! (counted by this program's global allocator). RSS alone cannot tell a leak from the
//! allocator keeping freed memory; the live heap can.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Display;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use genesys_cloud::callbacks::{
    CallbackEvents, CallbackReservation, Callbacks, StreamItem, StreamStatus,
};
use genesys_cloud::guests::{
    BatcherOptions, DeadLetter, DeadLetters, GuestAttributes, GuestSession, GuestSessionOptions,
    Outbox, ParticipantSink, StoredUpdate,
};
use genesys_cloud::jiff::{tz::TimeZone, SignedDuration, Zoned};
use genesys_cloud::testkit::{
    FakeGenesys, Fault, WebhookInbox, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET,
};
use genesys_cloud::{Client, Error};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

const SESSIONS: usize = 20;
const KEYS: [&str; 3] = ["preferredLanguage", "plan", "lastPage"];
/// One update every 20 ms, round robin over sessions: 2.5 updates per second per session.
const UPDATE_EVERY: Duration = Duration::from_millis(20);
const GUESTS: usize = 3;
/// Well under the Guest API's 2 messages per session per second.
const GUEST_MESSAGE_EVERY: Duration = Duration::from_secs(3);
const CALLBACK_EVERY: Duration = Duration::from_secs(2);
/// Callbacks are cancelled this long after creation, so the open set that each
/// reconciliation reads stays bounded however long the soak runs.
const CALLBACK_LIFETIME: Duration = Duration::from_secs(60);
const REPORT_EVERY: Duration = Duration::from_secs(10);
const FAULT_WINDOW: Duration = Duration::from_secs(3);
const MIN_SETTLE: Duration = Duration::from_secs(5);
const MAX_SETTLE: Duration = Duration::from_secs(60);
/// The socket baseline is the peak of this first stretch (pool and websockets open).
const WARM_UP: Duration = Duration::from_secs(30);
const SOCKET_SLACK: usize = 16;
/// The client's HTTP pool closes connections idle this long, checking on a timer of the
/// same period: an idle connection can stay open up to twice that.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const DEPLOYMENT: &str = "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";
const CRM_PATH: &str = "/external/crm";
const CRM_SECRET: &str = "soak-crm-secret-0123456789";

/// Counts the bytes held on the heap, around the system allocator.
#[cfg(not(feature = "dhat-heap"))]
#[global_allocator]
static HEAP: live_heap::LiveHeap = live_heap::LiveHeap;

/// Records every allocation's site, for a heap profile (`--features dhat-heap`).
#[cfg(feature = "dhat-heap")]
#[global_allocator]
static HEAP: dhat::Alloc = dhat::Alloc;

#[tokio::main]
async fn main() -> ExitCode {
    let result = if std::env::args().any(|a| a == "--serve-fake") {
        serve_fake().await.map(|()| true)
    } else {
        // The profile is written to dhat-heap.json when it is dropped, at the end of the run.
        #[cfg(feature = "dhat-heap")]
        let _profiler = dhat::Profiler::new_heap();
        run().await
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("soak: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What the workers acknowledged and saw. Never locked across an `.await`.
#[derive(Default)]
struct Ledger {
    /// Per session and key, the sequence number of the last value `add` acknowledged
    /// (values are `u{seq}`, 0 = none). A number is used only once acknowledged, so a
    /// participant holding `u{n}` has every update up to `n` delivered or superseded.
    acked: Vec<[u64; KEYS.len()]>,
    adds_ok: u64,
    adds_failed: u64,
    /// Every guest web messaging session opened.
    guests: Vec<GuestRecord>,
    guest_sends_ok: u64,
    guest_sends_failed: u64,
    guests_replaced: u64,
    created: Vec<String>,
    creates_failed: u64,
    /// Events seen per callback conversation.
    events: HashMap<String, u32>,
    notices: Notices,
    status: StreamStatus,
    stream_error: Option<String>,
}

struct GuestRecord {
    token: String,
    /// The last `seq` attribute the session acknowledged.
    acked: u64,
    active: bool,
}

#[derive(Default)]
struct Notices {
    reconnected: u64,
    lagged: u64,
    reconciled: u64,
    incomplete: u64,
}

type Shared = Arc<Mutex<Ledger>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Ledger> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Prints the first few failures of a kind, then every hundredth: visible, not a flood.
fn log_failure(what: &str, count: u64, err: &impl Display) {
    if count <= 3 || count.is_multiple_of(100) {
        eprintln!("  [{what} failure #{count}] {err}");
    }
}

fn context<E: Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |err| format!("{what}: {err}")
}

fn session_id(index: usize) -> String {
    format!("guest-{index:02}")
}

/// `u{n}` (or `n`) → `n`; 0 when absent.
fn seq_of(value: Option<&Value>) -> u64 {
    let value = value.and_then(Value::as_str).unwrap_or_default();
    value.trim_start_matches('u').parse().unwrap_or(0)
}

async fn run() -> Result<bool, String> {
    let (run_for, seed) = parse_args()?;
    let (fake, hello) = FakeProcess::start().await?;
    let uri = hello["uri"].as_str().unwrap_or_default().to_owned();
    let client = Client::builder()
        .base_urls(&uri, &uri)
        .credentials(FAKE_CLIENT_ID, FAKE_CLIENT_SECRET)
        .web_messaging_base(hello["webMessaging"].as_str().unwrap_or_default())
        .build()
        .map_err(context("client"))?;
    let dir = std::env::temp_dir().join(format!("genesys-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(context("temp dir"))?;
    let outbox = dir.join("guest-outbox.redb");
    let guests = start_pipeline(&client, &hello, &uri, &outbox).await?;
    let dead_letters = guests.dead_letters();
    let events = client
        .callbacks()
        .events(&[QUEUE])
        .await
        .map_err(context("subscribe to callback events"))?;
    let ledger: Shared = Arc::default();
    lock(&ledger).acked = vec![[0; KEYS.len()]; SESSIONS];
    let mut workers = Workers::spawn(&client, guests, events, &ledger);

    println!(
        "soak: {}s with faults, seed {seed}, fake at {uri}",
        run_for.as_secs()
    );
    let mut monitor = Monitor::new(fake, client, ledger.clone(), dead_letters);
    inject_faults(&mut monitor, run_for, seed).await?;
    let guests = workers.stop_producing().await?;
    let settled = settle(&mut monitor).await?;
    let shutdown = guests.shutdown().await;
    workers.stop_following().await?;
    wait_for_idle_sockets(&mut monitor).await?;

    // The pipeline is gone, so its outbox can be opened to see what it kept.
    let kept = Outbox::open(&outbox)
        .and_then(|o| o.pending())
        .map_err(context("read the outbox"))?;
    let passed = summarize(&mut monitor, shutdown, &kept, run_for, settled, seed).await?;
    if let Err(err) = std::fs::remove_dir_all(&dir) {
        eprintln!("soak: could not remove {}: {err}", dir.display());
    }
    monitor.fake.stop().await;
    Ok(passed)
}

/// The guest attribute pipeline: each session's updates go to its own conversation's
/// customer participant, through a durable outbox, and on to the CRM.
async fn start_pipeline(
    client: &Client,
    hello: &Value,
    uri: &str,
    outbox: &std::path::Path,
) -> Result<GuestAttributes, String> {
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    let conversations = hello["conversations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, ids) in conversations.iter().enumerate() {
        let id = |n: usize| ids[n].as_str().unwrap_or_default().to_owned();
        sink.register(session_id(i), id(0), id(1));
    }
    // Room for every letter: a dropped one could not be matched at the end.
    let batching = BatcherOptions::builder()
        .max_dead_letters(100_000)
        .build()
        .map_err(context("batcher options"))?;
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .batching(batching)
        .outbox(outbox)
        .crm_webhook(format!("{uri}{CRM_PATH}"), CRM_SECRET)
        .start()
        .await
        .map_err(context("start the guest pipeline"))?;
    Ok(guests)
}

/// The background work: updates, guests' browsers and callbacks while producing, the
/// event stream until the very end.
struct Workers {
    producing: Arc<AtomicBool>,
    following: Arc<AtomicBool>,
    updates: JoinHandle<GuestAttributes>,
    producers: Vec<JoinHandle<()>>,
    follower: JoinHandle<()>,
}

impl Workers {
    fn spawn(
        client: &Client,
        guests: GuestAttributes,
        events: CallbackEvents,
        ledger: &Shared,
    ) -> Self {
        let producing = Arc::new(AtomicBool::new(true));
        let following = Arc::new(AtomicBool::new(true));
        let mut producers = vec![tokio::spawn(create_callbacks(
            client.callbacks(),
            ledger.clone(),
            producing.clone(),
        ))];
        for _ in 0..GUESTS {
            let browser = guest_browser(client.clone(), ledger.clone(), producing.clone());
            producers.push(tokio::spawn(browser));
        }
        Self {
            updates: tokio::spawn(produce_updates(guests, ledger.clone(), producing.clone())),
            follower: tokio::spawn(follow_events(events, ledger.clone(), following.clone())),
            producing,
            following,
            producers,
        }
    }

    /// Stops every producer; hands the pipeline back for its shutdown.
    async fn stop_producing(&mut self) -> Result<GuestAttributes, String> {
        self.producing.store(false, Ordering::Relaxed);
        for producer in self.producers.drain(..) {
            producer.await.map_err(context("producer task"))?;
        }
        (&mut self.updates).await.map_err(context("update task"))
    }

    async fn stop_following(self) -> Result<(), String> {
        self.following.store(false, Ordering::Relaxed);
        self.follower.await.map_err(context("event task"))
    }
}

/// Injects a fault every 5 to 15 s, cleared after a short window, until `run_for` is up.
async fn inject_faults(monitor: &mut Monitor, run_for: Duration, seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut next_fault = Instant::now() + Duration::from_secs(5 + rng.below(11));
    let mut clear_at = None;
    while monitor.started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if Instant::now() >= next_fault {
            inject_fault(monitor, &mut rng).await?;
            clear_at = Some(Instant::now() + FAULT_WINDOW);
            next_fault = Instant::now() + Duration::from_secs(5 + rng.below(11));
        }
        // Bounded faults: whatever was injected and not yet shown goes away.
        if clear_at.is_some_and(|at| Instant::now() >= at) {
            monitor.fake.ask(json!({ "op": "clear" })).await?;
            clear_at = None;
        }
        monitor.tick().await?;
    }
    monitor.fake.ask(json!({ "op": "clear" })).await?;
    Ok(())
}

/// Waits, when more sockets are open than at the end of the warm-up (plus slack), until
/// the pool had the time to close its idle connections: a burst of connections opened
/// late in the run (retries after a fault) is not a leak, a socket open after that is.
async fn wait_for_idle_sockets(monitor: &mut Monitor) -> Result<(), String> {
    let start = Instant::now();
    monitor.tick().await?;
    if monitor.sockets > monitor.socket_limit() {
        println!(
            "soak: {} sockets open, waiting for idle ones to close",
            monitor.sockets
        );
    }
    while monitor.sockets > monitor.socket_limit() && start.elapsed() <= 2 * POOL_IDLE_TIMEOUT {
        tokio::time::sleep(Duration::from_secs(1)).await;
        monitor.tick().await?;
    }
    Ok(())
}

/// Gives the event stream time to report every callback (reconciliation after the last
/// gap included), at least `MIN_SETTLE`, at most `MAX_SETTLE`; how long it took.
async fn settle(monitor: &mut Monitor) -> Result<Duration, String> {
    let start = Instant::now();
    while start.elapsed() < MAX_SETTLE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        monitor.tick().await?;
        let all_seen = missed_callbacks(&lock(&monitor.ledger)).is_empty();
        if start.elapsed() >= MIN_SETTLE && all_seen {
            break;
        }
    }
    Ok(start.elapsed())
}

fn parse_args() -> Result<(Duration, u64), String> {
    let usage = "usage: soak [--minutes N | --seconds N] [--seed N]";
    let (mut run_for, mut seed) = (Duration::from_secs(60), 42);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag} {value}: {usage}"))?;
        match flag.as_str() {
            "--minutes" => run_for = Duration::from_secs(n.saturating_mul(60)),
            "--seconds" => run_for = Duration::from_secs(n),
            "--seed" => seed = n,
            _ => return Err(usage.to_owned()),
        }
    }
    Ok((run_for, seed))
}

/// Adds updates round robin over sessions and keys while `producing`; hands the
/// pipeline back for its shutdown.
async fn produce_updates(
    guests: GuestAttributes,
    ledger: Shared,
    producing: Arc<AtomicBool>,
) -> GuestAttributes {
    let mut tick = tokio::time::interval(UPDATE_EVERY);
    // A slow `add` (disk) delays the next, rather than a burst to catch up.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut n = 0;
    while producing.load(Ordering::Relaxed) {
        tick.tick().await;
        let (session, key) = (n % SESSIONS, (n / SESSIONS) % KEYS.len());
        n += 1;
        let seq = lock(&ledger).acked[session][key] + 1;
        let update = BTreeMap::from([(KEYS[key].to_owned(), format!("u{seq}"))]);
        let result = guests
            .add(&session_id(session), update, BTreeMap::new())
            .await;
        let mut ledger = lock(&ledger);
        match result {
            Ok(_) => {
                ledger.acked[session][key] = seq;
                ledger.adds_ok += 1;
            }
            Err(err) => {
                ledger.adds_failed += 1;
                log_failure("add", ledger.adds_failed, &err);
            }
        }
    }
    guests
}

/// One guest's browser: a message with a `seq` attribute every few seconds on its web
/// messaging session. A session that fails twice in a row (stalled) is given up, and the
/// guest starts over with a new token, as a browser would after a reload.
async fn guest_browser(client: Client, ledger: Shared, producing: Arc<AtomicBool>) {
    let options = GuestSessionOptions::builder()
        .response_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
        .build();
    let options = match options {
        Ok(options) => options,
        Err(err) => return eprintln!("  guest session options: {err}"),
    };
    while producing.load(Ordering::Relaxed) {
        let token = uuid::Uuid::new_v4().to_string();
        let connected = GuestSession::connect(&client, DEPLOYMENT, &token, options.clone()).await;
        let session = match connected {
            Ok(session) => session,
            Err(err) => {
                eprintln!("  guest connect: {err}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let record = {
            let mut ledger = lock(&ledger);
            let guest = GuestRecord {
                token,
                acked: 0,
                active: true,
            };
            ledger.guests.push(guest);
            ledger.guests.len() - 1
        };
        let (mut seq, mut failures) = (0, 0);
        while failures < 2 && producing.load(Ordering::Relaxed) {
            tokio::time::sleep(GUEST_MESSAGE_EVERY).await;
            let attributes = BTreeMap::from([("seq".to_owned(), format!("{}", seq + 1))]);
            let sent = session.send_message("still browsing", &attributes).await;
            let mut ledger = lock(&ledger);
            match sent {
                Ok(()) => {
                    (seq, failures) = (seq + 1, 0);
                    ledger.guests[record].acked = seq;
                    ledger.guest_sends_ok += 1;
                }
                Err(err) => {
                    failures += 1;
                    ledger.guest_sends_failed += 1;
                    log_failure("guest message", ledger.guest_sends_failed, &err);
                }
            }
        }
        {
            let mut ledger = lock(&ledger);
            ledger.guests[record].active = false;
            ledger.guests_replaced += u64::from(failures >= 2);
        }
        // A stalled session never answers closeSession: a bounded wait, then the handle
        // is dropped, which closes its socket.
        let _ = tokio::time::timeout(Duration::from_secs(5), session.close()).await;
    }
}

/// Books a callback every 2 s while `producing`, and cancels each a minute later.
async fn create_callbacks(callbacks: Callbacks, ledger: Shared, producing: Arc<AtomicBool>) {
    let mut open: VecDeque<(String, Instant)> = VecDeque::new();
    let mut tick = tokio::time::interval(CALLBACK_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    while producing.load(Ordering::Relaxed) {
        tick.tick().await;
        let at = Zoned::now().with_time_zone(TimeZone::UTC) + SignedDuration::from_hours(1);
        let reservation = CallbackReservation::builder(QUEUE, TimeZone::UTC)
            .callback_number("+14155550199")
            .user_name("Soak Tester")
            .at(at.datetime())
            .build();
        let created = match reservation {
            Ok(reservation) => callbacks.create(&reservation).await,
            Err(err) => Err(Error::from(err)),
        };
        match created {
            Ok(created) => {
                let id = created.conversation_id().to_owned();
                lock(&ledger).created.push(id.clone());
                open.push_back((id, Instant::now()));
            }
            Err(err) => {
                let mut ledger = lock(&ledger);
                ledger.creates_failed += 1;
                log_failure("callback create", ledger.creates_failed, &err);
            }
        }
        // A cancel that fails is tried again at the next tick.
        while let Some((id, _)) = open
            .front()
            .filter(|(_, at)| at.elapsed() >= CALLBACK_LIFETIME)
        {
            if let Err(err) = callbacks.disconnect(id).await {
                eprintln!("  callback cancel (tried again later): {err}");
                break;
            }
            open.pop_front();
        }
    }
}

/// Reads the callback event stream while `following`, counting events and notices.
async fn follow_events(mut events: CallbackEvents, ledger: Shared, following: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while following.load(Ordering::Relaxed) {
        tokio::select! {
            item = events.next() => match item {
                Some(Ok(item)) => record_item(&mut lock(&ledger), item),
                Some(Err(err)) => lock(&ledger).stream_error = Some(err.to_string()),
                None => break,
            },
            _ = tick.tick() => {}
        }
        lock(&ledger).status = events.status();
    }
}

fn record_item(ledger: &mut Ledger, item: StreamItem) {
    let notices = &mut ledger.notices;
    match item {
        StreamItem::Event(event) => *ledger.events.entry(event.conversation_id).or_default() += 1,
        StreamItem::Reconnected(r) => notices.reconnected += u64::from(r.outages),
        StreamItem::Lagged(lagged) => notices.lagged += lagged.dropped,
        StreamItem::Reconciled(report) => {
            notices.reconciled += u64::from(report.runs);
            if !report.is_complete() {
                notices.incomplete += 1;
                eprintln!("  reconciliation cut short: {report:?}");
            }
        }
        _ => {}
    }
}

fn missed_callbacks(ledger: &Ledger) -> Vec<String> {
    let seen = |id: &&String| ledger.events.contains_key(id.as_str());
    ledger
        .created
        .iter()
        .filter(|id| !seen(id))
        .cloned()
        .collect()
}

/// The faults, as the fake process knows them: (command, what it does). `{n}` is how
/// many requests see it.
const FAULTS: [(&str, &str); 9] = [
    (
        "429",
        "the next {n} API requests answer 429 (Retry-After 1 s)",
    ),
    ("503", "the next {n} API requests answer 503"),
    (
        "login-outage",
        "tokens expired, the next {n} logins answer 503",
    ),
    ("expire-tokens", "every token refused"),
    ("drop-guests", "guest websockets dropped"),
    ("drop-notifications", "notification websockets dropped"),
    ("announce-closing", "v2.system.socket_closing sent"),
    ("expire-channels", "notification channels expired"),
    ("stall", "one guest session stops answering"),
];

/// Injects one fault, chosen at random, and tallies it.
async fn inject_fault(monitor: &mut Monitor, rng: &mut Rng) -> Result<(), String> {
    let (op, what) = FAULTS[rng.below(FAULTS.len() as u64) as usize];
    let times = 1 + rng.below(if op == "login-outage" { 3 } else { 5 });
    let mut command = json!({ "op": op, "n": times });
    if op == "stall" {
        let ledger = lock(&monitor.ledger);
        let active: Vec<&GuestRecord> = ledger.guests.iter().filter(|g| g.active).collect();
        let Some(guest) = active.get(rng.below(active.len() as u64) as usize) else {
            return Ok(());
        };
        command["token"] = json!(guest.token);
    }
    monitor.fake.ask(command).await?;
    let elapsed = monitor.started.elapsed().as_secs();
    let what = what.replace("{n}", &times.to_string());
    println!("  [{elapsed:>4}s] fault: {what}");
    *monitor.faults.entry(op).or_default() += 1;
    Ok(())
}

/// xorshift64*: a reproducible fault schedule from `--seed`, without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The fake in a child process: one JSON command per line on its stdin, one JSON answer
/// per line on its stdout.
struct FakeProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl FakeProcess {
    /// Starts `this program --serve-fake`; the fake's first line says where it listens.
    async fn start() -> Result<(FakeProcess, Value), String> {
        let program = std::env::current_exe().map_err(context("locate this program"))?;
        let mut child = tokio::process::Command::new(program)
            .arg("--serve-fake")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(context("start the fake"))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let stdout = stdout.ok_or("the fake has no stdout")?;
        let mut fake = FakeProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
        };
        let hello = fake.read().await?;
        Ok((fake, hello))
    }

    async fn ask(&mut self, command: Value) -> Result<Value, String> {
        let stdin = self.stdin.as_mut().ok_or("the fake was stopped")?;
        let line = format!("{command}\n");
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(context("write to the fake"))?;
        self.read().await
    }

    async fn read(&mut self) -> Result<Value, String> {
        let line = self
            .stdout
            .next_line()
            .await
            .map_err(context("read the fake"))?;
        let answer: Value = serde_json::from_str(&line.ok_or("the fake exited")?)
            .map_err(context("the fake's answer"))?;
        match answer.get("error") {
            Some(err) => Err(format!("the fake: {err}")),
            None => Ok(answer),
        }
    }

    /// Closes its stdin (it exits at the end of input) and waits a little for it.
    async fn stop(&mut self) {
        self.stdin = None;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

/// The child: runs the fake and answers commands until its stdin ends.
async fn serve_fake() -> Result<(), String> {
    // No request journal: it would grow for the whole soak.
    let fake = FakeGenesys::builder().record_requests(false).start().await;
    let crm = fake.webhook_receiver(CRM_PATH, CRM_SECRET);
    let conversations: Vec<(String, String)> = (0..SESSIONS)
        .map(|_| fake.seed_message_conversation())
        .map(|c| (c.conversation_id, c.customer_participant_id))
        .collect();
    let hello = json!({
        "uri": fake.uri(),
        "webMessaging": fake.web_messaging_uri(),
        "conversations": conversations,
    });
    let mut stdout = tokio::io::stdout();
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut answer = hello;
    loop {
        let line = format!("{answer}\n");
        stdout
            .write_all(line.as_bytes())
            .await
            .map_err(context("stdout"))?;
        stdout.flush().await.map_err(context("stdout"))?;
        let Some(line) = lines.next_line().await.map_err(context("stdin"))? else {
            return Ok(());
        };
        answer = match serde_json::from_str(&line) {
            Ok(command) => obey(&fake, &crm, &conversations, &command),
            Err(err) => json!({ "error": err.to_string() }),
        };
    }
}

fn obey(
    fake: &FakeGenesys,
    crm: &WebhookInbox,
    conversations: &[(String, String)],
    command: &Value,
) -> Value {
    let n = command["n"].as_u64().unwrap_or(1) as usize;
    let token = command["token"].as_str().unwrap_or_default();
    match command["op"].as_str().unwrap_or_default() {
        "429" => fake.inject(
            Fault::RateLimited {
                retry_after: Some(Duration::from_secs(1)),
            },
            n,
        ),
        "503" => fake.inject(Fault::Status(503), n),
        "login-outage" => {
            // Expired tokens make the outage bite: every client must log in again.
            fake.inject_login(Fault::Status(503), n);
            fake.expire_tokens();
        }
        "expire-tokens" => fake.expire_tokens(),
        "drop-guests" => fake.drop_guest_connections(),
        "drop-notifications" => fake.drop_notification_connections(),
        "announce-closing" => fake.announce_notification_socket_closing(),
        "expire-channels" => fake.expire_notification_channels(),
        "stall" => fake.stall_guest_session(token),
        "clear" => fake.clear_faults(),
        "participants" => {
            let held = conversations
                .iter()
                .map(|(c, p)| fake.participant_attributes(c, p).unwrap_or_default());
            return json!(held.collect::<Vec<_>>());
        }
        "guest" => return json!(fake.guest_attributes(token).unwrap_or_default()),
        "crm" => return crm_summary(crm),
        other => return json!({ "error": format!("unknown command {other:?}") }),
    }
    json!({ "ok": true })
}

/// What the CRM received: counts, and per session and key the latest value (`u{n}` → n).
fn crm_summary(crm: &WebhookInbox) -> Value {
    let mut latest: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let deliveries = crm.deliveries();
    for body in &deliveries {
        let session = body["sessionId"].as_str().unwrap_or_default();
        for (key, value) in body["attributes"].as_object().into_iter().flatten() {
            let seq = latest
                .entry(session.to_owned())
                .or_default()
                .entry(key.clone())
                .or_default();
            *seq = (*seq).max(seq_of(Some(value)));
        }
    }
    json!({
        "deliveries": deliveries.len(),
        "duplicates": crm.duplicates(),
        "rejected": crm.rejected(),
        "latest": latest,
    })
}

/// Samples memory and sockets every second, prints a line every 10 s.
struct Monitor {
    fake: FakeProcess,
    client: Client,
    ledger: Shared,
    dead_letters: DeadLetters,
    started: Instant,
    next_report: Duration,
    faults: BTreeMap<&'static str, u32>,
    first_minute_rss: u64,
    warm_up_sockets: usize,
    /// Peak RSS (KiB) and sockets of the whole run.
    peak: (u64, usize),
    /// RSS samples of the last minute.
    recent_rss: VecDeque<(Instant, u64)>,
    /// RSS (KiB) and live heap (bytes) at the end of each whole minute.
    by_minute: Vec<(u64, u64)>,
    sockets: usize,
}

impl Monitor {
    fn new(fake: FakeProcess, client: Client, ledger: Shared, dead_letters: DeadLetters) -> Self {
        Self {
            fake,
            client,
            ledger,
            dead_letters,
            started: Instant::now(),
            next_report: REPORT_EVERY,
            faults: BTreeMap::new(),
            first_minute_rss: 0,
            warm_up_sockets: 0,
            peak: (0, 0),
            recent_rss: VecDeque::new(),
            by_minute: Vec::new(),
            sockets: 0,
        }
    }

    async fn tick(&mut self) -> Result<(), String> {
        let (rss, sockets) = (rss_kib(), open_sockets());
        let elapsed = self.started.elapsed();
        if elapsed <= Duration::from_secs(60) {
            self.first_minute_rss = self.first_minute_rss.max(rss);
        }
        if elapsed <= WARM_UP {
            self.warm_up_sockets = self.warm_up_sockets.max(sockets);
        }
        self.peak = (self.peak.0.max(rss), self.peak.1.max(sockets));
        self.sockets = sockets;
        self.recent_rss.push_back((Instant::now(), rss));
        let minute_ago = |(at, _): &(Instant, u64)| at.elapsed() > Duration::from_secs(60);
        while self.recent_rss.front().is_some_and(minute_ago) {
            self.recent_rss.pop_front();
        }
        if elapsed.as_secs() >= 60 * (self.by_minute.len() as u64 + 1) {
            self.by_minute.push((rss, heap_bytes()));
        }
        if elapsed >= self.next_report {
            self.next_report += REPORT_EVERY;
            self.report(rss).await?;
        }
        Ok(())
    }

    fn socket_limit(&self) -> usize {
        self.warm_up_sockets + SOCKET_SLACK
    }

    fn last_minute_rss(&self) -> u64 {
        self.recent_rss
            .iter()
            .map(|(_, rss)| *rss)
            .max()
            .unwrap_or(0)
    }

    /// The sequence number each participant's key holds now, per session.
    async fn held(&mut self) -> Result<Vec<[u64; KEYS.len()]>, String> {
        let participants = self.fake.ask(json!({ "op": "participants" })).await?;
        let participants = participants.as_array().cloned().unwrap_or_default();
        Ok(participants
            .iter()
            .map(|p| KEYS.map(|key| seq_of(p.get(key))))
            .collect())
    }

    async fn report(&mut self, rss: u64) -> Result<(), String> {
        let delivered: u64 = self.held().await?.iter().flatten().sum();
        let guest_reconnects = self
            .client
            .metrics_snapshot()
            .counter("guests.session.reconnects");
        let ledger = lock(&self.ledger);
        let seen = ledger.created.len() - missed_callbacks(&ledger).len();
        println!(
            "[{:>4}s] updates acked {} delivered {delivered} | dead letters {} | guest msgs {} | \
             callbacks reported {seen}/{} | reconnects stream {} guest {guest_reconnects} | \
             rss {:.1} MiB (peak {:.1}) heap {:.1} MiB | sockets {} (peak {}) | faults {}",
            self.started.elapsed().as_secs(),
            ledger.adds_ok,
            self.dead_letters.total(),
            ledger.guest_sends_ok,
            ledger.created.len(),
            ledger.status.reconnects,
            mib(rss),
            mib(self.peak.0),
            heap_bytes() as f64 / (1024.0 * 1024.0),
            self.sockets,
            self.peak.1,
            self.faults.values().sum::<u32>(),
        );
        Ok(())
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `VmRSS` of this process, in KiB (0 where /proc is not there).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:"));
    line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of this process that are sockets.
fn open_sockets() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    entries
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// The live heap's growth in KiB a minute from the run's middle minute to its last (runs of
/// 4 minutes or more: the first minutes fill pools, caches and buffers).
fn heap_growth(by_minute: &[(u64, u64)]) -> Option<f64> {
    let n = by_minute.len();
    if n < 4 {
        return None;
    }
    let (mid, last) = (by_minute[n / 2 - 1].1, by_minute[n - 1].1);
    Some((last as f64 - mid as f64) / 1024.0 / (n - n / 2) as f64)
}

/// Where the last acknowledged value of each key ended up.
#[derive(Default)]
struct Outcome {
    delivered: usize,
    dead_lettered: usize,
    kept: usize,
    lost: Vec<String>,
}

/// Matches the last acknowledged value of every key against the participant, then the
/// dead letters, then the outbox. Earlier values may be superseded: last write per key wins.
fn check_updates(
    acked: &[[u64; KEYS.len()]],
    held: &[[u64; KEYS.len()]],
    letters: &[DeadLetter],
    kept: &[StoredUpdate],
) -> Outcome {
    let mut outcome = Outcome::default();
    for (session, keys) in acked.iter().enumerate() {
        let id = session_id(session);
        for (k, &last) in keys.iter().enumerate().filter(|(_, last)| **last > 0) {
            let value = format!("u{last}");
            let has =
                |attributes: &BTreeMap<String, String>| attributes.get(KEYS[k]) == Some(&value);
            let holds = held.get(session).map_or(0, |h| h[k]);
            if holds == last {
                outcome.delivered += 1;
            } else if letters
                .iter()
                .any(|l| l.session_id == id && has(&l.attributes))
            {
                outcome.dead_lettered += 1;
            } else if kept
                .iter()
                .any(|u| u.session_id == id && has(&u.attributes))
            {
                outcome.kept += 1;
            } else {
                outcome
                    .lost
                    .push(format!("{id}/{}: acked u{last}, holds u{holds}", KEYS[k]));
            }
        }
    }
    outcome
}

/// Guest web messaging sessions whose last acknowledged `seq` the fake does not hold.
async fn lost_guest_messages(monitor: &mut Monitor) -> Result<usize, String> {
    let sessions: Vec<(String, u64)> = lock(&monitor.ledger)
        .guests
        .iter()
        .map(|g| (g.token.clone(), g.acked))
        .collect();
    let mut lost = 0;
    for (token, acked) in sessions {
        let held = monitor
            .fake
            .ask(json!({ "op": "guest", "token": token }))
            .await?;
        lost += usize::from(seq_of(held.get("seq")) < acked);
    }
    Ok(lost)
}

/// Prints the summary; whether the soak passed.
async fn summarize(
    monitor: &mut Monitor,
    shutdown: Result<(), Error>,
    kept: &[StoredUpdate],
    run_for: Duration,
    settled: Duration,
    seed: u64,
) -> Result<bool, String> {
    let letters = monitor.dead_letters.snapshot();
    let metrics = monitor.client.metrics_snapshot();
    let held = monitor.held().await?;
    let acked = lock(&monitor.ledger).acked.clone();
    let updates = check_updates(&acked, &held, &letters, kept);
    let guests_lost = lost_guest_messages(monitor).await?;
    let crm = monitor.fake.ask(json!({ "op": "crm" })).await?;
    // Every value a participant holds was delivered, and each delivery is synced to the CRM.
    let crm_missing = (0..held.len())
        .flat_map(|s| (0..KEYS.len()).map(move |k| (s, k)))
        .filter(|&(s, k)| {
            let synced = crm["latest"][session_id(s)][KEYS[k]].as_u64().unwrap_or(0);
            synced < held[s][k]
        })
        .count();
    let crm_failed = metrics.counter("guests.crm_failures") + metrics.counter("guests.crm_dropped");
    let (first, last) = (monitor.first_minute_rss, monitor.last_minute_rss());
    let rss_grew = run_for >= Duration::from_secs(180) && last * 2 > first * 3;
    let socket_limit = monitor.socket_limit();
    let faults: Vec<String> = monitor
        .faults
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let ledger = lock(&monitor.ledger);
    let missed = missed_callbacks(&ledger);

    println!(
        "=== soak summary: {}s + {}s settle, seed {seed} ===",
        run_for.as_secs(),
        settled.as_secs()
    );
    println!(
        "faults: {} ({})",
        monitor.faults.values().sum::<u32>(),
        faults.join(", ")
    );
    println!(
        "guest attributes: {} updates acked, {} refused, {} delivered or superseded; last values \
         of {} keys: {} delivered, {} dead-lettered, {} kept in outbox, {} LOST; dead letters {} \
         ({} updates); shutdown {}",
        ledger.adds_ok,
        ledger.adds_failed,
        held.iter().flatten().sum::<u64>(),
        updates.delivered + updates.dead_lettered + updates.kept + updates.lost.len(),
        updates.delivered,
        updates.dead_lettered,
        updates.kept,
        updates.lost.len(),
        letters.len(),
        letters.iter().map(|l| l.updates).sum::<usize>(),
        shutdown
            .as_ref()
            .map_or_else(|e| format!("failed: {e}"), |()| "ok".into()),
    );
    println!(
        "CRM: {} deliveries verified, {} duplicates dropped, {} rejected; {} keys behind their \
         participant; failures {}, dropped {}",
        crm["deliveries"],
        crm["duplicates"],
        crm["rejected"],
        crm_missing,
        metrics.counter("guests.crm_failures"),
        metrics.counter("guests.crm_dropped"),
    );
    println!(
        "guest websocket: {} messages acked, {} failed; {} sessions, {} replaced; {} LOST",
        ledger.guest_sends_ok,
        ledger.guest_sends_failed,
        ledger.guests.len(),
        ledger.guests_replaced,
        guests_lost,
    );
    let n = &ledger.notices;
    println!(
        "callbacks: {} created, {} failed; {} reported, {} MISSED; {} events; notices: \
         reconnected {}, lagged {}, reconciled {} ({} incomplete); {:?}",
        ledger.created.len(),
        ledger.creates_failed,
        ledger.created.len() - missed.len(),
        missed.len(),
        ledger.events.values().map(|n| u64::from(*n)).sum::<u64>(),
        n.reconnected,
        n.lagged,
        n.reconciled,
        n.incomplete,
        ledger.status,
    );
    println!(
        "memory: RSS peak first minute {:.1} MiB, last minute {:.1} MiB, overall {:.1} MiB",
        mib(first),
        mib(last),
        mib(monitor.peak.0),
    );
    let to_mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let minutes: Vec<String> = (monitor.by_minute.iter().enumerate())
        .map(|(m, &(rss, heap))| format!("{}: {:.1}/{:.1}", m + 1, mib(rss), to_mib(heap)))
        .collect();
    println!("memory by minute (RSS/heap MiB): {}", minutes.join(", "));
    if let Some(rate) = heap_growth(&monitor.by_minute) {
        println!("heap growth over the second half of the run: {rate:.1} KiB a minute");
    }
    println!(
        "sockets: warm-up peak {}, at the end {} (limit {socket_limit}), overall peak {}",
        monitor.warm_up_sockets, monitor.sockets, monitor.peak.1,
    );

    let mut failures = Vec::new();
    for lost in &updates.lost {
        eprintln!("  lost: {lost}");
    }
    if !updates.lost.is_empty() || guests_lost > 0 {
        failures.push("acknowledged updates lost");
    }
    if crm_missing > 0 && crm_failed == 0 {
        failures.push("CRM missed deliveries without a counted failure");
    }
    if !missed.is_empty() {
        eprintln!("  never reported: {missed:?}");
        failures.push("callbacks never reported");
    }
    if let Some(err) = &ledger.stream_error {
        eprintln!("  the event stream ended: {err}");
        failures.push("event stream ended");
    }
    if rss_grew {
        failures.push("RSS grew more than 1.5x");
    }
    if monitor.sockets > socket_limit {
        failures.push("open sockets grew");
    }
    if failures.is_empty() {
        println!("RESULT: PASS");
    } else {
        println!("RESULT: FAIL ({})", failures.join("; "));
    }
    Ok(failures.is_empty())
}

/// The bytes this program holds on the heap now.
fn heap_bytes() -> u64 {
    #[cfg(not(feature = "dhat-heap"))]
    return live_heap::bytes();
    #[cfg(feature = "dhat-heap")]
    return dhat::HeapStats::get().curr_bytes as u64;
}

#[cfg(not(feature = "dhat-heap"))]
#[path = "../benches/support/live_heap.rs"]
mod live_heap;
