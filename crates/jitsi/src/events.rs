//! What the companion Prosody module (`prosody/mod_roomkeeper.lua`) tells us, and how a
//! known meeting changes with it. Without the module there are no events and rooms are
//! read again every second instead.

use tokio_xmpp::minidom::Element;

use crate::stanzas::ROOMKEEPER;
use crate::{Knocker, Meeting, Participant, ShardConfig};

/// Who changed a room's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedBy {
    /// Not told (the room was created, or someone outside the room changed it).
    Unknown,
    /// Roomkeeper's own account.
    Service,
    /// The occupant with this participant id.
    Participant(String),
}

/// A change in one room (named canonically: `room` or `tenant/room`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// Someone joined, or their role, affiliation or display name changed.
    Occupant {
        room: String,
        participant: Participant,
    },
    Left {
        room: String,
        id: String,
    },
    Config {
        room: String,
        password_protected: bool,
        members_only: bool,
        /// jitsi-meet's lobby is on.
        lobby: bool,
        /// Who submitted the change (the room's creation has nobody).
        by: ChangedBy,
    },
    /// Someone joined with a join code in their display name (taken out of it before
    /// anyone else saw it); told once they are in the room.
    JoinCode {
        room: String,
        participant: String,
        code: String,
        /// The connection that joined with it (empty from a module that does not say).
        session: String,
        /// Sent from the room's lobby: `participant` is the knocker's lobby nick.
        in_lobby: bool,
    },
    /// Someone knocks in the room's lobby (or their display name there changed).
    Knock {
        room: String,
        knocker: Knocker,
    },
    /// A knocker left the lobby: admitted, denied, or gone.
    KnockLeft {
        room: String,
        id: String,
    },
    Destroyed {
        room: String,
    },
    /// The whole room as the module answered a query or an action, in its place among
    /// the pushed changes.
    Snapshot {
        room: String,
        meeting: Meeting,
    },
    /// Events may have been missed (reconnect, a slow follower): read rooms again.
    Resync,
}

impl RoomEvent {
    pub fn room(&self) -> Option<&str> {
        match self {
            Self::Occupant { room, .. }
            | Self::Left { room, .. }
            | Self::Config { room, .. }
            | Self::JoinCode { room, .. }
            | Self::Knock { room, .. }
            | Self::KnockLeft { room, .. }
            | Self::Destroyed { room }
            | Self::Snapshot { room, .. } => Some(room),
            Self::Resync => None,
        }
    }
}

/// An `<occupant/>` element of the module (pushed, or in a room query's answer).
/// `None` for a service occupant (focus, recorder, …) or an element we cannot read.
pub(crate) fn participant(element: &Element, config: &ShardConfig) -> Option<Participant> {
    let jid = element.attr("jid")?;
    if config.is_service(jid) {
        return None;
    }
    Some(Participant {
        id: element.attr("nick")?.to_owned(),
        display_name: element
            .attr("name")
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned),
        moderator: element.attr("role") == Some("moderator"),
        joined_at: element.attr("joined").and_then(|t| t.parse().ok()),
        jid: jid.to_owned(),
        // A module older than `session` tells none: the participant then matches no
        // trust (empty never equals a stored connection).
        session: element.attr("session").unwrap_or_default().to_owned(),
    })
}

/// A `<knocker/>` element of the module (pushed as `knock`, or in a room's answer).
pub(crate) fn knocker(element: &Element) -> Option<Knocker> {
    Some(Knocker {
        id: element.attr("nick")?.to_owned(),
        display_name: element
            .attr("name")
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned),
        knocking_since: element.attr("since").and_then(|t| t.parse().ok()),
        jid: element.attr("jid").unwrap_or_default().to_owned(),
        session: element.attr("session").unwrap_or_default().to_owned(),
    })
}

