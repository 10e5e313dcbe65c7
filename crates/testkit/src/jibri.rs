//! A simulated Jibri (the real one needs Chrome, a display and a whole Jitsi): it leaves a
//! session directory as `docs/JITSI-SETUP.md` describes, `<uuid>/<room>_<timestamp>.mp4`
//! (real videos made by ffmpeg) and, last, `metadata.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

/// A real MP4 that does not compress: one second of noise at `size` (`1280x720` gives
/// about 48 MiB, `320x240` about 4 MiB), lossless H.264. For tests that need a file
/// bigger than the sockets' buffers or than the space left on a disk.
pub fn make_big_video(path: &Path, size: &str) -> anyhow::Result<u64> {
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "testsrc2=size={size}:rate=25:duration=1,noise=alls=100:allf=t"
        ))
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-qp", "0"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(path)
        .status()
        .context("ffmpeg is needed to make test videos (scripts/test installs it)")?;
    ensure!(status.success(), "ffmpeg failed to make {}", path.display());
    Ok(std::fs::metadata(path)?.len())
}

/// A small real MP4 (test pattern and tone) of `seconds`, H.264/AAC as Jibri records.
pub fn make_video(path: &Path, seconds: u32) -> anyhow::Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc=size=160x120:rate=10:duration={seconds}"),
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=440:duration={seconds}"),
        ])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(path)
        .status()
        .context("ffmpeg is needed to make test videos (scripts/test installs it)")?;
    ensure!(status.success(), "ffmpeg failed to make {}", path.display());
    Ok(())
}

/// One recording session as Jibri leaves it.
pub struct Session {
    pub dir: PathBuf,
    pub videos: Vec<PathBuf>,
}

/// Writes a session of `room` (the Jitsi room name, as in the meeting URL) under
/// `recordings`, with one video per entry of `seconds` (more than one: ffmpeg was
/// restarted, a minute after the one before), and `metadata.json` naming `meeting_url`
/// last. The first video started at `started_at` (Unix seconds): tests take it from the
/// app's clock, so no fixture is older than the retention the app applies.
pub fn record(
    recordings: &Path,
    session: &str,
    room: &str,
    meeting_url: &str,
    started_at: i64,
    seconds: &[u32],
) -> anyhow::Result<Session> {
    let dir = recordings.join(session);
    std::fs::create_dir_all(&dir)?;
    let mut videos = Vec::new();
    for (i, length) in seconds.iter().enumerate() {
        let path = dir.join(file_name(room, started_at + 60 * i as i64));
        make_video(&path, *length)?;
        videos.push(path);
    }
    write_metadata(&dir, meeting_url)?;
    Ok(Session { dir, videos })
}

/// A start time an hour before `now`, on a whole minute (Jibri's names have seconds, the
/// download names only minutes).
pub fn an_hour_before(now: i64) -> i64 {
    (now - 3600) / 60 * 60
}

/// Jibri's name for a video of `room` started at `started_at`: `logic_2026-11-28-10-15-00.mp4`.
pub fn file_name(room: &str, started_at: i64) -> String {
    format!(
        "{room}_{}.mp4",
        format_time(started_at, "[year]-[month]-[day]-[hour]-[minute]-[second]")
    )
}

/// The name Roomkeeper offers for downloading it: `logic_2026-11-28_10-15.mp4`.
pub fn download_name(room: &str, started_at: i64) -> String {
    format!(
        "{room}_{}.mp4",
        format_time(started_at, "[year]-[month]-[day]_[hour]-[minute]")
    )
}

/// The API's form of a time: `2026-11-28T10:15:00Z`.
pub fn api_time(t: i64) -> String {
    format_time(t, "[year]-[month]-[day]T[hour]:[minute]:[second]Z")
}

fn format_time(t: i64, description: &str) -> String {
    let format = time::format_description::parse(description).expect("a valid description");
    time::OffsetDateTime::from_unix_timestamp(t)
        .expect("a time in range")
        .format(&format)
        .expect("formats")
}

pub fn write_metadata(dir: &Path, meeting_url: &str) -> anyhow::Result<()> {
    let metadata = serde_json::json!({
        "meeting_url": meeting_url,
        "participants": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
    });
    std::fs::write(dir.join("metadata.json"), metadata.to_string())?;
    Ok(())
}

/// `deploy/jibri/finalize.sh` as a Jibri machine runs it: its own spool, settings from
/// the environment only (never the machine's `/etc/jitsi/jibri/`), retries a second
/// apart. The uploader it leaves in the background is killed when this is dropped.
pub struct Finalize {
    spool: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// The script in this checkout.
pub const FINALIZE_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/jibri/finalize.sh"
);

impl Finalize {
    /// Delivering to `roomkeeper_url` with the token in `token_file`.
    pub fn new(roomkeeper_url: &str, token_file: &Path) -> anyhow::Result<Self> {
        let spool = tempfile::tempdir()?;
        let env = vec![
            ("ROOMKEEPER_URL".into(), roomkeeper_url.into()),
            (
                "ROOMKEEPER_INGEST_TOKEN_FILE".into(),
                token_file.display().to_string(),
            ),
            (
                "ROOMKEEPER_SPOOL".into(),
                spool.path().display().to_string(),
            ),
            ("ROOMKEEPER_FINALIZE_ENV".into(), "/nonexistent".into()),
            ("ROOMKEEPER_RETRY_SECONDS".into(), "1".into()),
            ("ROOMKEEPER_SPOOL_HOST".into(), "jibri-test".into()),
        ];
        Ok(Self { spool, env })
    }

