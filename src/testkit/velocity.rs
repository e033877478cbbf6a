//! The fake's renderer for Data Action templates: a small subset of Velocity of its own,
//! written from what Genesys documents for Data Actions, never from the crate's engine
//! (`genesys_cloud::nodes::template`), so that the fake can catch a misread rule there.
//!
//! Sources, cited below by key:
//!
//! - [V1] "Velocity macros for data actions",
//!   <https://help.mypurecloud.com/articles/velocity-macros-data-actions/>
//! - [V2] "Request configuration for data actions",
//!   <https://help.mypurecloud.com/articles/request-configuration-data-actions/>
//! - [V3] "URI (URL) form encoding for data actions", <https://help.mypurecloud.com/?p=296518>
//! - [V5] "Response configuration for data actions",
//!   <https://help.mypurecloud.com/articles/response-configuration-data-actions/>
//! - [X] the Genesys-owned exports in `tests/velocity-oracle/actions/` (`SOURCES.md` names
//!   each repository, path and commit), which show how the tools are used.
//!
//! The subset:
//!
//! - references: `$a.b`, `${a.b}` and the silent `$!a.b`, `$!{a.b}`. "If the variable is
//!   null, formal notation outputs the variable name ... the silent notation outputs an
//!   empty string" [V1]: an unbound reference renders as written (as `$Input.x`, or
//!   `${credentials.x}`, since the fake has no integration credentials), or as nothing;
//! - in request templates (URL, headers, body): `input.<name>`, the execute body's
//!   property (a JSON `null` is unbound), and `input.rawRequest`, the whole input as
//!   compact JSON (the default body template is `${input.rawRequest}` [V2]);
//! - in the success template: each translation map name, its value as JSON text ("Items
//!   within `${}` are references to values from the translation map" [V5]; Genesys's
//!   exports insert them unquoted [X]), and `rawResult`, the answer's text [X];
//! - `$esc.jsonString(s)`, "to escape strings inside JSON bodies" [V1]: `"`, `\` and control
//!   characters (the exact set is undocumented);
//! - `$esc.url(s)`, "Alias for the $esc.urlFormEncode", and `$esc.urlFormEncode(s)`,
//!   where "the spaces are encoded as "+"" [V1]: Java's `URLEncoder` form encoding;
//! - `$esc.uriEncode(s)`, "around values or variables that contain any URL reserved
//!   characters" [V3]: every byte but `A-Z a-z 0-9 - . _ ~` percent-encoded;
//! - `$esc.quote`, a `"` (Genesys's exports pass `"$esc.quote$esc.quote"` as an empty
//!   string default [X]);
//! - `$encoding.base64(s)` ([V3]'s Basic-credentials example);
//! - `$successTemplateUtils.firstFromArray(json[, default])`: the first element of a JSON
//!   array as JSON text, or the default for an empty one (by Genesys's use [X]);
//! - call arguments: references and string literals (`"..."` renders the references in
//!   it, `'...'` is taken as written).
//!
//! Everything else, though Velocity or Genesys has it (`#if`/`#set`/`#foreach` and other
//! directives, comments, `\$` escapes, `$math`, `$urlTool`, `$esc.jsonEncode`, Java
//! string methods, numbers Java prints in scientific notation ...), is a
//! [`TemplateError::Unsupported`] naming the construct: the fake answers with an error
//! rather than guess.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use serde_json::{Map, Value};

/// Deepest nesting of calls and string literals the renderer follows.
const MAX_DEPTH: usize = 16;

/// Tools Genesys documents [V1] that the subset has only in part, or not at all: their
/// other members are refused by name rather than rendered as unbound references.
const TOOLS: &[&str] = &[
    "esc",
    "encoding",
    "successTemplateUtils",
    "math",
    "urlTool",
    "salesforce",
];

/// The tool calls of the subset.
const CALLS: &[&str] = &[
    "esc.jsonString",
    "esc.url",
    "esc.urlFormEncode",
    "esc.uriEncode",
    "encoding.base64",
    "successTemplateUtils.firstFromArray",
];

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// A construct outside the fake's subset (named).
    Unsupported(String),
    /// The template is not well formed.
    Syntax(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Unsupported(what) => write!(f, "the fake does not support {what}"),
            TemplateError::Syntax(what) => write!(f, "the template is not well formed: {what}"),
        }
    }
}

