use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Backend, Error, Result};

// The same SQL, compiled once for this driver (see queries/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "queries/mod.rs"]
mod queries;

type Db = sqlx::Sqlite;
type SqlStore = SqliteStore;
const BACKEND: Backend = Backend::Sqlite;
// Write transactions take the write lock at BEGIN: a deferred transaction that reads
// first and writes later fails with SQLITE_BUSY when another writer got in between.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The embedded default: one file, no server.
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Config(format!("database.url {url:?}: {e}")))?
            .create_if_missing(true)
            // WAL lets readers work while one writer commits; FULL makes every
            // acknowledged commit survive a power cut, which we promise.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Error::Config(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}