    /// Another setting (`CURL_CA_BUNDLE`, `PATH`, ...).
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn spool(&self) -> &Path {
        self.spool.path()
    }

    fn command(&self) -> Command {
        let mut command = Command::new(FINALIZE_SCRIPT);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// What Jibri does when a recording stopped: the script with the session directory.
    /// Answers its output and how long Jibri waited for it.
    pub fn finalize(
        &self,
        session_dir: &Path,
    ) -> anyhow::Result<(std::process::Output, std::time::Duration)> {
        let started = std::time::Instant::now();
        let output = self.command().arg(session_dir).output()?;
        Ok((output, started.elapsed()))
    }

    /// The uploader run to its end in the foreground, as the timer unit runs it: after a
    /// running one finished, it delivers what is spooled; it returns once the spool is
    /// empty (or, for a test gone wrong, after `limit`).
    pub fn drain(&self, limit: std::time::Duration) -> anyhow::Result<std::process::Output> {
        let mut command = Command::new("timeout");
        command
            .arg(limit.as_secs().max(1).to_string())
            .arg(FINALIZE_SCRIPT)
            .arg("--drain")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        Ok(command.output()?)
    }

    /// Waits until the spool is empty and no uploader runs: what the background uploader
    /// does after a finalize, awaited (an error after `limit`, with its log).
    pub async fn delivered(&self, limit: std::time::Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self.spooled().is_empty() && self.uploader().is_none() {
                return Ok(());
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "still spooled after {limit:?}: {:?}; the uploader's log:\n{}",
                self.spooled(),
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The sessions the spool holds.
    pub fn spooled(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.spool.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The background uploader's process id while one runs (it is its process group's
    /// leader: killing the group takes its curl too).
    pub fn uploader(&self) -> Option<i32> {
        let lock = self.spool.path().join(".running");
        let free = Command::new("flock")
            .arg("-n")
            .arg(&lock)
            .arg("true")
            .status()
            .is_ok_and(|s| s.success());
        if free {
            return None;
        }
        std::fs::read_to_string(&lock).ok()?.trim().parse().ok()
    }

    /// Kills the background uploader and its children (as a reboot or an OOM kill would).
    pub fn kill_uploader(&self) -> bool {
        match self.uploader() {
            Some(pid) => send_signal(-pid, 9),
            None => false,
        }
    }

    /// The uploader's log (what it wrote while started by the script).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.spool.path().join(".uploader.log")).unwrap_or_default()
    }
}

/// `kill(pid, signal)` through the `kill` command: whether it succeeded.
fn send_signal(pid: i32, signal: i32) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Finalize {
    fn drop(&mut self) {
        self.kill_uploader();
    }
}

/// A real S3-compatible server: `s3s-fs` (installed with `cargo install` by `scripts/test`), which
/// checks AWS signatures, on a free loopback port, serving one bucket from a temporary
/// directory. Stopped (by its process id) when dropped.
pub struct S3Server {
    pub port: u16,
    pub bucket: String,
    dir: tempfile::TempDir,
    secret_file: PathBuf,
    child: std::process::Child,
}

pub const S3_ACCESS_KEY: &str = "roomkeeper-test";
const S3_SECRET_KEY: &str = "roomkeeper-test-secret-key";

impl S3Server {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let bucket = "recordings".to_owned();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join(&bucket))?;
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, S3_SECRET_KEY)?;
        let mut attempt = 1;
        let (port, child) = loop {
            let port = crate::listening::free_port()?;
            let mut child = Command::new("s3s-fs")
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY])
                .arg(&data)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("cannot start s3s-fs (scripts/test installs it with cargo install)")?;
            match crate::listening::wait_until_listening(&mut child, port, "s3s-fs").await {
                Ok(()) => break (port, child),
                Err(crate::listening::NotListening::Exited { .. })
                    if attempt < crate::listening::ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(other) => return Err(other.into()),
            }
        };
        let server = Self {
            port,
            bucket,
            dir,
            secret_file,
            child,
        };
        Ok(server)
    }

    /// Roomkeeper's `[recordings.s3]` for this server.
    pub fn config(&self) -> roomkeeper_recordings::S3Config {
        roomkeeper_recordings::S3Config {
            bucket: self.bucket.clone(),
            endpoint: format!("http://127.0.0.1:{}", self.port),
            region: "us-east-1".into(),
            access_key_id: S3_ACCESS_KEY.into(),
            secret_access_key_file: Some(self.secret_file.clone()),
            secret_access_key: Some(S3_SECRET_KEY.into()),
            path_style: true,
            allow_http: true,
        }
    }

    /// The objects in the bucket, as files on the server's disk.
    pub fn objects(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.path().join("data").join(&self.bucket)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
