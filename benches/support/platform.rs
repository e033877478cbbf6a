//! A stand-in for the Notifications API, fast enough to measure the client against: on the
//! thread of an [`http::Server`] (its CPU clock taken out of the process's), the REST side (create a channel, `PUT` its subscriptions, answering
//! `ChannelTopicEntityListing`; `HEAD`, a token's listing) and the channel's websocket,
//! which answers the client's `{"message":"ping"}` and, when told, sends a burst of frames
//! as fast as the socket takes them, cycling over the channel's topics.
//!
//! Each frame is a callback event as the platform sends it on
//! `v2.routing.queues.{id}.conversations.callbacks`: `{topicName, version, eventBody,
//! metadata}` with a `QueueConversationCallbackEventTopicCallbackConversation` body (the
//! model Genesys's `notificationMappings.json` names for the topic). A stamped burst
//! gives every event its own conversation id, which carries the time it was sent
//! ([`sent_at`]), for latencies measured where the event is handled.
#![allow(dead_code)] // each bench uses part of it

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::http;

/// A burst of `events` frames for the socket of one channel; `stamped`: each with a
/// conversation id of its own, carrying the time it was sent.
struct Burst {
    events: usize,
    stamped: bool,
    /// Sent at this rate (one flushed frame at a time); `None`: as fast as they go.
    per_second: Option<u32>,
}

#[derive(Default)]
struct PlatformState {
    channels: usize,
    /// Topics per channel, as its last `PUT .../subscriptions` set them.
    topics: HashMap<String, Vec<String>>,
    /// The burst queue of each channel's open socket.
    sockets: HashMap<String, mpsc::UnboundedSender<Burst>>,
}

pub struct Platform {
    /// The REST side (`http::Server`), whose thread also runs the channels' websockets.
    server: http::Server,
    /// The REST address (`http://` it for the client's base URLs).
    pub rest: SocketAddr,
    state: Arc<Mutex<PlatformState>>,
}

impl Platform {
    /// Starts the stand-in on its own thread.
    pub fn start() -> Platform {
        let state = Arc::new(Mutex::new(PlatformState::default()));
        let ws = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let ws_addr = ws.local_addr().expect("ws addr");
        let shared = state.clone();
        let server = http::Server::start("platform", move || {
            let sockets = shared.clone();
            let accept = async move {
                ws.set_nonblocking(true).expect("a non-blocking listener");
                let ws = TcpListener::from_std(ws).expect("a tokio listener");
                while let Ok((stream, _)) = ws.accept().await {
                    tokio::task::spawn_local(serve_socket(stream, sockets.clone()));
                }
            };
            let route = move |req: &http::Request<'_>| answer_rest(req, &shared, ws_addr);
            (route, accept)
        });
        Platform {
            rest: server.addr,
            server,
            state,
        }
    }

