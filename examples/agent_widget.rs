//! Validate a custom agent widget against sandbox constraints and deploy it as a
//! client-application integration, then print the deployment and audit reports.
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...); with no org
//! configured, it runs against the built-in fake (see `scaffolding.rs`). In an org the
//! widget stays installed: delete it in Admin > Integrations.
//!
//! ```sh
//! cargo run --example agent_widget
//! ```

use std::process::ExitCode;

use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
use genesys_cloud::{Client, Error};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("deployment failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let _scaffolding = scaffolding::fake_unless_configured().await;
    let client = Client::from_env()?;

    // Sandbox constraints: 10 KiB of configuration, frames up to 800x600, and
    // widgets served only from S3 or CloudFront.
    let policy = SandboxPolicy::default()
        .allow_host("s3.amazonaws.com")
        .allow_host("*.cloudfront.net");

    println!("Validating widget against sandbox constraints...");
    let spec = WidgetSpec::builder(
        "Agent Dashboard Widget",
        "https://s3.amazonaws.com/my-bucket/widget/index.html",
    )
    .kind(WidgetKind::Widget)
    .notes("Custom metrics display for agent desktop")
    .dimensions(750, 500)
    .build(&policy)?;
    println!("Validation passed.");

    println!("Deploying widget to Genesys Cloud...");
    let deployer = client.integrations().deployer();
    let report = deployer.deploy(&spec).await?;
    println!(
        "Deployment completed. Integration id: {} ({}), latency {:.2} ms",
        report.integration_id,
        if report.created { "created" } else { "updated" },
        report.total.as_secs_f64() * 1000.0
    );
    for step in &report.steps {
        println!(
            "  {:<10} {:>8.2} ms",
            step.step,
            step.took.as_secs_f64() * 1000.0
        );
    }

    println!("\nAudit report:");
    let audit = serde_json::to_string_pretty(&deployer.audit_report())
        .map_err(|e| Error::custom(genesys_cloud::ErrorKind::Configuration, e.to_string()))?;
    println!("{audit}");
    Ok(())
}
