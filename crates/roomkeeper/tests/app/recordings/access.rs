//! Who gets a recording (owner, co-owners, admins as configured, nobody else) and the pages
//! that show them.

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, both_backends};

use super::{MEET, app, ingest};

/// Every recording endpoint against every role. Nobody but owner and co-owner (and
/// admins where allowed) learns that the recording exists.
async fn who_gets_recordings(backend: Backend) {
    let mut steps = Steps::new();
    for admins_may_watch in [false, true] {
        steps.begin(format!(
            "A recording of logic, admins_may_watch = {admins_may_watch}"
        ));
        let app = app(backend, admins_may_watch).await;
        let start = jibri::an_hour_before(app.clock().now());
        let jibri_dir = tempfile::tempdir().unwrap();
        let session = jibri::record(
            jibri_dir.path(),
            "s1",
            "logic",
            &format!("{MEET}/logic"),
            start,
            &[1],
        )
        .unwrap();
        let recording = ingest(&app, &session.dir).await.remove(0);
        let id = recording.id.clone();
        let room_id = recording.room_id.unwrap();
        let admin = if admins_may_watch { 200 } else { 404 };
        steps.begin("Every endpoint against every role");
        // (method, path, anonymous, stranger, owner, co-owner, admin)
        let cases: Vec<(&str, String, [u16; 5])> = vec![
            (
                "GET",
                format!("/api/v1/rooms/{room_id}/recordings"),
                [401, 404, 200, 200, admin],
            ),
            (
                "GET",
                format!("/api/v1/recordings/{id}"),
                [401, 404, 200, 200, admin],
            ),
            (
                "GET",
                format!("/api/v1/recordings/{id}/content"),
                [401, 404, 200, 200, admin],
            ),
            (
                "HEAD",
                format!("/api/v1/recordings/{id}/content"),
                [401, 404, 200, 200, admin],
            ),
            (
                "GET",
                format!("/api/v1/recordings/{id}/links"),
                [401, 404, 200, 200, admin],
            ),
            (
                "GET",
                format!("/recordings/{id}"),
                [303, 404, 200, 200, admin],
            ),
        ];
        let clients = [
            app.client(),
            app.client_as("student").await.unwrap(),
            app.client_as("lecturer").await.unwrap(),
            app.client_as("colleague").await.unwrap(),
            app.client_as("root").await.unwrap(),
        ];
        for (method, path, expected) in &cases {
            for (client, want) in clients.iter().zip(expected) {
                let method: reqwest::Method = method.parse().unwrap();
                let got = client
                    .request(method.clone(), app.url(path))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    got.status().as_u16(),
                    *want,
                    "{method} {path} (admins may watch: {admins_may_watch})"
                );
            }
        }
        steps.begin("Changing things: the stranger cannot delete or share; the file stays");
        let student = &clients[1];
        let delete = student
            .delete(app.url(&format!("/api/v1/recordings/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), StatusCode::NOT_FOUND);
        let share = student
            .post(app.url(&format!("/api/v1/recordings/{id}/links")))
            .json(&serde_json::json!({"expires_in_s": 3600}))
            .send()
            .await
            .unwrap();
        assert_eq!(share.status(), StatusCode::NOT_FOUND);
        steps.begin("Guessed, malformed and path-like ids: the same 404, never a file");
        for bad in [
            "00000000000000000000000000000000".to_owned(),
            "..%2F..%2Fetc%2Fpasswd".to_owned(),
            "%2Fetc%2Fpasswd".to_owned(),
            format!("{id}%2F..%2F{id}"),
            "..".to_owned(),
        ] {
            let got = clients[2]
                .get(app.url(&format!("/api/v1/recordings/{bad}/content")))
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), StatusCode::NOT_FOUND, "{bad}");
        }
        assert!(app.store().recording(&id).await.unwrap().is_some());
    }
}

