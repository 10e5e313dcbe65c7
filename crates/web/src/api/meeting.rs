//! Live control of a room's running meeting (owner, co-owners, admins), as JSON.

use axum::Json;
use axum::extract::{Query, State};
use std::convert::Infallible;

use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use roomkeeper_jitsi::Meeting;
use serde::{Deserialize, Serialize};

use super::ApiPath;
use crate::extract::{ClientAddr, ControlMeeting, RoomAccess};
use crate::meetings::{self, Action};
use crate::{ApiError, AppState, Error};

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
    access: &RoomAccess<ControlMeeting>,
    address: Option<std::net::IpAddr>,
    action: Action<'_>,
) -> Result<Json<MeetingView>, ApiError> {
    let after = meetings::act(state, &access.current.user, address, &access.room, action).await?;
    let meeting = after.ok_or_else(|| Error::Internal("the meeting ended".into()))?;
    Ok(Json(meeting.into()))
}

pub async fn get_meeting(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
) -> Result<Json<MeetingView>, ApiError> {
    Ok(Json(meetings::meeting(&state, &access.room).await?.into()))
}

pub async fn grant_moderator(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, Action::Grant(&participant)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    then_grant: Option<String>,
}

pub async fn revoke_moderator(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
    Query(query): Query<RevokeQuery>,
) -> Result<Json<MeetingView>, ApiError> {
    let action = Action::Revoke {
        participant: &participant,
        then_grant: query.then_grant.as_deref(),
    };
    act(&state, &access, address, action).await
}

pub async fn remove_password(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, Action::RemovePassword).await
}

pub async fn kick(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    act(&state, &access, address, Action::Kick(&participant)).await
}

pub async fn end_meeting(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    meetings::act(
        &state,
        &access.current.user,
        address,
        &access.room,
        Action::End,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The meeting's changes as they happen (Server-Sent Events): `meeting` events carry the
/// state, the first one at once; `unavailable` events say why it cannot be read.
pub async fn events(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
) -> Result<Sse<impl futures::Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let room = meetings::room_name(&access.room)?;
    let feed = state.watch.follow(&room);
    let receiver = feed.subscribe();
    // The feed travels with the stream: the room is followed as long as someone listens.
    let stream = futures::stream::unfold(
        (feed, receiver, false),
        |(feed, mut receiver, sent)| async move {
            loop {
                if (sent || receiver.borrow().is_none()) && receiver.changed().await.is_err() {
                    return None;
                }
                let current = receiver.borrow_and_update().clone();
                let event = match current {
                    None => continue,
                    Some(Ok(meeting)) => SseEvent::default()
                        .event("meeting")
                        .json_data(MeetingView::from(meeting))
                        .unwrap_or_else(|_| SseEvent::default().event("unavailable")),
                    Some(Err(problem)) => SseEvent::default().event("unavailable").data(problem),
                };
                return Some((Ok(event), (feed, receiver, true)));
            }
        },
    );
    let stream = futures::StreamExt::take_until(stream, state.stopping.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
