//! A callback reservation, validated before it becomes a `CreateCallbackCommand`.

use std::collections::BTreeMap;

use jiff::civil::{DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::validation::{ValidationError, Violations};

/// Longest callback user name, caller id name and `data` value, in characters (our limit;
/// Genesys documents none).
pub const MAX_TEXT_CHARS: usize = 256;

/// Most `data` entries (our limit: they travel as participant attributes).
pub const MAX_DATA_ENTRIES: usize = 50;

/// How the customer is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Channel {
    /// A voice call back.
    Voice,
    /// A text message.
    Sms,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Sms => "sms",
        }
    }
}

/// Routing of the callback (`RoutingData`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Priority; higher is routed first.
    pub priority: Option<u32>,
    /// Skill ids an agent must have.
    pub skill_ids: Vec<String>,
    /// Language id.
    pub language_id: Option<String>,
    /// Agents to prefer.
    pub preferred_agent_ids: Vec<String>,
}

/// A candidate time for the callback, in the queue's local time: a window, or one time
/// (`end` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeSlot {
    start: DateTime,
    end: Option<DateTime>,
}

/// A validated callback reservation, ready for
/// [`Callbacks::create`](super::Callbacks::create).
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackReservation {
    pub(crate) queue_id: String,
    pub(crate) scheduled: Timestamp,
    pub(crate) command: Value,
}

impl CallbackReservation {
    /// A builder for a callback on queue `queue_id`, whose business hours are kept in
    /// `queue_time_zone` (e.g. `TimeZone::get("America/New_York")?`; [`jiff`] is
    /// re-exported as [`crate::jiff`]). Times given to the builder are local to it.
    pub fn builder(
        queue_id: impl Into<String>,
        queue_time_zone: TimeZone,
    ) -> CallbackReservationBuilder {
        CallbackReservationBuilder {
            queue_id: queue_id.into(),
            time_zone: queue_time_zone,
            country: None,
            numbers: Vec::new(),
            user_name: None,
            slots: Vec::new(),
            chosen: 0,
            hours: BTreeMap::new(),
            primary: Channel::Voice,
            fallback: None,
            reason: None,
            routing: None,
            script_id: None,
            caller_id: None,
            data: BTreeMap::new(),
            validate_numbers: true,
        }
    }

    /// The queue.
    pub fn queue_id(&self) -> &str {
        &self.queue_id
    }

    /// When the callback is scheduled (the chosen slot's start).
    pub fn scheduled_time(&self) -> Timestamp {
        self.scheduled
    }

    /// The `CreateCallbackCommand` body.
    pub fn command(&self) -> &Value {
        &self.command
    }
}

/// Collects a reservation; [`CallbackReservationBuilder::build`] checks it all.
///
/// ```
/// use genesys_cloud::callbacks::{CallbackReservation, Channel};
/// use genesys_cloud::jiff::{tz::TimeZone, Zoned};
///
/// let zone = TimeZone::get("America/New_York")?;
/// let tomorrow = Zoned::now().with_time_zone(zone.clone()).date().tomorrow()?;
/// let reservation = CallbackReservation::builder("0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b", zone)
///     .callback_number("(415) 555-0199")
///     .country("US")
///     .at(tomorrow.at(14, 0, 0, 0))
///     .channels(Channel::Voice, Some(Channel::Sms))
///     .reason("Technical support escalation")
///     .build()?;
/// assert_eq!(reservation.command()["callbackNumbers"][0], "+14155550199");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct CallbackReservationBuilder {
    queue_id: String,
    time_zone: TimeZone,
    country: Option<String>,
    numbers: Vec<String>,
    user_name: Option<String>,
    slots: Vec<TimeSlot>,
    chosen: usize,
    hours: BTreeMap<u8, (Time, Time)>,
    primary: Channel,
    fallback: Option<Channel>,
    reason: Option<String>,
    routing: Option<Routing>,
    script_id: Option<String>,
    caller_id: Option<(String, Option<String>)>,
    data: BTreeMap<String, String>,
    validate_numbers: bool,
}

fn weekday_key(day: Weekday) -> u8 {
    // ok: Monday = 1 ... Sunday = 7 always fits.
    day.to_monday_one_offset() as u8
}

