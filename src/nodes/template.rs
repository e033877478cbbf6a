//! The subset of Velocity that Data Action templates use, parsed (not string-replaced)
//! and rendered with escaping that fits where each value lands.
//!
//! Supported:
//!
//! | syntax | meaning |
//! |---|---|
//! | `$input.x`, `${input.x}` | the value of input `x`; a missing value is an error naming it |
//! | `$!input.x`, `$!{input.x}` | quiet reference: a missing value renders empty (`null` outside a JSON string) |
//! | `$esc.jsonString(…)` | the value escaped for the inside of a JSON string |
//! | `$esc.url(…)`, `$esc.urlFormEncode(…)` | form-encoded (`+` for spaces) |
//! | `$esc.uriEncode(…)` | percent-encoded (`%20` for spaces) |
//! | `{{input.x}}` | the tutorial's placeholder form: an alias of `${input.x}` |
//! | `\$` | a literal `$` |
//!
//! A tool's argument is a reference, optionally in double quotes (`$esc.url("${input.x}")`).
//! Directives (`#if`, `#set`, `#foreach` ...) and other tools (`$math`, `$date` ...) are
//! refused with an error, so a template never renders differently here than expected.
//!
//! Values are escaped for their context: in a URL, percent-encoded as a path segment or a
//! query component (a value of `.` or `..` is refused in a path); in a header, refused if
//! it contains CR or LF; in a JSON body, JSON-escaped inside a string literal and inserted
//! as a JSON value outside one. A rendered JSON body must parse.

use std::collections::BTreeSet;
use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::validation::ValidationError;

/// Everything but unreserved characters: a value stays one path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// For query components and `uriEncode`: the same set, so `&`, `=`, `+` and `#` are encoded.
const COMPONENT: &AsciiSet = PATH_SEGMENT;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Ref(Reference),
    Tool(Tool, Reference),
}

/// A reference to a value: `root.path...`, e.g. `input.targetId`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    root: String,
    path: Vec<String>,
    quiet: bool,
}

impl Reference {
    /// The root name (`input`, `rawResult`, a translation-map name ...).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The first name after the root (`targetId` in `input.targetId`).
    pub fn field(&self) -> Option<&str> {
        self.path.first().map(String::as_str)
    }

    /// Whether a missing value renders empty instead of failing.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    fn name(&self) -> String {
        std::iter::once(self.root.as_str())
            .chain(self.path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn lookup<'v>(&self, vars: &'v dyn Vars) -> Option<&'v Value> {
        let mut value = vars.get(&self.root)?;
        for key in &self.path {
            value = value.get(key.as_str())?;
        }
        (!value.is_null()).then_some(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    JsonString,
    FormEncode,
    UriEncode,
}

/// The values a template's references resolve against, by root name.
pub trait Vars {
    /// The value of root `name` (`input`, `rawResult` ...).
    fn get(&self, name: &str) -> Option<&Value>;
}

impl Vars for serde_json::Map<String, Value> {
    fn get(&self, name: &str) -> Option<&Value> {
        serde_json::Map::get(self, name)
    }
}

/// A request's inputs: the root `input`.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a>(pub &'a Value);

impl Vars for Inputs<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        (name == "input").then_some(self.0)
    }
}

/// Where a rendered template goes, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A request URL.
    Url,
    /// A header value.
    Header,
    /// A JSON document (request body, success template).
    Json,
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template is malformed at `offset` (in bytes).
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// Values for these references were missing.
    Missing(Vec<String>),
    /// A header value would contain CR or LF (header injection).
    HeaderInjection(String),
    /// A value would become a `.` or `..` path segment.
    DotSegment(String),
    /// The rendered JSON does not parse.
    InvalidJson(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Syntax { offset, message } => write!(f, "at byte {offset}: {message}"),
            TemplateError::Missing(names) => write!(f, "missing values for {}", names.join(", ")),
            TemplateError::HeaderInjection(name) => {
                write!(
                    f,
                    "the value of `{name}` contains a line break, which is not allowed in a header"
                )
            }
            TemplateError::DotSegment(name) => {
                write!(
                    f,
                    "the value of `{name}` is `.` or `..`, which cannot be a URL path segment"
                )
            }
            TemplateError::InvalidJson(e) => write!(f, "the rendered body is not valid JSON: {e}"),
        }
    }
}

