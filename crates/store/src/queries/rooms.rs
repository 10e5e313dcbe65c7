//! Rooms, requests, patterns, audit log and notices. Every change writes its audit
//! entry in the same transaction, so the log never misses a change that happened nor
//! shows one that did not.

use roomkeeper_domain::{AuditAction, NoticeKind};

use super::SqlStore;
use crate::statement::{Builder, Driver, query, query_as};

impl<D: Driver> SqlStore<D> {
    pub(super) async fn audit_in(
        tx: &mut sqlx::Transaction<'_, D>,
        audit: &crate::Audit<'_>,
        action: AuditAction,
        room_name: Option<&str>,
        subject: Option<&str>,
        detail: &str,
    ) -> crate::Result<()> {
        query(
            "INSERT INTO audit_log (at, actor, address, action, room_name, subject, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(audit.now)
        .bind(audit.actor)
        .bind(audit.address)
        .bind(action.code())
        .bind(room_name)
        .bind(subject)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Gives the room to `new_owner`, with its history entry and the notices.
    pub(super) async fn transfer_in(
        tx: &mut sqlx::Transaction<'_, D>,
        room_id: i64,
        new_owner: &str,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::Room> {
        let before = Self::room_in(tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        query("UPDATE rooms SET owner = $1, last_activity_at = $2 WHERE id = $3")
            .bind(new_owner)
            .bind(audit.now)
            .bind(room_id)
            .execute(&mut **tx)
            .await?;
        // The new owner is no longer also a co-owner.
        query("DELETE FROM room_co_owners WHERE room_id = $1 AND username = $2")
            .bind(room_id)
            .bind(new_owner)
            .execute(&mut **tx)
            .await?;
        let detail = serde_json::json!({ "from": before.owner, "to": new_owner }).to_string();
        Self::audit_in(
            tx,
            audit,
            AuditAction::Transfer,
            Some(before.name.as_str()),
            Some(new_owner),
            &detail,
        )
        .await?;
        Self::notify_people_in(
            tx,
            &before,
            audit,
            NoticeKind::RoomTransferred,
            Some(new_owner),
        )
        .await?;
        Self::room_in(tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)
    }

    /// Gives the room up (its name is free again), with its history entry and notices.
    pub(super) async fn release_in(
        tx: &mut sqlx::Transaction<'_, D>,
        room_id: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<()> {
        let room = Self::room_in(tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        query("DELETE FROM rooms WHERE id = $1")
            .bind(room_id)
            .execute(&mut **tx)
            .await?;
        let detail =
            serde_json::json!({ "owner": room.owner, "co_owners": room.co_owners }).to_string();
        Self::audit_in(
            tx,
            audit,
            AuditAction::Release,
            Some(room.name.as_str()),
            Some(room.owner.as_str()),
            &detail,
        )
        .await?;
        Self::notify_people_in(tx, &room, audit, NoticeKind::RoomReleased, None).await
    }

    /// Tells the room's people (owner, co-owners and group members, `before` the change) that
    /// someone else changed it; the actor is not told of their own change.
    pub(super) async fn notify_people_in(
        tx: &mut sqlx::Transaction<'_, D>,
        room: &crate::Room,
        audit: &crate::Audit<'_>,
        kind: NoticeKind,
        to: Option<&str>,
    ) -> crate::Result<()> {
        let message = serde_json::json!({ "by": audit.actor, "to": to }).to_string();
        for person in room.people() {
            if Some(person.as_str()) == audit.actor {
                continue;
            }
            query(
                "INSERT INTO notices (username, kind, room_name, message, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(person.as_str())
            .bind(kind.code())
            .bind(room.name.as_str())
            .bind(&message)
            .bind(audit.now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(super) async fn queue_in(
        tx: &mut sqlx::Transaction<'_, D>,
        emails: &[crate::NewEmail],
        now: i64,
    ) -> crate::Result<()> {
        for email in emails {
            query(
                "INSERT INTO outbox (recipient, subject, body, created_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&email.recipient)
            .bind(&email.subject)
            .bind(&email.body)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The rooms of `rows` with their co-owners and their co-owning groups (with the
    /// members as last refreshed), all in name order. One round trip for a page of
    /// rooms: the co-owners' rows and the groups' rows come from one `UNION ALL`.
    pub(crate) async fn rooms_with_people(
        conn: &mut D::Connection,
        rows: Vec<crate::models::RoomRow>,
    ) -> crate::Result<Vec<crate::Room>> {
        use roomkeeper_domain::{CoOwnerGroup, GroupMember, GroupName, Username};
        use std::collections::HashMap;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        // kind 'c': a co-owner named one by one (name); 'g': a group (name) and one of
        // its members (member, display_name; none for a group nobody is known in).
        let mut select = Builder::new(
            "SELECT room_id, 'c' AS kind, username AS name, CAST(NULL AS TEXT) AS member, \
             CAST(NULL AS TEXT) AS display_name FROM room_co_owners WHERE room_id IN (",
        );
        select.push_list(ids.iter().copied()).push(
            ") UNION ALL SELECT g.room_id, 'g', g.group_name, m.username, m.display_name \
             FROM room_co_owner_groups g LEFT JOIN group_members m ON m.group_name = g.group_name \
             WHERE g.room_id IN (",
        );
        select
            .push_list(ids.iter().copied())
            .push(") ORDER BY 1, 2, 3, 4");
        let found: Vec<crate::models::PersonRow> =
            select.build_query_as().fetch_all(&mut *conn).await?;
        let mut co_owners: HashMap<i64, Vec<String>> = HashMap::new();
        let mut groups: HashMap<i64, Vec<CoOwnerGroup>> = HashMap::new();
        for crate::models::PersonRow {
            room_id,
            kind,
            name,
            member,
            display_name,
        } in found
        {
            if kind == "c" {
                co_owners.entry(room_id).or_default().push(name);
                continue;
            }
            let groups = groups.entry(room_id).or_default();
            let name = GroupName::from_stored(&name);
            if groups.last().is_none_or(|g| g.name != name) {
                groups.push(CoOwnerGroup {
                    name,
                    members: Vec::new(),
                });
            }
            if let (Some(group), Some(username)) = (groups.last_mut(), member) {
                group.members.push(GroupMember {
                    username: Username::from_stored(&username),
                    display_name,
                });
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let named = co_owners.remove(&row.id).unwrap_or_default();
                let groups = groups.remove(&row.id).unwrap_or_default();
                row.with_co_owners(&named, groups)
            })
            .collect())
    }

    pub(super) async fn room_in(
        conn: &mut D::Connection,
        id: i64,
    ) -> crate::Result<Option<crate::Room>> {
        let sql = format!(
            "SELECT {} FROM rooms WHERE id = $1",
            crate::sql::ROOM_COLUMNS
        );
        let row: Option<crate::models::RoomRow> =
            query_as(&sql).bind(id).fetch_optional(&mut *conn).await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Self::rooms_with_people(conn, vec![row]).await?.pop()),
        }
    }

    pub(super) async fn request_in(
        conn: &mut D::Connection,
        id: i64,
    ) -> crate::Result<Option<crate::RoomRequest>> {
        let sql = format!(
            "SELECT {} FROM room_requests WHERE id = $1",
            crate::sql::REQUEST_COLUMNS
        );
        let row: Option<crate::models::RequestRow> =
            query_as(&sql).bind(id).fetch_optional(&mut *conn).await?;
        Ok(row.map(Into::into))
    }

    /// Inserts the room with its co-owners; a taken name is a conflict.
    pub(super) async fn insert_room_in(
        tx: &mut sqlx::Transaction<'_, D>,
        name: &str,
        owner: &str,
        co_owners: &[String],
        now: i64,
    ) -> crate::Result<i64> {
        let (id,): (i64,) = query_as(
            "INSERT INTO rooms (name, owner, created_at, last_activity_at) \
             VALUES ($1, $2, $3, $3) RETURNING id",
        )
        .bind(name)
        .bind(owner)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::RoomTaken))?;
        Self::replace_co_owners_in(tx, id, owner, co_owners).await?;
        // Recordings made before the room was registered stay unassigned: whoever
        // registers a name first need not be whoever recorded under it. An admin
        // assigns them (the approval queue says how many wait).
        Ok(id)
    }

    pub(super) async fn replace_co_owners_in(
        tx: &mut sqlx::Transaction<'_, D>,
        room_id: i64,
        owner: &str,
        co_owners: &[String],
    ) -> crate::Result<()> {
        query("DELETE FROM room_co_owners WHERE room_id = $1")
            .bind(room_id)
            .execute(&mut **tx)
            .await?;
        let mut seen = std::collections::BTreeSet::new();
        for username in co_owners.iter().filter(|u| u.as_str() != owner) {
            if seen.insert(username) {
                query("INSERT INTO room_co_owners (room_id, username) VALUES ($1, $2)")
                    .bind(room_id)
                    .bind(username)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl<D: Driver> crate::RoomStore for SqlStore<D> {
    async fn create_request(
        &self,
        new: &crate::NewRequest,
        auto_pattern: Option<&str>,
        audit: &crate::Audit<'_>,
        emails: &[crate::NewEmail],
    ) -> crate::Result<crate::RoomRequest> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let taken: Option<(i64,)> = query_as("SELECT id FROM rooms WHERE name = $1")
            .bind(&new.room_name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(crate::Error::Conflict(crate::Conflict::RoomTaken));
        }
        // Filed as pending first, even when a pattern approves it a moment later:
        // the one-pending-request-per-room index then stops a pattern from taking a
        // room someone else is waiting for.
        let (id,): (i64,) = query_as(
            "INSERT INTO room_requests (room_name, requester, reason, co_owners, status, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
        )
        .bind(&new.room_name)
        .bind(&new.requester)
        .bind(&new.reason)
        .bind(new.co_owners.join("\n"))
        .bind(audit.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::RoomTaken))?;
        if auto_pattern.is_some() {
            let room_id = Self::insert_room_in(
                &mut tx,
                &new.room_name,
                &new.requester,
                &new.co_owners,
                audit.now,
            )
            .await?;
            query(
                "UPDATE room_requests SET status = 'approved', auto_pattern = $1, decided_at = $2, \
                 room_id = $3 WHERE id = $4",
            )
            .bind(auto_pattern)
            .bind(audit.now)
            .bind(room_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let detail = serde_json::json!({
            "request_id": id,
            "reason": new.reason,
            "co_owners": new.co_owners,
        })
        .to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::Request,
            Some(&new.room_name),
            None,
            &detail,
        )
        .await?;
        if let Some(pattern) = auto_pattern {
            let detail = serde_json::json!({ "request_id": id, "pattern": pattern }).to_string();
            Self::audit_in(
                &mut tx,
                audit,
                AuditAction::AutoApprove,
                Some(&new.room_name),
                None,
                &detail,
            )
            .await?;
        }
        Self::queue_in(&mut tx, emails, audit.now).await?;
        let request = Self::request_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        tx.commit().await?;
        Ok(request)
    }

    async fn request(&self, id: i64) -> crate::Result<Option<crate::RoomRequest>> {
        let mut conn = self.pool.acquire().await?;
        Self::request_in(&mut conn, id).await
    }

    async fn request_of_room(&self, room_id: i64) -> crate::Result<Option<crate::RoomRequest>> {
        let sql = format!(
            "SELECT {} FROM room_requests WHERE room_id = $1 ORDER BY id DESC LIMIT 1",
            crate::sql::REQUEST_COLUMNS
        );
        let row: Option<crate::models::RequestRow> = query_as(&sql)
            .bind(room_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn pending_request_for(
        &self,
        room_name: &str,
    ) -> crate::Result<Option<crate::RoomRequest>> {
        let sql = format!(
            "SELECT {} FROM room_requests WHERE room_name = $1 AND status = 'pending'",
            crate::sql::REQUEST_COLUMNS
        );
        let row: Option<crate::models::RequestRow> = query_as(&sql)
            .bind(room_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn count_pending_requests(&self) -> crate::Result<i64> {
        let (count,): (i64,) =
            query_as("SELECT COUNT(*) FROM room_requests WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    async fn withdraw_request(
        &self,
        id: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::RoomRequest> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let done = query(
            "UPDATE room_requests SET status = 'withdrawn', decided_at = $1 \
             WHERE id = $2 AND status = 'pending'",
        )
        .bind(audit.now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let request = Self::request_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        if done.rows_affected() == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyDecided));
        }
        let detail = serde_json::json!({ "request_id": id }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::Withdraw,
            Some(request.room_name.as_str()),
            None,
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(request)
    }

    async fn decide_request(
        &self,
        id: i64,
        verdict: &crate::Verdict,
        message: Option<&str>,
        audit: &crate::Audit<'_>,
        emails: &[crate::NewEmail],
    ) -> crate::Result<crate::RoomRequest> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let request = Self::request_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        if request.status != crate::RequestStatus::Pending {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyDecided));
        }
        let (status, notice, room_id) = match verdict {
            crate::Verdict::Approve { .. } => {
                let room_id = Self::insert_room_in(
                    &mut tx,
                    request.room_name.as_str(),
                    request.requester.as_str(),
                    &request
                        .co_owners
                        .iter()
                        .map(|c| c.as_str().to_owned())
                        .collect::<Vec<_>>(),
                    audit.now,
                )
                .await?;
                (
                    crate::RequestStatus::Approved,
                    NoticeKind::Approved,
                    Some(room_id),
                )
            }
            crate::Verdict::Reject => (crate::RequestStatus::Rejected, NoticeKind::Rejected, None),
        };
        // Guarded by status, so two admins deciding at once cannot both win.
        let done = query(
            "UPDATE room_requests SET status = $1, decided_by = $2, decision_message = $3, \
             decided_at = $4, room_id = $5 WHERE id = $6 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(audit.actor)
        .bind(message)
        .bind(audit.now)
        .bind(room_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(crate::Error::Conflict(crate::Conflict::AlreadyDecided));
        }
        let detail = serde_json::json!({ "request_id": id, "message": message }).to_string();
        let action = if room_id.is_some() {
            AuditAction::Approve
        } else {
            AuditAction::Reject
        };
        Self::audit_in(
            &mut tx,
            audit,
            action,
            Some(request.room_name.as_str()),
            Some(request.requester.as_str()),
            &detail,
        )
        .await?;
        if let crate::Verdict::Approve {
            pattern: Some(pattern),
        } = verdict
        {
            query(
                "INSERT INTO patterns (username, pattern, created_by, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (username, pattern) DO NOTHING",
            )
            .bind(request.requester.as_str())
            .bind(pattern)
            .bind(audit.actor.unwrap_or_default())
            .bind(audit.now)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({ "pattern": pattern }).to_string();
            Self::audit_in(
                &mut tx,
                audit,
                AuditAction::PatternAdd,
                None,
                Some(request.requester.as_str()),
                &detail,
            )
            .await?;
        }
        query(
            "INSERT INTO notices (username, kind, room_name, message, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request.requester.as_str())
        .bind(notice.code())
        .bind(request.room_name.as_str())
        .bind(message.unwrap_or_default())
        .bind(audit.now)
        .execute(&mut *tx)
        .await?;
        Self::queue_in(&mut tx, emails, audit.now).await?;
        let decided = Self::request_in(&mut tx, id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        tx.commit().await?;
        Ok(decided)
    }

    async fn room(&self, id: i64) -> crate::Result<Option<crate::Room>> {
        let mut conn = self.pool.acquire().await?;
        Self::room_in(&mut conn, id).await
    }

    async fn room_by_name(&self, name: &str) -> crate::Result<Option<crate::Room>> {
        let id: Option<(i64,)> = query_as("SELECT id FROM rooms WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match id {
            Some((id,)) => self.room(id).await,
            None => Ok(None),
        }
    }

    async fn room_names(&self) -> crate::Result<Vec<(i64, String, String)>> {
        Ok(query_as("SELECT id, name, owner FROM rooms ORDER BY name")
            .fetch_all(&self.pool)
            .await?)
    }

    async fn rooms_owned_or_named(
        &self,
        owners: &[String],
        names: &[String],
    ) -> crate::Result<Vec<(String, String)>> {
        if owners.is_empty() && names.is_empty() {
            return Ok(Vec::new());
        }
        let mut select = Builder::new("SELECT owner, name FROM rooms WHERE 1 = 0");
        for (column, values) in [("owner", owners), ("name", names)] {
            if values.is_empty() {
                continue;
            }
            select
                .push(format!(" OR {column} IN ("))
                .push_list(values.iter().cloned())
                .push(")");
        }
        select.push(" ORDER BY name");
        Ok(select.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn set_co_owners(
        &self,
        room_id: i64,
        usernames: &[String],
        groups: Option<&[roomkeeper_domain::GroupName]>,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::Room> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let before = Self::room_in(&mut tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        Self::replace_co_owners_in(&mut tx, room_id, before.owner.as_str(), usernames).await?;
        if let Some(groups) = groups {
            query("DELETE FROM room_co_owner_groups WHERE room_id = $1")
                .bind(room_id)
                .execute(&mut *tx)
                .await?;
            let unique: std::collections::BTreeSet<String> = groups
                .iter()
                .map(roomkeeper_domain::GroupName::as_stored)
                .collect();
            for group in unique {
                query("INSERT INTO room_co_owner_groups (room_id, group_name) VALUES ($1, $2)")
                    .bind(room_id)
                    .bind(group)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        query("UPDATE rooms SET last_activity_at = $1 WHERE id = $2")
            .bind(audit.now)
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
        let after = Self::room_in(&mut tx, room_id)
            .await?
            .ok_or(crate::Error::NotFound)?;
        let detail =
            serde_json::json!({ "before": before.co_owners, "after": after.co_owners }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::CoOwners,
            Some(after.name.as_str()),
            None,
            &detail,
        )
        .await?;
        let group_names = |room: &crate::Room| -> Vec<String> {
            room.co_owner_groups
                .iter()
                .map(|g| g.name.as_stored())
                .collect()
        };
        let groups_changed = group_names(&before) != group_names(&after);
        if groups_changed {
            let detail = serde_json::json!({
                "before": group_names(&before),
                "after": group_names(&after),
            })
            .to_string();
            Self::audit_in(
                &mut tx,
                audit,
                AuditAction::CoOwnerGroups,
                Some(after.name.as_str()),
                None,
                &detail,
            )
            .await?;
        }
        if before.co_owners != after.co_owners || groups_changed {
            Self::notify_people_in(&mut tx, &before, audit, NoticeKind::CoOwnersChanged, None)
                .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    async fn transfer_room(
        &self,
        room_id: i64,
        new_owner: &str,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::Room> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let after = Self::transfer_in(&mut tx, room_id, new_owner, audit).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn release_room(&self, room_id: i64, audit: &crate::Audit<'_>) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        Self::release_in(&mut tx, room_id, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_pattern(
        &self,
        username: &str,
        pattern: &str,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::UserPattern> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let created: crate::UserPattern = query_as(
            "INSERT INTO patterns (username, pattern, created_by, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id, username, pattern, created_by, created_at",
        )
        .bind(username)
        .bind(pattern)
        .bind(audit.actor.unwrap_or_default())
        .bind(audit.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::PatternExists))?;
        let detail = serde_json::json!({ "pattern": pattern }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::PatternAdd,
            None,
            Some(username),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn delete_pattern(
        &self,
        username: &str,
        id: i64,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<bool> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let removed: Option<(String,)> =
            query_as("DELETE FROM patterns WHERE id = $1 AND username = $2 RETURNING pattern")
                .bind(id)
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((pattern,)) = removed else {
            return Ok(false);
        };
        let detail = serde_json::json!({ "pattern": pattern }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            AuditAction::PatternRemove,
            None,
            Some(username),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn patterns_of(&self, username: &str) -> crate::Result<Vec<crate::UserPattern>> {
        Ok(query_as(
            "SELECT id, username, pattern, created_by, created_at FROM patterns \
             WHERE username = $1 ORDER BY pattern",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn all_patterns(&self) -> crate::Result<Vec<crate::UserPattern>> {
        Ok(query_as(
            "SELECT id, username, pattern, created_by, created_at FROM patterns \
             ORDER BY username, pattern",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn record_audit(
        &self,
        audit: &crate::Audit<'_>,
        action: AuditAction,
        room_name: Option<&str>,
        subject: Option<&str>,
        detail: &str,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        Self::audit_in(&mut tx, audit, action, room_name, subject, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_log_since(
        &self,
        room_name: Option<&str>,
        since: Option<i64>,
        page: crate::Page,
    ) -> crate::Result<crate::Paged<crate::AuditEntry>> {
        let push_conditions = |query: &mut Builder| {
            query.push(" WHERE TRUE");
            if let Some(room) = room_name {
                query.push(" AND room_name = ").push_bind(room.to_owned());
            }
            if let Some(since) = since {
                query.push(" AND at >= ").push_bind(since);
            }
        };
        let mut count = Builder::new("SELECT COUNT(*) FROM audit_log");
        push_conditions(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
        let mut select = Builder::new(
            "SELECT id, at, actor, address, action, room_name, subject, detail FROM audit_log",
        );
        push_conditions(&mut select);
        select
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(page.limit());
        select.push(" OFFSET ").push_bind(page.offset());
        let items = crate::models::converted(
            select
                .build_query_as::<crate::models::AuditRow>()
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

    async fn dismiss_notice(&self, username: &str, id: i64, now: i64) -> crate::Result<bool> {
        let done = query(
            "UPDATE notices SET read_at = $1 WHERE id = $2 AND username = $3 AND read_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
