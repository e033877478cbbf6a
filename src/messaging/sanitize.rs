//! Turning untrusted text into a plain, markup-free attribute value.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// URL schemes that execute code when a value ends up in a link.
static SCRIPT_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = r"(?i-u)(?:java|vb|live)script\s*:|data\s*:\s*text/html";
    Regex::new(pattern).expect("valid regex") // ok: constant pattern
});

/// Inline DOM event handlers (`onerror=`, `onload =`, `onmouseover=` ...), by the event
/// name families of the HTML standard, so that words like `once=` or `only=` survive.
static EVENT_HANDLER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u)\bon(?:abort|after|animation|auxclick|before|blur|can|change|click|close|",
        r"context|copy|cue|cut|dblclick|drag|drop|duration|emptied|end|error|focus|form|",
        r"fullscreen|gotpointer|hashchange|input|invalid|key|load|lostpointer|message|mouse|",
        r"offline|online|open|page|paste|pause|play|pointer|popstate|progress|rate|readystate|",
        r"reset|resize|scroll|search|seek|select|show|slot|stalled|storage|submit|suspend|",
        r"time|toggle|touch|transition|unhandled|unload|volume|waiting|wheel)[a-z]*\s*="
    ))
    .expect("valid regex") // ok: constant pattern
});

/// What [`AttributePatchBuilder`](super::AttributePatchBuilder) does with a text value
/// holding HTML: a tag, a comment, or a character reference (`&lt;`, `&#60;`) that a
/// browser would turn into one.
///
/// Either way the value that is sent holds no markup; the two differ in what they cost
/// and in whether the caller learns of it:
///
/// | | what happens to `<b>gold</b>` | what it needs |
/// |---|---|---|
/// | [`Markup::Strip`] | sent as `gold`, the key listed in [`AttributePatch::sanitized_keys`](super::AttributePatch::sanitized_keys) | feature `sanitize-html` (ammonia and html5ever: 17 crates, 1.1 MB of binary) |
/// | [`Markup::Refuse`] | refused before sending: rule `markup` | nothing more |
///
/// Control characters, `javascript:`-style schemes and `on…=` event handlers are removed
/// under both (see [`sanitize`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Markup {
    /// Strip markup with a real HTML parser ([`sanitize`]); the default with feature
    /// `sanitize-html`.
    #[cfg(feature = "sanitize-html")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sanitize-html")))]
    Strip,
    /// Refuse a value with markup (violation rule `markup`); the default without feature
    /// `sanitize-html`. What counts as markup: `<` followed by a letter, `/`, `!` or `?`;
    /// `&#`; `&` followed by a name and `;`; `&` followed by one of the names HTML decodes
    /// without `;` (`&lt`, `&amp`, `&copy` ...). `5 < 6`, `Tom & Jerry` and `AT&T` are text.
    Refuse,
}

impl Default for Markup {
    fn default() -> Self {
        #[cfg(feature = "sanitize-html")]
        return Markup::Strip;
        #[cfg(not(feature = "sanitize-html"))]
        return Markup::Refuse;
    }
}

/// The plain-text value of `input` under `markup`, or `None` when [`Markup::Refuse`]
/// found markup in it.
pub(crate) fn clean(input: &str, markup: Markup) -> Option<String> {
    if is_plain(input) {
        return Some(input.trim().to_owned());
    }
    match markup {
        #[cfg(feature = "sanitize-html")]
        Markup::Strip => Some(sanitize(input)),
        Markup::Refuse => {
            let text = without_controls_and_scripts(input);
            // Checked on the result: dropping a control character or a scheme can join
            // the halves of a tag (`<\u{0}b>`).
            (!has_markup(&text)).then_some(text)
        }
    }
}

