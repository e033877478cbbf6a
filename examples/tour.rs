//! A tour of genesys-cloud.
//!
//! With no `GENESYS_CLIENT_ID` set it starts the built-in fake Genesys Cloud and runs
//! against it; with `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` and `GENESYS_REGION`
//! (or `GENESYS_API_BASE` + `GENESYS_LOGIN_BASE`) it runs against that org.
//!
//! ```sh
//! cargo run --example tour
//! ```

use std::process::ExitCode;

use genesys_cloud::{testkit, Client, Error, Method};

#[tokio::main]
async fn main() -> ExitCode {
    match tour().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tour failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn tour() -> Result<(), Error> {
    let (client, fake) = testkit::client_from_env_or_fake().await?;
    match &fake {
        Some(fake) => println!(
            "No GENESYS_CLIENT_ID set: touring the built-in fake at {}",
            fake.uri()
        ),
        None => println!("Touring {}", client.environment().api_base()),
    }

    authenticate(&client).await?;

    println!("\nMetrics: {}", client.metrics_snapshot());
    Ok(())
}

/// Logs in with client credentials and reads the organization.
async fn authenticate(client: &Client) -> Result<(), Error> {
    let org: serde_json::Value = client
        .request(Method::GET, "/api/v2/organizations/me")
        .send()
        .await?;
    println!(
        "Authenticated to organization {} ({})",
        org["name"], org["id"]
    );
    Ok(())
}
