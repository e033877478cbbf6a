//! Answers to the generated API's operations (feature `api`), named by the operation a
//! service calls and typed with its model: [`FakeGenesys::answer`] and
//! [`FakeGenesys::answer_items`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::{FutureExt as _, Stream, StreamExt as _};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use wiremock::ResponseTemplate;

use super::responses::{error_body, page_of};
use super::{json_response, lock, FakeGenesys, FakeRequest};
use crate::api::{Api, ApiCall, Sender};
use crate::Method;

/// The generated API as [`FakeGenesys::answer`] hands it to its closure: an operation
/// built on it and sent (`.send()`, `.paginate()`) goes nowhere; it only says which
/// operation, with which path arguments, the fake answers.
#[derive(Debug)]
#[non_exhaustive]
pub struct Operations {}

/// The error every operation built on [`Operations`] ends with: it holds the call,
/// unsent. Only [`FakeGenesys::answer`] and [`FakeGenesys::answer_items`] read it.
#[derive(Debug)]
pub struct Unsent {
    call: ApiCall,
    /// The operation answers `text/plain` (sent with `send_text`).
    text: bool,
}

static OPERATIONS: Operations = Operations {};

impl Sender for Operations {
    type Error = Unsent;

    fn send<T>(&self, call: ApiCall) -> impl Future<Output = Result<T, Unsent>> + Send
    where
        T: DeserializeOwned + Send + 'static,
    {
        std::future::ready(Err(Unsent { call, text: false }))
    }

    fn send_text(&self, call: ApiCall) -> impl Future<Output = Result<String, Unsent>> + Send {
        std::future::ready(Err(Unsent { call, text: true }))
    }

    fn paginate<T>(&self, call: ApiCall) -> impl Stream<Item = Result<T, Unsent>> + Send + use<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        futures::stream::once(std::future::ready(Err(Unsent { call, text: false })))
    }
}

/// What the fake answers one operation with, for one set of path arguments.
#[derive(Clone)]
enum Answer {
    /// 200 with this JSON (204 for `null`: an operation with no content).
    Json(Value),
    /// 200 with this text (`text/plain`).
    Text(String),
    /// The items of a paged listing (`*EntityListing`), paged as the request asks.
    Items(Vec<Value>),
}

impl Answer {
    fn respond(&self, req: &FakeRequest) -> ResponseTemplate {
        match self {
            Answer::Json(Value::Null) => ResponseTemplate::new(204),
            Answer::Json(body) => json_response(200, body),
            Answer::Text(text) => {
                ResponseTemplate::new(200).set_body_raw(text.clone(), "text/plain")
            }
            Answer::Items(items) => page_of(req, items.clone(), &req.path),
        }
    }
}

/// The answers of one operation (one method and path template), by path arguments.
#[derive(Default)]
pub(super) struct Answers {
    by_args: Mutex<HashMap<Vec<String>, Answer>>,
}

