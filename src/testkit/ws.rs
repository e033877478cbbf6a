//! Plumbing shared by the fake's websocket servers.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Accepts connections for ever, serving each on its own task. `name` labels log lines.
async fn accept_loop<F, Fut>(listener: TcpListener, name: &'static str, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            Err(e) => {
                // E.g. too many open files: wait a little rather than spin.
                tracing::debug!("FakeGenesys {name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A websocket server's listener on a free loopback port; stops accepting when dropped.
#[derive(Default)]
pub(crate) struct Listener {
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    /// Binds a free loopback port and serves each connection with `serve`. The port, or
    /// `None` (logged) when nothing could be bound.
    pub(crate) async fn start<F, Fut>(&self, name: &'static str, serve: F) -> Option<u16>
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!("FakeGenesys {name}: cannot bind the websocket: {e}");
                return None;
            }
        };
        let port = match listener.local_addr() {
            Ok(addr) => addr.port(),
            Err(e) => {
                tracing::warn!("FakeGenesys {name}: the websocket has no address: {e}");
                return None;
            }
        };
        let task = tokio::spawn(accept_loop(listener, name, serve));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Some(port)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(task) = self
            .task
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}
