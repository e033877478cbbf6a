//! Rust names for the description's names, and doc text rustdoc takes as written.

/// Rust keywords (strict and reserved, all editions) that need `r#` or a rename.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Whether `name` is a Rust keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// `name` as a Rust identifier: `r#type`, `self_`, `n3d` for a leading digit.
pub fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if is_keyword(name) {
        format!("r#{name}")
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{name}")
    } else {
        name.to_owned()
    }
}

/// The identifier without a `r#` prefix (what serde sees).
pub fn unraw(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// `snake_case` of any name: `issuerURI` → `issuer_uri`, `service-area` → `service_area`,
/// `$schema` → `schema`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("field");
    }
    out
}

/// `PascalCase` of a `snake_case` or other name: `get_routing_queue` → `GetRoutingQueue`.
pub fn pascal_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in snake_case(name).split('_').filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out
}

/// The Rust field name for a model field: the SDK's Python name, except its keyword
/// escapes (`pcFrom`), which go back to the JSON name.
pub fn field_name(python: &str, json: &str) -> String {
    let escaped = python.len() > 2
        && python.starts_with("pc")
        && python[2..].starts_with(|c: char| c.is_ascii_uppercase());
    let base = if escaped || !is_snake(python) {
        snake_case(json)
    } else {
        python.to_owned()
    };
    ident(&base)
}

fn is_snake(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// An enum variant for an allowed value: `in_progress` → `InProgress`, `2` → `V2`,
/// `""` → `Empty`.
pub fn variant_name(value: &str) -> String {
    let words: Vec<&str> = value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = String::new();
    for word in words {
        // Words in one case are capitalised; mixed-case words keep their humps.
        let mixed = word.chars().any(|c| c.is_ascii_lowercase())
            && word.chars().any(|c| c.is_ascii_uppercase());
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            if mixed {
                out.extend(chars);
            } else {
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            }
        }
    }
    if out.is_empty() {
        return "Empty".to_owned();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if NOT_RAW.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// Doc comment lines (`/// ...`, indented by `indent`) for free text from the SDK, so
/// that rustdoc shows it as written: markdown and HTML characters escaped, URLs made
/// links, no indentation (which would start a code block and a doctest).
pub fn doc_lines(text: &str, indent: &str) -> String {
    let mut out = String::new();
    for line in doc_paragraph(text) {
        out.push_str(indent);
        if line.is_empty() {
            out.push_str("///\n");
        } else {
            out.push_str("/// ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The escaped lines of `text` (empty lines kept between paragraphs, none at the ends).
pub fn doc_paragraph(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = escape_markdown(raw.trim());
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Escapes one line of free text for rustdoc's markdown.
pub fn escape_markdown(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(at) = find_url(rest) {
            escape_plain(&rest[..at], &mut out);
            let url_len = rest[at..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ']')
                })
                .unwrap_or(rest.len() - at);
            let mut url = &rest[at..at + url_len];
            while url.ends_with(['.', ',', ';', ':', '!', '?']) {
                url = &url[..url.len() - 1];
            }
            if url.len() > "https://".len() {
                out.push('<');
                out.push_str(url);
                out.push('>');
            } else {
                escape_plain(url, &mut out);
            }
            rest = &rest[at + url.len()..];
        } else {
            escape_plain(rest, &mut out);
            break;
        }
    }
    out
}

fn find_url(s: &str) -> Option<usize> {
    match (s.find("https://"), s.find("http://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn escape_plain(s: &str, out: &mut String) {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' if out.is_empty() => out.push_str("\\#"),
            '_' => {
                let inner = i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                if !inner {
                    out.push('\\');
                }
                out.push('_');
            }
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

/// A Rust string literal for `s`.
pub fn str_lit(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_acronyms_and_symbols() {
        assert_eq!(snake_case("issuerURI"), "issuer_uri");
        assert_eq!(snake_case("selfUri"), "self_uri");
        assert_eq!(snake_case("service-area"), "service_area");
        assert_eq!(snake_case("$schema"), "schema");
        assert_eq!(snake_case("ADFSConfig"), "adfs_config");
        assert_eq!(snake_case("page2Size"), "page2_size");
        assert_eq!(snake_case("---"), "field");
    }

    #[test]
    fn pascal_case_of_operation_and_group_names() {
        assert_eq!(pascal_case("get_routing_queue"), "GetRoutingQueue");
        assert_eq!(pascal_case("workforce_management"), "WorkforceManagement");
        assert_eq!(pascal_case("o_auth"), "OAuth");
        assert_eq!(
            pascal_case("skillEvaluationMethod"),
            "SkillEvaluationMethod"
        );
    }

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(ident("type"), "r#type");
        assert_eq!(ident("self"), "self_");
        assert_eq!(ident("match"), "r#match");
        assert_eq!(ident("queue"), "queue");
        assert_eq!(ident("3d"), "n3d");
    }

    #[test]
    fn field_names_undo_the_python_escapes() {
        assert_eq!(field_name("pcFrom", "from"), "from");
        assert_eq!(field_name("pcSelf", "self"), "self_");
        assert_eq!(field_name("pcIn", "in"), "r#in");
        assert_eq!(field_name("date_created", "dateCreated"), "date_created");
        assert_eq!(field_name("pci", "pci"), "pci");
        assert_eq!(field_name("type", "type"), "r#type");
    }

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("IN_PROGRESS"), "InProgress");
        assert_eq!(variant_name("inProgress"), "InProgress");
        assert_eq!(variant_name("in-progress"), "InProgress");
        assert_eq!(variant_name("2"), "V2");
        assert_eq!(variant_name(""), "Empty");
        assert_eq!(variant_name("self"), "Self_");
        assert_eq!(variant_name("application/json"), "ApplicationJson");
    }

    #[test]
    fn docs_escape_markdown_and_link_urls() {
        assert_eq!(
            escape_markdown("yyyy-MM-ddTHH:mm:ss[.mmm]Z, see https://developer.genesys.cloud."),
            "yyyy-MM-ddTHH:mm:ss\\[.mmm\\]Z, see <https://developer.genesys.cloud>."
        );
        assert_eq!(
            escape_markdown("<b>a*b</b> snake_case _x_"),
            "\\<b\\>a\\*b\\</b\\> snake_case \\_x\\_"
        );
        assert_eq!(escape_markdown("# not a heading"), "\\# not a heading");
        assert_eq!(escape_markdown("a & b"), "a &amp; b");
        let lines = doc_lines("first\n\n\n    indented code?\n", "    ");
        assert_eq!(lines, "    /// first\n    ///\n    /// indented code?\n");
    }
}
