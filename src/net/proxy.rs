//! Which proxy, if any, a connection goes through: one decision for REST and websockets.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use crate::error::Error;

/// Where the proxy setting comes from.
#[derive(Clone, Default)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), read once
    /// when the client is built.
    #[default]
    System,
    /// Every connection through this proxy (except to loopback addresses).
    Explicit(String),
    /// Never a proxy.
    Direct,
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::System => f.write_str("System"),
            ProxySetting::Explicit(url) => write!(f, "Explicit({})", redacted(url)),
            ProxySetting::Direct => f.write_str("Direct"),
        }
    }
}

/// The proxy decision, made the same way for every connection the client opens.
#[derive(Clone, Default)]
pub(crate) struct ProxyPolicy {
    /// For `https` and `wss`.
    secure: Option<Url>,
    /// For `http` and `ws`.
    plain: Option<Url>,
    bypass: NoProxy,
}

impl fmt::Debug for ProxyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyPolicy")
            .field(
                "secure",
                &self.secure.as_ref().map(|u| redacted(u.as_str())),
            )
            .field("plain", &self.plain.as_ref().map(|u| redacted(u.as_str())))
            .finish_non_exhaustive()
    }
}

/// A proxy URL with its credentials hidden. Read as `parse_proxy` reads it (a URL without
/// a scheme is an `http://` one), so that `user:secret@host` is not taken for scheme
/// `user` and shown whole.
fn redacted(url: &str) -> String {
    let with_scheme = if url.contains("://") {
        url.trim().to_owned()
    } else {
        format!("http://{}", url.trim())
    };
    match Url::parse(&with_scheme) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("[REDACTED]");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "[unparsable proxy URL]".into(),
    }
}

impl ProxyPolicy {
    pub(crate) fn new(setting: &ProxySetting) -> Result<Self, Error> {
        match setting {
            ProxySetting::Direct => Ok(Self::default()),
            ProxySetting::Explicit(url) => {
                let url = parse_proxy(url, "the proxy")?;
                Ok(Self {
                    secure: Some(url.clone()),
                    plain: Some(url),
                    bypass: NoProxy::default(),
                })
            }
            ProxySetting::System => {
                let var = |names: &[&str]| {
                    names
                        .iter()
                        .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
                };
                let all = var(&["ALL_PROXY", "all_proxy"]);
                let secure = var(&["HTTPS_PROXY", "https_proxy"]).or_else(|| all.clone());
                // Only the lowercase form for plain HTTP: under CGI, `HTTP_PROXY` can be set
                // by a request header (httpoxy).
                let plain = var(&["http_proxy"]).or(all);
                Ok(Self {
                    secure: secure.map(|u| parse_proxy(&u, "HTTPS_PROXY")).transpose()?,
                    plain: plain.map(|u| parse_proxy(&u, "HTTP_PROXY")).transpose()?,
                    bypass: NoProxy::parse(&var(&["NO_PROXY", "no_proxy"]).unwrap_or_default()),
                })
            }
        }
    }

    /// Whether no connection ever goes through a proxy.
    pub(crate) fn is_direct(&self) -> bool {
        self.secure.is_none() && self.plain.is_none()
    }

