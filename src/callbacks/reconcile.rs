//! Finding what the stream missed: the platform does not replay events a socket missed
//! ("any events that are generated while the WebSocket is not open will not be queued or
//! retried", Genesys blog "Event Driven Integrations in Genesys Cloud", 2021-12-02), so
//! after a gap the stream asks the REST API.
//!
//! `GET /api/v2/conversations/callbacks` lists the *logged-in user's* callbacks and so
//! nothing under client credentials (docs/research/background.md C1). A queue's callbacks
//! are found with the analytics conversation details query
//! (`POST /api/v2/analytics/conversations/details/query`, permission
//! `analytics:conversationDetail:view`): segment filter `mediaType` = `callback` and
//! `queueId` one of the stream's queues, conversation filter `conversationEnd` not
//! existing (callbacks still open), paged with `paging.pageNumber`, deduplicated by
//! `conversationId` because pages of a window that still receives data can repeat
//! (background.md C2, from Genesys's blog "How the Analytics Conversation Details Query
//! API Works", 2022-04-21). Each callback found that is new to the stream, or whose
//! analytics record no longer matches what the stream last reported, is then read with
//! `GET /api/v2/conversations/callbacks/{conversationId}` (background.md C3).
//!
//! Everything here is bounded: at most `max_pages` query pages and `max_fetches` GETs
//! (`concurrency` at a time) per run; what the bounds cut off is reported.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::model::{CallbackConversation, CallbackState};
use super::reservation::platform_time;
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::transport::ApiRequest;
use crate::Method;

const DETAILS_QUERY: &str = "/api/v2/analytics/conversations/details/query";
const CALLBACK: &str = "/api/v2/conversations/callbacks/{conversationId}";

/// Conversations per query page: the smaller of the maxima the sources give (100 in
/// third-party notes, 200 in Genesys's 2022 blog).
pub(super) const PAGE_SIZE: u32 = 100;

/// The longest interval one query covers (third-party notes give 7 days for the
/// synchronous query); a longer window is cut to its last 7 days and reported truncated.
const MAX_INTERVAL: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A span of time whose changes are looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) from: Timestamp,
    pub(super) to: Timestamp,
}

impl Window {
    pub(super) fn merge(self, other: Window) -> Window {
        Window {
            from: self.from.min(other.from),
            to: self.to.max(other.to),
        }
    }
}

/// What the stream last reported about a callback that is not over.
#[derive(Debug, Clone)]
pub(super) struct Known {
    pub(super) id: String,
    pub(super) state: Option<CallbackState>,
    pub(super) scheduled: Option<Timestamp>,
    pub(super) queue: Option<String>,
    pub(super) started: Option<Timestamp>,
}

/// One reconciliation to run.
#[derive(Debug, Default)]
pub(super) struct Job {
    /// The query's window, if any.
    pub(super) window: Option<Window>,
    /// How many times this window was tried before.
    pub(super) window_attempts: u32,
    /// Conversations to read whatever the query says (their events were dropped).
    pub(super) ids: Vec<String>,
    /// Conversations not over, most recently seen first.
    pub(super) open: Vec<Known>,
    /// Where the listing of the window starts: page 1, or where an earlier run's listing
    /// was cut by the page bound (with what that listing had found so far).
    pub(super) from: Option<Listing>,
}

/// A listing of a window cut by the page bound: the page to go on from, and the
/// conversations its pages listed so far. A known callback is read because the query
/// does not list it only once the listing reached its end: until then, it may be on a
/// page not read yet, and reading it would cost a GET per unchanged callback.
#[derive(Debug, Clone)]
pub(super) struct Listing {
    pub(super) window: Window,
    pub(super) next_page: u32,
    pub(super) listed: HashSet<String>,
}

/// The bounds of one run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_pages: u32,
    pub(super) max_fetches: usize,
    pub(super) concurrency: usize,
}

