//! Users, sessions, API tokens and sign-in throttling.

use super::SqlStore;
use crate::models::{ApiTokenRow, UserRow, converted};
use crate::statement::{Driver, Executor, query, query_as};
use crate::{ApiToken, User};

#[async_trait::async_trait]
impl<D: Driver> crate::AccountStore for SqlStore<D> {
    async fn create_user(&self, new: &crate::NewUser, now: i64) -> crate::Result<crate::User> {
        Self::insert_user(&self.pool, new, now).await
    }

    async fn user_by_id(&self, id: i64) -> crate::Result<Option<crate::User>> {
        let sql = format!(
            "SELECT {} FROM users WHERE id = $1",
            crate::sql::USER_COLUMNS
        );
        Ok(query_as::<UserRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(User::from))
    }

    async fn user_by_name(
        &self,
        name: &roomkeeper_domain::Username,
    ) -> crate::Result<Option<crate::User>> {
        let sql = format!(
            "SELECT {} FROM users WHERE username = $1",
            crate::sql::USER_COLUMNS
        );
        Ok(query_as::<UserRow>(&sql)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(User::from))
    }

    async fn list_users(&self) -> crate::Result<Vec<crate::User>> {
        let sql = format!(
            "SELECT {} FROM users ORDER BY username",
            crate::sql::USER_COLUMNS
        );
        Ok(converted(
            query_as::<UserRow>(&sql).fetch_all(&self.pool).await?,
        ))
    }

    async fn users_page(
        &self,
        search: Option<&str>,
        page: crate::Page,
    ) -> crate::Result<crate::Paged<crate::User>> {
        let like = search.map(|s| crate::sql::like_fragment(&s.to_lowercase()));
        let condition = if like.is_some() {
            " WHERE username LIKE $1 ESCAPE '\\' OR LOWER(COALESCE(display_name, '')) LIKE $1 ESCAPE '\\'"
        } else {
            " WHERE $1 = $1"
        };
        let pattern = like.unwrap_or_default();
        let (total,): (i64,) = query_as(&format!("SELECT COUNT(*) FROM users{condition}"))
            .bind(&pattern)
            .fetch_one(&self.pool)
            .await?;
        let sql = format!(
            "SELECT {} FROM users{condition} ORDER BY username LIMIT $2 OFFSET $3",
            crate::sql::USER_COLUMNS
        );
        let items = converted(
            query_as::<UserRow>(&sql)
                .bind(&pattern)
                .bind(page.limit())
                .bind(page.offset())
                .fetch_all(&self.pool)
                .await?,
        );
        Ok(crate::Paged {
            items,
            total,
            page: page.number,
            per_page: page.size,
        })
    }

