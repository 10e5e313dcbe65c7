//! Course rooms: groups as co-owners. Which groups a room names is the owner's choice;
//! who is in them is the directory's or the provider's word alone, read at each sign-in
//! and (directory groups) every `ldap.group_refresh_minutes`. A room's members come from
//! the store with the room, so every right a co-owner has follows from that one list.

use roomkeeper_domain::{GroupMember, GroupName, Refusal, Username};
use roomkeeper_store::{MembershipsAsked, User};

pub use roomkeeper_store::GroupPattern;

use crate::{Error, UseCases};

/// Whether groups can be named here: there is a directory or a sign-in provider.
pub fn possible(uc: &UseCases) -> bool {
    uc.login.ldap.is_some() || !uc.oidc.is_empty()
}

/// The groups as typed (one per line or separated by `;`: a DN has commas), checked and
/// in the form they are compared in. A bare name (no `=`, no `:`) is a directory
/// group's short name, looked up; a DN must name an existing directory group; a
/// provider's group must be of a configured provider.
pub async fn parse_groups<S: AsRef<str>>(
    uc: &UseCases,
    inputs: &[S],
) -> Result<Vec<GroupName>, Error> {
    let mut groups: Vec<GroupName> = Vec::new();
    for input in inputs {
        for piece in input
            .as_ref()
            .split([';', '\n', '\r'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let group = checked_group(uc, piece).await?;
            if !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    Ok(groups)
}

async fn checked_group(uc: &UseCases, typed: &str) -> Result<GroupName, Error> {
    let invalid = |message: String| Error::refused(Refusal::InvalidGroup, message);
    let short_name = !typed.contains('=') && !typed.contains(':');
    if !short_name {
        let parsed = GroupName::parse(typed).map_err(|e| invalid(e.to_string()))?;
        if let GroupName::Provider { provider, .. } = &parsed {
            if !uc.oidc.iter().any(|p| p.name() == provider) {
                return Err(invalid(format!(
                    "{typed:?}: there is no sign-in provider named {provider:?} here."
                )));
            }
            return Ok(parsed);
        }
    }
    // A directory group, by its DN or its short name: the directory says which.
    let Some(ldap) = &uc.login.ldap else {
        return Err(invalid(if short_name {
            format!(
                "{typed:?} is not a group: give a directory group by its DN or a sign-in group as PROVIDER:GROUP."
            )
        } else {
            format!("{typed:?}: this installation uses no directory (LDAP).")
        }));
    };
    let dn = ldap
        .find_group(typed)
        .await
        .map_err(|e| Error::DirectoryUnavailable(e.to_string()))?;
    match dn.as_deref().and_then(GroupName::directory) {
        Some(found) => Ok(found),
        None => Err(Error::refused(
            Refusal::UnknownGroup,
            format!("The directory has no group {typed:?}."),
        )),
    }
}

/// Gives a group a pattern: its members' requests for matching rooms approve themselves
/// ("everyone in the lecturers' group may register `course-*`"). The group is checked
/// with its source, and a directory group is read at once.
pub async fn add_group_pattern(
    uc: &UseCases,
    acting: &crate::Acting<'_>,
    group: &str,
    pattern: &str,
) -> Result<roomkeeper_store::GroupPattern, Error> {
    let group = checked_group(uc, group.trim()).await?;
    let pattern = crate::rooms::parse_pattern(pattern)?;
    let stamp = crate::Stamp::new(uc, acting);
    let known = uc.store.named_directory_groups().await?;
    let read = read_new_groups(uc, std::slice::from_ref(&group), &known).await?;
    let added = uc
        .store
        .add_group_pattern(&group, pattern.as_str(), &stamp.audit())
        .await?;
    keep_members(uc, &read).await?;
    Ok(added)
}

pub async fn delete_group_pattern(
    uc: &UseCases,
    acting: &crate::Acting<'_>,
    id: i64,
) -> Result<(), Error> {
    let stamp = crate::Stamp::new(uc, acting);
    if uc.store.delete_group_pattern(id, &stamp.audit()).await? {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

pub async fn group_patterns(uc: &UseCases) -> Result<Vec<roomkeeper_store::GroupPattern>, Error> {
    Ok(uc.store.group_patterns().await?)
}

/// Reads who is in each directory group rooms name and keeps it: whoever left a group
/// loses what it gave them now. A group the directory no longer has is emptied. A
/// directory that cannot be asked changes nothing (it is asked again next time): an
/// outage must not take a course's rooms away from its teachers. Returns how many groups
/// were read.
pub async fn refresh_directory_groups(uc: &UseCases) -> Result<usize, Error> {
    let Some(ldap) = &uc.login.ldap else {
        return Ok(0);
    };
    let groups = uc.store.named_directory_groups().await?;
    let mut read = 0;
    for group in &groups {
        match refresh_one(uc, ldap, group).await {
            Ok(()) => read += 1,
            Err(error) => {
                tracing::warn!(group = %group, %error, "the directory group could not be read; its members stay as they were");
            }
        }
    }
    Ok(read)
}

/// The members of directory groups about to be named (those of `groups` that are not
/// in `known`), read before anything is written: a group too large is refused, and a
/// directory that cannot be asked changes nothing. Keep them with
/// [`keep_members`] once the change is written.
pub(crate) async fn read_new_groups(
    uc: &UseCases,
    groups: &[GroupName],
    known: &[GroupName],
) -> Result<Vec<(GroupName, Vec<GroupMember>)>, Error> {
    let Some(ldap) = &uc.login.ldap else {
        return Ok(Vec::new());
    };
    let mut read = Vec::new();
    for group in groups
        .iter()
        .filter(|g| g.is_directory() && !known.contains(g))
    {
        read.push((group.clone(), members_of(ldap, group).await?));
    }
    Ok(read)
}

pub(crate) async fn keep_members(
    uc: &UseCases,
    read: &[(GroupName, Vec<GroupMember>)],
) -> Result<(), Error> {
    for (group, members) in read {
        uc.store
            .replace_group_members(group, members, uc.clock.now())
            .await?;
    }
    Ok(())
}

async fn members_of(
    ldap: &roomkeeper_auth::Ldap,
    group: &GroupName,
) -> Result<Vec<GroupMember>, Error> {
    let members = ldap
        .group_members(&group.to_string())
        .await
        .map_err(|e| match e {
            roomkeeper_auth::LdapError::GroupTooLarge(limit) => Error::refused(
                Refusal::InvalidGroup,
                format!(
                    "{group} has more than {limit} members: name the smaller groups in it instead."
                ),
            ),
            other => Error::DirectoryUnavailable(other.to_string()),
        })?;
    Ok(match members {
        Some(members) => members
            .into_iter()
            .map(|m| GroupMember {
                username: m.username,
                display_name: m.display_name,
            })
            .collect(),
        None => {
            tracing::warn!(group = %group, "a group named as co-owner is not in the directory (any more): nobody is in it");
            Vec::new()
        }
    })
}

async fn refresh_one(
    uc: &UseCases,
    ldap: &roomkeeper_auth::Ldap,
    group: &GroupName,
) -> Result<(), Error> {
    let members = members_of(ldap, group).await?;
    uc.store
        .replace_group_members(group, &members, uc.clock.now())
        .await?;
    Ok(())
}

/// What a directory sign-in said about `user`'s groups (`groups`: the DNs of every
/// group they are in), for the directory groups rooms name. Only where the directory
/// is searched for groups at sign-in (`ldap.group_search_base`): otherwise the regular
/// refresh alone decides.
pub async fn directory_sign_in(uc: &UseCases, user: &User, groups: &[String]) -> Result<(), Error> {
    let Some(ldap) = &uc.login.ldap else {
        return Ok(());
    };
    if !ldap.follows_groups_at_sign_in() {
        return Ok(());
    }
    let named = uc.store.named_directory_groups().await?;
    let member_of: Vec<GroupName> = groups
        .iter()
        .filter_map(|dn| GroupName::directory(dn))
        .filter(|g| named.contains(g))
        .collect();
    uc.store
        .set_memberships(
            &member(user),
            MembershipsAsked::Groups(&named),
            &member_of,
            uc.clock.now(),
        )
        .await?;
    Ok(())
}

/// What a provider's groups claim said at sign-in: `user` is in exactly these of
/// `provider`'s groups.
pub async fn provider_sign_in(
    uc: &UseCases,
    user: &User,
    provider: &str,
    groups: &[String],
) -> Result<(), Error> {
    let member_of: Vec<GroupName> = groups
        .iter()
        .map(|group| GroupName::Provider {
            provider: provider.to_owned(),
            group: group.clone(),
        })
        .collect();
    uc.store
        .set_memberships(
            &member(user),
            MembershipsAsked::Provider(provider),
            &member_of,
            uc.clock.now(),
        )
        .await?;
    Ok(())
}

fn member(user: &User) -> GroupMember {
    GroupMember {
        username: Username::from_stored(user.username.as_str()),
        display_name: user.display_name.clone(),
    }
}

/// The directory's regular refresh (`ldap.group_refresh_minutes`) until `stop`: every
/// instance looks each minute, and the store lets exactly one of them read the groups
/// in each period.
pub async fn run(uc: UseCases, stop: impl Future<Output = ()>) {
    let Some(ldap) = uc.login.ldap.clone() else {
        return;
    };
    let period = ldap.group_refresh().as_secs().max(60);
    let look = std::time::Duration::from_secs(60);
    let mut minutes = tokio::time::interval(look);
    minutes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = minutes.tick() => {}
        }
        let now = uc.clock.now();
        let period_number = now.div_euclid(i64::try_from(period).unwrap_or(i64::MAX));
        match uc
            .store
            .claim_daily_job("directory_groups", period_number)
            .await
        {
            Ok(true) => match refresh_directory_groups(&uc).await {
                Ok(read) => tracing::debug!(read, "directory groups refreshed"),
                Err(error) => tracing::warn!(%error, "directory groups not refreshed"),
            },
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "directory group refresh not claimed"),
        }
    }
}
