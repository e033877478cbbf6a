//! One event stream for a service of many replicas, against a real PostgreSQL (see
//! `tests/pg/mod.rs`) and the fake platform, which enforces the channel rules (20 per
//! OAuth client, one socket per channel). Replicas here are tasks with clients of their
//! own; `examples/fleet.rs` runs them as processes and kills them with SIGKILL.

mod pg;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use genesys_cloud::callbacks::{CallbackReservation, CallbackState};
use genesys_cloud::fleet::{EventStream, StoredEvent};
use genesys_cloud::jiff::{tz::TimeZone, SignedDuration, Zoned};
use genesys_cloud::postgres::Database;
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::{Error, ErrorKind};

const QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

fn reservation(minutes: i64) -> CallbackReservation {
    let zone = TimeZone::get("America/New_York").unwrap();
    let when = Zoned::now().with_time_zone(zone.clone()) + SignedDuration::from_mins(60 + minutes);
    CallbackReservation::builder(QUEUE, zone)
        .callback_number("+14155550199")
        .at(when.datetime())
        .build()
        .unwrap()
}

/// Handled events, by conversation: the states each replica handled.
type Handled = Arc<Mutex<BTreeMap<String, Vec<(String, String)>>>>;

async fn replica(fake: &FakeGenesys, db: &Database, name: &str, ttl: Duration) -> EventStream {
    EventStream::builder(fake.client().unwrap(), db.clone(), "callbacks")
        .callbacks([QUEUE])
        .replica(name)
        .lease_ttl(ttl)
        .poll_every(Duration::from_millis(20))
        .retry_wait(Duration::ZERO)
        .start()
        .await
        .unwrap()
}

/// Runs `stream`'s work queue, recording what it handled.
fn work(stream: &EventStream, handled: &Handled) -> tokio::task::JoinHandle<Result<(), Error>> {
    let stream = stream.clone();
    let handled = handled.clone();
    let name = stream.replica().to_owned();
    tokio::spawn(async move {
        stream
            .work(move |event: StoredEvent| {
                let handled = handled.clone();
                let name = name.clone();
                async move {
                    let callback = event.callback()?;
                    let state = format!("{:?}", callback.state);
                    handled
                        .lock()
                        .unwrap()
                        .entry(callback.conversation_id)
                        .or_default()
                        .push((name, state));
                    Ok(())
                }
            })
            .await
    })
}

