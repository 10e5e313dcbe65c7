use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use crate::{Backend, Result};

// The same SQL, compiled once for this driver (see queries/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "queries/mod.rs"]
mod queries;

type Db = sqlx::Postgres;
type SqlStore = PgStore;
const BACKEND: Backend = Backend::Postgres;
const BEGIN_WRITE: &str = "BEGIN";
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// For several instances behind a load balancer: they share everything through it.
pub struct PgStore {
    pub(crate) pool: sqlx::PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            // A database that does not answer should fail a request quickly (503),
            // not hold it for sqlx's default 30 s.
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}
