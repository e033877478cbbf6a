//! A webhook receiver in the fake: verifies signatures and drops repeated deliveries, as a
//! CRM or calendar should.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};

use super::responses::json_response;
use super::FakeGenesys;
use crate::webhook::{verify, DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER};
use crate::Method;

#[derive(Default)]
struct Inbox {
    accepted: Vec<Value>,
    keys: HashSet<String>,
    received: u64,
    rejected: u64,
    duplicates: u64,
}

/// What a [`FakeGenesys::webhook_receiver`] received. Cheap to clone.
#[derive(Clone, Default)]
pub struct WebhookInbox {
    inbox: Arc<Mutex<Inbox>>,
}

impl std::fmt::Debug for WebhookInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookInbox")
            .field("received", &self.received())
            .finish_non_exhaustive()
    }
}

impl WebhookInbox {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bodies of verified deliveries, each dedupe key once, in arrival order.
    pub fn deliveries(&self) -> Vec<Value> {
        self.lock().accepted.clone()
    }

    /// Requests received, valid or not, repeats included.
    pub fn received(&self) -> u64 {
        self.lock().received
    }

    /// Requests refused for a missing, stale or wrong signature.
    pub fn rejected(&self) -> u64 {
        self.lock().rejected
    }

    /// Verified deliveries dropped because their dedupe key was seen before.
    pub fn duplicates(&self) -> u64 {
        self.lock().duplicates
    }
}

impl FakeGenesys {
    /// A webhook receiver at `path` (under `/external/`, e.g. `/external/crm`) that checks
    /// each delivery's signature with `secret` (answering 401 when it does not verify) and
    /// keeps each dedupe key's first delivery. Post to `format!("{}{path}", fake.uri())`.
    pub fn webhook_receiver(&self, path: &str, secret: &str) -> WebhookInbox {
        let inbox = WebhookInbox::default();
        let shared = inbox.clone();
        let secret = secret.as_bytes().to_vec();
        self.route(Method::POST, path, move |req| {
            let mut state = shared.lock();
            state.received += 1;
            let signature = req
                .headers
                .get(SIGNATURE_HEADER)
                .map(String::as_str)
                .unwrap_or_default();
            let tolerance: Duration = DEFAULT_TOLERANCE;
            if verify(
                &secret,
                signature,
                &req.body,
                jiff::Timestamp::now(),
                tolerance,
            )
            .is_err()
            {
                state.rejected += 1;
                return json_response(401, &json!({ "error": "the signature does not verify" }));
            }
            let key = req
                .headers
                .get(DELIVERY_HEADER)
                .cloned()
                .unwrap_or_default();
            if state.keys.insert(key) {
                state
                    .accepted
                    .push(req.json::<Value>().unwrap_or(Value::Null));
            } else {
                state.duplicates += 1;
            }
            json_response(200, &json!({ "ok": true }))
        });
        inbox
    }
}
