//! The room guard: registered rooms that protect themselves, and "Join as moderator".
//!
//! The guard acts on what Prosody pushes through the companion module (a lock, a new
//! moderator, someone joining with a code) within milliseconds. It never fights Jicofo:
//! Jicofo elects a moderator only when its own pick leaves (AutoOwnerRoleManager), so
//! each of its grants is reverted once, and our own revokes and password removals come
//! back as events that ask for nothing more.
//!
//! Who the guard leaves alone is stored (`meeting_moderators`): an owner or co-owner who
//! joined with their code, and whoever they made moderator through Roomkeeper. Trust
//! belongs to that occupant's connection (its full real JID, which Prosody vouches for),
//! never to a nick: any client picks its own nick, and a student who joins under the
//! lecturer's nick after the lecturer dropped out is not the lecturer ([`trusted_present`]).

use roomkeeper_domain::{AuditAction, Refusal};
use std::collections::HashSet;

use roomkeeper_auth::{hash_token, new_join_code};
use roomkeeper_domain::{GuardSettings, JoinCode, LobbyMode, ModeratorGuard, RoomName};
use roomkeeper_jitsi::{ChangedBy, Meeting, RoomEvent};
use roomkeeper_store::{GuardClaim, MeetingModerator, Room};

use crate::{Acting, Error, Stamp, UseCases};

mod follow;
pub use follow::run;

/// How long a join code works after it was made.
pub const JOIN_CODE_LIFETIME_S: i64 = 15 * 60;

/// How long one instance acts for a room after its last event there; when it dies
/// without giving its leases up (a crash, kill -9), another takes over at most this much
/// later, and the same instance restarted at once.
pub const LEASE_S: i64 = 30;

/// How often an instance looks whether a lease another one held has ended, to judge the
/// room itself: the holder may have died with a lock in the room and no event to come.
pub const LEASE_WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub async fn settings(uc: &UseCases, room: &Room) -> Result<GuardSettings, Error> {
    Ok(uc.store.guard(room.id).await?)
}

/// Stores the room's guard (audited) and brings a running meeting in line at once.
pub async fn set_settings(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    settings: GuardSettings,
) -> Result<GuardSettings, Error> {
    let settings = settings
        .checked()
        .map_err(|e| Error::refused(Refusal::InvalidGuard, e.to_string()))?;
    let stamp = Stamp::new(uc, acting);
    let before = uc.store.guard(room.id).await?;
    uc.store.set_guard(room, &settings, &stamp.audit()).await?;
    if before.lobby != settings.lobby {
        tell_lobby_rooms(uc).await;
    }
    if !settings.is_off() {
        // A meeting that is running now is not waiting for its next event.
        match check(uc, room, &settings, Setter::Unknown).await {
            // Not connected: the connect's resync reads every guarded room.
            Ok(_)
            | Err(Error::Meeting(
                roomkeeper_jitsi::Error::NoShard
                | roomkeeper_jitsi::Error::Unreachable(_)
                | roomkeeper_jitsi::Error::NotConnected(_),
            )) => {}
            Err(error) => {
                tracing::warn!(room = %room.name, %error, "the guard could not check the meeting");
            }
        }
    }
    Ok(settings)
}

/// Tells Jitsi which rooms get their lobby the moment they are created (the companion
/// module keeps the list in memory: sent again at every connect, and after a change).
/// Read afresh from the store, so another instance's changes are in it too.
pub async fn tell_lobby_rooms(uc: &UseCases) {
    let rooms = match uc.store.guarded_rooms().await {
        Ok(rooms) => rooms,
        Err(error) => {
            tracing::warn!(%error, "could not read the rooms with a lobby");
            return;
        }
    };
    let names: Vec<RoomName> = rooms
        .into_iter()
        .filter(|(_, settings)| settings.lobby != LobbyMode::Off)
        .map(|(room, _)| room.name)
        .collect();
    match uc.meetings.set_lobby_rooms(&names).await {
        Ok(()) => tracing::debug!(rooms = names.len(), "told Jitsi the rooms with a lobby"),
        // Nothing to tell: a lobby needs the module, which the settings page says.
        Err(roomkeeper_jitsi::Error::NeedsModule) if names.is_empty() => {}
        Err(error) => {
            tracing::warn!(%error, rooms = names.len(), "could not tell Jitsi the rooms with a lobby")
        }
    }
}

