//! Callbacks: the event stream (feature `callback-events`): live events, reconnects,
//! reconciliation of what a dropped socket missed, and the calendar sync.

use genesys_cloud::callbacks::{CallbackReservation, Channel};
use genesys_cloud::jiff::tz::TimeZone;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

use std::future::Future;
use std::time::Duration;

use futures::{FutureExt, StreamExt, TryStreamExt};
use genesys_cloud::callbacks::{
    sync_calendar, CallbackEvent, CallbackEvents, CallbackState, EventSource, StreamItem,
    StreamOptions, WebhookCalendar,
};
use genesys_cloud::testkit::{FakeGenesys, Fault};
use genesys_cloud::{Client, ErrorKind, Method};

const LIVE_QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const CALLBACKS: &str = "/api/v2/conversations/callbacks";
const CHANNELS: &str = "/api/v2/notifications/channels";
const DETAILS_QUERY: &str = "/api/v2/analytics/conversations/details/query";

fn soon() -> CallbackReservation {
    let ny = zone("America/New_York");
    let start = (jiff::Zoned::now().with_time_zone(ny.clone())
        + jiff::SignedDuration::from_hours(1))
    .datetime();
    CallbackReservation::builder(LIVE_QUEUE, ny)
        .callback_number("+14155550199")
        .at(start)
        .channels(Channel::Voice, Some(Channel::Sms))
        .build()
        .unwrap()
}

/// Short reconnect waits, for tests in real time (the keep-alive stays the platform's:
/// a loaded machine must not make a test's socket look dead).
fn fast() -> StreamOptions {
    StreamOptions::builder()
        .reconnect_wait(Duration::from_millis(300))
        .max_reconnect_wait(Duration::from_millis(600))
        .build()
        .unwrap()
}

async fn next_item(events: &mut CallbackEvents) -> StreamItem {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an item within 10 s")
        .expect("the stream is open")
        .expect("no stream error")
}

/// The next event, past any notices.
async fn next_event(events: &mut CallbackEvents) -> CallbackEvent {
    loop {
        if let StreamItem::Event(event) = next_item(events).await {
            return event;
        }
    }
}

/// Polls `done` every 10 ms for up to 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 10 s: {what}");
}

fn api_calls(fake: &FakeGenesys) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .count()
}

// Paused time. The fake's websocket server runs on the test's runtime, but its HTTP
// server (wiremock) runs on a thread of its own: while a test waits on it, tokio would
// jump paused time to the next timer. These helpers hold time still while real time
// lets the HTTP server answer (a running `spawn_blocking` task keeps tokio from
// advancing paused time), and move it forward only in steps.

/// `f`, with paused time held still until it is done (at most 5 s of real time).
async fn real<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    for _ in 0..5_000 {
        let nap = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)));
        tokio::select! {
            out = &mut f => return out,
            _ = nap => {}
        }
    }
    panic!("no answer within 5 s of real time");
}

/// Moves paused time forward by `total` in 500 ms steps, with 2 ms of real time after
/// each for the fake's HTTP server.
async fn run_for(total: Duration) {
    let step = Duration::from_millis(500);
    let mut left = total;
    while !left.is_zero() {
        let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2))).await;
        let d = step.min(left);
        tokio::time::advance(d).await;
        left -= d;
    }
    let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2))).await;
}

#[tokio::test]
async fn stream_options_refuse_zero_and_out_of_range_values() {
    let err = StreamOptions::builder()
        .buffer(0)
        .max_reconcile_fetches(0)
        .ping_every(Duration::ZERO)
        .analytics_delay(Duration::from_secs(3_600))
        .build()
        .unwrap_err();
    for field in [
        "buffer",
        "max_reconcile_fetches",
        "ping_every",
        "analytics_delay",
    ] {
        assert!(err.has(field, "range"), "{field}: {err}");
    }
    let err = StreamOptions::builder()
        .ping_every(Duration::from_secs(60))
        .dead_after(Duration::from_secs(30))
        .build()
        .unwrap_err();
    assert!(err.has("dead_after", "after_ping"), "{err}");
    assert_eq!(
        StreamOptions::builder().build().unwrap(),
        StreamOptions::default()
    );
}

