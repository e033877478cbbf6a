//! A custom agent widget, described and validated before anything is deployed.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use url::Url;

use super::allowlist::HostPattern;
use crate::validation::{ValidationError, Violations};

/// Iframe `sandbox` tokens Genesys Cloud documents for client apps (developer center,
/// "Creating a New Application"; resource center, premium app vendor information).
pub const SANDBOX_TOKENS: &[&str] = &[
    "allow-forms",
    "allow-modals",
    "allow-popups",
    "allow-presentation",
    "allow-same-origin",
    "allow-scripts",
    "allow-downloads",
];

/// Iframe permission-policy features a client app may opt in to (developer forum,
/// "Embedded Client Apps: Adding support for configurable PermissionsPolicy").
pub const PERMISSION_FEATURES: &[&str] = &[
    "camera",
    "microphone",
    "geolocation",
    "clipboard-write",
    "fullscreen",
    "display-capture",
];

/// Communication types an interaction widget can be limited to (`communicationTypeFilter`
/// values in Genesys's own examples and blueprints).
pub const COMMUNICATION_TYPES: &[&str] = &["call", "chat", "email", "webmessaging", "open"];

/// Longest widget name accepted. Genesys documents no limit; this keeps names readable in
/// the agent UI and the admin list.
pub const MAX_NAME_CHARS: usize = 200;

/// Where the widget shows in Genesys Cloud, which picks its integration type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WidgetKind {
    /// Its own page in the main UI (`embedded-client-app`, `displayType: standalone`).
    Standalone,
    /// A panel in the widget area (`embedded-client-app`, `displayType: widget`).
    Widget,
    /// Shown beside each interaction, with the conversation id available to the URL
    /// (`embedded-client-app-interaction-widget`).
    InteractionWidget,
}

impl WidgetKind {
    /// The integration type id.
    pub fn integration_type(self) -> &'static str {
        match self {
            WidgetKind::Standalone | WidgetKind::Widget => "embedded-client-app",
            WidgetKind::InteractionWidget => "embedded-client-app-interaction-widget",
        }
    }

    fn display_type(self) -> Option<&'static str> {
        match self {
            WidgetKind::Standalone => Some("standalone"),
            WidgetKind::Widget => Some("widget"),
            WidgetKind::InteractionWidget => None,
        }
    }
}

/// The sandbox constraints a widget must meet before it is deployed.
#[derive(Debug, Clone)]
pub struct SandboxPolicy {
    max_config_bytes: usize,
    max_width: u32,
    max_height: u32,
    allowed_hosts: Vec<HostPattern>,
    allowed_sandbox: BTreeSet<String>,
    allowed_permissions: BTreeSet<String>,
    invalid_patterns: Vec<String>,
}

impl Default for SandboxPolicy {
    /// The default limits; no host allowed until [`SandboxPolicy::allow_host`] names one.
    fn default() -> Self {
        Self {
            max_config_bytes: 10 * 1024,
            max_width: 800,
            max_height: 600,
            allowed_hosts: Vec::new(),
            allowed_sandbox: SANDBOX_TOKENS.iter().map(|s| (*s).to_owned()).collect(),
            allowed_permissions: PERMISSION_FEATURES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            invalid_patterns: Vec::new(),
        }
    }
}

impl SandboxPolicy {
    /// Largest configuration body (`PUT .../config/current`), in bytes (default 10 KiB;
    /// at least 1).
    pub fn max_config_bytes(mut self, max: usize) -> Self {
        self.max_config_bytes = max;
        self
    }

    /// Largest render frame the widget may ask for, in pixels (default 800 x 600; each at
    /// least 1).
    pub fn max_frame(mut self, width: u32, height: u32) -> Self {
        self.max_width = width;
        self.max_height = height;
        self
    }

    /// Allows widgets served from `pattern`: a host (`cdn.example.com`) or every
    /// subdomain of a domain (`*.example.com`, which does not allow `example.com` itself).
    /// A malformed pattern is reported when a spec is built against the policy.
    pub fn allow_host(mut self, pattern: &str) -> Self {
        match HostPattern::parse(pattern) {
            Ok(p) => self.allowed_hosts.push(p),
            Err(e) => self.invalid_patterns.push(e),
        }
        self
    }

