//! What a guest attribute update must satisfy: limits, consent, and what to do with PII.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::validation::{ValidationError, Violations};

/// Most keys in one update, by default.
pub const DEFAULT_MAX_KEYS: usize = 100;

/// Longest value, in characters (256 per value by default).
pub const DEFAULT_MAX_VALUE_CHARS: usize = 256;

/// Longest key, in characters (our limit: keys are identifiers).
pub const MAX_KEY_CHARS: usize = 64;

/// The platform's limit on custom attributes in one guest message: key and value bytes
/// added up (`maxCustomDataBytes` in the session response; error 4013 past it).
pub const MAX_CUSTOM_DATA_BYTES: usize = 2048;

/// A kind of personal data found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number (international, or North American with separators), confirmed by
    /// a phone-number library.
    Phone,
    /// A payment card number: 13 to 19 digits that pass the Luhn check.
    PaymentCard,
}

impl PiiKind {
    /// A stable name, for metrics and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::PaymentCard => "payment_card",
        }
    }
}

/// What a deployment does with personal data in attribute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PiiAction {
    /// Refuse the update.
    Reject,
    /// Replace the personal data with a mask (`j***@example.com`, `**** 1111`) and send.
    Mask,
    /// Send as is, and count the finding.
    AllowAndCount,
}

/// One piece of personal data found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PiiFinding {
    /// The attribute key it was in.
    pub key: String,
    /// What it is.
    pub kind: PiiKind,
}

/// The rules of one web messaging deployment.
///
/// ```
/// use genesys_cloud::guests::{GuestPolicy, PiiAction};
///
/// let policy = GuestPolicy::default()
///     .pii(PiiAction::Mask)
///     .required_consents(["analytics"])
///     .max_keys(20);
/// assert!(policy.validate().is_ok());
/// assert_eq!(policy.max_keys_per_update(), 20);
/// assert_eq!(policy.pii_action(), PiiAction::Mask);
/// assert_eq!(policy.consents_required(), ["analytics"]);
/// assert!(GuestPolicy::default().max_keys(0).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPolicy {
    max_keys: usize,
    max_value_chars: usize,
    pii: PiiAction,
    required_consents: Vec<String>,
}

impl Default for GuestPolicy {
    /// The default limits, PII rejected, no consent required.
    fn default() -> Self {
        Self {
            max_keys: DEFAULT_MAX_KEYS,
            max_value_chars: DEFAULT_MAX_VALUE_CHARS,
            pii: PiiAction::Reject,
            required_consents: Vec::new(),
        }
    }
}

impl GuestPolicy {
    /// Most keys per update (default 100; at least 1).
    pub fn max_keys(mut self, max: usize) -> Self {
        self.max_keys = max;
        self
    }

    /// Longest value, in characters (default 256; 1 to 2048, the most a guest session's
    /// custom data holds).
    pub fn max_value_chars(mut self, max: usize) -> Self {
        self.max_value_chars = max;
        self
    }

    /// What to do with personal data (default: reject the update).
    pub fn pii(mut self, action: PiiAction) -> Self {
        self.pii = action;
        self
    }

    /// Consent flags that must be present and true on every update (default: none).
    pub fn required_consents<I, S>(mut self, flags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required_consents = flags.into_iter().map(Into::into).collect();
        self
    }

    /// Most keys per update.
    pub fn max_keys_per_update(&self) -> usize {
        self.max_keys
    }

    /// Longest value, in characters.
    pub fn max_value_length(&self) -> usize {
        self.max_value_chars
    }

    /// What is done with personal data.
    pub fn pii_action(&self) -> PiiAction {
        self.pii
    }

    /// The consent flags every update must carry.
    pub fn consents_required(&self) -> &[String] {
        &self.required_consents
    }

    /// Whether the settings are usable: limits within range, consent names not empty.
    /// [`GuestAttributesBuilder::start`](crate::guests::GuestAttributesBuilder::start)
    /// checks this too.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut v = Violations::default();
        v.check(
            self.max_keys >= 1,
            "policy.maxKeys",
            "min",
            "`max_keys` must be at least 1",
        );
        v.check(
            (1..=MAX_CUSTOM_DATA_BYTES).contains(&self.max_value_chars),
            "policy.maxValueChars",
            "range",
            format!("`max_value_chars` must be 1 to {MAX_CUSTOM_DATA_BYTES}"),
        );
        v.check(
            self.required_consents.iter().all(|f| !f.trim().is_empty()),
            "policy.requiredConsents",
            "empty",
            "a required consent flag has no name",
        );
        v.finish()
    }
}

/// An update that passed the policy: the attributes to send (masked if the policy
/// masks) and what personal data was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckedAttributes {
    /// The attributes to send.
    pub attributes: BTreeMap<String, String>,
    /// Personal data found (masked, or allowed and counted, depending on the policy).
    pub findings: Vec<PiiFinding>,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"(?i-u)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}";
    Regex::new(pattern).expect("valid regex") // ok: constant pattern
});

/// International (`+…`) or North American (`(415) 555-0199`, `415-555-0199`) candidates;
/// each is confirmed by the phone-number library before it counts.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"\+\d[\d ().-]{6,18}\d|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b";
    Regex::new(pattern).expect("valid regex") // ok: constant pattern
});

