//! Flow 4: callback reservations (validation, calls, concurrency limit), the event stream
//! and the calendar sync.

use genesys_cloud::callbacks::{CallbackReservation, CallbackReservationBuilder, Channel, Routing};
use genesys_cloud::ValidationError;
use jiff::civil::{date, time, DateTime, Weekday};
use jiff::Timestamp;

const QUEUE: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> DateTime {
    date(y, m, d).at(h, min, 0, 0)
}

fn tutorial() -> CallbackReservationBuilder {
    CallbackReservation::builder(QUEUE, "America/New_York")
        .callback_number("+14155550199")
        .user_name("Jordan Lee")
        .slot(at(2026, 6, 15, 14, 0), at(2026, 6, 15, 14, 15))
        .channels(Channel::Voice, Some(Channel::Sms))
        .reason("Technical support escalation")
}

/// 2026-06-15 17:00 UTC = 13:00 in New York (EDT), one hour before the tutorial's slot.
const NOW: &str = "2026-06-15T17:00:00Z";

fn refused(builder: CallbackReservationBuilder, now: &str) -> ValidationError {
    builder
        .build_at(ts(now))
        .expect_err("the reservation must be refused")
}

#[test]
fn tutorial_reservation_maps_to_create_callback_command() {
    let r = tutorial().country("US").build_at(ts(NOW)).unwrap();
    let c = r.command();
    assert_eq!(c["queueId"], QUEUE);
    assert_eq!(c["callbackNumbers"], serde_json::json!(["+14155550199"]));
    assert_eq!(
        c["callbackScheduledTime"], "2026-06-15T18:00:00.000Z",
        "14:00 EDT"
    );
    assert_eq!(c["callbackUserName"], "Jordan Lee");
    assert_eq!(c["countryCode"], "US");
    assert_eq!(c["validateCallbackNumbers"], true);
    assert_eq!(c["data"]["channelPrimary"], "voice");
    assert_eq!(c["data"]["channelFallback"], "sms");
    assert_eq!(c["data"]["reason"], "Technical support escalation");
    assert_eq!(r.scheduled_time(), ts("2026-06-15T18:00:00Z"));
}

#[test]
fn numbers_are_normalised_to_e164_with_a_real_library() {
    let r = CallbackReservation::builder(QUEUE, "Europe/London")
        .callback_number("020 7946 0018")
        .callback_number("+44 (0)20 7946 0019")
        .country("gb")
        .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 30))
        .build_at(ts(NOW))
        .unwrap();
    assert_eq!(
        r.command()["callbackNumbers"],
        serde_json::json!(["+442079460018", "+442079460019"])
    );
}

#[test]
fn invalid_and_countryless_numbers_are_refused() {
    let err = refused(
        tutorial()
            .callback_number("12345")
            .callback_number("+1 555")
            .callback_number("not a number")
            .country("US"),
        NOW,
    );
    for i in 1..=3 {
        assert!(
            err.has(&format!("callbackNumbers[{i}]"), "phone_number"),
            "{i}: {err}"
        );
    }
    let err = refused(
        CallbackReservation::builder(QUEUE, "America/New_York")
            .callback_number("(415) 555-0199")
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("callbackNumbers[0]", "phone_number"), "{err}");
    assert!(err.to_string().contains("no country"), "{err}");
    let err = refused(tutorial().country("XX"), NOW);
    assert!(err.has("countryCode", "country"), "{err}");
    let err = refused(
        CallbackReservation::builder(QUEUE, "America/New_York")
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("callbackNumbers", "required"), "{err}");
}

#[test]
fn each_slot_ends_after_it_starts() {
    let err = refused(
        tutorial().slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 9, 0)),
        NOW,
    );
    assert!(err.has("slots[1]", "end_after_start"), "{err}");
    let err = refused(tutorial().choose_slot(3), NOW);
    assert!(err.has("slots", "chosen"), "{err}");
}

#[test]
fn a_slot_future_in_utc_but_past_in_the_queue_zone_is_refused() {
    // 12:00 UTC is 21:00 in Tokyo. A slot at 15:00 read as UTC would be in the future,
    // but 15:00 in Tokyo was 06:00 UTC, already past.
    let builder = CallbackReservation::builder(QUEUE, "Asia/Tokyo")
        .callback_number("+81312345678")
        .slot(at(2026, 6, 1, 15, 0), at(2026, 6, 1, 15, 30));
    let err = refused(builder.clone(), "2026-06-01T12:00:00Z");
    assert!(err.has("slots[0]", "in_future"), "{err}");
    assert!(
        builder.build_at(ts("2026-06-01T05:00:00Z")).is_ok(),
        "before 06:00 UTC it is still ahead"
    );
}

