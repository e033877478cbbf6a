//! Retries, limits, timeouts and observability of the shared transport, against the fake.

use std::time::{Duration, Instant};

use futures::{FutureExt, TryStreamExt};
use genesys_cloud::testkit::{json_response, FakeGenesys, Fault, ManualClock};
use genesys_cloud::{Client, Error, ErrorKind, Method, RetryPolicy};
use serde_json::json;

const ORG: &str = "/api/v2/organizations/me";
const THINGS: &str = "/api/v2/things";

async fn fake_with_things() -> FakeGenesys {
    let fake = FakeGenesys::start().await;
    fake.route(Method::POST, THINGS, |req| {
        json_response(
            201,
            &json!({"id": "t-1", "echo": req.json::<serde_json::Value>().unwrap()}),
        )
    });
    fake
}

fn client_with_clock(fake: &FakeGenesys) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    (
        fake.client_builder().clock(clock.clone()).build().unwrap(),
        clock,
    )
}

async fn get_org(client: &Client) -> Result<serde_json::Value, Error> {
    client.request(Method::GET, ORG).send().await
}

async fn post_thing(client: &Client, idempotent: bool) -> Result<serde_json::Value, Error> {
    client
        .request(Method::POST, THINGS)
        .json(&json!({"name": "x"}))
        .idempotent(idempotent)
        .send()
        .await
}

#[tokio::test]
async fn rate_limited_then_success_honours_retry_after() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = client_with_clock(&fake);
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        },
        1,
    );
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(5)),
        },
        1,
    );
    let org = get_org(&client).await.unwrap();
    assert_eq!(org["name"], "Fake Genesys Org");
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(3), Duration::from_secs(5)]
    );
    let m = client.metrics_snapshot().requests;
    // Two successful calls: the token request and the API call.
    assert_eq!(
        (m.rate_limited, m.retries, m.successes, m.failures),
        (2, 2, 2, 0)
    );
}

#[tokio::test]
async fn post_is_retried_on_429() {
    let fake = fake_with_things().await;
    let (client, _clock) = client_with_clock(&fake);
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        },
        1,
    );
    post_thing(&client, false).await.unwrap();
    assert_eq!(fake.requests_to(Method::POST, THINGS).len(), 2);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().max_retry_after(Duration::from_secs(10)))
        .build()
        .unwrap();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        },
        1,
    );
    get_org(&client).await.unwrap();
    assert_eq!(clock.sleeps(), [Duration::from_secs(10)]);
}

#[tokio::test]
async fn without_retry_after_429_backs_off_exponentially() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let policy = RetryPolicy::default()
        .jitter(false)
        .initial_backoff(Duration::from_millis(100));
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(policy)
        .build()
        .unwrap();
    fake.inject(Fault::RateLimited { retry_after: None }, 3);
    get_org(&client).await.unwrap();
    assert_eq!(clock.sleeps(), [100, 200, 400].map(Duration::from_millis));
}

#[tokio::test]
async fn service_unavailable_twice_then_success() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = client_with_clock(&fake);
    fake.inject(Fault::Status(503), 2);
    get_org(&client).await.unwrap();
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 3);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(client.metrics_snapshot().requests.retries, 2);
}

#[tokio::test]
async fn exhausted_retries_give_rate_limited_with_the_last_retry_after() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        },
        2,
    );
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        },
        5,
    );
    let err = get_org(&client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err:?}");
    assert!(err.to_string().contains("after 3 attempt"), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.correlation_id().is_some());
    assert_eq!(err.endpoint(), Some("GET /api/v2/organizations/me"));
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(429));
    assert!(err.to_string().contains("7s"), "{err}");
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 3);
    assert_eq!(client.metrics_snapshot().requests.failures, 1);
}

