//! Leases: one holder at a time for a room's guard or for a recurring job, taken over
//! when the holder's lease has run out. Two tables (a room's lease goes with the room),
//! one way to claim them.

use super::{BEGIN_WRITE, SqlStore};

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

impl Leased<'_> {
    /// The table and its key column (fixed names, never input).
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Self::RoomGuard(_) => ("guard_leases", "room_id"),
            Self::Job(_) => ("job_leases", "job"),
        }
    }

    fn bind<'q, O>(
        self,
        query: sqlx::query::QueryAs<'q, super::Db, O, <super::Db as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, super::Db, O, <super::Db as sqlx::Database>::Arguments<'q>>
    where
        Self: 'q,
    {
        match self {
            Self::RoomGuard(room_id) => query.bind(room_id),
            Self::Job(job) => query.bind(job),
        }
    }
}

impl SqlStore {
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let read_holder = format!("SELECT holder FROM {table} WHERE {key} = $1");
        let before: Option<(String,)> = leased
            .bind(sqlx::query_as(&read_holder))
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
        let held: Option<(String,)> = leased
            .bind(sqlx::query_as(&upsert))
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
            let (until,): (i64,) = leased
                .bind(sqlx::query_as(&read_end))
                .fetch_one(&mut *tx)
                .await?;
            Claimed::HeldUntil(until)
        };
        tx.commit().await?;
        Ok(claimed)
    }
}
