//! Flow 1: participant custom attributes, validated, sanitized, sent, audited (with the
//! HTML sanitizer, feature `sanitize-html`; refusing markup is tested here too, as
//! `Markup::Refuse`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use genesys_cloud::messaging::{
    hook_fn, sanitize, AttributeInjector, AttributePatch, AttributeSchema, Injection, KeySpec,
    Limits, Markup,
};
use genesys_cloud::observe::{AuditOutcome, MemoryAuditSink};
use genesys_cloud::testkit::{FakeGenesys, Fault, ManualClock, SeededConversation};
use genesys_cloud::{ErrorKind, Method, ValidationError};
use proptest::prelude::*;

fn tutorial_schema() -> AttributeSchema {
    AttributeSchema::new()
        .key("customer_tier", KeySpec::string())
        .key("cart_value", KeySpec::number())
        .key("is_vip", KeySpec::boolean())
        .key("referral_code", KeySpec::string())
}

fn open_schema(keys: impl IntoIterator<Item = String>) -> AttributeSchema {
    keys.into_iter()
        .fold(AttributeSchema::new(), |s, k| s.key(k, KeySpec::string()))
}

fn violations(result: Result<AttributePatch, ValidationError>) -> ValidationError {
    result.expect_err("the patch must be refused")
}

// ---- rules, one at a time ----

#[test]
fn tutorial_patch_is_canonical_and_sanitized() {
    let patch = AttributePatch::builder(&tutorial_schema())
        .set("customer_tier", "platinum")
        .set("cart_value", 1250.50)
        .set("is_vip", true)
        .set("referral_code", "<script>alert('xss')</script>REF-2024")
        .build()
        .unwrap();
    let a = patch.attributes();
    assert_eq!(a["customer_tier"], "platinum");
    assert_eq!(a["cart_value"], "1250.5");
    assert_eq!(a["is_vip"], "true");
    assert_eq!(a["referral_code"], "REF-2024");
    assert_eq!(patch.sanitized_keys(), ["referral_code"]);
}

#[test]
fn empty_patch_is_refused() {
    let err = violations(AttributePatch::builder(&tutorial_schema()).build());
    assert!(err.has("attributes", "empty"), "{err}");
}

#[test]
fn more_than_100_attributes_is_refused() {
    let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let schema = open_schema(keys.clone());
    let err = violations(
        AttributePatch::builder(&schema)
            .set_all(keys.iter().map(|k| (k.clone(), "v")))
            .build(),
    );
    assert!(err.has("attributes", "max_attributes"), "{err}");
    let ok = AttributePatch::builder(&schema)
        .set_all(keys.iter().take(100).map(|k| (k.clone(), "v")))
        .build();
    assert!(ok.is_ok(), "exactly 100 is allowed");
}

#[test]
fn key_longer_than_64_characters_is_refused() {
    let long = "é".repeat(65); // 65 characters, 130 bytes
    let ok = "é".repeat(64);
    let schema = open_schema([long.clone(), ok.clone()]);
    let err = violations(
        AttributePatch::builder(&schema)
            .set(long.clone(), "v")
            .build(),
    );
    assert!(
        err.has(&format!("attributes.{long}"), "key_too_long"),
        "{err}"
    );
    assert!(
        AttributePatch::builder(&schema)
            .set(ok, "v")
            .build()
            .is_ok(),
        "limits count characters, not bytes"
    );
}

#[test]
fn reserved_namespaces_are_refused_in_any_case() {
    for key in [
        "sys:x",
        "genesys:x",
        "internal:x",
        "routing:x",
        "conversation:x",
        "SYS:x",
        "Routing:skill",
    ] {
        let schema = open_schema([key.to_owned()]);
        let err = violations(AttributePatch::builder(&schema).set(key, "v").build());
        assert!(
            err.has(&format!("attributes.{key}"), "reserved_namespace"),
            "{key}: {err}"
        );
    }
    let schema = open_schema(["system_id".to_owned()]);
    assert!(AttributePatch::builder(&schema)
        .set("system_id", "v")
        .build()
        .is_ok());
}

