//! Request URLs: a base parsed once per client, a request's path set on a copy of it.

use url::Url;

use super::ApiRequest;

/// Room kept in a base URL's string for a request's path and query: longer than most
/// Platform API paths (`/api/v2/conversations/messages/{uuid}/participants/{uuid}/attributes`
/// is 113 bytes).
const ROOM: usize = 192;

/// The base URL of a service (API or login), possibly with a path prefix.
///
/// A copy of a `Url` has exactly the capacity of its string, so setting a request's path
/// on a copy of the plain base grows the string two or three times; each reallocation
/// takes the allocator's arena lock, which the runtime's workers contend for when they
/// free each other's requests (docs/PERFORMANCE.md). The base is therefore also kept
/// with a placeholder path of [`ROOM`] bytes: a copy of that one carries the room, and
/// setting the path (which truncates the string first) writes in place.
#[derive(Debug, Clone)]
pub(crate) struct BaseUrl {
    url: Url,
    roomy: Url,
    /// The base's path without its trailing `/` (empty for a bare host).
    prefix: String,
}

impl BaseUrl {
    pub(crate) fn new(url: Url) -> Self {
        let prefix = url.path().trim_end_matches('/').to_owned();
        let mut roomy = url.clone();
        roomy.set_path(&format!("{prefix}/{}", "x".repeat(ROOM)));
        Self { url, roomy, prefix }
    }

    /// The base as given.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The base + `req`'s path and query (or `req`'s absolute URL with its query). Only the
    /// path is parsed here, not a whole URL.
    pub(crate) fn join(&self, req: &ApiRequest) -> Url {
        let mut url = match &req.absolute {
            Some(url) => url.clone(),
            None => {
                let mut url = self.roomy.clone();
                if self.prefix.is_empty() {
                    url.set_path(&req.path);
                } else {
                    url.set_path(&format!("{}{}", self.prefix, req.path));
                }
                url
            }
        };
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    fn req(path: &str) -> ApiRequest {
        let mut req = ApiRequest::new(Method::GET, "/x");
        req.path = path.to_owned();
        req
    }

    #[test]
    fn the_path_replaces_the_placeholder_and_keeps_the_prefix() {
        let plain = BaseUrl::new(Url::parse("https://api.mypurecloud.com").unwrap());
        assert_eq!(
            plain.join(&req("/api/v2/users/me")).as_str(),
            "https://api.mypurecloud.com/api/v2/users/me"
        );
        let prefixed = BaseUrl::new(Url::parse("http://127.0.0.1:8080/genesys/").unwrap());
        let mut with_query = req("/api/v2/users");
        with_query.query = vec![
            ("pageSize".into(), "100".into()),
            ("q".into(), "a b&c".into()),
        ];
        assert_eq!(
            prefixed.join(&with_query).as_str(),
            "http://127.0.0.1:8080/genesys/api/v2/users?pageSize=100&q=a+b%26c"
        );
        assert_eq!(prefixed.url().as_str(), "http://127.0.0.1:8080/genesys/");
    }

    #[test]
    fn a_typical_path_is_written_in_place() {
        let base = BaseUrl::new(Url::parse("https://api.mypurecloud.com").unwrap());
        let path = "/api/v2/conversations/messages/0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b/participants/5f2c1d3e-4b6a-4c8d-9e0f-1a2b3c4d5e6f/attributes";
        let copy = base.roomy.clone();
        let before = copy.as_str().as_ptr();
        let mut url = copy;
        url.set_path(path);
        assert_eq!(url.as_str().as_ptr(), before, "no reallocation");
        assert_eq!(url.path(), path);
    }
}
