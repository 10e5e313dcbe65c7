//! The seed story through Roomkeeper's API, against a real Prosody with simulated Jicofo
//! and participants: a student locks the lecturer's room, the lecturer takes it back.
//!
//! A test binary of its own: cargo runs binaries one after another, so Prosody is not
//! starved by the many parallel tests of `app` while answers are timed.

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{Companion, Focus, Participant, Prosody, ProsodyVersion, Setup};
use roomkeeper_testkit::{MeetingEvents, TestApp};
use serde_json::Value;

use roomkeeper_testkit::{error_code, json};

/// The series the alert rules in docs/OPERATIONS.md ask for (Roomkeeper's own, not
/// Prometheus's `up`).
fn alert_rule_series() -> Vec<String> {
    let operations = include_str!("../../../docs/OPERATIONS.md");
    let rules = operations
        .split("\n    rules:\n")
        .nth(1)
        .expect("docs/OPERATIONS.md has alert rules")
        .split("\n\n")
        .next()
        .unwrap();
    let mut names: Vec<String> = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.contains("summary:"))
        .flat_map(|l| l.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|w| {
            ["recordings_", "jitsi_", "http_", "mail_"]
                .iter()
                .any(|p| w.starts_with(p))
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 5, "{names:?}");
    names
}

/// What `roomkeeper check-config` says of one shard: whether it passes, and its words.
async fn check_config_of(shard: roomkeeper_jitsi::ShardConfig, limit: Duration) -> (bool, String) {
    let mut config = roomkeeper::Config::default();
    config.jitsi.shards = vec![shard];
    let mut out = Vec::new();
    let fine = roomkeeper::cli::check_prosody(&config, limit, &mut out)
        .await
        .unwrap();
    (fine, String::from_utf8(out).unwrap())
}

/// `/admin/jitsi` as an administrator sees it.
async fn admin_jitsi_page(app: &TestApp) -> String {
    app.passwordless_user("operator", true).await.unwrap();
    let operator = app.client_as("operator").await.unwrap();
    let page = operator.get(app.url("/admin/jitsi")).send().await.unwrap();
    page.text().await.unwrap()
}

/// One live scenario at a time: answers are timed against promises (2 s), and two
/// Prosody servers with their simulated crowds on this machine's two cores make each
/// other late.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[path = "live/guard.rs"]
mod guard;
#[path = "live/instances.rs"]
mod instances;
#[path = "live/lobby.rs"]
mod lobby;
#[path = "live/proxy.rs"]
mod proxy;
#[path = "live/tls.rs"]
mod tls;

