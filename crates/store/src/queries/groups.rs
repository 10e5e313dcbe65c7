//! Who is in the groups that co-own rooms, as the directory or a provider said last.

use roomkeeper_domain::{GroupMember, GroupName};

use super::SqlStore;
use crate::statement::{Driver, query, query_as};

impl<D: Driver> SqlStore<D> {
    async fn insert_member_in(
        tx: &mut sqlx::Transaction<'_, D>,
        group: &GroupName,
        member: &GroupMember,
        now: i64,
    ) -> crate::Result<()> {
        query(
            "INSERT INTO group_members (group_name, username, display_name, refreshed_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (group_name, username) \
             DO UPDATE SET display_name = $3, refreshed_at = $4",
        )
        .bind(group.as_stored())
        .bind(member.username.as_str())
        .bind(member.display_name.as_deref())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl<D: Driver> crate::GroupStore for SqlStore<D> {
    async fn named_directory_groups(&self) -> crate::Result<Vec<GroupName>> {
        let rows: Vec<(String,)> = query_as(
            "SELECT group_name FROM room_co_owner_groups \
             UNION SELECT group_name FROM group_patterns ORDER BY group_name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name,)| GroupName::from_stored(&name))
            .filter(GroupName::is_directory)
            .collect())
    }

    async fn replace_group_members(
        &self,
        group: &GroupName,
        members: &[GroupMember],
        now: i64,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        query("DELETE FROM group_members WHERE group_name = $1")
            .bind(group.as_stored())
            .execute(&mut *tx)
            .await?;
        for member in members {
            Self::insert_member_in(&mut tx, group, member, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn add_group_pattern(
        &self,
        group: &GroupName,
        pattern: &str,
        audit: &crate::Audit<'_>,
    ) -> crate::Result<crate::GroupPattern> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let group = group.as_stored();
        let created: crate::GroupPattern = query_as(
            "INSERT INTO group_patterns (group_name, pattern, created_by, created_at) \
             VALUES ($1, $2, $3, $4) \
             RETURNING id, group_name, pattern, created_by, created_at",
        )
        .bind(group.as_str())
        .bind(pattern)
        .bind(audit.actor.unwrap_or_default())
        .bind(audit.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::Error::conflict_with(e, crate::Conflict::PatternExists))?;
        let detail = serde_json::json!({ "pattern": pattern, "group": group }).to_string();
        Self::audit_in(
            &mut tx,
            audit,
            roomkeeper_domain::AuditAction::PatternAdd,
            None,
            Some(&group),
            &detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn delete_group_pattern(&self, id: i64, audit: &crate::Audit<'_>) -> crate::Result<bool> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let removed: Option<(String, String)> =
            query_as("DELETE FROM group_patterns WHERE id = $1 RETURNING group_name, pattern")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((group, pattern)) = &removed {
            let detail = serde_json::json!({ "pattern": pattern, "group": group }).to_string();
            Self::audit_in(
                &mut tx,
                audit,
                roomkeeper_domain::AuditAction::PatternRemove,
                None,
                Some(group),
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(removed.is_some())
    }

    async fn group_patterns(&self) -> crate::Result<Vec<crate::GroupPattern>> {
        Ok(query_as(
            "SELECT id, group_name, pattern, created_by, created_at FROM group_patterns \
             ORDER BY group_name, pattern",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn group_patterns_of(&self, username: &str) -> crate::Result<Vec<crate::GroupPattern>> {
        Ok(query_as(
            "SELECT p.id, p.group_name, p.pattern, p.created_by, p.created_at \
             FROM group_patterns p JOIN group_members m ON m.group_name = p.group_name \
             WHERE m.username = $1 ORDER BY p.id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_memberships(
        &self,
        member: &GroupMember,
        asked: crate::MembershipsAsked<'_>,
        member_of: &[GroupName],
        now: i64,
    ) -> crate::Result<()> {
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let username = member.username.as_str();
        match asked {
            crate::MembershipsAsked::Provider(provider) => {
                // A provider's groups are `PROVIDER:…`; `provider` is a configured name
                // (letters, digits, '-'), so it holds no LIKE wildcard.
                query("DELETE FROM group_members WHERE username = $1 AND group_name LIKE $2")
                    .bind(username)
                    .bind(format!("{provider}:%"))
                    .execute(&mut *tx)
                    .await?;
            }
            crate::MembershipsAsked::Groups(groups) => {
                for group in groups {
                    query("DELETE FROM group_members WHERE username = $1 AND group_name = $2")
                        .bind(username)
                        .bind(group.as_stored())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        for group in member_of {
            Self::insert_member_in(&mut tx, group, member, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
