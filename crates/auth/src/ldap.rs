//! Logging in against a directory (LDAP): bind with a DN made from a template, or find
//! the person with a service account first and then bind as them. What goes into a DN
//! or a filter is escaped (RFC 4514, RFC 4515), so a username cannot change the query.

use std::path::PathBuf;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, dn_escape, ldap_escape};
use roomkeeper_domain::Username;
use serde::{Deserialize, Serialize};

/// The `[login]` section: who may use a local password.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// With single sign-on in place, local passwords only for administrators (the way in
    /// when the directory is down), not for everyone.
    pub local_login_admins_only: bool,
}

/// The `[ldap]` section. Off while `url` is empty.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapConfig {
    /// `ldaps://ldap.example.org` or `ldap://ldap.example.org` with `starttls = true`.
    /// Plain `ldap://` without StartTLS is accepted only to this machine.
    pub url: String,
    pub starttls: bool,
    /// A PEM file with the CA that signed the directory's certificate, trusted besides
    /// the system's roots (an internal university CA).
    pub ca_file: Option<PathBuf>,
    /// Bind directly as `uid={username},ou=people,dc=example,dc=org`.
    pub bind_dn_template: Option<String>,
    /// Or search for the person under this base with this filter, as the service account.
    pub search_base: Option<String>,
    pub search_filter: String,
    pub service_bind_dn: Option<String>,
    pub service_password_file: Option<PathBuf>,
    #[serde(skip)]
    pub service_password: Option<String>,
    pub username_attribute: String,
    pub display_name_attribute: String,
    pub email_attribute: String,
    /// A group (`groupOfNames`, `member` attribute) whose members are administrators.
    pub admin_group_dn: Option<String>,
    pub timeout_seconds: u64,
    /// Where the directory's groups are: groups named as co-owners are looked up here
    /// by short name, and someone signing in is looked for in the groups under it
    /// (nested groups too). Without it, groups are followed only by the regular refresh.
    pub group_search_base: Option<String>,
    /// How the directory records who is in a group.
    pub group_membership: GroupMembership,
    /// The attribute a group's short name is (`cn`): "logic-teachers" finds
    /// `cn=logic-teachers,{group_search_base}`.
    pub group_name_attribute: String,
    /// How often the members of every group named as a co-owner are read again.
    pub group_refresh_minutes: u64,
    /// The most members a group co-owning a room may have: its members are read every
    /// few minutes, and all students co-owning a lecture would be a mistake.
    pub group_max_members: usize,
}

/// Where a directory keeps group membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum GroupMembership {
    /// The group lists its members' DNs in `member` (`groupOfNames`: OpenLDAP, Active
    /// Directory).
    #[default]
    #[serde(rename = "member")]
    Member,
    /// The group lists them in `uniqueMember` (`groupOfUniqueNames`).
    #[serde(rename = "uniqueMember")]
    UniqueMember,
    /// Each member lists its groups in `memberOf` (Active Directory; OpenLDAP with the
    /// memberof overlay). Groups inside groups are followed through the groups' own
    /// `memberOf`.
    #[serde(rename = "memberOf")]
    MemberOf,
}

impl GroupMembership {
    /// The attribute on a group that lists its members (`None`: members list groups).
    pub fn group_attribute(self) -> Option<&'static str> {
        match self {
            Self::Member => Some("member"),
            Self::UniqueMember => Some("uniqueMember"),
            Self::MemberOf => None,
        }
    }
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            starttls: false,
            ca_file: None,
            bind_dn_template: None,
            search_base: None,
            search_filter: "(uid={username})".into(),
            service_bind_dn: None,
            service_password_file: None,
            service_password: None,
            username_attribute: "uid".into(),
            display_name_attribute: "cn".into(),
            email_attribute: "mail".into(),
            admin_group_dn: None,
            timeout_seconds: 5,
            group_search_base: None,
            group_membership: GroupMembership::Member,
            group_name_attribute: "cn".into(),
            group_refresh_minutes: 15,
            group_max_members: 2000,
        }
    }
}

