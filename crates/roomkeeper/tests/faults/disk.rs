//! The recordings disk full while a recording is stored: the ingest fails with the
//! reason, Jibri's files stay as they were, nothing is shown and nothing half-written is
//! left; once there is space again the next try succeeds. `recordings.dir` is a small
//! tmpfs of its own (mounting needs root, as CI runs; elsewhere the test says so and
//! stops).

use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jibri;
use serde_json::Value;

use super::*;

/// Unmounts the tmpfs however the test ends.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `None` when not root (mounting needs it); as root, a failed mount fails the test.
fn mount_small_disk(at: &Path, bytes: u64) -> Option<Mounted> {
    if !roomkeeper_testkit::running_as_root() {
        return None;
    }
    std::fs::create_dir_all(at).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
        .arg(at)
        .output()
        .unwrap();
    assert!(
        mounted.status.success(),
        "mount tmpfs: {}",
        String::from_utf8_lossy(&mounted.stderr)
    );
    Some(Mounted(at.to_owned()))
}

/// The files under `dir`, but the writers' lock file (`.lock`, empty, made by the first
/// write): what holds data.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .filter(|name| name != ".lock")
        .collect();
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            found.extend(walk(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_ingest_cleanly_and_the_next_try_succeeds() {
    let mut steps = Steps::new();
    const DISK: u64 = 32 << 20;
    let installation = Installation::new("");
    let recordings = installation.recordings();
    let Some(_mounted) = mount_small_disk(&recordings, DISK) else {
        println!("a_full_disk: cannot mount a tmpfs (not root): not run");
        return;
    };
    installation.user("lecturer", false);
    installation.user("root", true);
    let served = installation.serve("disk").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "lecture").await;

    let now = roomkeeper_domain::Clock::default().now();
    let session = installation.dir().join("jibri").join("session");
    std::fs::create_dir_all(&session).unwrap();
    // Recorded after the room was registered (a recording belongs to the room of its time).
    let file = session.join(jibri::file_name("lecture", now));
    // About 4 MiB: more than the room left on the small disk.
    jibri::make_big_video(&file, "320x240").unwrap();
    let content = std::fs::read(&file).unwrap();
    jibri::write_metadata(&session, &format!("{MEET}/lecture")).unwrap();
    let jibri_files = files_in(&session);

    steps.begin("Leave less room than the video needs");
    let filler = recordings.join("filler");
    let free = free_bytes(&recordings);
    std::fs::write(
        &filler,
        vec![1u8; (free - content.len() as u64 / 2) as usize],
    )
    .unwrap();
    let before = files_in(&recordings);

    steps.begin("The command line (Jibri's finalize script on the same machine)");
    let failed = Command::new(binary())
        .arg("--config")
        .arg(installation.dir().join("cli.toml"))
        .arg("ingest")
        .arg(&session)
        .env_remove("ROOMKEEPER_CONFIG")
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let reason = String::from_utf8_lossy(&failed.stderr);
    assert!(reason.contains("No space left"), "{reason}");
    // The HTTP upload (finalize.sh on the Jibri machine).
    let form = reqwest::multipart::Form::new()
        .text("session", "session")
        .part(
            "metadata",
            reqwest::multipart::Part::bytes(std::fs::read(session.join("metadata.json")).unwrap()),
        )
        .part(
            "video",
            reqwest::multipart::Part::bytes(content.clone())
                .file_name(file.file_name().unwrap().to_string_lossy().into_owned()),
        );
    let upload = reqwest::Client::new()
        .post(served.url("/api/v1/recordings/ingest"))
        .bearer_auth(INGEST_TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::INSUFFICIENT_STORAGE);
    let answer: Value = upload.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "storage_full", "{answer}");

    assert_eq!(files_in(&session), jibri_files, "Jibri's files stay");
    assert_eq!(std::fs::read(&file).unwrap(), content);
    let left = files_in(&recordings);
    assert_eq!(left, before, "nothing half-written left on the full disk");
    let listed = |served: &Served| {
        let (url, token) = (
            served.url(&format!("/api/v1/rooms/{room}/recordings")),
            lecturer.clone(),
        );
        async move {
            let list: Value =
                roomkeeper_testkit::json(reqwest::Client::new().get(url).bearer_auth(token)).await;
            list.as_array().unwrap().len()
        }
    };
    assert_eq!(listed(&served).await, 0, "nothing shown");

    steps.begin("Space again: the next try (the script's retry) takes it in");
    std::fs::remove_file(&filler).unwrap();
    let done = installation.cli(&["ingest", &session.display().to_string()], "");
    let id = String::from_utf8(done.stdout).unwrap();
    let id = id.split(' ').next().unwrap();
    assert_eq!(listed(&served).await, 1);
    let stored = reqwest::Client::new()
        .get(served.url(&format!("/api/v1/recordings/{id}/content")))
        .bearer_auth(&lecturer)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&stored), sha256_hex(&content));
    assert!(!session.exists(), "Jibri's files go once stored");
}

/// Bytes free on the filesystem of `path` (`df`, to need no libc here).
fn free_bytes(path: &Path) -> u64 {
    let df = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(df.stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