/// A join code for the acting owner, with the meeting link that carries it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewJoinCode {
    pub code: String,
    pub join_url: String,
    pub expires_at: i64,
}

/// A personal one-time code: whoever joins the meeting with it in their display name is
/// made moderator and recorded as the acting owner. It needs the companion module,
/// which takes the code out of the name before anyone else sees it.
pub async fn create_join_code(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
) -> Result<NewJoinCode, Error> {
    if !uc.meetings.pushes_events() {
        return Err(Error::Refused {
            refusal: Refusal::CompanionModuleMissing,
            message: "Joining as moderator needs Roomkeeper's companion module in Prosody: \
                      without it the code would be visible to everyone in the meeting."
                .into(),
        });
    }
    let name = &room.name;
    let base = uc
        .meeting_bases
        .first()
        .ok_or_else(|| Error::Internal("no meeting server is configured".into()))?;
    let code = new_join_code();
    let now = uc.clock.now();
    let expires_at = now + JOIN_CODE_LIFETIME_S;
    uc.store
        .create_join_code(
            &hash_token(code.as_str()),
            room.id,
            &acting.user.username,
            now,
            expires_at,
        )
        .await?;
    let person = acting
        .user
        .display_name
        .clone()
        .unwrap_or_else(|| acting.user.username.to_string());
    Ok(NewJoinCode {
        join_url: join_url(&name.meeting_url(base), &code.display_name(&person)),
        code: code.to_string(),
        expires_at,
    })
}

/// The meeting link with the display name in its hash, as the Jitsi web client reads
/// it: a JSON string, URL-encoded.
fn join_url(meeting_url: &str, display_name: &str) -> String {
    let json = serde_json::Value::from(display_name).to_string();
    let encoded: String = json
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{meeting_url}#userInfo.displayName={encoded}")
}

/// An owner sets the meeting's password through Roomkeeper (audited, never the secret
/// itself); the password guard keeps it.
pub async fn set_password(
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    password: &str,
) -> Result<Meeting, Error> {
    let password = password.trim();
    if password.is_empty() || password.chars().count() > 100 {
        return Err(Error::refused(
            Refusal::InvalidPassword,
            "A meeting password has 1 to 100 characters.",
        ));
    }
    let name = &room.name;
    let stamp = Stamp::new(uc, acting);
    // Recorded first: the guard must not take it for a student's lock.
    uc.store.set_owner_password(room.id, true).await?;
    let meeting = uc.meetings.set_password(name, password).await?;
    uc.store
        .record_audit(
            &stamp.audit(),
            AuditAction::SetPassword,
            Some(room.name.as_str()),
            None,
            "{}",
        )
        .await?;
    Ok(meeting)
}

/// Who set the password the meeting has now, as far as the guard knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setter {
    /// Roomkeeper (an owner through the room page or API), or an owner in the meeting.
    Owner,
    Participant(String),
    /// Not told: a change seen by reading the room, or made from outside the meeting.
    Unknown,
    /// No news about the password since the guard last judged it (another kind of
    /// event): it was kept, or its removal is under way.
    Unchanged,
}

/// Something the guard does to a meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    RemovePassword {
        set_by: Option<String>,
    },
    Revoke {
        participant: String,
        why: Why,
    },
    /// Turn jitsi-meet's lobby on or off, as the room's lobby setting asks.
    Lobby {
        on: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Set a password the guard removed.
    Password,
    /// A moderator the moderator guard does not allow.
    NotAllowed,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::NotAllowed => "moderator_guard",
        }
    }
}

