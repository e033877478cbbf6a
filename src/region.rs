//! Genesys Cloud regions and the base URLs a [`Client`](crate::Client) talks to.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::error::Error;

macro_rules! regions {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $domain:literal; )+) => {
        /// A Genesys Cloud region (an AWS region hosting an org), as the official SDKs list them.
        ///
        /// Parses from the region name (`us-east-1`, `us_east_1`) or from its domain,
        /// with or without the `api.`/`login.` prefix (`mypurecloud.ie`, `api.mypurecloud.ie`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Region {
            $( $(#[$doc])* $variant, )+
        }

        impl Region {
            /// Every region, in the order the official SDKs list them.
            pub const ALL: &'static [Region] = &[$(Region::$variant),+];

            /// The region name, e.g. `us-east-1`.
            pub const fn name(self) -> &'static str {
                match self { $(Region::$variant => $name,)+ }
            }

            /// The region's domain, e.g. `mypurecloud.com`; hosts are `api.`, `login.`,
            /// `webmessaging.` ... under it.
            pub const fn domain(self) -> &'static str {
                match self { $(Region::$variant => $domain,)+ }
            }
        }
    };
}

regions! {
    /// US East (Virginia), `mypurecloud.com`.
    UsEast1 => "us-east-1", "mypurecloud.com";
    /// EU West (Ireland), `mypurecloud.ie`.
    EuWest1 => "eu-west-1", "mypurecloud.ie";
    /// Asia Pacific (Sydney), `mypurecloud.com.au`.
    ApSoutheast2 => "ap-southeast-2", "mypurecloud.com.au";
    /// Asia Pacific (Tokyo), `mypurecloud.jp`.
    ApNortheast1 => "ap-northeast-1", "mypurecloud.jp";
    /// EU Central (Frankfurt), `mypurecloud.de`.
    EuCentral1 => "eu-central-1", "mypurecloud.de";
    /// US West (Oregon), `usw2.pure.cloud`.
    UsWest2 => "us-west-2", "usw2.pure.cloud";
    /// Canada (Central), `cac1.pure.cloud`.
    CaCentral1 => "ca-central-1", "cac1.pure.cloud";
    /// Asia Pacific (Seoul), `apne2.pure.cloud`.
    ApNortheast2 => "ap-northeast-2", "apne2.pure.cloud";
    /// EU West (London), `euw2.pure.cloud`.
    EuWest2 => "eu-west-2", "euw2.pure.cloud";
    /// Asia Pacific (Mumbai), `aps1.pure.cloud`.
    ApSouth1 => "ap-south-1", "aps1.pure.cloud";
    /// US East (Ohio, FedRAMP), `use2.us-gov-pure.cloud`.
    UsEast2 => "us-east-2", "use2.us-gov-pure.cloud";
    /// South America (São Paulo), `sae1.pure.cloud`.
    SaEast1 => "sa-east-1", "sae1.pure.cloud";
    /// Middle East (UAE), `mec1.pure.cloud`.
    MeCentral1 => "me-central-1", "mec1.pure.cloud";
    /// Asia Pacific (Osaka), `apne3.pure.cloud`.
    ApNortheast3 => "ap-northeast-3", "apne3.pure.cloud";
    /// EU Central (Zurich), `euc2.pure.cloud`.
    EuCentral2 => "eu-central-2", "euc2.pure.cloud";
    /// Mexico (Central), `mxc1.pure.cloud`.
    MxCentral1 => "mx-central-1", "mxc1.pure.cloud";
    /// Asia Pacific (Singapore), `apse1.pure.cloud`.
    ApSoutheast1 => "ap-southeast-1", "apse1.pure.cloud";
    /// EU Sovereign Cloud (Germany), `edee1.eusc-pure.cloud`.
    EuscDeEast1 => "eusc-de-east-1", "edee1.eusc-pure.cloud";
}

impl Region {
    /// The Platform API base, e.g. `https://api.mypurecloud.com`.
    pub fn api_base(self) -> Url {
        host_url("api", self.domain())
    }

    /// The OAuth login base, e.g. `https://login.mypurecloud.com`.
    pub fn login_base(self) -> Url {
        host_url("login", self.domain())
    }

