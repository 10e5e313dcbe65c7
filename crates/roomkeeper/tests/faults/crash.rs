//! `kill -9` at random moments while requests are approved, recordings are taken in
//! (over HTTP as deploy/jibri/finalize.sh sends them, and by `roomkeeper ingest`) and
//! share links are made. After every kill: the database passes SQLite's integrity
//! check, every answer the client had received is still true, nothing half-stored is
//! shown, and no temporary file is left once the service is up again.
//!
//! 20 cycles in the default suite; the long run (docs/FAULTS.md):
//!     FAULT_CYCLES=200 cargo test -p roomkeeper --test faults kill_9 -- --nocapture
//! `FAULT_SEED=N` repeats a run's kill moments (each run prints its seed).

use roomkeeper_testkit::Steps;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roomkeeper_store::{RecordingState, RequestStatus, Store};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::*;

fn from_env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// xorshift64: enough to spread kill moments, and repeatable from its seed.
struct Moments(u64);

impl Moments {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// What the client was told, so what must stay true.
#[derive(Default, Clone)]
struct Told {
    /// Requests whose approval was answered 200.
    approved: Vec<i64>,
    /// Recordings an ingest answered with (HTTP 200, or the command's exit 0).
    recordings: Vec<String>,
    /// Share links answered 201: (recording, the link's token).
    links: Vec<(String, String)>,
    /// Answers a running service must not give (any other error is the kill).
    wrong: Vec<String>,
}

type Shared = Arc<Mutex<Told>>;

/// The video every session carries (copies of one real file, so every stored
/// recording must have its checksum).
struct Video {
    path: PathBuf,
    sha256: String,
    len: u64,
}

/// A Jibri session directory of `room` under `parent`, ready to be taken in.
fn session(parent: &Path, name: &str, video: &Video, started_at: i64) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..2 {
        let file = roomkeeper_testkit::jibri::file_name("lecture", started_at + 60 * i);
        std::fs::copy(&video.path, dir.join(file)).unwrap();
    }
    roomkeeper_testkit::jibri::write_metadata(&dir, &format!("{MEET}/lecture")).unwrap();
    dir
}

/// The oldest session still waiting under `parent` (one a kill interrupted is taken
/// again, as finalize.sh retries), or a new one.
fn next_session(parent: &Path, prefix: &str, counter: &mut usize, video: &Video) -> PathBuf {
    let mut waiting: Vec<PathBuf> = std::fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("metadata.json").exists())
        .collect();
    waiting.sort();
    if let Some(first) = waiting.into_iter().next() {
        return first;
    }
    *counter += 1;
    let now = roomkeeper_domain::Clock::default().now();
    session(
        parent,
        &format!("{prefix}-{:06}", *counter),
        video,
        // After the room was registered: a recording belongs to the room of its time.
        now,
    )
}

/// The service's answer when it is the `expected` one; `None` when the service was
/// killed meanwhile. Any other answer is written down as wrong (a running service must
/// not give it).
fn answered(
    sent: reqwest::Result<reqwest::Response>,
    expected: StatusCode,
    what: &str,
    told: &Shared,
) -> Option<reqwest::Response> {
    let answer = sent.ok()?;
    if answer.status() != expected {
        told.lock()
            .unwrap()
            .wrong
            .push(format!("{what}: {}", answer.status()));
        return None;
    }
    Some(answer)
}

async fn requesting(base: String, lecturer: String, root: String, cycle: usize, told: Shared) {
    let client = reqwest::Client::new();
    for i in 0.. {
        let Some(made) = answered(
            client
                .post(format!("{base}/api/v1/room-requests"))
                .bearer_auth(&lecturer)
                .json(&json!({"room": format!("c{cycle}-{i}"), "reason": "kill -9 test"}))
                .send()
                .await,
            StatusCode::CREATED,
            "request",
            &told,
        ) else {
            return;
        };
        let Ok(made) = made.json::<Value>().await else {
            return;
        };
        let id = made["id"].as_i64().unwrap();
        let Some(approved) = answered(
            client
                .post(format!("{base}/api/v1/room-requests/{id}/approve"))
                .bearer_auth(&root)
                .send()
                .await,
            StatusCode::OK,
            "approve",
            &told,
        ) else {
            return;
        };
        if approved.bytes().await.is_ok() {
            told.lock().unwrap().approved.push(id);
        }
    }
}