/// What the guard does about the meeting as it is now. `trusted`: the meeting's
/// moderators on Roomkeeper's word; `setter`: who set the password, if there is one.
pub fn moves(
    settings: &GuardSettings,
    meeting: &Meeting,
    trusted: &[MeetingModerator],
    setter: &Setter,
) -> Vec<Move> {
    if !meeting.running {
        return Vec::new();
    }
    let trusted_ids = trusted_present(meeting, trusted, false);
    let owner_present = owner_present(meeting, trusted);
    let untrusted_moderators = || {
        meeting
            .participants
            .iter()
            .filter(|p| p.moderator && !trusted_ids.contains(p.id.as_str()))
            .map(|p| p.id.clone())
    };
    let mut moves = Vec::new();
    let mut revoked: HashSet<String> = HashSet::new();
    let mut revoke = |moves: &mut Vec<Move>, participant: String, why: Why| {
        if revoked.insert(participant.clone()) {
            moves.push(Move::Revoke { participant, why });
        }
    };
    let setter_is_trusted = match setter {
        Setter::Owner | Setter::Unchanged => true,
        Setter::Participant(id) => trusted_ids.contains(id.as_str()),
        Setter::Unknown => false,
    };
    if settings.password_guard && meeting.password_protected && !setter_is_trusted {
        let set_by = match setter {
            Setter::Participant(id) => Some(id.clone()),
            _ => None,
        };
        moves.push(Move::RemovePassword {
            set_by: set_by.clone(),
        });
        match set_by {
            // Only a moderator can lock; that one loses it.
            Some(id)
                if meeting
                    .participants
                    .iter()
                    .any(|p| p.id == id && p.moderator) =>
            {
                revoke(&mut moves, id, Why::Password);
            }
            Some(_) => {}
            // Not told who: any moderator not on our word could have.
            None => {
                for id in untrusted_moderators() {
                    revoke(&mut moves, id, Why::Password);
                }
            }
        }
    }
    let strict_now = match settings.moderator_guard {
        ModeratorGuard::Off => false,
        ModeratorGuard::UntilOwner => owner_present,
        ModeratorGuard::Strict => true,
    };
    if strict_now {
        for id in untrusted_moderators() {
            revoke(&mut moves, id, Why::NotAllowed);
        }
    }
    // Off leaves the lobby to Jitsi's moderators. "Until an owner is in" is derived
    // from who is in now: should the owner drop out, the lobby holds newcomers until
    // they are back.
    let lobby_wanted = match settings.lobby {
        LobbyMode::Off => None,
        LobbyMode::Always => Some(true),
        LobbyMode::UntilOwner => Some(!owner_present),
    };
    if let Some(on) = lobby_wanted {
        if meeting.lobby != on {
            moves.push(Move::Lobby { on });
        }
    }
    moves
}

/// What a check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checked {
    Done,
    /// Another instance holds the room's lease until then: it acts, unless it is gone.
    LeftTo {
        until: i64,
    },
}

/// Reads the meeting and does what the guard asks, each step in the room's history.
async fn check(
    uc: &UseCases,
    room: &Room,
    settings: &GuardSettings,
    setter: Setter,
) -> Result<Checked, Error> {
    // Several instances hear the same event: the one holding the room's lease acts.
    let started = std::time::Instant::now();
    let now = uc.clock.now();
    let setter = match uc
        .store
        .claim_guard(room.id, &uc.instance, now, now + LEASE_S)
        .await?
    {
        GuardClaim::HeldUntil(until) => return Ok(Checked::LeftTo { until }),
        // Events may have gone by while nobody held the lease (its holder died, or
        // this instance was down): "no news about the password" would be a guess.
        GuardClaim::Won if setter == Setter::Unchanged => Setter::Unknown,
        GuardClaim::Won | GuardClaim::Renewed => setter,
    };
    let name = &room.name;
    let claimed = started.elapsed();
    let meeting = uc.meetings.meeting(name).await?;
    metrics::counter!("guard_room_reads_total").increment(1);
    let read = started.elapsed();
    if !meeting.running || !meeting.password_protected {
        // Whatever password an owner set is gone with it.
        uc.store.set_owner_password(room.id, false).await?;
    }
    if !meeting.running {
        if settings.in_use_alert_minutes.is_some() || settings.lobby != LobbyMode::Off {
            uc.store.reset_owner_alerts(room.id).await?;
        }
        return Ok(Checked::Done);
    }
    let setter = match setter {
        Setter::Unknown if uc.store.owner_password(room.id).await? => Setter::Owner,
        other => other,
    };
    let trusted = uc.store.meeting_moderators(room.id).await?;
    let judged = started.elapsed();
    for step in moves(settings, &meeting, &trusted, &setter) {
        perform(uc, room, name, &meeting, step).await?;
    }
    alert_if_unattended(uc, room, settings, &meeting, &trusted).await?;
    alert_if_knocking_unattended(uc, room, &meeting, &trusted).await?;
    let done = started.elapsed();
    if done > SLOW_CHECK {
        tracing::warn!(
            room = %room.name,
            lease_ms = claimed.as_millis(),
            read_ms = (read - claimed).as_millis(),
            judge_ms = (judged - read).as_millis(),
            act_ms = (done - judged).as_millis(),
            "the guard was slow"
        );
    }
    Ok(Checked::Done)
}

