//! REST and websockets share one TLS setup with an explicit provider: they work when the
//! process-wide rustls provider is unusable (as when an application's graph enables both
//! of rustls's providers and none is installed, or installs one of its own).
//!
//! A binary of its own: it installs a process-wide provider with no cipher suites, so any
//! connection that fell back to the process default could not handshake.
//!
//! The certificates in `tests/data/tls` are a test CA and a `localhost` certificate it
//! signed (valid until 2126), made with `openssl req`/`openssl x509`; the key protects
//! nothing but these tests.

use std::net::SocketAddr;
use std::sync::Arc;

use genesys_cloud::guests::{GuestSession, GuestSessionOptions};
use genesys_cloud::testkit::{FakeGenesys, ManualClock};
use genesys_cloud::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const CA: &[u8] = include_bytes!("data/tls/ca.pem");
const CERT: &[u8] = include_bytes!("data/tls/localhost.pem");
const KEY: &[u8] = include_bytes!("data/tls/localhost.key");

/// A process-wide default that can handshake with nobody.
fn poison_the_process_default_provider() {
    #[allow(deprecated)] // rustls's ring provider, as the crate's own (src/net/tls.rs says why)
    let unusable = rustls::crypto::CryptoProvider {
        cipher_suites: Vec::new(),
        kx_groups: Vec::new(),
        ..rustls::crypto::ring::default_provider()
    };
    let _ = unusable.install_default();
}

/// Terminates TLS for `localhost` on a port of its own and forwards the bytes to `target`.
async fn tls_terminator(target: SocketAddr) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<_, _>>()
        .expect("test certificate");
    let key = PrivateKeyDer::from_pem_slice(KEY).expect("test key");
    #[allow(deprecated)] // rustls's ring provider, as the crate's own (src/net/tls.rs says why)
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut upstream) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                }
            });
        }
    });
    port
}

fn socket_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_use_the_clients_own_provider_and_roots() {
    poison_the_process_default_provider();
    let fake = FakeGenesys::start().await;
    let rest_port = tls_terminator(socket_of(&fake.uri())).await;
    let ws_port = tls_terminator(socket_of(&fake.web_messaging_uri())).await;
    let https = format!("https://localhost:{rest_port}");
    let ws_path = url::Url::parse(&fake.web_messaging_uri())
        .unwrap()
        .path()
        .to_owned();

    let client = fake
        .client_builder()
        .base_urls(&https, &https)
        .web_messaging_base(&format!("wss://localhost:{ws_port}{ws_path}"))
        .add_root_certificate_pem(CA)
        .build()
        .expect("a client for the TLS fronted fake");

    // REST over https: login, then a call.
    let org: serde_json::Value = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send()
        .await
        .expect("https through the client's own TLS setup");
    assert!(org["id"].is_string());

    // A websocket over wss: the guest session's handshake and configureSession.
    let session = GuestSession::connect(
        &client,
        "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b",
        &uuid::Uuid::new_v4().to_string(),
        GuestSessionOptions::default(),
    )
    .await
    .expect("wss through the client's own TLS setup");
    session.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_the_roots_do_not_vouch_for_is_refused() {
    poison_the_process_default_provider();
    let fake = FakeGenesys::start().await;
    let rest_port = tls_terminator(socket_of(&fake.uri())).await;
    let https = format!("https://localhost:{rest_port}");
    // No extra root: the test CA is unknown to the system's roots. (The manual clock makes
    // the connect retries instant.)
    let client = fake
        .client_builder()
        .base_urls(&https, &https)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    let err = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert!(!err.may_have_been_sent(), "{err:?}");
}