#[tokio::test]
async fn a_change_right_after_events_returns_is_reported() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    // No sleep: `events` returns once the subscription is confirmed.
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    let created = callbacks.create(&soon()).await.unwrap();
    let event = next_event(&mut events).await;
    assert_eq!(
        event.source,
        EventSource::Live,
        "{event:?} {:?}",
        events.status()
    );
    assert_eq!(event.conversation_id, created.conversation_id());
    assert_eq!(event.queue_id.as_deref(), Some(LIVE_QUEUE));
    assert_eq!(event.state, Some(CallbackState::Scheduled));
    assert_eq!(
        event.topic.as_deref(),
        Some(format!("v2.routing.queues.{LIVE_QUEUE}.conversations.callbacks").as_str())
    );

    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(45);
    callbacks
        .reschedule(created.conversation_id(), later)
        .await
        .unwrap();
    let moved = next_event(&mut events).await;
    assert_eq!(
        moved.scheduled_time.map(|t| t.as_millisecond()),
        Some(later.as_millisecond())
    );
    assert_eq!(event.callback_numbers(), ["+14155550199"]);
    let channels = fake.notification_channels();
    assert_eq!(channels[0]["subscriptions"][0], event.topic.unwrap());
}

#[tokio::test]
async fn events_refuses_bad_queues_before_sending_anything() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let err = callbacks.events(&[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = callbacks.events(&["queue-1"]).await.unwrap_err();
    assert!(err.validation().unwrap().has("queue_ids[0]", "uuid"));
    assert_eq!(api_calls(&fake), 0);
}

/// #12: a socket that opens and closes at once caused 27 handshakes, 27 channels and 80
/// API calls in 20 s. Now the channel is kept, the backoff keeps growing, and the
/// consumer is told.
#[tokio::test(start_paused = true)]
async fn a_socket_that_closes_on_open_reconnects_within_the_backoff() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let options = StreamOptions::default();
    let mut events = real(callbacks.events_with(&[LIVE_QUEUE], options.clone()))
        .await
        .unwrap();
    let setup_calls = api_calls(&fake);
    fake.close_notification_sockets_on_open(true);
    fake.drop_notification_connections();
    let ten_minutes = Duration::from_secs(600);
    run_for(ten_minutes).await;

    // The bound: one connection per backoff wait (waits double from `reconnect_wait` to
    // `max_reconnect_wait` and jitter only lengthens them), plus the first.
    let mut wait = options.reconnect_wait();
    let mut elapsed = Duration::ZERO;
    let mut bound = 1;
    while elapsed + wait <= ten_minutes {
        elapsed += wait;
        bound += 1;
        wait = (wait * 2).min(options.max_reconnect_wait());
    }
    let handshakes = fake.notification_handshakes();
    assert!(
        handshakes as usize <= bound && handshakes >= 10,
        "{handshakes} handshakes in ten minutes; the backoff allows {bound}"
    );
    assert_eq!(
        fake.notification_channels_created(),
        1,
        "the channel is reused"
    );
    // Each reconnect reconciles with one query (there are no callbacks to read); the
    // reconnects themselves make no API call.
    let calls = api_calls(&fake) - setup_calls;
    assert!(
        calls <= 2 * handshakes as usize,
        "{calls} API calls for {handshakes} handshakes"
    );
    assert_eq!(fake.requests_to(Method::POST, CHANNELS).len(), 1);

    // The consumer sees it.
    let status = events.status();
    assert!(
        status.disconnects >= 10 && status.reconnects >= 9,
        "{status:?}"
    );
    let mut reconnected = None;
    while let Some(Some(item)) = events.next().now_or_never() {
        if let StreamItem::Reconnected(r) = item.unwrap() {
            reconnected = Some(r);
        }
    }
    let reconnected = reconnected.expect("a Reconnected notice");
    assert!(reconnected.outages >= 9, "{reconnected:?}");
    assert!(!reconnected.new_channel);
}

