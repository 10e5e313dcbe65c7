//! Directory groups for course rooms: who is in a group (groups inside it followed), and
//! which groups someone is in. Whatever goes into a filter is escaped (RFC 4515).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ldap3::{Scope, SearchEntry, ldap_escape};
use roomkeeper_domain::Username;

use crate::ldap::{GroupMembership, Ldap, LdapError};

/// How deep groups inside groups are followed; a loop (A in B in A) stops earlier,
/// since no group is read twice.
const MAX_DEPTH: usize = 10;
/// The most groups one expansion reads: a directory that nests everything into
/// everything is cut off here rather than read whole every few minutes.
const MAX_GROUPS: usize = 500;
/// Object classes that make an entry a group (and not a person) in a member list.
const GROUP_CLASSES: [&str; 4] = ["groupofnames", "groupofuniquenames", "group", "posixgroup"];
/// Only entries of these classes are groups when a group is named.
const IS_GROUP: &str = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)\
    (objectClass=group)(objectClass=posixGroup))";

/// Someone the directory lists in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryMember {
    pub username: Username,
    pub display_name: Option<String>,
}

/// The values of `attribute` in an entry (attribute names compare without case).
fn values<'a>(entry: &'a SearchEntry, attribute: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .map_or(&[], |(_, values)| values.as_slice())
}

fn refused(error: &ldap3::LdapError) -> LdapError {
    LdapError::Refused(error.to_string())
}

impl Ldap {
    /// Entries `filter` finds; a base that does not exist finds nothing (rather than
    /// failing: a group deleted in the directory simply has no members).
    async fn entries(
        &self,
        ldap: &mut ldap3::Ldap,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: Vec<&str>,
    ) -> Result<Vec<SearchEntry>, LdapError> {
        let ldap3::SearchResult(entries, result) = ldap
            .search(base, scope, filter, attributes)
            .await
            .map_err(|e| refused(&e))?;
        match result.rc {
            0 => Ok(entries.into_iter().map(SearchEntry::construct).collect()),
            32 => Ok(Vec::new()), // noSuchObject
            _ => Err(LdapError::Refused(result.to_string())),
        }
    }

    /// A connection bound as the service account (or anonymous without one), for
    /// reading groups outside anyone's sign-in.
    async fn service_connection(&self) -> Result<ldap3::Ldap, LdapError> {
        let mut ldap = self.connect().await?;
        if let Some(dn) = &self.config.service_bind_dn {
            let password = self.config.service_password.as_deref().unwrap_or_default();
            ldap.simple_bind(dn, password)
                .await
                .and_then(ldap3::LdapResult::success)
                .map_err(|e| LdapError::Refused(format!("service account bind: {e}")))?;
        }
        Ok(ldap)
    }

