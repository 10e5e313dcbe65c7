//! The room guard at a university's eight o'clock (issue 27, point 5): many guarded rooms
//! start within a minute on one Prosody, and in each a student who came first locks the
//! room; then the catch-up after a reconnect, when every guarded room is read once.
//!
//!     cargo build --release -p roomkeeper
//!     cargo run --release -p roomkeeper-bench --bin eight_oclock [-- ROOMS SECONDS GUARDED]
//!
//! Defaults: 300 rooms starting within 60 s, 1,000 guarded rooms in all. Runs the real
//! binary (`target/release/roomkeeper serve`, SQLite) as its own process against a real
//! Prosody with the companion module, the simulated Jicofo and one student per room
//! (all on this machine). Per room, the clock runs from the student's lock (the
//! muc#owner IQ lib-jitsi-meet sends) until Prosody tells a second connection of the
//! service account that Roomkeeper removed the password ("gone"), and until the
//! student's own client is told he is no longer moderator (the guard's second step).
//! Every room's meeting is read through the API at the end: no lock may be left. The server's CPU time per event it was told (`guard_events_total`) and its
//! memory are read from /proc. The catch-up: Prosody restarts, and the clock runs from
//! Roomkeeper being connected again until it has read every guarded room
//! (`guard_room_reads_total`).

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use roomkeeper_bench::{Killed, cpu_time_of, mib, summary, wait_listening};
use roomkeeper_domain::{GuardSettings, LobbyMode, ModeratorGuard, Username};
use roomkeeper_jitsi::{ChangedBy, MeetingControl, RoomEvent, XmppShard};
use roomkeeper_store::{Audit, NewRequest, NewUser};
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn arg(n: usize, default: usize) -> anyhow::Result<usize> {
    std::env::args()
        .nth(n)
        .map(|s| s.parse().context("a number"))
        .transpose()
        .map(|v| v.unwrap_or(default))
}

/// A counter from the server's /metrics (0 when it has not been counted yet).
async fn counter(base: &str, name: &str) -> anyhow::Result<f64> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum())
}

