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
    Cookie::build((cookie_name(&state.http), value))
        .path("/")
        .http_only(true)
        .secure(state.http.is_https())
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
    let throttle_name = username.trim().to_lowercase();
    if let Err(throttled) = state.throttle.check(&throttle_name, address, now).await? {
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
                state.throttle.record_success(&name).await?;
                let cookie = start_session(state, &user).await?;
                tracing::info!(username = %user.username, "logged in through LDAP");
                Ok((user, cookie))
            }
            Err(error) => {
                state
                    .throttle
                    .record_failure(&throttle_name, address, now)
                    .await?;
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
    let verified = PasswordHasher::verify(password, hash).await;
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
                state.throttle.record_success(&name).await?;
            }
            let cookie = start_session(state, &user).await?;
            tracing::info!(username = %user.username, "logged in");
            Ok((user, cookie))
        }
        _ => {
            state
                .throttle
                .record_failure(&throttle_name, address, now)
                .await?;
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
    if state.ldap_admin_group && user.is_admin != identity.is_admin {
        state.store.set_admin(user.id, identity.is_admin).await?;
    }
    state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(Error::WrongCredentials)
}

/// A fresh session for `user` and the cookie that carries it.
pub async fn start_session(state: &AppState, user: &User) -> Result<Cookie<'static>, Error> {
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
    Ok(session_cookie(
        state,
        token.secret,
        state.sessions.absolute_s(),
    ))
}

/// Ends the session the cookie names (if any) and returns the cookie that clears it.
pub async fn log_out(
    state: &AppState,
    cookie_value: Option<&str>,
) -> Result<Cookie<'static>, Error> {
    if let Some(value) = cookie_value {
        state.store.delete_session(&hash_token(value)).await?;
    }
    Ok(session_cookie(state, String::new(), 0))
}
