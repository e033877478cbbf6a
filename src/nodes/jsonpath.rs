//! Translation-map paths, evaluated as Genesys evaluates them: with Jayway JsonPath's
//! rules on top of the RFC 9535 evaluator of `serde_json_path`.
//!
//! What Jayway adds, and this module reproduces:
//!
//! - **Definite and indefinite paths.** A path with a deep scan (`..`), a wildcard
//!   (`*`), a filter (`[?(…)]`), a slice (`[1:]`) or several names or indexes in one
//!   bracket is *indefinite*: its value is always an array of the matches (`[]` when
//!   nothing matches, `["x"]` for one match). Any other path is *definite*: its value is
//!   the one match itself, and a path that matches nothing *fails to resolve*.
//! - **Missing properties.** While a path is still definite, a missing property on the
//!   way (not the last step), or a step into a value that is not an object or array,
//!   fails the whole path, even if it turns indefinite later
//!   (`$.results[0].data..count` fails when `results` is missing; it is `[]` when
//!   `results[0].data` holds no `count`). An index past the end does not fail.
//! - **Paths without `$`** (`['participants'][?(@.purpose=='external')]`): Jayway
//!   prefixes `$.`.
//! - **Functions at the end** (`.length()`, `.size()`, `.sum()`, `.min()`, `.max()`,
//!   `.avg()`, `.stddev()`, `.first()`, `.last()`, `.keys()`), applied to the value of
//!   the path before them.
//!
//! A translation whose path fails to resolve takes its default (`translationMapDefaults`);
//! one that resolves to `null` does not ("Null values do not fall back to defaults",
//! <https://help.mypurecloud.com/articles/response-configuration-data-actions/>).

use serde_json::{Number, Value};
use serde_json_path::JsonPath;