/// #12: callbacks created while the socket was down were never reported, because the
/// listing the stream reconciled with is the logged-in user's (empty under client
/// credentials, as the fake now answers).
#[tokio::test]
async fn callbacks_created_while_disconnected_are_reported_after_reconnecting() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();

    let (missed, listings_before) = while_disconnected(&fake, &events, async {
        let mut missed = Vec::new();
        for _ in 0..3 {
            missed.push(
                callbacks
                    .create(&soon())
                    .await
                    .unwrap()
                    .conversation_id()
                    .to_owned(),
            );
        }
        let user_listing: Vec<_> = callbacks.list().try_collect().await.unwrap();
        assert!(
            user_listing.is_empty(),
            "the platform lists no user's callbacks"
        );
        (missed, fake.requests_to(Method::GET, CALLBACKS).len())
    })
    .await;

    let mut reported = Vec::new();
    let mut reconnected = false;
    while reported.len() < missed.len() {
        match next_item(&mut events).await {
            StreamItem::Reconnected(_) => reconnected = true,
            StreamItem::Event(event) if missed.contains(&event.conversation_id) => {
                assert_eq!(event.source, EventSource::Reconciled);
                assert_eq!(event.state, Some(CallbackState::Scheduled));
                assert!(reconnected, "the Reconnected notice comes first");
                reported.push(event.conversation_id);
            }
            _ => {}
        }
    }
    let report = loop {
        if let StreamItem::Reconciled(report) = next_item(&mut events).await {
            if report.reported > 0 {
                break report;
            }
        }
    };
    assert!(report.is_complete(), "{report:?}");
    assert!(!fake.requests_to(Method::POST, DETAILS_QUERY).is_empty());
    assert_eq!(
        fake.requests_to(Method::GET, CALLBACKS).len(),
        listings_before,
        "the user listing is not used"
    );

    // Live again.
    let live = callbacks.create(&soon()).await.unwrap();
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.source, event.conversation_id.as_str()),
        (EventSource::Live, live.conversation_id())
    );
}

/// #12: a slow consumer stopped pings and heartbeat checks, which caused a spurious
/// reconnect that dropped frames. Now the consumer lags (and is told), the socket stays,
/// and the latest state of every callback still arrives.
#[tokio::test(start_paused = true)]
async fn a_slow_consumer_does_not_cause_a_reconnect() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let options = StreamOptions::builder()
        .buffer(4)
        .ping_every(Duration::from_secs(3))
        .dead_after(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut events = real(callbacks.events_with(&[LIVE_QUEUE], options))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let created = real(callbacks.create(&soon())).await.unwrap();
        let id = created.conversation_id().to_owned();
        if i % 2 == 0 {
            real(callbacks.disconnect(&id)).await.unwrap();
        }
        ids.push(id);
    }

    // One item every 20 s, twice as long as a silent socket is allowed to be.
    let mut last_state = std::collections::HashMap::new();
    let mut dropped = 0;
    for _ in 0..60 {
        run_for(Duration::from_secs(20)).await;
        match events.next().now_or_never() {
            Some(Some(Ok(StreamItem::Event(event)))) => {
                last_state.insert(event.conversation_id.clone(), event.state.clone());
            }
            Some(Some(Ok(StreamItem::Lagged(lagged)))) => dropped += lagged.dropped,
            Some(Some(Ok(_))) => {}
            Some(other) => panic!("the stream ended: {other:?}"),
            None => {
                if last_state.len() == ids.len() {
                    break;
                }
            }
        }
    }
    assert_eq!(fake.notification_handshakes(), 1, "no reconnect");
    let status = events.status();
    assert_eq!(
        (status.disconnects, status.reconnects),
        (0, 0),
        "{status:?}"
    );
    assert!(
        dropped > 0 && status.dropped_events == dropped,
        "{status:?}"
    );
    for (i, id) in ids.iter().enumerate() {
        let want = if i % 2 == 0 {
            CallbackState::Disconnected
        } else {
            CallbackState::Scheduled
        };
        assert_eq!(last_state.get(id), Some(&Some(want)), "callback {i}");
    }
}

/// #12: a channel create answered 503 may have made the channel; the stream looks for
/// it before making another.
#[tokio::test]
async fn a_channel_create_that_failed_after_creating_is_not_repeated() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    fake.fail_channel_creation_after_creating(1);
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    assert_eq!(fake.notification_channels_created(), 1);
    assert_eq!(fake.requests_to(Method::POST, CHANNELS).len(), 1);
    let lookups = fake.requests_to(Method::GET, CHANNELS);
    assert_eq!(lookups.len(), 1);
    assert_eq!(lookups[0].query.as_deref(), Some("includechannels=token"));
    let created = callbacks.create(&soon()).await.unwrap();
    assert_eq!(
        next_event(&mut events).await.conversation_id,
        created.conversation_id()
    );
}