/// A check that takes longer is logged, with where the time went.
const SLOW_CHECK: std::time::Duration = std::time::Duration::from_millis(200);

/// How often rooms with the "in use without you" alert are looked at besides their events.
pub const ALERT_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Has the meeting run `in_use_alert_minutes` without an owner or co-owner in it (one
/// who joined with their code: display names prove nothing)? Then the owners are told,
/// once per meeting. The meeting's start is its longest-present participant's join.
async fn alert_if_unattended(
    uc: &UseCases,
    room: &Room,
    settings: &GuardSettings,
    meeting: &Meeting,
    trusted: &[MeetingModerator],
) -> Result<(), Error> {
    let Some(minutes) = settings.in_use_alert_minutes else {
        return Ok(());
    };
    if !meeting.running {
        uc.store.reset_owner_alerts(room.id).await?;
        return Ok(());
    }
    if owner_present(meeting, trusted) {
        return Ok(());
    }
    let Some(started) = meeting
        .participants
        .iter()
        .filter_map(|p| p.joined_at)
        .min()
    else {
        return Ok(());
    };
    if uc.clock.now() - started < i64::from(minutes) * 60 {
        return Ok(());
    }
    let emails = crate::mail::in_use(uc, room, minutes).await;
    let stamp = Stamp::system(uc);
    let alert = roomkeeper_store::OwnerAlert::InUse { minutes };
    if uc
        .store
        .alert_owners(room, &alert, &emails, &stamp.audit())
        .await?
    {
        uc.mail.queued(&emails);
        tracing::info!(room = %room.name, minutes, "the owners were told their room is in use without them");
    }
    Ok(())
}

/// Someone knocks at the lobby and no owner or co-owner is in the meeting: the owners
/// are told, once per meeting (page, and email where they gave an address), so that a
/// lecturer can let people in from his phone.
async fn alert_if_knocking_unattended(
    uc: &UseCases,
    room: &Room,
    meeting: &Meeting,
    trusted: &[MeetingModerator],
) -> Result<(), Error> {
    let Some(first) = meeting.knocking.first() else {
        return Ok(());
    };
    if !meeting.running || owner_present(meeting, trusted) {
        return Ok(());
    }
    let name = first.display_name.clone().unwrap_or_default();
    let emails = crate::mail::knocking(uc, room, &name).await;
    let stamp = Stamp::system(uc);
    let alert = roomkeeper_store::OwnerAlert::Knocking { name };
    if uc
        .store
        .alert_owners(room, &alert, &emails, &stamp.audit())
        .await?
    {
        uc.mail.queued(&emails);
        tracing::info!(room = %room.name, "the owners were told someone knocks while none of them is in");
    }
    Ok(())
}

/// An owner or co-owner who joined with their code is in the meeting.
fn owner_present(meeting: &Meeting, trusted: &[MeetingModerator]) -> bool {
    !trusted_present(meeting, trusted, true).is_empty()
}

/// The participants in the meeting now that the guard trusts (with `owners_only`, only
/// owners who joined with their code): the very occupant that was trusted, its nick
/// *and* its connection. An empty connection (a row from before connections were
/// stored, a module that does not tell them) matches nobody.
fn trusted_present<'m>(
    meeting: &'m Meeting,
    trusted: &[MeetingModerator],
    owners_only: bool,
) -> HashSet<&'m str> {
    meeting
        .participants
        .iter()
        .filter(|p| {
            !p.session.is_empty()
                && trusted.iter().any(|m| {
                    (m.joined_with_code || !owners_only)
                        && m.participant == p.id
                        && m.occupant == p.session
                })
        })
        .map(|p| p.id.as_str())
        .collect()
}