/// 13 to 19 digits, optionally in groups separated by a space or a dash.
static CARD: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"\b\d(?:[ -]?\d){12,18}\b";
    Regex::new(pattern).expect("valid regex") // ok: constant pattern
});

/// The Luhn checksum, which every payment card number passes and most other digit
/// strings of the same length do not.
pub fn luhn_valid(digits: &str) -> bool {
    let digits: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_phone(candidate: &str) -> bool {
    let region = if candidate.starts_with('+') {
        None
    } else {
        Some(phonenumber::country::Id::US)
    };
    phonenumber::parse(region, candidate).is_ok_and(|n| phonenumber::is_valid(&n))
}

/// Every piece of personal data in `value`, with its byte range.
pub fn find_pii(value: &str) -> Vec<(PiiKind, std::ops::Range<usize>)> {
    let mut found: Vec<(PiiKind, std::ops::Range<usize>)> = Vec::new();
    for m in EMAIL.find_iter(value) {
        found.push((PiiKind::Email, m.range()));
    }
    for m in CARD.find_iter(value) {
        if luhn_valid(m.as_str()) {
            found.push((PiiKind::PaymentCard, m.range()));
        }
    }
    for m in PHONE.find_iter(value) {
        let overlaps = found
            .iter()
            .any(|(_, r)| r.start < m.end() && m.start() < r.end);
        if !overlaps && is_phone(m.as_str()) {
            found.push((PiiKind::Phone, m.range()));
        }
    }
    found.sort_by_key(|(_, r)| r.start);
    found
}

fn mask(kind: PiiKind, text: &str) -> String {
    match kind {
        PiiKind::Email => {
            let (user, domain) = text.split_once('@').unwrap_or((text, ""));
            let first: String = user.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        PiiKind::Phone | PiiKind::PaymentCard => {
            let digits: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
            let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
            format!("****{last4}")
        }
    }
}

/// `value` with every finding replaced by its mask.
pub fn mask_pii(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut at = 0;
    for (kind, range) in find_pii(value) {
        if range.start < at {
            continue;
        }
        out.push_str(&value[at..range.start]);
        out.push_str(&mask(kind, &value[range.clone()]));
        at = range.end;
    }
    out.push_str(&value[at..]);
    out
}

impl GuestPolicy {
    /// Checks `attributes` and `consents` against the policy; every violation at once.
    /// Masks personal data when the policy says so.
    pub fn check(
        &self,
        attributes: &BTreeMap<String, String>,
        consents: &BTreeMap<String, bool>,
    ) -> Result<CheckedAttributes, ValidationError> {
        let mut v = Violations::default();
        v.check(
            !attributes.is_empty(),
            "attributes",
            "empty",
            "send at least one attribute",
        );
        v.check(
            attributes.len() <= self.max_keys,
            "attributes",
            "max_keys",
            format!(
                "{} keys; at most {} per update",
                attributes.len(),
                self.max_keys
            ),
        );
        for flag in &self.required_consents {
            match consents.get(flag) {
                Some(true) => {}
                Some(false) => v.push(
                    format!("consent.{flag}"),
                    "consent_denied",
                    format!("the guest has not consented to `{flag}`"),
                ),
                None => v.push(
                    format!("consent.{flag}"),
                    "consent_missing",
                    format!("the consent flag `{flag}` is required"),
                ),
            }
        }
        let mut out = BTreeMap::new();
        let mut findings = Vec::new();
        for (key, value) in attributes {
            let field = format!("attributes.{key}");
            let key_chars = key.chars().count();
            v.check(
                !key.trim().is_empty(),
                &field,
                "key_empty",
                "keys must not be blank",
            );
            v.check(
                key_chars <= MAX_KEY_CHARS,
                &field,
                "key_too_long",
                format!("{key_chars} characters; at most {MAX_KEY_CHARS}"),
            );
            v.check(
                !key.chars().any(char::is_control),
                &field,
                "key_invalid_chars",
                "keys must not contain control characters",
            );
            let chars = value.chars().count();
            v.check(
                chars <= self.max_value_chars,
                &field,
                "value_too_long",
                format!("{chars} characters; at most {}", self.max_value_chars),
            );
            let found = find_pii(value);
            let mut sent = value.clone();
            if !found.is_empty() {
                for (kind, _) in &found {
                    findings.push(PiiFinding {
                        key: key.clone(),
                        kind: *kind,
                    });
                }
                match self.pii {
                    PiiAction::Reject => {
                        let kinds: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
                        v.push(&field, "pii", format!("the value holds personal data ({}); remove it or let the deployment mask it", kinds.join(", ")));
                    }
                    PiiAction::Mask => sent = mask_pii(value),
                    PiiAction::AllowAndCount => {}
                }
            }
            out.insert(key.clone(), sent);
        }
        let bytes: usize = out.iter().map(|(k, v)| k.len() + v.len()).sum();
        v.check(
            bytes <= MAX_CUSTOM_DATA_BYTES,
            "attributes",
            "max_custom_data_bytes",
            format!("{bytes} bytes of keys and values; the platform accepts {MAX_CUSTOM_DATA_BYTES} per message"),
        );
        v.finish()?;
        Ok(CheckedAttributes {
            attributes: out,
            findings,
        })
    }
}
