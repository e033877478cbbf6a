//! Every example, run as a deploy script would run it, against a platform that rejects
//! every call: it must exit non-zero with an error that says what to fix. An example that
//! dead-letters its work and exits 0 tells the script that all is well.
//!
//! The example binaries are the ones `cargo test` builds beside this test.

use std::path::PathBuf;
use std::process::Output;

use genesys_cloud::testkit::{FakeGenesys, Fault};

/// The examples a deploy script would run (the simulator serves, the soak runs for minutes).
const EXAMPLES: [&str; 6] = [
    "participant_attributes",
    "agent_widget",
    "guest_attributes",
    "callback_reservations",
    "flow_rest_node",
    "tour",
];

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/rejected-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile.join("examples").join(name)
}

/// Runs `name` with `variables` only (no inherited `GENESYS_*`).
async fn run(name: &str, variables: &[(&'static str, String)]) -> Output {
    let path = example(name);
    assert!(
        path.exists(),
        "{} is not built (`cargo test` builds the examples; a filtered run may not)",
        path.display()
    );
    // A temporary directory of its own: the guest outbox lives there.
    let tmp = std::env::temp_dir().join(format!("rejected-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&tmp).expect("a temporary directory");
    tokio::process::Command::new(&path)
        .env_clear()
        .envs(variables.iter().map(|(k, v)| (*k, v.as_str())))
        .env("TMPDIR", &tmp)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the example runs")
}

fn with(
    variables: &[(&'static str, String)],
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut out: Vec<_> = variables
        .iter()
        .filter(|(k, _)| *k != name)
        .cloned()
        .collect();
    out.push((name, value.to_owned()));
    out
}

async fn assert_every_example_fails(
    fake: &FakeGenesys,
    variables: &[(&'static str, String)],
    says: &str,
) {
    for name in EXAMPLES {
        let out = tokio::time::timeout(std::time::Duration::from_secs(120), run(name, variables))
            .await
            .unwrap_or_else(|_| panic!("{name} did not end within 2 minutes"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{name} exited 0 though every call was rejected:\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains(says),
            "{name}'s error does not say `{says}`: {stderr}"
        );
    }
    let _ = fake;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_exits_non_zero_when_the_login_is_refused() {
    let (fake, _crm, variables) = scaffolding::start_fake().await;
    let variables = with(&variables, "GENESYS_CLIENT_SECRET", "a-revoked-secret");
    assert_every_example_fails(&fake, &variables, "check the OAuth client id and secret").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_exits_non_zero_when_every_token_is_refused() {
    let (fake, _crm, variables) = scaffolding::start_fake().await;
    // Every API call answers 401, the one after a fresh login too.
    fake.inject(Fault::Unauthorized, 1_000_000);
    assert_every_example_fails(&fake, &variables, "rejected a freshly issued access token").await;
}
