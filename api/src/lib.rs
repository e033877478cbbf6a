//! Every operation and model of the [Genesys Cloud](https://developer.genesys.cloud/)
//! Platform API, generated from Genesys's own SDKs, sent through
//! [`genesys-cloud`](https://docs.rs/genesys-cloud)'s client.
//!
//! ```ignore
//! use futures::TryStreamExt;
//! use genesys_cloud::api::ApiExt; // = genesys_cloud_api::ApiExt
//!
//! // `client` is a `genesys_cloud::Client` (feature `api` of `genesys-cloud`).
//! let queue = client.api().routing().get_routing_queue(queue_id).send().await?;
//! println!("{:?}", queue.name);
//!
//! let users: Vec<_> = client.api().users().get_users().page_size(100).paginate().try_collect().await?;
//! ```
//!
//! (`ignore`d here because this crate does not depend on `genesys-cloud`; the same code
//! compiles in `genesys-cloud`'s `examples/api_queue_and_users.rs`.)
//!
//! Nothing here sends HTTP: an operation builds an [`ApiCall`] (method, path template and
//! arguments, query, headers, JSON body, idempotency, whether it needs credentials) and
//! hands it to a [`Sender`]. `genesys_cloud::Client` is one (enable its `api` feature), so
//! every call gets the client's auth, retries, rate limits, metrics and tracing. The 35
//! operations the platform serves without OAuth ([`ApiCall::requires_auth`] is `false`)
//! are sent without credentials, also from a client that has none.
//!
//! # Finding an operation
//!
//! Groups and names are the SDKs': the operation `RoutingApi.get_routing_queue` of the
//! Python SDK (`getRoutingQueue` in JavaScript, a search alias here) is
//! `client.api().routing().get_routing_queue(..)`, behind the feature `routing`. Required
//! parameters are the method's arguments; optional ones are methods of the request builder
//! it returns; `.send().await` sends it, and `.paginate()` streams the items of listings.
//!
//! # Models
//!
//! [`models`] holds every model under its SDK name. Every field is an `Option` (answers
//! often leave out fields that requests require; the docs say which are required when
//! sent), dates are ISO-8601 strings as sent, enums keep values they do not know in
//! `Unrecognized(String)`, and fields unknown to this version are kept in `extra`, so a
//! model read and written back loses nothing. Structs are `#[non_exhaustive]`: build one
//! with `Default` and set its fields.
//!
//! # Features
//!
//! One feature per group (no group is on by default); each compiles only the models its
//! operations reach. `full` turns on everything, `slice-*` only the models of one of
//! `genesys-cloud`'s flows, `topics-*` the bodies of one area's notification topics.
//!
//! # Notification topics
//!
//! `topics` (feature `topic-table`) is the platform's table of notification topics and
//! the models of their bodies (`v2.users.{id}.presence` → `PresenceEventUserPresence`):
//! `topics::model_for` needs no model, and every such model implements `TopicBody` when
//! its feature (`topics-users`, or `topics`; each turns `topic-table` on) is on.
//! `genesys_cloud`'s `Notification::body::<M: TopicBody>()` decodes a notification with
//! it.
//!
#![doc = include_str!("generated/FEATURES.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
#[path = "model.rs"]
pub mod __model;
mod enums;
mod sender;
#[cfg(feature = "topic-table")]
mod topic;

#[rustfmt::skip]
mod generated;

pub use __model::deny_unknown_fields;
pub use generated::*;
pub use sender::{Api, ApiCall, ApiExt, Method, Sender};
#[cfg(feature = "topic-table")]
pub use topic::TopicBody;
