//! The email that tells owners a recording is ready.

use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase};

use super::{MEET, ingest};

/// The owner hears of a new recording by email too, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_are_emailed_when_a_recording_is_ready() {
    let smtp = roomkeeper_testkit::SmtpSink::start().await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec![MEET.into()];
    config.email = smtp.config();
    config.http.public_url = Some("https://rooms.example.org".into());
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let start = jibri::an_hour_before(app.clock().now());
    let lecturer = app.passwordless_user("lecturer", false).await.unwrap();
    app.store()
        .set_email(lecturer.id, Some("lecturer@example.org"))
        .await
        .unwrap();
    app.passwordless_user("colleague", false).await.unwrap(); // no address: no mail
    app.registered_room("logic", "lecturer", &["colleague"])
        .await
        .unwrap();
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "mail",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let id = ingest(&app, &session.dir).await.remove(0).id;
    let mail = smtp.wait_for(1).await.unwrap();
    // Quoted-printable: undo its soft line breaks before looking for the link.
    let text = mail[0].replace("=\r\n", "").replace("=\n", "");
    assert!(text.contains("To: lecturer@example.org"), "{text}");
    assert!(
        text.contains(&format!("https://rooms.example.org/recordings/{id}")),
        "{text}"
    );
}
