//! The room guard's settings, and join codes ("Join as moderator").

use std::fmt;

/// Who may stay moderator in a guarded room's meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeratorGuard {
    /// Jitsi decides, as without Roomkeeper.
    #[default]
    Off,
    /// Jicofo's pick keeps moderator until an owner or co-owner joins through Roomkeeper;
    /// then everyone else loses it.
    UntilOwner,
    /// Only owners and co-owners who joined through Roomkeeper, and the people they made
    /// moderator through Roomkeeper, are moderators; Jicofo's picks lose it at once.
    Strict,
}

impl ModeratorGuard {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::UntilOwner => "until_owner",
            Self::Strict => "strict",
        }
    }

    pub fn parse(text: &str) -> Result<Self, GuardError> {
        match text {
            "off" => Ok(Self::Off),
            "until_owner" => Ok(Self::UntilOwner),
            "strict" => Ok(Self::Strict),
            _ => Err(GuardError::ModeratorGuard),
        }
    }
}

/// jitsi-meet's lobby for a room's meetings ("asking to join").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LobbyMode {
    /// Jitsi decides (its moderators may turn the lobby on), as without Roomkeeper.
    #[default]
    Off,
    /// On from the moment the meeting's room is created, before anyone is inside:
    /// nobody gets in before an owner, co-owner or admin admits them.
    Always,
    /// On from the room's creation until an owner or co-owner is in the meeting as
    /// moderator (through Roomkeeper), then off.
    UntilOwner,
}

impl LobbyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Always => "always",
            Self::UntilOwner => "until_owner",
        }
    }

    pub fn parse(text: &str) -> Result<Self, GuardError> {
        match text {
            "off" => Ok(Self::Off),
            "always" => Ok(Self::Always),
            "until_owner" => Ok(Self::UntilOwner),
            _ => Err(GuardError::Lobby),
        }
    }
}

/// A room's guard. The default guards nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct GuardSettings {
    /// A password set inside the meeting by anyone but an owner is removed at once, and
    /// that person loses moderator.
    pub password_guard: bool,
    pub moderator_guard: ModeratorGuard,
    /// Tell the owners when a meeting has run this many minutes without any of them.
    pub in_use_alert_minutes: Option<u32>,
    /// Absent in a request: off (scripts written before the lobby keep working).
    #[serde(default)]
    pub lobby: LobbyMode,
}

impl GuardSettings {
    /// A day: a meeting running longer than that without its owners is not a lecture.
    pub const MAX_ALERT_MINUTES: u32 = 24 * 60;

    /// The settings, if they make sense.
    pub fn checked(self) -> Result<Self, GuardError> {
        match self.in_use_alert_minutes {
            Some(minutes) if !(1..=Self::MAX_ALERT_MINUTES).contains(&minutes) => {
                Err(GuardError::AlertMinutes)
            }
            _ => Ok(self),
        }
    }

    /// Does the guard act on the meeting at all (the alert only watches)?
    pub fn acts(&self) -> bool {
        self.password_guard
            || self.moderator_guard != ModeratorGuard::Off
            || self.lobby != LobbyMode::Off
    }

    pub fn is_off(&self) -> bool {
        !self.acts() && self.in_use_alert_minutes.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("moderator_guard is one of off, until_owner, strict")]
    ModeratorGuard,
    #[error("lobby is one of off, always, until_owner")]
    Lobby,
    #[error("in_use_alert_minutes is a number of minutes from 1 to 1440, or null for no alert")]
    AlertMinutes,
    #[error("a join code is 10 letters and digits")]
    JoinCode,
}

/// A one-time code that makes whoever joins the meeting with it moderator, recorded as
/// the owner who asked for it. Ten characters from an alphabet without look-alikes
/// (about 49 bits); it travels in the display name as "(RK-CODE)", which the companion
/// module takes out before anyone else sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinCode(String);

impl JoinCode {
    pub const ALPHABET: &'static [u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    pub const LEN: usize = 10;

    /// A code from random bytes (one character per byte).
    pub fn from_random(bytes: [u8; Self::LEN]) -> Self {
        Self(
            bytes
                .iter()
                .map(|b| Self::ALPHABET[*b as usize % Self::ALPHABET.len()] as char)
                .collect(),
        )
    }

    /// Accepts lower case (a name may have been retyped), answers upper case.
    pub fn parse(text: &str) -> Result<Self, GuardError> {
        let upper = text.to_ascii_uppercase();
        if upper.len() == Self::LEN && upper.bytes().all(|b| Self::ALPHABET.contains(&b)) {
            Ok(Self(upper))
        } else {
            Err(GuardError::JoinCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The display name that carries the code: the person's name, then the code in the
    /// form the companion module looks for.
    pub fn display_name(&self, name: &str) -> String {
        format!("{name} (RK-{})", self.0)
    }
}

impl fmt::Display for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moderator_guard_names_round_trip() {
        for guard in [
            ModeratorGuard::Off,
            ModeratorGuard::UntilOwner,
            ModeratorGuard::Strict,
        ] {
            assert_eq!(ModeratorGuard::parse(guard.as_str()), Ok(guard));
        }
        assert_eq!(
            ModeratorGuard::parse("STRICT"),
            Err(GuardError::ModeratorGuard)
        );
    }

    #[test]
    fn alert_minutes_are_bounded() {
        let with = |minutes| GuardSettings {
            in_use_alert_minutes: minutes,
            ..GuardSettings::default()
        };
        assert!(with(None).checked().is_ok());
        assert!(with(Some(1)).checked().is_ok());
        assert!(with(Some(1440)).checked().is_ok());
        assert_eq!(with(Some(0)).checked(), Err(GuardError::AlertMinutes));
        assert_eq!(with(Some(1441)).checked(), Err(GuardError::AlertMinutes));
    }

    #[test]
    fn join_codes_parse_and_travel_in_a_name() {
        let code = JoinCode::from_random([0, 1, 2, 3, 4, 30, 31, 200, 255, 9]);
        assert_eq!(code.as_str().len(), JoinCode::LEN);
        assert_eq!(
            JoinCode::parse(&code.as_str().to_lowercase()),
            Ok(code.clone())
        );
        assert_eq!(
            code.display_name("Prof. Ada"),
            format!("Prof. Ada (RK-{code})")
        );
        for bad in ["", "ABCDEFGHJ", "ABCDEFGHJKM", "ABCDEFGH0K", "ABCDE FGHJ"] {
            assert_eq!(JoinCode::parse(bad), Err(GuardError::JoinCode), "{bad:?}");
        }
    }
}