async fn perform(
    uc: &UseCases,
    room: &Room,
    name: &RoomName,
    meeting: &Meeting,
    step: Move,
) -> Result<(), Error> {
    let stamp = Stamp::system(uc);
    let name_of = |id: &str| {
        meeting
            .participants
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.display_name.clone())
    };
    let (action, detail) = match &step {
        Move::RemovePassword { set_by } => {
            uc.meetings.remove_password(name).await?;
            let mut detail = serde_json::json!({});
            if let Some(id) = set_by {
                detail["participant"] = id.as_str().into();
                if let Some(display) = name_of(id) {
                    detail["participant_name"] = display.into();
                }
            }
            (AuditAction::GuardRemovedPassword, detail)
        }
        Move::Revoke { participant, why } => {
            match uc.meetings.set_moderator(name, participant, false).await {
                // Gone meanwhile: nothing left to take away.
                Err(roomkeeper_jitsi::Error::ParticipantGone) => return Ok(()),
                other => other?,
            };
            let mut detail = serde_json::json!({
                "participant": participant,
                "why": why.as_str(),
            });
            if let Some(display) = name_of(participant) {
                detail["participant_name"] = display.into();
            }
            (AuditAction::GuardRevokedModerator, detail)
        }
        Move::Lobby { on } => {
            // Without the companion module Roomkeeper cannot reach the lobby (the page
            // says the module is missing); asking anyway would fail at every poll.
            if !uc.meetings.pushes_events() {
                return Ok(());
            }
            uc.meetings.set_lobby(name, *on).await?;
            let action = if *on {
                AuditAction::GuardLobbyOn
            } else {
                AuditAction::GuardLobbyOff
            };
            (action, serde_json::json!({}))
        }
    };
    tracing::info!(room = %room.name, ?step, "room guard");
    metrics::counter!("guard_actions_total", "action" => action.code()).increment(1);
    uc.store
        .record_audit(
            &stamp.audit(),
            action,
            Some(room.name.as_str()),
            None,
            &detail.to_string(),
        )
        .await?;
    Ok(())
}

/// Someone joined with a code: once, in time, in the room it was made for, they become
/// moderator as the owner who asked for it. Anything else gives nothing.
async fn use_join_code(
    uc: &UseCases,
    room: &Room,
    participant: &str,
    session: &str,
    code: &str,
) -> Result<bool, Error> {
    let Ok(code) = JoinCode::parse(code) else {
        return Ok(false);
    };
    // The code is for the connection that joined with it, and only while that very
    // occupant is in: not for whoever has the nick now.
    let name = &room.name;
    let meeting = uc.meetings.meeting(name).await?;
    let is_in = meeting
        .participants
        .iter()
        .any(|p| p.id == participant && !session.is_empty() && p.session == session);
    if !is_in {
        tracing::info!(room = %room.name, participant, "a join code whose occupant is not in the meeting (or a companion module too old to tell who)");
        return Ok(false);
    }
    let stamp = Stamp::system(uc);
    let owner = uc
        .store
        .use_join_code(
            &hash_token(code.as_str()),
            room,
            participant,
            session,
            &stamp.audit(),
        )
        .await?;
    let Some(owner) = owner else {
        tracing::info!(room = %room.name, participant, "a join code that gives nothing");
        return Ok(false);
    };
    uc.meetings.set_moderator(name, participant, true).await?;
    tracing::info!(room = %room.name, participant, %owner, "joined as moderator");
    Ok(true)
}

/// Someone knocking at the lobby with a code: let in when the code would make them
/// moderator (an owner's, unused, in time, for this room) and the knocker with that nick
/// is the very connection that sent it. The code is used, and moderator granted, when
/// they join the meeting (`use_join_code`).
async fn admit_with_join_code(
    uc: &UseCases,
    room: &Room,
    knocker: &str,
    session: &str,
    code: &str,
) -> Result<bool, Error> {
    let Ok(code) = JoinCode::parse(code) else {
        return Ok(false);
    };
    let name = &room.name;
    let meeting = uc.meetings.meeting(name).await?;
    let is_knocking = meeting
        .knocking
        .iter()
        .any(|k| k.id == knocker && !session.is_empty() && k.session == session);
    if !is_knocking {
        return Ok(false);
    }
    let now = uc.clock.now();
    let Some(owner) = uc
        .store
        .join_code_owner(&hash_token(code.as_str()), room.id, now)
        .await?
    else {
        tracing::info!(room = %room.name, knocker, "a join code at the lobby that gives nothing");
        return Ok(false);
    };
    match uc.meetings.admit(name, knocker).await {
        Ok(_) | Err(roomkeeper_jitsi::Error::ParticipantGone) => {}
        Err(other) => return Err(other.into()),
    }
    tracing::info!(room = %room.name, knocker, %owner, "let in from the lobby with a join code");
    Ok(true)
}

