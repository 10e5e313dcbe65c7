//! Taking recordings in: a simulated Jibri leaves real ffmpeg videos; the same session twice,
//! broken sessions, a crash midway, a watched directory, the finalize script over HTTP.

use reqwest::StatusCode;
use roomkeeper_store::{NewRecording, Store};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri;
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, both_backends, json};

use super::{MEET, app, ingest};

async fn ingest_recording_flow(backend: Backend) {
    let mut steps = Steps::new();
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "0b7c5d7e-1f2a-4c3b-9d8e-7f6a5b4c3d2e",
        "logic",
        &format!("{MEET}/Logic"),
        start,
        &[1, 2],
    )
    .unwrap();
    let original = std::fs::read(&session.videos[0]).unwrap();
    let stored = ingest(&app, &session.dir).await;
    assert_eq!(stored.len(), 2, "one recording per video file");
    assert!(
        !session.dir.exists(),
        "Jibri's directory is removed once stored"
    );

    let lecturer = app.client_as("lecturer").await.unwrap();
    let room_id = stored[0].room_id.unwrap();
    let list = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room_id}/recordings")))).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let durations: Vec<i64> = list
        .iter()
        .map(|r| r["duration_s"].as_i64().unwrap())
        .collect();
    assert!(
        durations.contains(&1) && durations.contains(&2),
        "{durations:?}"
    );
    let first = list
        .iter()
        .find(|r| r["file_name"] == jibri::download_name("logic", start).as_str())
        .expect("download name from room and start time");
    assert_eq!(
        first["size_bytes"].as_i64().unwrap() as usize,
        original.len()
    );
    assert_eq!(first["started_at"], jibri::api_time(start).as_str());
    let id = first["id"].as_str().unwrap().to_owned();
    let content = app.url(&format!("/api/v1/recordings/{id}/content"));

    steps.begin("The whole file, byte for byte");
    let whole = lecturer.get(&content).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert!(
        whole.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
    let last_modified = whole.headers()["last-modified"].clone();
    assert_eq!(whole.bytes().await.unwrap().as_ref(), original.as_slice());
    // Seeking: a range.
    let part = lecturer
        .get(&content)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 100-199/{}", original.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &original[100..200]);
    // A header of 20,000 ranges is not worth parsing: ignored, the whole file comes.
    let ranges: Vec<String> = (0..20_000).map(|i| format!("{i}-{i}")).collect();
    let hostile = lecturer
        .get(&content)
        .header("range", format!("bytes={}", ranges.join(",")))
        .send()
        .await
        .unwrap();
    assert_eq!(hostile.status(), StatusCode::OK);
    assert_eq!(hostile.bytes().await.unwrap().len(), original.len());
    // HEAD and a conditional request.
    let head = lecturer.head(&content).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        original.len().to_string().as_str()
    );
    let unchanged = lecturer
        .get(&content)
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    // Download with a sensible name.
    let download = lecturer
        .get(format!("{content}?download=1"))
        .send()
        .await
        .unwrap();
    let disposition = download.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with(&format!(
            "attachment; filename=\"{}\"",
            jibri::download_name("logic", start)
        )),
        "{disposition}"
    );

    steps.begin("Owner and co-owner were told");
    for who in ["lecturer", "colleague"] {
        let notices = app.store().notices_of(who).await.unwrap();
        assert_eq!(
            notices
                .iter()
                .filter(|n| n.kind.code() == "recording_ready")
                .count(),
            2,
            "{who}"
        );
    }
    assert!(app.store().notices_of("student").await.unwrap().is_empty());

    steps.begin("Deleting is audited, and the file is gone for everyone");
    let deleted = lecturer
        .delete(app.url(&format!("/api/v1/recordings/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        lecturer.get(&content).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let log = app
        .store()
        .audit_log_since(Some("logic"), None, roomkeeper_store::Page::new(1, 50))
        .await
        .unwrap();
    assert!(
        log.items
            .iter()
            .any(|e| e.action.code() == "recording_deleted"
                && e.actor.as_deref() == Some("lecturer")
                && e.detail.contains(&id))
    );
}

async fn same_session_twice_and_unassigned(backend: Backend) {
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "again",
        "lab",
        &format!("{MEET}/physics/Lab"),
        start,
        &[1],
    )
    .unwrap();
    let copy = tempfile::tempdir().unwrap();
    let copy_dir = copy.path().join("again");
    std::fs::create_dir(&copy_dir).unwrap();
    for entry in std::fs::read_dir(&session.dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy_dir.join(entry.file_name())).unwrap();
    }
    let first = ingest(&app, &session.dir).await;
    let second = ingest(&app, &copy_dir).await;
    assert_eq!(
        first[0].id, second[0].id,
        "the same session gives the same recording"
    );
    assert!(!copy_dir.exists());
    // physics/lab is not registered: unassigned, for admins.
    assert_eq!(first[0].room_id, None);
    let root = app.client_as("root").await.unwrap();
    let unassigned = json(root.get(app.url("/api/v1/recordings/unassigned"))).await;
    assert_eq!(unassigned["recordings"].as_array().unwrap().len(), 1);
    let lecturer = app.client_as("lecturer").await.unwrap();
    assert_eq!(
        lecturer
            .get(app.url("/api/v1/recordings/unassigned"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // Whoever asks for the name first need not be whoever recorded there: the approval
    // queue tells the admin, and approving gives the room, not the recording.
    let asked = lecturer
        .post(app.url("/api/v1/room-requests"))
        .json(&serde_json::json!({"room": "physics/lab", "reason": "my lab"}))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::CREATED);
    let request: serde_json::Value = asked.json().await.unwrap();
    let queue = root
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("made before anyone registered it: 1."),
        "{queue}"
    );
    let approved =
        json(root.post(app.url(&format!("/api/v1/room-requests/{}/approve", request["id"])))).await;
    let room_id = approved["room_id"].as_i64().unwrap();
    let list = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room_id}/recordings")))).await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    // The admin, having checked, assigns it.
    let assigned = root
        .post(app.url(&format!("/api/v1/recordings/{}/assign", first[0].id)))
        .json(&serde_json::json!({"room": "physics/lab"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), StatusCode::OK);
    let list = json(lecturer.get(app.url(&format!("/api/v1/rooms/{room_id}/recordings")))).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], first[0].id.as_str());
}