impl std::error::Error for TemplateError {}

impl TemplateError {
    /// This error as a [`ValidationError`] on `field`.
    pub fn into_validation(self, field: &str) -> ValidationError {
        let rule = match &self {
            TemplateError::Syntax { .. } => "template_syntax",
            TemplateError::Missing(_) => "missing_input",
            TemplateError::HeaderInjection(_) => "header_injection",
            TemplateError::DotSegment(_) => "dot_segment",
            TemplateError::InvalidJson(_) => "invalid_json",
        };
        ValidationError::single(field, rule, format!("{field}: {self}"))
    }
}

const DIRECTIVES: &[&str] = &[
    "set", "if", "elseif", "else", "end", "foreach", "macro", "parse", "include", "define",
    "break", "stop", "evaluate",
];

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn error<T>(&self, at: usize, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError::Syntax {
            offset: at,
            message: message.into(),
        })
    }

    /// `ident(.ident)*` at the cursor; advances past it.
    fn path(&mut self) -> Option<(String, Vec<String>)> {
        let mut names = Vec::new();
        loop {
            let rest = self.rest();
            if !rest.starts_with(is_ident_start) {
                break;
            }
            let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            names.push(rest[..len].to_owned());
            self.pos += len;
            let after = self.rest();
            if after.starts_with('.') && after[1..].starts_with(is_ident_start) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let mut names = names.into_iter();
        let root = names.next()?;
        Some((root, names.collect()))
    }

    /// A reference after its `$`: `!`? then `{path}` or `path`.
    fn reference(&mut self, start: usize) -> Result<Option<Reference>, TemplateError> {
        let quiet = self.rest().starts_with('!');
        if quiet {
            self.pos += 1;
        }
        if self.rest().starts_with('{') {
            self.pos += 1;
            let Some((root, path)) = self.path() else {
                return self.error(start, "expected a name after `${`, e.g. `${input.id}`");
            };
            if !self.rest().starts_with('}') {
                return self.error(start, "unclosed `${`: add `}` after the name");
            }
            self.pos += 1;
            return Ok(Some(Reference { root, path, quiet }));
        }
        match self.path() {
            Some((root, path)) => Ok(Some(Reference { root, path, quiet })),
            None if quiet => self.error(start, "expected a name after `$!`"),
            None => Ok(None),
        }
    }

    /// A tool argument: a reference, optionally in double quotes.
    fn argument(&mut self, start: usize) -> Result<Reference, TemplateError> {
        let quoted = self.rest().starts_with('"');
        if quoted {
            self.pos += 1;
        }
        if !self.rest().starts_with('$') {
            return self.error(
                start,
                "a tool's argument must be a reference such as `$input.x`",
            );
        }
        self.pos += 1;
        let Some(reference) = self.reference(start)? else {
            return self.error(
                start,
                "a tool's argument must be a reference such as `$input.x`",
            );
        };
        if quoted {
            if !self.rest().starts_with('"') {
                return self.error(start, "unclosed `\"` in a tool's argument");
            }
            self.pos += 1;
        }
        if !self.rest().starts_with(')') {
            return self.error(start, "unclosed `(`: a tool takes one argument, then `)`");
        }
        self.pos += 1;
        Ok(reference)
    }
}