/// The pages a lecturer and an admin use: notice, room page list, recording page with
/// player and share link, retention form, deletion, and the admin's unassigned list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_pages() {
    let mut steps = Steps::new();
    let app = app(Backend::Sqlite, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let ours = jibri::record(
        jibri_dir.path(),
        "p1",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let nobodys = jibri::record(
        jibri_dir.path(),
        "p2",
        "nobody",
        &format!("{MEET}/nobody"),
        start,
        &[1],
    )
    .unwrap();
    let recording = ingest(&app, &ours.dir).await.remove(0);
    let unassigned = ingest(&app, &nobodys.dir).await.remove(0);
    let (id, room) = (recording.id.clone(), recording.room_id.unwrap());
    let lecturer = app.client_as("lecturer").await.unwrap();
    let root = app.client_as("root").await.unwrap();
    let page = |client: &reqwest::Client, path: &str, language: &'static str| {
        let request = client
            .get(app.url(path))
            .header("accept-language", language);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };

    steps.begin("The lecturer hears of the recording and sees it on his room page");
    let home = page(&lecturer, "/", "en").await;
    assert!(home.contains("A new recording of logic is ready"), "{home}");
    assert!(home.contains(&format!("href=\"/recordings/{id}\"")));
    let room_page = page(&lecturer, &format!("/rooms/{room}"), "en").await;
    assert!(room_page.contains("Recordings"));
    assert!(room_page.contains(&format!("/api/v1/recordings/{id}/content?download=1")));
    assert!(
        room_page.contains("Deleted automatically on"),
        "{room_page}"
    );
    assert!(
        !room_page.contains("Keeping recordings"),
        "owners do not set retention"
    );
    let german = page(&lecturer, &format!("/rooms/{room}"), "de").await;
    assert!(german.contains("Aufzeichnungen") && german.contains("Herunterladen"));
    steps.begin("Admins (not allowed to watch here) see the room and its retention, not the list");
    let admin_view = page(&root, &format!("/rooms/{room}"), "en").await;
    assert!(!admin_view.contains(&format!("/recordings/{id}")));
    assert!(admin_view.contains("Keeping recordings"));

    steps.begin("The player, and a share link made from the page");
    let player = page(&lecturer, &format!("/recordings/{id}"), "en").await;
    assert!(player.contains(&format!(
        "<video controls preload=\"metadata\" src=\"/api/v1/recordings/{id}/content\""
    )));
    assert!(
        player.contains("Ada Lovelace, Alan Turing"),
        "participants from metadata.json"
    );
    let shared = lecturer
        .post(app.url(&format!("/recordings/{id}/links")))
        .form(&[("days", "7")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shared.contains("/shared/rks_"), "{shared}");
    let too_long = lecturer
        .post(app.url(&format!("/recordings/{id}/links")))
        .form(&[("days", "999")])
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_long
            .text()
            .await
            .unwrap()
            .contains("between one minute and 30 days")
    );

    steps.begin("Only an admin changes how long the room keeps recordings");
    let retention = root
        .post(app.url(&format!("/rooms/{room}/retention")))
        .form(&[("days", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(retention.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store().retention_of(room).await.unwrap(), Some(5));
    let not_admin = lecturer
        .post(app.url(&format!("/rooms/{room}/retention")))
        .form(&[("days", "500")])
        .send()
        .await
        .unwrap();
    assert_eq!(not_admin.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.store().retention_of(room).await.unwrap(), Some(5));

    steps.begin("An admin gives the unassigned recording to the room");
    let unassigned_page = page(&root, "/admin/recordings", "en").await;
    assert!(
        unassigned_page.contains(&format!("{MEET}/nobody")),
        "{unassigned_page}"
    );
    let assigned = root
        .post(app.url(&format!("/recordings/{}/assign", unassigned.id)))
        .form(&[("room", "logic")])
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.store().recordings_of_room(room).await.unwrap().len(), 2);

    steps.begin("Deleting asks for confirmation");
    let unconfirmed = lecturer
        .post(app.url(&format!("/recordings/{id}/delete")))
        .form(&[("confirm", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert!(app.store().recording(&id).await.unwrap().is_some());
    let deleted = lecturer
        .post(app.url(&format!("/recordings/{id}/delete")))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        deleted.headers()["location"],
        format!("/rooms/{room}").as_str()
    );
    assert!(app.store().recording(&id).await.unwrap().is_none());
}

/// Where admins may not watch recordings, an admin cannot get one by giving an
/// unassigned recording to a room of his own (another admin must); whoever gives a room a
/// recording, or makes himself its co-owner, is named to the room's people.
async fn an_admin_does_not_watch_through_his_own_room(backend: Backend) {
    for admins_may_watch in [false, true] {
        let app = app(backend, admins_may_watch).await;
        app.passwordless_user("root2", true).await.unwrap();
        app.registered_room("mine", "root", &[]).await.unwrap();
        // Recorded in a room nobody had registered: unassigned.
        let jibri_dir = tempfile::tempdir().unwrap();
        let session = jibri::record(
            jibri_dir.path(),
            "s1",
            "elsewhere",
            &format!("{MEET}/elsewhere"),
            jibri::an_hour_before(app.clock().now()),
            &[1],
        )
        .unwrap();
        let recording = ingest(&app, &session.dir).await.remove(0);
        assert_eq!(recording.room_id, None);
        let assign = |client: reqwest::Client| {
            let url = app.url(&format!("/api/v1/recordings/{}/assign", recording.id));
            async move {
                client
                    .post(url)
                    .json(&serde_json::json!({"room": "mine"}))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let root = app.client_as("root").await.unwrap();
        let own = assign(root.clone()).await;
        if admins_may_watch {
            assert_eq!(own.status(), StatusCode::OK);
            continue;
        }
        assert_eq!(
            roomkeeper_testkit::error_code(own, StatusCode::CONFLICT).await,
            "own_room"
        );
        let content = app.url(&format!("/api/v1/recordings/{}/content", recording.id));
        assert_eq!(
            root.get(&content).send().await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        // Another admin may; the room's owner is told who, and may watch it now.
        let other = assign(app.client_as("root2").await.unwrap()).await;
        assert_eq!(other.status(), StatusCode::OK);
        let notices = app.store().notices_of("root").await.unwrap();
        assert!(
            notices
                .iter()
                .any(|n| n.kind.code() == "recording_assigned" && n.message.contains("root2")),
            "{notices:?}"
        );
        assert_eq!(
            root.get(&content).send().await.unwrap().status(),
            StatusCode::OK
        );
        let home = root
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            home.contains("root2 gave mine a recording that no room had"),
            "{home}"
        );
        // Making himself a co-owner is an admin's right; the owner hears of it.
        let logic = app.store().room_by_name("logic").await.unwrap().unwrap();
        let joined = root
            .put(app.url(&format!("/api/v1/rooms/{}/co-owners", logic.id)))
            .json(&serde_json::json!({"usernames": ["colleague", "root"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(joined.status(), StatusCode::OK);
        let lecturer = app.store().notices_of("lecturer").await.unwrap();
        assert!(
            lecturer
                .iter()
                .any(|n| n.kind.code() == "co_owners_changed" && n.message.contains("root")),
            "{lecturer:?}"
        );
    }
}

both_backends!(
    who_gets_recordings,
    an_admin_does_not_watch_through_his_own_room,
);
