//! The outbox: emails wait here until the sender has handed them to the mail server.

use super::SqlStore;
use crate::statement::{Driver, query, query_as};

#[async_trait::async_trait]
impl<D: Driver> crate::MailStore for SqlStore<D> {
    async fn claim_emails(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> crate::Result<Vec<crate::OutboxEmail>> {
        // The outer conditions repeat the inner ones: PostgreSQL re-checks them on
        // a row another instance claimed meanwhile, so only one of them gets it.
        Ok(query_as(
            "UPDATE outbox SET locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL AND failed = FALSE \
                          AND next_attempt_at <= $1 \
                          AND (locked_until IS NULL OR locked_until < $1) \
                          ORDER BY id LIMIT $3) \
             AND sent_at IS NULL AND failed = FALSE \
             AND (locked_until IS NULL OR locked_until < $1) \
             RETURNING id, recipient, subject, body, attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn email_sent(&self, id: i64, now: i64) -> crate::Result<()> {
        query(
            "UPDATE outbox SET sent_at = $1, locked_until = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn email_failed(&self, id: i64, error: &str, retry_at: Option<i64>) -> crate::Result<()> {
        query(
            "UPDATE outbox SET last_error = $1, locked_until = NULL, \
             next_attempt_at = COALESCE($2, next_attempt_at), failed = $3 WHERE id = $4",
        )
        .bind(error)
        .bind(retry_at)
        .bind(retry_at.is_none())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn outbox_status(&self) -> crate::Result<crate::OutboxStatus> {
        let (waiting, retrying, given_up): (i64, i64, i64) = query_as(
            "SELECT COALESCE(SUM(CASE WHEN failed = FALSE THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN failed = FALSE AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN failed = TRUE THEN 1 ELSE 0 END), 0) \
             FROM outbox WHERE sent_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let last_error: Option<(Option<String>,)> = query_as(
            "SELECT last_error FROM outbox WHERE sent_at IS NULL AND last_error IS NOT NULL \
             ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(crate::OutboxStatus {
            waiting,
            retrying,
            given_up,
            last_error: last_error.and_then(|(e,)| e),
        })
    }
}
