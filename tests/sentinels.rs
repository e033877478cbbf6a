//! No value reaches a violation, an error or an audit record (issue #21).
//!
//! A *sentinel* is a random, recognisable value (`zq` and twelve random letters and
//! digits, a random run of digits inside a phone number, a random UUID for an id, a
//! random date-time) placed where a caller's data goes: inside a phone number, a URL, an
//! attribute value, a template input, a header value with a line break, a secret, an id.
//! Each property feeds fresh sentinels to a builder or a flow and then looks at
//! everything a failure shows: every violation (field and message), the
//! `ValidationError`'s `Display`, `Debug` and JSON, the `Error`'s `Display`, `Debug` and
//! its whole `source()` chain, what its accessors hand out besides
//! [`ApiError::message`](genesys_cloud::ApiError::message) (which is documented to quote
//! values), and every audit record the client wrote (its `ids`, which record ids by role
//! on purpose, left aside). No sentinel may appear in any of them.
//!
//! What counts as a value and what may be named is written in `src/validation.rs`: field
//! names, rule names, limits, attribute keys and the program's own configuration (a
//! schema, an allowlist, a template's text, a path template) may be shown; what a caller
//! or a server passes through may not. So sentinels go into values, never into keys.
//!
//! Every public builder and validator, and the property that feeds it (the list is
//! checked against `src/` by `every_public_builder_is_covered`):
//!
//! | where | builder / validator | property |
//! |---|---|---|
//! | `callbacks/reservation.rs` | `CallbackReservationBuilder::build`, `build_at` | `callback_reservation` |
//! | `callbacks/events.rs` | `StreamOptionsBuilder::build` | `numeric_options` |
//! | `callbacks/events.rs` | `Callbacks::events_with` | `callbacks_flow` |
//! | `callbacks/mod.rs` | `Callbacks::with_concurrency_limit`, `reschedule` (and `create`, `get`, `disconnect`) | `callbacks_flow` |
//! | `callbacks/time_zone.rs` | `time_zone_in` (and `time_zone`) | `callbacks_flow` |
//! | `client.rs` | `ClientBuilder::build`, `from_env`, `requests_per_minute`; `Region::from_str`, `Environment::custom`, `with_web_messaging_base` | `client_setup` |
//! | `guests/attributes.rs` | `GuestAttributesBuilder::start`, `GuestAttributes::add` | `guests_flow` |
//! | `guests/batcher.rs` | `BatcherOptionsBuilder::build` | `numeric_options` |
//! | `guests/policy.rs` | `GuestPolicy::check`, `validate` | `guest_policy` |
//! | `guests/session.rs` | `GuestSessionOptionsBuilder::build`, `GuestSession::connect`, `send_message` | `guest_session_options`, `guests_flow` |
//! | `integrations/spec.rs` | `WidgetSpecBuilder::build` | `widget_spec` |
//! | `integrations/deploy.rs` | `WidgetDeployer::deploy` (server side) | `integrations_flow` |
//! | `messaging/patch.rs` | `AttributePatchBuilder::build`; `AttributePatch::from_json`, `from_json_map` (and `set_json`) | `attribute_patch`, `attribute_patch_json` |
//! | `messaging/schema.rs` | `KeySpec::pattern` | `attribute_patch` (the pattern is configuration: its own text may be shown) |
//! | `messaging/mod.rs` | `Participant::patch_attributes`, `attributes` (server side) | `messaging_flow` |
//! | `nodes/action.rs` | `DataActionBuilder::build`, `DataAction::from_platform`, `check_input`, `prepare`, `prepare_with` | `data_action` |
//! | `nodes/template/mod.rs` | `TemplateError::into_validation` | `data_action` |
//! | `nodes/executor.rs` | `LocalExecutor::execute` | `nodes_flow` |
//! | `nodes/client.rs` | `Nodes::create_draft` (and `execute`, server side) | `nodes_flow` |
//! | `nodes/simulator.rs` | `Simulator::serve` (a typed `SocketAddr`: no free text reaches it) | — |
//! | `request.rs` | `RequestBuilder::header`, `query`; `transport/path.rs` `fill` through `Client::request_template` | `request_flow` |
//! | `validation.rs` | `Violations::finish` (every builder above) | all |
//! | `webhook.rs` | `WebhookSender::new`, `send`; `WebhookCalendar::new` | `client_setup`, `webhook_flow` |
//! | `notifications/mod.rs` | `Notifications::subscribe_with` (and `subscribe`) | `notifications_flow` |
//! | `postgres/mod.rs` | `Database::connect`, `table_prefix` | `postgres_setup` |
//! | `fleet/mod.rs` | `EventStreamBuilder::start`, `EventStream::broadcast` | `fleet_setup` |
//! | `guests/pg_outbox.rs` | `PostgresOutboxOptionsBuilder::build` (and `GuestAttributesBuilder::postgres_outbox` through `start`) | `numeric_options`, `postgres_setup` |
//! | `notifications/options.rs` | `SubscribeOptionsBuilder::build` | `numeric_options` |

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use genesys_cloud::callbacks::{CallbackReservation, Channel, Routing, StreamOptions, WhenFull};
use genesys_cloud::fleet::EventStream;
use genesys_cloud::guests::{
    BatcherOptions, GuestAttributes, GuestPolicy, GuestSession, GuestSessionOptions,
    ParticipantSink, PostgresOutboxOptions,
};
use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
use genesys_cloud::jiff::civil::date;
use genesys_cloud::jiff::tz::TimeZone;
use genesys_cloud::jiff::{Timestamp, Zoned};
use genesys_cloud::messaging::{AttributeInjector, AttributePatch, AttributeSchema, KeySpec};
use genesys_cloud::nodes::{Credentials, DataAction, LintLevel, LocalExecutor};
use genesys_cloud::notifications::SubscribeOptions;
use genesys_cloud::observe::MemoryAuditSink;
use genesys_cloud::postgres::Database;
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock};
use genesys_cloud::webhook::WebhookSender;
use genesys_cloud::{Client, Environment, Error, Method, Region, ValidationError};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};

// ---- sentinels ----

/// `zq` and twelve random lowercase letters and digits.
fn sentinel() -> impl Strategy<Value = String> {
    "[a-z0-9]{12}".prop_map(|s| format!("zq{s}"))
}

