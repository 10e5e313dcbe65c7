pub use roomkeeper_domain::{
    ApiToken, AuditEntry, IngestProblem, Notice, OidcLogin, Overview, Page, Paged, Recording,
    RecordingState, RequestStatus, Room, RoomEntry, RoomRequest, ShareLink, User,
};
use roomkeeper_domain::{RoomName, Username};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct IngestProblemRow {
    pub session: String,
    pub location: String,
    pub problem: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub spooled_on: Option<String>,
}

impl From<IngestProblemRow> for IngestProblem {
    fn from(row: IngestProblemRow) -> Self {
        IngestProblem {
            session: row.session,
            location: row.location,
            problem: row.problem,
            first_seen_at: row.first_seen_at,
            last_seen_at: row.last_seen_at,
            spooled_on: row.spooled_on,
        }
    }
}

/// Rows as the entities they are.
pub(crate) fn converted<R, T: From<R>>(rows: Vec<R>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}

/// A `users` row (`USER_COLUMNS`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub must_change_password: bool,
    pub language: Option<String>,
    pub email: Option<String>,
    pub created_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            username: Username::from_stored(&row.username),
            display_name: row.display_name,
            password_hash: row.password_hash,
            is_admin: row.is_admin,
            disabled: row.disabled,
            must_change_password: row.must_change_password,
            language: row.language,
            email: row.email,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub must_change_password: bool,
}

/// How many login attempts one key (`user:NAME`, `addr:IP`) saw in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginAttempts {
    pub attempts: i64,
    pub window_start: i64,
}

