use std::collections::HashMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use wiremock::ResponseTemplate;

use crate::Method;

/// A request as a fake endpoint handler sees it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// HTTP method.
    pub method: Method,
    /// The path, percent-decoded per segment into [`FakeRequest::params`].
    pub path: String,
    /// Values of the route's `{placeholders}`, percent-decoded.
    pub params: HashMap<String, String>,
    /// Query parameters (the last value wins for repeated keys).
    pub query: HashMap<String, String>,
    /// Headers, by lower-case name (the last value wins for repeated names).
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl FakeRequest {
    /// A `{placeholder}` value (empty if the route has none of that name).
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

pub(crate) type Handler = Arc<dyn Fn(&FakeRequest) -> ResponseTemplate + Send + Sync>;

/// A path with `{name}` placeholders, matched segment by segment.
pub(crate) struct PathPattern {
    segments: Vec<Segment>,
}

enum Segment {
    Literal(String),
    Param(String),
}

impl PathPattern {
    pub(crate) fn new(template: &str) -> Self {
        let segments = template
            .trim_matches('/')
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.to_owned()),
                    None => Segment::Literal(s.to_owned()),
                },
            )
            .collect();
        Self { segments }
    }

    fn literal_segments(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The placeholder values, percent-decoded, when `raw_path` has this shape.
    pub(crate) fn matches(&self, raw_path: &str) -> Option<HashMap<String, String>> {
        let parts: Vec<&str> = raw_path.trim_matches('/').split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = HashMap::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(lit) if lit == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8_lossy()
                        .into_owned();
                    params.insert(name.clone(), value);
                }
            }
        }
        Some(params)
    }
}

pub(crate) struct Route {
    method: Method,
    pattern: PathPattern,
    handler: Handler,
    /// Whether requests need a live bearer token (as almost every platform operation does).
    requires_auth: bool,
}

impl Route {
    pub(crate) fn new(
        method: Method,
        template: &str,
        handler: Handler,
        requires_auth: bool,
    ) -> Self {
        Self {
            method,
            pattern: PathPattern::new(template),
            handler,
            requires_auth,
        }
    }

    /// Whether requests need a live bearer token.
    pub(crate) fn requires_auth(&self) -> bool {
        self.requires_auth
    }

    /// The placeholder values when `raw_path` matches this route's shape (any method).
    pub(crate) fn matches(&self, raw_path: &str) -> Option<HashMap<String, String>> {
        self.pattern.matches(raw_path)
    }

    /// How many of the route's segments are literal (for picking the most specific).
    pub(crate) fn literal_segments(&self) -> usize {
        self.pattern.literal_segments()
    }

    pub(crate) fn method(&self) -> &Method {
        &self.method
    }

    pub(crate) fn handle(&self, req: &FakeRequest) -> ResponseTemplate {
        (self.handler)(req)
    }
}
