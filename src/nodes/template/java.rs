//! The Java behaviours a rendered template shows: how numbers print, how strings hash,
//! how Jackson writes JSON, how `NumberFormat` parses, and the escapers of
//! velocity-tools 2.0 (`EscapeTool`) and commons-lang 2.6 (`StringEscapeUtils`).

use std::fmt::Write as _;

/// `Double.toString(d)`: plain decimal for 10^-3 <= |d| < 10^7, otherwise computerized
/// scientific notation (`1.0E7`, `1.0E-4`); always at least one fraction digit.
///
/// The digits are the shortest that round-trip. JDK 8 to 18 sometimes print one digit
/// more (JDK-4511638); those doubles are a documented difference.
pub(crate) fn double_to_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e7", "-1e-4".
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    let abs = d.abs();
    if (1e-3..1e7).contains(&abs) {
        // Decimal point after (exp + 1) digits.
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            for _ in 0..(-point) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                for _ in digits.len()..point {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        // Java prints at least two significant digits here: when one digit is the
        // shortest form, the two-digit form nearest the value (`4.9E-324`, not `5.0E-324`).
        let (digits, exp) = if digits.len() == 1 {
            let two = format!("{:.1e}", abs);
            let (m, e) = two.split_once('e').unwrap_or((two.as_str(), "0"));
            (m.replace('.', ""), e.parse().unwrap_or(exp))
        } else {
            (digits, exp)
        };
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(&digits[1..]);
        let _ = write!(out, "E{exp}");
    }
    out
}

/// `String.hashCode()`: over UTF-16 code units, wrapping.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Jackson's compact writing of a string, quotes included: `"` `\` and control
/// characters escaped (`\b \t \n \f \r` short, others `\u00XX` upper-case), `/` and
/// non-ASCII as they are.
pub(crate) fn jackson_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `serde_json` value written the way Jackson writes it compactly (numbers as Java
/// prints them, `1.0E7`; object keys in the map's order).
pub(crate) fn jackson_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_text(n)),
        Value::String(s) => jackson_quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jackson_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jackson_quote(k, out);
                out.push(':');
                jackson_json(v, out);
            }
            out.push('}');
        }
    }
}

/// A JSON number as Jackson prints it: integers exactly, others as Java doubles.
pub(crate) fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        double_to_string(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// What `NumberFormat.getNumberInstance(Locale.US).parse(s)` returns: the longest
/// number at the start of `s` (`-`, digits with `,` grouping, `.` fraction, `E`
/// exponent), as a long when integral and in range, else a double; `None` when `s`
/// does not start with a number.
pub(crate) fn parse_number_prefix(s: &str) -> Option<ParsedNumber> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i += 1;
    }
    let mut mantissa = String::new();
    let mut any_digit = false;
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                mantissa.push(c as char);
                any_digit = true;
            }
            b',' if any_digit => {}
            _ => break,
        }
        i += 1;
    }
    let mut fraction = String::new();
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            fraction.push(b[j] as char);
            j += 1;
        }
        if any_digit || !fraction.is_empty() {
            any_digit = true;
            i = j;
        }
    }
    if !any_digit {
        return None;
    }
    let mut exponent = 0i32;
    if i < b.len() && b[i] == b'E' {
        let mut j = i + 1;
        let neg_exp = j < b.len() && b[j] == b'-';
        if neg_exp {
            j += 1;
        }
        let start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > start {
            let digits = &s[start..j];
            exponent = digits.parse::<i32>().unwrap_or(i32::MAX / 2);
            if neg_exp {
                exponent = -exponent;
            }
        }
    }
    let text = format!(
        "{}{}.{}e{}",
        if negative { "-" } else { "" },
        if mantissa.is_empty() { "0" } else { &mantissa },
        if fraction.is_empty() { "0" } else { &fraction },
        exponent
    );
    let value: f64 = text.parse().ok()?;
    if value == 0.0 && negative {
        return Some(ParsedNumber::Double(-0.0));
    }
    if value.fract() == 0.0 && value.abs() < 9.2e18 {
        // Integral: DecimalFormat answers a Long.
        return Some(ParsedNumber::Long(value as i64));
    }
    Some(ParsedNumber::Double(value))
}

