//! The generated Platform API: every operation and model of `genesys-cloud-api`, sent
//! through [`Client`] (feature `api`).
//!
//! `genesys-cloud-api` is re-exported here whole; [`Client`] implements its [`Sender`], so
//! every generated call gets the client's auth, retries (POST and PATCH are not retried
//! after a 5xx or a lost connection), rate limits, metrics and tracing, and fails with
//! this crate's [`Error`]. Path parameters are percent-encoded as one segment each; spans
//! and metrics name the endpoint by its template, never by its ids.
//!
//! The operations the platform serves without OAuth ([`ApiCall::requires_auth`] is
//! `false`: web deployment and guest endpoints, Journey events, knowledge guest sessions,
//! ...) are sent with no `Authorization` header and without asking the client's
//! [`Auth`](crate::auth::Auth) for a token, so they cause no login, and a client built
//! [without credentials](crate::ClientBuilder::without_credentials) can call them.
//!
//! Choose the API groups by depending on `genesys-cloud-api` with their features next to
//! this crate with `api` (see `docs/api.md`):
//!
//! ```toml
//! genesys-cloud = { version = "0.1", features = ["api"] }
//! genesys-cloud-api = { version = "0.1", features = ["routing", "users"] }
//! ```
//!
//! ```no_run
//! # async fn run(client: genesys_cloud::Client) -> Result<(), genesys_cloud::Error> {
//! use futures::TryStreamExt;
//! use genesys_cloud::api::{models, ApiExt};
//!
//! let queue: models::Queue = client.api().routing().get_routing_queue("queue-id").send().await?;
//! let users: Vec<models::User> = client
//!     .api()
//!     .users()
//!     .get_users()
//!     .page_size(100)
//!     .paginate()
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```

use std::future::Future;

use futures::Stream;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Error;
use crate::request::RequestBuilder;

pub use genesys_cloud_api::*;

impl Sender for Client {
    type Error = Error;

    fn send<T>(&self, call: ApiCall) -> impl Future<Output = Result<T, Error>> + Send
    where
        T: DeserializeOwned + Send + 'static,
    {
        let request = request_of(self, call);
        async move { request.send::<T>().await }
    }

    fn send_text(&self, call: ApiCall) -> impl Future<Output = Result<String, Error>> + Send {
        let request = request_of(self, call);
        async move {
            let answer = request.send_raw().await?;
            Ok(String::from_utf8_lossy(answer.body()).into_owned())
        }
    }

    fn paginate<T>(&self, call: ApiCall) -> impl Stream<Item = Result<T, Error>> + Send + use<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        request_of(self, call).paginate::<T>()
    }
}

/// The client's request for a generated call.
fn request_of(client: &Client, call: ApiCall) -> RequestBuilder {
    let method = match call.method() {
        Method::Get => crate::Method::GET,
        Method::Head => crate::Method::HEAD,
        Method::Post => crate::Method::POST,
        Method::Put => crate::Method::PUT,
        Method::Patch => crate::Method::PATCH,
        Method::Delete => crate::Method::DELETE,
    };
    let args: Vec<&str> = call.path_args().iter().map(String::as_str).collect();
    let mut request = client
        .request_template(method, call.template(), &args)
        .idempotent(call.is_idempotent())
        .requires_auth(call.requires_auth());
    for (name, value) in call.query() {
        request = request.query(*name, value);
    }
    for (name, value) in call.headers() {
        request = request.header(*name, value.as_str());
    }
    match call.body() {
        Ok(None) => request,
        Ok(Some(bytes)) => request.json_bytes(Ok(bytes.to_vec())),
        Err(e) => request.json_bytes(Err(e.to_owned())),
    }
}
