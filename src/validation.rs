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
    /// A validation error holding `first`; add more with [`with`](ValidationError::with),
    /// [`push`](ValidationError::push) or [`Extend`]. For a service's own checks, next to
    /// the crate's:
    ///
    /// ```
    /// use genesys_cloud::{ValidationError, Violation};
    ///
    /// let mut err = ValidationError::new(Violation::new("email", "required", "set an email"))
    ///     .with("age", "range", "age must be 18 to 130");
    /// err.extend([Violation::new("name", "max_length", "at most 64 characters")]);
    /// assert_eq!(err.violations().len(), 3);
    /// assert!(err.has("age", "range"));
    /// ```
    pub fn new(first: Violation) -> Self {
        Self {
            violations: vec![first],
        }
    }

    /// This error with one more violation, of `rule` on `field`.
    #[must_use]
    pub fn with(
        mut self,
        field: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        self.violations.push(Violation::new(field, rule, message));
        self
    }

    /// Adds a violation.
    pub fn push(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Adds every violation of `other` (e.g. a builder's error to a service's own).
    pub fn merge(&mut self, other: ValidationError) {
        self.violations.extend(other.violations);
    }

    /// The violations, taken out.
    pub fn into_violations(self) -> Vec<Violation> {
        self.violations
    }

    /// A validation error holding `violations`; `None` when the list is empty (a
    /// `ValidationError` always holds at least one). With a first violation at hand,
    /// [`ValidationError::new`] needs no `Option`.
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

impl From<Violation> for ValidationError {
    fn from(violation: Violation) -> Self {
        Self::new(violation)
    }
}

impl Extend<Violation> for ValidationError {
    fn extend<I: IntoIterator<Item = Violation>>(&mut self, violations: I) {
        self.violations.extend(violations);
    }
}

impl IntoIterator for ValidationError {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.violations.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationError {
    type Item = &'a Violation;
    type IntoIter = std::slice::Iter<'a, Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.violations.iter()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_need_no_option_and_keep_the_order() {
        let first = Violation::new("email", "required", "set an email");
        let mut err = ValidationError::from(first.clone()).with("age", "range", "18 to 130");
        err.push(Violation::new("name", "max_length", "at most 64"));
        err.extend([Violation::new("tags", "max_items", "at most 10")]);
        err.merge(ValidationError::single("id", "uuid", "a UUID"));
        let fields: Vec<&str> = (&err).into_iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["email", "age", "name", "tags", "id"]);
        assert_eq!(
            ValidationError::new(first.clone()),
            ValidationError::from(first)
        );
        assert_eq!(err.clone().into_violations().len(), 5);
        assert_eq!(err.into_iter().last().map(|v| v.rule), Some("uuid"));
    }
}
