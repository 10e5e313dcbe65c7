//! Roomkeeper's storage. Everything else talks to the [`Store`] trait; [`connect`]
//! picks SQLite or PostgreSQL from the URL scheme. Both backends run the very same SQL
//! (see `sql.rs`); only the migrations differ, one directory per backend.

mod error;
mod models;
mod postgres;
mod postgres_reads;
mod queries;
mod sql;
mod sqlite;
mod sqlite_reads;
mod statement;
pub mod transfer;

use std::sync::Arc;

use async_trait::async_trait;
use roomkeeper_domain::{AuditAction, GroupMember, GroupName, GuardSettings, Username};

pub use error::Conflict;
pub use error::{Error, Result};
pub use models::{
    ApiToken, Audit, AuditEntry, GroupPattern, GuardClaim, HandOver, IngestProblem, LoginAttempts,
    MeetingModerator, ModeratorTrust, NewEmail, NewRecording, NewRequest, NewUser, Notice,
    OidcCollision, OidcLogin, OutboxEmail, OutboxStatus, Overview, OwnerAlert, Page, Paged,
    Recording, RecordingState, RequestFilter, RequestStatus, Room, RoomEntry, RoomFilter,
    RoomRequest, SessionRecord, ShareLink, SpooledSession, User, UserPattern, Verdict,
};
pub use postgres::PgStore;
pub use sqlite::{SqliteStore, restore as restore_sqlite, sqlite_file};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created when missing) or `postgres://USER:PASS@HOST/DB`.
    pub url: String,
    /// Read the URL from this file instead (it usually holds a password).
    pub url_file: Option<std::path::PathBuf>,
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/roomkeeper.db".into(),
            url_file: None,
            max_connections: 10,
        }
    }
}

/// Opens the database named by `config.url`. Does not migrate: call [`Store::migrate`].
pub async fn connect(config: &DatabaseConfig) -> Result<Arc<dyn Store>> {
    let url = config.url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            PgStore::connect(url, config.max_connections).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(
            SqliteStore::connect(url, config.max_connections).await?,
        ))
    } else {
        Err(Error::Config(format!(
            "database.url must start with sqlite:// or postgres:// (got {:?})",
            redact_url(url)
        )))
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The whole storage interface. Its parts are split by capability; import the part
/// traits (`AccountStore`, `RoomStore`) to call their methods on a `dyn Store`.
#[async_trait]
pub trait Store:
    AccountStore
    + SsoStore
    + RoomStore
    + GuardStore
    + GroupStore
    + MailStore
    + RecordingStore
    + RequestReads
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;
    /// Applies every migration not yet applied. Safe to run from several instances.
    async fn migrate(&self) -> Result<()>;
    /// One round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// A consistent copy of the whole database in a new file, taken while the service
    /// runs (SQLite's `VACUUM INTO`: one read transaction, so every acknowledged change
    /// up to that moment and nothing half-done). PostgreSQL is backed up with `pg_dump`.
    async fn back_up_to(&self, file: &std::path::Path) -> Result<()>;
}

