//! The owner's lobby through Roomkeeper's API and room page, against a real Prosody with
//! jitsi-meet's own lobby plugin and the companion module (on the conference and the
//! lobby component), with the simulated Jicofo.

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{
    Arrival, Focus, Prosody, ProsodyVersion, Setup, Whereabouts, jitsi_meet_files,
};
use roomkeeper_testkit::{MeetingEvents, SmtpSink, TestApp, json};
use serde_json::{Value, json};

use super::ONE_AT_A_TIME;
use super::guard::{actions, app_against, app_with_email, has, history_when, join_code, put_guard};

async fn lobby_site(version: ProsodyVersion) -> Option<(Prosody, Focus, TestApp)> {
    jitsi_meet_files("the owner's lobby")?;
    let prosody = Prosody::start_setup(Setup {
        version,
        jitsi_lobby: true,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    Some((prosody, focus, app))
}

/// Who knocks, as the API lists them: (id, display name).
async fn knocking(app: &TestApp, client: &reqwest::Client, room: i64) -> Vec<(String, String)> {
    let lobby = json(client.get(app.url(&format!("/api/v1/rooms/{room}/meeting/lobby")))).await;
    lobby["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["display_name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// What `read` answers once `ready` holds for it (Roomkeeper hears of changes as Prosody
/// pushes them), or after 10 s, for the assertion that follows to show what is there.
async fn polled<T, F: std::future::Future<Output = T>>(
    read: impl Fn() -> F,
    ready: impl Fn(&T) -> bool,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = read().await;
        if ready(&now) || std::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The API's list of knockers once `ready` holds for it.
async fn knocking_when(
    app: &TestApp,
    client: &reqwest::Client,
    room: i64,
    ready: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    polled(|| knocking(app, client, room), |now| ready(now)).await
}

fn lobby_guard(mode: &str) -> Value {
    json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null, "lobby": mode})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_room_lets_in_only_whom_its_owner_admits() {
    seed_story_with_the_lobby(ProsodyVersion::Debian012).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lobby_room_lets_in_only_whom_its_owner_admits_on_prosody_13() {
    seed_story_with_the_lobby(ProsodyVersion::V13).await;
}

async fn seed_story_with_the_lobby(version: ProsodyVersion) {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some((prosody, focus, app)) = lobby_site(version).await else {
        return;
    };
    for name in ["lecturer", "stranger"] {
        app.passwordless_user(name, false).await.unwrap();
    }
    let room = app
        .registered_room("lecture", "lecturer", &[])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let stranger = app.client_as("stranger").await.unwrap();

    steps.begin("The lecturer sets the lobby to \"always\", before any meeting");
    put_guard(&app, &lecturer, room, &lobby_guard("always")).await;
    let saved = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/guard")))).await;
    assert_eq!(saved["lobby"], "always");

    // The lecturer's room page is open (it follows the meeting): what the API answers
    // below comes from the followed meeting, as the page's does.
    let follow = lecturer
        .get(app.url(&format!("/api/v1/rooms/{room}/events")))
        .send()
        .await
        .unwrap();
    let mut followed = MeetingEvents::new(follow);
    followed.next().await.unwrap();

    steps.begin("evilstudent arrives first");
    // The room is created with the lobby on: he waits, never inside, never moderator, so there
    // is nothing he could lock.
    let evil = Arrival::start(&prosody, &focus, "lecture", "e1e1e1e1", "evilstudent")
        .await
        .unwrap();
    evil.wait_until(|w| *w == Whereabouts::Knocking)
        .await
        .unwrap();
    let listed = knocking_when(&app, &lecturer, room, |k| !k.is_empty()).await;
    assert_eq!(listed, [("e1e1e1e1".into(), "evilstudent".into())]);
    let meeting = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/meeting")))).await;
    assert_eq!(meeting["lobby"], true);
    assert_eq!(meeting["participants"], json!([]));
    // Nobody of the room is in: the lecturer is told, once, on his home page (and by
    // email where he gave an address).
    let notices = polled(
        || async {
            let notices = json(lecturer.get(app.url("/api/v1/notices"))).await;
            notices
                .as_array()
                .or(notices["items"].as_array())
                .unwrap()
                .iter()
                .filter(|n| n["kind"] == "knocking")
                .cloned()
                .collect::<Vec<Value>>()
        },
        |knocks| !knocks.is_empty(),
    )
    .await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["message"], "evilstudent");
    let home = lecturer
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("waiting in the lobby of"), "{home}");
    // Who knocks is the room's business only.
    let hidden = stranger
        .get(app.url(&format!("/api/v1/rooms/{room}/meeting/lobby")))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);

    steps.begin("The lecturer's \"Join as moderator\" goes through the lobby by itself");
    // In, and moderator, with the code seen by nobody.
    let (code, name) = join_code(&app, &lecturer, room).await;
    let me = Arrival::start(&prosody, &focus, "lecture", "1ec70e70", &name)
        .await
        .unwrap();
    me.wait_until(|w| *w == Whereabouts::Inside { moderator: true })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", prosody.log()));
    let listed = knocking(&app, &lecturer, room).await;
    assert_eq!(listed, [("e1e1e1e1".into(), "evilstudent".into())]);
    assert!(listed.iter().all(|(_, n)| !n.contains(&code)));

    steps.begin("His room page, on his phone, shows evilstudent waiting, and lets him in");
    let page = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Waiting in the lobby") && page.contains("evilstudent"),
        "{page}"
    );
    assert!(page.contains(r#"name="action" value="admit""#), "{page}");
    let admitted = lecturer
        .post(app.url(&format!("/rooms/{room}/meeting")))
        .form(&[("action", "admit"), ("participant", "e1e1e1e1")])
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), StatusCode::SEE_OTHER);
    evil.wait_until(|w| *w == Whereabouts::Inside { moderator: false })
        .await
        .unwrap();
    // Roomkeeper's view follows: he is a participant now, no longer waiting.
    let is_inside = |meeting: &Value| {
        meeting["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "e1e1e1e1")
    };
    let meeting = polled(
        || json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/meeting")))),
        is_inside,
    )
    .await;
    assert!(is_inside(&meeting), "{meeting}");
    assert_eq!(meeting["knocking"], json!([]), "{meeting}");
    let entries = history_when(&app, &lecturer, room, |e| has(e, "lobby_admit", 1)).await;
    let admit = entries
        .iter()
        .find(|e| e["action"] == "lobby_admit")
        .unwrap();
    assert_eq!(admit["actor"], "lecturer");
    assert!(
        admit["detail"].as_str().unwrap().contains("evilstudent"),
        "{admit}"
    );

    steps.begin("Someone sent away sees Jitsi's \"denied\"; a stranger cannot do it");
    let late = Arrival::start(&prosody, &focus, "lecture", "d2d2d2d2", "latecomer")
        .await
        .unwrap();
    late.wait_until(|w| *w == Whereabouts::Knocking)
        .await
        .unwrap();
    knocking_when(&app, &lecturer, room, |k| !k.is_empty()).await;
    let deny_url = app.url(&format!("/api/v1/rooms/{room}/meeting/lobby/d2d2d2d2/deny"));
    let refused = stranger.post(&deny_url).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let denied = lecturer.post(&deny_url).send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::OK);
    late.wait_until(|w| *w == Whereabouts::Denied)
        .await
        .unwrap();

    steps.begin("The start of the lecture: everyone knocking, in at once");
    let first = Arrival::start(&prosody, &focus, "lecture", "a1a1a1a1", "Anna")
        .await
        .unwrap();
    let second = Arrival::start(&prosody, &focus, "lecture", "b2b2b2b2", "Ben")
        .await
        .unwrap();
    let both = knocking_when(&app, &lecturer, room, |k| k.len() == 2).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let all = lecturer
        .post(app.url(&format!("/api/v1/rooms/{room}/meeting/lobby/admit-all")))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), StatusCode::OK);
    for arrival in [&first, &second] {
        arrival
            .wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
            .await
            .unwrap();
    }
    let entries = history_when(&app, &lecturer, room, |e| has(e, "lobby_admit", 3)).await;
    assert!(has(&entries, "lobby_deny", 1), "{:?}", actions(&entries));
    // Told once per meeting: the later knocks came while he was in anyway.
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "knock_alert")
            .count(),
        1,
        "{:?}",
        actions(&entries)
    );
    assert!(
        has(&entries, "join_as_moderator", 1),
        "{:?}",
        actions(&entries)
    );
    drop(followed);
    drop(focus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_an_owner_is_in_the_lobby_holds_and_then_opens() {
    lobby_until_owner(ProsodyVersion::Debian012).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_an_owner_is_in_the_lobby_holds_and_then_opens_on_prosody_13() {
    lobby_until_owner(ProsodyVersion::V13).await;
}

async fn lobby_until_owner(version: ProsodyVersion) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some((prosody, focus, app)) = lobby_site(version).await else {
        return;
    };
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app
        .registered_room("seminar", "lecturer", &[])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    put_guard(&app, &lecturer, room, &lobby_guard("until_owner")).await;

    // Step: before the lecturer, everyone waits.
    let early = Arrival::start(&prosody, &focus, "seminar", "e1e1e1e1", "early bird")
        .await
        .unwrap();
    early
        .wait_until(|w| *w == Whereabouts::Knocking)
        .await
        .unwrap();

    // Step: the lecturer arrives with his code; the guard opens the lobby, and whoever
    // waited walks in (the lobby ends with the meeting as the new venue).
    let (_, name) = join_code(&app, &lecturer, room).await;
    let me = Arrival::start(&prosody, &focus, "seminar", "1ec70e70", &name)
        .await
        .unwrap();
    me.wait_until(|w| *w == Whereabouts::Inside { moderator: true })
        .await
        .unwrap();
    early
        .wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    let entries = history_when(&app, &lecturer, room, |e| has(e, "guard_lobby_off", 1)).await;
    assert!(
        has(&entries, "guard_lobby_off", 1),
        "{:?}",
        actions(&entries)
    );
    let meeting = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/meeting")))).await;
    assert_eq!(meeting["lobby"], false);

    // Step: a latecomer walks straight in.
    let late = Arrival::start(&prosody, &focus, "seminar", "f3f3f3f3", "late")
        .await
        .unwrap();
    late.wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    drop(focus);
}

/// The lecturer is not in the meeting and lets people in from his phone. Jicofo makes the
/// first one inside moderator; with the strict moderator guard beside the lobby, that
/// student does not stay moderator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_lets_people_in_without_joining_and_the_guard_keeps_them_plain() {
    let _turn = ONE_AT_A_TIME.lock().await;
    if jitsi_meet_files("the owner's lobby").is_none() {
        return;
    }
    let prosody = Prosody::start_setup(Setup {
        version: ProsodyVersion::V13,
        jitsi_lobby: true,
        ..Setup::default()
    })
    .await
    .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let smtp = SmtpSink::start().await.unwrap();
    let app = app_with_email(&prosody, &smtp).await;
    let room = app.registered_room("exam", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    put_guard(
        &app,
        &lecturer,
        room,
        &json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": null, "lobby": "always"}),
    )
    .await;

    let student = Arrival::start(&prosody, &focus, "exam", "5a5a5a5a", "student")
        .await
        .unwrap();
    student
        .wait_until(|w| *w == Whereabouts::Knocking)
        .await
        .unwrap();
    knocking_when(&app, &lecturer, room, |k| !k.is_empty()).await;
    // Nobody of the room is in: the lecturer hears of it by email too, with his room's link.
    let mail = smtp.wait_for(1).await.unwrap();
    assert!(
        mail[0].contains("lecturer@uni.test")
            && mail[0].contains("student")
            && mail[0].contains(&format!("/rooms/{room}")),
        "{mail:?}"
    );
    let admitted = lecturer
        .post(app.url(&format!("/rooms/{room}/meeting")))
        .form(&[("action", "admit"), ("participant", "5a5a5a5a")])
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), StatusCode::SEE_OTHER);
    student
        .wait_until(|w| matches!(w, Whereabouts::Inside { .. }))
        .await
        .unwrap();
    // Jicofo made him moderator, first inside; the guard takes it back.
    let entries = history_when(&app, &lecturer, room, |e| {
        has(e, "lobby_admit", 1) && has(e, "guard_revoked_moderator", 1)
    })
    .await;
    assert!(has(&entries, "lobby_admit", 1), "{:?}", actions(&entries));
    assert!(
        has(&entries, "guard_revoked_moderator", 1),
        "{:?}",
        actions(&entries)
    );
    student
        .wait_until(|w| *w == Whereabouts::Inside { moderator: false })
        .await
        .unwrap();
    drop(focus);
}
