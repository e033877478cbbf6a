//! PostgreSQL failures as the crate's errors, without what the database echoed.
//!
//! A database error's message can quote the values of the statement (`invalid input syntax
//! for type uuid: "…"`, a unique violation's key), so only its SQLSTATE code, and the table
//! and constraint it names, are kept; connection failures (the database down, a dropped
//! connection, no connection free in time) are retryable.

use std::fmt;

use crate::error::Error;

/// What is kept of a database's error: its code and where, never its message.
#[derive(Debug)]
pub(crate) struct DatabaseFailure {
    code: String,
    table: Option<String>,
    constraint: Option<String>,
}

impl fmt::Display for DatabaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL error {}", self.code)?;
        if let Some(table) = &self.table {
            write!(f, " on table {table}")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " (constraint {constraint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for DatabaseFailure {}

/// A connection-level failure, described without the server's words.
#[derive(Debug)]
pub(crate) struct Unreachable(&'static str);

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Unreachable {}

/// `err`, met while doing `what`.
pub(crate) fn db_error(what: &str, err: tokio_postgres::Error) -> Error {
    let what = format!("PostgreSQL: {what}");
    if let Some(db) = err.as_db_error() {
        let code = db.code().code().to_owned();
        // Class 08: connection exception; 57P: operator intervention (shutdown);
        // 53: insufficient resources; 40001/40P01: serialization failure, deadlock.
        let retryable = code.starts_with("08")
            || code.starts_with("57P")
            || code.starts_with("53")
            || code == "40001"
            || code == "40P01";
        let failure = DatabaseFailure {
            code,
            table: db.table().map(str::to_owned),
            constraint: db.constraint().map(str::to_owned),
        };
        return if retryable {
            Error::storage_unavailable(what, failure)
        } else {
            Error::storage(what, failure)
        };
    }
    if err.is_closed() {
        return Error::storage_unavailable(
            what,
            Unreachable("the connection to PostgreSQL is closed"),
        );
    }
    // Below the driver: the network (the database down or unreachable).
    let mut cause = std::error::Error::source(&err);
    while let Some(inner) = cause {
        if inner.downcast_ref::<std::io::Error>().is_some() {
            return Error::storage_unavailable(
                what,
                Unreachable("PostgreSQL could not be reached"),
            );
        }
        cause = inner.source();
    }
    // The driver's own errors (a parameter or column of another type, the protocol)
    // describe types, never values: kept as they are.
    Error::storage(what, err)
}

/// A pooled connection could not be had.
pub(crate) fn pool_error(err: deadpool_postgres::PoolError) -> Error {
    use deadpool_postgres::PoolError;
    match err {
        PoolError::Backend(err) => db_error("connecting", err),
        PoolError::Timeout(_) => Error::storage_unavailable(
            "PostgreSQL",
            Unreachable("no pooled connection within the wait: the database is slow, down, or the pool too small"),
        ),
        _ => Error::storage_unavailable(
            "PostgreSQL",
            Unreachable("no pooled connection could be made"),
        ),
    }
}

/// No answer in time while doing `what`: retryable (the database is slow or unreachable).
#[cfg_attr(not(feature = "guests"), allow(dead_code))]
pub(crate) fn no_answer(what: &str) -> Error {
    Error::storage_unavailable(
        format!("PostgreSQL: {what}"),
        Unreachable("no answer in time: the database is slow or unreachable"),
    )
}