#[test]
fn daylight_saving_changes_are_handled() {
    let ny = |start: DateTime, end: DateTime| {
        CallbackReservation::builder(QUEUE, "America/New_York")
            .callback_number("+14155550199")
            .slot(start, end)
    };
    // 2027-03-14: clocks jump from 02:00 to 03:00; 02:30 never happens.
    let err = refused(ny(at(2027, 3, 14, 2, 30), at(2027, 3, 14, 3, 30)), NOW);
    assert!(err.has("slots[0]", "nonexistent_time"), "{err}");
    // 2026-11-01: 01:30 happens twice; the earlier (EDT, -04:00) is taken.
    let r = ny(at(2026, 11, 1, 1, 30), at(2026, 11, 1, 1, 45))
        .build_at(ts(NOW))
        .unwrap();
    assert_eq!(r.scheduled_time(), ts("2026-11-01T05:30:00Z"));
    // A slot across the change: 00:30 EDT to 02:30 EST is three real hours, and valid.
    let r = ny(at(2026, 11, 1, 0, 30), at(2026, 11, 1, 2, 30))
        .build_at(ts(NOW))
        .unwrap();
    assert_eq!(r.scheduled_time(), ts("2026-11-01T04:30:00Z"));
}

#[test]
fn operating_hours_are_checked_in_the_queue_zone() {
    // 2026-06-15 is a Monday.
    let open = tutorial().operating_hours(Weekday::Monday, time(9, 0, 0, 0), time(17, 0, 0, 0));
    assert!(open.clone().build_at(ts(NOW)).is_ok());
    let late = open
        .clone()
        .slot(at(2026, 6, 15, 18, 0), at(2026, 6, 15, 18, 15))
        .choose_slot(1);
    assert!(refused(late, NOW).has("slots[1]", "operating_hours"));
    let sunday = open
        .slot(at(2026, 6, 21, 10, 0), at(2026, 6, 21, 10, 15))
        .choose_slot(1);
    let err = refused(sunday, NOW);
    assert!(
        err.has("slots[1]", "operating_hours") && err.to_string().contains("closed"),
        "{err}"
    );
}

#[test]
fn zone_queue_channels_and_routing_are_checked() {
    let err = refused(
        CallbackReservation::builder("queue_12345", "Mars/Olympus_Mons")
            .callback_number("+14155550199")
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("queueId", "uuid"), "{err}");
    assert!(err.has("timeZone", "time_zone"), "{err}");
    let err = refused(
        tutorial()
            .channels(Channel::Voice, Some(Channel::Voice))
            .routing(Routing {
                priority: Some(5),
                skill_ids: vec!["skill-1".into()],
                ..Routing::default()
            })
            .caller_id("12", None)
            .script_id("nope"),
        NOW,
    );
    for (field, rule) in [
        ("channels", "fallback"),
        ("routingData.skillIds[0]", "uuid"),
        ("callerId", "phone_number"),
        ("scriptId", "uuid"),
    ] {
        assert!(err.has(field, rule), "{field} {rule}: {err}");
    }
}

#[test]
fn routing_data_and_caller_id_are_sent() {
    let skill = "4d6e8f0a-1b2c-4d3e-9f5a-6b7c8d9e0f1a";
    let r = tutorial()
        .routing(Routing {
            priority: Some(5),
            skill_ids: vec![skill.into()],
            ..Routing::default()
        })
        .caller_id("+18005550100", Some("Acme Support".into()))
        .build_at(ts(NOW))
        .unwrap();
    let c = r.command();
    assert_eq!(c["routingData"]["queueId"], QUEUE);
    assert_eq!(c["routingData"]["priority"], 5);
    assert_eq!(c["routingData"]["skillIds"][0], skill);
    assert_eq!(c["callerId"], "+18005550100");
    assert_eq!(c["callerIdName"], "Acme Support");
}

#[test]
fn every_violation_at_once() {
    let err = refused(
        CallbackReservation::builder("q", "Nowhere/Land")
            .callback_number("123")
            .user_name("x".repeat(300)),
        NOW,
    );
    assert!(err.violations().len() >= 4, "{err}");
}

// ---- against the fake ----

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use genesys_cloud::callbacks::{
    sync_calendar, CallbackEvent, CallbackEvents, EventSource, StreamOptions, WebhookCalendar,
    WhenFull,
};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::{Client, ErrorKind, Method};

const LIVE_QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";