/// What a template can see.
pub(crate) struct Context<'a> {
    /// The execute body (request templates only).
    input: Option<&'a Map<String, Value>>,
    /// Translation values as JSON text (success template only).
    translations: Option<&'a BTreeMap<String, String>>,
    /// The answer's text (success template only).
    raw_result: Option<&'a str>,
}

impl<'a> Context<'a> {
    /// For `requestUrlTemplate`, `headers` and `requestTemplate`.
    pub(crate) fn request(input: &'a Map<String, Value>) -> Self {
        Context {
            input: Some(input),
            translations: None,
            raw_result: None,
        }
    }

    /// For `successTemplate`.
    pub(crate) fn success(translations: &'a BTreeMap<String, String>, raw_result: &'a str) -> Self {
        Context {
            input: None,
            translations: Some(translations),
            raw_result: Some(raw_result),
        }
    }
}

/// Renders `template` with what `context` binds.
pub(crate) fn render(template: &str, context: &Context<'_>) -> Result<String, TemplateError> {
    Renderer {
        src: template,
        pos: 0,
        context,
        depth: 0,
    }
    .text()
}

/// A value while rendering: unbound (renders as written, or as nothing when silent), or text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Unbound,
    Text(String),
}

/// A reference read from the template.
struct Reference<'s> {
    /// As written, `$` to the end.
    source: &'s str,
    silent: bool,
    value: Val,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Velocity 1.7's identifier characters (a `-` continues one).
fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

struct Renderer<'s, 'c> {
    src: &'s str,
    pos: usize,
    context: &'c Context<'c>,
    depth: usize,
}

