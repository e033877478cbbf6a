//! REST and websockets through an HTTP proxy set on the builder (`ClientBuilder::proxy`),
//! against a real proxy on loopback (tests/support/proxy.rs): plain-http REST is forwarded,
//! https and every websocket go through `CONNECT` tunnels, with the proxy's credentials.
//! The proxy from the environment: tests/proxy_env.rs.
//!
//! The client never proxies loopback hosts, so it is pointed at `fake.test:PORT`, a name
//! only the proxy resolves (to the fake on 127.0.0.1): a request that went around the
//! proxy could not reach the fake.

#[path = "support/proxy.rs"]
mod proxy;
#[cfg(any(feature = "rustls", feature = "native-tls"))]
#[path = "support/tls_server.rs"]
mod tls_server;

use std::collections::BTreeMap;

use genesys_cloud::guests::GuestSession;
use genesys_cloud::testkit::{FakeGenesys, ManualClock};
use genesys_cloud::{ClientBuilder, Method, RetryPolicy};
use proxy::{via_fake_host, TestProxy};

const ORG: &str = "/api/v2/organizations/me";
const DEPLOYMENT: &str = "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

/// A client of the fake, reached as `fake.test` (REST and the guest websocket) through
/// the proxy at `proxy_url`.
fn through(fake: &FakeGenesys, proxy_url: &str) -> ClientBuilder {
    let base = via_fake_host(&fake.uri());
    fake.client_builder()
        .base_urls(&base, &base)
        .web_messaging_base(&via_fake_host(&fake.web_messaging_uri()))
        .proxy(proxy_url)
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An error, its Debug form and every error under it.
fn everything_shown(err: &genesys_cloud::Error) -> String {
    let mut shown = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        shown.push_str(&format!(" / {cause} {cause:?}"));
        source = cause.source();
    }
    shown
}

/// A guest session through the client's network setup; one message with an attribute.
async fn guest_round_trip(
    fake: &FakeGenesys,
    client: &genesys_cloud::Client,
) -> Result<(), genesys_cloud::Error> {
    let token = uuid::Uuid::new_v4().to_string();
    let session = GuestSession::connect(client, DEPLOYMENT, &token, Default::default()).await?;
    session
        .send_message("hello", &attrs(&[("tier", "gold")]))
        .await?;
    assert_eq!(fake.guest_attributes(&token).unwrap()["tier"], "gold");
    session.close().await
}

#[tokio::test]
async fn rest_and_websockets_go_through_the_proxy() {
    let fake = FakeGenesys::start().await;
    let proxy = TestProxy::start(None).await;
    let client = through(&fake, &proxy.url()).build().unwrap();

    let org: serde_json::Value = client
        .request(Method::GET, ORG)
        .send()
        .await
        .expect("REST through the proxy");
    assert!(org["id"].is_string());
    assert_eq!(fake.tokens_issued(), 1, "the login went through too");
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 1);
    let rest = format!("http://fake.test:{}", port_of(&fake.uri()));
    assert_eq!(
        proxy.forwards(),
        [
            ("POST".to_owned(), format!("{rest}/oauth/token")),
            ("GET".to_owned(), format!("{rest}{ORG}")),
        ]
    );

    guest_round_trip(&fake, &client)
        .await
        .expect("a websocket through the proxy");
    assert_eq!(
        proxy.tunnels(),
        [format!("fake.test:{}", port_of(&fake.web_messaging_uri()))],
        "the websocket tunnels with CONNECT"
    );

    // Loopback is never proxied, whatever the setting.
    let direct = fake.client_builder().proxy(proxy.url()).build().unwrap();
    let before = proxy.seen().len();
    direct
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap();
    guest_round_trip(&fake, &direct).await.unwrap();
    assert_eq!(proxy.seen().len(), before);
}