/// Eight random digits starting with 9: the recognisable part of a phone number.
fn digits() -> impl Strategy<Value = String> {
    "[0-9]{7}".prop_map(|d| format!("9{d}"))
}

/// A random (hyphenated, lowercase) UUID: an id that must not show.
fn uuid() -> impl Strategy<Value = String> {
    any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string())
}

/// A random time of day, distinctive enough to find in a message.
fn time_of_day() -> impl Strategy<Value = (i8, i8, i8)> {
    (1i8..23, 1i8..59, 1i8..59)
}

/// Everything a failure showed, with where it came from.
#[derive(Default)]
struct Shown(Vec<(String, String)>);

impl Shown {
    fn text(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }

    fn validation(&mut self, what: &str, err: &ValidationError) {
        self.text(format!("{what}: Display"), err.to_string());
        self.text(format!("{what}: Debug"), format!("{err:?}"));
        self.text(
            format!("{what}: JSON"),
            serde_json::to_string(err).unwrap_or_default(),
        );
        for v in err.violations() {
            self.text(format!("{what}: violation field"), v.field.clone());
            self.text(format!("{what}: violation message"), v.message.clone());
        }
    }

    fn error(&mut self, what: &str, err: &Error) {
        self.text(format!("{what}: Display"), err.to_string());
        self.text(format!("{what}: Debug"), format!("{err:?}"));
        let mut source = std::error::Error::source(err);
        let mut depth = 0;
        while let Some(s) = source {
            depth += 1;
            self.text(format!("{what}: source {depth} Display"), s.to_string());
            self.text(format!("{what}: source {depth} Debug"), format!("{s:?}"));
            source = s.source();
        }
        if let Some(v) = err.validation() {
            self.validation(&format!("{what}: validation()"), v);
        }
        if let Some(api) = err.api() {
            self.text(format!("{what}: api() Display"), api.to_string());
            self.text(format!("{what}: api() Debug"), format!("{api:?}"));
            self.text(
                format!("{what}: api().message_template()"),
                api.message_template().unwrap_or_default(),
            );
            self.text(
                format!("{what}: api().body() Debug"),
                format!("{:?}", api.body()),
            );
            for field in api.fields() {
                self.text(format!("{what}: api().fields()"), field);
            }
        }
        if let Some(problems) = err.contract_problems() {
            self.text(format!("{what}: contract_problems()"), problems.join("; "));
        }
        if let Some(cleanup) = err.cleanup() {
            self.text(format!("{what}: cleanup()"), cleanup);
        }
        if let Some(step) = err.step_error() {
            self.error(&format!("{what}: step_error()"), step);
        }
        if let Some(endpoint) = err.endpoint() {
            self.text(format!("{what}: endpoint()"), endpoint);
        }
    }

    fn result<T>(&mut self, what: &str, result: &Result<T, Error>) {
        if let Err(err) = result {
            self.error(what, err);
        }
    }

    fn validation_result<T>(&mut self, what: &str, result: &Result<T, ValidationError>) {
        if let Err(err) = result {
            self.validation(what, err);
        }
    }

    /// Every record of `sink`, as JSON, without its `ids` (ids by role are the audit
    /// trail's purpose).
    fn audit(&mut self, what: &str, sink: &MemoryAuditSink) {
        for mut record in sink.records() {
            record.ids.clear();
            self.text(
                format!("{what}: audit record {}", record.action),
                serde_json::to_string(&record).unwrap_or_default(),
            );
        }
    }

    /// Fails with the first place a sentinel showed. With `SENTINELS_SHOW` set, prints
    /// everything it looked at (to read the messages themselves).
    fn clean(&self, sentinels: &[&str]) -> Result<(), TestCaseError> {
        if std::env::var_os("SENTINELS_SHOW").is_some() {
            for (what, text) in &self.0 {
                eprintln!("[{what}] {text}");
            }
        }
        for (what, text) in &self.0 {
            for s in sentinels {
                prop_assert!(
                    !s.is_empty() && !text.contains(s),
                    "the value `{s}` shows in {what}: {text}"
                );
            }
        }
        Ok(())
    }

    /// Fails unless something was shown: a property that saw no failure checks nothing.
    fn saw(&self, what: &str) -> Result<(), TestCaseError> {
        prop_assert!(
            self.0.iter().any(|(w, _)| w.starts_with(what)),
            "`{what}` did not fail; the property checks nothing"
        );
        Ok(())
    }
}

/// Runs `f` on a fresh single-threaded runtime (a property case is synchronous).
fn block_on<F: Future<Output = Result<(), TestCaseError>>>(f: F) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .block_on(f)
}

/// A client of `fake` that audits into a fresh memory sink and never really sleeps.
fn audited_client(fake: &FakeGenesys) -> (Client, MemoryAuditSink) {
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .clock(ManualClock::new())
        .audit_sink(audit.clone())
        .build()
        .expect("a client of the fake");
    (client, audit)
}

/// A client pointed nowhere: for builders that need one but send nothing.
fn offline_client() -> Client {
    Client::builder()
        .base_urls("http://127.0.0.1:9", "http://127.0.0.1:9")
        .credentials("id", "secret")
        .no_proxy()
        .build()
        .expect("an offline client")
}

/// A platform error body quoting `value` everywhere the platform may put a value.
fn quoting(status: u16, value: &str) -> Value {
    json!({
        "message": format!("Invalid value '{value}' for callbackNumbers[0]"),
        "code": "bad.request",
        "status": status,
        "messageWithParams": "Invalid value {value} for {field}",
        "messageParams": {"value": value, "field": "callbackNumbers[0]"},
        "entityName": value,
        "contextId": "c-1",
        "details": [{"errorCode": "invalid.value", "fieldName": "callbackNumbers[0]", "entityName": value}],
        "errors": [{"message": value, "messageParams": {"value": value}, "entityName": value}],
    })
}

fn answer(status: u16, body: Value) -> Fault {
    Fault::Answer { status, body }
}

const CASES: u32 = 24;
const FLOW_CASES: u32 = 3;
const QUEUE: &str = "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b";
const INTEGRATION: &str = "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41";

