//! Leases: one holder at a time for a room's guard or for a recurring job, taken over
//! when the holder's lease has run out. Two tables (a room's lease goes with the room),
//! one way to claim them.

use super::SqlStore;
use crate::statement::{Driver, Value, query_as};

/// What a lease is held on.
#[derive(Clone, Copy)]
pub(super) enum Leased<'a> {
    /// A room's guard (`guard_leases`, deleted with the room).
    RoomGuard(i64),
    /// A job several instances could run (`job_leases`).
    Job(&'a str),
}

/// What a claim found and did.
pub(super) enum Claimed {
    /// `holder` has it now; who had it before (if anyone).
    Granted { before: Option<String> },
    /// Another holder has it until then.
    HeldUntil(i64),
}

impl<'a> Leased<'a> {
    /// The table and its key column (fixed names, never input).
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::RoomGuard(_) => ("guard_leases", "room_id"),
            Self::Job(_) => ("job_leases", "job"),
        }
    }

    fn key(self) -> Value<'a> {
        match self {
            Self::RoomGuard(room_id) => room_id.into(),
            Self::Job(job) => job.into(),
        }
    }
}

impl<D: Driver> SqlStore<D> {
    /// Gives `leased` to `holder` until `until` if nobody holds it, `holder` does, or
    /// the lease ended by `now`.
    pub(super) async fn claim_lease(
        &self,
        leased: Leased<'_>,
        holder: &str,
        now: i64,
        until: i64,
    ) -> crate::Result<Claimed> {
        let (table, key) = leased.table();
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let read_holder = format!("SELECT holder FROM {table} WHERE {key} = $1");
        let before: Option<(String,)> = query_as(&read_holder)
            .bind(leased.key())
            .fetch_optional(&mut *tx)
            .await?;
        // One statement decides: PostgreSQL locks the row for the upsert and re-checks
        // the condition, SQLite has one writer; either way one of two claimers wins.
        let upsert = format!(
            "INSERT INTO {table} ({key}, holder, lease_until) VALUES ($1, $2, $3) \
             ON CONFLICT ({key}) DO UPDATE SET holder = $2, lease_until = $3 \
             WHERE {table}.holder = $2 OR {table}.lease_until <= $4 \
             RETURNING holder"
        );
        let held: Option<(String,)> = query_as(&upsert)
            .bind(leased.key())
            .bind(holder)
            .bind(until)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        let claimed = if held.is_some() {
            Claimed::Granted {
                before: before.map(|(holder,)| holder),
            }
        } else {
            let read_end = format!("SELECT lease_until FROM {table} WHERE {key} = $1");
            let (until,): (i64,) = query_as(&read_end)
                .bind(leased.key())
                .fetch_one(&mut *tx)
                .await?;
            Claimed::HeldUntil(until)
        };
        tx.commit().await?;
        Ok(claimed)
    }
}
