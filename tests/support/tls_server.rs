//! A TLS terminator on loopback: TLS with a test certificate on a port of its own, the
//! bytes forwarded to a plain server. With whichever TLS library the build has (rustls
//! when both are on, as the client itself chooses).

#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// A test CA and a `localhost` certificate it signed (see tests/tls.rs).
pub const LOCALHOST_CA: &[u8] = include_bytes!("../data/tls/ca.pem");
pub const LOCALHOST_CERT: &[u8] = include_bytes!("../data/tls/localhost.pem");
pub const LOCALHOST_KEY: &[u8] = include_bytes!("../data/tls/localhost.key");

/// A second test CA and a `fake.test` certificate it signed (valid until 2126), for the
/// proxy tests (a loopback name is never proxied). Made with `openssl genpkey`/`req`/`x509`;
/// the key protects nothing but these tests.
pub const FAKE_TEST_CA: &[u8] = include_bytes!("../data/tls/fake-test-ca.pem");
pub const FAKE_TEST_CERT: &[u8] = include_bytes!("../data/tls/fake-test.pem");
pub const FAKE_TEST_KEY: &[u8] = include_bytes!("../data/tls/fake-test.key");

/// Terminates TLS with `cert`/`key` (PEM; the key PKCS#8) on a loopback port of its own
/// and forwards the bytes to `target`. Returns the port.
pub async fn tls_terminator(cert: &[u8], key: &[u8], target: SocketAddr) -> u16 {
    let acceptor = Acceptor::new(cert, key);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move { acceptor.serve(tcp, target).await });
        }
    });
    port
}

/// `127.0.0.1:PORT` of a loopback URL.
pub fn socket_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    SocketAddr::from(([127, 0, 0, 1], url.port_or_known_default().unwrap()))
}

#[derive(Clone)]
#[cfg(feature = "rustls")]
struct Acceptor(tokio_rustls::TlsAcceptor);

#[cfg(feature = "rustls")]
impl Acceptor {
    fn new(cert: &[u8], key: &[u8]) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use std::sync::Arc;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
            .collect::<Result<_, _>>()
            .expect("test certificate");
        let key = PrivateKeyDer::from_pem_slice(key).expect("test key");
        #[allow(deprecated)] // rustls's ring provider, as the crate's own (src/net/tls.rs says why)
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
        Acceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    async fn serve(&self, tcp: TcpStream, target: SocketAddr) {
        let Ok(mut tls) = self.0.accept(tcp).await else {
            return;
        };
        if let Ok(mut upstream) = TcpStream::connect(target).await {
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
        }
    }
}

#[derive(Clone)]
#[cfg(all(feature = "native-tls", not(feature = "rustls")))]
struct Acceptor(tokio_native_tls::TlsAcceptor);

#[cfg(all(feature = "native-tls", not(feature = "rustls")))]
impl Acceptor {
    fn new(cert: &[u8], key: &[u8]) -> Self {
        let identity = native_tls::Identity::from_pkcs8(cert, key).expect("test identity");
        let acceptor = native_tls::TlsAcceptor::new(identity).expect("server config");
        Acceptor(tokio_native_tls::TlsAcceptor::from(acceptor))
    }

    async fn serve(&self, tcp: TcpStream, target: SocketAddr) {
        let Ok(mut tls) = self.0.accept(tcp).await else {
            return;
        };
        if let Ok(mut upstream) = TcpStream::connect(target).await {
            let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
        }
    }
}