/// Without the companion module nothing is pushed: guarded rooms are read this often.
pub const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// What an event asks of the guard; the room it judged and how, if it did.
async fn on_event(uc: &UseCases, event: RoomEvent) -> Result<Option<(Room, Checked)>, Error> {
    match &event {
        // Trust ends with the occupant (a leave, a kick): a later connection never
        // matches it anyway, but a rejoin on the same one must not inherit it either.
        RoomEvent::Left { room, id } => {
            if let Some(room) = uc.store.room_by_name(room).await? {
                uc.store.remove_meeting_moderator(room.id, id).await?;
            }
            return Ok(None);
        }
        RoomEvent::Occupant { participant, .. } if !participant.moderator => return Ok(None),
        _ => {}
    }
    let Some(room_key) = event.room() else {
        return Ok(None);
    };
    // Rooms nobody registered are not ours to guard.
    let Some(room) = uc.store.room_by_name(room_key).await? else {
        return Ok(None);
    };
    let mut setter = Setter::Unchanged;
    match &event {
        // A code from the lobby names a lobby nick, not a participant: let in, never
        // granted here.
        RoomEvent::JoinCode {
            participant,
            code,
            session,
            in_lobby: true,
            ..
        } => {
            admit_with_join_code(uc, &room, participant, session, code).await?;
            return Ok(None);
        }
        RoomEvent::JoinCode {
            participant,
            code,
            session,
            in_lobby: false,
            ..
        } => {
            use_join_code(uc, &room, participant, session, code).await?;
            // Now an owner may be present: the moderator guard may have work.
        }
        RoomEvent::Destroyed { .. } => {
            uc.store.meeting_ended(room.id).await?;
            return Ok(None);
        }
        RoomEvent::Config {
            password_protected,
            by,
            ..
        } => {
            setter = match by {
                ChangedBy::Service => Setter::Owner,
                ChangedBy::Participant(id) => Setter::Participant(id.clone()),
                ChangedBy::Unknown => Setter::Unknown,
            };
            if let Setter::Participant(id) = &setter {
                // Looked at only when the nick is among the trusted ones; then whether
                // the occupant with it now is the one trusted.
                let trusted = uc.store.meeting_moderators(room.id).await?;
                if trusted.iter().any(|m| &m.participant == id) {
                    let meeting = uc.meetings.meeting(&room.name).await?;
                    if trusted_present(&meeting, &trusted, false).contains(id.as_str()) {
                        setter = Setter::Owner;
                    }
                }
            }
            uc.store
                .set_owner_password(room.id, *password_protected && setter == Setter::Owner)
                .await?;
        }
        _ => {}
    }
    let settings = uc.store.guard(room.id).await?;
    if settings.is_off() {
        return Ok(None);
    }
    let checked = check(uc, &room, &settings, setter).await?;
    Ok(Some((room, checked)))
}

#[cfg(test)]
mod tests {
    use roomkeeper_jitsi::Participant;

    use super::*;

    fn person(id: &str, moderator: bool) -> Participant {
        Participant {
            id: id.into(),
            display_name: None,
            moderator,
            joined_at: None,
            jid: format!("{id}@guest.meet.test"),
            session: format!("{id}@guest.meet.test/connection"),
        }
    }

    fn meeting(password: bool, people: &[(&str, bool)]) -> Meeting {
        Meeting {
            running: true,
            password_protected: password,
            members_only: false,
            participants: people.iter().map(|(id, m)| person(id, *m)).collect(),
            lobby: false,
            knocking: Vec::new(),
        }
    }

    fn owner(id: &str) -> MeetingModerator {
        MeetingModerator {
            participant: id.into(),
            occupant: person(id, true).session,
            username: "lecturer".into(),
            joined_with_code: true,
            since: 0,
        }
    }

    fn granted(id: &str) -> MeetingModerator {
        MeetingModerator {
            joined_with_code: false,
            ..owner(id)
        }
    }

