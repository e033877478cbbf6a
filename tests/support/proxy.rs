//! A real HTTP proxy on loopback, for the proxy tests: `CONNECT host:port` tunnels (https,
//! and every websocket) and absolute-form forwarding (plain-http REST, as reqwest sends it),
//! with Basic credentials checked when it has some.
//!
//! The client never proxies loopback hosts, so tests point it at `fake.test:PORT`: the
//! proxy alone knows that name, and connects to `127.0.0.1:PORT`. A request that went
//! around the proxy cannot reach the fake at all.

#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The only name the proxy resolves (to 127.0.0.1).
pub const FAKE_HOST: &str = "fake.test";

/// What the proxy was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `CONNECT host:port`, answered 200.
    Tunnel(String),
    /// An absolute-form request (`GET http://host:port/path`), forwarded.
    Forward { method: String, url: String },
    /// Refused with 407 (credentials missing or wrong).
    Refused(String),
}

pub struct TestProxy {
    addr: SocketAddr,
    credentials: Option<(String, String)>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestProxy {
    /// A proxy on a loopback port of its own; with `credentials`, every request must carry
    /// them (`Proxy-Authorization: Basic`).
    pub async fn start(credentials: Option<(&str, &str)>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected = credentials
            .as_ref()
            .map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (log, expected) = (log.clone(), expected.clone());
                tokio::spawn(async move {
                    let _ = serve(client, log, expected).await;
                });
            }
        });
        TestProxy {
            addr,
            credentials,
            seen,
        }
    }

    /// The proxy's URL, with its credentials (percent-encoded) when it has some.
    pub fn url(&self) -> String {
        match &self.credentials {
            Some((user, password)) => {
                format!("http://{}:{}@{}", encode(user), encode(password), self.addr)
            }
            None => format!("http://{}", self.addr),
        }
    }

    /// The proxy's URL with other credentials.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{}:{}@{}", encode(user), encode(password), self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Tunnel(target) => Some(target),
                _ => None,
            })
            .collect()
    }

    pub fn forwards(&self) -> Vec<(String, String)> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Forward { method, url } => Some((method, url)),
                _ => None,
            })
            .collect()
    }

    pub fn refused(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| matches!(s, Seen::Refused(_)))
            .count()
    }
}

/// `http://fake.test:PORT` for a loopback URL's port (`http://127.0.0.1:PORT/...`).
pub fn via_fake_host(loopback_url: &str) -> String {
    let mut url = url::Url::parse(loopback_url).unwrap();
    url.set_host(Some(FAKE_HOST)).unwrap();
    url.as_str().trim_end_matches('/').to_owned()
}

async fn serve(
    mut client: TcpStream,
    log: Arc<Mutex<Vec<Seen>>>,
    expected: Option<String>,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or("HTTP/1.1").to_owned(),
    );
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    if let Some(expected) = &expected {
        let given = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, v)| v.as_str());
        if given != Some(expected.as_str()) {
            log.lock().unwrap().push(Seen::Refused(target));
            return client
                .write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                      Proxy-Authenticate: Basic realm=\"test\"\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    }

    if method.eq_ignore_ascii_case("CONNECT") {
        let Some(upstream) = upstream_for(&target) else {
            return client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        };
        let mut upstream = TcpStream::connect(upstream).await?;
        log.lock().unwrap().push(Seen::Tunnel(target));
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        upstream.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }

    // Absolute-form: `GET http://fake.test:PORT/path HTTP/1.1`. One request per connection
    // (`Connection: close` upstream), so that every request passes through here.
    let Ok(url) = url::Url::parse(&target) else {
        return client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    };
    let authority = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(80)
    );
    let Some(upstream) = upstream_for(&authority) else {
        return client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
    };
    let mut upstream = TcpStream::connect(upstream).await?;
    log.lock().unwrap().push(Seen::Forward {
        method: method.clone(),
        url: target.clone(),
    });
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for (name, value) in &headers {
        let hop = ["proxy-authorization", "proxy-connection", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !hop {
            forwarded.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// 127.0.0.1 for `fake.test:PORT`; nothing else is reachable through this proxy.
fn upstream_for(authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    (host == FAKE_HOST).then_some(())?;
    Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?)))
}

/// The request head (through the blank line) and whatever came after it.
async fn read_head(client: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `s` percent-encoded as it goes into a URL's user information.
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn base64(input: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(input)
}
