//! The one websocket layer, beside `transport/`: connecting through the client's network
//! setup (TLS, roots, proxy), a time limit on every connect, handshake and send, keeping a
//! socket alive and noticing when it stops answering, and a reconnect backoff that grows
//! until a connection has stayed healthy for a while. Each flow speaks its own protocol on
//! top (the Web Messaging Guest API for guests, the Notifications API for callbacks).
//!
//! Time is tokio's, so tests run minutes of reconnects in milliseconds with
//! `tokio::time::pause`.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use url::Url;

use tokio_tungstenite::tungstenite::Error as WsError;

use crate::error::{Error, NetworkFailure};
use crate::net::{NetStream, Network};

/// An open websocket.
pub(crate) type Socket = WebSocketStream<NetStream>;

/// How a socket proves it is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ping {
    /// A websocket ping frame (RFC 6455 §5.5.2); the peer answers with a pong.
    Protocol,
    /// An application text frame the peer answers (the Notifications API's
    /// `{"message":"ping"}`).
    Text(&'static str),
}

/// The time limits and keep-alive of one kind of socket.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Connecting, TLS and the HTTP upgrade together.
    pub(crate) connect_timeout: Duration,
    /// Writing one frame.
    pub(crate) send_timeout: Duration,
    /// How often a ping is sent.
    pub(crate) ping_every: Duration,
    /// What a ping is.
    pub(crate) ping: Ping,
    /// No frame at all for this long (pongs and heartbeats included): the socket is dead.
    pub(crate) dead_after: Duration,
}

/// Opens a websocket to `url`: TCP (through the proxy if one applies), TLS for `wss`, and
/// the HTTP upgrade, all within `timeout`. `endpoint` names the socket in errors (never the
/// URL, which can carry ids).
pub(crate) async fn connect(
    network: &Network,
    endpoint: &'static str,
    url: &Url,
    headers: &[(HeaderName, HeaderValue)],
    timeout: Duration,
) -> Result<Socket, Error> {
    let fail = |message: String| Error::websocket(endpoint, message, false);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(format!("invalid websocket request: {e}")))?;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let open = async {
        let stream = network
            .connect(url)
            .await
            .map_err(|e| Error::websocket_network(endpoint, "could not connect", false, None, e))?;
        let (socket, _response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| handshake_failed(endpoint, e))?;
        Ok(socket)
    };
    match tokio::time::timeout(timeout, open).await {
        Ok(result) => result,
        Err(_) => Err(fail(format!(
            "no connection within {timeout:?} (connect, TLS and upgrade)"
        ))),
    }
}

/// The upgrade failed. A refusal keeps only its status: the answer's headers and body are
/// the server's, not for an error to carry.
fn handshake_failed(endpoint: &'static str, err: WsError) -> Error {
    let message = "the websocket handshake failed";
    match err {
        WsError::Http(answer) => Error::websocket_network(
            endpoint,
            message,
            false,
            Some(NetworkFailure::Handshake),
            std::io::Error::other(format!("the server answered {}", answer.status())),
        ),
        other => Error::websocket_network(endpoint, message, false, None, other),
    }
}

/// An open socket that keeps itself alive: [`Connection::recv`] sends pings on schedule
/// while it waits, and fails once nothing was heard for `dead_after`.
pub(crate) struct Connection {
    socket: Socket,
    limits: Limits,
    endpoint: &'static str,
    last_heard: Instant,
    next_ping: Instant,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects (see [`connect`]) and starts the keep-alive clock.
    pub(crate) async fn open(
        network: &Network,
        endpoint: &'static str,
        url: &Url,
        headers: &[(HeaderName, HeaderValue)],
        limits: Limits,
    ) -> Result<Self, Error> {
        let socket = connect(network, endpoint, url, headers, limits.connect_timeout).await?;
        let now = Instant::now();
        Ok(Self {
            socket,
            endpoint,
            last_heard: now,
            next_ping: now + limits.ping_every,
            limits,
        })
    }

