//! Running meetings: what is going on in a room, and the owners' actions on it, each
//! written into the room's history with who did it, from where and to whom.

use roomkeeper_domain::{AuditAction, MeetingStep};
use roomkeeper_jitsi::Meeting;
use roomkeeper_store::{ModeratorTrust, Room};

use crate::{Acting, Error, Stamp, UseCases};

/// What front ends show of the meeting servers and of a followed room.
pub use roomkeeper_jitsi::{ConnectProblem, RoomFeed, RoomOwnership, RoomState, ShardStatus};

/// Whether any meeting server is configured (without one, nothing is controlled).
pub fn configured(uc: &UseCases) -> bool {
    !uc.shards.is_empty()
}

/// Each meeting server's connection, companion module and room ownership.
pub fn shards(uc: &UseCases) -> Vec<ShardStatus> {
    uc.shards.status()
}

/// Whether Prosody pushes changes (the companion module): pages then update at once.
pub fn pushes_changes(uc: &UseCases) -> bool {
    uc.meetings.pushes_events()
}

/// Follows `room` while the answer is held: its state, kept current, for every follower.
pub fn follow(uc: &UseCases, room: &roomkeeper_domain::RoomName) -> std::sync::Arc<RoomFeed> {
    uc.watch.follow(room)
}

/// How many rooms are followed now.
pub fn followed(uc: &UseCases) -> usize {
    uc.watch.followed()
}

