//! How fast the owner's lobby answers (issue 30), against a real Prosody with jitsi-meet's
//! lobby plugin and the companion module on this machine:
//!
//! - knock → listed: from someone asking to join (the Jitsi client's join, refused by the
//!   lobby, then its knock) until the room page's event stream (`/api/v1/rooms/{id}/events`,
//!   what an open room page follows) carries them among the knockers;
//! - admit → inside: from the owner's `POST …/meeting/lobby/{id}/admit` until the person's
//!   own client is in the meeting.
//!
//! Run:
//!
//!     cargo run --release -p roomkeeper-bench --bin lobby
//!     cargo run --release -p roomkeeper-bench --bin lobby -- 300     # samples
//!
//! Needs Debian's `prosody` (`scripts/test` installs it) and jitsi-meet's plugins
//! (`../shared/jitsi-meet` or `JITSI_MEET_DIR`). Prints the figures `docs/PERFORMANCE.md`
//! quotes.

use std::time::Instant;

use anyhow::Context;
use roomkeeper_bench::summary;
use roomkeeper_testkit::jitsi::{Arrival, Focus, Prosody, Setup, Whereabouts, jitsi_meet_files};
use roomkeeper_testkit::{MeetingEvents, TestApp};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let samples: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().context("the number of samples")?,
        None => 100,
    };
    jitsi_meet_files("the lobby bench").context("jitsi-meet's Prosody plugins are missing")?;
    let prosody = Prosody::start_setup(Setup {
        jitsi_lobby: true,
        ..Setup::default()
    })
    .await?;
    let focus = Focus::start(&prosody).await?;
    let app = TestApp::spawn_against(&prosody).await?;
    app.passwordless_user("lecturer", false).await?;
    let room_id = app.registered_room("lecture", "lecturer", &[]).await?;
    let lecturer = app.client_as("lecturer").await?;
    // As the lecturer sets it on his page: Roomkeeper tells the module at once.
    let saved = lecturer
        .put(app.url(&format!("/api/v1/rooms/{room_id}/guard")))
        .json(&serde_json::json!({
            "password_guard": false,
            "moderator_guard": "off",
            "in_use_alert_minutes": null,
            "lobby": "always",
        }))
        .send()
        .await?;
    anyhow::ensure!(saved.status().is_success(), "the guard: {}", saved.status());
    // The room page, open: it follows the meeting's event stream.
    let stream = lecturer
        .get(app.url(&format!("/api/v1/rooms/{room_id}/events")))
        .send()
        .await?;
    let mut page = MeetingEvents::new(stream);
    page.next().await?;

    let mut listed = Vec::with_capacity(samples);
    let mut inside = Vec::with_capacity(samples);
    let mut people = Vec::with_capacity(samples);
    for round in 0..samples {
        let nick = format!("{:08x}", 0xa000_0000_u32 + u32::try_from(round)?);
        let started = Instant::now();
        let arrival = Arrival::start(&prosody, &focus, "lecture", &nick, "Student").await?;
        loop {
            let meeting = page.next().await?;
            let knocking = meeting["knocking"].as_array().cloned().unwrap_or_default();
            if knocking.iter().any(|k| k["id"] == nick.as_str()) {
                break;
            }
        }
        listed.push(started.elapsed());
        let started = Instant::now();
        let admitted = lecturer
            .post(app.url(&format!(
                "/api/v1/rooms/{room_id}/meeting/lobby/{nick}/admit"
            )))
            .send()
            .await?;
        anyhow::ensure!(
            admitted.status().is_success(),
            "round {round}: admit answered {}",
            admitted.status()
        );
        arrival
            .wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
            .await?;
        inside.push(started.elapsed());
        people.push(arrival);
    }
    println!("knock to listed on the room page: {}", summary(&mut listed));
    println!("admit to inside the meeting: {}", summary(&mut inside));
    drop(people);
    Ok(())
}
