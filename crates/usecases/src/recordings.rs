//! Recordings: which a room has, share links (made, used, revoked), deleting, assigning
//! an unassigned one to a room, and how long a room's recordings are kept.

use roomkeeper_auth::{SecretToken, hash_token};
use roomkeeper_domain::Username;
use roomkeeper_domain::authz::{Action, Actor, Decision, RecordingFacts, decide};
use roomkeeper_domain::{AuditAction, Refusal};
use roomkeeper_store::{
    IngestProblem, Recording, RecordingState, Room, ShareLink, SpooledSession, User,
};

use crate::{Acting, Error, Stamp, UseCases, rooms};

/// How a recording's file is named, typed and handed out, for those who serve it.
pub use roomkeeper_recordings::{Delivery, content_disposition, content_type, download_name};

/// Where the file of `recording` is: a local path to serve, or a presigned URL that
/// expires after `recordings.presigned_url_seconds`. Whether the asker may have it was
/// decided before.
pub async fn delivery(uc: &UseCases, recording: &Recording) -> Result<Delivery, Error> {
    let valid_for = std::time::Duration::from_secs(uc.recordings.config.presigned_url_seconds);
    Ok(uc
        .recordings
        .blobs
        .delivery(&recording.id, valid_for)
        .await?)
}

/// Free and total bytes where recordings are stored (local) or staged (S3 uploads).
pub fn disk_space(uc: &UseCases) -> Option<(u64, u64)> {
    roomkeeper_recordings::staging::disk_space(&uc.recordings.config.dir)
}

/// Whether a Jibri machine's uploader presented the ingest token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestToken {
    Accepted,
    /// None is configured: uploads are off.
    NotConfigured,
    Wrong,
}

pub fn check_ingest_token(uc: &UseCases, given: &str) -> IngestToken {
    let Some(expected) = uc.recordings.config.ingest_token.as_deref() else {
        return IngestToken::NotConfigured;
    };
    // Compared as hashes: equal length, so the comparison time says nothing of the token.
    if !given.is_empty() && hash_token(given) == hash_token(expected) {
        IngestToken::Accepted
    } else {
        IngestToken::Wrong
    }
}

pub async fn of_room(uc: &UseCases, room: &Room) -> Result<Vec<Recording>, Error> {
    Ok(uc.store.recordings_of_room(room.id).await?)
}

/// Recordings no room claims, and session directories that could not be read.
pub async fn unassigned(uc: &UseCases) -> Result<(Vec<Recording>, Vec<IngestProblem>), Error> {
    Ok((
        uc.store.unassigned_recordings().await?,
        uc.store.ingest_problems().await?,
    ))
}

/// How many Jibri sessions wait for an administrator because they could not be taken in,
/// and how many wait in Jibri machines' spools (the metrics operators alert on; the same
/// on every instance).
pub async fn ingest_problem_counts(uc: &UseCases) -> Result<(usize, usize), Error> {
    let problems = uc.store.ingest_problems().await?;
    let spooled = problems.iter().filter(|p| p.spooled_on.is_some()).count();
    Ok((problems.len() - spooled, spooled))
}

/// The most sessions one spool report may list (a Jibri machine records a few a day).
pub const SPOOL_REPORT_MAX: usize = 1000;

/// One session as a Jibri machine's uploader reports it (deploy/jibri/finalize.sh).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolEntry {
    pub session: String,
    /// The session directory on the Jibri machine.
    #[serde(default)]
    pub directory: String,
    /// When Jibri finished it (Unix seconds).
    pub since: i64,
    pub attempts: u32,
    #[serde(default)]
    pub last_error: String,
}

