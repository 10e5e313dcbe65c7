//! Who is asking, and may they? Handlers declare what they need by taking one of these
//! extractors; the decision itself is `roomkeeper_domain::authz::decide`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use roomkeeper_auth::hash_token;
use roomkeeper_domain::{Action, Actor, Decision, decide};
use roomkeeper_store::User;

use crate::{ApiError, AppState, Error, PageError, session::cookie_name};

/// How the request proved who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    Session { token_hash: String },
    ApiToken { token_id: i64 },
}

/// A logged-in user who may act (a pending one-time password has been changed).
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub credential: Credential,
}

/// A logged-in user, even one who still has to replace a one-time password. Only the
/// handlers that let them do that (profile, password change, logout, me) take this.
#[derive(Debug, Clone)]
pub struct AnyUser(pub CurrentUser);

/// A logged-in administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

/// Whoever is asking, if anyone: for pages that look different when logged in.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

/// The client's address as far as we can tell (see `http.trust_forwarded_for`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl CurrentUser {
    pub fn actor(&self) -> Actor<'_> {
        Actor::User {
            username: &self.user.username,
            is_admin: self.user.is_admin,
        }
    }
}

/// Reads the bearer token or the session cookie. `Ok(None)`: nobody is logged in.
/// A bearer token that does not work is an error rather than "anonymous", so a script
/// with a revoked token hears about it.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>, Error> {
    let now = state.clock.now();
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(Error::BadToken)?;
        let (api_token, user) = state
            .store
            .token(&hash_token(token))
            .await?
            .ok_or(Error::BadToken)?;
        if user.disabled {
            return Err(Error::BadToken);
        }
        if api_token.last_used_at.is_none_or(|at| now - at >= 60) {
            state.store.touch_token(api_token.id, now).await?;
        }
        return Ok(Some(CurrentUser {
            user,
            credential: Credential::ApiToken {
                token_id: api_token.id,
            },
        }));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(cookie_name(&state.http)) else {
        return Ok(None);
    };
    let token_hash = hash_token(cookie.value());
    let Some(session) = state.store.session(&token_hash).await? else {
        return Ok(None);
    };
    if !state.sessions.is_live(&session, now) || session.user.disabled {
        state.store.delete_session(&token_hash).await?;
        return Ok(None);
    }
    if state.sessions.needs_touch(&session, now) {
        state.store.touch_session(&token_hash, now).await?;
    }
    Ok(Some(CurrentUser {
        user: session.user,
        credential: Credential::Session { token_hash },
    }))
}

/// Authenticates and asks the one authorization function about `action`.
async fn require(
    parts: &Parts,
    state: &AppState,
    action: Action<'_>,
) -> Result<CurrentUser, Error> {
    let current = authenticate(parts, state).await?;
    let actor = current
        .as_ref()
        .map_or(Actor::Anonymous, CurrentUser::actor);
    match decide(actor, action) {
        Decision::Allowed => current.ok_or(Error::NotLoggedIn),
        Decision::NeedsLogin => Err(Error::NotLoggedIn),
        Decision::Forbidden => Err(Error::Forbidden),
        Decision::Hidden => Err(Error::NotFound),
    }
}

/// The API answers JSON with a status; pages redirect to login or show an error page.
fn reject(parts: &Parts, error: Error) -> Response {
    // Inside a nested router `parts.uri` has lost its prefix (`/api/v1`); the original
    // URI is what the client asked for.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |OriginalUri(uri)| uri);
    if uri.path().starts_with("/api/") {
        ApiError(error).into_response()
    } else {
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        PageError { error, path }.into_response()
    }
}

fn password_settled(current: CurrentUser) -> Result<CurrentUser, Error> {
    if current.user.must_change_password {
        Err(Error::PasswordChangeRequired)
    } else {
        Ok(current)
    }
}

impl FromRequestParts<AppState> for AnyUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        require(parts, state, Action::ManageOwnAccount)
            .await
            .map(AnyUser)
            .map_err(|e| reject(parts, e))
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        require(parts, state, Action::ManageOwnAccount)
            .await
            .and_then(password_settled)
            .map_err(|e| reject(parts, e))
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        require(parts, state, Action::ManageUsers)
            .await
            .and_then(password_settled)
            .map(Admin)
            .map_err(|e| reject(parts, e))
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match authenticate(parts, state).await {
            Ok(current) => Ok(MaybeUser(current)),
            Err(Error::BadToken) => Ok(MaybeUser(None)),
            Err(e) => Err(reject(parts, e)),
        }
    }
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.http.trust_forwarded_for {
            // The proxy appends the address it saw; earlier entries are the client's word.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|last| last.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}
