//! Which hosts a widget may be served from.

use std::fmt;

use url::Host;

/// One allowed host: exact (`cdn.example.com`) or a wildcard (`*.example.com`).
///
/// A wildcard matches any subdomain at any depth (`a.example.com`, `a.b.example.com`) but
/// neither the bare domain (`example.com`) nor a look-alike (`badexample.com`). Names are
/// compared in their ASCII (punycode) form, case-insensitively and without a trailing
/// dot, so `Bücher.example.` and `xn--bcher-kva.example` are the same host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only.
    Exact(String),
    /// Any subdomain of this domain (stored without the `*.`).
    Subdomains(String),
}

impl HostPattern {
    /// Parses `pattern`, refusing wildcards that are not a leading `*.` or that cover a
    /// whole top-level domain (`*.com`).
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let raw = pattern.trim();
        if let Some(domain) = raw.strip_prefix("*.") {
            let domain = normalize(domain)
                .ok_or_else(|| format!("`{raw}`: `{domain}` is not a valid domain"))?;
            if domain.contains('*') {
                return Err(format!(
                    "`{raw}`: only a leading `*.` wildcard is supported"
                ));
            }
            if !domain.contains('.') {
                return Err(format!("`{raw}` would allow every host under a top-level domain; name a domain such as `*.example.com`"));
            }
            return Ok(HostPattern::Subdomains(domain));
        }
        if raw.contains('*') {
            return Err(format!(
                "`{raw}`: only a leading `*.` wildcard is supported"
            ));
        }
        normalize(raw)
            .map(HostPattern::Exact)
            .ok_or_else(|| format!("`{raw}` is not a valid host"))
    }

    /// Whether `host` (as found in a URL) is allowed by this pattern.
    pub fn matches(&self, host: &str) -> bool {
        let Some(host) = normalize(host) else {
            return false;
        };
        match self {
            HostPattern::Exact(exact) => host == *exact,
            HostPattern::Subdomains(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain.as_str())
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            }
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

/// The host in the form patterns are compared in: ASCII (IDNA), lower case, no trailing
/// dot. `None` when it is not a host name or IP address.
pub(crate) fn normalize(host: &str) -> Option<String> {
    let host = host.trim().strip_suffix('.').unwrap_or(host.trim());
    if host.is_empty() || host.ends_with('.') {
        return None;
    }
    match Host::parse(host).ok()? {
        Host::Domain(d) => Some(d.to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(format!("[{ip}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(pattern: &str, host: &str) -> bool {
        HostPattern::parse(pattern).unwrap().matches(host)
    }

    #[test]
    fn wildcard_matches_subdomains_at_any_depth_only() {
        assert!(allows("*.example.com", "a.example.com"));
        assert!(allows("*.example.com", "a.b.c.example.com"));
        assert!(!allows("*.example.com", "example.com"));
        assert!(!allows("*.example.com", "badexample.com"));
        assert!(!allows("*.example.com", "example.com.evil.net"));
        assert!(!allows("*.example.com", "a.example.co"));
    }

    #[test]
    fn case_trailing_dots_and_idn() {
        assert!(allows("*.Example.COM", "A.example.com."));
        assert!(allows("cdn.example.com.", "CDN.Example.Com"));
        assert!(allows("*.bücher.example", "shop.xn--bcher-kva.example"));
        assert!(allows("*.xn--bcher-kva.example", "shop.BÜCHER.example"));
        assert!(!allows("cdn.example.com", "cdn.example.com.."));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "*",
            "*.com",
            "a.*.com",
            "*example.com",
            "",
            "exa mple.com",
            "**.example.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