/// What a Jibri machine's spool still holds after its uploader's last pass: shown to
/// administrators with the sessions this service could not take in. An empty list says
/// everything was delivered. Sent with the ingest token; nothing in it is trusted
/// beyond being shown (names are checked, text is cut short).
pub async fn report_spool(uc: &UseCases, host: &str, waiting: &[SpoolEntry]) -> Result<(), Error> {
    let host_fine = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !host_fine {
        return Err(Error::refused(
            Refusal::BadSpoolReport,
            "host must be a host name (letters, digits, '-', '_', '.')",
        ));
    }
    if waiting.len() > SPOOL_REPORT_MAX {
        return Err(Error::refused(
            Refusal::BadSpoolReport,
            format!("a report lists at most {SPOOL_REPORT_MAX} sessions"),
        ));
    }
    let cut = |text: &str, at: usize| -> String {
        text.chars().filter(|c| !c.is_control()).take(at).collect()
    };
    let mut sessions = Vec::with_capacity(waiting.len());
    for entry in waiting {
        roomkeeper_recordings::session::check_session_name(&entry.session)
            .map_err(|e| Error::refused(Refusal::BadSpoolReport, e.to_string()))?;
        let problem = if entry.last_error.is_empty() {
            format!("not delivered yet ({} attempts)", entry.attempts)
        } else {
            format!(
                "not delivered yet ({} attempts): {}",
                entry.attempts,
                cut(&entry.last_error, 300)
            )
        };
        sessions.push(SpooledSession {
            session: entry.session.clone(),
            location: format!("{host}:{}", cut(&entry.directory, 300)),
            problem,
            since: entry.since,
        });
    }
    uc.store
        .report_spool(host, &sessions, uc.clock.now())
        .await?;
    if !sessions.is_empty() {
        tracing::warn!(
            host,
            waiting = sessions.len(),
            "Jibri sessions wait in a spool to be delivered"
        );
    }
    Ok(())
}

pub async fn delete(
    uc: &UseCases,
    acting: &Acting<'_>,
    recording: &Recording,
) -> Result<(), Error> {
    let stamp = Stamp::new(uc, acting);
    if uc
        .recordings
        .delete(&recording.id, &stamp.audit(), "deleted by hand")
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// Gives an unassigned recording to a registered room.
pub async fn assign(
    uc: &UseCases,
    acting: &Acting<'_>,
    recording: &Recording,
    room: &str,
) -> Result<Recording, Error> {
    if recording.room_id.is_some() {
        return Err(Error::refused(
            Refusal::AlreadyAssigned,
            "This recording already belongs to a room.",
        ));
    }
    let name = rooms::parse_room(uc, room)?;
    let target = uc
        .store
        .room_by_name(&name.canonical())
        .await?
        .ok_or_else(|| {
            Error::refused(
                Refusal::UnknownRoom,
                format!("{} is not a registered room.", name.display()),
            )
        })?;
    let actor = Actor::User {
        username: &acting.user.username,
        is_admin: acting.user.is_admin,
    };
    let assigning = Action::AssignRecordingTo {
        room: target.facts(),
        admins_may_watch: uc.recordings.config.admins_can_view_recordings,
    };
    if decide(actor, assigning) != Decision::Allowed {
        return Err(Error::refused(
            Refusal::OwnRoom,
            format!(
                "Administrators do not watch recordings here, and {} is yours: another \
                 administrator must assign this recording to it.",
                name.display()
            ),
        ));
    }
    let stamp = Stamp::new(uc, acting);
    Ok(uc
        .store
        .assign_recording(&recording.id, target.id, &stamp.audit())
        .await?)
}

/// How long this room's recordings are kept: `None` is the default.
pub async fn retention(uc: &UseCases, room: &Room) -> Result<Option<i64>, Error> {
    Ok(uc.store.retention_of(room.id).await?)
}

pub async fn set_retention(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    days: Option<i64>,
) -> Result<(), Error> {
    if days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(Error::refused(
            Refusal::BadRetention,
            "Keep recordings 1 to 36,500 days.",
        ));
    }
    let stamp = Stamp::new(uc, acting);
    uc.store
        .set_retention(room.id, days, &stamp.audit())
        .await?;
    Ok(())
}

pub async fn share_links(uc: &UseCases, recording: &Recording) -> Result<Vec<ShareLink>, Error> {
    Ok(uc.store.share_links_of(&recording.id).await?)
}

/// The room's links that still work, with their makers (the room page lists them).
pub async fn live_share_links(uc: &UseCases, room: &Room) -> Result<Vec<ShareLink>, Error> {
    Ok(uc
        .store
        .live_share_links_of_room(room.id, uc.clock.now())
        .await?)
}

