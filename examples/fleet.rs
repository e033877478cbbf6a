//! Fleet runner: one service as several replica processes, one fake platform that enforces
//! the channel rules, one PostgreSQL; replicas killed with SIGKILL mid-run.
//!
//! **A test harness, not an example to copy** (`docs/fleet.md` shows the service's code).
//! The coordinator (this program) starts the crate's fake of Genesys Cloud
//! (`genesys_cloud::testkit::FakeGenesys`: 20 channels per OAuth client with the platform's
//! eviction, one socket per channel, 1,000 topics per channel), starts `--replicas`
//! processes of itself in `--replica` mode (each a service replica: its own client and
//! token, one `fleet::EventStream` on the callbacks of one queue, a work loop whose handler
//! records what it handled in a table of the harness, and `GuestAttributes` on the
//! PostgreSQL outbox adding a guest update every 200 ms over 8 sessions shared by all
//! replicas), books a callback every 100 ms, and meanwhile:
//!
//! - at a third of the run, kills the stream's owner with SIGKILL, measures how long until
//!   another replica owns the stream, and starts a replacement replica;
//! - at two thirds, kills a replica that is not the owner and holds guest session claims
//!   (events it was handling come back after the visibility timeout; its sessions are taken
//!   over when their claims expire), and starts a replacement;
//! - samples, every 20 ms, how many notification channels have a socket open.
//!
//! At the end it waits for the handlers to catch up, stops the replicas (SIGTERM: they hand
//! the lease over), and reports: callbacks booked and handled (each exactly once in its
//! `scheduled` state; a second handling counts as a redelivery only when the event had been
//! delivered before, to a replica that died), guest updates acknowledged (their `add`
//! returned) and delivered (on the fake's participant), channels with a socket at any time
//! (at most one: one queue is one topic), channels made, takeover times. It exits non-zero
//! when a booked callback was not handled, one was handled twice other than by redelivery
//! after a crash, an acknowledged guest update was not delivered, more than one channel had
//! a socket at once, or a takeover took longer than the lease's time to live and a third.
//!
//! ```sh
//! eval "$(bash .ci/postgres start)"    # or any PostgreSQL: GENESYS_TEST_DATABASE_URL
//! cargo run -p genesys-cloud-examples --features fleet --example fleet -- --seconds 60 --replicas 5
//! ```

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesys_cloud::callbacks::{CallbackReservation, CallbackState};
use genesys_cloud::fleet::{EventStream, StoredEvent};
use genesys_cloud::guests::{
    BatcherOptions, GuestAttributes, ParticipantSink, PostgresOutboxOptions,
};
use genesys_cloud::jiff::{tz::TimeZone, SignedDuration, Zoned};
use genesys_cloud::postgres::Database;
use genesys_cloud::testkit::{FakeGenesys, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET};
use genesys_cloud::{Client, Error, ErrorKind};
use tokio::process::{Child, Command};

const QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const STREAM: &str = "callbacks";
const BOOK_EVERY: Duration = Duration::from_millis(100);
/// Guest sessions every replica feeds.
const SESSIONS: usize = 8;
/// How often each replica adds a guest update.
const UPDATE_EVERY: Duration = Duration::from_millis(200);

/// One handling, as the harness's table has it: event id, conversation, state, replica,
/// the delivery's attempt.
type Handling = (String, String, String, String, i32);

#[tokio::main]
async fn main() -> ExitCode {
    let result = if std::env::args().any(|a| a == "--replica") {
        replica().await
    } else {
        coordinate().await
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("fleet: {err}");
            ExitCode::FAILURE
        }
    }
}

fn var(name: &str) -> Result<String, Error> {
    std::env::var(name)
        .map_err(|_| Error::custom(ErrorKind::Configuration, format!("{name} is not set")))
}

fn duration_var(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, Duration::from_millis)
}

// ---- a replica ----