    async fn count_active_admins(&self) -> crate::Result<i64> {
        let (count,): (i64,) =
            query_as("SELECT COUNT(*) FROM users WHERE is_admin = TRUE AND disabled = FALSE")
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    async fn set_password_hash(
        &self,
        user_id: i64,
        hash: &str,
        must_change: bool,
        revoke_tokens: bool,
    ) -> crate::Result<u64> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done =
            query("UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3")
                .bind(hash)
                .bind(must_change)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        crate::sql::found(done.rows_affected())?;
        query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let mut revoked = 0;
        if revoke_tokens {
            revoked = query("DELETE FROM api_tokens WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn set_admin(&self, user_id: i64, is_admin: bool) -> crate::Result<()> {
        let done = query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(is_admin)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        crate::sql::found(done.rows_affected())
    }

    async fn set_disabled(&self, user_id: i64, disabled: bool) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done = query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        crate::sql::found(done.rows_affected())?;
        if disabled {
            Self::end_credentials_in(&mut tx, user_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn disable_user(
        &self,
        user_id: i64,
        rooms: crate::HandOver<'_>,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<Vec<crate::Room>> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let (username,): (String,) = query_as("SELECT username FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::Error::NotFound)?;
        let owned: Vec<(i64,)> = query_as("SELECT id FROM rooms WHERE owner = $1 ORDER BY id")
            .bind(&username)
            .fetch_all(&mut *tx)
            .await?;
        let mut before = Vec::with_capacity(owned.len());
        for (room_id,) in owned {
            if let Some(room) = Self::room_in(&mut tx, room_id).await? {
                before.push(room);
            }
            match rooms {
                crate::HandOver::Keep => {}
                crate::HandOver::TransferTo(to) => {
                    Self::transfer_in(&mut tx, room_id, to, audit).await?;
                }
                crate::HandOver::Release => Self::release_in(&mut tx, room_id, audit).await?,
            }
        }
        query("UPDATE users SET disabled = TRUE WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        Self::end_credentials_in(&mut tx, user_id).await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn set_email(&self, user_id: i64, email: Option<&str>) -> crate::Result<()> {
        let done = query("UPDATE users SET email = $1 WHERE id = $2")
            .bind(email)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        crate::sql::found(done.rows_affected())
    }

    async fn admin_recipients(&self) -> crate::Result<Vec<crate::User>> {
        let sql = format!(
            "SELECT {} FROM users WHERE is_admin = TRUE AND disabled = FALSE \
             AND email IS NOT NULL AND email <> '' ORDER BY username",
            crate::sql::USER_COLUMNS
        );
        Ok(converted(
            query_as::<UserRow>(&sql).fetch_all(&self.pool).await?,
        ))
    }

    async fn set_language(&self, user_id: i64, language: Option<&str>) -> crate::Result<()> {
        let done = query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        crate::sql::found(done.rows_affected())
    }

    async fn create_session(&self, token_hash: &str, user_id: i64, now: i64) -> crate::Result<()> {
        query(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::SecretExists))?;
        Ok(())
    }

    async fn touch_session(&self, token_hash: &str, now: i64) -> crate::Result<()> {
        query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str) -> crate::Result<()> {
        query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(
        &self,
        idle_before: i64,
        created_before: i64,
    ) -> crate::Result<u64> {
        let done = query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_before)
            .bind(created_before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> crate::Result<crate::ApiToken> {
        query_as::<ApiTokenRow>(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, user_id, name, created_at, last_used_at, expires_at",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map(ApiToken::from)
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::SecretExists))
    }

    async fn tokens_of(&self, user_id: i64) -> crate::Result<Vec<crate::ApiToken>> {
        Ok(converted(
            query_as::<ApiTokenRow>(
                "SELECT id, user_id, name, created_at, last_used_at, expires_at FROM api_tokens \
                 WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?,
        ))
    }

    async fn delete_token(&self, user_id: i64, token_id: i64) -> crate::Result<bool> {
        let done = query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(token_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_token(&self, token_id: i64, now: i64) -> crate::Result<()> {
        query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn count_login_attempt(
        &self,
        keys: &[&str],
        window_s: i64,
        now: i64,
    ) -> crate::Result<Vec<crate::LoginAttempts>> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let mut counts = Vec::with_capacity(keys.len());
        for key in keys {
            // One statement per key: PostgreSQL locks the row for the upsert and
            // SQLite has one writer, so no two attempts read the same count.
            // (SET expressions all see the row as it was.)
            let counted: crate::LoginAttempts = query_as(
                "INSERT INTO login_attempts (key, window_start, attempts) \
                 VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE SET \
                 attempts = CASE WHEN login_attempts.window_start <= $3 THEN 1 \
                     ELSE login_attempts.attempts + 1 END, \
                 window_start = CASE WHEN login_attempts.window_start <= $3 THEN $2 \
                     ELSE login_attempts.window_start END \
                 RETURNING attempts, window_start",
            )
            .bind(*key)
            .bind(now)
            .bind(now - window_s)
            .fetch_one(&mut *tx)
            .await?;
            counts.push(counted);
        }
        tx.commit().await?;
        Ok(counts)
    }

    async fn forgive_login_attempt(&self, key: &str) -> crate::Result<()> {
        query(
            "UPDATE login_attempts SET attempts = attempts - 1 \
             WHERE key = $1 AND attempts > 0",
        )
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_login_attempts(&self, key: &str) -> crate::Result<()> {
        query("DELETE FROM login_attempts WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_login_attempts(&self, before: i64) -> crate::Result<u64> {
        let done = query("DELETE FROM login_attempts WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

impl<D: Driver> SqlStore<D> {
    /// A new account's row; Conflict when the name is taken.
    pub(super) async fn insert_user<'c, E>(
        executor: E,
        new: &crate::NewUser,
        now: i64,
    ) -> crate::Result<crate::User>
    where
        E: Executor<'c>,
    {
        let sql = format!(
            "INSERT INTO users (username, display_name, password_hash, is_admin, \
             must_change_password, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING {}",
            crate::sql::USER_COLUMNS
        );
        query_as::<UserRow>(&sql)
            .bind(new.username.as_str())
            .bind(new.display_name.as_deref())
            .bind(new.password_hash.as_deref())
            .bind(new.is_admin)
            .bind(new.must_change_password)
            .bind(now)
            .fetch_one(executor)
            .await
            .map(User::from)
            .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::UsernameTaken))
    }
}

impl<D: Driver> SqlStore<D> {
    /// A disabled account's sessions end and its API tokens go: re-enabling it later
    /// must not bring old credentials back.
    async fn end_credentials_in(
        tx: &mut sqlx::Transaction<'_, D>,
        user_id: i64,
    ) -> crate::Result<()> {
        for statement in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_tokens WHERE user_id = $1",
        ] {
            query(statement).bind(user_id).execute(&mut **tx).await?;
        }
        Ok(())
    }
}