#[tokio::test]
async fn retry_time_budget_stops_retries() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock.clone())
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(10)
                .max_retry_time(Duration::from_secs(10)),
        )
        .build()
        .unwrap();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(4)),
        },
        10,
    );
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::Throttled && err.to_string().contains("after 3 attempt"),
        "{err:?}"
    );
    assert_eq!(clock.total_slept(), Duration::from_secs(8));
}

#[tokio::test]
async fn post_is_not_retried_on_503_unless_marked_idempotent() {
    let fake = fake_with_things().await;
    let (client, _clock) = client_with_clock(&fake);
    fake.inject(Fault::Status(503), 1);
    let err = post_thing(&client, false).await.unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.status(), 503);
    assert_eq!(api.code(), Some("service.unavailable"));
    assert!(api.correlation_id().is_some());
    assert_eq!(fake.requests_to(Method::POST, THINGS).len(), 1);

    fake.inject(Fault::Status(503), 1);
    let created = post_thing(&client, true).await.unwrap();
    assert_eq!(created["echo"]["name"], "x");
    assert_eq!(fake.requests_to(Method::POST, THINGS).len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let fake = FakeGenesys::start().await;
    let (client, clock) = client_with_clock(&fake);
    let err = client
        .request(Method::GET, "/api/v2/nowhere")
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(!err.is_retryable());
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_naming_the_endpoint() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    fake.inject(Fault::MalformedBody, 1);
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::Decode && err.status() == Some(200),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("GET /api/v2/organizations/me"),
        "{err}"
    );
    assert!(err.correlation_id().is_some());
}

#[tokio::test]
async fn oversized_body_is_refused() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .max_response_body(1024)
        .build()
        .unwrap();
    fake.inject(Fault::OversizedBody(10_000), 1);
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::LocalLimit && err.to_string().contains("1024-byte limit"),
        "{err:?}"
    );
    assert!(err.to_string().contains("1024"), "{err}");
    // The same client still works for normal answers.
    get_org(&client).await.unwrap();
}

#[tokio::test]
async fn per_attempt_timeout_retries_get_but_not_post() {
    let fake = fake_with_things().await;
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        // Long enough for an answer on a busy machine; far shorter than the delay below.
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    get_org(&client).await.unwrap(); // token fetched before the faults
    fake.inject(Fault::Delay(Duration::from_secs(60)), 1);
    get_org(&client)
        .await
        .expect("GET retried after its attempt timed out");
    assert!(fake.requests_to(Method::GET, ORG).len() >= 3, "retried");

    // A retried POST would be answered at once (the fault is spent): the error itself
    // shows it was not retried.
    fake.inject(Fault::Delay(Duration::from_secs(60)), 1);
    let err = post_thing(&client, false).await.unwrap_err();
    assert!(
        err.timeout_kind() == Some(genesys_cloud::error::TimeoutKind::Attempt),
        "{err:?}"
    );
    assert!(err.may_have_been_sent());
    assert_eq!(fake.requests_to(Method::POST, THINGS).len(), 1);
}

#[tokio::test]
async fn overall_deadline_bounds_the_whole_call() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .attempt_timeout(Duration::from_millis(200))
        .deadline(Duration::from_millis(500))
        .retry_policy(
            RetryPolicy::default()
                .max_attempts(50)
                .initial_backoff(Duration::from_millis(10)),
        )
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    fake.inject(Fault::Delay(Duration::from_secs(2)), 50);
    let started = Instant::now();
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.timeout_kind() == Some(genesys_cloud::error::TimeoutKind::Deadline),
        "{err:?}"
    );
    // Without the deadline, 50 attempts of 200 ms with backoff between them would take
    // over a minute: 20 s only bounds how long a failure takes to show.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(20),
        "{took:?}"
    );
}

