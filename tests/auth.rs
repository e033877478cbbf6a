//! Token handling against the fake: caching, early refresh, single flight, refusals.

use std::sync::Arc;
use std::time::Duration;

use genesys_cloud::auth::{Auth, ClientCredentials, StaticToken};
use genesys_cloud::clock::Clock;
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock, FAKE_CLIENT_SECRET};
use genesys_cloud::{AuthError, Client, Error, ErrorKind, Method};

const ORG: &str = "/api/v2/organizations/me";

async fn get_org(client: &Client) -> Result<serde_json::Value, Error> {
    client.request(Method::GET, ORG).send().await
}

/// Waits (real time, at most 10 s) until `done` holds: background refreshes finish on
/// their own task.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn login_requests(fake: &FakeGenesys) -> usize {
    fake.requests_to(Method::POST, "/oauth/token").len()
}

/// Lets every request already started, background token refreshes included, end and be
/// handled, without waiting for anything else.
///
/// Only on the one-thread runtime (`#[tokio::test]`) and without transport retries (one
/// attempt per call): a refresh runs on a task of its own, which runs only while this task
/// waits. A refresh started by the last call counts its attempt in its first turn (before
/// it sends anything), which the yield gives it; it has ended, and recorded its outcome,
/// when every attempt counted has its call counted too (both in the refresh's own turn).
async fn settle(client: &Client) {
    tokio::task::yield_now().await;
    until("every request started to end", || {
        let m = client.metrics_snapshot().requests;
        m.attempts == m.calls
    })
    .await;
}

#[tokio::test]
async fn token_is_cached_across_calls_and_clones() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    get_org(&client).await.unwrap();
    get_org(&client.clone()).await.unwrap();
    get_org(&client).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(fake.requests_to(Method::POST, "/oauth/token").len(), 1);
    assert_eq!(client.metrics_snapshot().requests.token_requests, 1);
}

#[tokio::test]
async fn token_is_refreshed_the_margin_before_it_expires() {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(300))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .token_refresh_margin(Duration::from_secs(60))
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    clock.advance(Duration::from_secs(239));
    get_org(&client).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1, "still outside the refresh margin");
    clock.advance(Duration::from_secs(2));
    get_org(&client).await.unwrap();
    until("the refresh inside the margin", || {
        fake.tokens_issued() == 2
    })
    .await;
}

#[tokio::test]
async fn margin_longer_than_half_the_lifetime_is_clamped() {
    // expires_in 60 s with the default 60 s margin would refresh on every call.
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(60))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    get_org(&client).await.unwrap();
    clock.advance(Duration::from_secs(29));
    get_org(&client).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1);
    clock.advance(Duration::from_secs(2));
    get_org(&client).await.unwrap();
    until("the refresh past half the lifetime", || {
        fake.tokens_issued() == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_first_calls_make_one_token_request() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get_org(&client).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_token_calls_share_one_refresh() {
    let fake = FakeGenesys::start().await;
    // Slow login, so every caller arrives while the first refresh is in flight.
    fake.inject_login(Fault::Delay(Duration::from_millis(200)), 1);
    let auth = Arc::new(
        ClientCredentials::new(
            "fake-client-id",
            FAKE_CLIENT_SECRET,
            fake.uri().parse().unwrap(),
        )
        .unwrap(),
    );
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap().unwrap());
    }
    assert_eq!(fake.tokens_issued(), 1);
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn wrong_secret_is_a_typed_auth_error_without_the_secret() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .credentials("fake-client-id", "wrong-secret-value")
        .build()
        .unwrap();
    let err = get_org(&client).await.unwrap_err();
    match err.auth() {
        Some(AuthError::CredentialsRejected { status, error, .. }) => {
            assert_eq!(*status, 401);
            assert_eq!(error, "invalid_client");
        }
        other => panic!("expected CredentialsRejected, got {other:?}"),
    }
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(!shown.contains("wrong-secret-value"), "{shown}");
    assert!(!err.is_retryable());
    assert_eq!(
        fake.requests_to(Method::GET, ORG).len(),
        0,
        "no API call without a token"
    );
}

