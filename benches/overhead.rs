//! The client's own CPU cost per request, against a bare `reqwest::Client` (issue #14).
//!
//! `cargo bench --bench overhead`; figures go in docs/PERFORMANCE.md ("Transport overhead
//! against a fast server").
//!
//! The server is a fixed-answer HTTP/1.1 keep-alive responder on its own thread with its
//! own current-thread runtime: it parses only enough to find where each request ends and
//! writes the same `200` (the `ParticipantAttributes` answer of flow 1, with an
//! `inin-correlation-id` header) to every request, whatever its path. Its thread's CPU
//! clock is read before and after each measurement and taken out of the process's CPU
//! time, so what is left is the client's: its runtime's workers, reqwest, hyper and, for
//! the crate, everything the crate adds. (The testkit's wiremock server, which the old
//! `benches/transport.rs` used, spends about 135 µs per request itself and hid all of it;
//! that bench is folded into this one.)
//!
//! Every request is the same `PATCH
//! /api/v2/conversations/messages/{c}/participants/{p}/attributes` with 10 attributes and
//! a bearer token, sent by each driver:
//!
//! - `bare reqwest`: a `reqwest::Client` (same `User-Agent`), body serialized per request,
//!   answer decoded into `serde_json::Value`;
//! - `crate raw`: `client.request_template(PATCH, ..).json(&body).send::<Value>()`;
//! - `crate flow`: `client.messaging().participant(c, p).patch_attributes(&patch)`, the
//!   patch built (validated, made canonical) per request as a caller would;
//! - `crate api` (with the `api` feature): the generated operation,
//!   `client.api().conversations().patch_conversations_message_participant_attributes(c, p)
//!   .body(model).send()`, the `ParticipantAttributes` model cloned per request (a caller
//!   builds one per request) and the answer decoded into that model, not a `Value`;
//! - `crate raw, model` (with `api`): `client.request_template(..)` sending the same model
//!   (cloned per request) and reading the answer as it: the model's own cost on both
//!   sides, so that `crate api` against it is what the generated call's path adds;
//! - `… +tracing`: the same on a second, identically built runtime whose worker threads
//!   have a `tracing_subscriber` fmt subscriber at INFO writing to `io::sink` as their
//!   default (the crate's clients are built with default settings, metrics always on).
//!
//! Each driver runs N tasks (concurrency 1, 16, 64) sending requests in a loop until a
//! shared count is reached. A round runs every driver at every concurrency, drivers
//! alternating slice by slice (a round's requests in 4 slices), the first driver rotating;
//! ratios are paired within a round (crate / bare of the same round and concurrency) and
//! their median over rounds is printed with min..max. The ratios are figures to record,
//! not asserts: the exit code is 0.
//!
//! After the table, criterion measures one group (`overhead`: bare and crate raw at each
//! concurrency) with `iter_custom` returning the client CPU time of `iters` requests, so
//! criterion's statistics and history apply to the same figure.
//!
//! Environment:
//!
//! | variable | default | what |
//! |---|---|---|
//! | `OVERHEAD_REQUESTS` | 20000 | requests per measurement (the warm-up sends a tenth) |
//! | `OVERHEAD_ROUNDS` | 5 | rounds |
//! | `OVERHEAD_SLICES` | 4 | slices per round, the drivers taking turns |
//! | `OVERHEAD_CONCURRENCY` | `1,16,64` | concurrencies |
//! | `OVERHEAD_WORKERS` | 2 | worker threads of the client runtimes (1: no work stealing, no allocator contention between workers) |
//! | `OVERHEAD_DRIVERS` | `bare,raw,flow,raw+tracing,flow+tracing`, and `raw-model`, `api` with the `api` feature | drivers (also `bare+tracing`, and `bare-timeout`: bare reqwest with a 30 s `timeout`, which arms a timer per request as the crate's attempt timeout does); the first is the reference of the ratios |
//! | `OVERHEAD_TABLE` | 1 | 0 skips the table |
//! | `OVERHEAD_CRITERION` | 1 | 0 skips criterion |
//!
//! For a profiler: `OVERHEAD_DRIVERS=raw OVERHEAD_CONCURRENCY=64 OVERHEAD_ROUNDS=1
//! OVERHEAD_CRITERION=0` runs one driver only (see docs/PERFORMANCE.md).