fn soon() -> CallbackReservation {
    let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let start =
        (jiff::Zoned::now().with_time_zone(zone) + jiff::SignedDuration::from_hours(1)).datetime();
    CallbackReservation::builder(LIVE_QUEUE, "America/New_York")
        .callback_number("+14155550199")
        .slot(start, start + jiff::SignedDuration::from_mins(15))
        .channels(Channel::Voice, Some(Channel::Sms))
        .build()
        .unwrap()
}

fn fast_stream() -> StreamOptions {
    StreamOptions {
        heartbeat_timeout: Duration::from_secs(5),
        reconnect_wait: Duration::from_millis(300),
        max_reconnect_wait: Duration::from_millis(600),
        ..StreamOptions::default()
    }
}

async fn next(events: &mut CallbackEvents) -> CallbackEvent {
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream is open")
        .expect("no stream error")
}

/// Waits until the fake has a live connection (the stream subscribed and connected).
async fn connected(fake: &FakeGenesys, count: usize) {
    for _ in 0..200 {
        if fake.notification_connections() >= 1 && fake.notification_channels().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the stream did not connect");
}

#[tokio::test]
async fn create_reschedule_get_disconnect_and_list() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let created = callbacks.create(&soon()).await.unwrap();
    assert_eq!(created.callback_identifiers[0].0, "ACD");
    let sent = fake.requests_to(Method::POST, "/api/v2/conversations/callbacks");
    assert_eq!(sent[0].json()["callbackNumbers"][0], "+14155550199");

    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(30);
    callbacks
        .reschedule(&created.conversation_id, later)
        .await
        .unwrap();
    let conversation = callbacks.get(&created.conversation_id).await.unwrap();
    let participant = conversation["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "acd")
        .unwrap()
        .clone();
    let stored: jiff::Timestamp = participant["callbackScheduledTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(stored.as_millisecond(), later.as_millisecond());
    let err = callbacks
        .reschedule(
            &created.conversation_id,
            jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1),
        )
        .await
        .unwrap_err();
    assert!(err
        .validation()
        .is_some_and(|v| v.has("callbackScheduledTime", "in_future")));

    callbacks
        .disconnect(&created.conversation_id)
        .await
        .unwrap();
    for _ in 0..29 {
        callbacks.create(&soon()).await.unwrap();
    }
    let all: Vec<_> = callbacks.list().try_collect().await.unwrap();
    assert_eq!(all.len(), 30);
    let pages = fake
        .requests()
        .iter()
        .filter(|r| r.method == Method::GET && r.path == "/api/v2/conversations/callbacks")
        .count();
    assert_eq!(pages, 2, "25 + 5");
    let stats = callbacks.stats();
    assert_eq!(
        (stats.processed, stats.succeeded, stats.failed),
        (30, 30, 0)
    );
}

#[tokio::test]
async fn rate_limited_create_is_retried() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let callbacks = fake
        .client_builder()
        .clock(clock.clone())
        .build()
        .unwrap()
        .callbacks();
    fake.inject_on(
        Method::POST,
        "/api/v2/conversations/callbacks",
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        },
        1,
    );
    callbacks.create(&soon()).await.unwrap();
    assert_eq!(
        fake.requests_to(Method::POST, "/api/v2/conversations/callbacks")
            .len(),
        2
    );
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(5)],
        "the tutorial's fixed 5 s sleep is now Retry-After"
    );
}

#[tokio::test]
async fn the_concurrency_limit_rejects_or_waits() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    client.auth().token().await.unwrap();
    assert!(client
        .callbacks()
        .with_concurrency_limit(0, WhenFull::Wait)
        .is_err());
    assert!(client
        .callbacks()
        .with_concurrency_limit(51, WhenFull::Wait)
        .is_err());

    let reject = client
        .callbacks()
        .with_concurrency_limit(1, WhenFull::Reject)
        .unwrap();
    fake.inject_on(
        Method::POST,
        "/api/v2/conversations/callbacks",
        Fault::Delay(Duration::from_millis(400)),
        1,
    );
    let reservation = soon();
    let (first, second) = tokio::join!(reject.create(&reservation), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        reject.create(&soon()).await
    });
    first.unwrap();
    assert!(
        matches!(&second, Err(e) if e.kind() == ErrorKind::LocalLimit && e.to_string().contains("limit of 1 ")),
        "{second:?}"
    );

    let wait = client
        .callbacks()
        .with_concurrency_limit(1, WhenFull::Wait)
        .unwrap();
    fake.inject_on(
        Method::POST,
        "/api/v2/conversations/callbacks",
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let started = std::time::Instant::now();
    let reservation = soon();
    let (a, b) = tokio::join!(wait.create(&reservation), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        wait.create(&soon()).await
    });
    a.unwrap();
    b.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the second waited for the first"
    );
}