    /// Narrows the sandbox tokens widgets may ask for (each must be a known token).
    pub fn sandbox_tokens<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tokens: I) -> Self {
        self.allowed_sandbox = tokens.into_iter().map(Into::into).collect();
        self
    }

    /// Narrows the permission-policy features widgets may ask for.
    pub fn permission_features<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        features: I,
    ) -> Self {
        self.allowed_permissions = features.into_iter().map(Into::into).collect();
        self
    }

    /// Whether `host` is allowed.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allowed_hosts.iter().any(|p| p.matches(host))
    }
}

/// A validated widget: what [`Integrations::deploy`](super::Integrations::deploy) installs.
#[derive(Debug, Clone, PartialEq)]
pub struct WidgetSpec {
    pub(crate) name: String,
    pub(crate) kind: WidgetKind,
    pub(crate) url: String,
    pub(crate) notes: String,
    pub(crate) sandbox: Vec<String>,
    pub(crate) permissions: Vec<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) queues: Vec<String>,
    pub(crate) communication_types: Vec<String>,
    pub(crate) icon_url: Option<String>,
}

impl WidgetSpec {
    /// A builder for a widget called `name`, served from `url` (`https` only).
    pub fn builder(name: impl Into<String>, url: impl Into<String>) -> WidgetSpecBuilder {
        WidgetSpecBuilder {
            name: name.into(),
            url: url.into(),
            kind: WidgetKind::InteractionWidget,
            notes: String::new(),
            sandbox: vec![
                "allow-scripts".into(),
                "allow-same-origin".into(),
                "allow-forms".into(),
                "allow-modals".into(),
            ],
            permissions: Vec::new(),
            groups: Vec::new(),
            queues: Vec::new(),
            communication_types: Vec::new(),
            icon_url: None,
            dimensions: None,
        }
    }

    /// The widget's name (also the integration's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it shows.
    pub fn kind(&self) -> WidgetKind {
        self.kind
    }

    /// The integration type id it is installed as.
    pub fn integration_type(&self) -> &'static str {
        self.kind.integration_type()
    }

    /// The configuration `properties` Genesys Cloud stores for it.
    pub fn properties(&self) -> Value {
        let mut p = Map::new();
        p.insert("url".into(), json!(self.url));
        p.insert("sandbox".into(), json!(self.sandbox.join(",")));
        p.insert("permissions".into(), json!(self.permissions.join(",")));
        p.insert("groups".into(), json!(self.groups));
        match self.kind.display_type() {
            Some(display) => {
                p.insert("displayType".into(), json!(display));
                p.insert("featureCategory".into(), json!(""));
            }
            None => {
                p.insert("queueIdFilterList".into(), json!(self.queues));
                p.insert(
                    "communicationTypeFilter".into(),
                    json!(self.communication_types.join(",")),
                );
            }
        }
        Value::Object(p)
    }

    /// The `advanced` configuration (the icon, when one is set).
    pub fn advanced(&self) -> Value {
        match &self.icon_url {
            Some(icon) => json!({ "icon": { "vector": icon } }),
            None => json!({}),
        }
    }

    /// The full `PUT .../config/current` body for configuration `version`.
    pub(crate) fn config_body(&self, version: i64) -> Value {
        json!({
            "name": self.name,
            "version": version,
            "notes": self.notes,
            "properties": self.properties(),
            "advanced": self.advanced(),
            "credentials": {},
        })
    }
}

