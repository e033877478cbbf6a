//! Web messaging guest attributes: validated (PII, consent), kept in a durable outbox,
//! batched per session, and synced to a CRM webhook.
//!
//! The guest's first attributes start the conversation on the guest's own web messaging
//! session (the auto-start, the one way the Guest API takes attributes without a guest
//! message); later updates go server side to the customer participant, the documented
//! path for updates (see docs/guests.md).
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...),
//! `GENESYS_DEPLOYMENT_ID` (a Messenger deployment), `GENESYS_CONVERSATION_ID` and
//! `GENESYS_PARTICIPANT_ID` (the guest's conversation and customer participant),
//! `CRM_WEBHOOK_URL` and `CRM_WEBHOOK_SECRET`. With no org configured, it runs against the
//! built-in fake and its CRM receiver (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example guest_attributes
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

use genesys_cloud::guests::{
    DeadLetter, GuestAttributes, GuestPolicy, GuestSession, GuestSessionOptions, ParticipantSink,
    PiiAction,
};
use genesys_cloud::{Client, Error, ErrorKind};

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
    let scaffolding = scaffolding::fake_unless_configured().await;
    let client = Client::from_env()?;
    let var = |name: &str| {
        std::env::var(name)
            .map_err(|_| Error::custom(ErrorKind::Configuration, format!("{name} is not set")))
    };
    let deployment = var("GENESYS_DEPLOYMENT_ID")?;
    let conversation = var("GENESYS_CONVERSATION_ID")?;
    let participant = var("GENESYS_PARTICIPANT_ID")?;
    let crm_url = var("CRM_WEBHOOK_URL")?;
    let crm_secret = var("CRM_WEBHOOK_SECRET")?;

    // The guest's session: the token is the guest's secret, kept to resume later. A new
    // session starts its conversation once, with the guest's first attributes.
    let guest_token = uuid::Uuid::new_v4().to_string();
    let session = GuestSession::connect(
        &client,
        &deployment,
        &guest_token,
        GuestSessionOptions::default(),
    )
    .await?;
    println!(
        "Guest session configured (new: {}, custom attributes up to {:?} bytes)",
        session.info().new_session,
        session.info().max_custom_data_bytes
    );
    if session.info().new_session {
        session
            .auto_start(&text(&[("entryPage", "pricing")]))
            .await?;
    }

    // Later updates: server side, on the conversation's customer participant.
    let sink = Arc::new(ParticipantSink::new(client.clone()));
    sink.register("guest-42", &conversation, &participant);

    let outbox = std::env::temp_dir().join("genesys-guest-attributes-demo.redb");
    let policy = GuestPolicy::default()
        .pii(PiiAction::Mask)
        .required_consents(["analytics", "crmSync"]);
    let (guests, replay) = GuestAttributes::builder(client.clone(), sink)
        .policy(policy)
        .outbox(&outbox)
        .crm_webhook(crm_url, crm_secret)
        .start()
        .await?;
    if let Some(replay) = replay {
        println!(
            "Outbox: {} pending updates resent, {} too old, {} left for the next start",
            replay.fresh.len(),
            replay.stale.len(),
            replay.deferred.len()
        );
        for stale in &replay.stale {
            println!(
                "  too old, not resent: session {} keys {:?}",
                stale.session_id,
                stale.attributes.keys().collect::<Vec<_>>()
            );
        }
        // Reported: out of the outbox.
        replay.acknowledge_stale().await?;
    }
    let dead_letters = guests.dead_letters();

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
    // Sends what is left and waits for the CRM sync (both within their deadlines).
    guests.shutdown().await?;
    // Updates that were given up are the example's failure, not a footnote: a deploy
    // script reads the exit code.
    let undelivered = dead_letters.drain();
    for letter in &undelivered {
        println!(
            "Not delivered ({}): session {} keys {:?}",
            letter.reason.as_str(),
            letter.session_id,
            letter.attributes.keys().collect::<Vec<_>>()
        );
    }
    if let Some(last) = undelivered.last() {
        return Err(undelivered_error(undelivered.len(), last));
    }

    scaffolding.show_guest_outcome(&guest_token);
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

/// The error for `count` updates given up, `last` among them: its own error (which says
/// what to fix, e.g. the credentials), or why it was given up.
fn undelivered_error(count: usize, last: &DeadLetter) -> Error {
    let (kind, why) = match &last.error {
        Some(err) => (err.kind(), err.to_string()),
        None => (ErrorKind::Closed, last.reason.as_str().to_owned()),
    };
    Error::custom(
        kind,
        format!("{count} guest update(s) not delivered; the last: {why}"),
    )
}
