//! The service of `src/lib.rs` on `SERVICE_ADDR` (default `127.0.0.1:8080`), with the client
//! settings of the crate's README (`GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET`,
//! `GENESYS_REGION`, ...).

use std::process::ExitCode;

use genesys_cloud::Client;
use genesys_cloud_example_service::Service;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("service failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    let addr = std::env::var("SERVICE_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, Service::new(client).router()).await?;
    Ok(())
}