#[tokio::test]
async fn a_silent_socket_is_replaced_on_the_same_channel() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let options = StreamOptions::builder()
        .ping_every(Duration::from_millis(100))
        .dead_after(Duration::from_millis(400))
        .reconnect_wait(Duration::from_millis(100))
        .max_reconnect_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).await.unwrap();
    fake.silence_notification_sockets(true);
    eventually("a second socket", || fake.notification_handshakes() >= 2).await;
    fake.silence_notification_sockets(false);
    let created = callbacks.create(&soon()).await.unwrap();
    let mut saw_reconnect = false;
    loop {
        match next_item(&mut events).await {
            StreamItem::Reconnected(r) => {
                assert!(!r.new_channel);
                saw_reconnect = true;
            }
            StreamItem::Event(e) if e.conversation_id == created.conversation_id() => break,
            _ => {}
        }
    }
    assert!(saw_reconnect);
    assert_eq!(fake.notification_channels_created(), 1);
}

#[tokio::test]
async fn a_maintenance_close_moves_to_a_new_socket_without_a_gap() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    fake.announce_notification_socket_closing();
    eventually("a second socket", || fake.notification_handshakes() == 2).await;
    let created = callbacks.create(&soon()).await.unwrap();
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.source, event.conversation_id.as_str()),
        (EventSource::Live, created.conversation_id())
    );
    assert_eq!(fake.notification_channels_created(), 1);
    let status = events.status();
    assert_eq!(
        (status.disconnects, status.reconnects),
        (0, 0),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_expired_channel_is_replaced_and_the_gap_reconciled() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    let created = callbacks.create(&soon()).await.unwrap();
    next_event(&mut events).await;

    fake.expire_notification_channels();
    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(20);
    callbacks
        .reschedule(created.conversation_id(), later)
        .await
        .unwrap();
    let mut new_channel = false;
    let event = loop {
        match next_item(&mut events).await {
            StreamItem::Reconnected(r) => new_channel = r.new_channel,
            StreamItem::Event(event) => break event,
            _ => {}
        }
    };
    assert!(new_channel);
    assert_eq!(
        event.source,
        EventSource::Reconciled,
        "the reschedule happened between channels"
    );
    assert_eq!(
        event.scheduled_time.map(|t| t.as_millisecond()),
        Some(later.as_millisecond())
    );
    assert_eq!(fake.notification_channels_created(), 2);
    let channels = fake.notification_channels();
    let old = channels.iter().find(|c| c["expired"] == true).unwrap();
    let head = format!("{CHANNELS}/{}", old["id"].as_str().unwrap());
    assert_eq!(
        fake.requests_to(Method::HEAD, &head).len(),
        1,
        "a refused handshake is checked with HEAD"
    );
    let second = callbacks.create(&soon()).await.unwrap();
    let live = next_event(&mut events).await;
    assert_eq!(
        (live.source, live.conversation_id.as_str()),
        (EventSource::Live, second.conversation_id())
    );
}

#[tokio::test]
async fn the_channel_is_renewed_before_it_expires() {
    let fake = FakeGenesys::start().await;
    // Real seconds (the fake stamps `expires` by the wall clock): a channel lives 10 s and is
    // renewed 9 s before it expires, so about every second, with 9 s to spare on a busy
    // machine.
    fake.set_channel_lifetime(Duration::from_secs(10));
    let callbacks = fake.client().unwrap().callbacks();
    let options = StreamOptions::builder()
        .renew_before_expiry(Duration::from_secs(9))
        .reconnect_wait(Duration::from_millis(100))
        .max_reconnect_wait(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).await.unwrap();
    let subscribe = format!(
        "{CHANNELS}/{}/subscriptions",
        fake.notification_channels()[0]["id"].as_str().unwrap()
    );
    eventually("the subscription renewed twice", || {
        fake.requests_to(Method::PUT, &subscribe).len() >= 3
    })
    .await;
    let created = callbacks.create(&soon()).await.unwrap();
    assert_eq!(
        next_event(&mut events).await.conversation_id,
        created.conversation_id()
    );
    assert_eq!(fake.notification_channels_created(), 1);
    assert_eq!(fake.notification_handshakes(), 1);
}