/// Waits (polling, at most `limit`) until `done` holds.
async fn eventually(what: &str, limit: Duration, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn owners(streams: &[EventStream]) -> usize {
    streams.iter().filter(|s| s.status().owner).count()
}

/// Every conversation in `ids` was handled in its scheduled state exactly once.
fn each_scheduled_once(handled: &Handled, ids: &[String]) -> bool {
    let handled = handled.lock().unwrap();
    ids.iter().all(|id| {
        handled.get(id).is_some_and(|states| {
            states
                .iter()
                .filter(|(_, s)| s == &format!("{:?}", Some(CallbackState::Scheduled)))
                .count()
                == 1
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_holds_one_channel_and_each_event_is_handled_once() {
    let Some(db) = pg::database().await else {
        return;
    };
    let fake = FakeGenesys::start().await;
    let ttl = Duration::from_secs(3);
    let mut streams = Vec::new();
    for name in ["r1", "r2", "r3"] {
        streams.push(replica(&fake, &db, name, ttl).await);
    }
    eventually("an owner", Duration::from_secs(10), || {
        owners(&streams) == 1
    })
    .await;
    eventually(
        "the owner's channel is live",
        Duration::from_secs(10),
        || fake.notification_connections() == 1,
    )
    .await;
    let handled: Handled = Arc::default();
    let workers: Vec<_> = streams.iter().map(|s| work(s, &handled)).collect();
    let callbacks = fake.client().unwrap().callbacks();
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(
            callbacks
                .create(&reservation(n))
                .await
                .unwrap()
                .conversation_id()
                .to_owned(),
        );
    }
    eventually("every callback handled", Duration::from_secs(20), || {
        each_scheduled_once(&handled, &ids)
    })
    .await;
    assert_eq!(owners(&streams), 1, "never two owners");
    assert_eq!(
        fake.notification_channels_created(),
        1,
        "one channel for the fleet"
    );
    let by_replica: BTreeMap<String, usize> = handled.lock().unwrap().values().flatten().fold(
        BTreeMap::new(),
        |mut counts, (replica, _)| {
            *counts.entry(replica.clone()).or_default() += 1;
            counts
        },
    );
    assert!(
        by_replica.values().sum::<usize>() >= 20,
        "the work is shared by the replicas: {by_replica:?}"
    );
    for stream in &streams {
        stream.shutdown().await;
    }
    for worker in workers {
        worker.await.unwrap().unwrap();
    }
}

/// Starts a replica on a runtime of its own, which `kill` drops: its tasks stop where they
/// are, its lease is not given back, its connections close, as when its process dies.
struct Doomed {
    runtime: Option<tokio::runtime::Runtime>,
    stream: EventStream,
}

impl Doomed {
    fn start(fake: &FakeGenesys, db: &Database, name: &str, ttl: Duration) -> Doomed {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = fake.client().unwrap();
        let db = db.clone();
        let name = name.to_owned();
        let stream = runtime.block_on(async move {
            EventStream::builder(client, db, "callbacks")
                .callbacks([QUEUE])
                .replica(name)
                .lease_ttl(ttl)
                .start()
                .await
                .unwrap()
        });
        Doomed {
            runtime: Some(runtime),
            stream,
        }
    }

    fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        std::mem::forget(self.stream);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_owner_is_replaced_within_its_lease_and_the_gap_is_reconciled() {
    let Some(db) = pg::database().await else {
        return;
    };
    let fake = FakeGenesys::start().await;
    let ttl = Duration::from_secs(2);
    let doomed = tokio::task::block_in_place(|| Doomed::start(&fake, &db, "doomed", ttl));
    eventually(
        "the doomed replica owns the stream",
        Duration::from_secs(10),
        || doomed.stream.status().owner,
    )
    .await;
    let survivor = replica(&fake, &db, "survivor", ttl).await;
    let handled: Handled = Arc::default();
    let worker = work(&survivor, &handled);
    let callbacks = fake.client().unwrap().callbacks();
    let before = callbacks
        .create(&reservation(1))
        .await
        .unwrap()
        .conversation_id()
        .to_owned();
    eventually(
        "the first callback recorded and handled",
        Duration::from_secs(10),
        || each_scheduled_once(&handled, std::slice::from_ref(&before)),
    )
    .await;

    tokio::task::block_in_place(|| doomed.kill());
    let died = std::time::Instant::now();
    // Made while nobody holds the channels: found by the new owner's reconciliation.
    let during = callbacks
        .create(&reservation(2))
        .await
        .unwrap()
        .conversation_id()
        .to_owned();
    eventually("the survivor took over", Duration::from_secs(10), || {
        survivor.status().owner
    })
    .await;
    let took = died.elapsed();
    assert!(
        took <= ttl + ttl / 3 + Duration::from_secs(1),
        "takeover took {took:?}, lease {ttl:?}"
    );
    let after = callbacks
        .create(&reservation(3))
        .await
        .unwrap()
        .conversation_id()
        .to_owned();
    let ids = [before, during, after];
    eventually(
        "every callback handled once",
        Duration::from_secs(20),
        || each_scheduled_once(&handled, &ids),
    )
    .await;
    survivor.shutdown().await;
    worker.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_gets_the_event_again_until_it_is_dead() {
    let Some(db) = pg::database().await else {
        return;
    };
    let fake = FakeGenesys::start().await;
    let stream = EventStream::builder(fake.client().unwrap(), db.clone(), "callbacks")
        .callbacks([QUEUE])
        .lease_ttl(Duration::from_secs(3))
        .max_attempts(3)
        .retry_wait(Duration::ZERO)
        .poll_every(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    eventually("owner", Duration::from_secs(10), || stream.status().owner).await;
    eventually("channel", Duration::from_secs(10), || {
        fake.notification_connections() == 1
    })
    .await;
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let worker = {
        let stream = stream.clone();
        let attempts = attempts.clone();
        tokio::spawn(async move {
            stream
                .work(move |event: StoredEvent| {
                    let attempts = attempts.clone();
                    async move {
                        attempts.lock().unwrap().push(event.attempts);
                        Err(Error::custom(
                            ErrorKind::Upstream,
                            "the calendar answered 503",
                        ))
                    }
                })
                .await
        })
    };
    fake.client()
        .unwrap()
        .callbacks()
        .create(&reservation(1))
        .await
        .unwrap();
    eventually("three attempts", Duration::from_secs(10), || {
        attempts.lock().unwrap().len() >= 3
    })
    .await;
    eventually("dead", Duration::from_secs(10), || {
        stream.status().dead == 1
    })
    .await;
    let dead = stream.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        *attempts.lock().unwrap(),
        [1, 2, 3],
        "delivered again, then no more"
    );
    assert!(stream.requeue(dead[0].seq).await.unwrap());
    eventually("requeued and tried again", Duration::from_secs(10), || {
        attempts.lock().unwrap().len() >= 4
    })
    .await;
    stream.shutdown().await;
    worker.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_gives_every_reader_every_event_in_order() {
    let Some(db) = pg::database().await else {
        return;
    };
    let fake = FakeGenesys::start().await;
    let a = replica(&fake, &db, "a", Duration::from_secs(3)).await;
    let b = replica(&fake, &db, "b", Duration::from_secs(3)).await;
    eventually("owner", Duration::from_secs(10), || {
        owners(&[a.clone(), b.clone()]) == 1
    })
    .await;
    eventually("channel", Duration::from_secs(10), || {
        fake.notification_connections() == 1
    })
    .await;
    let mut readers = [
        a.broadcast("cache-a").await.unwrap(),
        b.broadcast("cache-b").await.unwrap(),
    ];
    let callbacks = fake.client().unwrap().callbacks();
    for n in 0..5 {
        callbacks.create(&reservation(n)).await.unwrap();
    }
    for reader in &mut readers {
        let mut seen = Vec::new();
        while seen.len() < 5 {
            let events = tokio::time::timeout(Duration::from_secs(10), reader.next())
                .await
                .expect("events within 10 s")
                .unwrap();
            seen.extend(events.into_iter().map(|e| e.seq));
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
        reader.commit().await.unwrap();
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn settings_out_of_range_are_refused_before_anything_starts() {
    let fake = FakeGenesys::start().await;
    let db = Database::connect("postgres://u@127.0.0.1:1/db").unwrap();
    let err = EventStream::builder(fake.client().unwrap(), db, "bad name!")
        .callbacks(["not-a-uuid"])
        .lease_ttl(Duration::ZERO)
        .max_attempts(0)
        .start()
        .await
        .unwrap_err();
    let v = err.validation().expect("refused before connecting");
    for field in ["name", "queues[0]", "lease_ttl", "max_attempts"] {
        assert!(
            v.violations().iter().any(|x| x.field == field),
            "{field}: {err}"
        );
    }
}

/// A TCP forwarder to PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and mended: one replica's network path to the database.
struct Path {
    port: u16,
    cut: Arc<std::sync::atomic::AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Path {
    async fn to(url: &str) -> Path {
        let target = url
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        {
            let cut = cut.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if cut.load(std::sync::atomic::Ordering::SeqCst) {
                        continue; // dropped: refused
                    }
                    let target = target.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(task);
                }
            });
        }
        Path {
            port,
            cut,
            connections,
        }
    }

    fn url(&self, url: &str) -> String {
        let (head, rest) = url.split_once('@').unwrap();
        let db = rest.split_once('/').map(|(_, db)| db).unwrap_or("postgres");
        format!("{head}@127.0.0.1:{}/{db}", self.port)
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_cut_off_from_the_database_steps_down_before_another_takes_over() {
    let Some(url) = pg::url() else { return };
    let Some(db) = pg::database().await else {
        return;
    };
    let path = Path::to(&url).await;
    let cut_off_db = Database::connect(&path.url(&url))
        .unwrap()
        .table_prefix(db.prefix())
        .unwrap();
    let fake = FakeGenesys::start().await;
    let ttl = Duration::from_secs(2);
    let first = replica(&fake, &cut_off_db, "cut-off", ttl).await;
    eventually(
        "the first replica owns the stream",
        Duration::from_secs(10),
        || first.status().owner,
    )
    .await;
    let second = replica(&fake, &db, "connected", ttl).await;
    let both = [first.clone(), second.clone()];

    path.cut();
    let cut_at = std::time::Instant::now();
    // Never two owners, sampled every 5 ms until the second has taken over.
    let mut stepped_down = None;
    while !second.status().owner {
        assert!(owners(&both) <= 1, "two owners at {:?}", cut_at.elapsed());
        if stepped_down.is_none() && !first.status().owner {
            stepped_down = Some(cut_at.elapsed());
        }
        assert!(cut_at.elapsed() < Duration::from_secs(15), "no takeover");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took_over = cut_at.elapsed();
    let stepped_down = stepped_down.expect("the cut-off owner stepped down first");
    assert!(
        stepped_down <= ttl,
        "it stopped acting within its lease: {stepped_down:?}"
    );
    assert!(!first.status().owner);
    eventually("one channel with a socket", Duration::from_secs(10), || {
        fake.notification_connections() == 1
    })
    .await;
    assert!(took_over >= stepped_down, "{took_over:?} {stepped_down:?}");
    second.shutdown().await;
    first.shutdown().await;
}
