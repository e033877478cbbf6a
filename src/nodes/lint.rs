//! The template lint: what automatic escaping used to protect against, as rules checked
//! on the parsed templates. The platform renders values verbatim, so a value with a
//! quote breaks a JSON body and a value with `/` or `&` changes a URL; these rules make
//! the author escape where values land, or say the value is safe
//! ([`DataActionBuilder::trusted_input`](super::DataActionBuilder::trusted_input)).
//!
//! | rule | what triggers it | fix |
//! |---|---|---|
//! | `json_string_unescaped` | an input inside a JSON string of the request body, not in `$esc.jsonString(…)` | `$esc.jsonString(${input.x})` |
//! | `json_value_unquoted` | a string input outside any JSON string of the request body | `"$esc.jsonString(${input.x})"` |
//! | `url_unescaped` | a string input in the URL (or a form-encoded body) not in `$esc.url`, `$esc.uriEncode` or `$esc.urlFormEncode` | `$esc.uriEncode(${input.x})` |
//! | `translation_in_string` | a translation (JSON text, quotes included) inside a JSON string of the success template | `${name}` outside quotes |
//! | `undeclared_input` | `${input.x}` where `x` is not in the input contract (renders as written) | declare `x`, or fix the name |
//! | `unknown_reference` | a reference to nothing the template binds (`$Input.x`, `${INPUT.x}`: Velocity is case-sensitive) | `${input.x}` |
//! | `tutorial_placeholder` | `{{input.x}}` in a template (text for Velocity) | `${input.x}` |
//! | `default_not_json` | a `translationMapDefaults` value that is not JSON text (inserted verbatim) | `"\"text\""`, `0`, `[]` |
//! | `unused_required_input` | a required input no template uses, without a `description` | use it, or document it |
//! | `not_emulated` | a Genesys tool this crate does not reproduce (`$esc.jsonEncode`, `$urlTool`, `$salesforce`, `moveKeysIntoArrayOfObjects`) | test that part on the platform |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::template::{Access, Expr, Node, Ref, Template};

/// One lint finding: which template, where, the reference as written, and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LintFinding {
    /// The rule (`json_string_unescaped` …).
    pub rule: &'static str,
    /// The template: `requestUrlTemplate`, `headers.<name>`, `requestTemplate`,
    /// `successTemplate`, or `translationMapDefaults.<name>`.
    pub template: String,
    /// 1-based line of the reference (0 when the finding is not about a position).
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// What is wrong and how to fix it (names and template text only, never a value).
    pub message: String,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} {}:{}: {} ({})",
                self.template, self.line, self.column, self.message, self.rule
            )
        } else {
            write!(f, "{}: {} ({})", self.template, self.message, self.rule)
        }
    }
}

/// Where a template's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Url,
    Header,
    JsonBody,
    FormBody,
    /// A body that is neither JSON nor a form (e.g. `${input.rawRequest}`).
    OtherBody,
    Success,
}

/// What the lint knows of an input property.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InputInfo {
    /// Declared with type `string`.
    pub(crate) string: bool,
    pub(crate) required: bool,
}

pub(crate) struct Lint<'a> {
    pub(crate) name: &'a str,
    pub(crate) template: &'a Template,
    pub(crate) kind: Kind,
    pub(crate) inputs: &'a BTreeMap<String, InputInfo>,
    pub(crate) trusted: &'a BTreeSet<String>,
    /// Translation-map names (roots of the success template).
    pub(crate) translations: &'a BTreeSet<String>,
}

/// Roots every template has.
const TOOLS: &[&str] = &["esc", "math", "encoding", "successTemplateUtils"];
/// Roots Velocity binds inside loops.
const LOOP_ROOTS: &[&str] = &["foreach", "velocityCount", "velocityHasNext"];
/// Genesys tools listed on the Velocity macros page that this crate does not emulate.
const NOT_EMULATED_ROOTS: &[&str] = &["urlTool", "salesforce", "dynamics"];

