//! The guard's background task: follows every room's events and hands each room's work
//! to a worker of that room's own, so that a room flooded with events (or a slow one)
//! never delays the guard in another.
//!
//! A worker takes what queued up for its room at once and does the same reading of the
//! meeting once, not once per event: a student spamming presence updates as a moderator
//! costs one check per batch, and the queue cannot grow faster than it is read.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use roomkeeper_domain::GuardSettings;
use roomkeeper_jitsi::RoomEvent;
use roomkeeper_store::Room;
use tokio::sync::{Semaphore, broadcast, mpsc};

use super::{ALERT_CHECK_EVERY, Checked, LEASE_WATCH_EVERY, POLL_EVERY, Setter, check, on_event};
use crate::{Error, UseCases};

/// Rooms worked on at the same moment, at most (each holds a database connection for a
/// moment and asks Prosody once).
const WORKING_AT_ONCE: usize = 8;

/// How long a stopping instance lets its workers finish what they hold.
const FINISH_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// Follows every room's events and guards the rooms that have a guard; uses join codes
/// in every registered room. Without the companion module it reads the guarded rooms
/// every [`POLL_EVERY`] instead. Runs until `stop`, then gives up its leases.
pub async fn run(uc: UseCases, stop: impl std::future::Future<Output = ()>) {
    let mut events = uc.meetings.events();
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alerts = tokio::time::interval(ALERT_CHECK_EVERY);
    alerts.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut lease_watch = tokio::time::interval(LEASE_WATCH_EVERY);
    lease_watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rooms = RoomWorkers::new(uc.clone());
    tokio::pin!(stop);
    if uc.meetings.pushes_events() {
        super::tell_lobby_rooms(&uc).await;
        rooms.check_guarded(|_, _| true).await;
    }
    loop {
        let event = tokio::select! {
            () = &mut stop => break,
            _ = poll.tick() => {
                // Decided at each tick: the module is found (or lost) at each connect.
                // Not while Prosody is away: the connect's resync reads every room then.
                if !uc.meetings.pushes_events() && uc.meetings.connected() {
                    rooms.check_guarded(|_, _| true).await;
                    metrics::counter!("guard_polls_total").increment(1);
                }
                continue;
            }
            _ = alerts.tick() => {
                // A meeting may run on without any event.
                if uc.meetings.pushes_events() {
                    rooms.check_guarded(|_, s| s.in_use_alert_minutes.is_some()).await;
                }
                rooms.let_idle_ones_go();
                continue;
            }
            _ = lease_watch.tick(), if rooms.waits_for_leases() => {
                rooms.check_ended_leases().await;
                continue;
            }
            received = events.recv() => received,
        };
        match event {
            Ok(RoomEvent::Resync) => {
                // A reconnect: Prosody may have restarted and forgotten the lobby list.
                super::tell_lobby_rooms(&uc).await;
                rooms.check_guarded(|_, _| true).await;
            }
            Ok(event) => rooms.take(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the guard missed events; checking every guarded room"
                );
                rooms.check_guarded(|_, _| true).await;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    rooms.finish().await;
    // Whoever hears of these rooms next (another instance, or this one restarted) acts
    // at once instead of after the leases' term: a lock set meanwhile would stay.
    match uc.store.release_guard_leases(&uc.instance).await {
        Ok(released) => tracing::debug!(released, "the guard gave up its leases"),
        Err(error) => tracing::warn!(%error, "the guard could not give up its leases"),
    }
}

/// Something for a room's worker.
#[derive(Debug)]
enum Work {
    Event(RoomEvent),
    /// Judge the room afresh (after missed events, at a poll or an alert tick, when
    /// another instance's lease ended): who set a password is not known.
    Check(Box<(Room, GuardSettings)>),
}

impl Work {
    /// A reading of the meeting and nothing else: several in a row are one.
    fn only_checks(&self) -> bool {
        match self {
            Self::Check(_) => true,
            Self::Event(RoomEvent::Occupant { .. }) => true,
            Self::Event(_) => false,
        }
    }
}

/// The work in `batch` (a room's, in the order it came) with each run of plain checks
/// made one: the last of the run, or a fresh judgement if the run had one.
fn coalesce(batch: Vec<Work>) -> Vec<Work> {
    let mut steps: Vec<Work> = Vec::with_capacity(batch.len());
    for work in batch {
        match steps.last_mut() {
            Some(last) if last.only_checks() && work.only_checks() => {
                if matches!(work, Work::Check(_)) || !matches!(last, Work::Check(_)) {
                    *last = work;
                }
            }
            _ => steps.push(work),
        }
    }
    steps
}

/// Rooms whose lease another instance held when this one last heard of them, and until
/// when. If that instance died, nobody would look at them again before their next event.
#[derive(Debug, Default)]
pub(super) struct LeasesElsewhere(HashMap<i64, i64>);

impl LeasesElsewhere {
    pub(super) fn note(&mut self, room: &Room, checked: Checked) {
        match checked {
            Checked::LeftTo { until } => {
                self.0.insert(room.id, until);
            }
            Checked::Done => {
                self.0.remove(&room.id);
            }
        }
    }
}

struct Worker {
    queue: mpsc::UnboundedSender<Work>,
    /// Work sent and not yet done.
    pending: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// One worker per room with work, keyed by the room's name as events carry it.
struct RoomWorkers {
    uc: UseCases,
    workers: HashMap<String, Worker>,
    elsewhere: Arc<Mutex<LeasesElsewhere>>,
    permits: Arc<Semaphore>,
}

impl RoomWorkers {
    fn new(uc: UseCases) -> Self {
        Self {
            uc,
            workers: HashMap::new(),
            elsewhere: Arc::default(),
            permits: Arc::new(Semaphore::new(WORKING_AT_ONCE)),
        }
    }

    /// Hands an event to its room's worker. Most events are presence updates of people
    /// who are not moderators (muting, video, names): nothing a guard acts on, so they
    /// cost nothing. The answers to queries (ours included) are not changes at all.
    fn take(&mut self, event: RoomEvent) {
        metrics::counter!("guard_events_total").increment(1);
        match &event {
            RoomEvent::Snapshot { .. } => return,
            RoomEvent::Occupant { participant, .. } if !participant.moderator => return,
            _ => {}
        }
        let Some(room) = event.room().map(str::to_owned) else {
            return;
        };
        self.send(&room, Work::Event(event));
    }

    fn send(&mut self, room: &str, work: Work) {
        let worker = self
            .workers
            .entry(room.to_owned())
            .or_insert_with(|| spawn_worker(&self.uc, &self.elsewhere, &self.permits));
        worker.pending.fetch_add(1, Ordering::SeqCst);
        if worker.queue.send(work).is_err() {
            // Only after a worker panicked; the next event starts a new one.
            worker.pending.fetch_sub(1, Ordering::SeqCst);
            self.workers.remove(room);
        }
    }

    /// A fresh judgement of the guarded rooms `which` picks.
    async fn check_guarded(&mut self, which: impl Fn(&Room, &GuardSettings) -> bool) {
        let guarded = match self.uc.store.guarded_rooms().await {
            Ok(guarded) => guarded,
            Err(error) => {
                tracing::warn!(%error, "the guard could not list the guarded rooms");
                return;
            }
        };
        for (room, settings) in guarded {
            if !settings.is_off() && which(&room, &settings) {
                let key = room.name.canonical();
                self.send(&key, Work::Check(Box::new((room, settings))));
            }
        }
    }

    fn waits_for_leases(&self) -> bool {
        !self.elsewhere.lock().is_ok_and(|e| e.0.is_empty())
    }

    /// Judges the rooms whose other holder's lease has ended (it renews on every event
    /// there): the holder may have died with a lock in the room and no event to come.
    async fn check_ended_leases(&mut self) {
        let now = self.uc.clock.now();
        let ended: HashSet<i64> = {
            let Ok(mut elsewhere) = self.elsewhere.lock() else {
                return;
            };
            let ended = elsewhere
                .0
                .iter()
                .filter(|(_, until)| **until <= now)
                .map(|(room, _)| *room)
                .collect::<HashSet<_>>();
            elsewhere.0.retain(|room, _| !ended.contains(room));
            ended
        };
        if !ended.is_empty() {
            self.check_guarded(|room, _| ended.contains(&room.id)).await;
        }
    }

    /// Workers with nothing to do end; the next event for their room starts another.
    /// Only this task sends them work, so nothing can arrive in between.
    fn let_idle_ones_go(&mut self) {
        self.workers
            .retain(|_, worker| worker.pending.load(Ordering::SeqCst) > 0);
    }

    /// Lets the workers finish what they hold (briefly), then stops them: a worker
    /// still running after the leases are given up would take one again.
    async fn finish(self) {
        let tasks: Vec<_> = self
            .workers
            .into_values()
            .map(|worker| {
                drop(worker.queue);
                worker.task
            })
            .collect();
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(FINISH_WITHIN, all).await.is_err() {
            for abort in aborts {
                abort.abort();
            }
        }
    }
}

fn spawn_worker(
    uc: &UseCases,
    elsewhere: &Arc<Mutex<LeasesElsewhere>>,
    permits: &Arc<Semaphore>,
) -> Worker {
    let (queue, mut work) = mpsc::unbounded_channel::<Work>();
    let pending = Arc::new(AtomicUsize::new(0));
    let (uc, elsewhere, permits, done) = (
        uc.clone(),
        Arc::clone(elsewhere),
        Arc::clone(permits),
        Arc::clone(&pending),
    );
    let task = tokio::spawn(async move {
        while let Some(first) = work.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = work.try_recv() {
                batch.push(more);
            }
            let taken = batch.len();
            if let Ok(_permit) = permits.acquire().await {
                for step in coalesce(batch) {
                    do_work(&uc, &elsewhere, step).await;
                }
            }
            done.fetch_sub(taken, Ordering::SeqCst);
        }
    });
    Worker {
        queue,
        pending,
        task,
    }
}

async fn do_work(uc: &UseCases, elsewhere: &Mutex<LeasesElsewhere>, work: Work) {
    let (room, checked) = match work {
        Work::Event(event) => match on_event(uc, event).await {
            Ok(Some(judged)) => judged,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "the room guard could not act");
                return;
            }
        },
        Work::Check(judge) => {
            let (room, settings) = *judge;
            match check(uc, &room, &settings, Setter::Unknown).await {
                Ok(checked) => (room, checked),
                // Said once by the connection itself, and every room is read again at
                // the reconnect: not once per guarded room.
                Err(Error::Meeting(
                    roomkeeper_jitsi::Error::Unreachable(_)
                    | roomkeeper_jitsi::Error::NotConnected(_),
                )) => return,
                Err(error) => {
                    tracing::warn!(room = %room.name, %error, "the guard could not check the meeting");
                    return;
                }
            }
        }
    };
    if let Ok(mut elsewhere) = elsewhere.lock() {
        elsewhere.note(&room, checked);
    }
}

