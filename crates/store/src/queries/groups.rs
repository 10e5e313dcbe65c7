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
        let rows: Vec<(String,)> =
            query_as("SELECT DISTINCT group_name FROM room_co_owner_groups ORDER BY group_name")
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