/// Killed after its last video was stored and Jibri's file removed, before
/// metadata.json went (seen in the kill -9 test, tests/faults/crash.rs): taking the
/// session in again answers with its recordings, cleans up, and reports no problem.
async fn a_session_left_with_only_its_metadata_is_done(backend: Backend) {
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "interrupted",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1, 1],
    )
    .unwrap();
    let metadata = std::fs::read(session.dir.join("metadata.json")).unwrap();
    let first = ingest(&app, &session.dir).await;
    assert_eq!(first.len(), 2);
    // What the kill left.
    std::fs::create_dir(&session.dir).unwrap();
    std::fs::write(session.dir.join("metadata.json"), metadata).unwrap();
    let again = app
        .state
        .usecases
        .recordings
        .ingest_dir(&session.dir, true)
        .await
        .unwrap();
    let ids = |list: &[roomkeeper_store::Recording]| {
        let mut ids: Vec<String> = list.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&again), ids(&first));
    assert!(!session.dir.exists());
    assert!(app.store().ingest_problems().await.unwrap().is_empty());
}

async fn bad_sessions_are_kept_and_shown(backend: Backend) {
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    // Broken metadata.
    let broken = jibri::record(
        jibri_dir.path(),
        "broken",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    std::fs::write(broken.dir.join("metadata.json"), "{ not json").unwrap();
    // No video.
    let empty = jibri_dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    jibri::write_metadata(&empty, &format!("{MEET}/logic")).unwrap();
    // A symlink pointing out of the Jibri directory.
    let linked = jibri_dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", linked.join(jibri::file_name("logic", start)))
        .unwrap();
    jibri::write_metadata(&linked, &format!("{MEET}/logic")).unwrap();
    // Not finished: no metadata yet. Not a problem, just not ready.
    let running = jibri_dir.path().join("running");
    std::fs::create_dir(&running).unwrap();
    jibri::make_video(&running.join(jibri::file_name("logic", start)), 1).unwrap();

    for (dir, says) in [
        (&broken.dir, "not valid JSON"),
        (&empty, "no video"),
        (&linked, "symbolic link"),
    ] {
        let error = app
            .state
            .usecases
            .recordings
            .ingest_dir(dir, true)
            .await
            .unwrap_err();
        assert!(error.to_string().contains(says), "{error}");
        assert!(dir.join("metadata.json").exists(), "Jibri's files stay");
    }
    assert!(broken.videos[0].exists());
    assert!(matches!(
        app.state
            .usecases
            .recordings
            .ingest_dir(&running, true)
            .await,
        Err(roomkeeper_recordings::Error::NotReady(_))
    ));
    let problems = app.store().ingest_problems().await.unwrap();
    let mut sessions: Vec<&str> = problems.iter().map(|p| p.session.as_str()).collect();
    sessions.sort_unstable();
    assert_eq!(sessions, ["broken", "empty", "linked"]);
    let page = app
        .client_as("root")
        .await
        .unwrap()
        .get(app.url("/admin/recordings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("symbolic link"), "{page}");
    assert!(app.store().recordings_of_room(1).await.unwrap().is_empty());
}

/// What `kill -9` leaves behind, at each point an ingest can die: nothing visible, and
/// the next attempt (or start-up's recovery) completes it.
async fn interrupted_ingest_completes(backend: Backend) {
    let app = app(backend, false).await;
    let start = jibri::an_hour_before(app.clock().now());
    let store: &dyn Store = app.store();
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "cut",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let video = &session.videos[0];
    let (size, sha256) = roomkeeper_recordings::blob::file_checksum(video)
        .await
        .unwrap();
    let new = NewRecording {
        id: roomkeeper_auth::new_recording_id().to_string(),
        session: "cut".into(),
        source_file: video.file_name().unwrap().to_str().unwrap().into(),
        meeting_room: Some("logic".into()),
        meeting_url: format!("{MEET}/logic"),
        started_at: start,
        duration_ms: None,
        size_bytes: size as i64,
        sha256,
        participants: vec![],
    };
    // Died after writing the row, before storing the file.
    let row = store.begin_recording(&new, 1).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let content = app.url(&format!("/api/v1/recordings/{}/content", row.id));
    assert_eq!(
        lecturer.get(&content).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        store
            .recordings_of_room(row.room_id.unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    // The next attempt completes it, with the same id.
    let done = ingest(&app, &session.dir).await;
    assert_eq!(done[0].id, row.id);
    assert_eq!(
        lecturer.get(&content).send().await.unwrap().status(),
        StatusCode::OK
    );

    // Died after storing the file, before marking it ready: recovery finds it.
    let session = jibri::record(
        jibri_dir.path(),
        "cut2",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let video = &session.videos[0];
    let (size, sha256) = roomkeeper_recordings::blob::file_checksum(video)
        .await
        .unwrap();
    let new = NewRecording {
        id: roomkeeper_auth::new_recording_id().to_string(),
        session: "cut2".into(),
        size_bytes: size as i64,
        sha256,
        ..new
    };
    let row = store.begin_recording(&new, 1).await.unwrap();
    let labels = roomkeeper_recordings::blob::Labels {
        content_type: "video/mp4",
        download_name: "x.mp4",
    };
    app.state
        .usecases
        .recordings
        .blobs
        .store_file(video, &row.id, true, &labels)
        .await
        .unwrap();
    let content = app.url(&format!("/api/v1/recordings/{}/content", row.id));
    assert_eq!(
        lecturer.get(&content).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.state.usecases.recordings.recover().await.unwrap();
    assert_eq!(
        lecturer.get(&content).send().await.unwrap().status(),
        StatusCode::OK
    );
}

/// `kill -9` of a real `roomkeeper ingest` while it uploads to S3: nothing is shown,
/// Jibri's file stays, and running it again completes the same recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_killed_midway_then_completed() {
    let mut steps = Steps::new();
    steps.begin("A registered room and a 256 MiB recording");
    let s3 = jibri::S3Server::start().await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let store = database.store().await.unwrap();
    let audit = roomkeeper_store::Audit {
        actor: Some("lecturer"),
        address: None,
        now: 1,
    };
    let request = roomkeeper_store::NewRequest {
        room_name: "logic".into(),
        requester: "lecturer".into(),
        reason: "test".into(),
        co_owners: vec![],
    };
    let room_id = store
        .create_request(&request, Some("logic"), &audit, &[])
        .await
        .unwrap()
        .room_id
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let s3_config = s3.config();
    let config = format!(
        "[database]\nurl = \"{}\"\n[rooms]\nmeeting_urls = [\"{MEET}\"]\n\
         [recordings]\ndir = \"{}\"\nstorage = \"s3\"\n\
         [recordings.s3]\nbucket = \"{}\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"{}\"\nsecret_access_key_file = \"{}\"\npath_style = true\nallow_http = true\n",
        database.config().database.url,
        work.path().join("store").display(),
        s3_config.bucket,
        s3_config.endpoint,
        s3_config.access_key_id,
        s3_config.secret_access_key_file.unwrap().display(),
    );
    let config_file = work.path().join("roomkeeper.toml");
    std::fs::write(&config_file, config).unwrap();
    // The real binary reads the real clock.
    let start = jibri::an_hour_before(roomkeeper_domain::Clock::default().now());
    let session = work.path().join("jibri").join("killed");
    std::fs::create_dir_all(&session).unwrap();
    let video = session.join(jibri::file_name("logic", start));
    let bytes: Vec<u8> = (0..256u64 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    std::fs::write(&video, &bytes).unwrap();
    jibri::write_metadata(&session, &format!("{MEET}/logic")).unwrap();
    let ingest = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_roomkeeper"));
        command
            .arg("--config")
            .arg(&config_file)
            .arg("ingest")
            .arg(&session)
            .env_remove("ROOMKEEPER_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };

    steps.begin("The command is killed once the recording's row is written");
    let mut child = ingest().spawn().unwrap();
    // Its row is written once the file is hashed, before the upload: kill it then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let row = loop {
        if let Some(row) = store.unfinished_recordings().await.unwrap().pop() {
            break row;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest ended before it could be killed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no recording row appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        store.recordings_of_room(room_id).await.unwrap().is_empty(),
        "nothing shown"
    );
    assert!(
        s3.objects().is_empty(),
        "no object from the interrupted upload"
    );
    assert!(
        video.exists() && session.join("metadata.json").exists(),
        "Jibri's files stay"
    );

    steps.begin("Run again, it completes the same recording");
    let done = ingest().output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let shown = store.recordings_of_room(room_id).await.unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].id, row.id, "the same recording, not a second one");
    // Its output is for scripts: one line per recording, the logs go to stderr.
    assert_eq!(
        String::from_utf8_lossy(&done.stdout),
        format!("{} logic {}\n", row.id, shown[0].source_file)
    );
    assert_eq!(shown[0].size_bytes as usize, bytes.len());
    assert_eq!(s3.objects(), std::slice::from_ref(&row.id));
    assert!(!session.exists());
}

/// A directory shared with Jibri: a session finished while Roomkeeper was down is found
/// by the first scan, one finished while it runs by the watcher (the rescan interval is
/// far longer than the test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_directory_and_rescans() {
    // Before the app exists: a fresh app's clock is the real one.
    let start = jibri::an_hour_before(roomkeeper_domain::Clock::default().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let before = jibri::record(
        jibri_dir.path(),
        "before",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1],
    )
    .unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.rooms.meeting_urls = vec![MEET.into()];
    config.recordings.watch_dir = Some(jibri_dir.path().to_owned());
    config.recordings.rescan_seconds = 3600;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    // Taken in: the recordings are listed and Jibri's directory is gone (it is removed
    // after the row is marked ready, so the listing alone may come first).
    let taken_in = |count: usize, session: std::path::PathBuf| {
        let store = app.state.usecases.store.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let now = store.recordings_of_room(room).await.unwrap().len()
                    + store.unassigned_recordings().await.unwrap().len();
                if now >= count && !session.exists() {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{now} of {count} recordings, {} still there",
                    session.display()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    taken_in(1, before.dir.clone()).await;
    // Jibri at work: videos first, metadata.json last, as it does.
    let during = jibri_dir.path().join("during");
    std::fs::create_dir(&during).unwrap();
    jibri::make_video(&during.join(jibri::file_name("logic", start + 2700)), 1).unwrap();
    jibri::write_metadata(&during, &format!("{MEET}/logic")).unwrap();
    taken_in(2, during.clone()).await;
}

/// `deploy/jibri/finalize.sh` as Jibri runs it: it spools the session and returns, its
/// uploader delivers; a session finalized twice (a retry) gives its recordings once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finalize_script_uploads_over_http() {
    let mut steps = Steps::new();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("ingest-token");
    std::fs::write(&token_file, "an-ingest-token-of-more-than-32-characters").unwrap();
    let mut config = database.config();
    config.rooms.meeting_urls = vec![MEET.into()];
    config.recordings.ingest_token = Some("an-ingest-token-of-more-than-32-characters".into());
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    let start = jibri::an_hour_before(app.clock().now());
    app.passwordless_user("lecturer", false).await.unwrap();
    let room_id = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let jibri_dir = tempfile::tempdir().unwrap();
    steps.begin("Jibri's finalize script, with curl watched for its arguments");
    // curl as the script runs it, but first writing down its arguments, which anyone on
    // the machine can read (ps): the token must not be among them.
    let spy = tempfile::tempdir().unwrap();
    let seen_arguments = spy.path().join("curl-arguments");
    let real_curl = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v curl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(
        spy.path().join("curl"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec {} \"$@\"\n",
            seen_arguments.display(),
            real_curl.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        spy.path().join("curl"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        spy.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let finalize = jibri::Finalize::new(&app.base_url, &token_file)
        .unwrap()
        .with_env("PATH", &path);
    let session = jibri::record(
        jibri_dir.path(),
        "up",
        "logic",
        &format!("{MEET}/logic"),
        start,
        &[1, 1],
    )
    .unwrap();
    let kept = tempfile::tempdir().unwrap();
    for video in &session.videos {
        std::fs::copy(video, kept.path().join(video.file_name().unwrap())).unwrap();
    }
    steps.begin("A wrong token: refused, before the body is read");
    let refused = reqwest::Client::new()
        .post(app.url("/api/v1/recordings/ingest"))
        .bearer_auth("x".repeat(40))
        .multipart(reqwest::multipart::Form::new().text("session", "up"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    steps.begin("The script uploads; the token never appears among curl's arguments");
    let (done, _) = finalize.finalize(&session.dir).unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    finalize
        .delivered(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(!session.dir.exists(), "removed after the 200");
    let arguments = std::fs::read_to_string(&seen_arguments).unwrap();
    assert!(
        arguments.contains("/api/v1/recordings/ingest"),
        "{arguments}"
    );
    assert!(
        !arguments.contains("an-ingest-token"),
        "the token is in curl's arguments: {arguments}"
    );
    steps.begin("The lecturer sees both videos");
    let lecturer = app.client_as("lecturer").await.unwrap();
    let list = |lecturer: reqwest::Client| {
        let url = app.url(&format!("/api/v1/rooms/{room_id}/recordings"));
        async move {
            let list = json(lecturer.get(url)).await;
            list.as_array().unwrap().len()
        }
    };
    assert_eq!(list(lecturer.clone()).await, 2);
    steps.begin("Jibri ran the script again for the same session: nothing twice");
    std::fs::create_dir(&session.dir).unwrap();
    for video in &session.videos {
        std::fs::copy(kept.path().join(video.file_name().unwrap()), video).unwrap();
    }
    jibri::write_metadata(&session.dir, &format!("{MEET}/logic")).unwrap();
    let (again, _) = finalize.finalize(&session.dir).unwrap();
    assert!(again.status.success(), "{again:?}");
    finalize
        .delivered(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(!session.dir.exists());
    assert_eq!(list(lecturer).await, 2);
}

/// A recording belongs to the room as it was registered when it was made: an upload
/// that arrives late (a retried finalize script, a re-ingest) after the name was released
/// and registered by someone else does not reach the new owner; it waits, unassigned,
/// for an admin. The new owner's own recordings are theirs.
async fn a_late_upload_goes_to_the_room_of_its_time(backend: Backend) {
    let app = app(backend, false).await;
    let recorded = jibri::an_hour_before(app.clock().now());
    let jibri_dir = tempfile::tempdir().unwrap();
    let lecture = |session: &str, start: i64| {
        jibri::record(
            jibri_dir.path(),
            session,
            "logic",
            &format!("{MEET}/logic"),
            start,
            &[1],
        )
        .unwrap()
    };
    let old_lecture = lecture("old-lecture", recorded);
    // The lecturer gives the name up; a student registers it now.
    let lecturer = app.client_as("lecturer").await.unwrap();
    let logic = app.store().room_by_name("logic").await.unwrap().unwrap();
    let released = lecturer
        .delete(app.url(&format!("/api/v1/rooms/{}", logic.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), StatusCode::NO_CONTENT);
    let now = app.clock().now();
    let students = app
        .registered_room_at("logic", "student", &[], now)
        .await
        .unwrap();
    // The lecturer's recording arrives late.
    let late = ingest(&app, &old_lecture.dir).await;
    assert_eq!(late[0].room_id, None, "not the new owner's");
    let student = app.client_as("student").await.unwrap();
    let theirs = json(student.get(app.url(&format!("/api/v1/rooms/{students}/recordings")))).await;
    assert!(theirs.as_array().unwrap().is_empty(), "{theirs}");
    let root = app.client_as("root").await.unwrap();
    let unassigned = json(root.get(app.url("/api/v1/recordings/unassigned"))).await;
    assert_eq!(
        unassigned["recordings"][0]["id"],
        late[0].id.as_str(),
        "{unassigned}"
    );
    // What the student records in the room now is theirs.
    app.clock().advance(3600);
    let own = lecture("own", now + 60);
    let own = ingest(&app, &own.dir).await;
    assert_eq!(own[0].room_id, Some(students));
}

both_backends!(
    a_late_upload_goes_to_the_room_of_its_time,
    ingest_recording_flow,
    same_session_twice_and_unassigned,
    a_session_left_with_only_its_metadata_is_done,
    bad_sessions_are_kept_and_shown,
    interrupted_ingest_completes,
);