#[cfg(test)]
mod tests {
    use roomkeeper_jitsi::{ChangedBy, Participant};

    use super::*;

    fn occupant(id: &str) -> Work {
        Work::Event(RoomEvent::Occupant {
            room: "logic".into(),
            participant: Participant {
                id: id.into(),
                display_name: None,
                moderator: true,
                joined_at: None,
                jid: String::new(),
                session: String::new(),
            },
        })
    }

    fn lock(by: &str) -> Work {
        Work::Event(RoomEvent::Config {
            room: "logic".into(),
            password_protected: true,
            members_only: false,
            lobby: false,
            by: ChangedBy::Participant(by.into()),
        })
    }

    fn fresh() -> Work {
        Work::Check(Box::new((
            Room {
                id: 1,
                name: roomkeeper_domain::RoomName::from_canonical("logic").unwrap(),
                owner: roomkeeper_domain::Username::parse("ada").unwrap(),
                co_owners: Vec::new(),
                co_owner_groups: Vec::new(),
                created_at: 0,
                last_activity_at: 0,
            },
            GuardSettings::default(),
        )))
    }

    fn shape(steps: &[Work]) -> Vec<String> {
        steps
            .iter()
            .map(|w| match w {
                Work::Check(_) => "fresh".to_owned(),
                Work::Event(RoomEvent::Occupant { participant, .. }) => participant.id.clone(),
                Work::Event(RoomEvent::Config { .. }) => "lock".to_owned(),
                Work::Event(other) => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_flood_of_presence_updates_is_one_reading() {
        let flood = (0..1000).map(|i| occupant(&format!("p{i}"))).collect();
        assert_eq!(shape(&coalesce(flood)), ["p999"]);
    }

    #[test]
    fn events_that_say_something_keep_their_place_and_a_fresh_judgement_wins() {
        let batch = vec![
            occupant("a"),
            occupant("b"),
            lock("b"),
            occupant("c"),
            fresh(),
            occupant("d"),
        ];
        assert_eq!(shape(&coalesce(batch)), ["b", "lock", "fresh"]);
    }
}
