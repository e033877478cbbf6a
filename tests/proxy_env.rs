//! The proxy from the environment (`HTTPS_PROXY`, `http_proxy`, `ALL_PROXY`, `NO_PROXY`),
//! in its own test binary: it changes process environment variables, so its cases run one
//! after the other in a single test. The proxy is a real one on loopback
//! (tests/support/proxy.rs); the client is pointed at `fake.test`, a name only the proxy
//! resolves, so a request that went around the proxy fails.

#[path = "support/proxy.rs"]
mod proxy;
#[cfg(any(feature = "rustls", feature = "native-tls"))]
#[path = "support/tls_server.rs"]
mod tls_server;

use std::time::Duration;

use genesys_cloud::testkit::{FakeGenesys, ManualClock};
use genesys_cloud::{Client, ClientBuilder, Error, ErrorKind, Method, RetryPolicy};
use proxy::{via_fake_host, TestProxy};

const ORG: &str = "/api/v2/organizations/me";

const VARS: [&str; 8] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn set(pairs: &[(&str, &str)]) {
    for var in VARS {
        std::env::remove_var(var);
    }
    for (k, v) in pairs {
        std::env::set_var(k, v);
    }
}

/// A client of the fake at `base`, with the environment's proxy (read when it is built),
/// no retries and short timeouts: a request that does not go through the proxy fails at
/// once (`fake.test` resolves nowhere).
fn builder_for(fake: &FakeGenesys, base: &str) -> ClientBuilder {
    fake.client_builder()
        .base_urls(base, base)
        .clock(ManualClock::new())
        .retry_policy(RetryPolicy::no_retries())
        .attempt_timeout(Duration::from_secs(10))
}

async fn get_org(client: &Client) -> Result<serde_json::Value, Error> {
    client.request(Method::GET, ORG).send().await
}

/// Whether a call through `client` reaches the fake, and how many requests `proxy` saw
/// for it.
async fn reaches(fake: &FakeGenesys, proxy: &TestProxy, client: &Client) -> (bool, usize) {
    let (calls, seen) = (fake.requests_to(Method::GET, ORG).len(), proxy.seen().len());
    let ok = get_org(client).await.is_ok();
    assert_eq!(
        fake.requests_to(Method::GET, ORG).len() - calls,
        usize::from(ok)
    );
    (ok, proxy.seen().len() - seen)
}

