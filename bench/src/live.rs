//! Live control, measured against real Prosody servers on this machine (issue 4, point 9):
//!
//!     cargo run --release -p roomkeeper-bench --bin live
//!     cargo run --release -p roomkeeper-bench --bin live -- --rooms 2000 --per-room 10
//!     cargo run --release -p roomkeeper-bench --bin live -- --only latency   # or scale
//!
//! 1. Action latency: `PUT`/`DELETE …/moderator` over HTTP (session, authorization, the
//!    room read, the IQ, the room read again, the audit entry) beside the raw muc#admin
//!    IQ alone, sent from a second connection of the service account in the same run.
//! 2. Freshness: a change made in Prosody (an affiliation set from outside) until the
//!    room's Server-Sent Events stream shows it, with and without the companion module.
//! 3. Scale: one instance following ROOMS running rooms with PER-ROOM occupants each,
//!    spread over two Prosody servers. Prosody and the simulated people run in a child
//!    process (this binary with `simulate`), so this process holds only what Roomkeeper
//!    holds: its memory, CPU time and the changes it takes in per second are Roomkeeper's.
//!    Occupants are simulated as a few connections that each join every room (one nick
//!    per room): to Prosody and Roomkeeper they are ordinary occupants.
//!
//! Needs Debian's `prosody` (`scripts/test` installs it). Prints the figures that
//! `docs/PERFORMANCE.md` quotes.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use roomkeeper_bench::{cpu_time, mib, rss_bytes, summary};
use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::connection::{Connection, Request};
use roomkeeper_jitsi::{MeetingControl, MeetingWatch, Shards, XmppShard};
use roomkeeper_testkit::jitsi::{
    Companion, Crowd, Focus, Participant, Prosody, SERVICE_PASSWORD, room_jid, shard_at,
};
use roomkeeper_testkit::{MeetingEvents, TestApp};
use tokio_xmpp::minidom::Element;

const MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";

