//! An HTTP server that answers like a flow's Data Action call, so flow tests run without
//! Genesys Cloud: `POST /simulate/{action}` with the flow's input JSON returns the output
//! the flow would see, or the platform's error shape.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{platform_error, LocalExecutor};
use crate::error::Error;

/// Serves [`LocalExecutor`]s by name.
///
/// ```no_run
/// use genesys_cloud::nodes::{simulator::Simulator, DataAction, LocalExecutor};
///
/// # async fn run(client: genesys_cloud::Client, action: DataAction) -> Result<(), genesys_cloud::Error> {
/// let running = Simulator::new()
///     .action("lookup", LocalExecutor::new(client, action))
///     .serve(([127, 0, 0, 1], 8080).into())
///     .await?;
/// println!("POST http://{}/simulate/lookup", running.local_addr());
/// running.wait().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Simulator {
    actions: HashMap<String, Arc<LocalExecutor>>,
}

/// A simulator serving in the background; stops when dropped or shut down.
#[derive(Debug)]
pub struct RunningSimulator {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSimulator {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it.
    pub fn shutdown(self) {
        self.task.abort();
    }

    /// Serves until the server stops (only on a server error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Simulator {
    /// A simulator with no actions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `executor` at `/simulate/{name}`.
    pub fn action(mut self, name: impl Into<String>, executor: LocalExecutor) -> Self {
        self.actions.insert(name.into(), Arc::new(executor));
        self
    }

    /// The axum router, to mount in a server of your own.
    pub fn router(self) -> Router {
        Router::new()
            .route("/simulate/{action}", post(simulate))
            .with_state(Arc::new(self.actions))
    }

    /// Listens on `addr` (port 0 picks a free port) and serves in the background.
    pub async fn serve(self, addr: SocketAddr) -> Result<RunningSimulator, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::config(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::config(format!("cannot read the listening address: {e}")))?;
        let router = self.router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the simulator stopped");
            }
        });
        Ok(RunningSimulator { addr, task })
    }
}

fn problem(status: StatusCode, code: &str, message: String) -> Response {
    let body = json!({ "message": message, "code": code, "status": status.as_u16() });
    (status, Json(body)).into_response()
}

async fn simulate(
    State(actions): State<Arc<HashMap<String, Arc<LocalExecutor>>>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let Some(executor) = actions.get(&name) else {
        let mut known: Vec<&str> = actions.keys().map(String::as_str).collect();
        known.sort_unstable();
        return problem(
            StatusCode::NOT_FOUND,
            "not.found",
            format!(
                "no action `{name}`; this simulator serves: {}",
                known.join(", ")
            ),
        );
    };
    let input: Value = match serde_json::from_slice(&body) {
        Ok(input @ Value::Object(_)) => input,
        Ok(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad.request",
                "the input must be a JSON object".into(),
            );
        }
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad.request",
                format!("the input is not valid JSON: {e}"),
            );
        }
    };
    match executor.execute(&input).await {
        Ok(output) => (StatusCode::OK, Json(output)).into_response(),
        Err(err) => {
            let (status, body) = platform_error(&err);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(body)).into_response()
        }
    }
}