impl Template {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut p = Parser {
            src: source,
            pos: 0,
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        let flush = |text: &mut String, parts: &mut Vec<Part>| {
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(text)));
            }
        };
        while let Some(c) = p.rest().chars().next() {
            let start = p.pos;
            if p.rest().starts_with("\\$") {
                text.push('$');
                p.pos += 2;
                continue;
            }
            if p.rest().starts_with("{{") {
                if let Some(reference) = alias(&mut p)? {
                    flush(&mut text, &mut parts);
                    parts.push(Part::Ref(reference));
                    continue;
                }
            }
            if c == '#' {
                let rest = &p.rest()[1..];
                let rest = rest.strip_prefix('{').unwrap_or(rest);
                let word: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
                if DIRECTIVES.contains(&word.as_str()) {
                    return p.error(start, format!("the directive `#{word}` is not supported; compute the value before calling the action"));
                }
            }
            if c != '$' {
                text.push(c);
                p.pos += c.len_utf8();
                continue;
            }
            p.pos += 1;
            let Some(reference) = p.reference(start)? else {
                text.push('$');
                continue;
            };
            if p.rest().starts_with('(') {
                p.pos += 1;
                let tool = match (reference.root.as_str(), reference.path.as_slice()) {
                    ("esc", [m]) if m == "jsonString" => Tool::JsonString,
                    ("esc", [m]) if m == "url" || m == "urlFormEncode" => Tool::FormEncode,
                    ("esc", [m]) if m == "uriEncode" => Tool::UriEncode,
                    _ => {
                        return p.error(
                            start,
                            format!(
                                "unknown macro `${}`: supported are $esc.jsonString, $esc.url, $esc.urlFormEncode and $esc.uriEncode",
                                reference.name()
                            ),
                        )
                    }
                };
                let argument = p.argument(start)?;
                flush(&mut text, &mut parts);
                parts.push(Part::Tool(tool, argument));
                continue;
            }
            if matches!(
                reference.root.as_str(),
                "esc" | "math" | "date" | "encoding" | "successTemplateUtils" | "urlTool"
            ) {
                return p.error(
                    start,
                    format!(
                        "unknown macro `${}`: tools must be called, and only $esc is supported",
                        reference.name()
                    ),
                );
            }
            flush(&mut text, &mut parts);
            parts.push(Part::Ref(reference));
        }
        flush(&mut text, &mut parts);
        Ok(Template { parts })
    }

    /// Every reference in the template, tool arguments included.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) | Part::Tool(_, r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// The template with each reference replaced by `placeholder`, for checking the shape
    /// of the literal parts (e.g. that a URL template is an absolute URL).
    pub(crate) fn skeleton(&self, placeholder: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                _ => placeholder,
            })
            .collect()
    }

    /// Renders with values from `vars` (root name → value) for `context`.
    pub fn render(&self, vars: &dyn Vars, context: Context) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut missing = BTreeSet::new();
        let mut state = Lexical::default();
        for part in &self.parts {
            match part {
                Part::Text(text) => {
                    state.advance(text, context);
                    out.push_str(text);
                }
                Part::Ref(reference) => match reference.lookup(vars) {
                    Some(value) => out.push_str(&insert(value, reference, &state, context)?),
                    None if reference.quiet => {
                        if context == Context::Json && !state.in_string {
                            out.push_str("null");
                        }
                    }
                    None => {
                        missing.insert(reference.name());
                    }
                },
                Part::Tool(tool, reference) => match reference.lookup(vars) {
                    Some(value) => {
                        let text = plain_text(value);
                        out.push_str(&match tool {
                            Tool::JsonString => json_escape(&text),
                            Tool::FormEncode => form_encode(&text),
                            Tool::UriEncode => utf8_percent_encode(&text, COMPONENT).to_string(),
                        });
                    }
                    None if reference.quiet => {}
                    None => {
                        missing.insert(reference.name());
                    }
                },
            }
        }
        if !missing.is_empty() {
            return Err(TemplateError::Missing(missing.into_iter().collect()));
        }
        match context {
            Context::Header if out.contains(['\r', '\n']) => {
                Err(TemplateError::HeaderInjection("the header".into()))
            }
            Context::Json => match serde_json::from_str::<serde::de::IgnoredAny>(&out) {
                Ok(_) => Ok(out),
                Err(e) => Err(TemplateError::InvalidJson(e.to_string())),
            },
            _ => Ok(out),
        }
    }
}

