//! Who is asking, and may they? Handlers declare what they need by taking one of these
//! extractors; the decision itself is `roomkeeper_domain::authz::decide`.

use std::net::{IpAddr, SocketAddr};

use std::marker::PhantomData;

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, RawPathParams};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use roomkeeper_auth::hash_token;
use roomkeeper_domain::{
    Action, Actor, Decision, RecordingFacts, RecordingId, RequestFacts, RoomFacts, decide,
};
use roomkeeper_store::{Recording, RecordingState, Room, RoomRequest, User};
use roomkeeper_usecases::recordings;

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
    /// This person acting from `address`, as the use cases take it.
    pub fn acting(&self, address: Option<IpAddr>) -> roomkeeper_usecases::Acting<'_> {
        roomkeeper_usecases::Acting::new(&self.user, address)
    }

    pub fn actor(&self) -> Actor<'_> {
        Actor::User {
            username: &self.user.username,
            is_admin: self.user.is_admin,
        }
    }
}

/// The token of a well-formed `Authorization: Bearer <token>` (RFC 6750's token68
/// alphabet), `None` for any other `Authorization` header. Only such a header is proof
/// that a script, not a browser, sent the request: a browser attaches `Basic` credentials
/// it remembers (a proxy's login, say) to cross-site requests by itself, never `Bearer`.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    well_formed.then_some(token)
}

/// Reads the bearer token or the session cookie. `Ok(None)`: nobody is logged in.
/// A bearer token that does not work is an error rather than "anonymous", so a script
/// with a revoked token hears about it.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<CurrentUser>, Error> {
    let now = state.clock.now();
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let token = bearer_token(&parts.headers).ok_or(Error::BadToken)?;
        let (api_token, user) = state
            .store
            .token(&hash_token(token))
            .await?
            .ok_or(Error::BadToken)?;
        if user.disabled || !api_token.is_live(now) {
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

fn verdict(decision: Decision) -> Result<(), Error> {
    match decision {
        Decision::Allowed => Ok(()),
        Decision::NeedsLogin => Err(Error::NotLoggedIn),
        Decision::Forbidden => Err(Error::Forbidden),
        Decision::Hidden => Err(Error::NotFound),
    }
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

/// The numeric `{id}` of the route, or a clear 400.
async fn path_id(parts: &mut Parts, state: &AppState) -> Result<i64, Error> {
    let raw = path_param(parts, state, "id").await?;
    raw.parse()
        .map_err(|_| Error::BadRequest(format!("{raw:?} is not an id: ids are whole numbers.")))
}

/// The route's `{name}` parameter, as the client sent it (percent-decoded).
async fn path_param(parts: &mut Parts, state: &AppState, name: &str) -> Result<String, Error> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| Error::BadRequest(e.body_text()))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| Error::Internal(format!("route without {{{name}}}")))
}

/// For handlers that find their object by other means than the path (a query
/// parameter): the same decision the extractors make.
pub fn authorize(current: &CurrentUser, action: Action<'_>) -> Result<(), Error> {
    verdict(decide(current.actor(), action))
}

/// Asks again, for something long-lived (an event stream), whether the credential still
/// works and its holder may still do `P` in the room: the session may have ended, the
/// token been revoked, the account disabled, the co-owner removed, the room released.
pub async fn recheck_room<P: RoomPermission>(
    state: &AppState,
    current: &CurrentUser,
    room_id: i64,
) -> Result<(), Error> {
    let user = match &current.credential {
        Credential::Session { token_hash } => {
            let session = state
                .store
                .session(token_hash)
                .await?
                .ok_or(Error::NotLoggedIn)?;
            if !state.sessions.is_live(&session, state.clock.now()) {
                return Err(Error::NotLoggedIn);
            }
            session.user
        }
        Credential::ApiToken { token_id } => {
            let tokens = state.store.tokens_of(current.user.id).await?;
            let now = state.clock.now();
            if !tokens.iter().any(|t| t.id == *token_id && t.is_live(now)) {
                return Err(Error::BadToken);
            }
            state
                .store
                .user_by_id(current.user.id)
                .await?
                .ok_or(Error::BadToken)?
        }
    };
    if user.disabled {
        return Err(Error::NotLoggedIn);
    }
    let room = state.store.room(room_id).await?.ok_or(Error::NotFound)?;
    let current = CurrentUser {
        user,
        credential: current.credential.clone(),
    };
    authorize_room::<P>(&current, &room)
}

pub fn authorize_room<P: RoomPermission>(current: &CurrentUser, room: &Room) -> Result<(), Error> {
    let facts = RoomFacts {
        owner: &room.owner,
        co_owners: &room.co_owners,
    };
    authorize(current, P::action(facts))
}

