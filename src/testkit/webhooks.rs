//! A webhook receiver in the fake: verifies signatures and drops repeated deliveries, as a
//! CRM or calendar should.
//!
//! The receiver checks signatures with code of its own, written from the scheme the crate
//! publishes for receivers (docs/architecture.md, "Signed webhooks"; the module docs of
//! `genesys_cloud::webhook`), not with the crate's `verify`: a header
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`, the dedupe key in a header of
//! its own. (Tutorial 002, whose CRM sync this is, posts its webhook unsigned: the scheme
//! is the crate's contract, not the tutorial's.) `tests/webhook.rs` pins the scheme with a
//! known-answer vector computed by `openssl dgst` and Python's `hmac`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::responses::json_response;
use super::FakeGenesys;
use crate::Method;

/// The signature header (docs/architecture.md, "Signed webhooks").
const SIGNATURE_HEADER: &str = "x-genesys-cloud-signature";

/// The dedupe-key header, the same on every retry of one delivery.
const DELIVERY_HEADER: &str = "x-genesys-cloud-delivery";

/// How far (either way) a signature's time may be from now, seconds. The scheme leaves the
/// tolerance to the receiver; five minutes is the default of Stripe's receivers, whose
/// scheme this is (docs/architecture.md).
const TOLERANCE_SECONDS: u64 = 300;

/// Whether `header` signs `body` with `secret` at a time within [`TOLERANCE_SECONDS`] of
/// `now` (unix seconds). Any of several `v1` values may match (a sender rotating secrets).
fn signature_verifies(secret: &[u8], header: &str, body: &[u8], now: i64) -> bool {
    let mut time = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => time = t.parse::<i64>().ok(),
            Some(("v1", v)) => match from_hex(v) {
                Some(mac) => macs.push(mac),
                None => return false,
            },
            _ => {}
        }
    }
    let Some(time) = time else {
        return false;
    };
    if now.abs_diff(time) > TOLERANCE_SECONDS {
        return false;
    }
    let Ok(mut expected) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    expected.update(format!("{time}.").as_bytes());
    expected.update(body);
    // `verify_slice` compares in constant time.
    macs.iter()
        .any(|mac| expected.clone().verify_slice(mac).is_ok())
}

/// Lower- or upper-case hex to bytes; `None` for anything else.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |d: u8| char::from(d).to_digit(16);
    digits
        .chunks(2)
        .map(|pair| u8::try_from(value(pair[0])? * 16 + value(pair[1])?).ok())
        .collect()
}

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
            let now = jiff::Timestamp::now().as_second();
            if !signature_verifies(&secret, signature, &req.body, now) {
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

#[cfg(test)]
mod tests {
    use super::*;

    // The known-answer vector of tests/webhook.rs (`openssl dgst -sha256 -hmac`).
    const SECRET: &[u8] = b"kat-webhook-secret-0123456789";
    const BODY: &[u8] = br#"{"event":"attributes.synced","sessionId":"s-1"}"#;
    const HEADER: &str =
        "t=1700000000,v1=afa96f92406e614b88237bc61a631d6d73506c0cee4e9aed4a89b22d29aedc23";

    #[test]
    fn the_receiver_accepts_the_known_answer_and_nothing_a_byte_away() {
        let t = 1_700_000_000;
        assert!(signature_verifies(SECRET, HEADER, BODY, t));
        let upper = HEADER.replace("afa96f", "AFA96F");
        assert!(
            signature_verifies(SECRET, &upper, BODY, t),
            "hex in either case"
        );
        assert!(signature_verifies(SECRET, HEADER, BODY, t + 300));
        assert!(!signature_verifies(SECRET, HEADER, BODY, t + 301), "stale");
        assert!(
            !signature_verifies(SECRET, HEADER, BODY, t - 301),
            "from the future"
        );
        let mut body = BODY.to_vec();
        body[0] = b' ';
        assert!(!signature_verifies(SECRET, HEADER, &body, t));
        assert!(!signature_verifies(
            b"kat-webhook-secret-0123456788",
            HEADER,
            BODY,
            t
        ));
        for bad in [
            HEADER.replace("dc23", "dc24"),
            HEADER.replace("t=1700000000", "t=1700000001"),
            HEADER.replace("dc23", "dc2"),
            HEADER.replace("dc23", "dc2g"),
            "v1=afa9".to_owned(),
            "t=1700000000".to_owned(),
            String::new(),
        ] {
            assert!(!signature_verifies(SECRET, &bad, BODY, t), "{bad}");
        }
        let rotated = format!("{HEADER},v1={}", "00".repeat(32));
        assert!(
            signature_verifies(SECRET, &rotated, BODY, t),
            "any v1 may match"
        );
    }
}
