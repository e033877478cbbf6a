//! A typed, async client for the [Genesys Cloud](https://developer.genesys.cloud/) Platform API.
//!
//! Every request is validated before it leaves; tokens, rate limits (429 and
//! `Retry-After`), transient failures and expired tokens are handled by one transport;
//! every call is traced and counted; and a fake Genesys Cloud (feature `testkit`) lets
//! you test your own services without an org.
//!
//! ```no_run
//! use genesys_cloud::{Client, Method, Region};
//!
//! # async fn run() -> Result<(), genesys_cloud::Error> {
//! let client = Client::builder()
//!     .region(Region::UsEast1)
//!     .credentials("client-id", "client-secret")
//!     .build()?;
//!
//! // Any endpoint, with auth, retries and metrics:
//! let org: serde_json::Value = client.request(Method::GET, "/api/v2/organizations/me").send().await?;
//! println!("{}: {}", org["name"], client.metrics_snapshot());
//! # Ok(()) }
//! ```
//!
//! # Crate organization
//!
//! | module | what it is for |
//! |---|---|
//! | `api` | (feature `api`) every generated Platform API operation and model, through [`Client`] (`client.api()`) |
//! | [`client`] | [`Client`] and [`ClientBuilder`]: where to connect, how to authenticate, limits |
//! | [`region`] | [`Region`]: the 18 Genesys Cloud regions and custom base URLs ([`Environment`]) |
//! | [`auth`] | the [`Auth`](auth::Auth) trait, [`ClientCredentials`](auth::ClientCredentials), [`StaticToken`](auth::StaticToken) |
//! | [`transport`] | retry policy, rate limit, per-call options ([`CallOptions`], the interactive profile) and the raw [`Response`](transport::Response) |
//! | [`request`] | [`RequestBuilder`](request::RequestBuilder): any endpoint, typed answers, paging |
//! | [`paging`] | [`Page`](paging::Page): how listings are followed |
//! | [`error`] | the one [`Error`] type, classified by what happened on the wire |
//! | [`validation`] | [`ValidationError`]: every violated rule of a request, at once |
//! | [`callbacks`] | callback reservations, a per-queue limit, a queue's time zone, and (feature `callback-events`) their event stream |
//! | [`guests`] | web messaging guest attributes: policy, session, batching, outbox, CRM sync |
//! | [`integrations`] | custom agent widgets deployed as client-app integrations |
//! | [`messaging`] | validated, sanitized custom attributes on messaging participants |
//! | [`observe`] | metrics snapshots and the audit trail |
//! | [`clock`] | injectable time, so tests need not wait |
//! | [`webhook`] | signed outbound webhooks (HMAC-SHA256, timestamp, dedupe key) and their verification |
//! | `testkit` | (feature `testkit`) `FakeGenesys`, a stateful fake of the Platform API |
//!
//! # Behaviour you can rely on
//!
//! - **Retries**: 429 always, honouring `Retry-After` (capped); 502/503/504, timeouts and
//!   lost connections only for idempotent requests (GET, PUT, DELETE, or marked with
//!   [`RequestBuilder::idempotent`](request::RequestBuilder::idempotent)); connect failures
//!   always. Bounded by attempts and by a retry time budget ([`RetryPolicy`]).
//! - **401**: the token is dropped, refreshed and the request replayed once; a second 401 is
//!   [`AuthError::TokenRejected`].
//! - **Secrets**: the client secret and tokens never appear in `Debug` output, errors or logs.
//! - **Limits**: one attempt timeout, one overall deadline, a response body cap. The
//!   defaults (180 s, 30 s per attempt, `Retry-After` waited up to 30 s) suit background
//!   work; a request handler's calls take [`CallOptions::interactive`] (10 s, and a long
//!   `Retry-After` handed back at once as [`ErrorKind::Throttled`]) through
//!   [`Client::with_options`] or a request's own
//!   [`options`](request::RequestBuilder::options).

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Core helpers that only some flows call are unused in builds without those flows; the
// build with every flow (CI's clippy) still reports dead code.
#![cfg_attr(
    not(all(
        feature = "messaging",
        feature = "integrations",
        feature = "guests",
        feature = "callback-events",
        feature = "nodes"
    )),
    allow(dead_code)
)]

// The testing guide's examples are compiled and run as doc tests (with `api`: one of them
// answers generated operations; `cargo test --all-features` turns it on, with the API
// groups of the crate's dev-dependency on `genesys-cloud-api`).
#[cfg(all(doctest, feature = "testkit", feature = "messaging", feature = "api"))]
#[doc = include_str!("../docs/testing.md")]
struct TestingGuide;

#[cfg(feature = "api")]
#[cfg_attr(docsrs, doc(cfg(feature = "api")))]
pub mod api;
pub mod auth;
#[cfg(feature = "callbacks")]
#[cfg_attr(docsrs, doc(cfg(feature = "callbacks")))]
pub mod callbacks;
pub mod client;
pub mod clock;
pub mod error;
#[cfg(all(feature = "postgres", feature = "notifications"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "postgres", feature = "notifications"))))]
pub mod fleet;
#[cfg(feature = "guests")]
#[cfg_attr(docsrs, doc(cfg(feature = "guests")))]
pub mod guests;
#[cfg(feature = "integrations")]
#[cfg_attr(docsrs, doc(cfg(feature = "integrations")))]
pub mod integrations;
#[cfg(feature = "messaging")]
#[cfg_attr(docsrs, doc(cfg(feature = "messaging")))]
pub mod messaging;
mod net;
#[cfg(feature = "nodes")]
#[cfg_attr(docsrs, doc(cfg(feature = "nodes")))]
pub mod nodes;
#[cfg(feature = "notifications")]
#[cfg_attr(docsrs, doc(cfg(feature = "notifications")))]
pub mod notifications;
pub mod observe;
pub mod paging;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub mod region;
pub mod request;
pub mod transport;
pub mod validation;
#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub mod webhook;
#[cfg(any(feature = "guests", feature = "notifications"))]
mod ws;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use client::{Client, ClientBuilder};
pub use error::{
    ApiError, AuthError, Error, ErrorBody, ErrorDetail, ErrorKind, NetworkFailure, Result,
    TimeoutKind,
};
/// [jiff](https://docs.rs/jiff), the date-time library of the public API (audit and callback timestamps, a queue's time zone), re-exported so your code names the same version.
pub use jiff;
pub use region::{Environment, Region};
pub use reqwest::Method;
pub use transport::{CallOptions, RetryBudget, RetryPolicy};
pub use validation::{ValidationError, Violation};
