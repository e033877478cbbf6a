//! The two places guest attributes can go.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{AttributeSink, GuestSession};
use crate::client::Client;
use crate::error::Error;

/// Times the participant sink re-reads, merges and retries after a 409.
pub const MAX_CONFLICT_RETRIES: usize = 3;

fn unknown(session_id: &str) -> Error {
    Error::not_found(format!(
        "a registered destination for guest session {session_id}"
    ))
}

/// Sends through the guests' own web messaging sessions (the Guest API websocket).
#[derive(Debug, Default)]
pub struct WebMessagingSink {
    sessions: RwLock<HashMap<String, Arc<GuestSession>>>,
}

impl WebMessagingSink {
    /// An empty sink; register each session before its first update is flushed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `session_id`'s attributes through `session`.
    pub fn register(&self, session_id: impl Into<String>, session: GuestSession) {
        self.sessions
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id.into(), Arc::new(session));
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
            .ok_or_else(|| unknown(session_id))?;
        session.send_attributes(attributes).await
    }
}

/// Sends server side, once a conversation exists: the customer participant's attributes
/// (flow 1's `PATCH .../participants/{participantId}/attributes`). Reads the current
/// attributes, merges, patches; a 409 (someone else changed them) re-reads, merges and
/// retries, at most [`MAX_CONFLICT_RETRIES`] times.
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
            .ok_or_else(|| unknown(session_id))?;
        let target = self
            .client
            .messaging()
            .participant(&conversation, &participant);
        let mut conflicts = 0;
        loop {
            let mut merged = target.attributes().await?;
            merged.extend(attributes.clone());
            let patched = target.patch_map(&merged).await;
            match patched {
                Err(err) if err.status() == Some(409) && conflicts < MAX_CONFLICT_RETRIES => {
                    conflicts += 1;
                    self.client.metrics().counter("guests.conflicts").inc();
                }
                other => return other.map(|_| ()),
            }
        }
    }
}
