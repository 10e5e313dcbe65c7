//! The SQL both backends run. SQLite and PostgreSQL both understand `$1` placeholders,
//! `RETURNING` and `ON CONFLICT`, and we keep timestamps as integers, so one text serves
//! both. This directory is compiled twice, once inside `sqlite.rs` and once inside
//! `postgres.rs`, each of which names its driver (`Db`), its store type (`SqlStore`) and
//! how a write transaction begins (`BEGIN_WRITE`). The alternatives fell short: sqlx's
//! `Any` driver refuses SQLite's BOOLEAN columns ("Any driver does not support the
//! SQLite type Bool", tried with sqlx 0.8.6), and code generic over `sqlx::Database`
//! needs a higher-ranked bound per bound type on every impl.
//!
//! One module per store trait; statements that need several steps run in one
//! transaction, and a change writes its audit entry in that same transaction.

use super::{BACKEND, BEGIN_WRITE, Db, MIGRATOR, SqlStore};

mod accounts;
mod guard;
mod leases;
mod mail;
mod recordings;
mod rooms;
mod sso;
mod store;