/// The plain-text value of untrusted `input`:
///
/// 1. control characters dropped (tab, CR and LF become spaces), as are bidirectional
///    overrides that could disguise the text and invisible zero-width characters;
/// 2. markup removed by a real HTML parser (ammonia with no tags allowed; `<script>` and
///    `<style>` lose their content too), entities decoded back to text, repeated until
///    stable so that escaped markup (`&lt;script&gt;`) cannot survive as markup;
/// 3. `javascript:`-style schemes and `on…=` event handlers removed, until none is left;
/// 4. surrounding white space trimmed.
///
/// Needs feature `sanitize-html`; without it, [`Markup::Refuse`] refuses what step 2
/// would change.
#[cfg(feature = "sanitize-html")]
#[cfg_attr(docsrs, doc(cfg(feature = "sanitize-html")))]
pub fn sanitize(input: &str) -> String {
    if is_plain(input) {
        return input.trim().to_owned();
    }
    let mut text = input.to_owned();
    // Each step can uncover work for another (an entity decodes to a control character,
    // removing a scheme joins the halves of another), so repeat until nothing changes;
    // 8 rounds bound nested escapes.
    for _ in 0..8 {
        let controls = strip_controls(&text);
        let markup = strip_markup(&controls);
        let controls_again = strip_controls(&markup);
        let next = strip_scripts(&controls_again);
        if next == text.as_str() {
            break;
        }
        text = next.into_owned();
    }
    text.trim().to_owned()
}

/// Steps 1, 3 and 4 of [`sanitize`], repeated until stable.
fn without_controls_and_scripts(input: &str) -> String {
    let mut text = input.to_owned();
    for _ in 0..8 {
        let controls = strip_controls(&text);
        let next = strip_scripts(&controls);
        if next == text.as_str() {
            break;
        }
        text = next.into_owned();
    }
    text.trim().to_owned()
}

/// The character references HTML decodes in text without a closing `;` (the WHATWG
/// named character reference table's entries without one; `&notin` reads as `¬in`).
const LEGACY_REFERENCES: [&str; 106] = [
    "AElig", "AMP", "Aacute", "Acirc", "Agrave", "Aring", "Atilde", "Auml", "COPY", "Ccedil",
    "ETH", "Eacute", "Ecirc", "Egrave", "Euml", "GT", "Iacute", "Icirc", "Igrave", "Iuml", "LT",
    "Ntilde", "Oacute", "Ocirc", "Ograve", "Oslash", "Otilde", "Ouml", "QUOT", "REG", "THORN",
    "Uacute", "Ucirc", "Ugrave", "Uuml", "Yacute", "aacute", "acirc", "acute", "aelig", "agrave",
    "amp", "aring", "atilde", "auml", "brvbar", "ccedil", "cedil", "cent", "copy", "curren", "deg",
    "divide", "eacute", "ecirc", "egrave", "eth", "euml", "frac12", "frac14", "frac34", "gt",
    "iacute", "icirc", "iexcl", "igrave", "iquest", "iuml", "laquo", "lt", "macr", "micro",
    "middot", "nbsp", "not", "ntilde", "oacute", "ocirc", "ograve", "ordf", "ordm", "oslash",
    "otilde", "ouml", "para", "plusmn", "pound", "quot", "raquo", "reg", "sect", "shy", "sup1",
    "sup2", "sup3", "szlig", "thorn", "times", "uacute", "ucirc", "ugrave", "uml", "uuml",
    "yacute", "yen", "yuml",
];

/// Whether an HTML parser reading `text` as the content of an element would find
/// anything but text in it: a tag, an end tag, a comment, a doctype or a processing
/// instruction, or a character reference. Errs on the side of markup (`&foo;` counts,
/// though HTML knows no `foo`).
fn has_markup(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        let rest = &bytes[i + 1..];
        match b {
            b'<' => rest
                .first()
                .is_some_and(|&c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?')),
            b'&' => is_reference(rest),
            _ => false,
        }
    })
}

/// Whether the text after a `&` starts a character reference.
fn is_reference(rest: &[u8]) -> bool {
    if rest.first() == Some(&b'#') {
        return true;
    }
    let name = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if name > 0 && rest.get(name) == Some(&b';') {
        return true;
    }
    LEGACY_REFERENCES
        .iter()
        .any(|legacy| rest.starts_with(legacy.as_bytes()))
}