#[tokio::test]
async fn unknown_client_id_is_refused_too() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .credentials("someone-else", FAKE_CLIENT_SECRET)
        .build()
        .unwrap();
    let err = get_org(&client).await.unwrap_err();
    assert!(
        matches!(
            err.auth(),
            Some(AuthError::CredentialsRejected { status: 401, .. })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn login_503_is_retried() {
    let fake = FakeGenesys::start().await;
    fake.inject_login(Fault::Status(503), 2);
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    get_org(&client).await.unwrap();
    assert_eq!(fake.requests_to(Method::POST, "/oauth/token").len(), 3);
    assert_eq!(clock.sleeps().len(), 2);
}

/// One thread: see `settle`.
#[tokio::test]
async fn failed_early_refresh_keeps_the_still_valid_token() {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(300))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    let first = client.auth().token().await.unwrap();
    clock.advance(Duration::from_secs(250)); // inside the margin, before expiry
    fake.inject_login(Fault::Status(503), 1);
    get_org(&client)
        .await
        .expect("the current token is still valid");
    settle(&client).await;
    assert_eq!(
        login_requests(&fake),
        2,
        "the call inside the margin started a refresh, which failed"
    );
    assert_eq!(fake.pending_faults(), 0, "the login outage was met");
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(
        client.auth().token().await.unwrap(),
        first,
        "the token kept serves"
    );
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 2);
}

#[tokio::test]
async fn expired_token_is_refreshed_and_the_request_replayed_once() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    get_org(&client).await.unwrap();
    fake.expire_tokens();
    get_org(&client).await.unwrap();
    assert_eq!(fake.tokens_issued(), 2);
    assert_eq!(
        fake.requests_to(Method::GET, ORG).len(),
        3,
        "first call, refused call, replay"
    );
    let m = client.metrics_snapshot();
    assert_eq!(m.counter("http.token_rejections"), 1);
    assert_eq!(m.requests.retries, 0, "a 401 replay is not a retry");
}

#[tokio::test]
async fn a_second_401_is_an_auth_error() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    fake.inject(Fault::Unauthorized, 2);
    let err = get_org(&client).await.unwrap_err();
    assert!(
        matches!(err.auth(), Some(AuthError::TokenRejected { .. })),
        "{err:?}"
    );
    assert!(err.correlation_id().is_some());
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 2);
    assert_eq!(fake.tokens_issued(), 2);
}

#[tokio::test]
async fn static_token_is_not_replayed_on_401() {
    let fake = FakeGenesys::start().await;
    let client = Client::builder()
        .base_urls(&fake.uri(), &fake.uri())
        .auth(StaticToken::new("not-a-live-token"))
        .build()
        .unwrap();
    let err = get_org(&client).await.unwrap_err();
    assert!(
        matches!(err.auth(), Some(AuthError::TokenRejected { .. })),
        "{err:?}"
    );
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 1);
    assert!(!format!("{err} {err:?} {client:?}").contains("not-a-live-token"));
}

#[tokio::test]
async fn debug_output_never_shows_secret_or_token() {
    let fake = FakeGenesys::start().await;
    let builder = fake.client_builder();
    let builder_debug = format!("{builder:?}");
    let client = builder.build().unwrap();
    get_org(&client).await.unwrap();
    let token = client.auth().token().await.unwrap();
    let shown = format!("{builder_debug} {client:?} {:?} {token:?}", client.auth());
    assert!(!shown.contains(FAKE_CLIENT_SECRET), "{shown}");
    assert!(!shown.contains(token.expose_secret()), "{shown}");
    assert!(
        shown.contains("fake-client-id"),
        "the client id is not a secret: {shown}"
    );
}

#[tokio::test]
async fn missing_configuration_is_reported_before_any_request() {
    let err = Client::builder().credentials("a", "b").build().unwrap_err();
    assert!(err.to_string().contains("region"), "{err}");
    let err = Client::builder()
        .region(genesys_cloud::Region::UsEast1)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("credentials"), "{err}");
    let err = Client::builder()
        .region(genesys_cloud::Region::UsEast1)
        .credentials("id", "")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("secret"), "{err}");
    let err = Client::builder()
        .base_urls("not a url", "http://127.0.0.1:1")
        .credentials("id", "s")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
}