/// Collects a widget's settings and checks them all against a [`SandboxPolicy`].
///
/// ```
/// use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
///
/// let policy = SandboxPolicy::default().allow_host("*.cloudfront.net");
/// let spec = WidgetSpec::builder("Agent Dashboard Widget", "https://d111.cloudfront.net/widget/")
///     .kind(WidgetKind::InteractionWidget)
///     .dimensions(750, 500)
///     .permissions(["clipboard-write"])
///     .build(&policy)?;
/// assert_eq!(spec.integration_type(), "embedded-client-app-interaction-widget");
/// # Ok::<(), genesys_cloud::ValidationError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WidgetSpecBuilder {
    name: String,
    url: String,
    kind: WidgetKind,
    notes: String,
    sandbox: Vec<String>,
    permissions: Vec<String>,
    groups: Vec<String>,
    queues: Vec<String>,
    communication_types: Vec<String>,
    icon_url: Option<String>,
    dimensions: Option<(u32, u32)>,
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

impl WidgetSpecBuilder {
    /// Where the widget shows (default: [`WidgetKind::InteractionWidget`]).
    pub fn kind(mut self, kind: WidgetKind) -> Self {
        self.kind = kind;
        self
    }

    /// Notes stored with the integration.
    pub fn notes(mut self, notes: impl Into<String>) -> Self {
        self.notes = notes.into();
        self
    }