#[tokio::test]
async fn overall_deadline_ends_a_backoff_wait() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .deadline(Duration::from_millis(400))
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    // The platform asks for 20 s; the caller allowed 400 ms for the whole call.
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(20)),
        },
        1,
    );
    let started = Instant::now();
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.timeout_kind() == Some(genesys_cloud::error::TimeoutKind::Deadline),
        "{err:?}"
    );
    // Well short of the 20 s asked for, however busy the machine.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dropped_connection_is_retried_for_get_only() {
    let fake = fake_with_things().await;
    let (client, _clock) = client_with_clock(&fake);
    get_org(&client).await.unwrap();
    fake.inject(Fault::DropConnection, 1);
    get_org(&client)
        .await
        .expect("GET replayed after the connection dropped");

    fake.inject(Fault::DropConnection, 1);
    let err = post_thing(&client, false).await.unwrap_err();
    assert!(
        err.kind() == ErrorKind::Upstream && err.may_have_been_sent(),
        "{err:?}"
    );
    assert_eq!(fake.requests_to(Method::POST, THINGS).len(), 1);
}

#[tokio::test]
async fn connect_failure_is_retried_and_reported_as_never_sent() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let clock = ManualClock::new();
    let client = Client::builder()
        .base_urls(&base, &base)
        .auth(genesys_cloud::auth::StaticToken::new("t"))
        .clock(clock.clone())
        .retry_policy(RetryPolicy::default().max_attempts(3))
        .build()
        .unwrap();
    let err = client
        .request(Method::POST, THINGS)
        .json(&json!({}))
        .send::<()>()
        .await
        .unwrap_err();
    assert!(
        err.kind() == ErrorKind::Upstream && !err.may_have_been_sent(),
        "{err:?}"
    );
    assert!(!err.may_have_been_sent());
    assert_eq!(clock.sleeps().len(), 2, "retried: nothing had been sent");
    assert_eq!(client.metrics_snapshot().requests.attempts, 3);
}