/// A parsed translation-map path.
#[derive(Debug, Clone)]
pub struct TranslationPath {
    source: String,
    query: JsonPath,
    definite: bool,
    /// The steps before the first indefinite one (all steps of a definite path).
    prefix: Vec<Step>,
    function: Option<Function>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function {
    Length,
    Sum,
    Min,
    Max,
    Avg,
    Stddev,
    First,
    Last,
    Keys,
}

const FUNCTIONS: &[(&str, Function)] = &[
    ("length", Function::Length),
    ("size", Function::Length),
    ("sum", Function::Sum),
    ("min", Function::Min),
    ("max", Function::Max),
    ("avg", Function::Avg),
    ("stddev", Function::Stddev),
    ("first", Function::First),
    ("last", Function::Last),
    ("keys", Function::Keys),
];

impl TranslationPath {
    /// Parses a Jayway-style path. The error says what is not supported or not valid.
    pub fn parse(path: &str) -> Result<TranslationPath, String> {
        let source = path.to_owned();
        let mut text = path.trim().to_owned();
        if text.is_empty() {
            return Err("the path is empty; e.g. `$.status`".into());
        }
        // A function at the end.
        let mut function = None;
        for (name, f) in FUNCTIONS {
            let suffix = format!(".{name}()");
            if let Some(stripped) = text.strip_suffix(&suffix) {
                function = Some(*f);
                text = stripped.to_owned();
                break;
            }
        }
        if !text.starts_with('$') {
            // Jayway prefixes `$.` to a path without a root.
            text = if text.starts_with('[') {
                format!("${text}")
            } else {
                format!("$.{text}")
            };
        }
        let normalized = normalize(&text);
        let (prefix, definite) = scan(&normalized)?;
        let query = JsonPath::parse(&normalized).map_err(|e| {
            format!("`{path}` is not a JSONPath this crate evaluates (Jayway filter operators such as `=~`, `in`, `size` are not supported): {e}")
        })?;
        Ok(TranslationPath {
            source,
            query,
            definite,
            prefix,
            function,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the path is definite (its value is one match, not an array of matches).
    pub fn is_definite(&self) -> bool {
        self.definite || self.function.is_some()
    }

    /// The value of the path in `doc`, or `None` when it fails to resolve (so the
    /// translation takes its default).
    pub fn evaluate(&self, doc: &Value) -> Option<Value> {
        let value = if self.definite {
            let nodes = self.query.query(doc).all();
            match nodes.as_slice() {
                [one] => (*one).clone(),
                _ => return None,
            }
        } else {
            self.check_prefix(doc)?;
            Value::Array(self.query.query(doc).all().into_iter().cloned().collect())
        };
        match self.function {
            None => Some(value),
            Some(f) => apply(f, value),
        }
    }

    /// Jayway's rule while the path is definite: a missing property, or a step into
    /// something that is not an object (name) or array (index), fails; an index past
    /// the end does not.
    fn check_prefix(&self, doc: &Value) -> Option<()> {
        let mut current = doc;
        for step in &self.prefix {
            current = match (step, current) {
                (Step::Name(name), Value::Object(map)) => map.get(name)?,
                (Step::Index(i), Value::Array(items)) => {
                    let at = if *i < 0 {
                        i64::try_from(items.len()).ok()? + i
                    } else {
                        *i
                    };
                    match usize::try_from(at).ok().and_then(|at| items.get(at)) {
                        Some(v) => v,
                        // Out of bounds: no match, not a failure.
                        None => return Some(()),
                    }
                }
                _ => return None,
            };
        }
        Some(())
    }
}

/// `$.['a']` (Jayway accepts a dot before a bracket) as `$['a']`, outside quotes.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut quote: Option<char> = None;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    out.push(c);
                } else if c == '.' && chars.peek() == Some(&'[') && !out.ends_with('.') {
                    // drop the dot
                } else {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The definite prefix of a normalized path, and whether the whole path is definite.
fn scan(path: &str) -> Result<(Vec<Step>, bool), String> {
    let b = path.as_bytes();
    let mut i = 1; // after `$`
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1) == Some(&b'.') => return Ok((steps, false)),
            b'.' if b.get(i + 1) == Some(&b'*') => return Ok((steps, false)),
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && !matches!(b[j], b'.' | b'[') {
                    j += 1;
                }
                if j == start {
                    return Err(format!("`{path}` has an empty name after `.`"));
                }
                steps.push(Step::Name(path[start..j].to_owned()));
                i = j;
            }
            b'[' => {
                let close =
                    bracket_end(path, i).ok_or_else(|| format!("`{path}` has an unclosed `[`"))?;
                let inner = path[i + 1..close].trim();
                match single_selector(inner) {
                    Some(step) => steps.push(step),
                    None => return Ok((steps, false)),
                }
                i = close + 1;
            }
            _ => {
                return Err(format!(
                    "`{path}` is not a JSONPath (unexpected `{}`)",
                    char::from(b[i])
                ))
            }
        }
    }
    Ok((steps, true))
}

