//! Live control of a room's running meeting (owner, co-owners, admins). Every action is
//! audited with the participant it concerned and answered with the meeting afterwards.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use roomkeeper_domain::RoomName;
use roomkeeper_jitsi::{Meeting, MeetingControl};
use serde::{Deserialize, Serialize};

use super::ApiPath;
use crate::extract::{ClientAddr, ControlMeeting, RoomAccess};
use crate::rooms::{self, address_text};
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
        let warning = (meeting.running
            && !meeting.participants.is_empty()
            && !meeting.participants.iter().any(|p| p.moderator))
        .then_some("no_moderator");
        Self { meeting, warning }
    }
}

fn room_name(access: &RoomAccess<ControlMeeting>) -> Result<RoomName, Error> {
    RoomName::from_canonical(&access.room.name).map_err(|e| Error::Internal(e.to_string()))
}

async fn audit(
    state: &AppState,
    access: &RoomAccess<ControlMeeting>,
    address: Option<std::net::IpAddr>,
    action: &str,
    participant: Option<&str>,
) -> Result<(), Error> {
    let address = address_text(address);
    let audit = rooms::audit(state, &access.current.user, address.as_deref());
    let detail = serde_json::json!({ "participant": participant }).to_string();
    state
        .store
        .record_audit(&audit, action, Some(&access.room.name), None, &detail)
        .await?;
    Ok(())
}

pub async fn get_meeting(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
) -> Result<Json<MeetingView>, ApiError> {
    let room = room_name(&access)?;
    Ok(Json(
        state
            .meetings
            .meeting(&room)
            .await
            .map_err(Error::from)?
            .into(),
    ))
}

pub async fn grant_moderator(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    let room = room_name(&access)?;
    let meeting = state
        .meetings
        .set_moderator(&room, &participant, true)
        .await
        .map_err(Error::from)?;
    audit(
        &state,
        &access,
        address,
        "grant_moderator",
        Some(&participant),
    )
    .await?;
    Ok(Json(meeting.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeQuery {
    /// Make this participant moderator in the same step (Jitsi does not pick a new one).
    then_grant: Option<String>,
}

pub async fn revoke_moderator(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
    Query(query): Query<RevokeQuery>,
) -> Result<Json<MeetingView>, ApiError> {
    let room = room_name(&access)?;
    let mut meeting = state
        .meetings
        .set_moderator(&room, &participant, false)
        .await
        .map_err(Error::from)?;
    audit(
        &state,
        &access,
        address,
        "revoke_moderator",
        Some(&participant),
    )
    .await?;
    if let Some(successor) = query.then_grant.as_deref() {
        meeting = state
            .meetings
            .set_moderator(&room, successor, true)
            .await
            .map_err(Error::from)?;
        audit(&state, &access, address, "grant_moderator", Some(successor)).await?;
    }
    Ok(Json(meeting.into()))
}

pub async fn remove_password(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<Json<MeetingView>, ApiError> {
    let room = room_name(&access)?;
    let meeting = state
        .meetings
        .remove_password(&room)
        .await
        .map_err(Error::from)?;
    audit(&state, &access, address, "remove_password", None).await?;
    Ok(Json(meeting.into()))
}

pub async fn kick(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
    ApiPath((_, participant)): ApiPath<(i64, String)>,
) -> Result<Json<MeetingView>, ApiError> {
    let room = room_name(&access)?;
    let meeting = state
        .meetings
        .kick(&room, &participant)
        .await
        .map_err(Error::from)?;
    audit(&state, &access, address, "kick", Some(&participant)).await?;
    Ok(Json(meeting.into()))
}

pub async fn end_meeting(
    State(state): State<AppState>,
    access: RoomAccess<ControlMeeting>,
    ClientAddr(address): ClientAddr,
) -> Result<StatusCode, ApiError> {
    let room = room_name(&access)?;
    state
        .meetings
        .end_meeting(&room, "The meeting was ended by the room's owner.")
        .await
        .map_err(Error::from)?;
    audit(&state, &access, address, "end_meeting", None).await?;
    Ok(StatusCode::NO_CONTENT)
}
