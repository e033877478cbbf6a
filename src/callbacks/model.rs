//! The platform's callback models, with the JSON field names of Genesys's SDKs
//! (PureCloudPlatformClientV2 269.0.0, listed in the crate's reference notes).
//!
//! Every model derives `Serialize` and `Deserialize`, is `#[non_exhaustive]` (so new
//! fields are not a breaking change), reads missing fields as `None` or empty, and keeps
//! every field it does not model in `extra`, as the platform sent it. States are
//! [`CallbackState`], with [`CallbackState::Unknown`] for values newer than this crate;
//! times are [`jiff::Timestamp`]s (a time the platform writes in a form jiff cannot read
//! becomes `None` and is logged, without its value, at debug level).
//!
//! The models hold personal data as the platform returns it (callback numbers, names,
//! attributes): the crate never logs them, and neither should you.
//!
//! Why hand-written and not `genesys-cloud-api`'s generated models (issue #16): the
//! generated ones are the platform's shapes as its SDKs describe them, with every field
//! optional, times as strings and no invariants; this flow's callers read typed states
//! (`CallbackState`), `jiff::Timestamp` times and typed callback identifiers, which the
//! generated shapes do not give. And the flows must not need the `api` feature: the
//! generated model closure of the `conversations` group (the largest) would add its
//! compile cost to every service using the flow. The JSON names are the SDK's, so a value moves
//! between the two with `serde_json::to_value`/`from_value`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Fields of a model this crate does not (yet) type, by their JSON name.
pub type Extra = Map<String, Value>;

/// The answer to a reschedule: the same fields as [`CreateCallbackResponse`].
pub type PatchCallbackResponse = CreateCallbackResponse;

/// The state of a callback participant or conversation (the platform's `state` and
/// `initialState` values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallbackState {
    /// `alerting`.
    Alerting,
    /// `dialing`.
    Dialing,
    /// `contacting`.
    Contacting,
    /// `offering`.
    Offering,
    /// `connected`.
    Connected,
    /// `disconnected`: the callback is over (done or cancelled).
    Disconnected,
    /// `terminated`: the callback is over.
    Terminated,
    /// `converting`.
    Converting,
    /// `uploading`.
    Uploading,
    /// `transmitting`.
    Transmitting,
    /// `scheduled`: waiting for its time.
    Scheduled,
    /// `none`.
    None,
    /// A state this crate does not know yet, as the platform wrote it.
    Unknown(String),
}

impl CallbackState {
    /// The platform's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            CallbackState::Alerting => "alerting",
            CallbackState::Dialing => "dialing",
            CallbackState::Contacting => "contacting",
            CallbackState::Offering => "offering",
            CallbackState::Connected => "connected",
            CallbackState::Disconnected => "disconnected",
            CallbackState::Terminated => "terminated",
            CallbackState::Converting => "converting",
            CallbackState::Uploading => "uploading",
            CallbackState::Transmitting => "transmitting",
            CallbackState::Scheduled => "scheduled",
            CallbackState::None => "none",
            CallbackState::Unknown(other) => other,
        }
    }

    /// Whether the callback is over (`disconnected` or `terminated`): no later state
    /// follows.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            CallbackState::Disconnected | CallbackState::Terminated
        )
    }
}

impl FromStr for CallbackState {
    type Err = std::convert::Infallible;

    /// Reads any spelling (case-insensitively); unknown values become
    /// [`CallbackState::Unknown`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "alerting" => CallbackState::Alerting,
            "dialing" => CallbackState::Dialing,
            "contacting" => CallbackState::Contacting,
            "offering" => CallbackState::Offering,
            "connected" => CallbackState::Connected,
            "disconnected" => CallbackState::Disconnected,
            "terminated" => CallbackState::Terminated,
            "converting" => CallbackState::Converting,
            "uploading" => CallbackState::Uploading,
            "transmitting" => CallbackState::Transmitting,
            "scheduled" => CallbackState::Scheduled,
            "none" => CallbackState::None,
            _ => CallbackState::Unknown(s.to_owned()),
        })
    }
}

impl fmt::Display for CallbackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CallbackState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CallbackState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        // ok: parsing a state is infallible.
        Ok(raw.parse().unwrap_or(CallbackState::Unknown(raw)))
    }
}

/// Which participant a [`CallbackIdentifier`] identifies (`ACD` or `EXTERNAL`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallbackIdentifierType {
    /// `ACD`: the callback participant routed through a queue.
    Acd,
    /// `EXTERNAL`: the external (customer) participant.
    External,
    /// A type this crate does not know yet, as the platform wrote it.
    Unknown(String),
}

impl CallbackIdentifierType {
    /// The platform's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            CallbackIdentifierType::Acd => "ACD",
            CallbackIdentifierType::External => "EXTERNAL",
            CallbackIdentifierType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for CallbackIdentifierType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CallbackIdentifierType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CallbackIdentifierType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(match raw.to_ascii_uppercase().as_str() {
            "ACD" => CallbackIdentifierType::Acd,
            "EXTERNAL" => CallbackIdentifierType::External,
            _ => CallbackIdentifierType::Unknown(raw),
        })
    }
}

