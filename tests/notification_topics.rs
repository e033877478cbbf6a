//! Typed notification bodies: the platform's topic table (`genesys_cloud::api::topics`),
//! `Notification::model` and `Notification::body`, over real subscriptions.
//!
//! The callback topic's events come from the fake (a callback created through
//! `client.callbacks()`); the presence event from a websocket of this test's own, which
//! the fake's channel endpoints point the client to (mocks mounted on `fake.server()`
//! answer before the fake's own endpoints).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use genesys_cloud::api::models::{
    PresenceEventUserPresence, QueueConversationCallbackEventTopicCallbackConversation as Callback,
    QueueConversationCallbackEventTopicCallbackMediaParticipantState as ParticipantState,
};
use genesys_cloud::api::topics;
use genesys_cloud::api::TopicBody;
use genesys_cloud::callbacks::{CallbackReservation, Channel};
use genesys_cloud::jiff::tz::TimeZone;
use genesys_cloud::notifications::{Notification, NotificationItem, Subscription};
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::ErrorKind;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const QUEUE: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const USER: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";

fn callback_topic() -> String {
    format!("v2.routing.queues.{QUEUE}.conversations.callbacks")
}

fn soon() -> CallbackReservation {
    let ny = TimeZone::get("America/New_York").unwrap();
    let start = (genesys_cloud::jiff::Zoned::now().with_time_zone(ny.clone())
        + genesys_cloud::jiff::SignedDuration::from_hours(1))
    .datetime();
    CallbackReservation::builder(QUEUE, ny)
        .callback_number("+14155550199")
        .user_name("Jordan Lee")
        .at(start)
        .channels(Channel::Voice, None)
        .build()
        .unwrap()
}

/// The next notification of `sub`, past any notices (10 s at most: a hang fails).
async fn next_event(sub: &mut Subscription) -> Notification {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("a notification within 10 s")
            .expect("the subscription is open")
            .expect("no subscription error");
        if let NotificationItem::Event(n) = item {
            return n;
        }
    }
}

#[tokio::test]
async fn a_callback_event_decodes_into_its_topic_model() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let mut events = client
        .notifications()
        .subscribe([callback_topic()])
        .await
        .unwrap();
    let created = client.callbacks().create(&soon()).await.unwrap();
    let conversation = created.conversation.id.clone().unwrap();

    let n = next_event(&mut events).await;
    assert_eq!(n.topic(), callback_topic());
    assert_eq!(
        n.model(),
        Some("QueueConversationCallbackEventTopicCallbackConversation")
    );
    let entry = n.topic_entry().unwrap();
    assert_eq!(
        entry.pattern,
        "v2.routing.queues.{id}.conversations.callbacks"
    );
    assert_eq!(entry.feature, "topics-routing");

    let callback: Callback = n.body().unwrap();
    assert_eq!(callback.id.as_deref(), Some(conversation.as_str()));
    let participants = callback.participants.as_deref().unwrap();
    assert_eq!(participants.len(), 2);
    let acd = participants
        .iter()
        .find(|p| p.purpose.as_deref() == Some("acd"))
        .unwrap();
    assert_eq!(acd.state, Some(ParticipantState::Scheduled));
    assert_eq!(
        acd.queue.as_ref().and_then(|q| q.id.as_deref()),
        Some(QUEUE)
    );
    assert_eq!(
        acd.callback_numbers.as_deref(),
        Some(&["+14155550199".to_owned()][..])
    );
    assert_eq!(acd.callback_user_name.as_deref(), Some("Jordan Lee"));

    // JSON stays available, and says the same.
    let raw: Value = n.decode().unwrap();
    assert_eq!(raw["id"], conversation);
    assert_eq!(raw["participants"][1]["queue"]["id"], QUEUE);
}

