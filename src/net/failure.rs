//! What failed below HTTP, read off an error's cause chain.
//!
//! The HTTP stack (reqwest, hyper, the resolver, TLS) and the websocket connect report
//! failures as nested errors whose outer layers say little ("error sending request"). The
//! class on-call needs (DNS, a refused port, a firewall that drops packets, TLS, the proxy,
//! a connection lost half-way) is found by walking the chain and downcasting, as
//! reqwest-retry does for resets; only where a layer has no public type (hyper-util's
//! resolver and tunnel errors) is its fixed message read, never a URL or a value.

use std::error::Error as StdError;
use std::io::ErrorKind as IoKind;

use crate::error::NetworkFailure;

/// The class of the failure `err` reports, from the most specific cause in its chain.
pub(crate) fn classify(err: &(dyn StdError + 'static)) -> NetworkFailure {
    let mut found = NetworkFailure::Other;
    for cause in chain(err) {
        let class = classify_one(cause);
        // The innermost definite class wins over a vaguer outer one ("connection lost"
        // around a TLS alert is a TLS failure), except that nothing overrides TLS or DNS.
        if class != NetworkFailure::Other {
            found = class;
            if matches!(class, NetworkFailure::Tls | NetworkFailure::Dns) {
                break;
            }
        }
    }
    found
}

/// The message of the innermost cause: what the operating system, the resolver or TLS
/// said ("Connection refused (os error 111)"), with no URL in it.
pub(crate) fn root_message(err: &(dyn StdError + 'static)) -> String {
    chain(err)
        .last()
        .map(|cause| cause.to_string())
        .unwrap_or_default()
}

/// `err` and every cause below it. `io::Error::source` skips the error it wraps (its
/// `Display` shows that error instead), so the wrapped error is visited explicitly: TLS
/// failures reach us as rustls errors inside `io::Error`s.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    let mut depth = 0;
    std::iter::from_fn(move || {
        let current = next?;
        depth += 1;
        // A bound on hostile or cyclic chains.
        if depth > 32 {
            return None;
        }
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => current.source(),
            },
            None => current.source(),
        };
        Some(current)
    })
}

fn classify_one(cause: &(dyn StdError + 'static)) -> NetworkFailure {
    #[cfg(feature = "rustls")]
    if cause.downcast_ref::<rustls::Error>().is_some() {
        return NetworkFailure::Tls;
    }
    #[cfg(feature = "native-tls")]
    if cause.downcast_ref::<native_tls::Error>().is_some() {
        return NetworkFailure::Tls;
    }
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        match io.kind() {
            IoKind::ConnectionRefused => return NetworkFailure::Refused,
            IoKind::TimedOut => return NetworkFailure::ConnectTimeout,
            IoKind::ConnectionReset
            | IoKind::ConnectionAborted
            | IoKind::BrokenPipe
            | IoKind::UnexpectedEof
            | IoKind::NotConnected => return NetworkFailure::ConnectionLost,
            _ => {}
        }
    }
    if let Some(ws) = websocket_class(cause) {
        return ws;
    }
    // Layers whose type is not ours to name (hyper, hyper-util): hyper-util's connector
    // names DNS failures "dns error", std's resolver "failed to lookup address
    // information"; the proxy tunnels (reqwest's and ours in `net`) speak of the proxy or
    // the tunnel; hyper says when a connection closed before its message completed.
    let text = cause.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("dns error") || lower.contains("failed to lookup address") {
        NetworkFailure::Dns
    } else if lower.contains("proxy") || lower.contains("tunnel") {
        NetworkFailure::Proxy
    } else if lower.starts_with("connection closed") || lower.contains("connection reset") {
        // hyper's "connection closed before message completed" (an incomplete message).
        NetworkFailure::ConnectionLost
    } else if lower.contains("invalid certificate")
        || lower.contains("certificate verify")
        || lower.contains("handshake failure")
    {
        NetworkFailure::Tls
    } else {
        NetworkFailure::Other
    }
}

#[cfg(any(feature = "guests", feature = "notifications"))]
fn websocket_class(cause: &(dyn StdError + 'static)) -> Option<NetworkFailure> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match cause.downcast_ref::<WsError>()? {
        WsError::ConnectionClosed | WsError::AlreadyClosed => Some(NetworkFailure::ConnectionLost),
        WsError::Protocol(_) | WsError::Http(_) | WsError::HttpFormat(_) => {
            Some(NetworkFailure::Handshake)
        }
        _ => None,
    }
}

#[cfg(not(any(feature = "guests", feature = "notifications")))]
fn websocket_class(_: &(dyn StdError + 'static)) -> Option<NetworkFailure> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<dyn StdError + Send + Sync>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    fn wrap(outer: &'static str, inner: impl StdError + Send + Sync + 'static) -> Layer {
        Layer(outer, Some(Box::new(inner)))
    }

    #[test]
    fn the_class_comes_from_the_innermost_definite_cause() {
        let refused = wrap(
            "error sending request",
            wrap(
                "tcp connect error",
                std::io::Error::from(IoKind::ConnectionRefused),
            ),
        );
        assert_eq!(classify(&refused), NetworkFailure::Refused);
        assert!(
            root_message(&refused).contains("refused"),
            "{}",
            root_message(&refused)
        );

        let dns = wrap(
            "error sending request",
            wrap(
                "dns error",
                std::io::Error::other(
                    "failed to lookup address information: Name or service not known",
                ),
            ),
        );
        assert_eq!(classify(&dns), NetworkFailure::Dns);

        let reset = wrap(
            "error sending request",
            std::io::Error::from(IoKind::ConnectionReset),
        );
        assert_eq!(classify(&reset), NetworkFailure::ConnectionLost);

        let other = Layer("something else", None);
        assert_eq!(classify(&other), NetworkFailure::Other);
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn a_tls_error_inside_an_io_error_is_found() {
        let tls = std::io::Error::new(
            IoKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let outer = wrap("error sending request", wrap("client error (Connect)", tls));
        assert_eq!(classify(&outer), NetworkFailure::Tls);
        assert!(
            root_message(&outer).contains("certificate"),
            "{}",
            root_message(&outer)
        );
    }
}
