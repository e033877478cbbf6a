//! One pager for every paged listing of the Platform API.

use futures::{Stream, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::Error;
use crate::transport::{ApiRequest, Transport};

/// One page of a Platform API listing (`*EntityListing` in Genesys's SDKs).
///
/// Pages are followed by `pageNumber` while `pageNumber < pageCount`; listings without
/// `pageCount` are followed by their `cursor`, or else by `pageNumber` while a `nextUri`
/// is present. An empty page always ends the listing.
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

impl<T> Page<T> {
    /// The request for the page after this one, if any.
    fn next_request(&self, current: &ApiRequest, number: u32) -> Option<ApiRequest> {
        if self.entities.is_empty() {
            return None;
        }
        let mut next = current.clone();
        let set = |next: &mut ApiRequest, key: &str, value: String| {
            next.query.retain(|(k, _)| k != key);
            next.query.push((key.to_owned(), value));
        };
        let number = self.page_number.unwrap_or(number);
        match (self.page_count, &self.cursor) {
            (Some(count), _) if number < count => {
                set(&mut next, "pageNumber", (number + 1).to_string())
            }
            (Some(_), _) => return None,
            (None, Some(cursor)) if !cursor.is_empty() => set(&mut next, "cursor", cursor.clone()),
            (None, _) if self.next_uri.is_some() => {
                set(&mut next, "pageNumber", (number + 1).to_string())
            }
            (None, _) => return None,
        }
        Some(next)
    }
}

/// Every page of the listing `first` starts, fetched as the stream is read.
pub(crate) fn pages<T>(
    transport: Transport,
    first: ApiRequest,
) -> impl Stream<Item = Result<Page<T>, Error>> + Send
where
    T: DeserializeOwned + Send + 'static,
{
    let start = first
        .query
        .iter()
        .find(|(k, _)| k == "pageNumber")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1u32);
    futures::stream::try_unfold(Some((first, start)), move |state| {
        let transport = transport.clone();
        async move {
            let Some((req, number)) = state else {
                return Ok(None);
            };
            let page: Page<T> = transport.json(&req).await?;
            let next = page.next_request(&req, number).map(|r| (r, number + 1));
            Ok(Some((page, next)))
        }
    })
}

/// Every item of the listing `first` starts.
pub(crate) fn items<T>(
    transport: Transport,
    first: ApiRequest,
) -> impl Stream<Item = Result<T, Error>> + Send
where
    T: DeserializeOwned + Send + 'static,
{
    pages::<T>(transport, first)
        .map_ok(|page| futures::stream::iter(page.entities.into_iter().map(Ok)))
        .try_flatten()
}