/// An OpenID login refused because its username belongs to an account that is not
/// this (issuer, subject)'s: waits for an administrator.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcCollision {
    pub issuer: String,
    pub subject: String,
    /// The `[[oidc]]` name it came through.
    pub provider: String,
    pub username: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub attempts: i64,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub session_created_at: i64,
    pub session_last_seen_at: i64,
    pub user: User,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct SessionRow {
    pub session_created_at: i64,
    pub session_last_seen_at: i64,
    #[sqlx(flatten)]
    pub user: UserRow,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            session_created_at: row.session_created_at,
            session_last_seen_at: row.session_last_seen_at,
            user: row.user.into(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl From<ApiTokenRow> for ApiToken {
    fn from(row: ApiTokenRow) -> Self {
        ApiToken {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
        }
    }
}

/// An API token row joined with its user, as one query returns it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct TokenWithUser {
    pub token_id: i64,
    pub token_name: String,
    pub token_created_at: i64,
    pub token_last_used_at: Option<i64>,
    pub token_expires_at: Option<i64>,
    #[sqlx(flatten)]
    pub user: UserRow,
}

impl TokenWithUser {
    pub(crate) fn split(self) -> (ApiToken, User) {
        (
            ApiToken {
                id: self.token_id,
                user_id: self.user.id,
                name: self.token_name,
                created_at: self.token_created_at,
                last_used_at: self.token_last_used_at,
                expires_at: self.token_expires_at,
            },
            self.user.into(),
        )
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RoomRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub created_at: i64,
    pub last_activity_at: i64,
}

impl RoomRow {
    pub(crate) fn with_co_owners(
        self,
        co_owners: &[String],
        co_owner_groups: Vec<roomkeeper_domain::CoOwnerGroup>,
    ) -> Room {
        Room {
            id: self.id,
            name: RoomName::from_stored(&self.name),
            owner: Username::from_stored(&self.owner),
            co_owners: co_owners.iter().map(|c| Username::from_stored(c)).collect(),
            co_owner_groups,
            created_at: self.created_at,
            last_activity_at: self.last_activity_at,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RequestRow {
    pub id: i64,
    pub room_name: String,
    pub requester: String,
    pub reason: String,
    pub co_owners: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decision_message: Option<String>,
    pub auto_pattern: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub room_id: Option<i64>,
}

impl From<RequestRow> for RoomRequest {
    fn from(row: RequestRow) -> Self {
        RoomRequest {
            id: row.id,
            room_name: RoomName::from_stored(&row.room_name),
            requester: Username::from_stored(&row.requester),
            reason: row.reason,
            co_owners: split_lines(&row.co_owners)
                .iter()
                .map(|c| Username::from_stored(c))
                .collect(),
            // The CHECK constraint allows only the four statuses.
            status: RequestStatus::parse(&row.status).unwrap_or(RequestStatus::Pending),
            decided_by: row.decided_by,
            decision_message: row.decision_message,
            auto_pattern: row.auto_pattern,
            created_at: row.created_at,
            decided_at: row.decided_at,
            room_id: row.room_id,
        }
    }
}

pub(crate) fn split_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A request as the requester made it; names already canonical.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub room_name: String,
    pub requester: String,
    pub reason: String,
    pub co_owners: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Verdict {
    /// Approve; with a pattern, also whitelist it for the requester.
    Approve {
        pattern: Option<String>,
    },
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct UserPattern {
    pub id: i64,
    pub username: String,
    pub pattern: String,
    pub created_by: String,
    pub created_at: i64,
}

/// One row of a page of rooms' people (`rooms_with_people`): a co-owner named one by
/// one (`kind` "c", `name`), or a co-owning group (`kind` "g", `name`) with one of its
/// members (none for a group nobody is known in).
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PersonRow {
    pub room_id: i64,
    pub kind: String,
    pub name: String,
    pub member: Option<String>,
    pub display_name: Option<String>,
}

/// A pattern given to a group: its members' requests for matching rooms approve
/// themselves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct GroupPattern {
    pub id: i64,
    /// As `roomkeeper_domain::GroupName` writes it.
    pub group_name: String,
    pub pattern: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: Option<String>,
    pub address: Option<String>,
    #[sqlx(try_from = "String")]
    pub action: roomkeeper_domain::AuditAction,
    pub room_name: Option<String>,
    pub subject: Option<String>,
    pub detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            at: row.at,
            actor: row.actor.as_deref().map(Username::from_stored),
            address: row.address,
            action: row.action,
            room_name: row.room_name.as_deref().map(RoomName::from_stored),
            subject: row.subject,
            detail: row.detail,
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct NoticeRow {
    pub id: i64,
    pub username: String,
    #[sqlx(try_from = "String")]
    pub kind: roomkeeper_domain::NoticeKind,
    pub room_name: String,
    pub message: String,
    pub created_at: i64,
}

impl From<NoticeRow> for Notice {
    fn from(row: NoticeRow) -> Self {
        Notice {
            id: row.id,
            username: Username::from_stored(&row.username),
            kind: row.kind,
            room_name: RoomName::from_stored(&row.room_name),
            message: row.message,
            created_at: row.created_at,
        }
    }
}

/// Someone who is moderator in a room's meeting on Roomkeeper's word.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct MeetingModerator {
    pub participant: String,
    /// The occupant's connection (full real JID) the trust belongs to: only the occupant
    /// with this nick *and* this connection is meant.
    pub occupant: String,
    /// The owner who joined with a code, or who made this participant moderator.
    pub username: String,
    /// This participant is that owner (joined with their code).
    pub joined_with_code: bool,
    pub since: i64,
}

/// What asking for a room's guard lease gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardClaim {
    /// This holder had it and has it for longer now.
    Renewed,
    /// This holder has it now and did not before (nobody had it, or another holder's
    /// lease had ended, or was released): events may have gone unjudged meanwhile.
    Won,
    /// Another holder has it until then.
    HeldUntil(i64),
}

impl GuardClaim {
    pub fn granted(self) -> bool {
        !matches!(self, Self::HeldUntil(_))
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct GuardRow {
    pub password_guard: bool,
    pub moderator_guard: String,
    pub in_use_alert_minutes: Option<i64>,
    pub lobby: String,
}

impl GuardRow {
    pub(crate) fn settings(&self) -> roomkeeper_domain::GuardSettings {
        roomkeeper_domain::GuardSettings {
            password_guard: self.password_guard,
            // The table's CHECK allows only the known names.
            moderator_guard: roomkeeper_domain::ModeratorGuard::parse(&self.moderator_guard)
                .unwrap_or_default(),
            in_use_alert_minutes: self
                .in_use_alert_minutes
                .and_then(|m| u32::try_from(m).ok()),
            // The table's CHECK allows only the known names.
            lobby: roomkeeper_domain::LobbyMode::parse(&self.lobby).unwrap_or_default(),
        }
    }
}

/// What the owners of a room are told once per meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerAlert {
    /// The meeting has run this many minutes without them.
    InUse { minutes: u32 },
    /// Someone knocks at the lobby (the name they typed) and none of them is in.
    Knocking { name: String },
}

impl OwnerAlert {
    /// The room_guards column that says they were told, in this meeting (a fixed
    /// name, never input).
    pub(crate) fn told_column(&self) -> &'static str {
        match self {
            Self::InUse { .. } => "in_use_alerted_at",
            Self::Knocking { .. } => "knock_alerted_at",
        }
    }

    pub(crate) fn notice(&self) -> (roomkeeper_domain::NoticeKind, String) {
        match self {
            Self::InUse { minutes } => (roomkeeper_domain::NoticeKind::InUse, minutes.to_string()),
            Self::Knocking { name } => (roomkeeper_domain::NoticeKind::Knocking, name.clone()),
        }
    }

    pub(crate) fn history(&self) -> (roomkeeper_domain::AuditAction, serde_json::Value) {
        match self {
            Self::InUse { minutes } => (
                roomkeeper_domain::AuditAction::InUseAlert,
                serde_json::json!({ "minutes": minutes }),
            ),
            Self::Knocking { name } => (
                roomkeeper_domain::AuditAction::KnockAlert,
                serde_json::json!({ "participant_name": name }),
            ),
        }
    }
}

/// Who makes a change, from where, and when: written to the audit log in the same
/// transaction as the change itself.
#[derive(Debug, Clone, Copy)]
pub struct Audit<'a> {
    pub actor: Option<&'a str>,
    pub address: Option<&'a str>,
    pub now: i64,
}

/// What a moderator change made through Roomkeeper means for the guard's trust in the
/// participant ([`crate::GuardStore::record_moderator_change`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeratorTrust<'a> {
    /// `username` (an owner, co-owner or admin) made them moderator, on the connection
    /// `occupant`: the guard leaves them be. Someone else under the same nick (another
    /// connection) replaces an older entry; the same occupant keeps theirs.
    Trusted {
        occupant: &'a str,
        username: &'a str,
    },
    /// Their rights were taken: no longer trusted.
    Forgotten,
    /// Nothing to record (they left before the answer came).
    Unchanged,
}

#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub status: Option<RequestStatus>,
    /// Only this user's requests (everyone but admins).
    pub requester: Option<String>,
    /// The queue is oldest first; a requester's own list newest first.
    pub newest_first: bool,
}

#[derive(Debug, Clone, Default)]
pub struct RoomFilter {
    /// Only rooms this user owns or co-owns (everyone but admins).
    pub visible_to: Option<String>,
    /// Rooms whose canonical name contains this, or whose owner contains
    /// `search_owner` (either matches when both are given).
    pub search_name: Option<String>,
    pub search_owner: Option<String>,
}

/// An email to send, composed by the caller (who knows the recipient's language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// An email the outbox job holds while sending it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEmail {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Including the one under way.
    pub attempts: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxStatus {
    /// Not sent yet and still to be tried.
    pub waiting: i64,
    /// Of those, how many failed at least once.
    pub retrying: i64,
    /// Given up after too many attempts.
    pub given_up: i64,
    /// The most recent error of a message not sent.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RecordingRow {
    pub id: String,
    pub session: String,
    pub source_file: String,
    pub room_id: Option<i64>,
    pub room_name: Option<String>,
    pub meeting_room: Option<String>,
    pub meeting_url: String,
    pub started_at: i64,
    pub duration_ms: Option<i64>,
    pub size_bytes: i64,
    pub sha256: String,
    pub participants: String,
    pub state: String,
    pub created_at: i64,
    pub retention_days: Option<i64>,
}

impl From<RecordingRow> for Recording {
    fn from(row: RecordingRow) -> Self {
        Self {
            id: row.id,
            session: row.session,
            source_file: row.source_file,
            room_id: row.room_id,
            room_name: row.room_name.as_deref().map(RoomName::from_stored),
            meeting_room: row.meeting_room.as_deref().map(RoomName::from_stored),
            meeting_url: row.meeting_url,
            started_at: row.started_at,
            duration_ms: row.duration_ms,
            size_bytes: row.size_bytes,
            sha256: row.sha256,
            participants: row
                .participants
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            state: RecordingState::from_stored(&row.state),
            created_at: row.created_at,
            retention_days: row.retention_days,
        }
    }
}

/// What ingest knows of a recording before storing its file.
#[derive(Debug, Clone)]
pub struct NewRecording {
    pub id: String,
    pub session: String,
    pub source_file: String,
    pub meeting_room: Option<String>,
    pub meeting_url: String,
    pub started_at: i64,
    pub duration_ms: Option<i64>,
    pub size_bytes: i64,
    pub sha256: String,
    pub participants: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ShareLinkRow {
    pub id: i64,
    pub recording_id: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl From<ShareLinkRow> for ShareLink {
    fn from(row: ShareLinkRow) -> Self {
        ShareLink {
            id: row.id,
            recording_id: row.recording_id,
            created_by: Username::from_stored(&row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A session in a Jibri machine's spool that its uploader could not deliver yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledSession {
    pub session: String,
    /// Where it lies on the Jibri machine.
    pub location: String,
    /// Why the last attempt failed, with how many there were.
    pub problem: String,
    /// When Jibri finished it.
    pub since: i64,
}

/// What becomes of the rooms of an account being disabled
/// ([`crate::AccountStore::disable_user`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOver<'a> {
    /// They stay its rooms (the caller made sure there are none).
    Keep,
    TransferTo(&'a str),
    Release,
}
