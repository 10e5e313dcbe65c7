//! One stream of state per room: the source of a room's live state for everything that
//! follows it (the room page today, automatic protections later). A room is watched
//! only while someone follows it; all its followers share one task.
//!
//! With the companion module the task reads the room once and then applies the changes
//! Prosody pushes (reading again after a reconnect, and every half minute to be safe),
//! and the room's state in every answer to a query or action, in the order Prosody sent
//! them; reads of a followed room are then answered from here ([`MeetingWatch::current`]).
//! Without it the task reads the room every `every`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use roomkeeper_domain::RoomName;
use tokio::sync::{broadcast, mpsc, watch};

use crate::{Meeting, MeetingControl, RoomEvent, apply};

/// The last known state of a room's meeting, or why it could not be read.
pub type RoomState = Option<Result<Meeting, String>>;

/// With pushed changes, a room is still read this often in case one was missed (a
/// change Prosody makes without telling modules, such as Jitsi's lobby switching
/// members-only on directly).
const SAFETY_READ: Duration = Duration::from_secs(30);

/// Rooms read at the same time. A few thousand followed rooms read at once after a
/// reconnect would otherwise time out while waiting, and crowd out people's actions.
const PARALLEL_READS: usize = 4;

/// How long [`MeetingWatch::current`] waits for a room's task before asking Prosody.
const SYNC_LIMIT: Duration = Duration::from_secs(1);

