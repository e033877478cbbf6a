//! The fake's JSONPath for translation maps: a small subset of its own, never the crate's
//! (`genesys_cloud::nodes::TranslationPath`).
//!
//! "Translation maps contain key-value pairs that map property names to the returned
//! values (or object) from the evaluation of JSONPath expressions" ("Response
//! configuration for data actions",
//! <https://help.mypurecloud.com/articles/response-configuration-data-actions/>). Genesys
//! does not name its JSONPath library; the syntax its own exports rely on (`.length()`,
//! paths without `$`) is Jayway JsonPath's, so the subset follows Jayway's documented
//! rule (<https://github.com/json-path/JsonPath>, README, "What is Returned When?"):
//! a definite path gives the value, an indefinite one (with `[*]` or `..`) a list, even of
//! one match. A definite path that reaches nothing "fails to resolve", and the translation's
//! default applies.
//!
//! The subset: `$`, `.name`, `['name']` / `["name"]`, `[n]`, `[*]` / `.*`, `..name`.
//! Filters, slices, unions, negative indices, functions and paths without `$` are
//! [`PathError::Unsupported`].

use std::fmt;

use serde_json::Value;

/// Why a path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Outside the fake's subset (named).
    Unsupported(String),
    /// Not a JSONPath.
    Syntax(String),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Unsupported(what) => write!(f, "the fake does not support {what}"),
            PathError::Syntax(what) => write!(f, "the JSONPath is not well formed: {what}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Field(String),
    Index(usize),
    Wildcard,
    Deep(String),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    steps: Vec<Step>,
}

impl Path {
    /// Parses `path` within the subset.
    pub(crate) fn parse(path: &str) -> Result<Path, PathError> {
        let Some(mut rest) = path.trim().strip_prefix('$') else {
            return Err(PathError::Unsupported(
                "paths that do not start with `$`".into(),
            ));
        };
        let mut steps = Vec::new();
        while let Some(first) = rest.chars().next() {
            let (step, next) = if let Some(after) = rest.strip_prefix("..") {
                if after.starts_with(['*', '[']) {
                    return Err(PathError::Unsupported(
                        "deep scans other than `..name`".into(),
                    ));
                }
                let (name, next) = name(after)?;
                (Step::Deep(name), next)
            } else if let Some(after) = rest.strip_prefix(".*") {
                (Step::Wildcard, after)
            } else if let Some(after) = rest.strip_prefix('.') {
                let (name, next) = name(after)?;
                (Step::Field(name), next)
            } else if let Some(after) = rest.strip_prefix('[') {
                let close = after
                    .find(']')
                    .ok_or_else(|| PathError::Syntax("a `[` without its `]`".into()))?;
                (bracket(after[..close].trim())?, &after[close + 1..])
            } else {
                return Err(PathError::Syntax(format!("unexpected `{first}`")));
            };
            steps.push(step);
            rest = next;
        }
        Ok(Path { steps })
    }

    /// The value `document` holds at this path: the value itself for a definite path
    /// (`None` when nothing is there), a list of every match for an indefinite one.
    pub(crate) fn evaluate(&self, document: &Value) -> Option<Value> {
        let definite = self
            .steps
            .iter()
            .all(|s| matches!(s, Step::Field(_) | Step::Index(_)));
        let mut nodes = vec![document];
        // Jayway: a step that finds nothing while every step so far was definite fails the
        // whole path; once past `[*]` or `..`, it only drops that branch.
        let mut upstream_definite = true;
        for step in &self.steps {
            let mut next = Vec::new();
            for node in nodes {
                let found = match step {
                    Step::Field(key) => node.as_object().and_then(|o| o.get(key)),
                    Step::Index(i) => node.as_array().and_then(|a| a.get(*i)),
                    Step::Wildcard => {
                        match node {
                            Value::Object(o) => next.extend(o.values()),
                            Value::Array(a) => next.extend(a.iter()),
                            _ => {}
                        }
                        continue;
                    }
                    Step::Deep(key) => {
                        deep_scan(node, key, &mut next);
                        continue;
                    }
                };
                match found {
                    Some(value) => next.push(value),
                    // An index past the end is dropped too (Jayway ignores it), which
                    // leaves a definite path without a value.
                    None if upstream_definite && matches!(step, Step::Field(_)) => return None,
                    None => {}
                }
            }
            if matches!(step, Step::Wildcard | Step::Deep(_)) {
                upstream_definite = false;
            }
            nodes = next;
        }
        if definite {
            nodes.first().map(|v| (*v).clone())
        } else {
            Some(Value::Array(nodes.into_iter().cloned().collect()))
        }
    }
}

