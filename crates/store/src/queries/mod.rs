//! The SQL both backends run, written and compiled once. SQLite and PostgreSQL both
//! understand `$1` placeholders, `RETURNING` and `ON CONFLICT`, and we keep timestamps
//! as integers, so one text serves both; `crate::statement` runs it on either driver,
//! and the driver (`D: Driver`) says what differs (how a write transaction begins, the
//! migrations).
//!
//! One module per store trait; statements that need several steps run in one
//! transaction, and a change writes its audit entry in that same transaction.

use crate::statement::Driver;

mod accounts;
mod groups;
mod guard;
mod leases;
mod mail;
mod recordings;
mod rooms;
mod sso;
mod store;

/// The store on one backend: `SqliteStore` or `PgStore`.
pub struct SqlStore<D: Driver> {
    pub(crate) pool: sqlx::Pool<D>,
    pub(crate) readers: D::Readers,
}