/// Whose group says what, for the groups that co-own rooms (course rooms): what the
/// directory or a provider said last about who is in them.
#[async_trait]
pub trait GroupStore: Send + Sync {
    /// The directory groups some room names or a pattern is given to, for the
    /// directory's regular refresh and the sign-in's question.
    async fn named_directory_groups(&self) -> Result<Vec<GroupName>>;
    /// Everything the directory says is in `group` now (its whole answer): whoever is no
    /// longer in it loses what the group gave at once.
    async fn replace_group_members(
        &self,
        group: &GroupName,
        members: &[GroupMember],
        now: i64,
    ) -> Result<()>;
    /// Gives `group` a pattern (`PatternExists` if it has it), with its history entry.
    async fn add_group_pattern(
        &self,
        group: &GroupName,
        pattern: &str,
        audit: &Audit<'_>,
    ) -> Result<GroupPattern>;
    /// Returns whether there was such a pattern.
    async fn delete_group_pattern(&self, id: i64, audit: &Audit<'_>) -> Result<bool>;
    async fn group_patterns(&self) -> Result<Vec<GroupPattern>>;
    /// The patterns of the groups `username` is in, as last known.
    async fn group_patterns_of(&self, username: &str) -> Result<Vec<GroupPattern>>;
    /// What a sign-in said about the groups of `member` among those `asked` covers:
    /// they are in exactly `member_of` of them.
    async fn set_memberships(
        &self,
        member: &GroupMember,
        asked: MembershipsAsked<'_>,
        member_of: &[GroupName],
        now: i64,
    ) -> Result<()>;
}

/// Which groups a sign-in's answer covers.
#[derive(Debug, Clone, Copy)]
pub enum MembershipsAsked<'a> {
    /// Every group of this provider: its groups claim lists them all.
    Provider(&'a str),
    /// These groups (the directory groups rooms name, asked about at a sign-in).
    Groups(&'a [GroupName]),
}

/// Single sign-on: who a provider's (issuer, subject) is here, logins on their way through
/// a provider, and what a username change at the provider renames.
#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Also drops logins started before `expired_before`.
    async fn create_oidc_login(&self, login: &OidcLogin, expired_before: i64) -> Result<()>;
    /// Removes and returns the login with this state: each can be finished once.
    async fn take_oidc_login(&self, state_hash: &str) -> Result<Option<OidcLogin>>;
    async fn user_by_oidc(&self, issuer: &str, subject: &str) -> Result<Option<User>>;
    /// Links (issuer, subject) to an account by an administrator's decision.
    async fn link_oidc(&self, issuer: &str, subject: &str, user_id: i64, now: i64) -> Result<()>;
    /// Links (issuer, subject) to the account only if no identity is linked to it yet,
    /// atomically (the account row is locked first): `false` when one was. What a login
    /// does on its own, so an account linked to one subject never gains another.
    async fn link_oidc_if_unlinked(
        &self,
        issuer: &str,
        subject: &str,
        user_id: i64,
        now: i64,
    ) -> Result<bool>;
    /// Remembers a refused login (or counts one more try of it).
    async fn note_oidc_collision(&self, collision: &OidcCollision) -> Result<()>;
    /// Refused logins waiting for an administrator, newest first.
    async fn oidc_collisions(&self) -> Result<Vec<OidcCollision>>;
    /// Removes the waiting entry; with `link_to`, links the identity to that account; and
    /// writes the history entry (`sign_in_linked` or `sign_in_dismissed`), all in one
    /// transaction. `NotFound` when nothing waits for (issuer, subject) asking for
    /// `username` (a later refused login may have changed what it asks for).
    async fn resolve_oidc_collision(
        &self,
        issuer: &str,
        subject: &str,
        username: &str,
        link_to: Option<i64>,
        audit: &Audit<'_>,
    ) -> Result<OidcCollision>;
    /// Renames the account and, in the same transaction, every place its username grants
    /// something (ownership, co-ownership, patterns, requests, notices). The audit log
    /// keeps the names as they were. Conflict when another account has the name.
    async fn rename_user(&self, user_id: i64, new: &Username) -> Result<()>;
    async fn set_display_name(&self, user_id: i64, name: Option<&str>) -> Result<()>;
    /// Remembers which provider a session came from, for logging out there too.
    async fn set_session_provider(
        &self,
        token_hash: &str,
        provider: &str,
        id_token: &str,
    ) -> Result<()>;
    /// The provider and ID token of a session that came through a provider.
    async fn session_provider(&self, token_hash: &str) -> Result<Option<(String, String)>>;
    /// An account for someone the directory vouched for, the directory's from the start
    /// (one transaction). Conflict when the name is taken.
    async fn create_directory_user(&self, new: &NewUser, now: i64) -> Result<User>;
    /// Whether the directory may log in to this account (it made it, or an
    /// administrator linked it).
    async fn is_directory_account(&self, user_id: i64) -> Result<bool>;
    /// An administrator lets the directory log in to this account: `false` when it
    /// could already.
    async fn link_directory(&self, user_id: i64, now: i64) -> Result<bool>;
}

/// The reads behind almost every request: who holds this session or API token, and the
/// rooms a person sees. A part of their own because SQLite answers them another way
/// than everything else: through rusqlite, in the asking task (`sqlite_reads.rs` says
/// why); PostgreSQL through sqlx (`postgres_reads.rs`).
#[async_trait]
pub trait RequestReads: Send + Sync {
    /// The session with this cookie hash and its account (ended or not: callers judge).
    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    /// The API token with this hash and its account (expired or not: callers judge).
    async fn token(&self, token_hash: &str) -> Result<Option<(ApiToken, User)>>;
    /// Rooms by name, with their co-owners, and how many match in all.
    async fn list_rooms(&self, filter: &RoomFilter, page: Page) -> Result<Paged<Room>>;
    /// Requests in the order the filter asks for, and how many match in all.
    async fn list_requests(&self, filter: &RequestFilter, page: Page)
    -> Result<Paged<RoomRequest>>;
    /// Unread notices of a user, newest first.
    async fn notices_of(&self, username: &str) -> Result<Vec<Notice>>;
    /// What `username`'s home page shows: a page of the rooms they own or co-own, their
    /// `latest_requests` newest requests, their unread notices. On SQLite in one read
    /// transaction (each costs file locks); PostgreSQL asks one after the other.
    async fn overview(&self, username: &str, rooms: Page, latest_requests: u32)
    -> Result<Overview>;
}

/// Accounts, sessions, API tokens, login throttling.
#[async_trait]
pub trait AccountStore: Send + Sync {
    // Accounts
    async fn create_user(&self, new: &NewUser, now: i64) -> Result<User>;
    async fn user_by_id(&self, id: i64) -> Result<Option<User>>;
    async fn user_by_name(&self, name: &Username) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    /// One page of accounts by username, optionally those whose username or name
    /// contains `search`.
    async fn users_page(&self, search: Option<&str>, page: Page) -> Result<Paged<User>>;
    async fn count_active_admins(&self) -> Result<i64>;
    /// Sets the password and, in the same transaction, ends every session of the user
    /// (whoever knew the old password is out); with `revoke_tokens` also deletes their
    /// API tokens. Answers how many tokens went.
    async fn set_password_hash(
        &self,
        user_id: i64,
        hash: &str,
        must_change: bool,
        revoke_tokens: bool,
    ) -> Result<u64>;
    async fn set_admin(&self, user_id: i64, is_admin: bool) -> Result<()>;
    /// Disabling also ends the user's sessions and revokes their API tokens, in the same
    /// transaction.
    async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<()>;
    /// Disables the account as [`AccountStore::set_disabled`] does and, in the same
    /// transaction, hands over the rooms it owns then, each with its history entry:
    /// an interrupted disable leaves neither rooms moved nor an account still able to
    /// log in. Answers the rooms as they were before.
    async fn disable_user(
        &self,
        user_id: i64,
        rooms: HandOver<'_>,
        audit: &Audit<'_>,
    ) -> Result<Vec<Room>>;
    async fn set_language(&self, user_id: i64, language: Option<&str>) -> Result<()>;
    async fn set_email(&self, user_id: i64, email: Option<&str>) -> Result<()>;
    /// Active administrators with an email address: who hears of new requests.
    async fn admin_recipients(&self) -> Result<Vec<User>>;

