//! The notifications layer against the fake, which enforces the platform's channel rules
//! (20 per OAuth client, 1,000 topics per channel, one socket per channel): channels
//! shared by subscriptions, topics spread over channels, gaps and lags announced, and the
//! callback event stream as one consumer beside another.

use std::time::Duration;

use futures::StreamExt;
use genesys_cloud::callbacks::{CallbackReservation, StreamItem};
use genesys_cloud::notifications::{
    NotificationItem, SubscribeOptions, Subscription, MAX_TOPICS_PER_CHANNEL,
};
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::ErrorKind;
use serde_json::json;

fn presence(user: &str) -> String {
    format!("v2.users.{user}.presence")
}

fn user() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn next_item(sub: &mut Subscription) -> NotificationItem {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an item within 10 s")
        .expect("the subscription is open")
        .expect("no error")
}

/// The next notification's topic, skipping notices.
async fn next_topic(sub: &mut Subscription) -> String {
    loop {
        if let NotificationItem::Event(n) = next_item(sub).await {
            return n.topic().to_owned();
        }
    }
}

/// Waits (polling, at most 10 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn channel_ids(fake: &FakeGenesys) -> Vec<String> {
    fake.notification_channels()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

fn quick() -> SubscribeOptions {
    SubscribeOptions::builder()
        .reconnect_wait(Duration::from_millis(20))
        .max_reconnect_wait(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[tokio::test]
async fn two_subscriptions_share_a_channel_and_each_gets_its_topics() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let (ada, bob) = (user(), user());
    let mut first = client
        .notifications()
        .subscribe([presence(&ada)])
        .await
        .unwrap();
    let mut second = client
        .notifications()
        .subscribe([presence(&ada), presence(&bob)])
        .await
        .unwrap();
    assert_eq!(
        fake.notification_channels_created(),
        1,
        "one channel for both"
    );
    assert_eq!(client.notifications().channels(), 1);
    let ids = channel_ids(&fake);
    let mut topics = fake.notification_topics(&ids[0]).unwrap();
    topics.sort();
    let mut want = vec![presence(&ada), presence(&bob)];
    want.sort();
    assert_eq!(topics, want, "each topic subscribed once");

    fake.publish_notification(
        &presence(&ada),
        &json!({"presenceDefinition": {"systemPresence": "Available"}}),
    );
    fake.publish_notification(
        &presence(&bob),
        &json!({"presenceDefinition": {"systemPresence": "Busy"}}),
    );
    assert_eq!(next_topic(&mut first).await, presence(&ada));
    assert_eq!(next_topic(&mut second).await, presence(&ada));
    assert_eq!(next_topic(&mut second).await, presence(&bob));
    if let Some(other) = next_or_none(&mut first).await {
        panic!("the first subscription gets only its topic: {other:?}");
    }

    // The first leaves: the channel stays, with the second's topics.
    drop(first);
    eventually("ada stays subscribed for the second", || {
        fake.notification_topics(&ids[0])
            .is_some_and(|t| t.len() == 2)
    })
    .await;
    fake.publish_notification(&presence(&bob), &json!({}));
    assert_eq!(next_topic(&mut second).await, presence(&bob));
}

/// The next item within 200 ms, if any: for asserting that nothing more came.
async fn next_or_none(sub: &mut Subscription) -> Option<NotificationItem> {
    tokio::time::timeout(Duration::from_millis(200), sub.next())
        .await
        .ok()
        .flatten()
        .map(|item| item.expect("no error"))
}

#[tokio::test]
async fn topics_beyond_a_thousand_go_on_a_second_channel() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let users: Vec<String> = (0..1_500).map(|_| user()).collect();
    let mut sub = client
        .notifications()
        .subscribe(users.iter().map(|u| presence(u)))
        .await
        .expect("the fake refuses more than 1,000 topics on one channel: they were spread");
    let ids = channel_ids(&fake);
    assert_eq!(ids.len(), 2);
    let mut sizes: Vec<usize> = ids
        .iter()
        .map(|id| fake.notification_topics(id).unwrap().len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [500, MAX_TOPICS_PER_CHANNEL]);
    // A topic of each channel is delivered.
    for user in [&users[0], &users[1_499]] {
        fake.publish_notification(&presence(user), &json!({}));
        assert_eq!(next_topic(&mut sub).await, presence(user));
    }
}

#[tokio::test]
async fn more_channels_than_the_platform_allows_are_refused_before_any_is_made() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let topics: Vec<String> = (0..20 * MAX_TOPICS_PER_CHANNEL + 1)
        .map(|_| presence(&user()))
        .collect();
    let err = client.notifications().subscribe(topics).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LocalLimit, "{err}");
    assert!(err.to_string().contains("20"), "{err}");
    assert_eq!(fake.notification_channels_created(), 0);
}

#[tokio::test]
async fn the_last_subscriber_leaving_empties_the_channel_and_the_next_subscription_reuses_it() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let sub = client
        .notifications()
        .subscribe([presence(&user())])
        .await
        .unwrap();
    let id = channel_ids(&fake).remove(0);
    drop(sub);
    eventually("the channel is emptied and its socket closed", || {
        fake.notification_topics(&id).is_some_and(|t| t.is_empty())
            && fake.notification_connections() == 0
    })
    .await;
    eventually("the channel retired", || {
        client.notifications().channels() == 0
    })
    .await;
    let again = user();
    let mut sub = client
        .notifications()
        .subscribe([presence(&again)])
        .await
        .unwrap();
    assert_eq!(
        fake.notification_channels_created(),
        1,
        "the emptied channel was reused, not a new one made"
    );
    assert_eq!(fake.notification_topics(&id).unwrap(), [presence(&again)]);
    fake.publish_notification(&presence(&again), &json!({}));
    assert_eq!(next_topic(&mut sub).await, presence(&again));
}

