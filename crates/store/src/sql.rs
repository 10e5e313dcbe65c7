//! Pieces of SQL text and helpers the per-driver code in `queries/` shares; they do not
//! depend on the driver, so they are compiled once.

pub(crate) const USER_COLUMNS: &str = "users.id, users.username, users.display_name, \
    users.password_hash, users.is_admin, users.disabled, users.must_change_password, \
    users.language, users.email, users.created_at";

pub(crate) const ROOM_COLUMNS: &str = "id, name, owner, created_at, last_activity_at";
pub(crate) const REQUEST_COLUMNS: &str = "id, room_name, requester, reason, co_owners, status, \
    decided_by, decision_message, auto_pattern, created_at, decided_at, room_id";

/// The usernames of everyone with a right in the room whose id is the placeholder
/// `room` (`$4`, say): its owner, its co-owners, and the members of its co-owning groups
/// as last refreshed. Who is told of what happens in the room.
pub(crate) fn room_people(room: &str) -> String {
    format!(
        "SELECT owner AS username FROM rooms WHERE id = {room} \
         UNION SELECT username FROM room_co_owners WHERE room_id = {room} \
         UNION SELECT m.username FROM room_co_owner_groups g \
         JOIN group_members m ON m.group_name = g.group_name WHERE g.room_id = {room}"
    )
}

/// The ids of the rooms `who` (a placeholder) co-owns, by name or through a group.
pub(crate) fn co_owned_rooms(who: &str) -> String {
    format!(
        "SELECT room_id FROM room_co_owners WHERE username = {who} \
         UNION SELECT g.room_id FROM room_co_owner_groups g \
         JOIN group_members m ON m.group_name = g.group_name WHERE m.username = {who}"
    )
}

/// `%` and `_` in a search term are literal, not wildcards.
pub(crate) fn like_fragment(term: &str) -> String {
    let mut escaped = String::from("%");
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    escaped
}

pub(crate) const RECORDING_COLUMNS: &str = "r.id, r.session, r.source_file, r.room_id, \
    rooms.name AS room_name, r.meeting_room, r.meeting_url, r.started_at, r.duration_ms, \
    r.size_bytes, r.sha256, r.participants, r.state, r.created_at, rr.days AS retention_days";
pub(crate) const RECORDING_FROM: &str = "recordings r LEFT JOIN rooms ON rooms.id = r.room_id \
    LEFT JOIN recording_retention rr ON rr.room_id = r.room_id";
pub(crate) const SHARE_LINK_COLUMNS: &str =
    "id, recording_id, created_by, created_at, expires_at, revoked_at";

/// An UPDATE that touched no row means the row is not there.
pub(crate) fn found(rows_affected: u64) -> crate::Result<()> {
    if rows_affected == 0 {
        Err(crate::Error::NotFound)
    } else {
        Ok(())
    }
}