struct Options {
    /// `scale`, `latency` or both (empty).
    only: Option<String>,
    rooms: usize,
    per_room: usize,
    samples: usize,
    churn: Duration,
    /// Presence updates per second the crowds aim for, in all.
    rate: u64,
    /// Latency part: Prosody on CPU 1, this process (client, service, simulated people)
    /// on CPU 0, so the two do not take each other's core.
    pin: bool,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        only: None,
        rooms: 2000,
        per_room: 10,
        samples: 500,
        churn: Duration::from_secs(10),
        rate: 1000,
        pin: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if flag == "--only" {
            options.only = args.next().cloned();
            continue;
        }
        if flag == "--pin" {
            options.pin = true;
            continue;
        }
        let value: u64 = args
            .next()
            .with_context(|| format!("{flag} needs a number"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--rooms" => options.rooms = value as usize,
            "--per-room" => options.per_room = value as usize,
            "--samples" => options.samples = value as usize,
            "--churn-seconds" => options.churn = Duration::from_secs(value),
            "--rate" => options.rate = value,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("simulate") {
        return simulate(options(&args[1..])?).await;
    }
    let options = options(&args)?;
    // Scale first, while this process holds nothing else.
    if options.only.as_deref() != Some("latency") {
        scale(&options).await?;
    }
    if options.only.as_deref() != Some("scale") {
        latency_and_freshness(&options).await?;
    }
    Ok(())
}

/// Every thread of the process on one CPU (util-linux `taskset`).
fn pin(pid: u32, cpu: usize) -> anyhow::Result<()> {
    let status = std::process::Command::new("taskset")
        .args([
            "--all-tasks",
            "--pid",
            "--cpu-list",
            &cpu.to_string(),
            &pid.to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .context("taskset (util-linux) is needed for --pin")?;
    ensure!(status.success(), "taskset could not pin {pid} to CPU {cpu}");
    Ok(())
}

fn element(xml: &str) -> Element {
    xml.parse().expect("a well-formed stanza")
}

fn set_affiliation(jid: &str, affiliation: &str) -> Request {
    Request::Set(element(&format!(
        "<query xmlns='{MUC_ADMIN}'><item affiliation='{affiliation}' jid='{jid}'/></query>"
    )))
}

/// The bare real JID of the occupant `nick` of `room`, asked through muc#admin.
async fn real_jid(raw: &Connection, room: &str, nick: &str) -> anyhow::Result<String> {
    for role in ["moderator", "participant"] {
        let answer = raw
            .iq(
                room_jid(room).parse()?,
                Request::Get(element(&format!(
                    "<query xmlns='{MUC_ADMIN}'><item role='{role}'/></query>"
                ))),
            )
            .await
            .map_err(anyhow::Error::msg)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for item in answer.iter().flat_map(|q| q.children()) {
            if item.attr("nick") == Some(nick) {
                let jid = item.attr("jid").context("no jid")?;
                return Ok(jid.split('/').next().unwrap_or(jid).to_owned());
            }
        }
    }
    bail!("{nick} is not in {room}")
}

async fn latency_and_freshness(options: &Options) -> anyhow::Result<()> {
    for companion in [Companion::Loaded, Companion::Absent] {
        let prosody = Prosody::start_with(companion).await?;
        if options.pin {
            pin(prosody.pid(), 1)?;
            pin(std::process::id(), 0)?;
        }
        let focus = Focus::start(&prosody).await?;
        let app = TestApp::spawn_against(&prosody).await?;
        app.passwordless_user("lecturer", false).await?;
        let room = app.registered_room("logic", "lecturer", &[]).await?;
        let lecturer = app.client_as("lecturer").await?;
        let first = Participant::join(&prosody, &focus, "logic", "a1a1a1a1", "First", None).await?;
        first.wait_until(Participant::is_moderator).await?;
        let _second =
            Participant::join(&prosody, &focus, "logic", "b2b2b2b2", "Second", None).await?;
        let (raw, _task) = prosody.service_connection().await?;
        let second_jid = real_jid(&raw, "logic", "b2b2b2b2").await?;
        let mode = match companion {
            Companion::Loaded => "with the companion module",
            Companion::Absent => "without the companion module",
        };

        if companion == Companion::Loaded {
            let mut raw_times = Vec::new();
            let mut http_times = Vec::new();
            let url = app.url(&format!(
                "/api/v1/rooms/{room}/meeting/participants/b2b2b2b2/moderator"
            ));
            for i in 0..options.samples {
                let grant = i % 2 == 0;
                let affiliation = if grant { "owner" } else { "none" };
                let started = Instant::now();
                raw.iq(
                    room_jid("logic").parse()?,
                    set_affiliation(&second_jid, affiliation),
                )
                .await
                .map_err(anyhow::Error::msg)?
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                raw_times.push(started.elapsed());

                let request = if grant {
                    lecturer.put(&url)
                } else {
                    lecturer.delete(&url)
                };
                let started = Instant::now();
                let answer = request.send().await?;
                let status = answer.status();
                let body = answer.bytes().await?;
                http_times.push(started.elapsed());
                ensure!(status.is_success(), "{status}: {body:?}");
            }
            // The IQ an action sends with the module, alone, from the second connection.
            let mut module_times = Vec::new();
            for i in 0..options.samples {
                let payload = format!(
                    "<moderator xmlns='urn:roomkeeper:prosody:1' nick='b2b2b2b2' grant='{}'/>",
                    // Ends revoked, as the freshness part below expects.
                    (i + 1) % 2
                );
                let started = Instant::now();
                raw.iq(room_jid("logic").parse()?, Request::Set(element(&payload)))
                    .await
                    .map_err(anyhow::Error::msg)?
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                module_times.push(started.elapsed());
            }
            // The same through Roomkeeper's own connection, without HTTP.
            let mut control_times = Vec::new();
            let logic = RoomName::from_canonical("logic")?;
            for i in 0..options.samples {
                let started = Instant::now();
                app.state
                    .usecases
                    .shards
                    .set_moderator(&logic, "b2b2b2b2", i % 2 == 0)
                    .await?;
                control_times.push(started.elapsed());
            }
            // The audit entry every action writes, alone: the store call, committed.
            let mut audit_times = Vec::new();
            for _ in 0..options.samples {
                let audit = roomkeeper_store::Audit {
                    actor: Some("lecturer"),
                    address: Some("127.0.0.1"),
                    now: 1_700_000_000,
                };
                let started = Instant::now();
                app.store()
                    .record_audit(
                        &audit,
                        roomkeeper_domain::AuditAction::GrantModerator,
                        Some("logic"),
                        None,
                        r#"{"participant":"b2b2b2b2"}"#,
                    )
                    .await?;
                audit_times.push(started.elapsed());
            }
            let mut read_times = Vec::new();
            let mut me_times = Vec::new();
            for _ in 0..options.samples {
                let started = Instant::now();
                let answer = lecturer
                    .get(app.url(&format!("/api/v1/rooms/{room}/meeting")))
                    .send()
                    .await?;
                ensure!(answer.status().is_success());
                answer.bytes().await?;
                read_times.push(started.elapsed());
                let started = Instant::now();
                let answer = lecturer.get(app.url("/api/v1/me")).send().await?;
                ensure!(answer.status().is_success());
                answer.bytes().await?;
                me_times.push(started.elapsed());
            }
            println!(
                "action latency (HTTP grant/revoke, answered with the new state): {}",
                summary(&mut http_times)
            );
            println!(
                "the module's moderator IQ alone, from the second connection:     {}",
                summary(&mut module_times)
            );
            println!(
                "the same through Roomkeeper's connection (MeetingControl call):  {}",
                summary(&mut control_times)
            );
            println!(
                "the audit entry alone (Store::record_audit, SQLite, committed):  {}",
                summary(&mut audit_times)
            );
            println!(
                "reading the meeting (HTTP GET …/meeting, one module query):      {}",
                summary(&mut read_times)
            );
            println!(
                "no Jitsi at all (HTTP GET /api/v1/me):                            {}",
                summary(&mut me_times)
            );
            println!(
                "raw muc#admin IQ round trip, same run:                            {}",
                summary(&mut raw_times)
            );
        }

        let samples = match companion {
            Companion::Loaded => options.samples.min(200),
            Companion::Absent => 30,
        };
        let stream = lecturer
            .get(app.url(&format!("/api/v1/rooms/{room}/events")))
            .send()
            .await?;
        let mut events = MeetingEvents::new(stream);
        events.next().await?;
        let mut fresh = Vec::new();
        for i in 0..samples {
            let moderator = i % 2 == 0;
            let affiliation = if moderator { "owner" } else { "none" };
            let changed = Instant::now();
            raw.iq(
                room_jid("logic").parse()?,
                set_affiliation(&second_jid, affiliation),
            )
            .await
            .map_err(anyhow::Error::msg)?
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            events
                .until(|m| {
                    m["participants"].as_array().is_some_and(|people| {
                        people
                            .iter()
                            .any(|p| p["id"] == "b2b2b2b2" && p["moderator"] == moderator)
                    })
                })
                .await?;
            fresh.push(changed.elapsed());
        }
        println!(
            "freshness, change in Prosody to SSE event, {mode}: {}",
            summary(&mut fresh)
        );
        app.stop().await?;
    }
    Ok(())
}

fn room_name(i: usize) -> String {
    format!("room{i:05}")
}

async fn scale(options: &Options) -> anyhow::Result<()> {
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "simulate",
            "--rooms",
            &options.rooms.to_string(),
            "--per-room",
            &options.per_room.to_string(),
            "--churn-seconds",
            &options.churn.as_secs().to_string(),
            "--rate",
            &options.rate.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut to_child = child.stdin.take().context("stdin")?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let from_child = child.stdout.take().context("stdout")?;
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from_child)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut expect = async |prefix: &str| -> anyhow::Result<String> {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(600), lines.recv())
                .await
                .with_context(|| format!("no {prefix} from the simulation"))?
                .context("the simulation stopped")?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
            eprintln!("simulation: {line}");
        }
    };
    let ports: Vec<u16> = expect("PORTS")
        .await?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let setup = expect("READY").await?;
    eprintln!("simulation ready: {setup}");

    let idle = rss_bytes();
    let mut shards = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let shard = XmppShard::connect(shard_at(*port, &format!("s{i}")), SERVICE_PASSWORD.into())?;
        ensure!(shard.wait_online(Duration::from_secs(10)).await);
        ensure!(
            shard.has_companion(),
            "the module is loaded in the simulation"
        );
        shards.push(Arc::new(shard));
    }
    let control = Arc::new(Shards::new(shards));
    let watch = MeetingWatch::new(control.clone(), Duration::from_secs(1));
    let connected = rss_bytes();