#[tokio::test]
async fn the_proxy_credentials_are_sent_and_never_shown() {
    const USER: &str = "proxy-user";
    const PASSWORD: &str = "pr0xy p@ss/w:rd";
    const WRONG: &str = "wrongProxySecret31337";
    let fake = FakeGenesys::start().await;
    let proxy = TestProxy::start(Some((USER, PASSWORD))).await;

    let builder = through(&fake, &proxy.url());
    let mut shown = format!("{builder:?}");
    let client = builder.build().unwrap();
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .expect("REST with the proxy's credentials");
    guest_round_trip(&fake, &client)
        .await
        .expect("a websocket with the proxy's credentials");
    assert_eq!(proxy.refused(), 0, "{:?}", proxy.seen());
    assert_eq!((proxy.forwards().len(), proxy.tunnels().len()), (2, 1));
    shown.push_str(&format!("{client:?}"));

    // Wrong credentials: refused (407) for REST and websockets alike, and the secret is in
    // no error and no Debug output.
    let builder = through(&fake, &proxy.url_with(USER, WRONG))
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries());
    shown.push_str(&format!("{builder:?}"));
    let refused = builder.build().unwrap();
    let err = refused
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    let ws_err = GuestSession::connect(
        &refused,
        DEPLOYMENT,
        &uuid::Uuid::new_v4().to_string(),
        Default::default(),
    )
    .await
    .unwrap_err();
    assert!(
        ws_err.to_string().contains("407"),
        "the websocket error says why: {ws_err}"
    );
    assert_eq!(proxy.refused(), 2, "{:?}", proxy.seen());
    shown.push_str(&everything_shown(&err));
    shown.push_str(&everything_shown(&ws_err));
    shown.push_str(&format!("{refused:?}"));
    let basic = |password: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"))
    };
    for secret in [
        PASSWORD.to_owned(),
        proxy::encode(PASSWORD),
        WRONG.to_owned(),
        basic(PASSWORD),
        basic(WRONG),
    ] {
        assert!(!shown.contains(&secret), "{secret} shown in: {shown}");
    }
}

/// https (and wss) through `CONNECT` tunnels: the proxy sees only the host and port, TLS
/// runs end to end with the fake's certificate for `fake.test`.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
#[tokio::test]
async fn https_and_wss_tunnel_through_the_proxy() {
    use tls_server::{socket_of, tls_terminator, FAKE_TEST_CA, FAKE_TEST_CERT, FAKE_TEST_KEY};
    let fake = FakeGenesys::start().await;
    let proxy = TestProxy::start(Some(("proxy-user", "proxy-password"))).await;
    let rest_port = tls_terminator(FAKE_TEST_CERT, FAKE_TEST_KEY, socket_of(&fake.uri())).await;
    let ws_port = tls_terminator(
        FAKE_TEST_CERT,
        FAKE_TEST_KEY,
        socket_of(&fake.web_messaging_uri()),
    )
    .await;
    let https = format!("https://fake.test:{rest_port}");
    let ws_path = url::Url::parse(&fake.web_messaging_uri())
        .unwrap()
        .path()
        .to_owned();
    let client = fake
        .client_builder()
        .base_urls(&https, &https)
        .web_messaging_base(&format!("wss://fake.test:{ws_port}{ws_path}"))
        .add_root_certificate_pem(FAKE_TEST_CA)
        .proxy(proxy.url())
        .build()
        .unwrap();
    client
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .expect("https through a CONNECT tunnel");
    assert_eq!(fake.requests_to(Method::GET, ORG).len(), 1);
    guest_round_trip(&fake, &client)
        .await
        .expect("wss through a CONNECT tunnel");
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.contains(&format!("fake.test:{rest_port}"))
            && tunnels.contains(&format!("fake.test:{ws_port}")),
        "{tunnels:?}"
    );
    assert!(proxy.forwards().is_empty(), "{:?}", proxy.seen());
    assert_eq!(proxy.refused(), 0);

    // Refused by the proxy: an error that shows no credentials.
    let secret = "wrongTunnelSecret4242";
    let refused = fake
        .client_builder()
        .base_urls(&https, &https)
        .add_root_certificate_pem(FAKE_TEST_CA)
        .proxy(proxy.url_with("proxy-user", secret))
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let err = refused
        .request(Method::GET, ORG)
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert!(!err.may_have_been_sent(), "{err:?}");
    assert_eq!(proxy.refused(), 1);
    let shown = everything_shown(&err);
    assert!(!shown.contains(secret), "{shown}");
}