/// Bidi overrides disguise text; U+200B and U+FEFF are invisible (and HTML parsers drop a
/// leading U+FEFF, which would make sanitizing depend on position).
fn is_dropped(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}')
}

/// Text none of the steps would change: no controls, no markup or entities, no `:` or
/// `=` that a scheme or handler needs. Most values are like this.
fn is_plain(text: &str) -> bool {
    !text
        .chars()
        .any(|c| is_dropped(c) || matches!(c, '<' | '>' | '&' | ':' | '='))
}

fn strip_controls(input: &str) -> Cow<'_, str> {
    let drop = is_dropped;
    if !input.chars().any(drop) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        input
            .chars()
            .filter_map(|c| match c {
                '\t' | '\n' | '\r' => Some(' '),
                c if drop(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

#[cfg(feature = "sanitize-html")]
fn strip_markup(text: &str) -> Cow<'_, str> {
    if !text.contains(['<', '&', '>']) {
        return Cow::Borrowed(text);
    }
    let cleaned = ammonia::Builder::empty().clean(text).to_string();
    // ammonia serializes text nodes HTML-escaped; these are the entities it writes.
    Cow::Owned(
        cleaned
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&nbsp;", "\u{a0}")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

fn strip_scripts(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if !text.contains([':', '=']) {
        return out;
    }
    loop {
        let schemes_gone = match SCRIPT_SCHEME.replace_all(&out, "") {
            Cow::Borrowed(_) => None,
            Cow::Owned(changed) => Some(changed),
        };
        let current = schemes_gone.as_deref().unwrap_or(&out);
        let handlers_gone = match EVENT_HANDLER.replace_all(current, "") {
            Cow::Borrowed(_) => None,
            Cow::Owned(changed) => Some(changed),
        };
        match (schemes_gone, handlers_gone) {
            (None, None) => return out,
            (_, Some(next)) | (Some(next), None) => out = Cow::Owned(next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sanitize-html")]
    #[test]
    fn plain_text_is_untouched() {
        for s in [
            "platinum",
            "Tom & Jerry",
            "5 < 6 > 4",
            "REF-2024",
            "naïve café 日本語 🎉",
            "a=b",
        ] {
            assert_eq!(sanitize(s), s);
        }
    }

    #[cfg(feature = "sanitize-html")]
    #[test]
    fn tutorial_referral_code() {
        assert_eq!(
            sanitize("<script>alert('xss')</script>REF-2024"),
            "REF-2024"
        );
    }

    #[test]
    fn markup_is_what_a_parser_would_not_read_as_text() {
        for markup in [
            "<b>",
            "a</b>",
            "</ 3>",
            "<!-- x -->",
            "<!doctype html>",
            "<?xml?>",
            "<Script",
            "&lt;",
            "&#60;",
            "&#x3c;",
            "&foo;",
            "&notin",
            "&ampx",
            "&LT",
            "x&copy",
        ] {
            assert!(has_markup(markup), "{markup:?}");
        }
        for text in [
            "5 < 6 > 4",
            "Tom & Jerry <3",
            "AT&T",
            "R&D",
            "a <",
            "&",
            "<",
            "a&b c",
            "once=1",
            "x <= y",
            "<3 you",
            "&Amp",
        ] {
            assert!(!has_markup(text), "{text:?}");
        }
        assert_eq!(
            Markup::default() == Markup::Refuse,
            cfg!(not(feature = "sanitize-html"))
        );
    }

    #[test]
    fn refuse_cleans_controls_and_scripts_and_refuses_markup() {
        let refuse = |s: &str| clean(s, Markup::Refuse);
        assert_eq!(refuse("  gold\t\n").as_deref(), Some("gold"));
        assert_eq!(refuse("javascript:alert(1)").as_deref(), Some("alert(1)"));
        assert_eq!(refuse("Tom & Jerry <3").as_deref(), Some("Tom & Jerry <3"));
        assert_eq!(refuse("<b>gold</b>"), None);
        assert_eq!(refuse("&lt;script&gt;"), None);
        // A control character between `<` and a letter is dropped first.
        assert_eq!(refuse("<\u{0}b>x"), None);
    }
}