impl Lint<'_> {
    pub(crate) fn run(&self, findings: &mut Vec<LintFinding>) {
        let mut state = JsonState::default();
        self.walk(self.template.nodes(), &mut state, findings);
        self.references(findings);
        self.placeholders(findings);
    }

    fn finding(&self, rule: &'static str, pos: u32, message: String) -> LintFinding {
        let (line, column) = self.template.position(pos);
        LintFinding {
            rule,
            template: self.name.to_owned(),
            line,
            column,
            message,
        }
    }

    fn walk(&self, nodes: &[Node], state: &mut JsonState, findings: &mut Vec<LintFinding>) {
        for node in nodes {
            match node {
                Node::Text(t) => {
                    if matches!(self.kind, Kind::JsonBody | Kind::Success) {
                        state.advance(t);
                    }
                }
                Node::Ref(r) => self.check_output(r, state, findings),
                Node::If(i) => {
                    for (_, body) in &i.branches {
                        self.walk(body, state, findings);
                    }
                    if let Some(body) = &i.otherwise {
                        self.walk(body, state, findings);
                    }
                }
                Node::Foreach(f) => self.walk(&f.body, state, findings),
                Node::Define(d) => self.walk(&d.body, state, findings),
                _ => {}
            }
        }
    }

    /// The input property a reference reads, when it reads one.
    fn input_field(r: &Ref) -> Option<&str> {
        if &*r.root != "input" {
            return None;
        }
        match r.chain.first() {
            Some(Access::Property(p)) => Some(p),
            Some(Access::Index(e)) => match &**e {
                Expr::Str(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// Inputs (not trusted, not `rawRequest`) read by expressions inside `r`'s chain.
    fn inputs_in_args<'r>(&self, r: &'r Ref) -> Vec<&'r Ref> {
        let mut found = Vec::new();
        for access in &r.chain {
            if let Access::Method(_, args) = access {
                for a in args {
                    super::template::visit_expr(a, &mut |inner: &'r Ref| {
                        if let Some(f) = Self::input_field(inner) {
                            if f != "rawRequest" && !self.trusted.contains(f) {
                                found.push(inner);
                            }
                        }
                    });
                }
            }
        }
        found
    }

    fn check_output(&self, r: &Ref, state: &JsonState, findings: &mut Vec<LintFinding>) {
        let tool_method = match (&*r.root, r.chain.first()) {
            ("esc", Some(Access::Method(m, _))) => Some(&**m),
            _ => None,
        };
        if let Some(field) = Self::input_field(r) {
            if field == "rawRequest" || self.trusted.contains(field) {
                return;
            }
            let info = self.inputs.get(field).copied().unwrap_or_default();
            let quiet = !info.required;
            let write = |tool: &str| {
                if quiet {
                    format!("$!esc.{tool}($!{{input.{field}}})")
                } else {
                    format!("$esc.{tool}(${{input.{field}}})")
                }
            };
            let trust = format!("or, if every value is safe here, `.trusted_input(\"{field}\")`");
            match self.kind {
                Kind::JsonBody if state.in_string => findings.push(self.finding(
                    "json_string_unescaped",
                    r.pos,
                    format!(
                        "`{}` is inside a JSON string without escaping: a quote, a backslash or a line break in the value breaks the body. Write `{}`, {trust}",
                        r.literal,
                        write("jsonString")
                    ),
                )),
                Kind::JsonBody if info.string => findings.push(self.finding(
                    "json_value_unquoted",
                    r.pos,
                    format!(
                        "`{}` is a string input outside any JSON string: its value is not valid JSON there. Write `\"{}\"`, {trust}",
                        r.literal,
                        write("jsonString")
                    ),
                )),
                Kind::Url | Kind::FormBody if info.string || !self.inputs.contains_key(field) => {
                    let tool = if self.kind == Kind::Url { "uriEncode" } else { "urlFormEncode" };
                    findings.push(self.finding(
                        "url_unescaped",
                        r.pos,
                        format!(
                            "`{}` goes into the {} without encoding: `/`, `?`, `&`, `#` or a space in the value change the request. Write `{}`, {trust}",
                            r.literal,
                            if self.kind == Kind::Url { "URL" } else { "form body" },
                            write(tool)
                        ),
                    ))
                }
                _ => {}
            }
            return;
        }
        if let Some(method) = tool_method {
            let unsafe_args = self.inputs_in_args(r);
            let Some(arg) = unsafe_args.first() else {
                return;
            };
            let ok = match self.kind {
                Kind::JsonBody if state.in_string => {
                    matches!(method, "jsonString" | "javascript" | "java")
                }
                Kind::Url | Kind::FormBody => {
                    matches!(method, "url" | "uriEncode" | "urlFormEncode")
                }
                _ => true,
            };
            if !ok {
                let (rule, tool) = if self.kind == Kind::JsonBody {
                    ("json_string_unescaped", "jsonString")
                } else {
                    ("url_unescaped", "uriEncode")
                };
                findings.push(self.finding(
                    rule,
                    r.pos,
                    format!(
                        "`$esc.{method}` does not escape `{}` for where it lands; use `$esc.{tool}(…)`",
                        arg.literal
                    ),
                ));
            }
            return;
        }
        if self.kind == Kind::Success
            && state.in_string
            && r.chain.is_empty()
            && self.translations.contains(&*r.root)
        {
            findings.push(self.finding(
                "translation_in_string",
                r.pos,
                format!(
                    "`{}` is a translation value, which is JSON text with its own quotes: inside a JSON string it breaks the output. Write it outside the quotes",
                    r.literal
                ),
            ));
        }
    }

    /// Undeclared inputs, unknown roots, tools this crate does not emulate.
    fn references(&self, findings: &mut Vec<LintFinding>) {
        let mut defined: BTreeSet<&str> = BTreeSet::new();
        defined.extend(TOOLS);
        defined.extend(LOOP_ROOTS);
        defined.insert("input");
        defined.insert("credentials");
        if self.kind == Kind::Success {
            defined.insert("rawResult");
            defined.extend(self.translations.iter().map(String::as_str));
        }
        let mut set_names: BTreeSet<String> = BTreeSet::new();
        collect_bound(self.template.nodes(), &mut set_names);
        for (params, body) in self.template.macros() {
            set_names.extend(params.iter().map(|p| p.to_string()));
            collect_bound(body, &mut set_names);
        }
        for r in self.template.references() {
            if r.slashbang {
                continue;
            }
            let root = &*r.root;
            if NOT_EMULATED_ROOTS.contains(&root) {
                findings.push(self.finding(
                    "not_emulated",
                    r.pos,
                    format!("`{}`: Genesys provides `${root}`, which this crate does not emulate: it renders as written here; test this part on the platform", r.literal),
                ));
                continue;
            }
            if let ("esc", Some(Access::Method(m, _))) = (root, r.chain.first()) {
                if matches!(&**m, "jsonEncode" | "jsonDecode") {
                    findings.push(self.finding(
                        "not_emulated",
                        r.pos,
                        format!("`{}`: Genesys documents `$esc.{m}` without its exact behaviour; this crate renders it as written. `$esc.jsonString` is the documented way to escape JSON strings", r.literal),
                    ));
                }
            }
            if let ("successTemplateUtils", Some(Access::Method(m, _))) = (root, r.chain.first()) {
                if &**m == "moveKeysIntoArrayOfObjects" {
                    findings.push(self.finding(
                        "not_emulated",
                        r.pos,
                        format!("`{}`: Genesys lists `moveKeysIntoArrayOfObjects` without a description this crate could follow; rendering it here fails; test this part on the platform", r.literal),
                    ));
                }
            }
            if root == "input" {
                if let Some(Access::Property(field)) = r.chain.first() {
                    if &**field != "rawRequest" && !self.inputs.contains_key(&**field) {
                        findings.push(self.finding(
                            "undeclared_input",
                            r.pos,
                            format!("`{}` names no property of the input contract: it renders as written (or empty, quiet). Declare `{field}` or fix the name", r.literal),
                        ));
                    }
                }
                continue;
            }
            if !defined.contains(root) && !set_names.contains(root) {
                let hint = if root.eq_ignore_ascii_case("input") {
                    " (Velocity is case-sensitive: write `input`)".to_owned()
                } else if self.kind != Kind::Success && root == "rawResult" {
                    " (`rawResult` exists in the success template only)".to_owned()
                } else {
                    String::new()
                };
                findings.push(self.finding(
                    "unknown_reference",
                    r.pos,
                    format!("`{}` refers to nothing this template binds, so it renders as written{hint}", r.literal),
                ));
            }
        }
    }

    /// `{{input.x}}` left in a template: Velocity prints it as text.
    fn placeholders(&self, findings: &mut Vec<LintFinding>) {
        let source = self.template.source();
        let mut from = 0;
        while let Some(i) = source[from..].find("{{") {
            let start = from + i;
            let Some(end) = source[start..].find("}}") else {
                break;
            };
            let inner = source[start + 2..start + end].trim();
            if let Some(name) = inner.strip_prefix("input.") {
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    findings.push(self.finding(
                        "tutorial_placeholder",
                        u32::try_from(start).unwrap_or(u32::MAX),
                        format!("`{}` is a `{{..}}` placeholder, which Velocity leaves as text; write `${{input.{name}}}`", &source[start..start + end + 2]),
                    ));
                }
            }
            from = start + end + 2;
        }
    }
}

/// Names bound by `#set`, `#foreach` and `#define` anywhere in `nodes`.
fn collect_bound(nodes: &[Node], names: &mut BTreeSet<String>) {
    for node in nodes {
        match node {
            Node::Set(s) => {
                names.insert(s.target.root.to_string());
            }
            Node::Foreach(f) => {
                names.insert(f.var.to_string());
                collect_bound(&f.body, names);
            }
            Node::Define(d) => {
                names.insert(d.name.to_string());
                collect_bound(&d.body, names);
            }
            Node::If(i) => {
                for (_, b) in &i.branches {
                    collect_bound(b, names);
                }
                if let Some(b) = &i.otherwise {
                    collect_bound(b, names);
                }
            }
            _ => {}
        }
    }
}

/// Where the literal text so far leaves a JSON document: inside a string or not.
#[derive(Default)]
struct JsonState {
    in_string: bool,
    escaped: bool,
}

impl JsonState {
    fn advance(&mut self, text: &str) {
        for c in text.chars() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == '"' {
                    self.in_string = false;
                }
            } else if c == '"' {
                self.in_string = true;
            }
        }
    }
}