/// A property name in dot notation, and what follows it.
fn name(text: &str) -> Result<(String, &str), PathError> {
    let end = text.find(['.', '[']).unwrap_or(text.len());
    let name = &text[..end];
    if name.is_empty() {
        return Err(PathError::Syntax("a `.` without a property name".into()));
    }
    if name.contains('(') {
        return Err(PathError::Unsupported(format!(
            "functions such as `{name}`"
        )));
    }
    Ok((name.to_owned(), &text[end..]))
}

/// What is inside `[...]`.
fn bracket(inner: &str) -> Result<Step, PathError> {
    if inner == "*" {
        return Ok(Step::Wildcard);
    }
    for quote in ['\'', '"'] {
        if let Some(name) = inner
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_suffix(quote))
        {
            if !name.contains(quote) {
                return Ok(Step::Field(name.to_owned()));
            }
        }
    }
    if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
        return inner
            .parse()
            .map(Step::Index)
            .map_err(|_| PathError::Syntax(format!("`[{inner}]` is too large an index")));
    }
    if inner.starts_with('?') {
        return Err(PathError::Unsupported("filters (`[?(...)]`)".into()));
    }
    Err(PathError::Unsupported(format!(
        "`[{inner}]` (slices, unions, negative indices)"
    )))
}

/// Every value of property `key` at or below `node`, in document order.
fn deep_scan<'v>(node: &'v Value, key: &str, out: &mut Vec<&'v Value>) {
    match node {
        Value::Object(o) => {
            if let Some(v) = o.get(key) {
                out.push(v);
            }
            for v in o.values() {
                deep_scan(v, key, out);
            }
        }
        Value::Array(a) => {
            for v in a {
                deep_scan(v, key, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn eval(path: &str, doc: &Value) -> Option<Value> {
        Path::parse(path).unwrap().evaluate(doc)
    }

    #[test]
    fn definite_and_indefinite_paths() {
        let doc = json!({
            "queue": {"id": "q-1", "name": null},
            "orders": [{"id": "o-1"}, {"id": "o-2", "lines": [{"id": "l-1"}]}],
        });
        assert_eq!(eval("$.queue.id", &doc), Some(json!("q-1")));
        assert_eq!(eval("$['queue'][\"id\"]", &doc), Some(json!("q-1")));
        assert_eq!(
            eval("$.queue.name", &doc),
            Some(Value::Null),
            "null is a value"
        );
        assert_eq!(eval("$.queue.missing", &doc), None);
        assert_eq!(eval("$.missing.id", &doc), None);
        assert_eq!(eval("$.orders[1].id", &doc), Some(json!("o-2")));
        assert_eq!(eval("$.orders[5].id", &doc), None);
        assert_eq!(eval("$.orders[*].id", &doc), Some(json!(["o-1", "o-2"])));
        assert_eq!(eval("$.orders.*.id", &doc), Some(json!(["o-1", "o-2"])));
        assert_eq!(eval("$.orders[0].id", &doc), Some(json!("o-1")));
        assert_eq!(
            eval("$.orders[*].lines[*].id", &doc),
            Some(json!(["l-1"])),
            "one match is still a list"
        );
        assert_eq!(eval("$.orders[*].nothing", &doc), Some(json!([])));
        assert_eq!(
            eval("$..id", &doc),
            Some(json!(["o-1", "o-2", "l-1", "q-1"]))
        );
        assert_eq!(
            eval("$.missing[*].id", &doc),
            None,
            "a missing property before the first `[*]` fails the path"
        );
        assert_eq!(eval("$", &doc), Some(doc.clone()));
    }

    #[test]
    fn outside_the_subset_or_malformed() {
        for (path, needle) in [
            ("$.a[?(@.b == 1)]", "filters"),
            ("$.a.length()", "functions"),
            ("$.a[0:2]", "slices"),
            ("$.a[-1]", "negative"),
            ("$.a[0,1]", "unions"),
            ("['a']['b']", "start with `$`"),
            ("$..*", "deep scans"),
        ] {
            let err = Path::parse(path).unwrap_err();
            assert!(
                matches!(&err, PathError::Unsupported(m) if m.contains(needle)),
                "{path}: {err}"
            );
        }
        for path in ["$.[oops", "$.a[0", "$x", "$.a..", "$.a."] {
            assert!(
                matches!(Path::parse(path), Err(PathError::Syntax(_))),
                "{path}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsing_and_evaluating_never_panic(path in r#"(\$|\.|\.\.|\[|\]|\*|'|"|[a-z0-9?@()=:,-]|é){0,24}"#) {
            if let Ok(parsed) = Path::parse(&path) {
                let _ = parsed.evaluate(&json!({"a": [{"b": 1}, {"c": [2]}], "b": {"a": null}}));
            }
        }
    }
}