impl CallbackReservationBuilder {
    /// A number to call back; national formats need [`CallbackReservationBuilder::country`].
    /// Sent normalised to E.164.
    pub fn callback_number(mut self, number: impl Into<String>) -> Self {
        self.numbers.push(number.into());
        self
    }

    /// The customer's country (ISO 3166 alpha-2, e.g. `US`), for numbers given without
    /// `+`; also sent as `countryCode`.
    pub fn country(mut self, iso_code: impl Into<String>) -> Self {
        self.country = Some(iso_code.into());
        self
    }

    /// The customer's name, shown to the agent.
    pub fn user_name(mut self, name: impl Into<String>) -> Self {
        self.user_name = Some(name.into());
        self
    }

    /// When to call back, in the queue's local time. Same as a slot without an end: it
    /// can be combined with [`slot`](Self::slot)s and picked by
    /// [`choose_slot`](Self::choose_slot).
    pub fn at(mut self, time: DateTime) -> Self {
        self.slots.push(TimeSlot {
            start: time,
            end: None,
        });
        self
    }

    /// A candidate window, in the queue's local time; the callback is booked at its
    /// start. The first slot (or [`at`](Self::at) time) is the one booked unless
    /// [`CallbackReservationBuilder::choose_slot`] picks another.
    pub fn slot(mut self, start: DateTime, end: DateTime) -> Self {
        self.slots.push(TimeSlot {
            start,
            end: Some(end),
        });
        self
    }

    /// Books slot `index` (0-based) of the slots and times given, in order.
    pub fn choose_slot(mut self, index: usize) -> Self {
        self.chosen = index;
        self
    }

    /// The queue's opening hours on `day`, local time. Once any day has hours, a day
    /// without hours is closed.
    pub fn operating_hours(mut self, day: Weekday, open: Time, close: Time) -> Self {
        self.hours.insert(weekday_key(day), (open, close));
        self
    }

    /// The primary channel and an optional fallback (default: voice, no fallback).
    pub fn channels(mut self, primary: Channel, fallback: Option<Channel>) -> Self {
        self.primary = primary;
        self.fallback = fallback;
        self
    }

    /// Why the customer wants a call back.
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Routing: priority, skills, language, preferred agents.
    pub fn routing(mut self, routing: Routing) -> Self {
        self.routing = Some(routing);
        self
    }

    /// The script the agent sees.
    pub fn script_id(mut self, id: impl Into<String>) -> Self {
        self.script_id = Some(id.into());
        self
    }

    /// The number (and name) the customer sees when called.
    pub fn caller_id(mut self, number: impl Into<String>, name: Option<String>) -> Self {
        self.caller_id = Some((number.into(), name));
        self
    }