/// VmRSS and VmHWM (peak) of `pid`, from /proc.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Waits until the server is connected to its shard with the companion module.
async fn connected(base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready: serde_json::Value = reqwest::get(format!("{base}/readyz")).await?.json().await?;
        let shard = &ready["checks"]["jitsi"][0];
        if shard["online"] == true && shard["companion_module"] == true {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "not connected to Prosody: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rooms = arg(1, 300)?;
    let seconds = arg(2, 60)?;
    let guarded = arg(3, 1000)?.max(rooms);
    let binary = std::env::current_exe()?
        .parent()
        .context("bench binary directory")?
        .join("roomkeeper");
    if !binary.exists() {
        bail!("build the service first: cargo build --release -p roomkeeper");
    }
    let mut prosody = Prosody::start().await?;
    let focus = Arc::new(Focus::start(&prosody).await?);

    let work = tempfile::tempdir_in(std::env::current_dir()?)?;
    let database = format!("sqlite://{}/roomkeeper.db", work.path().display());
    let store = roomkeeper_store::connect(&roomkeeper_store::DatabaseConfig {
        url: database.clone(),
        ..Default::default()
    })
    .await?;
    store.migrate().await?;
    let lecturer = store
        .create_user(
            &NewUser {
                username: Username::parse("lecturer")?,
                display_name: None,
                password_hash: None,
                is_admin: false,
                must_change_password: false,
            },
            now(),
        )
        .await?
        .id;
    let guard = GuardSettings {
        password_guard: true,
        moderator_guard: ModeratorGuard::Off,
        in_use_alert_minutes: None,
        lobby: LobbyMode::Off,
    };
    let mut ids = Vec::with_capacity(guarded);
    for i in 0..guarded {
        let audit = Audit {
            actor: Some("lecturer"),
            address: None,
            now: now(),
        };
        let name = format!("lecture-{i:04}");
        let request = NewRequest {
            room_name: name.clone(),
            requester: "lecturer".into(),
            reason: "bench".into(),
            co_owners: Vec::new(),
        };
        store
            .create_request(&request, Some(&name), &audit, &[])
            .await?;
        let room = store.room_by_name(&name).await?.context("the room")?;
        store.set_guard(&room, &guard, &audit).await?;
        ids.push(room.id);
    }
    let token = roomkeeper_auth::SecretToken::generate("rk_");
    store
        .create_token(lecturer, "bench", &token.hash, now(), None)
        .await?;
    drop(store);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = work.path().join("roomkeeper.toml");
    std::fs::write(
        &config,
        format!(
            "initial_admin_password = \"bench admin password\"\n\
             [http]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{database}\"\n\
             [rooms]\nmeeting_urls = [\"https://meet.test\"]\n\
             [recordings]\ndir = \"{}\"\n[log]\nlevel = \"warn\"\n{}",
            work.path().join("recordings").display(),
            prosody.shard_toml("main"),
        ),
    )?;
    let server = Killed(
        Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.path().join("roomkeeper.log"))?)
            .spawn()?,
    );
    let pid = server.0.id();
    wait_listening(port).await?;
    let base = format!("http://127.0.0.1:{port}");
    connected(&base).await?;
    // Its first look at every guarded room is done before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    while counter(&base, "guard_room_reads_total").await? < guarded as f64 {
        ensure!(
            Instant::now() < deadline,
            "the first look took over 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Who removed which room's password, and when, as Prosody tells the service account.
    let mut observer_config = prosody.shard("observer");
    let password = observer_config
        .password
        .take()
        .context("the service password")?;
    let observer = XmppShard::connect(observer_config, password)?;
    ensure!(
        observer
            .wait_online_or_problem(Duration::from_secs(10))
            .await
            == Ok(true),
        "the observer did not connect"
    );
    let gone: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut told = observer.events();
    let noted = Arc::clone(&gone);
    let watching = tokio::spawn(async move {
        while let Ok(event) = told.recv().await {
            if let RoomEvent::Config {
                room,
                password_protected: false,
                by: ChangedBy::Service,
                ..
            } = event
            {
                if let Ok(mut gone) = noted.lock() {
                    gone.entry(room).or_insert_with(Instant::now);
                }
            }
        }
    });

    // Eight o'clock: a student comes first to each room, Jicofo makes him moderator, he
    // locks the room.
    let events_before = counter(&base, "guard_events_total").await?;
    let cpu_before = cpu_time_of(&pid.to_string());
    let (rss_before, _) = memory_of(pid);
    let started = Instant::now();
    let mut students = Vec::with_capacity(rooms);
    for i in 0..rooms {
        let (prosody, focus) = (&prosody, Arc::clone(&focus));
        let at = Duration::from_secs_f64(seconds as f64 * i as f64 / rooms as f64);
        students.push(async move {
            tokio::time::sleep_until((started + at).into()).await;
            let room = format!("lecture-{i:04}");
            let student = Participant::join(prosody, &focus, &room, "e1e1e1e1", "student", None)
                .await
                .with_context(|| format!("{room}: the student's join"))?;
            student.wait_until(Participant::is_moderator).await?;
            let locked = Instant::now();
            let locked_wall = std::time::SystemTime::now();
            let room_key = room.clone();
            student
                .lock("mine")
                .await?
                .map_err(|refusal| anyhow::anyhow!("{room}: the lock was refused: {refusal}"))?;
            student
                .wait_until(|p| p.role() == "participant")
                .await
                .with_context(|| format!("{room}: the student kept his rights"))?;
            anyhow::Ok((room_key, locked, locked_wall, locked.elapsed(), student))
        });
    }
    let results = futures::future::join_all(students).await;
    let mut to_gone = Vec::with_capacity(rooms);
    let mut to_rights = Vec::with_capacity(rooms);
    let mut kept = Vec::with_capacity(rooms);
    let mut slowest = Vec::new();
    for result in results {
        let (room, locked, locked_wall, elapsed, student) = result?;
        let removed = gone
            .lock()
            .ok()
            .and_then(|gone| gone.get(&room).copied())
            .with_context(|| format!("{room}: nobody was told of the password's removal"))?;
        to_gone.push(removed.saturating_duration_since(locked));
        slowest.push((removed.saturating_duration_since(locked), room, locked_wall));
        to_rights.push(elapsed);
        kept.push(student);
    }
    watching.abort();
    slowest.sort();
    for (took, room, at) in slowest.iter().rev().take(3) {
        let at = at.duration_since(std::time::UNIX_EPOCH)?;
        println!(
            "slowest: {room} locked at {}.{:03} s, gone {} ms later",
            at.as_secs(),
            at.subsec_millis(),
            took.as_millis()
        );
    }
    let span = started.elapsed();
    let cpu = cpu_time_of(&pid.to_string()) - cpu_before;
    let events = counter(&base, "guard_events_total").await? - events_before;
    let (rss, peak) = memory_of(pid);

    // No room missed: every meeting is running, and none has a password.
    let client = reqwest::Client::new();
    for (i, id) in ids.iter().take(rooms).enumerate() {
        let meeting: serde_json::Value = client
            .get(format!("{base}/api/v1/rooms/{id}/meeting"))
            .bearer_auth(&token.secret)
            .send()
            .await?
            .json()
            .await?;
        ensure!(
            meeting["running"] == true && meeting["password_protected"] == false,
            "lecture-{i:04}: {meeting}"
        );
    }
    println!(
        "{rooms} guarded rooms starting within {:.0} s, a student's lock in each: every lock gone",
        span.as_secs_f64()
    );
    println!("lock to password gone: {}", summary(&mut to_gone));
    println!(
        "lock to the student's rights gone: {}",
        summary(&mut to_rights)
    );
    println!(
        "server: {events} events told, {:.0} µs CPU per event ({:.2} s CPU in all); \
         memory {} before, {} after, {} at its peak",
        cpu.as_secs_f64() * 1e6 / events.max(1.0),
        cpu.as_secs_f64(),
        mib(rss_before),
        mib(rss),
        mib(peak),
    );

    // The catch-up: Prosody goes and comes back (the meetings with it); Roomkeeper
    // reconnects and reads every guarded room once.
    drop(kept);
    let focus = Arc::into_inner(focus).context("the focus is still in use")?;
    drop(focus);
    let reads_before = counter(&base, "guard_room_reads_total").await?;
    prosody.restart().await?;
    let restarted = Instant::now();
    connected(&base).await?;
    let reconnected = Instant::now();
    let deadline = reconnected + Duration::from_secs(120);
    while counter(&base, "guard_room_reads_total").await? < reads_before + guarded as f64 {
        ensure!(
            Instant::now() < deadline,
            "the catch-up took over 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "catch-up after a reconnect: {guarded} guarded rooms read in {} ms \
         (reconnected {} ms after Prosody's restart)",
        reconnected.elapsed().as_millis(),
        (reconnected - restarted).as_millis(),
    );
    drop(server);
    // What the server logged (warnings: a slow guard, a lost connection).
    let log = std::fs::read_to_string(work.path().join("roomkeeper.log")).unwrap_or_default();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && !l.contains("first administrator"))
        .collect();
    println!("server warnings: {}", warnings.len());
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for line in &warnings {
        // Without its time and the room: what happened.
        let message = line.split_once(" WARN").map_or(*line, |(_, rest)| rest);
        let kind: String = message
            .split(" room")
            .next()
            .unwrap_or(message)
            .chars()
            .take(100)
            .collect();
        *kinds.entry(kind).or_default() += 1;
    }
    for (kind, count) in kinds {
        println!("  {count} x {kind}");
    }
    Ok(())
}
