//! Groups whose members co-own a room (course rooms): a directory (LDAP) group named by
//! its DN, or a group an OpenID provider puts in its groups claim, named
//! `PROVIDER:GROUP`. Who is in a group is what the directory or the provider said last
//! (the store keeps it); a group name here says only which group.

use std::fmt;

use crate::Username;

/// The longest group name taken (a DN or `PROVIDER:GROUP`).
const MAX_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    #[error("A group name must not be empty.")]
    Empty,
    #[error("A group name may have at most {MAX_LEN} characters.")]
    TooLong,
    #[error(
        "{0:?} is not a group: give a directory group by its DN (cn=…,ou=groups,dc=…) or a sign-in group as PROVIDER:GROUP."
    )]
    NotAGroup(String),
}

/// Which group: a directory group or a provider's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(into = "String")]
pub enum GroupName {
    /// An LDAP group by its DN, as compared: attribute types and values lower-cased,
    /// no blanks around `,` and `=` (directories compare group names case-insensitively).
    Directory(String),
    /// A group in an OpenID provider's groups claim: the provider's configured name and
    /// the group exactly as the provider sends it (Keycloak sends paths like `/staff`).
    Provider { provider: String, group: String },
}

impl GroupName {
    /// `cn=Logic Teachers, ou=groups,dc=example,dc=org` or `uni:logic-2026`. A provider's
    /// name is lower-case letters, digits and `-`, as `[[oidc]] name` is; anything else
    /// must read as a DN.
    pub fn parse(input: &str) -> Result<Self, GroupNameError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(GroupNameError::Empty);
        }
        if text.chars().count() > MAX_LEN {
            return Err(GroupNameError::TooLong);
        }
        if let Some((provider, group)) = text.split_once(':') {
            let provider_like = !provider.is_empty()
                && provider
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if provider_like {
                let group = group.trim();
                if group.is_empty() {
                    return Err(GroupNameError::NotAGroup(text.to_owned()));
                }
                return Ok(Self::Provider {
                    provider: provider.to_owned(),
                    group: group.to_owned(),
                });
            }
        }
        Self::directory(text).ok_or_else(|| GroupNameError::NotAGroup(text.to_owned()))
    }

    /// A DN in the form it is compared in, or `None` when it is no DN: every
    /// comma-separated part must be `type=value` with a type of letters, digits and
    /// `-` (or a dotted OID). Escaped commas (`\,`) stay inside their value.
    pub fn directory(dn: &str) -> Option<Self> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut escaped = false;
        for c in dn.trim().chars() {
            match c {
                _ if escaped => {
                    current.push(c);
                    escaped = false;
                }
                '\\' => {
                    current.push(c);
                    escaped = true;
                }
                ',' => parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        parts.push(current);
        let mut canonical = Vec::with_capacity(parts.len());
        for part in parts {
            let (kind, value) = part.split_once('=')?;
            let (kind, value) = (kind.trim(), value.trim());
            let kind_ok = !kind.is_empty()
                && kind
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !kind_ok || value.is_empty() {
                return None;
            }
            canonical.push(format!("{}={}", kind.to_lowercase(), value.to_lowercase()));
        }
        Some(Self::Directory(canonical.join(",")))
    }

    /// As the store keeps it and the API shows it.
    pub fn as_stored(&self) -> String {
        self.to_string()
    }

    /// A name the store holds (written by [`GroupName::parse`] before).
    pub fn from_stored(text: &str) -> Self {
        Self::parse(text).unwrap_or_else(|_| Self::Directory(text.to_owned()))
    }

    /// `Some(provider)` for a provider's group.
    pub fn provider(&self) -> Option<&str> {
        match self {
            Self::Provider { provider, .. } => Some(provider),
            Self::Directory(_) => None,
        }
    }

    pub fn is_directory(&self) -> bool {
        matches!(self, Self::Directory(_))
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory(dn) => f.write_str(dn),
            Self::Provider { provider, group } => write!(f, "{provider}:{group}"),
        }
    }
}

impl From<GroupName> for String {
    fn from(name: GroupName) -> String {
        name.to_string()
    }
}

/// A group that co-owns a room, with its members as far as the directory or the
/// provider told (a provider tells only of those who signed in).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CoOwnerGroup {
    pub name: GroupName,
    pub members: Vec<GroupMember>,
}

/// Someone a group's source says is in it; they need not have signed in yet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    pub username: Username,
    pub display_name: Option<String>,
}

impl CoOwnerGroup {
    pub fn has(&self, username: &str) -> bool {
        self.members.iter().any(|m| m.username == *username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dn_is_compared_without_case_or_blanks() {
        let one = GroupName::parse(" CN=Logic Teachers, OU=groups ,dc=Example,dc=org").unwrap();
        let two = GroupName::parse("cn=logic teachers,ou=groups,dc=example,dc=org").unwrap();
        assert_eq!(one, two);
        assert_eq!(
            one.to_string(),
            "cn=logic teachers,ou=groups,dc=example,dc=org"
        );
        assert!(one.is_directory());
        let escaped = GroupName::parse(r"cn=Smith\, J.,ou=groups,dc=example,dc=org").unwrap();
        assert_eq!(
            escaped.to_string(),
            r"cn=smith\, j.,ou=groups,dc=example,dc=org"
        );
    }

    #[test]
    fn a_providers_group_keeps_its_spelling() {
        let group = GroupName::parse("uni:/Courses/Logic 2026").unwrap();
        assert_eq!(
            group,
            GroupName::Provider {
                provider: "uni".into(),
                group: "/Courses/Logic 2026".into()
            }
        );
        assert_eq!(group.provider(), Some("uni"));
        assert_eq!(group.to_string(), "uni:/Courses/Logic 2026");
        assert_eq!(GroupName::from_stored(&group.as_stored()), group);
    }

    #[test]
    fn what_is_neither_is_refused_with_both_forms_named() {
        for bad in [
            "",
            "  ",
            "logic-teachers",
            "uni:",
            "cn=",
            "=x",
            "cn=a,,dc=b",
            "c n=x",
        ] {
            let refused = GroupName::parse(bad);
            assert!(refused.is_err(), "{bad:?} was taken: {refused:?}");
        }
        let message = GroupName::parse("teachers").unwrap_err().to_string();
        assert!(
            message.contains("DN") && message.contains("PROVIDER:GROUP"),
            "{message}"
        );
        assert_eq!(
            GroupName::parse(&"x".repeat(600)),
            Err(GroupNameError::TooLong)
        );
        // A provider's name is what `[[oidc]] name` allows; an upper-case prefix is no
        // provider, and "Uni:x" is no DN either.
        assert!(GroupName::parse("Uni:x").is_err());
    }

    #[test]
    fn a_member_is_found_by_username() {
        let group = CoOwnerGroup {
            name: GroupName::parse("uni:staff").unwrap(),
            members: vec![GroupMember {
                username: Username::parse("ada").unwrap(),
                display_name: None,
            }],
        };
        assert!(group.has("ada"));
        assert!(!group.has("bob"));
    }
}