#[tokio::test]
async fn requests_carry_the_sdk_user_agent_and_json_content_type() {
    let fake = fake_with_things().await;
    let client = fake.client().unwrap();
    post_thing(&client, false).await.unwrap();
    let sent = fake.requests_to(Method::POST, THINGS);
    assert_eq!(
        sent[0].user_agent.as_deref(),
        Some(concat!("genesys-cloud-rust/", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(sent[0].auth_scheme.as_deref(), Some("Bearer"));
    assert_eq!(sent[0].json(), json!({"name": "x"}));
    let login = fake.requests_to(Method::POST, "/oauth/token");
    assert_eq!(login[0].auth_scheme.as_deref(), Some("Basic"));
    assert_eq!(login[0].body, b"grant_type=client_credentials");
}

#[tokio::test]
async fn path_ids_are_encoded_and_dot_segments_refused() {
    let fake = FakeGenesys::start().await;
    fake.route(Method::GET, "/api/v2/things/{id}", |req| {
        json_response(200, &json!({"id": req.param("id")}))
    });
    let client = fake.client().unwrap();
    let thing: serde_json::Value = client
        .request_template(Method::GET, "/api/v2/things/{id}", &["a/b?c"])
        .send()
        .await
        .unwrap();
    assert_eq!(thing["id"], "a/b?c");
    assert_eq!(
        fake.requests_to(Method::GET, "/api/v2/things/a%2Fb%3Fc")
            .len(),
        1
    );

    let before = fake.requests().len();
    let err = client
        .request_template(Method::GET, "/api/v2/things/{id}", &[".."])
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    let validation = err.validation().expect("a validation error");
    assert!(validation.has("id", "path_segment"), "{validation}");
    assert_eq!(fake.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn paginate_follows_every_page() {
    let fake = FakeGenesys::start().await;
    fake.route(Method::GET, "/api/v2/widgets", |req| {
        let page: u32 = req.query.get("pageNumber").and_then(|p| p.parse().ok()).unwrap_or(1);
        let entities: Vec<_> = (0..2).map(|i| json!({"id": format!("w{}", (page - 1) * 2 + i)})).collect();
        json_response(200, &json!({"entities": entities, "pageNumber": page, "pageSize": 2, "pageCount": 3, "total": 6}))
    });
    let client = fake.client().unwrap();
    let all: Vec<serde_json::Value> = client
        .request(Method::GET, "/api/v2/widgets")
        .query("pageSize", 2)
        .paginate()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = all
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["w0", "w1", "w2", "w3", "w4", "w5"]);
    assert_eq!(fake.requests_to(Method::GET, "/api/v2/widgets").len(), 3);
}

#[tokio::test]
async fn overall_deadline_ends_a_wait_for_the_rate_limit() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .requests_per_minute(1)
        .deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    get_org(&client).await.unwrap(); // the quota of 1 is used: the next waits a minute
    let started = Instant::now();
    let err = get_org(&client).await.unwrap_err();
    assert!(
        err.timeout_kind() == Some(genesys_cloud::error::TimeoutKind::Deadline),
        "{err:?}"
    );
    // Well short of the minute the quota would take, however busy the machine.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        fake.requests_to(Method::GET, ORG).len(),
        1,
        "nothing sent past the limit"
    );
}

#[tokio::test]
async fn rate_limit_holds_requests_back() {
    let fake = FakeGenesys::start().await;
    let client = fake
        .client_builder()
        .requests_per_minute(1)
        .build()
        .unwrap();
    get_org(&client).await.unwrap(); // the first call uses the quota of 1
    let attempts = || client.metrics_snapshot().requests.attempts;
    let before = attempts();
    // One turn of the second call: with the quota spent it waits before its attempt
    // (which would be counted, and its request started, in this very turn).
    let mut second = std::pin::pin!(get_org(&client));
    assert!(
        second.as_mut().now_or_never().is_none(),
        "the second call must wait for the quota"
    );
    assert_eq!(attempts(), before, "nothing started past the limit");
    let err = fake
        .client_builder()
        .requests_per_minute(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[tokio::test]
async fn metrics_snapshot_counts_and_times_calls() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = client_with_clock(&fake);
    for _ in 0..4 {
        get_org(&client).await.unwrap();
    }
    fake.inject(Fault::Status(500), 1);
    get_org(&client).await.unwrap_err();
    let m = client.metrics_snapshot();
    // 5 API calls + 1 token request.
    assert_eq!(m.requests.calls, 6);
    assert_eq!(m.requests.failures, 1);
    assert_eq!(m.requests.success_rate, Some(5.0 / 6.0));
    assert_eq!(m.requests.latency.count, 6);
    assert!(m.requests.latency.p99_ms >= m.requests.latency.p50_ms);
    let shown = m.to_string();
    assert!(shown.contains("success rate 83.3%"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_stops_a_failing_platform_from_being_hammered() {
    let fake = FakeGenesys::start().await;
    let (client, _clock) = client_with_clock(&fake);
    get_org(&client).await.unwrap(); // log in first: the budget is about API calls here
    fake.inject(Fault::Status(503), 100_000);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get_org(&client).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(503), "{err:?}");
    }
    let sent = fake.requests_to(Method::GET, ORG).len() - 1;
    // Without a budget: 100 calls x 5 attempts = 500 requests.
    assert!(sent <= 250, "{sent} requests reached the failing platform");
    let m = client.metrics_snapshot().requests;
    assert!(m.retries_denied > 0, "{m:?}");
    assert_eq!(m.retries + 100, sent as u64);

    // Successes refill the budget: retries come back once the platform answers again.
    fake.clear_faults();
    for _ in 0..20 {
        get_org(&client).await.unwrap();
    }
    fake.inject(Fault::Status(503), 1);
    get_org(&client).await.expect("retried after one 503");
}

#[tokio::test]
async fn an_unlimited_budget_lets_every_call_retry() {
    let fake = FakeGenesys::start().await;
    let clock = ManualClock::new();
    let client = fake
        .client_builder()
        .clock(clock)
        .retry_budget(genesys_cloud::RetryBudget::unlimited())
        .build()
        .unwrap();
    get_org(&client).await.unwrap();
    fake.inject(Fault::Status(503), 100_000);
    for _ in 0..30 {
        get_org(&client).await.unwrap_err();
    }
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 1 + 30 * 5);
    assert_eq!(client.metrics_snapshot().requests.retries_denied, 0);
}

/// A bare HTTP/1.1 server that answers every request with `pieces`, writing each after
/// its pause: bodies in chunks, or an answer that stops half-way. The testkit's server
/// writes whole answers only.
async fn scripted_server(pieces: Vec<(Duration, Vec<u8>)>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let pieces = pieces.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                for (pause, bytes) in pieces {
                    tokio::time::sleep(pause).await;
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                // Keep the connection open: a stalled answer must end by the client's timer.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    base
}

fn chunked(pieces: &[&[u8]]) -> Vec<(Duration, Vec<u8>)> {
    let mut out = vec![(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec(),
    )];
    for piece in pieces {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        out.push((Duration::from_millis(20), chunk));
    }
    out.push((Duration::from_millis(20), b"0\r\n\r\n".to_vec()));
    out
}

async fn get_any(client: &Client) -> Result<serde_json::Value, Error> {
    client.request(Method::GET, "/api/v2/x").send().await
}

fn scripted_client(base: &str) -> genesys_cloud::ClientBuilder {
    Client::builder()
        .base_urls(base, base)
        .auth(genesys_cloud::auth::StaticToken::new("t"))
}

#[tokio::test]
async fn a_body_that_arrives_in_chunks_is_read_whole() {
    let base = scripted_server(chunked(&[b"{\"ids\": [1, ", b"2, ", b"3]}"])).await;
    let client = scripted_client(&base).build().unwrap();
    assert_eq!(get_any(&client).await.unwrap(), json!({"ids": [1, 2, 3]}));
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_as_it_arrives() {
    // No Content-Length to refuse up front: the limit is checked chunk by chunk.
    let piece = [b'x'; 600];
    let base = scripted_server(chunked(&[&piece, &piece, &piece])).await;
    let client = scripted_client(&base)
        .max_response_body(1024)
        .build()
        .unwrap();
    let err = get_any(&client).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LocalLimit, "{err:?}");
}

#[tokio::test]
async fn an_answer_that_stops_half_way_ends_at_the_attempt_timeout() {
    let base = scripted_server(vec![(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\":"
            .to_vec(),
    )])
    .await;
    let client = scripted_client(&base)
        .attempt_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .request(Method::GET, "/api/v2/x")
        .idempotent(false)
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(
        err.timeout_kind(),
        Some(genesys_cloud::error::TimeoutKind::Attempt),
        "{err:?}"
    );
    // The server holds the connection for 60 s: 20 s only bounds how long a failure takes
    // to show.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(err.may_have_been_sent(), "the answer had begun: {err:?}");
}

#[tokio::test]
async fn templates_built_at_run_time_and_their_debug_output() {
    let fake = FakeGenesys::start().await;
    let client = fake.client().unwrap();
    let template = format!("{}/{{thingId}}", THINGS);
    fake.route(Method::GET, "/api/v2/things/t-7", |_| {
        json_response(200, &json!({"id": "t-7"}))
    });
    let thing: serde_json::Value = client
        .request_template(Method::GET, template, &["t-7"])
        .send()
        .await
        .unwrap();
    assert_eq!(thing["id"], "t-7");
    // Debug shows what the request is, never the values it carries.
    let builder = client
        .request_template(Method::POST, "/api/v2/things/{thingId}", &["secret-id"])
        .query("q", "secret-query")
        .header("x-note", "secret-header")
        .json(&json!({"secret": "secret-body"}));
    let debug = format!("{builder:?}");
    assert!(debug.contains("/api/v2/things/{thingId}"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
}