/// A token issued for 8 s is refreshed from 4 s on (the margin clamped to half the
/// lifetime). Returns the clock's reading when the token was requested.
async fn outage_fixture() -> (FakeGenesys, ManualClock, Client, std::time::Instant) {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(8))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    let issued_at = clock.now();
    get_org(&client).await.unwrap();
    (fake, clock, client, issued_at)
}

/// Moves `clock` to `age` after `issued_at`.
fn age_token(clock: &ManualClock, issued_at: std::time::Instant, age: Duration) {
    let now = clock.now() - issued_at;
    assert!(age >= now);
    clock.advance(age - now);
}

/// 50 concurrent calls. A caller that waited for a login hanging for 60 s (as the
/// outage tests inject) would wait that long: 20 s of real time is only how long a failure
/// takes to show, however busy the machine.
async fn fifty_calls(client: &Client) -> Vec<Result<serde_json::Value, Error>> {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get_org(&client).await })
        })
        .collect();
    let all = futures::future::join_all(calls);
    tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("callers waited for the token refresh")
        .into_iter()
        .map(|joined| joined.unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_outage_with_a_valid_token_never_holds_up_callers() {
    let (fake, clock, client, issued_at) = outage_fixture().await;
    // The login service hangs: a caller waiting for the refresh would wait 60 s.
    fake.inject_login(Fault::Delay(Duration::from_secs(60)), 1_000);
    for age_ms in [4_500, 5_500, 6_500, 7_500] {
        age_token(&clock, issued_at, Duration::from_millis(age_ms));
        let results = fifty_calls(&client).await;
        assert!(
            results.iter().all(Result::is_ok),
            "age {age_ms} ms: {results:?}"
        );
        until("the refresh to reach the login service", || {
            login_requests(&fake) >= 2
        })
        .await;
    }
    assert_eq!(
        login_requests(&fake),
        2,
        "the first login, then one refresh (still hanging): no pile-up of token requests"
    );
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 201);
}

/// One thread: see `settle`.
#[tokio::test]
async fn failed_refreshes_are_backed_off_while_the_token_serves() {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(8))
        .start()
        .await;
    let clock = ManualClock::new();
    // No transport retries: their waits would move the shared manual clock.
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    let issued_at = clock.now();
    get_org(&client).await.unwrap();
    fake.inject_login(Fault::Status(503), 1_000);
    age_token(&clock, issued_at, Duration::from_millis(4_500));
    // Fifty calls, each followed by the refreshes it started, at every step.
    let calls_at_this_time = async || {
        assert!(fifty_calls(&client).await.iter().all(Result::is_ok));
        settle(&client).await;
        login_requests(&fake)
    };
    assert_eq!(calls_at_this_time().await, 2, "one refresh, which failed");
    assert_eq!(
        calls_at_this_time().await,
        2,
        "backing off: no new refresh at once"
    );
    // 1 s after the first failure, one more refresh; then 2 s.
    clock.advance(Duration::from_millis(1_000));
    assert_eq!(calls_at_this_time().await, 3, "the first wait is 1 s");
    clock.advance(Duration::from_millis(1_000));
    assert_eq!(calls_at_this_time().await, 3, "the second wait is 2 s");
    clock.advance(Duration::from_millis(1_000));
    assert_eq!(calls_at_this_time().await, 4);
    assert_eq!(fake.tokens_issued(), 1);
}

