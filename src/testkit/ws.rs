//! Plumbing shared by the fake's websocket servers.

use std::future::Future;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// Accepts connections for ever, serving each on its own task. `name` labels log lines.
pub(crate) async fn accept_loop<F, Fut>(listener: TcpListener, name: &'static str, serve: F)
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
