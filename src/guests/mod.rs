//! Web messaging guest attributes: check a guest's custom attributes (limits, consent,
//! personal data), keep them durably, send them to Genesys Cloud, and sync a CRM.
//!
//! Most services want [`GuestAttributes`] in front of a [`ParticipantSink`]: updates are
//! checked against a [`GuestPolicy`], written to an [`Outbox`] before `add` returns,
//! merged per session by an [`AttributeBatcher`], patched onto the conversation's customer
//! participant, and posted to a CRM webhook afterwards.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use genesys_cloud::guests::{GuestAttributes, GuestPolicy, ParticipantSink, PiiAction};
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let sink = Arc::new(ParticipantSink::new(client.clone()));
//! sink.register("guest-42", "<conversation id>", "<customer participant id>");
//! let policy = GuestPolicy::default().pii(PiiAction::Mask);
//! let (guests, replay) = GuestAttributes::builder(client, sink)
//!     .policy(policy)
//!     .outbox("/var/lib/my-service/guest-outbox.redb")
//!     .crm_webhook("https://crm.example.com/hooks/genesys", "shared secret")
//!     .start()
//!     .await?;
//! if let Some(replay) = replay {
//!     // Too old to send after a restart: handed back, deleted once acknowledged.
//!     for stale in &replay.stale { /* store, alert, or resend with `add` */ }
//!     replay.acknowledge_stale().await?;
//! }
//! let attributes = BTreeMap::from([("preferredLanguage".to_owned(), "fr".to_owned())]);
//! guests.add("guest-42", attributes, BTreeMap::new()).await?;
//! // Updates the platform refused for good (or that ran out of retries) come back here.
//! for letter in guests.dead_letters().drain() {
//!     eprintln!("not delivered: {} {:?}", letter.session_id, letter.reason);
//! }
//! guests.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! The outbox is a redb file by default (one process); a service of many replicas shares
//! one in its PostgreSQL instead (`GuestAttributesBuilder::postgres_outbox`, feature
//! `postgres`, with `PostgresOutboxOptions`): any replica may `add`, one
//! replica at a time sends a session's updates (it holds the session's claim, a lease),
//! and a stopped replica's sessions are taken over, in order, once its claims expire
//! (docs/guests.md, "One replica, or many").
//!
//! On the guest's side, a [`GuestSession`] speaks the Web Messaging Guest API websocket
//! as Genesys's own SDK does: attributes travel with the guest's messages
//! ([`GuestSession::send_message`]), or once with the auto-start of a new session
//! ([`GuestSession::auto_start`]). The Guest API has no way to update attributes without
//! a guest message, which is why [`WebMessagingSink`] only sends a session's first batch
//! and the participant sink is the path for later updates (docs/guests.md says more).
//!
//! The policy on its own:
//!
//! ```
//! use std::collections::BTreeMap;
//! use genesys_cloud::guests::{GuestPolicy, PiiAction};
//!
//! let policy = GuestPolicy::default().pii(PiiAction::Mask).required_consents(["marketing"]);
//! let attributes = BTreeMap::from([("note".to_owned(), "card 4111 1111 1111 1111".to_owned())]);
//! let consents = BTreeMap::from([("marketing".to_owned(), true)]);
//! let checked = policy.check(&attributes, &consents)?;
//! assert_eq!(checked.attributes["note"], "card ****1111");
//! # Ok::<(), genesys_cloud::ValidationError>(())
//! ```

mod attributes;
mod batcher;
mod outbox;
#[cfg(feature = "postgres")]
mod pg_outbox;
mod policy;
mod session;
mod sinks;
mod store;

pub use attributes::{
    GuestAttributes, GuestAttributesBuilder, DEFAULT_CRM_DRAIN_TIMEOUT, DEFAULT_CRM_IN_FLIGHT,
};
pub use batcher::{
    AttributeBatcher, AttributeSink, BatcherOptions, BatcherOptionsBuilder, DeadLetter,
    DeadLetterReason, DeadLetters, DeliveryHook, Reservation,
};
pub use outbox::{Outbox, Replay, StoredUpdate, DEFAULT_STALENESS};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg_outbox::{PostgresOutboxOptions, PostgresOutboxOptionsBuilder};
pub use policy::{
    find_pii, luhn_valid, mask_pii, CheckedAttributes, GuestPolicy, PiiAction, PiiFinding, PiiKind,
    DEFAULT_MAX_KEYS, DEFAULT_MAX_VALUE_CHARS, MAX_CUSTOM_DATA_BYTES, MAX_KEY_CHARS,
};
pub use session::{
    GuestSession, GuestSessionOptions, GuestSessionOptionsBuilder, SessionInfo,
    DEFAULT_PING_INTERVAL, DEFAULT_RECONNECT_BUDGET, MIN_ECHO_INTERVAL,
};
pub use sinks::{ParticipantSink, WebMessagingSink, MAX_CONFLICT_RETRIES};

/// The code in docs/guests.md, compiled with the doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/guests.md")]
pub struct GuideSnippets;