/// What one run found.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// The window queried (after clamping), if any.
    pub(super) window: Option<Window>,
    pub(super) window_attempts: u32,
    /// Open callbacks the query listed.
    pub(super) listed: u64,
    /// The query or the list of conversations to read was cut off by a bound.
    pub(super) truncated: bool,
    /// Conversations read, each with when its GET was sent.
    pub(super) fetched: Vec<(Instant, CallbackConversation)>,
    /// Conversations the platform no longer has (404).
    pub(super) gone: Vec<String>,
    /// Conversations whose GET failed.
    pub(super) failed: Vec<String>,
    /// Conversations left unread because of `max_fetches`.
    pub(super) skipped: Vec<String>,
    /// The last failure.
    pub(super) error: Option<Error>,
    /// The query failed in a way a later try may mend.
    pub(super) query_retryable: bool,
    /// The window was only the tail of an earlier one (no further tail follows).
    pub(super) tail: bool,
    /// Dropped events whose conversations did not fit the list to reconcile.
    pub(super) forgotten: u64,
    /// What the page bound left of the window: the next reconciliation lists it, from
    /// its next page on.
    pub(super) rest: Option<Listing>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryAnswer {
    /// Left out of an empty answer.
    #[serde(default)]
    conversations: Vec<AnalyticsConversation>,
    #[serde(default)]
    total_hits: Option<u64>,
}

