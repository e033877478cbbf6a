//! The fake's OAuth token endpoint and its table of live tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;
use wiremock::ResponseTemplate;

use super::responses::genesys_error;
use crate::Method;

pub(crate) struct Tokens {
    client_id: String,
    client_secret: String,
    lifetime: Duration,
    issued: AtomicU64,
    /// Each live token and when it expires (`None`: a lifetime past what `Instant` holds).
    live: Mutex<HashMap<String, Option<Instant>>>,
}

fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": error,
        "description": description,
        "error_description": description,
    }))
}

impl Tokens {
    pub(crate) fn new(client_id: String, client_secret: String, lifetime: Duration) -> Self {
        Self {
            client_id,
            client_secret,
            lifetime,
            issued: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    pub(crate) fn client_secret(&self) -> &str {
        &self.client_secret
    }

    pub(crate) fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    pub(crate) fn expire_all(&self) {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// `POST /oauth/token`: HTTP Basic client credentials, form `grant_type=client_credentials`.
    pub(crate) fn issue(
        &self,
        method: &Method,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> ResponseTemplate {
        if method != Method::POST {
            return genesys_error(405, "method.not.allowed", "use POST for /oauth/token");
        }
        let credentials = authorization
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok());
        let Some((id, secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
            return oauth_error(
                401,
                "invalid_client",
                "client credentials must be sent with HTTP Basic authentication",
            );
        };
        if id != self.client_id || secret != self.client_secret {
            return oauth_error(401, "invalid_client", "client authentication failed");
        }
        if !content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
            return oauth_error(
                400,
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            );
        }
        let grant = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.into_owned());
        if grant.as_deref() != Some("client_credentials") {
            return oauth_error(
                400,
                "unsupported_grant_type",
                "grant_type must be client_credentials",
            );
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("fake-token-{n}-{}", uuid::Uuid::new_v4().simple());
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), Instant::now().checked_add(self.lifetime));
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.lifetime.as_secs(),
        }))
    }

    /// The platform's 401, unless the request carries a live bearer token.
    pub(crate) fn refusal(&self, authorization: Option<&str>) -> Option<ResponseTemplate> {
        let token = authorization
            .and_then(|a| a.strip_prefix("Bearer "))
            .map(str::trim);
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match token.and_then(|t| live.get(t)) {
            Some(expires) if expires.is_none_or(|at| Instant::now() < at) => None,
            _ => Some(genesys_error(
                401,
                "bad.credentials",
                "Invalid login credentials.",
            )),
        }
    }
}
