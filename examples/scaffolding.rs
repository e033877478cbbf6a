//! Scaffolding shared by the examples: nothing here belongs in production code.
//!
//! The examples are production code: they build their client with `Client::from_env()`
//! and read the ids they need from the environment. So that they also run on a fresh
//! machine, each starts with [`fake_unless_configured`]: when no org is configured (none
//! of `GENESYS_CLIENT_ID`, `GENESYS_REGION`, `GENESYS_API_BASE` is set) it starts the
//! crate's built-in fake of Genesys Cloud (`genesys_cloud::testkit`, a test double) and
//! points the `GENESYS_*` variables at it. With an org configured it does nothing.
//!
//! Copy the example, not this file: production code never depends on the testkit.

use std::collections::BTreeMap;

use genesys_cloud::testkit::{
    DescribedApi, FakeGenesys, WebhookInbox, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET,
};
use genesys_cloud::Error;

/// The variables that say an org (or a stand-in for one) is configured.
const ORG_VARIABLES: [&str; 3] = ["GENESYS_CLIENT_ID", "GENESYS_REGION", "GENESYS_API_BASE"];

/// The shared secret of the fake's CRM webhook receiver.
const CRM_SECRET: &str = "demo-crm-secret-0123456789";

/// The built-in fake, while an example runs against it; dropping this stops it.
#[derive(Default)]
pub struct Scaffolding {
    fake: Option<(FakeGenesys, WebhookInbox)>,
}

/// Starts the built-in fake and sets the `GENESYS_*` variables (credentials, base URLs and
/// the ids the examples read) to match it, unless an org is configured.
pub async fn fake_unless_configured() -> Scaffolding {
    if ORG_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some())
    {
        return Scaffolding::default();
    }
    let (fake, crm, variables) = start_fake().await;
    for (name, value) in variables {
        // Set before the example reads any of them, while only this thread looks.
        std::env::set_var(name, value);
    }
    eprintln!(
        "[scaffolding] no org configured (set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET with \
         GENESYS_REGION, or GENESYS_API_BASE and GENESYS_LOGIN_BASE): running against the \
         built-in fake at {}",
        fake.uri()
    );
    Scaffolding {
        fake: Some((fake, crm)),
    }
}

/// Starts the built-in fake with what the examples need (a messaging conversation, a CRM
/// receiver), and returns it with the variables that point an example at it.
pub async fn start_fake() -> (FakeGenesys, WebhookInbox, Vec<(&'static str, String)>) {
    let fake = FakeGenesys::start().await;
    let uri = fake.uri();
    let seeded = fake.seed_message_conversation();
    let crm = fake.webhook_receiver("/external/crm", CRM_SECRET);
    let variables = vec![
        ("GENESYS_CLIENT_ID", FAKE_CLIENT_ID.to_owned()),
        ("GENESYS_CLIENT_SECRET", FAKE_CLIENT_SECRET.to_owned()),
        ("GENESYS_API_BASE", uri.clone()),
        ("GENESYS_LOGIN_BASE", uri.clone()),
        ("GENESYS_WEBMESSAGING_BASE", fake.web_messaging_uri()),
        ("GENESYS_CONVERSATION_ID", seeded.conversation_id),
        ("GENESYS_PARTICIPANT_ID", seeded.customer_participant_id),
        (
            "GENESYS_DEPLOYMENT_ID",
            "a6f6c2b0-1d2c-4e5f-8a9b-0c1d2e3f4a5b".to_owned(),
        ),
        (
            "GENESYS_QUEUE_ID",
            "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f".to_owned(),
        ),
        ("GENESYS_NODE_TARGET", fake.external_target_path()),
        ("CRM_WEBHOOK_URL", format!("{uri}/external/crm")),
        ("CRM_WEBHOOK_SECRET", CRM_SECRET.to_owned()),
    ];
    (fake, crm, variables)
}

impl Scaffolding {
    /// With the fake only: serves the operations of `description` (the platform's own
    /// description of each), checking every request against it.
    pub fn serve_described(&self, description: &str) -> Result<Option<DescribedApi>, Error> {
        match &self.fake {
            Some((fake, _)) => fake.serve_described(description).map(Some),
            None => Ok(None),
        }
    }

    /// With the fake only: prints what the fake's guest session, customer participant and
    /// CRM received, as an org's admin UI or a CRM would show it.
    pub fn show_guest_outcome(&self, guest_token: &str) {
        let Some((fake, crm)) = &self.fake else {
            return;
        };
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let participant = fake
            .participant_attributes(
                &var("GENESYS_CONVERSATION_ID"),
                &var("GENESYS_PARTICIPANT_ID"),
            )
            .unwrap_or_default();
        let session: BTreeMap<String, String> =
            fake.guest_attributes(guest_token).unwrap_or_default();
        println!("[scaffolding] the fake's guest session holds: {session:?}");
        println!("[scaffolding] the fake's customer participant holds: {participant:?}");
        let deliveries = crm.deliveries();
        if !deliveries.is_empty() {
            println!(
                "[scaffolding] the fake CRM verified and received: {}",
                serde_json::Value::Array(deliveries)
            );
        }
    }
}
