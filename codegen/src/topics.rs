//! Notification topics: the patterns the platform lists (`topics` of the description,
//! from Genesys's `notificationMappings.json`), the model of each one's body, the
//! feature that compiles it, how a concrete topic finds its pattern, and the generated
//! crate's `topics` module.
//!
//! The generated crate's matcher (`api/src/topic.rs`, hand-written) follows the same
//! rules as [`Pattern::matches`] and [`TopicTable::best_match`]; the generator checks
//! the table against them (no two patterns equal ignoring case, so the best match is
//! always unique) and lists the overlapping pairs in the module's docs.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::desc::Description;
use crate::graph::TOPICS;
use crate::{Plan, HEADER};

/// Area features are named `topics-<area>` (`topics-users`).
pub const AREA_PREFIX: &str = "topics-";

/// The feature of the `topics` module (the table, the matcher, `TopicBody`): every area
/// feature turns it on. Off by default, so that the crate's default build compiles none
/// of it.
pub const TABLE_FEATURE: &str = "topic-table";

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal (`users`), compared ignoring ASCII case.
    Literal(String),
    /// `{id}`: any one non-empty segment.
    Id,
}

/// A topic pattern: `v2.users.{id}.presence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As the platform lists it.
    pub text: String,
    /// Its segments.
    pub segments: Vec<Segment>,
}

impl Pattern {
    /// Reads a pattern: `v2`, a literal area, then literals (ASCII letters, digits, `_`,
    /// `-`) or `{id}`, separated by dots.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut segments = Vec::new();
        for segment in text.split('.') {
            if segment == "{id}" {
                segments.push(Segment::Id);
            } else if !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                segments.push(Segment::Literal(segment.to_owned()));
            } else {
                return Err(format!(
                    "topic {text:?}: segment {segment:?} is neither a literal nor {{id}}"
                ));
            }
        }
        match segments.as_slice() {
            [Segment::Literal(v), Segment::Literal(area), _, ..]
                if v == "v2" && area.bytes().all(|b| b.is_ascii_alphanumeric()) => {}
            _ => {
                return Err(format!(
                "topic {text:?}: expected `v2.<area>.…` with a literal area of letters and digits"
            ))
            }
        }
        Ok(Pattern {
            text: text.to_owned(),
            segments,
        })
    }

    /// The area: the second segment, lower case (`users`).
    pub fn area(&self) -> String {
        match self.segments.get(1) {
            Some(Segment::Literal(area)) => area.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// The feature that compiles the models of this area's topics (`topics-users`).
    pub fn feature(&self) -> String {
        format!("{AREA_PREFIX}{}", self.area())
    }

    /// Whether `topic` is an instance of this pattern: as many segments, each literal
    /// equal ignoring ASCII case, each `{id}` one non-empty segment.
    pub fn matches(&self, topic: &str) -> bool {
        let mut parts = topic.split('.');
        for segment in &self.segments {
            let Some(part) = parts.next() else {
                return false;
            };
            let fits = match segment {
                Segment::Literal(lit) => lit.eq_ignore_ascii_case(part),
                Segment::Id => !part.is_empty(),
            };
            if !fits {
                return false;
            }
        }
        parts.next().is_none()
    }

    /// Whether some topic matches both patterns: as many segments, and the literals equal
    /// ignoring ASCII case wherever both have one.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|pair| match pair {
                    (Segment::Literal(a), Segment::Literal(b)) => a.eq_ignore_ascii_case(b),
                    _ => true,
                })
    }
}

/// Which of two patterns wins a topic both match: at the first segment where one has a
/// literal and the other `{id}`, the one with the literal (`Less`: `a` wins). `Equal`
/// for patterns with literals in the same places.
pub fn precedence(a: &Pattern, b: &Pattern) -> Ordering {
    for (x, y) in a.segments.iter().zip(&b.segments) {
        match (x, y) {
            (Segment::Literal(_), Segment::Id) => return Ordering::Less,
            (Segment::Id, Segment::Literal(_)) => return Ordering::Greater,
            _ => {}
        }
    }
    Ordering::Equal
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The pattern.
    pub pattern: Pattern,
    /// The model of its bodies.
    pub model: String,
}

/// The description's topics, checked.
#[derive(Debug, Default)]
pub struct TopicTable {
    /// By pattern text.
    pub entries: Vec<Entry>,
}

