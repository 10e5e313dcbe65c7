//! [`RequestReads`](crate::RequestReads) on SQLite, through rusqlite in the asking task.
//!
//! Why not sqlx like every other query: its SQLite driver runs each connection on a
//! thread of its own and hands every statement and every row across a channel. Profiled
//! under load (`perf record` on the release binary answering `/api/v1/rooms`,
//! docs/PERFORMANCE.md), those hand-overs (futex waits, wake-ups, context switches) were
//! most of the time, SQLite's own work 3 %. These reads are short and use indexes, and
//! in WAL mode a reader never waits for the writer, so they run where they are asked, on
//! read-only connections of their own. Writes stay with sqlx: they may wait for the
//! write lock, which must not happen on the server's worker threads.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use roomkeeper_domain::{NoticeKind, RoomName, Username};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params_from_iter};

use crate::models::{RequestRow, RoomRow};
use crate::sql::{REQUEST_COLUMNS, ROOM_COLUMNS, USER_COLUMNS, like_fragment};
use crate::{ApiToken, Paged, Result, Room, SessionRecord, SqliteStore, User};

/// Idle connections kept for the next reads: about one per server thread, with room for
/// a burst.
const KEEP_IDLE: usize = 8;

/// Read-only connections to the database file, opened when first needed.
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` in one read transaction, so that its statements see one state of the
    /// database.
    fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        // Cached statements rather than rusqlite's `Transaction`, which parses `BEGIN`
        // and `COMMIT` anew each time (a few per cent of a page, by the profile).
        let answer = connection
            .prepare_cached("BEGIN")
            .and_then(|mut begin| begin.execute([]))
            .and_then(|_| read(&connection));
        let ended = connection
            .prepare_cached(if answer.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .and_then(|mut end| end.execute([]));
        // A connection still inside a transaction would show every later read the
        // database as it was: such a one is closed, never kept.
        if ended.is_ok() && connection.is_autocommit() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < KEEP_IDLE {
                    idle.push(connection);
                }
            }
        }
        let answer = answer?;
        ended?;
        Ok(answer)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Only while a checkpoint resets the log; the same patience as the writers'.
        connection.busy_timeout(Duration::from_secs(5))?;
        // Lists put their page's limit and offset into the SQL text: room for an admin
        // paging through several lists without preparing the common reads again.
        connection.set_prepared_statement_cache_capacity(64);
        Ok(connection)
    }
}

/// Rows are read by column name, as sqlx's `FromRow` reads them for PostgreSQL: a column
/// added to a statement cannot shift the others. (Joined tables' columns that share a
/// name with `USER_COLUMNS`' are given other names in the statement.)
fn user_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get("id")?,
        username: Username::from_stored(&row.get::<_, String>("username")?),
        display_name: row.get("display_name")?,
        password_hash: row.get("password_hash")?,
        is_admin: row.get("is_admin")?,
        disabled: row.get("disabled")?,
        must_change_password: row.get("must_change_password")?,
        language: row.get("language")?,
        email: row.get("email")?,
        created_at: row.get("created_at")?,
    })
}

/// One page of `select` (a whole `SELECT … ORDER BY …` without a limit) and how many
/// rows it has in all (`count`, with the same values), in the caller's read transaction
/// so the two agree. The count runs only when the page does not tell
/// ([`crate::Page::total_from`]); it is not `COUNT(*) OVER ()` in the page: a window
/// makes SQLite read every matching row, which for an admin's 10,000 rooms costs more.
fn counted_page<T>(
    db: &Connection,
    count: &str,
    select: &str,
    values: &[String],
    page: crate::Page,
    item: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Paged<T>> {
    let items: Vec<T> = db
        .prepare_cached(&format!(
            "{select} LIMIT {} OFFSET {}",
            page.limit_and_one(),
            page.offset()
        ))?
        .query_map(params_from_iter(values), item)?
        .collect::<rusqlite::Result<_>>()?;
    into_page(db, count, values, page, items)
}

/// `items`, fetched with a limit of [`crate::Page::limit_and_one`], as the page with the
/// total: from the page where it tells, else from `count` (with `values`).
fn into_page<T>(
    db: &Connection,
    count: &str,
    values: &[String],
    page: crate::Page,
    mut items: Vec<T>,
) -> rusqlite::Result<Paged<T>> {
    let total = match page.total_from(items.len()) {
        Some(total) => total,
        None => db
            .prepare_cached(count)?
            .query_row(params_from_iter(values), |row| row.get(0))?,
    };
    items.truncate(page.size as usize);
    Ok(Paged {
        items,
        total,
        page: page.number,
        per_page: page.size,
    })
}

/// The rooms `filter` picks, by name, each as `columns` (of `rooms`): the statement
/// counting them, the one selecting them (without a limit), and the values both bind.
fn rooms_query(filter: &crate::RoomFilter, columns: &str) -> (String, String, Vec<String>) {
    // A search (`q`) narrows whichever rooms are listed; added only when searching, so
    // that the indexes are used.
    let mut search = String::new();
    let mut search_values: Vec<String> = Vec::new();
    let name_like = filter.search_name.as_deref().map(like_fragment);
    let owner_like = filter.search_owner.as_deref().map(like_fragment);
    match (name_like, owner_like) {
        (Some(name), Some(owner)) => {
            search.push_str(" AND (name LIKE ? ESCAPE '\\' OR owner LIKE ? ESCAPE '\\')");
            search_values.extend([name, owner]);
        }
        (Some(name), None) => {
            search.push_str(" AND name LIKE ? ESCAPE '\\'");
            search_values.push(name);
        }
        (None, Some(owner)) => {
            search.push_str(" AND owner LIKE ? ESCAPE '\\'");
            search_values.push(owner);
        }
        (None, None) => {}
    }
    match &filter.visible_to {
        // Someone's own rooms come in name order from the index on (owner, name), and
        // SQLite merges them with the (few) rooms they co-own: the same list as
        // `id IN (owned UNION co-owned) ORDER BY name`, which sorted every time and cost
        // twice as much. `owner <> ?`: a room is listed once even if its owner were
        // among its co-owners (the store does not let that happen; the list need not
        // rely on it). Co-owned by name or through a group: a room is listed once even
        // when both, or through two groups.
        Some(me) => {
            let owned = format!("FROM rooms WHERE owner = ?{search}");
            let co_owned = format!(
                "FROM rooms WHERE rooms.owner <> ? AND rooms.id IN ({}){search}",
                crate::sql::co_owned_rooms("?")
            );
            let mut values = vec![me.clone()];
            values.extend(search_values.iter().cloned());
            values.extend([me.clone(), me.clone(), me.clone()]);
            values.extend(search_values);
            (
                format!("SELECT (SELECT COUNT(*) {owned}) + (SELECT COUNT(*) {co_owned})"),
                format!(
                    "SELECT {columns} {owned} UNION ALL SELECT {columns} {co_owned} \
                     ORDER BY name"
                ),
                values,
            )
        }
        None => (
            format!("SELECT COUNT(*) FROM rooms WHERE 1 = 1{search}"),
            format!("SELECT {columns} FROM rooms WHERE 1 = 1{search} ORDER BY name"),
            search_values,
        ),
    }
}

fn rooms_page(
    db: &Connection,
    filter: &crate::RoomFilter,
    page: crate::Page,
) -> rusqlite::Result<Paged<Room>> {
    let (count, select, values) = rooms_query(filter, ROOM_COLUMNS);
    // The page's rooms joined with their co-owners: a row per co-owner (one with none
    // for a room without). A subquery per room (`group_concat`) cost a third more, and
    // with `ORDER BY` inside, which opens a temporary B-tree each time, most of the
    // list's time (docs/PERFORMANCE.md).
    let sql = format!(
        "SELECT page.*, room_co_owners.username AS co_owner FROM ({select} LIMIT {} OFFSET {}) AS page \
         LEFT JOIN room_co_owners ON room_co_owners.room_id = page.id",
        page.limit_and_one(),
        page.offset()
    );
    let mut statement = db.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(&values))?;
    let mut found: Vec<(RoomRow, Vec<String>)> = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get("id")?;
        let co_owner: Option<String> = row.get("co_owner")?;
        match found.iter_mut().rev().find(|(room, _)| room.id == id) {
            Some((_, co_owners)) => co_owners.extend(co_owner),
            None => found.push((
                RoomRow {
                    id,
                    name: row.get("name")?,
                    owner: row.get("owner")?,
                    created_at: row.get("created_at")?,
                    last_activity_at: row.get("last_activity_at")?,
                },
                co_owner.into_iter().collect(),
            )),
        }
    }
    // Only the inner query orders: put back its order (names are unique) and each
    // room's co-owners in theirs. Rust's string order is SQLite's BINARY collation:
    // both compare bytes.
    found.sort_unstable_by(|a, b| a.0.name.cmp(&b.0.name));
    let ids: Vec<i64> = found.iter().map(|(room, _)| room.id).collect();
    let mut groups = co_owner_groups(db, &ids)?;
    let items: Vec<Room> = found
        .into_iter()
        .map(|(room, mut co_owners)| {
            co_owners.sort_unstable();
            let groups = groups.remove(&room.id).unwrap_or_default();
            room.with_co_owners(&co_owners, groups)
        })
        .collect();
    into_page(db, &count, &values, page, items)
}

/// The co-owning groups of each of the rooms, with their members, in name order (the
/// same as the sqlx side's `rooms_with_people`). Most rooms have none: one indexed
/// look-up for the page.
fn co_owner_groups(
    db: &Connection,
    room_ids: &[i64],
) -> rusqlite::Result<std::collections::HashMap<i64, Vec<roomkeeper_domain::CoOwnerGroup>>> {
    use roomkeeper_domain::{CoOwnerGroup, GroupMember, GroupName};
    let mut map: std::collections::HashMap<i64, Vec<CoOwnerGroup>> = Default::default();
    if room_ids.is_empty() {
        return Ok(map);
    }
    let marks = vec!["?"; room_ids.len()].join(", ");
    let sql = format!(
        "SELECT g.room_id, g.group_name, m.username, m.display_name \
         FROM room_co_owner_groups g LEFT JOIN group_members m ON m.group_name = g.group_name \
         WHERE g.room_id IN ({marks}) ORDER BY g.room_id, g.group_name, m.username"
    );
    let mut statement = db.prepare_cached(&sql)?;
    let mut rows = statement.query(params_from_iter(room_ids))?;
    while let Some(row) = rows.next()? {
        let room_id: i64 = row.get("room_id")?;
        let name = GroupName::from_stored(&row.get::<_, String>("group_name")?);
        let username: Option<String> = row.get("username")?;
        let groups = map.entry(room_id).or_default();
        if groups.last().is_none_or(|g| g.name != name) {
            groups.push(CoOwnerGroup {
                name,
                members: Vec::new(),
            });
        }
        if let (Some(group), Some(username)) = (groups.last_mut(), username) {
            group.members.push(GroupMember {
                username: Username::from_stored(&username),
                display_name: row.get("display_name")?,
            });
        }
    }
    Ok(map)
}

/// A page of the rooms `username` owns or co-owns, without their co-owners.
fn room_entries(
    db: &Connection,
    username: &str,
    page: crate::Page,
) -> rusqlite::Result<Paged<crate::RoomEntry>> {
    let mine = crate::RoomFilter {
        visible_to: Some(username.to_owned()),
        ..Default::default()
    };
    let (count, select, values) = rooms_query(&mine, "id, name, owner");
    counted_page(db, &count, &select, &values, page, |row| {
        Ok(crate::RoomEntry {
            id: row.get("id")?,
            name: RoomName::from_stored(&row.get::<_, String>("name")?),
            owner: Username::from_stored(&row.get::<_, String>("owner")?),
        })
    })
}

/// The requests `filter` picks: the statement counting them, the one selecting them in
/// the filter's order (without a limit), and the values both bind.
fn requests_query(filter: &crate::RequestFilter) -> (String, String, Vec<String>) {
    let mut conditions = String::from(" WHERE 1 = 1");
    let mut values: Vec<String> = Vec::new();
    if let Some(status) = filter.status {
        conditions.push_str(" AND status = ?");
        values.push(status.as_str().to_owned());
    }
    if let Some(requester) = &filter.requester {
        conditions.push_str(" AND requester = ?");
        values.push(requester.clone());
    }
    let order = if filter.newest_first { "DESC" } else { "ASC" };
    let count = format!("SELECT COUNT(*) FROM room_requests{conditions}");
    let select = format!(
        "SELECT {REQUEST_COLUMNS} FROM room_requests{conditions} \
         ORDER BY created_at {order}, id {order}"
    );
    (count, select, values)
}

fn request_row(row: &Row<'_>) -> rusqlite::Result<crate::RoomRequest> {
    Ok(RequestRow {
        id: row.get("id")?,
        room_name: row.get("room_name")?,
        requester: row.get("requester")?,
        reason: row.get("reason")?,
        co_owners: row.get("co_owners")?,
        status: row.get("status")?,
        decided_by: row.get("decided_by")?,
        decision_message: row.get("decision_message")?,
        auto_pattern: row.get("auto_pattern")?,
        created_at: row.get("created_at")?,
        decided_at: row.get("decided_at")?,
        room_id: row.get("room_id")?,
    }
    .into())
}

/// The newest `count` requests of `requester`, without counting the others.
fn latest_requests(
    db: &Connection,
    requester: &str,
    count: u32,
) -> rusqlite::Result<Vec<crate::RoomRequest>> {
    let (_, select, values) = requests_query(&crate::RequestFilter {
        requester: Some(requester.to_owned()),
        newest_first: true,
        ..Default::default()
    });
    db.prepare_cached(&format!("{select} LIMIT {count}"))?
        .query_map(params_from_iter(values), request_row)?
        .collect()
}

fn notices(db: &Connection, username: &str) -> rusqlite::Result<Vec<crate::Notice>> {
    db.prepare_cached(
        "SELECT id, username, kind, room_name, message, created_at FROM notices \
         WHERE username = ?1 AND read_at IS NULL ORDER BY id DESC",
    )?
    .query_map([username], |row| {
        Ok(crate::Notice {
            id: row.get("id")?,
            username: Username::from_stored(&row.get::<_, String>("username")?),
            kind: {
                let code: String = row.get("kind")?;
                NoticeKind::try_from(code).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        row.as_ref().column_index("kind").unwrap_or_default(),
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?
            },
            room_name: RoomName::from_stored(&row.get::<_, String>("room_name")?),
            message: row.get("message")?,
            created_at: row.get("created_at")?,
        })
    })?
    .collect()
}

#[async_trait::async_trait]
impl crate::RequestReads for SqliteStore {
    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        self.readers.read(|db| {
            db.prepare_cached(&format!(
                "SELECT sessions.created_at AS session_created_at, \
                 sessions.last_seen_at AS session_last_seen_at, {USER_COLUMNS} \
                 FROM sessions JOIN users ON users.id = sessions.user_id \
                 WHERE sessions.token_hash = ?1"
            ))?
            .query_row([token_hash], |row| {
                Ok(SessionRecord {
                    session_created_at: row.get("session_created_at")?,
                    session_last_seen_at: row.get("session_last_seen_at")?,
                    user: user_row(row)?,
                })
            })
            .optional()
        })
    }

    async fn token(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>> {
        self.readers.read(|db| {
            db.prepare_cached(&format!(
                "SELECT api_tokens.id AS token_id, api_tokens.name AS token_name, \
                 api_tokens.created_at AS token_created_at, \
                 api_tokens.last_used_at AS token_last_used_at, \
                 api_tokens.expires_at AS token_expires_at, {USER_COLUMNS} \
                 FROM api_tokens JOIN users ON users.id = api_tokens.user_id \
                 WHERE api_tokens.token_hash = ?1"
            ))?
            .query_row([token_hash], |row| {
                let user = user_row(row)?;
                let token = ApiToken {
                    id: row.get("token_id")?,
                    user_id: user.id,
                    name: row.get("token_name")?,
                    created_at: row.get("token_created_at")?,
                    last_used_at: row.get("token_last_used_at")?,
                    expires_at: row.get("token_expires_at")?,
                };
                Ok((token, user))
            })
            .optional()
        })
    }

    async fn list_rooms(
        &self,
        filter: &crate::RoomFilter,
        page: crate::Page,
    ) -> Result<Paged<Room>> {
        self.readers.read(|db| rooms_page(db, filter, page))
    }

    async fn list_requests(
        &self,
        filter: &crate::RequestFilter,
        page: crate::Page,
    ) -> Result<Paged<crate::RoomRequest>> {
        let (count, select, values) = requests_query(filter);
        self.readers
            .read(|db| counted_page(db, &count, &select, &values, page, request_row))
    }

    async fn notices_of(&self, username: &str) -> Result<Vec<crate::Notice>> {
        self.readers.read(|db| notices(db, username))
    }

    async fn overview(
        &self,
        username: &str,
        rooms: crate::Page,
        latest: u32,
    ) -> Result<crate::Overview> {
        self.readers.read(|db| {
            Ok(crate::Overview {
                rooms: room_entries(db, username, rooms)?,
                latest_requests: latest_requests(db, username, latest)?,
                notices: notices(db, username)?,
            })
        })
    }
}