/// A number parsed by [`parse_number_prefix`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ParsedNumber {
    Long(i64),
    Double(f64),
}

/// `java.net.URLEncoder.encode(s, "UTF-8")`: alphanumerics and `.-*_` kept, space as
/// `+`, every other UTF-8 byte as `%XX` (upper-case).
pub(crate) fn url_form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &byte in s.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// Percent-encoding of every UTF-8 byte but `A-Z a-z 0-9 - . _ ~` (RFC 3986 unreserved),
/// upper-case hex, space as `%20`: Genesys's `$esc.uriEncode`.
pub(crate) fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &byte in s.as_bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// Genesys's `$esc.jsonString`: `"` `\` and control characters escaped (`\n \r \t \b \f`
/// short, others `\u00XX`), everything else as it is.
pub(crate) fn json_string_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// commons-lang 2.6 `escapeJavaStyleString`: `escapeJava` (no flags) and
/// `escapeJavaScript` (single quote and `/` escaped too). Non-ASCII as `\uXXXX` per UTF-16
/// unit, upper-case hex.
pub(crate) fn escape_java_style(s: &str, javascript: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for unit in s.encode_utf16() {
        let ch = unit;
        if ch > 0x7f {
            let _ = write!(out, "\\u{ch:04X}");
        } else if ch < 32 {
            match ch {
                0x08 => out.push_str("\\b"),
                0x0a => out.push_str("\\n"),
                0x09 => out.push_str("\\t"),
                0x0c => out.push_str("\\f"),
                0x0d => out.push_str("\\r"),
                _ => {
                    let _ = write!(out, "\\u{ch:04X}");
                }
            }
        } else {
            let c = ch as u8 as char;
            match c {
                '\'' if javascript => out.push_str("\\'"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if javascript => out.push_str("\\/"),
                c => out.push(c),
            }
        }
    }
    out
}

/// commons-lang 2.6 `escapeHtml` (HTML 4.0 entities) or `escapeXml` (the five XML
/// entities); any other UTF-16 unit above 0x7F as `&#N;`.
pub(crate) fn escape_entities(s: &str, html: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for unit in s.encode_utf16() {
        let name = match unit {
            0x22 => Some("quot"),
            0x26 => Some("amp"),
            0x3c => Some("lt"),
            0x3e => Some("gt"),
            0x27 if !html => Some("apos"),
            u if html && u > 0x7f => html40_entity(u),
            _ => None,
        };
        match name {
            Some(name) => {
                out.push('&');
                out.push_str(name);
                out.push(';');
            }
            None if unit > 0x7f => {
                let _ = write!(out, "&#{unit};");
            }
            None => out.push(unit as u8 as char),
        }
    }
    out
}

/// velocity-tools 2.0 `EscapeTool.propertyKey`/`propertyValue` (`Properties` escaping):
/// `\t \n \f \r`, a backslash before `\ # ! = :` (and spaces in keys, or a leading space in
/// values), `\uxxxx` (lower-case) outside printable ASCII.
pub(crate) fn escape_property(s: &str, key: bool) -> String {
    let units: Vec<u16> = s.encode_utf16().collect();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    if !key && units.first() == Some(&0x20) {
        out.push_str("\\ ");
        i = 1;
    }
    while i < units.len() {
        let ch = units[i];
        match ch {
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0c => out.push_str("\\f"),
            0x0d => out.push_str("\\r"),
            _ => {
                let c = char::from_u32(u32::from(ch)).unwrap_or('\u{fffd}');
                if "\\#!=:".contains(c) || (key && ch == 0x20) {
                    out.push('\\');
                }
                if (0x20..=0x7e).contains(&ch) {
                    out.push(ch as u8 as char);
                } else {
                    let _ = write!(out, "\\u{ch:04x}");
                }
            }
        }
        i += 1;
    }
    out
}

/// The HTML 4.0 entity name of a UTF-16 unit above 0x7F (commons-lang 2.6
/// `Entities.HTML40`: ISO 8859-1 and the HTML 4.0 symbols and specials).
fn html40_entity(unit: u16) -> Option<&'static str> {
    if (0xa0..=0xff).contains(&unit) {
        return ISO8859_1.get(usize::from(unit - 0xa0)).copied();
    }
    HTML40_EXTENDED
        .iter()
        .find(|(code, _)| *code == unit)
        .map(|(_, name)| *name)
}

