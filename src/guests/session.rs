//! A guest's session on the Web Messaging Guest API websocket.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{ApiError, Error, ErrorBody};
use crate::region::Region;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a guest session keeps its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSessionOptions {
    /// The `Origin` header (deployments can restrict allowed origins).
    pub origin: Option<String>,
    /// How often an `echo` keeps an idle socket alive. Default 30 s.
    pub echo_interval: Duration,
    /// How long to wait for the platform's answer to one request. Default 10 s.
    pub response_timeout: Duration,
    /// Attempts per send across reconnects and 429s. Default 5.
    pub max_attempts: u32,
    /// First wait before reconnecting, doubling up to `max_reconnect_wait`. Default 250 ms.
    pub reconnect_wait: Duration,
    /// Longest wait before reconnecting. Default 10 s.
    pub max_reconnect_wait: Duration,
}

impl Default for GuestSessionOptions {
    fn default() -> Self {
        Self {
            origin: None,
            echo_interval: Duration::from_secs(30),
            response_timeout: Duration::from_secs(10),
            max_attempts: 5,
            reconnect_wait: Duration::from_millis(250),
            max_reconnect_wait: Duration::from_secs(10),
        }
    }
}

/// What `configureSession` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// `false` when an existing session was resumed.
    pub new_session: bool,
    /// The platform's limit on custom attribute bytes per message, when it says.
    pub max_custom_data_bytes: Option<u64>,
}

/// The URL of a region's Web Messaging Guest API: `wss://webmessaging.{domain}/v1`.
pub fn web_messaging_uri(region: Region) -> String {
    format!("wss://webmessaging.{}/v1", region.domain())
}

struct Config {
    url: String,
    deployment_id: String,
    token: SecretString,
    options: GuestSessionOptions,
}