#[tokio::test]
async fn a_dropped_socket_is_a_gap_and_the_channel_is_kept() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let ada = user();
    let mut sub = client
        .notifications()
        .subscribe_with([presence(&ada)], quick())
        .await
        .unwrap();
    fake.drop_notification_connections();
    let gap = match next_item(&mut sub).await {
        NotificationItem::Gap(gap) => gap,
        other => panic!("a gap first: {other:?}"),
    };
    assert!(!gap.new_channel);
    assert!(gap.reconnected_at >= gap.down_since);
    assert_eq!(fake.notification_channels_created(), 1);
    let status = sub.status();
    assert!(
        status.connected && status.disconnects == 1 && status.reconnects == 1,
        "{status:?}"
    );
    fake.publish_notification(&presence(&ada), &json!({}));
    assert_eq!(next_topic(&mut sub).await, presence(&ada));
}

#[tokio::test]
async fn a_channel_the_platform_dropped_is_made_again_with_the_same_topics() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let (ada, bob) = (user(), user());
    let mut first = client
        .notifications()
        .subscribe_with([presence(&ada)], quick())
        .await
        .unwrap();
    let mut second = client
        .notifications()
        .subscribe_with([presence(&bob)], quick())
        .await
        .unwrap();
    fake.expire_notification_channels();
    fake.drop_notification_connections();
    for sub in [&mut first, &mut second] {
        match next_item(sub).await {
            NotificationItem::Gap(gap) => assert!(gap.new_channel, "{gap:?}"),
            other => panic!("a gap first: {other:?}"),
        }
    }
    assert_eq!(fake.notification_channels_created(), 2);
    let live: Vec<Vec<String>> = channel_ids(&fake)
        .iter()
        .filter_map(|id| fake.notification_topics(id))
        .collect();
    assert_eq!(live.len(), 1, "the expired channel is gone, one new one");
    let mut topics = live[0].clone();
    topics.sort();
    let mut want = vec![presence(&ada), presence(&bob)];
    want.sort();
    assert_eq!(
        topics, want,
        "the new channel carries every subscriber's topics"
    );
}

#[tokio::test]
async fn a_slow_consumer_gets_a_lagged_notice_where_notifications_went_missing() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let ada = user();
    let options = SubscribeOptions::builder().buffer(2).build().unwrap();
    let mut sub = client
        .notifications()
        .subscribe_with([presence(&ada)], options)
        .await
        .unwrap();
    for n in 0..5 {
        fake.publish_notification(&presence(&ada), &json!({"n": n}));
    }
    eventually("three dropped", || sub.dropped() == 3).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(match next_item(&mut sub).await {
            NotificationItem::Event(n) => n.decode::<serde_json::Value>().unwrap()["n"].to_string(),
            NotificationItem::Lagged(lagged) => format!("lagged {}", lagged.dropped),
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(seen, ["0", "1", "lagged 3"]);
}

#[tokio::test]
async fn a_refused_topic_fails_its_subscription_and_no_other() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let ada = user();
    let mut live = client
        .notifications()
        .subscribe([presence(&ada)])
        .await
        .unwrap();
    let refused = client
        .notifications()
        .subscribe([format!("v2.nothing.{}.here", user())])
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Conflict, "{refused}");
    assert!(
        refused.to_string().contains("v2.nothing.{id}.here"),
        "{refused}"
    );
    fake.publish_notification(&presence(&ada), &json!({}));
    assert_eq!(next_topic(&mut live).await, presence(&ada));
    let id = channel_ids(&fake).remove(0);
    eventually("the refused topic is not left on the channel", || {
        fake.notification_topics(&id)
            .is_some_and(|t| t == [presence(&ada)])
    })
    .await;
}

#[tokio::test]
async fn malformed_topics_are_refused_before_anything_is_sent() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let err = client
        .notifications()
        .subscribe(["v2.users..presence", "v2 users"])
        .await
        .unwrap_err();
    let violations = err.validation().expect("refused before sending");
    assert!(violations.has("topics[0]", "topic") && violations.has("topics[1]", "topic"));
    assert_eq!(fake.notification_channels_created(), 0);
}

#[tokio::test]
async fn the_callback_stream_is_one_consumer_beside_another() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let queue = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    let topic = format!("v2.routing.queues.{queue}.conversations.callbacks");
    let mut raw = client
        .notifications()
        .subscribe([topic.clone()])
        .await
        .unwrap();
    let callbacks = client.callbacks();
    let mut events = callbacks.events(&[queue]).await.unwrap();
    assert_eq!(
        fake.notification_channels_created(),
        1,
        "the callback stream shares the client's channel"
    );
    let zone = genesys_cloud::jiff::tz::TimeZone::get("America/New_York").unwrap();
    let when = genesys_cloud::jiff::Zoned::now().with_time_zone(zone.clone())
        + genesys_cloud::jiff::SignedDuration::from_hours(2);
    let reservation = CallbackReservation::builder(queue, zone)
        .callback_number("+14155550199")
        .at(when.datetime())
        .build()
        .unwrap();
    let created = callbacks.create(&reservation).await.unwrap();
    assert_eq!(next_topic(&mut raw).await, topic);
    let event = loop {
        match tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            StreamItem::Event(event) => break event,
            _ => continue,
        }
    };
    assert_eq!(event.conversation_id, created.conversation_id());
    drop(events);
    // The raw subscription still receives the topic after the callback stream left.
    callbacks
        .reschedule(
            created.conversation_id(),
            reservation.scheduled_time() + genesys_cloud::jiff::SignedDuration::from_mins(30),
        )
        .await
        .unwrap();
    assert_eq!(next_topic(&mut raw).await, topic);
}
