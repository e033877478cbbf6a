//! Serves a flow REST node at `POST /simulate/node`, so flow tests can call it without
//! Genesys Cloud. The node calls `GENESYS_NODE_TARGET`; with no org configured, the
//! built-in fake's `/external/v1` (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example node_simulator -- --port 8080
//! curl -s localhost:8080/simulate/node -d '{"targetId": "ext-1"}'
//! ```
//!
//! Options: `--port N` (default 8080, 0 for any free port), `--serve-for SECONDS` (stop
//! after that long; default: until Ctrl-C).

use std::process::ExitCode;
use std::time::Duration;

use genesys_cloud::nodes::simulator::Simulator;
use genesys_cloud::nodes::{DataAction, LocalExecutor};
use genesys_cloud::Client;
type BoxError = Box<dyn std::error::Error>;
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("simulator failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn flag(name: &str) -> Result<Option<u64>, BoxError> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name} takes a number").into()),
    }
}

async fn run() -> Result<(), BoxError> {
    let port = u16::try_from(flag("--port")?.unwrap_or(8080)).map_err(|_| "--port is 0..=65535")?;
    let serve_for = flag("--serve-for")?.map(Duration::from_secs);

    let _scaffolding = scaffolding::fake_unless_configured().await;
    // The executor calls only the target system, never Genesys; the client carries its
    // transport (timeouts, retries, metrics).
    let client = Client::from_env()?;
    let target = std::env::var("GENESYS_NODE_TARGET")
        .map_err(|_| "set GENESYS_NODE_TARGET: the base URL of the system the node calls")?;
    let action = DataAction::builder("External System", "ExternalRESTNode", "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41")
        .input_schema(json!({
            "type": "object",
            "required": ["targetId"],
            "properties": {"targetId": {"type": "string"}, "requestPayload": {"type": "string", "description": "JSON body template values"}}
        }))
        .success_schema(json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "resultId": {"type": "string"}}}))
        .request("POST", format!("{target}/resources/$esc.uriEncode(${{input.targetId}})"))
        .request_template(r#"{"resourceId": "$esc.jsonString(${input.targetId})", "data": "$!esc.jsonString($!{input.requestPayload})"}"#)
        .translation("status", "$.status")
        .translation("resultId", "$.resultId")
        .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
        .build()?;

    let running = Simulator::new()
        .action("node", LocalExecutor::new(client, action))
        .serve(([127, 0, 0, 1], port).into())
        .await?;
    println!(
        "Node simulator listening: POST http://{}/simulate/node",
        running.local_addr()
    );
    match serve_for {
        Some(wait) => tokio::time::sleep(wait).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    running.shutdown();
    Ok(())
}
