//! A small HTTP/1.1 keep-alive server for the benches that need more than a fixed answer
//! (`benches/guest_pipeline.rs`, `benches/reconciliation.rs`): on its own thread with its
//! own current-thread runtime, answering through a routing function and counting the
//! requests of each route. Its thread's CPU clock is readable ([`Server::cpu`], to take
//! out of the process's), and its thread does not count in [`live_heap`](super::live_heap)
//! (what it holds is not the client's memory).
//!
//! It reads only what it needs to find each request (`\r\n\r\n` and `Content-Length`;
//! no chunked bodies: the crate sends lengths), hands the method, path, query and body to
//! the routing function, and writes its answer with a `Content-Length`.

#![allow(dead_code)] // each bench uses part of it

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{cpu, live_heap};

/// A request as the routing function sees it.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

/// An answer: a route name (requests are counted by it), a status and a JSON body.
pub struct Response {
    pub route: &'static str,
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(route: &'static str, status: u16, body: &serde_json::Value) -> Response {
        Response {
            route,
            status,
            body: serde_json::to_vec(body).expect("a JSON value serializes"),
        }
    }

    pub fn bytes(route: &'static str, status: u16, body: Vec<u8>) -> Response {
        Response {
            route,
            status,
            body,
        }
    }
}

type Handler = dyn Fn(&Request<'_>) -> Response + Send + Sync;

pub struct Server {
    pub addr: SocketAddr,
    cpu_clock: cpu::ThreadClock,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
}

impl Server {
    /// Starts the server on its own thread. `setup` runs on that thread (what it builds
    /// is not counted as the client's memory) and returns the routing function and a
    /// future to run beside it on the server's runtime (another listener, say).
    pub fn start<S, H, Fut>(name: &str, setup: S) -> Server
    where
        S: FnOnce() -> (H, Fut) + Send + 'static,
        H: Fn(&Request<'_>) -> Response + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let counts: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let counted = counts.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                live_heap::uncount_this_thread();
                let (handler, extra) = setup();
                let handler: Arc<Handler> = Arc::new(handler);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    tokio::task::spawn_local(extra);
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1");
                    tx.send((
                        listener.local_addr().expect("local addr"),
                        cpu::ThreadClock::of_this_thread(),
                    ))
                    .expect("bench alive");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::task::spawn_local(serve_connection(
                            stream,
                            handler.clone(),
                            counted.clone(),
                        ));
                    }
                });
            })
            .expect("spawn the server thread");
        let (addr, cpu_clock) = rx.recv().expect("server started");
        Server {
            addr,
            cpu_clock,
            counts,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server thread's CPU time so far.
    pub fn cpu(&self) -> Duration {
        self.cpu_clock.cpu()
    }

    /// Requests answered so far, by route.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().unwrap().clone()
    }

    pub fn count(&self, route: &str) -> u64 {
        self.counts.lock().unwrap().get(route).copied().unwrap_or(0)
    }
}

async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    handler: Arc<Handler>,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a large body
        }
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut start = 0;
        while let Some((head, len)) = request_len(&buf[start..filled]) {
            let request = &buf[start..start + len];
            answer(request, head, &*handler, &counts, &mut out);
            start += len;
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// Where the head of the first complete request in `buf` ends and the request's length
/// (head + `Content-Length` body), if it is all there.
fn request_len(buf: &[u8]) -> Option<(usize, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut body = 0usize;
    for line in buf[..head_end].split(|&b| b == b'\n') {
        const NAME: &[u8] = b"content-length:";
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            body = std::str::from_utf8(&line[NAME.len()..])
                .ok()?
                .trim()
                .parse()
                .ok()?;
        }
    }
    (buf.len() >= head_end + body).then_some((head_end, head_end + body))
}

fn answer(
    request: &[u8],
    head: usize,
    handler: &Handler,
    counts: &Mutex<BTreeMap<&'static str, u64>>,
    out: &mut Vec<u8>,
) {
    let line_end = request.iter().position(|&b| b == b'\r').unwrap_or(0);
    let line = std::str::from_utf8(&request[..line_end]).unwrap_or("");
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let response = handler(&Request {
        method,
        path,
        query,
        body: &request[head..],
    });
    *counts.lock().unwrap().entry(response.route).or_default() += 1;
    let reason = match response.status {
        200 => "OK",
        404 => "Not Found",
        _ => "Other",
    };
    let body: &[u8] = if method == "HEAD" {
        &[]
    } else {
        &response.body
    };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\ninin-correlation-id: 3f9a1c2e-7b4d-4e8f-9a0b-1c2d3e4f5a6b\r\n\r\n",
            response.status,
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
}
