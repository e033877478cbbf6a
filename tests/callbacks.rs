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
