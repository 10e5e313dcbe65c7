//! Recording ids: 128 random bits, written as 32 lowercase hex digits. They are the only
//! way a request names a recording, so nothing a client sends ever becomes a path.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a recording id is 32 hexadecimal digits")]
pub struct RecordingIdError;

impl RecordingId {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Accepts upper case too (people paste ids), stores lower case.
    pub fn parse(text: &str) -> Result<Self, RecordingIdError> {
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(RecordingIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits_and_nothing_else() {
        let id = RecordingId::from_bytes([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(RecordingId::parse(&"AB".repeat(16)), Ok(id));
        for bad in [
            "",
            "../../etc/passwd",
            &"a".repeat(31),
            &"a".repeat(33),
            &format!("{}/", "a".repeat(31)),
            &format!("{}%2e", "a".repeat(29)),
            &"g".repeat(32),
        ] {
            assert_eq!(RecordingId::parse(bad), Err(RecordingIdError), "{bad}");
        }
    }
}

/// Where a recording is in its life: only `Ready` ones are ever shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingState {
    /// Its row exists, its file may not be stored yet.
    Storing,
    Ready,
    /// Being deleted: the row goes after the file.
    Deleting,
}

impl RecordingState {
    /// As the store keeps it (anything else is taken for `Storing`: never shown).
    pub fn from_stored(text: &str) -> Self {
        match text {
            "ready" => Self::Ready,
            "deleting" => Self::Deleting,
            _ => Self::Storing,
        }
    }
}

/// One video file of one Jibri session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recording {
    pub id: String,
    pub session: String,
    pub source_file: String,
    pub room_id: Option<i64>,
    /// The registered room it belongs to (`None` while unassigned).
    pub room_name: Option<crate::RoomName>,
    /// The room `metadata.json` named, canonical, when it could be read.
    pub meeting_room: Option<crate::RoomName>,
    pub meeting_url: String,
    pub started_at: i64,
    pub duration_ms: Option<i64>,
    pub size_bytes: i64,
    pub sha256: String,
    pub participants: Vec<String>,
    pub state: RecordingState,
    pub created_at: i64,
    /// The room's retention override, days.
    pub retention_days: Option<i64>,
}

/// A link that lets anyone holding it watch one recording until it expires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShareLink {
    pub id: i64,
    pub recording_id: String,
    pub created_by: crate::Username,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// A Jibri session directory that could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestProblem {
    pub session: String,
    pub location: String,
    pub problem: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    /// The Jibri machine whose spool holds the session, waiting to be delivered; `None`
    /// for a session this service could not take in.
    pub spooled_on: Option<String>,
}
