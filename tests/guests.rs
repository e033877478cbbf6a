//! Flow 3 (in progress): the guest attribute policy: limits, consent, PII with Luhn.

use std::collections::BTreeMap;

use genesys_cloud::guests::{find_pii, luhn_valid, mask_pii, GuestPolicy, PiiAction, PiiKind};

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn consents(pairs: &[(&str, bool)]) -> BTreeMap<String, bool> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn kinds(value: &str) -> Vec<PiiKind> {
    find_pii(value).into_iter().map(|(k, _)| k).collect()
}

#[test]
fn luhn_true_and_false_positives() {
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "6011111111111117",
    ] {
        assert!(luhn_valid(card), "{card}");
        assert_eq!(
            kinds(&format!("paid with {card} today")),
            [PiiKind::PaymentCard],
            "{card}"
        );
    }
    // Order numbers, tracking numbers and timestamps of card length that fail the checksum.
    for not_card in [
        "4111111111111112",
        "1234567890123",
        "20231115000422",
        "9876543210987654",
    ] {
        assert!(!luhn_valid(not_card), "{not_card}");
        assert!(
            kinds(&format!("order {not_card}")).is_empty(),
            "{not_card} is not a card"
        );
    }
}

#[test]
fn emails_and_phone_numbers_are_found() {
    assert_eq!(
        kinds("write to jane.doe+vip@example.co.uk please"),
        [PiiKind::Email]
    );
    assert_eq!(kinds("call +1 415 555 0199"), [PiiKind::Phone]);
    assert_eq!(
        kinds("call (415) 555-0199 or +44 20 7946 0018"),
        [PiiKind::Phone, PiiKind::Phone]
    );
    assert!(kinds("ticket TCK-2024-0042, version 1.2.3, 555-0199").is_empty());
}

#[test]
fn masking_keeps_a_hint_and_nothing_more() {
    assert_eq!(mask_pii("jane.doe@example.com"), "j***@example.com");
    assert_eq!(
        mask_pii("card 4111 1111 1111 1111, call +14155550199"),
        "card ****1111, call ****0199"
    );
}

#[test]
fn the_policy_rejects_masks_or_counts_pii() {
    let update = attrs(&[("firstName", "Jane"), ("contact", "jane@example.com")]);
    let none = consents(&[]);
    let err = GuestPolicy::default().check(&update, &none).unwrap_err();
    assert!(err.has("attributes.contact", "pii"), "{err}");
    assert!(
        !err.to_string().contains("jane@example.com"),
        "errors never echo the data: {err}"
    );

    let masked = GuestPolicy {
        pii: PiiAction::Mask,
        ..GuestPolicy::default()
    }
    .check(&update, &none)
    .unwrap();
    assert_eq!(masked.attributes["contact"], "j***@example.com");
    assert_eq!(masked.attributes["firstName"], "Jane");
    assert_eq!(masked.findings.len(), 1);

    let counted = GuestPolicy {
        pii: PiiAction::AllowAndCount,
        ..GuestPolicy::default()
    }
    .check(&update, &none)
    .unwrap();
    assert_eq!(counted.attributes["contact"], "jane@example.com");
    assert_eq!(counted.findings[0].kind, PiiKind::Email);
}

#[test]
fn required_consent_must_be_present_and_true() {
    let policy = GuestPolicy {
        required_consents: vec!["analytics".into(), "marketing".into()],
        ..GuestPolicy::default()
    };
    let update = attrs(&[("preferredLanguage", "fr")]);
    let err = policy
        .check(&update, &consents(&[("analytics", false)]))
        .unwrap_err();
    assert!(err.has("consent.analytics", "consent_denied"), "{err}");
    assert!(err.has("consent.marketing", "consent_missing"), "{err}");
    assert!(policy
        .check(
            &update,
            &consents(&[("analytics", true), ("marketing", true)])
        )
        .is_ok());
}

#[test]
fn limits_and_every_violation_at_once() {
    let many: BTreeMap<String, String> = (0..101)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    let err = GuestPolicy::default()
        .check(&many, &consents(&[]))
        .unwrap_err();
    assert!(err.has("attributes", "max_keys"), "{err}");
    assert!(
        err.has("attributes", "max_custom_data_bytes")
            || many.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() <= 2048
    );

    let long = "x".repeat(257);
    let wide = "y".repeat(65);
    let err = GuestPolicy::default()
        .check(
            &attrs(&[
                ("ticket", &long),
                (&wide, "v"),
                ("", "v"),
                ("card", "4111111111111111"),
            ]),
            &consents(&[]),
        )
        .unwrap_err();
    for (field, rule) in [
        ("attributes.ticket".to_owned(), "value_too_long"),
        (format!("attributes.{wide}"), "key_too_long"),
        ("attributes.".to_owned(), "key_empty"),
        ("attributes.card".to_owned(), "pii"),
    ] {
        assert!(err.has(&field, rule), "{field} {rule}: {err}");
    }
    let big: BTreeMap<String, String> = (0..10)
        .map(|i| (format!("key{i}"), "z".repeat(250)))
        .collect();
    let err = GuestPolicy::default()
        .check(&big, &consents(&[]))
        .unwrap_err();
    assert!(err.has("attributes", "max_custom_data_bytes"), "{err}");
    assert!(GuestPolicy::default()
        .check(&BTreeMap::new(), &consents(&[]))
        .unwrap_err()
        .has("attributes", "empty"));
}