mod lenient {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// A platform date-time; `None` when absent, `null`, or not a time jiff reads
    /// (logged without the value: one odd field must not lose a whole event).
    pub(super) fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(raw)) => match raw.parse() {
                Ok(at) => Some(at),
                Err(_) => {
                    tracing::debug!("a platform timestamp could not be read; left out");
                    None
                }
            },
            Some(Value::Null) | None => None,
            Some(_) => {
                tracing::debug!("a platform timestamp is not a string; left out");
                None
            }
        })
    }
}

impl CreateCallbackResponse {
    /// The callback conversation's id (the crate checks it is there before returning
    /// an answer).
    pub fn conversation_id(&self) -> &str {
        self.conversation.id.as_deref().unwrap_or_default()
    }

    /// The identifier of the participant of type `kind`, if the answer has one.
    pub fn identifier(&self, kind: &CallbackIdentifierType) -> Option<&str> {
        self.callback_identifiers
            .iter()
            .find(|i| i.kind.as_ref() == Some(kind))
            .and_then(|i| i.id.as_deref())
    }
}

/// What a callback participant says about the callback.
pub(crate) struct Summary<'a> {
    pub(crate) queue_id: Option<&'a str>,
    pub(crate) state: Option<&'a CallbackState>,
    pub(crate) scheduled_time: Option<Timestamp>,
    pub(crate) ended: bool,
}

impl CallbackConversation {
    /// The participant that carries the callback: the one with callback numbers or a
    /// scheduled time, else the ACD participant.
    pub fn callback_participant(&self) -> Option<&CallbackMediaParticipant> {
        self.participants
            .iter()
            .find(|p| !p.callback_numbers.is_empty() || p.callback_scheduled_time.is_some())
            .or_else(|| {
                self.participants
                    .iter()
                    .find(|p| p.purpose.as_deref() == Some("acd"))
            })
    }

    pub(crate) fn summary(&self) -> Summary<'_> {
        let p = self.callback_participant();
        Summary {
            queue_id: p
                .and_then(|p| p.queue.as_ref())
                .and_then(|q| q.id.as_deref()),
            state: p.and_then(|p| p.state.as_ref()),
            scheduled_time: p.and_then(|p| p.callback_scheduled_time),
            ended: p.is_some_and(|p| {
                p.end_time.is_some() || p.state.as_ref().is_some_and(CallbackState::is_final)
            }),
        }
    }
}

impl CallbackEventConversation {
    /// The participant that carries the callback: the one with callback numbers or a
    /// scheduled time, else the ACD participant.
    pub fn callback_participant(&self) -> Option<&CallbackEventParticipant> {
        self.participants
            .iter()
            .find(|p| !p.callback_numbers.is_empty() || p.callback_scheduled_time.is_some())
            .or_else(|| {
                self.participants
                    .iter()
                    .find(|p| p.purpose.as_deref() == Some("acd"))
            })
    }

    pub(crate) fn summary(&self) -> Summary<'_> {
        let p = self.callback_participant();
        Summary {
            queue_id: p
                .and_then(|p| p.queue.as_ref())
                .and_then(|q| q.id.as_deref()),
            state: p.and_then(|p| p.state.as_ref()),
            scheduled_time: p.and_then(|p| p.callback_scheduled_time),
            ended: p.is_some_and(|p| {
                p.end_time.is_some() || p.state.as_ref().is_some_and(CallbackState::is_final)
            }),
        }
    }
}

/// A reference to another entity (user, queue, team, script ...).
///
/// The platform's `DomainEntityRef`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DomainEntityRef {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// The entity's URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reference to another entity, without its name.
///
/// The platform's `AddressableEntityRef`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AddressableEntityRef {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// The entity's URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An error the platform attached to a participant.
///
/// The platform's `ErrorInfo`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ErrorInfo {
    /// Message (may quote values).
    #[serde(rename = "message")]
    pub message: Option<String>,
    /// Machine-readable code.
    #[serde(rename = "code")]
    pub code: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A participant's wrap-up.
///
/// The platform's `Wrapup`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Wrapup {
    /// Wrap-up code id.
    #[serde(rename = "code")]
    pub code: Option<String>,
    /// Wrap-up code name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Notes.
    #[serde(rename = "notes")]
    pub notes: Option<String>,
    /// Tags.
    #[serde(rename = "tags")]
    pub tags: Vec<String>,
    /// Time spent in wrap-up.
    #[serde(rename = "durationSeconds")]
    pub duration_seconds: Option<i64>,
    /// When wrap-up ended.
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// Whether the wrap-up is provisional.
    #[serde(rename = "provisional")]
    pub provisional: Option<bool>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The customer of a journey context.
///
/// The platform's `JourneyCustomer`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct JourneyCustomer {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// What kind of id it is.
    #[serde(rename = "idType")]
    pub id_type: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The customer session of a journey context.
