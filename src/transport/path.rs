//! Building request paths from templates without letting an id escape its segment.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::validation::{ValidationError, Violations};

/// Everything but RFC 3986 unreserved characters is encoded, so an argument can never
/// add a segment (`/`), a query (`?`) or a fragment (`#`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Fills the `{name}` placeholders of `template`, in order, with `args`, each
/// percent-encoded as one path segment.
///
/// Arguments that are empty, `.` or `..` are refused (URL parsers would treat the last
/// two as "this" and "parent" segments even when encoded), as is a count of arguments
/// that does not match the template.
pub fn fill(template: &str, args: &[&str]) -> Result<String, ValidationError> {
    let mut out =
        String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut violations = Violations::default();
    let mut rest = template;
    let mut args = args.iter();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            violations.push(
                "path",
                "path_template",
                format!("the path template {template:?} has a `{{` without its `}}`"),
            );
            return violations.finish().map(|()| out);
        };
        let name = &rest[open + 1..open + close];
        match args.next() {
            Some(arg) => {
                let trimmed = arg.trim();
                if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
                    violations.push(
                        name,
                        "path_segment",
                        format!("path parameter `{name}` must be a non-empty id, not empty, `.` or `..`"),
                    );
                }
                out.extend(utf8_percent_encode(arg, SEGMENT));
            }
            None => violations.push(
                name,
                "path_segment",
                format!("path parameter `{name}` is missing"),
            ),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if args.next().is_some() {
        violations.push(
            "path",
            "path_segment",
            format!("more arguments than placeholders in {template}"),
        );
    }
    violations.finish().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn encodes_each_argument_as_one_segment() {
        assert_eq!(
            fill("/a/{x}/b/{y}", &["1 2", "c/d?e#f"]).unwrap(),
            "/a/1%202/b/c%2Fd%3Fe%23f"
        );
    }

    #[test]
    fn refuses_dot_segments_and_empty_ids() {
        for bad in ["", ".", "..", " "] {
            let err = fill("/a/{id}", &[bad]).unwrap_err();
            assert!(err.has("id", "path_segment"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn an_unclosed_placeholder_is_a_violation_not_a_panic() {
        for template in ["/a/{x", "/a/{", "{", "/a/{x}/{y"] {
            let err = fill(template, &["1", "2"]).unwrap_err();
            assert!(err.has("path", "path_template"), "{template}: {err}");
        }
    }

    #[test]
    fn argument_count_must_match() {
        assert!(fill("/a/{x}/{y}", &["1"])
            .unwrap_err()
            .has("y", "path_segment"));
        assert!(fill("/a/{x}", &["1", "2"]).is_err());
    }
}