/// Makes a share link valid for `seconds` (at most `recordings.share_link_max_days`);
/// answers it with its secret, which is not stored.
pub async fn create_link(
    uc: &UseCases,
    acting: &Acting<'_>,
    recording: &Recording,
    seconds: i64,
) -> Result<(ShareLink, String), Error> {
    let max_days = uc.recordings.config.share_link_max_days;
    if !(60..=max_days * 86_400).contains(&seconds) {
        return Err(Error::refused(
            Refusal::BadLifetime,
            format!("A share link lives between one minute and {max_days} days."),
        ));
    }
    let token = SecretToken::generate("rks_");
    let stamp = Stamp::new(uc, acting);
    let audit = stamp.audit();
    let link = uc
        .store
        .create_share_link(&recording.id, &token.hash, audit.now + seconds, &audit)
        .await?;
    Ok((link, token.secret))
}

pub async fn revoke_link(
    uc: &UseCases,
    acting: &Acting<'_>,
    recording: &Recording,
    link_id: i64,
) -> Result<(), Error> {
    let stamp = Stamp::new(uc, acting);
    if uc
        .store
        .revoke_share_link(&recording.id, link_id, &stamp.audit())
        .await?
    {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The recording behind a share link that still works (not revoked, not expired, its
/// maker still allowed to watch), or not found. Every use that starts playing or
/// downloading (`starts_a_use`) is audited; the many Range requests a player makes while
/// seeking are not.
pub async fn shared(
    uc: &UseCases,
    secret: &str,
    address: Option<std::net::IpAddr>,
    starts_a_use: bool,
) -> Result<Recording, Error> {
    let link = uc
        .store
        .share_link(&hash_token(secret))
        .await?
        .filter(|l| l.revoked_at.is_none() && l.expires_at > uc.clock.now())
        .ok_or(Error::NotFound)?;
    let recording = ready(uc, &link.recording_id).await?;
    // A link is its maker's right lent out: when they lose it (co-owner removed, room
    // transferred or released, account disabled), their links stop working too.
    if !may_still_watch(uc, &link.created_by, &recording).await? {
        return Err(Error::NotFound);
    }
    if starts_a_use {
        let stamp = Stamp::anonymous(uc, address);
        uc.store
            .record_audit(
                &stamp.audit(),
                AuditAction::ShareLinkUsed,
                recording.room_name.as_deref(),
                Some(&link.created_by),
                &format!("recording {}, link {}", recording.id, link.id),
            )
            .await?;
    }
    Ok(recording)
}

/// The recording with this id once it is stored and ready to watch; until then (and
/// when there is none) not found.
pub async fn ready(uc: &UseCases, id: &str) -> Result<Recording, Error> {
    uc.store
        .recording(id)
        .await?
        .filter(|r| r.state == RecordingState::Ready)
        .ok_or(Error::NotFound)
}

/// The room a recording belongs to, if any.
pub async fn room_of(uc: &UseCases, recording: &Recording) -> Result<Option<Room>, Error> {
    Ok(match recording.room_id {
        Some(id) => uc.store.room(id).await?,
        None => None,
    })
}

/// What `authz::decide` needs to know about a recording: its room's people, and whether
/// admins may watch.
pub fn facts<'a>(uc: &UseCases, room: Option<&'a Room>) -> RecordingFacts<'a> {
    RecordingFacts {
        room: room.map(Room::facts),
        admins_may_watch: uc.recordings.config.admins_can_view_recordings,
    }
}

/// May `username` watch `recording` now? For things a person made that keep working
/// without them (share links): they work only while their maker still may.
pub async fn may_still_watch(
    uc: &UseCases,
    username: &str,
    recording: &Recording,
) -> Result<bool, Error> {
    let Ok(name) = Username::parse(username) else {
        return Ok(false);
    };
    let Some(maker): Option<User> = uc.store.user_by_name(&name).await? else {
        return Ok(false);
    };
    if maker.disabled {
        return Ok(false);
    }
    let room = room_of(uc, recording).await?;
    let actor = Actor::User {
        username: &maker.username,
        is_admin: maker.is_admin,
    };
    Ok(decide(actor, Action::WatchRecording(facts(uc, room.as_ref()))) == Decision::Allowed)
}
