//! One TLS setup, built once per client, for REST and websockets.
//!
//! With the `rustls` feature: rustls with an explicit `ring` provider (never the
//! process-level default, which panics when an application's dependency graph enables two
//! providers), the operating system's trust roots (rustls-platform-verifier) plus any root
//! the builder adds. With only `native-tls`: the platform's TLS library with the same roots.

use crate::error::Error;

/// The TLS connectors of a client.
#[derive(Clone)]
pub(crate) enum Tls {
    /// rustls: REST offers HTTP/2 and HTTP/1.1 by ALPN, websockets HTTP/1.1 only.
    #[cfg(feature = "rustls")]
    Rustls {
        rest: std::sync::Arc<rustls::ClientConfig>,
        websocket: std::sync::Arc<rustls::ClientConfig>,
    },
    /// The platform's TLS library.
    #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
    Native(native_tls::TlsConnector),
    /// No TLS backend compiled in: plain `http`/`ws` only (loopback, tests).
    #[cfg_attr(any(feature = "rustls", feature = "native-tls"), allow(dead_code))]
    None,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "rustls")]
            Tls::Rustls { .. } => "Tls::Rustls",
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Tls::Native(_) => "Tls::Native",
            Tls::None => "Tls::None",
        })
    }
}

impl Tls {
    /// The connectors, trusting the system's roots and `extra_roots_pem`.
    pub(crate) fn new(extra_roots_pem: &[Vec<u8>]) -> Result<Self, Error> {
        #[cfg(feature = "rustls")]
        {
            rustls_configs(extra_roots_pem)
        }
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        {
            native_connector(extra_roots_pem)
        }
        #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
        {
            if extra_roots_pem.is_empty() {
                Ok(Tls::None)
            } else {
                Err(Error::config(
                    "root certificates were added, but no TLS backend is compiled in: enable the `rustls` or `native-tls` feature",
                ))
            }
        }
    }

    /// Whether `https`/`wss` can be spoken.
    pub(crate) fn is_available(&self) -> bool {
        !matches!(self, Tls::None)
    }
}

#[cfg(feature = "rustls")]
fn rustls_configs(extra_roots_pem: &[Vec<u8>]) -> Result<Tls, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    use std::sync::Arc;

    let mut roots = Vec::new();
    for pem in extra_roots_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            roots.push(
                cert.map_err(|e| {
                    Error::config(format!("a root certificate is not valid PEM: {e}"))
                })?,
            );
        }
    }
    // rustls 0.23.48 deprecates `ring::default_provider` because ring has no post-quantum
    // key exchange (X25519MLKEM768 needs the aws-lc-rs provider). The crate keeps ring: a
    // cold build of the bare-reqwest program with aws-lc-rs takes about 1.5x the CPU of
    // the same with ring (docs/PERFORMANCE.md), and aws-lc-sys needs cmake on some
    // targets. Key exchange stays classical (X25519, P-256, P-384), as README says. The
    // one deprecated call of the crate, allowed here and nowhere else.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
            .map_err(|e| Error::config(format!("cannot load the system's trust roots: {e}")))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?
        .dangerous() // not dangerous: the platform verifier checks certificates in full
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let mut rest = config.clone();
    rest.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut websocket = config;
    websocket.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls::Rustls {
        rest: Arc::new(rest),
        websocket: Arc::new(websocket),
    })
}

#[cfg(all(feature = "native-tls", not(feature = "rustls")))]
fn native_connector(extra_roots_pem: &[Vec<u8>]) -> Result<Tls, Error> {
    let mut builder = native_tls::TlsConnector::builder();
    for pem in extra_roots_pem {
        let cert = native_tls::Certificate::from_pem(pem)
            .map_err(|e| Error::config(format!("a root certificate is not valid PEM: {e}")))?;
        builder.add_root_certificate(cert);
    }
    let connector = builder
        .build()
        .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?;
    Ok(Tls::Native(connector))
}