    async fn within_time<T>(
        &self,
        work: impl Future<Output = Result<T, LdapError>>,
        factor: u32,
    ) -> Result<T, LdapError> {
        let limit = Duration::from_secs(self.config.timeout_seconds) * factor;
        tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(LdapError::Timeout))
    }

    /// The DN of the group `name` means: a DN that names an existing entry, or a short
    /// name (`group_name_attribute`) found under `group_search_base`. `None`: the
    /// directory has no such group (or several of that short name).
    pub async fn find_group(&self, name: &str) -> Result<Option<String>, LdapError> {
        self.within_time(
            async {
                let mut ldap = self.service_connection().await?;
                let found = if name.contains('=') {
                    self.entries(&mut ldap, name, Scope::Base, IS_GROUP, vec!["1.1"])
                        .await?
                } else {
                    let Some(base) = self.config.group_search_base.as_deref() else {
                        return Ok(None);
                    };
                    let filter = format!(
                        "(&({}={}){IS_GROUP})",
                        self.config.group_name_attribute,
                        ldap_escape(name)
                    );
                    self.entries(&mut ldap, base, Scope::Subtree, &filter, vec!["1.1"])
                        .await?
                };
                let _ = ldap.unbind().await;
                Ok(match found.as_slice() {
                    [one] => Some(one.dn.clone()),
                    _ => None,
                })
            },
            1,
        )
        .await
    }

    /// Everyone in the group, through the groups inside it too, read as the service
    /// account. `None`: the directory has no such group. More than
    /// `group_max_members`: `GroupTooLarge`.
    pub async fn group_members(
        &self,
        group_dn: &str,
    ) -> Result<Option<Vec<DirectoryMember>>, LdapError> {
        self.within_time(
            async {
                let mut ldap = self.service_connection().await?;
                let members = self.expand(&mut ldap, group_dn).await;
                let _ = ldap.unbind().await;
                members
            },
            // A large group is many reads.
            6,
        )
        .await
    }

    async fn expand(
        &self,
        ldap: &mut ldap3::Ldap,
        group_dn: &str,
    ) -> Result<Option<Vec<DirectoryMember>>, LdapError> {
        let exists = self
            .entries(ldap, group_dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .await?;
        if exists.is_empty() {
            return Ok(None);
        }
        let mut members = BTreeMap::new();
        let mut seen = BTreeSet::from([group_dn.to_lowercase()]);
        let mut level = vec![group_dn.to_owned()];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for group in &level {
                let (people, groups) = match self.config.group_membership.group_attribute() {
                    Some(attribute) => self.listed_in(ldap, group, attribute).await?,
                    None => self.listing(ldap, group).await?,
                };
                for person in people {
                    if let Some(member) = self.member(&person) {
                        members.entry(member.username.clone()).or_insert(member);
                    }
                }
                if members.len() > self.config.group_max_members {
                    return Err(LdapError::GroupTooLarge(self.config.group_max_members));
                }
                for dn in groups {
                    if seen.len() < MAX_GROUPS && seen.insert(dn.to_lowercase()) {
                        next.push(dn);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Ok(Some(members.into_values().collect()))
    }

    /// `member`/`uniqueMember` directories: the group's entry lists DNs; each is read to
    /// tell people from groups. (people, groups)
    async fn listed_in(
        &self,
        ldap: &mut ldap3::Ldap,
        group: &str,
        attribute: &str,
    ) -> Result<(Vec<SearchEntry>, Vec<String>), LdapError> {
        let config = &self.config;
        let entry = self
            .entries(ldap, group, Scope::Base, "(objectClass=*)", vec![attribute])
            .await?;
        let listed: Vec<String> = entry
            .first()
            .map(|e| values(e, attribute).to_vec())
            .unwrap_or_default();
        // Not read one by one when there are more than a group may have anyway.
        if listed.len() > self.config.group_max_members {
            return Err(LdapError::GroupTooLarge(self.config.group_max_members));
        }
        let (mut people, mut groups) = (Vec::new(), Vec::new());
        for dn in listed {
            let attributes = vec![
                config.username_attribute.as_str(),
                config.display_name_attribute.as_str(),
                "objectClass",
            ];
            let Some(entry) = self
                .entries(ldap, &dn, Scope::Base, "(objectClass=*)", attributes)
                .await?
                .pop()
            else {
                continue; // a member DN that no longer exists
            };
            let is_group = values(&entry, "objectClass")
                .iter()
                .any(|class| GROUP_CLASSES.contains(&class.to_lowercase().as_str()));
            if is_group {
                groups.push(entry.dn);
            } else {
                people.push(entry);
            }
        }
        Ok((people, groups))
    }

    /// `memberOf` directories: people and groups that say they are in the group.
    async fn listing(
        &self,
        ldap: &mut ldap3::Ldap,
        group: &str,
    ) -> Result<(Vec<SearchEntry>, Vec<String>), LdapError> {
        let config = &self.config;
        let filter = format!("(memberOf={})", ldap_escape(group));
        let people_base = config
            .search_base
            .as_deref()
            .or(config.group_search_base.as_deref())
            .unwrap_or_default();
        let attributes = vec![
            config.username_attribute.as_str(),
            config.display_name_attribute.as_str(),
            "objectClass",
        ];
        let mut people = Vec::new();
        let mut groups = Vec::new();
        for entry in self
            .entries(ldap, people_base, Scope::Subtree, &filter, attributes)
            .await?
        {
            let is_group = values(&entry, "objectClass")
                .iter()
                .any(|class| GROUP_CLASSES.contains(&class.to_lowercase().as_str()));
            if is_group {
                groups.push(entry.dn);
            } else {
                people.push(entry);
            }
        }
        if let Some(group_base) = config.group_search_base.as_deref() {
            if Some(group_base) != config.search_base.as_deref() {
                for entry in self
                    .entries(ldap, group_base, Scope::Subtree, &filter, vec!["1.1"])
                    .await?
                {
                    if !groups.contains(&entry.dn) {
                        groups.push(entry.dn);
                    }
                }
            }
        }
        Ok((people, groups))
    }

    /// A person's entry as a member: their username (the directory's spelling,
    /// normalised), or nothing for an entry without a usable one.
    fn member(&self, entry: &SearchEntry) -> Option<DirectoryMember> {
        let config = &self.config;
        let username = values(entry, &config.username_attribute)
            .first()
            .and_then(|name| Username::parse(name).ok())?;
        Some(DirectoryMember {
            username,
            display_name: values(entry, &config.display_name_attribute)
                .first()
                .cloned(),
        })
    }

    /// The groups under `group_search_base` that `user_dn` is in, directly or through
    /// groups inside groups, as DNs. Read on `ldap` as it is bound (the person signing
    /// in). Empty without `group_search_base`.
    pub(crate) async fn groups_of(
        &self,
        ldap: &mut ldap3::Ldap,
        user_dn: &str,
    ) -> Result<Vec<String>, LdapError> {
        let config = &self.config;
        let Some(base) = config.group_search_base.as_deref() else {
            return Ok(Vec::new());
        };
        let mut found: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut level = vec![user_dn.to_owned()];
        for _ in 0..MAX_DEPTH {
            let mut next = Vec::new();
            for dn in &level {
                let groups: Vec<String> = match config.group_membership {
                    GroupMembership::MemberOf => self
                        .entries(ldap, dn, Scope::Base, "(objectClass=*)", vec!["memberOf"])
                        .await?
                        .first()
                        .map(|e| values(e, "memberOf").to_vec())
                        .unwrap_or_default(),
                    other => {
                        let attribute = other.group_attribute().unwrap_or("member");
                        let filter = format!("({attribute}={})", ldap_escape(dn));
                        self.entries(ldap, base, Scope::Subtree, &filter, vec!["1.1"])
                            .await?
                            .into_iter()
                            .map(|e| e.dn)
                            .collect()
                    }
                };
                for group in groups {
                    if found.len() < MAX_GROUPS && seen.insert(group.to_lowercase()) {
                        found.push(group.clone());
                        next.push(group);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        Ok(found)
    }
}