    // Sessions (keyed by the hash of the cookie value)
    async fn create_session(&self, token_hash: &str, user_id: i64, now: i64) -> Result<()>;
    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Removes sessions last seen before `idle_before` or created before `created_before`.
    async fn delete_expired_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64>;

    // Personal API tokens (keyed by the hash of the token)
    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        now: i64,
        expires_at: Option<i64>,
    ) -> Result<ApiToken>;
    async fn tokens_of(&self, user_id: i64) -> Result<Vec<ApiToken>>;
    /// Returns whether a token of that user with that id existed.
    async fn delete_token(&self, user_id: i64, token_id: i64) -> Result<bool>;
    async fn touch_token(&self, token_id: i64, now: i64) -> Result<()>;

    // Login throttling
    /// Counts one attempt against each key, atomically and in one transaction, and returns
    /// each key's count in its current window. A window starts at the first attempt after
    /// the previous one ended (`window_s` long).
    async fn count_login_attempt(
        &self,
        keys: &[&str],
        window_s: i64,
        now: i64,
    ) -> Result<Vec<LoginAttempts>>;
    /// Takes one attempt back (a login that turned out right, or was never checked).
    async fn forgive_login_attempt(&self, key: &str) -> Result<()>;
    async fn clear_login_attempts(&self, key: &str) -> Result<()>;
    /// Drops windows that started before `before` (callers pass now minus the window).
    async fn prune_login_attempts(&self, before: i64) -> Result<u64>;
}

