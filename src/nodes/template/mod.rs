//! Data Action templates, rendered as Genesys Cloud renders them: Apache Velocity 1.7
//! with velocity-tools 2.0 and the tools Genesys adds.
//!
//! A template is parsed once ([`Template::parse`]) and rendered many times
//! ([`Template::render`]) against [`Bindings`]: `input` (the action's input, plus
//! `input.rawRequest`, the input as compact JSON), `credentials` (the integration's
//! credential fields, [`Credentials`]), `rawResult` (the response body as text) and one
//! string per translation-map entry (the JSON text of its value). Nothing is escaped
//! automatically: like the platform, the engine writes values as Java prints them, and
//! templates escape with `$esc.jsonString(…)`, `$esc.url(…)` or `$esc.uriEncode(…)`
//! where values land in JSON strings or URLs (the action builder's lint insists).
//!
//! ```
//! use genesys_cloud::nodes::template::{Bindings, Template};
//! use serde_json::json;
//!
//! let body = Template::parse(r#"{"name": "$esc.jsonString(${input.name})"}"#)?;
//! let input = json!({"name": "Zoë \"Z\""});
//! assert_eq!(body.render(&Bindings::new().input(&input))?, r#"{"name": "Zoë \"Z\""}"#);
//!
//! // A missing reference prints as written; a quiet one prints nothing.
//! let t = Template::parse("${input.missing}|$!{input.missing}")?;
//! assert_eq!(t.render(&Bindings::new().input(&input))?, "${input.missing}|");
//! # Ok::<(), genesys_cloud::nodes::template::TemplateError>(())
//! ```
//!
//! # What is supported
//!
//! Everything of Velocity 1.7 that a template can say without loading other templates:
//! references (`$a.b`, `${a.b}`, `$!a`, method calls, `[index]`), `#if/#elseif/#else/#end`,
//! `#foreach` (with `$foreach.count/index/hasNext/first/last/parent`, `$velocityCount`,
//! `$velocityHasNext`, `#break`), `#set`, `#macro`, `#define`, `#evaluate`, `#stop`,
//! `#literal`, comments (`##`, `#* *#`), `#[[ ]]#`, escapes, string interpolation, ranges,
//! list and map literals, arithmetic, comparisons; the methods of `String`, numbers,
//! `List`, `Map` and `Map.Entry`; the tools `$esc`, `$math`, `$encoding`,
//! `$successTemplateUtils`. `docs/nodes.md` lists each with its source, and the
//! differences from the platform that remain.
//!
//! # Why a hand-written engine
//!
//! The crates that implement Velocity-like syntax in Rust (`velocity_template` 0.0.2,
//! `kg-template` 0.1.2) are early releases of engines *inspired by* Velocity: neither
//! reproduces Velocity 1.7's lexer (where `$`, `#` and `\` are text and where they are
//! not, how white space around directives is eaten), its Java values (`2.0`, `1.0E7`,
//! `{a=1}`), the literal output of a missing reference, nor velocity-tools. Genesys runs
//! the real thing, so this parser follows the lexical states of Velocity 1.7's
//! `Parser.jjt` and the renderer follows its node classes; the differential suite in
//! `tests/velocity.rs` compares the result with Apache Velocity case by case.

mod ast;
mod format;
mod java;
mod methods;
mod parse;
mod render;
mod tools;
mod value;

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use crate::validation::ValidationError;

pub(crate) use ast::{Access, Expr, Node, Ref};
pub(crate) use java::jackson_json;
pub use value::Json;
use value::Val;

/// A parsed template.
#[derive(Clone)]
pub struct Template {
    source: Arc<str>,
    body: Arc<ast::Body>,
    macros: Vec<ast::MacroDef>,
    /// Whether `$input.rawRequest` can be observed (else it is not computed).
    raw_request: bool,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why a template could not be parsed or rendered. Messages name positions and the
/// template's own text, never a value it was rendered with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template does not parse (Velocity's `ParseErrorException`).
    Syntax {
        /// 1-based line.
        line: u32,
        /// 1-based column (in characters).
        column: u32,
        /// What is wrong and how to write it.
        message: String,
    },
    /// Rendering failed: a method threw, `#parse`/`#include` found nothing to load, or a
    /// limit was exceeded.
    Render {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The Velocity exception class (`MethodInvocationException` …).
        exception: &'static str,
        /// What happened.
        message: String,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            TemplateError::Render {
                line,
                column,
                exception,
                message,
            } => write!(f, "line {line}, column {column}: {exception}: {message}"),
        }
    }
}

impl std::error::Error for TemplateError {}

impl TemplateError {
    /// This error as a [`ValidationError`] on `field` (rule `template_syntax` or
    /// `template_render`).
    pub fn into_validation(self, field: &str) -> ValidationError {
        let rule = match &self {
            TemplateError::Syntax { .. } => "template_syntax",
            TemplateError::Render { .. } => "template_render",
        };
        ValidationError::single(field, rule, format!("{field}: {self}"))
    }

