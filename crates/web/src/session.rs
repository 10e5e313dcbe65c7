//! Logging in and out. Sessions are rows in the database keyed by the hash of a random
//! cookie value, so they survive restarts and work across instances. A session is only
//! ever created at a successful login, so every login gets a new id and an attacker
//! cannot plant one beforehand (session fixation).

use std::net::IpAddr;

use axum_extra::extract::cookie::{Cookie, SameSite};
use roomkeeper_auth::{PasswordHasher, SecretToken, hash_token};
use roomkeeper_domain::Username;
use roomkeeper_store::User;

use crate::{AppState, Error, HttpConfig};

pub fn cookie_name(http: &HttpConfig) -> &'static str {
    // The __Host- prefix makes browsers refuse the cookie unless it is Secure, has
    // Path=/ and no Domain: a sibling subdomain cannot overwrite it. Only over https.
    if http.is_https() {
        "__Host-roomkeeper_session"
    } else {
        "roomkeeper_session"
    }
}

fn session_cookie(state: &AppState, value: String, max_age_s: i64) -> Cookie<'static> {
    private_cookie(&state.http, cookie_name(&state.http), value, max_age_s)
}

/// A cookie scripts cannot read, sent over https only when we are served so, and kept
/// from cross-site subrequests (Lax: a top-level link or redirect to us still carries it,
/// which logins coming back from an identity provider need).
pub(crate) fn private_cookie(
    http: &HttpConfig,
    name: &'static str,
    value: String,
    max_age_s: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(http.is_https())
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_s))
        .build()
}

/// Checks the password (after the throttle) and starts a session.
/// Every failure looks the same from outside: unknown user, disabled user, wrong password.
pub async fn log_in(
    state: &AppState,
    username: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<(User, Cookie<'static>), Error> {
    let now = state.clock.now();
    // No username is this long: refused before it is lower-cased, counted or stored.
    if username.len() > 4 * Username::MAX_LEN {
        return Err(Error::WrongCredentials);
    }
    let throttle_name = username.trim().to_lowercase();
    if let Err(throttled) = state.throttle.admit(&throttle_name, address, now).await? {
        tracing::warn!(username = %throttle_name, ?address, "login throttled");
        return Err(Error::Throttled {
            retry_after_s: throttled.retry_after_s,
        });
    }
    let user = match Username::parse(username) {
        Ok(name) => state.store.user_by_name(&name).await?,
        Err(_) => None,
    };
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| u.password_hash.clone());
    // Accounts with a local password log in locally; everyone else through the directory
    // when one is configured.
    let directory = match (&state.ldap, &user, Username::parse(username)) {
        (Some(ldap), None, Ok(name)) => Some((ldap, name)),
        (Some(ldap), Some(u), Ok(name)) if u.password_hash.is_none() => Some((ldap, name)),
        _ => None,
    };
    if let Some((ldap, name)) = directory {
        return match ldap.authenticate(&name, &password).await {
            Ok(identity) => {
                let user = directory_user(state, &identity, user).await?;
                state.throttle.record_success(&name, address).await?;
                let cookie = start_session(state, &user).await?;
                tracing::info!(username = %user.username, "logged in through LDAP");
                Ok((user, cookie))
            }
            Err(error) => {
                // Different log lines for operators, one answer for the person.
                match &error {
                    roomkeeper_auth::LdapError::Unreachable(_)
                    | roomkeeper_auth::LdapError::Timeout
                    | roomkeeper_auth::LdapError::Refused(_) => {
                        tracing::error!(username = %throttle_name, %error, "LDAP login impossible");
                    }
                    _ => {
                        tracing::info!(username = %throttle_name, ?address, %error, "LDAP login failed")
                    }
                }
                Err(Error::WrongCredentials)
            }
        };
    }
    let verified = match PasswordHasher::verify(password, hash).await {
        Ok(verified) => verified,
        Err(busy) => {
            state.throttle.forgive(&throttle_name, address).await?;
            tracing::warn!(username = %throttle_name, ?address, "login not checked: every password check slot is busy");
            return Err(busy.into());
        }
    };
    match user {
        Some(user) if verified && state.local_login_admins_only && !user.is_admin => {
            // The password was right, so saying why reveals nothing new.
            tracing::info!(username = %user.username, "local login refused: admins only");
            Err(Error::invalid(
                "local_login_off",
                "Local passwords are turned off here: log in with your university account.",
            ))
        }
        Some(user) if verified => {
            if let Ok(name) = Username::parse(&user.username) {
                state.throttle.record_success(&name, address).await?;
            }
            let cookie = start_session(state, &user).await?;
            tracing::info!(username = %user.username, "logged in");
            Ok((user, cookie))
        }
        _ => {
            tracing::info!(username = %throttle_name, ?address, "login failed");
            Err(Error::WrongCredentials)
        }
    }
}

