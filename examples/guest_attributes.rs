//! Tutorial 002: web messaging guest attributes: validated (PII, consent), kept in a
//! durable outbox, batched per session, sent on the guest's web messaging session, and
//! synced to a CRM webhook.
//!
//! Against the built-in fake by default. For an org, set `GENESYS_DEPLOYMENT_ID` (a
//! Messenger deployment) and `GENESYS_REGION`; the CRM webhook is the fake's unless
//! `CRM_WEBHOOK_URL` and `CRM_WEBHOOK_SECRET` are set.
//!
//! ```sh
//! cargo run --example guest_attributes
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use genesys_cloud::guests::{
    web_messaging_uri, GuestAttributes, GuestPolicy, GuestSession, GuestSessionOptions, PiiAction,
    WebMessagingSink,
};
use genesys_cloud::{testkit, Error, Region};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("guest attributes failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn text(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn run() -> Result<(), Error> {
    let (client, fake) = testkit::client_from_env_or_fake().await?;
    let crm_secret = "demo-crm-secret-0123456789";
    // The fake's CRM verifies every signature and drops repeated deliveries.
    let crm_inbox = fake
        .as_ref()
        .map(|f| f.webhook_receiver("/external/crm", crm_secret));
    let (socket_uri, deployment, crm_url, crm_secret) = match &fake {
        Some(fake) => (
            fake.web_messaging_uri(),
            "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            format!("{}/external/crm", fake.uri()),
            crm_secret.to_owned(),
        ),
        None => {
            let region: Region = std::env::var("GENESYS_REGION")
                .unwrap_or_default()
                .parse()?;
            let var = |name: &str| {
                std::env::var(name).map_err(|_| {
                    Error::custom(
                        genesys_cloud::ErrorKind::Configuration,
                        format!("{name} is not set"),
                    )
                })
            };
            (
                web_messaging_uri(region),
                var("GENESYS_DEPLOYMENT_ID")?,
                var("CRM_WEBHOOK_URL")?,
                var("CRM_WEBHOOK_SECRET")?,
            )
        }
    };

    // The guest's session: the token is the guest's secret, kept to resume later.
    let guest_token = uuid::Uuid::new_v4().to_string();
    let session = GuestSession::connect(
        &socket_uri,
        &deployment,
        &guest_token,
        GuestSessionOptions::default(),
    )
    .await?;
    println!(
        "Guest session configured (new: {})",
        session.info().new_session
    );
    let sink = Arc::new(WebMessagingSink::new());
    sink.register("guest-42", session);

    let outbox = std::env::temp_dir().join("genesys-guest-attributes-demo.redb");
    let policy = GuestPolicy {
        pii: PiiAction::Mask,
        required_consents: vec!["analytics".into(), "crmSync".into()],
        ..GuestPolicy::default()
    };
    let (guests, replay) = GuestAttributes::builder(client.clone(), sink)
        .policy(policy)
        .outbox(&outbox)
        .crm_webhook(crm_url, crm_secret)
        .start()
        .await?;
    if let Some(replay) = replay {
        println!(
            "Outbox: {} pending updates resent, {} too old",
            replay.fresh.len(),
            replay.stale.len()
        );
    }

    let consents = BTreeMap::from([("analytics".to_owned(), true), ("crmSync".to_owned(), true)]);
    guests
        .add(
            "guest-42",
            text(&[("firstName", "Ada"), ("preferredLanguage", "fr-FR")]),
            consents.clone(),
        )
        .await?;
    let checked = guests
        .add(
            "guest-42",
            text(&[("ticketNumber", "TCK-2024-0042, reach me at ada@example.com")]),
            consents,
        )
        .await?;
    println!("Queued; masked before sending: {:?}", checked.attributes);
    guests.shutdown().await?;

    // Let the background CRM sync finish before reading the results.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    if let (Some(fake), Some(inbox)) = (&fake, &crm_inbox) {
        println!(
            "The platform holds: {:?}",
            fake.guest_attributes(&guest_token).unwrap_or_default()
        );
        let crm = serde_json::Value::Array(inbox.deliveries());
        println!("The CRM verified and received: {crm}");
    }
    let m = client.metrics_snapshot();
    println!(
        "updates {}, batches {}, coalesced {}, PII findings {}, CRM deliveries {}",
        m.counter("guests.updates"),
        m.counter("guests.batches"),
        m.counter("guests.coalesced_updates"),
        m.counter("guests.pii.email"),
        m.counter("webhook.crm.deliveries")
    );
    Ok(())
}