    /// The Velocity exception this corresponds to (`ParseErrorException`,
    /// `MethodInvocationException`, `ResourceNotFoundException` …).
    pub fn exception(&self) -> &'static str {
        match self {
            TemplateError::Syntax { .. } => "ParseErrorException",
            TemplateError::Render { exception, .. } => exception,
        }
    }
}

/// 1-based line and column of byte offset `pos` in `source`.
pub(crate) fn line_column(source: &str, pos: u32) -> (u32, u32) {
    let pos = (pos as usize).min(source.len());
    let mut pos = pos;
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &source[..pos];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

impl Template {
    /// Parses `source`.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut macros = Vec::new();
        let body = parse::parse(source, 0, &mut macros).map_err(|e| {
            let (line, column) = line_column(source, e.pos);
            TemplateError::Syntax {
                line,
                column,
                message: e.message,
            }
        })?;
        let mut template = Template {
            source: source.into(),
            body: Arc::new(body),
            macros,
            raw_request: true,
        };
        // Only `$input.<name>` with a name other than rawRequest: rawRequest is never seen.
        let evaluates =
            template.source.contains("#evaluate") || template.source.contains("#{evaluate}");
        template.raw_request = evaluates
            || template.references().iter().any(|r| {
                &*r.root == "input"
                    && !matches!(r.chain.first(), Some(Access::Property(p)) if &**p != "rawRequest")
            });
        Ok(template)
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders with `bindings`.
    pub fn render(&self, bindings: &Bindings<'_>) -> Result<String, TemplateError> {
        render::render(&self.body, &self.macros, bindings, self.raw_request).map_err(|e| {
            let (line, column) = line_column(&self.source, e.pos);
            TemplateError::Render {
                line,
                column,
                exception: e.exception,
                message: e.message,
            }
        })
    }

    /// The statements, for validation and lint.
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.body
    }

    /// The macros the template defines: parameters and body.
    pub(crate) fn macros(&self) -> impl Iterator<Item = (&[Arc<str>], &[Node])> {
        self.macros
            .iter()
            .map(|m| (m.params.as_slice(), m.body.as_slice()))
    }

    /// Line and column of a position in this template.
    pub(crate) fn position(&self, pos: u32) -> (u32, u32) {
        line_column(&self.source, pos)
    }

    /// Every reference in the template (in text, directives, arguments, strings), in
    /// source order.
    pub(crate) fn references(&self) -> Vec<&Ref> {
        let mut refs = Vec::new();
        visit_body(&self.body, &mut |r| refs.push(r));
        for m in &self.macros {
            visit_body(&m.body, &mut |r| refs.push(r));
        }
        refs.sort_by_key(|r| r.pos);
        refs
    }
}

fn visit_body<'t>(body: &'t [Node], f: &mut dyn FnMut(&'t Ref)) {
    for node in body {
        match node {
            Node::Text(_) | Node::Stop | Node::Resource(..) => {}
            Node::Ref(r) => visit_ref(r, f),
            Node::If(i) => {
                for (cond, b) in &i.branches {
                    visit_expr(cond, f);
                    visit_body(b, f);
                }
                if let Some(b) = &i.otherwise {
                    visit_body(b, f);
                }
            }
            Node::Set(s) => {
                visit_ref(&s.target, f);
                visit_expr(&s.value, f);
            }
            Node::Foreach(fe) => {
                if let Some(e) = &fe.iterable {
                    visit_expr(e, f);
                }
                visit_body(&fe.body, f);
            }
            Node::Define(d) => visit_body(&d.body, f),
            Node::Evaluate(e, _) => visit_expr(e, f),
            Node::Call(c) => c.args.iter().for_each(|a| visit_expr(a, f)),
            Node::Break(arg, _) => {
                if let Some(a) = arg {
                    visit_expr(a, f);
                }
            }
        }
    }
}

pub(crate) fn visit_ref<'t>(r: &'t Ref, f: &mut dyn FnMut(&'t Ref)) {
    f(r);
    for access in &r.chain {
        match access {
            Access::Property(_) => {}
            Access::Method(_, args) => args.iter().for_each(|a| visit_expr(a, f)),
            Access::Index(e) => visit_expr(e, f),
        }
    }
}

pub(crate) fn visit_expr<'t>(e: &'t Expr, f: &mut dyn FnMut(&'t Ref)) {
    match e {
        Expr::Ref(r) => visit_ref(r, f),
        Expr::Interpolated(body, _) => visit_body(body, f),
        Expr::List(items) => items.iter().for_each(|i| visit_expr(i, f)),
        Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
            visit_expr(k, f);
            visit_expr(v, f);
        }),
        Expr::Range(pair) | Expr::Binary(_, pair, _) => {
            visit_expr(&pair.0, f);
            visit_expr(&pair.1, f);
        }
        Expr::Not(inner) => visit_expr(inner, f),
        _ => {}
    }
}

