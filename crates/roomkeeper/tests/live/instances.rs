//! Two instances of the real binary on one PostgreSQL, recordings on the S3-compatible
//! server, two Prosody shards, a shared Jibri directory, one mail server: what several
//! instances behind a load balancer promise (docs/OPERATIONS.md, "Several instances").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roomkeeper_auth::PasswordHasher;
use roomkeeper_domain::Username;
use roomkeeper_store::{Audit, NewRequest, NewUser, Store};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};
use roomkeeper_testkit::served::Served;
use roomkeeper_testkit::{Backend, MeetingEvents, SmtpSink, TestDatabase, jibri, json};

use super::ONE_AT_A_TIME;

const MEET: &str = "https://meet.test";
const PASSWORD: &str = "a long test password";
const INGEST_TOKEN: &str = "an-ingest-token-of-more-than-32-characters";

/// `roomkeeper serve` as its own process, with a staging directory of its own.
struct Instance {
    served: Served,
    _staging: tempfile::TempDir,
}

impl Instance {
    /// Starts the binary with `config` (TOML, without `[http]`) on a free port.
    async fn start(config: &str, dir: &Path, name: &str) -> Self {
        let staging = tempfile::tempdir().unwrap();
        let config = config.replace("STAGING_DIR", &staging.path().display().to_string());
        let served = Served::start(
            env!("CARGO_BIN_EXE_roomkeeper").as_ref(),
            &config,
            dir,
            name,
        )
        .await
        .unwrap();
        Self {
            served,
            _staging: staging,
        }
    }

    fn url(&self, path: &str) -> String {
        self.served.url(path)
    }