/// Follows one room while it is held; stops when the last follower lets go.
pub struct RoomFeed {
    state: watch::Receiver<RoomState>,
    /// The last sync marker the room's task has reached (see [`MeetingWatch::current`]).
    synced: watch::Receiver<u64>,
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

struct Followed {
    feed: Weak<RoomFeed>,
    inbox: mpsc::UnboundedSender<Inbox>,
}

/// What a followed room's task is handed, in order.
enum Inbox {
    Change(RoomEvent),
    /// Everything broadcast before this marker has been handed over.
    Sync(u64),
}

type Followers = Arc<Mutex<HashMap<String, Followed>>>;

pub struct MeetingWatch {
    control: Arc<dyn MeetingControl>,
    every: Duration,
    rooms: Followers,
    /// Pushed changes taken in by followed rooms (for metrics and benchmarks).
    changes: Arc<AtomicU64>,
    reads: Arc<tokio::sync::Semaphore>,
    /// Sync markers for the dispatcher: (room, marker).
    syncs: mpsc::UnboundedSender<(String, u64)>,
    last_sync: AtomicU64,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl Drop for MeetingWatch {
    fn drop(&mut self) {
        self.dispatcher.abort();
    }
}

fn lock(rooms: &Followers) -> std::sync::MutexGuard<'_, HashMap<String, Followed>> {
    rooms
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MeetingWatch {
    /// `every`: how often a room is read when Prosody pushes nothing (no companion
    /// module); 1 s keeps changes within the promised 3 s. Needs a Tokio runtime.
    pub fn new(control: Arc<dyn MeetingControl>, every: Duration) -> Self {
        let rooms: Followers = Arc::default();
        let mut events = control.events();
        let routes = Arc::clone(&rooms);
        let (syncs, mut sync_requests) = mpsc::unbounded_channel::<(String, u64)>();
        // One task hands each pushed change to the room it concerns: the cost of an
        // event does not grow with the number of rooms followed.
        let dispatcher = tokio::spawn(async move {
            let hand_over = |event: RoomEvent| {
                let rooms = lock(&routes);
                match event.room() {
                    Some(room) => {
                        if let Some(followed) = rooms.get(room) {
                            let _ = followed.inbox.send(Inbox::Change(event));
                        }
                    }
                    None => {
                        for followed in rooms.values() {
                            let _ = followed.inbox.send(Inbox::Change(event.clone()));
                        }
                    }
                }
            };
            loop {
                tokio::select! {
                    received = events.recv() => match received {
                        Ok(event) => hand_over(event),
                        Err(broadcast::error::RecvError::Lagged(_)) => hand_over(RoomEvent::Resync),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    Some((room, marker)) = sync_requests.recv() => {
                        // Whatever was broadcast before the marker was asked for goes first.
                        loop {
                            match events.try_recv() {
                                Ok(event) => hand_over(event),
                                Err(broadcast::error::TryRecvError::Lagged(_)) => hand_over(RoomEvent::Resync),
                                Err(_) => break,
                            }
                        }
                        if let Some(followed) = lock(&routes).get(&room) {
                            let _ = followed.inbox.send(Inbox::Sync(marker));
                        }
                    }
                }
            }
        });
        Self {
            control,
            every,
            rooms,
            changes: Arc::default(),
            reads: Arc::new(tokio::sync::Semaphore::new(PARALLEL_READS)),
            syncs,
            last_sync: AtomicU64::new(0),
            dispatcher,
        }
    }

    /// The meeting as a followed room knows it, when Prosody pushes changes and the
    /// room's state is known: a read without asking Prosody, so many readers cannot
    /// crowd out actions. It includes every change told before the call, and so the
    /// result of every action answered before it (actions' answers are ordered with
    /// the pushed changes). `None`: ask Prosody instead.
    pub async fn current(&self, room: &RoomName) -> Option<Meeting> {
        if !self.control.pushes_events() {
            return None;
        }
        let key = room.canonical();
        let feed = lock(&self.rooms).get(&key).and_then(|f| f.feed.upgrade())?;
        let marker = self.last_sync.fetch_add(1, Ordering::Relaxed) + 1;
        self.syncs.send((key, marker)).ok()?;
        let mut synced = feed.synced.clone();
        // Only a stalled room task takes this long; then Prosody is asked.
        tokio::time::timeout(SYNC_LIMIT, synced.wait_for(|reached| *reached >= marker))
            .await
            .ok()?
            .ok()?;
        match &*feed.state.borrow() {
            Some(Ok(meeting)) => Some(meeting.clone()),
            _ => None,
        }
    }

    pub fn follow(&self, room: &RoomName) -> Arc<RoomFeed> {
        let key = room.canonical();
        let mut rooms = lock(&self.rooms);
        rooms.retain(|_, followed| followed.feed.strong_count() > 0);
        if let Some(feed) = rooms.get(&key).and_then(|f| f.feed.upgrade()) {
            return feed;
        }
        let (sender, state) = watch::channel(None);
        let (synced_sender, synced) = watch::channel(0);
        let (inbox, changes) = mpsc::unbounded_channel();
        let task = tokio::spawn(keep_current(
            Arc::clone(&self.control),
            room.clone(),
            self.every,
            changes,
            Arc::clone(&self.changes),
            Arc::clone(&self.reads),
            Told {
                state: sender,
                synced: synced_sender,
            },
        ));
        let feed = Arc::new(RoomFeed {
            state,
            synced,
            task,
        });
        rooms.insert(
            key,
            Followed {
                feed: Arc::downgrade(&feed),
                inbox,
            },
        );
        feed
    }

    /// How many pushed changes followed rooms have taken in since start.
    pub fn changes_received(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// How many rooms are followed now.
    pub fn followed(&self) -> usize {
        lock(&self.rooms)
            .values()
            .filter(|f| f.feed.strong_count() > 0)
            .count()
    }
}

/// What a room's task tells its followers.
struct Told {
    state: watch::Sender<RoomState>,
    synced: watch::Sender<u64>,
}

async fn keep_current(
    control: Arc<dyn MeetingControl>,
    room: RoomName,
    every: Duration,
    mut changes: mpsc::UnboundedReceiver<Inbox>,
    received: Arc<AtomicU64>,
    reads: Arc<tokio::sync::Semaphore>,
    told: Told,
) {
    let publish = |now: Result<Meeting, String>| {
        told.state.send_if_modified(|known| {
            let changed = known.as_ref() != Some(&now);
            if changed {
                *known = Some(now);
            }
            changed
        });
    };
    let mut known: Option<Meeting> = None;
    let mut read = true;
    loop {
        if read {
            let Ok(_turn) = reads.acquire().await else {
                return;
            };
            let now = control.meeting(&room).await.map_err(|e| e.to_string());
            known = now.as_ref().ok().cloned();
            publish(now);
        }
        // After a failed read, try again soon even when changes are pushed.
        let wait = if control.pushes_events() && known.is_some() {
            SAFETY_READ
        } else {
            every
        };
        read = match tokio::time::timeout(wait, changes.recv()).await {
            Err(_) => true,
            Ok(None) => return,
            Ok(Some(Inbox::Sync(marker))) => {
                told.synced.send_replace(marker);
                false
            }
            Ok(Some(Inbox::Change(change))) => {
                received.fetch_add(1, Ordering::Relaxed);
                let applied = known.as_mut().is_some_and(|m| apply(m, &change));
                if let (true, Some(meeting)) = (applied, &known) {
                    publish(Ok(meeting.clone()));
                }
                !applied
            }
        };
    }
}
