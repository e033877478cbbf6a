//! In the fake: messaging conversations and their participants' attributes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use super::responses::{bad_request, genesys_error, json_response};
use super::FakeGenesys;
use crate::messaging::limits::{self, reserved_namespace};
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

/// `ParticipantAttributes` checked as the platform does: a string map within the limits.
fn parse_attributes(body: &[u8]) -> Result<BTreeMap<String, String>, ResponseTemplate> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(bad_request(
            "The request body is too large.",
            &[("attributes", "payload.too.large")],
        ));
    }
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
    let mut problems: Vec<(String, &str)> = Vec::new();
    if map.len() > limits::MAX_ATTRIBUTES {
        problems.push(("attributes".into(), "too.many.attributes"));
    }
    let mut attributes = BTreeMap::new();
    for (key, value) in map {
        let field = format!("attributes.{key}");
        match value.as_str() {
            None => problems.push((field, "value.not.string")),
            Some(_) if key.chars().count() > limits::MAX_KEY_CHARS => {
                problems.push((field, "key.too.long"))
            }
            Some(_) if reserved_namespace(key).is_some() => problems.push((field, "key.reserved")),
            Some(v) if v.chars().count() > limits::MAX_VALUE_CHARS => {
                problems.push((field, "value.too.long"))
            }
            Some(v) => {
                attributes.insert(key.clone(), v.to_owned());
            }
        }
    }
    if problems.is_empty() {
        Ok(attributes)
    } else {
        let fields: Vec<(&str, &str)> = problems.iter().map(|(f, c)| (f.as_str(), *c)).collect();
        Err(bad_request(
            "The participant attributes are invalid.",
            &fields,
        ))
    }
}