///
/// The platform's `JourneyCustomerSession`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct JourneyCustomerSession {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Session type (`type`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The action that triggered a journey (its `actionMap` is kept in `extra`).
///
/// The platform's `JourneyAction`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct JourneyAction {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Predictive engagement context of a participant.
///
/// The platform's `JourneyContext`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct JourneyContext {
    /// The customer.
    #[serde(rename = "customer")]
    pub customer: Option<JourneyCustomer>,
    /// The customer session.
    #[serde(rename = "customerSession")]
    pub customer_session: Option<JourneyCustomerSession>,
    /// The triggering action.
    #[serde(rename = "triggeringAction")]
    pub triggering_action: Option<JourneyAction>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An agent and its routing score.
///
/// The platform's `ScoredAgent`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ScoredAgent {
    /// The agent.
    #[serde(rename = "agent")]
    pub agent: Option<DomainEntityRef>,
    /// The score.
    #[serde(rename = "score")]
    pub score: Option<i64>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How a conversation is routed.
///
/// The platform's `ConversationRoutingData`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConversationRoutingData {
    /// Queue.
    #[serde(rename = "queue")]
    pub queue: Option<AddressableEntityRef>,
    /// Language.
    #[serde(rename = "language")]
    pub language: Option<AddressableEntityRef>,
    /// Priority.
    #[serde(rename = "priority")]
    pub priority: Option<i64>,
    /// Skills.
    #[serde(rename = "skills")]
    pub skills: Vec<AddressableEntityRef>,
    /// Skill expression.
    #[serde(rename = "skillExpression")]
    pub skill_expression: Option<String>,
    /// Skill expression id.
    #[serde(rename = "skillExpressionId")]
    pub skill_expression_id: Option<String>,
    /// Agents with scores.
    #[serde(rename = "scoredAgents")]
    pub scored_agents: Vec<ScoredAgent>,
    /// Routing label.
    #[serde(rename = "label")]
    pub label: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A phone number column of a dialer contact list.
///
/// The platform's `PhoneNumberColumn`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PhoneNumberColumn {
    /// Column name.
    #[serde(rename = "columnName")]
    pub column_name: Option<String>,
    /// Column type (`type`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Callable-time column.
    #[serde(rename = "callableTimeColumnName")]
    pub callable_time_column_name: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An outbound dialer preview.
///
/// The platform's `DialerPreview`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DialerPreview {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Contact.
    #[serde(rename = "contactId")]
    pub contact_id: Option<String>,
    /// Contact list.
    #[serde(rename = "contactListId")]
    pub contact_list_id: Option<String>,
    /// Campaign.
    #[serde(rename = "campaignId")]
    pub campaign_id: Option<String>,
    /// Phone number columns.
    #[serde(rename = "phoneNumberColumns")]
    pub phone_number_columns: Vec<PhoneNumberColumn>,
    /// Whether the callback is answered automatically.
    #[serde(rename = "callbackAutoAnswer")]
    pub callback_auto_answer: Option<bool>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A voicemail left on a callback.
///
/// The platform's `Voicemail`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Voicemail {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Upload status.
    #[serde(rename = "uploadStatus")]
    pub upload_status: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Who started a transfer.
///
/// The platform's `TransferInitiator`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransferInitiator {
    /// The user.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Who last changed a transfer.
///
/// The platform's `TransferResponseModifiedBy`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransferResponseModifiedBy {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a transfer goes.
///
/// The platform's `TransferDestination`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransferDestination {
    /// The user.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// The address.
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A recent transfer of the conversation.
///
/// The platform's `TransferResponse`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransferResponse {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Transfer state.
    #[serde(rename = "state")]
    pub state: Option<String>,
    /// When it was issued.
    #[serde(rename = "dateIssued", deserialize_with = "lenient::time")]
    pub date_issued: Option<Timestamp>,
    /// Who started it.
    #[serde(rename = "initiator")]
    pub initiator: Option<TransferInitiator>,
    /// Who changed it.
    #[serde(rename = "modifiedBy")]
    pub modified_by: Option<TransferResponseModifiedBy>,
    /// Where it goes.
    #[serde(rename = "destination")]
    pub destination: Option<TransferDestination>,
    /// Transfer type.
    #[serde(rename = "transferType")]
    pub transfer_type: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An entity in a division.
///
/// The platform's `DivisionEntityRef`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DivisionEntityRef {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// When its division changed.
    #[serde(rename = "dateDivisionUpdated", deserialize_with = "lenient::time")]
    pub date_division_updated: Option<Timestamp>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A division the conversation belongs to.
///
/// The platform's `ConversationDivisionMembership`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConversationDivisionMembership {
    /// The division.
    #[serde(rename = "division")]
    pub division: Option<DomainEntityRef>,
    /// Entities of the conversation in it.
    #[serde(rename = "entities")]
    pub entities: Vec<DivisionEntityRef>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A participant of a callback conversation, as `GET /api/v2/conversations/callbacks/{conversationId}` returns it.