    /// Waits until this instance is connected to both shards (its /readyz says so).
    async fn wait_for_shards(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready: serde_json::Value =
                json(reqwest::Client::new().get(self.url("/readyz"))).await;
            let shards = ready["checks"]["jitsi"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if shards.len() == 2 && shards.iter().all(|s| s["online"] == true) {
                return;
            }
            assert!(Instant::now() < deadline, "not connected: {ready}");
            // /readyz is the only way to ask a separate process; it answers at once.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn user(store: &dyn Store, name: &str, admin: bool, email: &str) {
    let hash = PasswordHasher::hash(PASSWORD.to_owned()).await.unwrap();
    let user = store
        .create_user(
            &NewUser {
                username: Username::parse(name).unwrap(),
                display_name: None,
                password_hash: Some(hash),
                is_admin: admin,
                must_change_password: false,
            },
            now(),
        )
        .await
        .unwrap();
    store.set_email(user.id, Some(email)).await.unwrap();
}

/// `name`, the lecturer's, registered a week ago: before the recordings the test makes
/// (the oldest three days ago), which go to the room registered when they were made.
async fn room(store: &dyn Store, name: &str) -> i64 {
    let audit = Audit {
        actor: Some("lecturer"),
        address: None,
        now: now() - 7 * 86_400,
    };
    let request = NewRequest {
        room_name: name.into(),
        requester: "lecturer".into(),
        reason: "test".into(),
        co_owners: vec![],
    };
    store
        .create_request(&request, Some(name), &audit, &[])
        .await
        .unwrap()
        .room_id
        .unwrap()
}

/// The real binaries read the real clock.
fn now() -> i64 {
    roomkeeper_domain::Clock::default().now()
}

/// A client logged in (through `instance`) as `username`, and its cookie.
async fn log_in(instance: &Instance, username: &str) -> (reqwest::Client, String) {
    let answer = reqwest::Client::new()
        .post(instance.url("/api/v1/session"))
        .json(&serde_json::json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let cookie = answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, cookie)
}

fn session_with_video(jibri_dir: &Path, name: &str, room: &str, started_at: i64) -> PathBuf {
    jibri::record(
        jibri_dir,
        name,
        room,
        &format!("{MEET}/{room}"),
        started_at,
        &[1],
    )
    .unwrap()
    .dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_everything_and_survive_one_killed() {
    let mut steps = Steps::new();
    if roomkeeper_testkit::skip_without_postgres("two_instances_share_everything") {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let database = Arc::new(TestDatabase::new(Backend::Postgres).await.unwrap());
    let store = database.store().await.unwrap();
    let s3 = jibri::S3Server::start().await.unwrap();
    let smtp = SmtpSink::start().await.unwrap();
    let (north, south) = (
        Prosody::start().await.unwrap(),
        Prosody::start().await.unwrap(),
    );
    let (north_focus, south_focus) = (
        Focus::start(&north).await.unwrap(),
        Focus::start(&south).await.unwrap(),
    );
    let work = tempfile::tempdir().unwrap();
    let watched = work.path().join("jibri");
    std::fs::create_dir_all(&watched).unwrap();
    std::fs::write(work.path().join("ingest-token"), INGEST_TOKEN).unwrap();

    user(&*store, "lecturer", false, "lecturer@uni.example").await;
    user(&*store, "root", true, "root@uni.example").await;
    let logic = room(&*store, "logic").await;
    let algebra = room(&*store, "algebra").await;

    steps.begin("Retention: a recording older than its room keeps");
    // A recording already three days old in a room that keeps one day. Taken in by the CLI
    // before the instances start; both start their daily pass.
    store
        .set_retention(
            logic,
            Some(1),
            &Audit {
                actor: Some("root"),
                address: None,
                now: now(),
            },
        )
        .await
        .unwrap();
    let s3_config = s3.config();
    let shard = |prosody: &Prosody, name: &str| {
        format!("{}answer_timeout_ms = 30000\n", prosody.shard_toml(name))
    };
    let config = format!(
        "initial_admin_password = \"{PASSWORD}\"\n\
         [database]\nurl = \"{database}\"\n\
         [rooms]\nmeeting_urls = [\"{MEET}\"]\n\
         [email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp}\nsecurity = \"none\"\n\
         from = \"Roomkeeper <rooms@uni.example>\"\n\
         [recordings]\ndir = \"STAGING_DIR\"\nstorage = \"s3\"\nwatch_dir = \"{watched}\"\n\
         rescan_seconds = 1\ningest_token_file = \"{token}\"\n\
         [recordings.s3]\nbucket = \"{bucket}\"\nendpoint = \"{endpoint}\"\nregion = \"us-east-1\"\n\
         access_key_id = \"{key}\"\nsecret_access_key_file = \"{secret}\"\npath_style = true\n\
         allow_http = true\n\
         {north}{south}",
        database = database.url,
        smtp = smtp.port,
        watched = watched.display(),
        token = work.path().join("ingest-token").display(),
        bucket = s3_config.bucket,
        endpoint = s3_config.endpoint,
        key = s3_config.access_key_id,
        secret = s3_config.secret_access_key_file.unwrap().display(),
        north = shard(&north, "north"),
        south = shard(&south, "south"),
    );
    let old_dir = tempfile::tempdir().unwrap();
    let old = session_with_video(old_dir.path(), "old", "logic", now() - 3 * 86_400);
    let cli_config = work.path().join("cli.toml");
    let staging = tempfile::tempdir().unwrap();
    std::fs::write(
        &cli_config,
        config
            .replace("STAGING_DIR", &staging.path().display().to_string())
            .replace(&format!("watch_dir = \"{}\"\n", watched.display()), ""),
    )
    .unwrap();
    let ingested = Command::new(env!("CARGO_BIN_EXE_roomkeeper"))
        .arg("--config")
        .arg(&cli_config)
        .arg("ingest")
        .arg(&old)
        .env_remove("ROOMKEEPER_CONFIG")
        .output()
        .unwrap();
    assert!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stderr)
    );
    assert_eq!(store.recordings_of_room(logic).await.unwrap().len(), 1);

    let (a, b) = tokio::join!(
        Instance::start(&config, work.path(), "a"),
        Instance::start(&config, work.path(), "b")
    );
    tokio::join!(a.wait_for_shards(), b.wait_for_shards());

    steps.begin("Retention ran once between them: one deletion, audited once");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !store.recordings_of_room(logic).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "retention did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let history = |room: &'static str| {
        let store = store.clone();
        async move {
            store
                .audit_log_since(Some(room), None, roomkeeper_store::Page::new(1, 200))
                .await
                .unwrap()
                .items
        }
    };
    let deletions = history("logic")
        .await
        .iter()
        .filter(|e| e.action.code() == "recording_deleted")
        .count();
    assert_eq!(deletions, 1);

    steps.begin("A login on A works on B");
    let (through_a, cookie) = log_in(&a, "lecturer").await;
    let me = json(
        reqwest::Client::new()
            .get(b.url("/api/v1/me"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(me["username"], "lecturer");
    let (through_b, _) = log_in(&b, "lecturer").await;

    steps.begin("Meetings on either shard, seen from either instance");
    // An action through A reaches an event stream open on B within a second.
    let evil = Participant::join(
        &south,
        &south_focus,
        "logic",
        "e1e1e1e1",
        "evilstudent",
        None,
    )
    .await
    .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    let _teacher = Participant::join(&north, &north_focus, "algebra", "a1a1a1a1", "Ada", None)
        .await
        .unwrap();
    let algebra_meeting =
        json(through_b.get(b.url(&format!("/api/v1/rooms/{algebra}/meeting")))).await;
    assert_eq!(algebra_meeting["running"], true, "{algebra_meeting}");
    let stream = through_b
        .get(b.url(&format!("/api/v1/rooms/{logic}/events")))
        .send()
        .await
        .unwrap();
    let mut events = MeetingEvents::new(stream);
    events
        .until(|m| m["participants"][0]["moderator"] == true)
        .await
        .unwrap();
    let asked = Instant::now();
    let revoke = through_a
        .delete(a.url(&format!(
            "/api/v1/rooms/{logic}/meeting/participants/e1e1e1e1/moderator"
        )))
        .send();
    let (revoked, seen) = tokio::join!(
        revoke,
        events.until(|m| m["participants"][0]["moderator"] == false)
    );
    let took = asked.elapsed();
    assert_eq!(revoked.unwrap().status(), StatusCode::OK);
    seen.unwrap();
    assert!(
        took < Duration::from_secs(1),
        "B saw A's action after {took:?}"
    );
    drop(events);

    steps.begin("A recording sent to A is listed and played through B (a redirect to S3)");
    let jibri_dir = tempfile::tempdir().unwrap();
    let sent = session_with_video(
        jibri_dir.path(),
        "sent",
        "algebra",
        jibri::an_hour_before(now()),
    );
    let video = std::fs::read_dir(&sent)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "mp4"))
        .unwrap();
    let bytes = std::fs::read(&video).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("session", "sent")
        .part(
            "metadata",
            reqwest::multipart::Part::bytes(std::fs::read(sent.join("metadata.json")).unwrap())
                .file_name("metadata.json"),
        )
        .part(
            "video",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(video.file_name().unwrap().to_string_lossy().into_owned()),
        );
    let upload = reqwest::Client::new()
        .post(a.url("/api/v1/recordings/ingest"))
        .bearer_auth(INGEST_TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::OK);
    let listed = json(through_b.get(b.url(&format!("/api/v1/rooms/{algebra}/recordings")))).await;
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let content = through_b
        .get(b.url(&format!("/api/v1/recordings/{id}/content")))
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), StatusCode::SEE_OTHER);
    let presigned = content.headers()["location"].to_str().unwrap().to_owned();
    let played = reqwest::get(presigned).await.unwrap();
    assert_eq!(played.status(), StatusCode::OK);
    assert!(played.bytes().await.unwrap() == bytes);