#[tokio::test]
async fn a_channel_whose_expiry_does_not_move_is_replaced_before_it_expires() {
    let fake = FakeGenesys::start().await;
    // A channel lives 20 s and is renewed 18 s before it expires: 18 s for the rollover,
    // enough on a busy machine (these are real seconds: the fake stamps `expires` by the
    // wall clock), and the first rollover 2 s after the start.
    fake.set_channel_lifetime(Duration::from_secs(20));
    fake.set_subscribing_extends_channels(false);
    let callbacks = fake.client().unwrap().callbacks();
    let options = StreamOptions::builder()
        .renew_before_expiry(Duration::from_secs(18))
        .reconnect_wait(Duration::from_millis(100))
        .max_reconnect_wait(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).await.unwrap();
    eventually("a second channel", || {
        fake.notification_channels_created() == 2
    })
    .await;
    eventually("its socket", || fake.notification_handshakes() == 2).await;
    // The fake counts a channel when it answers the POST; the stream, once it has moved
    // onto it: wait for the stream's own count rather than race it.
    eventually("the stream on the second channel", || {
        events.status().channels_created >= 2
    })
    .await;
    let created = callbacks.create(&soon()).await.unwrap();
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.source, event.conversation_id.as_str()),
        (EventSource::Live, created.conversation_id())
    );
    let status = events.status();
    assert_eq!(
        (status.disconnects, status.reconnects),
        (0, 0),
        "{status:?}"
    );
    // Each channel is renewed 2 s after it is made here, so the stream keeps moving on, a
    // socket per channel.
    assert!(status.channels_created >= 2, "{status:?}");
    assert!(fake.notification_handshakes() <= fake.notification_channels_created());
}

/// Callbacks made in the last moments before a reconnect may not be in the analytics
/// index yet: the end of the window is queried again later.
#[tokio::test]
async fn a_callback_the_analytics_index_did_not_have_yet_is_found_later() {
    let fake = FakeGenesys::start().await;
    // The first query, after the reconnect, must come before the index has the callback:
    // 4 s of real time for a reconnect that takes a few milliseconds on an idle machine.
    fake.set_analytics_delay(Duration::from_secs(4));
    let callbacks = fake.client().unwrap().callbacks();
    let options = StreamOptions::builder()
        .reconnect_wait(Duration::from_millis(100))
        .max_reconnect_wait(Duration::from_millis(200))
        .analytics_delay(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).await.unwrap();
    let missed = while_disconnected(&fake, &events, callbacks.create(&soon()))
        .await
        .unwrap();
    let mut first_run_listed = None;
    let event = loop {
        match next_item(&mut events).await {
            StreamItem::Reconciled(report) if first_run_listed.is_none() => {
                first_run_listed = Some(report.listed)
            }
            StreamItem::Event(event) if event.conversation_id == missed.conversation_id() => {
                break event
            }
            _ => {}
        }
    };
    assert_eq!(event.source, EventSource::Reconciled);
    assert_eq!(first_run_listed, Some(0), "not indexed at the first query");
}

#[tokio::test]
async fn calendar_deliveries_are_signed_and_deduplicated() {
    const SECRET: &str = "calendar-shared-secret-42";
    let fake = FakeGenesys::start().await;
    let inbox = fake.webhook_receiver("/external/calendar", SECRET);
    let client: Client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    let calendar = WebhookCalendar::new(
        client.clone(),
        &format!("{}/external/calendar", fake.uri()),
        SECRET,
    )
    .unwrap();

    let created = callbacks.create(&soon()).await.unwrap();
    fake.publish_callback_event(created.conversation_id()); // the platform repeats itself
    callbacks
        .disconnect(created.conversation_id())
        .await
        .unwrap();
    let only_events =
        events.filter(|item| std::future::ready(matches!(item, Ok(StreamItem::Event(_)))));
    let delivered = sync_calendar(only_events.take(3), &calendar).await.unwrap();
    assert_eq!(delivered, 3, "at least once");
    let processed = inbox.deliveries();
    assert_eq!(inbox.duplicates(), 1);
    assert_eq!(
        processed.len(),
        2,
        "the repeat was dropped by its dedupe key"
    );
    assert_eq!(processed[0]["state"], "scheduled");
    assert_eq!(processed[1]["state"], "disconnected");
    assert_eq!(
        client
            .metrics_snapshot()
            .counter("webhook.calendar.deliveries"),
        3
    );
}

/// Drops the stream's socket and keeps new ones from staying up until `missed` ran.
async fn while_disconnected<F: Future>(
    fake: &FakeGenesys,
    events: &CallbackEvents,
    missed: F,
) -> F::Output {
    fake.refuse_notification_handshakes(true);
    fake.drop_notification_connections();
    eventually("the stream noticed", || !events.status().connected).await;
    let out = missed.await;
    fake.refuse_notification_handshakes(false);
    out
}

