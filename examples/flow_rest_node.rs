//! A flow REST node as a Genesys Cloud Data Action: build and validate the action, run it
//! locally against its target, then create a draft, test it, publish it and execute it on
//! the platform.
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...),
//! `GENESYS_DATA_ACTION_INTEGRATION_ID` (a web-services data actions integration) and
//! `GENESYS_NODE_TARGET` (the target's base URL; the local run needs it). With no org
//! configured, it runs against the built-in fake, whose `/external/v1` is the target (see
//! `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example flow_rest_node
//! ```

use std::process::ExitCode;

use genesys_cloud::nodes::{DataAction, LocalExecutor};
use genesys_cloud::{Client, Error};
use serde_json::json;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("flow REST node failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let _scaffolding = scaffolding::fake_unless_configured().await;
    let client = Client::from_env()?;
    // The external system the node calls; without it the node is only run by the platform.
    let local_target = std::env::var("GENESYS_NODE_TARGET").ok();
    let target = local_target
        .clone()
        .unwrap_or_else(|| "https://api.external-system.com/v1".into());
    let integration_id = std::env::var("GENESYS_DATA_ACTION_INTEGRATION_ID")
        .unwrap_or_else(|_| "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41".into());

    let action = DataAction::builder("External System", "ExternalRESTNode", integration_id)
        .input_schema(json!({
            "type": "object",
            "required": ["targetId"],
            "properties": {
                "targetId": {"type": "string", "description": "External system identifier for dynamic URL path"},
                "authToken": {"type": "string"},
                "requestPayload": {"type": "string", "description": "JSON body template values"}
            }
        }))
        .success_schema(json!({
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string"}, "resultId": {"type": "string"}}
        }))
        // Velocity, as the platform renders it: values are escaped where they land.
        .request("POST", format!("{target}/resources/$esc.uriEncode(${{input.targetId}})"))
        .header("Authorization", "Bearer $!{input.authToken}")
        .request_template(r#"{"resourceId": "$esc.jsonString(${input.targetId})", "data": "$!esc.jsonString($!{input.requestPayload})"}"#)
        .translation("status", "$.status")
        .translation("resultId", "$.resultId")
        .translation_default("resultId", "\"none\"")
        .success_template(r#"{"status": ${status}, "resultId": ${resultId}}"#)
        .timeout_seconds(15)
        .build()?;
    println!("Action validated: {}", action.name());

    let input = json!({"targetId": "ext-1001", "requestPayload": "{\"priority\": \"high\"}"});
    if local_target.is_some() {
        let local = LocalExecutor::new(client.clone(), action.clone());
        println!("Local run: {}", local.execute(&input).await?);
        println!("Local run again (cached): {}", local.execute(&input).await?);
    }

    let nodes = client.nodes();
    let draft = nodes.create_draft(&action).await?;
    println!("Draft {} (version {})", draft.id, draft.version);
    let test = nodes.test_draft(&draft.id, &input).await?;
    println!(
        "Draft test: success={} steps={}",
        test.success,
        test.operations.len()
    );
    let published = nodes.publish(&draft.id).await?;
    println!("Published {} (version {})", published.id, published.version);
    let output = nodes.execute(&published.id, &input).await?;
    println!("Executed on the platform: {output}");
    Ok(())
}
