//! PostgreSQL for the tests that need one: a real server (never a mock), found through
//! `GENESYS_TEST_DATABASE_URL` (`eval "$(bash .ci/postgres start)"` starts one). Each test
//! gets tables of its own (a random prefix), so tests run side by side on one server.
//!
//! Without the variable, a test that needs PostgreSQL fails under CI (`CI` or
//! `GENESYS_REQUIRE_POSTGRES` set: `.ci/run` starts a server, and one that could not start
//! must not pass silently) and is skipped elsewhere, saying how to start one.

#![allow(dead_code)]

use genesys_cloud::postgres::Database;

/// The test server's URL, or `None` (with a note) when there is none outside CI.
pub fn url() -> Option<String> {
    match std::env::var("GENESYS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("GENESYS_REQUIRE_POSTGRES").is_some();
            assert!(
                !required,
                "GENESYS_TEST_DATABASE_URL is not set, but this run requires PostgreSQL: \
                 `eval \"$(bash .ci/postgres start)\"` starts one"
            );
            eprintln!(
                "skipped: no PostgreSQL. Start one with `eval \"$(bash .ci/postgres start)\"` \
                 (it sets GENESYS_TEST_DATABASE_URL), then run the tests again"
            );
            None
        }
    }
}

/// A database with tables of this test's own, migrated; `None` when there is no server.
pub async fn database() -> Option<Database> {
    let url = url()?;
    let prefix = format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let db = Database::connect(&url)
        .expect("the test URL is valid")
        .table_prefix(&prefix)
        .expect("a valid prefix");
    db.migrate().await.expect("the migrations apply");
    Some(db)
}
