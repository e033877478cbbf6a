//! The two places guest attributes can go.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{AttributeSink, GuestSession};
use crate::client::Client;
use crate::error::Error;

/// Times the participant sink sends again after a 409.
pub const MAX_CONFLICT_RETRIES: usize = 3;

/// Not found: the session (named by role, not by its id, which is the caller's).
fn unknown() -> Error {
    Error::not_found(
        "a registered destination for this guest session: register the session with the sink before its first update",
    )
}

/// Sends through the guests' own web messaging sessions (the Guest API websocket), as far
/// as the Guest API allows.
///
/// **What it can do.** The Guest API takes custom attributes only on a guest message
/// (`message.channel.metadata.customAttributes`); the one message with no visible text is
/// the Presence `Join` that Genesys's SDK sends once to auto-start a new session. So this
/// sink sends a session's first batch as that auto-start ([`GuestSession::auto_start`]).
///
/// **What it cannot do.** Update attributes later without a guest message: a later batch
/// for the same session fails with [`ErrorKind::Conflict`](crate::ErrorKind::Conflict)
/// (not retried; the batcher dead-letters it). For those updates use
/// [`ParticipantSink`] (the documented path, server side), or send them with the guest's
/// own message ([`GuestSession::send_message`]). See docs/guests.md.
#[derive(Debug, Default)]
pub struct WebMessagingSink {
    sessions: RwLock<HashMap<String, Arc<GuestSession>>>,
}

impl WebMessagingSink {
    /// An empty sink; register each session before its first update is flushed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `session_id`'s attributes through `session`, replacing (and returning) the
    /// session registered before under that id.
    pub fn register(
        &self,
        session_id: impl Into<String>,
        session: GuestSession,
    ) -> Option<Arc<GuestSession>> {
        self.sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id.into(), Arc::new(session))
    }

    /// Stops sending for `session_id` and hands its session back (to
    /// [`close`](GuestSession::close) it, or drop it: the last handle closes the socket).
    pub fn unregister(&self, session_id: &str) -> Option<Arc<GuestSession>> {
        self.sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session_id)
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Whether no session is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl AttributeSink for WebMessagingSink {
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let session = self
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
            .cloned()
            .ok_or_else(unknown)?;
        session.auto_start(attributes).await
    }

    /// Drops the session (closing its socket once no call holds it).
    async fn forget(&self, session_id: &str) {
        self.unregister(session_id);
    }
}

/// Sends server side, once a conversation exists: the customer participant's attributes
/// (the messaging participant endpoint, `PATCH /api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes`).
///
/// Only the keys of the update are sent: the platform merges them into the attributes the
/// participant holds (the endpoint's `ParticipantAttributes` body is a patch; see
/// docs/messaging.md), so keys another writer changed meanwhile are left alone. A 409 is
/// sent again, at most [`MAX_CONFLICT_RETRIES`] times.
#[derive(Debug)]
pub struct ParticipantSink {
    client: Client,
    participants: RwLock<HashMap<String, (String, String)>>,
}

impl ParticipantSink {
    /// A sink sending through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            participants: RwLock::default(),
        }
    }

    /// Sends `session_id`'s attributes to this conversation's customer participant.
    pub fn register(
        &self,
        session_id: impl Into<String>,
        conversation_id: impl Into<String>,
        participant_id: impl Into<String>,
    ) {
        self.participants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                session_id.into(),
                (conversation_id.into(), participant_id.into()),
            );
    }

    /// Stops sending for `session_id`; whether it was registered.
    pub fn unregister(&self, session_id: &str) -> bool {
        self.participants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session_id)
            .is_some()
    }
}

#[async_trait]
impl AttributeSink for ParticipantSink {
    async fn send(
        &self,
        session_id: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        let (conversation, participant) = self
            .participants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(session_id)
            .cloned()
            .ok_or_else(unknown)?;
        let target = self
            .client
            .messaging()
            .participant(&conversation, &participant);
        let mut conflicts = 0;
        loop {
            match target.patch_map(attributes).await {
                Err(err) if err.status() == Some(409) && conflicts < MAX_CONFLICT_RETRIES => {
                    conflicts += 1;
                    self.client.metrics().counter("guests.conflicts").inc();
                }
                other => return other.map(|_| ()),
            }
        }
    }

    async fn forget(&self, session_id: &str) {
        self.unregister(session_id);
    }
}
