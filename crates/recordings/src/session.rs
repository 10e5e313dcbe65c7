//! What a Jibri session directory says: `metadata.json` (which meeting), the video files
//! (one, or more after an ffmpeg restart) and their start times. See `docs/JITSI-SETUP.md`.

use std::path::{Path, PathBuf};

use roomkeeper_domain::{MeetingBase, RoomName};
use serde::Deserialize;

use crate::Error;

pub const METADATA: &str = "metadata.json";
/// What Jibri (ffmpeg) writes; anything else in the directory is left alone.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "webm", "mkv"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub meeting_url: String,
    /// The canonical room, when the URL is one of this installation's meeting links.
    pub room: Option<RoomName>,
    pub participants: Vec<String>,
}

#[derive(Deserialize)]
struct RawMetadata {
    meeting_url: Option<String>,
    #[serde(default)]
    participants: Vec<serde_json::Value>,
}

/// Parses `metadata.json`. The room comes from `meeting_url` through the very rules room
/// registration uses (`RoomName::parse`, tenants included), so a recording lands in the
/// room its owner registered whatever way the URL was typed.
pub fn parse_metadata(text: &str, bases: &[MeetingBase]) -> Result<Metadata, Error> {
    let raw: RawMetadata = serde_json::from_str(text)
        .map_err(|e| Error::Session(format!("{METADATA} is not valid JSON: {e}")))?;
    let meeting_url = raw
        .meeting_url
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| Error::Session(format!("{METADATA} has no meeting_url")))?;
    let room = RoomName::parse(meeting_url.trim(), bases).ok();
    // Jibri writes participants as objects from their presence; older versions wrote
    // none (jibri issue 283). Names are what people recognise.
    let participants = raw
        .participants
        .iter()
        .filter_map(|p| match p {
            serde_json::Value::String(name) => Some(name.clone()),
            serde_json::Value::Object(fields) => ["name", "displayName", "display_name", "id"]
                .iter()
                .find_map(|key| fields.get(*key).and_then(|v| v.as_str()))
                .map(str::to_owned),
            _ => None,
        })
        .filter(|name| !name.trim().is_empty())
        .collect();
    Ok(Metadata {
        meeting_url,
        room,
        participants,
    })
}

/// The session's name (its directory's), as Jibri made it: a UUID. Anything with path
/// characters is refused, since it names rows and staging directories.
pub fn session_name(dir: &Path) -> Result<String, Error> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Session(format!("{} has no usable name", dir.display())))?;
    check_session_name(name)?;
    Ok(name.to_owned())
}

pub fn check_session_name(name: &str) -> Result<(), Error> {
    let fine = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if fine {
        Ok(())
    } else {
        Err(Error::Session(format!(
            "{name:?} is not a Jibri session name (letters, digits, '-', '_', '.')"
        )))
    }
}

/// A video file's name as Jibri writes it, checked the same way (it becomes part of
/// download names and, for uploads, of a staging path).
pub fn check_file_name(name: &str) -> Result<(), Error> {
    let fine = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0']);
    if fine && is_video(name) {
        Ok(())
    } else {
        Err(Error::Session(format!("{name:?} is not a video file name")))
    }
}

pub fn is_video(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| VIDEO_EXTENSIONS.iter().any(|v| v.eq_ignore_ascii_case(ext)))
}

/// The video files of a session directory, by name. Only regular files count: a symlink
/// could point anywhere on this machine, so it is refused, not followed.
pub fn video_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Session(format!("cannot read {}: {e}", dir.display())))?;
    let mut videos = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::Session(format!("cannot read {}: {e}", dir.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_video(name) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| Error::Session(format!("cannot read {name}: {e}")))?;
        if kind.is_symlink() {
            return Err(Error::Session(format!(
                "{name} is a symbolic link; only files Jibri wrote are taken"
            )));
        }
        if kind.is_file() {
            check_file_name(name)?;
            videos.push(entry.path());
        }
    }
    videos.sort();
    Ok(videos)
}

/// When the recording started, from Jibri's file name `<room>_<yyyy-MM-dd-HH-mm-ss>.mp4`.
/// Jibri writes its local time; Jibri's images run on UTC, which is what we assume.
pub fn start_time_from_name(name: &str) -> Option<i64> {
    let stem = name.rsplit_once('.')?.0;
    let stamp = stem.rsplit_once('_')?.1;
    let format = time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]-[second]");
    time::PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases() -> Vec<MeetingBase> {
        vec![MeetingBase::parse("https://meet.example.org").expect("a base")]
    }

    #[test]
    fn metadata_names_the_canonical_room() {
        let text = r#"{"meeting_url": "https://meet.example.org/Logic", "participants": [
            {"name": "Ada"}, "Bob", {"id": "a1b2c3d4"}, 3, {"name": ""}]}"#;
        let metadata = parse_metadata(text, &bases()).expect("parses");
        assert_eq!(
            metadata.room.map(|r| r.to_string()).as_deref(),
            Some("logic")
        );
        assert_eq!(metadata.participants, ["Ada", "Bob", "a1b2c3d4"]);
        let tenant = parse_metadata(
            r#"{"meeting_url": "https://meet.example.org/physics/Lab"}"#,
            &bases(),
        )
        .expect("parses");
        assert_eq!(
            tenant.room.map(|r| r.to_string()).as_deref(),
            Some("physics/lab")
        );
        // Another installation's meeting: kept, but no room.
        let foreign =
            parse_metadata(r#"{"meeting_url": "https://other.org/x"}"#, &bases()).expect("parses");
        assert_eq!(foreign.room, None);
    }

    #[test]
    fn broken_metadata_says_what_is_wrong() {
        for (text, says) in [
            ("{", "not valid JSON"),
            ("{}", "no meeting_url"),
            (r#"{"meeting_url": " "}"#, "no meeting_url"),
        ] {
            let error = parse_metadata(text, &bases()).expect_err(text).to_string();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn jibri_file_names_give_the_start() {
        assert_eq!(
            start_time_from_name("logic_2026-11-28-10-15-00.mp4"),
            Some(1_795_860_900)
        );
        assert_eq!(
            start_time_from_name("my_room_2026-11-28-10-15-00.mp4"),
            Some(1_795_860_900)
        );
        assert_eq!(start_time_from_name("logic.mp4"), None);
    }

    #[test]
    fn names_with_path_characters_are_refused() {
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "ü"] {
            assert!(check_session_name(bad).is_err(), "{bad}");
        }
        check_session_name("0b7c5d7e-1f2a-4c3b-9d8e-7f6a5b4c3d2e").expect("a uuid");
        for bad in ["../x.mp4", "x.txt", ".mp4", "a/b.mp4"] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
        check_file_name("logic_2026-11-28-10-15-00.mp4").expect("Jibri's name");
    }
}