#[path = "support/cpu.rs"]
mod cpu;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use genesys_cloud::auth::StaticToken;
use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
use genesys_cloud::{Client, Method};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const TEMPLATE: &str =
    "/api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes";
const CONVERSATION: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";
const PARTICIPANT: &str = "5f2c1d3e-4b6a-4c8d-9e0f-1a2b3c4d5e6f";
const TOKEN: &str = "bench-access-token-6f1c9a2e4b7d4e0f8a3c5b2d9e1f7a6c";
const CORRELATION_ID: &str = "3f9a1c2e-7b4d-4e8f-9a0b-1c2d3e4f5a6b";
/// The crate's `User-Agent`, sent by the bare client too so that both send the same bytes.
const USER_AGENT: &str = genesys_cloud::transport::USER_AGENT;
/// The drivers of the table when `OVERHEAD_DRIVERS` is not set.
#[cfg(not(feature = "api"))]
const DEFAULT_DRIVERS: &str = "bare,raw,flow,raw+tracing,flow+tracing";
#[cfg(feature = "api")]
const DEFAULT_DRIVERS: &str = "bare,raw,raw-model,api,flow,raw+tracing,flow+tracing";

// ---------------------------------------------------------------------------------------
// The fixed-answer server

struct Server {
    addr: SocketAddr,
    cpu_clock: cpu::ThreadClock,
}

impl Server {
    /// Starts the responder on its own thread, answering every request with `body`.
    fn start(body: &[u8]) -> Server {
        let response: &'static [u8] = Vec::leak(
            [
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\ninin-correlation-id: {CORRELATION_ID}\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
                body,
            ]
            .concat(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("overhead-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1");
                    let me = cpu::ThreadClock::of_this_thread();
                    tx.send((listener.local_addr().expect("local addr"), me))
                        .expect("bench alive");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve_connection(stream, response));
                    }
                });
            })
            .expect("spawn the server thread");
        let (addr, thread) = rx.recv().expect("server started");
        Server {
            addr,
            cpu_clock: thread,
        }
    }

    fn cpu(&self) -> Duration {
        self.cpu_clock.cpu()
    }
}

/// Answers every request on `stream` with `response`, keeping the connection open. No
/// allocation per request; pipelined requests get their answers in one write.
async fn serve_connection(mut stream: tokio::net::TcpStream, response: &'static [u8]) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(response.len() * 4);
    loop {
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut start = 0;
        while let Some(len) = request_len(&buf[start..filled]) {
            start += len;
            out.extend_from_slice(response);
        }
        if !out.is_empty() {
            if stream.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            return; // a request larger than the buffer: not one of ours
        }
    }
}

/// The length of the first complete request in `buf` (head + `Content-Length` body), if
/// it is all there. Chunked bodies are not understood: every driver sends a length.
fn request_len(buf: &[u8]) -> Option<usize> {
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
    (buf.len() >= head_end + body).then_some(head_end + body)
}

// ---------------------------------------------------------------------------------------
// What is sent

/// The `ParticipantAttributes` body, serialized per request by the bare and raw drivers.
#[derive(Serialize)]
struct AttributesBody<'a> {
    attributes: &'a BTreeMap<String, String>,
}

fn schema() -> AttributeSchema {
    AttributeSchema::new()
        .key("customer_tier", KeySpec::string())
        .key("cart_value", KeySpec::number())
        .key("is_vip", KeySpec::boolean())
        .key("order_ref", KeySpec::string())
        .key("locale", KeySpec::string())
        .key("visits", KeySpec::number())
        .key("consented", KeySpec::boolean())
        .key("channel", KeySpec::string())
        .key("segment", KeySpec::string())
        .key("last_page", KeySpec::string())
}

/// The 10 attributes, set as a caller would set them.
fn build_patch(schema: &AttributeSchema) -> AttributePatch {
    AttributePatch::builder(schema)
        .set("customer_tier", "platinum")
        .set("cart_value", 1250.5)
        .set("is_vip", true)
        .set("order_ref", "ORD-2024-118392")
        .set("locale", "en-GB")
        .set("visits", 42)
        .set("consented", true)
        .set("channel", "web")
        .set(
            "segment",
            "returning customer, premium plan, renews 2027-01-08",
        )
        .set("last_page", "/checkout/payment")
        .build()
        .expect("the bench patch is valid")
}