#[test]
fn blank_and_control_character_keys_are_refused() {
    let schema = open_schema(["".to_owned(), " ".to_owned(), "a\u{0}b".to_owned()]);
    let err = violations(
        AttributePatch::builder(&schema)
            .set("", "v")
            .set(" ", "v")
            .set("a\u{0}b", "v")
            .build(),
    );
    assert!(err.has("attributes.", "key_empty"), "{err}");
    assert!(err.has("attributes. ", "key_empty"), "{err}");
    assert!(err.has("attributes.a\u{0}b", "key_invalid_chars"), "{err}");
}

#[test]
fn keys_outside_the_schema_are_refused() {
    let err = violations(
        AttributePatch::builder(&tutorial_schema())
            .set("favourite_colour", "blue")
            .build(),
    );
    assert!(
        err.has("attributes.favourite_colour", "unknown_key"),
        "{err}"
    );
    assert!(
        err.to_string().contains("customer_tier"),
        "lists the known keys: {err}"
    );
}

#[test]
fn value_types_must_match_the_schema() {
    let err = violations(
        AttributePatch::builder(&tutorial_schema())
            .set("cart_value", "1250.50")
            .set("is_vip", 1)
            .set("customer_tier", false)
            .build(),
    );
    for key in ["cart_value", "is_vip", "customer_tier"] {
        assert!(
            err.has(&format!("attributes.{key}"), "type_mismatch"),
            "{key}: {err}"
        );
    }
}

#[test]
fn nan_and_infinity_are_refused() {
    for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = violations(
            AttributePatch::builder(&tutorial_schema())
                .set("cart_value", n)
                .build(),
        );
        assert!(err.has("attributes.cart_value", "not_finite"), "{n}: {err}");
    }
}

#[test]
fn numbers_and_booleans_are_canonical() {
    let cases: [(f64, &str); 5] = [
        (1250.50, "1250.5"),
        (-0.0, "0"),
        (3.0, "3"),
        (1e21, "1000000000000000000000"),
        (0.000001, "0.000001"),
    ];
    for (n, want) in cases {
        let patch = AttributePatch::builder(&tutorial_schema())
            .set("cart_value", n)
            .build()
            .unwrap();
        assert_eq!(patch.attributes()["cart_value"], want);
    }
    let patch = AttributePatch::builder(&tutorial_schema())
        .set("cart_value", 42_i64)
        .set("is_vip", false)
        .build()
        .unwrap();
    assert_eq!(patch.attributes()["cart_value"], "42");
    assert_eq!(patch.attributes()["is_vip"], "false");
}

#[test]
fn long_values_are_refused_unless_truncation_is_asked_for() {
    let schema = tutorial_schema();
    let long = "ü".repeat(2049);
    let err = violations(
        AttributePatch::builder(&schema)
            .set("customer_tier", long.clone())
            .build(),
    );
    assert!(
        err.has("attributes.customer_tier", "value_too_long"),
        "{err}"
    );

    let patch = AttributePatch::builder(&schema)
        .set("customer_tier", long)
        .truncate_long_values(true)
        .build()
        .unwrap();
    let kept = &patch.attributes()["customer_tier"];
    assert_eq!(kept.chars().count(), 2048, "cut on a character boundary");
    assert_eq!(patch.truncated_keys(), ["customer_tier"]);
}

