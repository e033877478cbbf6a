//! How the client reaches the network: one TLS setup and one proxy decision, for REST
//! (reqwest) and websockets alike, set once on the [`ClientBuilder`](crate::ClientBuilder).

mod failure;
mod proxy;
mod stream;
mod tls;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

pub(crate) use failure::{classify as classify_failure, root_message};
pub(crate) use proxy::ProxySetting;
pub(crate) use stream::NetStream;

use crate::error::Error;
use proxy::ProxyPolicy;
use tls::Tls;

/// The network settings a [`ClientBuilder`](crate::ClientBuilder) collects.
#[derive(Clone, Debug, Default)]
pub(crate) struct NetworkOptions {
    pub(crate) proxy: ProxySetting,
    /// Extra trust roots, PEM.
    pub(crate) roots_pem: Vec<Vec<u8>>,
}

/// A client's network setup, built once.
#[derive(Debug)]
pub(crate) struct Network {
    proxy: ProxyPolicy,
    tls: Tls,
}

/// The longest proxy answer to a `CONNECT` read before giving up.
const MAX_CONNECT_ANSWER: usize = 8 * 1024;

impl Network {
    pub(crate) fn new(options: &NetworkOptions) -> Result<Self, Error> {
        Ok(Self {
            proxy: ProxyPolicy::new(&options.proxy)?,
            tls: Tls::new(&options.roots_pem)?,
        })
    }

    /// Whether `https`/`wss` can be spoken (a TLS feature is on).
    pub(crate) fn has_tls(&self) -> bool {
        self.tls.is_available()
    }

    /// The HTTP client for REST, with this TLS setup and proxy decision.
    pub(crate) fn http_client(&self, user_agent: &str) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            // The Platform API does not redirect; a redirect would carry the request (its
            // body, for a 307 or 308) to a host the client was never pointed at. A 3xx is
            // an answer like any other, reported as an error.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        // Only with a proxy to choose: reqwest asks a custom proxy about every plain-http
        // request (twice, each time parsing the URI into a `Url`), which cost 8% of the
        // client's CPU per request against a local server with no proxy at all.
        if !self.proxy.is_direct() {
            let policy = self.proxy.clone();
            builder = builder.proxy(reqwest::Proxy::custom(move |url| {
                policy.proxy_for(url).cloned()
            }));
        }
        match &self.tls {
            #[cfg(feature = "rustls")]
            Tls::Rustls { rest, .. } => {
                builder = builder.tls_backend_preconfigured((**rest).clone());
            }
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Tls::Native(connector) => {
                builder = builder.tls_backend_preconfigured(connector.clone());
            }
            Tls::None => {}
        }
        builder
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))
    }

    /// Opens a connection for a websocket to `url` (`ws` or `wss`): TCP, through the proxy
    /// if one applies (an HTTP `CONNECT` tunnel), then TLS for `wss`. No time limit: the
    /// caller bounds it. Errors never hold the URL.
    pub(crate) async fn connect(&self, url: &Url) -> std::io::Result<NetStream> {
        let secure = match url.scheme() {
            "wss" | "https" => true,
            "ws" | "http" => false,
            other => return Err(invalid(format!("`{other}` is not a websocket scheme"))),
        };
        let host = url
            .host_str()
            .ok_or_else(|| invalid("the websocket URL names no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| invalid("the websocket URL names no port".into()))?;
        let tcp = match self.proxy.proxy_for(url) {
            Some(proxy) => tunnel(proxy, &host, port).await?,
            None => TcpStream::connect((host.as_str(), port)).await?,
        };
        let _ = tcp.set_nodelay(true);
        if !secure {
            return Ok(NetStream::Plain(tcp));
        }
        match &self.tls {
            #[cfg(feature = "rustls")]
            Tls::Rustls { websocket, .. } => {
                let name = rustls::pki_types::ServerName::try_from(host)
                    .map_err(|_| invalid("the websocket host is not a valid TLS name".into()))?;
                let tls = tokio_rustls::TlsConnector::from(websocket.clone())
                    .connect(name, tcp)
                    .await?;
                Ok(NetStream::Rustls(Box::new(tls)))
            }
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Tls::Native(connector) => {
                let tls = tokio_native_tls::TlsConnector::from(connector.clone())
                    .connect(&host, tcp)
                    .await
                    .map_err(std::io::Error::other)?;
                Ok(NetStream::Native(Box::new(tls)))
            }
            Tls::None => Err(invalid(
                "wss needs TLS: enable the `rustls` or `native-tls` feature".into(),
            )),
        }
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// A TCP connection to `host:port` through the HTTP proxy `proxy` (`CONNECT`, RFC 9110 §9.3.6),
/// with Basic credentials when the proxy URL carries them.
async fn tunnel(proxy: &Url, host: &str, port: u16) -> std::io::Result<TcpStream> {
    let proxy_host = proxy.host_str().unwrap_or_default();
    let proxy_port = proxy.port_or_known_default().unwrap_or(80);
    let mut tcp = TcpStream::connect((
        proxy_host.trim_start_matches('[').trim_end_matches(']'),
        proxy_port,
    ))
    .await?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if !proxy.username().is_empty() {
        let user = percent_encoding::percent_decode_str(proxy.username()).decode_utf8_lossy();
        let password = proxy
            .password()
            .map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let credentials = base64_encode(format!("{user}:{password}").as_bytes());
        request.push_str(&format!("Proxy-Authorization: Basic {credentials}\r\n"));
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await?;

    // Read the answer's head byte by byte: nothing of the tunnelled stream may be consumed.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_ANSWER {
            return Err(std::io::Error::other(
                "the proxy's answer to CONNECT is too long",
            ));
        }
        let mut byte = [0u8; 1];
        if tcp.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection during CONNECT",
            ));
        }
        head.push(byte[0]);
    }
    let status = std::str::from_utf8(&head)
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(tcp),
        Some(407) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the proxy requires authentication (407): put the credentials in the proxy URL",
        )),
        Some(status) => Err(std::io::Error::other(format!(
            "the proxy refused the tunnel ({status})"
        ))),
        None => Err(std::io::Error::other(
            "the proxy's answer to CONNECT is not HTTP",
        )),
    }
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials (the proxy's and
/// the OAuth token request's).
pub(crate) fn base64_encode(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
    }

    #[tokio::test]
    async fn websockets_tunnel_through_the_proxy_with_its_credentials() {
        use tokio::net::TcpListener;
        let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = proxy.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = proxy.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 512];
            while !seen.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\nhello")
                .await
                .unwrap();
            String::from_utf8(seen).unwrap()
        });
        let proxy_url = Url::parse(&format!("http://user:p%40ss@{addr}")).unwrap();
        let mut tcp = tunnel(&proxy_url, "webmessaging.mypurecloud.com", 443)
            .await
            .unwrap();
        let mut rest = [0u8; 5];
        tcp.read_exact(&mut rest).await.unwrap();
        assert_eq!(
            &rest, b"hello",
            "bytes after the proxy's answer belong to the tunnel"
        );
        let request = server.await.unwrap();
        assert!(request.starts_with("CONNECT webmessaging.mypurecloud.com:443 HTTP/1.1\r\n"));
        assert!(request.contains(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            base64_encode(b"user:p@ss")
        )));
    }
}
