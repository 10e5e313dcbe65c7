//! Fresh databases for Roomkeeper's tests, on either backend, and `both_backends!`.
//! The store's tests stand on this alone; `roomkeeper-testkit` adds the whole app.
//!
//! PostgreSQL tests need a running server: `scripts/test` starts one and exports
//! `TEST_POSTGRES_URL` (a superuser URL); each test then gets a database of its own.

mod steps;

pub use steps::Steps;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use roomkeeper_store::{DatabaseConfig, Store};
use sqlx::Connection;

/// The variable `scripts/test` sets to a PostgreSQL superuser URL.
pub const POSTGRES_URL_VAR: &str = "TEST_POSTGRES_URL";

/// Set by `scripts/test` (and so in CI): a case that needs a server it did not get
/// fails instead of being skipped.
pub const REQUIRE_SERVERS_VAR: &str = "TEST_REQUIRE_SERVERS";

/// Whether this PostgreSQL case is skipped: plain `cargo test` (no server started) runs
/// the pure and SQLite cases and says, for each PostgreSQL one, that it was left out and
/// why. Under `scripts/test` nothing is skipped.
pub fn skip_without_postgres(case: &str) -> bool {
    if std::env::var_os(POSTGRES_URL_VAR).is_some() {
        return false;
    }
    assert!(
        std::env::var_os(REQUIRE_SERVERS_VAR).is_none(),
        "{case} needs PostgreSQL, and {POSTGRES_URL_VAR} is not set"
    );
    // Past the test harness's capture, so that plain `cargo test` shows it.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped {case}: it needs PostgreSQL (scripts/test starts one)"
    );
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether this process runs as root (its effective user id, from /proc): PostgreSQL
/// must then run as another user, and a test may mount a filesystem.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A database nobody else uses. Keeps its temporary directory alive (SQLite).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("roomkeeper.db").display());
                Ok(Self {
                    url,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_URL_VAR).with_context(|| {
                    format!(
                        "{POSTGRES_URL_VAR} is not set: PostgreSQL tests need the server that \
                         scripts/test starts. Run the tests with scripts/test."
                    )
                })?;
                let name = format!("rk_test_{}", unique_suffix());
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .with_context(|| format!("cannot reach PostgreSQL at {admin_url}"))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
                let url = match admin_url.rsplit_once('/') {
                    Some((base, _)) => format!("{base}/{name}"),
                    None => anyhow::bail!("{POSTGRES_URL_VAR} must end in /DATABASE"),
                };
                Ok(Self { url, _dir: None })
            }
        }
    }

    /// How the tests connect: a small pool, as several tests run at once.
    pub fn database_config(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self.url.clone(),
            max_connections: 5,
            ..DatabaseConfig::default()
        }
    }

    /// The store, connected and migrated.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Store>> {
        let store = roomkeeper_store::connect(&self.database_config()).await?;
        store.migrate().await?;
        Ok(store)
    }
}

/// A database name no other test, in this process or another, has taken.
fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Writes one async test per backend: `both_backends!(name)` expects
/// `async fn name(backend: Backend)` in scope and makes `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::skip_without_postgres(concat!(module_path!(), "::postgres")) {
                        return;
                    }
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )+
    };
}
