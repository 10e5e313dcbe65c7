//! Logging in and out: the login protocols (throttle, local password, LDAP) and the
//! session cookie. Sessions themselves are rows in the database keyed by the hash of the
//! cookie's random value (`usecases::sessions`), so they survive restarts and work across
//! instances.

use roomkeeper_domain::Refusal;
use std::net::IpAddr;

use axum_extra::extract::cookie::{Cookie, SameSite};
use roomkeeper_auth::PasswordHasher;
use roomkeeper_domain::Username;
use roomkeeper_store::User;

use roomkeeper_usecases::{accounts, sessions, signin};

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
        Ok(name) => accounts::user_by_name(&state.usecases, &name).await?,
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
                let uc = &state.usecases;
                let user =
                    match signin::directory_account(uc, &identity, user, state.ldap_admin_group)
                        .await
                    {
                        Ok(user) => user,
                        Err(signin::SignInRefusal::Failed(error)) => return Err(error.into()),
                        // The directory confirmed the password, so saying why reveals
                        // nothing new.
                        Err(signin::SignInRefusal::NameTaken(_)) => {
                            return Err(Error::refused(
                                Refusal::DirectoryNotLinked,
                                "An account with your username was made through another \
                                 sign-in. An administrator must link it to your directory \
                                 account before you can log in with it.",
                            ));
                        }
                        Err(_) => return Err(Error::WrongCredentials),
                    };
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
            Err(Error::refused(
                Refusal::LocalLoginOff,
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
    let secret = sessions::start(&state.usecases, &state.sessions, user, through).await?;
    Ok(session_cookie(state, secret, state.sessions.absolute_s()))
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
        if let Some((name, id_token)) = sessions::end(&state.usecases, value).await? {
            if let Some(provider) = state.oidc_provider(&name) {
                let back = format!("{}/login", state.http.base_url());
                provider_logout = provider.logout_url(&id_token, &back).await;
            }
        }
    }
    Ok((session_cookie(state, String::new(), 0), provider_logout))
}
