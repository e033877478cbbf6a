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

/// The plain-text value of untrusted `input`:
///
/// 1. control characters dropped (tab, CR and LF become spaces), as are bidirectional
///    overrides that could disguise the text and invisible zero-width characters;
/// 2. markup removed by a real HTML parser (ammonia with no tags allowed; `<script>` and
///    `<style>` lose their content too), entities decoded back to text, repeated until
///    stable so that escaped markup (`&lt;script&gt;`) cannot survive as markup;
/// 3. `javascript:`-style schemes and `on…=` event handlers removed, until none is left;
/// 4. surrounding white space trimmed.
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
    use super::sanitize;

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

    #[test]
    fn tutorial_referral_code() {
        assert_eq!(
            sanitize("<script>alert('xss')</script>REF-2024"),
            "REF-2024"
        );
    }
}
