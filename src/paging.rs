//! One pager for every paged listing of the Platform API.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use futures::{Stream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::client::Client;
use crate::error::Error;
use crate::transport::ApiRequest;

/// One page of a Platform API listing (`*EntityListing` in Genesys's SDKs).
///
/// The next page is found the way the platform says, in this order:
///
/// 1. `nextUri`, followed exactly as given (its path and query; it is always sent to the
///    client's own API base, never to a host named in the link);
/// 2. else `cursor`, sent back as the `cursor` query parameter;
/// 3. else `pageNumber + 1` while it is at most `pageCount`.
///
/// An empty page, a page without any of these, or the last page by `pageCount` ends the
/// listing. A `nextUri` or `cursor` seen before ends it with an error (a listing that
/// repeats itself would otherwise never end), as does a page number past `u32::MAX`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    /// 1-based page number.
    #[serde(default)]
    pub page_number: Option<u32>,
    /// Items per page.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Number of pages.
    #[serde(default)]
    pub page_count: Option<u32>,
    /// Number of items in the whole listing.
    #[serde(default)]
    pub total: Option<u64>,
    /// The next page's URI, when there is one.
    #[serde(default)]
    pub next_uri: Option<String>,
    /// The cursor of the next page, for cursor-paged listings.
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Bounds on how much of a listing is read (see
/// [`RequestBuilder::max_pages`](crate::request::RequestBuilder::max_pages)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PageLimits {
    /// Pages fetched at most; a listing with more ends with a [`LocalLimit`] error.
    ///
    /// [`LocalLimit`]: crate::error::ErrorKind::LocalLimit
    pub(crate) max_pages: Option<u32>,
    /// Items yielded at most; the listing then ends (no error: that was asked for).
    pub(crate) max_items: Option<u64>,
}

/// What the pager knows between pages.
struct Pager {
    /// Sends every page, with the options of the handle the listing was started from.
    client: Client,
    /// The next request; or why there is none, reported after the page that caused it.
    next: Result<Option<ApiRequest>, Error>,
    /// The page number of `next`, for `pageCount` listings.
    number: u32,
    pages: u32,
    limits: PageLimits,
    /// Hashes of every `nextUri` and `cursor` followed so far. Once the listing has been
    /// followed by link or cursor, a page without one is the last.
    followed: HashSet<u64>,
    hasher: RandomState,
}

impl Pager {
    fn new(client: Client, first: ApiRequest, limits: PageLimits) -> Self {
        let number = first
            .query
            .iter()
            .find(|(k, _)| k == "pageNumber")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1u32);
        Self {
            client,
            next: Ok(Some(first)),
            number,
            pages: 0,
            limits,
            followed: HashSet::new(),
            hasher: RandomState::new(),
        }
    }

    async fn next_page<T: DeserializeOwned>(&mut self) -> Result<Option<Page<T>>, Error> {
        let Some(req) = std::mem::replace(&mut self.next, Ok(None))? else {
            return Ok(None);
        };
        if self.limits.max_pages.is_some_and(|max| self.pages >= max) {
            return Err(Error::limit(
                format!("the listing {}", req.endpoint()),
                self.pages as usize,
                "it has more pages than max_pages allows; raise the limit or narrow the query",
            ));
        }
        let page: Page<T> = self.client.transport().json(&req).await?;
        self.pages += 1;
        // A broken link is reported after this page's items, which are good.
        self.next = self.follow(&page, req);
        Ok(Some(page))
    }

    /// The request for the page after `page`, which answered `current`.
    fn follow<T>(
        &mut self,
        page: &Page<T>,
        mut current: ApiRequest,
    ) -> Result<Option<ApiRequest>, Error> {
        if page.entities.is_empty() {
            return Ok(None);
        }
        if let Some(link) = page.next_uri.as_deref().filter(|l| !l.trim().is_empty()) {
            self.remember("nextUri", link, &current)?;
            let link = strip_origin(link.trim());
            let (path, query) = link.split_once('?').unwrap_or((link, ""));
            current.path = path.to_owned();
            current.query = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            return Ok(Some(current));
        }
        if let Some(cursor) = page.cursor.as_deref().filter(|c| !c.is_empty()) {
            self.remember("cursor", cursor, &current)?;
            set_query(&mut current, "cursor", cursor.to_owned());
            return Ok(Some(current));
        }
        if !self.followed.is_empty() {
            return Ok(None);
        }
        match page.page_count {
            Some(count) if self.number < count => {
                let Some(next) = self.number.checked_add(1) else {
                    return Ok(None);
                };
                self.number = next;
                set_query(&mut current, "pageNumber", next.to_string());
                Ok(Some(current))
            }
            _ => Ok(None),
        }
    }

    /// Refuses a link or cursor followed before: the listing would loop.
    fn remember(&mut self, what: &str, value: &str, current: &ApiRequest) -> Result<(), Error> {
        if self.followed.insert(self.hasher.hash_one(value)) {
            return Ok(());
        }
        Err(Error::contract(
            format!("the listing {}", current.endpoint()),
            vec![format!(
                "page {} repeats the {what} of an earlier page; stopped so that the listing cannot loop",
                self.pages
            )],
        ))
    }
}

/// `https://host/api/v2/x?y` → `/api/v2/x?y`: links are always followed on the client's
/// own base, so a link can never send the token to another host.
fn strip_origin(link: &str) -> &str {
    match link.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => link,
    }
}

fn set_query(req: &mut ApiRequest, key: &str, value: String) {
    req.query.retain(|(k, _)| k != key);
    req.query.push((key.to_owned(), value));
}

/// Every page of the listing `first` starts, fetched as the stream is read.
pub(crate) fn pages<T>(
    client: Client,
    first: ApiRequest,
    limits: PageLimits,
) -> impl Stream<Item = Result<Page<T>, Error>> + Send
where
    T: DeserializeOwned + Send + 'static,
{
    futures::stream::try_unfold(Pager::new(client, first, limits), |mut pager| async move {
        Ok(pager.next_page::<T>().await?.map(|page| (page, pager)))
    })
}

/// Every item of the listing `first` starts (at most `limits.max_items`).
pub(crate) fn items_limited<T>(
    client: Client,
    first: ApiRequest,
    limits: PageLimits,
) -> impl Stream<Item = Result<T, Error>> + Send
where
    T: DeserializeOwned + Send + 'static,
{
    let max_items = limits.max_items.unwrap_or(u64::MAX);
    pages::<T>(client, first, limits)
        .map_ok(|page| futures::stream::iter(page.entities.into_iter().map(Ok)))
        .try_flatten()
        .take(usize::try_from(max_items).unwrap_or(usize::MAX))
}

/// Every item of the listing `first` starts.
pub(crate) fn items<T>(
    client: Client,
    first: ApiRequest,
) -> impl Stream<Item = Result<T, Error>> + Send
where
    T: DeserializeOwned + Send + 'static,
{
    items_limited(client, first, PageLimits::default())
}

#[cfg(test)]
mod tests {
    use super::strip_origin;

    #[test]
    fn links_keep_only_path_and_query() {
        assert_eq!(
            strip_origin("https://api.mypurecloud.com/api/v2/users?pageNumber=2"),
            "/api/v2/users?pageNumber=2"
        );
        assert_eq!(strip_origin("/api/v2/users?x=1"), "/api/v2/users?x=1");
        assert_eq!(strip_origin("https://evil.example"), "/");
    }
}