    fn guard(password_guard: bool, moderator_guard: ModeratorGuard) -> GuardSettings {
        GuardSettings {
            password_guard,
            moderator_guard,
            in_use_alert_minutes: None,
            lobby: roomkeeper_domain::LobbyMode::Off,
        }
    }

    fn revoke(id: &str, why: Why) -> Move {
        Move::Revoke {
            participant: id.into(),
            why,
        }
    }

    /// The lecturer joined with his code as `lect`, then dropped out; a student joins as
    /// `lect` (any client picks its nick), Jicofo makes him moderator, he locks the room.
    /// He is not the lecturer: his lock goes, strict mode takes his rights, and "until an
    /// owner arrives" does not count him as the owner.
    #[test]
    fn someone_else_under_a_trusted_nick_is_not_trusted() {
        let mut now = meeting(true, &[("lect", true)]);
        now.participants[0].session = "x7y8z9@meet.test/other-connection".into();
        let trusted = [owner("lect")];
        let setter = Setter::Participant("lect".into());
        assert_eq!(
            moves(
                &guard(true, ModeratorGuard::Strict),
                &now,
                &trusted,
                &setter
            ),
            [
                Move::RemovePassword {
                    set_by: Some("lect".into())
                },
                revoke("lect", Why::Password),
            ]
        );
        assert!(!owner_present(&now, &trusted));
        let unlocked = meeting(false, &[("lect", true), ("student", true)]);
        let mut impostor = unlocked.clone();
        impostor.participants[0].session = "x7y8z9@meet.test/other-connection".into();
        // With the real lecturer there, Jicofo's pick loses his rights; with the impostor
        // the owner has not arrived and nobody is revoked.
        let until_owner = guard(false, ModeratorGuard::UntilOwner);
        assert_eq!(
            moves(&until_owner, &unlocked, &trusted, &Setter::Unchanged),
            [revoke("student", Why::NotAllowed)]
        );
        assert_eq!(
            moves(&until_owner, &impostor, &trusted, &Setter::Unchanged),
            []
        );
        // A row without a connection (from before they were stored) trusts nobody.
        let old_row = [MeetingModerator {
            occupant: String::new(),
            ..owner("lect")
        }];
        assert!(!owner_present(&unlocked, &old_row));
    }

    fn lobby(mode: LobbyMode) -> GuardSettings {
        GuardSettings {
            lobby: mode,
            ..GuardSettings::default()
        }
    }

    #[test]
    fn the_lobby_setting_keeps_jitsis_lobby_as_it_asks() {
        let open = meeting(false, &[("student", false)]);
        let mut held = open.clone();
        held.lobby = true;
        // Always: on, whatever happens inside; and left on.
        assert_eq!(
            moves(&lobby(LobbyMode::Always), &open, &[], &Setter::Unchanged),
            [Move::Lobby { on: true }]
        );
        assert!(moves(&lobby(LobbyMode::Always), &held, &[], &Setter::Unchanged).is_empty());
        // Until an owner is in: on without one, off with the owner who came with a code,
        // not with someone else under the owner's nick.
        let until_owner = lobby(LobbyMode::UntilOwner);
        assert_eq!(
            moves(&until_owner, &open, &[], &Setter::Unchanged),
            [Move::Lobby { on: true }]
        );
        let mut owner_in = meeting(false, &[("lect", true), ("student", false)]);
        owner_in.lobby = true;
        assert_eq!(
            moves(
                &until_owner,
                &owner_in,
                &[owner("lect")],
                &Setter::Unchanged
            ),
            [Move::Lobby { on: false }]
        );
        let mut impostor = owner_in;
        impostor.participants[0].session = "x7y8z9@meet.test/other-connection".into();
        assert!(
            moves(
                &until_owner,
                &impostor,
                &[owner("lect")],
                &Setter::Unchanged
            )
            .is_empty()
        );
        // Off: Jitsi's moderators decide.
        assert!(moves(&lobby(LobbyMode::Off), &held, &[], &Setter::Unchanged).is_empty());
        assert!(moves(&lobby(LobbyMode::Off), &open, &[], &Setter::Unchanged).is_empty());
    }