    let started = Instant::now();
    let names: Vec<RoomName> = (0..options.rooms)
        .map(|i| RoomName::from_canonical(&room_name(i)))
        .collect::<Result<_, _>>()?;
    let feeds: Vec<_> = names.iter().map(|room| watch.follow(room)).collect();
    for feed in &feeds {
        let mut state = feed.subscribe();
        tokio::time::timeout(
            Duration::from_secs(120),
            state
                .wait_for(|s| matches!(s, Some(Ok(m)) if m.participants.len() == options.per_room)),
        )
        .await
        .context("a followed room did not show all its occupants within 120 s")??;
    }
    let following = rss_bytes();
    println!(
        "followed {} rooms with {} occupants each ({} in all) on {} Prosody servers; all known after {:.1} s",
        options.rooms,
        options.per_room,
        options.rooms * options.per_room,
        ports.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "memory (RSS): {} before connecting, {} connected, {} following; live state {}",
        mib(idle),
        mib(connected),
        mib(following),
        mib(following.saturating_sub(connected))
    );

    let before = watch.changes_received();
    let cpu_before = cpu_time();
    let churn_started = Instant::now();
    writeln!(to_child, "GO")?;
    let sent: u64 = expect("SENT").await?.parse()?;
    let offered = churn_started.elapsed();
    // Prosody may still be working through what was sent: wait until the flow has
    // stopped for two seconds.
    let mut last = watch.changes_received();
    let mut last_change = Instant::now();
    while last_change.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = watch.changes_received();
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
    let elapsed = last_change.duration_since(churn_started);
    let cpu = cpu_time() - cpu_before;
    let received = last - before;
    let rate = received as f64 / elapsed.as_secs_f64();
    println!(
        "changes: {sent} presence updates sent in {:.1} s ({:.0}/s offered), {received} changes taken in over {:.1} s = {rate:.0}/s; CPU {:.2} s = {:.0} % of one core ({:.1} µs per change)",
        offered.as_secs_f64(),
        sent as f64 / offered.as_secs_f64(),
        elapsed.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0,
        cpu.as_secs_f64() * 1e6 / received.max(1) as f64
    );
    println!("memory (RSS) after the changes: {}", mib(rss_bytes()));

