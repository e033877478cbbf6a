//! Flow 3: web messaging guest attributes.
//!
//! [`GuestAttributes`] checks each update against a [`GuestPolicy`] (limits, consent flags,
//! PII: reject, mask or count), writes it to a durable [`Outbox`] before `add` returns,
//! merges updates per session in an [`AttributeBatcher`], sends them through an
//! [`AttributeSink`] (the guest's [`GuestSession`] on the Web Messaging Guest API
//! websocket, or the customer participant's attributes over REST), and syncs a CRM
//! webhook after each accepted send.
//!
//! ```
//! use std::collections::BTreeMap;
//! use genesys_cloud::guests::{GuestPolicy, PiiAction};
//!
//! let policy = GuestPolicy { pii: PiiAction::Mask, required_consents: vec!["marketing".into()], ..GuestPolicy::default() };
//! let attributes = BTreeMap::from([("note".to_owned(), "card 4111 1111 1111 1111".to_owned())]);
//! let consents = BTreeMap::from([("marketing".to_owned(), true)]);
//! let checked = policy.check(&attributes, &consents)?;
//! assert_eq!(checked.attributes["note"], "card ****1111");
//! # Ok::<(), genesys_cloud::ValidationError>(())
//! ```

mod attributes;
mod batcher;
mod outbox;
mod policy;
mod session;
mod sinks;

pub use attributes::{
    GuestAttributes, GuestAttributesBuilder, DEFAULT_CRM_DRAIN_TIMEOUT, DEFAULT_CRM_IN_FLIGHT,
};
pub use batcher::{
    AttributeBatcher, AttributeSink, BatcherOptions, BatcherOptionsBuilder, DeadLetter,
    DeadLetterReason, DeadLetters, DeliveryHook, Reservation,
};
pub use outbox::{Outbox, Replay, StoredUpdate, DEFAULT_STALENESS};
pub use policy::{
    find_pii, luhn_valid, mask_pii, CheckedAttributes, GuestPolicy, PiiAction, PiiFinding, PiiKind,
    DEFAULT_MAX_KEYS, DEFAULT_MAX_VALUE_CHARS, MAX_CUSTOM_DATA_BYTES, MAX_KEY_CHARS,
};
pub use session::{
    GuestSession, GuestSessionOptions, GuestSessionOptionsBuilder, SessionInfo,
    DEFAULT_PING_INTERVAL, DEFAULT_RECONNECT_BUDGET, MIN_ECHO_INTERVAL,
};
pub use sinks::{ParticipantSink, WebMessagingSink, MAX_CONFLICT_RETRIES};
