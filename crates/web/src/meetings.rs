//! Live-control actions shared by the pages and the API: each goes to Jitsi, then into
//! the room's history with who did it, from where and to which participant.

use std::net::IpAddr;

use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{Meeting, MeetingControl};
use roomkeeper_store::{Room, User};

use crate::rooms::{address_text, audit};
use crate::{AppState, Error};

#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Grant(&'a str),
    /// Revoke, and optionally make someone else moderator in the same step: Jitsi does
    /// not pick a new moderator by itself.
    Revoke {
        participant: &'a str,
        then_grant: Option<&'a str>,
    },
    RemovePassword,
    Kick(&'a str),
    End,
}

pub fn room_name(room: &Room) -> Result<RoomName, Error> {
    RoomName::from_canonical(&room.name).map_err(|e| Error::Internal(e.to_string()))
}

/// The meeting now: from the room's live state when someone follows it and Prosody
/// pushes changes (no query, so people reloading pages cannot crowd out actions),
/// otherwise asked of Prosody.
pub async fn meeting(state: &AppState, room: &Room) -> Result<Meeting, Error> {
    let name = room_name(room)?;
    if let Some(meeting) = state.watch.current(&name).await {
        metrics::counter!("jitsi_meeting_reads_total", "from" => "followed").increment(1);
        return Ok(meeting);
    }
    metrics::counter!("jitsi_meeting_reads_total", "from" => "prosody").increment(1);
    Ok(state.meetings.meeting(&name).await?)
}

async fn record(
    state: &AppState,
    actor: &User,
    address: Option<&str>,
    room: &Room,
    action: &str,
    participant: Option<(&str, Option<&str>)>,
) -> Result<(), Error> {
    let detail = match participant {
        Some((id, Some(name))) => {
            serde_json::json!({ "participant": id, "participant_name": name })
        }
        Some((id, None)) => serde_json::json!({ "participant": id }),
        None => serde_json::json!({}),
    }
    .to_string();
    state
        .store
        .record_audit(
            &audit(state, actor, address),
            action,
            Some(&room.name),
            None,
            &detail,
        )
        .await?;
    Ok(())
}

/// The display name of a participant, when Jitsi tells it (companion module).
fn name_in<'m>(meeting: &'m Meeting, participant: &str) -> Option<&'m str> {
    meeting
        .participants
        .iter()
        .find(|p| p.id == participant)
        .and_then(|p| p.display_name.as_deref())
}

/// Performs `action`; answers the meeting afterwards (`None` once it has ended).
pub async fn act(
    state: &AppState,
    actor: &User,
    address: Option<IpAddr>,
    room: &Room,
    action: Action<'_>,
) -> Result<Option<Meeting>, Error> {
    let name = room_name(room)?;
    let address = address_text(address);
    let address = address.as_deref();
    let meetings = &state.meetings;
    let after = match action {
        Action::Grant(participant) => {
            let meeting = meetings.set_moderator(&name, participant, true).await?;
            record(
                state,
                actor,
                address,
                room,
                "grant_moderator",
                Some((participant, name_in(&meeting, participant))),
            )
            .await?;
            Some(meeting)
        }
        Action::Revoke {
            participant,
            then_grant,
        } => {
            let mut meeting = meetings.set_moderator(&name, participant, false).await?;
            record(
                state,
                actor,
                address,
                room,
                "revoke_moderator",
                Some((participant, name_in(&meeting, participant))),
            )
            .await?;
            if let Some(successor) = then_grant {
                meeting = meetings.set_moderator(&name, successor, true).await?;
                record(
                    state,
                    actor,
                    address,
                    room,
                    "grant_moderator",
                    Some((successor, name_in(&meeting, successor))),
                )
                .await?;
            }
            Some(meeting)
        }
        Action::RemovePassword => {
            let meeting = meetings.remove_password(&name).await?;
            record(state, actor, address, room, "remove_password", None).await?;
            Some(meeting)
        }
        Action::Kick(participant) => {
            // Asked first: once removed, the person's name is gone from the meeting.
            let before = meetings.meeting(&name).await?;
            let meeting = meetings.kick(&name, participant).await?;
            let who = Some((participant, name_in(&before, participant)));
            record(state, actor, address, room, "kick", who).await?;
            Some(meeting)
        }
        Action::End => {
            meetings
                .end_meeting(&name, "The meeting was ended by the room's owner.")
                .await?;
            record(state, actor, address, room, "end_meeting", None).await?;
            None
        }
    };
    tracing::info!(room = %room.name, actor = %actor.username, ?action, "meeting action");
    Ok(after)
}