    fn lost(&self, message: impl Into<String>) -> Error {
        Error::websocket(self.endpoint, message, true)
    }

    /// The socket broke: `err` is kept as the error's source.
    fn broke(&self, message: &str, err: WsError) -> Error {
        Error::websocket_network(self.endpoint, message, true, None, err)
    }

    /// Sends one text frame within the send timeout.
    pub(crate) async fn send_text(&mut self, text: String) -> Result<(), Error> {
        let limit = self.limits.send_timeout;
        match tokio::time::timeout(limit, self.socket.send(Message::text(text))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.broke("sending failed", e)),
            Err(_) => Err(self.lost(format!("a frame could not be sent within {limit:?}"))),
        }
    }

    /// The next text frame. Meanwhile pings go out on schedule; pongs, pings and other
    /// control frames count as signs of life. Fails when the peer closes the socket, the
    /// socket breaks, or nothing was heard for `dead_after`.
    ///
    /// Cancel-safe: dropping the future loses no frame.
    pub(crate) async fn recv(&mut self) -> Result<String, Error> {
        loop {
            let dead_at = self.last_heard + self.limits.dead_after;
            tokio::select! {
                frame = self.socket.next() => {
                    self.last_heard = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                        Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                            Ok(text) => return Ok(text),
                            Err(_) => continue,
                        },
                        Some(Ok(Message::Close(frame))) => {
                            let why = frame.map(|f| format!(" ({} {})", u16::from(f.code), f.reason)).unwrap_or_default();
                            return Err(self.lost(format!("the peer closed the socket{why}")));
                        }
                        Some(Ok(_)) => continue, // ping, pong, raw frame: alive
                        Some(Err(e)) => return Err(self.broke("the socket failed", e)),
                        None => return Err(self.lost("the socket closed")),
                    }
                }
                () = tokio::time::sleep_until(self.next_ping) => {
                    self.next_ping = Instant::now() + self.limits.ping_every;
                    let ping = match self.limits.ping {
                        Ping::Protocol => Message::Ping(Vec::new().into()),
                        Ping::Text(text) => Message::text(text),
                    };
                    let limit = self.limits.send_timeout;
                    match tokio::time::timeout(limit, self.socket.send(ping)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(self.broke("a ping could not be sent", e)),
                        Err(_) => return Err(self.lost(format!("a ping could not be sent within {limit:?}"))),
                    }
                }
                () = tokio::time::sleep_until(dead_at) => {
                    return Err(self.lost(format!(
                        "nothing heard for {:?}: the socket stopped answering",
                        self.limits.dead_after
                    )));
                }
            }
        }
    }

    /// Closes the socket politely (a close frame, within the send timeout).
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(self.limits.send_timeout, self.socket.close(None)).await;
    }
}

/// When to reconnect: waits grow from `min` to `max` (with jitter) after every failed or
/// short-lived connection, and start over only once a connection stayed up for
/// `healthy_after` (a socket that opens and closes at once must not reset the backoff).
pub(crate) struct Reconnect {
    min: Duration,
    max: Duration,
    healthy_after: Duration,
    waits: Box<dyn Iterator<Item = Duration> + Send + Sync>,
    connected_at: Option<Instant>,
    attempts: u64,
}