impl FakeGenesys {
    /// Answers a generated operation (`genesys_cloud::api`) with `answer`, a value of the
    /// model the operation returns: the closure builds the operation exactly as a service
    /// calls it, `.send()` included, on the [`Operations`] it is given, and the fake
    /// answers that operation with those path arguments. The compiler checks that `answer`
    /// is the operation's model (`Queue` for `get_routing_queue`), for every group the
    /// test turns on (features of `genesys-cloud-api`).
    ///
    /// ```
    /// use genesys_cloud::api::{models, ApiExt};
    /// use genesys_cloud::testkit::FakeGenesys;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), genesys_cloud::Error> {
    /// let fake = FakeGenesys::start().await;
    /// let mut queue = models::Queue::default();
    /// queue.id = Some("q-1".into());
    /// queue.name = Some("Support".into());
    /// fake.answer(|api| api.routing().get_routing_queue("q-1").send(), &queue);
    ///
    /// let client = fake.client()?;
    /// let got = client.api().routing().get_routing_queue("q-1").send().await?;
    /// assert_eq!(got.name.as_deref(), Some("Support"));
    /// # Ok(()) }
    /// ```
    ///
    /// - The operation is matched by method and path template, then by its path
    ///   arguments; other arguments of an answered operation get the platform's `404`
    ///   (`not.found`, see [`FakeGenesys::answer_items`]), and an answer given again for
    ///   the same arguments replaces the first. Query parameters, headers and the body are
    ///   not matched (use [`FakeGenesys::route`] to answer by them); the journal records
    ///   them for assertions.
    /// - Answers go through everything the fake's endpoints do: the token check (none for
    ///   an operation the platform serves without OAuth), injected faults, the journal.
    ///   An answered operation takes its path template over from any endpoint of the
    ///   fake's own (the flows').
    /// - The answer is sent with status 200 (204 for an operation with no content,
    ///   `text/plain` for one answering text).
    ///
    /// # Panics
    ///
    /// When the closure returns a future not made by the operation's `.send()` (so there
    /// is no operation to answer): a mistake in the test itself.
    #[track_caller]
    pub fn answer<F, Fut, T>(&self, operation: F, answer: &T)
    where
        F: FnOnce(Api<'static, Operations>) -> Fut,
        Fut: Future<Output = Result<T, Unsent>>,
        T: Serialize,
    {
        let unsent = match operation(Api::new(&OPERATIONS)).now_or_never() {
            Some(Err(unsent)) => unsent,
            _ => panic!("FakeGenesys::answer: the closure must return an operation's `.send()`"),
        };
        // A model always serializes (its fields are JSON values); `null` if not.
        let json = serde_json::to_value(answer).unwrap_or(Value::Null);
        let answer = match (unsent.text, json) {
            (true, Value::String(text)) => Answer::Text(text),
            (_, json) => Answer::Json(json),
        };
        self.install_answer(unsent.call, answer);
    }

    /// Answers a generated listing operation, built with `.paginate()`, with `items`, as
    /// the platform pages a listing (`*EntityListing`: `entities`, `pageSize` (25 unless
    /// the request asks), `pageNumber`, `pageCount`, `total`, `nextUri`), so that the
    /// client's pager follows it as it follows the platform. Otherwise as
    /// [`FakeGenesys::answer`].
    ///
    /// An operation answered for some path arguments answers any other with the
    /// platform's error body (`ErrorBody`: `message`, `code`, `status`,
    /// `messageWithParams`, `messageParams`, `contextId`, `details`, `errors`; the
    /// fields of the SDKs' `ErrorBody`), status 404 and code `not.found`, as Genesys's
    /// JavaScript SDK documents a 404 (README, "Error Responses").
    ///
    /// ```
    /// use futures::TryStreamExt;
    /// use genesys_cloud::api::{models, ApiExt};
    /// use genesys_cloud::testkit::FakeGenesys;
    /// use genesys_cloud::ErrorKind;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), genesys_cloud::Error> {
    /// let fake = FakeGenesys::start().await;
    /// let users: Vec<models::User> = (0..30)
    ///     .map(|n| {
    ///         let mut user = models::User::default();
    ///         user.id = Some(format!("u-{n}"));
    ///         user
    ///     })
    ///     .collect();
    /// fake.answer_items(|api| api.users().get_users().paginate(), users);
    /// fake.answer(|api| api.users().get_user("u-1").send(), &models::User::default());
    ///
    /// let client = fake.client()?;
    /// let all: Vec<models::User> = client.api().users().get_users().paginate().try_collect().await?;
    /// assert_eq!(all.len(), 30); // two pages of 25
    /// let missing = client.api().users().get_user("u-2").send().await.unwrap_err();
    /// assert_eq!(missing.kind(), ErrorKind::NotFound);
    /// assert_eq!(missing.api().and_then(|e| e.code()), Some("not.found"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// When the closure returns a stream not made by the operation's `.paginate()`.
    #[track_caller]
    pub fn answer_items<F, S, T, I>(&self, operation: F, items: I)
    where
        F: FnOnce(Api<'static, Operations>) -> S,
        S: Stream<Item = Result<T, Unsent>>,
        T: Serialize,
        I: IntoIterator<Item = T>,
    {
        let mut listing = std::pin::pin!(operation(Api::new(&OPERATIONS)));
        let unsent = match listing.next().now_or_never() {
            Some(Some(Err(unsent))) => unsent,
            _ => panic!(
                "FakeGenesys::answer_items: the closure must return an operation's `.paginate()`"
            ),
        };
        let items = items
            .into_iter()
            .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
            .collect();
        self.install_answer(unsent.call, Answer::Items(items));
    }

    fn install_answer(&self, call: ApiCall, answer: Answer) {
        let method = method_of(call.method());
        let key = (method.clone(), call.template());
        let mut tables = lock(&self.state.answers);
        let answers = match tables.get(&key) {
            Some(answers) => answers.clone(),
            None => {
                let answers = Arc::new(Answers::default());
                tables.insert(key, answers.clone());
                let names = placeholders(call.template());
                let served = answers.clone();
                self.add_route_first(
                    method,
                    call.template(),
                    Arc::new(move |req: &FakeRequest| {
                        let args: Vec<String> = names
                            .iter()
                            .map(|name| req.param(name).to_owned())
                            .collect();
                        match lock(&served.by_args).get(&args) {
                            Some(answer) => answer.respond(req),
                            None => not_found(),
                        }
                    }),
                    call.requires_auth(),
                );
                answers
            }
        };
        drop(tables);
        lock(&answers.by_args).insert(call.path_args().to_vec(), answer);
    }
}

/// The platform's 404 for an entity it does not have, as Genesys's JavaScript SDK
/// documents it (README, "Error Responses": `status`, `code: not.found`, `message`,
/// `contextId`, `details`, `errors`), with the SDKs' other `ErrorBody` fields
/// (`messageWithParams` and `messageParams`, here with no parameters). No id in it.
fn not_found() -> ResponseTemplate {
    const MESSAGE: &str = "The requested operation failed with status 404";
    let mut body = error_body(404, "not.found", MESSAGE, Vec::new(), Vec::new());
    body["messageWithParams"] = Value::from(MESSAGE);
    ResponseTemplate::new(404).set_body_json(body)
}

/// The `{placeholders}` of a path template, in order.
fn placeholders(template: &str) -> Vec<String> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_owned)
        .collect()
}

fn method_of(method: crate::api::Method) -> Method {
    match method {
        crate::api::Method::Get => Method::GET,
        crate::api::Method::Head => Method::HEAD,
        crate::api::Method::Post => Method::POST,
        crate::api::Method::Put => Method::PUT,
        crate::api::Method::Patch => Method::PATCH,
        crate::api::Method::Delete => Method::DELETE,
    }
}