    #[test]
    fn a_students_lock_is_removed_and_he_loses_moderator() {
        let now = meeting(true, &[("evil", true), ("other", false)]);
        let setter = Setter::Participant("evil".into());
        assert_eq!(
            moves(&guard(true, ModeratorGuard::Off), &now, &[], &setter),
            [
                Move::RemovePassword {
                    set_by: Some("evil".into())
                },
                revoke("evil", Why::Password)
            ]
        );
        // Unguarded: nothing.
        assert!(moves(&GuardSettings::default(), &now, &[], &setter).is_empty());
    }

    #[test]
    fn an_owners_password_is_kept() {
        let now = meeting(true, &[("lect", true)]);
        let settings = guard(true, ModeratorGuard::Off);
        assert!(moves(&settings, &now, &[], &Setter::Owner).is_empty());
        let in_meeting = Setter::Participant("lect".into());
        assert!(moves(&settings, &now, &[owner("lect")], &in_meeting).is_empty());
    }

    #[test]
    fn no_news_about_the_password_leaves_it_to_the_event_that_set_it() {
        let now = meeting(true, &[("evil", true)]);
        let settings = guard(true, ModeratorGuard::Off);
        assert!(moves(&settings, &now, &[], &Setter::Unchanged).is_empty());
    }

    #[test]
    fn a_lock_by_nobody_known_costs_every_untrusted_moderator() {
        let now = meeting(true, &[("a", true), ("b", true), ("lect", true)]);
        assert_eq!(
            moves(
                &guard(true, ModeratorGuard::Off),
                &now,
                &[owner("lect")],
                &Setter::Unknown
            ),
            [
                Move::RemovePassword { set_by: None },
                revoke("a", Why::Password),
                revoke("b", Why::Password)
            ]
        );
    }

    #[test]
    fn until_owner_waits_for_an_owner() {
        let settings = guard(false, ModeratorGuard::UntilOwner);
        let before = meeting(false, &[("pick", true), ("lect", false)]);
        assert!(moves(&settings, &before, &[], &Setter::Unknown).is_empty());
        // A trusted moderator who is not an owner does not count as the owner arriving.
        let helper = meeting(false, &[("pick", true), ("help", true)]);
        assert!(moves(&settings, &helper, &[granted("help")], &Setter::Unknown).is_empty());
        let arrived = meeting(false, &[("pick", true), ("lect", true), ("help", true)]);
        assert_eq!(
            moves(
                &settings,
                &arrived,
                &[owner("lect"), granted("help")],
                &Setter::Unknown
            ),
            [revoke("pick", Why::NotAllowed)]
        );
        // An owner who has left is not present.
        let left = meeting(false, &[("pick", true)]);
        assert!(moves(&settings, &left, &[owner("lect")], &Setter::Unknown).is_empty());
    }

    #[test]
    fn strict_reverts_every_pick_even_with_nobody_left() {
        let settings = guard(false, ModeratorGuard::Strict);
        let now = meeting(false, &[("pick", true), ("other", false)]);
        assert_eq!(
            moves(&settings, &now, &[], &Setter::Unknown),
            [revoke("pick", Why::NotAllowed)]
        );
        let calm = meeting(false, &[("pick", false), ("help", true)]);
        assert!(moves(&settings, &calm, &[granted("help")], &Setter::Unknown).is_empty());
        assert!(moves(&settings, &Meeting::not_running(), &[], &Setter::Unknown).is_empty());
    }

    #[test]
    fn one_revoke_per_person_whatever_the_reasons() {
        let now = meeting(true, &[("evil", true)]);
        let setter = Setter::Participant("evil".into());
        assert_eq!(
            moves(&guard(true, ModeratorGuard::Strict), &now, &[], &setter),
            [
                Move::RemovePassword {
                    set_by: Some("evil".into())
                },
                revoke("evil", Why::Password)
            ]
        );
    }

    #[test]
    fn the_join_link_carries_the_name_as_json_in_the_hash() {
        assert_eq!(
            join_url("https://meet.test/logic", "Prof. Ada (RK-ABCDEFGHJK)"),
            "https://meet.test/logic#userInfo.displayName=%22Prof.%20Ada%20%28RK-ABCDEFGHJK%29%22"
        );
        assert!(
            join_url("https://meet.test/x", "Zoë \"Z\"")
                .ends_with("%22Zo%C3%AB%20%5C%22Z%5C%22%22")
        );
    }
}