struct Fixture {
    base: String,
    schema: AttributeSchema,
    /// The canonical attributes of [`build_patch`]: the bare and raw drivers send exactly
    /// the bytes the flow sends.
    attributes: BTreeMap<String, String>,
    /// The same attributes as the generated API's model.
    #[cfg(feature = "api")]
    model: genesys_cloud::api::models::ParticipantAttributes,
}

enum Target {
    Bare(reqwest::Client),
    Raw(Client),
    Flow(Client),
    #[cfg(feature = "api")]
    Api(Client),
    /// `client.request_template(..)` sending and reading the generated model.
    #[cfg(feature = "api")]
    RawModel(Client),
}

impl Target {
    async fn one(&self, fx: &Fixture) {
        match self {
            Target::Bare(http) => {
                let url = format!(
                    "{}/api/v2/conversations/messages/{CONVERSATION}/participants/{PARTICIPANT}/attributes",
                    fx.base
                );
                let body = serde_json::to_vec(&AttributesBody {
                    attributes: &fx.attributes,
                })
                .expect("serializable");
                let answer: serde_json::Value = http
                    .patch(url)
                    .bearer_auth(TOKEN)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("bare: sent")
                    .error_for_status()
                    .expect("bare: 2xx")
                    .json()
                    .await
                    .expect("bare: JSON answer");
                black_box(answer);
            }
            Target::Raw(client) => {
                let answer: serde_json::Value = client
                    .request_template(Method::PATCH, TEMPLATE, &[CONVERSATION, PARTICIPANT])
                    .json(&AttributesBody {
                        attributes: &fx.attributes,
                    })
                    .send()
                    .await
                    .expect("crate raw: answered");
                black_box(answer);
            }
            #[cfg(feature = "api")]
            Target::Api(client) => {
                use genesys_cloud::api::ApiExt;
                let answer = client
                    .api()
                    .conversations()
                    .patch_conversations_message_participant_attributes(CONVERSATION, PARTICIPANT)
                    .body(fx.model.clone())
                    .send()
                    .await
                    .expect("crate api: answered");
                black_box(answer);
            }
            #[cfg(feature = "api")]
            Target::RawModel(client) => {
                let answer: genesys_cloud::api::models::ParticipantAttributes = client
                    .request_template(Method::PATCH, TEMPLATE, &[CONVERSATION, PARTICIPANT])
                    .json(&fx.model.clone())
                    .send()
                    .await
                    .expect("crate raw-model: answered");
                black_box(answer);
            }
            Target::Flow(client) => {
                let patch = build_patch(&fx.schema);
                let held = client
                    .messaging()
                    .participant(CONVERSATION, PARTICIPANT)
                    .patch_attributes(&patch)
                    .await
                    .expect("crate flow: answered");
                black_box(held);
            }
        }
    }
}

struct Driver {
    name: &'static str,
    target: Arc<Target>,
    traced: bool,
}

// ---------------------------------------------------------------------------------------
// Measuring

struct Bench {
    fx: Arc<Fixture>,
    server: Server,
    plain: Runtime,
    traced: Runtime,
}

#[derive(Clone, Copy, Default)]
struct Sample {
    requests: usize,
    wall: Duration,
    client_cpu: Duration,
    server_cpu: Duration,
}

impl Sample {
    fn add(&mut self, other: &Sample) {
        self.requests += other.requests;
        self.wall += other.wall;
        self.client_cpu += other.client_cpu;
        self.server_cpu += other.server_cpu;
    }
    fn cpu_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
    fn server_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.requests as f64
    }
    fn wall_us(&self) -> f64 {
        self.wall.as_secs_f64() * 1e6 / self.requests as f64
    }
    fn rps(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
}