/// One replica of the service: the event stream, and a handler that records each event it
/// handled (with the delivery's attempt) in the harness's table.
async fn replica() -> Result<ExitCode, Error> {
    let client = Client::from_env()?;
    let name = var("FLEET_REPLICA")?;
    let db = Database::connect(&var("FLEET_DATABASE_URL")?)?.table_prefix(&var("FLEET_PREFIX")?)?;
    let ttl = duration_var("FLEET_LEASE_TTL_MS", Duration::from_secs(3));
    let stream = EventStream::builder(client.clone(), db.clone(), STREAM)
        .callbacks([QUEUE])
        .replica(name.clone())
        .lease_ttl(ttl)
        .visibility_timeout(Duration::from_secs(5))
        .retry_wait(Duration::from_millis(200))
        .poll_every(Duration::from_millis(50))
        .start()
        .await?;
    let handled = format!("{}fleet_handled", db.prefix());
    let acked = format!("{}fleet_acked", db.prefix());
    // The guest outbox: every replica adds updates; whoever holds a session sends it.
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    let (conversation, participant) = (var("FLEET_CONVERSATION")?, var("FLEET_PARTICIPANT")?);
    for s in 0..SESSIONS {
        sink.register(format!("guest-{s}"), &conversation, &participant);
    }
    let outbox = PostgresOutboxOptions::builder()
        .replica(name.clone())
        .claim_ttl(Duration::from_secs(3))
        .sweep_interval(Duration::from_millis(200))
        .build()?;
    let batching = BatcherOptions::builder()
        .send_timeout(Duration::from_secs(1))
        .build()?;
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .batching(batching)
        .postgres_outbox_with(db.clone(), outbox)
        .start()
        .await?;
    let feeding = {
        let guests = &guests;
        let db = db.clone();
        let name = name.clone();
        async move {
            let mut n = 0u64;
            loop {
                n += 1;
                let key = format!("{name}-{n}");
                let update = std::collections::BTreeMap::from([(key.clone(), "x".to_owned())]);
                let session = format!("guest-{}", n as usize % SESSIONS);
                // Acknowledged once `add` returns: committed in PostgreSQL.
                if guests
                    .add(&session, update, Default::default())
                    .await
                    .is_ok()
                {
                    let _ = record_ack(&db, &acked, &key).await;
                }
                tokio::time::sleep(UPDATE_EVERY).await;
            }
        }
    };
    let work = {
        let stream = stream.clone();
        let db = db.clone();
        let name = name.clone();
        async move {
            stream
                .work(move |event: StoredEvent| {
                    let db = db.clone();
                    let name = name.clone();
                    let handled = handled.clone();
                    async move { record(&db, &handled, &name, &event).await }
                })
                .await
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::custom(ErrorKind::Configuration, e))?;
    tokio::select! {
        result = work => result?,
        () = feeding => {}
        _ = terminate.recv() => {}
    }
    stream.shutdown().await;
    guests.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

/// Notes that the update `key` was acknowledged (its `add` returned).
async fn record_ack(db: &Database, table: &str, key: &str) -> Result<(), Error> {
    let client = db
        .pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    client
        .execute(&format!("INSERT INTO {table} (key) VALUES ($1)"), &[&key])
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    Ok(())
}

/// The handler's effect: one row per handling.
async fn record(
    db: &Database,
    table: &str,
    replica: &str,
    event: &StoredEvent,
) -> Result<(), Error> {
    let callback = event.callback()?;
    let state = match &callback.state {
        Some(state) => format!("{state:?}"),
        None => "none".to_owned(),
    };
    let client = db
        .pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    client
        .execute(
            &format!(
                "INSERT INTO {table} (event_id, conversation, state, replica, attempts)
                 VALUES ($1, $2, $3, $4, $5)"
            ),
            &[
                &event.id,
                &callback.conversation_id,
                &state,
                &replica,
                &i32::try_from(event.attempts).unwrap_or(i32::MAX),
            ],
        )
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    Ok(())
}

// ---- the coordinator ----

struct Options {
    seconds: u64,
    replicas: usize,
    ttl: Duration,
}

fn options() -> Result<Options, Error> {
    let mut options = Options {
        seconds: 60,
        replicas: 5,
        ttl: Duration::from_secs(3),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| {
                Error::custom(ErrorKind::InvalidInput, format!("{arg} needs a number"))
            })?;
        match arg.as_str() {
            "--seconds" => options.seconds = value.max(10),
            "--replicas" => options.replicas = (value as usize).clamp(2, 19),
            "--lease-ms" => options.ttl = Duration::from_millis(value.max(1_000)),
            other => {
                return Err(Error::custom(
                    ErrorKind::InvalidInput,
                    format!("unknown option {other}: --seconds N, --replicas N, --lease-ms N"),
                ))
            }
        }
    }
    Ok(options)
}

struct Fleet {
    children: HashMap<String, Child>,
    next: usize,
    fake: Arc<FakeGenesys>,
    conversation: (String, String),
    url: String,
    prefix: String,
    ttl: Duration,
}

impl Fleet {
    fn spawn(&mut self) -> Result<String, Error> {
        self.next += 1;
        let name = format!("replica-{}", self.next);
        let exe =
            std::env::current_exe().map_err(|e| Error::custom(ErrorKind::Configuration, e))?;
        let child = Command::new(exe)
            .arg("--replica")
            .env("GENESYS_CLIENT_ID", FAKE_CLIENT_ID)
            .env("GENESYS_CLIENT_SECRET", FAKE_CLIENT_SECRET)
            .env("GENESYS_API_BASE", self.fake.uri())
            .env("GENESYS_LOGIN_BASE", self.fake.uri())
            .env_remove("GENESYS_REGION")
            .env("FLEET_REPLICA", &name)
            .env("FLEET_CONVERSATION", &self.conversation.0)
            .env("FLEET_PARTICIPANT", &self.conversation.1)
            .env("FLEET_DATABASE_URL", &self.url)
            .env("FLEET_PREFIX", &self.prefix)
            .env("FLEET_LEASE_TTL_MS", self.ttl.as_millis().to_string())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::custom(ErrorKind::Configuration, e))?;
        self.children.insert(name.clone(), child);
        Ok(name)
    }

    /// SIGKILL: the process stops where it is, its lease and claims left behind.
    async fn kill(&mut self, name: &str) {
        if let Some(mut child) = self.children.remove(name) {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, then wait: each replica hands over what it holds.
    async fn stop_all(&mut self) {
        for child in self.children.values() {
            if let Some(pid) = child.id() {
                // SAFETY-free: kill(2) through the shell's `kill`, no libc in the examples.
                let _ = std::process::Command::new("kill")
                    .arg(pid.to_string())
                    .status();
            }
        }
        for (_, mut child) in self.children.drain() {
            let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
        }
    }
}

/// Replicas holding live guest session claims, with how many.
async fn claim_holders(db: &Database) -> Result<Vec<(String, i64)>, Error> {
    let client = db
        .pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    let rows = client
        .query(
            &format!(
                "SELECT holder, count(*) FROM {}guest_sessions
                 WHERE holder IS NOT NULL AND claim_expires_at > now()
                 GROUP BY holder ORDER BY count(*) DESC",
                db.prefix()
            ),
            &[],
        )
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

async fn owner(db: &Database) -> Result<Option<String>, Error> {
    let client = db
        .pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    let table = format!("{}stream_leases", db.prefix());
    let row = client
        .query_opt(
            &format!("SELECT owner FROM {table} WHERE stream = $1 AND owner IS NOT NULL AND expires_at > now()"),
            &[&STREAM],
        )
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
    Ok(row.map(|r| r.get(0)))
}

/// Waits until a replica owns the stream (polling every 20 ms); `(owner, waited)`.
async fn wait_for_owner(
    db: &Database,
    not: Option<&str>,
    limit: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(Some(owner)) = owner(db).await {
            if Some(owner.as_str()) != not {
                return Some((owner, started.elapsed()));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn reservation(n: u64) -> Result<CallbackReservation, Error> {
    let zone = TimeZone::get("America/New_York")
        .map_err(|e| Error::custom(ErrorKind::Configuration, e))?;
    let when = Zoned::now().with_time_zone(zone.clone())
        + SignedDuration::from_mins(60 + i64::try_from(n % 600).unwrap_or(0));
    Ok(CallbackReservation::builder(QUEUE, zone)
        .callback_number("+14155550199")
        .at(when.datetime())
        .build()?)
}

async fn coordinate() -> Result<ExitCode, Error> {
    let options = options()?;
    let url = var("GENESYS_TEST_DATABASE_URL").map_err(|_| {
        Error::custom(
            ErrorKind::Configuration,
            "GENESYS_TEST_DATABASE_URL is not set: eval \"$(bash .ci/postgres start)\"",
        )
    })?;
    let prefix = format!("fleet{}_", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let db = Database::connect(&url)?.table_prefix(&prefix)?;
    db.migrate().await?;
    let handled = format!("{}fleet_handled", db.prefix());
    db.pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?
        .batch_execute(&format!(
            "CREATE TABLE {handled} (event_id TEXT, conversation TEXT, state TEXT, replica TEXT,
                 attempts INT, at TIMESTAMPTZ DEFAULT now());
             CREATE TABLE {}fleet_acked (key TEXT PRIMARY KEY);",
            db.prefix()
        ))
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?;

    let fake = Arc::new(FakeGenesys::builder().record_requests(false).start().await);
    let seeded = fake.seed_message_conversation();
    let api = fake.client()?;
    let mut fleet = Fleet {
        children: HashMap::new(),
        next: 0,
        fake,
        conversation: (
            seeded.conversation_id.clone(),
            seeded.customer_participant_id.clone(),
        ),
        url,
        prefix,
        ttl: options.ttl,
    };
    for _ in 0..options.replicas {
        fleet.spawn()?;
    }
    println!(
        "fleet: {} replicas, lease {:?}, {} s, PostgreSQL tables {}*",
        options.replicas,
        options.ttl,
        options.seconds,
        db.prefix()
    );
    let (first, _) = wait_for_owner(&db, None, Duration::from_secs(30))
        .await
        .ok_or_else(|| {
            Error::custom(ErrorKind::Upstream, "no replica took the lease within 30 s")
        })?;
    println!("fleet: {first} owns the stream");

    // Channels with a socket open, sampled.
    let max_connected = Arc::new(AtomicUsize::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let fake = fleet.fake.clone();
        let fake_connections = move || fake.notification_connections();
        let max_connected = max_connected.clone();
        let sampling = sampling.clone();
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                max_connected.fetch_max(fake_connections(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Callbacks booked throughout.
    let booked: Arc<Mutex<Vec<String>>> = Arc::default();
    let booking = {
        let booked = booked.clone();
        let callbacks = api.callbacks();
        let until = Instant::now() + Duration::from_secs(options.seconds);
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut failed = 0u64;
            while Instant::now() < until {
                n += 1;
                match reservation(n) {
                    Ok(r) => match callbacks.create(&r).await {
                        Ok(created) => booked
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(created.conversation_id().to_owned()),
                        Err(_) => failed += 1,
                    },
                    Err(_) => failed += 1,
                }
                tokio::time::sleep(BOOK_EVERY).await;
            }
            failed
        })
    };

    // The kills.
    let mut takeovers = Vec::new();
    let third = Duration::from_secs(options.seconds) / 3;
    tokio::time::sleep(third).await;
    if let Some(owner_now) = owner(&db).await? {
        fleet.kill(&owner_now).await;
        let killed = Instant::now();
        println!("fleet: killed the owner {owner_now} (SIGKILL)");
        let next = wait_for_owner(&db, Some(&owner_now), options.ttl * 4).await;
        match next {
            Some((next, _)) => {
                let took = killed.elapsed();
                println!("fleet: {next} took over after {took:?}");
                takeovers.push(took);
            }
            None => println!("fleet: no takeover within {:?}", options.ttl * 4),
        }
        fleet.spawn()?;
    }
    tokio::time::sleep(third).await;
    let owner_now = owner(&db).await?;
    // A replica holding guest sessions (its claims are left behind), not the owner.
    let holders = claim_holders(&db).await?;
    let victim = holders
        .iter()
        .map(|(holder, _)| holder)
        .find(|name| Some(*name) != owner_now.as_ref() && fleet.children.contains_key(*name))
        .or_else(|| {
            fleet
                .children
                .keys()
                .find(|name| Some(*name) != owner_now.as_ref())
        })
        .cloned();
    if let Some(victim) = victim {
        let claims = holders
            .iter()
            .find(|(h, _)| *h == victim)
            .map_or(0, |(_, n)| *n);
        fleet.kill(&victim).await;
        println!("fleet: killed {victim}, not the owner, holding {claims} guest session claims (SIGKILL)");
        fleet.spawn()?;
    }
    let booking_failures = booking.await.unwrap_or(0);
    let acked_keys: Vec<String> = db
        .pool()
        .get()
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?
        .query(&format!("SELECT key FROM {}fleet_acked", db.prefix()), &[])
        .await
        .map_err(|e| Error::custom(ErrorKind::Storage, e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let booked = booked.lock().unwrap_or_else(|p| p.into_inner()).clone();

    // Let the handlers catch up: every booked callback handled in its scheduled state.
    let scheduled = format!("{:?}", CallbackState::Scheduled);
    let settle_until = Instant::now() + Duration::from_secs(60);
    let rows = loop {
        let client = db
            .pool()
            .get()
            .await
            .map_err(|e| Error::custom(ErrorKind::Storage, e))?;
        let rows: Vec<Handling> = client
            .query(
                &format!("SELECT event_id, conversation, state, replica, attempts FROM {handled}"),
                &[],
            )
            .await
            .map_err(|e| Error::custom(ErrorKind::Storage, e))?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        let delivered = fleet
            .fake
            .participant_attributes(&fleet.conversation.0, &fleet.conversation.1)
            .unwrap_or_default();
        let done = booked.iter().all(|id| {
            rows.iter()
                .any(|(_, conversation, state, _, _)| conversation == id && *state == scheduled)
        }) && acked_keys.iter().all(|k| delivered.contains_key(k));
        if done || Instant::now() > settle_until {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    fleet.stop_all().await;

    // The report.
    let mut by_event: BTreeMap<&str, Vec<&Handling>> = BTreeMap::new();
    for row in &rows {
        by_event.entry(row.0.as_str()).or_default().push(row);
    }
    let mut redelivered = 0;
    let mut twice = 0;
    for handlings in by_event.values().filter(|h| h.len() > 1) {
        if handlings.iter().any(|h| h.4 > 1) {
            redelivered += handlings.len() - 1;
        } else {
            twice += handlings.len() - 1;
        }
    }
    let handled_scheduled: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.2 == scheduled)
        .map(|r| r.1.as_str())
        .collect();
    let missing_at: Vec<usize> = booked
        .iter()
        .enumerate()
        .filter(|(_, id)| !handled_scheduled.contains(id.as_str()))
        .map(|(i, _)| i)
        .collect();
    let missing = missing_at.len();
    if missing > 0 {
        println!("fleet: never handled: bookings number {missing_at:?} (one every {BOOK_EVERY:?})");
    }
    let connected = max_connected.load(Ordering::Relaxed);
    let channels_made = fleet.fake.notification_channels_created();
    let mut per_replica: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &rows {
        *per_replica.entry(row.3.as_str()).or_default() += 1;
    }
    println!("\nfleet report");
    println!("  callbacks booked                 {}", booked.len());
    println!("  booking failures                 {booking_failures}");
    println!(
        "  booked and handled (scheduled)   {}",
        booked.len() - missing
    );
    println!("  booked, never handled            {missing}");
    println!("  events handled (all states)      {}", rows.len());
    println!("  handled twice, not after a crash {twice}");
    println!("  redelivered after a crash        {redelivered}");
    println!("  channels with a socket, at most  {connected}");
    println!("  channels made                    {channels_made}");
    println!(
        "  takeovers after SIGKILL          {takeovers:?} (lease {:?})",
        options.ttl
    );
    println!("  handled per replica              {per_replica:?}");
    let delivered = fleet
        .fake
        .participant_attributes(&fleet.conversation.0, &fleet.conversation.1)
        .unwrap_or_default();
    let undelivered = acked_keys
        .iter()
        .filter(|k| !delivered.contains_key(*k))
        .count();
    println!("  guest updates acknowledged       {}", acked_keys.len());
    println!("  acknowledged, never delivered    {undelivered}");
    let slow = takeovers
        .iter()
        .any(|t| *t > options.ttl + options.ttl / 3 + Duration::from_secs(1));
    let ok = missing == 0
        && twice == 0
        && connected <= 1
        && !slow
        && takeovers.len() == 1
        && undelivered == 0
        && !acked_keys.is_empty();
    println!(
        "  verdict                          {}",
        if ok { "ok" } else { "FAILED" }
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