impl<'s> Renderer<'s, '_> {
    fn peek(&self) -> Option<u8> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + ahead).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The whole template (or string literal) rendered.
    fn text(&mut self) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(self.src.len());
        while let Some(b) = self.peek() {
            match b {
                b'$' => {
                    let start = self.pos;
                    match self.reference()? {
                        Some(r) => match r.value {
                            Val::Text(text) => out.push_str(&text),
                            Val::Unbound if r.silent => {}
                            Val::Unbound => out.push_str(r.source),
                        },
                        None => out.push_str(&self.src[start..self.pos]),
                    }
                }
                b'#' => match self.peek_at(1) {
                    // Velocity 1.7 refuses a template ending in `#`.
                    None => return Err(TemplateError::Syntax("a `#` at the end".into())),
                    Some(c) if is_ident_start(c) || matches!(c, b'{' | b'#' | b'*' | b'[') => {
                        return Err(TemplateError::Unsupported(format!(
                            "Velocity directives or comments (`{}`)",
                            self.directive()
                        )))
                    }
                    Some(_) => {
                        out.push('#');
                        self.pos += 1;
                    }
                },
                b'\\' if matches!(self.peek_at(1), Some(b'$' | b'#')) => {
                    return Err(TemplateError::Unsupported(
                        "escaped references (`\\$`, `\\#`)".into(),
                    ))
                }
                _ => {
                    // Plain text up to the next `$`, `#` or `\`: all ASCII, so the slice
                    // ends on a character boundary.
                    let start = self.pos;
                    self.pos += 1;
                    while self
                        .peek()
                        .is_some_and(|c| !matches!(c, b'$' | b'#' | b'\\'))
                    {
                        self.pos += 1;
                    }
                    out.push_str(&self.src[start..self.pos]);
                }
            }
        }
        Ok(out)
    }

    /// The directive at `#` as written (`#if`, `##`, `#*` ...), for messages.
    fn directive(&self) -> &'s str {
        let rest = &self.src[self.pos..];
        let name = rest[1..].bytes().take_while(|&b| is_ident(b)).count();
        if name > 0 {
            &rest[..=name]
        } else {
            &rest[..2]
        }
    }

    /// A reference at `$`; `None` (having consumed the text) where the `$` starts none.
    fn reference(&mut self) -> Result<Option<Reference<'s>>, TemplateError> {
        let start = self.pos;
        self.pos += 1;
        let silent = self.eat(b'!');
        let formal = self.eat(b'{');
        if !self.peek().is_some_and(is_ident_start) {
            if self.peek().is_none() && !formal {
                // Velocity 1.7 refuses a template ending in `$` or `$!`.
                return Err(TemplateError::Syntax("a `$` at the end".into()));
            }
            return Ok(None);
        }
        let mut names = vec![self.ident()];
        while self.peek() == Some(b'.') && self.peek_at(1).is_some_and(is_ident_start) {
            self.pos += 1;
            names.push(self.ident());
        }
        // A call needs a target: `$name(` is a reference followed by text, as in Velocity.
        let args = if names.len() > 1 && self.peek() == Some(b'(') {
            let path = names.join(".");
            if TOOLS.contains(&names[0]) && !CALLS.contains(&path.as_str()) {
                return Err(TemplateError::Unsupported(format!("`${path}`")));
            }
            let args = self.arguments()?;
            let chained = self.peek() == Some(b'(')
                || (self.peek() == Some(b'.') && self.peek_at(1).is_some_and(is_ident_start));
            if chained {
                return Err(TemplateError::Unsupported(format!(
                    "calls on the result of a call (`{}...`)",
                    &self.src[start..self.pos]
                )));
            }
            Some(args)
        } else {
            None
        };
        if formal && !self.eat(b'}') {
            return Err(TemplateError::Syntax(format!(
                "`{}` has no closing `}}`",
                &self.src[start..self.pos]
            )));
        }
        let value = match args {
            None => self.lookup(&names)?,
            Some(args) => self.call(&names, &args)?,
        };
        Ok(Some(Reference {
            source: &self.src[start..self.pos],
            silent,
            value,
        }))
    }

    fn ident(&mut self) -> &'s str {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// `( arg, ... )`, at `(`.
    fn arguments(&mut self) -> Result<Vec<Val>, TemplateError> {
        let unclosed = || TemplateError::Syntax("a call without its closing `)`".into());
        self.enter()?;
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.eat(b')') {
            self.depth -= 1;
            return Ok(args);
        }
        loop {
            self.skip_spaces();
            let arg = match self.peek() {
                Some(b'$') => match self.reference()? {
                    Some(r) => r.value,
                    None => return Err(TemplateError::Syntax("a `$` that is no reference".into())),
                },
                Some(quote @ (b'"' | b'\'')) => Val::Text(self.string_literal(quote)?),
                None => return Err(unclosed()),
                Some(_) => {
                    return Err(TemplateError::Unsupported(
                        "call arguments other than references and string literals".into(),
                    ))
                }
            };
            args.push(arg);
            self.skip_spaces();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(unclosed()),
                Some(_) => {
                    return Err(TemplateError::Syntax(
                        "call arguments are separated by `,`".into(),
                    ))
                }
            }
        }
        self.depth -= 1;
        Ok(args)
    }

    fn enter(&mut self) -> Result<(), TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(TemplateError::Unsupported(format!(
                "calls and string literals nested more than {MAX_DEPTH} deep"
            )));
        }
        Ok(())
    }

    /// A string literal at its opening quote: `"..."` rendered, `'...'` as written
    /// (`''` is a quote).
    fn string_literal(&mut self, quote: u8) -> Result<String, TemplateError> {
        let start = self.pos + 1;
        let bytes = self.src.as_bytes();
        let mut end = start;
        loop {
            match bytes.get(end) {
                None => {
                    return Err(TemplateError::Syntax(
                        "a string literal without its closing quote".into(),
                    ))
                }
                Some(&b) if b == quote => {
                    if quote == b'\'' && bytes.get(end + 1) == Some(&b'\'') {
                        end += 2;
                        continue;
                    }
                    break;
                }
                Some(_) => end += 1,
            }
        }
        let content = &self.src[start..end];
        self.pos = end + 1;
        if quote == b'\'' {
            return Ok(content.replace("''", "'"));
        }
        self.enter()?;
        let rendered = Renderer {
            src: content,
            pos: 0,
            context: self.context,
            depth: self.depth,
        }
        .text();
        self.depth -= 1;
        rendered
    }

    /// The value of a reference without a call.
    fn lookup(&self, names: &[&str]) -> Result<Val, TemplateError> {
        let unsupported = |what: String| Err(TemplateError::Unsupported(what));
        let context = self.context;
        match names {
            ["input", rest @ ..] => {
                let Some(input) = context.input else {
                    return unsupported(
                        "`$input` in the success template (no source says it is bound there)"
                            .into(),
                    );
                };
                match rest {
                    [] => unsupported("the whole `$input` object".into()),
                    ["rawRequest"] => Ok(Val::Text(Value::Object(input.clone()).to_string())),
                    [name] => scalar(input.get(*name)),
                    [name, ..] => match scalar(input.get(*name))? {
                        Val::Unbound => Ok(Val::Unbound),
                        Val::Text(_) => unsupported(format!(
                            "properties of input values (`$input.{}`)",
                            rest.join(".")
                        )),
                    },
                }
            }
            ["rawResult", rest @ ..] if context.raw_result.is_some() => match rest {
                [] => Ok(Val::Text(context.raw_result.unwrap_or_default().to_owned())),
                _ => unsupported("properties of `$rawResult`".into()),
            },
            [name, rest @ ..] if context.translations.is_some_and(|t| t.contains_key(*name)) => {
                match (rest, context.translations.and_then(|t| t.get(*name))) {
                    ([], Some(text)) => Ok(Val::Text(text.clone())),
                    _ => unsupported(format!(
                        "properties of translation values (`${}`)",
                        names.join(".")
                    )),
                }
            }
            ["esc", "quote"] => Ok(Val::Text("\"".into())),
            [tool, ..] if TOOLS.contains(tool) => unsupported(format!("`${}`", names.join("."))),
            _ => Ok(Val::Unbound),
        }
    }

    /// The value of a reference ending in a call.
    fn call(&self, names: &[&str], args: &[Val]) -> Result<Val, TemplateError> {
        let path = names.join(".");
        match (path.as_str(), args) {
            ("esc.jsonString", [s]) => Ok(map_text(s, json_string)),
            ("esc.url" | "esc.urlFormEncode", [s]) => Ok(map_text(s, form_encode)),
            ("esc.uriEncode", [s]) => Ok(map_text(s, uri_encode)),
            ("encoding.base64", [s]) => Ok(map_text(s, |s| {
                base64::engine::general_purpose::STANDARD.encode(s)
            })),
            ("successTemplateUtils.firstFromArray", [array]) => first_from_array(array, None),
            ("successTemplateUtils.firstFromArray", [array, default]) => {
                first_from_array(array, Some(default))
            }
            _ if TOOLS.contains(&names[0]) => Err(TemplateError::Unsupported(format!(
                "`${path}` with {} argument(s)",
                args.len()
            ))),
            _ => {
                // `reference` only reads a call after at least two names.
                let (method, target) = names.split_last().unwrap_or((&"", &[]));
                match self.lookup(target)? {
                    // A call on an unbound reference renders as written, as Velocity does.
                    Val::Unbound => Ok(Val::Unbound),
                    Val::Text(_) => Err(TemplateError::Unsupported(format!(
                        "method calls on values (`.{method}(...)`)"
                    ))),
                }
            }
        }
    }
}