/// The index of the `]` closing the `[` at `open`, skipping quoted text and nesting.
fn bracket_end(path: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let b = path.as_bytes();
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// A bracket's content when it selects exactly one name or index.
fn single_selector(inner: &str) -> Option<Step> {
    if let Ok(i) = inner.parse::<i64>() {
        return Some(Step::Index(i));
    }
    for q in ['\'', '"'] {
        if inner.len() >= 2 && inner.starts_with(q) && inner.ends_with(q) {
            let body = &inner[1..inner.len() - 1];
            // One quoted name, not `'a','b'`.
            if !body.contains(q) {
                return Some(Step::Name(body.replace("\\'", "'").replace("\\\"", "\"")));
            }
        }
    }
    None
}

fn number(x: f64) -> Option<Value> {
    Number::from_f64(x).map(Value::Number)
}

/// A Jayway path function on the path's value; `None` when it does not apply.
fn apply(f: Function, value: Value) -> Option<Value> {
    let numbers = |items: &[Value]| -> Option<Vec<f64>> {
        let ns: Vec<f64> = items.iter().filter_map(Value::as_f64).collect();
        (!ns.is_empty()).then_some(ns)
    };
    match (f, value) {
        (Function::Length, Value::Array(items)) => Some(Value::from(items.len())),
        (Function::Length, Value::Object(map)) => Some(Value::from(map.len())),
        (Function::Length, Value::String(s)) => Some(Value::from(s.encode_utf16().count())),
        (Function::Keys, Value::Object(map)) => Some(Value::Array(
            map.keys().map(|k| Value::String(k.clone())).collect(),
        )),
        (Function::First, Value::Array(items)) => items.into_iter().next(),
        (Function::Last, Value::Array(items)) => items.into_iter().last(),
        (Function::Sum, Value::Array(items)) => number(numbers(&items)?.iter().sum()),
        (Function::Min, Value::Array(items)) => {
            number(numbers(&items)?.into_iter().fold(f64::INFINITY, f64::min))
        }
        (Function::Max, Value::Array(items)) => number(
            numbers(&items)?
                .into_iter()
                .fold(f64::NEG_INFINITY, f64::max),
        ),
        (Function::Avg, Value::Array(items)) => {
            let ns = numbers(&items)?;
            number(ns.iter().sum::<f64>() / ns.len() as f64)
        }
        (Function::Stddev, Value::Array(items)) => {
            let ns = numbers(&items)?;
            let n = ns.len() as f64;
            let mean = ns.iter().sum::<f64>() / n;
            number((ns.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(path: &str, doc: &Value) -> Option<Value> {
        TranslationPath::parse(path).unwrap().evaluate(doc)
    }

    #[test]
    fn definite_paths_give_the_match_or_fail() {
        let doc = json!({"status": "ok", "n": null, "a": {"b": [1, 2]}});
        assert_eq!(eval("$.status", &doc), Some(json!("ok")));
        assert_eq!(eval("$.n", &doc), Some(Value::Null), "null resolves");
        assert_eq!(eval("$.missing", &doc), None);
        assert_eq!(eval("$.a.b[1]", &doc), Some(json!(2)));
        assert_eq!(eval("$.a.b[-1]", &doc), Some(json!(2)));
        assert_eq!(eval("$.a.b[5]", &doc), None);
        assert_eq!(eval("$.status.x", &doc), None);
        assert_eq!(eval("status", &doc), Some(json!("ok")), "no `$`");
        assert_eq!(eval("$['a']['b'][0]", &doc), Some(json!(1)));
    }

    #[test]
    fn indefinite_paths_give_arrays() {
        let doc = json!({"participants": [
            {"purpose": "customer", "id": "c"},
            {"purpose": "acd", "id": "a", "sessions": [{"flowInType": "agent"}]}
        ]});
        assert_eq!(
            eval("$.participants[?(@.purpose=='acd')].id", &doc),
            Some(json!(["a"]))
        );
        assert_eq!(
            eval("$.participants[?(@.purpose=='x')].id", &doc),
            Some(json!([]))
        );
        assert_eq!(eval("$..id", &doc), Some(json!(["c", "a"])));
        assert_eq!(
            eval("$.participants[*].purpose", &doc),
            Some(json!(["customer", "acd"]))
        );
        assert_eq!(eval("$.participants[1:].id", &doc), Some(json!(["a"])));
        assert_eq!(
            eval(
                "$..participants[?(@.purpose == 'acd' && @.sessions[0].flowInType == 'agent')].id",
                &doc
            ),
            Some(json!(["a"]))
        );
        // A missing property before the path turns indefinite fails it.
        assert_eq!(eval("$.nothing[?(@.purpose=='acd')].id", &doc), None);
        assert_eq!(eval("$.participants[9].sessions[*]", &doc), Some(json!([])));
    }

    #[test]
    fn functions_apply_to_the_value() {
        let doc = json!({"items": [1, 2, 3], "o": {"a": 1}});
        assert_eq!(eval("$.items.length()", &doc), Some(json!(3)));
        assert_eq!(eval("$.items[*].length()", &doc), Some(json!(3)));
        assert_eq!(eval("$.o.keys()", &doc), Some(json!(["a"])));
        assert_eq!(eval("$.items.sum()", &doc), Some(json!(6.0)));
        assert!(TranslationPath::parse("$.items.length()")
            .unwrap()
            .is_definite());
    }

    #[test]
    fn jayway_filter_operators_are_refused() {
        assert!(TranslationPath::parse("$.a[?(@.b =~ /x/)]").is_err());
        assert!(TranslationPath::parse("$.a[").is_err());
        assert!(TranslationPath::parse("").is_err());
    }
}