/// `AnalyticsConversationWithoutAttributes`, as far as reconciling needs it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsConversation {
    conversation_id: String,
    #[serde(default)]
    conversation_end: Option<String>,
    #[serde(default)]
    participants: Vec<AnalyticsParticipant>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsParticipant {
    #[serde(default)]
    sessions: Vec<AnalyticsSession>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsSession {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    callback_scheduled_time: Option<String>,
    #[serde(default)]
    segments: Vec<AnalyticsSegment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnalyticsSegment {
    #[serde(default)]
    segment_type: Option<String>,
    #[serde(default)]
    queue_id: Option<String>,
    #[serde(default)]
    segment_end: Option<String>,
}

impl AnalyticsConversation {
    /// Whether the record shows the callback exactly as `known`: still only scheduled,
    /// same time, same queue. Anything else (or anything unclear) means a GET.
    fn matches(&self, known: &Known) -> bool {
        if self.conversation_end.is_some() || known.state != Some(CallbackState::Scheduled) {
            return false;
        }
        let sessions = || {
            self.participants
                .iter()
                .flat_map(|p| p.sessions.iter())
                .filter(|s| s.media_type.as_deref() == Some("callback"))
        };
        let only_scheduled = sessions().flat_map(|s| s.segments.iter()).all(|seg| {
            seg.segment_type.as_deref() == Some("scheduled") && seg.segment_end.is_none()
        });
        let scheduled: Option<Timestamp> = sessions()
            .filter_map(|s| s.callback_scheduled_time.as_deref())
            .find_map(|t| t.parse().ok());
        let queue = sessions()
            .flat_map(|s| s.segments.iter())
            .find_map(|seg| seg.queue_id.as_deref());
        only_scheduled
            && scheduled.is_some()
            && scheduled == known.scheduled
            && queue.is_some()
            && queue == known.queue.as_deref()
    }
}

/// The query for open callbacks on `queues` that started in `window`, page `page`.
pub(super) fn query_body(queues: &[String], window: Window, page: u32) -> Value {
    let queue_predicates: Vec<Value> = queues
        .iter()
        .map(|q| json!({ "type": "dimension", "dimension": "queueId", "operator": "matches", "value": q }))
        .collect();
    json!({
        "interval": format!("{}/{}", platform_time(window.from), platform_time(window.to)),
        "order": "asc",
        "orderBy": "conversationStart",
        "paging": { "pageSize": PAGE_SIZE, "pageNumber": page },
        "segmentFilters": [{
            "type": "and",
            "predicates": [
                { "type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "callback" }
            ],
            "clauses": [{ "type": "or", "predicates": queue_predicates }],
        }],
        "conversationFilters": [{
            "type": "and",
            "predicates": [
                { "type": "dimension", "dimension": "conversationEnd", "operator": "notExists" }
            ],
        }],
    })
}

/// The open callbacks the query lists for `window` on `max_pages` pages from
/// `first_page`, deduplicated, in the order found; and whether the page bound cut the
/// listing short.
async fn query(
    client: &Client,
    queues: &[String],
    window: Window,
    first_page: u32,
    max_pages: u32,
) -> Result<(Vec<AnalyticsConversation>, bool), Error> {
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    // What the pages before `first_page` held, for the total's check.
    let mut listed: u64 = u64::from(first_page.saturating_sub(1)) * u64::from(PAGE_SIZE);
    let last_page = first_page.saturating_add(max_pages.saturating_sub(1));
    for page in first_page..=last_page {
        // A query only reads: repeating it after a 5xx or a lost answer is safe.
        let req = ApiRequest::new(Method::POST, DETAILS_QUERY)
            .json(&query_body(queues, window, page))?
            .idempotent(true);
        let answer: QueryAnswer = client.transport().json(&req).await?;
        let on_page = answer.conversations.len();
        listed = listed.saturating_add(on_page as u64);
        for conversation in answer.conversations {
            if seen.insert(conversation.conversation_id.clone()) {
                found.push(conversation);
            }
        }
        let more =
            on_page >= PAGE_SIZE as usize && answer.total_hits.is_none_or(|total| listed < total);
        if !more {
            return Ok((found, false));
        }
    }
    Ok((found, true))
}

/// Runs `job`: the query (if it has a window), then the GETs, within `limits`.
pub(super) async fn run(client: Client, queues: Vec<String>, job: Job, limits: Limits) -> Outcome {
    let mut outcome = Outcome {
        window_attempts: job.window_attempts,
        ..Outcome::default()
    };
    let mut wanted: Vec<String> = job.ids;
    let (first_page, mut listed) = match job.from {
        Some(from) => (from.next_page, from.listed),
        None => (1, HashSet::new()),
    };
    if let Some(mut window) = job.window {
        if window.to.duration_since(window.from) > MAX_INTERVAL {
            window.from = window.to - MAX_INTERVAL;
            outcome.truncated = true;
        }
        // Callbacks the stream knows and that started in the window: if the query does
        // not list them, they are over or moved, so they are read too.
        match query(&client, &queues, window, first_page, limits.max_pages).await {
            Ok((found, truncated)) => {
                outcome.listed = found.len() as u64;
                outcome.truncated |= truncated;
                let known: HashMap<&str, &Known> =
                    job.open.iter().map(|k| (k.id.as_str(), k)).collect();
                for conversation in &found {
                    let id = conversation.conversation_id.as_str();
                    if !known.get(id).is_some_and(|k| conversation.matches(k)) {
                        wanted.push(id.to_owned());
                    }
                }
                listed.extend(found.into_iter().map(|c| c.conversation_id));
                let next_page = first_page.checked_add(limits.max_pages);
                match next_page.filter(|_| truncated) {
                    // The rest is listed by the next reconciliation, from the next page;
                    // the known callbacks not listed yet may be there.
                    Some(next_page) => {
                        outcome.rest = Some(Listing {
                            window,
                            next_page,
                            listed,
                        });
                    }
                    None => {
                        // The listing reached its end. Listed: compared above. Not
                        // listed: over or moved if the query covered it (it started in
                        // the window), unknown otherwise; read either way.
                        for known in &job.open {
                            if !listed.contains(known.id.as_str()) {
                                wanted.push(known.id.clone());
                            }
                        }
                    }
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "the callbacks query failed; reading the known callbacks instead");
                outcome.query_retryable = err.is_retryable();
                outcome.error = Some(err);
                wanted.extend(job.open.iter().map(|k| k.id.clone()));
            }
        }
        outcome.window = Some(window);
    }
    let mut unique = HashSet::new();
    wanted.retain(|id| unique.insert(id.clone()));
    if wanted.len() > limits.max_fetches {
        outcome.skipped = wanted.split_off(limits.max_fetches);
        outcome.truncated = true;
    }
    let mut reads = futures::stream::iter(wanted)
        .map(|id| {
            let client = client.clone();
            async move {
                let sent = Instant::now();
                let result = match ApiRequest::with_args(Method::GET, CALLBACK, &[&id]) {
                    Ok(req) => client.transport().json::<CallbackConversation>(&req).await,
                    Err(err) => Err(Error::from(err)),
                };
                (id, sent, result)
            }
        })
        .buffer_unordered(limits.concurrency.max(1));
    while let Some((id, sent, result)) = reads.next().await {
        match result {
            Ok(conversation) => outcome.fetched.push((sent, conversation)),
            Err(err) if err.kind() == ErrorKind::NotFound => outcome.gone.push(id),
            Err(err) => {
                outcome.failed.push(id);
                outcome.error = Some(err);
            }
        }
    }
    outcome
}

/// When the tail of a window should be queried again, and over what: callbacks made in
/// the last `delay` before `window.to` may not have been in the analytics index yet.
pub(super) fn tail(window: Window, delay: Duration, margin: Duration) -> Option<Window> {
    if delay.is_zero() {
        return None;
    }
    let back = SignedDuration::try_from(delay.saturating_add(margin)).ok()?;
    Some(Window {
        from: window.from.max(window.to - back),
        to: window.to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_uses_the_platform_field_names() {
        let window = Window {
            from: "2030-01-01T09:00:00Z".parse().unwrap(),
            to: "2030-01-01T12:00:00Z".parse().unwrap(),
        };
        let body = query_body(&["q-1".into(), "q-2".into()], window, 2);
        assert_eq!(
            body["interval"],
            "2030-01-01T09:00:00.000Z/2030-01-01T12:00:00.000Z"
        );
        assert_eq!(body["paging"], json!({"pageSize": 100, "pageNumber": 2}));
        let filter = &body["segmentFilters"][0];
        assert_eq!(filter["predicates"][0]["dimension"], "mediaType");
        assert_eq!(filter["predicates"][0]["value"], "callback");
        assert_eq!(filter["clauses"][0]["type"], "or");
        assert_eq!(filter["clauses"][0]["predicates"][1]["value"], "q-2");
        assert_eq!(
            body["conversationFilters"][0]["predicates"][0],
            json!({"type": "dimension", "dimension": "conversationEnd", "operator": "notExists"})
        );
    }

    #[test]
    fn an_unchanged_scheduled_callback_needs_no_read() {
        let record: AnalyticsConversation = serde_json::from_value(json!({
            "conversationId": "c-1",
            "participants": [
                {"purpose": "customer", "sessions": [{"mediaType": "callback",
                    "callbackScheduledTime": "2030-01-01T15:00:00.000Z",
                    "segments": [{"segmentType": "scheduled"}]}]},
                {"purpose": "acd", "sessions": [{"mediaType": "callback",
                    "segments": [{"segmentType": "scheduled", "queueId": "q-1"}]}]}
            ]
        }))
        .unwrap();
        let mut known = Known {
            id: "c-1".into(),
            state: Some(CallbackState::Scheduled),
            scheduled: Some("2030-01-01T15:00:00Z".parse().unwrap()),
            queue: Some("q-1".into()),
            started: None,
        };
        assert!(record.matches(&known));
        known.scheduled = Some("2030-01-01T16:00:00Z".parse().unwrap());
        assert!(!record.matches(&known), "rescheduled");
        known.scheduled = Some("2030-01-01T15:00:00Z".parse().unwrap());
        known.state = Some(CallbackState::Contacting);
        assert!(!record.matches(&known), "state moved on");
    }
}
