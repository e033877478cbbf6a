//! Per-call overrides of the client's time limits and retry policy (`CallOptions`), and the
//! interactive profile, through every way a call is made: `client.request(..)`, the pager,
//! and each flow's calls on a handle from `Client::with_options` (issue #23, item 2).
//!
//! The scene is the one a request handler fears: the platform answers 429 with
//! `Retry-After: 20`. With the client's defaults the call waits the 20 s (on the manual
//! clock) and succeeds; under the interactive profile it ends at once with
//! `ErrorKind::Throttled` and the platform's wait in `retry_after()`, having waited nothing
//! and sent one request. A flow that sent around the handle it was given (the client's
//! own transport) would wait, and its test here would fail.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use genesys_cloud::guests::{AttributeSink, ParticipantSink};
use genesys_cloud::messaging::{AttributeInjector, AttributePatch, AttributeSchema, KeySpec};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::transport::CallOptions;
use genesys_cloud::{Client, Error, ErrorKind, Method, RetryPolicy, TimeoutKind};

const ORG: &str = "/api/v2/organizations/me";
const LONG_WAIT: Duration = Duration::from_secs(20);

fn client_with_clock(fake: &FakeGenesys) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    (client, clock)
}

fn throttle_next(fake: &FakeGenesys) {
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(LONG_WAIT),
        },
        1,
    );
}

/// `call` through a plain client waits out the 429 and succeeds; through
/// `with_options(CallOptions::interactive())` it fails at once as throttled.
async fn defaults_wait_interactive_does_not<F, Fut, T>(fake: &FakeGenesys, call: F)
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
    T: std::fmt::Debug,
{
    let (client, clock) = client_with_clock(fake);
    throttle_next(fake);
    call(client.clone())
        .await
        .expect("the default policy waits and retries");
    assert_eq!(
        clock.sleeps(),
        [LONG_WAIT],
        "the default policy waits Retry-After"
    );

    let (client, clock) = client_with_clock(fake);
    let interactive = client.with_options(CallOptions::interactive());
    throttle_next(fake);
    let before = fake.requests().len();
    let err = call(interactive)
        .await
        .expect_err("interactive gives up at once");
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
    assert_eq!(err.retry_after(), Some(LONG_WAIT));
    assert!(clock.sleeps().is_empty(), "waited {:?}", clock.sleeps());
    let api_requests = fake.requests()[before..]
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .count();
    assert_eq!(api_requests, 1, "one request, no retry");
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn a_request_handle_gives_up_on_a_long_retry_after() {
    let fake = FakeGenesys::start().await;
    defaults_wait_interactive_does_not(&fake, |client| async move {
        client
            .request(Method::GET, ORG)
            .send::<serde_json::Value>()
            .await
    })
    .await;
}

#[tokio::test]
async fn one_request_takes_options_of_its_own() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = client_with_clock(&fake);
    for request in [
        client
            .request(Method::GET, ORG)
            .options(CallOptions::interactive()),
        client
            .request(Method::GET, ORG)
            .retry_policy(RetryPolicy::interactive()),
    ] {
        throttle_next(&fake);
        let err = request.send::<serde_json::Value>().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
        assert_eq!(err.retry_after(), Some(LONG_WAIT));
    }
    assert!(clock.sleeps().is_empty(), "waited {:?}", clock.sleeps());
    // The client itself keeps its defaults.
    throttle_next(&fake);
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), [LONG_WAIT]);
}

#[tokio::test]
async fn the_request_setting_wins_over_the_handle_and_the_client() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = client_with_clock(&fake);
    let interactive = client.with_options(CallOptions::interactive());
    // The handle gives up on a long Retry-After; this request waits it out.
    throttle_next(&fake);
    let org: serde_json::Value = interactive
        .request(Method::GET, ORG)
        .retry_policy(RetryPolicy::default())
        .send()
        .await
        .unwrap();
    assert!(org["id"].is_string());
    assert_eq!(clock.sleeps(), [LONG_WAIT]);

    // And without retries at all, a 503 ends the call after one attempt.
    fake.inject(Fault::Status(503), 1);
    let err = client
        .request(Method::GET, ORG)
        .retry_policy(RetryPolicy::no_retries())
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn deadline_and_attempt_timeout_overrides_bound_the_call() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap();
    // The client's defaults (180 s, 30 s per attempt) would wait the 2 s out.
    fake.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let started = Instant::now();
    let err = client
        .request(Method::GET, ORG)
        .deadline(Duration::from_millis(200))
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err}");
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Deadline), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // An attempt timeout on a handle: the slow attempt is cut and the GET tried again.
    fake.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let quick = client.with_options(CallOptions::new().attempt_timeout(Duration::from_millis(200)));
    let started = Instant::now();
    let org: serde_json::Value = quick.request(Method::GET, ORG).send().await.unwrap();
    assert!(org["id"].is_string());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(quick.metrics_snapshot().requests.retries, 1);
}