impl LdapConfig {
    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// What start-up refuses, with the key to fix.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !self.enabled() {
            return Ok(());
        }
        let url = self.url.trim();
        let plain = url.starts_with("ldap://");
        if !plain && !url.starts_with("ldaps://") {
            return Err((
                "ldap.url",
                format!("{url:?} must start with ldaps:// or ldap://"),
            ));
        }
        if plain && !self.starttls && !is_loopback(url) {
            return Err((
                "ldap.url",
                "plain ldap:// sends passwords in clear: use ldaps://, starttls = true, or a server on this machine".into(),
            ));
        }
        if let Some(ca_file) = &self.ca_file {
            if plain && !self.starttls {
                return Err((
                    "ldap.ca_file",
                    "is for TLS: use ldaps:// or starttls = true".into(),
                ));
            }
            roomkeeper_tls::client_config_with_ca(ca_file).map_err(|e| ("ldap.ca_file", e))?;
        }
        match (&self.bind_dn_template, &self.search_base) {
            (Some(t), _) if !t.contains("{username}") => {
                Err(("ldap.bind_dn_template", "must contain {username}".into()))
            }
            (None, None) => Err((
                "ldap.bind_dn_template",
                "or ldap.search_base is needed to find people".into(),
            )),
            (None, Some(_)) if !self.search_filter.contains("{username}") => {
                Err(("ldap.search_filter", "must contain {username}".into()))
            }
            _ if self.timeout_seconds == 0 => {
                Err(("ldap.timeout_seconds", "must be at least 1".into()))
            }
            _ if self.group_refresh_minutes == 0 => {
                Err(("ldap.group_refresh_minutes", "must be at least 1".into()))
            }
            _ => Ok(()),
        }
    }
}

fn is_loopback(url: &str) -> bool {
    let authority = url
        .trim_start_matches("ldap://")
        .split('/')
        .next()
        .unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    crate::is_loopback_host(host)
}

/// Who the directory says someone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: Username,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub is_admin: bool,
    /// The groups under `group_search_base` they are in, nested ones too, as their DNs
    /// (empty without `group_search_base`).
    pub groups: Vec<String>,
}

/// Why a directory login failed. Each is logged differently; the person is told the same
/// neutral sentence whichever it was, so the answer does not reveal who exists.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("the directory server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the directory server did not answer in time")]
    Timeout,
    #[error("wrong password")]
    WrongPassword,
    #[error("no such person in the directory")]
    NoSuchPerson,
    #[error("the directory refused: {0}")]
    Refused(String),
    /// A group with more members than a group co-owning a room may have.
    #[error("the group has more than {0} members")]
    GroupTooLarge(usize),
}

pub struct Ldap {
    pub(crate) config: LdapConfig,
    /// With `ca_file`: the system's roots plus that CA. Otherwise ldap3's own (system roots).
    tls: Option<std::sync::Arc<roomkeeper_tls::ClientConfig>>,
}

impl Ldap {
    /// `config` has passed [`LdapConfig::check`]; a CA file that became unreadable since
    /// is logged and the system's roots alone are used.
    pub fn new(config: LdapConfig) -> Self {
        let tls = config.ca_file.as_deref().and_then(|ca_file| {
            roomkeeper_tls::client_config_with_ca(ca_file)
                .map_err(|error| tracing::error!(%error, "ldap.ca_file left out"))
                .ok()
                .map(std::sync::Arc::new)
        });
        Self { config, tls }
    }

    /// Whether a sign-in reads which groups the person is in (`group_search_base`).
    pub fn follows_groups_at_sign_in(&self) -> bool {
        self.config.group_search_base.is_some()
    }

    /// How often the groups rooms name are read again.
    pub fn group_refresh(&self) -> Duration {
        Duration::from_secs(self.config.group_refresh_minutes.saturating_mul(60))
    }

