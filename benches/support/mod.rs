//! What the scale benches share (`benches/guest_pipeline.rs`, `benches/reconciliation.rs`,
//! each including this file with `#[path = "support/mod.rs"] mod support;`):
//!
//! - a counting global allocator: bytes live (as requested, without the allocator's own
//!   overhead) and their peak, with a thread able to opt out ([`alloc::uncounted`]) so
//!   that what a bench's local server holds is not counted as the client's;
//! - CPU clocks: the process's, and another thread's (the server's, taken out);
//! - a small HTTP/1.1 keep-alive server on its own thread and current-thread runtime,
//!   answering through a routing function and counting the requests of each route;
//! - environment knobs and percentiles.
//!
//! The server reads only what it needs to find each request (`\r\n\r\n` and
//! `Content-Length`; no chunked bodies: the crate sends lengths), hands the method, path,
//! query and body to the routing function, and writes its answer with a `Content-Length`.
//! Its thread does not count in the allocator, and its CPU clock is readable
//! ([`Server::cpu`]), so a bench subtracts it.

#![allow(dead_code)] // each bench uses part of it

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub mod alloc {
    //! A global allocator counting bytes live. Each allocation carries a header saying
    //! whether it was counted, so freeing it on another thread keeps the count right.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};

    pub struct Counting;

    static LIVE: AtomicIsize = AtomicIsize::new(0);
    static PEAK: AtomicIsize = AtomicIsize::new(0);
    static TRACK_PEAK: AtomicBool = AtomicBool::new(false);
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    thread_local! {
        static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
    }

    /// Bytes before the caller's pointer: at least 16, and a multiple of the alignment.
    fn header(layout: &Layout) -> usize {
        layout.align().max(16)
    }

    fn counted_here() -> bool {
        !UNCOUNTED.try_with(Cell::get).unwrap_or(false)
    }

    fn grew(by: isize) {
        let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        if TRACK_PEAK.load(Ordering::Relaxed) {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }

    // SAFETY: every block handed out is `header` bytes into a block of `System` of the
    // caller's size plus `header`, aligned to at least the caller's alignment (`header`
    // is a multiple of it); the byte just before the caller's pointer says whether the
    // block is counted, and is read back by `dealloc` and `realloc` with the same layout
    // arithmetic.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let off = header(&layout);
            let Ok(full) = Layout::from_size_align(layout.size() + off, off) else {
                return std::ptr::null_mut();
            };
            let base = System.alloc(full);
            if base.is_null() {
                return base;
            }
            let counted = counted_here();
            *base.add(off - 1) = u8::from(counted);
            if counted {
                ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
                grew(layout.size() as isize);
            }
            base.add(off)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let off = header(&layout);
            if *ptr.sub(1) == 1 {
                LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
            }
            let full = Layout::from_size_align_unchecked(layout.size() + off, off);
            System.dealloc(ptr.sub(off), full);
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let off = header(&layout);
            let counted = *ptr.sub(1) == 1;
            let full = Layout::from_size_align_unchecked(layout.size() + off, off);
            let base = System.realloc(ptr.sub(off), full, new_size + off);
            if base.is_null() {
                return base;
            }
            // The header moved with the block.
            if counted {
                grew(new_size as isize - layout.size() as isize);
            }
            base.add(off)
        }
    }

    /// Bytes live now (as requested by their owners), on counted threads.
    pub fn live() -> isize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Allocations made so far on counted threads.
    pub fn allocations() -> u64 {
        ALLOCATIONS.load(Ordering::Relaxed)
    }

    /// Starts following the peak of [`live`] from now (it costs an atomic per allocation,
    /// so it is off unless asked for).
    pub fn track_peak() {
        PEAK.store(live(), Ordering::Relaxed);
        TRACK_PEAK.store(true, Ordering::Relaxed);
    }

    /// The peak since [`track_peak`], and stops following it.
    pub fn peak() -> isize {
        TRACK_PEAK.store(false, Ordering::Relaxed);
        PEAK.load(Ordering::Relaxed).max(live())
    }

    /// This thread's allocations from now on are not counted (a bench's server thread).
    pub fn uncount_this_thread() {
        UNCOUNTED.with(|c| c.set(true));
    }

    /// `f`, with this thread's allocations not counted (what a bench builds for its
    /// server).
    pub fn uncounted<T>(f: impl FnOnce() -> T) -> T {
        let before = UNCOUNTED.with(|c| c.replace(true));
        let out = f();
        UNCOUNTED.with(|c| c.set(before));
        out
    }
}

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

// ---------------------------------------------------------------------------------------
// CPU clocks

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used here are valid.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({id}) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of every thread of the process, user and system.
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The calling thread's CPU clock id.
fn this_thread_clock() -> libc::clockid_t {
    let mut id: libc::clockid_t = 0;
    // SAFETY: pthread_self is this (live) thread.
    let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
    assert_eq!(rc, 0, "pthread_getcpuclockid failed");
    id
}

/// This process's user and system CPU time (`getrusage`).
pub fn usage() -> (Duration, Duration) {
    // SAFETY: an all-zero rusage is valid; getrusage writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    (time(usage.ru_utime), time(usage.ru_stime))
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

// ---------------------------------------------------------------------------------------
// The server

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
    cpu_clock: libc::clockid_t,
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
                alloc::uncount_this_thread();
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
                        this_thread_clock(),
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
        clock(self.cpu_clock)
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

// ---------------------------------------------------------------------------------------
// Knobs and figures

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        Err(_) => default,
    }
}

pub fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {s:?} is not a number"))
        })
        .collect()
}

/// Whether the bench runs only to show that it runs: `cargo test --bench X` (cargo
/// passes no `--bench`), `-- --quick`, or `<PREFIX>_QUICK=1`.
pub fn quick(prefix: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    !args.iter().any(|a| a == "--bench")
        || args.iter().any(|a| a == "--quick")
        || env_or(&format!("{prefix}_QUICK"), 0u8) != 0
}

/// The `p`-th percentile (0..=100) of sorted `v`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `n` as a bench id: a UUID whose last group is `n` in decimal (valid hex), with `kind`
/// in its first group, so the server can tell what an id names.
pub fn uuid_of(kind: u32, n: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{n:012}")
}

/// The `n` of [`uuid_of`].
pub fn index_of(id: &str) -> Option<usize> {
    id.get(24..36)?.parse().ok()
}