#[tokio::test]
async fn the_pager_keeps_the_handle_options() {
    let fake = FakeGenesys::start().await;
    defaults_wait_interactive_does_not(&fake, |client| async move {
        client
            .request(Method::GET, "/api/v2/integrations")
            .paginate::<serde_json::Value>()
            .try_collect::<Vec<_>>()
            .await
    })
    .await;
}

#[tokio::test]
async fn messaging_calls_keep_the_handle_options() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let schema = AttributeSchema::new().key("tier", KeySpec::string());
    let patch = AttributePatch::builder(&schema)
        .set("tier", "gold")
        .build()
        .unwrap();
    let (conversation, participant) = (
        seeded.conversation_id.clone(),
        seeded.customer_participant_id.clone(),
    );
    defaults_wait_interactive_does_not(&fake, |client| {
        let (patch, conversation, participant) =
            (patch.clone(), conversation.clone(), participant.clone());
        async move {
            client
                .messaging()
                .participant(conversation, participant)
                .patch_attributes(&patch)
                .await
        }
    })
    .await;
    // The injector sends through the client it was built with.
    defaults_wait_interactive_does_not(&fake, |client| {
        let (patch, conversation, participant) =
            (patch.clone(), conversation.clone(), participant.clone());
        async move {
            AttributeInjector::new(client)
                .inject(&conversation, &participant, &patch)
                .await
                .map(|report| report.attributes)
        }
    })
    .await;
}

#[tokio::test]
async fn guest_participant_sink_keeps_the_handle_options() {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    let attributes = BTreeMap::from([("tier".to_owned(), "gold".to_owned())]);
    defaults_wait_interactive_does_not(&fake, |client| {
        let sink = ParticipantSink::new(client);
        sink.register(
            "session-1",
            &seeded.conversation_id,
            &seeded.customer_participant_id,
        );
        let attributes = attributes.clone();
        async move { sink.send("session-1", &attributes).await }
    })
    .await;
}

#[tokio::test]
async fn integrations_calls_keep_the_handle_options() {
    let fake = FakeGenesys::start().await;
    defaults_wait_interactive_does_not(&fake, |client| async move {
        client.integrations().list().try_collect::<Vec<_>>().await
    })
    .await;
}

#[tokio::test]
async fn callbacks_calls_keep_the_handle_options() {
    let fake = FakeGenesys::start().await;
    defaults_wait_interactive_does_not(&fake, |client| async move {
        client.callbacks().list().try_collect::<Vec<_>>().await
    })
    .await;
}

#[tokio::test]
async fn nodes_calls_keep_the_handle_options() {
    let fake = FakeGenesys::start().await;
    defaults_wait_interactive_does_not(&fake, |client| async move {
        client.nodes().list().try_collect::<Vec<_>>().await
    })
    .await;
}

#[tokio::test]
async fn options_stack_and_the_client_keeps_its_own() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    assert!(client.options().is_empty());
    let short = client.with_options(CallOptions::new().deadline(Duration::from_secs(3)));
    let both = short.with_options(CallOptions::interactive().no_deadline());
    assert_eq!(
        both.options(),
        CallOptions::interactive().no_deadline(),
        "a later setting wins, setting by setting"
    );
    let merged = short.with_options(CallOptions::new().retry_policy(RetryPolicy::no_retries()));
    assert_eq!(
        merged.options(),
        CallOptions::new()
            .deadline(Duration::from_secs(3))
            .retry_policy(RetryPolicy::no_retries())
    );
    // The handles share the client: one login, one set of metrics.
    for c in [&client, &short, &both] {
        c.request(Method::GET, ORG)
            .send::<serde_json::Value>()
            .await
            .unwrap();
    }
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(
        both.metrics_snapshot().requests.successes,
        client.metrics_snapshot().requests.successes
    );
    assert!(client.options().is_empty());
}

#[tokio::test]
async fn an_interactive_client_builder_makes_every_call_interactive() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .interactive()
        .build()
        .unwrap();
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap();
    throttle_next(&fake);
    let err = client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(LONG_WAIT));
    assert!(clock.sleeps().is_empty());

    // A short Retry-After is waited out.
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        },
        1,
    );
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(1)]);
}
