//! A simulated Jibri (the real one needs Chrome, a display and a whole Jitsi): it leaves a
//! session directory as `shared/JITSI.md` describes, `<uuid>/<room>_<timestamp>.mp4`
//! (real videos made by ffmpeg) and, last, `metadata.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, ensure};

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
/// restarted), and `metadata.json` naming `meeting_url` last.
pub fn record(
    recordings: &Path,
    session: &str,
    room: &str,
    meeting_url: &str,
    seconds: &[u32],
) -> anyhow::Result<Session> {
    let dir = recordings.join(session);
    std::fs::create_dir_all(&dir)?;
    let mut videos = Vec::new();
    for (i, length) in seconds.iter().enumerate() {
        let path = dir.join(format!("{room}_2026-11-28-10-{:02}-00.mp4", 15 + i));
        make_video(&path, *length)?;
        videos.push(path);
    }
    write_metadata(&dir, meeting_url)?;
    Ok(Session { dir, videos })
}

pub fn write_metadata(dir: &Path, meeting_url: &str) -> anyhow::Result<()> {
    let metadata = serde_json::json!({
        "meeting_url": meeting_url,
        "participants": [{"name": "Ada Lovelace"}, {"name": "Alan Turing"}],
    });
    std::fs::write(dir.join("metadata.json"), metadata.to_string())?;
    Ok(())
}
