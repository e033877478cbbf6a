//! The parsed form of a template: what `Parser.jjt` of Velocity 1.7 builds, reduced to
//! what rendering needs. Positions are byte offsets into the template's source.

use std::sync::Arc;

/// A sequence of statements.
pub(crate) type Body = Vec<Node>;

/// One statement.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal output (text, comments' leftovers, resolved escapes).
    Text(Arc<str>),
    /// `$ref`, `${ref}`, `$!ref`, with any chain of properties, methods and indexes.
    Ref(Box<Ref>),
    /// `#if/#elseif/#else/#end`.
    If(Box<If>),
    /// `#set($ref = expr)`.
    Set(Box<Set>),
    /// `#foreach($var in expr) … #end`.
    Foreach(Box<Foreach>),
    /// `#define($name) … #end`.
    Define(Box<Define>),
    /// `#evaluate(expr)`.
    Evaluate(Box<Expr>, u32),
    /// `#name(args)`: a macro call, or an unknown directive rendered as its text.
    Call(Box<Call>),
    /// `#break` or `#break($scope)`.
    Break(Option<Box<Expr>>, u32),
    /// `#stop`.
    Stop,
    /// `#include` or `#parse`: there are no resources to load.
    Resource(&'static str, u32),
}

/// A reference.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    pub(crate) pos: u32,
    /// Backslashes written before the `$`.
    pub(crate) escapes: u32,
    pub(crate) quiet: bool,
    pub(crate) root: Arc<str>,
    pub(crate) chain: Vec<Access>,
    /// The source text from `$` to the end of the reference: what a missing value renders.
    pub(crate) literal: Box<str>,
    /// `$\!x`: never evaluated, always renders `literal`.
    pub(crate) slashbang: bool,
}

/// One step of a reference after its root.
#[derive(Debug, Clone)]
pub(crate) enum Access {
    /// `.name`
    Property(Arc<str>),
    /// `.name(args)`
    Method(Arc<str>, Vec<Expr>),
    /// `[arg]`
    Index(Box<Expr>),
}

/// `#if` with its `#elseif` branches and `#else`.
#[derive(Debug, Clone)]
pub(crate) struct If {
    pub(crate) branches: Vec<(Expr, Body)>,
    pub(crate) otherwise: Option<Body>,
}

/// `#set`.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    pub(crate) target: Ref,
    pub(crate) value: Expr,
    pub(crate) pos: u32,
}

/// `#foreach`.
#[derive(Debug, Clone)]
pub(crate) struct Foreach {
    pub(crate) var: Arc<str>,
    /// Missing when the directive has fewer than three arguments (renders nothing).
    pub(crate) iterable: Option<Expr>,
    pub(crate) body: Body,
    pub(crate) pos: u32,
}

/// `#define`.
#[derive(Debug, Clone)]
pub(crate) struct Define {
    pub(crate) name: Arc<str>,
    pub(crate) body: Arc<Body>,
}

/// A call of a macro, or of a directive Velocity does not know.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) name: Arc<str>,
    pub(crate) args: Vec<Expr>,
    /// The call's source text, rendered when no macro of that name exists.
    pub(crate) literal: Box<str>,
    pub(crate) pos: u32,
}

/// A `#macro` definition.
#[derive(Debug, Clone)]
pub(crate) struct MacroDef {
    pub(crate) name: Arc<str>,
    pub(crate) params: Vec<Arc<str>>,
    pub(crate) body: Arc<Body>,
}

/// An expression (directive arguments, method arguments, `#set` and `#if`).
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// A string literal without interpolation.
    Str(Arc<str>),
    /// A double-quoted string literal with `$` or `#`: rendered as a template. The flag
    /// says whether the last character (the space Velocity appends) is removed.
    Interpolated(Arc<Body>, bool),
    /// `Integer` literal.
    Int(i32),
    /// `Long` literal.
    Long(i64),
    /// `BigInteger` literal (within 128 bits).
    Big(i128),
    /// `Double` literal.
    Double(f64),
    Bool(bool),
    Ref(Box<Ref>),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{k: v}`
    Map(Vec<(Expr, Expr)>),
    /// `[n..m]`
    Range(Box<(Expr, Expr)>),
    /// A bare word (`in` of `#foreach`, a macro name); its value is null.
    Word(Arc<str>),
    Binary(BinOp, Box<(Expr, Expr)>, Box<(Box<str>, Box<str>)>),
    Not(Box<Expr>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}
