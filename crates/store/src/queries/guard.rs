//! The room guard's settings, join codes and the meeting's moderators on Roomkeeper's
//! word.

use roomkeeper_domain::AuditAction;

use super::SqlStore;
use super::leases::{Claimed, Leased};
use crate::statement::{Driver, query, query_as};

#[async_trait::async_trait]
impl<D: Driver> crate::GuardStore for SqlStore<D> {
    async fn guard(&self, room_id: i64) -> crate::Result<roomkeeper_domain::GuardSettings> {
        let row: Option<crate::models::GuardRow> = query_as(
            "SELECT password_guard, moderator_guard, in_use_alert_minutes, lobby \
             FROM room_guards WHERE room_id = $1",
        )
        .bind(room_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.settings()).unwrap_or_default())
    }

    async fn guarded_rooms(
        &self,
    ) -> crate::Result<Vec<(crate::Room, roomkeeper_domain::GuardSettings)>> {
        let rows: Vec<(i64, bool, String, Option<i64>, String)> = query_as(
            "SELECT room_id, password_guard, moderator_guard, in_use_alert_minutes, lobby \
             FROM room_guards WHERE password_guard OR moderator_guard <> 'off' \
             OR in_use_alert_minutes IS NOT NULL OR lobby <> 'off' ORDER BY room_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut conn = self.pool.acquire().await?;
        let mut guarded = Vec::with_capacity(rows.len());
        for (room_id, password_guard, moderator_guard, in_use_alert_minutes, lobby) in rows {
            let settings = crate::models::GuardRow {
                password_guard,
                moderator_guard,
                in_use_alert_minutes,
                lobby,
            }
            .settings();
            if let Some(room) = Self::room_in(&mut conn, room_id).await? {
                guarded.push((room, settings));
            }
        }
        Ok(guarded)
    }

    async fn set_guard(
        &self,
        room: &crate::Room,
        settings: &roomkeeper_domain::GuardSettings,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        query(
            "INSERT INTO room_guards \
             (room_id, password_guard, moderator_guard, in_use_alert_minutes, lobby, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (room_id) DO UPDATE SET \
             password_guard = $2, moderator_guard = $3, in_use_alert_minutes = $4, \
             lobby = $5, updated_at = $6",
        )
        .bind(room.id)
        .bind(settings.password_guard)
        .bind(settings.moderator_guard.as_str())
        .bind(settings.in_use_alert_minutes.map(i64::from))
        .bind(settings.lobby.as_str())
        .bind(audit.now)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "password_guard": settings.password_guard,
            "moderator_guard": settings.moderator_guard.as_str(),
            "in_use_alert_minutes": settings.in_use_alert_minutes,
            "lobby": settings.lobby.as_str(),
        })
        .to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::GuardChanged,
            Some(room.name.as_str()),
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_join_code(
        &self,
        code_hash: &str,
        room_id: i64,
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        query("DELETE FROM join_codes WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        query(
            "INSERT INTO join_codes (code_hash, room_id, username, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(code_hash)
        .bind(room_id)
        .bind(username)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn join_code_owner(
        &self,
        code_hash: &str,
        room_id: i64,
        now: i64,
    ) -> crate::Result<Option<String>> {
        let owner: Option<(String,)> = query_as(
            "SELECT username FROM join_codes \
             WHERE code_hash = $1 AND room_id = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(code_hash)
        .bind(room_id)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(owner.map(|(username,)| username))
    }

    async fn use_join_code(
        &self,
        code_hash: &str,
        room: &crate::Room,
        participant: &str,
        occupant: &str,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<Option<String>> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        // The conditions and the update in one statement: of two uses at the same moment
        // (two instances told the same join), one finds it already used.
        let owner: Option<(String,)> = query_as(
            "UPDATE join_codes SET used_at = $1, participant = $2 \
             WHERE code_hash = $3 AND room_id = $4 AND used_at IS NULL AND expires_at > $1 \
             RETURNING username",
        )
        .bind(audit.now)
        .bind(participant)
        .bind(code_hash)
        .bind(room.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((username,)) = owner else {
            return Ok(None);
        };
        query(
            "INSERT INTO meeting_moderators \
             (room_id, participant, occupant, username, joined_with_code, since) \
             VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT (room_id, participant) DO UPDATE SET \
             occupant = $3, username = $4, joined_with_code = TRUE, since = $5",
        )
        .bind(room.id)
        .bind(participant)
        .bind(occupant)
        .bind(&username)
        .bind(audit.now)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "participant": participant }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::JoinAsModerator,
            Some(room.name.as_str()),
            Some(&username),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(username))
    }

    async fn record_moderator_change(
        &self,
        audit: &crate::Audit<'_>,
        room: &crate::Room,
        action: AuditAction,
        detail: &str,
        participant: &str,
        trust: crate::ModeratorTrust<'_>,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        match trust {
            crate::ModeratorTrust::Trusted { occupant, username } => {
                // An owner who joined with a code stays that owner when someone grants
                // them again; someone else under the same nick (another connection)
                // replaces the old entry.
                query(
                    "INSERT INTO meeting_moderators \
                     (room_id, participant, occupant, username, joined_with_code, since) \
                     VALUES ($1, $2, $3, $4, FALSE, $5) ON CONFLICT (room_id, participant) \
                     DO UPDATE SET occupant = excluded.occupant, username = excluded.username, \
                     joined_with_code = FALSE, since = excluded.since \
                     WHERE meeting_moderators.occupant <> excluded.occupant",
                )
                .bind(room.id)
                .bind(participant)
                .bind(occupant)
                .bind(username)
                .bind(audit.now)
                .execute(&mut *tx)
                .await?;
            }
            crate::ModeratorTrust::Forgotten => {
                query("DELETE FROM meeting_moderators WHERE room_id = $1 AND participant = $2")
                    .bind(room.id)
                    .bind(participant)
                    .execute(&mut *tx)
                    .await?;
            }
            crate::ModeratorTrust::Unchanged => {}
        }
        Self::audit_in(
            &mut tx,
            audit,
            action,
            Some(room.name.as_str()),
            None,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_meeting_moderator(&self, room_id: i64, participant: &str) -> crate::Result<()> {
        query("DELETE FROM meeting_moderators WHERE room_id = $1 AND participant = $2")
            .bind(room_id)
            .bind(participant)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn meeting_moderators(
        &self,
        room_id: i64,
    ) -> crate::Result<Vec<crate::MeetingModerator>> {
        Ok(query_as(
            "SELECT participant, occupant, username, joined_with_code, since FROM meeting_moderators \
             WHERE room_id = $1 ORDER BY since, participant",
        )
        .bind(room_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn meeting_ended(&self, room_id: i64) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        for statement in [
            "DELETE FROM meeting_moderators WHERE room_id = $1",
            "UPDATE room_guards SET owner_password = FALSE, in_use_alerted_at = NULL \
             WHERE room_id = $1 AND (owner_password OR in_use_alerted_at IS NOT NULL)",
        ] {
            query(statement).bind(room_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_guard(
        &self,
        room_id: i64,
        holder: &str,
        now: i64,
        until: i64,
    ) -> crate::Result<crate::GuardClaim> {
        Ok(
            match self
                .claim_lease(Leased::RoomGuard(room_id), holder, now, until)
                .await?
            {
                Claimed::Granted { before } if before.as_deref() == Some(holder) => {
                    crate::GuardClaim::Renewed
                }
                Claimed::Granted { .. } => crate::GuardClaim::Won,
                Claimed::HeldUntil(until) => crate::GuardClaim::HeldUntil(until),
            },
        )
    }

    async fn release_guard_leases(&self, holder: &str) -> crate::Result<u64> {
        let released = query("DELETE FROM guard_leases WHERE holder = $1")
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(released.rows_affected())
    }

    async fn owner_password(&self, room_id: i64) -> crate::Result<bool> {
        let row: Option<(bool,)> =
            query_as("SELECT owner_password FROM room_guards WHERE room_id = $1")
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some_and(|(owner,)| owner))
    }

    async fn set_owner_password(&self, room_id: i64, owner: bool) -> crate::Result<()> {
        query(
            "UPDATE room_guards SET owner_password = $1 WHERE room_id = $2 AND owner_password <> $1",
        )
        .bind(owner)
        .bind(room_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn alert_owners(
        &self,
        room: &crate::Room,
        alert: &crate::OwnerAlert,
        emails: &[crate::NewEmail],
        audit: &crate::Audit<'_>,
    ) -> crate::Result<bool> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let column = alert.told_column();
        let mark =
            format!("UPDATE room_guards SET {column} = $1 WHERE room_id = $2 AND {column} IS NULL");
        let marked = query(&mark)
            .bind(audit.now)
            .bind(room.id)
            .execute(&mut *tx)
            .await?;
        if marked.rows_affected() == 0 {
            return Ok(false);
        }
        let (kind, message) = alert.notice();
        let people = crate::sql::room_people("$4");
        query(&format!(
            "INSERT INTO notices (username, kind, room_name, message, created_at) \
             SELECT username, CAST($5 AS TEXT), $1, $2, $3 FROM ({people}) AS people"
        ))
        .bind(room.name.as_str())
        .bind(message)
        .bind(audit.now)
        .bind(room.id)
        .bind(kind.code())
        .execute(&mut *tx)
        .await?;
        Self::queue_in(&mut tx, emails, audit.now).await?;
        let (action, detail) = alert.history();
        Self::audit_in(
            &mut tx,
            audit,
            action,
            Some(room.name.as_str()),
            None,
            &detail.to_string(),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn reset_owner_alerts(&self, room_id: i64) -> crate::Result<()> {
        query(
            "UPDATE room_guards SET in_use_alerted_at = NULL, knock_alerted_at = NULL \
             WHERE room_id = $1 \
             AND (in_use_alerted_at IS NOT NULL OR knock_alerted_at IS NOT NULL)",
        )
        .bind(room_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