    // What the followers hold must be what Prosody says now.
    let mut checked = 0;
    for (room, feed) in names
        .iter()
        .zip(&feeds)
        .step_by((options.rooms / 20).max(1))
    {
        let now = control.meeting(room).await?;
        let held = feed.subscribe().borrow().clone();
        ensure!(
            held == Some(Ok(now.clone())),
            "{}: followed state differs from Prosody's:\n{held:?}\n{now:?}",
            room.canonical()
        );
        checked += 1;
    }
    println!("{checked} sampled rooms: followed state equals a fresh read");
    drop(to_child);
    let _ = child.wait();
    Ok(())
}

/// The child process: two Prosody servers with ROOMS rooms (alternating), each created
/// by the simulated focus and joined by PER-ROOM crowd connections; on "GO" every crowd
/// changes its display name in its rooms as fast as Prosody takes it, for the churn time.
async fn simulate(options: Options) -> anyhow::Result<()> {
    let servers = [
        Prosody::start_with(Companion::Loaded).await?,
        Prosody::start_with(Companion::Loaded).await?,
    ];
    println!("PORTS {} {}", servers[0].port, servers[1].port);
    let started = Instant::now();
    let mut crowds = Vec::new();
    let mut focuses = Vec::new();
    for (s, server) in servers.iter().enumerate() {
        let rooms: Vec<String> = (0..options.rooms)
            .filter(|i| i % servers.len() == s)
            .map(room_name)
            .collect();
        let focus = Focus::start(server).await?;
        for room in &rooms {
            focus.ensure_room(room).await?;
        }
        focuses.push(focus);
        for k in 0..options.per_room {
            let mut crowd = Crowd::connect(server.port).await?;
            for room in &rooms {
                crowd
                    .join(room, &format!("{k:08x}"), &format!("Person {k}"))
                    .await?;
            }
            crowd.wait_for_own_presences(rooms.len()).await?;
            crowds.push((crowd, rooms.clone(), k));
        }
    }
    println!("READY in {:.1} s", started.elapsed().as_secs_f64());
    std::io::stdout().flush()?;

    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    ensure!(line.trim() == "GO", "expected GO, got {line:?}");
    // Each crowd sends its share every 10 ms; when Prosody cannot keep up, ticks are
    // skipped rather than bunched, so "sent" is what was offered.
    let per_tick = options.rate as f64 / crowds.len() as f64 / 100.0;
    let deadline = Instant::now() + options.churn;
    let mut tasks = Vec::new();
    for (mut crowd, rooms, k) in crowds {
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(10));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut sent = 0u64;
            let mut owed = 0.0;
            let mut next = 0usize;
            while Instant::now() < deadline {
                ticks.tick().await;
                owed += per_tick;
                while owed >= 1.0 {
                    owed -= 1.0;
                    let room = &rooms[next % rooms.len()];
                    let name = format!("Person {k} ({})", next / rooms.len());
                    next += 1;
                    if crowd
                        .update(room, &format!("{k:08x}"), &name)
                        .await
                        .is_err()
                    {
                        return (sent, crowd);
                    }
                    sent += 1;
                }
                crowd.discard_received();
            }
            (sent, crowd)
        }));
    }
    // The crowds stay in their rooms until the end: leaving would count as changes.
    let mut sent = 0;
    let mut staying = Vec::new();
    for task in tasks {
        let (count, crowd) = task.await?;
        sent += count;
        staying.push(crowd);
    }
    println!("SENT {sent}");
    std::io::stdout().flush()?;
    // Keep the servers until the measuring side has finished (stdin closes).
    let _ = std::io::stdin().read_line(&mut line);
    drop((staying, focuses));
    Ok(())
}