#[tokio::test]
async fn the_stream_receives_create_and_reschedule_events() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast_stream()).unwrap();
    connected(&fake, 1).await;
    let created = callbacks.create(&soon()).await.unwrap();
    let event = next(&mut events).await;
    assert_eq!(event.source, EventSource::Live);
    assert_eq!(event.conversation_id, created.conversation_id);
    assert_eq!(event.queue_id.as_deref(), Some(LIVE_QUEUE));
    assert_eq!(event.state.as_deref(), Some("scheduled"));
    assert_eq!(
        event.topic,
        format!("v2.routing.queues.{LIVE_QUEUE}.conversations.callbacks")
    );

    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(45);
    callbacks
        .reschedule(&created.conversation_id, later)
        .await
        .unwrap();
    let moved = next(&mut events).await;
    assert_ne!(moved.scheduled_time, event.scheduled_time);
    let subscriptions = fake.notification_channels();
    assert_eq!(subscriptions[0]["subscriptions"][0], event.topic);
}

#[tokio::test]
async fn a_change_missed_while_disconnected_is_reconciled() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast_stream()).unwrap();
    connected(&fake, 1).await;
    let created = callbacks.create(&soon()).await.unwrap();
    next(&mut events).await;

    fake.drop_notification_connections();
    callbacks
        .disconnect(&created.conversation_id)
        .await
        .unwrap(); // nobody is listening
    let event = next(&mut events).await;
    assert_eq!(event.source, EventSource::Reconciled);
    assert_eq!(event.conversation_id, created.conversation_id);
    assert_eq!(event.state.as_deref(), Some("disconnected"));
    assert!(
        client
            .metrics_snapshot()
            .counter("callbacks.stream_reconnects")
            >= 1
    );
}

#[tokio::test]
async fn an_expired_channel_is_replaced_without_losing_events() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let mut events = callbacks.events_with(&[LIVE_QUEUE], fast_stream()).unwrap();
    connected(&fake, 1).await;
    let created = callbacks.create(&soon()).await.unwrap();
    next(&mut events).await;

    fake.expire_notification_channels();
    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(20);
    callbacks
        .reschedule(&created.conversation_id, later)
        .await
        .unwrap();
    let event = next(&mut events).await;
    assert_eq!(
        event.source,
        EventSource::Reconciled,
        "the reschedule happened between channels"
    );
    connected(&fake, 2).await;
    let second = callbacks.create(&soon()).await.unwrap();
    let live = next(&mut events).await;
    assert_eq!(
        (live.source, live.conversation_id),
        (EventSource::Live, second.conversation_id)
    );
}

#[tokio::test]
async fn missed_heartbeats_trigger_a_reconnect() {
    let fake = FakeGenesys::start().await;
    fake.suppress_heartbeats(true);
    let client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let options = StreamOptions {
        heartbeat_timeout: Duration::from_millis(400),
        ..fast_stream()
    };
    let mut events = callbacks.events_with(&[LIVE_QUEUE], options).unwrap();
    connected(&fake, 1).await;
    connected(&fake, 2).await; // a second channel: the first socket was given up
    assert!(
        client
            .metrics_snapshot()
            .counter("callbacks.stream_reconnects")
            >= 1
    );

    fake.suppress_heartbeats(false);
    fake.set_heartbeat_interval(Duration::from_millis(100));
    let created = callbacks.create(&soon()).await.unwrap();
    let mut got = next(&mut events).await;
    while got.conversation_id != created.conversation_id {
        got = next(&mut events).await;
    }
    assert_eq!(got.state.as_deref(), Some("scheduled"));
}

#[tokio::test]
async fn calendar_deliveries_are_signed_and_deduplicated() {
    const SECRET: &str = "calendar-shared-secret-42";
    let fake = FakeGenesys::start().await;
    let inbox = fake.webhook_receiver("/external/calendar", SECRET);
    let client: Client = fake.client().unwrap();
    let callbacks = client.callbacks();
    let events = callbacks.events_with(&[LIVE_QUEUE], fast_stream()).unwrap();
    connected(&fake, 1).await;
    let calendar = WebhookCalendar::new(
        client.clone(),
        &format!("{}/external/calendar", fake.uri()),
        SECRET,
    )
    .unwrap();

    let created = callbacks.create(&soon()).await.unwrap();
    fake.publish_callback_event(&created.conversation_id); // the platform repeats itself
    callbacks
        .disconnect(&created.conversation_id)
        .await
        .unwrap();
    let delivered = sync_calendar(events.take(3), &calendar).await.unwrap();
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