impl Bench {
    fn new() -> Bench {
        let schema = schema();
        let attributes = build_patch(&schema).attributes().clone();
        let answer = serde_json::to_vec(&AttributesBody {
            attributes: &attributes,
        })
        .expect("serializable");
        let server = Server::start(&answer);
        let runtime = |traced: bool| {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder
                .worker_threads(env_or("OVERHEAD_WORKERS", 2usize))
                .enable_all();
            if traced {
                let dispatch = tracing::Dispatch::new(
                    tracing_subscriber::fmt()
                        .with_max_level(tracing::Level::INFO)
                        .with_writer(std::io::sink)
                        .finish(),
                );
                builder.on_thread_start(move || {
                    // The subscriber stays this thread's default for the thread's life.
                    std::mem::forget(tracing::dispatcher::set_default(&dispatch));
                });
            }
            builder.build().expect("client runtime")
        };
        Bench {
            fx: Arc::new(Fixture {
                base: format!("http://{}", server.addr),
                schema,
                #[cfg(feature = "api")]
                model: {
                    let mut model = genesys_cloud::api::models::ParticipantAttributes::default();
                    model.attributes = Some(attributes.clone().into_iter().collect());
                    model
                },
                attributes,
            }),
            server,
            plain: runtime(false),
            traced: runtime(true),
        }
    }

    fn crate_client(&self) -> Client {
        Client::builder()
            .base_urls(&self.fx.base, &self.fx.base)
            .auth(StaticToken::new(TOKEN))
            .build()
            .expect("crate client")
    }

    fn driver(&self, name: &str) -> Driver {
        let (kind, traced) = match name.split_once('+') {
            Some((kind, "tracing")) => (kind, true),
            Some(_) => panic!("unknown driver {name:?}"),
            None => (name, false),
        };
        // Each driver has clients of its own: connection pools are not shared between
        // drivers, nor between runtimes.
        let (name, target) = match (kind, traced) {
            ("bare", false) => ("bare reqwest", Target::Bare(bare_client())),
            ("bare", true) => ("bare reqwest +tracing", Target::Bare(bare_client())),
            ("bare-timeout", false) => (
                "bare reqwest, timeout",
                Target::Bare(
                    bare_client_builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .expect("reqwest client"),
                ),
            ),
            ("raw", false) => ("crate raw", Target::Raw(self.crate_client())),
            ("raw", true) => ("crate raw +tracing", Target::Raw(self.crate_client())),
            ("flow", false) => ("crate flow", Target::Flow(self.crate_client())),
            ("flow", true) => ("crate flow +tracing", Target::Flow(self.crate_client())),
            #[cfg(feature = "api")]
            ("api", false) => ("crate api", Target::Api(self.crate_client())),
            #[cfg(feature = "api")]
            ("raw-model", false) => ("crate raw, model", Target::RawModel(self.crate_client())),
            #[cfg(feature = "api")]
            ("api", true) => ("crate api +tracing", Target::Api(self.crate_client())),
            _ => panic!(
                "unknown driver {name:?} (bare, raw, flow, each with +tracing; bare-timeout)"
            ),
        };
        Driver {
            name,
            target: Arc::new(target),
            traced,
        }
    }

    /// `requests` requests sent by `concurrency` tasks of `driver`.
    fn measure(&self, driver: &Driver, concurrency: usize, requests: usize) -> Sample {
        let rt = if driver.traced {
            &self.traced
        } else {
            &self.plain
        };
        let sent = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (target, fx, sent) = (driver.target.clone(), self.fx.clone(), sent.clone());
                async move {
                    while sent.fetch_add(1, Ordering::Relaxed) < requests {
                        target.one(&fx).await;
                    }
                }
            })
            .collect();
        let (server0, cpu0, wall0) = (self.server.cpu(), cpu::process_cpu(), Instant::now());
        rt.block_on(async {
            let handles: Vec<_> = tasks.into_iter().map(tokio::spawn).collect();
            for handle in handles {
                handle.await.expect("driver task");
            }
        });
        let (wall, cpu, server_cpu) = (
            wall0.elapsed(),
            cpu::process_cpu() - cpu0,
            self.server.cpu() - server0,
        );
        Sample {
            requests,
            wall,
            client_cpu: cpu.saturating_sub(server_cpu),
            server_cpu,
        }
    }
}

fn bare_client() -> reqwest::Client {
    bare_client_builder().build().expect("reqwest client")
}

fn bare_client_builder() -> reqwest::ClientBuilder {
    // The crate turns on reqwest's `rustls-no-provider` and hands reqwest its own TLS
    // configuration; a bare reqwest client in the same build needs a process-wide provider.
    #[cfg(feature = "rustls")]
    #[allow(deprecated)] // rustls's ring provider, as the crate's own (src/net/tls.rs says why)
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(USER_AGENT)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        Err(_) => default,
    }
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The table

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64], digits: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.digits$} [{:.digits$}..{:.digits$}]",
        median(v.to_vec()),
        min,
        max
    )
}

