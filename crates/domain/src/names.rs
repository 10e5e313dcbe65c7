use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("A username must not be empty.")]
    EmptyUsername,
    #[error("A username may have at most {max} characters.")]
    UsernameTooLong { max: usize },
    #[error(
        "A username may contain only letters a-z, digits and the characters . _ - @ (found {found:?})."
    )]
    UsernameCharacter { found: char },
    #[error("A password needs at least {min} characters.")]
    PasswordTooShort { min: usize },
    #[error("A password may have at most {max} characters.")]
    PasswordTooLong { max: usize },
}

/// A username as Roomkeeper compares it: trimmed and lower-cased, so `Alice`, `alice`
/// and ` alice ` are one person in co-owner lists, patterns and ownership.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let name = input.trim().to_lowercase();
        if name.is_empty() {
            return Err(ParseError::EmptyUsername);
        }
        if name.chars().count() > Self::MAX_LEN {
            return Err(ParseError::UsernameTooLong { max: Self::MAX_LEN });
        }
        // Usernames end up in XMPP-adjacent places, audit lines and URLs; a small
        // alphabet keeps them unambiguous everywhere.
        if let Some(found) = name
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-@".contains(*c)))
        {
            return Err(ParseError::UsernameCharacter { found });
        }
        Ok(Self(name))
    }

    /// A name as the store holds it: [`Username::parse`], or, for a name an earlier
    /// version accepted and this one refuses, the name as it is, so that what it owns
    /// stays its own.
    pub fn from_stored(name: &str) -> Self {
        Self::parse(name).unwrap_or_else(|_| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Username {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for Username {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

/// Read as the text it is (never built from one: that is [`Username::parse`]).
impl std::ops::Deref for Username {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for Username {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Username::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A password someone chose, checked against the length rules before it is hashed.
/// Length is the rule NIST SP 800-63B and OWASP recommend; composition rules are not.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 1024;

    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let len = input.chars().count();
        if len < Self::MIN_LEN {
            return Err(ParseError::PasswordTooShort { min: Self::MIN_LEN });
        }
        if len > Self::MAX_LEN {
            return Err(ParseError::PasswordTooLong { max: Self::MAX_LEN });
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_one_person_whatever_the_case_and_spaces() {
        for raw in ["Alice", "alice", " alice ", "ALICE\t"] {
            assert_eq!(Username::parse(raw).map(|u| u.0), Ok("alice".to_owned()));
        }
    }

    #[test]
    fn usernames_refuse_what_is_not_a_name() {
        assert_eq!(Username::parse("  "), Err(ParseError::EmptyUsername));
        assert_eq!(
            Username::parse("a b"),
            Err(ParseError::UsernameCharacter { found: ' ' })
        );
        assert_eq!(
            Username::parse("bob/../x"),
            Err(ParseError::UsernameCharacter { found: '/' })
        );
        assert!(Username::parse(&"x".repeat(65)).is_err());
        assert!(Username::parse("first.last@uni-x.de").is_ok());
    }

    #[test]
    fn passwords_have_a_minimum_and_maximum_length() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("twelve chars").is_ok());
        assert!(NewPassword::parse(&"x".repeat(1025)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("a secret password").ok()),
            "Some(NewPassword(***))"
        );
    }
}
