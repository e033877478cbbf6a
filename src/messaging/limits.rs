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
    /// Most attributes per patch.
    pub max_attributes: usize,
    /// Longest key, in characters.
    pub max_key_chars: usize,
    /// Longest value, in characters.
    pub max_value_chars: usize,
    /// Largest serialized body, in bytes.
    pub max_body_bytes: usize,
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

/// The reserved namespace `key` starts with, if any.
pub(crate) fn reserved_namespace(key: &str) -> Option<&'static str> {
    RESERVED_NAMESPACES.iter().copied().find(|ns| {
        key.len() >= ns.len()
            && key.is_char_boundary(ns.len())
            && key[..ns.len()].eq_ignore_ascii_case(ns)
    })
}
