//! Book a web callback one hour ahead (voice, with SMS as fallback), move it, cancel it,
//! and print what the queue's event stream reports.
//!
//! Reads the client settings of the README (`GENESYS_CLIENT_ID`, ...), `GENESYS_QUEUE_ID`
//! and `GENESYS_QUEUE_TIME_ZONE` (default America/New_York). With no org configured, it
//! runs against the built-in fake (see `scaffolding.rs`).
//!
//! ```sh
//! cargo run --example callback_reservations
//! ```

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt;
use genesys_cloud::callbacks::{CallbackReservation, Channel, StreamItem, WhenFull};
use genesys_cloud::jiff::{tz::TimeZone, SignedDuration, Zoned};
use genesys_cloud::{Client, Error};

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
    let _scaffolding = scaffolding::fake_unless_configured().await;
    let client = Client::from_env()?;
    let queue = std::env::var("GENESYS_QUEUE_ID")
        .unwrap_or_else(|_| "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f".into());
    let zone_name =
        std::env::var("GENESYS_QUEUE_TIME_ZONE").unwrap_or_else(|_| "America/New_York".into());
    let zone = TimeZone::get(&zone_name).map_err(|e| {
        Error::custom(
            genesys_cloud::ErrorKind::Configuration,
            format!("{zone_name}: {e}"),
        )
    })?;

    // At most 10 reservations in flight per queue.
    let callbacks = client
        .callbacks()
        .with_concurrency_limit(10, WhenFull::Wait)?;
    // Returns once subscribed: every change from here on is reported.
    let mut events = callbacks.events(&[&queue]).await?;

    let start =
        (Zoned::now().with_time_zone(zone.clone()) + SignedDuration::from_hours(1)).datetime();
    let reservation = CallbackReservation::builder(&queue, zone)
        .callback_number("+14155550199")
        .user_name("Jordan Lee")
        .at(start)
        .channels(Channel::Voice, Some(Channel::Sms))
        .reason("Technical support escalation")
        .build()?;

    let created = callbacks.create(&reservation).await?;
    let id = created.conversation_id();
    println!(
        "Created callback conversation {id} at {}",
        reservation.scheduled_time()
    );
    let later = reservation.scheduled_time() + SignedDuration::from_mins(30);
    callbacks.reschedule(id, later).await?;
    println!("Rescheduled to {later}");
    callbacks.disconnect(id).await?;
    println!("Cancelled");

    let mut seen = 0;
    while seen < 3 {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await {
            Ok(Some(item)) => match item? {
                StreamItem::Event(event) => {
                    seen += 1;
                    let state = event.state.as_ref().map_or("?", |s| s.as_str());
                    let at = event
                        .scheduled_time
                        .map_or_else(|| "-".to_owned(), |t| t.to_string());
                    println!(
                        "Event ({:?}): conversation {} is {state} (scheduled {at})",
                        event.source, event.conversation_id
                    );
                }
                // Reconnects, lag and reconciliations: the stream says what it did.
                notice => println!("Stream notice: {notice:?}"),
            },
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
