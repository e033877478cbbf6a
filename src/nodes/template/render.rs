//! Rendering: Velocity 1.7's node semantics (`ASTReference.render`, `ASTSetDirective`,
//! `ASTIfStatement`, `Foreach`, `MathUtils`, `ASTEQNode` …) over the values of
//! [`super::value`], with limits Velocity does not have (output size, steps, depth).

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::ast::{Access, BinOp, Body, Call, Expr, Foreach, MacroDef, Node, Ref};
use super::methods::{self, Thrown};
use super::value::{Scope, Tool, Val};
use super::Bindings;

/// The largest output a render may produce (16 MiB).
pub(crate) const MAX_OUTPUT: usize = 16 << 20;
/// Statements and loop iterations one render may execute.
const MAX_STEPS: u64 = 5_000_000;
/// Nested macro calls (Velocity's `velocimacro.max.depth`).
const MAX_CALL_DEPTH: u32 = 20;
/// Nested `#evaluate` and `#define` renders.
const MAX_NESTING: u32 = 32;
/// Nested bodies (blocks, macro calls, `#evaluate`) one render may enter.
const MAX_RENDER_DEPTH: u32 = 200;
/// Nested renders of `#define` blocks (`directive.define.max.depth`).
const MAX_BLOCK_DEPTH: u32 = 2;
/// Elements of an integer range `[n..m]`.
const MAX_RANGE: i64 = 1_000_000;

/// Why a render failed: the Velocity exception class and what happened (no values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderError {
    pub(crate) pos: u32,
    pub(crate) exception: &'static str,
    pub(crate) message: String,
}

/// How rendering leaves a block early.
pub(crate) enum Flow {
    Error(RenderError),
    /// `#stop`: ends the template (or the `#evaluate`).
    Stop,
    /// `#break`: the nearest loop, macro or template, or the loop owning a scope.
    Break(Option<usize>),
}

impl From<RenderError> for Flow {
    fn from(e: RenderError) -> Self {
        Flow::Error(e)
    }
}

type R<T> = Result<T, Flow>;

/// Renders `body` with `bindings`.
pub(crate) fn render(
    body: &Body,
    macros: &[MacroDef],
    bindings: &Bindings<'_>,
    raw_request: bool,
) -> Result<String, RenderError> {
    let mut r = Renderer {
        bindings,
        raw_request,
        vars: HashMap::new(),
        macros: macros.to_vec(),
        null_literals: Vec::new(),
        input: None,
        credentials: None,
        steps: 0,
        calls: 0,
        nesting: 0,
        blocks: 0,
        depth: 0,
    };
    let mut out = String::new();
    match r.body(body, &mut out) {
        Ok(()) | Err(Flow::Stop) | Err(Flow::Break(_)) => Ok(out),
        Err(Flow::Error(e)) => Err(e),
    }
}

struct Renderer<'a> {
    bindings: &'a Bindings<'a>,
    /// Whether `$input` shows `rawRequest` (see `Template::raw_request`).
    raw_request: bool,
    /// Variables set while rendering; `None` hides a binding of the same name.
    vars: HashMap<Arc<str>, Option<Val<'a>>>,
    macros: Vec<MacroDef>,
    /// Macro parameters bound to a null reference: what `$param` prints instead.
    null_literals: Vec<(Arc<str>, Arc<str>)>,
    input: Option<Val<'a>>,
    credentials: Option<Val<'a>>,
    steps: u64,
    calls: u32,
    nesting: u32,
    blocks: u32,
    depth: u32,
}

fn err(pos: u32, exception: &'static str, message: impl Into<String>) -> Flow {
    Flow::Error(RenderError {
        pos,
        exception,
        message: message.into(),
    })
}