    /// The Web Messaging Guest API websocket, e.g. `wss://webmessaging.mypurecloud.com/v1`.
    pub fn web_messaging_base(self) -> Url {
        let url = format!("wss://webmessaging.{}/v1", self.domain());
        Url::parse(&url).expect("valid host") // ok: the domains are fixed, valid host names
    }

    /// The [`Environment`] (API and login bases) of this region.
    pub fn environment(self) -> Environment {
        Environment {
            api_base: self.api_base(),
            login_base: self.login_base(),
            web_messaging_base: Some(self.web_messaging_base()),
            region: Some(self),
        }
    }
}

fn host_url(prefix: &str, domain: &str) -> Url {
    let url = format!("https://{prefix}.{domain}");
    Url::parse(&url).expect("valid host") // ok: the domains are fixed, valid host names
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let host = wanted
            .strip_prefix("https://")
            .unwrap_or(&wanted)
            .trim_end_matches('/');
        let domain = ["api.", "login.", "apps.", "webmessaging."]
            .iter()
            .find_map(|p| host.strip_prefix(p))
            .unwrap_or(host);
        let name = host.replace('_', "-");
        Region::ALL
            .iter()
            .copied()
            .find(|r| r.name() == name || r.domain() == domain)
            .ok_or(UnknownRegion { _private: () })
    }
}

/// A region string that names no Genesys Cloud region.
///
/// It does not keep the string: what was given may be anything (a variable set to the
/// wrong value), and errors show no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRegion {
    _private: (),
}

impl fmt::Display for UnknownRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a Genesys Cloud region; use a region name or its domain, one of: "
        )?;
        for (i, r) in Region::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} ({})", r.name(), r.domain())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownRegion {}

impl From<UnknownRegion> for Error {
    fn from(err: UnknownRegion) -> Self {
        Error::config(err.to_string())
    }
}

/// Where a client sends requests: the Platform API base, the OAuth login base and the Web
/// Messaging Guest API websocket.
///
/// Usually derived from a [`Region`]; custom bases point the client at a proxy, a sandbox
/// or the testkit's fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    api_base: Url,
    login_base: Url,
    web_messaging_base: Option<Url>,
    region: Option<Region>,
}

impl Environment {
    /// Custom bases, e.g. `http://127.0.0.1:8080` for both when testing against a fake.
    ///
    /// Each must be an absolute `http` or `https` URL without query or fragment; a path
    /// prefix (`https://proxy.internal/genesys`) is kept.
    pub fn custom(api_base: &str, login_base: &str) -> Result<Self, Error> {
        let api_base = parse_base("API base", api_base, &["http", "https"])?;
        // `https://api.<domain>` has its guest websocket at `wss://webmessaging.<domain>/v1`.
        let web_messaging_base = api_base
            .host_str()
            .and_then(|host| host.strip_prefix("api."))
            .filter(|_| api_base.scheme() == "https" && api_base.path() == "/")
            .and_then(|domain| Url::parse(&format!("wss://webmessaging.{domain}/v1")).ok());
        Ok(Self {
            api_base,
            login_base: parse_base("login base", login_base, &["http", "https"])?,
            web_messaging_base,
            region: None,
        })
    }

    /// Sets the Web Messaging Guest API websocket base (`wss://…/v1`, or `ws://` on
    /// loopback), for custom bases whose guest host cannot be derived.
    pub fn with_web_messaging_base(mut self, base: &str) -> Result<Self, Error> {
        self.web_messaging_base = Some(parse_base("web messaging base", base, &["ws", "wss"])?);
        Ok(self)
    }

    /// The Web Messaging Guest API websocket base, when known: derived from the region (or
    /// from an `https://api.<domain>` base), or set with
    /// [`Environment::with_web_messaging_base`].
    pub fn web_messaging_base(&self) -> Option<&Url> {
        self.web_messaging_base.as_ref()
    }

    /// The Platform API base URL.
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// The OAuth login base URL.
    pub fn login_base(&self) -> &Url {
        &self.login_base
    }

    /// The region, unless the bases are custom.
    pub fn region(&self) -> Option<Region> {
        self.region
    }
}

