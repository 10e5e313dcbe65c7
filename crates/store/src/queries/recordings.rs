//! Recordings, their share links, retention and ingest problems.

use roomkeeper_domain::{AuditAction, NoticeKind};

use super::SqlStore;
use super::leases::{Claimed, Leased};
use crate::models::{ShareLinkRow, converted};
use crate::statement::{Driver, query, query_as};

impl<D: Driver> SqlStore<D> {
    pub(super) async fn recording_in(
        conn: &mut D::Connection,
        id: &str,
    ) -> crate::Result<Option<crate::Recording>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE r.id = $1",
            crate::sql::RECORDING_COLUMNS,
            crate::sql::RECORDING_FROM
        );
        let row: Option<crate::models::RecordingRow> =
            query_as(&sql).bind(id).fetch_optional(&mut *conn).await?;
        Ok(row.map(Into::into))
    }

    pub(super) async fn recordings_where(
        &self,
        condition: &str,
        binds: &[i64],
        tail: &str,
    ) -> crate::Result<Vec<crate::Recording>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {condition} {tail}",
            crate::sql::RECORDING_COLUMNS,
            crate::sql::RECORDING_FROM
        );
        let mut query = query_as::<crate::models::RecordingRow>(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        Ok(query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[async_trait::async_trait]
impl<D: Driver> crate::RecordingStore for SqlStore<D> {
    async fn begin_recording(
        &self,
        new: &crate::NewRecording,
        now: i64,
    ) -> crate::Result<crate::Recording> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        // The room as it was registered when the recording was made: an upload that
        // comes late (a retry, a re-ingest) after the name was released and registered
        // again belongs to nobody's room but an admin's decision, not to the new owner.
        let room_id: Option<(i64,)> = match &new.meeting_room {
            Some(name) => {
                query_as("SELECT id FROM rooms WHERE name = $1 AND created_at <= $2")
                    .bind(name)
                    .bind(new.started_at)
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let room_id = room_id.map(|(id,)| id);
        let claimable = room_id.is_none() && new.meeting_room.is_some();
        // A second ingest of the same file finds the first one's row; while that
        // row is still 'storing', the file it describes may have changed.
        query(
            "INSERT INTO recordings (id, session, source_file, room_id, meeting_room, \
             claimable, meeting_url, started_at, duration_ms, size_bytes, sha256, \
             participants, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'storing', $13) \
             ON CONFLICT (session, source_file) DO UPDATE SET \
             size_bytes = excluded.size_bytes, sha256 = excluded.sha256, \
             duration_ms = excluded.duration_ms \
             WHERE recordings.state = 'storing'",
        )
        .bind(&new.id)
        .bind(&new.session)
        .bind(&new.source_file)
        .bind(room_id)
        .bind(new.meeting_room.as_deref())
        .bind(claimable)
        .bind(&new.meeting_url)
        .bind(new.started_at)
        .bind(new.duration_ms)
        .bind(new.size_bytes)
        .bind(&new.sha256)
        .bind(new.participants.join("\n"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (id,): (String,) =
            query_as("SELECT id FROM recordings WHERE session = $1 AND source_file = $2")
                .bind(&new.session)
                .bind(&new.source_file)
                .fetch_one(&mut *tx)
                .await?;
        let recording = Self::recording_in(&mut tx, &id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        tx.commit().await?;
        Ok(recording)
    }

    async fn finish_recording(
        &self,
        id: &str,
        now: i64,
        emails: &[crate::NewEmail],
    ) -> crate::Result<(crate::Recording, bool)> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done = query(
            "UPDATE recordings SET state = 'ready', ready_at = $1 \
             WHERE id = $2 AND state = 'storing'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let recording = Self::recording_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        let newly_ready = done.rows_affected() > 0;
        if newly_ready {
            if let (Some(room_id), Some(room_name)) = (
                recording.room_id,
                recording
                    .room_name
                    .as_ref()
                    .map(roomkeeper_domain::RoomName::as_str),
            ) {
                let people = crate::sql::room_people("$4");
                query(&format!(
                    "INSERT INTO notices (username, kind, room_name, message, created_at) \
                     SELECT username, CAST($5 AS TEXT), $1, $2, $3 FROM ({people}) AS people"
                ))
                .bind(room_name)
                .bind(id)
                .bind(now)
                .bind(room_id)
                .bind(NoticeKind::RecordingReady.code())
                .execute(&mut *tx)
                .await?;
                Self::queue_in(&mut tx, emails, now).await?;
            }
        }
        tx.commit().await?;
        Ok((recording, newly_ready))
    }

    async fn recording(&self, id: &str) -> crate::Result<Option<crate::Recording>> {
        let mut conn = self.pool.acquire().await?;
        Self::recording_in(&mut conn, id).await
    }

    async fn recordings_of_room(&self, room_id: i64) -> crate::Result<Vec<crate::Recording>> {
        self.recordings_where(
            "r.room_id = $1 AND r.state = 'ready'",
            &[room_id],
            "ORDER BY r.started_at DESC, r.id",
        )
        .await
    }

    async fn ready_recordings_of_session(
        &self,
        session: &str,
    ) -> crate::Result<Vec<crate::Recording>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE r.session = $1 AND r.state = 'ready' ORDER BY r.source_file",
            crate::sql::RECORDING_COLUMNS,
            crate::sql::RECORDING_FROM
        );
        Ok(query_as::<crate::models::RecordingRow>(&sql)
            .bind(session)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn unassigned_recordings(&self) -> crate::Result<Vec<crate::Recording>> {
        self.recordings_where(
            "r.room_id IS NULL AND r.state = 'ready'",
            &[],
            "ORDER BY r.started_at DESC, r.id",
        )
        .await
    }

    async fn unfinished_recordings(&self) -> crate::Result<Vec<crate::Recording>> {
        self.recordings_where("r.state <> 'ready'", &[], "ORDER BY r.created_at")
            .await
    }

    async fn assign_recording(
        &self,
        id: &str,
        room_id: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::Recording> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done = query(
            "UPDATE recordings SET room_id = $1, claimable = FALSE \
             WHERE id = $2 AND state = 'ready'",
        )
        .bind(room_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(crate::Error::NotFound);
        }
        let recording = Self::recording_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::RecordingAssigned,
            recording
                .room_name
                .as_ref()
                .map(roomkeeper_domain::RoomName::as_str),
            None,
            &format!("recording {id}"),
        )
        .await?;
        // The room's people hear that someone gave their room a recording (an admin
        // who does so for a room of his own is its owner then, and not told).
        let room = Self::room_in(&mut tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        Self::notify_people_in(&mut tx, &room, audit, NoticeKind::RecordingAssigned, None).await?;
        tx.commit().await?;
        Ok(recording)
    }

    async fn start_deleting_recording(
        &self,
        id: &str,
        audit: &crate::Audit<'_>,
        why: &str,
    ) -> crate::Result<Option<crate::Recording>> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done =
            query("UPDATE recordings SET state = 'deleting' WHERE id = $1 AND state = 'ready'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let recording = Self::recording_in(&mut tx, id).await?;
        if let Some(recording) = &recording {
            Self::audit_in(
                &mut tx,
                audit,
                AuditAction::RecordingDeleted,
                recording
                    .room_name
                    .as_ref()
                    .map(roomkeeper_domain::RoomName::as_str),
                None,
                &format!("recording {id} ({}): {why}", recording.source_file),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(recording)
    }

    async fn forget_recording(&self, id: &str) -> crate::Result<()> {
        query("DELETE FROM recordings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn expired_recordings(
        &self,
        now: i64,
        default_days: i64,
        limit: i64,
    ) -> crate::Result<Vec<crate::Recording>> {
        self.recordings_where(
            "r.state = 'ready' AND r.started_at + COALESCE(rr.days, $1) * 86400 <= $2",
            &[default_days, now],
            &format!("ORDER BY r.started_at LIMIT {}", limit.max(1)),
        )
        .await
    }

    async fn set_retention(
        &self,
        room_id: i64,
        days: Option<i64>,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let (room_name,): (String,) = query_as("SELECT name FROM rooms WHERE id = $1")
            .bind(room_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::Error::NotFound)?;
        match days {
            Some(days) => {
                query(
                    "INSERT INTO recording_retention (room_id, days) VALUES ($1, $2) \
                     ON CONFLICT (room_id) DO UPDATE SET days = excluded.days",
                )
                .bind(room_id)
                .bind(days)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                query("DELETE FROM recording_retention WHERE room_id = $1")
                    .bind(room_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let detail = match days {
            Some(days) => format!("recordings kept {days} days"),
            None => "recordings kept the default time".to_owned(),
        };
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::RetentionSet,
            Some(&room_name),
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn retention_of(&self, room_id: i64) -> crate::Result<Option<i64>> {
        let days: Option<(i64,)> =
            query_as("SELECT days FROM recording_retention WHERE room_id = $1")
                .bind(room_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(days.map(|(d,)| d))
    }

    async fn claim_daily_job(&self, job: &str, day: i64) -> crate::Result<bool> {
        let done = query("UPDATE daily_jobs SET last_day = $1 WHERE job = $2 AND last_day < $1")
            .bind(day)
            .bind(job)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_job_lease(
        &self,
        job: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> crate::Result<bool> {
        Ok(matches!(
            self.claim_lease(Leased::Job(job), holder, now, until)
                .await?,
            Claimed::Granted { .. }
        ))
    }

    async fn create_share_link(
        &self,
        recording_id: &str,
        token_hash: &str,
        expires_at: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::ShareLink> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let recording = Self::recording_in(&mut tx, recording_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        let sql = format!(
            "INSERT INTO share_links (token_hash, recording_id, created_by, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
            crate::sql::SHARE_LINK_COLUMNS
        );
        let link: crate::ShareLink = query_as::<ShareLinkRow>(&sql)
            .bind(token_hash)
            .bind(recording_id)
            .bind(audit.actor.unwrap_or_default())
            .bind(audit.now)
            .bind(expires_at)
            .fetch_one(&mut *tx)
            .await?
            .into();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::ShareLinkCreated,
            recording
                .room_name
                .as_ref()
                .map(roomkeeper_domain::RoomName::as_str),
            None,
            &format!(
                "recording {recording_id}, link {}, expires {expires_at}",
                link.id
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(link)
    }

    async fn share_links_of(&self, recording_id: &str) -> crate::Result<Vec<crate::ShareLink>> {
        let sql = format!(
            "SELECT {} FROM share_links WHERE recording_id = $1 ORDER BY id DESC",
            crate::sql::SHARE_LINK_COLUMNS
        );
        Ok(converted(
            query_as::<ShareLinkRow>(&sql)
                .bind(recording_id)
                .fetch_all(&self.pool)
                .await?,
        ))
    }

    async fn live_share_links_of_room(
        &self,
        room_id: i64,
        now: i64,
    ) -> crate::Result<Vec<crate::ShareLink>> {
        let columns: Vec<String> = crate::sql::SHARE_LINK_COLUMNS
            .split(',')
            .map(|c| format!("l.{}", c.trim()))
            .collect();
        let sql = format!(
            "SELECT {} FROM share_links l JOIN recordings r ON r.id = l.recording_id \
             WHERE r.room_id = $1 AND l.revoked_at IS NULL AND l.expires_at > $2 \
             ORDER BY l.id DESC",
            columns.join(", ")
        );
        Ok(converted(
            query_as::<ShareLinkRow>(&sql)
                .bind(room_id)
                .bind(now)
                .fetch_all(&self.pool)
                .await?,
        ))
    }

    async fn revoke_share_link(
        &self,
        recording_id: &str,
        link_id: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<bool> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done = query(
            "UPDATE share_links SET revoked_at = $1 \
             WHERE id = $2 AND recording_id = $3 AND revoked_at IS NULL",
        )
        .bind(audit.now)
        .bind(link_id)
        .bind(recording_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let recording = Self::recording_in(&mut tx, recording_id).await?;
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::ShareLinkRevoked,
            recording.as_ref().and_then(|r| {
                r.room_name
                    .as_ref()
                    .map(roomkeeper_domain::RoomName::as_str)
            }),
            None,
            &format!("recording {recording_id}, link {link_id}"),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn share_link(&self, token_hash: &str) -> crate::Result<Option<crate::ShareLink>> {
        let sql = format!(
            "SELECT {} FROM share_links WHERE token_hash = $1",
            crate::sql::SHARE_LINK_COLUMNS
        );
        Ok(query_as::<ShareLinkRow>(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(crate::ShareLink::from))
    }

    async fn record_ingest_problem(
        &self,
        session: &str,
        location: &str,
        problem: &str,
        now: i64,
    ) -> crate::Result<()> {
        query(
            "INSERT INTO ingest_problems (session, location, problem, first_seen_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (session) DO UPDATE \
             SET location = excluded.location, problem = excluded.problem, \
             last_seen_at = excluded.last_seen_at",
        )
        .bind(session)
        .bind(location)
        .bind(problem)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_ingest_problem(&self, session: &str) -> crate::Result<()> {
        query("DELETE FROM ingest_problems WHERE session = $1")
            .bind(session)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ingest_problems(&self) -> crate::Result<Vec<crate::IngestProblem>> {
        Ok(converted(
            query_as::<crate::models::IngestProblemRow>(
                "SELECT session, location, problem, first_seen_at, last_seen_at, spooled_on \
                 FROM ingest_problems ORDER BY last_seen_at DESC",
            )
            .fetch_all(&self.pool)
            .await?,
        ))
    }

    async fn report_spool(
        &self,
        host: &str,
        waiting: &[crate::SpooledSession],
        now: i64,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin().await?;
        let earlier: Vec<(String,)> =
            query_as("SELECT session FROM ingest_problems WHERE spooled_on = $1")
                .bind(host)
                .fetch_all(&mut *tx)
                .await?;
        for (session,) in earlier {
            if !waiting.iter().any(|w| w.session == session) {
                query("DELETE FROM ingest_problems WHERE session = $1")
                    .bind(&session)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for spooled in waiting {
            query(
                "INSERT INTO ingest_problems (session, location, problem, first_seen_at, \
                 last_seen_at, spooled_on) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (session) DO UPDATE SET location = excluded.location, \
                 problem = excluded.problem, last_seen_at = excluded.last_seen_at, \
                 spooled_on = excluded.spooled_on",
            )
            .bind(&spooled.session)
            .bind(&spooled.location)
            .bind(&spooled.problem)
            .bind(spooled.since.min(now))
            .bind(now)
            .bind(host)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
