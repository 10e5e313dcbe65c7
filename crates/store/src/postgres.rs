use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use crate::queries::SqlStore;
use crate::statement::Driver;
use crate::{Backend, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Driver for sqlx::Postgres {
    const BACKEND: Backend = Backend::Postgres;
    const BEGIN_WRITE: &'static str = "BEGIN";
    fn migrator() -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }
    /// PostgreSQL's request reads use the pool.
    type Readers = ();
}

/// For several instances behind a load balancer: they share everything through it.
pub type PgStore = SqlStore<sqlx::Postgres>;

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            // A database that does not answer should fail a request quickly (503),
            // not hold it for sqlx's default 30 s.
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool, readers: () })
    }
}
