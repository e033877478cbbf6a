//! Callbacks over REST (feature `callbacks`): reservations (validation, calls,
//! concurrency limit) and the queue's time zone. The event stream is in
//! `callback_events.rs`.

use genesys_cloud::callbacks::{CallbackReservation, CallbackReservationBuilder, Channel, Routing};
use genesys_cloud::jiff::civil::{date, time, DateTime, Weekday};
use genesys_cloud::jiff::tz::TimeZone;
use genesys_cloud::jiff::Timestamp;
use genesys_cloud::ValidationError;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

const QUEUE: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> DateTime {
    date(y, m, d).at(h, min, 0, 0)
}

fn tutorial() -> CallbackReservationBuilder {
    CallbackReservation::builder(QUEUE, zone("America/New_York"))
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
    let r = CallbackReservation::builder(QUEUE, zone("Europe/London"))
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
        CallbackReservation::builder(QUEUE, zone("America/New_York"))
            .callback_number("(415) 555-0199")
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("callbackNumbers[0]", "phone_number"), "{err}");
    assert!(err.to_string().contains("no country"), "{err}");
    let err = refused(tutorial().country("XX"), NOW);
    assert!(err.has("countryCode", "country"), "{err}");
    let err = refused(
        CallbackReservation::builder(QUEUE, zone("America/New_York"))
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("callbackNumbers", "required"), "{err}");
}

#[test]
fn one_time_is_enough_and_is_checked_like_a_slot() {
    let one_time = |t: DateTime| {
        CallbackReservation::builder(QUEUE, zone("America/New_York"))
            .callback_number("+14155550199")
            .at(t)
    };
    let r = one_time(at(2026, 6, 15, 14, 0)).build_at(ts(NOW)).unwrap();
    assert_eq!(
        r.command()["callbackScheduledTime"],
        "2026-06-15T18:00:00.000Z"
    );
    let err = refused(one_time(at(2026, 6, 15, 12, 0)), NOW);
    assert!(err.has("slots[0]", "in_future"), "{err}");
    let hours =
        |t| one_time(t).operating_hours(Weekday::Monday, time(9, 0, 0, 0), time(17, 0, 0, 0));
    assert!(hours(at(2026, 6, 15, 16, 30)).build_at(ts(NOW)).is_ok());
    let err = refused(hours(at(2026, 6, 15, 17, 30)), NOW);
    assert!(err.has("slots[0]", "operating_hours"), "{err}");
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
    let builder = CallbackReservation::builder(QUEUE, zone("Asia/Tokyo"))
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
        CallbackReservation::builder(QUEUE, zone("America/New_York"))
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
fn queue_channels_and_routing_are_checked() {
    let err = refused(
        CallbackReservation::builder("queue_12345", zone("Europe/Paris"))
            .callback_number("+14155550199")
            .slot(at(2026, 6, 16, 10, 0), at(2026, 6, 16, 10, 5)),
        NOW,
    );
    assert!(err.has("queueId", "uuid"), "{err}");
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
        CallbackReservation::builder("q", zone("America/New_York"))
            .callback_number("123")
            .user_name("x".repeat(300)),
        NOW,
    );
    assert!(err.violations().len() >= 4, "{err}");
}

// ---- against the fake ----

use std::time::Duration;

use futures::{FutureExt, TryStreamExt};
use genesys_cloud::callbacks::{CallbackIdentifierType, CallbackState, WhenFull};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::{ErrorKind, Method};

const LIVE_QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const CALLBACKS: &str = "/api/v2/conversations/callbacks";

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