/// Names of U+00A0 to U+00FF, in order.
const ISO8859_1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// HTML 4.0 symbols, Greek letters and specials, as commons-lang 2.6 lists them (its
/// table lacks `nsub`).
const HTML40_EXTENDED: &[(u16, &str)] = &[
    (402, "fnof"),
    (913, "Alpha"),
    (914, "Beta"),
    (915, "Gamma"),
    (916, "Delta"),
    (917, "Epsilon"),
    (918, "Zeta"),
    (919, "Eta"),
    (920, "Theta"),
    (921, "Iota"),
    (922, "Kappa"),
    (923, "Lambda"),
    (924, "Mu"),
    (925, "Nu"),
    (926, "Xi"),
    (927, "Omicron"),
    (928, "Pi"),
    (929, "Rho"),
    (931, "Sigma"),
    (932, "Tau"),
    (933, "Upsilon"),
    (934, "Phi"),
    (935, "Chi"),
    (936, "Psi"),
    (937, "Omega"),
    (945, "alpha"),
    (946, "beta"),
    (947, "gamma"),
    (948, "delta"),
    (949, "epsilon"),
    (950, "zeta"),
    (951, "eta"),
    (952, "theta"),
    (953, "iota"),
    (954, "kappa"),
    (955, "lambda"),
    (956, "mu"),
    (957, "nu"),
    (958, "xi"),
    (959, "omicron"),
    (960, "pi"),
    (961, "rho"),
    (962, "sigmaf"),
    (963, "sigma"),
    (964, "tau"),
    (965, "upsilon"),
    (966, "phi"),
    (967, "chi"),
    (968, "psi"),
    (969, "omega"),
    (977, "thetasym"),
    (978, "upsih"),
    (982, "piv"),
    (8226, "bull"),
    (8230, "hellip"),
    (8242, "prime"),
    (8243, "Prime"),
    (8254, "oline"),
    (8260, "frasl"),
    (8472, "weierp"),
    (8465, "image"),
    (8476, "real"),
    (8482, "trade"),
    (8501, "alefsym"),
    (8592, "larr"),
    (8593, "uarr"),
    (8594, "rarr"),
    (8595, "darr"),
    (8596, "harr"),
    (8629, "crarr"),
    (8656, "lArr"),
    (8657, "uArr"),
    (8658, "rArr"),
    (8659, "dArr"),
    (8660, "hArr"),
    (8704, "forall"),
    (8706, "part"),
    (8707, "exist"),
    (8709, "empty"),
    (8711, "nabla"),
    (8712, "isin"),
    (8713, "notin"),
    (8715, "ni"),
    (8719, "prod"),
    (8721, "sum"),
    (8722, "minus"),
    (8727, "lowast"),
    (8730, "radic"),
    (8733, "prop"),
    (8734, "infin"),
    (8736, "ang"),
    (8743, "and"),
    (8744, "or"),
    (8745, "cap"),
    (8746, "cup"),
    (8747, "int"),
    (8756, "there4"),
    (8764, "sim"),
    (8773, "cong"),
    (8776, "asymp"),
    (8800, "ne"),
    (8801, "equiv"),
    (8804, "le"),
    (8805, "ge"),
    (8834, "sub"),
    (8835, "sup"),
    (8838, "sube"),
    (8839, "supe"),
    (8853, "oplus"),
    (8855, "otimes"),
    (8869, "perp"),
    (8901, "sdot"),
    (8968, "lceil"),
    (8969, "rceil"),
    (8970, "lfloor"),
    (8971, "rfloor"),
    (9001, "lang"),
    (9002, "rang"),
    (9674, "loz"),
    (9824, "spades"),
    (9827, "clubs"),
    (9829, "hearts"),
    (9830, "diams"),
    (338, "OElig"),
    (339, "oelig"),
    (352, "Scaron"),
    (353, "scaron"),
    (376, "Yuml"),
    (710, "circ"),
    (732, "tilde"),
    (8194, "ensp"),
    (8195, "emsp"),
    (8201, "thinsp"),
    (8204, "zwnj"),
    (8205, "zwj"),
    (8206, "lrm"),
    (8207, "rlm"),
    (8211, "ndash"),
    (8212, "mdash"),
    (8216, "lsquo"),
    (8217, "rsquo"),
    (8218, "sbquo"),
    (8220, "ldquo"),
    (8221, "rdquo"),
    (8222, "bdquo"),
    (8224, "dagger"),
    (8225, "Dagger"),
    (8240, "permil"),
    (8249, "lsaquo"),
    (8250, "rsaquo"),
    (8364, "euro"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        for (d, java) in [
            (2.0, "2.0"),
            (2.5, "2.5"),
            (1e-4, "1.0E-4"),
            (1e-3, "0.001"),
            (1e7, "1.0E7"),
            (12345678.9, "1.23456789E7"),
            (9999999.0, "9999999.0"),
            (1e21, "1.0E21"),
            (-0.0, "-0.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1998.9999999999998, "1998.9999999999998"),
            (15551234567.0, "1.5551234567E10"),
            (100.0, "100.0"),
            (-1.5e-5, "-1.5E-5"),
            (f64::NAN, "NaN"),
            (f64::from_bits(1), "4.9E-324"),
            (3e10, "3.0E10"),
        ] {
            assert_eq!(double_to_string(d), java, "{d}");
        }
    }

    #[test]
    fn number_format_parses_a_prefix() {
        assert_eq!(parse_number_prefix("42"), Some(ParsedNumber::Long(42)));
        assert_eq!(parse_number_prefix("4.0"), Some(ParsedNumber::Long(4)));
        assert_eq!(parse_number_prefix("4.5"), Some(ParsedNumber::Double(4.5)));
        assert_eq!(parse_number_prefix("1,000"), Some(ParsedNumber::Long(1000)));
        assert_eq!(parse_number_prefix("4abc"), Some(ParsedNumber::Long(4)));
        assert_eq!(parse_number_prefix("1e3"), Some(ParsedNumber::Long(1)));
        assert_eq!(parse_number_prefix("1E3"), Some(ParsedNumber::Long(1000)));
        assert_eq!(
            parse_number_prefix("-3.5e2"),
            Some(ParsedNumber::Double(-3.5))
        );
        assert_eq!(parse_number_prefix(" 4"), None);
        assert_eq!(parse_number_prefix(""), None);
        assert_eq!(parse_number_prefix("x"), None);
    }

    #[test]
    fn hashes_and_escapes() {
        assert_eq!(string_hash("42"), 1662);
        assert_eq!(url_form_encode("a b&c=d/é*~"), "a+b%26c%3Dd%2F%C3%A9*%7E");
        assert_eq!(uri_encode("a b/~"), "a%20b%2F~");
        assert_eq!(
            escape_entities("é☃😀<'", true),
            "&eacute;&#9731;&#55357;&#56832;&lt;'"
        );
        assert_eq!(escape_entities("é'", false), "&#233;&apos;");
        assert_eq!(escape_java_style("é/'\u{7}", true), "\\u00E9\\/\\'\\u0007");
        assert_eq!(escape_property(" a:b", false), "\\ a\\:b");
        let mut s = String::new();
        jackson_quote("a\u{1}\u{1f}\n/é", &mut s);
        assert_eq!(s, "\"a\\u0001\\u001F\\n/é\"");
    }
}
