//! The room guard and "Join as moderator" through Roomkeeper's API, against a real
//! Prosody with the companion module and the simulated Jicofo.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, error_code, json};
use serde_json::{Value, json};

use super::ONE_AT_A_TIME;

/// Roomkeeper against this Prosody, with the meeting server's address (join links need it).
pub(super) async fn app_against(prosody: &Prosody) -> TestApp {
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    instance(prosody, database).await
}

/// Roomkeeper against this Prosody, sending email to `smtp`, with the account `lecturer`
/// at lecturer@uni.test.
pub(super) async fn app_with_email(
    prosody: &Prosody,
    smtp: &roomkeeper_testkit::SmtpSink,
) -> TestApp {
    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.jitsi.shards = vec![prosody.shard("main")];
    config.rooms.meeting_urls = vec!["https://meet.test".into()];
    config.email = smtp.config();
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    assert!(app.jitsi_ready().await);
    let owner = app.passwordless_user("lecturer", false).await.unwrap();
    app.store()
        .set_email(owner.id, Some("lecturer@uni.test"))
        .await
        .unwrap();
    app
}

/// One instance on `database` (several may share it), with its own clock.
async fn instance(prosody: &Prosody, database: Arc<TestDatabase>) -> TestApp {
    let mut config = database.config();
    config.jitsi.shards = vec![prosody.shard("main")];
    config.rooms.meeting_urls = vec!["https://meet.test".into()];
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    assert!(app.jitsi_ready().await);
    app
}