#[tokio::test]
async fn a_body_asked_for_as_another_topic_model_is_refused_with_the_right_model() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let mut events = client
        .notifications()
        .subscribe([callback_topic()])
        .await
        .unwrap();
    client.callbacks().create(&soon()).await.unwrap();
    let n = next_event(&mut events).await;

    let err = n.body::<PresenceEventUserPresence>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(
        err.endpoint(),
        Some("notification v2.routing.queues.{id}.conversations.callbacks")
    );
    let text = err.to_string();
    for expected in [
        "its body is a `QueueConversationCallbackEventTopicCallbackConversation`",
        "not a `PresenceEventUserPresence` (the body of `v2.users.{id}.presence`)",
        "body::<QueueConversationCallbackEventTopicCallbackConversation>()",
        "feature `topics-routing`",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from: {text}");
    }
    assert!(
        !text.contains(QUEUE),
        "the queue id must not be in errors: {text}"
    );
}

#[tokio::test]
async fn a_topic_without_a_model_has_none_and_reads_as_json() {
    // A topic the platform's table has no model for (the fake accepts only listed topics:
    // this test's socket plays the channel).
    let topic = format!("v2.unlisted.{USER}.things");
    let body = json!({ "id": USER, "count": 3 });
    let frame = json!({ "topicName": topic, "version": "1", "eventBody": body });
    let fake = FakeGenesys::start().await;
    let send = mocked_channel(&fake, &topic, frame.to_string()).await;
    let client = fake.client().unwrap();
    let mut events = client
        .notifications()
        .subscribe([topic.clone()])
        .await
        .unwrap();
    send.send(()).unwrap();

    let n = next_event(&mut events).await;
    assert_eq!(n.topic(), topic);
    assert_eq!(n.model(), None);
    assert!(n.topic_entry().is_none());
    let err = n.body::<Callback>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let text = err.to_string();
    assert!(
        text.contains("the platform's topic table has no model for this topic"),
        "{text}"
    );
    assert!(!text.contains(USER), "no ids in errors: {text}");
    let raw: Value = n.decode().unwrap();
    assert_eq!(raw, body);
}

/// Points the fake's channel endpoints at a websocket of this test's own (mocks mounted
/// on `fake.server()` answer before the fake's own endpoints), which sends `frame` once
/// told through the returned sender.
async fn mocked_channel(fake: &FakeGenesys, topic: &str, frame: String) -> oneshot::Sender<()> {
    let (connect_uri, send) = one_frame_socket(frame).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/notifications/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "mocked-channel",
            "connectUri": connect_uri,
            "expires": (genesys_cloud::jiff::Timestamp::now()
                + genesys_cloud::jiff::SignedDuration::from_hours(24))
            .to_string(),
        })))
        .mount(fake.server())
        .await;
    Mock::given(method("PUT"))
        .and(path(
            "/api/v2/notifications/channels/mocked-channel/subscriptions",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "entities": [{ "id": topic, "state": "Permitted" }],
        })))
        .mount(fake.server())
        .await;
    send
}

/// A websocket server that accepts one connection and, once told, sends `frame` on it;
/// then reads (and drops) what the client sends until it closes.
async fn one_frame_socket(frame: String) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("ws://{}/presence-channel", listener.local_addr().unwrap());
    let (go, wait) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let mut wait = Some(wait);
        loop {
            tokio::select! {
                Ok(()) = async { wait.as_mut().unwrap().await }, if wait.is_some() => {
                    wait = None;
                    if ws.send(Message::text(frame.clone())).await.is_err() {
                        return;
                    }
                }
                incoming = ws.next() => {
                    if !matches!(incoming, Some(Ok(_))) {
                        return;
                    }
                }
            }
        }
    });
    (uri, go)
}

