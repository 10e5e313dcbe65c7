//! Which account a person logs in to when a directory or an OpenID provider vouched for
//! them. The OpenID flow around it is `oidc.rs`, password logins `login.rs`.

use roomkeeper_store::User;

use crate::{Error, UseCases};

// Which account a person logs in to, when a directory or an OpenID provider vouched for
// them (the login protocols themselves, cookies and the throttle, are the web's).

/// The account of someone the directory vouched for: made at their first login (no local
/// password), administrator exactly when the directory's admin group says so
/// (`admin_group`: `ldap.admin_group_dn` is set). A disabled account, or one with a local
/// password, stays shut (`Disabled`).
///
/// An account belongs to the identities linked to it: the directory logs in to an
/// account it made or that an administrator linked to it (`roomkeeper user
/// link-directory`), never to one of the same name an OpenID provider made. A guest
/// provider's user may have picked that name, and the directory's admin rights would
/// then reach his sessions (`NameTaken`).
pub async fn directory_account(
    uc: &UseCases,
    identity: &roomkeeper_auth::Identity,
    known: Option<User>,
    admin_group: bool,
) -> Result<User, SignInRefusal> {
    let user = match known {
        Some(user) => user,
        None => match uc.store.user_by_name(&identity.username).await? {
            Some(user) => user,
            None => {
                let new = roomkeeper_store::NewUser {
                    username: identity.username.clone(),
                    display_name: identity.display_name.clone(),
                    password_hash: None,
                    is_admin: identity.is_admin,
                    must_change_password: false,
                };
                let made = match uc.store.create_directory_user(&new, uc.clock.now()).await {
                    Ok(made) => made,
                    // Made by another login meanwhile: whose it is is decided below.
                    Err(roomkeeper_store::Error::Conflict(
                        roomkeeper_store::Conflict::UsernameTaken,
                    )) => uc
                        .store
                        .user_by_name(&identity.username)
                        .await?
                        .ok_or(SignInRefusal::Disabled)?,
                    Err(other) => return Err(other.into()),
                };
                if let Some(email) = &identity.email {
                    uc.store.set_email(made.id, Some(email)).await?;
                }
                made
            }
        },
    };
    if user.disabled || user.password_hash.is_some() {
        return Err(SignInRefusal::Disabled);
    }
    if !uc.store.is_directory_account(user.id).await? {
        tracing::warn!(username = %user.username, "a directory login for an account another sign-in made: refused until an administrator links it (roomkeeper user link-directory)");
        return Err(SignInRefusal::NameTaken(user.username.to_string()));
    }
    let admin = admin_group.then_some(identity.is_admin);
    refresh_account(uc, &user, identity.display_name.as_deref(), admin).await?;
    crate::groups::directory_sign_in(uc, &user, &identity.groups).await?;
    uc.store
        .user_by_id(user.id)
        .await?
        .ok_or(SignInRefusal::Disabled)
}

/// What a directory or provider says at each login wins: the name people see, and the
/// administrator flag when it decides that.
async fn refresh_account(
    uc: &UseCases,
    user: &User,
    display_name: Option<&str>,
    is_admin: Option<bool>,
) -> Result<(), Error> {
    if display_name.is_some() && user.display_name.as_deref() != display_name {
        uc.store.set_display_name(user.id, display_name).await?;
    }
    if let Some(is_admin) = is_admin.filter(|a| *a != user.is_admin) {
        uc.store.set_admin(user.id, is_admin).await?;
    }
    Ok(())
}

/// Why a person the provider vouched for still cannot log in here.
#[derive(Debug)]
pub enum SignInRefusal {
    /// Another account (one with a local password, or another person's) has the name.
    NameTaken(String),
    Disabled,
    Failed(Error),
}

impl<E: Into<Error>> From<E> for SignInRefusal {
    fn from(err: E) -> Self {
        SignInRefusal::Failed(err.into())
    }
}

