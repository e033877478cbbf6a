//! In the fake: messaging conversations and their participants' attributes.
//!
//! The fake checks an attribute patch with rules of its own, each from a platform source:
//! the body is `ParticipantAttributes { attributes: dict(str, str) }` ("The map of
//! attribute keys to values", the Python SDK's
//! `PureCloudPlatformClientV2/models/participant_attributes.py`, and
//! /work/shared/reference/platform-api-models.md). No public Genesys source states a limit
//! for this endpoint (count, key or value length, body size) or reserved key prefixes: the
//! limits `genesys_cloud::messaging::limits` enforces come from tutorial 000, whose
//! endpoint does not exist, so the fake does not enforce them. (The Resource Center's
//! 256-character value limit is for Architect's Set Participant Data action in bot flows,
//! <https://help.mypurecloud.com/articles/set-participant-data-action/>, not for this API.)

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use super::responses::{bad_request, genesys_error, json_response};
use super::FakeGenesys;
use crate::Method;

/// The ids of a messaging conversation seeded in the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeededConversation {
    /// The conversation.
    pub conversation_id: String,
    /// The customer (guest) participant, whose attributes flows set.
    pub customer_participant_id: String,
    /// The agent participant.
    pub agent_participant_id: String,
}

#[derive(Default)]
pub(crate) struct MessagingStore {
    conversations: Mutex<HashMap<String, Vec<FakeParticipant>>>,
}

struct FakeParticipant {
    id: String,
    purpose: &'static str,
    attributes: BTreeMap<String, String>,
}

impl MessagingStore {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Vec<FakeParticipant>>> {
        self.conversations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FakeGenesys {
    /// Creates a messaging conversation with a customer and an agent participant.
    pub fn seed_message_conversation(&self) -> SeededConversation {
        let new_id = || uuid::Uuid::new_v4().to_string();
        let seeded = SeededConversation {
            conversation_id: new_id(),
            customer_participant_id: new_id(),
            agent_participant_id: new_id(),
        };
        let participants = vec![
            FakeParticipant {
                id: seeded.customer_participant_id.clone(),
                purpose: "customer",
                attributes: BTreeMap::new(),
            },
            FakeParticipant {
                id: seeded.agent_participant_id.clone(),
                purpose: "agent",
                attributes: BTreeMap::new(),
            },
        ];
        self.state
            .messaging
            .lock()
            .insert(seeded.conversation_id.clone(), participants);
        seeded
    }

    /// The attributes a participant holds in the fake, if it exists.
    pub fn participant_attributes(
        &self,
        conversation_id: &str,
        participant_id: &str,
    ) -> Option<BTreeMap<String, String>> {
        self.state
            .messaging
            .lock()
            .get(conversation_id)?
            .iter()
            .find(|p| p.id == participant_id)
            .map(|p| p.attributes.clone())
    }
}

pub(crate) fn install(fake: &FakeGenesys, store: Arc<MessagingStore>) {
    let patch_store = store.clone();
    fake.route(
        Method::PATCH,
        "/api/v2/conversations/messages/{conversationId}/participants/{participantId}/attributes",
        move |req| {
            let attributes = match parse_attributes(&req.body) {
                Ok(a) => a,
                Err(response) => return response,
            };
            let mut conversations = patch_store.lock();
            let Some(participants) = conversations.get_mut(req.param("conversationId")) else {
                return genesys_error(404, "not.found", "The conversation was not found.");
            };
            let Some(participant) = participants
                .iter_mut()
                .find(|p| p.id == req.param("participantId"))
            else {
                return genesys_error(
                    404,
                    "not.found",
                    "The participant was not found in the conversation.",
                );
            };
            participant.attributes.extend(attributes);
            json_response(200, &json!({ "attributes": participant.attributes }))
        },
    );
    fake.route(
        Method::GET,
        "/api/v2/conversations/messages/{conversationId}",
        move |req| {
            let conversations = store.lock();
            let id = req.param("conversationId");
            let Some(participants) = conversations.get(id) else {
                return genesys_error(404, "not.found", "The conversation was not found.");
            };
            let participants: Vec<Value> = participants
                .iter()
                .map(|p| {
                    json!({
                        "id": p.id,
                        "purpose": p.purpose,
                        "state": "connected",
                        "attributes": p.attributes,
                    })
                })
                .collect();
            json_response(
                200,
                &json!({
                    "id": id,
                    "participants": participants,
                    "selfUri": format!("/api/v2/conversations/messages/{id}"),
                }),
            )
        },
    );
}

/// `ParticipantAttributes` checked against its model: an `attributes` object whose values
/// are strings (`dict(str, str)`); no limits (see the module docs).
fn parse_attributes(body: &[u8]) -> Result<BTreeMap<String, String>, ResponseTemplate> {
    let parsed: Value = serde_json::from_slice(body).map_err(|_| {
        bad_request(
            "The request body is not valid JSON.",
            &[("body", "invalid.json")],
        )
    })?;
    let Some(map) = parsed.get("attributes").and_then(Value::as_object) else {
        return Err(bad_request(
            "`attributes` must be an object.",
            &[("attributes", "required")],
        ));
    };
    let mut problems: Vec<String> = Vec::new();
    let mut attributes = BTreeMap::new();
    for (key, value) in map {
        match value.as_str() {
            Some(v) => {
                attributes.insert(key.clone(), v.to_owned());
            }
            None => problems.push(format!("attributes.{key}")),
        }
    }
    if problems.is_empty() {
        return Ok(attributes);
    }
    let fields: Vec<(&str, &str)> = problems
        .iter()
        .map(|f| (f.as_str(), "value.not.string"))
        .collect();
    Err(bad_request(
        "The participant attributes are invalid: attribute values are strings.",
        &fields,
    ))
}