///
/// The platform's `CallbackMediaParticipant`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackMediaParticipant {
    /// Participant id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Display name (may be personal data).
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Address (may be personal data).
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// When the participant joined.
    #[serde(rename = "startTime", deserialize_with = "lenient::time")]
    pub start_time: Option<Timestamp>,
    /// When alerting started.
    #[serde(rename = "startAlertingTime", deserialize_with = "lenient::time")]
    pub start_alerting_time: Option<Timestamp>,
    /// When it connected.
    #[serde(rename = "connectedTime", deserialize_with = "lenient::time")]
    pub connected_time: Option<Timestamp>,
    /// When it ended (set once disconnected).
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// When hold started.
    #[serde(rename = "startHoldTime", deserialize_with = "lenient::time")]
    pub start_hold_time: Option<Timestamp>,
    /// `customer`, `acd`, `agent` ...
    #[serde(rename = "purpose")]
    pub purpose: Option<String>,
    /// The participant's state.
    #[serde(rename = "state")]
    pub state: Option<CallbackState>,
    /// `inbound` or `outbound`.
    #[serde(rename = "direction")]
    pub direction: Option<String>,
    /// How it was disconnected.
    #[serde(rename = "disconnectType")]
    pub disconnect_type: Option<String>,
    /// Whether it is on hold.
    #[serde(rename = "held")]
    pub held: Option<bool>,
    /// Whether wrap-up is required.
    #[serde(rename = "wrapupRequired")]
    pub wrapup_required: Option<bool>,
    /// Wrap-up prompt.
    #[serde(rename = "wrapupPrompt")]
    pub wrapup_prompt: Option<String>,
    /// Media roles.
    #[serde(rename = "mediaRoles")]
    pub media_roles: Vec<String>,
    /// The user, for agents.
    #[serde(rename = "user")]
    pub user: Option<DomainEntityRef>,
    /// The queue.
    #[serde(rename = "queue")]
    pub queue: Option<DomainEntityRef>,
    /// The team.
    #[serde(rename = "team")]
    pub team: Option<DomainEntityRef>,
    /// Participant attributes (a callback's `data`; may be personal data).
    #[serde(rename = "attributes")]
    pub attributes: BTreeMap<String, String>,
    /// An error, if any.
    #[serde(rename = "errorInfo")]
    pub error_info: Option<ErrorInfo>,
    /// The agent script.
    #[serde(rename = "script")]
    pub script: Option<DomainEntityRef>,
    /// Wrap-up timeout.
    #[serde(rename = "wrapupTimeoutMs")]
    pub wrapup_timeout_ms: Option<i64>,
    /// Whether wrap-up was skipped.
    #[serde(rename = "wrapupSkipped")]
    pub wrapup_skipped: Option<bool>,
    /// Alerting timeout.
    #[serde(rename = "alertingTimeoutMs")]
    pub alerting_timeout_ms: Option<i64>,
    /// Media provider.
    #[serde(rename = "provider")]
    pub provider: Option<String>,
    /// External contact.
    #[serde(rename = "externalContact")]
    pub external_contact: Option<DomainEntityRef>,
    /// The external contact's first division.
    #[serde(rename = "externalContactInitialDivisionId")]
    pub external_contact_initial_division_id: Option<String>,
    /// External organization.
    #[serde(rename = "externalOrganization")]
    pub external_organization: Option<DomainEntityRef>,
    /// Wrap-up.
    #[serde(rename = "wrapup")]
    pub wrapup: Option<Wrapup>,
    /// Peer participant.
    #[serde(rename = "peer")]
    pub peer: Option<String>,
    /// Why it was flagged.
    #[serde(rename = "flaggedReason")]
    pub flagged_reason: Option<String>,
    /// Journey context.
    #[serde(rename = "journeyContext")]
    pub journey_context: Option<JourneyContext>,
    /// Routing data.
    #[serde(rename = "conversationRoutingData")]
    pub conversation_routing_data: Option<ConversationRoutingData>,
    /// When after-call work started.
    #[serde(rename = "startAcwTime", deserialize_with = "lenient::time")]
    pub start_acw_time: Option<Timestamp>,
    /// When after-call work ended.
    #[serde(rename = "endAcwTime", deserialize_with = "lenient::time")]
    pub end_acw_time: Option<Timestamp>,
    /// When it was parked.
    #[serde(rename = "parkTime", deserialize_with = "lenient::time")]
    pub park_time: Option<Timestamp>,
    /// When it resumes.
    #[serde(rename = "resumeTime", deserialize_with = "lenient::time")]
    pub resume_time: Option<Timestamp>,
    /// Dialer preview.
    #[serde(rename = "outboundPreview")]
    pub outbound_preview: Option<DialerPreview>,
    /// Voicemail.
    #[serde(rename = "voicemail")]
    pub voicemail: Option<Voicemail>,
    /// Numbers to call back (personal data).
    #[serde(rename = "callbackNumbers")]
    pub callback_numbers: Vec<String>,
    /// Name of the person to call back (personal data).
    #[serde(rename = "callbackUserName")]
    pub callback_user_name: Option<String>,
    /// Whether an external campaign made it.
    #[serde(rename = "externalCampaign")]
    pub external_campaign: Option<bool>,
    /// Whether the agent may skip it.
    #[serde(rename = "skipEnabled")]
    pub skip_enabled: Option<bool>,
    /// Seconds before an agent must act.
    #[serde(rename = "timeoutSeconds")]
    pub timeout_seconds: Option<i64>,
    /// Automated callback configuration.
    #[serde(rename = "automatedCallbackConfigId")]
    pub automated_callback_config_id: Option<String>,
    /// When the callback is scheduled.
    #[serde(rename = "callbackScheduledTime", deserialize_with = "lenient::time")]
    pub callback_scheduled_time: Option<Timestamp>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A callback conversation, as `GET /api/v2/conversations/callbacks/{conversationId}` returns it.