fn table(bench: &Bench, test_mode: bool) {
    let (requests, rounds, slices) = if test_mode {
        (200, 1, 2)
    } else {
        (
            env_or("OVERHEAD_REQUESTS", 20_000usize),
            env_or("OVERHEAD_ROUNDS", 5usize),
            env_or("OVERHEAD_SLICES", 4usize).max(1),
        )
    };
    let concurrencies: Vec<usize> = env_list("OVERHEAD_CONCURRENCY", "1,16,64")
        .iter()
        .map(|c| c.parse().expect("OVERHEAD_CONCURRENCY: numbers"))
        .collect();
    let drivers: Vec<Driver> = env_list("OVERHEAD_DRIVERS", DEFAULT_DRIVERS)
        .iter()
        .map(|name| bench.driver(name))
        .collect();

    println!(
        "overhead: {} drivers, concurrency {concurrencies:?}, {rounds} rounds of {requests} requests per driver and concurrency (in {slices} slices); {} cores; load average {}",
        drivers.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu::loadavg()
    );

    // Warm-up: connections opened (up to the highest concurrency), code and allocator warm.
    for driver in &drivers {
        for &c in &concurrencies {
            bench.measure(driver, c, (requests / 10).max(c));
        }
    }

    // samples[driver][concurrency][round]. A round's requests are sent in slices, the
    // drivers taking turns slice by slice (the first one rotating), so that a burst of
    // other work on this shared machine falls on every driver of the round alike.
    let mut samples = vec![vec![Vec::new(); concurrencies.len()]; drivers.len()];
    let started = Instant::now();
    for round in 0..rounds {
        for (ci, &c) in concurrencies.iter().enumerate() {
            let mut sums = vec![Sample::default(); drivers.len()];
            for slice in 0..slices {
                for k in 0..drivers.len() {
                    let d = (round + slice + k) % drivers.len();
                    sums[d].add(&bench.measure(&drivers[d], c, requests / slices));
                }
            }
            for (d, sum) in sums.into_iter().enumerate() {
                samples[d][ci].push(sum);
            }
        }
    }
    let elapsed = started.elapsed();

    let mut out = String::new();
    let header = |out: &mut String, title: &str| {
        let _ = write!(out, "\n{title}\n{:<24}", "driver");
        for c in &concurrencies {
            let _ = write!(out, "{:>26}", format!("c={c}"));
        }
        out.push('\n');
    };
    let per_driver = |out: &mut String, title: &str, f: &dyn Fn(&Sample) -> f64, digits| {
        header(out, title);
        for (d, driver) in drivers.iter().enumerate() {
            let _ = write!(out, "{:<24}", driver.name);
            for per_c in &samples[d] {
                let v: Vec<f64> = per_c.iter().map(f).collect();
                let _ = write!(out, "{:>26}", spread(&v, digits));
            }
            out.push('\n');
        }
    };
    per_driver(
        &mut out,
        "client CPU per request, µs: median [min..max] over rounds",
        &Sample::cpu_us,
        1,
    );
    per_driver(
        &mut out,
        "wall time per request, µs (= 1 / throughput)",
        &Sample::wall_us,
        1,
    );
    per_driver(&mut out, "requests/s", &Sample::rps, 0);
    per_driver(
        &mut out,
        "server thread CPU per request, µs (taken out of the client's)",
        &Sample::server_us,
        1,
    );
    let ratios = |out: &mut String, title: &str, f: &dyn Fn(&Sample, &Sample) -> f64| {
        header(out, title);
        for (d, driver) in drivers.iter().enumerate().skip(1) {
            let _ = write!(out, "{:<24}", driver.name);
            for (ci, per_c) in samples[d].iter().enumerate() {
                let v: Vec<f64> = per_c
                    .iter()
                    .zip(&samples[0][ci])
                    .map(|(s, reference)| f(s, reference))
                    .collect();
                let _ = write!(out, "{:>26}", spread(&v, 3));
            }
            out.push('\n');
        }
    };
    let reference = drivers[0].name;
    ratios(
        &mut out,
        &format!("client CPU per request / {reference}'s, paired by round: median [min..max]"),
        &|s, r| s.cpu_us() / r.cpu_us(),
    );
    ratios(
        &mut out,
        &format!("throughput / {reference}'s, paired by round: median [min..max]"),
        &|s, r| s.rps() / r.rps(),
    );
    println!("{out}");

    // What building the flow's patch costs on its own, on this thread.
    let this_thread = cpu::this_thread_cpu();
    let n = if test_mode { 100 } else { 20_000 };
    for _ in 0..n {
        black_box(build_patch(black_box(&bench.fx.schema)));
    }
    let per_patch = (cpu::this_thread_cpu() - this_thread).as_secs_f64() * 1e6 / n as f64;
    println!(
        "building the 10-attribute patch (part of every flow request): {per_patch:.2} µs CPU\nmeasured rounds took {:.1} s; load average now {}\n",
        elapsed.as_secs_f64(),
        cpu::loadavg()
    );
    #[cfg(feature = "api")]
    model_costs(&bench.fx, n);
}