/// `{{ input.x }}`, the tutorial's form; `None` (and the cursor unmoved) when the braces do
/// not hold an `input` reference, so other `{{` text stays literal.
fn alias(p: &mut Parser<'_>) -> Result<Option<Reference>, TemplateError> {
    let start = p.pos;
    let inner_start = start + 2;
    let Some(end) = p.src[inner_start..].find("}}") else {
        if p.src[inner_start..].trim_start().starts_with("input.") {
            return p.error(start, "unclosed `{{`: add `}}` after the name");
        }
        return Ok(None);
    };
    let inner = p.src[inner_start..inner_start + end].trim();
    let mut names = inner.split('.');
    let valid = inner.starts_with("input.")
        && names.all(|n| n.starts_with(is_ident_start) && n.chars().all(is_ident));
    if !valid {
        return Ok(None);
    }
    let mut names = inner.split('.').map(str::to_owned);
    let root = names.next().unwrap_or_default();
    p.pos = inner_start + end + 2;
    Ok(Some(Reference {
        root,
        path: names.collect(),
        quiet: false,
    }))
}

/// Where the literal text so far has left the output: inside a JSON string? which part
/// of a URL?
#[derive(Default)]
struct Lexical {
    in_string: bool,
    escaped: bool,
    url_part: UrlPart,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum UrlPart {
    #[default]
    Path,
    Query,
    Fragment,
}

impl Lexical {
    fn advance(&mut self, text: &str, context: Context) {
        for c in text.chars() {
            match context {
                Context::Json => {
                    if self.escaped {
                        self.escaped = false;
                    } else if self.in_string && c == '\\' {
                        self.escaped = true;
                    } else if c == '"' {
                        self.in_string = !self.in_string;
                    }
                }
                Context::Url => match (self.url_part, c) {
                    (UrlPart::Path, '?') => self.url_part = UrlPart::Query,
                    (UrlPart::Path | UrlPart::Query, '#') => self.url_part = UrlPart::Fragment,
                    _ => {}
                },
                Context::Header => {}
            }
        }
    }
}

/// A value as text: strings as they are, other values as JSON.
fn plain_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_escape(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn insert(
    value: &Value,
    reference: &Reference,
    state: &Lexical,
    context: Context,
) -> Result<String, TemplateError> {
    match context {
        Context::Json if state.in_string => Ok(json_escape(&plain_text(value))),
        Context::Json => Ok(value.to_string()),
        Context::Header => {
            let text = plain_text(value);
            if text.contains(['\r', '\n']) {
                return Err(TemplateError::HeaderInjection(reference.name()));
            }
            Ok(text)
        }
        Context::Url => {
            let text = plain_text(value);
            match state.url_part {
                UrlPart::Path if text == "." || text == ".." => {
                    Err(TemplateError::DotSegment(reference.name()))
                }
                UrlPart::Path => Ok(utf8_percent_encode(&text, PATH_SEGMENT).to_string()),
                UrlPart::Query | UrlPart::Fragment => {
                    Ok(utf8_percent_encode(&text, COMPONENT).to_string())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, input: Value, context: Context) -> Result<String, TemplateError> {
        Template::parse(template)?.render(&Inputs(&input), context)
    }

    #[test]
    fn forms_of_reference() {
        let input = json!({"id": "42", "n": 3});
        for t in [
            "${input.id}",
            "$input.id",
            "$!{input.id}",
            "$!input.id",
            "{{input.id}}",
            "{{ input.id }}",
        ] {
            assert_eq!(
                render(t, input.clone(), Context::Header).unwrap(),
                "42",
                "{t}"
            );
        }
        assert_eq!(
            render("a$input.id.", input.clone(), Context::Header).unwrap(),
            "a42."
        );
        assert_eq!(
            render("cost: \\$5 and $5", input, Context::Header).unwrap(),
            "cost: $5 and $5"
        );
    }
}