/// The documented backoff of refreshes while the cached token serves: 1 s after the first
/// failure, doubling, never more than 30 s, for as long as the outage lasts. One thread:
/// see `settle`.
#[tokio::test]
async fn refresh_backoff_doubles_from_one_second_and_is_capped_at_thirty() {
    let lifetime = Duration::from_secs(1_200);
    let fake = FakeGenesys::builder()
        .token_lifetime(lifetime)
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        // Refreshes start halfway: a window of 10 minutes for the backoff to reach its cap.
        .token_refresh_margin(lifetime / 2)
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    let issued_at = clock.now();
    let serving = client.auth().token().await.unwrap();
    fake.inject_login(Fault::Status(503), 100_000);
    age_token(&clock, issued_at, lifetime / 2);

    // A caller every 250 ms until the next token request: when it was sent (none once
    // the token has expired).
    let step = Duration::from_millis(250);
    let next_request = async || {
        while clock.now() - issued_at < lifetime {
            let before = login_requests(&fake);
            let token = client
                .auth()
                .token()
                .await
                .expect("the cached token serves");
            assert_eq!(token, serving);
            settle(&client).await;
            let at = clock.now() - issued_at;
            clock.advance(step);
            match login_requests(&fake) - before {
                0 => {}
                1 => return Some(at),
                n => panic!("{n} token requests at once"),
            }
        }
        None
    };
    let mut sent_at = Vec::new();
    while sent_at.len() < 20 {
        let Some(at) = next_request().await else {
            break;
        };
        sent_at.push(at);
    }
    assert_eq!(sent_at[0], lifetime / 2, "the first refresh at the margin");
    let gaps: Vec<u64> = sent_at
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis() as u64)
        .collect();
    let mut want = vec![1_000, 2_000, 4_000, 8_000, 16_000];
    want.resize(19, 30_000);
    assert_eq!(gaps, want, "gaps between refreshes, in ms");
    assert_eq!(fake.tokens_issued(), 1);

    // The login service is back: the next due refresh gets a new token.
    fake.clear_faults();
    let at = next_request().await.expect("a refresh before expiry");
    assert_eq!(at - sent_at[19], Duration::from_secs(30));
    assert_eq!(fake.tokens_issued(), 2);
    assert_ne!(client.auth().token().await.unwrap(), serving);
}

/// One thread: the fifty callers all ask for a token before the token request they share
/// runs (it is spawned behind them), whatever the machine's speed. (With two threads, on a
/// busy machine, late callers found the first request already failed and made another.)
#[tokio::test]
async fn after_expiry_callers_share_one_login_and_get_a_typed_auth_error() {
    let (fake, clock, client, issued_at) = outage_fixture().await;
    fake.inject_login(Fault::Status(503), 1_000);
    age_token(&clock, issued_at, Duration::from_secs(9));
    let results = fifty_calls(&client).await;
    for result in &results {
        let err = result.as_ref().unwrap_err();
        assert!(
            matches!(err.auth(), Some(AuthError::LoginUnavailable { .. })),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Upstream);
        assert!(err.is_retryable());
        assert!(err.to_string().contains("503"), "{err}");
    }
    assert_eq!(
        login_requests(&fake),
        1 + 5,
        "the first login, then one token request for all fifty (5 attempts by the policy)"
    );
    assert_eq!(
        fake.requests_to(Method::GET, ORG).len(),
        1,
        "no API call without a token"
    );
    // The login service is back: the next call logs in and succeeds.
    fake.clear_faults();
    get_org(&client).await.expect("logged in again");
    assert_eq!(fake.tokens_issued(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_expiry_a_hanging_login_is_bounded_by_the_callers_deadline() {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(8))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    clock.advance(Duration::from_secs(9));
    fake.inject_login(Fault::Delay(Duration::from_secs(60)), 10);
    let started = std::time::Instant::now();
    let err = get_org(&client).await.unwrap_err();
    // Either the call's deadline or the token request's own (the same setting) ends it.
    let bounded = err.timeout_kind() == Some(genesys_cloud::error::TimeoutKind::Deadline)
        || matches!(err.auth(), Some(AuthError::LoginUnavailable { .. }));
    assert!(bounded && err.kind() == ErrorKind::Upstream, "{err:?}");
    // The login hangs for 60 s; a call bounded by its 300 ms deadline ends long before
    // that, however busy the machine.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_absurd_expires_in_is_capped_not_a_panic() {
    let fake = FakeGenesys::builder()
        .token_lifetime(Duration::from_secs(u64::MAX))
        .start()
        .await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    get_org(&client).await.unwrap();
    // Believed for 48 hours at most: refreshed a minute before that.
    clock.advance(Duration::from_secs(48 * 3600 - 61));
    get_org(&client).await.unwrap();
    assert_eq!(fake.tokens_issued(), 1);
    clock.advance(Duration::from_secs(2));
    get_org(&client).await.unwrap();
    until("the refresh before the 48-hour cap", || {
        fake.tokens_issued() == 2
    })
    .await;
}

/// 150 calls spread over `span` of the manual clock, each awaited in turn (a service
/// under steady traffic); returns their errors.
async fn calls_over(client: &Client, clock: &ManualClock, span: Duration) -> Vec<Error> {
    let mut errors = Vec::new();
    for _ in 0..150 {
        clock.advance(span / 150);
        if let Err(err) = get_org(client).await {
            errors.push(err);
        }
    }
    errors
}

#[tokio::test]
async fn a_refused_login_is_remembered_not_repeated_by_every_call() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .credentials("fake-client-id", "revoked-secret")
        .clock(clock.clone())
        .build()
        .unwrap();
    let errors = calls_over(&client, &clock, Duration::from_secs(2)).await;
    assert_eq!(errors.len(), 150, "every call fails");
    assert_eq!(
        login_requests(&fake),
        1,
        "one login in 2 s, not one per call: the refusal is held for 5 s"
    );
    for err in &errors {
        assert!(
            matches!(
                err.auth(),
                Some(AuthError::CredentialsRejected { status: 401, error, .. }) if error == "invalid_client"
            ),
            "every caller sees the cause: {err:?}"
        );
        assert!(!err.to_string().contains("revoked-secret"));
    }
    // Backed off: 5 s after the first refusal one more login, then 10 s, then 20 s.
    calls_over(&client, &clock, Duration::from_millis(3_100)).await;
    assert_eq!(login_requests(&fake), 2, "the second login, at 5 s");
    calls_over(&client, &clock, Duration::from_secs(9)).await;
    assert_eq!(login_requests(&fake), 2, "no third login before 15 s");
    calls_over(&client, &clock, Duration::from_secs(2)).await;
    assert_eq!(login_requests(&fake), 3, "the third, at 15 s");
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 0);
}

