//! Custom attributes on messaging participants.
//!
//! A service sets typed, validated and sanitized custom attributes on a participant of a
//! messaging conversation (web messaging, SMS, social), for routing, scripts and agent
//! context. On the platform that is
//! `PATCH /api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes`
//! with `{"attributes": {string: string}}`, which merges the keys sent into those the
//! participant holds and answers with the result.
//!
//! 1. Describe the keys you may set: [`AttributeSchema`] (in code or from JSON/TOML).
//! 2. Build an [`AttributePatch`]: every rule is checked at once, numbers and booleans
//!    become canonical strings, text loses control characters and script schemes, and
//!    HTML markup in it is stripped (feature `sanitize-html`) or refused ([`Markup`]).
//! 3. Send it: [`Participant::patch_attributes`], or through an [`AttributeInjector`]
//!    that also runs follow-up hooks, audits and counts each injection.
//!
//! ```no_run
//! use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
//!
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! let schema = AttributeSchema::new()
//!     .key("customer_tier", KeySpec::string())
//!     .key("cart_value", KeySpec::number());
//! let patch = AttributePatch::builder(&schema)
//!     .set("customer_tier", "platinum")
//!     .set("cart_value", 1250.50)
//!     .build()?;
//! let held = client
//!     .messaging()
//!     .participant("0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b", "5f2c1d3e-4b6a-4c8d-9e0f-1a2b3c4d5e6f")
//!     .patch_attributes(&patch)
//!     .await?;
//! assert_eq!(held["cart_value"], "1250.5");
//! # Ok(()) }
//! ```

mod injector;
pub mod limits;
mod patch;
mod sanitize;
mod schema;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use injector::{
    hook_fn, AttributeInjector, HookError, HookFailure, Injection, InjectionHook, InjectionReport,
    InjectionStats,
};
pub use limits::Limits;
pub use patch::{AttributePatch, AttributePatchBuilder, AttributeValue};
#[cfg(feature = "sanitize-html")]
#[cfg_attr(docsrs, doc(cfg(feature = "sanitize-html")))]
pub use sanitize::sanitize;
pub use sanitize::Markup;
pub use schema::{AttributeSchema, AttributeType, KeySpec};

use crate::client::Client;
use crate::error::Error;
use crate::transport::{ApiRequest, Body};
use crate::validation::Violations;
use crate::Method;

/// The guide's code samples (docs/messaging.md), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/messaging.md")]
struct Guide;

const PARTICIPANT_ATTRIBUTES: &str =
    "/api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes";
const MESSAGE_CONVERSATION: &str = "/api/v2/conversations/messages/{conversationId}";

impl Client {
    /// Custom attributes on messaging participants.
    pub fn messaging(&self) -> Messaging {
        Messaging {
            client: self.clone(),
        }
    }
}

/// Entry point of the messaging flow, from [`Client::messaging`].
#[derive(Debug, Clone)]
pub struct Messaging {
    client: Client,
}

impl Messaging {
    /// A participant of a messaging conversation. Both ids are checked (UUIDs) when a
    /// call is made.
    pub fn participant(
        &self,
        conversation_id: impl Into<String>,
        participant_id: impl Into<String>,
    ) -> Participant {
        Participant {
            client: self.client.clone(),
            conversation_id: conversation_id.into(),
            participant_id: participant_id.into(),
        }
    }
}

/// One participant of a messaging conversation.
#[derive(Debug, Clone)]
pub struct Participant {
    client: Client,
    conversation_id: String,
    participant_id: String,
}

/// `ParticipantAttributes`, the body and answer of the attributes endpoint.
#[derive(Deserialize)]
struct ParticipantAttributes {
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

/// The parts of `MessageConversation` this flow reads.
#[derive(Deserialize)]
struct MessageConversation {
    #[serde(default)]
    participants: Vec<MessageParticipant>,
}

#[derive(Deserialize)]
struct MessageParticipant {
    id: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

impl Participant {
    /// The conversation id.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The participant id.
    pub fn participant_id(&self) -> &str {
        &self.participant_id
    }

    fn check_ids(&self) -> Result<(), Error> {
        let mut v = Violations::default();
        v.check_uuid("conversationId", &self.conversation_id);
        v.check_uuid("participantId", &self.participant_id);
        Ok(v.finish()?)
    }

    /// Merges `patch` into the participant's attributes and returns every attribute the
    /// platform now holds for the participant.
    ///
    /// Sending the same patch twice leaves the same attributes, so the call is retried
    /// like an idempotent one (after 502/503/504 and lost connections too).
    pub async fn patch_attributes(
        &self,
        patch: &AttributePatch,
    ) -> Result<BTreeMap<String, String>, Error> {
        self.send_patch(Body::Json(patch.body().clone())).await
    }

    /// Sends `attributes` as they are, for callers that checked them against rules of
    /// their own (the guest policy of [`guests`](crate::guests)).
    pub(crate) async fn patch_map(
        &self,
        attributes: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, Error> {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            attributes: &'a BTreeMap<String, String>,
        }
        let body = crate::transport::json_bytes(&Wire { attributes }).map_err(|e| {
            crate::ValidationError::single(
                "attributes",
                "json",
                format!("cannot be serialized: {e}"),
            )
        })?;
        self.send_patch(Body::Json(body.into())).await
    }

    async fn send_patch(&self, body: Body) -> Result<BTreeMap<String, String>, Error> {
        self.check_ids()?;
        let mut req = ApiRequest::with_args(
            Method::PATCH,
            PARTICIPANT_ATTRIBUTES,
            &[&self.conversation_id, &self.participant_id],
        )?
        .idempotent(true);
        req.body = Some(body);
        let answer: ParticipantAttributes = self.client.transport().json(&req).await?;
        Ok(answer.attributes)
    }

    /// The attributes the participant holds, read from the conversation
    /// (`GET /api/v2/conversations/messages/{conversationId}`).
    pub async fn attributes(&self) -> Result<BTreeMap<String, String>, Error> {
        self.check_ids()?;
        let req =
            ApiRequest::with_args(Method::GET, MESSAGE_CONVERSATION, &[&self.conversation_id])?;
        let conversation: MessageConversation = self.client.transport().json(&req).await?;
        conversation
            .participants
            .into_iter()
            .find(|p| p.id == self.participant_id)
            .map(|p| p.attributes)
            // The ids are the caller's: the error names them by role.
            .ok_or_else(|| {
                Error::not_found(
                    "the participant (participantId) in the messaging conversation (conversationId): the conversation has no participant with that id",
                )
            })
    }
}
