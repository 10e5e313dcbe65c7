//! Room registration through the pages and the API, as lecturers and admins use it.

use std::sync::Arc;

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, both_backends};
use serde_json::{Value, json};

use crate::error_code;

async fn app_with_meeting_server(backend: Backend) -> TestApp {
    let database = Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec!["https://meet.example.org".into()];
    TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap()
}

/// A client logged in as a new account `name` (admin or not).
async fn person(app: &TestApp, name: &str, is_admin: bool) -> reqwest::Client {
    app.passwordless_user(name, is_admin).await.unwrap();
    app.client_as(name).await.unwrap()
}

async fn post_json(client: &reqwest::Client, url: String, body: Value) -> reqwest::Response {
    client.post(url).json(&body).send().await.unwrap()
}

/// The seed's story: ask with a reason, an admin approves and whitelists a pattern, the
/// next matching request approves itself.
async fn request_approve_with_pattern_then_auto_approval(backend: Backend) {
    let mut steps = Steps::new();
    let app = app_with_meeting_server(backend).await;
    let lecturer = person(&app, "lecturer", false).await;
    let admin = person(&app, "root", true).await;

    steps.begin("The lecturer asks for a room by its meeting link, with a reason and co-owners");
    let form = [
        ("room", "https://meet.example.org/Logic?lang=de"),
        ("reason", "Lecture Logic I, Prof. Lecturer"),
        ("co_owners", "Assistant, tutor"),
    ];
    let sent = lecturer
        .post(app.url("/rooms/request"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(sent.headers()["location"], "/requests?notice=submitted");
    let mine = lecturer
        .get(app.url("/requests?notice=submitted"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mine.contains("logic")
            && mine.contains("Waiting for approval")
            && mine.contains("has been sent")
    );

    steps.begin("An admin sees the request in the queue and approves it with a pattern");
    let queue = admin
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("lecturer")
            && queue.contains("Lecture Logic I, Prof. Lecturer")
            && queue.contains("<code>logic</code>"),
        "{queue}"
    );
    let listed: Value = admin
        .get(app.url("/api/v1/room-requests?status=pending"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        listed["items"][0]["co_owners"],
        json!(["assistant", "tutor"])
    );
    let approved = admin
        .post(app.url(&format!("/admin/requests/{id}/approve")))
        .form(&[("message", "Welcome!"), ("pattern", "Lecturer-*")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        approved.headers()["location"],
        "/admin/requests?notice=approved"
    );

    steps.begin("The lecturer sees the decision on the start page, and the room");
    let home = lecturer
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("was approved")
            && home.contains("Welcome!")
            && home.contains("https://meet.example.org/logic"),
        "{home}"
    );
    steps.begin("The next room matching the pattern is approved at once, through the API");
    let auto = post_json(
        &lecturer,
        app.url("/api/v1/room-requests"),
        json!({"room": "Lecturer-Seminar", "reason": "Seminar"}),
    )
    .await;
    assert_eq!(auto.status(), StatusCode::CREATED);
    let auto: Value = auto.json().await.unwrap();
    assert_eq!(
        (auto["status"].as_str(), auto["auto_pattern"].as_str()),
        (Some("approved"), Some("lecturer-*"))
    );
    assert_eq!(
        auto["meeting_url"],
        "https://meet.example.org/lecturer-seminar"
    );
    let rooms: Value = lecturer
        .get(app.url("/api/v1/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = rooms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lecturer-seminar", "logic"]);
    steps.begin("A pattern never grants what is not free");
    // A room someone else holds stays theirs.
    let student = person(&app, "student", false).await;
    post_json(
        &student,
        app.url("/api/v1/room-requests"),
        json!({"room": "lecturer-exam", "reason": "mine"}),
    )
    .await;
    let taken = post_json(
        &lecturer,
        app.url("/api/v1/room-requests"),
        json!({"room": "lecturer-exam", "reason": "exam"}),
    )
    .await;
    // The code says which rule, and the message is one clean sentence.
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let body: Value = taken.json().await.unwrap();
    assert_eq!(body["error"]["code"], "room_taken", "{body}");
    assert_eq!(
        body["error"]["message"],
        "This room is already registered, or someone has already asked for it."
    );
    steps.begin("The whole story is in the room's history, with the address it came from");
    let history: Value = lecturer
        .get(app.url(&format!(
            "/api/v1/audit?room_id={}",
            rooms["items"][1]["id"]
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["approve", "request"]);
    // Addresses are for admins: the owner sees who did what and when, not from where.
    assert_eq!(history["items"][0]["address"], Value::Null);
    // The page tells the same history in words, not as JSON.
    let room_page = lecturer
        .get(app.url(&format!("/rooms/{}", rooms["items"][1]["id"])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        room_page.contains("Reason: Lecture Logic I, Prof. Lecturer")
            && room_page.contains("Message: Welcome!"),
        "{room_page}"
    );
    assert!(!room_page.contains("request_id"));
    let all: Value = admin
        .get(app.url("/api/v1/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "auto_approve")
    );
}

async fn bad_requests_are_refused_with_reasons_and_change_nothing(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let lecturer = person(&app, "lecturer", false).await;
    let url = app.url("/api/v1/room-requests");
    let cases = [
        (json!({"room": "", "reason": "x"}), "invalid_room"),
        (
            json!({"room": "https://evil.example/logic", "reason": "x"}),
            "invalid_room",
        ),
        (json!({"room": "it's", "reason": "x"}), "invalid_room"),
        (json!({"room": "a/b/c", "reason": "x"}), "invalid_room"),
        (json!({"room": "logic", "reason": "   "}), "invalid_reason"),
        (
            json!({"room": "logic", "reason": "x".repeat(2001)}),
            "invalid_reason",
        ),
        (
            json!({"room": "logic", "reason": "x", "co_owners": ["bad name!"]}),
            "invalid_username",
        ),
    ];
    for (body, code) in cases {
        let response = post_json(&lecturer, url.clone(), body.clone()).await;
        assert_eq!(
            error_code(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            code,
            "{body}"
        );
    }
    let unknown_field = post_json(
        &lecturer,
        url.clone(),
        json!({"room": "logic", "reason": "x", "owner": "me"}),
    )
    .await;
    assert_eq!(
        error_code(unknown_field, StatusCode::BAD_REQUEST).await,
        "bad_request"
    );
    let none: Value = lecturer
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["total"], 0, "nothing was filed");
    // The form says it in words and keeps what was typed.
    let page = lecturer
        .post(app.url("/rooms/request"))
        .form(&[
            ("room", "https://evil.example/Logic"),
            ("reason", "My lecture"),
            ("co_owners", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("evil.example is not a meeting server") && html.contains("My lecture"),
        "{html}"
    );
}

async fn a_registered_or_pending_room_is_already_registered_for_others(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let alice = person(&app, "alice", false).await;
    let bob = person(&app, "bob", false).await;
    let url = app.url("/api/v1/room-requests");
    let first = post_json(
        &alice,
        url.clone(),
        json!({"room": "Logic", "reason": "mine"}),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let id = first.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for spelling in ["LOGIC", "https://meet.example.org/logic", "logic "] {
        let response = post_json(
            &bob,
            url.clone(),
            json!({"room": spelling, "reason": "mine too"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = response.text().await.unwrap();
        assert!(
            body.contains("already registered") && !body.contains("alice"),
            "{body}"
        );
    }
    let again = post_json(
        &alice,
        url.clone(),
        json!({"room": "logic", "reason": "again"}),
    )
    .await;
    assert!(again.text().await.unwrap().contains("already asked"));
    // Withdrawn, it is free again; a withdrawn request cannot be withdrawn twice.
    let withdrawn = alice
        .post(app.url(&format!("/api/v1/room-requests/{id}/withdraw")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        withdrawn.json::<Value>().await.unwrap()["status"],
        "withdrawn"
    );
    let twice = alice
        .post(app.url(&format!("/api/v1/room-requests/{id}/withdraw")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(twice, StatusCode::CONFLICT).await,
        "already_decided"
    );
    let now_bob = post_json(&bob, url, json!({"room": "logic", "reason": "mine now"})).await;
    assert_eq!(now_bob.status(), StatusCode::CREATED);
}

async fn co_owners_share_the_room_and_lose_it_at_once(backend: Backend) {
    let mut steps = Steps::new();
    let app = app_with_meeting_server(backend).await;
    let owner = person(&app, "owner", false).await;
    let admin = person(&app, "root", true).await;
    steps.begin("An approved room");
    let id = post_json(
        &owner,
        app.url("/api/v1/room-requests"),
        json!({"room": "logic", "reason": "mine"}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["id"]
        .as_i64()
        .unwrap();
    let room = post_json(
        &admin,
        app.url(&format!("/api/v1/room-requests/{id}/approve")),
        json!({}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["room_id"]
        .as_i64()
        .unwrap();
    let room_url = app.url(&format!("/api/v1/rooms/{room}"));
    steps.begin("Someone Roomkeeper has never seen can be named");
    // It works from their first login.
    let set = owner
        .put(app.url(&format!("/api/v1/rooms/{room}/co-owners")))
        .json(&json!({"usernames": ["Newcomer", " tutor "]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        set.json::<Value>().await.unwrap()["co_owners"],
        json!(["newcomer", "tutor"])
    );
    let newcomer = person(&app, "newcomer", false).await;
    assert_eq!(
        newcomer
            .get(room_url.clone())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let page = newcomer
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("logic") && !page.contains("Save co-owners"),
        "co-owners see, but do not manage"
    );
    let refused = newcomer
        .put(app.url(&format!("/api/v1/rooms/{room}/co-owners")))
        .json(&json!({"usernames": ["newcomer", "friend"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(refused, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    steps.begin("Removed, the co-owner loses the room at once");
    // The very next request is refused, and the room is "not found" for them.
    let page_form = owner
        .post(app.url(&format!("/rooms/{room}/co-owners")))
        .form(&[("usernames", "tutor")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        page_form.headers()["location"],
        format!("/rooms/{room}?notice=co-owners")
    );
    assert_eq!(
        error_code(
            newcomer.get(room_url.clone()).send().await.unwrap(),
            StatusCode::NOT_FOUND
        )
        .await,
        "not_found"
    );
    steps.begin("Transfer through the page; then the old owner is a stranger");
    let moved = owner
        .post(app.url(&format!("/rooms/{room}/transfer")))
        .form(&[("username", "Tutor")])
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        owner.get(room_url.clone()).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let room_now: Value = admin
        .get(room_url.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (room_now["owner"].as_str(), room_now["co_owners"].clone()),
        (Some("tutor"), json!([]))
    );
    steps.begin("Release needs the tick; then the room is gone, its history is not");
    let tutor = app.session_cookie("tutor").await;
    assert!(tutor.is_err(), "tutor has never logged in; still the owner");
    let unticked = admin
        .post(app.url(&format!("/rooms/{room}/release")))
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    let released = admin
        .post(app.url(&format!("/rooms/{room}/release")))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        released.headers()["location"],
        "/admin/rooms?notice=released"
    );
    assert_eq!(
        admin.get(room_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let history: Value = admin
        .get(app.url("/api/v1/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "release",
            "transfer",
            "co_owners",
            "co_owners",
            "approve",
            "request"
        ]
    );
}

/// A name released and registered again by someone else starts a new history for its
/// new owner: the earlier holder's entries (and everyone's addresses) stay with admins.
async fn a_new_registration_starts_a_new_history(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let admin = person(&app, "root", true).await;
    let first = app
        .registered_room("logic", "alice", &["carol"])
        .await
        .unwrap();
    app.passwordless_user("alice", false).await.unwrap();
    let alice = app.client_as("alice").await.unwrap();
    let renamed = alice
        .put(app.url(&format!("/api/v1/rooms/{first}/co-owners")))
        .json(&json!({"usernames": ["dave"]}))
        .send()
        .await
        .unwrap();
    assert!(renamed.status().is_success());
    let released = admin
        .delete(app.url(&format!("/api/v1/rooms/{first}")))
        .send()
        .await
        .unwrap();
    assert!(released.status().is_success(), "{}", released.status());
    // Later, bob gets the name.
    app.clock().advance(60);
    let second = app
        .registered_room_at("logic", "bob", &[], app.clock().now())
        .await
        .unwrap();
    app.passwordless_user("bob", false).await.unwrap();
    let bob = app.client_as("bob").await.unwrap();
    let history = |client: reqwest::Client| {
        let url = app.url(&format!("/api/v1/audit?room_id={second}"));
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let his = history(bob.clone()).await;
    assert!(
        his["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] != "alice" && e["action"] != "release"),
        "alice's time shows to bob: {his}"
    );
    let all = history(admin.clone()).await;
    assert!(
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "alice" && e["address"] == "127.0.0.1"),
        "admins see all of it: {all}"
    );
    // The room page's history says the same.
    let page = bob
        .get(app.url(&format!("/rooms/{second}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("127.0.0.1"),
        "no addresses on the owner's page"
    );
}

async fn admins_decide_many_at_once_and_page_through_everything(backend: Backend) {
    let mut steps = Steps::new();
    let app = app_with_meeting_server(backend).await;
    let lecturer = person(&app, "lecturer", false).await;
    let admin = person(&app, "root", true).await;
    steps.begin("Twenty-five requests, paged in the admin's queue");
    let mut ids = Vec::new();
    for i in 0..25 {
        let made = post_json(
            &lecturer,
            app.url("/api/v1/room-requests"),
            json!({"room": format!("course-{i:02}"), "reason": "course"}),
        )
        .await;
        ids.push(made.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    let queue = admin
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("course-00")
            && queue.contains("Page 1 of 2")
            && !queue.contains("course-24"),
        "20 per page, oldest first"
    );
    let second = admin
        .get(app.url("/admin/requests?status=pending&page=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(second.contains("course-24"));
    steps.begin("Ten through the page's bulk form, the rest through the API");
    let mut form: Vec<(&str, String)> =
        ids[..10].iter().map(|id| ("ids", id.to_string())).collect();
    form.push(("decision", "approve".into()));
    form.push(("message", "ok".into()));
    let done = admin
        .post(app.url("/admin/requests/decide"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(done.headers()["location"], "/admin/requests?notice=decided");
    let outcome: Value = post_json(
        &admin,
        app.url("/api/v1/room-requests/decisions"),
        json!({"ids": ids, "decision": "reject", "message": "full"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let outcomes = outcome.as_array().unwrap();
    assert_eq!(outcomes.iter().filter(|o| o["ok"] == true).count(), 15);
    assert_eq!(
        outcomes[0]["error"]["code"], "already_decided",
        "already approved above"
    );
    steps.begin("The rooms are paged, searched and found by name");
    let rooms: Value = admin
        .get(app.url("/api/v1/rooms?per_page=4&page=3"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            rooms["total"].as_i64(),
            rooms["items"].as_array().unwrap().len()
        ),
        (Some(10), 2)
    );
    let found: Value = admin
        .get(app.url("/api/v1/rooms?q=course-0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 10);
    let by_name: Value = admin
        .get(app.url("/api/v1/rooms?name=https://meet.example.org/COURSE-03"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["items"][0]["name"], "course-03");
    let page = admin
        .get(app.url("/admin/rooms?q=course-0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Rooms found: 10") && page.contains("course-09"));
    steps.begin("The lecturer sees every decision with its message");
    let lecturer_sees: Value = lecturer
        .get(app.url("/api/v1/room-requests?status=rejected"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lecturer_sees["total"], 15);
    assert_eq!(lecturer_sees["items"][0]["decision_message"], "full");
}

async fn patterns_show_what_they_match_and_where_they_overlap(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let admin = person(&app, "root", true).await;
    let alice = person(&app, "alice", false).await;
    post_json(
        &alice,
        app.url("/api/v1/room-requests"),
        json!({"room": "alice-logic", "reason": "r"}),
    )
    .await;
    let added = post_json(
        &admin,
        app.url("/api/v1/users/Alice/patterns"),
        json!({"pattern": "Alice-*"}),
    )
    .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let twice = post_json(
        &admin,
        app.url("/api/v1/users/alice/patterns"),
        json!({"pattern": "alice-*"}),
    )
    .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let bad = post_json(
        &admin,
        app.url("/api/v1/users/alice/patterns"),
        json!({"pattern": "*"}),
    )
    .await;
    assert_eq!(
        error_code(bad, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_pattern"
    );
    let form = admin
        .post(app.url("/admin/patterns"))
        .form(&[("username", "bob"), ("pattern", "*-logic")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let report: Value = admin
        .get(app.url("/api/v1/users/alice/patterns"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report[0]["pattern"], "alice-*");
    assert_eq!(report[0]["matching_requests"].as_array().unwrap().len(), 1);
    assert_eq!(report[0]["overlaps_with"][0]["username"], "bob");
    let page = admin
        .get(app.url("/admin/patterns"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Overlaps with *-logic of bob"), "{page}");
    // The queue warns that bob's pattern matches alice's request.
    let queue = admin
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queue.contains("The pattern *-logic of bob matches this room too."));
    let id = report[0]["id"].as_i64().unwrap();
    let removed = admin
        .delete(app.url(&format!("/api/v1/users/alice/patterns/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
}

async fn disabling_an_owner_asks_what_becomes_of_their_rooms(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let admin = person(&app, "root", true).await;
    let owner = person(&app, "leaving", false).await;
    person(&app, "successor", false).await;
    let id = post_json(
        &owner,
        app.url("/api/v1/room-requests"),
        json!({"room": "logic", "reason": "r"}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap()["id"]
        .as_i64()
        .unwrap();
    post_json(
        &admin,
        app.url(&format!("/api/v1/room-requests/{id}/approve")),
        json!({}),
    )
    .await;
    let leaving = app
        .store()
        .user_by_name(&roomkeeper_domain::Username::parse("leaving").unwrap())
        .await
        .unwrap()
        .unwrap();
    let url = app.url(&format!("/admin/users/{}/disabled", leaving.id));
    let asked = admin
        .post(url.clone())
        .form(&[("on", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::CONFLICT);
    assert!(asked.text().await.unwrap().contains("owns 1 rooms"));
    assert!(
        !app.store()
            .user_by_id(leaving.id)
            .await
            .unwrap()
            .unwrap()
            .disabled,
        "nothing happened yet"
    );
    let no_target = admin
        .post(url.clone())
        .form(&[("on", "true"), ("rooms", "transfer"), ("transfer_to", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(no_target.status(), StatusCode::CONFLICT);
    let done = admin
        .post(url)
        .form(&[
            ("on", "true"),
            ("rooms", "transfer"),
            ("transfer_to", "successor"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .user_by_id(leaving.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(
        app.store()
            .room_by_name("logic")
            .await
            .unwrap()
            .unwrap()
            .owner,
        "successor"
    );
}

/// The history an owner sees starts with the request that won them the room, however
/// long the admin took to approve it (it started at the approval, and a request and
/// approval in different seconds lost the request: seen on a busy machine).
async fn the_history_starts_with_the_request_that_won_the_room(backend: Backend) {
    let app = app_with_meeting_server(backend).await;
    let admin = person(&app, "root", true).await;
    let lecturer = person(&app, "lecturer", false).await;
    let asked = post_json(
        &lecturer,
        app.url("/api/v1/room-requests"),
        json!({"room": "logic", "reason": "Lecture Logic I"}),
    )
    .await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    let request: Value = asked.json().await.unwrap();
    app.clock().advance(3600);
    let approved = admin
        .post(app.url(&format!("/api/v1/room-requests/{}/approve", request["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), StatusCode::OK);
    let room_id = approved.json::<Value>().await.unwrap()["room_id"].clone();
    let history: Value = lecturer
        .get(app.url(&format!("/api/v1/audit?room_id={room_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["approve", "request"], "{history}");
}

both_backends!(
    the_history_starts_with_the_request_that_won_the_room,
    a_new_registration_starts_a_new_history,
    request_approve_with_pattern_then_auto_approval,
    bad_requests_are_refused_with_reasons_and_change_nothing,
    a_registered_or_pending_room_is_already_registered_for_others,
    co_owners_share_the_room_and_lose_it_at_once,
    admins_decide_many_at_once_and_page_through_everything,
    patterns_show_what_they_match_and_where_they_overlap,
    disabling_an_owner_asks_what_becomes_of_their_rooms,
);
