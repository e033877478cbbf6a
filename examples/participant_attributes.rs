//! Set typed, sanitized custom attributes on a messaging conversation's customer
//! participant, with hooks run after each successful update and an audit trail.
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...) and
//! `GENESYS_CONVERSATION_ID`, `GENESYS_PARTICIPANT_ID` (a customer participant of an
//! active messaging conversation). With no org configured, it runs against the built-in
//! fake (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example participant_attributes
//! ```

use std::process::ExitCode;

use genesys_cloud::messaging::{
    hook_fn, AttributeInjector, AttributePatch, AttributeSchema, Injection, KeySpec,
};
use genesys_cloud::observe::JsonLinesAuditSink;
use genesys_cloud::{ClientBuilder, Error};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("injection failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let _scaffolding = scaffolding::fake_unless_configured().await;

    // Audit lines (keys and ids, never values) go to stderr.
    let client = ClientBuilder::from_env()?
        .audit_sink(JsonLinesAuditSink::new(std::io::stderr()))
        .build()?;
    let conversation_id = env_or(
        "GENESYS_CONVERSATION_ID",
        "0b8f6a4e-8e57-4a8b-9d5c-3c1f2e4d5a6b",
    );
    let participant_id = env_or(
        "GENESYS_PARTICIPANT_ID",
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
    );

    // The keys this service may set, and their types.
    let schema = AttributeSchema::new()
        .key(
            "customer_tier",
            KeySpec::string().allowed_values(["silver", "gold", "platinum"]),
        )
        .key("cart_value", KeySpec::number())
        .key("is_vip", KeySpec::boolean())
        .key("referral_code", KeySpec::string().max_length(32));

    let patch = AttributePatch::builder(&schema)
        .set("customer_tier", "platinum")
        .set("cart_value", 1250.50)
        .set("is_vip", true)
        .set("referral_code", "<script>alert('xss')</script>REF-2024")
        .build()?;
    println!("sanitized: {:?}", patch.sanitized_keys());

    let injector = AttributeInjector::new(client)
        .hook(hook_fn("context_refresh", |i: Injection| async move {
            println!("context refreshed for participant {}", i.participant_id);
            Ok(())
        }))
        .hook(hook_fn("personalization_sync", |i: Injection| async move {
            println!(
                "personalization engine synced with {} attributes",
                i.attributes.len()
            );
            Ok(())
        }));

    let report = injector
        .inject(&conversation_id, &participant_id, &patch)
        .await?;
    println!("participant now holds {:?}", report.attributes);

    let stats = injector.stats();
    println!(
        "availability {:.2}%, mean latency {:.2} ms",
        stats.availability_rate.unwrap_or(0.0) * 100.0,
        stats.latency.mean_ms
    );
    Ok(())
}

/// An id from the environment, or a placeholder (which a real org answers 404).
fn env_or(name: &str, placeholder: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        eprintln!("{name} is not set: using the placeholder {placeholder}");
        placeholder.to_owned()
    })
}
