//! One stream of state per room: the source of a room's live state for everything that
//! follows it (the room page today, automatic protections later). A room is watched
//! only while someone follows it; all followers share one poller.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use roomkeeper_domain::RoomName;
use tokio::sync::watch;

use crate::{Meeting, MeetingControl};

/// The last known state of a room's meeting, or why it could not be read.
pub type RoomState = Option<Result<Meeting, String>>;

/// Follows one room while it is held; stops when the last follower lets go.
pub struct RoomFeed {
    state: watch::Receiver<RoomState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RoomFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RoomFeed {
    /// A receiver that sees every change (and the current state first).
    pub fn subscribe(&self) -> watch::Receiver<RoomState> {
        self.state.clone()
    }
}

pub struct MeetingWatch {
    control: Arc<dyn MeetingControl>,
    every: Duration,
    rooms: Mutex<HashMap<String, Weak<RoomFeed>>>,
}

impl MeetingWatch {
    /// Without the companion module Prosody pushes nothing to an outsider, so the state
    /// is read every `every` (1 s keeps changes within the promised 3 s).
    pub fn new(control: Arc<dyn MeetingControl>, every: Duration) -> Self {
        Self {
            control,
            every,
            rooms: Mutex::default(),
        }
    }

    pub fn follow(&self, room: &RoomName) -> Arc<RoomFeed> {
        let key = room.canonical();
        let mut rooms = self
            .rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rooms.retain(|_, feed| feed.strong_count() > 0);
        if let Some(feed) = rooms.get(&key).and_then(Weak::upgrade) {
            return feed;
        }
        let (sender, state) = watch::channel(None);
        let control = Arc::clone(&self.control);
        let every = self.every;
        let room = room.clone();
        let task = tokio::spawn(async move {
            loop {
                let now = Some(control.meeting(&room).await.map_err(|e| e.to_string()));
                sender.send_if_modified(|known| {
                    let changed = *known != now;
                    if changed {
                        known.clone_from(&now);
                    }
                    changed
                });
                tokio::time::sleep(every).await;
            }
        });
        let feed = Arc::new(RoomFeed { state, task });
        rooms.insert(key, Arc::downgrade(&feed));
        feed
    }
}
