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

/// A real S3-compatible server: `s3s-fs` (crates.io, installed by `scripts/test`), which
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
