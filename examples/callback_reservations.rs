//! Tutorial 003: book a web callback one hour ahead (voice, with SMS as fallback), move it,
//! cancel it, and print the events the Notifications API streams for its queue.
//!
//! Against the built-in fake by default. For an org set the `GENESYS_*` variables and
//! `GENESYS_QUEUE_ID` (and `GENESYS_QUEUE_TIME_ZONE`, default America/New_York).
//!
//! ```sh
//! cargo run --example callback_reservations
//! ```

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use genesys_cloud::callbacks::{CallbackReservation, Channel, WhenFull};
use genesys_cloud::{testkit, Error};
use jiff::{SignedDuration, Zoned};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("callback reservation failed: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Error> {
    let (client, _fake) = testkit::client_from_env_or_fake().await?;
    let queue = std::env::var("GENESYS_QUEUE_ID")
        .unwrap_or_else(|_| "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f".into());
    let zone_name =
        std::env::var("GENESYS_QUEUE_TIME_ZONE").unwrap_or_else(|_| "America/New_York".into());
    let zone = jiff::tz::TimeZone::get(&zone_name).map_err(|e| {
        Error::custom(
            genesys_cloud::ErrorKind::Configuration,
            format!("{zone_name}: {e}"),
        )
    })?;

    // The tutorial's concurrency limit: at most 10 reservations in flight per queue.
    let callbacks = client
        .callbacks()
        .with_concurrency_limit(10, WhenFull::Wait)?;
    let mut events = callbacks.events(&[&queue])?;

    let start = (Zoned::now().with_time_zone(zone) + SignedDuration::from_hours(1)).datetime();
    let reservation = CallbackReservation::builder(&queue, &zone_name)
        .callback_number("+14155550199")
        .user_name("Jordan Lee")
        .slot(start, start + SignedDuration::from_mins(15))
        .channels(Channel::Voice, Some(Channel::Sms))
        .reason("Technical support escalation")
        .build()?;
    // Let the stream subscribe before the first change.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let created = callbacks.create(&reservation).await?;
    println!(
        "Created callback conversation {} at {}",
        created.conversation_id,
        reservation.scheduled_time()
    );
    let later = reservation.scheduled_time() + SignedDuration::from_mins(30);
    callbacks
        .reschedule(&created.conversation_id, later)
        .await?;
    println!("Rescheduled to {later}");
    callbacks.disconnect(&created.conversation_id).await?;
    println!("Cancelled");

    for _ in 0..3 {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
            Ok(Some(event)) => {
                let event = event?;
                println!(
                    "Event: conversation {} is {} (scheduled {})",
                    event.conversation_id,
                    event.state.as_deref().unwrap_or("?"),
                    event.scheduled_time.as_deref().unwrap_or("-")
                );
            }
            Ok(None) => break,
            Err(_) => {
                println!("No more events within 10 s");
                break;
            }
        }
    }
    let stats = callbacks.stats();
    println!(
        "Reservations: {} processed, {} succeeded, mean {:.2} ms",
        stats.processed, stats.succeeded, stats.latency.mean_ms
    );
    Ok(())
}