impl<'a> Renderer<'a> {
    fn step(&mut self, pos: u32) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(err(
                pos,
                "LimitExceeded",
                format!("the template ran more than {MAX_STEPS} steps (a loop too long?)"),
            ));
        }
        Ok(())
    }

    fn body(&mut self, nodes: &[Node], out: &mut String) -> R<()> {
        // Blocks inside macros inside #evaluate …: bound the native stack.
        self.depth += 1;
        if self.depth > MAX_RENDER_DEPTH {
            self.depth -= 1;
            return Err(err(
                0,
                "LimitExceeded",
                format!("blocks, macros and #evaluate nested more than {MAX_RENDER_DEPTH} deep"),
            ));
        }
        let mut result = Ok(());
        for node in nodes {
            result = self.node(node, out);
            if result.is_err() {
                break;
            }
            if out.len() > MAX_OUTPUT {
                result = Err(err(0, "LimitExceeded", "the rendered text exceeds 16 MiB"));
                break;
            }
        }
        self.depth -= 1;
        result
    }

    fn node(&mut self, node: &Node, out: &mut String) -> R<()> {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Ref(r) => self.render_ref(r, out)?,
            Node::If(i) => {
                for (cond, body) in &i.branches {
                    if self.evaluate(cond)? {
                        return self.body(body, out);
                    }
                }
                if let Some(body) = &i.otherwise {
                    self.body(body, out)?;
                }
            }
            Node::Set(s) => {
                self.step(s.pos)?;
                let value = self.value(&s.value)?;
                // directive.set.null.allowed=false: a null right-hand side changes nothing.
                if !value.is_null() {
                    self.assign(&s.target, value)?;
                }
            }
            Node::Foreach(f) => self.foreach(f, out)?,
            Node::Define(d) => {
                self.vars
                    .insert(d.name.clone(), Some(Val::Block(d.body.clone())));
            }
            Node::Evaluate(expr, pos) => self.evaluate_directive(expr, *pos, out)?,
            Node::Call(c) => self.call(c, out)?,
            Node::Break(arg, pos) => {
                return Err(match arg {
                    None => Flow::Break(None),
                    Some(arg) => match self.value(arg)? {
                        Val::Scope(s) => Flow::Break(Some(Rc::as_ptr(&s) as usize)),
                        _ => err(
                            *pos,
                            "VelocityException",
                            "the argument of `#break` is not a scope such as `$foreach`",
                        ),
                    },
                })
            }
            Node::Stop => return Err(Flow::Stop),
            Node::Resource(what, pos) => {
                return Err(err(
                    *pos,
                    "ResourceNotFoundException",
                    format!(
                    "`{what}` loads another template, and Data Action templates have none to load"
                ),
                ))
            }
        }
        Ok(())
    }

    // ---- references ----

    /// The value bound to `name`: set variables, then the action's bindings, then tools.
    fn root(&mut self, name: &str) -> Val<'a> {
        if let Some(slot) = self.vars.get(name) {
            return slot.clone().unwrap_or(Val::Null);
        }
        let b = self.bindings;
        match name {
            "input" => {
                if self.input.is_none() {
                    self.input = Some(b.input_value(self.raw_request));
                }
                self.input.clone().unwrap_or(Val::Null)
            }
            "credentials" => {
                if self.credentials.is_none() {
                    self.credentials = Some(b.credentials_value());
                }
                self.credentials.clone().unwrap_or(Val::Null)
            }
            "rawResult" => b.raw_result.map_or(Val::Null, Val::str),
            _ => match b.translation_text(name) {
                Some(text) => Val::str(text),
                None => Tool::named(name).map_or(Val::Null, Val::Tool),
            },
        }
    }

    /// A method that threw: wrapped in a MethodInvocationException.
    fn thrown(r: &Ref, t: Thrown) -> Flow {
        err(
            r.pos,
            "MethodInvocationException",
            format!("`{}` threw {}: {}", r.literal, t.exception, t.detail),
        )
    }

    /// An index that failed: `ASTIndex` reports a VelocityException.
    fn index_failed(r: &Ref, t: Thrown) -> Flow {
        err(
            r.pos,
            "VelocityException",
            format!("`{}`: {}: {}", r.literal, t.exception, t.detail),
        )
    }

    /// `ASTReference.execute`: null as soon as a step is null.
    fn execute(&mut self, r: &Ref) -> R<Val<'a>> {
        if r.slashbang {
            return Ok(Val::Null);
        }
        let mut value = self.root(&r.root);
        for access in &r.chain {
            if value.is_null() {
                return Ok(Val::Null);
            }
            value = match access {
                Access::Property(name) => methods::property(&value, name),
                Access::Method(name, args) => {
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.value(a)?);
                    }
                    if let (Val::Block(body), "toString", []) = (&value, &**name, vals.as_slice()) {
                        let body = body.clone();
                        let mut s = String::new();
                        self.render_block(&body, &mut s)?;
                        Val::string(s)
                    } else {
                        methods::method(&value, name, &vals).map_err(|t| Self::thrown(r, t))?
                    }
                }
                Access::Index(key) => {
                    let key = self.value(key)?;
                    methods::index(&value, &key).map_err(|t| Self::index_failed(r, t))?
                }
            };
        }
        Ok(value)
    }

    /// `ASTReference.render`: escapes, the literal text of a null reference.
    fn render_ref(&mut self, r: &Ref, out: &mut String) -> R<()> {
        if r.slashbang {
            out.push_str(&r.literal);
            return Ok(());
        }
        let value = self.execute(r)?;
        let half = (r.escapes / 2) as usize;
        if r.escapes % 2 == 1 {
            push_backslashes(out, half);
            if value.is_null() {
                out.push('\\');
            }
            out.push_str(&r.literal);
            return Ok(());
        }
        if value.is_null() {
            push_backslashes(out, half * 2);
            if !r.quiet {
                let literal = self
                    .null_literals
                    .iter()
                    .rev()
                    .find(|(name, _)| {
                        r.chain.is_empty() && r.literal.strip_prefix('$') == Some(&**name)
                    })
                    .map(|(_, lit)| lit.clone());
                match literal {
                    Some(lit) => out.push_str(&lit),
                    None => out.push_str(&r.literal),
                }
            }
            return Ok(());
        }
        if let Val::Block(body) = &value {
            if self.blocks >= MAX_BLOCK_DEPTH {
                // Block.render refuses, and its toString() is null: the literal.
                push_backslashes(out, half * 2);
                if !r.quiet {
                    out.push_str(&r.literal);
                }
                return Ok(());
            }
            push_backslashes(out, half);
            return self.render_block(body, out);
        }
        push_backslashes(out, half);
        value.write_java(out, 0);
        Ok(())
    }

    fn render_block(&mut self, body: &Arc<Body>, out: &mut String) -> R<()> {
        if self.blocks >= MAX_BLOCK_DEPTH {
            return Ok(());
        }
        self.blocks += 1;
        let result = self.body(body, out);
        self.blocks -= 1;
        match result {
            Err(Flow::Break(None)) => Ok(()),
            other => other,
        }
    }

    /// `#set($a.b.c = value)` and `#set($a = value)`.
    fn assign(&mut self, target: &Ref, value: Val<'a>) -> R<()> {
        let Some((last, path)) = target.chain.split_last() else {
            self.vars.insert(target.root.clone(), Some(value));
            return Ok(());
        };
        let mut obj = self.root(&target.root);
        for access in path {
            if obj.is_null() {
                return Ok(());
            }
            obj = match access {
                Access::Property(name) => methods::property(&obj, name),
                Access::Method(name, args) => {
                    let mut vals = Vec::with_capacity(args.len());
                    for a in args {
                        vals.push(self.value(a)?);
                    }
                    methods::method(&obj, name, &vals).map_err(|t| Self::thrown(target, t))?
                }
                Access::Index(key) => {
                    let key = self.value(key)?;
                    methods::index(&obj, &key).map_err(|t| Self::index_failed(target, t))?
                }
            };
        }
        match (last, &obj) {
            (Access::Property(name), Val::Map(entries)) => {
                methods::map_put(entries, Val::string(&**name), value);
            }
            (Access::Index(key), Val::Map(entries)) => {
                let key = self.value(key)?;
                methods::map_put(entries, key, value);
            }
            (Access::Index(key), Val::List(items, _)) => {
                let key = self.value(key)?;
                let len = items.borrow().len();
                let at = match key {
                    Val::Int(i) if i < 0 => i64::from(i) + len as i64,
                    Val::Int(i) => i64::from(i),
                    _ => return Ok(()),
                };
                let mut items = items.borrow_mut();
                match usize::try_from(at).ok().and_then(|at| items.get_mut(at)) {
                    Some(slot) => *slot = value,
                    None => {
                        return Err(err(
                            target.pos,
                            "VelocityException",
                            format!("`{}`: the index is outside the list", target.literal),
                        ))
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ---- directives ----

    fn foreach(&mut self, f: &Foreach, out: &mut String) -> R<()> {
        let Some(iterable) = &f.iterable else {
            return Ok(());
        };
        let list = self.value(iterable)?;
        let items: Vec<Val<'a>> = match &list {
            Val::List(items, _) => items.borrow().clone(),
            Val::Map(entries) => entries.borrow().iter().map(|(_, v)| v.clone()).collect(),
            // Anything else cannot be iterated: skipped (runtime default).
            _ => return Ok(()),
        };
        let saved_var = self.vars.get(&f.var).cloned();
        let saved_count = self.vars.get("velocityCount").cloned();
        let saved_next = self.vars.get("velocityHasNext").cloned();
        let previous = self.root("foreach");
        let parent = match &previous {
            Val::Scope(s) => Some(s.clone()),
            _ => None,
        };
        let scope = Rc::new(Scope {
            index: std::cell::Cell::new(-1),
            has_next: std::cell::Cell::new(false),
            parent,
        });
        let me = Rc::as_ptr(&scope) as usize;
        self.vars
            .insert(Arc::from("foreach"), Some(Val::Scope(scope.clone())));
        let count = items.len();
        let mut result = Ok(());
        for (i, item) in items.into_iter().enumerate() {
            if let Err(e) = self.step(f.pos) {
                result = Err(e);
                break;
            }
            let has_next = i + 1 < count;
            self.vars.insert(
                Arc::from("velocityCount"),
                Some(Val::Int(i32::try_from(i + 1).unwrap_or(i32::MAX))),
            );
            self.vars
                .insert(Arc::from("velocityHasNext"), Some(Val::Bool(has_next)));
            self.vars.insert(f.var.clone(), Some(item));
            scope.index.set(scope.index.get().saturating_add(1));
            scope.has_next.set(has_next);
            match self.body(&f.body, out) {
                Ok(()) => {}
                Err(Flow::Break(None)) => break,
                Err(Flow::Break(Some(p))) if p == me => break,
                Err(other) => {
                    result = Err(other);
                    break;
                }
            }
        }
        // Foreach.clean and Directive.postRender: put back what the loop replaced.
        self.restore(&f.var, saved_var);
        self.restore("velocityCount", saved_count);
        self.restore("velocityHasNext", saved_next);
        match previous {
            Val::Null => {
                self.vars.remove("foreach");
            }
            other => {
                self.vars.insert(Arc::from("foreach"), Some(other));
            }
        }
        result
    }

    fn restore(&mut self, name: &str, saved: Option<Option<Val<'a>>>) {
        match saved {
            Some(Some(v)) if !v.is_null() => {
                self.vars.insert(Arc::from(name), Some(v));
            }
            _ => {
                self.vars.remove(name);
            }
        }
    }

    fn evaluate_directive(&mut self, expr: &Expr, pos: u32, out: &mut String) -> R<()> {
        let source = self.value(expr)?;
        if source.is_null() {
            return Ok(());
        }
        let source = source.java_string();
        if self.nesting >= MAX_NESTING {
            return Err(err(pos, "LimitExceeded", "`#evaluate` nested too deeply"));
        }
        // The text is made at run time and can hold input values: errors in it are
        // reported at the `#evaluate`, by kind, without quoting any of it.
        let mut macros = self.macros.clone();
        let body = super::parse::parse(&source, pos, &mut macros).map_err(|_| {
            err(
                pos,
                "ParseErrorException",
                "`#evaluate` of text that does not parse (not shown: it can hold input values)",
            )
        })?;
        self.macros = macros;
        self.nesting += 1;
        let result = self.body(&body, out);
        self.nesting -= 1;
        match result {
            Err(Flow::Stop) | Err(Flow::Break(None)) => Ok(()),
            Err(Flow::Error(e)) => Err(err(
                pos,
                e.exception,
                format!(
                    "the text `#evaluate` rendered threw {} (not shown: it can hold input values)",
                    e.exception
                ),
            )),
            other => other,
        }
    }

    fn call(&mut self, c: &Call, out: &mut String) -> R<()> {
        let Some(m) = self.macros.iter().rev().find(|m| m.name == c.name).cloned() else {
            // RuntimeMacro without a macro of that name: the call's text.
            out.push_str(&c.literal);
            return Ok(());
        };
        if self.calls >= MAX_CALL_DEPTH {
            return Err(err(
                c.pos,
                "MacroOverflowException",
                format!(
                    "macro calls nested more than {MAX_CALL_DEPTH} deep (in `#{}`)",
                    c.name
                ),
            ));
        }
        let mut bound = Vec::new();
        let mut literals = 0;
        for (param, arg) in m.params.iter().zip(c.args.iter()) {
            let value = self.value(arg)?;
            if let (true, Expr::Ref(r)) = (value.is_null(), arg) {
                self.null_literals
                    .push((param.clone(), Arc::from(&*r.literal)));
                literals += 1;
            }
            bound.push((param.clone(), self.vars.get(param).cloned()));
            self.vars.insert(param.clone(), Some(value));
        }
        self.calls += 1;
        let result = self.body(&m.body, out);
        self.calls -= 1;
        for (param, saved) in bound.into_iter().rev() {
            match saved {
                Some(v) => self.vars.insert(param, v),
                None => self.vars.remove(&param),
            };
        }
        let keep = self.null_literals.len().saturating_sub(literals);
        self.null_literals.truncate(keep);
        match result {
            Err(Flow::Break(None)) => Ok(()),
            other => other,
        }
    }

    // ---- expressions ----

    /// `Node.value()`.
    fn value(&mut self, e: &Expr) -> R<Val<'a>> {
        Ok(match e {
            Expr::Str(s) => Val::Str(super::value::Str::Shared(s.clone())),
            Expr::Interpolated(body, strip) => {
                let mut s = String::new();
                self.body(body, &mut s)?;
                if *strip {
                    s.pop();
                }
                Val::string(s)
            }
            Expr::Int(i) => Val::Int(*i),
            Expr::Long(l) => Val::Long(*l),
            Expr::Big(b) => Val::Big(*b),
            Expr::Double(d) => Val::Double(*d),
            Expr::Bool(b) => Val::Bool(*b),
            Expr::Ref(r) => self.execute(r)?,
            Expr::Word(_) => Val::Null,
            Expr::List(items) => {
                let mut vals = Vec::with_capacity(items.len());
                for item in items {
                    vals.push(self.value(item)?);
                }
                Val::list(vals)
            }
            Expr::Map(entries) => {
                let map = Val::map(Vec::with_capacity(entries.len()));
                if let Val::Map(m) = &map {
                    for (k, v) in entries {
                        let k = self.value(k)?;
                        let v = self.value(v)?;
                        methods::map_put(m, k, v);
                    }
                }
                map
            }
            Expr::Range(pair) => {
                let (l, r) = (self.value(&pair.0)?, self.value(&pair.1)?);
                let (Some(l), Some(r)) = (
                    l.int_value().filter(|_| l.is_number()),
                    r.int_value().filter(|_| r.is_number()),
                ) else {
                    return Ok(Val::Null);
                };
                let (l, r) = (i64::from(l), i64::from(r));
                if (l - r).abs() >= MAX_RANGE {
                    return Err(err(
                        0,
                        "LimitExceeded",
                        format!("a range of more than {MAX_RANGE} numbers"),
                    ));
                }
                let step = if l >= r { -1 } else { 1 };
                let mut items = Vec::new();
                let mut v = l;
                loop {
                    items.push(Val::integer(i128::from(v)));
                    if v == r {
                        break;
                    }
                    v += step;
                }
                Val::list(items)
            }
            Expr::Not(inner) => Val::Bool(!self.evaluate(inner)?),
            Expr::Binary(op, pair, lits) => match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    let l = self.value(&pair.0)?;
                    let r = self.value(&pair.1)?;
                    arithmetic(*op, l, r, &lits.0, &lits.1)
                }
                _ => Val::Bool(self.evaluate(e)?),
            },
        })
    }

    /// `Node.evaluate()`: only references, booleans and logic have a truth value.
    fn evaluate(&mut self, e: &Expr) -> R<bool> {
        Ok(match e {
            Expr::Ref(r) => match self.execute(r)? {
                Val::Null => false,
                Val::Bool(b) => b,
                _ => true,
            },
            Expr::Bool(b) => *b,
            Expr::Not(inner) => !self.evaluate(inner)?,
            Expr::Binary(BinOp::Or, pair, _) => {
                self.evaluate(&pair.0)? || self.evaluate(&pair.1)?
            }
            Expr::Binary(BinOp::And, pair, _) => {
                self.evaluate(&pair.0)? && self.evaluate(&pair.1)?
            }
            Expr::Binary(op @ (BinOp::Eq | BinOp::Ne), pair, _) => {
                let l = self.value(&pair.0)?;
                let r = self.value(&pair.1)?;
                let eq = equals(&l, &r);
                if *op == BinOp::Eq {
                    eq
                } else {
                    !eq
                }
            }
            Expr::Binary(op @ (BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge), pair, _) => {
                let l = self.value(&pair.0)?;
                let r = self.value(&pair.1)?;
                if !l.is_number() || !r.is_number() {
                    false
                } else {
                    let c = compare(&l, &r);
                    match op {
                        BinOp::Lt => c < 0,
                        BinOp::Gt => c > 0,
                        BinOp::Le => c <= 0,
                        _ => c >= 0,
                    }
                }
            }
            _ => false,
        })
    }
}

