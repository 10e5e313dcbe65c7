//! Control of running Jitsi meetings from outside, through a Prosody account that is an
//! admin of the MUC component (see `docs/JITSI-SETUP.md`). Nothing
//! else in Roomkeeper speaks XMPP: the rest of the service uses [`MeetingControl`].

mod config;
pub mod connection;
mod events;
mod jitter;
mod reach;
mod shards;
mod stanzas;
pub mod tls;
mod watch;
mod xmpp;

use async_trait::async_trait;
use roomkeeper_domain::RoomName;
use serde::Serialize;

pub use config::{JitsiConfig, ShardConfig, XmppSecurity};
pub use events::{ChangedBy, RoomEvent, apply, parse as parse_event};
pub use reach::ConnectProblem;
pub use shards::{ShardStatus, Shards};
pub use watch::{MeetingWatch, RoomFeed, RoomState};
pub use xmpp::{XmppShard, refusal};

/// Someone in a meeting, as the meeting page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// The occupant nick, which the web client uses as participant id (8 hex digits).
    pub id: String,
    /// Only with the companion module; otherwise Prosody does not tell us.
    pub display_name: Option<String>,
    pub moderator: bool,
    /// When they joined (Unix seconds): told by the companion module; without it, when
    /// Roomkeeper first saw them.
    #[serde(serialize_with = "rfc3339", skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<i64>,
    /// The real JID, to address affiliation changes. Not shown to people.
    #[serde(skip)]
    pub jid: String,
    /// The occupant's connection (its full real JID): who this is. The nick (`id`) is
    /// chosen by the client and may be taken by someone else once this one has left;
    /// anything Roomkeeper trusts an occupant with belongs to this. Not shown to people.
    #[serde(skip)]
    pub session: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meeting {
    /// Whether a meeting runs in the room now.
    pub running: bool,
    pub password_protected: bool,
    /// Lobby on: the room admits members only. Revoking then sets `member`.
    pub members_only: bool,
    /// People only: Jicofo, Jibri and Roomkeeper itself are left out.
    pub participants: Vec<Participant>,
}

impl Meeting {
    pub fn not_running() -> Self {
        Self {
            running: false,
            password_protected: false,
            members_only: false,
            participants: Vec::new(),
        }
    }

    /// In the order they joined, so that the list reads the same however it was built.
    pub fn sort(&mut self) {
        self.participants
            .sort_by(|a, b| (a.joined_at, &a.id).cmp(&(b.joined_at, &b.id)));
    }
}

fn rfc3339<S: serde::Serializer>(at: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    let text = at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    serializer.serialize_some(&text)
}

/// Whether Prosody makes the service account owner of every room, which removing a
/// password and ending a meeting need. Prosody 0.12 makes a MUC component's admins owners;
/// Prosody 13 only with `component_admins_as_room_owners = true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomOwnership {
    /// Not found out yet: without the companion module, only a running room tells.
    Unknown,
    Owner,
    NotOwner,
}

/// The companion module's revision this Roomkeeper was built with
/// (`REVISION` in `prosody/mod_roomkeeper.lua`, the same source tree).
pub const MODULE_REVISION: &str = "2";

/// What is wrong when the companion module Prosody runs is of another revision than
/// this Roomkeeper's (`told`: what the module said; None from a module older than
/// revisions): the roomkeeper-prosody package and Roomkeeper were upgraded apart.
pub fn module_mismatch(told: Option<&str>) -> Option<String> {
    if told == Some(MODULE_REVISION) {
        return None;
    }
    Some(format!(
        "the companion module on this Prosody is revision {}, this Roomkeeper needs \
         revision {MODULE_REVISION}: install roomkeeper-prosody of Roomkeeper's version on \
         the Prosody machine and restart Prosody",
        told.unwrap_or("1 (older than revisions)")
    ))
}

/// What the operator changes when Prosody does not make the account owner of its rooms.
pub fn not_owner_help(prosody_version: Option<&str>) -> String {
    let owners = "`component_admins_as_room_owners = true` on the MUC component \
                  (jitsi-meet's template has it)";
    match prosody_version {
        Some(version) if version.starts_with("0.") => format!(
            "Prosody {version} does not make the service account owner of the rooms: \
             add it to the MUC component's `admins`"
        ),
        Some(version) => format!(
            "Prosody {version} does not make the service account owner of the rooms: \
             Prosody 13 needs {owners}, and the account in that component's `admins`"
        ),
        None => format!(
            "Prosody does not make the service account owner of the rooms: it must be in \
             the MUC component's `admins`, and Prosody 13 needs {owners}"
        ),
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("No meeting is running in this room.")]
    NoMeeting,
    #[error("This participant has left the meeting.")]
    ParticipantGone,
    /// Prosody answered with an error condition; the text says it in words.
    #[error("Prosody refused: {0}")]
    Refused(String),
    #[error("Jitsi (Prosody) is not reachable right now: {0}")]
    Unreachable(String),
    #[error("This room is not on any Jitsi server Roomkeeper is connected to.")]
    NoShard,
    /// Prosody answers, but Roomkeeper cannot connect: its certificate is not trusted,
    /// or it refuses the login. The text says which and how to fix it.
    #[error("{0}")]
    NotConnected(ConnectProblem),
}

/// What Roomkeeper can do to a running meeting. The real one is [`XmppShard`]; there is
/// no fake: tests run it against a real Prosody.
#[async_trait]
pub trait MeetingControl: Send + Sync {
    async fn meeting(&self, room: &RoomName) -> Result<Meeting, Error>;
    /// Grants (`owner` affiliation) or revokes moderator rights of the participant with
    /// that id, and answers the meeting as it is afterwards.
    async fn set_moderator(
        &self,
        room: &RoomName,
        participant: &str,
        moderator: bool,
    ) -> Result<Meeting, Error>;
    /// Sets the meeting's password (an owner's, which the guard keeps); an empty one
    /// removes it.
    async fn set_password(&self, room: &RoomName, secret: &str) -> Result<Meeting, Error>;
    async fn remove_password(&self, room: &RoomName) -> Result<Meeting, Error> {
        self.set_password(room, "").await
    }
    /// With the companion module a real kick (status 307, as the web client expects).
    /// Without it "outcast, then none": the person leaves (status 301) and may rejoin.
    async fn kick(&self, room: &RoomName, participant: &str) -> Result<Meeting, Error>;
    async fn end_meeting(&self, room: &RoomName, reason: &str) -> Result<(), Error>;
    /// Changes as Prosody pushes them (companion module only; nothing comes without it).
    fn events(&self) -> tokio::sync::broadcast::Receiver<RoomEvent>;
    /// Whether every change arrives as an event, so rooms need not be polled.
    fn pushes_events(&self) -> bool;
    /// Whether a meeting could be read now (a shard is connected): reading every
    /// guarded room while Prosody is away only fails, once per room.
    fn connected(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module and the service are built from one tree: a change to one side's
    /// revision without the other fails here.
    #[test]
    fn the_module_in_this_tree_is_the_revision_roomkeeper_expects() {
        let module = include_str!("../../../prosody/mod_roomkeeper.lua");
        let line = format!("local REVISION = \"{MODULE_REVISION}\";");
        assert!(
            module.contains(&line),
            "prosody/mod_roomkeeper.lua lacks {line}"
        );
        assert_eq!(module_mismatch(Some(MODULE_REVISION)), None);
        let older = module_mismatch(None).unwrap();
        assert!(older.contains("install roomkeeper-prosody"), "{older}");
        assert!(module_mismatch(Some("3")).unwrap().contains("revision 3"));
    }
}
