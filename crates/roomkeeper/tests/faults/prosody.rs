//! Prosody gone for a minute in the middle of a guarded meeting: every action answers
//! 503 within 2 s, the room page says so, and within 5 s of Prosody's return Roomkeeper
//! reads meetings again, and the guard acts again.

use std::time::{Duration, Instant};

use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};
use serde_json::{Value, json};

use super::*;

const GONE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_without_prosody_answers_503_and_comes_back_by_itself() {
    let mut steps = Steps::new();
    let mut prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let installation = Installation::new(&prosody.shard_toml("main"));
    installation.user("lecturer", false);
    installation.user("root", true);
    let served = installation.serve("prosody").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "lecture").await;
    let client = reqwest::Client::new();
    let url = |path: &str| served.url(&format!("/api/v1/rooms/{room}{path}"));
    let guarded = client
        .put(url("/guard"))
        .bearer_auth(&lecturer)
        .json(&json!({"password_guard": true, "moderator_guard": "until_owner", "in_use_alert_minutes": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(guarded.status(), StatusCode::OK);
    let pages = logged_in(&served, "lecturer").await;

    let meeting_read = || async {
        client
            .get(url("/meeting"))
            .bearer_auth(&lecturer)
            .send()
            .await
            .unwrap()
    };
    // The meeting runs: a student in it, the guard on.
    let deadline = Instant::now() + Duration::from_secs(20);
    while meeting_read().await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "Roomkeeper did not connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let student = Participant::join(&prosody, &focus, "lecture", "e1e1e1e1", "student", None)
        .await
        .unwrap();
    let meeting: Value = meeting_read().await.json().await.unwrap();
    assert_eq!(meeting["participants"].as_array().unwrap().len(), 1);

    steps.begin("Jicofo and the student go with Prosody");
    // A Jicofo left reconnecting would fight the new one for its resource.
    drop(student);
    drop(focus);
    prosody.stop();
    let gone = Instant::now();
    let actions = [
        ("read the meeting", client.get(url("/meeting"))),
        (
            "remove the password",
            client.delete(url("/meeting/password")),
        ),
        (
            "set a password",
            client
                .post(url("/meeting/password"))
                .json(&json!({"password": "lecture-only"})),
        ),
        (
            "grant moderator",
            client.put(url("/meeting/participants/e1e1e1e1/moderator")),
        ),
        (
            "revoke moderator",
            client.delete(url("/meeting/participants/e1e1e1e1/moderator")),
        ),
        (
            "kick",
            client.post(url("/meeting/participants/e1e1e1e1/kick")),
        ),
        ("end the meeting", client.delete(url("/meeting"))),
    ];
    let mut rounds = 0;
    let mut slowest = Duration::ZERO;
    let mut page_says = String::new();
    while gone.elapsed() < GONE {
        for (what, action) in &actions {
            let started = Instant::now();
            let answer = action
                .try_clone()
                .unwrap()
                .bearer_auth(&lecturer)
                .send()
                .await
                .unwrap();
            let took = started.elapsed();
            slowest = slowest.max(took);
            assert!(took < Duration::from_secs(2), "{what} took {took:?}");
            assert_eq!(
                answer.status(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{what} with Prosody gone"
            );
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
        }
        let started = Instant::now();
        let page = pages
            .get(served.url(&format!("/rooms/{room}")))
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "the room page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let (_, meeting) = html.split_once(r#"id="meeting""#).unwrap();
        let (_, alert) = meeting
            .split_once(r#"<p class="notice error" role="alert">"#)
            .expect("the room page says the meeting cannot be read");
        page_says = alert.split("</p>").next().unwrap().to_owned();
        rounds += 1;
    }

    steps.begin("The guard waits for the reconnect instead of failing every 2 s");
    // It does not read every guarded room every 2 s while Prosody is away (each read would
    // only fail, and say so in the log): the reconnect reads them all.
    let log = served.log_text();
    assert!(
        !log.contains("the guard could not check the meeting"),
        "the guard kept trying while Prosody was away:\n{log}"
    );

    prosody.start_again().await.unwrap();
    let back = Instant::now();
    // Roomkeeper reconnects by itself; the old meeting went with the old Prosody.
    loop {
        let answer = meeting_read().await;
        if answer.status() == StatusCode::OK {
            let meeting: Value = answer.json().await.unwrap();
            assert_eq!(meeting["running"], false, "{meeting}");
            break;
        }
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not reading meetings 5 s after Prosody's return"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reconnected = back.elapsed();
    // The guard works again: a student who locks the new meeting loses the lock and
    // the rights.
    let focus = Focus::start(&prosody).await.unwrap();
    let evil = Participant::join(&prosody, &focus, "lecture", "e2e2e2e2", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    evil.lock("mine").await.unwrap().unwrap();
    evil.wait_until(|p| p.role() == "participant")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let meeting: Value = meeting_read().await.json().await.unwrap();
        if meeting["password_protected"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guard left the lock: {meeting}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "Prosody gone {GONE:?}: {rounds} rounds of 7 actions and the room page answered, \
         slowest {slowest:?}; the page said \"{page_says}\"; reading meetings again \
         {reconnected:?} after Prosody's return"
    );
}
