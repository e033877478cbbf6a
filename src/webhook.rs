//! Signed outbound webhooks: one sender for every flow that pushes events to another
//! system (CRM sync, calendar sync), and one way for the receiver to verify them.
//!
//! Each delivery is a JSON `POST` with two headers:
//!
//! - [`SIGNATURE_HEADER`]: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC taken with the
//!   shared secret over `"<t>." + body`, so neither the body nor the time can be changed,
//!   and an old delivery cannot be replayed outside the receiver's tolerance;
//! - [`DELIVERY_HEADER`]: the delivery's dedupe key, the same on every retry, so a receiver
//!   that remembers keys processes each event once even though delivery is at-least-once.
//!
//! Retries (429, 5xx, timeouts, lost connections) are the transport's, with backoff;
//! a delivery that still fails is counted (`webhook.failures`) and audited, and returned
//! as an error for the caller to keep.
//!
//! ```
//! use std::time::Duration;
//! use genesys_cloud::webhook::{sign, verify};
//!
//! let body = br#"{"sessionId":"s-1"}"#;
//! let header = sign(b"shared secret", 1_700_000_000, body);
//! let now = jiff::Timestamp::from_second(1_700_000_030)?;
//! assert!(verify(b"shared secret", &header, body, now, Duration::from_secs(300)).is_ok());
//! assert!(verify(b"shared secret", &header, b"tampered", now, Duration::from_secs(300)).is_err());
//! # Ok::<(), jiff::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

use crate::client::Client;
use crate::error::Error;
use crate::observe::{AuditOutcome, AuditRecord};
use crate::transport::{ApiRequest, Body};
use crate::validation::ValidationError;
use crate::Method;

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`.
pub const SIGNATURE_HEADER: &str = "x-genesys-cloud-signature";

/// The delivery (dedupe) key header.
pub const DELIVERY_HEADER: &str = "x-genesys-cloud-delivery";

/// The event type header.
pub const EVENT_HEADER: &str = "x-genesys-cloud-event";

/// How old a signature a receiver accepts by default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // ok: HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A dedupe key for `identity` (whatever makes two deliveries the same event): the first
/// 16 bytes of its SHA-256, in hex. The same identity always gets the same key.
pub fn dedupe_key(identity: &str) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(identity.as_bytes())[..16])
}

/// The [`SIGNATURE_HEADER`] value for `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex(&tag))
}

/// Why a delivery failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The header is not `t=<seconds>,v1=<hex>`.
    #[error("the signature header is malformed; expected t=<unix seconds>,v1=<hex>")]
    Malformed,
    /// The signature is older (or further in the future) than the tolerance.
    #[error("the signature was made {age_seconds} s away from now, outside the tolerance")]
    Stale {
        /// Distance from now, seconds.
        age_seconds: i64,
    },
    /// The MAC does not match the body and secret.
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a delivery: the header's MAC over `"<t>." + body` with `secret` (compared in
/// constant time) and that `t` is within `tolerance` of `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: jiff::Timestamp,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(unhex(v).ok_or(VerifyError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let age_seconds = now.as_second().saturating_sub(timestamp);
    if age_seconds.unsigned_abs() > tolerance.as_secs() {
        return Err(VerifyError::Stale { age_seconds });
    }
    let expected = mac(secret, timestamp, body);
    // Several v1 values let a sender rotate secrets; any match will do.
    if signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// What a successful delivery reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Delivery {
    /// The dedupe key sent.
    pub delivery_id: String,
    /// The receiver's status.
    pub status: u16,
    /// Time taken, retries included.
    pub latency: Duration,
}

/// Sends signed JSON events to one receiver through the client's transport.
pub struct WebhookSender {
    client: Client,
    url: url::Url,
    secret: SecretString,
    name: String,
}

/// The receiver's origin only: a webhook URL often carries a secret in its path or query
/// (`/hooks/T0/B0/XXXX`, `?key=…`), and a password before the host.
impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("name", &self.name)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl WebhookSender {
    /// A sender called `name` (for metrics and audit) posting to `url` (`https`, or
    /// `http` to a loopback host) signed with `secret`.
    pub fn new(
        client: Client,
        name: impl Into<String>,
        url: &str,
        secret: impl Into<String>,
    ) -> Result<Self, Error> {
        let parsed = url::Url::parse(url).map_err(|e| {
            ValidationError::single(
                "url",
                "absolute_url",
                format!("the webhook URL is not a URL: {e}"),
            )
        })?;
        let loopback = crate::transport::is_loopback(&parsed);
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
            return Err(ValidationError::single(
                "url",
                "https",
                "webhooks are sent over https (plain http only to this machine)",
            )
            .into());
        }
        let secret = SecretString::from(secret.into());
        if secret.expose_secret().len() < 16 {
            return Err(ValidationError::single(
                "secret",
                "min_length",
                "use a webhook secret of at least 16 characters",
            )
            .into());
        }
        Ok(Self {
            client,
            url: parsed,
            secret,
            name: name.into(),
        })
    }

    /// Delivers `payload` as event `event` under dedupe key `delivery_id`.
    pub async fn send<T: Serialize + ?Sized>(
        &self,
        event: &str,
        delivery_id: &str,
        payload: &T,
    ) -> Result<Delivery, Error> {
        let started = Instant::now();
        let result = self.deliver(event, delivery_id, payload).await;
        let latency = started.elapsed();
        let metrics = self.client.metrics();
        let mut audit = AuditRecord::new(format!("webhook.{}", self.name), AuditOutcome::Success)
            .id("deliveryId", delivery_id)
            .id("event", event)
            .latency(latency);
        match &result {
            Ok(status) => {
                metrics
                    .counter(&format!("webhook.{}.deliveries", self.name))
                    .inc();
                audit = audit.status(*status);
            }
            Err(err) => {
                metrics
                    .counter(&format!("webhook.{}.failures", self.name))
                    .inc();
                audit = audit.error(err);
                audit.outcome = AuditOutcome::Failure;
            }
        }
        self.client.audit(audit);
        result.map(|status| Delivery {
            delivery_id: delivery_id.to_owned(),
            status,
            latency,
        })
    }

    async fn deliver<T: Serialize + ?Sized>(
        &self,
        event: &str,
        delivery_id: &str,
        payload: &T,
    ) -> Result<u16, Error> {
        let body = serde_json::to_vec(payload).map_err(|e| {
            ValidationError::single(
                "payload",
                "json",
                format!("the payload cannot be serialized: {e}"),
            )
        })?;
        let signature = sign(
            self.secret.expose_secret().as_bytes(),
            jiff::Timestamp::now().as_second(),
            &body,
        );
        let header = |name: &'static str,
                      value: &str|
         -> Result<(HeaderName, HeaderValue), Error> {
            let value = HeaderValue::from_str(value)
                .map_err(|_| ValidationError::single(name, "header", "not a valid header value"))?;
            Ok((HeaderName::from_static(name), value))
        };
        let mut req = ApiRequest::new(Method::POST, Cow::Owned(format!("webhook {}", self.name)));
        req.absolute = Some(self.url.clone());
        req.headers = vec![
            header(SIGNATURE_HEADER, &signature)?,
            header(DELIVERY_HEADER, delivery_id)?,
            header(EVENT_HEADER, event)?,
        ];
        req.body = Some(Body::Json(Bytes::from(body)));
        // The dedupe key makes a repeated delivery harmless.
        req.idempotent = true;
        let response = self.client.transport().send_external(&req).await?;
        Ok(response.status())
    }
}
