//! Live control of a room's running meeting (owner, co-owners, admins), as JSON.

use axum::Json;
use axum::extract::{Query, State};
use std::convert::Infallible;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use roomkeeper_domain::{Knocker, Meeting};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiPath};
use crate::extract::{Access, ClientAddr, ControlMeeting};
use crate::{ApiError, AppState, Error};
use roomkeeper_usecases::meetings::{self, MeetingAction};

#[derive(Serialize)]
pub struct MeetingView {
    #[serde(flatten)]
    meeting: Meeting,
    /// Set when nobody is moderator any more: Jitsi will not pick a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<&'static str>,
}

impl From<Meeting> for MeetingView {
    fn from(meeting: Meeting) -> Self {
        let nobody = meeting.running
            && !meeting.participants.is_empty()
            && !meeting.participants.iter().any(|p| p.moderator);
        Self {
            meeting,
            warning: nobody.then_some("no_moderator"),
        }
    }
}

async fn act(
    state: &AppState,
    access: &Access<ControlMeeting>,
    address: Option<std::net::IpAddr>,
    action: MeetingAction<'_>,
) -> Result<Json<MeetingView>, ApiError> {
    let acting = access.current.acting(address);
    let after = meetings::act(&state.usecases, &acting, &access.resource, action).await?;
    let meeting = after.ok_or_else(|| Error::Internal("the meeting ended".into()))?;
    Ok(Json(meeting.into()))
}

pub async fn get_meeting(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
) -> Result<Json<MeetingView>, ApiError> {
    Ok(Json(
        meetings::meeting(&state.usecases, &access.resource)
            .await?
            .into(),
    ))
}

pub async fn grant_moderator(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::Grant(&participant)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    then_grant: Option<String>,
}

pub async fn revoke_moderator(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
    Query(query): Query<RevokeQuery>,
) -> Result<Json<MeetingView>, ApiError> {
    let action = MeetingAction::Revoke {
        participant: &participant,
        then_grant: query.then_grant.as_deref(),
    };
    act(&state, &access, address, action).await
}

pub async fn remove_password(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::RemovePassword).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: String,
}

/// An owner's password, which the password guard keeps.
pub async fn set_password(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<MeetingView>, ApiError> {
    let acting = access.current.acting(address);
    let meeting = roomkeeper_usecases::guard::set_password(
        &state.usecases,
        &acting,
        &access.resource,
        &body.password,
    )
    .await?;
    Ok(Json(meeting.into()))
}

pub async fn kick(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::Kick(&participant)).await
}

/// Who knocks at the lobby now.
#[derive(Serialize)]
pub struct LobbyView {
    items: Vec<Knocker>,
}

pub async fn get_lobby(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
) -> Result<Json<LobbyView>, ApiError> {
    let meeting = meetings::meeting(&state.usecases, &access.resource).await?;
    Ok(Json(LobbyView {
        items: meeting.knocking,
    }))
}

pub async fn admit(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, knocker)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::Admit(&knocker)).await
}

pub async fn deny(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, knocker)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::Deny(&knocker)).await
}

pub async fn admit_all(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, MeetingAction::AdmitAll).await
}

pub async fn end_meeting(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    let acting = access.current.acting(address);
    meetings::act(
        &state.usecases,
        &acting,
        &access.resource,
        MeetingAction::End,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How often an open event stream asks again whether its reader may still see the room:
/// a co-owner removed, an account disabled or a session ended loses the view within this.
const RIGHTS_RECHECK: std::time::Duration = std::time::Duration::from_secs(3);

/// The meeting's changes as they happen (Server-Sent Events): `meeting` events carry the
/// state, the first one at once; `unavailable` events say why it cannot be read. When
/// the reader loses the right to see the room, an `ended` event closes the stream.
pub async fn events(
    State(state): State<AppState>,
    access: Access<ControlMeeting>,
) -> Result<impl IntoResponse, ApiError> {
    let room = &access.resource.name;
    let slot = state.event_streams.open(access.current.user.id)?;
    let feed = meetings::follow(&state.usecases, room);
    let receiver = feed.subscribe();
    let mut recheck = tokio::time::interval(RIGHTS_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The feed and the slot travel with the stream: the room is followed, and the slot
    // taken, as long as someone listens.
    let reader = StreamReader {
        state: state.clone(),
        current: access.current,
        room_id: access.resource.id,
        _feed: feed,
        receiver,
        recheck,
        sent: false,
        ended: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(reader, |mut reader| async move {
        let event = reader.next_event().await?;
        Some((Ok::<_, Infallible>(event), reader))
    });
    let stream = futures::StreamExt::take_until(stream, state.stopping.clone().cancelled_owned());
    // nginx buffers proxied answers unless told otherwise; this header tells it for this
    // answer alone, so live views work behind a proxy configured without our site file.
    Ok((
        [("x-accel-buffering", "no")],
        Sse::new(stream).keep_alive(KeepAlive::default()),
    ))
}

struct StreamReader {
    state: AppState,
    current: crate::extract::CurrentUser,
    room_id: i64,
    receiver: tokio::sync::watch::Receiver<meetings::RoomState>,
    recheck: tokio::time::Interval,
    sent: bool,
    ended: bool,
    /// Keeps the room followed while the stream is open.
    _feed: std::sync::Arc<meetings::RoomFeed>,
    _slot: crate::streams::StreamSlot,
}

impl StreamReader {
    async fn next_event(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        loop {
            let wait_for_change = self.sent || self.receiver.borrow().is_none();
            if wait_for_change {
                tokio::select! {
                    changed = self.receiver.changed() => changed.ok()?,
                    _ = self.recheck.tick() => {
                        if let Err(lost) = crate::extract::recheck_room::<ControlMeeting>(
                            &self.state,
                            &self.current,
                            self.room_id,
                        )
                        .await
                        {
                            tracing::info!(user = %self.current.user.username, room_id = self.room_id, reason = %lost, "event stream ended: no longer allowed");
                            self.ended = true;
                            return Some(SseEvent::default().event("ended").data(lost.code()));
                        }
                        continue;
                    }
                }
            }
            let current = self.receiver.borrow_and_update().clone();
            let Some(current) = current else { continue };
            self.sent = true;
            return Some(match current {
                Ok(meeting) => SseEvent::default()
                    .event("meeting")
                    .json_data(MeetingView::from(meeting))
                    .unwrap_or_else(|_| SseEvent::default().event("unavailable")),
                Err(problem) => SseEvent::default().event("unavailable").data(problem),
            });
        }
    }
}
