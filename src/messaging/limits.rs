//! The limits a participant attribute patch is checked against.

/// Most attributes one patch may carry (as specified: "more than 100 attributes per request"
/// is rejected by the messaging gateway).
pub const MAX_ATTRIBUTES: usize = 100;

/// Longest key, in characters (as specified: "keys longer than 64 characters").
pub const MAX_KEY_CHARS: usize = 64;

/// Longest value, in characters, after sanitizing (as specified: "values longer than 2048
/// characters").
pub const MAX_VALUE_CHARS: usize = 2048;

/// Largest serialized body, `{"attributes": {...}}`, in bytes (as specified: "payloads
/// exceeding 16 KB").
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Key prefixes reserved for the platform (Genesys's reserved namespaces); compared
/// without regard to case.
pub const RESERVED_NAMESPACES: &[&str] =
    &["sys:", "genesys:", "internal:", "routing:", "conversation:"];

/// Limits for [`AttributePatch`](super::AttributePatch); the defaults are the constants
/// of this module. Lower them to match a stricter gateway; raising them only moves the
/// rejection to the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_attributes: usize,
    pub(crate) max_key_chars: usize,
    pub(crate) max_value_chars: usize,
    pub(crate) max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attributes: MAX_ATTRIBUTES,
            max_key_chars: MAX_KEY_CHARS,
            max_value_chars: MAX_VALUE_CHARS,
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

impl Limits {
    /// Most attributes per patch (default [`MAX_ATTRIBUTES`]; at least 1).
    pub fn max_attributes(mut self, max: usize) -> Self {
        self.max_attributes = max;
        self
    }

    /// Longest key, in characters (default [`MAX_KEY_CHARS`]; at least 1).
    pub fn max_key_chars(mut self, max: usize) -> Self {
        self.max_key_chars = max;
        self
    }

    /// Longest value, in characters (default [`MAX_VALUE_CHARS`]; at least 1).
    pub fn max_value_chars(mut self, max: usize) -> Self {
        self.max_value_chars = max;
        self
    }

    /// Largest serialized body, in bytes (default [`MAX_BODY_BYTES`]; at least 1).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// A violation for each limit set to zero (which would refuse every patch).
    pub(crate) fn check(&self, v: &mut crate::validation::Violations) {
        for (field, value) in [
            ("limits.maxAttributes", self.max_attributes),
            ("limits.maxKeyChars", self.max_key_chars),
            ("limits.maxValueChars", self.max_value_chars),
            ("limits.maxBodyBytes", self.max_body_bytes),
        ] {
            v.check(value >= 1, field, "min", "a limit must be at least 1");
        }
    }
}

/// The reserved namespace `key` starts with, if any.
pub(crate) fn reserved_namespace(key: &str) -> Option<&'static str> {
    RESERVED_NAMESPACES.iter().copied().find(|ns| {
        key.len() >= ns.len()
            && key.is_char_boundary(ns.len())
            && key[..ns.len()].eq_ignore_ascii_case(ns)
    })
}
