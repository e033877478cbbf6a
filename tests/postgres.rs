//! The service's PostgreSQL: migrations, prefixes, and what a caller sees when the
//! database is down. Against a real server (see `tests/pg/mod.rs`).

mod pg;

use genesys_cloud::postgres::Database;
use genesys_cloud::ErrorKind;

#[tokio::test]
async fn migrations_apply_once_and_concurrent_replicas_take_turns() {
    let Some(url) = pg::url() else { return };
    let prefix = format!("m{}_", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let db = Database::connect(&url)
        .unwrap()
        .table_prefix(&prefix)
        .unwrap();
    let replicas: Vec<_> = (0..5)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.migrate().await })
        })
        .collect();
    let mut applied = Vec::new();
    let mut version = 0;
    for replica in replicas {
        let migrated = replica
            .await
            .unwrap()
            .expect("every replica's migrate succeeds");
        applied.extend(migrated.applied);
        version = migrated.version;
    }
    applied.sort_unstable();
    let client = db.pool().get().await.unwrap();
    let ledger: Vec<i64> = client
        .query(
            &format!("SELECT version FROM {prefix}schema_migrations ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        applied, ledger,
        "each migration applied by exactly one replica"
    );
    assert!(ledger.contains(&3), "the guest outbox is migration 3");
    assert_eq!(Some(&version), ledger.last());
    let again = db.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_name LIKE $1",
            &[&format!("{prefix}%")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in [
        "schema_migrations",
        "stream_leases",
        "stream_events",
        "stream_cursors",
        "guest_sessions",
        "guest_updates",
        "guest_outbox_meta",
    ] {
        assert!(
            tables.contains(&format!("{prefix}{table}")),
            "{table} missing from {tables:?}"
        );
    }
}

#[test]
fn prefixes_that_are_not_plain_identifiers_are_refused() {
    let db = Database::connect("postgres://u@127.0.0.1:1/db").unwrap();
    for bad in [
        "",
        "Genesys_",
        "1x_",
        "a-b",
        "x; DROP TABLE t",
        &"a".repeat(31),
    ] {
        let err = db.clone().table_prefix(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
    }
    assert_eq!(db.table_prefix("svc_1_").unwrap().prefix(), "svc_1_");
}

#[tokio::test]
async fn a_database_that_is_down_is_a_retryable_storage_error_without_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db =
        Database::connect(&format!("postgres://svc:pg-secret-pw@127.0.0.1:{port}/svc")).unwrap();
    let err = db.migrate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.is_retryable(), "{err}");
    let shown = format!("{err} {err:?} {db:?}");
    assert!(
        !shown.contains("pg-secret-pw") && !shown.contains("svc:"),
        "{shown}"
    );
}

#[test]
fn a_url_that_cannot_be_read_is_a_configuration_error_without_it() {
    let err = Database::connect("postgres://svc:pw-in-url@[::1:5432/x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.to_string().contains("pw-in-url"), "{err}");
}