    /// An extra `data` entry (travels with the callback as a participant attribute).
    pub fn data(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Whether the platform should validate the numbers too (`validateCallbackNumbers`,
    /// default true).
    pub fn validate_numbers_on_platform(mut self, validate: bool) -> Self {
        self.validate_numbers = validate;
        self
    }

    /// Checks every rule against the current time.
    pub fn build(self) -> Result<CallbackReservation, ValidationError> {
        self.build_at(Timestamp::now())
    }

    /// Checks every rule as if it were `now` (for tests and replays).
    pub fn build_at(self, now: Timestamp) -> Result<CallbackReservation, ValidationError> {
        let mut v = Violations::default();
        v.check_uuid("queueId", &self.queue_id);
        let country = self.country.as_deref().and_then(|c| {
            let code = c.trim().to_ascii_uppercase();
            if is_country(&code) {
                Some(code)
            } else {
                v.push(
                    "countryCode",
                    "country",
                    "not an ISO 3166 alpha-2 country code: give two letters, e.g. US or GB",
                );
                None
            }
        });
        let country = country.as_deref();

        v.check(
            !self.numbers.is_empty(),
            "callbackNumbers",
            "required",
            "give at least one number to call back",
        );
        let mut numbers = Vec::new();
        for (i, raw) in self.numbers.iter().enumerate() {
            match e164(raw, country) {
                Ok(n) => numbers.push(n),
                Err(why) => v.push(format!("callbackNumbers[{i}]"), "phone_number", why),
            }
        }
        check_text(&mut v, "callbackUserName", self.user_name.as_deref());
        check_text(&mut v, "data.reason", self.reason.as_deref());

        v.check(
            self.fallback != Some(self.primary),
            "channels",
            "fallback",
            "the fallback channel must differ from the primary",
        );
        v.check(
            self.primary == Channel::Voice,
            "channels",
            "primary",
            "a callback's primary channel is voice",
        );

        let scheduled = check_slots(
            &mut v,
            &self.slots,
            self.chosen,
            &self.time_zone,
            &self.hours,
            now,
        );

        let mut routing_json = None;
        if let Some(r) = &self.routing {
            for (i, id) in r.skill_ids.iter().enumerate() {
                v.check_uuid(&format!("routingData.skillIds[{i}]"), id);
            }
            for (i, id) in r.preferred_agent_ids.iter().enumerate() {
                v.check_uuid(&format!("routingData.preferredAgentIds[{i}]"), id);
            }
            if let Some(lang) = &r.language_id {
                v.check_uuid("routingData.languageId", lang);
            }
            let mut m = Map::new();
            m.insert("queueId".into(), json!(self.queue_id));
            if let Some(p) = r.priority {
                m.insert("priority".into(), json!(p));
            }
            if !r.skill_ids.is_empty() {
                m.insert("skillIds".into(), json!(r.skill_ids));
            }
            if let Some(lang) = &r.language_id {
                m.insert("languageId".into(), json!(lang));
            }
            if !r.preferred_agent_ids.is_empty() {
                m.insert("preferredAgentIds".into(), json!(r.preferred_agent_ids));
            }
            routing_json = Some(Value::Object(m));
        }
        if let Some(script) = &self.script_id {
            v.check_uuid("scriptId", script);
        }
        let caller = self.caller_id.as_ref().map(|(number, name)| {
            check_text(&mut v, "callerIdName", name.as_deref());
            let normalized = e164(number, country).unwrap_or_else(|why| {
                v.push("callerId", "phone_number", why);
                String::new()
            });
            (normalized, name.clone())
        });

        let mut data: BTreeMap<String, String> = self.data.clone();
        data.insert("channelPrimary".into(), self.primary.as_str().into());
        if let Some(fallback) = self.fallback {
            data.insert("channelFallback".into(), fallback.as_str().into());
        }
        if let Some(reason) = &self.reason {
            data.insert("reason".into(), reason.trim().to_owned());
        }
        v.check(
            data.len() <= MAX_DATA_ENTRIES,
            "data",
            "max_entries",
            format!(
                "{} data entries; at most {MAX_DATA_ENTRIES} are sent",
                data.len()
            ),
        );
        for (key, value) in &self.data {
            check_text(&mut v, &format!("data.{key}"), Some(value));
        }

        v.finish()?;
        let Some(scheduled) = scheduled else {
            return Err(ValidationError::single(
                "slots",
                "required",
                "add a time slot",
            ));
        };
        let mut command = Map::new();
        command.insert("queueId".into(), json!(self.queue_id));
        command.insert("callbackNumbers".into(), json!(numbers));
        command.insert(
            "callbackScheduledTime".into(),
            json!(platform_time(scheduled)),
        );
        command.insert(
            "validateCallbackNumbers".into(),
            json!(self.validate_numbers),
        );
        command.insert("data".into(), json!(data));
        if let Some(name) = &self.user_name {
            command.insert("callbackUserName".into(), json!(name.trim()));
        }
        if let Some(country) = country {
            command.insert("countryCode".into(), json!(country));
        }
        if let Some(routing) = routing_json {
            command.insert("routingData".into(), routing);
        }
        if let Some(script) = &self.script_id {
            command.insert("scriptId".into(), json!(script));
        }
        if let Some((number, name)) = caller {
            command.insert("callerId".into(), json!(number));
            if let Some(name) = name {
                command.insert("callerIdName".into(), json!(name));
            }
        }
        Ok(CallbackReservation {
            queue_id: self.queue_id,
            scheduled,
            command: Value::Object(command),
        })
    }
}

/// The platform's timestamp form: UTC with milliseconds (`2030-01-01T15:00:00.000Z`).
pub(crate) fn platform_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn check_text(v: &mut Violations, field: &str, text: Option<&str>) {
    let Some(text) = text else { return };
    let chars = text.chars().count();
    v.check(
        chars <= MAX_TEXT_CHARS,
        field,
        "max_length",
        format!("{chars} characters; at most {MAX_TEXT_CHARS}"),
    );
    v.check(
        !text.chars().any(char::is_control),
        field,
        "invalid_chars",
        "control characters are not allowed",
    );
}

/// Whether `code` (upper case) is a country: one the numbering plans know (feature
/// `phone-numbers`), or two letters.
fn is_country(code: &str) -> bool {
    #[cfg(feature = "phone-numbers")]
    return code.parse::<phonenumber::country::Id>().is_ok();
    #[cfg(not(feature = "phone-numbers"))]
    return code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
}

/// `raw` as a valid E.164 number, or why not. The reason never quotes the number: it
/// ends up in a `ValidationError`, which shows no value.
///
/// With feature `phone-numbers`, checked against the country's numbering plan
/// (libphonenumber's metadata: lengths, assigned ranges, national prefixes); without it,
/// only its E.164 form ([`e164_form`]), the platform checking the rest
/// (`validateCallbackNumbers`).
pub(crate) fn e164(raw: &str, country: Option<&str>) -> Result<String, String> {
    let raw = raw.trim();
    if !raw.starts_with('+') && country.is_none() {
        return Err(
            "the number has no country: write it as +<country code><number> or set the country"
                .to_owned(),
        );
    }
    #[cfg(feature = "phone-numbers")]
    {
        let country = country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
        // The library's reasons name the problem ("the number is too long"), never the input.
        let parsed = phonenumber::parse(country, raw).map_err(|e| {
            format!("not a phone number ({e}); give it in E.164 form, e.g. +14155550199")
        })?;
        if !phonenumber::is_valid(&parsed) {
            return Err(
                "not a valid number for its country; give it in E.164 form, e.g. +14155550199"
                    .to_owned(),
            );
        }
        Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
    }
    #[cfg(not(feature = "phone-numbers"))]
    e164_form(raw)
}

/// `raw` in E.164 form without the numbering plans: `+`, then the country code and the
/// number, 7 to 15 digits in all (ITU-T E.164 allows at most 15; no country code starts
/// with 0), spaces, dots, hyphens and parentheses between them dropped. A national number
/// (no `+`) or a national prefix written in (`+44 (0)20 ...`) cannot be read without the
/// country's plan, and is refused with what to do.
#[cfg_attr(feature = "phone-numbers", allow(dead_code))]
fn e164_form(raw: &str) -> Result<String, String> {
    let Some(rest) = raw.strip_prefix('+') else {
        return Err(
            "a number without `+` needs its country's numbering plan (feature \
             phone-numbers): give it as +<country code><number>, e.g. +14155550199"
                .to_owned(),
        );
    };
    if rest.contains("(0)") {
        return Err("leave out the national prefix `(0)`: give the number as \
             +<country code><number>, e.g. +442079460958"
            .to_owned());
    }
    let mut number = String::with_capacity(rest.len() + 1);
    number.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err("not a phone number: only digits, spaces, `-`, `.` and \
                     parentheses may follow `+`"
                    .to_owned())
            }
        }
    }
    let digits = number.len() - 1;
    if !(7..=15).contains(&digits) || number.as_bytes().get(1) == Some(&b'0') {
        return Err(
            "not an E.164 number: `+` and 7 to 15 digits, the first not 0, e.g. \
             +14155550199"
                .to_owned(),
        );
    }
    Ok(number)
}

