//! A tour of genesys-cloud.
//!
//! With `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` and `GENESYS_REGION` (or
//! `GENESYS_API_BASE` + `GENESYS_LOGIN_BASE`) it runs against that org; a step that needs
//! ids only an org has (a conversation, a queue, a Messenger deployment, ...) runs when
//! they are set (see the README) and says so when not. With no org configured, it runs
//! every step against the built-in fake (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example tour
//! ```

use std::process::ExitCode;

use genesys_cloud::callbacks::{CallbackReservation, Channel, StreamItem};
use genesys_cloud::guests::{GuestAttributes, GuestSession, GuestSessionOptions, ParticipantSink};
use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
use genesys_cloud::nodes::{DataAction, LocalExecutor};
use genesys_cloud::{Client, Error, ErrorKind};

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
    let scaffolding = scaffolding::fake_unless_configured().await;
    let client = Client::from_env()?;
    println!("Touring {}", client.environment().api_base());

    authenticate(&client).await?;
    participant_attributes(&client).await?;
    agent_widget(&client).await?;
    guest_attributes(&client, &scaffolding).await?;
    callback_reservations(&client).await?;
    flow_rest_node(&client).await?;

    println!("\nMetrics: {}", client.metrics_snapshot());
    Ok(())
}

/// Logs in with the client credentials grant.
async fn authenticate(client: &Client) -> Result<(), Error> {
    client.auth().token().await?;
    println!("Authenticated: access token obtained and cached (it is never printed)");
    Ok(())
}

/// The ids a step needs, or `None` (and a note) when one is not set.
fn ids<const N: usize>(step: &str, names: [&str; N]) -> Option<[String; N]> {
    let values = names.map(|name| std::env::var(name).ok());
    if values.iter().all(Option::is_some) {
        return Some(values.map(Option::unwrap_or_default));
    }
    println!("\n{step}: skipped (set {})", names.join(", "));
    None
}

/// Typed, sanitized custom attributes on a messaging participant.
async fn participant_attributes(client: &Client) -> Result<(), Error> {
    let Some([conversation_id, participant_id]) = ids(
        "[1] messaging",
        ["GENESYS_CONVERSATION_ID", "GENESYS_PARTICIPANT_ID"],
    ) else {
        return Ok(());
    };
    let schema = AttributeSchema::new()
        .key("customer_tier", KeySpec::string())
        .key("cart_value", KeySpec::number())
        .key("is_vip", KeySpec::boolean())
        .key("referral_code", KeySpec::string());
    let patch = AttributePatch::builder(&schema)
        .set("customer_tier", "platinum")
        .set("cart_value", 1250.50)
        .set("is_vip", true)
        .set("referral_code", "<script>alert('xss')</script>REF-2024")
        .build()?;
    let held = client
        .messaging()
        .participant(&conversation_id, &participant_id)
        .patch_attributes(&patch)
        .await?;
    println!("\n[1] messaging: participant {participant_id} now holds {held:?}");
    Ok(())
}

/// A custom agent widget deployed as a client-app integration, then removed.
async fn agent_widget(client: &Client) -> Result<(), Error> {
    let policy = SandboxPolicy::default().allow_host("*.cloudfront.net");
    let spec = WidgetSpec::builder(
        "genesys-cloud tour widget",
        "https://d111.cloudfront.net/widget/",
    )
    .kind(WidgetKind::InteractionWidget)
    .build(&policy)?;
    let integrations = client.integrations();
    let report = integrations.deploy(&spec).await?;
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step).collect();
    println!(
        "\n[2] integrations: widget {} active after {} in {:.0} ms",
        report.integration_id,
        steps.join(" > "),
        report.total.as_secs_f64() * 1000.0
    );
    // The tour leaves nothing behind in a real org.
    integrations.delete(&report.integration_id).await?;
    println!("[2] integrations: widget deleted again");
    Ok(())
}