/// Rooms, room requests, patterns, the audit log and in-app notices. Every change is
/// audited in the same transaction.
#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Files a request. With `auto_pattern` (a pattern of the requester that matches)
    /// the room is registered at once and the request comes back approved. A room that
    /// is registered, or pending for anyone, is a conflict ([`Conflict::RoomTaken`]).
    async fn create_request(
        &self,
        new: &NewRequest,
        auto_pattern: Option<&str>,
        audit: &Audit<'_>,
        emails: &[NewEmail],
    ) -> Result<RoomRequest>;
    async fn request(&self, id: i64) -> Result<Option<RoomRequest>>;
    async fn pending_request_for(&self, room_name: &str) -> Result<Option<RoomRequest>>;
    /// The approved request that made this registration, if it came from one.
    async fn request_of_room(&self, room_id: i64) -> Result<Option<RoomRequest>>;
    async fn count_pending_requests(&self) -> Result<i64>;
    /// Only a pending request can be withdrawn ([`Conflict::AlreadyDecided`] otherwise).
    async fn withdraw_request(&self, id: i64, audit: &Audit<'_>) -> Result<RoomRequest>;
    /// Approves (registering the room, optionally whitelisting a pattern) or rejects a
    /// pending request, and leaves the requester a notice. `emails` are queued in the
    /// same transaction (also for `create_request`).
    async fn decide_request(
        &self,
        id: i64,
        verdict: &Verdict,
        message: Option<&str>,
        audit: &Audit<'_>,
        emails: &[NewEmail],
    ) -> Result<RoomRequest>;

    async fn room(&self, id: i64) -> Result<Option<Room>>;
    async fn room_by_name(&self, name: &str) -> Result<Option<Room>>;
    /// Every room as (id, canonical name, owner): for matching patterns against.
    async fn room_names(&self) -> Result<Vec<(i64, String, String)>>;
    /// (owner, canonical name) of every room that one of `owners` owns, or whose name
    /// is one of `names`: what a page of the request queue needs, in one query.
    async fn rooms_owned_or_named(
        &self,
        owners: &[String],
        names: &[String],
    ) -> Result<Vec<(String, String)>>;
    /// Replaces the co-owners named one by one, and with `groups` the co-owning groups
    /// too (`None` keeps them), in one transaction with a history entry for each list
    /// that changed (`co_owners`, `co_owner_groups`).
    async fn set_co_owners(
        &self,
        room_id: i64,
        usernames: &[String],
        groups: Option<&[GroupName]>,
        audit: &Audit<'_>,
    ) -> Result<Room>;
    async fn transfer_room(&self, room_id: i64, new_owner: &str, audit: &Audit<'_>)
    -> Result<Room>;
    async fn release_room(&self, room_id: i64, audit: &Audit<'_>) -> Result<()>;

    async fn add_pattern(
        &self,
        username: &str,
        pattern: &str,
        audit: &Audit<'_>,
    ) -> Result<UserPattern>;
    /// Returns whether that user had a pattern with that id.
    async fn delete_pattern(&self, username: &str, id: i64, audit: &Audit<'_>) -> Result<bool>;
    async fn patterns_of(&self, username: &str) -> Result<Vec<UserPattern>>;
    async fn all_patterns(&self) -> Result<Vec<UserPattern>>;

    /// An audit entry for a change made outside the database (a meeting action).
    async fn record_audit(
        &self,
        audit: &Audit<'_>,
        action: AuditAction,
        room_name: Option<&str>,
        subject: Option<&str>,
        detail: &str,
    ) -> Result<()>;

    /// Newest first; one room's history (from `since` on: a registration's start, since
    /// the entries of an earlier holder of the same name are not its owners' business),
    /// or everything.
    async fn audit_log_since(
        &self,
        room_name: Option<&str>,
        since: Option<i64>,
        page: Page,
    ) -> Result<Paged<AuditEntry>>;

    async fn dismiss_notice(&self, username: &str, id: i64, now: i64) -> Result<bool>;
}

/// The email outbox. Several instances may run the sending job: a claimed message is
/// leased to one of them until `lease_until`.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Leases up to `limit` messages that are due, counting an attempt for each.
    async fn claim_emails(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEmail>>;
    async fn email_sent(&self, id: i64, now: i64) -> Result<()>;
    /// A failed attempt: try again at `retry_at`, or give up when it is `None`.
    async fn email_failed(&self, id: i64, error: &str, retry_at: Option<i64>) -> Result<()>;
    /// How the outbox stands, for operators.
    async fn outbox_status(&self) -> Result<OutboxStatus>;
}

/// Recordings and what hangs off them. A recording is written in two steps around
/// storing its file (`begin_recording`, then `finish_recording`), and deleted in two
/// around removing it (`start_deleting_recording`, then `forget_recording`), so a crash
/// between the steps leaves a row that says what to finish, never a visible recording
/// without its file.
#[async_trait]
pub trait RecordingStore: Send + Sync {
    /// Writes the row of a recording about to be stored (not shown to anyone yet), or
    /// returns the row an earlier ingest of the same session file wrote. The room is the
    /// room named `meeting_room` if it was registered by `started_at` (registered later,
    /// it was someone else's or nobody's then: the recording waits for an admin).
    async fn begin_recording(&self, new: &NewRecording, now: i64) -> Result<Recording>;
    /// Shows the recording, and the first time only leaves its room's owner and
    /// co-owners a notice and queues `emails`. Returns whether this call did it.
    async fn finish_recording(
        &self,
        id: &str,
        now: i64,
        emails: &[NewEmail],
    ) -> Result<(Recording, bool)>;
    /// In any state: callers show only `Ready` ones.
    async fn recording(&self, id: &str) -> Result<Option<Recording>>;
    /// A room's ready recordings, newest first.
    async fn recordings_of_room(&self, room_id: i64) -> Result<Vec<Recording>>;
    /// The ready recordings a Jibri session gave, by file name.
    async fn ready_recordings_of_session(&self, session: &str) -> Result<Vec<Recording>>;
    /// Ready recordings of no registered room, newest first.
    async fn unassigned_recordings(&self) -> Result<Vec<Recording>>;
    /// Rows left 'storing' or 'deleting' (by a crash): what recovery finishes.
    async fn unfinished_recordings(&self) -> Result<Vec<Recording>>;
    async fn assign_recording(
        &self,
        id: &str,
        room_id: i64,
        audit: &Audit<'_>,
    ) -> Result<Recording>;
    /// Hides a ready recording and audits why; `None` when there was none to delete.
    async fn start_deleting_recording(
        &self,
        id: &str,
        audit: &Audit<'_>,
        why: &str,
    ) -> Result<Option<Recording>>;
    async fn forget_recording(&self, id: &str) -> Result<()>;
    /// Ready recordings past their room's retention (or `default_days`), oldest first.
    async fn expired_recordings(
        &self,
        now: i64,
        default_days: i64,
        limit: i64,
    ) -> Result<Vec<Recording>>;
    /// A room's retention in days, or the default again with `None`.
    async fn set_retention(&self, room_id: i64, days: Option<i64>, audit: &Audit<'_>)
    -> Result<()>;
    /// A room's retention override in days, if any.
    async fn retention_of(&self, room_id: i64) -> Result<Option<i64>>;
    /// True for exactly one caller per `job` and `day`, however many instances ask. A
    /// "day" is any numbered period (the directory's group refresh numbers its own).
    async fn claim_daily_job(&self, job: &str, day: i64) -> Result<bool>;
    /// Takes or renews `job`'s lease for `holder` until `until`: true when `holder` has
    /// it now (it held it, or the other holder's lease ran out by `now`).
    async fn claim_job_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> Result<bool>;

    /// The creator is `audit.actor`.
    async fn create_share_link(
        &self,
        recording_id: &str,
        token_hash: &str,
        expires_at: i64,
        audit: &Audit<'_>,
    ) -> Result<ShareLink>;
    async fn share_links_of(&self, recording_id: &str) -> Result<Vec<ShareLink>>;
    /// Links of all the room's recordings that are neither revoked nor expired at `now`,
    /// newest first: what its owners may want to take back.
    async fn live_share_links_of_room(&self, room_id: i64, now: i64) -> Result<Vec<ShareLink>>;
    async fn revoke_share_link(
        &self,
        recording_id: &str,
        link_id: i64,
        audit: &Audit<'_>,
    ) -> Result<bool>;
    async fn share_link(&self, token_hash: &str) -> Result<Option<ShareLink>>;

    /// Remembers (or refreshes) why a session directory could not be ingested.
    async fn record_ingest_problem(
        &self,
        session: &str,
        location: &str,
        problem: &str,
        now: i64,
    ) -> Result<()>;
    async fn clear_ingest_problem(&self, session: &str) -> Result<()>;
    async fn ingest_problems(&self) -> Result<Vec<IngestProblem>>;
    /// What Jibri machine `host`'s spool still holds, as its uploader reported it: these
    /// become its problems (spooled on `host`), and its earlier ones not among them go.
    async fn report_spool(&self, host: &str, waiting: &[SpooledSession], now: i64) -> Result<()>;
}

/// The room guard: its settings, join codes, and who is moderator on Roomkeeper's word
/// in a room's running meeting.
#[async_trait]
pub trait GuardStore: Send + Sync {
    /// The room's guard (the default, guarding nothing, when none was set).
    async fn guard(&self, room_id: i64) -> Result<GuardSettings>;
    /// Every room whose guard is not off, with its settings.
    async fn guarded_rooms(&self) -> Result<Vec<(Room, GuardSettings)>>;
    /// Stores the settings with their audit entry (`guard_changed`) in one transaction.
    async fn set_guard(
        &self,
        room: &Room,
        settings: &GuardSettings,
        audit: &Audit<'_>,
    ) -> Result<()>;
    /// A new join code for `username` in the room (stored as its hash). Also drops codes
    /// that expired before `now`.
    async fn create_join_code(
        &self,
        code_hash: &str,
        room_id: i64,
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// Whose the code is, if it would give something in the room now (unused, not
    /// expired, made for this room), without using it: someone knocking at the lobby
    /// with it is let in, and uses it once in the meeting.
    async fn join_code_owner(
        &self,
        code_hash: &str,
        room_id: i64,
        now: i64,
    ) -> Result<Option<String>>;
    /// Uses the code for `participant` in the room's meeting: once, before it expires,
    /// only in the room it was made for. In one transaction: marks it used, records the
    /// participant as that owner (`meeting_moderators`) and writes `join_as_moderator`.
    /// Answers the owner's username, or `None` for a code that gives nothing.
    async fn use_join_code(
        &self,
        code_hash: &str,
        room: &Room,
        participant: &str,
        occupant: &str,
        audit: &Audit<'_>,
    ) -> Result<Option<String>>;
    /// A moderator change made through Roomkeeper (`action`: grant or revoke, `detail`
    /// its history detail) and what it means for the guard's trust in `participant`, in
    /// one transaction: the history never shows a change whose trust was not recorded.
    async fn record_moderator_change(
        &self,
        audit: &Audit<'_>,
        room: &Room,
        action: AuditAction,
        detail: &str,
        participant: &str,
        trust: ModeratorTrust<'_>,
    ) -> Result<()>;
    async fn remove_meeting_moderator(&self, room_id: i64, participant: &str) -> Result<()>;
    async fn meeting_moderators(&self, room_id: i64) -> Result<Vec<MeetingModerator>>;
    /// The meeting is over, in one transaction: the moderators on Roomkeeper's word are
    /// forgotten (participant ids are not reused across meetings), its password was
    /// nobody's, and the next meeting may be alerted about again.
    async fn meeting_ended(&self, room_id: i64) -> Result<()>;
    /// Whether the password the room's meeting has now was set by an owner.
    async fn owner_password(&self, room_id: i64) -> Result<bool>;
    /// Records whether it was (a no-op for a room without a guard row: unguarded rooms
    /// keep every password anyway).
    async fn set_owner_password(&self, room_id: i64, owner: bool) -> Result<()>;
    /// The owners are told `alert`, once per meeting: in one transaction marks the room
    /// as told of it, leaves a notice for the owner and co-owners, queues `emails` and
    /// writes its history entry. `false`: they were told already.
    async fn alert_owners(
        &self,
        room: &Room,
        alert: &OwnerAlert,
        emails: &[NewEmail],
        audit: &Audit<'_>,
    ) -> Result<bool>;
    /// The meeting has ended: the next one may be reported again, of everything.
    async fn reset_owner_alerts(&self, room_id: i64) -> Result<()>;
    /// Takes or renews the lease to act for the room's guard until `until`: granted when
    /// nobody holds it, `holder` holds it already, or the last lease ended by `now`.
    /// Of several instances asking at once, one gets it.
    async fn claim_guard(
        &self,
        room_id: i64,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<GuardClaim>;
    /// Gives up every room's lease `holder` has (an instance shutting down): the next
    /// instance to hear of a room acts at once instead of after the lease's term.
    async fn release_guard_leases(&self, holder: &str) -> Result<u64>;
}
