//! Who is asking, and may they? Handlers declare what they need by taking one of these
//! extractors; the decision itself is `roomkeeper_domain::authz::decide`.

use std::net::{IpAddr, SocketAddr};

use std::marker::PhantomData;

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, RawPathParams};
use axum::http::{header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use roomkeeper_domain::{Action, Actor, Decision, RecordingId, decide};
use roomkeeper_domain::{Recording, Room, RoomRequest, User};
use roomkeeper_usecases::{recordings, rooms, sessions};

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
    let uc = &state.usecases;
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let token = bearer_token(&parts.headers).ok_or(Error::BadToken)?;
        let (token_id, user) = sessions::token_holder(uc, token)
            .await?
            .ok_or(Error::BadToken)?;
        return Ok(Some(CurrentUser {
            user,
            credential: Credential::ApiToken { token_id },
        }));
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let Some(cookie) = jar.get(cookie_name(&state.http)) else {
        return Ok(None);
    };
    let token_hash = sessions::key(cookie.value());
    let user = sessions::session_holder(uc, &token_hash).await?;
    Ok(user.map(|user| CurrentUser {
        user,
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
    verdict(decide(actor, action))?;
    current.ok_or(Error::NotLoggedIn)
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
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
        else {
            return Ok(ClientAddr(None));
        };
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','));
        Ok(ClientAddr(Some(client_address(
            peer,
            forwarded,
            &state.trusted_proxies,
            state.http.trust_forwarded_for,
        ))))
    }
}

/// Who sent a request: every proxy appends the address it saw to `X-Forwarded-For`, so
/// the header is read from the right, hop by hop, as long as the hop is a trusted proxy
/// (`trusted`; with `one_proxy`, the connection's peer counts as one, whatever its
/// address: `http.trust_forwarded_for`). The first untrusted hop is the client; entries
/// further left are that client's own word and never read. An entry that is not an
/// address stops the walk at the proxy that passed it on.
pub fn client_address<'h>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'h str>,
    trusted: &[crate::ops::Network],
    one_proxy: bool,
) -> IpAddr {
    let is_proxy = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !one_proxy && !is_proxy(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded.rev() {
        let Ok(hop) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = hop;
        if !is_proxy(hop) {
            break;
        }
    }
    client
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
pub async fn recheck_room<P: Permission<On = Room>>(
    state: &AppState,
    current: &CurrentUser,
    room_id: i64,
) -> Result<(), Error> {
    let uc = &state.usecases;
    let user = match &current.credential {
        Credential::Session { token_hash } => sessions::session_holder(uc, token_hash)
            .await?
            .ok_or(Error::NotLoggedIn)?,
        Credential::ApiToken { token_id } => {
            sessions::token_still_works(uc, current.user.id, *token_id)
                .await?
                .ok_or(Error::BadToken)?
        }
    };
    if user.disabled {
        return Err(Error::NotLoggedIn);
    }
    let room = rooms::room(uc, room_id).await?;
    let current = CurrentUser {
        user,
        credential: current.credential.clone(),
    };
    authorize(&current, P::action(state, &room))
}

/// May `current` do `P` in `room`? For pages that show or hide a control.
pub fn may<P: Permission<On = Room>>(state: &AppState, current: &CurrentUser, room: &Room) -> bool {
    authorize(current, P::action(state, room)).is_ok()
}

/// Something a route names in its path, that access is decided on.
pub trait Resource: Sized + Send + Sync {
    /// Looks it up from the route's path parameter. A malformed or unknown one is
    /// `NotFound`, like one the actor may not know about, so ids cannot be probed.
    fn load(
        parts: &mut Parts,
        state: &AppState,
    ) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl Resource for Room {
    async fn load(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let id = path_id(parts, state).await?;
        Ok(rooms::room(&state.usecases, id).await?)
    }
}

impl Resource for RoomRequest {
    async fn load(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let id = path_id(parts, state).await?;
        Ok(rooms::find_request(&state.usecases, id).await?)
    }
}

/// A recording that is stored and ready to watch, with its room when it has one.
pub struct ReadyRecording {
    pub recording: Recording,
    pub room: Option<Room>,
}

impl Resource for ReadyRecording {
    async fn load(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let raw = path_param(parts, state, "rid").await?;
        let id = RecordingId::parse(&raw).map_err(|_| Error::NotFound)?;
        let recording = recordings::ready(&state.usecases, id.as_str()).await?;
        let room = recordings::room_of(&state.usecases, &recording).await?;
        Ok(ReadyRecording { recording, room })
    }
}

/// What an [`Access`] extractor requires of the actor, and on what.
pub trait Permission {
    type On: Resource;
    fn action<'a>(state: &AppState, on: &'a Self::On) -> Action<'a>;
}

/// See the room, its co-owners and history.
pub struct SeeRoom;
/// Change co-owners, transfer, release: owner and admins.
pub struct ManageRoom;
/// Live meeting control and recordings: owner, co-owners, admins.
pub struct ControlMeeting;
/// How long the room's recordings are kept: admins.
pub struct SetRetention;
/// See a request: its requester and admins.
pub struct SeeRequest;
/// Withdraw a pending request: its requester.
pub struct WithdrawRequest;
/// Watch or download a recording, make share links.
pub struct WatchRecording;
/// See a recording's details, delete it (admins also for unassigned recordings).
pub struct HandleRecording;

impl Permission for SeeRoom {
    type On = Room;
    fn action<'a>(_: &AppState, room: &'a Room) -> Action<'a> {
        Action::ViewRoom(room.facts())
    }
}

