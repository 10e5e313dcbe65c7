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
