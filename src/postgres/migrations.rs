//! The crate's tables, created and upgraded by versioned migrations embedded here.
//!
//! Each migration is SQL with `{prefix}` where the table prefix goes; applied ones are
//! recorded in `{prefix}schema_migrations`. Every pending migration is applied in one
//! transaction (PostgreSQL's DDL is transactional: all or nothing). Migrations never
//! change once released: a change is a new migration.

use super::{db_error, Database};
use crate::error::Error;

/// The migrations, in increasing order of version: `(version, name, SQL)`. Versions need
/// not be contiguous (each is applied once, by its own number, whatever was applied
/// before); a test checks the order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "event stream", include_str!("sql/0001_events.sql")),
    (3, "guest outbox", include_str!("sql/0003_guest_outbox.sql")),
];

/// What [`Database::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migrated {
    /// Versions applied by this call.
    pub applied: Vec<i64>,
    /// The schema's version now.
    pub version: i64,
}

pub(super) async fn apply(db: &Database) -> Result<Migrated, Error> {
    let mut client = db.client().await?;
    let ledger = db.table("schema_migrations");
    // One transaction, one replica at a time (an advisory lock on the prefix, taken before
    // anything else: even `CREATE TABLE IF NOT EXISTS` races with itself).
    let tx = client
        .transaction()
        .await
        .map_err(|e| db_error("starting the migrations", e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("{}migrations", db.prefix())],
    )
    .await
    .map_err(|e| db_error("locking the migrations", e))?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {ledger} (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"
    ))
    .await
    .map_err(|e| db_error("creating the migrations ledger", e))?;
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        let done = tx
            .query_opt(
                &format!("SELECT 1 FROM {ledger} WHERE version = $1"),
                &[version],
            )
            .await
            .map_err(|e| db_error("reading the migrations ledger", e))?;
        if done.is_some() {
            continue;
        }
        tx.batch_execute(&sql.replace("{prefix}", db.prefix()))
            .await
            .map_err(|e| db_error("applying a migration", e))?;
        tx.execute(
            &format!("INSERT INTO {ledger} (version, name) VALUES ($1, $2)"),
            &[version, name],
        )
        .await
        .map_err(|e| db_error("recording a migration", e))?;
        applied.push(*version);
    }
    tx.commit()
        .await
        .map_err(|e| db_error("committing the migrations", e))?;
    Ok(Migrated {
        applied,
        version: MIGRATIONS.last().map_or(0, |m| m.0),
    })
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_increase_and_every_table_is_prefixed() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
        for (version, _, sql) in MIGRATIONS {
            for line in sql.lines() {
                let line = line.trim_start();
                if line.starts_with("CREATE TABLE")
                    || line.starts_with("CREATE INDEX")
                    || line.starts_with("CREATE SEQUENCE")
                {
                    assert!(line.contains("{prefix}"), "migration {version}: {line}");
                }
            }
        }
    }
}