impl Permission for ManageRoom {
    type On = Room;
    fn action<'a>(_: &AppState, room: &'a Room) -> Action<'a> {
        Action::ManageRoom(room.facts())
    }
}

impl Permission for ControlMeeting {
    type On = Room;
    fn action<'a>(_: &AppState, room: &'a Room) -> Action<'a> {
        Action::ControlMeeting(room.facts())
    }
}

impl Permission for SetRetention {
    type On = Room;
    fn action<'a>(_: &AppState, room: &'a Room) -> Action<'a> {
        Action::SetRetention(room.facts())
    }
}

impl Permission for SeeRequest {
    type On = RoomRequest;
    fn action<'a>(_: &AppState, request: &'a RoomRequest) -> Action<'a> {
        Action::ViewRequest(request.facts())
    }
}

impl Permission for WithdrawRequest {
    type On = RoomRequest;
    fn action<'a>(_: &AppState, request: &'a RoomRequest) -> Action<'a> {
        Action::WithdrawRequest(request.facts())
    }
}

impl Permission for WatchRecording {
    type On = ReadyRecording;
    fn action<'a>(state: &AppState, on: &'a ReadyRecording) -> Action<'a> {
        Action::WatchRecording(recordings::facts(&state.usecases, on.room.as_ref()))
    }
}

impl Permission for HandleRecording {
    type On = ReadyRecording;
    fn action<'a>(state: &AppState, on: &'a ReadyRecording) -> Action<'a> {
        Action::HandleRecording(recordings::facts(&state.usecases, on.room.as_ref()))
    }
}

/// May the current user watch a room's recordings? (The room page lists them.)
pub fn may_watch_recordings(state: &AppState, current: &CurrentUser, room: &Room) -> bool {
    let facts = recordings::facts(&state.usecases, Some(room));
    decide(current.actor(), Action::WatchRecording(facts)) == Decision::Allowed
}

/// The resource of the route's path, loaded and checked against `P` for the current
/// user (logged in, password settled). Someone who may not know the resource gets the
/// same 404 as for one that does not exist.
pub struct Access<P: Permission> {
    pub current: CurrentUser,
    pub resource: P::On,
    _permission: PhantomData<P>,
}

impl<P: Permission + Send + Sync> FromRequestParts<AppState> for Access<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let result = async {
            let current = require(parts, state, Action::ManageOwnAccount)
                .await
                .and_then(password_settled)?;
            let resource = P::On::load(parts, state).await?;
            authorize(&current, P::action(state, &resource))?;
            Ok(Access {
                current,
                resource,
                _permission: PhantomData,
            })
        }
        .await;
        result.map_err(|e: Error| reject(parts, e))
    }
}

#[cfg(test)]
mod client_address_tests {
    use super::*;
    use crate::ops::Network;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn networks(list: &[&str]) -> Vec<Network> {
        list.iter().filter_map(|n| Network::parse(n)).collect()
    }

    fn client(peer: &str, header: &str, trusted: &[&str], one_proxy: bool) -> IpAddr {
        let entries = header.split(',').filter(|e| !e.trim().is_empty());
        client_address(ip(peer), entries, &networks(trusted), one_proxy)
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        // A load balancer (10.0.0.5) before nginx (127.0.0.1): both trusted; what the
        // client wrote (6.6.6.6) is left of its own address and never read.
        let chain = "6.6.6.6, 198.51.100.7, 10.0.0.5";
        let proxies = ["127.0.0.1", "10.0.0.0/24"];
        assert_eq!(
            client("127.0.0.1", chain, &proxies, false),
            ip("198.51.100.7")
        );
        // Without the list, the old rule: one proxy, the last entry (the balancer).
        assert_eq!(client("127.0.0.1", chain, &[], true), ip("10.0.0.5"));
        // A request from an untrusted address is taken at its own address.
        assert_eq!(
            client("203.0.113.9", chain, &proxies, false),
            ip("203.0.113.9")
        );
        // Only trusted hops: the leftmost address is as far as we can see.
        assert_eq!(
            client("127.0.0.1", "10.0.0.7, 10.0.0.5", &proxies, false),
            ip("10.0.0.7")
        );
        // No header: the peer.
        assert_eq!(client("127.0.0.1", "", &proxies, false), ip("127.0.0.1"));
        // Not an address: the proxy that passed it on.
        assert_eq!(
            client("127.0.0.1", "junk, 10.0.0.5", &proxies, false),
            ip("10.0.0.5")
        );
        // IPv6 and v4-mapped peers.
        assert_eq!(
            client("::ffff:127.0.0.1", "2001:db8::1", &proxies, false),
            ip("2001:db8::1")
        );
    }
}