/// One guest session: configured on connect, resumed (same token) after a dropped socket.
/// The guest token never appears in `Debug` output, errors or logs.
pub struct GuestSession {
    config: Arc<Config>,
    socket: Arc<Mutex<Option<Socket>>>,
    info: SessionInfo,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for GuestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestSession")
            .field("deployment_id", &self.config.deployment_id)
            .field("token", &"[REDACTED]")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Drop for GuestSession {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

fn socket_error(e: impl fmt::Display) -> Error {
    Error::websocket("web messaging guest session", e.to_string(), true)
}

impl GuestSession {
    /// Connects to `base_uri` (see [`web_messaging_uri`]) for `deployment_id` and configures
    /// (or resumes) the session of `token`, the guest token the caller keeps to resume later.
    pub async fn connect(
        base_uri: &str,
        deployment_id: &str,
        token: impl Into<String>,
        options: GuestSessionOptions,
    ) -> Result<GuestSession, Error> {
        let token = SecretString::from(token.into());
        if token.expose_secret().is_empty() || token.expose_secret().len() > 2048 {
            return Err(crate::ValidationError::single(
                "token",
                "length",
                "the guest token is 1 to 2048 characters",
            )
            .into());
        }
        let mut url = url::Url::parse(base_uri)
            .map_err(|e| Error::config(format!("{base_uri:?} is not a URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("deploymentId", deployment_id)
            .append_pair(
                "application",
                concat!("genesys-cloud-rust-", env!("CARGO_PKG_VERSION")),
            );
        let config = Arc::new(Config {
            url: url.to_string(),
            deployment_id: deployment_id.to_owned(),
            token,
            options,
        });
        let mut socket = open(&config).await?;
        let info = configure(&config, &mut socket).await?;
        let socket = Arc::new(Mutex::new(Some(socket)));
        let heartbeat = tokio::spawn(heartbeat(config.clone(), socket.clone()));
        Ok(GuestSession {
            config,
            socket,
            info,
            heartbeat,
        })
    }

    /// What `configureSession` answered on connect.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Sends `attributes` with an `Event` message (no visible text) and waits until the
    /// platform accepts it. A dropped socket is reopened and the session resumed; a 429
    /// waits the platform's `retryAfter`; both within `max_attempts`.
    pub async fn send_attributes(
        &self,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let mut waits = crate::transport::endless_backoff(
            self.config.options.reconnect_wait,
            self.config.options.max_reconnect_wait,
            true,
        );
        let mut last = None;
        for _ in 0..self.config.options.max_attempts.max(1) {
            let mut guard = self.socket.lock().await;
            if guard.is_none() {
                match open(&self.config).await {
                    Ok(mut socket) => match configure(&self.config, &mut socket).await {
                        Ok(_) => *guard = Some(socket),
                        Err(err) if err.is_retryable() => last = Some(err),
                        Err(err) => return Err(err),
                    },
                    Err(err) => last = Some(err),
                }
            }
            let Some(socket) = guard.as_mut() else {
                drop(guard);
                tokio::time::sleep(
                    waits
                        .next()
                        .unwrap_or(self.config.options.max_reconnect_wait),
                )
                .await;
                continue;
            };
            let tracing_id = uuid::Uuid::new_v4().to_string();
            let frame = json!({
                "action": "onMessage",
                "token": self.config.token.expose_secret(),
                "tracingId": tracing_id,
                "time": jiff::Timestamp::now().to_string(),
                "message": {
                    "type": "Event",
                    "events": [{ "eventType": "Presence", "presence": { "type": "Join" } }],
                    "channel": { "metadata": { "customAttributes": attributes } },
                },
            });
            match request(&self.config, socket, &frame, &tracing_id).await {
                Ok(_) => return Ok(()),
                Err(Failure::Lost(err)) => {
                    *guard = None;
                    drop(guard);
                    tracing::debug!(error = %err, "guest socket lost; resuming the session");
                    last = Some(err);
                    tokio::time::sleep(
                        waits
                            .next()
                            .unwrap_or(self.config.options.max_reconnect_wait),
                    )
                    .await;
                }
                Err(Failure::Throttled(wait)) => {
                    drop(guard);
                    last = Some(Error::rate_limited(
                        Arc::from("web messaging onMessage"),
                        1,
                        Some(wait),
                        None,
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(Failure::Refused(err)) => return Err(err),
            }
        }
        Err(last.unwrap_or_else(|| socket_error("no attempt was made")))
    }

    /// Ends the session on the platform and closes the socket.
    pub async fn close(self) -> Result<(), Error> {
        let mut guard = self.socket.lock().await;
        if let Some(socket) = guard.as_mut() {
            let frame = json!({ "action": "closeSession", "token": self.config.token.expose_secret(), "closeAllConnections": false });
            socket
                .send(Message::text(frame.to_string()))
                .await
                .map_err(socket_error)?;
            let _ = socket.close(None).await;
        }
        *guard = None;
        Ok(())
    }
}

/// How one request ended, when not accepted.
enum Failure {
    /// The socket is gone: reconnect and resume.
    Lost(Error),
    /// 429: wait this long.
    Throttled(Duration),
    /// The platform said no.
    Refused(Error),
}

async fn open(config: &Config) -> Result<Socket, Error> {
    let mut req = config
        .url
        .as_str()
        .into_client_request()
        .map_err(socket_error)?;
    if let Some(origin) = &config.options.origin {
        let value = HeaderValue::from_str(origin)
            .map_err(|_| Error::config(format!("{origin:?} is not a valid Origin")))?;
        req.headers_mut().insert("Origin", value);
    }
    let (socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(socket_error)?;
    Ok(socket)
}

async fn configure(config: &Config, socket: &mut Socket) -> Result<SessionInfo, Error> {
    let tracing_id = uuid::Uuid::new_v4().to_string();
    let frame = json!({
        "action": "configureSession",
        "deploymentId": config.deployment_id,
        "token": config.token.expose_secret(),
        "tracingId": tracing_id,
    });
    match request(config, socket, &frame, &tracing_id).await {
        Ok(body) => Ok(SessionInfo {
            new_session: body["newSession"].as_bool().unwrap_or(true),
            max_custom_data_bytes: body["maxCustomDataBytes"].as_u64(),
        }),
        Err(Failure::Lost(err) | Failure::Refused(err)) => Err(err),
        Err(Failure::Throttled(wait)) => Err(Error::rate_limited(
            Arc::from("web messaging configureSession"),
            1,
            Some(wait),
            None,
        )),
    }
}

/// Sends `frame` and reads until the answer carrying `tracing_id` (other frames, such as
/// agent messages, are skipped). The answer's body on success.
async fn request(
    config: &Config,
    socket: &mut Socket,
    frame: &Value,
    tracing_id: &str,
) -> Result<Value, Failure> {
    socket
        .send(Message::text(frame.to_string()))
        .await
        .map_err(|e| Failure::Lost(socket_error(e)))?;
    let deadline = tokio::time::Instant::now() + config.options.response_timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let text = match next {
            Err(_) => {
                return Err(Failure::Lost(socket_error(
                    "no answer within the response timeout",
                )))
            }
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => {
                return Err(Failure::Lost(socket_error("the socket closed")))
            }
            Ok(Some(Err(e))) => return Err(Failure::Lost(socket_error(e))),
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
        };
        let Ok(answer) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let class = answer["class"].as_str().unwrap_or_default();
        if class == "SessionExpiredEvent" {
            return Err(Failure::Refused(Error::invalid_state(
                "the guest session",
                "expired",
                Some("start a new session with a new token".into()),
            )));
        }
        let ours = answer["tracingId"].as_str() == Some(tracing_id);
        let untraced_error = answer["tracingId"].is_null()
            && answer["type"] == "response"
            && answer["code"].as_u64().is_some_and(|c| c >= 400);
        if !ours && !untraced_error {
            continue;
        }
        let code = answer["code"].as_u64().unwrap_or(200);
        if code < 300 {
            return Ok(answer["body"].clone());
        }
        if class == "TooManyRequestsErrorMessage" || code == 429 {
            let wait = answer["body"]["retryAfter"]
                .as_f64()
                .unwrap_or(1.0)
                .clamp(0.0, 60.0);
            return Err(Failure::Throttled(Duration::from_secs_f64(wait)));
        }
        let message = match &answer["body"] {
            Value::String(s) => s.clone(),
            other => other["errorMessage"]
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned),
        };
        let status = u16::try_from(code).unwrap_or(400);
        // The Guest API's error texts are fixed sentences, not echoes of what was sent.
        let body = ErrorBody {
            message_with_params: Some(message.clone()),
            message: Some(message),
            code: Some(code.to_string()),
            status: Some(status),
            ..ErrorBody::default()
        };
        return Err(Failure::Refused(Error::from(ApiError::new(
            Arc::from(format!(
                "web messaging {}",
                frame["action"].as_str().unwrap_or("request")
            )),
            status,
            None,
            Some(body),
        ))));
    }
}

/// Keeps an idle socket alive with `echo`; a failed echo drops the socket, so the next send
/// reconnects and resumes.
async fn heartbeat(config: Arc<Config>, socket: Arc<Mutex<Option<Socket>>>) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + config.options.echo_interval,
        config.options.echo_interval,
    );
    loop {
        tick.tick().await;
        let mut guard = socket.lock().await;
        let Some(live) = guard.as_mut() else { continue };
        let tracing_id = uuid::Uuid::new_v4().to_string();
        let frame = json!({
            "action": "echo",
            "token": config.token.expose_secret(),
            "tracingId": tracing_id,
            "message": { "type": "Text", "text": "ping" },
        });
        if let Err(Failure::Lost(_)) = request(&config, live, &frame, &tracing_id).await {
            *guard = None;
        }
    }
}