    steps.begin("Room requests through both: each admin email goes out once");
    for i in 0..6 {
        let (instance, client) = if i % 2 == 0 {
            (&a, &through_a)
        } else {
            (&b, &through_b)
        };
        let made = client
            .post(instance.url("/api/v1/room-requests"))
            .json(&serde_json::json!({"room": format!("seminar-{i}"), "reason": "a seminar"}))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::CREATED);
    }

    steps.begin("The directory watcher runs on one instance");
    // A session Jibri leaves in the shared directory is taken in once, with no failed second
    // attempt.
    let watched_session =
        session_with_video(&watched, "watched", "algebra", jibri::an_hour_before(now()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.recordings_of_room(algebra).await.unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the watcher took nothing in");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !watched_session.join("metadata.json").exists(),
        "Jibri's files are removed once stored"
    );
    let (root, _) = log_in(&b, "root").await;
    let unassigned = json(root.get(b.url("/api/v1/recordings/unassigned"))).await;
    assert_eq!(
        unassigned["problems"],
        serde_json::json!([]),
        "{unassigned}"
    );
    // A session that cannot be read is kept for an administrator, and the metric
    // operators alert on says so.
    let broken = watched.join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("metadata.json"), "{not json").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = reqwest::get(b.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("recordings_ingest_problems 1") {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    steps.begin("Every email once, both instances running");
    // The administrator hears of each request once, whichever instance took it and whichever
    // sent the mail; the owner of each recording once. (After A is killed below, what A had
    // claimed and not sent goes out from B when its lease ends, two minutes later: not waited
    // for here.)
    let room_request = |m: &String| m.contains("Subject: Room request:");
    let recording_ready = |m: &String| m.contains("Subject: A recording of");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mail = smtp.messages();
        let requests = mail.iter().filter(|m| room_request(m)).count();
        // The one sent to A and the watched one.
        let recordings = mail.iter().filter(|m| recording_ready(m)).count();
        if requests >= 6 && recordings >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "{mail:#?}");
        // The mail server writes a file per message; there is nothing to wait on.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut letters: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| {
            // A message without its Date, Message-ID and connection: the same letter
            // sent twice is the same text.
            m.lines()
                .filter(|l| {
                    !["Date:", "Message-ID:", "X-Peer:"]
                        .iter()
                        .any(|h| l.starts_with(h))
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert_eq!(
        letters.iter().filter(|l| room_request(l)).count(),
        6,
        "{letters:#?}"
    );
    letters.sort();
    let sent = letters.len();
    letters.dedup();
    assert_eq!(sent, letters.len(), "a letter went out twice");

    steps.begin("kill -9 of A while requests keep arriving through it");
    // B goes on serving, with every request A acknowledged.
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let flood = {
        let (url, client) = (a.url("/api/v1/room-requests"), through_a.clone());
        let acknowledged = Arc::clone(&acknowledged);
        tokio::spawn(async move {
            for i in 0.. {
                let made = client
                    .post(&url)
                    .json(&serde_json::json!({"room": format!("flood-{i}"), "reason": "load"}))
                    .send()
                    .await;
                let Ok(answer) = made else { break };
                if answer.status() != StatusCode::CREATED {
                    break;
                }
                let Ok(body) = answer.json::<serde_json::Value>().await else {
                    break;
                };
                acknowledged
                    .lock()
                    .unwrap()
                    .push(body["id"].as_i64().unwrap());
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "no requests were answered by A");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut a = a;
    a.served.kill().unwrap();
    flood.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let pending = json(root.get(b.url("/api/v1/room-requests?status=pending&per_page=200"))).await;
    let known: Vec<i64> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    for id in &acknowledged {
        assert!(
            known.contains(id),
            "request {id} acknowledged by A is gone: {pending}"
        );
    }
    // B takes over the watcher once A's lease ran out.
    let after = session_with_video(&watched, "after", "algebra", jibri::an_hour_before(now()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.recordings_of_room(algebra).await.unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "B did not take over the watcher");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Jibri's files go once everything is stored, a moment after the recording is.
    while after.join("metadata.json").exists() {
        assert!(
            Instant::now() < deadline,
            "B stored the session but left Jibri's metadata.json"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    drop(b);
}