fn push_backslashes(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push('\\');
    }
}

/// `ASTEQNode`: numbers by value; same classes by `equals`; otherwise by `toString()`.
fn equals(l: &Val<'_>, r: &Val<'_>) -> bool {
    if l.is_number() && r.is_number() {
        return compare(l, r) == 0;
    }
    match (l, r) {
        (Val::Null, Val::Null) => true,
        (Val::Null, _) | (_, Val::Null) => false,
        _ if l.class_name() == r.class_name() => l.java_equals(r),
        _ => l.java_string() == r.java_string(),
    }
}

/// `MathUtils.compare`.
fn compare(l: &Val<'_>, r: &Val<'_>) -> i32 {
    let ints = |v: &Val<'_>| match v {
        Val::Int(i) => Some(i128::from(*i)),
        Val::Long(x) => Some(i128::from(*x)),
        Val::Big(b) => Some(*b),
        _ => None,
    };
    let ord = match (ints(l), ints(r)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => {
            let (a, b) = (
                l.as_f64().unwrap_or(f64::NAN),
                r.as_f64().unwrap_or(f64::NAN),
            );
            if a < b {
                std::cmp::Ordering::Less
            } else if a > b {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        }
    };
    ord as i32
}

/// `ASTMathNode` and `MathUtils`: `+` joins text when a side is a string; numbers keep
/// the wider of the two integer types, overflow widens, a double makes a double;
/// anything else (and division by zero) is null.
fn arithmetic<'a>(op: BinOp, l: Val<'a>, r: Val<'a>, l_lit: &str, r_lit: &str) -> Val<'a> {
    if op == BinOp::Add && (l.as_str().is_some() || r.as_str().is_some()) {
        let ls = if l.is_null() {
            l_lit.to_owned()
        } else {
            l.java_string()
        };
        let rs = if r.is_null() && !l.is_null() {
            r_lit.to_owned()
        } else {
            r.java_string()
        };
        return Val::string(ls + &rs);
    }
    if !l.is_number() || !r.is_number() {
        return Val::Null;
    }
    let zero = match &r {
        Val::Int(0) | Val::Long(0) | Val::Big(0) => true,
        Val::Double(d) => *d == 0.0,
        _ => false,
    };
    if zero && matches!(op, BinOp::Div | BinOp::Mod) {
        return Val::Null;
    }
    let int = |v: &Val<'_>| match v {
        Val::Int(i) => Some((i128::from(*i), 0u8)),
        Val::Long(x) => Some((i128::from(*x), 1u8)),
        Val::Big(b) => Some((*b, 2u8)),
        _ => None,
    };
    match (int(&l), int(&r)) {
        (Some((a, ka)), Some((b, kb))) => {
            let result = match op {
                BinOp::Add => a.checked_add(b),
                BinOp::Sub => a.checked_sub(b),
                BinOp::Mul => a.checked_mul(b),
                BinOp::Div => {
                    if ka.max(kb) < 2 {
                        // long arithmetic: Long.MIN_VALUE / -1 wraps.
                        Some(i128::from((a as i64).wrapping_div(b as i64)))
                    } else {
                        a.checked_div(b)
                    }
                }
                _ => {
                    if ka.max(kb) < 2 {
                        Some(i128::from((a as i64).wrapping_rem(b as i64)))
                    } else {
                        a.checked_rem(b)
                    }
                }
            };
            match result {
                Some(v) if ka.max(kb) == 0 => Val::integer(v),
                Some(v) => match i64::try_from(v) {
                    Ok(l) if ka.max(kb) == 1 => Val::Long(l),
                    _ => Val::Big(v),
                },
                // Beyond 128 bits: a double (BigInteger has no limit; documented).
                None => double_op(op, a as f64, b as f64),
            }
        }
        _ => double_op(
            op,
            l.as_f64().unwrap_or(f64::NAN),
            r.as_f64().unwrap_or(f64::NAN),
        ),
    }
}

fn double_op<'a>(op: BinOp, a: f64, b: f64) -> Val<'a> {
    Val::Double(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        _ => a % b,
    })
}
