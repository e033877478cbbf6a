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

/// A TCP relay in front of the test server that can be cut (every connection through it
/// closed, new ones refused) and restored: PostgreSQL down and back, for one test only.
pub struct Cuttable {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Cuttable {
    /// A relay to the server at `url`.
    pub async fn start(url: &str) -> Cuttable {
        use std::sync::atomic::Ordering;
        let parsed = url::Url::parse(url).expect("a URL");
        let target = format!(
            "{}:{}",
            parsed.host_str().expect("a host"),
            parsed.port().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound); // refused: closed at once
                    continue;
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Cuttable { addr, up, links }
    }

    /// `url` through the relay.
    pub fn url(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a URL");
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(self.addr.port())).unwrap();
        parsed.to_string()
    }

    /// PostgreSQL is unreachable: open connections are closed, new ones refused.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// PostgreSQL is back.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A database reached at `url` (a relay, say) with tables of this test's own, migrated,
/// and the same tables reached directly (to look at them while the relay is cut).
pub async fn database_via(url: &str) -> (Database, Database) {
    let direct_url = self::url().expect("a test server");
    let prefix = format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let direct = Database::connect(&direct_url)
        .expect("the test URL is valid")
        .table_prefix(&prefix)
        .expect("a valid prefix");
    direct.migrate().await.expect("the migrations apply");
    let relayed = Database::connect(url)
        .expect("the relay URL is valid")
        .table_prefix(&prefix)
        .expect("a valid prefix");
    (relayed, direct)
}
