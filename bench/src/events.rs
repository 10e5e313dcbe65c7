//! How many pushed room changes one instance takes in per second when Prosody is not the
//! limit (issue 4, point 9: at least 5,000 events/s):
//!
//!     cargo run --release -p roomkeeper-bench --bin events
//!     cargo run --release -p roomkeeper-bench --bin events -- --rooms 2000 --per-room 10 --rates 5000,10000,20000
//!
//! On this 2-core machine one real Prosody delivers at most about 1,300 changes a second
//! (`live -- --only scale`, docs/PERFORMANCE.md), far below the goal, so this measures
//! Roomkeeper's side alone. The companion module's event elements (`<occupant/>` as
//! `prosody/mod_roomkeeper.lua` sends them) are parsed as the XMPP connection parses them
//! (`parse_event`) and sent into the same broadcast channel `Shards` feeds, where the real
//! `MeetingWatch` dispatches each to its room, applies it to that room's state and wakes
//! the room's subscribers (one per room, as an open room page's event stream is). The
//! Prosody side is replaced by `Replay` below, a stand-in named as such: it answers the
//! first read of each room and counts later reads (a reader that fell behind resyncs
//! by reading rooms again, which would show here).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::ensure;
use async_trait::async_trait;
use roomkeeper_bench::{cpu_time, mib, rss_bytes};
use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{
    Error, Meeting, MeetingControl, MeetingWatch, Participant, RoomEvent, ShardConfig, parse_event,
};
use roomkeeper_testkit::jitsi::shard_at;
use tokio::sync::broadcast;
use tokio_xmpp::minidom::Element;

const MODULE_NS: &str = "urn:roomkeeper:prosody:1";

/// Stands in for Prosody and the companion module: rooms as they are at the start, and
/// the channel pushed changes arrive on.
struct Replay {
    rooms: HashMap<String, Meeting>,
    events: broadcast::Sender<RoomEvent>,
    reads: AtomicU64,
}

#[async_trait]
impl MeetingControl for Replay {
    async fn meeting(&self, room: &RoomName) -> Result<Meeting, Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .rooms
            .get(&room.canonical())
            .cloned()
            .unwrap_or_else(Meeting::not_running))
    }
    async fn set_moderator(&self, _: &RoomName, _: &str, _: bool) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn set_password(&self, _: &RoomName, _: &str) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn kick(&self, _: &RoomName, _: &str) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn end_meeting(&self, _: &RoomName, _: &str) -> Result<(), Error> {
        Err(Error::NoMeeting)
    }
    async fn set_lobby(&self, _: &RoomName, _: bool) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn admit(&self, _: &RoomName, _: &str) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn deny(&self, _: &RoomName, _: &str) -> Result<Meeting, Error> {
        Err(Error::NoMeeting)
    }
    async fn set_lobby_rooms(&self, _: &[RoomName]) -> Result<(), Error> {
        Ok(())
    }
    fn events(&self) -> broadcast::Receiver<RoomEvent> {
        self.events.subscribe()
    }
    fn pushes_events(&self) -> bool {
        true
    }

    fn connected(&self) -> bool {
        true
    }
}

fn room_name(i: usize) -> String {
    format!("room{i:05}")
}

fn nick(room: usize, person: usize) -> String {
    format!("{:08x}", room * 1000 + person)
}

/// The element the companion module pushes when an occupant changes.
fn occupant_element(config: &ShardConfig, room: usize, person: usize, name: &str) -> Element {
    let xml = format!(
        "<occupant xmlns='{MODULE_NS}' room='{}@conference.{}' nick='{}' name='{name}' \
         role='participant' jid='guest{person}@{}/r' joined='1795856000'/>",
        room_name(room),
        config.domain,
        nick(room, person),
        config.domain,
    );
    xml.parse().expect("a well-formed occupant element")
}