/// The module's `<room/>` (the answer to a room query or action) as a meeting.
pub(crate) fn module_meeting(room: &Element, config: &ShardConfig) -> Meeting {
    let mut meeting = Meeting {
        running: true,
        password_protected: room.attr("password") == Some("1"),
        members_only: room.attr("members_only") == Some("1"),
        participants: room
            .children()
            .filter(|c| c.is("occupant", ROOMKEEPER))
            .filter_map(|c| participant(c, config))
            .collect(),
        lobby: room.attr("lobby") == Some("1"),
        knocking: room
            .children()
            .filter(|c| c.is("knocker", ROOMKEEPER))
            .filter_map(knocker)
            .collect(),
    };
    meeting.sort();
    meeting
}

/// A pushed event (a message's payload from the MUC component), if it is one of ours.
pub fn parse(payload: &Element, config: &ShardConfig) -> Option<RoomEvent> {
    if payload.ns() != ROOMKEEPER {
        return None;
    }
    let room = config.room_of_jid(payload.attr("room")?)?;
    let flag = |name| payload.attr(name) == Some("1");
    match payload.name() {
        "occupant" => Some(RoomEvent::Occupant {
            participant: participant(payload, config)?,
            room,
        }),
        "left" => Some(RoomEvent::Left {
            id: payload.attr("nick")?.to_owned(),
            room,
        }),
        "config" => Some(RoomEvent::Config {
            password_protected: flag("password"),
            members_only: flag("members_only"),
            lobby: flag("lobby"),
            by: match payload.attr("by") {
                _ if flag("service") => ChangedBy::Service,
                Some(nick) => ChangedBy::Participant(nick.to_owned()),
                None => ChangedBy::Unknown,
            },
            room,
        }),
        "code" => Some(RoomEvent::JoinCode {
            participant: payload.attr("nick")?.to_owned(),
            code: payload.attr("value")?.to_owned(),
            session: payload.attr("session").unwrap_or_default().to_owned(),
            in_lobby: flag("lobby"),
            room,
        }),
        "knocker" => Some(RoomEvent::Knock {
            knocker: knocker(payload)?,
            room,
        }),
        "knock-left" => Some(RoomEvent::KnockLeft {
            id: payload.attr("nick")?.to_owned(),
            room,
        }),
        "destroyed" => Some(RoomEvent::Destroyed { room }),
        _ => None,
    }
}

/// Applies a change to the meeting as last known. `false` when the change cannot be
/// applied to what we know (a meeting we believed not running): read the room instead.
pub fn apply(meeting: &mut Meeting, event: &RoomEvent) -> bool {
    match event {
        RoomEvent::Destroyed { .. } => {
            *meeting = Meeting::not_running();
            true
        }
        RoomEvent::Snapshot { meeting: now, .. } => {
            *meeting = now.clone();
            true
        }
        RoomEvent::Resync => false,
        // Not a change of the meeting's state.
        RoomEvent::JoinCode { .. } => true,
        _ if !meeting.running => false,
        RoomEvent::Occupant { participant, .. } => {
            match meeting
                .participants
                .iter_mut()
                .find(|p| p.id == participant.id)
            {
                Some(known) => *known = participant.clone(),
                None => meeting.participants.push(participant.clone()),
            }
            meeting.sort();
            true
        }
        RoomEvent::Left { id, .. } => {
            meeting.participants.retain(|p| &p.id != id);
            true
        }
        RoomEvent::Config {
            password_protected,
            members_only,
            lobby,
            ..
        } => {
            meeting.password_protected = *password_protected;
            meeting.members_only = *members_only;
            meeting.lobby = *lobby;
            if !lobby {
                meeting.knocking.clear();
            }
            true
        }
        RoomEvent::Knock { knocker, .. } => {
            match meeting.knocking.iter_mut().find(|k| k.id == knocker.id) {
                Some(known) => *known = knocker.clone(),
                None => meeting.knocking.push(knocker.clone()),
            }
            meeting.sort();
            true
        }
        RoomEvent::KnockLeft { id, .. } => {
            meeting.knocking.retain(|k| &k.id != id);
            true
        }
    }
}