/// The integration's credential fields (`${credentials.name}`), held as secrets: their
/// `Debug` shows the names only, and nothing in this crate logs or reports a value.
#[derive(Clone, Default)]
pub struct Credentials {
    fields: BTreeMap<String, SecretString>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("names", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// With field `name` set to `value` (e.g. `clientId`, `clientSecret`).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets field `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields
            .insert(name.into(), SecretString::from(value.into()));
    }

    /// The field names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
enum InputRef<'a> {
    Value(&'a serde_json::Value),
    Ordered(&'a Json),
}

/// What a template's references resolve against.
///
/// ```
/// use genesys_cloud::nodes::template::{Bindings, Credentials, Template};
/// use serde_json::json;
///
/// let input = json!({"id": 7});
/// let credentials = Credentials::new().with("apiKey", "k");
/// let bindings = Bindings::new()
///     .input(&input)
///     .credentials(&credentials)
///     .raw_result(r#"{"ok":true}"#)
///     .translation("ok", "true");
/// let t = Template::parse("$input.id $credentials.apiKey $rawResult $ok")?;
/// assert_eq!(t.render(&bindings)?, r#"7 k {"ok":true} true"#);
/// # Ok::<(), genesys_cloud::nodes::template::TemplateError>(())
/// ```
#[derive(Default)]
pub struct Bindings<'a> {
    input: Option<InputRef<'a>>,
    raw_request: OnceCell<String>,
    credentials: Option<&'a Credentials>,
    raw_result: Option<&'a str>,
    translations: Vec<(&'a str, &'a str)>,
}

impl fmt::Debug for Bindings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are user data and secrets: only what is bound.
        f.debug_struct("Bindings")
            .field("input", &self.input.is_some())
            .field("credentials", &self.credentials.map(|c| c.names().count()))
            .field("raw_result", &self.raw_result.map(str::len))
            .field(
                "translations",
                &self
                    .translations
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'a> Bindings<'a> {
    /// Nothing bound.
    pub fn new() -> Self {
        Self::default()
    }

    /// `$input`: the action's input object (`$input.rawRequest` is added: the input as
    /// compact JSON, as Jackson writes it).
    pub fn input(mut self, input: &'a serde_json::Value) -> Self {
        self.input = Some(InputRef::Value(input));
        self
    }

    /// `$input` from an ordered document, so `$input.rawRequest` and printed maps keep
    /// the keys in the order they were given (as on the platform).
    pub fn input_ordered(mut self, input: &'a Json) -> Self {
        self.input = Some(InputRef::Ordered(input));
        self
    }

    /// `$credentials`.
    pub fn credentials(mut self, credentials: &'a Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// `$rawResult`: the response body as text.
    pub fn raw_result(mut self, body: &'a str) -> Self {
        self.raw_result = Some(body);
        self
    }

    /// `$name`: a translation-map value, as JSON text (`"\"Sales\""`, `5`, `[1,2]`).
    pub fn translation(mut self, name: &'a str, json_text: &'a str) -> Self {
        self.translations.retain(|(n, _)| *n != name);
        self.translations.push((name, json_text));
        self
    }

    pub(crate) fn translation_text(&self, name: &str) -> Option<&'a str> {
        self.translations
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    fn raw_request(&self) -> &str {
        self.raw_request.get_or_init(|| match self.input {
            Some(InputRef::Value(v)) => {
                let mut out = String::new();
                java::jackson_json(v, &mut out);
                out
            }
            Some(InputRef::Ordered(j)) => j.to_jackson(),
            None => "{}".into(),
        })
    }

    /// `$input` as the template sees it (with `rawRequest` when `raw`).
    fn input_value(&self, raw: bool) -> Val<'_> {
        let (value, is_object, has_raw) = match self.input {
            None => return Val::Null,
            Some(InputRef::Value(v)) => (
                Val::from_json(v),
                v.is_object(),
                v.get("rawRequest").is_some(),
            ),
            Some(InputRef::Ordered(j)) => (
                Val::from_ordered(j),
                matches!(j, Json::Object(_)),
                matches!(j, Json::Object(e) if e.iter().any(|(k, _)| k == "rawRequest")),
            ),
        };
        if let (true, true, false, Val::Map(entries)) = (raw, is_object, has_raw, &value) {
            entries
                .borrow_mut()
                .push((Val::str("rawRequest"), Val::str(self.raw_request())));
        }
        value
    }

    /// `$credentials` as the template sees it.
    fn credentials_value(&self) -> Val<'_> {
        match self.credentials {
            None => Val::map(Vec::new()),
            Some(c) => Val::map(
                c.fields
                    .iter()
                    .map(|(k, v)| (Val::str(k), Val::str(v.expose_secret())))
                    .collect(),
            ),
        }
    }
}
