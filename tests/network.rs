//! Failures below HTTP: each is named by its class in `Display`, says whether the request
//! was sent, and keeps its cause chain (down to what the operating system or TLS said)
//! through `source()`, without a URL or a value in any of it.

use std::error::Error as _;
use std::time::Duration;

use genesys_cloud::auth::StaticToken;
use genesys_cloud::error::TimeoutKind;
use genesys_cloud::testkit::{json_response, FakeGenesys, ManualClock};
use genesys_cloud::{AuthError, Client, Error, ErrorKind, Method, NetworkFailure, RetryPolicy};
use serde_json::json;

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `err`'s whole cause chain, rendered.
fn chain(err: &Error) -> Vec<String> {
    let mut out = vec![err.to_string()];
    let mut next = err.source();
    while let Some(cause) = next {
        out.push(cause.to_string());
        next = cause.source();
    }
    out
}

/// The first `io::Error` in `err`'s cause chain.
fn io_cause(err: &Error) -> Option<std::io::ErrorKind> {
    let mut next = err.source();
    while let Some(cause) = next {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        next = cause.source();
    }
    None
}

fn static_client(base: &str) -> genesys_cloud::ClientBuilder {
    Client::builder()
        .base_urls(base, base)
        .auth(StaticToken::new("static-token-value"))
        .no_proxy()
}

async fn post(client: &Client, path: &str) -> Result<serde_json::Value, Error> {
    client
        .request(Method::POST, path)
        .query("email", "someone@example.com")
        .json(&json!({"secret": "value-in-body"}))
        .send()
        .await
}

fn assert_no_values(err: &Error) {
    let shown = format!("{err} {err:?} {:?}", chain(err));
    for value in [
        "someone@example.com",
        "value-in-body",
        "static-token-value",
        "127.0.0.1",
        "/api/v2/things/42",
    ] {
        assert!(!shown.contains(value), "`{value}` in {shown}");
    }
}

#[tokio::test]
async fn a_refused_port_is_named_not_sent_and_keeps_its_cause() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let client = static_client(&base)
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::default().max_attempts(2))
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert_eq!(
        err.network_failure(),
        Some(NetworkFailure::Refused),
        "{err}"
    );
    assert!(!err.may_have_been_sent());
    let shown = err.to_string();
    assert!(shown.contains("connection refused"), "{shown}");
    assert!(shown.contains("the request was not sent"), "{shown}");
    assert_eq!(
        io_cause(&err),
        Some(std::io::ErrorKind::ConnectionRefused),
        "the cause chain reaches the operating system's answer: {:?}",
        chain(&err)
    );
    assert_no_values(&err);
}

#[tokio::test]
async fn an_unknown_host_is_a_dns_failure() {
    // `.invalid` never resolves (RFC 2606 §2).
    let client = static_client("http://genesys-cloud-test.invalid")
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert_eq!(err.network_failure(), Some(NetworkFailure::Dns), "{err}");
    assert!(!err.may_have_been_sent());
    let shown = err.to_string();
    assert!(shown.contains("DNS lookup failed"), "{shown}");
    assert!(shown.contains("not sent"), "{shown}");
    assert!(
        chain(&err).len() >= 3,
        "the chain goes below the crate's error: {:?}",
        chain(&err)
    );
}

#[tokio::test]
async fn a_deadline_that_ends_retries_of_a_refused_port_says_nothing_was_sent() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    // The first attempt is refused at once; the deadline passes during the 10 s backoff.
    let client = static_client(&base)
        .deadline(Duration::from_millis(300))
        .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_secs(10)))
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert_eq!(err.timeout_kind(), Some(TimeoutKind::Deadline), "{err}");
    assert!(!err.may_have_been_sent(), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("the request was not sent"), "{shown}");
    assert!(!shown.contains("may have been processed"), "{shown}");
    assert!(
        shown.contains("connection refused"),
        "the last failure: {shown}"
    );
    assert_eq!(err.network_failure(), Some(NetworkFailure::Refused));
    assert_eq!(io_cause(&err), Some(std::io::ErrorKind::ConnectionRefused));
    assert_no_values(&err);
}

#[tokio::test]
async fn an_unreachable_login_keeps_the_network_cause() {
    let fake = FakeGenesys::start().await;
    let login = format!("http://127.0.0.1:{}", closed_port());
    let client = Client::builder()
        .base_urls(&fake.uri(), &login)
        .credentials("client-id", "client-secret-value")
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries())
        .no_proxy()
        .build()
        .unwrap();
    let err = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert!(
        matches!(err.auth(), Some(AuthError::LoginUnavailable { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.network_failure(),
        Some(NetworkFailure::Refused),
        "{err}"
    );
    let shown = err.to_string();
    assert!(shown.contains("POST /oauth/token"), "{shown}");
    assert!(shown.contains("connection refused"), "{shown}");
    assert!(shown.contains("not sent"), "{shown}");
    assert_eq!(
        io_cause(&err),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{:?}",
        chain(&err)
    );
    let shown = format!("{err:?} {:?}", chain(&err));
    assert!(!shown.contains("client-secret-value"), "{shown}");
    assert_eq!(fake.requests().len(), 0, "no API call without a token");
}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn tls_to_a_server_that_does_not_speak_it_is_a_tls_failure() {
    // The fake speaks plain HTTP; an https client meets garbage where a handshake should be.
    let fake = FakeGenesys::start().await;
    let base = fake.uri().replace("http://", "https://");
    let client = static_client(&base)
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert_eq!(err.network_failure(), Some(NetworkFailure::Tls), "{err}");
    assert!(err.to_string().contains("TLS failed"), "{err}");
    assert!(!err.may_have_been_sent(), "{err}");
}

/// A server that reads a request's head and hangs up without answering.
async fn hang_up_server() -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            drop(socket);
        }
    });
    base
}

#[tokio::test]
async fn a_connection_lost_after_sending_may_have_been_processed() {
    let base = hang_up_server().await;
    let client = static_client(&base)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert!(err.may_have_been_sent(), "{err}");
    assert_eq!(
        err.network_failure(),
        Some(NetworkFailure::ConnectionLost),
        "{err}"
    );
    let shown = err.to_string();
    assert!(shown.contains("after the request was sent"), "{shown}");
    assert!(shown.contains("may have been processed"), "{shown}");
    assert_no_values(&err);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = FakeGenesys::start().await;
    let fake = FakeGenesys::start().await;
    let target = format!("{}/api/v2/things/42", elsewhere.uri());
    fake.route(Method::POST, "/api/v2/things/{id}", move |_| {
        json_response(307, &json!({})).insert_header("location", target.as_str())
    });
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let err = post(&client, "/api/v2/things/42").await.unwrap_err();
    assert_eq!(err.status(), Some(307), "{err}");
    assert_eq!(
        elsewhere.requests().len(),
        0,
        "the body never went to the other host"
    );
}