#[test]
fn per_key_rules_max_length_allowed_values_and_pattern() {
    let schema = AttributeSchema::new()
        .key(
            "tier",
            KeySpec::string().allowed_values(["gold", "platinum"]),
        )
        .key(
            "code",
            KeySpec::string()
                .max_length(8)
                .pattern("^REF-[0-9]+$")
                .unwrap(),
        );
    let err = violations(
        AttributePatch::builder(&schema)
            .set("tier", "bronze")
            .set("code", "REF-1234567")
            .build(),
    );
    assert!(err.has("attributes.tier", "not_allowed"), "{err}");
    assert!(err.has("attributes.code", "value_too_long"), "{err}");
    let err = violations(
        AttributePatch::builder(&schema)
            .set("code", "XYZ-1")
            .build(),
    );
    assert!(err.has("attributes.code", "pattern_mismatch"), "{err}");
    assert!(AttributePatch::builder(&schema)
        .set("tier", "gold")
        .set("code", "REF-42")
        .build()
        .is_ok());
    assert!(KeySpec::string().pattern("(unclosed").is_err());
}

#[test]
fn body_over_16_kib_is_refused() {
    let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    let schema = open_schema(keys.clone());
    let err = violations(
        AttributePatch::builder(&schema)
            .set_all(keys.iter().map(|k| (k.clone(), "x".repeat(2000))))
            .build(),
    );
    assert!(err.has("attributes", "max_body_bytes"), "{err}");
    let small = Limits::default().max_body_bytes(1_000_000);
    assert!(AttributePatch::builder(&schema)
        .set_all(keys.iter().map(|k| (k.clone(), "x".repeat(2000))))
        .limits(small)
        .build()
        .is_ok());
}

#[test]
fn a_limit_of_zero_is_an_error_not_a_silent_refusal() {
    let schema = tutorial_schema();
    let err = violations(
        AttributePatch::builder(&schema)
            .set("is_vip", true)
            .limits(Limits::default().max_attributes(0).max_body_bytes(0))
            .build(),
    );
    assert!(err.has("limits.maxAttributes", "min"), "{err}");
    assert!(err.has("limits.maxBodyBytes", "min"), "{err}");
}

#[test]
fn every_violation_is_reported_at_once() {
    let schema = tutorial_schema().key("sys:flag", KeySpec::string());
    let err = violations(
        AttributePatch::builder(&schema)
            .set("sys:flag", "x")
            .set("cart_value", f64::NAN)
            .set("is_vip", "yes")
            .set("unknown", "x")
            .set("customer_tier", "y".repeat(3000))
            .build(),
    );
    assert_eq!(err.violations().len(), 5, "{err}");
    for (field, rule) in [
        ("attributes.sys:flag", "reserved_namespace"),
        ("attributes.cart_value", "not_finite"),
        ("attributes.is_vip", "type_mismatch"),
        ("attributes.unknown", "unknown_key"),
        ("attributes.customer_tier", "value_too_long"),
    ] {
        assert!(err.has(field, rule), "{field} {rule}: {err}");
    }
}