struct Options {
    rooms: usize,
    per_room: usize,
    rates: Vec<u64>,
    seconds: u64,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        rooms: 2000,
        per_room: 10,
        rates: vec![5_000, 10_000, 20_000, 40_000],
        seconds: 5,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().map(String::as_str).unwrap_or_default();
        match flag.as_str() {
            "--rooms" => options.rooms = value.parse()?,
            "--per-room" => options.per_room = value.parse()?,
            "--seconds" => options.seconds = value.parse()?,
            "--rates" => {
                options.rates = value.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let config = shard_at(5222, "bench");
    let rss_start = rss_bytes();
    let rooms: HashMap<String, Meeting> = (0..options.rooms)
        .map(|r| {
            let participants = (0..options.per_room)
                .map(|p| Participant {
                    id: nick(r, p),
                    display_name: Some(format!("Person {p}")),
                    moderator: p == 0,
                    joined_at: Some(1_795_856_000),
                    jid: format!("guest{p}@{}", config.domain),
                    session: format!("guest{p}@{}/r", config.domain),
                })
                .collect();
            let meeting = Meeting {
                running: true,
                password_protected: false,
                members_only: false,
                participants,
                lobby: false,
                knocking: Vec::new(),
            };
            (room_name(r), meeting)
        })
        .collect();
    // As deep as `Shards`' own channel, so falling behind looks the same as in service.
    let (events, _) = broadcast::channel(4096);
    let replay = Arc::new(Replay {
        rooms,
        events: events.clone(),
        reads: AtomicU64::new(0),
    });
    let watch = MeetingWatch::new(replay.clone(), Duration::from_secs(1));
    let woken = Arc::new(AtomicU64::new(0));
    let mut feeds = Vec::new();
    for r in 0..options.rooms {
        let feed = watch.follow(&RoomName::parse(&room_name(r), &[])?);
        let mut state = feed.subscribe();
        let woken = Arc::clone(&woken);
        tokio::spawn(async move {
            while state.changed().await.is_ok() {
                woken.fetch_add(1, Ordering::Relaxed);
            }
        });
        feeds.push(feed);
    }
    // Every room read once and known.
    let deadline = Instant::now() + Duration::from_secs(30);
    while replay.reads.load(Ordering::Relaxed) < options.rooms as u64 {
        ensure!(Instant::now() < deadline, "rooms were not read within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!(
        "{} rooms x {} occupants followed, each with a subscriber: RSS {} (at start {})",
        options.rooms,
        options.per_room,
        mib(rss_bytes()),
        mib(rss_start)
    );

    for rate in &options.rates {
        let reads_before = replay.reads.load(Ordering::Relaxed);
        let taken_before = watch.changes_received();
        let cpu_before = cpu_time();
        let started = Instant::now();
        let total = rate * options.seconds;
        let mut sent = 0u64;
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut round = 0usize;
        while sent < total {
            tick.tick().await;
            // Catch up to where the clock says we should be (ticks may be late).
            let due = (started.elapsed().as_secs_f64() * *rate as f64) as u64;
            while sent < due.min(total) {
                let i = sent as usize;
                let room = i % options.rooms;
                let person = (i / options.rooms) % options.per_room;
                round = round.wrapping_add(1);
                let element =
                    occupant_element(&config, room, person, &format!("Person {person} {round}"));
                let event = parse_event(&element, &config).expect("an event we send parses");
                let _ = events.send(event);
                sent += 1;
            }
        }
        let offered_for = started.elapsed();
        // Until every change is taken in (or 10 s pass).
        let wait_until = Instant::now() + Duration::from_secs(10);
        while watch.changes_received() - taken_before < sent && Instant::now() < wait_until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = started.elapsed();
        let taken = watch.changes_received() - taken_before;
        let cpu = cpu_time() - cpu_before;
        let rereads = replay.reads.load(Ordering::Relaxed) - reads_before;
        println!(
            "offered {rate}/s for {:.1} s: {taken} of {sent} changes taken in within {:.2} s \
             ({:.0}/s), rooms read again {rereads} times (a reader that fell behind), \
             CPU {:.2} s = {:.0} % of one core ({:.1} µs per change, parse included), RSS {}",
            offered_for.as_secs_f64(),
            took.as_secs_f64(),
            taken as f64 / took.as_secs_f64(),
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / took.as_secs_f64(),
            1e6 * cpu.as_secs_f64() / taken.max(1) as f64,
            mib(rss_bytes())
        );
    }
    println!(
        "subscribers woken: {} (a wake-up may carry several changes)",
        woken.load(Ordering::Relaxed)
    );
    drop(feeds);
    Ok(())
}