#[tokio::test]
async fn the_environment_chooses_the_proxy() {
    let fake = FakeGenesys::start().await;
    let proxy = TestProxy::start(None).await;
    let http = via_fake_host(&fake.uri());
    let url = proxy.url();
    let client = |base: &str| builder_for(&fake, base).build().unwrap();

    // http_proxy (lowercase): plain-http REST goes through it, login included.
    set(&[("http_proxy", &url)]);
    assert_eq!(reaches(&fake, &proxy, &client(&http)).await, (true, 2));
    // HTTP_PROXY (uppercase) alone is not read for plain http (httpoxy): direct, which
    // cannot reach `fake.test`.
    set(&[("HTTP_PROXY", &url)]);
    assert_eq!(reaches(&fake, &proxy, &client(&http)).await, (false, 0));
    // HTTPS_PROXY is for https only.
    set(&[("HTTPS_PROXY", &url)]);
    assert_eq!(reaches(&fake, &proxy, &client(&http)).await, (false, 0));
    // ALL_PROXY, either case, serves every scheme.
    for all in ["ALL_PROXY", "all_proxy"] {
        set(&[(all, &url)]);
        assert_eq!(reaches(&fake, &proxy, &client(&http)).await, (true, 2));
    }
    // NO_PROXY (either case): a name, a domain, or `*`.
    for (var, bypass) in [
        ("NO_PROXY", "fake.test"),
        ("no_proxy", ".test"),
        ("NO_PROXY", "example.com, test:8080"),
        ("NO_PROXY", "*"),
    ] {
        set(&[("ALL_PROXY", &url), (var, bypass)]);
        assert_eq!(
            reaches(&fake, &proxy, &client(&http)).await,
            (false, 0),
            "{var}={bypass}"
        );
    }
    set(&[("ALL_PROXY", &url), ("NO_PROXY", "example.com,other.test")]);
    assert_eq!(reaches(&fake, &proxy, &client(&http)).await, (true, 2));

    // The builder wins over the environment.
    set(&[("http_proxy", &url)]);
    let direct = builder_for(&fake, &http).no_proxy().build().unwrap();
    assert_eq!(reaches(&fake, &proxy, &direct).await, (false, 0));
    set(&[("http_proxy", "http://127.0.0.1:9")]);
    let explicit = builder_for(&fake, &http).proxy(&url).build().unwrap();
    assert_eq!(reaches(&fake, &proxy, &explicit).await, (true, 2));
    // Loopback is never proxied: the usual fake client works with any proxy set.
    set(&[
        ("http_proxy", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ]);
    let local = builder_for(&fake, &fake.uri()).build().unwrap();
    assert_eq!(reaches(&fake, &proxy, &local).await, (true, 0));

    // Websockets follow the same variables (a plain `ws` URL uses the plain-http proxy).
    set(&[("http_proxy", &url)]);
    let ws = builder_for(&fake, &http)
        .web_messaging_base(&via_fake_host(&fake.web_messaging_uri()))
        .build()
        .unwrap();
    let tunnels = proxy.tunnels().len();
    let session = genesys_cloud::guests::GuestSession::connect(
        &ws,
        "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
        &uuid::Uuid::new_v4().to_string(),
        Default::default(),
    )
    .await
    .expect("a websocket through the environment's proxy");
    session.close().await.unwrap();
    assert_eq!(proxy.tunnels().len(), tunnels + 1);

    // A proxy URL that cannot be used is a configuration error, its credentials hidden.
    set(&[(
        "HTTPS_PROXY",
        "socks5://someone:env-proxy-secret@127.0.0.1:1080",
    )]);
    let err = builder_for(&fake, &http).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("HTTPS_PROXY"), "{shown}");
    assert!(!shown.contains("env-proxy-secret"), "{shown}");

    // Credentials from the environment are sent, and never shown.
    let guarded = TestProxy::start(Some(("env-user", "env-proxy-secret"))).await;
    set(&[("http_proxy", &guarded.url())]);
    let client = client(&http);
    assert_eq!(reaches(&fake, &guarded, &client).await, (true, 2));
    assert_eq!(guarded.refused(), 0);
    assert!(!format!("{client:?}").contains("env-proxy-secret"));

    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    https_proxy_from_the_environment(&fake, &guarded).await;
    set(&[]);
}

/// `HTTPS_PROXY` for https: a `CONNECT` tunnel with the credentials it names.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
async fn https_proxy_from_the_environment(fake: &FakeGenesys, proxy: &TestProxy) {
    use tls_server::{socket_of, tls_terminator, FAKE_TEST_CA, FAKE_TEST_CERT, FAKE_TEST_KEY};
    let port = tls_terminator(FAKE_TEST_CERT, FAKE_TEST_KEY, socket_of(&fake.uri())).await;
    let https = format!("https://fake.test:{port}");
    let client = |pairs: &[(&str, &str)]| {
        set(pairs);
        builder_for(fake, &https)
            .add_root_certificate_pem(FAKE_TEST_CA)
            .build()
            .unwrap()
    };
    let url = proxy.url();
    let tunnels = proxy.tunnels().len();
    let via_https_proxy = client(&[("https_proxy", &url)]);
    assert_eq!(reaches(fake, proxy, &via_https_proxy).await, (true, 1));
    assert_eq!(proxy.tunnels().len(), tunnels + 1, "{:?}", proxy.seen());
    // http_proxy is for plain http only.
    let plain_only = client(&[("http_proxy", &url)]);
    assert_eq!(reaches(fake, proxy, &plain_only).await, (false, 0));
}