#[derive(Debug, Clone, Copy)]
pub enum MeetingAction<'a> {
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
    /// Let the knocker with this id in from the lobby.
    Admit(&'a str),
    /// Send the knocker with this id away from the lobby.
    Deny(&'a str),
    /// Let everyone knocking now in (the start of a lecture).
    AdmitAll,
}

/// The meeting now: from the room's live state when someone follows it and Prosody
/// pushes changes (no query, so people reloading pages cannot crowd out actions),
/// otherwise asked of Prosody.
pub async fn meeting(uc: &UseCases, room: &Room) -> Result<Meeting, Error> {
    let name = &room.name;
    if let Some(meeting) = uc.watch.current(name).await {
        metrics::counter!("jitsi_meeting_reads_total", "from" => "followed").increment(1);
        return Ok(meeting);
    }
    metrics::counter!("jitsi_meeting_reads_total", "from" => "prosody").increment(1);
    Ok(uc.meetings.meeting(name).await?)
}

async fn record(
    uc: &UseCases,
    stamp: &Stamp,
    room: &Room,
    action: AuditAction,
    participant: Option<(&str, Option<&str>)>,
) -> Result<(), Error> {
    uc.store
        .record_audit(
            &stamp.audit(),
            action,
            Some(room.name.as_str()),
            None,
            &detail(participant),
        )
        .await?;
    Ok(())
}

/// The history's detail of an action on a participant (with the display name Jitsi told).
fn detail(participant: Option<(&str, Option<&str>)>) -> String {
    match participant {
        Some((id, Some(name))) => {
            serde_json::json!({ "participant": id, "participant_name": name })
        }
        Some((id, None)) => serde_json::json!({ "participant": id }),
        None => serde_json::json!({}),
    }
    .to_string()
}

/// Passes Jitsi's answer on. A refusal or an unreachable Prosody is first written into
/// the room's history as the step's failure with the error: "I took his rights away" and
/// "I tried and it did not work" both belong there. Failing to write that entry does not
/// hide Jitsi's error, which is what the person needs to hear.
async fn unless_failed<T>(
    uc: &UseCases,
    stamp: &Stamp,
    room: &Room,
    step: MeetingStep,
    participant: Option<&str>,
    answer: Result<T, roomkeeper_jitsi::Error>,
) -> Result<T, Error> {
    let error = match answer {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut detail = serde_json::json!({ "error": error.to_string() });
    if let Some(id) = participant {
        detail["participant"] = id.into();
    }
    let written = uc
        .store
        .record_audit(
            &stamp.audit(),
            step.failed(),
            Some(room.name.as_str()),
            None,
            &detail.to_string(),
        )
        .await;
    if let Err(e) = written {
        tracing::warn!(room = %room.name, ?step, error = %e, "could not record a failed meeting action");
    }
    Err(error.into())
}

/// A grant through Roomkeeper, written into the history together with the guard's trust
/// in that occupant (its connection, as the meeting after the grant shows it), not
/// whoever has its nick later: the room's guard leaves them be.
async fn granted(
    uc: &UseCases,
    stamp: &Stamp,
    room: &Room,
    meeting: &Meeting,
    participant: &str,
    acting: &Acting<'_>,
) -> Result<(), Error> {
    let trust = match meeting.participants.iter().find(|p| p.id == participant) {
        Some(occupant) => ModeratorTrust::Trusted {
            occupant: &occupant.session,
            username: &acting.user.username,
        },
        // Gone already: nobody to trust.
        None => ModeratorTrust::Unchanged,
    };
    let who = Some((participant, name_in(meeting, participant)));
    uc.store
        .record_moderator_change(
            &stamp.audit(),
            room,
            AuditAction::GrantModerator,
            &detail(who),
            participant,
            trust,
        )
        .await?;
    Ok(())
}

/// Admits or denies one knocker, with its history entry (the name as they typed it at
/// the lobby, read before: once in or away they are gone from the lobby's list).
async fn lobby_step(
    uc: &UseCases,
    stamp: &Stamp,
    room: &Room,
    knocker: &str,
    admit: bool,
) -> Result<Meeting, Error> {
    let name = &room.name;
    let step = if admit {
        MeetingStep::Admit
    } else {
        MeetingStep::Deny
    };
    let answer = uc.meetings.meeting(name).await;
    let before = unless_failed(uc, stamp, room, step, Some(knocker), answer).await?;
    let answer = if admit {
        uc.meetings.admit(name, knocker).await
    } else {
        uc.meetings.deny(name, knocker).await
    };
    let meeting = unless_failed(uc, stamp, room, step, Some(knocker), answer).await?;
    let typed = before
        .knocking
        .iter()
        .find(|k| k.id == knocker)
        .and_then(|k| k.display_name.as_deref());
    record(uc, stamp, room, step.done(), Some((knocker, typed))).await?;
    Ok(meeting)
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
    uc: &UseCases,
    acting: &Acting<'_>,
    room: &Room,
    action: MeetingAction<'_>,
) -> Result<Option<Meeting>, Error> {
    let name = &room.name;
    let stamp = Stamp::new(uc, acting);
    let meetings = &uc.meetings;
    let after = match action {
        MeetingAction::Grant(participant) => {
            let answer = meetings.set_moderator(name, participant, true).await;
            let meeting = unless_failed(
                uc,
                &stamp,
                room,
                MeetingStep::GrantModerator,
                Some(participant),
                answer,
            )
            .await?;
            granted(uc, &stamp, room, &meeting, participant, acting).await?;
            Some(meeting)
        }
        MeetingAction::Revoke {
            participant,
            then_grant,
        } => {
            let answer = meetings.set_moderator(name, participant, false).await;
            let mut meeting = unless_failed(
                uc,
                &stamp,
                room,
                MeetingStep::RevokeModerator,
                Some(participant),
                answer,
            )
            .await?;
            let who = Some((participant, name_in(&meeting, participant)));
            uc.store
                .record_moderator_change(
                    &stamp.audit(),
                    room,
                    AuditAction::RevokeModerator,
                    &detail(who),
                    participant,
                    ModeratorTrust::Forgotten,
                )
                .await?;
            if let Some(successor) = then_grant {
                let answer = meetings.set_moderator(name, successor, true).await;
                meeting = unless_failed(
                    uc,
                    &stamp,
                    room,
                    MeetingStep::GrantModerator,
                    Some(successor),
                    answer,
                )
                .await?;
                granted(uc, &stamp, room, &meeting, successor, acting).await?;
            }
            Some(meeting)
        }
        MeetingAction::RemovePassword => {
            let answer = meetings.remove_password(name).await;
            let meeting =
                unless_failed(uc, &stamp, room, MeetingStep::RemovePassword, None, answer).await?;
            record(uc, &stamp, room, AuditAction::RemovePassword, None).await?;
            Some(meeting)
        }
        MeetingAction::Kick(participant) => {
            // Asked first: once removed, the person's name is gone from the meeting.
            let answer = meetings.meeting(name).await;
            let before = unless_failed(
                uc,
                &stamp,
                room,
                MeetingStep::Kick,
                Some(participant),
                answer,
            )
            .await?;
            let answer = meetings.kick(name, participant).await;
            let meeting = unless_failed(
                uc,
                &stamp,
                room,
                MeetingStep::Kick,
                Some(participant),
                answer,
            )
            .await?;
            let who = Some((participant, name_in(&before, participant)));
            record(uc, &stamp, room, AuditAction::Kick, who).await?;
            Some(meeting)
        }
        MeetingAction::Admit(knocker) => Some(lobby_step(uc, &stamp, room, knocker, true).await?),
        MeetingAction::Deny(knocker) => Some(lobby_step(uc, &stamp, room, knocker, false).await?),
        MeetingAction::AdmitAll => {
            let answer = meetings.meeting(name).await;
            let mut meeting =
                unless_failed(uc, &stamp, room, MeetingStep::Admit, None, answer).await?;
            let knocking: Vec<String> = meeting.knocking.iter().map(|k| k.id.clone()).collect();
            for knocker in &knocking {
                match lobby_step(uc, &stamp, room, knocker, true).await {
                    Ok(now) => meeting = now,
                    // Gone meanwhile (left, or someone else let them in).
                    Err(Error::Meeting(roomkeeper_jitsi::Error::ParticipantGone)) => {}
                    Err(other) => return Err(other),
                }
            }
            Some(meeting)
        }
        MeetingAction::End => {
            let answer = meetings
                .end_meeting(name, "The meeting was ended by the room's owner.")
                .await;
            unless_failed(uc, &stamp, room, MeetingStep::EndMeeting, None, answer).await?;
            record(uc, &stamp, room, AuditAction::EndMeeting, None).await?;
            None
        }
    };
    tracing::info!(room = %room.name, actor = %acting.user.username, ?action, "meeting action");
    Ok(after)
}
