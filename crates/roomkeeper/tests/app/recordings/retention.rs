//! Retention: expired recordings deleted once a day, per room or by default.

use reqwest::StatusCode;
use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, both_backends, json};

use super::{MEET, app, ingest};

async fn retention_deletes_expired_recordings_once_a_day(backend: Backend) {
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let other_room = app
        .registered_room("physics", "lecturer", &[])
        .await
        .unwrap();
    let jibri_dir = tempfile::tempdir().unwrap();
    let kept_short = jibri::record(
        jibri_dir.path(),
        "short",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let kept_default = jibri::record(
        jibri_dir.path(),
        "default",
        "physics",
        &format!("{MEET}/physics"),
        start,
        &[1],
    )
    .unwrap();
    let short = ingest(&app, &kept_short.dir).await.remove(0);
    let default = ingest(&app, &kept_default.dir).await.remove(0);
    // An admin keeps logic's recordings one day; a plain owner may not change that.
    let root = app.client_as("root").await.unwrap();
    let logic = short.room_id.unwrap();
    let set = root
        .put(app.url(&format!("/api/v1/rooms/{logic}/retention")))
        .json(&serde_json::json!({"days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let lecturer = app.client_as("lecturer").await.unwrap();
    let refused = lecturer
        .put(app.url(&format!("/api/v1/rooms/{logic}/retention")))
        .json(&serde_json::json!({"days": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let shown = json(lecturer.get(app.url(&format!("/api/v1/recordings/{}", short.id)))).await;
    assert_eq!(
        shown["deleted_at"],
        jibri::api_time(start + 86_400).as_str(),
        "the page says when"
    );

    // A day and a minute after the recording started, and on a later day than the pass
    // the app ran when it started (one per day): between 00:00 and 01:00 UTC the first
    // is still the same day (seen: this test failed at 00:10).
    let now = app.clock().now();
    let due = (short.started_at + 86_400 + 60).max((now.div_euclid(86_400) + 1) * 86_400);
    app.clock().advance(due - now);
    let recordings = &app.state.usecases.recordings;
    assert_eq!(recordings.run_retention().await.unwrap(), Some(1));
    // Another instance asking the same day: not its turn.
    assert_eq!(recordings.run_retention().await.unwrap(), None);
    assert!(app.store().recording(&short.id).await.unwrap().is_none());
    assert_eq!(
        app.store()
            .recordings_of_room(other_room)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(app.store().recording(&default.id).await.unwrap().is_some());
    let log = app
        .store()
        .audit_log_since(Some("logic"), None, roomkeeper_store::Page::new(1, 50))
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.action.code() == "recording_deleted"
                && e.actor.is_none()
                && e.detail.contains("retention: kept 1 days"))
    );
    assert!(
        log.items
            .iter()
            .any(|e| e.action.code() == "retention_set" && e.actor.as_deref() == Some("root"))
    );
    // The next day, the default (90 days) still keeps physics'.
    app.clock().advance(86_400);
    assert_eq!(recordings.run_retention().await.unwrap(), Some(0));
}

/// The room page offers the retention form exactly to whoever may set it: an
/// administrator, but not in a room of his own (there he is its owner, and retention is
/// not the owners' to choose), nor a plain owner.
async fn the_retention_form_is_offered_to_whoever_may_set_it(backend: Backend) {
    let app = app(backend, false).await;
    let physics = app
        .registered_room("physics", "lecturer", &[])
        .await
        .unwrap();
    let roots = app
        .registered_room("roots-room", "root", &[])
        .await
        .unwrap();
    let root = app.client_as("root").await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let offered = |client: reqwest::Client, room: i64| {
        let url = app.url(&format!("/rooms/{room}"));
        async move {
            let page = client.get(url).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            let form = format!("action=\"/rooms/{room}/retention\"");
            page.text().await.unwrap().contains(&form)
        }
    };
    assert!(
        offered(root.clone(), physics).await,
        "an admin, someone else's room"
    );
    assert!(!offered(lecturer.clone(), physics).await, "the owner");
    assert!(
        !offered(root.clone(), roots).await,
        "an admin in his own room"
    );
    let own = root
        .put(app.url(&format!("/api/v1/rooms/{roots}/retention")))
        .json(&serde_json::json!({"days": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::FORBIDDEN, "as the form says");
}

both_backends!(
    retention_deletes_expired_recordings_once_a_day,
    the_retention_form_is_offered_to_whoever_may_set_it,
);
