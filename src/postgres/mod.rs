//! The service's PostgreSQL (feature `postgres`): what replicas of one service share.
//!
//! A [`Database`] is a connection pool and a table prefix. The crate keeps its state in a
//! few tables of its own (the event stream's lease, events and cursors; the guest outbox),
//! created and upgraded by versioned migrations embedded in the crate, applied by
//! [`Database::migrate`] (call it at start, or let the components that use the database
//! call it: migrations already applied are skipped, and concurrent replicas take turns).
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool (re-exported here), chosen
//! for its build cost: 76 crates and 37 s of CPU for a cold release build against 146 and
//! 70 s for `sqlx` with only PostgreSQL and tokio (measured on this project's CI machine,
//! docs/PERFORMANCE.md). A pool the service builds itself (with the TLS its database needs)
//! is passed in with [`Database::from_pool`]; [`Database::connect`] builds a plain-TCP pool
//! from a URL (a database on loopback or a private network).
//!
//! When PostgreSQL is down, calls fail with [`ErrorKind::Storage`](crate::ErrorKind::Storage)
//! errors that are [retryable](crate::Error::is_retryable); nothing acknowledged is lost
//! (it was committed), and no error shows a value the database echoed.

mod error;
mod migrations;

use std::sync::Arc;
use std::time::Duration;

pub use deadpool_postgres;
pub use tokio_postgres;

use crate::error::Error;
pub(crate) use error::db_error;
#[cfg(feature = "guests")]
pub(crate) use error::no_answer;
pub use migrations::Migrated;

/// Most connections a pool made by [`Database::connect`] opens.
pub const DEFAULT_POOL_SIZE: usize = 8;

/// How long a call waits for a pooled connection before failing (retryable).
const POOL_WAIT: Duration = Duration::from_secs(10);

/// The service's PostgreSQL: a connection pool and the prefix of the crate's tables.
/// Cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), genesys_cloud::Error> {
/// use genesys_cloud::postgres::Database;
///
/// let db = Database::connect("postgres://svc@10.0.0.5/svc")?.table_prefix("genesys_")?;
/// db.migrate().await?; // creates or upgrades genesys_* tables
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Database {
    pool: deadpool_postgres::Pool,
    prefix: Arc<str>,
}

impl std::fmt::Debug for Database {
    /// The prefix and the pool's size; never the URL (it may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Database")
            .field("prefix", &self.prefix)
            .field("pool_size", &status.max_size)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// A pool of at most [`DEFAULT_POOL_SIZE`] plain-TCP connections to the database at
    /// `url` (`postgres://user:password@host:port/db` or a `key=value` string), tables
    /// prefixed `genesys_`. Nothing is connected yet: the first call connects.
    pub fn connect(url: &str) -> Result<Database, Error> {
        let config: tokio_postgres::Config = url.parse().map_err(|_| {
            Error::config(
                "the PostgreSQL URL cannot be read: give postgres://user:password@host:port/database",
            )
        })?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(DEFAULT_POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|_| Error::config("the PostgreSQL pool cannot be built"))?;
        Ok(Self::from_pool(pool))
    }

    /// The service's own pool (built with the TLS and limits its database needs; give it
    /// a `wait_timeout` so that calls do not wait for ever when every connection is
    /// busy). Tables are prefixed `genesys_`.
    pub fn from_pool(pool: deadpool_postgres::Pool) -> Database {
        Database {
            pool,
            prefix: Arc::from("genesys_"),
        }
    }

    /// The prefix of the crate's tables (default `genesys_`): lowercase ASCII letters,
    /// digits and `_`, starting with a letter, at most 30 characters (so that every table
    /// and index name fits PostgreSQL's 63). Replicas of one service use one prefix;
    /// services sharing a database use one each.
    pub fn table_prefix(mut self, prefix: &str) -> Result<Database, Error> {
        let valid = (1..=30).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(crate::validation::ValidationError::single(
                "table_prefix",
                "identifier",
                "a table prefix is 1 to 30 lowercase letters, digits and `_`, starting with a letter",
            )
            .into());
        }
        self.prefix = Arc::from(prefix);
        Ok(self)
    }

    /// The prefix of the crate's tables.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The pool.
    pub fn pool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// Applies the migrations not applied yet, in order, in one transaction, one
    /// replica at a time (an advisory lock on the prefix); the versions applied now.
    pub async fn migrate(&self) -> Result<Migrated, Error> {
        migrations::apply(self).await
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        self.pool.get().await.map_err(error::pool_error)
    }

    /// The full name of the crate's table `name`.
    pub(crate) fn table(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}
