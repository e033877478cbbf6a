//! The service of `examples/service` written on bare reqwest + axum, for
//! `benches/compile_cost.sh` (variant `bare-service`): the same three endpoints and the
//! same calls to Genesys, with an OAuth client-credentials token cached until it expires;
//! none of the crate's validation, sanitizing, phone-number and time-zone checks, retries
//! or rate-limit handling. Built only by that script, never by cargo in this repository.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

#[derive(Clone)]
struct Service {
    http: reqwest::Client,
    api: String,
    login: String,
    id: String,
    secret: String,
    token: Arc<Mutex<Option<(String, Instant)>>>,
}

#[derive(Deserialize)]
struct Token {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Queue {
    id: Option<String>,
    name: Option<String>,
    member_count: Option<i64>,
}

type Answer = Result<Json<Value>, (StatusCode, String)>;

fn upstream(e: reqwest::Error) -> (StatusCode, String) {
    let status = match e.status().map(|s| s.as_u16()) {
        Some(404) => StatusCode::NOT_FOUND,
        Some(400) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_GATEWAY,
    };
    (status, e.to_string())
}

impl Service {
    async fn token(&self) -> Result<String, (StatusCode, String)> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let token: Token = self
            .http
            .post(format!("{}/oauth/token", self.login))
            .basic_auth(&self.id, Some(&self.secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(upstream)?
            .json()
            .await
            .map_err(upstream)?;
        let until = Instant::now() + Duration::from_secs(token.expires_in.saturating_sub(60));
        *cached = Some((token.access_token.clone(), until));
        Ok(token.access_token)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, (StatusCode, String)> {
        request
            .bearer_auth(self.token().await?)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(upstream)?
            .json()
            .await
            .map_err(upstream)
    }
}

async fn patch_attributes(
    State(s): State<Service>,
    Path((conversation, participant)): Path<(String, String)>,
    Json(body): Json<Map<String, Value>>,
) -> Answer {
    let attributes: Map<String, Value> = body
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, Value::String(v))
        })
        .collect();
    let url = format!(
        "{}/api/v2/conversations/messages/{conversation}/participants/{participant}/attributes",
        s.api
    );
    let held = s
        .send(s.http.patch(url).json(&json!({ "attributes": attributes })))
        .await?;
    Ok(Json(held))
}

async fn book_callback(State(s): State<Service>, Json(body): Json<Value>) -> Answer {
    let command = json!({
        "queueId": body["queueId"],
        "callbackNumbers": [body["number"]],
        "callbackScheduledTime": body["at"],
        "callbackUserName": body["name"],
    });
    let url = format!("{}/api/v2/conversations/callbacks", s.api);
    Ok(Json(s.send(s.http.post(url).json(&command)).await?))
}

async fn read_queue(State(s): State<Service>, Path(id): Path<String>) -> Answer {
    let url = format!("{}/api/v2/routing/queues/{id}", s.api);
    let queue: Queue = serde_json::from_value(s.send(s.http.get(url)).await?)
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))?;
    Ok(Json(json!({ "id": queue.id, "name": queue.name, "memberCount": queue.member_count })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    #[allow(deprecated)] // ring, as the crate's own TLS (rustls 0.23.48 deprecates it: no post-quantum)
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = Service {
        http: reqwest::Client::new(),
        api: std::env::var("GENESYS_API_BASE")?,
        login: std::env::var("GENESYS_LOGIN_BASE")?,
        id: std::env::var("GENESYS_CLIENT_ID")?,
        secret: std::env::var("GENESYS_CLIENT_SECRET")?,
        token: Arc::default(),
    };
    let app = Router::new()
        .route(
            "/conversations/{conversation}/participants/{participant}/attributes",
            patch(patch_attributes),
        )
        .route("/callbacks", post(book_callback))
        .route("/queues/{id}", get(read_queue))
        .with_state(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