#[tokio::test]
async fn refusals_back_off_to_five_minutes_at_most() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .credentials("fake-client-id", "revoked-secret")
        .clock(clock.clone())
        .build()
        .unwrap();
    // An hour of steady traffic (a call every 2 s).
    for _ in 0..1_800 {
        clock.advance(Duration::from_secs(2));
        get_org(&client).await.unwrap_err();
    }
    // 5, 10, 20, 40, 80, 160 s, then every 300 s: 7 logins in the first 315 s (with the
    // first), then one per 5 minutes.
    let logins = login_requests(&fake);
    assert!(
        (16..=18).contains(&logins),
        "{logins} logins in an hour of refusals"
    );
}

#[tokio::test]
async fn an_unavailable_login_is_remembered_for_a_second_and_then_retried() {
    let (fake, clock, client, issued_at) = outage_fixture().await;
    let before = login_requests(&fake);
    fake.inject_login(Fault::Status(503), 1_000);
    age_token(&clock, issued_at, Duration::from_secs(9));
    let no_retries = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(genesys_cloud::RetryPolicy::no_retries())
        .build()
        .unwrap();
    drop(client);
    // A fresh client (no token yet) whose login fails: calls in the next second get the
    // failure at once.
    let errors = calls_over(&no_retries, &clock, Duration::from_millis(900)).await;
    assert_eq!(errors.len(), 150);
    assert_eq!(login_requests(&fake) - before, 1);
    assert!(errors
        .iter()
        .all(|e| matches!(e.auth(), Some(AuthError::LoginUnavailable { .. })) && e.is_retryable()));
    // The login service is back; the failure is not asked again before its second is up.
    fake.clear_faults();
    clock.advance(Duration::from_millis(150));
    get_org(&no_retries)
        .await
        .expect("logged in once the backoff ended");
    assert_eq!(login_requests(&fake) - before, 2);
}