/// The account of someone an OpenID provider vouched for. They are the pair (issuer,
/// subject), and the pair decides, never the username alone:
/// - a known pair logs in to its account (and follows a change of username at the
///   provider, unless another account has the new name);
/// - a new pair gets a new account of its username when the name is free;
/// - a new pair whose username an account here already has gets that account only when
///   the provider is `authoritative_usernames` and the account is linked to no identity
///   yet. Otherwise the login is refused and kept for an administrator
///   (top of `/admin/users`): a second subject calling itself `alice` is not alice.
///
/// A provider that is not authoritative for names (a guest provider: its users pick
/// them) cannot make an account of a name the directory has (`directory`, asked as its
/// service account): grants made by that name (co-owners, patterns) are meant for the
/// directory's person. The login is refused and kept for an administrator.
pub async fn oidc_account(
    uc: &UseCases,
    provider: &roomkeeper_auth::OidcProvider,
    identity: &roomkeeper_auth::OidcIdentity,
    directory: Option<&roomkeeper_auth::Ldap>,
) -> Result<User, SignInRefusal> {
    let store = &uc.store;
    let now = uc.clock.now();
    let name = &identity.username;
    let collision = || async {
        let collision = roomkeeper_store::OidcCollision {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            provider: provider.name().to_owned(),
            username: name.to_string(),
            first_seen: now,
            last_seen: now,
            attempts: 1,
        };
        match store.note_oidc_collision(&collision).await {
            Ok(()) => SignInRefusal::NameTaken(name.to_string()),
            Err(error) => SignInRefusal::Failed(error.into()),
        }
    };
    let user = match store
        .user_by_oidc(&identity.issuer, &identity.subject)
        .await?
    {
        Some(user) => {
            if user.username != name.as_str() {
                match store.rename_user(user.id, name).await {
                    Ok(()) => {
                        tracing::info!(from = %user.username, to = %name, "username changed at the provider")
                    }
                    Err(roomkeeper_store::Error::Conflict(
                        roomkeeper_store::Conflict::UsernameTaken,
                    )) => {
                        return Err(collision().await);
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            user
        }
        None => {
            let existing = match store.user_by_name(name).await? {
                Some(existing) => Some(existing),
                None if !provider.authoritative_usernames()
                    && directory_has(directory, name).await? =>
                {
                    return Err(collision().await);
                }
                None => match store
                    .create_user(
                        &roomkeeper_store::NewUser {
                            username: name.clone(),
                            display_name: identity.display_name.clone(),
                            password_hash: None,
                            is_admin: identity.is_admin.unwrap_or(false),
                            must_change_password: false,
                        },
                        now,
                    )
                    .await
                {
                    Ok(made) => {
                        store
                            .link_oidc(&identity.issuer, &identity.subject, made.id, now)
                            .await?;
                        return finish_oidc_account(uc, made, identity).await;
                    }
                    // Someone else took the name in between: treat it as existing.
                    Err(roomkeeper_store::Error::Conflict(
                        roomkeeper_store::Conflict::UsernameTaken,
                    )) => store.user_by_name(name).await?,
                    Err(other) => return Err(other.into()),
                },
            };
            let Some(existing) = existing else {
                return Err(SignInRefusal::Failed(Error::NotFound));
            };
            if !provider.authoritative_usernames()
                || !store
                    .link_oidc_if_unlinked(&identity.issuer, &identity.subject, existing.id, now)
                    .await?
            {
                return Err(collision().await);
            }
            tracing::info!(username = %existing.username, provider = %provider.name(), "existing account linked by username (authoritative provider)");
            existing
        }
    };
    finish_oidc_account(uc, user, identity).await
}

/// Whether the directory has (or may have) a person of this name. Unreachable, it
/// cannot say no: the login fails (and may be tried again) rather than hand the name out.
/// A directory that cannot be asked (`bind_dn_template`: no service account) may have
/// anyone: the name waits for an administrator, who may create the account.
async fn directory_has(
    directory: Option<&roomkeeper_auth::Ldap>,
    name: &roomkeeper_domain::Username,
) -> Result<bool, Error> {
    let Some(directory) = directory else {
        return Ok(false);
    };
    match directory.knows(name).await {
        Ok(Some(known)) => Ok(known),
        Ok(None) => {
            tracing::warn!(username = %name, "a new name from a provider that is not authoritative for names, and the directory cannot be asked (bind_dn_template): it waits for an administrator; with search_base Roomkeeper asks");
            Ok(true)
        }
        Err(error) => {
            tracing::error!(username = %name, %error, "the directory could not say whether it has this name");
            Err(Error::Internal(
                "The directory could not be asked whether this name is taken; try again later."
                    .into(),
            ))
        }
    }
}

async fn finish_oidc_account(
    uc: &UseCases,
    user: User,
    identity: &roomkeeper_auth::OidcIdentity,
) -> Result<User, SignInRefusal> {
    let store = &uc.store;
    if user.disabled {
        return Err(SignInRefusal::Disabled);
    }
    refresh_account(
        uc,
        &user,
        identity.display_name.as_deref(),
        identity.is_admin,
    )
    .await?;
    if identity.email.is_some() && user.email != identity.email {
        store.set_email(user.id, identity.email.as_deref()).await?;
    }
    Ok(store.user_by_id(user.id).await?.ok_or(Error::NotFound)?)
}