/// The actions in the room's history, newest first.
async fn history(app: &TestApp, client: &reqwest::Client, room: i64) -> Vec<Value> {
    json(client.get(app.url(&format!("/api/v1/audit?room_id={room}")))).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The room's history once `ready` holds for it (or after 10 s, for the assertions that
/// follow to show what is there): the guard acts first and records after, so a
/// participant can see its move before the history does.
pub(super) async fn history_when(
    app: &TestApp,
    client: &reqwest::Client,
    room: i64,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries = history(app, client, room).await;
        if ready(&entries) || Instant::now() > deadline {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the history has `count` or more entries for `action`.
pub(super) fn has(entries: &[Value], action: &str, count: usize) -> bool {
    entries.iter().filter(|e| e["action"] == action).count() >= count
}

pub(super) fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

/// Sets the room's guard through the API, as `client`.
pub(super) async fn put_guard(app: &TestApp, client: &reqwest::Client, room: i64, guard: &Value) {
    let saved = client
        .put(app.url(&format!("/api/v1/rooms/{room}/guard")))
        .json(guard)
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::OK);
}

/// evilstudent comes first, Jicofo makes him moderator, he locks the room; answers once
/// the guard has taken his rights away.
async fn student_locks(prosody: &Prosody, focus: &Focus, room: &str) -> Participant {
    let evil = Participant::join(prosody, focus, room, "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    evil
}

/// A join code from the API, and the display name its link carries (decoded).
pub(super) async fn join_code(
    app: &TestApp,
    client: &reqwest::Client,
    room: i64,
) -> (String, String) {
    let response = client
        .post(app.url(&format!("/api/v1/rooms/{room}/join-codes")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let code = created["code"].as_str().unwrap().to_owned();
    let url = created["join_url"].as_str().unwrap();
    let (base, hash) = url.split_once("#userInfo.displayName=").unwrap();
    assert!(base.starts_with("https://meet.test/"), "{base}");
    let json_name = percent_decode(hash);
    let name: String = serde_json::from_str(&json_name).unwrap();
    assert!(name.ends_with(&format!("(RK-{code})")), "{name}");
    (code, name)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_room_keeps_the_student_out_and_lets_the_lecturer_in() {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    for name in ["lecturer", "assistant", "stranger"] {
        app.passwordless_user(name, false).await.unwrap();
    }
    let room = app
        .registered_room("logic", "lecturer", &["assistant"])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let assistant = app.client_as("assistant").await.unwrap();
    let stranger = app.client_as("stranger").await.unwrap();
    let guard_url = app.url(&format!("/api/v1/rooms/{room}/guard"));

    steps.begin("Owners and co-owners see and change the guard");
    // Strangers do not learn it exists.
    let off = json(lecturer.get(&guard_url)).await;
    assert_eq!(
        off,
        json!({"password_guard": false, "moderator_guard": "off", "in_use_alert_minutes": null, "lobby": "off"})
    );
    let hidden = stranger.get(&guard_url).send().await.unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let bad = assistant
        .put(&guard_url)
        .json(&json!({"password_guard": true, "moderator_guard": "always", "in_use_alert_minutes": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_guard"
    );
    let zero = assistant
        .put(&guard_url)
        .json(&json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(zero, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_guard"
    );

    steps.begin("The room page: the guard in plain words, saved through its form");
    let page = |client: &reqwest::Client| {
        let request = client.get(app.url(&format!("/rooms/{room}")));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let response = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap();
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("form-action 'self' https://meet.test;"),
        "the join button's redirect to the meeting server is allowed: {policy}"
    );
    let html = page(&lecturer).await;
    assert!(
        html.contains("Room guard") && html.contains("Join as moderator"),
        "{html}"
    );
    assert!(!page(&stranger).await.contains("Room guard"));
    let saved = assistant
        .post(app.url(&format!("/rooms/{room}/guard")))
        .form(&[("password_guard", "on"), ("moderator_guard", "until_owner")])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let on = json!({"password_guard": true, "moderator_guard": "until_owner", "in_use_alert_minutes": null, "lobby": "off"});
    assert_eq!(json(lecturer.get(&guard_url)).await, on);
    let html = page(&lecturer).await;
    assert!(
        html.contains(r#"value="until_owner" checked"#),
        "the page shows what was saved"
    );
    // The button goes straight into the meeting with a fresh code.
    let join = lecturer
        .post(app.url(&format!("/rooms/{room}/join")))
        .send()
        .await
        .unwrap();
    assert_eq!(join.status(), StatusCode::SEE_OTHER);
    let location = join.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://meet.test/logic#userInfo.displayName=%22"),
        "{location}"
    );

    steps.begin("evilstudent arrives first");
    // Jicofo makes him moderator, and he locks the room. The guard removes the lock and takes
    // his rights, before the lecturer looks.
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    let locked = Instant::now();
    evil.lock("mine").await.unwrap().unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let took = locked.elapsed();
    let meeting = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/meeting")))).await;
    assert_eq!(meeting["password_protected"], false, "{meeting}");
    let entries = history_when(&app, &lecturer, room, |e| {
        has(e, "guard_revoked_moderator", 1) && has(e, "guard_removed_password", 1)
    })
    .await;
    let said = actions(&entries);
    assert!(
        said.starts_with(&[
            "guard_revoked_moderator".into(),
            "guard_removed_password".into()
        ]),
        "{said:?}"
    );
    assert!(
        entries[1]["detail"]
            .as_str()
            .unwrap()
            .contains("evilstudent"),
        "{entries:?}"
    );
    assert!(
        entries[0]["actor"].is_null(),
        "the guard is nobody's account"
    );
    // Generous for a busy machine; `bench/` measures the real figure.
    assert!(took < Duration::from_secs(5), "{took:?}");

    steps.begin("The lecturer opens the link with his code");
    // Moderator at once, recorded as him; the others never see the code.
    let (code, name) = join_code(&app, &lecturer, room).await;
    let joined = Instant::now();
    let me = Participant::join(&prosody, &focus, "logic", "1ec70e70", &name, None)
        .await
        .unwrap();
    me.wait_until(Participant::is_moderator).await.unwrap();
    let took = joined.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let seen = evil.presences_of_others();
    assert!(seen.iter().all(|x| !x.contains(&code)), "{seen:?}");
    let entries = history_when(&app, &lecturer, room, |e| has(e, "join_as_moderator", 1)).await;
    let used = entries
        .iter()
        .find(|e| e["action"] == "join_as_moderator")
        .unwrap();
    assert_eq!(used["subject"], "lecturer");

    steps.begin("A used code, and an expired one, give nothing");
    // The co-owner's own code, used after both, shows that the guard has dealt with them (it
    // takes events in order).
    let again = Participant::join(&prosody, &focus, "logic", "b0b0b0b0", &name, None)
        .await
        .unwrap();
    let (_, late) = join_code(&app, &lecturer, room).await;
    app.clock().advance(16 * 60);
    let too_late = Participant::join(&prosody, &focus, "logic", "c0c0c0c0", &late, None)
        .await
        .unwrap();
    let (_, helper_name) = join_code(&app, &assistant, room).await;
    let helper = Participant::join(&prosody, &focus, "logic", "a5a5a5a5", &helper_name, None)
        .await
        .unwrap();
    helper.wait_until(Participant::is_moderator).await.unwrap();
    assert!(!again.is_moderator() && !too_late.is_moderator());
    let joins = history_when(&app, &lecturer, room, |e| has(e, "join_as_moderator", 2))
        .await
        .into_iter()
        .filter(|e| e["action"] == "join_as_moderator")
        .map(|e| e["subject"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(joins, ["assistant", "lecturer"]);

    steps.begin("An owner's own password is kept");
    let set = lecturer
        .post(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .json(&json!({"password": "lecture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let kept = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/meeting")))).await;
    assert_eq!(kept["password_protected"], true);
    let removed = lecturer
        .delete(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);

    steps.begin("Strict: Jicofo's next pick is reverted once");
    // Jicofo's next pick, when evilstudent leaves with no owner left in the room, is reverted
    // once, and Jicofo does not try again.
    let strict =
        json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": null});
    put_guard(&app, &lecturer, room, &strict).await;
    me.leave().await.unwrap();
    helper.leave().await.unwrap();
    let grants_before = focus.grants_sent();
    evil.leave().await.unwrap();
    // Jicofo grants the first one left (the used code's holder), the guard reverts it.
    again.wait_until(Participant::is_moderator).await.unwrap();
    again
        .wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let late_comer = Participant::join(&prosody, &focus, "logic", "d4d4d4d4", "Late", None)
        .await
        .unwrap();
    focus
        .wait_until_seen("logic", "d4d4d4d4", true)
        .await
        .unwrap();
    assert_eq!(
        focus.grants_sent(),
        grants_before + 1,
        "no fight with Jicofo"
    );
    assert!(!late_comer.is_moderator() && !too_late.is_moderator());
    let reverted = history_when(&app, &lecturer, room, |e| {
        e.iter().any(|e| {
            e["action"] == "guard_revoked_moderator"
                && e["detail"].as_str().unwrap().contains("b0b0b0b0")
        })
    })
    .await
    .into_iter()
    .filter(|e| {
        e["action"] == "guard_revoked_moderator"
            && e["detail"].as_str().unwrap().contains("b0b0b0b0")
    })
    .count();
    assert_eq!(reverted, 1);

    steps.begin("A lobby (members-only room) keeps working under the guard");
    // The lecturer, back with a new code, turns it on and stays moderator; the guard leaves the
    // setting alone.
    let (_, name) = join_code(&app, &lecturer, room).await;
    let back = Participant::join(&prosody, &focus, "logic", "1ec70e71", &name, None)
        .await
        .unwrap();
    back.wait_until(Participant::is_moderator).await.unwrap();
    back.enable_lobby().await.unwrap().unwrap();
    let meeting_url = app.url(&format!("/api/v1/rooms/{room}/meeting"));
    let meeting = json(lecturer.get(&meeting_url)).await;
    assert_eq!(meeting["members_only"], true, "{meeting}");
    let outsider = Participant::join(&prosody, &focus, "logic", "0e0e0e0e", "Outsider", None).await;
    assert!(
        outsider
            .err()
            .is_some_and(|e| e.to_string().contains("registration-required")),
        "a members-only room turns away someone not admitted"
    );
    assert!(back.is_moderator());
    drop((again, too_late, late_comer, back, focus));
}

/// Without the companion module: no join codes (everyone would see them), and the guard
/// reads guarded rooms every 2 s instead of acting on pushed events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_companion_module_the_guard_polls_and_codes_are_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_with(roomkeeper_testkit::jitsi::Companion::Absent)
        .await
        .unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let refused = lecturer
        .post(app.url(&format!("/api/v1/rooms/{room}/join-codes")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(refused, StatusCode::CONFLICT).await,
        "companion_module_missing"
    );
    let html = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Raumschutz")
            && html.contains("Roomkeeper-Erweiterung")
            && html.contains("alle 2 Sekunden"),
        "the page says what is missing and how fast the guard is without it: {html}"
    );
    assert!(!html.contains("Als Moderator beitreten</button>"));

    let guard =
        json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null});
    put_guard(&app, &lecturer, room, &guard).await;
    // Prosody does not say who locked: every moderator not on an owner's word loses it.
    let evil = student_locks(&prosody, &focus, "logic").await;
    let meeting_url = app.url(&format!("/api/v1/rooms/{room}/meeting"));
    let unlocked = async {
        loop {
            if json(lecturer.get(&meeting_url)).await["password_protected"] == false {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), unlocked)
        .await
        .expect("the password is gone");

    // An owner's password is kept, poll after poll.
    let set = lecturer
        .post(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .json(&json!({"password": "lecture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let polls = || async {
        let metrics = reqwest::get(app.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("guard_polls_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = polls().await;
    tokio::time::timeout(Duration::from_secs(15), async {
        while polls().await < before + 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the guard polls");
    assert_eq!(
        json(lecturer.get(&meeting_url)).await["password_protected"],
        true
    );
    drop((evil, focus));
}

/// A counter from `/metrics` (0 before its first increment).
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// With the companion module a guarded room with no meeting costs nothing: meetings in
/// other rooms come and go, and the guard never reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarded_room_with_no_meeting_costs_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    app.passwordless_user("lecturer", false).await.unwrap();
    let guarded = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let busy = app
        .registered_room("physics", "lecturer", &[])
        .await
        .unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let strict =
        json!({"password_guard": true, "moderator_guard": "strict", "in_use_alert_minutes": null});
    put_guard(&app, &lecturer, guarded, &strict).await;
    let reads = metric(&app, "guard_room_reads_total").await;

    let mut people = Vec::new();
    for nick in ["a1a1a1a1", "b2b2b2b2", "c3c3c3c3"] {
        // Each one alone in the room: Jicofo makes them moderator; they lock and unlock.
        let person = Participant::join(&prosody, &focus, "physics", nick, "Student", None)
            .await
            .unwrap();
        person.wait_until(Participant::is_moderator).await.unwrap();
        person.lock("busy").await.unwrap().unwrap();
        person.lock("").await.unwrap().unwrap();
        person.leave().await.unwrap();
        people.push(person);
    }
    // The guard takes events in order: once the code in the other room has worked, it
    // has seen everything before it.
    let (_, name) = join_code(&app, &lecturer, busy).await;
    let me = Participant::join(&prosody, &focus, "physics", "1ec70e70", &name, None)
        .await
        .unwrap();
    me.wait_until(Participant::is_moderator).await.unwrap();
    assert_eq!(
        metric(&app, "guard_room_reads_total").await,
        reads,
        "the guarded room was read"
    );
    drop((people, me, focus));
}

/// "In use without you": a meeting that runs the set minutes with no owner in it gets the
/// owners a notice and an email, once per meeting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_hear_when_their_room_is_in_use_without_them() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let smtp = roomkeeper_testkit::SmtpSink::start().await.unwrap();
    let app = app_with_email(&prosody, &smtp).await;
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let saved = lecturer
        .post(app.url(&format!("/rooms/{room}/guard")))
        .form(&[("moderator_guard", "off"), ("in_use_alert_minutes", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let guard = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room}/guard")))).await;
    assert_eq!(guard["in_use_alert_minutes"], 5, "{guard}");

    let alerts = || async {
        history(&app, &lecturer, room)
            .await
            .into_iter()
            .filter(|e| e["action"] == "in_use_alert")
            .count()
    };
    let student = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    // Four minutes in: nothing yet. (The count of alerts is read at the end, after the
    // lecturer's own code: the guard has dealt with everything before by then.)
    app.clock().advance(4 * 60);
    let early = Participant::join(&prosody, &focus, "logic", "a1a1a1a1", "Early", None)
        .await
        .unwrap();
    // Six minutes in, and the next change the guard looks at (a moderator's presence;
    // people who are not moderators joining, changing or leaving are not looked at, and
    // a quiet room is looked at every 30 s): the owners are told.
    app.clock().advance(2 * 60);
    let late = Participant::join(&prosody, &focus, "logic", "b2b2b2b2", "Late", None)
        .await
        .unwrap();
    student.rename("student (back)").await.unwrap();
    let mail = smtp.wait_for(1).await.unwrap();
    assert!(
        mail[0].contains("lecturer@uni.test") && mail[0].contains("5 minutes"),
        "{mail:?}"
    );
    let notices = json(lecturer.get(app.url("/api/v1/notices"))).await;
    assert!(
        notices.to_string().contains("in_use"),
        "a notice for the owner: {notices}"
    );
    // Once per meeting, however many changes follow.
    let again = Participant::join(&prosody, &focus, "logic", "c3c3c3c3", "Again", None)
        .await
        .unwrap();
    let (_, name) = join_code(&app, &lecturer, room).await;
    let me = Participant::join(&prosody, &focus, "logic", "1ec70e70", &name, None)
        .await
        .unwrap();
    me.wait_until(Participant::is_moderator).await.unwrap();
    assert_eq!(alerts().await, 1);
    assert_eq!(smtp.messages().len(), 1);
    drop((student, early, late, again, me, focus));
}

/// Two instances on one PostgreSQL, both connected to Prosody and both told every event.
/// The one holding the room's lease acts (that only one of several claimers gets it is
/// the store test's `claim_guard` race); when it stops it gives its leases up and the
/// other acts at once, and nothing is done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_instances_guards_a_room_and_the_other_takes_over() {
    if roomkeeper_testkit::skip_without_postgres("one_of_two_instances_guards_a_room") {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await.unwrap());
    let first = instance(&prosody, database.clone()).await;
    let second = instance(&prosody, database).await;
    first.passwordless_user("lecturer", false).await.unwrap();
    let room = first
        .registered_room("logic", "lecturer", &[])
        .await
        .unwrap();
    let lecturer = first.client_as("lecturer").await.unwrap();
    let guard =
        json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null});
    // Saved through the first, which looks at the room at once: the lease is its.
    put_guard(&first, &lecturer, room, &guard).await;
    let evil = student_locks(&prosody, &focus, "logic").await;

    let removals = |app: &TestApp| {
        let request = lecturer.get(app.url(&format!("/api/v1/audit?room_id={room}")));
        async move {
            json(request).await["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == "guard_removed_password")
                .count()
        }
    };
    assert_eq!(removals(&second).await, 1);
    // The one acting stops (and gives its leases up); the other acts on the next lock
    // at once, its clock where it was.
    first.stop().await.unwrap();
    let name = roomkeeper_domain::RoomName::parse("logic", &[]).unwrap();
    roomkeeper_jitsi::MeetingControl::set_moderator(
        &*second.state.usecases.shards,
        &name,
        "e1e1e1e1",
        true,
    )
    .await
    .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("again").await.unwrap().unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    // The second instance has handled the first lock's events before the second lock's
    // (it takes them in order), and the first is gone: two locks, two removals, no more.
    assert_eq!(removals(&second).await, 2, "each lock removed exactly once");
    drop((evil, focus));
}

/// An instance that died without giving its lease up (kill -9, a lost machine) leaves a
/// lock in the room: the others hear the lock but leave it to the lease's holder. When
/// the lease ends, one of them judges the room by itself, with no further event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_lease_is_taken_over_when_it_ends() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (prosody, focus, app, lecturer, room) = guarded(
        &json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null}),
    )
    .await;
    let now = app.clock().now();
    // The dead instance renewed its lease (as every event there does) 28 s ago: it
    // ends in 2 s, after the lock below has been heard and left to it.
    app.store()
        .release_guard_leases(&app.state.usecases.instance)
        .await
        .unwrap();
    let claimed = app
        .store()
        .claim_guard(room, "a-dead-instance", now, now + 2)
        .await
        .unwrap();
    assert_eq!(claimed, roomkeeper_store::GuardClaim::Won);
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    let meeting_url = app.url(&format!("/api/v1/rooms/{room}/meeting"));
    let locked = json(lecturer.get(&meeting_url)).await;
    assert_eq!(locked["password_protected"], true, "{locked}");

    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let meeting = json(lecturer.get(&meeting_url)).await;
        if meeting["password_protected"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "the lock stayed: {meeting}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let history = actions(
        &history_when(&app, &lecturer, room, |e| {
            has(e, "guard_removed_password", 1)
        })
        .await,
    );
    assert_eq!(
        history
            .iter()
            .filter(|a| *a == "guard_removed_password")
            .count(),
        1,
        "{history:?}"
    );
    drop((evil, focus));
}

/// `logic`, the lecturer's, guarding passwords and moderators until an owner arrives,
/// on a fresh Prosody with Jicofo; with the lecturer's client and the room's id.
async fn guarded_until_owner() -> (Prosody, Focus, TestApp, reqwest::Client, i64) {
    guarded(&json!({"password_guard": true, "moderator_guard": "until_owner", "in_use_alert_minutes": null}))
        .await
}

/// `logic`, the lecturer's, with `guard`, on a fresh Prosody with Jicofo; with the
/// lecturer's client and the room's id.
async fn guarded(guard: &Value) -> (Prosody, Focus, TestApp, reqwest::Client, i64) {
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    put_guard(&app, &lecturer, room, guard).await;
    (prosody, focus, app, lecturer, room)
}

/// The attack an outside review found (issue 27, point 1): trust was keyed by nick. The
/// lecturer joins with his code and drops out; a student joins under the lecturer's nick
/// (any client picks its own), Jicofo makes him moderator (its pick left), and he locks
/// the room. He is not the lecturer: the lock goes and so do his rights.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_student_under_the_lecturers_nick_is_not_the_lecturer() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (prosody, focus, app, lecturer, room) = guarded_until_owner().await;
    let (_, name) = join_code(&app, &lecturer, room).await;
    let ada = Participant::join(&prosody, &focus, "logic", "1ec70e70", &name, None)
        .await
        .unwrap();
    ada.wait_until(Participant::is_moderator).await.unwrap();
    let used = history_when(&app, &lecturer, room, |e| has(e, "join_as_moderator", 1)).await;
    assert!(has(&used, "join_as_moderator", 1), "the code was not used");
    drop(ada);
    focus
        .wait_until_seen("logic", "1ec70e70", false)
        .await
        .unwrap();

    let student = Participant::join(&prosody, &focus, "logic", "1ec70e70", "student", None)
        .await
        .unwrap();
    student.wait_until(Participant::is_moderator).await.unwrap();
    student.lock("mine").await.unwrap().unwrap();
    student
        .wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let url = app.url(&format!("/api/v1/rooms/{room}/meeting"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while json(lecturer.get(&url)).await["password_protected"] == true {
        assert!(Instant::now() < deadline, "the student's password stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = actions(
        &history_when(&app, &lecturer, room, |e| {
            has(e, "guard_removed_password", 1)
        })
        .await,
    );
    assert!(done.contains(&"guard_removed_password".into()), "{done:?}");
    assert_eq!(
        done.iter().filter(|a| *a == "join_as_moderator").count(),
        1,
        "{done:?}"
    );
}

/// A code in a join Prosody refuses (here: the owner's own password, which the lecturer's
/// link does not carry) is not kept for whoever joins next under that nick (point 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_in_a_refused_join_is_nobody_elses() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let (prosody, focus, app, lecturer, room) = guarded_until_owner().await;
    let first = Participant::join(&prosody, &focus, "logic", "f1f1f1f1", "early", None)
        .await
        .unwrap();
    first.wait_until(Participant::is_moderator).await.unwrap();
    let set = lecturer
        .post(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .json(&json!({"password": "lecture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let (_, name) = join_code(&app, &lecturer, room).await;
    let refused = Participant::join(&prosody, &focus, "logic", "1ec70e70", &name, None).await;
    assert!(
        refused.is_err(),
        "the password keeps the lecturer's link out"
    );
    let removed = lecturer
        .delete(app.url(&format!("/api/v1/rooms/{room}/meeting/password")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);

    let student = Participant::join(&prosody, &focus, "logic", "1ec70e70", "student", None)
        .await
        .unwrap();
    // Events come in order: once a later join is seen, the student's was dealt with.
    let (_, helper) = join_code(&app, &lecturer, room).await;
    let later = Participant::join(&prosody, &focus, "logic", "2ec70e70", &helper, None)
        .await
        .unwrap();
    later.wait_until(Participant::is_moderator).await.unwrap();
    assert!(
        !student.is_moderator(),
        "the student got the lecturer's code"
    );
    let joins: Vec<Value> = history_when(&app, &lecturer, room, |e| {
        e.iter().any(|e| {
            e["action"] == "join_as_moderator" && e["detail"].to_string().contains("2ec70e70")
        })
    })
    .await
    .into_iter()
    .filter(|e| e["action"] == "join_as_moderator")
    .collect();
    assert_eq!(joins.len(), 1, "{joins:?}");
    assert!(
        joins[0]["detail"].to_string().contains("2ec70e70"),
        "{joins:?}"
    );
}

/// A student flooding one room with presence updates as its moderator (each of which the
/// guard must look at) does not hold up the guard in another room: each room has its
/// own worker, and what queued up for a room is one reading of its meeting. Before, the
/// events were taken one at a time, and a lock elsewhere waited for the flood's
/// (~1.7 s here, bounded only by the event channel overflowing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_in_one_room_does_not_hold_up_the_guard_in_another() {
    const FLOOD: usize = 10_000;
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let app = app_against(&prosody).await;
    app.passwordless_user("lecturer", false).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let guard =
        json!({"password_guard": true, "moderator_guard": "off", "in_use_alert_minutes": null});
    for name in ["flooded", "calm", "quiet"] {
        let room = app.registered_room(name, "lecturer", &[]).await.unwrap();
        put_guard(&app, &lecturer, room, &guard).await;
    }
    // From a student's lock to his rights gone.
    let lock_removed = |room: &'static str, nick: &'static str| {
        let (prosody, focus) = (&prosody, &focus);
        async move {
            let evil = Participant::join(prosody, focus, room, nick, "evilstudent", None)
                .await
                .unwrap();
            evil.wait_until(Participant::is_moderator).await.unwrap();
            let locked = Instant::now();
            evil.lock("mine").await.unwrap().unwrap();
            evil.wait_until(|p| p.role() == "participant")
                .await
                .unwrap();
            locked.elapsed()
        }
    };
    // The same on this machine as it is now, with no flood.
    let calm = lock_removed("calm", "c1c1c1c1").await;

    let flooder = Participant::join(&prosody, &focus, "flooded", "f1f1f1f1", "flooder", None)
        .await
        .unwrap();
    flooder.wait_until(Participant::is_moderator).await.unwrap();
    let evil = Participant::join(&prosody, &focus, "quiet", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    // Presence updates as a moderator, as fast as the connection takes them; then a lock
    // in the other room.
    for i in 0..FLOOD {
        flooder.rename(&format!("flooder {i}")).await.unwrap();
    }
    let locked = Instant::now();
    evil.lock("mine").await.unwrap().unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let flooded = locked.elapsed();
    assert!(
        flooded < calm + Duration::from_millis(700),
        "the lock in the quiet room waited {flooded:?} behind the flood ({calm:?} without)"
    );
    println!(
        "a lock removed after {calm:?}; with {FLOOD} presence updates in another room, after {flooded:?}"
    );
    drop((flooder, evil, focus));
}