// ---- builders that send nothing ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn callback_reservation(
        s in sentinel(), s2 in sentinel(), d in digits(), id in uuid(),
        (h, m, sec) in time_of_day(), month in 1i8..13, day in 1i8..29,
    ) {
        let zone = TimeZone::get("America/New_York").unwrap();
        let past = date(2020, month, day).at(h, m, sec, 0);
        // 2026-03-08 02:xx does not exist in New York (the clocks skip to 03:00).
        let gap = date(2026, 3, 8).at(2, m, sec, 0);
        let now: Timestamp = "2026-06-15T17:00:00Z".parse().unwrap();
        let phone = format!("+1 555 0100 {d}");
        let national = format!("555 {d}");
        let mut shown = Shown::default();
        for country in [None, Some(s2.clone())] {
            let mut builder = CallbackReservation::builder(s.clone(), zone.clone())
                .callback_number(phone.clone())
                .callback_number(format!("+{d}{d}{d}"))
                .callback_number(format!("{s} {d}"))
                .user_name(format!("{s}\u{7}"))
                .slot(past, past)
                .at(gap)
                .channels(Channel::Voice, Some(Channel::Sms))
                .reason(format!("{s}{}", "x".repeat(300)))
                .routing(Routing {
                    priority: Some(1),
                    skill_ids: vec![s.clone()],
                    language_id: Some(s.clone()),
                    preferred_agent_ids: vec![id.clone(), s.clone()],
                })
                .script_id(s.clone())
                .caller_id(national.clone(), Some(format!("{s}\n")))
                .data("note", format!("{s}\u{0}"));
            if let Some(c) = &country {
                builder = builder.country(c.clone());
            }
            shown.validation_result("reservation", &builder.clone().build_at(now));
            shown.validation_result("reservation (now)", &builder.choose_slot(7).build());
        }
        // Choosing the gap or the past slot, alone.
        for (slot, what) in [(gap, "gap"), (past, "past")] {
            let r = CallbackReservation::builder(QUEUE, zone.clone())
                .callback_number("+14155550199")
                .at(slot)
                .build_at(now);
            shown.validation_result(what, &r);
        }
        shown.saw("reservation")?;
        shown.saw("past")?;
        shown.saw("gap")?;
        let times = [past.to_string(), gap.to_string(), format!("{}", past.time()), format!("{}", gap.time())];
        let mut all = vec![s.as_str(), s2.as_str(), d.as_str(), phone.as_str(), national.as_str(), id.as_str()];
        all.extend(times.iter().map(String::as_str));
        shown.clean(&all)?;
    }

    #[test]
    fn attribute_patch(s in sentinel(), d in digits()) {
        let schema = AttributeSchema::new()
            .key("tier", KeySpec::string().allowed_values(["gold", "silver"]))
            .key("code", KeySpec::string().pattern("^REF-[0-9]+$").unwrap())
            .key("note", KeySpec::string().max_length(8))
            .key("n", KeySpec::number())
            .key("flag", KeySpec::boolean());
        let phone = format!("+1 555 0100 {d}");
        let err = AttributePatch::builder(&schema)
            .set("tier", s.as_str())
            .set("code", format!("REF-{s}"))
            .set("note", format!("{s} {phone}"))
            .set("n", s.as_str())
            .set("flag", format!("<b>{s}</b>"))
            .build();
        let mut shown = Shown::default();
        shown.validation_result("patch", &err);
        shown.saw("patch")?;
        shown.clean(&[&s, &d])?;
    }

    #[test]
    fn attribute_patch_json(s in sentinel(), d in digits()) {
        let schema = AttributeSchema::new()
            .key("tier", KeySpec::string().allowed_values(["gold", "silver"]))
            .key("n", KeySpec::number())
            .key("flag", KeySpec::boolean())
            .key("list", KeySpec::string())
            .key("nested", KeySpec::string());
        let phone = format!("+1 555 0100 {d}");
        let body = json!({
            "tier": s,
            "n": format!("{s} {phone}"),
            "flag": d.parse::<u64>().unwrap_or(7),
            "list": [s, phone],
            "nested": {"inner": s, "phone": phone},
            "unknown": s,
        });
        let mut shown = Shown::default();
        shown.validation_result("map", &AttributePatch::from_json(&schema, &body));
        shown.validation_result("not an object", &AttributePatch::from_json(&schema, &json!([s, phone])));
        shown.validation_result("string", &AttributePatch::from_json(&schema, &json!(s)));
        shown.saw("map")?;
        shown.saw("not an object")?;
        shown.clean(&[&s, &d])?;
    }

    #[test]
    fn widget_spec(s in sentinel(), id in uuid()) {
        let policy = SandboxPolicy::default().allow_host("*.allowed.example");
        let mut shown = Shown::default();
        for (url, icon) in [
            (format!("http://{s}.example/widget"), format!("ftp://cdn.{s}.example/i.svg")),
            (format!("https://user:{s}@cdn.allowed.example/w"), format!("https://{s}.example/i.svg")),
            (format!("{s} not a url"), format!("//{s}")),
            (format!("{s}://cdn.allowed.example/w"), format!("https://cdn.allowed.example/{s}/i.svg?k={s}")),
        ] {
            let spec = WidgetSpec::builder(format!("Widget {s}\u{7}"), url)
                .kind(WidgetKind::InteractionWidget)
                .icon(icon)
                .sandbox([s.clone(), "allow-scripts".into()])
                .permissions([format!("camera {s}")])
                .groups([s.clone(), id.clone()])
                .queues([s.clone()])
                .communication_types([s.clone()])
                .build(&policy);
            shown.validation_result("widget", &spec);
        }
        // Filters on a kind that takes none: the values are not named either.
        let standalone = WidgetSpec::builder("W", "https://cdn.allowed.example/w")
            .kind(WidgetKind::Standalone)
            .queues([s.clone()])
            .communication_types([s.clone()])
            .build(&policy);
        shown.validation_result("standalone", &standalone);
        shown.saw("widget")?;
        shown.saw("standalone")?;
        shown.clean(&[&s])?;
    }

    #[test]
    fn guest_policy(s in sentinel(), d in digits()) {
        let policy = GuestPolicy::default()
            .required_consents(["analytics", "crm"])
            .max_keys(3)
            .max_value_chars(20);
        let attributes: BTreeMap<String, String> = [
            ("email", format!("{s}@example.com")),
            ("phone", format!("+1 415 555 0199 {d}")),
            ("card", "4111 1111 1111 1111".to_owned()),
            ("note", format!("{s}{}", "y".repeat(40))),
            ("blank", format!("{s}\u{1}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let consents: BTreeMap<String, bool> = [("analytics".to_owned(), false)].into();
        let mut shown = Shown::default();
        shown.validation_result("policy check", &policy.check(&attributes, &consents));
        shown.validation_result("policy", &GuestPolicy::default().max_keys(0).required_consents([" "]).validate());
        shown.saw("policy check")?;
        shown.clean(&[&s, &d, "4111"])?;
    }

    #[test]
    fn guest_session_options(s in sentinel()) {
        let mut shown = Shown::default();
        for origin in [format!("https://{s}.example\r\n"), format!("https://{s}.example\u{0}")] {
            let built = GuestSessionOptions::builder()
                .origin(origin)
                .connect_timeout(Duration::ZERO)
                .build();
            shown.validation_result("guest session options", &built);
        }
        shown.saw("guest session options")?;
        shown.clean(&[&s])?;
    }

    #[test]
    fn data_action(s in sentinel(), d in digits(), secret in sentinel()) {
        let mut shown = Shown::default();
        // The definition: an unknown method, a URL that is not https, a header value
        // with a line break, a default that is not JSON.
        let bad = DataAction::builder("Sentinels", "Lookup", INTEGRATION)
            .request(s.clone(), format!("ftp://{s}.example/items/$esc.uriEncode(${{input.id}})"))
            .header("X-Note", format!("{s}\r\nX-Injected: {s}"))
            .translation("status", "$.status")
            .translation_default("status", format!("{s} is not json"))
            .timeout_seconds(600)
            .build();
        shown.validation_result("action", &bad);
        let mut doc = DataAction::builder("Sentinels", "Lookup", INTEGRATION)
            .request("GET", "https://api.allowed.example/x")
            .build()
            .unwrap()
            .to_platform();
        doc["config"]["request"]["requestType"] = json!(format!("{s}\n"));
        doc["config"]["request"]["requestUrlTemplate"] = json!(format!("mailto:{s}@example.com"));
        doc["config"]["timeoutSeconds"] = json!(s.clone());
        shown.validation_result("from_platform", &DataAction::from_platform(&doc));

        // The inputs: values of the wrong type, outside an enum, too long, against a
        // pattern; a value `#evaluate` cannot parse; a credential.
        let action = DataAction::builder("Sentinels", "Lookup", INTEGRATION)
            .input_schema(json!({
                "type": "object",
                "required": ["id", "count"],
                "properties": {
                    "id": {"type": "string", "maxLength": 4, "pattern": "^[A-Z]+$"},
                    "count": {"type": "integer", "minimum": 1},
                    "tier": {"type": "string", "enum": ["gold"]},
                    "code": {"type": "string"}
                }
            }))
            .request("POST", "https://api.allowed.example/items/$esc.uriEncode(${input.id})")
            .header("Authorization", "Bearer ${credentials.apiKey}")
            .request_template("#evaluate($input.code)")
            .lint_level(LintLevel::Warn)
            .build()
            .unwrap();
        let input = json!({"id": format!("{s}{d}"), "count": s.clone(), "tier": format!("+1 555 0100 {d}"), "code": format!("#{s}( {d}")});
        shown.validation_result("check_input", &action.check_input(&input));
        let credentials = Credentials::new().with("apiKey", secret.clone());
        shown.validation_result("prepare", &action.prepare(&input));
        shown.validation_result("prepare_with", &action.prepare_with(&input, &credentials));
        let inputs = [json!({"id": "A", "count": 1, "code": format!("#set(${s} = \"a\")${s}.substring(99)")}),
            json!({"id": "A", "count": 1, "code": format!("#set($x = \"{s}\")$x.substring(99)")})];
        for input in inputs {
            shown.validation_result("prepare (render)", &action.prepare_with(&input, &credentials));
        }
        shown.saw("action")?;
        shown.saw("from_platform")?;
        shown.saw("check_input")?;
        shown.saw("prepare_with")?;
        shown.saw("prepare (render)")?;
        shown.clean(&[&s, &d, &secret])?;
    }

    #[test]
    fn postgres_setup(s in sentinel(), password in sentinel()) {
        let mut shown = Shown::default();
        for url in [
            format!("postgres://svc:{password}@[{s}:5432/db"),
            format!("{s} is not a url"),
            format!("postgres://svc:{password}@127.0.0.1:notaport/{s}"),
        ] {
            shown.result("Database::connect", &Database::connect(&url).map(|_| ()));
        }
        let db = Database::connect(&format!("postgres://svc:{password}@127.0.0.1:1/db")).unwrap();
        shown.result("table_prefix", &db.clone().table_prefix(&format!("X{s}")).map(|_| ()));
        shown.result("table_prefix", &db.clone().table_prefix(&format!("{s};drop")).map(|_| ()));
        shown.text("Database Debug".to_owned(), format!("{db:?}"));
        // The guest outbox on a database that is down: `start` fails, saying nothing of it.
        let started = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(
                GuestAttributes::builder(offline_client(), Arc::new(ParticipantSink::new(offline_client())))
                    .postgres_outbox(db.clone())
                    .start(),
            );
        shown.result("postgres_outbox start", &started.map(|_| ()));
        shown.saw("Database::connect")?;
        shown.saw("postgres_outbox start")?;
        shown.saw("table_prefix")?;
        shown.clean(&[&s, &password])?;
    }

    #[test]
    fn client_setup(s in sentinel(), password in sentinel()) {
        let mut shown = Shown::default();
        let bases = [
            format!("https://api.{s}.example/?token={s}"),
            format!("https://api.example/#{s}"),
            format!("{s} is not a url"),
            format!("ftp://{s}.example/"),
            format!("https://user:{password}@api.example/"),
        ];
        for base in &bases {
            shown.result("base_urls", &Client::builder().base_urls(base, "https://login.example").credentials("id", "secret").build());
            shown.result("login base", &Client::builder().base_urls("https://api.example", base).credentials("id", "secret").build());
            shown.result("Environment::custom", &Environment::custom(base, base));
            shown.result(
                "web_messaging_base",
                &Client::builder().region(Region::UsEast1).web_messaging_base(base).credentials("id", "secret").build(),
            );
        }
        shown.result("region", &s.parse::<Region>().map_err(Error::from));
        shown.result("region url", &format!("https://{s}.example/").parse::<Region>().map_err(Error::from));
        for proxy in [
            format!("{s}:{password}@proxy:bad"),
            format!("user:{password}@{s} proxy:3128"),
            format!("socks5://user:{password}@{s}.example:1080"),
            format!("{s}://user:{password}@proxy.example:1080"),
            format!("http://user:{password}@:3128"),
        ] {
            shown.result("proxy", &Client::builder().region(Region::UsEast1).credentials("id", "secret").proxy(proxy).build());
        }
        shown.result(
            "root certificate",
            &Client::builder()
                .region(Region::UsEast1)
                .credentials("id", "secret")
                .add_root_certificate_pem(format!("-----BEGIN CERTIFICATE-----\n{s}{password}\n-----END CERTIFICATE-----\n"))
                .build(),
        );
        shown.result("empty client id", &Client::builder().region(Region::UsEast1).credentials(" ", password.clone()).build());
        shown.result("rate", &Client::builder().region(Region::UsEast1).credentials("id", password.clone()).requests_per_minute(0).build());
        let client = offline_client();
        for url in [format!("http://{s}.example/hook?key={password}"), format!("{s}:{password}"), format!("https://{s}.example/hook")] {
            shown.result("webhook", &WebhookSender::new(client.clone(), "crm", &url, password.clone()));
            shown.result(
                "calendar",
                &genesys_cloud::callbacks::WebhookCalendar::new(client.clone(), &url, password.clone()),
            );
        }
        shown.saw("base_urls")?;
        shown.saw("Environment::custom")?;
        shown.saw("web_messaging_base")?;
        shown.saw("region")?;
        shown.saw("proxy")?;
        shown.saw("webhook")?;
        shown.clean(&[&s, &password])?;
    }

}

#[test]
fn numeric_options() {
    // Only numbers and durations: no free text can reach these messages. Each is still
    // fed something out of range, so that a message formatting text would show here.
    let mut shown = Shown::default();
    shown.validation_result(
        "stream options",
        &StreamOptions::builder()
            .buffer(0)
            .ping_every(Duration::ZERO)
            .build(),
    );
    shown.validation_result(
        "batcher options",
        &BatcherOptions::builder()
            .max_batch(0)
            .max_attempts(0)
            .build(),
    );
    shown.validation_result(
        "subscribe options",
        &SubscribeOptions::builder()
            .buffer(0)
            .ping_every(Duration::ZERO)
            .build(),
    );
    shown.validation_result(
        "postgres outbox options",
        &PostgresOutboxOptions::builder()
            .claim_ttl(Duration::ZERO)
            .sweep_batch(0)
            .max_sessions(0)
            .build(),
    );
    shown.saw("stream options").unwrap();
    shown.saw("postgres outbox options").unwrap();
    shown.saw("batcher options").unwrap();
    shown.saw("subscribe options").unwrap();
    shown.clean(&["zq"]).unwrap();
}

// ---- flows that reach the fake ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(FLOW_CASES))]

    #[test]
    fn fleet_setup(s in sentinel(), password in sentinel()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let db = Database::connect(&format!("postgres://svc:{password}@127.0.0.1:1/db")).unwrap();
            let refused = EventStream::builder(client.clone(), db, &format!("{s} !"))
                .callbacks([s.clone()])
                .replica(format!("{s}\n"))
                .start()
                .await
                .map(|_| ());
            shown.result("EventStreamBuilder::start", &refused);
            // A broadcast reader's name is checked too (with a database, when there is one).
            if let Ok(url) = std::env::var("GENESYS_TEST_DATABASE_URL") {
                let db = Database::connect(&url).unwrap().table_prefix("sentinels_").unwrap();
                let stream = EventStream::builder(client.clone(), db, "sentinels")
                    .callbacks(["6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"])
                    .start()
                    .await
                    .unwrap();
                let reader = stream.broadcast(&format!("{s} reader")).await.map(|_| ());
                shown.result("EventStream::broadcast", &reader);
                shown.saw("EventStream::broadcast")?;
                stream.shutdown().await;
            }
            shown.saw("EventStreamBuilder::start")?;
            shown.audit("audit", &audit);
            shown.clean(&[&s, &password])
        })?;
    }


    #[test]
    fn messaging_flow(s in sentinel(), participant in uuid()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let seeded = fake.seed_message_conversation();
            let mut shown = Shown::default();
            // A participant the conversation does not have: named by role, not by id.
            let missing = client
                .messaging()
                .participant(seeded.conversation_id.clone(), participant.clone())
                .attributes()
                .await;
            shown.result("missing participant", &missing);
            let schema = AttributeSchema::new().key("note", KeySpec::string());
            let patch = AttributePatch::builder(&schema).set("note", s.clone()).build().unwrap();
            let customer = client
                .messaging()
                .participant(seeded.conversation_id.clone(), seeded.customer_participant_id.clone());
            // The platform refuses, quoting the value.
            fake.inject(answer(400, quoting(400, &s)), 1);
            shown.result("patch 400", &customer.patch_attributes(&patch).await);
            // An answer that is not the documented shape, holding the value.
            fake.inject(answer(200, json!({"attributes": s.clone()})), 1);
            shown.result("patch decode", &customer.patch_attributes(&patch).await);
            // The injector audits the failure.
            fake.inject(answer(422, quoting(422, &s)), 1);
            let injected = AttributeInjector::new(client.clone())
                .inject(&seeded.conversation_id, &seeded.customer_participant_id, &patch)
                .await;
            shown.result("inject", &injected);
            shown.audit("messaging", &audit);
            shown.saw("missing participant")?;
            shown.saw("patch 400")?;
            shown.saw("patch decode")?;
            shown.saw("inject")?;
            shown.clean(&[&s, &participant, &seeded.conversation_id])
        })?;
    }

    #[test]
    fn notifications_flow(s in sentinel(), user in uuid()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let notifications = client.notifications();
            // Malformed topics are refused before anything is sent, by position.
            let malformed = notifications
                .subscribe([format!("v2.users.{s} .presence"), format!("{s}..x")])
                .await
                .map(|_| ());
            shown.result("malformed topics", &malformed);
            // The platform refuses a topic, saying why in free text that quotes it.
            let topic = format!("v2.users.{user}.conversations.callbacks");
            fake.inject_on(
                Method::PUT,
                "/api/v2/notifications/channels/{channelId}/subscriptions",
                answer(200, json!({"entities": [{"id": topic, "state": "Rejected", "rejectionReason": format!("no access to {s} ({user})")}]})),
                1,
            );
            let refused = notifications.subscribe([topic.clone()]).await.map(|_| ());
            shown.result("refused topic", &refused);
            shown.saw("malformed topics")?;
            shown.saw("refused topic")?;
            shown.audit("audit", &audit);
            shown.clean(&[s.as_str(), user.as_str()])
        })?;
    }

    #[test]
    fn callbacks_flow(s in sentinel(), queue in uuid(), conversation in uuid()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let zone = TimeZone::get("America/New_York").unwrap();
            let tomorrow = Zoned::now().with_time_zone(zone.clone()).date().tomorrow().unwrap();
            let reservation = CallbackReservation::builder(queue.clone(), zone)
                .callback_number("+14155550199")
                .at(tomorrow.at(12, 0, 0, 0))
                .user_name("Jordan Lee")
                .data("note", s.clone())
                .build()
                .unwrap();
            let callbacks = client.callbacks();
            fake.inject(answer(400, quoting(400, &s)), 1);
            shown.result("create 400", &callbacks.create(&reservation).await);

            // A queue at its concurrency limit: the queue is not named by its id.
            let limited = client.callbacks().with_concurrency_limit(1, WhenFull::Reject).unwrap();
            fake.inject(Fault::Delay(Duration::from_secs(60)), 1);
            let held = {
                let limited = limited.clone();
                let reservation = reservation.clone();
                tokio::spawn(async move { limited.create(&reservation).await })
            };
            // No sleep: yield until the held request reached the fake (its permit is taken).
            let mut spins = 0;
            while fake.requests_to(Method::POST, "/api/v2/conversations/callbacks").len() < 2 {
                spins += 1;
                prop_assert!(spins < 1_000_000, "the held create never reached the fake");
                tokio::task::yield_now().await;
            }
            shown.result("concurrency limit", &limited.create(&reservation).await);
            held.abort();
            shown.result("bad concurrency limit", &client.callbacks().with_concurrency_limit(500, WhenFull::Wait));

            // A time zone the database does not have, or no database at all: the name
            // given is not shown.
            shown.result("unknown time zone", &genesys_cloud::callbacks::time_zone(&format!("America/{s}")));
            shown.result(
                "no time-zone database",
                &genesys_cloud::callbacks::time_zone_in(&genesys_cloud::jiff::tz::TimeZoneDatabase::none(), &format!("Europe/{s}")),
            );

            // Ids that are not UUIDs are refused before anything is sent.
            shown.result("reschedule", &callbacks.reschedule(&s, Timestamp::UNIX_EPOCH).await);
            shown.result("get", &callbacks.get(&s).await);
            shown.result("disconnect", &callbacks.disconnect(&s).await);
            // An unknown conversation, answered 404 with its id in the message.
            shown.result("get unknown", &callbacks.get(&conversation).await);
            shown.result("events (bad ids)", &callbacks.events(&[s.as_str()]).await.map(|_| ()));

            // The platform refuses the queue's subscription, saying why in free text.
            let topic = format!("v2.routing.queues.{queue}.conversations.callbacks");
            fake.inject_on(
                Method::PUT,
                "/api/v2/notifications/channels/{channelId}/subscriptions",
                answer(200, json!({"entities": [{"id": topic, "state": "Rejected", "rejectionReason": format!("no access to {s} ({queue})")}]})),
                1,
            );
            shown.result("events (refused)", &callbacks.events(&[queue.as_str()]).await.map(|_| ()));
            shown.audit("callbacks", &audit);
            shown.saw("create 400")?;
            shown.saw("concurrency limit")?;
            shown.saw("reschedule")?;
            shown.saw("get unknown")?;
            shown.saw("events (refused)")?;
            shown.clean(&[&s, &queue, &conversation])
        })?;
    }

    #[test]
    fn integrations_flow(s in sentinel()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let policy = SandboxPolicy::default().allow_host("*.allowed.example");
            let spec = WidgetSpec::builder("Sentinel widget", format!("https://cdn.allowed.example/{s}/"))
                .build(&policy)
                .unwrap();
            // The configuration step is refused, quoting the URL.
            let deployer = client.integrations().deployer();
            fake.inject_on(
                Method::PUT,
                "/api/v2/integrations/{integrationId}/config/current",
                answer(400, quoting(400, &s)),
                1,
            );
            shown.result("deploy (configure)", &deployer.deploy(&spec).await);
            // The integration reports an error, in words that quote the URL.
            fake.inject_on(
                Method::GET,
                "/api/v2/integrations/{integrationId}",
                answer(200, json!({
                    "id": "i-1",
                    "name": "Sentinel widget",
                    "integrationType": {"id": "embedded-client-app-interaction-widget"},
                    "reportedState": {"code": "ERROR", "detail": {"message": format!("cannot load https://cdn.allowed.example/{s}/"), "localizableMessageCode": "CONFIG_INVALID"}}
                })),
                1,
            );
            shown.result("deploy (activate)", &deployer.deploy(&spec).await);
            let ids: Vec<String> = deployer.history().into_iter().map(|r| r.integration_id).collect();
            for report in deployer.history() {
                if let genesys_cloud::integrations::DeploymentOutcome::Failed { error, .. } = &report.outcome {
                    shown.text("deployment report error", error.clone());
                }
            }
            shown.audit("integrations", &audit);
            shown.saw("deploy (configure)")?;
            shown.saw("deploy (activate)")?;
            shown.saw("deployment report error")?;
            prop_assert!(ids.iter().all(|i| !i.is_empty()), "{ids:?}");
            let mut all: Vec<&str> = ids.iter().map(String::as_str).collect();
            all.push(&s);
            shown.clean(&all)
        })?;
    }

    #[test]
    fn guests_flow(s in sentinel(), session in sentinel(), token in sentinel(), deployment in uuid()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let sink = Arc::new(ParticipantSink::new(client.clone()));
            shown.result(
                "start (bad policy)",
                &GuestAttributes::builder(client.clone(), sink.clone())
                    .policy(GuestPolicy::default().max_keys(0))
                    .crm_webhook(format!("http://{s}.example/crm?key={token}"), token.clone())
                    .start()
                    .await
                    .map(|_| ()),
            );
            let (guests, _) = GuestAttributes::builder(client.clone(), sink)
                .batching(BatcherOptions::builder().max_attempts(1).build().unwrap())
                .start()
                .await
                .unwrap();
            let attrs = |v: String| -> BTreeMap<String, String> { [("note".to_owned(), v)].into() };
            // Personal data in a value: refused, audited.
            shown.result("add (pii)", &guests.add(&session, attrs(format!("{s}@example.com")), BTreeMap::new()).await);
            shown.result("add (no session)", &guests.add(" ", attrs(s.clone()), BTreeMap::new()).await);
            // A session no destination is registered for: dead-lettered, audited.
            guests.add(&session, attrs(s.clone()), BTreeMap::new()).await.unwrap();
            let letters = guests.dead_letters();
            shown.result("shutdown", &guests.shutdown().await);
            for letter in letters.drain() {
                if let Some(err) = &letter.error {
                    shown.error("dead letter", err);
                }
            }
            // A guest session for a deployment the platform refuses; the token is a secret.
            fake.forbid_deployment(&deployment);
            let connected = GuestSession::connect(&client, &deployment, token.clone(), GuestSessionOptions::default()).await;
            shown.result("connect", &connected.map(|_| ()));
            shown.result(
                "connect (bad token)",
                &GuestSession::connect(&client, &deployment, "", GuestSessionOptions::default()).await.map(|_| ()),
            );
            shown.audit("guests", &audit);
            shown.saw("start (bad policy)")?;
            shown.saw("add (pii)")?;
            shown.saw("dead letter")?;
            shown.saw("connect")?;
            shown.clean(&[&s, &session, &token, &deployment])
        })?;
    }

    #[test]
    fn nodes_flow(s in sentinel(), d in digits(), secret in sentinel()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let action = |path: &str, result_type: &str| {
                DataAction::builder("Sentinels", "Lookup", INTEGRATION)
                    .input_schema(json!({
                        "type": "object",
                        "required": ["targetId"],
                        "properties": {"targetId": {"type": "string"}, "count": {"type": "integer"}}
                    }))
                    .success_schema(json!({
                        "type": "object",
                        "required": ["status", "resultId"],
                        "properties": {"status": {"type": "string"}, "resultId": {"type": result_type}}
                    }))
                    .request("POST", format!("{}/{path}/$esc.uriEncode(${{input.targetId}})", fake.external_target_path()))
                    .header("Authorization", "Bearer ${credentials.apiKey}")
                    .request_template(r#"{"resourceId": "$esc.jsonString(${input.targetId})"}"#)
                    .translation("status", "$.status")
                    .translation("resultId", "$.resultId")
                    .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
                    .build()
                    .unwrap()
            };
            let credentials = Credentials::new().with("apiKey", secret.clone());
            // The answer breaks the output contract (`res-<value>` is not an integer).
            let contract = LocalExecutor::new(client.clone(), action("resources", "integer")).credentials(credentials.clone());
            shown.result("execute (contract)", &contract.execute(&json!({"targetId": format!("{s}{d}")})).await);
            // The target refuses, quoting the value.
            fake.inject_on(Method::POST, "/external/v1/resources/{id}", answer(400, quoting(400, &s)), 1);
            let ok = LocalExecutor::new(client.clone(), action("resources", "string")).credentials(credentials.clone());
            shown.result("execute (400)", &ok.execute(&json!({"targetId": s.clone()})).await);
            // An input that breaks the contract, and a credential that breaks the header.
            shown.result("execute (input)", &ok.execute(&json!({"targetId": 5, "count": s.clone()})).await);
            let broken = LocalExecutor::new(client.clone(), action("resources", "string"))
                .credentials(Credentials::new().with("apiKey", format!("{secret}\r\n")));
            shown.result("execute (header)", &broken.execute(&json!({"targetId": s.clone()})).await);
            // The platform's own execute, refused with the value quoted.
            fake.inject(answer(400, quoting(400, &s)), 1);
            shown.result("nodes execute", &client.nodes().execute(INTEGRATION, &json!({"targetId": s.clone()})).await);
            let export = DataAction::from_platform(&json!({
                "name": "Lookup",
                "config": {"request": {"requestUrlTemplate": "https://api.allowed.example/x", "requestType": "GET"}}
            }))
            .unwrap();
            shown.result("create_draft (export)", &client.nodes().create_draft(&export).await);
            shown.audit("nodes", &audit);
            shown.saw("execute (contract)")?;
            shown.saw("execute (400)")?;
            shown.saw("execute (input)")?;
            shown.saw("execute (header)")?;
            shown.saw("nodes execute")?;
            shown.clean(&[&s, &d, &secret])
        })?;
    }

    #[test]
    fn request_flow(s in sentinel(), d in digits(), id in uuid()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            // Ids in a path written out in full (the fake answers 404, quoting the path).
            for path in [
                format!("/api/v2/things/{s}{d}"),
                format!("/api/v2/things/{id}/parts/{d}"),
                format!("/api/v2/things/custom_-_{id}"),
                format!("/api/v2/users/{s}@example.com"),
                format!("/api/v2/things?q={s}"),
            ] {
                let sent: Result<Value, Error> = client.request(Method::GET, &path).query("q", &s).send().await;
                shown.result("request", &sent);
            }
            // Ids filled into a template.
            let sent: Result<Value, Error> = client
                .request_template(Method::GET, "/api/v2/things/{thingId}", &[&format!("{s}/../{d}")])
                .send()
                .await;
            shown.result("request_template", &sent);
            let sent: Result<Value, Error> =
                client.request_template(Method::GET, "/api/v2/things/{thingId}", &[&s, &id]).send().await;
            shown.result("request_template (count)", &sent);
            // Headers that are not headers.
            for (name, value) in [
                ("X-Note".to_owned(), format!("{s}\r\nX-Injected: {d}")),
                (format!("X {s}"), "v".to_owned()),
                (format!("X-{s}\n"), format!("{d}\u{0}")),
            ] {
                let sent: Result<Value, Error> = client.request(Method::GET, "/api/v2/users/me").header(name, value).send().await;
                shown.result("header", &sent);
            }
            // The platform refuses, quoting what was sent.
            fake.inject(answer(400, quoting(400, &s)), 1);
            let sent: Result<Value, Error> = client.request(Method::POST, "/api/v2/things").json(&json!({"v": s.clone()})).send().await;
            shown.result("request 400", &sent);
            shown.audit("request", &audit);
            shown.saw("request")?;
            shown.saw("request_template")?;
            shown.saw("header")?;
            shown.saw("request 400")?;
            shown.clean(&[&s, &d, &id])
        })?;
    }

    #[test]
    fn webhook_flow(s in sentinel(), secret in sentinel()) {
        block_on(async move {
            let fake = FakeGenesys::start().await;
            let (client, audit) = audited_client(&fake);
            let mut shown = Shown::default();
            let url = format!("{}/external/hooks/crm?key={s}", fake.uri());
            let secret = format!("{secret}{secret}");
            let sender = WebhookSender::new(client.clone(), "crm", &url, secret.clone()).unwrap();
            shown.text("sender Debug", format!("{sender:?}"));
            fake.inject_on(Method::POST, "/external/hooks/crm", answer(400, quoting(400, &s)), 1);
            shown.result("send 400", &sender.send("changed", "d-1", &json!({"v": s.clone()})).await);
            shown.result("send 404", &sender.send("changed", "d-2", &json!({"v": s.clone()})).await);
            shown.audit("webhook", &audit);
            shown.saw("send 400")?;
            shown.saw("send 404")?;
            shown.clean(&[&s, &secret])
        })?;
    }
}