///
/// The platform's `CallbackConversation`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackConversation {
    /// Conversation id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Participants.
    #[serde(rename = "participants")]
    pub participants: Vec<CallbackMediaParticipant>,
    /// Other media of the conversation.
    #[serde(rename = "otherMediaUris")]
    pub other_media_uris: Vec<String>,
    /// Recent transfers.
    #[serde(rename = "recentTransfers")]
    pub recent_transfers: Vec<TransferResponse>,
    /// Utilization label.
    #[serde(rename = "utilizationLabelId")]
    pub utilization_label_id: Option<String>,
    /// When the conversation times out if inactive.
    #[serde(rename = "inactivityTimeout", deserialize_with = "lenient::time")]
    pub inactivity_timeout: Option<Timestamp>,
    /// Divisions.
    #[serde(rename = "divisions")]
    pub divisions: Vec<ConversationDivisionMembership>,
    /// URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A reference in a notification (user, queue, team, script ...).
///
/// The platform's `QueueConversationCallbackEventTopicUriReference`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct UriReference {
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A participant in a callback notification. Its nested `errorInfo`, `wrapup`, `conversationRoutingData`, `journeyContext`, `outboundPreview` and `voicemail` (shaped like the REST models, not confirmed for notifications) are kept in `extra`.
///
/// The platform's `QueueConversationCallbackEventTopicCallbackMediaParticipant`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackEventParticipant {
    /// Participant id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Display name (may be personal data).
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Address (may be personal data).
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// When the participant joined.
    #[serde(rename = "startTime", deserialize_with = "lenient::time")]
    pub start_time: Option<Timestamp>,
    /// When it connected.
    #[serde(rename = "connectedTime", deserialize_with = "lenient::time")]
    pub connected_time: Option<Timestamp>,
    /// When it ended (set once disconnected).
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// When hold started.
    #[serde(rename = "startHoldTime", deserialize_with = "lenient::time")]
    pub start_hold_time: Option<Timestamp>,
    /// `customer`, `acd`, `agent` ...
    #[serde(rename = "purpose")]
    pub purpose: Option<String>,
    /// The participant's state.
    #[serde(rename = "state")]
    pub state: Option<CallbackState>,
    /// The state it started in.
    #[serde(rename = "initialState")]
    pub initial_state: Option<CallbackState>,
    /// `inbound` or `outbound`.
    #[serde(rename = "direction")]
    pub direction: Option<String>,
    /// How it was disconnected.
    #[serde(rename = "disconnectType")]
    pub disconnect_type: Option<String>,
    /// Whether it is on hold.
    #[serde(rename = "held")]
    pub held: Option<bool>,
    /// Whether wrap-up is required.
    #[serde(rename = "wrapupRequired")]
    pub wrapup_required: Option<bool>,
    /// Wrap-up prompt.
    #[serde(rename = "wrapupPrompt")]
    pub wrapup_prompt: Option<String>,
    /// The user, for agents.
    #[serde(rename = "user")]
    pub user: Option<UriReference>,
    /// The queue.
    #[serde(rename = "queue")]
    pub queue: Option<UriReference>,
    /// The team.
    #[serde(rename = "team")]
    pub team: Option<UriReference>,
    /// Participant attributes (a callback's `data`; may be personal data).
    #[serde(rename = "attributes")]
    pub attributes: BTreeMap<String, String>,
    /// The agent script.
    #[serde(rename = "script")]
    pub script: Option<UriReference>,
    /// Wrap-up timeout.
    #[serde(rename = "wrapupTimeoutMs")]
    pub wrapup_timeout_ms: Option<i64>,
    /// Whether wrap-up was skipped.
    #[serde(rename = "wrapupSkipped")]
    pub wrapup_skipped: Option<bool>,
    /// Alerting timeout.
    #[serde(rename = "alertingTimeoutMs")]
    pub alerting_timeout_ms: Option<i64>,
    /// Media provider.
    #[serde(rename = "provider")]
    pub provider: Option<String>,
    /// External contact.
    #[serde(rename = "externalContact")]
    pub external_contact: Option<UriReference>,
    /// External organization.
    #[serde(rename = "externalOrganization")]
    pub external_organization: Option<UriReference>,
    /// Peer participant.
    #[serde(rename = "peer")]
    pub peer: Option<String>,
    /// Screen recording state.
    #[serde(rename = "screenRecordingState")]
    pub screen_recording_state: Option<String>,
    /// Why it was flagged.
    #[serde(rename = "flaggedReason")]
    pub flagged_reason: Option<String>,
    /// When after-call work started.
    #[serde(rename = "startAcwTime", deserialize_with = "lenient::time")]
    pub start_acw_time: Option<Timestamp>,
    /// When after-call work ended.
    #[serde(rename = "endAcwTime", deserialize_with = "lenient::time")]
    pub end_acw_time: Option<Timestamp>,
    /// Media roles.
    #[serde(rename = "mediaRoles")]
    pub media_roles: Vec<String>,
    /// Numbers to call back (personal data).
    #[serde(rename = "callbackNumbers")]
    pub callback_numbers: Vec<String>,
    /// Name of the person to call back (personal data).
    #[serde(rename = "callbackUserName")]
    pub callback_user_name: Option<String>,
    /// Whether the agent may skip it.
    #[serde(rename = "skipEnabled")]
    pub skip_enabled: Option<bool>,
    /// Whether an external campaign made it.
    #[serde(rename = "externalCampaign")]
    pub external_campaign: Option<bool>,
    /// Seconds before an agent must act.
    #[serde(rename = "timeoutSeconds")]
    pub timeout_seconds: Option<i64>,
    /// When the callback is scheduled.
    #[serde(rename = "callbackScheduledTime", deserialize_with = "lenient::time")]
    pub callback_scheduled_time: Option<Timestamp>,
    /// Automated callback configuration.
    #[serde(rename = "automatedCallbackConfigId")]
    pub automated_callback_config_id: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A callback conversation as the `v2.routing.queues.{id}.conversations.callbacks` notification carries it. Its `accessAttributes` and `divisions` (shapes not confirmed for notifications) are kept in `extra`.