impl std::fmt::Debug for Reconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnect")
            .field("min", &self.min)
            .field("max", &self.max)
            .field("healthy_after", &self.healthy_after)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Reconnect {
    pub(crate) fn new(min: Duration, max: Duration, healthy_after: Duration) -> Self {
        Self {
            min,
            max,
            healthy_after,
            waits: Box::new(crate::transport::endless_backoff(min, max, true)),
            connected_at: None,
            attempts: 0,
        }
    }

    /// A connection is up.
    pub(crate) fn connected(&mut self) {
        self.connected_at = Some(Instant::now());
    }

    /// How long to wait before the next attempt, after a connection ended or failed.
    pub(crate) fn next_wait(&mut self) -> Duration {
        if let Some(since) = self.connected_at.take() {
            if since.elapsed() >= self.healthy_after {
                self.waits = Box::new(crate::transport::endless_backoff(self.min, self.max, true));
            }
        }
        self.attempts += 1;
        self.waits.next().unwrap_or(self.max)
    }

    /// Reconnect attempts so far.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn attempts(&self) -> u64 {
        self.attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A websocket server on loopback that accepts one socket and counts the pings it gets,
    /// answering none of them: a socket that stops answering after the upgrade.
    async fn silent_server() -> (Url, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("ws://{}/", listener.local_addr().unwrap())).unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut socket = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let mut pings = 0;
            while let Some(Ok(frame)) = socket.next().await {
                if frame.is_text() {
                    pings += 1;
                }
            }
            pings
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_refused_connect_is_classified_and_keeps_its_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("ws://127.0.0.1:{port}/?deploymentId=secret-id")).unwrap();
        let network = Network::new(&Default::default()).unwrap();
        let err = connect(&network, "test socket", &url, &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            err.network_failure(),
            Some(NetworkFailure::Refused),
            "{err}"
        );
        assert!(!err.may_have_been_sent());
        let cause = std::error::Error::source(&err).expect("the cause is kept");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        let shown = format!("{err} {err:?}");
        assert!(shown.contains("connection refused"), "{shown}");
        assert!(
            !shown.contains("secret-id") && !shown.contains("127.0.0.1"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn a_refused_upgrade_keeps_only_its_status() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("ws://{}/", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 2048];
            let _ = tcp.read(&mut buf).await;
            let body = "token tok-secret-123 expired";
            let answer = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(answer.as_bytes()).await;
        });
        let network = Network::new(&Default::default()).unwrap();
        let err = connect(&network, "test socket", &url, &[], Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(
            err.network_failure(),
            Some(NetworkFailure::Handshake),
            "{err}"
        );
        let mut shown = format!("{err} {err:?}");
        let mut next = std::error::Error::source(&err);
        while let Some(cause) = next {
            shown.push_str(&format!(" {cause} {cause:?}"));
            next = cause.source();
        }
        assert!(shown.contains("401"), "{shown}");
        assert!(!shown.contains("tok-secret-123"), "{shown}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_stops_answering_is_declared_dead_after_its_pings() {
        let (url, server) = silent_server().await;
        let network = Network::new(&Default::default()).unwrap();
        let limits = Limits {
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(10),
            ping_every: Duration::from_secs(30),
            ping: Ping::Text(r#"{"message":"ping"}"#),
            dead_after: Duration::from_secs(95),
        };
        let mut conn = Connection::open(&network, "test socket", &url, &[], limits)
            .await
            .unwrap();
        let started = Instant::now();
        let err = conn.recv().await.unwrap_err();
        assert!(err.to_string().contains("stopped answering"), "{err}");
        assert_eq!(started.elapsed(), Duration::from_secs(95));
        drop(conn);
        assert_eq!(server.await.unwrap(), 3, "pings at 30, 60 and 90 s");
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_grows_across_short_connections_and_resets_after_a_healthy_one() {
        let mut r = Reconnect::new(
            Duration::from_millis(500),
            Duration::from_secs(30),
            Duration::from_secs(60),
        );
        let mut waits = Vec::new();
        for _ in 0..8 {
            r.connected(); // opens, then closes at once
            tokio::time::advance(Duration::from_millis(10)).await;
            waits.push(r.next_wait());
        }
        assert!(waits[7] >= Duration::from_secs(15), "{waits:?}");
        r.connected();
        tokio::time::advance(Duration::from_secs(61)).await;
        let after_healthy = r.next_wait();
        assert!(after_healthy <= Duration::from_secs(1), "{after_healthy:?}");
        assert_eq!(r.attempts(), 9);
    }
}