/// roomkeeper-prosody and Roomkeeper upgraded apart: the module of another release is
/// named, with what to do, on /admin/jitsi, in /readyz and by check-config (which fails);
/// the module's events still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_of_another_release_is_named_on_the_admin_page_and_by_check_config() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        module_revision: Some("1"),
        ..Setup::default()
    })
    .await
    .unwrap();
    let app = TestApp::spawn_against(&prosody).await.unwrap();
    assert!(app.jitsi_ready().await);
    let page = admin_jitsi_page(&app).await;
    assert!(page.contains("Module of another version"), "{page}");
    let ready = json(app.client().get(app.url("/readyz"))).await;
    let mismatch = ready["checks"]["jitsi"][0]["module_mismatch"]
        .as_str()
        .unwrap_or("");
    assert!(mismatch.contains("install roomkeeper-prosody"), "{ready}");
    let (fine, out) = check_config_of(prosody.shard("main"), Duration::from_secs(10)).await;
    assert!(
        !fine && out.contains("revision 1, this Roomkeeper needs revision"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lecturer_takes_back_a_locked_room_through_the_api() {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = TestApp::spawn_against(&prosody).await.unwrap();
    for (name, admin) in [
        ("lecturer", false),
        ("assistant", false),
        ("stranger", false),
    ] {
        app.passwordless_user(name, admin).await.unwrap();
    }
    let room = app
        .registered_room("logic", "lecturer", &["assistant"])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let assistant = app.client_as("assistant").await.unwrap();
    let stranger = app.client_as("stranger").await.unwrap();
    let url = |path: &str| app.url(&format!("/api/v1/rooms/{room}{path}"));
    let meeting = |client: &reqwest::Client| json(client.get(url("/meeting")));

    assert_eq!(meeting(&lecturer).await["running"], false);
    // Follow the room's events from before anyone joins.
    let response = lecturer.get(url("/events")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut events = MeetingEvents::new(response);
    let first = events.next().await.unwrap();
    assert_eq!(first["running"], false);
    let ready = json(app.client().get(app.url("/readyz"))).await;
    assert_eq!(ready["checks"]["jitsi"][0]["online"], true, "{ready}");
    assert_eq!(
        ready["checks"]["jitsi"][0]["room_ownership"], "owner",
        "{ready}"
    );
    let (fine, out) = check_config_of(prosody.shard("main"), Duration::from_secs(10)).await;
    assert!(
        fine && out.contains("owner of the rooms: yes") && !out.contains("revision"),
        "{out}"
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Every series docs/OPERATIONS.md's alert rules ask for is one this service exports
    // (a renamed metric would leave an alert that never fires).
    for name in alert_rule_series() {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the alert rules ask for {name}, which /metrics lacks:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("jitsi_shard_online{shard=\"main\"} 1")
            && metrics.contains("jitsi_shard_companion_module{shard=\"main\"} 1")
            && metrics.contains("jitsi_shard_room_owner{shard=\"main\"} 1")
            && metrics.contains("jitsi_rooms_followed 1"),
        "{metrics}"
    );
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    // The companion module pushes the change: the stream tells, with the display name,
    // without anyone asking: well before the 30 s safety re-read (a busy machine may take
    // longer than production's second, which docs/PERFORMANCE.md measures).
    let joined = Instant::now();
    let pushed = events
        .until(|m| m["participants"][0]["moderator"] == true)
        .await
        .unwrap();
    assert!(
        joined.elapsed() < Duration::from_secs(15),
        "{:?}",
        joined.elapsed()
    );
    assert_eq!(pushed["participants"][0]["id"], "e1e1e1e1", "{pushed}");
    assert_eq!(pushed["participants"][0]["display_name"], "evilstudent");
    assert!(
        pushed["participants"][0]["joined_at"].is_string(),
        "{pushed}"
    );
    drop(events);
    evil.lock("mine").await.unwrap().unwrap();
    let page = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<strong>evilstudent</strong>") && page.contains("as it changes"),
        "with the module the page shows names and says changes are live: {page}"
    );
    let jitsi = admin_jitsi_page(&app).await;
    assert!(
        jitsi.contains("Connected")
            && jitsi.contains("Add-on loaded")
            && jitsi.contains("Rooms being followed right now: 0"),
        "{jitsi}"
    );

    let seen = meeting(&lecturer).await;
    assert_eq!(
        (
            seen["running"].as_bool(),
            seen["password_protected"].as_bool()
        ),
        (Some(true), Some(true)),
        "{seen}\n{}",
        prosody.log()
    );
    assert_eq!(seen["participants"][0]["id"], "e1e1e1e1");
    assert_eq!(seen["participants"][0]["moderator"], true);
    assert!(
        seen["participants"][0].get("jid").is_none(),
        "real JIDs stay inside"
    );
    let refused = stranger.get(url("/meeting")).send().await.unwrap();
    assert_eq!(
        error_code(refused, StatusCode::NOT_FOUND).await,
        "not_found"
    );

    let revoked = json(lecturer.delete(url("/meeting/participants/e1e1e1e1/moderator"))).await;
    assert_eq!(revoked["participants"][0]["moderator"], false);
    assert_eq!(
        revoked["warning"], "no_moderator",
        "Jitsi will not pick a new moderator"
    );
    let unlocked = json(lecturer.delete(url("/meeting/password"))).await;
    assert_eq!(unlocked["password_protected"], false);

    let _third = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Third", None)
        .await
        .unwrap();
    let me = Participant::join(&prosody, &focus, "logic", "1ec70e70", "Lecturer", None)
        .await
        .unwrap();
    let granted = lecturer
        .put(url("/meeting/participants/1ec70e70/moderator"))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    me.wait_until(Participant::is_moderator).await.unwrap();
    assert!(
        evil.lock("again").await.unwrap().is_err(),
        "Prosody refuses him now"
    );

    steps.begin("The co-owner has the same rights: the student is removed");
    let kicked = json(assistant.post(url("/meeting/participants/e1e1e1e1/kick"))).await;
    assert!(
        !kicked["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "e1e1e1e1")
    );
    let gone = assistant
        .post(url("/meeting/participants/e1e1e1e1/kick"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(gone, StatusCode::CONFLICT).await,
        "participant_gone"
    );

    let history = json(lecturer.get(app.url(&format!("/api/v1/audit?room_id={room}")))).await;
    let actions: Vec<(&str, &str)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        &actions[..5],
        [
            ("kick_failed", "assistant"),
            ("kick", "assistant"),
            ("grant_moderator", "lecturer"),
            ("remove_password", "lecturer"),
            ("revoke_moderator", "lecturer")
        ]
    );
    let failure = history["items"][0]["detail"].as_str().unwrap();
    assert!(
        failure.contains("e1e1e1e1") && failure.contains("has left the meeting"),
        "the failed try names whom and why: {failure}"
    );
    let kick_detail = history["items"][1]["detail"].as_str().unwrap();
    assert!(
        kick_detail.contains("e1e1e1e1") && kick_detail.contains("evilstudent"),
        "the history names who was removed: {kick_detail}"
    );

    let ended = lecturer.delete(url("/meeting")).send().await.unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(meeting(&lecturer).await["running"], false);
    let nothing = lecturer
        .delete(url("/meeting/password"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(nothing, StatusCode::CONFLICT).await,
        "no_meeting"
    );

    steps.begin("Prosody away: a clear 503 within 2 s");
    drop((me, _third, evil, focus));
    drop(prosody);
    let started = Instant::now();
    let down = lecturer.get(url("/meeting")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        error_code(down, StatusCode::SERVICE_UNAVAILABLE).await,
        "unavailable"
    );
}

/// The same control from the room's page: what a lecturer sees and clicks. Here
/// without the companion module: the page says so and shows participant ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_page_shows_the_meeting_and_its_buttons_work() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_with(Companion::Absent).await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = TestApp::spawn_against(&prosody).await.unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let page = || {
        let request = lecturer.get(app.url(&format!("/rooms/{room}")));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let click = |form: Vec<(&'static str, &'static str)>| {
        let request = lecturer
            .post(app.url(&format!("/rooms/{room}/meeting")))
            .form(&form);
        async move { request.send().await.unwrap() }
    };
    let html = page().await;
    assert!(
        html.contains("No meeting is running in this room right now."),
        "{html}"
    );

    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let _other = Participant::join(
        &prosody,
        &focus,
        "logic",
        "a2a2a2a2",
        "Student",
        Some("mine"),
    )
    .await
    .unwrap();
    let html = page().await;
    assert!(
        html.contains("Someone has locked this meeting with a password.")
            && html.contains("e1e1e1e1"),
        "{html}"
    );
    assert!(
        html.contains("The only moderator; instead make"),
        "revoking the last moderator offers a successor"
    );
    assert!(
        html.contains("checks the meeting every second") && !html.contains("evilstudent"),
        "without the module the page says why there are no names"
    );
    let jitsi = admin_jitsi_page(&app).await;
    assert!(jitsi.contains("Add-on missing"), "{jitsi}");

    let done = click(vec![
        ("action", "revoke"),
        ("participant", "e1e1e1e1"),
        ("then_grant", "a2a2a2a2"),
    ])
    .await;
    assert_eq!(
        done.headers()["location"],
        format!("/rooms/{room}?notice=meeting")
    );
    let done = click(vec![("action", "remove_password")]).await;
    let status = done.status();
    let body = done.text().await.unwrap();
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}\n{}",
        body.split("role=\"alert\">").nth(1).unwrap_or_default(),
        prosody.log()
    );
    let html = page().await;
    assert!(
        html.contains("The room has no password") && !html.contains("Someone has locked"),
        "{html}"
    );
    let gone = click(vec![("action", "kick"), ("participant", "00000000")]).await;
    assert_eq!(gone.status(), StatusCode::CONFLICT);
    assert!(
        gone.text()
            .await
            .unwrap()
            .contains("This participant has left the meeting.")
    );
    let unticked = click(vec![("action", "end")]).await;
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    let ended = click(vec![("action", "end"), ("confirm", "yes")]).await;
    assert_eq!(
        ended.headers()["location"],
        format!("/rooms/{room}?notice=meeting-ended")
    );
    assert!(page().await.contains("No meeting is running"));
    drop((evil, focus));
}

/// Prosody 13 as an operator may leave it: the service account among the MUC component's
/// admins, but without `component_admins_as_room_owners = true`. The operator is told at
/// every place they look, and the lecturer's refused action names the line to add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prosody_13_without_the_owner_option_is_shown_with_the_line_to_add() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        version: ProsodyVersion::V13,
        admins_as_owners: false,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = TestApp::spawn_against(&prosody).await.unwrap();
    let line = "component_admins_as_room_owners = true";

    let page = admin_jitsi_page(&app).await;
    assert!(
        page.contains("Cannot unlock or end meetings") && page.contains(line),
        "{page}"
    );
    assert!(
        page.contains("Prosody 13."),
        "the version the module told: {page}"
    );
    let ready = json(app.client().get(app.url("/readyz"))).await;
    assert_eq!(
        ready["checks"]["jitsi"][0]["room_ownership"], "not_owner",
        "{ready}"
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("jitsi_shard_room_owner{shard=\"main\"} 0"),
        "{metrics}"
    );

    // `roomkeeper check-config` asks a reachable Prosody too, and fails on this one;
    // one that is down is only mentioned.
    let (fine, out) = check_config_of(prosody.shard("main"), Duration::from_secs(10)).await;
    assert!(!fine, "{out}");
    assert!(
        out.contains("owner of the rooms: NO") && out.contains(line),
        "{out}"
    );
    let mut down = prosody.shard("down");
    down.xmpp_address = "127.0.0.1:9".into();
    let (fine, out) = check_config_of(down, Duration::from_secs(1)).await;
    assert!(
        fine && out.contains("jitsi down (127.0.0.1:9): not reachable"),
        "{out}"
    );

    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let refused = lecturer
        .delete(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(line),
        "{body}"
    );
}

/// How many meeting reads `/metrics` has counted from this source so far.
async fn meeting_reads(app: &TestApp, from: &str) -> u64 {
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("jitsi_meeting_reads_total{{from=\"{from}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// While someone follows a room (its page or event stream is open), reading the meeting
/// asks Prosody nothing: it is answered from the room's live state, so an owner
/// reloading many times a second adds no queries ahead of anyone's action. Each read
/// still shows the action answered just before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_room_is_read_from_its_live_state_and_shows_every_action() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = TestApp::spawn_against(&prosody).await.unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let url = |path: &str| app.url(&format!("/api/v1/rooms/{room}{path}"));
    let student = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    student.wait_until(Participant::is_moderator).await.unwrap();
    let response = lecturer.get(url("/events")).send().await.unwrap();
    let mut events = MeetingEvents::new(response);
    events
        .until(|m| m["participants"][0]["moderator"] == true)
        .await
        .unwrap();

    let (followed, asked) = (
        meeting_reads(&app, "followed").await,
        meeting_reads(&app, "prosody").await,
    );
    let moderator = url("/meeting/participants/e1e1e1e1/moderator");
    for turn in 0..20 {
        let grant = turn % 2 == 1;
        let action = if grant {
            lecturer.put(&moderator)
        } else {
            lecturer.delete(&moderator)
        };
        assert_eq!(action.send().await.unwrap().status(), StatusCode::OK);
        let seen = json(lecturer.get(url("/meeting"))).await;
        assert_eq!(
            seen["participants"][0]["moderator"], grant,
            "read {turn} shows the action answered before it: {seen}"
        );
    }
    assert_eq!(meeting_reads(&app, "followed").await - followed, 20);
    assert_eq!(meeting_reads(&app, "prosody").await, asked);
}