impl TopicTable {
    /// Reads and checks the description's topics: every pattern well formed, no two equal
    /// ignoring ASCII case (so a topic's best match is unique), every model a model of the
    /// description.
    pub fn new(desc: &Description) -> Result<TopicTable, String> {
        let mut entries = Vec::new();
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for topic in &desc.topics {
            let pattern = Pattern::parse(&topic.pattern)?;
            if let Some(first) = seen.insert(topic.pattern.to_ascii_lowercase(), &topic.pattern) {
                return Err(format!(
                    "topics {first:?} and {:?} differ only in case",
                    topic.pattern
                ));
            }
            if !desc.models.contains_key(&topic.model) {
                return Err(format!("topic {}: no model {}", topic.pattern, topic.model));
            }
            entries.push(Entry {
                pattern,
                model: topic.model.clone(),
            });
        }
        entries.sort_by(|a, b| a.pattern.text.cmp(&b.pattern.text));
        Ok(TopicTable { entries })
    }

    /// The entry a concrete topic belongs to: of the patterns it matches, the one that
    /// wins by [`precedence`].
    pub fn best_match(&self, topic: &str) -> Option<&Entry> {
        let mut best: Option<&Entry> = None;
        for entry in self.entries.iter().filter(|e| e.pattern.matches(topic)) {
            best = match best {
                Some(b) if precedence(&b.pattern, &entry.pattern) != Ordering::Greater => Some(b),
                _ => Some(entry),
            };
        }
        best
    }

    /// Area feature → its entries.
    pub fn areas(&self) -> BTreeMap<String, Vec<&Entry>> {
        let mut areas: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
        for entry in &self.entries {
            areas
                .entry(entry.pattern.feature())
                .or_default()
                .push(entry);
        }
        areas
    }

    /// Model → the patterns whose bodies it is, in table order.
    pub fn by_model(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut models: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for entry in &self.entries {
            models
                .entry(entry.model.as_str())
                .or_default()
                .push(entry.pattern.text.as_str());
        }
        models
    }

    /// Every pair of patterns some topic matches both of, the winner first.
    pub fn overlaps(&self) -> Vec<(&Entry, &Entry)> {
        let mut pairs = Vec::new();
        for (i, a) in self.entries.iter().enumerate() {
            for b in &self.entries[i + 1..] {
                if a.pattern.overlaps(&b.pattern) {
                    match precedence(&a.pattern, &b.pattern) {
                        Ordering::Greater => pairs.push((b, a)),
                        _ => pairs.push((a, b)),
                    }
                }
            }
        }
        pairs
    }
}