    /// The iframe sandbox tokens (default: `allow-scripts`, `allow-same-origin`,
    /// `allow-forms`, `allow-modals`).
    pub fn sandbox<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tokens: I) -> Self {
        self.sandbox = strings(tokens);
        self
    }

    /// The iframe permission-policy features (default: none; they are opt-in).
    pub fn permissions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.permissions = strings(features);
        self
    }

    /// Only members of these groups (ids) see the widget (default: everyone).
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, group_ids: I) -> Self {
        self.groups = strings(group_ids);
        self
    }

    /// Interaction widgets only: show only for interactions of these queues (ids).
    pub fn queues<I: IntoIterator<Item = S>, S: Into<String>>(mut self, queue_ids: I) -> Self {
        self.queues = strings(queue_ids);
        self
    }

    /// Interaction widgets only: show only for these communication types
    /// (see [`COMMUNICATION_TYPES`]).
    pub fn communication_types<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        types: I,
    ) -> Self {
        self.communication_types = strings(types);
        self
    }

    /// An icon (an `https` SVG URL) for the widget.
    pub fn icon(mut self, url: impl Into<String>) -> Self {
        self.icon_url = Some(url.into());
        self
    }

    /// The render frame the widget is designed for, checked against the policy's maximum
    /// (the platform sizes client-app frames itself; this is a render-frame check of the widget's own).
    pub fn dimensions(mut self, width: u32, height: u32) -> Self {
        self.dimensions = Some((width, height));
        self
    }

    /// Checks every rule and returns the spec, or every violation found.
    pub fn build(self, policy: &SandboxPolicy) -> Result<WidgetSpec, ValidationError> {
        let mut v = Violations::default();
        for bad in &policy.invalid_patterns {
            v.push("policy.allowed_hosts", "host_pattern", bad.clone());
        }
        v.check(
            policy.max_config_bytes >= 1 && policy.max_width >= 1 && policy.max_height >= 1,
            "policy.limits",
            "min",
            "the policy's configuration size and frame limits must be at least 1",
        );
        let name = self.name.trim().to_owned();
        v.check(
            !name.is_empty(),
            "name",
            "required",
            "give the widget a name",
        );
        let chars = name.chars().count();
        v.check(
            chars <= MAX_NAME_CHARS,
            "name",
            "max_length",
            format!("the name has {chars} characters; at most {MAX_NAME_CHARS} are allowed"),
        );
        v.check(
            !name.chars().any(char::is_control),
            "name",
            "invalid_chars",
            "the name must not contain control characters",
        );
        check_https_url(&mut v, "url", &self.url, policy, true);
        if let Some(icon) = &self.icon_url {
            check_https_url(&mut v, "icon", icon, policy, false);
        }
        check_tokens(
            &mut v,
            "sandbox",
            &self.sandbox,
            SANDBOX_TOKENS,
            &policy.allowed_sandbox,
        );
        check_tokens(
            &mut v,
            "permissions",
            &self.permissions,
            PERMISSION_FEATURES,
            &policy.allowed_permissions,
        );
        for (i, group) in self.groups.iter().enumerate() {
            v.check_uuid(&format!("groups[{i}]"), group);
        }
        if self.kind == WidgetKind::InteractionWidget {
            for (i, queue) in self.queues.iter().enumerate() {
                v.check_uuid(&format!("queues[{i}]"), queue);
            }
            let known: BTreeSet<String> = COMMUNICATION_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            check_tokens(
                &mut v,
                "communication_types",
                &self.communication_types,
                COMMUNICATION_TYPES,
                &known,
            );
        } else {
            v.check(
                self.queues.is_empty(),
                "queues",
                "interaction_widget_only",
                "queue filters apply to interaction widgets only",
            );
            v.check(
                self.communication_types.is_empty(),
                "communication_types",
                "interaction_widget_only",
                "communication type filters apply to interaction widgets only",
            );
        }
        if let Some((width, height)) = self.dimensions {
            v.check(
                width > 0 && width <= policy.max_width,
                "dimensions.width",
                "max_width",
                format!("width {width} px is outside 1..={} px", policy.max_width),
            );
            v.check(
                height > 0 && height <= policy.max_height,
                "dimensions.height",
                "max_height",
                format!("height {height} px is outside 1..={} px", policy.max_height),
            );
        }
        let spec = WidgetSpec {
            name,
            kind: self.kind,
            url: self.url.trim().to_owned(),
            notes: self.notes,
            sandbox: dedup(self.sandbox),
            permissions: dedup(self.permissions),
            groups: self.groups,
            queues: self.queues,
            communication_types: dedup(self.communication_types),
            icon_url: self.icon_url,
        };
        let body = serde_json::to_vec(&spec.config_body(1))
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        v.check(
            body <= policy.max_config_bytes,
            "config",
            "max_config_bytes",
            format!(
                "the configuration would be {body} bytes; at most {} are allowed",
                policy.max_config_bytes
            ),
        );
        v.finish().map(|()| spec)
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

fn check_tokens(
    v: &mut Violations,
    field: &str,
    tokens: &[String],
    known: &[&str],
    allowed: &BTreeSet<String>,
) {
    for (i, token) in tokens.iter().enumerate() {
        if !known.contains(&token.as_str()) {
            // An unknown token could be anything the caller passed: named by position.
            v.push(
                field,
                "unknown_token",
                format!("entry {i} is not one of: {}", known.join(", ")),
            );
        } else if !allowed.contains(token) {
            // A known token is one of the crate's own words, not a value.
            v.push(
                field,
                "not_allowed",
                format!("`{token}` is not allowed by the sandbox policy"),
            );
        }
    }
}

/// The URL must be absolute `https`, without credentials, on an allowed host. Genesys
/// URL tokens such as `{{gcConversationId}}` are allowed in the path and query.
fn check_https_url(
    v: &mut Violations,
    field: &str,
    raw: &str,
    policy: &SandboxPolicy,
    required: bool,
) {
    let raw = raw.trim();
    if raw.is_empty() {
        if required {
            v.push(field, "required", format!("set the widget's {field}"));
        }
        return;
    }
    let url = match Url::parse(raw) {
        Ok(url) => url,
        // The url crate's reasons name the problem, never the input.
        Err(e) => {
            v.push(field, "url", format!("not an absolute URL ({e})"));
            return;
        }
    };
    if url.scheme() != "https" {
        v.push(field, "https", format!("the {field} must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        v.push(
            field,
            "credentials_in_url",
            "URLs must not carry a user name or password",
        );
    }
    match url.host_str() {
        None => v.push(field, "url", "the URL has no host"),
        Some(host) if !policy.allows_host(host) => {
            let allowed: Vec<String> = policy
                .allowed_hosts
                .iter()
                .map(ToString::to_string)
                .collect();
            let allowed = if allowed.is_empty() {
                "none configured".to_owned()
            } else {
                allowed.join(", ")
            };
            v.push(
                field,
                "host_not_allowed",
                format!("the URL's host is not in the allowlist ({allowed})"),
            );
        }
        Some(_) => {}
    }
}