#[test]
fn schema_from_json_and_toml() {
    let json: AttributeSchema = serde_json::from_str(
        r#"{"tier": {"type": "string", "allowedValues": ["gold"]}, "n": {"type": "number"}}"#,
    )
    .unwrap();
    let toml_schema: AttributeSchema = toml::from_str(
        "[tier]\ntype = \"string\"\nallowed_values = [\"gold\"]\nmax_length = 10\n\n[code]\ntype = \"string\"\npattern = \"^REF-\"\n",
    )
    .unwrap();
    for schema in [&json, &toml_schema] {
        let err = violations(
            AttributePatch::builder(schema)
                .set("tier", "silver")
                .build(),
        );
        assert!(err.has("attributes.tier", "not_allowed"), "{err}");
    }
    assert!(serde_json::from_str::<AttributeSchema>(r#"{"x": {"type": "date"}}"#).is_err());
    assert!(serde_json::from_str::<AttributeSchema>(
        r#"{"x": {"type": "string", "pattern": "("}}"#
    )
    .is_err());
    assert!(
        serde_json::from_str::<AttributeSchema>(r#"{"x": {"type": "string", "maxLen": 3}}"#)
            .is_err()
    );
}

// ---- sanitizer ----

#[test]
fn sanitizer_strips_markup_scripts_and_handlers() {
    let cases = [
        ("<script>alert('xss')</script>REF-2024", "REF-2024"),
        ("<SCRIPT src=//evil>x</SCRIPT>ok", "ok"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("<img src=x onerror=alert(1)>caption", "caption"),
        ("onerror=alert(1) text", "alert(1) text"),
        ("click ONMOUSEOVER = steal()", "click  steal()"),
        ("javascript:alert(1)", "alert(1)"),
        ("JaVaScRiPt :alert(1)", "alert(1)"),
        ("java\u{0}script:alert(1)", "alert(1)"),
        ("javajavascript:script:alert(1)", "alert(1)"),
        ("<div><p>nested <span>deep</span></p></div>", "nested deep"),
        ("<b>unclosed <i>tags", "unclosed tags"),
        ("<<script>script>alert(1)<</script>/script>", ""),
        ("&lt;script&gt;alert(1)&lt;/script&gt;hi", "hi"),
        ("<style>body{}</style>text", "text"),
        ("  padded\t\n", "padded"),
        ("line1\nline2", "line1 line2"),
        ("a\u{7}b\u{1b}c", "abc"),
        ("evil\u{202E}txt.exe", "eviltxt.exe"),
        ("<p>日本語 🎉 naïve</p>", "日本語 🎉 naïve"),
        ("Tom & Jerry <3", "Tom & Jerry <3"),
        ("once=1 only=2", "once=1 only=2"),
    ];
    for (input, want) in cases {
        assert_eq!(sanitize(input), want, "input {input:?}");
    }
}

proptest! {
    #[test]
    fn sanitized_text_has_no_markup_or_controls(input in ".{0,200}") {
        let out = sanitize(&input);
        prop_assert!(!out.chars().any(char::is_control));
        prop_assert_eq!(sanitize(&out), out.clone(), "sanitizing is idempotent");
        let lower = out.to_lowercase();
        prop_assert!(!lower.contains("<script"));
        prop_assert!(!lower.contains("javascript:"));
    }

    #[test]
    fn build_never_panics_and_never_emits_an_invalid_body(
        entries in proptest::collection::vec((".{0,70}", prop_oneof![
            ".{0,2100}".prop_map(genesys_cloud::messaging::AttributeValue::String),
            any::<f64>().prop_map(genesys_cloud::messaging::AttributeValue::Number),
            any::<i64>().prop_map(genesys_cloud::messaging::AttributeValue::Integer),
            any::<bool>().prop_map(genesys_cloud::messaging::AttributeValue::Boolean),
        ]), 0..12),
        truncate in any::<bool>(),
    ) {
        let schema = entries.iter().fold(AttributeSchema::new(), |s, (k, v)| {
            let spec = match v {
                genesys_cloud::messaging::AttributeValue::String(_) => KeySpec::string(),
                genesys_cloud::messaging::AttributeValue::Boolean(_) => KeySpec::boolean(),
                _ => KeySpec::number(),
            };
            s.key(k.clone(), spec)
        });
        let built = AttributePatch::builder(&schema)
            .set_all(entries.clone())
            .truncate_long_values(truncate)
            .build();
        if let Ok(patch) = built {
            let body = serde_json::to_vec(&patch).unwrap();
            prop_assert!(body.len() <= genesys_cloud::messaging::limits::MAX_BODY_BYTES);
            prop_assert!(!patch.is_empty() && patch.len() <= 100);
            for (k, v) in patch.attributes() {
                prop_assert!(!k.trim().is_empty() && k.chars().count() <= 64);
                prop_assert!(v.chars().count() <= 2048);
                prop_assert!(!v.chars().any(char::is_control));
            }
        }
    }
}

// ---- markup refused (`Markup::Refuse`, the default without `sanitize-html`) ----

fn refusing(value: &str) -> Result<AttributePatch, ValidationError> {
    AttributePatch::builder(&tutorial_schema())
        .markup(Markup::Refuse)
        .set("referral_code", value)
        .set("is_vip", true)
        .build()
}

#[test]
fn refuse_rejects_markup_by_key_and_never_shows_the_value() {
    for value in [
        "<script>alert('xss')</script>REF-2024",
        "<b>bold</b>",
        "&lt;script&gt;alert(1)&lt;/script&gt;hi",
        "&#60;b&#62;",
        "<!-- hidden -->x",
        "a</p>b",
        "x&notin",
        "<\u{0}b>joined by a dropped control",
        "<javascript:b>",
    ] {
        let err = violations(refusing(value));
        assert_eq!(err.violations().len(), 1, "{value:?}: {err}");
        assert!(
            err.has("attributes.referral_code", "markup"),
            "{value:?}: {err}"
        );
        assert!(
            err.to_string().contains("sanitize-html"),
            "says what to do: {err}"
        );
        assert!(!err.to_string().contains("REF") && !err.to_string().contains("bold"));
    }
}

#[test]
fn refuse_keeps_text_that_only_looks_like_markup() {
    for (value, sent) in [
        ("Tom & Jerry <3", "Tom & Jerry <3"),
        ("5 < 6 > 4", "5 < 6 > 4"),
        ("AT&T R&D", "AT&T R&D"),
        ("  padded\t\n", "padded"),
        ("javascript:alert(1)", "alert(1)"),
        ("click ONMOUSEOVER = steal()", "click  steal()"),
        ("evil\u{202E}txt.exe", "eviltxt.exe"),
    ] {
        let patch = refusing(value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(patch.attributes()["referral_code"], sent, "{value:?}");
        assert_eq!(
            patch.sanitized_keys().contains(&"referral_code".to_owned()),
            value != sent
        );
    }
}

proptest! {
    /// Refusing is never weaker than stripping: a value `Refuse` accepts is one the HTML
    /// sanitizer leaves as `Refuse` sends it.
    #[test]
    fn what_refuse_accepts_strip_sends_unchanged(
        value in prop_oneof![
            ".{0,120}",
            "[<>&;#/!?=:a-zA-Z0-9 \u{0}\t]{0,40}",
            "(x|<|>|&|;|#|/|lt|amp|not|script|b|&#|java|:|=|on|error| ){0,16}",
        ],
    ) {
        let refused = refusing(&value);
        if let Ok(patch) = refused {
            let sent = &patch.attributes()["referral_code"];
            prop_assert_eq!(sent, &sanitize(&value), "value {:?}", value);
            let stripped = AttributePatch::builder(&tutorial_schema())
                .markup(Markup::Strip)
                .set("referral_code", value.as_str())
                .build();
            if let Ok(stripped) = stripped {
                prop_assert_eq!(&stripped.attributes()["referral_code"], sent);
            }
        } else {
            let err = refused.unwrap_err();
            prop_assert!(err.violations().iter().all(|v| v.rule == "markup" || v.rule == "value_too_long"), "{}", err);
        }
    }
}

// ---- calls against the fake ----

async fn fake_and_conversation() -> (FakeGenesys, SeededConversation) {
    let fake = FakeGenesys::start().await;
    let seeded = fake.seed_message_conversation();
    (fake, seeded)
}

fn tutorial_patch() -> AttributePatch {
    AttributePatch::builder(&tutorial_schema())
        .set("customer_tier", "platinum")
        .set("cart_value", 1250.50)
        .set("is_vip", true)
        .set("referral_code", "<script>alert('xss')</script>REF-2024")
        .build()
        .unwrap()
}

#[tokio::test]
async fn round_trip_through_the_fake() {
    let (fake, c) = fake_and_conversation().await;
    let client = fake.client().unwrap();
    let participant = client
        .messaging()
        .participant(&c.conversation_id, &c.customer_participant_id);
    let held = participant
        .patch_attributes(&tutorial_patch())
        .await
        .unwrap();
    assert_eq!(held["cart_value"], "1250.5");
    assert_eq!(held["referral_code"], "REF-2024");

    let second = AttributePatch::builder(&tutorial_schema())
        .set("is_vip", false)
        .build()
        .unwrap();
    let held = participant.patch_attributes(&second).await.unwrap();
    assert_eq!(held.len(), 4, "PATCH merges");
    assert_eq!(held["is_vip"], "false");
    assert_eq!(participant.attributes().await.unwrap(), held);
    assert_eq!(
        fake.participant_attributes(&c.conversation_id, &c.customer_participant_id)
            .unwrap(),
        held
    );

    let sent = fake.requests_to(
        Method::PATCH,
        &format!(
            "/api/v2/conversations/messages/{}/participants/{}/attributes",
            c.conversation_id, c.customer_participant_id
        ),
    );
    assert_eq!(
        sent[0].json(),
        serde_json::json!({"attributes": {
            "cart_value": "1250.5", "customer_tier": "platinum", "is_vip": "true", "referral_code": "REF-2024"
        }})
    );
}

#[tokio::test]
async fn rate_limited_patch_is_retried_by_the_transport() {
    let (fake, c) = fake_and_conversation().await;
    let clock = ManualClock::new();
    let client = fake.client_builder().clock(clock.clone()).build().unwrap();
    client
        .request(Method::GET, "/api/v2/organizations/me")
        .send::<serde_json::Value>()
        .await
        .unwrap();
    fake.inject(
        Fault::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        },
        1,
    );
    fake.inject(Fault::Status(503), 1);
    let held = client
        .messaging()
        .participant(&c.conversation_id, &c.customer_participant_id)
        .patch_attributes(&tutorial_patch())
        .await
        .unwrap();
    assert_eq!(held["customer_tier"], "platinum");
    assert_eq!(clock.sleeps()[0], Duration::from_secs(2));
    assert_eq!(
        clock.sleeps().len(),
        2,
        "the 503 is retried too: the patch is idempotent"
    );
}

#[tokio::test]
async fn ids_are_checked_before_anything_is_sent() {
    let (fake, c) = fake_and_conversation().await;
    let client = fake.client().unwrap();
    for (conv, part) in [
        ("../../users/me", c.customer_participant_id.as_str()),
        (c.conversation_id.as_str(), "a/b"),
        ("..", ".."),
        ("", c.customer_participant_id.as_str()),
        (
            "{0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b}",
            c.customer_participant_id.as_str(),
        ),
    ] {
        let participant = client.messaging().participant(conv, part);
        let err = participant
            .patch_attributes(&tutorial_patch())
            .await
            .unwrap_err();
        let v = err
            .validation()
            .unwrap_or_else(|| panic!("{conv} {part}: {err:?}"));
        assert!(v.has_rule("uuid"), "{v}");
        assert!(participant
            .attributes()
            .await
            .unwrap_err()
            .validation()
            .is_some());
    }
    let err = client
        .messaging()
        .participant("..", "a/b")
        .attributes()
        .await
        .unwrap_err();
    assert_eq!(
        err.validation().unwrap().violations().len(),
        2,
        "both ids reported"
    );
    assert!(
        fake.requests().is_empty(),
        "nothing reached the fake, not even a token request"
    );
}

#[tokio::test]
async fn unknown_conversation_and_participant() {
    let (fake, c) = fake_and_conversation().await;
    let client = fake.client().unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    let err = client
        .messaging()
        .participant(&missing, &c.customer_participant_id)
        .patch_attributes(&tutorial_patch())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    let err = client
        .messaging()
        .participant(&c.conversation_id, &missing)
        .attributes()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

/// The attribute endpoint's path in the fake for a seeded conversation.
fn attributes_path(c: &SeededConversation) -> String {
    format!(
        "/api/v2/conversations/messages/{}/participants/{}/attributes",
        c.conversation_id, c.customer_participant_id
    )
}

/// The `fieldName`s of a Genesys `ErrorBody`'s details.
fn error_fields(err: &genesys_cloud::Error) -> Vec<String> {
    let api = err.api().expect("an API error");
    assert_eq!((api.status(), api.code()), (400, Some("bad.request")));
    api.body()
        .unwrap()
        .details
        .iter()
        .filter_map(|d| d.field_name.clone())
        .collect()
}

#[tokio::test]
async fn the_fake_refuses_what_the_platform_model_refuses() {
    // `ParticipantAttributes { attributes: dict(str, str) }` (the Python SDK's model): the
    // map is the body, and its values are strings.
    let (fake, c) = fake_and_conversation().await;
    let client = fake.client().unwrap();
    let path = attributes_path(&c);
    let err = client
        .request(Method::PATCH, &path)
        .json(&serde_json::json!({"attributes": {"n": 5, "b": true, "o": {}, "ok": "x"}}))
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    let mut fields = error_fields(&err);
    fields.sort();
    assert_eq!(fields, ["attributes.b", "attributes.n", "attributes.o"]);
    assert!(err.to_string().contains("attributes.n"), "{err}");
    let err = client
        .request(Method::PATCH, &path)
        .json(&serde_json::json!({"attrs": {"k": "v"}}))
        .send::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(error_fields(&err), ["attributes"]);
    assert_eq!(
        fake.participant_attributes(&c.conversation_id, &c.customer_participant_id),
        Some(Default::default()),
        "nothing was kept"
    );
}

#[tokio::test]
async fn the_fake_accepts_what_only_the_crate_refuses() {
    // The crate's limits (100 attributes, 64-character keys, 2048-character values, 16 KiB,
    // reserved namespaces) come from tutorial 000; no platform source states them, so the
    // fake accepts what breaks them and the builder stays the only place they are enforced.
    let long_key = "k".repeat(65);
    let long_value = "v".repeat(20_000);
    let mut crowd: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    crowd.push(long_key.clone());
    crowd.push("sys:x".into());
    let schema = open_schema(crowd.clone());
    let mut builder = AttributePatch::builder(&schema);
    for key in &crowd {
        builder = builder.set(key, "1");
    }
    let err = builder.set("k0", long_value.as_str()).build().unwrap_err();
    for (field, rule) in [
        ("attributes", "max_attributes"),
        (format!("attributes.{long_key}").as_str(), "key_too_long"),
        ("attributes.sys:x", "reserved_namespace"),
        ("attributes.k0", "value_too_long"),
    ] {
        assert!(
            err.has(field, rule),
            "the crate refuses {field} {rule}: {err}"
        );
    }

    let (fake, c) = fake_and_conversation().await;
    let client = fake.client().unwrap();
    let mut attributes = serde_json::Map::new();
    for key in &crowd {
        attributes.insert(key.clone(), "1".into());
    }
    attributes.insert("k0".into(), long_value.clone().into());
    let answer: serde_json::Value = client
        .request(Method::PATCH, &attributes_path(&c))
        .json(&serde_json::json!({ "attributes": attributes }))
        .send()
        .await
        .expect("the fake follows the platform's model, which states no limits");
    assert_eq!(answer["attributes"]["sys:x"], "1");
    let held = fake
        .participant_attributes(&c.conversation_id, &c.customer_participant_id)
        .unwrap();
    assert_eq!(held.len(), 103);
    assert_eq!(held["k0"], long_value);
}

#[tokio::test]
async fn injector_runs_hooks_in_order_and_survives_a_failing_one() {
    let (fake, c) = fake_and_conversation().await;
    let audit = MemoryAuditSink::new();
    let client = fake
        .client_builder()
        .audit_sink(audit.clone())
        .build()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2, o3) = (order.clone(), order.clone(), order.clone());
    let injector = AttributeInjector::new(client)
        .hook(hook_fn("context_refresh", move |i: Injection| {
            let o = o1.clone();
            async move {
                o.lock()
                    .unwrap()
                    .push(format!("refresh:{}", i.attributes.len()));
                Ok(())
            }
        }))
        .hook(hook_fn("broken", move |_| {
            let o = o2.clone();
            async move {
                o.lock().unwrap().push("broken".to_owned());
                Err("personalization engine down".into())
            }
        }))
        .hook(hook_fn("personalization_sync", move |i: Injection| {
            let o = o3.clone();
            async move {
                o.lock().unwrap().push(format!("sync:{}", i.keys.join(",")));
                Ok(())
            }
        }));

    let report = injector
        .inject(
            &c.conversation_id,
            &c.customer_participant_id,
            &tutorial_patch(),
        )
        .await
        .expect("a failing hook does not fail the injection");
    assert_eq!(
        *order.lock().unwrap(),
        [
            "refresh:4",
            "broken",
            "sync:cart_value,customer_tier,is_vip,referral_code"
        ]
    );
    assert_eq!(report.hook_failures.len(), 1);
    assert_eq!(report.hook_failures[0].hook, "broken");
    assert_eq!(report.attributes["is_vip"], "true");

    let stats = injector.stats();
    assert_eq!(
        (
            stats.injections,
            stats.succeeded,
            stats.failed,
            stats.hook_failures
        ),
        (1, 1, 0, 1)
    );
    assert_eq!(stats.availability_rate, Some(1.0));
    assert_eq!(stats.latency.count, 1);

    let records = audit.records();
    let injection = records
        .iter()
        .find(|r| r.action == "messaging.inject_attributes")
        .unwrap();
    assert_eq!(injection.outcome, AuditOutcome::Partial);
    assert_eq!(injection.count, Some(4));
    assert_eq!(injection.ids["conversationId"], c.conversation_id);
    assert!(records
        .iter()
        .any(|r| r.action == "messaging.injection_hook" && r.ids["hook"] == "broken"));
}

#[tokio::test]
async fn audit_lines_hold_keys_never_values() {
    let (fake, c) = fake_and_conversation().await;
    let sink = Arc::new(genesys_cloud::observe::JsonLinesAuditSink::new(
        Vec::<u8>::new(),
    ));
    #[derive(Debug)]
    struct Shared(Arc<genesys_cloud::observe::JsonLinesAuditSink<Vec<u8>>>);
    impl genesys_cloud::observe::AuditSink for Shared {
        fn record(&self, r: &genesys_cloud::observe::AuditRecord) -> std::io::Result<()> {
            self.0.record(r)
        }
    }
    let client = fake
        .client_builder()
        .audit_sink(Shared(sink.clone()))
        .build()
        .unwrap();
    let injector = AttributeInjector::new(client);
    injector
        .inject(
            &c.conversation_id,
            &c.customer_participant_id,
            &tutorial_patch(),
        )
        .await
        .unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    injector
        .inject(&missing, &c.customer_participant_id, &tutorial_patch())
        .await
        .unwrap_err();
    drop(injector);
    let out = String::from_utf8(Arc::try_unwrap(sink).unwrap().into_inner()).unwrap();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "success");
    assert_eq!(
        lines[0]["keys"],
        serde_json::json!(["cart_value", "customer_tier", "is_vip", "referral_code"])
    );
    assert_eq!(lines[1]["outcome"], "failure");
    assert_eq!(lines[1]["status"], 404);
    for value in ["platinum", "1250.5", "REF-2024", "true"] {
        assert!(
            !out.contains(value),
            "the value {value:?} leaked into the audit trail: {out}"
        );
    }
    let stats = AttributeInjector::new(fake.client().unwrap()).stats();
    assert_eq!(
        stats.availability_rate, None,
        "a new client has its own metrics"
    );
}
