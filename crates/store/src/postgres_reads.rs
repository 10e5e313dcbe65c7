//! [`RequestReads`](crate::RequestReads) on PostgreSQL: sqlx, like every other query.
//! (SQLite answers them through rusqlite: `sqlite_reads.rs`.)

use roomkeeper_domain::{RoomName, Username};

use crate::PgStore;

type Db = sqlx::Postgres;

impl PgStore {
    /// A page of the rooms `filter` picks, by name, without their co-owners, and how
    /// many there are in all.
    async fn room_rows(
        conn: &mut sqlx::pool::PoolConnection<Db>,
        filter: &crate::RoomFilter,
        page: crate::Page,
    ) -> crate::Result<crate::Paged<crate::models::RoomRow>> {
        // Conditions are added only when filtering: an "any" placeholder such as
        // `$1 = '' OR owner = $1` would keep the database from using its indexes.
        let push_conditions = |query: &mut sqlx::QueryBuilder<'_, Db>| {
            query.push(" WHERE 1 = 1");
            if let Some(me) = &filter.visible_to {
                // A UNION rather than `owner = x OR id IN (...)`: PostgreSQL then
                // uses both indexes instead of scanning every room.
                query
                    .push(" AND id IN (SELECT id FROM rooms WHERE owner = ")
                    .push_bind(me.clone());
                query.push(" UNION SELECT room_id FROM room_co_owners WHERE username = ");
                query.push_bind(me.clone());
                query.push(
                    " UNION SELECT g.room_id FROM room_co_owner_groups g \
                     JOIN group_members m ON m.group_name = g.group_name WHERE m.username = ",
                );
                query.push_bind(me.clone()).push(")");
            }
            let name_like = filter.search_name.as_deref().map(crate::sql::like_fragment);
            let owner_like = filter
                .search_owner
                .as_deref()
                .map(crate::sql::like_fragment);
            match (name_like, owner_like) {
                (Some(name), Some(owner)) => {
                    query
                        .push(" AND (name LIKE ")
                        .push_bind(name)
                        .push(" ESCAPE '\\'");
                    query
                        .push(" OR owner LIKE ")
                        .push_bind(owner)
                        .push(" ESCAPE '\\')");
                }
                (Some(name), None) => {
                    query
                        .push(" AND name LIKE ")
                        .push_bind(name)
                        .push(" ESCAPE '\\'");
                }
                (None, Some(owner)) => {
                    query
                        .push(" AND owner LIKE ")
                        .push_bind(owner)
                        .push(" ESCAPE '\\'");
                }
                (None, None) => {}
            }
        };
        let mut select = sqlx::QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM rooms",
            crate::sql::ROOM_COLUMNS
        ));
        push_conditions(&mut select);
        select
            .push(" ORDER BY name LIMIT ")
            .push_bind(page.limit_and_one());
        select.push(" OFFSET ").push_bind(page.offset());
        let mut rows: Vec<crate::models::RoomRow> =
            select.build_query_as().fetch_all(&mut **conn).await?;
        let total = match page.total_from(rows.len()) {
            Some(total) => total,
            None => {
                let mut count = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) FROM rooms");
                push_conditions(&mut count);
                let (total,): (i64,) = count.build_query_as().fetch_one(&mut **conn).await?;
                total
            }
        };
        rows.truncate(page.size as usize);
        Ok(crate::Paged {
            items: rows,
            total,
            page: page.number,
            per_page: page.size,
        })
    }
}