/// The next reconciliation notice that reported or skipped something.
async fn next_report(events: &mut CallbackEvents) -> genesys_cloud::callbacks::Reconciliation {
    loop {
        if let StreamItem::Reconciled(report) = next_item(events).await {
            if report.reported > 0 || !report.is_complete() {
                return report;
            }
        }
    }
}

#[tokio::test]
async fn a_reconciliation_cut_short_by_its_bound_lists_what_it_skipped() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let options = StreamOptions::builder()
        .reconnect_wait(Duration::from_millis(300))
        .max_reconnect_wait(Duration::from_millis(600))
        .max_reconcile_fetches(1)
        .build()
        .unwrap();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).await.unwrap();
    let missed = while_disconnected(&fake, &events, async {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                callbacks
                    .create(&soon())
                    .await
                    .unwrap()
                    .conversation_id()
                    .to_owned(),
            );
        }
        ids
    })
    .await;
    let report = next_report(&mut events).await;
    assert!(!report.is_complete() && report.truncated, "{report:?}");
    assert_eq!((report.listed, report.fetched, report.reported), (3, 1, 1));
    assert_eq!(report.skipped.len(), 2);
    assert!(report.skipped.iter().all(|id| missed.contains(id)));
    assert!(events.status().incomplete_reconciliations >= 1);
}

#[tokio::test]
async fn a_refused_query_is_reported_and_known_callbacks_are_still_read() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast()).await.unwrap();
    let known = callbacks.create(&soon()).await.unwrap();
    next_event(&mut events).await;
    // The OAuth client lacks analytics:conversationDetail:view.
    fake.inject_on(
        Method::POST,
        DETAILS_QUERY,
        Fault::Answer {
            status: 403,
            body: serde_json::json!({"code": "missing.permissions", "status": 403,
                "message": "You are missing the following permission(s): analytics:conversationDetail:view"}),
        },
        1,
    );
    while_disconnected(&fake, &events, async {
        callbacks.disconnect(known.conversation_id()).await.unwrap();
    })
    .await;
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.source, event.conversation_id.as_str(), event.state),
        (
            EventSource::Reconciled,
            known.conversation_id(),
            Some(CallbackState::Disconnected)
        )
    );
    let report = next_report(&mut events).await;
    let error = report.error.clone().expect("the refusal is reported");
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert!(!report.is_complete());
    assert_eq!((report.fetched, report.reported), (1, 1));
}

/// Creates `n` callbacks on the live queue; their conversation ids.
async fn create_many(callbacks: &genesys_cloud::callbacks::Callbacks, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let created = callbacks.create(&soon()).await.unwrap();
        ids.push(created.conversation_id().to_owned());
    }
    ids
}

/// The `paging.pageNumber` of every analytics query sent, in order.
fn query_pages(fake: &FakeGenesys) -> Vec<u64> {
    fake.requests_to(Method::POST, DETAILS_QUERY)
        .iter()
        .map(|r| r.json()["paging"]["pageNumber"].as_u64().unwrap())
        .collect()
}

/// Options for a reconciliation of more than one query page (100 callbacks): reads
/// enough for all of them, and no second query of the window's end.
fn many(max_pages: u32) -> StreamOptions {
    StreamOptions::builder()
        .reconnect_wait(Duration::from_millis(300))
        .max_reconnect_wait(Duration::from_millis(600))
        .max_reconcile_pages(max_pages)
        .max_reconcile_fetches(1_000)
        .analytics_delay(Duration::ZERO)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_reconciliation_reads_every_page_of_the_query() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], many(5)).await.unwrap();
    let missed = while_disconnected(&fake, &events, create_many(&callbacks, 120)).await;
    let mut reported = std::collections::HashSet::new();
    let report = loop {
        match next_item(&mut events).await {
            StreamItem::Event(event) => {
                assert_eq!(event.source, EventSource::Reconciled, "{event:?}");
                reported.insert(event.conversation_id);
            }
            StreamItem::Reconciled(report) if report.reported > 0 => break report,
            _ => {}
        }
    };
    let unreported = missed.iter().filter(|id| !reported.contains(*id)).count();
    assert_eq!(unreported, 0, "every callback of both pages is reported");
    assert_eq!(reported.len(), missed.len(), "and nothing else");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        (report.listed, report.fetched, report.reported),
        (120, 120, 120)
    );
    let pages = query_pages(&fake);
    assert!(pages.ends_with(&[1, 2]), "{pages:?}");
    assert!(!pages.contains(&3), "a short page is the last: {pages:?}");
}

