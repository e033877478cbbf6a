//! `Client::from_env`, in its own test binary: it changes process environment variables,
//! so its cases run one after the other in a single test.

use genesys_cloud::testkit::{FakeGenesys, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET};
use genesys_cloud::{Client, Error, ErrorKind, Region};

const VARS: [&str; 5] = [
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYS_REGION",
    "GENESYS_API_BASE",
    "GENESYS_LOGIN_BASE",
];

fn set(pairs: &[(&str, &str)]) {
    for var in VARS {
        std::env::remove_var(var);
    }
    for (k, v) in pairs {
        std::env::set_var(k, v);
    }
}

fn config_error(result: Result<Client, Error>) -> String {
    match result {
        Err(err) if err.kind() == ErrorKind::Configuration => err.to_string(),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn from_env_reads_region_or_bases_and_names_what_is_missing() {
    let fake = FakeGenesys::start().await;
    let uri = fake.uri();

    set(&[
        ("GENESYS_CLIENT_ID", FAKE_CLIENT_ID),
        ("GENESYS_CLIENT_SECRET", FAKE_CLIENT_SECRET),
        ("GENESYS_API_BASE", &uri),
        ("GENESYS_LOGIN_BASE", &uri),
    ]);
    let client = Client::from_env().unwrap();
    client
        .auth()
        .token()
        .await
        .expect("the bases point at the fake");
    assert_eq!(fake.tokens_issued(), 1);

    set(&[
        ("GENESYS_CLIENT_ID", "id"),
        ("GENESYS_CLIENT_SECRET", "s"),
        ("GENESYS_REGION", "eu-west-1"),
    ]);
    let client = Client::from_env().unwrap();
    assert_eq!(client.environment().region(), Some(Region::EuWest1));
    assert_eq!(
        client.environment().api_base().as_str(),
        "https://api.mypurecloud.ie/"
    );

    set(&[
        ("GENESYS_CLIENT_ID", "id"),
        ("GENESYS_CLIENT_SECRET", "s"),
        ("GENESYS_REGION", "mypurecloud.de"),
    ]);
    assert_eq!(
        Client::from_env().unwrap().environment().region(),
        Some(Region::EuCentral1)
    );

    set(&[
        ("GENESYS_CLIENT_ID", "id"),
        ("GENESYS_CLIENT_SECRET", "s"),
        ("GENESYS_REGION", "mars-north-1"),
    ]);
    let msg = config_error(Client::from_env());
    assert!(
        msg.contains("GENESYS_REGION")
            && msg.contains("us-east-1")
            && msg.contains("eusc-de-east-1"),
        "{msg}"
    );
    assert!(
        !msg.contains("mars-north-1"),
        "what the variable holds is not shown: {msg}"
    );

    set(&[("GENESYS_CLIENT_ID", "id"), ("GENESYS_REGION", "us-east-1")]);
    assert!(config_error(Client::from_env()).contains("GENESYS_CLIENT_SECRET"));

    set(&[
        ("GENESYS_CLIENT_SECRET", "s"),
        ("GENESYS_REGION", "us-east-1"),
    ]);
    assert!(config_error(Client::from_env()).contains("GENESYS_CLIENT_ID"));

    set(&[("GENESYS_CLIENT_ID", "id"), ("GENESYS_CLIENT_SECRET", "s")]);
    assert!(config_error(Client::from_env()).contains("GENESYS_REGION"));

    set(&[
        ("GENESYS_CLIENT_ID", "id"),
        ("GENESYS_CLIENT_SECRET", "s"),
        ("GENESYS_API_BASE", &uri),
    ]);
    assert!(config_error(Client::from_env()).contains("GENESYS_LOGIN_BASE"));

    set(&[]);
}
