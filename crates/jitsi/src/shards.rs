//! Several Jitsi deployments behind one [`MeetingControl`]: a room is looked for on
//! every shard, and actions go to the shard where its meeting runs.

use std::sync::Arc;

use async_trait::async_trait;
use roomkeeper_domain::RoomName;

use tokio::sync::broadcast;

use crate::{ConnectProblem, Error, Meeting, MeetingControl, RoomEvent, RoomOwnership, XmppShard};

pub struct Shards {
    shards: Vec<Arc<XmppShard>>,
    /// Every shard's events, merged.
    events: broadcast::Sender<RoomEvent>,
    _forwarders: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Shards {
    fn drop(&mut self) {
        for forwarder in &self._forwarders {
            forwarder.abort();
        }
    }
}

/// One shard's connection, for `/readyz` and the admin pages.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShardStatus {
    pub name: String,
    pub address: String,
    pub online: bool,
    /// The companion Prosody module answers: display names, real kicks, pushed changes.
    pub companion_module: bool,
    /// Whether removing a password and ending a meeting can work (see [`RoomOwnership`]).
    pub room_ownership: RoomOwnership,
    /// As the companion module tells it.
    pub prosody_version: Option<String>,
    /// The companion module is of another revision than this Roomkeeper: what to do.
    pub module_mismatch: Option<String>,
    /// While not online: why (unreachable, certificate, login), in words that name the fix.
    pub problem: Option<ConnectProblem>,
}

impl Shards {
    /// Needs a Tokio runtime: one task per shard forwards its events.
    pub fn new(shards: Vec<Arc<XmppShard>>) -> Self {
        let (events, _) = broadcast::channel(4096);
        let forwarders = shards
            .iter()
            .map(|shard| {
                let mut from = shard.events();
                let to = events.clone();
                tokio::spawn(async move {
                    loop {
                        match from.recv().await {
                            Ok(event) => drop(to.send(event)),
                            Err(broadcast::error::RecvError::Lagged(_)) => {
                                drop(to.send(RoomEvent::Resync));
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                })
            })
            .collect();
        Self {
            shards,
            events,
            _forwarders: forwarders,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// Waits until every shard is connected and knows whether the companion module is
    /// there (start-up, tests), at most `limit` for each.
    pub async fn wait_ready(&self, limit: std::time::Duration) -> bool {
        for shard in &self.shards {
            if !shard.wait_online(limit).await {
                return false;
            }
        }
        true
    }

    pub fn status(&self) -> Vec<ShardStatus> {
        self.shards
            .iter()
            .map(|s| ShardStatus {
                name: s.config().name.clone(),
                address: s.config().xmpp_address.clone(),
                online: s.is_online(),
                companion_module: s.has_companion(),
                room_ownership: s.room_ownership(),
                prosody_version: s.prosody_version(),
                module_mismatch: s.module_mismatch(),
                problem: s.problem(),
            })
            .collect()
    }

    /// The shard running this room's meeting, with the meeting.
    async fn locate(&self, room: &RoomName) -> Result<(Arc<XmppShard>, Meeting), Error> {
        if self.shards.is_empty() {
            return Err(Error::NoShard);
        }
        let mut unreachable = None;
        for shard in &self.shards {
            match shard.meeting(room).await {
                Ok(meeting) if meeting.running => return Ok((Arc::clone(shard), meeting)),
                Ok(_) => {}
                Err(error @ (Error::Unreachable(_) | Error::NotConnected(_))) => {
                    unreachable = Some(error);
                }
                Err(other) => return Err(other),
            }
        }
        // Not running anywhere we could ask; if a shard did not answer, say so rather
        // than claim there is no meeting.
        Err(unreachable.unwrap_or(Error::NoMeeting))
    }
}

impl Shards {
    /// Where to send an action: with one shard, straight there (the action itself tells
    /// when no meeting runs); with several, the one running the meeting.
    async fn shard_for(&self, room: &RoomName) -> Result<Arc<XmppShard>, Error> {
        match self.shards.as_slice() {
            [only] => Ok(Arc::clone(only)),
            _ => Ok(self.locate(room).await?.0),
        }
    }
}

#[async_trait]
impl MeetingControl for Shards {
    async fn meeting(&self, room: &RoomName) -> Result<Meeting, Error> {
        match self.locate(room).await {
            Ok((_, meeting)) => Ok(meeting),
            Err(Error::NoMeeting) => Ok(Meeting::not_running()),
            Err(other) => Err(other),
        }
    }

    async fn set_moderator(
        &self,
        room: &RoomName,
        participant: &str,
        moderator: bool,
    ) -> Result<Meeting, Error> {
        self.shard_for(room)
            .await?
            .set_moderator(room, participant, moderator)
            .await
    }

    async fn set_password(&self, room: &RoomName, secret: &str) -> Result<Meeting, Error> {
        self.shard_for(room).await?.set_password(room, secret).await
    }

    async fn kick(&self, room: &RoomName, participant: &str) -> Result<Meeting, Error> {
        self.shard_for(room).await?.kick(room, participant).await
    }

    async fn end_meeting(&self, room: &RoomName, reason: &str) -> Result<(), Error> {
        self.shard_for(room).await?.end_meeting(room, reason).await
    }

    async fn set_lobby(&self, room: &RoomName, on: bool) -> Result<Meeting, Error> {
        self.shard_for(room).await?.set_lobby(room, on).await
    }

    async fn admit(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error> {
        self.shard_for(room).await?.admit(room, knocker).await
    }

    async fn deny(&self, room: &RoomName, knocker: &str) -> Result<Meeting, Error> {
        self.shard_for(room).await?.deny(room, knocker).await
    }

    /// To every shard: a room may be created on any of them. Each is told even when
    /// another fails; the first failure is the answer.
    async fn set_lobby_rooms(&self, rooms: &[RoomName]) -> Result<(), Error> {
        if self.shards.is_empty() {
            return Err(Error::NoShard);
        }
        let mut failed = None;
        for shard in &self.shards {
            if let Err(error) = shard.set_lobby_rooms(rooms).await {
                failed.get_or_insert(error);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    fn events(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }

    fn pushes_events(&self) -> bool {
        !self.shards.is_empty() && self.shards.iter().all(|s| s.has_companion())
    }

    fn connected(&self) -> bool {
        self.shards.iter().any(|s| s.is_online())
    }
}