impl From<Region> for Environment {
    fn from(region: Region) -> Self {
        region.environment()
    }
}

/// `raw` as a base URL. Errors say what is wrong without quoting `raw`, which may
/// hold a token (in a query) or a password (before the host).
fn parse_base(what: &str, raw: &str, schemes: &[&str]) -> Result<Url, Error> {
    // The url crate's reasons name the problem ("invalid port number"), never the input.
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::config(format!("the {what} is not a URL: {e}")))?;
    if !schemes.contains(&url.scheme()) || url.host().is_none() {
        return Err(Error::config(format!(
            "the {what} must be an absolute {} URL",
            schemes.join("/")
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::config(format!(
            "the {what} must not carry a query or fragment"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::config(format!(
            "the {what} must not carry a user name or password: give credentials with ClientBuilder::credentials or ::auth"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighteen_regions_with_distinct_names_and_domains() {
        assert_eq!(Region::ALL.len(), 18);
        let names: std::collections::HashSet<_> = Region::ALL.iter().map(|r| r.name()).collect();
        let domains: std::collections::HashSet<_> =
            Region::ALL.iter().map(|r| r.domain()).collect();
        assert_eq!(names.len(), 18);
        assert_eq!(domains.len(), 18);
    }

    #[test]
    fn parses_names_domains_and_hosts() {
        for r in Region::ALL {
            assert_eq!(r.name().parse::<Region>(), Ok(*r));
            assert_eq!(r.domain().parse::<Region>(), Ok(*r));
            assert_eq!(format!("api.{}", r.domain()).parse::<Region>(), Ok(*r));
            assert_eq!(
                format!("https://login.{}/", r.domain()).parse::<Region>(),
                Ok(*r)
            );
        }
        assert_eq!("US_EAST_1".parse::<Region>(), Ok(Region::UsEast1));
        assert_eq!("mypurecloud.ie.".parse::<Region>(), Ok(Region::EuWest1));
    }

    #[test]
    fn unknown_region_lists_every_valid_one() {
        let err = "us-east-9".parse::<Region>().unwrap_err().to_string();
        assert!(
            !err.contains("us-east-9"),
            "what was given is not shown: {err}"
        );
        for r in Region::ALL {
            assert!(err.contains(r.name()), "{err}");
            assert!(err.contains(r.domain()), "{err}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            Region::UsWest2.api_base().as_str(),
            "https://api.usw2.pure.cloud/"
        );
        assert_eq!(
            Region::EuscDeEast1.login_base().as_str(),
            "https://login.edee1.eusc-pure.cloud/"
        );
    }

    #[test]
    fn the_web_messaging_base_comes_from_the_region_or_the_api_host() {
        assert_eq!(
            Region::EuWest1
                .environment()
                .web_messaging_base()
                .unwrap()
                .as_str(),
            "wss://webmessaging.mypurecloud.ie/v1"
        );
        let derived =
            Environment::custom("https://api.mypurecloud.de", "https://login.mypurecloud.de")
                .unwrap();
        assert_eq!(
            derived.web_messaging_base().unwrap().as_str(),
            "wss://webmessaging.mypurecloud.de/v1"
        );
        let proxy = Environment::custom(
            "https://proxy.internal/genesys",
            "https://proxy.internal/login",
        )
        .unwrap();
        assert!(proxy.web_messaging_base().is_none());
        let set = proxy
            .with_web_messaging_base("wss://proxy.internal/webmessaging/v1")
            .unwrap();
        assert_eq!(set.web_messaging_base().unwrap().path(), "/webmessaging/v1");
        assert!(set.clone().with_web_messaging_base("https://x/v1").is_err());
    }

    #[test]
    fn custom_bases_are_checked() {
        assert!(Environment::custom("http://127.0.0.1:9/", "http://127.0.0.1:9").is_ok());
        assert!(Environment::custom("ftp://x", "http://x").is_err());
        assert!(Environment::custom("not a url", "http://x").is_err());
        assert!(Environment::custom("https://x/?a=b", "http://x").is_err());
        let err = Environment::custom("https://u:s3cret@x/", "http://x").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
