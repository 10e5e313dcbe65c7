//! The whole story in a real browser: Playwright (`e2e/story.mjs`, npm `playwright-core`)
//! drives Debian's Chromium against the real service, a real Prosody from the test kit
//! with a simulated Jicofo and participants, and real video files.
//!
//! The browser plays the people; this side plays the world around them. The script asks
//! for each outside event with a line `need <event>` on its stdout and goes on when this
//! side answers `ok` on its stdin, so nothing waits on a timer.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use roomkeeper_domain::AuditAction;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{
    Arrival, Focus, Participant, Prosody, ProsodyVersion, Setup, Whereabouts,
};
use roomkeeper_testkit::oidc::{self, OidcServer, e2e_dir};
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, jibri};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const MEET: &str = "https://meet.example.org";
const PASSWORD: &str = "a long test password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_through_the_pages_in_chromium() {
    seed_story(ProsodyVersion::Debian012).await;
}

/// Current Jitsi installs run Prosody 13, configured as jitsi-meet's template does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_story_through_the_pages_in_chromium_on_prosody_13() {
    seed_story(ProsodyVersion::V13).await;
}

async fn seed_story(version: ProsodyVersion) {
    let prosody = Prosody::start_setup(Setup {
        version,
        jitsi_lobby: true,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    // A real OpenID provider too: the stranger logs in with her university account.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let university = OidcServer::start(&base, "uni").await.unwrap();
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.jitsi.shards = vec![prosody.shard("main")];
    config.rooms.meeting_urls = vec![MEET.into()];
    config.http.public_url = Some(base);
    config.oidc = vec![university.config("uni", "University account")];
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    // The lecture's recording starts after the story has registered the room (a
    // recording belongs to the room registered when it started): on a whole minute, ten
    // minutes on, whatever the machine's speed.
    let start = (app.clock().now() / 60 + 10) * 60;
    assert!(app.jitsi_ready().await);
    for (name, admin) in [("root", true), ("lecturer", false), ("assistant", false)] {
        app.user(name, PASSWORD, admin).await.unwrap();
    }
    let jibri_dir = tempfile::tempdir().unwrap();
    // One folder per version: the two stories may run at the same time.
    let screenshots = match version {
        ProsodyVersion::Debian012 => e2e_dir().join("screenshots"),
        ProsodyVersion::V13 => e2e_dir().join("screenshots").join("prosody-13"),
    };

    let mut story = tokio::process::Command::new("node")
        .arg(e2e_dir().join("story.mjs"))
        .env("E2E_BASE_URL", &app.base_url)
        .env("E2E_PASSWORD", PASSWORD)
        .env("E2E_RECORDING_NAME", jibri::download_name("logic", start))
        .env(
            "E2E_SSO_PASSWORD",
            format!("carol{}", oidc::PASSWORD_SUFFIX),
        )
        .env("E2E_SCREENSHOTS", &screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node (scripts/test installs Node.js and e2e/'s packages)");
    let mut answers = story.stdin.take().unwrap();
    let mut lines = BufReader::new(story.stdout.take().unwrap()).lines();

    let mut people: Vec<Participant> = Vec::new();
    let mut arrivals: Vec<Arrival> = Vec::new();
    let mut evil_index = None;
    // The story's acts are in story.mjs; each step here is what an act asked of Jitsi.
    let mut steps = Steps::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("the story stalled for two minutes")
        .unwrap()
    {
        println!("story: {line}");
        let Some(event) = line.strip_prefix("need ") else {
            continue;
        };
        steps.begin(format!("the story's browser needs {event}"));
        match event {
            // evilstudent is first in `logic`: the focus makes him moderator; he locks it.
            "evilstudent-locks" => {
                let evil =
                    Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
                        .await
                        .unwrap();
                evil.wait_until(Participant::is_moderator).await.unwrap();
                evil.lock("mine").await.unwrap().unwrap();
                evil_index = Some(people.len());
                people.push(evil);
            }
            // A third person could not get in while the room was locked; now they can.
            "guest-joins" => {
                people.push(
                    Participant::join(&prosody, &focus, "logic", "9e579e57", "Guest", None)
                        .await
                        .unwrap(),
                );
            }
            "lecturer-joins" => {
                people.push(
                    Participant::join(
                        &prosody,
                        &focus,
                        "logic",
                        "1ec71ec7",
                        "Prof. Lecturer",
                        None,
                    )
                    .await
                    .unwrap(),
                );
            }
            // Revoked, he tries to lock the room again: Prosody refuses.
            "evilstudent-tries-again" => {
                let evil = &people[evil_index.unwrap()];
                let refused = evil.lock("again").await.unwrap();
                assert!(refused.is_err(), "a revoked moderator could lock the room");
            }
            "recording" => {
                let session = jibri::record(
                    jibri_dir.path(),
                    "5e55105e-0000-4000-8000-000000000001",
                    "logic",
                    &format!("{MEET}/logic"),
                    start,
                    &[4],
                )
                .unwrap();
                app.state
                    .usecases
                    .recordings
                    .ingest_dir(&session.dir, true)
                    .await
                    .unwrap();
            }
            // Recorded in a room nobody registered: kept for an admin to assign.
            "unassigned-recording" => {
                let session = jibri::record(
                    jibri_dir.path(),
                    "5e55105e-0000-4000-8000-000000000002",
                    "physics",
                    &format!("{MEET}/physics"),
                    start,
                    &[1],
                )
                .unwrap();
                let stored = app
                    .state
                    .usecases
                    .recordings
                    .ingest_dir(&session.dir, true)
                    .await
                    .unwrap();
                assert_eq!(stored[0].room_id, None);
            }
            // The seminar room has a guard: evilstudent's lock is undone before anyone looks.
            "seminar-evilstudent-locks" => {
                let evil = Participant::join(
                    &prosody,
                    &focus,
                    "lecturer-seminar",
                    "5e5e5e5e",
                    "evilstudent",
                    None,
                )
                .await
                .unwrap();
                evil.wait_until(Participant::is_moderator).await.unwrap();
                evil.lock("mine").await.unwrap().unwrap();
                evil.wait_until(|p| p.role() == "participant")
                    .await
                    .unwrap();
                // "Before the lecturer looks": Prosody tells evilstudent and Roomkeeper on
                // two connections, so evilstudent can see his rights gone a moment before
                // the guard's last step is answered and written down.
                guard_done(&app, "lecturer-seminar").await;
                people.push(evil);
            }
            // The link from "Join as moderator", opened: the name carries the code.
            join if join.starts_with("join-with ") => {
                let name = &join["join-with ".len()..];
                let lecturer =
                    Participant::join(&prosody, &focus, "lecturer-seminar", "1ec7aaaa", name, None)
                        .await
                        .unwrap();
                lecturer
                    .wait_until(Participant::is_moderator)
                    .await
                    .unwrap();
                people.push(lecturer);
            }
            // The seminar's lobby is on: someone new waits there until the lecturer lets
            // them in from his room page.
            "latecomer-knocks" => {
                let late = Arrival::start(
                    &prosody,
                    &focus,
                    "lecturer-seminar",
                    "1a7e1a7e",
                    "latecomer",
                )
                .await
                .unwrap();
                late.wait_until(|w| *w == Whereabouts::Knocking)
                    .await
                    .unwrap();
                arrivals.push(late);
            }
            "latecomer-is-in" => {
                let late = arrivals.last().unwrap();
                late.wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
                    .await
                    .unwrap();
            }
            other => panic!("the story asked for an unknown event {other:?}"),
        }
        answers.write_all(b"ok\n").await.unwrap();
        answers.flush().await.unwrap();
    }
    let status = tokio::time::timeout(Duration::from_secs(30), story.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "the story failed: {status}");
    drop(people);
    drop(arrivals);
}

/// Waits until the room's history holds both steps the guard takes against a
/// moderator who locked the room.
async fn guard_done(app: &TestApp, room: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let history = app
            .store()
            .audit_log_since(Some(room), None, roomkeeper_store::Page::new(1, 50))
            .await
            .unwrap();
        let done = |action: AuditAction| history.items.iter().any(|e| e.action == action);
        if done(AuditAction::GuardRevokedModerator) && done(AuditAction::GuardRemovedPassword) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guard did not finish in {room}: {:?}",
            history.items.iter().map(|e| e.action).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