#[async_trait::async_trait]
impl crate::RequestReads for PgStore {
    async fn session(&self, token_hash: &str) -> crate::Result<Option<crate::SessionRecord>> {
        let sql = format!(
            "SELECT sessions.created_at AS session_created_at, \
             sessions.last_seen_at AS session_last_seen_at, {} \
             FROM sessions JOIN users ON users.id = sessions.user_id \
             WHERE sessions.token_hash = $1",
            crate::sql::USER_COLUMNS
        );
        Ok(sqlx::query_as::<_, crate::models::SessionRow>(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(crate::SessionRecord::from))
    }

    async fn token(
        &self,
        token_hash: &str,
    ) -> crate::Result<Option<(crate::ApiToken, crate::User)>> {
        let sql = format!(
            "SELECT api_tokens.id AS token_id, api_tokens.name AS token_name, \
             api_tokens.created_at AS token_created_at, \
             api_tokens.last_used_at AS token_last_used_at, \
             api_tokens.expires_at AS token_expires_at, {} \
             FROM api_tokens JOIN users ON users.id = api_tokens.user_id \
             WHERE api_tokens.token_hash = $1",
            crate::sql::USER_COLUMNS
        );
        let row: Option<crate::models::TokenWithUser> = sqlx::query_as(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(crate::models::TokenWithUser::split))
    }

    async fn list_rooms(
        &self,
        filter: &crate::RoomFilter,
        page: crate::Page,
    ) -> crate::Result<crate::Paged<crate::Room>> {
        let mut conn = self.pool.acquire().await?;
        let rows = Self::room_rows(&mut conn, filter, page).await?;
        let items = Self::rooms_with_people(&mut conn, rows.items).await?;
        Ok(crate::Paged {
            items,
            total: rows.total,
            page: rows.page,
            per_page: rows.per_page,
        })
    }

    async fn list_requests(
        &self,
        filter: &crate::RequestFilter,
        page: crate::Page,
    ) -> crate::Result<crate::Paged<crate::RoomRequest>> {
        let push_conditions = |query: &mut sqlx::QueryBuilder<'_, Db>| {
            query.push(" WHERE 1 = 1");
            if let Some(status) = filter.status {
                query.push(" AND status = ").push_bind(status.as_str());
            }
            if let Some(requester) = &filter.requester {
                query.push(" AND requester = ").push_bind(requester.clone());
            }
        };
        let order = if filter.newest_first { "DESC" } else { "ASC" };
        let mut select = sqlx::QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM room_requests",
            crate::sql::REQUEST_COLUMNS
        ));
        push_conditions(&mut select);
        select.push(format!(" ORDER BY created_at {order}, id {order} LIMIT "));
        select
            .push_bind(page.limit_and_one())
            .push(" OFFSET ")
            .push_bind(page.offset());
        let mut rows: Vec<crate::models::RequestRow> =
            select.build_query_as().fetch_all(&self.pool).await?;
        let total = match page.total_from(rows.len()) {
            Some(total) => total,
            None => {
                let mut count = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) FROM room_requests");
                push_conditions(&mut count);
                let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
                total
            }
        };
        rows.truncate(page.size as usize);
        Ok(crate::Paged {
            items: rows.into_iter().map(Into::into).collect(),
            total,
            page: page.number,
            per_page: page.size,
        })
    }

    async fn notices_of(&self, username: &str) -> crate::Result<Vec<crate::Notice>> {
        Ok(crate::models::converted(
            sqlx::query_as::<_, crate::models::NoticeRow>(
                "SELECT id, username, kind, room_name, message, created_at FROM notices \
                 WHERE username = $1 AND read_at IS NULL ORDER BY id DESC",
            )
            .bind(username)
            .fetch_all(&self.pool)
            .await?,
        ))
    }

    async fn overview(
        &self,
        username: &str,
        rooms: crate::Page,
        latest: u32,
    ) -> crate::Result<crate::Overview> {
        let mine = crate::RoomFilter {
            visible_to: Some(username.to_owned()),
            ..Default::default()
        };
        let latest_requests: Vec<crate::models::RequestRow> = sqlx::query_as(&format!(
            "SELECT {} FROM room_requests WHERE requester = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
            crate::sql::REQUEST_COLUMNS
        ))
        .bind(username)
        .bind(i64::from(latest))
        .fetch_all(&self.pool)
        .await?;
        let mut conn = self.pool.acquire().await?;
        let rooms = Self::room_rows(&mut conn, &mine, rooms)
            .await?
            .map(|room| crate::RoomEntry {
                id: room.id,
                name: RoomName::from_stored(&room.name),
                owner: Username::from_stored(&room.owner),
            });
        drop(conn);
        Ok(crate::Overview {
            rooms,
            latest_requests: latest_requests.into_iter().map(Into::into).collect(),
            notices: self.notices_of(username).await?,
        })
    }
}
