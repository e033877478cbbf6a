//! The generated API: read a queue and list every user, through the client's auth,
//! retries, rate limits and metrics.
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...); the first queue the
//! org lists is read. With no org configured, it runs against the built-in fake, which
//! serves the operations of `tests/data/api-operations.json` and checks each request
//! against the platform's description (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run -p genesys-cloud-examples --features api --example api_queue_and_users
//! ```

use std::process::ExitCode;

use futures::TryStreamExt;
use genesys_cloud::api::{models, ApiExt};
use genesys_cloud::{Client, Error};

/// The operations the fake serves, with the platform's description of each.
const DESCRIPTION: &str = include_str!("../tests/data/api-operations.json");

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("api_queue_and_users failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let scaffolding = scaffolding::fake_unless_configured().await;
    let described = scaffolding.serve_described(DESCRIPTION)?;
    let client = Client::from_env()?;
    let api = client.api();

    // The first queue of the org, then that queue read by id.
    let first = api
        .routing()
        .get_routing_queues()
        .page_size(1)
        .send()
        .await?;
    let queue_id = first
        .entities
        .unwrap_or_default()
        .into_iter()
        .find_map(|q| q.id)
        .ok_or_else(|| {
            Error::from(genesys_cloud::ValidationError::single(
                "queue",
                "exists",
                "the org has no queue to read",
            ))
        })?;
    let queue: models::Queue = api.routing().get_routing_queue(&queue_id).send().await?;
    println!(
        "queue {}: {} ({} members)",
        queue_id,
        queue.name.as_deref().unwrap_or("(no name)"),
        queue.member_count.unwrap_or_default()
    );

    // Every user, page after page.
    let users: Vec<models::User> = api
        .users()
        .get_users()
        .page_size(100)
        .state("active")
        .paginate()
        .try_collect()
        .await?;
    for user in &users {
        println!(
            "user {}: {}",
            user.id.as_deref().unwrap_or("?"),
            user.name.as_deref().unwrap_or("(no name)")
        );
    }
    println!("{} users; {}", users.len(), client.metrics_snapshot());

    if let Some(described) = described {
        let violations = described.violations();
        if !violations.is_empty() {
            eprintln!(
                "requests that differ from the description:\n{}",
                violations.join("\n")
            );
            return Err(Error::from(genesys_cloud::ValidationError::single(
                "request",
                "described",
                "a request differed from the platform's description",
            )));
        }
    }
    Ok(())
}
