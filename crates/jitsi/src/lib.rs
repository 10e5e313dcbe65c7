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
/// The meeting as Roomkeeper shows it lives with the other types pages show.
pub use roomkeeper_domain::{Knocker, Meeting, Participant};
pub use shards::{ShardStatus, Shards};
pub use watch::{MeetingWatch, RoomFeed, RoomState};
pub use xmpp::{XmppShard, refusal};

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
pub const MODULE_REVISION: &str = "3";

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
    /// The lobby's actions go through the companion module only.
    #[error(
        "This needs Roomkeeper's Prosody module (roomkeeper-prosody) on the Jitsi server; \
         docs/JITSI-SETUP.md says how to load it."
    )]
    NeedsModule,
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
    /// Turns the room's lobby (jitsi-meet's) on or off; on, everyone inside stays.
    async fn set_lobby(&self, room: &RoomName, on: bool) -> Result<Meeting, Error>;
    /// Lets the knocker with this id in, as a moderator's "admit" in Jitsi does.
    async fn admit(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error>;
    /// Sends the knocker with this id away, as Jitsi's "reject" does.
    async fn deny(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error>;
    /// The rooms whose lobby is on from the moment they are created (the whole list,
    /// replacing the last one).
    async fn set_lobby_rooms(&self, rooms: &[RoomName]) -> Result<(), Error>;
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
        assert!(module_mismatch(Some("4")).unwrap().contains("revision 4"));
    }
}
