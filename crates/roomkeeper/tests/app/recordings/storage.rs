//! Recordings kept in an S3-compatible store (s3s-fs) instead of on local disk.

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase};

use super::{MEET, ingest};

/// The same flow with S3 storage, against a real S3-compatible server (s3s-fs, which
/// checks signatures): multipart upload, access checked by Roomkeeper, then a redirect
/// to a presigned URL; deletion removes the object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_on_s3() {
    let mut steps = Steps::new();
    let s3 = jibri::S3Server::start().await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec![MEET.into()];
    config.recordings.storage = roomkeeper_recordings::StorageKind::S3;
    config.recordings.s3 = s3.config();
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let start = jibri::an_hour_before(app.clock().now());
    app.passwordless_user("lecturer", false).await.unwrap();
    app.passwordless_user("student", false).await.unwrap();
    app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "s3",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[2],
    )
    .unwrap();
    let original = std::fs::read(&session.videos[0]).unwrap();
    let stored = ingest(&app, &session.dir).await;
    let id = stored[0].id.clone();
    assert_eq!(
        s3.objects(),
        std::slice::from_ref(&id),
        "stored in the bucket under its id"
    );
    assert!(!session.dir.exists());

    let content = app.url(&format!("/api/v1/recordings/{id}/content"));
    let student = app.client_as("student").await.unwrap();
    assert_eq!(
        student.get(&content).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let lecturer = app.client_as("lecturer").await.unwrap();
    let answer = lecturer.get(&content).send().await.unwrap();
    assert!(answer.status().is_redirection(), "{}", answer.status());
    let presigned = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(presigned.contains("X-Amz-Signature"), "{presigned}");
    // The presigned URL works without any Roomkeeper login, ranges included...
    let plain = reqwest::Client::new();
    let fetched = plain.get(&presigned).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    // The download name and type were stored with the object at upload.
    assert_eq!(fetched.headers()["content-type"], "video/mp4");
    assert_eq!(
        fetched.headers()["content-disposition"],
        format!(
            "attachment; filename=\"{name}\"; filename*=UTF-8''{name}",
            name = jibri::download_name("logic", start)
        )
        .as_str()
    );
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), original.as_slice());
    let part = plain
        .get(&presigned)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &original[10..20]);
    // ...and the object is not readable without a signature.
    let unsigned = presigned.split('?').next().unwrap();
    assert!(
        !plain
            .get(unsigned)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    steps.begin("Recovery reads the object back and checks it");
    assert_eq!(
        app.state
            .usecases
            .recordings
            .blobs
            .checksum(&id)
            .await
            .unwrap(),
        Some((original.len() as u64, stored[0].sha256.clone()))
    );
    let deleted = lecturer
        .delete(app.url(&format!("/api/v1/recordings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(s3.objects().is_empty(), "the object is deleted");

    steps.begin("Larger than one 16 MiB part: a real multipart upload of three parts");
    let big = jibri_dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    let bytes: Vec<u8> = (0..40u64 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(big.join(jibri::file_name("logic", start + 2700)), &bytes).unwrap();
    jibri::write_metadata(&big, &format!("{MEET}/logic")).unwrap();
    let stored = ingest(&app, &big).await;
    let (size, sha256) = app
        .state
        .usecases
        .recordings
        .blobs
        .checksum(&stored[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(sha256, stored[0].sha256);
}