/// `api/src/generated/topics.rs`: the module `topics`, the table and its docs. Each
/// model's `TopicBody` is in the model's file ([`topic_body_impl`]).
pub fn topics_file(plan: &Plan<'_>) -> String {
    let table = &plan.topics;
    let mut out = String::new();
    out.push_str(HEADER);
    let models = table.by_model();
    let _ = writeln!(
        out,
        "//! Notification topics and the models of their bodies, as the platform lists them.\n//!"
    );
    match &plan.desc.source.topics {
        Some(src) => {
            let _ = writeln!(
                out,
                "//! {} topics, {} models: the `{}` of\n//! [`{repo}`](https://github.com/{repo}) {}\n//! (commit `{}`,\n//! sha256 `{}`),\n//! which Genesys's SDK builder writes from the platform's\n//! `GET /api/v2/notifications/availabletopics?expand=schema`; recorded in\n//! `codegen/platform-api.json` by `codegen/extract_topics.py`.",
                table.entries.len(),
                models.len(),
                src.file,
                src.release,
                src.commit,
                src.sha256,
                repo = src.repository,
            );
        }
        None => {
            let _ = writeln!(
                out,
                "//! The description this crate was generated from lists no topics."
            );
        }
    }
    out.push_str(
        "//!\n\
         //! - [`model_for`] / [`find`]: the model (and feature) of a concrete topic, from the\n\
         //!   table alone (no model feature needed).\n\
         //! - [`TopicBody`]: implemented by each model that is a topic's body, when its\n\
         //!   feature is on; [`TopicBody::TOPICS`] lists the patterns it serves.\n\
         //! - [`format()`]: a topic from a pattern and ids.\n\
         //!\n\
         //! Feature `topic-table` (turned on by every `topics-*` feature, by `topics`, and by\n\
         //! `genesys-cloud`'s `api` feature); the crate's default build compiles none of it.\n\
         //!\n\
         //! # Matching\n\
         //!\n\
         //! A topic (`v2.users.6f1c….presence`) matches a pattern (`v2.users.{id}.presence`)\n\
         //! with as many dot-separated segments when each literal is equal ignoring ASCII case\n\
         //! and each `{id}` is one non-empty segment. When several patterns match, the one\n\
         //! with a literal at the first segment where they differ wins.",
    );
    let overlaps = table.overlaps();
    if overlaps.is_empty() {
        out.push_str("\n//!\n//! No two patterns overlap.\n");
    } else {
        let _ = writeln!(
            out,
            "\n//!\n//! {} pairs of patterns overlap (a topic matches both only when an id equals a\n//! literal), the winner first:\n//!",
            overlaps.len()
        );
        for (winner, loser) in &overlaps {
            let _ = writeln!(
                out,
                "//! - `{}` over `{}`",
                winner.pattern.text, loser.pattern.text
            );
        }
    }
    let areas = table.areas();
    let mut area_of: BTreeMap<&str, usize> = BTreeMap::new();
    for feature in areas.keys() {
        for model in plan.features.models.get(feature).into_iter().flatten() {
            *area_of.entry(model.as_str()).or_default() += 1;
        }
    }
    let shared = area_of.values().filter(|n| **n > 1).count();
    let sharing = match shared {
        0 => "No model is in two areas.".to_owned(),
        1 => "One model is in more than one area.".to_owned(),
        n => format!("{n} models are in more than one area."),
    };
    let _ = writeln!(
        out,
        "//!\n//! # Features\n//!\n//! A topic's model compiles under `{TOPICS}` (every topic's model) or the feature of the\n//! topic's area, its second segment: `v2.users.…` needs `topics-users`. {sharing}\n//!\n//! | feature | topics | models compiled |\n//! |---|---|---|"
    );
    for (feature, entries) in &areas {
        let compiled = plan.features.models.get(feature).map_or(0, |m| m.len());
        let _ = writeln!(out, "//! | `{feature}` | {} | {compiled} |", entries.len());
    }
    let all = plan.features.models.get(TOPICS).map_or(0, |m| m.len());
    let _ = writeln!(out, "//! | `{TOPICS}` | {} | {all} |", table.entries.len());
    let _ = writeln!(
        out,
        "\npub use crate::topic::{{all, find, format, matches, model_for, Topic, TopicBody}};\n\n/// How many topics the platform lists.\npub const COUNT: usize = {};\n\n/// Every topic, by pattern: `pattern model feature` per line. One string, read by\n/// [`all`] and [`find`]: as an array of {} structs (726 string constants) the module\n/// costs rustc about twice as much.\npub(crate) const TABLE: &str = \"",
        table.entries.len(),
        table.entries.len()
    );
    for entry in &table.entries {
        let _ = writeln!(
            out,
            "{} {} {}",
            entry.pattern.text,
            entry.model,
            entry.pattern.feature()
        );
    }
    out.push_str("\";\n");
    out
}

