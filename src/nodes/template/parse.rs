//! The template parser: a hand-written port of the lexical states and productions of
//! Velocity 1.7's `Parser.jjt` (DEFAULT, REFERENCE, PRE_DIRECTIVE, DIRECTIVE and their
//! longest-match rules), so that text, escapes, white space around directives and
//! malformed input come out as Velocity's own parser makes them.

use std::sync::Arc;

use super::ast::{Access, BinOp, Body, Call, Define, Expr, Foreach, If, MacroDef, Node, Ref, Set};

/// A syntax error at a byte offset of the outermost template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: u32,
    pub(crate) message: String,
}

/// How deeply blocks, expressions and string literals may nest.
const MAX_DEPTH: u32 = 64;

/// Directives Velocity 1.7 registers (`directive.properties`).
const DIRECTIVES: &[&str] = &[
    "foreach", "include", "parse", "macro", "literal", "evaluate", "break", "define", "stop",
];

/// Parses `src`; positions are reported as `base` plus the offset in `src`.
/// `macros` holds the macros defined so far (outer template, earlier units).
pub(crate) fn parse(src: &str, base: u32, macros: &mut Vec<MacroDef>) -> Result<Body, SyntaxError> {
    parse_at(src, base, macros, 0)
}

/// [`parse`] of text nested `depth` levels deep (an interpolated string literal).
fn parse_at(
    src: &str,
    base: u32,
    macros: &mut Vec<MacroDef>,
    depth: u32,
) -> Result<Body, SyntaxError> {
    let mut p = Parser {
        src,
        b: src.as_bytes(),
        pos: 0,
        base,
        depth,
        macros,
        last_end: None,
    };
    let (body, term) = p.statements()?;
    match term {
        Term::Eof => Ok(body),
        Term::End(at) => Err(p.error_at(
            at,
            "`#end` without an open `#if`, `#foreach`, `#macro` or `#define`",
        )),
        Term::Else(at) => Err(p.error_at(at, "`#else` without an open `#if`")),
        Term::ElseIf(_, at) => Err(p.error_at(at, "`#elseif` without an open `#if`")),
    }
}

/// What ended a sequence of statements.
enum Term {
    Eof,
    End(usize),
    Else(usize),
    ElseIf(Expr, usize),
}

struct Parser<'s, 'm> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    base: u32,
    depth: u32,
    macros: &'m mut Vec<MacroDef>,
    /// Where the last block's `#end` started (for `#literal`).
    last_end: Option<usize>,
}

/// Statements being collected, with adjacent text merged.
#[derive(Default)]
struct Out {
    nodes: Vec<Node>,
    text: String,
}

impl Out {
    fn text(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn node(&mut self, node: Node) {
        self.flush();
        self.nodes.push(node);
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            self.nodes.push(Node::Text(text.into()));
        }
    }