    /// The proxy for a connection to `url`, if any. Loopback hosts are never proxied (as
    /// Go's and curl's clients do): local targets and the testkit's fake stay reachable.
    pub(crate) fn proxy_for(&self, url: &Url) -> Option<&Url> {
        let host = url.host_str()?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if is_loopback_host(host) || self.bypass.matches(host) {
            return None;
        }
        match url.scheme() {
            "https" | "wss" => self.secure.as_ref(),
            "http" | "ws" => self.plain.as_ref(),
            _ => None,
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn parse_proxy(raw: &str, what: &str) -> Result<Url, Error> {
    let with_scheme = if raw.contains("://") {
        raw.trim().to_owned()
    } else {
        format!("http://{}", raw.trim())
    };
    // Neither the URL nor any part of it is quoted: a proxy URL carries a password, and one
    // that does not parse cannot be redacted reliably (`user:secret@host:bad` parses, without
    // a scheme, as scheme `user` and path `secret@host:bad`). The url crate's reasons name
    // the problem, never the input.
    let url = Url::parse(&with_scheme).map_err(|e| {
        Error::config(format!(
            "{what} is not a URL ({e}); write it as http://[user:password@]host:port"
        ))
    })?;
    if url.scheme() != "http" {
        return Err(Error::config(format!(
            "{what} must be an http:// proxy (CONNECT tunnels); https:// and socks proxies are not supported"
        )));
    }
    if url.host_str().is_none() {
        return Err(Error::config(format!("{what} names no host")));
    }
    Ok(url)
}

/// `NO_PROXY`: `*`, host names and domains (`example.com` also matches its subdomains, a
/// leading `.` is allowed), IP addresses and CIDR blocks; ports are ignored.
#[derive(Clone, Debug, Default)]
struct NoProxy {
    all: bool,
    domains: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    fn parse(raw: &str) -> Self {
        let mut out = NoProxy::default();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                out.all = true;
                continue;
            }
            if let Some((ip, bits)) = entry.split_once('/') {
                if let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                    out.networks.push((ip, bits));
                }
                continue;
            }
            let host = entry.trim_start_matches('[');
            let host = match host.split_once(']') {
                Some((ip, _)) => ip,
                None => host.rsplit_once(':').map_or(host, |(h, port)| {
                    if port.chars().all(|c| c.is_ascii_digit()) {
                        h
                    } else {
                        host
                    }
                }),
            };
            match host.parse::<IpAddr>() {
                Ok(ip) => out.networks.push((ip, if ip.is_ipv4() { 32 } else { 128 })),
                Err(_) => out
                    .domains
                    .push(host.trim_start_matches('.').to_ascii_lowercase()),
            }
        }
        out
    }

    fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self
                .networks
                .iter()
                .any(|(net, bits)| in_network(ip, *net, *bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|d| {
            host == *d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = u32::from(bits.min(32));
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = u32::from(bits.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn no_proxy_matches_domains_ips_and_networks() {
        let no = NoProxy::parse(
            " .internal.example, api.example.com:443, 10.0.0.0/8, ::1, 192.168.1.5 ",
        );
        assert!(no.matches("svc.internal.example"));
        assert!(no.matches("internal.example"));
        assert!(!no.matches("notinternal.example"));
        assert!(no.matches("api.example.com"));
        assert!(!no.matches("example.com"));
        assert!(no.matches("10.2.3.4"));
        assert!(!no.matches("11.2.3.4"));
        assert!(no.matches("192.168.1.5"));
        assert!(NoProxy::parse("*").matches("anything"));
    }

    #[test]
    fn explicit_proxy_applies_to_every_scheme_but_never_to_loopback() {
        let policy = ProxyPolicy::new(&ProxySetting::Explicit(
            "http://user:pw@proxy.corp:3128".into(),
        ))
        .unwrap();
        let proxy = policy
            .proxy_for(&url("wss://webmessaging.mypurecloud.com/v1"))
            .unwrap();
        assert_eq!(proxy.host_str(), Some("proxy.corp"));
        assert!(policy
            .proxy_for(&url("https://api.mypurecloud.com/"))
            .is_some());
        assert!(policy.proxy_for(&url("http://127.0.0.1:8080/")).is_none());
        assert!(policy.proxy_for(&url("ws://localhost:1/")).is_none());
        assert!(policy.proxy_for(&url("http://[::1]:1/")).is_none());
        assert!(!format!("{policy:?}").contains("pw"), "{policy:?}");
    }

    #[test]
    fn only_http_proxies_are_accepted() {
        for bad in ["socks5://proxy:1080", "https://proxy:443", "http://"] {
            let err = ProxyPolicy::new(&ProxySetting::Explicit(bad.into())).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Configuration, "{bad}: {err}");
        }
        let policy = ProxyPolicy::new(&ProxySetting::Explicit("proxy.corp:3128".into())).unwrap();
        assert_eq!(
            policy
                .proxy_for(&url("https://api.mypurecloud.com/"))
                .unwrap()
                .as_str(),
            "http://proxy.corp:3128/"
        );
    }

    #[test]
    fn a_proxy_password_shows_nowhere_even_when_the_url_is_wrong() {
        for raw in [
            "user:s3cret@proxy:bad",
            "socks5://user:s3cret@proxy:1080",
            "user:s3cret@pro xy",
        ] {
            let setting = ProxySetting::Explicit(raw.into());
            assert!(!format!("{setting:?}").contains("s3cret"), "{setting:?}");
            let err = ProxyPolicy::new(&setting).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(
                !shown.contains("s3cret") && !shown.contains("socks5"),
                "{shown}"
            );
        }
    }
}
