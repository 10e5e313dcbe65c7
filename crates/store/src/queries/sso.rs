//! Single sign-on: identities at OpenID providers, logins on their way through a
//! provider, and renaming a person everywhere their username grants something.

use roomkeeper_domain::AuditAction;

use super::SqlStore;
use crate::statement::{Driver, query, query_as};

impl<D: Driver> SqlStore<D> {
    /// Links (issuer, subject) to the account; a pair already linked is a conflict.
    pub(super) async fn insert_identity_in(
        tx: &mut sqlx::Transaction<'_, D>,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: i64,
    ) -> crate::Result<()> {
        query(
            "INSERT INTO oidc_identities (issuer, subject, user_id, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::IdentityLinked))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<D: Driver> crate::SsoStore for SqlStore<D> {
    async fn create_oidc_login(
        &self,
        login: &crate::OidcLogin,
        expired_before: i64,
    ) -> crate::Result<()> {
        // Logins nobody finished are useless; starting one is a natural moment
        // to drop them.
        query("DELETE FROM oidc_logins WHERE created_at < $1")
            .bind(expired_before)
            .execute(&self.pool)
            .await?;
        query(
            "INSERT INTO oidc_logins (state_hash, provider, nonce, pkce_verifier, \
             return_to, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&login.state_hash)
        .bind(&login.provider)
        .bind(&login.nonce)
        .bind(&login.pkce_verifier)
        .bind(&login.return_to)
        .bind(login.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn take_oidc_login(&self, state_hash: &str) -> crate::Result<Option<crate::OidcLogin>> {
        // One statement: two callbacks racing with the same state cannot both
        // get the row.
        let taken: Option<(String, String, String, String, String, i64)> = query_as(
            "DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING state_hash, \
             provider, nonce, pkce_verifier, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(taken.map(
            |(state_hash, provider, nonce, pkce_verifier, return_to, created_at)| {
                crate::OidcLogin {
                    state_hash,
                    provider,
                    nonce,
                    pkce_verifier,
                    return_to,
                    created_at,
                }
            },
        ))
    }

    async fn user_by_oidc(
        &self,
        issuer: &str,
        subject: &str,
    ) -> crate::Result<Option<crate::User>> {
        let sql = format!(
            "SELECT {} FROM users JOIN oidc_identities i ON i.user_id = users.id \
             WHERE i.issuer = $1 AND i.subject = $2",
            crate::sql::USER_COLUMNS
        );
        Ok(query_as::<crate::models::UserRow>(&sql)
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?
            .map(crate::User::from))
    }

    async fn link_oidc(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: i64,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        Self::insert_identity_in(&mut tx, issuer, subject, user_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn link_oidc_if_unlinked(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: i64,
    ) -> crate::Result<bool> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        // Locks the account's row (PostgreSQL) or the database (SQLite's write
        // transaction): two subjects racing for one account cannot both pass.
        let found = query("UPDATE users SET id = id WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        crate::sql::found(found.rows_affected())?;
        let linked: Option<(i64,)> =
            query_as("SELECT user_id FROM oidc_identities WHERE user_id = $1 LIMIT 1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if linked.is_some() {
            return Ok(false);
        }
        Self::insert_identity_in(&mut tx, issuer, subject, user_id, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn note_oidc_collision(&self, collision: &crate::OidcCollision) -> crate::Result<()> {
        query(
            "INSERT INTO oidc_collisions (issuer, subject, provider, username, \
             first_seen, last_seen, attempts) VALUES ($1, $2, $3, $4, $5, $5, 1) \
             ON CONFLICT (issuer, subject) DO UPDATE SET provider = $3, \
             username = $4, last_seen = $5, \
             attempts = oidc_collisions.attempts + 1",
        )
        .bind(&collision.issuer)
        .bind(&collision.subject)
        .bind(&collision.provider)
        .bind(&collision.username)
        .bind(collision.last_seen)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn oidc_collisions(&self) -> crate::Result<Vec<crate::OidcCollision>> {
        Ok(query_as(
            "SELECT issuer, subject, provider, username, first_seen, last_seen, \
             attempts FROM oidc_collisions ORDER BY last_seen DESC, issuer, subject",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn resolve_oidc_collision(
        &self,
        issuer: &str,
        subject: &str,
        username: &str,
        link_to: Option<i64>,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::OidcCollision> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let taken: Option<crate::OidcCollision> = query_as(
            "DELETE FROM oidc_collisions WHERE issuer = $1 AND subject = $2 AND username = $3 \
             RETURNING issuer, subject, provider, username, first_seen, last_seen, \
             attempts",
        )
        .bind(issuer)
        .bind(subject)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let taken = taken.ok_or(crate::Error::NotFound)?;
        let action = match link_to {
            Some(user_id) => {
                Self::insert_identity_in(&mut tx, issuer, subject, user_id, audit.now).await?;
                AuditAction::SignInLinked
            }
            None => AuditAction::SignInDismissed,
        };
        let detail = format!(
            "{} subject {} at {}",
            taken.provider, taken.subject, taken.issuer
        );
        Self::audit_in(&mut tx, audit, action, None, Some(&taken.username), &detail).await?;
        tx.commit().await?;
        Ok(taken)
    }

    async fn rename_user(
        &self,
        user_id: i64,
        new: &roomkeeper_domain::Username,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let old: Option<(String,)> = query_as("SELECT username FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
        let (old,) = old.ok_or(crate::Error::NotFound)?;
        let new = new.as_str();
        query("UPDATE users SET username = $1 WHERE id = $2")
            .bind(new)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::UsernameTaken))?;
        // Where the new name is already listed beside the old one, the old entry
        // would collide with it: the person keeps that right once.
        for statement in [
            "DELETE FROM room_co_owners WHERE username = $1 AND room_id IN \
             (SELECT room_id FROM room_co_owners WHERE username = $2)",
            "DELETE FROM patterns WHERE username = $1 AND pattern IN \
             (SELECT pattern FROM patterns WHERE username = $2)",
            "DELETE FROM group_members WHERE username = $1 AND group_name IN \
             (SELECT group_name FROM group_members WHERE username = $2)",
            "UPDATE room_co_owners SET username = $2 WHERE username = $1",
            "UPDATE group_members SET username = $2 WHERE username = $1",
            "UPDATE patterns SET username = $2 WHERE username = $1",
            "UPDATE rooms SET owner = $2 WHERE owner = $1",
            "UPDATE room_requests SET requester = $2 WHERE requester = $1",
            "UPDATE notices SET username = $2 WHERE username = $1",
        ] {
            query(statement)
                .bind(&old)
                .bind(new)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn set_display_name(&self, user_id: i64, name: Option<&str>) -> crate::Result<()> {
        let done = query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        crate::sql::found(done.rows_affected())
    }

    async fn set_session_provider(
        &self,
        token_hash: &str,
        provider: &str,
        id_token: &str,
    ) -> crate::Result<()> {
        let done =
            query("UPDATE sessions SET oidc_provider = $1, id_token = $2 WHERE token_hash = $3")
                .bind(provider)
                .bind(id_token)
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
        crate::sql::found(done.rows_affected())
    }

    async fn session_provider(&self, token_hash: &str) -> crate::Result<Option<(String, String)>> {
        Ok(query_as(
            "SELECT oidc_provider, id_token FROM sessions WHERE token_hash = $1 \
             AND oidc_provider IS NOT NULL AND id_token IS NOT NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn create_directory_user(
        &self,
        new: &crate::NewUser,
        now: i64,
    ) -> crate::Result<crate::User> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let user = Self::insert_user(&mut *tx, new, now).await?;
        query("INSERT INTO directory_accounts (user_id, linked_at) VALUES ($1, $2)")
            .bind(user.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn is_directory_account(&self, user_id: i64) -> crate::Result<bool> {
        let found: Option<(i64,)> =
            query_as("SELECT user_id FROM directory_accounts WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    async fn link_directory(&self, user_id: i64, now: i64) -> crate::Result<bool> {
        let done = query(
            "INSERT INTO directory_accounts (user_id, linked_at) VALUES ($1, $2) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