///
/// The platform's `QueueConversationCallbackEventTopicCallbackConversation`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackEventConversation {
    /// Conversation id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// Participants.
    #[serde(rename = "participants")]
    pub participants: Vec<CallbackEventParticipant>,
    /// Other media of the conversation.
    #[serde(rename = "otherMediaUris")]
    pub other_media_uris: Vec<String>,
    /// Address.
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// Utilization label.
    #[serde(rename = "utilizationLabelId")]
    pub utilization_label_id: Option<String>,
    /// When the conversation times out if inactive.
    #[serde(rename = "inactivityTimeout", deserialize_with = "lenient::time")]
    pub inactivity_timeout: Option<Timestamp>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One identifier of a callback participant.
///
/// The platform's `CallbackIdentifier`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackIdentifier {
    /// Which participant it identifies (`type`).
    #[serde(rename = "type")]
    pub kind: Option<CallbackIdentifierType>,
    /// The identifier.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The answer to creating (`POST /api/v2/conversations/callbacks`) or rescheduling (`PATCH /api/v2/conversations/callbacks`) a callback.
///
/// The platform's `CreateCallbackResponse / PatchCallbackResponse`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CreateCallbackResponse {
    /// The callback conversation.
    #[serde(rename = "conversation")]
    pub conversation: DomainEntityRef,
    /// Identifiers of the callback participants.
    #[serde(rename = "callbackIdentifiers")]
    pub callback_identifiers: Vec<CallbackIdentifier>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A segment of a media session.
///
/// The platform's `Segment`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Segment {
    /// Start.
    #[serde(rename = "startTime", deserialize_with = "lenient::time")]
    pub start_time: Option<Timestamp>,
    /// End.
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// Segment type (`type`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// How it ended.
    #[serde(rename = "howEnded")]
    pub how_ended: Option<String>,
    /// Disconnect type.
    #[serde(rename = "disconnectType")]
    pub disconnect_type: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A participant's callback media (in a `Conversation`).
///
/// The platform's `Callback`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CallbackMedia {
    /// State.
    #[serde(rename = "state")]
    pub state: Option<CallbackState>,
    /// The state it started in.
    #[serde(rename = "initialState")]
    pub initial_state: Option<CallbackState>,
    /// Id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Segments.
    #[serde(rename = "segments")]
    pub segments: Vec<Segment>,
    /// `inbound` or `outbound`.
    #[serde(rename = "direction")]
    pub direction: Option<String>,
    /// Whether it is on hold.
    #[serde(rename = "held")]
    pub held: Option<bool>,
    /// How it was disconnected.
    #[serde(rename = "disconnectType")]
    pub disconnect_type: Option<String>,
    /// When hold started.
    #[serde(rename = "startHoldTime", deserialize_with = "lenient::time")]
    pub start_hold_time: Option<Timestamp>,
    /// Dialer preview.
    #[serde(rename = "dialerPreview")]
    pub dialer_preview: Option<DialerPreview>,
    /// Voicemail.
    #[serde(rename = "voicemail")]
    pub voicemail: Option<Voicemail>,
    /// Numbers to call back (personal data).
    #[serde(rename = "callbackNumbers")]
    pub callback_numbers: Vec<String>,
    /// Name of the person to call back (personal data).
    #[serde(rename = "callbackUserName")]
    pub callback_user_name: Option<String>,
    /// Agent script.
    #[serde(rename = "scriptId")]
    pub script_id: Option<String>,
    /// Whether an external campaign made it.
    #[serde(rename = "externalCampaign")]
    pub external_campaign: Option<bool>,
    /// Whether the agent may skip it.
    #[serde(rename = "skipEnabled")]
    pub skip_enabled: Option<bool>,
    /// Seconds before an agent must act.
    #[serde(rename = "timeoutSeconds")]
    pub timeout_seconds: Option<i64>,
    /// When alerting started.
    #[serde(rename = "startAlertingTime", deserialize_with = "lenient::time")]
    pub start_alerting_time: Option<Timestamp>,
    /// When it connected.
    #[serde(rename = "connectedTime", deserialize_with = "lenient::time")]
    pub connected_time: Option<Timestamp>,
    /// When it was disconnected.
    #[serde(rename = "disconnectedTime", deserialize_with = "lenient::time")]
    pub disconnected_time: Option<Timestamp>,
    /// When the callback is scheduled.
    #[serde(rename = "callbackScheduledTime", deserialize_with = "lenient::time")]
    pub callback_scheduled_time: Option<Timestamp>,
    /// Automated callback configuration.
    #[serde(rename = "automatedCallbackConfigId")]
    pub automated_callback_config_id: Option<String>,
    /// Media provider.
    #[serde(rename = "provider")]
    pub provider: Option<String>,
    /// Peer.
    #[serde(rename = "peerId")]
    pub peer_id: Option<String>,
    /// Wrap-up.
    #[serde(rename = "wrapup")]
    pub wrapup: Option<Wrapup>,
    /// Whether after-call work is required.
    #[serde(rename = "afterCallWorkRequired")]
    pub after_call_work_required: Option<bool>,
    /// Caller id shown to the customer.
    #[serde(rename = "callerId")]
    pub caller_id: Option<String>,
    /// Caller id name shown to the customer.
    #[serde(rename = "callerIdName")]
    pub caller_id_name: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A participant of a `Conversation`. Media other than callbacks (`calls`, `chats`, `emails` ...) are kept in `extra`.
