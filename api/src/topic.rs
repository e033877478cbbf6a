//! The matcher behind [`crate::topics`] (hand-written; the table is generated).
//!
//! The functions are `#[inline]`: a crate that does not call them does not compile them
//! (the table and these functions are in every build of the crate, features or not).

use serde::de::DeserializeOwned;

use crate::topics::TABLE;

/// One notification topic the platform lists: its pattern, the model of its bodies and
/// the feature of this crate that compiles that model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Topic {
    /// The topic with `{id}` for each variable segment, as the platform lists it
    /// (`v2.users.{id}.presence`).
    pub pattern: &'static str,
    /// The model of its `eventBody`, by its SDK name (`PresenceEventUserPresence`): a
    /// struct of [`crate::models`] when [`Topic::feature`] (or `topics`) is on.
    pub model: &'static str,
    /// The feature that compiles the model: `topics-` and the topic's area, its second
    /// segment (`topics-users`).
    pub feature: &'static str,
}

/// A model that is the body (`eventBody`) of notification topics: implemented by every
/// model the platform's topic table names, when the model's feature is on.
///
/// `genesys_cloud::notifications::Notification::body::<M>()` decodes a notification into
/// `M` after checking that its topic is one of [`TopicBody::TOPICS`].
pub trait TopicBody: DeserializeOwned {
    /// The model's SDK name, as in [`Topic::model`].
    const MODEL: &'static str;
    /// The patterns of the topics whose bodies this model is.
    const TOPICS: &'static [&'static str];
}

/// Every topic the platform lists, by pattern.
///
/// ```
/// assert_eq!(genesys_cloud_api::topics::all().count(), genesys_cloud_api::topics::COUNT);
/// ```
#[inline]
pub fn all() -> impl Iterator<Item = Topic> {
    TABLE.lines().filter_map(row)
}

/// One line of the table: `pattern model feature`.
#[inline]
fn row(line: &'static str) -> Option<Topic> {
    let mut parts = line.split(' ');
    Some(Topic {
        pattern: parts.next().filter(|p| !p.is_empty())?,
        model: parts.next()?,
        feature: parts.next()?,
    })
}

/// Whether `topic` is an instance of `pattern`: as many dot-separated segments, each
/// literal equal ignoring ASCII case, each `{id}` one non-empty segment.
///
/// ```
/// use genesys_cloud_api::topics;
///
/// assert!(topics::matches("v2.users.{id}.presence", "v2.users.6f1c2d3e.presence"));
/// assert!(topics::matches("v2.users.{id}.routingStatus", "v2.users.u1.routingstatus"));
/// assert!(!topics::matches("v2.users.{id}.presence", "v2.users..presence"));
/// assert!(!topics::matches("v2.users.{id}.presence", "v2.users.a.b.presence"));
/// ```
#[inline]
pub fn matches(pattern: &str, topic: &str) -> bool {
    let mut parts = topic.split('.');
    for segment in pattern.split('.') {
        let Some(part) = parts.next() else {
            return false;
        };
        let fits = if segment == "{id}" {
            !part.is_empty()
        } else {
            segment.eq_ignore_ascii_case(part)
        };
        if !fits {
            return false;
        }
    }
    parts.next().is_none()
}

/// Whether `a` wins over `b` for a topic both match: at the first segment where one has a
/// literal and the other `{id}`, the one with the literal. Patterns with literals in the
/// same places never both match a topic (the table has no two patterns equal ignoring
/// case), so the winner is unique.
#[inline]
fn more_literal(a: &str, b: &str) -> bool {
    for (x, y) in a.split('.').zip(b.split('.')) {
        match (x == "{id}", y == "{id}") {
            (false, true) => return true,
            (true, false) => return false,
            _ => {}
        }
    }
    false
}

/// The table's entry for a concrete topic: of the patterns it [`matches()`], the most
/// literal one (see [`crate::topics`]). `None` for a topic the platform's table does not
/// list (`channel.metadata`, a combined `v2.users.{id}?presence&routingStatus`
/// subscription name: its events arrive under each topic's own name).
///
/// ```
/// use genesys_cloud_api::topics;
///
/// let topic = topics::find("v2.users.6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f.presence").unwrap();
/// assert_eq!(topic.pattern, "v2.users.{id}.presence");
/// assert_eq!(topic.model, "PresenceEventUserPresence");
/// assert_eq!(topic.feature, "topics-users");
/// ```
#[inline]
pub fn find(topic: &str) -> Option<Topic> {
    let mut best: Option<Topic> = None;
    for line in TABLE.lines() {
        let pattern = line.split(' ').next().unwrap_or_default();
        if pattern.is_empty() || !matches(pattern, topic) {
            continue;
        }
        if best.is_none_or(|b| more_literal(pattern, b.pattern)) {
            best = row(line);
        }
    }
    best
}

/// The model of a concrete topic's bodies, by its SDK name: [`find`]'s
/// [`Topic::model`]. Needs no feature: the model itself compiles with
/// [`Topic::feature`].
///
/// ```
/// use genesys_cloud_api::topics;
///
/// assert_eq!(
///     topics::model_for("v2.routing.queues.q1.conversations.callbacks"),
///     Some("QueueConversationCallbackEventTopicCallbackConversation")
/// );
/// assert_eq!(topics::model_for("v2.conversations.c1"), None);
/// ```
#[inline]
pub fn model_for(topic: &str) -> Option<&'static str> {
    find(topic).map(|t| t.model)
}

/// A topic from a pattern, each `{id}` replaced by the next of `ids`. `None` when the
/// count differs, or an id is empty or holds a `.` (it would not be one segment).
///
/// ```
/// use genesys_cloud_api::topics;
///
/// assert_eq!(
///     topics::format("v2.users.{id}.presence", &["u1"]).as_deref(),
///     Some("v2.users.u1.presence")
/// );
/// assert_eq!(topics::format("v2.users.{id}.presence", &[]), None);
/// assert_eq!(topics::format("v2.users.{id}.presence", &["a.b"]), None);
/// ```
#[inline]
pub fn format(pattern: &str, ids: &[&str]) -> Option<String> {
    let mut ids = ids.iter();
    let mut out = String::with_capacity(pattern.len() + 36 * ids.len());
    for (i, segment) in pattern.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        if segment == "{id}" {
            let id = ids.next()?;
            if id.is_empty() || id.contains('.') {
                return None;
            }
            out.push_str(id);
        } else {
            out.push_str(segment);
        }
    }
    ids.next().is_none().then_some(out)
}