/// A flow REST node as a Data Action: run locally, then draft, publish, execute.
async fn flow_rest_node(client: &Client) -> Result<(), Error> {
    // A data actions integration and the node's target system.
    let integration = std::env::var("GENESYS_DATA_ACTION_INTEGRATION_ID")
        .unwrap_or_else(|_| "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41".to_owned());
    let Some([target]) = ids("[5] nodes", ["GENESYS_NODE_TARGET"]) else {
        return Ok(());
    };
    let action = DataAction::builder("genesys-cloud tour", "tour REST node", integration)
    .input_schema(serde_json::json!({
        "type": "object", "required": ["targetId"], "properties": {"targetId": {"type": "string"}}
    }))
    .success_schema(serde_json::json!({
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}
    }))
    .request(
        "POST",
        format!("{target}/resources/$esc.uriEncode(${{input.targetId}})"),
    )
    .request_template(r#"{"resourceId": "$esc.jsonString(${input.targetId})"}"#)
    .translation("status", "$.status")
    .success_template(r#"{"status": ${status}}"#)
    .build()?;
    let input = serde_json::json!({"targetId": "tour-1"});
    let local = LocalExecutor::new(client.clone(), action.clone())
        .execute(&input)
        .await?;
    let nodes = client.nodes();
    let draft = nodes.create_draft(&action).await?;
    let published = nodes.publish(&draft.id).await?;
    let remote = nodes.execute(&published.id, &input).await?;
    println!(
        "\n[5] nodes: local run {local}, published {} executed {remote}",
        published.id
    );
    nodes.delete(&published.id).await?;
    Ok(())
}

/// A callback booked one hour ahead, seen on the live event stream, then cancelled.
async fn callback_reservations(client: &Client) -> Result<(), Error> {
    let Some([queue]) = ids("[4] callbacks", ["GENESYS_QUEUE_ID"]) else {
        return Ok(());
    };
    let zone = genesys_cloud::jiff::tz::TimeZone::get("America/New_York")
        .map_err(|e| Error::custom(ErrorKind::Configuration, e.to_string()))?;
    let start = (genesys_cloud::jiff::Zoned::now().with_time_zone(zone.clone())
        + genesys_cloud::jiff::SignedDuration::from_hours(1))
    .datetime();
    let reservation = CallbackReservation::builder(&queue, zone)
        .callback_number("+14155550199")
        .at(start)
        .channels(Channel::Voice, Some(Channel::Sms))
        .build()?;
    let callbacks = client.callbacks();
    // Returns once subscribed: no sleep needed before the first change.
    let mut events = callbacks.events(&[&queue]).await?;
    let created = callbacks.create(&reservation).await?;
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(item) = futures::StreamExt::next(&mut events).await {
            if let StreamItem::Event(event) = item? {
                return Ok(event.state.map(|s| s.to_string()));
            }
        }
        Ok::<_, Error>(None)
    })
    .await;
    let state = match seen {
        Ok(Ok(Some(state))) => state,
        Ok(Err(err)) => return Err(err),
        _ => "no event within 10 s".to_owned(),
    };
    callbacks.disconnect(created.conversation_id()).await?;
    println!(
        "\n[4] callbacks: {} booked for {}, event: {state}, then cancelled",
        created.conversation_id(),
        reservation.scheduled_time()
    );
    Ok(())
}

/// A guest's session starts its conversation with the guest's first attributes;
/// later updates are checked, batched and sent to the customer participant (the
/// documented path for updates without a guest message).
async fn guest_attributes(
    client: &Client,
    scaffolding: &scaffolding::Scaffolding,
) -> Result<(), Error> {
    let Some([deployment, conversation_id, participant_id]) = ids(
        "[3] guests",
        [
            "GENESYS_DEPLOYMENT_ID",
            "GENESYS_CONVERSATION_ID",
            "GENESYS_PARTICIPANT_ID",
        ],
    ) else {
        return Ok(());
    };
    let token = uuid::Uuid::new_v4().to_string();
    let session =
        GuestSession::connect(client, &deployment, &token, GuestSessionOptions::default()).await?;
    let first = std::collections::BTreeMap::from([("entryPage".to_owned(), "pricing".to_owned())]);
    session.auto_start(&first).await?;

    let sink = std::sync::Arc::new(ParticipantSink::new(client.clone()));
    sink.register("tour-guest", &conversation_id, &participant_id);
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .start()
        .await?;
    let dead_letters = guests.dead_letters();
    let none = std::collections::BTreeMap::new();
    for (key, value) in [
        ("firstName", "Ada"),
        ("preferredLanguage", "fr"),
        ("firstName", "Ada L."),
    ] {
        let update = std::collections::BTreeMap::from([(key.to_owned(), value.to_owned())]);
        guests.add("tour-guest", update, none.clone()).await?;
    }
    guests.shutdown().await?;
    session.close().await?;
    // An update given up is the tour's failure: its error says what to fix.
    if let Some(last) = dead_letters.drain().pop() {
        return Err(last.error.unwrap_or_else(|| {
            Error::custom(ErrorKind::Closed, "guest updates were given up at shutdown")
        }));
    }
    let metrics = client.metrics_snapshot();
    println!(
        "\n[3] guests: the session started with its first attributes; {} updates sent in {} batch(es)",
        metrics.counter("guests.updates"),
        metrics.counter("guests.batches"),
    );
    scaffolding.show_guest_outcome(&token);
    Ok(())
}