///
/// The platform's `Participant`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Participant {
    /// Participant id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// When it joined.
    #[serde(rename = "startTime", deserialize_with = "lenient::time")]
    pub start_time: Option<Timestamp>,
    /// When it left.
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// When it connected.
    #[serde(rename = "connectedTime", deserialize_with = "lenient::time")]
    pub connected_time: Option<Timestamp>,
    /// Display name (may be personal data).
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// The user's URI.
    #[serde(rename = "userUri")]
    pub user_uri: Option<String>,
    /// The user.
    #[serde(rename = "userId")]
    pub user_id: Option<String>,
    /// External contact.
    #[serde(rename = "externalContactId")]
    pub external_contact_id: Option<String>,
    /// The external contact's first division.
    #[serde(rename = "externalContactInitialDivisionId")]
    pub external_contact_initial_division_id: Option<String>,
    /// External organization.
    #[serde(rename = "externalOrganizationId")]
    pub external_organization_id: Option<String>,
    /// Queue.
    #[serde(rename = "queueId")]
    pub queue_id: Option<String>,
    /// Group.
    #[serde(rename = "groupId")]
    pub group_id: Option<String>,
    /// Team.
    #[serde(rename = "teamId")]
    pub team_id: Option<String>,
    /// Queue name.
    #[serde(rename = "queueName")]
    pub queue_name: Option<String>,
    /// `customer`, `acd`, `agent` ...
    #[serde(rename = "purpose")]
    pub purpose: Option<String>,
    /// Participant type.
    #[serde(rename = "participantType")]
    pub participant_type: Option<String>,
    /// Consult participant.
    #[serde(rename = "consultParticipantId")]
    pub consult_participant_id: Option<String>,
    /// Address (may be personal data).
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// ANI (personal data).
    #[serde(rename = "ani")]
    pub ani: Option<String>,
    /// ANI name (personal data).
    #[serde(rename = "aniName")]
    pub ani_name: Option<String>,
    /// DNIS.
    #[serde(rename = "dnis")]
    pub dnis: Option<String>,
    /// Locale.
    #[serde(rename = "locale")]
    pub locale: Option<String>,
    /// Whether wrap-up is required.
    #[serde(rename = "wrapupRequired")]
    pub wrapup_required: Option<bool>,
    /// Wrap-up prompt.
    #[serde(rename = "wrapupPrompt")]
    pub wrapup_prompt: Option<String>,
    /// Wrap-up timeout.
    #[serde(rename = "wrapupTimeoutMs")]
    pub wrapup_timeout_ms: Option<i64>,
    /// Whether wrap-up was skipped.
    #[serde(rename = "wrapupSkipped")]
    pub wrapup_skipped: Option<bool>,
    /// Wrap-up.
    #[serde(rename = "wrapup")]
    pub wrapup: Option<Wrapup>,
    /// Media roles.
    #[serde(rename = "mediaRoles")]
    pub media_roles: Vec<String>,
    /// Routing data.
    #[serde(rename = "conversationRoutingData")]
    pub conversation_routing_data: Option<ConversationRoutingData>,
    /// Alerting timeout.
    #[serde(rename = "alertingTimeoutMs")]
    pub alerting_timeout_ms: Option<i64>,
    /// Monitored participant.
    #[serde(rename = "monitoredParticipantId")]
    pub monitored_participant_id: Option<String>,
    /// Coached participant.
    #[serde(rename = "coachedParticipantId")]
    pub coached_participant_id: Option<String>,
    /// Participant attributes (may be personal data).
    #[serde(rename = "attributes")]
    pub attributes: BTreeMap<String, String>,
    /// Callback media.
    #[serde(rename = "callbacks")]
    pub callbacks: Vec<CallbackMedia>,
    /// Screen recording state.
    #[serde(rename = "screenRecordingState")]
    pub screen_recording_state: Option<String>,
    /// Why it was flagged.
    #[serde(rename = "flaggedReason")]
    pub flagged_reason: Option<String>,
    /// When after-call work started.
    #[serde(rename = "startAcwTime", deserialize_with = "lenient::time")]
    pub start_acw_time: Option<Timestamp>,
    /// When after-call work ended.
    #[serde(rename = "endAcwTime", deserialize_with = "lenient::time")]
    pub end_acw_time: Option<Timestamp>,
    /// Barged participant.
    #[serde(rename = "bargedParticipantId")]
    pub barged_participant_id: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A conversation, as `PATCH /api/v2/conversations/callbacks/{conversationId}` returns it after a disconnect.