/// The account of someone the directory vouched for: made at their first login (no local
/// password), administrator exactly when the directory's admin group says so. A disabled
/// account stays shut.
async fn directory_user(
    state: &AppState,
    identity: &roomkeeper_auth::Identity,
    known: Option<User>,
) -> Result<User, Error> {
    let user = match known {
        Some(user) => user,
        None => match state.store.user_by_name(&identity.username).await? {
            Some(user) => user,
            None => {
                let made = state
                    .store
                    .create_user(
                        &roomkeeper_store::NewUser {
                            username: identity.username.clone(),
                            display_name: identity.display_name.clone(),
                            password_hash: None,
                            is_admin: identity.is_admin,
                            must_change_password: false,
                        },
                        state.clock.now(),
                    )
                    .await?;
                if let Some(email) = &identity.email {
                    state.store.set_email(made.id, Some(email)).await?;
                }
                made
            }
        },
    };
    if user.disabled || user.password_hash.is_some() {
        return Err(Error::WrongCredentials);
    }
    let admin = state.ldap_admin_group.then_some(identity.is_admin);
    refresh_account(state, &user, identity.display_name.as_deref(), admin).await?;
    state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(Error::WrongCredentials)
}

/// What a directory or provider says at each login wins: the name people see, and the
/// administrator flag when it decides that.
async fn refresh_account(
    state: &AppState,
    user: &User,
    display_name: Option<&str>,
    is_admin: Option<bool>,
) -> Result<(), Error> {
    if display_name.is_some() && user.display_name.as_deref() != display_name {
        state.store.set_display_name(user.id, display_name).await?;
    }
    if let Some(is_admin) = is_admin.filter(|a| *a != user.is_admin) {
        state.store.set_admin(user.id, is_admin).await?;
    }
    Ok(())
}

/// Why a person the provider vouched for still cannot log in here.
#[derive(Debug)]
pub enum SsoRefusal {
    /// Another account (one with a local password, or another person's) has the name.
    NameTaken(String),
    Disabled,
    Failed(Error),
}

impl<E: Into<Error>> From<E> for SsoRefusal {
    fn from(err: E) -> Self {
        SsoRefusal::Failed(err.into())
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
pub async fn oidc_user(
    state: &AppState,
    provider: &roomkeeper_auth::OidcProvider,
    identity: &roomkeeper_auth::OidcIdentity,
) -> Result<User, SsoRefusal> {
    let store = &state.store;
    let now = state.clock.now();
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
            Ok(()) => SsoRefusal::NameTaken(name.to_string()),
            Err(error) => SsoRefusal::Failed(error.into()),
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
                        return finish_oidc_user(state, made, identity).await;
                    }
                    // Someone else took the name in between: treat it as existing.
                    Err(roomkeeper_store::Error::Conflict(
                        roomkeeper_store::Conflict::UsernameTaken,
                    )) => store.user_by_name(name).await?,
                    Err(other) => return Err(other.into()),
                },
            };
            let Some(existing) = existing else {
                return Err(SsoRefusal::Failed(Error::NotFound));
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
    finish_oidc_user(state, user, identity).await
}

async fn finish_oidc_user(
    state: &AppState,
    user: User,
    identity: &roomkeeper_auth::OidcIdentity,
) -> Result<User, SsoRefusal> {
    let store = &state.store;
    if user.disabled {
        return Err(SsoRefusal::Disabled);
    }
    refresh_account(
        state,
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

/// A fresh session for `user` and the cookie that carries it.
pub async fn start_session(state: &AppState, user: &User) -> Result<Cookie<'static>, Error> {
    start_session_through(state, user, None).await
}

/// A fresh session that remembers the provider (name, ID token) it came through, so that
/// logging out can end the provider's session too.
pub async fn start_session_through(
    state: &AppState,
    user: &User,
    through: Option<(&str, &str)>,
) -> Result<Cookie<'static>, Error> {
    let now = state.clock.now();
    // Expired rows are useless; a login is a natural, infrequent moment to drop them.
    state
        .store
        .delete_expired_sessions(
            now - state.sessions.idle_s(),
            now - state.sessions.absolute_s(),
        )
        .await?;
    let token = SecretToken::generate("");
    state
        .store
        .create_session(&token.hash, user.id, now)
        .await?;
    if let Some((provider, id_token)) = through {
        state
            .store
            .set_session_provider(&token.hash, provider, id_token)
            .await?;
    }
    Ok(session_cookie(
        state,
        token.secret,
        state.sessions.absolute_s(),
    ))
}

/// Ends the session the cookie names (if any). Returns the cookie that clears it, and
/// where to send the browser to end the provider's session too, when the session came
/// through a provider that supports it.
pub async fn log_out(
    state: &AppState,
    cookie_value: Option<&str>,
) -> Result<(Cookie<'static>, Option<String>), Error> {
    let mut provider_logout = None;
    if let Some(value) = cookie_value {
        let hash = hash_token(value);
        if let Some((name, id_token)) = state.store.session_provider(&hash).await? {
            if let Some(provider) = state.oidc_provider(&name) {
                let back = format!("{}/login", state.http.base_url());
                provider_logout = provider.logout_url(&id_token, &back).await;
            }
        }
        state.store.delete_session(&hash).await?;
    }
    Ok((session_cookie(state, String::new(), 0), provider_logout))
}