    fn finish(mut self) -> Body {
        self.flush();
        self.nodes
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn is_word_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'@'
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl Parser<'_, '_> {
    fn error_at<T: Into<String>>(&self, at: usize, message: T) -> SyntaxError {
        SyntaxError {
            pos: self
                .base
                .saturating_add(u32::try_from(at).unwrap_or(u32::MAX)),
            message: message.into(),
        }
    }

    fn err<R>(&self, at: usize, message: impl Into<String>) -> Result<R, SyntaxError> {
        Err(self.error_at(at, message))
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }

    fn abs(&self, i: usize) -> u32 {
        self.base
            .saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(
                self.pos,
                format!("nested more than {MAX_DEPTH} levels deep"),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn knows_macro(&self, name: &str) -> bool {
        self.macros.iter().any(|m| &*m.name == name)
    }

    /// `( Statement )*` up to the end of input or a block terminator.
    fn statements(&mut self) -> Result<(Body, Term), SyntaxError> {
        self.enter()?;
        let result = self.statements_inner();
        self.leave();
        result
    }

    fn statements_inner(&mut self) -> Result<(Body, Term), SyntaxError> {
        let mut out = Out::default();
        while let Some(c) = self.at(self.pos) {
            // SET_DIRECTIVE takes the white space before it when a token starts there.
            if matches!(c, b' ' | b'\t' | b'#') {
                if let Some(after) = self.match_set(self.pos) {
                    let start = self.pos;
                    self.pos = after;
                    let node = self.set_directive(start)?;
                    out.node(node);
                    continue;
                }
            }
            match c {
                b'\\' => self.backslashes(&mut out)?,
                b'$' => self.dollar(self.pos, 0, &mut out)?,
                b'#' => {
                    if let Some(term) = self.hash(&mut out)? {
                        return Ok((out.finish(), term));
                    }
                }
                _ => {
                    let start = self.pos;
                    while let Some(c) = self.at(self.pos) {
                        if matches!(c, b'$' | b'#' | b'\\') {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.text(&self.src[start..self.pos]);
                }
            }
        }
        Ok((out.finish(), Term::Eof))
    }

    /// `[ \t]* ("#set" | "#{set}") " "* "("` at `i`: the position after the `(`.
    fn match_set(&self, mut i: usize) -> Option<usize> {
        while matches!(self.at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        let rest = &self.b[i..];
        let len = if rest.starts_with(b"#set") {
            4
        } else if rest.starts_with(b"#{set}") {
            6
        } else {
            return None;
        };
        i += len;
        while self.at(i) == Some(b' ') {
            i += 1;
        }
        (self.at(i) == Some(b'(')).then_some(i + 1)
    }

    /// Backslashes: escaped references and directives, or literal text.
    fn backslashes(&mut self, out: &mut Out) -> Result<(), SyntaxError> {
        let start = self.pos;
        let mut q = start;
        while self.at(q) == Some(b'\\') {
            q += 1;
        }
        let n = q - start;
        if self.at(q) == Some(b'$') {
            return self.dollar(start, n, out);
        }
        if self.at(q) == Some(b'#') {
            if let Some((name, end)) = self.word_at(q + 1) {
                if n % 2 == 1 {
                    // ESCAPE_DIRECTIVE: `\#word` with any pairs of backslashes before it.
                    let image = &self.src[q..end];
                    if self.recognized(&name) {
                        out.text(&"\\".repeat((n - 1) / 2));
                        out.text(image);
                    } else {
                        out.text(&self.src[start..end]);
                    }
                    self.pos = end;
                    return Ok(());
                }
                // Pairs before a directive: each pair renders one backslash.
                if self.controls(q, &name) {
                    out.text(&"\\".repeat(n / 2));
                    self.pos = q;
                    return Ok(());
                }
            }
        }
        out.text(&self.src[start..q]);
        self.pos = q;
        Ok(())
    }

    /// Whether an escaped `#name` is a directive (so the escape is absorbed).
    fn recognized(&self, name: &str) -> bool {
        matches!(name, "if" | "end" | "set" | "else" | "elseif")
            || DIRECTIVES.contains(&name)
            || self.knows_macro(name)
    }

    /// Whether the token at `hash` (a `#`) makes preceding `\\` pairs a control escape.
    fn controls(&self, hash: usize, name: &str) -> bool {
        // `#{if}` and friends are IF/ELSE/ELSEIF/END tokens too; other bracketed words
        // are compared with their braces, so they never match a directive name.
        let bare = name.trim_start_matches('{').trim_end_matches('}');
        let bracketed = self.at(hash + 1) == Some(b'{');
        if matches!(bare, "if" | "else" | "elseif" | "end") {
            return true;
        }
        !bracketed && (DIRECTIVES.contains(&bare) || self.knows_macro(bare))
    }

    /// WORD or BRACKETED_WORD at `i`: its name (braces stripped) and end.
    fn word_at(&self, i: usize) -> Option<(String, usize)> {
        match self.at(i)? {
            b'{' => {
                let first = self.at(i + 1)?;
                if !(first.is_ascii_alphabetic() || first == b'_') {
                    return None;
                }
                let mut j = i + 2;
                while self.at(j).is_some_and(is_word) {
                    j += 1;
                }
                (self.at(j) == Some(b'}')).then(|| (self.src[i + 1..j].to_owned(), j + 1))
            }
            c if is_word_start(c) => {
                let mut j = i + 1;
                while self.at(j).is_some_and(is_word) {
                    j += 1;
                }
                Some((self.src[i..j].to_owned(), j))
            }
            _ => None,
        }
    }

    /// A `$` (after `n` backslashes starting at `start`): a reference, or text.
    fn dollar(&mut self, start: usize, n: usize, out: &mut Out) -> Result<(), SyntaxError> {
        let q = start + n;
        if n == 0 {
            // EMPTY_INDEX: `$[`, `$![`, `$\![`, `$.` are text.
            for empty in ["$[", "$![", "$\\![", "$."] {
                if self.b[q..].starts_with(empty.as_bytes()) {
                    out.text(empty);
                    self.pos = q + empty.len();
                    return Ok(());
                }
            }
        }
        let mut r = q + 1;
        while self.at(r) == Some(b'\\') {
            r += 1;
        }
        let inner = r - (q + 1);
        let bang = self.at(r) == Some(b'!');
        let t = if bang { r + 1 } else { q + 1 };
        let Some(c) = self.at(t) else {
            return self.err(
                q,
                "a `$` at the end of the template: write `\\$` or `${esc.d}` for a literal dollar",
            );
        };
        let formal = c == b'{' && self.at(t + 1).is_some_and(is_ident_start);
        if formal || is_ident_start(c) {
            self.pos = start;
            let reference = self.reference(n, bang, inner)?;
            out.node(Node::Ref(Box::new(reference)));
            return Ok(());
        }
        if c == b'{' {
            // LCURLY that starts no reference: text as written.
            out.text(&self.src[start..t + 1]);
            self.pos = t + 1;
            return Ok(());
        }
        // Not a reference: only the backslashes and the `$` remain (`$!x` loses its `!`).
        out.text(&self.src[start..q + 1]);
        self.pos = t;
        Ok(())
    }

    /// A reference at `self.pos` (its backslashes first). `n` backslashes before `$`,
    /// `bang` for `$!`, `inner` backslashes between `$` and `!`.
    fn reference(&mut self, n: usize, bang: bool, inner: usize) -> Result<Ref, SyntaxError> {
        let start = self.pos + n;
        let mut i = start + 1 + if bang { inner + 1 } else { 0 };
        let formal = self.at(i) == Some(b'{');
        if formal {
            i += 1;
        }
        let root_start = i;
        if !self.at(i).is_some_and(is_ident_start) {
            return self.err(start, "expected a name after `$`");
        }
        while self.at(i).is_some_and(is_ident) {
            i += 1;
        }
        let root = &self.src[root_start..i];
        if root == "true" || root == "false" {
            return self.err(
                root_start,
                format!("`${root}` is not a reference: `{root}` is a keyword"),
            );
        }
        self.pos = i;
        let chain = self.chain()?;
        if formal {
            if self.at(self.pos) != Some(b'}') {
                return self.err(
                    start,
                    format!(
                        "unclosed `${{`: add `}}` after `{}`",
                        &self.src[root_start..self.pos]
                    ),
                );
            }
            self.pos += 1;
        }
        let source = &self.src[start..self.pos];
        let slashbang = bang && inner > 0;
        let literal = if slashbang {
            // `$\!x` renders as `$!x` (one backslash fewer, escapes before `$` kept as
            // written), and is never evaluated.
            let mut l = self.src[start - n..start].to_owned();
            l.push('$');
            l.push_str(&"\\".repeat(inner - 1));
            l.push_str(&source[1 + inner..]);
            l
        } else {
            source.to_owned()
        };
        Ok(Ref {
            pos: self.abs(start),
            escapes: u32::try_from(n).unwrap_or(u32::MAX),
            quiet: bang,
            root: root.into(),
            chain,
            literal: literal.into_boxed_str(),
            slashbang,
        })
    }

    /// `(Index)* ( "." (Method | Identifier) (Index)* )*`
    fn chain(&mut self) -> Result<Vec<Access>, SyntaxError> {
        let mut chain = Vec::new();
        loop {
            match self.at(self.pos) {
                Some(b'[') => {
                    let index = self.index()?;
                    chain.push(Access::Index(Box::new(index)));
                }
                Some(b'.')
                    if self
                        .at(self.pos + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic()) =>
                {
                    let name_start = self.pos + 1;
                    let mut j = name_start;
                    while self.at(j).is_some_and(is_ident) {
                        j += 1;
                    }
                    let name = &self.src[name_start..j];
                    if name == "true" || name == "false" {
                        return self.err(
                            name_start,
                            format!("`.{name}` is not a property: `{name}` is a keyword"),
                        );
                    }
                    if self.at(j) == Some(b'(') && self.method_follows(j + 1) {
                        self.pos = j + 1;
                        let args = self.method_args()?;
                        chain.push(Access::Method(name.into(), args));
                    } else {
                        self.pos = j;
                        chain.push(Access::Property(name.into()));
                    }
                }
                _ => return Ok(chain),
            }
        }
    }

    /// LOOKAHEAD(3) of `Method`: what follows `(` can start a parameter or close it.
    fn method_follows(&self, i: usize) -> bool {
        match self.at(i) {
            Some(c) => {
                is_ws(c)
                    || matches!(c, b'"' | b'\'' | b'[' | b'{' | b'$' | b')' | b'-' | b'.')
                    || c.is_ascii_digit()
                    || is_ident_start(c)
            }
            None => false,
        }
    }

    /// Arguments after `(` up to and including `)`.
    fn method_args(&mut self) -> Result<Vec<Expr>, SyntaxError> {
        self.enter()?;
        let mut args = Vec::new();
        self.skip_ws();
        if self.at(self.pos) == Some(b')') {
            self.pos += 1;
            self.leave();
            return Ok(args);
        }
        loop {
            args.push(self.parameter()?);
            match self.at(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return self.err(
                        self.pos,
                        "expected `,` or `)` in the arguments of a method call",
                    )
                }
            }
        }
        self.leave();
        Ok(args)
    }

    /// `[` IndexParameter `]`
    fn index(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        self.skip_ws();
        let value = match self.at(self.pos) {
            Some(b'"' | b'\'') => self.string_literal()?,
            Some(b'$') => Expr::Ref(Box::new(self.expr_reference()?)),
            Some(c) if c.is_ascii_digit() || c == b'-' => match self.number()? {
                e @ (Expr::Int(_) | Expr::Long(_) | Expr::Big(_)) => e,
                _ => {
                    return self.err(
                        open,
                        "an index is an integer, a string, a boolean or a reference",
                    )
                }
            },
            Some(_) if self.keyword("true") => Expr::Bool(true),
            Some(_) if self.keyword("false") => Expr::Bool(false),
            _ => {
                return self.err(
                    open,
                    "an index is an integer, a string, a boolean or a reference",
                )
            }
        };
        self.skip_ws();
        if self.at(self.pos) != Some(b']') {
            return self.err(open, "unclosed `[`: add `]`");
        }
        self.pos += 1;
        Ok(value)
    }

    fn skip_ws(&mut self) {
        while self.at(self.pos).is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// Consumes keyword `word` if it is at the cursor and not followed by a word character.
    fn keyword(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        if self.b[self.pos..].starts_with(word.as_bytes()) && !self.at(end).is_some_and(is_word) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// A reference inside a directive or argument list (its `$` at the cursor, maybe
    /// after backslashes).
    fn expr_reference(&mut self) -> Result<Ref, SyntaxError> {
        let start = self.pos;
        let mut q = start;
        while self.at(q) == Some(b'\\') {
            q += 1;
        }
        let n = q - start;
        if self.at(q) != Some(b'$') {
            return self.err(start, "expected a reference");
        }
        let mut r = q + 1;
        while self.at(r) == Some(b'\\') {
            r += 1;
        }
        let inner = r - (q + 1);
        let bang = self.at(r) == Some(b'!');
        let t = if bang { r + 1 } else { q + 1 };
        let ok = match self.at(t) {
            Some(b'{') => self.at(t + 1).is_some_and(is_ident_start),
            Some(c) => is_ident_start(c),
            None => false,
        };
        if !ok {
            return self.err(q, "expected a reference after `$`");
        }
        self.reference(n, bang, inner)
    }

    /// Parameter: a literal, a range, a list, a map, a reference (or a bare word).
    fn parameter(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let e = match self.at(self.pos) {
            Some(b'"' | b'\'') => self.string_literal()?,
            Some(b'$' | b'\\') => Expr::Ref(Box::new(self.expr_reference()?)),
            Some(b'[') => self.list_or_range()?,
            Some(b'{') => self.map()?,
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'.' => self.number()?,
            Some(_) if self.keyword("true") => Expr::Bool(true),
            Some(_) if self.keyword("false") => Expr::Bool(false),
            Some(c) if is_ident_start(c) => {
                let start = self.pos;
                while self.at(self.pos).is_some_and(is_ident) {
                    self.pos += 1;
                }
                Expr::Word(self.src[start..self.pos].into())
            }
            _ => {
                return self.err(
                    self.pos,
                    "expected a value: a string, a number, a list, a map or a reference",
                )
            }
        };
        self.skip_ws();
        Ok(e)
    }

    /// `[a, b]` or `[n..m]`.
    fn list_or_range(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        self.enter()?;
        // IntegerRange: `[` (reference | integer) `..` (reference | integer) `]`.
        self.pos += 1;
        self.skip_ws();
        let saved = self.pos;
        let first = match self.at(self.pos) {
            Some(b'$') => self.expr_reference().ok().map(|r| Expr::Ref(Box::new(r))),
            Some(c) if c.is_ascii_digit() || c == b'-' => self.integer_for_range(),
            _ => None,
        };
        if let Some(first) = first {
            self.skip_ws();
            if self.b[self.pos..].starts_with(b"..") {
                self.pos += 2;
                self.skip_ws();
                let second = match self.at(self.pos) {
                    Some(b'$') => Expr::Ref(Box::new(self.expr_reference()?)),
                    Some(c) if c.is_ascii_digit() || c == b'-' => match self.integer_for_range() {
                        Some(e) => e,
                        None => {
                            return self
                                .err(self.pos, "a range ends with an integer or a reference")
                        }
                    },
                    _ => return self.err(self.pos, "a range ends with an integer or a reference"),
                };
                self.skip_ws();
                if self.at(self.pos) != Some(b']') {
                    return self.err(open, "unclosed range: add `]`");
                }
                self.pos += 1;
                self.leave();
                return Ok(Expr::Range(Box::new((first, second))));
            }
        }
        self.pos = saved;
        let mut items = Vec::new();
        if self.at(self.pos) == Some(b']') {
            self.pos += 1;
            self.leave();
            return Ok(Expr::List(items));
        }
        loop {
            items.push(self.parameter()?);
            match self.at(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.err(open, "unclosed list: expected `,` or `]`"),
            }
        }
        self.leave();
        Ok(Expr::List(items))
    }

    fn integer_for_range(&mut self) -> Option<Expr> {
        let start = self.pos;
        let mut i = start;
        if self.at(i) == Some(b'-') {
            i += 1;
        }
        let digits = i;
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if i == digits {
            return None;
        }
        // A fraction makes it a float, which a range does not take.
        if self.at(i) == Some(b'.') && self.at(i + 1) != Some(b'.') {
            return None;
        }
        self.pos = i;
        Some(integer_literal(&self.src[start..i]))
    }

    /// `{k: v, …}`
    fn map(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        let mut entries = Vec::new();
        if self.at(self.pos) == Some(b'}') {
            self.pos += 1;
            self.leave();
            return Ok(Expr::Map(entries));
        }
        loop {
            let key = self.parameter()?;
            if self.at(self.pos) != Some(b':') {
                return self.err(open, "expected `:` between a map's key and value");
            }
            self.pos += 1;
            let value = self.parameter()?;
            entries.push((key, value));
            match self.at(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return self.err(open, "unclosed map: expected `,` or `}`"),
            }
        }
        self.leave();
        Ok(Expr::Map(entries))
    }

    /// INTEGER_LITERAL or FLOATING_POINT_LITERAL at the cursor.
    fn number(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        let mut i = start;
        if self.at(i) == Some(b'-') {
            i += 1;
        }
        let int_start = i;
        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        let has_int = i > int_start;
        let mut float = false;
        if self.at(i) == Some(b'.') && self.at(i + 1) != Some(b'.') {
            let mut j = i + 1;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if has_int || j > i + 1 {
                float = true;
                i = j;
            }
        }
        if !has_int && !float {
            return self.err(start, "expected a number");
        }
        if matches!(self.at(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(self.at(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let digits = j;
            while self.at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if j > digits {
                float = true;
                i = j;
            }
        }
        self.pos = i;
        let text = &self.src[start..i];
        if float {
            Ok(Expr::Double(text.parse().unwrap_or(f64::NAN)))
        } else {
            Ok(integer_literal(text))
        }
    }

    /// A string literal at the cursor.
    fn string_literal(&mut self) -> Result<Expr, SyntaxError> {
        let open = self.pos;
        let Some(quote) = self.at(open) else {
            return self.err(open, "expected a string");
        };
        let mut i = open + 1;
        loop {
            match self.at(i) {
                None => return self.err(open, "unclosed string literal"),
                Some(c) if c == quote => {
                    if self.at(i + 1) == Some(quote) {
                        i += 2;
                    } else {
                        break;
                    }
                }
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        let raw = &self.src[open + 1..i];
        let doubled = if quote == b'"' { "\"\"" } else { "''" };
        let single = if quote == b'"' { "\"" } else { "'" };
        if quote == b'\'' {
            return Ok(Expr::Str(raw.replace(doubled, single).into()));
        }
        let interpolate = raw.contains('$') || raw.contains('#');
        let image = unescape_unicode(raw).map_err(|m| self.error_at(open, m))?;
        let image = image.replace(doubled, single);
        if !interpolate {
            return Ok(Expr::Str(image.into()));
        }
        // Velocity parses the string plus a space (so a trailing `$` is text) and removes
        // the last character again, unless the string holds a `##` comment.
        let has_comment = image.contains("##");
        let mut source = image;
        if !has_comment {
            source.push(' ');
        }
        self.enter()?;
        let body = parse_at(&source, self.abs(open + 1), self.macros, self.depth).map_err(|e| {
            SyntaxError {
                pos: e.pos,
                message: format!("in a string literal: {}", e.message),
            }
        })?;
        self.leave();
        Ok(Expr::Interpolated(Arc::new(body), !has_comment))
    }

    /// After `#`: comments, text blocks, directives, or a literal `#`.
    fn hash(&mut self, out: &mut Out) -> Result<Option<Term>, SyntaxError> {
        let start = self.pos;
        let rest = &self.b[start..];
        if rest.starts_with(b"##") {
            // Up to and including the end of the line.
            let mut i = start + 2;
            while let Some(c) = self.at(i) {
                i += 1;
                if c == b'\n' {
                    break;
                }
                if c == b'\r' {
                    if self.at(i) == Some(b'\n') {
                        i += 1;
                    }
                    break;
                }
            }
            self.pos = i;
            out.flush();
            return Ok(None);
        }
        if rest.starts_with(b"#[[") {
            let body = start + 3;
            let Some(end) = find(&self.b[body..], b"]]#") else {
                return self.err(start, "unclosed `#[[`: add `]]#`");
            };
            out.text(&self.src[body..body + end]);
            self.pos = body + end + 3;
            return Ok(None);
        }
        if rest.starts_with(b"#*") {
            let body = start + 2;
            self.pos = match find(&self.b[body..], b"*#") {
                Some(end) => body + end + 2,
                // An unterminated comment takes the rest of the template.
                None => self.b.len(),
            };
            out.flush();
            return Ok(None);
        }
        let p = start + 1;
        let Some(c) = self.at(p) else {
            return self.err(
                start,
                "a `#` at the end of the template: write `\\#` or `${esc.h}` for a literal hash",
            );
        };
        // END / ELSE / IF / ELSEIF (before WORD: equal lengths go to them).
        if let Some(after) = self.keyword_token(p, "end", true) {
            self.pos = after;
            return Ok(Some(Term::End(start)));
        }
        if let Some(after) = self.keyword_token(p, "if", false) {
            self.pos = after;
            let node = self.if_statement(start)?;
            out.node(node);
            return Ok(None);
        }
        if let Some(after) = self.keyword_token(p, "elseif", false) {
            self.pos = after;
            let cond = self.condition(start, "#elseif")?;
            return Ok(Some(Term::ElseIf(cond, start)));
        }
        if let Some(after) = self.keyword_token(p, "else", true) {
            self.pos = after;
            return Ok(Some(Term::Else(start)));
        }
        if let Some((name, end)) = self.word_at(p) {
            return self.directive(start, name, end, out);
        }
        if c.is_ascii_digit()
            || (matches!(c, b'-' | b'.') && self.at(p + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // A number after `#` is text.
            self.pos = p;
            let before = self.pos;
            let _ = self.number()?;
            out.text("#");
            out.text(&self.src[before..self.pos]);
            return Ok(None);
        }
        // Not a directive: the `#` is text.
        out.text("#");
        self.pos = p;
        Ok(None)
    }

    /// `word` or `{word}` at `p` as its own token (not a prefix of a longer WORD); with
    /// `gobble`, trailing blanks and one newline are part of it.
    fn keyword_token(&self, p: usize, word: &str, gobble: bool) -> Option<usize> {
        let rest = &self.b[p..];
        let end = if rest.starts_with(word.as_bytes()) {
            let end = p + word.len();
            if self.at(end).is_some_and(is_word) {
                return None;
            }
            end
        } else if rest.first() == Some(&b'{')
            && rest[1..].starts_with(word.as_bytes())
            && rest.get(1 + word.len()) == Some(&b'}')
        {
            p + word.len() + 2
        } else {
            return None;
        };
        Some(if gobble { self.gobble_line(end) } else { end })
    }

    /// `( " " | "\t" )* ( "\n" | "\r" | "\r\n" )` at `i`, if present: the position after.
    fn gobble_line(&self, i: usize) -> usize {
        let mut j = i;
        while matches!(self.at(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        match self.at(j) {
            Some(b'\n') => j + 1,
            Some(b'\r') if self.at(j + 1) == Some(b'\n') => j + 2,
            Some(b'\r') => j + 1,
            _ => i,
        }
    }

    /// `[WS] "(" Expression ")"` after `#if`/`#elseif`, with the `)`'s line gobbled.
    fn condition(&mut self, at: usize, what: &str) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        if self.at(self.pos) != Some(b'(') {
            return self.err(
                at,
                format!("`{what}` needs a condition in parentheses: `{what}($x == 1)`"),
            );
        }
        self.pos += 1;
        let cond = self.expression()?;
        self.skip_ws();
        if self.at(self.pos) != Some(b')') {
            return self.err(
                at,
                format!("unclosed `{what}(`: add `)` after the condition"),
            );
        }
        self.pos = self.gobble_line(self.pos + 1);
        Ok(cond)
    }

    fn if_statement(&mut self, start: usize) -> Result<Node, SyntaxError> {
        let first = self.condition(start, "#if")?;
        let mut branches = Vec::new();
        let mut cond = first;
        let mut otherwise = None;
        loop {
            let (body, term) = self.statements()?;
            branches.push((cond, body));
            match term {
                Term::End(_) => break,
                Term::ElseIf(next, _) => cond = next,
                Term::Else(_) => {
                    let (body, term) = self.statements()?;
                    match term {
                        Term::End(_) => {
                            otherwise = Some(body);
                            break;
                        }
                        Term::Eof => return self.err(start, "`#if` without `#end`"),
                        Term::Else(at) => return self.err(at, "a second `#else` in one `#if`"),
                        Term::ElseIf(_, at) => return self.err(at, "`#elseif` after `#else`"),
                    }
                }
                Term::Eof => return self.err(start, "`#if` without `#end`"),
            }
        }
        Ok(Node::If(Box::new(If {
            branches,
            otherwise,
        })))
    }

    /// After SET_DIRECTIVE (`#set(` consumed): `$ref = expression )`.
    fn set_directive(&mut self, start: usize) -> Result<Node, SyntaxError> {
        self.skip_ws();
        if !matches!(self.at(self.pos), Some(b'$' | b'\\')) {
            return self.err(
                start,
                "`#set` assigns to a reference: `#set($name = value)`",
            );
        }
        let target = self.expr_reference()?;
        self.skip_ws();
        if self.at(self.pos) != Some(b'=') || self.at(self.pos + 1) == Some(b'=') {
            return self.err(start, "`#set` needs `=` and a value: `#set($name = value)`");
        }
        self.pos += 1;
        let value = self.expression()?;
        self.skip_ws();
        if self.at(self.pos) != Some(b')') {
            return self.err(start, "unclosed `#set(`: add `)` after the value");
        }
        self.pos = self.gobble_line(self.pos + 1);
        Ok(Node::Set(Box::new(Set {
            target,
            value,
            pos: self.abs(start),
        })))
    }

    /// A directive or macro call named `name` (its word ends at `end`).
    fn directive(
        &mut self,
        start: usize,
        name: String,
        end: usize,
        out: &mut Out,
    ) -> Result<Option<Term>, SyntaxError> {
        let mut i = end;
        while self.at(i).is_some_and(is_ws) {
            i += 1;
        }
        let has_args = self.at(i) == Some(b'(');
        let known = DIRECTIVES.contains(&name.as_str());
        let is_macro = self.knows_macro(&name);
        if !has_args {
            self.pos = end;
            let node = match name.as_str() {
                "break" => Node::Break(None, self.abs(start)),
                "stop" => Node::Stop,
                "macro" => {
                    return self.err(
                        start,
                        "a macro declaration needs a name: `#macro(name $arg)`",
                    )
                }
                d if known => {
                    return self.err(start, format!("`#{d}` needs its arguments in parentheses"))
                }
                _ => Node::Call(Box::new(Call {
                    name: name.into(),
                    args: Vec::new(),
                    literal: self.src[start..end].into(),
                    pos: self.abs(start),
                })),
            };
            out.node(node);
            return Ok(None);
        }
        self.pos = i + 1;
        self.enter()?;
        let mut args = Vec::new();
        loop {
            self.skip_ws();
            match self.at(self.pos) {
                Some(b')') => break,
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                None => return self.err(start, format!("unclosed `#{name}(`: add `)`")),
                _ => {}
            }
            let arg_at = self.pos;
            let arg = match self.at(self.pos) {
                Some(c) if is_word_start(c) && !self.starts_keyword_value() => {
                    let s = self.pos;
                    while self.at(self.pos).is_some_and(is_word) {
                        self.pos += 1;
                    }
                    Expr::Word(self.src[s..self.pos].into())
                }
                Some(b')') => {
                    return self.err(
                        self.pos,
                        format!("an argument of `#{name}` is missing after `,`"),
                    )
                }
                None => return self.err(start, format!("unclosed `#{name}(`: add `)`")),
                _ => self.parameter()?,
            };
            if let Expr::Word(w) = &arg {
                let pos_ok =
                    (name == "foreach" && args.len() == 1) || (name == "macro" && args.is_empty());
                if (known || is_macro) && !pos_ok {
                    return self.err(
                        arg_at,
                        format!("`{w}` is not a valid argument of `#{name}`"),
                    );
                }
            } else if name == "macro" && args.is_empty() {
                return self.err(
                    arg_at,
                    "the first argument of `#macro` is the macro's name, without quotes",
                );
            }
            args.push(arg);
        }
        self.pos += 1;
        self.pos = self.gobble_line(self.pos);
        let args_end = self.pos;
        self.leave();
        let pos = self.abs(start);
        let node = match name.as_str() {
            "foreach" => {
                let var = match args.first() {
                    Some(Expr::Ref(r)) => r.root.clone(),
                    _ => {
                        return self.err(
                            start,
                            "`#foreach` needs a variable: `#foreach($item in $list)`",
                        )
                    }
                };
                let iterable = args.into_iter().nth(2);
                let body = self.block(start, "#foreach")?;
                Node::Foreach(Box::new(Foreach {
                    var,
                    iterable,
                    body,
                    pos,
                }))
            }
            "macro" => {
                let mut it = args.into_iter();
                let Some(Expr::Word(macro_name)) = it.next() else {
                    return self.err(
                        start,
                        "a macro declaration needs a name: `#macro(name $arg)`",
                    );
                };
                let mut params = Vec::new();
                for arg in it {
                    match arg {
                        Expr::Ref(r) if r.chain.is_empty() => params.push(r.root),
                        _ => {
                            return self.err(
                                start,
                                "macro parameters are references: `#macro(name $a $b)`",
                            )
                        }
                    }
                }
                let body = self.block(start, "#macro")?;
                self.macros.push(MacroDef {
                    name: macro_name,
                    params,
                    body: Arc::new(body),
                });
                out.flush();
                return Ok(None);
            }
            "define" => {
                let name = match args.as_slice() {
                    [Expr::Ref(r)] => r.root.clone(),
                    _ => {
                        return self.err(
                            start,
                            "`#define` takes one reference: `#define($name) … #end`",
                        )
                    }
                };
                let body = self.block(start, "#define")?;
                Node::Define(Box::new(Define {
                    name,
                    body: Arc::new(body),
                }))
            }
            "literal" => {
                let body_start = self.pos;
                let _ = self.block(start, "#literal")?;
                // The block's source as written, up to its `#end`.
                let end_at = self.last_end.unwrap_or(self.pos);
                out.text(&self.src[body_start..end_at]);
                return Ok(None);
            }
            "evaluate" => {
                let mut it = args.into_iter();
                match (it.next(), it.next()) {
                    (Some(arg @ (Expr::Str(_) | Expr::Interpolated(..) | Expr::Ref(_))), None) => {
                        Node::Evaluate(Box::new(arg), pos)
                    }
                    _ => return self.err(start, "`#evaluate` takes one string or reference"),
                }
            }
            "break" => {
                let mut it = args.into_iter();
                match (it.next(), it.next()) {
                    (None, _) => Node::Break(None, pos),
                    (Some(arg), None) => Node::Break(Some(Box::new(arg)), pos),
                    _ => return self.err(start, "`#break` takes at most one argument"),
                }
            }
            "stop" => {
                if args.len() > 1 {
                    return self.err(start, "`#stop` takes at most one argument");
                }
                Node::Stop
            }
            "include" | "parse" => Node::Resource(
                if name == "include" {
                    "#include"
                } else {
                    "#parse"
                },
                pos,
            ),
            n if n.starts_with('@') => {
                return self.err(
                    start,
                    "block macro calls (`#@name(…) … #end`) are not supported",
                );
            }
            _ => Node::Call(Box::new(Call {
                name: name.into(),
                args,
                literal: self.src[start..args_end].into(),
                pos,
            })),
        };
        out.node(node);
        Ok(None)
    }

    /// True when a `true`/`false` keyword is at the cursor.
    fn starts_keyword_value(&self) -> bool {
        for word in ["true", "false"] {
            let end = self.pos + word.len();
            if self.b[self.pos..].starts_with(word.as_bytes()) && !self.at(end).is_some_and(is_word)
            {
                return true;
            }
        }
        false
    }

    /// A block up to its `#end`.
    fn block(&mut self, start: usize, what: &str) -> Result<Body, SyntaxError> {
        let (body, term) = self.statements()?;
        match term {
            Term::End(at) => {
                self.last_end = Some(at);
                Ok(body)
            }
            Term::Eof => self.err(start, format!("`{what}` without `#end`")),
            Term::Else(at) => self.err(at, format!("`#else` inside `{what}`")),
            Term::ElseIf(_, at) => self.err(at, format!("`#elseif` inside `{what}`")),
        }
    }

    /// Expression (in `#if`, `#elseif`, `#set`).
    fn expression(&mut self) -> Result<Expr, SyntaxError> {
        self.enter()?;
        let e = self.or_expr();
        self.leave();
        e
    }

    fn binary(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Self) -> Result<Expr, SyntaxError>,
    ) -> Result<Expr, SyntaxError> {
        let lhs_start = self.pos;
        let mut lhs = next(self)?;
        let mut lhs_end = self.pos;
        loop {
            self.skip_ws();
            let Some(op) = self.operator(ops) else {
                return Ok(lhs);
            };
            let rhs_start = self.pos;
            let rhs = next(self)?;
            let lits = (
                self.src[lhs_start..lhs_end].trim().into(),
                self.src[rhs_start..self.pos].trim().into(),
            );
            lhs = Expr::Binary(op, Box::new((lhs, rhs)), Box::new(lits));
            lhs_end = self.pos;
        }
    }

    /// One of `ops` at the cursor (consumed), symbol or word form.
    fn operator(&mut self, ops: &[(&str, BinOp)]) -> Option<BinOp> {
        for &(token, op) in ops {
            let rest = &self.b[self.pos..];
            if !rest.starts_with(token.as_bytes()) {
                continue;
            }
            let end = self.pos + token.len();
            let next = self.at(end);
            let ok = if token.as_bytes()[0].is_ascii_alphabetic() {
                !next.is_some_and(is_word)
            } else {
                match token {
                    // `<`/`>` are not `<=`/`>=`; `-5` is a number, not minus five.
                    "<" | ">" => next != Some(b'='),
                    "-" => !next.is_some_and(|c| c.is_ascii_digit() || c == b'.'),
                    _ => true,
                }
            };
            if ok {
                self.pos = end;
                return Some(op);
            }
        }
        None
    }

    fn or_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(&[("||", BinOp::Or), ("or", BinOp::Or)], Self::and_expr)
    }

    fn and_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(&[("&&", BinOp::And), ("and", BinOp::And)], Self::eq_expr)
    }

    fn eq_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(
            &[
                ("==", BinOp::Eq),
                ("eq", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("ne", BinOp::Ne),
            ],
            Self::rel_expr,
        )
    }

    fn rel_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(
            &[
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
                ("le", BinOp::Le),
                ("ge", BinOp::Ge),
                ("lt", BinOp::Lt),
                ("gt", BinOp::Gt),
            ],
            Self::add_expr,
        )
    }

    fn add_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::mul_expr)
    }

    fn mul_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.binary(
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)],
            Self::unary_expr,
        )
    }

    fn unary_expr(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let bang = self.at(self.pos) == Some(b'!') && self.at(self.pos + 1) != Some(b'=');
        if bang {
            self.pos += 1;
        }
        if bang || self.keyword("not") {
            self.enter()?;
            let inner = self.unary_expr();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        self.skip_ws();
        let e = match self.at(self.pos) {
            Some(b'(') => {
                let open = self.pos;
                self.pos += 1;
                let inner = self.expression()?;
                self.skip_ws();
                if self.at(self.pos) != Some(b')') {
                    return self.err(open, "unclosed `(` in an expression");
                }
                self.pos += 1;
                inner
            }
            Some(b'"' | b'\'') => self.string_literal()?,
            Some(b'$' | b'\\') => Expr::Ref(Box::new(self.expr_reference()?)),
            Some(b'[') => self.list_or_range()?,
            Some(b'{') => self.map()?,
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'.' => self.number()?,
            Some(_) if self.keyword("true") => Expr::Bool(true),
            Some(_) if self.keyword("false") => Expr::Bool(false),
            Some(_) => {
                return self.err(
                    self.pos,
                    "expected a value: a reference, a literal, a list, a map or `(`",
                )
            }
            None => return self.err(self.pos, "the expression is incomplete"),
        };
        self.skip_ws();
        Ok(e)
    }
}

/// An integer literal: `Integer`, else `Long`, else `BigInteger`.
fn integer_literal(text: &str) -> Expr {
    if let Ok(i) = text.parse::<i32>() {
        Expr::Int(i)
    } else if let Ok(l) = text.parse::<i64>() {
        Expr::Long(l)
    } else if let Ok(b) = text.parse::<i128>() {
        Expr::Big(b)
    } else {
        Expr::Double(text.parse().unwrap_or(f64::NAN))
    }
}

/// `\uXXXX` escapes of a double-quoted string literal (the only escapes Velocity 1.7
/// resolves in strings).
fn unescape_unicode(s: &str) -> Result<String, String> {
    if !s.contains("\\u") {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 6).unwrap_or("");
        let code = u32::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.len() == 4)
            .ok_or_else(|| format!("`\\u{hex}` is not a unicode escape (four hex digits)"))?;
        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
        rest = &rest[i + 6..];
    }
    out.push_str(rest);
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