/// What a [`RoomAccess`] extractor requires of the actor.
pub trait RoomPermission {
    fn action(room: RoomFacts<'_>) -> Action<'_>;
}

/// See the room, its co-owners and history.
pub struct SeeRoom;
/// Change co-owners, transfer, release: owner and admins.
pub struct ManageRoom;
/// Live meeting control and recordings: owner, co-owners, admins.
pub struct ControlMeeting;
/// How long the room's recordings are kept: admins.
pub struct SetRetention;

impl RoomPermission for SeeRoom {
    fn action(room: RoomFacts<'_>) -> Action<'_> {
        Action::ViewRoom(room)
    }
}

impl RoomPermission for ManageRoom {
    fn action(room: RoomFacts<'_>) -> Action<'_> {
        Action::ManageRoom(room)
    }
}

impl RoomPermission for ControlMeeting {
    fn action(room: RoomFacts<'_>) -> Action<'_> {
        Action::ControlMeeting(room)
    }
}

impl RoomPermission for SetRetention {
    fn action(room: RoomFacts<'_>) -> Action<'_> {
        Action::SetRetention(room)
    }
}

/// The room of the route's `{id}`, loaded and checked against `P` for the current user.
/// Someone who may not know the room gets the same 404 as for a room that does not exist.
pub struct RoomAccess<P> {
    pub current: CurrentUser,
    pub room: Room,
    _permission: PhantomData<P>,
}

impl<P: RoomPermission + Send + Sync> FromRequestParts<AppState> for RoomAccess<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let result = async {
            let current = require(parts, state, Action::ManageOwnAccount)
                .await
                .and_then(password_settled)?;
            let id = path_id(parts, state).await?;
            let room = state.store.room(id).await?.ok_or(Error::NotFound)?;
            authorize_room::<P>(&current, &room)?;
            Ok(RoomAccess {
                current,
                room,
                _permission: PhantomData,
            })
        }
        .await;
        result.map_err(|e: Error| reject(parts, e))
    }
}

/// What a [`RequestAccess`] extractor requires of the actor.
pub trait RequestPermission {
    fn action(request: RequestFacts<'_>) -> Action<'_>;
}

/// See a request: its requester and admins.
pub struct SeeRequest;
/// Withdraw a pending request: its requester.
pub struct WithdrawRequest;

impl RequestPermission for SeeRequest {
    fn action(request: RequestFacts<'_>) -> Action<'_> {
        Action::ViewRequest(request)
    }
}

impl RequestPermission for WithdrawRequest {
    fn action(request: RequestFacts<'_>) -> Action<'_> {
        Action::WithdrawRequest(request)
    }
}

/// The room request of the route's `{id}`, checked against `P`.
pub struct RequestAccess<P> {
    pub current: CurrentUser,
    pub request: RoomRequest,
    _permission: PhantomData<P>,
}

impl<P: RequestPermission + Send + Sync> FromRequestParts<AppState> for RequestAccess<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let result = async {
            let current = require(parts, state, Action::RequestRoom)
                .await
                .and_then(password_settled)?;
            let id = path_id(parts, state).await?;
            let request = state.store.request(id).await?.ok_or(Error::NotFound)?;
            let facts = RequestFacts {
                requester: &request.requester,
            };
            verdict(decide(current.actor(), P::action(facts)))?;
            Ok(RequestAccess {
                current,
                request,
                _permission: PhantomData,
            })
        }
        .await;
        result.map_err(|e: Error| reject(parts, e))
    }
}

/// What a [`RecordingAccess`] extractor requires of the actor.
pub trait RecordingPermission {
    fn action(recording: RecordingFacts<'_>) -> Action<'_>;
}

/// Watch or download it, make share links.
pub struct WatchRecording;
/// See its details, delete it (admins also for unassigned recordings).
pub struct HandleRecording;

impl RecordingPermission for WatchRecording {
    fn action(recording: RecordingFacts<'_>) -> Action<'_> {
        Action::WatchRecording(recording)
    }
}

impl RecordingPermission for HandleRecording {
    fn action(recording: RecordingFacts<'_>) -> Action<'_> {
        Action::HandleRecording(recording)
    }
}

/// May the current user watch a room's recordings? (The room page lists them.)
pub fn may_watch_recordings(state: &AppState, current: &CurrentUser, room: &Room) -> bool {
    let facts = recordings::facts(&state.usecases, Some(room));
    decide(current.actor(), Action::WatchRecording(facts)) == Decision::Allowed
}

/// The ready recording of the route's `{rid}`, checked against `P`. Whatever the reason
/// (malformed id, no such recording, not yet stored, not yours) the answer is the same
/// 404, so ids cannot be probed.
pub struct RecordingAccess<P> {
    pub current: CurrentUser,
    pub recording: Recording,
    /// Its room, when it belongs to one.
    pub room: Option<Room>,
    _permission: PhantomData<P>,
}

impl<P: RecordingPermission + Send + Sync> FromRequestParts<AppState> for RecordingAccess<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let result = async {
            let current = require(parts, state, Action::ManageOwnAccount)
                .await
                .and_then(password_settled)?;
            let raw = path_param(parts, state, "rid").await?;
            let id = RecordingId::parse(&raw).map_err(|_| Error::NotFound)?;
            let recording = state
                .store
                .recording(id.as_str())
                .await?
                .filter(|r| r.state == RecordingState::Ready)
                .ok_or(Error::NotFound)?;
            let room = recordings::room_of(&state.usecases, &recording).await?;
            verdict(decide(
                current.actor(),
                P::action(recordings::facts(&state.usecases, room.as_ref())),
            ))?;
            Ok(RecordingAccess {
                current,
                recording,
                room,
                _permission: PhantomData,
            })
        }
        .await;
        result.map_err(|e: Error| reject(parts, e))
    }
}