/// Checks the slot matrix; the chosen slot's start as an instant when it is bookable.
fn check_slots(
    v: &mut Violations,
    slots: &[TimeSlot],
    chosen: usize,
    zone: &TimeZone,
    hours: &BTreeMap<u8, (Time, Time)>,
    now: Timestamp,
) -> Option<Timestamp> {
    if slots.is_empty() {
        v.push("slots", "required", "add at least one time slot");
        return None;
    }
    if chosen >= slots.len() {
        v.push(
            "slots",
            "chosen",
            format!("slot {chosen} was chosen but there are {}", slots.len()),
        );
        return None;
    }
    let mut chosen_start = None;
    for (i, slot) in slots.iter().enumerate() {
        let field = format!("slots[{i}]");
        let Some(start) = local_instant(v, &field, "start", slot.start, zone) else {
            continue;
        };
        if let Some(end) = slot.end {
            let Some(end) = local_instant(v, &field, "end", end, zone) else {
                continue;
            };
            v.check(
                end > start,
                &field,
                "end_after_start",
                "the slot must end after it starts",
            );
        }
        if i != chosen {
            continue;
        }
        v.check(
            start > now,
            &field,
            "in_future",
            format!(
                "the slot starts in the past (in the queue's time zone, {}): choose a future time",
                zone.iana_name().unwrap_or("as given")
            ),
        );
        if !hours.is_empty() {
            let open = hours.get(&weekday_key(slot.start.weekday()));
            let end = slot.end.unwrap_or(slot.start);
            let within = open.is_some_and(|(o, c)| {
                slot.start.time() >= *o && end.time() <= *c && end.date() == slot.start.date()
            });
            v.check(
                within,
                &field,
                "operating_hours",
                match open {
                    Some((o, c)) => format!(
                        "the queue is open {o} to {c} on {:?}s (local time)",
                        slot.start.weekday()
                    ),
                    None => format!("the queue is closed on {:?}s", slot.start.weekday()),
                },
            );
        }
        chosen_start = Some(start);
    }
    chosen_start
}