/// What the generated call does that the raw one does not, each step on its own.
#[cfg(feature = "api")]
fn model_costs(fx: &Fixture, n: usize) {
    use genesys_cloud::api::models::ParticipantAttributes;
    use genesys_cloud::api::{ApiCall, Method as ApiMethod};
    let per = |f: &mut dyn FnMut()| {
        let start = cpu::this_thread_cpu();
        for _ in 0..n {
            f();
        }
        (cpu::this_thread_cpu() - start).as_secs_f64() * 1e6 / n as f64
    };
    let answer = serde_json::to_vec(&AttributesBody {
        attributes: &fx.attributes,
    })
    .expect("serializable");
    let steps: [(&str, f64); 5] = [
        (
            "clone the model (the caller's)",
            per(&mut || {
                black_box(black_box(&fx.model).clone());
            }),
        ),
        (
            "serialize the model (ApiCall::set_json_body)",
            per(&mut || {
                let mut call = ApiCall::new("bench", ApiMethod::Patch, TEMPLATE);
                call.set_json_body(black_box(&fx.model));
                black_box(call);
            }),
        ),
        (
            "serialize the borrowed map (the raw driver)",
            per(&mut || {
                black_box(
                    serde_json::to_vec(&AttributesBody {
                        attributes: black_box(&fx.attributes),
                    })
                    .expect("serializable"),
                );
            }),
        ),
        (
            "decode the answer as the model",
            per(&mut || {
                let model: ParticipantAttributes =
                    serde_json::from_slice(black_box(&answer)).expect("decodes");
                black_box(model);
            }),
        ),
        (
            "decode the answer as a Value (the raw driver)",
            per(&mut || {
                let value: serde_json::Value =
                    serde_json::from_slice(black_box(&answer)).expect("decodes");
                black_box(value);
            }),
        ),
    ];
    for (step, us) in steps {
        println!("{step}: {us:.2} µs CPU");
    }
}

// ---------------------------------------------------------------------------------------
// Criterion: one group, the same figure (client CPU time) for bare and crate raw. The
// table above is the main output (paired rounds, ratios, all drivers); criterion adds its
// statistics and saved baselines for the representative pair.

fn criterion_group(c: &mut Criterion, bench: &Bench) {
    let bare = bench.driver("bare");
    let raw = bench.driver("raw");
    let mut group = c.benchmark_group("overhead");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for concurrency in [1usize, 16, 64] {
        for (name, driver) in [("bare_reqwest_cpu", &bare), ("crate_raw_cpu", &raw)] {
            group.bench_with_input(
                BenchmarkId::new(name, concurrency),
                &concurrency,
                |b, &n| b.iter_custom(|iters| bench.measure(driver, n, iters as usize).client_cpu),
            );
        }
    }
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listing = args.iter().any(|a| a == "--list");
    let test_mode = args.iter().any(|a| a == "--test");
    let bench = Bench::new();
    if !listing && env_or("OVERHEAD_TABLE", 1u8) != 0 {
        table(&bench, test_mode);
    }
    if env_or("OVERHEAD_CRITERION", 1u8) != 0 {
        let mut c = Criterion::default().configure_from_args();
        criterion_group(&mut c, &bench);
        c.final_summary();
    }
}