///
/// The platform's `Conversation`. Fields not listed here are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Conversation {
    /// Conversation id.
    #[serde(rename = "id")]
    pub id: Option<String>,
    /// Name.
    #[serde(rename = "name")]
    pub name: Option<String>,
    /// External tag.
    #[serde(rename = "externalTag")]
    pub external_tag: Option<String>,
    /// Start.
    #[serde(rename = "startTime", deserialize_with = "lenient::time")]
    pub start_time: Option<Timestamp>,
    /// End.
    #[serde(rename = "endTime", deserialize_with = "lenient::time")]
    pub end_time: Option<Timestamp>,
    /// Address.
    #[serde(rename = "address")]
    pub address: Option<String>,
    /// Participants.
    #[serde(rename = "participants")]
    pub participants: Vec<Participant>,
    /// Related conversations.
    #[serde(rename = "conversationIds")]
    pub conversation_ids: Vec<String>,
    /// Most participants.
    #[serde(rename = "maxParticipants")]
    pub max_participants: Option<i64>,
    /// Recording state.
    #[serde(rename = "recordingState")]
    pub recording_state: Option<String>,
    /// State.
    #[serde(rename = "state")]
    pub state: Option<CallbackState>,
    /// Divisions.
    #[serde(rename = "divisions")]
    pub divisions: Vec<ConversationDivisionMembership>,
    /// Recent transfers.
    #[serde(rename = "recentTransfers")]
    pub recent_transfers: Vec<TransferResponse>,
    /// Whether recording is securely paused.
    #[serde(rename = "securePause")]
    pub secure_pause: Option<bool>,
    /// Utilization label.
    #[serde(rename = "utilizationLabelId")]
    pub utilization_label_id: Option<String>,
    /// When it times out if inactive.
    #[serde(rename = "inactivityTimeout", deserialize_with = "lenient::time")]
    pub inactivity_timeout: Option<Timestamp>,
    /// URI.
    #[serde(rename = "selfUri")]
    pub self_uri: Option<String>,
    /// Fields this crate does not model, as the platform sent them.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_callback_conversation_reads_the_platform_names_and_keeps_the_rest() {
        let raw = json!({
            "id": "c-1",
            "participants": [
                {"id": "p-1", "purpose": "customer", "state": "connected"},
                {"id": "p-2", "purpose": "acd", "state": "scheduled", "queue": {"id": "q-1"},
                 "callbackNumbers": ["+14155550199"], "callbackScheduledTime": "2030-01-01T15:00:00.000Z",
                 "startTime": "not a time", "brandNewField": {"x": 1}}
            ],
            "selfUri": "/api/v2/conversations/callbacks/c-1",
            "somethingNew": true
        });
        let c: CallbackConversation = serde_json::from_value(raw).unwrap();
        let p = c.callback_participant().unwrap();
        assert_eq!(p.id.as_deref(), Some("p-2"));
        assert_eq!(p.state, Some(CallbackState::Scheduled));
        assert_eq!(
            p.callback_scheduled_time,
            Some("2030-01-01T15:00:00Z".parse().unwrap())
        );
        assert_eq!(
            p.start_time, None,
            "an unreadable time is left out, not an error"
        );
        assert_eq!(p.extra["brandNewField"], json!({"x": 1}));
        assert_eq!(c.extra["somethingNew"], json!(true));
        assert_eq!(c.summary().queue_id, Some("q-1"));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(
            back["participants"][1]["callbackNumbers"][0],
            "+14155550199"
        );
        assert_eq!(back["somethingNew"], json!(true));
    }

    #[test]
    fn unknown_states_and_identifier_types_are_kept() {
        let s: CallbackState = serde_json::from_value(json!("parked")).unwrap();
        assert_eq!(s, CallbackState::Unknown("parked".into()));
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("parked"));
        assert!(CallbackState::Terminated.is_final());
        let r: CreateCallbackResponse = serde_json::from_value(json!({
            "conversation": {"id": "c-1"},
            "callbackIdentifiers": [{"type": "ACD", "id": "a"}, {"type": "FUTURE", "id": "f"}]
        }))
        .unwrap();
        assert_eq!(r.conversation_id(), "c-1");
        assert_eq!(r.identifier(&CallbackIdentifierType::Acd), Some("a"));
        assert_eq!(
            r.callback_identifiers[1].kind,
            Some(CallbackIdentifierType::Unknown("FUTURE".into()))
        );
    }
}
