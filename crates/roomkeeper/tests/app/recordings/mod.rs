//! Recordings end to end: a simulated Jibri leaves real ffmpeg videos, Roomkeeper takes
//! them in, and only the room's owner and co-owners get them, with HTTP ranges. One file
//! per topic; the helpers they share are here.

use std::path::Path;

use roomkeeper_testkit::{Backend, TestApp, TestDatabase};

pub const MEET: &str = "https://meet.example.org";

pub async fn app(backend: Backend, admins_may_watch: bool) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::new(backend).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec![MEET.into()];
    config.recordings.admins_can_view_recordings = admins_may_watch;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    for (name, admin) in [
        ("lecturer", false),
        ("colleague", false),
        ("student", false),
        ("root", true),
    ] {
        app.passwordless_user(name, admin).await.unwrap();
    }
    app.registered_room("logic", "lecturer", &["colleague"])
        .await
        .unwrap();
    app
}

pub async fn ingest(app: &TestApp, dir: &Path) -> Vec<roomkeeper_store::Recording> {
    app.state
        .usecases
        .recordings
        .ingest_dir(dir, true)
        .await
        .unwrap()
}

mod access;
mod ingest;
mod mail;
mod retention;
mod share_links;
mod storage;