    /// The platform thread's CPU time so far.
    pub fn cpu(&self) -> Duration {
        self.server.cpu()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PlatformState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of the channel made last (a subscription's, right after it was made).
    pub fn last_channel(&self) -> String {
        format!("bench-channel-{}", self.lock().channels)
    }

    /// Sends `events` frames on the socket of `channel`.
    pub fn burst(&self, channel: &str, events: usize) {
        self.send_burst(
            channel,
            Burst {
                events,
                stamped: false,
                per_second: None,
            },
        );
    }

    /// [`burst`](Self::burst), each event a conversation of its own, stamped with the time
    /// it was sent (read back with [`sent_at`]).
    pub fn stamped_burst(&self, channel: &str, events: usize) {
        self.send_burst(
            channel,
            Burst {
                events,
                stamped: true,
                per_second: None,
            },
        );
    }

    /// [`stamped_burst`](Self::stamped_burst) at `per_second` events a second.
    pub fn paced_burst(&self, channel: &str, events: usize, per_second: u32) {
        self.send_burst(
            channel,
            Burst {
                events,
                stamped: true,
                per_second: Some(per_second.max(1)),
            },
        );
    }

    /// Waits until `channel` has subscriptions and a socket (at most 30 s).
    pub fn wait_ready(&self, channel: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let state = self.lock();
                let subscribed = state.topics.get(channel).is_some_and(|t| !t.is_empty());
                if subscribed && state.sockets.contains_key(channel) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{channel} never got its subscriptions"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// How many channels were made so far.
    pub fn channels_made(&self) -> usize {
        self.lock().channels
    }

    fn send_burst(&self, channel: &str, burst: Burst) {
        // The socket registers itself just after its handshake, on the platform's thread.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(socket) = self.lock().sockets.get(channel) {
                socket.send(burst).expect("the socket is open");
                return;
            }
            assert!(Instant::now() < deadline, "no socket on {channel}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The REST side: channels and their subscriptions (the Notifications API's shapes).
fn answer_rest(
    req: &http::Request<'_>,
    state: &Mutex<PlatformState>,
    ws: SocketAddr,
) -> http::Response {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let json = |status, body: Value| http::Response::json("notifications", status, &body);
    let rest = req.path.strip_prefix("/api/v2/notifications/channels");
    match (req.method, rest) {
        // `Channel`: id, connectUri, expires (24 hours).
        ("POST", Some("")) => {
            state.channels += 1;
            let id = format!("bench-channel-{}", state.channels);
            let expires = genesys_cloud::jiff::Timestamp::now()
                + genesys_cloud::jiff::SignedDuration::from_hours(24);
            json(
                200,
                json!({ "id": id, "connectUri": format!("ws://{ws}/channels/{id}"), "expires": expires.to_string() }),
            )
        }
        ("GET", Some("")) => json(200, json!({ "entities": [] })),
        (method, Some(rest)) => {
            let rest = rest.trim_start_matches('/');
            let (id, subscriptions) = match rest.split_once('/') {
                Some((id, "subscriptions")) => (id.to_owned(), true),
                _ => (rest.to_owned(), false),
            };
            match (method, subscriptions) {
                ("HEAD", false) => json(200, json!({})), // the server sends no body to a HEAD
                // `ChannelTopicEntityListing`: the topics now subscribed.
                ("PUT", true) => {
                    let wanted: Vec<Value> = serde_json::from_slice(req.body).unwrap_or_default();
                    let topics: Vec<String> = wanted
                        .iter()
                        .filter_map(|t| t["id"].as_str().map(str::to_owned))
                        .collect();
                    let entities: Vec<Value> = topics.iter().map(|t| json!({ "id": t })).collect();
                    state.topics.insert(id, topics);
                    json(200, json!({ "entities": entities }))
                }
                ("DELETE", true) => {
                    state.topics.remove(&id);
                    json(200, json!({}))
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

fn not_found() -> http::Response {
    http::Response::json(
        "not found",
        404,
        &json!({ "status": 404, "code": "not.found", "message": "The requested resource was not found." }),
    )
}

/// A channel's websocket: pongs, and bursts of frames over the channel's topics.
async fn serve_socket(stream: TcpStream, state: Arc<Mutex<PlatformState>>) {
    let _ = stream.set_nodelay(true);
    let mut channel = String::new();
    // The callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |req: &tokio_tungstenite::tungstenite::handshake::server::Request, res| {
        channel = req.uri().path().trim_start_matches("/channels/").to_owned();
        Ok(res)
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (tx, mut bursts) = mpsc::unbounded_channel();
    state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .sockets
        .insert(channel.clone(), tx);
    loop {
        tokio::select! {
            burst = bursts.recv() => {
                let Some(burst) = burst else { return };
                let frames: Vec<String> = {
                    let state = state.lock().unwrap_or_else(|p| p.into_inner());
                    let topics = state.topics.get(&channel).cloned().unwrap_or_default();
                    topics.iter().enumerate().map(|(i, t)| frame(t, i)).collect()
                };
                if frames.is_empty() {
                    continue; // nothing subscribed: nothing to send
                }
                let messages: Vec<Message> = frames.iter().map(|f| Message::text(f.clone())).collect();
                let mut last_stamp = 0;
                let started = tokio::time::Instant::now();
                for i in 0..burst.events {
                    if let Some(rate) = burst.per_second {
                        let due = started + Duration::from_secs_f64(i as f64 / f64::from(rate));
                        tokio::time::sleep_until(due).await;
                    }
                    let message = if burst.stamped {
                        Message::text(stamp(&frames[i % frames.len()], &mut last_stamp))
                    } else {
                        messages[i % messages.len()].clone()
                    };
                    if socket.feed(message).await.is_err() {
                        return;
                    }
                    if (burst.per_second.is_some() || i % 64 == 63) && socket.flush().await.is_err() {
                        return;
                    }
                }
                if socket.flush().await.is_err() {
                    return;
                }
            }
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) if text.contains("ping") => {
                    let pong = json!({ "topicName": "channel.metadata", "eventBody": { "message": "pong" } });
                    if socket.send(Message::text(pong.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}

/// The instant stamps count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The conversation id of event `i` of an unstamped burst: its last group is `i`.
const CONVERSATION_PREFIX: &str = "0b8f6a4e-8e57-4a8b-9d5c-";

/// `frame` with its conversation id's last group replaced by the nanoseconds from
/// [`epoch`] to now (strictly increasing, so every id is new).
fn stamp(frame: &str, last: &mut u64) -> String {
    let nanos = (epoch().elapsed().as_nanos() as u64).max(*last + 1);
    *last = nanos;
    let at =
        frame.find(CONVERSATION_PREFIX).expect("a conversation id") + CONVERSATION_PREFIX.len();
    let mut out = String::with_capacity(frame.len());
    out.push_str(&frame[..at]);
    out.push_str(&format!("{nanos:012x}"));
    out.push_str(&frame[at + 12..]);
    out
}

/// When the event of conversation `id` (from a stamped burst) was sent.
pub fn sent_at(conversation_id: &str) -> Option<Instant> {
    let hex = conversation_id.strip_prefix(CONVERSATION_PREFIX)?;
    let nanos = u64::from_str_radix(hex, 16).ok()?;
    Some(epoch() + Duration::from_nanos(nanos))
}

/// The queue id of topic `i`.
pub fn queue(i: usize) -> String {
    format!("6f1c2d3e-4a5b-4c6d-8e7f-{i:012x}")
}

/// The callback topic of queue `i`.
pub fn topic(i: usize) -> String {
    format!("v2.routing.queues.{}.conversations.callbacks", queue(i))
}

/// The event body: a scheduled callback on the queue, as
/// `QueueConversationCallbackEventTopicCallbackConversation`.
pub fn event_body(queue_id: &str, i: usize) -> Value {
    json!({
        "id": format!("{CONVERSATION_PREFIX}{i:012x}"),
        "participants": [
            {
                "id": "5f2c1d3e-4b6a-4c8d-9e0f-1a2b3c4d5e6f",
                "startTime": "2026-12-06T10:00:00.000Z",
                "purpose": "customer",
                "state": "connected",
                "direction": "inbound",
                "held": false,
                "wrapupRequired": false,
                "attributes": {},
                "provider": "PureCloud"
            },
            {
                "id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "name": "Callback",
                "startTime": "2026-12-06T10:00:00.000Z",
                "purpose": "acd",
                "state": "scheduled",
                "direction": "outbound",
                "held": false,
                "wrapupRequired": true,
                "queue": { "id": queue_id },
                "attributes": {},
                "provider": "PureCloud",
                "callbackNumbers": ["+13175550100"],
                "callbackUserName": "Customer",
                "skipEnabled": true,
                "externalCampaign": false,
                "timeoutSeconds": 0,
                "callbackScheduledTime": "2026-12-06T15:30:00.000Z"
            }
        ],
        "otherMediaUris": [],
        "divisions": [
            { "division": { "id": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b" }, "entities": [] }
        ]
    })
}

/// The frame of event `i` on `topic`.
pub fn frame(topic: &str, i: usize) -> String {
    let queue_id = topic
        .trim_start_matches("v2.routing.queues.")
        .trim_end_matches(".conversations.callbacks");
    json!({
        "topicName": topic,
        "version": "2",
        "eventBody": event_body(queue_id, i),
        "metadata": { "CorrelationId": format!("3f9a1c2e-7b4d-4e8f-9a0b-{i:012x}") }
    })
    .to_string()
}