#[tokio::test]
async fn a_presence_event_decodes_into_its_topic_model() {
    let topic = format!("v2.users.{USER}.presence");
    let body = json!({
        "source": "PURECLOUD",
        "presenceDefinition": { "id": "6a3af858-942f-489d-9700-5f9bcdcdae9b", "systemPresence": "Available" },
        "primary": true,
        "message": "",
        "modifiedDate": "2026-06-15T17:00:00.000Z",
    });
    let frame = json!({
        "topicName": topic,
        "version": "2",
        "eventBody": body,
        "metadata": { "CorrelationId": "c0ffee00-0000-4000-8000-000000000001" },
    });
    let fake = FakeGenesys::start().await;
    let send = mocked_channel(&fake, &topic, frame.to_string()).await;

    let client = fake.client().unwrap();
    let mut presence = client
        .notifications()
        .subscribe([topic.clone()])
        .await
        .unwrap();
    send.send(()).unwrap();
    let n = next_event(&mut presence).await;
    assert_eq!(n.topic(), topic);
    assert_eq!(n.model(), Some(PresenceEventUserPresence::MODEL));
    assert_eq!(n.topic_entry().unwrap().feature, "topics-users");
    assert_eq!(
        n.correlation_id(),
        Some("c0ffee00-0000-4000-8000-000000000001")
    );

    let p: PresenceEventUserPresence = n.body().unwrap();
    assert_eq!(p.source.as_deref(), Some("PURECLOUD"));
    assert_eq!(p.primary, Some(true));
    let definition = p.presence_definition.unwrap();
    assert_eq!(definition.system_presence.as_deref(), Some("Available"));
    assert_eq!(p.modified_date.as_deref(), Some("2026-06-15T17:00:00.000Z"));

    let err = n.body::<Callback>().unwrap_err();
    assert!(
        err.to_string()
            .contains("its body is a `PresenceEventUserPresence`"),
        "{err}"
    );
    let raw: Value = n.decode().unwrap();
    assert_eq!(raw, body);
}

#[test]
fn the_table_maps_concrete_topics_to_models() {
    assert_eq!(topics::COUNT, 242);
    assert_eq!(topics::all().count(), topics::COUNT);
    assert_eq!(
        topics::model_for(&format!("v2.users.{USER}.presence")),
        Some("PresenceEventUserPresence")
    );
    // Literals ignore ASCII case; `{id}` is one non-empty segment.
    assert_eq!(
        topics::model_for(&format!("V2.Users.{USER}.PRESENCE")),
        Some("PresenceEventUserPresence")
    );
    assert_eq!(topics::model_for("v2.users..presence"), None);
    assert_eq!(
        topics::model_for(&format!("v2.users.{USER}.presence.x")),
        None
    );
    assert_eq!(topics::model_for("channel.metadata"), None);
    // Combined subscriptions are not topics: their events arrive under each topic.
    assert_eq!(
        topics::model_for(&format!("v2.users.{USER}?presence&routingStatus")),
        None
    );
    // The more literal pattern wins where two overlap.
    let closing = topics::find("v2.system.token_revoked.c1").unwrap();
    assert_eq!(closing.pattern, "v2.system.token_revoked.{id}");
    assert_eq!(
        topics::find("v2.system.other.c1").unwrap().pattern,
        "v2.system.{id}.{id}"
    );
    assert_eq!(
        topics::find("v2.telephony.providers.edges.phones.metrics")
            .unwrap()
            .pattern,
        "v2.telephony.providers.edges.phones.{id}"
    );
    assert_eq!(
        topics::find(&format!("v2.telephony.providers.edges.{USER}.metrics"))
            .unwrap()
            .pattern,
        "v2.telephony.providers.edges.{id}.metrics"
    );
    // Every pattern, its ids filled in, finds itself, and its model serves it.
    for t in topics::all() {
        let ids: Vec<String> = (0..t.pattern.matches("{id}").count())
            .map(|i| format!("6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e{i:02}"))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let concrete = topics::format(t.pattern, &ids).unwrap();
        assert_eq!(topics::find(&concrete), Some(t), "{concrete}");
        assert!(t.feature.starts_with("topics-"), "{}", t.feature);
    }
    assert_eq!(
        PresenceEventUserPresence::TOPICS,
        &["v2.users.{id}.presence"][..]
    );
    assert_eq!(
        Callback::TOPICS,
        &["v2.routing.queues.{id}.conversations.callbacks"][..]
    );
}
