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

use genesys_cloud::callbacks::{CallbackReservation, Channel};
use genesys_cloud::guests::{GuestAttributes, GuestSession, GuestSessionOptions, WebMessagingSink};
use genesys_cloud::integrations::{SandboxPolicy, WidgetKind, WidgetSpec};
use genesys_cloud::messaging::{AttributePatch, AttributeSchema, KeySpec};
use genesys_cloud::nodes::{DataAction, LocalExecutor};
use genesys_cloud::testkit::FakeGenesys;
use genesys_cloud::{testkit, Client, Error};

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
    participant_attributes(&client, fake.as_ref()).await?;
    agent_widget(&client).await?;
    guest_attributes(&client, fake.as_ref()).await?;
    callback_reservations(&client, fake.as_ref()).await?;
    flow_rest_node(&client, fake.as_ref()).await?;

    println!("\nMetrics: {}", client.metrics_snapshot());
    Ok(())
}

/// Logs in with the client credentials grant.
async fn authenticate(client: &Client) -> Result<(), Error> {
    client.auth().token().await?;
    println!("Authenticated: access token obtained and cached (it is never printed)");
    Ok(())
}

/// Flow 1: typed, sanitized custom attributes on a messaging participant.
async fn participant_attributes(client: &Client, fake: Option<&FakeGenesys>) -> Result<(), Error> {
    let (conversation_id, participant_id) = match fake {
        Some(fake) => {
            let seeded = fake.seed_message_conversation();
            (seeded.conversation_id, seeded.customer_participant_id)
        }
        None => match (
            std::env::var("GENESYS_CONVERSATION_ID"),
            std::env::var("GENESYS_PARTICIPANT_ID"),
        ) {
            (Ok(c), Ok(p)) => (c, p),
            _ => {
                println!("\n[1] messaging: skipped (set GENESYS_CONVERSATION_ID and GENESYS_PARTICIPANT_ID)");
                return Ok(());
            }
        },
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

/// Flow 2: a custom agent widget deployed as a client-app integration, then removed.
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

/// Flow 5: a flow REST node as a Data Action: run locally, then draft, publish, execute.
async fn flow_rest_node(client: &Client, fake: Option<&FakeGenesys>) -> Result<(), Error> {
    // An org needs a data actions integration and a real target: see examples/flow_rest_node.
    let Some(fake) = fake else {
        println!("\n[5] nodes: skipped against an org (run the flow_rest_node example)");
        return Ok(());
    };
    let target = fake.external_target_path();
    let action = DataAction::builder(
        "genesys-cloud tour",
        "tour REST node",
        "5b6e2b7a-2f0c-4e8e-9d55-6c1f0e8b9a41",
    )
    .input_schema(serde_json::json!({
        "type": "object", "required": ["targetId"], "properties": {"targetId": {"type": "string"}}
    }))
    .success_schema(serde_json::json!({
        "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}
    }))
    .request("POST", format!("{target}/resources/${{input.targetId}}"))
    .request_template(r#"{"resourceId": "${input.targetId}"}"#)
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

/// Flow 4: a callback booked one hour ahead, seen on the live event stream, then cancelled.
async fn callback_reservations(client: &Client, fake: Option<&FakeGenesys>) -> Result<(), Error> {
    let queue = match (fake, std::env::var("GENESYS_QUEUE_ID")) {
        (_, Ok(queue)) => queue,
        (Some(_), Err(_)) => "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f".to_owned(),
        (None, Err(_)) => {
            println!("\n[4] callbacks: skipped (set GENESYS_QUEUE_ID)");
            return Ok(());
        }
    };
    let zone = jiff::tz::TimeZone::get("America/New_York")
        .map_err(|e| Error::custom(genesys_cloud::ErrorKind::Configuration, e.to_string()))?;
    let start =
        (jiff::Zoned::now().with_time_zone(zone) + jiff::SignedDuration::from_hours(1)).datetime();
    let reservation = CallbackReservation::builder(&queue, "America/New_York")
        .callback_number("+14155550199")
        .slot(start, start + jiff::SignedDuration::from_mins(15))
        .channels(Channel::Voice, Some(Channel::Sms))
        .build()?;
    let callbacks = client.callbacks();
    let mut events = callbacks.events(&[&queue])?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await; // let the stream subscribe
    let created = callbacks.create(&reservation).await?;
    let seen = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        futures::StreamExt::next(&mut events),
    )
    .await;
    let state = match seen {
        Ok(Some(Ok(event))) => event.state.unwrap_or_default(),
        Ok(Some(Err(err))) => return Err(err),
        _ => "no event within 10 s".to_owned(),
    };
    callbacks.disconnect(&created.conversation_id).await?;
    println!(
        "\n[4] callbacks: {} booked for {}, event: {state}, then cancelled",
        created.conversation_id,
        reservation.scheduled_time()
    );
    Ok(())
}

/// Flow 3: guest attributes checked, batched and sent on the guest's web messaging session.
async fn guest_attributes(client: &Client, fake: Option<&FakeGenesys>) -> Result<(), Error> {
    // An org needs a Messenger deployment: see examples/guest_attributes.
    let Some(fake) = fake else {
        println!("\n[3] guests: skipped against an org (run the guest_attributes example)");
        return Ok(());
    };
    let token = uuid::Uuid::new_v4().to_string();
    let deployment = "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b";
    let session = GuestSession::connect(
        &fake.web_messaging_uri(),
        deployment,
        &token,
        GuestSessionOptions::default(),
    )
    .await?;
    let sink = std::sync::Arc::new(WebMessagingSink::new());
    sink.register("tour-guest", session);
    let (guests, _) = GuestAttributes::builder(client.clone(), sink)
        .start()
        .await?;
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
    println!(
        "\n[3] guests: 3 updates, one send; the session holds {:?}",
        fake.guest_attributes(&token).unwrap_or_default()
    );
    Ok(())
}
