//! Share links: made, used without a login, expired, revoked, and dead with their maker's
//! right.

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, both_backends, json};

use super::{MEET, app, ingest};

async fn share_links(backend: Backend) {
    let mut steps = Steps::new();
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "s",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let id = ingest(&app, &session.dir).await.remove(0).id;
    steps.begin("A co-owner makes a link, no longer than allowed");
    let colleague = app.client_as("colleague").await.unwrap();
    let links = app.url(&format!("/api/v1/recordings/{id}/links"));
    let too_long = colleague
        .post(&links)
        .json(&serde_json::json!({"expires_in_s": 31 * 86_400}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let link = json(
        colleague
            .post(&links)
            .json(&serde_json::json!({"expires_in_s": 3600})),
    )
    .await;
    // The link is made on http.public_url; the test server listens elsewhere.
    let secret = link["url"]
        .as_str()
        .unwrap()
        .split_once("/shared/")
        .unwrap()
        .1;
    steps.begin("Anyone with the link watches, and the use is audited");
    let url = app.url(&format!("/shared/{secret}"));
    let anonymous = app.client();
    let watched = anonymous.get(&url).send().await.unwrap();
    assert_eq!(watched.status(), StatusCode::OK);
    assert_eq!(watched.headers()["content-type"], "video/mp4");
    let log = app
        .store()
        .audit_log_since(Some("logic"), None, roomkeeper_store::Page::new(1, 50))
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.action.code() == "share_link_used")
    );
    assert!(log.items.iter().any(
        |e| e.action.code() == "share_link_created" && e.actor.as_deref() == Some("colleague")
    ));
    steps.begin("A wrong secret, then the revoked link: 404");
    let wrong = format!("{}x", url);
    assert_eq!(
        anonymous.get(&wrong).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let revoked = colleague
        .delete(format!("{links}/{}", link["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        anonymous.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    steps.begin("A link is its maker's right lent out");
    // When the colleague stops being a co-owner, the links they made stop working; given
    // the right back, they work again.
    let made = json(
        colleague
            .post(&links)
            .json(&serde_json::json!({"expires_in_s": 3600})),
    )
    .await;
    let secret = made["url"]
        .as_str()
        .unwrap()
        .split_once("/shared/")
        .unwrap()
        .1;
    let url = app.url(&format!("/shared/{secret}"));
    assert_eq!(
        anonymous.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let lecturer = app.client_as("lecturer").await.unwrap();
    let room = app.store().room_by_name("logic").await.unwrap().unwrap().id;
    let co_owners = |names: serde_json::Value| {
        lecturer
            .put(app.url(&format!("/api/v1/rooms/{room}/co-owners")))
            .json(&serde_json::json!({ "usernames": names }))
            .send()
    };
    assert!(
        co_owners(serde_json::json!([]))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        anonymous.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        co_owners(serde_json::json!(["colleague"]))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert_eq!(
        anonymous.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    steps.begin("Nor do they work when the maker's account is disabled");
    let maker = app
        .store()
        .user_by_name(&roomkeeper_domain::Username::parse("colleague").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store().set_disabled(maker.id, true).await.unwrap();
    assert_eq!(
        anonymous.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    steps.begin("The owner sees every link that counts, and takes it back from the room page");
    let page = lecturer
        .get(app.url(&format!("/rooms/{room}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Share links that work now"), "{page}");
    assert!(page.contains("Made by colleague"), "{page}");
    let revoke = format!("/recordings/{id}/links/{}/revoke", made["id"]);
    assert!(page.contains(&revoke), "{page}");
    let revoked = lecturer
        .post(app.url(&revoke))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .live_share_links_of_room(room, app.clock().now())
            .await
            .unwrap()
            .is_empty()
    );
}

both_backends!(share_links,);