/// More open callbacks than the page bound lets the query list: the reconciliation stops
/// at the bound and its notice says it was cut short (it cannot name the callbacks it
/// never listed: `skipped` names only those listed and left unread); the next
/// reconciliation lists the rest of the window, from the next page.
#[tokio::test]
async fn a_reconciliation_stops_at_its_page_bound_and_says_so() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], many(1)).await.unwrap();
    let missed = while_disconnected(&fake, &events, create_many(&callbacks, 120)).await;
    let mut reported = Vec::new();
    let report = loop {
        match next_item(&mut events).await {
            StreamItem::Event(event) => reported.push(event.conversation_id),
            StreamItem::Reconciled(report) if report.reported > 0 || report.truncated => {
                break report
            }
            _ => {}
        }
    };
    assert!(report.truncated && !report.is_complete(), "{report:?}");
    assert_eq!(
        (report.listed, report.fetched, report.reported),
        (100, 100, 100)
    );
    assert!(report.skipped.is_empty(), "{report:?}");
    assert!(report.error.is_none(), "{report:?}");
    reported.sort();
    let mut first_page = missed[..100].to_vec();
    first_page.sort();
    assert_eq!(reported, first_page, "the first page, oldest first");
    assert!(events.status().incomplete_reconciliations >= 1);

    // The rest of the window comes with the next reconciliation, from page 2.
    let mut rest: Vec<String> = missed[100..].to_vec();
    rest.sort();
    let mut later = Vec::new();
    while later.len() < rest.len() {
        if let StreamItem::Event(event) = next_item(&mut events).await {
            later.push(event.conversation_id);
        }
    }
    later.sort();
    later.dedup();
    assert_eq!(later, rest, "the callbacks past the first page");
    let pages = query_pages(&fake);
    assert!(
        pages.ends_with(&[1, 2]),
        "one page per reconciliation: {pages:?}"
    );
    assert!(!pages.contains(&3), "a short page is the last: {pages:?}");
}

/// GETs of single callbacks sent so far.
fn callback_reads(fake: &FakeGenesys) -> usize {
    fake.requests()
        .iter()
        .filter(|r| {
            r.method == Method::GET && r.path.starts_with("/api/v2/conversations/callbacks/")
        })
        .count()
}

/// Open callbacks the stream reported, more than one reconciliation's page bound lists:
/// after a gap, only what changed is read. A known callback the first pages did not list
/// may be on the next ones, so it is read only if the whole listing never shows it (it
/// ended); the old code read every known callback past the bound (here 48 unchanged
/// ones).
#[tokio::test]
async fn unchanged_callbacks_past_the_page_bound_are_not_read() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], many(1)).await.unwrap();
    let known = create_many(&callbacks, 150).await;
    for _ in 0..known.len() {
        next_event(&mut events).await;
    }
    let reads_before = callback_reads(&fake);
    // One changes on the first page, one past it, and one past it ends.
    let (moved, later, ended) = (&known[10], &known[120], &known[130]);
    while_disconnected(&fake, &events, async {
        let new_time = soon().scheduled_time() + genesys_cloud::jiff::SignedDuration::from_mins(30);
        callbacks.reschedule(moved, new_time).await.unwrap();
        callbacks.reschedule(later, new_time).await.unwrap();
        callbacks.disconnect(ended).await.unwrap();
    })
    .await;
    let mut reconciled = Vec::new();
    loop {
        match next_item(&mut events).await {
            StreamItem::Event(event) => {
                assert_eq!(event.source, EventSource::Reconciled, "{event:?}");
                reconciled.push(event.conversation_id);
            }
            StreamItem::Reconciled(report) if report.is_complete() => break,
            _ => {}
        }
    }
    reconciled.sort();
    let mut changed = vec![moved.clone(), later.clone(), ended.clone()];
    changed.sort();
    assert_eq!(reconciled, changed, "every change, and nothing else");
    assert_eq!(
        callback_reads(&fake) - reads_before,
        3,
        "a GET per change, none for the 147 unchanged callbacks"
    );
    let pages = query_pages(&fake);
    assert!(pages.ends_with(&[1, 2]), "{pages:?}");
}