/// An input value as a template writes it.
fn scalar(value: Option<&Value>) -> Result<Val, TemplateError> {
    Ok(match value {
        None | Some(Value::Null) => Val::Unbound,
        Some(Value::String(s)) => Val::Text(s.clone()),
        Some(Value::Bool(b)) => Val::Text(b.to_string()),
        Some(Value::Number(n)) => Val::Text(number(n)?),
        Some(Value::Array(_) | Value::Object(_)) => {
            return Err(TemplateError::Unsupported(
                "input values that are objects or arrays (input contracts allow neither)".into(),
            ))
        }
    })
}

/// A number as Java prints it: integers as they are, a double with at least one decimal
/// (`2.0`). Where Java switches to scientific notation (below 10^-3, from 10^7), the fake
/// refuses instead.
fn number(n: &serde_json::Number) -> Result<String, TemplateError> {
    if n.is_i64() || n.is_u64() {
        return Ok(n.to_string());
    }
    let value = n.as_f64().unwrap_or(f64::NAN);
    let magnitude = value.abs();
    if value == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = value.to_string();
        return Ok(if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        });
    }
    Err(TemplateError::Unsupported(format!(
        "numbers Java prints in scientific notation ({n})"
    )))
}

fn map_text(value: &Val, f: impl Fn(&str) -> String) -> Val {
    match value {
        Val::Unbound => Val::Unbound,
        Val::Text(text) => Val::Text(f(text)),
    }
}

