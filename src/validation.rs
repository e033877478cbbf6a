//! One error type for every request that fails validation before it is sent.
//!
//! Every builder in the crate collects *all* violated rules into a [`ValidationError`]
//! rather than stopping at the first, so a caller can fix a request in one pass.
//!
//! # No values
//!
//! A violation says which field broke which rule and what to do; it never repeats what was
//! given. Violations travel far: a service answers them in a 422 body, and they are in the
//! error's `Display` and `Debug`, in logs and in the audit trail.
//!
//! - **Never shown (values):** what a caller or a server passes through the crate: phone
//!   numbers, attribute and input values, free text (names, reasons, notes), URLs (base,
//!   proxy, widget, webhook URLs, which can carry a password or a token), ids (named by their
//!   role, `conversationId`, or their position, `queues[2]`), header and query values,
//!   country codes, times, tokens and secrets, and anything a server answered.
//! - **May be named:** field names and positions, rule names, lengths and limits; an
//!   attribute or `data` key, a header name and a Data Action input name (names the
//!   program chose, as the audit trail records them: put no value in a key); and the
//!   program's own configuration, which a message must quote to be useful: a schema's
//!   allowed values and pattern, a sandbox policy's host patterns, a template's text, a
//!   path template, the labels it gives its widgets, actions and webhooks.
//!
//! `tests/sentinels.rs` feeds random values to every public builder and flow and checks
//! that none of them shows in a violation, an error or an audit record.

use std::fmt;

use serde::Serialize;

/// One violated rule: which field, which rule, and what to do about it.
///
/// Serializes as `{"field": .., "rule": .., "message": ..}`, ready for a 422 body. Messages
/// name fields and limits, never the rejected value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Violation {
    /// The field (or path parameter, or attribute key) that broke the rule, e.g. `attributes.cart_value`.
    pub field: String,
    /// A stable, machine-readable rule name, e.g. `max_length` or `reserved_namespace`.
    pub rule: &'static str,
    /// A human-readable explanation that says what to fix.
    pub message: String,
}

impl Violation {
    /// A violation of `rule` on `field`, explained by `message`.
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({}): {}", self.field, self.rule, self.message)
    }
}

/// A request that was never sent because it broke one or more rules.
///
/// Holds every violation found, in the order the checks ran. Serializes as
/// `{"violations": [..]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    violations: Vec<Violation>,
}

impl ValidationError {
    /// A validation error holding `violations`; `None` when the list is empty.
    pub fn from_violations(violations: Vec<Violation>) -> Option<Self> {
        if violations.is_empty() {
            None
        } else {
            Some(Self { violations })
        }
    }

    /// A validation error holding exactly one violation.
    pub fn single(
        field: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            violations: vec![Violation::new(field, rule, message)],
        }
    }

    /// Every violated rule.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Whether any violation was found on `field` for `rule`.
    pub fn has(&self, field: &str, rule: &str) -> bool {
        self.violations
            .iter()
            .any(|v| v.field == field && v.rule == rule)
    }

    /// Whether any violation broke `rule`, on any field.
    pub fn has_rule(&self, rule: &str) -> bool {
        self.violations.iter().any(|v| v.rule == rule)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.violations.len();
        write!(
            f,
            "request not sent: {n} validation problem{}",
            if n == 1 { "" } else { "s" }
        )?;
        for v in &self.violations {
            write!(f, "; {v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Collects violations while a builder runs its checks.
///
/// ```
/// use genesys_cloud::validation::Violations;
///
/// let mut v = Violations::default();
/// v.check(false, "name", "required", "set a name");
/// v.check(true, "width", "max", "unreachable");
/// let err = v.finish().unwrap_err();
/// assert_eq!(err.violations().len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct Violations {
    found: Vec<Violation>,
}

impl Violations {
    /// Records a violation.
    pub fn push(
        &mut self,
        field: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) {
        self.found.push(Violation::new(field, rule, message));
    }

    /// Records a violation unless `ok` holds.
    pub fn check(
        &mut self,
        ok: bool,
        field: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) {
        if !ok {
            self.push(field, rule, message);
        }
    }

    /// Records a violation unless `id` is a hyphenated UUID, the form every platform id takes.
    pub fn check_uuid(&mut self, field: &str, id: &str) {
        if id.len() != 36 || uuid::Uuid::try_parse(id).is_err() {
            self.push(
                field,
                "uuid",
                format!("`{field}` must be a UUID like 0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b"),
            );
        }
    }

    /// Records a violation (rule `range`) unless `min <= value <= max`.
    pub fn check_within(
        &mut self,
        field: &str,
        value: std::time::Duration,
        min: std::time::Duration,
        max: std::time::Duration,
    ) {
        self.check(
            value >= min && value <= max,
            field,
            "range",
            format!("{value:?} is outside {min:?}..={max:?}"),
        );
    }

    /// Takes every violation of `err` into this collection.
    pub fn extend(&mut self, err: ValidationError) {
        self.found.extend(err.violations);
    }

    /// How many violations were recorded so far.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether nothing was recorded so far.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// `Ok(())` when nothing was recorded, otherwise every violation.
    pub fn finish(self) -> Result<(), ValidationError> {
        match ValidationError::from_violations(self.found) {
            None => Ok(()),
            Some(err) => Err(err),
        }
    }
}