    pub async fn authenticate(
        &self,
        username: &Username,
        password: &str,
    ) -> Result<Identity, LdapError> {
        // An empty password is an "unauthenticated bind" that many servers accept
        // (RFC 4513 §5.1.2): it must never count as a login.
        if password.is_empty() {
            return Err(LdapError::WrongPassword);
        }
        let limit = Duration::from_secs(self.config.timeout_seconds);
        tokio::time::timeout(limit, self.authenticate_inner(username, password))
            .await
            .unwrap_or(Err(LdapError::Timeout))
    }

    /// A connection to the directory (TLS as configured).
    pub(crate) async fn connect(&self) -> Result<ldap3::Ldap, LdapError> {
        let config = &self.config;
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(config.timeout_seconds))
            .set_starttls(config.starttls);
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone());
        }
        let (connection, ldap) = LdapConnAsync::with_settings(settings, config.url.trim())
            .await
            .map_err(|e| LdapError::Unreachable(e.to_string()))?;
        ldap3::drive!(connection);
        Ok(ldap)
    }

    /// The entries the search filter finds for `username`, searched as the service
    /// account (search mode only).
    async fn search_person(
        &self,
        ldap: &mut ldap3::Ldap,
        username: &Username,
    ) -> Result<Vec<ldap3::ResultEntry>, LdapError> {
        let config = &self.config;
        if let Some(dn) = &config.service_bind_dn {
            let service_password = config.service_password.as_deref().unwrap_or_default();
            ldap.simple_bind(dn, service_password)
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(|e| LdapError::Refused(format!("service account bind: {e}")))?;
        }
        let filter = config
            .search_filter
            .replace("{username}", &ldap_escape(username.as_str()));
        let (entries, _) = ldap
            .search(
                config.search_base.as_deref().unwrap_or_default(),
                Scope::Subtree,
                &filter,
                vec!["1.1"],
            )
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(|e| LdapError::Refused(e.to_string()))?;
        Ok(entries)
    }

    /// Whether the directory has a person of this name, asked as the service account.
    /// `None` with `bind_dn_template`: there is nobody to ask as but the person (an
    /// anonymous read proves nothing: a directory that hides entries from anonymous
    /// readers answers "no such object" for people it has, as Debian's slapd does).
    pub async fn knows(&self, username: &Username) -> Result<Option<bool>, LdapError> {
        if self.config.bind_dn_template.is_some() {
            return Ok(None);
        }
        let limit = Duration::from_secs(self.config.timeout_seconds);
        let asked = async {
            let mut ldap = self.connect().await?;
            let entries = self.search_person(&mut ldap, username).await?;
            let _ = ldap.unbind().await;
            Ok(Some(!entries.is_empty()))
        };
        tokio::time::timeout(limit, asked)
            .await
            .unwrap_or(Err(LdapError::Timeout))
    }

    async fn authenticate_inner(
        &self,
        username: &Username,
        password: &str,
    ) -> Result<Identity, LdapError> {
        let config = &self.config;
        let mut ldap = self.connect().await?;
        let refused = |e: ldap3::LdapError| LdapError::Refused(e.to_string());
        let user_dn = match &config.bind_dn_template {
            Some(template) => template.replace("{username}", &dn_escape(username.as_str())),
            None => {
                let entries = self.search_person(&mut ldap, username).await?;
                match entries.as_slice() {
                    [entry] => SearchEntry::construct(entry.clone()).dn,
                    [] => return Err(LdapError::NoSuchPerson),
                    _ => {
                        return Err(LdapError::Refused(format!(
                            "{} entries match {}; expected one",
                            entries.len(),
                            config
                                .search_filter
                                .replace("{username}", &ldap_escape(username.as_str()))
                        )));
                    }
                }
            }
        };
        let bound = ldap
            .simple_bind(&user_dn, password)
            .await
            .map_err(refused)?;
        match bound.rc {
            0 => {}
            49 => return Err(LdapError::WrongPassword), // invalidCredentials
            32 => return Err(LdapError::NoSuchPerson),  // noSuchObject
            _ => return Err(LdapError::Refused(bound.to_string())),
        }
        let attributes = [
            config.username_attribute.as_str(),
            config.display_name_attribute.as_str(),
            config.email_attribute.as_str(),
        ];
        let (entries, _) = ldap
            .search(
                &user_dn,
                Scope::Base,
                "(objectClass=*)",
                attributes.to_vec(),
            )
            .await
            .and_then(ldap3::SearchResult::success)
            .map_err(refused)?;
        let entry = entries
            .into_iter()
            .next()
            .map(SearchEntry::construct)
            .ok_or(LdapError::NoSuchPerson)?;
        let first = |attribute: &str| {
            entry
                .attrs
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
                .and_then(|(_, values)| values.first().cloned())
        };
        // The directory's spelling is the person's username, normalised as everywhere.
        let username = first(&config.username_attribute)
            .and_then(|name| Username::parse(&name).ok())
            .unwrap_or_else(|| username.clone());
        // Which groups they are in is read as the service account where there is one:
        // a directory that does not let people read its groups would otherwise answer
        // "none", and the sign-in would take away what the refresh gave.
        if let Some(dn) = &config.service_bind_dn {
            let service_password = config.service_password.as_deref().unwrap_or_default();
            ldap.simple_bind(dn, service_password)
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(|e| LdapError::Refused(format!("service account bind: {e}")))?;
        }
        let directly_admin = match &config.admin_group_dn {
            Some(group) => {
                let filter = format!("(member={})", ldap_escape(user_dn.as_str()));
                let (members, _) = ldap
                    .search(group, Scope::Base, &filter, vec!["1.1"])
                    .await
                    .and_then(ldap3::SearchResult::success)
                    .map_err(refused)?;
                !members.is_empty()
            }
            None => false,
        };
        let groups = self.groups_of(&mut ldap, &user_dn).await?;
        // In the admin group directly, or (with group_search_base) through a group in it.
        let admin = config
            .admin_group_dn
            .as_deref()
            .and_then(roomkeeper_domain::GroupName::directory);
        let is_admin = directly_admin
            || admin.is_some_and(|admin| {
                groups
                    .iter()
                    .any(|g| roomkeeper_domain::GroupName::directory(g).as_ref() == Some(&admin))
            });
        let _ = ldap.unbind().await;
        Ok(Identity {
            username,
            display_name: first(&config.display_name_attribute),
            email: first(&config.email_attribute),
            is_admin,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, starttls: bool) -> LdapConfig {
        LdapConfig {
            url: url.into(),
            starttls,
            bind_dn_template: Some("uid={username},ou=people,dc=example,dc=org".into()),
            ..LdapConfig::default()
        }
    }

    #[test]
    fn passwords_travel_encrypted_unless_the_server_is_here() {
        assert!(config("ldap://127.0.0.1:389", false).check().is_ok());
        assert!(config("ldap://localhost", false).check().is_ok());
        assert!(config("ldap://[::1]:389", false).check().is_ok());
        assert!(config("ldap://[2001:db8::1]:389", false).check().is_err());
        assert!(
            config("ldap://127.0.0.1.example.org", false)
                .check()
                .is_err()
        );
        assert!(config("ldaps://ldap.example.org", false).check().is_ok());
        assert!(config("ldap://ldap.example.org", true).check().is_ok());
        let (key, message) = config("ldap://ldap.example.org", false)
            .check()
            .unwrap_err();
        assert_eq!(key, "ldap.url");
        assert!(message.contains("clear"));
        assert!(config("http://x", false).check().is_err());
        assert!(LdapConfig::default().check().is_ok(), "off");
    }

    #[test]
    fn a_ca_file_is_for_tls_and_must_hold_a_certificate() {
        let mut plain = config("ldap://127.0.0.1:389", false);
        plain.ca_file = Some("/etc/hostname".into());
        assert_eq!(plain.check().unwrap_err().0, "ldap.ca_file");
        let mut tls = config("ldaps://ldap.example.org", false);
        tls.ca_file = Some("/nonexistent/ca.pem".into());
        let (key, message) = tls.check().unwrap_err();
        assert_eq!(key, "ldap.ca_file");
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
    }
}
