//! How fast the room guard acts (issue 16, point 4): from a student's lock (the muc#owner
//! IQ that sets a password) until Roomkeeper's own removal of the password is told back
//! by Prosody, against a real Prosody with the companion module on this machine.
//!
//!     cargo run --release -p roomkeeper-bench --bin guard
//!     cargo run --release -p roomkeeper-bench --bin guard -- 1000     # samples
//!
//! Each round the student is made moderator again from outside (as Jicofo would), locks
//! the room, and the clock stops when the `config` event with the password gone and
//! Roomkeeper's account as its author arrives. Needs Debian's `prosody` (`scripts/test`
//! installs it). Prints the figure `docs/PERFORMANCE.md` quotes.

use std::time::{Duration, Instant};

use anyhow::Context;
use roomkeeper_bench::summary;
use roomkeeper_domain::{GuardSettings, LobbyMode, ModeratorGuard, RoomName};
use roomkeeper_jitsi::{ChangedBy, MeetingControl, RoomEvent};
use roomkeeper_store::Audit;
use roomkeeper_testkit::TestApp;
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("the number of samples")?,
        None => 300,
    };
    let prosody = Prosody::start().await?;
    let focus = Focus::start(&prosody).await?;
    let app = TestApp::spawn_against(&prosody).await?;
    let room_id = app.registered_room("logic", "lecturer", &[]).await?;
    let room = app.store().room(room_id).await?.context("the room")?;
    let guard = GuardSettings {
        password_guard: true,
        moderator_guard: ModeratorGuard::Off,
        in_use_alert_minutes: None,
        lobby: LobbyMode::Off,
    };
    let audit = Audit {
        actor: Some("lecturer"),
        address: None,
        now: app.clock().now(),
    };
    app.store().set_guard(&room, &guard, &audit).await?;
    let name = RoomName::parse("logic", &[])?;
    let evil =
        Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None).await?;
    evil.wait_until(Participant::is_moderator).await?;
    let meetings = app.state.usecases.shards.clone();

    let mut took = Vec::with_capacity(samples);
    for round in 0..samples {
        if !evil.is_moderator() {
            meetings.set_moderator(&name, "e1e1e1e1", true).await?;
            evil.wait_until(Participant::is_moderator).await?;
        }
        let mut events = meetings.events();
        let started = Instant::now();
        evil.lock(&format!("mine-{round}"))
            .await?
            .map_err(|refusal| anyhow::anyhow!("the lock was refused: {refusal}"))?;
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Ok(RoomEvent::Config {
                    password_protected: false,
                    by: ChangedBy::Service,
                    ..
                }) = events.recv().await
                {
                    return;
                }
            }
        })
        .await
        .with_context(|| format!("round {round}: the password was still there after 10 s"))?;
        took.push(started.elapsed());
        evil.wait_until(|p| p.role() == "participant").await?;
    }
    println!(
        "lock to password removed (Prosody {}): {}",
        app.state.usecases.shards.status()[0]
            .prosody_version
            .clone()
            .unwrap_or_default(),
        summary(&mut took)
    );
    Ok(())
}