#[tokio::test]
async fn create_reschedule_get_disconnect_and_list() {
    let fake = FakeGenesys::start().await;
    let callbacks = fake.client().unwrap().callbacks();
    let created = callbacks.create(&soon()).await.unwrap();
    assert_eq!(
        created.callback_identifiers[0].kind,
        Some(CallbackIdentifierType::Acd)
    );
    assert!(created.identifier(&CallbackIdentifierType::Acd).is_some());
    let sent = fake.requests_to(Method::POST, CALLBACKS);
    assert_eq!(sent[0].json()["callbackNumbers"][0], "+14155550199");

    let later = soon().scheduled_time() + jiff::SignedDuration::from_mins(30);
    let moved = callbacks
        .reschedule(created.conversation_id(), later)
        .await
        .unwrap();
    assert_eq!(moved.conversation_id(), created.conversation_id());
    let conversation = callbacks.get(created.conversation_id()).await.unwrap();
    let participant = conversation.callback_participant().unwrap();
    assert_eq!(participant.state, Some(CallbackState::Scheduled));
    assert_eq!(
        participant.queue.as_ref().unwrap().id.as_deref(),
        Some(LIVE_QUEUE)
    );
    assert_eq!(
        participant
            .callback_scheduled_time
            .unwrap()
            .as_millisecond(),
        later.as_millisecond()
    );
    let err = callbacks
        .reschedule(
            created.conversation_id(),
            jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1),
        )
        .await
        .unwrap_err();
    assert!(err
        .validation()
        .is_some_and(|v| v.has("callbackScheduledTime", "in_future")));

    let ended = callbacks
        .disconnect(created.conversation_id())
        .await
        .unwrap();
    assert_eq!(ended.id.as_deref(), Some(created.conversation_id()));
    assert_eq!(ended.state, Some(CallbackState::Disconnected));
    let media = &ended.participants[1].callbacks[0];
    assert_eq!(media.state, Some(CallbackState::Disconnected));
    for _ in 0..29 {
        callbacks.create(&soon()).await.unwrap();
    }
    // The listing is the logged-in user's: under client credentials, nobody's.
    let listed: Vec<_> = callbacks.list().try_collect().await.unwrap();
    assert!(listed.is_empty());
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
        CALLBACKS,
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        },
        1,
    );
    callbacks.create(&soon()).await.unwrap();
    assert_eq!(fake.requests_to(Method::POST, CALLBACKS).len(), 2);
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(5)],
        "the tutorial's fixed 5 s sleep is now Retry-After"
    );
}

/// One thread (the default test runtime): a spawned task runs only while this one waits,
/// so what this task sees between two of its own waits cannot race another task.
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
    let posts = || fake.requests_to(Method::POST, CALLBACKS).len();
    let attempts = || client.metrics_snapshot().requests.attempts;

    // Reject: while a create is in flight (its permit taken, its request sent), another
    // on the same queue is refused at once.
    let reject = client
        .callbacks()
        .with_concurrency_limit(1, WhenFull::Reject)
        .unwrap();
    let reservation = soon();
    let mut first = std::pin::pin!(reject.create(&reservation));
    assert!(first.as_mut().now_or_never().is_none(), "the first is sent");
    let second = reject.create(&soon()).await;
    assert!(
        matches!(&second, Err(e) if e.kind() == ErrorKind::LocalLimit && e.to_string().contains("limit of 1 ")),
        "{second:?}"
    );
    first.await.unwrap();
    reject
        .create(&soon())
        .await
        .expect("the permit is back once the first is done");

    // Wait: the second create sends nothing until the first is answered.
    let wait = client
        .callbacks()
        .with_concurrency_limit(1, WhenFull::Wait)
        .unwrap();
    fake.inject_on(
        Method::POST,
        CALLBACKS,
        Fault::Delay(Duration::from_millis(300)),
        1,
    );
    let posts_before = posts();
    let reservation = soon();
    let mut first = std::pin::pin!(wait.create(&reservation));
    assert!(first.as_mut().now_or_never().is_none(), "the first is sent");
    let attempts_with_first = attempts();
    let second = tokio::spawn({
        let wait = wait.clone();
        async move { wait.create(&soon()).await }
    });
    // While this task waits for the first answer, the second task runs (and must wait).
    first.await.unwrap();
    // The first has just released the permit, in this task's turn: the second has not
    // run since, so whatever it sent, it sent while the first was in flight.
    assert_eq!(
        (attempts(), posts()),
        (attempts_with_first, posts_before + 1),
        "the second create sent nothing while the first was in flight"
    );
    second
        .await
        .unwrap()
        .expect("the second, once the first is done");
    assert_eq!(posts(), posts_before + 2);
}

// ---- the queue's time zone ----

#[test]
fn time_zones_come_from_the_database_and_failures_say_what_to_do() {
    use genesys_cloud::callbacks::{time_zone, time_zone_in};
    use genesys_cloud::jiff::tz::TimeZoneDatabase;

    let ny = time_zone("America/New_York").expect("tzdata installed, or tzdb-bundled");
    assert_eq!(ny.iana_name(), Some("America/New_York"));

    let err = time_zone("America/Gotham").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.validation().unwrap().has("timeZone", "time_zone"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("Gotham"),
        "no value in errors: {err}"
    );

    // A machine without tzdata, and without the bundled copy.
    let err = time_zone_in(&TimeZoneDatabase::none(), "America/New_York").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(
        err.to_string()
            .contains("install tzdata or enable feature tzdb-bundled"),
        "{err}"
    );
}