/// A local date-time in `zone` as an instant. Times skipped by a DST change do not exist
/// and are refused; times repeated by one take the earlier offset.
fn local_instant(
    v: &mut Violations,
    field: &str,
    which: &str,
    at: DateTime,
    zone: &TimeZone,
) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_zoned(at);
    if matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Gap { .. }) {
        v.push(
            field,
            "nonexistent_time",
            format!("the {which} does not exist in the queue's time zone (it falls in a daylight-saving gap): move it out of the gap"),
        );
        return None;
    }
    match ambiguous.earlier() {
        Ok(zoned) => Some(zoned.timestamp()),
        // jiff's reason quotes the date-time: it is not passed on.
        Err(_) => {
            v.push(
                field,
                "time",
                format!("the {which} cannot be placed in the queue's time zone (out of range)"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_e164_form_alone_takes_international_numbers_and_refuses_the_rest() {
        assert_eq!(e164_form("+1 (415) 555-0199").unwrap(), "+14155550199");
        assert_eq!(e164_form("+44 20 7946 0958").unwrap(), "+442079460958");
        assert_eq!(e164_form("+290 22 123").unwrap(), "+29022123");
        for (bad, why) in [
            ("(415) 864-2031", "feature"),
            ("+1 8642", "7 to 15"),
            ("+1 415 864 2031 1234 5", "7 to 15"),
            ("+0 415 864 2031", "first not 0"),
            ("+1 415 864 2031 ext 12", "only digits"),
            ("+44 (0)20 8642 0958", "national prefix"),
        ] {
            let err = e164_form(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("864"), "no value: {err}");
        }
    }

    /// What a build without `phone-numbers` does with a national number: refused, saying
    /// how to give it or which feature reads it.
    #[cfg(not(feature = "phone-numbers"))]
    #[test]
    fn without_the_numbering_plans_a_national_number_is_refused_with_what_to_do() {
        let err = e164("(415) 555-0199", Some("US")).unwrap_err();
        assert!(
            err.contains("phone-numbers") && err.contains("+<country code>"),
            "{err}"
        );
        assert_eq!(e164("+1 415 555 0199", Some("US")).unwrap(), "+14155550199");
        assert!(is_country("US") && !is_country("U1") && !is_country("USA"));
    }

    #[cfg(feature = "phone-numbers")]
    #[test]
    fn with_the_numbering_plans_a_national_number_is_read_in_its_country() {
        assert_eq!(e164("(415) 555-0199", Some("US")).unwrap(), "+14155550199");
        assert!(e164("+1 415 555", None).is_err(), "too short for the US");
        assert!(is_country("GB") && !is_country("ZZ"));
    }
}