/// The characters a JSON string must escape (RFC 8259 §7).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// `application/x-www-form-urlencoded` as Java's `URLEncoder` writes it (UTF-8): letters,
/// digits and `.-*_` kept, space as `+`, every other byte `%XX`.
fn form_encode(s: &str) -> String {
    percent(
        s,
        |b| b.is_ascii_alphanumeric() || b".-*_".contains(&b),
        true,
    )
}

/// Every byte but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
fn uri_encode(s: &str) -> String {
    percent(
        s,
        |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b),
        false,
    )
}

fn percent(s: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `successTemplateUtils.firstFromArray`: the first element of a JSON array as JSON text;
/// for an empty array, the default as written.
fn first_from_array(array: &Val, default: Option<&Val>) -> Result<Val, TemplateError> {
    let Val::Text(text) = array else {
        return Ok(Val::Unbound);
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => match (items.first(), default) {
            (Some(first), _) => Ok(Val::Text(first.to_string())),
            (None, Some(default)) => Ok(default.clone()),
            (None, None) => Err(TemplateError::Unsupported(
                "`firstFromArray` of an empty array without a default (undocumented)".into(),
            )),
        },
        _ => Err(TemplateError::Unsupported(
            "`firstFromArray` of something other than a JSON array (undocumented)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn request(template: &str, input: Value) -> Result<String, TemplateError> {
        let Value::Object(input) = input else {
            unreachable!("tests pass objects")
        };
        render(template, &Context::request(&input))
    }

    #[test]
    fn references_in_each_notation() {
        let input = json!({"id": "a\"b", "n": 7, "x": 2.0, "f": false, "nil": null});
        assert_eq!(
            request(
                "${input.id}|$input.id|$!{input.id}|$!input.id",
                input.clone()
            )
            .unwrap(),
            "a\"b|a\"b|a\"b|a\"b"
        );
        assert_eq!(
            request(
                "${input.nil}|$input.gone|$!{input.nil}|$!input.gone|",
                input.clone()
            )
            .unwrap(),
            "${input.nil}|$input.gone|||"
        );
        assert_eq!(
            request("$input.n $input.x $input.f", input.clone()).unwrap(),
            "7 2.0 false"
        );
        assert_eq!(
            request("$Input.id ${credentials.key} $5 ${ # a", input.clone()).unwrap(),
            "$Input.id ${credentials.key} $5 ${ # a",
            "unbound references and plain text render as written"
        );
        assert_eq!(
            request("$USD(approx) $credentials.key.trim()", json!({})).unwrap(),
            "$USD(approx) $credentials.key.trim()"
        );
    }

    #[test]
    fn raw_request_is_the_input_as_compact_json() {
        assert_eq!(
            request("${input.rawRequest}", json!({"b": 1, "a": "x"})).unwrap(),
            r#"{"a":"x","b":1}"#
        );
    }

    #[test]
    fn escaping_tools() {
        let input = json!({"s": "a \"b\"/c\n\u{1}é&+"});
        assert_eq!(
            request("$esc.jsonString($input.s)", input.clone()).unwrap(),
            "a \\\"b\\\"/c\\n\\u0001é&+"
        );
        assert_eq!(
            request("$esc.url($input.s)", input.clone()).unwrap(),
            "a+%22b%22%2Fc%0A%01%C3%A9%26%2B"
        );
        assert_eq!(
            request("$esc.urlFormEncode(${input.s})", input.clone()).unwrap(),
            "a+%22b%22%2Fc%0A%01%C3%A9%26%2B"
        );
        assert_eq!(
            request("$esc.uriEncode(\"${input.s}~\")", input).unwrap(),
            "a%20%22b%22%2Fc%0A%01%C3%A9%26%2B~"
        );
        assert_eq!(
            request(
                r#"Basic $encoding.base64("${input.u}:${input.p}")"#,
                json!({"u": "svc", "p": "pw"})
            )
            .unwrap(),
            "Basic c3ZjOnB3"
        );
        assert_eq!(
            request("$esc.quote$esc.quote|$!esc.jsonString($!{input.gone})|$esc.jsonString($input.gone)", json!({})).unwrap(),
            "\"\"||$esc.jsonString($input.gone)"
        );
    }

    #[test]
    fn success_templates_see_translations_and_the_raw_result() {
        let translations: BTreeMap<String, String> = [
            ("ids".to_owned(), "[\"a\",\"b\"]".to_owned()),
            ("none".to_owned(), "[]".to_owned()),
            ("name".to_owned(), "\"x\"".to_owned()),
        ]
        .into();
        let context = Context::success(&translations, r#"{"k":1}"#);
        let out = render(
            r#"{"n": ${name}, "first": $successTemplateUtils.firstFromArray("${ids}"), "d": ${successTemplateUtils.firstFromArray("${none}", "$esc.quote$esc.quote")}, "raw": $rawResult}"#,
            &context,
        );
        assert_eq!(
            out.unwrap(),
            r#"{"n": "x", "first": "a", "d": "", "raw": {"k":1}}"#
        );
        // '...' is taken as written, so `'${none}'` is not a JSON array.
        let err = render("$successTemplateUtils.firstFromArray('${none}')", &context).unwrap_err();
        assert!(
            err.to_string().contains("not a JSON array")
                || err.to_string().contains("other than a JSON array"),
            "{err}"
        );
    }

    #[test]
    fn constructs_outside_the_subset_are_named() {
        for (template, needle) in [
            ("#if($input.a)x#end", "`#if`"),
            ("## comment", "`##`"),
            ("#* block *#", "`#*`"),
            ("#set($a = 1)", "`#set`"),
            ("\\$input.a", "escaped"),
            ("$math.add(1, 2)", "`$math.add`"),
            ("$esc.html($input.a)", "`$esc.html`"),
            (
                "$urlTool.optionalQueryParam('a', 'b')",
                "`$urlTool.optionalQueryParam`",
            ),
            ("$input.a.replace('x', 'y')", "`.replace(...)`"),
            ("$input.a.length", "properties of input values"),
            ("$input", "whole `$input`"),
            ("$esc.url($input.a).length()", "calls on the result"),
            ("$esc.url(1)", "arguments other than"),
            ("$input.big", "scientific notation"),
            ("$input.obj", "objects or arrays"),
        ] {
            let err = request(template, json!({"a": "v", "big": 1e7, "obj": {}})).unwrap_err();
            assert!(
                matches!(&err, TemplateError::Unsupported(m) if m.contains(needle)),
                "{template}: {err}"
            );
            assert!(err.to_string().starts_with("the fake does not support "));
        }
        let translations = BTreeMap::new();
        let err = render("$input.a", &Context::success(&translations, "{}")).unwrap_err();
        assert!(err.to_string().contains("success template"), "{err}");
    }

    #[test]
    fn malformed_templates_are_syntax_errors() {
        for template in [
            "a$",
            "$!",
            "b#",
            "${input.a",
            "$esc.url($input.a",
            "$esc.url('x)",
            "$esc.url(\"x\" \"y\")",
        ] {
            assert!(
                matches!(
                    request(template, json!({"a": "v"})),
                    Err(TemplateError::Syntax(_))
                ),
                "{template}"
            );
        }
        let deep = format!("{}x{}", "$esc.url(".repeat(40), ")".repeat(40));
        assert!(matches!(
            request(&deep, json!({})),
            Err(TemplateError::Unsupported(_) | TemplateError::Syntax(_))
        ));
    }

    proptest! {
        #[test]
        fn rendering_never_panics(
            template in r#"([$#!{}()\[\].,:'"a-z0-9 \\\n=_-]|é|\$input\.|\$esc\.|\$!\{|\$\{|quote|jsonString|url|firstFromArray|successTemplateUtils|rawResult){0,40}"#,
            value in ".{0,20}",
        ) {
            let input = json!({"a": value, "b": 1.5});
            let Value::Object(input) = input else { unreachable!() };
            let _ = render(&template, &Context::request(&input));
            let translations: BTreeMap<String, String> = [("a".to_owned(), "[1]".to_owned())].into();
            let _ = render(&template, &Context::success(&translations, "{}"));
        }
    }
}