/// finalize.sh's upload: the session's files, then its removal after the 200.
async fn uploading(base: String, parent: PathBuf, video: Arc<Video>, told: Shared) {
    let client = reqwest::Client::new();
    let mut counter = 0;
    loop {
        let dir = next_session(&parent, "up", &mut counter, &video);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut form = reqwest::multipart::Form::new().text("session", name).part(
            "metadata",
            reqwest::multipart::Part::bytes(std::fs::read(dir.join("metadata.json")).unwrap()),
        );
        let mut videos: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
            .collect();
        videos.sort();
        for path in videos {
            let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
            form = form.part(
                "video",
                reqwest::multipart::Part::bytes(std::fs::read(&path).unwrap()).file_name(file_name),
            );
        }
        let Some(answer) = answered(
            client
                .post(format!("{base}/api/v1/recordings/ingest"))
                .bearer_auth(INGEST_TOKEN)
                .multipart(form)
                .send()
                .await,
            StatusCode::OK,
            "upload",
            &told,
        ) else {
            return;
        };
        let Ok(answer) = answer.json::<Value>().await else {
            return;
        };
        let ids: Vec<String> = answer["recordings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id.as_str().unwrap().to_owned())
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        told.lock().unwrap().recordings.extend(ids);
    }
}

/// `roomkeeper ingest DIR` from another filesystem than `recordings.dir` (so it copies,
/// through object_store's temporary files); killed with the service.
async fn ingesting(
    installation: Arc<Installation>,
    parent: PathBuf,
    video: Arc<Video>,
    told: Shared,
) {
    let mut counter = 0;
    loop {
        let dir = next_session(&parent, "cli", &mut counter, &video);
        let Ok(output) = tokio::process::Command::new(binary())
            .arg("--config")
            .arg(installation.dir().join("cli.toml"))
            .arg("ingest")
            .arg(&dir)
            .env_remove("ROOMKEEPER_CONFIG")
            .kill_on_drop(true)
            .output()
            .await
        else {
            return;
        };
        if !output.status.success() {
            told.lock().unwrap().wrong.push(format!(
                "roomkeeper ingest: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
            return;
        }
        let ids = String::from_utf8(output.stdout).unwrap();
        told.lock()
            .unwrap()
            .recordings
            .extend(ids.lines().map(|l| l.split(' ').next().unwrap().to_owned()));
    }
}

async fn sharing(base: String, lecturer: String, told: Shared, mut moments: Moments) {
    let client = reqwest::Client::new();
    loop {
        let recording = {
            let told = told.lock().unwrap();
            if told.recordings.is_empty() {
                None
            } else {
                let pick = moments.next(told.recordings.len() as u64) as usize;
                Some(told.recordings[pick].clone())
            }
        };
        let Some(recording) = recording else {
            // Nothing to share yet: the ingests are running beside.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let Some(made) = answered(
            client
                .post(format!("{base}/api/v1/recordings/{recording}/links"))
                .bearer_auth(&lecturer)
                .json(&json!({"expires_in_s": 86_400}))
                .send()
                .await,
            StatusCode::CREATED,
            "link",
            &told,
        ) else {
            return;
        };
        let Ok(made) = made.json::<Value>().await else {
            return;
        };
        let token = made["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        told.lock().unwrap().links.push((recording, token));
    }
}

/// SQLite's own checks of the file a kill left.
async fn integrity(url: &str) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(integrity, ["ok"]);
    let broken_references = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert!(broken_references.is_empty(), "foreign keys broken");
    db.close().await.unwrap();
}

/// Temporary files nobody is writing any more: none once the service is up again.
fn leftovers(recordings: &Path) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(recordings.join(".incoming"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    left.extend(
        std::fs::read_dir(recordings)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains('#'))
            .map(|e| e.path().display().to_string()),
    );
    left
}

/// Checks everything told so far against the database, the disk and (for what is new
/// since `checked`) the service's answers.
#[allow(clippy::too_many_arguments)]
async fn everything_told_is_true(
    served: &Served,
    store: &dyn Store,
    told: &Told,
    lecturer: &str,
    room: i64,
    video: &Video,
    recordings_dir: &Path,
    checked: &mut BTreeSet<String>,
) {
    let client = reqwest::Client::new();
    for id in &told.approved {
        let request = store.request(*id).await.unwrap().unwrap();
        assert_eq!(request.status, RequestStatus::Approved, "request {id}");
    }
    for id in &told.recordings {
        let recording = store.recording(id).await.unwrap().unwrap();
        assert_eq!(recording.state, RecordingState::Ready, "recording {id}");
        assert_eq!(recording.sha256, video.sha256, "recording {id}");
    }
    // What the room shows: every recording whole, the ones told among them.
    let listed = roomkeeper_testkit::json(
        client
            .get(served.url(&format!("/api/v1/rooms/{room}/recordings")))
            .bearer_auth(lecturer),
    )
    .await;
    let listed: BTreeSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &told.recordings {
        assert!(
            listed.contains(id),
            "recording {id} was told but is not listed"
        );
    }
    for id in &listed {
        let stored = std::fs::metadata(recordings_dir.join(id)).unwrap();
        assert_eq!(
            stored.len(),
            video.len,
            "recording {id} is shown half-stored"
        );
        if checked.insert(id.clone()) {
            let content = client
                .get(served.url(&format!("/api/v1/recordings/{id}/content")))
                .bearer_auth(lecturer)
                .send()
                .await
                .unwrap();
            assert_eq!(content.status(), StatusCode::OK);
            assert_eq!(sha256_hex(&content.bytes().await.unwrap()), video.sha256);
        }
    }
    for (recording, token) in &told.links {
        if checked.insert(format!("link {token}")) {
            let shared = client
                .get(served.url(&format!("/shared/{token}")))
                .send()
                .await
                .unwrap();
            assert_eq!(shared.status(), StatusCode::OK, "link to {recording}");
            assert_eq!(sha256_hex(&shared.bytes().await.unwrap()), video.sha256);
        } else {
            let link = store
                .share_link(&roomkeeper_auth::hash_token(token))
                .await
                .unwrap();
            assert!(link.is_some_and(|l| l.recording_id == *recording));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_told() {
    let mut steps = Steps::new();
    let cycles = from_env("FAULT_CYCLES").unwrap_or(20) as usize;
    let seed = from_env("FAULT_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    println!("kill -9 test: {cycles} cycles, FAULT_SEED={seed}");
    let mut moments = Moments(seed);

    steps.begin("An installation with requests, recordings from Jibri and share links coming in");
    let installation = Arc::new(Installation::new(""));
    installation.user("lecturer", false);
    installation.user("root", true);
    let recordings_dir = installation.recordings();
    let uploads = installation.dir().join("jibri-upload");
    std::fs::create_dir_all(&uploads).unwrap();
    // On another filesystem where there is one (/dev/shm), so the command copies.
    let other_fs = tempfile::Builder::new()
        .prefix("roomkeeper-faults-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap();
    let cli_sessions = other_fs.path().join("jibri");
    std::fs::create_dir_all(&cli_sessions).unwrap();
    let video_path = installation.dir().join("template.mp4");
    roomkeeper_testkit::jibri::make_video(&video_path, 2).unwrap();
    let bytes = std::fs::read(&video_path).unwrap();
    let video = Arc::new(Video {
        path: video_path,
        sha256: sha256_hex(&bytes),
        len: bytes.len() as u64,
    });

    let mut served = installation.serve("crash").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "lecture").await;

    let mut config = roomkeeper::config::Config::default();
    config.database.url = installation.sqlite_url();
    let store = roomkeeper::app::open_store(&config).await.unwrap();
    let told: Shared = Arc::default();
    let mut checked = BTreeSet::new();
    steps.begin("Kill -9 at random moments, and check after each restart");
    for cycle in 0..cycles {
        let mut work = JoinSet::new();
        work.spawn(requesting(
            served.base.clone(),
            lecturer.clone(),
            root.clone(),
            cycle,
            told.clone(),
        ));
        work.spawn(uploading(
            served.base.clone(),
            uploads.clone(),
            video.clone(),
            told.clone(),
        ));
        work.spawn(ingesting(
            installation.clone(),
            cli_sessions.clone(),
            video.clone(),
            told.clone(),
        ));
        work.spawn(sharing(
            served.base.clone(),
            lecturer.clone(),
            told.clone(),
            Moments(moments.next(u64::MAX) | 1),
        ));
        tokio::time::sleep(Duration::from_millis(moments.next(600))).await;
        served.kill().unwrap();
        // The command line dies with the service (kill_on_drop: SIGKILL).
        work.shutdown().await;

        integrity(&installation.sqlite_url()).await;
        served = installation.serve("crash").await;
        let left = leftovers(&recordings_dir);
        assert!(
            left.is_empty(),
            "cycle {cycle}: temporary files left: {left:?}"
        );
        let told_now = told.lock().unwrap().clone();
        assert!(
            told_now.wrong.is_empty(),
            "cycle {cycle}: {:?}",
            told_now.wrong
        );
        everything_told_is_true(
            &served,
            &*store,
            &told_now,
            &lecturer,
            room,
            &video,
            &recordings_dir,
            &mut checked,
        )
        .await;
        println!(
            "cycle {cycle}: so far {} approvals, {} recordings, {} links told",
            told_now.approved.len(),
            told_now.recordings.len(),
            told_now.links.len()
        );
    }
    steps.begin("Work was answered between the kills");
    let told = told.lock().unwrap();
    // Not a test that cannot fail by doing nothing: work was answered between kills.
    assert!(
        told.approved.len() >= cycles / 2,
        "{} approvals",
        told.approved.len()
    );
    assert!(!told.recordings.is_empty() && !told.links.is_empty());
}
