//! https and wss with an added root, with whichever TLS backend the build has: rustls under
//! `--all-features`; the platform's library (`native-tls`) in .ci/run's native-tls step
//! (`--no-default-features --features native-tls,testkit,guests`), the one place that
//! backend is exercised. (tests/tls.rs checks what is particular to rustls.)

#![cfg(any(feature = "rustls", feature = "native-tls"))]

#[path = "support/tls_server.rs"]
mod tls_server;

use genesys_cloud::guests::GuestSession;
use genesys_cloud::testkit::{FakeGenesys, ManualClock};
use genesys_cloud::Method;
use tls_server::{socket_of, tls_terminator, LOCALHOST_CA, LOCALHOST_CERT, LOCALHOST_KEY};

#[tokio::test]
async fn https_and_wss_to_a_server_an_added_root_vouches_for() {
    let fake = FakeGenesys::start().await;
    let rest_port = tls_terminator(LOCALHOST_CERT, LOCALHOST_KEY, socket_of(&fake.uri())).await;
    let ws_port = tls_terminator(
        LOCALHOST_CERT,
        LOCALHOST_KEY,
        socket_of(&fake.web_messaging_uri()),
    )
    .await;
    let https = format!("https://localhost:{rest_port}");
    let ws_path = url::Url::parse(&fake.web_messaging_uri())
        .unwrap()
        .path()
        .to_owned();
    let client = fake
        .client_builder()
        .base_urls(&https, &https)
        .web_messaging_base(&format!("wss://localhost:{ws_port}{ws_path}"))
        .add_root_certificate_pem(LOCALHOST_CA)
        .build()
        .expect("a client for the TLS fronted fake");

    let org: serde_json::Value = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send()
        .await
        .expect("https with the added root");
    assert!(org["id"].is_string());
    assert_eq!(fake.tokens_issued(), 1);

    let session = GuestSession::connect(
        &client,
        "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
        &uuid::Uuid::new_v4().to_string(),
        Default::default(),
    )
    .await
    .expect("wss with the added root");
    session.close().await.unwrap();
}

#[tokio::test]
async fn a_server_the_roots_do_not_vouch_for_is_refused() {
    let fake = FakeGenesys::start().await;
    let rest_port = tls_terminator(LOCALHOST_CERT, LOCALHOST_KEY, socket_of(&fake.uri())).await;
    let https = format!("https://localhost:{rest_port}");
    let ws_port = tls_terminator(
        LOCALHOST_CERT,
        LOCALHOST_KEY,
        socket_of(&fake.web_messaging_uri()),
    )
    .await;
    // No extra root: the test CA is unknown to the system's roots. (The manual clock makes
    // the connect retries instant.)
    let client = fake
        .client_builder()
        .base_urls(&https, &https)
        .web_messaging_base(&format!("wss://localhost:{ws_port}/"))
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let err = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert!(!err.may_have_been_sent(), "{err:?}");
    assert_eq!(fake.tokens_issued(), 0);
    let err = GuestSession::connect(
        &client,
        "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
        "t",
        Default::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(fake.guest_connections(), 0, "{err:?}");
}