// ---- the list above is complete ----

/// Every public function under `src/` (the testkit aside) that is a builder's `build`,
/// returns `Result<_, ValidationError>`, or checks input (collects `Violations`, makes a
/// `ValidationError` or a configuration error), as `file::function`.
fn public_validators() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("testkit") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let source = match source.find("#[cfg(test)]\nmod tests") {
            Some(at) => &source[..at],
            None => &source[..],
        };
        let name = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        // Each function runs from its `fn` to the next one.
        let starts: Vec<usize> = source.match_indices("fn ").map(|(i, _)| i).collect();
        for (k, &at) in starts.iter().enumerate() {
            let before = &source[..at];
            if !(before.ends_with("pub ") || before.ends_with("pub async ")) {
                continue;
            }
            let body = &source[at..starts.get(k + 1).copied().unwrap_or(source.len())];
            let ident: String = body[3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let signature = &body[..body.find(['{', ';']).unwrap_or(body.len())];
            let returns = signature.split_once("->").map_or("", |(_, r)| r);
            let checks = ["build", "build_at"].contains(&ident.as_str())
                || (returns.contains("Result<") && returns.contains("ValidationError"))
                || returns.trim().starts_with("ValidationError")
                || [
                    "Violations::default()",
                    "ValidationError::single(",
                    "Error::config(",
                    "parse_base(",
                ]
                .iter()
                .any(|marker| body.contains(marker));
            if checks {
                found.push(format!("{name}::{ident}"));
            }
        }
        // `FromStr` implementations are public through the trait (those that cannot fail
        // check nothing).
        for (at, _) in source.match_indices("impl FromStr for") {
            let block = &source[at..];
            let block = &block[..block.find("fn from_str").unwrap_or(block.len())];
            if !block.contains("Infallible") {
                found.push(format!("{name}::from_str"));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The public validators the properties above feed, as `public_validators` names them.
const COVERED: &[&str] = &[
    "fleet/mod.rs::broadcast",
    "fleet/mod.rs::start",
    "postgres/mod.rs::connect",
    "guests/pg_outbox.rs::build",
    "postgres/mod.rs::table_prefix",
    "notifications/mod.rs::subscribe_with",
    "notifications/options.rs::build",
    "callbacks/events.rs::build",
    "callbacks/mod.rs::reschedule",
    "callbacks/mod.rs::with_concurrency_limit",
    "callbacks/reservation.rs::build",
    "callbacks/reservation.rs::build_at",
    "callbacks/time_zone.rs::time_zone_in",
    "client.rs::build",
    "client.rs::from_env",
    "client.rs::requests_per_minute",
    "guests/attributes.rs::add",
    "guests/attributes.rs::start",
    "guests/batcher.rs::build",
    "guests/policy.rs::check",
    "guests/policy.rs::validate",
    "guests/session.rs::build",
    "guests/session.rs::connect",
    "guests/session.rs::send_message",
    "integrations/spec.rs::build",
    "messaging/patch.rs::build",
    "messaging/patch.rs::from_json",
    "messaging/patch.rs::from_json_map",
    "messaging/schema.rs::pattern",
    "nodes/action.rs::build",
    "nodes/action.rs::check_input",
    "nodes/action.rs::from_platform",
    "nodes/action.rs::prepare",
    "nodes/action.rs::prepare_with",
    "nodes/client.rs::create_draft",
    "nodes/executor.rs::execute",
    "nodes/simulator.rs::serve",
    "nodes/template/mod.rs::into_validation",
    "region.rs::custom",
    "region.rs::from_str",
    "region.rs::with_web_messaging_base",
    "request.rs::header",
    "transport/path.rs::fill",
    "validation.rs::finish",
    "webhook.rs::new",
];

#[test]
fn every_public_builder_is_covered() {
    let found = public_validators();
    let missing: Vec<&String> = found
        .iter()
        .filter(|f| !COVERED.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "public builders or validators the sentinel properties do not feed: {missing:?}; \
         feed them sentinel values in tests/sentinels.rs and add them to COVERED and to the \
         table at the top"
    );
    let stale: Vec<&&str> = COVERED
        .iter()
        .filter(|c| !found.iter().any(|f| f == *c))
        .collect();
    assert!(
        stale.is_empty(),
        "COVERED names functions that are gone or no longer validate: {stale:?}"
    );
}

#[test]
fn the_checker_finds_a_value_where_there_is_one() {
    // The checker itself: a value in a message is found, in every place it looks.
    let err = ValidationError::single("phone", "phone_number", "`+1 555 0100 99999` is invalid");
    let mut shown = Shown::default();
    shown.validation("v", &err);
    assert!(shown.clean(&["99999"]).is_err());
    let mut shown = Shown::default();
    shown.error("e", &Error::from(err));
    assert!(shown.clean(&["99999"]).is_err());
    assert!(shown.clean(&["zq-not-there"]).is_ok());
}