/// `impl TopicBody` for a model that is the body of `patterns` (in the model's own
/// file, so that it compiles with the model and costs nothing when the model is off;
/// behind [`TABLE_FEATURE`], which every area feature turns on, for a model that a group
/// feature compiles too).
pub fn topic_body_impl(model: &str, patterns: &[&str]) -> String {
    let list: Vec<String> = patterns.iter().map(|p| format!("{p:?}")).collect();
    format!(
        "\n#[cfg(feature = {TABLE_FEATURE:?})]\nimpl crate::TopicBody for {model} {{\n    const MODEL: &'static str = {model:?};\n    const TOPICS: &'static [&'static str] = &[{}];\n}}\n",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    fn table(rows: &[(&str, &str)]) -> TopicTable {
        let mut entries: Vec<Entry> = rows
            .iter()
            .map(|(pattern, model)| Entry {
                pattern: p(pattern),
                model: (*model).to_owned(),
            })
            .collect();
        entries.sort_by(|a, b| a.pattern.text.cmp(&b.pattern.text));
        TopicTable { entries }
    }

    #[test]
    fn patterns_are_read_and_checked() {
        let presence = p("v2.users.{id}.presence");
        assert_eq!(
            presence.segments,
            [
                Segment::Literal("v2".into()),
                Segment::Literal("users".into()),
                Segment::Id,
                Segment::Literal("presence".into()),
            ]
        );
        assert_eq!(presence.area(), "users");
        assert_eq!(presence.feature(), "topics-users");
        assert_eq!(p("v2.system.socket_closing").feature(), "topics-system");
        for bad in [
            "v2.users..presence",
            "v2.users.{userId}.presence",
            "v2.users.a b",
            "v3.users.x",
            "v2.{id}.presence",
            "v2.users",
            "v2.use_rs.x",
            "",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_topic_matches_segment_by_segment() {
        let presence = p("v2.users.{id}.presence");
        assert!(presence.matches("v2.users.6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f.presence"));
        // Literals ignore ASCII case (the platform's own names are camelCase in places).
        assert!(presence.matches("V2.Users.x.PRESENCE"));
        assert!(p("v2.users.{id}.routingStatus").matches("v2.users.u.routingstatus"));
        // `{id}` is exactly one non-empty segment.
        assert!(!presence.matches("v2.users..presence"));
        assert!(!presence.matches("v2.users.a.b.presence"));
        assert!(!presence.matches("v2.users.presence"));
        assert!(!presence.matches("v2.users.u.presence.x"));
        assert!(!presence.matches("v2.users.u.presences"));
        assert!(!presence.matches(""));
        let two = p("v2.system.{id}.{id}");
        assert!(two.matches("v2.system.a.b"));
        assert!(!two.matches("v2.system.a"));
    }

    #[test]
    fn the_more_literal_pattern_wins() {
        let t = table(&[
            ("v2.a.{id}.{id}", "Any"),
            ("v2.a.b.{id}", "B"),
            ("v2.a.{id}.c", "C"),
            ("v2.a.{id}", "Short"),
        ]);
        let best = |topic: &str| t.best_match(topic).map(|e| e.model.as_str());
        assert_eq!(best("v2.a.b.c"), Some("B"), "a literal earlier wins");
        assert_eq!(best("v2.a.B.x"), Some("B"));
        assert_eq!(best("v2.a.x.c"), Some("C"));
        assert_eq!(best("v2.a.x.y"), Some("Any"));
        assert_eq!(best("v2.a.x"), Some("Short"));
        assert_eq!(best("v2.a.x.y.z"), None);
        assert_eq!(best("v2.q.x"), None);
        // The order of the table does not matter.
        let mut reversed = table(&[]);
        reversed.entries = t.entries.iter().rev().cloned().collect();
        assert_eq!(reversed.best_match("v2.a.b.c").unwrap().model, "B");
        assert_eq!(
            precedence(&p("v2.a.b.{id}"), &p("v2.a.{id}.c")),
            Ordering::Less
        );
        assert_eq!(
            precedence(&p("v2.a.{id}.c"), &p("v2.a.b.{id}")),
            Ordering::Greater
        );
        assert_eq!(precedence(&p("v2.a.b"), &p("v2.a.c")), Ordering::Equal);
    }

    #[test]
    fn overlapping_pairs_are_found_with_their_winner() {
        let t = table(&[
            ("v2.edges.phones.{id}", "Phone"),
            ("v2.edges.{id}.metrics", "Metrics"),
            ("v2.edges.{id}.logs", "Logs"),
            ("v2.users.{id}", "User"),
        ]);
        let pairs: Vec<(&str, &str)> = t
            .overlaps()
            .into_iter()
            .map(|(w, l)| (w.pattern.text.as_str(), l.pattern.text.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("v2.edges.phones.{id}", "v2.edges.{id}.logs"),
                ("v2.edges.phones.{id}", "v2.edges.{id}.metrics"),
            ]
        );
    }

    /// A description: `Presence` (→ `Definition`) is the body of a users topic, `Queue`
    /// of a routing topic, `Orphan*` are named like bodies but no topic or operation uses
    /// them, `Listing` is returned by an operation.
    fn small_description() -> crate::desc::Description {
        let field = |name: &str, ty: &str| {
            format!(r#"{{"name": "{name}", "json": "{name}", "type": "{ty}"}}"#)
        };
        let model = |fields: &[String]| format!(r#"{{"fields": [{}]}}"#, fields.join(", "));
        let json = format!(
            r#"{{"format_version": 1,
                "source": {{"package": "p", "registry": "r", "version": "1"}},
                "groups": {{"users": {{"api_class": "UsersApi", "operations": 1}}}},
                "operations": [{{"name": "get_users", "group": "users", "api_class": "UsersApi",
                    "operation_id": null, "method": "GET", "path": "/api/v2/users",
                    "deprecated": false, "preview": false, "path_params": [], "query_params": [],
                    "header_params": [], "body": null, "returns": "Listing", "produces": [],
                    "paging": null, "auth": {{"schemes": ["PureCloud OAuth"]}}}}],
                "models": {{"Presence": {}, "Definition": {}, "Queue": {}, "OrphanTopicObject": {},
                            "Listing": {}}},
                "topics": [{{"pattern": "v2.users.{{id}}.presence", "model": "Presence"}},
                           {{"pattern": "v2.routing.queues.{{id}}", "model": "Queue"}}]}}"#,
            model(&[field("definition", "Definition")]),
            model(&[field("id", "str")]),
            model(&[]),
            model(&[]),
            model(&[field("name", "str")]),
        );
        crate::desc::parse(&json).unwrap()
    }

    #[test]
    fn each_area_has_a_feature_and_topics_turns_them_all_on() {
        let desc = small_description();
        let graph = crate::graph::Graph::new(&desc).unwrap();
        let table = TopicTable::new(&desc).unwrap();
        let slices = BTreeMap::from([(
            "slice-presence".to_owned(),
            vec!["v2.users.{id}.presence".to_owned()],
        )]);
        let f = crate::graph::Features::compute(&desc, &graph, &slices, &table).unwrap();
        let names = |feature: &str| f.models[feature].iter().cloned().collect::<Vec<_>>();
        assert_eq!(names("topics-users"), ["Definition", "Presence"]);
        assert_eq!(names("topics-routing"), ["Queue"]);
        assert_eq!(
            names(TOPICS),
            ["Definition", "OrphanTopicObject", "Presence", "Queue"]
        );
        assert_eq!(names("slice-presence"), ["Definition", "Presence"]);
        assert_eq!(names("users"), ["Listing"]);
        // `topics` turns the areas on, so an area's model is gated by the area alone.
        assert_eq!(
            f.cfg("Presence"),
            r#"any(feature = "slice-presence", feature = "topics-users")"#
        );
        assert_eq!(f.cfg("Queue"), r#"feature = "topics-routing""#);
        assert_eq!(f.cfg("OrphanTopicObject"), r#"feature = "topics""#);
        assert_eq!(
            f.topic_areas["topics-users"],
            ["v2.users.{id}.presence".to_owned()]
        );
        let unknown =
            BTreeMap::from([("slice-x".to_owned(), vec!["v2.users.{id}.nope".to_owned()])]);
        let err = crate::graph::Features::compute(&desc, &graph, &unknown, &table).unwrap_err();
        assert!(err.contains("no topic v2.users.{id}.nope"), "{err}");
    }

    #[test]
    fn a_topic_body_gets_its_impl() {
        assert_eq!(
            topic_body_impl("Presence", &["v2.users.{id}.presence"]),
            "\n#[cfg(feature = \"topic-table\")]\nimpl crate::TopicBody for Presence {\n    const MODEL: &'static str = \"Presence\";\n    const TOPICS: &'static [&'static str] = &[\"v2.users.{id}.presence\"];\n}\n"
        );
    }

    #[test]
    fn the_description_is_checked() {
        let json = |topics: &str| {
            format!(
                r#"{{"format_version": 1, "source": {{"package": "p", "registry": "r", "version": "1"}},
                "groups": {{}}, "operations": [], "models": {{"M": {{"fields": []}}}}, "topics": {topics}}}"#
            )
        };
        let ok = crate::desc::parse(&json(
            r#"[{"pattern": "v2.users.{id}.presence", "model": "M"}]"#,
        ))
        .unwrap();
        assert_eq!(TopicTable::new(&ok).unwrap().entries.len(), 1);
        let missing = crate::desc::parse(&json(
            r#"[{"pattern": "v2.users.{id}.presence", "model": "Nope"}]"#,
        ))
        .unwrap();
        assert!(TopicTable::new(&missing)
            .unwrap_err()
            .contains("no model Nope"));
        let twice = crate::desc::parse(&json(
            r#"[{"pattern": "v2.users.{id}.presence", "model": "M"},
                {"pattern": "v2.Users.{id}.presence", "model": "M"}]"#,
        ))
        .unwrap();
        assert!(TopicTable::new(&twice)
            .unwrap_err()
            .contains("differ only in case"));
    }
}
