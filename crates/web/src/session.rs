//! Logging in and out over HTTP: the session cookie around `usecases::login` (throttle,
//! local password, LDAP). Sessions themselves are rows in the database keyed by the hash
//! of the cookie's random value (`usecases::sessions`), so they survive restarts and
//! work across instances.

use std::net::IpAddr;

use axum_extra::extract::cookie::{Cookie, SameSite};
use roomkeeper_domain::User;
use roomkeeper_usecases::login::{self, LoginRefusal};
use roomkeeper_usecases::sessions;

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

/// Logs in with a password (`usecases::login`) and starts a session.
pub async fn log_in(
    state: &AppState,
    username: &str,
    password: String,
    address: Option<IpAddr>,
) -> Result<(User, Cookie<'static>), Error> {
    let user = match login::log_in(&state.usecases, username, password, address).await {
        Ok(user) => user,
        Err(LoginRefusal::WrongCredentials) => return Err(Error::WrongCredentials),
        Err(LoginRefusal::Throttled { retry_after_s }) => {
            return Err(Error::Throttled { retry_after_s });
        }
        Err(LoginRefusal::Failed(error)) => return Err(error.into()),
    };
    let cookie = start_session(state, &user).await?;
    Ok((user, cookie))
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
    let secret = sessions::start(&state.usecases, user, through).await?;
    Ok(session_cookie(
        state,
        secret,
        state.usecases.sessions.absolute_s(),
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
        if let Some((name, id_token)) = sessions::end(&state.usecases, value).await? {
            let back = format!("{}/login", state.http.base_url());
            provider_logout =
                roomkeeper_usecases::oidc::logout_url(&state.usecases, &name, &id_token, &back)
                    .await;
        }
    }
    Ok((session_cookie(state, String::new(), 0), provider_logout))
}
